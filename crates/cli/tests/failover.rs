//! Ingestion workers over one Redis, as real processes: two `chainboard run --redis`
//! for SPX against `chainboard fake-massive`, and `chainboard serve` in front.
//!
//! - A leader killed with SIGKILL: the standby takes the lease over and publishes
//!   within the lease's TTL plus one chain photo, its first epoch says `failover`,
//!   epoch ids and seqs keep increasing, and a browser stream from `serve` resyncs
//!   once (one full document for the new epoch, every diff chained to what it held).
//! - A leader stopped with SIGSTOP past its TTL, then resumed: the standby has taken
//!   over, none of the old leader's writes land (the pointer and the snapshots keep
//!   the successor's epoch), and the old leader steps down, logged and counted in its
//!   `/metrics`.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainboard_store::Store;
use common::{Fake, LEASE_TTL, Process, Redis};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Generous: a debug build on a shared CI machine, a full SPX chain per photo.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the store says of SPX: the pointer, its epoch's meta, the heatmap's seq and
/// epoch.
#[derive(Debug, Clone, PartialEq)]
struct Board {
    current: Option<String>,
    reason: Option<String>,
    previous: Option<String>,
    contracts: u64,
    snapshot_epoch: Option<String>,
    snapshot_seq: u64,
}

async fn board(store: &Store) -> Board {
    let current = store.get("massive:epoch:current:SPX").await.unwrap();
    let meta = match &current {
        Some(id) => store.hgetall(&format!("epoch:{id}:meta")).await.unwrap(),
        None => Vec::new(),
    };
    let meta_field = |name: &str| meta.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let snapshot: Option<Value> = store
        .get("massive:heatmap:snapshot:SPX")
        .await
        .unwrap()
        .and_then(|s| serde_json::from_str(&s).ok());
    Board {
        current,
        reason: meta_field("reason"),
        previous: meta_field("previous"),
        contracts: meta_field("contracts")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        snapshot_epoch: snapshot
            .as_ref()
            .and_then(|s| s["epoch"]["id"].as_str().map(str::to_owned)),
        snapshot_seq: snapshot
            .as_ref()
            .and_then(|s| s["seq"].as_u64())
            .unwrap_or(0),
    }
}

/// Polls the store until `ready` holds of SPX's board, within [`PATIENCE`].
async fn wait_for(store: &Store, what: &str, ready: impl Fn(&Board) -> bool) -> Board {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let b = board(store).await;
        if ready(&b) {
            return b;
        }
        assert!(Instant::now() < deadline, "{what}: never; last {b:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `worker`'s `/metrics` says it leads (`1`) or stands by (`0`).
async fn wait_role(worker: &Process, leader: bool) {
    let want = f64::from(u8::from(leader));
    let deadline = Instant::now() + PATIENCE;
    while worker.metric("chainboard_lease_leader").await != Some(want) {
        assert!(
            Instant::now() < deadline,
            "never {}: {}",
            if leader { "leader" } else { "standby" },
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A browser stream's heatmap documents, as kinds and epochs, collected in the
/// background; asserts as it goes that every diff applies to the seq it holds.
#[derive(Debug, Default)]
struct StreamLog {
    /// `(schema, epoch, seq)` of each heatmap document.
    heatmap: Vec<(String, String, u64)>,
}

fn follow(url: &str) -> Arc<Mutex<StreamLog>> {
    let log = Arc::new(Mutex::new(StreamLog::default()));
    let ws = format!("{}/api/v1/stream/SPX", url.replace("http://", "ws://"));
    let shared = log.clone();
    tokio::spawn(async move {
        let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
        let mut held = None;
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let doc: Value = serde_json::from_str(&text).unwrap();
            let schema = doc["schema"].as_str().unwrap_or_default().to_owned();
            let seq = doc["seq"].as_u64();
            let epoch = doc["epoch"]["id"]
                .as_str()
                .or(doc["epoch"].as_str())
                .unwrap_or_default()
                .to_owned();
            match schema.as_str() {
                "chainboard/heatmap/v1" => held = seq,
                "chainboard/heatmap-diff/v1" => {
                    assert_eq!(doc["base_seq"].as_u64(), held, "a diff for another seq");
                    held = seq;
                }
                _ => continue,
            }
            shared
                .lock()
                .unwrap()
                .heatmap
                .push((schema, epoch, seq.unwrap_or(0)));
        }
    });
    log
}

fn full_documents(log: &Mutex<StreamLog>) -> Vec<(String, u64)> {
    log.lock()
        .unwrap()
        .heatmap
        .iter()
        .filter(|(schema, _, _)| schema == "chainboard/heatmap/v1")
        .map(|(_, epoch, seq)| (epoch.clone(), *seq))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_within_the_ttl_and_one_photo() {
    let fake = Fake::start();
    let redis = Redis::start();
    let store = Store::connect(Some(&redis.url)).await.unwrap();
    let started = Instant::now();
    let a = Process::worker("a-kill", &fake, &redis);
    wait_role(&a, true).await;
    let first = wait_for(&store, "the leader's first snapshot", |b| {
        b.snapshot_epoch.is_some() && b.snapshot_epoch == b.current
    })
    .await;
    let first_photo = started.elapsed();
    assert_eq!(first.reason.as_deref(), Some("startup"), "{first:?}");
    let b = Process::worker("b-kill", &fake, &redis);
    wait_role(&b, false).await;
    // Two serve processes over the same Redis, one browser stream on each.
    let serve: Vec<Process> = ["serve-1", "serve-2"]
        .iter()
        .map(|name| Process::start(name, &["serve", "--redis", &redis.url, "--symbols", "SPX"]))
        .collect();
    let streams: Vec<_> = serve.iter().map(|s| follow(&s.url)).collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for stream in &streams {
        let full = full_documents(stream);
        assert_eq!(full.len(), 1, "one full document, then diffs: {full:?}");
        assert_eq!(Some(&full[0].0), first.current.as_ref(), "{full:?}");
    }
    let before = board(&store).await;

    a.signal("KILL");
    let killed = Instant::now();
    let after = wait_for(&store, "the standby's first snapshot", |b| {
        b.current != before.current && b.snapshot_epoch == b.current
    })
    .await;
    let takeover = killed.elapsed();
    println!(
        "failover: standby published {:.2} s after SIGKILL (lease TTL {:.1} s; the first photo took {:.2} s from start)",
        takeover.as_secs_f64(),
        LEASE_TTL.as_secs_f64(),
        first_photo.as_secs_f64()
    );
    // The TTL, one photo, the first tick (a second) and the standby's next ask,
    // with a photo's worth of slack for a loaded machine.
    assert!(
        takeover <= LEASE_TTL + first_photo * 2 + Duration::from_millis(1_500),
        "took {takeover:?}: more than the TTL plus one photo"
    );
    assert_eq!(after.reason.as_deref(), Some("failover"), "{after:?}");
    assert_eq!(
        after.previous, before.current,
        "the chain of epochs goes on"
    );
    let seq_of = |id: &Option<String>| -> u64 {
        id.as_deref()
            .and_then(|id| id.rsplit('-').next()?.parse().ok())
            .unwrap()
    };
    assert!(seq_of(&after.current) > seq_of(&before.current));
    assert!(
        after.snapshot_seq > before.snapshot_seq,
        "seqs keep increasing"
    );
    assert_eq!(
        after.contracts, before.contracts,
        "the same chain, photographed again: nothing invented"
    );
    assert_eq!(b.metric("chainboard_lease_leader").await, Some(1.0));
    assert_eq!(
        b.metric("chainboard_lease_takeovers_total").await,
        Some(1.0)
    );

    // Each stream resynced once: one full document for the new epoch, and diffs
    // after it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for stream in &streams {
        let full = full_documents(stream);
        assert_eq!(full.len(), 2, "one resync: {full:?}");
        assert_eq!(Some(&full[1].0), after.current.as_ref(), "{full:?}");
        let log = stream.lock().unwrap();
        let last = log.heatmap.last().unwrap();
        assert_eq!(last.0, "chainboard/heatmap-diff/v1", "diffs flow again");
    }
    // The old leader is gone for good, so its lease is the standby's now.
    let lease = store.get("massive:lease:SPX").await.unwrap().unwrap();
    assert!(lease.contains(&format!(":{}#", b.child.id())), "{lease}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_fenced_and_steps_down_when_it_resumes() {
    let fake = Fake::start();
    let redis = Redis::start();
    let store = Store::connect(Some(&redis.url)).await.unwrap();
    let a = Process::worker("a-stop", &fake, &redis);
    wait_role(&a, true).await;
    wait_for(&store, "the leader's first snapshot", |b| {
        b.snapshot_epoch.is_some() && b.snapshot_epoch == b.current
    })
    .await;
    let b = Process::worker("b-stop", &fake, &redis);
    wait_role(&b, false).await;
    let before = board(&store).await;

    a.signal("STOP");
    let after = wait_for(&store, "the standby's takeover", |b| {
        b.current != before.current && b.snapshot_epoch == b.current
    })
    .await;
    assert_eq!(after.reason.as_deref(), Some("failover"), "{after:?}");
    // The old leader wakes up believing it leads: its writer, its publisher and its
    // status all have work queued.
    a.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        let now = board(&store).await;
        assert_eq!(now.current, after.current, "the pointer went back");
        assert_eq!(
            now.snapshot_epoch, after.current,
            "a snapshot of the old leader's epoch landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_role(&a, false).await;
    assert_eq!(a.metric("chainboard_lease_lost_total").await, Some(1.0));
    let fenced = a.metric("chainboard_fenced_writes_total").await.unwrap();
    println!("fencing: the resumed leader had {fenced} writes refused");
    assert!(
        a.log().contains("lost the ingestion leases"),
        "the step-down is logged: {}",
        a.log()
    );
    assert_eq!(b.metric("chainboard_lease_leader").await, Some(1.0));
}

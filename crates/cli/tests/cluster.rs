//! `chainboard run`, `serve` and `inspect` against a real 3-master Redis Cluster
//! started by the test: every key of the schema written under SPX's hash tag, in one
//! slot (so on one master), and read back through `inspect --cluster` and a `serve`
//! whose browser stream gets the documents and diffs over the cluster's pub/sub.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use chainboard_testkit::cluster::RedisCluster;
use common::{Fake, Process};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(60);

fn inspect(cluster: &RedisCluster) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(["inspect", "--cluster", "--redis", &cluster.seed()])
        .args(["--symbol", "SPX", "--records", "2"])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The keys a node holds (`redis-cli -p port --scan`).
fn keys_on(port: u16) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--scan"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serve_and_inspect_over_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let fake = Fake::start();
    let worker = Process::worker_with(
        "cluster-worker",
        &fake,
        &["--redis", &cluster.urls(), "--redis-cluster"],
    );
    let serve = Process::start(
        "cluster-serve",
        &[
            "serve",
            "--redis",
            &cluster.seed(),
            "--redis-cluster",
            "--symbols",
            "SPX",
        ],
    );

    // inspect, once the first epoch and its snapshots are in.
    let deadline = Instant::now() + PATIENCE;
    let report = loop {
        let (ok, report) = inspect(&cluster);
        if ok && report.contains("massive:gex:snapshot:{SPX} (TTL") {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "no board in the cluster: {report}\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!("{report}");
    assert!(
        report.contains("massive:epoch:current:{SPX} -> SPX-"),
        "{report}"
    );
    assert!(report.contains("massive:lease:{SPX} -> 1 "), "{report}");
    assert!(report.contains("reason=startup"), "{report}");
    let records: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("epoch:{SPX}-") && l.contains(":contract:O:SPX"))
        .collect();
    assert_eq!(records.len(), 2, "{report}");
    assert!(records.iter().all(|r| r.contains(" bid=")), "{report}");

    // Every SPX key on one master, and none anywhere else.
    let home = cluster.node_of("{SPX}");
    for &port in cluster.ports() {
        let keys = keys_on(port);
        let spx = keys.iter().filter(|k| k.contains("{SPX}")).count();
        if port == home {
            assert!(spx > 20_000, "{port}: {spx} SPX keys");
            assert!(
                keys.iter().all(|k| k.contains("{SPX}")),
                "only tagged keys: {keys:?}"
            );
        } else {
            assert_eq!(spx, 0, "{port}: SPX keys off its slot's master");
        }
    }

    // serve over the cluster: full documents, then diffs that chain by seq.
    let ws = format!(
        "{}/api/v1/stream/SPX",
        serve.url.replace("http://", "ws://")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let (mut held, mut diffs) = (None, 0);
    let deadline = Instant::now() + PATIENCE;
    while diffs < 3 {
        assert!(
            Instant::now() < deadline,
            "no diffs from serve over the cluster"
        );
        let Some(Ok(Message::Text(text))) =
            tokio::time::timeout(PATIENCE, socket.next()).await.unwrap()
        else {
            continue;
        };
        let doc: Value = serde_json::from_str(&text).unwrap();
        match doc["schema"].as_str().unwrap_or_default() {
            "chainboard/heatmap/v1" => held = doc["seq"].as_u64(),
            "chainboard/heatmap-diff/v1" => {
                assert_eq!(doc["base_seq"].as_u64(), held, "a diff for the seq held");
                held = doc["seq"].as_u64();
                diffs += 1;
            }
            _ => {}
        }
    }
    assert_eq!(worker.metric("chainboard_lease_leader").await, Some(1.0));
    assert_eq!(
        worker.metric("chainboard_store_degraded").await,
        Some(0.0),
        "{}",
        worker.log()
    );
}

/// The heatmap snapshot's seq in the cluster (through `inspect`), if there is one.
fn snapshot_seq(cluster: &RedisCluster) -> Option<u64> {
    let (ok, report) = inspect(cluster);
    if !ok {
        return None;
    }
    report
        .lines()
        .find(|l| l.starts_with("massive:heatmap:snapshot:{SPX} (TTL"))?
        .split_whitespace()
        .find_map(|w| w.strip_prefix("seq=")?.parse().ok())
}

/// A master of a 3×2 cluster (three masters, one replica each) killed under a
/// running worker: the client finds the promoted replica, the writer rewrites the
/// board there, and the worker leads on (its lease TTL outlasts the failover).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_failover_under_a_running_worker() {
    let mut cluster = RedisCluster::start_with_replicas(3, 1);
    let fake = Fake::start();
    let worker = Process::worker_with(
        "cluster-failover",
        &fake,
        &[
            "--redis",
            &cluster.urls(),
            "--redis-cluster",
            "--lease-ttl-ms",
            "30000",
        ],
    );
    let deadline = Instant::now() + PATIENCE;
    let before = loop {
        if let Some(seq) = snapshot_seq(&cluster) {
            break seq;
        }
        assert!(Instant::now() < deadline, "no snapshot: {}", worker.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let killed = Instant::now();
    let promoted = cluster.fail_over("{SPX}");
    println!(
        "cluster failover: a replica (port {promoted}) serves SPX's slot {:.1} s after its master was killed",
        killed.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        if snapshot_seq(&cluster).is_some_and(|seq| seq > before + 2)
            && worker.metric("chainboard_store_degraded").await == Some(0.0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshots after the failover: {}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "cluster failover: snapshots again {:.1} s after the master was killed (node timeout 2 s)",
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(worker.metric("chainboard_lease_leader").await, Some(1.0));
    assert_eq!(
        worker.metric("chainboard_lease_lost_total").await,
        Some(0.0)
    );
    let (ok, report) = inspect(&cluster);
    assert!(ok, "{report}");
    assert!(
        report.contains(" bid="),
        "records on the new master: {report}"
    );
}

/// A cluster opened as one server, or one server opened as a cluster, fails at
/// startup naming the flag, for `run`, `serve` and `inspect` alike.
#[test]
fn the_wrong_kind_of_redis_fails_at_startup() {
    let cluster = RedisCluster::start(3);
    let single = common::Redis::start();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args(args)
            .env_remove("MASSIVE_API_KEY")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let seed = cluster.seed();
    let cases: [(&[&str], &str); 4] = [
        (
            &["serve", "--redis", &seed, "--for-secs", "5"],
            "is a node of a Redis Cluster; open it as a cluster (pass --redis-cluster)",
        ),
        (
            &["inspect", "--redis", &seed],
            "is a node of a Redis Cluster; open it as a cluster (pass --cluster)",
        ),
        (
            &[
                "serve",
                "--redis",
                &single.url,
                "--redis-cluster",
                "--for-secs",
                "5",
            ],
            "is not a Redis Cluster node (its cluster support is disabled) (drop --redis-cluster",
        ),
        (
            &[
                "demo",
                "--redis",
                &seed,
                "--listen",
                "127.0.0.1:0",
                "--for-secs",
                "5",
            ],
            "is a node of a Redis Cluster",
        ),
    ];
    for (args, want) in cases {
        let (ok, stderr) = run(args);
        assert!(!ok, "{args:?} must fail");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

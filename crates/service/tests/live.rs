//! chainboard's Massive clients against the fake Massive, over loopback sockets.
//!
//! Every test starts its own fake on a free port and runs the real REST loader,
//! WebSocket client and ingestion against it, with short thresholds so that stalls,
//! refreshes and reconnects happen in seconds.

use std::time::Duration;

use chainboard_engine::{EngineConfig, WatchdogConfig};
use chainboard_fake::{FakeConfig, FakeMassive};
use chainboard_massive::backoff::BackoffConfig;
use chainboard_massive::rest::{ApiKey, ChainFilter, LoadError, RestClient, RestConfig};
use chainboard_model::{EpochReason, RootMap, Underlying};
use chainboard_service::ingest::{self, IngestConfig, IngestError, IngestHandle, IngestStatus};
use tokio::sync::watch;
use url::Url;

const KEY: &str = "test-key";
/// Generous: CI machines are shared and these tests build 50k-contract chains.
const PATIENCE: Duration = Duration::from_secs(60);

fn spx() -> Underlying {
    Underlying::new("SPX").expect("SPX")
}

fn ndx() -> Underlying {
    Underlying::new("NDX").expect("NDX")
}

async fn fake(underlyings: Vec<Underlying>) -> FakeMassive {
    let config = FakeConfig {
        api_key: KEY.to_owned(),
        underlyings,
        ..FakeConfig::default()
    };
    FakeMassive::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("fake Massive starts")
}

fn rest_config(fake: &FakeMassive) -> RestConfig {
    let mut rest = RestConfig::new(Url::parse(&fake.rest_url()).expect("url"));
    rest.backoff = BackoffConfig::from_millis(20, 200);
    rest.timeout = Duration::from_secs(10);
    rest
}

fn ingest_config(fake: &FakeMassive, underlyings: Vec<Underlying>, key: &str) -> IngestConfig {
    let mut c = IngestConfig::new(
        Url::parse(&fake.rest_url()).expect("url"),
        Url::parse(&fake.ws_url()).expect("url"),
        ApiKey::new(key).expect("key"),
        underlyings,
    );
    c.rest = rest_config(fake);
    c.refresh_every = Duration::from_secs(3_600);
    c.poll_every = Duration::from_millis(50);
    c.load_backoff = BackoffConfig::from_millis(50, 500);
    c.engine = EngineConfig {
        watchdog: WatchdogConfig {
            stale_after_ms: 1_500,
            ..WatchdogConfig::default()
        },
        ..EngineConfig::default()
    };
    for s in [&mut c.options_socket, &mut c.indices_socket] {
        s.backoff = BackoffConfig::from_millis(50, 500);
        s.long_backoff = BackoffConfig::from_millis(200, 1_000);
        s.handshake_timeout = Duration::from_secs(5);
    }
    c
}

/// Waits until `pred` holds for a published status, or fails the test with the last one.
async fn until(
    rx: &mut watch::Receiver<IngestStatus>,
    what: &str,
    pred: impl Fn(&IngestStatus) -> bool,
) -> IngestStatus {
    let wait = async {
        loop {
            {
                let s = rx.borrow_and_update();
                if pred(&s) {
                    return s.clone();
                }
                if let Some(f) = &s.fatal {
                    panic!("ingestion stopped while waiting for {what}: {f}");
                }
            }
            if rx.changed().await.is_err() {
                panic!("status channel closed while waiting for {what}");
            }
        }
    };
    match tokio::time::timeout(PATIENCE, wait).await {
        Ok(s) => s,
        Err(_) => panic!(
            "timed out waiting for {what}; last status: {:#?}",
            *rx.borrow()
        ),
    }
}

fn quotes(s: &IngestStatus, u: Underlying) -> u64 {
    s.board(u).map_or(0, |b| b.stats.quotes)
}

fn epochs(s: &IngestStatus, u: Underlying, reason: EpochReason) -> u64 {
    s.board(u).map_or(0, |b| b.stats.epochs_for(reason))
}

async fn started(
    fake: &FakeMassive,
    underlyings: Vec<Underlying>,
) -> (IngestHandle, watch::Receiver<IngestStatus>) {
    let handle =
        ingest::start(ingest_config(fake, underlyings, KEY), None, None).expect("ingest starts");
    let rx = handle.subscribe();
    (handle, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_chain_loads_page_by_page() {
    let fake = fake(vec![spx()]).await;
    let rest = RestClient::new(rest_config(&fake), ApiKey::new(KEY).expect("key")).expect("client");
    let chain = rest
        .load_chain(spx(), &RootMap::default(), &[], 1)
        .await
        .expect("the chain loads");
    assert!(
        chain.snapshot.contracts.len() > 20_000,
        "{}",
        chain.snapshot.contracts.len()
    );
    assert_eq!(chain.pages, chain.snapshot.contracts.len().div_ceil(250));
    assert_eq!(chain.snapshot.rejected.total(), 0);
    assert!(chain.snapshot.underlying_value.is_some_and(|v| v > 1_000.0));
    assert_eq!(chain.retries, 0);
    let values = rest.index_values(&[spx()]).await.expect("indices snapshot");
    assert_eq!(values.len(), 1);
    assert!(rest.market_open().await.expect("market status"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_page_is_retried_and_the_load_completes() {
    let fake = fake(vec![spx()]).await;
    fake.control().fail_pages(3, 429, 2);
    fake.control().fail_pages(7, 503, 1);
    let rest = RestClient::new(rest_config(&fake), ApiKey::new(KEY).expect("key")).expect("client");
    let chain = rest
        .load_chain(spx(), &RootMap::default(), &[], 1)
        .await
        .expect("the chain loads after retries");
    assert_eq!(chain.retries, 3);
    assert!(chain.snapshot.contracts.len() > 20_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_keeps_failing_fails_the_whole_load() {
    let fake = fake(vec![spx()]).await;
    fake.control().fail_pages(2, 500, 100);
    let mut config = rest_config(&fake);
    config.attempts = 3;
    let rest = RestClient::new(config, ApiKey::new(KEY).expect("key")).expect("client");
    let err = rest
        .load_chain(spx(), &RootMap::default(), &[], 1)
        .await
        .expect_err("all or nothing");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            LoadError::Page {
                page: 2,
                attempts: 3,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("HTTP 500"), "{msg}");
    assert!(!msg.contains(KEY), "the key must not leak: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_is_reported_clearly() {
    let fake = fake(vec![spx()]).await;
    let rest = RestClient::new(rest_config(&fake), ApiKey::new("wrong-key").expect("key"))
        .expect("client");
    let err = rest
        .load_chain(spx(), &RootMap::default(), &[], 1)
        .await
        .expect_err("wrong key");
    assert!(err.is_auth(), "{err}");
    assert!(!err.to_string().contains("wrong-key"));

    let mut handle =
        ingest::start(ingest_config(&fake, vec![spx()], "wrong-key"), None, None).expect("starts");
    let err = tokio::time::timeout(PATIENCE, handle.join())
        .await
        .expect("ingestion stops by itself")
        .expect_err("a wrong key is fatal");
    let msg = err.to_string();
    assert!(msg.contains("refused the API key"), "{msg}");
    assert!(!msg.contains("wrong-key"), "{msg}");
    assert!(matches!(err, IngestError::Rest(_) | IngestError::Socket(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_underlyings_hydrate_from_one_connection_within_the_quote_limit() {
    let fake = fake(vec![spx(), ndx()]).await;
    let (handle, mut rx) = started(&fake, vec![spx(), ndx()]).await;
    let s = until(&mut rx, "quotes for SPX and NDX", |s| {
        quotes(s, spx()) > 50 && quotes(s, ndx()) > 50
    })
    .await;
    for u in [spx(), ndx()] {
        let b = s.board(u).expect("board");
        assert_eq!(b.reason, Some(EpochReason::Startup));
        assert!(b.contracts > 20_000, "{u}: {}", b.contracts);
        assert_eq!(
            b.stats.geometry_miss, 0,
            "the fake only sends subscribed, listed contracts"
        );
    }
    assert_eq!(
        s.options_socket.connects, 1,
        "one options connection for both"
    );
    assert_eq!(s.quoted, 1_000);
    let stats = fake.stats();
    assert!(stats.quoted_contracts_max <= 1_000, "{stats:?}");
    assert_eq!(stats.quote_limit_rejections, 0, "{stats:?}");
    assert!(
        s.plan
            .as_deref()
            .is_some_and(|p| p.contains("SPX") && p.contains("NDX"))
    );
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_feed_forces_a_stale_feed_epoch() {
    let fake = fake(vec![spx()]).await;
    let (handle, mut rx) = started(&fake, vec![spx()]).await;
    until(&mut rx, "hydration", |s| quotes(s, spx()) > 20).await;
    fake.control().stall(Duration::from_secs(3));
    let s = until(&mut rx, "a stale_feed epoch", |s| {
        epochs(s, spx(), EpochReason::StaleFeed) >= 1
    })
    .await;
    let t = s.transitions.back().expect("transition");
    assert_eq!(t.reason, EpochReason::StaleFeed);
    assert_eq!((t.added, t.removed), (0, 0), "same geometry, new epoch");
    // The feed comes back and paints the new epoch.
    let before = quotes(&s, spx());
    until(&mut rx, "hydration after the stall", |s| {
        quotes(s, spx()) > before + 20
    })
    .await;
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newly_listed_strikes_start_a_geometry_change_epoch() {
    let fake = fake(vec![spx()]).await;
    let mut config = ingest_config(&fake, vec![spx()], KEY);
    config.refresh_every = Duration::from_millis(500);
    let handle = ingest::start(config, None, None).expect("starts");
    let mut rx = handle.subscribe();
    let s = until(&mut rx, "the startup epoch and a refresh", |s| {
        s.loads_ok >= 2 && quotes(s, spx()) > 0
    })
    .await;
    let before = s.board(spx()).expect("board").contracts;
    fake.control().list_strikes(spx());
    let s = until(&mut rx, "a geometry_change epoch", |s| {
        epochs(s, spx(), EpochReason::GeometryChange) >= 1
    })
    .await;
    let t = s.transitions.back().expect("transition");
    assert_eq!(t.reason, EpochReason::GeometryChange);
    assert!(t.added > 0 && t.removed == 0, "{t:?}");
    assert_eq!(t.contracts, before + t.added);
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_reconnects_resubscribes_and_reloads() {
    let fake = fake(vec![spx()]).await;
    let (handle, mut rx) = started(&fake, vec![spx()]).await;
    let s = until(&mut rx, "hydration", |s| {
        quotes(s, spx()) > 20 && s.quoted > 0
    })
    .await;
    let loads = s.loads_ok;
    fake.control().drop_connections();
    let s = until(&mut rx, "a reconnect", |s| s.options_socket.connects >= 2).await;
    assert!(s.gaps >= 1, "a disconnect is a gap");
    let subscribed = s.options_socket.subscribed;
    let before = quotes(&s, spx());
    let s = until(&mut rx, "quotes after the reconnect and a gap photo", |s| {
        quotes(s, spx()) > before + 20 && s.loads_ok > loads
    })
    .await;
    assert_eq!(
        s.options_socket.subscribed, subscribed,
        "everything resubscribed"
    );
    assert!(
        fake.stats().connections_accepted >= 3,
        "options twice, indices at least once"
    );
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted_and_the_feed_goes_on() {
    let fake = fake(vec![spx()]).await;
    let (handle, mut rx) = started(&fake, vec![spx()]).await;
    until(&mut rx, "hydration", |s| quotes(s, spx()) > 20).await;
    fake.control().send_malformed(3);
    let s = until(&mut rx, "three malformed frames", |s| {
        s.feed.malformed_frames >= 3
    })
    .await;
    let before = quotes(&s, spx());
    until(&mut rx, "quotes after the damage", |s| {
        quotes(s, spx()) > before + 20
    })
    .await;
    assert!(rx.borrow().fatal.is_none());
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchored_filter_loads_only_near_strikes_and_expirations() {
    let fake = fake(vec![spx()]).await;
    let mut config = ingest_config(&fake, vec![spx()], KEY);
    config.filter = ChainFilter {
        max_days: Some(10),
        strike_window: Some(0.02),
    };
    let handle = ingest::start(config, None, None).expect("starts");
    let mut rx = handle.subscribe();
    let s = until(&mut rx, "a filtered epoch", |s| {
        s.board(spx()).is_some_and(|b| b.contracts > 0)
    })
    .await;
    let contracts = s.board(spx()).expect("board").contracts;
    // ±2% of ~6,850 in 5-point steps over a handful of expirations, both rights.
    assert!((100..3_000).contains(&contracts), "{contracts}");
    handle.abort();
}

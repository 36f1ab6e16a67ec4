//! The write-behind end to end, on both stores: a real engine with an SPX-sized
//! board, the writer task, and reads through the key schema as a third-party reader
//! would make them.

#[allow(dead_code)] // the harness serves several test files
mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chainboard_engine::{BoardObserver, Engine, EngineConfig, PhotoOutcome};
use chainboard_massive::assemble;
use chainboard_model::{ChainPhoto, EpochId, QuoteUpdate, RootMap, TradeUpdate, Underlying};
use chainboard_sim::{ChainConfig, SimChain, chain_pages};
use chainboard_store::writer::{self, RecordFormat, StoreHealth, WriterConfig, WriterHandle};
use chainboard_store::{EmbeddedStore, KeySchema, KeyType, Store, Ttl};
use common::RedisServer;

/// 2026-11-24 15:00 UTC.
const T0: i64 = 1_795_532_400_000;
const PATIENCE: Duration = Duration::from_secs(30);

fn spx() -> Underlying {
    Underlying::new("SPX").expect("SPX")
}

fn photo(taken_at_ms: i64) -> ChainPhoto {
    let chain = SimChain::generate(ChainConfig::spx_like(jiff::civil::date(2026, 11, 24), 7));
    let pages = chain_pages(&chain, 250, taken_at_ms);
    assemble(
        pages.iter().map(String::as_str),
        &RootMap::default(),
        spx(),
        taken_at_ms,
    )
    .expect("pages")
    .0
}

fn config(format: RecordFormat, ttl: Duration) -> WriterConfig {
    WriterConfig {
        format,
        ttl,
        flush_every: Duration::ZERO,
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..WriterConfig::default()
    }
}

/// An engine with its startup epoch, handed to the writer.
fn started(handle: &mut WriterHandle) -> Engine {
    let mut engine = Engine::new(spx(), EngineConfig::default());
    let outcome = engine.on_photo(photo(T0), T0);
    assert!(matches!(outcome, PhotoOutcome::Started(_)));
    handle.epoch_started(&mut engine, T0);
    engine
}

/// Ticks the observer until `pred` holds for the store, or fails.
async fn until<F, Fut>(handle: &mut WriterHandle, engine: &mut Engine, what: &str, pred: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        handle.tick(engine, T0);
        if pred().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn current(store: &Store) -> Option<String> {
    store
        .get(&KeySchema::default().current(spx()))
        .await
        .ok()
        .flatten()
}

fn id(engine: &Engine) -> EpochId {
    engine.epoch().expect("epoch").id()
}

/// A whole epoch is there, with TTLs, when the pointer names it.
async fn check_complete(store: &Store, epoch: EpochId, contracts: usize, ttl: Duration) {
    let k = KeySchema::default();
    let meta: std::collections::BTreeMap<String, String> = store
        .hgetall(&k.meta(&epoch))
        .await
        .expect("meta")
        .into_iter()
        .collect();
    assert_eq!(meta.get("contracts"), Some(&contracts.to_string()));
    assert_eq!(meta.get("underlying").map(String::as_str), Some("SPX"));
    assert!(meta.contains_key("reason") && meta.contains_key("started"));
    let strikes = store
        .zrange_with_scores(&k.strikes(&epoch))
        .await
        .expect("zset");
    assert_eq!(strikes.len(), contracts);
    assert!(
        strikes.windows(2).all(|w| w[0].1 <= w[1].1),
        "ordered by strike"
    );
    let records = store
        .scan(&format!("{}*", k.contract_prefix(&epoch)))
        .await
        .expect("scan");
    assert_eq!(records.len(), contracts);
    for key in [k.meta(&epoch), k.strikes(&epoch), records[0].clone()] {
        match store.pttl(&key).await.expect("pttl") {
            Ttl::Millis(ms) => assert!(ms <= ttl.as_millis() as u64 && ms > 0, "{key}: {ms}"),
            other => panic!("{key} has no TTL: {other:?}"),
        }
    }
    assert_eq!(
        store.pttl(&k.current(spx())).await.expect("pttl"),
        Ttl::Persistent,
        "the pointer never expires"
    );
}

async fn full_write_hydration_and_epoch_isolation(store: Store, format: RecordFormat) {
    let ttl = Duration::from_secs(3);
    let (mut handle, _task) = writer::spawn(store.clone(), config(format, ttl));
    let mut engine = started(&mut handle);
    let first = id(&engine);
    let n = engine.epoch().expect("epoch").len();

    // A reader polling the pointer never finds an incomplete board behind it.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                if let Some(c) = current(&store).await {
                    let epoch = EpochId::parse(&c).expect("id");
                    let meta = store
                        .hgetall(&KeySchema::default().meta(&epoch))
                        .await
                        .expect("meta");
                    assert!(!meta.is_empty(), "pointer to {c} before its meta");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    until(&mut handle, &mut engine, "the pointer", || async {
        current(&store).await.as_deref() == Some(first.to_string().as_str())
    })
    .await;
    reader.await.expect("reader saw a whole board");
    check_complete(&store, first, n, ttl).await;

    // Hydration: one quote, written as its changed fields only.
    let key = engine.epoch().expect("epoch").board().contracts()[n / 2].key;
    let record_key = KeySchema::default().contract(&first, &key);
    let before = store.hgetall(&record_key).await.unwrap_or_default();
    let fields_before = handle.health().fields_written.load(Ordering::Relaxed);
    let quote = QuoteUpdate::new(12.3, 12.5, 17, 24, T0 + 60_000).expect("quote");
    engine.apply_quote(&key, &quote);
    until(
        &mut handle,
        &mut engine,
        "the quote in the store",
        || async { record_has(&store, &record_key, "\"bid\":12.3", ("bid", "12.3")).await },
    )
    .await;
    let written = handle.health().fields_written.load(Ordering::Relaxed) - fields_before;
    assert!(
        written <= 6,
        "a quote writes bid, ask, mid, sizes, ts: {written}"
    );
    if format == RecordFormat::Hash {
        let after: std::collections::BTreeMap<_, _> = store
            .hgetall(&record_key)
            .await
            .expect("hash")
            .into_iter()
            .collect();
        assert_eq!(after.get("mid").map(String::as_str), Some("12.4"));
        for (f, v) in &before {
            if !["bid", "ask", "mid", "bid_size", "ask_size", "ts"].contains(&f.as_str()) {
                assert_eq!(after.get(f), Some(v), "{f} untouched");
            }
        }
        assert_eq!(
            store.key_type(&record_key).await.expect("type"),
            Some(KeyType::Hash)
        );
    } else {
        assert_eq!(
            store.key_type(&record_key).await.expect("type"),
            Some(KeyType::String)
        );
    }

    // A trade at that ask is a customer buy: the contract's session flow is written
    // with its other fields.
    engine.set_session(chainboard_engine::Session {
        date: jiff::civil::date(2026, 11, 24),
        start_ms: T0 - 3_600_000,
        end_ms: T0 + 3_600_000,
    });
    let trade = TradeUpdate::new(12.5, 4, T0 + 60_500).expect("trade");
    engine.apply_trade(&key, &trade);
    until(
        &mut handle,
        &mut engine,
        "the flow in the store",
        || async {
            record_has(&store, &record_key, "\"flow_buy\":4", ("flow_buy", "4")).await
                && record_has(
                    &store,
                    &record_key,
                    "\"flow_buy_premium\":5000",
                    ("flow_buy_premium", "5000"),
                )
                .await
        },
    )
    .await;

    // A new epoch: its keys hold only itself; the old one is left to expire.
    engine.request_manual_epoch(T0 + 61_000);
    let outcome = engine.on_photo(photo(T0 + 62_000), T0 + 62_000);
    assert!(matches!(outcome, PhotoOutcome::Started(_)));
    handle.epoch_started(&mut engine, T0 + 62_000);
    let second = id(&engine);
    until(&mut handle, &mut engine, "the second pointer", || async {
        current(&store).await.as_deref() == Some(second.to_string().as_str())
    })
    .await;
    check_complete(&store, second, n, ttl).await;
    let k = KeySchema::default();
    let new_keys = store.scan(&k.epoch_pattern(&second)).await.expect("scan");
    assert!(new_keys.iter().all(|key| !key.contains(&first.to_string())));
    // Past the TTL the old epoch is gone; the live one was refreshed and stays.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        handle.tick(&mut engine, T0);
        let old = store.scan(&k.epoch_pattern(&first)).await.expect("scan");
        if old.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} old keys remain",
            old.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check_complete(&store, second, n, ttl).await;
}

/// A record shows `json` (JSON format) or the hash field `(f, v)`.
async fn record_has(store: &Store, key: &str, json: &str, (f, v): (&str, &str)) -> bool {
    match store.key_type(key).await {
        Ok(Some(KeyType::Hash)) => store
            .hgetall(key)
            .await
            .is_ok_and(|h| h.iter().any(|(k, x)| k == f && x == v)),
        Ok(Some(KeyType::String)) => store
            .get(key)
            .await
            .is_ok_and(|s| s.is_some_and(|s| s.contains(json))),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_holds_whole_epochs_field_updates_and_expiry() {
    let store = Store::Embedded(EmbeddedStore::new());
    full_write_hydration_and_epoch_isolation(store, RecordFormat::Hash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_json_records() {
    let store = Store::Embedded(EmbeddedStore::new());
    full_write_hydration_and_epoch_isolation(store, RecordFormat::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_whole_epochs_field_updates_and_expiry() {
    let server = RedisServer::start();
    if server.is_external() {
        eprintln!("REDIS_URL is shared: skipping a test that owns the epoch keys");
        return;
    }
    let store = Store::connect(Some(&server.url())).await.expect("connect");
    full_write_hydration_and_epoch_isolation(store, RecordFormat::Hash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_json_records() {
    let server = RedisServer::start();
    if server.is_external() {
        eprintln!("REDIS_URL is shared: skipping a test that owns the epoch keys");
        return;
    }
    let store = Store::connect(Some(&server.url())).await.expect("connect");
    full_write_hydration_and_epoch_isolation(store, RecordFormat::Json).await;
}

/// Redis goes away and comes back empty: meanwhile the engine keeps hydrating in
/// memory, health says degraded, and on recovery the current epoch is rewritten in
/// full, with what changed during the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_degrades_then_the_current_epoch_is_rewritten() {
    let mut server = RedisServer::start();
    if server.is_external() {
        eprintln!("REDIS_URL is shared: skipping the outage test");
        return;
    }
    let store = Store::connect(Some(&server.url())).await.expect("connect");
    let ttl = Duration::from_secs(300);
    let (mut handle, _task) = writer::spawn(store.clone(), config(RecordFormat::Hash, ttl));
    let mut engine = started(&mut handle);
    let epoch = id(&engine);
    let n = engine.epoch().expect("epoch").len();
    until(&mut handle, &mut engine, "the pointer", || async {
        current(&store).await.is_some()
    })
    .await;

    server.stop();
    let key = engine.epoch().expect("epoch").board().contracts()[n / 3].key;
    let health: Arc<StoreHealth> = handle.health().clone();
    let mut ts = T0 + 1_000;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !health.degraded() {
        ts += 1;
        engine.apply_quote(&key, &QuoteUpdate::new(1.0, 1.1, 1, 1, ts).expect("quote"));
        handle.tick(&mut engine, ts);
        assert!(tokio::time::Instant::now() < deadline, "never degraded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(health.last_error().is_some());
    // Changes during the outage stay in memory, bounded by the board.
    for i in 0..50 {
        let q = QuoteUpdate::new(7.7, 7.9, 3, 4, ts + i).expect("quote");
        engine.apply_quote(&key, &q);
        handle.tick(&mut engine, ts + i);
    }
    assert!(engine.epoch().expect("epoch").dirty_len() <= n);

    server.restart();
    let record_key = KeySchema::default().contract(&epoch, &key);
    until(
        &mut handle,
        &mut engine,
        "the rewrite after recovery",
        || async {
            current(&store).await.is_some()
                && record_has(&store, &record_key, "", ("bid", "7.7")).await
        },
    )
    .await;
    check_complete(&store, epoch, n, ttl).await;
    assert!(!health.degraded());
    assert!(health.epochs_written.load(Ordering::Relaxed) >= 2);
}

//! One behaviour suite, run against both stores: whatever the writer can observe
//! through [`Store`] must be the same on the embedded store as on a real
//! `redis-server`. Each check is an `async fn(Subject)`; `on_both_stores!` turns it
//! into a `#[tokio::test]` per store. Outage and startup checks that only make sense
//! for a server are at the end.

mod common;

use std::time::{Duration, Instant};

use chainboard_model::{ContractKey, EpochId};
use chainboard_store::{
    Batch, EmbeddedStore, KeySchema, KeyType, Op, Store, StoreError, Ttl, embedded::SWEEP_PER_CALL,
};
use common::{ManualClock, RedisServer, unique_prefix};

/// A store under test, its way of passing time, and a key prefix of its own.
struct Subject {
    store: Store,
    /// Embedded: time moves when told. Redis: `None`, time passes by sleeping.
    clock: Option<ManualClock>,
    /// Keeps the server alive for the test; `None` for the embedded store.
    _server: Option<RedisServer>,
    prefix: String,
}

impl Subject {
    fn embedded(test: &str) -> Self {
        let clock = ManualClock::new();
        Self {
            store: EmbeddedStore::with_clock(clock.clock()).into(),
            clock: Some(clock),
            _server: None,
            prefix: unique_prefix(test),
        }
    }

    async fn redis(test: &str) -> Self {
        let server = RedisServer::start();
        let store = Store::connect(Some(&server.url()))
            .await
            .expect("connect to redis");
        Self {
            store,
            clock: None,
            _server: Some(server),
            prefix: unique_prefix(test),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Lets `by` pass for the store's expiry.
    async fn pass(&self, by: Duration) {
        match &self.clock {
            Some(clock) => clock.advance(by),
            None => tokio::time::sleep(by).await,
        }
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        for op in ops {
            batch.push(op);
        }
        self.store.apply(&batch).await
    }

    async fn ok(&self, ops: Vec<Op>) {
        if let Err(e) = self.apply(ops).await {
            panic!("{}: apply failed: {e}", self.store.describe());
        }
    }
}

fn hset(key: &str, fields: &[(&'static str, &str)]) -> Op {
    Op::HSet {
        key: key.to_owned(),
        fields: fields.iter().map(|(f, v)| (*f, (*v).to_owned())).collect(),
    }
}

fn hdel(key: &str, fields: &[&'static str]) -> Op {
    Op::HDel {
        key: key.to_owned(),
        fields: fields.to_vec(),
    }
}

fn set(key: &str, value: &str, ttl: Option<Duration>) -> Op {
    Op::Set {
        key: key.to_owned(),
        value: value.to_owned(),
        ttl,
    }
}

fn zadd(key: &str, members: &[(f64, &str)]) -> Op {
    Op::ZAdd {
        key: key.to_owned(),
        members: members.iter().map(|(s, m)| (*s, (*m).to_owned())).collect(),
    }
}

fn expire(key: &str, ttl: Duration) -> Op {
    Op::Expire {
        key: key.to_owned(),
        ttl,
    }
}

fn del(key: &str) -> Op {
    Op::Del {
        key: key.to_owned(),
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

const MINUTE: Duration = Duration::from_secs(60);

/// A TTL that was set to a minute a moment ago.
fn assert_about_a_minute(ttl: Ttl, what: &str) {
    match ttl {
        Ttl::Millis(ms) => assert!(
            (55_000..=60_000).contains(&ms),
            "{what}: TTL {ms} ms, wanted about 60 s"
        ),
        other => panic!("{what}: TTL {other:?}, wanted about 60 s"),
    }
}

fn assert_command_error(result: Result<(), StoreError>, needle: &str, what: &str) {
    match result {
        Err(StoreError::Command(msg)) => {
            assert!(msg.contains(needle), "{what}: {msg:?} lacks {needle:?}");
        }
        other => panic!("{what}: got {other:?}, wanted a Command error with {needle:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Checks run on both stores.

async fn hashes(s: Subject) {
    let k = s.key("h");
    s.ok(vec![hset(&k, &[("bid", "1.0"), ("ask", "1.2")])])
        .await;
    s.ok(vec![
        hset(&k, &[("bid", "1.1"), ("mid", "1.15")]),
        hdel(&k, &["ask", "never-set"]),
    ])
    .await;
    assert_eq!(
        s.store.hgetall(&k).await.expect("hgetall"),
        pairs(&[("bid", "1.1"), ("mid", "1.15")]),
        "fields sorted, last write wins, deleted field gone"
    );
    s.ok(vec![hdel(&s.key("missing"), &["bid"])]).await;
    assert!(!s.store.exists(&s.key("missing")).await.expect("exists"));

    // Redis deletes a hash when its last field goes.
    s.ok(vec![hdel(&k, &["bid", "mid"])]).await;
    assert!(!s.store.exists(&k).await.expect("exists"));
    assert_eq!(s.store.key_type(&k).await.expect("type"), None);
    assert!(s.store.hgetall(&k).await.expect("hgetall").is_empty());
}

async fn strings_and_ttl(s: Subject) {
    let k = s.key("s");
    s.ok(vec![set(&k, "v1", Some(MINUTE))]).await;
    assert_eq!(s.store.get(&k).await.expect("get"), Some("v1".to_owned()));
    assert_about_a_minute(s.store.pttl(&k).await.expect("pttl"), "SET PX");

    s.ok(vec![set(&k, "v2", None)]).await;
    assert_eq!(s.store.get(&k).await.expect("get"), Some("v2".to_owned()));
    assert_eq!(
        s.store.pttl(&k).await.expect("pttl"),
        Ttl::Persistent,
        "SET without PX clears the TTL"
    );

    let missing = s.key("missing");
    assert_eq!(s.store.get(&missing).await.expect("get"), None);
    assert_eq!(s.store.pttl(&missing).await.expect("pttl"), Ttl::Missing);

    // SET replaces a value of any type, and its TTL.
    let h = s.key("h");
    s.ok(vec![hset(&h, &[("f", "v")]), expire(&h, MINUTE)])
        .await;
    s.ok(vec![set(&h, "now a string", None)]).await;
    assert_eq!(
        s.store.key_type(&h).await.expect("type"),
        Some(KeyType::String)
    );
    assert_eq!(s.store.pttl(&h).await.expect("pttl"), Ttl::Persistent);

    s.ok(vec![del(&h), del(&missing)]).await;
    assert!(!s.store.exists(&h).await.expect("exists"));
}

async fn writes_keep_ttl(s: Subject) {
    let (h, z) = (s.key("h"), s.key("z"));
    s.ok(vec![
        hset(&h, &[("a", "1"), ("b", "2")]),
        expire(&h, MINUTE),
        zadd(&z, &[(1.0, "m")]),
        expire(&z, MINUTE),
    ])
    .await;
    s.ok(vec![
        hset(&h, &[("a", "3")]),
        hdel(&h, &["b"]),
        zadd(&z, &[(2.0, "n")]),
    ])
    .await;
    assert_about_a_minute(s.store.pttl(&h).await.expect("pttl"), "HSET/HDEL keep TTL");
    assert_about_a_minute(s.store.pttl(&z).await.expect("pttl"), "ZADD keeps TTL");
}

async fn sorted_sets_order_by_score(s: Subject) {
    let z = s.key("z");
    s.ok(vec![zadd(
        &z,
        &[
            (6900.0, "c"),
            (6850.0, "a"),
            (6875.0, "b2"),
            (6875.0, "b1"),
            (-1.5, "neg"),
            (f64::INFINITY, "top"),
        ],
    )])
    .await;
    s.ok(vec![zadd(&z, &[(0.0, "c")])]).await; // an update moves the member
    let got = s.store.zrange_with_scores(&z).await.expect("zrange");
    let want: Vec<(String, f64)> = [
        ("neg", -1.5),
        ("c", 0.0),
        ("a", 6850.0),
        ("b1", 6875.0),
        ("b2", 6875.0),
        ("top", f64::INFINITY),
    ]
    .iter()
    .map(|(m, sc)| ((*m).to_owned(), *sc))
    .collect();
    assert_eq!(got, want, "by score, ties by member");
}

async fn pexpire(s: Subject) {
    let missing = s.key("missing");
    s.ok(vec![expire(&missing, MINUTE)]).await;
    assert!(
        !s.store.exists(&missing).await.expect("exists"),
        "PEXPIRE must not create a key"
    );
    assert_eq!(s.store.pttl(&missing).await.expect("pttl"), Ttl::Missing);

    let k = s.key("k");
    s.ok(vec![set(&k, "v", None), expire(&k, MINUTE)]).await;
    assert_about_a_minute(s.store.pttl(&k).await.expect("pttl"), "PEXPIRE");
    s.ok(vec![expire(&k, Duration::from_secs(3600))]).await;
    match s.store.pttl(&k).await.expect("pttl") {
        Ttl::Millis(ms) => assert!(ms > 3_500_000, "PEXPIRE replaces the TTL: {ms}"),
        other => panic!("{other:?}"),
    }

    // A TTL that is already over deletes the key, as in Redis.
    s.ok(vec![expire(&k, Duration::ZERO)]).await;
    assert!(!s.store.exists(&k).await.expect("exists"));
}

async fn expired_keys_vanish(s: Subject) {
    let short = Duration::from_millis(50);
    let (st, h, z, keep) = (s.key("s"), s.key("h"), s.key("z"), s.key("keep"));
    s.ok(vec![
        set(&st, "v", Some(short)),
        hset(&h, &[("f", "v")]),
        expire(&h, short),
        zadd(&z, &[(1.0, "m")]),
        expire(&z, short),
        set(&keep, "v", None),
    ])
    .await;
    assert!(s.store.exists(&h).await.expect("exists"), "alive before");

    s.pass(Duration::from_millis(150)).await;
    for k in [&st, &h, &z] {
        assert!(!s.store.exists(k).await.expect("exists"), "{k} exists");
        assert_eq!(s.store.pttl(k).await.expect("pttl"), Ttl::Missing, "{k}");
        assert_eq!(s.store.key_type(k).await.expect("type"), None, "{k}");
    }
    assert_eq!(s.store.get(&st).await.expect("get"), None);
    assert!(s.store.hgetall(&h).await.expect("hgetall").is_empty());
    assert!(
        s.store
            .zrange_with_scores(&z)
            .await
            .expect("zrange")
            .is_empty()
    );
    assert_eq!(
        s.store.scan(&s.key("*")).await.expect("scan"),
        vec![keep.clone()]
    );

    // A write to an expired key starts a new one: the old TTL is gone with it.
    s.ok(vec![hset(&h, &[("g", "w")])]).await;
    assert_eq!(
        s.store.hgetall(&h).await.expect("hgetall"),
        pairs(&[("g", "w")])
    );
    assert_eq!(s.store.pttl(&h).await.expect("pttl"), Ttl::Persistent);
}

async fn scan_by_pattern(s: Subject) {
    let keys = [s.key("a:1"), s.key("a:2"), s.key("b:1")];
    s.ok(vec![
        set(&keys[0], "v", None),
        hset(&keys[1], &[("f", "v")]),
        zadd(&keys[2], &[(1.0, "m")]),
    ])
    .await;
    let cases = [
        ("*", vec![&keys[0], &keys[1], &keys[2]]),
        ("a:*", vec![&keys[0], &keys[1]]),
        ("?:1", vec![&keys[0], &keys[2]]),
        ("[ab]:2", vec![&keys[1]]),
        ("c:*", vec![]),
    ];
    for (pattern, want) in cases {
        let got = s.store.scan(&s.key(pattern)).await.expect("scan");
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(got, want, "pattern {pattern:?}");
    }
}

async fn key_types(s: Subject) {
    let (st, h, z) = (s.key("s"), s.key("h"), s.key("z"));
    s.ok(vec![
        set(&st, "v", None),
        hset(&h, &[("f", "v")]),
        zadd(&z, &[(1.0, "m")]),
    ])
    .await;
    let cases = [
        (st, Some(KeyType::String)),
        (h, Some(KeyType::Hash)),
        (z, Some(KeyType::ZSet)),
        (s.key("missing"), None),
    ];
    for (key, want) in cases {
        assert_eq!(s.store.key_type(&key).await.expect("type"), want, "{key}");
    }
}

async fn wrong_type_is_rejected_and_the_batch_goes_on(s: Subject) {
    let (st, h, after) = (s.key("s"), s.key("h"), s.key("after"));
    s.ok(vec![set(&st, "x", None), hset(&h, &[("f", "v")])])
        .await;

    let result = s
        .apply(vec![
            hset(&st, &[("f", "v")]),
            zadd(&h, &[(1.0, "m")]),
            set(&after, "ok", None),
        ])
        .await;
    let err = result.clone().expect_err("WRONGTYPE");
    assert!(!err.is_retryable(), "{err:?} must not be retryable");
    assert_command_error(result, "WRONGTYPE", "pipeline");
    assert!(
        err.to_string().contains("op 0"),
        "the first failure is reported: {err}"
    );
    assert_eq!(
        s.store.get(&after).await.expect("get"),
        Some("ok".to_owned()),
        "commands after a failed one still run"
    );
    assert_eq!(
        s.store.get(&st).await.expect("get"),
        Some("x".to_owned()),
        "unchanged"
    );

    let wrong_reads: [(&str, Result<(), StoreError>); 3] = [
        ("GET on a hash", s.store.get(&h).await.map(drop)),
        ("HGETALL on a string", s.store.hgetall(&st).await.map(drop)),
        (
            "ZRANGE on a hash",
            s.store.zrange_with_scores(&h).await.map(drop),
        ),
    ];
    for (what, result) in wrong_reads {
        assert_command_error(result, "WRONGTYPE", what);
    }
}

async fn bad_arguments_are_rejected(s: Subject) {
    let (k, z) = (s.key("k"), s.key("z"));
    s.ok(vec![hset(&k, &[("f", "v")]), zadd(&z, &[(1.0, "m")])])
        .await;
    let cases = [
        (
            "HSET without fields",
            hset(&k, &[]),
            "wrong number of arguments",
        ),
        (
            "HDEL without fields",
            hdel(&k, &[]),
            "wrong number of arguments",
        ),
        (
            "ZADD without members",
            zadd(&z, &[]),
            "wrong number of arguments",
        ),
        (
            "ZADD NaN",
            zadd(&z, &[(2.0, "n"), (f64::NAN, "x")]),
            "not a valid float",
        ),
        (
            "SET PX 0",
            set(&k, "v", Some(Duration::ZERO)),
            "invalid expire time",
        ),
        (
            "SET PX under 1 ms",
            set(&k, "v", Some(Duration::from_micros(500))),
            "invalid expire time",
        ),
    ];
    for (what, op, needle) in cases {
        assert_command_error(s.apply(vec![op]).await, needle, what);
    }
    assert_eq!(
        s.store.hgetall(&k).await.expect("hgetall"),
        pairs(&[("f", "v")]),
        "rejected commands changed nothing"
    );
    assert_eq!(
        s.store.zrange_with_scores(&z).await.expect("zrange"),
        vec![("m".to_owned(), 1.0)],
        "a ZADD with one bad score adds nothing"
    );
}

async fn a_large_batch_applies_completely(s: Subject) {
    const KEYS: usize = 12_500; // two commands each: 25k commands in one pipeline
    let keys: Vec<String> = (0..KEYS).map(|i| s.key(&format!("big:{i:05}"))).collect();
    let mut batch = Batch::new();
    for (i, key) in keys.iter().enumerate() {
        batch.push(Op::HSet {
            key: key.clone(),
            fields: vec![("n", i.to_string()), ("strike", format!("{}", 5000 + i))],
        });
        batch.push(Op::Expire {
            key: key.clone(),
            ttl: MINUTE,
        });
    }
    assert_eq!(batch.len(), 25_000);
    let started = Instant::now();
    s.store.apply(&batch).await.expect("apply 25k commands");
    eprintln!(
        "{}: 25k-command batch in {:?}",
        s.store.describe(),
        started.elapsed()
    );

    assert_eq!(s.store.scan(&s.key("big:*")).await.expect("scan"), keys);
    for i in [0, KEYS / 2, KEYS - 1] {
        assert_eq!(
            s.store.hgetall(&keys[i]).await.expect("hgetall"),
            vec![
                ("n".to_owned(), i.to_string()),
                ("strike".to_owned(), (5000 + i).to_string())
            ]
        );
        assert_about_a_minute(s.store.pttl(&keys[i]).await.expect("pttl"), "batch TTL");
    }
}

/// The lead's key schema, written and read back as the writer and readers use it.
async fn epoch_keys_from_the_schema(s: Subject) {
    // A sequence of our own, in case REDIS_URL is a shared server.
    let seq = 1000 + std::process::id() % 9000;
    let epoch = EpochId::parse(&format!("SPX-20261124-{seq:04}")).expect("epoch id");
    let contract = ContractKey::parse("O:SPXW261124C06850000").expect("ticker");
    let ticker = contract.to_string();
    for schema in [KeySchema::default(), KeySchema { cluster: true }] {
        let record = schema.contract(&epoch, &contract);
        let ops = vec![
            hset(
                &record,
                &[
                    ("strike", "6850"),
                    ("expiration", "2026-11-24"),
                    ("type", "call"),
                    ("bid", "12.5"),
                    ("ask", "12.9"),
                ],
            ),
            expire(&record, MINUTE),
            zadd(&schema.strikes(&epoch), &[(6850.0, &ticker)]),
            expire(&schema.strikes(&epoch), MINUTE),
            hset(
                &schema.meta(&epoch),
                &[("underlying", "SPX"), ("contracts", "1")],
            ),
            expire(&schema.meta(&epoch), MINUTE),
        ];
        s.ok(ops).await;

        assert_eq!(
            s.store.hgetall(&record).await.expect("record"),
            pairs(&[
                ("ask", "12.9"),
                ("bid", "12.5"),
                ("expiration", "2026-11-24"),
                ("strike", "6850"),
                ("type", "call"),
            ])
        );
        assert_eq!(
            s.store
                .zrange_with_scores(&schema.strikes(&epoch))
                .await
                .expect("strikes"),
            vec![(ticker.clone(), 6850.0)]
        );
        let mut want = vec![record.clone(), schema.meta(&epoch), schema.strikes(&epoch)];
        want.sort();
        assert_eq!(
            s.store
                .scan(&schema.epoch_pattern(&epoch))
                .await
                .expect("scan"),
            want,
            "the epoch's keys, cluster={}",
            schema.cluster
        );
        assert_eq!(
            s.store
                .scan(&format!("{}*", schema.contract_prefix(&epoch)))
                .await
                .expect("scan"),
            vec![record.clone()]
        );
        s.ok(vec![
            del(&record),
            del(&schema.meta(&epoch)),
            del(&schema.strikes(&epoch)),
        ])
        .await;
    }
}

macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::Subject::embedded(stringify!($check))).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::Subject::redis(stringify!($check)).await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    hashes,
    strings_and_ttl,
    writes_keep_ttl,
    sorted_sets_order_by_score,
    pexpire,
    expired_keys_vanish,
    scan_by_pattern,
    key_types,
    wrong_type_is_rejected_and_the_batch_goes_on,
    bad_arguments_are_rejected,
    a_large_batch_applies_completely,
    epoch_keys_from_the_schema,
);

// ---------------------------------------------------------------------------------
// Connecting, describing, outages.

/// How long a call may take against a dead server: the 2 s timeouts plus slack.
const FAIL_FAST: Duration = Duration::from_secs(3);

fn one_set(key: &str) -> Batch {
    let mut batch = Batch::new();
    batch.push(set(key, "v", None));
    batch
}

/// Retries `apply` until it succeeds or `within` passes; the number of attempts.
async fn apply_until_ok(store: &Store, batch: &Batch, within: Duration) -> usize {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store.apply(batch).await {
            Ok(()) => return attempts,
            Err(e) if e.is_retryable() && started.elapsed() < within => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("store did not come back within {within:?}: {e}"),
        }
    }
}

/// Expects a quick retryable failure.
async fn assert_unavailable_quickly(store: &Store, batch: &Batch, what: &str) {
    let started = Instant::now();
    let err = store.apply(batch).await.expect_err(what);
    let took = started.elapsed();
    assert!(err.is_retryable(), "{what}: {err:?} should be retryable");
    assert!(took < FAIL_FAST, "{what}: took {took:?}");
    eprintln!("{what}: {err} after {took:?}");
}

/// A full 50k-contract epoch (HSET of 16 fields and PEXPIRE per contract, plus the
/// strikes ZSET) is one ~100k-command pipeline: it must fit the reply deadline with
/// room to spare. (redis-rs's own default of 500 ms per request would fail it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_full_epoch_pipeline_fits_the_deadline() {
    const FIELDS: [&str; 16] = [
        "strike",
        "expiration",
        "type",
        "underlying",
        "bid",
        "ask",
        "mid",
        "bid_size",
        "ask_size",
        "ts",
        "oi",
        "iv",
        "delta",
        "gamma",
        "theta",
        "vega",
    ];
    let s = Subject::redis("full_epoch").await;
    let mut batch = Batch::new();
    let mut strikes = Vec::new();
    for i in 0..50_000 {
        let key = s.key(&format!("contract:{i:05}"));
        batch.push(Op::HSet {
            key: key.clone(),
            fields: FIELDS.iter().map(|f| (*f, format!("{i}.125"))).collect(),
        });
        batch.push(Op::Expire { key, ttl: MINUTE });
        strikes.push((f64::from(i), format!("contract:{i:05}")));
    }
    batch.push(Op::ZAdd {
        key: s.key("strikes"),
        members: strikes,
    });
    let started = Instant::now();
    s.store
        .apply(&batch)
        .await
        .expect("a full epoch in one pipeline");
    eprintln!("{}-command epoch in {:?}", batch.len(), started.elapsed());
    assert_eq!(
        s.store
            .zrange_with_scores(&s.key("strikes"))
            .await
            .expect("zrange")
            .len(),
        50_000
    );
}

#[tokio::test]
async fn connect_picks_the_store() {
    let embedded = Store::connect(None).await.expect("embedded");
    assert!(matches!(embedded, Store::Embedded(_)));
    assert_eq!(embedded.describe(), "embedded");
    embedded.ping().await.expect("embedded answers");

    // Nothing listens on port 1: connecting still succeeds, no I/O happens.
    let redis = Store::connect(Some("redis://alice:s3cret@127.0.0.1:1/2"))
        .await
        .expect("connect does no I/O");
    assert!(matches!(redis, Store::Redis(_)));
    assert_eq!(redis.describe(), "redis://alice@127.0.0.1:1/2");
    assert!(!redis.describe().contains("s3cret"));
}

#[tokio::test]
async fn malformed_urls_fail_at_once() {
    for url in [
        "",
        "not a url",
        "http://127.0.0.1:6379",
        "redis://127.0.0.1:notaport",
        "redis://alice:s3cret@127.0.0.1:notaport",
    ] {
        match Store::connect(Some(url)).await {
            Err(StoreError::BadUrl(msg)) => {
                assert!(!msg.contains("s3cret"), "{msg}");
                eprintln!("{url:?}: {msg}");
            }
            other => panic!("{url:?}: {other:?}, wanted BadUrl"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_then_reconnect_with_the_same_store() {
    let mut server = RedisServer::start();
    if server.is_external() {
        eprintln!("skipped: REDIS_URL is set, and a shared server cannot be stopped");
        return;
    }
    let store = Store::connect(Some(&server.url())).await.expect("connect");
    let prefix = unique_prefix("outage");
    let before = one_set(&format!("{prefix}before"));
    store.apply(&before).await.expect("apply while up");

    server.stop();
    let during = one_set(&format!("{prefix}during"));
    // The first call sees the connection drop; later ones a refused reconnect.
    assert_unavailable_quickly(&store, &during, "first apply after the crash").await;
    assert_unavailable_quickly(&store, &during, "second apply while down").await;
    let started = Instant::now();
    let ping = store.ping().await.expect_err("ping while down");
    assert!(ping.is_retryable() && started.elapsed() < FAIL_FAST);
    // Let the reconnect attempt the last failure started run (and fail) while Redis
    // is still down, as it would in a real outage; `restart` blocks this thread.
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.restart();
    let after = one_set(&format!("{prefix}after"));
    let attempts = apply_until_ok(&store, &after, Duration::from_secs(5)).await;
    eprintln!("reconnected after {attempts} attempt(s)");
    assert_eq!(attempts, 1, "the first call after the restart should work");
    assert_eq!(
        store.get(&format!("{prefix}after")).await.expect("get"),
        Some("v".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_startup() {
    let mut server = RedisServer::start();
    if server.is_external() {
        eprintln!("skipped: REDIS_URL is set, and a shared server cannot be stopped");
        return;
    }
    server.stop();
    let store = Store::connect(Some(&server.url()))
        .await
        .expect("connect while Redis is down");
    let batch = one_set(&unique_prefix("startup"));
    assert_unavailable_quickly(&store, &batch, "apply before Redis started").await;
    tokio::time::sleep(Duration::from_millis(200)).await; // as in the outage test

    server.restart();
    let attempts = apply_until_ok(&store, &batch, Duration::from_secs(5)).await;
    eprintln!("connected after {attempts} attempt(s)");
    assert_eq!(
        attempts, 1,
        "the first call after Redis started should work"
    );
    store.ping().await.expect("ping once up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_that_hangs_times_out() {
    let server = RedisServer::start();
    if server.is_external() {
        eprintln!("skipped: REDIS_URL is set, and a shared server cannot be paused");
        return;
    }
    let store = Store::connect(Some(&server.url())).await.expect("connect");
    let batch = one_set(&unique_prefix("hang"));
    store.apply(&batch).await.expect("apply while up");

    // Frozen, not dead: the socket stays open and nothing answers.
    server.pause();
    assert_unavailable_quickly(&store, &batch, "apply to a frozen server").await;
    server.resume();
    let attempts = apply_until_ok(&store, &batch, Duration::from_secs(5)).await;
    eprintln!("answered again after {attempts} attempt(s)");
}

// ---------------------------------------------------------------------------------
// Embedded only.

#[tokio::test]
async fn embedded_sweep_keeps_memory_bounded() {
    let clock = ManualClock::new();
    let store = EmbeddedStore::with_clock(clock.clock());
    let write = |generation: &str| {
        let mut batch = Batch::new();
        for i in 0..5_000 {
            batch.push(set(&format!("{generation}:{i}"), "v", Some(MINUTE)));
        }
        batch
    };
    store.apply(&write("old")).expect("apply");
    assert_eq!(store.stored_keys(), 5_000);

    clock.advance(2 * MINUTE);
    // A read sweeps a bounded amount, expired keys first...
    assert!(!store.exists("unrelated").expect("exists"));
    assert_eq!(store.stored_keys(), 5_000 - SWEEP_PER_CALL);
    // ...and a batch sweeps at least as many as it could create, so a writer can
    // never outrun the sweep.
    store.apply(&write("new")).expect("apply");
    assert_eq!(
        store.stored_keys(),
        5_000,
        "only the new generation is left"
    );
    assert!(store.scan("old:*").expect("scan").is_empty());
}

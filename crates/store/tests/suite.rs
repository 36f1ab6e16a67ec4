//! One behaviour suite, run against both stores: whatever the writer can observe
//! through [`Store`] must be the same on the embedded store as on a real
//! `redis-server`. Each check is an `async fn(Subject)`; `on_both_stores!` turns it
//! into a `#[tokio::test]` per store. Outage and startup checks that only make sense
//! for a server are at the end. Where the stores may differ by design (how much a
//! `MAXLEN ~` stream keeps), the check says how.

mod common;

use std::time::{Duration, Instant};

use chainboard_model::{ContractKey, EpochId};
use chainboard_store::{
    Batch, EmbeddedStore, Fence, KeySchema, KeyType, Op, SUBSCRIPTION_CAPACITY, Store, StoreError,
    StreamEntry, Subscription, Ttl, embedded::SWEEP_PER_CALL,
};
use chainboard_testkit::redis::unique_prefix;
use common::{ManualClock, RedisServer};

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

    fn is_embedded(&self) -> bool {
        self.clock.is_some()
    }

    async fn subscribe(&self, channel: &str) -> Subscription {
        match self.store.subscribe(channel).await {
            Ok(subscription) => subscription,
            Err(e) => panic!("{}: subscribe {channel}: {e}", self.store.describe()),
        }
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

fn xadd(key: &str, max_len: usize, fields: &[(&'static str, &str)]) -> Op {
    Op::XAdd {
        key: key.to_owned(),
        max_len,
        at_ms: None,
        fields: fields.iter().map(|(f, v)| (*f, (*v).to_owned())).collect(),
    }
}

/// An `XADD` whose entry describes the millisecond `at_ms`.
fn xadd_at(key: &str, at_ms: u64, value: &str) -> Op {
    Op::XAdd {
        key: key.to_owned(),
        max_len: 100,
        at_ms: Some(at_ms),
        fields: vec![("v", value.to_owned())],
    }
}

fn publish(channel: &str, message: &str) -> Op {
    Op::Publish {
        channel: channel.to_owned(),
        message: message.to_owned(),
    }
}

/// How long a published message may take to arrive.
const DELIVERY: Duration = Duration::from_secs(2);

/// The next message, which must come within [`DELIVERY`].
async fn receive(sub: &mut Subscription) -> String {
    match tokio::time::timeout(DELIVERY, sub.next()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("{}: subscription closed", sub.channel()),
        Err(_) => panic!("{}: nothing within {DELIVERY:?}", sub.channel()),
    }
}

/// Nothing more arrives for a while (a message for another channel would have come
/// by now).
async fn assert_silent(sub: &mut Subscription) {
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
        panic!("{}: unexpected {got:?}", sub.channel());
    }
}

/// `<ms>-<seq>`.
fn parse_stream_id(id: &str) -> (u64, u64) {
    let parsed = id
        .split_once('-')
        .and_then(|(ms, seq)| Some((ms.parse().ok()?, seq.parse().ok()?)));
    parsed.unwrap_or_else(|| panic!("stream id {id:?} is not <ms>-<seq>"))
}

fn unix_ms_now() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("ms fit in u64")
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
    let (st, h, z, x) = (s.key("s"), s.key("h"), s.key("z"), s.key("x"));
    s.ok(vec![
        set(&st, "v", None),
        hset(&h, &[("f", "v")]),
        zadd(&z, &[(1.0, "m")]),
        xadd(&x, 10, &[("f", "v")]),
    ])
    .await;
    let cases = [
        (st, Some(KeyType::String)),
        (h, Some(KeyType::Hash)),
        (z, Some(KeyType::ZSet)),
        (x, Some(KeyType::Stream)),
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
        // Redis checks the arguments before the type: `k` is a hash.
        (
            "XADD without fields",
            xadd(&k, 10, &[]),
            "wrong number of arguments for 'xadd' command",
        ),
        (
            "XADD without fields, new key",
            xadd(&s.key("x"), 10, &[]),
            "wrong number of arguments for 'xadd' command",
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
    assert!(
        !s.store.exists(&s.key("x")).await.expect("exists"),
        "a rejected XADD creates no stream"
    );
}

async fn publish_reaches_a_subscriber(s: Subject) {
    let channel = s.key("updates");
    // Nobody listens yet: PUBLISH succeeds and the message is gone for good.
    s.ok(vec![publish(&channel, "before anyone listened")])
        .await;

    let mut sub = s.subscribe(&channel).await;
    assert_eq!(sub.channel(), channel);
    s.ok(vec![
        publish(&channel, "one"),
        set(&s.key("unrelated"), "v", None),
        publish(&channel, "two"),
    ])
    .await;
    assert_eq!(
        receive(&mut sub).await,
        "one",
        "only what came after SUBSCRIBE"
    );
    assert_eq!(receive(&mut sub).await, "two", "in publish order");
    assert_silent(&mut sub).await;

    // Every subscriber of a channel gets every message.
    let mut second = s.subscribe(&channel).await;
    let payload = r#"{"symbol":"SPX","seq":3}"#;
    s.ok(vec![publish(&channel, payload)]).await;
    assert_eq!(receive(&mut sub).await, payload);
    assert_eq!(receive(&mut second).await, payload);
    assert_eq!(sub.skipped(), 0);
    assert!(
        !s.store.exists(&channel).await.expect("exists"),
        "a channel is not a key"
    );
}

async fn channels_do_not_mix(s: Subject) {
    let (spx, ndx) = (s.key("updates:SPX"), s.key("updates:NDX"));
    let mut sub_spx = s.subscribe(&spx).await;
    let mut sub_ndx = s.subscribe(&ndx).await;
    s.ok(vec![
        publish(&spx, "spx 1"),
        publish(&ndx, "ndx 1"),
        publish(&spx, "spx 2"),
        publish(&s.key("updates:SPY"), "nobody's"),
    ])
    .await;
    assert_eq!(receive(&mut sub_spx).await, "spx 1");
    assert_eq!(receive(&mut sub_spx).await, "spx 2");
    assert_eq!(receive(&mut sub_ndx).await, "ndx 1");
    assert_silent(&mut sub_spx).await;
    assert_silent(&mut sub_ndx).await;

    // Dropping one subscription leaves the other channel working.
    drop(sub_spx);
    s.ok(vec![publish(&spx, "spx 3"), publish(&ndx, "ndx 2")])
        .await;
    assert_eq!(receive(&mut sub_ndx).await, "ndx 2");
}

/// A subscriber that does not keep up loses the oldest messages, counts them, and
/// then reads on from the newest it still holds.
async fn a_slow_subscriber_skips_the_oldest(s: Subject) {
    const OVER: usize = 10;
    let channel = s.key("updates");
    let mut sub = s.subscribe(&channel).await;
    let total = SUBSCRIPTION_CAPACITY + OVER;
    s.ok((0..total)
        .map(|i| publish(&channel, &i.to_string()))
        .collect())
        .await;
    // Redis delivers over a socket: let it all arrive before reading any.
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(receive(&mut sub).await, OVER.to_string());
    assert_eq!(sub.skipped(), OVER as u64);
    for i in OVER + 1..total {
        assert_eq!(receive(&mut sub).await, i.to_string());
    }
    s.ok(vec![publish(&channel, "caught up")]).await;
    assert_eq!(receive(&mut sub).await, "caught up");
    assert_eq!(sub.skipped(), OVER as u64);
}

async fn streams_append_newest_first(s: Subject) {
    let x = s.key("gex:history");
    assert_eq!(s.store.xlen(&x).await.expect("xlen"), 0, "missing key");
    assert!(
        s.store
            .xrevrange(&x, 10)
            .await
            .expect("xrevrange")
            .is_empty()
    );

    let before_ms = unix_ms_now();
    s.ok(vec![
        // Field order is the writer's, not sorted; repeats are kept.
        xadd(&x, 100, &[("spot", "6850.5"), ("gex", "-1.2e9")]),
        xadd(
            &x,
            100,
            &[("spot", "6851"), ("gex", "-1.1e9"), ("flip", "6800")],
        ),
    ])
    .await;
    s.ok(vec![xadd(&x, 100, &[("z", "1"), ("a", "2"), ("z", "3")])])
        .await;
    let after_ms = unix_ms_now();

    assert_eq!(s.store.xlen(&x).await.expect("xlen"), 3);
    let entries = s.store.xrevrange(&x, 10).await.expect("xrevrange");
    let fields: Vec<Vec<(String, String)>> = entries.iter().map(|e| e.fields.clone()).collect();
    assert_eq!(
        fields,
        vec![
            pairs(&[("z", "1"), ("a", "2"), ("z", "3")]),
            pairs(&[("spot", "6851"), ("gex", "-1.1e9"), ("flip", "6800")]),
            pairs(&[("spot", "6850.5"), ("gex", "-1.2e9")]),
        ],
        "newest first, fields as written"
    );
    let ids: Vec<(u64, u64)> = entries.iter().map(|e| parse_stream_id(&e.id)).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "ids strictly decrease newest first: {ids:?}"
    );
    for (ms, _) in &ids {
        assert!(
            (before_ms.saturating_sub(1_000)..=after_ms + 1_000).contains(ms),
            "id ms {ms} is the wall clock ({before_ms}..{after_ms})"
        );
    }

    let newest_two = s.store.xrevrange(&x, 2).await.expect("xrevrange");
    assert_eq!(newest_two, entries[..2].to_vec());
    assert!(
        s.store
            .xrevrange(&x, 0)
            .await
            .expect("xrevrange")
            .is_empty()
    );

    // No TTL of its own; PEXPIRE sets one and XADD keeps it, as HSET does.
    assert_eq!(s.store.pttl(&x).await.expect("pttl"), Ttl::Persistent);
    s.ok(vec![expire(&x, MINUTE), xadd(&x, 100, &[("spot", "6852")])])
        .await;
    assert_about_a_minute(s.store.pttl(&x).await.expect("pttl"), "XADD keeps TTL");
    assert_eq!(s.store.xlen(&x).await.expect("xlen"), 4);

    // DEL removes it; the next XADD starts a new stream.
    s.ok(vec![del(&x)]).await;
    assert!(!s.store.exists(&x).await.expect("exists"));
    assert_eq!(s.store.key_type(&x).await.expect("type"), None);
    assert_eq!(s.store.xlen(&x).await.expect("xlen"), 0);
    s.ok(vec![xadd(&x, 100, &[("spot", "6853")])]).await;
    let fresh: Vec<StreamEntry> = s.store.xrevrange(&x, 10).await.expect("xrevrange");
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].fields, pairs(&[("spot", "6853")]));
    assert_eq!(s.store.pttl(&x).await.expect("pttl"), Ttl::Persistent);

    // And a stream expires like any key.
    s.ok(vec![expire(&x, Duration::from_millis(50))]).await;
    s.pass(Duration::from_millis(150)).await;
    assert!(!s.store.exists(&x).await.expect("exists"));
    assert_eq!(s.store.xlen(&x).await.expect("xlen"), 0);
}

/// `MAXLEN ~ 50` over 1,000 appends: the embedded store keeps exactly 50, Redis at
/// least 50 and, trimming whole 100-entry nodes, fewer than 150.
async fn streams_are_capped(s: Subject) {
    const MAX_LEN: usize = 50;
    const APPENDS: usize = 1_000;
    let x = s.key("gex:history");
    let mut batch = Batch::new();
    for i in 0..APPENDS {
        batch.push(xadd(&x, MAX_LEN, &[("i", &i.to_string())]));
    }
    s.store.apply(&batch).await.expect("apply");

    let len = s.store.xlen(&x).await.expect("xlen");
    eprintln!(
        "{}: {APPENDS} XADD MAXLEN ~ {MAX_LEN} kept {len}",
        s.store.describe()
    );
    if s.is_embedded() {
        assert_eq!(len, MAX_LEN as u64, "the embedded store trims exactly");
    } else {
        let allowed = MAX_LEN as u64..=MAX_LEN as u64 + 100;
        assert!(
            allowed.contains(&len),
            "Redis kept {len}, wanted {allowed:?}"
        );
    }

    // Whatever is kept is the newest, in order.
    let entries = s.store.xrevrange(&x, APPENDS).await.expect("xrevrange");
    assert_eq!(entries.len() as u64, len);
    let kept: Vec<String> = entries.iter().map(|e| e.fields[0].1.clone()).collect();
    let want: Vec<String> = (0..APPENDS)
        .rev()
        .take(entries.len())
        .map(|i| i.to_string())
        .collect();
    assert_eq!(kept, want);

    // max_len 0 leaves an empty stream behind, which still exists.
    let empty = s.key("empty");
    s.ok(vec![xadd(&empty, 0, &[("f", "v")])]).await;
    assert_eq!(s.store.xlen(&empty).await.expect("xlen"), 0);
    assert_eq!(
        s.store.key_type(&empty).await.expect("type"),
        Some(KeyType::Stream)
    );
}

async fn streams_and_other_types_do_not_mix(s: Subject) {
    let (st, h, x, after) = (s.key("s"), s.key("h"), s.key("x"), s.key("after"));
    s.ok(vec![
        set(&st, "v", None),
        hset(&h, &[("f", "v")]),
        xadd(&x, 10, &[("f", "v")]),
    ])
    .await;
    let writes = [
        ("XADD on a string", xadd(&st, 10, &[("f", "v")])),
        ("XADD on a hash", xadd(&h, 10, &[("f", "v")])),
        ("HSET on a stream", hset(&x, &[("f", "v")])),
        ("ZADD on a stream", zadd(&x, &[(1.0, "m")])),
    ];
    for (what, op) in writes {
        assert_command_error(
            s.apply(vec![op, set(&after, what, None)]).await,
            "WRONGTYPE",
            what,
        );
        assert_eq!(
            s.store.get(&after).await.expect("get"),
            Some(what.to_owned()),
            "{what}: the batch went on"
        );
    }
    let reads: [(&str, Result<(), StoreError>); 4] = [
        ("XLEN on a string", s.store.xlen(&st).await.map(drop)),
        (
            "XREVRANGE on a hash",
            s.store.xrevrange(&h, 1).await.map(drop),
        ),
        ("GET on a stream", s.store.get(&x).await.map(drop)),
        ("HGETALL on a stream", s.store.hgetall(&x).await.map(drop)),
    ];
    for (what, result) in reads {
        assert_command_error(result, "WRONGTYPE", what);
    }
    assert_eq!(s.store.xlen(&x).await.expect("xlen"), 1, "unchanged");

    // SET replaces a stream, as it replaces anything.
    s.ok(vec![set(&x, "now a string", None)]).await;
    assert_eq!(
        s.store.key_type(&x).await.expect("type"),
        Some(KeyType::String)
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

/// A fenced batch is applied whole while its lease key holds the writer's value, and
/// refused whole (nothing written, nothing published) once it holds another's; long
/// argument lists (more than Lua can unpack at once) are written completely.
async fn fenced_batches_apply_only_under_the_lease(s: Subject) {
    let (lease, hash, string) = (s.key("lease"), s.key("h"), s.key("s"));
    let channel = s.key("updates");
    let fence = Fence {
        lease_key: lease.clone(),
        value: "7 worker-a".to_owned(),
    };
    let fenced = |ops: Vec<Op>| {
        let mut batch = Batch::fenced(Some(fence.clone()));
        for op in ops {
            batch.push(op);
        }
        batch
    };
    // No lease at all: refused.
    let first = fenced(vec![set(&string, "a", None)]);
    assert!(matches!(
        s.store.apply(&first).await,
        Err(StoreError::Fenced)
    ));
    assert_eq!(s.store.get(&string).await.expect("get"), None);

    s.ok(vec![set(
        &lease,
        "7 worker-a",
        Some(Duration::from_secs(60)),
    )])
    .await;
    let mut sub = s.subscribe(&channel).await;
    let mut members: Vec<(f64, String)> = (0..5_000)
        .map(|i| (f64::from(i), format!("m{i}")))
        .collect();
    members.reverse();
    let zset = s.key("z");
    let batch = fenced(vec![
        hset(&hash, &[("bid", "1.5"), ("ask", "1.7")]),
        Op::ZAdd {
            key: zset.clone(),
            members,
        },
        set(&string, "b", Some(Duration::from_secs(60))),
        publish(&channel, "hello"),
    ]);
    s.store
        .apply(&batch)
        .await
        .expect("applied under the lease");
    assert_eq!(
        s.store.get(&string).await.expect("get").as_deref(),
        Some("b")
    );
    assert_eq!(s.store.hgetall(&hash).await.expect("hgetall").len(), 2);
    let zset_read = s.store.zrange_with_scores(&zset).await.expect("zrange");
    assert_eq!(zset_read.len(), 5_000);
    assert_eq!(zset_read[0], ("m0".to_owned(), 0.0));
    assert_eq!(receive(&mut sub).await, "hello");

    // As in a pipeline, a rejected command does not stop the ones after it.
    let after = s.key("after");
    let mixed = fenced(vec![
        hset(&string, &[("bid", "1")]),
        set(&after, "written", None),
    ]);
    assert!(matches!(
        s.store.apply(&mixed).await,
        Err(StoreError::Command(_))
    ));
    assert_eq!(
        s.store.get(&after).await.expect("get").as_deref(),
        Some("written")
    );

    // A successor's lease: the same writer is refused, whole.
    s.ok(vec![set(
        &lease,
        "8 worker-b",
        Some(Duration::from_secs(60)),
    )])
    .await;
    let late = fenced(vec![set(&string, "c", None), publish(&channel, "late")]);
    assert!(matches!(
        s.store.apply(&late).await,
        Err(StoreError::Fenced)
    ));
    assert_eq!(
        s.store.get(&string).await.expect("get").as_deref(),
        Some("b")
    );
    assert_silent(&mut sub).await;
    s.ok(vec![
        del(&lease),
        del(&hash),
        del(&string),
        del(&zset),
        del(&after),
    ])
    .await;
}

/// Entries placed at the millisecond they describe, plainly and in a fenced batch:
/// a millisecond already taken gets the next sequence number, one the stream has
/// gone past gets the stream's last millisecond; and reads by range find the newest
/// entry of each range, the oldest of the stream, and nothing where there is none.
async fn streams_place_entries_at_their_time(s: Subject) {
    let (x, lease) = (s.key("history"), s.key("lease"));
    assert_eq!(s.store.xfirst(&x).await.expect("xfirst"), None);
    assert_eq!(
        s.store.xlast_in(&x, &[(0, 10)]).await.expect("xlast_in"),
        [None]
    );
    s.ok(vec![
        xadd_at(&x, 1_000, "a"),
        xadd_at(&x, 1_000, "b"),
        xadd_at(&x, 2_000, "c"),
    ])
    .await;
    s.ok(vec![set(&lease, "1 w", Some(MINUTE))]).await;
    let mut fenced = Batch::fenced(Some(Fence {
        lease_key: lease.clone(),
        value: "1 w".to_owned(),
    }));
    // Behind the stream (a clock that stepped back), then ahead again.
    fenced.push(xadd_at(&x, 1_500, "d"));
    fenced.push(xadd_at(&x, 5_000, "e"));
    s.store.apply(&fenced).await.expect("fenced XADD");

    let entries = s.store.xrevrange(&x, 10).await.expect("xrevrange");
    let got: Vec<(String, String)> = entries
        .iter()
        .rev()
        .map(|e| (e.id.clone(), e.fields[0].1.clone()))
        .collect();
    let want = [
        ("1000-0", "a"),
        ("1000-1", "b"),
        ("2000-0", "c"),
        ("2000-1", "d"),
        ("5000-0", "e"),
    ];
    assert_eq!(
        got,
        want.map(|(id, v)| (id.to_owned(), v.to_owned())).to_vec()
    );

    let first = s.store.xfirst(&x).await.expect("xfirst").expect("an entry");
    assert_eq!(first.id, "1000-0");
    let sampled = s
        .store
        .xlast_in(
            &x,
            &[
                (0, 999),
                (0, 1_000),
                (1_001, 2_000),
                (2_001, 4_999),
                (5_000, 9_000),
            ],
        )
        .await
        .expect("xlast_in");
    let ids: Vec<Option<String>> = sampled.into_iter().map(|e| e.map(|e| e.id)).collect();
    assert_eq!(
        ids,
        [None, Some("1000-1"), Some("2000-1"), None, Some("5000-0")]
            .map(|id| id.map(str::to_owned))
            .to_vec()
    );
    s.ok(vec![del(&x), del(&lease)]).await;
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
    publish_reaches_a_subscriber,
    channels_do_not_mix,
    a_slow_subscriber_skips_the_oldest,
    streams_append_newest_first,
    streams_are_capped,
    streams_and_other_types_do_not_mix,
    streams_place_entries_at_their_time,
    fenced_batches_apply_only_under_the_lease,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_subscription_ends_when_the_server_goes() {
    let mut server = RedisServer::start();
    if server.is_external() {
        eprintln!("skipped: REDIS_URL is set, and a shared server cannot be stopped");
        return;
    }
    let store = Store::connect(Some(&server.url())).await.expect("connect");
    let channel = format!("{}updates", unique_prefix("sub_outage"));
    let mut sub = store.subscribe(&channel).await.expect("subscribe");
    let mut batch = Batch::new();
    batch.push(publish(&channel, "last words"));
    store.apply(&batch).await.expect("publish");
    assert_eq!(receive(&mut sub).await, "last words");

    server.stop();
    let ended = tokio::time::timeout(FAIL_FAST, sub.next()).await;
    assert_eq!(ended, Ok(None), "the subscription ends with its connection");
    assert_eq!(sub.next().await, None, "and stays ended");

    let started = Instant::now();
    let err = store
        .subscribe(&channel)
        .await
        .expect_err("subscribe while down");
    assert!(err.is_retryable(), "{err:?}");
    assert!(started.elapsed() < FAIL_FAST + FAIL_FAST);

    server.restart();
    let mut again = store.subscribe(&channel).await.expect("subscribe again");
    // The shared connection only learns of the crash now, and reconnects.
    apply_until_ok(&store, &batch, Duration::from_secs(5)).await;
    assert_eq!(receive(&mut again).await, "last words");
}

// ---------------------------------------------------------------------------------
// Embedded only.

#[tokio::test]
async fn embedded_subscription_ends_with_the_store() {
    let store = Store::from(EmbeddedStore::new());
    let mut sub = store.subscribe("updates").await.expect("subscribe");
    let mut batch = Batch::new();
    batch.push(publish("updates", "queued"));
    store.apply(&batch).await.expect("publish");
    drop(store);
    assert_eq!(
        sub.next().await.as_deref(),
        Some("queued"),
        "delivered first"
    );
    assert_eq!(sub.next().await, None);
}

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

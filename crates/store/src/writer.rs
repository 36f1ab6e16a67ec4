//! Write-behind from the engines to the store, coalesced, never blocking the engine.
//!
//! Two halves:
//!
//! - [`WriterHandle`] lives on the ingestion core task as its
//!   [`BoardObserver`](chainboard_engine::BoardObserver). At most every
//!   [`WriterConfig::flush_every`] it drains an engine's dirty set (each changed contract
//!   once, with the mask of what changed) and hands the batch over with `try_reserve`:
//!   if the writer is behind, nothing is drained and the dirty set keeps coalescing in
//!   the engine, whose size is bounded by the board. The engine never waits.
//! - The writer task turns those hand-overs into pipelines: only the changed fields of
//!   each dirty contract (HSET, or HDEL for a field that became absent), or the whole
//!   compact JSON record in [`RecordFormat::Json`].
//!
//! # No half-written epoch
//!
//! A new epoch is written completely (every record, in pipelines of [`EPOCH_CHUNK`]
//! contracts, then the geometry ZSETs and the meta), and only when all of that
//! succeeded does a last command move `massive:epoch:current:<symbol>` to it. A
//! reader following the pointer always finds a whole board.
//!
//! # TTLs
//!
//! Every key of an epoch gets [`WriterConfig::ttl`] (300 s by default) when written, and
//! the live epoch's keys are refreshed every third of it. A replaced epoch is no longer
//! refreshed and expires on its own, so the store holds the live epoch per underlying
//! plus, for at most one TTL, the ones before it.
//!
//! # Outages
//!
//! A failed pipeline marks the store degraded ([`StoreHealth`]). The writer then stops
//! taking work (the hand-over channel fills, the engines keep coalescing in memory),
//! pings with jittered backoff until the store answers, discards what queued meanwhile
//! (it is superseded), and asks every engine's handle for a full rewrite of its current
//! epoch. Ingestion and models never notice beyond the health flag.
//!
//! # Leases
//!
//! Started with [`spawn_fenced`], every batch is for one underlying and fenced by its
//! lease ([`crate::lease`]): the epoch's chunks, the pointer, the hydration flushes,
//! the TTL refreshes. A batch the store refuses because the lease was lost is dropped
//! and counted ([`Fences::refused`]), not retried: it is not an outage, and whoever
//! holds the leases stops this writer.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chainboard_engine::{BoardObserver, Engine};
use chainboard_model::{
    ContractKey, ContractRecord, EpochId, EpochReason, FieldMask, Underlying, time::ms_to_seconds,
};
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use crate::batch::{Batch, Op};
use crate::keys::{KeySchema, date_score};
use crate::lease::Fences;
use crate::store::{Store, StoreError};

/// Contracts per batch when an epoch is written: a few hundred kilobytes of commands
/// at a time rather than a whole board's.
const EPOCH_CHUNK: usize = 2_048;

/// How a contract record is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordFormat {
    /// A HASH of the record's fields; hydration writes only changed fields.
    #[default]
    Hash,
    /// One compact JSON STRING, rewritten whole on every change.
    Json,
}

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Key spelling.
    pub schema: KeySchema,
    /// Record format.
    pub format: RecordFormat,
    /// TTL of every epoch key.
    pub ttl: Duration,
    /// Hydration flush cadence.
    pub flush_every: Duration,
    /// Hand-overs queued before the handle stops draining (backpressure).
    pub queue: usize,
    /// First and longest wait between reconnect attempts during an outage.
    pub retry_min: Duration,
    /// See `retry_min`.
    pub retry_max: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            schema: KeySchema::default(),
            format: RecordFormat::Hash,
            ttl: Duration::from_secs(300),
            flush_every: Duration::from_millis(200),
            queue: 8,
            retry_min: Duration::from_millis(250),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// The writer's health and counters, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct StoreHealth {
    degraded: AtomicBool,
    /// Incremented when the writer wants every current epoch rewritten in full.
    resync: AtomicU64,
    /// Epochs written in full (startup, new epochs, rewrites after an outage).
    pub epochs_written: AtomicU64,
    /// Flushes of hydration written.
    pub flushes: AtomicU64,
    /// Contract fields written by hydration flushes.
    pub fields_written: AtomicU64,
    /// Failed pipelines.
    pub errors: AtomicU64,
    /// Flushes not taken because the writer was behind (the engine kept coalescing).
    pub backpressure: AtomicU64,
    /// Milliseconds from the oldest change in the last flush's hand-over to its write.
    pub flush_lag_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl StoreHealth {
    /// Whether the store is failing (writes are held in memory).
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The last failure, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn fail(&self, error: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::error!(%error, "store write failed; holding changes in memory until it is back");
        }
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(error);
        }
    }
}

/// A full epoch, as handed to the writer.
#[derive(Debug)]
struct EpochWrite {
    id: EpochId,
    reason: EpochReason,
    previous: Option<EpochId>,
    started_ms: i64,
    records: Vec<ContractRecord>,
}

/// Changed contracts of one epoch.
#[derive(Debug)]
struct Updates {
    epoch: EpochId,
    handed_at: Instant,
    items: Vec<(ContractRecord, FieldMask)>,
}

#[derive(Debug)]
enum Msg {
    Epoch(Box<EpochWrite>),
    Updates(Updates),
    Snapshot {
        symbol: Underlying,
        json: Arc<str>,
        ttl: Duration,
    },
}

/// The engine-side half: an [`BoardObserver`] that hands work to the writer task.
#[derive(Debug)]
pub struct WriterHandle {
    tx: mpsc::Sender<Msg>,
    health: Arc<StoreHealth>,
    config: WriterConfig,
    /// Per underlying: last flush, resync generation seen, full rewrite owed.
    engines: FxHashMap<Underlying, EngineSide>,
}

#[derive(Debug, Clone, Copy)]
struct EngineSide {
    last_flush: Option<Instant>,
    resync_seen: u64,
    full_owed: bool,
}

/// Starts the writer task on the current tokio runtime, as its store's only writer.
pub fn spawn(store: Store, config: WriterConfig) -> (WriterHandle, tokio::task::JoinHandle<()>) {
    spawn_fenced(store, config, Fences::none())
}

/// Starts the writer task with every write fenced by `fences` (see the module docs).
pub fn spawn_fenced(
    store: Store,
    config: WriterConfig,
    fences: Fences,
) -> (WriterHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(config.queue.max(1));
    let health = Arc::new(StoreHealth::default());
    let task = Writer {
        store,
        config,
        health: health.clone(),
        live: FxHashMap::default(),
        fences,
    };
    let join = tokio::spawn(task.run(rx));
    (
        WriterHandle {
            tx,
            health,
            config,
            engines: FxHashMap::default(),
        },
        join,
    )
}

impl WriterHandle {
    /// The writer's health and counters.
    pub fn health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    /// Publishes a snapshot (`massive:heatmap:snapshot:<symbol>`) with `ttl`; dropped
    /// (and counted as backpressure) if the writer is behind, since the next one
    /// supersedes it.
    pub fn publish_snapshot(&self, symbol: Underlying, json: Arc<str>, ttl: Duration) {
        if self
            .tx
            .try_send(Msg::Snapshot { symbol, json, ttl })
            .is_err()
        {
            self.health.backpressure.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn side(&mut self, u: Underlying) -> &mut EngineSide {
        let resync = self.health.resync.load(Ordering::Relaxed);
        self.engines.entry(u).or_insert(EngineSide {
            last_flush: None,
            resync_seen: resync,
            full_owed: true,
        })
    }

    /// Hands the whole current epoch over if a permit is free; true when done.
    fn send_full(&mut self, engine: &mut Engine) -> bool {
        let Some(epoch) = engine.epoch_mut() else {
            return true;
        };
        let Ok(permit) = self.tx.try_reserve() else {
            self.health.backpressure.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        // The full write carries the current state of every contract.
        epoch.drain_dirty(|_, _, _, _| {});
        let records = (0..epoch.len())
            .map(|i| ContractRecord::new(&epoch.board().contracts()[i], &epoch.states()[i]))
            .collect();
        permit.send(Msg::Epoch(Box::new(EpochWrite {
            id: epoch.id(),
            reason: epoch.reason(),
            previous: epoch.previous(),
            started_ms: epoch.started_at_ms(),
            records,
        })));
        true
    }
}

impl BoardObserver for WriterHandle {
    fn epoch_started(&mut self, engine: &mut Engine, _now_ms: i64) {
        let u = engine.underlying();
        self.side(u).full_owed = true;
        let done = self.send_full(engine);
        let side = self.side(u);
        side.full_owed = !done;
        side.last_flush = Some(Instant::now());
    }

    fn tick(&mut self, engine: &mut Engine, _now_ms: i64) {
        let u = engine.underlying();
        let resync = self.health.resync.load(Ordering::Relaxed);
        let flush_every = self.config.flush_every;
        let side = self.side(u);
        if side.resync_seen != resync {
            side.resync_seen = resync;
            side.full_owed = true;
        }
        if side.last_flush.is_some_and(|t| t.elapsed() < flush_every) {
            return;
        }
        side.last_flush = Some(Instant::now());
        if side.full_owed {
            let done = self.send_full(engine);
            self.side(u).full_owed = !done;
            return;
        }
        let Some(epoch) = engine.epoch_mut() else {
            return;
        };
        if epoch.dirty_len() == 0 {
            return;
        }
        let Ok(permit) = self.tx.try_reserve() else {
            // Behind: leave the changes coalescing in the engine.
            self.health.backpressure.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut items = Vec::with_capacity(epoch.dirty_len());
        epoch.drain_dirty(|_, mask, g, s| items.push((ContractRecord::new(g, s), mask)));
        permit.send(Msg::Updates(Updates {
            epoch: epoch.id(),
            handed_at: Instant::now(),
            items,
        }));
    }
}

/// What the writer keeps of a live epoch: enough to refresh its TTLs.
#[derive(Debug)]
struct LiveEpoch {
    id: EpochId,
    contracts: Vec<ContractKey>,
    expirations: Vec<jiff::civil::Date>,
}

/// What applying one batch came to.
enum Applied {
    /// Written.
    Done,
    /// Refused: the writer lost the underlying's lease; nothing more of it is
    /// written, and it is not an outage.
    Fenced,
    /// The store failed: an outage.
    Failed,
}

struct Writer {
    store: Store,
    config: WriterConfig,
    health: Arc<StoreHealth>,
    live: FxHashMap<Underlying, LiveEpoch>,
    fences: Fences,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut refresh = tokio::time::interval(self.config.ttl / 3);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        refresh.tick().await;
        loop {
            let ok = tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => self.handle(msg).await,
                    None => return,
                },
                _ = refresh.tick() => self.refresh_ttls().await,
            };
            if !ok {
                self.recover(&mut rx).await;
            }
        }
    }

    async fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Epoch(w) => self.write_epoch(*w).await,
            Msg::Updates(u) => self.write_updates(u).await,
            Msg::Snapshot { symbol, json, ttl } => {
                let mut b = self.fences.batch(symbol);
                b.push(Op::Set {
                    key: self.config.schema.heatmap_snapshot(symbol),
                    value: json.to_string(),
                    ttl: Some(ttl),
                });
                !matches!(self.apply(symbol, &b).await, Applied::Failed)
            }
        }
    }

    /// Applies `batch` of `underlying`'s keys. A batch refused for a lost lease is
    /// counted and dropped (see the module docs).
    async fn apply(&self, underlying: Underlying, batch: &Batch) -> Applied {
        match self.store.apply(batch).await {
            Ok(()) => Applied::Done,
            Err(StoreError::Fenced) => {
                self.fences.refuse(underlying);
                Applied::Fenced
            }
            Err(e) => {
                self.health.fail(e.to_string());
                Applied::Failed
            }
        }
    }

    async fn write_epoch(&mut self, w: EpochWrite) -> bool {
        let schema = self.config.schema;
        let ttl = self.config.ttl;
        let id = w.id;
        let u = id.underlying;
        let mut b = self.fences.batch(u);
        let mut by_expiration: FxHashMap<jiff::civil::Date, Vec<(f64, String)>> =
            FxHashMap::default();
        let mut strikes = Vec::with_capacity(w.records.len());
        let started = Instant::now();
        for (i, r) in w.records.iter().enumerate() {
            // The contracts go in batches of EPOCH_CHUNK: a whole board's commands at
            // once (about 40 MB for SPX and NDX) would be memory the allocator keeps.
            if i > 0 && i % EPOCH_CHUNK == 0 {
                match self.apply(u, &b).await {
                    Applied::Done => {}
                    // Not ours any more: the rest of the epoch would be refused too.
                    Applied::Fenced => return true,
                    Applied::Failed => return false,
                }
                b = self.fences.batch(u);
            }
            let key = schema.contract(&id, &r.id);
            match self.config.format {
                RecordFormat::Hash => {
                    b.push(Op::Del { key: key.clone() });
                    b.push(Op::HSet {
                        key: key.clone(),
                        fields: full_fields(r),
                    });
                    b.push(Op::Expire { key, ttl });
                }
                RecordFormat::Json => b.push(Op::Set {
                    key,
                    value: record_json(r),
                    ttl: Some(ttl),
                }),
            }
            let strike = r.strike.points();
            let member = r.id.to_string();
            strikes.push((strike, member.clone()));
            by_expiration
                .entry(r.expiration)
                .or_default()
                .push((strike, member));
        }
        let mut expirations: Vec<jiff::civil::Date> = by_expiration.keys().copied().collect();
        expirations.sort_unstable();
        let mut zsets = vec![(schema.strikes(&id), strikes)];
        zsets.push((
            schema.expirations(&id),
            expirations
                .iter()
                .map(|d| (date_score(*d), d.to_string()))
                .collect(),
        ));
        for (date, members) in by_expiration {
            zsets.push((schema.expiration(&id, date), members));
        }
        for (key, members) in zsets {
            b.push(Op::Del { key: key.clone() });
            if !members.is_empty() {
                b.push(Op::ZAdd {
                    key: key.clone(),
                    members,
                });
            }
            b.push(Op::Expire { key, ttl });
        }
        let meta = schema.meta(&id);
        let mut fields = vec![
            ("underlying", id.underlying.to_string()),
            ("reason", w.reason.as_str().to_owned()),
            ("started", format!("{}", ms_to_seconds(w.started_ms))),
            ("contracts", w.records.len().to_string()),
        ];
        if let Some(p) = w.previous {
            fields.push(("previous", p.to_string()));
        }
        if let Some(fence) = self.fences.get(u) {
            fields.push(("lease", fence.value.clone()));
        }
        b.push(Op::Del { key: meta.clone() });
        b.push(Op::HSet {
            key: meta.clone(),
            fields,
        });
        b.push(Op::Expire { key: meta, ttl });
        match self.apply(u, &b).await {
            Applied::Done => {}
            Applied::Fenced => return true,
            Applied::Failed => return false,
        }
        // Only a complete board is pointed at.
        let mut pointer = self.fences.batch(u);
        pointer.push(Op::Set {
            key: schema.current(id.underlying),
            value: id.to_string(),
            ttl: None,
        });
        match self.apply(u, &pointer).await {
            Applied::Done => {}
            Applied::Fenced => return true,
            Applied::Failed => return false,
        }
        self.health.epochs_written.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            epoch = %id,
            contracts = w.records.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "epoch written to the store"
        );
        self.live.insert(
            id.underlying,
            LiveEpoch {
                id,
                contracts: w.records.iter().map(|r| r.id).collect(),
                expirations,
            },
        );
        true
    }

    async fn write_updates(&mut self, u: Updates) -> bool {
        // Changes for an epoch that is no longer the written one are superseded.
        if self
            .live
            .get(&u.epoch.underlying)
            .is_none_or(|l| l.id != u.epoch)
        {
            return true;
        }
        let schema = self.config.schema;
        let mut b = self.fences.batch(u.epoch.underlying);
        let mut fields_written = 0u64;
        for (r, mask) in &u.items {
            let key = schema.contract(&u.epoch, &r.id);
            match self.config.format {
                RecordFormat::Hash => {
                    let (set, del) = changed_fields(r, *mask);
                    fields_written += (set.len() + del.len()) as u64;
                    if !set.is_empty() {
                        b.push(Op::HSet {
                            key: key.clone(),
                            fields: set,
                        });
                    }
                    if !del.is_empty() {
                        b.push(Op::HDel { key, fields: del });
                    }
                }
                RecordFormat::Json => {
                    fields_written += u64::from(mask.bits().count_ones());
                    b.push(Op::Set {
                        key,
                        value: record_json(r),
                        ttl: Some(self.config.ttl),
                    });
                }
            }
        }
        match self.apply(u.epoch.underlying, &b).await {
            Applied::Done => {}
            Applied::Fenced => return true,
            Applied::Failed => return false,
        }
        self.health.flushes.fetch_add(1, Ordering::Relaxed);
        self.health
            .fields_written
            .fetch_add(fields_written, Ordering::Relaxed);
        self.health
            .flush_lag_ms
            .store(u.handed_at.elapsed().as_millis() as u64, Ordering::Relaxed);
        true
    }

    /// Refreshes the live epochs' TTLs, one batch per underlying (a fenced batch
    /// holds one underlying's keys).
    async fn refresh_ttls(&mut self) -> bool {
        let schema = self.config.schema;
        let ttl = self.config.ttl;
        for (&u, l) in &self.live {
            let mut b = self.fences.batch(u);
            for c in &l.contracts {
                b.push(Op::Expire {
                    key: schema.contract(&l.id, c),
                    ttl,
                });
            }
            for key in [
                schema.strikes(&l.id),
                schema.expirations(&l.id),
                schema.meta(&l.id),
            ] {
                b.push(Op::Expire { key, ttl });
            }
            for d in &l.expirations {
                b.push(Op::Expire {
                    key: schema.expiration(&l.id, *d),
                    ttl,
                });
            }
            if let Applied::Failed = self.apply(u, &b).await {
                return false;
            }
        }
        true
    }

    /// Waits for the store to answer, drops what queued meanwhile, and asks for full
    /// rewrites.
    async fn recover(&mut self, rx: &mut mpsc::Receiver<Msg>) {
        let mut wait = self.config.retry_min;
        loop {
            tokio::time::sleep(wait).await;
            match self.store.ping().await {
                Ok(()) => break,
                Err(e) => {
                    self.health.fail(e.to_string());
                    wait = (wait * 2).min(self.config.retry_max);
                }
            }
        }
        while rx.try_recv().is_ok() {}
        self.live.clear();
        self.health.resync.fetch_add(1, Ordering::Relaxed);
        self.health.degraded.store(false, Ordering::Relaxed);
        tracing::info!("store is back; rewriting the current epochs in full");
    }
}

/// Every field of a record, for a full write; absent values are left out (a reader
/// sees no field, as JSON shows `null`).
fn full_fields(r: &ContractRecord) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("id", r.id.to_string()),
        ("underlying", r.underlying.to_string()),
        ("root", r.root.to_string()),
        ("expiration", r.expiration.to_string()),
        ("strike", format!("{}", r.strike.points())),
        ("type", r.right.as_str().to_owned()),
        ("settlement", r.settlement.as_str().to_owned()),
    ];
    let (set, _) = changed_fields(
        r,
        FieldMask::QUOTE | FieldMask::TRADE | FieldMask::SLOW | FieldMask::FLOW,
    );
    f.extend(set);
    f
}

/// The fields a mask touches: values to set, and fields to delete because they became
/// absent. `ts` goes with every change.
fn changed_fields(
    r: &ContractRecord,
    mask: FieldMask,
) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let mut set = Vec::new();
    let mut del = Vec::new();
    let mut put_f = |name: &'static str, v: Option<f64>| match v {
        Some(v) => set.push((name, format!("{v}"))),
        None => del.push(name),
    };
    let on = |m: FieldMask| mask.intersects(m);
    if on(FieldMask::BID) {
        put_f("bid", r.bid);
    }
    if on(FieldMask::ASK) {
        put_f("ask", r.ask);
    }
    if on(FieldMask::BID | FieldMask::ASK) {
        put_f("mid", r.mid);
    }
    if on(FieldMask::GREEKS) {
        put_f("delta", r.delta);
        put_f("gamma", r.gamma);
        put_f("theta", r.theta);
        put_f("vega", r.vega);
    }
    if on(FieldMask::IV) {
        put_f("iv", r.iv);
    }
    if on(FieldMask::LAST_PRICE) {
        put_f("last_price", r.last_price);
    }
    if !mask.is_empty() {
        put_f("ts", r.ts);
    }
    let mut put_u = |name: &'static str, v: Option<u64>| match v {
        Some(v) => set.push((name, v.to_string())),
        None => del.push(name),
    };
    if on(FieldMask::BID_SIZE) {
        put_u("bid_size", r.bid_size);
    }
    if on(FieldMask::ASK_SIZE) {
        put_u("ask_size", r.ask_size);
    }
    if on(FieldMask::OI) {
        put_u("oi", r.oi);
    }
    if on(FieldMask::LAST_SIZE) {
        put_u("last_size", r.last_size);
    }
    if on(FieldMask::VOLUME) {
        put_u("volume", r.volume);
    }
    if on(FieldMask::FLOW) {
        set.push(("flow_buy", r.flow_buy.to_string()));
        set.push(("flow_sell", r.flow_sell.to_string()));
        set.push(("flow_unknown", r.flow_unknown.to_string()));
        set.push(("flow_buy_premium", format!("{}", r.flow_buy_premium)));
        set.push(("flow_sell_premium", format!("{}", r.flow_sell_premium)));
    }
    (set, del)
}

fn record_json(r: &ContractRecord) -> String {
    // A record holds only numbers, dates and fixed strings: serialising cannot fail.
    serde_json::to_string(r).unwrap_or_default()
}

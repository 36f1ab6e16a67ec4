//! The snapshot publisher: the models' ticks, finished and written every second.
//!
//! The ingestion loop hands each [`Tick`] to a [`PublisherSink`] and moves on: the
//! sink keeps only the latest tick per underlying (a `watch` channel), so a publisher
//! that falls behind skips ticks, counted, and never holds the loop up or queues
//! memory. Per underlying, a task then:
//!
//! 1. finishes the tick off the async threads (`spawn_blocking`) with
//!    [`chainboard_analytics::publish::finish`]: settles every expiry filter's levels
//!    (the zero-gamma flip with its roots and gamma curve, the walls) against the
//!    last published ones, diffs both snapshots against the last published ones, and
//!    renders the JSON;
//! 2. writes, in one pipeline:
//!    - `massive:heatmap:snapshot:<symbol>` and `massive:gex:snapshot:<symbol>` with
//!      a 5 s TTL (a reader never sees a snapshot older than that: if publishing
//!      stops, the keys go);
//!    - a message on `massive:heatmap:updates:<symbol>`: the heatmap diff
//!      (`chainboard/heatmap-diff/v1`) when the last published snapshot was of the
//!      same epoch, else a resync notice (`chainboard/heatmap-resync/v1`: fetch the
//!      snapshot key); then one on `massive:gex:updates:<symbol>`, likewise
//!      (`chainboard/gex-diff/v1` or `chainboard/gex-resync/v1`);
//!    - an entry on the capped stream `massive:gex:history:<symbol>` at the tick's
//!      millisecond: every filter's totals and levels, and the net profile near spot
//!      (the day's timeline, see [`chainboard_analytics::history`]);
//! 3. hands the finished [`Published`] to whoever watches it (the browser hub).
//!
//! A write that fails is counted and logged, and the snapshots and the update message
//! are not retried: the next tick, a second later, supersedes them. History is the
//! exception, because nothing supersedes a lost entry: entries whose write failed
//! stay in a bounded buffer ([`PublisherConfig::history_buffer`], an hour at 1 Hz by
//! default) and go out, oldest first, ahead of the next tick's entry once the store
//! answers again, so an outage leaves no hole in the day's timeline. Each entry is
//! placed at its tick's millisecond, late or not, unless the stream has already gone
//! past it (another writer's clock ahead of ours): then just after the stream's last
//! entry, its own `tick` field still saying when it was taken.
//! When the buffer is full the oldest entry is dropped and counted
//! ([`PublisherHealth::history_dropped`]).
//!
//! Under leases ([`spawn_fenced`]) each write is fenced by its underlying's lease; a
//! write refused because the lease was lost is counted in
//! [`Fences::refused`](chainboard_store::Fences::refused) and dropped with the
//! history it carried: the new holder writes the timeline from then on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chainboard_analytics::{GexSnapshot, HeatmapSnapshot, ModelSink, Tick, history, json, publish};
use chainboard_model::Underlying;
use chainboard_server::{Doc, Documents, source::FeedNote};
use chainboard_store::{Batch, Fences, KeySchema, Op, Store, StoreError};
use tokio::sync::{mpsc, watch};
use tracing::warn;

/// How snapshots are published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublisherConfig {
    /// Key spelling.
    pub schema: KeySchema,
    /// TTL of the snapshot keys (the design's 5 s).
    pub snapshot_ttl: Duration,
    /// Entries kept in the GEX history stream: a regular session at 1 Hz is 23,400.
    pub history_max: usize,
    /// History entries held per underlying while the store does not answer.
    pub history_buffer: usize,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            schema: KeySchema::default(),
            snapshot_ttl: Duration::from_secs(5),
            history_max: 23_400,
            history_buffer: 3_600,
        }
    }
}

/// One tick, finished: snapshots with their levels, and their documents as the
/// HTTP side serves them.
#[derive(Debug)]
pub struct Published {
    /// The heatmap snapshot.
    pub heatmap: Arc<HeatmapSnapshot>,
    /// The GEX snapshot with its zero-gamma flips.
    pub gex: Arc<GexSnapshot>,
    /// `chainboard/heatmap/v1`, `chainboard/gex/v1` and the diffs from the previously
    /// published tick, as shared bytes: every reader (HTTP responses, every browser
    /// stream) sends these same bytes, never a copy.
    pub docs: Arc<Documents>,
    /// How long finishing took (flip search, diffs, JSON).
    pub finish_time: Duration,
}

/// What the publisher has done, for logs and metrics.
#[derive(Debug, Default)]
pub struct PublisherHealth {
    /// Ticks written.
    pub published: AtomicU64,
    /// Ticks superseded before the publisher got to them.
    pub skipped: AtomicU64,
    /// Failed writes.
    pub errors: AtomicU64,
    /// Milliseconds the last finish took.
    pub last_finish_ms: AtomicU64,
    /// History entries waiting for the store to answer, all underlyings.
    pub history_buffered: AtomicU64,
    /// History entries dropped because the buffer was full.
    pub history_dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl PublisherHealth {
    /// The last write error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Per underlying, the latest tick, typed and as documents.
type Outputs = BTreeMap<Underlying, Output>;

#[derive(Debug, Clone)]
struct Output {
    published: watch::Sender<Option<Arc<Published>>>,
    documents: watch::Sender<Option<Arc<Documents>>>,
    /// The seq of the last tick the task is done with (published or not).
    done: watch::Sender<u64>,
}

impl Default for Output {
    fn default() -> Self {
        Self {
            published: watch::channel(None).0,
            documents: watch::channel(None).0,
            done: watch::channel(0).0,
        }
    }
}

/// Those who asked for every published tick ([`PublisherHandle::tap`]).
type Taps = Arc<Mutex<Vec<mpsc::UnboundedSender<Arc<Published>>>>>;

/// The running publisher.
#[derive(Debug, Clone)]
pub struct PublisherHandle {
    inputs: Arc<Mutex<BTreeMap<Underlying, watch::Sender<Option<Tick>>>>>,
    outputs: Arc<Mutex<Outputs>>,
    taps: Taps,
    health: Arc<PublisherHealth>,
    store: Store,
    config: PublisherConfig,
    fences: Fences,
    runtime: tokio::runtime::Handle,
}

/// Starts the publisher on the current Tokio runtime, as its store's only writer.
/// Per-underlying tasks start on the first tick of each underlying and end when the
/// handle and its sinks are gone.
pub fn spawn(store: Store, config: PublisherConfig) -> PublisherHandle {
    spawn_fenced(store, config, Fences::none())
}

/// Starts the publisher with every write fenced by `fences` (see the module docs).
pub fn spawn_fenced(store: Store, config: PublisherConfig, fences: Fences) -> PublisherHandle {
    PublisherHandle {
        inputs: Arc::default(),
        outputs: Arc::default(),
        taps: Arc::default(),
        health: Arc::default(),
        store,
        config,
        fences,
        runtime: tokio::runtime::Handle::current(),
    }
}

impl PublisherHandle {
    /// What the models hand their ticks to.
    pub fn sink(&self) -> PublisherSink {
        PublisherSink {
            handle: self.clone(),
        }
    }

    /// How it publishes (the snapshot TTL tells readers how old a snapshot may be).
    pub fn config(&self) -> &PublisherConfig {
        &self.config
    }

    /// The health counters.
    pub fn health(&self) -> &Arc<PublisherHealth> {
        &self.health
    }

    /// The latest published tick of `symbol`, as it changes.
    pub fn watch(&self, symbol: Underlying) -> watch::Receiver<Option<Arc<Published>>> {
        lock(&self.outputs)
            .entry(symbol)
            .or_default()
            .published
            .subscribe()
    }

    /// The latest published documents of `symbol`, as they change.
    pub fn documents(&self, symbol: Underlying) -> watch::Receiver<Option<Arc<Documents>>> {
        lock(&self.outputs)
            .entry(symbol)
            .or_default()
            .documents
            .subscribe()
    }

    /// The underlyings published so far.
    pub fn symbols(&self) -> Vec<Underlying> {
        lock(&self.inputs).keys().copied().collect()
    }

    /// Sends every tick published from now on to `tap`, each symbol's in order
    /// (unbounded: for a reader that keeps up with a tick a second, such as the
    /// digests of what was published).
    pub fn tap(&self, tap: mpsc::UnboundedSender<Arc<Published>>) {
        lock(&self.taps).push(tap);
    }

    /// Resolves when every tick handed to the publisher so far has been finished and
    /// written: a replay waits for it before it lets the models tick again, so no
    /// tick is skipped however fast it runs.
    pub async fn caught_up(&self) {
        let pending: Vec<(u64, watch::Receiver<u64>)> = {
            let inputs = lock(&self.inputs);
            let outputs = lock(&self.outputs);
            inputs
                .iter()
                .filter_map(|(symbol, tx)| {
                    let seq = tx.borrow().as_ref().map(|t| t.heatmap.seq())?;
                    Some((seq, outputs.get(symbol)?.done.subscribe()))
                })
                .collect()
        };
        for (seq, mut done) in pending {
            // An error means the task ended: nothing more will be published.
            let _ = done.wait_for(|&d| d >= seq).await;
        }
    }

    fn offer(&self, tick: Tick) {
        let symbol = tick.heatmap.symbol;
        let mut inputs = lock(&self.inputs);
        if let Some(tx) = inputs.get(&symbol) {
            tx.send_replace(Some(tick));
            return;
        }
        let expected_seq = tick.heatmap.seq();
        let (tx, rx) = watch::channel(Some(tick));
        inputs.insert(symbol, tx);
        drop(inputs);
        let out = lock(&self.outputs).entry(symbol).or_default().clone();
        let worker = PublishTask {
            symbol,
            store: self.store.clone(),
            config: self.config,
            fences: self.fences.clone(),
            health: self.health.clone(),
            taps: self.taps.clone(),
            out,
            last: None,
            expected_seq,
            history: VecDeque::new(),
        };
        self.runtime.spawn(worker.run(rx));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The models' side of the publisher: never blocks.
#[derive(Debug, Clone)]
pub struct PublisherSink {
    handle: PublisherHandle,
}

impl ModelSink for PublisherSink {
    fn publish(&mut self, tick: Tick) {
        self.handle.offer(tick);
    }
}

struct PublishTask {
    symbol: Underlying,
    store: Store,
    config: PublisherConfig,
    fences: Fences,
    health: Arc<PublisherHealth>,
    taps: Taps,
    out: Output,
    last: Option<Arc<Published>>,
    /// The seq the next tick has if none was skipped (seqs run on across epochs).
    expected_seq: u64,
    /// History entries not yet written with their tick's Unix ms, oldest first (see
    /// the module docs).
    history: VecDeque<(u64, Vec<(&'static str, String)>)>,
}

impl PublishTask {
    async fn run(mut self, mut rx: watch::Receiver<Option<Tick>>) {
        // The first tick is already in the channel, marked seen by `subscribe`-less
        // creation; read it before waiting.
        let mut first = rx.borrow_and_update().clone();
        loop {
            let tick = match first.take() {
                Some(t) => t,
                None => {
                    if rx.changed().await.is_err() {
                        return;
                    }
                    match rx.borrow_and_update().clone() {
                        Some(t) => t,
                        None => continue,
                    }
                }
            };
            let seq = tick.heatmap.seq();
            let gap = seq.saturating_sub(self.expected_seq);
            self.health.skipped.fetch_add(gap, Ordering::Relaxed);
            self.expected_seq = seq + 1;
            let previous = self.last.clone();
            let finished =
                tokio::task::spawn_blocking(move || finish(tick, previous.as_deref())).await;
            let Ok(published) = finished else {
                warn!(symbol = %self.symbol, "finishing a tick failed; skipped");
                self.out.done.send_replace(seq);
                continue;
            };
            let published = Arc::new(published);
            self.health
                .last_finish_ms
                .store(published.finish_time.as_millis() as u64, Ordering::Relaxed);
            let at_ms = u64::try_from(published.gex.ts_ms).unwrap_or(0);
            self.hold_history(at_ms, history::entry_fields(&published.gex));
            match self.store.apply(&self.batch(&published)).await {
                Ok(()) => {
                    self.health.published.fetch_add(1, Ordering::Relaxed);
                    self.forget_history();
                }
                Err(StoreError::Fenced) => {
                    self.fences.refuse(self.symbol);
                    self.forget_history();
                }
                Err(e) => {
                    let n = self.health.errors.fetch_add(1, Ordering::Relaxed);
                    if n.is_power_of_two() || n == 0 {
                        warn!(symbol = %self.symbol, error = %e, failures = n + 1, "snapshot write failed");
                    }
                    *lock(&self.health.last_error) = Some(e.to_string());
                }
            }
            self.out
                .documents
                .send_replace(Some(published.docs.clone()));
            self.out.published.send_replace(Some(published.clone()));
            lock(&self.taps).retain(|tap| tap.send(published.clone()).is_ok());
            self.last = Some(published);
            self.out.done.send_replace(seq);
        }
    }

    /// The history entries are written, or are no longer this process's to write.
    fn forget_history(&mut self) {
        let written = self.history.len() as u64;
        self.history.clear();
        self.health
            .history_buffered
            .fetch_sub(written, Ordering::Relaxed);
    }

    fn batch(&self, p: &Published) -> Batch {
        let schema = self.config.schema;
        let symbol = self.symbol;
        let mut batch = self.fences.batch(symbol);
        for (key, doc) in [
            (schema.heatmap_snapshot(symbol), Doc::Heatmap),
            (schema.gex_snapshot(symbol), Doc::Gex),
        ] {
            batch.push(Op::Set {
                key,
                value: p.docs.json(doc).map(utf8).unwrap_or_default(),
                ttl: Some(self.config.snapshot_ttl),
            });
        }
        // The heatmap's message, then the GEX one; a reader pairs the two by seq and
        // epoch, whatever order its connections deliver them in. A tick without
        // diffs is announced by a resync notice: read the snapshot key.
        let messages = [
            (
                schema.heatmap_updates(symbol),
                Doc::HeatmapDiff,
                json::heatmap_resync(&p.heatmap),
            ),
            (
                schema.gex_updates(symbol),
                Doc::GexDiff,
                json::gex_resync(&p.gex),
            ),
        ];
        for (channel, diff, resync) in messages {
            let message = p.docs.json(diff).map_or(resync, utf8);
            batch.push(Op::Publish { channel, message });
        }
        for (at_ms, fields) in &self.history {
            batch.push(Op::XAdd {
                key: schema.gex_history(symbol),
                max_len: self.config.history_max,
                at_ms: Some(*at_ms),
                fields: fields.clone(),
            });
        }
        batch
    }

    /// Adds this tick's history entry to those waiting, dropping the oldest (counted)
    /// when the buffer is full.
    fn hold_history(&mut self, at_ms: u64, fields: Vec<(&'static str, String)>) {
        if self.history.len() >= self.config.history_buffer.max(1) {
            self.history.pop_front();
            self.health.history_dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.health.history_buffered.fetch_add(1, Ordering::Relaxed);
        }
        self.history.push_back((at_ms, fields));
    }
}

/// [`publish::finish`] for one tick, timed, its documents made shareable bytes (CPU
/// work, run on the blocking pool).
fn finish(tick: Tick, previous: Option<&Published>) -> Published {
    let started = Instant::now();
    let done = publish::finish(tick, previous.map(|p| (&*p.heatmap, &*p.gex)));
    let meta = &done.heatmap.meta;
    let feed = FeedNote {
        state: meta.feed.state.as_str().to_owned(),
        silence_ms: meta.feed.silence_ms,
    };
    let diffs = match (
        done.diff_base_seq,
        done.heatmap_diff_json,
        done.gex_diff_json,
    ) {
        (Some(base), Some(heatmap), Some(gex)) => Some((base, [heatmap.into(), gex.into()])),
        _ => None,
    };
    let docs = Documents::new(
        done.heatmap.seq(),
        Arc::from(done.heatmap.epoch.id.to_string()),
        meta.ts_ms,
        feed,
        [done.heatmap_json.into(), done.gex_json.into()],
        diffs,
    );
    Published {
        heatmap: done.heatmap,
        gex: done.gex,
        docs: Arc::new(docs),
        finish_time: started.elapsed(),
    }
}

/// A published document as the store's string value (one copy per tick, for the
/// store; readers share the bytes). The documents are rendered from `String`s, so
/// they are always UTF-8.
fn utf8(bytes: &Bytes) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

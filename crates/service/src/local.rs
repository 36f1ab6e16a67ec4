//! The HTTP side's [`Source`] in the process that runs ingestion: the publisher's
//! latest documents, and a [`ServiceStatus`] assembled on demand from ingestion's
//! status, the store's and the publisher's health and the models' tick timings.
//!
//! Also here, [`TimedModels`]: the observer that times the models' ticks on the
//! ingestion task, so that the models themselves never read a clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chainboard_analytics::ModelObserver;
use chainboard_engine::{BoardObserver, Engine, FlowStats, Refused};
use chainboard_model::flow::{Excluded, Side};
use chainboard_model::{EpochReason, Underlying};
use chainboard_recording::RecorderStats;
use chainboard_server::source::{
    BoardStatus, EpochTransition, FeedCounters, FlowCounts, PublisherCounters, RecorderCounters,
    SocketCounters, StoreStatus, TickCounters,
};
use chainboard_server::{Documents, HistoryQuery, HistoryResult, ServiceStatus, Source};
use chainboard_store::writer::StoreHealth;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::history::HistoryReader;
use crate::ingest::IngestStatus;
use crate::publisher::PublisherHandle;

/// The single binary's source: everything read from the pipeline in this process.
#[derive(Debug, Clone)]
pub struct LocalSource {
    publisher: PublisherHandle,
    ingest: watch::Receiver<IngestStatus>,
    store: Arc<StoreHealth>,
    store_name: String,
    ticks: Arc<TickTimes>,
    history: HistoryReader,
    recorder: Option<Arc<RecorderStats>>,
    replay: bool,
}

impl LocalSource {
    /// Reads documents from `publisher`, the status from ingestion's watch, the
    /// store's health (the store described as `store_name`) and `ticks`, and the
    /// history through `history`.
    pub fn new(
        publisher: PublisherHandle,
        ingest: watch::Receiver<IngestStatus>,
        store: Arc<StoreHealth>,
        store_name: String,
        ticks: Arc<TickTimes>,
        history: HistoryReader,
    ) -> Self {
        Self {
            publisher,
            ingest,
            store,
            store_name,
            ticks,
            history,
            recorder: None,
            replay: false,
        }
    }

    /// Reports the recorder's counters too.
    pub fn with_recorder(self, recorder: Option<Arc<RecorderStats>>) -> Self {
        Self { recorder, ..self }
    }

    /// A replay's source: statuses are taken at the recording's clock.
    pub fn with_replay(self, replay: bool) -> Self {
        Self { replay, ..self }
    }
}

impl Source for LocalSource {
    fn history(
        &self,
        symbol: Underlying,
        query: HistoryQuery,
    ) -> BoxFuture<'static, HistoryResult> {
        self.history.answer(symbol, query)
    }

    fn documents(&self, symbol: Underlying) -> watch::Receiver<Option<Arc<Documents>>> {
        self.publisher.documents(symbol)
    }

    fn status(&self) -> ServiceStatus {
        let ingest = self.ingest.borrow();
        let mut status = service_status(&ingest);
        // A replay's moments are the recording's: rates and ages run on its clock.
        status.at_ms = if self.replay {
            ingest.clock_ms
        } else {
            crate::ingest::now_ms()
        };
        status.replay = self.replay;
        drop(ingest);
        status.ticks = TickCounters {
            count: self.ticks.count.load(Ordering::Relaxed),
            total_us: self.ticks.total_us.load(Ordering::Relaxed),
            last_us: self.ticks.last_us.load(Ordering::Relaxed),
        };
        let p = self.publisher.health();
        status.publisher = PublisherCounters {
            published: p.published.load(Ordering::Relaxed),
            skipped: p.skipped.load(Ordering::Relaxed),
            errors: p.errors.load(Ordering::Relaxed),
            last_finish_ms: p.last_finish_ms.load(Ordering::Relaxed),
            history_buffered: p.history_buffered.load(Ordering::Relaxed),
            history_dropped: p.history_dropped.load(Ordering::Relaxed),
        };
        let s = &self.store;
        status.store = StoreStatus {
            name: self.store_name.clone(),
            degraded: s.degraded(),
            last_error: s.last_error(),
            flush_lag_ms: s.flush_lag_ms.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            fields_written: s.fields_written.load(Ordering::Relaxed),
            epochs_written: s.epochs_written.load(Ordering::Relaxed),
        };
        status.recorder = self.recorder.as_deref().map(|r| RecorderCounters {
            records: r.records.load(Ordering::Relaxed),
            written_bytes: r.written_bytes.load(Ordering::Relaxed),
            raw_bytes: r.raw_bytes.load(Ordering::Relaxed),
            dropped: r.dropped.load(Ordering::Relaxed),
            queued_bytes: r.queued_bytes.load(Ordering::Relaxed),
            segments_deleted: r.segments_deleted.load(Ordering::Relaxed),
            errors: r.errors.load(Ordering::Relaxed),
            last_error: r.last_error(),
        });
        status.snapshot_ttl_ms =
            u64::try_from(self.publisher.config().snapshot_ttl.as_millis()).unwrap_or(u64::MAX);
        status
    }
}

/// A board's flow counters, named as published.
fn flow_counts(f: &FlowStats) -> FlowCounts {
    let named = |names: &[&'static str], counts: &[u64]| -> Vec<(String, u64)> {
        names
            .iter()
            .zip(counts)
            .map(|(n, &c)| ((*n).to_owned(), c))
            .collect()
    };
    let sides: Vec<&str> = Side::ALL.iter().map(|s| s.as_str()).collect();
    let excluded: Vec<&str> = Excluded::ALL.iter().map(|e| e.as_str()).collect();
    let refused: Vec<&str> = Refused::ALL.iter().map(|r| r.as_str()).collect();
    FlowCounts {
        volume: named(&sides, &f.volume),
        excluded: named(&excluded, &f.excluded),
        refused: named(&refused, &f.refused),
    }
}

/// Ingestion's part of the status, as plain data.
pub fn service_status(ingest: &IngestStatus) -> ServiceStatus {
    let feed = &ingest.feed;
    ServiceStatus {
        fatal: ingest.fatal.clone(),
        market_open: ingest.market_open,
        boards: ingest
            .boards
            .iter()
            .map(|b| BoardStatus {
                underlying: b.underlying.as_str().to_owned(),
                epoch: b.epoch.map(|e| e.to_string()),
                reason: b.reason.map(|r| r.as_str().to_owned()),
                contracts: b.contracts as u64,
                spot: b.spot,
                silence_ms: b.silence_ms,
                quotes: b.stats.quotes,
                trades: b.stats.trades,
                geometry_miss: b.stats.geometry_miss,
                epochs: EpochReason::ALL
                    .iter()
                    .map(|&r| (r.as_str().to_owned(), b.stats.epochs_for(r)))
                    .collect(),
                flow: flow_counts(&b.flow),
            })
            .collect(),
        transitions: ingest
            .transitions
            .iter()
            .map(|t| EpochTransition {
                underlying: t.id.underlying.as_str().to_owned(),
                id: t.id.to_string(),
                reason: t.reason.as_str().to_owned(),
                previous: t.previous.map(|p| p.to_string()),
                at_ms: t.at_ms,
                contracts: t.contracts as u64,
                added: t.added as u64,
                removed: t.removed as u64,
            })
            .collect(),
        loads_ok: ingest.loads_ok,
        loads_failed: ingest.loads_failed,
        gaps: ingest.gaps,
        quoted: ingest.quoted as u64,
        feed: FeedCounters {
            frames: feed.frames,
            malformed_frames: feed.malformed_frames,
            unknown_events: feed.unknown_events,
            invalid_events: feed.invalid_events,
            bad_symbols: feed.bad_symbols,
            unrouted: feed.unrouted,
            rejected_updates: feed.rejected_updates,
            statuses: feed.statuses,
        },
        sockets: [
            ("options", &ingest.options_socket),
            ("indices", &ingest.indices_socket),
        ]
        .into_iter()
        .map(|(cluster, s)| SocketCounters {
            cluster: cluster.to_owned(),
            connects: s.connects,
            disconnects: s.disconnects,
            dropped_frames: s.dropped_frames,
            slow_consumer: s.slow_consumer,
            status_errors: s.status_errors,
        })
        .collect(),
        ..ServiceStatus::default()
    }
}

/// How long the models' ticks take on the ingestion task.
#[derive(Debug, Default)]
pub struct TickTimes {
    /// Ticks timed.
    pub count: AtomicU64,
    /// Their total, microseconds.
    pub total_us: AtomicU64,
    /// The last one, microseconds.
    pub last_us: AtomicU64,
}

impl TickTimes {
    fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(us, Ordering::Relaxed);
        self.last_us.store(us, Ordering::Relaxed);
    }
}

/// Times the models' ticks and epoch starts for `/metrics`, so the models themselves
/// never read a clock.
#[derive(Debug)]
pub struct TimedModels {
    inner: ModelObserver,
    times: Arc<TickTimes>,
}

impl TimedModels {
    /// Wraps `inner`, recording into `times`.
    pub fn new(inner: ModelObserver, times: Arc<TickTimes>) -> Self {
        Self { inner, times }
    }
}

impl BoardObserver for TimedModels {
    fn epoch_started(&mut self, engine: &mut Engine, now_ms: i64) {
        let start = Instant::now();
        self.inner.epoch_started(engine, now_ms);
        self.times.record(start.elapsed());
    }

    fn tick(&mut self, engine: &mut Engine, now_ms: i64) {
        let (start, before) = (Instant::now(), self.inner.ticks());
        self.inner.tick(engine, now_ms);
        // Most polls are not due for a tick; only real ticks are timed.
        if self.inner.ticks() != before {
            self.times.record(start.elapsed());
        }
    }
}

//! What the HTTP side reads: the publisher's latest snapshots, ingestion's status and
//! the store's health, shared by every request and stream.
//!
//! Nothing here is written by a request: the server is a reader of what the pipeline
//! publishes, so any number of browsers cost the pipeline nothing but the fan-out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chainboard_analytics::ModelObserver;
use chainboard_engine::{BoardObserver, Engine};
use chainboard_model::Underlying;
use chainboard_service::ingest::IngestStatus;
use chainboard_service::publisher::PublisherHandle;
use chainboard_store::writer::StoreHealth;
use tokio::sync::watch;

#[cfg(doc)]
use crate::access::Denied;
use crate::config::ServerConfig;
use crate::stream::StatusCache;

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// The underlyings this service publishes; a path parameter must name one.
    pub(crate) symbols: Vec<Underlying>,
    /// The latest published snapshots, per symbol.
    pub(crate) publisher: PublisherHandle,
    /// Ingestion's status (boards, transitions, sockets).
    pub(crate) ingest: watch::Receiver<IngestStatus>,
    /// The epoch substrate's write-behind health.
    pub(crate) store: Arc<StoreHealth>,
    /// What the store is (`embedded` or the Redis URL without its password).
    pub(crate) store_name: String,
    /// Model tick timings.
    pub(crate) ticks: Arc<TickTimes>,
    /// Limits and access rules.
    pub(crate) config: ServerConfig,
    /// Browser streams open now.
    pub(crate) stream_clients: AtomicU64,
    /// Browser streams closed because the client fell behind.
    pub(crate) stream_dropped: AtomicU64,
    /// Browser streams closed at once because [`StreamLimits::max_clients`] were
    /// open.
    ///
    /// [`StreamLimits::max_clients`]: crate::config::StreamLimits::max_clients
    pub(crate) stream_refused: AtomicU64,
    /// Resync requests held back to the client's next window.
    pub(crate) stream_resyncs_deferred: AtomicU64,
    /// The stream status documents, shared by every client of a symbol.
    pub(crate) status: StatusCache,
    /// Requests refused, by [`Denied`] reason.
    pub(crate) denied: [AtomicU64; 3],
    /// Set once on shutdown: every stream closes with 1001.
    pub(crate) shutdown: watch::Sender<bool>,
}

impl AppState {
    /// State over a running pipeline.
    pub fn new(
        symbols: Vec<Underlying>,
        publisher: PublisherHandle,
        ingest: watch::Receiver<IngestStatus>,
        store: Arc<StoreHealth>,
        store_name: String,
        ticks: Arc<TickTimes>,
        config: ServerConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                symbols,
                publisher,
                ingest,
                store,
                store_name,
                ticks,
                config,
                stream_clients: AtomicU64::new(0),
                stream_dropped: AtomicU64::new(0),
                stream_refused: AtomicU64::new(0),
                stream_resyncs_deferred: AtomicU64::new(0),
                status: StatusCache::default(),
                denied: Default::default(),
                shutdown: watch::channel(false).0,
            }),
        }
    }

    /// Closes every browser stream with 1001 ("going away") and waits, at most
    /// `grace`, until they are gone. New streams are still closed at once after
    /// this; the caller stops the listener.
    pub async fn close_streams(&self, grace: Duration) {
        self.inner.shutdown.send_replace(true);
        let deadline = tokio::time::Instant::now() + grace;
        while self.inner.stream_clients.load(Ordering::Acquire) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The symbol named by a path parameter, if this service publishes it. The
    /// parameter is matched against the configured list, never used as given.
    pub(crate) fn symbol(&self, raw: &str) -> Option<Underlying> {
        let wanted = bare_symbol(raw);
        self.inner
            .symbols
            .iter()
            .copied()
            .find(|u| u.as_str().eq_ignore_ascii_case(wanted))
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

/// A symbol as a path gives it, without surrounding space or Massive's index prefix
/// (`I:`, in either case): `i:spx` and `I:SPX` name `SPX`.
fn bare_symbol(raw: &str) -> &str {
    let raw = raw.trim();
    match raw.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("I:") => &raw[2..],
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::bare_symbol;

    proptest! {
        /// Any path segment: a suffix of it, never a panic (multi-byte characters
        /// included). (A fuzz suite: `PROPTEST_CASES` sets its length.)
        #[test]
        fn fuzz_symbol_paths(raw in "\\PC{0,16}|[iI]:\\PC{0,8}") {
            let bare = bare_symbol(&raw);
            prop_assert!(raw.trim().ends_with(bare));
            prop_assert!(bare.len() + 2 >= raw.trim().len());
        }
    }

    #[test]
    fn the_index_prefix_is_dropped_in_either_case() {
        for (raw, want) in [
            ("SPX", "SPX"),
            ("spx", "spx"),
            ("I:SPX", "SPX"),
            ("i:spx", "spx"),
            (" I:ndx ", "ndx"),
            ("I:", ""),
            ("I", "I"),
            ("", ""),
            ("é:x", "é:x"),
        ] {
            assert_eq!(bare_symbol(raw), want, "{raw:?}");
        }
    }
}

//! What every request and stream shares: the [`Source`] of documents and status,
//! the server's limits and its own counters.
//!
//! Nothing here is written by a request: the server is a reader of what the pipeline
//! publishes, so any number of browsers cost the pipeline nothing but the fan-out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chainboard_model::Underlying;
use tokio::sync::watch;

#[cfg(doc)]
use crate::access::Denied;
use crate::config::ServerConfig;
use crate::source::Source;
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
    /// The published documents and the service's status.
    pub(crate) source: Arc<dyn Source>,
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
    /// State serving `symbols` from `source`.
    pub fn new(symbols: Vec<Underlying>, source: Arc<dyn Source>, config: ServerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                symbols,
                source,
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

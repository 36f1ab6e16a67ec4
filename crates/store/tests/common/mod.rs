//! Test harness: a throwaway `redis-server` per test (`chainboard-testkit`), and a
//! manual clock for the embedded store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chainboard_store::Clock;
pub(crate) use chainboard_testkit::redis::RedisServer;

/// A clock for the embedded store that moves only when told.
#[derive(Debug, Clone)]
pub(crate) struct ManualClock {
    start: Instant,
    offset_ns: Arc<AtomicU64>,
}

impl ManualClock {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            offset_ns: Arc::default(),
        }
    }

    /// The store's view of this clock.
    pub(crate) fn clock(&self) -> Clock {
        let this = self.clone();
        Clock::from_fn(move || {
            this.start + Duration::from_nanos(this.offset_ns.load(Ordering::SeqCst))
        })
    }

    /// Moves time forward.
    pub(crate) fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).expect("advance fits in u64 ns");
        self.offset_ns.fetch_add(ns, Ordering::SeqCst);
    }
}

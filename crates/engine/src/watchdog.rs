//! The feed watchdog: notices a silent feed and asks for a fresh photo, without
//! churning epochs when silence is the normal state.
//!
//! # The rule
//!
//! 1. While the market is open, if no live message has arrived for `stale_after`
//!    (default 5 s; the design's "silent ~5 s"), the watchdog asks for a forced photo.
//!    When a photo taken after that request arrives, the engine starts a new epoch with
//!    reason `stale_feed`, even if the geometry is unchanged.
//! 2. If the feed is *still* silent after that, the watchdog keeps asking for photos,
//!    but at doubling intervals (2×, 4×, … `stale_after`, capped at `max_backoff`), and
//!    those photos only refresh the board in place (a new epoch only on a geometry
//!    change): another epoch would carry nothing a refresh does not, and a dead feed
//!    must not mint an epoch every 5 s.
//! 3. A photo request that goes unanswered (the loader failed) is repeated after the
//!    current backoff interval.
//! 4. Any live message returns the watchdog to rule 1; the next silence starts over.
//!    The one exception: a request that will start a `stale_feed` epoch stays owed. If
//!    the feed resumes while that photo is loading (a full SPX load takes seconds), the
//!    photo still starts the epoch — the silence happened and the board may have
//!    missed prices during it — and the watchdog then returns to rule 1.
//! 5. While the market is closed the feed is always silent: the watchdog asks for
//!    nothing (regular refreshes still run on the loader's schedule). When it opens,
//!    the silence clock restarts, so the feed gets a full `stale_after` to speak.
//!
//! Time is passed in by the caller; the watchdog never reads a clock.

/// Watchdog settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// Silence that makes the feed stale, ms.
    pub stale_after_ms: i64,
    /// Longest interval between forced photos on a feed that stays silent, ms.
    pub max_backoff_ms: i64,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        Self {
            stale_after_ms: 5_000,
            max_backoff_ms: 300_000,
        }
    }
}

/// What the watchdog is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchState {
    /// The feed is live (or has not been silent long enough).
    Watching,
    /// A forced photo was requested at `requested_at_ms`; `starts_epoch` is whether
    /// its arrival starts a `stale_feed` epoch (only the first after live traffic).
    Awaiting {
        /// When the request was made, Unix ms.
        requested_at_ms: i64,
        /// Whether the answering photo starts an epoch.
        starts_epoch: bool,
        /// How long to wait before asking again, ms.
        backoff_ms: i64,
    },
    /// Still silent after a forced photo: the next request is due at `next_at_ms`.
    Quiet {
        /// When to ask again, Unix ms.
        next_at_ms: i64,
        /// The interval that produced `next_at_ms`, ms.
        backoff_ms: i64,
    },
}

/// Tracks feed liveness for one underlying.
#[derive(Debug, Clone)]
pub struct Watchdog {
    config: WatchdogConfig,
    state: WatchState,
    last_live_ms: Option<i64>,
    market_open: bool,
    /// When the market last opened: silence before it does not count.
    opened_at_ms: Option<i64>,
}

/// What a photo means to the watchdog when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhotoVerdict {
    /// An ordinary refresh.
    Routine,
    /// The answer to a forced request.
    Forced {
        /// Whether it starts a `stale_feed` epoch.
        starts_epoch: bool,
    },
}

impl Watchdog {
    /// A watchdog that considers the market open until told otherwise.
    pub fn new(config: WatchdogConfig) -> Self {
        Self {
            config,
            state: WatchState::Watching,
            last_live_ms: None,
            market_open: true,
            opened_at_ms: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> WatchState {
        self.state
    }

    /// When the last live message arrived, Unix ms.
    pub fn last_live_ms(&self) -> Option<i64> {
        self.last_live_ms
    }

    /// Silence so far at `now_ms`, measured from the last live message or, before any,
    /// from `since_ms` (the epoch start).
    pub fn silence_ms(&self, now_ms: i64, since_ms: i64) -> i64 {
        let baseline = [self.last_live_ms, self.opened_at_ms]
            .into_iter()
            .flatten()
            .fold(since_ms, i64::max);
        (now_ms - baseline).max(0)
    }

    /// A live message arrived.
    #[inline]
    pub fn observe_live(&mut self, now_ms: i64) {
        self.last_live_ms = Some(self.last_live_ms.map_or(now_ms, |t| t.max(now_ms)));
        if !matches!(
            self.state,
            WatchState::Awaiting {
                starts_epoch: true,
                ..
            }
        ) {
            self.state = WatchState::Watching;
        }
    }

    /// Whether the market is open (from Massive's market status) as of `now_ms`.
    /// Closing stops forced photos; opening restarts the silence clock at `now_ms`,
    /// so the overnight silence does not force a photo the moment the market opens.
    pub fn set_market_open(&mut self, open: bool, now_ms: i64) {
        if open && !self.market_open {
            self.opened_at_ms = Some(now_ms);
        }
        self.market_open = open;
        if !open {
            self.state = WatchState::Watching;
        }
    }

    /// Whether the market is considered open.
    pub fn market_open(&self) -> bool {
        self.market_open
    }

    /// Checks the silence at `now_ms` (epoch began at `epoch_start_ms`); returns true
    /// when a forced photo should be requested now.
    pub fn poll(&mut self, now_ms: i64, epoch_start_ms: i64) -> bool {
        if !self.market_open {
            return false;
        }
        let stale = self.config.stale_after_ms;
        match self.state {
            WatchState::Watching => {
                if self.silence_ms(now_ms, epoch_start_ms) < stale {
                    return false;
                }
                self.state = WatchState::Awaiting {
                    requested_at_ms: now_ms,
                    starts_epoch: true,
                    backoff_ms: stale * 2,
                };
                true
            }
            WatchState::Awaiting {
                requested_at_ms,
                starts_epoch,
                backoff_ms,
            } => {
                if now_ms - requested_at_ms < backoff_ms {
                    return false;
                }
                self.state = WatchState::Awaiting {
                    requested_at_ms: now_ms,
                    starts_epoch,
                    backoff_ms: self.grow(backoff_ms),
                };
                true
            }
            WatchState::Quiet {
                next_at_ms,
                backoff_ms,
            } => {
                if now_ms < next_at_ms {
                    return false;
                }
                self.state = WatchState::Awaiting {
                    requested_at_ms: now_ms,
                    starts_epoch: false,
                    backoff_ms: self.grow(backoff_ms),
                };
                true
            }
        }
    }

    /// A photo taken at `taken_at_ms` was accepted at `now_ms`: is it the forced one?
    pub(crate) fn photo_arrived(&mut self, taken_at_ms: i64, now_ms: i64) -> PhotoVerdict {
        match self.state {
            WatchState::Awaiting {
                requested_at_ms,
                starts_epoch,
                backoff_ms,
            } if taken_at_ms >= requested_at_ms => {
                let resumed = self.last_live_ms.is_some_and(|t| t >= requested_at_ms);
                self.state = if resumed {
                    WatchState::Watching
                } else {
                    WatchState::Quiet {
                        next_at_ms: now_ms + backoff_ms,
                        backoff_ms,
                    }
                };
                PhotoVerdict::Forced { starts_epoch }
            }
            _ => PhotoVerdict::Routine,
        }
    }

    fn grow(&self, backoff_ms: i64) -> i64 {
        (backoff_ms * 2)
            .min(self.config.max_backoff_ms)
            .max(self.config.stale_after_ms)
    }
}

//! The engine of one underlying: photos in, epochs out; quotes in, dirty contracts out.
//!
//! The engine is synchronous and owns all of its underlying's state, so it runs in one
//! task with no locks (one writer per underlying). It takes events and the current time
//! as arguments and returns what happened as values — a new epoch, a held photo, a
//! forced-photo request — leaving every effect (loading a chain, writing Redis) to the
//! caller.

use chainboard_model::{
    AggregateUpdate, ChainContract, ChainPhoto, ContractKey, ContractState, EpochId, EpochReason,
    QuoteUpdate, RejectTally, TradeUpdate, Underlying,
};
use jiff::tz::TimeZone;

use chainboard_model::flow::FlowConfig;

use crate::board::{Board, GeometryDiff, Slot};
use crate::epoch::{DirtyConsumer, Epoch};
use crate::flow::{Flow, FlowStats, Session};
use crate::watchdog::{PhotoVerdict, WatchState, Watchdog, WatchdogConfig};

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Feed silence handling.
    pub watchdog: WatchdogConfig,
    /// A photo that would shrink the board by more than this fraction (default 0.2) is
    /// held until the next photo confirms it: a truncated load must not wipe strikes.
    pub shrink_guard: f64,
    /// The sequence number of this engine's first epoch. A restarted service resumes
    /// after the last id it finds in the store so ids keep increasing.
    pub first_seq: u32,
    /// How trades are signed into customer flow.
    pub flow: FlowConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            watchdog: WatchdogConfig::default(),
            shrink_guard: 0.2,
            first_seq: 1,
            flow: FlowConfig::default(),
        }
    }
}

/// Why the engine wants a fresh photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoReason {
    /// The feed has been silent for `stale_after`.
    StaleFeed,
    /// The live feed had a gap (disconnect, dropped frames): prices may be missing.
    FeedGap,
    /// An operator asked for a new epoch.
    Manual,
}

/// A request for the chain loader to take a photo now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoRequest {
    /// Whose chain.
    pub underlying: Underlying,
    /// Why.
    pub reason: PhotoReason,
    /// When the request was made, Unix ms; a photo taken before this does not answer it.
    pub requested_at_ms: i64,
}

/// A new epoch began.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStarted {
    /// Its id.
    pub id: EpochId,
    /// Why it began.
    pub reason: EpochReason,
    /// The epoch it replaced.
    pub previous: Option<EpochId>,
    /// Contracts on the new board.
    pub contracts: usize,
    /// What changed against the previous board (empty for a stale or manual epoch on
    /// unchanged geometry; everything "added" at startup).
    pub diff: GeometryDiff,
}

/// What a photo did.
#[derive(Debug, Clone, PartialEq)]
pub enum PhotoOutcome {
    /// It started a new epoch.
    Started(EpochStarted),
    /// Same geometry: slow fields (and newer prices) were refreshed in place.
    Refreshed {
        /// The active epoch.
        id: EpochId,
        /// Contracts whose fields changed.
        changed: usize,
    },
    /// It would shrink the board beyond the guard and is held for confirmation.
    Held {
        /// Contracts on the active board.
        active: usize,
        /// Contracts in the held photo.
        proposed: usize,
    },
    /// It cannot be used.
    Rejected(PhotoRejection),
}

/// Why a photo was refused outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoRejection {
    /// It is another underlying's chain.
    WrongUnderlying {
        /// This engine's underlying.
        expected: Underlying,
        /// The photo's.
        got: Underlying,
    },
    /// It holds no contracts: an empty board is never an epoch.
    Empty,
    /// It was taken before the newest photo already accepted (a slow load that lost a
    /// race with a faster one): applying it would roll the board back.
    OutOfOrder {
        /// When this photo was taken, Unix ms.
        taken_at_ms: i64,
        /// When the newest accepted photo was taken, Unix ms.
        newest_ms: i64,
    },
}

/// What happened to one live update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hydration {
    /// Painted on its contract.
    Applied,
    /// The contract is not on the board: ignored, counted as `geometry_miss`.
    GeometryMiss,
    /// No epoch yet (no photo has arrived): ignored, counted.
    NoEpoch,
}

/// Counters an operator reads to see what the engine did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Quotes painted on a contract.
    pub quotes: u64,
    /// Trades painted on a contract.
    pub trades: u64,
    /// Aggregates painted on a contract.
    pub aggregates: u64,
    /// Live updates for contracts not on the board.
    pub geometry_miss: u64,
    /// Live updates that arrived before the first epoch.
    pub no_epoch: u64,
    /// Photos that refreshed the board in place.
    pub refreshes: u64,
    /// Photos held by the shrink guard.
    pub held: u64,
    /// Photos refused.
    pub rejected_photos: u64,
    /// Contracts of other underlyings found inside a photo and dropped.
    pub foreign_contracts: u64,
    /// Duplicate keys found inside a photo (the first one kept).
    pub duplicate_contracts: u64,
    /// Forced photos requested.
    pub photo_requests: u64,
    /// Epochs begun, by [`EpochReason`] in the order of [`EpochReason::ALL`].
    pub epochs: [u64; 5],
}

impl EngineStats {
    /// Epochs begun for `reason`.
    pub fn epochs_for(&self, reason: EpochReason) -> u64 {
        self.epochs[reason as usize]
    }
}

/// A photo held by the shrink guard.
#[derive(Debug)]
struct Held {
    contracts: Vec<ChainContract>,
}

/// The epoch engine of one underlying.
#[derive(Debug)]
pub struct Engine {
    underlying: Underlying,
    config: EngineConfig,
    active: Option<Epoch>,
    next_seq: u32,
    held: Option<Held>,
    watchdog: Watchdog,
    /// A manual epoch was asked for at this time; the next photo taken after it starts
    /// one.
    manual_requested_at_ms: Option<i64>,
    /// When the newest accepted photo was taken; older photos are refused.
    newest_photo_ms: Option<i64>,
    stats: EngineStats,
    last_rejected: RejectTally,
    /// Dirty sets beyond the default one that every epoch carries.
    extra_consumers: u8,
    /// Why the first epoch begins, and the epoch it follows ([`Engine::resume_after`]).
    first_reason: EpochReason,
    resumed_from: Option<EpochId>,
    /// The session's customer flow: its rule, session and counts.
    flow: Flow,
}

impl Engine {
    /// An engine with no epoch yet; the first accepted photo starts one (`startup`).
    pub fn new(underlying: Underlying, config: EngineConfig) -> Self {
        Self {
            underlying,
            config,
            active: None,
            next_seq: config.first_seq,
            held: None,
            watchdog: Watchdog::new(config.watchdog),
            manual_requested_at_ms: None,
            newest_photo_ms: None,
            stats: EngineStats::default(),
            last_rejected: RejectTally::default(),
            extra_consumers: 0,
            first_reason: EpochReason::Startup,
            resumed_from: None,
            flow: Flow::new(config.flow),
        }
    }

    /// Continues the board another process (or an earlier run) left in the store,
    /// whose current epoch was `last` (if it left one): ids go on after its seq, so
    /// they keep increasing across processes, and the first epoch names it as
    /// `previous` and begins for `reason` (`failover` when its lease was taken over,
    /// `startup` after a clean hand-over).
    pub fn resume_after(mut self, last: Option<EpochId>, reason: EpochReason) -> Self {
        if let Some(last) = last {
            self.next_seq = self.next_seq.max(last.seq.saturating_add(1));
        }
        self.first_reason = reason;
        self.resumed_from = last;
        self
    }

    /// Registers one more consumer of changed contracts, with its own dirty set in
    /// this and every later epoch; `None` past 255 consumers. A consumer that joins
    /// mid-epoch starts with an empty set: it reads the whole board once itself.
    pub fn add_dirty_consumer(&mut self) -> Option<DirtyConsumer> {
        self.extra_consumers = self.extra_consumers.checked_add(1)?;
        if let Some(epoch) = self.active.as_mut() {
            epoch.add_dirty_set();
        }
        Some(DirtyConsumer(self.extra_consumers))
    }

    /// Whose board this is.
    pub fn underlying(&self) -> Underlying {
        self.underlying
    }

    /// The active epoch, if any photo has been accepted.
    pub fn epoch(&self) -> Option<&Epoch> {
        self.active.as_ref()
    }

    /// The active epoch, mutably (to drain its dirty set).
    pub fn epoch_mut(&mut self) -> Option<&mut Epoch> {
        self.active.as_mut()
    }

    /// Counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// What the session's flow saw.
    pub fn flow_stats(&self) -> &FlowStats {
        &self.flow.stats
    }

    /// The session flow is counted for, once set.
    pub fn session(&self) -> Option<Session> {
        self.flow.session
    }

    /// Sets the trading session trades are signed for. A session of another date
    /// starts every contract's flow, and the flow counts, at zero; the same session
    /// again changes nothing. Returns whether the session changed.
    pub fn set_session(&mut self, session: Session) -> bool {
        if self.flow.session.is_some_and(|s| s.date == session.date) {
            self.flow.session = Some(session);
            return false;
        }
        let was = self.flow.session.replace(session);
        if was.is_some() {
            self.flow.stats = FlowStats::default();
            if let Some(epoch) = self.active.as_mut() {
                epoch.reset_flow();
            }
        }
        true
    }

    /// Rejections the normalizer reported with the last accepted photo.
    pub fn last_rejected(&self) -> &RejectTally {
        &self.last_rejected
    }

    /// The watchdog's state.
    pub fn watch_state(&self) -> WatchState {
        self.watchdog.state()
    }

    /// Feed silence at `now_ms`, ms.
    pub fn feed_silence_ms(&self, now_ms: i64) -> i64 {
        let since = self.active.as_ref().map_or(now_ms, Epoch::started_at_ms);
        self.watchdog.silence_ms(now_ms, since)
    }

    /// Takes a chain photo at `now_ms`: same geometry refreshes in place, different
    /// geometry (or a pending forced or manual request) starts a new epoch, a large
    /// shrink is held until confirmed.
    pub fn on_photo(&mut self, photo: ChainPhoto, now_ms: i64) -> PhotoOutcome {
        if photo.underlying != self.underlying {
            self.stats.rejected_photos += 1;
            return PhotoOutcome::Rejected(PhotoRejection::WrongUnderlying {
                expected: self.underlying,
                got: photo.underlying,
            });
        }
        let taken_at_ms = photo.taken_at_ms;
        if let Some(newest_ms) = self.newest_photo_ms.filter(|&newest| taken_at_ms < newest) {
            self.stats.rejected_photos += 1;
            return PhotoOutcome::Rejected(PhotoRejection::OutOfOrder {
                taken_at_ms,
                newest_ms,
            });
        }
        let underlying_value = photo.underlying_value.map(|v| (v, taken_at_ms));
        let rejected = photo.rejected;
        let contracts = self.canonical(photo.contracts);
        if contracts.is_empty() {
            self.stats.rejected_photos += 1;
            return PhotoOutcome::Rejected(PhotoRejection::Empty);
        }

        let Some(active) = &self.active else {
            // Requests made before the first photo are answered by it.
            self.watchdog.photo_arrived(taken_at_ms, now_ms);
            if self
                .manual_requested_at_ms
                .is_some_and(|t| taken_at_ms >= t)
            {
                self.manual_requested_at_ms = None;
            }
            self.last_rejected = rejected;
            self.newest_photo_ms = Some(taken_at_ms);
            let started = self.start_epoch(self.first_reason, contracts, underlying_value, now_ms);
            return PhotoOutcome::Started(started);
        };

        let same_geometry = active
            .board()
            .has_keys(contracts.iter().map(|c| c.geometry.key));
        if !same_geometry {
            let shrink = 1.0 - contracts.len() as f64 / active.len() as f64;
            if shrink > self.config.shrink_guard && !self.confirms_held(&contracts) {
                self.stats.held += 1;
                let outcome = PhotoOutcome::Held {
                    active: active.len(),
                    proposed: contracts.len(),
                };
                self.held = Some(Held { contracts });
                return outcome;
            }
        }
        self.held = None;
        self.last_rejected = rejected;
        self.newest_photo_ms = Some(taken_at_ms);

        let forced = self.watchdog.photo_arrived(taken_at_ms, now_ms);
        let manual = self
            .manual_requested_at_ms
            .is_some_and(|t| taken_at_ms >= t);
        let reason = if manual {
            self.manual_requested_at_ms = None;
            Some(EpochReason::Manual)
        } else if !same_geometry {
            Some(EpochReason::GeometryChange)
        } else if forced == (PhotoVerdict::Forced { starts_epoch: true }) {
            Some(EpochReason::StaleFeed)
        } else {
            None
        };

        match reason {
            Some(reason) => {
                PhotoOutcome::Started(self.start_epoch(reason, contracts, underlying_value, now_ms))
            }
            None => {
                let Some(active) = self.active.as_mut() else {
                    unreachable!("checked above that an epoch is active")
                };
                let states: Vec<ContractState> = contracts.into_iter().map(|c| c.state).collect();
                let changed = active.refresh(&states, taken_at_ms);
                if let Some((v, t)) = underlying_value {
                    active.set_underlying_value(v, t);
                }
                self.stats.refreshes += 1;
                PhotoOutcome::Refreshed {
                    id: active.id(),
                    changed,
                }
            }
        }
    }

    /// Applies a live quote to its contract (existing contracts only; price, size and
    /// time fields only; last write wins).
    #[inline]
    pub fn apply_quote(&mut self, key: &ContractKey, quote: &QuoteUpdate) -> Hydration {
        self.hydrate(
            key,
            |epoch, slot, _| epoch.apply_quote(slot, quote),
            |s| &mut s.quotes,
        )
    }

    /// Applies a live trade to its contract.
    #[inline]
    pub fn apply_trade(&mut self, key: &ContractKey, trade: &TradeUpdate) -> Hydration {
        self.hydrate(
            key,
            |epoch, slot, flow| epoch.apply_trade(slot, trade, flow),
            |s| &mut s.trades,
        )
    }

    /// Applies a live quote to the contract whose Massive ticker is `ticker`, if it is
    /// on the active board, and returns `true`, with the same effect and count as
    /// [`Engine::apply_quote`] on its key. `false` changes and counts nothing: the
    /// caller parses the ticker and calls [`Engine::apply_quote`], which knows why
    /// (not on the board, no epoch). The feed's hot path: a listed contract costs a
    /// hash of the ticker's bytes instead of parsing it.
    #[inline]
    pub fn apply_quote_listed(&mut self, ticker: &[u8], quote: &QuoteUpdate) -> bool {
        self.hydrate_listed(
            ticker,
            |epoch, slot, _| epoch.apply_quote(slot, quote),
            |s| &mut s.quotes,
        )
    }

    /// As [`Engine::apply_quote_listed`], for a trade.
    #[inline]
    pub fn apply_trade_listed(&mut self, ticker: &[u8], trade: &TradeUpdate) -> bool {
        self.hydrate_listed(
            ticker,
            |epoch, slot, flow| epoch.apply_trade(slot, trade, flow),
            |s| &mut s.trades,
        )
    }

    /// Applies an aggregate's day volume to its contract.
    pub fn apply_aggregate(&mut self, key: &ContractKey, aggregate: &AggregateUpdate) -> Hydration {
        self.hydrate(
            key,
            |epoch, slot, _| epoch.apply_aggregate(slot, aggregate),
            |s| &mut s.aggregates,
        )
    }

    /// Finds `key` on the active board and applies an update there, counting it in
    /// `applied` — or counts a `geometry_miss`, or an update before any epoch.
    #[inline]
    fn hydrate(
        &mut self,
        key: &ContractKey,
        apply: impl FnOnce(&mut Epoch, Slot, &mut Flow),
        applied: fn(&mut EngineStats) -> &mut u64,
    ) -> Hydration {
        let Some(epoch) = self.active.as_mut() else {
            self.stats.no_epoch += 1;
            return Hydration::NoEpoch;
        };
        match epoch.board().slot(key) {
            Some(slot) => {
                apply(epoch, slot, &mut self.flow);
                *applied(&mut self.stats) += 1;
                Hydration::Applied
            }
            None => {
                self.stats.geometry_miss += 1;
                Hydration::GeometryMiss
            }
        }
    }

    /// [`Engine::hydrate`] by ticker, for contracts on the active board only.
    #[inline]
    fn hydrate_listed(
        &mut self,
        ticker: &[u8],
        apply: impl FnOnce(&mut Epoch, Slot, &mut Flow),
        applied: fn(&mut EngineStats) -> &mut u64,
    ) -> bool {
        let Some(epoch) = self.active.as_mut() else {
            return false;
        };
        let Some(slot) = epoch.board().ticker_slot(ticker) else {
            return false;
        };
        apply(epoch, slot, &mut self.flow);
        *applied(&mut self.stats) += 1;
        true
    }

    /// The underlying's value from the indices feed (`V`); an older value than the one
    /// held is ignored.
    pub fn set_underlying_value(&mut self, value: f64, ts_ms: i64) {
        if let Some(epoch) = self.active.as_mut() {
            epoch.set_underlying_value(value, ts_ms);
        }
    }

    /// A live message for this underlying arrived at `now_ms` (call once per frame).
    #[inline]
    pub fn observe_live(&mut self, now_ms: i64) {
        self.watchdog.observe_live(now_ms);
    }

    /// Whether the market is open (from Massive's market status), as of `now_ms`;
    /// while closed, silence asks for no photos, and on opening the feed gets a full
    /// `stale_after` before its silence counts.
    pub fn set_market_open(&mut self, open: bool, now_ms: i64) {
        self.watchdog.set_market_open(open, now_ms);
    }

    /// Runs the watchdog at `now_ms`; returns a forced-photo request when due.
    pub fn poll(&mut self, now_ms: i64) -> Option<PhotoRequest> {
        let started = self.active.as_ref()?.started_at_ms();
        self.watchdog
            .poll(now_ms, started)
            .then(|| self.photo_request(PhotoReason::StaleFeed, now_ms))
    }

    /// The live feed had a gap (disconnect, overflow): ask for a photo so missed
    /// prices are repainted. The photo refreshes in place unless geometry changed.
    pub fn on_feed_gap(&mut self, now_ms: i64) -> PhotoRequest {
        self.photo_request(PhotoReason::FeedGap, now_ms)
    }

    /// An operator asked for a new epoch: the next photo taken after `now_ms` starts
    /// one with reason `manual`.
    pub fn request_manual_epoch(&mut self, now_ms: i64) -> PhotoRequest {
        self.manual_requested_at_ms = Some(now_ms);
        self.photo_request(PhotoReason::Manual, now_ms)
    }

    fn photo_request(&mut self, reason: PhotoReason, now_ms: i64) -> PhotoRequest {
        self.stats.photo_requests += 1;
        PhotoRequest {
            underlying: self.underlying,
            reason,
            requested_at_ms: now_ms,
        }
    }

    /// Sorts a photo by key, keeps the first of any duplicate key (as the chain
    /// assembler does) and drops contracts of other underlyings, counting both.
    fn canonical(&mut self, mut contracts: Vec<ChainContract>) -> Vec<ChainContract> {
        let before = contracts.len();
        contracts.retain(|c| c.geometry.underlying == self.underlying);
        self.stats.foreign_contracts += (before - contracts.len()) as u64;
        // Stable sort keeps page order among equal keys, so dedup keeps the first received.
        contracts.sort_by_key(|c| c.geometry.key);
        let before = contracts.len();
        contracts.dedup_by_key(|c| c.geometry.key);
        self.stats.duplicate_contracts += (before - contracts.len()) as u64;
        contracts
    }

    /// Whether `contracts` has the same geometry as the held photo (the confirmation).
    fn confirms_held(&self, contracts: &[ChainContract]) -> bool {
        self.held.as_ref().is_some_and(|h| {
            h.contracts.len() == contracts.len()
                && h.contracts
                    .iter()
                    .zip(contracts)
                    .all(|(a, b)| a.geometry.key == b.geometry.key)
        })
    }

    fn start_epoch(
        &mut self,
        reason: EpochReason,
        contracts: Vec<ChainContract>,
        underlying_value: Option<(f64, i64)>,
        now_ms: i64,
    ) -> EpochStarted {
        let (geometry, states): (Vec<_>, Vec<_>) =
            contracts.into_iter().map(|c| (c.geometry, c.state)).unzip();
        let diff = match &self.active {
            Some(old) => old.board().diff(&geometry),
            None => GeometryDiff {
                added: geometry.iter().map(|g| g.key).collect(),
                removed: Vec::new(),
            },
        };
        let Ok(board) = Board::from_sorted(geometry) else {
            unreachable!("canonical() sorted and deduplicated the photo")
        };
        let id = EpochId {
            underlying: self.underlying,
            date: utc_date(now_ms),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let previous = self.active.as_ref().map(Epoch::id).or(self.resumed_from);
        let mut epoch = Epoch::new(
            id,
            reason,
            previous,
            now_ms,
            board,
            states,
            underlying_value,
        );
        if let Some(old) = &self.active {
            epoch.carry_flow_from(old);
        }
        for _ in 0..self.extra_consumers {
            epoch.add_dirty_set();
        }
        let started = EpochStarted {
            id,
            reason,
            previous,
            contracts: epoch.len(),
            diff,
        };
        self.active = Some(epoch);
        self.stats.epochs[reason as usize] += 1;
        started
    }
}

/// The UTC calendar date of a Unix-ms instant (pure arithmetic: no clock, no tz data).
fn utc_date(ms: i64) -> jiff::civil::Date {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| TimeZone::UTC.to_datetime(t).date())
        .unwrap_or(jiff::civil::Date::ZERO)
}

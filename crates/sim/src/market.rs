//! A live market of several index option chains: what the fake Massive server serves.
//!
//! A [`SimChain`] is one photo and a [`QuoteTraffic`] one stream of quotes on a fixed
//! listing. A real market is both at once and it changes shape while it trades: the
//! index wanders, exchanges list new strikes when it has moved away from where the
//! strikes were listed, and expirations settle and leave the chain. [`Market`] runs
//! that for several underlyings (SPX and NDX on one options socket, as Massive does)
//! and keeps, per contract, the latest quote and trade it produced, so that a chain
//! photo ([`Market::photo`]) shows exactly what the live feed last said, with its
//! timestamps — the consistency chainboard's epoch engine is built to check.
//!
//! Like the rest of the simulator it is pure and deterministic: no clock, no tasks.
//! The caller passes the time to [`Market::step`]; the same config and the same
//! sequence of calls give the same events, byte for byte.
//!
//! Each index reverts around its chain's own zero-gamma flip, with occasional trends
//! ([`SpotPath`]), so a few minutes of the demo show both gamma regimes.
//!
//! Simplifications, on purpose: a contract's time to expiry and volatility stay as
//! they were when it was listed (prices move with the index, not with the clock), and
//! no new expirations are listed as days pass.

use std::sync::Arc;

use chainboard_model::{ContractKey, Settlement, Underlying};
use chainboard_quant::levels::FlipSearch;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use chainboard_quant::expiry;

use crate::chain::{ChainConfig, SimChain, SimContract, SimDay, SimExpiry, SimTrade};
use crate::path::PathState;
pub use crate::path::SpotPath;
use crate::positioning;
use crate::rest::snapshot_page;
use crate::tape::TrueFlow;
use crate::ticks;
use crate::traffic::{EventKind, QuoteTraffic, TrafficConfig, TrafficEvent};

// The exchange's clock (time zone, closes, settlement moments) is defined once, in
// `chainboard_quant::expiry`: the simulator settles contracts when the models say
// they settle.
pub use chainboard_quant::expiry::{EXCHANGE_TZ, exchange_time_zone};

const MS_PER_DAY: i64 = 86_400_000;

/// The chain shape for `underlying`: [`ChainConfig::spx_like`] for SPX,
/// [`ChainConfig::ndx_like`] for NDX, and for any other index an SPX-shaped chain at
/// spot 1000 with roots `<name>` (AM) and `<name>W` (PM). `None` if the name cannot be
/// an OCC root (more than five letters, or not letters).
pub fn chain_config_for(underlying: Underlying, today: Date, seed: u64) -> Option<ChainConfig> {
    match underlying.as_str() {
        "SPX" => Some(ChainConfig::spx_like(today, seed)),
        "NDX" => Some(ChainConfig::ndx_like(today, seed)),
        name => {
            let monthly_root = chainboard_model::Root::new(name).ok()?;
            let weekly_root = chainboard_model::Root::new(&format!("{name}W")).ok()?;
            Some(ChainConfig {
                underlying,
                monthly_root,
                weekly_root,
                spot: 1_000.0,
                ..ChainConfig::spx_like(today, seed)
            })
        }
    }
}

/// What the market looks like and how it moves.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    /// One chain per underlying, in the order [`Market`] numbers its books.
    pub chains: Vec<ChainConfig>,
    /// The quote and trade stream of every chain. Its `miss_fraction` should stay
    /// zero: a vendor does not send quotes for contracts it does not list.
    pub traffic: TrafficConfig,
    /// Seed of the index paths, the traffic and the listings.
    pub seed: u64,
    /// How each index moves: around its zero-gamma flip (see [`SpotPath`]).
    pub path: SpotPath,
    /// How far, as a fraction of the level the strikes were listed at, the index must
    /// move before new strikes are listed around it (0.015 = 1.5%).
    pub relist_move: f64,
    /// How far from spot, as a fraction, [`Market::list_strikes`] lists midpoint
    /// strikes (0.005 = ±0.5%, where the traffic is).
    pub midpoint_reach: f64,
    /// The exchanges' time zone, for settlement times; see [`exchange_time_zone`].
    pub time_zone: TimeZone,
}

impl MarketConfig {
    /// A market of `chains` with default dynamics.
    pub fn new(chains: Vec<ChainConfig>, seed: u64) -> Self {
        Self {
            chains,
            // One event in a hundred a trade: at the fake's 4,000 events a second per
            // underlying, about 40 prints and 500 contracts a second, some twice the
            // pace of SPX's 4.6 million contracts a day (docs/simulator.md); the
            // benchmarks' traffic prints five times as often.
            traffic: TrafficConfig {
                trade_fraction: 0.01,
                ..TrafficConfig::default()
            },
            seed,
            path: SpotPath::default(),
            relist_move: 0.015,
            midpoint_reach: 0.005,
            time_zone: exchange_time_zone(),
        }
    }

    /// A market of the chains [`chain_config_for`] gives for `underlyings`, on trading
    /// day `today`, photographed at `start_ms` (Unix milliseconds): each chain's
    /// [`ChainConfig::hours_to_close`] is the time from the market's clock at
    /// `start_ms` (see [`Market::new`]) to `today`'s close (at least a minute): hours
    /// during a session, days over a weekend. `None` if an underlying has no chain
    /// shape.
    pub fn for_underlyings(
        underlyings: &[Underlying],
        today: Date,
        seed: u64,
        start_ms: i64,
    ) -> Option<Self> {
        let time_zone = exchange_time_zone();
        let clock_ms = start_ms + day_offset(today, start_ms, &time_zone) * MS_PER_DAY;
        let close_ms =
            expiry::settlement_ms(today, Settlement::PmClose, &time_zone).unwrap_or(clock_ms);
        let hours_to_close = ((close_ms - clock_ms) as f64 / 3_600_000.0).max(1.0 / 60.0);
        let chains = underlyings
            .iter()
            .enumerate()
            .map(|(i, &u)| {
                let mut config = chain_config_for(u, today, mix(seed, i as u64))?;
                config.hours_to_close = hours_to_close;
                Some(config)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            time_zone,
            ..Self::new(chains, seed)
        })
    }
}

/// One event of the market: a quote or trade of a contract of one book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketEvent {
    /// Which underlying's book (the index in [`MarketConfig::chains`]).
    pub book: usize,
    /// The event; `event.contract` indexes the book's current listing.
    pub event: TrafficEvent,
}

/// What a [`Market::step`] changed besides prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Contracts listed because an index moved away from its listing level.
    pub listed: usize,
    /// Contracts removed because their expiration settled.
    pub expired: usize,
}

/// An index's session so far, for the indices snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Session {
    /// Level now.
    pub value: f64,
    /// Level when the market was created.
    pub open: f64,
    /// Highest level seen.
    pub high: f64,
    /// Lowest level seen.
    pub low: f64,
    /// The previous close `change` is measured from (the chain's generation spot).
    pub previous_close: f64,
}

/// Counters of one book's listing changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookStats {
    /// Listing events that added contracts (moves and on-demand listings).
    pub listings: u64,
    /// Contracts added by them.
    pub listed_contracts: u64,
    /// Contracts removed at settlement.
    pub expired_contracts: u64,
    /// Bumped on every change of the set of contracts.
    pub geometry_version: u64,
    /// The true customer flow of the prints on listed contracts.
    pub true_flow: TrueFlow,
}

/// The latest market fields of one contract, with absolute timestamps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LiveFields {
    bid_cents: u32,
    ask_cents: u32,
    bid_size: u32,
    ask_size: u32,
    quote_ts_ms: i64,
    /// The latest trade, its `age_ms` unused; `trade_ts_ms` is when it printed.
    trade: Option<SimTrade>,
    trade_ts_ms: i64,
    day: Option<SimDay>,
}

impl LiveFields {
    /// A newly listed (or generated) contract's fields, its ages turned into times
    /// before `now_ms`.
    fn listed(c: &SimContract, now_ms: i64) -> Self {
        Self {
            bid_cents: c.bid_cents,
            ask_cents: c.ask_cents,
            bid_size: c.bid_size,
            ask_size: c.ask_size,
            quote_ts_ms: now_ms - c.quote_age_ms,
            trade: c.last_trade,
            trade_ts_ms: now_ms - c.last_trade.map_or(0, |t| t.age_ms),
            day: c.day,
        }
    }

    fn apply(&mut self, kind: EventKind, exchange: u16, now_ms: i64) {
        match kind {
            EventKind::Quote {
                bid_cents,
                ask_cents,
                bid_size,
                ask_size,
            } => {
                (self.bid_cents, self.ask_cents) = (bid_cents, ask_cents);
                (self.bid_size, self.ask_size) = (bid_size, ask_size);
                self.quote_ts_ms = now_ms;
            }
            EventKind::Trade {
                price_cents,
                size,
                condition,
                ..
            } => {
                self.trade = Some(SimTrade {
                    price_cents,
                    size,
                    age_ms: 0,
                    exchange,
                    condition,
                });
                self.trade_ts_ms = now_ms;
                let price = ticks::points(price_cents);
                self.day = Some(match self.day {
                    Some(d) => {
                        let volume = d.volume + u64::from(size);
                        let vwap = (d.vwap * d.volume as f64 + price * f64::from(size))
                            / volume.max(1) as f64;
                        SimDay {
                            open_cents: if d.volume == 0 {
                                price_cents
                            } else {
                                d.open_cents
                            },
                            high_cents: d.high_cents.max(price_cents),
                            low_cents: d.low_cents.min(price_cents),
                            close_cents: price_cents,
                            vwap: ticks::round_cents(vwap),
                            volume,
                            ..d
                        }
                    }
                    None => SimDay {
                        open_cents: price_cents,
                        high_cents: price_cents,
                        low_cents: price_cents,
                        close_cents: price_cents,
                        previous_close_cents: price_cents,
                        vwap: price,
                        volume: u64::from(size),
                    },
                });
            }
        }
    }
}

/// One underlying: its chain, its traffic and the live fields of each contract.
#[derive(Debug, Clone)]
struct Book {
    chain: SimChain,
    traffic: QuoteTraffic,
    /// Parallel to `chain.contracts()`.
    live: Vec<LiveFields>,
    /// The index path's own stream, so that a listing change in one book does not
    /// shift another book's randomness.
    rng: ChaCha8Rng,
    seed: u64,
    spot: f64,
    path: PathState,
    /// The level the strikes were last listed around.
    listed_at: f64,
    session: Session,
    stats: BookStats,
}

impl Book {
    fn new(config: ChainConfig, traffic: TrafficConfig, seed: u64, now_ms: i64) -> Self {
        let chain = SimChain::generate(config);
        let traffic = QuoteTraffic::with_config(&chain, mix(seed, 1), traffic);
        let live = chain
            .contracts()
            .iter()
            .map(|c| LiveFields::listed(c, now_ms))
            .collect();
        let spot = chain.spot();
        let anchor = positioning::gamma_profile(&chain)
            .zero_gamma(spot, &FlipSearch::default())
            .map_or(spot, |flip| flip.level);
        Self {
            chain,
            traffic,
            live,
            rng: ChaCha8Rng::seed_from_u64(mix(seed, 2)),
            seed,
            spot,
            path: PathState {
                anchor,
                target: 0.0,
                trend_until_ms: None,
            },
            listed_at: spot,
            session: Session {
                value: spot,
                open: spot,
                high: spot,
                low: spot,
                previous_close: spot,
            },
            stats: BookStats::default(),
        }
    }

    /// After the listing changed: carries every surviving contract's live fields over
    /// by ticker, and rebuilds the traffic on the new listing from the live books.
    fn relisted(&mut self, before: &[SimContract], before_live: &[LiveFields], now_ms: i64) {
        self.live = self
            .chain
            .contracts()
            .iter()
            .map(|c| {
                before
                    .binary_search_by(|o| o.ticker.as_str().cmp(&c.ticker))
                    .ok()
                    .and_then(|i| before_live.get(i).copied())
                    .unwrap_or_else(|| LiveFields::listed(c, now_ms))
            })
            .collect();
        self.traffic.relist(&self.chain);
        for (i, l) in self.live.iter().enumerate() {
            self.traffic.set_book(i, l.bid_cents, l.ask_cents);
        }
        self.stats.geometry_version += 1;
    }

    /// Runs a listing change `change` (returning the contracts it added or removed)
    /// and, if it changed anything, carries the live state across.
    fn change_listing(
        &mut self,
        now_ms: i64,
        change: impl FnOnce(&mut SimChain) -> usize,
    ) -> usize {
        let before = self.chain.shared_contracts();
        let before_live = std::mem::take(&mut self.live);
        let changed = change(&mut self.chain);
        if changed == 0 {
            self.live = before_live;
        } else {
            self.relisted(&before, &before_live, now_ms);
        }
        changed
    }

    fn list_around_spot(&mut self, now_ms: i64) -> usize {
        let (spot, seed) = (self.spot, mix(self.seed, 100 + self.stats.listings));
        self.listed_at = spot;
        let added = self.change_listing(now_ms, |chain| chain.list_strikes_around(spot, seed));
        self.count_listing(added);
        added
    }

    fn count_listing(&mut self, added: usize) {
        if added > 0 {
            self.stats.listings += 1;
            self.stats.listed_contracts += added as u64;
        }
    }
}

/// A deterministic live market of several index option chains. See the module docs.
#[derive(Debug, Clone)]
pub struct Market {
    books: Vec<Book>,
    path: SpotPath,
    relist_move: f64,
    midpoint_reach: f64,
    time_zone: TimeZone,
    /// Whole days added to the wall clock's New York date so that the market's date
    /// is its chains' `today` (zero unless a test pins `today` to another date).
    day_offset: i64,
    last_ms: i64,
    /// Reused buffer of one book's events.
    scratch: Vec<TrafficEvent>,
}

impl Market {
    /// Generates every chain of `config` and starts the market at `start_ms` (Unix
    /// milliseconds). The market's calendar is the wall clock shifted by whole days so
    /// that `start_ms` falls in the session of the chains' `today` (the first
    /// chain's): no shift when `today` is the exchange's session date at `start_ms`
    /// ([`expiry::session_date`]: today before the close, else the next trading day).
    pub fn new(config: MarketConfig, start_ms: i64) -> Self {
        let day_offset = config
            .chains
            .first()
            .map_or(0, |c| day_offset(c.today, start_ms, &config.time_zone));
        let books = config
            .chains
            .into_iter()
            .enumerate()
            .map(|(i, chain)| {
                Book::new(chain, config.traffic, mix(config.seed, i as u64), start_ms)
            })
            .collect();
        let mut market = Self {
            books,
            path: config.path,
            relist_move: config.relist_move,
            midpoint_reach: config.midpoint_reach,
            time_zone: config.time_zone,
            day_offset,
            last_ms: start_ms,
            scratch: Vec::new(),
        };
        // A market started after a settlement time never shows what has settled.
        market.settle(start_ms);
        market
    }

    /// Removes every expiration settled by `now_ms`; returns the contracts removed.
    fn settle(&mut self, now_ms: i64) -> usize {
        let clock = self.local_datetime(now_ms);
        let mut removed = 0;
        for book in &mut self.books {
            let expired = book.change_listing(now_ms, |chain| {
                chain.remove_expired(|e| has_settled(e, clock))
            });
            book.stats.expired_contracts += expired as u64;
            removed += expired;
        }
        removed
    }

    /// Advances the market to `now_ms`: settles expirations whose settlement time has
    /// passed, moves each index along its path, lists strikes around an index that has
    /// moved beyond [`MarketConfig::relist_move`], then draws `events_per_book`
    /// quotes and trades per underlying and appends them to `out`, each applied to the
    /// live state first (so a photo taken after this step shows them).
    ///
    /// Time never runs backwards: a `now_ms` before the last step moves nothing.
    pub fn step(
        &mut self,
        now_ms: i64,
        events_per_book: usize,
        out: &mut Vec<MarketEvent>,
    ) -> StepReport {
        let dt_ms = (now_ms - self.last_ms).max(0);
        let now_ms = now_ms.max(self.last_ms);
        self.last_ms = now_ms;
        let mut report = StepReport {
            expired: self.settle(now_ms),
            ..StepReport::default()
        };
        for (b, book) in self.books.iter_mut().enumerate() {
            if dt_ms > 0 {
                book.spot = book
                    .path
                    .step(&self.path, book.spot, now_ms, dt_ms, &mut book.rng);
                let s = &mut book.session;
                s.value = book.spot;
                s.high = s.high.max(book.spot);
                s.low = s.low.min(book.spot);
            }
            if (book.spot / book.listed_at).ln().abs() > self.relist_move {
                report.listed += book.list_around_spot(now_ms);
            }

            self.scratch.clear();
            book.traffic
                .next_events(book.spot, events_per_book, &mut self.scratch);
            let exchange = book.traffic.exchange();
            for &event in &self.scratch {
                if event.unlisted.is_none()
                    && let Some(live) = book.live.get_mut(event.contract)
                {
                    live.apply(event.kind, exchange, now_ms);
                    if let EventKind::Trade {
                        size,
                        condition,
                        side,
                        ..
                    } = event.kind
                    {
                        book.stats.true_flow.add(condition, side, size);
                    }
                }
                out.push(MarketEvent { book: b, event });
            }
        }
        report
    }

    /// Lists new strikes in `book` now, as an exchange does on request: a strike
    /// halfway between neighbouring strikes within [`MarketConfig::midpoint_reach`] of
    /// spot, in every expiration (see [`SimChain::list_midpoints`]). They are in the
    /// next photo and in the traffic from the next step. Returns the contracts added
    /// (zero once the gaps near the money are under a point, or for an unknown book).
    pub fn list_strikes(&mut self, book: usize, now_ms: i64) -> usize {
        let reach = self.midpoint_reach;
        let Some(b) = self.books.get_mut(book) else {
            return 0;
        };
        let (spot, seed) = (b.spot, mix(b.seed, 100 + b.stats.listings));
        let added = b.change_listing(now_ms, |chain| chain.list_midpoints(spot, reach, seed));
        b.count_listing(added);
        added
    }

    /// Moves `book`'s index to `spot` at once (a gap, as at an open or on news); the
    /// next [`Market::step`] lists strikes around it if it is far enough from the
    /// listing level. Ignored for a non-positive level or an unknown book.
    pub fn jump_spot(&mut self, book: usize, spot: f64) {
        if let Some(b) = self.books.get_mut(book)
            && spot.is_finite()
            && spot > 0.0
        {
            // A gap moves the level the index reverts around with it.
            b.path.anchor *= spot / b.spot;
            b.spot = spot;
            b.session.value = spot;
            b.session.high = b.session.high.max(spot);
            b.session.low = b.session.low.min(spot);
        }
    }

    /// A consistent photo of `book`'s chain: its listing and every contract's latest
    /// quote and trade, as of the last step, stamped `now_ms`. `None` for an unknown
    /// book. Cheap: the listing is shared, only the live fields are copied.
    pub fn photo(&self, book: usize, now_ms: i64) -> Option<Photo> {
        let b = self.books.get(book)?;
        Some(Photo {
            underlying: b.chain.config().underlying,
            spot: b.spot,
            taken_at_ms: now_ms,
            contracts: b.chain.shared_contracts(),
            live: b.live.clone(),
        })
    }

    /// Appends `event` as Massive's JSON object (see [`TrafficEvent::write_json`]),
    /// stamped `now_ms`. Must be called before the next step or listing change (the
    /// contract index is only meaningful until then). Returns `false`, writing
    /// nothing, if the event does not name a contract of the current listing.
    pub fn write_event(&self, event: &MarketEvent, now_ms: i64, out: &mut String) -> bool {
        let Some(book) = self.books.get(event.book) else {
            return false;
        };
        let Some(ticker) = book.traffic.ticker(event.event.contract) else {
            return false;
        };
        event
            .event
            .write_json(ticker, book.traffic.exchange(), now_ms, out);
        true
    }

    /// The contract an event names (its key), for routing it to subscribers. Valid
    /// under the same condition as [`Market::write_event`].
    pub fn event_key(&self, event: &MarketEvent) -> Option<ContractKey> {
        if let Some(key) = event.event.unlisted {
            return Some(key);
        }
        let book = self.books.get(event.book)?;
        book.chain
            .contracts()
            .get(event.event.contract)
            .map(|c| c.key)
    }

    /// Number of underlyings.
    pub fn books(&self) -> usize {
        self.books.len()
    }

    /// The book of `underlying`, if the market has one.
    pub fn book_of(&self, underlying: Underlying) -> Option<usize> {
        self.books
            .iter()
            .position(|b| b.chain.config().underlying == underlying)
    }

    /// The underlying of `book`.
    pub fn underlying(&self, book: usize) -> Option<Underlying> {
        self.books.get(book).map(|b| b.chain.config().underlying)
    }

    /// `book`'s current chain (listing and slow fields; its quotes are the ones at
    /// listing — use [`Market::photo`] for live ones).
    pub fn chain(&self, book: usize) -> Option<&SimChain> {
        self.books.get(book).map(|b| &b.chain)
    }

    /// `book`'s index level now.
    pub fn spot(&self, book: usize) -> Option<f64> {
        self.books.get(book).map(|b| b.spot)
    }

    /// `book`'s index session so far.
    pub fn session(&self, book: usize) -> Option<Session> {
        self.books.get(book).map(|b| b.session)
    }

    /// `book`'s listing counters.
    pub fn book_stats(&self, book: usize) -> Option<BookStats> {
        self.books.get(book).map(|b| b.stats)
    }

    /// The market's New York date and time at `now_ms` (the wall clock shifted to the
    /// chains' `today`, see [`Market::new`]).
    pub fn local_datetime(&self, now_ms: i64) -> DateTime {
        local_datetime(&self.time_zone, now_ms, self.day_offset)
    }
}

/// A frozen chain photo: what one paged chain load serves from its first page to its
/// last, while the market goes on moving.
#[derive(Debug, Clone)]
pub struct Photo {
    underlying: Underlying,
    spot: f64,
    taken_at_ms: i64,
    contracts: Arc<Vec<SimContract>>,
    live: Vec<LiveFields>,
}

impl Photo {
    /// The underlying it photographs.
    pub fn underlying(&self) -> Underlying {
        self.underlying
    }

    /// The index level at the photo.
    pub fn spot(&self) -> f64 {
        self.spot
    }

    /// When it was taken (Unix milliseconds).
    pub fn taken_at_ms(&self) -> i64 {
        self.taken_at_ms
    }

    /// Number of contracts.
    pub fn len(&self) -> usize {
        self.contracts.len()
    }

    /// Whether the chain was empty.
    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty()
    }

    /// The listing, sorted by ticker: identity and slow fields, for filtering. Its
    /// quote and trade fields are the ones at listing; [`Photo::contract`] has the
    /// photo's.
    pub fn listed(&self) -> &[SimContract] {
        &self.contracts
    }

    /// Contract `index` as the photo shows it: live quote, trade and day bar, with
    /// ages measured back from [`Photo::taken_at_ms`].
    pub fn contract(&self, index: usize) -> Option<SimContract> {
        let (c, l) = (self.contracts.get(index)?, self.live.get(index)?);
        let at = self.taken_at_ms;
        Some(SimContract {
            bid_cents: l.bid_cents,
            ask_cents: l.ask_cents,
            bid_size: l.bid_size,
            ask_size: l.ask_size,
            quote_age_ms: at - l.quote_ts_ms,
            last_trade: l.trade.map(|t| SimTrade {
                age_ms: at - l.trade_ts_ms,
                ..t
            }),
            day: l.day,
            ..c.clone()
        })
    }

    /// One `GET /v3/snapshot/options/I:<underlying>` page holding the contracts at
    /// `indices` (see [`snapshot_page`]); indices out of range are skipped.
    pub fn render_page(
        &self,
        indices: &[usize],
        request_id: &str,
        next_url: Option<&str>,
    ) -> String {
        let contracts: Vec<SimContract> =
            indices.iter().filter_map(|&i| self.contract(i)).collect();
        snapshot_page(
            &format!("I:{}", self.underlying),
            self.spot,
            &contracts,
            self.taken_at_ms,
            request_id,
            next_url,
        )
    }
}

/// Whether `expiry` has settled by the New York time `clock`.
fn has_settled(expiry: &SimExpiry, clock: DateTime) -> bool {
    let settles = expiry::settlement_time(expiry.date, expiry.settlement);
    expiry.date < clock.date() || (expiry.date == clock.date() && clock.time() >= settles)
}

/// Whole days from the exchange's session date at `start_ms` to `today`.
fn day_offset(today: Date, start_ms: i64, tz: &TimeZone) -> i64 {
    let session = expiry::session_date(start_ms, tz);
    today
        .since(session)
        .map_or(0, |span| i64::from(span.get_days()))
}

/// `now_ms` as a New York civil time, shifted by `day_offset` days. A timestamp jiff
/// cannot represent (far outside years −9999..9999) reads as the epoch.
fn local_datetime(tz: &TimeZone, now_ms: i64, day_offset: i64) -> DateTime {
    let shifted = now_ms.saturating_add(day_offset.saturating_mul(MS_PER_DAY));
    tz.to_datetime(
        jiff::Timestamp::from_millisecond(shifted).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

/// A derived seed: SplitMix64 of `seed` and a stream number, so that streams of one
/// market are unrelated.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;

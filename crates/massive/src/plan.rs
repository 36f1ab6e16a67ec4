//! The subscription planner: which contracts get live quotes, and what to send to
//! Massive to get there from what is subscribed now.
//!
//! # Why a planner
//!
//! Massive allows **at most 1,000 option contracts with quote (`Q.`) subscriptions per
//! WebSocket connection, with no wildcard** (Massive's documented limits; on
//! a new connection the oldest is dropped), and an account usually has one connection. The boards are far larger:
//! an SPX epoch holds ~24k contracts and NDX ~31k, all carried by that one connection.
//! So quotes are a scarce budget to spend where they matter, while everything else on
//! the boards is kept fresh by the REST photos. Trades (`T.`) have no such limit and
//! are subscribed for every contract on the boards — per contract rather than with the
//! `T.*` wildcard, which would bring the trades of every listed option, not just ours.
//!
//! The planner is pure: it takes the boards (an epoch's contract keys and the
//! underlying's spot) and the exchange date, and returns the subscribe/unsubscribe
//! params that turn the current plan into the next. It never opens a socket and never
//! reads a clock. Ingestion applies each change to the connection's desired set, and
//! the connection task sends the difference to the server, and the whole set after a
//! reconnect (the server forgets everything); [`Planner::reset`] gives the same full
//! list for a caller that sends plans itself.
//!
//! # Scoring: near the money and near expiry first
//!
//! A near-the-money contract close to expiry is the one whose quote moves most (high
//! gamma), updates many times a second, and that users watch; a deep wing contract
//! far out barely updates at all (as the vendor's quote traffic shows), so a photo every few
//! seconds loses little there. Each live contract gets a score, **lower is better**:
//!
//! ```text
//! score = |ln(K / S)| / moneyness_unit + days_to_expiry / days_unit
//! ```
//!
//! - `K` is the strike and `S` the plan's anchor spot for that underlying. Log-moneyness
//!   is relative, so scores are comparable across underlyings: 1% away from SPX at
//!   6,850 weighs the same as 1% away from NDX at 21,000, and the budget is shared by
//!   taking the best [`PlannerConfig::quote_budget`] contracts across all boards.
//! - `days_to_expiry` counts calendar days from `today` (0 for a contract expiring
//!   today). Calendar days keep the planner free of an exchange calendar; a weekend
//!   between now and expiry only makes a contract look slightly farther away.
//! - The defaults, `moneyness_unit = 0.01` and `days_unit = 2.0`, make **1% of
//!   moneyness weigh like 2 days** of expiry. An index's one-day move is of the order of
//!   1%, so a strike one day's move away is treated like being two days further out:
//!   the quoted region is a band around the money that is widest on 0DTE and narrows
//!   with expiry by 0.5% a day. With 1,000 quotes over full SPX + NDX boards (5-point
//!   SPXW and 25-point NDXP strikes, daily expirations) that is about ±3.3% around each
//!   spot on 0DTE, ±2.3% two days out, and nothing beyond six days.
//! - Calls and puts at the same strike and expiry score equally (the score never looks
//!   at the right). Ties are broken by (expiration, strike, right, root, underlying),
//!   so the plan is a function of its inputs alone.
//! - Expired contracts are never quoted: expiration before `today`, or expiration on
//!   `today` for an AM-settled root (SPX, NDX monthlies stop trading the afternoon
//!   before and settle at that morning's open; see [`chainboard_model::roots`]).
//! - A board without a spot is anchored at its last plan's spot if there was one,
//!   and otherwise at the **lower median strike of its live contracts**: listings are
//!   densest near the money (every expiry lists strikes there, only the long-dated
//!   ones list the far wings), so the contract-weighted median is a usable stand-in
//!   until the first index value arrives, which then triggers a re-plan.
//!
//! Only the best `quote_budget` candidates are ordered (`select_nth_unstable_by`, then
//! a sort of the winners), so a plan over the full 55k-contract boards costs a pass
//! over the keys and a selection: about 2 ms in a release build. Rendering params
//! costs more (~0.2 µs each through `ContractKey`'s `Display`), but a diff renders only
//! what changed; all 56k params are rendered only for the first plan and on
//! [`Planner::reset`].
//!
//! # When to re-plan: hysteresis
//!
//! [`Planner::update`] re-plans only when a board's epoch changed, a board was added or
//! removed, the exchange date changed (yesterday's 0DTE has expired), or a board's spot
//! has left the band of ±[`PlannerConfig::hysteresis`] (default 0.25%) around the spot
//! its plan was anchored at. Without the band every index tick would re-plan and churn
//! the strikes at the edge of the quoted region; 0.25% of SPX is ~17 points, about three
//! 5-point strikes, so the region is at most a few strikes off-centre before it
//! follows. The band is measured from the anchor, not from the last spot seen, so a
//! slow drift re-plans as soon as it has added up to the band.
//!
//! # Never over budget, even in transition
//!
//! A plan never quotes more than `quote_budget` contracts. Moving from one plan to the
//! next must not exceed it either, so **a change's unsubscribes must be sent before its
//! subscribes**: then the count only falls, then rises to the new plan's. The fields of
//! [`PlanChange`] are in that order, and [`PlanChange::messages`] yields the control
//! messages in that order. Each message stays under Massive's 1 MB limit
//! ([`control_messages`]).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chainboard_model::{ContractKey, EpochId, Root, RootMap, Settlement, Strike, Underlying};
use jiff::civil::Date;

/// Massive's quote limit: "at most 1,000 option contracts per connection, no wildcard".
pub const QUOTES_PER_CONNECTION: usize = 1_000;

/// Massive's limit on one control message: "a message is limited to 1 MB". Taken as
/// 1,000,000 bytes, the stricter reading.
pub const MAX_CONTROL_MESSAGE_BYTES: usize = 1_000_000;

/// Param prefix of a quote subscription.
const QUOTE_PREFIX: &str = "Q.";
/// Param prefix of a trade subscription.
const TRADE_PREFIX: &str = "T.";

/// How the planner spends the quote budget.
#[derive(Debug, Clone)]
pub struct PlannerConfig {
    /// Contracts that may have quote subscriptions at once: connections × 1,000
    /// ([`QUOTES_PER_CONNECTION`]). Default 1,000, for the usual single connection.
    pub quote_budget: usize,
    /// Relative spot move, from the spot a board's plan was anchored at, that triggers
    /// a re-plan (0.0025 = 0.25%). Damps re-planning on every index tick. A negative
    /// or NaN value is replaced by the default.
    pub hysteresis: f64,
    /// Subscribe `T.<ticker>` for every contract on the boards. Trades are not capped
    /// per connection, so this is on by default; off for quote-only accounts.
    pub trades: bool,
    /// Log-moneyness worth one score unit (0.01 = 1%). With [`Self::days_unit`] it sets
    /// the trade-off between distance from the money and time to expiry. A value that
    /// is not finite and positive is replaced by the default.
    pub moneyness_unit: f64,
    /// Calendar days to expiry worth one score unit (default 2.0, so 1% of moneyness
    /// weighs like 2 days). A value that is not finite and positive is replaced by the
    /// default.
    pub days_unit: f64,
    /// Which roots settle AM: their contracts are expired on their expiration date.
    pub roots: RootMap,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            quote_budget: QUOTES_PER_CONNECTION,
            hysteresis: 0.0025,
            trades: true,
            moneyness_unit: 0.01,
            days_unit: 2.0,
            roots: RootMap::default(),
        }
    }
}

impl PlannerConfig {
    /// The config with out-of-range numbers replaced by their defaults, so the scoring
    /// arithmetic never sees a zero, negative or NaN divisor.
    fn sanitized(mut self) -> Self {
        let default = Self::default();
        if !(self.hysteresis >= 0.0 && self.hysteresis.is_finite()) {
            self.hysteresis = default.hysteresis;
        }
        if !(self.moneyness_unit > 0.0 && self.moneyness_unit.is_finite()) {
            self.moneyness_unit = default.moneyness_unit;
        }
        if !(self.days_unit > 0.0 && self.days_unit.is_finite()) {
            self.days_unit = default.days_unit;
        }
        self
    }

    /// Whether `key` can no longer trade on `today`: it expired before today, or it
    /// expires today and its root settles at the morning's open.
    pub fn is_expired(&self, key: &ContractKey, today: Date) -> bool {
        key.expiration < today
            || (key.expiration == today
                && self
                    .roots
                    .lookup(key.root)
                    .is_some_and(|info| info.settlement == Settlement::AmOpen))
    }

    /// The contract's score against spot `spot` (lower is better; see the module doc),
    /// or `None` if it is expired or `spot` is not a positive number.
    pub fn score(&self, key: &ContractKey, spot: f64, today: Date) -> Option<f64> {
        if self.is_expired(key, today) || !valid_spot(spot) {
            return None;
        }
        let log_moneyness = key.strike.points().ln() - spot.ln();
        Some(self.combine(log_moneyness, days_until(today, key.expiration)))
    }

    /// The score from its two parts; the planner's loop calls this with cached days.
    #[inline]
    fn combine(&self, log_moneyness: f64, days: f64) -> f64 {
        log_moneyness.abs() / self.moneyness_unit + days / self.days_unit
    }
}

/// One underlying's board as the planner sees it.
#[derive(Debug, Clone, Copy)]
pub struct BoardView<'a> {
    /// Whose board it is; one view per underlying (a later view for the same
    /// underlying replaces an earlier one).
    pub underlying: Underlying,
    /// The epoch the board belongs to: a different id than the last plan's means new
    /// geometry, so the planner re-plans.
    pub epoch: &'a EpochId,
    /// The board's contracts (an epoch's board is sorted by key; any order is accepted).
    pub contracts: &'a [ContractKey],
    /// The underlying's latest value, if one has arrived; anchors moneyness.
    pub spot: Option<f64>,
}

/// Where a board's anchor spot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorSource {
    /// The underlying's value at planning time.
    Spot,
    /// No value at planning time; the spot of the previous plan, which is still a
    /// better centre than any guess.
    LastSpot,
    /// No value ever: the lower median strike of the board's live contracts. The first
    /// real spot re-plans.
    MedianStrike,
}

/// The spot a board's plan was centred on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Index points.
    pub spot: f64,
    /// Where it came from; a [`AnchorSource::MedianStrike`] anchor yields to the first
    /// real spot regardless of the band.
    pub source: AnchorSource,
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            AnchorSource::Spot => "spot",
            AnchorSource::LastSpot => "last spot",
            AnchorSource::MedianStrike => "median strike",
        };
        write!(f, "{source} {:.2}", self.spot)
    }
}

/// One underlying's share of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardSummary {
    /// The underlying.
    pub underlying: Underlying,
    /// The epoch the plan was made for; the next update compares against it.
    pub epoch: EpochId,
    /// The spot the plan is centred on (`None` only for a board with no spot and no
    /// live contracts, which has nothing to quote).
    pub anchor: Option<Anchor>,
    /// Contracts on the board (all traded when trades are on).
    pub contracts: usize,
    /// Contracts of this board with a quote subscription.
    pub quoted: usize,
    /// Lowest and highest quoted strike, if any are quoted.
    pub strikes: Option<(Strike, Strike)>,
    /// Quoted expirations, ascending.
    pub expirations: Vec<Date>,
}

/// What a plan covers, per underlying: for the log line on each re-plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanSummary {
    /// The budget the plan was made under.
    pub quote_budget: usize,
    /// Contracts quoted, over all boards.
    pub quoted: usize,
    /// Contracts traded, over all boards.
    pub traded: usize,
    /// Per board, ordered by underlying.
    pub boards: Vec<BoardSummary>,
}

impl fmt::Display for PlanSummary {
    /// One line: `1000/1000 quotes, 55012 trades; SPX SPX-20261124-0003 spot 6850.00:
    /// 600/24000 quoted, strikes 6740..6960, expirations 2026-11-24,2026-11-25; NDX ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} quotes, {} trades",
            self.quoted, self.quote_budget, self.traded
        )?;
        for b in &self.boards {
            write!(f, "; {} {} ", b.underlying, b.epoch)?;
            match b.anchor {
                Some(anchor) => write!(f, "{anchor}")?,
                None => f.write_str("no spot")?,
            }
            write!(f, ": {}/{} quoted", b.quoted, b.contracts)?;
            if let Some((lo, hi)) = b.strikes {
                write!(f, ", strikes {lo}..{hi}")?;
            }
            let dates = &b.expirations;
            if let (Some(first), Some(last)) = (dates.first(), dates.last()) {
                if dates.len() <= 4 {
                    f.write_str(", expirations ")?;
                    for (i, d) in dates.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{d}")?;
                    }
                } else {
                    write!(f, ", expirations {first}..{last} ({})", dates.len())?;
                }
            }
        }
        Ok(())
    }
}

/// What is subscribed, as planned: quoted and traded contracts and what they were
/// planned from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Contracts with a `Q.` subscription, sorted by key, at most the budget.
    quoted: Vec<ContractKey>,
    /// Contracts with a `T.` subscription, sorted by key.
    traded: Vec<ContractKey>,
    /// The exchange date the plan was made on: a new day re-plans, since contracts
    /// expire.
    today: Option<Date>,
    /// Per-board inputs (epoch, anchor) and what was chosen.
    summary: PlanSummary,
}

impl Plan {
    /// Contracts with a quote subscription, sorted by key.
    pub fn quoted(&self) -> &[ContractKey] {
        &self.quoted
    }

    /// Contracts with a trade subscription, sorted by key.
    pub fn traded(&self) -> &[ContractKey] {
        &self.traded
    }

    /// The exchange date the plan was made on (`None` before the first plan).
    pub fn today(&self) -> Option<Date> {
        self.today
    }

    /// The spot an underlying's plan is centred on.
    pub fn anchor(&self, underlying: Underlying) -> Option<Anchor> {
        self.board(underlying).and_then(|b| b.anchor)
    }

    /// What the plan covers.
    pub fn summary(&self) -> &PlanSummary {
        &self.summary
    }

    /// Every param of the plan: quotes, then trades, each in key order.
    pub fn params(&self) -> Vec<String> {
        let quotes = self.quoted.iter().map(|k| param(QUOTE_PREFIX, k));
        let trades = self.traded.iter().map(|k| param(TRADE_PREFIX, k));
        quotes.chain(trades).collect()
    }

    /// Whether nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.quoted.is_empty() && self.traded.is_empty()
    }

    fn board(&self, underlying: Underlying) -> Option<&BoardSummary> {
        self.summary
            .boards
            .iter()
            .find(|b| b.underlying == underlying)
    }
}

/// What to send to go from one plan to the next.
///
/// **Send `unsubscribe` before `subscribe`** (as [`PlanChange::messages`] does): the
/// other order could briefly hold more than the quote budget.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanChange {
    /// Params to drop, first: quotes, then trades, each in key order.
    pub unsubscribe: Vec<String>,
    /// Params to add, after the unsubscribes: quotes, then trades, each in key order.
    pub subscribe: Vec<String>,
    /// What the new plan covers, for the log.
    pub summary: PlanSummary,
}

impl PlanChange {
    /// Whether the re-plan changed no subscription (e.g. a new epoch with the same
    /// contracts near the money).
    pub fn is_empty(&self) -> bool {
        self.unsubscribe.is_empty() && self.subscribe.is_empty()
    }

    /// The control messages of this change in the order they must be sent:
    /// every unsubscribe message, then every subscribe message, each under `max_bytes`
    /// ([`MAX_CONTROL_MESSAGE_BYTES`] on Massive).
    pub fn messages(&self, max_bytes: usize) -> Vec<String> {
        let mut out = control_messages(Action::Unsubscribe, &self.unsubscribe, max_bytes);
        out.extend(control_messages(
            Action::Subscribe,
            &self.subscribe,
            max_bytes,
        ));
        out
    }
}

/// A scored contract competing for the quote budget.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    score: f64,
    key: ContractKey,
    /// Index into the planning views, which are ordered by underlying, so comparing
    /// indices compares underlyings.
    board: usize,
}

/// The total order of candidates: score, then (expiration, strike, right, root,
/// underlying), so equal scores (a call and its put) never depend on input order.
fn rank(a: &Candidate, b: &Candidate) -> Ordering {
    a.score
        .total_cmp(&b.score)
        .then_with(|| a.key.expiration.cmp(&b.key.expiration))
        .then_with(|| a.key.strike.cmp(&b.key.strike))
        .then_with(|| a.key.right.cmp(&b.key.right))
        .then_with(|| a.key.root.cmp(&b.key.root))
        .then_with(|| a.board.cmp(&b.board))
}

/// Chooses subscriptions for a set of boards and diffs them against the current plan.
#[derive(Debug)]
pub struct Planner {
    config: PlannerConfig,
    /// What the caller has been told to subscribe, i.e. what is subscribed once it has
    /// sent every change.
    plan: Plan,
}

impl Planner {
    /// A planner with nothing subscribed. Out-of-range numbers in `config` are replaced
    /// by their defaults (see the field docs).
    pub fn new(config: PlannerConfig) -> Self {
        Self {
            config: config.sanitized(),
            plan: Plan::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &PlannerConfig {
        &self.config
    }

    /// Re-plans when any board's epoch id differs from the last plan's, a board was
    /// added or removed, `today` differs from the last plan's, or a board's spot has
    /// left the hysteresis band around its plan's anchor (or arrived for a board
    /// anchored at its median strike); otherwise returns `None`.
    ///
    /// `today` is the exchange date (America/New_York), passed in so the planner never
    /// reads a clock. The returned change becomes the current plan at once: send it
    /// (unsubscribes first) before the next update.
    pub fn update(&mut self, boards: &[BoardView<'_>], today: Date) -> Option<PlanChange> {
        let views = by_underlying(boards);
        if !self.needs_replan(&views, today) {
            return None;
        }
        let next = self.plan_for(&views, today);
        let change = diff(&self.plan, &next);
        self.plan = next;
        Some(change)
    }

    /// What is subscribed now, as planned.
    pub fn current(&self) -> &Plan {
        &self.plan
    }

    /// After a reconnect the server has no subscriptions: every param of the current
    /// plan must be subscribed again. Returns the full subscribe list and no
    /// unsubscribes; the plan itself is unchanged.
    pub fn reset(&self) -> PlanChange {
        PlanChange {
            unsubscribe: Vec::new(),
            subscribe: self.plan.params(),
            summary: self.plan.summary.clone(),
        }
    }

    fn needs_replan(&self, views: &[&BoardView<'_>], today: Date) -> bool {
        let planned = &self.plan.summary.boards;
        if views.len() != planned.len() {
            return true;
        }
        if views.is_empty() {
            return false;
        }
        if self.plan.today != Some(today) {
            return true;
        }
        views.iter().zip(planned).any(|(view, board)| {
            if view.underlying != board.underlying || *view.epoch != board.epoch {
                return true;
            }
            let Some(spot) = view.spot.filter(|&s| valid_spot(s)) else {
                return false;
            };
            match board.anchor {
                None => true,
                Some(anchor) if anchor.source == AnchorSource::MedianStrike => true,
                Some(anchor) => (spot / anchor.spot - 1.0).abs() > self.config.hysteresis,
            }
        })
    }

    fn plan_for(&self, views: &[&BoardView<'_>], today: Date) -> Plan {
        let config = &self.config;
        let total: usize = views.iter().map(|v| v.contracts.len()).sum();
        let mut candidates = Vec::with_capacity(total);
        let mut traded = Vec::with_capacity(if config.trades { total } else { 0 });
        let mut boards = Vec::with_capacity(views.len());

        for (index, view) in views.iter().enumerate() {
            if config.trades {
                traded.extend_from_slice(view.contracts);
            }
            let anchor = self.anchor_for(view, today);
            if let Some(anchor) = anchor {
                let ln_spot = anchor.spot.ln();
                // Keys arrive grouped by expiration, so one remembered expiration
                // saves nearly every date difference.
                let mut days_cache: Option<(Date, f64)> = None;
                for key in view.contracts {
                    if config.is_expired(key, today) {
                        continue;
                    }
                    let days = match days_cache {
                        Some((date, days)) if date == key.expiration => days,
                        _ => {
                            let days = days_until(today, key.expiration);
                            days_cache = Some((key.expiration, days));
                            days
                        }
                    };
                    let score = config.combine(key.strike.points().ln() - ln_spot, days);
                    candidates.push(Candidate {
                        score,
                        key: *key,
                        board: index,
                    });
                }
            }
            boards.push(BoardSummary {
                underlying: view.underlying,
                epoch: *view.epoch,
                anchor,
                contracts: view.contracts.len(),
                quoted: 0,
                strikes: None,
                expirations: Vec::new(),
            });
        }

        // Only the winners need ordering: a linear-time selection, then the budget's
        // worth of candidates is all that remains.
        let budget = config.quote_budget;
        if candidates.len() > budget {
            if budget == 0 {
                candidates.clear();
            } else {
                candidates.select_nth_unstable_by(budget - 1, rank);
                candidates.truncate(budget);
            }
        }

        let mut expirations: Vec<BTreeSet<Date>> = vec![BTreeSet::new(); boards.len()];
        for c in &candidates {
            let board = &mut boards[c.board];
            board.quoted += 1;
            board.strikes = Some(match board.strikes {
                None => (c.key.strike, c.key.strike),
                Some((lo, hi)) => (lo.min(c.key.strike), hi.max(c.key.strike)),
            });
            expirations[c.board].insert(c.key.expiration);
        }
        for (board, dates) in boards.iter_mut().zip(expirations) {
            board.expirations = dates.into_iter().collect();
        }

        let mut quoted: Vec<ContractKey> = candidates.iter().map(|c| c.key).collect();
        quoted.sort_unstable();
        quoted.dedup();
        // Stable sort: the boards arrive as a few sorted runs, which it merges in
        // linear time.
        traded.sort();
        traded.dedup();

        Plan {
            summary: PlanSummary {
                quote_budget: budget,
                quoted: quoted.len(),
                traded: traded.len(),
                boards,
            },
            quoted,
            traded,
            today: Some(today),
        }
    }

    /// The spot to centre a board's plan on: its current value, else the last plan's
    /// spot, else the lower median strike of its live contracts.
    fn anchor_for(&self, view: &BoardView<'_>, today: Date) -> Option<Anchor> {
        if let Some(spot) = view.spot.filter(|&s| valid_spot(s)) {
            return Some(Anchor {
                spot,
                source: AnchorSource::Spot,
            });
        }
        if let Some(last) = self.plan.anchor(view.underlying)
            && last.source != AnchorSource::MedianStrike
        {
            return Some(Anchor {
                spot: last.spot,
                source: AnchorSource::LastSpot,
            });
        }
        let mut strikes: Vec<u32> = view
            .contracts
            .iter()
            .filter(|k| !self.config.is_expired(k, today))
            .map(|k| k.strike.milli())
            .collect();
        if strikes.is_empty() {
            return None;
        }
        let middle = (strikes.len() - 1) / 2;
        let (_, &mut median, _) = strikes.select_nth_unstable(middle);
        Some(Anchor {
            spot: f64::from(median) / 1000.0,
            source: AnchorSource::MedianStrike,
        })
    }
}

/// The views ordered by underlying, the last one winning for a repeated underlying.
fn by_underlying<'v, 'a>(boards: &'v [BoardView<'a>]) -> Vec<&'v BoardView<'a>> {
    let mut map = BTreeMap::new();
    for view in boards {
        map.insert(view.underlying, view);
    }
    map.into_values().collect()
}

/// Whether a spot can anchor moneyness: a positive finite number.
fn valid_spot(spot: f64) -> bool {
    spot > 0.0 && spot.is_finite()
}

/// Calendar days from `today` to `expiration` (negative if past).
fn days_until(today: Date, expiration: Date) -> f64 {
    // Two valid civil dates always have a difference in days; the fallback only keeps
    // the function total.
    today
        .until(expiration)
        .map_or(f64::MAX, |span| f64::from(span.get_days()))
}

/// A subscription param: `Q.O:SPXW261124C06850000`, the prefix and the key's Massive
/// ticker (its `Display`, the one place the ticker format is defined).
fn param(prefix: &str, key: &ContractKey) -> String {
    use std::fmt::Write as _;
    // Sized for the longest ticker (`O:` + 6-character root + 15), so the string is
    // written without growing.
    let mut out = String::with_capacity(prefix.len() + 2 + Root::MAX_LEN + 15);
    // Writing into a `String` cannot fail.
    let _ = write!(out, "{prefix}{key}");
    out
}

/// The params to go from `old` to `new`: quotes then trades, each in key order.
fn diff(old: &Plan, new: &Plan) -> PlanChange {
    let mut change = PlanChange {
        unsubscribe: Vec::new(),
        subscribe: Vec::new(),
        summary: new.summary.clone(),
    };
    for (prefix, before, after) in [
        (QUOTE_PREFIX, &old.quoted, &new.quoted),
        (TRADE_PREFIX, &old.traded, &new.traded),
    ] {
        merge_diff(
            before,
            after,
            |k| change.unsubscribe.push(param(prefix, k)),
            |k| change.subscribe.push(param(prefix, k)),
        );
    }
    change
}

/// One merge walk over two sorted, deduplicated key lists: `removed` gets keys only in
/// `before`, `added` keys only in `after`, each in order.
fn merge_diff(
    before: &[ContractKey],
    after: &[ContractKey],
    mut removed: impl FnMut(&ContractKey),
    mut added: impl FnMut(&ContractKey),
) {
    let (mut i, mut j) = (0, 0);
    while i < before.len() && j < after.len() {
        match before[i].cmp(&after[j]) {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Less => {
                removed(&before[i]);
                i += 1;
            }
            Ordering::Greater => {
                added(&after[j]);
                j += 1;
            }
        }
    }
    before[i..].iter().for_each(&mut removed);
    after[j..].iter().for_each(&mut added);
}

/// A WebSocket control action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `{"action":"subscribe",...}`
    Subscribe,
    /// `{"action":"unsubscribe",...}`
    Unsubscribe,
}

impl Action {
    /// The action's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Subscribe => "subscribe",
            Action::Unsubscribe => "unsubscribe",
        }
    }
}

/// Splits params into Massive control messages
/// `{"action":"subscribe","params":"Q.O:...,T.O:..."}`, each strictly under `max_bytes`
/// ([`MAX_CONTROL_MESSAGE_BYTES`] on Massive, "a message is limited to 1 MB").
///
/// Params keep their order and are never split. A param too long to fit in a message
/// of its own is sent alone rather than dropped; with real params (~25 bytes) and the
/// 1 MB limit that cannot happen. Params are JSON-escaped but must not contain commas,
/// which the server reads as separators. No params, no messages.
pub fn control_messages(action: Action, params: &[String], max_bytes: usize) -> Vec<String> {
    const TAIL: &str = "\"}";
    let head = format!("{{\"action\":\"{}\",\"params\":\"", action.as_str());
    let mut messages = Vec::new();
    let mut message = String::new();
    for p in params {
        let escaped = json_escaped(p);
        if !message.is_empty() && message.len() + 1 + escaped.len() + TAIL.len() >= max_bytes {
            message.push_str(TAIL);
            messages.push(std::mem::take(&mut message));
        }
        if message.is_empty() {
            message.push_str(&head);
        } else {
            message.push(',');
        }
        message.push_str(&escaped);
    }
    if !message.is_empty() {
        message.push_str(TAIL);
        messages.push(message);
    }
    messages
}

/// `s` as the inside of a JSON string literal; borrowed when nothing needs escaping
/// (always, for real params).
fn json_escaped(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;

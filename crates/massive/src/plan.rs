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
mod tests {
    use chainboard_model::Right;
    use jiff::ToSpan;
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    /// Tuesday; SPX at 6,850 and NDX at 21,000 in the synthetic boards.
    const TODAY: Date = date(2026, 11, 24);

    fn key(root: &str, expiration: Date, right: Right, strike: f64) -> ContractKey {
        ContractKey {
            root: Root::new(root).unwrap(),
            expiration,
            right,
            strike: Strike::from_points(strike).unwrap(),
        }
    }

    fn underlying(s: &str) -> Underlying {
        Underlying::new(s).unwrap()
    }

    fn epoch(s: &str, seq: u32) -> EpochId {
        EpochId {
            underlying: underlying(s),
            date: TODAY,
            seq,
        }
    }

    /// Every call and put of `root` for each expiration `today + days` and each
    /// strike `lo, lo + step, ..., hi`, sorted like an epoch's board.
    fn board(root: &str, days: &[i64], lo: u32, hi: u32, step: u32) -> Vec<ContractKey> {
        let mut keys = Vec::new();
        for &d in days {
            for right in [Right::Call, Right::Put] {
                for strike in (lo..=hi).step_by(step as usize) {
                    keys.push(key(root, TODAY + d.days(), right, f64::from(strike)));
                }
            }
        }
        keys.sort();
        keys
    }

    /// SPX like a real epoch: SPXW dailies and weeklies plus the SPX monthlies, 5-point
    /// strikes from 4,000 to 8,000 (~24k contracts). Yesterday's expiry is still listed,
    /// as is today's AM-settled monthly.
    fn spx_board() -> Vec<ContractKey> {
        let daily: Vec<i64> = vec![-1, 0, 1, 2, 3, 6, 7, 8, 9, 10, 13, 16, 23];
        let mut keys = board("SPXW", &daily, 4000, 8000, 5);
        keys.extend(board("SPX", &[0, 24], 4000, 8000, 5));
        keys.sort();
        keys
    }

    /// NDX: NDXP dailies with 25-point strikes from 15,000 to 30,000 (~31k contracts).
    fn ndx_board() -> Vec<ContractKey> {
        let days: Vec<i64> = (0..26).collect();
        board("NDXP", &days, 15000, 30000, 25)
    }

    fn view<'a>(
        name: &str,
        epoch: &'a EpochId,
        contracts: &'a [ContractKey],
        spot: Option<f64>,
    ) -> BoardView<'a> {
        BoardView {
            underlying: underlying(name),
            epoch,
            contracts,
            spot,
        }
    }

    fn quoted_set(plan: &Plan) -> BTreeSet<ContractKey> {
        plan.quoted().iter().copied().collect()
    }

    #[test]
    fn budget_is_respected_for_boards_far_larger_than_it() {
        let (spx, ndx) = (spx_board(), ndx_board());
        assert!(spx.len() > 20_000 && ndx.len() > 30_000);
        let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
        let boards = [
            view("SPX", &e_spx, &spx, Some(6850.0)),
            view("NDX", &e_ndx, &ndx, Some(21000.0)),
        ];
        for budget in [0, 1, 7, 1_000, 3_000] {
            let mut planner = Planner::new(PlannerConfig {
                quote_budget: budget,
                ..PlannerConfig::default()
            });
            let change = planner.update(&boards, TODAY).unwrap();
            let plan = planner.current();
            assert_eq!(plan.quoted().len(), budget, "budget {budget}");
            assert_eq!(plan.traded().len(), spx.len() + ndx.len());
            let quotes = change
                .subscribe
                .iter()
                .filter(|p| p.starts_with("Q."))
                .count();
            assert_eq!(quotes, budget);
            assert_eq!(change.summary.quoted, budget);
            let per_board: usize = change.summary.boards.iter().map(|b| b.quoted).sum();
            assert_eq!(per_board, budget);
        }
    }

    #[test]
    fn the_budget_is_shared_across_underlyings() {
        let (spx, ndx) = (spx_board(), ndx_board());
        let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
        let mut planner = Planner::new(PlannerConfig::default());
        let change = planner
            .update(
                &[
                    view("SPX", &e_spx, &spx, Some(6850.0)),
                    view("NDX", &e_ndx, &ndx, Some(21000.0)),
                ],
                TODAY,
            )
            .unwrap();
        // Both boards get a share; SPX's denser strikes (5 vs 25 points, i.e. 0.07%
        // vs 0.12% apart) give it more contracts inside the same relative band.
        let [ndx_summary, spx_summary] = change.summary.boards.as_slice() else {
            panic!("two boards expected, got {:?}", change.summary.boards);
        };
        assert_eq!(ndx_summary.underlying, underlying("NDX"));
        assert!(ndx_summary.quoted > 100, "{}", change.summary);
        assert!(
            spx_summary.quoted > ndx_summary.quoted,
            "{}",
            change.summary
        );
        // The SPX region sits around the money on both sides.
        let (lo, hi) = spx_summary.strikes.unwrap();
        assert!(lo.points() < 6850.0 && hi.points() > 6850.0);
        let (below, above) = ((6850.0 / lo.points()).ln(), (hi.points() / 6850.0).ln());
        assert!(below < 0.035 && above < 0.035, "{}", change.summary);
        assert!((below - above).abs() < 0.005, "{}", change.summary);
    }

    #[test]
    fn same_input_gives_the_same_plan() {
        let (spx, ndx) = (spx_board(), ndx_board());
        let mut shuffled = spx.clone();
        shuffled.reverse();
        let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
        let run = |spx: &[ContractKey], reversed: bool| {
            let mut boards = vec![
                view("SPX", &e_spx, spx, Some(6851.3)),
                view("NDX", &e_ndx, &ndx, Some(21012.0)),
            ];
            if reversed {
                boards.reverse();
            }
            let mut planner = Planner::new(PlannerConfig::default());
            let change = planner.update(&boards, TODAY).unwrap();
            (change, planner.current().clone())
        };
        let first = run(&spx, false);
        assert_eq!(first, run(&spx, false));
        // Neither the order of the boards nor the order of a board's keys matters.
        assert_eq!(first, run(&spx, true));
        assert_eq!(first, run(&shuffled, false));
    }

    #[test]
    fn near_the_money_and_near_expiry_win() {
        let spx = spx_board();
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig {
            quote_budget: 200,
            ..PlannerConfig::default()
        });
        planner.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
        let quoted = quoted_set(planner.current());
        let yesterday = TODAY - 1.days();
        let cases = [
            (
                "ATM 0DTE call",
                key("SPXW", TODAY, Right::Call, 6850.0),
                true,
            ),
            ("ATM 0DTE put", key("SPXW", TODAY, Right::Put, 6850.0), true),
            (
                "near 1DTE",
                key("SPXW", TODAY + 1.days(), Right::Put, 6845.0),
                true,
            ),
            (
                "deep OTM far",
                key("SPXW", TODAY + 23.days(), Right::Put, 4500.0),
                false,
            ),
            (
                "ATM far",
                key("SPXW", TODAY + 23.days(), Right::Call, 6850.0),
                false,
            ),
            (
                "deep OTM 0DTE",
                key("SPXW", TODAY, Right::Put, 6000.0),
                false,
            ),
            (
                "expired yesterday",
                key("SPXW", yesterday, Right::Call, 6850.0),
                false,
            ),
            (
                "AM-settled today",
                key("SPX", TODAY, Right::Call, 6850.0),
                false,
            ),
        ];
        for (what, k, expected) in cases {
            assert!(spx.contains(&k), "{what} is on the board");
            assert_eq!(quoted.contains(&k), expected, "{what}: {k}");
        }
        // Nothing expired is quoted at all, even with budget to spare.
        let mut generous = Planner::new(PlannerConfig {
            quote_budget: 100_000,
            ..PlannerConfig::default()
        });
        generous.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
        let config = generous.config().clone();
        assert!(
            generous
                .current()
                .quoted()
                .iter()
                .all(|k| !config.is_expired(k, TODAY))
        );
        let live = spx.iter().filter(|k| !config.is_expired(k, TODAY)).count();
        assert_eq!(generous.current().quoted().len(), live);
    }

    #[test]
    fn scores_follow_the_documented_rule() {
        let config = PlannerConfig::default();
        let atm = key("SPXW", TODAY, Right::Call, 6850.0);
        assert_eq!(config.score(&atm, 6850.0, TODAY), Some(0.0));
        // A call and its put score equally.
        let put = ContractKey {
            right: Right::Put,
            ..atm
        };
        assert_eq!(
            config.score(&put, 6850.0, TODAY),
            config.score(&atm, 6850.0, TODAY)
        );
        // 1% of moneyness weighs like 2 days.
        let one_pct = config.score(&atm, 6850.0 * 0.01f64.exp(), TODAY).unwrap();
        let two_days = key("SPXW", TODAY + 2.days(), Right::Call, 6850.0);
        let two_days = config.score(&two_days, 6850.0, TODAY).unwrap();
        assert!((one_pct - 1.0).abs() < 1e-9 && (two_days - 1.0).abs() < 1e-9);
        // Relative: the same moneyness scores the same on SPX and NDX.
        let spx_otm = key("SPXW", TODAY, Right::Call, 6850.0 * 1.02);
        let ndx_otm = key("NDXP", TODAY, Right::Call, 21000.0 * 1.02);
        let (a, b) = (
            config.score(&spx_otm, 6850.0, TODAY).unwrap(),
            config.score(&ndx_otm, 21000.0, TODAY).unwrap(),
        );
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        // Expired contracts and unusable spots have no score.
        let expired = key("SPXW", TODAY - 1.days(), Right::Call, 6850.0);
        assert_eq!(config.score(&expired, 6850.0, TODAY), None);
        assert_eq!(config.score(&atm, f64::NAN, TODAY), None);
        assert_eq!(config.score(&atm, 0.0, TODAY), None);
    }

    #[test]
    fn calls_and_puts_are_quoted_in_pairs() {
        // One root, distinct scores per (strike, expiry): every tie is a call and its
        // put, so an even budget quotes whole pairs.
        let keys = board("SPXW", &[0, 1, 2, 5], 6000, 7500, 5);
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig {
            quote_budget: 300,
            ..PlannerConfig::default()
        });
        planner.update(&[view("SPX", &e, &keys, Some(6852.5))], TODAY);
        let quoted = quoted_set(planner.current());
        assert_eq!(quoted.len(), 300);
        for k in &quoted {
            let right = match k.right {
                Right::Call => Right::Put,
                Right::Put => Right::Call,
            };
            assert!(
                quoted.contains(&ContractKey { right, ..*k }),
                "{k} without its pair"
            );
        }
    }

    #[test]
    fn a_spot_move_inside_the_band_keeps_the_plan() {
        let spx = spx_board();
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig::default());
        assert!(
            planner
                .update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY)
                .is_some()
        );
        let before = planner.current().clone();
        for spot in [6851.0, 6850.0 * 1.0024, 6850.0 * 0.9976, 6849.0] {
            assert_eq!(
                planner.update(&[view("SPX", &e, &spx, Some(spot))], TODAY),
                None
            );
        }
        // A missing spot keeps the plan too.
        assert_eq!(planner.update(&[view("SPX", &e, &spx, None)], TODAY), None);
        assert_eq!(planner.current(), &before);
    }

    #[test]
    fn a_spot_move_outside_the_band_replans_only_what_changed() {
        let spx = spx_board();
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig::default());
        planner.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
        let old: BTreeSet<String> = planner.current().params().into_iter().collect();
        // The band is measured from the anchor: a drift of 0.1% a step re-plans on
        // the third step, not never.
        let mut change = None;
        for (step, expect_replan) in [(1, false), (2, false), (3, true)] {
            let spot = 6850.0 * (1.0 + 0.001 * f64::from(step));
            change = planner.update(&[view("SPX", &e, &spx, Some(spot))], TODAY);
            assert_eq!(change.is_some(), expect_replan, "step {step}");
        }
        let change = change.unwrap();
        assert!(!change.is_empty());
        assert!(change.unsubscribe.iter().all(|p| old.contains(p)));
        assert!(change.subscribe.iter().all(|p| !old.contains(p)));
        // Same board, same trades: only quotes move, and only at the region's edges.
        assert!(
            change
                .unsubscribe
                .iter()
                .chain(&change.subscribe)
                .all(|p| p.starts_with("Q."))
        );
        assert!(
            change.subscribe.len() < 250,
            "{} new quotes",
            change.subscribe.len()
        );
        assert_eq!(change.unsubscribe.len(), change.subscribe.len());
        let anchor = planner.current().anchor(underlying("SPX")).unwrap();
        assert_eq!(anchor.source, AnchorSource::Spot);
        assert!((anchor.spot - 6850.0 * 1.003).abs() < 1e-9);
    }

    #[test]
    fn new_epochs_boards_and_days_replan() {
        let (spx, ndx) = (spx_board(), ndx_board());
        let (e1, e2, n1) = (epoch("SPX", 1), epoch("SPX", 2), epoch("NDX", 1));
        let mut planner = Planner::new(PlannerConfig::default());
        assert_eq!(planner.update(&[], TODAY), None, "nothing to plan");
        assert!(
            planner
                .update(&[view("SPX", &e1, &spx, Some(6850.0))], TODAY)
                .is_some()
        );

        // A new epoch re-plans even with nothing else changed.
        let fewer: Vec<ContractKey> = spx
            .iter()
            .copied()
            .filter(|k| k.strike.milli() != 6_850_000)
            .collect();
        let change = planner
            .update(&[view("SPX", &e2, &fewer, Some(6850.0))], TODAY)
            .unwrap();
        assert!(
            change.subscribe.is_empty() || change.subscribe.iter().all(|p| p.starts_with("Q."))
        );
        assert!(
            change
                .unsubscribe
                .iter()
                .any(|p| p == "T.O:SPXW261124C06850000")
        );
        assert!(
            change
                .unsubscribe
                .iter()
                .any(|p| p == "Q.O:SPXW261124C06850000")
        );
        assert_eq!(planner.current().summary().boards[0].epoch, e2);

        // Adding a board re-plans and shares the budget.
        let boards = [
            view("SPX", &e2, &fewer, Some(6850.0)),
            view("NDX", &n1, &ndx, Some(21000.0)),
        ];
        let change = planner.update(&boards, TODAY).unwrap();
        assert!(change.unsubscribe.iter().all(|p| p.starts_with("Q.O:SPX")));
        assert_eq!(planner.current().quoted().len(), 1_000);
        assert_eq!(planner.update(&boards, TODAY), None);

        // A new day re-plans: today's 0DTE has expired.
        let tomorrow = TODAY + 1.days();
        let change = planner.update(&boards, tomorrow).unwrap();
        assert!(
            change
                .unsubscribe
                .iter()
                .any(|p| p == "Q.O:SPXW261124C06855000")
        );
        assert!(
            planner
                .current()
                .quoted()
                .iter()
                .all(|k| k.expiration >= tomorrow)
        );

        // Removing a board unsubscribes all of it.
        let change = planner.update(&boards[1..], tomorrow).unwrap();
        assert!(change.subscribe.iter().all(|p| p.starts_with("Q.O:NDXP")));
        let spx_trades = change
            .unsubscribe
            .iter()
            .filter(|p| p.starts_with("T.O:SPX"))
            .count();
        assert_eq!(spx_trades, fewer.len());
        assert!(
            planner
                .current()
                .traded()
                .iter()
                .all(|k| k.root.as_str() == "NDXP")
        );

        // And removing the last one empties the plan.
        let change = planner.update(&[], tomorrow).unwrap();
        assert!(change.subscribe.is_empty());
        assert!(planner.current().is_empty());
    }

    #[test]
    fn a_board_without_spot_is_anchored_at_its_median_strike_until_one_arrives() {
        let keys = board("SPXW", &[0, 1], 6000, 7000, 5);
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig {
            quote_budget: 40,
            ..PlannerConfig::default()
        });
        let change = planner
            .update(&[view("SPX", &e, &keys, None)], TODAY)
            .unwrap();
        let anchor = change.summary.boards[0].anchor.unwrap();
        assert_eq!(anchor.source, AnchorSource::MedianStrike);
        assert_eq!(anchor.spot, 6500.0);
        assert!(
            planner
                .current()
                .quoted()
                .contains(&key("SPXW", TODAY, Right::Put, 6500.0))
        );
        assert_eq!(planner.update(&[view("SPX", &e, &keys, None)], TODAY), None);

        // The first real spot re-plans even inside the band of the median.
        let change = planner
            .update(&[view("SPX", &e, &keys, Some(6501.0))], TODAY)
            .unwrap();
        assert_eq!(
            change.summary.boards[0].anchor.unwrap().source,
            AnchorSource::Spot
        );

        // Losing the spot afterwards keeps the last one as the centre of new plans.
        let e2 = epoch("SPX", 2);
        let change = planner
            .update(&[view("SPX", &e2, &keys, None)], TODAY)
            .unwrap();
        let anchor = change.summary.boards[0].anchor.unwrap();
        assert_eq!(
            (anchor.source, anchor.spot),
            (AnchorSource::LastSpot, 6501.0)
        );
        assert!(change.is_empty(), "same centre, same contracts: {change:?}");
    }

    #[test]
    fn reset_resubscribes_everything_and_unsubscribes_nothing() {
        let (spx, ndx) = (spx_board(), ndx_board());
        let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
        let mut planner = Planner::new(PlannerConfig::default());
        assert!(planner.reset().subscribe.is_empty());
        let boards = [
            view("SPX", &e_spx, &spx, Some(6850.0)),
            view("NDX", &e_ndx, &ndx, Some(21000.0)),
        ];
        let first = planner.update(&boards, TODAY).unwrap();
        let reset = planner.reset();
        assert!(reset.unsubscribe.is_empty());
        assert_eq!(reset.subscribe, first.subscribe);
        assert_eq!(reset.subscribe, planner.current().params());
        assert_eq!(reset.subscribe.len(), 1_000 + spx.len() + ndx.len());
        // Quotes first, then trades, each sorted.
        let split = reset
            .subscribe
            .iter()
            .position(|p| p.starts_with("T."))
            .unwrap();
        assert_eq!(split, 1_000);
        assert!(
            reset.subscribe[..split]
                .iter()
                .all(|p| p.starts_with("Q.O:"))
        );
        assert!(
            reset.subscribe[split..]
                .iter()
                .all(|p| p.starts_with("T.O:"))
        );
        assert!(planner.current().quoted().is_sorted());
        // The plan is unchanged: the next update with the same input does nothing.
        assert_eq!(planner.update(&boards, TODAY), None);
    }

    #[test]
    fn trades_can_be_turned_off() {
        let spx = spx_board();
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig {
            trades: false,
            ..PlannerConfig::default()
        });
        let change = planner
            .update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY)
            .unwrap();
        assert!(change.subscribe.iter().all(|p| p.starts_with("Q.")));
        assert!(planner.current().traded().is_empty());
    }

    #[test]
    fn bad_config_numbers_fall_back_to_defaults() {
        let planner = Planner::new(PlannerConfig {
            hysteresis: f64::NAN,
            moneyness_unit: 0.0,
            days_unit: -1.0,
            ..PlannerConfig::default()
        });
        let (config, default) = (planner.config(), PlannerConfig::default());
        assert_eq!(config.hysteresis, default.hysteresis);
        assert_eq!(config.moneyness_unit, default.moneyness_unit);
        assert_eq!(config.days_unit, default.days_unit);
    }

    #[test]
    fn the_summary_is_one_readable_line() {
        let spx = spx_board();
        let e = epoch("SPX", 3);
        let mut planner = Planner::new(PlannerConfig::default());
        let change = planner
            .update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY)
            .unwrap();
        let line = change.summary.to_string();
        assert!(!line.contains('\n'));
        assert!(line.starts_with(&format!("1000/1000 quotes, {} trades; SPX SPX-20261124-0003 spot 6850.00: 1000/{} quoted, strikes ", spx.len(), spx.len())), "{line}");
        assert!(line.contains("expirations 2026-11-24"), "{line}");
    }

    /// Checks a batch of control messages against the params they were made from.
    fn check_messages(action: Action, params: &[String], max_bytes: usize) {
        let messages = control_messages(action, params, max_bytes);
        let mut seen = Vec::new();
        for m in &messages {
            assert!(m.len() < max_bytes, "{} bytes >= {max_bytes}: {m}", m.len());
            let json: serde_json::Value = serde_json::from_str(m).unwrap();
            assert_eq!(json["action"], action.as_str());
            let joined = json["params"].as_str().unwrap();
            assert!(!joined.is_empty());
            seen.extend(joined.split(',').map(str::to_owned));
        }
        assert_eq!(seen, params, "every param exactly once, in order");
    }

    #[test]
    fn control_messages_fit_and_carry_every_param_once() {
        let keys = board("SPXW", &[0, 1], 6000, 7000, 5);
        let params: Vec<String> = keys.iter().map(|k| param("Q.", k)).collect();
        let head = r#"{"action":"unsubscribe","params":""}"#.len();
        let one = params[0].len();
        // Room for exactly one param, two, a handful, and Massive's own limit.
        for max_bytes in [
            head + one + 1,
            head + 2 * one + 2,
            300,
            MAX_CONTROL_MESSAGE_BYTES,
        ] {
            for action in [Action::Subscribe, Action::Unsubscribe] {
                check_messages(action, &params, max_bytes);
            }
        }
        assert_eq!(
            control_messages(Action::Subscribe, &params, MAX_CONTROL_MESSAGE_BYTES).len(),
            1
        );
        assert_eq!(
            control_messages(Action::Subscribe, &params, head + one + 1).len(),
            params.len()
        );
        assert!(control_messages(Action::Subscribe, &[], 100).is_empty());
        // Odd params still make valid JSON.
        check_messages(
            Action::Subscribe,
            &["Q.\"x\\y\u{1}".to_owned(), "T.ü".to_owned()],
            200,
        );
    }

    #[test]
    fn change_messages_unsubscribe_before_they_subscribe() {
        let spx = spx_board();
        let e = epoch("SPX", 1);
        let mut planner = Planner::new(PlannerConfig::default());
        planner.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
        let change = planner
            .update(&[view("SPX", &e, &spx, Some(6900.0))], TODAY)
            .unwrap();
        let messages = change.messages(500);
        let first_subscribe = messages
            .iter()
            .position(|m| m.contains(r#""action":"subscribe""#))
            .unwrap();
        assert!(first_subscribe > 0);
        assert!(
            messages[..first_subscribe]
                .iter()
                .all(|m| m.contains(r#""action":"unsubscribe""#))
        );
        assert!(
            messages[first_subscribe..]
                .iter()
                .all(|m| m.contains(r#""action":"subscribe""#))
        );
    }

    /// One step of the property test: which boards exist, their epochs and spots, and
    /// the day.
    #[derive(Debug, Clone)]
    struct Step {
        spx: Option<(u32, Option<f64>)>,
        ndx: Option<(u32, Option<f64>)>,
        day: i64,
    }

    fn step() -> impl Strategy<Value = Step> {
        let spx = proptest::option::weighted(
            0.9,
            (1u32..4, proptest::option::weighted(0.8, 90.0f64..110.0)),
        );
        let ndx = proptest::option::weighted(
            0.6,
            (1u32..4, proptest::option::weighted(0.8, 180.0f64..240.0)),
        );
        (spx, ndx, 0i64..3).prop_map(|(spx, ndx, day)| Step { spx, ndx, day })
    }

    /// A small board whose contracts depend on the epoch, so new epochs move trades.
    fn small_board(root: &str, seq: u32, lo: u32, hi: u32, step: u32) -> Vec<ContractKey> {
        let days: Vec<i64> = (-1..5).collect();
        board(root, &days, lo + seq * step, hi - (seq % 2) * step, step)
    }

    proptest! {
        /// Applying each change (unsubscribes, then subscribes) to what was subscribed
        /// gives exactly the new plan, never holds more quotes than the budget, and
        /// never names a param on both sides.
        #[test]
        fn applying_each_change_gives_exactly_the_new_plan(
            budget in 0usize..80,
            hysteresis in 0.0f64..0.03,
            steps in proptest::collection::vec(step(), 1..10),
        ) {
            let mut planner = Planner::new(PlannerConfig { quote_budget: budget, hysteresis, ..PlannerConfig::default() });
            let mut live: BTreeSet<String> = BTreeSet::new();
            let quotes = |set: &BTreeSet<String>| set.iter().filter(|p| p.starts_with("Q.")).count();
            for s in &steps {
                let today = TODAY + s.day.days();
                let spx_epoch = s.spx.map(|(seq, _)| epoch("SPX", seq));
                let ndx_epoch = s.ndx.map(|(seq, _)| epoch("NDX", seq));
                let spx_keys = s.spx.map(|(seq, _)| small_board("SPXW", seq, 80, 120, 1)).unwrap_or_default();
                let ndx_keys = s.ndx.map(|(seq, _)| small_board("NDXP", seq, 160, 260, 2)).unwrap_or_default();
                let mut boards = Vec::new();
                if let (Some(e), Some((_, spot))) = (&spx_epoch, s.spx) {
                    boards.push(view("SPX", e, &spx_keys, spot));
                }
                if let (Some(e), Some((_, spot))) = (&ndx_epoch, s.ndx) {
                    boards.push(view("NDX", e, &ndx_keys, spot));
                }
                let Some(change) = planner.update(&boards, today) else {
                    prop_assert_eq!(&live, &planner.current().params().into_iter().collect());
                    continue;
                };
                let unsub: BTreeSet<&String> = change.unsubscribe.iter().collect();
                prop_assert!(change.subscribe.iter().all(|p| !unsub.contains(p)), "a param on both sides");
                for p in &change.unsubscribe {
                    prop_assert!(live.remove(p), "unsubscribing {} which is not subscribed", p);
                }
                prop_assert!(quotes(&live) <= budget);
                for p in &change.subscribe {
                    prop_assert!(live.insert(p.clone()), "subscribing {} twice", p);
                }
                prop_assert!(quotes(&live) <= budget);
                let plan = planner.current();
                prop_assert_eq!(&live, &plan.params().into_iter().collect());
                prop_assert!(plan.quoted().iter().all(|k| !planner.config().is_expired(k, today)));
                let mut fresh = Planner::new(planner.config().clone());
                if !boards.is_empty() && boards.iter().all(|b| b.spot.is_some()) {
                    // With every spot present a plan depends on its inputs alone.
                    fresh.update(&boards, today);
                    prop_assert_eq!(fresh.current(), plan);
                }
            }
        }

        /// Control messages stay under the limit, parse, and carry each param once.
        #[test]
        fn control_messages_cover_params_under_any_limit(
            params in proptest::collection::vec("[QT]\\.O:[A-Z]{3,4}[0-9]{6}[CP][0-9]{8}", 0..60),
            extra in 0usize..400,
        ) {
            let max_bytes = r#"{"action":"unsubscribe","params":""}"#.len() + 24 + extra;
            for action in [Action::Subscribe, Action::Unsubscribe] {
                check_messages(action, &params, max_bytes);
            }
        }
    }
}

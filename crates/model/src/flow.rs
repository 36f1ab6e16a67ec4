//! Customer flow: every trade signed against the quote in force when it printed.
//!
//! Open interest is last night's; half of SPX volume is now opened and closed within
//! the session. Signing each print against the NBBO it hit says who initiated it (the
//! customer, by assumption; dealers quote) and so which way dealers' books moved
//! today. This module is the rule and the per-contract session totals it feeds; it
//! runs on the hot path with the contract's state already in hand, and allocates
//! nothing.
//!
//! # The rule (a quote rule of the Lee–Ready family)
//!
//! For a regular single-leg trade at price `p`, against the quote `bid`/`ask` in force
//! at its time (below):
//!
//! 1. `p ≥ ask`: a customer **buy** (at or through the offer); `p ≤ bid`: a customer
//!    **sell**.
//! 2. Inside the spread, by position `x = (p − mid) / (ask − bid)`, which runs from
//!    −0.5 at the bid to +0.5 at the ask: `x ≥ margin` is a buy, `x ≤ −margin` a sell.
//!    The default margin of 0.2 makes the top and bottom 30% of the spread decisive
//!    and leaves the middle 40% to the next step, as Chakrabarty, Li, Nguyen and Van
//!    Ness (2007, *J. Banking & Finance* 31) do; Lee and Ready (1991, *J. Finance* 46)
//!    split at the mid itself.
//! 3. Near the mid, or in a locked market (`bid = ask`), the tick test against the
//!    contract's previous regular trade: an uptick is a buy, a downtick a sell, an
//!    unchanged price takes the last non-zero tick's direction.
//! 4. Otherwise (no previous trade, no tick yet, or a trade older than the previous
//!    one): **unknown**.
//!
//! Savickas and Wilson (2003, *J. Financial and Quantitative Analysis* 38) find the
//! quote rule the most accurate on options and the tick test the least, which is why
//! the tick test only breaks ties here.
//!
//! # Which quote
//!
//! The latest quote stamped at or before the trade: the contract keeps its current
//! quote and the one before it, so a quote that arrived ahead of an earlier-stamped
//! trade does not sign it. A live quote (the WebSocket's) is in force until replaced,
//! whatever its age (a photo showing the same prices confirms it; one with other
//! prices makes it a photo's quote). A contract outside the quote plan only has its
//! last chain photo's
//! quote; that is used only while younger than [`FlowConfig::photo_quote_max_age_ms`].
//! A missing side, a crossed market or no quote at the trade's time leaves the trade
//! unknown: never guessed. Each signed trade says which quote signed it and how old
//! that quote was.
//!
//! # What is not signed
//!
//! Only regular single-leg trades carry a side the quote can reveal. Legs of complex
//! orders print at the package's price, not against the leg's own quote; cancelled and
//! late reports are not today's flow as it happened. Their condition codes
//! ([`Conditions`]; the mapping is in `docs/flow.md`) exclude them, counted by reason.
//! Their volume still counts in the contract's day volume.
//!
//! # What the rule cannot know
//!
//! Whether a trade opens or closes a position, and whether the other side was a
//! dealer at all (customer-to-customer crosses happen): flow is an estimate of
//! dealers' positioning, published with the share of volume it could sign.

/// The trading session flow is counted for: trades stamped in `[start_ms, end_ms)`
/// belong to it. Derived from the exchange calendar
/// (`chainboard_quant::expiry::flow_session`): from the previous trading day's close
/// to this day's close, so the overnight session's prints count towards the day they
/// lead into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session {
    /// The trading date.
    pub date: jiff::civil::Date,
    /// First millisecond, Unix ms.
    pub start_ms: i64,
    /// End (exclusive), Unix ms.
    pub end_ms: i64,
}

/// How a trade's condition codes qualify it for signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Conditions {
    /// A regular single-leg trade (or no conditions at all): signed.
    #[default]
    Regular,
    /// Excluded from signing, for this reason.
    Excluded(Excluded),
}

/// Why a trade's conditions keep it out of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Excluded {
    /// A leg of a multi-leg (complex) order: 232–236, 238, 239, 246.
    MultiLeg,
    /// A leg of a stock-option combination: 237, 240–245.
    StockOption,
    /// Cancelled: 201, 203, 205, 207.
    Cancelled,
    /// Reported late or out of sequence: 202, 204, 206, 208.
    Late,
    /// A compression trade (247), not a market transaction.
    Compression,
    /// A code outside the documented table: not assumed regular.
    UnknownCode,
}

impl Excluded {
    /// Every reason, in the order counts are published.
    pub const ALL: [Excluded; 6] = [
        Excluded::MultiLeg,
        Excluded::StockOption,
        Excluded::Cancelled,
        Excluded::Late,
        Excluded::Compression,
        Excluded::UnknownCode,
    ];

    /// The name in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Excluded::MultiLeg => "multi_leg",
            Excluded::StockOption => "stock_option",
            Excluded::Cancelled => "cancelled",
            Excluded::Late => "late",
            Excluded::Compression => "compression",
            Excluded::UnknownCode => "unknown_code",
        }
    }

    /// Its index in [`Excluded::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Precedence when a trade carries several: a cancelled report is not a trade at
    /// all, a late one is not today's flow as it happened, then the kind of package.
    fn rank(self) -> u8 {
        match self {
            Excluded::Cancelled => 0,
            Excluded::Late => 1,
            Excluded::MultiLeg => 2,
            Excluded::StockOption => 3,
            Excluded::Compression => 4,
            Excluded::UnknownCode => 5,
        }
    }
}

impl Conditions {
    /// Reads Massive's options trade condition codes (the `c` array of a `T` event).
    /// Regular codes (209 automatic execution, 210 reopening, 219 intermarket sweep,
    /// 227–231 single-leg auctions, crosses and floor trades, 248 extended hours) keep
    /// a trade signable; any excluding code excludes it, the most telling reason
    /// winning ([`Excluded`]).
    pub fn from_codes(codes: impl IntoIterator<Item = u32>) -> Self {
        let mut worst: Option<Excluded> = None;
        for code in codes {
            let why = match code {
                209 | 210 | 219 | 227..=231 | 248 => continue,
                201 | 203 | 205 | 207 => Excluded::Cancelled,
                202 | 204 | 206 | 208 => Excluded::Late,
                232..=236 | 238 | 239 | 246 => Excluded::MultiLeg,
                237 | 240..=245 => Excluded::StockOption,
                247 => Excluded::Compression,
                _ => Excluded::UnknownCode,
            };
            if worst.is_none_or(|w| why.rank() < w.rank()) {
                worst = Some(why);
            }
        }
        worst.map_or(Conditions::Regular, Conditions::Excluded)
    }
}

/// The customer's side of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The customer bought (dealers sold).
    Buy,
    /// The customer sold (dealers bought).
    Sell,
    /// The rule could not tell.
    Unknown,
}

impl Side {
    /// Every side, in the order counts are published.
    pub const ALL: [Side; 3] = [Side::Buy, Side::Sell, Side::Unknown];

    /// The name in JSON: `buy`, `sell`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
            Side::Unknown => "unknown",
        }
    }

    /// Its index in [`Side::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which quote a trade was signed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuoteSource {
    /// The live NBBO from the WebSocket.
    Live,
    /// The last chain photo's quote, younger than the limit.
    Photo,
    /// None usable: the trade is unknown.
    None,
}

impl QuoteSource {
    /// Every source, in the order counts are published.
    pub const ALL: [QuoteSource; 3] = [QuoteSource::Live, QuoteSource::Photo, QuoteSource::None];

    /// The name in JSON: `live`, `photo`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            QuoteSource::Live => "live",
            QuoteSource::Photo => "photo",
            QuoteSource::None => "none",
        }
    }

    /// Its index in [`QuoteSource::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which step of the rule decided a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// At or through the bid or the ask.
    Touch,
    /// Inside the spread, beyond the margin from the mid.
    Inside,
    /// The tick test.
    Tick,
    /// A quote was in force but nothing decided (near the mid, no tick).
    Undecided,
    /// No usable quote: missing, one-sided, crossed, none at the trade's time, or a
    /// photo quote past its age limit.
    NoQuote,
}

impl Rule {
    /// Every rule, in the order counts are published.
    pub const ALL: [Rule; 5] = [
        Rule::Touch,
        Rule::Inside,
        Rule::Tick,
        Rule::Undecided,
        Rule::NoQuote,
    ];

    /// The name in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Touch => "touch",
            Rule::Inside => "inside",
            Rule::Tick => "tick",
            Rule::Undecided => "undecided",
            Rule::NoQuote => "no_quote",
        }
    }

    /// Its index in [`Rule::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One trade's classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    /// The customer's side.
    pub side: Side,
    /// The step that decided it.
    pub rule: Rule,
    /// The quote it was signed against.
    pub quote: QuoteSource,
    /// That quote's age at the trade, ms (`None` without a quote).
    pub quote_age_ms: Option<i64>,
}

/// The rule's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowConfig {
    /// Inside the spread, how far from the mid (a fraction of the spread, 0 to 0.5) a
    /// price must be to take that side's sign: 0.2, so the outer 30% on each side.
    pub inside_margin: f64,
    /// A photo's quote signs trades only while younger than this, ms (default 10 s:
    /// a busy contract's quote moves every few seconds, so an older photo says little
    /// of the market a trade met).
    pub photo_quote_max_age_ms: i64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            inside_margin: 0.2,
            photo_quote_max_age_ms: 10_000,
        }
    }
}

/// Cents per point of option price per contract (the 100 multiplier times 100
/// cents): a premium is kept in cents as an integer, so flow sums are exact and
/// order-independent.
const CENTS_PER_POINT_CONTRACT: f64 = 100.0 * 100.0;

/// A contract's customer flow for the session, and what the tick test remembers.
///
/// Flow belongs to the trading session, not to an epoch: when a new epoch's board
/// still lists a contract, its flow is carried over (the same contract traded in both
/// boards); it is reset when the session changes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ContractFlow {
    /// Contracts bought by customers.
    pub buy: u64,
    /// Contracts sold by customers.
    pub sell: u64,
    /// Contracts of regular trades the rule could not sign.
    pub unknown: u64,
    /// Premium of customer buys, cents (size × price × 100 × 100).
    pub buy_premium_cents: u64,
    /// Premium of customer sells, cents.
    pub sell_premium_cents: u64,
    /// Premium of unsigned regular trades, cents.
    pub unknown_premium_cents: u64,
    /// The previous regular trade's price and time, for the tick test.
    prev: Option<(f64, i64)>,
    /// The last non-zero tick: +1 up, −1 down, 0 none yet.
    tick: i8,
}

impl ContractFlow {
    /// Customer net size: bought minus sold, contracts (saturating, so even a
    /// saturated count keeps its sign).
    pub fn net(&self) -> i64 {
        signed(self.buy).saturating_sub(signed(self.sell))
    }

    /// Customer net premium, cents: bought minus sold.
    pub fn net_premium_cents(&self) -> i64 {
        signed(self.buy_premium_cents).saturating_sub(signed(self.sell_premium_cents))
    }

    /// Regular volume, signed or not, contracts.
    pub fn volume(&self) -> u64 {
        self.buy + self.sell + self.unknown
    }

    /// Whether any regular trade was seen this session.
    pub fn is_empty(&self) -> bool {
        self.volume() == 0
    }

    /// Adds a signed trade of `size` contracts at `price` (points).
    pub fn add(&mut self, side: Side, size: u64, price: f64) {
        let cents = premium_cents(size, price);
        let (count, premium) = match side {
            Side::Buy => (&mut self.buy, &mut self.buy_premium_cents),
            Side::Sell => (&mut self.sell, &mut self.sell_premium_cents),
            Side::Unknown => (&mut self.unknown, &mut self.unknown_premium_cents),
        };
        *count = count.saturating_add(size);
        *premium = premium.saturating_add(cents);
    }

    /// The tick test's verdict for a trade at `price` and `ts_ms`, before it is
    /// remembered.
    fn tick_side(&self, price: f64, ts_ms: i64) -> Option<Side> {
        let (prev, prev_ts) = self.prev?;
        if ts_ms < prev_ts {
            return None;
        }
        let dir = if price > prev {
            1
        } else if price < prev {
            -1
        } else {
            self.tick
        };
        match dir {
            1 => Some(Side::Buy),
            -1 => Some(Side::Sell),
            _ => None,
        }
    }

    /// Remembers a regular trade for the next tick test (an out-of-order trade, older
    /// than the one remembered, is not).
    fn remember(&mut self, price: f64, ts_ms: i64) {
        match self.prev {
            Some((_, prev_ts)) if ts_ms < prev_ts => {}
            Some((prev, _)) => {
                if price > prev {
                    self.tick = 1;
                } else if price < prev {
                    self.tick = -1;
                }
                self.prev = Some((price, ts_ms));
            }
            None => self.prev = Some((price, ts_ms)),
        }
    }

    /// Clears the session's flow and the tick test's memory.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// A trade's premium in cents, rounded once: `size × price × 100` dollars.
pub fn premium_cents(size: u64, price: f64) -> u64 {
    let per_contract = (price * CENTS_PER_POINT_CONTRACT).round();
    if per_contract.is_finite() && per_contract > 0.0 {
        (per_contract as u64).saturating_mul(size)
    } else {
        0
    }
}

/// `n` as an `i64`, `i64::MAX` beyond it.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The largest size a trade may have to be signed, contracts: the largest option
/// prints are of the order of 10⁵ contracts, so a larger one is a broken record, not
/// flow (and with [`MAX_TRADE_PRICE`] it keeps one trade's premium far from
/// overflowing).
pub const MAX_TRADE_SIZE: u64 = 1_000_000;

/// The highest price a trade may have to be signed, points: an option on SPX or NDX
/// is worth less than its index, far below this.
pub const MAX_TRADE_PRICE: f64 = 100_000.0;

/// Prices are on a cent grid, and `(price − mid) / spread` in binary floating point
/// can land a hair inside a margin the prices meet exactly (10.70 on 10.00 × 11.00
/// gives 0.19999999999999929); this much absorbs that.
const MARGIN_EPSILON: f64 = 1e-9;

/// The quote a trade is signed against, as the contract holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuoteAt {
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// When it was made, Unix ms.
    pub ts_ms: i64,
    /// Whether it came from the live feed (else from a photo).
    pub live: bool,
}

/// Signs a trade at `price` and `ts_ms` against `quote` (the latest quote stamped at
/// or before it, if any) and `flow` (the contract's tick memory), then remembers it
/// for the next tick test. Does not add it to the totals: see [`ContractFlow::add`].
pub fn sign(
    price: f64,
    ts_ms: i64,
    quote: Option<QuoteAt>,
    flow: &mut ContractFlow,
    config: &FlowConfig,
) -> Signed {
    let signed = sign_against(price, ts_ms, quote, flow, config);
    flow.remember(price, ts_ms);
    signed
}

fn sign_against(
    price: f64,
    ts_ms: i64,
    quote: Option<QuoteAt>,
    flow: &ContractFlow,
    config: &FlowConfig,
) -> Signed {
    let no_quote = Signed {
        side: Side::Unknown,
        rule: Rule::NoQuote,
        quote: QuoteSource::None,
        quote_age_ms: None,
    };
    let Some(q) = quote else {
        return no_quote;
    };
    let age = ts_ms - q.ts_ms;
    let source = if q.live {
        QuoteSource::Live
    } else if age < config.photo_quote_max_age_ms {
        QuoteSource::Photo
    } else {
        return no_quote;
    };
    let (Some(bid), Some(ask)) = (q.bid, q.ask) else {
        return no_quote;
    };
    if bid > ask || ask <= 0.0 {
        return no_quote;
    }
    let decided = |side, rule| Signed {
        side,
        rule,
        quote: source,
        quote_age_ms: Some(age),
    };
    // At or through the quote; a locked quote (bid = ask) signs only prints through
    // it, a print at it is the tick test's.
    let open = bid < ask;
    if price > ask || (open && price >= ask) {
        return decided(Side::Buy, Rule::Touch);
    }
    if price < bid || (open && price <= bid) {
        return decided(Side::Sell, Rule::Touch);
    }
    if open {
        let x = (price - (bid + ask) / 2.0) / (ask - bid);
        if x >= config.inside_margin - MARGIN_EPSILON {
            return decided(Side::Buy, Rule::Inside);
        }
        if x <= -config.inside_margin + MARGIN_EPSILON {
            return decided(Side::Sell, Rule::Inside);
        }
    }
    match flow.tick_side(price, ts_ms) {
        Some(side) => decided(side, Rule::Tick),
        None => decided(Side::Unknown, Rule::Undecided),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_536_000_000;

    fn live(bid: f64, ask: f64) -> Option<QuoteAt> {
        Some(QuoteAt {
            bid: Some(bid),
            ask: Some(ask),
            ts_ms: T - 5,
            live: true,
        })
    }

    fn side(price: f64, quote: Option<QuoteAt>, flow: &mut ContractFlow) -> (Side, Rule) {
        let s = sign(price, T, quote, flow, &FlowConfig::default());
        (s.side, s.rule)
    }

    #[test]
    fn at_and_through_the_quote() {
        let mut f = ContractFlow::default();
        let q = live(10.0, 10.4);
        assert_eq!(side(10.4, q, &mut f), (Side::Buy, Rule::Touch));
        assert_eq!(side(10.6, q, &mut f), (Side::Buy, Rule::Touch), "through");
        assert_eq!(side(10.0, q, &mut f), (Side::Sell, Rule::Touch));
        assert_eq!(side(9.8, q, &mut f), (Side::Sell, Rule::Touch), "through");
    }

    #[test]
    fn inside_the_spread_by_the_nearer_side_beyond_the_margin() {
        let mut f = ContractFlow::default();
        let q = live(10.0, 11.0);
        // x = +0.3 and −0.3: decided; ±0.1: left to the tick test, with none yet.
        assert_eq!(side(10.8, q, &mut f), (Side::Buy, Rule::Inside));
        assert_eq!(side(10.2, q, &mut f), (Side::Sell, Rule::Inside));
        let mut fresh = ContractFlow::default();
        assert_eq!(side(10.6, q, &mut fresh), (Side::Unknown, Rule::Undecided));
    }

    #[test]
    fn at_the_mid_the_tick_test_decides_when_there_is_a_previous_trade() {
        let q = live(10.0, 11.0);
        let mut f = ContractFlow::default();
        assert_eq!(side(10.5, q, &mut f), (Side::Unknown, Rule::Undecided));
        // Same price, no tick yet: still unknown.
        assert_eq!(side(10.5, q, &mut f), (Side::Unknown, Rule::Undecided));
        let mut up = ContractFlow::default();
        up.remember(10.4, T - 100);
        assert_eq!(side(10.5, q, &mut up), (Side::Buy, Rule::Tick));
        // Zero tick: the last non-zero tick's direction.
        assert_eq!(side(10.5, q, &mut up), (Side::Buy, Rule::Tick));
        let mut down = ContractFlow::default();
        down.remember(10.6, T - 100);
        assert_eq!(side(10.5, q, &mut down), (Side::Sell, Rule::Tick));
        // A locked market is decided by the tick test alone.
        assert_eq!(
            side(10.0, live(10.0, 10.0), &mut down),
            (Side::Sell, Rule::Tick)
        );
    }

    #[test]
    fn out_of_order_trades_get_no_tick_and_leave_the_memory_alone() {
        let q = live(10.0, 11.0);
        let mut f = ContractFlow::default();
        f.remember(10.4, T + 1_000);
        assert_eq!(side(10.5, q, &mut f), (Side::Unknown, Rule::Undecided));
        assert_eq!(f.prev, Some((10.4, T + 1_000)));
    }

    #[test]
    fn the_inside_margin_is_met_exactly_on_a_cent_grid() {
        // 10.70 on 10.00 × 11.00 is 0.2 of the spread above mid, which binary
        // floating point computes as 0.19999999999999929.
        for (price, want) in [(10.70, Side::Buy), (10.30, Side::Sell)] {
            let mut f = ContractFlow::default();
            assert_eq!(side(price, live(10.0, 11.0), &mut f), (want, Rule::Inside));
        }
        // On a 0.05 grid every print at the margin is signed by it.
        for cents in (5..2_000u32).step_by(5) {
            let bid = f64::from(cents) / 100.0;
            let ask = bid + 0.50;
            let mut f = ContractFlow::default();
            assert_eq!(
                side(bid + 0.35, live(bid, ask), &mut f),
                (Side::Buy, Rule::Inside),
                "{bid}"
            );
        }
    }

    #[test]
    fn a_locked_quote_signs_only_prints_through_it() {
        let mut f = ContractFlow::default();
        let locked = live(10.0, 10.0);
        assert_eq!(side(10.05, locked, &mut f), (Side::Buy, Rule::Touch));
        assert_eq!(side(9.95, locked, &mut f), (Side::Sell, Rule::Touch));
        let mut f = ContractFlow::default();
        assert_eq!(side(10.0, locked, &mut f), (Side::Unknown, Rule::Undecided));
    }

    #[test]
    fn saturated_counts_keep_their_sign() {
        let mut f = ContractFlow::default();
        f.add(Side::Buy, u64::MAX, 1.0);
        f.add(Side::Buy, 5, 1.0);
        assert_eq!(f.buy, u64::MAX);
        assert_eq!(f.net(), i64::MAX, "not −1");
        assert!(f.net_premium_cents() > 0);
        f.add(Side::Sell, u64::MAX, 1.0);
        assert_eq!((f.net(), f.net_premium_cents()), (0, 0));
    }

    #[test]
    fn missing_crossed_and_stale_photo_quotes_leave_the_trade_unknown() {
        let mut f = ContractFlow::default();
        let unknown = (Side::Unknown, Rule::NoQuote);
        assert_eq!(side(10.0, None, &mut f), unknown);
        assert_eq!(side(10.0, live(10.5, 10.0), &mut f), unknown, "crossed");
        let one_sided = Some(QuoteAt {
            bid: None,
            ..live(10.0, 11.0).unwrap()
        });
        assert_eq!(side(11.0, one_sided, &mut f), unknown);
        let photo = |age: i64| {
            Some(QuoteAt {
                ts_ms: T - age,
                live: false,
                ..live(10.0, 11.0).unwrap()
            })
        };
        let s = sign(11.0, T, photo(3_000), &mut f, &FlowConfig::default());
        assert_eq!(
            (s.side, s.quote, s.quote_age_ms),
            (Side::Buy, QuoteSource::Photo, Some(3_000))
        );
        assert_eq!(side(11.0, photo(60_000), &mut f), unknown, "stale photo");
        // Younger than the limit: exactly at it is stale.
        assert_eq!(side(11.0, photo(9_999), &mut f).0, Side::Buy);
        assert_eq!(
            side(11.0, photo(10_000), &mut f),
            unknown,
            "as old as the limit"
        );
        let s = sign(11.0, T, live(10.0, 11.0), &mut f, &FlowConfig::default());
        assert_eq!((s.quote, s.quote_age_ms), (QuoteSource::Live, Some(5)));
    }

    #[test]
    fn condition_codes_map_to_reasons() {
        assert_eq!(Conditions::from_codes([]), Conditions::Regular);
        assert_eq!(Conditions::from_codes([209, 219]), Conditions::Regular);
        assert_eq!(Conditions::from_codes([227]), Conditions::Regular);
        let ex = |r| Conditions::Excluded(r);
        assert_eq!(Conditions::from_codes([232]), ex(Excluded::MultiLeg));
        assert_eq!(Conditions::from_codes([209, 236]), ex(Excluded::MultiLeg));
        assert_eq!(Conditions::from_codes([241]), ex(Excluded::StockOption));
        assert_eq!(Conditions::from_codes([201]), ex(Excluded::Cancelled));
        assert_eq!(Conditions::from_codes([232, 204]), ex(Excluded::Late));
        assert_eq!(Conditions::from_codes([204, 203]), ex(Excluded::Cancelled));
        assert_eq!(Conditions::from_codes([247]), ex(Excluded::Compression));
        assert_eq!(Conditions::from_codes([999]), ex(Excluded::UnknownCode));
    }

    #[test]
    fn premiums_are_exact_cents() {
        let mut f = ContractFlow::default();
        f.add(Side::Buy, 3, 6.1);
        f.add(Side::Sell, 1, 0.05);
        f.add(Side::Unknown, 2, 1.25);
        assert_eq!((f.buy_premium_cents, f.sell_premium_cents), (183_000, 500));
        assert_eq!(f.unknown_premium_cents, 25_000);
        assert_eq!(
            (f.net(), f.net_premium_cents(), f.volume()),
            (2, 182_500, 6)
        );
        assert_eq!(premium_cents(5, f64::NAN), 0);
    }
}

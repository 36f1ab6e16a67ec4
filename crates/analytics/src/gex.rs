//! Dealer exposure sums per strike, per expiration and in total, kept incrementally
//! and exactly.
//!
//! A tick subtracts a changed contract's old contribution and adds its new one. With
//! floating point, a day of subtract-and-add would drift away from the sum a full
//! recompute gives; here every contribution is rounded once to an integer number of
//! milli-dollars and the sums are `i128`, so the incremental sums *equal* a full
//! recompute bit for bit, in any order (a property test holds the builder to it).
//! A milli-dollar is far below anything a trader reads, and an `i128` cannot overflow
//! on any real board.
//!
//! Each expiration column belongs to some of the [`ExpiryFilter`]s (a bit mask fixed
//! at each re-anchor, when days to expiry are recomputed); a contract's contribution
//! goes to its strike row in every filter its column belongs to.

use crate::layout::Position;

/// The expiry filters of the GEX profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpiryFilter {
    /// Every expiration on the board.
    All,
    /// Expiring in the current session: the exchange's session date
    /// ([`chainboard_quant::expiry::session_date`]: today before the close, the next
    /// trading day after it, on a weekend or a holiday).
    ZeroDte,
    /// The nearest expiration that has not settled.
    Next,
    /// Expiring within 7 calendar days.
    Week,
    /// Expiring within 45 calendar days.
    Days45,
    /// The expirations a trader watches day to day: the session's own (0DTE), the
    /// rest of its week (through that Friday), and the next standard monthly (the
    /// nearest AM-settled expiration not yet settled, with every root of its date).
    /// The UI's default.
    Front,
}

impl ExpiryFilter {
    /// Every filter, in publishing order.
    pub const ALL: [ExpiryFilter; 6] = [
        ExpiryFilter::All,
        ExpiryFilter::ZeroDte,
        ExpiryFilter::Next,
        ExpiryFilter::Week,
        ExpiryFilter::Days45,
        ExpiryFilter::Front,
    ];

    /// The name in JSON and the API: `all`, `0dte`, `next`, `7d`, `45d`, `front`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryFilter::All => "all",
            ExpiryFilter::ZeroDte => "0dte",
            ExpiryFilter::Next => "next",
            ExpiryFilter::Week => "7d",
            ExpiryFilter::Days45 => "45d",
            ExpiryFilter::Front => "front",
        }
    }

    /// Parses [`ExpiryFilter::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Its bit in a column's filter mask.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Its index in [`ExpiryFilter::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which exposure a number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Call GEX by open interest.
    CallGex,
    /// Put GEX by open interest.
    PutGex,
    /// Call GEX by today's volume.
    CallGexVolume,
    /// Put GEX by today's volume.
    PutGexVolume,
    /// Delta exposure by open interest.
    Dex,
    /// Vanna exposure by open interest.
    Vanna,
    /// Charm exposure by open interest.
    Charm,
    /// Call GEX, flow-adjusted: on the open-interest position (its sign convention)
    /// plus the change today's customer flow made to dealers' books.
    CallGexFlow,
    /// Put GEX, flow-adjusted.
    PutGexFlow,
}

impl Metric {
    /// Every metric, in storage and publishing order.
    pub const ALL: [Metric; 9] = [
        Metric::CallGex,
        Metric::PutGex,
        Metric::CallGexVolume,
        Metric::PutGexVolume,
        Metric::Dex,
        Metric::Vanna,
        Metric::Charm,
        Metric::CallGexFlow,
        Metric::PutGexFlow,
    ];

    /// The name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::CallGex => "call_gex",
            Metric::PutGex => "put_gex",
            Metric::CallGexVolume => "call_gex_volume",
            Metric::PutGexVolume => "put_gex_volume",
            Metric::Dex => "dex",
            Metric::Vanna => "vanna",
            Metric::Charm => "charm",
            Metric::CallGexFlow => "call_gex_flow",
            Metric::PutGexFlow => "put_gex_flow",
        }
    }
}

const METRICS: usize = Metric::ALL.len();

/// Fixed-point units per dollar.
const UNITS_PER_DOLLAR: f64 = 1_000.0;

/// One contract's exposures, in milli-dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contribution([i64; METRICS]);

impl Contribution {
    /// Rounds dollar amounts (in [`Metric::ALL`] order) to milli-dollars. A
    /// non-finite amount counts as zero (Rust's float-to-int cast saturates and maps
    /// NaN to 0, so this cannot panic).
    pub fn from_dollars(dollars: [f64; METRICS]) -> Self {
        let mut units = [0i64; METRICS];
        for (u, d) in units.iter_mut().zip(dollars) {
            *u = if d.is_finite() {
                (d * UNITS_PER_DOLLAR).round() as i64
            } else {
                0
            };
        }
        Self(units)
    }

    /// One metric, in dollars.
    pub fn dollars(&self, metric: Metric) -> f64 {
        self.0[metric as usize] as f64 / UNITS_PER_DOLLAR
    }
}

/// Exact sums of contributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sums([i128; METRICS]);

impl Sums {
    fn add(&mut self, c: &Contribution) {
        for (s, u) in self.0.iter_mut().zip(c.0) {
            *s += i128::from(u);
        }
    }

    fn sub(&mut self, c: &Contribution) {
        for (s, u) in self.0.iter_mut().zip(c.0) {
            *s -= i128::from(u);
        }
    }

    /// One metric, in dollars.
    pub fn dollars(&self, metric: Metric) -> f64 {
        self.0[metric as usize] as f64 / UNITS_PER_DOLLAR
    }

    /// Every metric in dollars, in [`Metric::ALL`] order.
    pub fn to_dollars(&self) -> [f64; METRICS] {
        Metric::ALL.map(|m| self.dollars(m))
    }

    /// Net GEX by open interest (calls plus puts, signed).
    pub fn net_gex(&self) -> f64 {
        (self.0[Metric::CallGex as usize] + self.0[Metric::PutGex as usize]) as f64
            / UNITS_PER_DOLLAR
    }

    /// Raw units of one metric, for exact comparisons.
    pub fn units(&self, metric: Metric) -> i128 {
        self.0[metric as usize]
    }
}

/// The sums of one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GexBook {
    strikes: usize,
    /// `[filter][strike]`, filter-major.
    per_strike: Vec<Sums>,
    per_expiry: Vec<Sums>,
    totals: [Sums; ExpiryFilter::ALL.len()],
}

impl GexBook {
    /// Empty sums for a grid of `strikes` rows and `expiries` columns.
    pub fn new(strikes: usize, expiries: usize) -> Self {
        Self {
            strikes,
            per_strike: vec![Sums::default(); strikes * ExpiryFilter::ALL.len()],
            per_expiry: vec![Sums::default(); expiries],
            totals: [Sums::default(); ExpiryFilter::ALL.len()],
        }
    }

    /// Replaces a contract's contribution `old` by `new`. `filters` is its column's
    /// filter mask.
    pub fn replace(&mut self, pos: Position, filters: u8, old: &Contribution, new: &Contribution) {
        if old == new {
            return;
        }
        let strike = usize::from(pos.strike);
        for f in ExpiryFilter::ALL {
            if filters & f.bit() != 0 {
                let cell = &mut self.per_strike[f.index() * self.strikes + strike];
                cell.sub(old);
                cell.add(new);
                self.totals[f.index()].sub(old);
                self.totals[f.index()].add(new);
            }
        }
        if let Some(e) = self.per_expiry.get_mut(usize::from(pos.expiry)) {
            e.sub(old);
            e.add(new);
        }
    }

    /// Adds a contract's contribution (building from scratch).
    pub fn add(&mut self, pos: Position, filters: u8, c: &Contribution) {
        self.replace(pos, filters, &Contribution::default(), c);
    }

    /// The per-strike sums of one filter, in strike order.
    pub fn per_strike(&self, filter: ExpiryFilter) -> &[Sums] {
        let start = filter.index() * self.strikes;
        &self.per_strike[start..start + self.strikes]
    }

    /// The per-expiration sums (every strike), in column order.
    pub fn per_expiry(&self) -> &[Sums] {
        &self.per_expiry
    }

    /// The total of one filter.
    pub fn total(&self, filter: ExpiryFilter) -> Sums {
        self.totals[filter.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainboard_model::Right;

    fn pos(expiry: u16, strike: u16) -> Position {
        Position {
            expiry,
            strike,
            right: Right::Call,
        }
    }

    #[test]
    fn replacing_in_any_order_equals_adding_from_scratch() {
        let all = ExpiryFilter::All.bit();
        let near = all | ExpiryFilter::ZeroDte.bit() | ExpiryFilter::Next.bit();
        let a =
            Contribution::from_dollars([1e9 / 3.0, 0.0, 5.5, 0.0, -7.25, 0.1, f64::NAN, 1.0, 0.0]);
        let b = Contribution::from_dollars([2e9 / 7.0, 0.0, 1.0, 0.0, 3.0, -0.1, 1e300, 2.0, 0.0]);
        let c = Contribution::from_dollars([0.0, -1e8 / 9.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, -3.0]);
        let mut incremental = GexBook::new(3, 2);
        incremental.add(pos(0, 1), near, &a);
        incremental.add(pos(1, 1), all, &c);
        incremental.replace(pos(0, 1), near, &a, &b);
        incremental.replace(pos(1, 1), all, &c, &a);
        incremental.replace(pos(0, 1), near, &b, &c);
        let mut scratch = GexBook::new(3, 2);
        scratch.add(pos(1, 1), all, &a);
        scratch.add(pos(0, 1), near, &c);
        assert_eq!(incremental, scratch);
        let zero = incremental.per_strike(ExpiryFilter::ZeroDte)[1];
        assert_eq!(zero.dollars(Metric::PutGex), -11_111_111.111);
        assert_eq!(
            incremental.per_strike(ExpiryFilter::Week)[1],
            Sums::default()
        );
        assert_eq!(
            incremental
                .total(ExpiryFilter::All)
                .dollars(Metric::CallGex),
            333_333_333.333
        );
    }
}

//! Where the simulated market's open interest and volume sit: the shape that decides
//! what dealer gamma, the walls and the zero-gamma flip look like on the demo.
//!
//! GEX is a weighted sum of open interest, so a simulator whose OI is shaped wrong
//! shows levels no trader would believe (a put-heavy book at every strike gives a
//! profile that is negative everywhere and no flip at all). The shape here follows
//! what is published about the real SPX and NDX books; `docs/simulator.md` gives the
//! figures and their sources:
//!
//! - **Totals.** Open interest and the day's volume are *totals* for the whole chain
//!   ([`Positioning::open_interest`], [`Positioning::daily_volume`]), spread over the
//!   listed contracts by the weights below and scaled to the totals. So the totals do
//!   not depend on how many strikes or expirations happen to be listed on the day the
//!   chain is generated.
//! - **By expiry.** Monthly and quarterly expirations carry most of the open interest
//!   (institutions hedge in them; [`ExpiryKind`] weights), and it thins out with time
//!   to expiry. Today's expiration carries a large share of the *volume*
//!   ([`Positioning::zero_dte_volume_share`]); the rest of the volume falls off with
//!   days to expiry.
//! - **By moneyness.** Calls sit near the money and above it (overwriting and upside
//!   bets); puts have a near-the-money part (short-dated trading) and a protective
//!   part concentrated 3–15% below spot, further out for longer expiries, and longer
//!   expiries a deep tail 15–30% below (little gamma near spot). Widths are
//!   measured in the expiry's own expected move `σ·√t` (with a floor), so a 0DTE
//!   book is narrow and a one-year book wide. Puts outnumber calls
//!   ([`Positioning::put_call_ratio`]; each side is scaled to its own total).
//! - **Round strikes** carry more open interest ([`Positioning::round_strikes`]):
//!   people trade 6800 and 6900, not 6815.
//!
//! The weights are pure functions of the contract's terms and the chain's spot; the
//! seeded noise on top ([`NOISE`]) has mean one, so totals land on their targets.

use chainboard_model::Right;
use chainboard_quant::exposure::MULTIPLIER;
use chainboard_quant::levels::{GammaLeg, GammaProfile};

use crate::chain::ExpiryKind;

/// The open interest and volume of a chain, as totals and shape parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Positioning {
    /// Open interest of the whole chain, contracts (calls and puts, every
    /// expiration).
    pub open_interest: f64,
    /// Put open interest over call open interest.
    pub put_call_ratio: f64,
    /// Contracts traded on a full session, the whole chain. A photo taken during
    /// the session shows the share of it traded so far (see [`Positioning::volume_so_far`]).
    pub daily_volume: f64,
    /// Share of the day's volume in today's expiration (0DTE).
    pub zero_dte_volume_share: f64,
    /// Strike multiples that draw extra open interest, with their factor, largest
    /// multiple first (`(100, 3.0)`: a strike on a multiple of 100 gets three times
    /// the open interest of its neighbours). The first match applies.
    pub round_strikes: [(u32, f64); 3],
    /// Floor of the expiry's expected move `σ·√t` used for widths (a fraction of
    /// spot): even a 0DTE book spreads over a few strikes.
    pub min_move: f64,
}

/// Relative spread of the seeded noise on each contract's open interest: uniform in
/// `[1 − NOISE, 1 + NOISE]`, mean one.
pub const NOISE: f64 = 0.5;

/// The same for volume, tighter, and one draw per strike for the call and the put
/// alike: 0DTE volume carries so much gamma (over a million contracts a few points
/// from spot) that independent ±50% draws would make the volume basis's net GEX
/// swing by tens of billions on noise alone.
pub const VOLUME_NOISE: f64 = 0.2;

impl Positioning {
    /// The SPX book: about 18 million contracts open (the record was 21.4 million in
    /// December 2018), puts 1.6 to 1 over calls, 4.6 million contracts a day of which
    /// 62% 0DTE (Cboe, November 2025).
    pub fn spx() -> Self {
        Self {
            open_interest: 18.0e6,
            put_call_ratio: 1.6,
            daily_volume: 4.6e6,
            zero_dte_volume_share: 0.62,
            round_strikes: [(100, 3.0), (50, 1.8), (25, 1.3)],
            min_move: 0.004,
        }
    }

    /// The NDX book: a small fraction of SPX's in contracts (record volume 62,000 a
    /// day in July 2024; 50,000 taken as a day), each contract about three times
    /// SPX's notional. The open interest and the 0DTE share are assumptions: no
    /// published figure was found (see `docs/simulator.md`).
    pub fn ndx() -> Self {
        Self {
            open_interest: 0.6e6,
            put_call_ratio: 1.4,
            daily_volume: 50_000.0,
            zero_dte_volume_share: 0.45,
            round_strikes: [(500, 3.0), (250, 2.0), (100, 1.5)],
            min_move: 0.005,
        }
    }

    /// The share of a full session's volume traded by a photo taken
    /// `hours_to_close` before the close of a 6.5-hour session (early closes are not
    /// shortened): at least a quarter, so that a photo taken before the open, or on
    /// a weekend for Monday's session, still shows trading to look at; at most all
    /// of it.
    pub fn volume_so_far(hours_to_close: f64) -> f64 {
        (1.0 - hours_to_close / 6.5).clamp(0.25, 1.0)
    }

    /// The round-strike factor of a strike in whole points.
    pub fn round_factor(&self, strike_points: u32) -> f64 {
        self.round_strikes
            .iter()
            .find(|(step, _)| *step > 0 && strike_points.is_multiple_of(*step))
            .map_or(1.0, |(_, factor)| *factor)
    }
}

/// What the weights need to know about one contract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Terms {
    /// Call or put.
    pub right: Right,
    /// `ln(K/S)`.
    pub log_moneyness: f64,
    /// The expiration's kind.
    pub kind: ExpiryKind,
    /// Whether it is the AM-settled monthly root.
    pub am_root: bool,
    /// Calendar days to expiry (0 for today's expiration).
    pub days: i64,
    /// The expiry's expected move, `σ_atm·√t`, as a fraction of spot.
    pub move_frac: f64,
    /// The strike in whole points, for the round-strike factor.
    pub strike_points: u32,
}

/// A contract's open-interest weight (before scaling to the chain's total).
pub fn oi_weight(p: &Positioning, t: &Terms) -> f64 {
    let by_kind = match t.kind {
        ExpiryKind::Daily => 1.0,
        ExpiryKind::Weekly => 1.8,
        ExpiryKind::Monthly => 6.0,
        ExpiryKind::Quarterly => 4.5,
    };
    // The AM root holds most of a monthly's open interest (the PM root of the same
    // Friday is listed too, with less).
    let by_root = match (t.kind, t.am_root) {
        (ExpiryKind::Monthly, true) => 0.65,
        (ExpiryKind::Monthly, false) => 0.35,
        _ => 1.0,
    };
    let by_term = (1.0 + t.days.max(0) as f64 / 120.0).powf(-0.8);
    let m = t.log_moneyness;
    let s = t.move_frac.max(p.min_move);
    let shape = match t.right {
        Right::Call => {
            // Near the money and above it: overwriting and upside, a little beyond the
            // expected move.
            let center = 0.5 * s;
            let width = 1.0 * s;
            bump(m, center, width) + 0.25 * bump(m, 2.5 * s, 2.0 * s)
        }
        Right::Put => {
            // A near-the-money part and the protective bulk 3–15% below spot, further
            // down for longer expiries.
            let protect_center = -(0.03 + 1.5 * s).min(0.12);
            let protect_width = (0.6 * s).clamp(0.02, 0.05);
            // Longer expiries also hold deep tail hedges 15–30% down, which carry
            // open interest but little gamma near spot.
            let tail = 0.8 * (s / 0.05).min(1.0) * bump(m, -0.22, 0.07);
            0.47 * bump(m, -0.3 * s, 1.1 * s) + 1.5 * bump(m, protect_center, protect_width) + tail
        }
    };
    by_kind * by_root * by_term * shape * p.round_factor(t.strike_points)
}

/// A contract's volume weight (before scaling), with `zero_dte` the 0DTE share's
/// multiplier (applied by the caller to today's expiration only).
pub fn volume_weight(p: &Positioning, t: &Terms) -> f64 {
    let m = t.log_moneyness;
    let s = t.move_frac.max(p.min_move);
    let by_term = (1.0 + t.days.max(0) as f64).powf(-1.3);
    let by_root = if t.am_root { 0.4 } else { 1.0 };
    // Trading is nearer the money than positions are, and as busy on either side
    // (SPX put/call volume is near one): the simulator has no view on which side
    // customers are, so the volume basis has none either.
    let shape = match t.right {
        Right::Call => bump(m, 0.1 * s, 0.8 * s),
        Right::Put => bump(m, -0.1 * s, 0.8 * s),
    };
    by_term * by_root * shape * p.round_factor(t.strike_points).sqrt()
}

/// A Gaussian bump of height one centred at `center` with standard deviation `width`.
fn bump(x: f64, center: f64, width: f64) -> f64 {
    let z = (x - center) / width.max(1e-9);
    (-0.5 * z * z).exp()
}

/// The chain's dealer gamma legs for the flip search: every contract with open
/// interest, at its own volatility and time to expiry, calls long and puts short
/// (the convention the published GEX defaults to).
pub fn gamma_legs(chain: &crate::SimChain) -> impl Iterator<Item = GammaLeg> + '_ {
    chain.contracts().iter().filter_map(|c| {
        let sign = match c.right() {
            Right::Call => 1.0,
            Right::Put => -1.0,
        };
        (c.open_interest > 0).then(|| GammaLeg {
            strike: c.strike(),
            t_years: c.t_years,
            vol: c.vol,
            weight: sign * c.open_interest as f64 * MULTIPLIER,
        })
    })
}

/// The chain's gamma profile, for [`GammaProfile::gex_at`] and the flip.
pub fn gamma_profile(chain: &crate::SimChain) -> GammaProfile {
    let config = chain.config();
    GammaProfile::new(gamma_legs(chain), config.rate, config.div_yield)
}

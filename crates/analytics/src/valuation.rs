//! Live greeks for one contract: implied volatility from its live quote, greeks from
//! that volatility, and the fallback to the vendor's numbers when the quote is unusable.
//!
//! Two moments matter and they are different on purpose:
//!
//! - **The IV solve** uses the spot at the tick that saw the new quote. A quote is a
//!   price *given* the index at that moment; solving it against an older spot would
//!   mis-state a 0DTE at-the-money volatility by tens of percent for a few points of
//!   index move.
//! - **The greeks** of the whole board are evaluated at one [`Anchor`]: a reference
//!   spot and time shared by every contract, so that summing them into GEX adds like
//!   with like. Each contract keeps its volatility (sticky strike) and the anchor moves
//!   when the index leaves a band around it or a time step passes
//!   ([`crate::ModelConfig`]); moving it re-evaluates every contract.
//!
//! A quote is unusable for an IV when it is missing, one-sided, crossed, has a zero
//! bid (the mid of `0 × 0.05` says nothing about volatility), or no volatility
//! reproduces its mid (below intrinsic, above the no-arbitrage bound). Then the vendor's
//! implied volatility from the last chain photo is used, re-evaluated at the anchor;
//! failing that, the vendor's own greeks as published (at the photo's spot); failing
//! that, the contract has no greeks and contributes nothing to GEX.

use chainboard_model::{ContractGeometry, ContractState};
use chainboard_quant::bsm::{Greeks, Inputs};
use chainboard_quant::iv::IvInputs;

use crate::ModelConfig;

/// Where a contract's greeks came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GreeksSource {
    /// Solved from the live quote's mid.
    Live,
    /// The vendor's implied volatility or greeks from the chain photo.
    Vendor,
    /// Neither: no greeks, no exposure.
    #[default]
    Missing,
}

impl GreeksSource {
    /// Every source, in the order counts are published.
    pub const ALL: [GreeksSource; 3] = [
        GreeksSource::Live,
        GreeksSource::Vendor,
        GreeksSource::Missing,
    ];

    /// The name used in JSON: `live`, `vendor`, `missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            GreeksSource::Live => "live",
            GreeksSource::Vendor => "vendor",
            GreeksSource::Missing => "missing",
        }
    }

    /// Its index in [`GreeksSource::ALL`] (and in published counts).
    pub fn index(self) -> usize {
        self as usize
    }

    /// One letter for the columnar JSON: `L`, `V`, `-`.
    pub fn letter(self) -> char {
        match self {
            GreeksSource::Live => 'L',
            GreeksSource::Vendor => 'V',
            GreeksSource::Missing => '-',
        }
    }
}

/// Why a live quote gave no volatility (counted, and published for feed health).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unusable {
    /// No bid or no ask yet.
    NoQuote,
    /// Bid above ask.
    Crossed,
    /// A zero bid.
    ZeroBid,
    /// No index value to solve against.
    NoSpot,
    /// Settled, or settling this very millisecond.
    Expired,
    /// No volatility reproduces the mid.
    NoSolution,
}

impl Unusable {
    /// Every reason, in the order counts are published.
    pub const ALL: [Unusable; 6] = [
        Unusable::NoQuote,
        Unusable::Crossed,
        Unusable::ZeroBid,
        Unusable::NoSpot,
        Unusable::Expired,
        Unusable::NoSolution,
    ];

    /// The name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Unusable::NoQuote => "no_quote",
            Unusable::Crossed => "crossed",
            Unusable::ZeroBid => "zero_bid",
            Unusable::NoSpot => "no_spot",
            Unusable::Expired => "expired",
            Unusable::NoSolution => "no_solution",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The reference spot and time the board's greeks are evaluated at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Index level, points.
    pub spot: f64,
    /// Unix ms.
    pub at_ms: i64,
}

/// A contract's volatility and where it came from: the per-contract input that
/// survives between ticks (everything else is recomputed from it and the anchor).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vol {
    /// The volatility, or `None` when the vendor's raw greeks (or nothing) are used.
    pub iv: Option<f64>,
    /// Its source.
    pub source: GreeksSource,
}

/// Solves a contract's volatility from its live quote at `spot` and `now_ms`, falling
/// back to the vendor's. `t_years` is the time from `now_ms` to settlement. Returns the
/// volatility and, when the live quote was unusable, why.
pub fn solve(
    g: &ContractGeometry,
    s: &ContractState,
    spot: Option<f64>,
    t_years: f64,
    config: &ModelConfig,
) -> (Vol, Option<Unusable>) {
    match live_iv(g, s, spot, t_years, config) {
        Ok(iv) => (
            Vol {
                iv: Some(iv),
                source: GreeksSource::Live,
            },
            None,
        ),
        Err(why) => (vendor_vol(s), Some(why)),
    }
}

fn live_iv(
    g: &ContractGeometry,
    s: &ContractState,
    spot: Option<f64>,
    t_years: f64,
    config: &ModelConfig,
) -> Result<f64, Unusable> {
    let (Some(bid), Some(ask)) = (s.bid, s.ask) else {
        return Err(Unusable::NoQuote);
    };
    if bid > ask {
        return Err(Unusable::Crossed);
    }
    if bid <= 0.0 {
        return Err(Unusable::ZeroBid);
    }
    let spot = spot.ok_or(Unusable::NoSpot)?;
    if t_years <= 0.0 {
        return Err(Unusable::Expired);
    }
    let mid = s.mid().ok_or(Unusable::NoQuote)?;
    let inputs = IvInputs {
        right: g.key.right,
        spot,
        strike: g.key.strike.points(),
        t_years,
        rate: config.rate,
        div_yield: config.div_yield,
    };
    match inputs.implied_vol(mid) {
        Ok(iv) if iv > 0.0 && iv.is_finite() => Ok(iv),
        _ => Err(Unusable::NoSolution),
    }
}

fn vendor_vol(s: &ContractState) -> Vol {
    let greeks = s.slow.greeks;
    match s.slow.iv.filter(|v| v.is_finite() && *v > 0.0) {
        Some(iv) => Vol {
            iv: Some(iv),
            source: GreeksSource::Vendor,
        },
        None if greeks.delta.is_some() || greeks.gamma.is_some() => Vol {
            iv: None,
            source: GreeksSource::Vendor,
        },
        None => Vol::default(),
    }
}

/// A contract's greeks at the anchor, in [`chainboard_quant::bsm::Greeks`] units.
///
/// With a volatility and an anchor they are BSM at the anchor; otherwise, for a
/// vendor-sourced contract, the vendor's greeks as published (delta and gamma carry over; theta and vega are converted
/// from the vendor's per-day and per-vol-point units; vanna and charm are unknown and
/// zero); with neither, all zero.
pub fn greeks_at(
    g: &ContractGeometry,
    s: &ContractState,
    vol: Vol,
    anchor: Option<Anchor>,
    t_years: f64,
    config: &ModelConfig,
) -> Greeks {
    match (vol.iv, anchor, vol.source) {
        (Some(iv), Some(anchor), _) => Inputs {
            right: g.key.right,
            spot: anchor.spot,
            strike: g.key.strike.points(),
            t_years,
            vol: iv,
            rate: config.rate,
            div_yield: config.div_yield,
        }
        .greeks(),
        (_, _, GreeksSource::Vendor) => {
            let v = s.slow.greeks;
            Greeks {
                delta: v.delta.unwrap_or(0.0),
                gamma: v.gamma.unwrap_or(0.0),
                theta: v.theta.unwrap_or(0.0) * DAYS_PER_YEAR,
                vega: v.vega.unwrap_or(0.0) * VOL_POINTS,
                ..Greeks::default()
            }
        }
        _ => Greeks::default(),
    }
}

/// Theta is published per calendar day, as vendors and traders quote it.
pub const DAYS_PER_YEAR: f64 = 365.0;
/// Vega is published per vol point (0.01 of volatility).
pub const VOL_POINTS: f64 = 100.0;

/// Greeks in the units the heatmap publishes (and Massive sends): per day, per vol
/// point. [`chainboard_quant::bsm::Greeks`] is per year and per 1.00 of vol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    /// Delta.
    pub delta: f64,
    /// Gamma, per index point.
    pub gamma: f64,
    /// Theta per calendar day.
    pub theta_per_day: f64,
    /// Vega per vol point.
    pub vega_per_point: f64,
}

impl From<Greeks> for Published {
    fn from(g: Greeks) -> Self {
        Self {
            delta: g.delta,
            gamma: g.gamma,
            theta_per_day: g.theta / DAYS_PER_YEAR,
            vega_per_point: g.vega / VOL_POINTS,
        }
    }
}

/// How many contracts' live quotes are unusable for an IV right now (as of each
/// contract's last solve), by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnusableCounts([u64; Unusable::ALL.len()]);

impl UnusableCounts {
    /// Counts one contract.
    pub fn add(&mut self, why: Unusable) {
        self.0[why.index()] += 1;
    }

    /// Uncounts one contract (its quote became usable or unusable for another
    /// reason).
    pub fn remove(&mut self, why: Unusable) {
        self.0[why.index()] = self.0[why.index()].saturating_sub(1);
    }

    /// The count for one reason.
    pub fn get(&self, why: Unusable) -> u64 {
        self.0[why.index()]
    }

    /// `(reason, count)` in publishing order.
    pub fn iter(&self) -> impl Iterator<Item = (Unusable, u64)> + '_ {
        Unusable::ALL.iter().map(|&u| (u, self.0[u.index()]))
    }
}

//! Dealer exposures of one contract, in dollars: what GEX and its relatives add up.
//!
//! The convention is the one index-option traders use: assume dealers are long the
//! calls and short the puts the public holds, so a call's exposure counts positive
//! and a put's negative ([`DealerSign::CallsLong`]). Some desks assume the opposite
//! positioning or want raw customer exposure; [`DealerSign`] switches it.
//!
//! Per contract, with `n` contracts (open interest or today's volume) and the
//! multiplier of 100:
//!
//! | exposure | formula | unit |
//! |---|---|---|
//! | GEX | `γ · n · 100 · S² · 0.01` | dollars of delta per 1% move of the index |
//! | DEX | `Δ · n · 100 · S` | dollars of index held |
//! | vanna | `vanna · n · 100 · S · 0.01` | dollars of delta per vol point (0.01) |
//! | charm | `charm · n · 100 · S / 365` | dollars of delta per calendar day |
//!
//! Greeks come in [`crate::bsm::Greeks`] units: vanna per 1.00 of vol, charm per
//! year with theta's sign (the change in delta as time passes), hence the `0.01` and
//! the `/ 365` above.

use chainboard_model::Right;

use crate::bsm::Greeks;

/// Index options are for 100 times the index.
pub const MULTIPLIER: f64 = 100.0;

/// Which side counts positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DealerSign {
    /// Dealers long calls, short puts: calls positive, puts negative (the usual GEX
    /// picture).
    #[default]
    CallsLong,
    /// Dealers short calls, long puts: calls negative, puts positive.
    PutsLong,
}

impl DealerSign {
    /// `+1` or `−1` for a contract of `right`.
    pub fn of(self, right: Right) -> f64 {
        match (self, right) {
            (DealerSign::CallsLong, Right::Call) | (DealerSign::PutsLong, Right::Put) => 1.0,
            _ => -1.0,
        }
    }

    /// The name configuration uses: `calls_long` or `puts_long`.
    pub fn as_str(self) -> &'static str {
        match self {
            DealerSign::CallsLong => "calls_long",
            DealerSign::PutsLong => "puts_long",
        }
    }
}

/// The four dealer exposures of a position.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Exposure {
    /// Dollars of delta per 1% move of the index.
    pub gex: f64,
    /// Dollars of index.
    pub dex: f64,
    /// Dollars of delta per vol point.
    pub vanna: f64,
    /// Dollars of delta per calendar day.
    pub charm: f64,
}

impl Exposure {
    /// The signed exposures of `contracts` contracts of `right` with `greeks` at
    /// `spot`.
    pub fn of(greeks: &Greeks, right: Right, contracts: f64, spot: f64, sign: DealerSign) -> Self {
        Self::of_position(greeks, sign.of(right) * contracts, spot)
    }

    /// The exposures of a dealer position of `contracts` (long positive, short
    /// negative) with `greeks` at `spot`: no convention, the position is given.
    pub fn of_position(greeks: &Greeks, contracts: f64, spot: f64) -> Self {
        let shares = contracts * MULTIPLIER;
        Self {
            gex: greeks.gamma * shares * spot * spot * 0.01,
            dex: greeks.delta * shares * spot,
            vanna: greeks.vanna * shares * spot * 0.01,
            charm: greeks.charm * shares * spot / 365.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_contract() {
        let g = Greeks {
            delta: 0.5,
            gamma: 0.002,
            theta: -300.0,
            vega: 800.0,
            vanna: 0.4,
            charm: -1.2,
        };
        // 1,000 contracts at 6,800: 100,000 shares.
        let call = Exposure::of(&g, Right::Call, 1_000.0, 6_800.0, DealerSign::CallsLong);
        assert_eq!(call.gex, 0.002 * 100_000.0 * 6_800.0 * 6_800.0 * 0.01);
        assert!((call.gex - 92_480_000.0).abs() < 1e-6);
        assert!((call.dex - 340_000_000.0).abs() < 1e-6);
        assert!((call.vanna - 2_720_000.0).abs() < 1e-6);
        assert!((call.charm - (-1.2 * 100_000.0 * 6_800.0 / 365.0)).abs() < 1e-6);
        let put = Exposure::of(&g, Right::Put, 1_000.0, 6_800.0, DealerSign::CallsLong);
        assert_eq!(put.gex, -call.gex);
        let flipped = Exposure::of(&g, Right::Call, 1_000.0, 6_800.0, DealerSign::PutsLong);
        assert_eq!(flipped.gex, -call.gex);
    }
}

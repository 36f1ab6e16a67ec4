//! Prices on the exchange's tick grid, shared by the chain photo and the live traffic
//! so that a REST quote and a WebSocket quote for the same contract look alike.
//!
//! Prices are held in integer cents: every price the simulator emits is then exactly
//! two decimals on the wire (`9.71`, never `9.710000000001`). SPX-style index options
//! trade in $0.05 increments below $3.00 and $0.10 from $3.00 up.

use std::fmt::Write as _;

/// Prices below this many cents tick in nickels; at and above it, in dimes.
const DIME_FROM_CENTS: u32 = 300;

/// The tick size at a price, in cents.
pub(crate) fn tick_at(cents: u32) -> u32 {
    if cents < DIME_FROM_CENTS { 5 } else { 10 }
}

/// The largest tick-grid price at or below `cents` (zero for negative input).
pub(crate) fn floor_to_tick(cents: f64) -> u32 {
    // The small epsilon keeps 970.0000001 (float noise on 9.70) from becoming 9.70's
    // neighbour; prices here are far from the magnitude where it matters.
    let c = (cents + 1e-6).max(0.0).floor() as u32;
    c - c % tick_at(c)
}

/// The smallest tick-grid price at or above `cents`.
pub(crate) fn ceil_to_tick(cents: f64) -> u32 {
    let c = (cents - 1e-6).max(0.0).ceil() as u32;
    let tick = if c <= DIME_FROM_CENTS { 5 } else { 10 };
    c.div_ceil(tick) * tick
}

/// The width a market maker would quote around a theoretical value, in points before
/// rounding: a nickel plus 1% of the premium (0DTE at-the-money ~$0.15, a $90 30-day
/// at-the-money option ~$0.95, deep in-the-money LEAPS several dollars).
pub(crate) fn natural_spread(theo: f64) -> f64 {
    0.05 + 0.01 * theo
}

/// A two-sided market `(bid, ask)` in cents around `mid` with a spread of `spread`
/// points, on the tick grid, with `bid >= 0` and at least one tick between bid and ask.
///
/// A contract worth less than half a nickel is quoted zero bid, $0.05 offer, as
/// worthless wings are.
pub(crate) fn two_sided(mid: f64, spread: f64) -> (u32, u32) {
    if mid < 0.025 {
        return (0, 5);
    }
    let half = 0.5 * spread.max(0.0);
    let bid = floor_to_tick((mid - half) * 100.0);
    let ask = ceil_to_tick((mid + half) * 100.0).max(bid + tick_at(bid));
    (bid, ask)
}

/// A price in points from cents (exactly two decimals when printed).
pub(crate) fn points(cents: u32) -> f64 {
    f64::from(cents) / 100.0
}

/// Rounds a value in points to whole cents, as a vendor's day bar or break-even is.
pub(crate) fn round_cents(points: f64) -> f64 {
    (points * 100.0).round() / 100.0
}

/// Appends `cents` as a JSON number in points with no trailing zeros (`9.71`, `9.7`,
/// `10`), the way Massive prints prices, without allocating.
pub(crate) fn push_points(out: &mut String, cents: u32) {
    let (whole, frac) = (cents / 100, cents % 100);
    // Writing to a String cannot fail.
    let _ = match frac {
        0 => write!(out, "{whole}"),
        f if f % 10 == 0 => write!(out, "{whole}.{}", f / 10),
        f => write!(out, "{whole}.{f:02}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_respects_the_two_tick_sizes() {
        let cases = [
            (0.0, 0, 0),
            (3.0, 0, 5),
            (297.0, 295, 300),
            (300.0, 300, 300),
            (301.0, 300, 310),
            (970.0, 970, 970),
            (970.0000001, 970, 970),
            (975.5, 970, 980),
            (-12.0, 0, 0),
        ];
        for (cents, down, up) in cases {
            assert_eq!(floor_to_tick(cents), down, "floor {cents}");
            assert_eq!(ceil_to_tick(cents), up, "ceil {cents}");
        }
    }

    #[test]
    fn markets_are_two_sided_on_the_grid() {
        for mid in [0.0, 0.01, 0.03, 0.5, 2.96, 3.0, 9.75, 88.4, 1523.37] {
            let (bid, ask) = two_sided(mid, natural_spread(mid));
            assert!(bid < ask, "{mid}: {bid} {ask}");
            assert!(ask - bid >= tick_at(bid), "{mid}: {bid} {ask}");
            assert_eq!(bid % tick_at(bid), 0, "{mid}: {bid}");
            assert_eq!(ask % tick_at(ask), 0, "{mid}: {ask}");
            assert!(
                points(bid) <= mid.max(0.0) && mid <= points(ask) + 1e-9,
                "{mid}"
            );
        }
    }

    #[test]
    fn prices_print_like_the_vendor() {
        let mut out = String::new();
        for cents in [971, 970, 1000, 5, 0, 123_450] {
            push_points(&mut out, cents);
            out.push(',');
        }
        assert_eq!(out, "9.71,9.7,10,0.05,0,1234.5,");
    }
}

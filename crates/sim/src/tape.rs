//! How simulated customers trade: who is the aggressor, at what price against the
//! book in force, and under which condition codes. The simulator knows each trade's
//! true side, which never goes on the wire, so tests can score chainboard's trade
//! signing against it.
//!
//! The assumptions (stated again next to the accuracy figure in the README):
//!
//! - Every print meets the contract's book as last quoted (its NBBO in force).
//! - A customer buys with probability `0.5 + bias` on calls and `0.5 − bias` on puts,
//!   where `bias` is a slow mean-reverting walk (±0.05 typical, at most ±0.2): flow
//!   leans bullish or bearish for minutes at a time, as real sessions do.
//! - Of single-leg prints, 72% trade at the touch (a buyer pays the ask, a seller
//!   hits the bid), 8% one tick through it (a sweep), and 20% inside the spread
//!   (price improvement), on the aggressor's half of it, the mid included.
//! - 8% of prints are legs of multi-leg orders (condition codes 232, 233, 234 or
//!   236): they print near the leg's mid, whatever their side.
//! - Regular prints carry 209 (automatic execution), 219 (intermarket sweep) or 227
//!   (single-leg auction).

use chainboard_model::Right;
use chainboard_model::flow::Side;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ticks;

/// Condition codes of regular single-leg prints.
const REGULAR: [u16; 3] = [209, 219, 227];
/// Condition codes of multi-leg prints.
const MULTI_LEG: [u16; 4] = [232, 233, 234, 236];
/// Share of prints that are legs of multi-leg orders.
const MULTI_LEG_SHARE: f64 = 0.08;
/// Share of single-leg prints at the touch, and one tick through it; the rest are
/// inside the spread.
const AT_TOUCH: f64 = 0.72;
const THROUGH: f64 = 0.08;

/// The slow lean of customer flow: a mean-reverting walk stepped once per trade.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Regime {
    bias: f64,
}

impl Regime {
    /// Steps the walk by `shock` (a standard normal draw).
    pub(crate) fn step(&mut self, shock: f64) {
        self.bias = (0.995 * self.bias + 0.005 * shock).clamp(-0.2, 0.2);
    }

    /// The probability that a customer buys a contract of `right`.
    pub(crate) fn buy_probability(&self, right: Right) -> f64 {
        match right {
            Right::Call => 0.5 + self.bias,
            Right::Put => 0.5 - self.bias,
        }
    }
}

/// One print: its price in cents, its condition code, and its true side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Print {
    pub(crate) price_cents: u32,
    pub(crate) condition: u16,
    pub(crate) side: Side,
}

/// A print by the aggressor on `side` against the book `bid`/`ask` (cents). Nobody
/// can sell into a zero bid, so on such a book the aggressor is a buyer.
pub(crate) fn print(side: Side, bid: u32, ask: u32, rng: &mut ChaCha8Rng) -> Print {
    let side = if bid == 0 { Side::Buy } else { side };
    let buy = side == Side::Buy;
    if rng.random_bool(MULTI_LEG_SHARE) {
        return Print {
            price_cents: ticks::floor_to_tick(f64::from(bid + ask) / 2.0).max(5),
            condition: MULTI_LEG[rng.random_range(0..MULTI_LEG.len())],
            side,
        };
    }
    let place = rng.random::<f64>();
    let inside = rng.random::<f64>();
    let price_cents = if place < AT_TOUCH {
        if buy { ask } else { bid }
    } else if place < AT_TOUCH + THROUGH {
        if buy {
            ask + ticks::tick_at(ask)
        } else if bid > ticks::tick_at(bid) {
            bid - ticks::tick_at(bid)
        } else {
            // Nothing prints below a nickel: a sweep of a nickel bid stops there.
            bid
        }
    } else {
        // On the aggressor's half of the spread, the mid included, on the grid and
        // strictly inside; a one-tick market has no inside, so it trades at the touch.
        let u = if buy {
            0.5 + 0.5 * inside
        } else {
            0.5 * inside
        };
        let p = ticks::floor_to_tick(f64::from(bid) + u * f64::from(ask - bid));
        if p > bid && p < ask {
            p
        } else if buy {
            ask
        } else {
            bid
        }
    };
    Print {
        price_cents,
        condition: REGULAR[rng.random_range(0..REGULAR.len())],
        side,
    }
}

/// The true customer flow of the trades a market printed on listed contracts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrueFlow {
    /// Contracts customers bought in regular single-leg prints.
    pub buy: u64,
    /// Contracts customers sold in regular single-leg prints.
    pub sell: u64,
    /// Contracts of multi-leg prints (excluded from signing), either side.
    pub multi_leg: u64,
}

impl TrueFlow {
    /// Counts a print of `size` contracts under `condition` by a customer on `side`.
    pub(crate) fn add(&mut self, condition: u16, side: Side, size: u32) {
        let size = u64::from(size);
        if MULTI_LEG.contains(&condition) {
            self.multi_leg += size;
        } else if side == Side::Buy {
            self.buy += size;
        } else {
            self.sell += size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prints_meet_the_book_on_the_aggressors_side() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (bid, ask) = (1_000, 1_100);
        let (mut touch, mut through, mut inside, mut legs) = (0, 0, 0, 0);
        for i in 0..20_000 {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            let p = print(side, bid, ask, &mut rng);
            if MULTI_LEG.contains(&p.condition) {
                legs += 1;
                continue;
            }
            let px = p.price_cents;
            match side {
                Side::Buy => assert!(px >= 1_050, "a buy at {px}"),
                _ => assert!(px <= 1_050, "a sell at {px}"),
            }
            assert_eq!(px % 10, 0, "on the grid");
            if px == bid || px == ask {
                touch += 1;
            } else if px < bid || px > ask {
                through += 1;
            } else {
                inside += 1;
            }
        }
        // A zero bid trades only with buyers, at the offer or inside it.
        for _ in 0..200 {
            let p = print(Side::Sell, 0, 5, &mut rng);
            assert_eq!(p.side, Side::Buy);
            assert!(p.price_cents >= 5 || MULTI_LEG.contains(&p.condition));
        }
        let share = |n: i32| f64::from(n) / 20_000.0;
        assert!((share(legs) - 0.08).abs() < 0.01, "{legs} legs");
        assert!(
            (share(touch) - 0.72 * 0.92).abs() < 0.02,
            "{touch} at the touch"
        );
        assert!(
            (share(through) - 0.08 * 0.92).abs() < 0.01,
            "{through} through"
        );
        assert!(
            (share(inside) - 0.20 * 0.92).abs() < 0.02,
            "{inside} inside"
        );
    }

    #[test]
    fn the_regime_stays_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut r = Regime::default();
        for _ in 0..100_000 {
            r.step(crate::traffic::normal(&mut rng));
            let p = r.buy_probability(Right::Call);
            assert!((0.3..=0.7).contains(&p), "{p}");
        }
    }
}

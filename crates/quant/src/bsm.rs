//! Black-Scholes-Merton for European options with a continuous rate and dividend yield.
//!
//! SPX and NDX options are European and cash-settled, so BSM on the index level with a
//! continuous dividend yield `q` is the standard model: it is what the live-greeks
//! builder uses to turn a quote into delta and gamma for GEX, and what the simulator
//! uses to price its synthetic chain.
//!
//! Units, everywhere in this module: `spot` and `strike` in index points, `t_years` in
//! years (ACT/365 is the caller's choice), `vol`, `rate` and `div_yield` annualized
//! decimals (`0.15` is 15%). Greeks are per unit of each input, not in the vendor's
//! per-day / per-vol-point conventions; converting is the wire layer's job.
//!
//! Degenerate inputs never produce NaN: with no time left or no volatility
//! (`t_years <= 0`, `vol <= 0`) or a non-positive spot or strike, the option is worth
//! its discounted forward intrinsic value and the greeks are the limits of the
//! formulas as volatility goes to zero (see [`Inputs::greeks`]). NaN inputs still give NaN.

use chainboard_model::Right;

use crate::normal;

/// Sensitivities of a BSM price, per unit of each input.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Greeks {
    /// ∂price/∂spot: about 0.5 for an at-the-money call, in `[-1, 1]`.
    pub delta: f64,
    /// ∂²price/∂spot², per point of spot. Dealer gamma exposure is built from this.
    pub gamma: f64,
    /// −∂price/∂t_years: the change in value as one year passes (negative for a long
    /// option that only loses time value). Divide by 365 for the per-day figure
    /// vendors quote.
    pub theta: f64,
    /// ∂price/∂vol, per 1.00 of volatility. Divide by 100 for the per-vol-point
    /// figure vendors quote.
    pub vega: f64,
    /// ∂delta/∂vol = ∂vega/∂spot, per 1.00 of volatility (divide by 100 for the
    /// per-vol-point figure). Dealer vanna exposure is built from this: how much
    /// hedge a dealer must buy or sell when implied volatility moves.
    pub vanna: f64,
    /// ∂delta/∂(calendar time) = −∂delta/∂t_years: the change in delta as one year
    /// passes, with spot and vol held fixed (divide by 365 for the per-day figure).
    /// This is Haug's sign convention (*The Complete Guide to Option Pricing
    /// Formulas*, "charm"), the same direction as `theta`; dealer charm exposure is
    /// built from it: the hedge flow that time alone forces, strongest into the close.
    pub charm: f64,
}

/// `x` floored at zero, letting NaN through (unlike `f64::max`, which drops it).
fn non_negative(x: f64) -> f64 {
    if x < 0.0 { 0.0 } else { x }
}

/// The quantities every formula shares, computed once.
struct Setup {
    /// `spot · e^(−q·t)`: the present value of receiving the index at expiry.
    spot_pv: f64,
    /// `strike · e^(−r·t)`: the present value of paying the strike at expiry.
    strike_pv: f64,
    /// `e^(−q·t)`, which scales delta, gamma and vega.
    div_df: f64,
    /// Time to expiry, floored at zero.
    t: f64,
    /// `(d1, d2)`, or `None` when the distribution is degenerate (no time, no vol,
    /// non-positive prices) and only the limiting formulas apply.
    d: Option<(f64, f64)>,
}

impl Setup {
    fn new(inputs: &Inputs) -> Self {
        let Inputs {
            spot,
            strike,
            t_years,
            vol,
            rate,
            div_yield,
            ..
        } = *inputs;
        let t = non_negative(t_years);
        let div_df = (-div_yield * t).exp();
        let spot_pv = non_negative(spot) * div_df;
        let strike_pv = non_negative(strike) * (-rate * t).exp();
        let vol_sqrt_t = vol * t.sqrt();
        // Comparisons with NaN are false, so a NaN input takes the regular path and
        // comes out as NaN, as documented, instead of a plausible-looking number. A
        // `vol_sqrt_t` that underflows to zero is as degenerate as no vol at all.
        let degenerate =
            t_years <= 0.0 || vol <= 0.0 || spot <= 0.0 || strike <= 0.0 || vol_sqrt_t == 0.0;
        let d = (!degenerate).then(|| {
            let d1 = ((spot_pv / strike_pv).ln() + 0.5 * vol_sqrt_t * vol_sqrt_t) / vol_sqrt_t;
            (d1, d1 - vol_sqrt_t)
        });
        Self {
            spot_pv,
            strike_pv,
            div_df,
            t,
            d,
        }
    }
}

/// What prices a European option under BSM, in this module's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Call or put.
    pub right: Right,
    /// The underlying's level, index points.
    pub spot: f64,
    /// Strike, index points.
    pub strike: f64,
    /// Time to expiry, years.
    pub t_years: f64,
    /// Annualized volatility (0.15 = 15%).
    pub vol: f64,
    /// Continuous risk-free rate.
    pub rate: f64,
    /// Continuous dividend yield.
    pub div_yield: f64,
}

impl Inputs {
    /// The BSM value of the option.
    ///
    /// Hull's example (call, S 42, K 40, t 0.5, σ 0.2, r 0.1, q 0) is ≈ 4.7594. With
    /// `t_years <= 0` it is the intrinsic value at expiry; with `vol <= 0` the
    /// discounted forward intrinsic value `max(S·e^(−qt) − K·e^(−rt), 0)` (and its put
    /// mirror).
    pub fn price(&self) -> f64 {
        let s = Setup::new(self);
        // Far out of the money both terms underflow towards the subnormals, and their
        // difference can round to a hair below zero (−7e-323 for a 0DTE call 45% out
        // of the money); the floor keeps prices non-negative without hiding NaN.
        match (self.right, s.d) {
            (Right::Call, Some((d1, d2))) => {
                non_negative(s.spot_pv * normal::cdf(d1) - s.strike_pv * normal::cdf(d2))
            }
            (Right::Put, Some((d1, d2))) => {
                non_negative(s.strike_pv * normal::cdf(-d2) - s.spot_pv * normal::cdf(-d1))
            }
            (Right::Call, None) => (s.spot_pv - s.strike_pv).max(0.0),
            (Right::Put, None) => (s.strike_pv - s.spot_pv).max(0.0),
        }
    }

    /// The BSM greeks of the option (see [`Greeks`] for units).
    ///
    /// Degenerate inputs give the limits as volatility goes to zero: delta is
    /// `e^(−qt)` (call) or `−e^(−qt)` (put) when the option is in the money on the
    /// forward, zero when out of it, half-way exactly at the money; gamma is zero (it
    /// is a spike of no width at the money, which nothing downstream can use); vega is
    /// zero except exactly at the money forward, where it tends to `S·e^(−qt)·√(t/2π)`,
    /// and vanna likewise, tending to `e^(−qt)·√(t/2π)/2` there; theta is the carry of
    /// the intrinsic value and charm the carry of delta, `q·delta` (a call's delta
    /// `e^(−qt)` drifts up as time passes). Exactly at the money forward with `r ≠ q`
    /// charm diverges as volatility vanishes; like gamma's spike it is not reported,
    /// and the half-weight carry stands in. An expired option (`t_years <= 0`) has
    /// zero theta, vega, vanna and charm.
    pub fn greeks(&self) -> Greeks {
        let s = Setup::new(self);
        // The carry terms of theta: `q·S·e^(−qt)` and `r·K·e^(−rt)`.
        let spot_carry = self.div_yield * s.spot_pv;
        let strike_carry = self.rate * s.strike_pv;
        let Some((d1, d2)) = s.d else {
            return limiting_greeks(self, &s, spot_carry, strike_carry);
        };
        let sqrt_t = s.t.sqrt();
        let density = normal::pdf(d1);
        let vol_sqrt_t = d1 - d2;
        let gamma = s.div_df * density / (self.spot * vol_sqrt_t);
        let vega = s.spot_pv * density * sqrt_t;
        // −S·e^(−qt)·φ(d1)·σ / (2√t), written with σ√t to avoid dividing by √t twice.
        let decay = -s.spot_pv * density * vol_sqrt_t / (2.0 * s.t);
        // Haug: vanna = −e^(−qt)·φ(d1)·d2/σ, the same for calls and puts.
        let vanna = -s.div_df * density * d2 / self.vol;
        // The part of charm calls and puts share, Haug's
        // e^(−qt)·φ(d1)·(2(r−q)t − d2·σ√t) / (2t·σ√t), split into two quotients so that
        // a tiny `t` does not underflow the denominator before the division.
        let drift =
            s.div_df * density * ((self.rate - self.div_yield) / vol_sqrt_t - d2 / (2.0 * s.t));
        let div_carry = self.div_yield * s.div_df;
        match self.right {
            Right::Call => Greeks {
                delta: s.div_df * normal::cdf(d1),
                gamma,
                theta: decay - strike_carry * normal::cdf(d2) + spot_carry * normal::cdf(d1),
                vega,
                vanna,
                charm: div_carry * normal::cdf(d1) - drift,
            },
            Right::Put => Greeks {
                delta: -s.div_df * normal::cdf(-d1),
                gamma,
                theta: decay + strike_carry * normal::cdf(-d2) - spot_carry * normal::cdf(-d1),
                vega,
                vanna,
                charm: -div_carry * normal::cdf(-d1) - drift,
            },
        }
    }
}

/// Greeks when the lognormal distribution collapses to a point (see
/// [`Inputs::greeks`]).
fn limiting_greeks(inputs: &Inputs, s: &Setup, spot_carry: f64, strike_carry: f64) -> Greeks {
    // The probability-like weight N(d1) = N(d2) tends to: 1 in the money (for a
    // call), 0 out of it, 1/2 exactly at the money forward.
    let call_weight = if s.spot_pv > s.strike_pv {
        1.0
    } else if s.spot_pv < s.strike_pv {
        0.0
    } else {
        0.5
    };
    let alive = inputs.t_years > 0.0;
    let at_the_money = s.spot_pv == s.strike_pv && s.spot_pv > 0.0;
    // Vega and vanna are φ(d1) times factors that grow at most like 1/σ, and φ(d1)
    // dies like e^(−c/σ²) as σ → 0, except exactly at the money forward: there
    // d1 = σ√t/2 and d2 = −σ√t/2 both go to zero and leave finite limits
    // (vanna = vega / 2S).
    let (vega, vanna) = if alive && at_the_money {
        let atm_density = normal::pdf(0.0) * s.t.sqrt();
        (s.spot_pv * atm_density, s.div_df * atm_density / 2.0)
    } else {
        (0.0, 0.0)
    };
    let (call_theta, call_charm) = if alive {
        (
            (spot_carry - strike_carry) * call_weight,
            inputs.div_yield * s.div_df * call_weight,
        )
    } else {
        (0.0, 0.0)
    };
    match inputs.right {
        Right::Call => Greeks {
            delta: s.div_df * call_weight,
            gamma: 0.0,
            theta: call_theta,
            vega,
            vanna,
            charm: call_charm,
        },
        Right::Put => Greeks {
            delta: -s.div_df * (1.0 - call_weight),
            gamma: 0.0,
            // Put-call parity: P = C − S·e^(−qt) + K·e^(−rt), differentiated in time;
            // its delta form, Δp = Δc − e^(−qt), gives the put's charm the same way.
            theta: if alive {
                call_theta - spot_carry + strike_carry
            } else {
                0.0
            },
            vega,
            vanna,
            charm: if alive {
                call_charm - inputs.div_yield * s.div_df
            } else {
                0.0
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use Right::{Call, Put};

    fn inputs(
        right: Right,
        spot: f64,
        strike: f64,
        t_years: f64,
        vol: f64,
        rate: f64,
        div_yield: f64,
    ) -> Inputs {
        Inputs {
            right,
            spot,
            strike,
            t_years,
            vol,
            rate,
            div_yield,
        }
    }

    fn price(right: Right, s: f64, k: f64, t: f64, v: f64, r: f64, q: f64) -> f64 {
        inputs(right, s, k, t, v, r, q).price()
    }

    fn greeks(right: Right, s: f64, k: f64, t: f64, v: f64, r: f64, q: f64) -> Greeks {
        inputs(right, s, k, t, v, r, q).greeks()
    }

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol
    }

    /// Published textbook values (Hull, *Options, Futures, and Other Derivatives*).
    #[test]
    fn prices_match_published_examples() {
        // (right, S, K, T, σ, r, q, price, tolerance)
        let cases = [
            // Hull, Example 15.6: the classic S=42, K=40 case.
            (Call, 42.0, 40.0, 0.5, 0.20, 0.10, 0.0, 4.7594, 5e-5),
            (Put, 42.0, 40.0, 0.5, 0.20, 0.10, 0.0, 0.8086, 5e-5),
            // Hull, European index call with a dividend yield: S=930, K=900, q=3%.
            (
                Call,
                930.0,
                900.0,
                2.0 / 12.0,
                0.20,
                0.08,
                0.03,
                51.83,
                5e-3,
            ),
        ];
        for (right, spot, strike, t, vol, r, q, want, tol) in cases {
            let got = price(right, spot, strike, t, vol, r, q);
            assert!(
                close(got, want, tol),
                "{right:?} S={spot} K={strike}: {got}"
            );
        }
    }

    #[test]
    fn greeks_match_published_example() {
        // Hull's delta-hedging example: S=49, K=50, r=5%, σ=20%, T=20 weeks.
        // Published: Δ=0.522, Γ=0.066, Θ=−4.31 per year, vega=12.1 per 1.00 vol.
        let g = greeks(Call, 49.0, 50.0, 0.3846, 0.20, 0.05, 0.0);
        assert!(close(g.delta, 0.522, 5e-4), "{g:?}");
        assert!(close(g.gamma, 0.066, 5e-4), "{g:?}");
        assert!(close(g.theta, -4.31, 5e-3), "{g:?}");
        assert!(close(g.vega, 12.1, 5e-2), "{g:?}");
    }

    #[test]
    fn vanna_matches_published_example() {
        // Haug, *The Complete Guide to Option Pricing Formulas* (2nd ed.), the DdeltaDvol
        // example: S=90, K=80, T=0.25, r=b=5% (so q=0), σ=20%; DdeltaDvol = −1.0008 per
        // 1.00 of vol. Vanna does not depend on the right.
        for right in [Call, Put] {
            let g = greeks(right, 90.0, 80.0, 0.25, 0.20, 0.05, 0.0);
            assert!(close(g.vanna, -1.0008, 5e-5), "{right:?} {g:?}");
        }
    }

    /// Reference values from differentiating the delta formula numerically in 40-digit
    /// arithmetic (Python mpmath, `diff` of `e^(−qT)·N(d1)` in σ and in T), which
    /// checks the closed forms, signs included, to 12 digits.
    #[test]
    fn vanna_and_charm_match_high_precision_values() {
        // (right, S, K, T, σ, r, q, vanna, charm = −∂Δ/∂T)
        let cases = [
            (
                Call,
                90.0,
                80.0,
                0.25,
                0.20,
                0.05,
                0.0,
                -1.000_830_013_614_448_3,
                0.320_446_487_955_650_2,
            ),
            (
                Call,
                105.0,
                90.0,
                0.25,
                0.24,
                0.14,
                0.14,
                -0.795_983_606_046_738_7,
                0.505_174_210_800_000_8,
            ),
            (
                Put,
                105.0,
                90.0,
                0.25,
                0.24,
                0.14,
                0.14,
                -0.795_983_606_046_738_7,
                0.369_989_452_523_941_5,
            ),
            (
                Call,
                6850.0,
                6900.0,
                30.0 / 365.0,
                0.15,
                0.04,
                0.013,
                0.367_638_330_995_550_2,
                -0.578_532_751_160_159_7,
            ),
            (
                Put,
                6850.0,
                6500.0,
                30.0 / 365.0,
                0.22,
                0.04,
                0.013,
                -1.010_641_055_751_194_5,
                1.236_214_909_309_300_6,
            ),
        ];
        for (right, spot, strike, t, vol, r, q, vanna, charm) in cases {
            let g = greeks(right, spot, strike, t, vol, r, q);
            assert!(close(g.vanna, vanna, 1e-12), "{right:?} K={strike}: {g:?}");
            assert!(close(g.charm, charm, 1e-12), "{right:?} K={strike}: {g:?}");
        }
    }

    /// Vanna and charm against central differences of delta (and of vega in spot),
    /// over SPX-like cases with a dividend yield and the textbook ones without.
    #[test]
    fn vanna_and_charm_are_the_derivatives_of_delta() {
        // (right, S, K, T, σ, r, q)
        let cases = [
            (Call, 90.0, 80.0, 0.25, 0.20, 0.05, 0.0),
            (Put, 105.0, 90.0, 0.25, 0.24, 0.14, 0.14),
            (Call, 6850.0, 6900.0, 30.0 / 365.0, 0.15, 0.04, 0.013),
            (Put, 6850.0, 6500.0, 30.0 / 365.0, 0.22, 0.04, 0.013),
            (Put, 6850.0, 7400.0, 1.5, 0.18, 0.045, 0.013),
            (Call, 6850.0, 6860.0, 1.0 / 365.0, 0.12, 0.04, 0.013),
            (Call, 6850.0, 4000.0, 2.0, 0.35, 0.0, 0.03),
            (Put, 21_500.0, 21_000.0, 7.0 / 365.0, 0.20, 0.04, 0.007),
        ];
        for (right, spot, strike, t, vol, r, q) in cases {
            let g = greeks(right, spot, strike, t, vol, r, q);
            let delta_at = |s, tt, v| greeks(right, s, strike, tt, v, r, q).delta;
            let vanna = diff(|v| delta_at(spot, t, v), vol, 1e-6);
            let vanna_from_vega = diff(
                |s| greeks(right, s, strike, t, vol, r, q).vega,
                spot,
                1e-5 * spot,
            );
            let charm = -diff(|tt| delta_at(spot, tt, vol), t, 1e-5 * t);
            let tol = |x: f64| 1e-6 * x.abs().max(1e-3);
            assert!(
                close(g.vanna, vanna, tol(vanna)),
                "{right:?} K={strike} t={t}: {g:?} vs {vanna}"
            );
            assert!(
                close(g.vanna, vanna_from_vega, 1e-5 * vanna.abs().max(1e-3)),
                "{right:?} K={strike} t={t}: {g:?} vs {vanna_from_vega}"
            );
            assert!(
                close(g.charm, charm, tol(charm)),
                "{right:?} K={strike} t={t}: {g:?} vs {charm}"
            );
        }
    }

    #[test]
    fn degenerate_inputs_give_limits_not_nan() {
        let (r, q) = (0.04, 0.013);
        for t in [0.0, -1.0] {
            assert_eq!(price(Call, 6900.0, 6850.0, t, 0.2, r, q), 50.0);
            assert_eq!(price(Put, 6900.0, 6850.0, t, 0.2, r, q), 0.0);
            assert_eq!(price(Put, 6800.0, 6850.0, t, 0.2, r, q), 50.0);
            let g = greeks(Call, 6900.0, 6850.0, t, 0.2, r, q);
            assert_eq!(
                g,
                Greeks {
                    delta: 1.0,
                    ..Greeks::default()
                }
            );
            let g = greeks(Put, 6900.0, 6850.0, t, 0.2, r, q);
            assert_eq!(g.delta, 0.0);
            assert_eq!(greeks(Call, 6850.0, 6850.0, t, 0.2, r, q).delta, 0.5);
        }
        // No volatility: discounted forward intrinsic, and carry for theta.
        let t = 0.5;
        let fwd_intrinsic = 6900.0 * (-q * t).exp() - 6000.0 * (-r * t).exp();
        assert!(close(
            price(Call, 6900.0, 6000.0, t, 0.0, r, q),
            fwd_intrinsic,
            1e-9
        ));
        assert_eq!(price(Put, 6900.0, 6000.0, t, 0.0, r, q), 0.0);
        let g = greeks(Call, 6900.0, 6000.0, t, 0.0, r, q);
        assert!(close(g.delta, (-q * t).exp(), 1e-12));
        let carry = q * 6900.0 * (-q * t).exp() - r * 6000.0 * (-r * t).exp();
        assert!(close(g.theta, carry, 1e-9), "{g:?}");
        // Delta e^(−qt) drifts up at q·e^(−qt) a year; vanna vanishes off the money.
        assert!(close(g.charm, q * (-q * t).exp(), 1e-15), "{g:?}");
        assert_eq!(g.vanna, 0.0);
        let g = greeks(Put, 6900.0, 6000.0, t, 0.0, r, q);
        assert_eq!((g.delta, g.charm, g.vanna), (0.0, 0.0, 0.0), "{g:?}");
        let g = greeks(Put, 6000.0, 6900.0, t, 0.0, r, q);
        assert!(close(g.charm, -q * (-q * t).exp(), 1e-15), "{g:?}");
        // Exactly at the money forward (r = q, S = K) vega and vanna keep finite
        // limits, and the zero-vol values are those limits.
        for right in [Call, Put] {
            let limit = greeks(right, 6850.0, 6850.0, t, 0.0, q, q);
            let near = greeks(right, 6850.0, 6850.0, t, 1e-9, q, q);
            assert!(limit.vanna > 0.0, "{limit:?}");
            assert!(
                close(limit.vega, near.vega, 1e-6 * near.vega),
                "{limit:?} {near:?}"
            );
            assert!(
                close(limit.vanna, near.vanna, 1e-6 * near.vanna),
                "{limit:?} {near:?}"
            );
            assert!(close(limit.charm, near.charm, 1e-6), "{limit:?} {near:?}");
        }
        // Non-positive spot or strike.
        assert_eq!(price(Call, 0.0, 6850.0, t, 0.2, r, q), 0.0);
        assert!(close(
            price(Put, 0.0, 6850.0, t, 0.2, r, q),
            6850.0 * (-r * t).exp(),
            1e-9
        ));
        assert!(close(
            price(Call, 6850.0, 0.0, t, 0.2, r, q),
            6850.0 * (-q * t).exp(),
            1e-9
        ));
        for right in [Call, Put] {
            for (s, k, t, v) in [
                (0.0, 1.0, 1.0, 0.2),
                (1.0, 0.0, 1.0, 0.2),
                (1.0, 1.0, 1.0, 0.0),
            ] {
                let g = greeks(right, s, k, t, v, r, q);
                let all = [
                    g.delta,
                    g.gamma,
                    g.theta,
                    g.vega,
                    g.vanna,
                    g.charm,
                    price(right, s, k, t, v, r, q),
                ];
                assert!(
                    all.iter().all(|x| x.is_finite()),
                    "{right:?} {s} {k} {t} {v}: {g:?}"
                );
            }
        }
    }

    #[test]
    fn nan_in_is_nan_out() {
        let nan = f64::NAN;
        for (s, k, t, v) in [
            (nan, 1.0, 1.0, 0.2),
            (1.0, nan, 1.0, 0.2),
            (1.0, 1.0, nan, 0.2),
            (1.0, 1.0, 1.0, nan),
        ] {
            assert!(
                price(Call, s, k, t, v, 0.04, 0.0).is_nan(),
                "{s} {k} {t} {v}"
            );
            assert!(
                greeks(Put, s, k, t, v, 0.04, 0.0).delta.is_nan(),
                "{s} {k} {t} {v}"
            );
        }
    }

    #[test]
    fn tiny_time_and_deep_wings_stay_finite() {
        // A 0DTE contract minutes before the close, and a far wing a year out.
        for (s, k, t, v) in [(6850.0, 6855.0, 1e-6, 0.12), (6850.0, 2000.0, 1.0, 0.45)] {
            for right in [Call, Put] {
                let p = price(right, s, k, t, v, 0.04, 0.013);
                let g = greeks(right, s, k, t, v, 0.04, 0.013);
                assert!(p.is_finite() && p >= 0.0, "{p}");
                assert!(
                    [g.delta, g.gamma, g.theta, g.vega, g.vanna, g.charm]
                        .iter()
                        .all(|x| x.is_finite()),
                    "{right:?} K={k} t={t}: {g:?}"
                );
            }
        }
    }

    /// A central finite difference of `f` at `x` with step `h`.
    fn diff(f: impl Fn(f64) -> f64, x: f64, h: f64) -> f64 {
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    proptest! {
        #[test]
        fn put_call_parity_holds(
            spot in 100.0f64..20_000.0,
            moneyness in 0.5f64..1.5,
            t in 0.001f64..3.0,
            vol in 0.01f64..1.5,
            rate in -0.01f64..0.1,
            q in 0.0f64..0.05,
        ) {
            let strike = spot * moneyness;
            let c = price(Call, spot, strike, t, vol, rate, q);
            let p = price(Put, spot, strike, t, vol, rate, q);
            let parity = spot * (-q * t).exp() - strike * (-rate * t).exp();
            prop_assert!((c - p - parity).abs() <= 1e-9 * spot, "c={c} p={p} parity={parity}");
            prop_assert!(c >= 0.0 && p >= 0.0);
            let gc = greeks(Call, spot, strike, t, vol, rate, q);
            let gp = greeks(Put, spot, strike, t, vol, rate, q);
            prop_assert!((gc.delta - gp.delta - (-q * t).exp()).abs() < 1e-12);
            prop_assert!((gc.gamma - gp.gamma).abs() <= 1e-12 * gc.gamma.abs().max(1.0));
            prop_assert!((gc.vega - gp.vega).abs() <= 1e-9 * gc.vega.abs().max(1.0));
            // Δc − Δp = e^(−qt): the same vanna, and charms that differ by q·e^(−qt).
            prop_assert!((gc.vanna - gp.vanna).abs() <= 1e-12 * gc.vanna.abs().max(1.0));
            let charm_gap = gc.charm - gp.charm - q * (-q * t).exp();
            prop_assert!(charm_gap.abs() <= 1e-12 * gc.charm.abs().max(1.0), "{gc:?} {gp:?}");
        }

        #[test]
        fn greeks_are_the_derivatives_of_price(
            right in prop_oneof![Just(Call), Just(Put)],
            moneyness in 0.8f64..1.25,
            t in 0.02f64..2.0,
            vol in 0.05f64..0.8,
        ) {
            let (spot, rate, q) = (6850.0, 0.04, 0.013);
            let strike = spot * moneyness;
            let g = greeks(right, spot, strike, t, vol, rate, q);
            let by_spot = |s| price(right, s, strike, t, vol, rate, q);
            let delta = diff(by_spot, spot, 0.01);
            let gamma = diff(|s| diff(by_spot, s, 0.5), spot, 0.5);
            let vega = diff(|v| price(right, spot, strike, t, v, rate, q), vol, 1e-5);
            let theta = -diff(|tt| price(right, spot, strike, tt, vol, rate, q), t, 1e-5);
            prop_assert!((g.delta - delta).abs() < 1e-6, "{g:?} vs {delta}");
            prop_assert!((g.gamma - gamma).abs() < 1e-6 + 1e-3 * g.gamma, "{g:?} vs {gamma}");
            prop_assert!((g.vega - vega).abs() < 1e-4 * g.vega.max(1.0), "{g:?} vs {vega}");
            prop_assert!((g.theta - theta).abs() < 1e-3 * g.theta.abs().max(1.0), "{g:?} vs {theta}");
            let delta_at = |tt, v| greeks(right, spot, strike, tt, v, rate, q).delta;
            let vanna = diff(|v| delta_at(t, v), vol, 1e-6);
            let charm = -diff(|tt| delta_at(tt, vol), t, 1e-6);
            prop_assert!((g.vanna - vanna).abs() < 1e-6 * g.vanna.abs().max(1.0), "{g:?} vs {vanna}");
            prop_assert!((g.charm - charm).abs() < 1e-6 * g.charm.abs().max(1.0), "{g:?} vs {charm}");
        }
    }
}

//! The flip search against BSM gamma summed directly, on hand-built and random boards.

use super::*;
use crate::bsm::Inputs;
use chainboard_model::Right;
use proptest::prelude::*;

const RATE: f64 = 0.043;
const DIV_YIELD: f64 = 0.013;
const SPOT: f64 = 6800.0;

/// `G(spot)` the slow way: BSM gamma straight from [`Inputs::greeks`], times
/// `weight · spot² · 0.01`, leg by leg, with none of the profile's algebra.
fn direct_gex(legs: &[GammaLeg], spot: f64) -> f64 {
    legs.iter()
        .map(|leg| {
            let right = if leg.weight > 0.0 {
                Right::Call
            } else {
                Right::Put
            };
            let gamma = Inputs {
                right,
                spot,
                strike: leg.strike,
                t_years: leg.t_years,
                vol: leg.vol,
                rate: RATE,
                div_yield: DIV_YIELD,
            }
            .greeks()
            .gamma;
            leg.weight * gamma * spot * spot * 0.01
        })
        .sum()
}

/// A small SPX-like board: strikes 5800–7800 every 25, six expiries from 0DTE to
/// three months, a skewed smile, and open interest peaking near the money with
/// puts heavier below spot and calls heavier above, so dealers are short gamma
/// below spot and long above and a flip exists near it.
fn spx_board() -> Vec<GammaLeg> {
    let expiries = [0.002, 0.01, 0.03, 0.08, 0.16, 0.25];
    let mut legs = Vec::new();
    for &t in &expiries {
        for k in 0..=80 {
            let strike = 5800.0 + 25.0 * f64::from(k);
            let m = (strike / SPOT).ln();
            let vol = (0.14 - 0.9 * m + 2.5 * m * m).max(0.06);
            let near = (-(m / 0.06).powi(2)).exp();
            let call_oi = 200.0 + 3000.0 * near * if m > 0.0 { 1.6 } else { 0.7 };
            let put_oi = 200.0 + 3000.0 * near * if m < 0.0 { 1.8 } else { 0.6 };
            for weight in [call_oi * 100.0, -put_oi * 100.0] {
                legs.push(GammaLeg {
                    strike,
                    t_years: t,
                    vol,
                    weight,
                });
            }
        }
    }
    legs
}

/// The crossing of `G` nearest `spot` on `n` points evenly spaced over
/// `[lo, hi]`, by linear interpolation, with the grid step.
fn dense_crossing(legs: &[GammaLeg], spot: f64, lo: f64, hi: f64, n: usize) -> (f64, f64) {
    let step = (hi - lo) / (n - 1) as f64;
    let points: Vec<(f64, f64)> = (0..n)
        .map(|j| {
            let s = lo + j as f64 * step;
            (s, direct_gex(legs, s))
        })
        .collect();
    let root = points
        .windows(2)
        .filter(|w| w[0].1 * w[1].1 <= 0.0 && w[0].1 != w[1].1)
        .map(|w| w[0].0 - w[0].1 * (w[1].0 - w[0].0) / (w[1].1 - w[0].1))
        .min_by(|x, y| (x - spot).abs().total_cmp(&(y - spot).abs()))
        .expect("the board has a flip in range");
    (root, step)
}

#[test]
fn flip_matches_a_dense_scan_of_bsm_gamma() {
    let legs = spx_board();
    let profile = GammaProfile::new(legs.iter().copied(), RATE, DIV_YIELD);
    assert_eq!(profile.len(), legs.len());
    let search = FlipSearch::default();
    let flip = profile.zero_gamma(SPOT, &search).expect("a flip near spot");
    let (lo, hi) = profile.search_range(SPOT, &search);
    let (want, step) = dense_crossing(&legs, SPOT, lo, hi, 20_001);
    assert!(
        (flip.level - want).abs() <= step,
        "flip {} vs dense {want} (step {step})",
        flip.level
    );
    assert!(
        flip.rising,
        "puts below, calls above: gamma turns positive going up"
    );
    assert!(
        (flip.level - SPOT).abs() < 0.05 * SPOT,
        "flip {} is near spot",
        flip.level
    );
}

#[test]
fn gex_at_matches_bsm_gamma_leg_by_leg() {
    let legs = spx_board();
    let profile = GammaProfile::new(legs.iter().copied(), RATE, DIV_YIELD);
    let flip = profile
        .zero_gamma(SPOT, &FlipSearch::default())
        .expect("a flip near spot");
    for frac in [0.8, 0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1, 1.25] {
        let spot = SPOT * frac;
        let (fast, slow) = (profile.gex_at(spot), direct_gex(&legs, spot));
        // Relative to the answer away from the flip, where `G` is not a
        // cancellation of large terms.
        if (spot - flip.level).abs() > 50.0 {
            assert!(
                (fast - slow).abs() <= 1e-9 * slow.abs(),
                "at {spot}: fast {fast} vs direct {slow}"
            );
        }
        let gross: f64 = legs.iter().map(|leg| direct_gex(&[*leg], spot).abs()).sum();
        assert!((fast - slow).abs() <= 1e-12 * gross, "at {spot}");
    }
}

#[test]
fn one_call_and_one_put_flip_between_their_strikes() {
    // A put at 6700 and a call at 6900, same size, same expiry and vol: short gamma
    // below, long above, and a crossing between the two strikes.
    let leg = |strike: f64, weight: f64| GammaLeg {
        strike,
        t_years: 0.05,
        vol: 0.15,
        weight,
    };
    let profile = GammaProfile::new([leg(6700.0, -1e5), leg(6900.0, 1e5)], RATE, DIV_YIELD);
    let flip = profile
        .zero_gamma(SPOT, &FlipSearch::default())
        .expect("a flip between the strikes");
    assert!(6700.0 < flip.level && flip.level < 6900.0, "{flip:?}");
    assert!(flip.rising);
    let peak = profile.gex_at(6900.0).abs();
    assert!(profile.gex_at(flip.level).abs() < 1e-4 * peak, "{flip:?}");
    // By symmetry in d1 the two bumps cross where their d1s are opposite:
    // ln S' = (c_put + c_call)/2, i.e. the geometric mean of the strikes shifted by
    // the common drift term.
    let drift = (RATE - DIV_YIELD + 0.5 * 0.15 * 0.15) * 0.05;
    let want = (6700.0f64 * 6900.0).sqrt() * (-drift).exp();
    assert!((flip.level - want).abs() < 0.01, "{} vs {want}", flip.level);

    // Swap the signs and the flip stays put but falls going up.
    let flipped = GammaProfile::new([leg(6700.0, 1e5), leg(6900.0, -1e5)], RATE, DIV_YIELD)
        .zero_gamma(SPOT, &FlipSearch::default())
        .expect("same crossing");
    assert!(!flipped.rising);
    assert!((flipped.level - flip.level).abs() < 0.01);
}

#[test]
fn a_board_of_calls_has_no_flip() {
    let calls = spx_board().into_iter().filter(|leg| leg.weight > 0.0);
    let profile = GammaProfile::new(calls, RATE, DIV_YIELD);
    assert!(!profile.is_empty());
    assert_eq!(profile.zero_gamma(SPOT, &FlipSearch::default()), None);
}

#[test]
fn a_flip_outside_the_range_is_absent() {
    // Put at 5000, call at 5200: the crossing is near 5100, 25% below spot.
    let leg = |strike: f64, weight: f64| GammaLeg {
        strike,
        t_years: 0.25,
        vol: 0.2,
        weight,
    };
    let profile = GammaProfile::new([leg(5000.0, -1e5), leg(5200.0, 1e5)], RATE, DIV_YIELD);
    assert_eq!(profile.zero_gamma(SPOT, &FlipSearch::default()), None);
    let wide = FlipSearch {
        max_reach: 0.4,
        ..FlipSearch::default()
    };
    let flip = profile.zero_gamma(SPOT, &wide).expect("in the wider range");
    assert!(5000.0 < flip.level && flip.level < 5200.0, "{flip:?}");
}

#[test]
fn an_empty_profile_is_zero_and_has_no_flip() {
    let profile = GammaProfile::new([], RATE, DIV_YIELD);
    assert!(profile.is_empty());
    assert_eq!(profile.len(), 0);
    assert_eq!(profile.gex_at(SPOT), 0.0);
    assert_eq!(profile.zero_gamma(SPOT, &FlipSearch::default()), None);
}

#[test]
fn legs_without_gamma_are_skipped() {
    let leg = |strike, t_years, vol, weight| GammaLeg {
        strike,
        t_years,
        vol,
        weight,
    };
    let good = leg(6800.0, 0.1, 0.15, 1e5);
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let bad = [
        leg(6800.0, 0.0, 0.15, 1e5),  // expired
        leg(6800.0, -0.1, 0.15, 1e5), // past expiry
        leg(6800.0, 0.1, 0.0, 1e5),   // no vol
        leg(6800.0, 0.1, -0.2, 1e5),  // negative vol
        leg(6800.0, 0.1, 0.15, 0.0),  // no open interest
        leg(0.0, 0.1, 0.15, 1e5),     // no strike
        leg(nan, 0.1, 0.15, 1e5),
        leg(6800.0, nan, 0.15, 1e5),
        leg(6800.0, 0.1, nan, 1e5),
        leg(6800.0, 0.1, 0.15, nan),
        leg(6800.0, 0.1, 0.15, inf),
        leg(6800.0, inf, 0.15, 1e5),
        // So little vol that `1/(σ√t)` overflows: a spike no scan can see.
        leg(6800.0, 0.1, 1e-320, 1e5),
    ];
    let profile = GammaProfile::new(bad.iter().copied().chain([good]), RATE, DIV_YIELD);
    assert_eq!(profile.len(), 1);
    let alone = GammaProfile::new([good], RATE, DIV_YIELD);
    for spot in [6000.0, 6800.0, 7500.0] {
        assert_eq!(profile.gex_at(spot), alone.gex_at(spot));
        assert!(profile.gex_at(spot).is_finite());
    }
    assert!(GammaProfile::new([good], f64::NAN, DIV_YIELD).is_empty());
}

#[test]
fn picks_the_crossing_nearest_spot() {
    // Short gamma at 6500 and 7100, long at 6800: two flips, one on each side.
    let leg = |strike: f64, weight: f64| GammaLeg {
        strike,
        t_years: 0.02,
        vol: 0.12,
        weight,
    };
    let profile = GammaProfile::new(
        [leg(6500.0, -1e5), leg(6800.0, 1e5), leg(7100.0, -1e5)],
        RATE,
        DIV_YIELD,
    );
    let search = FlipSearch::default();
    let low = profile.zero_gamma(6700.0, &search).expect("lower flip");
    assert!(
        6500.0 < low.level && low.level < 6800.0 && low.rising,
        "{low:?}"
    );
    let high = profile.zero_gamma(6900.0, &search).expect("upper flip");
    assert!(
        6800.0 < high.level && high.level < 7100.0 && !high.rising,
        "{high:?}"
    );
}

#[test]
fn an_exact_zero_on_the_grid_counts_and_one_at_the_edge_does_not() {
    assert_eq!(crossings(&[-1.0, 0.0, 2.0]), [(0, 2)]);
    assert_eq!(crossings(&[-1.0, 0.0, 0.0, -3.0]), []);
    assert_eq!(crossings(&[0.0, 0.0, 1.0, 2.0]), []);
    assert_eq!(crossings(&[1.0, -1.0, 0.0, 1.0]), [(0, 1), (1, 3)]);
    assert_eq!(crossings(&[0.0; 4]), []);
}

#[test]
fn brent_finds_simple_roots_to_tolerance() {
    type Function = fn(f64) -> f64;
    // (f, bracket low, bracket high, root)
    let cases: [(Function, f64, f64, f64); 4] = [
        (|x| x - 1.0, 0.0, 3.0, 1.0),
        (|x| x * x * x - 2.0, 0.0, 2.0, 2f64.cbrt()),
        (|x| (x - 0.3).tanh() * 1e6, -5.0, 5.0, 0.3),
        // A zero end point is itself the root.
        (|x| x, 0.0, 1.0, 0.0),
    ];
    for (f, a, b, want) in cases {
        let got = brent(f, (a, f(a)), (b, f(b)), 1e-9);
        assert!((got - want).abs() <= 1e-9, "{got} vs {want}");
    }
}

#[test]
fn fast_exp_agrees_with_std_down_to_underflow() {
    // The clamp is an exact zero, as the far-leg skip needs.
    assert_eq!(EXP_ARG_FLOOR.exp(), 0.0);
    assert_eq!(exp_of_nonpositive(EXP_ARG_FLOOR), 0.0);
    assert_eq!(exp_of_nonpositive(0.0), 1.0);
    let n = 2_000_000;
    let mut worst_ulps = 0.0f64;
    for j in 0..=n {
        let x = EXP_ARG_FLOOR * f64::from(j) / f64::from(n);
        let (got, want) = (exp_of_nonpositive(x), x.exp());
        if want >= f64::MIN_POSITIVE {
            let ulp = want * f64::EPSILON;
            worst_ulps = worst_ulps.max((got - want).abs() / ulp);
        } else {
            // Subnormal results: the same few ulps, on the subnormal grid.
            let step = f64::from_bits(1);
            assert!(
                (got - want).abs() <= 4.0 * step,
                "exp({x}) = {got}, std {want}"
            );
        }
    }
    assert!(worst_ulps <= 4.0, "worst error {worst_ulps} ulps");
}

#[test]
fn an_impossible_search_finds_nothing() {
    let profile = GammaProfile::new(spx_board(), RATE, DIV_YIELD);
    let default = FlipSearch::default();
    assert_eq!(profile.zero_gamma(f64::NAN, &default), None);
    assert_eq!(profile.zero_gamma(-1.0, &default), None);
    let backwards = FlipSearch {
        min_reach: -0.1,
        max_reach: -0.2,
        ..default
    };
    assert_eq!(profile.zero_gamma(SPOT, &backwards), None);
    // A two-point grid and a NaN tolerance still search.
    let coarse = FlipSearch {
        grid: 0,
        tolerance: f64::NAN,
        ..default
    };
    assert!(profile.zero_gamma(SPOT, &coarse).is_some());
}

/// Two material roots (a put below, a call between, a put above) and, in both
/// tails, a crossing into the flat, tiny gamma of one long-dated call: noise.
fn two_roots_and_noise() -> GammaProfile {
    let leg = |strike: f64, t_years: f64, vol: f64, weight: f64| GammaLeg {
        strike,
        t_years,
        vol,
        weight,
    };
    GammaProfile::new(
        [
            leg(6650.0, 0.02, 0.15, -1e5),
            leg(6800.0, 0.02, 0.15, 2e5),
            leg(6950.0, 0.02, 0.15, -1e5),
            leg(6800.0, 2.0, 0.2, 2e3),
        ],
        RATE,
        DIV_YIELD,
    )
}

#[test]
fn material_roots_are_reported_and_noise_crossings_are_not() {
    let profile = two_roots_and_noise();
    let search = FlipSearch::default();
    let scan = profile.scan(6800.0, &search).expect("a search");
    let levels: Vec<(f64, bool)> = scan.roots.iter().map(|r| (r.level, r.rising)).collect();
    assert_eq!(levels.len(), 2, "{levels:?}");
    assert!(6500.0 < levels[0].0 && levels[0].0 < 6800.0 && levels[0].1);
    assert!(6800.0 < levels[1].0 && levels[1].0 < 7100.0 && !levels[1].1);
    // The tails do cross zero, in the noise: with no floor they are roots too.
    assert_eq!(scan.immaterial, 2, "two crossings in the tails");
    let everything = FlipSearch {
        noise_floor: 0.0,
        ..search
    };
    let all = profile.scan(6800.0, &everything).expect("a search");
    assert_eq!(all.roots.len(), 4, "{:?}", all.roots);
    for noise in all.roots.iter().filter(|r| !scan.roots.contains(r)) {
        assert!(
            (noise.level - 6800.0).abs() > 300.0,
            "noise far out in the tails: {noise:?}"
        );
    }
    // The curve is on the scan grid, and the floor is 2% of its peak.
    assert_eq!(scan.spots.len(), search.grid);
    assert_eq!(scan.values.len(), search.grid);
    assert!((scan.floor - 0.02 * scan.peak).abs() <= 1e-9 * scan.peak);
}

#[test]
fn hysteresis_holds_the_tracked_root_until_another_is_clearly_nearer() {
    let profile = two_roots_and_noise();
    let search = FlipSearch::default();
    let rule = Hysteresis::default();
    let roots = profile.scan(6800.0, &search).expect("a search").roots;
    let (low, high) = (roots[0], roots[1]);
    // Spot drifts up from near the lower root to near the upper one, a point a
    // tick; the published root must be the lower one until the upper is nearer
    // spot by the margin, then the upper one, and never anything in between.
    let mut published = None;
    let mut switched_at = None;
    let mut spot = low.level + 5.0;
    while spot < high.level - 5.0 {
        let scan = profile.scan(spot, &search).expect("a search");
        let (flip, transition) = track(&scan, spot, published, &rule);
        let flip = flip.expect("two roots in range");
        match transition {
            Transition::First => assert!((flip.level - low.level).abs() < 0.05),
            Transition::Held => {}
            Transition::Switched => {
                assert!(switched_at.is_none(), "switched once");
                switched_at = Some(spot);
            }
            other => panic!("unexpected {other:?} at {spot}"),
        }
        let want = if switched_at.is_some() { high } else { low };
        assert!((flip.level - want.level).abs() < 0.05, "{spot}: {flip:?}");
        published = Some(flip);
        spot += 1.0;
    }
    let at = switched_at.expect("switched to the upper root");
    let margin = rule.switch_frac * at;
    assert!(
        (high.level - at) + margin < (at - low.level),
        "switched at {at}"
    );
    assert!(
        (high.level - (at - 1.0)) + margin >= (at - 1.0 - low.level) - 1e-9,
        "not a point earlier"
    );
    // Without hysteresis the nearest root changes at the midpoint instead.
    let mid = 0.5 * (low.level + high.level);
    let nearest = |s: f64| profile.zero_gamma(s, &search).map(|f| f.level > mid);
    assert_eq!(nearest(mid - 1.0), Some(false));
    assert_eq!(nearest(mid + 1.0), Some(true));
    // A root that vanished is replaced by the nearest, and said so.
    let calls_only = GammaProfile::new(
        [GammaLeg {
            strike: 6800.0,
            t_years: 0.02,
            vol: 0.15,
            weight: 1e5,
        }],
        RATE,
        DIV_YIELD,
    );
    let none = calls_only.scan(6800.0, &search).expect("a search");
    assert_eq!(
        track(&none, 6800.0, Some(low), &rule),
        (None, Transition::Vanished)
    );
    let scan = profile.scan(6800.0, &search).expect("a search");
    let gone = Flip {
        level: 6500.0,
        rising: true,
    };
    assert_eq!(
        track(&scan, 6800.0, Some(gone), &rule).1,
        Transition::Appeared
    );
}

/// Random boards: a handful of legs with strikes around spot, short and long
/// expiries, either sign.
fn random_legs() -> impl Strategy<Value = Vec<GammaLeg>> {
    prop::collection::vec(
        (0.8f64..1.2, 0.002f64..1.0, 0.05f64..0.6, -1e6f64..1e6).prop_map(
            |(moneyness, t_years, vol, weight)| GammaLeg {
                strike: SPOT * moneyness,
                t_years,
                vol,
                weight,
            },
        ),
        0..12,
    )
}

proptest! {
    #[test]
    fn a_flip_is_a_sign_change_and_none_means_no_bracket(
        legs in random_legs(),
        spot_frac in 0.9f64..1.1,
    ) {
        let profile = GammaProfile::new(legs.iter().copied(), RATE, DIV_YIELD);
        let search = FlipSearch::default();
        let spot = SPOT * spot_frac;
        let (lo, hi) = profile.search_range(spot, &search);
        match profile.zero_gamma(spot, &search) {
            Some(flip) => {
                prop_assert!(lo <= flip.level && flip.level <= hi, "{flip:?}");
                // A sign change of G lies within the tolerance of the level.
                let near = 2.0 * search.tolerance;
                let g = |s: f64| profile.gex_at(s);
                let (below, at, above) =
                    (g(flip.level - near), g(flip.level), g(flip.level + near));
                prop_assert!(
                    at == 0.0 || below * at <= 0.0 || at * above <= 0.0,
                    "{flip:?}: G = {below}, {at}, {above}"
                );
                prop_assert_eq!(flip.rising, above > 0.0 || (above == 0.0 && below < 0.0));
            }
            None => {
                // Then every sign change of the search's own grid, by the slow
                // BSM formula, is in the noise: `|G|` stays under the floor within
                // `side_cells` on both sides. (Relative slack for the fast exp.)
                let n = search.grid;
                let step = (hi / lo).ln() / (n - 1) as f64;
                let values: Vec<f64> =
                    (0..n).map(|j| direct_gex(&legs, lo * (j as f64 * step).exp())).collect();
                let peak = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let floor = search.noise_floor * peak * (1.0 + 1e-9);
                let reach = search.side_cells;
                for (a, b) in crossings(&values) {
                    let side = |r: std::ops::RangeInclusive<usize>| {
                        values[r].iter().fold(0.0f64, |m, v| m.max(v.abs()))
                    };
                    let (below, above) =
                        (side(a.saturating_sub(reach)..=a), side(b..=(b + reach).min(n - 1)));
                    prop_assert!(
                        below.max(above) <= floor,
                        "None, yet a material crossing at {a}..{b}: {below} {above} vs {floor}"
                    );
                }
            }
        }
    }
}

//! The zero-gamma flip: the spot level where dealers' total gamma exposure changes sign.
//!
//! Dealer GEX of one contract at spot `S`, in dollars per 1% move, is
//! `gamma(S) · OI · 100 · S² · 0.01`, with calls counted positive and puts negative (the
//! usual assumption that dealers are long the calls and short the puts customers hold;
//! a caller with better positioning data flips the signs of its legs). Above the flip
//! dealers are long gamma and their hedging damps moves; below it they are short gamma
//! and their hedging feeds them. The flip is the level where the total
//!
//! ```text
//! G(S') = Σᵢ wᵢ · gammaᵢ(S') · S'² · 0.01,    wᵢ = ±OIᵢ · 100
//! ```
//!
//! crosses zero as a *hypothetical* spot `S'` moves, with every contract's gamma
//! re-priced at `S'` (its own strike, time to expiry and implied vol; the common rate
//! and dividend yield). The vendor's greeks cannot answer this: they are computed at
//! the one spot the quote was taken at, and the GEX they give is a single number, not a
//! curve. So the flip is found by re-pricing: [`GammaProfile`] precomputes each leg's
//! constants once, then [`GammaProfile::zero_gamma`] scans `G` over a range around spot
//! and refines the crossing nearest to spot.
//!
//! # How the search looks
//!
//! [`FlipSearch`] sets a range `[lo_frac · spot, hi_frac · spot]` and a number of scan
//! points, spaced evenly in `ln S'` (BSM's `d1` is linear in `ln S'`, so every leg's
//! gamma bump is sampled at the same resolution wherever it sits in the range). A
//! crossing is two consecutive nonzero scan values of opposite sign; scan points where
//! `G` is exactly zero between them count as part of that crossing. The crossing whose
//! root is nearest spot wins (ties go to the lower level) and is refined with Brent's
//! method to `tolerance` index points.
//!
//! Two roots inside one scan cell cancel out and are invisible: `G` has the same sign at
//! both ends. The default scan (121 points over 0.85–1.15 of spot) has cells of
//! `ln(1.15/0.85)/120 ≈ 0.25%` of spot, about 17 points at SPX 6800. That is far
//! narrower than the gamma bump of anything but 0DTE contracts, whose width `S·σ·√t`
//! is about 25 points with six hours left and 10 in the last hour: on a day when 0DTE
//! open interest dominates, two crossings 17 points apart can exist and be missed
//! (raise `grid` to see them, at one full evaluation per point).
//!
//! # Absent, never invented
//!
//! When `G` keeps one sign over the whole range (an all-call board, or a range too
//! narrow to reach the crossing) there is no flip and the search says so with `None`.
//! It does not extrapolate past the range or fall back to the level where `|G|` is
//! smallest: the design's rule is that "a level that cannot be computed is shown as
//! absent, never guessed", and a made-up flip on a trader's chart is worse than none.
//!
//! # Speed
//!
//! With `d1 = (ln S' − cᵢ)·bᵢ`, `bᵢ = 1/(σᵢ√tᵢ)` and `cᵢ = ln Kᵢ − (r − q + σᵢ²/2)·tᵢ`,
//! BSM gives `gammaᵢ(S')·S'² = e^(−q·tᵢ)·φ(d1)·S'·bᵢ`, so
//!
//! ```text
//! G(S') = S' · Σᵢ aᵢ · exp(−d1²/2),    aᵢ = 0.01 · wᵢ · e^(−q·tᵢ) · bᵢ / √(2π)
//! ```
//!
//! One evaluation is a subtraction, three multiplications and an `exp` per leg, over
//! three flat arrays (`S'` factors out of the sum). The `exp` is this module's own,
//! straight-line and within about 2 ulps of `f64::exp`, so the loop vectorizes; a leg
//! so far from `S'` that `exp(−d1²/2)` underflows is clamped to an exact zero rather
//! than branched around, which changes nothing. On a 25,000-leg board one evaluation
//! takes about 80 µs and building the profile plus the whole search about 10 ms on one
//! core (`cargo bench -p chainboard-quant --bench levels`).

use std::f64::consts::TAU;

/// The lowest argument [`exp_of_nonpositive`] is given. `exp(−745.5)` is exactly `0.0`
/// in `f64` (the smallest subnormal is `exp(−744.4)`, and anything below about
/// `exp(−745.13)` rounds to zero), so clamping `−d1²/2` here turns every leg too far
/// from the money into an exact zero without a branch, and changes nothing.
const EXP_ARG_FLOOR: f64 = -745.5;

/// Legs per step of the evaluation loop, each with its own partial sum: four SSE2
/// vectors of `f64` on the baseline x86-64 target (two AVX2 or one AVX-512 vector when
/// built for those), enough independent work to hide the latency of the arithmetic.
const LANES: usize = 8;

/// Brent's method gives up after this many steps. It needs about 50 bisections to go
/// from a 17-point scan cell to `f64` resolution; the cap only guards against inputs
/// that make no progress (a NaN tolerance), so the search always ends.
const MAX_REFINE_STEPS: usize = 200;

/// One contract's part in the gamma profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaLeg {
    /// Strike, index points.
    pub strike: f64,
    /// Time to expiry, years. Expired legs (`<= 0`) have no gamma to re-price.
    pub t_years: f64,
    /// The contract's implied volatility, held fixed as spot moves (sticky strike).
    pub vol: f64,
    /// Signed shares: `±OI × contract multiplier`, positive for contracts dealers are
    /// long (calls, by convention) and negative for those they are short (puts).
    pub weight: f64,
}

/// Where and how finely to look for the flip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlipSearch {
    /// Low end of the range, as a fraction of spot (0.85 looks 15% down).
    pub lo_frac: f64,
    /// High end of the range, as a fraction of spot.
    pub hi_frac: f64,
    /// Scan points across the range, endpoints included, spaced evenly in `ln S'`. Each
    /// costs one evaluation of every leg. Two roots closer together than one cell are
    /// not seen; see the module docs.
    pub grid: usize,
    /// How precisely the flip is located, in index points. Reported levels are within
    /// this distance of a sign change of `G`.
    pub tolerance: f64,
}

impl Default for FlipSearch {
    /// ±15% of spot in 121 points (cells of ~17 points at SPX 6800), located to 0.01
    /// point: wide enough for the flip on a normal SPX or NDX day, fine enough that
    /// the scan costs less than one board rebuild.
    fn default() -> Self {
        Self {
            lo_frac: 0.85,
            hi_frac: 1.15,
            grid: 121,
            tolerance: 0.01,
        }
    }
}

/// A zero-gamma flip found by [`GammaProfile::zero_gamma`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flip {
    /// The spot level, index points, where total GEX changes sign.
    pub level: f64,
    /// Sign of `G` just above the flip: `true` when gamma turns positive going up (the
    /// usual picture: negative gamma below, positive above).
    pub rising: bool,
}

/// A gamma profile prepared for repeated evaluation at hypothetical spots.
///
/// Built once per search from the board's legs: each leg's constants are computed
/// once and stored as three parallel arrays (struct of arrays), so the evaluation loop
/// streams through contiguous `f64`s.
#[derive(Debug, Clone, Default)]
pub struct GammaProfile {
    /// `cᵢ = ln Kᵢ − (r − q + σᵢ²/2)·tᵢ`: the `ln S'` at which the leg's `d1` is zero.
    center: Vec<f64>,
    /// `bᵢ = 1/(σᵢ√tᵢ)`: how fast `d1` moves per unit of `ln S'`.
    scale: Vec<f64>,
    /// `aᵢ = 0.01 · wᵢ · e^(−q·tᵢ) · bᵢ / √(2π)`: the leg's GEX per unit of spot at
    /// `d1 = 0`, sign included.
    amplitude: Vec<f64>,
}

impl GammaProfile {
    /// Precomputes the legs with the common continuous `rate` and `div_yield`.
    ///
    /// Legs that carry no gamma to re-price are skipped: expired (`t_years <= 0`),
    /// without volatility (`vol <= 0`), with zero weight or a non-positive strike, or
    /// with any non-finite input (including a non-finite rate or dividend yield, which
    /// skips every leg).
    pub fn new(legs: impl IntoIterator<Item = GammaLeg>, rate: f64, div_yield: f64) -> Self {
        let legs = legs.into_iter();
        let mut profile = Self::with_capacity(legs.size_hint().0);
        let norm = 0.01 / TAU.sqrt();
        for leg in legs {
            let GammaLeg {
                strike,
                t_years,
                vol,
                weight,
            } = leg;
            let usable = strike > 0.0 && t_years > 0.0 && vol > 0.0 && weight != 0.0;
            let vol_sqrt_t = vol * t_years.sqrt();
            let center = strike.ln() - (rate - div_yield + 0.5 * vol * vol) * t_years;
            let scale = vol_sqrt_t.recip();
            let amplitude = norm * weight * (-div_yield * t_years).exp() * scale;
            // Everything finite also rules out NaN and infinite inputs, and a
            // `vol_sqrt_t` so small that `scale` overflows.
            if usable && [center, scale, amplitude].iter().all(|x| x.is_finite()) {
                profile.center.push(center);
                profile.scale.push(scale);
                profile.amplitude.push(amplitude);
            }
        }
        profile
    }

    fn with_capacity(n: usize) -> Self {
        Self {
            center: Vec::with_capacity(n),
            scale: Vec::with_capacity(n),
            amplitude: Vec::with_capacity(n),
        }
    }

    /// Number of legs kept (those that carry gamma).
    pub fn len(&self) -> usize {
        self.center.len()
    }

    /// Whether no leg carries gamma; such a profile is zero everywhere.
    pub fn is_empty(&self) -> bool {
        self.center.is_empty()
    }

    /// Total dealer GEX `G(spot)`, dollars per 1% move, with every leg re-priced at
    /// `spot`. Zero for an empty profile.
    pub fn gex_at(&self, spot: f64) -> f64 {
        spot * self.bump_sum(spot.ln())
    }

    /// `Σᵢ aᵢ · exp(−d1ᵢ²/2)` at `ln S' = ln_spot`.
    ///
    /// Written so the compiler vectorizes it: [`exp_of_nonpositive`] is straight-line
    /// arithmetic instead of a library call, legs too far out are clamped to an exact
    /// zero instead of branched around, and the sum runs in [`LANES`] independent
    /// partial sums (a single running sum is a serial dependency chain that floating
    /// point forbids the compiler to reorder).
    fn bump_sum(&self, ln_spot: f64) -> f64 {
        let term = |center: f64, scale: f64, amplitude: f64| {
            let d1 = (ln_spot - center) * scale;
            // `max` also maps a NaN `d1` to the clamp, but a NaN `ln_spot` still
            // comes out NaN through `gex_at`'s final multiplication.
            amplitude * exp_of_nonpositive((-0.5 * d1 * d1).max(EXP_ARG_FLOOR))
        };
        let (centers, center_rest) = self.center.as_chunks::<LANES>();
        let (scales, scale_rest) = self.scale.as_chunks::<LANES>();
        let (amplitudes, amplitude_rest) = self.amplitude.as_chunks::<LANES>();
        let mut partial = [0.0; LANES];
        for ((c, b), a) in centers.iter().zip(scales).zip(amplitudes) {
            let mut terms = [0.0; LANES];
            for lane in 0..LANES {
                terms[lane] = term(c[lane], b[lane], a[lane]);
            }
            for lane in 0..LANES {
                partial[lane] += terms[lane];
            }
        }
        let rest = center_rest.iter().zip(scale_rest).zip(amplitude_rest);
        partial.iter().sum::<f64>() + rest.map(|((&c, &b), &a)| term(c, b, a)).sum::<f64>()
    }

    /// The zero-gamma flip nearest to `spot` within the search range, or `None` when
    /// `G` does not change sign in range (never invented; see the module docs).
    ///
    /// Also `None` when the search cannot be carried out: a non-positive or non-finite
    /// `spot`, or a range that is empty or not within `(0, ∞)`. A `grid` below 2 is
    /// taken as 2 (the range's ends), and a negative or NaN `tolerance` as 0 (as
    /// precisely as `f64` allows).
    pub fn zero_gamma(&self, spot: f64, search: &FlipSearch) -> Option<Flip> {
        let lo = spot * search.lo_frac;
        let hi = spot * search.hi_frac;
        if !(spot.is_finite() && lo > 0.0 && lo < hi && hi.is_finite()) {
            return None;
        }
        let cells = search.grid.max(2) - 1;
        let (ln_lo, ln_hi) = (lo.ln(), hi.ln());
        let step = (ln_hi - ln_lo) / cells as f64;
        let levels: Vec<f64> = (0..=cells)
            .map(|j| match j {
                0 => lo,
                j if j == cells => hi,
                j => (ln_lo + j as f64 * step).exp(),
            })
            .collect();
        let values: Vec<f64> = levels.iter().map(|&s| self.gex_at(s)).collect();

        let mut crossings = crossings(&values);
        // Nearest first by the distance from spot to the bracket: no root inside a
        // bracket can be nearer than that, so once the best root found is closer than
        // the next bracket, the search is over.
        let bracket_distance =
            |&(a, b): &(usize, usize)| (levels[a] - spot).max(spot - levels[b]).max(0.0);
        crossings.sort_by(|x, y| bracket_distance(x).total_cmp(&bracket_distance(y)));
        let tolerance = search.tolerance.max(0.0);
        let mut best: Option<Flip> = None;
        for bracket in &crossings {
            if best.is_some_and(|f| (f.level - spot).abs() < bracket_distance(bracket)) {
                break;
            }
            let (a, b) = *bracket;
            let level = brent(
                |s| self.gex_at(s),
                (levels[a], values[a]),
                (levels[b], values[b]),
                tolerance,
            );
            let flip = Flip {
                level,
                rising: values[b] > 0.0,
            };
            let nearer = |f: &Flip| {
                let (d_new, d_old) = ((level - spot).abs(), (f.level - spot).abs());
                d_new < d_old || (d_new == d_old && level < f.level)
            };
            if best.is_none_or(|f| nearer(&f)) {
                best = Some(flip);
            }
        }
        best
    }
}

/// `1/n!` for `n` in `0..=12`, the Taylor coefficients of [`exp_of_nonpositive`],
/// computed at compile time (`n!` is exact in `f64` this far, so each is correctly
/// rounded).
const INV_FACTORIALS: [f64; 13] = {
    let mut table = [1.0; 13];
    let mut factorial = 1.0;
    let mut n = 1;
    while n < 13 {
        factorial *= n as f64;
        table[n] = 1.0 / factorial;
        n += 1;
    }
    table
};

/// `exp(x)` for `x` in `[EXP_ARG_FLOOR, 0]`, within a few ulps of `f64::exp` (zero
/// and subnormal results included), in arithmetic the compiler can vectorize.
///
/// The standard reduction: `x = k·ln 2 + r` with `k` an integer and `|r| ≤ ln 2 / 2`,
/// so `exp(x) = 2^k · exp(r)`. `k` comes from adding `1.5 · 2^52`, which rounds
/// `x / ln 2` to an integer held in the low bits of the sum; `ln 2` is split in two
/// (fdlibm's `ln2_hi`, whose trailing zero bits make `k · ln2_hi` exact, and the
/// remainder) so `r` keeps full precision; `exp(r)` is its Taylor series to `r¹²/12!`,
/// whose truncation error is below `2e-16` relative at `|r| = ln 2 / 2`, summed by
/// Estrin's scheme. `2^k` is built in the exponent bits as `2^(k+64)` and scaled by
/// `2^−64` last, so results in the subnormal range come out right to a few steps of the
/// subnormal grid instead of being flushed to zero.
#[inline(always)]
fn exp_of_nonpositive(x: f64) -> f64 {
    const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    // fdlibm's split of ln 2: the high part's 21 trailing zero bits make `k · LN2_HI`
    // exact for every `k` in range.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    const TWO_POW_MINUS_64: f64 = 5.421_010_862_427_522e-20;
    let shifted = x * std::f64::consts::LOG2_E + SHIFTER;
    let k = shifted - SHIFTER;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Σ rⁿ/n! for n ≤ 12 by Estrin's scheme: pairs, then pairs of pairs, so the longest
    // chain of dependent operations is 8 instead of Horner's 24 (with Horner the loop
    // waits on latency: it measured 35% slower).
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let c = INV_FACTORIALS;
    let low = (c[0] + c[1] * r + (c[2] + c[3] * r) * r2)
        + (c[4] + c[5] * r + (c[6] + c[7] * r) * r2) * r4;
    let high = (c[8] + c[9] * r + (c[10] + c[11] * r) * r2) + c[12] * r4;
    let exp_r = low + high * r8;
    // The low bits of `shifted` hold `k` (two's complement); `k + 64 + 1023` is the
    // biased exponent of `2^(k+64)`, between 11 and 1087 for `x` in range.
    let biased = shifted
        .to_bits()
        .wrapping_sub(SHIFTER.to_bits())
        .wrapping_add(64 + 1023);
    exp_r * f64::from_bits(biased << 52) * TWO_POW_MINUS_64
}

/// Index pairs `(a, b)`, `a < b`, of consecutive nonzero scan values with opposite
/// signs. Exact zeros between them are part of the crossing; a zero at either end of
/// the scan, with nothing on its other side, shows no sign change and is not one.
fn crossings(values: &[f64]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut last_nonzero: Option<usize> = None;
    for (j, &v) in values.iter().enumerate() {
        if v == 0.0 {
            continue;
        }
        if let Some(i) = last_nonzero
            && (values[i] > 0.0) != (v > 0.0)
        {
            found.push((i, j));
        }
        last_nonzero = Some(j);
    }
    found
}

/// A root of `f` in the bracket `[a, b]`, where `f(a)` and `f(b)` have opposite signs
/// (or one is zero), located to within `tolerance`.
///
/// Brent's method (R. P. Brent, *Algorithms for Minimization without Derivatives*,
/// 1973, ch. 4; the `zeroin` routine): it keeps a bracket `[b, c]` with a sign change
/// and steps by inverse quadratic interpolation or the secant when those land well
/// inside the bracket and shrink it fast enough, and by bisection otherwise. So it
/// always converges, and on a smooth `G` superlinearly: a 17-point cell to 0.01 point
/// takes a handful of evaluations.
///
/// The answer `b` is the end of the final bracket with the smaller `|f|`, and the
/// bracket is at most `tolerance` (plus a few ulps of `b`) wide, so a sign change of
/// `f` lies within `tolerance` of it.
fn brent(
    f: impl Fn(f64) -> f64,
    (mut a, mut fa): (f64, f64),
    (mut b, mut fb): (f64, f64),
    tolerance: f64,
) -> f64 {
    // `c` is the far end of the bracket; `d` the last step and `e` the one before it,
    // which decide whether interpolation is still converging fast enough to trust.
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..MAX_REFINE_STEPS {
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            // `b` and `c` no longer bracket: the sign change is between `a` and `b`.
            (c, fc) = (a, fa);
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            // Keep `b` as the best estimate so far.
            (a, fa) = (b, fb);
            (b, fb) = (c, fc);
            (c, fc) = (a, fa);
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * tolerance;
        let half = 0.5 * (c - b);
        if half.abs() <= tol || fb == 0.0 {
            return b;
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            // Try interpolation: secant through `a`, `b` when `a == c`, otherwise
            // inverse quadratic through all three. The step is `p / q`.
            let s = fb / fa;
            let (mut p, mut q) = if a == c {
                (2.0 * half * s, 1.0 - s)
            } else {
                let q = fa / fc;
                let r = fb / fc;
                (
                    s * (2.0 * half * q * (q - r) - (b - a) * (r - 1.0)),
                    (q - 1.0) * (r - 1.0) * (s - 1.0),
                )
            };
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            // Accept only if it lands inside the bracket (3/4 of the way towards `c`
            // at most) and is shorter than half the step before last; else bisect.
            if 2.0 * p < (3.0 * half * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = half;
                e = d;
            }
        } else {
            d = half;
            e = d;
        }
        (a, fa) = (b, fb);
        b += if d.abs() > tol { d } else { tol.copysign(half) };
        fb = f(b);
    }
    b
}

#[cfg(test)]
mod tests {
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
        let (want, step) = dense_crossing(
            &legs,
            SPOT,
            SPOT * search.lo_frac,
            SPOT * search.hi_frac,
            20_001,
        );
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
            lo_frac: 0.7,
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
            lo_frac: 1.1,
            hi_frac: 0.9,
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
            let (lo, hi) = (spot * search.lo_frac, spot * search.hi_frac);
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
                    // Then the search's own grid shows no sign change, by the slow
                    // BSM formula.
                    let n = search.grid;
                    let step = (hi / lo).ln() / (n - 1) as f64;
                    let signs: Vec<f64> = (0..n)
                        .map(|j| direct_gex(&legs, lo * (j as f64 * step).exp()))
                        .filter(|g| *g != 0.0)
                        .collect();
                    prop_assert!(
                        signs.windows(2).all(|w| (w[0] > 0.0) == (w[1] > 0.0)),
                        "None, yet the grid changes sign: {signs:?}"
                    );
                }
            }
        }
    }
}

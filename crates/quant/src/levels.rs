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
//! constants once, then [`GammaProfile::scan`] evaluates `G` over a range around spot,
//! keeps the crossings that are material and refines each one.
//!
//! # Where the search looks
//!
//! The range follows the profile's own gamma. A leg's gamma bump has a width of
//! `σ·√t` in `ln S'`; the profile's *gamma width* is the open-interest-weighted RMS of
//! its legs' widths ([`GammaProfile::gamma_width`]), and the range reaches
//! [`FlipSearch::reach_widths`] (four) of them either side of spot, clamped to ±0.5% …
//! ±15% ([`GammaProfile::search_range`]). A whole-chain profile is dominated by
//! monthly open interest and is searched over ±15%; a 0DTE profile four hours before
//! the close (`σ·√t ≈ 0.3%`) over about ±1.3%, where its gamma lives. Searching a 0DTE
//! profile over ±15% finds "crossings" hundreds of points away where every leg's
//! gamma is `exp(−d1²/2)` of a `d1` past 20: numerical dust, not a level.
//!
//! The scan has [`FlipSearch::grid`] points spaced evenly in `ln S'` (BSM's `d1` is
//! linear in `ln S'`, so every leg's bump is sampled at the same resolution wherever it
//! sits). A crossing is two consecutive nonzero scan values of opposite sign; scan
//! points where `G` is exactly zero between them count as part of that crossing.
//!
//! # Material crossings only
//!
//! A crossing counts as a root only where the profile is *material*: within
//! [`FlipSearch::side_cells`] scan cells on at least one side of it, `|G|` reaches
//! [`FlipSearch::noise_floor`] (2%) of the largest `|G|` in the range. Where `G` stays
//! below that on both sides, the dealers' net hedge on either side of the "flip" is
//! under 2% of the biggest one in range: nothing a trader would act on. And such a
//! root is not reproducible: its position is `δG / G'` sensitive, with both `δG` (an
//! implied volatility re-solved from a tick-rounded quote) and `G'` tiny, so it jumps
//! hundreds of points between ticks. Every material crossing is refined with Brent's
//! method to [`FlipSearch::tolerance`] index points; [`Scan`] keeps them all, with the
//! curve itself, so a client can show why the flip is where it is.
//!
//! Two roots inside one scan cell cancel out and are invisible: `G` has the same sign at
//! both ends. With 121 points a cell is at most 0.25% of spot (±15%, about 17 points
//! at SPX 6800) and much less on a narrow 0DTE range.
//!
//! # Which root is published: hysteresis
//!
//! A profile can have several material roots. Publishing the one nearest spot on
//! every tick makes the level jump between them as spot drifts across their
//! midpoint. [`track`] keeps the root published last tick while it exists (the
//! root crossing the same way nearest last tick's level, within
//! [`Hysteresis::track_frac`] of spot), and
//! switches only when another root is nearer spot by more than
//! [`Hysteresis::switch_frac`] (0.25% of spot), or when the tracked root vanishes.
//! Each answer says which happened ([`Transition`]).
//!
//! # Absent, never invented
//!
//! When `G` keeps one sign over the whole range (an all-call board, or a range too
//! narrow to reach the crossing), or changes sign only in the noise, there is no flip
//! and the search says so. It does not extrapolate past the range or fall back to the
//! level where `|G|` is smallest: a level that cannot be computed honestly is absent,
//! never guessed, and a made-up flip on a trader's chart is worse than none.
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
//! takes about 70 µs and building the profile plus the whole scan about 9 ms on one
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

/// Where and how finely to look for the flip, and what counts as one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlipSearch {
    /// The range reaches this many *gamma widths* either side of spot (in `ln S'`),
    /// where a gamma width is the open-interest-weighted RMS of the legs' `σ·√t`
    /// ([`GammaProfile::gamma_width`]): a 0DTE profile is searched where 0DTE gamma
    /// lives, a whole-chain profile much wider.
    pub reach_widths: f64,
    /// The range reaches at least this far either side of spot, as a log fraction
    /// (0.005 ≈ ±0.5%): even a 0DTE book minutes before the close spreads over a few
    /// strikes.
    pub min_reach: f64,
    /// ... and at most this far (0.15 ≈ ±15%): beyond it a crossing says nothing about
    /// today's trading.
    pub max_reach: f64,
    /// Scan points across the range, endpoints included, spaced evenly in `ln S'`. Each
    /// costs one evaluation of every leg. Two roots closer together than one cell are
    /// not seen; see the module docs.
    pub grid: usize,
    /// How precisely each root is located, in index points. Reported levels are
    /// within this distance of a sign change of `G`.
    pub tolerance: f64,
    /// A crossing is *material* only if `|G|` reaches this fraction of the largest
    /// `|G|` in the range on at least one side of it, within [`FlipSearch::side_cells`]
    /// scan cells; see the module docs.
    pub noise_floor: f64,
    /// How many scan cells either side of a crossing are looked at for materiality.
    pub side_cells: usize,
}

impl Default for FlipSearch {
    /// Four gamma widths either side of spot, between ±0.5% and ±15%, in 121 points
    /// (cells of at most 0.25% of spot, ~17 points at SPX 6800), roots located to
    /// 0.01 point; a crossing is material when `|G|` reaches 2% of the range's peak
    /// within four cells of it.
    fn default() -> Self {
        Self {
            reach_widths: 4.0,
            min_reach: 0.005,
            max_reach: 0.15,
            grid: 121,
            tolerance: 0.01,
            noise_floor: 0.02,
            side_cells: 4,
        }
    }
}

/// A zero-gamma root found by [`GammaProfile::scan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flip {
    /// The spot level, index points, where total GEX changes sign.
    pub level: f64,
    /// Sign of `G` just above the flip: `true` when gamma turns positive going up (the
    /// usual picture: negative gamma below, positive above).
    pub rising: bool,
}

/// The profile scanned over a search range: the curve `G(S')` on the scan grid and
/// every material root in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// Scan points, index levels, ascending (evenly spaced in `ln S'`).
    pub spots: Vec<f64>,
    /// `G` at each scan point, dollars per 1% move.
    pub values: Vec<f64>,
    /// The largest `|G|` on the scan: the profile's scale in range.
    pub peak: f64,
    /// `noise_floor · peak`: the `|G|` a crossing's side must reach to be material.
    pub floor: f64,
    /// Every material root, refined, ascending.
    pub roots: Vec<Flip>,
    /// Sign changes on the scan that were not material (noise).
    pub immaterial: usize,
}

impl Scan {
    /// The material root nearest `spot` (ties go to the lower level).
    pub fn nearest(&self, spot: f64) -> Option<Flip> {
        self.roots.iter().copied().min_by(|a, b| {
            (a.level - spot)
                .abs()
                .total_cmp(&(b.level - spot).abs())
                .then(a.level.total_cmp(&b.level))
        })
    }
}

/// How a published root relates to the one published the tick before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing was published before.
    First,
    /// The same root as last tick, re-refined (it may have moved a little).
    Held,
    /// Last tick's root still exists, but another is nearer spot by more than the
    /// margin.
    Switched,
    /// Last tick's root vanished (or there was none): the nearest root now.
    Appeared,
    /// There is no material root now (there was one last tick).
    Vanished,
}

impl Transition {
    /// `first`, `held`, `switched`, `appeared` or `vanished`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::First => "first",
            Transition::Held => "held",
            Transition::Switched => "switched",
            Transition::Appeared => "appeared",
            Transition::Vanished => "vanished",
        }
    }
}

/// When the published flip follows its root and when it moves to another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hysteresis {
    /// A root this close to last tick's level (and crossing the same way) is the same
    /// root, as a fraction of spot. Farther, it is another root: last tick's vanished,
    /// and the change is announced ([`Transition::Appeared`]), never passed off as the
    /// same level moving.
    pub track_frac: f64,
    /// Another root replaces the tracked one only when it is nearer spot by more than
    /// this fraction of spot.
    pub switch_frac: f64,
}

impl Default for Hysteresis {
    /// The same root within 0.1% of spot (7 SPX points at 6800, a root re-refined after
    /// its contracts' volatilities were re-solved moves less than that in a second);
    /// switch for a root nearer spot by 0.25% (17 SPX points, 52 NDX points at
    /// 21000).
    fn default() -> Self {
        Self {
            track_frac: 0.001,
            switch_frac: 0.0025,
        }
    }
}

/// The root to publish given last tick's, with how it relates to it.
///
/// The root that crosses the same way as `previous` and lies nearest it, within the
/// tracking distance, is *the same root* and stays published while it exists, even
/// if spot drifts nearer another, until another root is nearer spot by more than the
/// switch margin. Without a tracked root, the nearest root to spot is published.
/// Ties go to the lower level, so the same inputs always give the same answer.
pub fn track(
    scan: &Scan,
    spot: f64,
    previous: Option<Flip>,
    rule: &Hysteresis,
) -> (Option<Flip>, Transition) {
    let nearest = scan.nearest(spot);
    let Some(prev) = previous else {
        return (nearest, Transition::First);
    };
    let reach = rule.track_frac * spot;
    let tracked = scan
        .roots
        .iter()
        .copied()
        .filter(|r| r.rising == prev.rising && (r.level - prev.level).abs() <= reach)
        .min_by(|a, b| {
            (a.level - prev.level)
                .abs()
                .total_cmp(&(b.level - prev.level).abs())
                .then(a.level.total_cmp(&b.level))
        });
    match (tracked, nearest) {
        (_, None) => (None, Transition::Vanished),
        (None, Some(n)) => (Some(n), Transition::Appeared),
        (Some(t), Some(n)) => {
            let margin = rule.switch_frac * spot;
            if (n.level - spot).abs() + margin < (t.level - spot).abs() {
                (Some(n), Transition::Switched)
            } else {
                (Some(t), Transition::Held)
            }
        }
    }
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
    /// `Σ |wᵢ|·(σᵢ√tᵢ)²` and `Σ |wᵢ|`, for [`GammaProfile::gamma_width`].
    width_moments: (f64, f64),
    /// Whether some kept leg is long and some short: a one-sided profile keeps one
    /// sign everywhere.
    signs: (bool, bool),
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
                profile.width_moments.0 += weight.abs() * vol_sqrt_t * vol_sqrt_t;
                profile.width_moments.1 += weight.abs();
                if weight > 0.0 {
                    profile.signs.0 = true;
                } else {
                    profile.signs.1 = true;
                }
            }
        }
        profile
    }

    fn with_capacity(n: usize) -> Self {
        Self {
            center: Vec::with_capacity(n),
            scale: Vec::with_capacity(n),
            amplitude: Vec::with_capacity(n),
            ..Self::default()
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

    /// Whether every kept leg has the same sign (all long or all short): then `G`
    /// cannot change sign anywhere.
    pub fn is_one_sided(&self) -> bool {
        self.signs.0 != self.signs.1
    }

    /// The open-interest-weighted RMS of the legs' `σ·√t`: how far in `ln S'` the
    /// profile's gamma reaches. Zero for an empty profile.
    pub fn gamma_width(&self) -> f64 {
        let (moment, weight) = self.width_moments;
        if weight > 0.0 {
            (moment / weight).sqrt()
        } else {
            0.0
        }
    }

    /// The search range `(lo, hi)` around `spot` for this profile, index points:
    /// [`FlipSearch::reach_widths`] gamma widths either side, clamped to
    /// `[min_reach, max_reach]`, symmetric in `ln S'`.
    pub fn search_range(&self, spot: f64, search: &FlipSearch) -> (f64, f64) {
        let reach = (search.reach_widths * self.gamma_width())
            .min(search.max_reach)
            .max(search.min_reach);
        (spot * (-reach).exp(), spot * reach.exp())
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

    /// Scans `G` over the profile's search range around `spot` (see
    /// [`GammaProfile::search_range`]) and refines every material crossing.
    ///
    /// `None` when the search cannot be carried out: a non-positive or non-finite
    /// `spot`, or a range that is empty or not within `(0, ∞)`. A `grid` below 2 is
    /// taken as 2 (the range's ends), and a negative or NaN `tolerance` as 0 (as
    /// precisely as `f64` allows).
    pub fn scan(&self, spot: f64, search: &FlipSearch) -> Option<Scan> {
        let (lo, hi) = self.search_range(spot, search);
        if !(spot.is_finite() && lo > 0.0 && lo < hi && hi.is_finite()) {
            return None;
        }
        let cells = search.grid.max(2) - 1;
        let (ln_lo, ln_hi) = (lo.ln(), hi.ln());
        let step = (ln_hi - ln_lo) / cells as f64;
        let spots: Vec<f64> = (0..=cells)
            .map(|j| match j {
                0 => lo,
                j if j == cells => hi,
                j => (ln_lo + j as f64 * step).exp(),
            })
            .collect();
        let values: Vec<f64> = spots.iter().map(|&s| self.gex_at(s)).collect();
        let peak = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let floor = search.noise_floor.max(0.0) * peak;
        let tolerance = search.tolerance.max(0.0);
        let reach = search.side_cells.max(1);
        let side_peak = |range: std::ops::RangeInclusive<usize>| {
            values[range].iter().fold(0.0f64, |m, v| m.max(v.abs()))
        };
        let mut roots = Vec::new();
        let mut immaterial = 0;
        for (a, b) in crossings(&values) {
            let below = side_peak(a.saturating_sub(reach)..=a);
            let above = side_peak(b..=b.saturating_add(reach).min(cells));
            if below.max(above) < floor || peak == 0.0 {
                immaterial += 1;
                continue;
            }
            let level = brent(
                |s| self.gex_at(s),
                (spots[a], values[a]),
                (spots[b], values[b]),
                tolerance,
            );
            roots.push(Flip {
                level,
                rising: values[b] > 0.0,
            });
        }
        Some(Scan {
            spots,
            values,
            peak,
            floor,
            roots,
            immaterial,
        })
    }

    /// The material zero-gamma root nearest to `spot` within the search range, or
    /// `None` when there is none (never invented; see the module docs). The same
    /// conditions as [`GammaProfile::scan`] also give `None`.
    pub fn zero_gamma(&self, spot: f64, search: &FlipSearch) -> Option<Flip> {
        self.scan(spot, search)?.nearest(spot)
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
mod tests;

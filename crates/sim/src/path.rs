//! How a simulated index moves: around its own zero-gamma flip, so that a demo
//! watched for a few minutes shows both gamma regimes (see [`SpotPath`]).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::traffic::normal;

/// How an index moves: a mean-reverting walk around a level near its own zero-gamma
/// flip, with occasional trends.
///
/// A demo is watched for minutes, not a session, and a trader looks at it to see
/// both gamma regimes: spot above the flip (dealers long gamma) and below it. So the
/// index does not wander off as a random walk would; its log distance from the
/// *anchor* (the chain's own flip at generation, found with the same search the
/// models use, or the starting level when there is none) follows an
/// Ornstein–Uhlenbeck process, exact for any step:
///
/// ```text
/// x' = x·e^(−θ·dt) + target·(1 − e^(−θ·dt)) + sd·√(1 − e^(−2θ·dt))·z,   θ = ln 2 / half_life
/// ```
///
/// Now and then (on average every [`SpotPath::trend_every_ms`]) a trend sets
/// `target` to `±trend_size` for [`SpotPath::trend_ms`], and the index runs that way
/// before it comes back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpotPath {
    /// Time for half of a displacement from the target to decay, ms.
    pub half_life_ms: f64,
    /// Standard deviation of `ln(S/anchor)` around the target when settled (0.0012 =
    /// 0.12%: about 8 SPX points). Zero freezes the index (it still reverts).
    pub sd: f64,
    /// Mean time between trends, ms (a Poisson clock).
    pub trend_every_ms: f64,
    /// How long a trend lasts, ms.
    pub trend_ms: f64,
    /// How far a trend pulls, as a log offset from the anchor (0.008 = 0.8%).
    pub trend_size: f64,
}

impl Default for SpotPath {
    /// Half-life 120 s around the flip with 0.12% spread (under a point a second, about
    /// 20% annualised: a faster index makes every quote stale against spot within a
    /// second, and 0DTE implied volatilities, and with them the 0DTE flip, jitter),
    /// and a 90-second trend of 0.8% every six minutes on average.
    fn default() -> Self {
        Self {
            half_life_ms: 120_000.0,
            sd: 0.0012,
            trend_every_ms: 360_000.0,
            trend_ms: 90_000.0,
            trend_size: 0.008,
        }
    }
}

/// The state of one index's [`SpotPath`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PathState {
    /// The level the index reverts around.
    pub(crate) anchor: f64,
    /// The current target offset, `ln(level/anchor)`: zero, or a trend's pull.
    pub(crate) target: f64,
    /// When the current trend ends (Unix ms), if one runs.
    pub(crate) trend_until_ms: Option<i64>,
}

impl PathState {
    /// One step of `dt_ms` from `spot`; returns the new level.
    pub(crate) fn step(
        &mut self,
        path: &SpotPath,
        spot: f64,
        now_ms: i64,
        dt_ms: i64,
        rng: &mut ChaCha8Rng,
    ) -> f64 {
        let dt = dt_ms as f64;
        if self.trend_until_ms.is_some_and(|end| now_ms >= end) {
            (self.target, self.trend_until_ms) = (0.0, None);
        }
        if self.trend_until_ms.is_none()
            && path.trend_every_ms > 0.0
            && rng.random_bool((dt / path.trend_every_ms).clamp(0.0, 1.0))
        {
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            self.target = sign * path.trend_size;
            self.trend_until_ms = Some(now_ms + path.trend_ms as i64);
        }
        let theta = std::f64::consts::LN_2 / path.half_life_ms.max(1.0);
        let decay = (-theta * dt).exp();
        let x = (spot / self.anchor).ln();
        let noise = path.sd * (1.0 - decay * decay).max(0.0).sqrt() * normal(rng);
        let next = x * decay + self.target * (1.0 - decay) + noise;
        self.anchor * next.exp()
    }
}

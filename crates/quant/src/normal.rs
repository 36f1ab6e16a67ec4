//! The standard normal distribution, as Black-Scholes-Merton needs it.
//!
//! The CDF goes through `erfc` rather than `1 + erf` so that deep out-of-the-money
//! wings (`x` around -8 and below, where `N(x)` is ~1e-15) keep their relative
//! accuracy instead of cancelling to zero: wing prices and their greeks feed GEX.

use std::f64::consts::FRAC_1_SQRT_2;

/// `1 / sqrt(2π)`, the density's normalizing constant.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// The standard normal cumulative distribution function `N(x)`.
///
/// Accurate to a few ulps relative error in both tails; `cdf(-inf) = 0`,
/// `cdf(inf) = 1`.
pub fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// The standard normal probability density `φ(x)`.
pub fn pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_table_values() {
        let cases = [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (-1.0, 0.158_655_253_931_457_05),
            (1.96, 0.975_002_104_851_780_1),
            (-3.0, 0.001_349_898_031_630_094_6),
        ];
        for (x, want) in cases {
            assert!((cdf(x) - want).abs() < 1e-15, "N({x}) = {}", cdf(x));
        }
    }

    #[test]
    fn lower_tail_keeps_relative_accuracy() {
        // N(-10) = 7.6198530241605e-24: 1 + erf(x) would return 0 here.
        let got = cdf(-10.0);
        let want = 7.619_853_024_160_527e-24;
        assert!(((got - want) / want).abs() < 1e-12, "{got}");
        assert_eq!(cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(cdf(f64::INFINITY), 1.0);
    }

    #[test]
    fn density_is_normalized_at_zero_and_symmetric() {
        assert!((pdf(0.0) - 1.0 / std::f64::consts::TAU.sqrt()).abs() < 1e-16);
        assert_eq!(pdf(1.3), pdf(-1.3));
        assert_eq!(pdf(f64::INFINITY), 0.0);
    }
}

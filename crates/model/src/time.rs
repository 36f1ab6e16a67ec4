//! Timestamps of unknown unit.
//!
//! Massive documents REST timestamps as Unix nanoseconds, yet its own fixtures carry
//! 13-digit millisecond values; WebSocket events are documented in milliseconds with
//! one page saying seconds. chainboard therefore never trusts the documented unit: it
//! reads the magnitude and converts to milliseconds once, at the boundary.

/// Converts a Unix timestamp in seconds, milliseconds, microseconds or nanoseconds to
/// milliseconds, choosing the unit by magnitude.
///
/// The thresholds sit at 10^11, 10^14 and 10^17, which separates the units for any
/// date from 1973 to 5138. Zero and negative values are not timestamps (`None`).
pub fn unix_ms_from_any(value: i64) -> Option<i64> {
    match value {
        ..=0 => None,
        1..100_000_000_000 => Some(value * 1000),
        100_000_000_000..100_000_000_000_000 => Some(value),
        100_000_000_000_000..100_000_000_000_000_000 => Some(value / 1000),
        _ => Some(value / 1_000_000),
    }
}

/// As [`unix_ms_from_any`] for a JSON number that arrived as a float (e.g. `1.7e18`).
pub fn unix_ms_from_any_f64(value: f64) -> Option<i64> {
    if !value.is_finite() || value <= 0.0 || value >= 9.2e18 {
        return None;
    }
    unix_ms_from_any(value as i64)
}

/// A count (contracts, open interest, volume) from a JSON number that arrived as a
/// float: a non-negative whole number that fits `u64` (`17.0` counts; `17.5`, `-1`
/// and `NaN` do not). Vendors send counts either way.
pub fn count_from_f64(value: f64) -> Option<u64> {
    (value >= 0.0 && value.fract() == 0.0 && value < 1.8e19).then_some(value as u64)
}

/// Milliseconds as fractional Unix seconds, the unit of a record's `ts`.
pub fn ms_to_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_detected_by_magnitude() {
        let ms = 1_764_000_000_123;
        for (input, expected) in [
            (1_764_000_000, Some(1_764_000_000_000)),
            (ms, Some(ms)),
            (ms * 1000 + 456, Some(ms)),
            (ms * 1_000_000 + 456_789, Some(ms)),
            (0, None),
            (-5, None),
        ] {
            assert_eq!(unix_ms_from_any(input), expected, "{input}");
        }
        assert_eq!(unix_ms_from_any_f64(1.764e18), Some(1_764_000_000_000));
        assert_eq!(unix_ms_from_any_f64(f64::NAN), None);
        assert_eq!(ms_to_seconds(1_500), 1.5);
        for (v, count) in [
            (17.0, Some(17)),
            (0.0, Some(0)),
            (17.5, None),
            (-1.0, None),
            (f64::NAN, None),
            (2e19, None),
        ] {
            assert_eq!(count_from_f64(v), count, "{v}");
        }
    }
}

//! Jittered exponential backoff, shared by the chain loader's retries and the
//! WebSocket client's reconnects.
//!
//! "Full jitter": the n-th wait is drawn uniformly from `[base·2ⁿ / 2, base·2ⁿ]`,
//! capped at `max`. Many chainboard instances restarting after one Massive outage then
//! spread their reconnects instead of arriving together, and a single instance still
//! waits at least half the nominal delay, so it never hammers a struggling server.
//!
//! The randomness is a small SplitMix64 seeded per instance: jitter needs spread, not
//! cryptographic quality, and a seed makes a test's waits reproducible.

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first wait's nominal length.
    pub base: Duration,
    /// No wait is longer than this.
    pub max: Duration,
}

impl BackoffConfig {
    /// A config from milliseconds.
    pub const fn from_millis(base_ms: u64, max_ms: u64) -> Self {
        Self {
            base: Duration::from_millis(base_ms),
            max: Duration::from_millis(max_ms),
        }
    }
}

/// The state of one retry sequence.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A fresh sequence; `seed` spreads instances apart.
    pub fn new(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            attempt: 0,
            rng: seed,
        }
    }

    /// A sequence seeded from the clock and the process id, for production use.
    pub fn unseeded(config: BackoffConfig) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self::new(
            config,
            u64::from(nanos) ^ (u64::from(std::process::id()) << 32),
        )
    }

    /// Waits so far in this sequence.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The next wait; each call doubles the nominal delay up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self
            .config
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.config.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = nominal / 2;
        let spread = u64::try_from((nominal - half).as_micros()).unwrap_or(u64::MAX);
        let extra = if spread == 0 {
            0
        } else {
            self.next_u64() % spread.saturating_add(1)
        };
        half.saturating_add(Duration::from_micros(extra))
            .min(nominal)
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let mut b = Backoff::new(BackoffConfig::from_millis(100, 1_000), 7);
        let nominal = [100, 200, 400, 800, 1_000, 1_000, 1_000];
        for n in nominal {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= n / 2 && d <= n, "{d} not in [{}, {n}]", n / 2);
        }
        assert_eq!(b.attempts(), 7);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn seeds_spread_the_waits() {
        let draw = |seed| {
            let mut b = Backoff::new(BackoffConfig::from_millis(1_000, 60_000), seed);
            (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn many_attempts_never_overflow() {
        let mut b = Backoff::new(BackoffConfig::from_millis(u64::MAX / 4, u64::MAX), 3);
        for _ in 0..100 {
            let _ = b.next_delay();
        }
    }
}

//! Jittered exponential backoff between failed refresh attempts.

use std::time::Duration;

/// First delay after a failed refresh (1 second).
pub(crate) const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest delay between two refresh attempts (30 seconds): also how long after STS recovers
/// the first caller may at most wait to get a fresh session.
pub(crate) const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Delays between failed refresh attempts: `initial * 2^(failures-1)`, capped at `max`, then
/// drawn uniformly from its upper half ("equal jitter"), so that attempts are never closer than
/// half the nominal step and providers that failed together spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: DEFAULT_BACKOFF_INITIAL,
            max: DEFAULT_BACKOFF_MAX,
        }
    }
}

impl Backoff {
    /// The nominal (un-jittered) step after `failures` consecutive failures (at least 1).
    pub(crate) fn nominal(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// The delay after `failures` consecutive failures, with `unit` in `[0, 1)` as the jitter.
    pub(crate) fn delay(&self, failures: u32, unit: f64) -> Duration {
        let nominal = self.nominal(failures);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        nominal / 2 + (nominal / 2).mul_f64(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_stays_in_the_upper_half() {
        let b = Backoff::default();
        assert_eq!(b.nominal(1), Duration::from_secs(1));
        assert_eq!(b.nominal(2), Duration::from_secs(2));
        assert_eq!(b.nominal(5), Duration::from_secs(16));
        assert_eq!(b.nominal(6), Duration::from_secs(30));
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(4));
    }
}

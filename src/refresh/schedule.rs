//! When to refresh a session: the advisory and mandatory windows and the jittered refresh point.
//!
//! Pure functions of the session's lifetime and a random number, tested here on their own.

use std::time::{Duration, SystemTime};

/// How long before expiry callers stop getting the cached session at once and wait for the
/// refresh in flight (1 minute). Shortened to a quarter of the lifetime for sessions shorter
/// than 4 minutes, which STS never issues but test servers may.
pub(crate) const MANDATORY_WINDOW: Duration = Duration::from_secs(60);

/// The advisory window for a session of the given lifetime: within it, the first caller past
/// the session's refresh point starts a background refresh while still receiving the cached
/// session.
///
/// - lifetime up to 20 minutes: the last 5 minutes;
/// - lifetime under 90 minutes: the last 15 minutes;
/// - otherwise: the last 60 minutes.
///
/// Never more than three quarters of the lifetime (which no STS session reaches: they last at
/// least 15 minutes), so a short test session is used for at least a quarter of its life.
pub(crate) fn advisory_window(lifetime: Duration) -> Duration {
    let window = if lifetime <= Duration::from_secs(20 * 60) {
        Duration::from_secs(5 * 60)
    } else if lifetime < Duration::from_secs(90 * 60) {
        Duration::from_secs(15 * 60)
    } else {
        Duration::from_secs(60 * 60)
    };
    window.min(lifetime * 3 / 4)
}

/// The mandatory window for a session of the given lifetime (see [`MANDATORY_WINDOW`]).
pub(crate) fn mandatory_window(lifetime: Duration) -> Duration {
    MANDATORY_WINDOW.min(lifetime / 4)
}

/// The points in time that govern one cached session, all in the local clock's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefreshSchedule {
    /// From here on, the first caller starts a background refresh.
    pub(crate) refresh_at: SystemTime,
    /// From here on, callers wait for the refresh in flight.
    pub(crate) mandatory_at: SystemTime,
    /// The session's expiry: it is never handed out at or after this point.
    pub(crate) expires_at: SystemTime,
}

impl RefreshSchedule {
    /// The schedule of a session received at `received_at` that expires at `expires_at`.
    ///
    /// `jitter` is a number in `[0, 1)`, drawn once per session: the refresh point lies
    /// uniformly within the first half of the advisory window, so a fleet whose sessions
    /// started in the same second does not refresh in the same second. `0.0` disables the
    /// jitter (everyone refreshes at the start of the window).
    pub(crate) fn new(received_at: SystemTime, expires_at: SystemTime, jitter: f64) -> Self {
        let lifetime = expires_at
            .duration_since(received_at)
            .unwrap_or(Duration::ZERO);
        let advisory = advisory_window(lifetime);
        let window_start = expires_at - advisory;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let refresh_at = window_start + (advisory / 2).mul_f64(jitter);
        let mandatory_at = expires_at - mandatory_window(lifetime);
        RefreshSchedule {
            refresh_at: refresh_at.min(mandatory_at),
            mandatory_at,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn windows_follow_the_lifetime() {
        assert_eq!(advisory_window(15 * MIN), 5 * MIN);
        assert_eq!(advisory_window(20 * MIN), 5 * MIN);
        assert_eq!(advisory_window(21 * MIN), 15 * MIN);
        assert_eq!(advisory_window(89 * MIN), 15 * MIN);
        assert_eq!(advisory_window(90 * MIN), 60 * MIN);
        assert_eq!(advisory_window(12 * 60 * MIN), 60 * MIN);
        assert_eq!(advisory_window(4 * MIN), 3 * MIN);
        assert_eq!(advisory_window(25 * MIN), 15 * MIN);
        assert_eq!(mandatory_window(60 * MIN), MIN);
        assert_eq!(mandatory_window(2 * MIN), Duration::from_secs(30));
    }

    #[test]
    fn refresh_point_lies_in_the_first_half_of_the_advisory_window() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let expiry = t0 + 60 * MIN;
        let early = RefreshSchedule::new(t0, expiry, 0.0);
        let late = RefreshSchedule::new(t0, expiry, 0.999_999);
        assert_eq!(early.refresh_at, expiry - 15 * MIN);
        assert!(late.refresh_at < expiry - Duration::from_secs(7 * 60 + 29));
        assert!(late.refresh_at > expiry - Duration::from_secs(7 * 60 + 31));
        assert_eq!(early.mandatory_at, expiry - MIN);
        assert_eq!(early.expires_at, expiry);
    }

    #[test]
    fn expired_or_nonsense_input_still_gives_ordered_points() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let s = RefreshSchedule::new(t0, t0 - MIN, f64::NAN);
        assert!(s.refresh_at <= s.mandatory_at && s.mandatory_at <= s.expires_at);
    }
}

//! The default clock: the one place in the crate that reads the real time itself.
//!
//! Every expiry decision goes through an injected
//! [`SharedTimeSource`]; when none is given, this is
//! the one used. It reads `CLOCK_REALTIME_COARSE` on Linux (about 7 ns instead of about 25 ns
//! for `SystemTime::now` on the reference machine), which matters because every cache hit
//! reads the clock once. The coarse clock lags the real time by up to a timer tick (4 ms on the
//! reference machine, up to about 6.5 ms measured under load), so this source adds its
//! resolution and [`COARSE_CLOCK_ALLOWANCE`] and reads a little late rather than early:
//! sessions are taken for expired some tens of milliseconds before they are, not after. That
//! is far below anything the provider decides (refresh points are minutes apart), and every
//! local expiry already keeps a one-second margin (the `Date` header's resolution).

use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use std::time::SystemTime;

/// Added to the coarse clock so that it reads late rather than early (see the module docs).
pub const COARSE_CLOCK_ALLOWANCE: std::time::Duration = std::time::Duration::from_millis(50);

/// The real clock, read cheaply; see the [module docs](self).
#[derive(Debug, Default, Clone, Copy)]
pub struct CoarseSystemTimeSource {
    _private: (),
}

impl CoarseSystemTimeSource {
    /// The coarse system clock.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Nanoseconds since the Unix epoch (0 for earlier times, saturating far in the future): the
/// form the cache compares on its hot path.
pub(crate) fn nanos_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The clock the engine reads: the default coarse clock, called directly (inlined, no dynamic
/// dispatch, no `SystemTime` arithmetic on the hot path), or any injected time source.
#[derive(Debug, Clone)]
pub(crate) enum Clock {
    Coarse(CoarseSystemTimeSource),
    Injected(SharedTimeSource),
}

impl Clock {
    /// The current time.
    pub(crate) fn now(&self) -> SystemTime {
        match self {
            Clock::Coarse(clock) => clock.now(),
            Clock::Injected(source) => source.now(),
        }
    }

    /// The current time in nanoseconds since the Unix epoch.
    #[inline(always)]
    pub(crate) fn now_nanos(&self) -> u64 {
        match self {
            Clock::Coarse(_) => imp::now_nanos(),
            Clock::Injected(source) => nanos_since_epoch(source.now()),
        }
    }

    /// The clock as a time source for the SDK (signing).
    pub(crate) fn shared(&self) -> SharedTimeSource {
        match self {
            Clock::Coarse(clock) => SharedTimeSource::new(*clock),
            Clock::Injected(source) => source.clone(),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[inline(always)]
    fn read(clock: libc::clockid_t) -> Option<libc::timespec> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; clock_gettime writes only into it.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        (rc == 0).then_some(ts)
    }

    fn to_duration(ts: libc::timespec) -> Option<Duration> {
        Some(Duration::new(
            u64::try_from(ts.tv_sec).ok()?,
            u32::try_from(ts.tv_nsec).ok()?,
        ))
    }

    /// What is added to the coarse reading: the allowance plus the clock's resolution (in
    /// nanoseconds), read once.
    fn lead_nanos() -> u64 {
        static LEAD: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *LEAD.get_or_init(|| u64::try_from(lead().as_nanos()).unwrap_or(u64::MAX / 4))
    }

    /// What is added to the coarse reading.
    fn lead() -> Duration {
        static LEAD: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
        *LEAD.get_or_init(|| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: as above, `ts` is a valid, writable timespec.
            let rc = unsafe { libc::clock_getres(libc::CLOCK_REALTIME_COARSE, &mut ts) };
            let resolution = (rc == 0)
                .then(|| to_duration(ts))
                .flatten()
                .unwrap_or(Duration::from_millis(10));
            resolution + super::COARSE_CLOCK_ALLOWANCE
        })
    }

    /// The coarse reading plus the lead, in nanoseconds since the epoch.
    #[inline(always)]
    pub(super) fn now_nanos() -> u64 {
        match read(libc::CLOCK_REALTIME_COARSE) {
            Some(ts) if ts.tv_sec >= 0 => (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64)
                .saturating_add(lead_nanos()),
            _ => super::nanos_since_epoch(precise()),
        }
    }

    pub(super) fn now() -> SystemTime {
        match read(libc::CLOCK_REALTIME_COARSE).and_then(to_duration) {
            Some(since_epoch) => UNIX_EPOCH + since_epoch + lead(),
            None => precise(),
        }
    }

    #[allow(clippy::disallowed_methods)] // The crate's one direct read of the real clock.
    fn precise() -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::time::SystemTime;

    #[allow(clippy::disallowed_methods)] // The crate's one direct read of the real clock.
    pub(super) fn now() -> SystemTime {
        SystemTime::now()
    }

    pub(super) fn now_nanos() -> u64 {
        super::nanos_since_epoch(now())
    }
}

impl TimeSource for CoarseSystemTimeSource {
    fn now(&self) -> SystemTime {
        imp::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_async::time::SystemTimeSource;
    use std::time::Duration;

    #[test]
    fn reads_late_rather_than_early_and_close_to_the_real_clock() {
        for _ in 0..1000 {
            let precise_before = SystemTimeSource::new().now();
            let coarse = CoarseSystemTimeSource::new().now();
            let precise_after = SystemTimeSource::new().now();
            assert!(coarse >= precise_before, "{coarse:?} < {precise_before:?}");
            assert!(coarse <= precise_after + Duration::from_millis(100));
            let nanos = Clock::Coarse(CoarseSystemTimeSource::new()).now_nanos();
            assert!(nanos >= nanos_since_epoch(precise_before));
        }
    }
}

//! Translating STS's `Expiration` into the local clock's frame.
//!
//! STS states `Expiration` on its own clock. A host whose clock runs ahead would see a fresh
//! session as nearly expired and refresh in a loop; one whose clock runs behind would keep
//! using a session STS already rejects. The response's `Date` header says what STS's clock read
//! when it answered, so the session's remaining lifetime is `Expiration − Date`, and the local
//! expiry is the local time of receipt plus that.

use crate::mutex::lock;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::date_time::{DateTime, Format};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// `Date` has a resolution of one second and is truncated, so STS's clock may have been up to
/// this much later than it says; the local expiry is moved earlier by as much.
pub(crate) const DATE_HEADER_RESOLUTION: Duration = Duration::from_secs(1);

/// Records the `Date` header of the response to one STS call. A new one is attached to every
/// call (`customize().interceptor(..)`), so concurrent providers never mix their dates. With
/// retries, the last attempt — the one whose body is deserialized — wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerDateCapture(Arc<Mutex<Option<SystemTime>>>);

impl ServerDateCapture {
    /// The captured server date, if the response had a parseable `Date` header.
    pub(crate) fn server_date(&self) -> Option<SystemTime> {
        *lock(&self.0)
    }
}

impl Intercept for ServerDateCapture {
    fn name(&self) -> &'static str {
        "ServerDateCapture"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|value| DateTime::from_str(value, Format::HttpDate).ok())
            .and_then(|date| SystemTime::try_from(date).ok());
        *lock(&self.0) = date;
        Ok(())
    }
}

/// What a translated expiry may exceed the local time of receipt plus the requested lifetime
/// by: the `Date` header's resolution. An honest answer never needs it (STS issues the session
/// before it dates the answer, so `Expiration − Date` is at most the lifetime); it is there so
/// that rounding alone never shortens a session.
pub(crate) const EXPIRY_ALLOWANCE: Duration = DATE_HEADER_RESOLUTION;

/// The local expiry of a session that lives at most `longest` (the requested or default
/// duration), whose STS `Expiration` is `expiration`, received at local time `received_at` in
/// a response dated `server_date` (if it had a `Date` header).
///
/// Never later than `received_at + longest +` [`EXPIRY_ALLOWANCE`], whatever `Date` and
/// `Expiration` say: a `Date` far in the past (a broken proxy, a lying server) or a local
/// clock far behind cannot stretch a session past what STS grants. The second value says
/// whether that bound applied.
///
/// Returns `None` when the session had already expired by STS's own clock.
pub(crate) fn local_expiry(
    received_at: SystemTime,
    server_date: Option<SystemTime>,
    expiration: SystemTime,
    longest: Duration,
) -> Option<(SystemTime, bool)> {
    let translated = match server_date {
        Some(date) => {
            let remaining = expiration.duration_since(date).ok()?;
            let remaining = remaining.checked_sub(DATE_HEADER_RESOLUTION)?;
            (!remaining.is_zero()).then(|| received_at + remaining)?
        }
        None => (expiration > received_at).then_some(expiration)?,
    };
    let bound = received_at + longest + EXPIRY_ALLOWANCE;
    Some((translated.min(bound), translated > bound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn translates_the_remaining_lifetime_into_the_local_frame() {
        // Local clock 10 minutes ahead of STS: the session still has its full hour locally.
        let local_now = t(10_000 + 600);
        let expiry = local_expiry(local_now, Some(t(10_000)), t(10_000 + 3600), HOUR);
        assert_eq!(expiry, Some((local_now + Duration::from_secs(3599), false)));
        // Local clock behind: same.
        let local_now = t(10_000 - 600);
        let expiry = local_expiry(local_now, Some(t(10_000)), t(10_000 + 3600), HOUR);
        assert_eq!(expiry, Some((local_now + Duration::from_secs(3599), false)));
    }

    #[test]
    fn already_expired_sessions_are_rejected() {
        assert_eq!(local_expiry(t(5), Some(t(100)), t(100), HOUR), None);
        assert_eq!(local_expiry(t(5), Some(t(100)), t(50), HOUR), None);
        assert_eq!(local_expiry(t(100), None, t(100), HOUR), None);
        assert_eq!(
            local_expiry(t(99), None, t(100), HOUR),
            Some((t(100), false))
        );
    }

    #[test]
    fn no_date_or_expiration_stretches_a_session_past_its_requested_lifetime() {
        let received = t(100_000);
        let bound = received + HOUR + EXPIRY_ALLOWANCE;
        // `Date` five hours in the past: `Expiration - Date` claims six hours.
        let honest_expiration = received + HOUR;
        let stale_date = received - 5 * HOUR;
        assert_eq!(
            local_expiry(received, Some(stale_date), honest_expiration, HOUR),
            Some((bound, true))
        );
        // No `Date`, and a local clock five hours behind STS's.
        assert_eq!(
            local_expiry(received, None, received + 6 * HOUR, HOUR),
            Some((bound, true))
        );
        // `Date` in the future only shortens the session, or has it expired already.
        let early_date = received + HOUR / 2;
        assert_eq!(
            local_expiry(received, Some(early_date), honest_expiration, HOUR),
            Some((received + HOUR / 2 - DATE_HEADER_RESOLUTION, false))
        );
        assert_eq!(
            local_expiry(received, Some(received + 5 * HOUR), honest_expiration, HOUR),
            None
        );
    }
}

//! How one refresh is described to the metrics: its outcome, whether it called STS, and who
//! started it — a finite set of values each, so that no attribute can grow without bound.

use crate::error::{FetchError, fetch_error};
use crate::session::Origin;
use aws_credential_types::provider::error::CredentialsError;
use std::time::Duration;

/// Who started a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// Nobody waited for it: the background task, the scoped sessions' scheduler, or a caller
    /// in the advisory window who was served the cached session at once.
    Background,
    /// A caller waited for it: no valid session, or one inside its mandatory window.
    Caller,
}

impl Trigger {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Trigger::Background => "background",
            Trigger::Caller => "caller",
        }
    }
}

/// How a refresh attempt ended, as the metrics tell it.
pub(crate) enum Ended<'a> {
    /// A new session is cached; where it came from.
    Refreshed(Origin),
    /// No session; why. `fetched` is where the session that was then refused came from
    /// (an already-expired one), if the fetch itself succeeded.
    Failed {
        error: &'a CredentialsError,
        fetched: Option<Origin>,
    },
    /// The provider was invalidated meanwhile: what was fetched (from where, if anything) is
    /// not kept.
    Invalidated(Option<Origin>),
    /// The attempt was dropped before it ended (its runtime shut down).
    Abandoned,
}

/// One ended refresh attempt, as the metrics record it.
pub(crate) struct RefreshRecord<'a> {
    /// The STS operation (`AssumeRole`, `GetSessionToken`, ...); `None` for a provider whose
    /// sessions do not come from STS (a profile's own credentials).
    pub(crate) operation: Option<&'static str>,
    pub(crate) trigger: Trigger,
    pub(crate) took: Duration,
    pub(crate) ended: Ended<'a>,
    /// The scope's label (scoped sessions only); recorded only when the user opted in.
    pub(crate) scope_label: Option<&'a str>,
}

impl RefreshRecord<'_> {
    /// The outcome attribute's value.
    pub(crate) fn outcome(&self) -> &'static str {
        match &self.ended {
            Ended::Refreshed(_) => "success",
            Ended::Failed { error, .. } => failure_kind(error),
            Ended::Invalidated(_) => "invalidated",
            Ended::Abandoned => "abandoned",
        }
    }

    /// Where a successful refresh's session came from.
    pub(crate) fn source(&self) -> Option<&'static str> {
        match &self.ended {
            Ended::Refreshed(origin) => Some(origin_name(*origin)),
            _ => None,
        }
    }

    /// Whether this attempt got an answer from STS, or failed on the way to it or in its
    /// answer: a session STS issued (kept or not), STS's refusal, a transport failure, an
    /// answer that was no usable session. Not: a session from the store or a profile's own
    /// credentials, base credentials or a token that could not be had, the limiter's refusal,
    /// a panic, the load timeout (which may have cut the base credentials or the store, not
    /// STS), an abandoned attempt.
    pub(crate) fn called_sts(&self) -> bool {
        match &self.ended {
            Ended::Refreshed(origin) | Ended::Invalidated(Some(origin)) => {
                matches!(origin, Origin::Sts)
            }
            Ended::Failed {
                fetched: Some(origin),
                ..
            } => matches!(origin, Origin::Sts),
            Ended::Failed {
                error,
                fetched: None,
            } => matches!(
                failure_kind(error),
                "sts_refused" | "throttled" | "unreachable" | "invalid_response"
            ),
            Ended::Invalidated(None) | Ended::Abandoned => false,
        }
    }
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Sts => "sts",
        #[cfg(feature = "session-store")]
        Origin::Store => "store",
        #[cfg(feature = "profile")]
        Origin::Profile => "profile",
    }
}

/// The outcome of a failed refresh: one of a fixed set.
pub(crate) fn failure_kind(error: &CredentialsError) -> &'static str {
    if let CredentialsError::ProviderTimedOut(_) = error {
        return "timeout";
    }
    match fetch_error(error) {
        Some(FetchError::Service { status, code, .. }) if is_throttling(*status, code) => {
            "throttled"
        }
        Some(FetchError::Service { .. }) => "sts_refused",
        Some(FetchError::Transport { .. }) => "unreachable",
        Some(FetchError::InvalidResponse { .. }) => "invalid_response",
        Some(FetchError::StsLimit { .. }) => "limit",
        Some(FetchError::Panicked { .. }) => "panic",
        Some(
            FetchError::BaseCredentials(_)
            | FetchError::NoBaseCredentials { .. }
            | FetchError::BaseNotAccepted { .. }
            | FetchError::WebIdentityToken { .. }
            | FetchError::MfaToken { .. },
        ) => "base_credentials",
        _ => "other",
    }
}

/// STS's throttling answers: `Throttling` (the STS query protocol's code), the other SDKs'
/// spellings, and HTTP 429.
fn is_throttling(status: u16, code: &Option<String>) -> bool {
    status == 429
        || matches!(
            code.as_deref(),
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
                    | "RequestThrottled"
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> CredentialsError {
        CredentialsError::provider_error(FetchError::Service {
            operation: "AssumeRole",
            status,
            code: Some(code.to_owned()),
            message: None,
            request_id: None,
        })
    }

    fn record(ended: Ended<'_>) -> RefreshRecord<'_> {
        RefreshRecord {
            operation: Some("AssumeRole"),
            trigger: Trigger::Caller,
            took: Duration::ZERO,
            ended,
            scope_label: None,
        }
    }

    fn failed(error: &CredentialsError) -> Ended<'_> {
        Ended::Failed {
            error,
            fetched: None,
        }
    }

    #[test]
    fn failures_fall_into_their_kinds() {
        assert_eq!(failure_kind(&service(400, "Throttling")), "throttled");
        assert_eq!(failure_kind(&service(429, "Whatever")), "throttled");
        assert_eq!(failure_kind(&service(403, "AccessDenied")), "sts_refused");
        let timeout = CredentialsError::provider_timed_out(Duration::from_secs(5));
        assert_eq!(failure_kind(&timeout), "timeout");
        let limit = CredentialsError::provider_error(FetchError::StsLimit {
            operation: "AssumeRole",
            waiting: "waited 1 s".into(),
        });
        assert_eq!(failure_kind(&limit), "limit");
        assert_eq!(
            failure_kind(&crate::error::panicked("AssumeRole", "the base provider")),
            "panic"
        );
        assert_eq!(
            failure_kind(&CredentialsError::not_loaded("no reason")),
            "other"
        );
    }

    #[cfg(feature = "session-store")]
    #[test]
    fn an_expired_session_from_the_store_is_no_sts_call() {
        let expired = CredentialsError::provider_error(FetchError::InvalidResponse {
            operation: "AssumeRole",
            problem: "the session expired".into(),
        });
        let ended = Ended::Failed {
            error: &expired,
            fetched: Some(Origin::Store),
        };
        assert!(!record(ended).called_sts());
        assert!(record(failed(&expired)).called_sts());
    }

    #[test]
    fn only_calls_that_reached_sts_count_as_sts_calls() {
        let refused = service(403, "AccessDenied");
        let limit = CredentialsError::provider_error(FetchError::StsLimit {
            operation: "AssumeRole",
            waiting: "full".into(),
        });
        let timeout = CredentialsError::provider_timed_out(Duration::from_secs(5));
        assert!(record(Ended::Refreshed(Origin::Sts)).called_sts());
        assert!(record(Ended::Invalidated(Some(Origin::Sts))).called_sts());
        assert!(record(failed(&refused)).called_sts());
        assert!(!record(failed(&limit)).called_sts());
        assert!(!record(failed(&timeout)).called_sts());
        assert!(!record(Ended::Abandoned).called_sts());
        assert_eq!(record(Ended::Refreshed(Origin::Sts)).source(), Some("sts"));
        assert_eq!(record(failed(&refused)).source(), None);
        assert_eq!(record(Ended::Invalidated(None)).outcome(), "invalidated");
        assert_eq!(record(Ended::Abandoned).outcome(), "abandoned");
    }
}

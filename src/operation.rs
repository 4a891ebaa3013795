//! The STS operations sessions come from, and their limits on session lengths: one place for
//! both, read by the request model (how long a session asked for lives) and by validation
//! (which durations STS accepts).

use std::time::Duration;

/// The STS operation sessions come from, told by which of the request's fields are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    AssumeRole,
    GetSessionToken,
    GetFederationToken,
    AssumeRoleWithWebIdentity,
    AssumeRoleWithSaml,
}

impl Operation {
    /// The operation's name in the STS API, as errors and traces say it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::AssumeRole => "AssumeRole",
            Operation::GetSessionToken => "GetSessionToken",
            Operation::GetFederationToken => "GetFederationToken",
            Operation::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            Operation::AssumeRoleWithSaml => "AssumeRoleWithSAML",
        }
    }
}

impl Operation {
    /// What STS grants without `DurationSeconds`.
    pub(crate) fn default_duration(self) -> Duration {
        match self {
            Operation::AssumeRole
            | Operation::AssumeRoleWithWebIdentity
            | Operation::AssumeRoleWithSaml => DEFAULT_ASSUME_ROLE_DURATION,
            // Both default to 12 hours.
            Operation::GetSessionToken | Operation::GetFederationToken => {
                DEFAULT_GET_SESSION_TOKEN_DURATION
            }
        }
    }

    /// The longest `DurationSeconds` STS accepts.
    pub(crate) fn max_duration(self) -> Duration {
        match self {
            Operation::AssumeRole
            | Operation::AssumeRoleWithWebIdentity
            | Operation::AssumeRoleWithSaml => MAX_ASSUME_ROLE_DURATION,
            // Both up to 36 hours (GetFederationToken with root credentials: 1 hour).
            Operation::GetSessionToken | Operation::GetFederationToken => {
                MAX_GET_SESSION_TOKEN_DURATION
            }
        }
    }
}

/// Shortest session STS grants, for both operations (15 minutes).
pub(crate) const MIN_SESSION_DURATION: Duration = Duration::from_secs(900);
/// Longest `DurationSeconds` STS accepts for `AssumeRole` (12 hours; the role's own maximum
/// may be lower).
pub(crate) const MAX_ASSUME_ROLE_DURATION: Duration = Duration::from_secs(43_200);
/// Longest `DurationSeconds` STS accepts for `GetSessionToken` (36 hours): also the longest
/// any session of this crate lives.
pub(crate) const MAX_GET_SESSION_TOKEN_DURATION: Duration = Duration::from_secs(129_600);
/// Longest session STS grants to a role assumed with temporary credentials (role chaining).
pub(crate) const MAX_CHAINED_SESSION_DURATION: Duration = Duration::from_secs(3600);
/// What STS grants `AssumeRole` without `DurationSeconds` (1 hour).
pub(crate) const DEFAULT_ASSUME_ROLE_DURATION: Duration = Duration::from_secs(3600);
/// What STS grants `GetSessionToken` without `DurationSeconds` (12 hours).
pub(crate) const DEFAULT_GET_SESSION_TOKEN_DURATION: Duration = Duration::from_secs(43_200);

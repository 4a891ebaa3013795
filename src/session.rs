//! What comes back from STS ([`Session`]) and the name this crate's credentials carry. What is
//! asked for is the request model in `request.rs`; STS's limits on session lengths are the
//! operations' (`operation.rs`).

use aws_credential_types::Credentials;
use std::fmt;
use std::time::SystemTime;

/// The name credentials from this crate carry as `provider_name`.
pub(crate) const PROVIDER_NAME: &str = "ChainableTemporaryCredentials";

/// Where a session came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// This provider's own STS call.
    Sts,
    /// The session store: another process (or an earlier run) made the STS call.
    #[cfg(feature = "session-store")]
    Store,
    /// A profile's own credentials (no `role_arn`), read through aws-config: no STS call.
    #[cfg(feature = "profile")]
    Profile,
}

/// One set of temporary credentials and its lifetime on the local clock.
pub(crate) struct Session {
    /// The credentials; their `expiry()` is `expires_at`.
    pub(crate) credentials: Credentials,
    /// Local time at which the STS answer arrived.
    pub(crate) received_at: SystemTime,
    /// Local time at which STS will stop accepting the credentials.
    pub(crate) expires_at: SystemTime,
    pub(crate) origin: Origin,
}

/// The parts of a session's credentials, whether from STS or from the file cache.
pub(crate) struct SessionKeys {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: String,
    pub(crate) account_id: Option<String>,
}

impl Session {
    /// A session received at `received_at` that expires at `expires_at` (both local).
    pub(crate) fn new(keys: SessionKeys, received_at: SystemTime, expires_at: SystemTime) -> Self {
        let mut builder = Credentials::builder()
            .access_key_id(keys.access_key_id)
            .secret_access_key(keys.secret_access_key)
            .session_token(keys.session_token)
            .expiry(expires_at)
            .provider_name(PROVIDER_NAME);
        if let Some(account) = keys.account_id {
            builder = builder.account_id(account);
        }
        Session {
            credentials: builder.build(),
            received_at,
            expires_at,
            origin: Origin::Sts,
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Credentials`' own Debug redacts the secret; the session token is not printed either.
        f.debug_struct("Session")
            .field("access_key_id", &self.credentials.access_key_id())
            .field("received_at", &self.received_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

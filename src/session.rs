//! A session as fetched: credentials plus when they were received and when they expire, both in
//! the local clock's frame.

use aws_credential_types::Credentials;
use std::fmt;
use std::time::SystemTime;

/// One set of temporary credentials and its lifetime on the local clock.
pub(crate) struct Session {
    /// The credentials; their `expiry()` is `expires_at`.
    pub(crate) credentials: Credentials,
    /// Local time at which the STS answer arrived.
    pub(crate) received_at: SystemTime,
    /// Local time at which STS will stop accepting the credentials.
    pub(crate) expires_at: SystemTime,
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

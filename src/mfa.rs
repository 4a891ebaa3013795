//! MFA token codes for `AssumeRole` and `GetSessionToken` with `SerialNumber`/`TokenCode`.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The error a token provider may fail with (the user closed the prompt, a device is absent).
pub type MfaTokenError = Box<dyn StdError + Send + Sync + 'static>;

/// The future a [`ProvideMfaToken`] returns.
pub type MfaTokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<String, MfaTokenError>> + Send + 'a>>;

/// Supplies the current code of an MFA device. Asked once for every refresh that calls STS
/// (a code is good for one call), never for cache hits.
///
/// Any closure returning a future works, thanks to a blanket implementation:
///
/// ```
/// use chainable_credentials::ProvideMfaToken;
/// fn takes(_: impl ProvideMfaToken) {}
/// takes(|| async { Ok::<_, std::io::Error>("123456".to_string()) });
/// ```
pub trait ProvideMfaToken: Send + Sync + 'static {
    /// The current 6-digit token code.
    fn mfa_token(&self) -> MfaTokenFuture<'_>;
}

impl<F, Fut, E> ProvideMfaToken for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<MfaTokenError>,
{
    fn mfa_token(&self) -> MfaTokenFuture<'_> {
        let future = self();
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

/// An MFA device: its serial number and where its codes come from.
#[derive(Clone)]
pub(crate) struct Mfa {
    pub(crate) serial_number: String,
    pub(crate) tokens: Arc<dyn ProvideMfaToken>,
}

impl fmt::Debug for Mfa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfa")
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

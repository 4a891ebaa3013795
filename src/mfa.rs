//! MFA token codes for `AssumeRole` and `GetSessionToken` with `SerialNumber`/`TokenCode`.

use crate::error::FetchError;
use crate::panic::{Panicked, catch_panic};
use crate::provided::{TokenError, TokenFuture};
use aws_credential_types::provider::error::CredentialsError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

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
    fn mfa_token(&self) -> TokenFuture<'_>;

    /// The current code of the device with this serial number (an MFA device ARN or a
    /// hardware serial), for providers that serve several devices — the profiles of a role
    /// chain may name more than one. By default, [`mfa_token`](Self::mfa_token).
    fn mfa_token_for(&self, serial_number: &str) -> TokenFuture<'_> {
        let _ = serial_number;
        self.mfa_token()
    }
}

impl<F, Fut, E> ProvideMfaToken for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<TokenError>,
{
    fn mfa_token(&self) -> TokenFuture<'_> {
        let future = self();
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

/// An MFA device: its serial number and where its codes come from. Set it with
/// [`Builder::mfa`](crate::Builder::mfa), or build one for
/// [`Builder::set_mfa`](crate::Builder::set_mfa).
#[derive(Clone)]
pub struct MfaDevice {
    pub(crate) serial_number: String,
    pub(crate) tokens: Arc<dyn ProvideMfaToken>,
}

impl MfaDevice {
    /// The device with this serial number (an MFA device ARN or a hardware device's serial),
    /// whose current code `tokens` gives.
    pub fn new(serial_number: impl Into<String>, tokens: impl ProvideMfaToken) -> Self {
        MfaDevice {
            serial_number: serial_number.into(),
            tokens: Arc::new(tokens),
        }
    }

    /// The device's serial number.
    pub fn serial_number(&self) -> &str {
        &self.serial_number
    }

    /// Asks the token provider for the current code and checks that it has the form STS
    /// takes (exactly 6 digits); `operation` names the STS call in the error.
    pub(crate) async fn token_code(
        &self,
        operation: &'static str,
    ) -> Result<String, CredentialsError> {
        let failed = |problem: String, source: Option<TokenError>| {
            CredentialsError::provider_error(FetchError::MfaToken {
                operation,
                problem,
                source: source.map(Arc::from),
            })
        };
        let code = catch_panic(async { self.tokens.mfa_token_for(&self.serial_number).await })
            .await
            .map_err(|Panicked| {
                CredentialsError::provider_error(FetchError::Panicked {
                    operation,
                    part: "the MFA token provider",
                })
            })?
            .map_err(|source| failed("the token provider failed".into(), Some(source)))?;
        let code = code.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(code.to_owned())
        } else {
            Err(failed(
                format!(
                    "the MFA token code must be exactly 6 digits, got {} characters",
                    code.chars().count()
                ),
                None,
            ))
        }
    }
}

impl fmt::Debug for MfaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaDevice")
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

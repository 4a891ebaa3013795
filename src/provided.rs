//! What the providers of a refresh's per-call secrets return — an MFA code
//! ([`ProvideMfaToken`](crate::ProvideMfaToken)), a web identity token
//! ([`ProvideWebIdentityToken`](crate::ProvideWebIdentityToken)), a SAML assertion
//! ([`ProvideSamlAssertion`](crate::ProvideSamlAssertion)): one future type and one error type
//! for all three.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;

/// The error a provider of a code, a token or an assertion may fail with (the user closed the
/// prompt, a device is absent, a file cannot be read).
pub type TokenError = Box<dyn StdError + Send + Sync + 'static>;

/// The future such a provider returns: the code, the token or the assertion, as text.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<String, TokenError>> + Send + 'a>>;

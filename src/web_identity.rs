//! Web identity tokens for `AssumeRoleWithWebIdentity`: an OIDC token (EKS service-account
//! tokens, GitHub Actions, any OIDC issuer) read again at every refresh — from a file that
//! its issuer rotates, or from the caller's own source — and never at a cache hit.
//!
//! The token is a bearer secret: it is in no `Debug`, error or trace of this crate.

use crate::error::FetchError;
use crate::panic::{Panicked, catch_panic};
use crate::provided::{TokenError, TokenFuture};
use aws_credential_types::provider::error::CredentialsError;
use aws_types::os_shim_internal::Fs;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

/// Supplies the current web identity (OIDC) token. Asked once for every refresh that calls
/// STS, never for cache hits, so a token that rotates is read fresh each time.
///
/// Any closure returning a future works:
///
/// ```
/// use chainable_credentials::ProvideWebIdentityToken;
/// fn takes(_: impl ProvideWebIdentityToken) {}
/// takes(|| async { Ok::<_, std::io::Error>("eyJhbGciOi...".to_string()) });
/// ```
pub trait ProvideWebIdentityToken: Send + Sync + 'static {
    /// The current token.
    fn web_identity_token(&self) -> TokenFuture<'_>;
}

impl<F, Fut, E> ProvideWebIdentityToken for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<TokenError>,
{
    fn web_identity_token(&self) -> TokenFuture<'_> {
        let future = self();
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

/// Where a provider's web identity tokens come from.
#[derive(Clone)]
pub(crate) enum TokenSource {
    /// A file, read (through the injected `Fs`) at every refresh.
    File { path: PathBuf, fs: Fs },
    /// The caller's source.
    Caller(Arc<dyn ProvideWebIdentityToken>),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Where the token comes from, never the token.
        match self {
            TokenSource::File { path, .. } => f.debug_tuple("File").field(path).finish(),
            TokenSource::Caller(_) => f.write_str("Caller"),
        }
    }
}

impl TokenSource {
    /// The current token, checked to be present; an error names the source, never the token.
    pub(crate) async fn token(&self, operation: &'static str) -> Result<String, CredentialsError> {
        let failed = |problem: String, source: Option<TokenError>| {
            CredentialsError::provider_error(FetchError::WebIdentityToken {
                operation,
                problem,
                source: source.map(Arc::from),
            })
        };
        let token = match self {
            TokenSource::File { path, fs } => {
                let bytes = fs.read_to_end(path).await.map_err(|e| {
                    failed(
                        format!("cannot read the token file {}", path.display()),
                        Some(e.into()),
                    )
                })?;
                String::from_utf8(bytes).map_err(|_| {
                    failed(
                        format!("the token file {} is not UTF-8", path.display()),
                        None,
                    )
                })?
            }
            TokenSource::Caller(source) => catch_panic(async { source.web_identity_token().await })
                .await
                .map_err(|Panicked| {
                    CredentialsError::provider_error(FetchError::Panicked {
                        operation,
                        part: "the web identity token source",
                    })
                })?
                .map_err(|e| failed("the token source failed".into(), Some(e)))?,
        };
        let token = token.trim();
        if token.is_empty() {
            let from = match self {
                TokenSource::File { path, .. } => format!("the token file {}", path.display()),
                TokenSource::Caller(_) => "the token source".to_owned(),
            };
            return Err(failed(format!("{from} gave an empty token"), None));
        }
        Ok(token.to_owned())
    }
}

/// Supplies the current base64-encoded SAML assertion (the `SAMLResponse` an identity
/// provider posts), for `AssumeRoleWithSAML`. Asked once for every refresh that calls STS,
/// never for cache hits. Any closure returning a future works.
pub trait ProvideSamlAssertion: Send + Sync + 'static {
    /// The current assertion, base64-encoded.
    fn saml_assertion(&self) -> TokenFuture<'_>;
}

impl<F, Fut, E> ProvideSamlAssertion for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<TokenError>,
{
    fn saml_assertion(&self) -> TokenFuture<'_> {
        let future = self();
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

/// A SAML hop's assertion source; `Debug` says only that there is one.
#[derive(Clone)]
pub(crate) struct SamlSource(pub(crate) Arc<dyn ProvideSamlAssertion>);

impl fmt::Debug for SamlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SamlSource")
    }
}

/// The caller's SAML assertion source, checked: present, and base64 as STS requires.
pub(crate) async fn saml_assertion(
    source: &SamlSource,
    operation: &'static str,
) -> Result<String, CredentialsError> {
    let failed = |problem: &str, source: Option<TokenError>| {
        CredentialsError::provider_error(FetchError::WebIdentityToken {
            operation,
            problem: problem.to_owned(),
            source: source.map(Arc::from),
        })
    };
    let assertion = catch_panic(async { source.0.saml_assertion().await })
        .await
        .map_err(|Panicked| {
            CredentialsError::provider_error(FetchError::Panicked {
                operation,
                part: "the SAML assertion source",
            })
        })?
        .map_err(|e| failed("the SAML assertion source failed", Some(e)))?;
    let assertion = assertion.trim();
    if assertion.is_empty() {
        return Err(failed(
            "the SAML assertion source gave an empty assertion",
            None,
        ));
    }
    let base64 = assertion
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n'));
    if !base64 {
        return Err(failed(
            "the SAML assertion is not base64 (STS takes the SAMLResponse as the identity \
             provider posts it, base64-encoded)",
            None,
        ));
    }
    Ok(assertion.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{error_line, fetch_error};

    const OPERATION: &str = "AssumeRoleWithWebIdentity";

    fn file(path: &std::path::Path) -> TokenSource {
        TokenSource::File {
            path: path.to_owned(),
            fs: Fs::real(),
        }
    }

    fn caller(source: impl ProvideWebIdentityToken) -> TokenSource {
        TokenSource::Caller(Arc::new(source))
    }

    /// The error's whole text, after checking it is the typed one.
    fn identity_error(error: &CredentialsError) -> String {
        assert!(
            matches!(
                fetch_error(error),
                Some(FetchError::WebIdentityToken { .. })
            ),
            "{error:?}"
        );
        error_line(error)
    }

    #[tokio::test]
    async fn a_token_file_is_read_and_trimmed_each_time_it_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  token-one\n").unwrap();
        let source = file(&path);
        assert_eq!(source.token(OPERATION).await.unwrap(), "token-one");
        std::fs::write(&path, "token-two").unwrap();
        assert_eq!(
            source.token(OPERATION).await.unwrap(),
            "token-two",
            "read again, not remembered"
        );
    }

    #[tokio::test]
    async fn a_token_file_that_gives_no_token_is_a_typed_error_naming_the_file_not_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n\t").unwrap();
        let binary = dir.path().join("binary");
        std::fs::write(&binary, b"\xff\xfe secret-bytes").unwrap();
        let cases = [
            (dir.path().join("missing"), "cannot read the token file"),
            // A directory where the file should be: unreadable as a file.
            (dir.path().to_owned(), "cannot read the token file"),
            (empty, "gave an empty token"),
            (binary, "is not UTF-8"),
        ];
        for (path, problem) in cases {
            let error = file(&path).token(OPERATION).await.unwrap_err();
            let text = identity_error(&error);
            assert!(text.contains(problem), "{text}");
            assert!(
                text.contains(&path.display().to_string()),
                "names the file: {text}"
            );
            assert!(!text.contains("secret-bytes"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_callers_source_that_fails_panics_or_gives_nothing_is_a_typed_error() {
        let failing = caller(|| async { Err::<String, _>("the issuer is down") });
        let text = identity_error(&failing.token(OPERATION).await.unwrap_err());
        assert!(
            text.contains("the token source failed") && text.contains("the issuer is down"),
            "{text}"
        );

        let blank = caller(|| async { Ok::<_, std::io::Error>("   ".to_owned()) });
        let text = identity_error(&blank.token(OPERATION).await.unwrap_err());
        assert!(
            text.contains("the token source gave an empty token"),
            "{text}"
        );

        let panicking = caller(|| async {
            panic!("a bug in the source");
            #[allow(unreachable_code)]
            Ok::<String, std::io::Error>(String::new())
        });
        let error = panicking.token(OPERATION).await.unwrap_err();
        assert!(matches!(
            fetch_error(&error),
            Some(FetchError::Panicked {
                part: "the web identity token source",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_saml_assertion_must_be_present_and_base64_and_is_never_quoted() {
        let source = |assertion: &'static str| {
            SamlSource(Arc::new(move || async move {
                Ok::<_, std::io::Error>(assertion.to_owned())
            }))
        };
        let valid = saml_assertion(&source(" PHNhbWw+\n"), "AssumeRoleWithSAML").await;
        assert_eq!(valid.unwrap(), "PHNhbWw+");
        for (assertion, problem) in [
            (
                "<samlp:Response>secret-assertion</samlp:Response>",
                "is not base64",
            ),
            ("", "gave an empty assertion"),
        ] {
            let error = saml_assertion(&source(assertion), "AssumeRoleWithSAML")
                .await
                .unwrap_err();
            let text = identity_error(&error);
            assert!(text.contains(problem), "{text}");
            assert!(!text.contains("secret-assertion"), "{text}");
        }
        let failing = SamlSource(Arc::new(|| async {
            Err::<String, _>("IdP session expired")
        }));
        let text = identity_error(
            &saml_assertion(&failing, "AssumeRoleWithSAML")
                .await
                .unwrap_err(),
        );
        assert!(text.contains("IdP session expired"), "{text}");
    }
}

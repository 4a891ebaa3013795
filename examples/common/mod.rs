//! What the examples share: the SDK configuration from the environment, an S3 client for a
//! provider, a plain HTTP client for presigned URLs, an MFA code read from standard input, and
//! the one-line error their `main` ends with.
#![allow(dead_code)]

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_types::SdkConfig;

/// Region, endpoint (`AWS_ENDPOINT_URL`, e.g. the local test server) and base credentials from
/// the environment, as every SDK program loads them.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// An S3 client with the environment's settings, signing with `provider`. Path-style
/// addressing works with both AWS and a local server on an IP address.
pub fn s3(
    sdk_config: &SdkConfig,
    provider: impl ProvideCredentials + 'static,
) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(true)
            .credentials_provider(provider)
            .build(),
    )
}

/// Reads a 6-digit MFA code from standard input, prompting on standard error with the device
/// (a person at the terminal, or a code piped in).
pub struct StdinTokens;

impl chainable_credentials::ProvideMfaToken for StdinTokens {
    fn mfa_token(&self) -> chainable_credentials::TokenFuture<'_> {
        self.mfa_token_for("the MFA device")
    }

    fn mfa_token_for(&self, serial_number: &str) -> chainable_credentials::TokenFuture<'_> {
        use std::io::{BufRead, Write};
        let prompt = format!("MFA code for {serial_number}: ");
        Box::pin(async move {
            // Reading a terminal blocks: keep it off the async workers.
            let line = tokio::task::spawn_blocking(move || {
                eprint!("{prompt}");
                std::io::stderr().flush()?;
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Ok::<_, std::io::Error>(line)
            })
            .await??;
            Ok(line.trim().to_owned())
        })
    }
}

/// The `n`th command-line argument, or a usage error.
pub fn arg(n: usize, usage: &str) -> Result<String, String> {
    std::env::args()
        .nth(n)
        .ok_or_else(|| format!("usage: {usage}"))
}

/// An RFC 3339 rendering of a session expiry.
pub fn rfc3339(time: std::time::SystemTime) -> String {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| format!("{time:?}"))
}

/// What an example's `main` fails with: printed (by Rust's `main`, through `Debug`) as one
/// line, the error's `Display` and its causes', instead of a multi-kilobyte `Debug` dump of
/// the SDK's error types.
pub struct Failure(Box<dyn std::error::Error>);

impl<E: Into<Box<dyn std::error::Error>>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.into())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&chainable_credentials::error_line(self.0.as_ref()))
    }
}

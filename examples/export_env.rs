//! Print `export` lines for a shell, as the seeds do by hand after `aws sts assume-role`:
//!
//! ```text
//! eval "$(cargo run --quiet --example export_env -- ROLE_ARN)"
//! ```
//! The lines hold the secret key and session token, so they are not printed to a terminal (where
//! they would end up in scrollback and screen shares) unless `--allow-terminal` is given.

mod common;

use aws_credential_types::provider::ProvideCredentials;
use chainable_credentials::ChainableTemporaryCredentials;
use std::io::IsTerminal;

/// Quotes a value for POSIX shells.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let allow_terminal = args.iter().any(|a| a == "--allow-terminal");
    let role_arn = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .ok_or("usage: export_env ROLE_ARN [--allow-terminal]")?;
    if std::io::stdout().is_terminal() && !allow_terminal {
        return Err(
            "refusing to print credentials to a terminal: use eval \"$(...)\" or pass \
             --allow-terminal"
                .into(),
        );
    }
    let sdk_config = common::sdk_config().await;
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(role_arn)
        .build()?;
    let credentials = provider.provide_credentials().await?;
    println!(
        "export AWS_ACCESS_KEY_ID={}",
        shell_quote(credentials.access_key_id())
    );
    println!(
        "export AWS_SECRET_ACCESS_KEY={}",
        shell_quote(credentials.secret_access_key())
    );
    if let Some(token) = credentials.session_token() {
        println!("export AWS_SESSION_TOKEN={}", shell_quote(token));
    }
    if let Some(expiry) = credentials.expiry() {
        println!("# expires at {}", common::rfc3339(expiry));
    }
    Ok(())
}

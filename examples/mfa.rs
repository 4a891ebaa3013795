//! MFA with a code typed on the terminal (or piped on stdin): with a role ARN, AssumeRole with
//! MFA; without, GetSessionToken with MFA — the JavaScript SDK v2 pattern of "MFA once, then
//! roles" is that provider with roles chained on it (`provider.chain().role_arn(..)`).
//!
//! ```text
//! cargo run --example mfa -- MFA_SERIAL [ROLE_ARN]
//! ```
//! The code is asked for at each refresh (once an hour with default sessions), never on cache
//! hits.

mod common;

use chainable_credentials::ChainableTemporaryCredentials;

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let serial_number = common::arg(1, "mfa MFA_SERIAL [ROLE_ARN]")?;
    let role_arn = std::env::args().nth(2);
    let sdk_config = common::sdk_config().await;
    let tokens = common::StdinTokens;
    let mut builder = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .mfa(serial_number, tokens)
        // The prompt counts against the load timeout (5 s by default): time to type the code.
        .load_timeout(std::time::Duration::from_secs(120));
    builder.set_role_arn(role_arn);
    let provider = builder.build()?;

    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk_config)
            .credentials_provider(provider.clone())
            .build(),
    );
    let identity = sts.get_caller_identity().send().await?;
    println!(
        "signed in with MFA as {}",
        identity.arn().unwrap_or_default()
    );
    if let Some(expiry) = provider.expiry() {
        println!("session expires at {}", common::rfc3339(expiry));
    }
    Ok(())
}

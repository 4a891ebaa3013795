//! A role chain kept in `~/.aws/config`, with MFA — what the AWS CLI and boto3 do for
//! `aws --profile home ...`, and what aws-sdk-rust's own profile support cannot (no MFA):
//!
//! ```ini
//! [profile home]
//! role_arn = arn:aws:iam::111122223333:role/MorePrivilegedRole
//! source_profile = home-keys
//! mfa_serial = arn:aws:iam::111122223333:mfa/laptop
//! duration_seconds = 3600
//! ```
//!
//! ```text
//! cargo run --example profile --features profile -- PROFILE
//! ```
//! Each `role_arn` of the profile and its `source_profile`s is one cached hop; an MFA code is
//! asked for (on standard error, read from standard input) only when the hop that names the
//! device refreshes. Prints the assumed identity and, for each hop, its role.

mod common;

use chainable_credentials::ChainableTemporaryCredentials;

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let profile = common::arg(1, "profile PROFILE")?;
    // Region, endpoints and every hop come from the profile; the environment's settings
    // (AWS_REGION, AWS_ENDPOINT_URL, ...) win, as for the AWS CLI.
    let provider = ChainableTemporaryCredentials::builder()
        .profile(&profile)
        .mfa_tokens(common::StdinTokens)
        // A person types the code: more than the default 5 seconds.
        .load_timeout(std::time::Duration::from_secs(120))
        .build_from_profile()
        .await?;
    println!(
        "profile {profile}: assumes {} as session {}",
        provider.role_arn().unwrap_or_default(),
        provider.role_session_name().unwrap_or_default()
    );

    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .profile_name(&profile)
        .credentials_provider(provider.clone())
        .load()
        .await;
    let identity = aws_sdk_sts::Client::new(&sdk_config)
        .get_caller_identity()
        .send()
        .await?;
    println!("signed in as {}", identity.arn().unwrap_or_default());
    if let Some(expiry) = provider.expiry() {
        println!("session expires at {}", common::rfc3339(expiry));
    }
    Ok(())
}

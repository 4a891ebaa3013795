//! A two-hop role chain: the base user assumes the first role, whose session assumes the
//! second. Prints each hop's identity (GetCallerIdentity) to show who signs.
//!
//! ```text
//! cargo run --example chain -- FIRST_ROLE_ARN SECOND_ROLE_ARN
//! ```
//! The second role's trust policy must trust the first hop's session; the hops use the session
//! names `hop-1` and `hop-2`.

mod common;

use chainable_credentials::ChainableTemporaryCredentials;

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let usage = "chain FIRST_ROLE_ARN SECOND_ROLE_ARN";
    let (first_role, second_role) = (common::arg(1, usage)?, common::arg(2, usage)?);
    let sdk_config = common::sdk_config().await;

    let hop1 = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(first_role)
        .role_session_name("hop-1")
        .build()?;
    // Inherits region, endpoint, HTTP client and clock; its base credentials are hop 1.
    let hop2 = hop1
        .chain()
        .role_arn(second_role)
        .role_session_name("hop-2")
        .build()?;

    for (name, hop) in [("hop 1", &hop1), ("hop 2", &hop2)] {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk_config)
                .credentials_provider(hop.clone())
                .build(),
        );
        let identity = sts.get_caller_identity().send().await?;
        println!("{name}: {}", identity.arn().unwrap_or_default());
    }
    println!(
        "STS calls: hop 1 made {}, hop 2 made {} (hop 2 asked hop 1's cache)",
        hop1.status().refreshes_started,
        hop2.status().refreshes_started
    );
    Ok(())
}

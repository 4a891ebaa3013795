//! Any Rust program on aws-config, run under `chainable-credentials exec` (or with the
//! variables `chainable-credentials serve` prints): it needs no change. Prints the caller's
//! identity twice — through the SDK's default credentials chain, which reads
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` (or `_FILE`),
//! and through aws-config's `EcsCredentialsProvider` named explicitly.
//!
//! ```text
//! chainable-credentials exec --profile admin -- cargo run --example caller_identity
//! ```

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match caller_identity().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", chainable_credentials::error_line(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn caller_identity() -> Result<(), Box<dyn std::error::Error>> {
    let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let default_chain = aws_sdk_sts::Client::new(&sdk_config);
    let arn = default_chain.get_caller_identity().send().await?;
    println!("default-chain {}", arn.arn().unwrap_or_default());

    let ecs = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk_config)
            .credentials_provider(EcsCredentialsProvider::builder().build())
            .build(),
    );
    let arn = ecs.get_caller_identity().send().await?;
    println!("EcsCredentialsProvider {}", arn.arn().unwrap_or_default());
    Ok(())
}

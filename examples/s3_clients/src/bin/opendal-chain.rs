//! OpenDAL on a two-hop role chain: the base credentials (the environment's) assume the first
//! role, whose session assumes the second; an S3 operator signs with the second hop. Writes an
//! object, reads it back and states it.
//!
//! ```text
//! cargo run -p s3-clients --bin opendal-chain -- FIRST_ROLE_ARN SECOND_ROLE_ARN BUCKET
//! ```
//! The hops use the session names `hop-1` and `hop-2`; region and endpoint come from the
//! environment (`AWS_REGION`, `AWS_ENDPOINT_URL`).
#![forbid(unsafe_code)]

use chainable_credentials::ChainableTemporaryCredentials;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "opendal-chain: {}",
                chainable_credentials::error_line(&*error)
            );
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [first_role, second_role, bucket] = args.as_slice() else {
        return Err("usage: opendal-chain FIRST_ROLE_ARN SECOND_ROLE_ARN BUCKET".into());
    };
    let sdk_config = aws_config::load_from_env().await;
    let hop1 = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(first_role)
        .role_session_name("hop-1")
        .build()?;
    let hop2 = hop1
        .chain()
        .role_arn(second_role)
        .role_session_name("hop-2")
        .build()?;
    let operator = s3_clients::opendal_on(&sdk_config, bucket, hop2.clone())?;

    let path = "opendal/hello.txt";
    operator
        .write(path, "written through OpenDAL on a role chain\n")
        .await?;
    let read = operator.read(path).await?;
    let metadata = operator.stat(path).await?;
    println!(
        "{path}: {} bytes read back, stat says {} bytes: {:?}",
        read.len(),
        metadata.content_length(),
        String::from_utf8_lossy(&read.to_vec())
    );
    println!(
        "STS calls: hop 1 made {}, hop 2 made {}",
        hop1.status().refreshes_started,
        hop2.status().refreshes_started
    );
    Ok(())
}

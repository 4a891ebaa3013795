//! object_store on a two-hop role chain: the base credentials (the environment's) assume the
//! first role, whose session assumes the second; an `AmazonS3` store signs with the second
//! hop. Lists the bucket and copies its first object under `copies/`.
//!
//! ```text
//! cargo run -p s3-clients --bin object-store-chain -- FIRST_ROLE_ARN SECOND_ROLE_ARN BUCKET
//! ```
//! The hops use the session names `hop-1` and `hop-2`; region and endpoint come from the
//! environment (`AWS_REGION`, `AWS_ENDPOINT_URL`).
#![forbid(unsafe_code)]

use chainable_credentials::ChainableTemporaryCredentials;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "object-store-chain: {}",
                chainable_credentials::error_line(&*error)
            );
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [first_role, second_role, bucket] = args.as_slice() else {
        return Err("usage: object-store-chain FIRST_ROLE_ARN SECOND_ROLE_ARN BUCKET".into());
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
    let store = s3_clients::object_store_on(&sdk_config, bucket, hop2.clone())?;

    let mut listing = store.list(None);
    let mut first = None;
    while let Some(object) = listing.next().await {
        let object = object?;
        println!("{} ({} bytes)", object.location, object.size);
        first.get_or_insert(object.location);
    }
    let Some(source) = first else {
        println!("the bucket is empty: nothing to copy");
        return Ok(());
    };
    let copy = Path::from(format!("copies/{source}"));
    store.copy(&source, &copy).await?;
    println!("copied {source} to {copy}");
    println!(
        "STS calls: hop 1 made {}, hop 2 made {}",
        hop1.status().refreshes_started,
        hop2.status().refreshes_started
    );
    Ok(())
}

//! List one bucket's keys with an assumed role's session (the seeds' Java/Ruby listing),
//! following continuation tokens page by page.
//!
//! ```text
//! cargo run --example list_objects -- ROLE_ARN BUCKET [PREFIX]
//! ```

mod common;

use chainable_credentials::ChainableTemporaryCredentials;

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let usage = "list_objects ROLE_ARN BUCKET [PREFIX]";
    let role_arn = common::arg(1, usage)?;
    let bucket = common::arg(2, usage)?;
    let prefix = std::env::args().nth(3);
    let sdk_config = common::sdk_config().await;
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(role_arn)
        .build()?;
    let s3 = common::s3(&sdk_config, provider);

    let mut pages = s3
        .list_objects_v2()
        .bucket(&bucket)
        .set_prefix(prefix)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        for object in page?.contents() {
            println!(
                "{:>10}  {}",
                object.size().unwrap_or_default(),
                object.key().unwrap_or_default()
            );
            count += 1;
        }
    }
    println!("{count} object(s) in {bucket}");
    Ok(())
}

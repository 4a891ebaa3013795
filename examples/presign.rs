//! The seeds' Express backend, in Rust: hand out a presigned PUT URL and a presigned GET URL
//! made with an assumed role's session, so that a client holding no AWS credentials can
//! upload a file and read it back with plain HTTP.
//!
//! ```text
//! cargo run --example presign -- ROLE_ARN BUCKET KEY
//! ```
//! A presigned URL carries the session token and stops working when the session expires, so
//! its lifetime is capped at what is left of the session.

mod common;

use bytes::Bytes;
use chainable_credentials::ChainableTemporaryCredentials;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// How long the URLs are valid, at most.
const URL_LIFETIME: Duration = Duration::from_secs(300);

#[tokio::main]
async fn main() -> Result<(), common::Failure> {
    let usage = "presign ROLE_ARN BUCKET KEY";
    let (role_arn, bucket, key) = (
        common::arg(1, usage)?,
        common::arg(2, usage)?,
        common::arg(3, usage)?,
    );
    let sdk_config = common::sdk_config().await;
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(role_arn)
        .build()?;
    let s3 = common::s3(&sdk_config, provider.clone());

    // The backend's side: two URLs.
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(URL_LIFETIME)?;
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .presigned(config.clone())
        .await?;
    let get = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .presigned(config)
        .await?;
    // The query string holds the signature and the session token: not for a log.
    let shown = |uri: &str| uri.split('?').next().unwrap_or_default().to_owned();
    println!(
        "presigned PUT {} (valid {URL_LIFETIME:?})",
        shown(put.uri())
    );
    println!("presigned GET {}", shown(get.uri()));

    // The client's side: no AWS credentials, no SDK, only HTTP.
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let upload = Bytes::from(format!("uploaded through a presigned URL to {key}\n"));
    let mut request = http::Request::put(put.uri()).body(Full::new(upload.clone()))?;
    for (name, value) in put.headers() {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes())?,
            http::HeaderValue::from_str(value)?,
        );
    }
    let response = http.request(request).await?;
    let status = response.status();
    println!("PUT  -> HTTP {status}");
    if !status.is_success() {
        let body = response.into_body().collect().await?.to_bytes();
        return Err(format!(
            "upload refused: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let response = http
        .request(http::Request::get(get.uri()).body(Full::new(Bytes::new()))?)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    println!("GET  -> HTTP {status}, {} bytes", body.len());
    if body != upload {
        return Err("the downloaded bytes differ from the uploaded ones".into());
    }
    println!(
        "round trip ok: {:?}",
        String::from_utf8_lossy(&body).trim_end()
    );
    Ok(())
}

//! Presigned URLs made with the provider's session: a PUT uploads bytes with plain HTTP and a
//! GET reads the same bytes back. moto 5.2.5 crashes on presigned (query-string) requests while
//! enforcing signatures (KeyError 'HTTP_AUTHORIZATION' in moto/iam/access_control.py), so this
//! runs against the non-enforcing server: it shows the URLs are complete and usable, not that
//! moto checked their signatures.

use crate::support;

use aws_sdk_s3::presigning::PresigningConfig;
use bytes::Bytes;
use chainable_credentials::ChainableTemporaryCredentials;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use support::moto::Moto;

#[tokio::test]
async fn presigned_put_then_get_round_trips_the_bytes() {
    let moto = Moto::open();
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(moto.base_credentials())
        .role_arn(&moto.role_arn)
        .role_session_name("presigner")
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .build()
        .unwrap();
    let s3 = moto.s3(provider.clone());
    let key = "presign/round-trip.bin";
    let config = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = s3
        .put_object()
        .bucket(&moto.bucket)
        .key(key)
        .presigned(config.clone())
        .await
        .unwrap();
    let get = s3
        .get_object()
        .bucket(&moto.bucket)
        .key(key)
        .presigned(config)
        .await
        .unwrap();
    let session =
        aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider)
            .await
            .unwrap();
    for uri in [put.uri(), get.uri()] {
        assert!(
            uri.contains("X-Amz-Security-Token="),
            "the session token is in the URL"
        );
        assert!(
            uri.contains(session.access_key_id()),
            "signed with the session's key"
        );
    }

    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let payload: Bytes = (0..=255u8).cycle().take(10_000).collect::<Vec<_>>().into();
    let mut request = http::Request::put(put.uri())
        .body(Full::new(payload.clone()))
        .unwrap();
    for (name, value) in put.headers() {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    let response = http.request(request).await.unwrap();
    assert!(response.status().is_success(), "PUT: {}", response.status());
    let response = http
        .request(
            http::Request::get(get.uri())
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(response.status().is_success(), "GET: {}", response.status());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, payload, "the same bytes came back");
    assert_eq!(provider.status().refreshes_started, 1);
}

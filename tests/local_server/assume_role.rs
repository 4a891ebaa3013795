//! Against the real local STS and S3 (moto, signatures and IAM policies enforced): the base
//! user is denied, the assumed role is allowed, many clients share one session, an expired
//! session is replaced by one S3 accepts, and a wrong base secret is a typed error.

use crate::support;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_s3::config::IdentityCache;
use aws_smithy_async::time::TimeSource;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::moto::Moto;

/// A provider assuming the S3 role on the local server with `base` credentials.
fn assuming_with(moto: &Moto, base: Credentials) -> chainable_credentials::Builder {
    ChainableTemporaryCredentials::builder()
        .base_credentials(base)
        .role_arn(&moto.role_arn)
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
}

fn provider_on(moto: &Moto) -> chainable_credentials::Builder {
    assuming_with(moto, moto.base_credentials()).role_session_name("moto-test")
}

#[tokio::test]
async fn the_base_user_is_denied_and_the_assumed_role_lists_the_bucket() {
    let moto = Moto::enforcing();
    let denied = moto.s3(moto.base_credentials()).list_buckets().send().await;
    let err = denied.expect_err("the base user may not list buckets");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("AccessDenied")
    );

    let provider = provider_on(&moto).build().unwrap();
    assert!(
        moto.bucket_names(provider.clone())
            .await
            .contains(&moto.bucket)
    );
    let s3 = moto.s3(provider.clone());
    let objects = s3
        .list_objects_v2()
        .bucket(&moto.bucket)
        .prefix("demo/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = objects.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&"demo/hello.txt"), "{keys:?}");
    assert_eq!(provider.status().refreshes_started, 1);
    let expiry = provider.expiry().expect("a session is cached");
    let remaining = expiry
        .duration_since(aws_smithy_async::time::SystemTimeSource::new().now())
        .unwrap();
    // A little over the hour for the time between the two clock readings.
    let lead = Duration::from_millis(20);
    assert!(
        remaining > Duration::from_secs(3500) && remaining <= Duration::from_secs(3600) + lead,
        "{remaining:?}"
    );

    // The session really is the role's: GetCallerIdentity names the assumed role and session.
    let arn = moto.caller_arn(provider).await;
    assert!(arn.ends_with(":assumed-role/s3-reader/moto-test"), "{arn}");
}

/// Records every access key id it hands out (shows which session each request was signed
/// with).
#[derive(Debug, Clone)]
struct Recording {
    inner: ChainableTemporaryCredentials,
    keys: Arc<Mutex<HashSet<String>>>,
}

impl ProvideCredentials for Recording {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let creds = self.inner.provide_credentials().await?;
            self.keys
                .lock()
                .unwrap()
                .insert(creds.access_key_id().to_owned());
            Ok(creds)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_clients_times_a_hundred_concurrent_calls_use_one_session() {
    let moto = Moto::enforcing();
    let provider = provider_on(&moto).build().unwrap();
    let keys = Arc::new(Mutex::new(HashSet::new()));
    let mut calls = Vec::new();
    for client in 0..10 {
        let recording = Recording {
            inner: provider.clone(),
            keys: keys.clone(),
        };
        // Half the clients with the SDK's default identity cache, half asking us every time.
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(moto.region())
            .endpoint_url(&moto.endpoint)
            .force_path_style(true)
            // 1,000 connections at once can fill moto's listen queue for a while.
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(30))
                    .build(),
            )
            .credentials_provider(recording);
        let config = if client % 2 == 0 {
            config.identity_cache(IdentityCache::no_cache())
        } else {
            config
        };
        let s3 = aws_sdk_s3::Client::from_conf(config.build());
        for _ in 0..100 {
            let s3 = s3.clone();
            let bucket = moto.bucket.clone();
            calls.push(tokio::spawn(async move {
                s3.list_objects_v2().bucket(bucket).max_keys(1).send().await
            }));
        }
    }
    for call in calls {
        call.await
            .unwrap()
            .expect("S3 accepts the assumed role's session");
    }
    let keys = keys.lock().unwrap();
    assert_eq!(keys.len(), 1, "one access key id for 1,000 calls: {keys:?}");
    assert_eq!(provider.status().refreshes_started, 1, "one AssumeRole");
    eprintln!(
        "10 clients x 100 concurrent calls: {} AssumeRole call(s)",
        provider.status().refreshes_started
    );
}

#[tokio::test]
async fn past_expiry_a_new_session_is_fetched_and_s3_accepts_it() {
    let moto = Moto::enforcing();
    let clock = support::manual_clock_at_real_time();
    let provider = provider_on(&moto)
        .time_source(clock.clone())
        .build()
        .unwrap();
    let s3 = moto.s3_uncached(provider.clone());
    s3.list_buckets().send().await.unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let first_expiry = provider.expiry().unwrap();

    // Two hours later on the injected clock: the first session has expired locally.
    clock.advance(Duration::from_secs(2 * 3600));
    s3.list_buckets()
        .send()
        .await
        .expect("S3 accepts the new session");
    let second = provider.provide_credentials().await.unwrap();
    assert_ne!(
        first.access_key_id(),
        second.access_key_id(),
        "moto issued a new key"
    );
    assert_eq!(provider.status().refreshes_started, 2);
    // The new expiry is in the injected clock's frame: an hour after the advanced time.
    let expiry = provider.expiry().unwrap();
    assert!(
        expiry > clock.now() + Duration::from_secs(3500),
        "{expiry:?}"
    );
    assert!(expiry > first_expiry + Duration::from_secs(2 * 3600 - 60));
}

#[tokio::test]
async fn a_wrong_base_secret_is_a_typed_error_without_a_hang() {
    let moto = Moto::enforcing();
    let wrong = Credentials::new(
        &moto.base_access_key_id,
        "not-the-secret",
        None,
        None,
        "wrong",
    );
    let provider = assuming_with(&moto, wrong).build().unwrap();
    let result = tokio::time::timeout(Duration::from_secs(30), provider.provide_credentials())
        .await
        .expect("no hang: the load timeout bounds the call");
    let err = result.unwrap_err();
    let cause = fetch_error(&err).expect("a FetchError names the cause");
    assert!(matches!(cause, FetchError::Service { .. }), "{cause:?}");
    assert_eq!(cause.code(), Some("SignatureDoesNotMatch"), "{cause}");
    assert!(!format!("{err:?}{cause}").contains("not-the-secret"));

    let unknown_key = Credentials::new("AKIANOTAREALKEY00000", "whatever", None, None, "unknown");
    let provider = assuming_with(&moto, unknown_key).build().unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    assert_eq!(
        fetch_error(&err).and_then(FetchError::code),
        Some("InvalidClientTokenId")
    );
}

#[tokio::test]
async fn configure_takes_region_endpoint_and_base_credentials_from_an_sdk_config() {
    let moto = Moto::enforcing();
    let sdk_config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(moto.base_credentials()),
        )
        .build();
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn(&moto.role_arn)
        .build()
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(true)
            .credentials_provider(provider.clone())
            .build(),
    );
    s3.list_buckets()
        .send()
        .await
        .expect("assumed role via configure");
    assert!(
        provider
            .role_session_name()
            .unwrap()
            .starts_with("chainable-credentials-")
    );
}

//! Malformed STS answers (reliability scenario 4), from the real local STS mangled by the fault
//! proxy: each is a typed error naming the problem, nothing panics, and a cached session stays
//! as it was.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::time::Duration;
use support::fault_proxy::{Fault, FaultProxy, Mangle};
use support::moto::Moto;

fn provider_via(
    proxy: &FaultProxy,
    moto: &Moto,
    clock: &aws_smithy_async::test_util::ManualTimeSource,
) -> ChainableTemporaryCredentials {
    moto.s3_role_via(&proxy.endpoint)
        .time_source(clock.clone())
        .configure(&support::no_sdk_retries())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_malformed_answer_is_a_typed_error_and_the_cache_is_unchanged() {
    let moto = Moto::enforcing();
    for (mangle, problem) in [
        // Cut in half, the answer loses its <Expiration> (the SDK's parser reads what is there).
        (Mangle::TruncatedXml, "missing <Expiration>"),
        (Mangle::NoCredentials, "missing <Credentials>"),
        (Mangle::EmptyAccessKey, "empty <AccessKeyId>"),
        (Mangle::ExpirationInThePast, "already expired"),
        (Mangle::UnparseableExpiration, "could not be read"),
    ] {
        let proxy = FaultProxy::start(&moto.endpoint).await;
        let clock = support::manual_clock_at_real_time();

        // Nothing cached: the caller gets the typed error.
        proxy.then(Fault::Mangle(mangle));
        let provider = provider_via(&proxy, &moto, &clock);
        let err = provider.provide_credentials().await.unwrap_err();
        assert!(
            matches!(err, CredentialsError::ProviderError(_)),
            "{mangle:?}: {err:?}"
        );
        let cause = fetch_error(&err).unwrap_or_else(|| panic!("{mangle:?}: untyped {err:?}"));
        assert!(
            matches!(cause, FetchError::InvalidResponse { .. }),
            "{mangle:?}: {cause:?}"
        );
        assert!(cause.to_string().contains(problem), "{mangle:?}: {cause}");
        assert_eq!(provider.expiry(), None, "{mangle:?}: nothing cached");

        // A valid session cached, then a mangled refresh in the mandatory window: the cached
        // session is still served, unchanged.
        clock.advance(Duration::from_secs(60));
        let good = provider.provide_credentials().await.unwrap();
        let expiry = provider.expiry().unwrap();
        proxy.always(Fault::Mangle(mangle));
        clock.set_time(expiry - Duration::from_secs(30));
        let served = provider.provide_credentials().await.unwrap();
        assert_eq!(served.access_key_id(), good.access_key_id(), "{mangle:?}");
        assert_eq!(
            provider.expiry(),
            Some(expiry),
            "{mangle:?}: cache unchanged"
        );
        assert_eq!(proxy.sts_requests(), 3, "{mangle:?}");
    }
}

/// A `Date` hours off, from the real local STS: in the past it cannot stretch the session
/// past the requested lifetime; in the future it shortens it, or has it refused as expired.
#[tokio::test]
async fn a_lying_date_header_is_bounded_by_the_requested_lifetime() {
    const HOUR: Duration = Duration::from_secs(3600);
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The real clock: moto stamps `Date` and `Expiration` with it.
    let clock = aws_smithy_async::time::SystemTimeSource::new();
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .configure(&support::no_sdk_retries())
        .build()
        .unwrap();
    proxy.then(Fault::Mangle(Mangle::DateShiftedBy(-5 * 3600)));
    let before = aws_smithy_async::time::TimeSource::now(&clock);
    let credentials = provider.provide_credentials().await.unwrap();
    let after = aws_smithy_async::time::TimeSource::now(&clock);
    let expiry = credentials.expiry().unwrap();
    assert!(
        expiry <= after + HOUR + Duration::from_secs(1),
        "bounded by the hour asked for: {expiry:?} vs received by {after:?}"
    );
    assert!(
        expiry >= before + HOUR - Duration::from_secs(2),
        "{expiry:?}"
    );
    // And the credentials work.
    assert!(moto.bucket_names(credentials).await.contains(&moto.bucket));

    proxy.then(Fault::Mangle(Mangle::DateShiftedBy(5 * 3600)));
    provider.invalidate();
    let err = provider.provide_credentials().await.unwrap_err();
    let cause = fetch_error(&err).unwrap().to_string();
    assert!(cause.contains("already expired"), "{cause}");
    assert_eq!(proxy.sts_requests(), 2);
}

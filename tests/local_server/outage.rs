//! An STS outage inside the advisory window (reliability scenario 1), through the fault proxy
//! in front of the real local STS, driven by the injected clock: STS answers 503 from 2 minutes
//! before expiry for 30 minutes while a caller calls every second.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::TimeSource;
use std::time::Duration;
use support::BACKOFF_MAX as DEFAULT_BACKOFF_MAX;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_30_minute_outage_from_2_minutes_before_expiry() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let clock = support::manual_clock_at_real_time();
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .time_source(clock.clone())
        // One HTTP attempt per refresh: the provider's own backoff is what is measured.
        .configure(&support::no_sdk_retries())
        .build()
        .unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();

    proxy.always(Fault::Status(503, "ServiceUnavailable"));
    let outage_start = expiry - 2 * MIN;
    let outage_end = outage_start + 30 * MIN;
    clock.set_time(outage_start);
    let requests_before = proxy.sts_requests();
    let (mut calls, mut failed_before_expiry, mut failed_after_expiry) = (0, 0, 0);
    while clock.now() < outage_end {
        let now = clock.now();
        calls += 1;
        match provider.provide_credentials().await {
            Ok(creds) => {
                assert!(
                    creds.expiry().unwrap() > now,
                    "an expired credential was handed out"
                );
                assert_eq!(creds.access_key_id(), first.access_key_id());
            }
            Err(_) if now < expiry => failed_before_expiry += 1,
            Err(_) => failed_after_expiry += 1,
        }
        support::settle().await;
        clock.advance(Duration::from_secs(1));
    }
    let attempts = proxy.sts_requests() - requests_before;
    eprintln!(
        "outage: {calls} calls, {failed_before_expiry} failed before expiry, \
         {failed_after_expiry} failed after, {attempts} STS attempts in 30 min"
    );
    assert_eq!(
        failed_before_expiry, 0,
        "no call failed while the session was valid"
    );
    assert_eq!(
        failed_after_expiry,
        calls - 120,
        "every call after expiry got an error"
    );
    // Backoff: steps of at least half the nominal delay (1 s doubling to 30 s).
    assert!(
        attempts <= 130,
        "{attempts} STS attempts during a 30-minute outage"
    );
    assert!(attempts >= 55, "kept trying: {attempts}");

    // STS is back: the first success comes within one maximum backoff step.
    proxy.always(Fault::Pass);
    let back = clock.now();
    loop {
        if provider.provide_credentials().await.is_ok() {
            break;
        }
        support::settle().await;
        clock.advance(Duration::from_secs(1));
        assert!(clock.now() < back + 2 * DEFAULT_BACKOFF_MAX, "no recovery");
    }
    assert!(clock.now().duration_since(back).unwrap() <= DEFAULT_BACKOFF_MAX);
    assert!(provider.expiry().unwrap() > clock.now() + 50 * MIN);
}

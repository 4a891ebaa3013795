//! A throttling storm (reliability scenario 2): 10,000 concurrent first callers while the real
//! local STS (behind the fault proxy) throttles the first attempts. One request is in flight at
//! a time, all callers succeed once throttling stops, none sees an expired credential.

use crate::support;

use aws_smithy_async::time::TimeSource;
use std::time::Duration;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callers_through_throttling() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    // The SDK retries throttling (standard mode, 3 attempts, jittered backoff): two throttled
    // answers, then STS lets the third through.
    proxy.then(Fault::Status(400, "Throttling"));
    proxy.then(Fault::Status(400, "Throttling"));
    let clock = support::manual_clock_at_real_time();
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .time_source(clock.clone())
        .load_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let callers = support::spawn_callers(&provider, 10_000);
    let mut keys = std::collections::HashSet::new();
    for caller in callers {
        let creds = caller
            .await
            .unwrap()
            .expect("every caller succeeds once throttling stops");
        assert!(
            creds.expiry().unwrap() > clock.now(),
            "never an expired credential"
        );
        keys.insert(creds.access_key_id().to_owned());
    }
    eprintln!(
        "throttling storm: {} STS requests, at most {} in flight, {} session(s)",
        proxy.sts_requests(),
        proxy.max_in_flight(),
        keys.len()
    );
    assert_eq!(proxy.max_in_flight(), 1, "one request in flight at a time");
    assert_eq!(proxy.sts_requests(), 3, "two throttled, one answered");
    assert_eq!(keys.len(), 1);
    assert_eq!(provider.status().refreshes_started, 1);
}

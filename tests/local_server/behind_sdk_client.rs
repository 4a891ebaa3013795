//! In real time against the local STS and S3: an S3 client built as the README shows, one
//! request a second across a refresh, with STS slowed to 3 seconds and its sessions shortened
//! to 45 seconds by the fault proxy (so the test sees several refreshes in a minute). The background refresh has the new session before the
//! client's identity cache asks for it, so no request waits for STS while a session is valid.

use crate::support;

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use chainable_credentials::RefreshOutcome;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

const STS_LATENCY: Duration = Duration::from_secs(3);
const SESSION: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_behind_an_s3_client_makes_no_request_wait_in_real_time() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.always(Fault::Latency(STS_LATENCY));
    proxy.shorten_sessions(SESSION);
    // When each refresh ended, and the expiry of the session it replaced.
    let refreshed: Arc<Mutex<Vec<(SystemTime, SystemTime)>>> = Arc::default();
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .on_refresh({
            let refreshed = refreshed.clone();
            move |outcome| {
                if let RefreshOutcome::Refreshed { expires_at, .. } = outcome {
                    refreshed
                        .lock()
                        .unwrap()
                        .push((SystemTimeSource::new().now(), *expires_at));
                }
            }
        })
        .build()
        .unwrap();
    let s3 = moto.s3(provider.clone());

    let clock = SystemTimeSource::new();
    let start = clock.now();
    let mut slow = Vec::new();
    let mut requests = 0;
    // A session lifetime and more, and at least two refreshes after the first session (a
    // 45-second session is refreshed 14 to 31 seconds after it arrives, at a jittered point in
    // the first half of its 34-second advisory window), within two minutes.
    let refreshes = || refreshed.lock().unwrap().len();
    while (clock.now() < start + SESSION + Duration::from_secs(15) || refreshes() < 3)
        && clock.now() < start + Duration::from_secs(120)
    {
        let sent = clock.now();
        s3.list_buckets()
            .send()
            .await
            .expect("S3 lists the buckets");
        let took = clock.now().duration_since(sent).unwrap_or_default();
        requests += 1;
        // A request that waited for STS took at least STS's latency; others take milliseconds.
        if took >= STS_LATENCY {
            slow.push((sent.duration_since(start).unwrap_or_default(), took));
        }
        TokioSleep::new().sleep(Duration::from_secs(1)).await;
    }

    assert_eq!(
        slow.len(),
        1,
        "only the first request, with no session yet, waited for STS: {slow:?}"
    );
    assert!(slow[0].0 < Duration::from_secs(1), "{slow:?}");
    // A refresh may still be on its way: let it land before counting.
    for _ in 0..100 {
        if !provider.status().refreshing {
            break;
        }
        TokioSleep::new().sleep(Duration::from_millis(100)).await;
    }
    // Every STS call was a refresh the listener was told of: the first session, then one per
    // session lifetime's refresh point.
    let refreshed = refreshed.lock().unwrap().clone();
    assert!(
        refreshed.len() >= 3,
        "{} refreshes in {requests} requests",
        refreshed.len()
    );
    assert_eq!(proxy.sts_requests(), refreshed.len());
    for pair in refreshed.windows(2) {
        let (landed, _) = pair[1];
        let previous_expiry = pair[0].1;
        // Each new session landed while the old one had more than the client cache's 10-second
        // buffer left, so the client found it ready when it asked.
        assert!(
            landed + Duration::from_secs(10) < previous_expiry,
            "landed {:?} before the old session's expiry",
            previous_expiry.duration_since(landed)
        );
    }
    let status = provider.status();
    assert!(status.has_valid_session && status.failures_in_a_row == 0);
}

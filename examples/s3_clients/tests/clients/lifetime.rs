//! A whole session lifetime in real time, STS answering in 4 s (the fault proxy), sessions
//! shortened to 60 s: object_store and OpenDAL requests every 200 ms on one provider. The
//! provider refreshes in the background inside the advisory window, so no request waits for
//! STS; each client sees the new session when it next asks (object_store on every request,
//! OpenDAL's signer when its credential has under 120 s left — here, at once: the whole
//! session is shorter).

use crate::support;

use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use std::time::Duration;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

const STS_LATENCY: Duration = Duration::from_secs(4);
const SESSION: Duration = Duration::from_secs(60);
/// A request slower than this waited for something besides the local server.
const WAITED: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lifetime_with_a_4_s_sts_makes_no_request_wait() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    proxy.always(Fault::Latency(STS_LATENCY));
    proxy.shorten_sessions(SESSION);
    let provider = moto
        .s3_role_via(&proxy.endpoint)
        .role_session_name("lifetime")
        .build()
        .unwrap();
    // The first session before the clock starts: its 4 s are not a request's.
    provider.credentials().await.unwrap();
    let store = s3_clients::object_store_on(&config, &moto.bucket, provider.clone()).unwrap();
    let operator = s3_clients::opendal_on(&config, &moto.bucket, provider.clone()).unwrap();
    let hello = Path::from("demo/hello.txt");

    let clock = SystemTimeSource::new();
    let start = clock.now();
    let (mut requests, mut waited) = (0, Vec::new());
    let mut session_keys = std::collections::HashSet::new();
    while clock.now() < start + SESSION + Duration::from_secs(10) {
        let sent = clock.now();
        assert_eq!(store.head(&hello).await.unwrap().size, 24);
        assert_eq!(
            operator
                .stat("demo/hello.txt")
                .await
                .unwrap()
                .content_length(),
            24
        );
        let took = clock.now().duration_since(sent).unwrap_or_default();
        requests += 2;
        if took > WAITED {
            waited.push(took);
        }
        session_keys.insert(
            provider
                .credentials()
                .await
                .unwrap()
                .access_key_id()
                .to_owned(),
        );
        support::pause(Duration::from_millis(200)).await;
    }
    assert!(
        waited.is_empty(),
        "{} of {requests} requests waited: {waited:?}",
        waited.len()
    );
    assert!(
        session_keys.len() >= 2,
        "the lifetime saw a refresh: {} sessions",
        session_keys.len()
    );
    assert!(requests > 100, "{requests} requests");
}

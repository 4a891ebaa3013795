//! The guarantees where users put the provider: behind an S3 client built as the README shows,
//! with the client's own default identity cache in front of it. The client, the provider and
//! the fakes share aws-smithy-async's tick-advance time and sleep, so a whole session lifetime
//! of requests runs in a moment, and a request that waits for STS is seen waiting: the test
//! clock has to move for it to finish.

use crate::support;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_smithy_async::test_util::tick_advance_sleep::{
    TickAdvanceSleep, TickAdvanceTime, tick_advance_time_and_sleep,
};
use aws_smithy_async::time::TimeSource;
use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;
use chainable_credentials::{
    Builder, ChainableTemporaryCredentials, FetchError, ProviderStatus, RefreshOutcome,
};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::fake_s3::FakeS3;
use support::{FakeSts, ROLE_ARN, Reply};

const MIN: Duration = Duration::from_secs(60);
/// How long the fake STS takes to answer, as in the report that led to the background
/// refresh: long enough that a request waiting for it is unmistakable.
const STS_LATENCY: Duration = Duration::from_secs(4);
/// One request every this long, as in that report.
const REQUEST_EVERY: Duration = Duration::from_secs(2);

/// A provider and an S3 client on it, on the test clock.
struct Rig {
    time: TickAdvanceTime,
    sleep: TickAdvanceSleep,
    sts: FakeSts,
    s3_server: FakeS3,
    provider: ChainableTemporaryCredentials,
    s3: aws_sdk_s3::Client,
}

/// The configuration a program gets from `aws_config::load_defaults`, on the test clock and
/// without SDK retries (so STS calls are refresh attempts).
fn sdk_config(time: &TickAdvanceTime, sleep: &TickAdvanceSleep) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .time_source(time.clone())
        .sleep_impl(sleep.clone())
        .retry_config(RetryConfig::disabled())
        .build()
}

impl Rig {
    async fn new(configure: impl FnOnce(Builder) -> Builder) -> Rig {
        let (time, sleep) = tick_advance_time_and_sleep();
        time.tick(Duration::from_secs(support::T0_SECS)).await;
        let sts = FakeSts::new(time.clone());
        sts.slow(sleep.clone(), STS_LATENCY);
        Rig::on(time, sleep, sts, configure)
    }

    /// A provider and client on an existing clock and STS (a fleet shares them).
    fn on(
        time: TickAdvanceTime,
        sleep: TickAdvanceSleep,
        sts: FakeSts,
        configure: impl FnOnce(Builder) -> Builder,
    ) -> Rig {
        let sdk_config = sdk_config(&time, &sleep);
        let provider = configure(
            ChainableTemporaryCredentials::builder()
                .configure(&sdk_config)
                .base_credentials(Credentials::new(
                    "AKIDBASE",
                    "base-secret-value",
                    None,
                    None,
                    "test",
                ))
                .role_arn(ROLE_ARN)
                .http_client(sts.clone()),
        )
        .build()
        .unwrap();
        let s3_server = FakeS3::new(time.clone());
        // As the README shows; the fake S3 stands in for the network.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config)
                .credentials_provider(provider.clone())
                .http_client(s3_server.clone())
                .build(),
        );
        Rig {
            time,
            sleep,
            sts,
            s3_server,
            provider,
            s3,
        }
    }

    /// Runs `future` to its end, moving the test clock only while it cannot finish without
    /// it. Returns how much test time it took — zero unless it waited for something, such as
    /// STS — and its output.
    async fn drive<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> (Duration, T) {
        let start = self.time.now();
        let task = tokio::spawn(future);
        while !task.is_finished() {
            support::settle().await;
            if !task.is_finished() {
                self.time.tick(Duration::from_millis(100)).await;
            }
        }
        let output = task.await.unwrap();
        (self.time.now().duration_since(start).unwrap(), output)
    }

    /// Sends one `ListBuckets` through the client; see [`drive`](Self::drive).
    async fn list_buckets(
        &self,
    ) -> (
        Duration,
        Result<
            aws_sdk_s3::operation::list_buckets::ListBucketsOutput,
            aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::list_buckets::ListBucketsError>,
        >,
    ) {
        let s3 = self.s3.clone();
        self.drive(async move { s3.list_buckets().send().await })
            .await
    }

    /// Lets `by` pass on the test clock, giving the background task its turns.
    async fn pass(&self, by: Duration) {
        self.time.tick(by).await;
        support::settle().await;
    }

    /// The `Expiration` STS gave the session with this key.
    fn expiration_of(&self, key: &str) -> SystemTime {
        self.sts.expiration_of(key).expect("issued by the fake STS")
    }

    /// Every S3 request was signed with a session that had not expired (on STS's clock).
    fn assert_no_expired_session_was_used(&self) {
        for (at, key) in self.s3_server.signed() {
            assert!(
                at < self.expiration_of(&key),
                "a request at {at:?} was signed with {key}, expired at {:?}",
                self.expiration_of(&key)
            );
        }
    }
}

/// Requests every [`REQUEST_EVERY`] until `until`; returns the ones that waited: when they
/// were sent and how long they took.
async fn requests_until(rig: &Rig, until: SystemTime) -> Vec<(SystemTime, Duration)> {
    let mut waited = Vec::new();
    while rig.time.now() < until {
        let sent = rig.time.now();
        let (took, result) = rig.list_buckets().await;
        result.unwrap_or_else(|e| {
            panic!(
                "request at {sent:?} failed: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            )
        });
        if !took.is_zero() {
            waited.push((sent, took));
        }
        rig.pass(REQUEST_EVERY).await;
    }
    waited
}

#[tokio::test]
async fn across_a_refresh_with_a_slow_sts_no_request_waits_while_a_session_is_valid() {
    let rig = Rig::new(|b| b).await;
    let start = rig.time.now();
    let waited = requests_until(&rig, start + 70 * MIN).await;

    assert_eq!(
        waited,
        vec![(start, STS_LATENCY)],
        "only the very first request, with no session yet, waits for STS"
    );
    let arrivals = rig.sts.arrivals();
    assert_eq!(arrivals.len(), 2, "one refresh in 70 minutes");
    let first_expiry = rig.expiration_of("ASIAFAKE0001");
    // The refresh came at the provider's jittered refresh point in the first half of the
    // advisory window (the last 15 minutes of a one-hour session), not when the client's
    // cache asked, 5 to 10 seconds before expiry.
    assert!(
        arrivals[1] >= first_expiry - 15 * MIN - Duration::from_secs(1)
            && arrivals[1] <= first_expiry - 7 * MIN - Duration::from_secs(29),
        "refresh at {:?}, {:?} before expiry",
        arrivals[1],
        first_expiry.duration_since(arrivals[1]).unwrap()
    );
    // The client's own cache keeps the old session until 5 to 10 seconds before its expiry,
    // then takes the new one from the provider's cache.
    let signed = rig.s3_server.signed();
    let switch = signed
        .iter()
        .find(|(_, key)| key == "ASIAFAKE0002")
        .expect("the new session was used")
        .0;
    assert!(
        switch >= first_expiry - Duration::from_secs(12) && switch < first_expiry,
        "switched {:?} before expiry",
        first_expiry.duration_since(switch).unwrap()
    );
    rig.assert_no_expired_session_was_used();
    let status = rig.provider.status();
    assert_eq!((status.refreshes_started, status.refreshes_failed), (2, 0));
    assert!(status.has_valid_session && status.background_refresh_running);
}

#[tokio::test]
async fn without_the_background_refresh_the_request_that_reaches_the_provider_waits() {
    // What the background refresh exists for, shown by switching it off: the client's cache
    // asks the provider only seconds before expiry, inside the mandatory window, and that
    // request waits for STS.
    let rig = Rig::new(|b| b.background_refresh(false)).await;
    let start = rig.time.now();
    let waited = requests_until(&rig, start + 70 * MIN).await;
    let first_expiry = rig.expiration_of("ASIAFAKE0001");
    assert_eq!(waited.len(), 2, "{waited:?}");
    assert_eq!(waited[0], (start, STS_LATENCY));
    let (sent, took) = waited[1];
    assert_eq!(took, STS_LATENCY);
    assert!(
        sent >= first_expiry - Duration::from_secs(12),
        "{:?} before expiry",
        first_expiry.duration_since(sent).unwrap()
    );
    assert!(!rig.provider.status().background_refresh_running);
}

/// Records every refresh outcome a listener is told of.
#[derive(Clone, Default)]
struct Outcomes(Arc<Mutex<Vec<String>>>);

impl Outcomes {
    fn listener(&self) -> impl Fn(&RefreshOutcome<'_>) + Send + Sync + 'static {
        let outcomes = self.0.clone();
        move |outcome| {
            let told = match outcome {
                RefreshOutcome::Refreshed { .. } => "refreshed".to_owned(),
                RefreshOutcome::Failed {
                    error,
                    failures_in_a_row,
                    serving_cached_until,
                    ..
                } => format!(
                    "failed {failures_in_a_row} serving={} {}",
                    serving_cached_until.is_some(),
                    aws_smithy_types::error::display::DisplayErrorContext(*error)
                ),
                _ => "other".to_owned(),
            };
            outcomes.lock().unwrap().push(told);
        }
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn an_outage_from_the_refresh_point_on_is_retried_from_its_start_and_absorbed() {
    let outcomes = Outcomes::default();
    let rig = Rig::new(|b| b.on_refresh(outcomes.listener())).await;
    rig.sts.slow(rig.sleep.clone(), Duration::from_millis(500));
    let start = rig.time.now();
    rig.list_buckets().await.1.unwrap();
    let first_expiry = rig.expiration_of("ASIAFAKE0001");
    let refresh_at = rig.provider.status().refresh_at.unwrap();

    // STS fails from the start of the advisory window until one minute before expiry.
    let outage_start = first_expiry - 15 * MIN;
    let outage_end = first_expiry - MIN;
    requests_until(&rig, outage_start).await;
    rig.sts.always(Reply::Error {
        status: 503,
        code: "ServiceUnavailable",
    });
    let mut seen_degraded: Option<ProviderStatus> = None;
    let waited = {
        let mut waited = Vec::new();
        while rig.time.now() < outage_end {
            waited.extend(requests_until(&rig, rig.time.now() + MIN).await);
            let status = rig.provider.status();
            // Between attempts (not while one is in flight, when no next attempt is set yet).
            if status.failures_in_a_row > 0 && !status.refreshing && seen_degraded.is_none() {
                seen_degraded = Some(status);
            }
        }
        waited
    };
    assert!(waited.is_empty(), "no request waited: {waited:?}");
    rig.sts.always(Reply::Session(Duration::from_secs(3600)));
    let waited = requests_until(&rig, first_expiry + 10 * MIN).await;
    assert!(waited.is_empty(), "no request waited: {waited:?}");

    let arrivals = rig.sts.arrivals();
    // The first attempt came at the refresh point, with no caller asking for it.
    assert!(
        arrivals[1] >= refresh_at && arrivals[1] <= refresh_at + REQUEST_EVERY,
        "first attempt {:?} after the refresh point",
        arrivals[1].duration_since(refresh_at)
    );
    let failed: Vec<SystemTime> = arrivals[1..arrivals.len() - 1].to_vec();
    assert!(
        failed.len() >= 14 * 60 / 30 / 2,
        "retried all along the outage: {} attempts",
        failed.len()
    );
    for pair in failed.windows(2) {
        let gap = pair[1].duration_since(pair[0]).unwrap();
        assert!(
            gap >= Duration::from_millis(500) && gap <= Duration::from_secs(31),
            "attempts {gap:?} apart"
        );
    }
    // STS came back a minute before expiry; the new session was there before the client's
    // cache asked for it.
    let recovered = *arrivals.last().unwrap();
    assert!(recovered <= outage_end + Duration::from_secs(31));
    assert!(recovered < first_expiry - Duration::from_secs(15));
    rig.assert_no_expired_session_was_used();

    let degraded = seen_degraded.expect("the status showed the failures");
    assert!(degraded.has_valid_session && degraded.serving_cached_after_failure);
    assert!(
        degraded
            .last_error
            .as_deref()
            .unwrap()
            .contains("ServiceUnavailable"),
        "{degraded:?}"
    );
    assert!(degraded.next_attempt_at.is_some());
    let told = outcomes.all();
    assert_eq!(
        told.iter().filter(|t| *t == "refreshed").count(),
        2,
        "{told:?}"
    );
    assert_eq!(
        told.iter()
            .filter(|t| t.starts_with("failed") && t.contains("serving=true"))
            .count(),
        failed.len()
    );
    let status = rig.provider.status();
    assert_eq!(status.refreshes_failed, failed.len() as u64);
    assert_eq!(status.failures_in_a_row, 0);
    assert_eq!(status.last_error, None);
    assert!(rig.time.now() > start);
}

/// The `FetchError` reached from an error by following `std::error::Error::source`, as a user
/// does with no help from this crate.
fn fetch_error_in(error: &(dyn std::error::Error + 'static)) -> Option<FetchError> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<FetchError>() {
            return Some(found.clone());
        }
        next = e.source();
    }
    None
}

#[tokio::test]
async fn past_expiry_requests_fail_with_the_sts_error_reachable_from_the_s3_error() {
    let rig = Rig::new(|b| b).await;
    rig.sts.slow(rig.sleep.clone(), Duration::from_millis(500));
    rig.list_buckets().await.1.unwrap();
    let first_expiry = rig.expiration_of("ASIAFAKE0001");
    requests_until(&rig, first_expiry - 15 * MIN).await;
    rig.sts.always(Reply::ErrorMessage {
        status: 400,
        code: "Throttling",
        message: "Rate exceeded",
    });
    requests_until(&rig, first_expiry - Duration::from_secs(2)).await;

    // After expiry every request fails — at once while the refresh backs off, else after the
    // one attempt in flight — with the STS error as its cause.
    rig.pass(Duration::from_secs(3)).await;
    let mut failures = 0;
    for _ in 0..30 {
        let (took, result) = rig.list_buckets().await;
        assert!(took <= Duration::from_millis(500), "took {took:?}");
        let error = result.expect_err("no valid session past expiry");
        let cause = fetch_error_in(&error).unwrap_or_else(|| {
            panic!(
                "no FetchError in the chain of {}",
                aws_smithy_types::error::display::DisplayErrorContext(&error)
            )
        });
        assert_eq!(cause.code(), Some("Throttling"));
        failures += 1;
        rig.pass(REQUEST_EVERY).await;
    }
    assert_eq!(failures, 30);
    rig.assert_no_expired_session_was_used();
    assert!(!rig.provider.status().has_valid_session);

    // Past expiry the background task leaves the retries to the callers: an idle provider
    // does not call STS forever.
    let calls = rig.sts.calls();
    rig.pass(10 * MIN).await;
    assert_eq!(rig.sts.calls(), calls, "no call without a caller");
    // STS is back: the next request waits for one STS call and gets a new session.
    rig.sts.always(Reply::Session(Duration::from_secs(3600)));
    let (took, result) = rig.list_buckets().await;
    result.unwrap();
    assert_eq!(took, Duration::from_millis(500), "one STS round trip");
    assert_eq!(rig.sts.calls(), calls + 1);
    assert!(rig.provider.status().has_valid_session);
    rig.assert_no_expired_session_was_used();
}

/// When each provider of a fleet refreshed (the STS arrivals after the first sessions).
async fn fleet_refresh_times(size: usize, background_refresh: bool) -> Vec<Duration> {
    let (time, sleep) = tick_advance_time_and_sleep();
    time.tick(Duration::from_secs(support::T0_SECS)).await;
    let sts = FakeSts::new(time.clone());
    sts.slow(sleep.clone(), Duration::from_millis(200));
    // A fleet started in the same second, each instance with its own provider and client.
    let fleet: Vec<Rig> = (0..size)
        .map(|_| {
            Rig::on(time.clone(), sleep.clone(), sts.clone(), |b| {
                b.background_refresh(background_refresh)
            })
        })
        .collect();
    let start = time.now();
    // Every instance's first request at the same moment.
    let first_requests: Vec<_> = fleet
        .iter()
        .map(|rig| tokio::spawn(rig.s3.list_buckets().send()))
        .collect();
    fleet[0]
        .drive(async move {
            for request in first_requests {
                request.await.unwrap().unwrap();
            }
        })
        .await;
    assert_eq!(sts.arrivals(), vec![start; size]);
    let first_expiry = fleet[0].expiration_of("ASIAFAKE0001");
    // Each instance sends a request every 30 seconds.
    while time.now() < start + 65 * MIN {
        for rig in &fleet {
            rig.list_buckets().await.1.unwrap();
        }
        fleet[0].pass(Duration::from_secs(30)).await;
    }
    for rig in &fleet {
        rig.assert_no_expired_session_was_used();
    }
    let arrivals = sts.arrivals();
    assert_eq!(arrivals.len(), 2 * size, "one refresh per instance");
    arrivals[size..]
        .iter()
        .map(|t| first_expiry.duration_since(*t).unwrap_or_default())
        .collect()
}

/// The most refreshes in any one second.
fn peak_per_second(before_expiry: &[Duration]) -> usize {
    let mut seconds: Vec<u64> = before_expiry.iter().map(Duration::as_secs).collect();
    seconds.sort_unstable();
    seconds
        .chunk_by(|a, b| a == b)
        .map(<[u64]>::len)
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_fleets_refreshes_are_spread_by_the_jitter() {
    const FLEET: usize = 40;
    let spread = fleet_refresh_times(FLEET, true).await;
    for before in &spread {
        assert!(
            *before >= 7 * MIN + Duration::from_secs(29)
                && *before <= 15 * MIN + Duration::from_secs(1),
            "refreshed {before:?} before expiry: outside the first half of the advisory window"
        );
    }
    let earliest = spread.iter().max().unwrap();
    let latest = spread.iter().min().unwrap();
    assert!(
        *earliest - *latest >= 4 * MIN,
        "spread over {:?}",
        *earliest - *latest
    );
    let peak = peak_per_second(&spread);
    assert!(peak <= 4, "{peak} of {FLEET} refreshes in one second");

    // Switched off, the clients' caches set the time: everyone in the last seconds (or,
    // with a request every 30 seconds, at the first request after expiry).
    let bunched = fleet_refresh_times(FLEET, false).await;
    assert!(
        bunched.iter().all(|b| *b <= Duration::from_secs(10)),
        "{bunched:?}"
    );
    assert!(peak_per_second(&bunched) > peak);
}

#[tokio::test]
async fn the_background_task_ends_with_the_last_clone() {
    let rig = Rig::new(|b| b).await;
    rig.list_buckets().await.1.unwrap();
    let Rig {
        time,
        sleep: _sleep,
        sts,
        provider,
        s3,
        ..
    } = rig;
    // Two session lifetimes without a caller: refreshed on schedule.
    for _ in 0..(2 * 60 * 6) {
        time.tick(Duration::from_secs(10)).await;
        support::settle().await;
    }
    let calls = sts.calls();
    assert!((2..=3).contains(&(calls - 1)), "{calls} calls");
    drop(provider);
    drop(s3);
    support::settle().await;
    for _ in 0..10 {
        time.tick(60 * MIN).await;
        support::settle().await;
    }
    assert_eq!(sts.calls(), calls, "the task ended with the last clone");
}

#[tokio::test]
async fn status_and_outcomes_hold_no_secret() {
    let told = Outcomes::default();
    let rig = Rig::new(|b| b.on_refresh(told.listener())).await;
    rig.list_buckets().await.1.unwrap();
    rig.sts.always(Reply::Error {
        status: 403,
        code: "AccessDenied",
    });
    rig.provider.invalidate();
    let provider = rig.provider.clone();
    rig.drive(async move { provider.credentials().await })
        .await
        .1
        .unwrap_err();
    let text = format!("{:?} {:?}", rig.provider.status(), told.all());
    for n in 1..=2 {
        assert!(!text.contains(&support::fake_sts::fake_secret(n)), "{text}");
        assert!(!text.contains(&support::fake_sts::fake_token(n)), "{text}");
    }
    assert!(text.contains("AccessDenied"), "{text}");
}

#[tokio::test]
async fn invalidate_reaches_the_clients_cache_only_without_one() {
    let rig = Rig::new(|b| b).await;
    rig.list_buckets().await.1.unwrap();
    // A second client on the same provider, with the SDK's identity cache switched off.
    let uncached_server = FakeS3::new(rig.time.clone());
    let uncached = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(&rig.time, &rig.sleep))
            .credentials_provider(rig.provider.clone())
            .identity_cache(aws_sdk_s3::config::IdentityCache::no_cache())
            .http_client(uncached_server.clone())
            .build(),
    );
    rig.drive({
        let uncached = uncached.clone();
        async move { uncached.list_buckets().send().await }
    })
    .await
    .1
    .unwrap();

    rig.provider.invalidate();
    let (took, result) = rig
        .drive(async move { uncached.list_buckets().send().await })
        .await;
    result.unwrap();
    assert_eq!(
        took, STS_LATENCY,
        "the uncached client waited for the new session"
    );
    rig.list_buckets().await.1.unwrap();
    let last_key = |server: &FakeS3| server.signed().last().unwrap().1.clone();
    assert_eq!(last_key(&uncached_server), "ASIAFAKE0002");
    assert_eq!(
        last_key(&rig.s3_server),
        "ASIAFAKE0001",
        "the default client still signs with the session its own cache holds"
    );
}

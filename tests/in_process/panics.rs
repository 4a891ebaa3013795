//! Panics in the parts a provider calls are failures, not abandoned refreshes: a panicking
//! base credentials provider, MFA token provider or HTTP client gives callers a typed error
//! (`FetchError::Panicked`), counts in `status()`, backs off like any failure; the background
//! task lives through it; a panicking refresh listener changes nothing but a counter.

use crate::support;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::test_util::tick_advance_sleep::tick_advance_time_and_sleep;
use aws_smithy_async::time::TimeSource;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use chainable_credentials::{
    ChainableTemporaryCredentials, FetchError, ProvideMfaToken, TokenFuture, fetch_error,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{FakeSts, fake_builder, t0};

/// Base credentials that answer the first `good` calls and panic on every later one.
#[derive(Debug, Clone)]
struct PanickingBase {
    good: usize,
    calls: Arc<AtomicUsize>,
}

impl PanickingBase {
    fn after(good: usize) -> Self {
        PanickingBase {
            good,
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl ProvideCredentials for PanickingBase {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n >= self.good {
            panic!("the base provider panics (call {n})");
        }
        future::ProvideCredentials::ready(Ok(Credentials::new(
            "AKIDBASE",
            "base-secret",
            None,
            None,
            "test",
        )))
    }
}

/// An MFA token provider that panics inside its future.
struct PanickingTokens(Arc<AtomicUsize>);

impl ProvideMfaToken for PanickingTokens {
    fn mfa_token(&self) -> TokenFuture<'_> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { panic!("the MFA token provider panics") })
    }
}

/// An HTTP client whose connector panics on every call.
#[derive(Debug, Clone, Default)]
struct PanickingHttp(Arc<AtomicUsize>);

impl HttpConnector for PanickingHttp {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("the HTTP connector panics");
    }
}

impl HttpClient for PanickingHttp {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn panicked_part(result: &provider::Result) -> &'static str {
    let error = result.as_ref().expect_err("a panic is a failure");
    match fetch_error(error) {
        Some(FetchError::Panicked { part, .. }) => part,
        other => panic!("expected FetchError::Panicked, got {other:?} ({error})"),
    }
}

/// Calls made right after a failure are answered from the backoff: the failing part is not
/// called again, and the status shows one failure with a next attempt.
async fn assert_backs_off(provider: &ChainableTemporaryCredentials, calls: impl Fn() -> usize) {
    let before = calls();
    for _ in 0..10 {
        assert!(provider.credentials().await.is_err());
    }
    assert_eq!(
        calls(),
        before,
        "no new attempt before the backoff allows one"
    );
    let status = provider.status();
    assert_eq!(status.refreshes_failed, 1, "{status:?}");
    assert_eq!(status.failures_in_a_row, 1, "{status:?}");
    assert!(status.next_attempt_at.is_some(), "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("panicked"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_panicking_base_provider_is_a_failure_with_backoff() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let base = PanickingBase::after(0);
    let provider = fake_builder(&sts, &clock)
        .base_credentials(base.clone())
        .build()
        .unwrap();
    let result = provider.credentials().await;
    assert_eq!(panicked_part(&result), "the base credentials provider");
    assert_eq!(base.calls(), 1);
    assert_backs_off(&provider, || base.calls()).await;
    assert_eq!(sts.calls(), 0);
    // Once the backoff has passed, the next caller tries again (and fails the same way).
    clock.advance(support::BACKOFF_INITIAL);
    assert!(provider.credentials().await.is_err());
    assert_eq!(base.calls(), 2);
    assert_eq!(provider.status().failures_in_a_row, 2);
}

#[tokio::test]
async fn a_panicking_mfa_token_provider_is_a_failure_with_backoff() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let asked = Arc::new(AtomicUsize::new(0));
    let provider = fake_builder(&sts, &clock)
        .mfa(
            "arn:aws:iam::123456789012:mfa/user",
            PanickingTokens(asked.clone()),
        )
        .build()
        .unwrap();
    let result = provider.credentials().await;
    assert_eq!(panicked_part(&result), "the MFA token provider");
    assert_backs_off(&provider, || asked.load(Ordering::SeqCst)).await;
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "asked once, not in a storm"
    );
    assert_eq!(sts.calls(), 0);
}

#[tokio::test]
async fn a_panicking_http_client_is_a_failure_with_backoff() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let http = PanickingHttp::default();
    let provider = fake_builder(&sts, &clock)
        .http_client(http.clone())
        .build()
        .unwrap();
    let result = provider.credentials().await;
    assert_eq!(panicked_part(&result), "the STS call (its HTTP client)");
    assert_backs_off(&provider, || http.0.load(Ordering::SeqCst)).await;
}

#[tokio::test]
async fn the_background_task_lives_through_a_panicking_refresh() {
    let (time, sleep) = tick_advance_time_and_sleep();
    time.tick(Duration::from_secs(support::T0_SECS)).await;
    let sts = FakeSts::new(time.clone());
    // The first session comes; every refresh after it panics.
    let base = PanickingBase::after(1);
    let provider = ChainableTemporaryCredentials::builder()
        .base_credentials(base.clone())
        .role_arn(support::ROLE_ARN)
        .region(aws_types::region::Region::new("us-east-1"))
        .http_client(sts.clone())
        .time_source(time.clone())
        .sleep_impl(sleep.clone())
        .background_refresh(true)
        .build()
        .unwrap();
    let first = provider.credentials().await.unwrap();
    let refresh_at = provider.status().refresh_at.unwrap();
    time.tick(refresh_at.duration_since(time.now()).unwrap())
        .await;
    support::eventually("the background refresh ran and failed", || {
        provider.status().refreshes_failed == 1
    })
    .await;
    let status = provider.status();
    assert!(status.background_refresh_running, "{status:?}");
    assert!(status.serving_cached_after_failure, "{status:?}");
    // Callers keep getting the valid session at once, and start nothing themselves.
    for _ in 0..100 {
        let credentials = support::ready_at_once(provider.credentials())
            .expect("answered at once")
            .unwrap();
        assert_eq!(credentials.access_key_id(), first.access_key_id());
    }
    support::settle().await;
    assert_eq!(base.calls(), 2, "one panicking attempt, not one per call");
    // The task retries after the backoff, from the same task: the first delay is drawn from
    // 0.5 to 1 s, the second from 1 to 2 s, so one second brings exactly one retry.
    time.tick(support::BACKOFF_INITIAL).await;
    support::eventually("the background task retried", || base.calls() == 3).await;
    support::settle().await;
    assert_eq!(base.calls(), 3, "one retry per backoff step");
    assert!(provider.status().background_refresh_running);
    assert_eq!(provider.status().failures_in_a_row, 2);
}

#[tokio::test]
async fn a_panicking_refresh_listener_changes_nothing_but_a_counter() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let told = Arc::new(AtomicUsize::new(0));
    let provider = fake_builder(&sts, &clock)
        .on_refresh({
            let told = told.clone();
            move |_outcome| {
                told.fetch_add(1, Ordering::SeqCst);
                panic!("the listener panics");
            }
        })
        .build()
        .unwrap();
    let (capture, _guard) = support::capture_traces();
    let credentials = provider.credentials().await.unwrap();
    assert_eq!(credentials.access_key_id(), "ASIAFAKE0001");
    // The listener is told after the waiting callers, on the refresh's own task.
    support::eventually("the listener was told", || {
        provider.status().listener_panics == 1
    })
    .await;
    let status = provider.status();
    assert_eq!(told.load(Ordering::SeqCst), 1);
    assert_eq!(status.listener_panics, 1, "{status:?}");
    assert_eq!(status.refreshes_failed, 0, "{status:?}");
    assert!(status.has_valid_session);
    assert!(capture.text().contains("the refresh listener panicked"));
    // The next refresh works and tells the listener again.
    provider.invalidate();
    assert_eq!(
        provider.credentials().await.unwrap().access_key_id(),
        "ASIAFAKE0002"
    );
    support::eventually("the listener was told again", || {
        provider.status().listener_panics == 2
    })
    .await;
}

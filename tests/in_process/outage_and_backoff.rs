//! STS failing: a still-valid session keeps being served, backoff bounds the STS calls, errors
//! come back typed once nothing valid is left, and the load timeout bounds every wait.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::time::TimeSource;
use chainable_credentials::{FetchError, fetch_error};
use std::time::{Duration, SystemTime};
use support::{BACKOFF_INITIAL as DEFAULT_BACKOFF_INITIAL, BACKOFF_MAX as DEFAULT_BACKOFF_MAX};
use support::{FakeSts, Reply, fake_builder, t0};

const MIN: Duration = Duration::from_secs(60);
const ACCESS_DENIED: Reply = Reply::Error {
    status: 403,
    code: "AccessDenied",
};
const UNAVAILABLE: Reply = Reply::Error {
    status: 503,
    code: "ServiceUnavailable",
};

#[tokio::test]
async fn a_failed_refresh_keeps_serving_the_valid_session_until_expiry_then_errors() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();
    sts.always(UNAVAILABLE);

    // Every second from the start of the advisory window until one second before expiry,
    // through the mandatory window: every call succeeds with the old session.
    let mut t = expiry - 15 * MIN;
    let mut served = 0;
    while t < expiry {
        clock.set_time(t);
        let creds = provider
            .provide_credentials()
            .await
            .expect("valid session served");
        assert_eq!(creds.access_key_id(), first.access_key_id());
        assert!(creds.expiry().unwrap() > t, "never an expired credential");
        support::settle().await;
        served += 1;
        t += Duration::from_secs(1);
    }
    assert_eq!(served, 15 * 60);

    // At expiry: a typed error, and it names the STS failure.
    clock.set_time(expiry);
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(err, CredentialsError::ProviderError(_)), "{err:?}");
    assert_eq!(
        fetch_error(&err).and_then(FetchError::code),
        Some("ServiceUnavailable")
    );
    // And nothing is handed out afterwards either.
    for _ in 0..20 {
        clock.advance(Duration::from_secs(1));
        assert!(provider.provide_credentials().await.is_err());
    }
}

/// The most attempts a backoff with delays of at least `nominal / 2` allows in `span`
/// (the first attempt at 0 included).
fn most_attempts_allowed(span: Duration) -> usize {
    let mut t = Duration::ZERO;
    let mut attempts = 1;
    let mut failures = 0u32;
    loop {
        failures += 1;
        let nominal = (DEFAULT_BACKOFF_INITIAL * 2u32.saturating_pow(failures - 1).min(1 << 20))
            .min(DEFAULT_BACKOFF_MAX);
        t += nominal / 2;
        if t > span {
            return attempts;
        }
        attempts += 1;
    }
}

#[tokio::test]
async fn backoff_bounds_sts_calls_during_a_long_outage_and_recovery_is_prompt() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock).build().unwrap();
    provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();

    // STS goes down 2 minutes before expiry, for 30 minutes; callers call every second.
    sts.always(UNAVAILABLE);
    let outage_start = expiry - 2 * MIN;
    let outage_end = outage_start + 30 * MIN;
    clock.set_time(outage_start);
    let calls_before = sts.calls();
    let (mut ok_before_expiry, mut failed_before_expiry, mut failed_after) = (0, 0, 0);
    while clock.now() < outage_end {
        let now = clock.now();
        match provider.provide_credentials().await {
            Ok(creds) => {
                assert!(
                    creds.expiry().unwrap() > now,
                    "expired credential handed out"
                );
                ok_before_expiry += 1;
            }
            Err(_) if now < expiry => failed_before_expiry += 1,
            Err(_) => failed_after += 1,
        }
        support::settle().await;
        clock.advance(Duration::from_secs(1));
    }
    let attempts = sts.calls() - calls_before;
    assert_eq!(failed_before_expiry, 0);
    assert_eq!(ok_before_expiry, 120);
    assert_eq!(failed_after, 30 * 60 - 120);
    let bound = most_attempts_allowed(30 * MIN);
    eprintln!(
        "30-min outage from 2 min before expiry: {} calls, {failed_before_expiry} failed before \
         expiry, {attempts} STS attempts (backoff bound {bound})",
        ok_before_expiry + failed_before_expiry + failed_after
    );
    assert!(
        attempts <= bound,
        "{attempts} STS attempts, backoff allows {bound}"
    );
    // And it did keep trying: at least one attempt per maximum backoff step.
    assert!(
        attempts >= (30 * 60) / DEFAULT_BACKOFF_MAX.as_secs() as usize,
        "{attempts}"
    );

    // STS is back: the first success comes within one maximum backoff step.
    sts.always(Reply::Session(Duration::from_secs(3600)));
    let back_at = clock.now();
    let recovered_at: SystemTime = loop {
        if provider.provide_credentials().await.is_ok() {
            break clock.now();
        }
        support::settle().await;
        clock.advance(Duration::from_secs(1));
        assert!(
            clock.now() - Duration::from_secs(120) < back_at,
            "no recovery"
        );
    };
    assert!(recovered_at.duration_since(back_at).unwrap() <= DEFAULT_BACKOFF_MAX);
}

#[tokio::test]
async fn errors_retrying_cannot_fix_are_invalid_configuration() {
    for code in [
        "MalformedPolicyDocument",
        "PackedPolicyTooLarge",
        "ValidationError",
    ] {
        let (_clock, _sts, provider) =
            support::provider_answered_by(Reply::Error { status: 400, code });
        let err = provider.provide_credentials().await.unwrap_err();
        assert!(
            matches!(err, CredentialsError::InvalidConfiguration(_)),
            "{code}: {err:?}"
        );
        assert_eq!(fetch_error(&err).and_then(FetchError::code), Some(code));
    }
    let (_clock, _sts, provider) = support::provider_answered_by(ACCESS_DENIED);
    let err = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(err, CredentialsError::ProviderError(_)), "{err:?}");
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    assert!(
        text.contains("AssumeRole was refused (HTTP 403): AccessDenied: fake AccessDenied"),
        "{text}"
    );
}

#[tokio::test]
async fn waiting_callers_all_get_the_typed_error() {
    let (_clock, sts, provider) = support::provider_answered_by(ACCESS_DENIED);
    let gate = sts.hold();
    let callers = support::spawn_callers(&provider, 50);
    support::eventually("the refresh reached STS", || {
        provider.status().refreshes_started == 1
    })
    .await;
    support::settle().await;
    drop(gate);
    sts.release();
    for caller in callers {
        let err = caller.await.unwrap().unwrap_err();
        assert!(matches!(err, CredentialsError::ProviderError(_)));
        assert_eq!(
            fetch_error(&err).and_then(FetchError::code),
            Some("AccessDenied")
        );
    }
    assert_eq!(sts.calls(), 1);
}

#[tokio::test]
async fn a_hanging_sts_times_out_at_the_load_timeout_and_the_valid_session_is_the_fallback() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = fake_builder(&sts, &clock)
        .load_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    sts.then(Reply::Hang);
    let err = provider.provide_credentials().await.unwrap_err();
    match err {
        CredentialsError::ProviderTimedOut(t) => {
            assert_eq!(t.timeout_duration(), Duration::from_millis(200))
        }
        other => panic!("expected ProviderTimedOut, got {other:?}"),
    }
    assert_eq!(provider.fallback_on_interrupt(), None, "nothing cached yet");

    // After the backoff, a working STS gives a session; a hang in the mandatory window then
    // leaves the valid session as the answer and as the fallback.
    clock.advance(DEFAULT_BACKOFF_MAX);
    let first = provider.provide_credentials().await.unwrap();
    let expiry = provider.expiry().unwrap();
    clock.set_time(expiry - Duration::from_secs(30));
    sts.always(Reply::Hang);
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), first.access_key_id());
    assert_eq!(
        provider
            .fallback_on_interrupt()
            .map(|c| c.access_key_id().to_owned()),
        Some(first.access_key_id().to_owned())
    );
    clock.set_time(expiry);
    assert_eq!(
        provider.fallback_on_interrupt(),
        None,
        "never an expired fallback"
    );
}

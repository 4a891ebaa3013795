//! STS's `Expiration` is translated into the local clock's frame with the response's `Date`
//! header, so a host whose clock is off neither refreshes in a loop nor serves a session STS
//! already rejects.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use chainable_credentials::fetch_error;
use std::time::Duration;
use support::{FakeSts, Reply, fake_builder, t0};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_local_clock_ahead_of_sts_gets_the_full_lifetime_and_no_refresh_loop() {
    let local = ManualTimeSource::new(t0() + 2 * HOUR);
    let sts_clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(sts_clock.clone());
    let provider = fake_builder(&sts, &local).build().unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    // By STS's clock this session expires 1 h after t0, which is 1 h in the local past; in the
    // local frame it has its full hour.
    assert_eq!(
        creds.expiry(),
        Some(t0() + 2 * HOUR + HOUR - Duration::from_secs(1))
    );
    for _ in 0..100 {
        provider.provide_credentials().await.unwrap();
    }
    support::settle().await;
    assert_eq!(sts.calls(), 1, "no refresh loop");
}

#[tokio::test]
async fn a_local_clock_behind_sts_stops_using_the_session_when_sts_does() {
    let local = ManualTimeSource::new(t0());
    let sts_clock = ManualTimeSource::new(t0() + 20 * 60 * Duration::from_secs(1));
    let sts = FakeSts::new(sts_clock.clone());
    let provider = fake_builder(&sts, &local).build().unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    // STS says "expires at t0+80min"; STS's clock reads t0+20min, so 1 h remains: locally the
    // session ends at t0+60min (less the Date resolution), not at t0+80min.
    assert_eq!(creds.expiry(), Some(t0() + HOUR - Duration::from_secs(1)));
}

#[tokio::test]
async fn without_a_date_header_the_expiration_is_taken_as_is() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    sts.always(Reply::SessionExpiringIn {
        offset_secs: 3600,
        with_date: false,
    });
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(creds.expiry(), Some(t0() + HOUR));
}

#[tokio::test]
async fn without_a_date_header_a_skewed_clock_sees_an_expired_session_as_an_error() {
    let local = ManualTimeSource::new(t0() + 2 * HOUR);
    let sts = FakeSts::new(ManualTimeSource::new(t0()));
    sts.always(Reply::SessionExpiringIn {
        offset_secs: 3600,
        with_date: false,
    });
    let provider = fake_builder(&sts, &local).build().unwrap();
    let err = provider.provide_credentials().await.unwrap_err();
    let cause = fetch_error(&err).unwrap().to_string();
    assert!(
        cause.contains("already expired") && cause.contains("Date absent"),
        "{cause}"
    );
}

/// Whatever `Date` says, a session lives locally no longer than it was asked to (plus the
/// stated one-second allowance): a `Date` hours in the past would otherwise stretch it.
#[tokio::test]
async fn a_date_hours_in_the_past_cannot_stretch_the_session() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    sts.always(Reply::SessionDated {
        lifetime: HOUR,
        date_offset_secs: -5 * 3600,
    });
    let (capture, _guard) = support::capture_traces();
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(creds.expiry(), Some(t0() + HOUR + Duration::from_secs(1)));
    assert!(capture.text().contains("longer than the one requested"));
    // With a requested duration, that one is the bound.
    let provider = fake_builder(&sts, &clock)
        .duration(Duration::from_secs(900))
        .build()
        .unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(creds.expiry(), Some(t0() + Duration::from_secs(901)));
}

#[tokio::test]
async fn a_date_in_the_future_only_shortens_the_session_or_refuses_it() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    sts.then(Reply::SessionDated {
        lifetime: HOUR,
        date_offset_secs: 1800,
    });
    sts.then(Reply::SessionDated {
        lifetime: HOUR,
        date_offset_secs: 5 * 3600,
    });
    let provider = fake_builder(&sts, &clock).build().unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    assert_eq!(
        creds.expiry(),
        Some(t0() + HOUR / 2 - Duration::from_secs(1))
    );
    provider.invalidate();
    let err = provider.provide_credentials().await.unwrap_err();
    let cause = fetch_error(&err).unwrap().to_string();
    assert!(cause.contains("already expired"), "{cause}");
}

//! No secret key or session token in Debug, Display, error messages or tracing output, over a
//! whole refresh cycle that includes failures.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_types::error::display::DisplayErrorContext;
use std::time::Duration;
use support::fake_sts::{fake_secret, fake_token};
use support::{FakeSts, Reply, fake_builder, t0};

#[tokio::test]
async fn nothing_printed_or_traced_holds_a_secret() {
    let (captured, _guard) = support::capture_traces();

    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let builder = fake_builder(&sts, &clock).external_id("shared-external-id");
    let mut printed = vec![format!("{builder:?}")];
    let provider = builder.build().unwrap();
    let creds = provider.provide_credentials().await.unwrap();
    printed.push(format!("{provider:?}"));
    printed.push(format!("{creds:?}"));

    // A failed refresh in the advisory window, a failed one after expiry, then recovery.
    sts.always(Reply::Error {
        status: 403,
        code: "AccessDenied",
    });
    clock.set_time(provider.expiry().unwrap() - Duration::from_secs(300));
    provider.provide_credentials().await.unwrap();
    support::settle().await;
    clock.set_time(provider.expiry().unwrap() + Duration::from_secs(1));
    let err = provider.provide_credentials().await.unwrap_err();
    printed.push(format!("{err:?}"));
    printed.push(format!("{err}"));
    printed.push(format!("{}", DisplayErrorContext(&err)));
    sts.always(Reply::Session(Duration::from_secs(900)));
    clock.advance(Duration::from_secs(60));
    let fresh = provider.provide_credentials().await.unwrap();
    printed.push(format!("{fresh:?}"));
    printed.push(format!("{provider:?}"));

    let traced = captured.text();
    assert!(
        traced.contains("refresh_session"),
        "the refresh span was traced"
    );
    assert!(
        traced.contains("session refresh failed"),
        "the failure was traced"
    );
    printed.push(traced);
    let all = printed.join("\n");
    for n in 1..=sts.calls() {
        if let Some(i) = all.find(&fake_secret(n)) {
            panic!(
                "secret key {n} leaked: ...{}...",
                &all[i.saturating_sub(600)..(i + 100).min(all.len())]
            );
        }
        assert!(!all.contains(&fake_token(n)), "session token {n} leaked");
    }
    assert!(!all.contains("base-secret-value"), "base secret leaked");
    assert!(
        !printed[0].contains("shared-external-id"),
        "the builder's Debug hides the external id"
    );
}

//! Secrets in traces with the real HTTP client against the local STS and S3: a whole cycle at
//! TRACE (first load, S3 requests signed with the session, a refresh after expiry) and no line
//! of this crate's holds a secret key or a session token. The SDK's own TRACE output is checked
//! too, and what it prints is reported (see the assertion messages).

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use std::time::Duration;
use support::moto::Moto;

#[tokio::test]
async fn a_traced_refresh_cycle_against_the_real_server_prints_no_secret() {
    let moto = Moto::enforcing();
    let (captured, _guard) = support::capture_traces();

    let clock = support::manual_clock_at_real_time();
    let provider = moto
        .s3_role_via(&moto.endpoint)
        .time_source(clock.clone())
        .build()
        .unwrap();
    let s3 = moto.s3(provider.clone());
    s3.list_buckets().send().await.unwrap();
    let first = provider.provide_credentials().await.unwrap();
    clock.advance(Duration::from_secs(2 * 3600));
    let second = provider.provide_credentials().await.unwrap();
    assert_ne!(first.access_key_id(), second.access_key_id());

    let traced = captured.text();
    let ours: String = traced
        .lines()
        .filter(|l| l.contains("chainable_credentials") || l.contains("refresh_session"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        ours.contains("obtained a new session"),
        "our refresh was traced"
    );
    let secrets = [
        first.secret_access_key(),
        first.session_token().unwrap(),
        second.secret_access_key(),
        second.session_token().unwrap(),
        moto.base_secret_access_key.as_str(),
    ];
    for secret in secrets {
        assert!(
            !ours.contains(secret),
            "a secret in this crate's trace output"
        );
    }
    // The SDK's own lines (signing, HTTP) at TRACE: checked as well.
    for secret in secrets {
        if let Some(line) = traced.lines().find(|l| l.contains(secret)) {
            let at = line.find(secret).unwrap();
            panic!(
                "the SDK's TRACE output holds a secret: {}",
                &line[..at.min(200)]
            );
        }
    }
}

//! AssumeRoleWithWebIdentity as a hop of this crate against the real local STS (moto does not
//! validate the token; the non-enforcing server, since the call is unsigned): the token read
//! from its file at every refresh (a rotated token reaches STS at the next refresh), no base
//! credentials, a chain onto a second role, a still-valid session kept when the file goes
//! missing, and the token in no trace, error or status.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use chainable_credentials::{ChainableTemporaryCredentials, FetchError, fetch_error};
use std::time::Duration;
use support::fault_proxy::FaultProxy;
use support::moto::Moto;

const TOKEN_ONE: &str = "eyJhbGciOiJSUzI1NiJ9.token-one.signature";
const TOKEN_TWO: &str = "eyJhbGciOiJSUzI1NiJ9.token-two.signature";

fn web_identity_bodies(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .sts_bodies()
        .into_iter()
        .filter(|body| body.contains("Action=AssumeRoleWithWebIdentity"))
        .collect()
}

#[tokio::test]
async fn the_token_file_is_read_at_every_refresh_and_never_shown() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN_ONE}\n")).unwrap();
    let (captured, _guard) = support::capture_traces();
    let clock = support::manual_clock_at_real_time();
    let provider = ChainableTemporaryCredentials::builder()
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .role_session_name("eks-pod")
        .web_identity_token_file(&token_file)
        .time_source(clock.clone())
        .configure(&support::no_sdk_retries())
        .build()
        .unwrap();
    let first = provider.provide_credentials().await.unwrap();
    assert!(
        moto.bucket_names(provider.clone())
            .await
            .contains(&moto.bucket)
    );
    let bodies = web_identity_bodies(&proxy);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains(&format!("WebIdentityToken={TOKEN_ONE}")));
    assert!(bodies[0].contains("RoleSessionName=eks-pod"));

    // The issuer rotates the token; the next refresh sends the new one.
    std::fs::write(&token_file, TOKEN_TWO).unwrap();
    provider.provide_credentials().await.unwrap();
    assert_eq!(
        web_identity_bodies(&proxy).len(),
        1,
        "a cache hit reads no token"
    );
    clock.advance(Duration::from_secs(3600));
    let second = provider.provide_credentials().await.unwrap();
    assert_ne!(first.access_key_id(), second.access_key_id());
    let bodies = web_identity_bodies(&proxy);
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies[1].contains(TOKEN_TWO),
        "the rotated token reached STS"
    );

    // The file goes missing while a session is valid: it is served; the error names the
    // file, not the token.
    std::fs::remove_file(&token_file).unwrap();
    let expiry = provider.expiry().unwrap();
    clock.set_time(expiry - Duration::from_secs(30));
    let served = provider.provide_credentials().await.unwrap();
    assert_eq!(served.access_key_id(), second.access_key_id());
    let status = provider.status();
    let last_error = status.last_error.expect("the refresh failed");
    assert!(
        last_error.contains("cannot read the token file"),
        "{last_error}"
    );
    assert!(last_error.contains(&token_file.display().to_string()));
    clock.set_time(expiry);
    let error = provider.provide_credentials().await.unwrap_err();
    assert!(matches!(
        fetch_error(&error),
        Some(FetchError::WebIdentityToken { .. })
    ));

    let traced = captured.text();
    for token in [TOKEN_ONE, TOKEN_TWO] {
        assert!(!traced.contains(token), "the token in a trace");
        assert!(!format!("{provider:?}").contains(token));
        assert!(!error.to_string().contains(token));
    }
}

#[tokio::test]
async fn a_web_identity_hop_chains_onto_a_second_role_and_takes_a_callers_token_source() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first = ChainableTemporaryCredentials::builder()
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .web_identity_token({
            let asked = asked.clone();
            move || {
                asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Ok::<_, std::io::Error>(TOKEN_ONE.to_owned()) }
            }
        })
        .build()
        .unwrap();
    let second = first
        .chain()
        .role_arn(&moto.chain_hop_arns[0])
        .build()
        .unwrap();
    for _ in 0..3 {
        assert!(
            moto.bucket_names(second.clone())
                .await
                .contains(&moto.bucket)
        );
    }
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 2, "one call per hop: {bodies:?}");
    assert!(bodies[0].contains("Action=AssumeRoleWithWebIdentity"));
    assert!(bodies[1].contains("Action=AssumeRole&"));
}

#[cfg(feature = "profile")]
#[tokio::test]
async fn a_web_identity_profile_chain_reaches_s3_and_its_expired_last_hop_costs_one_call() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN_ONE).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile eks]\nrole_arn = {}\nweb_identity_token_file = {}\nrole_session_name = eks-pod\n\
             [profile cross]\nrole_arn = {}\nsource_profile = eks\nrole_session_name = cross\n\
             duration_seconds = 900\nsource_identity = alice\nsession_tags = Project=alpha\n",
            moto.role_arn,
            token_file.display(),
            moto.chain_hop_arns[0],
        ),
    )
    .unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "").unwrap();
    let clock = support::manual_clock_at_real_time();
    let provider = ChainableTemporaryCredentials::builder()
        .env(aws_types::os_shim_internal::Env::from_slice(&[]))
        .profile("cross")
        .profile_config_file(&config)
        .profile_credentials_file(&credentials)
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .time_source(clock.clone())
        .configure(&support::no_sdk_retries())
        .build_from_profile()
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(
            moto.bucket_names(provider.clone())
                .await
                .contains(&moto.bucket)
        );
    }
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 2, "one call per hop: {bodies:?}");
    assert!(bodies[0].contains("Action=AssumeRoleWithWebIdentity&"));
    assert!(bodies[0].contains(&format!("WebIdentityToken={TOKEN_ONE}")));
    assert!(bodies[1].contains("Action=AssumeRole&"));
    assert!(bodies[1].contains("SourceIdentity=alice"));
    assert!(bodies[1].contains("Tags.member.1.Key=Project"));
    assert!(bodies[1].contains("DurationSeconds=900"));
    let caller = moto.caller_arn(provider.clone()).await;
    assert!(
        caller.ends_with("/cross"),
        "signs as the last hop: {caller}"
    );

    // The last hop's 15 minutes are over, the web identity hop's hour is not: one call.
    clock.advance(Duration::from_secs(15 * 60));
    assert!(
        moto.bucket_names(provider.clone())
            .await
            .contains(&moto.bucket)
    );
    let bodies = proxy.sts_bodies();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(bodies[2].contains("Action=AssumeRole&"));
}

#[tokio::test]
async fn an_oauth_access_token_goes_with_its_provider_id() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let provider = ChainableTemporaryCredentials::builder()
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .web_identity_token(|| async {
            Ok::<_, std::io::Error>("Atza|oauth-access-token".to_owned())
        })
        .web_identity_provider_id("www.amazon.com")
        .build()
        .unwrap();
    assert!(
        moto.bucket_names(provider.clone())
            .await
            .contains(&moto.bucket)
    );
    let bodies = web_identity_bodies(&proxy);
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].contains("ProviderId=www.amazon.com"),
        "{}",
        bodies[0]
    );
}

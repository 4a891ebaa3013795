//! Role chains against the real local STS (enforcement on): each hop's identity is its role's
//! session, and each hop caches its own session, so a three-hop chain whose last hop alone
//! expired costs one STS call.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use std::time::Duration;
use support::counting::CountingClient;
use support::moto::Moto;

#[tokio::test]
async fn a_two_hop_chain_signs_as_the_second_roles_session() {
    let moto = Moto::enforcing();
    let hop1 = moto
        .role_builder(
            moto.base_credentials(),
            &moto.chain_hop_arns[0],
            &moto.endpoint,
        )
        .role_session_name("hop-1")
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .build()
        .unwrap();
    let hop2 = hop1
        .chain()
        .role_arn(&moto.chain_hop_arns[1])
        .role_session_name("hop-2")
        .build()
        .unwrap();
    assert_eq!(
        moto.caller_arn(hop1.clone()).await,
        "arn:aws:sts::123456789012:assumed-role/chain-hop-1/hop-1"
    );
    assert_eq!(
        moto.caller_arn(hop2.clone()).await,
        "arn:aws:sts::123456789012:assumed-role/chain-hop-2/hop-2"
    );
    assert_eq!(
        hop1.status().refreshes_started,
        1,
        "hop 2 used hop 1's cached session"
    );
    assert_eq!(hop2.status().refreshes_started, 1);
    // The chained hop inherited region and endpoint.
    let debug = format!("{hop2:?}");
    assert!(
        debug.contains(&moto.endpoint) && debug.contains(&moto.region),
        "{debug}"
    );
}

#[tokio::test]
async fn a_three_hop_chain_whose_last_hop_expired_makes_one_sts_call() {
    let moto = Moto::enforcing();
    let clock = support::manual_clock_at_real_time();
    let sts_http = CountingClient::new();
    let hop1 = moto
        .role_builder(
            moto.base_credentials(),
            &moto.chain_hop_arns[0],
            &moto.endpoint,
        )
        .role_session_name("hop-1")
        .duration(Duration::from_secs(12 * 3600))
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .http_client(sts_http.clone())
        .time_source(clock.clone())
        .build()
        .unwrap();
    let hop2 = hop1
        .chain()
        .role_arn(&moto.chain_hop_arns[1])
        .role_session_name("hop-2")
        .build()
        .unwrap();
    let hop3 = hop2
        .chain()
        .role_arn(&moto.chain_hop_arns[2])
        .role_session_name("hop-3")
        .duration(Duration::from_secs(900))
        .build()
        .unwrap();
    let s3 = moto.s3_uncached(hop3.clone());
    s3.list_buckets()
        .send()
        .await
        .expect("the third hop may use S3");
    assert_eq!(sts_http.calls(), 3, "one AssumeRole per hop");
    let first_key = hop3
        .provide_credentials()
        .await
        .unwrap()
        .access_key_id()
        .to_owned();

    // 20 minutes on: hop 3 (15 min) has expired, hop 2 (1 h) and hop 1 (12 h) have not and
    // are before their refresh points.
    clock.advance(Duration::from_secs(20 * 60));
    s3.list_buckets()
        .send()
        .await
        .expect("S3 accepts the refreshed third hop");
    assert_eq!(sts_http.calls(), 4, "only the last hop called STS");
    assert_eq!(
        (
            hop1.status().refreshes_started,
            hop2.status().refreshes_started,
            hop3.status().refreshes_started
        ),
        (1, 1, 2)
    );
    let second_key = hop3
        .provide_credentials()
        .await
        .unwrap()
        .access_key_id()
        .to_owned();
    assert_ne!(first_key, second_key);
    let last = sts_http.bodies().pop().unwrap();
    assert!(
        last.contains("chain-hop-3") && last.contains("DurationSeconds=900"),
        "{last}"
    );
    eprintln!(
        "3-hop chain, last hop expired: {} STS call(s) for the refresh",
        4 - 3
    );
}

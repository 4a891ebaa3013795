//! OpenDAL's S3 operator on a provider, as `s3_clients::opendal_on` wires it. Its list is
//! refused by moto's signature check under enforcement whatever the credentials (a moto quirk
//! with the unencoded `/` in the query, tried with static keys), so listing is shown against
//! the non-enforcing server.

use crate::support;

use chainable_credentials::ChainableTemporaryCredentials;
use chainable_credentials::scoped::{PolicyTemplate, Scope};
use s3_clients::opendal_on;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

fn role(moto: &Moto, proxy: &FaultProxy) -> ChainableTemporaryCredentials {
    moto.s3_role_via(&proxy.endpoint)
        .role_session_name("opendal")
        .build()
        .unwrap()
}

#[tokio::test]
async fn write_read_and_stat_on_a_role_make_one_sts_call() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let operator = opendal_on(&config, &moto.bucket, role(&moto, &proxy)).unwrap();
    let path = format!("opendal/{}/hello.txt", std::process::id());
    for round in 0..5 {
        let text = format!("round {round}");
        operator.write(&path, text.clone()).await.unwrap();
        assert_eq!(
            operator.read(&path).await.unwrap().to_vec(),
            text.as_bytes()
        );
        assert_eq!(
            operator.stat(&path).await.unwrap().content_length(),
            text.len() as u64
        );
    }
    assert_eq!(proxy.sts_requests(), 1, "one AssumeRole for 15 requests");
}

#[tokio::test]
async fn list_works_on_the_open_server() {
    let moto = Moto::open();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let operator = opendal_on(&config, &moto.bucket, role(&moto, &proxy)).unwrap();
    let dir = format!("opendal-list/{}/", std::process::id());
    for n in 0..3 {
        operator.write(&format!("{dir}{n}.txt"), "x").await.unwrap();
    }
    let listed: Vec<String> = operator
        .list(&dir)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.path().to_owned())
        .collect();
    for n in 0..3 {
        assert!(listed.contains(&format!("{dir}{n}.txt")), "{listed:?}");
    }
    assert_eq!(proxy.sts_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_operators_on_one_provider_and_200_requests_at_once_make_one_sts_call() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let provider = role(&moto, &proxy);
    let operators: Vec<_> = (0..10)
        .map(|_| opendal_on(&config, &moto.bucket, provider.clone()).unwrap())
        .collect();
    let requests = operators
        .iter()
        .flat_map(|operator| (0..20).map(move |_| operator.stat("demo/hello.txt")));
    for answer in futures_util::future::join_all(requests).await {
        assert_eq!(answer.unwrap().content_length(), 24);
    }
    assert_eq!(proxy.sts_requests(), 1);
}

#[tokio::test]
async fn each_tenants_operator_signs_with_its_own_scoped_session() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let sessions = moto
        .s3_role_via(&proxy.endpoint)
        .scoped_sessions()
        .build()
        .unwrap();
    let template = PolicyTemplate::new(crate::TENANT_POLICY).unwrap();
    let tenants = ["acme", "globex"];
    for tenant in tenants {
        let scope = Scope::new()
            .label(tenant)
            .role_session_name(format!("dal-{tenant}"))
            .policy(template.fill(&[("tenant", tenant)]).unwrap());
        let operator =
            opendal_on(&config, &moto.bucket, sessions.provider(&scope).unwrap()).unwrap();
        for n in 0..3 {
            operator
                .write(&format!("tenants/{tenant}/{n}.txt"), "x")
                .await
                .unwrap();
        }
    }
    assert_eq!(proxy.sts_requests(), tenants.len());
    let issued = moto.assumed_sessions().await;
    for tenant in tenants {
        let session = issued
            .iter()
            .find(|s| s.session_name == format!("dal-{tenant}"))
            .unwrap();
        let policy = session.policy.as_deref().unwrap_or_default();
        assert!(policy.contains(&format!("tenants/{tenant}/")), "{policy}");
    }
}

/// STS refuses. OpenDAL's provider chain (reqsign's) logs a provider's error and goes on to the
/// next, so the operator's error says only that no credential could be loaded; the reason is
/// in the provider's status and its log line ("session refresh failed").
#[tokio::test]
async fn a_failing_provider_fails_the_request_and_its_status_says_why() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.always(Fault::Status(403, "AccessDenied"));
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let provider = role(&moto, &proxy);
    let operator = opendal_on(&config, &moto.bucket, provider.clone()).unwrap();
    let error = operator.stat("demo/hello.txt").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("failed to load signing credential"),
        "{error}"
    );
    let reason = provider.status().last_error.expect("the refresh's error");
    assert!(reason.contains("AccessDenied"), "{reason}");
}

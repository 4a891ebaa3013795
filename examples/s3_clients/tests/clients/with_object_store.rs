//! object_store's `AmazonS3` on a provider, as `s3_clients::object_store_on` wires it.

use crate::support;

use bytes::Bytes;
use chainable_credentials::ChainableTemporaryCredentials;
use chainable_credentials::scoped::{PolicyTemplate, Scope};
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3_clients::object_store_on;
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

fn role(moto: &Moto, proxy: &FaultProxy) -> ChainableTemporaryCredentials {
    moto.s3_role_via(&proxy.endpoint)
        .role_session_name("object-store")
        .build()
        .unwrap()
}

/// On servers of its own: moto's `data.json`, which other tests read, fails once it holds an
/// object made by a multipart upload.
#[tokio::test]
async fn put_get_list_multipart_and_copy_on_a_role_make_one_sts_call() {
    let servers = support::moto::PrivateMoto::start();
    let moto = servers.moto.clone();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let store = object_store_on(&config, &moto.bucket, role(&moto, &proxy)).unwrap();
    let dir = format!("object-store/{}", std::process::id());
    let small = Path::from(format!("{dir}/small.txt"));
    store
        .put(&small, PutPayload::from_static(b"hello"))
        .await
        .unwrap();
    let got = store.get(&small).await.unwrap().bytes().await.unwrap();
    assert_eq!(got, Bytes::from_static(b"hello"));

    // A multipart upload: a 5 MiB part (S3's least but for the last) and a small one.
    let big = Path::from(format!("{dir}/big.bin"));
    let mut upload = store.put_multipart(&big).await.unwrap();
    upload
        .put_part(vec![7u8; 5 * 1024 * 1024].into())
        .await
        .unwrap();
    upload.put_part(vec![8u8; 1000].into()).await.unwrap();
    upload.complete().await.unwrap();
    assert_eq!(store.head(&big).await.unwrap().size, 5 * 1024 * 1024 + 1000);

    let copy = Path::from(format!("{dir}/copy.txt"));
    store.copy(&small, &copy).await.unwrap();
    let prefix = Path::from(dir.as_str());
    let listed: Vec<String> = store
        .list(Some(&prefix))
        .map(|meta| meta.unwrap().location.to_string())
        .collect()
        .await;
    for path in [&small, &big, &copy] {
        assert!(listed.contains(&path.to_string()), "{listed:?}");
    }
    assert_eq!(proxy.sts_requests(), 1, "one AssumeRole for every request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_stores_on_one_provider_and_200_requests_at_once_make_one_sts_call() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let provider = role(&moto, &proxy);
    let stores: Vec<_> = (0..10)
        .map(|_| object_store_on(&config, &moto.bucket, provider.clone()).unwrap())
        .collect();
    let hello = Path::from("demo/hello.txt");
    let requests = stores.iter().flat_map(|store| {
        let hello = &hello;
        (0..20).map(move |_| async move { store.head(hello).await })
    });
    for answer in futures_util::future::join_all(requests).await {
        assert_eq!(answer.unwrap().size, 24);
    }
    assert_eq!(proxy.sts_requests(), 1);
}

/// The same store with the base user's own keys is refused: the role is what S3 lets in.
#[tokio::test]
async fn the_base_user_alone_is_refused_by_s3_through_the_same_store() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let base = object_store::StaticCredentialProvider::new(object_store::aws::AwsCredential {
        key_id: moto.base_access_key_id.clone(),
        secret_key: moto.base_secret_access_key.clone(),
        token: None,
    });
    let hello = Path::from("demo/hello.txt");
    let refused = object_store_on(&config, &moto.bucket, base)
        .unwrap()
        .head(&hello)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");
    let allowed = object_store_on(&config, &moto.bucket, role(&moto, &proxy))
        .unwrap()
        .head(&hello)
        .await;
    assert!(allowed.is_ok(), "{allowed:?}");
}

/// One store per tenant, each on its scoped session: one STS call per tenant, each session
/// with its tenant's policy (moto's record of the sessions it issued; moto does not evaluate
/// session policies).
#[tokio::test]
async fn each_tenants_store_signs_with_its_own_scoped_session() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let sessions = moto
        .s3_role_via(&proxy.endpoint)
        .scoped_sessions()
        .build()
        .unwrap();
    let template = PolicyTemplate::new(crate::TENANT_POLICY).unwrap();
    let tenants = ["acme", "globex", "initech"];
    for tenant in tenants {
        let scope = Scope::new()
            .label(tenant)
            .role_session_name(format!("os-{tenant}"))
            .policy(template.fill(&[("tenant", tenant)]).unwrap());
        let store =
            object_store_on(&config, &moto.bucket, sessions.provider(&scope).unwrap()).unwrap();
        for n in 0..3 {
            let path = Path::from(format!("tenants/{tenant}/{n}.txt"));
            store
                .put(&path, PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
    }
    assert_eq!(proxy.sts_requests(), tenants.len(), "one call per tenant");
    let issued = moto.assumed_sessions().await;
    for tenant in tenants {
        let session = issued
            .iter()
            .find(|s| s.session_name == format!("os-{tenant}"))
            .unwrap();
        let policy = session.policy.as_deref().unwrap_or_default();
        assert!(policy.contains(&format!("tenants/{tenant}/")), "{policy}");
        for other in tenants.iter().filter(|t| **t != tenant) {
            assert!(!policy.contains(&format!("tenants/{other}/")), "{policy}");
        }
    }
}

/// STS refuses: the store's error says why, and its source is the provider's error, which
/// `chainable_credentials::fetch_error` reads.
#[tokio::test]
async fn a_failing_provider_is_an_error_a_user_can_read_and_downcast() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.always(Fault::Status(403, "AccessDenied"));
    let config = crate::sdk_config(&moto, &proxy.endpoint);
    let store = object_store_on(&config, &moto.bucket, role(&moto, &proxy)).unwrap();
    let error = store.head(&Path::from("demo/hello.txt")).await.unwrap_err();
    let line = chainable_credentials::error_line(&error);
    assert!(line.contains("AccessDenied"), "{line}");
    let credentials_error =
        std::iter::successors(Some(&error as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
        .find_map(|e| e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>())
        .expect("the CredentialsError in the source chain");
    let fetch = chainable_credentials::fetch_error(credentials_error).expect("a FetchError");
    assert!(fetch.to_string().contains("AccessDenied"), "{fetch}");
    assert!(!line.contains(&moto.base_secret_access_key));
}

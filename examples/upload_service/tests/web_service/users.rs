//! The service with users (`--users`), against the enforcing local server: bearer tokens on
//! every endpoint but `/` and `/healthz` (each kind of wrong token refused alike), each user's
//! keys under its own prefix (and no way out of it), each user's S3 calls on its own scoped
//! session — one `AssumeRole` per user however many requests, carrying that user's session
//! policy and no other's (moto's record of the sessions it issued) — and `GET /credentials`
//! handing that session out, usable by an S3 client of its own.
//!
//! moto evaluates the role's own policy but not session policies: that a user's session
//! cannot reach another's prefix in S3 is shown by the policy it carries, not by a refusal.

use crate::{service, support};

use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::Full;
use service::{Answer, Http, Part, random_bytes, unique_prefix};
use support::moto::Moto;

pub const ALICE: &str = "alice-0123456789abcdef0123456789abcdef";
pub const BOB: &str = "bob-0123456789abcdef0123456789abcdef00";

/// Two users, with comments and a blank line as a real file has them.
pub const USERS: &str = "# token user\n\
    alice-0123456789abcdef0123456789abcdef alice\n\
    \n\
    bob-0123456789abcdef0123456789abcdef00 bob   # the second user\n";

/// `method url` with `Authorization: Bearer token` when a token is given.
pub async fn call(http: &Http, method: &str, url: &str, authorization: Option<&str>) -> Answer {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    http.send(request.body(Full::new(Bytes::new())).unwrap())
        .await
}

/// `POST /item` as the user of `token`.
async fn upload(http: &Http, url: &str, token: &str, key: &str, data: &[u8]) -> Answer {
    let (content_type, body) = service::multipart(&[
        Part::text("key", key),
        Part::file("file", "upload.bin", data),
    ]);
    http.send(
        http::Request::post(format!("{url}/item"))
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(body))
            .unwrap(),
    )
    .await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The keys of a `GET /items` answer.
fn listed(answer: &Answer) -> Vec<String> {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_endpoint_but_the_page_and_health_needs_a_users_bearer_token() {
    let moto = Moto::enforcing();
    let service =
        service::start_with_users(&moto, service::settings(&moto), USERS, "users/{user}/").await;
    let http = Http::new();
    let url = &service.url;

    assert_eq!(
        call(&http, "GET", &format!("{url}/"), None).await.status,
        200
    );
    let health = call(&http, "GET", &format!("{url}/healthz"), None).await;
    assert_eq!(health.status, 200, "{:?}", health.body);
    assert_eq!(
        health.json()["users"],
        true,
        "the page learns it must ask for a token"
    );
    // (/healthz fetched the service's own session: the one STS call so far.)
    let sts_before = service.proxy.sts_requests();

    let wrong = [
        None,
        Some("".to_owned()),
        Some(ALICE.to_owned()),
        Some(format!("Basic {ALICE}")),
        Some(format!("Bearer {ALICE}x")),
        Some(format!("Bearer {}", &ALICE[..ALICE.len() - 1])),
        Some(format!("Bearer {}", ALICE.to_uppercase())),
        Some(format!("Bearer {}", "x".repeat(4000))),
        Some("Bearer ".to_owned()),
    ];
    for path in [
        "/items",
        "/item?key=a.txt",
        "/credentials",
        "/no-such-endpoint",
    ] {
        for authorization in &wrong {
            let answer = call(
                &http,
                "GET",
                &format!("{url}{path}"),
                authorization.as_deref(),
            )
            .await;
            let shown = authorization.as_deref().map(|a| &a[..a.len().min(40)]);
            assert_eq!(answer.status, 401, "{path} with {shown:?}");
            assert_eq!(
                answer.header("www-authenticate"),
                Some("Bearer realm=\"upload-service\"")
            );
            assert_eq!(
                answer.error(),
                "a valid bearer token is required (Authorization: Bearer TOKEN)",
                "the same words whatever was wrong"
            );
        }
    }
    let (content_type, body) = service::multipart(&[
        Part::text("key", "a.txt"),
        Part::file("file", "a.txt", b"refused"),
    ]);
    let refused = http
        .send(
            http::Request::post(format!("{url}/item"))
                .header("content-type", content_type)
                .header("authorization", format!("Bearer {BOB}-not"))
                .body(Full::new(body))
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        service.proxy.sts_requests(),
        sts_before,
        "a refused request calls no STS (and no S3)"
    );
}

#[tokio::test]
async fn each_user_works_under_its_own_prefix_on_its_own_scoped_session() {
    let moto = Moto::enforcing();
    let prefix = unique_prefix("users");
    let template = format!("{prefix}{{user}}/");
    let service =
        service::start_with_users(&moto, service::settings(&moto), USERS, &template).await;
    let http = Http::new();
    let url = &service.url;
    let alice_prefix = format!("{prefix}alice/");

    let data = random_bytes(5_000);
    let stored = upload(&http, url, ALICE, "notes/a.txt", &data).await;
    assert_eq!(stored.status, 201, "{}", stored.error());
    assert_eq!(
        stored.json()["key"],
        format!("{alice_prefix}notes/a.txt"),
        "the full key"
    );
    assert_eq!(stored.json()["user_prefix"], alice_prefix.as_str());
    assert_eq!(
        stored.header("location"),
        Some(format!("/item?bucket={}&key=notes/a.txt", moto.bucket).as_str()),
        "where GET /item finds it: the key as the user names it"
    );
    let stored = upload(&http, url, BOB, "a.txt", b"bob's").await;
    assert_eq!(stored.status, 201, "{}", stored.error());
    assert_eq!(stored.json()["key"], format!("{prefix}bob/a.txt"));

    // Many more requests by both: still one session each.
    for _ in 0..20 {
        for token in [ALICE, BOB] {
            let answer = call(&http, "GET", &format!("{url}/items"), Some(&bearer(token))).await;
            assert_eq!(answer.status, 200);
        }
    }
    let alice_sees =
        listed(&call(&http, "GET", &format!("{url}/items"), Some(&bearer(ALICE))).await);
    assert_eq!(alice_sees, [format!("{alice_prefix}notes/a.txt")]);
    let bob_sees = listed(
        &call(
            &http,
            "GET",
            &format!("{url}/items?prefix=a"),
            Some(&bearer(BOB)),
        )
        .await,
    );
    assert_eq!(bob_sees, [format!("{prefix}bob/a.txt")]);

    // Alice's key, asked for by Bob, is looked for under Bob's prefix: not there.
    let asked = call(
        &http,
        "GET",
        &format!("{url}/item?key=notes/a.txt"),
        Some(&bearer(BOB)),
    )
    .await;
    assert_eq!(asked.status, 404, "{}", asked.error());
    let link = call(
        &http,
        "GET",
        &format!("{url}/item?key=notes/a.txt"),
        Some(&bearer(ALICE)),
    )
    .await;
    assert_eq!(link.status, 200, "{}", link.error());
    assert_eq!(link.json()["key"], format!("{alice_prefix}notes/a.txt"));
    assert_eq!(link.json()["size"], data.len());

    // No way out of the prefix.
    for (path, rule) in [
        ("/item?key=../bob/a.txt", "`..` segment"),
        ("/item?key=/etc/passwd", "must not start or end with `/`"),
        ("/items?prefix=../", "`..` segment"),
        ("/items?prefix=/", "must not start with `/`"),
    ] {
        let answer = call(&http, "GET", &format!("{url}{path}"), Some(&bearer(ALICE))).await;
        assert_eq!(answer.status, 400, "{path}");
        assert!(answer.error().contains(rule), "{path}: {}", answer.error());
    }
    let escaped = upload(&http, url, ALICE, "../bob/a.txt", b"escape").await;
    assert_eq!(escaped.status, 400, "{}", escaped.error());
    let long = upload(&http, url, ALICE, &"k".repeat(1020), b"long").await;
    assert_eq!(long.status, 400);
    assert!(
        long.error().contains("under your prefix"),
        "{}",
        long.error()
    );

    // One AssumeRole per user, besides none for the service's own provider (not asked).
    let bodies = service.proxy.sts_bodies();
    let calls_named = |name: &str| {
        bodies
            .iter()
            .filter(|b| {
                b.contains(&format!("RoleSessionName={name}&"))
                    || b.ends_with(&format!("RoleSessionName={name}"))
            })
            .count()
    };
    assert_eq!(calls_named("upload-service-test-alice"), 1, "{bodies:?}");
    assert_eq!(calls_named("upload-service-test-bob"), 1, "{bodies:?}");
    assert_eq!(bodies.len(), 2, "{bodies:?}");

    // Each session carries its user's policy, and no other's.
    let sessions = moto.assumed_sessions().await;
    for (user, other) in [("alice", "bob"), ("bob", "alice")] {
        let policies: Vec<String> = sessions
            .iter()
            .filter(|s| s.session_name == format!("upload-service-test-{user}"))
            .filter_map(|s| s.policy.clone())
            .filter(|p| p.contains(&prefix))
            .collect();
        assert_eq!(policies.len(), 1, "{user}: {policies:?}");
        let policy: serde_json::Value = serde_json::from_str(&policies[0]).unwrap();
        let own = format!("arn:aws:s3:::{}/{prefix}{user}/*", moto.bucket);
        assert_eq!(policy["Statement"][0]["Resource"], serde_json::json!([own]));
        assert_eq!(
            policy["Statement"][1]["Condition"]["StringLike"]["s3:prefix"],
            format!("{prefix}{user}/*")
        );
        assert!(
            !policies[0].contains(&format!("{prefix}{other}/")),
            "{user}: {}",
            policies[0]
        );
    }
}

#[tokio::test]
async fn credentials_hands_out_the_users_scoped_session() {
    let moto = Moto::enforcing();
    let prefix = unique_prefix("handed");
    let template = format!("{prefix}{{user}}/");
    let service =
        service::start_with_users(&moto, service::settings(&moto), USERS, &template).await;
    let http = Http::new();
    let url = &service.url;

    let answer = call(
        &http,
        "GET",
        &format!("{url}/credentials"),
        Some(&bearer(ALICE)),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let json = answer.json();
    let text = |name: &str| {
        json[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in the answer"))
            .to_owned()
    };
    assert_eq!(text("Bucket"), moto.bucket);
    assert_eq!(text("Prefix"), format!("{prefix}alice/"));
    assert_eq!(text("Region"), moto.region);
    assert_eq!(text("Endpoint"), moto.endpoint);
    let expiration = aws_smithy_types::DateTime::from_str(
        &text("Expiration"),
        aws_smithy_types::date_time::Format::DateTime,
    )
    .expect("an RFC 3339 expiry");
    assert!(
        expiration.secs()
            > aws_smithy_types::DateTime::from(std::time::SystemTime::UNIX_EPOCH).secs()
    );

    // It is the user's scoped session: moto issued that key with Alice's policy.
    let issued = moto.assumed_sessions().await;
    let session = issued
        .iter()
        .find(|s| s.access_key_id == text("AccessKeyId"))
        .expect("moto issued the key handed out");
    assert_eq!(session.session_name, "upload-service-test-alice");
    assert!(
        session
            .policy
            .as_deref()
            .is_some_and(|p| p.contains(&format!("{prefix}alice/*"))),
        "{session:?}"
    );

    // A client of its own (the browser's part) stores under the prefix with it; the service
    // lists that object to Alice.
    let handed = Credentials::new(
        text("AccessKeyId"),
        text("SecretAccessKey"),
        Some(text("SessionToken")),
        None,
        "handed-out",
    );
    let s3 = moto.s3(handed);
    s3.put_object()
        .bucket(text("Bucket"))
        .key(format!("{}direct.txt", text("Prefix")))
        .body(b"straight to S3".to_vec().into())
        .send()
        .await
        .expect("the handed-out session signs a PutObject the enforcing server accepts");
    let listing = call(&http, "GET", &format!("{url}/items"), Some(&bearer(ALICE))).await;
    assert_eq!(listed(&listing), [format!("{prefix}alice/direct.txt")]);
    // Asked again: the same session (no STS call).
    let again = call(
        &http,
        "GET",
        &format!("{url}/credentials"),
        Some(&bearer(ALICE)),
    )
    .await;
    assert_eq!(again.json()["AccessKeyId"], json["AccessKeyId"]);
    assert_eq!(service.proxy.sts_requests(), 1);
}

#[tokio::test]
async fn without_users_there_is_no_credentials_endpoint_and_no_token_is_asked() {
    let moto = Moto::enforcing();
    let service = service::start(&moto, service::settings(&moto)).await;
    let http = Http::new();
    let answer = call(&http, "GET", &format!("{}/credentials", service.url), None).await;
    assert_eq!(
        answer.status, 404,
        "the service's own session is never handed out"
    );
    let items = call(&http, "GET", &format!("{}/items", service.url), None).await;
    assert_eq!(items.status, 200);
    assert_eq!(items.json()["user_prefix"], serde_json::Value::Null);
    let health = call(&http, "GET", &format!("{}/healthz", service.url), None).await;
    assert_eq!(health.json()["users"], false);
}

//! The upload service example (`examples/upload_service`) over HTTP, against the local
//! STS/IAM/S3 (moto): every endpoint, every refusal, one `AssumeRole` for 1,000 requests (and
//! the tutorial's per-request pattern for comparison), and the built binary as a process:
//! start-up errors, and a SIGTERM that lets an in-flight upload finish.
//!
//! The enforcing server is used wherever moto allows it (S3 then refuses the base user, so a
//! stored object proves the assumed role signed); the download through a presigned URL runs on
//! the non-enforcing one (moto 5.2.5 crashes on presigned requests while enforcing).

use crate::{service, support};

use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use service::{Http, Part, Running, app, binary_command, random_bytes, unique_prefix};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn query_value<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn upload_list_presign_and_download_round_trip() {
    // Non-enforcing server: the test downloads through the presigned URL.
    let moto = Moto::open();
    let service = service::start(&moto, service::settings(&moto)).await;
    let http = Http::new();
    let prefix = unique_prefix("round-trip");
    let key = format!("{prefix}report(1).bin");
    let data = random_bytes(200_000);

    let stored = http
        .post_multipart(
            &format!("{}/item", service.url),
            &[
                Part::text("bucket", &moto.bucket),
                Part::text("key", &key),
                Part::file("file", "report.bin", &data),
            ],
        )
        .await;
    assert_eq!(stored.status, 201, "{}", stored.error());
    let stored_json = stored.json();
    assert_eq!(stored_json["key"], key.as_str());
    assert_eq!(stored_json["bucket"], moto.bucket.as_str());
    assert_eq!(stored_json["size"], data.len());
    let etag = stored_json["etag"].as_str().expect("an etag").to_owned();
    assert_eq!(
        stored.header("location"),
        Some(format!("/item?bucket={}&key={key}", moto.bucket).as_str())
    );
    // S3 has exactly these bytes, under the same ETag.
    let s3 = moto.s3(service.provider.clone());
    let object = s3
        .get_object()
        .bucket(&moto.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.e_tag().map(|t| t.trim_matches('"')),
        Some(etag.as_str())
    );
    assert_eq!(object.content_type(), Some("application/octet-stream"));
    assert_eq!(object.body.collect().await.unwrap().into_bytes(), data);

    let listed = http
        .get(&format!("{}/items?prefix={prefix}", service.url))
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.header("cache-control"), Some("no-store"));
    let listed = listed.json();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["key"], key.as_str());
    assert_eq!(items[0]["size"], data.len());
    assert_eq!(items[0]["etag"], etag.as_str());
    assert!(listed["next_token"].is_null());

    let link = http.get(&format!("{}/item?key={key}", service.url)).await;
    assert_eq!(link.status, 200, "{}", String::from_utf8_lossy(&link.body));
    assert_eq!(
        link.header("cache-control"),
        Some("no-store"),
        "URLs are not cached"
    );
    let link = link.json();
    let url = link["url"].as_str().unwrap();
    assert_eq!(
        link["expires_in"], 2400,
        "the configured lifetime, under the session's"
    );
    assert_eq!(link["size"], data.len());
    assert_eq!(query_value(url, "X-Amz-Expires"), Some("2400"));
    let session = service.provider.credentials().await.unwrap();
    assert!(
        url.contains(session.access_key_id()),
        "signed with the service's assumed-role session"
    );
    assert!(query_value(url, "X-Amz-Security-Token").is_some());

    // The client's side: no AWS credentials, only the URL.
    let download = http.get(url).await;
    assert_eq!(download.status, 200);
    assert_eq!(
        download.body, data,
        "the downloaded bytes are the uploaded ones"
    );
    assert_eq!(
        download.header("content-disposition"),
        Some("attachment;filename=\"report(1).bin\"")
    );
    assert_eq!(service.proxy.sts_requests(), 1);
}

#[tokio::test]
async fn every_endpoint_works_under_enforcement_with_the_assumed_role() {
    let moto = Moto::enforcing();
    let settings = app::Settings {
        // The whole status, as an operator would ask for it (by default it is not shown).
        healthz_details: true,
        ..service::settings(&moto)
    };
    let service = service::start(&moto, settings).await;
    let http = Http::new();
    let prefix = unique_prefix("enforced");
    let key = format!("{prefix}hello.txt");

    // S3 refuses the base user: whatever the service stores, the role stored.
    let base = moto.s3(moto.base_credentials());
    let refused = base.list_objects_v2().bucket(&moto.bucket).send().await;
    assert!(refused.is_err(), "the base user may not use S3");

    let page = http.get(&format!("{}/", service.url)).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8_lossy(&page.body);
    for id in [
        "upload-form",
        "\"file\"",
        "\"key\"",
        "\"items\"",
        "/healthz",
        "/items",
    ] {
        assert!(html.contains(id), "the page has {id}");
    }
    assert!(page.header("content-security-policy").is_some());

    let stored = http
        .upload(&service.url, &key, b"hello through the service\n")
        .await;
    assert_eq!(stored["size"], 26);

    let listed = http
        .get(&format!("{}/items?prefix={prefix}", service.url))
        .await
        .json();
    assert_eq!(listed["items"][0]["key"], key.as_str(), "{listed}");

    let link = http.get(&format!("{}/item?key={key}", service.url)).await;
    assert_eq!(link.status, 200, "{}", String::from_utf8_lossy(&link.body));
    assert!(
        link.json()["url"]
            .as_str()
            .unwrap()
            .starts_with(&moto.endpoint)
    );

    let health = http.get(&format!("{}/healthz", service.url)).await;
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["has_valid_session"], true);
    assert_eq!(health["role_arn"], moto.role_arn.as_str());
    assert_eq!(health["refreshes_started"], 1);
    assert_eq!(health["failures_in_a_row"], 0);
    assert!(health["last_error"].is_null());
    let expires_in = health["session_expires_in"].as_u64().unwrap();
    assert!((3000..=3600).contains(&expires_in), "{health}");
    assert!(
        health["session_expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(health["next_refresh_at"].is_string());
    assert_eq!(service.proxy.sts_requests(), 1);
}

#[tokio::test]
async fn refused_requests_get_a_status_and_a_json_error() {
    let moto = Moto::enforcing();
    let mut settings = service::settings(&moto);
    settings.max_upload_bytes = 1024;
    let service = service::start(&moto, settings).await;
    let http = Http::new();
    let url = &service.url;
    let long_key = "k".repeat(1025);
    let longest_key = "k".repeat(1024);

    // (method, path, expected status, a phrase of the error)
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("GET", "/item".into(), 400, "missing query parameter `key`"),
        ("GET", "/item?key=".into(), 400, "key is empty"),
        ("GET", "/item?key=../etc/passwd".into(), 400, "`..` segment"),
        ("GET", "/item?key=a/./b".into(), 400, "`.` segment"),
        (
            "GET",
            "/item?key=/abs".into(),
            400,
            "must not start or end with `/`",
        ),
        (
            "GET",
            "/item?key=dir/".into(),
            400,
            "must not start or end with `/`",
        ),
        ("GET", "/item?key=a//b".into(), 400, "empty segment"),
        ("GET", "/item?key=a%20b".into(), 400, "contains ' '"),
        ("GET", "/item?key=a%3Fb".into(), 400, "contains '?'"),
        ("GET", "/item?key=%C3%A9t%C3%A9".into(), 400, "contains 'é'"),
        (
            "GET",
            "/item?key=%C3%BCn%C3%AF.txt".into(),
            400,
            "allowed are ASCII letters and digits",
        ),
        (
            "GET",
            format!("/item?key={long_key}"),
            400,
            "1025 bytes long",
        ),
        ("GET", format!("/item?key={longest_key}"), 404, "no object"),
        (
            "GET",
            "/item?key=no/such/object".into(),
            404,
            "no object `no/such/object`",
        ),
        (
            "GET",
            "/item?key=a&bucket=Bad_Bucket".into(),
            400,
            "not a valid bucket name",
        ),
        ("GET", "/items?prefix=../".into(), 400, "`..` segment"),
        (
            "GET",
            "/items?prefix=/x".into(),
            400,
            "must not start with `/`",
        ),
        ("GET", "/items?limit=0".into(), 400, "out of range"),
        ("GET", "/items?limit=1001".into(), 400, "out of range"),
        ("GET", "/items?limit=ten".into(), 400, "limit"),
        (
            "GET",
            "/items?bucket=no-such-bucket-here".into(),
            403,
            "not served here",
        ),
        ("GET", "/nowhere".into(), 404, "no such endpoint"),
        ("DELETE", "/item?key=a".into(), 405, "method not allowed"),
        ("POST", "/items".into(), 405, "method not allowed"),
        ("POST", "/item".into(), 400, "expected a multipart form"),
    ];
    for (method, path, status, phrase) in &cases {
        let answer = http.request(method, &format!("{url}{path}")).await;
        assert_eq!(answer.status, *status, "{method} {path}: {:?}", answer.body);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let error = answer.error();
        assert!(
            error.contains(phrase),
            "{method} {path}: {error:?} lacks {phrase:?}"
        );
    }

    // A JSON body is not a form: said so, not the parser's view of a boundary.
    let json = http
        .post_body(&format!("{url}/item"), "application/json", r#"{"key":"a"}"#)
        .await;
    assert_eq!(json.status, 400);
    assert!(
        json.error().contains("expected a multipart form"),
        "{:?}",
        json.error()
    );
    assert!(!json.error().contains("boundary"), "{:?}", json.error());

    let post = |parts: Vec<Part>| {
        let http = http.clone();
        let url = format!("{url}/item");
        async move { http.post_multipart(&url, &parts).await }
    };
    let file = |bytes: usize| Part::file("file", "f.bin", &vec![7u8; bytes]);
    let prefix = unique_prefix("refused");
    let key = |name: &str| Part::text("key", &format!("{prefix}{name}"));
    let form_cases: Vec<(Vec<Part>, u16, &str)> = vec![
        (vec![key("a")], 400, "missing field `file`"),
        (vec![file(10)], 400, "missing field `key`"),
        (
            vec![key("a"), file(10), Part::text("note", "x")],
            400,
            "unexpected field `note`",
        ),
        (vec![key("a"), key("b"), file(10)], 400, "given twice"),
        (
            vec![Part::text("key", "../up"), file(10)],
            400,
            "`..` segment",
        ),
        (
            vec![Part::text("key", &long_key), file(10)],
            400,
            "longer than 1024 bytes",
        ),
        (
            vec![key("a"), Part::text("bucket", "NO"), file(10)],
            400,
            "not a valid bucket",
        ),
        (
            vec![key("a"), Part::file("file", "", b"")],
            400,
            "no file chosen",
        ),
        (
            vec![key("too-large"), file(1025)],
            413,
            "larger than the limit of 1024 bytes",
        ),
        (
            vec![
                key("a"),
                Part::text("bucket", "no-such-bucket-here"),
                file(10),
            ],
            403,
            "not served here",
        ),
    ];
    for (parts, status, phrase) in form_cases {
        let names: Vec<_> = parts.iter().map(|p| p.name.clone()).collect();
        let answer = post(parts).await;
        assert_eq!(answer.status, status, "{names:?}: {:?}", answer.body);
        let error = answer.error();
        assert!(
            error.contains(phrase),
            "{names:?}: {error:?} lacks {phrase:?}"
        );
    }
    // A body far over the limit is cut off while it streams in, with the same kind of answer.
    let answer = post(vec![key("huge"), file(200_000)]).await;
    assert_eq!(answer.status, 413, "{:?}", answer.body);
    assert!(answer.error().contains("larger than"), "{}", answer.error());

    // Nothing that was refused is in the bucket; exactly the limit is fine.
    let listed = http
        .get(&format!("{url}/items?prefix={prefix}"))
        .await
        .json();
    assert_eq!(listed["items"], serde_json::json!([]), "{listed}");
    let stored = http
        .upload(url, &format!("{prefix}exactly-the-limit"), &[1u8; 1024])
        .await;
    assert_eq!(stored["size"], 1024);
}

#[tokio::test]
async fn an_upload_cut_off_midway_leaves_nothing() {
    let moto = Moto::enforcing();
    let service = service::start(&moto, service::settings(&moto)).await;
    let prefix = unique_prefix("cut-off");
    let key = format!("{prefix}partial.bin");
    let (content_type, body) = service::multipart(&[
        Part::text("key", &key),
        Part::file("file", "partial.bin", &random_bytes(100_000)),
    ]);
    let address = service.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /item HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    TokioSleep::new().sleep(Duration::from_millis(200)).await;
    drop(stream); // the client goes away with half the file sent

    TokioSleep::new().sleep(Duration::from_millis(300)).await;
    let listed = Http::new()
        .get(&format!("{}/items?prefix={prefix}", service.url))
        .await
        .json();
    assert_eq!(listed["items"], serde_json::json!([]), "{listed}");
    let head = moto
        .s3(service.provider.clone())
        .head_object()
        .bucket(&moto.bucket)
        .key(&key)
        .send()
        .await;
    assert!(
        head.is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_not_found())),
        "no partial object"
    );
}

#[tokio::test]
async fn listing_is_paginated() {
    let moto = Moto::enforcing();
    let service = service::start(&moto, service::settings(&moto)).await;
    let http = Http::new();
    let prefix = unique_prefix("pages");
    let mut keys: Vec<String> = (0..5).map(|i| format!("{prefix}item-{i}")).collect();
    for key in &keys {
        http.upload(&service.url, key, key.as_bytes()).await;
    }
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("{}/items?prefix={prefix}&limit=2", service.url);
        if let Some(token) = &token {
            // S3's continuation tokens are base64: escape what a query string would change.
            let escaped = token
                .replace('%', "%25")
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D");
            path.push_str(&format!("&token={escaped}"));
        }
        let page = http.get(&path).await;
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let page = page.json();
        let items = page["items"].as_array().unwrap();
        pages.push(items.len());
        seen.extend(items.iter().map(|i| i["key"].as_str().unwrap().to_owned()));
        match page["next_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
        assert!(pages.len() < 10, "pagination does not end: {pages:?}");
    }
    assert_eq!(pages, [2, 2, 1]);
    keys.sort();
    seen.sort();
    assert_eq!(seen, keys);
}

#[tokio::test]
async fn presigned_urls_never_outlive_the_session() {
    let moto = Moto::enforcing();
    let key = format!("{}capped.txt", unique_prefix("capped"));
    let http = Http::new();

    // Asked for S3's maximum (7 days): the URL gets what is left of the one-hour session.
    let mut settings = service::settings(&moto);
    settings.presign_lifetime = app::MAX_PRESIGN_LIFETIME;
    let service = service::start(&moto, settings.clone()).await;
    http.upload(&service.url, &key, b"capped").await;
    let link = http
        .get(&format!("{}/item?key={key}", service.url))
        .await
        .json();
    let expires_in = link["expires_in"].as_u64().unwrap();
    let left = service
        .provider
        .expiry()
        .unwrap()
        .duration_since(SystemTimeSource::new().now())
        .unwrap()
        .as_secs();
    assert!(
        expires_in < left && expires_in + 30 > left,
        "{expires_in} s vs {left} s left"
    );
    assert_eq!(
        query_value(link["url"].as_str().unwrap(), "X-Amz-Expires"),
        Some(expires_in.to_string().as_str())
    );

    // A two-minute session: the URL is cut to it, far under the configured 2,400 s.
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.shorten_sessions(Duration::from_secs(120));
    let short = service::start_with_proxy(&moto, proxy, service::settings(&moto)).await;
    let link = http
        .get(&format!("{}/item?key={key}", short.url))
        .await
        .json();
    let expires_in = link["expires_in"].as_u64().unwrap();
    assert!((60..=110).contains(&expires_in), "{link}");
}

#[tokio::test]
async fn healthz_is_503_while_the_role_cannot_be_assumed_and_recovers() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    proxy.always(Fault::Status(403, "AccessDenied"));
    let settings = app::Settings {
        healthz_details: true,
        ..service::settings(&moto)
    };
    let service = service::start_with_proxy(&moto, proxy, settings).await;
    let http = Http::new();

    let health = http.get(&format!("{}/healthz", service.url)).await;
    assert_eq!(health.status, 503);
    let text = String::from_utf8_lossy(&health.body).into_owned();
    let health = health.json();
    assert_eq!(health["status"], "unavailable");
    assert_eq!(health["has_valid_session"], false);
    assert!(
        health["failures_in_a_row"].as_u64().unwrap() >= 1,
        "{health}"
    );
    assert!(
        health["refreshes_failed"].as_u64().unwrap() >= 1,
        "{health}"
    );
    assert!(health["next_attempt_at"].is_string(), "{health}");
    let last_error = health["last_error"].as_str().unwrap();
    assert!(last_error.contains("AccessDenied"), "{last_error}");
    assert!(
        !text.contains(&moto.base_secret_access_key),
        "no secret in {text}"
    );

    // The requests' own errors say only that there is no session (STS's words are logged):
    // the health details are for whoever reads /healthz, not in every answer.
    for path in ["/item?key=anything", "/items"] {
        let answer = http.get(&format!("{}{path}", service.url)).await;
        assert_eq!(answer.status, 503, "{path}: {:?}", answer.body);
        assert!(answer.header("retry-after").is_some());
        let error = answer.error();
        assert!(error.contains("no valid AWS session"), "{error}");
        assert!(!error.contains("AccessDenied"), "{error}");
    }
    let refused = http
        .post_multipart(
            &format!("{}/item", service.url),
            &[Part::text("key", "never"), Part::file("file", "f", b"x")],
        )
        .await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);

    // STS answers again: after the backoff, the next health check gets a session.
    service.proxy.always(Fault::Pass);
    let mut status = 0;
    for _ in 0..80 {
        status = http.get(&format!("{}/healthz", service.url)).await.status;
        if status == 200 {
            break;
        }
        TokioSleep::new().sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "healthy again once STS answers");
}

/// Runs `total` requests, `concurrency` at a time, each made by `request(i)`; returns each
/// one's duration.
async fn drive<F, Fut>(total: usize, concurrency: usize, request: F) -> Vec<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let durations = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, next, durations) = (request.clone(), next.clone(), durations.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= total {
                        return;
                    }
                    let started = SystemTimeSource::new().now();
                    request(i).await;
                    let took = SystemTimeSource::new()
                        .now()
                        .duration_since(started)
                        .unwrap_or_default();
                    durations.lock().unwrap().push(took);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let durations = durations.lock().unwrap().clone();
    assert_eq!(durations.len(), total);
    durations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_assume_the_role_once() {
    let moto = Moto::enforcing();
    let service = service::start(&moto, service::settings(&moto)).await;
    let http = Http::new();
    let prefix = unique_prefix("thousand");
    let known = format!("{prefix}known.txt");
    http.upload(&service.url, &known, b"known").await;

    let (url, prefix_for_tasks) = (service.url.clone(), prefix.clone());
    // A mix of every endpoint, 50 at a time: uploads, links, listings, health, the page.
    drive(1000, 50, move |i| {
        let (http, url, prefix, known) = (
            http.clone(),
            url.clone(),
            prefix_for_tasks.clone(),
            known.clone(),
        );
        async move {
            let (status, what) = match i % 10 {
                0 => {
                    let key = format!("{prefix}upload-{i}");
                    let answer = http
                        .post_multipart(
                            &format!("{url}/item"),
                            &[
                                Part::text("key", &key),
                                Part::file("file", "f", key.as_bytes()),
                            ],
                        )
                        .await;
                    (answer.status, answer)
                }
                1..=5 => {
                    let answer = http.get(&format!("{url}/item?key={known}")).await;
                    (answer.status, answer)
                }
                6 | 7 => {
                    let answer = http
                        .get(&format!("{url}/items?prefix={prefix}&limit=5"))
                        .await;
                    (answer.status, answer)
                }
                8 => {
                    let answer = http.get(&format!("{url}/healthz")).await;
                    (answer.status, answer)
                }
                _ => {
                    let answer = http.get(&format!("{url}/")).await;
                    (answer.status, answer)
                }
            };
            assert!(
                status == 200 || status == 201,
                "request {i}: HTTP {status}: {:?}",
                what.body
            );
        }
    })
    .await;

    assert_eq!(
        service.proxy.sts_requests(),
        1,
        "one AssumeRole for 1,001 requests"
    );
    assert_eq!(service.provider.status().refreshes_started, 1);
    let listed = Http::new()
        .get(&format!("{}/items?prefix={prefix}&limit=1000", service.url))
        .await
        .json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        101,
        "100 uploads and the known one"
    );
}

/// The tutorial's backend, reproduced: every request calls `AssumeRole` with the base keys,
/// builds a new S3 client with the returned keys, checks the object and presigns.
#[derive(Clone)]
struct PerRequest {
    moto: Moto,
    sts_endpoint: String,
}

async fn per_request_item(
    State(seed): State<PerRequest>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fail = |what: String| (http::StatusCode::BAD_GATEWAY, what).into_response();
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(seed.moto.region())
            .endpoint_url(&seed.sts_endpoint)
            .credentials_provider(seed.moto.base_credentials())
            .build(),
    );
    let assumed = match sts
        .assume_role()
        .role_arn(&seed.moto.role_arn)
        .role_session_name("per-request")
        .send()
        .await
    {
        Ok(assumed) => assumed,
        Err(e) => return fail(format!("AssumeRole: {e:?}")),
    };
    let Some(c) = assumed.credentials() else {
        return fail("no credentials".into());
    };
    let s3 = seed.moto.s3(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        SystemTime::try_from(*c.expiration()).ok(),
        "per-request",
    ));
    let (bucket, key) = (&seed.moto.bucket, &query["key"]);
    if let Err(e) = s3.head_object().bucket(bucket).key(key).send().await {
        return fail(format!("HeadObject: {e:?}"));
    }
    let config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(2400)).unwrap();
    match s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(config)
        .await
    {
        Ok(url) => {
            axum::Json(serde_json::json!({ "url": url.uri(), "expires_in": 2400 })).into_response()
        }
        Err(e) => fail(format!("presign: {e:?}")),
    }
}

fn summary(durations: &mut [Duration]) -> (f64, f64, f64) {
    durations.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = durations.iter().map(|d| ms(*d)).sum::<f64>() / durations.len() as f64;
    let at = |q: f64| ms(durations[((durations.len() - 1) as f64 * q).round() as usize]);
    (mean, at(0.5), at(0.99))
}

/// The comparison the README quotes: the same `GET /item` (HeadObject + presign), 1,000 times
/// one after the other, through the service and through the per-request pattern, alternating.
/// Asserts the STS call counts only; prints the latencies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_request_pattern_calls_sts_on_every_request() {
    let moto = Moto::enforcing();
    let service = service::start(&moto, service::settings(&moto)).await;
    let http = Http::new();
    let key = format!("{}compare.txt", unique_prefix("compare"));
    http.upload(&service.url, &key, b"compare").await;

    let seed_proxy = FaultProxy::start(&moto.endpoint).await;
    let seed_router = axum::Router::new()
        .route("/item", axum::routing::get(per_request_item))
        .with_state(PerRequest {
            moto: moto.clone(),
            sts_endpoint: seed_proxy.endpoint.clone(),
        });
    let (seed_url, _seed_task) = service::serve(seed_router).await;

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        for (url, durations) in [(&service.url, &mut ours), (&seed_url, &mut theirs)] {
            let started = SystemTimeSource::new().now();
            let answer = http.get(&format!("{url}/item?key={key}")).await;
            durations.push(
                SystemTimeSource::new()
                    .now()
                    .duration_since(started)
                    .unwrap_or_default(),
            );
            assert_eq!(answer.status, 200, "{url}: {:?}", answer.body);
        }
    }
    assert_eq!(
        service.proxy.sts_requests(),
        1,
        "one provider: one AssumeRole"
    );
    assert_eq!(
        seed_proxy.sts_requests(),
        1000,
        "per request: 1,000 AssumeRole"
    );

    let (ours_mean, ours_p50, ours_p99) = summary(&mut ours);
    let (theirs_mean, theirs_p50, theirs_p99) = summary(&mut theirs);
    println!(
        "GET /item x 1,000, one at a time, local moto with enforcement:\n\
         | | STS calls | mean | p50 | p99 |\n|---|---|---|---|---|\n\
         | one ChainableTemporaryCredentials | {} | {ours_mean:.2} ms | {ours_p50:.2} ms | {ours_p99:.2} ms |\n\
         | AssumeRole + new S3 client per request | {} | {theirs_mean:.2} ms | {theirs_p50:.2} ms | {theirs_p99:.2} ms |\n\
         added by the per-request pattern: {:.2} ms per request (mean), {:.2} ms (p50)",
        service.proxy.sts_requests(),
        seed_proxy.sts_requests(),
        theirs_mean - ours_mean,
        theirs_p50 - ours_p50,
    );
}

// --- the built binary, as a process ---------------------------------------------------------

#[tokio::test]
async fn the_binary_names_what_is_missing_at_start_up() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = listener.local_addr().unwrap().to_string();
    let arn = "arn:aws:iam::123456789012:role/uploader";
    // (arguments, environment, exit code, a phrase of the error)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, &'a str);
    let bucket = ("UPLOAD_BUCKET", "uploads");
    let cases: Vec<Case> = vec![
        (
            vec![],
            vec![],
            2,
            "no role to assume: set --role-arn or UPLOAD_ROLE_ARN",
        ),
        (
            vec!["--role-arn", arn],
            vec![("AWS_REGION", "eu-west-1")],
            2,
            "no bucket to serve: set --bucket or UPLOAD_BUCKET",
        ),
        (
            vec!["--role-arn", arn, "--presign-seconds", "soon"],
            vec![bucket],
            2,
            "--presign-seconds: \"soon\" is not a whole number",
        ),
        (
            vec!["--role-arn", "not-an-arn", "--region", "eu-west-1"],
            vec![bucket],
            2,
            "--role-arn (UPLOAD_ROLE_ARN): invalid `role_arn`",
        ),
        (
            vec!["--role-arn", arn],
            vec![bucket],
            2,
            "no AWS region: set --region or AWS_REGION",
        ),
        (
            vec!["--bind", taken.as_str()],
            vec![
                ("UPLOAD_ROLE_ARN", arn),
                ("AWS_REGION", "eu-west-1"),
                bucket,
            ],
            1,
            "cannot listen on",
        ),
    ];
    // A store without its key, and a key file others may read.
    let dir = tempfile::tempdir().unwrap();
    let open_key = dir.path().join("store.key");
    std::fs::write(&open_key, "7e".repeat(32)).unwrap();
    std::fs::set_permissions(
        &open_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let open_key = open_key.display().to_string();
    let offline = [
        ("UPLOAD_ROLE_ARN", arn),
        ("AWS_REGION", "eu-west-1"),
        bucket,
    ];
    let cases = cases.into_iter().chain([
        (
            vec!["--session-store", "redis://127.0.0.1:9"],
            offline.to_vec(),
            2,
            "--session-store: the store needs its sealing key",
        ),
        (
            vec![
                "--session-store",
                "redis://127.0.0.1:9",
                "--session-store-key-file",
                &open_key,
            ],
            offline.to_vec(),
            2,
            "others may read it (chmod 600 it)",
        ),
        (
            vec!["--session-store", "http://127.0.0.1:9"],
            [
                offline.as_slice(),
                &[("UPLOAD_SESSION_STORE_KEY_FILE", &open_key)],
            ]
            .concat(),
            2,
            "must start with redis:// or rediss://",
        ),
    ]);
    for (args, vars, code, phrase) in cases {
        let output = binary_command(&vars).args(&args).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(phrase),
            "{args:?}: {stderr:?} lacks {phrase:?}"
        );
        assert!(output.stdout.is_empty(), "nothing on stdout for {args:?}");
        if code == 2 {
            // A bad setting stops it before it logs anything: one line.
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
            assert!(stderr.contains("(--help lists the settings)"), "{stderr:?}");
        }
    }
    // A bad value from a variable names the variable.
    let output = binary_command(&[
        ("UPLOAD_ROLE_ARN", arn),
        ("UPLOAD_BUCKET", "uploads"),
        ("UPLOAD_PRESIGN_SECONDS", "abc"),
    ])
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("UPLOAD_PRESIGN_SECONDS: \"abc\""),
        "{stderr}"
    );
    // An unknown flag last on the line is unknown, not "needs a value".
    let output = binary_command(&[])
        .arg("--frobnicate")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unexpected argument '--frobnicate'"),
        "{stderr}"
    );
    let help = binary_command(&[]).arg("--help").output().await.unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--max-upload-bytes"));
}

/// Settings for a binary that never reaches AWS (STS and S3 at a closed port).
const OFFLINE: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDOFFLINE"),
    ("AWS_SECRET_ACCESS_KEY", "offline"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ("UPLOAD_ROLE_ARN", "arn:aws:iam::123456789012:role/uploader"),
    ("UPLOAD_BUCKET", "uploads"),
];

const UNAUTHENTICATED_WARNING: &str = "LISTENING BEYOND LOOPBACK WITHOUT AUTHENTICATION";

#[tokio::test]
async fn the_binary_warns_when_it_listens_beyond_loopback() {
    let running = Running::start(OFFLINE, &["--bind", "0.0.0.0:0"]).await;
    assert!(
        running.url.starts_with("http://0.0.0.0:"),
        "{}",
        running.url
    );
    let page = Http::new()
        .get(&format!("{}/", running.loopback_url()))
        .await;
    assert_eq!(page.status, 200, "it serves (on loopback too)");
    let (code, logs) = running.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    let warning = logs
        .lines()
        .find(|line| line.contains(UNAUTHENTICATED_WARNING))
        .unwrap_or_else(|| panic!("no warning in the log:\n{logs}"));
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(warning.contains("--allowed-host"), "{warning}");

    let help = binary_command(&[]).arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("SECURITY: without --users the service does not authenticate anyone"),
        "{help}"
    );
    for flag in [
        "--allowed-host",
        "--header-read-timeout-seconds",
        "--max-connections",
        "--healthz-details",
        "--users",
        "--user-prefix",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[tokio::test]
async fn the_binary_cuts_off_clients_that_send_no_headers_in_time() {
    let running = Running::start(
        OFFLINE,
        &[
            "--bind",
            "127.0.0.1:0",
            "--header-read-timeout-seconds",
            "1",
            "--max-connections",
            "1",
        ],
    )
    .await;
    // The slow client takes the only slot; the next one is served once it is cut off.
    let mut slow = service::raw_connection(&running.url, "GET / HT").await;
    let mut next =
        service::raw_connection(&running.url, &service::get_request(&running.url, "/")).await;
    assert_eq!(
        service::read_answer(&mut next, Duration::from_secs(15))
            .await
            .as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    assert_eq!(
        service::read_answer(&mut slow, Duration::from_secs(15)).await,
        None,
        "closed without an answer"
    );
    let (code, logs) = running.stop().await;
    assert_eq!(code, Some(0), "{logs}");
}

#[tokio::test]
async fn the_binary_lets_an_in_flight_upload_finish_on_sigterm() {
    let moto = Moto::enforcing();
    let running = Running::start(
        &[
            ("AWS_ACCESS_KEY_ID", &moto.base_access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key),
            ("AWS_REGION", &moto.region),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            ("UPLOAD_ROLE_ARN", &moto.role_arn),
            ("UPLOAD_BUCKET", &moto.bucket),
        ],
        &["--bind", "127.0.0.1:0"],
    )
    .await;
    let url = running.url.clone();
    let http = Http::new();
    let health = http.get(&format!("{url}/healthz")).await;
    assert_eq!(health.status, 200, "{:?}", health.body);

    // An upload whose body is half sent when the signal comes.
    let key = format!("{}in-flight.bin", unique_prefix("sigterm"));
    let data = random_bytes(50_000);
    let (content_type, body) = service::multipart(&[
        Part::text("key", &key),
        Part::file("file", "in-flight.bin", &data),
    ]);
    let address = url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /item HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    TokioSleep::new().sleep(Duration::from_millis(300)).await;

    running.send_sigterm();
    TokioSleep::new().sleep(Duration::from_millis(500)).await;
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "no new connections after the signal"
    );
    let Running {
        mut child, logs, ..
    } = running;
    assert!(
        tokio::time::timeout(Duration::from_millis(1), child.wait())
            .await
            .is_err(),
        "the service waits for the in-flight request"
    );

    stream.write_all(&body[body.len() / 2..]).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("the in-flight request is answered")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(
        response.contains(&format!("\"size\":{}", data.len())),
        "{response}"
    );

    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service exits after the in-flight request")
        .unwrap();
    let logs = logs.await.unwrap();
    assert_eq!(status.code(), Some(0), "graceful exit; logs:\n{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(logs.contains("shut down"), "{logs}");
    assert!(logs.contains("stored an upload"), "{logs}");
    assert!(
        !logs.contains(&moto.base_secret_access_key),
        "no secret in the logs"
    );
    assert!(
        !logs.contains("X-Amz-Security-Token"),
        "no presigned URL in the logs"
    );
    assert!(
        !logs.contains(UNAUTHENTICATED_WARNING),
        "no warning on loopback"
    );

    // The upload that was in flight is stored, whole.
    let provider = chainable_credentials::ChainableTemporaryCredentials::builder()
        .base_credentials(moto.base_credentials())
        .role_arn(&moto.role_arn)
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .build()
        .unwrap();
    let object = moto
        .s3(provider)
        .get_object()
        .bucket(&moto.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(object.body.collect().await.unwrap().into_bytes(), data);
}

#[tokio::test]
async fn the_binary_serves_users_from_a_file_and_logs_no_token_or_secret() {
    use crate::users::{ALICE, BOB, USERS, call};
    let moto = Moto::enforcing();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, USERS).unwrap();
    let prefix = unique_prefix("binary-users");
    let template = format!("{prefix}{{user}}/");
    let vars = crate::service::moto_vars(&moto, &moto.endpoint);
    let running = Running::start(
        &vars,
        &[
            "--bind",
            "127.0.0.1:0",
            "--users",
            file.to_str().unwrap(),
            "--user-prefix",
            &template,
        ],
    )
    .await;
    let url = running.url.clone();
    let http = Http::new();
    assert_eq!(
        call(&http, "GET", &format!("{url}/items"), None)
            .await
            .status,
        401
    );
    let listing = call(
        &http,
        "GET",
        &format!("{url}/items"),
        Some(&format!("Bearer {BOB}")),
    )
    .await;
    assert_eq!(listing.status, 200, "{}", listing.error());
    assert_eq!(listing.json()["prefix"], format!("{prefix}bob/"));
    let handed = call(
        &http,
        "GET",
        &format!("{url}/credentials"),
        Some(&format!("Bearer {ALICE}")),
    )
    .await;
    assert_eq!(handed.status, 200, "{}", handed.error());
    let handed = handed.json();
    let (code, logs) = running.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    assert!(
        logs.contains("users=2"),
        "the start line counts the users: {logs}"
    );
    assert!(
        logs.contains("user=\"alice\""),
        "requests are logged with their user: {logs}"
    );
    for secret in [
        ALICE,
        BOB,
        &moto.base_secret_access_key,
        handed["SecretAccessKey"].as_str().unwrap(),
        handed["SessionToken"].as_str().unwrap(),
    ] {
        assert!(!logs.contains(secret), "a secret in the log: {secret:.12}…");
    }

    // A bad users file stops it at start, naming the flag and the line, not the token.
    std::fs::write(&file, format!("{ALICE} alice\n{ALICE} mallory\n")).unwrap();
    let output = binary_command(&vars)
        .args(["--users", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--users: ")
            && stderr.contains("line 2: this token is given on an earlier line"),
        "{stderr}"
    );
    assert!(!stderr.contains(ALICE), "{stderr}");
}

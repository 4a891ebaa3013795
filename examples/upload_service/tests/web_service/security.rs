//! What the upload service refuses, and what its answers leave out: a bucket it does not serve,
//! a request for another host (DNS rebinding), a state-changing request from another site's
//! page, a frame around its page; errors carry a request id and no internal detail (the role,
//! the account, STS's and S3's words), which go to the log under that id.
//!
//! Every refusal is checked where it matters: S3 (listed with the admin's keys) holds nothing
//! a refused request would have written.

use crate::{service, support};

use bytes::Bytes;
use http_body_util::Full;
use service::{Answer, Http, Part, app, unique_prefix};
use support::moto::Moto;

/// An S3 client with the local server's admin keys (allowed everything), to look behind the
/// service's back.
fn admin_s3(moto: &Moto) -> aws_sdk_s3::Client {
    moto.s3(moto.admin_credentials())
}

/// Creates a bucket no other test uses, with the admin's keys; its name.
async fn new_bucket(moto: &Moto, what: &str) -> String {
    let name = format!("{what}-{:08x}", fastrand::u32(..));
    admin_s3(moto)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {name}: {e:?}"));
    name
}

/// The keys in `bucket` under `prefix`, as the admin lists them.
async fn keys_in(moto: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    admin_s3(moto)
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListObjectsV2 {bucket}: {e:?}"))
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// `POST url/item` with `parts` and the extra `headers`.
async fn post_item(http: &Http, url: &str, parts: &[Part], headers: &[(&str, &str)]) -> Answer {
    let (content_type, body) = service::multipart(parts);
    let mut request =
        http::Request::post(format!("{url}/item")).header("content-type", content_type);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    http.send(request.body(Full::new(body)).unwrap()).await
}

/// `method url path` with the extra `headers` and no body.
async fn request(
    http: &Http,
    method: &str,
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    http.send(request.body(Full::new(Bytes::new())).unwrap())
        .await
}

#[tokio::test]
async fn only_the_configured_buckets_are_served() {
    let moto = Moto::enforcing();
    // The role may use every bucket (s3:* on *): only the service stands between a request
    // and a bucket it was not meant to serve.
    let second = new_bucket(&moto, "second").await;
    let other = new_bucket(&moto, "other").await;
    let settings = app::Settings {
        buckets: vec![moto.bucket.clone(), second.clone()],
        ..app::Settings::default()
    };
    let service = service::start(&moto, settings).await;
    let http = Http::new();
    let url = &service.url;
    let prefix = unique_prefix("allow-list");
    let key = |name: &str| Part::text("key", &format!("{prefix}{name}"));
    let file = Part::file("file", "f.txt", b"not for this bucket");

    // The bucket field before the file, and after it: refused either way, nothing stored.
    for parts in [
        vec![Part::text("bucket", &other), key("before"), file.clone()],
        vec![key("after"), file.clone(), Part::text("bucket", &other)],
    ] {
        let answer = post_item(&http, url, &parts, &[]).await;
        assert_eq!(answer.status, 403, "{:?}", answer.body);
        assert!(
            answer.error().contains("not served here"),
            "{}",
            answer.error()
        );
        assert!(answer.json()["request_id"].is_string());
    }
    for path in [
        format!("/items?bucket={other}"),
        format!("/item?bucket={other}&key=demo/hello.txt"),
    ] {
        let answer = http.get(&format!("{url}{path}")).await;
        assert_eq!(answer.status, 403, "{path}: {:?}", answer.body);
        assert!(
            answer.error().contains("not served here"),
            "{}",
            answer.error()
        );
    }
    assert_eq!(
        keys_in(&moto, &other, "").await,
        Vec::<String>::new(),
        "nothing was written to the bucket not served"
    );

    // Every configured bucket is served; the first is the default.
    let stored = post_item(
        &http,
        url,
        &[Part::text("bucket", &second), key("second"), file.clone()],
        &[],
    )
    .await;
    assert_eq!(stored.status, 201, "{:?}", stored.body);
    assert_eq!(
        keys_in(&moto, &second, &prefix).await,
        [format!("{prefix}second")]
    );
    let listed = http
        .get(&format!("{url}/items?bucket={second}&prefix={prefix}"))
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.json()["items"][0]["key"], format!("{prefix}second"));
    http.upload(url, &format!("{prefix}default"), b"to the first bucket")
        .await;
    assert_eq!(
        keys_in(&moto, &moto.bucket, &prefix).await,
        [format!("{prefix}default")]
    );
}

#[tokio::test]
async fn cross_site_state_changing_requests_are_refused() {
    let moto = Moto::enforcing();
    let service = service::start(&moto, service::settings(&moto)).await;
    let http = Http::new();
    let url = &service.url;
    let own = url.as_str();
    let port = url.rsplit(':').next().unwrap();
    let same_site = format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap() ^ 1);
    let tls_proxy = format!("https://127.0.0.1:{port}");
    let localhost = format!("localhost:{port}");
    let localhost_origin = format!("http://{localhost}");
    let prefix = unique_prefix("cross-site");

    // (name of the case, extra headers, whether it is stored)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, bool);
    let cases: Vec<Case> = vec![
        (
            "another origin",
            vec![("origin", "http://evil.example")],
            false,
        ),
        ("an opaque origin", vec![("origin", "null")], false),
        (
            "a port of the same host",
            vec![("origin", &same_site)],
            false,
        ),
        (
            "a cross-site fetch",
            vec![("sec-fetch-site", "cross-site")],
            false,
        ),
        (
            "a same-site fetch",
            vec![("sec-fetch-site", "same-site")],
            false,
        ),
        (
            "a cross-site fetch claiming this origin",
            vec![("origin", own), ("sec-fetch-site", "cross-site")],
            false,
        ),
        ("no browser headers (curl)", vec![], true),
        (
            "the page itself",
            vec![("origin", own), ("sec-fetch-site", "same-origin")],
            true,
        ),
        ("typed by the user", vec![("sec-fetch-site", "none")], true),
        (
            "the page behind a TLS proxy",
            vec![("origin", &tls_proxy), ("sec-fetch-site", "same-origin")],
            true,
        ),
        (
            "the page reached as localhost",
            vec![("host", &localhost), ("origin", &localhost_origin)],
            true,
        ),
    ];
    let mut expected = Vec::new();
    for (i, (case, headers, stored)) in cases.iter().enumerate() {
        let key = format!("{prefix}case-{i}");
        let parts = [
            Part::text("key", &key),
            Part::text("file", "a text field named file"),
        ];
        let answer = post_item(&http, url, &parts, headers).await;
        if *stored {
            assert_eq!(answer.status, 201, "{case}: {:?}", answer.body);
            expected.push(key);
        } else {
            assert_eq!(answer.status, 403, "{case}: {:?}", answer.body);
            assert_eq!(answer.error(), "cross-site request refused", "{case}");
        }
    }
    // Any method but GET and HEAD: refused before it is found not to exist.
    let delete = request(
        &http,
        "DELETE",
        url,
        "/item?key=a",
        &[("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(delete.status, 403, "{:?}", delete.body);
    // Reading stays open to every page (the browser keeps the answer from a foreign page).
    let page = request(&http, "GET", url, "/", &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(page.status, 200);

    expected.sort(); // S3 lists keys in their byte order
    assert_eq!(
        keys_in(&moto, &moto.bucket, &prefix).await,
        expected,
        "only the requests that were not cross-site stored anything"
    );
}

#[tokio::test]
async fn requests_for_another_host_are_refused() {
    let settings = app::Settings {
        buckets: vec!["uploads".into()],
        allowed_hosts: vec!["uploads.example.com".into()],
        ..app::Settings::default()
    };
    let (url, _server) = service::serve(service::offline_router(settings)).await;
    let http = Http::new();
    let address = url.trim_start_matches("http://");
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("127.0.0.1:{}", port ^ 1);
    let localhost = format!("localhost:{port}");
    let localhost_upper = format!("LocalHost:{port}");

    // (Host, expected status)
    let cases: Vec<(&str, u16)> = vec![
        (address, 200),
        (&localhost, 200),
        (&localhost_upper, 200),
        ("uploads.example.com", 200),
        ("UPLOADS.example.com:8443", 200),
        // DNS rebinding: the attacker's name, resolved to this address.
        ("rebind.attacker.example", 421),
        ("rebind.attacker.example:80", 421),
        (&other_port, 421),
        ("evil.uploads.example.com", 421),
        ("uploads.example.com.attacker.example", 421),
        ("user@uploads.example.com", 400),
    ];
    for (host, status) in cases {
        // Served, `/healthz` says there is no session (this provider cannot reach STS).
        let health_status = if status == 200 { 503 } else { status };
        for (path, status) in [("/", status), ("/healthz", health_status)] {
            let answer = request(&http, "GET", &url, path, &[("host", host)]).await;
            assert_eq!(
                answer.status, status,
                "Host {host}, {path}: {:?}",
                answer.body
            );
            if status == 421 {
                assert_eq!(
                    answer.error(),
                    "this service does not answer for that host name"
                );
            }
        }
    }
    // Refused before the body is read or the cross-site check runs.
    let answer = post_item(
        &http,
        &url,
        &[Part::text("key", "k"), Part::text("file", "x")],
        &[("host", "rebind.attacker.example")],
    )
    .await;
    assert_eq!(answer.status, 421, "{:?}", answer.body);

    // An absolute-form target names the host itself, and wins over Host.
    let mut stream = service::raw_connection(
        &url,
        &format!("GET http://rebind.attacker.example/ HTTP/1.1\r\nHost: {address}\r\n\r\n"),
    )
    .await;
    let status = service::read_answer(&mut stream, std::time::Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 421 Misdirected Request"));
    // No Host at all (HTTP/1.0 allows it): refused, not guessed.
    let mut stream = service::raw_connection(&url, "GET / HTTP/1.0\r\n\r\n").await;
    let status = service::read_answer(&mut stream, std::time::Duration::from_secs(10)).await;
    assert!(
        status
            .as_deref()
            .is_some_and(|s| s.ends_with(" 400 Bad Request")),
        "{status:?}"
    );
}

/// Which Host values and origins name the service, beyond what the HTTP tests reach (other
/// bind addresses, IPv6, default ports).
#[test]
fn host_and_origin_rules() {
    let authority = |text: &str| text.parse::<http::uri::Authority>().unwrap();
    let loopback = Some("127.0.0.1:8080".parse().unwrap());
    let ipv6_loopback = Some("[::1]:8080".parse().unwrap());
    let lan = Some("192.168.1.20:8080".parse().unwrap());
    let names = ["uploads.example.com".to_owned()];
    // (Host, local address of the connection, served)
    let hosts = [
        ("127.0.0.1:8080", loopback, true),
        ("localhost:8080", loopback, true),
        ("localhost:8081", loopback, false),
        ("[::1]:8080", ipv6_loopback, true),
        ("localhost:8080", ipv6_loopback, true),
        ("192.168.1.20:8080", lan, true),
        ("localhost:8080", lan, false),
        ("192.168.1.21:8080", lan, false),
        ("uploads.example.com", lan, true),
        ("uploads.example.com", None, true),
        ("127.0.0.1:8080", None, false),
        ("rebind.example:8080", loopback, false),
    ];
    for (host, local, served) in hosts {
        assert_eq!(
            app::host_is_served(&authority(host), local, &names),
            served,
            "Host {host} on {local:?}"
        );
    }

    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    };
    let host = authority("uploads.example.com");
    // (request headers, refused)
    let requests: [(&[(&'static str, &str)], bool); 9] = [
        (&[], false),
        (&[("origin", "https://uploads.example.com")], false),
        (&[("origin", "http://uploads.example.com:80")], false),
        (&[("origin", "https://uploads.example.com:443")], false),
        (&[("origin", "https://uploads.example.com:8443")], true),
        (&[("origin", "https://evil.example")], true),
        (&[("origin", "file://")], true),
        (&[("sec-fetch-site", "same-origin")], false),
        (
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://uploads.example.com"),
            ],
            true,
        ),
    ];
    for (pairs, refused) in requests {
        assert_eq!(
            app::cross_site_reason(&headers(pairs), Some(&host)).is_some(),
            refused,
            "{pairs:?}"
        );
    }
    assert!(
        app::cross_site_reason(&headers(&[("origin", "http://uploads.example.com")]), None)
            .is_some(),
        "an origin cannot match a request without a host"
    );
}

/// An STS that refuses every `AssumeRole` the way AWS does: its message names the caller's
/// principal, the account and the role.
async fn denying_sts() -> (String, tokio::task::JoinHandle<()>) {
    const DENIED: &str = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
        <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
        arn:aws:iam::123456789012:user/base-user is not authorized to perform: sts:AssumeRole \
        on resource: arn:aws:iam::123456789012:role/s3-reader</Message></Error>\
        <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>";
    let sts = axum::Router::new().fallback(|| async {
        (
            http::StatusCode::FORBIDDEN,
            [("content-type", "text/xml")],
            DENIED,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, sts).await.unwrap();
    });
    (url, task)
}

/// Whether a client-visible text holds anything about the service's identity or AWS's words.
fn internal_detail_in(text: &str, moto: &Moto) -> Option<&'static str> {
    [
        ("the role ARN", moto.role_arn.as_str()),
        ("the role's name", "s3-reader"),
        ("the account id", "123456789012"),
        ("the base user", "base-user"),
        ("STS's error code", "AccessDenied"),
        ("S3's error code", "NoSuchBucket"),
        ("S3's message", "does not exist"),
        ("the base key id", moto.base_access_key_id.as_str()),
    ]
    .into_iter()
    .find_map(|(what, needle)| text.contains(needle).then_some(what))
}

#[tokio::test]
async fn errors_name_a_request_id_and_no_internal_detail() {
    let (logs, _guard) = support::capture_traces();
    let moto = Moto::enforcing();
    let (sts, _sts_task) = denying_sts().await;
    let sdk_config = service::sdk_config(&moto);
    let provider = chainable_credentials::ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .endpoint_url(&sts)
        .role_arn(&moto.role_arn)
        .build()
        .unwrap();
    let s3 = app::s3_client(&sdk_config, provider.clone());
    let settings = service::settings(&moto);
    let (url, _server) =
        service::serve(app::router(app::AppState::new(provider, s3, settings))).await;
    let http = Http::new();

    // /healthz: whether there is a session, and until when; nothing else by default.
    let health = http.get(&format!("{url}/healthz")).await;
    assert_eq!(health.status, 503);
    let text = String::from_utf8_lossy(&health.body).into_owned();
    assert_eq!(internal_detail_in(&text, &moto), None, "{text}");
    let mut fields: Vec<String> = health.json().as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "has_valid_session",
            "session_expires_at",
            "session_expires_in",
            "status",
            "users"
        ]
    );

    // Every endpoint that needs the session: a sentence and a request id, the header's.
    let mut answers = vec![
        http.get(&format!("{url}/item?key=anything")).await,
        http.get(&format!("{url}/items")).await,
    ];
    answers.push(
        post_item(
            &http,
            &url,
            &[Part::text("key", "k"), Part::file("file", "f", b"x")],
            &[],
        )
        .await,
    );
    for answer in &answers {
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        assert_eq!(internal_detail_in(&text, &moto), None, "{text}");
        assert_eq!(answer.error(), "no valid AWS session; try again shortly");
        let id = answer.json()["request_id"].as_str().unwrap().to_owned();
        assert_eq!(answer.header("x-request-id"), Some(id.as_str()));
        // The details are in the log, on a line under that id.
        let logged = logs.text();
        assert!(
            logged.lines().any(|line| line.contains(&id)
                && line.contains("AccessDenied")
                && line.contains("is not authorized")),
            "no log line under request {id} has STS's refusal:\n{logged}"
        );
    }
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .map(|a| a.header("x-request-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), answers.len(), "every request has its own id");
}

#[tokio::test]
async fn an_s3_failure_is_told_in_a_sentence() {
    let (logs, _guard) = support::capture_traces();
    let moto = Moto::enforcing();
    // A configured bucket that does not exist: the service's misconfiguration, not the client's.
    let missing = format!("missing-{:08x}", fastrand::u32(..));
    let settings = app::Settings {
        buckets: vec![missing.clone()],
        ..app::Settings::default()
    };
    let service = service::start(&moto, settings).await;
    let answer = Http::new().get(&format!("{}/items", service.url)).await;
    assert_eq!(answer.status, 502, "{:?}", answer.body);
    assert_eq!(answer.error(), "S3 ListObjectsV2 failed");
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    assert_eq!(internal_detail_in(&text, &moto), None, "{text}");
    let id = answer.header("x-request-id").unwrap().to_owned();
    let logged = logs.text();
    assert!(
        logged
            .lines()
            .any(|line| line.contains(&id) && line.contains("NoSuchBucket")),
        "no log line under request {id} has S3's error:\n{logged}"
    );
}

#[tokio::test]
async fn the_page_may_not_be_framed() {
    let settings = app::Settings {
        buckets: vec!["uploads".into()],
        ..app::Settings::default()
    };
    let (url, _server) = service::serve(service::offline_router(settings)).await;
    let page = Http::new().get(&format!("{url}/")).await;
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").unwrap();
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    assert!(directives.contains(&"frame-ancestors 'none'"), "{policy}");
    assert!(directives.contains(&"form-action 'self'"), "{policy}");
    assert!(directives.contains(&"default-src 'none'"), "{policy}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // Every answer, not only the page, declares its type for good.
    let missing = Http::new().get(&format!("{url}/nowhere")).await;
    assert_eq!(missing.header("x-content-type-options"), Some("nosniff"));
    assert!(missing.header("x-request-id").is_some());
}

//! What the upload service's tests share: the service (`app`) served in-process on a free
//! loopback port as `main.rs` serves it (`server`) against the
//! local moto server, with STS reached through the counting fault proxy; a small HTTP client;
//! raw connections; multipart bodies; the example binary, built on demand.
#![allow(dead_code)]

pub use upload_service::{app, server};

use crate::support::fault_proxy::FaultProxy;
use crate::support::moto::Moto;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use bytes::Bytes;
use chainable_credentials::ChainableTemporaryCredentials;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// The service running in this test process. Stops when dropped.
pub struct Service {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The service's one provider (clones share its cache).
    pub provider: ChainableTemporaryCredentials,
    /// Counts the service's STS requests (every STS call goes through it).
    pub proxy: FaultProxy,
    pub moto: Moto,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Settings for tests: the fixture bucket served (and the default), the rest as the
/// service's defaults.
pub fn settings(moto: &Moto) -> app::Settings {
    app::Settings {
        buckets: vec![moto.bucket.clone()],
        region: Some(moto.region.clone()),
        s3_endpoint: Some(moto.endpoint.clone()),
        ..app::Settings::default()
    }
}

/// Starts the service as `main.rs` wires it: one provider assuming the fixture role with the
/// base user's keys (STS through a fresh counting proxy in front of `moto`), one S3 client on
/// `moto` signing with it.
pub async fn start(moto: &Moto, settings: app::Settings) -> Service {
    let proxy = FaultProxy::start(&moto.endpoint).await;
    start_with_proxy(moto, proxy, settings).await
}

/// [`start`] with a proxy the test has scripted already.
pub async fn start_with_proxy(moto: &Moto, proxy: FaultProxy, settings: app::Settings) -> Service {
    let sdk_config = sdk_config(moto);
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .role_session_name("upload-service-test")
        .on_refresh(app::log_refresh)
        .build()
        .expect("the provider builds");
    let s3 = app::s3_client(&sdk_config, provider.clone());
    let router = app::router(app::AppState::new(provider.clone(), s3, settings));
    let (url, task) = serve(router).await;
    Service {
        url,
        provider,
        proxy,
        moto: moto.clone(),
        task,
    }
}

/// Starts the service with users as `main.rs` wires `--users`: `users` is the users file's
/// text, `prefix` the `--user-prefix`; the users' scoped sessions reach STS through the same
/// counting proxy as the service's own provider.
pub async fn start_with_users(
    moto: &Moto,
    settings: app::Settings,
    users: &str,
    prefix: &str,
) -> Service {
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let sdk_config = sdk_config(moto);
    let role = || {
        ChainableTemporaryCredentials::builder()
            .configure(&sdk_config)
            .endpoint_url(&proxy.endpoint)
            .role_arn(&moto.role_arn)
            .role_session_name("upload-service-test")
    };
    let provider = role().build().expect("the provider builds");
    let sessions = role()
        .scoped_sessions()
        .on_refresh(app::log_user_refresh)
        .build()
        .expect("the scoped sessions build");
    let access = upload_service::access::UserAccess::new(
        upload_service::users::Users::parse(users).expect("the users parse"),
        &upload_service::users::UserPrefix::parse(prefix).expect("the prefix parses"),
        sessions,
        &settings.buckets,
        "upload-service-test",
    )
    .expect("every user's scope is valid");
    let s3 = app::s3_client(&sdk_config, provider.clone());
    let router = app::router(app::AppState::with_users(
        provider.clone(),
        s3,
        settings,
        access,
    ));
    let (url, task) = serve(router).await;
    Service {
        url,
        provider,
        proxy,
        moto: moto.clone(),
        task,
    }
}

/// What `aws_config::load_defaults` gives the binary, for the local server: region, endpoint
/// (S3 and, unless overridden, STS) and the base user's keys.
pub fn sdk_config(moto: &Moto) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(moto.region())
        .endpoint_url(&moto.endpoint)
        .credentials_provider(SharedCredentialsProvider::new(moto.base_credentials()))
        .build()
}

/// Serves `router` on a free loopback port as the binary does, with the default limits.
pub async fn serve(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    serve_with_limits(router, server::Limits::default()).await
}

/// [`serve`] with other connection limits.
pub async fn serve_with_limits(
    router: axum::Router,
    limits: server::Limits,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(server::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    (url, task)
}

/// The service's router on a provider that never reaches AWS (its STS endpoint is a closed
/// port), for tests of what is refused or answered before any AWS call.
pub fn offline_router(settings: app::Settings) -> axum::Router {
    let closed = "http://127.0.0.1:9";
    let sdk_config = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url(closed)
        .credentials_provider(SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("AKIDOFFLINE", "offline", None, None, "t"),
        ))
        .build();
    let provider = ChainableTemporaryCredentials::builder()
        .configure(&sdk_config)
        .role_arn("arn:aws:iam::123456789012:role/offline")
        .build()
        .expect("the provider builds");
    let s3 = app::s3_client(&sdk_config, provider.clone());
    app::router(app::AppState::new(provider, s3, settings))
}

/// Sends `head` (a request's first lines, or part of them) on a new connection to `url`'s
/// address; the connection is returned to read the answer from.
pub async fn raw_connection(url: &str, head: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// A `GET path` request's head for `url`'s host, keeping the connection open afterwards.
pub fn get_request(url: &str, path: &str) -> String {
    let host = url.trim_start_matches("http://");
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

/// Reads one answer's head and `Content-Length` body from `stream` (within `within`): its
/// status line, or `None` if the server closed the connection without answering.
pub async fn read_answer(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<String> {
    let read = async {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(end) = find(&received, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    return head.lines().next().map(str::to_owned);
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => {
                    return (!received.is_empty())
                        .then(|| String::from_utf8_lossy(&received).into_owned());
                }
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| panic!("no answer and no close within {within:?}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A plain HTTP client (what a browser or curl is to the service).
#[derive(Clone)]
pub struct Http(Client<HttpConnector, Full<Bytes>>);

/// One answer: status, headers, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (panics with the body's text if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} answered something that is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` text of a JSON error answer (panics if there is none).
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no `error` in {}", self.json()))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        Http(Client::builder(TokioExecutor::new()).build_http())
    }

    pub async fn send(&self, request: http::Request<Full<Bytes>>) -> Answer {
        let uri = request.uri().clone();
        let response = self
            .0
            .request(request)
            .await
            .unwrap_or_else(|e| panic!("request to {uri} failed: {e:?}"));
        let (head, body) = response.into_parts();
        Answer {
            status: head.status.as_u16(),
            headers: head.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.send(
            http::Request::get(url)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
    }

    pub async fn request(&self, method: &str, url: &str) -> Answer {
        self.send(
            http::Request::builder()
                .method(method)
                .uri(url)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
    }

    /// `POST url` with `body` of `content_type`.
    pub async fn post_body(&self, url: &str, content_type: &str, body: &str) -> Answer {
        self.send(
            http::Request::post(url)
                .header("content-type", content_type)
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
    }

    /// `POST url` with a `multipart/form-data` body of `parts`.
    pub async fn post_multipart(&self, url: &str, parts: &[Part]) -> Answer {
        let (content_type, body) = multipart(parts);
        self.send(
            http::Request::post(url)
                .header("content-type", content_type)
                .body(Full::new(body))
                .unwrap(),
        )
        .await
    }

    /// Uploads `data` as `key` to the service's default bucket; panics unless it is stored.
    pub async fn upload(&self, service: &str, key: &str, data: &[u8]) -> serde_json::Value {
        let answer = self
            .post_multipart(
                &format!("{service}/item"),
                &[
                    Part::text("key", key),
                    Part::file("file", "upload.bin", data),
                ],
            )
            .await;
        assert_eq!(
            answer.status,
            201,
            "upload of {key}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }
}

/// One part of a multipart form.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl Part {
    pub fn text(name: &str, value: &str) -> Self {
        Part {
            name: name.into(),
            file_name: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        }
    }

    pub fn file(name: &str, file_name: &str, data: &[u8]) -> Self {
        Part {
            name: name.into(),
            file_name: Some(file_name.into()),
            content_type: Some("application/octet-stream".into()),
            data: data.to_vec(),
        }
    }
}

/// A `multipart/form-data` body: its content type (with the boundary) and bytes.
pub fn multipart(parts: &[Part]) -> (String, Bytes) {
    let boundary = format!("----upload-service-test-{:016x}", fastrand::u64(..));
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(file_name) = &part.file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = &part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into(),
    )
}

/// Bytes that are not text: every byte value, in a random order.
pub fn random_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|_| fastrand::u8(..)).collect()
}

/// A key prefix no other test (or earlier run against the same server) uses.
pub fn unique_prefix(test: &str) -> String {
    format!("{test}-{:08x}/", fastrand::u32(..))
}

/// The service's binary, which cargo builds before it runs these tests.
pub fn example_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_upload-service"))
}

// --- the built binary, as a process ---------------------------------------------------------

/// The binary with only the variables given here (and no AWS settings from the machine).
pub fn binary_command(vars: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(example_binary());
    command
        .env_clear()
        .env(
            "PATH",
            crate::support::environment::var("PATH").unwrap_or_default(),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The variables that point the binary at the local server: the base user's keys, the region,
/// `endpoint` for STS and S3 (the server, or a proxy in front of it), its role and bucket.
pub fn moto_vars<'a>(moto: &'a Moto, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", moto.base_access_key_id.as_str()),
        (
            "AWS_SECRET_ACCESS_KEY",
            moto.base_secret_access_key.as_str(),
        ),
        ("AWS_REGION", moto.region.as_str()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("UPLOAD_ROLE_ARN", moto.role_arn.as_str()),
        ("UPLOAD_BUCKET", moto.bucket.as_str()),
    ]
}

/// The binary, running: the URL it printed, and its log (standard error) once it has ended.
pub struct Running {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub url: String,
    pub logs: tokio::task::JoinHandle<String>,
    /// Standard output after the first line.
    pub stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Running {
    /// Starts the binary with `vars` and `args`; returns once it printed its address.
    pub async fn start(vars: &[(&str, &str)], args: &[&str]) -> Running {
        let mut child = binary_command(vars).args(args).spawn().unwrap();
        let pid = child.id().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let logs = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the service starts within 30 s")
            .unwrap()
            .expect("a line on stdout");
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Running {
            child,
            pid,
            url,
            logs,
            stdout,
        }
    }

    /// The URL to reach it on loopback (it prints the address it is bound to, maybe 0.0.0.0).
    pub fn loopback_url(&self) -> String {
        let port = self.url.rsplit(':').next().unwrap();
        format!("http://127.0.0.1:{port}")
    }

    pub fn send_sigterm(&self) {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    }

    /// Stops it with SIGTERM; its exit code and log.
    pub async fn stop(mut self) -> (Option<i32>, String) {
        self.send_sigterm();
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the service exits after SIGTERM")
            .unwrap();
        (status.code(), self.logs.await.unwrap())
    }
}

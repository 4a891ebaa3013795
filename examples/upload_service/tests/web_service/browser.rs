//! The upload service's page in a real browser: headless Chromium from the distribution's
//! packages (`scripts/browser.sh install`), driven over WebDriver (chromedriver). It opens the
//! page, uploads a file through the form, sees it in the list, downloads it through the
//! presigned link and compares the bytes; a screenshot of the page after the upload is written
//! to `target/upload_service_page.png`. And another site's page, whose form posts to the
//! service as soon as it loads, is refused.
//!
//! Runs against the non-enforcing local server (the download is a presigned request, which
//! moto 5.2.5 cannot check while enforcing). Without Chromium the tests are skipped with a
//! message, unless `CC_REQUIRE_BROWSER` is set (as `scripts/test.sh` does): then they fail.

use crate::{service, support};

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use service::{random_bytes, unique_prefix};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::moto::Moto;

/// Chromium and chromedriver, or `None` (with a message) when they are missing and
/// `CC_REQUIRE_BROWSER` is not set; missing while it is set, the test fails.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let path = |var: &str, default: &str| {
        support::environment::var(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let chromium = path("CC_CHROMIUM", "/usr/bin/chromium");
    let chromedriver = path("CC_CHROMEDRIVER", "/usr/bin/chromedriver");
    if chromium.exists() && chromedriver.exists() {
        return Some((chromium, chromedriver));
    }
    let message = format!(
        "{} or {} is missing: install them with scripts/browser.sh install",
        chromium.display(),
        chromedriver.display()
    );
    if support::environment::var("CC_REQUIRE_BROWSER").is_some() {
        panic!("CC_REQUIRE_BROWSER is set but {message}");
    }
    eprintln!("SKIPPED the browser test: {message} (set CC_REQUIRE_BROWSER to fail instead)");
    None
}

/// chromedriver, started on a free loopback port in a process group of its own; the group
/// (chromedriver and the browsers it started) is killed when dropped, so that a test that fails
/// before it closes its browser leaves no Chromium behind.
struct Driver {
    url: String,
    process: tokio::process::Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(group) = self.process.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Driver {
    async fn start(chromedriver: &Path) -> Driver {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let process = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
        let driver = Driver {
            url: format!("http://127.0.0.1:{port}"),
            process,
        };
        let web = WebDriver::new(&driver.url);
        for _ in 0..200 {
            if let Ok(status) = web.try_call("GET", "/status", None).await
                && status["value"]["ready"] == true
            {
                return driver;
            }
            TokioSleep::new().sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not get ready on port {port} within 20 s");
    }
}

/// The few WebDriver commands the test needs, as JSON over HTTP.
#[derive(Clone)]
struct WebDriver {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebDriver {
    fn new(base: &str) -> Self {
        WebDriver {
            base: base.to_owned(),
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{method} {path}: HTTP {status}: {value}"))
        }
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = (method != "GET" && method != "DELETE").then_some(body);
        match self.try_call(method, path, body).await {
            Ok(value) => value["value"].clone(),
            Err(e) => panic!("WebDriver: {e}"),
        }
    }
}

/// One browser session (a headless Chromium).
struct Browser {
    web: WebDriver,
    session: String,
}

impl Browser {
    async fn open(web: WebDriver, chromium: &Path, profile: &Path, downloads: &Path) -> Browser {
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    // Root on a closed network: no sandbox, and nothing that phones home.
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1000,720",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                    "prefs": {
                        "download.default_directory": downloads,
                        "download.prompt_for_download": false,
                        "download.directory_upgrade": true,
                        "safebrowsing.enabled": false,
                    },
                },
            }},
        });
        let session = web.call("POST", "/session", capabilities).await;
        let session = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {session}"))
            .to_owned();
        Browser { web, session }
    }

    async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        self.web
            .call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let element = self
            .cmd(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        element[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.cmd("POST", &format!("/element/{element}/clear"), json!({}))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Chooses `path` in the file input `css`, as a user picking it in the dialog.
    async fn choose_file(&self, css: &str, path: &Path) {
        let input = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{input}/value"),
            json!({ "text": path.display().to_string() }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.cmd("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// [`Browser::script`], or `None` when the browser cannot run it now (between two pages).
    async fn try_script(&self, script: &str, args: Value) -> Option<Value> {
        self.web
            .try_call(
                "POST",
                &format!("/session/{}/execute/sync", self.session),
                Some(json!({ "script": script, "args": args })),
            )
            .await
            .ok()
            .map(|answer| answer["value"].clone())
    }

    /// Waits (up to 20 s) until `script` returns something truthy; returns it.
    async fn until(&self, what: &str, script: &str, args: Value) -> Value {
        for _ in 0..200 {
            if let Some(value) = self.try_script(script, args.clone()).await
                && !(value.is_null() || value == false || value == "")
            {
                return value;
            }
            TokioSleep::new().sleep(Duration::from_millis(100)).await;
        }
        let shown = self
            .try_script(
                "const m = document.getElementById('message'); \
                 return location.href + ': ' + (m ? m.textContent : document.body.innerText)",
                json!([]),
            )
            .await;
        panic!("timed out waiting until {what}; the browser shows {shown:?}");
    }

    async fn screenshot(&self, path: &Path) {
        let png = self.cmd("GET", "/screenshot", json!({})).await;
        let png = aws_smithy_types::base64::decode(png.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG image");
        std::fs::write(path, png).unwrap();
    }

    async fn close(self) {
        let _ = self
            .web
            .try_call("DELETE", &format!("/session/{}", self.session), None)
            .await;
    }
}

/// The file the browser saved in `dir` under `name`, once it is complete.
async fn downloaded(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    for _ in 0..300 {
        let partial = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
        if path.exists() && !partial {
            return std::fs::read(&path).unwrap();
        }
        TokioSleep::new().sleep(Duration::from_millis(100)).await;
    }
    let present: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    panic!(
        "{name} was not downloaded to {} within 30 s; there: {present:?}",
        dir.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_uploads_lists_and_downloads_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        return;
    };

    let moto = Moto::open();
    let service = service::start(&moto, service::settings(&moto)).await;
    let scratch = tempfile::tempdir().unwrap();
    let (profile, downloads) = (
        scratch.path().join("profile"),
        scratch.path().join("downloads"),
    );
    std::fs::create_dir_all(&downloads).unwrap();
    let upload_dir = scratch.path().join("upload");
    std::fs::create_dir_all(&upload_dir).unwrap();
    let file_name = "quarterly-report.bin";
    let data = random_bytes(150_000);
    std::fs::write(upload_dir.join(file_name), &data).unwrap();
    let prefix = unique_prefix("browser");
    let key = format!("{prefix}{file_name}");

    let driver = Driver::start(&chromedriver).await;
    let browser = Browser::open(WebDriver::new(&driver.url), &chromium, &profile, &downloads).await;
    browser.go(&format!("{}/", service.url)).await;
    browser
        .until(
            "the page shows a valid session",
            "return document.getElementById('health').textContent.includes('valid until')",
            json!([]),
        )
        .await;

    // Choose the file, name the key, upload with the form's button.
    browser
        .choose_file("#file", &upload_dir.join(file_name))
        .await;
    let suggested = browser
        .script("return document.getElementById('key').value", json!([]))
        .await;
    assert_eq!(
        suggested,
        format!("uploads/{file_name}"),
        "the key is suggested from the name"
    );
    browser.type_into("#key", &key).await;
    browser.type_into("#prefix", &prefix).await;
    browser.click("#upload").await;
    let message = browser
        .until(
            "the upload is reported",
            "const m = document.getElementById('message'); \
             return m.className ? m.className + ': ' + m.textContent : ''",
            json!([]),
        )
        .await;
    assert!(
        message.as_str().unwrap().starts_with("ok: Stored"),
        "the page says {message}"
    );
    // The list (filtered by the prefix) shows the new object.
    browser
        .until(
            "the list shows the upload",
            "return document.querySelector(`tr[data-key=\"${arguments[0]}\"]`) !== null",
            json!([key]),
        )
        .await;
    let row = browser
        .script(
            "return document.querySelector(`tr[data-key=\"${arguments[0]}\"]`).innerText",
            json!([key]),
        )
        .await;
    assert!(
        row.as_str().unwrap().contains("146.5 KiB"),
        "the row: {row}"
    );

    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("upload_service_page.png");
    browser.screenshot(&target).await;
    println!(
        "screenshot of the page after the upload: {}",
        target.display()
    );

    // Download through the presigned link (the row's button asks the service for it).
    browser
        .click(&format!("tr[data-key=\"{key}\"] button.download"))
        .await;
    let bytes = downloaded(&downloads, file_name).await;
    assert_eq!(bytes.len(), data.len());
    assert!(bytes == data, "the downloaded bytes are the uploaded ones");
    let message = browser
        .script(
            "return document.getElementById('message').textContent",
            json!([]),
        )
        .await;
    assert!(
        message.as_str().unwrap().contains("link valid for 2400 s"),
        "{message}"
    );
    browser.close().await;

    // Page load, health checks, upload, listing and link: one AssumeRole.
    assert_eq!(service.proxy.sts_requests(), 1);
}

/// Another site: `GET /NAME` is a page whose form posts to `service`'s `/item` as soon as it
/// loads, the way a malicious page would (a multipart form needs no CORS preflight), with the
/// key `PREFIX` + `NAME` and a text field named `file`. Listens on `port` of 127.0.0.1 and, if
/// the machine has IPv6, of ::1 (the browser may try either for `localhost`).
async fn attacker_site(service: &str, prefix: &str) -> u16 {
    let (service, prefix) = (service.to_owned(), prefix.to_owned());
    let page = move |axum::extract::Path(name): axum::extract::Path<String>| {
        let (service, prefix) = (service.clone(), prefix.clone());
        async move {
            axum::response::Html(format!(
                "<!doctype html><html><body onload=\"document.forms[0].submit()\">\
                 <form method=\"post\" enctype=\"multipart/form-data\" action=\"{service}/item\">\
                 <input name=\"key\" value=\"{prefix}{name}\">\
                 <input name=\"file\" value=\"written by another site\">\
                 </form></body></html>"
            ))
        }
    };
    let site = axum::Router::new().route("/{name}", axum::routing::get(page));
    let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = v4.local_addr().unwrap().port();
    let v6 = tokio::net::TcpListener::bind(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)))
        .await;
    for listener in std::iter::once(v4).chain(v6.ok()) {
        let site = site.clone();
        tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    }
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_form_cannot_post_to_the_service_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_paths() else {
        return;
    };
    let moto = Moto::open();
    let service = service::start(&moto, service::settings(&moto)).await;
    let prefix = unique_prefix("cross-site-form");
    let attacker = attacker_site(&service.url, &prefix).await;
    let scratch = tempfile::tempdir().unwrap();
    let driver = Driver::start(&chromedriver).await;
    let browser = Browser::open(
        WebDriver::new(&driver.url),
        &chromium,
        &scratch.path().join("profile"),
        scratch.path(),
    )
    .await;

    // Another site (localhost is not 127.0.0.1's site), and another origin of the same site.
    for (what, page) in [
        (
            "cross-site",
            format!("http://localhost:{attacker}/cross-site"),
        ),
        (
            "same-site",
            format!("http://127.0.0.1:{attacker}/same-site"),
        ),
    ] {
        browser.go(&page).await;
        let shown = browser
            .until(
                &format!("the {what} form's answer is shown"),
                "return location.href.startsWith(arguments[0]) \
                 && document.readyState === 'complete' ? document.body.innerText : ''",
                json!([format!("{}/item", service.url)]),
            )
            .await;
        let shown = shown.as_str().unwrap();
        // Chromium may show a JSON answer with controls of its own around it.
        let json_text = &shown[shown.find('{').unwrap_or(0)..=shown.rfind('}').unwrap_or(0)];
        let answer: Value = serde_json::from_str(json_text)
            .unwrap_or_else(|e| panic!("{what}: the browser shows no JSON answer ({e}): {shown}"));
        assert_eq!(
            answer["error"], "cross-site request refused",
            "{what}: the service refused the form: {answer}"
        );
        assert!(answer["request_id"].is_string(), "{answer}");
    }
    browser.close().await;

    let stored = moto
        .s3(moto.admin_credentials())
        .list_objects_v2()
        .bucket(&moto.bucket)
        .prefix(&prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.contents().len(),
        0,
        "nothing written by the other site's forms: {:?}",
        stored.contents()
    );
    assert_eq!(
        service.proxy.sts_requests(),
        0,
        "no AWS call for a refused request"
    );
}

/// With users (`--users`), on the enforcing server: the page asks for the token, uploads
/// through the service under the user's prefix, then straight to S3 with the session
/// `/credentials` hands out, signed in the browser (SigV4 in WebCrypto) — the enforcing server
/// checks that signature. Both objects are the chosen bytes, under the user's prefix; one
/// `AssumeRole` for the user. The S3 endpoint the page uploads to is a proxy in front of moto
/// that answers the CORS preflight as S3 does with a bucket CORS rule (moto 5.2.5 crashes on
/// preflights while enforcing) and forwards the signed upload to moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_users_the_page_signs_in_and_uploads_straight_to_s3_in_a_real_browser() {
    use crate::users::{ALICE, USERS};
    use support::fault_proxy::FaultProxy;
    let Some((chromium, chromedriver)) = browser_paths() else {
        return;
    };
    let moto = Moto::enforcing();
    let s3_for_browsers = FaultProxy::start(&moto.endpoint).await;
    s3_for_browsers.answer_cors_preflights();
    let mut settings = service::settings(&moto);
    settings.s3_endpoint = Some(s3_for_browsers.endpoint.clone());
    let prefix = unique_prefix("browser-users");
    let service =
        service::start_with_users(&moto, settings, USERS, &format!("{prefix}{{user}}/")).await;
    let scratch = tempfile::tempdir().unwrap();
    let upload_dir = scratch.path().join("upload");
    std::fs::create_dir_all(&upload_dir).unwrap();
    let file = upload_dir.join("photo.bin");
    let data = random_bytes(80_000);
    std::fs::write(&file, &data).unwrap();

    let driver = Driver::start(&chromedriver).await;
    let browser = Browser::open(
        WebDriver::new(&driver.url),
        &chromium,
        &scratch.path().join("profile"),
        scratch.path(),
    )
    .await;
    browser.go(&format!("{}/", service.url)).await;
    browser
        .until(
            "the page asks for a token",
            "return !document.getElementById('signin').hidden \
             && document.getElementById('message').textContent.includes('Enter your token')",
            json!([]),
        )
        .await;
    browser.type_into("#token", ALICE).await;
    browser.click("#use-token").await;
    let who = browser
        .until(
            "the page shows the user's prefix",
            "return document.getElementById('who').textContent",
            json!([]),
        )
        .await;
    assert_eq!(who, format!("Your keys are under {prefix}alice/"));

    let message = "const m = document.getElementById('message'); \
                   return m.className ? m.className + ': ' + m.textContent : ''";
    browser.choose_file("#file", &file).await;
    for (key, button, said) in [
        ("through-the-service.bin", "#upload", "ok: Stored "),
        ("straight-to-s3.bin", "#direct", "ok: Stored "),
    ] {
        browser
            .script(
                "document.getElementById('message').className = ''",
                json!([]),
            )
            .await;
        browser.type_into("#key", key).await;
        browser.click(button).await;
        let shown = browser
            .until(&format!("{button} is reported"), message, json!([]))
            .await;
        let shown = shown.as_str().unwrap();
        assert!(shown.starts_with(said), "{button}: the page says {shown}");
        assert!(shown.contains(&format!("{prefix}alice/{key}")), "{shown}");
        browser
            .until(
                "the list shows it",
                "return document.querySelector(`tr[data-key=\"${arguments[0]}\"]`) !== null",
                json!([format!("{prefix}alice/{key}")]),
            )
            .await;
    }
    let direct = browser
        .script(
            "return document.getElementById('message').textContent",
            json!([]),
        )
        .await;
    assert!(
        direct.as_str().unwrap().contains("in S3 directly"),
        "{direct}"
    );
    browser.close().await;

    let admin = moto.s3(moto.admin_credentials());
    for key in ["through-the-service.bin", "straight-to-s3.bin"] {
        let object = admin
            .get_object()
            .bucket(&moto.bucket)
            .key(format!("{prefix}alice/{key}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} is not in S3: {e:?}"));
        assert!(
            object.body.collect().await.unwrap().into_bytes() == data,
            "{key}: the chosen bytes"
        );
    }
    let alice_calls = service
        .proxy
        .sts_bodies()
        .iter()
        .filter(|b| b.contains("RoleSessionName=upload-service-test-alice"))
        .count();
    assert_eq!(alice_calls, 1, "one AssumeRole for the user's session");
}

//! The upload service's page in a real browser: headless Chromium from the distribution's
//! packages (`scripts/browser.sh install`), driven over WebDriver (chromedriver). It opens the
//! page, uploads a file through the form, sees it in the list, downloads it through the
//! presigned link and compares the bytes; a screenshot of the page after the upload is written
//! to `target/upload_service_page.png`.
//!
//! Runs against the non-enforcing local server (the download is a presigned request, which
//! moto 5.2.5 cannot check while enforcing). Without Chromium it is skipped with a message,
//! unless `CC_REQUIRE_BROWSER` is set (as `scripts/test.sh` does): then it fails.

use crate::{service, support};

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use service::{random_bytes, unique_prefix};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::moto::Moto;

fn browser_paths() -> (PathBuf, PathBuf) {
    let path = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    (
        path("CC_CHROMIUM", "/usr/bin/chromium"),
        path("CC_CHROMEDRIVER", "/usr/bin/chromedriver"),
    )
}

/// chromedriver, started on a free loopback port; killed when dropped.
struct Driver {
    url: String,
    _process: tokio::process::Child,
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
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
        let driver = Driver {
            url: format!("http://127.0.0.1:{port}"),
            _process: process,
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

    /// Waits (up to 20 s) until `script` returns something truthy; returns it.
    async fn until(&self, what: &str, script: &str, args: Value) -> Value {
        for _ in 0..200 {
            let value = self.script(script, args.clone()).await;
            if !(value.is_null() || value == false || value == "") {
                return value;
            }
            TokioSleep::new().sleep(Duration::from_millis(100)).await;
        }
        let message = self
            .script(
                "return document.getElementById('message').textContent",
                json!([]),
            )
            .await;
        panic!("timed out waiting until {what}; the page says {message}");
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
    let (chromium, chromedriver) = browser_paths();
    if !chromium.exists() || !chromedriver.exists() {
        let message = format!(
            "{} or {} is missing: install them with scripts/browser.sh install",
            chromium.display(),
            chromedriver.display()
        );
        if std::env::var_os("CC_REQUIRE_BROWSER").is_some() {
            panic!("CC_REQUIRE_BROWSER is set but {message}");
        }
        eprintln!("SKIPPED the browser test: {message} (set CC_REQUIRE_BROWSER to fail instead)");
        return;
    }

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
    let file_input = browser.find("#file").await;
    browser
        .cmd(
            "POST",
            &format!("/element/{file_input}/value"),
            json!({ "text": upload_dir.join(file_name).display().to_string() }),
        )
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

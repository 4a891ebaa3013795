//! An in-process STS: answers AssumeRole and GetSessionToken like STS does (XML body, `Date`
//! header), issues a new access key per call, counts calls, and can be scripted to fail, to
//! hang, to be slow, or to hold every answer until the test releases it. For the benches, it
//! keeps no record per call when asked (`quiet`: a million calls cost no memory of its own),
//! issues session tokens as long as real ones (`with_session_tokens_of`), and answers anything
//! that is not an STS call as an empty S3 bucket list (`other_calls`).

use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::date_time::{DateTime, Format};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// What the fake answers to one call.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A session lasting this long on the server's clock.
    Session(Duration),
    /// A session whose `Expiration` is `offset` from the server's now (may be in the past)
    /// and, optionally, no `Date` header.
    SessionExpiringIn { offset_secs: i64, with_date: bool },
    /// A session lasting `lifetime` on the server's clock, in an answer whose `Date` lies by
    /// `date_offset_secs` (a broken proxy, a lying server).
    SessionDated {
        lifetime: Duration,
        date_offset_secs: i64,
    },
    /// An STS error document with this status and code.
    Error { status: u16, code: &'static str },
    /// An STS error document with this status, code and message.
    ErrorMessage {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
    /// Never answers.
    Hang,
    /// The HTTP client panics (after the call is counted and logged as a failure).
    Panic,
}

#[derive(Debug)]
struct State {
    calls: AtomicUsize,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    /// The server's clock (`Date`, `Expiration`); may differ from the provider's.
    clock: SharedTimeSource,
    /// When set, every answer waits for a permit: tests hold the refresh in flight.
    gate: Mutex<Option<Arc<Semaphore>>>,
    bodies: Mutex<Vec<String>>,
    /// Each call: the server clock when it came, and whether it was answered with a session.
    log: Mutex<Vec<(std::time::SystemTime, bool)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Calls in flight per `RoleSessionName`, and the most ever in flight for one name.
    in_flight_by_name: Mutex<std::collections::HashMap<String, usize>>,
    max_in_flight_one_name: AtomicUsize,
    /// When set, every answer comes this long (on this sleep) after the request.
    latency: Mutex<Option<(SharedAsyncSleep, Duration)>>,
    /// Each session issued: its access key id and its `Expiration` (server clock).
    issued: Mutex<Vec<(String, std::time::SystemTime)>>,
    /// The server clock when each call arrived (before any latency).
    arrivals: Mutex<Vec<std::time::SystemTime>>,
    /// Each call's URI and `Authorization` header.
    requests: Mutex<Vec<(String, String)>>,
    /// Whether each call is recorded (bodies, log, arrivals, requests, issued, in flight by
    /// name): not for benches that make millions of calls and measure the heap.
    recording: std::sync::atomic::AtomicBool,
    /// Session tokens are padded to this many characters (real ones run to about 1,000).
    token_len: AtomicUsize,
    /// Requests that were not STS calls (S3), answered with an empty bucket list.
    other_calls: AtomicUsize,
}

/// The fake STS. Clones share state.
#[derive(Debug, Clone)]
pub struct FakeSts(Arc<State>);

impl FakeSts {
    /// Answers every call with a one-hour session stamped by `clock`.
    pub fn new(clock: impl TimeSource + 'static) -> Self {
        FakeSts(Arc::new(State {
            calls: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Reply::Session(Duration::from_secs(3600))),
            clock: SharedTimeSource::new(clock),
            gate: Mutex::new(None),
            bodies: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            in_flight_by_name: Mutex::new(Default::default()),
            max_in_flight_one_name: AtomicUsize::new(0),
            latency: Mutex::new(None),
            issued: Mutex::new(Vec::new()),
            arrivals: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            recording: std::sync::atomic::AtomicBool::new(true),
            token_len: AtomicUsize::new(0),
            other_calls: AtomicUsize::new(0),
        }))
    }

    /// Keeps no record of each call (no bodies, log, arrivals, requests or issued keys; no
    /// count per session name): for benches that make millions of calls and measure the heap.
    /// Counts stay.
    pub fn quiet(self) -> Self {
        self.0.recording.store(false, Ordering::SeqCst);
        self
    }

    /// Issues session tokens of `len` characters, as long as real STS tokens run.
    pub fn with_session_tokens_of(self, len: usize) -> Self {
        self.0.token_len.store(len, Ordering::SeqCst);
        self
    }

    /// Requests received that were not STS calls (S3).
    pub fn other_calls(&self) -> usize {
        self.0.other_calls.load(Ordering::SeqCst)
    }

    fn recording(&self) -> bool {
        self.0.recording.load(Ordering::Relaxed)
    }

    /// The answer for every call not scripted with `then`.
    pub fn always(&self, reply: Reply) -> &Self {
        *self.0.default.lock().unwrap() = reply;
        self
    }

    /// Queues the answer to the next unscripted call.
    pub fn then(&self, reply: Reply) -> &Self {
        self.0.script.lock().unwrap().push_back(reply);
        self
    }

    /// STS calls received so far (SDK retries count as calls).
    pub fn calls(&self) -> usize {
        self.0.calls.load(Ordering::SeqCst)
    }

    /// Request bodies received so far.
    pub fn bodies(&self) -> Vec<String> {
        self.0.bodies.lock().unwrap().clone()
    }

    /// Each call: the server clock when it came, and whether a session was answered.
    pub fn log(&self) -> Vec<(std::time::SystemTime, bool)> {
        self.0.log.lock().unwrap().clone()
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::SeqCst)
    }

    /// The most calls that were in flight at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.0.max_in_flight.load(Ordering::SeqCst)
    }

    /// The most calls ever in flight at once for one `RoleSessionName` (one scope).
    pub fn max_in_flight_one_session_name(&self) -> usize {
        self.0.max_in_flight_one_name.load(Ordering::SeqCst)
    }

    /// Holds every answer until `release` is called.
    pub fn hold(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.0.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Answers every call `latency` after it came, waiting on `sleep` (a test's controlled
    /// sleep, so that a slow STS costs no real time).
    pub fn slow(&self, sleep: impl AsyncSleep + 'static, latency: Duration) -> &Self {
        *self.0.latency.lock().unwrap() = Some((SharedAsyncSleep::new(sleep), latency));
        self
    }

    /// Each call's URI and `Authorization` header (which names the signing region).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.0.requests.lock().unwrap().clone()
    }

    /// The server clock when each call arrived, before any latency.
    pub fn arrivals(&self) -> Vec<std::time::SystemTime> {
        self.0.arrivals.lock().unwrap().clone()
    }

    /// The `Expiration` (server clock) of the session issued with this access key id.
    pub fn expiration_of(&self, access_key_id: &str) -> Option<std::time::SystemTime> {
        self.0
            .issued
            .lock()
            .unwrap()
            .iter()
            .find(|(key, _)| key == access_key_id)
            .map(|(_, expiration)| *expiration)
    }

    /// Lets held answers go, now and from now on.
    pub fn release(&self) {
        if let Some(gate) = self.0.gate.lock().unwrap().take() {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        // Numbered under the bodies' lock: the n-th session (ASIAFAKE000n) answers the n-th
        // body, also when calls are answered concurrently.
        let n = if self.recording() {
            let mut bodies = self.0.bodies.lock().unwrap();
            bodies.push(body.clone());
            self.0.calls.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            self.0.calls.fetch_add(1, Ordering::SeqCst) + 1
        };
        // The operation the request names (its answer's element names follow it).
        let operation = [
            "GetSessionToken",
            "GetFederationToken",
            "AssumeRoleWithWebIdentity",
            "AssumeRoleWithSAML",
        ]
        .into_iter()
        .find(|name| body.contains(&format!("Action={name}&")))
        .unwrap_or("AssumeRole");
        let reply = self
            .0
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.0.default.lock().unwrap().clone());
        let now = self.0.clock.now();
        let answered = matches!(
            reply,
            Reply::Session(_) | Reply::SessionExpiringIn { .. } | Reply::SessionDated { .. }
        );
        let offset = |secs: i64| {
            if secs >= 0 {
                now + Duration::from_secs(secs as u64)
            } else {
                now - Duration::from_secs(secs.unsigned_abs())
            }
        };
        let mut date = now;
        if self.recording() {
            self.0.log.lock().unwrap().push((now, answered));
        }
        let token_len = self.0.token_len.load(Ordering::Relaxed);
        let session_xml =
            |operation, n, expiration| session_xml(operation, n, expiration, token_len);
        let (status, xml, with_date) = match reply {
            Reply::Hang => return None,
            Reply::Panic => panic!("FakeSts: the HTTP client panics (scripted)"),
            Reply::Session(lifetime) => {
                if self.recording() {
                    self.0
                        .issued
                        .lock()
                        .unwrap()
                        .push((format!("ASIAFAKE{n:04}"), now + lifetime));
                }
                (200, session_xml(operation, n, now + lifetime), true)
            }
            Reply::SessionExpiringIn {
                offset_secs,
                with_date,
            } => (
                200,
                session_xml(operation, n, offset(offset_secs)),
                with_date,
            ),
            Reply::SessionDated {
                lifetime,
                date_offset_secs,
            } => {
                date = offset(date_offset_secs);
                (200, session_xml(operation, n, now + lifetime), true)
            }
            Reply::Error { status, code } => {
                (status, error_xml(code, &format!("fake {code}"), n), true)
            }
            Reply::ErrorMessage {
                status,
                code,
                message,
            } => (status, error_xml(code, message, n), true),
        };
        // A streaming body, as a real HTTP client returns: the SDK traces the response at TRACE
        // before reading it, and an in-memory body would appear there in full.
        let body = SdkBody::from_body_1_x(http_body_util::Full::new(bytes::Bytes::from(xml)));
        let mut response = HttpResponse::new(StatusCode::try_from(status).unwrap(), body);
        response
            .headers_mut()
            .insert("content-type", "text/xml".to_owned());
        if with_date {
            let date = DateTime::from(date).fmt(Format::HttpDate).unwrap();
            response.headers_mut().insert("date", date);
        }
        Some(response)
    }
}

/// The secret key the fake issues with access key number `n`.
pub fn fake_secret(n: usize) -> String {
    format!("fake-secret-key-{n:04}-do-not-print")
}

/// The session token the fake issues with access key number `n`.
pub fn fake_token(n: usize) -> String {
    format!("fake-session-token-{n:04}-do-not-print")
}

fn error_xml(code: &str, message: &str, n: usize) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>fake-request-{n}</RequestId></ErrorResponse>"
    )
}

fn session_xml(
    operation: &str,
    n: usize,
    expiration: std::time::SystemTime,
    token_len: usize,
) -> String {
    let expiration = DateTime::from(expiration).fmt(Format::DateTime).unwrap();
    let mut token = fake_token(n);
    while token.len() < token_len {
        token.push('x');
    }
    let user = if operation.starts_with("AssumeRole") {
        "<AssumedRoleUser><AssumedRoleId>AROAFAKE:test-session</AssumedRoleId>\
         <Arn>arn:aws:sts::123456789012:assumed-role/test-role/test-session</Arn></AssumedRoleUser>"
    } else {
        ""
    };
    format!(
        "<{operation}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <{operation}Result>{user}<Credentials>\
         <AccessKeyId>ASIAFAKE{n:04}</AccessKeyId>\
         <SecretAccessKey>{secret}</SecretAccessKey>\
         <SessionToken>{token}</SessionToken>\
         <Expiration>{expiration}</Expiration>\
         </Credentials></{operation}Result>\
         <ResponseMetadata><RequestId>fake-request-{n}</RequestId></ResponseMetadata>\
         </{operation}Response>",
        secret = fake_secret(n),
    )
}

impl HttpConnector for FakeSts {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        let is_sts = request
            .body()
            .bytes()
            .is_none_or(|body| body.starts_with(b"Action="));
        if !is_sts {
            this.0.other_calls.fetch_add(1, Ordering::SeqCst);
            return HttpConnectorFuture::ready(Ok(empty_bucket_list()));
        }
        HttpConnectorFuture::new(async move {
            let now = this.0.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            this.0.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let name = request
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
                .split('&')
                .find_map(|pair| pair.strip_prefix("RoleSessionName="))
                .unwrap_or_default()
                .to_owned();
            if this.recording() {
                let mut by_name = this.0.in_flight_by_name.lock().unwrap();
                let count = by_name.entry(name.clone()).or_default();
                *count += 1;
                this.0
                    .max_in_flight_one_name
                    .fetch_max(*count, Ordering::SeqCst);
            }
            // Counted out however the call ends, including when it is dropped (a timeout).
            struct Out(Arc<State>, String);
            impl Drop for Out {
                fn drop(&mut self) {
                    self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
                    if let Some(count) = self.0.in_flight_by_name.lock().unwrap().get_mut(&self.1) {
                        *count -= 1;
                    }
                }
            }
            let _out = Out(this.0.clone(), name);
            if this.recording() {
                this.0.arrivals.lock().unwrap().push(this.0.clock.now());
                this.0.requests.lock().unwrap().push((
                    request.uri().to_owned(),
                    request
                        .headers()
                        .get("authorization")
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
            let latency = this.0.latency.lock().unwrap().clone();
            if let Some((sleep, latency)) = latency {
                sleep.sleep(latency).await;
            }
            let gate = this.0.gate.lock().unwrap().clone();
            if let Some(gate) = gate {
                let _permit = gate.acquire().await;
            }
            match this.answer(&request) {
                Some(response) => Ok(response),
                None => std::future::pending().await,
            }
        })
    }
}

/// What S3 answers `ListBuckets` with when there is no bucket: the benches' S3 clients call it.
fn empty_bucket_list() -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(200).unwrap(),
        SdkBody::from("<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>"),
    )
}

impl HttpClient for FakeSts {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

//! A fault-injecting HTTP proxy in front of the local moto server, on 127.0.0.1: every STS
//! request (a POST whose form body has `Action=`) takes the next scripted [`Fault`], other
//! requests pass. It serves until dropped, on plain HTTP or behind TLS
//! ([`FaultProxy::start_tls`]).

use aws_smithy_async::time::TimeSource;
use aws_smithy_types::date_time::{DateTime, Format};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::certificates::LoopbackCertificates;

/// What the proxy does to one STS request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward it unchanged.
    Pass,
    /// Forward it after this long.
    Latency(Duration),
    /// Answer this status with an STS error document of this code, without forwarding.
    Status(u16, &'static str),
    /// Close the connection without answering.
    Drop,
    /// Never answer (until the client gives up).
    Hang,
    /// Forward it and mangle STS's answer.
    Mangle(Mangle),
}

/// Ways to ruin a successful STS answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mangle {
    TruncatedXml,
    NoCredentials,
    EmptyAccessKey,
    ExpirationInThePast,
    UnparseableExpiration,
    /// The answer's `Date` header moved by this many seconds (negative: into the past), its
    /// body untouched: a broken proxy or a lying server.
    DateShiftedBy(i64),
}

struct State {
    script: Mutex<VecDeque<Fault>>,
    default: Mutex<Fault>,
    sts_requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    upstream: String,
    /// When set, successful STS answers get an `Expiration` this long after their `Date`.
    session_lifetime: Mutex<Option<Duration>>,
    /// The form body of every STS request, in order.
    sts_bodies: Mutex<Vec<String>>,
    /// Answer CORS preflights itself (see [`FaultProxy::answer_cors_preflights`]).
    cors: std::sync::atomic::AtomicBool,
}

/// The running proxy. Dropping it stops the listener.
pub struct FaultProxy {
    pub endpoint: String,
    ca_pem: Option<String>,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (the moto endpoint) on a free loopback port.
    pub async fn start(upstream: &str) -> Self {
        Self::start_with(upstream, None).await
    }

    /// The same proxy behind TLS (`https://127.0.0.1:port`), its certificate issued by a CA of
    /// its own ([`FaultProxy::ca_pem`]): for clients that refuse an STS endpoint on plain HTTP
    /// (object_store's web identity provider). Upstream stays plain HTTP.
    pub async fn start_tls(upstream: &str) -> Self {
        Self::start_with(upstream, Some(LoopbackCertificates::new())).await
    }

    async fn start_with(upstream: &str, certificates: Option<LoopbackCertificates>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if certificates.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoint = format!("{scheme}://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            script: Mutex::default(),
            default: Mutex::new(Fault::Pass),
            sts_requests: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            upstream: upstream.trim_end_matches('/').to_owned(),
            session_lifetime: Mutex::new(None),
            sts_bodies: Mutex::default(),
            cors: std::sync::atomic::AtomicBool::new(false),
        });
        let tls = certificates
            .as_ref()
            .map(|c| TlsAcceptor::from(Arc::new(c.server_config())));
        let task = tokio::spawn(serve(listener, tls, state.clone()));
        FaultProxy {
            endpoint,
            ca_pem: certificates.map(|c| c.ca_pem),
            state,
            task,
        }
    }

    /// The CA a TLS proxy's certificate chains to (PEM); `None` for a plain one.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The fault for every STS request not scripted with `then`.
    pub fn always(&self, fault: Fault) {
        *self.state.default.lock().unwrap() = fault;
    }

    /// Queues the fault for the next unscripted STS request.
    pub fn then(&self, fault: Fault) {
        self.state.script.lock().unwrap().push_back(fault);
    }

    /// Shortens every session STS issues from now on to `lifetime` (its `Expiration` is
    /// rewritten to the answer's `Date` plus `lifetime`), so that a real-time test sees a
    /// whole session lifetime in a minute. moto does not check expiry, so nothing else changes.
    pub fn shorten_sessions(&self, lifetime: Duration) {
        *self.state.session_lifetime.lock().unwrap() = Some(lifetime);
    }

    /// Answers browsers' CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) as
    /// S3 does for a bucket whose CORS rule allows the asking origin, its method and headers,
    /// and adds `Access-Control-Allow-Origin` to forwarded answers that lack it. moto 5.2.5
    /// authenticates a preflight while enforcing (and crashes: a preflight carries no
    /// `Authorization`), so a page's signed upload could not reach it otherwise; the signed
    /// request itself is forwarded and checked by moto as any other.
    pub fn answer_cors_preflights(&self) {
        self.state.cors.store(true, Ordering::SeqCst);
    }

    /// STS requests seen so far.
    pub fn sts_requests(&self) -> usize {
        self.state.sts_requests.load(Ordering::SeqCst)
    }

    /// The form body (object_store: the query) of every STS request so far.
    pub fn sts_bodies(&self) -> Vec<String> {
        self.state.sts_bodies.lock().unwrap().clone()
    }

    /// The most STS requests that were in flight at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Accepts connections until the proxy is dropped (its task aborted), each served on a task
/// of its own, through TLS when an acceptor is given.
async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<State>) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (state, client, tls) = (state.clone(), client.clone(), tls.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(state.clone(), client.clone(), request));
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

/// Decrements the in-flight count however the request ends (even if the connection drops).
struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    state: Arc<State>,
    client: Client<HttpConnector, Full<Bytes>>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let cors = state.cors.load(Ordering::SeqCst);
    let origin = request.headers().get(hyper::header::ORIGIN).cloned();
    if cors && request.method() == hyper::Method::OPTIONS {
        let asked = |name| request.headers().get(name).cloned();
        if let (Some(origin), Some(method)) = (
            origin.clone(),
            asked(hyper::header::ACCESS_CONTROL_REQUEST_METHOD),
        ) {
            let mut answer = hyper::Response::builder()
                .status(200)
                .header(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
                .header(hyper::header::ACCESS_CONTROL_ALLOW_METHODS, method)
                .header(hyper::header::VARY, "Origin");
            if let Some(headers) = asked(hyper::header::ACCESS_CONTROL_REQUEST_HEADERS) {
                answer = answer.header(hyper::header::ACCESS_CONTROL_ALLOW_HEADERS, headers);
            }
            return Ok(answer.body(Full::new(Bytes::new())).unwrap());
        }
    }
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // The SDKs send STS parameters as a form body; object_store sends them as the query of an
    // empty POST.
    let query = parts.uri.query().unwrap_or_default();
    let is_sts = parts.method == hyper::Method::POST
        && (body.starts_with(b"Action=") || query.starts_with("Action="));
    let fault = if is_sts {
        state.sts_requests.fetch_add(1, Ordering::SeqCst);
        state.sts_bodies.lock().unwrap().push(if body.is_empty() {
            query.to_owned()
        } else {
            String::from_utf8_lossy(&body).into_owned()
        });
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let scripted = state.script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| state.default.lock().unwrap().clone())
    } else {
        Fault::Pass
    };
    let _in_flight = is_sts.then(|| InFlight(state.clone()));
    match fault {
        Fault::Status(status, code) => {
            return Ok(xml_response(
                status,
                format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
                     <Message>injected {code}</Message></Error>\
                     <RequestId>fault-proxy</RequestId></ErrorResponse>"
                ),
            ));
        }
        Fault::Drop => {
            // Returning an error from the service makes hyper close the connection unanswered.
            return Ok(dropped());
        }
        Fault::Hang => std::future::pending::<()>().await,
        Fault::Latency(delay) => {
            aws_smithy_async::rt::sleep::AsyncSleep::sleep(
                &aws_smithy_async::rt::sleep::TokioSleep::new(),
                delay,
            )
            .await
        }
        Fault::Pass | Fault::Mangle(_) => {}
    }
    let (uri, body) = upstream_request(&state.upstream, &parts, body, is_sts);
    let mut upstream = hyper::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        if name != hyper::header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    if is_sts && parts.headers.get(hyper::header::CONTENT_TYPE).is_none() {
        upstream = upstream.header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    }
    let response = match client
        .request(upstream.body(Full::new(body)).unwrap())
        .await
    {
        Ok(response) => response,
        Err(_) => return Ok(xml_response(502, "upstream unreachable".into())),
    };
    let (mut head, body) = response.into_parts();
    let mut bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Fault::Mangle(Mangle::DateShiftedBy(secs)) = fault {
        shift_date(&mut head.headers, secs);
    } else if let Fault::Mangle(how) = fault {
        bytes = mangle(how, &String::from_utf8_lossy(&bytes)).into();
        head.headers.remove(hyper::header::CONTENT_LENGTH);
    }
    if let (true, Some(origin)) = (cors, origin) {
        head.headers
            .entry(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .or_insert(origin);
    }
    let lifetime = *state.session_lifetime.lock().unwrap();
    if let (true, true, Some(lifetime)) = (is_sts, head.status.is_success(), lifetime) {
        let date = head
            .headers
            .get(hyper::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| DateTime::from_str(d, Format::HttpDate).ok())
            .and_then(|d| std::time::SystemTime::try_from(d).ok())
            .unwrap_or_else(|| aws_smithy_async::time::SystemTimeSource::new().now());
        let expiration = DateTime::from(date + lifetime)
            .fmt(Format::DateTime)
            .unwrap();
        bytes = replace_expiration(&String::from_utf8_lossy(&bytes), &expiration).into();
        head.headers.remove(hyper::header::CONTENT_LENGTH);
    }
    Ok(hyper::Response::from_parts(head, Full::new(bytes)))
}

/// Where and what to forward. An STS request sent as the query of an empty POST
/// (object_store's) goes on as a form body, as the SDKs send it: moto 5.2.5 takes an unsigned
/// POST without a form body for S3 and fails it with a 500.
fn upstream_request(
    upstream: &str,
    parts: &http::request::Parts,
    body: Bytes,
    is_sts: bool,
) -> (String, Bytes) {
    let query = parts.uri.query().unwrap_or_default();
    if is_sts && body.is_empty() && !query.is_empty() {
        return (
            format!("{upstream}{}", parts.uri.path()),
            Bytes::from(query.to_owned()),
        );
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    (format!("{upstream}{path}"), body)
}

fn xml_response(status: u16, body: String) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// A response that hyper cannot send: a `Content-Length` longer than the body, so the client
/// sees the connection end before the answer does.
fn dropped() -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(200)
        .header("content-length", "100000")
        .body(Full::new(Bytes::from_static(b"<AssumeRoleResponse>")))
        .unwrap()
}

/// Moves the `Date` header by `secs` seconds.
fn shift_date(headers: &mut hyper::HeaderMap, secs: i64) {
    let Some(date) = headers
        .get(hyper::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| DateTime::from_str(d, Format::HttpDate).ok())
    else {
        return;
    };
    let shifted = DateTime::from_secs(date.secs() + secs)
        .fmt(Format::HttpDate)
        .unwrap();
    headers.insert(hyper::header::DATE, shifted.parse().unwrap());
}

/// `xml` with the text of its `<Expiration>` replaced.
fn replace_expiration(xml: &str, expiration: &str) -> String {
    match (xml.find("<Expiration>"), xml.find("</Expiration>")) {
        (Some(a), Some(b)) => format!(
            "{}{expiration}{}",
            &xml[..a + "<Expiration>".len()],
            &xml[b..]
        ),
        _ => xml.to_owned(),
    }
}

fn mangle(how: Mangle, xml: &str) -> String {
    let between = |open: &str, close: &str| -> Option<(usize, usize)> {
        let start = xml.find(open)? + open.len();
        let end = start + xml[start..].find(close)?;
        Some((start, end))
    };
    match how {
        Mangle::TruncatedXml => xml[..xml.len() / 2].to_owned(),
        Mangle::NoCredentials => match (xml.find("<Credentials>"), xml.find("</Credentials>")) {
            (Some(a), Some(b)) => format!("{}{}", &xml[..a], &xml[b + "</Credentials>".len()..]),
            _ => xml.to_owned(),
        },
        Mangle::EmptyAccessKey => match between("<AccessKeyId>", "</AccessKeyId>") {
            Some((a, b)) => format!("{}{}", &xml[..a], &xml[b..]),
            None => xml.to_owned(),
        },
        Mangle::ExpirationInThePast => match between("<Expiration>", "</Expiration>") {
            Some((a, b)) => format!("{}2001-01-01T00:00:00Z{}", &xml[..a], &xml[b..]),
            None => xml.to_owned(),
        },
        Mangle::UnparseableExpiration => match between("<Expiration>", "</Expiration>") {
            Some((a, b)) => format!("{}not-a-date{}", &xml[..a], &xml[b..]),
            None => xml.to_owned(),
        },
        Mangle::DateShiftedBy(_) => xml.to_owned(),
    }
}

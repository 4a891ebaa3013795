//! The upload service's HTTP side: the router, its handlers and their limits. `main.rs` wires
//! it to the environment and serves it with `server::serve`; the tests serve [`router`]
//! in-process the same way.
//!
//! Every S3 call is signed with one [`ChainableTemporaryCredentials`] shared by the whole
//! service: the role is assumed once per session lifetime (and refreshed in the background),
//! not once per request as the usual tutorial backend does.
//!
//! What a request may do is narrower than what the role may do: it names only a configured
//! bucket; it must be addressed to this service (`Host`), and a state-changing one must not
//! come from another site's page; its errors say what went wrong in a sentence and a request
//! id, while the details (which may name the role, the account or S3's own words) go to the
//! log under that id.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use aws_smithy_types::date_time::{DateTime, Format};
use aws_types::SdkConfig;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Extension, Multipart, Query, Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use chainable_credentials::{ChainableTemporaryCredentials, RefreshOutcome};
use serde::Deserialize;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::access::{User, UserAccess};
use crate::server::ConnectionInfo;

/// The page served at `/`: plain HTML and a little JavaScript, no build step.
const PAGE: &str = include_str!("page.html");

/// S3's limit on a key's length, in bytes (UTF-8; our keys are ASCII).
pub const MAX_KEY_BYTES: usize = 1024;

/// What a presigned URL is valid for at most, by default (the tutorial's 2,400 s).
pub const DEFAULT_PRESIGN_LIFETIME: Duration = Duration::from_secs(2400);

/// S3's own ceiling for a SigV4 presigned URL: 7 days.
pub const MAX_PRESIGN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// A presigned URL must stop working before the session that signed it does (S3 refuses it
/// afterwards anyway); this much is kept in hand for clock differences and the trip to S3.
const SESSION_MARGIN: Duration = Duration::from_secs(10);

/// Room for the multipart framing and the small fields on top of the file itself.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

/// The longest `bucket` form field read (S3 bucket names have at most 63 characters).
const MAX_BUCKET_FIELD: usize = 256;

/// Objects listed per page unless the request asks for fewer (S3's own maximum is 1,000).
const DEFAULT_PAGE_SIZE: i32 = 100;

/// The service's limits and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The buckets requests may name; the first is used when a request names none. A request
    /// naming another bucket is refused (403) before S3 is called: the role may well reach
    /// more buckets than this service is meant to serve.
    pub buckets: Vec<String>,
    /// Host names the service answers for besides the address a connection came in on (and
    /// `localhost` on loopback): its DNS name, or the `Host` a reverse proxy forwards. A request
    /// for any other `Host` is refused (421), which defeats DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// `/healthz` also shows the role ARN, the refresh counters and the last error's text
    /// (for an operator; by default it says only whether a session is held, and until when).
    pub healthz_details: bool,
    /// How long presigned download URLs are valid at most (also capped by the session).
    pub presign_lifetime: Duration,
    /// The largest file `POST /item` accepts.
    pub max_upload_bytes: usize,
    /// Uploads held in memory at the same time; more are refused with 503 and `Retry-After`.
    pub max_concurrent_uploads: usize,
    /// A request still running after this long is answered with 408 (and dropped), so that
    /// neither a stalled client nor a stuck S3 call can hold a graceful shutdown forever.
    pub request_timeout: Duration,
    /// The S3 endpoint browsers upload to directly with `/credentials` (path-style: the
    /// bucket is the first segment): `AWS_ENDPOINT_URL`'s, else the region's. Its origin is
    /// the only one besides the service's that the page may connect to.
    pub s3_endpoint: Option<String>,
    /// The region `/credentials` names (the one S3 requests are signed for).
    pub region: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            buckets: Vec::new(),
            allowed_hosts: Vec::new(),
            healthz_details: false,
            presign_lifetime: DEFAULT_PRESIGN_LIFETIME,
            max_upload_bytes: 10 * 1024 * 1024,
            max_concurrent_uploads: 16,
            request_timeout: Duration::from_secs(60),
            s3_endpoint: None,
            region: None,
        }
    }
}

impl Settings {
    /// Checks the settings, with an error that names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.buckets.is_empty() {
            return Err("--bucket: name at least one bucket to serve".into());
        }
        for bucket in &self.buckets {
            validate_bucket(bucket).map_err(|e| format!("--bucket: {e}"))?;
        }
        for host in &self.allowed_hosts {
            validate_host_name(host).map_err(|e| format!("--allowed-host: {e}"))?;
        }
        if self.presign_lifetime < Duration::from_secs(1)
            || self.presign_lifetime > MAX_PRESIGN_LIFETIME
        {
            return Err(format!(
                "--presign-seconds: {} is out of range: 1 to {} (7 days, S3's limit)",
                self.presign_lifetime.as_secs(),
                MAX_PRESIGN_LIFETIME.as_secs()
            ));
        }
        if self.max_upload_bytes == 0 {
            return Err("--max-upload-bytes: must be at least 1".into());
        }
        if self.max_concurrent_uploads == 0 {
            return Err("--max-concurrent-uploads: must be at least 1".into());
        }
        if self.request_timeout.is_zero() {
            return Err("--request-timeout-seconds: must be at least 1".into());
        }
        if let Some(endpoint) = &self.s3_endpoint {
            origin_of(endpoint).ok_or_else(|| {
                format!("--endpoint-url: {endpoint:?} is not an http or https URL")
            })?;
        }
        Ok(())
    }
}

/// What every handler shares: the one provider, the S3 client signing with it, the limits.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    provider: ChainableTemporaryCredentials,
    s3: aws_sdk_s3::Client,
    settings: Settings,
    uploads: Semaphore,
    /// With `--users`: who may call, and each one's scoped session.
    users: Option<UserAccess>,
}

impl AppState {
    /// `s3` must sign with `provider` (see [`s3_client`]).
    pub fn new(
        provider: ChainableTemporaryCredentials,
        s3: aws_sdk_s3::Client,
        settings: Settings,
    ) -> Self {
        Self::build(provider, s3, settings, None)
    }

    /// [`AppState::new`] for a service with users: every endpoint but `/` and `/healthz` takes
    /// a user's bearer token, and a user's S3 work runs on its scoped session, under its prefix.
    pub fn with_users(
        provider: ChainableTemporaryCredentials,
        s3: aws_sdk_s3::Client,
        settings: Settings,
        users: UserAccess,
    ) -> Self {
        Self::build(provider, s3, settings, Some(users))
    }

    fn build(
        provider: ChainableTemporaryCredentials,
        s3: aws_sdk_s3::Client,
        settings: Settings,
        users: Option<UserAccess>,
    ) -> Self {
        AppState(Arc::new(Inner {
            provider,
            s3,
            uploads: Semaphore::new(settings.max_concurrent_uploads),
            settings,
            users,
        }))
    }
}

/// An S3 client for the service: the region and endpoint of `sdk_config`, signing with
/// `provider`, path-style addressing (works with AWS and with a local server on an IP).
///
/// The client's own identity cache is switched off so that every request asks the provider,
/// which answers from its cache in nanoseconds. That way the session a URL is presigned with
/// is the provider's current one (or a newer one), never an older session the SDK's cache
/// still holds, and capping the URL's lifetime at the provider's expiry is safe.
pub fn s3_client(
    sdk_config: &SdkConfig,
    provider: ChainableTemporaryCredentials,
) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(true)
            .identity_cache(aws_sdk_s3::config::IdentityCache::no_cache())
            .credentials_provider(provider)
            .build(),
    )
}

/// Logs how each refresh of the service's session ended (for `Builder::on_refresh`). No
/// secret is in an outcome.
pub fn log_refresh(outcome: &RefreshOutcome<'_>) {
    match outcome {
        RefreshOutcome::Refreshed {
            expires_at,
            refresh_at,
            took,
            ..
        } => tracing::info!(
            expires_at = %rfc3339(*expires_at),
            refresh_at = %rfc3339(*refresh_at),
            took_ms = took.as_millis() as u64,
            "assumed the role: new session"
        ),
        RefreshOutcome::Failed {
            error,
            failures_in_a_row,
            next_attempt_at,
            serving_cached_until,
            ..
        } => tracing::warn!(
            error = %chainable_credentials::error_line(*error),
            failures_in_a_row,
            next_attempt_at = %rfc3339(*next_attempt_at),
            serving_cached_until = serving_cached_until.map(rfc3339),
            "assuming the role failed"
        ),
        _ => tracing::info!(%outcome, "session refresh"),
    }
}

/// Logs how each refresh of a user's scoped session ended (for
/// `ScopedSessionsBuilder::on_refresh`), under the user's name.
pub fn log_user_refresh(user: Option<&str>, outcome: &RefreshOutcome<'_>) {
    let _span = tracing::info_span!("user_session", user).entered();
    log_refresh(outcome);
}

/// The service's routes. Every error is JSON: `{"error": "...", "request_id": "..."}`.
///
/// In front of the routes, outermost first: `request_context` (an id, the log line, the time
/// limit), `refuse_other_hosts` (421), `refuse_cross_site` (403), and with users
/// `authenticate` (401). A request they refuse reaches no handler, so it reads no body and
/// calls neither STS nor S3.
pub fn router(state: AppState) -> Router {
    let body_limit = state
        .0
        .settings
        .max_upload_bytes
        .saturating_add(MULTIPART_OVERHEAD);
    let mut routes = Router::new();
    if state.0.users.is_some() {
        routes = routes.route("/credentials", get(get_credentials));
    }
    routes
        .route("/", get(page))
        .route(
            "/item",
            get(get_item)
                .post(post_item)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/items", get(list_items))
        .route("/healthz", get(healthz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn(refuse_cross_site))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_other_hosts,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .with_state(state)
}

tokio::task_local! {
    /// The id of the request being answered, for the body of an error answer (an [`ApiError`]
    /// is turned into a response deep inside a handler, which does not know the id otherwise).
    /// Set by `request_context` around the whole request.
    static REQUEST_ID: String;
}

/// Gives every request an id: in the `x-request-id` header of its answer, in the body of an
/// error answer, and on every log line written while it runs (the `request` span), so that a
/// client's report can be matched to the log's details. The id is the service's own, never
/// taken from the client (whose text would then be trusted in the log).
async fn request_context(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = format!("{:016x}", fastrand::u64(..));
    // `user` is recorded by `authenticate`, once the request's token names one.
    let span = tracing::info_span!("request", id = %id, user = tracing::field::Empty);
    let mut response = REQUEST_ID
        .scope(id.clone(), log_and_limit(&state, request, next))
        .instrument(span)
        .await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    // No answer is to be sniffed into something other than its declared type.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Logs the request (method, path, client, status, duration; not the query, and never a
/// response body, which may hold a presigned URL) and bounds how long it may run.
async fn log_and_limit(state: &AppState, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let peer = request
        .extensions()
        .get::<ConnectionInfo>()
        .map(|c| c.peer.to_string());
    let started = now();
    let limit = state.0.settings.request_timeout;
    let response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    };
    let took_ms = now()
        .duration_since(started)
        .unwrap_or_default()
        .as_millis() as u64;
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::warn!(%method, path, peer, status, took_ms, "request");
    } else {
        tracing::info!(%method, path, peer, status, took_ms, "request");
    }
    response
}

/// Refuses (421) a request addressed to another host. DNS rebinding: a page on the attacker's
/// name, once that name resolves to this service's address (127.0.0.1, or an address on the
/// victim's network), is same-origin with the service in the victim's browser and may read
/// its answers; its requests carry the attacker's name in `Host`, which is how they are told
/// apart.
async fn refuse_other_hosts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let local = request
        .extensions()
        .get::<ConnectionInfo>()
        .map(|c| c.local);
    let Some(host) = request_host(&request) else {
        return ApiError::bad_request("missing or malformed Host header").into_response();
    };
    if host_is_served(&host, local, &state.0.settings.allowed_hosts) {
        return next.run(request).await;
    }
    // Debug formatting: the text is the client's, and must not break a log line.
    tracing::warn!(host = ?host.as_str(), "refused a request for another host");
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "this service does not answer for that host name",
    )
    .into_response()
}

/// The host a request is addressed to: the authority of an absolute-form target (which HTTP/1.1
/// says wins over `Host`), else the `Host` header. `None` without one, or with user
/// information in it (`user@host`, which no browser sends).
pub fn request_host(request: &Request) -> Option<Authority> {
    let authority = match request.uri().authority() {
        Some(authority) => authority.clone(),
        None => request
            .headers()
            .get(header::HOST)?
            .to_str()
            .ok()?
            .parse()
            .ok()?,
    };
    (!authority.as_str().contains('@')).then_some(authority)
}

/// Whether `host` names this service: one of the configured `names` (on any port, as a proxy
/// in front may listen on another), or the address the connection came in on (`local`),
/// or `localhost` with that port when it is a loopback address.
pub fn host_is_served(host: &Authority, local: Option<SocketAddr>, names: &[String]) -> bool {
    let name = host.host();
    if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return true;
    }
    let Some(local) = local else {
        return false;
    };
    if host.port_u16().unwrap_or(80) != local.port() {
        return false;
    }
    let local_ip = local.ip().to_canonical();
    match name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => ip.to_canonical() == local_ip,
        Err(_) => local_ip.is_loopback() && name.eq_ignore_ascii_case("localhost"),
    }
}

/// Refuses (403) a state-changing request (any method but GET and HEAD) that a page of another
/// origin made the browser send: an HTML form anywhere on the web can POST a multipart body
/// here without a CORS preflight, and the browser of anyone who can reach the service (it on
/// loopback, or on their network) would deliver it. Browsers say where a request comes from
/// in `Sec-Fetch-Site` and `Origin`; clients that are not browsers (curl, scripts) send
/// neither and pass.
async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let host = request_host(&request);
    let Some(reason) = cross_site_reason(request.headers(), host.as_ref()) else {
        return next.run(request).await;
    };
    tracing::warn!(method = %request.method(), reason, "refused a cross-site request");
    ApiError::new(StatusCode::FORBIDDEN, "cross-site request refused").into_response()
}

/// Why a request's headers show it was sent from another origin, or `None`. `Sec-Fetch-Site`
/// must be `same-origin` or `none` (typed by the user); `Origin` must be the service's own:
/// `http` or `https` (the latter behind a TLS proxy) and exactly the host and port the request
/// is addressed to, a missing port being the scheme's default. `Origin: null` (a sandboxed
/// frame, a redirect) is another origin.
pub fn cross_site_reason(headers: &HeaderMap, host: Option<&Authority>) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Some("Sec-Fetch-Site is not same-origin");
    }
    let origin = headers.get(header::ORIGIN)?;
    let same = match (origin.to_str(), host) {
        (Ok(origin), Some(host)) => is_origin_of(origin, host),
        _ => false,
    };
    (!same).then_some("Origin is not this service")
}

/// Whether the serialized origin `origin` (`scheme://host[:port]`) is that of `host`.
fn is_origin_of(origin: &str, host: &Authority) -> bool {
    let Ok(origin) = origin.parse::<Uri>() else {
        return false;
    };
    let default_port = match origin.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return false,
    };
    let Some(authority) = origin.authority() else {
        return false;
    };
    authority.host().eq_ignore_ascii_case(host.host())
        && authority.port_u16().unwrap_or(default_port) == host.port_u16().unwrap_or(default_port)
}

/// With users, every request but for `/` and `/healthz` must carry `Authorization: Bearer
/// TOKEN` naming a user: else 401, saying no more (not whether the token was unknown or
/// malformed). The user goes into the request's extensions for the handlers and its name into
/// the request's log line; the token goes nowhere.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(users) = &state.0.users else {
        return next.run(request).await;
    };
    if matches!(request.uri().path(), "/" | "/healthz") {
        return next.run(request).await;
    }
    let user = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| users.authenticate(value.as_bytes()));
    let Some(user) = user else {
        tracing::warn!("refused a request without a valid bearer token");
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"upload-service\""),
        );
        return response;
    };
    tracing::Span::current().record("user", &*user.name);
    request.extensions_mut().insert(user);
    next.run(request).await
}

/// `scheme://host[:port]` of an `http` or `https` URL.
pub fn origin_of(url: &str) -> Option<String> {
    let uri = url.parse::<Uri>().ok()?;
    let scheme = uri
        .scheme_str()
        .filter(|s| matches!(*s, "http" | "https"))?;
    let authority = uri.authority()?;
    (!authority.as_str().contains('@')).then(|| format!("{scheme}://{authority}"))
}

async fn page(State(state): State<AppState>) -> Response {
    // The page talks to this service only, and with users to S3 for direct uploads (the
    // endpoint's origin, checked to be a plain origin at start); the download links leave it
    // by navigation. No other page may frame it (clickjacking: a hidden frame over a decoy
    // button makes the user's click upload or download); X-Frame-Options says the same to
    // browsers older than CSP's frame-ancestors.
    let s3 = match (&state.0.users, &state.0.settings.s3_endpoint) {
        (Some(_), Some(endpoint)) => origin_of(endpoint).map(|o| format!(" {o}")),
        _ => None,
    };
    let policy = format!(
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
         connect-src 'self'{}; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        s3.unwrap_or_default()
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        PAGE,
    )
        .into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// An S3 call as `user`: signed with its scoped session. Without a user the call is left as
/// it is (the client's own credentials, the service's session): an override, even an empty
/// one, rebuilds the operation's configuration on every request.
fn as_user<T, E, B>(
    operation: aws_sdk_s3::client::customize::CustomizableOperation<T, E, B>,
    user: Option<&User>,
) -> aws_sdk_s3::client::customize::CustomizableOperation<T, E, B> {
    match user {
        Some(user) => operation.config_override(
            aws_sdk_s3::config::Builder::default().credentials_provider(user.credentials.clone()),
        ),
        None => operation,
    }
}

/// The key S3 stores for `key` as a request names it: checked (no leading `/`, no `..`), and
/// with users under the user's prefix.
fn full_key(user: Option<&User>, key: &str) -> Result<String, ApiError> {
    validate_key(key).map_err(ApiError::bad_request)?;
    let Some(user) = user else {
        return Ok(key.to_owned());
    };
    let full = format!("{}{key}", user.prefix);
    if full.len() > MAX_KEY_BYTES {
        return Err(ApiError::bad_request(format!(
            "key is {} bytes long under your prefix `{}`; S3 allows at most {MAX_KEY_BYTES}",
            full.len(),
            user.prefix
        )));
    }
    Ok(full)
}

/// [`full_key`] for a listing prefix (which may be empty).
fn full_prefix(user: Option<&User>, prefix: &str) -> Result<String, ApiError> {
    validate_prefix(prefix).map_err(ApiError::bad_request)?;
    Ok(match user {
        Some(user) => format!("{}{prefix}", user.prefix),
        None => prefix.to_owned(),
    })
}

/// The session a request's S3 calls are signed with: its user's, or the service's.
async fn session_of(
    state: &AppState,
    user: Option<&User>,
) -> Result<aws_credential_types::Credentials, ApiError> {
    let session = match user {
        Some(user) => user.session().await,
        None => state.0.provider.credentials().await,
    };
    session.map_err(|e| ApiError::no_session(&e))
}

/// `GET /credentials` (with users): the caller's scoped session as JSON, for uploads straight
/// from the browser to S3. Its session policy allows the caller's prefix only; it is what the
/// service itself uses for that user, so it expires with it (`Expiration`). The answer is
/// not stored by the browser or a proxy, and nothing of it is logged.
async fn get_credentials(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
) -> Result<Response, ApiError> {
    let session = session_of(&state, Some(&user)).await?;
    let bucket = state.bucket(None)?;
    tracing::info!(
        expires_at = session.expiry().map(rfc3339),
        "handed out the user's session"
    );
    Ok(no_store(Json(json!({
        "AccessKeyId": session.access_key_id(),
        "SecretAccessKey": session.secret_access_key(),
        "SessionToken": session.session_token(),
        "Expiration": session.expiry().map(rfc3339),
        "Bucket": bucket,
        "Prefix": &*user.prefix,
        "Region": state.0.settings.region,
        "Endpoint": state.0.settings.s3_endpoint,
    }))))
}

#[derive(Debug, Deserialize)]
struct ItemQuery {
    bucket: Option<String>,
    key: Option<String>,
}

/// `GET /item?bucket=&key=`: a presigned GET URL for an object that exists.
async fn get_item(
    State(state): State<AppState>,
    user: Option<Extension<User>>,
    query: Result<Query<ItemQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let user = state.caller(user)?;
    let Query(query) = query.map_err(ApiError::bad_query)?;
    let bucket = state.bucket(query.bucket)?;
    let key = query
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter `key`"))?;
    let key = full_key(user.as_ref(), &key)?;

    // The session the URL is signed with; its expiry caps the URL's lifetime.
    let session = session_of(&state, user.as_ref()).await?;
    let lifetime = presign_lifetime(state.0.settings.presign_lifetime, session.expiry(), now())?;

    let head = as_user(
        state
            .0
            .s3
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .customize(),
        user.as_ref(),
    )
    .send()
    .await;
    let head = match head {
        Ok(head) => head,
        // S3 answers 403 for a missing key to a caller who may not list it, and a user's
        // session may list its prefix only when the request names it (HeadObject does not):
        // with users, the key is under the user's own prefix, so 403 says no more than 404.
        Err(e)
            if e.as_service_error().is_some_and(|e| e.is_not_found())
                || (user.is_some()
                    && e.raw_response().is_some_and(|r| r.status().as_u16() == 403)) =>
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no object `{key}` in bucket `{bucket}`"),
            ));
        }
        Err(e) => return Err(ApiError::s3("HeadObject", e)),
    };
    let config = PresigningConfig::expires_in(lifetime)
        .map_err(|e| ApiError::internal("presigning config", &e))?;
    let presigned = as_user(
        state
            .0
            .s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            // The browser saves the file under its own name instead of showing it.
            .response_content_disposition(content_disposition(&key))
            .customize(),
        user.as_ref(),
    )
    .presigned(config)
    .await
    .map_err(|e| ApiError::s3("presigning GetObject", e))?;
    // The URL holds the session token: it goes to the client only, never to the log.
    tracing::info!(
        bucket,
        key,
        expires_in = lifetime.as_secs(),
        "presigned a download"
    );
    Ok(no_store(Json(json!({
        "url": presigned.uri(),
        "expires_in": lifetime.as_secs(),
        "bucket": bucket,
        "key": key,
        "user_prefix": user.as_ref().map(|u| &*u.prefix),
        "size": head.content_length(),
    }))))
}

/// `POST /item` (multipart: `file`, `bucket`, `key`): stores the file in S3.
///
/// The whole file is read and its size checked before anything is sent to S3, and one
/// `PutObject` stores it: S3 then has the whole object or nothing, and a refused request
/// (too large, bad key, bucket not served, missing field, S3 error) leaves nothing behind.
async fn post_item(
    State(state): State<AppState>,
    user: Option<Extension<User>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let user = state.caller(user)?;
    // A body that is not a multipart form (JSON, say) is told so, not the parser's view of
    // its boundary.
    let mut multipart = multipart.map_err(|_| {
        ApiError::bad_request(
            "expected a multipart form (Content-Type: multipart/form-data) with the fields \
             `file`, and optionally `key` and `bucket`",
        )
    })?;
    // Bounds the memory held by uploads; refusing beats queueing behind slow clients.
    let _permit = state.0.uploads.try_acquire().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many uploads in progress; try again",
        )
        .retry_after(1)
    })?;
    let max = state.0.settings.max_upload_bytes;
    let (mut bucket, mut key, mut file) = (None, None, None::<Upload>);
    while let Some(mut field) = multipart.next_field().await.map_err(ApiError::multipart)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "bucket" if bucket.is_none() => {
                // Checked as soon as it arrives: a bucket not served is refused unread.
                let value = read_text(&mut field, "bucket", MAX_BUCKET_FIELD).await?;
                bucket = Some(state.bucket(Some(value))?);
            }
            "key" if key.is_none() => {
                // Checked as soon as it arrives, before a large file after it is read.
                let value = read_text(&mut field, "key", MAX_KEY_BYTES).await?;
                key = Some((full_key(user.as_ref(), &value)?, value));
            }
            "file" if file.is_none() => {
                let content_type = field
                    .content_type()
                    .filter(|t| is_plain_content_type(t))
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let chosen = field.file_name().is_some_and(|n| !n.is_empty());
                let mut buffer = UploadBuffer::new(max, content_length(&headers));
                while let Some(chunk) = field.chunk().await.map_err(ApiError::multipart)? {
                    buffer
                        .push(&chunk)
                        .map_err(|TooLarge| ApiError::too_large(max))?;
                }
                if !chosen && buffer.is_empty() {
                    return Err(ApiError::bad_request(
                        "no file chosen (field `file` is empty)",
                    ));
                }
                file = Some(Upload {
                    bytes: Bytes::from(buffer.into_vec()),
                    content_type,
                });
            }
            "bucket" | "key" | "file" => {
                return Err(ApiError::bad_request(format!("field `{name}` given twice")));
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unexpected field `{}`: the form has `file`, `key` and `bucket`",
                    name.escape_debug()
                )));
            }
        }
    }
    let file = file.ok_or_else(|| ApiError::bad_request("missing field `file`"))?;
    let (key, named_key) = key.ok_or_else(|| ApiError::bad_request("missing field `key`"))?;
    let bucket = state.bucket(bucket)?;

    let size = file.bytes.len();
    let stored = as_user(
        state
            .0
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type(file.content_type)
            .content_length(size as i64)
            .body(ByteStream::from(file.bytes))
            .customize(),
        user.as_ref(),
    )
    .send()
    .await
    .map_err(|e| ApiError::s3("PutObject", e))?;
    let etag = stored.e_tag().map(|t| t.trim_matches('"').to_owned());
    tracing::info!(bucket, key, size, "stored an upload");
    // Where `GET /item` finds it: the key as the request named it (with users, under the
    // user's prefix again).
    let location = format!("/item?bucket={bucket}&key={named_key}");
    let user_prefix = user.as_ref().map(|u| &*u.prefix);
    let mut response = (
        StatusCode::CREATED,
        Json(json!({
            "bucket": bucket, "key": key, "user_prefix": user_prefix, "size": size, "etag": etag
        })),
    )
        .into_response();
    // Keys and bucket names are checked to be URL-safe, so the location needs no escaping.
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

struct Upload {
    bytes: Bytes,
    content_type: String,
}

/// The request's `Content-Length`, if it sent a valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// An upload's bytes in one buffer, allocated once and never larger than the limit. A buffer
/// that grows as chunks arrive doubles its capacity, copying what it holds each time: a file
/// near the limit ends in a buffer of up to twice the limit (the 10 MiB default: 16 MiB, and
/// 24 MiB while the last copy is made), for each of the uploads held at once.
///
/// Its capacity is the request's `Content-Length` when the client sent one (always at least
/// the file inside the body) capped at the limit, and the limit otherwise; should a file outgrow
/// it after all, the buffer grows once, to the limit exactly.
pub struct UploadBuffer {
    bytes: Vec<u8>,
    max: usize,
}

/// The upload is larger than the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

impl UploadBuffer {
    /// A buffer for at most `max` bytes, sized for `length` (the body's `Content-Length`).
    pub fn new(max: usize, length: Option<u64>) -> Self {
        let capacity = length.map_or(max, |l| usize::try_from(l).unwrap_or(max).min(max));
        UploadBuffer {
            bytes: Vec::with_capacity(capacity),
            max,
        }
    }

    /// Appends `chunk`, or refuses it if the upload would then be over the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), TooLarge> {
        let len = self.bytes.len();
        if chunk.len() > self.max - len {
            return Err(TooLarge);
        }
        if chunk.len() > self.bytes.capacity() - len {
            self.bytes.reserve_exact(self.max - len);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes, in the buffer they were read into.
    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }
}

/// A small text field, read up to `max` bytes.
async fn read_text(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
    max: usize,
) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(ApiError::multipart)? {
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::bad_request(format!(
                "field `{name}` is longer than {max} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request(format!("field `{name}` is not UTF-8 text")))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    bucket: Option<String>,
    prefix: Option<String>,
    /// The `next_token` of the previous page.
    token: Option<String>,
    limit: Option<i32>,
}

/// `GET /items?bucket=&prefix=&token=&limit=`: one page of objects.
async fn list_items(
    State(state): State<AppState>,
    user: Option<Extension<User>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let user = state.caller(user)?;
    let Query(query) = query.map_err(ApiError::bad_query)?;
    let bucket = state.bucket(query.bucket)?;
    let prefix = full_prefix(user.as_ref(), &query.prefix.unwrap_or_default())?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit {limit} is out of range: 1 to 1000"
        )));
    }
    if query.token.as_ref().is_some_and(|t| t.len() > 4096) {
        return Err(ApiError::bad_request("token is too long"));
    }
    let page = as_user(
        state
            .0
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .max_keys(limit)
            .set_continuation_token(query.token)
            .customize(),
        user.as_ref(),
    )
    .send()
    .await
    .map_err(|e| {
        // A made-up or stale `token` is the client's mistake, not S3 failing.
        if e.as_service_error().and_then(|e| e.code()) == Some("InvalidArgument") {
            ApiError::bad_request("`token` is not one a listing of this prefix gave")
        } else {
            ApiError::s3("ListObjectsV2", e)
        }
    })?;
    let items: Vec<_> = page
        .contents()
        .iter()
        .map(|object| {
            json!({
                "key": object.key(),
                "size": object.size(),
                "last_modified": object.last_modified().and_then(|t| t.fmt(Format::DateTime).ok()),
                "etag": object.e_tag().map(|t| t.trim_matches('"')),
            })
        })
        .collect();
    Ok(no_store(Json(json!({
        "bucket": bucket,
        "prefix": prefix,
        "user_prefix": user.as_ref().map(|u| &*u.prefix),
        "items": items,
        "next_token": page.next_continuation_token(),
    }))))
}

/// `GET /healthz`: whether the service holds a valid session, and until when; 503 when it
/// cannot get one. Anyone who can reach the port may ask, so the role ARN (which names the
/// account), the refresh counters and the last error's text (STS's words, which name the
/// principal) are shown only with [`Settings::healthz_details`]; the log has them anyway.
async fn healthz(State(state): State<AppState>) -> Response {
    let provider = &state.0.provider;
    let mut status = provider.status();
    if !status.has_valid_session {
        // Try to get one (one STS call shared with any other caller, and no more often than
        // the provider's backoff allows), so that a fresh service reports ready as soon as it
        // can assume the role.
        let _ = provider.credentials().await;
        status = provider.status();
    }
    let now = now();
    let mut body = json!({
        "status": if status.has_valid_session { "ok" } else { "unavailable" },
        // Whether the other endpoints take a user's bearer token (the page asks for one).
        "users": state.0.users.is_some(),
        "has_valid_session": status.has_valid_session,
        "session_expires_at": status.expires_at.map(rfc3339),
        "session_expires_in": status
            .expires_at
            .map(|t| t.duration_since(now).unwrap_or_default().as_secs()),
    });
    if state.0.settings.healthz_details
        && let (Some(fields), serde_json::Value::Object(details)) =
            (body.as_object_mut(), health_details(provider, &status))
    {
        fields.extend(details);
        if let Some(users) = &state.0.users {
            let scoped = users.sessions().status();
            fields.insert(
                "user_sessions".into(),
                json!({
                    "cached": scoped.scopes_cached,
                    "sts_calls": scoped.sts_calls,
                    "waiting_for_sts": scoped.waiting_for_sts,
                    "refused_by_sts_limit": scoped.refused_by_sts_limit,
                    "session_store": scoped.store.map(store_counts),
                }),
            );
        }
    }
    let code = if status.has_valid_session {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store((code, Json(body)))
}

/// What `/healthz` adds with [`Settings::healthz_details`]: the provider's whole status.
fn health_details(
    provider: &ChainableTemporaryCredentials,
    status: &chainable_credentials::ProviderStatus,
) -> serde_json::Value {
    json!({
        "role_arn": provider.role_arn(),
        "next_refresh_at": status.refresh_at.map(rfc3339),
        "refreshing": status.refreshing,
        "next_attempt_at": status.next_attempt_at.map(rfc3339),
        "refreshes_started": status.refreshes_started,
        "refreshes_failed": status.refreshes_failed,
        "failures_in_a_row": status.failures_in_a_row,
        "last_error": status.last_error,
        "serving_cached_after_failure": status.serving_cached_after_failure,
        "background_refresh_running": status.background_refresh_running,
        "session_store": status.store.map(store_counts),
    })
}

/// The session store's counts (every user of the store together).
fn store_counts(counts: chainable_credentials::session_store::StoreCounts) -> serde_json::Value {
    json!({
        "hits": counts.hits,
        "misses": counts.misses,
        "rejected": counts.rejected,
        "errors": counts.errors,
    })
}

impl AppState {
    /// The request's user: with users, the one `authenticate` found — its absence is the
    /// service's fault (a route outside `authenticate`) and is refused rather than served on
    /// the role's whole session; without users, nobody.
    fn caller(&self, user: Option<Extension<User>>) -> Result<Option<User>, ApiError> {
        match (user, &self.0.users) {
            (Some(Extension(user)), _) => Ok(Some(user)),
            (None, None) => Ok(None),
            (None, Some(_)) => {
                tracing::error!("a request reached a handler without its user");
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                ))
            }
        }
    }

    /// The bucket a request names, if this service serves it (else 403, before any S3 call),
    /// or the first configured one when it names none.
    fn bucket(&self, named: Option<String>) -> Result<String, ApiError> {
        let served = &self.0.settings.buckets;
        let Some(bucket) = named.filter(|b| !b.is_empty()) else {
            return served.first().cloned().ok_or_else(|| {
                ApiError::new(StatusCode::FORBIDDEN, "this service serves no bucket")
            });
        };
        validate_bucket(&bucket).map_err(ApiError::bad_request)?;
        if !served.contains(&bucket) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("bucket `{bucket}` is not served here"),
            ));
        }
        Ok(bucket)
    }
}

/// How long a URL presigned now may be valid: the configured lifetime, cut to what is left of
/// the session (less a margin), in whole seconds.
pub fn presign_lifetime(
    configured: Duration,
    session_expiry: Option<SystemTime>,
    now: SystemTime,
) -> Result<Duration, ApiError> {
    let Some(expiry) = session_expiry else {
        return Ok(configured);
    };
    let left = expiry
        .duration_since(now)
        .unwrap_or_default()
        .saturating_sub(SESSION_MARGIN);
    let lifetime = Duration::from_secs(configured.min(left).as_secs());
    if lifetime.is_zero() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the AWS session expires too soon to presign a URL; try again shortly",
        )
        .retry_after(1));
    }
    Ok(lifetime)
}

/// Characters allowed in keys: S3's "safe characters" (letters, digits, `!-_.*'()`) and `/`
/// between segments. No spaces, no `%`, `+`, `?`, `#`, `&`, quotes or controls, so a key needs
/// no escaping in a URL, a header or a log line.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c)
}

/// Checks an object key: 1 to 1,024 bytes of `is_key_char` characters, segments between
/// `/` neither empty nor `.` or `..` (no leading, trailing or doubled `/`).
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("key is empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "key is {} bytes long; S3 allows at most {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    check_chars("key", key)?;
    if key.starts_with('/') || key.ends_with('/') {
        return Err("key must not start or end with `/`".into());
    }
    check_segments("key", key)
}

/// Checks a listing prefix: like a key, but it may be empty and may end with `/`.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(format!(
            "prefix is {} bytes long; at most {MAX_KEY_BYTES}",
            prefix.len()
        ));
    }
    check_chars("prefix", prefix)?;
    if prefix.starts_with('/') {
        return Err("prefix must not start with `/`".into());
    }
    check_segments("prefix", prefix.strip_suffix('/').unwrap_or(prefix))
}

fn check_chars(what: &str, text: &str) -> Result<(), String> {
    match text.chars().find(|c| !is_key_char(*c)) {
        Some(c) => Err(format!(
            "{what} contains {:?}: allowed are ASCII letters and digits, `/` and ! - _ . * ' ( )",
            c
        )),
        None => Ok(()),
    }
}

fn check_segments(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    for segment in text.split('/') {
        match segment {
            "" => return Err(format!("{what} has an empty segment (`//`)")),
            "." | ".." => return Err(format!("{what} has a `{segment}` segment")),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a bucket name against S3's rules for new buckets: 3 to 63 lowercase letters, digits,
/// `-` and `.`, starting and ending with a letter or digit.
pub fn validate_bucket(bucket: &str) -> Result<(), String> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "bucket {:?} is not a valid bucket name (3 to 63 lowercase letters, digits, `-` and \
             `.`, starting and ending with a letter or digit)",
            bucket
        ))
    }
}

/// Checks an `--allowed-host` name: a DNS name or an IP address (IPv6 in brackets) as it
/// appears in a `Host` header, without a port (a name is allowed on any port).
pub fn validate_host_name(name: &str) -> Result<(), String> {
    let is_ipv6 = name.starts_with('[') && name.ends_with(']');
    let valid = (1..=253).contains(&name.len())
        && if is_ipv6 {
            name[1..name.len() - 1]
                .parse::<std::net::Ipv6Addr>()
                .is_ok()
        } else {
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !name.starts_with(['-', '.'])
        };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a host name (letters, digits, `-` and `.`, or an IP address; \
             no port, no scheme)"
        ))
    }
}

/// `attachment; filename="<last segment>"`: a valid key's characters need no quoting inside
/// the quotes, and the value has no space.
fn content_disposition(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    format!("attachment;filename=\"{name}\"")
}

/// A client's content type is stored only when it is a plain `type/subtype` (no parameters,
/// nothing that could break a header).
fn is_plain_content_type(value: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    matches!(value.split_once('/'), Some((a, b)) if token(a) && token(b))
}

/// The wall clock (the one place this service reads it).
fn now() -> SystemTime {
    SystemTimeSource::new().now()
}

pub fn rfc3339(time: SystemTime) -> String {
    DateTime::from(time)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| format!("{time:?}"))
}

/// Responses that must not be cached by a browser or proxy (presigned URLs, health).
fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error answer: a status and `{"error": message, "request_id": id}`. The message is for
/// the client: a sentence about its request, or a generic one when the fault is the service's
/// or AWS's; the details of those (the error chain, S3's and STS's own messages, which name
/// the role's principal and account) are logged under the request id when the error is made.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn bad_query(rejection: QueryRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }

    fn too_large(max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the file is larger than the limit of {max} bytes"),
        )
    }

    /// A fault of the service itself: `what` failed, for the reason `error` (logged).
    fn internal(what: &str, error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(what, error = %chainable_credentials::error_line(error), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// A malformed or oversized multipart body (the text is about the client's own body).
    fn multipart(error: axum::extract::multipart::MultipartError) -> Self {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the upload limit",
            )
        } else {
            Self::new(error.status(), error.body_text())
        }
    }

    /// No valid session: the role cannot be assumed right now. STS's refusal names the
    /// principal and the account: it goes to the log, the client learns to come back later.
    fn no_session(error: &CredentialsError) -> Self {
        tracing::warn!(error = %chainable_credentials::error_line(error), "no valid AWS session");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid AWS session; try again shortly",
        )
        .retry_after(5)
    }

    /// A failed S3 call: 503 when it failed for want of credentials, 404 when the object is
    /// not there, else 502. S3 refusing the role (`AccessDenied`) or missing a configured
    /// bucket is the service's misconfiguration, not the client's fault: 502 too, and S3's
    /// message (which names the role's session and the resource) goes only to the log.
    fn s3<E>(operation: &str, error: SdkError<E, aws_smithy_runtime_api::http::Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = source {
            if let Some(credentials) = e.downcast_ref::<CredentialsError>() {
                return Self::no_session(credentials);
            }
            source = e.source();
        }
        let code = error.as_service_error().and_then(|e| e.code());
        tracing::warn!(
            operation,
            code,
            error = %chainable_credentials::error_line(&error),
            "S3 call failed"
        );
        match code {
            Some("NoSuchKey" | "NotFound") => Self::new(StatusCode::NOT_FOUND, "no such object"),
            _ => Self::new(StatusCode::BAD_GATEWAY, format!("S3 {operation} failed")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let body = json!({ "error": self.message, "request_id": request_id });
        let mut response = no_store((self.status, Json(body)));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_urls_end_before_the_session_does() {
        use axum::response::IntoResponse;
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let configured = Duration::from_secs(2400);
        let cap = |left: Option<i64>, configured| {
            let expiry = left.map(|s| {
                if s >= 0 {
                    now + Duration::from_secs(s as u64)
                } else {
                    now - Duration::from_secs(s.unsigned_abs())
                }
            });
            presign_lifetime(configured, expiry, now)
                .map(|d| d.as_secs())
                .map_err(|e| e.into_response().status().as_u16())
        };
        assert_eq!(cap(Some(3600), configured), Ok(2400));
        assert_eq!(
            cap(Some(3600), MAX_PRESIGN_LIFETIME),
            Ok(3590),
            "10 s margin"
        );
        assert_eq!(cap(Some(100), configured), Ok(90));
        assert_eq!(cap(Some(11), configured), Ok(1));
        assert_eq!(cap(Some(10), configured), Err(503), "too little left");
        assert_eq!(cap(Some(-5), configured), Err(503), "expired");
        assert_eq!(
            cap(None, configured),
            Ok(2400),
            "credentials that never expire"
        );
    }

    #[test]
    fn keys_prefixes_and_buckets() {
        for good in [
            "a",
            "uploads/report(1).pdf",
            "a/b/c.d",
            "x!-_.*'()",
            &"k".repeat(1024),
        ] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "./a",
            "a/../b",
            "..",
            "a b",
            "a%20",
            "a?b",
            "a#b",
            "a\\b",
            "é",
            "a\nb",
            &"k".repeat(1025),
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["", "uploads/", "uploads/2024", "a/b/"] {
            assert_eq!(validate_prefix(good), Ok(()), "{good}");
        }
        for bad in ["/", "/a", "a//", "../", "a b"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["abc", "my-bucket.2024", &"b".repeat(63)] {
            assert_eq!(validate_bucket(good), Ok(()), "{good}");
        }
        for bad in ["ab", "-abc", "abc-", "a..b", "ABC", "a_b", &"b".repeat(64)] {
            assert!(validate_bucket(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "uploads.example.com",
            "Uploads.Example.COM",
            "10.0.0.5",
            "[::1]",
            "a",
        ] {
            assert_eq!(validate_host_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a.example:80",
            "http://a.example",
            "a.example/",
            "user@a.example",
            "-a.example",
            ".a.example",
            "a b",
            "[not-ipv6]",
            &"h".repeat(254),
        ] {
            assert!(validate_host_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}

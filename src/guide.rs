//! A guide: what people do with temporary credentials, in Rust.
//!
//! Each scenario is a complete function; they are compiled as doc tests (not run: they need
//! an STS endpoint). The `examples/` directory has runnable programs for each, and
//! `scripts/demo.sh` runs them against a local server.
//!
//! # An S3 client on an assumed role
//!
//! Base credentials, region and endpoint come from the environment, as for any SDK client;
//! the provider goes where the credentials provider goes. Every clone shares one cached
//! session, so any number of clients make one STS call per session lifetime.
//!
//! ```no_run
//! use aws_config::BehaviorVersion;
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! async fn s3_on_a_role() -> Result<(), Box<dyn std::error::Error>> {
//!     let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
//!     let provider = ChainableTemporaryCredentials::builder()
//!         .configure(&sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/s3-reader")
//!         .role_session_name("report-job")
//!         .build()?;
//!     let s3 = aws_sdk_s3::Client::from_conf(
//!         aws_sdk_s3::config::Builder::from(&sdk_config)
//!             .credentials_provider(provider)
//!             .build(),
//!     );
//!     let mut pages = s3.list_objects_v2().bucket("reports").into_paginator().send();
//!     while let Some(page) = pages.next().await {
//!         for object in page?.contents() {
//!             println!("{}", object.key().unwrap_or_default());
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Behind an SDK client: what reaches the provider
//!
//! Every SDK client keeps the credentials it got in its own identity cache until 5 to 10
//! seconds before they expire, and only then asks the provider again. The provider's
//! background task (on by default, see
//! [`Builder::background_refresh`](crate::Builder::background_refresh)) refreshes minutes
//! earlier, at a jittered point of the advisory window, so the client finds a fresh session
//! when it asks and no request waits for STS.
//!
//! [`invalidate`](crate::ChainableTemporaryCredentials::invalidate) empties the provider's
//! cache, not the client's. A client that must act on an invalidation at once (say, after S3
//! answered `ExpiredToken` because the role's sessions were revoked) turns its own cache off;
//! every request then asks the provider, whose hit costs less than the SDK cache's (see
//! BENCHMARKS.md, `hot_path`).
//!
//! ```no_run
//! use aws_sdk_s3::config::IdentityCache;
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! fn revocable_s3(
//!     sdk_config: &aws_types::SdkConfig,
//!     provider: &ChainableTemporaryCredentials,
//! ) -> aws_sdk_s3::Client {
//!     aws_sdk_s3::Client::from_conf(
//!         aws_sdk_s3::config::Builder::from(sdk_config)
//!             .credentials_provider(provider.clone())
//!             .identity_cache(IdentityCache::no_cache())
//!             .build(),
//!     )
//! }
//! ```
//!
//! # Health and metrics
//!
//! [`status`](crate::ChainableTemporaryCredentials::status) is a cheap snapshot without
//! secrets for a health endpoint; [`on_refresh`](crate::Builder::on_refresh) is told how
//! every refresh ended, for counters and alerts. A refresh that fails while the cached session
//! is still valid is invisible to requests — the status says so
//! (`serving_cached_after_failure`), so it can be alerted on before expiry.
//!
//! ```no_run
//! use chainable_credentials::{ChainableTemporaryCredentials, RefreshOutcome};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! fn observed(
//!     sdk_config: &aws_types::SdkConfig,
//!     failures: Arc<AtomicU64>,
//! ) -> Result<ChainableTemporaryCredentials, chainable_credentials::BuildError> {
//!     ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/uploader")
//!         .on_refresh(move |outcome| match outcome {
//!             RefreshOutcome::Refreshed { took, .. } => {
//!                 tracing::info!(?took, "credentials refreshed")
//!             }
//!             RefreshOutcome::Failed { error, serving_cached_until, .. } => {
//!                 failures.fetch_add(1, Ordering::Relaxed);
//!                 tracing::warn!(%error, ?serving_cached_until, "credentials refresh failed");
//!             }
//!             _ => {}
//!         })
//!         .build()
//! }
//!
//! /// `(HTTP status, body)` of a health endpoint.
//! fn health(provider: &ChainableTemporaryCredentials) -> (u16, String) {
//!     let status = provider.status();
//!     let code = if status.has_valid_session { 200 } else { 503 };
//!     (code, format!("{status:?}"))
//! }
//! ```
//!
//! # Metrics in OpenTelemetry (feature `telemetry`)
//!
//! With the cargo feature `telemetry`, providers and scoped sessions report through
//! aws-smithy-observability, the layer the SDK's clients report their own call metrics
//! through (`smithy.client.call.duration` and the rest). Set the global telemetry provider
//! once, before building — with aws-smithy-observability-otel's bridge for an OpenTelemetry
//! meter provider — and this crate's metrics go where the SDK's do; or give a provider its own
//! with `telemetry_provider`. Name each provider with `metrics_name` when a process has more
//! than one.
//!
//! ```no_run
//! # #[cfg(feature = "telemetry")]
//! # fn example(
//! #     sdk_config: &aws_types::SdkConfig,
//! #     telemetry: aws_smithy_observability::TelemetryProvider,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! // `telemetry`: `TelemetryProvider::builder().meter_provider(Arc::new(
//! //     aws_smithy_observability_otel::meter::OtelMeterProvider::new(otel_meter_provider)))`
//! aws_smithy_observability::global::set_telemetry_provider(telemetry)?;
//! let provider = ChainableTemporaryCredentials::builder()
//!     .configure(sdk_config)
//!     .role_arn("arn:aws:iam::123456789012:role/uploader")
//!     .metrics_name("uploader")
//!     .build()?;
//! # let _ = provider;
//! # Ok(())
//! # }
//! ```
//!
//! Nothing is recorded on a cached call: the refresh instruments are updated when a refresh
//! ends, the others are read from status snapshots when the meter provider collects (BENCHMARKS.md,
//! "Hot path", has the hit with the feature on and off). The instruments (instrumentation scope
//! `chainable-credentials`):
//!
//! | instrument | kind, unit | attributes | what |
//! |---|---|---|---|
//! | `aws.credentials.refreshes` | counter, `{refresh}` | provider, `rpc.method`, outcome, trigger, source, scope (opt-in) | refresh attempts that ended (their sum is `status().refreshes_started` once none is in flight) |
//! | `aws.credentials.refresh.duration` | histogram, `s` | provider, `rpc.method`, outcome | how long each took (base credentials, store, STS) |
//! | `aws.credentials.sts.calls` | counter, `{call}` | provider, `rpc.method`, outcome | attempts that got an answer from STS or failed on the way (not the load timeout, which may have cut something else) |
//! | `aws.credentials.session.time_to_expiry` | gauge, `s` | provider | until the cached session expires; 0 without a valid one |
//! | `aws.credentials.session.stale` | gauge | provider | 1 while refreshes fail and the valid session is served, else 0 |
//! | `aws.credentials.refresh.failures_in_a_row` | gauge, `{refresh}` | provider | failures since the last success |
//! | `aws.credentials.scopes.cached` | up-down counter, `{scope}` | provider | scoped sessions: scopes cached |
//! | `aws.credentials.scopes.evicted` | counter, `{scope}` | provider, reason (`capacity`, `idle`) | scopes dropped |
//! | `aws.credentials.sts.in_flight` | up-down counter, `{call}` | provider | scoped sessions: STS calls in flight |
//! | `aws.credentials.sts.waiting` | up-down counter, `{fetch}` | provider | scoped sessions: fetches waiting for the limit |
//! | `aws.credentials.sts.refused` | counter, `{fetch}` | provider | scoped sessions: fetches the limit refused |
//! | `aws.credentials.sts.rate_limit` | gauge, `{call}/s` | provider | scoped sessions: the configured calls per second |
//! | `aws.credentials.store.hits`, `.misses`, `.rejected`, `.errors` | counters | provider | the session store's counts (every user of the store together) |
//!
//! The attributes: `aws.credentials.provider` (the `metrics_name`; absent without one),
//! `rpc.method` (the STS operation, as in the SDK's own metrics; `none` for a profile's own
//! credentials), `aws.credentials.outcome` (`success`, `sts_refused`, `throttled`, `timeout`,
//! `unreachable`, `invalid_response`, `base_credentials`, `limit`, `panic`, `invalidated`,
//! `abandoned`, `other`), `aws.credentials.trigger` (`caller`: a request waited for it,
//! having started or joined it; `background`: nobody did), `aws.credentials.source` (`sts`,
//! `store`, `profile`; successes only). Every value comes from a fixed set or from the user's
//! `metrics_name`: never a secret, a role ARN, a session name or a tenant. A tenant's label
//! becomes `aws.credentials.scope` on the refresh counter only when asked for with
//! `ScopedSessionsBuilder::metrics_scope_labels(max)` (at most 100) — time series per tenant
//! (high cardinality); refreshes of tenants beyond the first `max` carry
//! `aws.credentials.scope.overflow = true` instead.
//!
//! Providers of one name report together: a profile chain's hops (their refreshes and STS
//! calls counted, the gauges those of the earliest-expiring, stale or failing hop), providers
//! given the same name, and all unnamed ones — name each provider whose gauges you alert on.
//! A hop made with `chain()` is a provider of its own: give it a name (and the telemetry
//! provider, if not the global one). A session store's counts are counted once however many
//! providers use it.
//!
//! What to alert on (PromQL over the Prometheus names: dots as underscores, `_seconds` for
//! the unit `s`, `_total` on counters; OpenTelemetry's own Prometheus exporter also appends
//! `_per_second` to `aws.credentials.sts.rate_limit`):
//!
//! ```text
//! # Refreshes fail while the session is still served: minutes to act before requests fail.
//! max by (aws_credentials_provider) (aws_credentials_session_stale) == 1
//! # Under 90 s left: every refresh since the advisory window failed, and from the last minute
//! # (the mandatory window) requests wait for STS; 0: no valid session at all.
//! min by (aws_credentials_provider) (aws_credentials_session_time_to_expiry_seconds) < 90
//! # STS calls refused by the scoped sessions' own limit (a tenant storm, or the limit too low).
//! increase(aws_credentials_sts_refused_total[5m]) > 0
//! # STS throttles.
//! increase(aws_credentials_refreshes_total{aws_credentials_outcome="throttled"}[5m]) > 0
//! # The session store is down: every load falls back to STS.
//! increase(aws_credentials_store_errors_total[5m]) > 0
//! ```
//!
//! A dropped provider leaves the sources the meter provider reads; OpenTelemetry 0.26 (the
//! version of the SDK's bridge) still exports the last value of its gauges, so alert on
//! providers that live as long as the process, and name them.
//!
//! `aws.credentials.refresh.duration` (like the SDK's own `smithy.client.call.duration`) is in
//! seconds, and OpenTelemetry's default histogram bounds (0, 5, 10, ... 10,000) are made for
//! milliseconds: give the meter provider a view with bounds in seconds, as the upload service
//! example does (`Instrument::new().name("*duration")`, bounds 0.005 to 30).
//!
//! # A role chain
//!
//! [`chain`](crate::ChainableTemporaryCredentials::chain) makes the next hop: its base
//! credentials are the previous provider, and it inherits region, endpoint, HTTP client and
//! clock. Each hop caches its own session, so refreshing the last hop asks the previous one,
//! which answers from its cache. STS limits chained sessions to one hour: a longer duration on a
//! chained hop is clamped (with a warning).
//!
//! ```no_run
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! async fn cross_account(sdk_config: &aws_types::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
//!     let jump = ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::111111111111:role/jump")
//!         .build()?;
//!     let target = jump
//!         .chain()
//!         .role_arn("arn:aws:iam::222222222222:role/reader")
//!         .external_id("agreed-with-account-2222")
//!         .build()?;
//!     let sts = aws_sdk_sts::Client::from_conf(
//!         aws_sdk_sts::config::Builder::from(sdk_config)
//!             .credentials_provider(target)
//!             .build(),
//!     );
//!     println!("{:?}", sts.get_caller_identity().send().await?.arn());
//!     Ok(())
//! }
//! ```
//!
//! # A profile of `~/.aws/config`, with MFA
//!
//! The role chains people keep in their config files, as the AWS CLI reads them — with the
//! MFA code aws-sdk-rust cannot ask for (cargo feature `profile`). Each `role_arn` of the
//! profile and its `source_profile`s becomes one cached hop; the code is asked for when the hop
//! that names the device refreshes, with that device's serial number.
//!
//! ```no_run
//! # #[cfg(feature = "profile")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use chainable_credentials::{ChainableTemporaryCredentials, TokenFuture, ProvideMfaToken};
//!
//! /// Codes from wherever the service keeps them (a TOTP secret, an operator's prompt, ...).
//! struct Codes;
//!
//! impl ProvideMfaToken for Codes {
//!     fn mfa_token(&self) -> TokenFuture<'_> {
//!         self.mfa_token_for("")
//!     }
//!
//!     fn mfa_token_for(&self, serial_number: &str) -> TokenFuture<'_> {
//!         let serial = serial_number.to_owned();
//!         Box::pin(async move { current_code(&serial) })
//!     }
//! }
//! # fn current_code(_: &str) -> Result<String, chainable_credentials::TokenError> { Ok("123456".into()) }
//!
//! let provider = ChainableTemporaryCredentials::builder()
//!     .profile("home")
//!     .mfa_tokens(Codes)
//!     .build_from_profile()
//!     .await?;
//! let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
//!     .profile_name("home")
//!     .credentials_provider(provider)
//!     .load()
//!     .await;
//! let s3 = aws_sdk_s3::Client::new(&sdk_config);
//! # let _ = s3;
//! # Ok(())
//! # }
//! ```
//!
//! A profile may say where its codes come from itself, as aws-vault reads it: `mfa_process =
//! ykman oath accounts code --single aws` runs that command (through the shell, no standard
//! input, killed if the refresh's wait ends first) and takes its first line as the code, for
//! that hop, instead of asking `mfa_tokens`. `MfaProcess` (feature `profile`) is the same for
//! [`Builder::mfa`](crate::Builder::mfa). A profile without `role_arn` (keys,
//! `credential_process`, SSO) is served as its own credentials, cached and refreshed, with no
//! STS call.
//!
//! # MFA once, then roles
//!
//! The JavaScript SDK v2 pattern: `GetSessionToken` with MFA (no role: sessions up to 36
//! hours), and roles assumed on top of that session. The token provider is asked for a code
//! only when the MFA session itself is refreshed; the roles on top refresh without a prompt.
//! Any `Fn() -> impl Future<Output = Result<String, E>>` is a token provider.
//!
//! ```no_run
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use std::time::Duration;
//!
//! async fn mfa_then_roles(sdk_config: &aws_types::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
//!     let mfa_session = ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .duration(Duration::from_secs(12 * 3600))
//!         .mfa("arn:aws:iam::123456789012:mfa/alice", || async {
//!             // Ask the user, a hardware key, a TOTP library, ...
//!             Ok::<_, std::io::Error>("123456".to_owned())
//!         })
//!         .build()?;
//!     let admin = mfa_session
//!         .chain()
//!         .role_arn("arn:aws:iam::123456789012:role/admin-requires-mfa")
//!         .build()?;
//!     let _ = admin;
//!     Ok(())
//! }
//! ```
//!
//! # Presigned URLs for a client without credentials
//!
//! A backend hands out presigned URLs made with the provider; the browser or device uses them
//! with plain HTTP. A presigned URL carries the session token and stops working when the
//! session expires, so keep its lifetime within the session that signs it. Behind the client's
//! own identity cache that may be an older session than the provider's current one (the client
//! keeps its copy until seconds before its expiry), so a presigning client turns that cache
//! off: it then signs with the session the provider hands out, whose expiry caps the URL.
//! `examples/upload_service` is a whole backend built this way.
//!
//! ```no_run
//! use aws_sdk_s3::config::IdentityCache;
//! use aws_sdk_s3::presigning::PresigningConfig;
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use std::time::{Duration, SystemTime};
//!
//! fn presigning_client(
//!     sdk_config: &aws_types::SdkConfig,
//!     provider: &ChainableTemporaryCredentials,
//! ) -> aws_sdk_s3::Client {
//!     aws_sdk_s3::Client::from_conf(
//!         aws_sdk_s3::config::Builder::from(sdk_config)
//!             .credentials_provider(provider.clone())
//!             .identity_cache(IdentityCache::no_cache())
//!             .build(),
//!     )
//! }
//!
//! async fn upload_url(
//!     s3: &aws_sdk_s3::Client,
//!     provider: &ChainableTemporaryCredentials,
//!     key: &str,
//! ) -> Result<String, Box<dyn std::error::Error>> {
//!     // The session about to sign: the URL must not outlive it.
//!     let session = provider.credentials().await?;
//!     let left = session
//!         .expiry()
//!         .and_then(|expiry| expiry.duration_since(SystemTime::now()).ok())
//!         .unwrap_or_default();
//!     let lifetime = Duration::from_secs(300).min(left);
//!     let request = s3
//!         .put_object()
//!         .bucket("uploads")
//!         .key(key)
//!         .presigned(PresigningConfig::expires_in(lifetime)?)
//!         .await?;
//!     Ok(request.uri().to_owned())
//! }
//! ```
//!
//! # Scoping a session down
//!
//! A session policy, managed policy ARNs and session tags narrow or label what a session may
//! do; every value is checked against STS's rules in `build()`.
//!
//! ```no_run
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! fn read_only_for_one_prefix(sdk_config: &aws_types::SdkConfig)
//!     -> Result<ChainableTemporaryCredentials, chainable_credentials::BuildError>
//! {
//!     ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/data")
//!         .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!             "Action":"s3:GetObject","Resource":"arn:aws:s3:::data/tenant-42/*"}]}"#)
//!         .policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
//!         .tag("tenant", "42")
//!         .transitive_tag_key("tenant")
//!         .source_identity("alice@example.com")
//!         .build()
//! }
//! ```
//!
//! # EKS (IRSA) to a cross-account role
//!
//! On EKS with IAM roles for service accounts, the pod's environment names a projected token
//! file and a role (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`); the kubelet rotates the
//! file. The first hop assumes the pod's role with the token, read again at every refresh
//! (so a rotated token is used as soon as a session is renewed, never at a cache hit); the
//! second hop assumes a role in the account that owns the data. Each hop caches its own
//! session: when the second expires, one STS call, the first hop's session reused. Nothing
//! signs the first call: no other credentials are needed.
//!
//! ```no_run
//! use aws_config::BehaviorVersion;
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! async fn cross_account_from_a_pod() -> Result<aws_sdk_s3::Client, Box<dyn std::error::Error>> {
//!     let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
//!     let pod = ChainableTemporaryCredentials::builder()
//!         .configure(&sdk_config)
//!         .web_identity_from_environment() // the token file, the role, the session name
//!         .build()?;
//!     let data_account = pod
//!         .chain()
//!         .role_arn("arn:aws:iam::222222222222:role/data-reader")
//!         .role_session_name("orders-service")
//!         .build()?;
//!     Ok(aws_sdk_s3::Client::from_conf(
//!         aws_sdk_s3::config::Builder::from(&sdk_config)
//!             .credentials_provider(data_account)
//!             .build(),
//!     ))
//! }
//! ```
//!
//! The same chain from `~/.aws/config` (`build_from_profile`, or the command's `--profile`):
//! a profile with `role_arn` and `web_identity_token_file`, and a profile whose
//! `source_profile` is that one.
//!
//! # GitHub Actions OIDC
//!
//! A workflow with `permissions: id-token: write` can ask GitHub for an OIDC token at any
//! time (`ACTIONS_ID_TOKEN_REQUEST_URL`, with the bearer `ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
//! audience `sts.amazonaws.com`). A token lives minutes; a job runs longer. A token source
//! asks for a fresh one at every refresh, so a long job never holds an expired session and
//! never asks GitHub per request. The source below uses the environment given to it; any
//! HTTP client fetches the token.
//!
//! ```no_run
//! use chainable_credentials::{ChainableTemporaryCredentials, TokenError};
//!
//! fn deploy_role(
//!     sdk_config: &aws_types::SdkConfig,
//!     request_url: String,
//!     request_token: String,
//! ) -> Result<ChainableTemporaryCredentials, chainable_credentials::BuildError> {
//!     ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/github-deploy")
//!         .role_session_name("release-workflow")
//!         .web_identity_token(move || {
//!             let url = format!("{request_url}&audience=sts.amazonaws.com");
//!             let bearer = request_token.clone();
//!             async move { github_oidc_token(&url, &bearer).await }
//!         })
//!         .build()
//! }
//!
//! /// GETs `url` with `Authorization: Bearer {bearer}` and returns the `value` of the JSON
//! /// answer (with reqwest, hyper, or the HTTP client the program already has).
//! async fn github_oidc_token(url: &str, bearer: &str) -> Result<String, TokenError> {
//!     # let _ = (url, bearer);
//!     # Ok(String::new())
//! }
//! ```
//!
//! # SAML
//!
//! A service that receives its users' SAML assertions (the identity provider posts a
//! `SAMLResponse` to it) assumes the role the assertion grants with `AssumeRoleWithSAML`.
//! The source returns the latest assertion, asked once per refresh; there are no base
//! credentials. The assertion is in no `Debug` output, error or trace; one that is not
//! base64 is a typed error before any STS call.
//!
//! ```no_run
//! use chainable_credentials::{ChainableTemporaryCredentials, TokenError};
//! use std::sync::{Arc, Mutex};
//!
//! fn saml_session(
//!     sdk_config: &aws_types::SdkConfig,
//!     latest_assertion: Arc<Mutex<Option<String>>>,
//! ) -> Result<ChainableTemporaryCredentials, chainable_credentials::BuildError> {
//!     ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/analysts")
//!         .saml_assertion("arn:aws:iam::123456789012:saml-provider/corporate-idp", move || {
//!             let assertion = latest_assertion.lock().unwrap().clone();
//!             async move {
//!                 assertion.ok_or_else(|| TokenError::from("no SAML assertion received yet"))
//!             }
//!         })
//!         .build()
//! }
//! ```
//!
//! # Federation tokens
//!
//! `GetFederationToken` gives a named federated user a session scoped by a session policy
//! (the intersection of the policy and the IAM user's own permissions), up to 36 hours: a
//! broker that holds one IAM user's long-term keys and hands out narrower sessions. STS
//! issues federation tokens to long-term IAM user keys only: on a chained hop it is a
//! [`BuildError`](crate::BuildError), and temporary base credentials are refused at the first
//! refresh, before any STS call.
//!
//! ```no_run
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use std::time::Duration;
//!
//! fn federated_reader(
//!     sdk_config: &aws_types::SdkConfig, // base credentials: the broker user's keys
//! ) -> Result<ChainableTemporaryCredentials, chainable_credentials::BuildError> {
//!     ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .federation_token("report-reader")
//!         .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!             "Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#)
//!         .duration(Duration::from_secs(4 * 3600))
//!         .build()
//! }
//! ```
//!
//! # Token vending for tenants
//!
//! One role that tenants' sessions are cut from, and per tenant a session policy that narrows
//! it to the tenant's own resources (the AWS whitepaper "SaaS tenant isolation strategies" calls
//! this a token vending machine). The role's own policy grants what any tenant may do; the
//! session policy intersects it with the tenant's prefix. [`ScopedSessions`](crate::scoped::ScopedSessions)
//! keeps one session per tenant, refreshed by one scheduler, with STS calls limited for all
//! tenants together.
//!
//! ```no_run
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use chainable_credentials::scoped::{PolicyTemplate, Scope, ScopedSessions};
//!
//! fn tenant_sessions(sdk_config: &aws_types::SdkConfig)
//!     -> Result<(ScopedSessions, PolicyTemplate), chainable_credentials::BuildError>
//! {
//!     let sessions = ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/tenant-access")
//!         .scoped_sessions()
//!         .capacity(50_000)
//!         .sts_calls_per_second(20.0)
//!         .build()?;
//!     let template = PolicyTemplate::new(r#"{"Version":"2012-10-17","Statement":[{
//!         "Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
//!         "Resource":"arn:aws:s3:::uploads/tenants/{{tenant}}/*"}]}"#)?;
//!     Ok((sessions, template))
//! }
//!
//! async fn upload_for(
//!     sessions: &ScopedSessions,
//!     template: &PolicyTemplate,
//!     sdk_config: &aws_types::SdkConfig,
//!     tenant: &str,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     let scope = Scope::new()
//!         .label(tenant)
//!         .role_session_name(format!("tenant-{tenant}"))
//!         .policy(template.fill(&[("tenant", tenant)])?);
//!     let s3 = aws_sdk_s3::Client::from_conf(
//!         aws_sdk_s3::config::Builder::from(sdk_config)
//!             .credentials_provider(sessions.provider(&scope)?)
//!             .build(),
//!     );
//!     s3.put_object()
//!         .bucket("uploads")
//!         .key(format!("tenants/{tenant}/report.csv"))
//!         .body(Vec::from(&b"a,b\n"[..]).into())
//!         .send()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! **Session tags instead** (attribute-based access control): give each scope
//! `.tag("tenant", tenant)` and write the role's policy once with the tag as a variable,
//! `arn:aws:s3:::uploads/tenants/${aws:PrincipalTag/tenant}/*`; no policy per tenant, and the
//! session policy can then be left out. The role's trust policy must allow `sts:TagSession`.
//!
//! **What a real account needs**: the base principal (your service's role or user) allowed
//! `sts:AssumeRole` (and `sts:TagSession` with tags) on the tenant role; the tenant role
//! trusting that principal; the tenant role's permissions the union of what any tenant may do;
//! STS's request quotas for the account and region above the rate you configure here.
//!
//! **What the local server shows and what it does not**: moto issues and records every session
//! with its session policy (`GET /moto-api/data.json`), so the tests assert that each tenant's
//! credentials carry that tenant's policy and no other's, and count the STS calls; it does not
//! evaluate session policies, so "tenant A cannot read tenant B's objects" is shown only on a
//! real account.
//!
//! # A fleet on one role: deploy storms, token vending at scale
//!
//! N instances started together (a deploy, an autoscaling step) each call STS for the same
//! role in the same second; STS's request quota is per account and region. A
//! [`SessionStore`](crate::session_store::SessionStore) in Valkey or Redis (cargo feature
//! `redis-store`) makes the fleet call once per session lifetime: the first instance that
//! needs a session takes the key's lease, calls STS and writes the sealed session; the others
//! wait for it (at most half the load timeout) and take it. Each instance keeps its own
//! jittered refresh point; the first to reach it refreshes and writes, the others, reaching
//! theirs, take the newer session from the store.
//!
//! ```no_run
//! # #[cfg(feature = "redis-store")]
//! # fn example(sdk_config: &aws_types::SdkConfig) -> Result<(), chainable_credentials::BuildError> {
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use chainable_credentials::session_store::redis::RedisStoreBuilder;
//!
//! // One store for the process: clones share its connection and its counts.
//! let store = RedisStoreBuilder::new("rediss://sessions.internal:6379/0")
//!     .sealing_key_file("/run/secrets/session-store-key")
//!     .key_prefix("reports-service:")
//!     .build()?;
//! let provider = ChainableTemporaryCredentials::builder()
//!     .configure(sdk_config)
//!     .role_arn("arn:aws:iam::123456789012:role/reports")
//!     .session_store(store.clone())
//!     .build()?;
//! # let _ = provider;
//! # Ok(())
//! # }
//! ```
//!
//! **Where the sealing key lives, and how it is rotated.** The key is 32 random bytes (`openssl
//! rand -hex 32`), in a file readable by the service only (a secret manager's mounted file, a
//! Kubernetes secret): whoever has it and the store's credentials can read every session. To
//! rotate: deploy `[new]` second everywhere (`old` seals, both open), then first (`new` seals,
//! both open), then alone. Entries sealed with a key no instance holds cost one STS call each,
//! nothing else.
//!
//! **When the store is down**: nothing breaks. Each command has a short timeout (250 ms by
//! default); a failure is one warning, and for 1 to 30 seconds the instance does not try the
//! store and calls STS as without it. The fleet then makes the calls it would have made
//! without a store — STS's quota is the limit again — and uses the store as soon as it is back.
//!
//! **Token vending at fleet scale.** Give the builder the store before
//! [`scoped_sessions`](crate::Builder::scoped_sessions): each scope's entry is keyed by the
//! base principal and the scope's whole request (policy, tags, session name), so every instance
//! of a multi-tenant service takes a tenant's session from the store once one instance fetched
//! it. Each instance keeps its own capacity, idle expiry and limits on STS calls (a store hit
//! takes no STS slot); the fleet makes one call per tenant per session lifetime instead of one
//! per tenant per instance (BENCHMARKS.md, "A fleet on one store", measures it).
//!
//! **Sizing, on paper.** An entry is the session (about 1,300 bytes with a real session token
//! of about 1,000 characters) sealed (+ 40 bytes: format, key id, nonce, tag) under a name of
//! about 90 bytes: about 1.5 KB, plus Valkey's per-key overhead (about 70 bytes). A million
//! tenants' sessions are about 1.6 GB of Valkey memory. The traffic is per refresh, not per
//! request: a lookup (`MGET`), and on a miss a lease (`SET NX PX`), a write (`SET PX`) and a
//! release (a script) — 1,000 instances refreshing a one-hour session make about 1,000 lookups
//! in the 7.5-minute refresh window (a few a second) and 4 commands for the one fetch; a million
//! tenants spread over an hour's refreshes, about 300 lookups and 1,100 commands a second at
//! most.
//!
//! **Cluster and replicas.** The store talks to one primary (`redis::aio::ConnectionManager`):
//! a standalone server, or a primary with replicas behind a failover endpoint (Sentinel, a
//! managed service's primary endpoint, ElastiCache or MemoryDB with cluster mode off). Cluster
//! mode (sharded) is not supported: keys on another shard answer `MOVED`, which the store
//! counts as errors and falls back from. Replicas are never read (a lagging one would only cost
//! STS calls). A failover that loses the last writes costs one STS call per lost entry, nothing
//! more: entries are a cache of sessions STS can always issue again; a lease lost with them
//! lets a second instance fetch the same key once.
//!
//! **Eviction and memory.** Every entry carries its session's expiry as a TTL, so
//! `volatile-*` and `allkeys-*` eviction policies may drop entries before they expire: each
//! costs one STS call. Under `noeviction` at `maxmemory`, writes fail: an outage like any other
//! (counted, one warning, the store left alone for 1 to 30 seconds, sessions from STS).

//! # object_store and OpenDAL: DataFusion, delta-rs, lakehouses
//!
//! object_store (cargo feature `object-store`) asks its credential provider on every request
//! and caches nothing a custom provider gives, so a provider that calls STS, or converts
//! credentials, per request floods STS or slows every request. This crate's providers are
//! object_store's credential providers themselves: the hit is the cached session as one
//! shared `Arc<AwsCredential>`, refreshed in the background. A DataFusion user registers the
//! store for its URL:
//!
//! ```no_run
//! # #[cfg(feature = "object-store")]
//! # fn example(sdk_config: &aws_types::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use object_store::aws::AmazonS3Builder;
//! use std::sync::Arc;
//!
//! let reader = ChainableTemporaryCredentials::builder()
//!     .configure(sdk_config)
//!     .role_arn("arn:aws:iam::123456789012:role/lakehouse-reader")
//!     .build()?;
//! let store = AmazonS3Builder::new()
//!     .with_region("eu-west-1")
//!     .with_bucket_name("lakehouse")
//!     .with_credentials(Arc::new(reader))
//!     .build()?;
//! // datafusion: ctx.register_object_store(&Url::parse("s3://lakehouse")?, Arc::new(store));
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! A multi-tenant query service gives each tenant's store its scoped session
//! (`sessions.provider(&scope)?` in place of `reader`): one STS call per tenant per session
//! lifetime, each store confined to its tenant's prefix by the session policy.
//!
//! On EKS, object_store's own web identity provider (`AWS_WEB_IDENTITY_TOKEN_FILE`,
//! `AWS_ROLE_ARN`) refreshes on the request that finds its credential within 5 minutes of
//! expiry, and every request waits on its lock for the STS call; this crate's web identity
//! provider (`web_identity_token_file`) refreshes in the background and no request waits
//! (BENCHMARKS.md, "object_store's own web identity provider").
//!
//! OpenDAL (cargo feature `opendal`) takes the same providers through reqsign:
//! `services::S3::default().credential_provider_chain(ProvideCredentialChain::new().push(reader))`.
//! reqsign keeps the credential until it has under 120 s left, then asks again; the provider
//! has refreshed long before (in its advisory window), so the answer is at once. reqsign's chain
//! logs a provider's error and goes on, so OpenDAL reports only "failed to load signing
//! credential": read the reason from `status().last_error`, or the log.
//!
//! # Regional and global STS endpoints
//!
//! The provider calls the STS endpoint of the region it is given (`sts.REGION.amazonaws.com`),
//! as AWS recommends: lower latency, and independent of `us-east-1`. To use the global endpoint
//! instead, give `us-east-1` and the global URL:
//!
//! ```no_run
//! use aws_types::region::Region;
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! fn global(sdk_config: &aws_types::SdkConfig) -> Result<ChainableTemporaryCredentials, chainable_credentials::BuildError> {
//!     ChainableTemporaryCredentials::builder()
//!         .configure(sdk_config)
//!         .role_arn("arn:aws:iam::123456789012:role/reader")
//!         .region(Region::new("us-east-1"))
//!         .endpoint_url("https://sts.amazonaws.com")
//!         .build()
//! }
//! ```

//! Cached, self-refreshing, chainable temporary credentials from AWS STS for aws-sdk-rust.
//!
//! [`ChainableTemporaryCredentials`] wraps base credentials (static keys, the environment's
//! default chain, or another `ChainableTemporaryCredentials` — hence "chainable") and the
//! parameters of an STS `AssumeRole` call (or none: then `GetSessionToken`). It calls STS once,
//! caches the session, and refreshes it before its expiration:
//!
//! - **one STS call per session lifetime**, however many callers and however many SDK clients
//!   share clones of the provider;
//! - **no waiting while a valid session exists**: a background task refreshes the session at
//!   a jittered point of its advisory window, whether or not anyone calls, so requests made
//!   through an SDK client — whose own identity cache asks again only seconds before expiry —
//!   find a fresh session; callers wait only in the last minute before expiry (the mandatory
//!   window) or when nothing valid is cached;
//! - **outages are absorbed**: a failed refresh keeps the still-valid session in use and
//!   retries with jittered exponential backoff; expired credentials are never handed out;
//! - **skew-proof**: STS's `Expiration` is translated into the local clock's frame with the
//!   response's `Date` header;
//! - **typed errors**: every failure is a [`CredentialsError`] whose source is a
//!   [`FetchError`] (reachable from an SDK call's error by walking `source()`), and bad
//!   parameters are a [`BuildError`] at `build()`, never a panic;
//! - **observable**: [`status`](ChainableTemporaryCredentials::status) for health endpoints,
//!   [`on_refresh`](Builder::on_refresh) for metrics;
//! - **no secrets in output**: no `Debug`, `Display`, error or trace line holds a secret key or a
//!   session token.
//!
//! ```no_run
//! use aws_config::BehaviorVersion;
//! use chainable_credentials::ChainableTemporaryCredentials;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // Region, endpoint and base credentials from the environment, as every SDK client does.
//! let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
//! let provider = ChainableTemporaryCredentials::builder()
//!     .configure(&sdk_config)
//!     .role_arn("arn:aws:iam::123456789012:role/s3-reader")
//!     .role_session_name("nightly-report")
//!     .build()?;
//!
//! let s3_config = aws_sdk_s3::config::Builder::from(&sdk_config)
//!     .credentials_provider(provider.clone())
//!     .build();
//! let s3 = aws_sdk_s3::Client::from_conf(s3_config);
//! for bucket in s3.list_buckets().send().await?.buckets() {
//!     println!("{}", bucket.name().unwrap_or_default());
//! }
//! println!("session valid until {:?}", provider.expiry());
//! # Ok(())
//! # }
//! ```
//!
//! The [`guide`] shows the common scenarios: an S3 client on a role, what the client's own
//! identity cache does in front of the provider, health and metrics, role chains, profiles of
//! `~/.aws/config`, MFA,
//! presigned URLs, scoped-down sessions, regional and global endpoints.
//!
//! # Cargo features
//! - `default-chain` (default): with no base credentials given, use aws-config's default
//!   credentials chain, created on the first refresh.
//! - `default-https-client` (default): the SDK's default HTTPS client for STS when none is given.
//! - `file-cache`: share sessions between processes through a private directory
//!   (`Builder::file_cache`, the `file_cache` module).
//! - `profile`: providers from the named profiles of `~/.aws/config` and `~/.aws/credentials`,
//!   one cached hop per `role_arn`, MFA included (`Builder::build_from_profile`).
//! - `test-util`: the setters only tests need (`Builder::env`, `Builder::fs`,
//!   `file_cache::default_dir_in`, `ScopedSessions::sweep`).
//!
//! The `chainable-credentials` command — a `credential_process` for the AWS CLI and SDKs, and a
//! container-credentials server for every process (`exec`, `serve`) — is a crate of its own:
//! `cargo install chainable-credentials-cli`.
//!
//! [`CredentialsError`]: aws_credential_types::provider::error::CredentialsError
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod arn;
#[cfg(feature = "default-chain")]
mod base_credentials;
mod boxed_future;
mod builder;
mod error;
mod fetch;
#[cfg(feature = "file-cache")]
pub mod file_cache;
#[cfg(feature = "object-store")]
mod for_object_store;
#[cfg(feature = "opendal")]
mod for_opendal;
pub mod guide;
mod mfa;
#[cfg(feature = "profile")]
mod mfa_process;
mod mutex;
mod operation;
mod panic;
#[cfg(feature = "profile")]
mod profile;
mod provided;
mod provider;
mod refresh;
mod request;
pub mod scoped;
mod session;
#[cfg(feature = "session-store")]
pub mod session_store;
mod status;
mod sts;
#[cfg(feature = "telemetry")]
mod telemetry;
#[cfg(all(test, any(feature = "object-store", feature = "opendal")))]
mod testing;
mod validation;
mod web_identity;

pub use builder::{Builder, DEFAULT_LOAD_TIMEOUT, DEFAULT_SESSION_NAME_PREFIX};
pub use error::{BuildError, FetchError, Field, error_line, fetch_error};
pub use mfa::{MfaDevice, ProvideMfaToken};
#[cfg(feature = "profile")]
pub use mfa_process::MfaProcess;
pub use provided::{TokenError, TokenFuture};
pub use provider::ChainableTemporaryCredentials;
pub use status::{ProviderStatus, RefreshOutcome, SharedRefreshListener};
pub use web_identity::{ProvideSamlAssertion, ProvideWebIdentityToken};

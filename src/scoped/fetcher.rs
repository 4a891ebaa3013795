//! How one scope's session is fetched: a slot from the shared STS limiter (first loads before
//! refreshes), the shared base credentials, and the shared STS client called with the scope's
//! request. The base credentials are cached between the scopes' fetches (`BaseCache`): with
//! thousands of scopes, asking an instance-metadata or container endpoint per fetch would be
//! thousands of calls.

use super::limiter::{Limiter, Priority, Refused};
use super::scope::{Scope, merged};
use crate::error::FetchError;
use crate::error::panicked;
use crate::fetch::base_credentials_error;
use crate::panic::{Panicked, catch_panic};
use crate::refresh::{BoxFuture, FetchSession};
use crate::request::SessionRequest;
use crate::session::Session;
use crate::sts::Sts;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::time::SharedTimeSource;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long base credentials without an expiry (static keys) are reused before they are
/// asked for again: 5 minutes, so that rotated keys are picked up.
const BASE_WITHOUT_EXPIRY_REUSED_FOR: Duration = Duration::from_secs(300);

/// Base credentials with an expiry are asked for again this long before it: 5 minutes, as
/// the SDKs' identity caches do.
const BASE_EXPIRY_BUFFER: Duration = Duration::from_secs(300);

/// What every scope shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) sts: Sts,
    pub(crate) base: BaseCache,
    pub(crate) limiter: Arc<Limiter>,
    /// The builder's request (validated, its session name set): every scope's starting point.
    pub(crate) base_request: SessionRequest,
    pub(crate) time: SharedTimeSource,
    pub(crate) sleep: aws_smithy_async::rt::sleep::SharedAsyncSleep,
    /// How long a fetch may wait for the limiter: less than the load timeout, so that the
    /// limiter's typed error comes before the engine's timeout.
    pub(crate) max_wait: Duration,
    /// STS calls made (a slot granted and the call started).
    pub(crate) sts_calls: AtomicU64,
    /// Where sessions are shared beyond this process, if configured.
    #[cfg(feature = "session-store")]
    pub(crate) store: Option<ScopeStore>,
}

/// The session store as every scope uses it: the store on the sessions' clock, and what names
/// a scope's entry besides the scope (the builder's request as given, region, endpoint).
#[cfg(feature = "session-store")]
#[derive(Debug)]
pub(crate) struct ScopeStore {
    pub(crate) shared: crate::session_store::SharedSessions,
    pub(crate) request: SessionRequest,
    pub(crate) region: aws_types::region::Region,
    pub(crate) endpoint_url: Option<String>,
}

/// Fetches one scope's sessions.
#[derive(Debug)]
pub(crate) struct ScopeFetcher {
    pub(crate) shared: Arc<Shared>,
    /// The scope, shared with the cache's key (a scope's bytes are what its budget counts):
    /// its values on the builder's are what is asked for.
    pub(crate) scope: Arc<Scope>,
    /// When this scope's last session was obtained and when it expires (milliseconds since
    /// the Unix epoch on the injected clock; 0: none yet).
    pub(crate) obtained_at_ms: AtomicU64,
    expires_at_ms: AtomicU64,
}

impl ScopeFetcher {
    pub(crate) fn new(shared: Arc<Shared>, scope: Arc<Scope>) -> Self {
        ScopeFetcher {
            shared,
            scope,
            obtained_at_ms: AtomicU64::new(0),
            expires_at_ms: AtomicU64::new(0),
        }
    }

    /// The request made: the scope's values on the builder's, checked (as they were when the
    /// scope's entry was made: rebuilt per fetch, microseconds, rather than kept per scope).
    fn request(&self) -> Result<SessionRequest, CredentialsError> {
        merged(&self.scope.request, &self.shared.base_request)
            .map_err(CredentialsError::invalid_configuration)
    }

    async fn session(&self) -> Result<Session, CredentialsError> {
        let shared = &*self.shared;
        let request = self.request()?;
        let operation = request.operation().name();
        let base = shared.base.credentials(operation).await?;
        let new_session = self.new_session(&request, &base);
        #[cfg(feature = "session-store")]
        let session = match &shared.store {
            // Looked up before the limiter: a session another instance fetched costs no slot.
            Some(store) => self.stored_or_new(store, &base, new_session).await?,
            None => new_session.await?,
        };
        #[cfg(not(feature = "session-store"))]
        let session = new_session.await?;
        self.obtained_at_ms
            .store(millis(session.received_at), Ordering::Relaxed);
        self.expires_at_ms
            .store(millis(session.expires_at), Ordering::Relaxed);
        Ok(session)
    }

    /// The scope's session from the store, else `new_session`'s, written there.
    #[cfg(feature = "session-store")]
    async fn stored_or_new(
        &self,
        store: &ScopeStore,
        base: &Credentials,
        new_session: impl std::future::Future<Output = Result<Session, CredentialsError>>,
    ) -> Result<Session, CredentialsError> {
        let request = merged(&self.scope.request, &store.request)
            .map_err(CredentialsError::invalid_configuration)?;
        let key = crate::session_store::KeyBasis::new(
            &request,
            &store.region,
            store.endpoint_url.as_deref(),
        )
        .key_for(crate::session_store::KeySource::Credentials(base));
        let longest = request.longest_lifetime(request.duration);
        store
            .shared
            .load_or_fetch(&key, longest, None, new_session)
            .await
    }

    /// A new session from STS, within the limits on STS calls.
    async fn new_session(
        &self,
        request: &SessionRequest,
        base: &Credentials,
    ) -> Result<Session, CredentialsError> {
        let shared = &*self.shared;
        let operation = request.operation().name();
        let now = millis(shared.time.now());
        // A scope whose session is still valid yields to scopes whose callers have nothing.
        let priority = if now < self.expires_at_ms.load(Ordering::Relaxed) {
            Priority::Refresh
        } else {
            Priority::FirstLoad
        };
        let _permit = shared
            .limiter
            .acquire(priority, shared.max_wait)
            .await
            .map_err(|refused| {
                let waiting = match refused {
                    Refused::QueueFull { max_waiting } => {
                        format!("{max_waiting} fetches were waiting already")
                    }
                    Refused::TimedOut { waited } => format!("waited {waited:?} for a slot"),
                };
                CredentialsError::provider_error(FetchError::StsLimit { operation, waiting })
            })?;
        shared.sts_calls.fetch_add(1, Ordering::Relaxed);
        catch_panic(shared.sts.session_for(request, base))
            .await
            .map_err(|Panicked| panicked(operation, "the STS call (its HTTP client)"))?
    }
}

impl FetchSession for ScopeFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Session, CredentialsError>> {
        Box::pin(self.session())
    }

    fn refresh_span(&self) -> tracing::Span {
        let (scope, base) = (&self.scope.request, &self.shared.base_request);
        tracing::info_span!(
            "refresh_scoped_session",
            operation = self.operation(),
            label = self.scope.label.as_deref(),
            role_arn = scope.role_arn.as_deref().or(base.role_arn.as_deref()),
            session_name = scope
                .role_session_name
                .as_deref()
                .or(base.role_session_name.as_deref()),
            expiry = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    }

    fn operation(&self) -> &'static str {
        // Scoped sessions assume a role (refused otherwise at build).
        crate::operation::Operation::AssumeRole.name()
    }

    #[cfg(feature = "telemetry")]
    fn scope_label(&self) -> Option<&str> {
        self.scope.label.as_deref()
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The base credentials, reused between fetches while they are fresh; one load at a time.
#[derive(Debug)]
pub(crate) struct BaseCache {
    provider: SharedCredentialsProvider,
    time: SharedTimeSource,
    /// The credentials and until when they are reused.
    cached: tokio::sync::Mutex<Option<(Credentials, SystemTime)>>,
}

impl BaseCache {
    pub(crate) fn new(provider: SharedCredentialsProvider, time: SharedTimeSource) -> Self {
        BaseCache {
            provider,
            time,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn credentials(&self, operation: &'static str) -> Result<Credentials, CredentialsError> {
        // Held across the load: concurrent fetches wait for one load instead of each calling
        // the base provider.
        let mut cached = self.cached.lock().await;
        let now = self.time.now();
        if let Some((credentials, until)) = cached.as_ref()
            && now < *until
        {
            return Ok(credentials.clone());
        }
        let credentials = catch_panic(async { self.provider.provide_credentials().await })
            .await
            .map_err(|Panicked| panicked(operation, "the base credentials provider"))?
            .map_err(base_credentials_error)?;
        let until = match credentials.expiry() {
            Some(expiry) => expiry
                .checked_sub(BASE_EXPIRY_BUFFER)
                .unwrap_or(expiry)
                .max(now),
            None => now + BASE_WITHOUT_EXPIRY_REUSED_FOR,
        };
        *cached = Some((credentials.clone(), until));
        Ok(credentials)
    }
}

//! Scoped sessions for many tenants from one base: [`ScopedSessions`] caches one session per
//! [`Scope`] (a session policy, tags, a role...) over shared base credentials and one STS
//! client, bounded in the scopes it keeps, refreshed by one scheduler, and with STS protected
//! by a shared limit on calls in flight and per second — the token-vending pattern of SaaS
//! backends, without an STS call per request or a provider (and a task) per tenant.
//!
//! Per scope, the single provider's guarantees hold (its refresh engine): one refresh in
//! flight, the advisory and mandatory windows, backoff, never an expired credential, the
//! `Date` skew translation.

mod cache;
mod entry;
mod fetcher;
mod limiter;
mod scheduler;
mod scope;

pub use scope::{PolicyTemplate, Scope};

use crate::builder::Builder;
use crate::error::{BuildError, Field};
use crate::refresh::{Backoff, EngineConfig, RefreshEngine};
use crate::status::{ProviderStatus, RefreshListener, RefreshOutcome};
use crate::sts::Sts;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use cache::ScopeCache;
use entry::ScopeEntry;
use fetcher::{BaseCache, Shared};
use limiter::{Limiter, Limits};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Scopes kept at most by default: 10,000.
pub const DEFAULT_SCOPE_CAPACITY: usize = 10_000;

/// A scope nobody asked for during this long is dropped, by default: 1 hour (by then its
/// session, 1 hour by default, has expired).
pub const DEFAULT_SCOPE_IDLE_EXPIRY: Duration = Duration::from_secs(3600);

/// STS calls in flight at once by default, all scopes together: 16.
pub const DEFAULT_MAX_STS_CALLS_IN_FLIGHT: usize = 16;

/// STS calls started per second by default, all scopes together: 50, well under STS's
/// per-account request quotas, so that a burst of new tenants does not get the account
/// throttled for everything else it runs.
pub const DEFAULT_STS_CALLS_PER_SECOND: f64 = 50.0;

/// Fetches that may wait for the limit at once by default: 100,000; one more is refused at
/// once with [`FetchError::StsLimit`](crate::FetchError::StsLimit).
pub const DEFAULT_MAX_WAITING_FOR_STS: usize = 100_000;

/// How often the scheduler looks for scopes to refresh or drop by default: every second.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The slowest rate `sts_calls_per_second` takes: one call in about 17 minutes. The limiter
/// waits `1/rate` between calls, and a rate near zero would make that wait overflow.
const MIN_STS_CALLS_PER_SECOND: f64 = 0.001;

/// The fastest rate `sts_calls_per_second` takes (far above any STS quota).
const MAX_STS_CALLS_PER_SECOND: f64 = 1_000_000.0;

/// The longest `idle_expiry` and `sweep_interval`: deadlines are computed from them.
const MAX_SCOPE_PERIOD: Duration = Duration::from_secs(365 * 24 * 3600);

/// A listener for [`ScopedSessionsBuilder::on_refresh`]: told each scope's label (if it has
/// one) and how its refresh ended.
pub type SharedScopeRefreshListener = Arc<dyn Fn(Option<&str>, &RefreshOutcome<'_>) + Send + Sync>;

/// Builds [`ScopedSessions`]; made by [`Builder::scoped_sessions`].
pub struct ScopedSessionsBuilder {
    builder: Builder,
    capacity: usize,
    idle_expiry: Duration,
    limits: Limits,
    sweep_interval: Duration,
    on_refresh: Option<SharedScopeRefreshListener>,
    /// The most scope labels recorded as a metric attribute (opted in; off by default).
    #[cfg(feature = "telemetry")]
    scope_labels: Option<usize>,
}

impl fmt::Debug for ScopedSessionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedSessionsBuilder")
            .field("builder", &self.builder)
            .field("capacity", &self.capacity)
            .field("idle_expiry", &self.idle_expiry)
            .field("limits", &self.limits)
            .field("sweep_interval", &self.sweep_interval)
            .field("on_refresh", &self.on_refresh.is_some())
            .finish()
    }
}

impl Builder {
    /// Scoped sessions for many tenants on this builder's base credentials and role, instead
    /// of one provider: see [`ScopedSessions`](crate::scoped::ScopedSessions). The builder's request
    /// is every scope's starting point (a scope's values win); its runtime settings (region,
    /// endpoint, HTTP client, clock, sleep, load timeout) serve every scope through one STS
    /// client.
    pub fn scoped_sessions(self) -> ScopedSessionsBuilder {
        ScopedSessionsBuilder::new(self)
    }
}

impl ScopedSessionsBuilder {
    pub(crate) fn new(builder: Builder) -> Self {
        ScopedSessionsBuilder {
            builder,
            capacity: DEFAULT_SCOPE_CAPACITY,
            idle_expiry: DEFAULT_SCOPE_IDLE_EXPIRY,
            limits: Limits {
                max_in_flight: DEFAULT_MAX_STS_CALLS_IN_FLIGHT,
                per_second: Some(DEFAULT_STS_CALLS_PER_SECOND),
                max_waiting: DEFAULT_MAX_WAITING_FOR_STS,
            },
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            on_refresh: None,
            #[cfg(feature = "telemetry")]
            scope_labels: None,
        }
    }

    /// The most scopes kept; beyond it the least recently used one is dropped (a caller
    /// waiting on its refresh still gets it).
    ///
    /// Default: [`DEFAULT_SCOPE_CAPACITY`].
    pub fn capacity(mut self, scopes: usize) -> Self {
        self.set_capacity(Some(scopes));
        self
    }

    /// Sets or resets (to the default) the capacity; see [`capacity`](Self::capacity).
    pub fn set_capacity(&mut self, scopes: Option<usize>) -> &mut Self {
        self.capacity = scopes.unwrap_or(DEFAULT_SCOPE_CAPACITY);
        self
    }

    /// A scope nobody asked for during this long is dropped.
    ///
    /// Default: [`DEFAULT_SCOPE_IDLE_EXPIRY`].
    pub fn idle_expiry(mut self, idle: Duration) -> Self {
        self.set_idle_expiry(Some(idle));
        self
    }

    /// Sets or resets the idle expiry; see [`idle_expiry`](Self::idle_expiry).
    pub fn set_idle_expiry(&mut self, idle: Option<Duration>) -> &mut Self {
        self.idle_expiry = idle.unwrap_or(DEFAULT_SCOPE_IDLE_EXPIRY);
        self
    }

    /// STS calls in flight at once, all scopes together.
    ///
    /// Default: [`DEFAULT_MAX_STS_CALLS_IN_FLIGHT`].
    pub fn max_sts_calls_in_flight(mut self, calls: usize) -> Self {
        self.set_max_sts_calls_in_flight(Some(calls));
        self
    }

    /// Sets or resets the limit on calls in flight; see
    /// [`max_sts_calls_in_flight`](Self::max_sts_calls_in_flight).
    pub fn set_max_sts_calls_in_flight(&mut self, calls: Option<usize>) -> &mut Self {
        self.limits.max_in_flight = calls.unwrap_or(DEFAULT_MAX_STS_CALLS_IN_FLIGHT);
        self
    }

    /// STS calls started per second, all scopes together, paced (calls start at least
    /// `1/rate` apart, so no second sees more).
    ///
    /// Default: [`DEFAULT_STS_CALLS_PER_SECOND`]; [`set_sts_calls_per_second`](Self::set_sts_calls_per_second)
    /// with `None` lifts the rate limit (the limit on calls in
    /// flight stays).
    pub fn sts_calls_per_second(mut self, calls: f64) -> Self {
        self.set_sts_calls_per_second(Some(calls));
        self
    }

    /// Sets the rate, or with `None` lifts it; see
    /// [`sts_calls_per_second`](Self::sts_calls_per_second).
    pub fn set_sts_calls_per_second(&mut self, calls: Option<f64>) -> &mut Self {
        self.limits.per_second = calls;
        self
    }

    /// Fetches that may wait for the limits at once.
    ///
    /// Default: [`DEFAULT_MAX_WAITING_FOR_STS`].
    pub fn max_waiting_for_sts(mut self, fetches: usize) -> Self {
        self.set_max_waiting_for_sts(Some(fetches));
        self
    }

    /// Sets or resets the queue's limit; see [`max_waiting_for_sts`](Self::max_waiting_for_sts).
    pub fn set_max_waiting_for_sts(&mut self, fetches: Option<usize>) -> &mut Self {
        self.limits.max_waiting = fetches.unwrap_or(DEFAULT_MAX_WAITING_FOR_STS);
        self
    }

    /// How often the scheduler looks for scopes to refresh or drop.
    ///
    /// Default: [`DEFAULT_SWEEP_INTERVAL`].
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.set_sweep_interval(Some(interval));
        self
    }

    /// Sets or resets the sweep interval; see [`sweep_interval`](Self::sweep_interval).
    pub fn set_sweep_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.sweep_interval = interval.unwrap_or(DEFAULT_SWEEP_INTERVAL);
        self
    }

    /// Told how each scope's refresh ended, with the scope's label. A panic in it is caught
    /// and counted; it never holds a secret.
    ///
    /// Default: none.
    pub fn on_refresh(
        mut self,
        listener: impl Fn(Option<&str>, &RefreshOutcome<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.set_on_refresh(Some(Arc::new(listener)));
        self
    }

    /// Sets or clears the listener; see [`on_refresh`](Self::on_refresh).
    pub fn set_on_refresh(&mut self, listener: Option<SharedScopeRefreshListener>) -> &mut Self {
        self.on_refresh = listener;
        self
    }

    /// Records each scope's label as the `aws.credentials.scope` attribute of the
    /// `aws.credentials.refreshes` counter (cargo feature `telemetry`), for the first
    /// `max_labels` distinct labels; refreshes of later ones carry
    /// `aws.credentials.scope.overflow = true` instead. Off by default: a label per tenant makes
    /// time series per tenant in the metrics backend (high cardinality), and OpenTelemetry
    /// folds an instrument's series beyond 2,000 into one; at most 100.
    #[cfg(feature = "telemetry")]
    pub fn metrics_scope_labels(mut self, max_labels: usize) -> Self {
        self.set_metrics_scope_labels(Some(max_labels));
        self
    }

    /// Sets or clears the cap on scope labels in metrics; see
    /// [`metrics_scope_labels`](Self::metrics_scope_labels).
    #[cfg(feature = "telemetry")]
    pub fn set_metrics_scope_labels(&mut self, max_labels: Option<usize>) -> &mut Self {
        self.scope_labels = max_labels;
        self
    }

    /// Validates the builder and these settings. Synchronous: no network.
    ///
    /// # Errors
    /// What [`Builder::build`] returns, and a [`BuildError`] for what scoped sessions cannot
    /// use (see [`Builder::scoped_sessions`]) or a limit that is zero or not finite.
    pub fn build(self) -> Result<ScopedSessions, BuildError> {
        let capacity = self.check_settings()?;
        let limits = self.limits;
        #[cfg_attr(not(feature = "session-store"), allow(unused_mut))]
        let mut parts = self.builder.into_scoped_parts()?;
        let limiter = Arc::new(Limiter::new(
            limits,
            parts.time.clone(),
            parts.sleep.clone(),
        ));
        let engine = Arc::new(EngineConfig {
            time: parts.time.clone(),
            sleep: parts.sleep.clone(),
            load_timeout: parts.load_timeout,
            backoff: Backoff::default(),
            jitter: true,
            // No task per scope: the scheduler refreshes in the advisory window, and a waiting
            // caller drives the refresh it started itself.
            background_refresh: false,
            prefetch: false,
            spawn_refreshes: false,
            on_refresh: None,
            #[cfg(feature = "telemetry")]
            metrics: parts.metrics.instruments(self.scope_labels),
        });
        #[cfg(feature = "session-store")]
        let store = scope_store(&mut parts);
        let shared = Arc::new(Shared {
            sts: Sts::new(
                parts.sts_config,
                parts.request.clone(),
                (None, None, None),
                parts.time.clone(),
            ),
            base: BaseCache::new(parts.base, parts.time.clone()),
            limiter,
            base_request: parts.request,
            time: parts.time,
            sleep: parts.sleep,
            // The limiter's typed error comes before the engine's timeout.
            max_wait: parts.load_timeout * 9 / 10,
            sts_calls: Default::default(),
            #[cfg(feature = "session-store")]
            store,
        });
        let inner = Arc::new(Inner {
            cache: ScopeCache::new(capacity),
            shared,
            settings: Settings {
                idle_expiry: self.idle_expiry,
                limits,
                sweep_interval: self.sweep_interval,
                engine,
                background_refresh: parts.background_refresh,
                on_refresh: self.on_refresh,
            },
            scheduler_running: AtomicBool::new(false),
        });
        #[cfg(feature = "telemetry")]
        if let Some(metrics) = &inner.settings.engine.metrics {
            let observed: std::sync::Weak<dyn crate::telemetry::Observe> =
                Arc::downgrade(&inner) as _;
            metrics.observe(observed);
        }
        scheduler::ensure_running(&inner);
        Ok(ScopedSessions { inner })
    }

    /// The settings' own rules: a capacity and limits of at least 1, a rate and periods that
    /// cannot overflow a deadline. The capacity, checked.
    fn check_settings(&self) -> Result<NonZeroUsize, BuildError> {
        let capacity = NonZeroUsize::new(self.capacity).ok_or_else(|| {
            BuildError::invalid(
                Field::ScopedSessions,
                "the capacity must be at least 1 scope",
            )
        })?;
        let limits = &self.limits;
        if limits.max_in_flight == 0 || limits.max_waiting == 0 {
            return Err(BuildError::invalid(
                Field::ScopedSessions,
                "`max_sts_calls_in_flight` and `max_waiting_for_sts` must be at least 1",
            ));
        }
        if limits.per_second.is_some_and(|rate| {
            !rate.is_finite()
                || !(MIN_STS_CALLS_PER_SECOND..=MAX_STS_CALLS_PER_SECOND).contains(&rate)
        }) {
            return Err(BuildError::invalid(
                Field::ScopedSessions,
                format!(
                    "`sts_calls_per_second` must be from {MIN_STS_CALLS_PER_SECOND} (one call \
                     in about 17 minutes) to {MAX_STS_CALLS_PER_SECOND}, or unset (no rate \
                     limit)"
                ),
            ));
        }
        #[cfg(feature = "telemetry")]
        if self
            .scope_labels
            .is_some_and(|max| max == 0 || max > crate::telemetry::MAX_SCOPE_LABELS)
        {
            return Err(BuildError::invalid(
                Field::ScopedSessions,
                format!(
                    "`metrics_scope_labels` must be from 1 to {} labels, or unset (no scope \
                     labels in metrics)",
                    crate::telemetry::MAX_SCOPE_LABELS
                ),
            ));
        }
        let period_ok = |d: Duration| !d.is_zero() && d <= MAX_SCOPE_PERIOD;
        if !period_ok(self.idle_expiry) || !period_ok(self.sweep_interval) {
            return Err(BuildError::invalid(
                Field::ScopedSessions,
                "`idle_expiry` and `sweep_interval` must be longer than zero and at most a \
                 year",
            ));
        }
        Ok(capacity)
    }
}

/// The session store as the scopes use it, if one was set on the builder.
#[cfg(feature = "session-store")]
fn scope_store(parts: &mut crate::builder::ScopedParts) -> Option<fetcher::ScopeStore> {
    let (store, request, region, endpoint_url) = parts.store.take()?;
    Some(fetcher::ScopeStore {
        shared: crate::session_store::SharedSessions::new(
            store,
            parts.time.clone(),
            parts.sleep.clone(),
            parts.load_timeout / 2,
        ),
        request,
        region,
        endpoint_url,
    })
}

/// The settings every scope shares.
struct Settings {
    idle_expiry: Duration,
    limits: Limits,
    sweep_interval: Duration,
    /// The engine settings of every scope (each scope's own copy only when a listener must be
    /// told its label).
    engine: Arc<EngineConfig>,
    background_refresh: bool,
    on_refresh: Option<SharedScopeRefreshListener>,
}

/// What the clones of one [`ScopedSessions`] share.
struct Inner {
    cache: ScopeCache,
    shared: Arc<Shared>,
    settings: Settings,
    scheduler_running: AtomicBool,
}

/// Sessions for many scopes over one base, cached, bounded and refreshed by one scheduler,
/// with STS calls limited for all scopes together. Build with
/// [`Builder::scoped_sessions`]; clones share everything.
///
/// ```no_run
/// use chainable_credentials::ChainableTemporaryCredentials;
/// use chainable_credentials::scoped::{PolicyTemplate, Scope};
///
/// # async fn example(sdk_config: &aws_types::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = ChainableTemporaryCredentials::builder()
///     .configure(sdk_config)
///     .role_arn("arn:aws:iam::123456789012:role/tenant-access")
///     .scoped_sessions()
///     .build()?;
/// let template = PolicyTemplate::new(r#"{"Version":"2012-10-17","Statement":[{
///     "Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
///     "Resource":"arn:aws:s3:::uploads/tenants/{{tenant}}/*"}]}"#)?;
/// let scope = Scope::new()
///     .label("acme")
///     .role_session_name("tenant-acme")
///     .policy(template.fill(&[("tenant", "acme")])?);
/// // An S3 client that can reach the tenant's prefix only.
/// let s3 = aws_sdk_s3::Client::from_conf(
///     aws_sdk_s3::config::Builder::from(sdk_config)
///         .credentials_provider(sessions.provider(&scope)?)
///         .build(),
/// );
/// # let _ = s3;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ScopedSessions {
    inner: Arc<Inner>,
}

impl fmt::Debug for ScopedSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedSessions")
            .field("base_request", &self.inner.shared.base_request)
            .field("status", &self.status())
            .finish()
    }
}

impl ScopedSessions {
    /// Credentials for `scope`: its cached session (at once, while it is outside its
    /// mandatory window), else the one refresh of that scope, within the limits on STS.
    ///
    /// # Errors
    /// A scope that breaks STS's rules is `CredentialsError::InvalidConfiguration` with the
    /// [`BuildError`] as its source; otherwise what the scope's refresh failed with (a typed
    /// [`FetchError`](crate::FetchError), reachable with [`fetch_error`](crate::fetch_error)).
    pub async fn credentials(&self, scope: &Scope) -> provider::Result {
        let handle = self
            .provider(scope)
            .map_err(provider::error::CredentialsError::invalid_configuration)?;
        handle.provide_credentials().await
    }

    /// A credentials provider for `scope`, for an SDK client (put it behind the client's
    /// identity cache as any provider). It holds the scope: while it lives, the scope's
    /// session is kept even if the cache drops the scope (the cache then makes a new one the
    /// next time the scope is asked for by value).
    ///
    /// # Errors
    /// A [`BuildError`] naming the field and the rule when the scope breaks STS's rules.
    pub fn provider(&self, scope: &Scope) -> Result<ScopedCredentials, BuildError> {
        let inner = &self.inner;
        scheduler::ensure_running(inner);
        if let Some(entry) = inner.cache.get(scope) {
            entry.touch(inner.shared.time.now());
            return Ok(ScopedCredentials { entry });
        }
        // Checked once, when the scope's entry is made; a hit checks nothing again.
        scope.request_on(&inner.shared.base_request)?;
        let entry = inner.cache.get_or_insert(scope.clone(), |key| {
            let config = self.engine_config(key.label.as_deref());
            ScopeEntry::new(key, &inner.shared, config)
        });
        entry.touch(inner.shared.time.now());
        Ok(ScopedCredentials { entry })
    }

    /// Checks `scope` against STS's rules as [`provider`](Self::provider) does, without
    /// caching it: to refuse a tenant's configuration when it is loaded rather than at its
    /// first request.
    ///
    /// # Errors
    /// A [`BuildError`] naming the field and the rule when the scope breaks STS's rules.
    pub fn check(&self, scope: &Scope) -> Result<(), BuildError> {
        scope.request_on(&self.inner.shared.base_request).map(drop)
    }

    /// The engine settings of one scope: the shared ones, with a listener told the scope's
    /// label if one is set.
    fn engine_config(&self, label: Option<&str>) -> Arc<EngineConfig> {
        let settings = &self.inner.settings;
        let Some(listener) = settings.on_refresh.clone() else {
            return settings.engine.clone();
        };
        let label: Option<Arc<str>> = label.map(Arc::from);
        let on_refresh =
            RefreshListener::from_arc(Arc::new(move |outcome: &RefreshOutcome<'_>| {
                listener(label.as_deref(), outcome)
            }));
        Arc::new(EngineConfig {
            on_refresh: Some(on_refresh),
            ..EngineConfig::clone(&settings.engine)
        })
    }

    /// The status of `scope`'s session, if the scope is cached (asking does not count as a
    /// use, nor add the scope).
    pub fn scope_status(&self, scope: &Scope) -> Option<ProviderStatus> {
        self.inner
            .cache
            .peek(scope)
            .map(|entry| entry.engine.status())
    }

    /// A snapshot of all scopes together. Never holds a secret.
    pub fn status(&self) -> ScopedSessionsStatus {
        self.inner.status()
    }

    /// Runs one sweep of the scheduler now: drops the idle scopes, refreshes the due ones
    /// (with the background refresh on), as the scheduler does every `sweep_interval`. For
    /// tests on a manual clock (cargo feature `test-util`).
    #[cfg(feature = "test-util")]
    pub async fn sweep(&self) {
        scheduler::sweep(&self.inner).await;
    }
}

impl Inner {
    /// A snapshot of all scopes together.
    fn status(&self) -> ScopedSessionsStatus {
        let inner = self;
        let limiter = &inner.shared.limiter;
        ScopedSessionsStatus {
            scopes_cached: inner.cache.len(),
            scopes_created: inner.cache.created.load(Ordering::Relaxed),
            evicted_at_capacity: inner.cache.evicted_at_capacity.load(Ordering::Relaxed),
            evicted_idle: inner.cache.evicted_idle.load(Ordering::Relaxed),
            sts_calls: inner.shared.sts_calls.load(Ordering::Relaxed),
            sts_calls_in_flight: limiter.in_flight(),
            waiting_for_sts: limiter.waiting(),
            refused_by_sts_limit: limiter.counts.refused.load(Ordering::Relaxed),
            scheduler_running: inner.scheduler_running.load(Ordering::Acquire),
            #[cfg(feature = "session-store")]
            store: inner
                .shared
                .store
                .as_ref()
                .map(|store| store.shared.counts()),
        }
    }
}

#[cfg(feature = "telemetry")]
impl crate::telemetry::Observe for Inner {
    fn snapshot(&self) -> crate::telemetry::Snapshot {
        let status = self.status();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        crate::telemetry::Snapshot {
            session: None,
            scopes: Some(crate::telemetry::ScopeGauges {
                cached: count(status.scopes_cached),
                evicted_at_capacity: status.evicted_at_capacity,
                evicted_idle: status.evicted_idle,
                sts_calls_in_flight: count(status.sts_calls_in_flight),
                waiting_for_sts: count(status.waiting_for_sts),
                refused_by_sts_limit: status.refused_by_sts_limit,
                sts_calls_per_second_limit: self.settings.limits.per_second,
            }),
            #[cfg(feature = "session-store")]
            store: self
                .shared
                .store
                .as_ref()
                .map(|store| store.shared.gauges()),
            #[cfg(not(feature = "session-store"))]
            store: None,
        }
    }
}

/// A snapshot of [`ScopedSessions`], from [`ScopedSessions::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopedSessionsStatus {
    /// Scopes cached now.
    pub scopes_cached: usize,
    /// Scopes created since the start (a scope asked for again after it was dropped counts
    /// again).
    pub scopes_created: u64,
    /// Scopes dropped to stay within the capacity.
    pub evicted_at_capacity: u64,
    /// Scopes dropped because nobody asked for them during the idle expiry.
    pub evicted_idle: u64,
    /// STS calls started, all scopes together.
    pub sts_calls: u64,
    /// STS calls in flight now.
    pub sts_calls_in_flight: usize,
    /// Fetches waiting for the limits on STS calls now.
    pub waiting_for_sts: usize,
    /// Fetches the limits refused (a full queue, or no slot within the wait allowed).
    pub refused_by_sts_limit: u64,
    /// The scheduler task is alive.
    pub scheduler_running: bool,
    /// With a session store ([`Builder::session_store`](crate::Builder::session_store) or the
    /// file cache): its hits, misses, rejected entries and errors — every user of the same
    /// store together.
    #[cfg(feature = "session-store")]
    pub store: Option<crate::session_store::StoreCounts>,
}

/// One scope's credentials provider, from [`ScopedSessions::provider`]. Clones share the
/// scope's session.
#[derive(Clone)]
pub struct ScopedCredentials {
    entry: Arc<ScopeEntry>,
}

impl fmt::Debug for ScopedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedCredentials")
            .field("label", &self.entry.key.label)
            .field("request", &self.entry.key.request)
            .finish_non_exhaustive()
    }
}

impl ScopedCredentials {
    /// The scope's label.
    pub fn label(&self) -> Option<&str> {
        self.entry.key.label.as_deref()
    }

    /// The status of the scope's session.
    pub fn status(&self) -> ProviderStatus {
        self.entry.engine.status()
    }
}

impl ScopedCredentials {
    /// The scope's engine, its use noted (the idle expiry counts from here).
    pub(crate) fn engine_in_use(&self) -> &RefreshEngine {
        let entry = &self.entry;
        entry.touch(entry.engine.now());
        &entry.engine
    }
}

impl ProvideCredentials for ScopedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.engine_in_use().provide()
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.entry.engine.fallback()
    }
}

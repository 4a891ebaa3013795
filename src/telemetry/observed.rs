//! The instruments read when the meter provider collects (gauges and the counts status
//! snapshots already keep): one set per meter provider for the whole process, reading every
//! provider and every set of scoped sessions registered with it.
//!
//! aws-smithy-observability cannot unregister an asynchronous instrument's callback (its
//! `stop` does nothing in the OpenTelemetry bridge), so registering callbacks per provider
//! would keep every provider ever built alive in the meter provider. Instead each meter
//! provider gets its callbacks once, and they read a list of weak references that providers
//! join when built and that forgets them once they are dropped.

use super::attributes;
use aws_smithy_observability::TelemetryProvider;
use aws_smithy_observability::instruments::AsyncMeasure;
use aws_smithy_observability::meter::Meter;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// What a registered source says when the meter provider collects.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Snapshot {
    /// A provider's session: present for providers, absent for scoped sessions.
    pub(crate) session: Option<SessionGauges>,
    /// Scoped sessions' scopes and limits.
    pub(crate) scopes: Option<ScopeGauges>,
    /// The session store's counts, with a store.
    pub(crate) store: Option<StoreGauges>,
}

/// A provider's cached session and refreshes.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct SessionGauges {
    /// Until the cached session expires; zero with none (or an expired one).
    pub(crate) time_to_expiry: Duration,
    /// The last refresh failed and the still-valid session is being served.
    pub(crate) serving_stale: bool,
    pub(crate) failures_in_a_row: u32,
}

/// Scoped sessions as a whole.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ScopeGauges {
    pub(crate) cached: u64,
    pub(crate) evicted_at_capacity: u64,
    pub(crate) evicted_idle: u64,
    pub(crate) sts_calls_in_flight: u64,
    pub(crate) waiting_for_sts: u64,
    pub(crate) refused_by_sts_limit: u64,
    /// The configured limit on STS calls per second, if any.
    pub(crate) sts_calls_per_second_limit: Option<f64>,
}

/// A session store's counts. Every provider on one store reports the same counts: they are
/// counted once per store (`identity`).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct StoreGauges {
    /// Which store (the address of its counters).
    pub(crate) identity: usize,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) rejected: u64,
    pub(crate) errors: u64,
}

impl Snapshot {
    /// Adds another source's snapshot under the same name: the earliest expiry, stale or
    /// failing if any is, counts summed.
    fn merge(&mut self, other: Snapshot) {
        self.session = match (self.session.take(), other.session) {
            (Some(a), Some(b)) => Some(SessionGauges {
                time_to_expiry: a.time_to_expiry.min(b.time_to_expiry),
                serving_stale: a.serving_stale || b.serving_stale,
                failures_in_a_row: a.failures_in_a_row.max(b.failures_in_a_row),
            }),
            (a, b) => a.or(b),
        };
        self.scopes = match (self.scopes.take(), other.scopes) {
            (Some(a), Some(b)) => Some(ScopeGauges {
                cached: a.cached + b.cached,
                evicted_at_capacity: a.evicted_at_capacity + b.evicted_at_capacity,
                evicted_idle: a.evicted_idle + b.evicted_idle,
                sts_calls_in_flight: a.sts_calls_in_flight + b.sts_calls_in_flight,
                waiting_for_sts: a.waiting_for_sts + b.waiting_for_sts,
                refused_by_sts_limit: a.refused_by_sts_limit + b.refused_by_sts_limit,
                sts_calls_per_second_limit: match (
                    a.sts_calls_per_second_limit,
                    b.sts_calls_per_second_limit,
                ) {
                    (Some(x), Some(y)) => Some(x + y),
                    (x, y) => x.or(y),
                },
            }),
            (a, b) => a.or(b),
        };
        self.store = match (self.store.take(), other.store) {
            (Some(a), Some(b)) => Some(StoreGauges {
                identity: a.identity,
                hits: a.hits + b.hits,
                misses: a.misses + b.misses,
                rejected: a.rejected + b.rejected,
                errors: a.errors + b.errors,
            }),
            (a, b) => a.or(b),
        };
    }
}

/// Something the metrics read at collection: a provider's state or scoped sessions.
pub(crate) trait Observe: Send + Sync {
    fn snapshot(&self) -> Snapshot;
}

/// One registered source and the name its metrics carry.
struct Source {
    name: Option<Arc<str>>,
    observed: Weak<dyn Observe>,
}

/// The sources of one meter provider; dropped ones are forgotten at the next registration
/// or collection, so the list holds at most the sources alive then.
#[derive(Default)]
struct Sources(Mutex<Vec<Source>>);

impl Sources {
    /// One snapshot per name, of every live source (the dropped ones are forgotten): sources
    /// of one name — a chain's hops, providers left unnamed — would overwrite each other's
    /// values under the same attributes, so they are merged; each store's counts once.
    fn read(&self) -> Vec<(Option<Arc<str>>, Snapshot)> {
        let mut sources = crate::mutex::lock(&self.0);
        sources.retain(|s| s.observed.strong_count() > 0);
        let live: Vec<_> = sources
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.observed.upgrade()?)))
            .collect();
        // Snapshots take the sources' own locks: not under this one.
        drop(sources);
        let mut stores_seen = Vec::new();
        let mut merged: Vec<(Option<Arc<str>>, Snapshot)> = Vec::new();
        for (name, observed) in &live {
            let mut snapshot = observed.snapshot();
            if let Some(store) = &snapshot.store {
                if stores_seen.contains(&store.identity) {
                    snapshot.store = None;
                } else {
                    stores_seen.push(store.identity);
                }
            }
            match merged.iter_mut().find(|(n, _)| n == name) {
                Some((_, into)) => into.merge(snapshot),
                None => merged.push((name.clone(), snapshot)),
            }
        }
        merged
    }

    fn add(&self, source: Source) {
        let mut sources = crate::mutex::lock(&self.0);
        sources.retain(|s| s.observed.strong_count() > 0);
        sources.push(source);
    }
}

/// A meter provider's sources and its asynchronous instruments (kept so that they live as
/// long as the meter provider does).
struct Registered {
    /// The meter provider's address: two `Arc<TelemetryProvider>`s around one meter provider
    /// share its instruments.
    meter_provider: usize,
    telemetry: Weak<TelemetryProvider>,
    sources: Arc<Sources>,
    _instruments: Instruments,
}

/// Every meter provider with sources, as long as it lives. A process has one or two (the
/// global one, one given to a builder).
static REGISTRY: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// Adds `observed` to what `telemetry`'s meter reads at each collection, with `name` as its
/// provider attribute; creates the instruments the first time a source joins that meter
/// provider.
pub(crate) fn register(
    telemetry: &Arc<TelemetryProvider>,
    meter: &Meter,
    name: Option<Arc<str>>,
    observed: Weak<dyn Observe>,
) {
    let meter_provider = meter_provider_address(telemetry);
    let mut registry = crate::mutex::lock(&REGISTRY);
    registry.retain(|r| r.telemetry.strong_count() > 0);
    let found = registry.iter().find(|r| r.meter_provider == meter_provider);
    let sources = match found {
        Some(registered) => registered.sources.clone(),
        None => {
            let sources = Arc::new(Sources::default());
            registry.push(Registered {
                meter_provider,
                telemetry: Arc::downgrade(telemetry),
                sources: sources.clone(),
                _instruments: Instruments::new(meter, &sources),
            });
            sources
        }
    };
    drop(registry);
    sources.add(Source { name, observed });
}

/// Where `telemetry`'s meter provider lives: what tells meter providers apart.
fn meter_provider_address(telemetry: &TelemetryProvider) -> usize {
    let meter_provider: *const _ = telemetry.meter_provider();
    meter_provider.cast::<()>() as usize
}

type Gauge = Arc<dyn AsyncMeasure<Value = f64>>;
type UpDown = Arc<dyn AsyncMeasure<Value = i64>>;
type Count = Arc<dyn AsyncMeasure<Value = u64>>;

/// The asynchronous instruments of one meter provider.
struct Instruments {
    _gauges: Vec<Gauge>,
    _up_downs: Vec<UpDown>,
    _counts: Vec<Count>,
}

/// A callback that reads every source and records the values `pick` takes from each
/// snapshot, each with its attributes (the source's name, and `pick`'s own).
fn each<V: 'static>(
    sources: &Arc<Sources>,
    pick: impl Fn(&Snapshot) -> Vec<(V, Option<(&'static str, &'static str)>)> + Send + Sync + 'static,
) -> impl Fn(&dyn AsyncMeasure<Value = V>) + Send + Sync + 'static {
    let sources = sources.clone();
    move |measure| {
        for (name, snapshot) in sources.read() {
            for (value, extra) in pick(&snapshot) {
                let mut attributes = attributes::provider(&name);
                if let Some((key, text)) = extra {
                    attributes.set(key, attributes::text(text));
                }
                measure.record(value, Some(&attributes), None);
            }
        }
    }
}

impl Instruments {
    fn new(meter: &Meter, sources: &Arc<Sources>) -> Self {
        Instruments {
            _gauges: gauges(meter, sources),
            _up_downs: up_downs(meter, sources),
            _counts: counts(meter, sources),
        }
    }
}

fn gauges(meter: &Meter, sources: &Arc<Sources>) -> Vec<Gauge> {
    let session = |pick: fn(&SessionGauges) -> f64| {
        each(sources, move |snapshot| {
            snapshot.session.iter().map(|s| (pick(s), None)).collect()
        })
    };
    let rate_limit = each(sources, |snapshot| {
        let limit = snapshot
            .scopes
            .as_ref()
            .and_then(|s| s.sts_calls_per_second_limit);
        limit.map(|l| (l, None)).into_iter().collect()
    });
    vec![
        meter
            .create_gauge(
                "aws.credentials.session.time_to_expiry",
                session(|s| s.time_to_expiry.as_secs_f64()),
            )
            .set_units("s")
            .set_description("Time until the cached session expires (0 without a valid one)")
            .build(),
        meter
            .create_gauge(
                "aws.credentials.session.stale",
                session(|s| f64::from(u8::from(s.serving_stale))),
            )
            .set_description(
                "1 while refreshes fail and the still-valid cached session is served, else 0",
            )
            .build(),
        meter
            .create_gauge(
                "aws.credentials.refresh.failures_in_a_row",
                session(|s| f64::from(s.failures_in_a_row)),
            )
            .set_units("{refresh}")
            .set_description("Refreshes that failed since the last successful one")
            .build(),
        meter
            .create_gauge("aws.credentials.sts.rate_limit", rate_limit)
            .set_units("{call}/s")
            .set_description("Scoped sessions: the configured limit on STS calls per second")
            .build(),
    ]
}

fn up_downs(meter: &Meter, sources: &Arc<Sources>) -> Vec<UpDown> {
    let scopes = |pick: fn(&ScopeGauges) -> u64| {
        each(sources, move |snapshot| {
            snapshot
                .scopes
                .iter()
                .map(|s| (i64::try_from(pick(s)).unwrap_or(i64::MAX), None))
                .collect()
        })
    };
    vec![
        meter
            .create_async_up_down_counter("aws.credentials.scopes.cached", scopes(|s| s.cached))
            .set_units("{scope}")
            .set_description("Scoped sessions: scopes cached")
            .build(),
        meter
            .create_async_up_down_counter(
                "aws.credentials.sts.in_flight",
                scopes(|s| s.sts_calls_in_flight),
            )
            .set_units("{call}")
            .set_description("Scoped sessions: STS calls in flight")
            .build(),
        meter
            .create_async_up_down_counter(
                "aws.credentials.sts.waiting",
                scopes(|s| s.waiting_for_sts),
            )
            .set_units("{fetch}")
            .set_description("Scoped sessions: fetches waiting for the limit on STS calls")
            .build(),
    ]
}

fn counts(meter: &Meter, sources: &Arc<Sources>) -> Vec<Count> {
    let evicted = each(sources, |snapshot| {
        let Some(scopes) = &snapshot.scopes else {
            return Vec::new();
        };
        vec![
            (
                scopes.evicted_at_capacity,
                Some(("aws.credentials.reason", "capacity")),
            ),
            (
                scopes.evicted_idle,
                Some(("aws.credentials.reason", "idle")),
            ),
        ]
    });
    let refused = each(sources, |snapshot| {
        snapshot
            .scopes
            .iter()
            .map(|s| (s.refused_by_sts_limit, None))
            .collect()
    });
    let store = |pick: fn(&StoreGauges) -> u64| {
        each(sources, move |snapshot| {
            snapshot.store.iter().map(|s| (pick(s), None)).collect()
        })
    };
    vec![
        meter
            .create_async_monotonic_counter("aws.credentials.scopes.evicted", evicted)
            .set_units("{scope}")
            .set_description("Scoped sessions: scopes dropped, by reason (capacity, idle)")
            .build(),
        meter
            .create_async_monotonic_counter("aws.credentials.sts.refused", refused)
            .set_units("{fetch}")
            .set_description("Scoped sessions: fetches the limit on STS calls refused")
            .build(),
        meter
            .create_async_monotonic_counter("aws.credentials.store.hits", store(|s| s.hits))
            .set_units("{load}")
            .set_description("Session loads answered by the session store")
            .build(),
        meter
            .create_async_monotonic_counter("aws.credentials.store.misses", store(|s| s.misses))
            .set_units("{load}")
            .set_description("Session loads that went to STS although the store answered")
            .build(),
        meter
            .create_async_monotonic_counter("aws.credentials.store.rejected", store(|s| s.rejected))
            .set_units("{entry}")
            .set_description("Store entries refused: tampered, foreign, unbelievable")
            .build(),
        meter
            .create_async_monotonic_counter("aws.credentials.store.errors", store(|s| s.errors))
            .set_units("{operation}")
            .set_description("Store operations that failed, each a fall back to STS")
            .build(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Snapshot);

    impl Observe for Fixed {
        fn snapshot(&self) -> Snapshot {
            self.0.clone()
        }
    }

    fn sources_of(telemetry: &Arc<TelemetryProvider>) -> Option<Arc<Sources>> {
        crate::mutex::lock(&REGISTRY)
            .iter()
            .find(|r| r.meter_provider == meter_provider_address(telemetry))
            .map(|r| r.sources.clone())
    }

    fn observed(time_to_expiry: u64) -> Arc<dyn Observe> {
        Arc::new(Fixed(Snapshot {
            session: Some(SessionGauges {
                time_to_expiry: Duration::from_secs(time_to_expiry),
                ..SessionGauges::default()
            }),
            ..Snapshot::default()
        }))
    }

    #[test]
    fn dropped_sources_are_forgotten_and_the_list_stays_as_long_as_the_live_ones() {
        let telemetry = Arc::new(TelemetryProvider::noop());
        let meter = telemetry.meter_provider().get_meter("test", None);
        let kept = observed(60);
        register(
            &telemetry,
            &meter,
            Some("kept".into()),
            Arc::downgrade(&kept),
        );
        for n in 0..1_000 {
            let gone = observed(n);
            register(&telemetry, &meter, None, Arc::downgrade(&gone));
        }
        let sources = sources_of(&telemetry).unwrap();
        // The last one registered is dropped but not yet pruned; a read prunes it.
        assert_eq!(crate::mutex::lock(&sources.0).len(), 2);
        let read = sources.read();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].0.as_deref(), Some("kept"));
        assert_eq!(
            read[0].1.session.as_ref().unwrap().time_to_expiry,
            Duration::from_secs(60)
        );
        drop(kept);
        assert!(sources.read().is_empty());
    }

    fn with_store(identity: usize, hits: u64) -> Arc<dyn Observe> {
        Arc::new(Fixed(Snapshot {
            store: Some(StoreGauges {
                identity,
                hits,
                ..StoreGauges::default()
            }),
            ..Snapshot::default()
        }))
    }

    #[test]
    fn sources_of_one_name_merge_and_a_store_counts_once() {
        let telemetry = Arc::new(TelemetryProvider::noop());
        let meter = telemetry.meter_provider().get_meter("test", None);
        let hop = |seconds: u64, stale: bool, failures: u32| -> Arc<dyn Observe> {
            Arc::new(Fixed(Snapshot {
                session: Some(SessionGauges {
                    time_to_expiry: Duration::from_secs(seconds),
                    serving_stale: stale,
                    failures_in_a_row: failures,
                }),
                store: Some(StoreGauges {
                    identity: 7,
                    hits: 5,
                    ..StoreGauges::default()
                }),
                ..Snapshot::default()
            }))
        };
        let sources = [
            (Some("chain"), hop(3000, false, 0)),
            (Some("chain"), hop(600, true, 2)),
            (None, with_store(7, 5)),
            (None, with_store(8, 1)),
        ];
        for (name, observed) in &sources {
            register(
                &telemetry,
                &meter,
                name.map(Arc::from),
                Arc::downgrade(observed),
            );
        }
        let read = sources_of(&telemetry).unwrap().read();
        assert_eq!(read.len(), 2, "{read:?}");
        let chain = &read[0].1;
        assert_eq!(
            chain.session,
            Some(SessionGauges {
                time_to_expiry: Duration::from_secs(600),
                serving_stale: true,
                failures_in_a_row: 2,
            })
        );
        // Store 7 (shared by all) once, under the first name that reported it; store 8 apart.
        assert_eq!(chain.store.as_ref().unwrap().hits, 5);
        assert_eq!(read[1].1.store.as_ref().unwrap().hits, 1);
    }

    #[test]
    fn a_dropped_telemetry_provider_leaves_the_registry() {
        let telemetry = Arc::new(TelemetryProvider::noop());
        let meter = telemetry.meter_provider().get_meter("test", None);
        let source = observed(1);
        register(&telemetry, &meter, None, Arc::downgrade(&source));
        let weak = Arc::downgrade(&telemetry);
        assert!(sources_of(&telemetry).is_some());
        drop(telemetry);
        // The next registration (any meter provider) prunes it.
        let other = Arc::new(TelemetryProvider::noop());
        let meter = other.meter_provider().get_meter("test", None);
        register(&other, &meter, None, Arc::downgrade(&source));
        assert!(
            crate::mutex::lock(&REGISTRY)
                .iter()
                .all(|r| !std::ptr::eq(r.telemetry.as_ptr(), weak.as_ptr()))
        );
    }
}

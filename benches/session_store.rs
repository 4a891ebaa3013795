//! The Valkey/Redis session store: a real `redis-server` (started for the bench on a free
//! loopback port, as the tests start theirs) and the in-process STS.
//! 1. A fleet of instances (each its own STS client and caches) x many tenants on
//!    `ScopedSessions`: STS calls with one store (target: one per tenant) against without.
//! 2. Instances starting together on one role, each with its own connection to the store:
//!    STS calls (target 1) and how long each waited for its first credentials.
//! 3. A warm session's first use on a new instance: p50 and p99 (target p99 under 2 ms)
//!    against the STS round trip (50 ms here).
//! 4. A cache hit with a store configured: the same as without, against the SDK's `LazyCache`
//!    hit (the store is only read when a session is fetched).
//!
//! `cargo bench --features redis-store --bench session_store` (`cargo test --benches` runs a
//! reduced workload once).

use test_support::FakeSts;
use test_support::bench as support;
use test_support::redis::RedisServer;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use chainable_credentials::ChainableTemporaryCredentials;
use chainable_credentials::scoped::{Scope, ScopedSessions};
use chainable_credentials::session_store::SessionStore;
use chainable_credentials::session_store::redis::RedisStoreBuilder;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

const STS_LATENCY: Duration = Duration::from_millis(50);
const KEY: [u8; 32] = [0x42; 32];

/// The real time, through the SDK's time source (clippy keeps `Instant::now` out).
fn wall_clock() -> SystemTime {
    SystemTimeSource::new().now()
}

fn since(start: SystemTime) -> Duration {
    wall_clock().duration_since(start).unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A store handle of its own (its own connection, made on first use): an instance's.
fn store(redis: &RedisServer) -> SessionStore {
    RedisStoreBuilder::new(redis.url())
        .sealing_keys([KEY])
        .build()
        .unwrap()
}

fn provider(aws: &FakeSts, store: Option<SessionStore>) -> ChainableTemporaryCredentials {
    let mut builder = support::role(aws).role_session_name("bench");
    builder.set_session_store(store);
    builder.build().unwrap()
}

fn tenant(n: usize) -> Scope {
    Scope::new()
        .label(format!("t{n}"))
        .role_session_name(format!("tenant-{n}"))
}

/// `instances` instances, each with its own `ScopedSessions` (and store connection), all
/// asking for `tenants` tenants at once in the same order; the STS calls they made and how
/// long it took.
fn fleet_of_tenants(
    runtime: &tokio::runtime::Runtime,
    redis: Option<&RedisServer>,
    (instances, tenants): (usize, usize),
) -> (usize, Duration) {
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        Duration::ZERO,
    );
    let fleet: Vec<ScopedSessions> = (0..instances)
        .map(|_| {
            let mut builder = support::role(&aws);
            builder.set_session_store(redis.map(store));
            let mut builder = builder.scoped_sessions().capacity(tenants.max(1));
            builder.set_sts_calls_per_second(None);
            builder.build().unwrap()
        })
        .collect();
    let started = wall_clock();
    runtime.block_on(futures_util::future::join_all(fleet.iter().map(
        |sessions| async move {
            for n in 0..tenants {
                sessions.credentials(&tenant(n)).await.unwrap();
            }
        },
    )));
    (aws.calls(), since(started))
}

/// `instances` providers on one role starting together, each with its own store connection:
/// the STS calls, and each one's wait for its first credentials (sorted).
fn starting_together(
    runtime: &tokio::runtime::Runtime,
    redis: Option<&RedisServer>,
    instances: usize,
) -> (usize, Vec<Duration>) {
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        STS_LATENCY,
    );
    let fleet: Vec<_> = (0..instances)
        .map(|_| provider(&aws, redis.map(store)))
        .collect();
    let started = wall_clock();
    let mut waits = runtime.block_on(futures_util::future::join_all(fleet.iter().map(
        |provider| async move {
            provider.provide_credentials().await.unwrap();
            since(started)
        },
    )));
    waits.sort();
    (aws.calls(), waits)
}

fn fleet_tables(runtime: &tokio::runtime::Runtime, redis: &RedisServer) {
    let (instances, tenants, together) = if support::test_mode() {
        (4, 50, 50)
    } else {
        (20, 1_000, 1_000)
    };
    redis.flush();
    let (shared_calls, shared_took) = fleet_of_tenants(runtime, Some(redis), (instances, tenants));
    let (alone_calls, alone_took) = fleet_of_tenants(runtime, None, (instances, tenants));
    assert_eq!(
        shared_calls, tenants,
        "one STS call per tenant for the fleet"
    );
    assert_eq!(alone_calls, instances * tenants);
    redis.flush();
    let (together_calls, shared_waits) = starting_together(runtime, Some(redis), together);
    let (alone_together, alone_waits) = starting_together(runtime, None, together);
    assert_eq!(
        together_calls, 1,
        "one STS call for the instances starting together"
    );
    assert_eq!(alone_together, together);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    support::report(
        "session_store_fleet",
        &format!(
            "| {instances} instances x {tenants} tenants (`ScopedSessions`, STS answering at once) | STS calls | all served in |\n\
             |---|---|---|\n\
             | one Valkey/Redis store | {shared_calls} | {:.0} ms |\n\
             | no store | {alone_calls} | {:.0} ms |\n\n\
             | {together} instances starting together on one role (STS {} ms) | STS calls | wait p50 | wait p99 |\n\
             |---|---|---|---|\n\
             | one Valkey/Redis store (a connection each) | {together_calls} | {:.1} ms | {:.1} ms |\n\
             | no store | {alone_together} | {:.1} ms | {:.1} ms |",
            ms(shared_took),
            ms(alone_took),
            STS_LATENCY.as_millis(),
            ms(percentile(&shared_waits, 0.5)),
            ms(percentile(&shared_waits, 0.99)),
            ms(percentile(&alone_waits, 0.5)),
            ms(percentile(&alone_waits, 0.99)),
        ),
    );
}

/// A warm session's first use on `samples` new instances, one after the other: with a new
/// connection each (a new process), and on a connection already open (a new provider in a
/// running process). Sorted latencies of each.
fn first_use(
    runtime: &tokio::runtime::Runtime,
    aws: &FakeSts,
    redis: &RedisServer,
    samples: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let open = store(redis);
    let timed = |make_store: &dyn Fn() -> SessionStore| {
        let mut latencies: Vec<Duration> = (0..samples)
            .map(|_| {
                let provider = provider(aws, Some(make_store()));
                let started = wall_clock();
                runtime.block_on(provider.provide_credentials()).unwrap();
                since(started)
            })
            .collect();
        latencies.sort();
        latencies
    };
    let new_connection = timed(&|| store(redis));
    let open_connection = timed(&|| open.clone());
    (new_connection, open_connection)
}

fn first_use_and_hits(c: &mut Criterion) {
    let runtime = support::runtime();
    let redis = RedisServer::start();
    fleet_tables(&runtime, &redis);

    // Session tokens of 1,000 characters, about what real STS issues: the entry's size.
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        STS_LATENCY,
    )
    .with_session_tokens_of(1_000);
    redis.flush();
    let writer = provider(&aws, Some(store(&redis)));
    let session = runtime.block_on(writer.provide_credentials()).unwrap();
    let entries: Vec<_> = redis
        .everything()
        .into_iter()
        .filter(|(name, _)| !name.contains("lease:"))
        .collect();
    assert_eq!(entries.len(), 1, "one entry");
    let (name_bytes, value_bytes) = (entries[0].0.len(), entries[0].1.len());
    let calls = aws.calls();
    let samples = if support::test_mode() { 20 } else { 1_000 };
    let (new_connection, open_connection) = first_use(&runtime, &aws, &redis, samples);
    assert_eq!(
        aws.calls(),
        calls,
        "every new instance took the stored session"
    );

    let mut group = c.benchmark_group("new_instance_first_credentials");
    group.sample_size(10);
    group.bench_function("sts_50ms", |b| {
        b.to_async(&runtime)
            .iter(|| async { provider(&aws, None).provide_credentials().await.unwrap() })
    });
    let shared = store(&redis);
    group.bench_function("store_hit_open_connection", |b| {
        b.to_async(&runtime).iter(|| async {
            provider(&aws, Some(shared.clone()))
                .provide_credentials()
                .await
                .unwrap()
        })
    });
    group.finish();

    let hits = cache_hits(c, &runtime, &aws, &redis, session);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    support::report(
        "session_store_first_use",
        &format!(
            "| a warm session's first use on a new instance ({samples} instances) | p50 | p99 |\n\
             |---|---|---|\n\
             | new connection to the store (a new process) | {:.2} ms | {:.2} ms |\n\
             | connection already open (a new provider) | {:.2} ms | {:.2} ms |\n\
             | STS round trip (the in-process STS, {} ms) | {:.1} ms | |\n\n\
             | an entry in Valkey (a 1,000-character session token) | bytes |\n|---|---|\n\
             | name | {name_bytes} |\n| value (sealed) | {value_bytes} |\n\n{hits}",
            ms(percentile(&new_connection, 0.5)),
            ms(percentile(&new_connection, 0.99)),
            ms(percentile(&open_connection, 0.5)),
            ms(percentile(&open_connection, 0.99)),
            STS_LATENCY.as_millis(),
            ms(STS_LATENCY),
        ),
    );
}

/// A warm provider's hit with a store and without, and the SDK `LazyCache` hit, timed in one
/// loop each (nanoseconds per hit); the table's text.
fn cache_hits(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    aws: &FakeSts,
    redis: &RedisServer,
    session: aws_credential_types::Credentials,
) -> String {
    let with_store = provider(aws, Some(store(redis)));
    let without = provider(aws, None);
    runtime.block_on(async {
        with_store.provide_credentials().await.unwrap();
        without.provide_credentials().await.unwrap();
    });
    let _inside = runtime.enter();
    let sdk_hit = test_support::sdk_cache::hit(session);
    sdk_hit();
    let mut group = c.benchmark_group("warm_hit");
    group.bench_function("with_store", |b| {
        b.iter(|| black_box(support::ready(with_store.provide_credentials()).unwrap()))
    });
    group.bench_function("without_store", |b| {
        b.iter(|| black_box(support::ready(without.provide_credentials()).unwrap()))
    });
    group.bench_function("sdk_lazy_cache", |b| b.iter(|| black_box(sdk_hit())));
    group.finish();
    let per_hit = |hit: &dyn Fn()| {
        let rounds = if support::test_mode() {
            1_000
        } else {
            2_000_000
        };
        let started = wall_clock();
        for _ in 0..rounds {
            hit();
        }
        since(started).as_secs_f64() * 1e9 / f64::from(rounds)
    };
    let ours_store = per_hit(&|| {
        black_box(support::ready(with_store.provide_credentials()).unwrap());
    });
    let ours_plain = per_hit(&|| {
        black_box(support::ready(without.provide_credentials()).unwrap());
    });
    let sdk = per_hit(&|| {
        black_box(sdk_hit());
    });
    format!(
        "| a warm hit, 1 thread | ours | SDK `LazyCache` hit | SDK / ours |\n\
         |---|---|---|---|\n\
         | with a Valkey/Redis store | {ours_store:.0} ns | {sdk:.0} ns | {:.1}x |\n\
         | without | {ours_plain:.0} ns | {sdk:.0} ns | {:.1}x |",
        sdk / ours_store,
        sdk / ours_plain,
    )
}

criterion_group!(benches, first_use_and_hits);
criterion_main!(benches);

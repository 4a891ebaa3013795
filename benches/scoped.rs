//! Scoped sessions for many tenants, against the in-process STS (session tokens of 1,000
//! characters, about what real STS issues):
//! 1. N tenants x M requests: STS calls, heap, tasks — `ScopedSessions` (target: N calls)
//!    against the per-request pattern (N x M calls; its cost per request measured on a sample).
//! 2. Heap per cached scope (target: under 2 KiB).
//! 3. Many more distinct scopes than the capacity: the heap stays bounded (peak, and per scope).
//! 4. A storm: tenants arriving at once under a rate limit — peak STS calls in any second of
//!    the run, callers served, callers given the typed refusal.
//! 5. A warm scope hit (the handle, and by value) against the single provider's hit and the
//!    SDK identity cache's hit (what every SDK client pays in front of any provider).
//! 6. What a Rust user writes today, per tenant: an aws-config `AssumeRoleProvider` behind an
//!    S3 client's identity cache — against an S3 client per tenant on a scope handle: STS
//!    calls, heap and tasks per tenant.
//!
//! `cargo bench --bench scoped` (`cargo test --benches` runs a reduced workload once).

use test_support::FakeSts;
use test_support::bench as support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_async::time::TimeSource;
use chainable_credentials::scoped::{PolicyTemplate, Scope, ScopedSessions};
use chainable_credentials::{FetchError, fetch_error};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, SystemTime};
use test_support::heap::live;

#[global_allocator]
static ALLOCATOR: test_support::heap::Counting = test_support::heap::Counting;

/// The real time, through the SDK's time source (clippy keeps `Instant::now` out).
fn wall_clock() -> SystemTime {
    SystemTimeSource::new().now()
}

fn since(start: SystemTime) -> Duration {
    wall_clock().duration_since(start).unwrap_or_default()
}

/// Waits (up to 3 s) until no task is alive on `runtime`: the schedulers of sessions dropped
/// earlier end at their next sweep, and would otherwise be counted (or uncounted) below.
fn no_tasks_left(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        let sleep = aws_smithy_async::rt::sleep::TokioSleep::new();
        for _ in 0..30 {
            if tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                == 0
            {
                return;
            }
            aws_smithy_async::rt::sleep::AsyncSleep::sleep(&sleep, Duration::from_millis(100))
                .await;
        }
    });
}

const TOKEN_LEN: usize = 1_000;

const TEMPLATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::uploads/tenants/{{tenant}}/*"}]}"#;

fn bench_aws() -> FakeSts {
    support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        Duration::ZERO,
    )
    .with_session_tokens_of(TOKEN_LEN)
}

fn sessions(aws: &FakeSts, capacity: usize, rate: Option<f64>) -> ScopedSessions {
    let mut builder = support::role(aws)
        .scoped_sessions()
        .capacity(capacity)
        .max_sts_calls_in_flight(64);
    builder.set_sts_calls_per_second(rate);
    builder.build().unwrap()
}

fn tenant(template: &PolicyTemplate, i: usize) -> Scope {
    let name = format!("tenant-{i}");
    Scope::new()
        .label(&name)
        .role_session_name(&name)
        .policy(template.fill(&[("tenant", &name)]).unwrap())
}

fn scoped(c: &mut Criterion) {
    let runtime = support::runtime();
    let test = support::test_mode();
    let template = PolicyTemplate::new(TEMPLATE).unwrap();
    let mut report = String::new();

    // 1 and 2: N tenants x M requests.
    let (tenants, requests) = if test { (200, 10) } else { (10_000, 100) };
    let aws = bench_aws();
    let scopes: Vec<Scope> = (0..tenants).map(|i| tenant(&template, i)).collect();
    // Warm one-time allocations (the STS client, lazy statics) with a scope of its own.
    let warm = sessions(&aws, tenants, None);
    runtime
        .block_on(warm.credentials(&tenant(&template, usize::MAX)))
        .unwrap();
    drop(warm);
    // The warm-up's scheduler ends at its next sweep: wait for it, so the count below is ours.
    no_tasks_left(&runtime);
    let before = live();
    let tasks_before = runtime.metrics().num_alive_tasks();
    let scoped = sessions(&aws, tenants, None);
    let calls_before = aws.calls();
    let started = wall_clock();
    runtime.block_on(async {
        for _ in 0..requests {
            for scope in &scopes {
                scoped.credentials(scope).await.unwrap();
            }
        }
    });
    let took = since(started);
    let sts_calls = aws.calls() - calls_before;
    let heap = live() - before;
    let tasks = runtime.metrics().num_alive_tasks() - tasks_before;
    assert_eq!(sts_calls, tenants, "one STS call per tenant");
    let per_scope = heap / tenants as isize;
    // The issue's target: under 2 KiB per scope, with 1,000-character session tokens (more
    // than half the bytes are the SDK's `Credentials`). The test mode's 200 scopes also carry
    // the cache's fixed part (its shards).
    let budget = if test { 3 * 1024 } else { 2 * 1024 };
    assert!(per_scope < budget, "{per_scope} bytes per scope");

    // The per-request pattern: one AssumeRole per request (a sample, then scaled).
    let sample = if test { 50 } else { 2_000 };
    let started = wall_clock();
    runtime.block_on(async {
        for i in 0..sample {
            let one_off = support::role(&aws)
                .background_refresh(false)
                .policy(template.fill(&[("tenant", &format!("t{i}"))]).unwrap())
                .build()
                .unwrap();
            one_off.provide_credentials().await.unwrap();
        }
    });
    let per_request = since(started) / sample as u32;
    report.push_str(&format!(
        "| {tenants} tenants x {requests} requests | STS calls | time | heap | tasks |\n\
         |---|---|---|---|---|\n\
         | `ScopedSessions::credentials(&scope)` | {sts_calls} | {took:.2?} | {} KiB ({per_scope} B per scope) | {tasks} |\n\
         | per-request `AssumeRole` | {} | {:.2?} (measured on {sample}: {per_request:.2?} each) | — | — |\n\n",
        heap / 1024,
        tenants * requests,
        per_request * (tenants * requests) as u32,
    ));

    // 5. A warm hit: the scope's handle, by value, and the single provider.
    let provider = support::role(&aws).build().unwrap();
    runtime.block_on(provider.provide_credentials()).unwrap();
    let handle = scoped.provider(&scopes[0]).unwrap();
    let _enter = runtime.enter();
    // What an SDK client's own identity cache pays for a hit, holding the same scope's session.
    let sdk_hit =
        test_support::sdk_cache::hit(support::ready(handle.provide_credentials()).unwrap());
    let _ = sdk_hit();
    let mut group = c.benchmark_group("scoped/warm_hit");
    group.bench_function("single_provider", |b| {
        b.iter(|| black_box(support::ready(provider.provide_credentials()).unwrap()))
    });
    group.bench_function("scope_handle", |b| {
        b.iter(|| black_box(support::ready(handle.provide_credentials()).unwrap()))
    });
    group.bench_function("scope_by_value", |b| {
        b.iter(|| black_box(support::ready(scoped.credentials(&scopes[0])).unwrap()))
    });
    group.bench_function("sdk_identity_cache", |b| b.iter(|| black_box(sdk_hit())));
    group.finish();
    drop(scoped);

    // 3. Many more distinct scopes than the capacity.
    let (distinct, capacity) = if test {
        (5_000, 500)
    } else {
        (1_000_000, 10_000)
    };
    // Its own STS, keeping no call times: the heap measured is the cache's.
    let churn_aws = bench_aws().quiet();
    let churn = sessions(&churn_aws, capacity, None);
    runtime
        .block_on(churn.credentials(&tenant(&template, usize::MAX)))
        .unwrap();
    let base = live();
    test_support::heap::reset_peak();
    let mut at_capacity = 0;
    runtime.block_on(async {
        for i in 0..distinct {
            churn.credentials(&tenant(&template, i)).await.unwrap();
            if i + 1 == capacity {
                at_capacity = live() - base;
            }
        }
    });
    let peak = test_support::heap::peak() - base;
    let end = live() - base;
    let status = churn.status();
    assert!(status.scopes_cached <= capacity);
    assert!(
        peak < at_capacity * 3 / 2,
        "bounded: peak {peak} B against {at_capacity} B at the capacity"
    );
    report.push_str(&format!(
        "| {distinct} distinct scopes through a {capacity}-scope cache | bytes |\n|---|---|\n\
         | heap once the cache is full | {} KiB ({} B per scope) |\n\
         | peak heap over the whole run | {} KiB |\n\
         | heap at the end | {} KiB ({} scopes cached, {} evicted) |\n\n",
        at_capacity / 1024,
        at_capacity / capacity as isize,
        peak / 1024,
        end / 1024,
        status.scopes_cached,
        status.evicted_at_capacity,
    ));
    drop(churn);

    // 4. A storm under a rate limit.
    let (arriving, rate, timeout) = if test {
        (2_000, 200.0, Duration::from_millis(500))
    } else {
        (100_000, 50.0, Duration::from_secs(5))
    };
    let storm_aws = bench_aws();
    let storm = support::role(&storm_aws)
        .load_timeout(timeout)
        .scoped_sessions()
        .capacity(arriving)
        .max_sts_calls_in_flight(64)
        .sts_calls_per_second(rate)
        .build()
        .unwrap();
    let started = wall_clock();
    let (served, refused, other) = runtime.block_on(async {
        let callers: Vec<_> = (0..arriving)
            .map(|i| {
                let (storm, scope) = (storm.clone(), tenant(&template, i));
                tokio::spawn(async move { storm.credentials(&scope).await })
            })
            .collect();
        let (mut served, mut refused, mut other) = (0, 0, 0);
        for caller in callers {
            match caller.await.unwrap() {
                Ok(_) => served += 1,
                Err(e) if matches!(fetch_error(&e), Some(FetchError::StsLimit { .. })) => {
                    refused += 1
                }
                Err(_) => other += 1,
            }
        }
        (served, refused, other)
    });
    let took = since(started);
    let times = storm_aws.arrivals();
    let peak_per_second = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| {
                    **t >= *start && t.duration_since(*start).unwrap() < Duration::from_secs(1)
                })
                .count()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(other, 0, "every caller served or given the typed refusal");
    assert!(
        peak_per_second <= rate as usize,
        "{peak_per_second} calls in one second"
    );
    report.push_str(&format!(
        "| {arriving} tenants at once, {rate} calls/s, load timeout {timeout:?} | |\n|---|---|\n\
         | peak STS calls in any one second | {peak_per_second} |\n\
         | callers served | {served} |\n\
         | callers given `FetchError::StsLimit` | {refused} |\n\
         | other errors | {other} |\n\
         | wall time | {took:.2?} |\n",
    ));
    report.push('\n');
    report.push_str(&per_tenant_clients(&runtime, &template, test));
    support::report("scoped", &report);
}

/// Item 6: an S3 client per tenant, on an aws-config `AssumeRoleProvider` each (the SDK
/// client's identity cache in front) or on a scope handle of one `ScopedSessions`.
fn per_tenant_clients(
    runtime: &tokio::runtime::Runtime,
    template: &PolicyTemplate,
    test: bool,
) -> String {
    let (tenants, requests) = if test { (20, 5) } else { (1_000, 100) };
    let mut rows = format!(
        "| {tenants} tenants x {requests} S3 requests, an S3 client per tenant | STS calls | heap per tenant | tasks |\n|---|---|---|---|\n"
    );
    for design in [
        "aws-config `AssumeRoleProvider` per tenant",
        "`ScopedSessions` handle per tenant",
    ] {
        let aws = bench_aws();
        let base_config = support::sdk_config(&aws)
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    support::base_credentials(),
                ),
            )
            .build();
        no_tasks_left(runtime);
        let tasks_before = runtime.metrics().num_alive_tasks();
        let before = live();
        let (clients, sessions) = runtime.block_on(async {
            let sessions = design
                .starts_with("`Scoped")
                .then(|| sessions(&aws, tenants, None));
            let mut clients = Vec::new();
            for i in 0..tenants {
                let name = format!("tenant-{i}");
                let policy = template.fill(&[("tenant", &name)]).unwrap();
                let config = aws_sdk_s3::config::Builder::from(&base_config);
                let config = match &sessions {
                    Some(sessions) => {
                        let scope = Scope::new()
                            .label(&name)
                            .role_session_name(&name)
                            .policy(policy);
                        config.credentials_provider(sessions.provider(&scope).unwrap())
                    }
                    None => config.credentials_provider(
                        aws_config::sts::AssumeRoleProvider::builder(support::ROLE)
                            .session_name(&name)
                            .policy(policy)
                            .configure(&base_config)
                            .build()
                            .await,
                    ),
                };
                clients.push(aws_sdk_s3::Client::from_conf(config.build()));
            }
            for _ in 0..requests {
                for client in &clients {
                    client.list_buckets().send().await.unwrap();
                }
            }
            (clients, sessions)
        });
        let heap = (live() - before) / tenants as isize;
        let tasks = runtime
            .metrics()
            .num_alive_tasks()
            .saturating_sub(tasks_before);
        rows.push_str(&format!(
            "| {design} | {} | {heap} B | {tasks} |\n",
            aws.calls()
        ));
        assert_eq!(aws.calls(), tenants, "{design}: one STS call per tenant");
        drop((clients, sessions));
    }
    rows
}

criterion_group!(benches, scoped);
criterion_main!(benches);

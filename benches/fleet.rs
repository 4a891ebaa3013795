//! A fleet of instances started within one minute, each with its own provider and an S3 client
//! built as the README shows, sending a request a minute for two hours with one-hour sessions:
//! the peak number of STS calls in any one second, with the default background refresh (its
//! refresh points jittered over the first half of the advisory window) against
//! `background_refresh(false)` (refreshes made when the clients' own identity caches ask, 5 to
//! 10 seconds before expiry). Target: peak at most 2% of the fleet with the default.
//!
//! The instances, their clients and the STS share aws-smithy-async's tick-advance clock, moved
//! a second at a time; STS answers at once. The figures are counts, not timings.
//!
//! `cargo bench --bench fleet` (also draws docs/fleet.svg)

use test_support::bench as support;

use aws_smithy_async::test_util::tick_advance_sleep::tick_advance_time_and_sleep;
use aws_smithy_async::time::TimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

const SESSION: Duration = Duration::from_secs(3600);
const REQUEST_EVERY_SECS: u64 = 60;
const T0_SECS: u64 = 1_700_000_000;

/// STS calls per second of the refreshes (the first sessions excluded: they come at start-up
/// whatever the schedule), over `horizon`.
async fn simulate(instances: usize, horizon: Duration, background_refresh: bool) -> Vec<u32> {
    // The jitter is drawn from fastrand's generator of the thread that schedules the session,
    // here always this one (current-thread runtime): seeded, every run draws the same points and
    // prints the same figures.
    fastrand::seed(0x5eed);
    let (time, sleep) = tick_advance_time_and_sleep();
    time.tick(Duration::from_secs(T0_SECS)).await;
    let t0 = time.now();
    let aws = support::fake_aws(time.clone(), SESSION, Duration::ZERO);
    let sdk_config = support::sdk_config_on(&aws, time.clone(), sleep);
    // Instance i starts i/instances of a minute in, and sends its requests on that phase.
    let fleet: Vec<(u64, aws_sdk_s3::Client)> = (0..instances)
        .map(|i| {
            let provider = ChainableTemporaryCredentials::builder()
                .configure(&sdk_config)
                .base_credentials(support::base_credentials())
                .role_arn(support::ROLE)
                .background_refresh(background_refresh)
                .build()
                .unwrap();
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk_config)
                    .credentials_provider(provider)
                    .build(),
            );
            ((i as u64 * REQUEST_EVERY_SECS) / instances as u64, s3)
        })
        .collect();
    for second in 0..horizon.as_secs() {
        for (phase, s3) in &fleet {
            if second % REQUEST_EVERY_SECS == *phase {
                s3.list_buckets()
                    .send()
                    .await
                    .expect("every request succeeds");
            }
        }
        time.tick(Duration::from_secs(1)).await;
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }
    let mut per_second = vec![0u32; horizon.as_secs() as usize];
    let mut calls = aws.arrivals();
    calls.sort();
    for at in &calls[instances..] {
        per_second[at.duration_since(t0).unwrap().as_secs() as usize] += 1;
    }
    per_second
}

/// Seconds from the first to the last second with a refresh.
fn span_secs(per_second: &[u32]) -> usize {
    let busy = |(s, c): (usize, &u32)| (*c > 0).then_some(s);
    let first = per_second.iter().enumerate().find_map(busy).unwrap_or(0);
    let last = per_second
        .iter()
        .enumerate()
        .rev()
        .find_map(busy)
        .unwrap_or(0);
    last - first
}

fn fleet(c: &mut Criterion) {
    let (sizes, horizon): (&[usize], _) = if support::test_mode() {
        (&[50], Duration::from_secs(70 * 60))
    } else {
        (&[1_000], Duration::from_secs(2 * 3600 + 10 * 60))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = vec![
        "| fleet, through README clients | peak STS calls/s, `background_refresh(false)` | % of fleet | peak, default | % of fleet | reduction |".to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for &n in sizes {
        let unscheduled = runtime.block_on(simulate(n, horizon, false));
        let scheduled = runtime.block_on(simulate(n, horizon, true));
        let refreshes = |v: &[u32]| v.iter().sum::<u32>();
        assert!(
            refreshes(&scheduled) >= n as u32,
            "every instance refreshed at least once"
        );
        let (peak_flat, peak_jit) = (
            *unscheduled.iter().max().unwrap(),
            *scheduled.iter().max().unwrap(),
        );
        let pct = |p: u32| 100.0 * p as f64 / n as f64;
        rows.push(format!(
            "| {n} | {peak_flat} | {:.2}% | {peak_jit} | {:.2}% | {:.1}x |",
            pct(peak_flat),
            pct(peak_jit),
            peak_flat as f64 / peak_jit as f64
        ));
        // The test mode's 50 instances, started one a second or so, are too few to bunch up
        // without the jitter (its peak is 1), and 50 random points in the jitter's 7.5 minutes
        // share a second now and then (3 in one second in about one run in 13). So there it
        // checks what the jitter is for: the refreshes are spread over several times the start
        // minute, and no second takes a tenth of the fleet.
        if support::test_mode() {
            let (span_flat, span_jit) = (span_secs(&unscheduled), span_secs(&scheduled));
            assert!(
                span_jit >= 3 * span_flat,
                "refreshes spread over {span_jit} s with the jitter vs {span_flat} s without"
            );
            assert!(
                peak_jit as usize <= n / 10,
                "{peak_jit} of {n} in one second"
            );
        } else {
            assert!(pct(peak_jit) <= 2.0, "target: peak at most 2% of the fleet");
            assert!(peak_jit < peak_flat, "the jitter spreads the refreshes");
        }
        if !support::test_mode() {
            let series = |v: &[u32]| -> Vec<(f64, f64)> {
                v.iter()
                    .enumerate()
                    .map(|(s, c)| (s as f64 / 60.0, *c as f64))
                    .collect()
            };
            support::write_series(
                "fleet",
                "docs/fleet.svg",
                &format!(
                    "STS calls per second, {n} instances started within one minute, through README clients (1-hour sessions)"
                ),
                ("minutes since start", "STS calls per second"),
                &[
                    ("background_refresh(false)", &series(&unscheduled)),
                    (
                        "default (background refresh, jittered)",
                        &series(&scheduled),
                    ),
                ],
                false,
            );
        }
    }
    support::report("fleet", &rows.join("\n"));
    // The figures are counts, not criterion timings: nothing to iterate.
    let _ = c;
}

criterion_group!(benches, fleet);
criterion_main!(benches);

//! A fleet of instances started within one minute, all with 1-hour sessions, simulated
//! deterministically for four hours with the engine's own scheduling function
//! (`refresh::schedule::RefreshSchedule`): the peak number of STS calls in any one second, with
//! the refresh-point jitter and with it disabled. Target: peak at most 2% of the fleet.
//! Each instance is assumed busy (a caller arrives the moment its refresh point passes) and STS
//! answers at once.
//!
//! `cargo bench --bench fleet` (also draws docs/fleet.svg)

mod support;

use chainable_credentials::refresh::schedule::RefreshSchedule;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SESSION: Duration = Duration::from_secs(3600);
const HORIZON_SECS: u64 = 4 * 3600;

/// STS calls per second of the refreshes (the initial loads excluded: they happen at start-up
/// whatever the schedule).
fn simulate(instances: usize, jitter: bool, seed: u64) -> Vec<u32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut per_second = vec![0u32; HORIZON_SECS as usize];
    for _ in 0..instances {
        let mut received: SystemTime = t0 + Duration::from_millis(rng.u64(0..60_000));
        loop {
            let draw = if jitter { rng.f64() } else { 0.0 };
            let schedule = RefreshSchedule::new(received, received + SESSION, draw);
            let second = schedule.refresh_at.duration_since(t0).unwrap().as_secs();
            if second >= HORIZON_SECS {
                break;
            }
            per_second[second as usize] += 1;
            received = schedule.refresh_at;
        }
    }
    per_second
}

fn fleet(c: &mut Criterion) {
    let sizes: &[usize] = if support::test_mode() {
        &[1_000]
    } else {
        &[10_000, 100_000]
    };
    let mut rows = vec![
        "| fleet | peak STS calls/s, no jitter | % of fleet | peak with jitter | % of fleet | reduction |".to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for &n in sizes {
        let flat = simulate(n, false, 7);
        let jittered = simulate(n, true, 7);
        let (peak_flat, peak_jit) = (*flat.iter().max().unwrap(), *jittered.iter().max().unwrap());
        let pct = |p: u32| 100.0 * p as f64 / n as f64;
        rows.push(format!(
            "| {n} | {peak_flat} | {:.2}% | {peak_jit} | {:.2}% | {:.1}x |",
            pct(peak_flat),
            pct(peak_jit),
            peak_flat as f64 / peak_jit as f64
        ));
        assert!(pct(peak_jit) <= 2.0, "target: peak at most 2% of the fleet");
        if n == 10_000 && !support::test_mode() {
            let series = |v: &[u32]| -> Vec<(f64, f64)> {
                v.iter()
                    .enumerate()
                    .map(|(s, c)| (s as f64 / 60.0, *c as f64))
                    .collect()
            };
            support::plot_svg(
                "docs/fleet.svg",
                "STS calls per second, 10,000 instances started within one minute (1-hour sessions)",
                "minutes since start",
                "STS calls per second",
                &[
                    ("jitter disabled", &series(&flat)),
                    ("with jitter (default)", &series(&jittered)),
                ],
                false,
            );
        }
    }
    support::report("fleet", &rows.join("\n"));
    let mut group = c.benchmark_group("fleet");
    group.sample_size(10);
    group.bench_function("simulate_10000_instances_4h", |b| {
        b.iter(|| simulate(10_000, true, 1))
    });
    group.finish();
}

criterion_group!(benches, fleet);
criterion_main!(benches);

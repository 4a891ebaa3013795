//! Property test of scoped sessions: random schedules of callers over many scopes, clock
//! jumps, STS outcomes (sessions, errors, hangs, panics), sweeps of the scheduler and new
//! scopes pushing old ones out of a small cache. Whatever happens: no credential is handed out
//! at or past its expiry, no credential of one scope is handed to another, no scope ever has
//! two refreshes in flight, and never more STS calls are in flight than the limit.

use crate::support;

use aws_smithy_async::time::TimeSource;
use chainable_credentials::scoped::{Scope, ScopedSessions};
use proptest::prelude::*;
use std::time::Duration;
use support::{FakeSts, Reply, SettableClock, t0};

/// Distinct scopes the callers pick from; the cache holds 16 (one per shard), so they push
/// each other out.
const SCOPES: usize = 24;
const MAX_IN_FLIGHT: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Forward(u64),
    Backward(u64),
    Sts(Outcome),
    /// Concurrent callers: (scope, how many) pairs.
    Calls(Vec<(usize, usize)>),
    Sweep,
}

#[derive(Debug, Clone)]
enum Outcome {
    Session(u64),
    Unavailable,
    Hang,
    Panic,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u64..60).prop_map(Step::Forward),
        2 => (0u64..7_200).prop_map(Step::Forward),
        1 => (0u64..600).prop_map(Step::Backward),
        2 => prop_oneof![
            3 => (900u64..7_200).prop_map(Outcome::Session),
            1 => Just(Outcome::Unavailable),
            1 => Just(Outcome::Hang),
            1 => Just(Outcome::Panic),
        ]
        .prop_map(Step::Sts),
        5 => proptest::collection::vec((0..SCOPES, 1usize..4), 1..8).prop_map(Step::Calls),
        1 => Just(Step::Sweep),
    ]
}

fn scope(i: usize) -> Scope {
    Scope::new()
        .label(format!("tenant-{i}"))
        .role_session_name(format!("tenant-{i}"))
        .tag("tenant", i.to_string())
}

fn sessions(sts: &FakeSts, clock: &SettableClock) -> ScopedSessions {
    let mut builder = support::fake_builder_with_clock(sts, clock.clone())
        .load_timeout(Duration::from_millis(40))
        .scoped_sessions()
        .capacity(16)
        .max_sts_calls_in_flight(MAX_IN_FLIGHT)
        .idle_expiry(Duration::from_secs(1_800))
        .sweep_interval(Duration::from_secs(3_600));
    builder.set_sts_calls_per_second(None);
    builder.build().unwrap()
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = SettableClock::new(t0());
        let sts = FakeSts::new(clock.clone());
        let sessions = sessions(&sts, &clock);
        for step in steps {
            match step {
                Step::Forward(secs) => clock.forward(Duration::from_secs(secs)),
                Step::Backward(secs) => clock.back(Duration::from_secs(secs)),
                Step::Sts(outcome) => {
                    sts.always(match outcome {
                        Outcome::Session(secs) => Reply::Session(Duration::from_secs(secs)),
                        Outcome::Unavailable => Reply::Error {
                            status: 503,
                            code: "ServiceUnavailable",
                        },
                        Outcome::Hang => Reply::Hang,
                        Outcome::Panic => Reply::Panic,
                    });
                }
                Step::Sweep => sessions.sweep().await,
                Step::Calls(calls) => {
                    let now = clock.now();
                    let mut callers = Vec::new();
                    for (i, n) in calls {
                        for _ in 0..n {
                            let sessions = sessions.clone();
                            callers.push((
                                i,
                                tokio::spawn(async move { sessions.credentials(&scope(i)).await }),
                            ));
                        }
                    }
                    for (i, caller) in callers {
                        let Ok(credentials) = caller.await.unwrap() else {
                            continue;
                        };
                        let expiry = credentials.expiry().expect("sessions expire");
                        prop_assert!(expiry > now, "handed out at/after expiry");
                        // The fake STS numbers its sessions: ASIAFAKE0007 came from the
                        // seventh request, whose body names the scope it was for.
                        let n: usize = credentials.access_key_id()["ASIAFAKE".len()..]
                            .parse()
                            .unwrap();
                        let body = &sts.bodies()[n - 1];
                        prop_assert!(
                            body.contains(&format!("RoleSessionName=tenant-{i}&")),
                            "scope {i} got a session made for another: {body}"
                        );
                    }
                    support::eventually("no STS call in flight", || sts.in_flight() == 0).await;
                }
            }
        }
        prop_assert!(
            sts.max_in_flight_one_session_name() <= 1,
            "two refreshes of one scope in flight"
        );
        prop_assert!(
            sts.max_in_flight() <= MAX_IN_FLIGHT,
            "{} STS calls in flight, the limit is {MAX_IN_FLIGHT}",
            sts.max_in_flight()
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn scoped_invariants_hold_for_any_schedule(steps in proptest::collection::vec(step(), 1..60)) {
        run(steps)?;
    }
}

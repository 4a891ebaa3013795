//! Property test (reliability scenario 7): random schedules of calls, clock jumps forward and
//! backward, STS outcomes, hangs and an HTTP client that panics. Whatever happens: no
//! credential is handed out at or past its expiry, no two refreshes are ever in flight,
//! consecutive failed STS attempts (panics included) are never closer than the backoff allows,
//! and every panic is counted as a failed refresh.

use crate::support;

use aws_smithy_async::time::TimeSource;
use proptest::prelude::*;
use std::time::Duration;
use support::{BACKOFF_INITIAL as DEFAULT_BACKOFF_INITIAL, BACKOFF_MAX as DEFAULT_BACKOFF_MAX};
use support::{FakeSts, Reply, SettableClock, t0};

#[derive(Debug, Clone)]
enum Step {
    /// Move the clock forward.
    Forward(u64),
    /// Move the clock backward.
    Backward(u64),
    /// From now on, STS answers like this.
    Sts(Outcome),
    /// This many concurrent calls.
    Calls(usize),
}

#[derive(Debug, Clone)]
enum Outcome {
    Session(u64),
    Unavailable,
    Denied,
    Hang,
    Panic,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Small steps (inside backoff delays and windows) as often as large ones (past expiry).
        3 => (0u64..5).prop_map(Step::Forward),
        3 => (0u64..60).prop_map(Step::Forward),
        2 => (0u64..7_200).prop_map(Step::Forward),
        1 => (0u64..600).prop_map(Step::Backward),
        2 => prop_oneof![
            (900u64..43_200).prop_map(Outcome::Session),
            Just(Outcome::Unavailable),
            Just(Outcome::Denied),
            Just(Outcome::Hang),
            Just(Outcome::Panic),
        ]
        .prop_map(Step::Sts),
        4 => (1usize..20).prop_map(Step::Calls),
    ]
}

/// The shortest gap the backoff allows after `failures` consecutive failures.
fn min_gap(failures: u32) -> Duration {
    let nominal = DEFAULT_BACKOFF_INITIAL
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(DEFAULT_BACKOFF_MAX);
    nominal / 2
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = SettableClock::new(t0());
        let sts = FakeSts::new(clock.clone());
        let provider = support::fake_builder_with_clock(&sts, clock.clone())
            .load_timeout(Duration::from_millis(20))
            .build()
            .unwrap();
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
                        Outcome::Denied => Reply::Error {
                            status: 403,
                            code: "AccessDenied",
                        },
                        Outcome::Hang => Reply::Hang,
                        Outcome::Panic => Reply::Panic,
                    });
                }
                Step::Calls(n) => {
                    let now = clock.now();
                    for result in support::spawn_callers(&provider, n) {
                        if let Ok(creds) = result.await.unwrap() {
                            let expiry = creds.expiry().expect("sessions expire");
                            prop_assert!(
                                expiry > now,
                                "handed out at/after expiry: {expiry:?} <= {now:?}"
                            );
                        }
                    }
                    // Let a background refresh end before the clock moves again, so a failure's
                    // time on the log is the time the engine measured its backoff from.
                    support::eventually("no STS call in flight", || sts.in_flight() == 0).await;
                }
            }
        }
        prop_assert!(sts.max_in_flight() <= 1, "two refreshes in flight");
        // Every STS call that did not bring a session was a failed refresh: a panic too,
        // never an attempt abandoned without a failure counted.
        let failed_calls = sts.log().iter().filter(|(_, answered)| !answered).count() as u64;
        let status = provider.status();
        prop_assert!(
            status.refreshes_failed >= failed_calls,
            "{failed_calls} failed STS calls, {} failed refreshes counted",
            status.refreshes_failed
        );
        // Consecutive failures are spaced by at least the backoff's lower bound.
        let mut failures = 0u32;
        let mut last_failure: Option<std::time::SystemTime> = None;
        for (at, answered) in sts.log() {
            if let Some(previous) = last_failure {
                let gap = at.duration_since(previous).unwrap_or_default();
                prop_assert!(
                    gap >= min_gap(failures),
                    "attempt {gap:?} after failure {failures}, backoff allows no less than {:?}",
                    min_gap(failures)
                );
            }
            if answered {
                failures = 0;
                last_failure = None;
            } else {
                failures += 1;
                last_failure = Some(at);
            }
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_schedule(steps in proptest::collection::vec(step(), 1..120)) {
        run(steps)?;
    }
}

//! Scoped sessions on the in-process STS and a manual clock: one STS call per scope per
//! lifetime however many callers, each scope its own session and its own policy, the capacity
//! and the idle expiry, one scheduler that refreshes the scopes in use and leaves the others
//! to expire, the limit on STS calls in flight, and what cannot work refused naming the field.

use crate::support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::test_util::ManualTimeSource;
use chainable_credentials::scoped::{PolicyTemplate, Scope, ScopedSessions, ScopedSessionsBuilder};
use chainable_credentials::{BuildError, ChainableTemporaryCredentials, Field};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{FakeSts, ROLE_ARN, t0};

const MIN: Duration = Duration::from_secs(60);

const TEMPLATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::uploads/tenants/{{tenant}}/*"}]}"#;

/// Scoped sessions on the fake STS and the manual clock; the scheduler's own sweeps are an
/// hour apart (real time), so the tests sweep when they mean to.
fn scoped(sts: &FakeSts, clock: &ManualTimeSource) -> ScopedSessionsBuilder {
    let mut builder = support::fake_builder(sts, clock)
        .scoped_sessions()
        .sweep_interval(Duration::from_secs(3600));
    builder.set_sts_calls_per_second(None);
    builder
}

fn tenant(name: &str) -> Scope {
    let policy = PolicyTemplate::new(TEMPLATE)
        .unwrap()
        .fill(&[("tenant", name)])
        .unwrap();
    Scope::new()
        .label(name)
        .role_session_name(format!("tenant-{name}"))
        .policy(policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_makes_one_sts_call_however_many_callers_and_gets_its_own_policy() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let sessions = scoped(&sts, &clock).build().unwrap();
    let tenants = ["acme", "globex", "initech"];
    let mut callers = Vec::new();
    for _ in 0..100 {
        for name in tenants {
            let sessions = sessions.clone();
            callers.push(tokio::spawn(async move {
                let credentials = sessions.credentials(&tenant(name)).await.unwrap();
                (name, credentials.access_key_id().to_owned())
            }));
        }
    }
    let mut keys_of: std::collections::HashMap<&str, HashSet<String>> = Default::default();
    for caller in callers {
        let (name, key) = caller.await.unwrap();
        keys_of.entry(name).or_default().insert(key);
    }
    assert_eq!(sts.calls(), 3, "one STS call per scope for 300 callers");
    let all: HashSet<&String> = keys_of.values().flatten().collect();
    assert_eq!(
        all.len(),
        3,
        "one session per scope, none shared: {keys_of:?}"
    );
    for name in tenants {
        assert_eq!(keys_of[name].len(), 1);
    }
    let bodies = sts.bodies();
    for name in tenants {
        let body = bodies
            .iter()
            .find(|b| b.contains(&format!("RoleSessionName=tenant-{name}")))
            .unwrap();
        assert!(
            body.contains(&format!("tenants%2F{name}%2F")),
            "the tenant's own policy: {body}"
        );
        for other in tenants.iter().filter(|o| **o != name) {
            assert!(!body.contains(&format!("tenants%2F{other}%2F")));
        }
    }
    let status = sessions.status();
    assert_eq!((status.scopes_cached, status.sts_calls), (3, 3));
    assert!(!format!("{status:?} {sessions:?}").contains("base-secret-value"));
}

#[tokio::test]
async fn the_capacity_is_held_and_an_evicted_scope_still_serves_its_callers() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let sessions = scoped(&sts, &clock).capacity(16).build().unwrap();
    // A caller waits on its scope's first load while the scope is pushed out.
    let gate = sts.hold();
    let waiting = tokio::spawn({
        let sessions = sessions.clone();
        async move { sessions.credentials(&tenant("first")).await }
    });
    support::eventually("the first load reached STS", || sts.in_flight() == 1).await;
    let handles: Vec<_> = (0..200)
        .map(|i| sessions.provider(&tenant(&format!("t{i}"))).unwrap())
        .collect();
    let status = sessions.status();
    assert!(status.scopes_cached <= 16, "{status:?}");
    assert_eq!(status.scopes_created, 201);
    assert_eq!(
        status.evicted_at_capacity,
        201 - status.scopes_cached as u64
    );
    drop(gate);
    sts.release();
    let credentials = waiting
        .await
        .unwrap()
        .expect("the evicted scope's refresh landed");
    assert!(credentials.access_key_id().starts_with("ASIAFAKE"));
    // A handle keeps its scope alive though the cache dropped it: one call, then hits.
    for _ in 0..3 {
        handles[0].provide_credentials().await.unwrap();
    }
    assert_eq!(sts.calls(), 2);
}

#[tokio::test]
async fn the_scheduler_refreshes_the_scopes_in_use_and_drops_the_idle_ones() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let sessions = scoped(&sts, &clock).idle_expiry(90 * MIN).build().unwrap();
    let busy = sessions.provider(&tenant("busy")).unwrap();
    let quiet = sessions.provider(&tenant("quiet")).unwrap();
    let first_busy = busy.provide_credentials().await.unwrap();
    quiet.provide_credentials().await.unwrap();
    assert_eq!(sts.calls(), 2);
    let expiry = busy.status().expires_at.unwrap();

    // Only "busy" is asked for again during its session.
    clock.set_time(t0() + 30 * MIN);
    busy.provide_credentials().await.unwrap();
    sessions.sweep().await;
    assert_eq!(sts.calls(), 2, "nothing is due yet");

    // Past any jittered refresh point (the last 15 minutes' first half).
    clock.set_time(expiry - 7 * MIN);
    sessions.sweep().await;
    assert_eq!(
        sts.calls(),
        3,
        "the scope in use was refreshed ahead, the idle one not"
    );
    let refreshed = busy.provide_credentials().await.unwrap();
    assert_ne!(refreshed.access_key_id(), first_busy.access_key_id());
    assert_eq!(quiet.status().expires_at, Some(expiry), "left to expire");

    // 90 minutes after its last use, "quiet" is dropped; "busy", used since, is kept. (A
    // handle still held would keep an idle scope alive, and it would be taken back.)
    drop(quiet);
    clock.set_time(t0() + 91 * MIN);
    busy.provide_credentials().await.unwrap();
    sessions.sweep().await;
    let status = sessions.status();
    assert_eq!(
        (status.evicted_idle, status.scopes_cached),
        (1, 1),
        "{status:?}"
    );
    assert!(sessions.scope_status(&tenant("quiet")).is_none());
    assert!(sessions.scope_status(&tenant("busy")).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_sts_calls_in_flight_than_the_limit_and_every_scope_is_served() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let sessions = scoped(&sts, &clock)
        .max_sts_calls_in_flight(3)
        .build()
        .unwrap();
    let gate = sts.hold();
    let callers: Vec<_> = (0..40)
        .map(|i| {
            let sessions = sessions.clone();
            tokio::spawn(async move { sessions.credentials(&tenant(&format!("t{i}"))).await })
        })
        .collect();
    support::eventually("three calls at STS, the rest waiting", || {
        let status = sessions.status();
        status.sts_calls_in_flight == 3 && status.waiting_for_sts == 37 && sts.in_flight() == 3
    })
    .await;
    assert_eq!(sts.in_flight(), 3);
    drop(gate);
    sts.release();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(sts.calls(), 40);
    assert_eq!(sts.max_in_flight(), 3, "never more than the limit at STS");
}

#[tokio::test]
async fn the_listener_is_told_the_label_and_bad_scopes_are_refused_before_any_call() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let told = Arc::new(Mutex::new(Vec::new()));
    let sessions: ScopedSessions = scoped(&sts, &clock)
        .on_refresh({
            let told = told.clone();
            move |label, outcome| {
                told.lock()
                    .unwrap()
                    .push(format!("{}: {outcome}", label.unwrap_or("-")))
            }
        })
        .build()
        .unwrap();
    sessions.credentials(&tenant("acme")).await.unwrap();
    let told = told.lock().unwrap().clone();
    assert_eq!(told.len(), 1);
    assert!(told[0].starts_with("acme: "), "{told:?}");

    let error = sessions
        .credentials(&Scope::new().tag("aws:reserved", "x"))
        .await
        .unwrap_err();
    let build_error = std::error::Error::source(&error)
        .and_then(|e| e.downcast_ref::<BuildError>())
        .expect("the BuildError is the source");
    assert_eq!(build_error.field(), Some(Field::Tags));
    let error = sessions
        .provider(&Scope::new().policy("{\"Statement\": [}"))
        .unwrap_err();
    assert_eq!(error.field(), Some(Field::Policy));
    // `check` says the same without caching anything.
    let before = sessions.status().scopes_created;
    let error = sessions
        .check(&Scope::new().duration(std::time::Duration::from_secs(60)))
        .unwrap_err();
    assert_eq!(error.field(), Some(Field::Duration));
    sessions.check(&tenant("checked")).unwrap();
    assert_eq!(
        sessions.status().scopes_created,
        before,
        "check caches no scope"
    );
    assert_eq!(sts.calls(), 1, "no call for a refused scope");
}

#[test]
fn what_scoped_sessions_cannot_use_is_refused_naming_the_field() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let refused = |builder: ScopedSessionsBuilder, field: Field, says: &str| {
        let error = builder.build().unwrap_err();
        assert_eq!(error.field(), Some(field), "{error}");
        assert!(error.to_string().contains(says), "{error}");
    };
    refused(
        scoped(&sts, &clock).capacity(0),
        Field::ScopedSessions,
        "capacity",
    );
    // Values that would overflow a deadline or a pacing interval are refused, not panicked on.
    for rate in [0.0, -1.0, 1e-300, f64::NAN, f64::INFINITY, 1e12] {
        refused(
            scoped(&sts, &clock).sts_calls_per_second(rate),
            Field::ScopedSessions,
            "`sts_calls_per_second` must be from 0.001",
        );
    }
    for long in [Duration::MAX, Duration::from_secs(400 * 24 * 3600)] {
        refused(
            scoped(&sts, &clock).idle_expiry(long),
            Field::ScopedSessions,
            "at most a year",
        );
        refused(
            scoped(&sts, &clock).sweep_interval(long),
            Field::ScopedSessions,
            "at most a year",
        );
    }
    refused(
        support::fake_builder(&sts, &clock)
            .load_timeout(Duration::MAX)
            .scoped_sessions(),
        Field::LoadTimeout,
        "at most a day",
    );
    refused(
        scoped(&sts, &clock).max_sts_calls_in_flight(0),
        Field::ScopedSessions,
        "at least 1",
    );
    let builder = || {
        ChainableTemporaryCredentials::builder()
            .base_credentials(aws_credential_types::Credentials::for_tests())
            .region(aws_types::region::Region::new("us-east-1"))
            .http_client(sts.clone())
    };
    refused(
        builder().scoped_sessions(),
        Field::RoleArn,
        "assumes a role",
    );
    refused(
        builder()
            .role_arn(ROLE_ARN)
            .mfa("arn:aws:iam::123456789012:mfa/device", || async {
                Ok::<_, std::io::Error>("123456".to_owned())
            })
            .scoped_sessions(),
        Field::Mfa,
        "nobody is there",
    );
    refused(
        builder()
            .role_arn(ROLE_ARN)
            .on_refresh(|_| {})
            .scoped_sessions(),
        Field::OnRefresh,
        "label",
    );
}

/// Two processes (two `ScopedSessions` on one cache directory, as two runs of a tool on one
/// machine): each scope costs one STS call between them, and each scope its own session.
#[cfg(feature = "file-cache")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_directory_share_each_scopes_session() {
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let dir = tempfile::tempdir().unwrap();
    let process = || {
        let mut builder = support::fake_builder(&sts, &clock)
            .file_cache(dir.path())
            .scoped_sessions()
            .sweep_interval(Duration::from_secs(3600));
        builder.set_sts_calls_per_second(None);
        builder.build().unwrap()
    };
    let (first, second) = (process(), process());
    let mut keys = Vec::new();
    for name in ["acme", "globex"] {
        let a = first.credentials(&tenant(name)).await.unwrap();
        let b = second.credentials(&tenant(name)).await.unwrap();
        assert_eq!(a.access_key_id(), b.access_key_id(), "{name}: one session");
        keys.push(a.access_key_id().to_owned());
    }
    assert_ne!(keys[0], keys[1], "each scope its own session");
    assert_eq!(sts.calls(), 2, "one STS call per scope for both processes");
    let counts = second.status().store.expect("a store is configured");
    assert_eq!((counts.hits, counts.misses), (2, 0), "{counts:?}");
}

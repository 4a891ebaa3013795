//! The Valkey/Redis session store against a real `redis-server` of each test's own and moto
//! with enforcement, STS calls counted at the fault proxy: instances (each a provider of its
//! own, as on separate machines) sharing one store make one STS call; what is in the store is
//! sealed and names nothing; a tampered, foreign or garbage entry is never used; a key can be
//! rotated; a store that is down, paused or flushed costs STS calls, never a failed request.

use crate::support;

use chainable_credentials::ChainableTemporaryCredentials;
use chainable_credentials::session_store::SessionStore;
use chainable_credentials::session_store::redis::RedisStoreBuilder;
use std::time::Duration;
use support::fault_proxy::FaultProxy;
use support::moto::Moto;
use support::redis::RedisServer;

const KEY: [u8; 32] = [0x5a; 32];
const OLD_KEY: [u8; 32] = [0x11; 32];

fn store(redis: &RedisServer, keys: &[[u8; 32]]) -> SessionStore {
    RedisStoreBuilder::new(redis.url())
        .sealing_keys(keys.iter().copied())
        .command_timeout(Duration::from_millis(250))
        .build()
        .unwrap()
}

/// A store at `url`, sealed with [`KEY`].
fn store_at(url: &str) -> SessionStore {
    RedisStoreBuilder::new(url)
        .sealing_keys([KEY])
        .build()
        .unwrap()
}

/// An instance: a provider of its own (its own STS client and caches) on `store`.
fn instance(
    moto: &Moto,
    proxy: &FaultProxy,
    store: &SessionStore,
) -> ChainableTemporaryCredentials {
    moto.s3_role_via(&proxy.endpoint)
        .role_session_name("fleet")
        .session_store(store.clone())
        .load_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_starting_together_make_one_sts_call_through_s3() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    // Each instance with a store of its own (its own connection), as on separate machines.
    let instances: Vec<_> = (0..8)
        .map(|_| instance(&moto, &proxy, &store(&redis, &[KEY])))
        .collect();
    let asked = instances.iter().map(|provider| {
        let provider = provider.clone();
        let moto = &moto;
        async move { moto.bucket_names(provider).await }
    });
    for buckets in futures_util::future::join_all(asked).await {
        assert!(
            buckets.contains(&moto.bucket),
            "each instance lists the bucket"
        );
    }
    assert_eq!(proxy.sts_requests(), 1, "one AssumeRole for the fleet");
    let keys: std::collections::HashSet<String> = futures_util::future::join_all(
        instances
            .iter()
            .map(|p| async move { p.credentials().await.unwrap() }),
    )
    .await
    .iter()
    .map(|c| c.access_key_id().to_owned())
    .collect();
    assert_eq!(keys.len(), 1, "one session for all");
    let hits: u64 = instances
        .iter()
        .map(|p| p.status().store.unwrap().hits)
        .sum();
    assert!(hits >= 7, "{hits} store hits");
}

#[tokio::test]
async fn nothing_in_the_store_names_a_role_a_session_or_a_key_or_holds_a_secret() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let provider = instance(&moto, &proxy, &store(&redis, &[KEY]));
    let credentials = provider.credentials().await.unwrap();
    let everything = redis.everything();
    assert!(!everything.is_empty(), "the session was written");
    let role_name = moto.role_arn.rsplit('/').next().unwrap();
    let secrets = [
        moto.role_arn.as_str(),
        role_name,
        "fleet",
        credentials.access_key_id(),
        credentials.secret_access_key(),
        credentials.session_token().unwrap(),
        moto.base_access_key_id.as_str(),
        "s3-reader",
        "123456789012",
    ];
    for (name, value) in &everything {
        let value = String::from_utf8_lossy(value);
        for secret in secrets {
            assert!(!name.contains(secret), "{name} names {secret}");
            assert!(
                !value.contains(secret),
                "the value under {name} holds {secret}"
            );
        }
        assert!(name.starts_with("chainable-credentials:"), "{name}");
    }
}

/// The one entry the store holds, by name.
fn the_entry(redis: &RedisServer) -> (String, Vec<u8>) {
    let entries: Vec<_> = redis
        .everything()
        .into_iter()
        .filter(|(name, _)| !name.contains("lease:"))
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "{:?}",
        entries.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    entries.into_iter().next().unwrap()
}

#[tokio::test]
async fn tampered_foreign_and_garbage_entries_are_never_used_and_are_counted() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let first = instance(&moto, &proxy, &store(&redis, &[KEY]))
        .credentials()
        .await
        .unwrap();
    let (name, sealed) = the_entry(&redis);
    let foreign_store = store(&redis, &[OLD_KEY]);
    let foreign = instance(&moto, &proxy, &foreign_store);
    foreign.credentials().await.unwrap();
    let calls = proxy.sts_requests();
    assert_eq!(calls, 2, "another key is another store: no entry in common");
    let foreign_value = redis
        .everything()
        .into_iter()
        .find(|(n, _)| *n != name && !n.contains("lease:"))
        .unwrap()
        .1;
    let mut flipped = sealed.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    let cases: [(&str, Vec<u8>); 4] = [
        ("one byte flipped", flipped),
        ("sealed with another key", foreign_value),
        ("not an entry", b"{\"AccessKeyId\":\"ASIAEVIL\"}".to_vec()),
        ("empty", Vec::new()),
    ];
    for (i, (what, value)) in cases.into_iter().enumerate() {
        redis.set(&name, &value);
        let store = store(&redis, &[KEY]);
        let provider = instance(&moto, &proxy, &store);
        let got = provider.credentials().await.unwrap();
        assert_ne!(got.access_key_id(), "ASIAEVIL", "{what}");
        assert_ne!(
            got.access_key_id(),
            first.access_key_id(),
            "{what}: a new session"
        );
        assert_eq!(
            proxy.sts_requests(),
            calls + i + 1,
            "{what}: one STS call, no error"
        );
        // Read before and after the lock: counted at each read.
        assert!(store.counts().rejected >= 1, "{what}: counted as rejected");
        // The bad entry was replaced by the good one: the next instance reuses it.
        let next = instance(&moto, &proxy, &store).credentials().await.unwrap();
        assert_eq!(
            next.access_key_id(),
            got.access_key_id(),
            "{what}: replaced"
        );
    }
}

#[tokio::test]
async fn a_new_key_first_reads_the_old_keys_entries_and_then_seals_with_the_new_one() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let old = instance(&moto, &proxy, &store(&redis, &[OLD_KEY]))
        .credentials()
        .await
        .unwrap();
    // Rotation, step 2: the new key seals, the old one still opens.
    let rotated = store(&redis, &[KEY, OLD_KEY]);
    let read = instance(&moto, &proxy, &rotated)
        .credentials()
        .await
        .unwrap();
    assert_eq!(
        read.access_key_id(),
        old.access_key_id(),
        "the old key's entry is read"
    );
    assert_eq!(proxy.sts_requests(), 1);
    assert_eq!(rotated.counts().hits, 1);
    // Step 3: only the new key. It does not open the old entry: one more call, sealed with
    // the new key, which the rotated instances read from then on.
    let new_only = store(&redis, &[KEY]);
    let fresh = instance(&moto, &proxy, &new_only)
        .credentials()
        .await
        .unwrap();
    assert_eq!(proxy.sts_requests(), 2);
    let again = instance(&moto, &proxy, &rotated)
        .credentials()
        .await
        .unwrap();
    assert_eq!(again.access_key_id(), fresh.access_key_id());
    assert_eq!(
        proxy.sts_requests(),
        2,
        "the rotated instance reads the new key's entry"
    );
}

/// On one thread, so that the trace capture sees every task's lines: one warning per outage.
#[tokio::test]
async fn a_store_that_is_down_paused_or_flushed_costs_sts_calls_never_a_failed_request() {
    let (traces, _guard) = support::capture_traces();
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let mut redis = RedisServer::start();
    let shared = store(&redis, &[KEY]);
    let served = |what: &'static str| {
        let provider = instance(&moto, &proxy, &shared);
        async move {
            let started = support::now();
            let credentials = provider.credentials().await;
            let took = support::now().duration_since(started).unwrap_or_default();
            assert!(credentials.is_ok(), "{what}: {credentials:?}");
            assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
        }
    };
    served("up").await;
    assert_eq!(proxy.sts_requests(), 1);
    served("up, from the store").await;
    assert_eq!(proxy.sts_requests(), 1);

    redis.kill();
    served("stopped").await;
    served("still stopped").await;
    assert_eq!(proxy.sts_requests(), 3, "STS without the store");
    assert!(shared.counts().errors >= 1);

    // Back (empty): used again once its pause is over.
    redis.restart();
    support::pause(Duration::from_secs(2)).await;
    served("restarted").await;
    served("restarted, from the store").await;
    assert_eq!(proxy.sts_requests(), 4, "one call, then the store again");

    // Frozen longer than its timeout: the requests do not wait for it.
    redis.pause();
    support::pause(Duration::from_secs(2)).await;
    served("paused").await;
    redis.resume();

    redis.flush();
    support::pause(Duration::from_secs(2)).await;
    let before = proxy.sts_requests();
    served("flushed").await;
    served("flushed, written again").await;
    assert_eq!(proxy.sts_requests(), before + 1);

    // Out of memory, refusing every write (`noeviction` at `maxmemory`): no lease, no entry
    // written, sessions from STS.
    support::pause(Duration::from_secs(2)).await;
    redis.flush();
    redis.config("maxmemory-policy", "noeviction");
    redis.config("maxmemory", "1");
    let (before, errors) = (proxy.sts_requests(), shared.counts().errors);
    served("out of memory").await;
    assert_eq!(proxy.sts_requests(), before + 1);
    assert!(shared.counts().errors > errors, "{:?}", shared.counts());

    let text = traces.text();
    assert_eq!(
        text.matches("the session store is not usable").count(),
        3,
        "one warning for the stop, one for the freeze, one for the memory (a flush is no \
         failure): {text}"
    );
    assert!(text.contains("the session store is back"), "{text}");
}

/// The store stopped and restarted, frozen past its timeout, and flushed in the middle of a
/// run: a new instance every 50 ms, each asked once, all along. No request fails, none waits
/// long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_loses_no_request_while_the_store_stops_freezes_and_empties() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let mut redis = RedisServer::start();
    let shared = store(&redis, &[KEY]);
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load = tokio::spawn({
        let (running, shared, moto, endpoint) = (
            running.clone(),
            shared.clone(),
            moto.clone(),
            proxy.endpoint.clone(),
        );
        async move {
            let (mut served, mut failed, mut slowest) = (0, 0, Duration::ZERO);
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let provider = moto
                    .s3_role_via(&endpoint)
                    .role_session_name("fleet")
                    .load_timeout(Duration::from_secs(10))
                    .session_store(shared.clone())
                    .build()
                    .unwrap();
                let started = support::now();
                match provider.credentials().await {
                    Ok(_) => served += 1,
                    Err(_) => failed += 1,
                }
                slowest = slowest.max(support::now().duration_since(started).unwrap_or_default());
                support::pause(Duration::from_millis(50)).await;
            }
            (served, failed, slowest)
        }
    });

    for outage in ["stopped", "paused", "flushed"] {
        support::pause(Duration::from_millis(500)).await;
        match outage {
            "stopped" => redis.kill(),
            "paused" => redis.pause(),
            _ => redis.flush(),
        }
        support::pause(Duration::from_secs(1)).await;
        match outage {
            "stopped" => redis.restart(),
            "paused" => redis.resume(),
            _ => {}
        }
    }
    support::pause(Duration::from_secs(2)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let (served, failed, slowest) = load.await.unwrap();
    assert_eq!(failed, 0, "no request of the run failed ({served} served)");
    assert!(served >= 20, "{served} requests in the run");
    assert!(
        slowest < Duration::from_secs(5),
        "the slowest took {slowest:?}"
    );
}

/// Waits (bounded) until none of `fleet` has a refresh in flight.
async fn settled(fleet: &[ChainableTemporaryCredentials]) {
    for _ in 0..1000 {
        if fleet.iter().all(|provider| !provider.status().refreshing) {
            return;
        }
        support::pause(Duration::from_millis(10)).await;
    }
    panic!("a refresh still in flight after 10 s");
}

/// Four instances on one role and a manual clock, each asked every minute for 150 minutes
/// (moto's sessions last an hour): each instance reaches its own jittered refresh point, the
/// first one refreshes, the others adopt its session from the store. One STS call per session
/// for the fleet, against one per session per instance without the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_four_makes_one_sts_call_per_session_lifetime() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let clock = support::manual_clock_at_real_time();
    let fleet: Vec<_> = (0..4)
        .map(|_| {
            moto.s3_role_via(&proxy.endpoint)
                .role_session_name("fleet")
                .session_store(store(&redis, &[KEY]))
                .time_source(clock.clone())
                .load_timeout(Duration::from_secs(10))
                .build()
                .unwrap()
        })
        .collect();
    let mut sessions = std::collections::HashSet::new();
    let mut sessions_of_each = vec![std::collections::HashSet::new(); fleet.len()];
    for _minute in 0..150 {
        for (i, provider) in fleet.iter().enumerate() {
            let key = provider
                .credentials()
                .await
                .unwrap()
                .access_key_id()
                .to_owned();
            sessions.insert(key.clone());
            sessions_of_each[i].insert(key);
        }
        settled(&fleet).await;
        clock.advance(Duration::from_secs(60));
    }
    // Refresh points lie 45 to 52.5 minutes into an hour's session (taken at the next whole
    // minute): 3 or 4 sessions in 150 minutes whatever the jitter draws, each used by every
    // instance.
    assert!((3..=4).contains(&sessions.len()), "{sessions:?}");
    assert_eq!(
        proxy.sts_requests(),
        sessions.len(),
        "one STS call per session for the whole fleet"
    );
    for (i, used) in sessions_of_each.iter().enumerate() {
        assert!(used.len() >= 3, "instance {i} used {} sessions", used.len());
    }
    let refreshes: u64 = fleet.iter().map(|p| p.status().refreshes_started).sum();
    let hits: u64 = fleet.iter().map(|p| p.status().store.unwrap().hits).sum();
    assert!(refreshes >= 12, "every instance refreshed: {refreshes}");
    assert!(
        hits + sessions.len() as u64 >= refreshes,
        "each refresh but the callers' own STS calls adopted the store's session: \
         {hits} hits, {refreshes} refreshes"
    );
}

/// No spaces: moto re-encodes form values with spaces under enforcement.
const TENANT_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::chainable-demo","Condition":{"StringLike":{"s3:prefix":"tenants/{{tenant}}/*"}}}]}"#;

/// Three instances of a multi-tenant service, each with its own `ScopedSessions` on one
/// store, five tenants asked for on every instance: one STS call per tenant, each tenant its
/// own session (its own policy), the same on every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_sessions_on_three_instances_cost_one_sts_call_per_tenant() {
    use chainable_credentials::scoped::{PolicyTemplate, Scope};
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let instances: Vec<_> = (0..3)
        .map(|_| {
            moto.s3_role_via(&proxy.endpoint)
                .session_store(store(&redis, &[KEY]))
                .load_timeout(Duration::from_secs(10))
                .scoped_sessions()
                .build()
                .unwrap()
        })
        .collect();
    let template = PolicyTemplate::new(TENANT_POLICY).unwrap();
    let tenants = ["acme", "globex", "initech", "umbrella", "hooli"];
    let scope = |name: &str| {
        Scope::new()
            .label(name)
            .role_session_name(format!("tenant-{name}"))
            .policy(template.fill(&[("tenant", name)]).unwrap())
    };
    let asked = instances.iter().flat_map(|sessions| {
        tenants.iter().map(move |name| {
            let sessions = sessions.clone();
            let scope = scope(name);
            async move {
                let credentials = sessions.credentials(&scope).await.unwrap();
                (*name, credentials.access_key_id().to_owned())
            }
        })
    });
    let mut keys_of: std::collections::HashMap<&str, std::collections::HashSet<String>> =
        Default::default();
    for (name, key) in futures_util::future::join_all(asked).await {
        keys_of.entry(name).or_default().insert(key);
    }
    assert_eq!(proxy.sts_requests(), tenants.len(), "one call per tenant");
    for name in tenants {
        assert_eq!(
            keys_of[name].len(),
            1,
            "{name}: one session on every instance"
        );
    }
    let distinct: std::collections::HashSet<_> = keys_of.values().flatten().collect();
    assert_eq!(distinct.len(), tenants.len(), "each tenant its own session");
    for name in tenants {
        let bodies = proxy.sts_bodies();
        let body = bodies
            .iter()
            .find(|b| b.contains(&format!("RoleSessionName=tenant-{name}")))
            .unwrap();
        assert!(body.contains(&format!("tenants%2F{name}%2F")), "{body}");
    }
    let sts_calls: u64 = instances.iter().map(|s| s.status().sts_calls).sum();
    assert_eq!(sts_calls, tenants.len() as u64);
    let hits: u64 = instances
        .iter()
        .map(|s| s.status().store.unwrap().hits)
        .sum();
    assert_eq!(
        hits, 10,
        "two of three instances took each tenant's session from the store"
    );
}

/// What a deployment's URL carries: an ACL user and its password, the default user's
/// password from a file, a database number, a key prefix of the service's own. A wrong
/// password is an outage like any other: STS without the store, the password never shown.
#[tokio::test]
async fn users_passwords_databases_and_prefixes_reach_the_store_and_a_wrong_password_is_an_outage()
{
    let (traces, _guard) = support::capture_traces();
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::with_passwords("default-Pw-123", ("fleet", "fleet-Pw-456"));
    let url = redis.url();
    let host = url.strip_prefix("redis://").unwrap();
    let on = |url: String| {
        RedisStoreBuilder::new(url)
            .sealing_keys([KEY])
            .key_prefix("reports:")
    };
    let acl_user = on(format!("redis://fleet:fleet-Pw-456@{host}/3"))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "default-Pw-123\n").unwrap();
    let mode = |mode| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let refused = on(format!("redis://{host}/3"))
        .password_file(&password_file)
        .build()
        .unwrap_err()
        .to_string();
    assert!(refused.contains("others may read it"), "{refused}");
    assert!(!refused.contains("Pw-123"), "{refused}");
    mode(0o600);
    let default_user = on(format!("redis://{host}/3"))
        .password_file(&password_file)
        .build()
        .unwrap();
    let first = instance(&moto, &proxy, &acl_user)
        .credentials()
        .await
        .unwrap();
    let second = instance(&moto, &proxy, &default_user)
        .credentials()
        .await
        .unwrap();
    assert_eq!(first.access_key_id(), second.access_key_id());
    assert_eq!(proxy.sts_requests(), 1, "both users reach one store");
    let stored = redis.everything_in(3);
    assert!(!stored.is_empty(), "written to database 3");
    for (name, _) in &stored {
        assert!(name.starts_with("reports:"), "{name}");
    }
    assert!(redis.everything().is_empty(), "nothing in database 0");

    let wrong = on(format!("redis://fleet:not-the-Pw@{host}/3"))
        .build()
        .unwrap();
    instance(&moto, &proxy, &wrong).credentials().await.unwrap();
    assert_eq!(
        proxy.sts_requests(),
        2,
        "a wrong password: STS without the store"
    );
    assert!(wrong.counts().errors >= 1, "{:?}", wrong.counts());
    let shown = format!("{}{acl_user:?}{wrong:?}", traces.text());
    assert!(shown.contains("the session store is not usable"), "{shown}");
    for password in ["fleet-Pw-456", "default-Pw-123", "not-the-Pw"] {
        assert!(!shown.contains(password), "{password} shown: {shown}");
    }
}

/// A `rediss://` store on a server with a private CA: shared when the CA is given; not
/// trusted without it, and not spoken to in plain text — both outages, bounded, never a failed
/// request.
#[tokio::test]
async fn a_tls_store_is_shared_with_its_ca_and_refused_without_it() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::with_tls();
    let trusted = || {
        RedisStoreBuilder::new(redis.url())
            .tls_ca_file(redis.ca_file())
            .sealing_keys([KEY])
            .build()
            .unwrap()
    };
    let (writer, reader) = (trusted(), trusted());
    let first = instance(&moto, &proxy, &writer)
        .credentials()
        .await
        .unwrap();
    let second = instance(&moto, &proxy, &reader)
        .credentials()
        .await
        .unwrap();
    assert_eq!(first.access_key_id(), second.access_key_id());
    assert_eq!(proxy.sts_requests(), 1);
    assert_eq!(reader.counts().hits, 1);

    let untrusted = store(&redis, &[KEY]);
    let plain_text = store_at(&redis.url().replace("rediss://", "redis://"));
    for (what, store) in [("system roots", untrusted), ("plain text", plain_text)] {
        let started = support::now();
        let credentials = instance(&moto, &proxy, &store).credentials().await;
        let took = support::now().duration_since(started).unwrap_or_default();
        assert!(credentials.is_ok(), "{what}: {credentials:?}");
        assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
        let counts = store.counts();
        assert!(counts.errors >= 1 && counts.hits == 0, "{what}: {counts:?}");
    }
    assert_eq!(proxy.sts_requests(), 3);
}

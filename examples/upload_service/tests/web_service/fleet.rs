//! Three instances of the service behind one address, as a deploy runs them: the built binary
//! three times with `--users` and one `--session-store` (a real `redis-server`), STS reached
//! through the counting proxy. Sixty requests spread over the instances and the users, all at
//! once: each user's `AssumeRole` happens once, and the role's own session once — 4 calls,
//! against 12 without the store (each user's role once per instance, and each instance's own
//! session).

use crate::service::{Http, Running};
use crate::support;
use crate::users::call;

use support::fault_proxy::FaultProxy;
use support::moto::Moto;
use support::redis::RedisServer;

const USERS: [(&str, &str); 3] = [
    ("alice", "alice-0123456789abcdef0123456789abcdef"),
    ("bob", "bob-0123456789abcdef0123456789abcdef00"),
    ("carol", "carol-0123456789abcdef0123456789abcdef"),
];

/// A file holding `text`, readable by its owner only.
fn private_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_store_assume_each_users_role_once() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let users: String = USERS
        .iter()
        .map(|(name, token)| format!("{token} {name}\n"))
        .collect();
    let users_file = private_file(dir.path(), "users", &users);
    let key_file = private_file(dir.path(), "store.key", &format!("{}\n", "7e".repeat(32)));
    let redis_url = redis.url();
    let mut vars = crate::service::moto_vars(&moto, &proxy.endpoint);
    vars.push(("UPLOAD_HEALTHZ_DETAILS", "true"));
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--users",
        &users_file,
        "--session-store",
        &redis_url,
        "--session-store-key-file",
        &key_file,
    ];
    let fleet = futures_util::future::join_all((0..3).map(|_| Running::start(&vars, &args))).await;
    let http = Http::new();
    let bucket = &moto.bucket;
    let requests = (0..60).map(|i| {
        let (url, (name, token)) = (&fleet[i % 3].url, USERS[(i / 3) % 3]);
        let http = &http;
        async move {
            let items = format!("{url}/items?bucket={bucket}&prefix=");
            let answer = call(http, "GET", &items, Some(&format!("Bearer {token}"))).await;
            (
                name,
                answer.status,
                String::from_utf8_lossy(&answer.body).into_owned(),
            )
        }
    });
    for (name, status, body) in futures_util::future::join_all(requests).await {
        assert_eq!(status, 200, "{name}: {body}");
    }
    let bodies = proxy.sts_bodies();
    for (name, _) in USERS {
        let field = format!("RoleSessionName=upload-service-{name}");
        let assumed = bodies
            .iter()
            .filter(|b| b.contains(&format!("{field}&")) || b.ends_with(&field))
            .count();
        assert_eq!(assumed, 1, "{name}: one AssumeRole for the three instances");
    }
    assert_eq!(
        bodies.len(),
        USERS.len() + 1,
        "each user's session and the role's own, once each: {bodies:#?}"
    );
    // Every instance served its users from the store but for the sessions it fetched.
    let mut hits = 0;
    for running in &fleet {
        let health = http.get(&format!("{}/healthz", running.url)).await.json();
        hits += health["user_sessions"]["session_store"]["hits"]
            .as_u64()
            .unwrap();
    }
    assert!(hits >= 6, "{hits} store hits for the users' sessions");
    for running in fleet {
        let (code, logs) = running.stop().await;
        assert_eq!(code, Some(0), "{logs}");
        assert!(!logs.contains(" WARN "), "no store warning: {logs}");
    }
}

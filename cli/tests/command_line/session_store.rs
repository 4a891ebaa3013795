//! `--session-store`: separate processes of the command, each with a cache directory of its
//! own (as on separate machines: CI runners, developers behind one bastion), sharing sessions
//! through a real `redis-server` — one `AssumeRole` for all of them; and the key file's rules.

use crate::BINARY;
use crate::support;

use std::collections::HashSet;
use support::cli::{Home, credentials_json, finish, stderr};
use support::fault_proxy::FaultProxy;
use support::moto::Moto;
use support::redis::RedisServer;

/// A key file (mode 0600) with one sealing key.
fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("session-store.key");
    std::fs::write(&path, format!("{}\n", "3c".repeat(32))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_on_eight_machines_make_one_assume_role() {
    let moto = Moto::enforcing();
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let redis = RedisServer::start();
    let keys = tempfile::tempdir().unwrap();
    let key_file = key_file(keys.path());
    let homes: Vec<Home> = (0..8).map(|_| Home::new()).collect();
    let runs = homes.iter().map(|home| {
        let mut command = home.command(BINARY);
        command
            .env("AWS_ACCESS_KEY_ID", &moto.base_access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &moto.base_secret_access_key)
            .args([
                "credential-process",
                "--role-arn",
                &moto.role_arn,
                "--session-name",
                "fleet",
                "--region",
                &moto.region,
                "--endpoint-url",
                &proxy.endpoint,
                "--timeout",
                "30s",
                "--session-store",
                &redis.url(),
                "--session-store-key-file",
                key_file.to_str().unwrap(),
            ]);
        finish(command)
    });
    let outputs = futures_util::future::join_all(runs).await;
    let keys: HashSet<String> = outputs
        .iter()
        .map(|output| {
            credentials_json(output)["AccessKeyId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 1, "one session for the eight");
    assert_eq!(
        proxy.sts_requests(),
        1,
        "one AssumeRole for eight processes"
    );
    for home in &homes {
        assert!(
            !home.cache_dir().exists(),
            "the store takes the cache directory's place"
        );
    }
}

#[tokio::test]
async fn a_key_file_others_may_read_or_a_bad_key_is_a_bad_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let exposed = key_file(dir.path());
    std::fs::set_permissions(&exposed, std::fs::Permissions::from_mode(0o644)).unwrap();
    let short = dir.path().join("short.key");
    std::fs::write(&short, "abcd\n").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let role = "arn:aws:iam::123456789012:role/reader";
    for (file, says) in [
        (&exposed, "others may read it"),
        (&short, "64 hexadecimal characters"),
    ] {
        let output = home
            .run(
                BINARY,
                &[
                    "credential-process",
                    "--role-arn",
                    role,
                    "--session-store",
                    "redis://127.0.0.1:9",
                    "--session-store-key-file",
                    file.to_str().unwrap(),
                ],
            )
            .await;
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(says), "{}", stderr(&output));
        assert!(
            !stderr(&output).contains(&"3c".repeat(32)),
            "the key is never shown"
        );
    }
    let mut no_key = home.command(BINARY);
    no_key.args([
        "credential-process",
        "--role-arn",
        role,
        "--session-store",
        "redis://x",
    ]);
    let output = finish(no_key).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--session-store-key-file"),
        "{}",
        stderr(&output)
    );
}

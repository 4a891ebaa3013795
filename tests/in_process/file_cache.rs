//! The file cache (feature `file-cache`): sessions shared between providers that share nothing
//! but a directory, as separate processes do; one STS call for many that miss together; reuse
//! only while more than the advisory window is left; damaged, foreign, exposed and other users'
//! entries ignored and replaced; never an error for the caller.
//!
//! Each provider here has its own engine and STS client, so whatever they share went through
//! the disk. The process-level version of these tests (the real binary, the AWS CLI, boto3,
//! moto) is in `cli_credential_process.rs` and `cli_aws.rs`.

use crate::support;

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::test_util::ManualTimeSource;
use chainable_credentials::{Builder, ChainableTemporaryCredentials};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{FakeSts, capture_traces, fake_builder, t0};

const MIN: Duration = Duration::from_secs(60);

fn cached(sts: &FakeSts, clock: &ManualTimeSource, dir: &Path) -> Builder {
    fake_builder(sts, clock).file_cache(dir)
}

/// A provider whose base credentials have another access key id (another source user).
fn other_user(sts: &FakeSts, clock: &ManualTimeSource, dir: &Path) -> Builder {
    cached(sts, clock, dir).base_credentials(Credentials::new(
        "AKIDOTHERUSER",
        "other-secret-value",
        None,
        None,
        "test-other",
    ))
}

async fn key_id(provider: &ChainableTemporaryCredentials) -> String {
    provider
        .provide_credentials()
        .await
        .unwrap()
        .access_key_id()
        .to_owned()
}

fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    found.sort();
    found
}

fn the_entry(dir: &Path) -> PathBuf {
    let entries = files(dir, "json");
    assert_eq!(entries.len(), 1, "one entry in {entries:?}");
    entries[0].clone()
}

fn entry_key_id(path: &Path) -> String {
    let entry: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    entry["AccessKeyId"].as_str().unwrap().to_owned()
}

/// `entry` (JSON) with its time field `field` set to `time`.
fn with_time(entry: &str, field: &str, time: std::time::SystemTime) -> String {
    let mut value: serde_json::Value = serde_json::from_str(entry).unwrap();
    value[field] = aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
        .into();
    value.to_string()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o777
}

#[tokio::test]
async fn a_second_provider_reuses_the_session_from_disk() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let first = cached(&sts, &clock, &dir).build().unwrap();
    let key = key_id(&first).await;
    assert_eq!(sts.calls(), 1);

    clock.advance(10 * MIN);
    let second = cached(&sts, &clock, &dir).build().unwrap();
    assert_eq!(key_id(&second).await, key, "the same session");
    assert_eq!(second.expiry(), first.expiry());
    assert_eq!(sts.calls(), 1, "no second STS call");

    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&the_entry(&dir)), 0o600);
    for lock in files(&dir, "lock") {
        assert_eq!(mode(&lock), 0o600);
    }
    let name = the_entry(&dir)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(name.len(), 64 + ".json".len(), "a SHA-256 in hex: {name}");
    for path in fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
        assert!(
            !text.contains("base-secret-value"),
            "the base secret is never stored"
        );
    }
}

#[tokio::test]
async fn eight_providers_missing_together_make_one_sts_call() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let _gate = sts.hold();
    let providers: Vec<_> = (0..8)
        .map(|_| cached(&sts, &clock, root.path()).build().unwrap())
        .collect();
    let callers: Vec<_> = providers
        .iter()
        .map(|p| {
            let p = p.clone();
            tokio::spawn(async move { key_id(&p).await })
        })
        .collect();
    support::eventually("the first STS call arrives", || sts.in_flight() == 1).await;
    // The other seven are waiting on the entry's lock, not on STS.
    TokioSleep::new().sleep(Duration::from_millis(100)).await;
    assert_eq!(sts.in_flight(), 1);
    sts.release();
    let mut keys = Vec::new();
    for caller in callers {
        keys.push(caller.await.unwrap());
    }
    assert_eq!(sts.calls(), 1, "one STS call for eight providers");
    assert!(keys.iter().all(|k| *k == keys[0]), "one session: {keys:?}");
}

#[tokio::test]
async fn an_entry_is_reused_only_while_more_than_its_advisory_window_is_left() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let first = cached(&sts, &clock, root.path()).build().unwrap();
    let first_key = key_id(&first).await;
    let expiry = first.expiry().unwrap();

    // A one-hour session's advisory window is its last 15 minutes.
    clock.set_time(expiry - 15 * MIN - Duration::from_secs(1));
    let before_window = cached(&sts, &clock, root.path()).build().unwrap();
    assert_eq!(key_id(&before_window).await, first_key);
    assert_eq!(sts.calls(), 1);

    clock.set_time(expiry - 15 * MIN);
    let in_window = cached(&sts, &clock, root.path()).build().unwrap();
    let fresh_key = key_id(&in_window).await;
    assert_ne!(
        fresh_key, first_key,
        "a new session once the window is reached"
    );
    assert_eq!(sts.calls(), 2);
    assert_eq!(
        entry_key_id(&the_entry(root.path())),
        fresh_key,
        "and it replaced the entry"
    );

    let after = cached(&sts, &clock, root.path()).build().unwrap();
    assert_eq!(key_id(&after).await, fresh_key);
    assert_eq!(sts.calls(), 2);
}

#[tokio::test]
async fn a_provider_refreshing_in_the_background_picks_up_another_processs_fresh_entry() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let long_lived = cached(&sts, &clock, root.path()).build().unwrap();
    key_id(&long_lived).await;
    // Another process refreshed the entry when it entered its advisory window.
    clock.set_time(long_lived.expiry().unwrap() - 14 * MIN);
    let other = cached(&sts, &clock, root.path()).build().unwrap();
    let fresh = key_id(&other).await;
    assert_eq!(sts.calls(), 2);
    // The long-lived provider is now past its own refresh point: its refresh reads the disk.
    clock.set_time(long_lived.expiry().unwrap() - 30 * 1000 * Duration::from_millis(1));
    assert_eq!(key_id(&long_lived).await, fresh);
    assert_eq!(
        sts.calls(),
        2,
        "the refresh found the other process's session"
    );
}

#[tokio::test]
async fn damaged_foreign_and_exposed_entries_are_ignored_and_replaced() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    key_id(&cached(&sts, &clock, root.path()).build().unwrap()).await;
    let entry = the_entry(root.path());
    let good = fs::read_to_string(&entry).unwrap();

    type Damage<'a> = Box<dyn Fn(&Path) + 'a>;
    let (traces, _guard) = capture_traces();
    let damage: Vec<(&str, Damage<'_>)> = vec![
        (
            "garbage",
            Box::new(|p| fs::write(p, b"\x00\x01not json").unwrap()),
        ),
        (
            "truncated",
            Box::new(|p| fs::write(p, &good[..good.len() / 2]).unwrap()),
        ),
        ("empty", Box::new(|p| fs::write(p, b"").unwrap())),
        (
            "foreign version",
            Box::new(|p| fs::write(p, good.replace("file-cache/v2", "file-cache/v9")).unwrap()),
        ),
        (
            // Entries of the format before the key included the source's secret.
            "the previous format",
            Box::new(|p| fs::write(p, good.replace("file-cache/v2", "file-cache/v1")).unwrap()),
        ),
        (
            "a lifetime longer than asked for",
            Box::new(|p| {
                fs::write(p, with_time(&good, "Expiration", t0() + 10 * 60 * MIN)).unwrap()
            }),
        ),
        (
            "received in the future",
            Box::new(|p| {
                let later = with_time(&good, "ReceivedAt", t0() + 30 * MIN);
                fs::write(p, with_time(&later, "Expiration", t0() + 80 * MIN)).unwrap()
            }),
        ),
        (
            // A FIFO would block an open without O_NONBLOCK until someone wrote to it.
            "a FIFO",
            Box::new(|p| {
                fs::remove_file(p).unwrap();
                let made = std::process::Command::new("mkfifo")
                    .arg(p)
                    .status()
                    .unwrap();
                assert!(made.success());
            }),
        ),
        (
            "readable by others",
            Box::new(|p| fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap()),
        ),
        (
            "a symbolic link",
            Box::new(|p| {
                let target = p.with_extension("target");
                fs::copy(p, &target).unwrap();
                fs::remove_file(p).unwrap();
                std::os::unix::fs::symlink(&target, p).unwrap();
            }),
        ),
    ];
    for (calls, (what, damage)) in (2..).zip(damage) {
        // Restore a sound entry, then damage it.
        let _ = fs::remove_file(&entry);
        fs::write(&entry, &good).unwrap();
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o600)).unwrap();
        damage(&entry);
        let provider = cached(&sts, &clock, root.path()).build().unwrap();
        let key = key_id(&provider).await;
        assert_eq!(sts.calls(), calls, "{what}: a new STS call, no error");
        let meta = fs::symlink_metadata(&entry).unwrap();
        assert!(meta.is_file(), "{what}: replaced by a regular file");
        assert_eq!(meta.mode() & 0o777, 0o600, "{what}: replaced 0600");
        assert_eq!(
            entry_key_id(&entry),
            key,
            "{what}: replaced by the new session"
        );
    }
    let text = traces.text();
    assert!(text.contains("ignoring a stored entry"), "{text}");
    assert!(!text.contains("fake-secret-key") && !text.contains("fake-session-token"));
}

#[tokio::test]
async fn writing_an_entry_sweeps_out_files_that_have_certainly_expired() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    // An entry of a session from two days ago (say, a chain hop's whose source session is
    // long gone), its lock file, and a file that is not the cache's.
    let stale = root.path().join(format!("{}.json", "0".repeat(64)));
    let stale_lock = stale.with_extension("lock");
    let other = root.path().join("README");
    for path in [&stale, &stale_lock, &other] {
        fs::write(path, b"{}").unwrap();
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(t0() - 48 * 60 * MIN).unwrap();
    }
    let sts = FakeSts::new(clock.clone());
    key_id(&cached(&sts, &clock, root.path()).build().unwrap()).await;
    assert!(
        !stale.exists() && !stale_lock.exists(),
        "the expired entry is gone"
    );
    assert!(other.exists(), "other files stay");
    assert_eq!(files(root.path(), "json").len(), 1, "the new entry");
}

#[tokio::test]
async fn another_source_users_entry_is_never_used() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let mine = key_id(&cached(&sts, &clock, root.path()).build().unwrap()).await;
    let my_entry = the_entry(root.path());

    let theirs = key_id(&other_user(&sts, &clock, root.path()).build().unwrap()).await;
    assert_ne!(theirs, mine);
    assert_eq!(
        sts.calls(),
        2,
        "the other user's provider called STS itself"
    );
    let entries = files(root.path(), "json");
    assert_eq!(entries.len(), 2, "one entry per source user");

    // Even the other user's entry copied under my name is refused: it names its own key.
    let their_entry = entries.into_iter().find(|e| *e != my_entry).unwrap();
    fs::copy(&their_entry, &my_entry).unwrap();
    let again = key_id(&cached(&sts, &clock, root.path()).build().unwrap()).await;
    assert_ne!(again, theirs);
    assert_eq!(sts.calls(), 3);
}

#[tokio::test]
async fn the_same_access_key_id_with_another_secret_is_another_source() {
    // Access key ids are not secret: a process that knows one but not its secret must not be
    // handed the session cached for it.
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let mine = key_id(&cached(&sts, &clock, root.path()).build().unwrap()).await;
    let impostor = cached(&sts, &clock, root.path())
        .base_credentials(Credentials::new(
            "AKIDBASE",
            "a-guessed-secret",
            None,
            None,
            "test-impostor",
        ))
        .build()
        .unwrap();
    assert_ne!(key_id(&impostor).await, mine);
    assert_eq!(sts.calls(), 2, "not answered from the other secret's entry");
    assert_eq!(files(root.path(), "json").len(), 2);
}

#[tokio::test]
async fn the_generated_session_name_does_not_split_the_cache_but_an_explicit_one_does() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let unnamed = || {
        let mut builder = cached(&sts, &clock, root.path());
        builder.set_role_session_name(None);
        builder.build().unwrap()
    };
    let first = key_id(&unnamed()).await;
    clock.advance(Duration::from_millis(5));
    assert_eq!(key_id(&unnamed()).await, first);
    assert_eq!(sts.calls(), 1);
    let named = cached(&sts, &clock, root.path())
        .role_session_name("another-name")
        .build()
        .unwrap();
    assert_ne!(key_id(&named).await, first);
    assert_eq!(sts.calls(), 2);
}

#[tokio::test]
async fn after_invalidate_the_dropped_session_is_not_read_back_from_disk() {
    let root = tempfile::tempdir().unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let provider = cached(&sts, &clock, root.path()).build().unwrap();
    let refused = key_id(&provider).await;
    provider.invalidate();
    let fresh = key_id(&provider).await;
    assert_ne!(fresh, refused);
    assert_eq!(sts.calls(), 2);
    assert_eq!(
        entry_key_id(&the_entry(root.path())),
        fresh,
        "the entry was replaced"
    );
}

#[tokio::test]
async fn an_unusable_directory_disables_caching_with_one_warning_never_an_error() {
    let root = tempfile::tempdir().unwrap();
    let not_a_dir = root.path().join("file");
    fs::write(&not_a_dir, b"x").unwrap();
    let clock = ManualTimeSource::new(t0());
    let sts = FakeSts::new(clock.clone());
    let (traces, _guard) = capture_traces();
    let provider = cached(&sts, &clock, &not_a_dir).build().unwrap();
    key_id(&provider).await;
    provider.invalidate();
    key_id(&provider).await;
    assert_eq!(sts.calls(), 2);
    let text = traces.text();
    assert_eq!(
        text.matches("the session store is not usable").count(),
        1,
        "warned once: {text}"
    );
    assert!(!text.contains("fake-secret-key") && !text.contains("fake-session-token"));

    // A directory we cannot write (as root: one that belongs to another user, which the
    // cache refuses to use): sessions are still served.
    let foreign = root.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::set_permissions(&foreign, fs::Permissions::from_mode(0o500)).unwrap();
    if fs::metadata(&foreign).unwrap().uid() == 0 {
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    }
    let provider = cached(&sts, &clock, &foreign).build().unwrap();
    key_id(&provider).await;
    assert_eq!(sts.calls(), 3);
    assert_eq!(
        fs::read_dir(&foreign).unwrap().count(),
        0,
        "nothing written there"
    );
}

#[test]
fn an_empty_path_is_a_build_error_naming_the_field() {
    let error = support::offline_role_builder()
        .file_cache("")
        .build()
        .unwrap_err();
    assert_eq!(error.field(), Some(chainable_credentials::Field::FileCache));
    assert!(error.to_string().contains("file_cache"), "{error}");
}

#[test]
fn the_default_directory_follows_xdg() {
    // Read-only checks of the rule; the variables themselves are not changed (tests run in
    // parallel threads).
    if let Some(dir) = chainable_credentials::file_cache::default_dir() {
        assert!(dir.is_absolute());
        assert!(dir.ends_with(chainable_credentials::file_cache::DIR_NAME));
    }
}

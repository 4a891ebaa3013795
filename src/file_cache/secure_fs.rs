//! File-system steps that keep cached secrets private: a directory only its owner can enter,
//! entries only the owner can read, no following of symbolic links, and writes that are either
//! complete or absent (a temporary file renamed into place).
//!
//! The permission rules apply on Unix. Elsewhere files get the platform's defaults.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Entries are a few hundred bytes; anything much larger is not ours.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

/// Mode of the cache directory: only the owner may list or enter it.
#[cfg(unix)]
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of entries and lock files: only the owner may read or write them.
#[cfg(unix)]
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) if needed, and makes sure only the current user can use
/// it: a directory owned by someone else, or a symbolic link, is refused; one we own with
/// wider permissions is narrowed to 0700.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), String> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if meta.uid() != effective_uid() {
            return Err(format!("{} belongs to another user", dir.display()));
        }
        if meta.mode() & 0o777 != DIR_MODE {
            fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
                .map_err(|e| format!("cannot restrict {} to 0700: {e}", dir.display()))?;
            read_back_private(dir, |dir| {
                fs::symlink_metadata(dir).map(|meta| meta.mode() & 0o777)
            })?;
        }
    }
    Ok(())
}

/// Reads a directory's mode again after it was set to 0700: a file system that ignores
/// `chmod` (vfat, exFAT, some network and container mounts) reports success and keeps every
/// entry readable by everyone. Such a directory is not private, and is not used.
#[cfg(unix)]
fn read_back_private(dir: &Path, mode_of: impl Fn(&Path) -> io::Result<u32>) -> Result<(), String> {
    let mode = mode_of(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is still mode {mode:o} after it was set to 0700 (a file system that ignores \
             permissions, such as vfat?): others could read the sessions cached there",
            dir.display()
        ));
    }
    Ok(())
}

/// Reads an entry's bytes if it is a regular file, not a link, owned by the current user and
/// readable by nobody else. `Ok(None)`: there is no entry. `Err`: there is one, unusable.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let mut file = match open_no_follow(OpenOptions::new().read(true), path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open: {e}")),
    };
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != effective_uid() {
            return Err("owned by another user".into());
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "mode {:o} lets others read it (must be 0600)",
                meta.mode() & 0o777
            ));
        }
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(format!("{} bytes is too large for an entry", meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(Some(bytes))
}

/// Replaces `path` with `bytes` atomically: readers see the old entry or the new one, never a
/// part. The temporary file is created 0600 in the same directory and removed on failure.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    let result = (|| {
        let mut file = open_private(OpenOptions::new().write(true).create_new(true), &temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Opens (creating it 0600 if needed) a file that exists only to be locked; anything but a
/// regular file there is refused.
pub(crate) fn open_lock_file(path: &Path) -> io::Result<File> {
    let file = open_private(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
        path,
    )?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Removes this cache's files in `dir` last modified more than `max_age` before `now`: entries
/// of sessions that have certainly expired — e.g. those of a chain hop whose source was an
/// earlier, temporary session, which no process will ask for again — temporary files a crashed
/// writer left behind, and the lock files of entries that are gone (a lock file is never
/// written, so its age says nothing about its entry's). Other files are not touched. Best
/// effort: failures are ignored.
///
/// Returns how many files were removed.
pub(crate) fn sweep(dir: &Path, now: std::time::SystemTime, max_age: std::time::Duration) -> usize {
    let stale = |path: &Path| {
        fs::symlink_metadata(path).is_ok_and(|meta| {
            meta.is_file()
                && meta
                    .modified()
                    .ok()
                    .and_then(|modified| now.duration_since(modified).ok())
                    .is_some_and(|age| age > max_age)
        })
    };
    let Ok(listing) = fs::read_dir(dir) else {
        return 0;
    };
    let names: Vec<String> = listing
        .flatten()
        .filter_map(|item| item.file_name().into_string().ok())
        .collect();
    let mut removed = 0;
    let mut remove = |name: &str| {
        if fs::remove_file(dir.join(name)).is_ok() {
            removed += 1;
        }
    };
    for name in names.iter().filter(|n| is_entry_name(n) || is_temp_name(n)) {
        if stale(&dir.join(name)) {
            remove(name);
        }
    }
    for name in names.iter().filter(|n| is_lock_name(n)) {
        let entry = dir.join(name.replace(".lock", ".json"));
        let path = dir.join(name);
        if !entry.exists() && stale(&path) && remove_unheld_lock(&path) {
            removed += 1;
        }
    }
    removed
}

/// Removes the lock file at `path` unless a process holds its lock: one that is fetching
/// that entry right now (a long MFA prompt, say) must keep it, or the next process would lock
/// a new file and call STS too. The lock is held while the file is unlinked, and takers check
/// after locking that the file they locked is still the one at the path.
fn remove_unheld_lock(path: &Path) -> bool {
    let Ok(file) = open_no_follow(OpenOptions::new().read(true), path) else {
        return false;
    };
    let is_file = file.metadata().is_ok_and(|m| m.is_file());
    if !is_file || file.try_lock().is_err() || !same_file(path, &file) {
        return false;
    }
    fs::remove_file(path).is_ok()
}

fn is_key(stem: &str) -> bool {
    stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `<64 hex>.json`
fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(is_key)
}

/// `<64 hex>.lock`
fn is_lock_name(name: &str) -> bool {
    name.strip_suffix(".lock").is_some_and(is_key)
}

/// A temporary file of [`write_atomically`]: `.<64 hex>.json.<pid>.<random>.tmp`.
fn is_temp_name(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(|n| n.split('.').next())
        .is_some_and(is_key)
}

/// `<dir>/.<name>.<pid>.<random>.tmp`: unique per writer, hidden, and never mistaken for an
/// entry.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ))
}

fn open_private(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, FILE_MODE);
    open_no_follow(options, path)
}

/// Opens without following a symbolic link and without blocking: a FIFO put where an entry
/// or lock file belongs would otherwise block the open until someone writes to it. The
/// caller then checks that what it opened is a regular file.
fn open_no_follow(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    options.open(path)
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether `path` names the very file `file` has open (same device and inode), not a file
/// created there since.
pub(crate) fn same_file(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::symlink_metadata(path), file.metadata()) {
            (Ok(at_path), Ok(open)) => at_path.dev() == open.dev() && at_path.ino() == open.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn a_directory_whose_mode_does_not_stick_is_refused() {
        let root = tempfile::tempdir().unwrap();
        // As vfat answers: every chmod succeeds, every stat says 0777.
        let error = read_back_private(root.path(), |_| Ok(0o777)).unwrap_err();
        assert!(
            error.contains("still mode 777") && error.contains("vfat"),
            "{error}"
        );
        assert!(read_back_private(root.path(), |_| Ok(0o700)).is_ok());
        let error = read_back_private(root.path(), |_| Err(io::Error::other("gone"))).unwrap_err();
        assert!(error.contains("gone"), "{error}");
    }

    #[test]
    fn the_directory_is_created_0700_and_narrowed_if_wider() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/cache");
        prepare_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        prepare_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_symlinked_or_non_directory_path_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(prepare_dir(&link).unwrap_err().contains("not a directory"));
        let file = root.path().join("file");
        fs::write(&file, b"x").unwrap();
        assert!(prepare_dir(&file).is_err());
    }

    #[test]
    fn entries_are_written_0600_without_leftovers() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("entry.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn sweeping_removes_only_old_cache_files() {
        let root = tempfile::tempdir().unwrap();
        let key = "a".repeat(64);
        let names = [
            format!("{key}.json"),
            format!("{key}.lock"),
            format!(".{key}.json.123.00ff.tmp"),
            "notes.txt".to_owned(),
            "b".repeat(63) + ".json",
        ];
        for name in &names {
            fs::write(root.path().join(name), b"x").unwrap();
        }
        let fresh = format!("{}.json", "c".repeat(64));
        fs::write(root.path().join(&fresh), b"x").unwrap();
        // An old lock file whose entry is fresh stays: lock files are never written.
        let fresh_lock = format!("{}.lock", "c".repeat(64));
        fs::write(root.path().join(&fresh_lock), b"").unwrap();
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
        let long_ago = now - std::time::Duration::from_secs(40 * 3600);
        for name in names.iter().chain([&fresh_lock]) {
            let file = File::options()
                .write(true)
                .open(root.path().join(name))
                .unwrap();
            file.set_modified(long_ago).unwrap();
        }
        let file = File::options()
            .write(true)
            .open(root.path().join(&fresh))
            .unwrap();
        file.set_modified(now - std::time::Duration::from_secs(3600))
            .unwrap();

        let removed = sweep(root.path(), now, std::time::Duration::from_secs(36 * 3600));
        assert_eq!(removed, 3);
        let mut left: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = vec![
            "notes.txt".to_owned(),
            "b".repeat(63) + ".json",
            fresh,
            fresh_lock,
        ];
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn a_lock_another_process_holds_is_never_swept() {
        use std::io::BufRead;
        let root = tempfile::tempdir().unwrap();
        let lock = root.path().join(format!("{}.lock", "d".repeat(64)));
        fs::write(&lock, b"").unwrap();
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
        let age = std::time::Duration::from_secs(36 * 3600);
        File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(now - 2 * age)
            .unwrap();
        // Another process (util-linux's flock(1), which takes the same flock(2) lock) holds it,
        // as a process in the middle of a long fetch would.
        let mut holder = std::process::Command::new("flock")
            .arg(&lock)
            .args(["-c", "echo locked; read _; true"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("flock(1) from util-linux");
        let mut said = String::new();
        std::io::BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut said)
            .unwrap();
        assert_eq!(said.trim(), "locked");
        assert_eq!(sweep(root.path(), now, age), 0);
        assert!(lock.exists(), "held by another process: kept");
        // Once it lets go, the stale lock file goes.
        drop(holder.stdin.take());
        assert!(holder.wait().unwrap().success());
        assert_eq!(sweep(root.path(), now, age), 1);
        assert!(!lock.exists());
    }

    #[test]
    fn a_fifo_is_not_an_entry_and_does_not_block() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("entry.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        // Without O_NONBLOCK this open would wait for a writer forever.
        assert!(
            read_private(&path)
                .unwrap_err()
                .contains("not a regular file")
        );
        let lock = root.path().join("entry.lock");
        std::process::Command::new("mkfifo")
            .arg(&lock)
            .status()
            .unwrap();
        assert!(open_lock_file(&lock).is_err());
    }

    #[test]
    fn unsafe_entries_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("entry.json");
        assert_eq!(read_private(&path).unwrap(), None);
        write_atomically(&path, b"{}").unwrap();
        assert_eq!(read_private(&path).unwrap().unwrap(), b"{}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&path).unwrap_err().contains("0600"));
        let link = root.path().join("link.json");
        let target = root.path().join("target.json");
        write_atomically(&target, b"{}").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(read_private(&link).is_err(), "links are not followed");
    }
}

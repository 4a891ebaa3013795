//! Directories and files only the user can read: where a server's token file and `exec`'s
//! config for COMMAND go. Never inside a world-writable directory such as `/tmp`, where
//! another local user could make the directory first (or again, once it is removed) and hand
//! a client a token — and, on the freed port, credentials — of their own.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The user's base directory for them: `$XDG_RUNTIME_DIR/chainable-credentials` (a per-user
/// directory the system empties at logout), else `servers` in `cache`, the user's cache
/// directory (the file cache's).
/// Created 0700; refused unless it is a directory of the user's that nobody else can enter.
pub(crate) fn default_dir(
    env: &aws_types::os_shim_internal::Env,
    cache: Option<PathBuf>,
) -> Result<PathBuf, String> {
    // The runtime directory only if it is the user's own and closed to others: a variable
    // kept across `sudo -E` may name another user's.
    let runtime = env
        .get("XDG_RUNTIME_DIR")
        .ok()
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute() && check_private(dir).is_ok());
    let base = match runtime {
        Some(runtime) => runtime.join("chainable-credentials"),
        None => cache.map(|cache| cache.join("servers")).ok_or(
            "no private directory for the server's files: neither XDG_RUNTIME_DIR nor HOME \
                 is set; give --token-file PATH",
        )?,
    };
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    match make_private(&base) {
        Ok(()) => {}
        Err(_) if base.is_dir() => {}
        Err(e) => return Err(e),
    }
    check_private(&base)?;
    Ok(base)
}

/// A new directory of the user's (0700) under a private base, removed with what is in it when
/// dropped.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    pub(crate) path: PathBuf,
}

impl PrivateDir {
    /// `prefix-<random>` under `base`.
    pub(crate) fn new(base: &Path, prefix: &str) -> Result<PrivateDir, String> {
        let path = base.join(format!("{prefix}-{:016x}", fastrand::u64(..)));
        make_private(&path)?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Ours alone (0700, a random name in a private base): what is in it is ours too.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Refuses a directory that is a link, another user's, or open to others.
fn check_private(dir: &Path) -> Result<(), String> {
    let metadata = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !metadata.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if metadata.uid() != rustix::process::geteuid().as_raw() {
            return Err(format!(
                "{} belongs to another user: not used for the server's files",
                dir.display()
            ));
        }
        if metadata.mode() & 0o077 != 0 {
            return Err(format!(
                "{} is mode {:o}, open to other users: not used for the server's files (chmod \
                 700 it)",
                dir.display(),
                metadata.mode() & 0o777
            ));
        }
    }
    Ok(())
}

/// Creates `dir` (not its parents) readable by its owner only.
fn make_private(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot make the private directory {}: {e}", dir.display()))
}

/// A new file (never an existing one) readable by its owner only, holding `text`. Its mode is
/// read back before anything is written: on a file system that ignores permissions (vfat) it
/// would be readable by everyone, and the file is removed instead.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    if let Err(open) = only_owner_reads(&file) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(open);
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// `Ok` when `file` is readable by its owner only (on Unix; elsewhere, always).
pub(crate) fn only_owner_reads(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::other(format!(
                "its mode is {mode:o}, not 0600: the file system ignores permissions (vfat?)"
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use aws_types::os_shim_internal::Env;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_default_directory_is_private_and_never_one_open_to_others() {
        let root = tempfile::tempdir().unwrap();
        let runtime = root.path().join("run");
        std::fs::create_dir(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let env = Env::from_slice(&[("XDG_RUNTIME_DIR", runtime.to_str().unwrap())]);
        let dir = default_dir(&env, None).unwrap();
        assert_eq!(dir, runtime.join("chainable-credentials"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let made = PrivateDir::new(&dir, "serve").unwrap();
        assert_eq!(mode(&made.path), 0o700);
        write_private(&made.path.join("file"), "x").unwrap();
        assert_eq!(mode(&made.path.join("file")), 0o600);
        let path = made.path.clone();
        drop(made);
        assert!(!path.exists(), "removed with what it held");

        // Made open to others (by hand, or by someone who made it first): refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = default_dir(&env, None).unwrap_err();
        assert!(error.contains("open to other users"), "{error}");

        // A runtime directory open to others (or another user's) is not used.
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o777)).unwrap();
        let cache = root.path().join("home/.cache/chainable-credentials");
        let env = Env::from_slice(&[("XDG_RUNTIME_DIR", runtime.to_str().unwrap())]);
        assert_eq!(
            default_dir(&env, Some(cache.clone())).unwrap(),
            cache.join("servers")
        );

        // Without a runtime directory: the cache directory, never /tmp.
        let env = Env::from_slice(&[]);
        assert_eq!(
            default_dir(&env, Some(cache.clone())).unwrap(),
            cache.join("servers")
        );
        let error = default_dir(&env, None).unwrap_err();
        assert!(error.contains("give --token-file PATH"), "{error}");
    }
}

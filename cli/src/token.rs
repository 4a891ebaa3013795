//! The credential server's bearer token: 32 random bytes from the operating system, checked in
//! constant time, handed to clients in a variable or in a file only they can read.

use crate::private_dir::{PrivateDir, write_private};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// Random bytes in a token: 32 (256 bits).
pub(crate) const TOKEN_BYTES: usize = 32;

/// The server's token. Never printed by `Debug`; its text goes only where clients read it.
pub(crate) struct Token {
    text: String,
    digest: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(** redacted **)")
    }
}

impl Token {
    /// A new token from the operating system's random source, as 64 hex characters.
    pub(crate) fn generate() -> Result<Token, String> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("cannot get random bytes for the server's token: {e}"))?;
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Token::from_text(text))
    }

    fn from_text(text: String) -> Token {
        let digest = Sha256::digest(text.as_bytes()).into();
        Token { text, digest }
    }

    /// The text clients send in `Authorization`.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether `given` (an `Authorization` header's value) is the token. Both are hashed and
    /// the digests compared in full whatever they hold, so that neither the length nor any
    /// prefix of the token shows in how long the answer takes.
    pub(crate) fn matches(&self, given: &[u8]) -> bool {
        let given: [u8; 32] = Sha256::digest(given).into();
        let difference = self
            .digest
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }
}

/// Why a token file could not be had: the path given is the problem (a bad command line,
/// exit 2), or something else is.
#[derive(Debug)]
pub(crate) enum TokenFileError {
    /// `--token-file PATH` cannot be used.
    Path(String),
    /// The default directory, or the system.
    Other(String),
}

impl std::fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenFileError::Path(reason) | TokenFileError::Other(reason) => f.write_str(reason),
        }
    }
}

/// A token file, locked while its server runs (a second server on the same path is refused)
/// and removed when dropped if it is still the one written here (with the private directory
/// made for it, if any).
#[derive(Debug)]
pub(crate) struct TokenFile {
    pub(crate) path: PathBuf,
    /// The directory made for it, if any: held to be removed (after the file) when dropped.
    _made_dir: Option<PrivateDir>,
    /// The file as written, open and locked: the lock says a server uses it, and its identity
    /// tells whether the file at `path` is still ours.
    locked: std::fs::File,
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        if same_file(&self.locked, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl TokenFile {
    /// Writes `token` to `path`, or with no path to `token` in a new directory (mode 0700)
    /// under `default_dir`, a directory private to the user. The file is written under a new
    /// name in its directory, mode 0600, locked, then renamed to `path`: a reader never sees
    /// half a token. Something already at `path` is refused — a link, a directory, any file but
    /// an earlier token file of this command (64 hex characters, 0600) that no running server
    /// holds — so that `--token-file ~/.aws/credentials` by mistake replaces nothing, and a
    /// second server does not take the first one's file.
    pub(crate) fn write(
        token: &Token,
        path: Option<&Path>,
        default_dir: impl FnOnce() -> Result<PathBuf, String>,
    ) -> Result<TokenFile, TokenFileError> {
        // Two servers started at once on one path: the directory's lock makes one of them
        // see the other's file, instead of both finding the path free.
        let _directory_lock;
        let (path, made_dir) = match path {
            Some(path) => {
                _directory_lock = lock_directory_of(path).map_err(TokenFileError::Path)?;
                refuse_existing(path).map_err(TokenFileError::Path)?;
                (path.to_owned(), None)
            }
            None => {
                let base = default_dir().map_err(TokenFileError::Other)?;
                let dir = PrivateDir::new(&base, "serve").map_err(TokenFileError::Other)?;
                (dir.path.join("token"), Some(dir))
            }
        };
        let given = made_dir.is_none();
        let written = write_locked(token, &path);
        match written {
            Ok(locked) => Ok(TokenFile {
                path,
                _made_dir: made_dir,
                locked,
            }),
            Err(e) => {
                let reason = format!("cannot write the token file {}: {e}", path.display());
                Err(if given {
                    TokenFileError::Path(format!("--token-file: {reason}"))
                } else {
                    TokenFileError::Other(reason)
                })
            }
        }
    }
}

/// The directory `path` is in, locked against other servers writing a token file there, for
/// the few milliseconds of the check and the write. A process that holds it longer makes this
/// fail after 5 s, not wait forever.
fn lock_directory_of(path: &Path) -> Result<std::fs::File, String> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let cannot = |e: std::io::Error| {
        format!(
            "--token-file: cannot write the token file {}: {e}",
            path.display()
        )
    };
    let file = std::fs::File::open(&dir).map_err(cannot)?;
    let waiting = file.try_clone().map_err(cannot)?;
    let (locked, lock) = std::sync::mpsc::channel();
    // A thread of its own takes the lock, so that the wait for it can be bounded.
    std::thread::spawn(move || {
        let _ = locked.send(waiting.lock());
    });
    match lock.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(Ok(())) => Ok(file),
        Ok(Err(e)) => Err(cannot(e)),
        Err(_) => Err(format!(
            "--token-file {}: another process has held its directory's lock for 5 s",
            path.display()
        )),
    }
}

/// Writes `token` under a new name beside `path`, locks it, and renames it to `path`.
fn write_locked(token: &Token, path: &Path) -> std::io::Result<std::fs::File> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let staging = parent.join(format!(
        ".chainable-credentials-token-{:016x}",
        fastrand::u64(..)
    ));
    let result = (|| {
        write_private(&staging, token.text())?;
        let locked = std::fs::File::open(&staging)?;
        // Locked before it has its name: no second server can take it in between.
        locked.try_lock().map_err(std::io::Error::other)?;
        std::fs::rename(&staging, path)?;
        Ok(locked)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    result
}

/// Whether `path` is the file `file` is open on (not one put there since).
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(ours), Ok(there)) => ours.dev() == there.dev() && ours.ino() == there.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Refuses `path` if anything but an earlier token file of this command is there, or if a
/// running server holds that file.
fn refuse_existing(path: &Path) -> Result<(), String> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    #[cfg(unix)]
    let private = {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o777 == 0o600
    };
    #[cfg(not(unix))]
    let private = true;
    let ours = metadata.is_file()
        && metadata.len() == 2 * TOKEN_BYTES as u64
        && private
        && std::fs::read_to_string(path)
            .is_ok_and(|text| text.chars().all(|c| c.is_ascii_hexdigit()));
    if !ours {
        return Err(format!(
            "--token-file {}: something else is there already (not an earlier token file of \
             this command); remove it or name another path",
            path.display()
        ));
    }
    let free = std::fs::File::open(path)
        .map_err(|e| format!("--token-file {}: {e}", path.display()))?
        .try_lock()
        .is_ok();
    if !free {
        return Err(format!(
            "--token-file {}: a running chainable-credentials server uses it; stop that server \
             (kill $CHAINABLE_CREDENTIALS_PID in its shell), or name another path",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_random_hex_and_matches_only_itself() {
        let token = Token::generate().unwrap();
        assert_eq!(token.text().len(), 2 * TOKEN_BYTES);
        assert!(token.text().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(
            token.text(),
            Token::generate().unwrap().text(),
            "not repeated"
        );
        assert!(token.matches(token.text().as_bytes()));
        let text = token.text().to_owned();
        for wrong in [
            String::new(),
            text[..63].to_owned(),
            format!("{text}0"),
            text.to_uppercase(),
            format!("Bearer {text}"),
            "x".repeat(1 << 16),
        ] {
            assert!(!token.matches(wrong.as_bytes()), "{wrong:.20}");
        }
        assert_eq!(format!("{token:?}"), "Token(** redacted **)");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_is_private_locked_while_held_and_removed_only_if_still_ours() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let base = || Ok(dir.path().to_owned());
        let token = Token::generate().unwrap();
        let made = TokenFile::write(&token, None, base).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(std::fs::read_to_string(&made.path).unwrap(), token.text());
        assert_eq!(mode(&made.path), 0o600);
        assert_eq!(mode(made.path.parent().unwrap()), 0o700);
        let made_dir = made.path.parent().unwrap().to_owned();
        drop(made);
        assert!(!made_dir.exists(), "the file and its directory are removed");

        // A given path: written there. While its server holds it, a second one is refused.
        let given = dir.path().join("token");
        let first = TokenFile::write(&token, Some(&given), base).unwrap();
        assert_eq!(std::fs::read_to_string(&given).unwrap(), token.text());
        assert_eq!(mode(&given), 0o600);
        let newer = Token::generate().unwrap();
        let refused = TokenFile::write(&newer, Some(&given), base).unwrap_err();
        assert!(matches!(refused, TokenFileError::Path(_)), "{refused:?}");
        assert!(
            refused
                .to_string()
                .contains("a running chainable-credentials server")
        );
        assert_eq!(
            std::fs::read_to_string(&given).unwrap(),
            token.text(),
            "kept"
        );

        // A server that never removed its file (killed): its file is taken over.
        drop(first);
        write_private(&given, token.text()).unwrap();
        let second = TokenFile::write(&newer, Some(&given), base).unwrap();
        assert_eq!(std::fs::read_to_string(&given).unwrap(), newer.text());
        // A file put there since (by hand, or by another program) is not removed.
        std::fs::remove_file(&given).unwrap();
        std::fs::write(&given, "someone else's").unwrap();
        drop(second);
        assert_eq!(std::fs::read_to_string(&given).unwrap(), "someone else's");
        std::fs::remove_file(&given).unwrap();

        // Eight servers started at once on one new path: one has it, the others are refused,
        // and the file is the one that has it.
        let racing: Vec<_> = (0..8)
            .map(|_| {
                let given = given.clone();
                let dir = dir.path().to_owned();
                std::thread::spawn(move || {
                    let token = Token::generate().unwrap();
                    let file = TokenFile::write(&token, Some(&given), || Ok(dir));
                    file.map(|file| (file, token.text().to_owned()))
                })
            })
            .collect();
        let results: Vec<_> = racing.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let outcomes: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        assert_eq!(std::fs::read_to_string(&given).unwrap(), winners[0].1);
        drop(results);
        assert!(!given.exists());

        // Anything else there is refused, and kept: a file, a link to one, a directory.
        let victim = dir.path().join("credentials");
        std::fs::write(&victim, "[default]\naws_access_key_id = AKID\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for taken in [victim.clone(), link.clone(), dir.path().to_owned()] {
            let error = TokenFile::write(&token, Some(&taken), base).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("something else is there already"),
                "{error}"
            );
        }
        assert!(
            std::fs::read_to_string(&victim)
                .unwrap()
                .starts_with("[default]")
        );
        assert!(link.exists());

        let error = TokenFile::write(&token, Some(&dir.path().join("no/such/dir/token")), base)
            .unwrap_err();
        assert!(matches!(error, TokenFileError::Path(_)), "{error:?}");
        assert!(
            error.to_string().contains("cannot write the token file"),
            "{error}"
        );
    }
}

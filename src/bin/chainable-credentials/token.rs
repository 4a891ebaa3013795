//! The credential server's bearer token: 32 random bytes from the operating system, checked in
//! constant time, handed to clients in a variable or in a file only they can read.

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write as _;
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

/// A token file, removed when dropped (with the private directory made for it, if any).
#[derive(Debug)]
pub(crate) struct TokenFile {
    pub(crate) path: PathBuf,
    made_dir: Option<PathBuf>,
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = &self.made_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl TokenFile {
    /// Writes `token` to `path`, or with no path to `token` in a new directory (mode 0700)
    /// under `temp_dir`. The file is written under a new name in its directory, mode 0600,
    /// then renamed to `path`: a reader never sees half a token. Something already at `path`
    /// is refused — a link, a directory, any file but an earlier token file of this command
    /// (64 hex characters, 0600) — so that `--token-file ~/.aws/credentials` by mistake
    /// replaces nothing (and nothing is removed at the end that was not written here).
    pub(crate) fn write(
        token: &Token,
        path: Option<&Path>,
        temp_dir: &Path,
    ) -> Result<TokenFile, String> {
        let (path, made_dir) = match path {
            Some(path) => {
                refuse_existing(path)?;
                (path.to_owned(), None)
            }
            None => {
                let dir =
                    temp_dir.join(format!("chainable-credentials-{:016x}", fastrand::u64(..)));
                private_dir(&dir)?;
                (dir.join("token"), Some(dir))
            }
        };
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let staging = parent.join(format!(
            ".chainable-credentials-token-{:016x}",
            fastrand::u64(..)
        ));
        let written =
            write_private(&staging, token.text()).and_then(|()| std::fs::rename(&staging, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&staging);
            if let Some(dir) = &made_dir {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(format!(
                "cannot write the token file {}: {e}",
                path.display()
            ));
        }
        // Only now does dropping it remove anything: the file is ours.
        Ok(TokenFile { path, made_dir })
    }
}

/// Refuses `path` if anything but an earlier token file of this command is there.
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
    if ours {
        Ok(())
    } else {
        Err(format!(
            "--token-file {}: something else is there already (not an earlier token file of \
             this command); remove it or name another path",
            path.display()
        ))
    }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            format!(
                "cannot make a directory for the token file, {}: {e}",
                dir.display()
            )
        })
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| {
        format!(
            "cannot make a directory for the token file, {}: {e}",
            dir.display()
        )
    })
}

/// A new file (never an existing one) readable by its owner only, holding `text`.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
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
    fn a_token_file_is_private_replaces_a_link_and_is_removed_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let token = Token::generate().unwrap();
        let made = TokenFile::write(&token, None, dir.path()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(std::fs::read_to_string(&made.path).unwrap(), token.text());
        assert_eq!(mode(&made.path), 0o600);
        assert_eq!(mode(made.path.parent().unwrap()), 0o700);
        let made_dir = made.path.parent().unwrap().to_owned();
        drop(made);
        assert!(!made_dir.exists(), "the file and its directory are removed");

        // A given path: written there; an earlier token file there is replaced.
        let given = dir.path().join("token");
        let written = TokenFile::write(&token, Some(&given), dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&given).unwrap(), token.text());
        assert_eq!(mode(&given), 0o600);
        std::mem::forget(written);
        let newer = Token::generate().unwrap();
        let written = TokenFile::write(&newer, Some(&given), dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&given).unwrap(), newer.text());
        drop(written);
        assert!(!given.exists());

        // Anything else there is refused, and kept: a file, a link to one, a directory.
        let victim = dir.path().join("credentials");
        std::fs::write(&victim, "[default]\naws_access_key_id = AKID\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for taken in [victim.clone(), link.clone(), dir.path().to_owned()] {
            let error = TokenFile::write(&token, Some(&taken), dir.path()).unwrap_err();
            assert!(error.contains("something else is there already"), "{error}");
        }
        assert!(
            std::fs::read_to_string(&victim)
                .unwrap()
                .starts_with("[default]")
        );
        assert!(link.exists());

        let error = TokenFile::write(
            &token,
            Some(&dir.path().join("no/such/dir/token")),
            dir.path(),
        )
        .unwrap_err();
        assert!(error.starts_with("cannot write the token file"), "{error}");
    }
}

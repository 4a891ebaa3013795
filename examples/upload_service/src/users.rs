//! The service's users (`--users FILE`): who may call it, by bearer token, and the prefix each
//! one's keys live under (`--user-prefix`). Parsing and checking only; what a user may do in
//! S3 (its scoped session) is [`access`](crate::access).
//!
//! The file has one user per line, `TOKEN USER`; `#` starts a comment, blank lines are
//! skipped. Several tokens may name one user (to rotate a token without downtime); a token
//! may appear once. Tokens are kept only as SHA-256 digests: a request's token is hashed and
//! looked up, so neither the comparison's timing nor a memory dump tells a valid token.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The shortest token accepted: 32 characters (e.g. `openssl rand -hex 16`, 128 bits), so
/// that guessing one over the network is hopeless.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The longest token accepted (and read from a request): 512 characters.
pub const MAX_TOKEN_CHARS: usize = 512;

/// The longest user name: 64 characters (it goes into keys, a session name and logs).
pub const MAX_USER_CHARS: usize = 64;

/// The largest users file read: 1 MiB (some ten thousand users).
pub const MAX_USERS_FILE_BYTES: u64 = 1024 * 1024;

/// Where a user's keys live unless `--user-prefix` says otherwise.
pub const DEFAULT_USER_PREFIX: &str = "users/{user}/";

/// The users of the service, by the digest of their tokens.
#[derive(Clone)]
pub struct Users {
    by_digest: HashMap<[u8; 32], Arc<str>>,
}

/// Counts only: the digests are not secrets, but nothing about the tokens belongs in a log.
impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("tokens", &self.by_digest.len())
            .field("users", &self.names().len())
            .finish()
    }
}

impl Users {
    /// Reads and parses the users file at `path` (at most [`MAX_USERS_FILE_BYTES`], UTF-8).
    pub fn read(path: &Path) -> Result<Users, String> {
        use std::io::Read as _;
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
        let mut text = String::new();
        file.take(MAX_USERS_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read {shown} as UTF-8 text: {e}"))?;
        if text.len() as u64 > MAX_USERS_FILE_BYTES {
            return Err(format!(
                "{shown} is larger than {MAX_USERS_FILE_BYTES} bytes"
            ));
        }
        Users::parse(&text).map_err(|e| format!("{shown}: {e}"))
    }

    /// Parses a users file's text; an error names the line and the rule (never the token).
    pub fn parse(text: &str) -> Result<Users, String> {
        let mut by_digest = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            // `#` starts a comment at the start of a line or after a space; inside a word it
            // is refused (a token holding one would otherwise be cut short silently).
            if let Some(at) = line.find('#')
                && at > 0
                && !line[..at].ends_with(char::is_whitespace)
            {
                return Err(format!(
                    "line {number}: a `#` inside a word (it starts a comment: tokens and user \
                     names may not hold one)"
                ));
            }
            let content = line.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let (Some(token), Some(user), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!(
                    "line {number}: expected `TOKEN USER` (two words), got {} words",
                    content.split_whitespace().count()
                ));
            };
            check_token(token).map_err(|rule| format!("line {number}: the token {rule}"))?;
            check_user(user).map_err(|rule| format!("line {number}: {rule}"))?;
            if by_digest.insert(digest(token), Arc::from(user)).is_some() {
                return Err(format!(
                    "line {number}: this token is given on an earlier line too (a token names \
                     one user)"
                ));
            }
        }
        if by_digest.is_empty() {
            return Err("names no user (lines are `TOKEN USER`)".into());
        }
        Ok(Users { by_digest })
    }

    /// The user whose token the `Authorization` header's value carries (`Bearer TOKEN`).
    pub fn authenticate(&self, authorization: &[u8]) -> Option<Arc<str>> {
        let text = std::str::from_utf8(authorization).ok()?;
        let (scheme, token) = text.trim().split_once(' ')?;
        let token = token.trim_start();
        if !scheme.eq_ignore_ascii_case("bearer") || token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        self.by_digest.get(&digest(token)).cloned()
    }

    /// The users' names, sorted, each once.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.by_digest.values().cloned().collect();
        names.sort();
        names.dedup();
        names
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A token: 32 to 512 visible ASCII characters (what an `Authorization` header carries).
fn check_token(token: &str) -> Result<(), String> {
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err("has a character outside visible ASCII".into());
    }
    let len = token.len();
    if !(MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&len) {
        return Err(format!(
            "is {len} characters long; tokens are {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} \
             (e.g. `openssl rand -hex 16`)"
        ));
    }
    Ok(())
}

/// A user name: 1 to 64 ASCII letters, digits, `-`, `_` and `.`, not `.` or `..`. It becomes
/// a key segment, part of a role session name and a policy, and a log field, so nothing in it
/// needs escaping anywhere, and none of it is an IAM wildcard or policy variable.
pub fn check_user(user: &str) -> Result<(), String> {
    let valid = (1..=MAX_USER_CHARS).contains(&user.len())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && user != "."
        && user != "..";
    if valid {
        Ok(())
    } else {
        Err(format!(
            "user {:?} is not a user name (1 to {MAX_USER_CHARS} ASCII letters, digits, `-`, \
             `_` and `.`; not `.` or `..`)",
            user.escape_debug().to_string()
        ))
    }
}

/// `--user-prefix`: the key prefix of each user, with `{user}` standing for its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrefix {
    template: String,
}

impl UserPrefix {
    /// Checks a prefix template: it holds `{user}` once, within a segment of its own or not,
    /// and ends with `/` (else the prefix `users/al` would cover `users/alice`); filled with a
    /// name, it is a valid key prefix without `*`, `?` or `$` (which a policy would read as
    /// wildcards or variables).
    pub fn parse(template: &str) -> Result<UserPrefix, String> {
        if template.matches("{user}").count() != 1 {
            return Err(format!(
                "{template:?} must hold `{{user}}` exactly once (e.g. {DEFAULT_USER_PREFIX:?})"
            ));
        }
        if !template.ends_with('/') {
            return Err(format!(
                "{template:?} must end with `/`, or one user's prefix would cover another's"
            ));
        }
        if template.contains(['*', '?', '$']) {
            return Err(format!(
                "{template:?} holds `*`, `?` or `$`, which the session policy would read as a \
                 wildcard or a variable"
            ));
        }
        let prefix = UserPrefix {
            template: template.to_owned(),
        };
        crate::app::validate_prefix(&prefix.for_user("user"))
            .map_err(|e| format!("{template:?}: {e}"))?;
        Ok(prefix)
    }

    /// The prefix of `user` (a name [`check_user`] accepted).
    pub fn for_user(&self, user: &str) -> String {
        self.template.replace("{user}", user)
    }
}

impl Default for UserPrefix {
    fn default() -> Self {
        UserPrefix {
            template: DEFAULT_USER_PREFIX.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "alice-token-0123456789abcdef0123456789";
    const BOB: &str = "bob-token-0123456789abcdef0123456789ab";

    #[test]
    fn a_users_file_is_tokens_and_names() {
        let users = Users::parse(&format!(
            "# the service's users\n\n{ALICE} alice   # the first\n  {BOB}\tbob\n\
             {ALICE}-rotated alice\n"
        ))
        .unwrap();
        assert_eq!(users.names(), [Arc::from("alice"), Arc::from("bob")]);
        let user = |header: &str| users.authenticate(header.as_bytes()).map(|u| u.to_string());
        assert_eq!(user(&format!("Bearer {ALICE}")).as_deref(), Some("alice"));
        assert_eq!(user(&format!("bearer  {BOB}")).as_deref(), Some("bob"));
        assert_eq!(
            user(&format!("Bearer {ALICE}-rotated")).as_deref(),
            Some("alice")
        );
        for refused in [
            String::new(),
            "Bearer".into(),
            format!("Basic {ALICE}"),
            format!("Bearer {ALICE}x"),
            format!("Bearer {}", &ALICE[..ALICE.len() - 1]),
            format!("Bearer{ALICE}"),
            format!("Bearer {}", "a".repeat(100_000)),
        ] {
            assert_eq!(user(&refused), None, "{refused:.40}");
        }
        let shown = format!("{users:?}");
        assert!(!shown.contains("token-0123"), "{shown}");
    }

    #[test]
    fn a_bad_users_file_is_told_by_line_without_the_token() {
        let secret = "s3cr3t-0123456789abcdef0123456789abcdef";
        let cases = [
            (
                format!("{secret}\n"),
                "line 1: expected `TOKEN USER` (two words), got 1",
            ),
            (
                format!("# c\n{secret} alice extra\n"),
                "line 2: expected `TOKEN USER`",
            ),
            (
                "short alice\n".to_owned(),
                "line 1: the token is 5 characters long",
            ),
            (
                format!("{secret} al/ice\n"),
                "line 1: user \"al/ice\" is not a user name",
            ),
            (format!("{secret} ..\n"), "is not a user name"),
            (format!("{secret} a*\n"), "is not a user name"),
            (
                format!("{secret} {}\n", "u".repeat(65)),
                "is not a user name",
            ),
            (
                format!("{secret} alice\n{secret} bob\n"),
                "line 2: this token is given on an earlier line",
            ),
            (format!("{secret}#x alice\n"), "line 1: a `#` inside a word"),
            ("# nobody\n\n".to_owned(), "names no user"),
        ];
        for (text, expected) in cases {
            let error = Users::parse(&text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains("s3cr3t"), "the token is quoted: {error}");
        }
    }

    #[test]
    fn the_users_file_is_read_within_a_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, format!("{ALICE} alice\n")).unwrap();
        assert_eq!(Users::read(&path).unwrap().names(), [Arc::from("alice")]);
        std::fs::write(&path, "x".repeat(MAX_USERS_FILE_BYTES as usize + 1)).unwrap();
        assert!(Users::read(&path).unwrap_err().contains("larger than"));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(Users::read(&path).unwrap_err().contains("UTF-8"));
        let missing = dir.path().join("missing");
        assert!(
            Users::read(&missing)
                .unwrap_err()
                .starts_with("cannot open")
        );
    }

    #[test]
    fn user_prefixes() {
        let default = UserPrefix::default();
        assert_eq!(default.for_user("alice"), "users/alice/");
        assert_eq!(
            UserPrefix::parse("t/{user}/in/").unwrap().for_user("b"),
            "t/b/in/"
        );
        assert_eq!(UserPrefix::parse("{user}/").unwrap().for_user("b"), "b/");
        for (bad, expected) in [
            ("users/", "exactly once"),
            ("{user}/{user}/", "exactly once"),
            ("users/{user}", "must end with `/`"),
            ("users/*/{user}/", "`*`, `?` or `$`"),
            ("/users/{user}/", "must not start with `/`"),
            ("users//{user}/", "empty segment"),
            ("users/../{user}/", "`..` segment"),
            ("users /{user}/", "contains ' '"),
        ] {
            let error = UserPrefix::parse(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }
}

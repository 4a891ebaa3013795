//! The Valkey/Redis session store, for a fleet: every instance that needs a session finds the
//! one an instance fetched, so the fleet makes one STS call per session lifetime (cargo feature
//! `redis-store`).
//!
//! ```no_run
//! use chainable_credentials::ChainableTemporaryCredentials;
//! use chainable_credentials::session_store::redis::RedisStoreBuilder;
//!
//! # fn example() -> Result<(), chainable_credentials::BuildError> {
//! let store = RedisStoreBuilder::new("rediss://sessions.internal:6379/0")
//!     .sealing_key_file("/run/secrets/session-store-key")
//!     .build()?;
//! let provider = ChainableTemporaryCredentials::builder()
//!     .role_arn("arn:aws:iam::123456789012:role/reader")
//!     .session_store(store)
//!     .build()?;
//! # Ok(())
//! # }
//! ```
//!
//! - **Sealed**: entries are encrypted and authenticated (AES-256-GCM, a random nonce per
//!   write, the entry's name as associated data) under a 256-bit key the user gives; names are
//!   a keyed hash; several keys are accepted for reading, the first seals (see `seal.rs`).
//!   Whoever holds the Valkey credentials *and* a sealing key can read the sessions: share a
//!   store within one trust boundary.
//! - **One fetch per key for the fleet**: a lease (`SET NX PX`, its own random token, released
//!   only by its holder with a compare-and-delete script, expiring by itself after the load
//!   timeout) elects the instance that calls STS; the others poll the lease with a growing
//!   pause until its holder lets go, then read its entry — at most half the load timeout,
//!   then they fetch themselves.
//! - **Entries expire with their session** (`PX`).
//! - **Never in the way**: every command is bounded by a short timeout (250 ms by default),
//!   the connection is made again in the background; a store that fails is left alone for a
//!   while (see [`session_store`](crate::session_store)).

mod lease;
mod seal;

/// How far apart the clocks of a fleet's machines may be: an entry written by a machine whose
/// clock runs up to this much ahead is still believed. Far below any session's advisory window
/// (minutes), so a session is never used past its expiry because of it.
const FLEET_CLOCK_ALLOWANCE: Duration = Duration::from_secs(30);

use crate::boxed_future::BoxFuture;
use crate::error::{BuildError, Field};
use crate::session_store::{Lock, Read, SessionStore, Store};
use aws_smithy_async::future::timeout::Timeout;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, default_async_sleep};
use redis::aio::ConnectionManager;
use seal::Sealer;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long one Valkey command may take by default: 250 ms (a loopback or same-zone round
/// trip takes well under a millisecond).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// How long connecting may take by default: 1 second.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What every entry and lease name starts with by default.
pub const DEFAULT_KEY_PREFIX: &str = "chainable-credentials:";

/// Builds a Valkey/Redis [`SessionStore`]: where the server is, how entries are sealed and
/// named, how long commands may take.
#[derive(Default)]
pub struct RedisStoreBuilder {
    url: String,
    password_file: Option<PathBuf>,
    tls_ca_file: Option<PathBuf>,
    sealing_keys: Vec<[u8; 32]>,
    sealing_key_file: Option<PathBuf>,
    key_prefix: Option<String>,
    command_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    sleep: Option<SharedAsyncSleep>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the URL (it may carry a password) nor the keys.
        f.debug_struct("RedisStoreBuilder")
            .field("sealing_keys", &self.sealing_keys.len())
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// The server: `redis://[USER[:PASSWORD]@]HOST[:PORT][/DATABASE]`, or `rediss://` for TLS.
    pub fn new(url: impl Into<String>) -> Self {
        RedisStoreBuilder {
            url: url.into(),
            ..Default::default()
        }
    }

    /// For a `rediss://` URL: a PEM file of the certificate authorities to trust instead of
    /// the system's (a private CA). Without it the system's roots verify the server.
    ///
    /// A `rediss://` store's first connection installs rustls's `aws-lc-rs` crypto provider as
    /// the process's default when none is installed (the Redis client's TLS needs one): a
    /// program that installs its own does so before.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca_file = Some(path.into());
        self
    }

    /// A file whose first line is the password (instead of one in the URL); refused when others
    /// may read it, or empty.
    pub fn password_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.password_file = Some(path.into());
        self
    }

    /// The keys entries are sealed with (the first) and opened with (any): 32 bytes each. Give
    /// the new key first and the old one after it to rotate without a flag day.
    pub fn sealing_keys(mut self, keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        self.sealing_keys = keys.into_iter().collect();
        self
    }

    /// A file of sealing keys, one a line as 64 hexadecimal characters, the sealing one first;
    /// refused if others than its owner may read it.
    pub fn sealing_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sealing_key_file = Some(path.into());
        self
    }

    /// What every name starts with, to share one database with other programs.
    ///
    /// Default: [`DEFAULT_KEY_PREFIX`].
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = Some(prefix.into());
        self
    }

    /// How long one command may take before the store is counted as failing.
    ///
    /// Default: [`DEFAULT_COMMAND_TIMEOUT`].
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = Some(timeout);
        self
    }

    /// How long connecting may take.
    ///
    /// Default: [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// What the store's timeouts and waits sleep on.
    ///
    /// Default: Tokio's.
    pub fn sleep_impl(mut self, sleep: impl AsyncSleep + 'static) -> Self {
        self.sleep = Some(SharedAsyncSleep::new(sleep));
        self
    }

    /// The store. Reads the key and password files given; connects on first use.
    ///
    /// # Errors
    /// A [`BuildError`] naming [`Field::SessionStore`] for a URL that is not a `redis://` or
    /// `rediss://` URL, no sealing key, a malformed key, a key file others may read, a password
    /// or CA file that cannot be read, a CA file without `rediss://`, a timeout of zero or over
    /// a minute.
    pub fn build(self) -> Result<SessionStore, BuildError> {
        let invalid = |problem: String| BuildError::invalid(Field::SessionStore, problem);
        let info = self.connection_info().map_err(invalid)?;
        let keys = self.keys().map_err(invalid)?;
        let timeouts = [
            (
                "command_timeout",
                self.command_timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            ),
            (
                "connect_timeout",
                self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            ),
        ];
        for (name, timeout) in timeouts {
            if timeout.is_zero() || timeout > Duration::from_secs(60) {
                return Err(invalid(format!(
                    "`{name}` must be more than zero and at most a minute"
                )));
            }
        }
        let tls = self.url.starts_with("rediss://");
        let client = self.client(info, tls).map_err(invalid)?;
        let sleep = self
            .sleep
            .or_else(default_async_sleep)
            .ok_or_else(|| invalid("a sleep implementation is needed without Tokio".into()))?;
        Ok(SessionStore::of(RedisStore {
            client,
            tls,
            connection: OnceCell::new(),
            sealer: Sealer::new(
                &keys,
                self.key_prefix.unwrap_or_else(|| DEFAULT_KEY_PREFIX.into()),
            ),
            command_timeout: timeouts[0].1,
            connect_timeout: timeouts[1].1,
            sleep,
        }))
    }

    /// The client of `info`, with the CA file's authorities for TLS if one was given.
    fn client(&self, info: redis::ConnectionInfo, tls: bool) -> Result<redis::Client, String> {
        let Some(path) = &self.tls_ca_file else {
            return redis::Client::open(info).map_err(|e| e.to_string());
        };
        if !tls {
            return Err("`tls_ca_file` is for a rediss:// URL".into());
        }
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        };
        redis::Client::build_with_tls(info, certificates)
            .map_err(|e| format!("the CA file {}: {e}", path.display()))
    }

    /// The sealing keys given, and those of the key file.
    fn keys(&self) -> Result<Vec<[u8; 32]>, String> {
        let mut keys = self.sealing_keys.clone();
        if let Some(path) = &self.sealing_key_file {
            keys.extend(read_key_file(path)?);
        }
        if keys.is_empty() {
            return Err("no sealing key: give `sealing_keys` or `sealing_key_file`".into());
        }
        Ok(keys)
    }

    /// The URL, checked, with the password file's password.
    fn connection_info(&self) -> Result<redis::ConnectionInfo, String> {
        if !(self.url.starts_with("redis://") || self.url.starts_with("rediss://")) {
            return Err("the URL must start with redis:// or rediss://".into());
        }
        let mut info: redis::ConnectionInfo =
            self.url.as_str().parse().map_err(|e: redis::RedisError| {
                format!("not a usable Redis URL: {}", e.category())
            })?;
        if let Some(path) = &self.password_file {
            let text = read_private(path, "password file")?;
            let password = text.lines().next().unwrap_or_default().trim().to_owned();
            if password.is_empty() {
                return Err(format!(
                    "the password file {} has no password on its first line",
                    path.display()
                ));
            }
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        Ok(info)
    }
}

/// The text of a secret's file (`what`: "sealing key file", "password file"), refused when
/// others may read it.
fn read_private(path: &std::path::Path, what: &str) -> Result<String, String> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "the {what} {} is mode {mode:o}: others may read it (chmod 600 it)",
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// The sealing keys in a file: one a line (blank lines and `#` comments aside), readable by
/// its owner only.
fn read_key_file(path: &std::path::Path) -> Result<Vec<[u8; 32]>, String> {
    let text = read_private(path, "sealing key file")?;
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .enumerate()
        .map(|(i, line)| {
            seal::parse_key(line).map_err(|problem| {
                format!(
                    "the sealing key file {}, key {}: {problem}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// A Valkey/Redis server holding sealed entries.
pub(crate) struct RedisStore {
    client: redis::Client,
    tls: bool,
    /// Made on first use; reconnects by itself afterwards.
    connection: OnceCell<ConnectionManager>,
    sealer: Sealer,
    command_timeout: Duration,
    connect_timeout: Duration,
    sleep: SharedAsyncSleep,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("tls", &self.tls)
            .field("sealer", &self.sealer)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The connection, made now if it is not yet (bounded by the connect timeout).
    async fn connection(&self) -> Result<ConnectionManager, String> {
        if self.tls {
            // The TLS of the Redis client needs a process-wide provider; the SDK's is the same.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.command_timeout))
            .set_number_of_retries(1);
        let making = self.connection.get_or_try_init(|| async {
            ConnectionManager::new_with_config(self.client.clone(), config)
                .await
                .map_err(|e| format!("cannot connect: {}", e.category()))
        });
        match Timeout::new(making, self.sleep.sleep(self.connect_timeout)).await {
            Ok(made) => made.cloned(),
            Err(_) => Err(format!(
                "cannot connect within {} ms",
                self.connect_timeout.as_millis()
            )),
        }
    }

    /// One command, bounded by the command timeout.
    async fn command<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let running = async move { command.query_async::<T>(&mut connection).await };
        match Timeout::new(running, self.sleep.sleep(self.command_timeout)).await {
            Ok(answer) => answer.map_err(|e| describe(&e)),
            Err(_) => Err(format!(
                "no answer within {} ms",
                self.command_timeout.as_millis()
            )),
        }
    }

    async fn read_entry(&self, key: &str) -> Read {
        let names = self.sealer.names(key);
        let values: Vec<Option<Vec<u8>>> =
            match self.command(redis::cmd("MGET").arg(&names).clone()).await {
                Ok(values) => values,
                Err(problem) => return Read::Failed(problem),
            };
        // The sealing key's entry first; an older key's if that one is missing or does not
        // open (a rotation under way, or a tampered newer entry).
        let mut rejected = None;
        for (index, value) in values.into_iter().enumerate() {
            let Some(value) = value else { continue };
            match self.sealer.open(index, &names[index], &value) {
                Ok(plain) => return Read::Found(plain),
                Err(problem) => rejected = rejected.or(Some(problem)),
            }
        }
        rejected.map_or(Read::Absent, Read::Rejected)
    }

    async fn write_entry(&self, key: &str, bytes: Vec<u8>, ttl: Duration) -> Result<(), String> {
        let name = self.sealer.names(key).swap_remove(0);
        let sealed = self.sealer.seal(&name, &bytes)?;
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.command::<()>(
            redis::cmd("SET")
                .arg(&name)
                .arg(sealed)
                .arg("PX")
                .arg(millis)
                .clone(),
        )
        .await
    }
}

/// A Redis error as one line, without echoing anything the server sent back verbatim beyond
/// its kind and code.
fn describe(error: &redis::RedisError) -> String {
    match error.code() {
        Some(code) => format!("{} ({code})", error.category()),
        None => error.category().to_owned(),
    }
}

impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Read> {
        Box::pin(self.read_entry(key))
    }

    fn write<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        ttl: Duration,
        _now: std::time::SystemTime,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.write_entry(key, bytes, ttl))
    }

    fn lock<'a>(
        &'a self,
        key: &'a str,
        wait: Duration,
        lease_for: Duration,
        sleep: &'a SharedAsyncSleep,
    ) -> BoxFuture<'a, Lock> {
        Box::pin(lease::acquire(self, key, (wait, lease_for), sleep))
    }

    fn clock_allowance(&self) -> Duration {
        FLEET_CLOCK_ALLOWANCE
    }
}

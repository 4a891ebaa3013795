//! What a shared session store does whatever holds the bytes: the first to need a session
//! calls STS and writes it; the others reuse it while more than its advisory window is left.
//! Entries are believed only when their times are plausible, never read back after
//! `invalidate`, and fetched once per key at a time (the store's lock, with a bounded wait for
//! whoever holds it). A store that fails is skipped for a while and the session fetched from
//! STS as without a store: it is never in the way.

use super::{Lock, LockGuard, Read, SessionStore, StoreCounts, entry};
use crate::mutex::lock;
use crate::refresh::schedule::advisory_window;
use crate::session::Session;
use crate::sts::EXPIRY_ALLOWANCE;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_async::future::timeout::Timeout;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use aws_smithy_async::time::SharedTimeSource;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The first pause after the store failed, and the longest: while it is paused, refreshes go
/// to STS at once instead of paying the store's timeout each time.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

/// A store as the providers (every hop, every scope) of one builder use it: on their clock,
/// waiting for each other at most `lock_wait`.
#[derive(Debug)]
pub(crate) struct SharedSessions {
    store: SessionStore,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    /// How long to wait for another process's fetch before fetching anyway.
    lock_wait: Duration,
}

/// Whether the store works; when it does not, until when it is left alone.
#[derive(Debug, Default)]
pub(crate) struct Health {
    paused_until: Option<SystemTime>,
    pause: Option<Duration>,
}

impl SharedSessions {
    pub(crate) fn new(
        store: SessionStore,
        time: SharedTimeSource,
        sleep: SharedAsyncSleep,
        lock_wait: Duration,
    ) -> Self {
        SharedSessions {
            store,
            time,
            sleep,
            lock_wait,
        }
    }

    /// The store's counts.
    pub(crate) fn counts(&self) -> StoreCounts {
        self.store.counters.snapshot()
    }

    /// The store's counts for the metrics, with the store's identity (its counters' address:
    /// every provider on the same store reports the same counts, counted once).
    #[cfg(feature = "telemetry")]
    pub(crate) fn gauges(&self) -> crate::telemetry::StoreGauges {
        let counts = self.counts();
        crate::telemetry::StoreGauges {
            identity: std::sync::Arc::as_ptr(&self.store.counters) as usize,
            hits: counts.hits,
            misses: counts.misses,
            rejected: counts.rejected,
            errors: counts.errors,
        }
    }

    /// A session for the entry `key` (whose sessions live at most `longest`): a reusable
    /// entry if there is one, else `fetch`'s, which is then written for the next process.
    /// `discarded` is the access key id of a session the provider was told to drop. Counts one
    /// hit (the store's session) or one miss (the store answered, with nothing usable) per
    /// call, and a rejected entry at most once.
    pub(crate) async fn load_or_fetch(
        &self,
        key: &str,
        longest: Duration,
        discarded: Option<&str>,
        fetch: impl Future<Output = Result<Session, CredentialsError>>,
    ) -> Result<Session, CredentialsError> {
        if self.paused() {
            return fetch.await;
        }
        let wanted = Wanted {
            key,
            longest,
            discarded,
            answered: AtomicBool::new(false),
            rejected: AtomicBool::new(false),
        };
        let lock = match self.find(&wanted).await {
            Ok(session) => {
                self.store.counters.hit();
                return Ok(session);
            }
            Err(lock) => lock,
        };
        if wanted.answered.load(Ordering::Relaxed) {
            self.store.counters.miss();
        }
        let session = fetch.await?;
        self.store(key, &session).await;
        // Let go at once: the others are waiting for it (or for the entry just written).
        if let Some(guard) = lock {
            guard.release().await;
        }
        Ok(session)
    }

    /// A usable entry, or the key's lock to fetch under (`Err(None)`: fetch without it). The
    /// wait for the lock is bounded as a whole by `lock_wait`: a slow store, each command
    /// within its timeout, does not stretch it.
    async fn find(&self, wanted: &Wanted<'_>) -> Result<Session, Option<Box<dyn LockGuard>>> {
        match self.reusable(wanted).await {
            Looked::Usable(session) => return Ok(session),
            // The store does not work: no lock, no write, until it is back.
            Looked::StoreFailed => return Err(None),
            Looked::Nothing => {}
        }
        let waiting = self.lock_or_reuse(wanted);
        match Timeout::new(waiting, self.sleep.sleep(self.lock_wait)).await {
            Ok(found) => found,
            Err(_) => {
                tracing::debug!(
                    wait = ?self.lock_wait,
                    "another process is still fetching this session; fetching too"
                );
                Err(None)
            }
        }
    }

    /// The key's lock, or the session its holder wrote meanwhile.
    async fn lock_or_reuse(
        &self,
        wanted: &Wanted<'_>,
    ) -> Result<Session, Option<Box<dyn LockGuard>>> {
        let mut wait = self.lock_wait;
        loop {
            let lock = self
                .store
                .store
                .lock(wanted.key, wait, self.lock_wait * 2, &self.sleep)
                .await;
            let guard = match lock {
                Lock::Acquired(guard) => guard,
                // Its holder let go: read what it wrote; if nothing usable (its STS call
                // failed), the lock again, for what is left of the wait.
                Lock::Released { waited } => match self.reusable(wanted).await {
                    Looked::Usable(session) => return Ok(session),
                    Looked::Nothing if waited < wait => {
                        wait -= waited;
                        continue;
                    }
                    Looked::Nothing | Looked::StoreFailed => return Err(None),
                },
                Lock::GaveUp => return Err(None),
                Lock::Unavailable(problem) => {
                    self.failed(&problem);
                    return Err(None);
                }
            };
            // Taken after a wait, its holder has probably just written a fresh entry.
            return match self.reusable(wanted).await {
                Looked::Usable(session) => {
                    guard.release().await;
                    Ok(session)
                }
                Looked::Nothing | Looked::StoreFailed => Err(Some(guard)),
            };
        }
    }

    /// Writes `session` as the entry, to expire with it.
    async fn store(&self, key: &str, session: &Session) {
        if self.paused() {
            return;
        }
        let Some(bytes) = entry::to_bytes(key, session) else {
            tracing::debug!("the session's times cannot be stored; not shared");
            return;
        };
        let now = self.time.now();
        let ttl = session.expires_at.duration_since(now).unwrap_or_default();
        if ttl.is_zero() {
            return;
        }
        match self.store.store.write(key, bytes, ttl, now).await {
            Ok(()) => {
                self.recovered();
                tracing::debug!(
                    store = self.store.kind(),
                    "wrote the session to the session store"
                );
            }
            Err(problem) => self.failed(&problem),
        }
    }

    /// The entry, if it is sound, believable and has more than its advisory window left.
    async fn reusable(&self, wanted: &Wanted<'_>) -> Looked {
        let bytes = match self.store.store.read(wanted.key).await {
            Read::Found(bytes) => bytes,
            Read::Absent => {
                self.recovered();
                wanted.answered.store(true, Ordering::Relaxed);
                return Looked::Nothing;
            }
            Read::Rejected(problem) => {
                self.recovered();
                wanted.answered.store(true, Ordering::Relaxed);
                self.rejected(wanted, &problem);
                return Looked::Nothing;
            }
            Read::Failed(problem) => {
                self.failed(&problem);
                return Looked::StoreFailed;
            }
        };
        self.recovered();
        wanted.answered.store(true, Ordering::Relaxed);
        let allowance = self.store.store.clock_allowance();
        let session = match entry::from_bytes(wanted.key, &bytes).and_then(|session| {
            believable(&session, self.time.now(), wanted.longest, allowance).map(|()| session)
        }) {
            Ok(session) => session,
            Err(problem) => {
                self.rejected(wanted, &problem);
                return Looked::Nothing;
            }
        };
        if let Err(problem) = self.usable(&session, wanted) {
            tracing::debug!(
                store = self.store.kind(),
                problem,
                "not reusing the stored session"
            );
            return Looked::Nothing;
        }
        tracing::debug!(
            store = self.store.kind(),
            expires_at = %aws_smithy_types::DateTime::from(session.expires_at),
            "reusing the session from the session store"
        );
        Looked::Usable(session)
    }

    /// Whether a believable entry may be used now: more than its advisory window left, and
    /// not the session the provider was told to drop.
    fn usable(&self, session: &Session, wanted: &Wanted<'_>) -> Result<(), String> {
        let now = self.time.now();
        let lifetime = session
            .expires_at
            .duration_since(session.received_at)
            .unwrap_or_default();
        let left = session.expires_at.duration_since(now).unwrap_or_default();
        if left <= advisory_window(lifetime) {
            return Err("too close to its expiry".into());
        }
        if wanted.discarded == Some(session.credentials.access_key_id()) {
            return Err("the provider was told to drop this session".into());
        }
        Ok(())
    }

    /// An entry that is not a session of this key (tampered with, sealed with another key, of
    /// another format): ignored, counted (once per look-up), replaced by the next write.
    fn rejected(&self, wanted: &Wanted<'_>, problem: &str) {
        if !wanted.rejected.swap(true, Ordering::Relaxed) {
            self.store.counters.reject();
        }
        tracing::debug!(
            store = self.store.kind(),
            problem,
            "ignoring a stored entry; it will be replaced"
        );
    }

    /// The store failed: one warning for the outage (not one per refresh), and the store left
    /// alone for a growing pause, during which refreshes go to STS at once.
    fn failed(&self, problem: &str) {
        self.store.counters.error();
        let mut health = lock(&self.store.health);
        let pause = health
            .pause
            .map_or(FIRST_PAUSE, |last| (last * 2).min(LONGEST_PAUSE));
        if health.pause.is_none() {
            tracing::warn!(
                store = self.store.kind(),
                problem,
                "the session store is not usable; sessions come from STS without it until it is back"
            );
        }
        health.pause = Some(pause);
        health.paused_until = Some(self.time.now() + pause);
    }

    /// The store answered: an outage, if there was one, is over.
    fn recovered(&self) {
        let mut health = lock(&self.store.health);
        if health.pause.take().is_some() {
            health.paused_until = None;
            tracing::info!(store = self.store.kind(), "the session store is back");
        }
    }

    /// Whether the store is being left alone after a failure.
    fn paused(&self) -> bool {
        lock(&self.store.health)
            .paused_until
            .is_some_and(|until| self.time.now() < until)
    }
}

/// What a look into the store found.
enum Looked {
    Usable(Session),
    Nothing,
    /// The store does not work (now): go to STS without it.
    StoreFailed,
}

/// What a provider looks for, and what its look-up met so far (for the counts).
struct Wanted<'a> {
    key: &'a str,
    longest: Duration,
    discarded: Option<&'a str>,
    /// The store answered a read.
    answered: AtomicBool,
    /// A rejected entry was counted.
    rejected: AtomicBool,
}

/// Whether an entry's times could be those of a session this provider asked for: received no
/// later than now (give or take `allowance`, the store's clock differences), living no longer
/// than requested. Another process (a clock set far ahead, a bug, a forged entry) must not hand
/// out a session past its real expiry.
fn believable(
    session: &Session,
    now: SystemTime,
    longest: Duration,
    allowance: Duration,
) -> Result<(), String> {
    if session.received_at > now + allowance {
        return Err("it was received later than now".into());
    }
    let lifetime = session
        .expires_at
        .duration_since(session.received_at)
        .unwrap_or_default();
    if lifetime > longest + EXPIRY_ALLOWANCE {
        return Err(format!(
            "it claims a lifetime of {} s, longer than the {} s asked for",
            lifetime.as_secs(),
            longest.as_secs()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxed_future::BoxFuture;
    use crate::session::Origin;
    use crate::session_store::Store;
    use aws_credential_types::Credentials;
    use aws_smithy_async::rt::sleep::TokioSleep;
    use aws_smithy_async::time::{SystemTimeSource, TimeSource};
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    /// The worst a slow store can do within its timeouts: every read takes `latency` and
    /// finds nothing; every lock waits `latency`, then says its holder let go after 10 ms of
    /// waiting, without writing anything.
    #[derive(Debug)]
    struct SlowStore {
        latency: Duration,
        sleep: SharedAsyncSleep,
        locks: Arc<AtomicU64>,
    }

    impl Store for SlowStore {
        fn kind(&self) -> &'static str {
            "slow"
        }
        fn read<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Read> {
            Box::pin(async move {
                self.sleep.sleep(self.latency).await;
                Read::Absent
            })
        }
        fn write<'a>(
            &'a self,
            _key: &'a str,
            _bytes: Vec<u8>,
            _ttl: Duration,
            _now: SystemTime,
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn lock<'a>(
            &'a self,
            _key: &'a str,
            _wait: Duration,
            _lease_for: Duration,
            sleep: &'a SharedAsyncSleep,
        ) -> BoxFuture<'a, Lock> {
            self.locks.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                sleep.sleep(self.latency).await;
                Lock::Released {
                    waited: Duration::from_millis(10),
                }
            })
        }
        fn clock_allowance(&self) -> Duration {
            EXPIRY_ALLOWANCE
        }
    }

    fn session() -> Session {
        let now = SystemTimeSource::new().now();
        Session {
            credentials: Credentials::for_tests(),
            received_at: now,
            expires_at: now + Duration::from_secs(3600),
            origin: Origin::Sts,
        }
    }

    /// Each command of the store within its timeout, yet slow: the wait for another process's
    /// fetch still ends at `lock_wait` (plus the first look), and the caller fetches. Counted
    /// per round, the waits alone (10 ms each) would have allowed 250 rounds of 400 ms.
    #[tokio::test(start_paused = true)]
    async fn a_slow_store_does_not_stretch_the_wait_past_lock_wait() {
        let sleep = SharedAsyncSleep::new(TokioSleep::new());
        let locks = Arc::new(AtomicU64::new(0));
        let store = SessionStore::of(SlowStore {
            latency: Duration::from_millis(200),
            sleep: sleep.clone(),
            locks: locks.clone(),
        });
        let lock_wait = Duration::from_millis(2_500);
        let shared = SharedSessions::new(
            store.clone(),
            SharedTimeSource::new(SystemTimeSource::new()),
            sleep,
            lock_wait,
        );
        let started = tokio::time::Instant::now();
        let fetched = shared
            .load_or_fetch("key", Duration::from_secs(3600), None, async {
                Ok(session())
            })
            .await;
        let took = started.elapsed();
        assert!(fetched.is_ok());
        assert!(
            took <= lock_wait + Duration::from_millis(200),
            "waited {took:?}"
        );
        assert!(locks.load(Ordering::Relaxed) <= 7, "{locks:?} rounds");
        let counts = store.counts();
        assert_eq!((counts.hits, counts.misses), (0, 1), "one load, one miss");
    }
}

//! The lease that elects, across a fleet, the one instance that calls STS for a key: `SET
//! NAME TOKEN NX PX TTL`, with a random token of its own. It expires by itself (an instance
//! that dies holding it costs the others one wait), and is released only by its holder: a
//! compare-and-delete script removes it only while it still holds that token, so a lease that
//! expired and was taken by another is never released by the first.

use super::RedisStore;
use crate::boxed_future::BoxFuture;
use crate::session_store::{Lock, LockGuard};
use aws_smithy_async::future::timeout::Timeout;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
use std::time::Duration;

/// The first pause between looks at a held lease, and the longest: a waiter sees the lease go
/// within 50 ms. 1,000 instances waiting on one key make up to 100,000 `EXISTS` a second in
/// their first 10 ms and 20,000 from the fourth look on, for the few hundred milliseconds of
/// an STS call.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// Deletes the lease only if it still holds this holder's token.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Takes the lease of `key`; when another holds it, waits (polling with a growing pause, for
/// up to `wait`) until it lets go, and says so ([`Lock::Released`]) rather than taking the
/// lease in turn: its holder has written the entry, which every waiter then reads at once
/// instead of queueing for the lease one after the other. The lease lives `lease_for` (the
/// load timeout) unless released first.
pub(super) async fn acquire(
    store: &RedisStore,
    key: &str,
    (wait, lease_for): (Duration, Duration),
    sleep: &SharedAsyncSleep,
) -> Lock {
    let name = store.sealer.lease_name(key);
    let mut token = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut token) {
        return Lock::Unavailable(format!("no random bytes for a lease: {e}"));
    }
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let ttl = u64::try_from(lease_for.as_millis())
        .unwrap_or(u64::MAX)
        .max(1_000);
    let set = redis::cmd("SET")
        .arg(&name)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(ttl)
        .clone();
    match store.command::<Option<String>>(set).await {
        Ok(Some(_)) => Lock::Acquired(Box::new(Lease {
            connection: store.connection.get().cloned(),
            name,
            token,
            sleep: store.sleep.clone(),
            timeout: store.command_timeout,
        })),
        Ok(None) => until_released(store, &name, wait, sleep).await,
        Err(problem) => Lock::Unavailable(problem),
    }
}

/// Polls the lease `name` until it is gone (released, or expired with its holder) or `wait`
/// has passed.
async fn until_released(
    store: &RedisStore,
    name: &str,
    wait: Duration,
    sleep: &SharedAsyncSleep,
) -> Lock {
    let mut waited = Duration::ZERO;
    let mut pause = FIRST_PAUSE;
    while waited < wait {
        let pause_now = pause.min(wait - waited);
        sleep.sleep(pause_now).await;
        waited += pause_now;
        pause = (pause * 2).min(LONGEST_PAUSE);
        match store
            .command::<u64>(redis::cmd("EXISTS").arg(name).clone())
            .await
        {
            Ok(0) => return Lock::Released { waited },
            Ok(_) => {}
            Err(problem) => return Lock::Unavailable(problem),
        }
    }
    Lock::GaveUp
}

/// A held lease: released by its holder once the entry is written, or when dropped.
struct Lease {
    connection: Option<redis::aio::ConnectionManager>,
    name: String,
    token: String,
    sleep: SharedAsyncSleep,
    timeout: Duration,
}

impl Lease {
    /// Lets go of the lease if it still holds this holder's token; bounded by the command
    /// timeout (a lease not released expires by itself).
    fn releasing(&mut self) -> Option<BoxFuture<'static, ()>> {
        let mut connection = self.connection.take()?;
        let (name, token) = (
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.token),
        );
        let (sleep, timeout) = (self.sleep.clone(), self.timeout);
        Some(Box::pin(async move {
            let release = redis::Script::new(RELEASE);
            let releasing = async move {
                release
                    .key(&name)
                    .arg(&token)
                    .invoke_async::<i64>(&mut connection)
                    .await
            };
            let _ = Timeout::new(releasing, sleep.sleep(timeout)).await;
        }))
    }
}

impl LockGuard for Lease {
    fn release(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        self.releasing()
            .unwrap_or_else(|| Box::pin(std::future::ready(())))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Not released by its holder (a failed fetch, a cancelled refresh): released in the
        // background if there is a runtime to do it on, else it expires by itself.
        if let (Ok(runtime), Some(releasing)) =
            (tokio::runtime::Handle::try_current(), self.releasing())
        {
            runtime.spawn(releasing);
        }
    }
}

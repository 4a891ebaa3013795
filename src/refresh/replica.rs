//! Per-thread replicas of the cached credentials, so that threads handing out the same session
//! do not contend on one reference count.
//!
//! `Credentials` is an `Arc` inside: every clone increments one shared counter, and with several
//! threads cloning the same session that counter's cache line bounces between cores (on the
//! reference machine a contended clone costs three times an uncontended one). Each thread
//! therefore keeps its own deep copy of each session it hands out — a separate `Arc` that only
//! it touches — tagged with the engine's id and the session's generation; a new session or an
//! invalidation bumps the generation and the stale copy is replaced at the next call.

use aws_credential_types::Credentials;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many engines' replicas one thread keeps (a process rarely has more hot providers; the
/// rest simply take the shared path).
const SLOTS: usize = 8;

/// With every slot taken by other engines, a slot is given up only on one miss in this many,
/// so a thread cycling through more providers than slots does not copy credentials on every
/// call.
const EVICT_ONE_MISS_IN: usize = 64;

/// A unique id per engine, so that a new engine at a freed address never matches old replicas.
pub(crate) fn next_engine_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One thread's copy of one engine's session.
struct Replica {
    engine: u64,
    generation: u64,
    refresh_at_nanos: u64,
    credentials: Credentials,
}

thread_local! {
    static REPLICAS: RefCell<([Option<Replica>; SLOTS], usize)> =
        const { RefCell::new(([const { None }; SLOTS], 0)) };
}

/// This thread's copy of the session of `engine` at `generation`, if it has one and `now` is
/// before its refresh point.
#[inline]
pub(crate) fn fresh(engine: u64, generation: u64, now_nanos: u64) -> Option<Credentials> {
    REPLICAS
        .try_with(|cell| {
            let replicas = cell.try_borrow().ok()?;
            replicas.0.iter().flatten().find_map(|r| {
                (r.engine == engine && r.generation == generation && now_nanos < r.refresh_at_nanos)
                    .then(|| r.credentials.clone())
            })
        })
        .ok()
        .flatten()
}

/// Keeps a private copy of `credentials` for this thread.
pub(crate) fn keep(engine: u64, generation: u64, refresh_at_nanos: u64, credentials: &Credentials) {
    let _ = REPLICAS.try_with(|cell| {
        let Ok(mut replicas) = cell.try_borrow_mut() else {
            return;
        };
        let (slots, misses) = &mut *replicas;
        let index = match slots
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.engine == engine))
            .or_else(|| slots.iter().position(Option::is_none))
        {
            Some(index) => index,
            None => {
                *misses = misses.wrapping_add(1);
                if *misses % EVICT_ONE_MISS_IN != 0 {
                    return;
                }
                (*misses / EVICT_ONE_MISS_IN) % SLOTS
            }
        };
        let copy = deep_copy(credentials);
        slots[index] = Some(Replica {
            engine,
            generation,
            refresh_at_nanos,
            credentials: copy,
        });
    });
}

/// The same credentials in a new allocation (a clone would share the reference count).
fn deep_copy(credentials: &Credentials) -> Credentials {
    let mut builder = Credentials::builder()
        .access_key_id(credentials.access_key_id())
        .secret_access_key(credentials.secret_access_key())
        .provider_name(crate::sts_call::PROVIDER_NAME);
    builder.set_session_token(credentials.session_token().map(str::to_owned));
    builder.set_expiry(credentials.expiry());
    builder.set_account_id(credentials.account_id().cloned());
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(key: &str) -> Credentials {
        Credentials::new(
            key,
            "secret",
            Some("token".into()),
            None,
            crate::sts_call::PROVIDER_NAME,
        )
    }

    #[test]
    fn a_replica_serves_only_its_engine_generation_and_window() {
        let engine = next_engine_id();
        keep(engine, 3, 1_000, &creds("A"));
        assert_eq!(fresh(engine, 3, 999).unwrap().access_key_id(), "A");
        assert!(
            fresh(engine, 4, 999).is_none(),
            "a newer generation makes it stale"
        );
        assert!(
            fresh(engine, 3, 1_000).is_none(),
            "not at or past the refresh point"
        );
        assert!(
            fresh(next_engine_id(), 3, 999).is_none(),
            "another engine's"
        );
        keep(engine, 4, 2_000, &creds("B"));
        assert_eq!(fresh(engine, 4, 1_500).unwrap().access_key_id(), "B");
    }

    #[test]
    fn a_replica_is_a_separate_allocation_with_the_same_values() {
        let original = creds("C");
        let engine = next_engine_id();
        keep(engine, 0, 10, &original);
        let copy = fresh(engine, 0, 1).unwrap();
        assert_eq!(copy, original);
    }

    #[test]
    fn more_engines_than_slots_copy_rarely() {
        let engines: Vec<u64> = (0..SLOTS * 2).map(|_| next_engine_id()).collect();
        let mut kept = 0;
        for _ in 0..EVICT_ONE_MISS_IN * 2 {
            for &engine in &engines {
                if fresh(engine, 0, 1).is_none() {
                    keep(engine, 0, 10, &creds("D"));
                    if fresh(engine, 0, 1).is_some() {
                        kept += 1;
                    }
                }
            }
        }
        // The first SLOTS fill free slots; afterwards one copy per EVICT_ONE_MISS_IN misses
        // (about SLOTS * 128 / 64 here), where replacing on every miss would copy ~1,000 times.
        assert!(kept <= SLOTS + 2 * SLOTS * 2, "{kept} copies");
        assert!(
            kept > SLOTS,
            "slots are still handed over now and then: {kept}"
        );
    }
}

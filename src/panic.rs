//! Panics in the parts a provider calls — the base credentials provider, the MFA token
//! provider, the HTTP client, the refresh listener — are contained: they become failures with
//! backoff (or, for the listener, a counted warning) instead of unwinding through the refresh,
//! which would leave it "abandoned" with no backoff, and a background task that dies and is
//! started again by every call.
//!
//! The panic's message is not kept: it comes from code this crate does not control and may
//! hold anything, secrets included. The panic hook (standard error by default) has printed it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A panic was caught; its payload was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Panicked;

/// Runs `future`, turning a panic in any of its polls into `Err(Panicked)`.
///
/// Unwind safety: after a panic the future is dropped and never polled again, and the state
/// it shares (the engine's) is only changed under short critical sections that do not call
/// out, so no broken invariant can be observed.
pub(crate) fn catch_panic<F: Future>(future: F) -> CatchPanic<F> {
    CatchPanic {
        future: Some(Box::pin(future)),
    }
}

/// Calls `f`, turning a panic into `Err(Panicked)`.
pub(crate) fn catch_panic_now<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_payload| Panicked)
}

/// The future of [`catch_panic`].
pub(crate) struct CatchPanic<F> {
    /// Boxed so that it can be pinned without a projection; `None` once it panicked.
    future: Option<Pin<Box<F>>>,
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(Err(Panicked));
        };
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_payload) => {
                self.future = None;
                Poll::Ready(Err(Panicked))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_any_poll_is_caught() {
        assert_eq!(catch_panic(async { 7 }).await, Ok(7));
        let panics_later = async {
            tokio::task::yield_now().await;
            panic!("in the second poll");
        };
        assert_eq!(catch_panic(panics_later).await, Err::<(), _>(Panicked));
        assert_eq!(catch_panic_now(|| 1), Ok(1));
        assert_eq!(catch_panic_now(|| panic!("now")), Err::<(), _>(Panicked));
    }
}

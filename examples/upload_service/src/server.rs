//! The upload service's connections: HTTP/1.1 on hyper with the limits `axum::serve` does not
//! set. `axum::serve` runs hyper without a timer, so it has no header-read timeout: a client
//! that sends half a request line (or nothing) holds its connection, and its memory, forever,
//! and enough of them exhaust the process's file descriptors. Here every connection must send
//! a request's headers within [`Limits::header_read_timeout`] (also the longest an idle
//! keep-alive connection is kept), and at most [`Limits::max_connections`] are served at once.

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

/// How much of the server a client may hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a client may take to send a request's headers, counted from when the server
    /// is ready to read them (a new connection, or the end of the previous response on a
    /// keep-alive one); then the connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// Connections served at once. Beyond it the service stops accepting: new connections wait
    /// in the kernel's listen backlog until a served one closes (a burst is delayed, not
    /// refused; a client that gives up waiting sees a connect or read timeout).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

impl Limits {
    /// Checks the limits, with an error that names the flag of the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.header_read_timeout.is_zero() {
            return Err("--header-read-timeout-seconds: must be at least 1".into());
        }
        if self.max_connections == 0 {
            return Err("--max-connections: must be at least 1".into());
        }
        Ok(())
    }
}

/// The two ends of the connection a request came in on, in every request's extensions: the
/// router checks the `Host` header against the local address (see `app::router`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo {
    /// The address the client connected to (the listening port, on the interface it used).
    pub local: SocketAddr,
    /// The client's address (a proxy's, behind one).
    pub peer: SocketAddr,
}

/// Serves `router` on `listener` until `shutdown` completes; then closes the listener (new
/// connections are refused), lets every open connection finish the request it is serving
/// (idle ones close at once), and returns once all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first, then `accept`: beyond the cap, connections stay in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(local) = stream.local_addr() else {
            continue; // the client is gone already
        };
        let info = ConnectionInfo { local, peer };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(info);
            router.clone().oneshot(request)
        });
        let served = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(finish_connection(served, info, slot));
    }
    drop(listener);
    connections.shutdown().await;
}

/// Runs one connection to its end, then frees its slot. A connection closed for a header-read
/// timeout or a malformed request ends with an error: logged at debug, as slow or broken
/// clients are routine on a public port and must not flood the log.
async fn finish_connection(
    served: impl Future<Output = Result<(), hyper::Error>>,
    info: ConnectionInfo,
    slot: OwnedSemaphorePermit,
) {
    if let Err(error) = served.await {
        let reason = if error.is_timeout() {
            "headers not received in time"
        } else {
            "connection error"
        };
        tracing::debug!(peer = %info.peer, error = %error, "connection closed: {reason}");
    }
    drop(slot);
}

/// After a failed `accept`: a client that reset its connection in the backlog is routine;
/// anything else (out of file descriptors) is logged and waited out for a second, instead of
/// spinning on an error that repeats until some connection closes.
async fn pause_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept connections; trying again in 1 s");
    TokioSleep::new().sleep(Duration::from_secs(1)).await;
}

//! The credential server's connections: HTTP/1.1 on a loopback listener, with every wait
//! bounded — the time to send a request's headers (and to keep an idle connection), the size
//! of those headers, the connections held at once — so that no local process can hold it.
//!
//! At the connection cap, a new connection takes the slot of the oldest connection that has
//! not sent a whole request yet, else of the oldest idle one (never of one being answered): 500
//! connections that never finish their headers cannot keep a real client out, which the header
//! timeout alone would (for as long as it lasts, over and over), and clients that keep their
//! connections alive between requests keep them while there are such connections to close.
//!
//! The cap is kept below the process's open-files limit (its soft value raised first where the
//! hard one allows): with `ulimit -n 128`, or macOS's default 256, connections would otherwise
//! run the process out of descriptors, and `accept` would fail before the cap is reached. If
//! `accept` fails all the same, the server closes a connection to make room and waits a little
//! longer each time, instead of trying again at once (which would spin at full CPU).

use crate::container_endpoint::Endpoint;
use aws_smithy_async::rt::sleep::{AsyncSleep as _, TokioSleep};
use aws_smithy_async::time::TimeSource as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// The server's bounds.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Connections held at once.
    pub(crate) max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// connection is kept.
    pub(crate) header_read_timeout: Duration,
    /// The largest request head read (hyper's read buffer; at least 8 KiB).
    pub(crate) max_header_bytes: usize,
}

/// Connections held at once by default: 256 (SDK clients keep one or two each; a build with a
/// hundred processes asking at once fits).
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How long a client may take over a request's headers by default: 5 s (a local client sends
/// them at once).
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest request head by default: 16 KiB (an SDK's is a few hundred bytes).
pub(crate) const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// Where a connection is: what decides which one makes room.
const NEW: u8 = 0;
const ANSWERING: u8 = 1;
const IDLE: u8 = 2;
/// Chosen to make room: its task is being aborted.
const EVICTED: u8 = 3;

/// One connection being served.
struct Connection {
    id: u64,
    /// [`NEW`] (no whole request yet), [`ANSWERING`] (never evicted) or [`IDLE`].
    state: Arc<AtomicU8>,
    abort: AbortHandle,
}

/// The connections held, oldest first.
#[derive(Default)]
struct Connections {
    held: Mutex<VecDeque<Connection>>,
    next_id: AtomicU64,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Connection>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes room for one more: below the cap nothing to do; at it, the oldest connection
    /// without a whole request yet is closed, else the oldest idle one. `false` when every one
    /// is answering a request. A connection is taken only by moving it from its state to
    /// [`EVICTED`] (a compare-and-swap), so one that starts answering meanwhile is left alone
    /// (whatever runtime the tasks run on).
    fn make_room(&self, cap: usize) -> bool {
        if self.lock().len() < cap {
            return true;
        }
        self.evict_one()
    }

    /// Closes the oldest connection without a whole request yet, else the oldest idle one;
    /// `false` when every one is answering a request.
    fn evict_one(&self) -> bool {
        let evicted = {
            let mut held = self.lock();
            let take = |state: u8| {
                move |c: &Connection| {
                    c.state
                        .compare_exchange(state, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                }
            };
            let victim = held
                .iter()
                .position(take(NEW))
                .or_else(|| held.iter().position(take(IDLE)));
            match victim.and_then(|index| held.remove(index)) {
                Some(evicted) => evicted,
                None => return false,
            }
        };
        evicted.abort.abort();
        tracing::debug!("closed an idle or unfinished connection to make room");
        true
    }

    fn remove(&self, id: u64) {
        self.lock().retain(|c| c.id != id);
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Connections::default());
    let mut shutdown = std::pin::pin!(shutdown);
    // The pause after the last failed `accept`; `None` after a success.
    let mut backoff: Option<Duration> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = None;
                accepted
            }
            // A client that reset before it was accepted: nothing to make room for.
            Err(error) if !out_of_resources(&error) => continue,
            Err(error) => {
                // Out of file descriptors, say: close a connection and wait before the next
                // try (a bounded, growing pause), rather than spin.
                let pause = accept_backoff(&mut backoff, &error);
                connections.evict_one();
                tokio::select! {
                    () = TokioSleep::new().sleep(pause) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        if !connections.make_room(limits.max_connections) {
            tracing::warn!(%peer, "every connection is answering a request: refused one more");
            drop(stream);
            continue;
        }
        let id = connections.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(AtomicU8::new(NEW));
        let task = tokio::spawn(serve_connection(
            stream,
            endpoint.clone(),
            limits.clone(),
            state.clone(),
            connections.clone(),
            id,
        ));
        connections.lock().push_back(Connection {
            id,
            state,
            abort: task.abort_handle(),
        });
    }
    for connection in connections.lock().drain(..) {
        connection.abort.abort();
    }
}

/// Whether a failed `accept` is the process or the system running out of something (file
/// descriptors, buffers, memory): then a connection is closed to make room, and the next try
/// waits.
fn out_of_resources(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let code = error.raw_os_error();
        [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
            .iter()
            .any(|errno| Some(errno.raw_os_error()) == code)
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        true
    }
}

/// The first pause after a failed `accept`, and the longest.
const FIRST_ACCEPT_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// The pause before the next `accept` after `error`: doubled each time in a row, from 5 ms up
/// to a second. The first failure of a run is logged; the others are not (one line per run,
/// not one per try).
fn accept_backoff(backoff: &mut Option<Duration>, error: &std::io::Error) -> Duration {
    let pause = match *backoff {
        None => {
            tracing::warn!(%error, "cannot accept a connection; closing one and trying again");
            FIRST_ACCEPT_PAUSE
        }
        Some(last) => (last * 2).min(LONGEST_ACCEPT_PAUSE),
    };
    *backoff = Some(pause);
    pause
}

/// Descriptors the process keeps beside its connections: standard streams, the runtime's,
/// the listener, connections to STS, cache and token files.
const RESERVED_DESCRIPTORS: u64 = 32;

/// The connection cap for this process: `wanted`, or less to stay under the open-files limit
/// (its soft value is raised towards the hard one first, where that is lower than needed).
pub(crate) fn cap_for_this_process(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let needed = wanted as u64 + RESERVED_DESCRIPTORS;
        let limit = getrlimit(Resource::Nofile);
        if let Some(current) = limit.current.filter(|current| *current < needed) {
            let raised = limit.maximum.map_or(needed, |maximum| maximum.min(needed));
            if raised > current {
                let _ = setrlimit(
                    Resource::Nofile,
                    Rlimit {
                        current: Some(raised),
                        maximum: limit.maximum,
                    },
                );
            }
        }
        cap_under(wanted, getrlimit(Resource::Nofile).current)
    }
    #[cfg(not(unix))]
    wanted
}

/// `wanted`, or what fits under a soft limit of `open_files` descriptors (at least 1).
fn cap_under(wanted: usize, open_files: Option<u64>) -> usize {
    match open_files {
        None => wanted,
        Some(limit) => {
            let room = limit.saturating_sub(RESERVED_DESCRIPTORS).max(1);
            wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    endpoint: Arc<Endpoint>,
    limits: Limits,
    state: Arc<AtomicU8>,
    connections: Arc<Connections>,
    id: u64,
) {
    let _release = Release(connections, id);
    let peer = stream.peer_addr().ok();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let (endpoint, state) = (endpoint.clone(), state.clone());
        async move {
            // Not once chosen to make room: its abort is on the way.
            for from in [NEW, IDLE] {
                let _ =
                    state.compare_exchange(from, ANSWERING, Ordering::AcqRel, Ordering::Acquire);
            }
            let clock = aws_smithy_async::time::SystemTimeSource::new();
            let started = clock.now();
            let (parts, _body) = request.into_parts();
            let (response, outcome) = endpoint
                .answer(&parts.method, &parts.uri, &parts.headers)
                .await;
            // The path only: a query could hold anything.
            tracing::info!(
                method = %parts.method,
                path = parts.uri.path(),
                peer = peer.map(|p| p.to_string()),
                status = response.status().as_u16(),
                outcome,
                took_us = clock.now().duration_since(started).unwrap_or_default().as_micros() as u64,
                "request"
            );
            let _ = state.compare_exchange(ANSWERING, IDLE, Ordering::AcqRel, Ordering::Acquire);
            Ok::<_, Infallible>(response)
        }
    });
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Gives a connection's slot back however its task ends: closed, aborted, or a panic while
/// answering (a connection stuck as answering could never be evicted otherwise).
struct Release(Arc<Connections>, u64);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections in the given states, oldest first, each a task that never ends.
    fn held(states: &[u8]) -> (Connections, Vec<tokio::task::JoinHandle<()>>) {
        let connections = Connections::default();
        let mut tasks = Vec::new();
        for (id, state) in states.iter().enumerate() {
            let task = tokio::spawn(std::future::pending::<()>());
            connections.lock().push_back(Connection {
                id: id as u64,
                state: Arc::new(AtomicU8::new(*state)),
                abort: task.abort_handle(),
            });
            tasks.push(task);
        }
        (connections, tasks)
    }

    fn ids(connections: &Connections) -> Vec<u64> {
        connections.lock().iter().map(|c| c.id).collect()
    }

    #[test]
    fn the_cap_fits_under_the_open_files_limit() {
        assert_eq!(cap_under(256, None), 256, "no limit");
        assert_eq!(cap_under(256, Some(1024)), 256);
        assert_eq!(cap_under(256, Some(64)), 32, "ulimit -n 64");
        assert_eq!(cap_under(256, Some(256)), 224, "macOS's default");
        assert_eq!(cap_under(256, Some(10)), 1, "at least one");
    }

    #[test]
    fn only_running_out_of_something_makes_room() {
        use rustix::io::Errno;
        let errno = |e: Errno| std::io::Error::from_raw_os_error(e.raw_os_error());
        assert!(out_of_resources(&errno(Errno::MFILE)));
        assert!(out_of_resources(&errno(Errno::NFILE)));
        assert!(!out_of_resources(&errno(Errno::CONNABORTED)));
        assert!(!out_of_resources(&std::io::Error::other("else")));
    }

    #[test]
    fn failed_accepts_back_off_from_5_ms_to_a_second() {
        let error = std::io::Error::other("too many open files");
        let mut backoff = None;
        let pauses: Vec<u64> = (0..10)
            .map(|_| accept_backoff(&mut backoff, &error).as_millis() as u64)
            .collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }

    #[tokio::test]
    async fn room_is_made_from_unfinished_connections_first_then_idle_never_answering() {
        let (connections, tasks) = held(&[IDLE, ANSWERING, NEW, IDLE, NEW]);
        assert!(connections.make_room(6), "below the cap: nothing closed");
        assert_eq!(ids(&connections), [0, 1, 2, 3, 4]);
        assert!(connections.make_room(5));
        assert_eq!(
            ids(&connections),
            [0, 1, 3, 4],
            "the oldest without a request"
        );
        assert!(connections.make_room(4));
        assert_eq!(ids(&connections), [0, 1, 3]);
        assert!(connections.make_room(3));
        assert_eq!(ids(&connections), [1, 3], "then the oldest idle one");
        assert!(connections.make_room(2));
        assert_eq!(ids(&connections), [1]);
        assert!(
            !connections.make_room(1),
            "one answering a request is never closed"
        );
        assert_eq!(ids(&connections), [1]);
        for (id, task) in tasks.into_iter().enumerate() {
            if id == 1 {
                assert!(!task.is_finished(), "the answering connection runs on");
                task.abort();
            } else {
                let ended = tokio::time::timeout(Duration::from_secs(5), task)
                    .await
                    .unwrap();
                assert!(
                    ended.unwrap_err().is_cancelled(),
                    "connection {id} was closed"
                );
            }
        }
    }
}

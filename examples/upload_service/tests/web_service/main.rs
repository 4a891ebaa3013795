//! The upload service (`examples/upload_service`): over HTTP in-process and as the built
//! binary, and its page in a real browser, against the local server (see `support::moto`);
//! what it refuses and hides (`security`), and how much of it one client can hold (`limits`).

// The library's test support: the local server's fixtures, the fault proxy.
use test_support as support;

mod api;
mod browser;
mod fleet;
mod limits;
mod metrics;
mod security;
mod service;
mod users;

//! The upload service example (`examples/upload_service`): over HTTP in-process and as the built
//! binary, and its page in a real browser, against the local server (see `support::moto`).

#[path = "../support/mod.rs"]
mod support;

mod api;
mod browser;
mod service;

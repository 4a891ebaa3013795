//! The upload service as a library: its HTTP application ([`app`]: routes, checks, S3 calls
//! on one `ChainableTemporaryCredentials`) and its server ([`server`]: hyper with a
//! header-read timeout and a connection cap), which the binary (`main.rs`) wires from its
//! settings ([`config`]) and the tests serve in-process. With `--users`, [`users`] reads who
//! may call (bearer tokens) and [`access`] gives each user a scoped session under its prefix.
//! With `--metrics-bind`, [`metrics`] serves the credentials' and the S3 client's metrics.
#![forbid(unsafe_code)]

pub mod access;
pub mod app;
pub mod config;
pub mod metrics;
pub mod server;
pub mod users;

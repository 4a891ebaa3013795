//! Caching and refreshing, independent of how a session is fetched.

pub(crate) mod backoff;
pub(crate) mod engine;
pub mod schedule;

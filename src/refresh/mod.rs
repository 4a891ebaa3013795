//! Caching and refreshing, independent of how a session is fetched.

pub(crate) mod attempt;
pub(crate) mod background;
pub(crate) mod backoff;
pub(crate) mod engine;
pub(crate) mod replica;
pub mod schedule;

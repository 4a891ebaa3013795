//! The boxed future the crate's object-safe traits return (a fetcher's session, a store's
//! operations): one alias, in a file of its own so that the modules using it depend on it
//! and not on each other.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what the crate's object-safe traits return.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

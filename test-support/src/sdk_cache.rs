//! A hit in the SDK's identity cache (`IdentityCache::lazy()`, what every SDK client puts in
//! front of its credentials provider), holding given credentials: the baseline our hits are
//! measured against.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime_api::client::identity::{
    Identity, ResolveCachedIdentity, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::Arc;

/// A function that resolves `credentials` through a fresh SDK identity cache: the first call
/// loads, every later one is a hit. Call it inside a Tokio runtime (the cache starts a timer
/// on every call, hits included).
pub fn hit(credentials: Credentials) -> impl Fn() -> Identity + Clone + Send + Sync + 'static {
    let cache = IdentityCache::lazy().build();
    let components = Arc::new(
        RuntimeComponentsBuilder::for_tests()
            .with_time_source(Some(SharedTimeSource::new(SystemTimeSource::new())))
            .with_sleep_impl(Some(SharedAsyncSleep::new(TokioSleep::new())))
            .build()
            .unwrap(),
    );
    let resolver = SharedIdentityResolver::new(SharedCredentialsProvider::new(credentials));
    let bag = Arc::new(ConfigBag::base());
    move || {
        // Ready without waiting: the provider answers at once, and a hit never waits.
        block(cache.resolve_cached_identity(resolver.clone(), &components, &bag)).unwrap()
    }
}

/// Polls `future` to completion on this thread (it is ready at once or nearly).
pub fn block<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

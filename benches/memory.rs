//! Memory: bytes of a provider at rest (`size_of` plus what `build()` leaves allocated), of its
//! STS client (created at the first STS call) and of one cached session (what a refresh leaves
//! allocated), counted by a global allocator.
//!
//! `cargo bench --bench memory`

use test_support::bench as support;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::SystemTimeSource;
use chainable_credentials::ChainableTemporaryCredentials;
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;
use test_support::heap::live;

#[global_allocator]
static ALLOCATOR: test_support::heap::Counting = test_support::heap::Counting;

fn memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        Duration::ZERO,
    );
    let build = || {
        ChainableTemporaryCredentials::builder()
            .base_credentials(support::base_credentials())
            .role_arn(support::ROLE)
            .region(aws_types::region::Region::new("us-east-1"))
            .http_client(aws.clone())
            .build()
            .unwrap()
    };
    // Warm up one-time allocations (lazy statics, the runtime) first.
    let warmup = build();
    runtime.block_on(warmup.provide_credentials()).unwrap();
    drop(warmup);

    let before_build = live();
    let provider = build();
    let at_rest = live() - before_build;
    runtime.block_on(provider.provide_credentials()).unwrap();
    let first = live();
    // Dropping the session frees exactly what it held.
    provider.invalidate();
    let session = first - live();
    let client = first - before_build - at_rest - session;
    // A second session replaces the first: what stays is one session's worth.
    runtime.block_on(provider.provide_credentials()).unwrap();
    let steady = live();
    let clone_cost = {
        let before = live();
        let clone = provider.clone();
        let cost = live() - before;
        drop(clone);
        cost
    };
    support::report(
        "memory",
        &format!(
            "| what | bytes |\n|---|---|\n\
             | `size_of::<ChainableTemporaryCredentials>()` (each clone) | {} |\n\
             | heap left by `build()` (engine, parameters, STS configuration) | {at_rest} |\n\
             | the STS client, created at the first STS call | {client} |\n\
             | one cached session (credentials, schedule, bookkeeping) | {session} |\n\
             | change after replacing the session | {} |\n\
             | heap per extra clone | {clone_cost} |",
            std::mem::size_of::<ChainableTemporaryCredentials>(),
            steady - first,
        ),
    );
    let _ = c;
}

criterion_group!(benches, memory);
criterion_main!(benches);

//! The `chainable-credentials` command run as a separate process, as the AWS CLI, boto3 and
//! aws-config run a `credential_process`, against the local server (see `support::moto`).

use test_support as support;

/// The binary under test, built by cargo for this test run.
pub const BINARY: &str = env!("CARGO_BIN_EXE_chainable-credentials");

mod aws_cli;
mod container;
mod credential_process;
mod examples;
mod first_use;
mod profiles;
mod session_store;

//! The `chainable-credentials` command run as a separate process, as the AWS CLI, boto3 and
//! aws-config run a `credential_process`, against the local server (see `support::moto`).

#[path = "../support/mod.rs"]
mod support;

mod aws_cli;
mod container;
mod credential_process;
mod examples;
mod first_use;
mod profiles;

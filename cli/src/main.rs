//! `chainable-credentials`: temporary credentials from STS for the AWS CLI, the SDKs and shells
//! (see the crate's library, `chainable_credentials_cli`, for what each subcommand does).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    chainable_credentials_cli::run()
}

//! The processes the tests start, apart from the `AWS_*` variables of the shell that runs
//! them: a developer's profile, keys, region or endpoints would otherwise change what a test
//! sees, as they change what every AWS tool does. (In-process code reads an injected
//! environment instead: `Builder::env`.)

use std::ffi::OsString;

/// The names of the `AWS_*` variables in this process's environment, for the processes the
/// tests start to run without them: what those need, they are given explicitly.
#[expect(
    clippy::disallowed_methods,
    reason = "listing the process's own variables, to keep them from child processes"
)]
pub fn aws_variables() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("AWS_"))
        .collect()
}

/// A variable of this process's environment (the fixtures `scripts/test.sh` passes, the
/// browser's location), read as everything else reads the environment.
pub fn var(name: &str) -> Option<String> {
    aws_types::os_shim_internal::Env::real().get(name).ok()
}

/// The variables of this process's environment whose names start with `prefix`.
#[expect(
    clippy::disallowed_methods,
    reason = "listing the fixtures scripts/test.sh passed, by their prefix"
)]
pub fn vars_with_prefix(prefix: &str) -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with(prefix))
        .collect()
}

//! Tests and the processes they start, apart from the `AWS_*` variables of the shell that runs
//! them: a developer's profile, keys, region or endpoints would otherwise change what a test
//! sees, as they change what every AWS tool does.

use std::ffi::OsString;

/// Set in a test's own process to the name of the test that runs there.
const OWN_PROCESS: &str = "CC_TEST_IN_OWN_PROCESS";

/// The names of the `AWS_*` variables in this process's environment, for the processes the
/// tests start to run without them: what those need, they are given explicitly.
pub fn aws_variables() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("AWS_"))
        .collect()
}

/// For a test whose code reads the environment (the default credential chain, a profile's
/// settings, which `AWS_REGION` or `AWS_ENDPOINT_URL` override): whether to run the test's body
/// here. In the test's own process, yes. Otherwise the test `name` (its path in the test
/// binary) runs again in a child process of this binary whose `AWS_*` variables are exactly
/// `variables` (the local server's fixtures passed on, so it uses the same servers), and this
/// returns `false` once the child passed. Changing this process's environment instead would
/// race with the other tests of the binary reading it.
pub fn here_in_environment(name: &str, variables: &[(&str, &str)]) -> bool {
    if std::env::var_os(OWN_PROCESS).is_some_and(|running| running == name) {
        return true;
    }
    let mut command = std::process::Command::new(std::env::current_exe().expect("the test binary"));
    command.args([name, "--exact", "--test-threads=1"]);
    for var in aws_variables() {
        command.env_remove(var);
    }
    command
        .envs(super::moto::started_fixtures())
        .envs(variables.iter().copied())
        .env(OWN_PROCESS, name);
    let output = command.output().expect("run the test in its own process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // A misspelled name would run nothing and pass.
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

//! Running the `chainable-credentials` binary, the AWS CLI and boto3 as separate processes, each
//! test in its own home: config and credentials files, cache directory. The binary's path is
//! the command's tests' (`CARGO_BIN_EXE_chainable-credentials`), which they pass in.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

/// Longest a process may run: a hang (or a runaway recursion) fails the test instead.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// The Python virtual environment `scripts/test.sh` installs (moto, boto3, awscli).
pub fn venv_bin(program: &str) -> PathBuf {
    let venv = super::environment::var("CC_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo_root().join(".venv"));
    let path = venv.join("bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: run the tests with scripts/test.sh, which installs it",
        path.display()
    );
    path
}

/// A private home for one test: `~/.aws/config`, `~/.aws/credentials` and the cache directory.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        let home = Home { dir };
        home.write_config("");
        home.write_credentials(&[]);
        home
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join(".aws/config")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.dir.path().join(".aws/credentials")
    }

    /// Where the binary caches (`$XDG_CACHE_HOME/chainable-credentials`).
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("xdg-cache/chainable-credentials")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_file(), text).unwrap();
    }

    /// `[name]` sections with `aws_access_key_id` / `aws_secret_access_key`.
    pub fn write_credentials(&self, profiles: &[(&str, &str, &str)]) {
        let text: String = profiles
            .iter()
            .map(|(name, id, secret)| {
                format!("[{name}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n\n")
            })
            .collect();
        std::fs::write(self.credentials_file(), text).unwrap();
    }

    /// `program` with this home's files and cache, no `AWS_*` variable from the test's own
    /// environment (credentials, profile, region, endpoints), and no instance metadata lookups.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        // Removed first: the settings below are AWS_* variables too.
        for var in super::environment::aws_variables() {
            command.env_remove(var);
        }
        command
            .env_remove("CHAINABLE_CREDENTIALS_STACK")
            // The server's token files go under this home, not the user's runtime directory.
            .env_remove("XDG_RUNTIME_DIR")
            .env("HOME", self.dir.path())
            .env("XDG_CACHE_HOME", self.dir.path().join("xdg-cache"))
            .env("AWS_CONFIG_FILE", self.config_file())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_file())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .kill_on_drop(true);
        command
    }

    /// Runs `program` (the binary under test) with `args` and waits for it.
    pub async fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut command = self.command(program);
        command.args(args);
        finish(command).await
    }
}

/// Waits for a command (bounded by `PROCESS_TIMEOUT`) and returns what it printed.
pub async fn finish(mut command: tokio::process::Command) -> Output {
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::timeout(PROCESS_TIMEOUT, child.wait_with_output())
        .await
        .expect("the process finished in time")
        .unwrap()
}

/// Words single-quoted for `sh` (none of the tests' words contains a quote).
pub fn shell_words<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(|word| {
            assert!(
                !word.contains('\''),
                "{word:?} needs more than single quotes"
            );
            format!("'{word}'")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and parses the `credential_process` JSON on stdout.
pub fn credentials_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        stderr(output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", stdout(output)))
}

/// The credentials a `credential_process` JSON holds, to sign with.
pub fn printed_credentials(json: &serde_json::Value) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        json["AccessKeyId"].as_str().unwrap(),
        json["SecretAccessKey"].as_str().unwrap(),
        json["SessionToken"].as_str().map(str::to_owned),
        None,
        "printed",
    )
}

/// The JavaScript SDK v3 packages (`node_modules`, for `NODE_PATH`), installed by
/// `cli/scripts/node.sh install` on first use (idempotent; `scripts/test.sh` installs them first).
pub fn node_modules() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let root = super::repo_root();
            let installed = std::process::Command::new("bash")
                .arg(root.join("cli/scripts/node.sh"))
                .arg("install")
                .status()
                .expect("run scripts/node.sh install");
            assert!(installed.success(), "scripts/node.sh install failed");
            let dir = super::environment::var("CC_NODE_DIR")
                .map_or_else(|| root.join(".node"), PathBuf::from);
            dir.join("node_modules")
        })
        .clone()
}

/// A test client program of the checkout's `tests/clients/`.
pub fn client(name: &str) -> PathBuf {
    super::repo_root().join("cli/tests/clients").join(name)
}

/// An example's binary, which `cargo test` builds beside the test binaries (and
/// `scripts/test.sh` with `cargo build --examples`, before nextest).
pub fn example_binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("the test binary");
    let path = deps
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target directory")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: build the examples (cargo test builds them; before nextest run `cargo build --features cli --examples`)",
        path.display()
    );
    path
}

//! The shared config and credentials files as an SDK started from this environment reads them,
//! and what in them would win over the container endpoint for a program that selects no
//! profile: every SDK's default chain reads the `default` profile's credentials (keys,
//! `credential_process`, SSO, a role) before it asks the endpoint `exec` and `serve` run.

use aws_types::os_shim_internal::Env;
use std::path::{Path, PathBuf};

/// The profile `exec` selects for COMMAND when `default` would win over the server: it exists
/// (an SDK refuses a profile that does not) and holds no credentials, so every SDK's chain
/// goes on to the container endpoint.
pub(crate) const EXEC_PROFILE: &str = "chainable-credentials-exec";

/// Keys of a profile that give credentials of their own.
const CREDENTIAL_KEYS: &[&str] = &[
    "aws_access_key_id",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "login_session",
    "role_arn",
    "web_identity_token_file",
];

/// Keys of `[default]` not copied into [`EXEC_PROFILE`]: everything that says where
/// credentials come from, or how a role is assumed. The rest (`region`, `output`, `ca_bundle`,
/// `endpoint_url`, `retry_mode`, `s3 =` and its sub-settings, ...) is COMMAND's as it was.
const NOT_COPIED_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "credential_process",
    "credential_source",
    "source_profile",
    "role_arn",
    "role_session_name",
    "external_id",
    "mfa_serial",
    "mfa_process",
    "duration_seconds",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
    "sso_region",
    "sso_registration_scopes",
    "login_session",
];

/// One of the two files.
#[derive(Clone)]
pub(crate) struct SharedFile {
    /// Where it is (`~/` expanded); `None` without HOME and without its variable.
    pub(crate) path: Option<PathBuf>,
    /// Its text: empty when it does not exist where no variable named it; `None` when a
    /// variable names it and it cannot be read (an SDK may still read it: assume anything).
    pub(crate) text: Option<String>,
}

impl std::fmt::Debug for SharedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The text may hold secret keys: only whether it was read.
        f.debug_struct("SharedFile")
            .field("path", &self.path)
            .field("read", &self.text.is_some())
            .finish()
    }
}

/// The config file and the credentials file.
#[derive(Debug, Clone)]
pub(crate) struct SharedFiles {
    pub(crate) config: SharedFile,
    pub(crate) credentials: SharedFile,
}

/// Where a profile's credentials were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) file: String,
    pub(crate) section: String,
    pub(crate) key: String,
}

impl SharedFiles {
    /// Reads both files as aws-config does: `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`
    /// (`~/` expanded), else `~/.aws/config` and `~/.aws/credentials`.
    pub(crate) fn read(env: &Env) -> SharedFiles {
        SharedFiles {
            config: read_one(env, "AWS_CONFIG_FILE", "config"),
            credentials: read_one(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        }
    }

    /// The `key = value` lines of profile `name` in both files: the config file's
    /// `[profile name]` (and `[default]` for `default`), then the credentials file's `[name]`.
    pub(crate) fn profile(&self, name: &str) -> Vec<(String, String)> {
        let config = self.config.text.as_deref().unwrap_or_default();
        let credentials = self.credentials.text.as_deref().unwrap_or_default();
        let mut keys = Vec::new();
        if name == "default" {
            keys.extend(section(config, "default"));
        }
        keys.extend(section(config, &format!("profile {name}")));
        keys.extend(section(credentials, name));
        keys
    }

    /// What gives the `default` profile credentials of its own, if anything does: the file,
    /// the section and the key. These come before the container endpoint in every SDK.
    pub(crate) fn default_credentials(&self) -> Option<Found> {
        let found = |file: &SharedFile, header: &str| {
            let keys = section(file.text.as_deref().unwrap_or_default(), header);
            let key = keys
                .into_iter()
                .map(|(key, _)| key)
                .find(|key| CREDENTIAL_KEYS.contains(&key.as_str()))?;
            Some(Found {
                file: shown(file.path.as_deref()),
                section: format!("[{header}]"),
                key,
            })
        };
        found(&self.credentials, "default")
            .or_else(|| found(&self.config, "default"))
            .or_else(|| found(&self.config, "profile default"))
    }

    /// Writes the config file COMMAND reads under `exec` when `default` would win: the
    /// user's config as it is (every other profile still there for `--profile`) with
    /// [`EXEC_PROFILE`] added — `[default]`'s settings without its credentials — into `dir`
    /// (private to the user). Returns its path.
    pub(crate) fn write_exec_config(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let mut text = self.config.text.clone().unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "\n# Added by chainable-credentials exec: the default profile's settings without\n\
             # its credentials, so that the SDKs go on to the container endpoint it serves.\n\
             [profile {EXEC_PROFILE}]\n"
        ));
        text.push_str(&default_settings(&text));
        let path = dir.join("config");
        crate::private_dir::write_private(&path, &text)?;
        Ok(path)
    }
}

/// The lines of the config file's `[default]` (or `[profile default]`) as they are written —
/// nested sub-settings and comments included — but those of [`NOT_COPIED_KEYS`] (and their
/// nested lines).
fn default_settings(config: &str) -> String {
    let mut kept = String::new();
    let mut inside = false;
    let mut skipping = false;
    for line in config.lines() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = header == "default" || header == "profile default";
            skipping = false;
            continue;
        }
        if !inside {
            continue;
        }
        let nested = line.starts_with([' ', '\t']) && !trimmed.is_empty();
        if !nested {
            let key = trimmed
                .split_once('=')
                .map(|(key, _)| key.trim().to_ascii_lowercase());
            skipping = key.is_some_and(|key| NOT_COPIED_KEYS.contains(&key.as_str()));
        }
        if !skipping && !trimmed.is_empty() {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// One file: its variable's path (`~/` expanded), else `default` under `~/.aws`.
fn read_one(env: &Env, variable: &str, default: &str) -> SharedFile {
    let home = env.get("HOME").ok();
    let named = env.get(variable).ok().filter(|path| !path.is_empty());
    let path = match &named {
        Some(path) => Some(PathBuf::from(match (path.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => format!("{home}/{rest}"),
            _ => path.clone(),
        })),
        None => home.map(|home| PathBuf::from(home).join(".aws").join(default)),
    };
    let text = match &path {
        None => Some(String::new()),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(_) if named.is_none() => Some(String::new()),
            Err(_) => None,
        },
    };
    SharedFile { path, text }
}

/// A path as the user would write it.
fn shown(path: Option<&Path>) -> String {
    path.map_or_else(|| "the shared file".to_owned(), |p| p.display().to_string())
}

/// The `key = value` lines of `[name]` in an INI text (keys lower-cased, values trimmed).
pub(crate) fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.split_whitespace().collect::<Vec<_>>().join(" ") == name;
            continue;
        }
        // An indented line continues the value above it (`s3 =` sub-settings): no key of its own.
        if !inside || trimmed.starts_with(['#', ';']) || line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=') {
            keys.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(config: &str, credentials: &str) -> SharedFiles {
        let file = |text: &str| SharedFile {
            path: Some(PathBuf::from("/home/u/.aws/f")),
            text: Some(text.to_owned()),
        };
        SharedFiles {
            config: file(config),
            credentials: file(credentials),
        }
    }

    #[test]
    fn the_default_profiles_own_credentials_are_found_in_either_file() {
        let found = files(
            "",
            "[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n",
        )
        .default_credentials()
        .unwrap();
        assert_eq!(
            (found.section.as_str(), found.key.as_str()),
            ("[default]", "aws_access_key_id")
        );
        for config in [
            "[default]\ncredential_process = get-keys\n",
            "[profile default]\nsso_session = corp\n",
            "[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
        ] {
            assert!(
                files(config, "").default_credentials().is_some(),
                "{config}"
            );
        }
        for nothing in [
            "[default]\nregion = eu-west-1\ns3 =\n  aws_access_key_id = not-a-key\n",
            "[profile other]\naws_access_key_id = AKID\n",
            "# [default]\n",
        ] {
            assert_eq!(files(nothing, "").default_credentials(), None, "{nothing}");
        }
    }

    #[test]
    fn the_exec_config_keeps_every_profile_and_adds_defaults_settings_without_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let shared = files(
            "[default]\nregion = eu-west-1\ncredential_process = get-keys\n  --flag\n\
             ca_bundle = /etc/corp.pem\nrole_arn = arn:aws:iam::1:role/r\n\
             s3 =\n  max_concurrent_requests = 4\n[profile dev]\nregion = eu-west-2",
            "",
        );
        let path = shared.write_exec_config(dir.path()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(section(&text, "profile dev").contains(&("region".into(), "eu-west-2".into())));
        assert!(text.contains(&format!("[profile {EXEC_PROFILE}]")));
        let exec = text
            .split(&format!("[profile {EXEC_PROFILE}]"))
            .nth(1)
            .unwrap();
        assert_eq!(
            exec.trim(),
            "region = eu-west-1\nca_bundle = /etc/corp.pem\ns3 =\n  max_concurrent_requests = 4"
        );
        let keys: Vec<String> = section(&text, &format!("profile {EXEC_PROFILE}"))
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, ["region", "ca_bundle", "s3"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}

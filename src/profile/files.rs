//! Reading the config and credentials files with aws-config's profile loader, and telling
//! which of the two a profile's key came from (for error messages).

use crate::error::BuildError;
use aws_config::profile::{Profile, ProfileSet};
use aws_runtime::env_config::file::{
    EnvConfigFileKind as ProfileFileKind, EnvConfigFiles as ProfileFiles,
};
use aws_types::os_shim_internal::{Env, Fs};
use std::borrow::Cow;
use std::path::PathBuf;

/// Where the two files are: given explicitly, else `AWS_CONFIG_FILE` and
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfilePaths {
    pub(crate) config: Option<PathBuf>,
    pub(crate) credentials: Option<PathBuf>,
}

/// The profile a builder reads with `build_from_profile`, and its files.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfileSelection {
    /// The profile whose role to assume; without it (and without `source`) `AWS_PROFILE`,
    /// else `default`.
    pub(crate) name: Option<String>,
    /// The profile whose credentials assume the builder's own role.
    pub(crate) source: Option<String>,
    pub(crate) paths: ProfilePaths,
}

impl ProfilePaths {
    /// The files as aws-config's providers take them (the same the chain was read from).
    pub(crate) fn profile_files(&self) -> ProfileFiles {
        let mut files = ProfileFiles::builder()
            .include_default_config_file(self.config.is_none())
            .include_default_credentials_file(self.credentials.is_none());
        if let Some(path) = &self.config {
            files = files.with_file(ProfileFileKind::Config, path);
        }
        if let Some(path) = &self.credentials {
            files = files.with_file(ProfileFileKind::Credentials, path);
        }
        files.build()
    }

    /// Only one of the two files.
    fn only(&self, kind: ProfileFileKind) -> ProfileFiles {
        let explicit = match kind {
            ProfileFileKind::Config => &self.config,
            ProfileFileKind::Credentials => &self.credentials,
        };
        let builder = ProfileFiles::builder();
        match (explicit, kind) {
            (Some(path), kind) => builder.with_file(kind, path),
            (None, ProfileFileKind::Config) => builder.include_default_config_file(true),
            (None, ProfileFileKind::Credentials) => builder.include_default_credentials_file(true),
        }
        .build()
    }

    /// How to name a file in a message: its path as given or configured.
    fn shown(&self, env: &Env, kind: ProfileFileKind) -> String {
        let (explicit, var, default) = match kind {
            ProfileFileKind::Config => (&self.config, "AWS_CONFIG_FILE", "~/.aws/config"),
            ProfileFileKind::Credentials => (
                &self.credentials,
                "AWS_SHARED_CREDENTIALS_FILE",
                "~/.aws/credentials",
            ),
        };
        match explicit {
            Some(path) => path.display().to_string(),
            None => match env.get(var) {
                Ok(path) => format!("{path} ({var})"),
                Err(_) => default.to_owned(),
            },
        }
    }
}

/// The profiles of both files, merged as aws-config merges them, and those of each file alone.
pub(crate) struct LoadedProfiles {
    merged: ProfileSet,
    config_file: ProfileSet,
    credentials_file: ProfileSet,
    config_shown: String,
    credentials_shown: String,
}

impl LoadedProfiles {
    /// Reads the files from `fs`, their locations and `AWS_PROFILE` from `env`. `selected` is
    /// the profile to start from; without it `AWS_PROFILE`, else `default`.
    pub(crate) async fn load(
        fs: &Fs,
        env: &Env,
        paths: &ProfilePaths,
        selected: Option<&str>,
    ) -> Result<Self, BuildError> {
        let config_shown = paths.shown(env, ProfileFileKind::Config);
        let credentials_shown = paths.shown(env, ProfileFileKind::Credentials);
        let named = selected
            .map(str::to_owned)
            .or_else(|| env.get("AWS_PROFILE").ok())
            .unwrap_or_else(|| "default".to_owned());
        let files_error = |problem: String| BuildError::Profile {
            profile: named.clone(),
            key: None,
            file: format!("{config_shown} or {credentials_shown}"),
            problem,
        };
        let selected = selected.map(|s| Cow::Owned(s.to_owned()));
        let load = |files: ProfileFiles| {
            let selected = selected.clone();
            async move {
                aws_config::profile::load(fs, env, &files, selected)
                    .await
                    .map_err(|e| files_error(format!("cannot be read: {e}")))
            }
        };
        let merged = load(paths.profile_files()).await?;
        let config_file = load(paths.only(ProfileFileKind::Config)).await?;
        let credentials_file = load(paths.only(ProfileFileKind::Credentials)).await?;
        Ok(LoadedProfiles {
            merged,
            config_file,
            credentials_file,
            config_shown,
            credentials_shown,
        })
    }

    /// Profiles given as file contents, for unit tests.
    #[cfg(test)]
    pub(crate) async fn from_contents(
        config: &str,
        credentials: &str,
        selected: &str,
    ) -> Result<Self, BuildError> {
        let fs = Fs::from_slice(&[("/config", config), ("/credentials", credentials)]);
        let paths = ProfilePaths {
            config: Some("/config".into()),
            credentials: Some("/credentials".into()),
        };
        Self::load(&fs, &Env::from_slice(&[]), &paths, Some(selected)).await
    }

    /// The profile to start from.
    pub(crate) fn selected(&self) -> &str {
        self.merged.selected_profile()
    }

    /// Both files' profiles, merged as aws-config merges them.
    pub(crate) fn merged(&self) -> &ProfileSet {
        &self.merged
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Profile> {
        self.merged.get_profile(name)
    }

    /// The value of `key` in the selected profile.
    pub(crate) fn selected_value(&self, key: &str) -> Option<&str> {
        self.get(self.selected()).and_then(|p| p.get(key))
    }

    /// A build error about a value `profile` gave: the same rule, naming the profile's key
    /// (`duration_seconds` for `duration`, say) and the file instead of the builder's field.
    pub(crate) fn value_error(&self, profile: &str, error: BuildError) -> BuildError {
        let key = error.field().and_then(super::key_of);
        match key {
            Some(key) => self.error(profile, Some(key), error.rule()),
            None => self.error(profile, None, error.to_string()),
        }
    }

    /// An error about `key` (or the whole profile) of `profile`, naming the file it is in.
    pub(crate) fn error(
        &self,
        profile: &str,
        key: Option<&str>,
        problem: impl Into<String>,
    ) -> BuildError {
        let defines = |set: &ProfileSet| set.get_profile(profile).is_some();
        let has_key = |set: &ProfileSet| {
            let value = key.and_then(|k| set.get_profile(profile).and_then(|p| p.get(k)));
            value.is_some()
        };
        let (config, credentials) = (self.config_shown.clone(), self.credentials_shown.clone());
        // A key set in the credentials file wins there, as aws-config merges the files; a key
        // that is missing is missing from the file (or files) defining the profile.
        let file = if has_key(&self.credentials_file) {
            credentials
        } else if has_key(&self.config_file) {
            config
        } else {
            match (defines(&self.config_file), defines(&self.credentials_file)) {
                (true, false) => config,
                (false, true) => credentials,
                _ => format!("{config} or {credentials}"),
            }
        };
        BuildError::Profile {
            profile: profile.to_owned(),
            key: key.map(str::to_owned),
            file,
            problem: problem.into(),
        }
    }
}

impl std::fmt::Debug for LoadedProfiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The profiles hold access keys: only which files and which profile.
        f.debug_struct("LoadedProfiles")
            .field("selected", &self.selected())
            .field("config", &self.config_shown)
            .field("credentials", &self.credentials_shown)
            .finish_non_exhaustive()
    }
}

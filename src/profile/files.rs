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

/// The profiles of both files, merged as aws-config merges them, and those of the credentials
/// file alone.
#[derive(Debug)]
pub(crate) struct LoadedProfiles {
    merged: ProfileSet,
    config_file: ProfileSet,
    credentials_file: ProfileSet,
    config_shown: String,
    credentials_shown: String,
}

impl LoadedProfiles {
    /// Reads the files. `selected` is the profile to start from; without it `AWS_PROFILE`,
    /// else `default`.
    pub(crate) async fn load(
        paths: &ProfilePaths,
        selected: Option<&str>,
    ) -> Result<Self, BuildError> {
        let (fs, env) = (Fs::real(), Env::real());
        Self::load_with(&fs, &env, paths, selected).await
    }

    async fn load_with(
        fs: &Fs,
        env: &Env,
        paths: &ProfilePaths,
        selected: Option<&str>,
    ) -> Result<Self, BuildError> {
        let config_shown = paths.shown(env, ProfileFileKind::Config);
        let credentials_shown = paths.shown(env, ProfileFileKind::Credentials);
        let files_error = |problem: String| BuildError::Profile {
            profile: selected.unwrap_or("default").to_owned(),
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
        Self::load_with(&fs, &Env::from_slice(&[]), &paths, Some(selected)).await
    }

    /// The profile to start from.
    pub(crate) fn selected(&self) -> &str {
        self.merged.selected_profile()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Profile> {
        self.merged.get_profile(name)
    }

    /// The value of `key` in the selected profile.
    pub(crate) fn selected_value(&self, key: &str) -> Option<&str> {
        self.get(self.selected()).and_then(|p| p.get(key))
    }

    /// An error about `key` (or the whole profile) of `profile`, naming the file it is in.
    pub(crate) fn error(
        &self,
        profile: &str,
        key: Option<&str>,
        problem: impl Into<String>,
    ) -> BuildError {
        let in_file = |set: &ProfileSet| {
            set.get_profile(profile)
                .is_some_and(|p| key.is_none_or(|k| p.get(k).is_some()))
        };
        // A key set in the credentials file wins there, as aws-config merges them.
        let file = if in_file(&self.credentials_file)
            && (key.is_some() || !in_file(&self.config_file))
        {
            self.credentials_shown.clone()
        } else if in_file(&self.config_file) || self.config_file.get_profile(profile).is_some() {
            self.config_shown.clone()
        } else {
            format!("{} or {}", self.config_shown, self.credentials_shown)
        };
        BuildError::Profile {
            profile: profile.to_owned(),
            key: key.map(str::to_owned),
            file,
            problem: problem.into(),
        }
    }
}

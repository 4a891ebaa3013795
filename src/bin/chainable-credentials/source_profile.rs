//! `--source-profile`: the base credentials of a named profile, with a clear error when the
//! profile yields none (aws-config reports that as "not loaded" without a reason, which suits
//! a chain that moves on to its next provider, not a command the user pointed at a profile).

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use aws_types::region::Region;

/// The credentials of one profile of the usual config and credentials files.
#[derive(Debug)]
pub(crate) struct SourceProfile {
    name: String,
    profile: ProfileFileCredentialsProvider,
}

impl SourceProfile {
    pub(crate) fn new(name: &str, region: Region) -> Self {
        let config = ProviderConfig::without_region().with_region(Some(region));
        SourceProfile {
            name: name.to_owned(),
            profile: ProfileFileCredentialsProvider::builder()
                .configure(&config)
                .profile_name(name)
                .build(),
        }
    }

    async fn load(&self) -> provider::Result {
        match self.profile.provide_credentials().await {
            Err(error @ CredentialsError::CredentialsNotLoaded(_)) => {
                let reason = match std::error::Error::source(&error) {
                    Some(source) => source.to_string(),
                    None => "it is not defined in the config or credentials file \
                             (see AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), or has no \
                             keys, role, credential_process or SSO settings"
                        .to_owned(),
                };
                Err(CredentialsError::invalid_configuration(format!(
                    "profile `{}` gave no credentials: {reason}",
                    self.name
                )))
            }
            other => other,
        }
    }
}

impl ProvideCredentials for SourceProfile {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}

//! The credentials a profile chain starts from, as a provider: the profile's keys as they are,
//! `credential_source` and the remaining kinds through aws-config's own providers.

use crate::base_credentials::EnvironmentKeys;
use crate::profile::files::ProfilePaths;
use crate::profile::{Base, CredentialSource};
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::Env;

/// The name credentials read from a profile's keys carry.
const KEYS_PROVIDER_NAME: &str = "ProfileFile";

/// A provider for `base`, on the region, HTTP client, sleep and clock of `settings`.
pub(crate) fn provider(
    base: &Base,
    paths: &ProfilePaths,
    settings: &SdkConfig,
    env: &Env,
) -> SharedCredentialsProvider {
    let config = || {
        let mut config = ProviderConfig::without_region().with_region(settings.region().cloned());
        if let Some(client) = settings.http_client() {
            config = config.with_http_client(client);
        }
        if let Some(sleep) = settings.sleep_impl() {
            config = config.with_sleep_impl(sleep);
        }
        if let Some(time) = settings.time_source() {
            config = config.with_time_source(time);
        }
        config
    };
    match base {
        Base::Keys {
            access_key_id,
            secret_access_key,
            session_token,
            ..
        } => SharedCredentialsProvider::new(Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.clone(),
            None,
            KEYS_PROVIDER_NAME,
        )),
        Base::Source { source, .. } => match source {
            CredentialSource::Environment => {
                SharedCredentialsProvider::new(EnvironmentKeys::new(env.clone()))
            }
            CredentialSource::Ec2InstanceMetadata => SharedCredentialsProvider::new(
                ImdsCredentialsProvider::builder()
                    .configure(&config())
                    .build(),
            ),
            CredentialSource::EcsContainer => SharedCredentialsProvider::new(
                EcsCredentialsProvider::builder()
                    .configure(&config())
                    .build(),
            ),
        },
        Base::Delegated { profile } => SharedCredentialsProvider::new(
            ProfileFileCredentialsProvider::builder()
                .configure(&config())
                .profile_files(paths.profile_files())
                .profile_name(profile)
                .build(),
        ),
    }
}

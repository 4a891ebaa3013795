//! Where the base credentials (the ones that sign the STS call) come from when none are given:
//! the environment's keys, read through the injected [`Env`], and after them aws-config's
//! default chain.

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use aws_types::os_shim_internal::Env;

pub(crate) use default_chain::LazyDefaultChain;

/// The name credentials from the environment carry, as aws-config's provider names them.
const ENVIRONMENT_PROVIDER_NAME: &str = "EnvironmentVariable";

/// The keys in the environment — `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (or
/// `SECRET_ACCESS_KEY`), `AWS_SESSION_TOKEN`, `AWS_ACCOUNT_ID` — read as aws-config's
/// `EnvironmentVariableCredentialsProvider` reads them (blank is unset), but from the `Env`
/// given to the builder, which aws-config's provider cannot take.
#[derive(Debug, Clone)]
pub(crate) struct EnvironmentKeys {
    env: Env,
}

impl EnvironmentKeys {
    pub(crate) fn new(env: Env) -> Self {
        EnvironmentKeys { env }
    }

    fn credentials(&self) -> provider::Result {
        let var = |name: &str| {
            self.env
                .get(name)
                .ok()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let not_set = |name: &str| CredentialsError::not_loaded(format!("{name} is not set"));
        let access_key_id = var("AWS_ACCESS_KEY_ID").ok_or_else(|| not_set("AWS_ACCESS_KEY_ID"))?;
        let secret_access_key = var("AWS_SECRET_ACCESS_KEY")
            .or_else(|| var("SECRET_ACCESS_KEY"))
            .ok_or_else(|| not_set("AWS_SECRET_ACCESS_KEY"))?;
        let mut builder = Credentials::builder()
            .access_key_id(access_key_id)
            .secret_access_key(secret_access_key)
            .provider_name(ENVIRONMENT_PROVIDER_NAME);
        builder.set_session_token(var("AWS_SESSION_TOKEN"));
        builder.set_account_id(var("AWS_ACCOUNT_ID").map(Into::into));
        Ok(builder.build())
    }
}

impl ProvideCredentials for EnvironmentKeys {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(self.credentials())
    }
}

mod default_chain {
    use super::EnvironmentKeys;
    use crate::error::{FetchError, error_line};
    use aws_config::default_provider::credentials::DefaultCredentialsChain;
    use aws_config::provider_config::ProviderConfig;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::{ProvideCredentials, future};
    use aws_smithy_async::future::timeout::Timeout;
    use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};
    use aws_smithy_async::time::SharedTimeSource;
    use aws_smithy_runtime_api::client::http::SharedHttpClient;
    use aws_types::os_shim_internal::Env;
    use aws_types::region::Region;
    use std::fmt;
    use std::time::Duration;
    use tokio::sync::OnceCell;

    /// aws-config's default credentials chain (environment, profile, web identity, ECS, IMDS),
    /// created on the first refresh rather than in the synchronous `build()` (creating it reads
    /// files and may need a runtime), and only if the environment has no keys.
    pub(crate) struct LazyDefaultChain {
        chain: OnceCell<DefaultCredentialsChain>,
        region: Region,
        http_client: Option<SharedHttpClient>,
        time_source: SharedTimeSource,
        sleep: SharedAsyncSleep,
        env: Env,
        /// How long the chain may look: past it, the answer is what was tried.
        budget: Duration,
    }

    impl LazyDefaultChain {
        pub(crate) fn new(
            region: Region,
            http_client: Option<SharedHttpClient>,
            time_source: SharedTimeSource,
            sleep: SharedAsyncSleep,
            env: Env,
            budget: Duration,
        ) -> Self {
            LazyDefaultChain {
                chain: OnceCell::new(),
                region,
                http_client,
                time_source,
                sleep,
                env,
                budget,
            }
        }

        async fn chain(&self) -> &DefaultCredentialsChain {
            self.chain
                .get_or_init(|| async {
                    let mut config = ProviderConfig::default()
                        .with_region(Some(self.region.clone()))
                        .with_time_source(self.time_source.clone())
                        .with_sleep_impl(self.sleep.clone());
                    if let Some(client) = &self.http_client {
                        config = config.with_http_client(client.clone());
                    }
                    DefaultCredentialsChain::builder()
                        .configure(config)
                        .build()
                        .await
                })
                .await
        }

        /// The error when no default source had credentials; `last_error` is what the last
        /// one said if it failed.
        fn nothing_found(&self, last_error: Option<String>) -> FetchError {
            let var = |name: &str| self.env.get(name).ok().filter(|v| !v.trim().is_empty());
            FetchError::NoBaseCredentials {
                profile: var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned()),
                imds_disabled: var("AWS_EC2_METADATA_DISABLED")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
                last_error,
            }
        }
    }

    impl LazyDefaultChain {
        /// The chain's answer within the budget, with what was tried and how to give
        /// credentials when it has none. Its last source, the instance metadata service,
        /// retries with backoff and may not answer at all (on most laptops nothing is at its
        /// address): at the budget's end the answer is that nothing was found, and why,
        /// rather than the refresh's bare timeout.
        async fn ask_the_chain(&self) -> aws_credential_types::provider::Result {
            let looking = async { self.chain().await.provide_credentials().await };
            let budget = self.budget;
            let Ok(answered) = Timeout::new(looking, self.sleep.sleep(budget)).await else {
                return Err(CredentialsError::not_loaded(self.nothing_found(Some(
                    format!(
                        "no source answered within {:.1} s (the usual cause: the last source, the \
                     EC2 instance metadata service, is slow or absent; off EC2, set \
                     AWS_EC2_METADATA_DISABLED=true)",
                        budget.as_secs_f64()
                    ),
                ))));
            };
            // Say what was tried and how to give credentials, rather than only what the last
            // source of the chain said: whichever way it failed (nothing there, or an instance
            // metadata endpoint that answers 403), the user needs the same hint. The error
            // keeps its kind (a chain around this provider moves on only past "not loaded"; a
            // timeout stays a timeout).
            match answered {
                Err(CredentialsError::CredentialsNotLoaded(_)) => {
                    Err(CredentialsError::not_loaded(self.nothing_found(None)))
                }
                Err(timed_out @ CredentialsError::ProviderTimedOut(_)) => Err(timed_out),
                Err(failed @ CredentialsError::InvalidConfiguration(_)) => {
                    let hint = self.nothing_found(Some(error_line(&failed)));
                    Err(CredentialsError::invalid_configuration(hint))
                }
                Err(failed) => {
                    let hint = self.nothing_found(Some(error_line(&failed)));
                    Err(CredentialsError::provider_error(hint))
                }
                answered => answered,
            }
        }
    }

    impl fmt::Debug for LazyDefaultChain {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("LazyDefaultChain")
                .field("created", &self.chain.initialized())
                .field("region", &self.region)
                .finish()
        }
    }

    impl ProvideCredentials for LazyDefaultChain {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::new(async move {
                // The chain's first link, tried before the chain exists: creating the chain
                // creates HTTP clients (IMDS, ECS, SSO, STS), which load the platform's root
                // certificates — wasted when the keys are in the environment, as in CI jobs and
                // in short-lived processes such as a `credential_process`. Any answer but
                // "not loaded" is final, as it is in the chain.
                match EnvironmentKeys::new(self.env.clone())
                    .provide_credentials()
                    .await
                {
                    Err(CredentialsError::CredentialsNotLoaded(_)) => self.ask_the_chain().await,
                    answered => answered,
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(vars: &[(&str, &str)]) -> provider::Result {
        EnvironmentKeys::new(Env::from_slice(vars)).credentials()
    }

    #[test]
    fn reads_the_keys_as_aws_config_does() {
        let credentials = keys(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", " "),
            ("AWS_ACCOUNT_ID", "123456789012"),
        ])
        .unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), None, "blank is unset");
        assert_eq!(
            credentials.account_id().map(|a| a.as_str()),
            Some("123456789012")
        );
        assert!(matches!(
            keys(&[("AWS_ACCESS_KEY_ID", "AKID")]),
            Err(CredentialsError::CredentialsNotLoaded(_))
        ));
        assert!(matches!(
            keys(&[("AWS_ACCESS_KEY_ID", " "), ("AWS_SECRET_ACCESS_KEY", "s")]),
            Err(CredentialsError::CredentialsNotLoaded(_))
        ));
    }
}

//! Where the base credentials (the ones that sign the STS call) come from when none are given.

#[cfg(feature = "default-chain")]
pub(crate) use default_chain::LazyDefaultChain;

#[cfg(feature = "default-chain")]
mod default_chain {
    use crate::error::FetchError;
    use aws_config::default_provider::credentials::DefaultCredentialsChain;
    use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
    use aws_config::provider_config::ProviderConfig;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::{ProvideCredentials, future};
    use aws_smithy_async::rt::sleep::SharedAsyncSleep;
    use aws_smithy_async::time::SharedTimeSource;
    use aws_smithy_runtime_api::client::http::SharedHttpClient;
    use aws_types::region::Region;
    use std::fmt;
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
    }

    impl LazyDefaultChain {
        pub(crate) fn new(
            region: Region,
            http_client: Option<SharedHttpClient>,
            time_source: SharedTimeSource,
            sleep: SharedAsyncSleep,
        ) -> Self {
            LazyDefaultChain {
                chain: OnceCell::new(),
                region,
                http_client,
                time_source,
                sleep,
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
    }

    /// The error when no default source had credentials.
    fn nothing_found() -> FetchError {
        let env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        FetchError::NoBaseCredentials {
            profile: env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned()),
            imds_disabled: env("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
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
                match EnvironmentVariableCredentialsProvider::new()
                    .provide_credentials()
                    .await
                {
                    Err(CredentialsError::CredentialsNotLoaded(_)) => {
                        match self.chain().await.provide_credentials().await {
                            // Say what was tried and how to give credentials, rather than
                            // what the last source of the chain said.
                            Err(CredentialsError::CredentialsNotLoaded(_)) => {
                                Err(CredentialsError::not_loaded(nothing_found()))
                            }
                            answered => answered,
                        }
                    }
                    answered => answered,
                }
            })
        }
    }
}

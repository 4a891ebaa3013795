//! Where a provider's builders come from: [`ChainableTemporaryCredentials::builder`] for the
//! first hop, [`ChainableTemporaryCredentials::chain`] for the next (the builder owns both, so
//! the provider does not depend on its builder).

use super::Builder;
use crate::provider::ChainableTemporaryCredentials;

impl ChainableTemporaryCredentials {
    /// A builder; see [`Builder`] for every setting and its default.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A builder for the next hop of a role chain: its base credentials are this provider,
    /// and it inherits this provider's region, endpoint, HTTP client, sleep, time source and
    /// retry settings (each can still be overridden).
    ///
    /// Every hop caches its own session: when the next hop refreshes, it asks this one, which
    /// answers from its cache while its session is valid. STS limits sessions assumed with
    /// temporary credentials to one hour; a longer `duration` on a chained hop is clamped to
    /// one hour (with a warning).
    ///
    /// ```no_run
    /// # use chainable_credentials::ChainableTemporaryCredentials;
    /// # fn example(first: ChainableTemporaryCredentials) -> Result<(), chainable_credentials::BuildError> {
    /// let second = first
    ///     .chain()
    ///     .role_arn("arn:aws:iam::210987654321:role/cross-account-reader")
    ///     .build()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn chain(&self) -> Builder {
        let (sts_config, mfa_in_chain, insecure_endpoint_allowed) = self.next_hop_settings();
        let mut next = Builder::new()
            .configure(sts_config)
            .base_credentials(self.clone());
        // The endpoint this hop calls, however it was chosen (set, or a service-specific one).
        next.set_endpoint_url(sts_config.endpoint_url().map(str::to_owned))
            .set_allow_insecure_endpoint(Some(insecure_endpoint_allowed));
        next.base_needs_mfa = mfa_in_chain;
        next.base_is_temporary = true;
        next
    }
}

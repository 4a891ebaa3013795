//! The setters of the session request: what STS is asked for. Each sets one field of the
//! request model (`SessionRequest`); the `set_*` twin does the work, the consuming setter
//! calls it.

use super::Builder;
use crate::mfa::{MfaDevice, ProvideMfaToken};
use crate::request::WebIdentity;
use crate::web_identity::{ProvideSamlAssertion, ProvideWebIdentityToken, SamlSource, TokenSource};
use std::sync::Arc;
use std::time::Duration;

impl Builder {
    /// The role to assume, `arn:PARTITION:iam::ACCOUNT_ID:role/[PATH/]NAME` (STS: 20 to 2,048
    /// characters; the role name 1 to 64 characters of `[\w+=,.@-]`).
    ///
    /// Default: none, and then the provider calls `GetSessionToken` instead of `AssumeRole`:
    /// temporary credentials for the base principal itself.
    pub fn role_arn(mut self, arn: impl Into<String>) -> Self {
        self.set_role_arn(Some(arn.into()));
        self
    }

    /// Sets or clears the role ARN; see [`role_arn`](Self::role_arn).
    pub fn set_role_arn(&mut self, arn: Option<String>) -> &mut Self {
        self.request.role_arn = arn.map(Into::into);
        self
    }

    /// The role session name: it appears in the assumed-role ARN and in CloudTrail (STS: 2 to
    /// 64 characters of `[\w+=,.@-]`). Only with [`role_arn`](Self::role_arn).
    ///
    /// Default: `chainable-credentials-<Unix milliseconds at build>`, fixed for the provider's
    /// life so every refresh uses the same name.
    pub fn role_session_name(mut self, name: impl Into<String>) -> Self {
        self.set_role_session_name(Some(name.into()));
        self
    }

    /// Sets or clears the session name; see [`role_session_name`](Self::role_session_name).
    pub fn set_role_session_name(&mut self, name: Option<String>) -> &mut Self {
        self.request.role_session_name = name.map(Into::into);
        self
    }

    /// How long each session lasts (`DurationSeconds`, whole seconds). STS accepts 900 s to
    /// 43,200 s for `AssumeRole` (no more than the role's maximum session duration) and 900 s
    /// to 129,600 s for `GetSessionToken`.
    ///
    /// Default: not sent, so STS decides (1 hour for `AssumeRole`, 12 hours for
    /// `GetSessionToken`).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.set_duration(Some(duration));
        self
    }

    /// Sets or clears the duration; see [`duration`](Self::duration).
    pub fn set_duration(&mut self, duration: Option<Duration>) -> &mut Self {
        self.request.duration = duration;
        self
    }

    /// The external id the role's trust policy requires, as given by the role's owner (STS: 2
    /// to 1,224 characters of `[\w+=,.@:/-]`). Only with [`role_arn`](Self::role_arn). Never
    /// printed by `Debug` or in errors.
    ///
    /// Default: none.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.set_external_id(Some(id.into()));
        self
    }

    /// Sets or clears the external id; see [`external_id`](Self::external_id).
    pub fn set_external_id(&mut self, id: Option<String>) -> &mut Self {
        self.request.change_identity(|i| i.external_id = id);
        self
    }

    /// An inline session policy (JSON): the session may do only what both the role's policies
    /// and this allow. STS: at most 2,048 characters once packed (it is sent without
    /// whitespace), characters U+0020 to U+00FF plus tab and line breaks. Only with
    /// [`role_arn`](Self::role_arn).
    ///
    /// Default: none (the role's own permissions).
    pub fn policy(mut self, json: impl Into<String>) -> Self {
        self.set_policy(Some(json.into()));
        self
    }

    /// Sets or clears the inline session policy; see [`policy`](Self::policy).
    pub fn set_policy(&mut self, json: Option<String>) -> &mut Self {
        self.request.policy = json.map(Into::into);
        self
    }

    /// Adds a managed session policy by ARN (`arn:aws:iam::ACCOUNT_ID|aws:policy/NAME`); STS
    /// takes at most 10. Only with [`role_arn`](Self::role_arn).
    ///
    /// Default: none.
    pub fn policy_arn(mut self, arn: impl Into<String>) -> Self {
        self.request.policy_arns.push(arn.into());
        self
    }

    /// Adds managed session policies by ARN; see [`policy_arn`](Self::policy_arn).
    pub fn policy_arns(mut self, arns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.request
            .policy_arns
            .extend(arns.into_iter().map(Into::into));
        self
    }

    /// Replaces the managed session policies; see [`policy_arn`](Self::policy_arn).
    pub fn set_policy_arns(&mut self, arns: Option<Vec<String>>) -> &mut Self {
        self.request.policy_arns = arns.unwrap_or_default().into();
        self
    }

    /// Adds a session tag. STS: at most 50 tags; keys 1 to 128 and values 0 to 256 characters
    /// of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; keys unique regardless of case and not starting with
    /// `aws:`. The role's trust policy must allow `sts:TagSession`. Only with
    /// [`role_arn`](Self::role_arn).
    ///
    /// Default: none.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.tags.push((key.into(), value.into()));
        self
    }

    /// Adds session tags; see [`tag`](Self::tag).
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.request
            .tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Replaces the session tags; see [`tag`](Self::tag).
    pub fn set_tags(&mut self, tags: Option<Vec<(String, String)>>) -> &mut Self {
        self.request.tags = tags.unwrap_or_default().into();
        self
    }

    /// Marks a session tag as transitive: it passes on to sessions assumed from this one (role
    /// chaining). STS: the key must be one of the session tags.
    ///
    /// Default: none.
    pub fn transitive_tag_key(mut self, key: impl Into<String>) -> Self {
        self.request.transitive_tag_keys.push(key.into());
        self
    }

    /// Marks session tags as transitive; see [`transitive_tag_key`](Self::transitive_tag_key).
    pub fn transitive_tag_keys(
        mut self,
        keys: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.request
            .transitive_tag_keys
            .extend(keys.into_iter().map(Into::into));
        self
    }

    /// Replaces the transitive tag keys; see [`transitive_tag_key`](Self::transitive_tag_key).
    pub fn set_transitive_tag_keys(&mut self, keys: Option<Vec<String>>) -> &mut Self {
        self.request.transitive_tag_keys = keys.unwrap_or_default().into();
        self
    }

    /// The source identity: who is behind the session, recorded in CloudTrail and kept through
    /// role chains. STS: 2 to 64 characters of `[\w+=,.@-]`, not starting with `aws:`; once
    /// set in a chain it cannot change. The trust policy must allow `sts:SetSourceIdentity`.
    /// Only with [`role_arn`](Self::role_arn).
    ///
    /// Default: none.
    pub fn source_identity(mut self, id: impl Into<String>) -> Self {
        self.set_source_identity(Some(id.into()));
        self
    }

    /// Sets or clears the source identity; see [`source_identity`](Self::source_identity).
    pub fn set_source_identity(&mut self, id: Option<String>) -> &mut Self {
        self.request.source_identity = id.map(Into::into);
        self
    }

    /// Multi-factor authentication: `serial_number` is the MFA device's ARN
    /// (`arn:aws:iam::ACCOUNT_ID:mfa/NAME`) or a hardware device's serial (STS: 9 to 256
    /// characters of `[\w+=/:,.@-]`), and `tokens` is asked for the current 6-digit code at every
    /// refresh (never on cache hits). Works with `AssumeRole` and with `GetSessionToken`; for
    /// "MFA once, then roles", build a `GetSessionToken` provider with MFA and
    /// [`chain`](crate::ChainableTemporaryCredentials::chain) roles on it.
    ///
    /// Asking for the code counts against the [`load_timeout`](Self::load_timeout) (5 seconds
    /// by default): give a person typing the code more, e.g. two minutes.
    ///
    /// A provider with MFA, and every hop chained on it, refreshes only when asked: its
    /// [`background_refresh`](Self::background_refresh) is off unless switched on, so that a
    /// code is asked for when someone needs credentials, not at a refresh point while nobody
    /// is there. Switch it on for a token provider that needs no person.
    ///
    /// Default: none.
    pub fn mfa(mut self, serial_number: impl Into<String>, tokens: impl ProvideMfaToken) -> Self {
        self.set_mfa(Some(MfaDevice::new(serial_number, tokens)));
        self
    }

    /// Sets or clears the MFA device; see [`mfa`](Self::mfa).
    pub fn set_mfa(&mut self, device: Option<MfaDevice>) -> &mut Self {
        // Clearing the device leaves a token provider given with `mfa_tokens` (for profiles).
        let serial = device.as_ref().map(|d| d.serial_number.clone());
        self.request.change_identity(|i| i.mfa_serial = serial);
        if let Some(device) = device {
            self.mfa_tokens = Some(device.tokens);
        }
        self
    }

    /// Calls `GetFederationToken` for a federated user of this name (STS: 2 to 32 characters
    /// of `[\w+=,.@-]`) instead of `AssumeRole` or `GetSessionToken`: a session whose
    /// permissions are the intersection of the base IAM user's and the session policies
    /// ([`policy`](Self::policy), [`policy_arn`](Self::policy_arn)), with
    /// [`tags`](Self::tags) and a [`duration`](Self::duration) of 900 s to 36 hours (1 hour
    /// with root credentials). STS issues federation tokens to long-term IAM user keys only:
    /// on a chained hop this is a [`BuildError`](crate::BuildError), and temporary base
    /// credentials (a session token) are refused at the first refresh with
    /// `FetchError::BaseNotAccepted`. Not with [`role_arn`](Self::role_arn) or
    /// [`mfa`](Self::mfa).
    ///
    /// Default: none.
    pub fn federation_token(mut self, name: impl Into<String>) -> Self {
        self.set_federation_token(Some(name.into()));
        self
    }

    /// Sets or clears the federated user's name; see
    /// [`federation_token`](Self::federation_token).
    pub fn set_federation_token(&mut self, name: Option<String>) -> &mut Self {
        self.request.change_identity(|i| i.federation_token = name);
        self
    }

    /// Assumes [`role_arn`](Self::role_arn) with `AssumeRoleWithWebIdentity`, the OIDC token
    /// read from this file at every refresh (never at a cache hit), as EKS (IRSA) and CI
    /// systems rotate it: no base credentials are used (the call is unsigned; the token is the
    /// identity). STS takes a [`role_session_name`](Self::role_session_name), a
    /// [`duration`](Self::duration) and session policies with it; session tags and the source
    /// identity come from the token's claims. The token never appears in `Debug` output,
    /// errors or traces; a missing, unreadable or empty file is a typed error naming the file
    /// (`FetchError::WebIdentityToken`), and a still-valid session is served meanwhile. With the
    /// [`file_cache`](Self::file_cache), processes holding the same token share its session
    /// (the entry's key hashes the token, as it hashes a secret key; a rotated token is a new
    /// entry). [`chain`](crate::ChainableTemporaryCredentials::chain) hops onto it as
    /// onto any provider (a cross-account role).
    ///
    /// Default: none.
    pub fn web_identity_token_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.set_web_identity_token_file(Some(path.into()));
        self
    }

    /// Sets or clears the web identity token file; see
    /// [`web_identity_token_file`](Self::web_identity_token_file).
    pub fn set_web_identity_token_file(&mut self, path: Option<std::path::PathBuf>) -> &mut Self {
        self.request
            .change_identity(|i| i.web_identity = path.map(WebIdentity::File));
        self
    }

    /// Like [`web_identity_token_file`](Self::web_identity_token_file), as the SDKs read it
    /// on EKS and in CI: the token file from `AWS_WEB_IDENTITY_TOKEN_FILE`, and the role and
    /// session name from `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME` unless set here — read at
    /// `build()` from the environment (the process's; with `test-util`, `env`'s). Without the
    /// token file variable, `build()` fails naming `web_identity_token`.
    ///
    /// Default: off.
    pub fn web_identity_from_environment(mut self) -> Self {
        self.request
            .change_identity(|i| i.web_identity = Some(WebIdentity::Environment));
        self
    }

    /// Like [`web_identity_token_file`](Self::web_identity_token_file), with the token from
    /// `source`, asked once per refresh that calls STS (a token endpoint of your own, a
    /// secret store, a CI system's API).
    ///
    /// Default: none.
    pub fn web_identity_token(mut self, source: impl ProvideWebIdentityToken) -> Self {
        self.set_web_identity_token(Some(Arc::new(source)));
        self
    }

    /// Sets or clears the web identity token source; see
    /// [`web_identity_token`](Self::web_identity_token).
    pub fn set_web_identity_token(
        &mut self,
        source: Option<Arc<dyn ProvideWebIdentityToken>>,
    ) -> &mut Self {
        let from_caller = source.as_ref().map(|_| WebIdentity::Caller);
        self.request
            .change_identity(|i| i.web_identity = from_caller);
        self.web_identity_tokens = source.map(TokenSource::Caller);
        self
    }

    /// The `ProviderId` STS asks for with an OAuth 2.0 access token (`www.amazon.com`,
    /// `graph.facebook.com`) in place of an OIDC ID token: only with a web identity token
    /// (any other operation is a [`BuildError`](crate::BuildError) naming this field). OIDC
    /// tokens (EKS, GitHub Actions, any OIDC issuer) name their issuer and need none.
    ///
    /// Default: none.
    pub fn web_identity_provider_id(mut self, id: impl Into<String>) -> Self {
        self.set_web_identity_provider_id(Some(id.into()));
        self
    }

    /// Sets or clears the provider id; see
    /// [`web_identity_provider_id`](Self::web_identity_provider_id).
    pub fn set_web_identity_provider_id(&mut self, id: Option<String>) -> &mut Self {
        self.request.change_identity(|i| i.provider_id = id);
        self
    }

    /// Assumes [`role_arn`](Self::role_arn) with `AssumeRoleWithSAML`: `provider_arn` is the
    /// IAM SAML provider (`arn:aws:iam::ACCOUNT_ID:saml-provider/NAME`), and `assertions`
    /// gives the base64 `SAMLResponse` of the identity provider, asked once per refresh that
    /// calls STS. Unsigned, no base credentials; a [`duration`](Self::duration) and session
    /// policies as with web identity; the assertion is in no `Debug`, error or trace. Not kept
    /// in the file cache (an assertion is issued per sign-in and lives minutes: another process
    /// would not hold the same one).
    ///
    /// Default: none.
    pub fn saml_assertion(
        mut self,
        provider_arn: impl Into<String>,
        assertions: impl ProvideSamlAssertion,
    ) -> Self {
        self.set_saml_assertion(Some((provider_arn.into(), Arc::new(assertions))));
        self
    }

    /// Sets or clears the SAML provider and the source of its assertions; see
    /// [`saml_assertion`](Self::saml_assertion).
    pub fn set_saml_assertion(
        &mut self,
        saml: Option<(String, Arc<dyn ProvideSamlAssertion>)>,
    ) -> &mut Self {
        let (provider_arn, assertions) = saml.unzip();
        self.request
            .change_identity(|i| i.saml_provider_arn = provider_arn);
        self.saml_assertions = assertions.map(SamlSource);
        self
    }
}

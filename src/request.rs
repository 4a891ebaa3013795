//! The one model of what makes a session: [`SessionRequest`]. The builder's setters fill it,
//! a profile's hop is parsed into it, the command's flags set it through the builder, it is
//! validated in one place ([`SessionRequest::validate`]), the STS call is made from it, and the
//! file cache's key is derived from it ([`SessionRequest::cache_identity`]) so that no field
//! can be left out of the key.

use crate::error::{BuildError, Field};
use crate::operation::Operation;
use crate::validation;
use std::fmt;
use std::time::Duration;
use thin_vec::ThinVec;

/// What to ask STS for. Each field is named after the builder setter that sets it.
///
/// Thousands are cached as scopes (`ScopedSessions`), so the request is kept small: the
/// lists are one pointer each, and the parameters that say who asks and how it proves it —
/// rare in scopes — are behind one pointer, allocated only when one of them is set
/// ([`IdentityParameters`]).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct SessionRequest {
    /// `RoleArn`: with it `AssumeRole`, without it `GetSessionToken`.
    pub(crate) role_arn: Option<Box<str>>,
    /// `RoleSessionName`. After `build()` always set (a generated default if none was given).
    pub(crate) role_session_name: Option<Box<str>>,
    /// `DurationSeconds`.
    pub(crate) duration: Option<Duration>,
    /// `Policy`; packed (whitespace-free) JSON once validated.
    pub(crate) policy: Option<Box<str>>,
    /// `PolicyArns`.
    pub(crate) policy_arns: ThinVec<String>,
    /// `Tags`, as key and value.
    pub(crate) tags: ThinVec<(String, String)>,
    /// `TransitiveTagKeys`.
    pub(crate) transitive_tag_keys: ThinVec<String>,
    /// `SourceIdentity`.
    pub(crate) source_identity: Option<Box<str>>,
    /// `None` when none of them is set (never a box of nothing: requests that ask the same
    /// compare and hash the same). Read with the accessors, changed with
    /// [`SessionRequest::change_identity`].
    identity: Option<Box<IdentityParameters>>,
}

/// The parameters of a request that say who asks and how it proves it.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct IdentityParameters {
    /// `ExternalId`; never printed.
    pub(crate) external_id: Option<String>,
    /// `SerialNumber` of the MFA device; its codes come from a token provider kept beside
    /// the request (it is not a parameter of the session).
    pub(crate) mfa_serial: Option<String>,
    /// `Name` of the federated user: with it `GetFederationToken`.
    pub(crate) federation_token: Option<String>,
    /// The role is assumed with a web identity token (`AssumeRoleWithWebIdentity`), whose
    /// source is kept beside the request (the token is no parameter of the session).
    pub(crate) web_identity: Option<WebIdentity>,
    /// `ProviderId`: the issuer of an OAuth 2.0 access token (`www.amazon.com`,
    /// `graph.facebook.com`); OIDC ID tokens name theirs.
    pub(crate) provider_id: Option<String>,
    /// `PrincipalArn` of the SAML identity provider: with it `AssumeRoleWithSAML`, the
    /// assertion from a source kept beside the request.
    pub(crate) saml_provider_arn: Option<String>,
}

/// Where a web identity hop's token comes from, as part of what makes its session (the
/// file's path names the source; the token itself is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum WebIdentity {
    /// A file, read at every refresh.
    File(std::path::PathBuf),
    /// The caller's token source.
    Caller,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` (and `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME` for what is
    /// not set), read from the builder's environment at `build()`, as the SDKs read them.
    Environment,
}

impl SessionRequest {
    /// The parameters that say who asks, if any is set.
    fn identity(&self) -> Option<&IdentityParameters> {
        self.identity.as_deref()
    }

    /// `ExternalId`.
    pub(crate) fn external_id(&self) -> Option<&str> {
        self.identity()?.external_id.as_deref()
    }

    /// `SerialNumber` of the MFA device.
    pub(crate) fn mfa_serial(&self) -> Option<&str> {
        self.identity()?.mfa_serial.as_deref()
    }

    /// `Name` of the federated user.
    pub(crate) fn federation_token(&self) -> Option<&str> {
        self.identity()?.federation_token.as_deref()
    }

    /// Where the web identity token comes from.
    pub(crate) fn web_identity(&self) -> Option<&WebIdentity> {
        self.identity()?.web_identity.as_ref()
    }

    /// `ProviderId` of a web identity token.
    pub(crate) fn provider_id(&self) -> Option<&str> {
        self.identity()?.provider_id.as_deref()
    }

    /// `PrincipalArn` of the SAML identity provider.
    pub(crate) fn saml_provider_arn(&self) -> Option<&str> {
        self.identity()?.saml_provider_arn.as_deref()
    }

    /// Changes the parameters that say who asks; the box is dropped when none is left set.
    pub(crate) fn change_identity(&mut self, change: impl FnOnce(&mut IdentityParameters)) {
        let mut identity = self.identity.take().unwrap_or_default();
        change(&mut identity);
        if *identity != IdentityParameters::default() {
            self.identity = Some(identity);
        }
    }

    /// The STS operation this request calls.
    pub(crate) fn operation(&self) -> Operation {
        match (&self.role_arn, self.federation_token(), self.web_identity()) {
            (Some(_), _, _) if self.saml_provider_arn().is_some() => Operation::AssumeRoleWithSaml,
            (Some(_), _, Some(_)) => Operation::AssumeRoleWithWebIdentity,
            (Some(_), _, None) => Operation::AssumeRole,
            (None, Some(_), _) => Operation::GetFederationToken,
            (None, None, _) => Operation::GetSessionToken,
        }
    }

    /// The longest a session asked for with `duration` (`DurationSeconds`, if sent) can
    /// live: what STS grants, whatever its answer's times say.
    pub(crate) fn longest_lifetime(&self, duration: Option<Duration>) -> Duration {
        duration.unwrap_or(self.operation().default_duration())
    }

    /// Checks every parameter against STS's rules and the operation (only `AssumeRole` takes
    /// role parameters), and returns the request as it is sent (the policy packed).
    pub(crate) fn validate(self) -> Result<SessionRequest, BuildError> {
        self.check_identity()?;
        self.check_taken_by_the_operation()?;
        self.check_values()
    }

    /// Who asks, and how it proves it: a SAML assertion or a web identity token assumes a
    /// role, never both; a provider id goes with a web identity token; a role and a federation
    /// token exclude each other; the ARNs are well formed.
    fn check_identity(&self) -> Result<(), BuildError> {
        let conflict = |field, requires| Err(BuildError::Conflict { field, requires });
        if self.saml_provider_arn().is_some() && self.role_arn.is_none() {
            return conflict(
                Field::SamlAssertion,
                "no `role_arn` is set: a SAML assertion assumes a role",
            );
        }
        if self.saml_provider_arn().is_some() && self.web_identity().is_some() {
            return conflict(
                Field::SamlAssertion,
                "a web identity token is set too: a role is assumed with one of them",
            );
        }
        if let Some(arn) = self.saml_provider_arn() {
            validation::saml_provider_arn(arn)?;
        }
        if self.web_identity().is_some() && self.role_arn.is_none() {
            return conflict(
                Field::WebIdentityToken,
                "no `role_arn` is set: a web identity token assumes a role",
            );
        }
        if self.provider_id().is_some() && self.operation() != Operation::AssumeRoleWithWebIdentity
        {
            return conflict(
                Field::WebIdentityProviderId,
                "no web identity token is set: STS takes a provider id with one only",
            );
        }
        if let Some(arn) = &self.role_arn {
            validation::role_arn(arn)?;
        }
        if self.role_arn.is_some() && self.federation_token().is_some() {
            return conflict(
                Field::FederationToken,
                "`role_arn` is set too: a provider calls either AssumeRole or GetFederationToken",
            );
        }
        Ok(())
    }

    /// Every parameter set is one the operation takes.
    fn check_taken_by_the_operation(&self) -> Result<(), BuildError> {
        let operation = self.operation();
        let assume_role = operation == Operation::AssumeRole;
        let federation = operation == Operation::GetFederationToken;
        // SAML and web identity take the same parameters: the assertion (the token) is the
        // identity and carries the tags and source identity.
        let web = matches!(
            operation,
            Operation::AssumeRoleWithWebIdentity | Operation::AssumeRoleWithSaml
        );
        let any_role = assume_role || web;
        let scoped = any_role || federation;
        // (field, whether it is set, whether this operation takes it)
        let taken = [
            (
                Field::RoleSessionName,
                self.role_session_name.is_some(),
                any_role,
            ),
            (Field::ExternalId, self.external_id().is_some(), assume_role),
            (Field::Policy, self.policy.is_some(), scoped),
            (Field::PolicyArns, !self.policy_arns.is_empty(), scoped),
            (
                Field::Tags,
                !self.tags.is_empty(),
                assume_role || federation,
            ),
            (
                Field::TransitiveTagKeys,
                !self.transitive_tag_keys.is_empty(),
                assume_role,
            ),
            (
                Field::SourceIdentity,
                self.source_identity.is_some(),
                assume_role,
            ),
            (Field::Mfa, self.mfa_serial().is_some(), !federation && !web),
        ];
        let Some((field, _, _)) = taken.into_iter().find(|(_, set, takes)| *set && !takes) else {
            return Ok(());
        };
        Err(BuildError::Conflict {
            field,
            requires: if federation {
                "`federation_token` is set (GetFederationToken takes a name, a duration, \
                 policies and tags only)"
            } else if web {
                "a web identity token or SAML assertion is set (they take a session name, a \
                 duration and policies; tags and the source identity come from the token or the \
                 assertion)"
            } else {
                "no `role_arn` is set (only AssumeRole takes it; without a role the provider \
                 calls GetSessionToken)"
            },
        })
    }

    /// Every value against STS's rules; the policy packed as it is sent.
    fn check_values(mut self) -> Result<SessionRequest, BuildError> {
        if let Some(name) = self.federation_token() {
            validation::federated_user_name(name)?;
        }
        if let Some(name) = &self.role_session_name {
            validation::role_session_name(name)?;
        }
        if let Some(id) = self.external_id() {
            validation::external_id(id)?;
        }
        self.policy = (self.policy.as_deref())
            .map(|policy| validation::policy(policy).map(String::into_boxed_str))
            .transpose()?;
        validation::policy_arns(&self.policy_arns)?;
        validation::tags(&self.tags)?;
        validation::transitive_tag_keys(&self.transitive_tag_keys, &self.tags)?;
        if let Some(id) = &self.source_identity {
            validation::source_identity(id)?;
        }
        if let Some(serial) = self.mfa_serial() {
            validation::mfa_serial(serial)?;
        }
        if let Some(id) = self.provider_id() {
            validation::web_identity_provider_id(id)?;
        }
        if let Some(duration) = self.duration {
            validation::duration(duration, self.operation())?;
        }
        Ok(self)
    }

    /// Takes `other`'s value for every field that is not set here: values set here win.
    pub(crate) fn fill_unset_from(&mut self, other: SessionRequest) {
        // Destructured without `..`: a new field cannot be forgotten here.
        let SessionRequest {
            role_arn,
            role_session_name,
            duration,
            policy,
            policy_arns,
            tags,
            transitive_tag_keys,
            source_identity,
            identity,
        } = other;
        fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
            if slot.is_none() {
                *slot = value;
            }
        }
        fn fill_list<T>(slot: &mut ThinVec<T>, values: ThinVec<T>) {
            if slot.is_empty() {
                *slot = values;
            }
        }
        fill(&mut self.role_arn, role_arn);
        fill(&mut self.role_session_name, role_session_name);
        fill(&mut self.duration, duration);
        fill(&mut self.policy, policy);
        fill_list(&mut self.policy_arns, policy_arns);
        fill_list(&mut self.tags, tags);
        fill_list(&mut self.transitive_tag_keys, transitive_tag_keys);
        fill(&mut self.source_identity, source_identity);
        let Some(identity) = identity else { return };
        let IdentityParameters {
            external_id,
            mfa_serial,
            federation_token,
            web_identity,
            provider_id,
            saml_provider_arn,
        } = *identity;
        self.change_identity(|mine| {
            fill(&mut mine.external_id, external_id);
            fill(&mut mine.mfa_serial, mfa_serial);
            fill(&mut mine.federation_token, federation_token);
            fill(&mut mine.web_identity, web_identity);
            fill(&mut mine.provider_id, provider_id);
            fill(&mut mine.saml_provider_arn, saml_provider_arn);
        });
    }

    /// Everything that changes the session, as canonical JSON (field order fixed): what the
    /// file cache's key is a hash of. Take it before a default session name is generated: a
    /// name that differs per process must not split the cache.
    #[cfg(feature = "session-store")]
    pub(crate) fn cache_identity(&self) -> serde_json::Value {
        // Destructured without `..`: a new field cannot be left out of the key.
        let SessionRequest {
            role_arn,
            role_session_name,
            duration,
            policy,
            policy_arns,
            tags,
            transitive_tag_keys,
            source_identity,
            identity,
        } = self;
        let nothing = IdentityParameters::default();
        let IdentityParameters {
            external_id,
            mfa_serial,
            federation_token,
            web_identity,
            provider_id,
            saml_provider_arn,
        } = identity.as_deref().unwrap_or(&nothing);
        serde_json::json!({
            "operation": self.operation().name(),
            "role_arn": role_arn,
            "role_session_name": role_session_name,
            "duration_seconds": duration.map(|d| d.as_secs()),
            "external_id": external_id,
            "policy": policy,
            "policy_arns": policy_arns.as_slice(),
            "tags": tags.as_slice(),
            "transitive_tag_keys": transitive_tag_keys.as_slice(),
            "source_identity": source_identity,
            "mfa_serial": mfa_serial,
            "federation_token": federation_token,
            "web_identity": web_identity.as_ref().map(|source| match source {
                WebIdentity::File(path) => path.display().to_string(),
                WebIdentity::Caller => "caller".to_owned(),
                WebIdentity::Environment => "environment".to_owned(),
            }),
            "provider_id": provider_id,
            "saml_provider_arn": saml_provider_arn,
        })
    }
}

impl fmt::Debug for SessionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The one redacting Debug of the parameters: the external id may be a shared secret,
        // policies and tags may be large or name other tenants.
        f.debug_struct("SessionRequest")
            .field("operation", &self.operation())
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("duration", &self.duration)
            .field("external_id", &self.external_id().map(|_| "** set **"))
            .field("policy_chars", &self.policy.as_ref().map(|p| p.len()))
            .field("policy_arns", &self.policy_arns)
            .field("tags", &self.tags.len())
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("source_identity", &self.source_identity)
            .field("mfa_serial", &self.mfa_serial())
            .field("federation_token", &self.federation_token())
            .field("web_identity", &self.web_identity())
            .field("provider_id", &self.provider_id())
            .field("saml_provider_arn", &self.saml_provider_arn())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thin_vec::thin_vec;

    /// A request with every field set, and for each field a copy that differs in it alone.
    fn every_field_changed() -> (SessionRequest, Vec<(&'static str, SessionRequest)>) {
        let mut full = SessionRequest {
            role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
            role_session_name: Some("name".into()),
            duration: Some(Duration::from_secs(900)),
            policy: Some("{}".into()),
            policy_arns: thin_vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            tags: thin_vec![("k".into(), "v".into())],
            transitive_tag_keys: thin_vec!["k".into()],
            source_identity: Some("alice".into()),
            identity: None,
        };
        full.change_identity(|i| {
            i.external_id = Some("ext".into());
            i.mfa_serial = Some("arn:aws:iam::123456789012:mfa/m".into());
        });
        let changed = |what, change: fn(&mut SessionRequest)| {
            let mut other = full.clone();
            change(&mut other);
            (what, other)
        };
        let variants = vec![
            changed("role_arn", |r| r.role_arn = None),
            changed("role_session_name", |r| r.role_session_name = None),
            changed("duration", |r| r.duration = Some(Duration::from_secs(901))),
            changed("external_id", |r| {
                r.change_identity(|i| i.external_id = Some("other".into()))
            }),
            changed("policy", |r| r.policy = Some("{\"a\":1}".into())),
            changed("policy_arns", |r| r.policy_arns.clear()),
            changed("tags", |r| r.tags[0].1 = "w".into()),
            changed("transitive_tag_keys", |r| r.transitive_tag_keys.clear()),
            changed("source_identity", |r| r.source_identity = None),
            changed("mfa_serial", |r| r.change_identity(|i| i.mfa_serial = None)),
            changed("federation_token", |r| {
                r.change_identity(|i| i.federation_token = Some("f".into()))
            }),
            changed("web_identity", |r| {
                r.change_identity(|i| i.web_identity = Some(WebIdentity::Caller))
            }),
            changed("provider_id", |r| {
                r.change_identity(|i| i.provider_id = Some("www.amazon.com".into()))
            }),
            changed("saml_provider_arn", |r| {
                r.change_identity(|i| {
                    i.saml_provider_arn = Some("arn:aws:iam::123456789012:saml-provider/idp".into())
                })
            }),
        ];
        (full, variants)
    }

    #[cfg(feature = "session-store")]
    #[test]
    fn requests_differing_in_any_one_field_have_different_cache_identities() {
        let (full, variants) = every_field_changed();
        // One variant per field: the destructuring in `cache_identity` lists them all, and
        // this list is checked against it by the count of the JSON's keys.
        let keys = full.cache_identity().as_object().unwrap().len();
        assert_eq!(
            variants.len() + 1,
            keys,
            "one variant per field (+ operation)"
        );
        for (what, other) in variants {
            assert_ne!(full.cache_identity(), other.cache_identity(), "{what}");
        }
    }

    #[cfg(feature = "profile")]
    #[test]
    fn values_set_win_and_unset_ones_are_filled() {
        let (full, _) = every_field_changed();
        let mut partial = SessionRequest {
            role_arn: Some("arn:aws:iam::123456789012:role/mine".into()),
            ..SessionRequest::default()
        };
        partial.fill_unset_from(full.clone());
        assert_eq!(
            partial.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/mine")
        );
        partial.role_arn = full.role_arn.clone();
        assert_eq!(partial, full, "every other field filled");

        // The parameters that say who asks are filled one by one too, not as a whole.
        let mut partial = SessionRequest::default();
        partial.change_identity(|i| i.external_id = Some("mine".into()));
        partial.fill_unset_from(full.clone());
        assert_eq!(partial.external_id(), Some("mine"));
        assert_eq!(partial.mfa_serial(), full.mfa_serial());
    }

    #[test]
    fn a_request_stays_small_and_identity_parameters_set_then_cleared_leave_no_trace() {
        // Thousands are cached as scopes: each field here costs that many times over.
        assert!(
            std::mem::size_of::<SessionRequest>() <= 112,
            "{} bytes",
            std::mem::size_of::<SessionRequest>()
        );
        let mut request = SessionRequest::default();
        request.change_identity(|i| i.external_id = Some("ext".into()));
        assert_eq!(request.external_id(), Some("ext"));
        assert!(request.identity.is_some());
        request.change_identity(|i| i.external_id = None);
        // No box of nothing: it compares (and hashes) as a request that never set one.
        assert!(request.identity.is_none());
        assert_eq!(request, SessionRequest::default());
    }

    #[test]
    fn role_parameters_without_a_role_are_a_conflict_naming_the_field() {
        let request = SessionRequest {
            tags: thin_vec![("k".into(), "v".into())],
            ..SessionRequest::default()
        };
        let error = request.validate().unwrap_err();
        assert_eq!(error.field(), Some(Field::Tags));
        assert!(error.to_string().contains("GetSessionToken"), "{error}");
    }

    #[test]
    fn debug_output_redacts_the_external_id_and_the_policy() {
        let (full, _) = every_field_changed();
        let shown = format!("{full:?}");
        assert!(!shown.contains("ext\""), "{shown}");
        assert!(
            shown.contains("** set **") && !shown.contains("{}"),
            "{shown}"
        );
    }
}

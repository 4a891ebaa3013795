//! Named profiles of the shared config files (`~/.aws/config`, `~/.aws/credentials`) as a chain
//! of this crate's providers: one cached hop per `role_arn`, on the base credentials the chain
//! ends in (a profile's keys, `credential_source`, `credential_process`, SSO or web identity,
//! the last four through aws-config's own providers).
//!
//! The files are parsed by aws-config's profile loader. The walk from the selected profile
//! through its `source_profile`s follows aws-config's (and the AWS CLI's): a profile with
//! `role_arn` is a hop whose credentials come from its `source_profile` or `credential_source`
//! (exactly one of them); after the first profile, a profile's own keys end the walk; a profile
//! naming itself as `source_profile` uses its own keys; a profile seen twice is a cycle.
//!
//! Every error names the profile, the key and the file it is in.

mod base;
pub(crate) mod files;
mod settings;

pub(crate) use base::provider as base_provider;
pub(crate) use files::{LoadedProfiles, ProfileSelection};
pub(crate) use settings::{
    GLOBAL_STS_ENDPOINT, RegionSource, load as load_settings, wants_global_endpoint,
};

use crate::error::{BuildError, Field};
use crate::request::SessionRequest;
use aws_config::profile::Profile;
use std::time::Duration;

/// One role of the chain, as a profile describes it: the request its provider makes.
#[derive(Debug, Clone)]
pub(crate) struct ProfileHop {
    pub(crate) profile: String,
    /// Validated.
    pub(crate) request: SessionRequest,
}

/// The profile key that sets a field of the request (for errors about a profile's value).
pub(crate) fn key_of(field: Field) -> Option<&'static str> {
    match field {
        Field::RoleArn => Some("role_arn"),
        Field::RoleSessionName => Some("role_session_name"),
        Field::Duration => Some("duration_seconds"),
        Field::ExternalId => Some("external_id"),
        Field::Mfa => Some("mfa_serial"),
        Field::Region => Some("region"),
        Field::EndpointUrl => Some("endpoint_url"),
        _ => None,
    }
}

/// Where the first hop's credentials come from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// The access keys written in this profile.
    Keys {
        profile: String,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    /// `credential_source` of this profile.
    Source {
        profile: String,
        source: CredentialSource,
    },
    /// A profile without `role_arn` whose credentials aws-config's profile provider resolves:
    /// `credential_process`, SSO, web identity or a console login session.
    Delegated { profile: String },
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key and the session token stay out of every Debug output.
        match self {
            Base::Keys {
                profile,
                access_key_id,
                ..
            } => f
                .debug_struct("Keys")
                .field("profile", profile)
                .field("access_key_id", access_key_id)
                .finish_non_exhaustive(),
            Base::Source { profile, source } => f
                .debug_struct("Source")
                .field("profile", profile)
                .field("source", source)
                .finish(),
            Base::Delegated { profile } => f
                .debug_struct("Delegated")
                .field("profile", profile)
                .finish(),
        }
    }
}

/// The values `credential_source` may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialSource {
    Environment,
    Ec2InstanceMetadata,
    EcsContainer,
}

/// The roles to assume, base first, and what the first one is assumed with.
#[derive(Debug, Clone)]
pub(crate) struct ProfileChain {
    pub(crate) base: Base,
    /// From the role the base credentials assume to the selected profile's.
    pub(crate) hops: Vec<ProfileHop>,
}

/// Keys that make a profile a source of credentials of its own, other than access keys.
const DELEGATED_KEYS: &[&str] = &[
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
    "login_session",
];

/// How the selected profile is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selected {
    /// It is the role to assume (`build_from_profile` with `profile`): it must have
    /// `role_arn`.
    Role,
    /// It is the source of credentials for a role given otherwise (`source_profile`): read as
    /// a `source_profile` of another profile is — its keys, if any, are its credentials.
    Source,
}

/// Walks from the selected profile to the base credentials.
pub(crate) fn resolve_chain(
    profiles: &LoadedProfiles,
    selected: Selected,
) -> Result<ProfileChain, BuildError> {
    let mut name = profiles.selected().to_owned();
    let mut visited: Vec<String> = Vec::new();
    let mut hops = Vec::new();
    let base = loop {
        let Some(profile) = profiles.get(&name) else {
            let problem = match visited.last() {
                Some(from) => {
                    format!("is named as `source_profile` by profile `{from}`, but is not defined")
                }
                None => "is not defined".to_owned(),
            };
            return Err(profiles.error(&name, None, problem));
        };
        if visited.contains(&name) {
            visited.push(name.clone());
            return Err(profiles.error(
                &name,
                Some("source_profile"),
                format!("closes a cycle: {}", visited.join(" -> ")),
            ));
        }
        visited.push(name.clone());
        // The role's own profile, which must assume a role; every other is a source.
        let the_role = visited.len() == 1 && selected == Selected::Role;
        // A source's own keys are its credentials, whatever else it says (as aws-config and
        // the AWS CLI read it).
        if !the_role && profile.get("aws_access_key_id").is_some() {
            break keys(profiles, profile)?;
        }
        let Some(role_arn) = profile.get("role_arn") else {
            break leaf(profiles, profile, the_role)?;
        };
        if profile.get("web_identity_token_file").is_some() {
            if the_role {
                return Err(profiles.error(
                    &name,
                    Some("web_identity_token_file"),
                    "is set: the role is assumed with the web identity token (aws-config's \
                     WebIdentityTokenCredentialsProvider), not with other credentials; use it as \
                     the source of a profile that assumes the next role",
                ));
            }
            // A web identity profile assumes its role itself, with the token.
            break Base::Delegated {
                profile: name.clone(),
            };
        }
        hops.push(hop(profiles, profile, role_arn)?);
        match (
            profile.get("source_profile"),
            profile.get("credential_source"),
        ) {
            (Some(_), Some(_)) => {
                return Err(profiles.error(
                    &name,
                    Some("source_profile"),
                    "is set together with `credential_source`: give only one of them",
                ));
            }
            (None, None) => {
                return Err(profiles.error(
                    &name,
                    Some("role_arn"),
                    "needs `source_profile` or `credential_source` to say which credentials \
                     assume the role",
                ));
            }
            (None, Some(_)) => break credential_source(profiles, profile)?,
            (Some(source), None) if source == name => break keys(profiles, profile)?,
            (Some(source), None) => name = source.to_owned(),
        }
    };
    hops.reverse();
    Ok(ProfileChain { base, hops })
}

/// A profile at the end of the walk, without `role_arn`.
fn leaf(profiles: &LoadedProfiles, profile: &Profile, selected: bool) -> Result<Base, BuildError> {
    if selected {
        return Err(profiles.error(
            profile.name(),
            Some("role_arn"),
            "is not set: the profile has no role to assume (use its credentials directly, or \
             give a profile that assumes a role)",
        ));
    }
    if profile.get("credential_source").is_some() {
        return credential_source(profiles, profile);
    }
    if DELEGATED_KEYS.iter().any(|key| profile.get(key).is_some()) {
        return Ok(Base::Delegated {
            profile: profile.name().to_owned(),
        });
    }
    keys(profiles, profile)
}

/// The access keys written in a profile.
fn keys(profiles: &LoadedProfiles, profile: &Profile) -> Result<Base, BuildError> {
    let name = profile.name();
    let Some(access_key_id) = profile.get("aws_access_key_id") else {
        return Err(profiles.error(
            name,
            None,
            "has no credentials: none of `aws_access_key_id`, `credential_source`, \
             `credential_process`, `sso_session`/`sso_start_url`, `web_identity_token_file`",
        ));
    };
    let Some(secret_access_key) = profile.get("aws_secret_access_key") else {
        return Err(profiles.error(
            name,
            Some("aws_secret_access_key"),
            "is missing (`aws_access_key_id` is set)",
        ));
    };
    Ok(Base::Keys {
        profile: name.to_owned(),
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret_access_key.to_owned(),
        session_token: profile.get("aws_session_token").map(str::to_owned),
    })
}

/// `credential_source` of a profile.
fn credential_source(profiles: &LoadedProfiles, profile: &Profile) -> Result<Base, BuildError> {
    let source = match profile.get("credential_source") {
        Some("Environment") => CredentialSource::Environment,
        Some("Ec2InstanceMetadata") => CredentialSource::Ec2InstanceMetadata,
        Some("EcsContainer") => CredentialSource::EcsContainer,
        other => {
            return Err(profiles.error(
                profile.name(),
                Some("credential_source"),
                format!(
                    "must be `Environment`, `Ec2InstanceMetadata` or `EcsContainer`, got {:?}",
                    other.unwrap_or_default()
                ),
            ));
        }
    };
    Ok(Base::Source {
        profile: profile.name().to_owned(),
        source,
    })
}

/// The role a profile with `role_arn` assumes, its values checked as `build()` checks them.
fn hop(
    profiles: &LoadedProfiles,
    profile: &Profile,
    role_arn: &str,
) -> Result<ProfileHop, BuildError> {
    let name = profile.name();
    let text = |key: &str| profile.get(key).map(str::to_owned);
    let duration = match profile.get("duration_seconds") {
        None => None,
        Some(text) => Some(Duration::from_secs(text.trim().parse().map_err(|_| {
            profiles.error(
                name,
                Some("duration_seconds"),
                format!("must be a whole number of seconds, got {text:?}"),
            )
        })?)),
    };
    let request = SessionRequest {
        role_arn: Some(role_arn.to_owned()),
        role_session_name: text("role_session_name"),
        duration,
        external_id: text("external_id"),
        mfa_serial: text("mfa_serial"),
        ..SessionRequest::default()
    }
    .validate()
    .map_err(|error| profiles.value_error(name, error))?;
    Ok(ProfileHop {
        profile: name.to_owned(),
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn chain(
        config: &str,
        credentials: &str,
        selected: &str,
    ) -> Result<ProfileChain, BuildError> {
        let profiles = LoadedProfiles::from_contents(config, credentials, selected).await?;
        resolve_chain(&profiles, Selected::Role)
    }

    const KEYS: &str = "[keys]\naws_access_key_id = AKIDKEYS\naws_secret_access_key = s3cr3t\n";

    #[tokio::test]
    async fn a_three_profile_chain_is_three_hops_on_the_source_keys() {
        let config = "\
[profile a]
role_arn = arn:aws:iam::111111111111:role/first
source_profile = keys
mfa_serial = arn:aws:iam::111111111111:mfa/laptop
duration_seconds = 3600
[profile b]
role_arn = arn:aws:iam::222222222222:role/second
source_profile = a
external_id = agreed-2222
[profile c]
role_arn = arn:aws:iam::333333333333:role/third
source_profile = b
role_session_name = alice
";
        let chain = chain(config, KEYS, "c").await.unwrap();
        assert!(
            matches!(&chain.base, Base::Keys { profile, access_key_id, .. } if profile == "keys" && access_key_id == "AKIDKEYS")
        );
        let roles: Vec<&str> = chain
            .hops
            .iter()
            .map(|h| h.request.role_arn.as_deref().unwrap())
            .collect();
        assert_eq!(
            roles,
            [
                "arn:aws:iam::111111111111:role/first",
                "arn:aws:iam::222222222222:role/second",
                "arn:aws:iam::333333333333:role/third"
            ]
        );
        assert_eq!(
            chain.hops[0].request.mfa_serial.as_deref(),
            Some("arn:aws:iam::111111111111:mfa/laptop")
        );
        assert_eq!(
            chain.hops[0].request.duration,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            chain.hops[1].request.external_id.as_deref(),
            Some("agreed-2222")
        );
        assert_eq!(
            chain.hops[2].request.role_session_name.as_deref(),
            Some("alice")
        );
    }

    #[tokio::test]
    async fn sources_other_than_keys() {
        let config = "\
[profile env]
role_arn = arn:aws:iam::111111111111:role/r
credential_source = Environment
[profile process]
credential_process = /bin/false
[profile via-process]
role_arn = arn:aws:iam::111111111111:role/r
source_profile = process
[profile self]
role_arn = arn:aws:iam::111111111111:role/r
source_profile = self
aws_access_key_id = AKIDSELF
aws_secret_access_key = s
";
        let base =
            |selected: &'static str| async move { chain(config, "", selected).await.unwrap().base };
        assert_eq!(
            base("env").await,
            Base::Source {
                profile: "env".into(),
                source: CredentialSource::Environment
            }
        );
        assert_eq!(
            base("via-process").await,
            Base::Delegated {
                profile: "process".into()
            }
        );
        assert!(
            matches!(base("self").await, Base::Keys { access_key_id, .. } if access_key_id == "AKIDSELF")
        );
    }

    #[tokio::test]
    async fn every_error_names_the_profile_the_key_and_the_file() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = a\n",
                "a",
                "source_profile",
                "cycle: a -> b -> a",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = nowhere\n",
                "nowhere",
                "",
                "named as `source_profile` by profile `a`",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\n",
                "a",
                "role_arn",
                "needs `source_profile` or `credential_source`",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\ncredential_source = Environment\n",
                "a",
                "source_profile",
                "only one",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\ncredential_source = Laptop\n",
                "a",
                "credential_source",
                "Ec2InstanceMetadata",
            ),
            (
                "[profile a]\nrole_arn = not-an-arn\nsource_profile = keys\n",
                "a",
                "role_arn",
                "arn:PARTITION",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\nduration_seconds = 1h\n",
                "a",
                "duration_seconds",
                "whole number",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\nduration_seconds = 60\n",
                "a",
                "duration_seconds",
                "900",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\nexternal_id = bad id\n",
                "a",
                "external_id",
                "a space",
            ),
            (
                "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = empty\n[profile empty]\nregion = us-east-1\n",
                "empty",
                "",
                "has no credentials",
            ),
            (
                "[profile a]\nregion = us-east-1\n",
                "a",
                "role_arn",
                "no role to assume",
            ),
        ];
        for (config, profile, key, problem) in cases {
            let error = chain(config, KEYS, "a").await.unwrap_err();
            let text = error.to_string();
            assert!(text.contains(&format!("profile `{profile}`")), "{text}");
            if !key.is_empty() {
                assert!(text.contains(&format!("`{key}`")), "{text}");
            }
            assert!(text.contains(problem), "{text} should say {problem:?}");
            assert!(text.contains("config"), "names the file: {text}");
            assert_eq!(error.field(), Some(Field::Profile));
        }
        let error = chain("", "[keys]\naws_access_key_id = A\n", "keys-user")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("`keys-user`"), "{error}");
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let base = Base::Keys {
            profile: "p".into(),
            access_key_id: "AKIDPUBLIC".into(),
            secret_access_key: "the-secret".into(),
            session_token: Some("the-token".into()),
        };
        let text = format!("{base:?}");
        assert!(
            text.contains("AKIDPUBLIC")
                && !text.contains("the-secret")
                && !text.contains("the-token")
        );
    }

    #[tokio::test]
    async fn keys_in_the_credentials_file_are_said_to_be_there() {
        let config =
            "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\n";
        let error = chain(config, "[keys]\naws_access_key_id = AKID\n", "a")
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("`aws_secret_access_key`"), "{error}");
        assert!(
            error.contains("(/credentials)"),
            "the credentials file alone: {error}"
        );
        assert!(!error.contains("AKID"), "no key in errors: {error}");
    }
}

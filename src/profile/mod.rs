//! Named profiles of the shared config files (`~/.aws/config`, `~/.aws/credentials`) as a chain
//! of this crate's providers: one cached hop per `role_arn` — a web identity profile
//! (`role_arn` + `web_identity_token_file`) included — on the base credentials the chain ends
//! in (a profile's keys, `credential_source`, `credential_process` or SSO, the last three
//! through aws-config's own providers), or on none when its first hop is web identity.
//!
//! The files are parsed by aws-config's profile loader. The walk from the selected profile
//! through its `source_profile`s follows aws-config's (and the AWS CLI's): a profile with
//! `role_arn` is a hop whose credentials come from its `source_profile` or `credential_source`
//! (exactly one of them), or from its `web_identity_token_file`, which ends the walk; after the
//! first profile, a profile's own keys end the walk; a profile naming itself as
//! `source_profile` uses its own keys; a profile seen twice is a cycle.
//!
//! Beyond the AWS CLI, as aws-vault reads them, each hop also reads `source_identity`,
//! `session_tags` (`Key=Value,...`), `transitive_session_tags` (`Key,...`) and `mfa_process`
//! (a command that prints the code of its `mfa_serial` device).
//!
//! Every error names the profile, the key and the file it is in.

mod base;
pub(crate) mod files;
mod own_credentials;
mod settings;

pub(crate) use base::provider as base_provider;
pub(crate) use files::{LoadedProfiles, ProfileSelection};
pub(crate) use own_credentials::OwnCredentials;
pub(crate) use settings::{
    GLOBAL_STS_ENDPOINT, RegionSource, load as load_settings, wants_global_endpoint,
};

use crate::error::{BuildError, Field};
use crate::request::{SessionRequest, WebIdentity};
use aws_config::profile::Profile;
use std::time::Duration;

/// One role of the chain, as a profile describes it: the request its provider makes.
#[derive(Debug, Clone)]
pub(crate) struct ProfileHop {
    pub(crate) profile: String,
    /// Validated.
    pub(crate) request: SessionRequest,
    /// `mfa_process`: the command that prints the code of the hop's `mfa_serial` device.
    pub(crate) mfa_process: Option<String>,
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
        Field::SourceIdentity => Some("source_identity"),
        Field::Tags => Some("session_tags"),
        Field::TransitiveTagKeys => Some("transitive_session_tags"),
        Field::WebIdentityToken => Some("web_identity_token_file"),
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
    /// `credential_process`, SSO or a console login session.
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
    /// None when the first hop assumes its role with a web identity token: it needs no
    /// credentials.
    pub(crate) base: Option<Base>,
    /// From the role the base credentials assume to the selected profile's.
    pub(crate) hops: Vec<ProfileHop>,
}

/// Keys that make a profile a source of credentials of its own, other than access keys.
const DELEGATED_KEYS: &[&str] = &[
    "credential_process",
    "sso_session",
    "sso_start_url",
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
            break Some(keys(profiles, profile)?);
        }
        let Some(role_arn) = profile.get("role_arn") else {
            break Some(leaf(profiles, profile, the_role)?);
        };
        hops.push(hop(profiles, profile, role_arn)?);
        if profile.get("web_identity_token_file").is_some() {
            // A web identity profile assumes its role with the token: the walk ends here,
            // whatever `source_profile` says (as aws-config and the AWS CLI read it).
            break None;
        }
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
                    "needs `source_profile`, `credential_source` or `web_identity_token_file` \
                     to say what assumes the role",
                ));
            }
            (None, Some(_)) => break Some(credential_source(profiles, profile)?),
            (Some(source), None) if source == name => break Some(keys(profiles, profile)?),
            (Some(source), None) => name = source.to_owned(),
        }
    };
    hops.reverse();
    Ok(ProfileChain { base, hops })
}

/// A profile at the end of the walk, without `role_arn`. The selected profile itself may be
/// one (its own credentials are then served as they are), but not with `credential_source`,
/// which says what assumes a role.
fn leaf(profiles: &LoadedProfiles, profile: &Profile, selected: bool) -> Result<Base, BuildError> {
    if profile.get("credential_source").is_some() {
        if selected {
            return Err(profiles.error(
                profile.name(),
                Some("role_arn"),
                "is not set: `credential_source` says what assumes a role, and there is none",
            ));
        }
        return credential_source(profiles, profile);
    }
    if profile.get("web_identity_token_file").is_some() {
        return Err(profiles.error(
            profile.name(),
            Some("role_arn"),
            "is missing: `web_identity_token_file` is set, and a web identity token assumes a \
             role",
        ));
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
        if profile.get("aws_secret_access_key").is_some() {
            return Err(profiles.error(
                name,
                Some("aws_access_key_id"),
                "is missing (`aws_secret_access_key` is set)",
            ));
        }
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
    let list_error = |key: &str, problem: String| profiles.error(name, Some(key), problem);
    let tags = match profile.get("session_tags") {
        None => Vec::new(),
        Some(text) => session_tags(text).map_err(|p| list_error("session_tags", p))?,
    };
    let transitive_tag_keys = match profile.get("transitive_session_tags") {
        None => Vec::new(),
        Some(text) => key_list(text).map_err(|p| list_error("transitive_session_tags", p))?,
    };
    let mut request = SessionRequest::default();
    request.role_arn = Some(role_arn.into());
    request.role_session_name = text("role_session_name").map(Into::into);
    request.duration = duration;
    request.source_identity = text("source_identity").map(Into::into);
    request.tags = tags.into();
    request.transitive_tag_keys = transitive_tag_keys.into();
    request.change_identity(|i| {
        i.external_id = text("external_id");
        i.mfa_serial = text("mfa_serial");
        i.web_identity = profile
            .get("web_identity_token_file")
            .map(|path| WebIdentity::File(path.into()));
    });
    let request = request
        .validate()
        .map_err(|error| profiles.value_error(name, error))?;
    let mfa_process = text("mfa_process").filter(|command| !command.trim().is_empty());
    if mfa_process.is_some() && request.mfa_serial().is_none() {
        return Err(profiles.error(
            name,
            Some("mfa_process"),
            "is set, but `mfa_serial` is not: name the device whose codes it prints",
        ));
    }
    Ok(ProfileHop {
        profile: name.to_owned(),
        request,
        mfa_process,
    })
}

/// `session_tags = Key=Value,Key=Value` (aws-vault's form): each entry trimmed, split at its
/// first `=`. The keys and values are checked against STS's rules by `validate`.
fn session_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    entries(text)?
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) => Ok((key.trim().to_owned(), value.trim().to_owned())),
            None => Err(format!(
                "must be `Key=Value` pairs separated by commas; {entry:?} has no `=`"
            )),
        })
        .collect()
}

/// `transitive_session_tags = Key,Key`.
fn key_list(text: &str) -> Result<Vec<String>, String> {
    Ok(entries(text)?.map(str::to_owned).collect())
}

/// The comma-separated entries of a list value, trimmed; an empty one is a mistake (a
/// doubled or trailing comma), not something to skip silently.
fn entries(text: &str) -> Result<impl Iterator<Item = &str>, String> {
    if text.split(',').any(|entry| entry.trim().is_empty()) {
        return Err(format!(
            "has an empty entry (a doubled or trailing comma?) in {text:?}"
        ));
    }
    Ok(text.split(',').map(str::trim))
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
            matches!(&chain.base, Some(Base::Keys { profile, access_key_id, .. }) if profile == "keys" && access_key_id == "AKIDKEYS")
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
            chain.hops[0].request.mfa_serial(),
            Some("arn:aws:iam::111111111111:mfa/laptop")
        );
        assert_eq!(
            chain.hops[0].request.duration,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(chain.hops[1].request.external_id(), Some("agreed-2222"));
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
        let base = |selected: &'static str| async move {
            chain(config, "", selected).await.unwrap().base.unwrap()
        };
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
                "needs `source_profile`, `credential_source` or `web_identity_token_file`",
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
                "",
                "has no credentials",
            ),
            (
                "[profile a]\ncredential_source = Environment\n",
                "a",
                "role_arn",
                "there is none",
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

    /// A chain as the cross-SDK profile-chain cases describe one: the base, then each hop's
    /// operation and role, in the order they are assumed.
    fn outline(chain: &ProfileChain) -> Vec<String> {
        let base = match &chain.base {
            None => None,
            Some(Base::Keys { access_key_id, .. }) => Some(format!("keys {access_key_id}")),
            Some(Base::Source { source, .. }) => Some(format!("source {source:?}")),
            Some(Base::Delegated { profile }) => Some(format!("delegated {profile}")),
        };
        base.into_iter()
            .chain(chain.hops.iter().map(|hop| {
                let request = &hop.request;
                format!(
                    "{} {}",
                    request.operation().name(),
                    request.role_arn.as_deref().unwrap_or_default()
                )
            }))
            .collect()
    }

    /// The cases of the profile-chain tests the AWS SDKs share (aws-config keeps them as
    /// `assume-role-tests.json`), each written out here: what the chain is, or what the error
    /// says. The resolution must agree with aws-config's and the AWS CLI's on every one.
    #[tokio::test]
    async fn the_cross_sdk_profile_chain_cases() {
        let ok: &[(&str, &str, &[&str])] = &[
            (
                "a role on a source profile's keys",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\naws_access_key_id = AKIDB\naws_secret_access_key = s\n",
                &[
                    "keys AKIDB",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
            (
                "the selected profile's own keys are ignored when it names a source profile",
                "[profile a]\naws_access_key_id = AKIDA\naws_secret_access_key = s\n\
                 role_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\naws_access_key_id = AKIDB\naws_secret_access_key = s\n",
                &[
                    "keys AKIDB",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
            (
                "a profile naming itself uses its own keys",
                "[profile a]\naws_access_key_id = AKIDA\naws_secret_access_key = s\n\
                 role_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = a\n",
                &[
                    "keys AKIDA",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
            (
                "a credential source",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\n\
                 credential_source = Ec2InstanceMetadata\n",
                &[
                    "source Ec2InstanceMetadata",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
            (
                "two roles chained",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\nrole_arn = arn:aws:iam::123456789012:role/RoleB\nsource_profile = c\n\
                 [profile c]\naws_access_key_id = AKIDC\naws_secret_access_key = s\n",
                &[
                    "keys AKIDC",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleB",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
            (
                "a source profile's keys win over its own role",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 aws_access_key_id = AKIDA\naws_secret_access_key = s\n\
                 [profile b]\nrole_arn = arn:aws:iam::123456789012:role/RoleB\nsource_profile = c\n\
                 aws_access_key_id = AKIDB\naws_secret_access_key = s\n\
                 [profile c]\naws_access_key_id = AKIDC\naws_secret_access_key = s\n",
                &[
                    "keys AKIDB",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
            (
                "a web identity role",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\n\
                 web_identity_token_file = /var/token.jwt\n",
                &["AssumeRoleWithWebIdentity arn:aws:iam::123456789012:role/RoleA"],
            ),
            (
                "a web identity source profile",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\nrole_arn = arn:aws:iam::123456789012:role/RoleB\n\
                 web_identity_token_file = /var/token.jwt\nrole_session_name = pod\n",
                &[
                    "AssumeRoleWithWebIdentity arn:aws:iam::123456789012:role/RoleB",
                    "AssumeRole arn:aws:iam::123456789012:role/RoleA",
                ],
            ),
        ];
        for (case, config, expected) in ok {
            let resolved = chain(config, "", "a")
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(outline(&resolved), *expected, "{case}");
        }

        let web = chain(
            "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\n\
             web_identity_token_file = /var/token.jwt\nrole_session_name = some-session\n",
            "",
            "a",
        )
        .await
        .unwrap();
        let request = &web.hops[0].request;
        assert_eq!(request.role_session_name.as_deref(), Some("some-session"));
        assert_eq!(
            request.web_identity(),
            Some(&WebIdentity::File("/var/token.jwt".into()))
        );

        let errors: &[(&str, &str, &str)] = &[
            (
                "a role without a source",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\n",
                "needs `source_profile`",
            ),
            (
                "a source profile and a credential source",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\n\
                 credential_source = Environment\nsource_profile = b\n\
                 [profile b]\naws_access_key_id = AKIDB\naws_secret_access_key = s\n",
                "together with `credential_source`",
            ),
            (
                "keys without the secret",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\naws_access_key_id = AKIDB\n",
                "`aws_secret_access_key` is missing",
            ),
            (
                "a secret without the key id",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\naws_secret_access_key = s\n",
                "`aws_access_key_id` is missing",
            ),
            (
                "an empty source profile",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\n",
                "has no credentials",
            ),
            (
                "a missing source profile",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n",
                "is named as `source_profile` by profile `a`, but is not defined",
            ),
            ("no profiles at all", "", "is not defined"),
            (
                "a loop",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\nrole_arn = arn:aws:iam::123456789012:role/RoleB\nsource_profile = a\n",
                "cycle: a -> b -> a",
            ),
            (
                "a loop through a selected profile with keys",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 aws_access_key_id = AKIDA\naws_secret_access_key = s\n\
                 [profile b]\nrole_arn = arn:aws:iam::123456789012:role/RoleB\nsource_profile = a\n",
                "cycle: a -> b -> a",
            ),
            (
                "a web identity token file without a role",
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/RoleA\nsource_profile = b\n\
                 [profile b]\nweb_identity_token_file = /var/token.jwt\n",
                "`role_arn` is missing: `web_identity_token_file` is set",
            ),
        ];
        for (case, config, problem) in errors {
            let error = chain(config, "", "a").await.unwrap_err().to_string();
            assert!(error.contains(problem), "{case}: {error}");
        }
    }

    #[tokio::test]
    async fn each_hop_reads_source_identity_and_session_tags_as_aws_vault_does() {
        let config = "\
[profile a]
role_arn = arn:aws:iam::111111111111:role/first
source_profile = keys
source_identity = alice
session_tags = Project=alpha, Team = data platform ,CostCenter=1234
transitive_session_tags = Project,Team
[profile b]
role_arn = arn:aws:iam::222222222222:role/second
source_profile = a
session_tags = Project=beta
";
        let resolved = chain(config, KEYS, "b").await.unwrap();
        let first = &resolved.hops[0].request;
        assert_eq!(first.source_identity.as_deref(), Some("alice"));
        assert_eq!(
            first.tags,
            [
                ("Project".to_owned(), "alpha".to_owned()),
                ("Team".to_owned(), "data platform".to_owned()),
                ("CostCenter".to_owned(), "1234".to_owned()),
            ]
        );
        assert_eq!(first.transitive_tag_keys, ["Project", "Team"]);
        let second = &resolved.hops[1].request;
        assert_eq!(second.tags, [("Project".to_owned(), "beta".to_owned())]);
        assert_eq!(second.source_identity, None);
        assert!(second.transitive_tag_keys.is_empty());

        let role =
            "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\nsource_profile = keys\n";
        let web = "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/r\n\
                   web_identity_token_file = /var/token\n";
        let cases: &[(String, &str, &str)] = &[
            (
                format!("{role}session_tags = Project\n"),
                "session_tags",
                "has no `=`",
            ),
            (
                format!("{role}session_tags = A=1,,B=2\n"),
                "session_tags",
                "an empty entry",
            ),
            (
                format!("{role}session_tags = A=1,a=2\n"),
                "session_tags",
                "appears twice",
            ),
            (
                format!("{role}transitive_session_tags = Project,\n"),
                "transitive_session_tags",
                "an empty entry",
            ),
            (
                format!("{role}session_tags = A=1\ntransitive_session_tags = B\n"),
                "transitive_session_tags",
                "must be the key of one of the session tags",
            ),
            (
                format!("{role}source_identity = bad identity!\n"),
                "source_identity",
                "",
            ),
            // STS takes neither from a web identity caller: the token carries them.
            (
                format!("{web}session_tags = A=1\n"),
                "session_tags",
                "web identity",
            ),
            (
                format!("{web}source_identity = alice\n"),
                "source_identity",
                "web identity",
            ),
            (
                format!("{web}mfa_serial = arn:aws:iam::111111111111:mfa/x\n"),
                "mfa_serial",
                "web identity",
            ),
        ];
        for (config, key, problem) in cases {
            let error = chain(config, KEYS, "a").await.unwrap_err().to_string();
            assert!(error.contains(&format!("`{key}`")), "{config}: {error}");
            assert!(
                error.contains(problem),
                "{config}: {error} should say {problem:?}"
            );
            assert!(error.contains("profile `a`"), "{error}");
        }
    }
}

//! The variables that make an SDK take other credentials before the container endpoint's, or
//! point it at another endpoint or token: `exec` removes them from COMMAND's environment,
//! `serve` prints `unset` for them. One list, read from each SDK's default chain.

/// Every variable any SDK's default chain reads before the container-credentials endpoint:
/// - keys: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (all SDKs);
///   `AWS_ACCESS_KEY` and `AWS_SECRET_KEY` (Go v2 `env_config.go`, Java v1);
///   `SECRET_ACCESS_KEY` (aws-config); `AWS_SECURITY_TOKEN` (botocore);
///   `AMAZON_ACCESS_KEY_ID`, `AMAZON_SECRET_ACCESS_KEY`, `AMAZON_SESSION_TOKEN` (JS v2);
///   `AWS_CREDENTIAL_EXPIRATION` and `AWS_ACCOUNT_ID`, which describe those keys;
/// - profiles: `AWS_PROFILE`, `AWS_DEFAULT_PROFILE` (botocore, Go v2); files of keys:
///   `AWS_CREDENTIAL_FILE` (botocore's EC2 credentials file), `AWS_CREDENTIAL_PROFILES_FILE`
///   (Java v1), `BOTO_CONFIG` (botocore's boto config);
/// - web identity: `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME`;
/// - another container endpoint or token: `AWS_CONTAINER_*`.
///
/// The shared files' `[default]` profile comes before the endpoint too: see `shared_files`.
pub(crate) const WINNING_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AMAZON_ACCESS_KEY_ID",
    "AMAZON_SECRET_ACCESS_KEY",
    "AMAZON_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CREDENTIAL_FILE",
    "AWS_CREDENTIAL_PROFILES_FILE",
    "BOTO_CONFIG",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// The variable `serve` sets to its server's process id, for `kill` and `serve --stop`.
pub(crate) const SERVER_PID: &str = "CHAINABLE_CREDENTIALS_PID";

/// `unset` of every name in `names`, for a POSIX shell.
pub(crate) fn unset_line(names: &[&str]) -> String {
    format!("unset {}", names.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_each_name_once_and_every_alias_the_sdks_read() {
        let mut seen = std::collections::HashSet::new();
        for name in WINNING_VARIABLES {
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name} is a plain name"
            );
        }
        for alias in ["AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_CREDENTIAL_FILE"] {
            assert!(seen.contains(&alias), "{alias}");
        }
        assert_eq!(unset_line(&["A", "B"]), "unset A B");
    }
}

//! STS's parameter rules, checked in [`Builder::build`](crate::Builder::build) so that a bad value
//! is a [`BuildError`] naming the field and the rule instead of an STS `ValidationError` at the
//! first request (or, worse, in the middle of the night at the first refresh).
//!
//! The rules are those of the STS API reference for `AssumeRole` and `GetSessionToken`.

use crate::error::BuildError;
use std::time::Duration;

/// Shortest session STS grants, for both operations (15 minutes).
pub const MIN_SESSION_DURATION: Duration = Duration::from_secs(900);
/// Longest `DurationSeconds` STS accepts for `AssumeRole` (12 hours; the role's own maximum may be lower).
pub const MAX_ASSUME_ROLE_DURATION: Duration = Duration::from_secs(43_200);
/// Longest `DurationSeconds` STS accepts for `GetSessionToken` (36 hours).
pub const MAX_GET_SESSION_TOKEN_DURATION: Duration = Duration::from_secs(129_600);

/// The characters STS allows in role names and session names: `[\w+=,.@-]`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// The characters STS allows in an external id: `[\w+=,.@:/-]`.
fn is_external_id_char(c: char) -> bool {
    is_name_char(c) || matches!(c, ':' | '/')
}

/// Checks a length (in characters) and a character class, describing the first violation.
fn check_chars(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    class: &str,
    allowed: fn(char) -> bool,
    echo_bad_char: bool,
) -> Result<(), BuildError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(BuildError::invalid(
            field,
            format!("must be {min} to {max} characters of {class}, got {len} characters"),
        ));
    }
    if let Some((pos, bad)) = value.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        let what = if echo_bad_char {
            format!("{bad:?}")
        } else {
            "a character".to_owned()
        };
        return Err(BuildError::invalid(
            field,
            format!(
                "may only contain {class}, but character {} is {what}",
                pos + 1
            ),
        ));
    }
    Ok(())
}

/// `role_arn`: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, 20 to 2,048 characters, with a
/// 12-digit account and a role name of 1 to 64 characters of `[\w+=,.@-]`.
pub(crate) fn role_arn(arn: &str) -> Result<(), BuildError> {
    const FIELD: &str = "role_arn";
    const FORM: &str = "must have the form arn:PARTITION:iam::ACCOUNT_ID:role/[PATH/]NAME";
    let len = arn.chars().count();
    if !(20..=2048).contains(&len) {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}, 20 to 2048 characters, got {len} characters"),
        ));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM} (six ':'-separated parts)"),
        ));
    };
    if prefix != "arn" {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: must start with `arn:`"),
        ));
    }
    let partition_ok = partition
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && partition
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !partition_ok {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the partition must be like `aws`, `aws-cn` or `aws-us-gov`"),
        ));
    }
    if service != "iam" {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the service must be `iam` (a role ARN, not a session ARN)"),
        ));
    }
    if !region.is_empty() {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: IAM ARNs have no region (`iam::`)"),
        ));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the account id must be 12 digits"),
        ));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the resource must start with `role/`"),
        ));
    };
    let mut segments: Vec<&str> = path_and_name.split('/').collect();
    let name = segments.pop().unwrap_or_default();
    if segments
        .iter()
        .any(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_graphic() && c != '/'))
    {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: each path segment must be non-empty printable ASCII"),
        ));
    }
    let name_len = name.chars().count();
    if !(1..=64).contains(&name_len) || !name.chars().all(is_name_char) {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the role name must be 1 to 64 characters of [\\w+=,.@-]"),
        ));
    }
    Ok(())
}

/// `role_session_name`: 2 to 64 characters of `[\w+=,.@-]`.
pub(crate) fn role_session_name(name: &str) -> Result<(), BuildError> {
    check_chars(
        "role_session_name",
        name,
        2,
        64,
        "[\\w+=,.@-]",
        is_name_char,
        true,
    )
}

/// `external_id`: 2 to 1,224 characters of `[\w+=,.@:/-]`. The value is not echoed: some
/// treat it as a shared secret.
pub(crate) fn external_id(id: &str) -> Result<(), BuildError> {
    check_chars(
        "external_id",
        id,
        2,
        1224,
        "[\\w+=,.@:/-]",
        is_external_id_char,
        false,
    )
}

/// `duration`: whole seconds between 900 and the operation's maximum.
pub(crate) fn duration(d: Duration, assume_role: bool) -> Result<(), BuildError> {
    let (max, op) = if assume_role {
        (MAX_ASSUME_ROLE_DURATION, "AssumeRole")
    } else {
        (MAX_GET_SESSION_TOKEN_DURATION, "GetSessionToken")
    };
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || secs < MIN_SESSION_DURATION.as_secs() || secs > max.as_secs() {
        return Err(BuildError::invalid(
            "duration",
            format!(
                "must be whole seconds from {} to {} for {op}, got {:?}",
                MIN_SESSION_DURATION.as_secs(),
                max.as_secs(),
                d
            ),
        ));
    }
    Ok(())
}

/// `endpoint_url`: an absolute `http://` or `https://` URL with a host, no whitespace or
/// control characters, at most 2,048 characters.
pub(crate) fn endpoint_url(url: &str) -> Result<(), BuildError> {
    const FIELD: &str = "endpoint_url";
    if url.len() > 2048 {
        return Err(BuildError::invalid(
            FIELD,
            format!("must be at most 2048 bytes, got {}", url.len()),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BuildError::invalid(
            FIELD,
            "must not contain whitespace or control characters",
        ));
    }
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(BuildError::invalid(
            FIELD,
            "must be an absolute URL starting with http:// or https://",
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(BuildError::invalid(FIELD, "must name a host"));
    }
    let port = authority
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.contains(']'));
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(BuildError::invalid(
            FIELD,
            "the port must be a number up to 65535",
        ));
    }
    Ok(())
}

/// `load_timeout`: more than zero.
pub(crate) fn load_timeout(d: Duration) -> Result<(), BuildError> {
    if d.is_zero() {
        return Err(BuildError::invalid(
            "load_timeout",
            "must be more than zero",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_role_arns_with_and_without_paths() {
        for ok in [
            "arn:aws:iam::123456789012:role/demo",
            "arn:aws-cn:iam::123456789012:role/path/to/role+name=x,y.z@a-b",
            "arn:aws-us-gov:iam::000000000000:role/a",
        ] {
            assert_eq!(role_arn(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn accepts_ipv6_and_ports_in_endpoints() {
        for ok in [
            "http://127.0.0.1:5000",
            "https://sts.us-east-1.amazonaws.com",
            "http://[::1]:8080/",
            "http://localhost",
        ] {
            assert_eq!(endpoint_url(ok), Ok(()), "{ok}");
        }
    }
}

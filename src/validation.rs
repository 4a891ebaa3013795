//! STS's parameter rules, checked in [`Builder::build`](crate::Builder::build) so that a bad value
//! is a [`BuildError`] naming the field and the rule instead of an STS `ValidationError` at the
//! first request (or, worse, in the middle of the night at the first refresh).
//!
//! The rules are those of the STS API reference for `AssumeRole` and `GetSessionToken`.

use crate::arn::Arn;
use crate::error::{BuildError, Field};
use crate::operation::{MIN_SESSION_DURATION, Operation};
use std::time::Duration;

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
    field: Field,
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
        // Values that are not echoed (they may be shared secrets) still say what kind of
        // character is wrong.
        let what = match bad {
            ' ' => "a space".to_owned(),
            _ if echo_bad_char => format!("{bad:?}"),
            '\t' => "a tab".to_owned(),
            c if c.is_control() => "a control character".to_owned(),
            c if !c.is_ascii() => "a non-ASCII character".to_owned(),
            _ => "a symbol outside that set".to_owned(),
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
    const FIELD: Field = Field::RoleArn;
    const FORM: &str = "must have the form arn:PARTITION:iam::ACCOUNT_ID:role/[PATH/]NAME";
    stray_whitespace(FIELD, arn)?;
    let len = arn.chars().count();
    if !(20..=2048).contains(&len) {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}, 20 to 2048 characters, got {len} characters"),
        ));
    }
    if !arn.starts_with("arn:") {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: must start with `arn:`"),
        ));
    }
    let Some(parsed) = Arn::parse(arn) else {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM} (six ':'-separated parts)"),
        ));
    };
    if !parsed.has_valid_partition() {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the partition must be like `aws`, `aws-cn` or `aws-us-gov`"),
        ));
    }
    if parsed.service != "iam" {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the service must be `iam` (a role ARN, not a session ARN)"),
        ));
    }
    if !parsed.region.is_empty() {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: IAM ARNs have no region (`iam::`)"),
        ));
    }
    if !parsed.has_account_id() {
        return Err(BuildError::invalid(
            FIELD,
            format!("{FORM}: the account id must be 12 digits"),
        ));
    }
    let Some(path_and_name) = parsed.resource.strip_prefix("role/") else {
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
        Field::RoleSessionName,
        name,
        2,
        64,
        "[\\w+=,.@-]",
        is_name_char,
        true,
    )
}

/// `saml_assertion`'s provider: a SAML provider ARN,
/// `arn:PARTITION:iam::ACCOUNT_ID:saml-provider/NAME`, 20 to 2,048 characters.
pub(crate) fn saml_provider_arn(arn: &str) -> Result<(), BuildError> {
    let len = arn.chars().count();
    let ok = (20..=2048).contains(&len)
        && Arn::parse(arn).is_some_and(|parsed| {
            parsed.has_valid_partition()
                && parsed.service == "iam"
                && parsed.region.is_empty()
                && parsed.has_account_id()
                && parsed
                    .resource
                    .strip_prefix("saml-provider/")
                    .is_some_and(|name| {
                        !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic())
                    })
        });
    if ok {
        return Ok(());
    }
    Err(BuildError::invalid(
        Field::SamlAssertion,
        format!(
            "the provider must be a SAML provider ARN, \
             arn:PARTITION:iam::ACCOUNT_ID:saml-provider/NAME; got {}",
            shown(arn)
        ),
    ))
}

/// `web_identity_provider_id`: STS's `ProviderId`, 4 to 2,048 characters; a host name in
/// practice (`www.amazon.com`), so printable ASCII without spaces.
pub(crate) fn web_identity_provider_id(id: &str) -> Result<(), BuildError> {
    check_chars(
        Field::WebIdentityProviderId,
        id,
        4,
        2048,
        "printable ASCII, no spaces",
        |c| c.is_ascii_graphic(),
        true,
    )
}

/// `federation_token`: the federated user's `Name`, 2 to 32 characters of `[\w+=,.@-]`.
pub(crate) fn federated_user_name(name: &str) -> Result<(), BuildError> {
    check_chars(
        Field::FederationToken,
        name,
        2,
        32,
        "[\\w+=,.@-]",
        is_name_char,
        true,
    )
}

/// `external_id`: 2 to 1,224 characters of `[\w+=,.@:/-]`. The value is not echoed: some
/// treat it as a shared secret.
pub(crate) fn external_id(id: &str) -> Result<(), BuildError> {
    check_chars(
        Field::ExternalId,
        id,
        2,
        1224,
        "[\\w+=,.@:/-]",
        is_external_id_char,
        false,
    )
}

/// `duration`: whole seconds between 900 and the operation's maximum.
pub(crate) fn duration(d: Duration, operation: Operation) -> Result<(), BuildError> {
    let max = operation.max_duration();
    let op = operation.name();
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 || secs < MIN_SESSION_DURATION.as_secs() || secs > max.as_secs() {
        return Err(BuildError::invalid(
            Field::Duration,
            format!(
                "must be whole seconds from {} to {} for {op}, got {}",
                MIN_SESSION_DURATION.as_secs(),
                max.as_secs(),
                shown_seconds(d)
            ),
        ));
    }
    Ok(())
}

/// `region`: a region name as AWS writes them (`us-east-1`, `eu-west-2`, `cn-north-1`): 1 to 63
/// lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen
/// — a host label, since the region becomes part of the STS endpoint's host name.
pub(crate) fn region(region: &aws_types::region::Region) -> Result<(), BuildError> {
    let name = region.as_ref();
    stray_whitespace(Field::Region, name)?;
    let rule = "must be a region name such as `us-east-1`: 1 to 63 lowercase letters, digits \
                and hyphens, starting with a letter";
    let well_formed = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if well_formed {
        return Ok(());
    }
    let problem = match name.chars().position(|c| c == ' ') {
        Some(at) => format!(
            "{rule}; got {}, whose character {} is a space",
            shown(name),
            at + 1
        ),
        None => format!("{rule}; got {}", shown(name)),
    };
    Err(BuildError::invalid(Field::Region, problem))
}

/// `endpoint_url`: an absolute `http://` or `https://` URL with a host, no whitespace or
/// control characters, at most 2,048 characters; `http://` only for a loopback host unless
/// `allow_insecure` (sessions would cross the network in clear text).
pub(crate) fn endpoint_url(url: &str, allow_insecure: bool) -> Result<(), BuildError> {
    const FIELD: Field = Field::EndpointUrl;
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
    if url.starts_with("http://") && !allow_insecure && !is_loopback_host(host) {
        return Err(BuildError::invalid(
            FIELD,
            format!(
                "plain http:// is allowed for loopback hosts only (localhost, 127.0.0.0/8, \
                 [::1]): STS answers carry the session's secret key, and {} is not loopback; \
                 use https://, or call `allow_insecure_endpoint(true)` to send them in clear \
                 text anyway",
                shown(host)
            ),
        ));
    }
    Ok(())
}

/// `localhost`, `127.0.0.0/8`, `::1`. Not the subdomains of `localhost`: only some resolvers
/// keep them on loopback (a search domain or a DNS server may send them anywhere).
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Longest `load_timeout`: a day. Every wait of a refresh is a part of it, and deadlines are
/// computed from it: a longer one (`Duration::MAX`, meant as "never") would overflow them.
const MAX_LOAD_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// `load_timeout`: more than zero, at most [`MAX_LOAD_TIMEOUT`].
pub(crate) fn load_timeout(d: Duration) -> Result<(), BuildError> {
    if d.is_zero() || d > MAX_LOAD_TIMEOUT {
        return Err(BuildError::invalid(
            Field::LoadTimeout,
            format!(
                "must be more than zero and at most a day (86400 seconds), got {}",
                shown_seconds(d)
            ),
        ));
    }
    Ok(())
}

/// `metrics_name`: 1 to 64 characters of letters, digits, `_`, `-` and `.` — safe as a metric
/// attribute in every backend, and short.
#[cfg(feature = "telemetry")]
pub(crate) fn metrics_name(name: Option<&str>) -> Result<(), BuildError> {
    let Some(name) = name else {
        return Ok(());
    };
    check_chars(
        Field::MetricsName,
        name,
        1,
        crate::telemetry::MAX_NAME_LEN,
        "[A-Za-z0-9_.-]",
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
        true,
    )
}

/// A value pasted with a space, tab or newline before or after it: said as such, since the
/// rule it breaks otherwise (a bad role name, a bad region) hides the real mistake.
fn stray_whitespace(field: Field, value: &str) -> Result<(), BuildError> {
    let (at, c) = match (value.chars().next(), value.chars().next_back()) {
        (Some(c), _) if c.is_whitespace() => ("starts", c),
        (_, Some(c)) if c.is_whitespace() => ("ends", c),
        _ => return Ok(()),
    };
    let kind = match c {
        ' ' => "a space",
        '\t' => "a tab",
        '\n' | '\r' => "a line break",
        _ => "whitespace",
    };
    Err(BuildError::invalid(
        field,
        format!(
            "{} {at} with {kind}: remove it (copied with the value?)",
            shown(value)
        ),
    ))
}

/// Most managed session policies (`PolicyArns`) one call may carry.
const MAX_POLICY_ARNS: usize = 10;
/// Most session tags one call may carry.
const MAX_SESSION_TAGS: usize = 50;
/// Longest inline session policy, in characters of its packed (whitespace-free) JSON.
const MAX_POLICY_CHARS: usize = 2048;

/// `policy`: a JSON object of at most 2,048 characters once packed, of characters from U+0020
/// to U+00FF (plus tab, line feed, carriage return). Returns the packed form, which is what is
/// sent (it also keeps spaces out of the form-encoded request).
pub(crate) fn policy(json: &str) -> Result<String, BuildError> {
    const FIELD: Field = Field::Policy;
    if let Some((pos, _)) = json
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c, '\u{20}'..='\u{ff}' | '\t' | '\n' | '\r'))
    {
        return Err(BuildError::invalid(
            FIELD,
            format!(
                "may only contain characters U+0020 to U+00FF, tab, line feed and carriage \
                 return, but character {} is not one of them",
                pos + 1
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| BuildError::invalid(FIELD, format!("must be a JSON policy document: {e}")))?;
    if !value.is_object() {
        return Err(BuildError::invalid(
            FIELD,
            "must be a JSON object (a policy document)",
        ));
    }
    let packed = value.to_string();
    let len = packed.chars().count();
    if len > MAX_POLICY_CHARS {
        return Err(BuildError::invalid(
            FIELD,
            format!("must be at most {MAX_POLICY_CHARS} characters packed, got {len}"),
        ));
    }
    Ok(packed)
}

/// `policy_arns`: at most 10 ARNs of the form `arn:PARTITION:iam::ACCOUNT_ID|aws:policy/[PATH/]NAME`,
/// 20 to 2,048 characters each.
pub(crate) fn policy_arns(arns: &[String]) -> Result<(), BuildError> {
    const FIELD: Field = Field::PolicyArns;
    if arns.len() > MAX_POLICY_ARNS {
        return Err(BuildError::invalid(
            FIELD,
            format!(
                "at most {MAX_POLICY_ARNS} managed policies, got {}",
                arns.len()
            ),
        ));
    }
    for (i, arn) in arns.iter().enumerate() {
        let form = format!(
            "ARN {} must have the form arn:PARTITION:iam::ACCOUNT_ID:policy/[PATH/]NAME (or \
             `aws` as the account for AWS managed policies), 20 to 2048 characters",
            i + 1
        );
        let len = arn.chars().count();
        let ok = (20..=2048).contains(&len)
            && Arn::parse(arn).is_some_and(|arn| {
                arn.has_valid_partition()
                    && arn.service == "iam"
                    && arn.region.is_empty()
                    && (arn.account == "aws" || arn.has_account_id())
                    && arn.resource.strip_prefix("policy/").is_some_and(|rest| {
                        let name = rest.rsplit('/').next().unwrap_or_default();
                        !name.is_empty()
                            && name.chars().all(is_name_char)
                            && rest.chars().all(|c| c.is_ascii_graphic())
                    })
            });
        if !ok {
            return Err(BuildError::invalid(FIELD, form));
        }
    }
    Ok(())
}

/// A duration as people write it in seconds: `0 seconds`, `600 seconds`, `0.5 seconds`.
fn shown_seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} seconds", d.as_secs())
    } else {
        format!("{} seconds", d.as_secs_f64())
    }
}

/// A value for an error message: at most 40 characters, so a huge input gives a short error.
fn shown(value: &str) -> String {
    if value.chars().count() <= 40 {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(40).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}

/// The characters STS allows in session tag keys and values: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// `tags`: at most 50; keys 1 to 128 and values 0 to 256 characters of
/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; keys unique regardless of case and not starting with `aws:`.
pub(crate) fn tags(tags: &[(String, String)]) -> Result<(), BuildError> {
    const FIELD: Field = Field::Tags;
    const CLASS: &str = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]";
    if tags.len() > MAX_SESSION_TAGS {
        return Err(BuildError::invalid(
            FIELD,
            format!(
                "at most {MAX_SESSION_TAGS} session tags, got {}",
                tags.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, value) in tags {
        let key_len = key.chars().count();
        if !(1..=128).contains(&key_len) || !key.chars().all(is_tag_char) {
            return Err(BuildError::invalid(
                FIELD,
                format!(
                    "tag key {} must be 1 to 128 characters of {CLASS}",
                    shown(key)
                ),
            ));
        }
        if key.to_lowercase().starts_with("aws:") {
            return Err(BuildError::invalid(
                FIELD,
                format!(
                    "tag key {} may not start with `aws:` (reserved)",
                    shown(key)
                ),
            ));
        }
        if value.chars().count() > 256 || !value.chars().all(is_tag_char) {
            return Err(BuildError::invalid(
                FIELD,
                format!(
                    "the value of tag {} must be 0 to 256 characters of {CLASS}",
                    shown(key)
                ),
            ));
        }
        if !seen.insert(key.to_lowercase()) {
            return Err(BuildError::invalid(
                FIELD,
                format!(
                    "tag key {} appears twice (keys are case-insensitive)",
                    shown(key)
                ),
            ));
        }
    }
    Ok(())
}

/// `transitive_tag_keys`: each must be the key of one of the session tags (case-insensitively).
pub(crate) fn transitive_tag_keys(
    keys: &[String],
    tags: &[(String, String)],
) -> Result<(), BuildError> {
    for key in keys {
        if !tags
            .iter()
            .any(|(k, _)| k.to_lowercase() == key.to_lowercase())
        {
            return Err(BuildError::invalid(
                Field::TransitiveTagKeys,
                format!(
                    "{} must be the key of one of the session tags set with `tag`/`tags`",
                    shown(key)
                ),
            ));
        }
    }
    Ok(())
}

/// `source_identity`: 2 to 64 characters of `[\w+=,.@-]`, not starting with `aws:`.
pub(crate) fn source_identity(id: &str) -> Result<(), BuildError> {
    if id.to_lowercase().starts_with("aws:") {
        return Err(BuildError::invalid(
            Field::SourceIdentity,
            "may not start with `aws:` (reserved)",
        ));
    }
    check_chars(
        Field::SourceIdentity,
        id,
        2,
        64,
        "[\\w+=,.@-]",
        is_name_char,
        true,
    )
}

/// The characters STS allows in an MFA serial number: `[\w+=/:,.@-]`.
fn is_serial_char(c: char) -> bool {
    is_name_char(c) || matches!(c, '/' | ':')
}

/// `mfa` serial number: an MFA device ARN or a hardware device's serial, 9 to 256 characters
/// of `[\w+=/:,.@-]`.
pub(crate) fn mfa_serial(serial: &str) -> Result<(), BuildError> {
    check_chars(
        Field::Mfa,
        serial,
        9,
        256,
        "[\\w+=/:,.@-]",
        is_serial_char,
        true,
    )
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
    fn a_stray_space_around_an_arn_or_a_region_is_named_as_such() {
        let role = "arn:aws:iam::123456789012:role/demo";
        for (given, said) in [
            (format!("{role} "), "ends with a space"),
            (format!(" {role}"), "starts with a space"),
            (format!("{role}\n"), "ends with a line break"),
            (format!("\t{role}"), "starts with a tab"),
        ] {
            let error = role_arn(&given).unwrap_err().to_string();
            assert!(error.contains(said), "{given:?}: {error}");
        }
        let error = region(&aws_types::region::Region::new("eu-west-1 "))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ends with a space"), "{error}");
    }

    #[test]
    fn a_load_timeout_is_more_than_zero_and_at_most_a_day() {
        assert!(load_timeout(Duration::from_secs(1)).is_ok());
        assert!(load_timeout(MAX_LOAD_TIMEOUT).is_ok());
        for bad in [
            Duration::ZERO,
            MAX_LOAD_TIMEOUT + Duration::from_nanos(1),
            Duration::MAX,
        ] {
            let error = load_timeout(bad).unwrap_err().to_string();
            assert!(error.contains("at most a day"), "{error}");
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
            assert_eq!(endpoint_url(ok, false), Ok(()), "{ok}");
        }
    }

    #[test]
    fn plain_http_is_for_loopback_only_unless_allowed() {
        for loopback in [
            "http://127.0.0.1:5000",
            "http://127.1.2.3",
            "http://[::1]:8080/",
            "http://localhost:4566",
            "http://LOCALHOST.",
        ] {
            assert_eq!(endpoint_url(loopback, false), Ok(()), "{loopback}");
        }
        for remote in [
            "http://sts.example.com",
            "http://10.0.0.1:8080",
            "http://[fe80::1]/",
            "http://localhost.example.com",
            "http://sts.localhost",
            "http://user@sts.example.com",
        ] {
            let error = endpoint_url(remote, false).unwrap_err();
            assert_eq!(error.field(), Some(Field::EndpointUrl), "{remote}");
            assert!(
                error.to_string().contains("allow_insecure_endpoint"),
                "{error}"
            );
            assert_eq!(endpoint_url(remote, true), Ok(()), "{remote}");
        }
        assert_eq!(endpoint_url("https://sts.example.com", false), Ok(()));
    }
}

//! What the command prints: the `credential_process` JSON or shell `export` lines. Both hold
//! the secret on purpose, and go to standard output only.

use aws_credential_types::Credentials;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The JSON the AWS CLI and SDKs read from a `credential_process`: `Version` 1 and the four
/// fields, on one line.
pub(crate) fn credential_process_json(credentials: &Credentials) -> String {
    let mut out = serde_json::Map::new();
    out.insert("Version".into(), 1.into());
    out.insert("AccessKeyId".into(), credentials.access_key_id().into());
    out.insert(
        "SecretAccessKey".into(),
        credentials.secret_access_key().into(),
    );
    if let Some(token) = credentials.session_token() {
        out.insert("SessionToken".into(), token.into());
    }
    if let Some(expiration) = credentials.expiry().and_then(rfc3339_seconds) {
        out.insert("Expiration".into(), expiration.into());
    }
    // Read by aws-config's own credential_process reader (account-based endpoints).
    if let Some(account) = credentials.account_id() {
        out.insert("AccountId".into(), account.as_str().into());
    }
    serde_json::Value::Object(out).to_string()
}

/// `export` lines for a POSIX shell, values single-quoted.
pub(crate) fn export_lines(credentials: &Credentials) -> String {
    let mut lines = vec![
        export("AWS_ACCESS_KEY_ID", credentials.access_key_id()),
        export("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key()),
    ];
    if let Some(token) = credentials.session_token() {
        lines.push(export("AWS_SESSION_TOKEN", token));
    }
    if let Some(expiration) = credentials.expiry().and_then(rfc3339_seconds) {
        lines.push(export("AWS_CREDENTIAL_EXPIRATION", &expiration));
    }
    lines.join("\n")
}

/// `export NAME='value'`, the value single-quoted for a POSIX shell.
pub(crate) fn export(name: &str, value: &str) -> String {
    format!("export {name}='{}'", value.replace('\'', r"'\''"))
}

/// RFC 3339 in whole seconds, rounded down: a reader never believes the credentials last
/// longer than they do.
fn rfc3339_seconds(time: SystemTime) -> Option<String> {
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    DateTime::from(UNIX_EPOCH + Duration::from_secs(seconds))
        .fmt(Format::DateTime)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::new(
            "ASIAEXAMPLE",
            "secret/with+chars",
            Some("to'ken".into()),
            Some(UNIX_EPOCH + Duration::from_millis(1_795_000_000_999)),
            "test",
        )
    }

    #[test]
    fn the_json_is_what_credential_process_readers_expect() {
        let json: serde_json::Value =
            serde_json::from_str(&credential_process_json(&credentials())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Version": 1,
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "secret/with+chars",
                "SessionToken": "to'ken",
                "Expiration": "2026-11-18T11:06:40Z",
            })
        );
    }

    #[test]
    fn export_lines_quote_for_the_shell() {
        let lines = export_lines(&credentials());
        assert!(
            lines.contains("export AWS_SESSION_TOKEN='to'\\''ken'"),
            "{lines}"
        );
        assert!(lines.contains("export AWS_CREDENTIAL_EXPIRATION='2026-11-18T11:06:40Z'"));
        assert_eq!(lines.lines().count(), 4);
    }
}

//! What the command prints: the `credential_process` JSON or shell `export` lines. Both hold
//! the secret on purpose, and go to standard output only — into a regular file only once that
//! file is readable by its owner alone.

use crate::provider::Failure;
use aws_credential_types::Credentials;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use std::io::Write;
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

/// Lines with a secret (credentials, a token) to standard output. A regular file there (`>
/// file`) is made readable by its owner only first, as a token file is: the shell created it
/// with the umask's mode (0644, often). Refused if that cannot be done.
pub(crate) fn write_secret_lines(text: &str) -> Result<(), Failure> {
    let failed = |reason: String| Failure::Failed(reason.into());
    private_if_a_file().map_err(failed)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| failed(format!("cannot write to standard output: {e}")))
}

/// Narrows standard output to 0600 when it is a regular file.
fn private_if_a_file() -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::PermissionsExt;
        let Ok(owned) = std::io::stdout().as_fd().try_clone_to_owned() else {
            return Ok(());
        };
        let file = std::fs::File::from(owned);
        let Ok(metadata) = file.metadata() else {
            return Ok(());
        };
        if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .and_then(|()| crate::private_dir::only_owner_reads(&file))
                .map_err(|e| {
                    format!(
                        "standard output is a file others may read, and it cannot be made \
                         private ({e}): the credentials are not written to it"
                    )
                })?;
        }
    }
    Ok(())
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

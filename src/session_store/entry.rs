//! The content of one cache entry: a session and the key it was stored under, as JSON.
//!
//! ```json
//! {"Format":"chainable-credentials/file-cache/v2","Key":"<64 hex digits>",
//!  "AccessKeyId":"ASIA…","SecretAccessKey":"…","SessionToken":"…",
//!  "ReceivedAt":"2026-11-23T16:00:00.123Z","Expiration":"2026-11-23T17:00:00Z","AccountId":"…"}
//! ```
//!
//! Times are in the local clock's frame (STS's `Expiration` already translated with the
//! response's `Date`), which every process on the machine shares.

use crate::session::{Origin, Session, SessionKeys};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value};
use std::time::SystemTime;

/// The format tag of the entries this version writes and reads (`"Format"` in the JSON);
/// entries of any other format are ignored (and replaced on the next write). v2: keys that
/// include the source's secret (see `key.rs`); v1 entries are never looked up again.
pub(crate) const ENTRY_FORMAT: &str = "chainable-credentials/file-cache/v2";

/// Serializes `session` as the entry for `key`; `None` for times RFC 3339 cannot express.
pub(crate) fn to_bytes(key: &str, session: &Session) -> Option<Vec<u8>> {
    let credentials = &session.credentials;
    let mut entry = Map::new();
    entry.insert("Format".into(), ENTRY_FORMAT.into());
    entry.insert("Key".into(), key.into());
    entry.insert("AccessKeyId".into(), credentials.access_key_id().into());
    entry.insert(
        "SecretAccessKey".into(),
        credentials.secret_access_key().into(),
    );
    entry.insert(
        "SessionToken".into(),
        credentials.session_token().unwrap_or_default().into(),
    );
    entry.insert("ReceivedAt".into(), rfc3339(session.received_at)?.into());
    entry.insert("Expiration".into(), rfc3339(session.expires_at)?.into());
    if let Some(account) = credentials.account_id() {
        entry.insert("AccountId".into(), account.as_str().into());
    }
    Some(Value::Object(entry).to_string().into_bytes())
}

/// Parses an entry and checks that it is a complete session stored under `key`. The error
/// says what is wrong, for a debug line; it never quotes the content.
pub(crate) fn from_bytes(key: &str, bytes: &[u8]) -> Result<Session, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let entry = value.as_object().ok_or("not a JSON object")?;
    let text = |field: &str| -> Result<&str, String> {
        entry
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("missing or empty {field}"))
    };
    let format = text("Format")?;
    if format != ENTRY_FORMAT {
        return Err(format!("format {format:?} is not {ENTRY_FORMAT:?}"));
    }
    if text("Key")? != key {
        return Err("stored under another key".into());
    }
    let time = |field: &str| -> Result<SystemTime, String> {
        DateTime::from_str(text(field)?, Format::DateTime)
            .ok()
            .and_then(|t| SystemTime::try_from(t).ok())
            .ok_or_else(|| format!("{field} is not an RFC 3339 time"))
    };
    let received_at = time("ReceivedAt")?;
    let expires_at = time("Expiration")?;
    if expires_at <= received_at {
        return Err("expires before it was received".into());
    }
    let mut session = Session::new(
        SessionKeys {
            access_key_id: text("AccessKeyId")?.to_owned(),
            secret_access_key: text("SecretAccessKey")?.to_owned(),
            session_token: text("SessionToken")?.to_owned(),
            account_id: text("AccountId").ok().map(str::to_owned),
        },
        received_at,
        expires_at,
    );
    session.origin = Origin::Store;
    Ok(session)
}

fn rfc3339(time: SystemTime) -> Option<String> {
    DateTime::from(time).fmt(Format::DateTime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn session() -> Session {
        let received_at = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        Session::new(
            SessionKeys {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: "secret".into(),
                session_token: "token".into(),
                account_id: Some("123456789012".into()),
            },
            received_at,
            received_at + Duration::from_secs(3600),
        )
    }

    #[test]
    fn an_entry_round_trips() {
        let bytes = to_bytes("k", &session()).unwrap();
        let back = from_bytes("k", &bytes).unwrap();
        assert_eq!(back.received_at, session().received_at);
        assert_eq!(back.expires_at, session().expires_at);
        assert_eq!(back.credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(back.credentials.secret_access_key(), "secret");
        assert_eq!(back.credentials.session_token(), Some("token"));
        assert_eq!(back.credentials.expiry(), Some(session().expires_at));
        assert_eq!(
            back.credentials.account_id().map(|a| a.as_str()),
            Some("123456789012")
        );
    }

    #[test]
    fn damaged_or_foreign_entries_are_refused() {
        let good = String::from_utf8(to_bytes("k", &session()).unwrap()).unwrap();
        let cases = [
            (good[..good.len() / 2].to_owned(), "not valid JSON"),
            ("[]".to_owned(), "not a JSON object"),
            (good.replace("file-cache/v2", "file-cache/v1"), "format"),
            (
                good.replace("\"Key\":\"k\"", "\"Key\":\"other\""),
                "another key",
            ),
            (
                good.replace("\"SessionToken\":\"token\"", "\"SessionToken\":\"\""),
                "SessionToken",
            ),
            (
                good.replace("\"Expiration\":\"", "\"Expiration\":\"x"),
                "Expiration",
            ),
        ];
        for (bytes, problem) in cases {
            let error = from_bytes("k", bytes.as_bytes()).unwrap_err();
            assert!(
                error.contains(problem),
                "{error:?} should mention {problem:?}"
            );
            assert!(!error.contains("secret") && !error.contains("token\""));
        }
        assert!(from_bytes("other", good.as_bytes()).is_err());
    }
}

//! The name of a cache entry: a SHA-256 over the source credentials and every parameter that
//! changes the session, so that two source users, or two differently scoped sessions of one
//! role, never share an entry.
//!
//! The source is its access key id *and* a hash of its secret key: access key ids are not
//! secret (they appear in presigned URLs and logs), so a key over the id alone would hand the
//! cached session to any same-user process that knows one. The secret enters only through its
//! own domain-separated SHA-256, and the entry name is a hash over that: neither the name nor
//! the file reveals it. A web identity hop has no base credentials: its source is the token
//! itself, hashed the same way, so only a process holding the same token finds the entry (a
//! rotated token is a new entry).

use crate::request::SessionRequest;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use sha2::{Digest, Sha256};
use std::fmt;

/// Tells this crate's keys apart from any other use of the directory, and changes when the
/// meaning of the key's fields does (old entries are then simply never looked up again, and
/// swept out once they are old). v2: the source's secret key is part of the key.
const KEY_DOMAIN: &str = "chainable-credentials/file-cache/key/v2";

/// Separates the hash of the source's secret key from every other hash of this crate.
const SECRET_DOMAIN: &str = "chainable-credentials/file-cache/source-secret/v1";

/// Who the session is obtained as: the part of the key that changes with the caller.
#[derive(Clone, Copy)]
pub(crate) enum KeySource<'a> {
    /// Base credentials that sign the call.
    Credentials(&'a Credentials),
    /// The web identity token of an unsigned `AssumeRoleWithWebIdentity`.
    WebIdentityToken(&'a str),
}

/// The key domain of sessions obtained with a web identity token: a domain of its own, so no
/// base credentials' key can equal a token's, whatever their values.
const WEB_IDENTITY_KEY_DOMAIN: &str = "chainable-credentials/file-cache/key/web-identity/v1";

/// Everything except the source principal, fixed at `build()`: what the provider asks STS for.
#[derive(Clone)]
pub(crate) struct KeyBasis {
    /// Canonical JSON of the parameters (field order fixed by construction).
    canonical: String,
}

impl fmt::Debug for KeyBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The parameters include the external id, which Debug output elsewhere redacts too.
        f.debug_struct("KeyBasis").finish_non_exhaustive()
    }
}

impl KeyBasis {
    /// The parameters of `request` as the user gave them (before a default session name is
    /// generated: a name that differs per process must not split the cache), and where STS
    /// is called.
    pub(crate) fn new(
        request: &SessionRequest,
        region: &Region,
        endpoint_url: Option<&str>,
    ) -> Self {
        let value = serde_json::json!({
            "request": request.cache_identity(),
            "region": region.as_ref(),
            "endpoint_url": endpoint_url,
        });
        KeyBasis {
            canonical: value.to_string(),
        }
    }

    /// The entry key for sessions obtained as `source`: 64 lowercase hex digits.
    pub(crate) fn key_for(&self, source: KeySource<'_>) -> String {
        let secret_hash = |secret: &str| hex(sha256_of(&[SECRET_DOMAIN, secret]));
        match source {
            KeySource::Credentials(base) => hex(sha256_of(&[
                KEY_DOMAIN,
                base.access_key_id(),
                &secret_hash(base.secret_access_key()),
                &self.canonical,
            ])),
            KeySource::WebIdentityToken(token) => hex(sha256_of(&[
                WEB_IDENTITY_KEY_DOMAIN,
                &secret_hash(token),
                &self.canonical,
            ])),
        }
    }
}

/// SHA-256 over length-prefixed fields: no two different field lists hash the same bytes.
fn sha256_of(fields: &[&str]) -> impl AsRef<[u8]> {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize()
}

fn hex(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(duration: Option<u64>, external_id: Option<&str>) -> SessionRequest {
        let mut request = SessionRequest::default();
        request.role_arn = Some("arn:aws:iam::123456789012:role/r".into());
        request.duration = duration.map(std::time::Duration::from_secs);
        request.change_identity(|i| i.external_id = external_id.map(str::to_owned));
        request
    }

    fn source(access_key_id: &str) -> Credentials {
        Credentials::new(access_key_id, "the-secret", None, None, "test")
    }

    fn key(request: &SessionRequest, access_key_id: &str) -> String {
        KeyBasis::new(request, &Region::new("us-east-1"), None)
            .key_for(KeySource::Credentials(&source(access_key_id)))
    }

    #[test]
    fn debug_output_does_not_show_the_parameters() {
        let params = KeyBasis::new(
            &request(None, Some("the-external-id")),
            &Region::new("us-east-1"),
            None,
        );
        assert!(!format!("{params:?}").contains("the-external-id"));
    }

    #[test]
    fn keys_are_hex_sha256() {
        let k = key(&request(None, None), "AKIDA");
        assert_eq!(k.len(), 64);
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn the_source_principal_and_each_parameter_change_the_key() {
        let base = key(&request(None, None), "AKIDA");
        assert_eq!(base, key(&request(None, None), "AKIDA"), "deterministic");
        assert_ne!(base, key(&request(None, None), "AKIDB"));
        assert_ne!(base, key(&request(Some(900), None), "AKIDA"));
        assert_ne!(base, key(&request(None, Some("x")), "AKIDA"));
        let params = |region: &str, endpoint: Option<&str>, name: Option<&str>| {
            let mut request = request(None, None);
            request.role_session_name = name.map(Into::into);
            KeyBasis::new(&request, &Region::new(region.to_owned()), endpoint)
                .key_for(KeySource::Credentials(&source("AKIDA")))
        };
        assert_ne!(base, params("eu-west-1", None, None));
        assert_ne!(base, params("us-east-1", Some("http://127.0.0.1:1"), None));
        assert_ne!(base, params("us-east-1", None, Some("named")));
        // Every other field of the request: `SessionRequest::cache_identity`'s own test.
    }

    #[test]
    fn another_secret_for_the_same_access_key_id_is_another_key() {
        let params = KeyBasis::new(&request(None, None), &Region::new("us-east-1"), None);
        let key = |credentials: &Credentials| params.key_for(KeySource::Credentials(credentials));
        let other = Credentials::new("AKIDA", "another-secret", None, None, "test");
        assert_ne!(key(&source("AKIDA")), key(&other));
        // The session token does not enter the key: the same keys with a refreshed token
        // are the same source.
        let with_token = Credentials::new("AKIDA", "the-secret", Some("t".into()), None, "x");
        assert_eq!(key(&source("AKIDA")), key(&with_token));
    }

    #[test]
    fn a_web_identity_token_is_its_own_source_and_a_rotated_one_another() {
        let params = KeyBasis::new(&request(None, None), &Region::new("us-east-1"), None);
        let token = |t: &str| params.key_for(KeySource::WebIdentityToken(t));
        assert_eq!(token("token-one"), token("token-one"));
        assert_ne!(token("token-one"), token("token-two"));
        // No base credentials share a token's entry, whatever their values.
        for (id, secret) in [
            ("", "token-one"),
            ("token-one", ""),
            ("token-one", "token-one"),
        ] {
            let lookalike = Credentials::new(id, secret, None, None, "x");
            assert_ne!(
                token("token-one"),
                params.key_for(KeySource::Credentials(&lookalike))
            );
        }
    }
}

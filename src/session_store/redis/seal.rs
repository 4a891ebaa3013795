//! Sealing: what Valkey holds is neither readable nor forgeable without the sealing key.
//!
//! - **Names.** An entry's name is `PREFIX` + 64 hex digits of HMAC-SHA-256, under a key
//!   derived from the sealing key, of the entry's key (itself a hash over the source principal
//!   and the session's parameters): nothing in Valkey names a role, a tenant, a session or an
//!   access key, and whoever lacks the sealing key cannot tell which name is whose.
//! - **Values.** `CCS1` + the sealing key's id (8 bytes) + a random 96-bit nonce + AES-256-GCM
//!   of the entry, with the entry's name as associated data: a value moved under another name,
//!   changed by one bit, or sealed with another key fails to open.
//! - **Rotation.** Several keys are accepted: the first seals; each key's name of an entry is
//!   looked up, so entries sealed with an older key are read until they expire.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// The start of every sealed value: this format, version 1.
const MAGIC: &[u8; 4] = b"CCS1";
/// Bytes of a sealing key's id in a value.
const KEY_ID_BYTES: usize = 8;
/// Bytes of a nonce.
const NONCE_BYTES: usize = 12;

/// Derives the subkeys from the sealing key, each in a domain of its own (the sealing key
/// itself keys nothing but these derivations): the cipher's, the names', the id's.
const CIPHER_DOMAIN: &[u8] = b"chainable-credentials/session-store/aes-256-gcm/v1";
const NAMES_DOMAIN: &[u8] = b"chainable-credentials/session-store/names/v1";
const ID_DOMAIN: &[u8] = b"chainable-credentials/session-store/key-id/v1";

/// One sealing key: its cipher, the key its entry names are hashed under, and its id.
struct SealingKey {
    cipher: Aes256Gcm,
    names: [u8; 32],
    id: [u8; KEY_ID_BYTES],
}

/// The keys a store seals with (the first) and opens with (any).
pub(super) struct Sealer {
    keys: Vec<SealingKey>,
    prefix: String,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the keys: how many there are, and the prefix.
        f.debug_struct("Sealer")
            .field("keys", &self.keys.len())
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl Sealer {
    /// Seals with the first of `keys` and opens with any; names start with `prefix`.
    pub(super) fn new(keys: &[[u8; 32]], prefix: String) -> Sealer {
        let keys = keys
            .iter()
            .map(|key| {
                let id = hmac(key, &[ID_DOMAIN]);
                SealingKey {
                    cipher: Aes256Gcm::new((&hmac(key, &[CIPHER_DOMAIN])).into()),
                    names: hmac(key, &[NAMES_DOMAIN]),
                    id: id[..KEY_ID_BYTES].try_into().unwrap_or_default(),
                }
            })
            .collect();
        Sealer { keys, prefix }
    }

    /// The names of the entry `key` under each sealing key, the sealing one first.
    pub(super) fn names(&self, key: &str) -> Vec<String> {
        self.keys.iter().map(|k| self.name_under(k, key)).collect()
    }

    /// The name of the lease that elects the one fetching `key`.
    pub(super) fn lease_name(&self, key: &str) -> String {
        let first = &self.keys[0];
        format!(
            "{}lease:{}",
            self.prefix,
            hex(&hmac(&first.names, &[b"lease:", key.as_bytes()]))
        )
    }

    fn name_under(&self, sealing: &SealingKey, key: &str) -> String {
        format!(
            "{}{}",
            self.prefix,
            hex(&hmac(&sealing.names, &[key.as_bytes()]))
        )
    }

    /// `plain` sealed with the first key, for the name `name`.
    pub(super) fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, String> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| format!("no random bytes for a nonce: {e}"))?;
        let sealed = key
            .cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| "cannot seal the entry".to_owned())?;
        let mut value = Vec::with_capacity(MAGIC.len() + KEY_ID_BYTES + NONCE_BYTES + sealed.len());
        value.extend_from_slice(MAGIC);
        value.extend_from_slice(&key.id);
        value.extend_from_slice(&nonce);
        value.extend_from_slice(&sealed);
        Ok(value)
    }

    /// The entry sealed in `value`, stored under the `index`-th name: `Err` says why not (an
    /// unknown format, a key not given, a value changed or moved), never what it holds.
    pub(super) fn open(&self, index: usize, name: &str, value: &[u8]) -> Result<Vec<u8>, String> {
        let key = self.keys.get(index).ok_or("no such sealing key")?;
        let header = MAGIC.len() + KEY_ID_BYTES + NONCE_BYTES;
        if value.len() < header || &value[..MAGIC.len()] != MAGIC {
            return Err("not a sealed entry of this format".into());
        }
        let id = &value[MAGIC.len()..MAGIC.len() + KEY_ID_BYTES];
        if id != key.id {
            return Err("sealed with a key this store was not given".into());
        }
        let nonce: [u8; NONCE_BYTES] = value[MAGIC.len() + KEY_ID_BYTES..header]
            .try_into()
            .map_err(|_| "a malformed nonce")?;
        key.cipher
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: &value[header..],
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| "does not open: changed, moved from another name, or forged".into())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sealing key from 64 hexadecimal characters (32 bytes).
pub(super) fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    if text.len() != 64 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "a sealing key is 64 hexadecimal characters (32 bytes), got {} characters",
            text.chars().count()
        ));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .map_err(|_| "not hexadecimal".to_owned())?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [7; 32];
    const B: [u8; 32] = [9; 32];

    #[test]
    fn a_sealed_entry_opens_under_its_name_and_key_only() {
        let sealer = Sealer::new(&[A], "p:".into());
        let names = sealer.names("k1");
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with("p:") && names[0].len() == 2 + 64);
        assert!(!names[0].contains("k1"));
        let value = sealer.seal(&names[0], b"the entry").unwrap();
        assert!(!value.windows(5).any(|w| w == b"entry"), "not in clear");
        assert_eq!(sealer.open(0, &names[0], &value).unwrap(), b"the entry");
        // Two seals of one entry differ (a random nonce each).
        assert_ne!(value, sealer.seal(&names[0], b"the entry").unwrap());

        let other = sealer.names("k2")[0].clone();
        let moved = sealer.open(0, &other, &value).unwrap_err();
        assert!(moved.contains("does not open"), "{moved}");
        for at in [0, 5, 20, value.len() - 1] {
            let mut flipped = value.clone();
            flipped[at] ^= 1;
            assert!(sealer.open(0, &names[0], &flipped).is_err(), "byte {at}");
        }
        assert!(sealer.open(0, &names[0], b"garbage").is_err());
        let foreign = Sealer::new(&[B], "p:".into());
        let error = sealer
            .open(0, &names[0], &foreign.seal(&names[0], b"x").unwrap())
            .unwrap_err();
        assert!(error.contains("a key this store was not given"), "{error}");
    }

    #[test]
    fn with_a_new_key_first_the_old_keys_entries_still_open() {
        let old = Sealer::new(&[A], "p:".into());
        let rotated = Sealer::new(&[B, A], "p:".into());
        let old_name = old.names("k")[0].clone();
        let value = old.seal(&old_name, b"e").unwrap();
        let names = rotated.names("k");
        assert_eq!(names[1], old_name, "the old key's name is looked up too");
        assert_ne!(
            names[0], old_name,
            "new entries go under the new key's name"
        );
        assert_eq!(rotated.open(1, &names[1], &value).unwrap(), b"e");
        assert_eq!(format!("{rotated:?}"), "Sealer { keys: 2, prefix: \"p:\" }");
    }

    #[test]
    fn keys_are_64_hex_characters() {
        assert_eq!(parse_key(&"07".repeat(32)).unwrap(), A);
        for bad in ["", "07", &"zz".repeat(32), &"07".repeat(33)] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }
}

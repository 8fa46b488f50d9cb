//! Sealed personal data: intake fields a surface declares `sensitive`, stored encrypted under a
//! key of their case that is kept outside the hash chain, so that destroying the key erases
//! them while every digest stays what it was.
//!
//! A sealed value is the JSON object `{"$sealed": "v1:<base64 of nonce ‖ ciphertext>"}`, where
//! the ciphertext is XChaCha20-Poly1305 (crate `chacha20poly1305`) of the field's JSON value
//! under the case's 256-bit key, with a random 192-bit nonce and the associated data
//! `planck-sealed/v1 ‖ 0x00 ‖ case id ‖ 0x00 ‖ field name`, so a sealed value cannot be moved
//! to another case or field. Keys and nonces come from the OS (`getrandom`); nothing here is
//! home-made cryptography.
//!
//! Reading: [`open_intake`] replaces every sealed value by its plaintext, or by [`ERASED`]
//! when the key is gone (erased) or does not open it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead as _, Payload};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use serde_json::Value;
use zeroize::Zeroizing;

/// What a sealed field reads as once its case's key is destroyed.
pub const ERASED: &str = "<erased>";

/// The key of a sealed value's JSON object.
pub const SEALED_KEY: &str = "$sealed";

const VERSION_PREFIX: &str = "v1:";
const AAD_DOMAIN: &[u8] = b"planck-sealed/v1";
const NONCE_LEN: usize = 24;

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The OS random source failed.
    #[error("the OS random source failed: {0}")]
    Random(String),
    /// The key is not 32 bytes.
    #[error("a case key must be 32 bytes, not {0}")]
    KeyLength(usize),
    /// The AEAD refused (a value too large to encrypt).
    #[error("the value could not be encrypted")]
    Encrypt,
    /// The value could not be serialized.
    #[error("the value could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// A case's 256-bit key (zeroed when dropped).
pub struct CaseKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for CaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseKey(..)")
    }
}

impl CaseKey {
    /// A new random key from the OS.
    pub fn generate() -> Result<CaseKey, SealError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|e| SealError::Random(e.to_string()))?;
        Ok(CaseKey(bytes))
    }

    /// The key from its stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<CaseKey, SealError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SealError::KeyLength(bytes.len()))?;
        Ok(CaseKey(Zeroizing::new(array)))
    }

    /// The key's bytes, to store.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn cipher(&self) -> Option<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(self.0.as_slice()).ok()
    }
}

fn aad(case: &str, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + case.len() + field.len() + 2);
    aad.extend_from_slice(AAD_DOMAIN);
    aad.push(0);
    aad.extend_from_slice(case.as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.as_bytes());
    aad
}

/// Whether `value` is a sealed value (`{"$sealed": "…"}`).
pub fn is_sealed(value: &Value) -> bool {
    sealed_text(value).is_some()
}

fn sealed_text(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(SEALED_KEY)?.as_str(),
        _ => None,
    }
}

/// Seal `value`, the field `field` of case `case`, under `key`.
pub fn seal_value(
    key: &CaseKey,
    case: &str,
    field: &str,
    value: &Value,
) -> Result<Value, SealError> {
    let plaintext = Zeroizing::new(serde_json::to_vec(value)?);
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
    let cipher = key
        .cipher()
        .ok_or(SealError::KeyLength(key.as_bytes().len()))?;
    let aad = aad(case, field);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::Encrypt)?;
    let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    let mut object = serde_json::Map::new();
    object.insert(
        SEALED_KEY.to_string(),
        Value::String(format!("{VERSION_PREFIX}{}", BASE64.encode(blob))),
    );
    Ok(Value::Object(object))
}

/// Open a sealed `value` of field `field` of case `case`: its plaintext, or `None` when there
/// is no key, the key does not open it, or it is malformed.
pub fn open_value(key: Option<&CaseKey>, case: &str, field: &str, value: &Value) -> Option<Value> {
    let text = sealed_text(value)?.strip_prefix(VERSION_PREFIX)?;
    let blob = BASE64.decode(text).ok()?;
    let (nonce, ciphertext) = blob.split_at_checked(NONCE_LEN)?;
    let nonce = XNonce::try_from(nonce).ok()?;
    let cipher = key?.cipher()?;
    let aad = aad(case, field);
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()?,
    );
    serde_json::from_slice(&plaintext).ok()
}

/// Seal the fields of `intake` named in `sensitive` (those present) under `key`.
pub fn seal_intake(
    key: &CaseKey,
    case: &str,
    sensitive: &[String],
    intake: &mut BTreeMap<String, Value>,
) -> Result<(), SealError> {
    for field in sensitive {
        if let Some(value) = intake.get_mut(field) {
            *value = seal_value(key, case, field, value)?;
        }
    }
    Ok(())
}

/// Replace every sealed value of `intake` by its plaintext, or by [`ERASED`] when it cannot be
/// opened (the key is gone). Whether anything was sealed.
pub fn open_intake(
    key: Option<&CaseKey>,
    case: &str,
    intake: &mut BTreeMap<String, Value>,
) -> bool {
    let mut any = false;
    for (field, value) in intake.iter_mut() {
        if is_sealed(value) {
            any = true;
            *value = open_value(key, case, field, value)
                .unwrap_or_else(|| Value::String(ERASED.to_string()));
        }
    }
    any
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "tests assert by panicking"
    )]

    use super::*;
    use serde_json::json;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_case_and_field() {
        let key = CaseKey::generate().unwrap();
        let other = CaseKey::generate().unwrap();
        let value = json!("ava@example.com");
        let sealed = seal_value(&key, "ev-1", "contact", &value).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.to_string().contains("ava"));
        assert_eq!(
            open_value(Some(&key), "ev-1", "contact", &sealed),
            Some(value)
        );
        assert_eq!(open_value(Some(&other), "ev-1", "contact", &sealed), None);
        assert_eq!(open_value(Some(&key), "ev-2", "contact", &sealed), None);
        assert_eq!(open_value(Some(&key), "ev-1", "notes", &sealed), None);
        assert_eq!(open_value(None, "ev-1", "contact", &sealed), None);
        let again = seal_value(&key, "ev-1", "contact", &json!("ava@example.com")).unwrap();
        assert_ne!(sealed, again, "a fresh nonce every time");
    }

    #[test]
    fn intake_reads_erased_without_the_key() {
        let key = CaseKey::generate().unwrap();
        let mut intake = BTreeMap::new();
        intake.insert("contact".to_string(), json!({"phone": "555"}));
        intake.insert("details".to_string(), json!("40 guests"));
        seal_intake(
            &key,
            "c",
            &["contact".to_string(), "absent".to_string()],
            &mut intake,
        )
        .unwrap();
        assert!(is_sealed(&intake["contact"]));
        assert_eq!(intake["details"], json!("40 guests"));
        let mut opened = intake.clone();
        assert!(open_intake(Some(&key), "c", &mut opened));
        assert_eq!(opened["contact"], json!({"phone": "555"}));
        let mut erased = intake;
        assert!(open_intake(None, "c", &mut erased));
        assert_eq!(erased["contact"], json!(ERASED));
        assert_eq!(erased["details"], json!("40 guests"));
        assert!(CaseKey::from_bytes(&[0; 31]).is_err());
    }
}

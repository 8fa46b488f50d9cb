//! Signed checkpoints: an anchor for the hash chains, kept outside the database.
//!
//! A hash chain proves nothing against someone who can write the database: they edit an event
//! and recompute every digest after it (the canonical form and the digest rule are public).
//! A [`Checkpoint`] is what Certificate Transparency calls a signed tree head: the state of
//! every stream (case streams and operator streams) at one moment, signed with an Ed25519 key
//! the database never sees. Kept elsewhere (a file on another machine, an object store, a
//! transparency log), it lets [`verify_against`] prove later that every stream it covers still
//! exists, with at least the version it had, and the same digest at that version: since each
//! digest covers the one before it, the whole prefix of every stream is pinned.
//!
//! What a checkpoint holds: the global position it was taken at, the number of streams and of
//! events, a Merkle root over every stream's `(id, version, head digest)` (sorted by id), the
//! time, a key id (SHA-256 of the public key) and the signature; and, unsigned beside them, the
//! list of stream heads the root is computed from, so that verification can name the stream
//! that fails. The tree is RFC 6962's: a leaf is `SHA-256(0x00 ‖ canonical JSON of [id,
//! version, digest])`, an inner node `SHA-256(0x01 ‖ left ‖ right)`, the split at the largest
//! power of two below the number of leaves, the empty tree `SHA-256("")`. The signature covers
//! the canonical JSON of every signed field ([`Checkpoint::signed_bytes`]), whose `format`
//! field versions it.
//!
//! What it cannot prove: anything appended after it was taken (take them often), and anything
//! outside the streams (the outbox and the idempotency table are cross-checked against the
//! streams by [`crate::audit::sweep`] instead). Whoever holds the signing key can sign a
//! checkpoint of a forged database: keep the key away from the database's host.
//!
//! This module computes and checks values; [`take`] and [`verify_against`] read the store only
//! through the [`Store`] trait. No clock: the time is an argument. Randomness only in
//! [`generate_signing_key`] (the OS's, through `getrandom`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer as _};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize as _;

use crate::audit::canonical::to_canonical_json;
use crate::audit::envelope::{EnvelopeError, StoredEvent, rfc3339_millis};
use crate::audit::verify::{VerifyCode, VerifyError, VerifyReport};
use crate::host::{Store, StoreError};
use crate::spine::Millis;

/// The `format` of the checkpoints this build writes and reads.
pub const CHECKPOINT_FORMAT: &str = "planck-checkpoint/v1";

/// One stream's state: its id, its version (the number of events it holds) and the digest of
/// its last event (the event whose sequence number is `version`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamHead {
    /// The stream (a case id, or `operator:<id>`).
    pub stream: String,
    /// How many events the stream holds.
    pub version: u64,
    /// The digest of event `version`.
    pub digest: String,
}

/// A signed checkpoint. Build one with [`take`] (or [`sign`]), write it with
/// [`Checkpoint::to_json`], read it back with [`Checkpoint::from_json`] and check it with
/// [`Checkpoint::check`] or, against a store, [`verify_against`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    format: String,
    position: u64,
    streams: u64,
    events: u64,
    root: String,
    taken_at: String,
    key_id: String,
    signature: String,
    heads: Vec<StreamHead>,
}

/// The signed part of a checkpoint, in key order (what [`Checkpoint::signed_bytes`] writes).
#[derive(Serialize)]
struct Signed<'a> {
    events: u64,
    format: &'a str,
    key_id: &'a str,
    position: u64,
    root: &'a str,
    streams: u64,
    taken_at: &'a str,
}

/// Why a checkpoint could not be taken, read or trusted. Every message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint file is not a checkpoint (not JSON, a missing or unknown field).
    #[error("the checkpoint does not parse: {0}")]
    Malformed(#[source] serde_json::Error),
    /// A checkpoint of a format this build does not know.
    #[error("the checkpoint has format `{found}`; this build reads `{CHECKPOINT_FORMAT}`")]
    Format {
        /// The format found.
        found: String,
    },
    /// The checkpoint was signed by another key than the one given.
    #[error(
        "the checkpoint was signed by key `{signed_by}`, not by the given public key `{given}`: use the public key of the key that signed it"
    )]
    WrongKey {
        /// The key id the checkpoint names.
        signed_by: String,
        /// The id of the key given.
        given: String,
    },
    /// The signature does not hold for the signed fields.
    #[error(
        "the signature of key `{key_id}` does not hold: the checkpoint was changed after it was signed"
    )]
    BadSignature {
        /// The key id.
        key_id: String,
    },
    /// The stream list does not recompute to the signed root (or disagrees with the counts).
    #[error("the checkpoint's stream list does not match its signed root: {message}")]
    Root {
        /// What disagrees.
        message: String,
    },
    /// A key file could not be read.
    #[error("not a usable {what}: {message}")]
    Key {
        /// `signing key` or `public key`.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The time cannot be written as a UTC timestamp.
    #[error(transparent)]
    Time(#[from] EnvelopeError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Checkpoint {
    /// The format (`planck-checkpoint/v1`).
    pub fn format(&self) -> &str {
        &self.format
    }
    /// The global feed position the checkpoint was taken at.
    pub fn position(&self) -> u64 {
        self.position
    }
    /// How many streams it covers.
    pub fn streams(&self) -> u64 {
        self.streams
    }
    /// How many events those streams held.
    pub fn events(&self) -> u64 {
        self.events
    }
    /// The Merkle root over the stream heads (hex).
    pub fn root(&self) -> &str {
        &self.root
    }
    /// When it was taken (RFC 3339 UTC, milliseconds).
    pub fn taken_at(&self) -> &str {
        &self.taken_at
    }
    /// The id of the key that signed it ([`key_id`]).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The signature (standard base64 of the 64-byte Ed25519 signature).
    pub fn signature(&self) -> &str {
        &self.signature
    }
    /// Every stream it covers, sorted by id.
    pub fn heads(&self) -> &[StreamHead] {
        &self.heads
    }

    /// The head of `stream`, if the checkpoint covers it.
    pub fn head(&self, stream: &str) -> Option<&StreamHead> {
        self.heads
            .binary_search_by(|h| h.stream.as_str().cmp(stream))
            .ok()
            .and_then(|at| self.heads.get(at))
    }

    /// The bytes the signature covers: the canonical JSON (keys sorted, no whitespace) of
    /// `events`, `format`, `key_id`, `position`, `root`, `streams` and `taken_at`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        to_canonical_json(&Signed {
            events: self.events,
            format: &self.format,
            key_id: &self.key_id,
            position: self.position,
            root: &self.root,
            streams: self.streams,
            taken_at: &self.taken_at,
        })
    }

    /// The checkpoint as pretty JSON (what `planck checkpoint` writes), ending with a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Read a checkpoint written by [`Checkpoint::to_json`]. Checks only its shape and format;
    /// [`Checkpoint::check`] checks the rest.
    pub fn from_json(text: &str) -> Result<Checkpoint, CheckpointError> {
        let checkpoint: Checkpoint =
            serde_json::from_str(text).map_err(CheckpointError::Malformed)?;
        if checkpoint.format != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Format {
                found: checkpoint.format,
            });
        }
        Ok(checkpoint)
    }

    /// Check the checkpoint itself, without a store: it was signed by `key` (the key ids
    /// match), its stream list is sorted by id without repeats, agrees with its counts and
    /// recomputes to its root, and the signature over the signed fields holds.
    pub fn check(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        if self.format != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Format {
                found: self.format.clone(),
            });
        }
        let given = key_id(key);
        if self.key_id != given {
            return Err(CheckpointError::WrongKey {
                signed_by: self.key_id.clone(),
                given,
            });
        }
        self.check_root()?;
        let bad_signature = || CheckpointError::BadSignature {
            key_id: self.key_id.clone(),
        };
        let bytes = BASE64
            .decode(self.signature.as_bytes())
            .map_err(|_| bad_signature())?;
        let signature = Signature::from_slice(&bytes).map_err(|_| bad_signature())?;
        let message = self.signed_bytes().map_err(CheckpointError::Malformed)?;
        key.verify_strict(&message, &signature)
            .map_err(|_| bad_signature())
    }

    fn check_root(&self) -> Result<(), CheckpointError> {
        let root_error = |message: String| Err(CheckpointError::Root { message });
        for pair in self.heads.windows(2) {
            if let [a, b] = pair
                && a.stream >= b.stream
            {
                return root_error(format!(
                    "stream `{}` is listed out of order or twice",
                    b.stream
                ));
            }
        }
        let (streams, events) = counts(&self.heads);
        if streams != self.streams || events != self.events {
            return root_error(format!(
                "the list holds {streams} streams and {events} events; the signed counts say {} and {}",
                self.streams, self.events
            ));
        }
        let computed = merkle_root(&self.heads);
        if computed != self.root {
            return root_error(format!(
                "it recomputes to `{computed}`, the signed root is `{}`",
                self.root
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checkpoint at position {}: {} streams, {} events, root {}, taken {} by key {}",
            self.position, self.streams, self.events, self.root, self.taken_at, self.key_id
        )
    }
}

/// The id of a public key: SHA-256 (hex) of its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The Merkle leaf of one stream head: `SHA-256(0x00 ‖ canonical JSON of [id, version,
/// digest])`.
pub fn leaf_hash(head: &StreamHead) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    // An array of two strings and an integer always serializes; the fallback never runs.
    let body = to_canonical_json(&(&head.stream, head.version, &head.digest)).unwrap_or_default();
    hasher.update(&body);
    hasher.finalize().into()
}

/// The RFC 6962 Merkle tree hash of `heads`, in the order given, as hex.
pub fn merkle_root(heads: &[StreamHead]) -> String {
    let leaves: Vec<[u8; 32]> = heads.iter().map(leaf_hash).collect();
    hex::encode(tree_hash(&leaves))
}

fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves {
        [] => Sha256::digest([]).into(),
        [leaf] => *leaf,
        _ => {
            // The largest power of two strictly below the number of leaves.
            let split = leaves.len().next_power_of_two() / 2;
            let (left, right) = leaves.split_at(split);
            let mut hasher = Sha256::new();
            hasher.update([0x01]);
            hasher.update(tree_hash(left));
            hasher.update(tree_hash(right));
            hasher.finalize().into()
        }
    }
}

fn counts(heads: &[StreamHead]) -> (u64, u64) {
    let events = heads
        .iter()
        .fold(0u64, |sum, h| sum.saturating_add(h.version));
    (heads.len() as u64, events)
}

/// Sign a checkpoint of `heads` (sorted here by id) at global `position`, taken at `at`.
pub fn sign(
    mut heads: Vec<StreamHead>,
    position: u64,
    at: Millis,
    key: &SigningKey,
) -> Result<Checkpoint, CheckpointError> {
    heads.sort_unstable_by(|a, b| a.stream.cmp(&b.stream));
    heads.dedup_by(|a, b| a.stream == b.stream);
    let (streams, events) = counts(&heads);
    let mut checkpoint = Checkpoint {
        format: CHECKPOINT_FORMAT.to_string(),
        position,
        streams,
        events,
        root: merkle_root(&heads),
        taken_at: rfc3339_millis(at)?,
        key_id: key_id(&key.verifying_key()),
        signature: String::new(),
        heads,
    };
    let message = checkpoint
        .signed_bytes()
        .map_err(CheckpointError::Malformed)?;
    checkpoint.signature = BASE64.encode(key.sign(&message).to_bytes());
    Ok(checkpoint)
}

/// Take a checkpoint of every stream of `store` now (`now` from the host's clock), signed
/// with `key`. A host calls it every few minutes and ships the result elsewhere.
///
/// The position: the global feed position of the last event covered. Feed positions are
/// dense from 1 (`Store::feed`), so it is the number of events the heads cover, read in the
/// same call as the heads (a second read of the feed could see appends the heads do not).
pub fn take(
    store: &(impl Store + ?Sized),
    key: &SigningKey,
    now: Millis,
) -> Result<Checkpoint, CheckpointError> {
    let heads = store.heads()?;
    let (_, position) = counts(&heads);
    sign(heads, position, now, key)
}

/// Verify `store` against `checkpoint`: the checkpoint itself ([`Checkpoint::check`]: key,
/// root, signature), then everything [`crate::audit::sweep::verify_store`] checks, and for
/// every stream the checkpoint covers that it still exists, holds at least that version, and
/// has the same digest at that version. A checkpoint that cannot be trusted is an `Err`;
/// streams that fail are in the report, each named.
pub fn verify_against(
    store: &(impl Store + ?Sized),
    checkpoint: &Checkpoint,
    key: &VerifyingKey,
) -> Result<VerifyReport, CheckpointError> {
    checkpoint.check(key)?;
    Ok(crate::audit::sweep::verify_store_with(
        store,
        Some(checkpoint),
    )?)
}

/// Check one stream's stored events (in order) against its head in a checkpoint: the stream
/// holds at least `head.version` events and event `head.version` has `head.digest`.
pub fn check_head(head: &StreamHead, events: &[StoredEvent]) -> Result<(), VerifyError> {
    let fail = |code, seq: Option<u64>, message: String| {
        Err(VerifyError::new(
            code,
            head.stream.clone(),
            seq,
            seq.map(|s| crate::audit::envelope::event_id(&head.stream, s)),
            message,
        ))
    };
    let held = events.len() as u64;
    if held == 0 {
        return fail(
            VerifyCode::StreamMissing,
            None,
            format!(
                "the checkpoint covers this stream at version {} but it holds no events: it was deleted",
                head.version
            ),
        );
    }
    let at = usize::try_from(head.version.saturating_sub(1)).unwrap_or(usize::MAX);
    match events.get(at) {
        None => fail(
            VerifyCode::StreamTruncated,
            None,
            format!(
                "the checkpoint covers this stream at version {} but it holds only {held} events: its tail was deleted",
                head.version
            ),
        ),
        Some(event) if event.seq != head.version || event.digest != head.digest => fail(
            VerifyCode::HeadMismatch,
            Some(head.version),
            format!(
                "the checkpoint says event {} has digest `{}`, the stored one has `{}`: the history up to it was rewritten",
                head.version, head.digest, event.digest
            ),
        ),
        Some(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Keys.

/// A new Ed25519 signing key from the operating system's random number generator.
pub fn generate_signing_key() -> Result<SigningKey, CheckpointError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| CheckpointError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    secret.zeroize();
    Ok(key)
}

/// The signing key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `openssl` writes it.
pub fn signing_key_to_pem(key: &SigningKey) -> Result<zeroize::Zeroizing<String>, CheckpointError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CheckpointError::Key {
            what: "signing key",
            message: e.to_string(),
        })
}

/// Read a signing key written by [`signing_key_to_pem`] (or `openssl genpkey -algorithm
/// ed25519`).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, CheckpointError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| CheckpointError::Key {
        what: "signing key",
        message: format!("expected an Ed25519 private key in PKCS#8 PEM form ({e})"),
    })
}

/// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
pub fn verifying_key_to_pem(key: &VerifyingKey) -> Result<String, CheckpointError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| CheckpointError::Key {
            what: "public key",
            message: e.to_string(),
        })
}

/// Read a public key written by [`verifying_key_to_pem`] (or `openssl pkey -pubout`).
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, CheckpointError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| CheckpointError::Key {
        what: "public key",
        message: format!("expected an Ed25519 public key in PEM form ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(stream: &str, version: u64) -> StreamHead {
        StreamHead {
            stream: stream.into(),
            version,
            digest: format!("{version:064x}"),
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    /// RFC 6962's shape: the split is the largest power of two below n; leaves and nodes are
    /// domain separated, so a leaf never equals a node.
    #[test]
    fn merkle_tree_follows_rfc_6962() {
        let heads: Vec<StreamHead> = (1..=5).map(|i| head(&format!("s{i}"), i)).collect();
        let l: Vec<[u8; 32]> = heads.iter().map(leaf_hash).collect();
        let node = |a: [u8; 32], b: [u8; 32]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update([1]);
            h.update(a);
            h.update(b);
            h.finalize().into()
        };
        let expected = node(node(node(l[0], l[1]), node(l[2], l[3])), l[4]);
        assert_eq!(merkle_root(&heads), hex::encode(expected));
        assert_eq!(merkle_root(&heads[..1]), hex::encode(l[0]));
        assert_eq!(
            merkle_root(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut leaf = Sha256::new();
        leaf.update([0]);
        leaf.update(
            br#"["s1",1,"0000000000000000000000000000000000000000000000000000000000000001"]"#,
        );
        assert_eq!(l[0], <[u8; 32]>::from(leaf.finalize()));
    }

    #[test]
    fn a_signed_checkpoint_checks_and_survives_json() {
        let key = key();
        let cp = sign(vec![head("b", 2), head("a", 3)], 5, 1_767_225_600_000, &key).unwrap();
        assert_eq!(cp.heads()[0].stream, "a");
        assert_eq!((cp.streams(), cp.events(), cp.position()), (2, 5, 5));
        assert_eq!(cp.taken_at(), "2026-01-01T00:00:00.000Z");
        cp.check(&key.verifying_key()).unwrap();
        let back = Checkpoint::from_json(&cp.to_json()).unwrap();
        assert_eq!(back, cp);
        back.check(&key.verifying_key()).unwrap();
        assert_eq!(back.head("b").map(|h| h.version), Some(2));
        assert!(back.head("c").is_none());
    }

    #[test]
    fn every_change_is_caught() {
        let key = key();
        let vk = key.verifying_key();
        let cp = sign(vec![head("a", 3), head("b", 2)], 5, 0, &key).unwrap();
        let other = SigningKey::from_bytes(&[9u8; 32]);
        assert!(matches!(
            cp.check(&other.verifying_key()),
            Err(CheckpointError::WrongKey { .. })
        ));
        let mut edited = cp.clone();
        edited.heads[1].version = 1;
        edited.events = 4;
        assert!(matches!(
            edited.check(&vk),
            Err(CheckpointError::Root { .. })
        ));
        let mut edited = cp.clone();
        edited.root = merkle_root(&edited.heads[..1]);
        assert!(matches!(
            edited.check(&vk),
            Err(CheckpointError::Root { .. })
        ));
        let mut edited = cp.clone();
        edited.position = 6;
        assert!(matches!(
            edited.check(&vk),
            Err(CheckpointError::BadSignature { .. })
        ));
        let mut edited = cp.clone();
        edited.heads.swap(0, 1);
        assert!(matches!(
            edited.check(&vk),
            Err(CheckpointError::Root { .. })
        ));
        let text = cp
            .to_json()
            .replace(CHECKPOINT_FORMAT, "planck-checkpoint/v9");
        assert!(matches!(
            Checkpoint::from_json(&text),
            Err(CheckpointError::Format { .. })
        ));
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let key = generate_signing_key().unwrap();
        let pem = signing_key_to_pem(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            signing_key_from_pem(&pem).unwrap().to_bytes(),
            key.to_bytes()
        );
        let public = verifying_key_to_pem(&key.verifying_key()).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(
            verifying_key_from_pem(&public).unwrap(),
            key.verifying_key()
        );
        assert!(signing_key_from_pem(&public).is_err());
        assert!(verifying_key_from_pem(&pem).is_err());
        assert_ne!(
            generate_signing_key().unwrap().to_bytes(),
            key.to_bytes(),
            "two keys from the OS differ"
        );
    }
}

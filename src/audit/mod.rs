//! Truth that can be checked: canonical JSON, digests, the event envelope and chain verification.

pub mod canonical;

pub use canonical::{digest_of, sha256_hex, to_canonical_json};

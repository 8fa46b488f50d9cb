//! Truth that can be checked: canonical JSON, digests, the event envelope and chain verification.
//!
//! [`canonical`] fixes the bytes every digest is taken over; [`envelope`] wraps each event in
//! the canonical envelope (ids, time, actor, surface pin, hash-chain links) and builds outbox
//! rows; [`verify`] re-derives a case from its envelopes and checks every link and seal. This
//! module only computes and checks values: it never does I/O and never decides a command.

pub mod canonical;
mod canonical_writer;
pub mod envelope;
pub mod verify;

pub use canonical::{digest_of, sha256_hex, to_canonical_json};
pub use envelope::{Envelope, EnvelopeError, GENESIS_DIGEST, StoredEvent, StoredSignal};
pub use verify::{VerifyCode, VerifyError, VerifyReport, verify_case, verify_operator};

//! Truth that can be checked: canonical JSON, digests, the event envelope, chain verification,
//! signed checkpoints.
//!
//! [`canonical`] fixes the bytes every digest is taken over; [`envelope`] wraps each event in
//! the canonical envelope (ids, time, actor, surface pin, hash-chain links) and builds outbox
//! rows; [`verify`] re-derives a case from its envelopes and checks every link and seal;
//! [`sweep`] verifies a whole store (every stream, and the outbox and idempotency rows against
//! the events); [`checkpoint`] signs the state of every stream and proves a store against it
//! later. This module computes and checks values: it never decides a command, never reads a
//! clock, and reads a store only through the [`crate::host::Store`] trait.

pub mod canonical;
mod canonical_writer;
pub mod checkpoint;
pub mod envelope;
pub mod sealed;
pub mod sweep;
pub mod verify;

pub use canonical::{digest_of, sha256_hex, to_canonical_json};
pub use checkpoint::{Checkpoint, CheckpointError, StreamHead};
pub use envelope::{Envelope, EnvelopeError, GENESIS_DIGEST, StoredEvent, StoredSignal};
pub use sweep::{verify_store, verify_store_with};
pub use verify::{VerifyCode, VerifyError, VerifyReport, verify_case, verify_operator};

//! [`EngineError`]: what can go wrong in the engine that is not a rejected command.
//!
//! A refused command is a [`crate::spine::Rejection`] inside a receipt, never an error. Errors
//! are failures of the host's world (the store, the transport) or of serialization, and they
//! keep their cause.

use crate::audit::EnvelopeError;
use crate::host::{StoreError, TransportError};

/// A failure of the engine's world. Nothing was half-written: appends are atomic.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A signal could not be delivered; it stays pending and will be offered again.
    #[error("signal `{signal}` could not be delivered")]
    Transport {
        /// The signal's id.
        signal: String,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// The events of a case could not be wrapped in their envelopes.
    #[error("the events of case `{case}` could not be sealed")]
    Envelope {
        /// The case.
        case: String,
        /// Why.
        #[source]
        source: EnvelopeError,
    },
    /// A command or an outcome could not be serialized (for a fingerprint or an idempotency
    /// record), or a stored outcome could not be read back.
    #[error("{what} could not be serialized or read back")]
    Serialization {
        /// What was being serialized.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Sensitive intake fields could not be sealed (the OS random source failed).
    #[error("the sensitive fields of case `{case}` could not be sealed")]
    Seal {
        /// The case.
        case: String,
        /// Why.
        #[source]
        source: crate::audit::sealed::SealError,
    },
    /// `decide` accepted a command on a case that has no pinned surface (a bug in the core).
    #[error("case `{case}` has no pinned surface")]
    Unpinned {
        /// The case.
        case: String,
    },
}

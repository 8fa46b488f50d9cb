//! [`Receipt`]: what [`crate::engine::Engine::execute`] answers for one command.
//!
//! A receipt is a plain value (serializable, so it can be stored as the first outcome of an
//! idempotency key and replayed). It never carries a half-written state: a command is either
//! applied (its events are stored), a duplicate of an applied one (nothing written), or
//! rejected (nothing written).

use serde::{Deserialize, Serialize};

use crate::audit::StoredEvent;
use crate::spine::{Rejection, RejectionCode};

/// The outcome of one command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Receipt {
    /// The command was accepted and its events appended.
    Applied {
        /// The case.
        case: String,
        /// The events appended, in their envelopes (with their sequence numbers).
        events: Vec<StoredEvent>,
    },
    /// The idempotency key was used before with the same command by the same principal: this
    /// is the first outcome. Nothing was written.
    Duplicate(Box<Receipt>),
    /// The command was refused. Nothing was written.
    Rejected(Rejection),
}

impl Receipt {
    /// Whether the command was applied now (not a duplicate, not rejected).
    pub fn is_applied(&self) -> bool {
        matches!(self, Receipt::Applied { .. })
    }

    /// Whether this replays an earlier outcome.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Receipt::Duplicate(_))
    }

    /// Whether the command was refused.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Receipt::Rejected(_))
    }

    /// The rejection, if refused (a duplicate's first outcome is never a rejection).
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Receipt::Rejected(rejection) => Some(rejection),
            Receipt::Duplicate(first) => first.rejection(),
            Receipt::Applied { .. } => None,
        }
    }

    /// The rejection code, if refused.
    pub fn code(&self) -> Option<RejectionCode> {
        self.rejection().map(|r| r.code)
    }

    /// The events of the outcome: those appended now, or (for a duplicate) those the first
    /// command appended. Empty when rejected.
    pub fn events(&self) -> &[StoredEvent] {
        match self {
            Receipt::Applied { events, .. } => events,
            Receipt::Duplicate(first) => first.events(),
            Receipt::Rejected(_) => &[],
        }
    }

    /// `applied`, `duplicate` or `rejected`: the word scenario files use.
    pub fn outcome(&self) -> &'static str {
        match self {
            Receipt::Applied { .. } => "applied",
            Receipt::Duplicate(_) => "duplicate",
            Receipt::Rejected(_) => "rejected",
        }
    }
}

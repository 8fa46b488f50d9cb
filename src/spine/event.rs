//! Events: the facts a case is made of. Appended, never changed.
//!
//! `decide` returns events; `evolve` folds them into a [`crate::spine::Case`]. The event
//! names are the stored `event_type` of the audit envelope and never change once shipped:
//! add a new variant rather than reshaping an old one (and bump the schema version when an
//! old payload changes shape; new variants leave every old payload, and so every stored
//! digest, as it was).
//!
//! Most events belong to a case. The operator directory's events (`operator_registered`,
//! `operator_updated`, `operator_suspended`, `operator_reinstated`) belong to an operator's
//! own stream (`crate::spine::operator`); folding one into a case changes nothing but its
//! version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::Role;
use crate::spine::case::{Millis, Record, SettlementStatus, Signal, SurfacePin};

/// The schema version of [`Event`] payloads.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// One fact about a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A Request was submitted and its governance Task opened.
    RequestSubmitted {
        /// The surface it is pinned to.
        surface: SurfacePin,
        /// The intake fields.
        intake: BTreeMap<String, Value>,
        /// Photo references.
        photos: Vec<String>,
        /// Where it came in.
        routing_origin: Option<String>,
        /// Who submitted it.
        by: String,
        /// When.
        at: Millis,
    },
    /// The Task was approved.
    TaskApproved {
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// The Task was rejected.
    TaskRejected {
        /// The admin.
        by: String,
        /// Why.
        reason: String,
        /// When.
        at: Millis,
    },
    /// The Task was assigned to an operator.
    TaskAssigned {
        /// The operator.
        operator: String,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// A note was added to the Task.
    TaskAnnotated {
        /// The author.
        by: String,
        /// The note.
        note: String,
        /// When.
        at: Millis,
    },
    /// The Task was closed.
    TaskClosed {
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// The Job was created by the explicit hand-off.
    JobCreated {
        /// The admin.
        by: String,
        /// The surface's first phase.
        phase: String,
        /// When.
        at: Millis,
    },
    /// The Job was claimed.
    JobClaimed {
        /// The operator who now owns execution.
        operator: String,
        /// Whether it was claimed implicitly by a first `advance` (`claim = "optional"`).
        implicit: bool,
        /// When.
        at: Millis,
    },
    /// The ServiceEvent was opened (in the surface's second phase).
    ServiceEventOpened {
        /// The phase it opened in.
        phase: String,
        /// When.
        at: Millis,
    },
    /// The ServiceEvent moved along a transition.
    PhaseAdvanced {
        /// From this phase.
        from: String,
        /// To this phase.
        to: String,
        /// The operator.
        by: String,
        /// When.
        at: Millis,
    },
    /// An evidence item was attached.
    EvidenceAttached {
        /// Its category.
        category: String,
        /// The artifact reference.
        reference: String,
        /// The operator.
        by: String,
        /// When.
        at: Millis,
    },
    /// The ServiceEvent completed (entered the last phase).
    ServiceEventCompleted {
        /// From this phase.
        from: String,
        /// The last phase.
        phase: String,
        /// The outcome.
        outcome: Option<String>,
        /// The operator.
        by: String,
        /// When.
        at: Millis,
    },
    /// The Record was composed and sealed.
    RecordSealed {
        /// The sealed Record.
        record: Record,
    },
    /// A signal was emitted (after the Record it reports, in the same append).
    SignalEmitted {
        /// The signal.
        signal: Signal,
        /// For escalations: the index of the escalation in the surface.
        escalation: Option<u32>,
    },
    /// The Job completed.
    JobCompleted {
        /// Who completed it.
        by: String,
        /// When.
        at: Millis,
    },
    /// The Job was cancelled.
    JobCancelled {
        /// The admin.
        by: String,
        /// Why.
        reason: String,
        /// When.
        at: Millis,
    },
    /// Economic state was written.
    SettlementRecorded {
        /// The status.
        status: SettlementStatus,
        /// Amount in minor units.
        amount_minor: i64,
        /// ISO 4217 code.
        currency: String,
        /// Who wrote it.
        by: String,
        /// When.
        at: Millis,
    },
    /// The case's personal data was erased: the key of its sealed intake fields was destroyed
    /// in the same append. Holds no personal data.
    PersonalDataErased {
        /// Why.
        reason: String,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// An operator's profile was created, `active` (operator stream).
    OperatorRegistered {
        /// The operator's id.
        operator: String,
        /// Their display name.
        name: String,
        /// The surface slugs they are bound to; empty: every surface.
        surfaces: Vec<String>,
        /// Host-defined attributes.
        attributes: BTreeMap<String, Value>,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// An operator's binding or attributes changed (operator stream).
    OperatorUpdated {
        /// The new binding, when it changed.
        surfaces: Option<Vec<String>>,
        /// The new attributes, when they changed.
        attributes: Option<BTreeMap<String, Value>>,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// An operator was suspended (operator stream).
    OperatorSuspended {
        /// Why.
        reason: String,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// A suspended operator was reinstated (operator stream).
    OperatorReinstated {
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// The claimed Job (and its open ServiceEvent, phase and evidence kept) was handed to
    /// another operator.
    JobReassigned {
        /// The owner until now.
        from: String,
        /// The new owner.
        to: String,
        /// Why.
        reason: String,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// The claimed Job went back to the queue; its ServiceEvent was closed into history.
    JobReleased {
        /// The surface's first phase, where the Job waits again.
        phase: String,
        /// Why.
        reason: String,
        /// The owner or an admin.
        by: String,
        /// When.
        at: Millis,
    },
    /// A move with `approval` was asked for: it waits, nothing moved.
    TransitionRequested {
        /// The phase it waits in.
        from: String,
        /// The phase it would enter.
        to: String,
        /// The roles that may approve it.
        approval: Vec<Role>,
        /// For a completion: the outcome asked for.
        outcome: Option<String>,
        /// The owner who asked.
        by: String,
        /// When.
        at: Millis,
    },
    /// The pending move was approved (its own events follow in the same append).
    TransitionApproved {
        /// Who approved.
        by: String,
        /// When.
        at: Millis,
    },
    /// The pending move was rejected: the phase stays.
    TransitionRejected {
        /// Why.
        reason: String,
        /// Who rejected.
        by: String,
        /// When.
        at: Millis,
    },
    /// The case moved to another version of its surface (`migrate_case`): every later
    /// event is judged by, and its envelope carries, `to`.
    CaseMigrated {
        /// The pin until now.
        from: SurfacePin,
        /// The new pin: same slug, another version.
        to: SurfacePin,
        /// The escalations (indices in `to`) counted as already raised during the current
        /// phase entry: those raised under `from` with the same phase and signal.
        fired: Vec<u32>,
        /// The admin.
        by: String,
        /// When.
        at: Millis,
    },
}

impl Event {
    /// The stored event type (`request_submitted`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::RequestSubmitted { .. } => "request_submitted",
            Event::TaskApproved { .. } => "task_approved",
            Event::TaskRejected { .. } => "task_rejected",
            Event::TaskAssigned { .. } => "task_assigned",
            Event::TaskAnnotated { .. } => "task_annotated",
            Event::TaskClosed { .. } => "task_closed",
            Event::JobCreated { .. } => "job_created",
            Event::JobClaimed { .. } => "job_claimed",
            Event::ServiceEventOpened { .. } => "service_event_opened",
            Event::PhaseAdvanced { .. } => "phase_advanced",
            Event::EvidenceAttached { .. } => "evidence_attached",
            Event::ServiceEventCompleted { .. } => "service_event_completed",
            Event::RecordSealed { .. } => "record_sealed",
            Event::SignalEmitted { .. } => "signal_emitted",
            Event::JobCompleted { .. } => "job_completed",
            Event::JobCancelled { .. } => "job_cancelled",
            Event::SettlementRecorded { .. } => "settlement_recorded",
            Event::PersonalDataErased { .. } => "personal_data_erased",
            Event::OperatorRegistered { .. } => "operator_registered",
            Event::OperatorUpdated { .. } => "operator_updated",
            Event::OperatorSuspended { .. } => "operator_suspended",
            Event::OperatorReinstated { .. } => "operator_reinstated",
            Event::JobReassigned { .. } => "job_reassigned",
            Event::JobReleased { .. } => "job_released",
            Event::TransitionRequested { .. } => "transition_requested",
            Event::TransitionApproved { .. } => "transition_approved",
            Event::TransitionRejected { .. } => "transition_rejected",
            Event::CaseMigrated { .. } => "case_migrated",
        }
    }

    /// Whether the event belongs to an operator's stream (the operator directory) rather
    /// than to a case.
    pub fn is_operator_event(&self) -> bool {
        matches!(
            self,
            Event::OperatorRegistered { .. }
                | Event::OperatorUpdated { .. }
                | Event::OperatorSuspended { .. }
                | Event::OperatorReinstated { .. }
        )
    }

    /// The signal this event emits, if it is a [`Event::SignalEmitted`].
    pub fn signal(&self) -> Option<&Signal> {
        match self {
            Event::SignalEmitted { signal, .. } => Some(signal),
            _ => None,
        }
    }
}

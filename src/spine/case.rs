//! The case: every object of one request lineage, each layer with its own state type.
//!
//! A [`Case`] is only ever built by folding events with [`crate::spine::evolve`]; nothing else
//! mutates it. The layers are separate fields with separate state enums ([`TaskState`],
//! [`JobState`], [`ServiceEventState`], [`SettlementStatus`]) so that the type system keeps
//! task state, job state, ServiceEvent state and economic state from ever being confused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::Role;

/// Unix time in milliseconds (UTC). Time is always an input, never read inside the core.
pub type Millis = i64;

/// The surface a case was submitted under, pinned for its whole life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurfacePin {
    /// The surface slug.
    pub slug: String,
    /// The exact version.
    pub version: u32,
    /// The surface's fingerprint (hex), so a changed definition is noticed.
    pub fingerprint: String,
}

impl SurfacePin {
    /// `slug@version`; empty for [`SurfacePin::unpinned`].
    pub fn key(&self) -> String {
        if self.is_unpinned() {
            return String::new();
        }
        format!("{}@{}", self.slug, self.version)
    }

    /// The pin of a stream that belongs to no surface (an operator's stream): its envelopes
    /// carry `surface = ""` and `surface_fingerprint = ""`.
    pub fn unpinned() -> SurfacePin {
        SurfacePin {
            slug: String::new(),
            version: 0,
            fingerprint: String::new(),
        }
    }

    /// Whether this is [`SurfacePin::unpinned`].
    pub fn is_unpinned(&self) -> bool {
        self.slug.is_empty() && self.version == 0 && self.fingerprint.is_empty()
    }
}

/// Intake: the normalized form of what was submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The pinned surface.
    pub surface: SurfacePin,
    /// The intake fields.
    pub intake: BTreeMap<String, Value>,
    /// Photo references.
    pub photos: Vec<String>,
    /// Where the request came in (an operator surface, a form). Never an assignment.
    pub routing_origin: Option<String>,
    /// Who submitted it.
    pub submitted_by: String,
    /// When.
    pub submitted_at: Millis,
}

/// The governance Task's state. Governance only: it never says anything about execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for review.
    Open,
    /// Approved: may be assigned and handed off.
    Approved,
    /// Rejected at review.
    Rejected,
    /// Governance closure.
    Closed,
}

impl TaskState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Approved => "approved",
            TaskState::Rejected => "rejected",
            TaskState::Closed => "closed",
        }
    }

    /// Parse a state name.
    pub fn parse(name: &str) -> Option<TaskState> {
        [Self::Open, Self::Approved, Self::Rejected, Self::Closed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A note on the Task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
    /// When.
    pub at: Millis,
}

/// The governance Task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its state.
    pub state: TaskState,
    /// Notes, oldest first.
    pub notes: Vec<Note>,
    /// The reason given when it was rejected.
    pub rejection_reason: Option<String>,
}

/// The Assignment: who receives the hand-off. Coordination state, not work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The operator's id.
    pub operator: String,
    /// The admin who assigned.
    pub assigned_by: String,
    /// When.
    pub at: Millis,
}

/// The Job's state: executable work, distinct from the Task's and the ServiceEvent's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to be claimed (the surface's first phase).
    Queued,
    /// Claimed: an operator owns execution.
    Claimed,
    /// Completed (needs a complete ServiceEvent).
    Completed,
    /// Cancelled by an admin.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Claimed,
        JobState::Completed,
        JobState::Cancelled,
    ];

    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Claimed => "claimed",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parse a state name.
    pub fn parse(name: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The executable work container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its state.
    pub state: JobState,
    /// The operator who claimed it.
    pub owner: Option<String>,
    /// When it was created.
    pub created_at: Millis,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
}

/// The ServiceEvent's state: the truth of execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceEventState {
    /// Execution under way.
    Open,
    /// Execution complete; the Record is sealed.
    Complete,
}

impl ServiceEventState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceEventState::Open => "open",
            ServiceEventState::Complete => "complete",
        }
    }

    /// Parse a state name.
    pub fn parse(name: &str) -> Option<ServiceEventState> {
        [Self::Open, Self::Complete]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One entry in the ServiceEvent's phase history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseEntry {
    /// The phase id.
    pub phase: String,
    /// When it was entered.
    pub at: Millis,
}

/// One evidence item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Its category.
    pub category: String,
    /// The host's reference to the artifact (a URL, an object key).
    pub reference: String,
    /// Who attached it.
    pub by: String,
    /// When.
    pub at: Millis,
}

/// The execution runtime container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEvent {
    /// Open or complete.
    pub state: ServiceEventState,
    /// The current phase id.
    pub phase: String,
    /// Every phase entered, oldest first.
    pub history: Vec<PhaseEntry>,
    /// Evidence items, oldest first.
    pub evidence: Vec<EvidenceItem>,
    /// Items per category.
    pub evidence_counts: BTreeMap<String, u32>,
    /// The completion outcome.
    pub outcome: Option<String>,
}

/// The body of a Record: composed from the completed ServiceEvent, then sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBody {
    /// The case.
    pub case: String,
    /// The surface it ran under.
    pub surface: SurfacePin,
    /// The operator who executed it.
    pub operator: String,
    /// The phases it went through.
    pub phases: Vec<PhaseEntry>,
    /// The evidence collected.
    pub evidence: Vec<EvidenceItem>,
    /// The outcome.
    pub outcome: Option<String>,
    /// When execution completed.
    pub completed_at: Millis,
}

/// A sealed Record: durable execution truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What it records.
    pub body: RecordBody,
    /// SHA-256 (hex) over the canonical JSON of `body`.
    pub digest: String,
}

/// A signal emitted for the case. Every signal has a stable id so consumers can drop repeats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable id: `<case>:<kind>:<n>`.
    pub id: String,
    /// `record`, or an escalation's signal name.
    pub kind: String,
    /// The case.
    pub case: String,
    /// When it was emitted.
    pub at: Millis,
    /// What it carries (the Record digest, the phase that stalled).
    pub payload: Value,
}

/// Economic state. Never implied by execution and never implying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementStatus {
    /// Expected, not yet collected.
    Pending,
    /// Collected.
    Captured,
    /// Returned after capture.
    Refunded,
    /// Not to be collected.
    Waived,
}

impl SettlementStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementStatus::Pending => "pending",
            SettlementStatus::Captured => "captured",
            SettlementStatus::Refunded => "refunded",
            SettlementStatus::Waived => "waived",
        }
    }

    /// Parse a status name.
    pub fn parse(name: &str) -> Option<SettlementStatus> {
        [Self::Pending, Self::Captured, Self::Refunded, Self::Waived]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One settlement write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementEntry {
    /// The status written.
    pub status: SettlementStatus,
    /// Amount in minor units (cents).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Who wrote it.
    pub by: String,
    /// When.
    pub at: Millis,
}

/// The Settlement: the latest write and every write before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The current status.
    pub status: SettlementStatus,
    /// The current amount in minor units.
    pub amount_minor: i64,
    /// The current currency.
    pub currency: String,
    /// Every write, oldest first.
    pub history: Vec<SettlementEntry>,
}

/// A move that waits for approval (a transition with `approval`): asked for by the owner,
/// not yet made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    /// The phase the ServiceEvent waits in.
    pub from: String,
    /// The phase it moves to once approved (the last phase: completion).
    pub to: String,
    /// The roles any one of whose holders may approve or reject the move.
    pub approval: Vec<Role>,
    /// For a completion: the outcome asked for.
    pub outcome: Option<String>,
    /// Who asked for the move.
    pub requested_by: String,
    /// When.
    pub requested_at: Millis,
}

/// A ServiceEvent closed by `release_job` before any work was done, kept as history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedServiceEvent {
    /// The ServiceEvent as it was when released (still `open`: it never completes).
    pub service_event: ServiceEvent,
    /// The operator who owned the Job.
    pub owner: String,
    /// Why it was released.
    pub reason: String,
    /// Who released it (the owner or an admin).
    pub by: String,
    /// When.
    pub at: Millis,
}

/// How long the case has been in its current phase, for escalations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseClock {
    /// The phase being timed (the first phase while the Job waits, else the ServiceEvent's).
    pub phase: String,
    /// When it was entered.
    pub entered_at: Millis,
    /// Indices of escalations already raised during this entry.
    pub fired: Vec<u32>,
}

/// Every object of one request lineage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The case id.
    pub id: String,
    /// Events folded so far (the stream version).
    pub version: u64,
    /// The Request, once submitted.
    pub request: Option<Request>,
    /// The governance Task, opened with the Request.
    pub task: Option<Task>,
    /// The Assignment, once an admin assigned.
    pub assignment: Option<Assignment>,
    /// The Job, once created.
    pub job: Option<Job>,
    /// The ServiceEvent, once the Job is claimed.
    pub service_event: Option<ServiceEvent>,
    /// The Record, once sealed.
    pub record: Option<Record>,
    /// Every signal emitted, oldest first.
    pub signals: Vec<Signal>,
    /// The Settlement, once written.
    pub settlement: Option<Settlement>,
    /// The escalation clock.
    pub clock: Option<PhaseClock>,
    /// The move waiting for approval, if any (at most one).
    #[serde(default)]
    pub pending_approval: Option<PendingApproval>,
    /// ServiceEvents closed by `release_job`, oldest first.
    #[serde(default)]
    pub released: Vec<ReleasedServiceEvent>,
}

impl Case {
    /// An empty case with `id` (nothing submitted yet).
    pub fn new(id: impl Into<String>) -> Self {
        Case {
            id: id.into(),
            ..Case::default()
        }
    }

    /// Whether a request was submitted.
    pub fn exists(&self) -> bool {
        self.request.is_some()
    }

    /// The Task's state, if any.
    pub fn task_state(&self) -> Option<TaskState> {
        self.task.as_ref().map(|t| t.state)
    }

    /// The Job's state, if any.
    pub fn job_state(&self) -> Option<JobState> {
        self.job.as_ref().map(|j| j.state)
    }

    /// The ServiceEvent's state, if any.
    pub fn service_event_state(&self) -> Option<ServiceEventState> {
        self.service_event.as_ref().map(|s| s.state)
    }

    /// The assigned operator, if any.
    pub fn assignee(&self) -> Option<&str> {
        self.assignment.as_ref().map(|a| a.operator.as_str())
    }

    /// The Job's owner, if claimed.
    pub fn owner(&self) -> Option<&str> {
        self.job.as_ref().and_then(|j| j.owner.as_deref())
    }

    /// The ServiceEvent's phase, if open or complete.
    pub fn phase(&self) -> Option<&str> {
        self.service_event.as_ref().map(|s| s.phase.as_str())
    }

    /// The phase a pending move would enter, if one waits for approval.
    pub fn pending_phase(&self) -> Option<&str> {
        self.pending_approval.as_ref().map(|p| p.to.as_str())
    }

    /// Signals of `kind` emitted so far.
    pub fn signals_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Signal> + 'a {
        self.signals.iter().filter(move |s| s.kind == kind)
    }
}

//! Rejections: a refused command's stable code, a human message and structured detail.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! rejection_codes {
    ($($(#[$m:meta])* $variant:ident = $text:literal,)+) => {
        /// A stable rejection code (listed in `docs/commands.md`). The snake_case text never
        /// changes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum RejectionCode {
            $($(#[$m])* $variant,)+
        }

        impl RejectionCode {
            /// Every code, in the precedence order of `docs/commands.md`.
            pub const ALL: &'static [RejectionCode] = &[$(RejectionCode::$variant,)+];

            /// The stable text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RejectionCode::$variant => $text,)+
                }
            }

            /// Parse the text form.
            pub fn parse(text: &str) -> Option<RejectionCode> {
                match text {
                    $($text => Some(RejectionCode::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

rejection_codes! {
    /// (1) The principal has no role that may send this command.
    ForbiddenRole = "forbidden_role",
    /// (2) The command addresses a case that does not exist.
    CaseNotFound = "case_not_found",
    /// (2) A directory command on an operator that was never registered.
    OperatorNotFound = "operator_not_found",
    /// (2) `submit_request` on a case id already in use.
    CaseExists = "case_exists",
    /// (2) The surface is not registered (or its pinned version is gone).
    UnknownSurface = "unknown_surface",
    /// (2) New requests and claims on a paused or retired surface.
    SurfaceInactive = "surface_inactive",
    /// (3) Arguments missing, of the wrong type, empty or over a limit.
    PayloadInvalid = "payload_invalid",
    /// (3) The intake does not meet the surface's intake contract.
    IntakeInvalid = "intake_invalid",
    /// (4) The layer the command acts on is not in a state that allows it.
    InvalidState = "invalid_state",
    /// (4) The Task is not approved.
    TaskNotApproved = "task_not_approved",
    /// (4) No operator is assigned.
    NotAssigned = "not_assigned",
    /// (4) The Job already exists.
    JobExists = "job_exists",
    /// (4) There is no Job yet.
    NoJob = "no_job",
    /// (4) The ServiceEvent is not complete.
    ServiceEventNotComplete = "service_event_not_complete",
    /// (4) A move waits for approval: the ServiceEvent may not move (or be released) until
    /// it is approved or rejected.
    ApprovalPending = "approval_pending",
    /// (5) Only the assigned operator may claim.
    NotAssignee = "not_assignee",
    /// (5) Only the operator who owns the Job may do this.
    NotOwner = "not_owner",
    /// (5) An operator's task write on a task not assigned to them; an approval by a client
    /// who did not submit the request.
    AudienceMismatch = "audience_mismatch",
    /// (5) Under `operators = "registered"`: the operator (the principal, or the one a command
    /// names) has no active profile bound to the surface.
    OperatorInactive = "operator_inactive",
    /// (5) Nobody approves their own request: the submitter approving the task, the operator
    /// who asked for a move approving (or rejecting) it.
    SelfApproval = "self_approval",
    /// (6) No declared transition makes this move.
    NoSuchTransition = "no_such_transition",
    /// (6) A prepaid surface needs a captured settlement before the claim.
    SettlementRequired = "settlement_required",
    /// (6) Evidence categories hold too few items.
    EvidenceMissing = "evidence_missing",
    /// (6) The evidence category is not declared by the surface.
    UnknownEvidenceCategory = "unknown_evidence_category",
    /// (6) A rule returned false.
    RuleFailed = "rule_failed",
    /// (6) A rule errored, returned a non-boolean or exceeded a limit (fails closed).
    RuleError = "rule_error",
    /// (6) `migrate_case`: the case's state would mean something else under the target
    /// version (the reasons are in the detail).
    MigrationUnsafe = "migration_unsafe",
    /// The case changed under the command more times than the engine retries.
    Conflict = "conflict",
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused command. It writes nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The stable code.
    pub code: RejectionCode,
    /// A sentence for a human.
    pub message: String,
    /// Structured detail (missing categories, the expected state, ...). `null` when none.
    pub detail: Value,
}

impl Rejection {
    /// A rejection with no detail.
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            detail: Value::Null,
        }
    }

    /// Attach structured detail.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}

//! The names of the commands of `docs/commands.md`, as one closed enum.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The name of a command. Every command a case accepts is one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// `submit_request`: creates the Request and its governance Task.
    SubmitRequest,
    /// `approve_task`: Task `open` → `approved`.
    ApproveTask,
    /// `reject_task`: Task `open` → `rejected`.
    RejectTask,
    /// `assign_task`: records the Assignment.
    AssignTask,
    /// `annotate_task`: a note on the Task.
    AnnotateTask,
    /// `close_task`: governance closure.
    CloseTask,
    /// `create_job`: the explicit hand-off that makes the Job.
    CreateJob,
    /// `claim_job`: the operator claims the Job and opens the ServiceEvent.
    ClaimJob,
    /// `advance`: moves the ServiceEvent along a declared transition.
    Advance,
    /// `attach_evidence`: adds one evidence item to the open ServiceEvent.
    AttachEvidence,
    /// `complete_service_event`: completes the ServiceEvent and seals the Record.
    CompleteServiceEvent,
    /// `complete_job`: Job `completed`.
    CompleteJob,
    /// `cancel_job`: Job `cancelled`.
    CancelJob,
    /// `record_settlement`: writes economic state.
    RecordSettlement,
    /// `erase_personal_data`: destroys the case's key for its sealed (sensitive) intake.
    ErasePersonalData,
    /// `register_operator`: creates an operator's profile, `active`.
    RegisterOperator,
    /// `update_operator`: changes an operator's surface binding or attributes.
    UpdateOperator,
    /// `suspend_operator`: an operator's profile → `suspended`.
    SuspendOperator,
    /// `reinstate_operator`: an operator's profile → `active`.
    ReinstateOperator,
    /// `reassign_job`: hands a claimed Job and its open ServiceEvent to another operator.
    ReassignJob,
    /// `release_job`: a claimed Job with no work done goes back to `queued`.
    ReleaseJob,
    /// `approve_transition`: performs the pending move.
    ApproveTransition,
    /// `reject_transition`: drops the pending move.
    RejectTransition,
    /// `migrate_case`: moves the case to another version of its surface.
    MigrateCase,
}

impl CommandKind {
    /// Every command, in the order `docs/commands.md` lists them.
    pub const ALL: [CommandKind; 24] = [
        CommandKind::SubmitRequest,
        CommandKind::ApproveTask,
        CommandKind::RejectTask,
        CommandKind::AssignTask,
        CommandKind::AnnotateTask,
        CommandKind::CloseTask,
        CommandKind::CreateJob,
        CommandKind::ClaimJob,
        CommandKind::Advance,
        CommandKind::AttachEvidence,
        CommandKind::CompleteServiceEvent,
        CommandKind::CompleteJob,
        CommandKind::CancelJob,
        CommandKind::RecordSettlement,
        CommandKind::RegisterOperator,
        CommandKind::UpdateOperator,
        CommandKind::SuspendOperator,
        CommandKind::ReinstateOperator,
        CommandKind::ReassignJob,
        CommandKind::ReleaseJob,
        CommandKind::ApproveTransition,
        CommandKind::RejectTransition,
        CommandKind::ErasePersonalData,
        CommandKind::MigrateCase,
    ];

    /// The command's name as written in scenarios, rules and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::SubmitRequest => "submit_request",
            CommandKind::ApproveTask => "approve_task",
            CommandKind::RejectTask => "reject_task",
            CommandKind::AssignTask => "assign_task",
            CommandKind::AnnotateTask => "annotate_task",
            CommandKind::CloseTask => "close_task",
            CommandKind::CreateJob => "create_job",
            CommandKind::ClaimJob => "claim_job",
            CommandKind::Advance => "advance",
            CommandKind::AttachEvidence => "attach_evidence",
            CommandKind::CompleteServiceEvent => "complete_service_event",
            CommandKind::CompleteJob => "complete_job",
            CommandKind::CancelJob => "cancel_job",
            CommandKind::RecordSettlement => "record_settlement",
            CommandKind::ErasePersonalData => "erase_personal_data",
            CommandKind::RegisterOperator => "register_operator",
            CommandKind::UpdateOperator => "update_operator",
            CommandKind::SuspendOperator => "suspend_operator",
            CommandKind::ReinstateOperator => "reinstate_operator",
            CommandKind::ReassignJob => "reassign_job",
            CommandKind::ReleaseJob => "release_job",
            CommandKind::ApproveTransition => "approve_transition",
            CommandKind::RejectTransition => "reject_transition",
            CommandKind::MigrateCase => "migrate_case",
        }
    }

    /// Whether the command addresses an operator's profile (the operator directory) rather
    /// than a case: `register_operator`, `update_operator`, `suspend_operator`,
    /// `reinstate_operator`.
    pub fn addresses_operator(self) -> bool {
        matches!(
            self,
            CommandKind::RegisterOperator
                | CommandKind::UpdateOperator
                | CommandKind::SuspendOperator
                | CommandKind::ReinstateOperator
        )
    }

    /// Parse a command name; `None` when it is not one of [`CommandKind::ALL`].
    pub fn parse(name: &str) -> Option<CommandKind> {
        CommandKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

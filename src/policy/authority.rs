//! The authority table: which roles may send which command (`docs/commands.md`).
//!
//! This is only the first gate (`forbidden_role`). Who *exactly* may act (the assignee, the
//! owner, the audience of a task note) is judged later against the case, in `spine::decide`.

use crate::policy::{Principal, Role};
use crate::spine::CommandKind;

/// The roles that may send `command`. `observer` appears nowhere: observers never write.
pub fn allowed_roles(command: CommandKind) -> &'static [Role] {
    use CommandKind as C;
    match command {
        C::SubmitRequest => &[Role::Client, Role::Operator, Role::Admin, Role::System],
        C::ApproveTask
        | C::RejectTask
        | C::AssignTask
        | C::CloseTask
        | C::CreateJob
        | C::CancelJob
        | C::RegisterOperator
        | C::UpdateOperator
        | C::SuspendOperator
        | C::ReinstateOperator
        | C::ReassignJob
        | C::ErasePersonalData
        | C::MigrateCase => &[Role::Admin],
        C::AnnotateTask => &[Role::Admin, Role::Operator],
        C::ClaimJob | C::Advance | C::AttachEvidence | C::CompleteServiceEvent => &[Role::Operator],
        C::CompleteJob | C::ReleaseJob => &[Role::Operator, Role::Admin],
        // Who exactly may approve is the pending move's `approval` (judged against the case).
        C::ApproveTransition | C::RejectTransition => {
            &[Role::Client, Role::Operator, Role::Admin, Role::System]
        }
        C::RecordSettlement => &[Role::Admin, Role::System],
    }
}

/// Whether any of the principal's roles may send `command`.
pub fn may_send(principal: &Principal, command: CommandKind) -> bool {
    allowed_roles(command).iter().any(|r| principal.has(*r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observers_never_write() {
        let observer = Principal::new("o", [Role::Observer]);
        for c in CommandKind::ALL {
            assert!(!may_send(&observer, c), "{c}");
        }
    }
}

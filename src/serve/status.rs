//! How a refused command maps to an HTTP status (docs/serve.md).
//!
//! The match below names every [`RejectionCode`] and has no catch-all arm, so a new code does
//! not compile until someone decides its status here.

use axum::http::StatusCode;

use crate::spine::RejectionCode;

/// The status of a command refused with `code`: 403 when the principal may not do it, 404 when
/// the case or its surface does not exist, 422 when the arguments are wrong, 409 when the
/// state of the case does not allow it.
pub fn status_for(code: RejectionCode) -> StatusCode {
    use RejectionCode as C;
    match code {
        // 403: who the principal (or the operator a command names) is.
        C::ForbiddenRole
        | C::NotAssignee
        | C::NotOwner
        | C::AudienceMismatch
        | C::OperatorInactive
        | C::SelfApproval => StatusCode::FORBIDDEN,
        // 404: what the command addresses does not exist.
        C::CaseNotFound | C::OperatorNotFound | C::UnknownSurface => StatusCode::NOT_FOUND,
        // 422: the arguments.
        C::PayloadInvalid | C::IntakeInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        // 409: every other code: the case's state, the move, a conflict.
        C::CaseExists
        | C::SurfaceInactive
        | C::InvalidState
        | C::TaskNotApproved
        | C::NotAssigned
        | C::JobExists
        | C::NoJob
        | C::ServiceEventNotComplete
        | C::ApprovalPending
        | C::NoSuchTransition
        | C::SettlementRequired
        | C::EvidenceMissing
        | C::UnknownEvidenceCategory
        | C::RuleFailed
        | C::RuleError
        | C::Conflict
        | C::MigrationUnsafe => StatusCode::CONFLICT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_status_of_contract_section_8() {
        for &code in RejectionCode::ALL {
            let expected = match code.as_str() {
                "forbidden_role" | "not_assignee" | "not_owner" | "audience_mismatch"
                | "self_approval" | "operator_inactive" => 403,
                "case_not_found" | "operator_not_found" | "unknown_surface" => 404,
                "payload_invalid" | "intake_invalid" => 422,
                _ => 409,
            };
            assert_eq!(status_for(code).as_u16(), expected, "{code}");
        }
    }
}

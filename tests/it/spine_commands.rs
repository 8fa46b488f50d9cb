//! One test per command per rejection code it can return, through `decide` + `evolve` only.
//! Each test drives a case to the state that provokes the code, then checks the code and that
//! the refused command changed nothing (the harness asserts that on every rejection).

use crate::common;

use common::*;
use planck::spine::{RejectionCode as R, SettlementStatus};
use serde_json::{Value, json};

const EC: &str = "event-coordination";
const AD: &str = "auto-detailing";

fn h() -> Harness {
    Harness::new("c-1")
}

// ---- submit_request -------------------------------------------------------------------------

#[test]
fn submit_forbidden_role() {
    let mut h = h();
    let c = submit("c-1", EC);
    assert_eq!(h.send(&observer(), c).unwrap_err().code, R::ForbiddenRole);
}

#[test]
fn submit_case_exists() {
    let mut h = h();
    h.submit(EC);
    assert_eq!(
        h.send(&client(), submit("c-1", EC)).unwrap_err().code,
        R::CaseExists
    );
}

#[test]
fn submit_unknown_surface() {
    let mut h = h();
    assert_eq!(
        h.send(&client(), submit("c-1", "freight"))
            .unwrap_err()
            .code,
        R::UnknownSurface
    );
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": "event-coordination@9", "intake": intake_for(EC)})
        ),
        R::UnknownSurface
    );
}

#[test]
fn submit_surface_inactive() {
    let mut h = h();
    assert_eq!(
        h.send(&client(), submit("c-1", "paused")).unwrap_err().code,
        R::SurfaceInactive
    );
}

#[test]
fn submit_payload_invalid() {
    let mut h = h();
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": EC, "intake": "not a map"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"intake": intake_for(EC)})
        ),
        R::PayloadInvalid
    );
    let long = "x".repeat(5000);
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": EC, "intake": intake_for(EC), "routing_origin": long})
        ),
        R::PayloadInvalid
    );
}

#[test]
fn submit_intake_invalid() {
    let mut h = h();
    // A required field missing.
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": EC, "intake": {"contact": "a"}})
        ),
        R::IntakeInvalid
    );
    // A required field empty.
    let mut intake = intake_for(EC);
    intake["contact"] = json!("  ");
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": EC, "intake": intake})
        ),
        R::IntakeInvalid
    );
    // A field the surface does not know.
    let mut intake = intake_for(EC);
    intake["shoe_size"] = json!(42);
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": EC, "intake": intake})
        ),
        R::IntakeInvalid
    );
    // Too few photos for auto-detailing.
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": AD, "intake": intake_for(AD), "photos": ["one.jpg"]})
        ),
        R::IntakeInvalid
    );
}

#[test]
fn submit_rule_failed() {
    let mut h = h();
    let intake = json!({"contact": "spam@example.com"});
    assert_eq!(
        h.code(
            &client(),
            "submit_request",
            json!({"surface": "guarded", "intake": intake})
        ),
        R::RuleFailed
    );
}

#[test]
fn submit_accepted_by_every_submitting_role() {
    for (i, who) in [client(), lee(), admin(), system()].iter().enumerate() {
        let mut h = Harness::new(&format!("c-{i}"));
        let c = submit(&h.case.id.clone(), EC);
        h.send(who, c).unwrap();
    }
}

// ---- approve_task / reject_task ---------------------------------------------------------------

#[test]
fn approve_forbidden_role() {
    let mut h = h();
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "approve_task", Value::Null),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&client(), "approve_task", Value::Null),
        R::ForbiddenRole
    );
}

#[test]
fn approve_case_not_found() {
    assert_eq!(
        h().code(&admin(), "approve_task", Value::Null),
        R::CaseNotFound
    );
}

#[test]
fn approve_invalid_state() {
    let mut h = h();
    h.submit(EC);
    h.ok(&admin(), "approve_task", Value::Null);
    assert_eq!(
        h.code(&admin(), "approve_task", Value::Null),
        R::InvalidState
    );
}

#[test]
fn approve_payload_invalid() {
    let mut h = h();
    h.submit(EC);
    assert_eq!(
        h.code(&admin(), "approve_task", json!({"why": "extra"})),
        R::PayloadInvalid
    );
}

#[test]
fn reject_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&admin(), "reject_task", json!({"reason": "spam"})),
        R::CaseNotFound
    );
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "reject_task", json!({"reason": "spam"})),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&admin(), "reject_task", json!({"reason": ""})),
        R::PayloadInvalid
    );
    h.ok(&admin(), "reject_task", json!({"reason": "out of area"}));
    assert_eq!(
        h.code(&admin(), "reject_task", json!({"reason": "again"})),
        R::InvalidState
    );
    assert_eq!(
        h.code(&admin(), "approve_task", Value::Null),
        R::InvalidState
    );
}

// ---- assign_task ------------------------------------------------------------------------------

#[test]
fn assign_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&admin(), "assign_task", json!({"operator": "op-lee"})),
        R::CaseNotFound
    );
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "assign_task", json!({"operator": "op-lee"})),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&admin(), "assign_task", json!({"operator": ""})),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&admin(), "assign_task", json!({"operator": "op-lee"})),
        R::TaskNotApproved
    );
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-max"}));
    // The assignment may change until the job is claimed...
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&lee(), "claim_job", Value::Null);
    // ... and not after.
    assert_eq!(
        h.code(&admin(), "assign_task", json!({"operator": "op-max"})),
        R::InvalidState
    );
}

#[test]
fn assign_on_closed_task_is_invalid_state() {
    let mut h = h();
    h.submit(EC);
    h.ok(&admin(), "close_task", Value::Null);
    assert_eq!(
        h.code(&admin(), "assign_task", json!({"operator": "op-lee"})),
        R::InvalidState
    );
}

// ---- annotate_task ----------------------------------------------------------------------------

#[test]
fn annotate_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&admin(), "annotate_task", json!({"note": "n"})),
        R::CaseNotFound
    );
    h.submit(EC);
    assert_eq!(
        h.code(&client(), "annotate_task", json!({"note": "n"})),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&admin(), "annotate_task", json!({"note": ""})),
        R::PayloadInvalid
    );
    // An operator before any assignment: not their task.
    assert_eq!(
        h.code(&lee(), "annotate_task", json!({"note": "n"})),
        R::AudienceMismatch
    );
    h.ok(&admin(), "annotate_task", json!({"note": "looks fine"}));
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&lee(), "annotate_task", json!({"note": "venue confirmed"}));
    assert_eq!(
        h.code(&max(), "annotate_task", json!({"note": "mine now"})),
        R::AudienceMismatch
    );
    h.ok(&admin(), "close_task", Value::Null);
    assert_eq!(
        h.code(&admin(), "annotate_task", json!({"note": "late"})),
        R::InvalidState
    );
    assert_eq!(h.case.task.as_ref().unwrap().notes.len(), 2);
}

// ---- close_task -------------------------------------------------------------------------------

#[test]
fn close_codes() {
    let mut h = h();
    assert_eq!(h.code(&admin(), "close_task", Value::Null), R::CaseNotFound);
    h.submit(EC);
    assert_eq!(h.code(&lee(), "close_task", Value::Null), R::ForbiddenRole);
    h.ok(&admin(), "close_task", Value::Null);
    assert_eq!(h.code(&admin(), "close_task", Value::Null), R::InvalidState);
}

// ---- create_job -------------------------------------------------------------------------------

#[test]
fn create_job_codes() {
    let mut h = h();
    assert_eq!(h.code(&admin(), "create_job", Value::Null), R::CaseNotFound);
    h.submit(EC);
    assert_eq!(h.code(&lee(), "create_job", Value::Null), R::ForbiddenRole);
    assert_eq!(
        h.code(&admin(), "create_job", Value::Null),
        R::TaskNotApproved
    );
    h.ok(&admin(), "approve_task", Value::Null);
    assert_eq!(h.code(&admin(), "create_job", Value::Null), R::NotAssigned);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(h.code(&admin(), "create_job", Value::Null), R::JobExists);
}

// ---- claim_job --------------------------------------------------------------------------------

#[test]
fn claim_codes() {
    let mut h = h();
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::CaseNotFound);
    h.submit(EC);
    assert_eq!(h.code(&admin(), "claim_job", Value::Null), R::ForbiddenRole);
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::NoJob);
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::NoJob);
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(h.code(&max(), "claim_job", Value::Null), R::NotAssignee);
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::InvalidState);
}

#[test]
fn claim_surface_inactive() {
    let mut h = h();
    h.reach_job("flip");
    assert_eq!(h.case.request.as_ref().unwrap().surface.version, 1);
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::SurfaceInactive);
}

#[test]
fn claim_settlement_required() {
    let mut h = h();
    h.reach_job("prepaid");
    assert_eq!(
        h.code(&lee(), "claim_job", Value::Null),
        R::SettlementRequired
    );
    h.settle(SettlementStatus::Pending);
    assert_eq!(
        h.code(&lee(), "claim_job", Value::Null),
        R::SettlementRequired
    );
    h.settle(SettlementStatus::Captured);
    h.ok(&lee(), "claim_job", Value::Null);
}

#[test]
fn claim_rule_failed() {
    let mut h = h();
    h.send(
        &client(),
        cmd(
            "c-1",
            "submit_request",
            json!({"surface": "guarded", "intake": {"contact": "nobody@example.com"}}),
        ),
    )
    .unwrap();
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    let rejection = h
        .send(&lee(), cmd("c-1", "claim_job", Value::Null))
        .unwrap_err();
    assert_eq!(rejection.code, R::RuleFailed);
    assert_eq!(rejection.message, "this request may not be claimed");
}

#[test]
fn claim_payload_invalid() {
    let mut h = h();
    h.reach_job(EC);
    assert_eq!(
        h.code(&lee(), "claim_job", json!({"as": "op-max"})),
        R::PayloadInvalid
    );
}

// ---- advance ----------------------------------------------------------------------------------

#[test]
fn advance_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "arrived"})),
        R::CaseNotFound
    );
    h.reach_job(EC);
    assert_eq!(
        h.code(&admin(), "advance", json!({"to": "arrived"})),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": ""})),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": 7})),
        R::PayloadInvalid
    );
    // Claim is required on event-coordination: a queued job does not move.
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "claimed"})),
        R::InvalidState
    );
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(
        h.code(&max(), "advance", json!({"to": "arrived"})),
        R::NotOwner
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "in_progress"})),
        R::NoSuchTransition
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "teleported"})),
        R::NoSuchTransition
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "queued"})),
        R::NoSuchTransition
    );
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    // The last phase is entered only by completing the service event.
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "complete"})),
        R::NoSuchTransition
    );
}

#[test]
fn advance_no_job() {
    let mut h = h();
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "arrived"})),
        R::NoJob
    );
}

#[test]
fn advance_evidence_missing() {
    let mut h = h();
    h.reach_claimed(AD);
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    let r = h
        .send(&lee(), cmd("c-1", "advance", json!({"to": "in_progress"})))
        .unwrap_err();
    assert_eq!(r.code, R::EvidenceMissing);
    let missing: Vec<&str> = r.detail["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["category"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["arrival", "before"]);
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "arrival", "ref": "a.jpg"}),
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "in_progress"})),
        R::EvidenceMissing
    );
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "before", "ref": "b.jpg"}),
    );
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
}

#[test]
fn advance_rule_failed() {
    let mut h = h();
    h.send(
        &client(),
        cmd(
            "c-1",
            "submit_request",
            json!({"surface": "guarded", "intake": {"contact": "a@b.c", "notes": "blocked"}}),
        ),
    )
    .unwrap();
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    h.ok(&lee(), "claim_job", Value::Null);
    let r = h
        .send(&lee(), cmd("c-1", "advance", json!({"to": "arrived"})))
        .unwrap_err();
    assert_eq!(
        (r.code, r.message.as_str()),
        (R::RuleFailed, "the job is blocked")
    );
}

#[test]
fn advance_after_completion_is_invalid_state() {
    let mut h = h();
    h.reach_complete(EC);
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "arrived"})),
        R::InvalidState
    );
    h.ok(&lee(), "complete_job", Value::Null);
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "arrived"})),
        R::InvalidState
    );
}

// ---- attach_evidence --------------------------------------------------------------------------

#[test]
fn attach_codes() {
    let mut h = h();
    let ev = json!({"category": "arrival", "ref": "a.jpg"});
    assert_eq!(
        h.code(&lee(), "attach_evidence", ev.clone()),
        R::CaseNotFound
    );
    h.submit(AD);
    assert_eq!(
        h.code(&admin(), "attach_evidence", ev.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(
            &lee(),
            "attach_evidence",
            json!({"category": "arrival", "ref": ""})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&lee(), "attach_evidence", json!({"category": "arrival"})),
        R::PayloadInvalid
    );
    assert_eq!(h.code(&lee(), "attach_evidence", ev.clone()), R::NoJob);
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(
        h.code(&lee(), "attach_evidence", ev.clone()),
        R::InvalidState
    );
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(h.code(&max(), "attach_evidence", ev.clone()), R::NotOwner);
    assert_eq!(
        h.code(
            &lee(),
            "attach_evidence",
            json!({"category": "selfie", "ref": "s.jpg"})
        ),
        R::UnknownEvidenceCategory
    );
    h.ok(&lee(), "attach_evidence", ev);
}

#[test]
fn attach_rule_error_fails_closed() {
    let mut h = h();
    h.reach_claimed("guarded");
    let r = h
        .send(
            &lee(),
            cmd(
                "c-1",
                "attach_evidence",
                json!({"category": "note", "ref": "n.txt"}),
            ),
        )
        .unwrap_err();
    assert_eq!(r.code, R::RuleError);
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "after", "ref": "a.jpg"}),
    );
}

// ---- complete_service_event -------------------------------------------------------------------

#[test]
fn complete_service_event_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&lee(), "complete_service_event", Value::Null),
        R::CaseNotFound
    );
    h.submit(AD);
    assert_eq!(
        h.code(&admin(), "complete_service_event", Value::Null),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(
            &lee(),
            "complete_service_event",
            json!({"outcome": "x".repeat(5000)})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&lee(), "complete_service_event", Value::Null),
        R::NoJob
    );
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(
        h.code(&lee(), "complete_service_event", Value::Null),
        R::InvalidState
    );
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(
        h.code(&max(), "complete_service_event", Value::Null),
        R::NotOwner
    );
    // auto-detailing declares no move from `claimed` to `complete`.
    assert_eq!(
        h.code(&lee(), "complete_service_event", Value::Null),
        R::NoSuchTransition
    );
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "arrival", "ref": "a.jpg"}),
    );
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "before", "ref": "b.jpg"}),
    );
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    let r = h
        .send(&lee(), cmd("c-1", "complete_service_event", Value::Null))
        .unwrap_err();
    assert_eq!(r.code, R::EvidenceMissing);
    assert_eq!(r.detail["missing"][0]["category"], "after");
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "after", "ref": "c.jpg"}),
    );
    h.ok(
        &lee(),
        "complete_service_event",
        json!({"outcome": "detailed"}),
    );
    assert_eq!(
        h.code(&lee(), "complete_service_event", Value::Null),
        R::InvalidState
    );
}

// ---- complete_job -----------------------------------------------------------------------------

#[test]
fn complete_job_codes() {
    let mut h = h();
    assert_eq!(h.code(&lee(), "complete_job", Value::Null), R::CaseNotFound);
    h.submit(EC);
    assert_eq!(
        h.code(&client(), "complete_job", Value::Null),
        R::ForbiddenRole
    );
    assert_eq!(h.code(&lee(), "complete_job", Value::Null), R::NoJob);
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(
        h.code(&admin(), "complete_job", Value::Null),
        R::InvalidState
    );
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(
        h.code(&lee(), "complete_job", Value::Null),
        R::ServiceEventNotComplete
    );
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    h.ok(&lee(), "complete_service_event", Value::Null);
    assert_eq!(h.code(&max(), "complete_job", Value::Null), R::NotOwner);
    assert_eq!(
        h.code(&lee(), "complete_job", json!({"extra": true})),
        R::PayloadInvalid
    );
    h.ok(&admin(), "complete_job", Value::Null);
    assert_eq!(h.code(&lee(), "complete_job", Value::Null), R::InvalidState);
}

// ---- cancel_job -------------------------------------------------------------------------------

#[test]
fn cancel_job_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&admin(), "cancel_job", json!({"reason": "r"})),
        R::CaseNotFound
    );
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "cancel_job", json!({"reason": "r"})),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&admin(), "cancel_job", json!({"reason": ""})),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&admin(), "cancel_job", json!({"reason": "r"})),
        R::NoJob
    );
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    h.ok(
        &admin(),
        "cancel_job",
        json!({"reason": "client called off"}),
    );
    assert_eq!(
        h.code(&admin(), "cancel_job", json!({"reason": "r"})),
        R::InvalidState
    );
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::InvalidState);
}

#[test]
fn cancel_completed_job_is_invalid_state() {
    let mut h = h();
    h.reach_complete(EC);
    h.ok(&lee(), "complete_job", Value::Null);
    assert_eq!(
        h.code(&admin(), "cancel_job", json!({"reason": "r"})),
        R::InvalidState
    );
}

// ---- record_settlement ------------------------------------------------------------------------

#[test]
fn settlement_codes() {
    let mut h = h();
    let captured = json!({"status": "captured", "amount_minor": 12_500, "currency": "USD"});
    assert_eq!(
        h.code(&admin(), "record_settlement", captured.clone()),
        R::CaseNotFound
    );
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "record_settlement", captured.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&client(), "record_settlement", captured.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(
            &admin(),
            "record_settlement",
            json!({"status": "paid", "amount_minor": 1, "currency": "USD"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(
            &admin(),
            "record_settlement",
            json!({"status": "captured", "amount_minor": -1, "currency": "USD"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(
            &admin(),
            "record_settlement",
            json!({"status": "captured", "amount_minor": 1, "currency": "usd"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&admin(), "record_settlement", captured.clone()),
        R::NoJob
    );
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(
        h.code(
            &system(),
            "record_settlement",
            json!({"status": "refunded", "amount_minor": 1, "currency": "USD"})
        ),
        R::InvalidState
    );
    h.send(&system(), cmd("c-1", "record_settlement", captured))
        .unwrap();
    h.ok(
        &admin(),
        "record_settlement",
        json!({"status": "refunded", "amount_minor": 12_500, "currency": "USD"}),
    );
    assert_eq!(h.case.settlement.as_ref().unwrap().history.len(), 2);
}

// ---- precedence (docs/commands.md) ------------------------------------------------------------

#[test]
fn role_outranks_everything() {
    // No case, bad payload, wrong role: the role is reported.
    assert_eq!(
        h().code(&observer(), "advance", json!({"to": 3})),
        R::ForbiddenRole
    );
}

#[test]
fn case_outranks_payload() {
    assert_eq!(
        h().code(&lee(), "advance", json!({"to": 3})),
        R::CaseNotFound
    );
}

#[test]
fn surface_outranks_payload_on_submit() {
    assert_eq!(
        h().code(
            &client(),
            "submit_request",
            json!({"surface": "paused", "intake": "nope"})
        ),
        R::SurfaceInactive
    );
}

#[test]
fn payload_outranks_state() {
    let mut h = h();
    h.submit(EC);
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": ""})),
        R::PayloadInvalid
    );
}

#[test]
fn state_outranks_principal() {
    // Not the owner, and the service event is not complete: the state is reported.
    let mut h = h();
    h.reach_claimed(EC);
    assert_eq!(
        h.code(&max(), "complete_job", Value::Null),
        R::ServiceEventNotComplete
    );
}

#[test]
fn principal_outranks_the_move() {
    let mut h = h();
    h.reach_claimed(AD);
    assert_eq!(
        h.code(&max(), "advance", json!({"to": "complete"})),
        R::NotOwner
    );
}

#[test]
fn rule_failed_outranks_rule_error() {
    let surface = custom(
        "two-rules",
        "active",
        "",
        r#"
[[rule]]
name = "errors"
on = "approve_task"
when = 'case.intake.contact + 1'
message = "never"
[[rule]]
name = "fails"
on = "approve_task"
when = 'false'
message = "approval is closed"
"#,
    );
    let mut h = h();
    h.catalog = vec![surface];
    let c = submit("c-1", "two-rules");
    h.send(&client(), c).unwrap();
    assert_eq!(h.code(&admin(), "approve_task", Value::Null), R::RuleFailed);
}

#[test]
fn a_malformed_version_pin_is_an_unknown_surface() {
    let mut h = h();
    let args = json!({"surface": "event-coordination@one", "intake": intake_for(EC)});
    assert_eq!(h.code(&client(), "submit_request", args), R::UnknownSurface);
    let args = json!({"surface": "event-coordination@1", "intake": intake_for(EC)});
    assert!(
        h.send(&client(), cmd("c-1", "submit_request", args))
            .is_ok()
    );
}

#[test]
fn an_unknown_surface_is_not_echoed_at_length() {
    let mut h = h();
    let long = "x".repeat(100_000);
    let r = h
        .send(
            &client(),
            cmd(
                "c-1",
                "submit_request",
                json!({"surface": long, "intake": {}}),
            ),
        )
        .unwrap_err();
    assert_eq!(r.code, R::UnknownSurface);
    assert!(r.message.len() < 300, "{}", r.message.len());
}

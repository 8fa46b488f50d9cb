//! Governance through `decide` + `evolve` only: one test per new command per rejection code it
//! can return, the new codes of the other commands, and the precedence of the new codes
//! (docs/commands.md). The harness folds directory commands into profiles and hands them to
//! `decide` beside the surfaces, as the engine does.

use crate::common;

use common::*;
use planck::policy::{Principal, Role};
use planck::spine::{Event, JobState, OperatorStatus, RejectionCode as R, ServiceEventState};
use serde_json::{Value, json};

const REPAIR: &str = "repair";
const QUOTE: &str = "quote";
const EC: &str = "event-coordination";

/// A harness with op-lee bound to `repair` and op-max bound to every surface.
fn h() -> Harness {
    let mut h = Harness::new("c-1");
    h.register("op-lee", &[REPAIR]);
    h.register("op-max", &[]);
    h
}

/// The code of a refused directory command.
fn dir_code(h: &mut Harness, who: &Principal, name: &str, args: Value) -> R {
    match h.directory(who, op_cmd(name, args)) {
        Ok(events) => panic!("{name} was accepted: {events:?}"),
        Err(r) => r.code,
    }
}

/// Claimed by op-lee on `slug`.
fn claimed(h: &mut Harness, slug: &str) {
    h.reach_claimed(slug);
}

/// An admin suspends `operator` (reason "r").
fn suspend(h: &mut Harness, operator: &str) {
    let args = json!({"operator": operator, "reason": "r"});
    h.directory(&admin(), op_cmd("suspend_operator", args))
        .unwrap();
}

/// An admin reinstates `operator`.
fn reinstate(h: &mut Harness, operator: &str) {
    let args = json!({"operator": operator});
    h.directory(&admin(), op_cmd("reinstate_operator", args))
        .unwrap();
}

/// `who` attaches evidence of `category` under the reference `reference`.
fn attach(h: &mut Harness, who: &Principal, category: &str, reference: &str) {
    h.ok(
        who,
        "attach_evidence",
        json!({"category": category, "ref": reference}),
    );
}

/// On `repair`: claimed, moved to `in_progress` with the client's approval, and the `after`
/// evidence attached.
fn working(h: &mut Harness) {
    claimed(h, REPAIR);
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    h.ok(&client(), "approve_transition", Value::Null);
    attach(h, &lee(), "after", "a");
}

/// ... and the completion (outcome "fixed") asked for: it waits for an admin.
fn completion_pending(h: &mut Harness) {
    working(h);
    h.ok(
        &lee(),
        "complete_service_event",
        json!({"outcome": "fixed"}),
    );
}

/// On `repair`: claimed, moved to `arrived`, and the move into `in_progress` asked for.
fn quote_pending(h: &mut Harness) {
    claimed(h, REPAIR);
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    let events = h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    assert!(matches!(
        events.as_slice(),
        [Event::TransitionRequested { to, .. }] if to == "in_progress"
    ));
    assert_eq!(h.case.pending_phase(), Some("in_progress"));
    assert_eq!(h.case.phase(), Some("arrived"));
}

fn lee_and_client() -> Principal {
    Principal::new("op-lee", [Role::Operator, Role::Client])
}

fn sam() -> Principal {
    Principal::new("op-sam", [Role::Operator, Role::Admin])
}

fn client_bo() -> Principal {
    Principal::new("client-bo", [Role::Client])
}

// ---- register_operator ----------------------------------------------------------------------

#[test]
fn register_operator_codes() {
    let mut h = h();
    let args = json!({"operator": "op-new", "name": "New"});
    assert_eq!(
        dir_code(&mut h, &lee(), "register_operator", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        dir_code(&mut h, &observer(), "register_operator", args.clone()),
        R::ForbiddenRole
    );
    for bad in [
        json!({"operator": "op-new", "name": ""}),
        json!({"operator": "", "name": "New"}),
        json!({"operator": "x".repeat(200), "name": "New"}),
        json!({"operator": "op-new", "name": "N\u{7}ew"}),
        json!({"operator": "op-new", "name": "New", "surfaces": ["Not A Slug"]}),
        json!({"operator": "op-new", "name": "New", "surfaces": ["repair", "repair"]}),
        json!({"operator": "op-new", "name": "New", "attributes": {"deep": [[[[[[[[[[1]]]]]]]]]]}}),
        json!({"operator": "op-new", "name": "New", "colour": "red"}),
        json!({"operator": "op-new"}),
    ] {
        assert_eq!(
            dir_code(&mut h, &admin(), "register_operator", bad.clone()),
            R::PayloadInvalid,
            "{bad}"
        );
    }
    // A directory command addresses the stream of the operator it names.
    let astray = cmd("operator:op-other", "register_operator", args.clone());
    assert_eq!(
        h.directory(&admin(), astray).unwrap_err().code,
        R::PayloadInvalid
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "register_operator",
            json!({"operator": "op-lee", "name": "Lee"})
        ),
        R::InvalidState
    );
    h.directory(&admin(), op_cmd("register_operator", args))
        .unwrap();
    let p = &h.profiles["op-new"];
    assert_eq!(p.status, OperatorStatus::Active);
    assert!(p.surfaces.is_empty() && p.binds("anything"));
}

// ---- update_operator ------------------------------------------------------------------------

#[test]
fn update_operator_codes() {
    let mut h = h();
    let args = json!({"operator": "op-lee", "surfaces": ["repair", "quote"]});
    assert_eq!(
        dir_code(&mut h, &lee(), "update_operator", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "update_operator",
            json!({"operator": "op-ghost", "surfaces": []})
        ),
        R::OperatorNotFound
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "update_operator",
            json!({"operator": "op-lee"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "update_operator",
            json!({"operator": "op-lee", "surfaces": ["no spaces"]})
        ),
        R::PayloadInvalid
    );
    h.directory(&admin(), op_cmd("update_operator", args))
        .unwrap();
    h.directory(
        &admin(),
        op_cmd(
            "update_operator",
            json!({"operator": "op-lee", "attributes": {"bay": 3}}),
        ),
    )
    .unwrap();
    let p = &h.profiles["op-lee"];
    assert_eq!(p.surfaces, ["repair", "quote"]);
    assert_eq!(p.attributes["bay"], json!(3));
}

// ---- suspend_operator / reinstate_operator --------------------------------------------------

#[test]
fn suspend_operator_codes() {
    let mut h = h();
    let args = json!({"operator": "op-lee", "reason": "lapsed"});
    assert_eq!(
        dir_code(&mut h, &client(), "suspend_operator", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "suspend_operator",
            json!({"operator": "op-ghost", "reason": "r"})
        ),
        R::OperatorNotFound
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "suspend_operator",
            json!({"operator": "op-lee", "reason": " "})
        ),
        R::PayloadInvalid
    );
    h.directory(&admin(), op_cmd("suspend_operator", args.clone()))
        .unwrap();
    assert_eq!(h.profiles["op-lee"].status, OperatorStatus::Suspended);
    assert_eq!(
        h.profiles["op-lee"].suspended_reason.as_deref(),
        Some("lapsed")
    );
    assert_eq!(
        dir_code(&mut h, &admin(), "suspend_operator", args),
        R::InvalidState
    );
}

#[test]
fn reinstate_operator_codes() {
    let mut h = h();
    let args = json!({"operator": "op-lee"});
    assert_eq!(
        dir_code(&mut h, &lee(), "reinstate_operator", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "reinstate_operator",
            json!({"operator": "op-ghost"})
        ),
        R::OperatorNotFound
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "reinstate_operator",
            json!({"operator": "op-lee", "reason": "extra"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        dir_code(&mut h, &admin(), "reinstate_operator", args.clone()),
        R::InvalidState
    );
    suspend(&mut h, "op-lee");
    h.directory(&admin(), op_cmd("reinstate_operator", args))
        .unwrap();
    assert_eq!(h.profiles["op-lee"].status, OperatorStatus::Active);
    assert_eq!(h.profiles["op-lee"].suspended_reason, None);
}

#[test]
fn directory_precedence_operator_before_payload() {
    let mut h = h();
    // (2) the operator outranks (3) the arguments, even for a malformed body.
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "update_operator",
            json!({"operator": "op-ghost"})
        ),
        R::OperatorNotFound
    );
    assert_eq!(
        dir_code(
            &mut h,
            &admin(),
            "suspend_operator",
            json!({"operator": "op-ghost", "reason": 3})
        ),
        R::OperatorNotFound
    );
    // (1) the role outranks (2).
    assert_eq!(
        dir_code(
            &mut h,
            &lee(),
            "suspend_operator",
            json!({"operator": "op-ghost", "reason": "r"})
        ),
        R::ForbiddenRole
    );
}

// ---- operators = "registered" ---------------------------------------------------------------

#[test]
fn assign_task_operator_inactive() {
    let mut h = h();
    h.register("op-zed", &[EC]);
    h.submit(REPAIR);
    h.ok(&admin(), "approve_task", Value::Null);
    for (operator, detail) in [
        (
            "op-ghost",
            json!({"operator": "op-ghost", "registered": false}),
        ),
        (
            "op-zed",
            json!({"operator": "op-zed", "surfaces": [EC], "surface": REPAIR}),
        ),
    ] {
        let r = h
            .send(
                &admin(),
                cmd("c-1", "assign_task", json!({"operator": operator})),
            )
            .unwrap_err();
        assert_eq!(r.code, R::OperatorInactive);
        assert_eq!(r.detail, detail);
    }
    suspend(&mut h, "op-max");
    let r = h
        .send(
            &admin(),
            cmd("c-1", "assign_task", json!({"operator": "op-max"})),
        )
        .unwrap_err();
    assert_eq!(r.code, R::OperatorInactive);
    assert_eq!(
        r.detail,
        json!({"operator": "op-max", "status": "suspended"})
    );
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    // Under `operators = "any"` profiles are not consulted.
    let mut any = Harness::new("c-2");
    any.submit(EC);
    any.ok(&admin(), "approve_task", Value::Null);
    any.ok(&admin(), "assign_task", json!({"operator": "op-ghost"}));
}

#[test]
fn owner_commands_need_an_active_bound_profile() {
    let mut h = h();
    h.reach_job(REPAIR);
    suspend(&mut h, "op-lee");
    assert_eq!(
        h.code(&lee(), "claim_job", Value::Null),
        R::OperatorInactive
    );
    reinstate(&mut h, "op-lee");
    h.ok(&lee(), "claim_job", Value::Null);
    attach(&mut h, &lee(), "after", "a");
    // Bound elsewhere now: every owner command is refused.
    h.directory(
        &admin(),
        op_cmd(
            "update_operator",
            json!({"operator": "op-lee", "surfaces": [EC]}),
        ),
    )
    .unwrap();
    for (name, args) in [
        ("advance", json!({"to": "arrived"})),
        ("attach_evidence", json!({"category": "note", "ref": "n"})),
        ("complete_service_event", json!({})),
    ] {
        assert_eq!(h.code(&lee(), name, args), R::OperatorInactive, "{name}");
    }
}

#[test]
fn complete_job_operator_inactive_for_the_owner_not_for_an_admin() {
    // `quote` is `any`; `repair` completes only with an admin's approval.
    let mut h = h();
    completion_pending(&mut h);
    h.ok(&admin(), "approve_transition", Value::Null);
    suspend(&mut h, "op-lee");
    assert_eq!(
        h.code(&lee(), "complete_job", Value::Null),
        R::OperatorInactive
    );
    h.ok(&admin(), "complete_job", Value::Null);
}

#[test]
fn actor_profile_is_in_the_rules_scope() {
    let mut h = h();
    h.reach_job(QUOTE);
    // `quote` is `any`: op-lee claims whatever their profile says, unless the rule refuses.
    suspend(&mut h, "op-lee");
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::RuleFailed);
    reinstate(&mut h, "op-lee");
    h.ok(&lee(), "claim_job", Value::Null);
    // With no profile at all, `actor.profile` is `()`.
    let mut bare = Harness::new("c-2");
    bare.reach_claimed(QUOTE);
}

// ---- reassign_job ---------------------------------------------------------------------------

#[test]
fn reassign_job_codes() {
    let mut h = h();
    let args = json!({"operator": "op-max", "reason": "handover"});
    assert_eq!(
        h.code(&admin(), "reassign_job", args.clone()),
        R::CaseNotFound
    );
    h.submit(REPAIR);
    assert_eq!(
        h.code(&lee(), "reassign_job", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(h.code(&admin(), "reassign_job", args.clone()), R::NoJob);
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(
        h.code(&admin(), "reassign_job", args.clone()),
        R::InvalidState
    );
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(
        h.code(&admin(), "reassign_job", json!({"operator": "op-max"})),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(
            &admin(),
            "reassign_job",
            json!({"operator": "", "reason": "r"})
        ),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(
            &admin(),
            "reassign_job",
            json!({"operator": "op-lee", "reason": "r"})
        ),
        R::InvalidState
    );
    assert_eq!(
        h.code(
            &admin(),
            "reassign_job",
            json!({"operator": "op-ghost", "reason": "r"})
        ),
        R::OperatorInactive
    );
    assert_eq!(
        h.code(
            &admin(),
            "reassign_job",
            json!({"operator": "op-max", "reason": "whim"})
        ),
        R::RuleFailed
    );
    attach(&mut h, &lee(), "note", "n");
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    let events = h.ok(&admin(), "reassign_job", args);
    assert!(matches!(
        events.as_slice(),
        [Event::JobReassigned { from, to, .. }] if from == "op-lee" && to == "op-max"
    ));
    // Phase and evidence kept, the assignment stays as history, the desk follows the owner.
    assert_eq!(h.case.owner(), Some("op-max"));
    assert_eq!(h.case.assignee(), Some("op-lee"));
    assert_eq!(h.case.phase(), Some("arrived"));
    assert_eq!(h.case.service_event.as_ref().unwrap().evidence.len(), 1);
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "in_progress"})),
        R::NotOwner
    );
    h.ok(&max(), "advance", json!({"to": "in_progress"}));
    h.assert_replays();
}

#[test]
fn reassign_keeps_a_pending_approval() {
    let mut h = h();
    quote_pending(&mut h);
    h.ok(
        &admin(),
        "reassign_job",
        json!({"operator": "op-max", "reason": "r"}),
    );
    assert_eq!(h.case.pending_phase(), Some("in_progress"));
    h.ok(&client(), "approve_transition", Value::Null);
    assert_eq!(h.case.phase(), Some("in_progress"));
    assert_eq!(h.case.owner(), Some("op-max"));
}

#[test]
fn reassign_after_completion_is_invalid_state() {
    let mut h = Harness::new("c-1");
    h.reach_complete(EC);
    assert_eq!(
        h.code(
            &admin(),
            "reassign_job",
            json!({"operator": "op-max", "reason": "r"})
        ),
        R::InvalidState
    );
}

// ---- release_job ----------------------------------------------------------------------------

#[test]
fn release_job_codes() {
    let mut h = h();
    let args = json!({"reason": "the bay is flooded"});
    assert_eq!(h.code(&lee(), "release_job", args.clone()), R::CaseNotFound);
    h.submit(REPAIR);
    assert_eq!(
        h.code(&client(), "release_job", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(h.code(&lee(), "release_job", args.clone()), R::NoJob);
    h.ok(&admin(), "approve_task", Value::Null);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(h.code(&lee(), "release_job", args.clone()), R::InvalidState);
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(h.code(&lee(), "release_job", json!({})), R::PayloadInvalid);
    assert_eq!(h.code(&max(), "release_job", args.clone()), R::NotOwner);
    assert_eq!(
        h.code(&lee(), "release_job", json!({"reason": "whim"})),
        R::RuleFailed
    );
    let events = h.ok(&lee(), "release_job", args.clone());
    assert!(matches!(
        events.as_slice(),
        [Event::JobReleased { phase, .. }] if phase == "queued"
    ));
    assert_eq!(h.case.job_state(), Some(JobState::Queued));
    assert_eq!(h.case.owner(), None);
    assert!(h.case.service_event.is_none());
    assert_eq!(h.case.released.len(), 1);
    assert_eq!(h.case.released[0].owner, "op-lee");
    assert_eq!(
        h.case.released[0].service_event.state,
        ServiceEventState::Open
    );
    assert_eq!(h.case.clock.as_ref().unwrap().phase, "queued");
    // The assignment may change again, and the next claim opens a new service event.
    h.ok(&admin(), "assign_task", json!({"operator": "op-max"}));
    h.ok(&max(), "claim_job", Value::Null);
    assert_eq!(h.case.service_event.as_ref().unwrap().history.len(), 1);
    // Work done: not released, by the owner or by an admin.
    attach(&mut h, &max(), "note", "n");
    assert_eq!(h.code(&max(), "release_job", args.clone()), R::InvalidState);
    assert_eq!(h.code(&admin(), "release_job", args), R::InvalidState);
    h.assert_replays();
}

#[test]
fn release_job_after_the_second_phase_is_invalid_state() {
    let mut h = h();
    claimed(&mut h, REPAIR);
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    assert_eq!(
        h.code(&lee(), "release_job", json!({"reason": "r"})),
        R::InvalidState
    );
}

#[test]
fn release_job_by_an_admin() {
    let mut h = h();
    claimed(&mut h, REPAIR);
    suspend(&mut h, "op-lee");
    assert_eq!(
        h.code(&lee(), "release_job", json!({"reason": "r"})),
        R::OperatorInactive
    );
    h.ok(
        &admin(),
        "release_job",
        json!({"reason": "op-lee is suspended"}),
    );
    assert_eq!(h.case.job_state(), Some(JobState::Queued));
}

// ---- approvals ------------------------------------------------------------------------------

#[test]
fn while_pending_the_service_event_neither_moves_nor_is_released() {
    let mut h = h();
    quote_pending(&mut h);
    let r = h
        .send(&lee(), cmd("c-1", "advance", json!({"to": "in_progress"})))
        .unwrap_err();
    assert_eq!(r.code, R::ApprovalPending);
    assert_eq!(r.detail["to"], "in_progress");
    assert_eq!(r.detail["approval"], json!(["client"]));
    assert_eq!(
        h.code(&lee(), "complete_service_event", json!({})),
        R::ApprovalPending
    );
    assert_eq!(
        h.code(&lee(), "release_job", json!({"reason": "r"})),
        R::ApprovalPending
    );
    // Evidence may still be attached.
    attach(&mut h, &lee(), "note", "n");
}

#[test]
fn approve_transition_codes() {
    let mut h = h();
    assert_eq!(
        h.code(&client(), "approve_transition", Value::Null),
        R::CaseNotFound
    );
    claimed(&mut h, REPAIR);
    assert_eq!(
        h.code(&observer(), "approve_transition", Value::Null),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&client(), "approve_transition", Value::Null),
        R::InvalidState
    );
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    // Only the roles the move names.
    let r = h
        .send(&admin(), cmd("c-1", "approve_transition", Value::Null))
        .unwrap_err();
    assert_eq!(r.code, R::ForbiddenRole);
    assert_eq!(r.detail["allowed_roles"], json!(["client"]));
    assert_eq!(
        h.code(&client(), "approve_transition", json!({"note": "x"})),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&client_bo(), "approve_transition", Value::Null),
        R::AudienceMismatch
    );
    let events = h.ok(&client(), "approve_transition", Value::Null);
    assert!(matches!(
        events.as_slice(),
        [Event::TransitionApproved { by, .. }, Event::PhaseAdvanced { from, to, by: mover, .. }]
            if by == "client-ava" && from == "arrived" && to == "in_progress" && mover == "op-lee"
    ));
    assert_eq!(h.case.pending_approval, None);
    assert_eq!(
        h.code(&client(), "approve_transition", Value::Null),
        R::InvalidState
    );
}

#[test]
fn approve_transition_rechecks_the_move() {
    let mut h = h();
    // The completion asked for with the evidence it needs ...
    completion_pending(&mut h);
    // ... is approved only while the rules of `approve_transition` hold.
    let mut frozen = Harness::new("c-2");
    frozen.register("op-lee", &[REPAIR]);
    frozen
        .send(
            &client(),
            cmd(
                "c-2",
                "submit_request",
                json!({"surface": REPAIR, "intake": {"contact": "frozen@example.com"}}),
            ),
        )
        .unwrap();
    frozen.ok(&admin(), "approve_task", Value::Null);
    frozen.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    frozen.ok(&admin(), "create_job", Value::Null);
    frozen.ok(&lee(), "claim_job", Value::Null);
    frozen.ok(&lee(), "advance", json!({"to": "arrived"}));
    frozen.ok(&lee(), "advance", json!({"to": "in_progress"}));
    assert_eq!(
        frozen.code(&client(), "approve_transition", Value::Null),
        R::RuleFailed
    );
    assert_eq!(
        frozen.case.pending_phase(),
        Some("in_progress"),
        "still pending"
    );
    // Completion: exactly one record signal, after the seal.
    let events = h.ok(&admin(), "approve_transition", Value::Null);
    let names: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(
        names,
        [
            "transition_approved",
            "service_event_completed",
            "record_sealed",
            "signal_emitted"
        ]
    );
    assert_eq!(
        h.case.record.as_ref().unwrap().body.outcome.as_deref(),
        Some("fixed")
    );
    assert_eq!(h.case.signals_of("record").count(), 1);
    h.assert_replays();
}

#[test]
fn an_approval_meets_the_case_as_it_is_then() {
    // The completion's rule reads the settlement: it held when the completion was asked for,
    // and no longer does when the admin approves. The approval is refused with the rule's code
    // and the move stays pending.
    let mut h = h();
    working(&mut h);
    h.settle(planck::spine::SettlementStatus::Captured);
    h.ok(&lee(), "complete_service_event", json!({}));
    h.settle(planck::spine::SettlementStatus::Refunded);
    let r = h
        .send(&admin(), cmd("c-1", "approve_transition", Value::Null))
        .unwrap_err();
    assert_eq!(r.code, R::RuleFailed);
    assert_eq!(r.detail["rule"], "not_refunded");
    assert_eq!(h.case.pending_phase(), Some("complete"));
    assert!(h.case.record.is_none());
    // Rejected instead: the phase stays, nothing is sealed.
    h.ok(&admin(), "reject_transition", json!({"reason": "refunded"}));
    assert_eq!(h.case.phase(), Some("in_progress"));
}

#[test]
fn reject_transition_codes() {
    let mut h = h();
    let args = json!({"reason": "too expensive"});
    assert_eq!(
        h.code(&client(), "reject_transition", args.clone()),
        R::CaseNotFound
    );
    claimed(&mut h, REPAIR);
    assert_eq!(
        h.code(&observer(), "reject_transition", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&client(), "reject_transition", args.clone()),
        R::InvalidState
    );
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    assert_eq!(
        h.code(&max(), "reject_transition", args.clone()),
        R::ForbiddenRole
    );
    assert_eq!(
        h.code(&client(), "reject_transition", json!({})),
        R::PayloadInvalid
    );
    assert_eq!(
        h.code(&client_bo(), "reject_transition", args.clone()),
        R::AudienceMismatch
    );
    assert_eq!(
        h.code(&client(), "reject_transition", json!({"reason": "because"})),
        R::RuleFailed
    );
    h.ok(&client(), "reject_transition", args);
    assert_eq!(h.case.pending_approval, None);
    assert_eq!(h.case.phase(), Some("arrived"));
    // Asked for again, approved.
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    h.ok(&client(), "approve_transition", Value::Null);
    assert_eq!(h.case.phase(), Some("in_progress"));
}

#[test]
fn nobody_approves_their_own_request() {
    // approve_task by the submitter.
    let mut h = Harness::new("c-1");
    h.send(&admin(), submit("c-1", EC)).unwrap();
    assert_eq!(
        h.code(&admin(), "approve_task", Value::Null),
        R::SelfApproval
    );
    h.ok(
        &Principal::new("admin-lou", [Role::Admin]),
        "approve_task",
        Value::Null,
    );
    // approve_transition and reject_transition by the owner who asked for the move.
    let mut q = Harness::new("c-2");
    q.submit(QUOTE);
    q.ok(&admin(), "approve_task", Value::Null);
    q.ok(&admin(), "assign_task", json!({"operator": "op-sam"}));
    q.ok(&admin(), "create_job", Value::Null);
    q.ok(&sam(), "claim_job", Value::Null);
    q.ok(&sam(), "advance", json!({"to": "arrived"}));
    q.ok(&sam(), "advance", json!({"to": "in_progress"}));
    assert_eq!(
        q.code(&sam(), "approve_transition", Value::Null),
        R::SelfApproval
    );
    assert_eq!(
        q.code(&sam(), "reject_transition", json!({"reason": "r"})),
        R::SelfApproval
    );
    q.ok(&max(), "approve_transition", Value::Null);
}

#[test]
fn cancel_job_drops_a_pending_approval_but_never_undoes_delivered_work() {
    let mut h = h();
    quote_pending(&mut h);
    h.ok(&admin(), "cancel_job", json!({"reason": "client withdrew"}));
    assert_eq!(h.case.pending_approval, None);
    assert_eq!(
        h.code(&client(), "approve_transition", Value::Null),
        R::InvalidState
    );
    let mut done = Harness::new("c-2");
    done.reach_complete(EC);
    let r = done
        .send(&admin(), cmd("c-2", "cancel_job", json!({"reason": "r"})))
        .unwrap_err();
    assert_eq!(r.code, R::InvalidState);
    assert_eq!(r.detail["layer"], "service_event");
}

#[test]
fn submit_refuses_the_operator_stream_prefix() {
    let mut h = Harness::new("operator:op-lee");
    let c = submit("operator:op-lee", EC);
    assert_eq!(h.send(&client(), c).unwrap_err().code, R::PayloadInvalid);
}

// ---- precedence -----------------------------------------------------------------------------

#[test]
fn precedence_of_the_new_codes() {
    // (4) approval_pending before (5) not_owner.
    let mut h = h();
    quote_pending(&mut h);
    assert_eq!(
        h.code(&max(), "advance", json!({"to": "in_progress"})),
        R::ApprovalPending
    );
    // (4) approval_pending before the release's own state check (4, invalid_state: not in
    // the second phase).
    assert_eq!(
        h.code(&lee(), "release_job", json!({"reason": "r"})),
        R::ApprovalPending
    );
    // (1) a role the pending move does not name before (5) self_approval.
    assert_eq!(
        h.code(&lee(), "approve_transition", Value::Null),
        R::ForbiddenRole
    );

    // (5) not_owner before operator_inactive; operator_inactive before (6) the move.
    let mut h = self::h();
    claimed(&mut h, REPAIR);
    suspend(&mut h, "op-max");
    assert_eq!(
        h.code(&max(), "advance", json!({"to": "arrived"})),
        R::NotOwner
    );
    suspend(&mut h, "op-lee");
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "nowhere"})),
        R::OperatorInactive
    );
    assert_eq!(
        h.code(&lee(), "complete_service_event", json!({})),
        R::OperatorInactive
    );

    // (5) not_assignee before operator_inactive.
    let mut h = self::h();
    h.reach_job(REPAIR);
    assert_eq!(
        h.code(
            &Principal::new("op-ghost", [Role::Operator]),
            "claim_job",
            Value::Null
        ),
        R::NotAssignee
    );

    // (5) audience_mismatch before self_approval: an operator who is also a client asks for
    // the quote's move and tries to approve it as a client.
    let mut h = self::h();
    h.reach_job(REPAIR);
    h.ok(&lee_and_client(), "claim_job", Value::Null);
    h.ok(&lee_and_client(), "advance", json!({"to": "arrived"}));
    h.ok(&lee_and_client(), "advance", json!({"to": "in_progress"}));
    assert_eq!(
        h.code(&lee_and_client(), "approve_transition", Value::Null),
        R::AudienceMismatch
    );
    // (4) invalid_state before (5) audience_mismatch.
    h.ok(&client(), "reject_transition", json!({"reason": "no"}));
    assert_eq!(
        h.code(&client_bo(), "approve_transition", Value::Null),
        R::InvalidState
    );
    // (2) case_not_found before (3) the stream prefix of submit? No: the prefix is (3) of a
    // new case, after (2) case_exists.
    let mut e = Harness::new("c-9");
    e.submit(EC);
    assert_eq!(
        e.send(&client(), submit("c-9", EC)).unwrap_err().code,
        R::CaseExists
    );
}

#[test]
fn explain_reports_the_new_checks() {
    let mut h = h();
    quote_pending(&mut h);
    let lookup = h.lookup();
    let e = planck::spine::explain(
        &h.case,
        &lookup,
        &client_bo(),
        &cmd("c-1", "approve_transition", Value::Null),
        h.now,
    );
    let checks: Vec<(&str, bool)> = e.checks.iter().map(|c| (c.check, c.passed)).collect();
    assert_eq!(
        checks,
        [
            ("role", true),
            ("role", true),
            ("case", true),
            ("surface", true),
            ("payload", true),
            ("approval", true),
            ("audience", false),
        ]
    );
    assert_eq!(e.rejection.unwrap().code, R::AudienceMismatch);
    let e = planck::spine::explain(
        &h.case,
        &lookup,
        &lee(),
        &cmd(
            "c-1",
            "attach_evidence",
            json!({"category": "note", "ref": "n"}),
        ),
        h.now,
    );
    assert!(e.accepted());
    assert!(e.checks.iter().any(|c| c.check == "operator" && c.passed));
    // The move that will wait says so.
    let mut fresh = self::h();
    claimed(&mut fresh, REPAIR);
    fresh.ok(&lee(), "advance", json!({"to": "arrived"}));
    let lookup = fresh.lookup();
    let e = planck::spine::explain(
        &fresh.case,
        &lookup,
        &lee(),
        &cmd("c-1", "advance", json!({"to": "in_progress"})),
        fresh.now,
    );
    let last = e.checks.last().unwrap();
    assert_eq!(last.check, "approval");
    assert!(
        last.why.contains("needs approval by client"),
        "{}",
        last.why
    );
}

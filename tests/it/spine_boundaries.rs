//! The boundaries of the spine (seed 001), each with a test that tries to break it.

use crate::common;

use common::*;
use planck::policy::{Principal, Role};
use planck::spine::{
    self, Event, JobState, RejectionCode as R, ServiceEventState, SettlementStatus, TaskState,
};
use serde_json::{Value, json};

const EC: &str = "event-coordination";
const AD: &str = "auto-detailing";

#[test]
fn routing_origin_is_never_an_assignment() {
    let mut h = Harness::new("c-1");
    let c = cmd(
        "c-1",
        "submit_request",
        json!({"surface": EC, "intake": intake_for(EC), "routing_origin": "op-lee"}),
    );
    h.send(&client(), c).unwrap();
    h.ok(&admin(), "approve_task", Value::Null);
    assert_eq!(h.case.assignee(), None);
    assert_eq!(h.code(&admin(), "create_job", Value::Null), R::NotAssigned);
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::NoJob);
    assert_eq!(
        h.code(&lee(), "annotate_task", json!({"note": "mine?"})),
        R::AudienceMismatch
    );
}

#[test]
fn assignment_never_creates_a_job() {
    let mut h = Harness::new("c-1");
    h.submit(EC);
    h.ok(&admin(), "approve_task", Value::Null);
    let events = h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, Event::JobCreated { .. }))
    );
    assert!(h.case.job.is_none());
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::NoJob);
}

#[test]
fn only_create_job_creates_the_job_after_approval_and_assignment() {
    let mut h = Harness::new("c-1");
    h.submit(EC);
    assert_eq!(
        h.code(&admin(), "create_job", Value::Null),
        R::TaskNotApproved
    );
    h.ok(&admin(), "approve_task", Value::Null);
    assert_eq!(h.code(&admin(), "create_job", Value::Null), R::NotAssigned);
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    assert!(h.case.job.is_none());
    let events = h.ok(&admin(), "create_job", Value::Null);
    assert!(matches!(events.as_slice(), [Event::JobCreated { .. }]));
    assert_eq!(h.case.job_state(), Some(JobState::Queued));
    // The Job appears in the first phase; the ServiceEvent does not exist yet.
    assert!(h.case.service_event.is_none());
}

#[test]
fn task_state_and_job_state_never_move_each_other() {
    let mut h = Harness::new("c-1");
    h.reach_claimed(EC);
    // Closing the governance task changes no job, service event or settlement.
    let before = h.case.clone();
    h.ok(&admin(), "close_task", Value::Null);
    assert_eq!(h.case.task_state(), Some(TaskState::Closed));
    assert_eq!(h.case.job, before.job);
    assert_eq!(h.case.service_event, before.service_event);
    assert_eq!(h.case.settlement, before.settlement);
    // Execution goes on under a closed task, and completing the job leaves the task alone.
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    h.ok(&lee(), "complete_service_event", Value::Null);
    h.ok(&lee(), "complete_job", Value::Null);
    assert_eq!(h.case.task_state(), Some(TaskState::Closed));
    assert_eq!(h.case.job_state(), Some(JobState::Completed));
}

#[test]
fn cancelling_the_job_leaves_the_task_alone() {
    let mut h = Harness::new("c-1");
    h.reach_job(EC);
    h.ok(
        &admin(),
        "cancel_job",
        json!({"reason": "client called off"}),
    );
    assert_eq!(h.case.task_state(), Some(TaskState::Approved));
}

#[test]
fn claim_opens_the_service_event_in_the_second_phase() {
    for slug in [EC, AD, "guarded", "prepaid", "open-ownership"] {
        let mut h = Harness::new("c-1");
        h.reach_job(slug);
        if slug == "prepaid" {
            h.settle(SettlementStatus::Captured);
        }
        let surface = h.catalog.iter().find(|s| s.slug() == slug).unwrap().clone();
        let events = h.ok(&lee(), "claim_job", Value::Null);
        assert!(matches!(
            events.as_slice(),
            [Event::JobClaimed { .. }, Event::ServiceEventOpened { .. }]
        ));
        assert_eq!(
            h.case.phase(),
            Some(surface.phases()[1].id.as_str()),
            "{slug}"
        );
        assert_eq!(h.case.service_event_state(), Some(ServiceEventState::Open));
        assert_eq!(h.case.owner(), Some("op-lee"));
    }
}

#[test]
fn phases_move_only_along_declared_transitions() {
    let ids = ["queued", "claimed", "arrived", "in_progress", "complete"];
    let declared = [("claimed", "arrived"), ("arrived", "in_progress")];
    for from_index in 1..4 {
        for to in ids {
            let mut h = Harness::new("c-1");
            h.reach_claimed(AD);
            for ev in ["arrival", "before"] {
                h.ok(
                    &lee(),
                    "attach_evidence",
                    json!({"category": ev, "ref": "x"}),
                );
            }
            for step in &ids[2..=from_index] {
                h.ok(&lee(), "advance", json!({"to": step}));
            }
            let from = ids[from_index];
            let result = h.send(&lee(), cmd("c-1", "advance", json!({"to": to})));
            if declared.contains(&(from, to)) {
                assert!(result.is_ok(), "{from} -> {to}: {result:?}");
            } else {
                assert_eq!(
                    result.unwrap_err().code,
                    R::NoSuchTransition,
                    "{from} -> {to}"
                );
            }
        }
    }
}

#[test]
fn completion_needs_the_evidence_contract_and_seals_the_record_in_the_same_decision() {
    let mut h = Harness::new("c-1");
    h.reach_claimed(AD);
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "arrival", "ref": "a"}),
    );
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "before", "ref": "b"}),
    );
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    assert_eq!(
        h.code(&lee(), "complete_service_event", Value::Null),
        R::EvidenceMissing
    );
    assert!(h.case.record.is_none());
    h.ok(
        &lee(),
        "attach_evidence",
        json!({"category": "after", "ref": "c"}),
    );
    let events = h.ok(
        &lee(),
        "complete_service_event",
        json!({"outcome": "spotless"}),
    );
    let types: Vec<&str> = events.iter().map(Event::type_name).collect();
    assert_eq!(
        types,
        ["service_event_completed", "record_sealed", "signal_emitted"]
    );
    let record = h.case.record.clone().unwrap();
    assert_eq!(
        record.digest,
        planck::audit::digest_of(&record.body).unwrap()
    );
    assert_eq!(record.body.evidence.len(), 3);
    assert_eq!(record.body.outcome.as_deref(), Some("spotless"));
    assert_eq!(h.case.phase(), Some("complete"));
}

#[test]
fn the_record_signal_follows_the_record_and_is_emitted_once() {
    let mut h = Harness::new("c-1");
    h.reach_claimed(EC);
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    // A racing completion decided against the same version is byte-for-byte the same decision,
    // so the signal it carries has the same id: the store's expected-version check admits one.
    let c = cmd("c-1", "complete_service_event", Value::Null);
    let a = spine::decide(&h.case, &h.catalog, &lee(), &c, h.now).unwrap();
    let b = spine::decide(&h.case, &h.catalog, &lee(), &c, h.now).unwrap();
    assert_eq!(a, b);
    h.send(&lee(), c.clone()).unwrap();
    let signals: Vec<_> = h.case.signals_of("record").collect();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].id, "c-1:record:1");
    // A retried completion is refused and emits nothing.
    assert_eq!(h.send(&lee(), c).unwrap_err().code, R::InvalidState);
    assert_eq!(h.case.signals_of("record").count(), 1);
    let record_pos = h
        .events
        .iter()
        .position(|e| matches!(e, Event::RecordSealed { .. }))
        .unwrap();
    let signal_pos = h
        .events
        .iter()
        .position(|e| e.signal().is_some_and(|s| s.kind == "record"))
        .unwrap();
    assert!(record_pos < signal_pos);
}

#[test]
fn completing_the_job_needs_a_complete_service_event() {
    let mut h = Harness::new("c-1");
    h.reach_claimed(EC);
    assert_eq!(
        h.code(&lee(), "complete_job", Value::Null),
        R::ServiceEventNotComplete
    );
    assert_eq!(
        h.code(&admin(), "complete_job", Value::Null),
        R::ServiceEventNotComplete
    );
}

#[test]
fn settlement_and_execution_never_move_each_other() {
    let mut h = Harness::new("c-1");
    h.reach_claimed(EC);
    let before = h.case.clone();
    h.settle(SettlementStatus::Captured);
    let mut expected = before.clone();
    expected.settlement = h.case.settlement.clone();
    expected.version = h.case.version;
    assert_eq!(
        h.case, expected,
        "a settlement write changed something else"
    );
    // Capture does not complete anything; completion does not capture anything.
    assert_eq!(h.case.job_state(), Some(JobState::Claimed));
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    h.ok(&lee(), "complete_service_event", Value::Null);
    h.ok(&lee(), "complete_job", Value::Null);
    assert_eq!(
        h.case.settlement.as_ref().unwrap().status,
        SettlementStatus::Captured
    );
    assert_eq!(h.case.settlement.as_ref().unwrap().history.len(), 1);
    let mut h2 = Harness::new("c-2");
    h2.reach_complete(EC);
    h2.ok(&lee(), "complete_job", Value::Null);
    assert!(h2.case.settlement.is_none());
}

#[test]
fn prepaid_needs_a_captured_settlement_before_the_claim() {
    let mut h = Harness::new("c-1");
    h.reach_job("prepaid");
    assert_eq!(
        h.code(&lee(), "claim_job", Value::Null),
        R::SettlementRequired
    );
    h.settle(SettlementStatus::Captured);
    h.ok(&lee(), "claim_job", Value::Null);
}

#[test]
fn paused_and_retired_surfaces_take_no_requests_and_no_claims() {
    let mut h = Harness::new("c-1");
    h.catalog.push(custom("gone", "retired", "", ""));
    assert_eq!(
        h.send(&client(), submit("c-1", "paused")).unwrap_err().code,
        R::SurfaceInactive
    );
    assert_eq!(
        h.send(&client(), submit("c-1", "gone")).unwrap_err().code,
        R::SurfaceInactive
    );
    // A case pinned to v1 of `flip` meets v2, which is paused: no claims.
    h.reach_job("flip");
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::SurfaceInactive);
    // Governance and settlement go on.
    h.settle(SettlementStatus::Pending);
    h.ok(&admin(), "cancel_job", json!({"reason": "surface paused"}));
}

#[test]
fn observers_never_write() {
    let mut h = Harness::new("c-1");
    h.reach_claimed(EC);
    let args = [
        (
            "submit_request",
            json!({"surface": EC, "intake": intake_for(EC)}),
        ),
        ("approve_task", Value::Null),
        ("reject_task", json!({"reason": "r"})),
        ("assign_task", json!({"operator": "auditor"})),
        ("annotate_task", json!({"note": "n"})),
        ("close_task", Value::Null),
        ("create_job", Value::Null),
        ("claim_job", Value::Null),
        ("advance", json!({"to": "arrived"})),
        ("attach_evidence", json!({"category": "x", "ref": "y"})),
        ("complete_service_event", Value::Null),
        ("complete_job", Value::Null),
        ("cancel_job", json!({"reason": "r"})),
        (
            "record_settlement",
            json!({"status": "captured", "amount_minor": 1, "currency": "USD"}),
        ),
        ("erase_personal_data", json!({"reason": "r"})),
        (
            "register_operator",
            json!({"operator": "op-new", "name": "New"}),
        ),
        (
            "update_operator",
            json!({"operator": "op-lee", "surfaces": []}),
        ),
        (
            "suspend_operator",
            json!({"operator": "op-lee", "reason": "r"}),
        ),
        ("reinstate_operator", json!({"operator": "op-lee"})),
        ("reassign_job", json!({"operator": "op-max", "reason": "r"})),
        ("release_job", json!({"reason": "r"})),
        ("approve_transition", Value::Null),
        ("reject_transition", json!({"reason": "r"})),
        ("migrate_case", json!({"to_version": 2})),
    ];
    assert_eq!(args.len(), planck::spine::CommandKind::ALL.len());
    for (name, a) in args {
        assert_eq!(h.code(&observer(), name, a), R::ForbiddenRole, "{name}");
    }
}

#[test]
fn operator_task_notes_are_audience_checked() {
    let mut h = Harness::new("c-1");
    h.reach_job(EC);
    h.ok(&lee(), "annotate_task", json!({"note": "on it"}));
    assert_eq!(
        h.code(&max(), "annotate_task", json!({"note": "me too"})),
        R::AudienceMismatch
    );
    h.ok(&admin(), "assign_task", json!({"operator": "op-max"}));
    h.ok(&max(), "annotate_task", json!({"note": "me now"}));
    assert_eq!(
        h.code(&lee(), "annotate_task", json!({"note": "still me?"})),
        R::AudienceMismatch
    );
}

#[test]
fn optional_claim_lets_the_first_advance_claim() {
    let mut h = Harness::new("c-1");
    h.reach_job("optional-claim");
    assert_eq!(
        h.code(&max(), "advance", json!({"to": "claimed"})),
        R::NotAssignee
    );
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "arrived"})),
        R::NoSuchTransition
    );
    let events = h.ok(&lee(), "advance", json!({"to": "claimed"}));
    assert!(matches!(
        events.as_slice(),
        [
            Event::JobClaimed { implicit: true, .. },
            Event::ServiceEventOpened { .. }
        ]
    ));
    assert_eq!(h.case.owner(), Some("op-lee"));
    assert_eq!(h.case.phase(), Some("claimed"));
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    // An explicit claim still works on another case.
    let mut h2 = Harness::new("c-2");
    h2.reach_job("optional-claim");
    h2.ok(&lee(), "claim_job", Value::Null);
}

#[test]
fn open_ownership_lets_any_operator_claim() {
    let mut h = Harness::new("c-1");
    h.reach_job("open-ownership");
    h.ok(&max(), "claim_job", Value::Null);
    assert_eq!(h.case.owner(), Some("op-max"));
    assert_eq!(
        h.code(&lee(), "advance", json!({"to": "arrived"})),
        R::NotOwner
    );
    h.ok(&max(), "advance", json!({"to": "arrived"}));
    // On an assigned surface, only the assignee may claim.
    let mut h2 = Harness::new("c-2");
    h2.reach_job(EC);
    assert_eq!(h2.code(&max(), "claim_job", Value::Null), R::NotAssignee);
}

#[test]
fn escalations_fire_once_per_phase_entry() {
    let mut h = Harness::new("c-1");
    h.reach_job("guarded");
    let surface = h
        .catalog
        .iter()
        .find(|s| s.slug() == "guarded")
        .unwrap()
        .clone();
    assert!(spine::due_escalations(&h.case, &surface, h.now + 3_600_000).is_empty());
    let due = spine::due_escalations(&h.case, &surface, h.now + 86_400_000);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].signal().unwrap().kind, "unclaimed");
    for e in &due {
        spine::apply(&mut h.case, e);
    }
    assert!(spine::due_escalations(&h.case, &surface, h.now + 2 * 86_400_000).is_empty());
    h.now += 86_400_000;
    h.ok(&lee(), "claim_job", Value::Null);
    let due = spine::due_escalations(&h.case, &surface, h.now + 7_200_000);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].signal().unwrap().id, "c-1:claim_stale:1");
    for e in &due {
        spine::apply(&mut h.case, e);
    }
    assert!(spine::due_escalations(&h.case, &surface, h.now + 9_000_000).is_empty());
    // Finished work never escalates.
    h.ok(&admin(), "cancel_job", json!({"reason": "r"}));
    assert!(spine::due_escalations(&h.case, &surface, h.now + 99_000_000).is_empty());
}

#[test]
fn explain_reports_each_check_in_order() {
    let mut h = Harness::new("c-1");
    h.reach_job(EC);
    let c = cmd("c-1", "claim_job", Value::Null);
    let e = spine::explain(&h.case, &h.catalog, &max(), &c, h.now);
    assert!(!e.accepted());
    let names: Vec<&str> = e.checks.iter().map(|c| c.check).collect();
    assert_eq!(
        names,
        [
            "role",
            "case",
            "surface",
            "payload",
            "surface_status",
            "job",
            "eligibility",
            "settlement"
        ]
    );
    assert!(e.checks[..6].iter().all(|c| c.passed));
    assert_eq!(e.checks[6].code, Some(R::NotAssignee));
    assert!(
        e.checks[7].passed,
        "judged past the failure: it does not depend on it"
    );
    assert_eq!(e.rejection.as_ref().unwrap().code, R::NotAssignee);
    assert_eq!(e.stopped, None);
    let e = spine::explain(&h.case, &h.catalog, &lee(), &c, h.now);
    assert!(e.accepted());
    assert_eq!(
        e.events.unwrap(),
        spine::decide(&h.case, &h.catalog, &lee(), &c, h.now).unwrap()
    );
}

#[test]
fn explain_goes_on_past_independent_failures_and_stops_at_dependent_ones() {
    let mut h = Harness::new("c-1");
    h.reach_job(EC);
    // An observer claiming a job assigned to someone else: the role and the eligibility both
    // fail; the verdict is the first, as `decide` says.
    let observer = Principal::new("auditor", [Role::Observer]);
    let c = cmd("c-1", "claim_job", Value::Null);
    let e = spine::explain(&h.case, &h.catalog, &observer, &c, h.now);
    let failed: Vec<(&str, Option<R>)> = e
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.check, c.code))
        .collect();
    assert_eq!(
        failed,
        [
            ("role", Some(R::ForbiddenRole)),
            ("eligibility", Some(R::NotAssignee))
        ]
    );
    assert_eq!(
        e.rejection.as_ref().map(|r| r.code),
        spine::decide(&h.case, &h.catalog, &observer, &c, h.now)
            .err()
            .map(|r| r.code)
    );
    assert!(e.events.is_none());
    // Advancing a job nobody claimed: there is no service event, so the move, its evidence
    // and its rules cannot be judged: explain stops there and says so.
    let c = cmd("c-1", "advance", json!({ "to": "arrived" }));
    let e = spine::explain(&h.case, &h.catalog, &max(), &c, h.now);
    let names: Vec<(&str, bool)> = e.checks.iter().map(|c| (c.check, c.passed)).collect();
    assert_eq!(
        names,
        [
            ("role", true),
            ("case", true),
            ("surface", true),
            ("payload", true),
            ("job", false),
            ("service_event", false)
        ]
    );
    assert_eq!(e.rejection.as_ref().unwrap().code, R::InvalidState);
    assert_eq!(e.stopped, Some("service_event"));
}

#[test]
fn a_case_is_judged_by_the_surface_it_was_pinned_to() {
    let mut h = Harness::new("c-1");
    h.reach_job(EC);
    // The registry now holds a different definition under the same key: refuse, never guess.
    let imposter = custom("event-coordination", "active", "", "");
    h.catalog.retain(|s| s.slug() != EC);
    h.catalog.push(imposter);
    assert_eq!(h.code(&lee(), "claim_job", Value::Null), R::UnknownSurface);
}

//! Read models: a case's view, the governance queue and an operator's desk.

use crate::engine_common;

use engine_common::*;
use planck::engine::CaseView;
use planck::host::QueueNeed;
use planck::spine::{JobState, TaskState};
use serde_json::{Value, json};

fn ids(views: &[CaseView]) -> Vec<&str> {
    views.iter().map(|v| v.case.as_str()).collect()
}

#[test]
fn the_governance_queue_holds_tasks_to_review_assign_or_hand_off() {
    let engine = memory_engine();
    for case in ["t-open", "t-approved", "t-rejected", "t-closed"] {
        ok(&engine, &client(), submit(case, "event-coordination"));
    }
    ok(
        &engine,
        &admin(),
        cmd("t-approved", "approve_task", Value::Null),
    );
    ok(
        &engine,
        &admin(),
        cmd(
            "t-rejected",
            "reject_task",
            json!({ "reason": "duplicate request" }),
        ),
    );
    ok(
        &engine,
        &admin(),
        cmd("t-closed", "close_task", Value::Null),
    );
    let queue = engine.governance_queue().unwrap();
    let views: Vec<CaseView> = queue.iter().map(|item| item.view.clone()).collect();
    assert_eq!(ids(&views), ["t-open", "t-approved"]);
    assert_eq!(queue[0].need, QueueNeed::Review);
    assert_eq!(queue[1].need, QueueNeed::Assign);
    assert_eq!(queue[1].view.task, Some(TaskState::Approved));
    // Assigned: the hand-off is next; once the Job exists, the case leaves the queue.
    ok(
        &engine,
        &admin(),
        cmd("t-approved", "assign_task", json!({ "operator": "op-lee" })),
    );
    let queue = engine.governance_queue().unwrap();
    assert_eq!(queue[1].need, QueueNeed::HandOff);
    ok(
        &engine,
        &admin(),
        cmd("t-approved", "create_job", Value::Null),
    );
    let queue = engine.governance_queue().unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].view.case, "t-open");
}

#[test]
fn an_operators_desk_shows_claimable_active_and_visible_completed_work() {
    let engine = memory_engine();
    // Event coordination: ownership assigned, completed jobs visible.
    to_job(&engine, "ec-queued", "event-coordination");
    to_job(&engine, "ec-active", "event-coordination");
    ok(&engine, &lee(), cmd("ec-active", "claim_job", Value::Null));
    event_coordination(&engine, "ec-done");
    to_job(&engine, "ec-cancelled", "event-coordination");
    ok(
        &engine,
        &admin(),
        cmd("ec-cancelled", "cancel_job", json!({ "reason": "weather" })),
    );
    ok(
        &engine,
        &client(),
        submit("ec-for-max", "event-coordination"),
    );
    ok(
        &engine,
        &admin(),
        cmd("ec-for-max", "approve_task", Value::Null),
    );
    ok(
        &engine,
        &admin(),
        cmd("ec-for-max", "assign_task", json!({ "operator": "op-max" })),
    );
    ok(
        &engine,
        &admin(),
        cmd("ec-for-max", "create_job", Value::Null),
    );
    // Open desk: anyone may claim; completed jobs leave the desk.
    ok(&engine, &client(), submit("od-queued", "open-desk"));
    ok(
        &engine,
        &admin(),
        cmd("od-queued", "approve_task", Value::Null),
    );
    ok(
        &engine,
        &admin(),
        cmd("od-queued", "assign_task", json!({ "operator": "op-max" })),
    );
    ok(
        &engine,
        &admin(),
        cmd("od-queued", "create_job", Value::Null),
    );
    to_job(&engine, "od-done", "open-desk");
    ok(&engine, &lee(), cmd("od-done", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd("od-done", "complete_service_event", Value::Null),
    );
    ok(&engine, &lee(), cmd("od-done", "complete_job", Value::Null));

    let desk = engine.desk("op-lee").unwrap();
    assert_eq!(desk.operator, "op-lee");
    assert_eq!(ids(&desk.queued), ["ec-queued", "od-queued"]);
    assert_eq!(ids(&desk.active), ["ec-active"]);
    assert_eq!(ids(&desk.completed), ["ec-done"]);

    let max = engine.desk("op-max").unwrap();
    assert_eq!(ids(&max.queued), ["ec-for-max", "od-queued"]);
    assert!(max.active.is_empty() && max.completed.is_empty());
}

#[test]
fn a_view_shows_every_layer_with_labels_and_evidence_counts() {
    let engine = memory_engine();
    assert!(engine.view("nothing").unwrap().is_none());
    assert!(engine.case("nothing").unwrap().is_none());

    to_job(&engine, "w-1", "watched");
    let queued = engine.view("w-1").unwrap().unwrap();
    assert_eq!(queued.surface, "watched@1");
    assert_eq!(queued.surface_name.as_deref(), Some("Watched"));
    assert_eq!(
        (queued.task, queued.job),
        (Some(TaskState::Approved), Some(JobState::Queued))
    );
    assert_eq!(queued.assignee.as_deref(), Some("op-lee"));
    assert!(queued.phase.is_none());
    assert_eq!(
        queued.stage.as_ref().map(|s| s.label.as_str()),
        Some("Waiting")
    );
    assert!(queued.evidence.is_empty());
    assert_eq!(queued.submitted_by, "client-ava");
    assert_eq!(queued.version, 4);

    ok(&engine, &lee(), cmd("w-1", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd(
            "w-1",
            "attach_evidence",
            json!({ "category": "note", "ref": "memo://1" }),
        ),
    );
    let claimed = engine.view("w-1").unwrap().unwrap();
    assert_eq!(
        claimed
            .phase
            .as_ref()
            .map(|p| (p.id.as_str(), p.label.as_str())),
        Some(("claimed", "Taken"))
    );
    assert_eq!(claimed.owner.as_deref(), Some("op-lee"));
    assert_eq!(
        claimed.evidence,
        [("after".to_string(), 0), ("note".to_string(), 1)].into()
    );
    assert!(claimed.record.is_none() && claimed.settlement.is_none() && claimed.signals.is_empty());

    let json = serde_json::to_value(&claimed).unwrap();
    assert_eq!(json["task"], "approved");
    assert_eq!(json["job"], "claimed");
    assert_eq!(json["service_event"], "open");
    assert_eq!(json["phase"], json!({ "id": "claimed", "label": "Taken" }));
}

//! Governance through the engine: operator streams stored and verified, profiles loaded for
//! the commands that need them, idempotency keys on directory commands, views that follow the
//! owner and the pending approvals, and escalations while an approval waits.

use crate::engine_common;

use engine_common::*;
use planck::audit::{Envelope, VerifyCode};
use planck::engine::{Receipt, verify_store};
use planck::host::{Append, MemoryStore, Store};
use planck::spine::{
    Event, JobState, OperatorStatus, RejectionCode as R, SurfacePin, operator::stream_id,
};
use serde_json::{Value, json};

fn register(engine: &MemEngine, operator: &str, surfaces: Value) {
    ok(
        engine,
        &admin(),
        op_cmd(
            "register_operator",
            json!({"operator": operator, "name": operator, "surfaces": surfaces}),
        ),
    );
}

/// op-lee and op-max registered; a governed case claimed by op-lee, in `arrived`.
fn governed_engine() -> MemEngine {
    let engine = memory_engine();
    register(&engine, "op-lee", json!(["governed"]));
    register(&engine, "op-max", json!([]));
    to_job(&engine, "g-1", "governed");
    ok(&engine, &lee(), cmd("g-1", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd("g-1", "advance", json!({"to": "arrived"})),
    );
    engine
}

#[test]
fn operator_streams_are_stored_and_verified() {
    let engine = governed_engine();
    let history = engine.history(&stream_id("op-lee")).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event_type, "operator_registered");
    assert_eq!(history[0].surface, "");
    assert_eq!(history[0].surface_fingerprint, "");
    ok(
        &engine,
        &admin(),
        op_cmd(
            "suspend_operator",
            json!({"operator": "op-lee", "reason": "r"}),
        ),
    );
    let profile = engine.operator("op-lee").unwrap().unwrap();
    assert_eq!(profile.status, OperatorStatus::Suspended);
    assert_eq!(engine.operator("op-ghost").unwrap(), None);
    let ids: Vec<String> = engine
        .operators()
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["op-lee", "op-max"]);
    let report = engine.verify().unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!((report.cases, report.operators), (1, 2));
    // Operator streams are neither escalated nor in the views.
    assert!(engine.tick().unwrap().is_empty());
    let queue: Vec<String> = engine
        .governance_queue()
        .unwrap()
        .into_iter()
        .map(|v| v.view.case)
        .collect();
    // g-1's Job is handed off: nothing waits for governance (docs/queries.md), and no
    // operator stream is ever in the queue.
    assert!(queue.is_empty(), "{queue:?}");
    assert_eq!(engine.operators().unwrap().len(), 2);
    // Each operator stream has its index row: id, status and surfaces.
    match engine.store().index_row(&stream_id("op-lee")).unwrap() {
        Some(planck::host::IndexRow::Operator(row)) => {
            assert_eq!(
                (
                    row.operator.as_str(),
                    row.status.as_str(),
                    row.surfaces.as_slice()
                ),
                ("op-lee", "suspended", ["governed".to_string()].as_slice())
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(engine.store().operators().unwrap().len(), 2);
}

#[test]
fn a_suspension_refuses_the_next_owner_command() {
    let engine = governed_engine();
    ok(
        &engine,
        &admin(),
        op_cmd(
            "suspend_operator",
            json!({"operator": "op-lee", "reason": "r"}),
        ),
    );
    // The engine loads op-lee's profile as it now is (its cached copy folds the suspension).
    assert_eq!(
        code(
            &engine,
            &lee(),
            cmd("g-1", "advance", json!({"to": "in_progress"}))
        ),
        R::OperatorInactive
    );
    let explained = engine
        .explain(&lee(), &cmd("g-1", "advance", json!({"to": "in_progress"})))
        .unwrap();
    let last = explained.checks.last().unwrap();
    assert_eq!((last.check, last.passed), ("operator", false));
    ok(
        &engine,
        &admin(),
        cmd(
            "g-1",
            "reassign_job",
            json!({"operator": "op-max", "reason": "op-lee is suspended"}),
        ),
    );
    ok(
        &engine,
        &max(),
        cmd("g-1", "advance", json!({"to": "in_progress"})),
    );
}

#[test]
fn directory_commands_take_idempotency_keys() {
    let engine = memory_engine();
    let register = op_cmd(
        "register_operator",
        json!({"operator": "op-lee", "name": "Lee"}),
    );
    let first = engine
        .execute(&admin(), &register, Some("reg-lee"))
        .unwrap();
    assert!(first.is_applied());
    let again = engine
        .execute(&admin(), &register, Some("reg-lee"))
        .unwrap();
    assert!(matches!(again, Receipt::Duplicate(_)), "{again:?}");
    let other = op_cmd(
        "suspend_operator",
        json!({"operator": "op-lee", "reason": "r"}),
    );
    assert_eq!(
        engine
            .execute(&admin(), &other, Some("reg-lee"))
            .unwrap()
            .code(),
        Some(R::PayloadInvalid)
    );
    assert_eq!(engine.history(&stream_id("op-lee")).unwrap().len(), 1);
}

#[test]
fn views_follow_the_owner_and_the_pending_approval() {
    let engine = governed_engine();
    assert_eq!(engine.desk("op-lee").unwrap().active.len(), 1);
    ok(
        &engine,
        &lee(),
        cmd("g-1", "advance", json!({"to": "in_progress"})),
    );
    let view = engine.view("g-1").unwrap().unwrap();
    let pending = view.pending_approval.unwrap();
    assert_eq!(pending.to.id, "in_progress");
    assert_eq!(pending.to.label, "Working");
    assert_eq!(pending.requested_by, "op-lee");
    // Pending approvals are in the governance queue (the task is approved too here; a closed
    // task's case stays in the queue while a move waits).
    ok(&engine, &admin(), cmd("g-1", "close_task", Value::Null));
    let queue = engine.governance_queue().unwrap();
    assert_eq!(queue.len(), 1);
    assert!(queue[0].view.pending_approval.is_some());
    assert_eq!(queue[0].need, planck::host::QueueNeed::Approval);
    // The index row says so, and where the move goes.
    match engine.store().index_row("g-1").unwrap() {
        Some(planck::host::IndexRow::Case(row)) => {
            assert_eq!(row.pending_approval.as_deref(), Some("in_progress"));
        }
        other => panic!("{other:?}"),
    }
    // A reassigned job leaves the old owner's desk and appears on the new one's.
    ok(
        &engine,
        &admin(),
        cmd(
            "g-1",
            "reassign_job",
            json!({"operator": "op-max", "reason": "handover"}),
        ),
    );
    assert!(engine.desk("op-lee").unwrap().active.is_empty());
    assert_eq!(engine.desk("op-max").unwrap().active.len(), 1);
    ok(
        &engine,
        &client(),
        cmd("g-1", "approve_transition", Value::Null),
    );
    assert!(engine.governance_queue().unwrap().is_empty());
}

#[test]
fn a_released_job_is_queued_again_with_its_history() {
    let engine = memory_engine();
    register(&engine, "op-lee", json!([]));
    to_job(&engine, "g-2", "governed");
    ok(&engine, &lee(), cmd("g-2", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd("g-2", "release_job", json!({"reason": "no parts"})),
    );
    let view = engine.view("g-2").unwrap().unwrap();
    assert_eq!(view.job, Some(JobState::Queued));
    assert_eq!(view.released, 1);
    assert_eq!(view.stage.unwrap().id, "queued");
    assert_eq!(engine.desk("op-lee").unwrap().queued.len(), 1);
    assert!(engine.verify().unwrap().ok());
}

#[test]
fn an_escalation_fires_while_an_approval_waits_and_says_so() {
    let engine = governed_engine();
    ok(
        &engine,
        &lee(),
        cmd("g-1", "advance", json!({"to": "in_progress"})),
    );
    engine.clock().advance(2 * HOUR);
    let raised = engine.tick().unwrap();
    assert_eq!(raised.len(), 1);
    let signal = raised[0].payload.signal().unwrap();
    assert_eq!(signal.kind, "quote_stale");
    assert_eq!(signal.payload["phase"], "arrived");
    assert_eq!(signal.payload["pending_approval"], "in_progress");
}

#[test]
fn verify_names_a_broken_operator_stream() {
    let store = MemoryStore::new();
    let admin = admin();
    let unpinned = SurfacePin::unpinned();
    let seal = |stream: &str, events: Vec<Event>, pin: &SurfacePin| {
        Envelope {
            case_id: stream,
            actor: &admin,
            surface: pin,
            idempotency_key: None,
            at: T0,
            host_at: None,
        }
        .seal(None, events)
        .unwrap()
    };
    let suspended = Event::OperatorSuspended {
        reason: "r".into(),
        by: "admin-kim".into(),
        at: T0,
    };
    let registered = |operator: &str| Event::OperatorRegistered {
        operator: operator.into(),
        name: "N".into(),
        surfaces: vec![],
        attributes: Default::default(),
        by: "admin-kim".into(),
        at: T0,
    };
    let cases: [(&str, Vec<Event>, &SurfacePin, VerifyCode); 5] = [
        (
            "operator:a",
            vec![suspended.clone()],
            &unpinned,
            VerifyCode::BadStart,
        ),
        (
            "operator:b",
            vec![registered("b"), suspended.clone(), suspended.clone()],
            &unpinned,
            VerifyCode::StateMismatch,
        ),
        (
            "operator:c",
            vec![registered("someone-else")],
            &unpinned,
            VerifyCode::CaseMismatch,
        ),
        (
            "operator:d",
            vec![
                registered("d"),
                Event::TaskClosed {
                    by: "x".into(),
                    at: T0,
                },
            ],
            &unpinned,
            VerifyCode::ForeignEvent,
        ),
        (
            "operator:e",
            vec![registered("e")],
            &SurfacePin {
                slug: "governed".into(),
                version: 1,
                fingerprint: "00".repeat(32),
            },
            VerifyCode::SurfaceMismatch,
        ),
    ];
    for (stream, events, pin, _) in &cases {
        store
            .append(&Append::new(stream, 0, &seal(stream, events.clone(), pin)))
            .unwrap();
    }
    let report = verify_store(&store).unwrap();
    assert_eq!(report.operators, 5);
    let codes: Vec<(String, VerifyCode)> = report
        .failures
        .iter()
        .map(|f| (f.case().to_string(), f.code()))
        .collect();
    let expected: Vec<(String, VerifyCode)> = cases
        .iter()
        .map(|(s, _, _, c)| (s.to_string(), *c))
        .collect();
    assert_eq!(codes, expected);
}

#[test]
fn tampering_with_an_operator_stream_is_found() {
    let store = MemoryStore::new();
    let engine = planck::engine::Engine::new(
        registry(),
        store.clone(),
        planck::host::MemoryTransport::new(),
        planck::host::ManualClock::new(T0),
    );
    ok(
        &engine,
        &admin(),
        op_cmd(
            "register_operator",
            json!({"operator": "op-lee", "name": "Lee"}),
        ),
    );
    let mut events = store.load(&stream_id("op-lee")).unwrap();
    if let Event::OperatorRegistered { surfaces, .. } = &mut events[0].payload {
        surfaces.push("everything".into());
    }
    let tampered = MemoryStore::new();
    tampered
        .append(&Append::new(&stream_id("op-lee"), 0, &events))
        .unwrap();
    let report = verify_store(&tampered).unwrap();
    assert_eq!(report.failures[0].code(), VerifyCode::DigestMismatch);
}

#[test]
fn a_directory_event_in_a_case_stream_is_foreign() {
    let engine = memory_engine();
    ok(&engine, &client(), submit("c-1", "event-coordination"));
    let store = engine.store();
    let mut events = store.load("c-1").unwrap();
    let pin = SurfacePin {
        slug: events[0].surface.split('@').next().unwrap().into(),
        version: 1,
        fingerprint: events[0].surface_fingerprint.clone(),
    };
    let admin = admin();
    let extra = Envelope {
        case_id: "c-1",
        actor: &admin,
        surface: &pin,
        idempotency_key: None,
        at: T0,
        host_at: None,
    }
    .seal(
        events.last(),
        [Event::OperatorReinstated {
            by: "admin-kim".into(),
            at: T0,
        }],
    )
    .unwrap();
    store.append(&Append::new("c-1", 1, &extra)).unwrap();
    events.extend(extra);
    let failure = planck::audit::verify_case("c-1", &events).unwrap_err();
    assert_eq!(failure.code(), VerifyCode::ForeignEvent);
}

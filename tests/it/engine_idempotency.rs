//! Idempotency keys: a repeat returns the first outcome and writes nothing; the same key with
//! another command (or another principal) is `payload_invalid`; a rejected command records
//! nothing, so its key may be retried.

use crate::engine_common;

use engine_common::*;
use planck::engine::{Engine, Receipt};
use planck::host::{ManualClock, MemoryTransport, SqliteStore, Store};
use serde_json::{Value, json};

#[test]
fn a_duplicate_returns_the_first_outcome_and_writes_nothing() {
    let engine = memory_engine();
    let submit = submit("ev-1", "event-coordination");
    let first = engine
        .execute(&client(), &submit, Some("submit-ev-1"))
        .unwrap();
    assert!(first.is_applied());
    assert!(
        first
            .events()
            .iter()
            .all(|e| e.idempotency_key.as_deref() == Some("submit-ev-1"))
    );
    engine.clock().advance(HOUR);
    let again = engine
        .execute(&client(), &submit, Some("submit-ev-1"))
        .unwrap();
    assert!(again.is_duplicate());
    assert_eq!(again, Receipt::Duplicate(Box::new(first.clone())));
    assert_eq!(again.events(), first.events());
    assert_eq!(again.outcome(), "duplicate");
    assert_eq!(engine.history("ev-1").unwrap().len(), 1);

    // Without a key the same command is judged again (and refused: the case exists).
    assert_eq!(code(&engine, &client(), submit).as_str(), "case_exists");
}

#[test]
fn a_duplicate_signal_command_emits_no_second_signal() {
    let engine = memory_engine();
    to_job(&engine, "ev-1", "event-coordination");
    ok(&engine, &lee(), cmd("ev-1", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd("ev-1", "advance", json!({ "to": "arrived" })),
    );
    ok(
        &engine,
        &lee(),
        cmd("ev-1", "advance", json!({ "to": "in_progress" })),
    );
    let complete = cmd("ev-1", "complete_service_event", Value::Null);
    let first = engine.execute(&lee(), &complete, Some("done")).unwrap();
    let before = engine.history("ev-1").unwrap().len();
    for _ in 0..3 {
        assert!(
            engine
                .execute(&lee(), &complete, Some("done"))
                .unwrap()
                .is_duplicate()
        );
    }
    assert_eq!(engine.history("ev-1").unwrap().len(), before);
    assert_eq!(engine.transport().delivered().len(), 1);
    assert_eq!(first.events().len(), 3);
}

#[test]
fn the_same_key_with_another_command_is_payload_invalid() {
    let engine = memory_engine();
    ok(&engine, &client(), submit("ev-1", "event-coordination"));
    let approve = cmd("ev-1", "approve_task", Value::Null);
    assert!(
        engine
            .execute(&admin(), &approve, Some("k"))
            .unwrap()
            .is_applied()
    );
    let reject = cmd("ev-1", "reject_task", json!({ "reason": "no" }));
    let receipt = engine.execute(&admin(), &reject, Some("k")).unwrap();
    assert_eq!(receipt.code().map(|c| c.as_str()), Some("payload_invalid"));
    assert_eq!(receipt.rejection().unwrap().detail["key"], "k");
    // The same command on another case is another command.
    ok(&engine, &client(), submit("ev-2", "event-coordination"));
    let other_case = engine
        .execute(
            &admin(),
            &cmd("ev-2", "approve_task", Value::Null),
            Some("k"),
        )
        .unwrap();
    assert_eq!(
        other_case.code().map(|c| c.as_str()),
        Some("payload_invalid")
    );
    // So is the same command from another principal: it must not read someone else's outcome.
    let other_admin = planck::policy::Principal::new("admin-zoe", [planck::policy::Role::Admin]);
    let other_principal = engine.execute(&other_admin, &approve, Some("k")).unwrap();
    assert_eq!(
        other_principal.code().map(|c| c.as_str()),
        Some("payload_invalid")
    );
    assert_eq!(engine.history("ev-1").unwrap().len(), 2);
    assert_eq!(engine.history("ev-2").unwrap().len(), 1);
}

#[test]
fn a_rejected_command_records_no_key_and_may_be_retried() {
    let engine = memory_engine();
    ok(&engine, &client(), submit("ev-1", "event-coordination"));
    ok(&engine, &admin(), cmd("ev-1", "approve_task", Value::Null));
    ok(
        &engine,
        &admin(),
        cmd("ev-1", "assign_task", json!({ "operator": "op-max" })),
    );
    ok(&engine, &admin(), cmd("ev-1", "create_job", Value::Null));
    let claim = cmd("ev-1", "claim_job", Value::Null);
    let refused = engine.execute(&lee(), &claim, Some("claim-1")).unwrap();
    assert_eq!(refused.code().map(|c| c.as_str()), Some("not_assignee"));
    assert!(engine.store().idempotency("claim-1").unwrap().is_none());
    ok(
        &engine,
        &admin(),
        cmd("ev-1", "assign_task", json!({ "operator": "op-lee" })),
    );
    let applied = engine.execute(&lee(), &claim, Some("claim-1")).unwrap();
    assert!(applied.is_applied(), "{applied:?}");
    assert!(
        engine
            .execute(&lee(), &claim, Some("claim-1"))
            .unwrap()
            .is_duplicate()
    );
}

#[test]
fn keys_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let submit = submit("ev-1", "event-coordination");
    let first = {
        let engine = Engine::new(
            registry(),
            SqliteStore::open(&path).unwrap(),
            MemoryTransport::new(),
            ManualClock::new(T0),
        );
        engine
            .execute(&client(), &submit, Some("submit-ev-1"))
            .unwrap()
    };
    let engine = Engine::new(
        registry(),
        SqliteStore::open(&path).unwrap(),
        MemoryTransport::new(),
        ManualClock::new(T0 + HOUR),
    );
    let again = engine
        .execute(&client(), &submit, Some("submit-ev-1"))
        .unwrap();
    assert_eq!(again, Receipt::Duplicate(Box::new(first)));
    let record = engine.store().idempotency("submit-ev-1").unwrap().unwrap();
    assert_eq!(record.case_id, "ev-1");
    assert_eq!(record.recorded_at, T0);
    assert_eq!(engine.history("ev-1").unwrap().len(), 1);
}

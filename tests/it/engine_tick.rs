//! `tick` raises each due escalation once per entry into its phase, as an appended
//! `signal_emitted` event with a stable id, delivered like any other signal.

use crate::engine_common;

use engine_common::*;
use planck::engine::{Engine, TICK_ACTOR_ID};
use planck::host::{ManualClock, MemoryStore, MemoryTransport, SqliteStore, Store};
use serde_json::{Value, json};

fn kinds(events: &[planck::audit::StoredEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.payload.signal())
        .map(|s| s.id.clone())
        .collect()
}

fn escalations_once_per_phase_entry<S: Store>(engine: &Engine<S, MemoryTransport, ManualClock>) {
    let clock = engine.clock();
    to_job(engine, "w-1", "watched");
    ok(engine, &client(), submit("ev-1", "event-coordination"));
    assert!(engine.tick().unwrap().is_empty());
    clock.advance(23 * HOUR);
    assert!(
        engine.tick().unwrap().is_empty(),
        "the job has waited 23h of 24h"
    );
    clock.advance(HOUR);
    let raised = engine.tick().unwrap();
    assert_eq!(kinds(&raised), ["w-1:unclaimed:1"]);
    assert_eq!(raised[0].actor.id, TICK_ACTOR_ID);
    assert_eq!(raised[0].seq, 5);
    assert!(engine.tick().unwrap().is_empty(), "raised once per entry");
    clock.advance(48 * HOUR);
    assert!(
        engine.tick().unwrap().is_empty(),
        "still once, however long it waits"
    );

    ok(engine, &lee(), cmd("w-1", "claim_job", Value::Null));
    clock.advance(HOUR);
    assert!(engine.tick().unwrap().is_empty());
    clock.advance(HOUR);
    assert_eq!(kinds(&engine.tick().unwrap()), ["w-1:claim_stale:1"]);
    assert!(engine.tick().unwrap().is_empty());

    // Leaving the phase and entering it again starts a new entry.
    ok(
        engine,
        &lee(),
        cmd("w-1", "advance", json!({ "to": "arrived" })),
    );
    clock.advance(3 * HOUR);
    assert!(
        engine.tick().unwrap().is_empty(),
        "nothing watches `arrived`"
    );
    ok(
        engine,
        &lee(),
        cmd("w-1", "advance", json!({ "to": "claimed" })),
    );
    clock.advance(2 * HOUR);
    assert_eq!(kinds(&engine.tick().unwrap()), ["w-1:claim_stale:2"]);
    assert!(engine.tick().unwrap().is_empty());

    // Completed work never escalates.
    finish_service_event(engine, "w-1", Some("s3://a.jpg"));
    clock.advance(100 * HOUR);
    assert!(engine.tick().unwrap().is_empty());

    let delivered: Vec<String> = engine
        .transport()
        .delivered()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        delivered,
        [
            "w-1:unclaimed:1",
            "w-1:claim_stale:1",
            "w-1:claim_stale:2",
            "w-1:record:1"
        ]
    );
    let case = engine.case("w-1").unwrap().unwrap();
    assert_eq!(case.signals.len(), 4);
    assert!(engine.verify().unwrap().ok());
}

#[test]
fn tick_on_the_memory_store() {
    let engine = engine_on(MemoryStore::new());
    escalations_once_per_phase_entry(&engine);
}

#[test]
fn tick_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("tick.db")).unwrap();
    let engine = engine_on(store);
    escalations_once_per_phase_entry(&engine);
}

#[test]
fn tick_covers_every_live_case() {
    let engine = memory_engine();
    for case in ["w-1", "w-2", "w-3"] {
        to_job(&engine, case, "watched");
    }
    ok(
        &engine,
        &admin(),
        cmd("w-2", "cancel_job", json!({ "reason": "client cancelled" })),
    );
    engine.clock().advance(24 * HOUR);
    assert_eq!(
        kinds(&engine.tick().unwrap()),
        ["w-1:unclaimed:1", "w-3:unclaimed:1"]
    );
}

//! The outbox: signals are written with the events that emit them and published only after
//! that append committed. A failing transport leaves them pending; a restart delivers them
//! once; signal ids are stable.

use crate::engine_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use engine_common::*;
use planck::engine::{Engine, EngineError};
use planck::host::{
    ManualClock, MemoryTransport, SqliteStore, Store, StoredSignal, Transport, TransportError,
};
use serde_json::{Value, json};

/// A transport that is down until switched on, and remembers what it delivered.
#[derive(Clone, Default)]
struct Flaky {
    up: Arc<AtomicBool>,
    delivered: Arc<Mutex<Vec<StoredSignal>>>,
}

impl Transport for Flaky {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        if !self.up.load(Ordering::SeqCst) {
            return Err(TransportError::with_source(
                "the queue is down",
                std::io::Error::other("connection refused"),
            ));
        }
        self.delivered.lock().unwrap().push(signal.clone());
        Ok(())
    }
}

fn to_completion<S: Store, T: Transport>(engine: &Engine<S, T, ManualClock>, case: &str) {
    to_job(engine, case, "event-coordination");
    ok(engine, &lee(), cmd(case, "claim_job", Value::Null));
    finish_service_event(engine, case, None);
}

#[test]
fn a_failed_publish_stays_pending_and_a_restart_delivers_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    {
        let down = Flaky::default();
        let engine = Engine::new(
            registry(),
            SqliteStore::open(&path).unwrap(),
            down.clone(),
            ManualClock::new(T0),
        );
        to_completion(&engine, "ev-1");
        to_completion(&engine, "ev-2");
        assert!(down.delivered.lock().unwrap().is_empty());
        let pending = engine.store().pending_signals(10).unwrap();
        let ids: Vec<&str> = pending.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["ev-1:record:1", "ev-2:record:1"]);
        match engine.deliver_pending() {
            Err(EngineError::Transport { signal, source }) => {
                assert_eq!(signal, "ev-1:record:1");
                assert_eq!(source.message(), "the queue is down");
                assert!(
                    std::error::Error::source(&source).is_some(),
                    "the cause is kept"
                );
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
        assert_eq!(engine.store().pending_signals(10).unwrap().len(), 2);
    }
    // Restart with the transport back up.
    let up = Flaky::default();
    up.up.store(true, Ordering::SeqCst);
    let engine = Engine::new(
        registry(),
        SqliteStore::open(&path).unwrap(),
        up.clone(),
        ManualClock::new(T0),
    );
    assert_eq!(engine.recover().unwrap(), 2);
    assert_eq!(engine.recover().unwrap(), 0);
    assert_eq!(engine.deliver_pending().unwrap(), 0);
    let delivered = up.delivered.lock().unwrap().clone();
    let ids: Vec<&str> = delivered.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["ev-1:record:1", "ev-2:record:1"]);
    // Each delivered signal is tied to the stored, verified event that emitted it.
    for signal in &delivered {
        let history = engine.history(&signal.case_id).unwrap();
        let event = history
            .iter()
            .find(|e| e.event_id == signal.event_id)
            .unwrap();
        assert_eq!(event.digest, signal.event_digest);
        assert_eq!(
            event.payload.signal().map(|s| s.id.as_str()),
            Some(signal.id.as_str())
        );
    }
    // Completing the jobs emits nothing more.
    ok(&engine, &lee(), cmd("ev-1", "complete_job", Value::Null));
    assert_eq!(up.delivered.lock().unwrap().len(), 2);
    assert!(engine.verify().unwrap().ok());
}

#[test]
fn a_transport_that_recovers_mid_run_gets_pending_signals_through_deliver_pending() {
    let flaky = Flaky::default();
    let engine = Engine::new(
        registry(),
        planck::host::MemoryStore::new(),
        flaky.clone(),
        ManualClock::new(T0),
    );
    to_completion(&engine, "ev-1");
    assert_eq!(engine.store().pending_signals(10).unwrap().len(), 1);
    flaky.up.store(true, Ordering::SeqCst);
    // New signals are published right after their commit; older pending ones wait for
    // `deliver_pending`.
    to_completion(&engine, "ev-2");
    let ids: Vec<String> = flaky
        .delivered
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(ids, ["ev-2:record:1"]);
    assert_eq!(engine.deliver_pending().unwrap(), 1);
    let ids: Vec<String> = flaky
        .delivered
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(ids, ["ev-2:record:1", "ev-1:record:1"]);
    assert!(engine.store().pending_signals(10).unwrap().is_empty());
}

#[test]
fn signals_are_published_only_after_their_append_committed() {
    // A rejected completion (evidence missing) writes nothing and publishes nothing.
    let engine = Engine::new(
        registry(),
        planck::host::MemoryStore::new(),
        MemoryTransport::new(),
        ManualClock::new(T0),
    );
    to_job(&engine, "w-1", "watched");
    ok(&engine, &lee(), cmd("w-1", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd("w-1", "advance", json!({ "to": "arrived" })),
    );
    ok(
        &engine,
        &lee(),
        cmd("w-1", "advance", json!({ "to": "in_progress" })),
    );
    assert_eq!(
        code(
            &engine,
            &lee(),
            cmd("w-1", "complete_service_event", Value::Null)
        )
        .as_str(),
        "evidence_missing"
    );
    assert!(engine.transport().delivered().is_empty());
    assert!(engine.store().pending_signals(10).unwrap().is_empty());
    ok(
        &engine,
        &lee(),
        cmd(
            "w-1",
            "attach_evidence",
            json!({ "category": "after", "ref": "s3://a.jpg" }),
        ),
    );
    let receipt = ok(
        &engine,
        &lee(),
        cmd("w-1", "complete_service_event", Value::Null),
    );
    let delivered = engine.transport().delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        Some(&delivered[0]),
        receipt
            .events()
            .last()
            .and_then(|e| e.outbox_signal())
            .as_ref()
    );
}

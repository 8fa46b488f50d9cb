//! A whole lifecycle through the engine, on the memory store and on SQLite: receipts carry
//! contiguous sequence numbers, the case and its view end where the spine says, the chain
//! verifies, and the `record` signal is delivered exactly once.

use crate::engine_common;

use engine_common::*;
use planck::audit::GENESIS_DIGEST;
use planck::engine::Engine;
use planck::host::{Clock, ManualClock, MemoryTransport, SqliteStore, Store};
use planck::spine::{JobState, ServiceEventState, SettlementStatus, TaskState};
use serde_json::{Value, json};

fn lifecycle<S: Store, C: Clock>(engine: &Engine<S, MemoryTransport, C>) {
    let receipts = event_coordination(engine, "ev-1");
    let seqs: Vec<u64> = receipts
        .iter()
        .flat_map(|r| r.events().iter().map(|e| e.seq))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    // complete_service_event appends the completion, the sealed record and its signal.
    let types: Vec<&str> = receipts[7]
        .events()
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        ["service_event_completed", "record_sealed", "signal_emitted"]
    );

    let history = engine.history("ev-1").unwrap();
    assert_eq!(history.len(), seqs.len());
    assert_eq!(history[0].prev_digest, GENESIS_DIGEST);
    for pair in history.windows(2) {
        assert_eq!(pair[1].prev_digest, pair[0].digest);
    }
    assert!(
        history
            .iter()
            .all(|e| e.surface == "event-coordination@1" && e.case_id == "ev-1")
    );
    assert_eq!(history[0].actor, client());
    assert_eq!(history[0].ts_utc, "2026-01-10T09:00:00.000Z");

    let case = engine.case("ev-1").unwrap().unwrap();
    assert_eq!(case.task_state(), Some(TaskState::Closed));
    assert_eq!(case.job_state(), Some(JobState::Completed));
    assert_eq!(
        case.service_event_state(),
        Some(ServiceEventState::Complete)
    );
    assert_eq!(
        case.settlement.as_ref().map(|s| s.status),
        Some(SettlementStatus::Captured)
    );
    assert_eq!(case.version, history.len() as u64);

    let view = engine.view("ev-1").unwrap().unwrap();
    assert_eq!(
        view.phase
            .as_ref()
            .map(|p| (p.id.as_str(), p.label.as_str())),
        Some(("complete", "Complete"))
    );
    assert_eq!(
        view.record.as_deref(),
        case.record.as_ref().map(|r| r.digest.as_str())
    );
    assert_eq!(view.surface_name.as_deref(), Some("Event Coordination"));

    let report = engine.verify().unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!((report.cases, report.events), (1, history.len()));

    // Exactly one `record` signal: in the case, in the transport, and nothing pending.
    assert_eq!(case.signals_of("record").count(), 1);
    let delivered = engine.transport().delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, "ev-1:record:1");
    assert_eq!(
        delivered[0].payload,
        json!({ "record_digest": case.record.as_ref().unwrap().digest })
    );
    assert_eq!(delivered[0].event_digest, receipts[7].events()[2].digest);
    assert!(engine.store().pending_signals(10).unwrap().is_empty());
    assert_eq!(engine.deliver_pending().unwrap(), 0);
    assert_eq!(engine.transport().delivered().len(), 1);

    // Nothing more can happen to the job.
    assert_eq!(
        code(engine, &lee(), cmd("ev-1", "complete_job", Value::Null)).as_str(),
        "invalid_state"
    );
    assert_eq!(engine.history("ev-1").unwrap().len(), history.len());
}

#[test]
fn lifecycle_on_the_memory_store() {
    lifecycle(&memory_engine());
}

#[test]
fn lifecycle_on_sqlite_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planck.db");
    let clock = ManualClock::new(T0);
    {
        let engine = Engine::new(
            registry(),
            SqliteStore::open(&path).unwrap(),
            MemoryTransport::new(),
            clock.clone(),
        );
        lifecycle(&engine);
    }
    let engine = Engine::new(
        registry(),
        SqliteStore::open(&path).unwrap(),
        MemoryTransport::new(),
        clock,
    );
    assert_eq!(engine.recover().unwrap(), 0, "nothing was left pending");
    assert!(engine.verify().unwrap().ok());
    let case = engine.case("ev-1").unwrap().unwrap();
    assert_eq!(case.job_state(), Some(JobState::Completed));
    assert_eq!(engine.store().cases().unwrap(), ["ev-1"]);
}

#[test]
fn auto_detailing_needs_its_photos() {
    let engine = memory_engine();
    to_job(&engine, "ad-1", "auto-detailing");
    ok(&engine, &lee(), cmd("ad-1", "claim_job", Value::Null));
    ok(
        &engine,
        &lee(),
        cmd("ad-1", "advance", json!({ "to": "arrived" })),
    );
    assert_eq!(
        code(
            &engine,
            &lee(),
            cmd("ad-1", "advance", json!({ "to": "in_progress" }))
        )
        .as_str(),
        "evidence_missing"
    );
    for category in ["arrival", "before"] {
        ok(
            &engine,
            &lee(),
            cmd(
                "ad-1",
                "attach_evidence",
                json!({ "category": category, "ref": format!("s3://{category}.jpg") }),
            ),
        );
    }
    ok(
        &engine,
        &lee(),
        cmd("ad-1", "advance", json!({ "to": "in_progress" })),
    );
    assert_eq!(
        code(
            &engine,
            &lee(),
            cmd("ad-1", "complete_service_event", Value::Null)
        )
        .as_str(),
        "evidence_missing"
    );
    ok(
        &engine,
        &lee(),
        cmd(
            "ad-1",
            "attach_evidence",
            json!({ "category": "after", "ref": "s3://after.jpg" }),
        ),
    );
    let view = engine.view("ad-1").unwrap().unwrap();
    assert_eq!(view.phase.as_ref().unwrap().label, "Detailing");
    assert_eq!(
        view.evidence,
        [("after", 1), ("arrival", 1), ("before", 1), ("damage", 0)]
            .map(|(k, v)| (k.to_string(), v))
            .into()
    );
    ok(
        &engine,
        &lee(),
        cmd("ad-1", "complete_service_event", Value::Null),
    );
    ok(&engine, &lee(), cmd("ad-1", "complete_job", Value::Null));
    assert!(engine.verify().unwrap().ok());
    assert_eq!(
        engine
            .transport()
            .delivered()
            .iter()
            .filter(|s| s.kind == "record")
            .count(),
        1
    );
}

#[test]
fn an_observer_may_explain_but_not_write() {
    let engine = memory_engine();
    to_job(&engine, "ev-2", "event-coordination");
    let observer = planck::policy::Principal::new("auditor", [planck::policy::Role::Observer]);
    let claim = cmd("ev-2", "claim_job", Value::Null);
    assert_eq!(
        code(&engine, &observer, claim.clone()).as_str(),
        "forbidden_role"
    );
    let explanation = engine.explain(&lee(), &claim).unwrap();
    assert!(explanation.accepted(), "{explanation:?}");
    let refused = engine.explain(&max(), &claim).unwrap();
    assert_eq!(
        refused.rejection.map(|r| r.code.as_str()),
        Some("not_assignee")
    );
    // Explaining writes nothing.
    assert_eq!(engine.history("ev-2").unwrap().len(), 4);
}

//! `migrate_case` through the engine, on memory and SQLite: a case under version 1 moves to a
//! compatible version 2 and completes under version 2's rules; a move to an incompatible
//! version 3 is refused with every reason; `verify` (the engine's and `planck verify --db`)
//! holds after both; a pin changed anywhere but at a `case_migrated` fails verification.

use std::path::Path;
use std::sync::Arc;

use assert_cmd::Command as Cli;
use serde_json::{Value, json};

use crate::engine_common::{T0, admin, client, cmd, code, lee, ok};
use planck::audit::{VerifyCode, verify_case};
use planck::engine::{Engine, Receipt};
use planck::host::{Clock, ManualClock, MemoryStore, NullTransport, SqliteStore, Store, Transport};
use planck::spine::{Event, RejectionCode as Code};
use planck::surface::registry::Registry;

fn moving() -> Arc<Registry> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/surfaces");
    let mut registry = Registry::new();
    let paths: Vec<_> = ["moving-v1.toml", "moving-v2.toml", "moving-v3.toml"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let report = registry.load_paths(&paths);
    assert!(
        report.is_ok(),
        "{:#?}",
        report.failures().collect::<Vec<_>>()
    );
    Arc::new(registry)
}

/// A case under `moving-demo@1`, packing, with one photo.
fn packing<S: Store, T: Transport, C: Clock>(engine: &Engine<S, T, C>, case: &str) {
    ok(
        engine,
        &client(),
        cmd(
            case,
            "submit_request",
            json!({ "surface": "moving-demo@1", "intake": { "contact": "ava@example.com" } }),
        ),
    );
    ok(engine, &admin(), cmd(case, "approve_task", Value::Null));
    ok(
        engine,
        &admin(),
        cmd(case, "assign_task", json!({ "operator": "op-lee" })),
    );
    ok(engine, &admin(), cmd(case, "create_job", Value::Null));
    ok(engine, &lee(), cmd(case, "claim_job", Value::Null));
    ok(
        engine,
        &lee(),
        cmd(case, "advance", json!({ "to": "packing" })),
    );
    ok(
        engine,
        &lee(),
        cmd(
            case,
            "attach_evidence",
            json!({ "category": "photo", "ref": "boxes.jpg" }),
        ),
    );
}

fn migrate(case: &str, version: Value) -> planck::spine::Command {
    cmd(case, "migrate_case", json!({ "to_version": version }))
}

/// The whole story on one engine; returns nothing, asserts everything.
fn story<S: Store, T: Transport, C: Clock>(engine: &Engine<S, T, C>) {
    packing(engine, "mv-1");
    // Incompatible: refused with both reasons, nothing written.
    let refused = engine
        .execute(&admin(), &migrate("mv-1", json!(3)), None)
        .unwrap();
    let Receipt::Rejected(rejection) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(rejection.code, Code::MigrationUnsafe);
    let reasons: Vec<&str> = rejection.detail["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["phase_missing", "category_missing"]);
    assert!(
        rejection.message.contains("`packing`"),
        "{}",
        rejection.message
    );
    assert_eq!(rejection.detail["to"], "moving-demo@3");
    // Every other refusal of the command, in precedence order.
    assert_eq!(
        code(engine, &lee(), migrate("mv-1", json!(2))),
        Code::ForbiddenRole
    );
    assert_eq!(
        code(engine, &admin(), migrate("nope", json!(2))),
        Code::CaseNotFound
    );
    assert_eq!(
        code(engine, &admin(), migrate("mv-1", json!(9))),
        Code::UnknownSurface
    );
    assert_eq!(
        code(engine, &admin(), migrate("mv-1", json!(0))),
        Code::PayloadInvalid
    );
    assert_eq!(
        code(engine, &admin(), migrate("mv-1", json!("2"))),
        Code::PayloadInvalid
    );
    assert_eq!(
        code(engine, &admin(), migrate("mv-1", json!(1))),
        Code::InvalidState
    );
    // Compatible: moves.
    let moved = ok(engine, &admin(), migrate("mv-1", json!(2)));
    let Receipt::Applied { events, .. } = moved else {
        panic!()
    };
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "case_migrated");
    assert_eq!(
        events[0].surface, "moving-demo@1",
        "the move is enveloped under the pin it leaves"
    );
    // Version 2's rules from here on.
    assert_eq!(
        code(
            engine,
            &lee(),
            cmd("mv-1", "advance", json!({ "to": "done" }))
        ),
        Code::NoSuchTransition
    );
    let inspected = ok(
        engine,
        &lee(),
        cmd("mv-1", "advance", json!({ "to": "inspecting" })),
    );
    let Receipt::Applied { events, .. } = inspected else {
        panic!()
    };
    assert_eq!(events[0].surface, "moving-demo@2");
    assert_eq!(
        code(
            engine,
            &lee(),
            cmd("mv-1", "complete_service_event", Value::Null)
        ),
        Code::EvidenceMissing
    );
    ok(
        engine,
        &lee(),
        cmd(
            "mv-1",
            "attach_evidence",
            json!({ "category": "inventory", "ref": "list.pdf" }),
        ),
    );
    ok(
        engine,
        &lee(),
        cmd("mv-1", "complete_service_event", Value::Null),
    );
    ok(engine, &lee(), cmd("mv-1", "complete_job", Value::Null));
    // A sealed case never moves.
    assert_eq!(
        code(engine, &admin(), migrate("mv-1", json!(3))),
        Code::InvalidState
    );
    let view = engine.view("mv-1").unwrap().unwrap();
    assert_eq!(view.surface, "moving-demo@2");
    let report = engine.verify().unwrap();
    assert!(report.ok(), "{report:?}");
}

#[test]
fn a_case_moves_to_a_compatible_version_on_memory() {
    let engine = Engine::new(
        moving(),
        MemoryStore::new(),
        NullTransport,
        ManualClock::new(T0),
    );
    story(&engine);
}

#[test]
fn a_case_moves_to_a_compatible_version_on_sqlite_and_planck_verify_holds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("moving.db");
    {
        let engine = Engine::new(
            moving(),
            SqliteStore::open(&db).unwrap(),
            NullTransport,
            ManualClock::new(T0),
        );
        story(&engine);
    }
    Cli::cargo_bin("planck")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["verify", "--db"])
        .arg(&db)
        .assert()
        .code(0);
}

#[test]
fn a_pin_changed_anywhere_but_at_the_move_fails_verification() {
    let engine = Engine::new(
        moving(),
        MemoryStore::new(),
        NullTransport,
        ManualClock::new(T0),
    );
    packing(&engine, "mv-1");
    ok(&engine, &admin(), migrate("mv-1", json!(2)));
    ok(
        &engine,
        &lee(),
        cmd("mv-1", "advance", json!({ "to": "inspecting" })),
    );
    let events = engine.store().load("mv-1").unwrap();
    assert!(verify_case("mv-1", &events).is_ok());
    // An event after the move that still names the old pin.
    let mut stale = events.clone();
    let last = stale.last_mut().unwrap();
    last.surface = "moving-demo@1".into();
    last.surface_fingerprint = events[0].surface_fingerprint.clone();
    last.digest = last.compute_digest().unwrap();
    let err = verify_case("mv-1", &stale).unwrap_err();
    assert_eq!(err.code(), VerifyCode::SurfaceMismatch);
    // A move that leaves a pin the case is not on.
    let mut forged = events.clone();
    let at = forged
        .iter()
        .position(|e| e.event_type == "case_migrated")
        .unwrap();
    if let Event::CaseMigrated { from, .. } = &mut forged[at].payload {
        from.version = 3;
    }
    forged[at].digest = forged[at].compute_digest().unwrap();
    let err = verify_case("mv-1", &forged).unwrap_err();
    assert_eq!(err.code(), VerifyCode::SurfaceMismatch);
}

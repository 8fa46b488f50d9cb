//! Tamper evidence: `verify` re-derives every case and checks every digest, link and seal.
//! Editing one byte of a stored event makes it fail and name the case and the event.

use crate::engine_common;

use engine_common::*;
use planck::audit::{StoredEvent, VerifyCode, digest_of, verify_case};
use planck::engine::{Engine, verify_store};
use planck::host::{ManualClock, MemoryStore, MemoryTransport, NullTransport, SqliteStore};
use planck::spine::Event;

fn sqlite_with_two_cases(path: &std::path::Path) {
    let engine = Engine::new(
        registry(),
        SqliteStore::open(path).unwrap(),
        NullTransport,
        ManualClock::new(T0),
    );
    event_coordination(&engine, "ev-1");
    event_coordination(&engine, "ev-2");
    assert!(engine.verify().unwrap().ok());
}

fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn one_edited_byte_in_a_payload_fails_verify_and_names_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tamper.db");
    sqlite_with_two_cases(&path);
    let conn = raw(&path);
    let payload: String = conn
        .query_row(
            "SELECT payload FROM events WHERE case_id = 'ev-2' AND seq = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(payload.contains("40 guests"));
    let edited = payload.replacen("40 guests", "41 guests", 1);
    conn.execute(
        "UPDATE events SET payload = ?1 WHERE case_id = 'ev-2' AND seq = 1",
        [&edited],
    )
    .unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let report = verify_store(&store).unwrap();
    assert_eq!((report.cases, report.ok()), (2, false));
    assert_eq!(report.failures.len(), 1, "only the edited case fails");
    let failure = &report.failures[0];
    assert_eq!(failure.code(), VerifyCode::DigestMismatch);
    assert_eq!(
        (failure.case(), failure.seq(), failure.event_id()),
        ("ev-2", Some(1), Some("ev-2:1"))
    );
    let text = failure.to_string();
    assert!(
        text.starts_with("[digest_mismatch] case `ev-2`, event 1 (`ev-2:1`)"),
        "{text}"
    );
}

#[test]
fn every_single_byte_flip_of_an_event_row_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flips.db");
    sqlite_with_two_cases(&path);
    let store = SqliteStore::open(&path).unwrap();
    let conn = raw(&path);
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    // The sealed record's event: the densest row (the record body, its seal).
    let columns = [
        "event_id",
        "event_type",
        "ts_utc",
        "actor",
        "surface",
        "surface_fingerprint",
        "idempotency_key",
        "payload",
        "prev_digest",
        "digest",
    ];
    let mut flips = 0;
    for column in columns {
        let sql = format!("SELECT {column} FROM events WHERE case_id = 'ev-1' AND seq = 10");
        let Some(original): Option<String> = conn.query_row(&sql, [], |r| r.get(0)).unwrap() else {
            continue;
        };
        let update = format!("UPDATE events SET {column} = ?1 WHERE case_id = 'ev-1' AND seq = 10");
        for i in 0..original.len() {
            let mut bytes = original.clone().into_bytes();
            bytes[i] ^= 0x01;
            // Store the flipped bytes as they are (even when no longer UTF-8).
            let flipped =
                rusqlite::types::Value::Text(String::from_utf8_lossy(&bytes).into_owned());
            if conn.execute(&update, [flipped]).is_err() {
                continue; // the flip collides with another row's unique id: it cannot be stored
            }
            let report = verify_store(&store).unwrap();
            assert!(
                !report.ok(),
                "flipping byte {i} of `{column}` went unnoticed"
            );
            assert!(
                report.failures.iter().all(|f| f.case() == "ev-1"),
                "{:?}",
                report.failures
            );
            flips += 1;
        }
        conn.execute(&update, [&original]).unwrap();
        assert!(verify_store(&store).unwrap().ok());
    }
    assert!(flips > 500, "{flips}");
}

#[test]
fn a_row_that_no_longer_decodes_is_reported_as_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    sqlite_with_two_cases(&path);
    raw(&path).execute("UPDATE events SET payload = '[' || substr(payload, 2) WHERE case_id = 'ev-1' AND seq = 3", []).unwrap();
    let report = verify_store(&SqliteStore::open(&path).unwrap()).unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].code(), VerifyCode::Unreadable);
    assert_eq!(report.failures[0].case(), "ev-1");
    assert!(
        report.failures[0].message().contains("ev-1:3"),
        "{}",
        report.failures[0].message()
    );
}

#[test]
fn deleted_and_renumbered_events_break_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gaps.db");
    sqlite_with_two_cases(&path);
    let conn = raw(&path);
    conn.execute("DELETE FROM events WHERE case_id = 'ev-1' AND seq = 4", [])
        .unwrap();
    conn.execute(
        "UPDATE events SET seq = 99 WHERE case_id = 'ev-2' AND seq = 2",
        [],
    )
    .unwrap();
    let report = verify_store(&SqliteStore::open(&path).unwrap()).unwrap();
    let found: Vec<(&str, VerifyCode, Option<u64>)> = report
        .failures
        .iter()
        .map(|f| (f.case(), f.code(), f.seq()))
        .collect();
    assert_eq!(
        found,
        [
            ("ev-1", VerifyCode::SequenceGap, Some(5)),
            ("ev-2", VerifyCode::SequenceGap, Some(3))
        ]
    );
}

/// Re-digest every envelope from `from` on, as a forger who knows the scheme would.
fn rechain(events: &mut [StoredEvent]) {
    for i in 0..events.len() {
        if i > 0 {
            events[i].prev_digest = events[i - 1].digest.clone();
        }
        events[i].digest = events[i].compute_digest().unwrap();
    }
}

#[test]
fn a_forged_record_is_caught_even_when_the_chain_is_recomputed() {
    let store = MemoryStore::new();
    let engine = Engine::new(
        registry(),
        store.clone(),
        MemoryTransport::new(),
        ManualClock::new(T0),
    );
    event_coordination(&engine, "ev-1");
    // Claim someone else did the work, reseal the record and rebuild every digest.
    store.tamper("ev-1", |events| {
        for e in events.iter_mut() {
            if let Event::RecordSealed { record } = &mut e.payload {
                record.body.operator = "op-max".into();
                record.digest = digest_of(&record.body).unwrap();
            }
        }
        rechain(events);
    });
    let report = engine.verify().unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].code(), VerifyCode::SealMismatch);
    assert_eq!(report.failures[0].event_id(), Some("ev-1:10"));
}

#[test]
fn verify_case_checks_order_links_and_the_first_event() {
    let engine = memory_engine();
    event_coordination(&engine, "ev-1");
    let history = engine.history("ev-1").unwrap();
    let case = verify_case("ev-1", &history).unwrap();
    assert_eq!(
        case,
        engine.case("ev-1").unwrap().unwrap(),
        "verify rebuilds the same case"
    );

    let mut swapped = history.clone();
    swapped.swap(1, 2);
    assert_eq!(
        verify_case("ev-1", &swapped).unwrap_err().code(),
        VerifyCode::SequenceGap
    );

    assert_eq!(
        verify_case("ev-2", &history).unwrap_err().code(),
        VerifyCode::CaseMismatch
    );

    let mut relinked = history.clone();
    relinked[3].prev_digest = relinked[1].digest.clone();
    assert_eq!(
        verify_case("ev-1", &relinked).unwrap_err().code(),
        VerifyCode::BrokenLink
    );

    let mut headless = history[1..].to_vec();
    for (i, e) in headless.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
        e.event_id = format!("ev-1:{}", e.seq);
    }
    headless[0].prev_digest = planck::audit::GENESIS_DIGEST.into();
    rechain(&mut headless);
    assert_eq!(
        verify_case("ev-1", &headless).unwrap_err().code(),
        VerifyCode::BadStart
    );

    let mut resurfaced = history.clone();
    resurfaced[4].surface = "event-coordination@2".into();
    rechain(&mut resurfaced);
    assert_eq!(
        verify_case("ev-1", &resurfaced).unwrap_err().code(),
        VerifyCode::SurfaceMismatch
    );
}

//! Sealed personal data (issue 13): `[intake] sensitive` fields are stored sealed under a key
//! of their case, outside the hash chain; reads open them; once the key is destroyed they read
//! `"<erased>"`, the case still verifies (also against a checkpoint taken before), and neither
//! the plaintext nor the key's bytes are anywhere in the SQLite file, its WAL or its shm.

use std::path::Path;
use std::sync::Arc;

use planck::audit::checkpoint;
use planck::engine::Engine;
use planck::host::{ManualClock, NullTransport, SqliteStore, Store};
use planck::policy::{Principal, Role};
use planck::spine::Command;
use planck::surface::Registry;
use serde_json::{Value, json};

const CONTACT: &str = "ava.sensitive@example.com";

/// The shipped event-coordination surface with `contact` and `access_notes` sensitive.
fn registry(sensitive: bool) -> Arc<Registry> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces/event-coordination.toml");
    let mut text = std::fs::read_to_string(path).unwrap();
    if sensitive {
        text = text.replace(
            "min_photos = 0                       # no photos needed with the request",
            "min_photos = 0\nsensitive = [\"contact\", \"access_notes\"]",
        );
        assert!(text.contains("sensitive ="));
    }
    let surface = crate::common::surface_from_toml(&text);
    let mut registry = Registry::new();
    registry.register(surface).unwrap();
    Arc::new(registry)
}

fn submit(case: &str) -> Command {
    Command::from_json(
        case,
        "submit_request",
        &json!({
            "surface": "event-coordination",
            "intake": {
                "contact": CONTACT,
                "event_details": "Garden reception, 40 guests",
                "preferred_timing": "Saturday afternoon",
                "access_notes": "Side gate, code 4711",
            },
        }),
    )
    .unwrap()
}

/// Every byte of the database file, its WAL and its shm.
fn file_bytes(db: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(&name) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_fingerprint_of_a_surface_without_sensitive_fields_is_unchanged() {
    let plain = registry(false);
    let sealed = registry(true);
    let a = plain.latest("event-coordination").unwrap();
    let b = sealed.latest("event-coordination").unwrap();
    assert_ne!(
        a.fingerprint_hex(),
        b.fingerprint_hex(),
        "`sensitive` is part of the contract"
    );
    // The shipped surface's fingerprint is pinned by existing cases (the one every stored
    // `ev-1` of the examples names): it must not move.
    assert_eq!(
        a.fingerprint_hex(),
        "90b4fbad234494c9d4950c61729e1302f0baa7779eb152fcbcc53e3c74d3cc1a"
    );
}

#[test]
fn sensitive_fields_are_sealed_at_rest_opened_on_read_and_erased_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("planck.db");
    let engine = Engine::new(
        registry(true),
        SqliteStore::open(&db).unwrap(),
        NullTransport,
        ManualClock::new(1_767_225_600_000),
    );
    let client = Principal::new("client-ava", [Role::Client]);
    let receipt = engine
        .execute(&client, &submit("ev-1"), Some("submit-ev-1"))
        .unwrap();
    assert!(receipt.is_applied());

    // Stored sealed: in the event, in the receipt kept for the idempotency key, nowhere in
    // plain text; the non-sensitive fields are as they were.
    let stored = engine.history("ev-1").unwrap();
    let payload = serde_json::to_value(&stored[0].payload).unwrap();
    assert!(
        payload["intake"]["contact"]["$sealed"].is_string(),
        "{payload}"
    );
    assert!(payload["intake"]["access_notes"]["$sealed"].is_string());
    assert_eq!(
        payload["intake"]["event_details"],
        "Garden reception, 40 guests"
    );
    let key = engine
        .store()
        .case_key("ev-1")
        .unwrap()
        .expect("a case key");
    assert_eq!(key.len(), 32);
    let bytes = file_bytes(&db);
    assert!(
        !contains(&bytes, CONTACT.as_bytes()),
        "the plaintext is in the file"
    );
    assert!(!contains(&bytes, b"code 4711"));

    // Reads open them.
    let case = engine.case("ev-1").unwrap().unwrap();
    let intake = &case.request.as_ref().unwrap().intake;
    assert_eq!(intake["contact"], Value::from(CONTACT));
    assert_eq!(intake["access_notes"], Value::from("Side gate, code 4711"));

    // The same command again under the same key is a duplicate; the idempotency record's
    // fingerprint does not hash the sensitive values.
    let again = engine
        .execute(&client, &submit("ev-1"), Some("submit-ev-1"))
        .unwrap();
    assert!(again.is_duplicate());

    // A checkpoint before the erasure.
    let signing = checkpoint::generate_signing_key().unwrap();
    let before = checkpoint::take(engine.store(), &signing, 1_767_225_600_000).unwrap();

    erase(&engine, "ev-1");
    // A second erasure is harmless: nothing is left to destroy.
    erase(&engine, "ev-1");

    assert!(engine.store().case_key("ev-1").unwrap().is_none());
    let case = engine.case("ev-1").unwrap().unwrap();
    let intake = &case.request.as_ref().unwrap().intake;
    assert_eq!(intake["contact"], Value::from("<erased>"));
    assert_eq!(intake["access_notes"], Value::from("<erased>"));
    assert_eq!(
        intake["event_details"],
        Value::from("Garden reception, 40 guests")
    );

    // Still verifies, on its own and against the checkpoint taken before.
    let report = planck::audit::verify_store(engine.store()).unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    let report =
        checkpoint::verify_against(engine.store(), &before, &signing.verifying_key()).unwrap();
    assert!(report.ok(), "{:?}", report.failures);

    // Neither the plaintext nor the key's bytes anywhere in the file, the WAL or the shm.
    let bytes = file_bytes(&db);
    assert!(!contains(&bytes, CONTACT.as_bytes()));
    assert!(
        !contains(&bytes, &key),
        "the key's bytes are still in the database files"
    );
}

/// `erase_personal_data` as an admin; a client may not send it.
fn erase(engine: &Engine<SqliteStore, NullTransport, ManualClock>, case: &str) {
    let command = Command::from_json(
        case,
        "erase_personal_data",
        &json!({ "reason": "the client asked (GDPR art. 17), ticket 1234" }),
    )
    .unwrap();
    let client = Principal::new("client-ava", [Role::Client]);
    let refused = engine.execute(&client, &command, None).unwrap();
    assert_eq!(refused.code().map(|c| c.as_str()), Some("forbidden_role"));
    let admin = Principal::new("admin-kim", [Role::Admin]);
    let receipt = engine.execute(&admin, &command, None).unwrap();
    assert!(receipt.is_applied(), "{receipt:?}");
    let last = engine.history(case).unwrap().pop().unwrap();
    assert_eq!(last.event_type, "personal_data_erased");
    assert!(!serde_json::to_string(&last).unwrap().contains(CONTACT));
}

//! The store conformance suite against [`SqliteStore`]: in memory, on a file, and reopening a
//! file (several connections racing on it, as several processes would).
#![cfg(feature = "sqlite")]

use planck::host::{Append, SqliteOptions, SqliteStore, Store, Synchronous, conformance};

#[test]
fn sqlite_in_memory_conforms() {
    let fresh = || SqliteStore::open_in_memory().unwrap();
    if let Err(failures) = conformance::run_all(fresh) {
        panic!("SqliteStore (in memory) fails the conformance suite:\n{failures}");
    }
}

#[test]
fn sqlite_file_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let fresh = || {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SqliteStore::open(dir.path().join(format!("fresh-{n}.db"))).unwrap()
    };
    if let Err(failures) = conformance::run_all(fresh) {
        panic!("SqliteStore (file) fails the conformance suite:\n{failures}");
    }
}

#[test]
fn sqlite_file_survives_reopening_and_racing_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        ..SqliteOptions::default()
    };
    if let Err(failures) =
        conformance::run_reopen(|| SqliteStore::open_with(&path, options).unwrap())
    {
        panic!("SqliteStore fails the reopen properties:\n{failures}");
    }
}

#[test]
fn schema_version_is_recorded_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, planck::host::SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "user_version", planck::host::SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        format!("{err} {:?}", std::error::Error::source(&err)).contains("schema version"),
        "{err}"
    );
}

#[test]
fn a_conflicting_append_leaves_the_file_unchanged() {
    let store = SqliteStore::open_in_memory().unwrap();
    let events = conformance::fixture_events("c", None, 2, None).unwrap();
    store.append(&Append::new("c", 0, &events)).unwrap();
    let err = store.append(&Append::new("c", 0, &events)).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(store.load("c").unwrap(), events);
}

//! The durable-store figures: `SqliteStore` against a raw rusqlite insert of the same rows.
//!
//! The floor writes exactly the bytes `SqliteStore` writes for an event (the envelope columns,
//! the actor and the payload as JSON text, the event's feed position), already serialized, into
//! a table with the same schema and the same SQL indexes (the feed's `events_position` and
//! `events_case_starts` among them), the same pragmas (WAL, `synchronous = FULL`) and one prepared statement: once with
//! one row per transaction, once batched (`BATCH` rows per transaction). planck's side appends
//! the same events through the `Store` trait, one event per append (so one row per
//! transaction, version check included), one case at a time; and from several threads at once
//! on the group-commit store, where appends that arrive together share one transaction. The
//! whole engine is timed on `SqliteStore` (one case at a time) and on the group-commit store
//! (`THREADS` threads, each driving its own cases).

use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use planck::audit::StoredEvent;
use planck::host::{
    Append, GroupCommitSqliteStore, SqliteOptions, SqliteStore, Store, Synchronous,
};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::support;
use crate::{Budget, timed_rate};

/// Rows per transaction in the batched floor.
pub const BATCH: usize = 64;
/// Threads appending at once in the group-commit figure.
pub const THREADS: usize = 16;
/// Threads in the second group-commit figure; its ceiling is the `BATCH` (64) rows/tx floor.
pub const MANY_THREADS: usize = 64;

pub use support::sealed_lifecycle;

use support::EventRow as Row;

fn rows(events: Vec<StoredEvent>) -> Vec<Row> {
    events.into_iter().map(Row::of).collect()
}

/// Sealed lifecycles of the peer surface on fresh cases, `cases` of them.
fn fresh_events(surface: &planck::surface::Surface, cases: usize) -> Vec<Vec<StoredEvent>> {
    (0..cases)
        .map(|_| sealed_lifecycle(surface, &support::fresh_case("sql")))
        .collect()
}

fn floor_db(path: &Path, synchronous: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .unwrap();
    assert!(mode.eq_ignore_ascii_case("wal"));
    conn.pragma_update(None, "synchronous", synchronous)
        .unwrap();
    conn.execute_batch(support::EVENTS_SCHEMA).unwrap();
    conn
}

/// Raw inserts of `rows`, `per_tx` rows per transaction, numbered on from `position` (the
/// feed position `SqliteStore` gives each event, here a counter the caller keeps).
fn floor_insert(conn: &Connection, rows: &[Row], per_tx: usize, position: &mut i64) {
    for chunk in rows.chunks(per_tx) {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        {
            let mut insert = conn.prepare_cached(support::EVENTS_INSERT).unwrap();
            for r in chunk {
                *position += 1;
                r.insert_as_is(&mut insert, *position);
            }
        }
        conn.execute_batch("COMMIT").unwrap();
    }
}

/// Append every event of `cases` through `store`, one event per append.
fn store_append(store: &impl Store, cases: &[Vec<StoredEvent>]) -> u64 {
    let mut n = 0;
    for events in cases {
        for (i, e) in events.iter().enumerate() {
            store
                .append(&Append::new(&e.case_id, i as u64, std::slice::from_ref(e)))
                .unwrap();
            n += 1;
        }
    }
    n
}

/// The same from `THREADS` threads at once (each on its own cases): rows and wall time.
fn store_append_threads(store: &impl Store, cases: Vec<Vec<Vec<StoredEvent>>>) -> (u64, Duration) {
    let barrier = Barrier::new(cases.len() + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|mine| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    store_append(store, mine)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let n: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (n, start.elapsed())
    })
}

/// Every durable-store figure, in rows (events) per second.
pub fn figures(
    budget: Budget,
    quick: bool,
    want: &dyn Fn(&str) -> bool,
) -> Vec<(&'static str, Value)> {
    let surface = support::peer_surface();
    let dir = tempfile::tempdir().unwrap();
    let budget = Budget {
        rounds: budget.rounds.min(5),
        per_round: budget
            .per_round
            .max(Duration::from_millis(if quick { 300 } else { 1000 })),
    };
    let mut out = Vec::new();
    let cases_per_batch = 4;

    // The floor: raw rusqlite, synchronous = FULL.
    let conn = floor_db(&dir.path().join("floor.db"), "FULL");
    let mut position = 0i64;
    if want("sqlite_floor_full_rows") {
        let one = timed_rate(budget, || {
            let rows = rows(fresh_events(&surface, cases_per_batch).concat());
            let start = Instant::now();
            floor_insert(&conn, &rows, 1, &mut position);
            (rows.len() as u64, start.elapsed())
        });
        out.push(("sqlite_floor_full_rows_per_s", json!(one)));
    }
    if want("sqlite_floor_full_group") {
        // The ceiling for group commit with THREADS threads: THREADS rows per transaction.
        let grouped = timed_rate(budget, || {
            let rows = rows(fresh_events(&surface, 2 * cases_per_batch).concat());
            let start = Instant::now();
            floor_insert(&conn, &rows, THREADS, &mut position);
            (rows.len() as u64, start.elapsed())
        });
        out.push(("sqlite_floor_full_group_rows_per_s", json!(grouped)));
    }
    if want("sqlite_floor_full_batched") {
        let batched = timed_rate(budget, || {
            let rows = rows(fresh_events(&surface, 8 * cases_per_batch).concat());
            let start = Instant::now();
            floor_insert(&conn, &rows, BATCH, &mut position);
            (rows.len() as u64, start.elapsed())
        });
        out.push(("sqlite_floor_full_batched_rows_per_s", json!(batched)));
    }

    // planck's SqliteStore, one event per append, one case at a time.
    for (key, synchronous) in [
        ("sqlite_store_full_rows_per_s", Synchronous::Full),
        ("sqlite_store_normal_rows_per_s", Synchronous::Normal),
    ] {
        if !want(key) {
            continue;
        }
        let options = SqliteOptions {
            synchronous,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(dir.path().join(format!("{key}.db")), options).unwrap();
        let rate = timed_rate(budget, || {
            let cases = fresh_events(&surface, cases_per_batch);
            let start = Instant::now();
            let n = store_append(&store, &cases);
            (n, start.elapsed())
        });
        out.push((key, json!(rate)));
    }

    // Several threads on one store: plain SqliteStore (appends take turns) and group commit.
    let threads_batch = || {
        (0..THREADS)
            .map(|_| fresh_events(&surface, 2 * cases_per_batch))
            .collect::<Vec<_>>()
    };
    let many_threads_batch = || {
        (0..MANY_THREADS)
            .map(|_| fresh_events(&surface, cases_per_batch / 2))
            .collect::<Vec<_>>()
    };
    if want("sqlite_store_full_threads") {
        let plain = SqliteStore::open_with(
            dir.path().join("threads-plain.db"),
            SqliteOptions::default(),
        )
        .unwrap();
        let rate = timed_rate(budget, || store_append_threads(&plain, threads_batch()));
        out.push(("sqlite_store_full_threads_rows_per_s", json!(rate)));
    }
    if want("sqlite_group_full_threads") {
        let group = GroupCommitSqliteStore::open_with(
            dir.path().join("threads-group.db"),
            SqliteOptions::default(),
        )
        .unwrap();
        let rate = timed_rate(budget, || store_append_threads(&group, threads_batch()));
        out.push(("sqlite_group_full_threads_rows_per_s", json!(rate)));
        out.push(("sqlite_threads", json!(THREADS)));
    }
    if want("sqlite_group_full_many_threads") {
        let group = GroupCommitSqliteStore::open_with(
            dir.path().join("many-threads-group.db"),
            SqliteOptions::default(),
        )
        .unwrap();
        let rate = timed_rate(budget, || {
            store_append_threads(&group, many_threads_batch())
        });
        out.push(("sqlite_group_full_many_threads_rows_per_s", json!(rate)));
        out.push(("sqlite_many_threads", json!(MANY_THREADS)));
    }

    // The whole engine on SqliteStore (FULL): commands per second, one case at a time.
    if want("engine_sqlite_full") {
        let engine = support::engine(
            SqliteStore::open_with(dir.path().join("engine.db"), SqliteOptions::default()).unwrap(),
        );
        let steps = support::lifecycle("peer-lifecycle");
        let rate = crate::rate(budget, || {
            support::engine_lifecycle(&engine, &support::fresh_case("e"), &steps) as u64
        });
        out.push(("engine_sqlite_full_per_s", json!(rate)));
    }
    // The whole engine on the group-commit store (FULL), THREADS threads each on its own cases.
    if want("engine_sqlite_group") {
        let store = GroupCommitSqliteStore::open(dir.path().join("engine-group.db")).unwrap();
        let engine = support::engine(store);
        let steps = support::lifecycle("peer-lifecycle");
        let rate = timed_rate(budget, || {
            let barrier = Barrier::new(THREADS + 1);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..THREADS)
                    .map(|_| {
                        let (engine, steps, barrier) = (&engine, &steps, &barrier);
                        scope.spawn(move || {
                            barrier.wait();
                            (0..2)
                                .map(|_| {
                                    support::engine_lifecycle(
                                        engine,
                                        &support::fresh_case("g"),
                                        steps,
                                    ) as u64
                                })
                                .sum::<u64>()
                        })
                    })
                    .collect();
                barrier.wait();
                let start = Instant::now();
                let n: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
                (n, start.elapsed())
            })
        });
        out.push(("engine_sqlite_group_threads_per_s", json!(rate)));
    }
    out
}

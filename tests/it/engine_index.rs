//! The index the engine writes with every append (docs/queries.md): each row is what the
//! events imply, refused commands leave it, `tick` reads only due cases, `verify` names a row
//! that disagrees, `rebuild_index` repairs it, and a database from before the index is
//! upgraded and rebuilt. Also the subscriber loop over the feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::engine_common;

use engine_common::*;
use planck::audit::VerifyCode;
use planck::engine::{DESK_LIMIT, Engine, FileCursor, MemoryCursor, Subscriber};
use planck::host::{
    Append, CaseFilter, CaseIndex, Committed, IndexRow, IndexState, ListCursor, ManualClock,
    MemoryStore, MemoryTransport, QueueNeed, SqliteStore, Store, StoreError, StoredEvent,
};
use planck::spine::{JobState, TaskState};
use serde_json::{Value, json};

fn row<S: Store>(store: &S, case: &str) -> CaseIndex {
    match store.index_row(case).unwrap() {
        Some(IndexRow::Case(row)) => row,
        other => panic!("no case row for {case}: {other:?}"),
    }
}

fn assert_verifies<S: Store>(engine: &Engine<S, MemoryTransport, ManualClock>) {
    let report = engine.verify().unwrap();
    assert!(report.ok(), "{:#?}", report.failures);
    assert_eq!(report.index_rows, report.cases);
    assert_eq!(report.positions as usize, report.events);
}

fn lifecycle_keeps_every_row_true<S: Store>(engine: &Engine<S, MemoryTransport, ManualClock>) {
    let store = engine.store();
    ok(engine, &client(), submit("w-1", "watched"));
    let r = row(store, "w-1");
    assert_eq!(
        (r.task, r.queue, r.job, r.version),
        (Some(TaskState::Open), Some(QueueNeed::Review), None, 1)
    );
    assert_eq!((r.surface.as_str(), r.surface_version), ("watched", 1));
    assert_eq!((r.created_at, r.last_activity), (T0, T0));
    assert_verifies(engine);
    ok(engine, &admin(), cmd("w-1", "approve_task", Value::Null));
    assert_eq!(row(store, "w-1").queue, Some(QueueNeed::Assign));
    ok(
        engine,
        &admin(),
        cmd("w-1", "assign_task", json!({ "operator": "op-lee" })),
    );
    assert_eq!(row(store, "w-1").queue, Some(QueueNeed::HandOff));
    engine.clock().advance(HOUR);
    ok(engine, &admin(), cmd("w-1", "create_job", Value::Null));
    let r = row(store, "w-1");
    assert_eq!(r.queue, None);
    assert_eq!(r.job, Some(JobState::Queued));
    assert_eq!(
        r.stage.as_deref(),
        Some("queued"),
        "the job waits in the first phase"
    );
    assert_eq!(r.phase, None);
    assert_eq!(r.last_activity, T0 + HOUR);
    assert_eq!(
        r.next_due_at,
        Some(T0 + HOUR + 24 * HOUR),
        "`unclaimed` after 1d"
    );
    assert!(!r.claim_open && r.completed_visible);
    // A refused command leaves the row as it was.
    let before = row(store, "w-1");
    code(engine, &max(), cmd("w-1", "claim_job", Value::Null));
    assert_eq!(row(store, "w-1"), before);
    ok(engine, &lee(), cmd("w-1", "claim_job", Value::Null));
    let r = row(store, "w-1");
    assert_eq!(
        (
            r.job,
            r.owner.as_deref(),
            r.phase.as_deref(),
            r.stage.as_deref()
        ),
        (
            Some(JobState::Claimed),
            Some("op-lee"),
            Some("claimed"),
            Some("claimed")
        )
    );
    assert_eq!(
        r.next_due_at,
        Some(T0 + HOUR + 2 * HOUR),
        "`claim_stale` after 2h"
    );
    // The escalation fires: nothing else is due in this phase.
    engine.clock().advance(2 * HOUR);
    assert_eq!(engine.tick().unwrap().len(), 1);
    assert_eq!(row(store, "w-1").next_due_at, None);
    assert_verifies(engine);
    // Through to the end.
    finish_service_event(engine, "w-1", Some("p.jpg"));
    ok(engine, &lee(), cmd("w-1", "complete_job", Value::Null));
    let r = row(store, "w-1");
    assert_eq!(r.job, Some(JobState::Completed));
    assert_eq!(r.phase.as_deref(), Some("complete"));
    assert_eq!(r.next_due_at, None);
    event_coordination(engine, "ev-1");
    assert_verifies(engine);
}

#[test]
fn every_append_leaves_the_row_its_events_imply_in_memory() {
    lifecycle_keeps_every_row_true(&memory_engine());
}

#[test]
fn every_append_leaves_the_row_its_events_imply_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(SqliteStore::open(dir.path().join("index.db")).unwrap());
    lifecycle_keeps_every_row_true(&engine);
}

/// A store that counts `load` calls (the engine reads a case's events only through it).
struct CountingLoads {
    inner: MemoryStore,
    loads: AtomicUsize,
}

impl Store for CountingLoads {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(case)
    }
    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load_after(case, after)
    }
    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
        self.inner.append(append)
    }
    forward_except_load_and_append!(inner);
}

#[test]
fn tick_reads_only_the_cases_that_are_due() {
    let store = Arc::new(CountingLoads {
        inner: MemoryStore::new(),
        loads: AtomicUsize::new(0),
    });
    let engine = engine_on(Arc::clone(&store));
    // Idle work: jobs on a surface without escalations, and requests nobody acted on.
    for i in 0..40 {
        to_job(&engine, &format!("idle-{i}"), "event-coordination");
        ok(&engine, &client(), submit(&format!("new-{i}"), "watched"));
    }
    // Three jobs that escalate after a day.
    for i in 0..3 {
        to_job(&engine, &format!("due-{i}"), "watched");
    }
    store.loads.store(0, Ordering::SeqCst);
    assert!(engine.tick().unwrap().is_empty());
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        0,
        "nothing due: nothing read"
    );
    engine.clock().advance(24 * HOUR);
    let raised = engine.tick().unwrap();
    assert_eq!(raised.len(), 3);
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        3,
        "only the three due cases were read"
    );
    store.loads.store(0, Ordering::SeqCst);
    assert!(engine.tick().unwrap().is_empty());
    assert_eq!(store.loads.load(Ordering::SeqCst), 0);
}

#[test]
fn verify_names_a_row_that_disagrees_and_a_rebuild_repairs_it() {
    let engine = memory_engine();
    let store = engine.store();
    to_job(&engine, "w-1", "watched");
    to_job(&engine, "od-1", "open-desk");
    event_coordination(&engine, "ev-1");
    assert_verifies(&engine);

    store.tamper_index("w-1", |row| {
        if let Some(IndexRow::Case(r)) = row {
            r.owner = Some("op-mallory".into());
            r.next_due_at = None;
        }
    });
    store.tamper_index("ev-1", |row| *row = None);
    store.tamper_index("ghost", |row| {
        *row = Some(planck::host::conformance::fixture_row("ghost", 1, |_| {}))
    });
    let report = engine.verify().unwrap();
    assert!(!report.ok());
    let found: Vec<(&str, VerifyCode, &str)> = report
        .failures
        .iter()
        .map(|f| (f.case(), f.code(), f.message()))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().any(|(case, code, message)| *case == "w-1"
        && *code == VerifyCode::IndexMismatch
        && message.contains("owner, next_due_at")));
    assert!(
        found
            .iter()
            .any(|(case, code, _)| *case == "ev-1" && *code == VerifyCode::IndexMissing)
    );
    assert!(
        found
            .iter()
            .any(|(case, code, _)| *case == "ghost" && *code == VerifyCode::IndexMismatch)
    );
    // Without the surfaces, the fields that need one are not compared.
    let plain = planck::engine::verify_store(store).unwrap();
    let w1 = plain.failures.iter().find(|f| f.case() == "w-1").unwrap();
    assert!(w1.message().contains("owner") && !w1.message().contains("next_due_at"));

    store.tamper_index("ghost", |row| *row = None);
    assert_eq!(engine.rebuild_index().unwrap().rows, 3);
    assert_verifies(&engine);
    assert_eq!(engine.store().index_state().unwrap(), IndexState::Ready);
}

#[test]
fn an_index_that_needs_a_rebuild_refuses_queries_until_it_is_rebuilt() {
    let engine = memory_engine();
    to_job(&engine, "ev-1", "event-coordination");
    engine.store().forget_index();
    let err = engine.desk("op-lee").unwrap_err();
    assert!(err.to_string().contains("reindex"), "{err}");
    assert!(engine.governance_queue().is_err());
    assert!(engine.list(&CaseFilter::default(), None, 10).is_err());
    assert!(
        engine.tick().is_err(),
        "tick must not silently find nothing due"
    );
    let report = engine.verify().unwrap();
    assert!(report.index_needs_rebuild && !report.ok());
    assert!(engine.ensure_index().unwrap());
    assert!(!engine.ensure_index().unwrap());
    assert_eq!(engine.desk("op-lee").unwrap().queued.len(), 1);
    assert_verifies(&engine);
}

#[test]
fn desk_columns_stop_at_the_limit_and_say_so() {
    let engine = memory_engine();
    for i in 0..=DESK_LIMIT {
        to_job(&engine, &format!("c-{i:03}"), "event-coordination");
    }
    let desk = engine.desk("op-lee").unwrap();
    assert_eq!(desk.queued.len(), DESK_LIMIT);
    assert!(desk.truncated);
    assert_eq!(desk.queued[0].case, "c-000", "oldest first");
    let list = engine
        .list(
            &CaseFilter {
                assignee: Some("op-lee".into()),
                job: Some(Some(JobState::Queued)),
                ..CaseFilter::default()
            },
            None,
            500,
        )
        .unwrap();
    assert_eq!(list.cases.len(), DESK_LIMIT + 1, "the list shows them all");
}

#[test]
fn a_list_pages_with_its_cursor_newest_activity_first() {
    let engine = memory_engine();
    for i in 0..7 {
        engine.clock().advance(1_000);
        ok(
            &engine,
            &client(),
            submit(&format!("c-{i}"), "event-coordination"),
        );
    }
    engine.clock().advance(1_000);
    ok(&engine, &admin(), cmd("c-2", "approve_task", Value::Null));
    let mut seen = Vec::new();
    let mut after: Option<ListCursor> = None;
    loop {
        let page = engine
            .list(&CaseFilter::default(), after.as_ref(), 3)
            .unwrap();
        seen.extend(page.cases.iter().map(|l| l.view.case.clone()));
        match page.next {
            Some(next) => after = Some(ListCursor::decode(&next).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, ["c-2", "c-6", "c-5", "c-4", "c-3", "c-1", "c-0"]);
}

#[test]
fn a_subscriber_follows_the_feed_at_least_once() {
    let engine = memory_engine();
    event_coordination(&engine, "ev-1");
    to_job(&engine, "ev-2", "event-coordination");
    let total = engine.feed(0, 1_000).unwrap().len();
    assert_eq!(total, 18);
    let dir = tempfile::tempdir().unwrap();
    let cursor_path = dir.path().join("cursor");
    let subscriber = Subscriber::new(engine.store(), FileCursor::new(&cursor_path)).with_batch(4);
    let mut handled: Vec<u64> = Vec::new();
    // The handler fails once, on position 6: the cursor stays at 5.
    let mut failed_once = false;
    let mut handle = |entry: &planck::host::FeedEntry| -> Result<(), std::io::Error> {
        if entry.position == 6 && !failed_once {
            failed_once = true;
            return Err(std::io::Error::other("projection down"));
        }
        handled.push(entry.position);
        Ok(())
    };
    assert_eq!(subscriber.poll(&mut handle).unwrap(), 4);
    let err = subscriber.poll(&mut handle).unwrap_err();
    assert!(err.to_string().contains("position 6"), "{err}");
    assert_eq!(std::fs::read_to_string(&cursor_path).unwrap().trim(), "5");
    let mut polls = 0;
    while subscriber.poll(&mut handle).unwrap() > 0 {
        polls += 1;
    }
    assert_eq!(polls, 4);
    assert_eq!(handled, (1..=18).collect::<Vec<u64>>());
    // A new subscriber with the same cursor file starts where the first one stopped.
    to_job(&engine, "ev-3", "event-coordination");
    let again = Subscriber::new(engine.store(), FileCursor::new(&cursor_path));
    let mut more = Vec::new();
    again
        .poll(
            |e: &planck::host::FeedEntry| -> Result<(), std::io::Error> {
                more.push(e.event.event_id.clone());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(more, ["ev-3:1", "ev-3:2", "ev-3:3", "ev-3:4"]);
    // In memory, from a given position.
    let memory = Subscriber::new(engine.store(), MemoryCursor::new(20));
    let mut last = Vec::new();
    memory
        .poll(
            |e: &planck::host::FeedEntry| -> Result<(), std::io::Error> {
                last.push(e.position);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(last, [21, 22]);
}

/// Two cases on a new SQLite file at `path` (ev-1 claimed, ev-2 submitted); the feed's event
/// ids in order.
fn two_cases_on_file(path: &std::path::Path) -> Vec<String> {
    let engine = engine_on(SqliteStore::open(path).unwrap());
    to_job(&engine, "ev-1", "event-coordination");
    ok(&engine, &client(), submit("ev-2", "event-coordination"));
    ok(&engine, &lee(), cmd("ev-1", "claim_job", Value::Null));
    feed_ids(engine.store())
}

/// The event ids of `store`'s feed, in order (its first 100).
fn feed_ids<S: Store>(store: &S) -> Vec<String> {
    store
        .feed(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.event.event_id)
        .collect()
}

/// A version 1 SQLite database (before the feed and the index): made by stripping a new one
/// down to the version 1 schema.
fn downgrade_to_v1(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP INDEX events_position;
         ALTER TABLE events DROP COLUMN position;
         DROP TABLE planck_meta; DROP TABLE case_index; DROP TABLE operator_index;
         PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn a_version_1_sqlite_database_is_upgraded_and_needs_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let order = two_cases_on_file(&path);
    downgrade_to_v1(&path);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.index_state().unwrap(), IndexState::NeedsRebuild);
    let feed = feed_ids(&store);
    assert_eq!(
        feed, order,
        "old events get positions in the order they were committed"
    );
    assert!(matches!(
        store.desk("op-lee", 10),
        Err(StoreError::IndexNotReady)
    ));
    let engine = engine_on(store);
    let report = engine.verify().unwrap();
    assert!(report.index_needs_rebuild && !report.ok() && report.failures.is_empty());
    // New appends keep numbering after the old events.
    ok(&engine, &admin(), cmd("ev-2", "approve_task", Value::Null));
    assert_eq!(engine.feed(7, 10).unwrap()[0].event.event_id, "ev-2:2");
    assert_eq!(engine.rebuild_index().unwrap().rows, 2);
    assert_verifies(&engine);
    assert_eq!(engine.desk("op-lee").unwrap().active[0].case, "ev-1");
    // Opening it again changes nothing.
    drop(engine);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.index_state().unwrap(), IndexState::Ready);
    assert_eq!(store.feed(0, 100).unwrap().len(), 8);
}

/// A version 2 SQLite database: the SQL indexes and the position counter version 3 does
/// without, made by rewriting a new one's schema.
fn downgrade_to_v2(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP INDEX case_index_assigned; DROP INDEX case_index_owned; DROP INDEX case_index_list;
         CREATE INDEX case_index_assignee ON case_index (assignee, job, created);
         CREATE INDEX case_index_owner ON case_index (owner, job, created);
         CREATE INDEX case_index_activity ON case_index (last_activity, case_id);
         CREATE INDEX case_index_job ON case_index (job, last_activity, case_id);
         CREATE INDEX case_index_surface ON case_index (surface, last_activity, case_id);
         INSERT INTO planck_meta (key, value)
              VALUES ('last_position', (SELECT MAX(position) FROM events));
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

#[test]
fn a_version_2_sqlite_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    let order = two_cases_on_file(&path);
    downgrade_to_v2(&path);
    let store = SqliteStore::open(&path).unwrap();
    let schema = |sql: &str| -> Vec<String> {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut indexes = schema(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'case_index'
           AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    indexes.sort();
    assert_eq!(
        indexes,
        [
            "case_index_assigned",
            "case_index_due",
            "case_index_list",
            "case_index_open",
            "case_index_owned",
            "case_index_queue"
        ]
    );
    assert!(schema("SELECT key FROM planck_meta WHERE key = 'last_position'").is_empty());
    assert_eq!(
        schema("SELECT CAST(user_version AS TEXT) FROM pragma_user_version"),
        [planck::host::SCHEMA_VERSION.to_string()]
    );
    assert_eq!(store.index_state().unwrap(), IndexState::Ready);
    let feed = feed_ids(&store);
    assert_eq!(feed, order, "the feed is unchanged");
    let engine = engine_on(store);
    assert_verifies(&engine);
    // New appends keep numbering after the old events, and the queries answer at once.
    ok(&engine, &admin(), cmd("ev-2", "approve_task", Value::Null));
    let next = engine.feed(order.len() as u64, 10).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.event_id, "ev-2:2");
    assert_eq!(next[0].position, order.len() as u64 + 1);
    assert_eq!(engine.desk("op-lee").unwrap().active[0].case, "ev-1");
    assert_eq!(
        engine
            .list(&planck::host::CaseFilter::default(), None, 10)
            .unwrap()
            .cases
            .iter()
            .map(|c| c.view.case.as_str())
            .collect::<Vec<_>>(),
        ["ev-2", "ev-1"]
    );
    assert_verifies(&engine);
}

#[cfg(feature = "postgres")]
#[test]
fn a_version_1_postgres_schema_is_upgraded_and_needs_a_rebuild() {
    use crate::reliability_support::pg::Scratch;
    let Some(url) = crate::reliability_support::pg_url(
        "a_version_1_postgres_schema_is_upgraded_and_needs_a_rebuild",
    ) else {
        return;
    };
    let scratch = Scratch::new(&url, "upgrade");
    {
        let engine = engine_on(scratch.reopen());
        to_job(&engine, "ev-1", "event-coordination");
        ok(&engine, &client(), submit("ev-2", "event-coordination"));
    }
    let s = &scratch.schema;
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "DROP TABLE {s}.planck_case_index; DROP TABLE {s}.planck_operator_index;
             ALTER TABLE {s}.planck_events DROP COLUMN position;
             ALTER TABLE {s}.planck_events DROP COLUMN tx;
             DELETE FROM {s}.planck_meta WHERE key = 'index_state';
             UPDATE {s}.planck_meta SET value = '1' WHERE key = 'schema_version';"
        ))
        .unwrap();
    let store = scratch.reopen();
    assert_eq!(store.index_state().unwrap(), IndexState::NeedsRebuild);
    let feed = store.feed(0, 100).unwrap();
    assert_eq!(feed.len(), 5);
    assert_eq!(
        feed.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(matches!(store.queue(10), Err(StoreError::IndexNotReady)));
    let engine = engine_on(store);
    ok(&engine, &admin(), cmd("ev-2", "approve_task", Value::Null));
    assert_eq!(engine.feed(5, 10).unwrap()[0].event.event_id, "ev-2:2");
    assert_eq!(engine.rebuild_index().unwrap().rows, 2);
    assert_verifies(&engine);
    assert_eq!(
        engine.governance_queue().unwrap()[0].need,
        QueueNeed::Assign
    );
}

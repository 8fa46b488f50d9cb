//! Queries at scale (issue 12, docs/queries.md): what the index buys and what it costs.
//!
//! What it isolates, on `SqliteStore` (WAL, `synchronous = NORMAL`):
//! - `queries/desk`, `queries/queue`, `queries/list`: `Engine::desk("op-lee")`,
//!   `Engine::governance_queue()` and `Engine::list(surface = event-coordination, job =
//!   claimed, 50)` at 10³, 10⁴, 10⁵ and 10⁶ cases; `queries/list_all` the same list without a
//!   filter (on SQLite, one range per surface and Job state, merged). The answer has the same size at every scale
//!   (op-lee's desk holds 10 Jobs, the queue 3 cases, the list page 50), so the figures show
//!   what the number of *other* cases costs: with the index, time should grow at most
//!   logarithmically.
//! - `queries/append`: one append (a new case's submission) with its index row against the
//!   same append without it, in one run: what the index adds to the write path.
//!   `queries/append_full` is the same on `synchronous = FULL`, the store's default (one fsync
//!   per commit). `queries/append_group` is the same from 16 threads at once on the
//!   group-commit store (FULL), whose appends share commits.
//! - `queries/move`, `queries/move_full`: the same pair for an append in the middle of a
//!   lifecycle (a claimed Job's ServiceEvent moves on) on a copy of the 10⁵-case database, where
//!   a row's old index entries and its new ones are on different pages.
//! - `queries/floor`, `queries/floor_full`: the floor under the figures above, on raw rusqlite
//!   (no planck code on the write path): an append's events alone into planck's `events`
//!   schema, against the same plus the cheapest index conceivable (one `case_head (case_id,
//!   last_activity)` row upserted in the same transaction), and plus that row and one secondary
//!   index ordering it by activity; for a new case and for a move among 10⁵ cases, with the
//!   WAL frames each variant writes per append: what the cheapest index maintained in the
//!   append costs, with nothing of planck's own around it. Its own files; `PLANCK_BENCH_MAX_CASES=1000` keeps the other
//!   groups' setup (which runs even when a filter skips their benches) short.
//! - `queries/tick`: `Engine::tick` with 10 cases due among 10³ and among 10⁵ idle cases.
//! - `queries/postgres`: the desk, queue and list on `PostgresStore` at 10³ and 10⁵ cases
//!   (feature `postgres`, and `PLANCK_PG_URL` naming a server; skipped otherwise). The schema
//!   `bench_queries_<n>` holds the same cases, made the same way, and stays on the server.
//!
//! **The databases.** 13 real cases are made through the engine (`event-coordination`): 3 in
//! the governance queue and 10 Jobs of op-lee (2 queued, 5 claimed in three phases, 3
//! completed). The other cases are copies of the 10 Jobs, made with SQL in one transaction:
//! copy `k` renames the cases (`<case>-k`), op-lee to `op-k` (in the events and the index
//! rows) and shifts the feed positions, so every copy has real events, a real index row and
//! a place in the feed. (The copies' digests still name the original case: this database is
//! not meant for `verify`, and no query reads a digest.) Built once per size and kept in
//! `target/bench-queries/` (delete it to rebuild); `PLANCK_BENCH_MAX_CASES` (default
//! 1000000) caps the sizes.
//!
//! ```text
//! cargo bench --bench queries -- --warm-up-time 1 --measurement-time 3 --sample-size 10
//! ```

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench stops loudly on a broken fixture; criterion's macros write undocumented functions"
)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use planck::engine::Engine;
use planck::host::{
    Append, CaseFilter, GroupCommitSqliteStore, IndexRow, ManualClock, NullTransport,
    SqliteOptions, SqliteStore, Store, Synchronous,
};
use planck::policy::{Principal, Role};
use planck::spine::{Command, JobState};
use planck::surface::registry::Registry;
use serde_json::{Value, json};
use support::NOW;

type Db = Engine<SqliteStore, NullTransport, ManualClock>;

const SIZES: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// The Jobs every copy holds.
const JOBS: u64 = 10;
const MINUTE: i64 = 60_000;

fn max_cases() -> u64 {
    std::env::var("PLANCK_BENCH_MAX_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn options() -> SqliteOptions {
    SqliteOptions {
        synchronous: Synchronous::Normal,
        ..SqliteOptions::default()
    }
}

/// The escalating twin of event-coordination: a Job waiting in `queued` for an hour escalates.
fn escalating_text() -> String {
    let text = support::shipped_text("event-coordination.toml")
        .replace("slug = \"event-coordination\"", "slug = \"ec-escalating\"");
    format!(
        "{text}\n[[escalation]]\nphase = \"queued\"\nafter = \"1h\"\nsignal = \"claim_overdue\"\n"
    )
}

fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    registry
        .register(support::shipped("event-coordination"))
        .unwrap();
    registry
        .register(support::surface_from_toml(&escalating_text()))
        .unwrap();
    Arc::new(registry)
}

fn engine(path: &Path) -> Db {
    Engine::new(
        registry(),
        SqliteStore::open_with(path, options()).unwrap(),
        NullTransport,
        ManualClock::new(NOW),
    )
}

fn send<S: Store>(
    engine: &Engine<S, NullTransport, ManualClock>,
    who: &Principal,
    case: &str,
    command: &str,
    args: Value,
) {
    engine.clock().advance(MINUTE);
    let command = Command::from_json(case, command, &args).unwrap();
    let receipt = engine.execute(who, &command, None).unwrap();
    assert!(receipt.is_applied(), "{case} {command:?}: {receipt:?}");
}

/// Submit `case` on `surface` and take it `steps` steps: 0 submitted, 1 approved, 2 assigned
/// to op-lee, 3 Job created, 4 claimed, 5 on site, 6 under way, 7 completed.
fn drive<S: Store>(
    engine: &Engine<S, NullTransport, ManualClock>,
    surface: &str,
    case: &str,
    steps: u32,
) {
    let client = Principal::new("client-ava", [Role::Client]);
    let admin = Principal::new("admin-kim", [Role::Admin]);
    let lee = Principal::new("op-lee", [Role::Operator]);
    send(
        engine,
        &client,
        case,
        "submit_request",
        json!({"surface": surface, "intake": support::intake_for("event-coordination")}),
    );
    let plan: [(&Principal, &str, Value); 7] = [
        (&admin, "approve_task", Value::Null),
        (&admin, "assign_task", json!({"operator": "op-lee"})),
        (&admin, "create_job", Value::Null),
        (&lee, "claim_job", Value::Null),
        (&lee, "advance", json!({"to": "arrived"})),
        (&lee, "advance", json!({"to": "in_progress"})),
        (&lee, "complete_service_event", json!({"outcome": "done"})),
    ];
    for (who, command, args) in plan.iter().take(steps as usize) {
        send(engine, who, case, command, args.clone());
    }
    if steps >= 7 {
        send(engine, &admin, case, "complete_job", Value::Null);
    }
}

/// The database with `n` Jobs (and the 3 queue cases), built once and cached.
fn database(n: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-queries");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("cases-{n}.db"));
    if path.is_file() {
        return path;
    }
    let building = dir.join(format!("cases-{n}.db.building"));
    let _ = std::fs::remove_file(&building);
    let start = Instant::now();
    {
        let engine = engine(&building);
        for (case, steps) in [("queue-1", 0), ("queue-2", 1), ("queue-3", 2)] {
            drive(&engine, "event-coordination", case, steps);
        }
        for (i, steps) in [3, 3, 4, 4, 5, 5, 6, 7, 7, 7].into_iter().enumerate() {
            drive(&engine, "event-coordination", &format!("job-{i}"), steps);
        }
    }
    copy_jobs(&building, n / JOBS);
    std::fs::rename(&building, &path).unwrap();
    eprintln!(
        "built {} ({} cases) in {:.1} s",
        path.display(),
        n + 3,
        start.elapsed().as_secs_f64()
    );
    path
}

/// Copies 1..`copies` of the 10 Jobs, in one transaction.
fn copy_jobs(path: &Path, copies: u64) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "CREATE TEMP TABLE tmpl AS
             SELECT e.*, row_number() OVER (ORDER BY position) AS rn
             FROM events e WHERE case_id LIKE 'job-%';
         CREATE TEMP TABLE tmpl_index AS
             SELECT c.*, (SELECT rn FROM tmpl t WHERE t.case_id = c.case_id AND t.seq = 1) AS first_rn
             FROM case_index c WHERE case_id LIKE 'job-%';",
    )
    .unwrap();
    let per_copy: i64 = tx
        .query_row("SELECT count(*) FROM tmpl", [], |r| r.get(0))
        .unwrap();
    let base: i64 = tx
        .query_row("SELECT max(position) FROM events", [], |r| r.get(0))
        .unwrap();
    {
        let mut events = tx
            .prepare(
                "INSERT INTO events (case_id, seq, event_id, event_type, schema_version, ts_utc,
                     ts_ms, actor, surface, surface_fingerprint, idempotency_key, payload,
                     prev_digest, digest, position)
                 SELECT case_id || '-' || ?1, seq, case_id || '-' || ?1 || ':' || seq, event_type,
                     schema_version, ts_utc, ts_ms, replace(actor, '\"op-lee\"', '\"op-' || ?1 || '\"'),
                     surface, surface_fingerprint, idempotency_key,
                     replace(payload, '\"op-lee\"', '\"op-' || ?1 || '\"'), prev_digest, digest,
                     ?2 + rn
                 FROM tmpl",
            )
            .unwrap();
        let mut rows = tx
            .prepare(
                "INSERT INTO case_index (case_id, created, version, surface, surface_version, task,
                     assignee, job, owner, phase, stage, service_event, pending_approval, queue,
                     claim_open, completed_visible, created_at, last_activity, next_due_at)
                 SELECT case_id || '-' || ?1, ?2 + first_rn, version, surface, surface_version,
                     task, replace(assignee, 'op-lee', 'op-' || ?1), job,
                     replace(owner, 'op-lee', 'op-' || ?1), phase, stage, service_event,
                     pending_approval, queue, claim_open, completed_visible, created_at,
                     last_activity, next_due_at
                 FROM tmpl_index",
            )
            .unwrap();
        for k in 1..i64::try_from(copies.max(1)).unwrap() {
            let offset = base + (k - 1) * per_copy;
            events.execute(rusqlite::params![k, offset]).unwrap();
            rows.execute(rusqlite::params![k, offset]).unwrap();
        }
    }
    let last = base + (i64::try_from(copies.max(1)).unwrap() - 1) * per_copy;
    tx.execute(
        "UPDATE planck_meta SET value = ?1 WHERE key = 'last_position'",
        [last],
    )
    .unwrap();
    tx.commit().unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
        .unwrap();
}

fn sizes() -> Vec<u64> {
    SIZES.into_iter().filter(|n| *n <= max_cases()).collect()
}

/// The desk, the queue and the list (event-coordination cases whose Job is claimed, 50) of
/// the database with `n` Jobs, in the criterion group `name`. The answers have the same size
/// at every scale and on every store; they are checked before timing.
fn desk_queue_list<S: Store>(
    c: &mut Criterion,
    name: &str,
    engine: &Engine<S, NullTransport, ManualClock>,
    n: u64,
) {
    let claimed = CaseFilter {
        surface: Some("event-coordination".into()),
        job: Some(Some(JobState::Claimed)),
        ..CaseFilter::default()
    };
    let desk = engine.desk("op-lee").unwrap();
    assert_eq!(
        (desk.queued.len(), desk.active.len(), desk.completed.len()),
        (2, 5, 3)
    );
    assert_eq!(engine.governance_queue().unwrap().len(), 3);
    assert_eq!(engine.list(&claimed, None, 50).unwrap().cases.len(), 50);
    let mut group = c.benchmark_group(name);
    group.bench_with_input(BenchmarkId::new("desk", n), &n, |b, _| {
        b.iter(|| engine.desk("op-lee").unwrap())
    });
    group.bench_with_input(BenchmarkId::new("queue", n), &n, |b, _| {
        b.iter(|| engine.governance_queue().unwrap())
    });
    group.bench_with_input(BenchmarkId::new("list", n), &n, |b, _| {
        b.iter(|| engine.list(&claimed, None, 50).unwrap())
    });
    // No filter: on SQLite, every surface and Job state is a range of its own, merged.
    group.bench_with_input(BenchmarkId::new("list_all", n), &n, |b, _| {
        b.iter(|| engine.list(&CaseFilter::default(), None, 50).unwrap())
    });
    group.finish();
}

fn queries(c: &mut Criterion) {
    for n in sizes() {
        desk_queue_list(c, "queries", &engine(&database(n)), n);
    }
}

/// One append of a new case's submission, with and without its index row, at both
/// durabilities: `queries/append` on `synchronous = NORMAL` (what the other benches here use:
/// no fsync, so the pages written are the whole cost) and `queries/append_full` on `FULL`, the
/// store's default (one fsync of the WAL per commit, as a host runs it out of the box). The
/// pages an append writes do not depend on the durability, so they are counted once.
fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // A real submission and its row, made by the engine, to copy under new case ids.
    let template_engine = engine(&dir.path().join("template.db"));
    drive(&template_engine, "event-coordination", "t-0", 0);
    let events = template_engine.history("t-0").unwrap();
    let Some(IndexRow::Case(row)) = template_engine.store().index_row("t-0").unwrap() else {
        panic!("no index row")
    };
    let mut next = 0u64;
    let mut fresh = move || {
        next += 1;
        let case = format!("a-{next}");
        let mut events = events.clone();
        for e in &mut events {
            e.case_id = case.clone();
            e.event_id = format!("{case}:{}", e.seq);
        }
        let mut row = row.clone();
        row.case = case.clone();
        (case, events, IndexRow::Case(row))
    };
    for with_index in [false, true] {
        let frames = wal_frames_per_append(dir.path(), &mut fresh, with_index);
        print_frames("queries/append", frames, with_index);
    }
    for (group_name, file, options) in durabilities("queries/append", "append") {
        let store = SqliteStore::open_with(dir.path().join(file), options).unwrap();
        let mut group = c.benchmark_group(group_name);
        for with_index in [false, true] {
            let name = bench_name(with_index);
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let prepared: Vec<_> = (0..iters).map(|_| fresh()).collect();
                    let start = Instant::now();
                    for (case, events, row) in &prepared {
                        write(&store, case, 0, events, row, with_index);
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
    // The same submissions from `GROUP_THREADS` threads at once on the group-commit store
    // (`synchronous = FULL`), the way `planck serve` writes: appends that arrive together share
    // one commit, and so the index pages they change (the newest end of an index is one page
    // for the whole group). Time per append.
    let store = GroupCommitSqliteStore::open(dir.path().join("append-group.db")).unwrap();
    let mut group = c.benchmark_group("queries/append_group");
    for with_index in [false, true] {
        let name = bench_name(with_index);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let prepared: Vec<_> = (0..iters).map(|_| fresh()).collect();
                let chunk = prepared.len().div_ceil(GROUP_THREADS).max(1);
                let store = &store;
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for part in prepared.chunks(chunk) {
                        scope.spawn(move || {
                            for (case, events, row) in part {
                                write(store, case, 0, events, row, with_index);
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// Threads appending at once in `queries/append_group`.
const GROUP_THREADS: usize = 16;

/// The pages (WAL frames) one append writes, over 20 appends into a fresh file after 50 to
/// warm it: what the index row costs in writes, a figure no machine load changes. Each commit
/// writes every page it changed, so each index the row touches is about one more page.
fn wal_frames_per_append(
    dir: &Path,
    fresh: &mut impl FnMut() -> (String, Vec<planck::audit::StoredEvent>, IndexRow),
    with_index: bool,
) -> f64 {
    let path = dir.join(format!("frames-{with_index}.db"));
    let store = SqliteStore::open_with(&path, options()).unwrap();
    wal_frames(&path, 20, |n| {
        for _ in 0..n {
            let (case, events, row) = fresh();
            write(&store, &case, 0, &events, &row, with_index);
        }
    })
}

/// WAL frames per append of the file at `path`, over `counted` appends after 50 to warm it;
/// `append(n)` makes `n` appends. `counted` stays small enough that the WAL stays below
/// SQLite's automatic checkpoint (1,000 pages).
fn wal_frames(path: &Path, counted: i64, mut append: impl FnMut(i64)) -> f64 {
    append(50);
    let probe = rusqlite::Connection::open(path).unwrap();
    // (busy, frames in the WAL, frames checkpointed)
    let checkpoint = |mode: &str| -> i64 {
        probe
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
            .unwrap()
    };
    checkpoint("TRUNCATE");
    append(counted);
    checkpoint("PASSIVE") as f64 / counted as f64
}

/// One append of `events` to `case` at `expected`, with `row` as its index row or without.
fn write<S: Store>(
    store: &S,
    case: &str,
    expected: u64,
    events: &[planck::audit::StoredEvent],
    row: &IndexRow,
    with_index: bool,
) {
    let append = Append::new(case, expected, events);
    let append = if with_index {
        append.with_index(Some(row))
    } else {
        append
    };
    store.append(&append).unwrap();
}

/// A bench group at the benches' durability ([`options`]) and at the store's default
/// (`synchronous = FULL`, group `…_full`): the group's name, its file's name and the options.
fn durabilities(group: &str, file: &str) -> [(String, String, SqliteOptions); 2] {
    [
        (group.to_string(), format!("{file}.db"), options()),
        (
            format!("{group}_full"),
            format!("{file}-full.db"),
            SqliteOptions::default(),
        ),
    ]
}

/// Print the pages per append a with/without run wrote.
fn print_frames(what: &str, frames: f64, with_index: bool) {
    let with = if with_index { "with" } else { "without" };
    eprintln!("{what}: {frames:.1} WAL frames (pages) per append {with} its index row");
}

/// The bench of a with/without pair.
fn bench_name(with_index: bool) -> &'static str {
    if with_index {
        "with_index"
    } else {
        "without_index"
    }
}

/// The cases of a built database that one more move can be appended to: every claimed Job,
/// with its version and index row.
struct Targets {
    cases: Vec<(String, u64, planck::host::CaseIndex)>,
    next: usize,
    /// The last activity the next append gives its row (past every row in the database).
    clock: i64,
}

impl Targets {
    fn of(store: &SqliteStore, path: &Path) -> Targets {
        let probe = rusqlite::Connection::open(path).unwrap();
        let mut stmt = probe
            .prepare("SELECT case_id FROM case_index WHERE job = 'claimed' ORDER BY case_id")
            .unwrap();
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let clock: i64 = probe
            .query_row("SELECT MAX(last_activity) FROM case_index", [], |r| {
                r.get(0)
            })
            .unwrap();
        let cases = ids
            .into_iter()
            .map(|id| {
                let Some(IndexRow::Case(row)) = store.index_row(&id).unwrap() else {
                    panic!("no index row for {id}")
                };
                (id, row.version, row)
            })
            .collect();
        Targets {
            cases,
            next: 0,
            clock,
        }
    }

    /// The next claimed case's move: `moved` (a real move's events) renumbered onto it, its
    /// expected version, and its row after the move (new version, phase and last activity).
    fn next(
        &mut self,
        moved: &[planck::audit::StoredEvent],
        after: &planck::host::CaseIndex,
    ) -> (String, u64, Vec<planck::audit::StoredEvent>, IndexRow) {
        let slot = self.next % self.cases.len();
        self.next += 1;
        self.clock += 1;
        let (case, version, row) = &mut self.cases[slot];
        let expected = *version;
        let events: Vec<_> = moved
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut e = e.clone();
                e.case_id = case.clone();
                e.seq = expected + 1 + i as u64;
                e.event_id = format!("{case}:moved:{}", e.seq);
                e
            })
            .collect();
        *version += events.len() as u64;
        row.version = *version;
        row.phase = after.phase.clone();
        row.stage = after.stage.clone();
        row.last_activity = self.clock;
        (case.clone(), expected, events, IndexRow::Case(row.clone()))
    }
}

/// A real move, made by `engine`: the history of a claimed Job's case whose ServiceEvent is
/// on site (t-0), the events of its next `advance` (under way; t-1, one move further) and the
/// index row after that move.
fn real_move(
    engine: &Db,
) -> (
    Vec<planck::audit::StoredEvent>,
    Vec<planck::audit::StoredEvent>,
    planck::host::CaseIndex,
) {
    drive(engine, "event-coordination", "t-0", 5);
    drive(engine, "event-coordination", "t-1", 6);
    let on_site = engine.history("t-0").unwrap();
    let moved = engine.history("t-1").unwrap()[on_site.len()..].to_vec();
    let Some(IndexRow::Case(after)) = engine.store().index_row("t-1").unwrap() else {
        panic!("no index row")
    };
    (on_site, moved, after)
}

/// One append in the middle of a lifecycle, with and without its index row, on a copy of the
/// database of 10⁵ cases (10⁴ when `PLANCK_BENCH_MAX_CASES` is lower): a claimed Job's
/// ServiceEvent moves on (the events of a real `advance`, renumbered onto each claimed case in
/// turn), its row's version, phase and last activity change, nothing else. Most appends of a
/// lifecycle are like this one, and in a database this size the row's old index entries and
/// the new ones are on different pages. `queries/move` on `synchronous = NORMAL`,
/// `queries/move_full` on `FULL`; the pages are counted once, on a third copy.
fn append_move(c: &mut Criterion) {
    let n = if max_cases() >= 100_000 {
        100_000
    } else {
        10_000
    };
    let dir = tempfile::tempdir().unwrap();
    // A real move and the row after it: t-0 is on site, t-1 one move further (under way).
    let (_, moved, after) = real_move(&engine(&dir.path().join("template.db")));
    let copy = |name: &str, options: SqliteOptions| {
        let path = dir.path().join(name);
        std::fs::copy(database(n), &path).unwrap();
        let store = SqliteStore::open_with(&path, options).unwrap();
        let targets = Targets::of(&store, &path);
        (path, store, targets)
    };
    {
        let (path, store, mut targets) = copy("move-frames.db", options());
        for with_index in [false, true] {
            let frames = wal_frames(&path, 40, |count| {
                for _ in 0..count {
                    let (case, expected, events, row) = targets.next(&moved, &after);
                    write(&store, &case, expected, &events, &row, with_index);
                }
            });
            print_frames(&format!("queries/move ({n} cases)"), frames, with_index);
        }
    }
    for (group_name, file, options) in durabilities("queries/move", "move") {
        let (_path, store, mut targets) = copy(&file, options);
        let mut group = c.benchmark_group(group_name);
        for with_index in [false, true] {
            let name = bench_name(with_index);
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let prepared: Vec<_> =
                        (0..iters).map(|_| targets.next(&moved, &after)).collect();
                    let start = Instant::now();
                    for (case, expected, events, row) in &prepared {
                        write(&store, case, *expected, events, row, with_index);
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
}

/// The floor of an index maintained in the append, on raw rusqlite: one append's events (real
/// rows: a submission, or a real `advance` renumbered onto a case), written the way
/// `SqliteStore` writes them (one `BEGIN IMMEDIATE` … `COMMIT`, the version check and the feed's
/// last position read first, cached statements, the store's pragmas) into planck's exact
/// `events` table and its indexes, in three variants timed in one run:
/// - `events_only`: the events' rows alone;
/// - `plus_one_row`: the same and, in the same transaction, the cheapest index conceivable: an
///   upsert of `case_head (case_id, last_activity)`, a `WITHOUT ROWID` table of one short row
///   per case;
/// - `plus_row_and_order`: the same row in a table that also has `case_head_order
///   (last_activity, case_id)`, the least a "newest activity first" list needs.
///
/// Two shapes, as in `queries/append` and `queries/move`: `new_case/…` (a new case's
/// submission into a fresh file: the row is inserted) and `move/…` (the events of a real
/// `advance` appended to one of [`FLOOR_CASES`] cases chosen pseudo-randomly, on a file filled
/// with SQL with each case's real history up to that move: the row is updated, and its old
/// `case_head_order` entry is on another page than its new one). `queries/floor` on
/// `synchronous = NORMAL`, `queries/floor_full` on `FULL`; the WAL frames per append are counted
/// first (they do not depend on the durability). The three variants share one file per shape:
/// each writes the same `events` table, and `case_head` and `case_head_ordered` are each
/// written by their variant only, so a variant's extra cost is its own table's pages.
fn floor(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let template = engine(&dir.path().join("template.db"));
    let (on_site, moved, _) = real_move(&template);
    drive(&template, "event-coordination", "t-2", 0);
    let submission = template.history("t-2").unwrap();
    let mut shapes = [
        floor::Shape::new_cases(&dir.path().join("floor-new.db"), &submission),
        floor::Shape::moves(
            &dir.path().join("floor-move.db"),
            &on_site,
            &moved,
            FLOOR_CASES,
        ),
    ];
    for shape in &mut shapes {
        for variant in floor::VARIANTS {
            let path = shape.path.clone();
            let frames = wal_frames(&path, 40, |n| {
                for _ in 0..n {
                    let append = shape.next();
                    shape.write(&append, variant);
                }
            });
            eprintln!(
                "queries/floor/{}/{}: {frames:.1} WAL frames (pages) per append ({} event rows)",
                shape.name,
                variant.name(),
                shape.rows.len()
            );
        }
    }
    for (group_name, synchronous) in [("queries/floor", "NORMAL"), ("queries/floor_full", "FULL")] {
        let mut group = c.benchmark_group(group_name);
        for shape in &mut shapes {
            shape.synchronous(synchronous);
            for variant in floor::VARIANTS {
                let name = format!("{}/{}", shape.name, variant.name());
                group.bench_function(name, |b| {
                    b.iter_custom(|iters| {
                        let prepared: Vec<_> = (0..iters).map(|_| shape.next()).collect();
                        let start = Instant::now();
                        for append in &prepared {
                            shape.write(append, variant);
                        }
                        start.elapsed()
                    })
                });
            }
        }
        group.finish();
    }
}

/// Cases in the file of `queries/floor`'s moves.
const FLOOR_CASES: u64 = 100_000;

/// Raw rusqlite appends with planck's `events` schema, for [`floor`].
mod floor {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use planck::audit::StoredEvent;
    use rusqlite::config::DbConfig;
    use rusqlite::{Connection, params};

    use super::{MINUTE, support::NOW};

    /// The two tables of the index variants (beside `support::EVENTS_SCHEMA`).
    const HEADS: &str = "
CREATE TABLE case_head (case_id TEXT PRIMARY KEY, last_activity INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE case_head_ordered (case_id TEXT PRIMARY KEY, last_activity INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX case_head_order ON case_head_ordered (last_activity, case_id);";

    /// What one append writes besides the events.
    #[derive(Clone, Copy)]
    pub enum Variant {
        /// The events' rows alone.
        EventsOnly,
        /// And the case's `case_head` row.
        PlusOneRow,
        /// And the case's `case_head_ordered` row, in `case_head_order` too.
        PlusRowAndOrder,
    }

    /// The variants, in the order they are timed.
    pub const VARIANTS: [Variant; 3] = [
        Variant::EventsOnly,
        Variant::PlusOneRow,
        Variant::PlusRowAndOrder,
    ];

    impl Variant {
        /// The bench's name.
        pub fn name(self) -> &'static str {
            match self {
                Variant::EventsOnly => "events_only",
                Variant::PlusOneRow => "plus_one_row",
                Variant::PlusRowAndOrder => "plus_row_and_order",
            }
        }

        /// The upsert of the case's row, if the variant has one.
        fn upsert(self) -> Option<&'static str> {
            match self {
                Variant::EventsOnly => None,
                Variant::PlusOneRow => Some(
                    "INSERT INTO case_head (case_id, last_activity) VALUES (?1, ?2)
                     ON CONFLICT(case_id) DO UPDATE SET last_activity = excluded.last_activity",
                ),
                Variant::PlusRowAndOrder => Some(
                    "INSERT INTO case_head_ordered (case_id, last_activity) VALUES (?1, ?2)
                     ON CONFLICT(case_id) DO UPDATE SET last_activity = excluded.last_activity",
                ),
            }
        }
    }

    use super::support::{EVENTS_INSERT, EVENTS_SCHEMA, EventRow as Row};

    fn rows(events: &[StoredEvent]) -> Vec<Row> {
        events.iter().cloned().map(Row::of).collect()
    }

    /// One append to make: the case, its version before it (the events take the next
    /// sequence numbers), the events' ids and the row's new last activity.
    pub struct Pending {
        case: String,
        expected: i64,
        event_ids: Vec<String>,
        last_activity: i64,
    }

    /// A file and the appends of one shape.
    pub struct Shape {
        pub name: &'static str,
        pub path: PathBuf,
        conn: Connection,
        /// The events of every append, renumbered onto its case.
        pub rows: Vec<Row>,
        /// Moves: each case's version (cases `m-1` … `m-n`). New cases: empty.
        versions: Vec<i64>,
        /// New cases: the last case made (`n-<k>`).
        made: u64,
        /// A fixed-seed xorshift64 generator choosing the case of each move.
        random: u64,
        /// The last activity the next append gives its row (past every row in the file).
        clock: i64,
    }

    /// A connection as `SqliteStore` opens one: WAL, secure delete, query plans kept.
    fn open(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .unwrap();
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .unwrap();
        assert!(mode.eq_ignore_ascii_case("wal"));
        conn.pragma_update(None, "secure_delete", "ON").unwrap();
        conn
    }

    impl Shape {
        /// A fresh file whose every append is the submission `events` of a new case.
        pub fn new_cases(path: &Path, events: &[StoredEvent]) -> Shape {
            let conn = open(path);
            conn.execute_batch(EVENTS_SCHEMA).unwrap();
            conn.execute_batch(HEADS).unwrap();
            Shape {
                name: "new_case",
                path: path.to_path_buf(),
                conn,
                rows: rows(events),
                versions: Vec::new(),
                made: 0,
                random: 0,
                clock: NOW,
            }
        }

        /// A file of `cases` cases, each with the events of `history` (renamed `m-<k>`, fed
        /// in case order), and a row in both `case_head` tables; every append is the events
        /// of `moved` appended to one of them. Built with SQL in one transaction.
        pub fn moves(
            path: &Path,
            history: &[StoredEvent],
            moved: &[StoredEvent],
            cases: u64,
        ) -> Shape {
            let start = Instant::now();
            let conn = open(path);
            conn.pragma_update(None, "synchronous", "OFF").unwrap();
            conn.execute_batch(EVENTS_SCHEMA).unwrap();
            conn.execute_batch(HEADS).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            // The history, once, as a template to copy under every case's name.
            conn.execute_batch("CREATE TEMP TABLE tmpl AS SELECT * FROM events WHERE 0")
                .unwrap();
            let per_case = history.len() as i64;
            {
                let mut into_template = conn
                    .prepare(&EVENTS_INSERT.replace("INTO events", "INTO temp.tmpl"))
                    .unwrap();
                for (r, position) in rows(history).iter().zip(1..) {
                    r.insert_as_is(&mut into_template, position);
                }
            }
            conn.execute(
                "INSERT INTO events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id,
                     seq, actor, surface, surface_fingerprint, idempotency_key, payload,
                     prev_digest, digest, position, host_ts_ms)
                 WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?1)
                 SELECT 'm-' || n || ':' || t.seq, t.event_type, t.schema_version, t.ts_utc,
                     t.ts_ms, 'm-' || n, t.seq, t.actor, t.surface, t.surface_fingerprint,
                     t.idempotency_key, t.payload, t.prev_digest, t.digest,
                     (n - 1) * ?2 + t.position, t.host_ts_ms
                 FROM k, temp.tmpl t ORDER BY n, t.seq",
                params![cases as i64, per_case],
            )
            .unwrap();
            // Each case's last activity: its last event's feed position, in minutes after NOW.
            for table in ["case_head", "case_head_ordered"] {
                conn.execute(
                    &format!(
                        "INSERT INTO {table} (case_id, last_activity)
                         SELECT case_id, ?1 + ?2 * (position + ?3) FROM events WHERE seq = 1"
                    ),
                    params![NOW, MINUTE, per_case - 1],
                )
                .unwrap();
            }
            conn.execute_batch("DROP TABLE temp.tmpl; COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
            eprintln!(
                "queries/floor: built {} ({cases} cases, {} events) in {:.1} s",
                path.display(),
                cases as i64 * per_case,
                start.elapsed().as_secs_f64()
            );
            Shape {
                name: "move",
                path: path.to_path_buf(),
                conn,
                rows: rows(moved),
                versions: vec![per_case; usize::try_from(cases).unwrap()],
                made: 0,
                random: 0x9E37_79B9_7F4A_7C15,
                clock: NOW + MINUTE * (cases as i64 * per_case + 1),
            }
        }

        /// Set `synchronous` on the writer's connection.
        pub fn synchronous(&self, synchronous: &str) {
            self.conn
                .pragma_update(None, "synchronous", synchronous)
                .unwrap();
        }

        /// The next append: a new case, or the next move of a case chosen pseudo-randomly.
        pub fn next(&mut self) -> Pending {
            self.clock += MINUTE;
            let (case, expected) = if self.versions.is_empty() {
                self.made += 1;
                (format!("n-{}", self.made), 0)
            } else {
                // xorshift64: the same sequence of cases in every run.
                self.random ^= self.random << 13;
                self.random ^= self.random >> 7;
                self.random ^= self.random << 17;
                let slot = usize::try_from(self.random % self.versions.len() as u64).unwrap();
                let expected = self.versions[slot];
                self.versions[slot] += self.rows.len() as i64;
                (format!("m-{}", slot + 1), expected)
            };
            let event_ids = (1..=self.rows.len() as i64)
                .map(|i| format!("{case}:{}", expected + i))
                .collect();
            Pending {
                case,
                expected,
                event_ids,
                last_activity: self.clock,
            }
        }

        /// Make `append` in one transaction: the version check, the feed's last position,
        /// the events, and the variant's row.
        pub fn write(&self, append: &Pending, variant: Variant) {
            let conn = &self.conn;
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let version: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE case_id = ?1")
                .unwrap()
                .query_row([&append.case], |r| r.get(0))
                .unwrap();
            assert_eq!(version, append.expected, "{}", append.case);
            let mut position: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")
                .unwrap()
                .query_row([], |r| r.get(0))
                .unwrap();
            let mut insert = conn.prepare_cached(EVENTS_INSERT).unwrap();
            for ((r, event_id), seq) in self.rows.iter().zip(&append.event_ids).zip(1..) {
                position += 1;
                r.insert(
                    &mut insert,
                    event_id,
                    &append.case,
                    append.expected + seq,
                    position,
                );
            }
            if let Some(upsert) = variant.upsert() {
                conn.prepare_cached(upsert)
                    .unwrap()
                    .execute(params![append.case, append.last_activity])
                    .unwrap();
            }
            conn.execute_batch("COMMIT").unwrap();
        }
    }
}

/// `tick` with 10 cases due among `idle` idle ones.
fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("queries/tick");
    for idle in [1_000u64, 100_000] {
        if idle > max_cases() {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tick.db");
        std::fs::copy(database(idle), &path).unwrap();
        let engine = engine(&path);
        let mut round = 0u64;
        group.bench_with_input(BenchmarkId::new("idle_plus_10_due", idle), &idle, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    engine.clock().set(NOW);
                    for i in 0..10 {
                        drive(&engine, "ec-escalating", &format!("due-{round}-{i}"), 3);
                    }
                    engine.clock().set(NOW + 3 * 3_600_000);
                    let start = Instant::now();
                    let raised = engine.tick().unwrap();
                    spent += start.elapsed();
                    assert!(!raised.is_empty());
                }
                spent
            })
        });
    }
    group.finish();
}

/// The same desk, queue and list on `PostgresStore`, at 10³ and 10⁵ cases, when
/// `PLANCK_PG_URL` names a server (`eval "$(bash scripts/ci_postgres.sh start)"`).
#[cfg(feature = "postgres")]
fn queries_postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("PLANCK_PG_URL") else {
        eprintln!("queries/postgres: SKIPPED (PLANCK_PG_URL is not set)");
        return;
    };
    for n in [1_000u64, 100_000]
        .into_iter()
        .filter(|n| *n <= max_cases())
    {
        let engine = pg::engine(&url, &pg::database(&url, n));
        desk_queue_list(c, "queries/postgres", &engine, n);
    }
}

#[cfg(not(feature = "postgres"))]
fn queries_postgres(_: &mut Criterion) {
    eprintln!("queries/postgres: SKIPPED (built without the `postgres` feature)");
}

/// The PostgreSQL databases: the same 13 cases made through the engine, and the same copies
/// of the 10 Jobs made with SQL (`generate_series`), in a schema `bench_queries_<n>` kept on
/// the server between runs (dropped and rebuilt when its size is wrong).
#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use planck::host::{PostgresOptions, PostgresStore};
    use postgres::{Client, NoTls};

    pub type PgDb = Engine<PostgresStore, NullTransport, ManualClock>;

    pub fn engine(url: &str, schema: &str) -> PgDb {
        let store = PostgresStore::connect_with(
            url,
            PostgresOptions {
                schema: schema.to_string(),
                ..PostgresOptions::default()
            },
        )
        .unwrap();
        Engine::new(registry(), store, NullTransport, ManualClock::new(NOW))
    }

    pub fn database(url: &str, n: u64) -> String {
        let s = format!("bench_queries_{n}");
        let mut client = Client::connect(url, NoTls).unwrap();
        let built: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables
                  WHERE table_schema = $1 AND table_name = 'planck_case_index'",
                &[&s],
            )
            .unwrap()
            .get(0);
        if built == 1 {
            let rows: i64 = client
                .query_one(&format!("SELECT count(*) FROM {s}.planck_case_index"), &[])
                .unwrap()
                .get(0);
            if u64::try_from(rows).unwrap() == n + 3 {
                return s;
            }
        }
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
            .unwrap();
        let start = Instant::now();
        let engine = engine(url, &s);
        for (case, steps) in [("queue-1", 0), ("queue-2", 1), ("queue-3", 2)] {
            drive(&engine, "event-coordination", case, steps);
        }
        for (i, steps) in [3, 3, 4, 4, 5, 5, 6, 7, 7, 7].into_iter().enumerate() {
            drive(&engine, "event-coordination", &format!("job-{i}"), steps);
        }
        // Every event of the 13 cases gets its feed position before the copies follow them.
        engine.store().sequence().unwrap();
        let copies = i64::try_from(n / JOBS).unwrap();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE tmpl ON COMMIT DROP AS
                 SELECT e.*, row_number() OVER (ORDER BY position) AS rn
                   FROM {s}.planck_events e WHERE case_id LIKE 'job-%';
             CREATE TEMP TABLE base ON COMMIT DROP AS
                 SELECT (SELECT max(position) FROM {s}.planck_events) AS top,
                        (SELECT count(*) FROM tmpl) AS per_copy;
             INSERT INTO {s}.planck_cases (case_id, version)
                 SELECT c.case_id || '-' || k, c.version
                   FROM {s}.planck_cases c, generate_series(1, {last}) AS k
                  WHERE c.case_id LIKE 'job-%' ORDER BY k, c.created;
             INSERT INTO {s}.planck_events (case_id, seq, event_id, event_type, schema_version,
                     ts_utc, ts_ms, actor, surface, surface_fingerprint, idempotency_key, payload,
                     prev_digest, digest, host_ts_ms, position, tx)
                 SELECT t.case_id || '-' || k, t.seq, t.case_id || '-' || k || ':' || t.seq,
                        t.event_type, t.schema_version, t.ts_utc, t.ts_ms,
                        replace(t.actor, '\"op-lee\"', '\"op-' || k || '\"'), t.surface,
                        t.surface_fingerprint, t.idempotency_key,
                        replace(t.payload, '\"op-lee\"', '\"op-' || k || '\"'), t.prev_digest,
                        t.digest, t.host_ts_ms, b.top + (k - 1) * b.per_copy + t.rn, '0'::xid8
                   FROM tmpl t, base b, generate_series(1, {last}) AS k;
             INSERT INTO {s}.planck_case_index (case_id, created, version, surface,
                     surface_version, task, assignee, job, owner, phase, stage, service_event,
                     pending_approval, queue, claim_open, completed_visible, created_at,
                     last_activity, next_due_at)
                 SELECT c.case_id, c.created, i.version, i.surface, i.surface_version, i.task,
                        replace(i.assignee, 'op-lee', 'op-' || k), i.job,
                        replace(i.owner, 'op-lee', 'op-' || k), i.phase, i.stage, i.service_event,
                        i.pending_approval, i.queue, i.claim_open, i.completed_visible,
                        i.created_at, i.last_activity, i.next_due_at
                   FROM {s}.planck_case_index i CROSS JOIN generate_series(1, {last}) AS k
                   -- A join, not a lookup per row: the index's case ids are `COLLATE \"C\"`,
                   -- the cases' are not, so a correlated lookup cannot use the cases' key.
                   JOIN {s}.planck_cases c ON c.case_id = (i.case_id || '-' || k) COLLATE \"default\"
                  WHERE i.case_id LIKE 'job-%';",
            last = copies - 1,
        ))
        .unwrap();
        tx.commit().unwrap();
        client
            .batch_execute(&format!(
                "ANALYZE {s}.planck_case_index; ANALYZE {s}.planck_events;"
            ))
            .unwrap();
        eprintln!(
            "built PostgreSQL schema {s} ({} cases) in {:.1} s",
            n + 3,
            start.elapsed().as_secs_f64()
        );
        s
    }
}

criterion_group!(
    benches,
    queries,
    queries_postgres,
    append,
    append_move,
    floor,
    tick
);
criterion_main!(benches);

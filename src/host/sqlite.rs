//! [`SqliteStore`]: the embedded, durable [`Store`] (SQLite is bundled: nothing to install).
//!
//! One database file holds these tables: `events` (one row per envelope: the envelope fields
//! as columns, the actor and the payload as JSON text, primary key `(case_id, seq)`, and the
//! event's global `position`), `idempotency` (one row per key), `outbox` (one row per signal,
//! primary key the signal id, with a `delivered` flag), `case_index` and `operator_index`
//! (one index row per stream, docs/queries.md) and `planck_meta` (the index state). The schema version is kept in `PRAGMA user_version`.
//! The database runs in WAL mode; every append is one `BEGIN IMMEDIATE` transaction that checks
//! the case's version and the idempotency key, then writes events, key, outbox rows and the
//! index row, so several processes may share one file. `PRIMARY KEY (case_id, seq)` backs the
//! version check.
//!
//! **The feed.** The writer is serialized (`BEGIN IMMEDIATE`), so each append numbers its
//! events inside its transaction from the greatest position stored (`MAX(position)`, one seek
//! down the unique index `events_position`; events are never deleted, so no position is given
//! twice, and unlike `rowid` nothing else moves it): positions are given in commit order,
//! without holes, and a reader (which sees only committed transactions) never finds a new
//! event below one it saw. (Version 2 kept the last position in a counter row, one more page
//! for every append to write.)
//!
//! **Migration.** A version 1 database (before the index and the feed) is upgraded when it is
//! opened: its events get positions in `rowid` order (the order they were committed in), the
//! index tables are created empty, and the index state is `needs_rebuild` when it holds any
//! event (queries then fail with [`StoreError::IndexNotReady`] until `planck reindex`, which
//! has the surfaces, writes every row). A version 2 database loses the SQL indexes version 3
//! does without and its position counter; its index rows stay as they are. A database of a
//! newer version is refused, so an older build never writes to a file it does not understand.
//!
//! This is the only module (with other adapters under `host/`) that touches SQLite. It never
//! interprets events beyond decoding them.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use crate::host::index::{
    CaseFilter, CaseIndex, DeskRows, FeedEntry, IndexRow, IndexState, ListCursor,
    OPERATOR_STREAM_PREFIX, OperatorIndex, QueueNeed,
};
use crate::host::index_sql::{CASE_COLUMNS, CaseColumns, OperatorColumns};
use crate::host::sqlite_list;
use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
    check_append,
};
use crate::spine::{JobState, Millis, ServiceEventState, TaskState};

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

/// The schema version this build writes and reads (`PRAGMA user_version`). Versions 1 (no
/// feed positions, no index) and 2 (more SQL indexes, a position counter) are upgraded on open.
pub const SCHEMA_VERSION: i64 = 3;

/// The tables version 2 added to version 1.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS planck_meta (
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_index (
    case_id           TEXT    PRIMARY KEY,
    created           INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    surface           TEXT    NOT NULL,
    surface_version   INTEGER NOT NULL,
    task              TEXT,
    assignee          TEXT,
    job               TEXT,
    owner             TEXT,
    phase             TEXT,
    stage             TEXT,
    service_event     TEXT,
    pending_approval  TEXT,
    queue             TEXT,
    claim_open        INTEGER NOT NULL,
    completed_visible INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    last_activity     INTEGER NOT NULL,
    next_due_at       INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS operator_index (
    operator TEXT    PRIMARY KEY,
    version  INTEGER NOT NULL,
    status   TEXT    NOT NULL,
    surfaces TEXT    NOT NULL
) WITHOUT ROWID;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    case_id             TEXT    NOT NULL,
    seq                 INTEGER NOT NULL,
    event_id            TEXT    NOT NULL UNIQUE,
    event_type          TEXT    NOT NULL,
    schema_version      INTEGER NOT NULL,
    ts_utc              TEXT    NOT NULL,
    ts_ms               INTEGER NOT NULL,
    actor               TEXT    NOT NULL,
    surface             TEXT    NOT NULL,
    surface_fingerprint TEXT    NOT NULL,
    idempotency_key     TEXT,
    payload             TEXT    NOT NULL,
    prev_digest         TEXT    NOT NULL,
    digest              TEXT    NOT NULL,
    position            INTEGER,
    host_ts_ms          INTEGER,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id           TEXT    PRIMARY KEY,
    case_id      TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    event_digest TEXT    NOT NULL,
    delivered    INTEGER NOT NULL DEFAULT 0
);
";

/// Indexes and tables added later, (re)created on every open so that older files of the same
/// schema version get them. `case_keys`: keys for sealed personal data, outside the events.
const INDEXES: &str = "
CREATE TABLE IF NOT EXISTS case_keys (
    case_id TEXT PRIMARY KEY,
    key     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_case_starts ON events (seq) WHERE seq = 1;
CREATE UNIQUE INDEX IF NOT EXISTS events_position ON events (position);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered) WHERE delivered = 0;
CREATE INDEX IF NOT EXISTS case_index_assigned ON case_index (assignee, job, created) WHERE assignee IS NOT NULL;
CREATE INDEX IF NOT EXISTS case_index_owned ON case_index (owner, job, created) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS case_index_open ON case_index (created) WHERE job = 'queued' AND claim_open = 1;
CREATE INDEX IF NOT EXISTS case_index_queue ON case_index (created) WHERE queue IS NOT NULL;
CREATE INDEX IF NOT EXISTS case_index_due ON case_index (next_due_at, case_id) WHERE next_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS case_index_list ON case_index (surface, job, last_activity, case_id);
CREATE INDEX IF NOT EXISTS outbox_case ON outbox (case_id);
CREATE INDEX IF NOT EXISTS idempotency_case ON idempotency (case_id);
";

/// Version 1 → 2: positions for every event in commit (`rowid`) order, the new tables, the
/// counter, and the index state (`needs_rebuild` when there are events to index).
const MIGRATE_V1: &str = "
ALTER TABLE events ADD COLUMN position INTEGER;
UPDATE events SET position = n.p
  FROM (SELECT rowid AS r, ROW_NUMBER() OVER (ORDER BY rowid) AS p FROM events) AS n
 WHERE n.r = events.rowid;
";

/// Version 2 → 3: the index's SQL indexes that every append paid for and that version 3 does
/// without (the desk's indexes now hold only cases with an assignee or an owner, and one index
/// orders cases by activity: [`INDEXES`]), and the feed counter, now read off
/// `events_position`.
const MIGRATE_V2: &str = "
DROP INDEX IF EXISTS case_index_assignee;
DROP INDEX IF EXISTS case_index_owner;
DROP INDEX IF EXISTS case_index_job;
DROP INDEX IF EXISTS case_index_activity;
DROP INDEX IF EXISTS case_index_surface;
DELETE FROM planck_meta WHERE key = 'last_position';
";

/// The columns of an event, in the order [`event_row`] reads them (from `offset`).
const EVENT_COLUMNS: &str =
    "event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor, surface,
    surface_fingerprint, idempotency_key, payload, prev_digest, digest, host_ts_ms";

/// How hard SQLite works to make a commit survive a power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous = FULL`: a committed append survives a power loss. The default.
    #[default]
    Full,
    /// `synchronous = NORMAL`: in WAL mode the database stays consistent, but the last
    /// appends before a power loss (not a process crash) may be lost. Faster.
    Normal,
}

/// How to open a [`SqliteStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability of each commit.
    pub synchronous: Synchronous,
    /// How long a writer waits for another connection's transaction before failing.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A store in one SQLite database file (or in memory).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

fn backend(message: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |err| StoreError::backend(message, err)
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Open (creating if needed) the database at `path`.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::backend(format!("opening `{}`", path.display()), e))?;
        SqliteStore::init(conn, options, Some(path.to_path_buf()))
    }

    /// A fresh database in memory (gone when the store is dropped).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn =
            Connection::open_in_memory().map_err(backend("opening an in-memory database"))?;
        SqliteStore::init(conn, SqliteOptions::default(), None)
    }

    /// The database file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn init(
        conn: Connection,
        options: SqliteOptions,
        path: Option<PathBuf>,
    ) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(options.busy_timeout)
            .map_err(backend("setting the busy timeout"))?;
        // Room for the statements of every query and for the few shapes of a row's update
        // (one per set of changed columns: see `PreparedRow::write`).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // The bundled SQLite is built with STAT4, whose planner may pick a plan by the values
        // bound: a cached statement that compares a bound value with the prefix of an index
        // (`WHERE case_id = ?1` on the events' key, an operator on the desk's indexes) was
        // parsed and planned again on every execution with a new value, ~11 % of an append's
        // time. planck never runs `ANALYZE`, so there is nothing to plan by: keep each plan.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(backend("keeping query plans"))?;
        if path.is_some() {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(backend("switching to WAL"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::backend(
                    "switching to WAL",
                    format!("the database stayed in `{mode}` journal mode"),
                ));
            }
        }
        let sync = match options.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(backend("setting `synchronous`"))?;
        // Deleted content is overwritten with zeros, so an erased case key leaves no copy in
        // the file's free pages (the WAL is checkpointed after an erasure: see `append`).
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(backend("setting `secure_delete`"))?;
        migrate(&conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// Outbox rows selected by `sql` with one parameter, decoded.
    fn signals(
        &self,
        sql: &str,
        param: impl rusqlite::ToSql,
    ) -> Result<Vec<StoredSignal>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(sql)
            .map_err(backend("reading the outbox"))?;
        let rows = stmt
            .query_map([param], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(backend("reading the outbox"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, case_id, kind, at, payload, event_id, event_digest) =
                row.map_err(backend("reading the outbox"))?;
            let payload = serde_json::from_str(&payload).map_err(|e| {
                StoreError::corrupt(
                    id.clone(),
                    "the signal payload does not decode",
                    Some(Box::new(e)),
                )
            })?;
            out.push(StoredSignal {
                id,
                case_id,
                kind,
                at,
                payload,
                event_id,
                event_digest,
            });
        }
        Ok(out)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a transaction drops (and so rolls back) it: the connection is sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    // Read the version inside the write transaction, so that two processes opening one old
    // file at once migrate it once.
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(backend("opening the database"))?;
    let result = migrate_in_transaction(conn);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn
        .execute_batch(end)
        .map_err(backend("migrating the schema"));
    result.and(ended)?;
    conn.execute_batch(INDEXES)
        .map_err(backend("creating indexes"))
}

fn migrate_in_transaction(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(backend("reading the schema version"))?;
    let meta = |state: &str| {
        format!("INSERT OR IGNORE INTO planck_meta (key, value) VALUES ('index_state', '{state}');")
    };
    let migrated = match version {
        0 => conn
            .execute_batch(&format!(
                "{SCHEMA} {SCHEMA_V2} {} PRAGMA user_version = {SCHEMA_VERSION};",
                meta("ready")
            ))
            .map_err(backend("creating the schema")),
        1 => {
            let has_events: bool = conn
                .query_row("SELECT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))
                .map_err(backend("migrating the schema"))?;
            let state = if has_events { "needs_rebuild" } else { "ready" };
            conn.execute_batch(&format!(
                "{MIGRATE_V1} {SCHEMA_V2} {} PRAGMA user_version = {SCHEMA_VERSION};",
                meta(state)
            ))
            .map_err(backend("migrating the schema from version 1"))
        }
        2 => conn
            .execute_batch(&format!(
                "{MIGRATE_V2} PRAGMA user_version = {SCHEMA_VERSION};"
            ))
            .map_err(backend("migrating the schema from version 2")),
        SCHEMA_VERSION => Ok(()),
        newer => Err(StoreError::backend(
            "opening the database",
            format!(
                "its schema version is {newer}; this build of planck reads version {SCHEMA_VERSION}"
            ),
        )),
    };
    migrated?;
    add_columns(conn)
}

/// Columns added after schema version 1, added to older files on open (nullable, so every
/// row written before reads back as it was written): `events.host_ts_ms`.
fn add_columns(conn: &Connection) -> Result<(), StoreError> {
    let present = conn
        .prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'host_ts_ms'")
        .and_then(|mut stmt| stmt.query_row([], |_| Ok(())).optional())
        .map_err(backend("reading the schema"))?;
    if present.is_none() {
        conn.execute_batch("ALTER TABLE events ADD COLUMN host_ts_ms INTEGER")
            .map_err(backend("adding `events.host_ts_ms`"))?;
    }
    Ok(())
}

fn to_i64(case: &str, what: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid {
        case: case.to_string(),
        message: format!("{what} {n} is too large to store"),
    })
}

fn is_constraint(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn json<T: serde::Serialize>(case: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        case: case.to_string(),
        message: format!("does not serialize: {e}"),
    })
}

/// One append with every row already serialized, ready to be written inside a transaction.
/// [`SqliteStore::append`] writes one in its own transaction; the group-commit store
/// ([`crate::host::GroupCommitSqliteStore`]) writes several in one.
#[derive(Debug)]
pub(crate) struct PreparedAppend<'a> {
    case: Cow<'a, str>,
    expected_version: u64,
    expected: i64,
    rows: Vec<(Cow<'a, StoredEvent>, i64, String, String)>,
    idempotency: Option<Cow<'a, IdempotencyRecord>>,
    signals: Vec<(Cow<'a, StoredSignal>, String)>,
    index: Option<PreparedRow<'a>>,
    /// The case's new key for sealed personal data.
    case_key: Option<Cow<'a, [u8]>>,
    /// Whether the append destroys the case's key (an erasure).
    pub(crate) erase_case_key: bool,
}

/// An index row ready to be written (an operator's surfaces already serialized).
#[derive(Debug)]
enum PreparedRow<'a> {
    Case(Cow<'a, CaseIndex>),
    Operator(Cow<'a, OperatorIndex>, String),
}

impl<'a> PreparedRow<'a> {
    fn new(stream: &str, row: &'a IndexRow) -> Result<Self, StoreError> {
        Ok(match row {
            IndexRow::Case(row) => PreparedRow::Case(Cow::Borrowed(row)),
            IndexRow::Operator(row) => {
                PreparedRow::Operator(Cow::Borrowed(row), json(stream, &row.surfaces)?)
            }
        })
    }

    fn into_owned(self) -> PreparedRow<'static> {
        match self {
            PreparedRow::Case(row) => PreparedRow::Case(Cow::Owned(row.into_owned())),
            PreparedRow::Operator(row, surfaces) => {
                PreparedRow::Operator(Cow::Owned(row.into_owned()), surfaces)
            }
        }
    }

    /// Write the row: insert it (the case's `created` is the position of its first event), or
    /// update only the columns whose values changed. SQLite maintains an index on an `UPDATE`
    /// only when the statement sets one of its columns, so a row that names every column
    /// would rewrite an entry in every index on every append; naming only what changed leaves
    /// untouched the indexes of unchanged values (most moves change the version, the phase and
    /// the last activity, nothing a desk or the queue reads). `created` is the position of a new
    /// stream's first event, written in the same transaction: then the row is inserted without
    /// reading first. `None` (a stream with earlier events, or a rebuild) reads the stored row.
    fn write(&self, conn: &Connection, created: Option<i64>) -> Result<(), StoreError> {
        let write = backend("writing the index row");
        match self {
            PreparedRow::Case(row) => {
                let new = case_values(row);
                let case = ToSqlOutput::Borrowed(ValueRef::Text(row.case.as_bytes()));
                let insert = |created: i64| {
                    conn.prepare_cached(&INSERT_CASE_ROW)
                        .and_then(|mut stmt| {
                            stmt.execute(rusqlite::params_from_iter(
                                [case.clone(), ToSqlOutput::Owned(Value::Integer(created))]
                                    .into_iter()
                                    .chain(new.iter().copied().map(ToSqlOutput::Borrowed)),
                            ))
                        })
                        .map(|_| ())
                        .map_err(backend("writing the index row"))
                };
                if let Some(created) = created {
                    // A new stream: its first event was just written at `created`, so there is
                    // no row to compare with (one left behind by a damaged file is replaced).
                    return insert(created);
                }
                // Which columns differ from the stored row, one bit each (none stored: `None`).
                let changed: Option<u32> = conn
                    .prepare_cached(&SELECT_CASE_ROW)
                    .and_then(|mut stmt| {
                        stmt.query_row([row.case.as_str()], |r| {
                            let mut changed = 0u32;
                            // Column 0 is the key.
                            for (i, value) in new.iter().enumerate() {
                                if r.get_ref(i + 1)? != *value {
                                    changed |= 1 << i;
                                }
                            }
                            Ok(changed)
                        })
                        .optional()
                    })
                    .map_err(backend("reading the index row"))?;
                match changed {
                    None => {
                        // No row yet (a rebuild): `created` is the position of the first event.
                        let created: i64 = conn
                            .prepare_cached(
                                "SELECT COALESCE((SELECT position FROM events WHERE case_id = ?1 AND seq = 1), 0)",
                            )
                            .and_then(|mut stmt| stmt.query_row([row.case.as_str()], |r| r.get(0)))
                            .map_err(backend("reading the case's first position"))?;
                        insert(created)?;
                    }
                    Some(0) => {}
                    Some(changed) => {
                        let is_changed = |i: &usize| changed & (1 << i) != 0;
                        let set: Vec<String> = CASE_VALUE_COLUMNS
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| is_changed(i))
                            .enumerate()
                            .map(|(n, (_, column))| format!("{column} = ?{}", n + 2))
                            .collect();
                        conn.prepare_cached(&format!(
                            "UPDATE case_index SET {} WHERE case_id = ?1",
                            set.join(", ")
                        ))
                        .and_then(|mut stmt| {
                            stmt.execute(rusqlite::params_from_iter(
                                std::iter::once(case).chain(
                                    new.into_iter()
                                        .enumerate()
                                        .filter(|(i, _)| is_changed(i))
                                        .map(|(_, value)| ToSqlOutput::Borrowed(value)),
                                ),
                            ))
                        })
                        .map_err(write)?;
                    }
                }
            }
            PreparedRow::Operator(row, surfaces) => {
                conn.prepare_cached(
                    "INSERT INTO operator_index (operator, version, status, surfaces) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (operator) DO UPDATE SET
                        version = excluded.version, status = excluded.status, surfaces = excluded.surfaces",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        row.operator,
                        to_i64(&row.operator, "version", row.version).unwrap_or(i64::MAX),
                        row.status,
                        surfaces
                    ])
                })
                .map_err(write)?;
            }
        }
        Ok(())
    }
}

/// The columns of a `case_index` row that an append writes, in the order of [`case_values`]:
/// [`CASE_COLUMNS`] after the key (`created` is not among them).
static CASE_VALUE_COLUMNS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| CASE_COLUMNS.split(',').map(str::trim).skip(1).collect());

/// How many [`CASE_VALUE_COLUMNS`] there are.
const CASE_VALUES: usize = 17;

/// Read a case's row: [`CASE_COLUMNS`] of `case_id = ?1`.
pub(crate) static SELECT_CASE_ROW: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CASE_COLUMNS} FROM case_index WHERE case_id = ?1"));

/// Insert a case's row (replacing one left behind): `?1` the case, `?2` its `created`
/// position, then [`CASE_VALUE_COLUMNS`] in order.
static INSERT_CASE_ROW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT OR REPLACE INTO case_index (case_id, created, {}) VALUES (?1, ?2, {})",
        CASE_VALUE_COLUMNS.join(", "),
        (3..CASE_VALUE_COLUMNS.len() + 3)
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

/// A case's row as the values of [`CASE_VALUE_COLUMNS`], typed as SQLite stores them (so that
/// a stored row read back compares equal to the row that wrote it), borrowed from the row.
fn case_values(row: &CaseIndex) -> [ValueRef<'_>; CASE_VALUES] {
    fn text(t: Option<&str>) -> ValueRef<'_> {
        t.map_or(ValueRef::Null, |t| ValueRef::Text(t.as_bytes()))
    }
    [
        ValueRef::Integer(i64::try_from(row.version).unwrap_or(i64::MAX)),
        ValueRef::Text(row.surface.as_bytes()),
        ValueRef::Integer(i64::from(row.surface_version)),
        text(row.task.map(TaskState::as_str)),
        text(row.assignee.as_deref()),
        text(row.job.map(JobState::as_str)),
        text(row.owner.as_deref()),
        text(row.phase.as_deref()),
        text(row.stage.as_deref()),
        text(row.service_event.map(ServiceEventState::as_str)),
        text(row.pending_approval.as_deref()),
        text(row.queue.map(QueueNeed::as_str)),
        ValueRef::Integer(i64::from(row.claim_open)),
        ValueRef::Integer(i64::from(row.completed_visible)),
        ValueRef::Integer(row.created_at),
        ValueRef::Integer(row.last_activity),
        row.next_due_at.map_or(ValueRef::Null, ValueRef::Integer),
    ]
}

/// Remove the index row of `stream`.
fn delete_row(conn: &Connection, stream: &str) -> Result<(), StoreError> {
    let result = match stream.strip_prefix(OPERATOR_STREAM_PREFIX) {
        Some(id) => conn
            .prepare_cached("DELETE FROM operator_index WHERE operator = ?1")
            .and_then(|mut s| s.execute([id])),
        None => conn
            .prepare_cached("DELETE FROM case_index WHERE case_id = ?1")
            .and_then(|mut s| s.execute([stream])),
    };
    result.map(|_| ()).map_err(backend("removing an index row"))
}

impl<'a> PreparedAppend<'a> {
    /// Check the append's shape and serialize its rows (no database access).
    pub(crate) fn new(append: &Append<'a>) -> Result<Self, StoreError> {
        check_append(append)?;
        let Append {
            stream: case,
            expected_version,
            events,
            idempotency,
            outbox,
            index: _,
            case_key,
            erase_case_key,
        } = *append;
        let mut rows = Vec::with_capacity(events.len());
        for e in events {
            rows.push((
                Cow::Borrowed(e),
                to_i64(case, "sequence number", e.seq)?,
                json(case, &e.actor)?,
                json(case, &e.payload)?,
            ));
        }
        let mut signals = Vec::with_capacity(outbox.len());
        for s in outbox {
            signals.push((Cow::Borrowed(s), json(case, &s.payload)?));
        }
        to_i64(case, "version", append.new_version())?;
        let index = append
            .index
            .map(|row| PreparedRow::new(case, row))
            .transpose()?;
        Ok(PreparedAppend {
            case: Cow::Borrowed(case),
            expected_version,
            expected: to_i64(case, "version", expected_version)?,
            rows,
            idempotency: idempotency.map(Cow::Borrowed),
            signals,
            index,
            case_key: case_key.map(Cow::Borrowed),
            erase_case_key,
        })
    }

    /// The same append, owning everything it refers to (to hand it to another thread).
    pub(crate) fn into_owned(self) -> PreparedAppend<'static> {
        PreparedAppend {
            case: Cow::Owned(self.case.into_owned()),
            expected_version: self.expected_version,
            expected: self.expected,
            rows: self
                .rows
                .into_iter()
                .map(|(e, seq, actor, payload)| (Cow::Owned(e.into_owned()), seq, actor, payload))
                .collect(),
            idempotency: self.idempotency.map(|r| Cow::Owned(r.into_owned())),
            signals: self
                .signals
                .into_iter()
                .map(|(s, payload)| (Cow::Owned(s.into_owned()), payload))
                .collect(),
            index: self.index.map(PreparedRow::into_owned),
            case_key: self.case_key.map(|k| Cow::Owned(k.into_owned())),
            erase_case_key: self.erase_case_key,
        }
    }

    /// Check the case's version and the idempotency key, then write the events, the key and
    /// the outbox rows, on `conn`, which must be inside a write transaction (or a savepoint).
    /// On an error the caller rolls back whatever was written.
    pub(crate) fn write(&self, conn: &Connection) -> Result<Committed, StoreError> {
        self.check(conn)?;
        self.insert(conn)
    }

    /// The checks of [`PreparedAppend::write`], which write nothing: the case is at the
    /// expected version and the idempotency key is free.
    pub(crate) fn check(&self, conn: &Connection) -> Result<(), StoreError> {
        let case: &str = &self.case;
        let expected_version = self.expected_version;
        let expected = self.expected;
        let idempotency = self.idempotency.as_deref();
        let actual: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE case_id = ?1")
            .and_then(|mut stmt| stmt.query_row([case], |r| r.get(0)))
            .map_err(backend("reading the case version"))?;
        if actual != expected {
            return Err(StoreError::Conflict {
                case: case.to_string(),
                expected: expected_version,
                actual: u64::try_from(actual).ok(),
            });
        }
        if let Some(record) = idempotency {
            let taken = conn
                .prepare_cached("SELECT 1 FROM idempotency WHERE key = ?1")
                .and_then(|mut stmt| stmt.query_row([&record.key], |_| Ok(())).optional())
                .map_err(backend("looking up an idempotency key"))?;
            if taken.is_some() {
                return Err(StoreError::KeyTaken {
                    key: record.key.clone(),
                });
            }
        }
        Ok(())
    }

    /// The writes of [`PreparedAppend::write`], after [`PreparedAppend::check`] passed. An
    /// error here may leave some rows written: the caller rolls back.
    pub(crate) fn insert(&self, conn: &Connection) -> Result<Committed, StoreError> {
        let case: &str = &self.case;
        let expected_version = self.expected_version;
        let rows = self.rows.as_slice();
        let idempotency = self.idempotency.as_deref();
        let signals = self.signals.as_slice();
        let mut committed = Committed::unnumbered();
        if !rows.is_empty() {
            // The writer is serialized, and events are never deleted: the greatest position
            // is the last one given (one seek down `events_position`, nothing to write back).
            let last: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")
                .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
                .map_err(backend("reading the feed position"))?;
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor,
                                         surface, surface_fingerprint, idempotency_key, payload, prev_digest, digest,
                                         position, host_ts_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )
                .map_err(backend("appending events"))?;
            let mut position = last;
            for (e, seq, actor, payload) in rows {
                position += 1;
                insert
                    .execute(params![
                        e.event_id,
                        e.event_type,
                        i64::from(e.schema_version),
                        e.ts_utc,
                        e.ts_ms,
                        e.case_id,
                        seq,
                        actor,
                        e.surface,
                        e.surface_fingerprint,
                        e.idempotency_key,
                        payload,
                        e.prev_digest,
                        e.digest,
                        position,
                        e.host_ts_ms
                    ])
                    .map_err(|err| {
                        if is_constraint(&err) {
                            // Only a concurrent writer can hold this (case_id, seq): a conflict.
                            StoreError::Conflict {
                                case: case.to_string(),
                                expected: expected_version,
                                actual: None,
                            }
                        } else {
                            StoreError::backend("appending events", err)
                        }
                    })?;
            }
            let first = u64::try_from(last).unwrap_or(0) + 1;
            committed = Committed::numbered(first, rows.len());
        }
        if let Some(r) = idempotency {
            conn.prepare_cached(
                "INSERT INTO idempotency (key, fingerprint, case_id, outcome, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut insert| {
                insert.execute(params![r.key, r.fingerprint, r.case_id, r.outcome, r.recorded_at])
            })
            .map_err(|err| {
                if is_constraint(&err) {
                    StoreError::KeyTaken { key: r.key.clone() }
                } else {
                    StoreError::backend("recording an idempotency key", err)
                }
            })?;
        }
        {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO outbox (id, case_id, kind, at, payload, event_id, event_digest)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(backend("writing the outbox"))?;
            for (s, payload) in signals {
                insert
                    .execute(params![
                        s.id,
                        s.case_id,
                        s.kind,
                        s.at,
                        payload,
                        s.event_id,
                        s.event_digest
                    ])
                    .map_err(|err| {
                        if is_constraint(&err) {
                            StoreError::Invalid {
                                case: case.to_string(),
                                message: format!("signal `{}` is already in the outbox", s.id),
                            }
                        } else {
                            StoreError::backend("writing the outbox", err)
                        }
                    })?;
            }
        }
        if let Some(key) = self.case_key.as_deref() {
            conn.execute(
                "INSERT INTO case_keys (case_id, key) VALUES (?1, ?2)",
                params![case, key],
            )
            .map_err(|err| {
                if is_constraint(&err) {
                    StoreError::Invalid {
                        case: case.to_string(),
                        message: "the case already has a key for sealed personal data".into(),
                    }
                } else {
                    StoreError::backend("writing a case key", err)
                }
            })?;
        }
        if self.erase_case_key {
            conn.execute("DELETE FROM case_keys WHERE case_id = ?1", [case])
                .map_err(backend("destroying a case key"))?;
        }
        if let Some(row) = &self.index {
            // A new stream's first event is the first one just written.
            let created = committed
                .positions
                .as_ref()
                .filter(|_| self.expected_version == 0)
                .and_then(|positions| i64::try_from(positions.start).ok());
            row.write(conn, created)?;
        }
        Ok(committed)
    }
}

/// An event row's columns ([`EVENT_COLUMNS`]), as read.
type EventTuple = (
    String,
    String,
    i64,
    String,
    i64,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<i64>,
);

/// Read the columns of [`EVENT_COLUMNS`] starting at column `at`.
fn event_tuple(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<EventTuple> {
    Ok((
        row.get(at)?,
        row.get(at + 1)?,
        row.get(at + 2)?,
        row.get(at + 3)?,
        row.get(at + 4)?,
        row.get(at + 5)?,
        row.get(at + 6)?,
        row.get(at + 7)?,
        row.get(at + 8)?,
        row.get(at + 9)?,
        row.get(at + 10)?,
        row.get(at + 11)?,
        row.get(at + 12)?,
        row.get(at + 13)?,
        row.get(at + 14)?,
    ))
}

/// Decode an event row; failures name its case.
fn decode_event(row: EventTuple) -> Result<StoredEvent, StoreError> {
    let (
        event_id,
        event_type,
        schema,
        ts_utc,
        ts_ms,
        case_id,
        seq,
        actor,
        surface,
        fp,
        key,
        payload,
        prev,
        digest,
        host_ts_ms,
    ) = row;
    let bad = |why: &str, e: Box<dyn std::error::Error + Send + Sync>| {
        StoreError::corrupt(
            case_id.clone(),
            format!("event `{event_id}`: {why}"),
            Some(e),
        )
    };
    Ok(StoredEvent {
        schema_version: u32::try_from(schema)
            .map_err(|e| bad("schema version out of range", Box::new(e)))?,
        seq: u64::try_from(seq).map_err(|e| bad("sequence number out of range", Box::new(e)))?,
        actor: serde_json::from_str(&actor)
            .map_err(|e| bad("the actor does not decode", Box::new(e)))?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| bad("the payload does not decode", Box::new(e)))?,
        event_id,
        event_type,
        ts_utc,
        ts_ms,
        host_ts_ms,
        case_id,
        surface,
        surface_fingerprint: fp,
        idempotency_key: key,
        prev_digest: prev,
        digest,
    })
}

/// A `case_index` row's columns ([`CASE_COLUMNS`]), as read.
fn case_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<CaseColumns> {
    Ok(CaseColumns {
        case: row.get(0)?,
        version: row.get(1)?,
        surface: row.get(2)?,
        surface_version: row.get(3)?,
        task: row.get(4)?,
        assignee: row.get(5)?,
        job: row.get(6)?,
        owner: row.get(7)?,
        phase: row.get(8)?,
        stage: row.get(9)?,
        service_event: row.get(10)?,
        pending_approval: row.get(11)?,
        queue: row.get(12)?,
        claim_open: row.get(13)?,
        completed_visible: row.get(14)?,
        created_at: row.get(15)?,
        last_activity: row.get(16)?,
        next_due_at: row.get(17)?,
    })
}

/// Run a `case_index` query and decode its rows.
fn query_cases(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<CaseIndex>, StoreError> {
    let read = backend("reading the index");
    let mut stmt = conn.prepare_cached(sql).map_err(read)?;
    let rows = stmt
        .query_map(params, case_columns)
        .map_err(backend("reading the index"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(backend("reading the index"))?.decode()?);
    }
    Ok(out)
}

/// Run a `case_index` query whose last column (after [`CASE_COLUMNS`]) is `created`.
fn query_cases_created(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<(i64, CaseIndex)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(backend("reading the index"))?;
    let rows = stmt
        .query_map(params, |row| {
            Ok((row.get::<_, i64>(18)?, case_columns(row)?))
        })
        .map_err(backend("reading the index"))?;
    let mut out = Vec::new();
    for row in rows {
        let (created, case) = row.map_err(backend("reading the index"))?;
        out.push((created, case.decode()?));
    }
    Ok(out)
}

/// Two lists in `created` order merged into one, each case once (a case's `created` is its
/// first event's position, so equal values are the same case), at most `limit`.
fn merge_by_created(
    a: Vec<(i64, CaseIndex)>,
    b: Vec<(i64, CaseIndex)>,
    limit: usize,
) -> Vec<CaseIndex> {
    let mut out = Vec::with_capacity(limit.min(a.len() + b.len()));
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    while out.len() < limit {
        let next = match (a.peek(), b.peek()) {
            (Some((x, _)), Some((y, _))) if x == y => {
                b.next();
                a.next()
            }
            (Some((x, _)), Some((y, _))) if y < x => b.next(),
            (Some(_), _) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some((_, case)) => out.push(case),
            None => break,
        }
    }
    out
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Whether the index can answer (the `index_state` kept in `planck_meta`).
fn index_state(conn: &Connection) -> Result<IndexState, StoreError> {
    let state: String = conn
        .prepare_cached("SELECT value FROM planck_meta WHERE key = 'index_state'")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(backend("reading the index state"))?;
    Ok(if state == "ready" {
        IndexState::Ready
    } else {
        IndexState::NeedsRebuild
    })
}

fn ready(conn: &Connection) -> Result<(), StoreError> {
    match index_state(conn)? {
        IndexState::Ready => Ok(()),
        IndexState::NeedsRebuild => Err(StoreError::IndexNotReady),
    }
}

fn set_index_state(conn: &Connection, state: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE planck_meta SET value = ?1 WHERE key = 'index_state'",
        [state],
    )
    .map(|_| ())
    .map_err(backend("setting the index state"))
}

/// The queries of the index and the feed, on one connection (the group-commit store reads
/// through its second connection).
impl SqliteStore {
    pub(crate) fn query_desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError> {
        let conn = self.conn();
        ready(&conn)?;
        let n = limit_param(limit);
        // Each column reads its own index in `created` order and stops at `limit`: the cost is
        // what the desk shows, not how many cases there are. The queued column is two such reads
        // (assigned to the operator; open to anyone) merged here: as one `UNION`, or even as the
        // open read alone, SQLite's planner picks `case_index_jobs` (every queued Job) over the
        // partial index, with or without `ANALYZE`. `INDEXED BY` pins each plan (a statement
        // whose index cannot answer it fails to prepare rather than scanning).
        let assigned = query_cases_created(
            &conn,
            &format!(
                "SELECT {CASE_COLUMNS}, created FROM case_index INDEXED BY case_index_assigned
                  WHERE assignee = ?1 AND job = 'queued' ORDER BY created LIMIT ?2"
            ),
            params![operator, n],
        )?;
        let open = query_cases_created(
            &conn,
            &format!(
                "SELECT {CASE_COLUMNS}, created FROM case_index INDEXED BY case_index_open
                  WHERE job = 'queued' AND claim_open = 1 ORDER BY created LIMIT ?1"
            ),
            params![n],
        )?;
        let queued = merge_by_created(assigned, open, limit);
        let active = query_cases(
            &conn,
            &format!(
                "SELECT {CASE_COLUMNS} FROM case_index INDEXED BY case_index_owned
                  WHERE owner = ?1 AND job = 'claimed' ORDER BY created LIMIT ?2"
            ),
            params![operator, n],
        )?;
        let completed = query_cases(
            &conn,
            &format!(
                "SELECT {CASE_COLUMNS} FROM case_index INDEXED BY case_index_owned
                  WHERE owner = ?1 AND job = 'completed' AND completed_visible = 1
                  ORDER BY created DESC LIMIT ?2"
            ),
            params![operator, n],
        )?;
        Ok(DeskRows {
            queued,
            active,
            completed,
        })
    }

    pub(crate) fn query_queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        let conn = self.conn();
        ready(&conn)?;
        query_cases(
            &conn,
            &format!(
                "SELECT {CASE_COLUMNS} FROM case_index INDEXED BY case_index_queue
                  WHERE queue IS NOT NULL ORDER BY created LIMIT ?1"
            ),
            [limit_param(limit)],
        )
    }

    pub(crate) fn query_list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError> {
        let conn = self.conn();
        ready(&conn)?;
        // The ranges and the rows are read in one transaction: one snapshot of the index.
        let snapshot = conn
            .unchecked_transaction()
            .map_err(backend("reading the index"))?;
        sqlite_list::list(&snapshot, filter, after, limit, |conn, sql, values| {
            query_cases(conn, sql, rusqlite::params_from_iter(values))
        })
    }

    pub(crate) fn query_due(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError> {
        let conn = self.conn();
        ready(&conn)?;
        query_cases(
            &conn,
            &format!(
                "SELECT {CASE_COLUMNS} FROM case_index INDEXED BY case_index_due
                  WHERE next_due_at <= ?1 ORDER BY next_due_at, case_id LIMIT ?2"
            ),
            params![now, limit_param(limit)],
        )
    }

    pub(crate) fn query_operators(&self, check: bool) -> Result<Vec<OperatorIndex>, StoreError> {
        let conn = self.conn();
        if check {
            ready(&conn)?;
        }
        operator_rows(&conn, None)
    }

    pub(crate) fn query_index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError> {
        let conn = self.conn();
        match stream.strip_prefix(OPERATOR_STREAM_PREFIX) {
            Some(id) => Ok(operator_rows(&conn, Some(id))?
                .into_iter()
                .next()
                .map(IndexRow::Operator)),
            None => Ok(query_cases(&conn, &SELECT_CASE_ROW, [stream])?
                .into_iter()
                .next()
                .map(IndexRow::Case)),
        }
    }

    pub(crate) fn query_index_state(&self) -> Result<IndexState, StoreError> {
        index_state(&self.conn())
    }

    pub(crate) fn query_feed(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let conn = self.conn();
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT position, {EVENT_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
            ))
            .map_err(backend("reading the feed"))?;
        let rows = stmt
            .query_map(params![after, limit_param(limit)], |row| {
                Ok((row.get::<_, i64>(0)?, event_tuple(row, 1)?))
            })
            .map_err(backend("reading the feed"))?;
        let mut out = Vec::new();
        for row in rows {
            let (position, event) = row.map_err(|e| {
                StoreError::corrupt("the feed", "a row does not decode", Some(Box::new(e)))
            })?;
            out.push(FeedEntry {
                position: u64::try_from(position).map_err(|e| {
                    StoreError::corrupt("the feed", "a position is out of range", Some(Box::new(e)))
                })?,
                event: decode_event(event)?,
            });
        }
        Ok(out)
    }
}

fn operator_rows(conn: &Connection, one: Option<&str>) -> Result<Vec<OperatorIndex>, StoreError> {
    let read = backend("reading the operator index");
    let mut stmt = conn
        .prepare_cached(
            "SELECT operator, version, status, surfaces FROM operator_index
              WHERE ?1 IS NULL OR operator = ?1 ORDER BY operator",
        )
        .map_err(read)?;
    let rows = stmt
        .query_map([one], |r| {
            Ok(OperatorColumns {
                operator: r.get(0)?,
                version: r.get(1)?,
                status: r.get(2)?,
                surfaces: r.get(3)?,
            })
        })
        .map_err(backend("reading the operator index"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(
            row.map_err(backend("reading the operator index"))?
                .decode()?,
        );
    }
    Ok(out)
}

/// Mark the outbox rows `ids` delivered on `conn`, which must be inside a write transaction
/// (the caller commits: [`SqliteStore`] in a transaction of its own, the group-commit store in
/// the next group's).
pub(crate) fn mark_delivered_on(conn: &Connection, ids: &[String]) -> Result<(), StoreError> {
    let mut update = conn
        .prepare_cached("UPDATE outbox SET delivered = 1 WHERE id = ?1")
        .map_err(backend("marking signals"))?;
    for id in ids {
        update.execute([id]).map_err(backend("marking signals"))?;
    }
    Ok(())
}

/// After an erasure commits: copy the WAL into the database file and truncate it, so the
/// erased key's bytes (zeroed in the file by `secure_delete`) leave the WAL too. Best effort:
/// a reader holding an old snapshot keeps the WAL until it is done (the next erasure or
/// checkpoint truncates it).
pub(crate) fn checkpoint_after_erasure(conn: &Connection) {
    if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %err, "the WAL checkpoint after an erasure failed");
    }
}

impl Store for SqliteStore {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.load_after(case, 0)
    }

    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE case_id = ?1 AND seq > ?2 ORDER BY seq"
            ))
            .map_err(backend("loading a case"))?;
        let rows = stmt
            .query_map(params![case, after], |row| event_tuple(row, 0))
            .map_err(backend("loading a case"))?;
        let mut events = Vec::new();
        for row in rows {
            let row = row.map_err(|e| {
                StoreError::corrupt(case, "a row of the case does not decode", Some(Box::new(e)))
            })?;
            events.push(decode_event(row)?);
        }
        Ok(events)
    }

    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
        // Serialize everything before taking the write lock.
        let prepared = PreparedAppend::new(append)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("beginning an append"))?;
        let committed = prepared.write(&tx)?;
        tx.commit().map_err(backend("committing an append"))?;
        if prepared.erase_case_key {
            checkpoint_after_erasure(&conn);
        }
        Ok(committed)
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT key, fingerprint, case_id, outcome, recorded_at FROM idempotency WHERE key = ?1",
            [key],
            |r| {
                Ok(IdempotencyRecord {
                    key: r.get(0)?,
                    fingerprint: r.get(1)?,
                    case_id: r.get(2)?,
                    outcome: r.get(3)?,
                    recorded_at: r.get(4)?,
                })
            },
        )
        .optional()
        .map_err(backend("looking up an idempotency key"))
    }

    fn cases(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT case_id FROM events WHERE seq = 1 ORDER BY rowid")
            .map_err(backend("listing cases"))?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .map_err(backend("listing cases"))?;
        ids.collect::<Result<Vec<String>, _>>()
            .map_err(backend("listing cases"))
    }

    fn pending_signals(&self, limit: usize) -> Result<Vec<StoredSignal>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.signals(
            "SELECT id, case_id, kind, at, payload, event_id, event_digest
               FROM outbox WHERE delivered = 0 ORDER BY rowid LIMIT ?1",
            limit,
        )
    }

    fn mark_delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("marking signals"))?;
        mark_delivered_on(&tx, ids)?;
        tx.commit().map_err(backend("marking signals"))
    }

    fn desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError> {
        self.query_desk(operator, limit)
    }

    fn queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        self.query_queue(limit)
    }

    fn list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError> {
        self.query_list(filter, after, limit)
    }

    fn due(&self, now: Millis, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        self.query_due(now, limit)
    }

    fn operators(&self) -> Result<Vec<OperatorIndex>, StoreError> {
        self.query_operators(true)
    }

    fn index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError> {
        self.query_index_row(stream)
    }

    fn index_state(&self) -> Result<IndexState, StoreError> {
        self.query_index_state()
    }

    fn begin_reindex(&self) -> Result<(), StoreError> {
        set_index_state(&self.conn(), "needs_rebuild")
    }

    fn reindex(
        &self,
        stream: &str,
        version: u64,
        row: Option<&IndexRow>,
    ) -> Result<bool, StoreError> {
        let prepared = match row {
            Some(row) => {
                check_append(&Append::new(stream, version, &[]).with_index(row))?;
                Some(PreparedRow::new(stream, row)?)
            }
            None => None,
        };
        let expected = to_i64(stream, "version", version)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("beginning a reindex"))?;
        let actual: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE case_id = ?1")
            .and_then(|mut stmt| stmt.query_row([stream], |r| r.get(0)))
            .map_err(backend("reading the case version"))?;
        if actual != expected {
            return Ok(false);
        }
        match &prepared {
            Some(row) => row.write(&tx, None)?,
            None => delete_row(&tx, stream)?,
        }
        tx.commit().map_err(backend("committing a reindex"))?;
        Ok(true)
    }

    fn finish_reindex(&self) -> Result<(), StoreError> {
        set_index_state(&self.conn(), "ready")
    }

    fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.query_feed(after, limit)
    }

    fn heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT e.case_id, e.seq, e.digest
                   FROM events e
                   JOIN (SELECT case_id, MAX(seq) AS seq FROM events GROUP BY case_id) last
                     ON e.case_id = last.case_id AND e.seq = last.seq",
            )
            .map_err(backend("reading stream heads"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(backend("reading stream heads"))?;
        let mut heads = Vec::new();
        for row in rows {
            let (stream, seq, digest) = row.map_err(backend("reading stream heads"))?;
            let version = u64::try_from(seq).map_err(|e| {
                StoreError::corrupt(
                    stream.clone(),
                    "a sequence number is out of range",
                    Some(Box::new(e)),
                )
            })?;
            heads.push(StreamHead {
                stream,
                version,
                digest,
            });
        }
        Ok(heads)
    }

    fn outbox_of(&self, stream: &str) -> Result<Vec<StoredSignal>, StoreError> {
        self.signals(
            "SELECT id, case_id, kind, at, payload, event_id, event_digest
               FROM outbox WHERE case_id = ?1 ORDER BY rowid",
            stream,
        )
    }

    fn idempotency_of(&self, stream: &str) -> Result<Vec<IdempotencyRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, fingerprint, case_id, outcome, recorded_at FROM idempotency WHERE case_id = ?1",
            )
            .map_err(backend("reading idempotency records"))?;
        let rows = stmt
            .query_map([stream], |r| {
                Ok(IdempotencyRecord {
                    key: r.get(0)?,
                    fingerprint: r.get(1)?,
                    case_id: r.get(2)?,
                    outcome: r.get(3)?,
                    recorded_at: r.get(4)?,
                })
            })
            .map_err(backend("reading idempotency records"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(backend("reading idempotency records"))
    }

    fn referenced_streams(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT case_id FROM outbox UNION SELECT case_id FROM idempotency")
            .map_err(backend("listing referenced streams"))?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .map_err(backend("listing referenced streams"))?;
        ids.collect::<Result<Vec<String>, _>>()
            .map_err(backend("listing referenced streams"))
    }

    fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()
            .prepare_cached("SELECT key FROM case_keys WHERE case_id = ?1")
            .and_then(|mut stmt| stmt.query_row([stream], |r| r.get(0)).optional())
            .map_err(backend("reading a case key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// The columns an append compares and writes are [`CASE_COLUMNS`] after the key, as many
    /// as [`case_values`] gives, in its order.
    #[test]
    fn the_written_columns_are_the_read_columns_after_the_key() {
        assert_eq!(CASE_VALUE_COLUMNS.len(), CASE_VALUES);
        assert_eq!(CASE_VALUE_COLUMNS.first(), Some(&"version"));
        assert_eq!(CASE_VALUE_COLUMNS.last(), Some(&"next_due_at"));
    }

    #[test]
    fn a_cached_statement_keeps_its_plan_whatever_is_bound() {
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn();
        assert!(
            conn.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
                .unwrap()
        );
        // The version check: a bound value against the prefix of the events' key.
        let sql = "SELECT COALESCE(MAX(seq), 0) FROM events WHERE case_id = ?1";
        for i in 0..5 {
            let version: i64 = conn
                .prepare_cached(sql)
                .unwrap()
                .query_row([format!("c-{i}")], |r| r.get(0))
                .unwrap();
            assert_eq!(version, 0);
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }
}

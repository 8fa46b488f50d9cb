//! [`SqliteStore`]: the embedded, durable [`Store`] (SQLite is bundled: nothing to install).
//!
//! One database file holds three tables: `events` (one row per envelope: the envelope fields
//! as columns, the actor and the payload as JSON text, primary key `(case_id, seq)`),
//! `idempotency` (one row per key) and `outbox` (one row per signal, primary key the signal
//! id, with a `delivered` flag). The schema version is kept in `PRAGMA user_version`.
//! The database runs in WAL mode; every append is one `BEGIN IMMEDIATE` transaction that checks
//! the case's version and the idempotency key, then writes events, key and outbox rows, so
//! several processes may share one file. `PRIMARY KEY (case_id, seq)` backs the version check.
//!
//! This is the only module (with other adapters under `host/`) that touches SQLite. It never
//! interprets events beyond decoding them.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
    check_append,
};

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

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
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered) WHERE delivered = 0;
CREATE INDEX IF NOT EXISTS outbox_case ON outbox (case_id);
CREATE INDEX IF NOT EXISTS idempotency_case ON idempotency (case_id);
";

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
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(backend("reading the schema version"))?;
    match version {
        0 => {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(backend("creating the schema"))?;
        }
        SCHEMA_VERSION => {}
        newer => {
            return Err(StoreError::backend(
                "opening the database",
                format!(
                    "its schema version is {newer}; this build of planck reads version {SCHEMA_VERSION}"
                ),
            ));
        }
    }
    add_columns(conn)?;
    conn.execute_batch(INDEXES)
        .map_err(backend("creating indexes"))
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
    case_key: Option<Cow<'a, [u8]>>,
    /// Whether the append destroys the case's key (an erasure).
    pub(crate) erase_case_key: bool,
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
        Ok(PreparedAppend {
            case: Cow::Borrowed(case),
            expected_version,
            expected: to_i64(case, "version", expected_version)?,
            rows,
            idempotency: idempotency.map(Cow::Borrowed),
            signals,
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
        {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor,
                                         surface, surface_fingerprint, idempotency_key, payload, prev_digest, digest,
                                         host_ts_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .map_err(backend("appending events"))?;
            for (e, seq, actor, payload) in rows {
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
        }
        if let Some(r) = idempotency {
            conn.execute(
                "INSERT INTO idempotency (key, fingerprint, case_id, outcome, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.key, r.fingerprint, r.case_id, r.outcome, r.recorded_at],
            )
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
        Ok(Committed::unnumbered())
    }
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
            .prepare_cached(
                "SELECT event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor, surface,
                        surface_fingerprint, idempotency_key, payload, prev_digest, digest, host_ts_ms
                   FROM events WHERE case_id = ?1 AND seq > ?2 ORDER BY seq",
            )
            .map_err(backend("loading a case"))?;
        let rows = stmt
            .query_map(params![case, after], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                    row.get::<_, String>(9)?,
                    row.get::<_, Option<String>>(10)?,
                    row.get::<_, String>(11)?,
                    row.get::<_, String>(12)?,
                    row.get::<_, String>(13)?,
                    row.get::<_, Option<i64>>(14)?,
                ))
            })
            .map_err(backend("loading a case"))?;
        let mut events = Vec::new();
        for row in rows {
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
            ) = row.map_err(|e| {
                StoreError::corrupt(case, "a row of the case does not decode", Some(Box::new(e)))
            })?;
            let bad = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| {
                StoreError::corrupt(case, format!("event `{event_id}`: {what}"), Some(e))
            };
            events.push(StoredEvent {
                schema_version: u32::try_from(schema)
                    .map_err(|e| bad("schema version out of range", Box::new(e)))?,
                seq: u64::try_from(seq)
                    .map_err(|e| bad("sequence number out of range", Box::new(e)))?,
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
            });
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
        {
            let mut update = tx
                .prepare_cached("UPDATE outbox SET delivered = 1 WHERE id = ?1")
                .map_err(backend("marking signals"))?;
            for id in ids {
                update.execute([id]).map_err(backend("marking signals"))?;
            }
        }
        tx.commit().map_err(backend("marking signals"))
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

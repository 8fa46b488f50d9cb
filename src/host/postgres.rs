//! [`PostgresStore`]: the [`Store`] for hosts that run many instances against one PostgreSQL
//! database (feature `postgres`).
//!
//! Five tables, in one schema (`public` unless [`PostgresOptions::schema`] says otherwise), all
//! created idempotently on connect (under an advisory lock, so instances starting together do
//! not trip over each other):
//!
//! - `planck_cases`: one row per case: its id, its version (the number of events) and a
//!   creation counter. **This row is the expected-version check**: an append to an existing
//!   case runs `UPDATE planck_cases SET version = new WHERE case_id = $1 AND version =
//!   expected`, which takes the row lock and re-checks the version after any concurrent
//!   writer commits, so of two instances appending at the same version exactly one updates a
//!   row and the other sees zero rows and gets [`StoreError::Conflict`]. A new case is an
//!   `INSERT … ON CONFLICT DO NOTHING`, which does the same for version 0. There is no
//!   read-then-write window: the database decides, and `PRIMARY KEY (case_id, seq)` on the
//!   events backs it up.
//! - `planck_events`: one row per envelope (the envelope fields as columns; the actor and the
//!   payload as JSON *text*, byte for byte what was appended, so digests recompute exactly).
//! - `planck_idempotency`: one row per key (`PRIMARY KEY (key)`), written in the same
//!   transaction as the events; a key taken by a concurrent command is
//!   [`StoreError::KeyTaken`] and the whole append rolls back.
//! - `planck_outbox`: one row per signal, written in the same transaction, with a `delivered`
//!   flag. [`PostgresStore::dispatch`] hands pending signals to a [`Transport`] with
//!   `SELECT … FOR UPDATE SKIP LOCKED`, so several workers (threads or processes) may deliver at
//!   once and each signal is with one worker at a time.
//! - `planck_case_index`, `planck_operator_index`: one index row per stream (docs/queries.md),
//!   upserted in the append's transaction; the queries of the index read them.
//! - `planck_meta`: the schema version and the index state.
//!
//! **The feed.** PostgreSQL sequences commit out of order (a transaction that took position 7
//! may commit after one that took 8, and a reader between the two commits would skip 7 for
//! ever), so an append does not number its events. It writes them with `position NULL` and
//! the id of its transaction (`tx`, `pg_current_xact_id()`). The *sequencer*
//! ([`PostgresStore::sequence`], run by every [`Store::feed`] call before it reads, and by a
//! host as often as it likes) numbers committed rows in one statement under a
//! transaction-scoped advisory lock: it gives `max(position) + 1, …` to every row its snapshot
//! sees with `position IS NULL`, in `(tx, case_id, seq)` order. Steps are serialized by the
//! lock and each one's snapshot is taken after the previous one committed, so `max(position)`
//! is always the last position given; a reader sees a step's positions all at once, when it
//! commits. A row that commits later is numbered by a later step, above every position a
//! reader can have seen: positions grow without holes, and a reader that saw position `p`
//! never later finds a new event at or below `p`. Each case's events are numbered in sequence
//! order (an append to a case starts its transaction only after the case's previous events
//! committed, so its `tx` is higher). Appends take no global lock; only sequencer steps are
//! serialized, and a step costs one indexed `UPDATE` of the rows not yet numbered.
//! Consequently [`Committed`] on PostgreSQL carries no positions. Needs PostgreSQL 13 or newer
//! (`xid8`).
//!
//! (A design that numbers only rows below the snapshot's `xmin` keeps positions in
//! transaction-id order too, but lets any transaction left open anywhere in the cluster stall
//! the feed; the promise does not need it, so the sequencer does not wait for `xmin`.)
//!
//! **Migration.** A version 1 schema is upgraded when a store connects (under the advisory
//! lock): every stored event gets a position (per case in sequence order, cases interleaved by
//! time), the index tables are created empty and the index state is `needs_rebuild` when there
//! are events (queries fail with [`StoreError::IndexNotReady`] until `planck reindex` writes
//! every row). Stop every instance of the older planck before the upgrade: an older build
//! would go on appending without index rows.
//!
//! Connections come from a small pool (one connection per concurrent call, kept for reuse), so
//! one `PostgresStore` may be shared by every thread of a process; the statements of the hot
//! paths are prepared once per connection. Every append is one transaction at `READ
//! COMMITTED`, the PostgreSQL default; nothing here needs more. The usual append (events, no
//! key for sealed data to write or destroy, no operator row) is a single statement, one round
//! trip: a data-modifying `WITH` whose version claim comes first and whose other rows are
//! written only when the claim took its row. A unique violation in it (a taken idempotency
//! key, a signal id already in the outbox) aborts it whole, and the append is then run as the
//! step-by-step transaction, which gives the exact answer; the other shapes always take that
//! transaction.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::error::SqlState;
use postgres::{Client, NoTls, Row, Statement};

use crate::host::index::{
    CaseFilter, CaseIndex, DeskRows, FeedEntry, IndexRow, IndexState, ListCursor,
    OPERATOR_STREAM_PREFIX, OperatorIndex, QueueNeed,
};
use crate::host::index_sql::{CASE_COLUMNS, CaseColumns, ListQuery, OperatorColumns, SqlValue};
use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
    check_append,
};
use crate::host::transport::Transport;
use crate::spine::{JobState, Millis, ServiceEventState, TaskState};

/// The schema version this build writes and reads (kept in `planck_meta`). Version 1 (no
/// feed positions, no index) is upgraded on connect.
pub const PG_SCHEMA_VERSION: i64 = 2;

/// Rows the sequencer numbers per transaction.
const SEQUENCE_BATCH: i64 = 10_000;

/// The columns of an event, in the order [`event_from_row`] reads them.
const EVENT_COLUMNS: &str =
    "event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor, surface,
    surface_fingerprint, idempotency_key, payload, prev_digest, digest, host_ts_ms";

/// How to connect a [`PostgresStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The PostgreSQL schema that holds planck's tables (created if missing). Letters, digits
    /// and `_`, starting with a letter or `_`, at most 63 bytes. Default `public`.
    pub schema: String,
    /// Most idle connections kept for reuse. Busy connections are not capped: one is opened
    /// for each call running at the same moment. Default 8.
    pub max_idle: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "public".to_string(),
            max_idle: 8,
        }
    }
}

/// What one [`PostgresStore::dispatch`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Ids of the signals delivered (and marked delivered), in the order they were published.
    pub delivered: Vec<String>,
    /// Ids of the signals whose publish failed; they stay pending and are offered again.
    pub failed: Vec<String>,
}

/// A [`Store`] in a PostgreSQL database, safe to share between many processes.
pub struct PostgresStore {
    config: postgres::Config,
    idle: Mutex<Vec<Session>>,
    max_idle: usize,
    schema: String,
    sql: Sql,
    /// Set once the index state was seen `ready` (it only leaves `ready` when a rebuild
    /// starts; see [`Store::begin_reindex`]).
    index_ready: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

/// Every statement, with the schema name filled in once.
struct Sql {
    insert_case_key: String,
    delete_case_key: String,
    case_key: String,
    load: String,
    insert_case: String,
    bump_case: String,
    append: String,
    case_version: String,
    insert_event: String,
    insert_key: String,
    insert_signal: String,
    get_key: String,
    cases: String,
    pending: String,
    claim: String,
    mark: String,
    upsert_case_row: String,
    upsert_operator_row: String,
    desk: String,
    queue: String,
    due: String,
    case_row: String,
    operator_rows: String,
    lock_case: String,
    sequence: String,
    feed: String,
    index_state: String,
    set_index_state: String,
    heads: String,
    outbox_of: String,
    keys_of: String,
    referenced: String,
}

impl Sql {
    fn new(s: &str) -> Sql {
        Sql {
            insert_case_key: format!(
                "INSERT INTO {s}.planck_case_keys (case_id, key) VALUES ($1, $2) ON CONFLICT (case_id) DO NOTHING"
            ),
            delete_case_key: format!("DELETE FROM {s}.planck_case_keys WHERE case_id = $1"),
            case_key: format!("SELECT key FROM {s}.planck_case_keys WHERE case_id = $1"),
            load: format!(
                "SELECT event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor, surface,
                        surface_fingerprint, idempotency_key, payload, prev_digest, digest, host_ts_ms
                   FROM {s}.planck_events WHERE case_id = $1 AND seq > $2 ORDER BY seq"
            ),
            insert_case: format!(
                "INSERT INTO {s}.planck_cases (case_id, version) VALUES ($1, $2) ON CONFLICT (case_id) DO NOTHING"
            ),
            bump_case: format!(
                "UPDATE {s}.planck_cases SET version = $3 WHERE case_id = $1 AND version = $2"
            ),
            case_version: format!("SELECT version FROM {s}.planck_cases WHERE case_id = $1"),
            // The whole append of a case in one statement (one round trip, its own
            // transaction): the version claim first; every row after it is written only when
            // the claim took a row, so a stale version writes nothing. A taken key or signal
            // id is a unique violation that rolls the statement back.
            append: format!(
                "WITH new_case AS (
                    INSERT INTO {s}.planck_cases (case_id, version) SELECT $1::TEXT, $3::INT8 WHERE $2::INT8 = 0
                        ON CONFLICT (case_id) DO NOTHING RETURNING created),
                 bumped AS (
                    UPDATE {s}.planck_cases SET version = $3::INT8
                     WHERE case_id = $1::TEXT AND version = $2::INT8 AND $2::INT8 <> 0
                    RETURNING created),
                 claimed AS (SELECT created FROM new_case UNION ALL SELECT created FROM bumped),
                 events AS (
                    INSERT INTO {s}.planck_events (event_id, event_type, schema_version, ts_utc, ts_ms,
                            case_id, seq, actor, surface, surface_fingerprint, idempotency_key, payload,
                            prev_digest, digest, host_ts_ms)
                    SELECT * FROM unnest($4::TEXT[], $5::TEXT[], $6::INT4[], $7::TEXT[], $8::INT8[],
                            $9::TEXT[], $10::INT8[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[],
                            $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::INT8[])
                     WHERE EXISTS (SELECT 1 FROM claimed)),
                 keys AS (
                    INSERT INTO {s}.planck_idempotency (key, fingerprint, case_id, outcome, recorded_at)
                    SELECT $19::TEXT, $20::TEXT, $21::TEXT, $22::TEXT, $23::INT8 FROM claimed WHERE $19::TEXT IS NOT NULL),
                 signals AS (
                    INSERT INTO {s}.planck_outbox (id, case_id, kind, at, payload, event_id, event_digest)
                    SELECT id, case_id, kind, at, payload, event_id, event_digest
                      FROM unnest($24::TEXT[], $25::TEXT[], $26::TEXT[], $27::INT8[], $28::TEXT[],
                                  $29::TEXT[], $30::TEXT[])
                           WITH ORDINALITY AS o (id, case_id, kind, at, payload, event_id, event_digest, n)
                     WHERE EXISTS (SELECT 1 FROM claimed) ORDER BY n),
                 index_row AS (
                    INSERT INTO {s}.planck_case_index (case_id, created, version, surface, surface_version,
                            task, assignee, job, owner, phase, stage, service_event, pending_approval, queue,
                            claim_open, completed_visible, created_at, last_activity, next_due_at)
                    SELECT $31::TEXT, created, $32::INT8, $33::TEXT, $34::INT8, $35::TEXT, $36::TEXT,
                           $37::TEXT, $38::TEXT, $39::TEXT, $40::TEXT, $41::TEXT, $42::TEXT, $43::TEXT,
                           $44::BOOL, $45::BOOL, $46::INT8, $47::INT8, $48::INT8
                      FROM claimed WHERE $31::TEXT IS NOT NULL
                    ON CONFLICT (case_id) DO UPDATE SET
                       version = excluded.version, surface = excluded.surface,
                       surface_version = excluded.surface_version, task = excluded.task,
                       assignee = excluded.assignee, job = excluded.job, owner = excluded.owner,
                       phase = excluded.phase, stage = excluded.stage, service_event = excluded.service_event,
                       pending_approval = excluded.pending_approval, queue = excluded.queue,
                       claim_open = excluded.claim_open, completed_visible = excluded.completed_visible,
                       created_at = excluded.created_at, last_activity = excluded.last_activity,
                       next_due_at = excluded.next_due_at)
                 SELECT count(*) FROM claimed"
            ),
            insert_event: format!(
                "INSERT INTO {s}.planck_events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq,
                        actor, surface, surface_fingerprint, idempotency_key, payload, prev_digest, digest,
                        host_ts_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ),
            insert_key: format!(
                "INSERT INTO {s}.planck_idempotency (key, fingerprint, case_id, outcome, recorded_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING"
            ),
            insert_signal: format!(
                "INSERT INTO {s}.planck_outbox (id, case_id, kind, at, payload, event_id, event_digest)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING"
            ),
            get_key: format!(
                "SELECT key, fingerprint, case_id, outcome, recorded_at FROM {s}.planck_idempotency WHERE key = $1"
            ),
            cases: format!("SELECT case_id FROM {s}.planck_cases ORDER BY created"),
            pending: format!(
                "SELECT id, case_id, kind, at, payload, event_id, event_digest FROM {s}.planck_outbox
                  WHERE NOT delivered ORDER BY position LIMIT $1"
            ),
            claim: format!(
                "SELECT id, case_id, kind, at, payload, event_id, event_digest FROM {s}.planck_outbox
                  WHERE NOT delivered ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED"
            ),
            mark: format!(
                "UPDATE {s}.planck_outbox SET delivered = TRUE, delivered_at = now()
                  WHERE id = ANY($1) AND NOT delivered"
            ),
            upsert_case_row: format!(
                "INSERT INTO {s}.planck_case_index (case_id, created, version, surface, surface_version, task,
                        assignee, job, owner, phase, stage, service_event, pending_approval, queue, claim_open,
                        completed_visible, created_at, last_activity, next_due_at)
                 VALUES ($1, COALESCE((SELECT created FROM {s}.planck_cases WHERE case_id = $1), 0),
                         $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (case_id) DO UPDATE SET
                    version = excluded.version, surface = excluded.surface,
                    surface_version = excluded.surface_version, task = excluded.task,
                    assignee = excluded.assignee, job = excluded.job, owner = excluded.owner,
                    phase = excluded.phase, stage = excluded.stage, service_event = excluded.service_event,
                    pending_approval = excluded.pending_approval, queue = excluded.queue,
                    claim_open = excluded.claim_open, completed_visible = excluded.completed_visible,
                    created_at = excluded.created_at, last_activity = excluded.last_activity,
                    next_due_at = excluded.next_due_at"
            ),
            upsert_operator_row: format!(
                "INSERT INTO {s}.planck_operator_index (operator, version, status, surfaces) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (operator) DO UPDATE SET
                    version = excluded.version, status = excluded.status, surfaces = excluded.surfaces"
            ),
            // One round trip: the three columns, told apart by `slot`.
            desk: format!(
                "SELECT * FROM (
                   (SELECT 0 AS slot, created, {CASE_COLUMNS} FROM (
                       (SELECT * FROM {s}.planck_case_index WHERE assignee = $1 AND job = 'queued'
                         ORDER BY created LIMIT $2)
                       UNION
                       (SELECT * FROM {s}.planck_case_index WHERE job = 'queued' AND claim_open
                         ORDER BY created LIMIT $2)) AS q ORDER BY created LIMIT $2)
                   UNION ALL
                   (SELECT 1, created, {CASE_COLUMNS} FROM {s}.planck_case_index
                     WHERE owner = $1 AND job = 'claimed' ORDER BY created LIMIT $2)
                   UNION ALL
                   (SELECT 2, created, {CASE_COLUMNS} FROM {s}.planck_case_index
                     WHERE owner = $1 AND job = 'completed' AND completed_visible
                     ORDER BY created DESC LIMIT $2)
                 ) AS d ORDER BY slot, CASE WHEN slot = 2 THEN -created ELSE created END"
            ),
            queue: format!(
                "SELECT {CASE_COLUMNS} FROM {s}.planck_case_index WHERE queue IS NOT NULL ORDER BY created LIMIT $1"
            ),
            due: format!(
                "SELECT {CASE_COLUMNS} FROM {s}.planck_case_index WHERE next_due_at <= $1
                  ORDER BY next_due_at, case_id LIMIT $2"
            ),
            case_row: format!("SELECT {CASE_COLUMNS} FROM {s}.planck_case_index WHERE case_id = $1"),
            operator_rows: format!(
                "SELECT operator, version, status, surfaces FROM {s}.planck_operator_index
                  WHERE $1::TEXT IS NULL OR operator = $1 ORDER BY operator"
            ),
            lock_case: format!("SELECT version FROM {s}.planck_cases WHERE case_id = $1 FOR UPDATE"),
            sequence: format!(
                "WITH base AS (SELECT COALESCE(MAX(position), 0) AS m FROM {s}.planck_events),
                      todo AS (SELECT case_id, seq, ROW_NUMBER() OVER (ORDER BY tx, case_id, seq) AS r
                                 FROM {s}.planck_events
                                WHERE position IS NULL
                                ORDER BY tx, case_id, seq LIMIT {SEQUENCE_BATCH})
                 UPDATE {s}.planck_events e SET position = base.m + todo.r
                   FROM todo, base WHERE e.case_id = todo.case_id AND e.seq = todo.seq"
            ),
            feed: format!(
                "SELECT position, {EVENT_COLUMNS} FROM {s}.planck_events WHERE position > $1
                  ORDER BY position LIMIT $2"
            ),
            index_state: format!("SELECT value FROM {s}.planck_meta WHERE key = 'index_state'"),
            set_index_state: format!(
                "INSERT INTO {s}.planck_meta (key, value) VALUES ('index_state', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            heads: format!(
                "SELECT DISTINCT ON (case_id) case_id, seq, digest FROM {s}.planck_events
                  ORDER BY case_id, seq DESC"
            ),
            outbox_of: format!(
                "SELECT id, case_id, kind, at, payload, event_id, event_digest FROM {s}.planck_outbox
                  WHERE case_id = $1 ORDER BY position"
            ),
            keys_of: format!(
                "SELECT key, fingerprint, case_id, outcome, recorded_at FROM {s}.planck_idempotency
                  WHERE case_id = $1"
            ),
            referenced: format!(
                "SELECT case_id FROM {s}.planck_outbox UNION SELECT case_id FROM {s}.planck_idempotency"
            ),
        }
    }

    fn schema(s: &str) -> String {
        format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.planck_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.planck_cases (
    case_id TEXT    PRIMARY KEY,
    version BIGINT  NOT NULL CHECK (version >= 0),
    created BIGSERIAL NOT NULL
);
CREATE INDEX IF NOT EXISTS planck_cases_created ON {s}.planck_cases (created);
CREATE TABLE IF NOT EXISTS {s}.planck_events (
    case_id             TEXT    NOT NULL,
    seq                 BIGINT  NOT NULL CHECK (seq >= 1),
    event_id            TEXT    NOT NULL UNIQUE,
    event_type          TEXT    NOT NULL,
    schema_version      INTEGER NOT NULL,
    ts_utc              TEXT    NOT NULL,
    ts_ms               BIGINT  NOT NULL,
    actor               TEXT    NOT NULL,
    surface             TEXT    NOT NULL,
    surface_fingerprint TEXT    NOT NULL,
    idempotency_key     TEXT,
    payload             TEXT    NOT NULL,
    prev_digest         TEXT    NOT NULL,
    digest              TEXT    NOT NULL,
    PRIMARY KEY (case_id, seq)
);
ALTER TABLE {s}.planck_events ADD COLUMN IF NOT EXISTS host_ts_ms BIGINT;
CREATE TABLE IF NOT EXISTS {s}.planck_case_keys (
    case_id TEXT  PRIMARY KEY,
    key     BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.planck_idempotency (
    key         TEXT   PRIMARY KEY,
    fingerprint TEXT   NOT NULL,
    case_id     TEXT   NOT NULL,
    outcome     TEXT   NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.planck_outbox (
    position     BIGSERIAL NOT NULL,
    id           TEXT      PRIMARY KEY,
    case_id      TEXT      NOT NULL,
    kind         TEXT      NOT NULL,
    at           BIGINT    NOT NULL,
    payload      TEXT      NOT NULL,
    event_id     TEXT      NOT NULL,
    event_digest TEXT      NOT NULL,
    delivered    BOOLEAN   NOT NULL DEFAULT FALSE,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS planck_outbox_pending ON {s}.planck_outbox (position) WHERE NOT delivered;
CREATE INDEX IF NOT EXISTS planck_outbox_case ON {s}.planck_outbox (case_id);
CREATE INDEX IF NOT EXISTS planck_idempotency_case ON {s}.planck_idempotency (case_id);
INSERT INTO {s}.planck_meta (key, value) VALUES ('schema_version', '1')
    ON CONFLICT (key) DO NOTHING;"
        )
    }

    /// Version 1 → 2: feed positions for the stored events, the transaction id column, the
    /// index tables; the index needs a rebuild when there are events. A new database is
    /// created at version 1 and upgraded at once.
    fn upgrade_v1(s: &str) -> String {
        format!(
            "ALTER TABLE {s}.planck_events ADD COLUMN IF NOT EXISTS position BIGINT;
ALTER TABLE {s}.planck_events ADD COLUMN IF NOT EXISTS tx xid8;
WITH t AS (SELECT e.case_id, e.seq, c.created,
                  MAX(e.ts_ms) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS at
             FROM {s}.planck_events e JOIN {s}.planck_cases c ON c.case_id = e.case_id),
     n AS (SELECT case_id, seq, ROW_NUMBER() OVER (ORDER BY at, created, seq) AS p FROM t)
UPDATE {s}.planck_events e SET position = n.p, tx = '0'::xid8
  FROM n WHERE e.case_id = n.case_id AND e.seq = n.seq;
ALTER TABLE {s}.planck_events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
ALTER TABLE {s}.planck_events ALTER COLUMN tx SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS planck_events_position ON {s}.planck_events (position);
CREATE INDEX IF NOT EXISTS planck_events_unsequenced ON {s}.planck_events (tx, case_id, seq)
    WHERE position IS NULL;
CREATE TABLE IF NOT EXISTS {s}.planck_case_index (
    case_id           TEXT COLLATE \"C\" PRIMARY KEY,
    created           BIGINT  NOT NULL,
    version           BIGINT  NOT NULL,
    surface           TEXT    NOT NULL,
    surface_version   BIGINT  NOT NULL,
    task              TEXT,
    assignee          TEXT,
    job               TEXT,
    owner             TEXT,
    phase             TEXT,
    stage             TEXT,
    service_event     TEXT,
    pending_approval  TEXT,
    queue             TEXT,
    claim_open        BOOLEAN NOT NULL,
    completed_visible BOOLEAN NOT NULL,
    created_at        BIGINT  NOT NULL,
    last_activity     BIGINT  NOT NULL,
    next_due_at       BIGINT
);
CREATE INDEX IF NOT EXISTS planck_case_index_assignee ON {s}.planck_case_index (assignee, job, created);
CREATE INDEX IF NOT EXISTS planck_case_index_owner ON {s}.planck_case_index (owner, job, created);
CREATE INDEX IF NOT EXISTS planck_case_index_open ON {s}.planck_case_index (created)
    WHERE job = 'queued' AND claim_open;
CREATE INDEX IF NOT EXISTS planck_case_index_queue ON {s}.planck_case_index (created) WHERE queue IS NOT NULL;
CREATE INDEX IF NOT EXISTS planck_case_index_due ON {s}.planck_case_index (next_due_at, case_id)
    WHERE next_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS planck_case_index_activity ON {s}.planck_case_index (last_activity, case_id);
CREATE INDEX IF NOT EXISTS planck_case_index_job ON {s}.planck_case_index (job, last_activity, case_id);
CREATE INDEX IF NOT EXISTS planck_case_index_surface ON {s}.planck_case_index (surface, last_activity, case_id);
CREATE TABLE IF NOT EXISTS {s}.planck_operator_index (
    operator TEXT COLLATE \"C\" PRIMARY KEY,
    version  BIGINT NOT NULL,
    status   TEXT   NOT NULL,
    surfaces TEXT   NOT NULL
);
INSERT INTO {s}.planck_meta (key, value)
    SELECT 'index_state', CASE WHEN EXISTS (SELECT 1 FROM {s}.planck_events)
                               THEN 'needs_rebuild' ELSE 'ready' END
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
UPDATE {s}.planck_meta SET value = '2' WHERE key = 'schema_version';"
        )
    }
}

fn backend(what: &'static str) -> impl FnOnce(postgres::Error) -> StoreError {
    move |err| StoreError::backend(what, err)
}

fn is_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

fn to_i64(case: &str, what: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid {
        case: case.to_string(),
        message: format!("{what} {n} is too large to store"),
    })
}

fn json<T: serde::Serialize>(case: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        case: case.to_string(),
        message: format!("does not serialize: {e}"),
    })
}

fn is_unique_violation(err: &postgres::Error) -> bool {
    err.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A connection and the statements prepared on it (each hot statement is parsed once per
/// connection, then every call is one round trip).
struct Session {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A pooled connection: goes back to the pool when dropped, unless it broke.
struct Conn<'a> {
    store: &'a PostgresStore,
    session: Option<Session>,
}

impl Conn<'_> {
    fn session(&mut self) -> Result<&mut Session, StoreError> {
        self.session.as_mut().ok_or_else(|| {
            StoreError::backend("using a connection", "the connection was already returned")
        })
    }

    fn client(&mut self) -> Result<&mut Client, StoreError> {
        Ok(&mut self.session()?.client)
    }

    /// `sql` prepared on this connection (once; later calls reuse it).
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        let session = self.session()?;
        if let Some(statement) = session.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = session
            .client
            .prepare(sql)
            .map_err(backend("preparing a statement"))?;
        session
            .statements
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && !session.client.is_closed()
        {
            let mut idle = self.store.idle();
            if idle.len() < self.store.max_idle {
                idle.push(session);
            }
        }
    }
}

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://user:password@host:port/database`, or
    /// the key/value form `host=… user=… dbname=…`), create the schema if it is missing, and
    /// return the store. TLS is not used: run the database on a trusted network or loopback.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, PostgresOptions::default())
    }

    /// [`PostgresStore::connect`] with options (a schema of its own, the pool size).
    pub fn connect_with(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        if !is_schema_name(&options.schema) {
            return Err(StoreError::backend(
                "connecting",
                format!(
                    "`{}` is not a usable schema name: use lowercase letters, digits and `_`, at most 63 bytes",
                    options.schema
                ),
            ));
        }
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::backend("reading the database URL", e))?;
        let store = PostgresStore {
            config,
            idle: Mutex::new(Vec::new()),
            max_idle: options.max_idle,
            sql: Sql::new(&options.schema),
            schema: options.schema,
            index_ready: std::sync::atomic::AtomicBool::new(false),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The store's own one-row statements in `schema`, in the order a command's rows are
    /// written: create the case's version row (`$1` case, `$2` version), move it (`$1` case,
    /// `$2` expected version, `$3` new version), insert an event, the idempotency record, a
    /// signal, and upsert the case's index row. Not part of the API: the PostgreSQL bench's
    /// raw-insert floor (`benches/peers/pg_instances.rs`) runs them, so that the floor writes
    /// exactly the rows and columns the store writes.
    #[doc(hidden)]
    pub fn row_statements(schema: &str) -> [String; 6] {
        let sql = Sql::new(schema);
        [
            sql.insert_case,
            sql.bump_case,
            sql.insert_event,
            sql.insert_key,
            sql.insert_signal,
            sql.upsert_case_row,
        ]
    }

    /// Drop the schema and everything in it (tests use it to clean up a schema of their own).
    /// Refuses to drop `public`.
    pub fn drop_schema(&self) -> Result<(), StoreError> {
        if self.schema == "public" {
            return Err(StoreError::backend(
                "dropping the schema",
                "refusing to drop `public`",
            ));
        }
        let mut conn = self.conn()?;
        conn.client()?
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .map_err(backend("dropping the schema"))
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Session>> {
        // The pool holds only connections nobody is using; a panic cannot leave one half-used.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let reused = self.idle().pop();
        let session = match reused {
            Some(session) if !session.client.is_closed() => session,
            _ => Session {
                client: self
                    .config
                    .connect(NoTls)
                    .map_err(backend("connecting to PostgreSQL"))?,
                statements: HashMap::new(),
            },
        };
        Ok(Conn {
            store: self,
            session: Some(session),
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let client = conn.client()?;
        let mut tx = client
            .transaction()
            .map_err(backend("creating the schema"))?;
        // Instances starting together create the schema one at a time.
        tx.execute(
            "SELECT pg_advisory_xact_lock(1886151523, hashtext($1))",
            &[&self.schema],
        )
        .map_err(backend("locking the schema"))?;
        tx.batch_execute(&Sql::schema(&self.schema))
            .map_err(backend("creating the schema"))?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT value FROM {}.planck_meta WHERE key = 'schema_version'",
                    self.schema
                ),
                &[],
            )
            .map_err(backend("reading the schema version"))?;
        let mut version: String = row
            .try_get(0)
            .map_err(backend("reading the schema version"))?;
        if version == "1" {
            tx.batch_execute(&Sql::upgrade_v1(&self.schema))
                .map_err(backend("upgrading the schema from version 1"))?;
            version = PG_SCHEMA_VERSION.to_string();
        }
        if version != PG_SCHEMA_VERSION.to_string() {
            return Err(StoreError::backend(
                "opening the database",
                format!(
                    "its schema version is {version}; this build of planck reads version {PG_SCHEMA_VERSION}"
                ),
            ));
        }
        tx.commit().map_err(backend("creating the schema"))
    }

    /// Deliver up to `limit` pending signals through `transport`, oldest first, safely
    /// alongside any number of other workers (threads or processes) doing the same.
    ///
    /// The signals are taken with `SELECT … FOR UPDATE SKIP LOCKED` inside one transaction
    /// that stays open while they are published: another worker skips them (it takes the next
    /// ones instead), so each signal is with one worker at a time. A signal is marked delivered
    /// in the same transaction when its publish succeeds; one whose publish fails stays
    /// pending. When the worker dies mid-batch, the transaction rolls back and the whole batch
    /// is offered again (delivery is at least once; consumers drop repeats by signal id).
    /// Signals of one case are offered in order, but two workers may deliver two signals of
    /// one case at the same moment.
    pub fn dispatch(
        &self,
        transport: &(impl Transport + ?Sized),
        limit: usize,
    ) -> Result<Dispatched, StoreError> {
        let mut report = Dispatched::default();
        if limit == 0 {
            return Ok(report);
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let client = conn.client()?;
        let mut tx = client
            .transaction()
            .map_err(backend("dispatching signals"))?;
        let rows = tx
            .query(&self.sql.claim, &[&limit])
            .map_err(backend("claiming signals"))?;
        let signals = rows
            .iter()
            .map(signal_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for signal in signals {
            match transport.publish(&signal) {
                Ok(()) => report.delivered.push(signal.id),
                Err(_) => report.failed.push(signal.id),
            }
        }
        if !report.delivered.is_empty() {
            tx.execute(&self.sql.mark, &[&report.delivered])
                .map_err(backend("marking signals delivered"))?;
        }
        tx.commit().map_err(backend("committing a dispatch"))?;
        Ok(report)
    }
}

fn signal_from_row(row: &Row) -> Result<StoredSignal, StoreError> {
    let id: String = row.try_get(0).map_err(backend("reading the outbox"))?;
    let payload: String = row.try_get(4).map_err(backend("reading the outbox"))?;
    let payload = serde_json::from_str(&payload).map_err(|e| {
        StoreError::corrupt(
            id.clone(),
            "the signal payload does not decode",
            Some(Box::new(e)),
        )
    })?;
    Ok(StoredSignal {
        case_id: row.try_get(1).map_err(backend("reading the outbox"))?,
        kind: row.try_get(2).map_err(backend("reading the outbox"))?,
        at: row.try_get(3).map_err(backend("reading the outbox"))?,
        payload,
        event_id: row.try_get(5).map_err(backend("reading the outbox"))?,
        event_digest: row.try_get(6).map_err(backend("reading the outbox"))?,
        id,
    })
}

fn record_from_row(row: &Row) -> Result<IdempotencyRecord, StoreError> {
    (|| {
        Ok::<_, postgres::Error>(IdempotencyRecord {
            key: row.try_get(0)?,
            fingerprint: row.try_get(1)?,
            case_id: row.try_get(2)?,
            outcome: row.try_get(3)?,
            recorded_at: row.try_get(4)?,
        })
    })()
    .map_err(backend("reading an idempotency record"))
}

fn event_from_row(case: &str, row: &Row, at: usize) -> Result<StoredEvent, StoreError> {
    let undecodable = |e: postgres::Error| {
        StoreError::corrupt(case, "a row of the case does not decode", Some(Box::new(e)))
    };
    let event_id: String = row.try_get(at).map_err(undecodable)?;
    let bad = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| {
        StoreError::corrupt(case, format!("event `{event_id}`: {what}"), Some(e))
    };
    let schema: i32 = row.try_get(at + 2).map_err(undecodable)?;
    let seq: i64 = row.try_get(at + 6).map_err(undecodable)?;
    let actor: String = row.try_get(at + 7).map_err(undecodable)?;
    let payload: String = row.try_get(at + 11).map_err(undecodable)?;
    Ok(StoredEvent {
        event_type: row.try_get(at + 1).map_err(undecodable)?,
        schema_version: u32::try_from(schema)
            .map_err(|e| bad("schema version out of range", Box::new(e)))?,
        ts_utc: row.try_get(at + 3).map_err(undecodable)?,
        ts_ms: row.try_get(at + 4).map_err(undecodable)?,
        case_id: row.try_get(at + 5).map_err(undecodable)?,
        host_ts_ms: row.try_get(at + 14).map_err(undecodable)?,
        seq: u64::try_from(seq).map_err(|e| bad("sequence number out of range", Box::new(e)))?,
        actor: serde_json::from_str(&actor)
            .map_err(|e| bad("the actor does not decode", Box::new(e)))?,
        surface: row.try_get(at + 8).map_err(undecodable)?,
        surface_fingerprint: row.try_get(at + 9).map_err(undecodable)?,
        idempotency_key: row.try_get(at + 10).map_err(undecodable)?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| bad("the payload does not decode", Box::new(e)))?,
        prev_digest: row.try_get(at + 12).map_err(undecodable)?,
        digest: row.try_get(at + 13).map_err(undecodable)?,
        event_id,
    })
}

/// Column `i` of `row`, or the error `read` makes of a failure to decode it.
fn column<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
    read: fn(postgres::Error) -> StoreError,
) -> Result<T, StoreError> {
    row.try_get(i).map_err(read)
}

/// A `planck_case_index` row (the columns of [`CASE_COLUMNS`] from column `at`).
fn case_from_row(row: &Row, at: usize) -> Result<CaseIndex, StoreError> {
    fn read(e: postgres::Error) -> StoreError {
        StoreError::corrupt("the index", "a row does not decode", Some(Box::new(e)))
    }
    CaseColumns {
        case: column(row, at, read)?,
        version: column(row, at + 1, read)?,
        surface: column(row, at + 2, read)?,
        surface_version: column(row, at + 3, read)?,
        task: column(row, at + 4, read)?,
        assignee: column(row, at + 5, read)?,
        job: column(row, at + 6, read)?,
        owner: column(row, at + 7, read)?,
        phase: column(row, at + 8, read)?,
        stage: column(row, at + 9, read)?,
        service_event: column(row, at + 10, read)?,
        pending_approval: column(row, at + 11, read)?,
        queue: column(row, at + 12, read)?,
        claim_open: column(row, at + 13, read)?,
        completed_visible: column(row, at + 14, read)?,
        created_at: column(row, at + 15, read)?,
        last_activity: column(row, at + 16, read)?,
        next_due_at: column(row, at + 17, read)?,
    }
    .decode()
}

fn operator_from_row(row: &Row) -> Result<OperatorIndex, StoreError> {
    fn read(e: postgres::Error) -> StoreError {
        backend("reading the operator index")(e)
    }
    OperatorColumns {
        operator: column(row, 0, read)?,
        version: column(row, 1, read)?,
        status: column(row, 2, read)?,
        surfaces: column(row, 3, read)?,
    }
    .decode()
}

/// An event row read by the feed: failures name the event's case when it can be read.
fn event_from_row_named(row: &Row, at: usize) -> Result<StoredEvent, StoreError> {
    let case: String = row
        .try_get(at + 5)
        .unwrap_or_else(|_| "the feed".to_string());
    event_from_row(&case, row, at)
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Upsert `row` inside `tx`.
    fn write_row(
        &self,
        tx: &mut postgres::Transaction<'_>,
        row: &IndexRow,
    ) -> Result<(), StoreError> {
        let stream = row.stream();
        let version = to_i64(&stream, "version", row.version())?;
        match row {
            IndexRow::Case(row) => {
                tx.execute(
                    &self.sql.upsert_case_row,
                    &[
                        &row.case,
                        &version,
                        &row.surface,
                        &i64::from(row.surface_version),
                        &row.task.map(TaskState::as_str),
                        &row.assignee,
                        &row.job.map(JobState::as_str),
                        &row.owner,
                        &row.phase,
                        &row.stage,
                        &row.service_event.map(ServiceEventState::as_str),
                        &row.pending_approval,
                        &row.queue.map(QueueNeed::as_str),
                        &row.claim_open,
                        &row.completed_visible,
                        &row.created_at,
                        &row.last_activity,
                        &row.next_due_at,
                    ],
                )
                .map_err(backend("writing the index row"))?;
            }
            IndexRow::Operator(row) => {
                let surfaces = json(&stream, &row.surfaces)?;
                tx.execute(
                    &self.sql.upsert_operator_row,
                    &[&row.operator, &version, &row.status, &surfaces],
                )
                .map_err(backend("writing the index row"))?;
            }
        }
        Ok(())
    }

    /// Fail with [`StoreError::IndexNotReady`] unless the index state is `ready` (remembered
    /// once seen, so a ready index costs no round trip).
    fn ready(&self, client: &mut Client) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.index_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.state(client)? {
            IndexState::Ready => {
                self.index_ready.store(true, Ordering::Release);
                Ok(())
            }
            IndexState::NeedsRebuild => Err(StoreError::IndexNotReady),
        }
    }

    fn state(&self, client: &mut Client) -> Result<IndexState, StoreError> {
        let row = client
            .query_opt(&self.sql.index_state, &[])
            .map_err(backend("reading the index state"))?;
        let state: Option<String> = match row {
            Some(row) => row.try_get(0).map_err(backend("reading the index state"))?,
            None => None,
        };
        Ok(if state.as_deref() == Some("ready") {
            IndexState::Ready
        } else {
            IndexState::NeedsRebuild
        })
    }

    fn cases_query(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<CaseIndex>, StoreError> {
        let mut conn = self.conn()?;
        let client = conn.client()?;
        self.ready(client)?;
        let rows = client
            .query(sql, params)
            .map_err(backend("reading the index"))?;
        rows.iter().map(|row| case_from_row(row, 0)).collect()
    }

    /// Number every committed event that has no position yet (the sequencer of the module
    /// docs). [`Store::feed`] runs it before each read; a host may also run it on a timer so
    /// that readers find positions ready. Returns how many events it numbered.
    pub fn sequence(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let client = conn.client()?;
        let mut numbered = 0;
        loop {
            let mut tx = client
                .transaction()
                .map_err(backend("sequencing the feed"))?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(1886151524, hashtext($1))",
                &[&self.schema],
            )
            .map_err(backend("locking the sequencer"))?;
            let n = tx
                .execute(&self.sql.sequence, &[])
                .map_err(backend("sequencing the feed"))?;
            tx.commit().map_err(backend("sequencing the feed"))?;
            numbered += n;
            if n < SEQUENCE_BATCH as u64 {
                return Ok(numbered);
            }
        }
    }
}

/// What the one-statement append did.
enum AtOnce {
    /// Committed.
    Done,
    /// The version claim took no row: nothing was written.
    Stale,
    /// A unique violation rolled the statement back: the transaction path gives the answer.
    Violation,
}

/// An event, with its columns that need converting, ready to write.
type EventRow<'a> = (&'a StoredEvent, i64, i32, String, String);

impl PostgresStore {
    /// The append as one statement ([`Sql::append`]): one round trip.
    fn append_at_once(
        &self,
        conn: &mut Conn<'_>,
        append: &Append<'_>,
        rows: &[EventRow<'_>],
        signals: &[(&StoredSignal, String)],
        expected: i64,
        new_version: i64,
    ) -> Result<AtOnce, StoreError> {
        let case = append.stream;
        let statement = conn.statement(&self.sql.append)?;
        let column = |f: fn(&EventRow<'_>) -> String| rows.iter().map(f).collect::<Vec<_>>();
        let event_ids = column(|r| r.0.event_id.clone());
        let types = column(|r| r.0.event_type.clone());
        let schemas: Vec<i32> = rows.iter().map(|r| r.2).collect();
        let ts_utc = column(|r| r.0.ts_utc.clone());
        let ts_ms: Vec<i64> = rows.iter().map(|r| r.0.ts_ms).collect();
        let case_ids = column(|r| r.0.case_id.clone());
        let seqs: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let actors = column(|r| r.3.clone());
        let surfaces = column(|r| r.0.surface.clone());
        let fingerprints = column(|r| r.0.surface_fingerprint.clone());
        let keys: Vec<Option<String>> = rows.iter().map(|r| r.0.idempotency_key.clone()).collect();
        let payloads = column(|r| r.4.clone());
        let prev = column(|r| r.0.prev_digest.clone());
        let digests = column(|r| r.0.digest.clone());
        let host_ts: Vec<Option<i64>> = rows.iter().map(|r| r.0.host_ts_ms).collect();
        let signal =
            |f: fn(&StoredSignal) -> String| signals.iter().map(|(s, _)| f(s)).collect::<Vec<_>>();
        let signal_ids = signal(|s| s.id.clone());
        let signal_cases = signal(|s| s.case_id.clone());
        let kinds = signal(|s| s.kind.clone());
        let ats: Vec<i64> = signals.iter().map(|(s, _)| s.at).collect();
        let signal_payloads: Vec<String> = signals.iter().map(|(_, p)| p.clone()).collect();
        let signal_events = signal(|s| s.event_id.clone());
        let signal_digests = signal(|s| s.event_digest.clone());
        let record = append.idempotency;
        let row = match append.index {
            Some(IndexRow::Case(row)) => Some(row),
            _ => None,
        };
        let row_version = row
            .map(|r| to_i64(case, "version", r.version))
            .transpose()?;
        let row_surface_version = row.map(|r| i64::from(r.surface_version));
        let result = conn.client()?.query_one(
            &statement,
            &[
                &case,
                &expected,
                &new_version,
                &event_ids,
                &types,
                &schemas,
                &ts_utc,
                &ts_ms,
                &case_ids,
                &seqs,
                &actors,
                &surfaces,
                &fingerprints,
                &keys,
                &payloads,
                &prev,
                &digests,
                &host_ts,
                &record.map(|r| r.key.as_str()),
                &record.map(|r| r.fingerprint.as_str()),
                &record.map(|r| r.case_id.as_str()),
                &record.map(|r| r.outcome.as_str()),
                &record.map(|r| r.recorded_at),
                &signal_ids,
                &signal_cases,
                &kinds,
                &ats,
                &signal_payloads,
                &signal_events,
                &signal_digests,
                &row.map(|r| r.case.as_str()),
                &row_version,
                &row.map(|r| r.surface.as_str()),
                &row_surface_version,
                &row.and_then(|r| r.task.map(TaskState::as_str)),
                &row.and_then(|r| r.assignee.as_deref()),
                &row.and_then(|r| r.job.map(JobState::as_str)),
                &row.and_then(|r| r.owner.as_deref()),
                &row.and_then(|r| r.phase.as_deref()),
                &row.and_then(|r| r.stage.as_deref()),
                &row.and_then(|r| r.service_event.map(ServiceEventState::as_str)),
                &row.and_then(|r| r.pending_approval.as_deref()),
                &row.and_then(|r| r.queue.map(QueueNeed::as_str)),
                &row.map(|r| r.claim_open),
                &row.map(|r| r.completed_visible),
                &row.map(|r| r.created_at),
                &row.map(|r| r.last_activity),
                &row.and_then(|r| r.next_due_at),
            ],
        );
        match result {
            Ok(found) => {
                let claimed: i64 = found.try_get(0).map_err(backend("appending events"))?;
                Ok(if claimed == 1 {
                    AtOnce::Done
                } else {
                    AtOnce::Stale
                })
            }
            Err(err) if is_unique_violation(&err) => Ok(AtOnce::Violation),
            Err(err) => Err(StoreError::backend("appending events", err)),
        }
    }
}

impl Store for PostgresStore {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.load_after(case, 0)
    }

    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let load = conn.statement(&self.sql.load)?;
        let rows = conn
            .client()?
            .query(&load, &[&case, &after])
            .map_err(backend("loading a case"))?;
        rows.iter()
            .map(|row| event_from_row(case, row, 0))
            .collect()
    }

    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
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
        // Serialize everything before opening the transaction.
        let mut rows = Vec::with_capacity(events.len());
        for e in events {
            rows.push((
                e,
                to_i64(case, "sequence number", e.seq)?,
                i32::try_from(e.schema_version).map_err(|_| StoreError::Invalid {
                    case: case.to_string(),
                    message: format!("schema version {} is too large", e.schema_version),
                })?,
                json(case, &e.actor)?,
                json(case, &e.payload)?,
            ));
        }
        let mut signals = Vec::with_capacity(outbox.len());
        for s in outbox {
            signals.push((s, json(case, &s.payload)?));
        }
        let expected = to_i64(case, "version", expected_version)?;
        let new_version = to_i64(
            case,
            "version",
            expected_version.saturating_add(events.len() as u64),
        )?;
        let conflict = |actual: Option<u64>| StoreError::Conflict {
            case: case.to_string(),
            expected: expected_version,
            actual,
        };

        let mut conn = self.conn()?;
        // The usual append (events, and no key for sealed data to write or destroy, and no
        // operator row) is one statement; the rest, and the answers to unique violations, take
        // the transaction below.
        let at_once = !rows.is_empty()
            && case_key.is_none()
            && !erase_case_key
            && !matches!(append.index, Some(IndexRow::Operator(_)));
        if at_once {
            match self.append_at_once(&mut conn, append, &rows, &signals, expected, new_version)? {
                AtOnce::Done => return Ok(Committed::unnumbered()),
                AtOnce::Stale => {
                    let case_version = conn.statement(&self.sql.case_version)?;
                    let actual = conn
                        .client()?
                        .query_opt(&case_version, &[&case])
                        .ok()
                        .flatten()
                        .and_then(|row| row.try_get::<_, i64>(0).ok())
                        .map_or(Some(0), |v| u64::try_from(v).ok());
                    return Err(conflict(actual));
                }
                AtOnce::Violation => {}
            }
        }
        let client = conn.client()?;
        let mut tx = client
            .transaction()
            .map_err(backend("beginning an append"))?;

        // The expected-version check, decided by the database (see the module docs).
        let claimed = if events.is_empty() {
            // Nothing to append: only check the version (no row to lock for a new case).
            let row = tx
                .query_opt(&self.sql.case_version, &[&case])
                .map_err(backend("reading the case version"))?;
            let actual = match row {
                Some(row) => row
                    .try_get::<_, i64>(0)
                    .map_err(backend("reading the case version"))?,
                None => 0,
            };
            actual == expected
        } else if expected == 0 {
            tx.execute(&self.sql.insert_case, &[&case, &new_version])
                .map_err(backend("creating a case"))?
                == 1
        } else {
            tx.execute(&self.sql.bump_case, &[&case, &expected, &new_version])
                .map_err(backend("moving the case version"))?
                == 1
        };
        if !claimed {
            let actual = tx
                .query_opt(&self.sql.case_version, &[&case])
                .ok()
                .flatten()
                .and_then(|row| row.try_get::<_, i64>(0).ok())
                .map_or(Some(0), |v| u64::try_from(v).ok());
            return Err(conflict(actual));
        }

        if let Some(r) = idempotency {
            let written = tx
                .execute(
                    &self.sql.insert_key,
                    &[
                        &r.key,
                        &r.fingerprint,
                        &r.case_id,
                        &r.outcome,
                        &r.recorded_at,
                    ],
                )
                .map_err(backend("recording an idempotency key"))?;
            if written != 1 {
                return Err(StoreError::KeyTaken { key: r.key.clone() });
            }
        }

        if !rows.is_empty() {
            let insert = tx
                .prepare(&self.sql.insert_event)
                .map_err(backend("appending events"))?;
            for (e, seq, schema, actor, payload) in &rows {
                tx.execute(
                    &insert,
                    &[
                        &e.event_id,
                        &e.event_type,
                        schema,
                        &e.ts_utc,
                        &e.ts_ms,
                        &e.case_id,
                        seq,
                        actor,
                        &e.surface,
                        &e.surface_fingerprint,
                        &e.idempotency_key,
                        payload,
                        &e.prev_digest,
                        &e.digest,
                        &e.host_ts_ms,
                    ],
                )
                .map_err(|err| {
                    if is_unique_violation(&err) {
                        // The case row lock makes this unreachable; the key backs it up.
                        conflict(None)
                    } else {
                        StoreError::backend("appending events", err)
                    }
                })?;
            }
        }

        if !signals.is_empty() {
            let insert = tx
                .prepare(&self.sql.insert_signal)
                .map_err(backend("writing the outbox"))?;
            for (s, payload) in &signals {
                let written = tx
                    .execute(
                        &insert,
                        &[
                            &s.id,
                            &s.case_id,
                            &s.kind,
                            &s.at,
                            payload,
                            &s.event_id,
                            &s.event_digest,
                        ],
                    )
                    .map_err(backend("writing the outbox"))?;
                if written != 1 {
                    return Err(StoreError::Invalid {
                        case: case.to_string(),
                        message: format!("signal `{}` is already in the outbox", s.id),
                    });
                }
            }
        }

        if let Some(row) = append.index {
            self.write_row(&mut tx, row)?;
        }
        if let Some(key) = case_key {
            let written = tx
                .execute(&self.sql.insert_case_key, &[&case, &key])
                .map_err(backend("writing a case key"))?;
            if written != 1 {
                return Err(StoreError::Invalid {
                    case: case.to_string(),
                    message: "the case already has a key for sealed personal data".into(),
                });
            }
        }
        if erase_case_key {
            tx.execute(&self.sql.delete_case_key, &[&case])
                .map_err(backend("destroying a case key"))?;
        }

        tx.commit().map_err(|err| {
            if is_unique_violation(&err) {
                conflict(None)
            } else {
                StoreError::backend("committing an append", err)
            }
        })?;
        // Positions are given later, by the sequencer (see the module docs).
        Ok(Committed::unnumbered())
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut conn = self.conn()?;
        let get_key = conn.statement(&self.sql.get_key)?;
        let row = conn
            .client()?
            .query_opt(&get_key, &[&key])
            .map_err(backend("looking up an idempotency key"))?;
        row.as_ref().map(record_from_row).transpose()
    }

    fn cases(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.cases, &[])
            .map_err(backend("listing cases"))?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(backend("listing cases")))
            .collect()
    }

    fn pending_signals(&self, limit: usize) -> Result<Vec<StoredSignal>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.pending, &[&limit])
            .map_err(backend("reading the outbox"))?;
        rows.iter().map(signal_from_row).collect()
    }

    fn mark_delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        let mark = conn.statement(&self.sql.mark)?;
        conn.client()?
            .execute(&mark, &[&ids])
            .map_err(backend("marking signals delivered"))?;
        Ok(())
    }

    fn desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError> {
        let mut conn = self.conn()?;
        let client = conn.client()?;
        self.ready(client)?;
        let rows = client
            .query(&self.sql.desk, &[&operator, &limit_param(limit)])
            .map_err(backend("reading the desk"))?;
        let mut desk = DeskRows::default();
        for row in &rows {
            let slot: i32 = row.try_get(0).map_err(backend("reading the desk"))?;
            let case = case_from_row(row, 2)?;
            match slot {
                0 => desk.queued.push(case),
                1 => desk.active.push(case),
                _ => desk.completed.push(case),
            }
        }
        Ok(desk)
    }

    fn queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        self.cases_query(&self.sql.queue, &[&limit_param(limit)])
    }

    fn list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError> {
        let table = format!("{}.planck_case_index", self.schema);
        let Some(query) = ListQuery::new(&table, filter, after, limit, |n| format!("${n}")) else {
            return Ok(Vec::new());
        };
        let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = query
            .values
            .into_iter()
            .map(|value| -> Box<dyn postgres::types::ToSql + Sync> {
                match value {
                    SqlValue::Text(text) => Box::new(text),
                    SqlValue::Integer(n) => Box::new(n),
                }
            })
            .collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref()).collect();
        self.cases_query(&query.sql, &refs)
    }

    fn due(&self, now: Millis, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        self.cases_query(&self.sql.due, &[&now, &limit_param(limit)])
    }

    fn operators(&self) -> Result<Vec<OperatorIndex>, StoreError> {
        let mut conn = self.conn()?;
        let client = conn.client()?;
        self.ready(client)?;
        let none: Option<&str> = None;
        let rows = client
            .query(&self.sql.operator_rows, &[&none])
            .map_err(backend("reading the operator index"))?;
        rows.iter().map(operator_from_row).collect()
    }

    fn index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError> {
        let mut conn = self.conn()?;
        let client = conn.client()?;
        match stream.strip_prefix(OPERATOR_STREAM_PREFIX) {
            Some(id) => {
                let rows = client
                    .query(&self.sql.operator_rows, &[&Some(id)])
                    .map_err(backend("reading the operator index"))?;
                rows.first()
                    .map(operator_from_row)
                    .transpose()
                    .map(|row| row.map(IndexRow::Operator))
            }
            None => {
                let row = client
                    .query_opt(&self.sql.case_row, &[&stream])
                    .map_err(backend("reading the index"))?;
                row.map(|row| case_from_row(&row, 0))
                    .transpose()
                    .map(|row| row.map(IndexRow::Case))
            }
        }
    }

    fn index_state(&self) -> Result<IndexState, StoreError> {
        let mut conn = self.conn()?;
        self.state(conn.client()?)
    }

    fn begin_reindex(&self) -> Result<(), StoreError> {
        self.index_ready
            .store(false, std::sync::atomic::Ordering::Release);
        let mut conn = self.conn()?;
        conn.client()?
            .execute(&self.sql.set_index_state, &[&"needs_rebuild"])
            .map_err(backend("setting the index state"))?;
        Ok(())
    }

    fn reindex(
        &self,
        stream: &str,
        version: u64,
        row: Option<&IndexRow>,
    ) -> Result<bool, StoreError> {
        if let Some(row) = row {
            check_append(&Append::new(stream, version, &[]).with_index(row))?;
        }
        let expected = to_i64(stream, "version", version)?;
        let mut conn = self.conn()?;
        let client = conn.client()?;
        let mut tx = client
            .transaction()
            .map_err(backend("beginning a reindex"))?;
        // The case row's lock orders this against any append to the stream.
        let actual = match tx
            .query_opt(&self.sql.lock_case, &[&stream])
            .map_err(backend("reading the case version"))?
        {
            Some(found) => found
                .try_get::<_, i64>(0)
                .map_err(backend("reading the case version"))?,
            None => 0,
        };
        if actual != expected {
            return Ok(false);
        }
        match row {
            Some(row) => self.write_row(&mut tx, row)?,
            None => {
                let sql = match stream.strip_prefix(OPERATOR_STREAM_PREFIX) {
                    Some(_) => format!(
                        "DELETE FROM {}.planck_operator_index WHERE operator = $1",
                        self.schema
                    ),
                    None => format!(
                        "DELETE FROM {}.planck_case_index WHERE case_id = $1",
                        self.schema
                    ),
                };
                let key = stream
                    .strip_prefix(OPERATOR_STREAM_PREFIX)
                    .unwrap_or(stream);
                tx.execute(&sql, &[&key])
                    .map_err(backend("removing an index row"))?;
            }
        }
        tx.commit().map_err(backend("committing a reindex"))?;
        Ok(true)
    }

    fn finish_reindex(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.client()?
            .execute(&self.sql.set_index_state, &[&"ready"])
            .map_err(backend("setting the index state"))?;
        Ok(())
    }

    fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.sequence()?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.feed, &[&after, &limit_param(limit)])
            .map_err(backend("reading the feed"))?;
        rows.iter()
            .map(|row| {
                let position: i64 = row.try_get(0).map_err(backend("reading the feed"))?;
                Ok(FeedEntry {
                    position: u64::try_from(position).map_err(|e| {
                        StoreError::corrupt(
                            "the feed",
                            "a position is out of range",
                            Some(Box::new(e)),
                        )
                    })?,
                    event: event_from_row_named(row, 1)?,
                })
            })
            .collect()
    }

    fn heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.heads, &[])
            .map_err(backend("reading stream heads"))?;
        rows.iter()
            .map(|row| {
                let stream: String = row.try_get(0).map_err(backend("reading stream heads"))?;
                let seq: i64 = row.try_get(1).map_err(backend("reading stream heads"))?;
                let version = u64::try_from(seq).map_err(|e| {
                    StoreError::corrupt(
                        stream.clone(),
                        "a sequence number is out of range",
                        Some(Box::new(e)),
                    )
                })?;
                Ok(StreamHead {
                    stream,
                    version,
                    digest: row.try_get(2).map_err(backend("reading stream heads"))?,
                })
            })
            .collect()
    }

    fn outbox_of(&self, stream: &str) -> Result<Vec<StoredSignal>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.outbox_of, &[&stream])
            .map_err(backend("reading the outbox"))?;
        rows.iter().map(signal_from_row).collect()
    }

    fn idempotency_of(&self, stream: &str) -> Result<Vec<IdempotencyRecord>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.keys_of, &[&stream])
            .map_err(backend("reading idempotency records"))?;
        rows.iter().map(record_from_row).collect()
    }

    fn referenced_streams(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.referenced, &[])
            .map_err(backend("listing referenced streams"))?;
        rows.iter()
            .map(|row| {
                row.try_get(0)
                    .map_err(backend("listing referenced streams"))
            })
            .collect()
    }

    fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn()?;
        let row = conn
            .client()?
            .query_opt(&self.sql.case_key, &[&stream])
            .map_err(backend("reading a case key"))?;
        row.map(|r| r.try_get(0).map_err(backend("reading a case key")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        assert!(is_schema_name("public"));
        assert!(is_schema_name("planck_test_1"));
        assert!(!is_schema_name("1abc"));
        assert!(!is_schema_name("a-b"));
        assert!(!is_schema_name("a; DROP TABLE x"));
        assert!(!is_schema_name(""));
        assert!(!is_schema_name(&"a".repeat(64)));
    }
}

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
//! - `planck_meta`: the schema version.
//!
//! Connections come from a small pool (one connection per concurrent call, kept for reuse), so
//! one `PostgresStore` may be shared by every thread of a process. Every append is one
//! transaction at `READ COMMITTED`, the PostgreSQL default; nothing here needs more.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::error::SqlState;
use postgres::{Client, NoTls, Row};

use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
    check_append,
};
use crate::host::transport::Transport;

/// The schema version this build writes and reads (kept in `planck_meta`).
pub const PG_SCHEMA_VERSION: i64 = 1;

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
    idle: Mutex<Vec<Client>>,
    max_idle: usize,
    schema: String,
    sql: Sql,
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
    case_version: String,
    insert_event: String,
    insert_key: String,
    insert_signal: String,
    get_key: String,
    cases: String,
    pending: String,
    claim: String,
    mark: String,
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
INSERT INTO {s}.planck_meta (key, value) VALUES ('schema_version', '{PG_SCHEMA_VERSION}')
    ON CONFLICT (key) DO NOTHING;"
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

/// A pooled connection: goes back to the pool when dropped, unless it broke.
struct Conn<'a> {
    store: &'a PostgresStore,
    client: Option<Client>,
}

impl Conn<'_> {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.client.as_mut().ok_or_else(|| {
            StoreError::backend("using a connection", "the connection was already returned")
        })
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            let mut idle = self.store.idle();
            if idle.len() < self.store.max_idle {
                idle.push(client);
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
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
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

    fn idle(&self) -> MutexGuard<'_, Vec<Client>> {
        // The pool holds only connections nobody is using; a panic cannot leave one half-used.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let reused = self.idle().pop();
        let client = match reused {
            Some(client) if !client.is_closed() => client,
            _ => self
                .config
                .connect(NoTls)
                .map_err(backend("connecting to PostgreSQL"))?,
        };
        Ok(Conn {
            store: self,
            client: Some(client),
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
        let version: String = row
            .try_get(0)
            .map_err(backend("reading the schema version"))?;
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

fn event_from_row(case: &str, row: &Row) -> Result<StoredEvent, StoreError> {
    let undecodable = |e: postgres::Error| {
        StoreError::corrupt(case, "a row of the case does not decode", Some(Box::new(e)))
    };
    let event_id: String = row.try_get(0).map_err(undecodable)?;
    let bad = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| {
        StoreError::corrupt(case, format!("event `{event_id}`: {what}"), Some(e))
    };
    let schema: i32 = row.try_get(2).map_err(undecodable)?;
    let seq: i64 = row.try_get(6).map_err(undecodable)?;
    let actor: String = row.try_get(7).map_err(undecodable)?;
    let payload: String = row.try_get(11).map_err(undecodable)?;
    Ok(StoredEvent {
        event_type: row.try_get(1).map_err(undecodable)?,
        schema_version: u32::try_from(schema)
            .map_err(|e| bad("schema version out of range", Box::new(e)))?,
        ts_utc: row.try_get(3).map_err(undecodable)?,
        ts_ms: row.try_get(4).map_err(undecodable)?,
        host_ts_ms: row.try_get(14).map_err(undecodable)?,
        case_id: row.try_get(5).map_err(undecodable)?,
        seq: u64::try_from(seq).map_err(|e| bad("sequence number out of range", Box::new(e)))?,
        actor: serde_json::from_str(&actor)
            .map_err(|e| bad("the actor does not decode", Box::new(e)))?,
        surface: row.try_get(8).map_err(undecodable)?,
        surface_fingerprint: row.try_get(9).map_err(undecodable)?,
        idempotency_key: row.try_get(10).map_err(undecodable)?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| bad("the payload does not decode", Box::new(e)))?,
        prev_digest: row.try_get(12).map_err(undecodable)?,
        digest: row.try_get(13).map_err(undecodable)?,
        event_id,
    })
}

impl Store for PostgresStore {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.load_after(case, 0)
    }

    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let rows = conn
            .client()?
            .query(&self.sql.load, &[&case, &after])
            .map_err(backend("loading a case"))?;
        rows.iter().map(|row| event_from_row(case, row)).collect()
    }

    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
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
        Ok(Committed::unnumbered())
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut conn = self.conn()?;
        let row = conn
            .client()?
            .query_opt(&self.sql.get_key, &[&key])
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
        conn.client()?
            .execute(&self.sql.mark, &[&ids])
            .map_err(backend("marking signals delivered"))?;
        Ok(())
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

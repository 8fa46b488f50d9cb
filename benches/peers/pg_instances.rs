//! PostgreSQL across instances: 1, 4 and 16 engine *processes* on one database, against a raw
//! insert floor of the same rows with the same commit settings, side by side in one run.
//!
//! Every side writes, per command, the rows the engine writes for it: the case's version row,
//! the events, the outbox rows, the case's index row and the idempotency record (every
//! command carries a key), in one transaction. The rows come from running the very
//! lifecycles (the 11 commands of the peer surface) through an engine on a `MemoryStore`,
//! before the clock starts.
//!
//! - **floor**: each process writes those rows into planck's own tables (a schema created by
//!   `PostgresStore`, so the same columns, keys and indexes) with the store's own one-row
//!   statements (`PostgresStore::row_statements`), prepared once, one transaction per command: `BEGIN`, the version row (`INSERT`, then `UPDATE … WHERE
//!   version = expected`), one `INSERT` per event, the key, one per signal, the index row's
//!   upsert, `COMMIT`. This is what a hand-written writer of the same rows does.
//! - **store**: each process hands the same rows to `PostgresStore::append` (no engine): the
//!   store's own write path alone.
//! - **engine**: each process opens its own `PostgresStore` on one schema and runs whole
//!   lifecycles on fresh cases through `Engine::execute`, one command after another, each
//!   with an idempotency key: the key lookup, the decision, the sealed envelopes, the append,
//!   and the mark of the published signals (the transport is `NullTransport`).
//!
//! All sides run on the same server, so they share its commit settings (whatever the server
//! was started with: `scripts/ci_postgres.sh` starts one with `fsync = off`,
//! `synchronous_commit = off`; the JSON says what the server reported). Figures are rows
//! (events) per second summed over the processes. The bench spawns itself as its children
//! (`--child engine|store|floor SCHEMA SECONDS`).
//!
//! Usage: `PLANCK_PG_URL=… cargo bench --features postgres --bench pg_instances -- [--quick]`
//! (`eval "$(bash scripts/ci_postgres.sh start)"` gives a throwaway server). Without
//! `PLANCK_PG_URL` it prints `{"skipped": …}`.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench stops loudly on a broken fixture"
)]

#[path = "../support/mod.rs"]
mod support;

use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use planck::audit::StoredEvent;
use planck::host::{
    Append, IdempotencyRecord, IndexRow, MemoryStore, PostgresOptions, PostgresStore, Store,
    StoredSignal,
};
use postgres::{Client, NoTls};
use serde_json::{Value, json};

/// The numbers of engine processes.
const LEVELS: [usize; 3] = [1, 4, 16];

fn url() -> Option<String> {
    std::env::var("PLANCK_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// One command's rows, as the engine wrote them.
struct Write {
    case: String,
    expected: u64,
    events: Vec<StoredEvent>,
    /// Each event's actor and payload as stored (JSON text).
    texts: Vec<(String, String)>,
    signals: Vec<StoredSignal>,
    /// Each signal's payload as stored (JSON text).
    signal_texts: Vec<String>,
    record: IdempotencyRecord,
    row: Option<IndexRow>,
}

/// The key of step `i` of `case` (every command carries one).
fn key(case: &str, i: usize) -> String {
    format!("{case}#{i}")
}

/// `n` lifecycles on fresh cases, as the rows of each command: run through an engine on a
/// `MemoryStore` and read back from it.
fn writes(n: usize, prefix: &str) -> Vec<Write> {
    let engine = support::engine(MemoryStore::new());
    let steps = support::lifecycle("peer-lifecycle");
    let mut out = Vec::new();
    for _ in 0..n {
        let case = support::fresh_case(prefix);
        let mut version = 0;
        for (i, s) in steps.iter().enumerate() {
            let key = key(&case, i);
            let command = planck::spine::Command::new(&case, s.body.clone());
            let receipt = engine.execute(&s.who, &command, Some(&key)).unwrap();
            let events = receipt.events().to_vec();
            if events.is_empty() {
                continue;
            }
            let signals: Vec<StoredSignal> = events
                .iter()
                .filter_map(StoredEvent::outbox_signal)
                .collect();
            let store = engine.store();
            let expected = version;
            version += events.len() as u64;
            out.push(Write {
                texts: events
                    .iter()
                    .map(|e| {
                        (
                            serde_json::to_string(&e.actor).unwrap(),
                            serde_json::to_string(&e.payload).unwrap(),
                        )
                    })
                    .collect(),
                signal_texts: signals
                    .iter()
                    .map(|s| serde_json::to_string(&s.payload).unwrap())
                    .collect(),
                record: store.idempotency(&key).unwrap().unwrap(),
                row: store.index_row(&case).unwrap(),
                case: case.clone(),
                expected,
                signals,
                events,
            });
        }
    }
    out
}

/// A floor child: write the rows for `secs`; rows (events) written and the time spent writing.
fn floor_child(url: &str, schema: &str, secs: f64) -> (u64, f64) {
    let mut client = Client::connect(url, NoTls).unwrap();
    let [new_case, bump, event, record, signal, row] =
        PostgresStore::row_statements(schema).map(|sql| client.prepare(&sql).unwrap());
    let prefix = format!("f{}", std::process::id());
    let (mut rows, mut spent) = (0u64, Duration::ZERO);
    while spent.as_secs_f64() < secs {
        // Sealing is not timed: only the database work is.
        for w in writes(50, &prefix) {
            if spent.as_secs_f64() >= secs {
                break;
            }
            let start = Instant::now();
            let mut t = client.transaction().unwrap();
            let version = i64::try_from(w.expected + w.events.len() as u64).unwrap();
            let claimed = if w.expected == 0 {
                t.execute(&new_case, &[&w.case, &version]).unwrap()
            } else {
                let expected = i64::try_from(w.expected).unwrap();
                t.execute(&bump, &[&w.case, &expected, &version]).unwrap()
            };
            assert_eq!(claimed, 1);
            for (e, (actor, payload)) in w.events.iter().zip(&w.texts) {
                t.execute(
                    &event,
                    &[
                        &e.event_id,
                        &e.event_type,
                        &i32::try_from(e.schema_version).unwrap(),
                        &e.ts_utc,
                        &e.ts_ms,
                        &e.case_id,
                        &i64::try_from(e.seq).unwrap(),
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
                .unwrap();
            }
            let r = &w.record;
            t.execute(
                &record,
                &[
                    &r.key,
                    &r.fingerprint,
                    &r.case_id,
                    &r.outcome,
                    &r.recorded_at,
                ],
            )
            .unwrap();
            for (s, payload) in w.signals.iter().zip(&w.signal_texts) {
                t.execute(
                    &signal,
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
                .unwrap();
            }
            if let Some(IndexRow::Case(c)) = &w.row {
                t.execute(
                    &row,
                    &[
                        &c.case,
                        &i64::try_from(c.version).unwrap(),
                        &c.surface,
                        &i64::from(c.surface_version),
                        &c.task.map(|x| x.as_str()),
                        &c.assignee,
                        &c.job.map(|x| x.as_str()),
                        &c.owner,
                        &c.phase,
                        &c.stage,
                        &c.service_event.map(|x| x.as_str()),
                        &c.pending_approval,
                        &c.queue.map(|x| x.as_str()),
                        &c.claim_open,
                        &c.completed_visible,
                        &c.created_at,
                        &c.last_activity,
                        &c.next_due_at,
                    ],
                )
                .unwrap();
            }
            t.commit().unwrap();
            spent += start.elapsed();
            rows += w.events.len() as u64;
        }
    }
    (rows, spent.as_secs_f64())
}

/// A store child: hand the rows to `PostgresStore::append` for `secs`; rows written and the
/// time spent appending.
fn store_child(url: &str, schema: &str, secs: f64) -> (u64, f64) {
    let store = PostgresStore::connect_with(
        url,
        PostgresOptions {
            schema: schema.to_string(),
            ..PostgresOptions::default()
        },
    )
    .unwrap();
    let prefix = format!("s{}", std::process::id());
    let (mut rows, mut spent) = (0u64, Duration::ZERO);
    while spent.as_secs_f64() < secs {
        for w in writes(50, &prefix) {
            if spent.as_secs_f64() >= secs {
                break;
            }
            let append = Append::new(&w.case, w.expected, &w.events)
                .with_idempotency(Some(&w.record))
                .with_outbox(&w.signals)
                .with_index(w.row.as_ref());
            let start = Instant::now();
            store.append(&append).unwrap();
            spent += start.elapsed();
            rows += w.events.len() as u64;
        }
    }
    (rows, spent.as_secs_f64())
}

/// An engine child: whole lifecycles through `Engine::execute` for `secs`; events appended and
/// the time taken.
fn engine_child(url: &str, schema: &str, secs: f64) -> (u64, f64) {
    let options = PostgresOptions {
        schema: schema.to_string(),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::connect_with(url, options).unwrap();
    let engine = support::engine(store);
    let steps = support::lifecycle("peer-lifecycle");
    let prefix = format!("e{}", std::process::id());
    let start = Instant::now();
    let mut rows = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let case = support::fresh_case(&prefix);
        for (i, s) in steps.iter().enumerate() {
            let command = planck::spine::Command::new(&case, s.body.clone());
            let receipt = engine
                .execute(&s.who, &command, Some(&key(&case, i)))
                .unwrap();
            assert!(receipt.is_applied(), "{}: {receipt:?}", s.label);
            rows += receipt.events().len() as u64;
        }
    }
    (rows, start.elapsed().as_secs_f64())
}

/// Run `n` children of `kind` at once on `schema`; the sum of their rows per second.
fn level(kind: &str, schema: &str, n: usize, secs: f64) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..n)
        .map(|_| {
            Process::new(&exe)
                .args(["--child", kind, schema, &secs.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0.0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a {kind} child failed");
        let line = String::from_utf8(out.stdout).unwrap();
        let mut parts = line.split_whitespace();
        let rows: f64 = parts.next().unwrap().parse().unwrap();
        let spent: f64 = parts.next().unwrap().parse().unwrap();
        total += rows / spent;
    }
    total
}

fn setting(client: &mut Client, name: &str) -> String {
    client
        .query_one(&format!("SHOW {name}"), &[])
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_else(|e| e.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let url = url().expect("PLANCK_PG_URL");
        let (kind, schema, secs) = (&args[1], &args[2], args[3].parse::<f64>().unwrap());
        let (rows, spent) = match kind.as_str() {
            "engine" => engine_child(&url, schema, secs),
            "store" => store_child(&url, schema, secs),
            _ => floor_child(&url, schema, secs),
        };
        println!("{rows} {spent}");
        return;
    }
    let Some(url) = url() else {
        println!(
            "{}",
            json!({"skipped": "PLANCK_PG_URL is not set (eval \"$(bash scripts/ci_postgres.sh start)\")"})
        );
        return;
    };
    let secs = if args.iter().any(|a| a == "--quick") {
        1.5
    } else {
        4.0
    };
    let mut admin = Client::connect(&url, NoTls).unwrap();
    let mut out = serde_json::Map::new();
    for name in [
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "server_version",
    ] {
        out.insert(format!("pg_{name}"), json!(setting(&mut admin, name)));
    }
    for n in LEVELS {
        let mut figures = Vec::new();
        for kind in ["floor", "store", "engine"] {
            // Each side on a fresh schema of planck's tables, dropped after.
            let schema = format!("pgbench_{kind}_{n}_{}", std::process::id());
            let store = PostgresStore::connect_with(
                &url,
                PostgresOptions {
                    schema: schema.clone(),
                    ..PostgresOptions::default()
                },
            )
            .unwrap();
            let rate = level(kind, &schema, n, secs);
            store.drop_schema().unwrap();
            out.insert(format!("pg_{kind}_{n}_rows_per_s"), json!(rate));
            figures.push(rate);
        }
        let (floor, store, engine) = (figures[0], figures[1], figures[2]);
        out.insert(format!("pg_engine_{n}_ratio"), json!(engine / floor));
        out.insert(format!("pg_store_{n}_ratio"), json!(store / floor));
        eprintln!(
            "{n:>2} processes: engine {engine:>9.0} rows/s, store alone {store:>9.0}, floor {floor:>9.0}: \
             engine {:.2}× the floor (goal ≥ 0.7×), store {:.2}×",
            engine / floor,
            store / floor
        );
    }
    println!("{}", Value::Object(out));
}

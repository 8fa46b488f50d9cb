//! PostgreSQL across instances: 1, 4 and 16 engine *processes* on one database, against a raw
//! insert floor of the same rows with the same commit settings, side by side in one run.
//!
//! - **engine**: each process opens its own `PostgresStore` on one schema and runs whole
//!   peer lifecycles (the 11 commands) on fresh cases through `Engine::execute`, one command
//!   after another: per command a `load_after`, the decision, the sealed envelopes and one
//!   append transaction (the case's version row, the events, the outbox rows).
//! - **floor**: each process inserts the very rows the engine writes for the same lifecycles
//!   (the envelope columns, the actor and payload JSON text, already serialized; sealed before
//!   the clock starts) into a table of the same schema, one transaction per command's events
//!   (the engine's grouping), with one prepared statement.
//!
//! Both sides run on the same server, so they share its commit settings (whatever the server
//! was started with: `scripts/ci_postgres.sh` starts one with `fsync = off`,
//! `synchronous_commit = off`; the JSON says what the server reported). Figures are rows
//! (events) per second summed over the processes. The bench spawns itself as its children
//! (`--child engine|floor SCHEMA SECONDS`).
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
use planck::host::{PostgresOptions, PostgresStore};
use postgres::{Client, NoTls};
use serde_json::{Value, json};

/// The numbers of engine processes.
const LEVELS: [usize; 3] = [1, 4, 16];

fn url() -> Option<String> {
    std::env::var("PLANCK_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

const FLOOR_TABLE: &str = "
CREATE TABLE IF NOT EXISTS {s}.events (
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
);";

/// One command's rows, serialized the way `PostgresStore` stores them.
type Tx = Vec<(StoredEvent, String, String)>;

/// `n` sealed lifecycles on fresh cases, as one transaction per command.
fn transactions(n: usize, prefix: &str) -> Vec<Tx> {
    let surface = support::peer_surface();
    let steps = support::lifecycle("peer-lifecycle");
    let mut out = Vec::new();
    for _ in 0..n {
        let case = support::fresh_case(prefix);
        let (_, per_step) = support::drive(&surface, &case, &steps);
        let mut events = support::sealed_lifecycle(&surface, &case).into_iter();
        for step in per_step {
            let tx: Tx = events
                .by_ref()
                .take(step.len())
                .map(|e| {
                    let actor = serde_json::to_string(&e.actor).unwrap();
                    let payload = serde_json::to_string(&e.payload).unwrap();
                    (e, actor, payload)
                })
                .collect();
            if !tx.is_empty() {
                out.push(tx);
            }
        }
    }
    out
}

/// A floor child: insert the rows for `secs`; rows written and the time spent inserting.
fn floor_child(url: &str, schema: &str, secs: f64) -> (u64, f64) {
    let mut client = Client::connect(url, NoTls).unwrap();
    let insert = client
        .prepare(&format!(
            "INSERT INTO {schema}.events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq,
                    actor, surface, surface_fingerprint, idempotency_key, payload, prev_digest, digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .unwrap();
    let prefix = format!("f{}", std::process::id());
    let (mut rows, mut spent) = (0u64, Duration::ZERO);
    while spent.as_secs_f64() < secs {
        // Sealing is not timed: only the database work is.
        let batch = transactions(200, &prefix);
        for tx in &batch {
            if spent.as_secs_f64() >= secs {
                break;
            }
            let start = Instant::now();
            let mut t = client.transaction().unwrap();
            for (e, actor, payload) in tx {
                t.execute(
                    &insert,
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
                    ],
                )
                .unwrap();
            }
            t.commit().unwrap();
            spent += start.elapsed();
            rows += tx.len() as u64;
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
        for s in &steps {
            let command = planck::spine::Command::new(&case, s.body.clone());
            let receipt = engine.execute(&s.who, &command, None).unwrap();
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
        let floor_schema = format!("pgbench_floor_{n}_{}", std::process::id());
        admin
            .batch_execute(&format!(
                "CREATE SCHEMA {floor_schema}; {}",
                FLOOR_TABLE.replace("{s}", &floor_schema)
            ))
            .unwrap();
        let engine_schema = format!("pgbench_engine_{n}_{}", std::process::id());
        let store = PostgresStore::connect_with(
            &url,
            PostgresOptions {
                schema: engine_schema.clone(),
                ..PostgresOptions::default()
            },
        )
        .unwrap();
        let floor = level("floor", &floor_schema, n, secs);
        let engine = level("engine", &engine_schema, n, secs);
        store.drop_schema().unwrap();
        admin
            .batch_execute(&format!("DROP SCHEMA {floor_schema} CASCADE"))
            .unwrap();
        out.insert(format!("pg_floor_{n}_rows_per_s"), json!(floor));
        out.insert(format!("pg_engine_{n}_rows_per_s"), json!(engine));
        out.insert(format!("pg_engine_{n}_ratio"), json!(engine / floor));
        eprintln!(
            "{n:>2} processes: engine {engine:>9.0} rows/s, floor {floor:>9.0} rows/s, {:.2}× (goal ≥ 0.7×)",
            engine / floor
        );
    }
    println!("{}", Value::Object(out));
}

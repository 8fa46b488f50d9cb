//! Durable commands per client, the way the durable peer (Restate, `benches/peers/restate/`) is
//! driven: N clients at once, each running whole peer lifecycles (the 11 commands) one command
//! after another, each command acknowledged only once its events are committed
//! (`synchronous = FULL`) before the client sends the next. Every command is timed on its own,
//! so each level reports commands per second and the p50 / p99 latency of one command.
//!
//! - `durable_sqlite_full`: `Engine::execute` on `SqliteStore` (FULL), 1 client: one commit
//!   and one fsync per command.
//! - `durable_group_commit`: `Engine::execute` on `GroupCommitSqliteStore` (FULL), 1, 16 and 64
//!   clients (threads): commands of different cases that arrive together share a commit.
//!
//! Each level runs on a fresh database: a warm-up run (not counted), then one measured run of a
//! fixed duration; clients stop starting commands when it ends and their last command counts.

use std::time::{Duration, Instant};

use planck::host::{
    GroupCommitSqliteStore, ManualClock, NullTransport, SqliteOptions, SqliteStore, Store,
    Synchronous,
};
use planck::spine::Command;
use serde_json::{Value, json};

use crate::driver::{self, LEVELS};
use crate::support::{self, Step};

type BenchEngine<S> = planck::engine::Engine<S, NullTransport, ManualClock>;

/// One client: each step through `Engine::execute`, timed, then checked applied.
fn client<S: Store>(engine: &BenchEngine<S>, steps: &[Step], run_for: Duration) -> Vec<Duration> {
    driver::client("d", steps, run_for, |case, s| {
        let command = Command::new(case, s.body.clone());
        let start = Instant::now();
        let receipt = engine.execute(&s.who, &command, None).unwrap();
        let took = start.elapsed();
        assert!(receipt.is_applied(), "{}: {receipt:?}", s.label);
        took
    })
}

/// One level on `engine`: a warm-up, then the measured run, as the JSON object the table reads.
fn level<S: Store + Sync>(
    engine: &BenchEngine<S>,
    clients: usize,
    warmup: Duration,
    run_for: Duration,
) -> Value {
    let steps = support::lifecycle("peer-lifecycle");
    driver::run(clients, || client(engine, &steps, warmup));
    let (latencies, elapsed) = driver::run(clients, || client(engine, &steps, run_for));
    driver::level(clients, latencies, elapsed)
}

/// Every durable-command figure.
pub fn figures(quick: bool) -> Vec<(&'static str, Value)> {
    let (warmup, run_for) = driver::durations(quick);
    let dir = tempfile::tempdir().unwrap();
    let full = || SqliteOptions {
        synchronous: Synchronous::Full,
        ..SqliteOptions::default()
    };

    let engine =
        support::engine(SqliteStore::open_with(dir.path().join("one.db"), full()).unwrap());
    let one = level(&engine, 1, warmup, run_for);
    drop(engine);

    let mut group = Vec::with_capacity(LEVELS.len());
    for clients in LEVELS {
        let path = dir.path().join(format!("group-{clients}.db"));
        let engine = support::engine(GroupCommitSqliteStore::open_with(path, full()).unwrap());
        group.push(level(&engine, clients, warmup, run_for));
    }
    vec![
        ("durable_sqlite_full", json!([one])),
        ("durable_group_commit", Value::Array(group)),
        ("durable_seconds_per_level", json!(run_for.as_secs_f64())),
    ]
}

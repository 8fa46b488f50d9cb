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

use std::sync::Barrier;
use std::time::{Duration, Instant};

use planck::host::{
    GroupCommitSqliteStore, ManualClock, NullTransport, SqliteOptions, SqliteStore, Store,
    Synchronous,
};
use planck::spine::Command;
use serde_json::{Value, json};

use crate::support::{self, Step};

/// The concurrency levels of the group-commit figure (the Restate driver's levels).
pub const LEVELS: [usize; 3] = [1, 16, 64];

type BenchEngine<S> = planck::engine::Engine<S, NullTransport, ManualClock>;

/// One client: lifecycles on fresh cases until `run_for` has passed; each command's latency.
fn client<S: Store>(engine: &BenchEngine<S>, steps: &[Step], run_for: Duration) -> Vec<Duration> {
    let end = Instant::now() + run_for;
    let mut latencies = Vec::with_capacity(4096);
    loop {
        let case = support::fresh_case("d");
        for s in steps {
            if Instant::now() >= end {
                return latencies;
            }
            let command = Command::new(&case, s.body.clone());
            let start = Instant::now();
            let receipt = engine.execute(&s.who, &command, None).unwrap();
            latencies.push(start.elapsed());
            assert!(receipt.is_applied(), "{}: {receipt:?}", s.label);
        }
    }
}

/// `clients` threads at once for `run_for`: every command's latency and the wall time.
fn run<S: Store + Sync>(
    engine: &BenchEngine<S>,
    clients: usize,
    run_for: Duration,
) -> (Vec<Duration>, Duration) {
    let steps = support::lifecycle("peer-lifecycle");
    let barrier = Barrier::new(clients + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (steps, barrier) = (&steps, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    client(engine, steps, run_for)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let latencies: Vec<Duration> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        (latencies, start.elapsed())
    })
}

/// The `p`-th percentile (0–100) of sorted latencies, in ms (the Restate driver's rule).
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((p / 100.0) * sorted.len() as f64) as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// One level on `engine`: a warm-up, then the measured run, as the JSON object the table reads.
fn level<S: Store + Sync>(
    engine: &BenchEngine<S>,
    clients: usize,
    warmup: Duration,
    run_for: Duration,
) -> Value {
    run(engine, clients, warmup);
    let (mut latencies, elapsed) = run(engine, clients, run_for);
    latencies.sort_unstable();
    let seconds = elapsed.as_secs_f64();
    json!({
        "clients": clients,
        "commands": latencies.len(),
        "seconds": seconds,
        "commands_per_s": latencies.len() as f64 / seconds,
        "p50_ms": percentile_ms(&latencies, 50.0),
        "p99_ms": percentile_ms(&latencies, 99.0),
        "max_ms": percentile_ms(&latencies, 100.0),
    })
}

/// Every durable-command figure.
pub fn figures(quick: bool) -> Vec<(&'static str, Value)> {
    let (warmup, run_for) = if quick {
        (Duration::from_millis(300), Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(5))
    };
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

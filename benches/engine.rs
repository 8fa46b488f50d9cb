//! Engine: whole lifecycles (submit → settle) through `Engine::execute`, store included.
//!
//! What it isolates: everything a host pays per command — idempotency lookup, load, fold,
//! `decide`, the canonical envelope and its digests, the outbox, the append at the expected
//! version, publishing — on each shipped store:
//! - `engine/memory`: `MemoryStore` (no I/O: the cost of planck itself);
//! - `engine/sqlite_full`, `engine/sqlite_normal`: `SqliteStore` on a file in a temporary
//!   directory with `synchronous = FULL` / `NORMAL` (WAL), one case at a time;
//! - `engine/*/threads_4`: four threads each driving their own cases at once;
//! - `engine/sqlite_full_group/threads_4`: the same on the group-commit store (several
//!   threads' appends share one transaction and one fsync; each caller still returns only
//!   after its commit).
//!
//! Each iteration is one lifecycle of event-coordination on a fresh case; throughput is in
//! commands, so criterion prints commands per second.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench stops loudly on a broken fixture; criterion's macros write undocumented functions"
)]

mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use planck::engine::Engine;
use planck::host::{
    GroupCommitSqliteStore, ManualClock, MemoryStore, NullTransport, SqliteOptions, SqliteStore,
    Store, Synchronous,
};
use support::{Step, engine_lifecycle, fresh_case, lifecycle};

const THREADS: u64 = 4;

type BenchEngine<S> = Engine<S, NullTransport, ManualClock>;

/// `iters` lifecycles one after the other.
fn serial<S: Store>(engine: &BenchEngine<S>, steps: &[Step], iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        engine_lifecycle(engine, &fresh_case("c"), steps);
    }
    start.elapsed()
}

/// `iters` lifecycles spread over [`THREADS`] threads, each on its own cases.
fn threaded<S: Store>(engine: &BenchEngine<S>, steps: &[Step], iters: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let n = iters / THREADS + u64::from(t < iters % THREADS);
            scope.spawn(move || {
                for _ in 0..n {
                    engine_lifecycle(engine, &fresh_case("t"), steps);
                }
            });
        }
    });
    start.elapsed()
}

fn sqlite(dir: &tempfile::TempDir, name: &str, synchronous: Synchronous) -> SqliteStore {
    let options = SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    };
    SqliteStore::open_with(dir.path().join(format!("{name}.db")), options).unwrap()
}

fn memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/memory");
    for slug in ["event-coordination", "auto-detailing", "peer-lifecycle"] {
        let steps = lifecycle(slug);
        let engine = support::engine(MemoryStore::new());
        group.throughput(Throughput::Elements(steps.len() as u64));
        group.bench_function(slug, |b| {
            b.iter_custom(|iters| serial(&engine, &steps, iters))
        });
    }
    let steps = lifecycle("event-coordination");
    let engine = support::engine(MemoryStore::new());
    group.throughput(Throughput::Elements(steps.len() as u64));
    group.bench_function("threads_4", |b| {
        b.iter_custom(|iters| threaded(&engine, &steps, iters))
    });
    group.finish();
}

fn durable(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let steps = lifecycle("event-coordination");
    for (name, synchronous) in [
        ("sqlite_full", Synchronous::Full),
        ("sqlite_normal", Synchronous::Normal),
    ] {
        let mut group = c.benchmark_group(format!("engine/{name}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(steps.len() as u64));
        let engine = support::engine(sqlite(&dir, name, synchronous));
        group.bench_function("one_at_a_time", |b| {
            b.iter_custom(|iters| serial(&engine, &steps, iters))
        });
        let engine = support::engine(sqlite(&dir, &format!("{name}-threads"), synchronous));
        group.bench_function("threads_4", |b| {
            b.iter_custom(|iters| threaded(&engine, &steps, iters))
        });
        group.finish();
    }
    let mut group = c.benchmark_group("engine/sqlite_full_group");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(steps.len() as u64));
    let engine = support::engine(
        GroupCommitSqliteStore::with_reader(sqlite(&dir, "group", Synchronous::Full)).unwrap(),
    );
    group.bench_function("threads_4", |b| {
        b.iter_custom(|iters| threaded(&engine, &steps, iters))
    });
    group.finish();
}

criterion_group!(benches, memory, durable);
criterion_main!(benches);

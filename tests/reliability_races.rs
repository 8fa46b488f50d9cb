//! Races on one case through one SQLite file: threads, and separate processes, each with its
//! own connection. The scenarios and what they check are in
//! `tests/reliability_support/races.rs`; `tests/postgres_races.rs` runs the same on PostgreSQL.
#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests assert by panicking"
)]

mod reliability_support;

use reliability_support::races::{self, Mode};

const CHILD: &str = "race_child";

/// Not a test of its own: the body of each child process the process races start.
#[test]
fn race_child() {
    races::child_main();
}

#[test]
fn many_operators_claim_one_job_threads() {
    let dir = tempfile::tempdir().unwrap();
    let tally = races::claim_race(&races::sqlite_spec(dir.path()), Mode::Threads, 12, 8, CHILD);
    tally.print("SQLite, threads, 8 operators claim one job");
}

#[test]
fn many_operators_claim_one_job_processes() {
    let dir = tempfile::tempdir().unwrap();
    let tally = races::claim_race(
        &races::sqlite_spec(dir.path()),
        Mode::Processes,
        3,
        6,
        CHILD,
    );
    tally.print("SQLite, processes, 6 operators claim one job");
}

#[test]
fn owner_completes_twice_at_once_threads() {
    let dir = tempfile::tempdir().unwrap();
    let spec = races::sqlite_spec(dir.path());
    races::double_complete(&spec, Mode::Threads, 10, 4, false, CHILD)
        .print("SQLite, threads, owner completes 4x (no key)");
    races::double_complete(&spec, Mode::Threads, 10, 4, true, CHILD)
        .print("SQLite, threads, owner completes 4x (one key)");
}

#[test]
fn owner_completes_twice_at_once_processes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = races::sqlite_spec(dir.path());
    races::double_complete(&spec, Mode::Processes, 2, 3, false, CHILD)
        .print("SQLite, processes, owner completes 3x (no key)");
    races::double_complete(&spec, Mode::Processes, 2, 3, true, CHILD)
        .print("SQLite, processes, owner completes 3x (one key)");
}

#[test]
fn settlement_written_while_completing_threads() {
    let dir = tempfile::tempdir().unwrap();
    races::settle_while_completing(&races::sqlite_spec(dir.path()), Mode::Threads, 12, CHILD)
        .print("SQLite, threads, two settlements while completing");
}

#[test]
fn settlement_written_while_completing_processes() {
    let dir = tempfile::tempdir().unwrap();
    races::settle_while_completing(&races::sqlite_spec(dir.path()), Mode::Processes, 3, CHILD)
        .print("SQLite, processes, two settlements while completing");
}

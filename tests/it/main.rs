//! planck's integration tests, gathered in one test binary (`cargo test --test it`), so the
//! crate is linked once for all of them rather than once per file. Each former
//! `tests/<name>.rs` is the module `<name>` here, and its tests keep their names under that
//! module path: `cargo test --test it -- cli::` runs one file's tests, and
//! `cargo test --test it -- --exact reliability_crash::sigkill_at_random_moments_loses_nothing`
//! one test.
//!
//! Test data stays where it was: `tests/surfaces/`, `tests/scenarios/`, `tests/regressions/`.
//! Helpers shared by several modules: [`common`] (the spine harness), [`engine_common`] (the
//! engine on each store), [`reliability_support`] (races, crash children, PostgreSQL) and
//! [`snapshot`] (insta settings).
//!
//! The tests that run this binary again as a child process (`reliability_crash`,
//! `reliability_races`, `postgres_races`) name the child test by its full path (for example
//! `reliability_crash::crash_child`) with `--exact`, so the child runs that one test only.
//!
//! # Snapshots
//!
//! Whole rendered outputs (diagnostics for a terminal and as JSON, what the CLI prints) are
//! compared with [insta](https://insta.rs) snapshots in `tests/it/snapshots/`, beside the
//! assertions that check codes, lines and columns one by one. A changed output fails the test
//! and, outside CI, leaves a `.snap.new` file beside the old snapshot. To review:
//!
//! ```text
//! cargo insta review                       # cargo install cargo-insta; accept or reject each
//! INSTA_UPDATE=always cargo test --test it # or accept every new output, then read `git diff`
//! ```
//!
//! CI never accepts a snapshot: `.ci/run` sets `INSTA_UPDATE=no`, and insta does not write
//! snapshots when `CI` is set either; a missing or different snapshot fails the test there.
//! Temporary paths and the checkout's own path are filtered out of snapshots
//! ([`snapshot::settings`]), so they hold on any machine.

mod authoring_checks;
mod authoring_cli;
mod broken_surfaces;
mod cli;
mod common;
mod conformance_memory;
mod conformance_sqlite;
mod dsl;
mod engine_cache;
mod engine_common;
mod engine_conflict;
mod engine_governance;
mod engine_idempotency;
mod engine_lifecycle;
mod engine_outbox;
mod engine_tick;
mod engine_verify;
mod engine_views;
mod explore_surfaces;
mod fuzz_regressions;
mod limits_hostile;
mod postgres_conformance;
mod postgres_races;
mod reliability_crash;
mod reliability_races;
mod reliability_support;
mod scenario_cli;
mod scenario_files;
mod serve;
mod snapshot;
mod spine_boundaries;
mod spine_commands;
mod spine_governance;
mod spine_props;
mod spine_ten_steps;
mod surface_compile;
mod surface_props;
mod surface_roundtrip;

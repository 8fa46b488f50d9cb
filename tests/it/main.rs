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
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests and their helpers: a failed expectation is a failed test"
)]

/// Every method of a `Store` that wraps another in the field `$field` but `load`, `load_after`
/// and `append`, forwarded unchanged: test stores write those three themselves (`load_after`
/// may be left to the trait's default, which reads through `load`).
macro_rules! forward_except_load_and_append {
    ($field:tt) => {
        fn idempotency(
            &self,
            key: &str,
        ) -> Result<Option<planck::host::IdempotencyRecord>, planck::host::StoreError> {
            self.$field.idempotency(key)
        }
        fn cases(&self) -> Result<Vec<String>, planck::host::StoreError> {
            self.$field.cases()
        }
        fn pending_signals(
            &self,
            limit: usize,
        ) -> Result<Vec<planck::host::StoredSignal>, planck::host::StoreError> {
            self.$field.pending_signals(limit)
        }
        fn mark_delivered(&self, ids: &[String]) -> Result<(), planck::host::StoreError> {
            self.$field.mark_delivered(ids)
        }
        fn desk(
            &self,
            operator: &str,
            limit: usize,
        ) -> Result<planck::host::DeskRows, planck::host::StoreError> {
            self.$field.desk(operator, limit)
        }
        fn queue(
            &self,
            limit: usize,
        ) -> Result<Vec<planck::host::CaseIndex>, planck::host::StoreError> {
            self.$field.queue(limit)
        }
        fn list(
            &self,
            filter: &planck::host::CaseFilter,
            after: Option<&planck::host::ListCursor>,
            limit: usize,
        ) -> Result<Vec<planck::host::CaseIndex>, planck::host::StoreError> {
            self.$field.list(filter, after, limit)
        }
        fn due(
            &self,
            now: planck::spine::Millis,
            limit: usize,
        ) -> Result<Vec<planck::host::CaseIndex>, planck::host::StoreError> {
            self.$field.due(now, limit)
        }
        fn operators(&self) -> Result<Vec<planck::host::OperatorIndex>, planck::host::StoreError> {
            self.$field.operators()
        }
        fn index_row(
            &self,
            stream: &str,
        ) -> Result<Option<planck::host::IndexRow>, planck::host::StoreError> {
            self.$field.index_row(stream)
        }
        fn index_state(&self) -> Result<planck::host::IndexState, planck::host::StoreError> {
            self.$field.index_state()
        }
        fn begin_reindex(&self) -> Result<(), planck::host::StoreError> {
            self.$field.begin_reindex()
        }
        fn reindex(
            &self,
            stream: &str,
            version: u64,
            row: Option<&planck::host::IndexRow>,
        ) -> Result<bool, planck::host::StoreError> {
            self.$field.reindex(stream, version, row)
        }
        fn finish_reindex(&self) -> Result<(), planck::host::StoreError> {
            self.$field.finish_reindex()
        }
        fn feed(
            &self,
            after: u64,
            limit: usize,
        ) -> Result<Vec<planck::host::FeedEntry>, planck::host::StoreError> {
            self.$field.feed(after, limit)
        }
        fn heads(&self) -> Result<Vec<planck::host::StreamHead>, planck::host::StoreError> {
            self.$field.heads()
        }
        fn outbox_of(
            &self,
            stream: &str,
        ) -> Result<Vec<planck::host::StoredSignal>, planck::host::StoreError> {
            self.$field.outbox_of(stream)
        }
        fn idempotency_of(
            &self,
            stream: &str,
        ) -> Result<Vec<planck::host::IdempotencyRecord>, planck::host::StoreError> {
            self.$field.idempotency_of(stream)
        }
        fn referenced_streams(&self) -> Result<Vec<String>, planck::host::StoreError> {
            self.$field.referenced_streams()
        }
        fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, planck::host::StoreError> {
            self.$field.case_key(stream)
        }
    };
}

mod authoring_checks;
mod authoring_cli;
mod broken_surfaces;
mod cli;
mod common;
mod conformance_memory;
mod conformance_sqlite;
mod dsl;
mod engine_async;
mod engine_cache;
mod engine_common;
mod engine_conflict;
mod engine_governance;
mod engine_idempotency;
mod engine_index;
mod engine_lifecycle;
mod engine_migration;
mod engine_outbox;
mod engine_tick;
mod engine_verify;
mod engine_views;
mod explore_surfaces;
mod feed_promise;
mod fuzz_regressions;
mod index_differential;
mod limits_hostile;
mod postgres_conformance;
mod postgres_races;
mod queries_cli;
mod reliability_crash;
mod reliability_races;
mod reliability_support;
mod scenario_cli;
mod scenario_files;
mod serve;
mod serve_browser;
mod serve_feed;
mod serve_load;
mod snapshot;
mod spine_boundaries;
mod spine_commands;
mod spine_governance;
mod spine_props;
mod spine_ten_steps;
mod surface_compile;
mod surface_props;
mod surface_roundtrip;
mod truth;
mod truth_erasure;
mod truth_postgres;

//! The store conformance suite: the properties every [`Store`] must have, as plain functions a
//! host can run against its own implementation.
//!
//! ```no_run
//! # use planck::host::{conformance, MemoryStore};
//! // `fresh` makes a new, empty store each time it is called.
//! conformance::run_all(MemoryStore::new).map_err(|failures| failures.to_string())?;
//! // `open` returns a new handle to the same, initially empty, storage each time.
//! let shared = MemoryStore::new();
//! conformance::run_reopen(|| shared.clone()).map_err(|failures| failures.to_string())?;
//! # Ok::<(), String>(())
//! ```
//!
//! Each property is also a `pub fn` returning `Result<(), String>`, so a host can wire them
//! into its own test harness one by one. The suite only calls the [`Store`] trait; it uses
//! case ids starting with `conformance-` (and the operator stream `operator:conformance-op`)
//! and never deletes anything.
//!
//! Beyond the events, keys and outbox, the suite holds a store to the index and the feed
//! (docs/queries.md): rows written with their append and only then, replaced by the next,
//! never by a refused append; each query's selection, order and limit; the index state and
//! the rebuild; feed positions 1, 2, 3, … in commit order, none taken by a refused append;
//! and, with several writers on several handles and a reader polling, never a position below
//! one already seen, never a hole, and every event exactly once.
//!
//! This file holds the runners; the properties live by what they hold a store to: `streams`
//! (events, sequence numbers, conflicts, keys, the outbox, case keys, operator streams, on
//! one handle and on several), `index` (rows and queries) and `feed` (positions and their
//! promise); `fixtures` builds the envelopes, signals and records they append.

use std::fmt;

use crate::host::store::Store;

mod feed;
mod fixtures;
mod index;
mod streams;

pub use feed::{feed_concurrent, feed_concurrent_handles, feed_order, feed_promise, feed_refusals};
pub use fixtures::{fixture_events, fixture_signal, fixture_tail};
pub use index::{
    desk_query, fixture_row, index_rebuild, index_rows, index_rows_checked, list_query,
    queue_and_due_queries,
};
pub use streams::{
    case_keys, case_listing, conflicts, empty, idempotency, key_taken, operator_streams, ordering,
    outbox, racing_appends, racing_handles, reopening, sequence_numbers, verification_reads,
};

/// The properties that failed, each with why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failures(pub Vec<(&'static str, String)>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (property, why) in &self.0 {
            writeln!(f, "{property}: {why}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

type Property<S> = (&'static str, fn(&S) -> Result<(), String>);

/// Run every property that needs only a fresh store, each on a new store from `fresh`.
pub fn run_all<S: Store>(fresh: impl Fn() -> S) -> Result<(), Failures> {
    let properties: [Property<S>; 21] = [
        ("empty", empty),
        ("ordering", ordering),
        ("sequence_numbers", sequence_numbers),
        ("conflicts", conflicts),
        ("racing_appends", racing_appends),
        ("idempotency", idempotency),
        ("key_taken", key_taken),
        ("outbox", outbox),
        ("case_listing", case_listing),
        ("index_rows", index_rows),
        ("index_rows_checked", index_rows_checked),
        ("desk_query", desk_query),
        ("queue_and_due_queries", queue_and_due_queries),
        ("list_query", list_query),
        ("index_rebuild", index_rebuild),
        ("feed_order", feed_order),
        ("feed_refusals", feed_refusals),
        ("feed_concurrent", feed_concurrent),
        ("verification_reads", verification_reads),
        ("case_keys", case_keys),
        ("operator_streams", operator_streams),
    ];
    let mut failures = Failures::default();
    for (name, property) in properties {
        if let Err(why) = property(&fresh()) {
            failures.0.push((name, why));
        }
    }
    if failures.0.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Run the properties that need several handles on one storage: `open` returns a new handle
/// (a new connection, a reopened file) to the same storage each time it is called.
pub fn run_reopen<S: Store>(open: impl Fn() -> S) -> Result<(), Failures> {
    let mut failures = Failures::default();
    if let Err(why) = reopening(&open) {
        failures.0.push(("reopening", why));
    }
    if let Err(why) = racing_handles(&open) {
        failures.0.push(("racing_handles", why));
    }
    if let Err(why) = feed_concurrent_handles(&open) {
        failures.0.push(("feed_concurrent_handles", why));
    }
    if failures.0.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

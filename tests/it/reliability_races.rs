//! Races on one case through one SQLite file: threads, and separate processes, each with its
//! own connection. The scenarios and what they check are in
//! `tests/it/reliability_support/races.rs`; `tests/it/postgres_races.rs` runs the same on
//! PostgreSQL.
#![cfg(feature = "sqlite")]

use crate::reliability_support;

use reliability_support::races::{self, Mode};

const CHILD: &str = "reliability_races::race_child";

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

/// The two windows a keyed command can race its own copy through, made deterministic by a
/// store that lets the copy commit at exactly the wrong moment. In both, the late copy must get
/// the first outcome back as a duplicate (docs/commands.md), not a rejection of the state the
/// first copy created. (Found by the races above: before the fix, the late copy got
/// `invalid_state`.)
mod keyed_copies {
    use std::sync::{Arc, Mutex};

    use planck::engine::Engine;
    use planck::host::{
        Append, Committed, ManualClock, MemoryStore, MemoryTransport, Store, StoreError,
        StoredEvent,
    };
    use serde_json::json;

    use super::reliability_support::{T0, cmd, operator, registry};

    type Hook = Box<dyn FnOnce() + Send>;

    /// A memory store that runs `hook` once, just before the first `load` or `append`.
    struct Interleave {
        inner: MemoryStore,
        on_load: Mutex<Option<Hook>>,
        on_append: Mutex<Option<Hook>>,
    }

    impl Store for Interleave {
        fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
            if let Some(hook) = self.on_load.lock().unwrap().take() {
                hook();
            }
            self.inner.load(case)
        }
        fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
            if let Some(hook) = self.on_append.lock().unwrap().take() {
                hook();
            }
            self.inner.append(append)
        }
        forward_except_load_and_append!(inner);
    }

    fn late_copy_is_a_duplicate(during_load: bool) {
        let inner = MemoryStore::new();
        let registry = registry();
        let setup = Engine::new(
            registry.clone(),
            inner.clone(),
            MemoryTransport::new(),
            ManualClock::new(T0),
        );
        let owner = operator(1);
        let case = "keyed";
        for (who, name, args) in [
            (
                super::reliability_support::client(),
                "submit_request",
                json!({"surface": "race-open", "intake": {"contact": "a"}}),
            ),
            (
                super::reliability_support::admin(),
                "approve_task",
                json!(null),
            ),
            (
                super::reliability_support::admin(),
                "assign_task",
                json!({"operator": "op-1"}),
            ),
            (
                super::reliability_support::admin(),
                "create_job",
                json!(null),
            ),
            (owner.clone(), "claim_job", json!(null)),
            (owner.clone(), "advance", json!({"to": "working"})),
        ] {
            assert!(
                setup
                    .execute(&who, &cmd(case, name, args), None)
                    .unwrap()
                    .is_applied()
            );
        }
        let complete = cmd(case, "complete_service_event", json!({"outcome": "done"}));
        let first = Arc::new(Mutex::new(None));
        let hook: Hook = {
            let (first, owner, complete) = (first.clone(), owner.clone(), complete.clone());
            let copy = Engine::new(
                registry.clone(),
                inner.clone(),
                MemoryTransport::new(),
                ManualClock::new(T0),
            );
            Box::new(move || {
                let receipt = copy.execute(&owner, &complete, Some("k")).unwrap();
                assert!(receipt.is_applied());
                *first.lock().unwrap() = Some(receipt);
            })
        };
        let (on_load, on_append) = if during_load {
            (Some(hook), None)
        } else {
            (None, Some(hook))
        };
        let store = Interleave {
            inner: inner.clone(),
            on_load: Mutex::new(on_load),
            on_append: Mutex::new(on_append),
        };
        let late = Engine::new(
            registry,
            store,
            MemoryTransport::new(),
            ManualClock::new(T0),
        );
        let receipt = late.execute(&owner, &complete, Some("k")).unwrap();
        assert!(receipt.is_duplicate(), "the late copy got {receipt:?}");
        let first = first.lock().unwrap().clone().unwrap();
        assert_eq!(receipt, planck::engine::Receipt::Duplicate(Box::new(first)));
        let events = inner.load(case).unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| e.payload.signal().is_some())
                .count(),
            1,
            "one record signal"
        );
    }

    #[test]
    fn a_copy_committed_between_the_key_lookup_and_the_load() {
        late_copy_is_a_duplicate(true);
    }

    #[test]
    fn a_copy_committed_between_the_load_and_the_append() {
        late_copy_is_a_duplicate(false);
    }
}

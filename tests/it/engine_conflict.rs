//! Optimistic concurrency: a command that loses a race re-decides against the new state; two
//! engines on one SQLite file racing to claim one job: exactly one claim wins and the other is
//! told why (not `conflict`); a case that keeps changing is `conflict` after the retry bound.

use crate::engine_common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use engine_common::*;
use planck::engine::{CONFLICT_RETRIES, Engine};
use planck::host::{
    Append, Committed, ManualClock, MemoryStore, MemoryTransport, NullTransport, SqliteStore,
    Store, StoreError, StoredEvent,
};
use serde_json::{Value, json};

type Sneak = Box<dyn FnOnce() + Send>;

/// A store that, on its first `conflicts` appends, first lets `sneak` run (another writer
/// getting in) and then reports a conflict.
struct Racy<S> {
    inner: S,
    conflicts: AtomicU32,
    appends: AtomicU32,
    sneak: Mutex<Option<Sneak>>,
}

impl<S: Store> Racy<S> {
    fn new(inner: S, conflicts: u32, sneak: Option<Sneak>) -> Self {
        Racy {
            inner,
            conflicts: AtomicU32::new(conflicts),
            appends: AtomicU32::new(0),
            sneak: Mutex::new(sneak),
        }
    }
}

impl<S: Store> Store for Racy<S> {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.load(case)
    }
    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        if self.conflicts.load(Ordering::SeqCst) > 0 {
            self.conflicts.fetch_sub(1, Ordering::SeqCst);
            if let Some(sneak) = self.sneak.lock().unwrap().take() {
                sneak();
            }
            return Err(StoreError::Conflict {
                case: append.stream.to_string(),
                expected: append.expected_version,
                actual: None,
            });
        }
        self.inner.append(append)
    }
    forward_except_load_and_append!(inner);
}

#[test]
fn a_command_that_loses_a_race_re_decides_and_applies() {
    let shared = MemoryStore::new();
    let setup = Engine::new(
        registry(),
        shared.clone(),
        NullTransport,
        ManualClock::new(T0),
    );
    to_job(&setup, "ev-1", "event-coordination");
    // While op-lee's claim is being appended, an admin annotates the task.
    let other = Engine::new(
        registry(),
        shared.clone(),
        NullTransport,
        ManualClock::new(T0),
    );
    let sneak: Sneak = Box::new(move || {
        let note = cmd("ev-1", "annotate_task", json!({ "note": "gate code 1234" }));
        assert!(other.execute(&admin(), &note, None).unwrap().is_applied());
    });
    let engine = Engine::new(
        registry(),
        Racy::new(shared.clone(), 1, Some(sneak)),
        MemoryTransport::new(),
        ManualClock::new(T0),
    );
    let receipt = engine
        .execute(&lee(), &cmd("ev-1", "claim_job", Value::Null), None)
        .unwrap();
    assert!(receipt.is_applied(), "{receipt:?}");
    assert_eq!(engine.store().appends.load(Ordering::SeqCst), 2);
    let seqs: Vec<u64> = receipt.events().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [6, 7], "the claim lands after the annotation");
    let types: Vec<String> = shared
        .load("ev-1")
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types[4], "task_annotated");
    assert!(engine.verify().unwrap().ok());
}

#[test]
fn a_case_that_keeps_changing_is_a_conflict_after_the_retry_bound() {
    let shared = MemoryStore::new();
    let setup = Engine::new(
        registry(),
        shared.clone(),
        NullTransport,
        ManualClock::new(T0),
    );
    to_job(&setup, "ev-1", "event-coordination");
    let engine = Engine::new(
        registry(),
        Racy::new(shared.clone(), u32::MAX, None),
        NullTransport,
        ManualClock::new(T0),
    );
    let receipt = engine
        .execute(
            &lee(),
            &cmd("ev-1", "claim_job", Value::Null),
            Some("claim"),
        )
        .unwrap();
    assert_eq!(receipt.code().map(|c| c.as_str()), Some("conflict"));
    assert_eq!(
        engine.store().appends.load(Ordering::SeqCst),
        CONFLICT_RETRIES + 1
    );
    assert_eq!(shared.load("ev-1").unwrap().len(), 4, "nothing was written");
    assert!(
        shared.idempotency("claim").unwrap().is_none(),
        "a conflict records no key"
    );
}

#[test]
fn two_engines_on_one_sqlite_file_race_to_claim_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let open = || {
        Engine::new(
            registry(),
            SqliteStore::open(&path).unwrap(),
            NullTransport,
            ManualClock::new(T0),
        )
    };
    let setup = open();
    const CASES: usize = 12;
    for i in 0..CASES {
        to_job(&setup, &format!("od-{i}"), "open-desk");
    }
    let engines = [Arc::new(open()), Arc::new(open())];
    let barrier = Arc::new(Barrier::new(2));
    let results: Vec<Vec<_>> = std::thread::scope(|scope| {
        let handles: Vec<_> = engines
            .iter()
            .zip([lee(), max()])
            .map(|(engine, who)| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    (0..CASES)
                        .map(|i| {
                            barrier.wait();
                            engine
                                .execute(
                                    &who,
                                    &cmd(&format!("od-{i}"), "claim_job", Value::Null),
                                    None,
                                )
                                .unwrap()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (lees, maxs)) in results[0].iter().zip(&results[1]).enumerate() {
        let case = format!("od-{i}");
        assert_one_claim_won(&setup, &case, lees, maxs);
        let winner = if lees.is_applied() {
            "op-lee"
        } else {
            "op-max"
        };
        assert_eq!(setup.case(&case).unwrap().unwrap().owner(), Some(winner));
    }
    assert!(setup.verify().unwrap().ok());
}

#[test]
fn the_same_keyed_command_racing_itself_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let open = || {
        Arc::new(Engine::new(
            registry(),
            SqliteStore::open(&path).unwrap(),
            NullTransport,
            ManualClock::new(T0),
        ))
    };
    let engines = [open(), open(), open()];
    for round in 0..8 {
        let case = format!("ev-{round}");
        let command = submit(&case, "event-coordination");
        let key = format!("submit-{round}");
        let barrier = Barrier::new(engines.len());
        let receipts: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = engines
                .iter()
                .map(|engine| {
                    let (barrier, command, key) = (&barrier, &command, &key);
                    scope.spawn(move || {
                        barrier.wait();
                        engine.execute(&client(), command, Some(key)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let applied: Vec<_> = receipts.iter().filter(|r| r.is_applied()).collect();
        assert_eq!(applied.len(), 1, "{receipts:?}");
        for r in receipts.iter().filter(|r| !r.is_applied()) {
            assert!(
                r.is_duplicate(),
                "a racing repeat must be a duplicate, not {r:?}"
            );
            assert_eq!(r.events(), applied[0].events());
        }
        assert_eq!(engines[0].history(&case).unwrap().len(), 1);
    }
}

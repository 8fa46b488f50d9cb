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

use std::fmt;
use std::sync::Barrier;

use serde_json::json;

use crate::audit::Envelope;
use crate::host::index::{
    CaseFilter, CaseIndex, IndexRow, IndexState, ListCursor, OperatorIndex, QueueNeed,
};
use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
};
use crate::policy::{Principal, Role};
use crate::spine::{Event, JobState, Millis, ServiceEventState, Signal, SurfacePin, TaskState};

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

/// A case key is written with the events that carry it, read back by its case only, refused
/// when the case already has one (nothing of that append is written), and gone after an append
/// that destroys it.
pub fn case_keys<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-keys";
    let key = [7u8; 32];
    ensure(call("case_key", store.case_key(case))?.is_none(), || {
        "a new case has a key".into()
    })?;
    let first = fixture_events(case, None, 1, None)?;
    call(
        "append",
        store.append(&Append::new(case, 0, &first).with_case_key(Some(&key))),
    )?;
    ensure(
        call("case_key", store.case_key(case))?.as_deref() == Some(&key[..]),
        || "the key does not read back".into(),
    )?;
    ensure(
        call("case_key", store.case_key("conformance-keys-other"))?.is_none(),
        || "another case reads the key".into(),
    )?;
    let second = fixture_events(case, first.last(), 1, None)?;
    let refused = store.append(&Append::new(case, 1, &second).with_case_key(Some(&[8u8; 32])));
    ensure(refused.is_err(), || "a second key was accepted".into())?;
    ensure(call("load", store.load(case))?.len() == 1, || {
        "a refused append wrote its events".into()
    })?;
    ensure(
        call("case_key", store.case_key(case))?.as_deref() == Some(&key[..]),
        || "a refused append replaced the key".into(),
    )?;
    call(
        "append",
        store.append(&Append::new(case, 1, &second).erasing_case_key()),
    )?;
    ensure(call("case_key", store.case_key(case))?.is_none(), || {
        "the key survived its erasure".into()
    })?;
    ensure(call("load", store.load(case))?.len() == 2, || {
        "the erasing append lost its events".into()
    })
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

// ---------------------------------------------------------------------------------------------
// Fixtures.

const T0: Millis = 1_767_225_600_000;

fn pin() -> SurfacePin {
    SurfacePin {
        slug: "conformance".into(),
        version: 1,
        fingerprint: "c0".repeat(32),
    }
}

fn actor() -> Principal {
    Principal::new("conformance-admin", [Role::Admin])
}

/// `n` envelopes for `case` following `previous` (a submission first when the case is new),
/// optionally carrying `key`.
pub fn fixture_events(
    case: &str,
    previous: Option<&StoredEvent>,
    n: usize,
    key: Option<&str>,
) -> Result<Vec<StoredEvent>, String> {
    let actor = actor();
    let pin = pin();
    let first = previous.map_or(0, |p| p.seq);
    let at = T0 + i64::try_from(first).unwrap_or(0) * 1000;
    let env = Envelope {
        case_id: case,
        actor: &actor,
        surface: &pin,
        idempotency_key: key,
        at,
        host_at: None,
    };
    let mut payloads = Vec::with_capacity(n);
    for i in 0..n {
        if previous.is_none() && i == 0 {
            let mut intake = std::collections::BTreeMap::new();
            intake.insert("contact".to_string(), json!("ava@example.com"));
            intake.insert("guests".to_string(), json!(40));
            intake.insert("budget".to_string(), json!(1.947700395895162e-169));
            intake.insert(
                "notes".to_string(),
                json!({ "nested": ["a", "ü", "\"quoted\""] }),
            );
            payloads.push(Event::RequestSubmitted {
                surface: pin.clone(),
                intake,
                photos: vec!["photo://1".into()],
                routing_origin: None,
                by: actor.id.clone(),
                at,
            });
        } else {
            payloads.push(Event::TaskAnnotated {
                by: actor.id.clone(),
                note: format!("note {}", first + i as u64 + 1),
                at,
            });
        }
    }
    env.seal(previous, payloads)
        .map_err(|e| format!("building fixture events: {e}"))
}

/// `n` envelopes of `case` numbered `version + 1 ..`, as a writer that believed the case to
/// be at `version` would build them.
pub fn fixture_tail(case: &str, version: u64, n: usize) -> Result<Vec<StoredEvent>, String> {
    let skip = usize::try_from(version).map_err(|e| e.to_string())?;
    Ok(fixture_events(case, None, skip + n, None)?
        .into_iter()
        .skip(skip)
        .collect())
}

/// A signal row for `event`.
pub fn fixture_signal(event: &StoredEvent, kind: &str, n: usize) -> StoredSignal {
    let signal = Signal {
        id: format!("{}:{kind}:{n}", event.case_id),
        kind: kind.to_string(),
        case: event.case_id.clone(),
        at: event.ts_ms,
        payload: json!({ "n": n }),
    };
    StoredSignal {
        id: signal.id,
        case_id: signal.case,
        kind: signal.kind,
        at: signal.at,
        payload: signal.payload,
        event_id: event.event_id.clone(),
        event_digest: event.digest.clone(),
    }
}

fn record(key: &str, case: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_string(),
        fingerprint: "f1".repeat(32),
        case_id: case.to_string(),
        outcome: json!({ "outcome": "applied", "case": case }).to_string(),
        recorded_at: T0,
    }
}

fn call<T>(what: &str, result: Result<T, StoreError>) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: {e}"))
}

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}

fn same_events(what: &str, got: &[StoredEvent], want: &[StoredEvent]) -> Result<(), String> {
    ensure(got.len() == want.len(), || {
        format!(
            "{what}: {} events loaded, {} expected",
            got.len(),
            want.len()
        )
    })?;
    for (g, w) in got.iter().zip(want) {
        ensure(g == w, || {
            format!(
                "{what}: event `{}` reads back different from what was appended: {g:?}",
                w.event_id
            )
        })?;
        ensure(g.digest_holds(), || {
            format!(
                "{what}: event `{}` no longer matches its digest",
                w.event_id
            )
        })?;
    }
    Ok(())
}

fn expect_conflict(what: &str, result: Result<Committed, StoreError>) -> Result<(), String> {
    match result {
        Err(StoreError::Conflict { .. }) => Ok(()),
        Err(other) => Err(format!("{what}: expected a conflict, got `{other}`")),
        Ok(_) => Err(format!(
            "{what}: expected a conflict, but the append succeeded"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Properties on one handle.

/// A new store knows no case, key or signal.
pub fn empty<S: Store>(store: &S) -> Result<(), String> {
    ensure(
        call("load", store.load("conformance-none"))?.is_empty(),
        || "an unknown case has events".into(),
    )?;
    ensure(call("cases", store.cases())?.is_empty(), || {
        "a new store lists cases".into()
    })?;
    ensure(
        call("idempotency", store.idempotency("conformance-none"))?.is_none(),
        || "an unknown key has a record".into(),
    )?;
    ensure(
        call("pending_signals", store.pending_signals(10))?.is_empty(),
        || "a new store has pending signals".into(),
    )?;
    ensure(call("heads", store.heads())?.is_empty(), || {
        "a new store has stream heads".into()
    })?;
    ensure(
        call("referenced_streams", store.referenced_streams())?.is_empty(),
        || "a new store names streams in its outbox or idempotency records".into(),
    )
}

/// Events read back exactly as appended, in sequence order, across several appends.
pub fn ordering<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-order";
    let first = fixture_events(case, None, 2, None)?;
    call("append", store.append(&Append::new(case, 0, &first)))?;
    let second = fixture_events(case, first.last(), 3, None)?;
    call("append", store.append(&Append::new(case, 2, &second)))?;
    let all: Vec<StoredEvent> = first.into_iter().chain(second).collect();
    same_events("after two appends", &call("load", store.load(case))?, &all)?;
    let seqs: Vec<u64> = call("load", store.load(case))?
        .iter()
        .map(|e| e.seq)
        .collect();
    ensure(seqs == [1, 2, 3, 4, 5], || {
        format!("sequence numbers read back as {seqs:?}")
    })
}

/// The version is the number of events: any other expected version conflicts and writes
/// nothing, and so does an append whose sequence numbers do not continue the case.
pub fn sequence_numbers<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-seq";
    let first = fixture_events(case, None, 2, None)?;
    expect_conflict(
        "expected version 1 on an empty case",
        store.append(&Append::new(case, 1, &fixture_tail(case, 1, 1)?)),
    )?;
    call("append", store.append(&Append::new(case, 0, &first)))?;
    let next = fixture_events(case, first.last(), 1, None)?;
    expect_conflict(
        "expected version 0 on an existing case",
        store.append(&Append::new(case, 0, &fixture_tail(case, 0, 1)?)),
    )?;
    expect_conflict(
        "expected version 1 when the case holds 2",
        store.append(&Append::new(case, 1, &fixture_tail(case, 1, 1)?)),
    )?;
    expect_conflict(
        "expected version 5 when the case holds 2",
        store.append(&Append::new(case, 5, &fixture_tail(case, 5, 1)?)),
    )?;
    // Events numbered 4.. after a case at version 2.
    let skipping = fixture_events(case, next.last(), 1, None)?;
    ensure(
        store.append(&Append::new(case, 2, &skipping)).is_err(),
        || "an append skipping a sequence number succeeded".into(),
    )?;
    // Events of another case.
    let other = fixture_events("conformance-other", first.last(), 1, None)?;
    ensure(store.append(&Append::new(case, 2, &other)).is_err(), || {
        "an append of another case's events succeeded".into()
    })?;
    same_events(
        "after refused appends",
        &call("load", store.load(case))?,
        &first,
    )?;
    call("append", store.append(&Append::new(case, 2, &next)))?;
    ensure(call("load", store.load(case))?.len() == 3, || {
        "the right append did not land".into()
    })
}

/// Two appends with the same expected version: the first wins, the second conflicts and
/// writes none of its events, key or signals.
pub fn conflicts<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-conflict";
    let base = fixture_events(case, None, 1, None)?;
    call("append", store.append(&Append::new(case, 0, &base)))?;
    let winner = fixture_events(case, base.last(), 1, Some("conformance-k-win"))?;
    let loser = fixture_events(case, base.last(), 2, Some("conformance-k-lose"))?;
    let loser_signal = fixture_signal(loser.get(1).ok_or("no fixture event")?, "lost", 1);
    call(
        "append",
        store.append(
            &Append::new(case, 1, &winner).with_idempotency(&record("conformance-k-win", case)),
        ),
    )?;
    expect_conflict(
        "the second append at version 1",
        store.append(
            &Append::new(case, 1, &loser)
                .with_idempotency(&record("conformance-k-lose", case))
                .with_outbox(&[loser_signal]),
        ),
    )?;
    let expected: Vec<StoredEvent> = base.into_iter().chain(winner).collect();
    same_events(
        "after the conflict",
        &call("load", store.load(case))?,
        &expected,
    )?;
    ensure(
        call("idempotency", store.idempotency("conformance-k-lose"))?.is_none(),
        || "the losing append recorded its idempotency key".into(),
    )?;
    ensure(
        call("pending_signals", store.pending_signals(10))?.is_empty(),
        || "the losing append wrote its signal".into(),
    )
}

/// Several threads append to one new case at once: exactly one wins, the rest conflict.
pub fn racing_appends<S: Store>(store: &S) -> Result<(), String> {
    race(&[store, store, store, store], "conformance-race")
}

fn race<S: Store>(handles: &[&S], case: &str) -> Result<(), String> {
    let barrier = Barrier::new(handles.len());
    let results: Vec<Result<Committed, StoreError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let events = fixture_events(case, None, i + 1, None).map_err(|e| {
                        StoreError::Invalid {
                            case: case.to_string(),
                            message: e,
                        }
                    })?;
                    barrier.wait();
                    store.append(&Append::new(case, 0, &events))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(StoreError::Invalid {
                        case: case.to_string(),
                        message: "a racing thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let won: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    ensure(won.len() == 1, || {
        format!(
            "{} racing appends succeeded; exactly one must: {results:?}",
            won.len()
        )
    })?;
    for r in &results {
        if let Err(e) = r {
            ensure(e.is_conflict(), || {
                format!("a losing append failed with `{e}` instead of a conflict")
            })?;
        }
    }
    let winner = won.first().copied().unwrap_or(0);
    let stored = call(
        "load",
        handles.first().map_or(Ok(Vec::new()), |s| s.load(case)),
    )?;
    ensure(stored.len() == winner + 1, || {
        format!(
            "the case holds {} events; the winner appended {}",
            stored.len(),
            winner + 1
        )
    })
}

/// An idempotency record reads back exactly as written, and only once its append committed.
pub fn idempotency<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-key";
    let rec = record("conformance-k1", case);
    let events = fixture_events(case, None, 1, Some("conformance-k1"))?;
    call(
        "append",
        store.append(&Append::new(case, 0, &events).with_idempotency(&rec)),
    )?;
    let got = call("idempotency", store.idempotency("conformance-k1"))?;
    ensure(got.as_ref() == Some(&rec), || {
        format!("the record reads back as {got:?}")
    })?;
    ensure(
        call("idempotency", store.idempotency("conformance-k2"))?.is_none(),
        || "an unwritten key has a record".into(),
    )?;
    let loaded = call("load", store.load(case))?;
    ensure(
        loaded.first().and_then(|e| e.idempotency_key.as_deref()) == Some("conformance-k1"),
        || "the event lost its idempotency key".into(),
    )
}

/// A key already recorded cannot be recorded again, even for another case; that append writes
/// nothing.
pub fn key_taken<S: Store>(store: &S) -> Result<(), String> {
    let a = "conformance-key-a";
    let b = "conformance-key-b";
    call(
        "append",
        store.append(
            &Append::new(a, 0, &fixture_events(a, None, 1, Some("conformance-k"))?)
                .with_idempotency(&record("conformance-k", a)),
        ),
    )?;
    let events = fixture_events(b, None, 1, Some("conformance-k"))?;
    let signal = fixture_signal(events.first().ok_or("no fixture event")?, "x", 1);
    match store.append(
        &Append::new(b, 0, &events)
            .with_idempotency(&record("conformance-k", b))
            .with_outbox(&[signal]),
    ) {
        Err(StoreError::KeyTaken { key }) if key == "conformance-k" => {}
        other => {
            return Err(format!(
                "recording a taken key: expected `KeyTaken`, got {other:?}"
            ));
        }
    }
    ensure(call("load", store.load(b))?.is_empty(), || {
        "the refused append wrote its events".into()
    })?;
    ensure(
        call("pending_signals", store.pending_signals(10))?.is_empty(),
        || "the refused append wrote its signal".into(),
    )?;
    let rec = call("idempotency", store.idempotency("conformance-k"))?;
    ensure(rec.map(|r| r.case_id).as_deref() == Some(a), || {
        "the first record was replaced".into()
    })
}

/// Signals are pending in append order until marked delivered; limits are honoured; marking is
/// idempotent and ignores unknown ids.
pub fn outbox<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-outbox";
    let events = fixture_events(case, None, 3, None)?;
    let signals: Vec<StoredSignal> = events
        .iter()
        .enumerate()
        .map(|(i, e)| fixture_signal(e, "s", i + 1))
        .collect();
    call(
        "append",
        store.append(&Append::new(case, 0, &events).with_outbox(&signals)),
    )?;
    let more = fixture_events(case, events.last(), 1, None)?;
    let late: Vec<StoredSignal> = more.iter().map(|e| fixture_signal(e, "s", 4)).collect();
    call(
        "append",
        store.append(&Append::new(case, 3, &more).with_outbox(&late)),
    )?;
    let all: Vec<StoredSignal> = signals.into_iter().chain(late).collect();
    let pending = call("pending_signals", store.pending_signals(100))?;
    ensure(pending == all, || {
        format!("pending signals read back as {pending:?}")
    })?;
    let two = call("pending_signals", store.pending_signals(2))?;
    ensure(two.as_slice() == all.get(..2).unwrap_or(&[]), || {
        "the limit is not honoured, or the order is wrong".into()
    })?;
    let first_two: Vec<String> = two.iter().map(|s| s.id.clone()).collect();
    call("mark_delivered", store.mark_delivered(&first_two))?;
    call("mark_delivered", store.mark_delivered(&first_two))?;
    call(
        "mark_delivered",
        store.mark_delivered(&["conformance-unknown".to_string()]),
    )?;
    call("mark_delivered", store.mark_delivered(&[]))?;
    let rest = call("pending_signals", store.pending_signals(100))?;
    ensure(rest.as_slice() == all.get(2..).unwrap_or(&[]), || {
        format!("after marking two delivered: {rest:?}")
    })?;
    let ids: Vec<String> = all.iter().map(|s| s.id.clone()).collect();
    call("mark_delivered", store.mark_delivered(&ids))?;
    ensure(
        call("pending_signals", store.pending_signals(100))?.is_empty(),
        || "delivered signals are still pending".into(),
    )
}

/// `cases` lists each case once, in creation order.
pub fn case_listing<S: Store>(store: &S) -> Result<(), String> {
    let names = ["conformance-c", "conformance-a", "conformance-b"];
    let mut last: Vec<Option<StoredEvent>> = vec![None; names.len()];
    for round in 0..2 {
        for (i, name) in names.iter().enumerate() {
            let previous = last.get(i).cloned().flatten();
            let version = previous.as_ref().map_or(0, |p| p.seq);
            let events = fixture_events(name, previous.as_ref(), 1 + round, None)?;
            call("append", store.append(&Append::new(name, version, &events)))?;
            if let Some(slot) = last.get_mut(i) {
                *slot = events.last().cloned();
            }
        }
    }
    let listed = call("cases", store.cases())?;
    ensure(listed == names, || {
        format!("cases listed as {listed:?}, expected {names:?}")
    })
}

/// What verification and checkpoints read: every stream's head (from its events), every
/// outbox row of a stream (delivered ones too) in append order, every idempotency record of a
/// stream, and every stream the outbox and the idempotency records name.
pub fn verification_reads<S: Store>(store: &S) -> Result<(), String> {
    let a = "conformance-heads-a";
    let b = "conformance-heads-b";
    let first = fixture_events(a, None, 2, Some("conformance-heads-k1"))?;
    let signals: Vec<StoredSignal> = first
        .iter()
        .enumerate()
        .map(|(i, e)| fixture_signal(e, "h", i + 1))
        .collect();
    call(
        "append",
        store.append(
            &Append::new(a, 0, &first)
                .with_idempotency(&record("conformance-heads-k1", a))
                .with_outbox(&signals),
        ),
    )?;
    let more = fixture_events(a, first.last(), 1, Some("conformance-heads-k2"))?;
    call(
        "append",
        store
            .append(&Append::new(a, 2, &more).with_idempotency(&record("conformance-heads-k2", a))),
    )?;
    let other = fixture_events(b, None, 1, None)?;
    call("append", store.append(&Append::new(b, 0, &other)))?;
    call(
        "mark_delivered",
        store.mark_delivered(&[format!("{a}:h:1")]),
    )?;

    let mut heads = call("heads", store.heads())?;
    heads.sort();
    let last_a = more.last().ok_or("no fixture event")?;
    let last_b = other.last().ok_or("no fixture event")?;
    let want = vec![
        StreamHead {
            stream: a.into(),
            version: 3,
            digest: last_a.digest.clone(),
        },
        StreamHead {
            stream: b.into(),
            version: 1,
            digest: last_b.digest.clone(),
        },
    ];
    ensure(heads == want, || {
        format!("heads read back as {heads:?}, expected {want:?}")
    })?;
    let rows = call("outbox_of", store.outbox_of(a))?;
    ensure(rows == signals, || {
        format!("the outbox rows of `{a}` read back as {rows:?}")
    })?;
    ensure(call("outbox_of", store.outbox_of(b))?.is_empty(), || {
        format!("`{b}` has outbox rows")
    })?;
    let mut records = call("idempotency_of", store.idempotency_of(a))?;
    records.sort_by(|x, y| x.key.cmp(&y.key));
    let want_records = vec![
        record("conformance-heads-k1", a),
        record("conformance-heads-k2", a),
    ];
    ensure(records == want_records, || {
        format!("the idempotency records of `{a}` read back as {records:?}")
    })?;
    ensure(
        call("idempotency_of", store.idempotency_of(b))?.is_empty(),
        || format!("`{b}` has idempotency records"),
    )?;
    let referenced = call("referenced_streams", store.referenced_streams())?;
    ensure(referenced == [a.to_string()], || {
        format!("referenced streams read back as {referenced:?}")
    })
}

/// An operator's stream (`operator:<id>`, envelopes with an empty surface pin) is a stream
/// like any other: appended with the expected version and an idempotency key, read back
/// unchanged (it still verifies), listed among the cases in creation order, and conflicting
/// like a case.
pub fn operator_streams<S: Store>(store: &S) -> Result<(), String> {
    let stream = crate::spine::operator::stream_id("conformance-op");
    let actor = actor();
    let unpinned = SurfacePin::unpinned();
    let seal = |previous: Option<&StoredEvent>, events: Vec<Event>, key: Option<&str>| {
        Envelope {
            case_id: &stream,
            actor: &actor,
            surface: &unpinned,
            idempotency_key: key,
            at: T0,
            host_at: None,
        }
        .seal(previous, events)
        .map_err(|e| format!("building operator events: {e}"))
    };
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("certified".to_string(), json!(["ev", "hybrid"]));
    let registered = seal(
        None,
        vec![Event::OperatorRegistered {
            operator: "conformance-op".into(),
            name: "Conformance Operator".into(),
            surfaces: vec!["conformance".into()],
            attributes,
            by: actor.id.clone(),
            at: T0,
        }],
        Some("conformance-op-register"),
    )?;
    let case = "conformance-after-op";
    call(
        "append",
        store.append(&Append::new(case, 0, &fixture_events(case, None, 1, None)?)),
    )?;
    call(
        "append",
        store.append(
            &Append::new(&stream, 0, &registered)
                .with_idempotency(&record("conformance-op-register", &stream)),
        ),
    )?;
    let suspended = seal(
        registered.last(),
        vec![
            Event::OperatorSuspended {
                reason: "lapsed".into(),
                by: actor.id.clone(),
                at: T0,
            },
            Event::OperatorReinstated {
                by: actor.id.clone(),
                at: T0,
            },
        ],
        None,
    )?;
    let stale = seal(
        None,
        vec![Event::OperatorReinstated {
            by: actor.id.clone(),
            at: T0,
        }],
        None,
    )?;
    expect_conflict(
        "an operator stream appended at a stale version",
        store.append(&Append::new(&stream, 0, &stale)),
    )?;
    call("append", store.append(&Append::new(&stream, 1, &suspended)))?;
    let all: Vec<StoredEvent> = registered.into_iter().chain(suspended.clone()).collect();
    let loaded = call("load", store.load(&stream))?;
    same_events("an operator stream", &loaded, &all)?;
    ensure(
        loaded
            .iter()
            .all(|e| e.surface.is_empty() && e.surface_fingerprint.is_empty()),
        || "an operator stream's envelopes read back with a surface".into(),
    )?;
    same_events(
        "the tail of an operator stream",
        &call("load_after", store.load_after(&stream, 1))?,
        &suspended,
    )?;
    let verified = crate::audit::verify_operator(&stream, &loaded)
        .map_err(|e| format!("the operator stream read back does not verify: {e}"))?;
    ensure(
        verified.is_some_and(|p| p.status == crate::spine::OperatorStatus::Active),
        || "the operator stream folds to the wrong profile".into(),
    )?;
    ensure(
        call("idempotency", store.idempotency("conformance-op-register"))?
            .is_some_and(|r| r.case_id == stream),
        || "the key of an operator command is not recorded with its stream".into(),
    )?;
    let listed = call("cases", store.cases())?;
    ensure(listed == [case.to_string(), stream.clone()], || {
        format!("streams listed as {listed:?}, expected [{case}, {stream}]")
    })
}

// ---------------------------------------------------------------------------------------------
// Properties on several handles.

/// Everything written through one handle is there, unchanged, through a new handle after the
/// first is dropped: events, keys, pending and delivered signals.
pub fn reopening<S: Store>(open: &impl Fn() -> S) -> Result<(), String> {
    let case = "conformance-reopen";
    let events = fixture_events(case, None, 3, Some("conformance-reopen-key"))?;
    let signals = vec![
        fixture_signal(events.get(1).ok_or("no fixture event")?, "r", 1),
        fixture_signal(events.get(2).ok_or("no fixture event")?, "r", 2),
    ];
    let rec = record("conformance-reopen-key", case);
    {
        let store = open();
        call(
            "append",
            store.append(
                &Append::new(case, 0, &events)
                    .with_idempotency(&rec)
                    .with_outbox(&signals),
            ),
        )?;
        call(
            "mark_delivered",
            store.mark_delivered(&[format!("{case}:r:1")]),
        )?;
    }
    let store = open();
    same_events("after reopening", &call("load", store.load(case))?, &events)?;
    ensure(
        call("idempotency", store.idempotency(&rec.key))?.as_ref() == Some(&rec),
        || "the idempotency record did not survive reopening".into(),
    )?;
    let pending: Vec<StoredSignal> = call("pending_signals", store.pending_signals(100))?
        .into_iter()
        .filter(|s| s.case_id == case)
        .collect();
    ensure(
        pending.as_slice() == signals.get(1..).unwrap_or(&[]),
        || format!("after reopening, the pending signals are {pending:?}"),
    )?;
    ensure(
        call("cases", store.cases())?.iter().any(|c| c == case),
        || "the case is not listed after reopening".into(),
    )?;
    let next = fixture_events(case, events.last(), 1, None)?;
    expect_conflict(
        "a stale append after reopening",
        store.append(&Append::new(case, 2, &fixture_tail(case, 2, 1)?)),
    )?;
    call(
        "append after reopening",
        store.append(&Append::new(case, 3, &next)),
    )?;
    Ok(())
}

/// Appends racing through different handles (connections, processes) on one storage: exactly
/// one wins.
pub fn racing_handles<S: Store>(open: &impl Fn() -> S) -> Result<(), String> {
    let handles: Vec<S> = (0..4).map(|_| open()).collect();
    let refs: Vec<&S> = handles.iter().collect();
    race(&refs, "conformance-race-handles")
}

// ---------------------------------------------------------------------------------------------
// The index.

/// A case index row for `case` at `version`, everything else empty, changed by `edit`.
pub fn fixture_row(case: &str, version: u64, edit: impl FnOnce(&mut CaseIndex)) -> IndexRow {
    let mut row = CaseIndex {
        case: case.to_string(),
        version,
        surface: "conformance".to_string(),
        surface_version: 1,
        task: Some(TaskState::Open),
        assignee: None,
        job: None,
        owner: None,
        phase: None,
        stage: None,
        service_event: None,
        pending_approval: None,
        queue: Some(QueueNeed::Review),
        claim_open: false,
        completed_visible: true,
        created_at: T0,
        last_activity: T0,
        next_due_at: None,
    };
    edit(&mut row);
    IndexRow::Case(row)
}

/// Create `case` (one event) with `row` as its index row.
fn create_with_row<S: Store>(store: &S, case: &str, row: &IndexRow) -> Result<(), String> {
    let events = fixture_events(case, None, 1, None)?;
    call(
        "append",
        store.append(&Append::new(case, 0, &events).with_index(row)),
    )?;
    Ok(())
}

fn ids(rows: &[CaseIndex]) -> Vec<&str> {
    rows.iter().map(|r| r.case.as_str()).collect()
}

fn expect_ids(what: &str, rows: &[CaseIndex], want: &[&str]) -> Result<(), String> {
    let got = ids(rows);
    ensure(got == want, || {
        format!("{what}: got {got:?}, expected {want:?}")
    })
}

/// A row is written with its append, read back exactly, replaced by the next append's row,
/// kept by an append without one, and never written by a refused append (conflict, key taken).
pub fn index_rows<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-index";
    ensure(
        call("index_state", store.index_state())? == IndexState::Ready,
        || "a new store's index is not ready".into(),
    )?;
    ensure(call("index_row", store.index_row(case))?.is_none(), || {
        "an unknown case has an index row".into()
    })?;
    let first = fixture_events(case, None, 2, None)?;
    let row1 = fixture_row(case, 2, |r| {
        r.assignee = Some("op-a".into());
        r.next_due_at = Some(T0 + 5);
        r.stage = Some("queued".into());
        r.pending_approval = Some("done".into());
        r.service_event = Some(ServiceEventState::Open);
        r.claim_open = true;
        r.completed_visible = false;
    });
    call(
        "append",
        store.append(&Append::new(case, 0, &first).with_index(&row1)),
    )?;
    let got = call("index_row", store.index_row(case))?;
    ensure(got.as_ref() == Some(&row1), || {
        format!("the row reads back as {got:?}")
    })?;
    // Replaced (every field, including back to empty).
    let second = fixture_events(case, first.last(), 1, None)?;
    let row2 = fixture_row(case, 3, |r| {
        r.task = Some(TaskState::Approved);
        r.queue = None;
        r.job = Some(JobState::Claimed);
        r.owner = Some("op-b".into());
        r.phase = Some("doing".into());
        r.last_activity = T0 + 9;
    });
    call(
        "append",
        store.append(&Append::new(case, 2, &second).with_index(&row2)),
    )?;
    let got = call("index_row", store.index_row(case))?;
    ensure(got.as_ref() == Some(&row2), || {
        format!("the replaced row reads back as {got:?}")
    })?;
    // An append without a row keeps the row.
    let third = fixture_events(case, second.last(), 1, None)?;
    call("append", store.append(&Append::new(case, 3, &third)))?;
    ensure(
        call("index_row", store.index_row(case))?.as_ref() == Some(&row2),
        || "an append without a row changed the row".into(),
    )?;
    // Refused appends write no row.
    let stale = fixture_tail(case, 2, 2)?;
    let refused = fixture_row(case, 4, |r| r.owner = Some("op-lost".into()));
    expect_conflict(
        "an append at a stale version",
        store.append(&Append::new(case, 2, &stale).with_index(&refused)),
    )?;
    let k = "conformance-index-key";
    call(
        "append",
        store.append(
            &Append::new(
                "conformance-index-k",
                0,
                &fixture_events("conformance-index-k", None, 1, Some(k))?,
            )
            .with_idempotency(&record(k, "conformance-index-k")),
        ),
    )?;
    let taken = fixture_events(case, third.last(), 1, Some(k))?;
    let refused = fixture_row(case, 5, |r| r.owner = Some("op-lost".into()));
    match store.append(
        &Append::new(case, 4, &taken)
            .with_idempotency(&record(k, case))
            .with_index(&refused),
    ) {
        Err(StoreError::KeyTaken { .. }) => {}
        other => return Err(format!("a taken key: expected `KeyTaken`, got {other:?}")),
    }
    ensure(
        call("index_row", store.index_row(case))?.as_ref() == Some(&row2),
        || "a refused append changed the row".into(),
    )?;
    // Operator rows.
    let op_stream = "operator:conformance-op";
    let op = IndexRow::Operator(OperatorIndex {
        operator: "conformance-op".into(),
        version: 1,
        status: "active".into(),
        surfaces: vec!["conformance".into(), "other".into()],
    });
    let events = fixture_events(op_stream, None, 1, None)?;
    call(
        "append",
        store.append(&Append::new(op_stream, 0, &events).with_index(&op)),
    )?;
    ensure(
        call("index_row", store.index_row(op_stream))?.as_ref() == Some(&op),
        || "the operator row does not read back".into(),
    )?;
    let listed = call("operators", store.operators())?;
    ensure(
        listed.len() == 1 && listed.first().cloned().map(IndexRow::Operator).as_ref() == Some(&op),
        || format!("operators() lists {listed:?}"),
    )
}

/// A row of another stream, or one that does not reflect the version the append leaves, is
/// refused and nothing is written.
pub fn index_rows_checked<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-index-checked";
    let events = fixture_events(case, None, 1, None)?;
    for (what, row) in [
        (
            "another case's row",
            fixture_row("conformance-other", 1, |_| {}),
        ),
        ("a row of the wrong version", fixture_row(case, 2, |_| {})),
        (
            "an operator row on a case",
            IndexRow::Operator(OperatorIndex {
                operator: case.into(),
                version: 1,
                status: "active".into(),
                surfaces: Vec::new(),
            }),
        ),
    ] {
        match store.append(&Append::new(case, 0, &events).with_index(&row)) {
            Err(StoreError::Invalid { .. }) => {}
            other => return Err(format!("{what}: expected `Invalid`, got {other:?}")),
        }
    }
    ensure(call("load", store.load(case))?.is_empty(), || {
        "a refused append wrote its events".into()
    })?;
    ensure(call("index_row", store.index_row(case))?.is_none(), || {
        "a refused append wrote its row".into()
    })
}

/// The desk: queued Jobs assigned to the operator or open to anyone (creation order, each
/// once), claimed Jobs they own (creation order), completed visible Jobs they owned (newest
/// case first); `limit` per column.
pub fn desk_query<S: Store>(store: &S) -> Result<(), String> {
    let row = |case: &str, edit: &dyn Fn(&mut CaseIndex)| fixture_row(case, 1, |r| edit(r));
    let queued = |r: &mut CaseIndex| {
        r.task = Some(TaskState::Approved);
        r.queue = None;
        r.job = Some(JobState::Queued);
    };
    let cases: Vec<(&str, IndexRow)> = vec![
        (
            "conformance-d1",
            row("conformance-d1", &|r| {
                queued(r);
                r.assignee = Some("op-lee".into());
            }),
        ),
        (
            "conformance-d2",
            row("conformance-d2", &|r| {
                queued(r);
                r.assignee = Some("op-max".into());
            }),
        ),
        (
            "conformance-d3",
            row("conformance-d3", &|r| {
                queued(r);
                r.assignee = Some("op-max".into());
                r.claim_open = true;
            }),
        ),
        (
            "conformance-d4",
            row("conformance-d4", &|r| {
                queued(r);
                r.assignee = Some("op-lee".into());
                r.claim_open = true;
            }),
        ),
        (
            "conformance-d5",
            row("conformance-d5", &|r| {
                r.job = Some(JobState::Claimed);
                r.owner = Some("op-lee".into());
                r.assignee = Some("op-lee".into());
            }),
        ),
        (
            "conformance-d6",
            row("conformance-d6", &|r| {
                r.job = Some(JobState::Claimed);
                r.owner = Some("op-max".into());
            }),
        ),
        (
            "conformance-d7",
            row("conformance-d7", &|r| {
                r.job = Some(JobState::Completed);
                r.owner = Some("op-lee".into());
            }),
        ),
        (
            "conformance-d8",
            row("conformance-d8", &|r| {
                r.job = Some(JobState::Completed);
                r.owner = Some("op-lee".into());
                r.completed_visible = false;
            }),
        ),
        (
            "conformance-d9",
            row("conformance-d9", &|r| {
                r.job = Some(JobState::Completed);
                r.owner = Some("op-lee".into());
            }),
        ),
        (
            "conformance-da",
            row("conformance-da", &|r| {
                r.job = Some(JobState::Cancelled);
                r.owner = Some("op-lee".into());
                r.assignee = Some("op-lee".into());
            }),
        ),
        (
            "conformance-db",
            row("conformance-db", &|r| {
                r.job = Some(JobState::Claimed);
                r.owner = Some("op-lee".into());
            }),
        ),
        (
            "conformance-dc",
            row("conformance-dc", &|r| {
                queued(r);
                r.claim_open = true;
            }),
        ),
    ];
    for (case, row) in &cases {
        create_with_row(store, case, row)?;
    }
    let lee = call("desk", store.desk("op-lee", 10))?;
    expect_ids(
        "op-lee's queued Jobs",
        &lee.queued,
        &[
            "conformance-d1",
            "conformance-d3",
            "conformance-d4",
            "conformance-dc",
        ],
    )?;
    expect_ids(
        "op-lee's active Jobs",
        &lee.active,
        &["conformance-d5", "conformance-db"],
    )?;
    expect_ids(
        "op-lee's completed Jobs",
        &lee.completed,
        &["conformance-d9", "conformance-d7"],
    )?;
    let max = call("desk", store.desk("op-max", 10))?;
    expect_ids(
        "op-max's queued Jobs",
        &max.queued,
        &[
            "conformance-d2",
            "conformance-d3",
            "conformance-d4",
            "conformance-dc",
        ],
    )?;
    expect_ids("op-max's active Jobs", &max.active, &["conformance-d6"])?;
    expect_ids("op-max's completed Jobs", &max.completed, &[])?;
    let nobody = call("desk", store.desk("op-none", 10))?;
    expect_ids(
        "a stranger's queued Jobs",
        &nobody.queued,
        &["conformance-d3", "conformance-d4", "conformance-dc"],
    )?;
    let short = call("desk", store.desk("op-lee", 1))?;
    expect_ids(
        "op-lee's queued Jobs, limit 1",
        &short.queued,
        &["conformance-d1"],
    )?;
    expect_ids(
        "op-lee's active Jobs, limit 1",
        &short.active,
        &["conformance-d5"],
    )?;
    expect_ids(
        "op-lee's completed Jobs, limit 1",
        &short.completed,
        &["conformance-d9"],
    )?;
    // A row moves between columns when the next append replaces it.
    let more = fixture_events(
        "conformance-d1",
        call("load", store.load("conformance-d1"))?.last(),
        1,
        None,
    )?;
    let claimed = fixture_row("conformance-d1", 2, |r| {
        r.job = Some(JobState::Claimed);
        r.owner = Some("op-lee".into());
        r.assignee = Some("op-lee".into());
    });
    call(
        "append",
        store.append(&Append::new("conformance-d1", 1, &more).with_index(&claimed)),
    )?;
    let lee = call("desk", store.desk("op-lee", 10))?;
    expect_ids(
        "op-lee's queued Jobs after a claim",
        &lee.queued,
        &["conformance-d3", "conformance-d4", "conformance-dc"],
    )?;
    expect_ids(
        "op-lee's active Jobs after a claim",
        &lee.active,
        &["conformance-d1", "conformance-d5", "conformance-db"],
    )
}

/// The queue: rows with a queue need, creation order, `limit`. Due: rows whose `next_due_at` is
/// at or before `now`, earliest first.
pub fn queue_and_due_queries<S: Store>(store: &S) -> Result<(), String> {
    let rows = [
        ("conformance-q1", Some(QueueNeed::Review), Some(T0 + 30)),
        ("conformance-q2", None, Some(T0 + 10)),
        ("conformance-q3", Some(QueueNeed::HandOff), None),
        ("conformance-q4", Some(QueueNeed::Approval), Some(T0 + 10)),
        ("conformance-q5", None, Some(T0 + 50)),
    ];
    for (case, need, due) in rows {
        create_with_row(
            store,
            case,
            &fixture_row(case, 1, |r| {
                r.queue = need;
                r.next_due_at = due;
            }),
        )?;
    }
    let queue = call("queue", store.queue(10))?;
    expect_ids(
        "the queue",
        &queue,
        &["conformance-q1", "conformance-q3", "conformance-q4"],
    )?;
    ensure(
        queue.get(1).and_then(|r| r.queue) == Some(QueueNeed::HandOff),
        || "the queue need does not read back".into(),
    )?;
    expect_ids(
        "the queue, limit 2",
        &call("queue", store.queue(2))?,
        &["conformance-q1", "conformance-q3"],
    )?;
    expect_ids(
        "due before anything",
        &call("due", store.due(T0 + 9, 10))?,
        &[],
    )?;
    expect_ids(
        "due at T0+10",
        &call("due", store.due(T0 + 10, 10))?,
        &["conformance-q2", "conformance-q4"],
    )?;
    expect_ids(
        "due at T0+40",
        &call("due", store.due(T0 + 40, 10))?,
        &["conformance-q2", "conformance-q4", "conformance-q1"],
    )?;
    expect_ids(
        "due at T0+99, limit 2",
        &call("due", store.due(T0 + 99, 2))?,
        &["conformance-q2", "conformance-q4"],
    )?;
    // Once the row says nothing is due, the case leaves the due list.
    let more = fixture_events(
        "conformance-q2",
        call("load", store.load("conformance-q2"))?.last(),
        1,
        None,
    )?;
    call(
        "append",
        store.append(
            &Append::new("conformance-q2", 1, &more).with_index(&fixture_row(
                "conformance-q2",
                2,
                |r| {
                    r.queue = None;
                    r.next_due_at = None;
                },
            )),
        ),
    )?;
    expect_ids(
        "due after the escalation",
        &call("due", store.due(T0 + 40, 10))?,
        &["conformance-q4", "conformance-q1"],
    )
}

/// The list: every filter, newest activity first (ties: the greater case id first), pages
/// after a cursor, `limit`.
pub fn list_query<S: Store>(store: &S) -> Result<(), String> {
    type Edit<'a> = &'a dyn Fn(&mut CaseIndex);
    let rows: Vec<(&str, Millis, Edit<'_>)> = vec![
        ("conformance-l1", T0 + 1, &|r| {
            r.job = Some(JobState::Queued);
            r.assignee = Some("op-a".into());
        }),
        ("conformance-l2", T0 + 5, &|r| {
            r.job = Some(JobState::Claimed);
            r.assignee = Some("op-a".into());
            r.owner = Some("op-a".into());
            r.phase = Some("doing".into());
        }),
        ("conformance-l3", T0 + 5, &|r| {
            r.surface = "other".into();
            r.surface_version = 2;
        }),
        ("conformance-l4", T0 + 3, &|r| {
            r.job = Some(JobState::Claimed);
            r.owner = Some("op-b".into());
            r.phase = Some("checking".into());
        }),
        ("conformance-l5", T0 + 9, &|r| {
            r.surface = "other".into();
            r.surface_version = 1;
            r.job = Some(JobState::Queued);
        }),
    ];
    for (case, at, edit) in &rows {
        create_with_row(
            store,
            case,
            &fixture_row(case, 1, |r| {
                r.last_activity = *at;
                edit(r);
            }),
        )?;
    }
    let list = |filter: CaseFilter, after: Option<&ListCursor>, limit: usize| {
        call("list", store.list(&filter, after, limit))
    };
    let all = list(CaseFilter::default(), None, 10)?;
    expect_ids(
        "every case",
        &all,
        &[
            "conformance-l5",
            "conformance-l3",
            "conformance-l2",
            "conformance-l4",
            "conformance-l1",
        ],
    )?;
    let page = list(CaseFilter::default(), None, 2)?;
    expect_ids(
        "the first page",
        &page,
        &["conformance-l5", "conformance-l3"],
    )?;
    let cursor = page.last().map(ListCursor::after).ok_or("an empty page")?;
    let cursor = ListCursor::decode(&cursor.encode()).ok_or("the cursor does not round-trip")?;
    let page = list(CaseFilter::default(), Some(&cursor), 2)?;
    expect_ids(
        "the second page",
        &page,
        &["conformance-l2", "conformance-l4"],
    )?;
    let cursor = page.last().map(ListCursor::after).ok_or("an empty page")?;
    expect_ids(
        "the last page",
        &list(CaseFilter::default(), Some(&cursor), 2)?,
        &["conformance-l1"],
    )?;
    let f = |edit: &dyn Fn(&mut CaseFilter)| {
        let mut filter = CaseFilter::default();
        edit(&mut filter);
        filter
    };
    expect_ids(
        "surface slug",
        &list(f(&|f| f.surface = Some("other".into())), None, 10)?,
        &["conformance-l5", "conformance-l3"],
    )?;
    expect_ids(
        "surface slug@version",
        &list(f(&|f| f.surface = Some("other@2".into())), None, 10)?,
        &["conformance-l3"],
    )?;
    expect_ids(
        "a surface version that is no number",
        &list(f(&|f| f.surface = Some("other@x".into())), None, 10)?,
        &[],
    )?;
    expect_ids(
        "job queued",
        &list(f(&|f| f.job = Some(Some(JobState::Queued))), None, 10)?,
        &["conformance-l5", "conformance-l1"],
    )?;
    expect_ids(
        "job none",
        &list(f(&|f| f.job = Some(None)), None, 10)?,
        &["conformance-l3"],
    )?;
    expect_ids(
        "phase",
        &list(f(&|f| f.phase = Some("doing".into())), None, 10)?,
        &["conformance-l2"],
    )?;
    expect_ids(
        "assignee",
        &list(f(&|f| f.assignee = Some("op-a".into())), None, 10)?,
        &["conformance-l2", "conformance-l1"],
    )?;
    expect_ids(
        "owner",
        &list(f(&|f| f.owner = Some("op-b".into())), None, 10)?,
        &["conformance-l4"],
    )?;
    expect_ids(
        "several filters",
        &list(
            f(&|f| {
                f.job = Some(Some(JobState::Claimed));
                f.assignee = Some("op-a".into());
                f.surface = Some("conformance@1".into());
            }),
            None,
            10,
        )?,
        &["conformance-l2"],
    )?;
    let cursor = ListCursor {
        last_activity: T0 + 5,
        case: "conformance-l3".into(),
    };
    expect_ids(
        "claimed after a cursor",
        &list(
            f(&|f| f.job = Some(Some(JobState::Claimed))),
            Some(&cursor),
            10,
        )?,
        &["conformance-l2", "conformance-l4"],
    )
}

/// The index state: a rebuild makes queries fail until it finishes; `reindex` writes or removes
/// a row only at the stream's current version.
pub fn index_rebuild<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-reindex";
    create_with_row(store, case, &fixture_row(case, 1, |_| {}))?;
    call("begin_reindex", store.begin_reindex())?;
    ensure(
        call("index_state", store.index_state())? == IndexState::NeedsRebuild,
        || "the state is not `needs_rebuild` during a rebuild".into(),
    )?;
    for (what, result) in [
        ("desk", store.desk("op", 10).map(|_| ())),
        ("queue", store.queue(10).map(|_| ())),
        (
            "list",
            store.list(&CaseFilter::default(), None, 10).map(|_| ()),
        ),
        ("due", store.due(T0, 10).map(|_| ())),
        ("operators", store.operators().map(|_| ())),
    ] {
        ensure(matches!(result, Err(StoreError::IndexNotReady)), || {
            format!("{what} during a rebuild: expected `IndexNotReady`, got {result:?}")
        })?;
    }
    let row = fixture_row(case, 1, |r| r.owner = Some("op-rebuilt".into()));
    ensure(
        !call(
            "reindex",
            store.reindex(case, 2, Some(&row)).or_else(|e| match e {
                StoreError::Invalid { .. } => Ok(false),
                other => Err(other),
            }),
        )?,
        || "a reindex at the wrong version wrote".into(),
    )?;
    let stale = fixture_row(case, 0, |_| {});
    ensure(
        !call("reindex", store.reindex(case, 0, Some(&stale)))?,
        || "a reindex at a stale version wrote".into(),
    )?;
    ensure(call("reindex", store.reindex(case, 1, Some(&row)))?, || {
        "a reindex at the current version did not write".into()
    })?;
    ensure(
        call("index_row", store.index_row(case))?.as_ref() == Some(&row),
        || "the reindexed row does not read back".into(),
    )?;
    call("finish_reindex", store.finish_reindex())?;
    ensure(
        call("index_state", store.index_state())? == IndexState::Ready,
        || "the state is not `ready` after a rebuild".into(),
    )?;
    ensure(
        ids(&call("list", store.list(&CaseFilter::default(), None, 10))?) == [case],
        || "the rebuilt index does not answer".into(),
    )?;
    call("begin_reindex", store.begin_reindex())?;
    ensure(call("reindex", store.reindex(case, 1, None))?, || {
        "removing a row at the current version did not happen".into()
    })?;
    call("finish_reindex", store.finish_reindex())?;
    ensure(call("index_row", store.index_row(case))?.is_none(), || {
        "a removed row is still there".into()
    })
}

// ---------------------------------------------------------------------------------------------
// The feed.

/// Read the whole feed after `after`, in pages of `page`.
fn read_feed<S: Store>(
    store: &S,
    after: u64,
    page: usize,
) -> Result<Vec<crate::host::FeedEntry>, String> {
    let mut out = Vec::new();
    let mut at = after;
    loop {
        let batch = call("feed", store.feed(at, page))?;
        let done = batch.len() < page;
        if let Some(last) = batch.last() {
            at = last.position;
        }
        out.extend(batch);
        if done {
            return Ok(out);
        }
    }
}

/// How long a property waits for a store that numbers events after they commit (PostgreSQL:
/// any transaction open in the cluster holds numbering back) to number what was committed.
const FEED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Read the feed after `after` until it holds at least `want` events (or [`FEED_PATIENCE`]
/// passed), in pages of `page`.
fn read_feed_until<S: Store>(
    store: &S,
    after: u64,
    want: usize,
    page: usize,
) -> Result<Vec<crate::host::FeedEntry>, String> {
    let deadline = std::time::Instant::now() + FEED_PATIENCE;
    let mut out = read_feed(store, after, page)?;
    while out.len() < want && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let from = out.last().map_or(after, |e| e.position);
        out.extend(read_feed(store, from, page)?);
    }
    Ok(out)
}

/// Positions 1, 2, 3, … in commit order across cases; pages after a position; what
/// [`Committed`] reports (when the store reports positions) is where the events are.
pub fn feed_order<S: Store>(store: &S) -> Result<(), String> {
    ensure(call("feed", store.feed(0, 10))?.is_empty(), || {
        "a new store's feed is not empty".into()
    })?;
    let a = "conformance-feed-a";
    let b = "conformance-feed-b";
    let a1 = fixture_events(a, None, 2, None)?;
    let b1 = fixture_events(b, None, 1, None)?;
    let a2 = fixture_events(a, a1.last(), 3, None)?;
    let committed = [
        call("append", store.append(&Append::new(a, 0, &a1)))?,
        call("append", store.append(&Append::new(b, 0, &b1)))?,
        call("append", store.append(&Append::new(a, 2, &a2)))?,
    ];
    let order: Vec<&StoredEvent> = a1.iter().chain(&b1).chain(&a2).collect();
    let feed = read_feed_until(store, 0, order.len(), 2)?;
    ensure(feed.len() == order.len(), || {
        format!(
            "the feed holds {} events, {} were appended",
            feed.len(),
            order.len()
        )
    })?;
    for (i, (entry, want)) in feed.iter().zip(&order).enumerate() {
        ensure(entry.position == i as u64 + 1, || {
            format!("entry {i} has position {}", entry.position)
        })?;
        ensure(&entry.event == *want, || {
            format!(
                "position {} holds `{}`, expected `{}`",
                entry.position, entry.event.event_id, want.event_id
            )
        })?;
    }
    let tail = call("feed", store.feed(4, 10))?;
    ensure(
        tail.iter().map(|e| e.position).collect::<Vec<_>>() == [5, 6],
        || {
            format!(
                "after position 4 the feed holds {:?}",
                tail.iter().map(|e| e.position).collect::<Vec<_>>()
            )
        },
    )?;
    ensure(call("feed", store.feed(6, 10))?.is_empty(), || {
        "the feed goes on past its end".into()
    })?;
    let mut next = 1;
    for (c, n) in committed.iter().zip([2u64, 1, 3]) {
        if let Some(range) = &c.positions {
            ensure(*range == (next..next + n), || {
                format!(
                    "an append reports positions {range:?}, expected {:?}",
                    next..next + n
                )
            })?;
        }
        next += n;
    }
    Ok(())
}

/// Refused appends (a conflict, a taken key, a malformed append) take no position: the next
/// committed event follows the last one without a hole.
pub fn feed_refusals<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-feed-refused";
    let first = fixture_events(case, None, 1, Some("conformance-feed-k"))?;
    call(
        "append",
        store.append(
            &Append::new(case, 0, &first).with_idempotency(&record("conformance-feed-k", case)),
        ),
    )?;
    expect_conflict(
        "a stale append",
        store.append(&Append::new(case, 0, &fixture_tail(case, 0, 2)?)),
    )?;
    let taken = fixture_events(
        "conformance-feed-other",
        None,
        1,
        Some("conformance-feed-k"),
    )?;
    ensure(
        store
            .append(
                &Append::new("conformance-feed-other", 0, &taken)
                    .with_idempotency(&record("conformance-feed-k", "x")),
            )
            .is_err(),
        || "a taken key was recorded".into(),
    )?;
    let next = fixture_events(case, first.last(), 1, None)?;
    call("append", store.append(&Append::new(case, 1, &next)))?;
    let feed = read_feed_until(store, 0, 2, 10)?;
    let got: Vec<(u64, &str)> = feed
        .iter()
        .map(|e| (e.position, e.event.event_id.as_str()))
        .collect();
    let id = |events: &[StoredEvent]| {
        events
            .first()
            .map(|e| e.event_id.clone())
            .unwrap_or_default()
    };
    let (first, next) = (id(&first), id(&next));
    let want = [(1, first.as_str()), (2, next.as_str())];
    ensure(got == want, || {
        format!("the feed holds {got:?}, expected {want:?}")
    })
}

/// Several writers on one handle and a reader polling (see [`feed_promise`]).
pub fn feed_concurrent<S: Store>(store: &S) -> Result<(), String> {
    feed_promise(&[store, store, store, store], "conformance-fc")
}

/// Several writers on several handles and a reader on another (see [`feed_promise`]).
pub fn feed_concurrent_handles<S: Store>(open: &impl Fn() -> S) -> Result<(), String> {
    let handles: Vec<S> = (0..5).map(|_| open()).collect();
    let refs: Vec<&S> = handles.iter().collect();
    feed_promise(&refs, "conformance-fch")
}

/// The feed's promise under concurrency: the last handle reads the feed in small pages while
/// the others append (each to cases of its own, and racing on one shared case); the reader
/// never sees a position at or below one it saw, never a hole, each case's events in order,
/// and at the end every committed event exactly once.
pub fn feed_promise<S: Store>(handles: &[&S], prefix: &str) -> Result<(), String> {
    const ROUNDS: u64 = 15;
    let Some((reader, writers)) = handles.split_last() else {
        return Ok(());
    };
    let shared = format!("{prefix}-shared");
    let start = read_feed(*reader, 0, 100)?.last().map_or(0, |e| e.position);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (written, read) = std::thread::scope(|scope| {
        let writing: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(w, store)| {
                let shared = &shared;
                scope.spawn(move || -> Result<u64, String> {
                    let own = format!("{prefix}-{w}");
                    let mut written = 0;
                    let mut last: Option<StoredEvent> = None;
                    for round in 0..ROUNDS {
                        let n = 1 + (round % 3) as usize;
                        let events = fixture_events(&own, last.as_ref(), n, None)?;
                        let version = last.as_ref().map_or(0, |e| e.seq);
                        call("append", store.append(&Append::new(&own, version, &events)))?;
                        written += n as u64;
                        last = events.last().cloned();
                        // Race for the next event of the shared case.
                        let version = call("load", store.load(shared))?.len() as u64;
                        let events = fixture_tail(shared, version, 1)?;
                        match store.append(&Append::new(shared, version, &events)) {
                            Ok(_) => written += 1,
                            Err(StoreError::Conflict { .. }) => {}
                            Err(other) => return Err(format!("a racing append failed: {other}")),
                        }
                    }
                    Ok(written)
                })
            })
            .collect();
        let done = &done;
        let reading = scope.spawn(move || -> Result<Vec<crate::host::FeedEntry>, String> {
            let mut seen = Vec::new();
            let mut after = start;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let batch = call("feed", reader.feed(after, 7))?;
                for entry in &batch {
                    ensure(entry.position == after + 1, || {
                        format!(
                            "after position {after} the feed gave position {}",
                            entry.position
                        )
                    })?;
                    after = entry.position;
                }
                let empty = batch.is_empty();
                seen.extend(batch);
                if finished && empty {
                    return Ok(seen);
                }
                if empty {
                    std::thread::yield_now();
                }
            }
        });
        let mut written = 0;
        let mut failure = None;
        for w in writing {
            match w.join() {
                Ok(Ok(n)) => written += n,
                Ok(Err(why)) => failure = Some(why),
                Err(_) => failure = Some("a writer panicked".to_string()),
            }
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err("the reader panicked".to_string()));
        match failure {
            Some(why) => (Err(why), read),
            None => (Ok(written), read),
        }
    });
    let written = written?;
    let mut read = read?;
    // The reader stopped when it saw an empty page after the writers finished; anything
    // numbered later (a store that numbers after commit) is read now and must follow on.
    // Events of other properties sharing the storage may be numbered meanwhile: only this
    // property's cases are counted.
    let mine = |read: &[crate::host::FeedEntry]| {
        read.iter()
            .filter(|e| e.event.case_id.starts_with(prefix))
            .count() as u64
    };
    let deadline = std::time::Instant::now() + FEED_PATIENCE;
    while mine(&read) < written && std::time::Instant::now() < deadline {
        let last = read.last().map_or(start, |e| e.position);
        let tail = read_feed(*reader, last, 100)?;
        for entry in tail {
            ensure(
                entry.position == read.last().map_or(start, |e| e.position) + 1,
                || format!("the feed's tail resumes at position {}", entry.position),
            )?;
            read.push(entry);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ensure(mine(&read) == written, || {
        format!(
            "{written} events were committed but the reader saw {}",
            mine(&read)
        )
    })?;
    read.retain(|e| e.event.case_id.starts_with(prefix));
    let mut per_case: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for entry in &read {
        let last = per_case.entry(entry.event.case_id.as_str()).or_insert(0);
        ensure(entry.event.seq == *last + 1, || {
            format!(
                "the feed holds event {} of `{}` after event {}",
                entry.event.seq, entry.event.case_id, last
            )
        })?;
        *last = entry.event.seq;
    }
    for (case, count) in &per_case {
        let stored = call("load", reader.load(case))?.len() as u64;
        ensure(stored == *count, || {
            format!("`{case}` holds {stored} events, the feed {count}")
        })?;
    }
    Ok(())
}

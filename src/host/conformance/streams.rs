//! Streams on one handle and on several: events read back in order, sequence numbers and
//! conflicts, racing appends, idempotency keys, the outbox, case listing, what verification
//! reads, case keys, operator streams, and reopening.

use std::sync::Barrier;

use serde_json::json;

use super::fixtures::{
    T0, actor, call, ensure, expect_conflict, fixture_events, fixture_signal, fixture_tail, record,
    same_events,
};
use crate::audit::Envelope;
use crate::host::store::{
    Append, Committed, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
};
use crate::spine::{Event, SurfacePin};

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

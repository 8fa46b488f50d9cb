//! Verifying a whole store: every stream's chain, the cross-checks between the tables, and
//! (when given) a signed checkpoint.
//!
//! [`verify_store`] is what `planck verify --db` runs. For every stream the store holds
//! (listed from [`Store::cases`] and, so that a stream whose first event was deleted is not
//! skipped, from [`Store::heads`]), it runs [`verify_case`] and then checks the rows written
//! beside the events against them, none of which a checkpoint covers:
//!
//! - every outbox row equals the row its `signal_emitted` event implies (id, kind, time,
//!   payload, event id and digest), and every `signal_emitted` event has its row
//!   ([`VerifyCode::OutboxMismatch`], [`VerifyCode::OutboxMissing`]);
//! - every idempotency record's stored outcome lists exactly the events that carry its key,
//!   each equal to the stored event, and every key an event carries has its record
//!   ([`VerifyCode::IdempotencyMismatch`], [`VerifyCode::IdempotencyMissing`]);
//! - outbox rows and idempotency records whose stream holds no events are reported under
//!   that stream, and so is a stream the store lists but that holds no events
//!   ([`VerifyCode::EmptyStream`]).
//!
//! [`verify_store_with`] adds a checkpoint (already checked with
//! [`crate::audit::checkpoint::Checkpoint::check`]): every stream it covers must still hold at
//! least its version with the same digest there ([`check_head`]); a covered stream that is
//! gone is reported too. One failure is reported per stream (the first found: chain, then
//! checkpoint, then cross-checks).
//!
//! This module reads the store only through the [`Store`] trait and decides nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::audit::checkpoint::{Checkpoint, StreamHead, check_head};
use crate::audit::envelope::{StoredEvent, StoredSignal};
use crate::audit::verify::{VerifyCode, VerifyError, VerifyReport, verify_case, verify_operator};
use crate::host::{IdempotencyRecord, Store, StoreError};
use crate::spine::operator::is_operator_stream;

/// Verify every stream of `store` and the rows beside them. Streams whose rows cannot be
/// decoded are reported as [`VerifyCode::Unreadable`]; other store failures are errors.
pub fn verify_store(store: &(impl Store + ?Sized)) -> Result<VerifyReport, StoreError> {
    verify_store_with(store, None)
}

/// [`verify_store`], and every stream `checkpoint` covers against its head there. Check the
/// checkpoint itself first ([`Checkpoint::check`]), or use
/// [`crate::audit::checkpoint::verify_against`], which does both.
pub fn verify_store_with(
    store: &(impl Store + ?Sized),
    checkpoint: Option<&Checkpoint>,
) -> Result<VerifyReport, StoreError> {
    verify_streams(store, checkpoint, |_, _, _| Ok(None))
}

/// [`verify_store_with`], with one more check per stream: `more` is called for every stream
/// whose events could be read, with its events and whether it held so far (its chain, the
/// checkpoint and the cross-checks). A failure it returns for a stream that held is reported
/// as that stream's failure. What `crate::engine::verify_with` uses to check the index rows.
pub fn verify_streams<F>(
    store: &(impl Store + ?Sized),
    checkpoint: Option<&Checkpoint>,
    mut more: F,
) -> Result<VerifyReport, StoreError>
where
    F: FnMut(&str, &[StoredEvent], bool) -> Result<Option<VerifyError>, StoreError>,
{
    let mut order = store.cases()?;
    let mut seen: HashSet<String> = order.iter().cloned().collect();
    let mut unlisted: Vec<String> = store
        .heads()?
        .into_iter()
        .map(|h| h.stream)
        .filter(|s| !seen.contains(s))
        .collect();
    unlisted.sort_unstable();
    unlisted.dedup();
    seen.extend(unlisted.iter().cloned());
    order.extend(unlisted);

    let mut report = VerifyReport::default();
    for id in &order {
        let head = checkpoint.and_then(|c| c.head(id));
        let (events, failure) = check_stream(store, id, head, &mut more)?;
        count(&mut report, id);
        report.events += events;
        report.streams.push(id.clone());
        report.failures.extend(failure);
    }
    // Streams the checkpoint covers that the store no longer has at all.
    if let Some(checkpoint) = checkpoint {
        for head in checkpoint.heads() {
            if seen.insert(head.stream.clone()) {
                count(&mut report, &head.stream);
                report.streams.push(head.stream.clone());
                report.failures.extend(check_head(head, &[]).err());
            }
        }
    }
    // Rows beside the events whose stream holds no events.
    let mut orphans: Vec<String> = store
        .referenced_streams()?
        .into_iter()
        .filter(|s| !seen.contains(s))
        .collect();
    orphans.sort_unstable();
    orphans.dedup();
    for id in orphans {
        let failure = check_rows(
            &id,
            &[],
            &store.outbox_of(&id)?,
            &store.idempotency_of(&id)?,
        )
        .err();
        count(&mut report, &id);
        report.streams.push(id);
        report.failures.extend(failure);
    }
    Ok(report)
}

/// Count `stream` as a case or as an operator stream.
fn count(report: &mut VerifyReport, stream: &str) {
    if is_operator_stream(stream) {
        report.operators += 1;
    } else {
        report.cases += 1;
    }
}

/// One stream: its events (counted) and its first failure.
fn check_stream<F>(
    store: &(impl Store + ?Sized),
    id: &str,
    head: Option<&StreamHead>,
    more: &mut F,
) -> Result<(usize, Option<VerifyError>), StoreError>
where
    F: FnMut(&str, &[StoredEvent], bool) -> Result<Option<VerifyError>, StoreError>,
{
    let events = match store.load(id) {
        Ok(events) => events,
        Err(err @ StoreError::Corrupt { .. }) => {
            let failure = VerifyError::new(VerifyCode::Unreadable, id, None, None, err.to_string());
            return Ok((0, Some(failure)));
        }
        Err(other) => return Err(other),
    };
    let count = events.len();
    let outbox = store.outbox_of(id);
    let records = store.idempotency_of(id);
    let failure = (|| {
        if events.is_empty() && head.is_none() {
            return Err(VerifyError::new(
                VerifyCode::EmptyStream,
                id,
                None,
                None,
                "the store lists the stream but it holds no events: they were deleted",
            ));
        }
        if !events.is_empty() {
            if is_operator_stream(id) {
                verify_operator(id, &events)?;
            } else {
                verify_case(id, &events)?;
            }
        }
        if let Some(head) = head {
            check_head(head, &events)?;
        }
        Ok(())
    })();
    if let Err(failure) = failure {
        more(id, &events, false)?;
        return Ok((count, Some(failure)));
    }
    let unreadable =
        |err: StoreError| VerifyError::new(VerifyCode::Unreadable, id, None, None, err.to_string());
    let outbox = match outbox {
        Ok(rows) => rows,
        Err(err @ StoreError::Corrupt { .. }) => {
            more(id, &events, false)?;
            return Ok((count, Some(unreadable(err))));
        }
        Err(other) => return Err(other),
    };
    let records = match records {
        Ok(rows) => rows,
        Err(err @ StoreError::Corrupt { .. }) => {
            more(id, &events, false)?;
            return Ok((count, Some(unreadable(err))));
        }
        Err(other) => return Err(other),
    };
    match check_rows(id, &events, &outbox, &records) {
        Err(failure) => {
            more(id, &events, false)?;
            Ok((count, Some(failure)))
        }
        Ok(()) => Ok((count, more(id, &events, true)?)),
    }
}

/// The cross-checks of one stream: its outbox rows and idempotency records against its events
/// (in stored order; empty when the stream holds none).
pub fn check_rows(
    stream: &str,
    events: &[StoredEvent],
    outbox: &[StoredSignal],
    records: &[IdempotencyRecord],
) -> Result<(), VerifyError> {
    check_outbox(stream, events, outbox)?;
    check_idempotency(stream, events, records)
}

/// Every outbox row is the row its `signal_emitted` event implies; every such event has one.
pub fn check_outbox(
    stream: &str,
    events: &[StoredEvent],
    rows: &[StoredSignal],
) -> Result<(), VerifyError> {
    let expected: Vec<(&StoredEvent, StoredSignal)> = events
        .iter()
        .filter_map(|e| e.outbox_signal().map(|s| (e, s)))
        .collect();
    let by_id: HashMap<&str, &(&StoredEvent, StoredSignal)> = expected
        .iter()
        .map(|pair| (pair.1.id.as_str(), pair))
        .collect();
    for row in rows {
        match by_id.get(row.id.as_str()) {
            None => {
                return Err(VerifyError::new(
                    VerifyCode::OutboxMismatch,
                    stream,
                    None,
                    Some(row.event_id.clone()),
                    format!(
                        "outbox row `{}` names no `signal_emitted` event of the stream",
                        row.id
                    ),
                ));
            }
            Some((event, want)) if want != row => {
                return Err(VerifyError::new(
                    VerifyCode::OutboxMismatch,
                    stream,
                    Some(event.seq),
                    Some(event.event_id.clone()),
                    format!(
                        "outbox row `{}` differs from the event that emitted it ({})",
                        row.id,
                        signal_differences(want, row)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let present: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for (event, want) in &expected {
        if !present.contains(want.id.as_str()) {
            return Err(VerifyError::new(
                VerifyCode::OutboxMissing,
                stream,
                Some(event.seq),
                Some(event.event_id.clone()),
                format!("signal `{}` has no outbox row", want.id),
            ));
        }
    }
    Ok(())
}

fn signal_differences(want: &StoredSignal, got: &StoredSignal) -> String {
    let mut fields = Vec::new();
    if want.case_id != got.case_id {
        fields.push("case");
    }
    if want.kind != got.kind {
        fields.push("kind");
    }
    if want.at != got.at {
        fields.push("time");
    }
    if want.payload != got.payload {
        fields.push("payload");
    }
    if want.event_id != got.event_id {
        fields.push("event id");
    }
    if want.event_digest != got.event_digest {
        fields.push("event digest");
    }
    format!("differs in: {}", fields.join(", "))
}

/// Every idempotency record lists exactly the events carrying its key, each as stored; every
/// key an event carries has a record.
pub fn check_idempotency(
    stream: &str,
    events: &[StoredEvent],
    records: &[IdempotencyRecord],
) -> Result<(), VerifyError> {
    let mut keyed: BTreeMap<&str, Vec<&StoredEvent>> = BTreeMap::new();
    for event in events {
        if let Some(key) = event.idempotency_key.as_deref() {
            keyed.entry(key).or_default().push(event);
        }
    }
    let mut sorted: Vec<&IdempotencyRecord> = records.iter().collect();
    sorted.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    for record in &sorted {
        let fail = |seq: Option<u64>, message: String| {
            Err(VerifyError::new(
                VerifyCode::IdempotencyMismatch,
                stream,
                seq,
                seq.map(|s| crate::audit::envelope::event_id(stream, s)),
                message,
            ))
        };
        let key = record.key.as_str();
        let listed = match receipt_events(stream, record) {
            Ok(listed) => listed,
            Err(why) => return fail(None, format!("the record of key `{key}`: {why}")),
        };
        for event in &listed {
            let stored = usize::try_from(event.seq.saturating_sub(1))
                .ok()
                .and_then(|at| events.get(at));
            match stored {
                None => {
                    return fail(
                        Some(event.seq),
                        format!(
                            "the record of key `{key}` lists event {}, which the stream no longer holds",
                            event.seq
                        ),
                    );
                }
                Some(stored) if stored != event => {
                    return fail(
                        Some(event.seq),
                        format!(
                            "the record of key `{key}` lists event {} differently from the stored one",
                            event.seq
                        ),
                    );
                }
                Some(stored) if stored.idempotency_key.as_deref() != Some(key) => {
                    return fail(
                        Some(event.seq),
                        format!(
                            "the record of key `{key}` lists event {}, which does not carry the key",
                            event.seq
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        let carrying: Vec<u64> = keyed
            .get(key)
            .map(|evs| evs.iter().map(|e| e.seq).collect())
            .unwrap_or_default();
        let recorded: Vec<u64> = listed.iter().map(|e| e.seq).collect();
        if carrying != recorded {
            return fail(
                carrying.first().or(recorded.first()).copied(),
                format!(
                    "events {carrying:?} carry key `{key}` but its record lists events {recorded:?}"
                ),
            );
        }
    }
    let recorded: HashSet<&str> = records.iter().map(|r| r.key.as_str()).collect();
    for (key, evs) in &keyed {
        if !recorded.contains(key)
            && let Some(first) = evs.first()
        {
            return Err(VerifyError::new(
                VerifyCode::IdempotencyMissing,
                stream,
                Some(first.seq),
                Some(first.event_id.clone()),
                format!("the event carries idempotency key `{key}`, which has no record"),
            ));
        }
    }
    Ok(())
}

/// The events an idempotency record's stored outcome lists (an applied receipt, serialized by
/// the engine as `{"outcome": "applied", "detail": {"case": …, "events": […]}}`).
fn receipt_events(stream: &str, record: &IdempotencyRecord) -> Result<Vec<StoredEvent>, String> {
    if record.case_id != stream {
        return Err(format!("it names stream `{}`", record.case_id));
    }
    let outcome: Value = serde_json::from_str(&record.outcome)
        .map_err(|e| format!("the stored outcome does not decode ({e})"))?;
    if outcome.get("outcome").and_then(Value::as_str) != Some("applied") {
        return Err("the stored outcome is not an applied command".into());
    }
    let detail = outcome
        .get("detail")
        .ok_or("the stored outcome has no detail")?;
    if detail.get("case").and_then(Value::as_str) != Some(stream) {
        return Err("the stored outcome names another case".into());
    }
    let events = detail
        .get("events")
        .cloned()
        .ok_or("the stored outcome lists no events")?;
    serde_json::from_value(events).map_err(|e| format!("the stored events do not decode ({e})"))
}

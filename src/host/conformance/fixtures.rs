//! The fixtures the properties append (envelopes, signals, idempotency records) and the
//! small checks they share.

use serde_json::json;

use crate::audit::Envelope;
use crate::host::store::{Committed, IdempotencyRecord, StoreError, StoredEvent, StoredSignal};
use crate::policy::{Principal, Role};
use crate::spine::{Event, Millis, Signal, SurfacePin};

pub(super) const T0: Millis = 1_767_225_600_000;

pub(super) fn pin() -> SurfacePin {
    SurfacePin {
        slug: "conformance".into(),
        version: 1,
        fingerprint: "c0".repeat(32),
    }
}

pub(super) fn actor() -> Principal {
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

pub(super) fn record(key: &str, case: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_string(),
        fingerprint: "f1".repeat(32),
        case_id: case.to_string(),
        outcome: json!({ "outcome": "applied", "case": case }).to_string(),
        recorded_at: T0,
    }
}

pub(super) fn call<T>(what: &str, result: Result<T, StoreError>) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: {e}"))
}

pub(super) fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}

pub(super) fn same_events(
    what: &str,
    got: &[StoredEvent],
    want: &[StoredEvent],
) -> Result<(), String> {
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

pub(super) fn expect_conflict(
    what: &str,
    result: Result<Committed, StoreError>,
) -> Result<(), String> {
    match result {
        Err(StoreError::Conflict { .. }) => Ok(()),
        Err(other) => Err(format!("{what}: expected a conflict, got `{other}`")),
        Ok(_) => Err(format!(
            "{what}: expected a conflict, but the append succeeded"
        )),
    }
}

//! What the truth tests (issue 13) share, whatever the store: the fixture's scenario, the
//! verdict of a verification without and with a checkpoint and the assertions on it, and the
//! forger's part that needs no database (edit the events, recompute every digest and link).
//! [`crate::truth`] drives SQLite through the CLI, [`crate::truth_postgres`] PostgreSQL through
//! the library.

use planck::audit::{StoredEvent, VerifyReport};
use serde_json::Value;

/// The scenario every truth test starts from: the ten steps (case `ev-1`, 15 events, one
/// outbox row, one idempotency record).
pub const TEN_STEPS: &str = "examples/scenarios/event-coordination.toml";

/// The case the ten steps write and the attacks tamper with.
pub const CASE: &str = "ev-1";

/// What a verification said: its exit code (0 it holds, 1 it does not) and every failure's
/// `(code, case)`.
#[derive(Debug)]
pub struct Verdict {
    pub exit: i32,
    pub failures: Vec<(String, String)>,
}

impl Verdict {
    /// The verdict `planck verify` prints for `report` (its exit code is 1 unless the report
    /// is ok).
    pub fn of(report: &VerifyReport) -> Verdict {
        Verdict {
            exit: if report.ok() { 0 } else { 1 },
            failures: report
                .failures
                .iter()
                .map(|f| (f.code().as_str().to_string(), f.case().to_string()))
                .collect(),
        }
    }

    pub fn holds(&self) -> bool {
        self.exit == 0 && self.failures.is_empty()
    }

    pub fn fails_with(&self, code: &str, case: &str) -> bool {
        self.exit == 1
            && self
                .failures
                .iter()
                .any(|(c, s)| c.as_str() == code && s.as_str() == case)
    }
}

/// A store under attack: its verdicts without a checkpoint and with the one taken before the
/// attack.
pub trait Judged {
    fn verdicts(&self) -> (Verdict, Verdict);
}

/// Both verdicts hold.
pub fn assert_holds_both(f: &impl Judged) {
    let (without, with) = f.verdicts();
    assert!(without.holds(), "{without:?}");
    assert!(with.holds(), "{with:?}");
}

/// Not detected without the checkpoint; detected with it (with `with_code`).
pub fn assert_undetected_without_then_with(f: &impl Judged, with_code: &str) {
    let (without, with) = f.verdicts();
    assert!(without.holds(), "{without:?}");
    assert!(with.fails_with(with_code, CASE), "{with:?}");
}

/// Caught without the checkpoint (with `without_code`) and with it (with `with_code`).
pub fn assert_caught(f: &impl Judged, without_code: &str, with_code: &str) {
    let (without, with) = f.verdicts();
    assert!(without.fails_with(without_code, CASE), "{without:?}");
    assert!(with.fails_with(with_code, CASE), "{with:?}");
}

/// Caught with `code` without the checkpoint and with it.
pub fn assert_detected_both(f: &impl Judged, code: &str) {
    assert_caught(f, code, code);
}

/// Caught with `time_backwards` without the checkpoint, and caught with it.
pub fn assert_backdating_caught(f: &impl Judged) {
    let (without, with) = f.verdicts();
    assert!(without.fails_with("time_backwards", CASE), "{without:?}");
    assert!(!with.holds(), "{with:?}");
}

/// The forger's computation: apply `edit` to a copy of `original` (a case's events, in
/// order), then recompute every link and digest from the first event on with the public
/// canonical form and digest rule ([`StoredEvent::compute_digest`]). The caller writes back
/// the events that differ, with the rows beside them.
pub fn rechain(
    original: &[StoredEvent],
    edit: impl FnOnce(&mut [StoredEvent]),
) -> Vec<StoredEvent> {
    let mut events = original.to_vec();
    edit(&mut events);
    let mut prev = planck::audit::GENESIS_DIGEST.to_string();
    for event in &mut events {
        event.prev_digest.clone_from(&prev);
        event.digest = event.compute_digest().unwrap();
        prev.clone_from(&event.digest);
    }
    events
}

/// Receipts hold whole envelopes: the JSON text of `old` to replace, and of `new` to put in
/// its place.
pub fn envelope_swap(old: &StoredEvent, new: &StoredEvent) -> (String, String) {
    (
        serde_json::to_string(old).unwrap(),
        serde_json::to_string(new).unwrap(),
    )
}

/// The payload edit: the settlement (after the sealed Record), 1850.00 USD, becomes 185.00.
pub fn cut_the_settlement(events: &mut [StoredEvent]) {
    let settlement = events
        .iter_mut()
        .find(|e| e.event_type == "settlement_recorded")
        .unwrap();
    let mut payload = serde_json::to_value(&settlement.payload).unwrap();
    assert_eq!(payload["amount_minor"], 185_000, "{payload}");
    payload["amount_minor"] = Value::from(18_500);
    settlement.payload = serde_json::from_value(payload).unwrap();
}

/// The actor edit: the case was closed by `admin-eve`, not `admin-kim`.
pub fn change_the_closer(events: &mut [StoredEvent]) {
    let closed = events.last_mut().unwrap();
    let mut actor = serde_json::to_value(&closed.actor).unwrap();
    assert_eq!(actor["id"], "admin-kim", "{actor}");
    actor["id"] = Value::from("admin-eve");
    closed.actor = serde_json::from_value(actor).unwrap();
}

/// The backdating: the last event moves a month back, before the one preceding it.
pub fn backdate_the_last_event(events: &mut [StoredEvent]) {
    let last = events.last_mut().unwrap();
    last.ts_ms -= 30 * 24 * 3_600_000;
    last.ts_utc = jiff::Timestamp::from_millisecond(last.ts_ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
}

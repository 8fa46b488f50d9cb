//! The canonical envelope: how every event of a case is stored, linked and digested.
//!
//! A [`StoredEvent`] wraps one [`Event`] with everything an auditor needs to trust it without
//! trusting the store: a derived id, the type and schema version, the UTC time, the case and its
//! 1-based sequence number, the principal who caused it, the pinned surface, the idempotency
//! key, the digest of the previous event of the case and its own digest over the canonical JSON
//! of every other field. A case's events therefore form a hash chain.
//! A [`StoredSignal`] is the outbox row for a signal an event emitted.
//!
//! This module only builds and checks values; it never does I/O, never reads a clock (time
//! arrives as [`Millis`]) and never decides anything about the spine.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::canonical::{sha256_hex, with_scratch, write_canonical_of};
use crate::policy::Principal;
use crate::spine::{EVENT_SCHEMA_VERSION, Event, Millis, SurfacePin};

/// The `prev_digest` of the first event of every case: 64 zeros.
pub const GENESIS_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event in its canonical, tamper-evident envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// `<case>:<seq>`, derived, so it is stable across stores and replays.
    pub event_id: String,
    /// The event's type name ([`Event::type_name`]).
    pub event_type: String,
    /// The schema version of the payload ([`EVENT_SCHEMA_VERSION`] when written).
    pub schema_version: u32,
    /// The decision time as RFC 3339 UTC with millisecond precision (`2026-01-10T09:00:00.000Z`).
    pub ts_utc: String,
    /// The decision time in unix milliseconds (the same instant as `ts_utc`).
    pub ts_ms: Millis,
    /// The host clock's reading when it was behind the stream's last event: the event is then
    /// dated at that event's time (`ts_ms`), never earlier, and the host's time is kept here.
    /// Absent otherwise (and in every event written before it existed): it is serialized only
    /// when present, so the digests of events without it are what they always were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ts_ms: Option<Millis>,
    /// The case (one request lineage).
    pub case_id: String,
    /// The 1-based position of the event in its case.
    pub seq: u64,
    /// The principal whose command (or the engine's tick) caused the event.
    pub actor: Principal,
    /// The pinned surface, `slug@version` (empty for an operator stream).
    pub surface: String,
    /// The pinned surface's fingerprint (hex; empty for an operator stream).
    pub surface_fingerprint: String,
    /// The idempotency key the command carried, if any.
    pub idempotency_key: Option<String>,
    /// The event itself.
    pub payload: Event,
    /// The `digest` of the previous event of the case, or [`GENESIS_DIGEST`] for the first.
    pub prev_digest: String,
    /// SHA-256 (hex) over the canonical JSON of every other field of this envelope.
    pub digest: String,
}

/// Why an envelope could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The time is outside the range an RFC 3339 timestamp can express.
    #[error("`{millis}` ms is not a representable UTC time")]
    Time {
        /// The offending time.
        millis: Millis,
        /// What jiff said.
        #[source]
        source: jiff::Error,
    },
    /// The envelope could not be serialized to JSON (a payload value that JSON cannot hold).
    #[error("the envelope could not be serialized")]
    Serialize(#[source] serde_json::Error),
}

/// What every event appended by one command shares: the case, who, under which surface, when.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    /// The case.
    pub case_id: &'a str,
    /// The principal.
    pub actor: &'a Principal,
    /// The pinned surface ([`SurfacePin::unpinned`] for an operator stream, whose envelopes
    /// carry `surface = ""` and `surface_fingerprint = ""`).
    pub surface: &'a SurfacePin,
    /// The idempotency key, if any.
    pub idempotency_key: Option<&'a str>,
    /// The decision time.
    pub at: Millis,
    /// The host clock's reading, when it was behind the stream's last event and `at` is that
    /// event's time instead ([`StoredEvent::host_ts_ms`]); `None` otherwise.
    pub host_at: Option<Millis>,
}

impl Envelope<'_> {
    /// Wrap `events`, which follow `previous` (the last stored event of the case, `None` for a
    /// new case), into linked, digested envelopes numbered from `previous.seq + 1`.
    pub fn seal(
        &self,
        previous: Option<&StoredEvent>,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<Vec<StoredEvent>, EnvelopeError> {
        let (seq, digest) = previous.map_or((0, GENESIS_DIGEST), |p| (p.seq, p.digest.as_str()));
        self.seal_after(seq, digest, events)
    }

    /// [`Envelope::seal`] given only what it reads of the previous event: its sequence number
    /// (0 for a new case) and its digest ([`GENESIS_DIGEST`] for a new case).
    pub fn seal_after(
        &self,
        previous_seq: u64,
        previous_digest: &str,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<Vec<StoredEvent>, EnvelopeError> {
        let ts_utc = rfc3339_millis(self.at)?;
        let surface = self.surface.key();
        let mut seq = previous_seq;
        let mut prev_digest = previous_digest.to_string();
        let events = events.into_iter();
        let mut out = Vec::with_capacity(events.size_hint().0);
        for payload in events {
            seq += 1;
            let mut event = StoredEvent {
                event_id: event_id(self.case_id, seq),
                event_type: payload.type_name().to_string(),
                schema_version: EVENT_SCHEMA_VERSION,
                ts_utc: ts_utc.clone(),
                ts_ms: self.at,
                host_ts_ms: self.host_at,
                case_id: self.case_id.to_string(),
                seq,
                actor: self.actor.clone(),
                surface: surface.clone(),
                surface_fingerprint: self.surface.fingerprint.clone(),
                idempotency_key: self.idempotency_key.map(str::to_string),
                payload,
                prev_digest,
                digest: String::new(),
            };
            event.digest = event.compute_digest().map_err(EnvelopeError::Serialize)?;
            prev_digest = event.digest.clone();
            out.push(event);
        }
        Ok(out)
    }
}

impl StoredEvent {
    /// Recompute the digest: SHA-256 over the canonical JSON of every field but `digest`.
    pub fn compute_digest(&self) -> Result<String, serde_json::Error> {
        with_scratch(|bytes| {
            write_canonical_of(&Unsealed::of(self), bytes)?;
            Ok(sha256_hex(bytes))
        })
    }

    /// Whether the stored digest matches the envelope's content.
    pub fn digest_holds(&self) -> bool {
        self.compute_digest().is_ok_and(|d| d == self.digest)
    }

    /// The outbox row for the signal this event emits, if it is a `signal_emitted` event.
    pub fn outbox_signal(&self) -> Option<StoredSignal> {
        let signal = self.payload.signal()?;
        Some(StoredSignal {
            id: signal.id.clone(),
            case_id: self.case_id.clone(),
            kind: signal.kind.clone(),
            at: signal.at,
            payload: signal.payload.clone(),
            event_id: self.event_id.clone(),
            event_digest: self.digest.clone(),
        })
    }
}

/// Every field of a [`StoredEvent`] but `digest`, borrowed: what the digest is taken over.
/// Field names and types mirror `StoredEvent` exactly (the exhaustive destructuring in
/// [`Unsealed::of`] stops the build when a field is added there and not here).
#[derive(Serialize)]
struct Unsealed<'a> {
    // In key order, so the canonical writer has nothing to reorder.
    actor: &'a Principal,
    case_id: &'a str,
    event_id: &'a str,
    event_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_ts_ms: Option<Millis>,
    idempotency_key: Option<&'a str>,
    payload: &'a Event,
    prev_digest: &'a str,
    schema_version: u32,
    seq: u64,
    surface: &'a str,
    surface_fingerprint: &'a str,
    ts_ms: Millis,
    ts_utc: &'a str,
}

impl<'a> Unsealed<'a> {
    fn of(event: &'a StoredEvent) -> Self {
        let StoredEvent {
            event_id,
            event_type,
            schema_version,
            ts_utc,
            ts_ms,
            host_ts_ms,
            case_id,
            seq,
            actor,
            surface,
            surface_fingerprint,
            idempotency_key,
            payload,
            prev_digest,
            digest: _,
        } = event;
        Unsealed {
            event_id,
            event_type,
            schema_version: *schema_version,
            ts_utc,
            ts_ms: *ts_ms,
            host_ts_ms: *host_ts_ms,
            case_id,
            seq: *seq,
            actor,
            surface,
            surface_fingerprint,
            idempotency_key: idempotency_key.as_deref(),
            payload,
            prev_digest,
        }
    }
}

/// A signal waiting in (or delivered from) the outbox. Delivery is at least once; `id` is
/// stable (`<case>:<kind>:<n>`) so consumers drop repeats by it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSignal {
    /// The stable signal id.
    pub id: String,
    /// The case that emitted it.
    pub case_id: String,
    /// `record`, or an escalation's signal name.
    pub kind: String,
    /// When it was emitted (unix milliseconds).
    pub at: Millis,
    /// What it carries (the Record digest, the phase that stalled).
    pub payload: Value,
    /// The id of the `signal_emitted` event that emitted it.
    pub event_id: String,
    /// The digest of that event, so a consumer can tie the signal to the verified chain.
    pub event_digest: String,
}

/// The derived id of event `seq` of `case`: `<case>:<seq>`.
pub fn event_id(case: &str, seq: u64) -> String {
    format!("{case}:{seq}")
}

/// `millis` as RFC 3339 UTC with exactly three fractional digits.
pub fn rfc3339_millis(millis: Millis) -> Result<String, EnvelopeError> {
    let ts = jiff::Timestamp::from_millisecond(millis)
        .map_err(|source| EnvelopeError::Time { millis, source })?;
    Ok(format!("{ts:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Role;

    fn pin() -> SurfacePin {
        SurfacePin {
            slug: "s".into(),
            version: 1,
            fingerprint: "ab".repeat(32),
        }
    }

    #[test]
    fn seals_a_linked_chain() {
        let actor = Principal::new("admin-kim", [Role::Admin]);
        let pin = pin();
        let env = Envelope {
            case_id: "c",
            actor: &actor,
            surface: &pin,
            idempotency_key: Some("k"),
            at: 1_767_225_600_000,
            host_at: None,
        };
        let events = env
            .seal(
                None,
                [
                    Event::TaskApproved {
                        by: "admin-kim".into(),
                        at: 1,
                    },
                    Event::TaskClosed {
                        by: "a".into(),
                        at: 2,
                    },
                ],
            )
            .unwrap();
        assert_eq!(events[0].seq, 1);
        assert_eq!(events[0].event_id, "c:1");
        assert_eq!(events[0].prev_digest, GENESIS_DIGEST);
        assert_eq!(events[1].prev_digest, events[0].digest);
        assert_eq!(events[0].ts_utc, "2026-01-01T00:00:00.000Z");
        assert!(events.iter().all(StoredEvent::digest_holds));
        let more = env
            .seal(
                events.last(),
                [Event::TaskClosed {
                    by: "a".into(),
                    at: 3,
                }],
            )
            .unwrap();
        assert_eq!(more[0].seq, 3);
        assert_eq!(more[0].prev_digest, events[1].digest);
    }

    /// The digest is taken over exactly the reference canonical JSON of the envelope without
    /// its `digest` field.
    #[test]
    fn digest_is_over_the_reference_bytes() {
        let actor = Principal::new("admin-kim", [Role::Admin, Role::Operator]);
        let pin = pin();
        let env = Envelope {
            case_id: "c",
            actor: &actor,
            surface: &pin,
            idempotency_key: Some("key-1"),
            at: 1_767_225_600_123,
            host_at: None,
        };
        let mut intake = std::collections::BTreeMap::new();
        intake.insert(
            "zeta".to_string(),
            serde_json::json!({"b": [1, 2.5, null], "a": "é"}),
        );
        intake.insert("alpha".to_string(), serde_json::json!(true));
        let events = env
            .seal(
                None,
                [
                    Event::RequestSubmitted {
                        surface: pin.clone(),
                        intake,
                        photos: vec!["p.jpg".into()],
                        routing_origin: Some("web".into()),
                        by: "admin-kim".into(),
                        at: 1,
                    },
                    Event::TaskClosed {
                        by: "a".into(),
                        at: 2,
                    },
                ],
            )
            .unwrap();
        for event in &events {
            let mut value = serde_json::to_value(event).unwrap();
            if let Value::Object(map) = &mut value {
                assert!(map.remove("digest").is_some());
            }
            let reference = crate::audit::canonical::reference_canonical_json(&value).unwrap();
            assert_eq!(event.digest, sha256_hex(&reference));
        }
    }

    #[test]
    fn digest_survives_a_json_round_trip() {
        let actor = Principal::new("c", [Role::Client]);
        let pin = pin();
        let env = Envelope {
            case_id: "c",
            actor: &actor,
            surface: &pin,
            idempotency_key: None,
            at: 5,
            host_at: None,
        };
        let mut intake = std::collections::BTreeMap::new();
        intake.insert("price".to_string(), serde_json::json!(0.1 + 0.2));
        intake.insert("big".to_string(), serde_json::json!(u64::MAX));
        // Floats that only survive a text round trip with serde_json's `float_roundtrip`.
        intake.insert(
            "tiny".to_string(),
            serde_json::json!(1.947700395895162e-169),
        );
        intake.insert(
            "huge".to_string(),
            serde_json::json!(-1.490143767845386e129),
        );
        let event = Event::RequestSubmitted {
            surface: pin.clone(),
            intake,
            photos: vec![],
            routing_origin: None,
            by: "c".into(),
            at: 5,
        };
        let sealed = env.seal(None, [event]).unwrap();
        let text = serde_json::to_string(&sealed[0]).unwrap();
        let back: StoredEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, sealed[0]);
        assert!(back.digest_holds());
        let mut tampered = back.clone();
        tampered.actor.id = "someone".into();
        assert!(!tampered.digest_holds());
    }
}

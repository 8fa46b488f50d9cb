//! Chain verification: re-derive a case from its stored events and check every digest.
//!
//! [`verify_case`] walks a case's envelopes in order and checks, for each one, that it belongs
//! to the case, that sequence numbers are contiguous from 1, that the derived id and type name
//! match, that it links to the previous event's digest, that its own digest recomputes, that it
//! stays on the surface the case was pinned to (which changes only at a `case_migrated`, to
//! the version it names, from the next event on), and (for a sealed Record) that the seal
//! recomputes from the events before it. It folds the events with [`crate::spine::apply`] as it
//! goes and returns the case it rebuilt. The first failure is reported as a [`VerifyError`]
//! naming the case and the event, with a stable [`VerifyCode`].
//!
//! [`verify_operator`] does the same for an operator's stream (`operator:<id>`): the same
//! envelope, link and digest checks, an empty surface pin on every event, `operator_registered`
//! (naming the stream's operator) first and only first, no event of a case, and every event
//! following from the profile before it (no suspension of a suspended operator). A case
//! stream holding a directory event fails with [`VerifyCode::ForeignEvent`] too.
//!
//! Verification is pure: it reads nothing but the events it is given and needs no surface.

use std::fmt;

use serde::Serialize;

use crate::audit::canonical::digest_of;
use crate::audit::envelope::{GENESIS_DIGEST, StoredEvent, event_id, rfc3339_millis};
use crate::spine::operator::{OperatorProfile, ProfileError, StreamId, apply_profile};
use crate::spine::{self, Case, EVENT_SCHEMA_VERSION, Event};

/// What failed, as a stable code (its text never changes; tools may match on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyCode {
    /// The store could not return the case's events (unreadable or malformed rows).
    Unreadable,
    /// An event carries another case's id (or another operator's).
    CaseMismatch,
    /// Sequence numbers are not 1, 2, 3, ... (a gap, a repeat or a reordering).
    SequenceGap,
    /// The event id is not `<case>:<seq>`.
    IdMismatch,
    /// The stored event type is not the payload's type.
    TypeMismatch,
    /// The payload's schema version is newer than this build understands.
    UnknownSchema,
    /// `ts_utc` and `ts_ms` name different instants.
    TimeMismatch,
    /// `prev_digest` is not the previous event's digest.
    BrokenLink,
    /// The digest does not recompute from the envelope's content.
    DigestMismatch,
    /// The first event is not a `request_submitted` (an `operator_registered` in an operator
    /// stream), or a later one is.
    BadStart,
    /// The event names a different surface or fingerprint than the case was pinned to (or a
    /// `case_migrated` leaves another pin, or names no other version of the same slug).
    SurfaceMismatch,
    /// A Record's seal does not recompute, or its body is not what the events before it say.
    SealMismatch,
    /// A `record` signal does not carry the digest of the sealed Record.
    SignalMismatch,
    /// The case's index row disagrees with what its events imply (or the index has a row for
    /// a case without events).
    IndexMismatch,
    /// The case has no index row.
    IndexMissing,
    /// The feed's positions skip a number: an event was removed.
    FeedGap,
    /// The feed holds a case's events out of sequence order, or one twice.
    FeedOrder,
    /// A stored event is not in the feed.
    FeedMissing,
    /// An event is dated before the event preceding it in its stream (the engine never
    /// stamps one so: when the host clock is behind, it keeps the last event's time).
    TimeBackwards,
    /// The stream is listed by the store but holds no events (they were deleted).
    EmptyStream,
    /// An outbox row differs from the `signal_emitted` event it came from, or names no such
    /// event of its case.
    OutboxMismatch,
    /// A `signal_emitted` event has no outbox row.
    OutboxMissing,
    /// An idempotency record differs from the events it produced (they are missing, differ,
    /// or carry another key), or names a case that holds no events.
    IdempotencyMismatch,
    /// An event carries an idempotency key that has no record for its case.
    IdempotencyMissing,
    /// A checkpoint covers the stream, and it holds no events any more.
    StreamMissing,
    /// A checkpoint covers the stream at a version it no longer reaches (its tail was
    /// deleted).
    StreamTruncated,
    /// The stream's event at the checkpoint's version has another digest than the checkpoint
    /// says (the history up to it was rewritten, every digest recomputed).
    HeadMismatch,
    /// An operator directory event in a case stream, or a case's event in an operator stream.
    ForeignEvent,
    /// An operator event that does not follow from the profile before it (suspending a
    /// suspended operator, reinstating an active one).
    StateMismatch,
}

impl VerifyCode {
    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCode::Unreadable => "unreadable",
            VerifyCode::CaseMismatch => "case_mismatch",
            VerifyCode::SequenceGap => "sequence_gap",
            VerifyCode::IdMismatch => "id_mismatch",
            VerifyCode::TypeMismatch => "type_mismatch",
            VerifyCode::UnknownSchema => "unknown_schema",
            VerifyCode::TimeMismatch => "time_mismatch",
            VerifyCode::BrokenLink => "broken_link",
            VerifyCode::DigestMismatch => "digest_mismatch",
            VerifyCode::BadStart => "bad_start",
            VerifyCode::SurfaceMismatch => "surface_mismatch",
            VerifyCode::SealMismatch => "seal_mismatch",
            VerifyCode::SignalMismatch => "signal_mismatch",
            VerifyCode::IndexMismatch => "index_mismatch",
            VerifyCode::IndexMissing => "index_missing",
            VerifyCode::FeedGap => "feed_gap",
            VerifyCode::FeedOrder => "feed_order",
            VerifyCode::FeedMissing => "feed_missing",
            VerifyCode::TimeBackwards => "time_backwards",
            VerifyCode::EmptyStream => "empty_stream",
            VerifyCode::OutboxMismatch => "outbox_mismatch",
            VerifyCode::OutboxMissing => "outbox_missing",
            VerifyCode::IdempotencyMismatch => "idempotency_mismatch",
            VerifyCode::IdempotencyMissing => "idempotency_missing",
            VerifyCode::StreamMissing => "stream_missing",
            VerifyCode::StreamTruncated => "stream_truncated",
            VerifyCode::HeadMismatch => "head_mismatch",
            VerifyCode::ForeignEvent => "foreign_event",
            VerifyCode::StateMismatch => "state_mismatch",
        }
    }
}

impl fmt::Display for VerifyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A case whose history does not hold, naming the case and (when one is to blame) the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("[{code}] case `{case}`{}: {message}", at_event(*.seq, .event_id.as_deref()))]
pub struct VerifyError {
    code: VerifyCode,
    case: String,
    seq: Option<u64>,
    event_id: Option<String>,
    message: String,
}

fn at_event(seq: Option<u64>, id: Option<&str>) -> String {
    match (seq, id) {
        (Some(seq), Some(id)) => format!(", event {seq} (`{id}`)"),
        (Some(seq), None) => format!(", event {seq}"),
        (None, Some(id)) => format!(", event `{id}`"),
        (None, None) => String::new(),
    }
}

impl miette::Diagnostic for VerifyError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("planck::verify::{}", self.code)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let help = match self.code {
            VerifyCode::UnknownSchema => {
                "the case was written by a newer planck; verify it with that version"
            }
            VerifyCode::Unreadable => "the rows no longer decode: the store was edited or damaged",
            VerifyCode::IndexMismatch | VerifyCode::IndexMissing => {
                "the index is derived from the events: rebuild it with `planck reindex --db PATH --surfaces DIR`"
            }
            VerifyCode::TimeBackwards => {
                "the event was stamped with a host clock that was behind (older builds of planck did so) or the history was edited; planck now keeps the last event's time and records the host's beside it"
            }
            VerifyCode::StreamMissing | VerifyCode::StreamTruncated | VerifyCode::HeadMismatch => {
                "the database no longer holds what the checkpoint signed: restore from a backup taken before the change and find out who edited the store"
            }
            _ => {
                "the history was changed after it was written: restore the case from a backup and find out who edited the store"
            }
        };
        Some(Box::new(help))
    }
}

impl VerifyError {
    /// A failure of `case` at the event `seq` / `event_id` (either may be unknown).
    pub fn new(
        code: VerifyCode,
        case: impl Into<String>,
        seq: Option<u64>,
        event_id: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        VerifyError {
            code,
            case: case.into(),
            seq,
            event_id,
            message: message.into(),
        }
    }

    fn at(code: VerifyCode, event: &StoredEvent, case: &str, message: impl Into<String>) -> Self {
        VerifyError::new(
            code,
            case,
            Some(event.seq),
            Some(event.event_id.clone()),
            message,
        )
    }

    /// The stable code.
    pub fn code(&self) -> VerifyCode {
        self.code
    }
    /// The case that failed.
    pub fn case(&self) -> &str {
        &self.case
    }
    /// The sequence number of the failing event, when one is to blame.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }
    /// The id of the failing event as stored, when one is to blame.
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }
    /// What is wrong, in a sentence.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Re-derive `case_id` from `events` (in stored order), checking every envelope, link, digest
/// and Record seal. Returns the rebuilt case, or the first failure.
pub fn verify_case(case_id: &str, events: &[StoredEvent]) -> Result<Case, VerifyError> {
    let mut case = Case::new(case_id);
    let mut prev = GENESIS_DIGEST;
    let mut pin: Option<(String, String)> = None;
    let mut last_ts: Option<crate::spine::Millis> = None;
    for (index, event) in events.iter().enumerate() {
        let expected_seq = index as u64 + 1;
        check_envelope(case_id, event, expected_seq, prev)?;
        if event.payload.is_operator_event() {
            return Err(VerifyError::at(
                VerifyCode::ForeignEvent,
                event,
                case_id,
                format!(
                    "`{}` belongs to an operator stream, not to a case",
                    event.payload.type_name()
                ),
            ));
        }
        check_time(case_id, event, &mut last_ts)?;
        check_surface(case_id, event, &mut pin)?;
        spine::apply(&mut case, &event.payload);
        check_payload(case_id, event, &case)?;
        prev = &event.digest;
    }
    Ok(case)
}

/// Re-derive the operator stream `stream_id` (`operator:<id>`) from `events`, checking every
/// envelope, link and digest, the empty surface pin, the first event and the fold. Returns the
/// profile it rebuilt (`None` for an empty stream), or the first failure.
pub fn verify_operator(
    stream_id: &str,
    events: &[StoredEvent],
) -> Result<Option<OperatorProfile>, VerifyError> {
    let operator = match StreamId::parse(stream_id) {
        StreamId::Operator(id) => id,
        StreamId::Case(_) => "",
    };
    let mut profile: Option<OperatorProfile> = None;
    let mut prev = GENESIS_DIGEST;
    let mut last_ts = None;
    for (index, event) in events.iter().enumerate() {
        let expected_seq = index as u64 + 1;
        check_envelope(stream_id, event, expected_seq, prev)?;
        check_time(stream_id, event, &mut last_ts)?;
        let fail = |code, message: String| Err(VerifyError::at(code, event, stream_id, message));
        if !event.surface.is_empty() || !event.surface_fingerprint.is_empty() {
            return fail(
                VerifyCode::SurfaceMismatch,
                format!(
                    "an operator stream belongs to no surface, but the event names `{}`",
                    event.surface
                ),
            );
        }
        if !event.payload.is_operator_event() {
            return fail(
                VerifyCode::ForeignEvent,
                format!(
                    "`{}` is an event of a case, not of an operator",
                    event.payload.type_name()
                ),
            );
        }
        if let Event::OperatorRegistered {
            operator: named, ..
        } = &event.payload
            && named != operator
        {
            return fail(
                VerifyCode::CaseMismatch,
                format!("the event registers `{named}` in the stream of `{operator}`"),
            );
        }
        if let Err(err) = apply_profile(&mut profile, &event.payload) {
            let code = match err {
                ProfileError::NotRegistered(_) | ProfileError::AlreadyRegistered => {
                    VerifyCode::BadStart
                }
                ProfileError::CaseEvent(_) => VerifyCode::ForeignEvent,
                ProfileError::OutOfOrder { .. } => VerifyCode::StateMismatch,
            };
            return fail(code, err.to_string());
        }
        prev = &event.digest;
    }
    Ok(profile)
}

/// Times never go backwards within a stream: `event` is not dated before `last` (the time of
/// the event before it), which becomes its time.
fn check_time(
    stream: &str,
    event: &StoredEvent,
    last: &mut Option<crate::spine::Millis>,
) -> Result<(), VerifyError> {
    if let Some(previous) = *last
        && event.ts_ms < previous
    {
        return Err(VerifyError::at(
            VerifyCode::TimeBackwards,
            event,
            stream,
            format!(
                "the event is dated `{}`, before the event preceding it ({} ms earlier)",
                event.ts_utc,
                previous - event.ts_ms
            ),
        ));
    }
    *last = Some(event.ts_ms);
    Ok(())
}

fn check_envelope(
    case_id: &str,
    event: &StoredEvent,
    expected_seq: u64,
    prev: &str,
) -> Result<(), VerifyError> {
    use VerifyCode as V;
    let fail = |code, message: String| Err(VerifyError::at(code, event, case_id, message));
    if event.case_id != case_id {
        return fail(
            V::CaseMismatch,
            format!("the event belongs to case `{}`", event.case_id),
        );
    }
    if event.seq != expected_seq {
        return fail(
            V::SequenceGap,
            format!(
                "expected sequence number {expected_seq}, found {}",
                event.seq
            ),
        );
    }
    let id = event_id(case_id, event.seq);
    if event.event_id != id {
        return fail(V::IdMismatch, format!("the event id should be `{id}`"));
    }
    if event.event_type != event.payload.type_name() {
        return fail(
            V::TypeMismatch,
            format!(
                "stored as `{}` but the payload is a `{}`",
                event.event_type,
                event.payload.type_name()
            ),
        );
    }
    if event.schema_version > EVENT_SCHEMA_VERSION {
        return fail(
            V::UnknownSchema,
            format!(
                "schema version {} is newer than {EVENT_SCHEMA_VERSION}",
                event.schema_version
            ),
        );
    }
    if rfc3339_millis(event.ts_ms).ok().as_deref() != Some(event.ts_utc.as_str()) {
        return fail(
            V::TimeMismatch,
            format!("`{}` is not {} ms", event.ts_utc, event.ts_ms),
        );
    }
    if event.prev_digest != prev {
        return fail(
            V::BrokenLink,
            "the previous-event digest does not match the event before it".into(),
        );
    }
    match event.compute_digest() {
        Ok(digest) if digest == event.digest => Ok(()),
        Ok(digest) => fail(
            V::DigestMismatch,
            format!(
                "the digest recomputes to `{digest}`, not `{}`",
                event.digest
            ),
        ),
        Err(err) => fail(
            V::DigestMismatch,
            format!("the envelope could not be serialized: {err}"),
        ),
    }
}

fn check_surface(
    case_id: &str,
    event: &StoredEvent,
    pin: &mut Option<(String, String)>,
) -> Result<(), VerifyError> {
    match (pin.as_ref(), &event.payload) {
        (None, Event::RequestSubmitted { surface, .. }) => {
            if surface.key() != event.surface || surface.fingerprint != event.surface_fingerprint {
                return Err(VerifyError::at(
                    VerifyCode::SurfaceMismatch,
                    event,
                    case_id,
                    format!(
                        "the envelope names `{}` but the request pins `{}`",
                        event.surface,
                        surface.key()
                    ),
                ));
            }
            *pin = Some((event.surface.clone(), event.surface_fingerprint.clone()));
            Ok(())
        }
        (None, other) => Err(VerifyError::at(
            VerifyCode::BadStart,
            event,
            case_id,
            format!(
                "a case starts with `request_submitted`, not `{}`",
                other.type_name()
            ),
        )),
        (Some(_), Event::RequestSubmitted { .. }) => Err(VerifyError::at(
            VerifyCode::BadStart,
            event,
            case_id,
            "a case holds one `request_submitted`, at sequence number 1",
        )),
        (Some((key, fingerprint)), payload) => {
            if &event.surface != key || &event.surface_fingerprint != fingerprint {
                return Err(VerifyError::at(
                    VerifyCode::SurfaceMismatch,
                    event,
                    case_id,
                    format!(
                        "the event names `{}` but the case is pinned to `{key}`",
                        event.surface
                    ),
                ));
            }
            // The pin changes exactly here: the move is judged (and enveloped) under the pin
            // it leaves, every later event under the one it enters.
            if let Event::CaseMigrated { from, to, .. } = payload {
                if &from.key() != key || &from.fingerprint != fingerprint {
                    return Err(VerifyError::at(
                        VerifyCode::SurfaceMismatch,
                        event,
                        case_id,
                        format!(
                            "the move leaves `{}` but the case is pinned to `{key}`",
                            from.key()
                        ),
                    ));
                }
                if to.slug != from.slug || to.version == from.version || to.is_unpinned() {
                    return Err(VerifyError::at(
                        VerifyCode::SurfaceMismatch,
                        event,
                        case_id,
                        format!(
                            "a case moves only to another version of `{}`, not to `{}`",
                            from.slug,
                            to.key()
                        ),
                    ));
                }
                *pin = Some((to.key(), to.fingerprint.clone()));
            }
            Ok(())
        }
    }
}

/// Checks that need the case folded up to and including `event`.
fn check_payload(case_id: &str, event: &StoredEvent, case: &Case) -> Result<(), VerifyError> {
    match &event.payload {
        Event::RecordSealed { record } => {
            let seal = digest_of(&record.body).ok();
            if seal.as_deref() != Some(record.digest.as_str()) {
                return Err(VerifyError::at(
                    VerifyCode::SealMismatch,
                    event,
                    case_id,
                    "the record's seal does not recompute from its body",
                ));
            }
            // The body must be exactly what the events before the seal compose.
            let composed = spine::compose_record(case, record.body.completed_at);
            if composed.as_ref().ok() != Some(record) {
                return Err(VerifyError::at(
                    VerifyCode::SealMismatch,
                    event,
                    case_id,
                    "the sealed record is not the one the events before it compose",
                ));
            }
            Ok(())
        }
        Event::SignalEmitted { signal, .. } if signal.kind == "record" => {
            let carried = signal.payload.get("record_digest").and_then(|v| v.as_str());
            let sealed = case.record.as_ref().map(|r| r.digest.as_str());
            if carried.is_none() || carried != sealed {
                return Err(VerifyError::at(
                    VerifyCode::SignalMismatch,
                    event,
                    case_id,
                    "the `record` signal does not carry the sealed record's digest",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The result of verifying many streams: how many held and every failure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Cases checked (streams, with those only a checkpoint or an outbox or idempotency row
    /// still names).
    pub cases: usize,
    /// Every stream checked, in the order checked (the store's creation order first).
    pub streams: Vec<String>,
    /// Operator streams checked.
    pub operators: usize,
    /// Events checked (in cases that could be read).
    pub events: usize,
    /// One failure per case that did not hold (its history, its index row or its place in
    /// the feed).
    pub failures: Vec<VerifyError>,
    /// Index rows checked against the events.
    pub index_rows: usize,
    /// Positions of the global feed checked.
    pub positions: u64,
    /// The store's index needs a rebuild (a database from before the index): its rows were
    /// not checked, and queries fail until `planck reindex` runs.
    pub index_needs_rebuild: bool,
}

impl VerifyReport {
    /// Whether every case held and the index can answer.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && !self.index_needs_rebuild
    }
}

//! The engine: the thin shell that runs the pure spine against the host's world.
//!
//! [`Engine::execute`] is the whole write path: look up the idempotency key, load the case's
//! events, fold them, `decide` at the clock's `now`, wrap the events in their canonical
//! envelopes, and append them (with the idempotency record and the outbox rows for any
//! signals) at the expected version, in one atomic [`Store::append`]. Only after that append
//! committed are the new signals handed to the [`Transport`]. The same append carries the
//! case's index row as the new events leave it (`index.rs`, docs/queries.md), so the store's
//! indexed queries always agree with the events. Everything else here is reads: views, the
//! governance queue, an operator's desk, lists, the feed, history, `explain` and `verify`
//! (which also checks the index rows and the feed's positions).
//!
//! The engine owns no rule of the spine (those live in [`crate::spine`]) and no storage format
//! (that is the store's). It never mutates a stored event, never publishes a signal whose
//! events are not committed, and never reads the time except through its [`Clock`].
//!
//! Decisions, recorded in one place:
//! - **Idempotency of rejections.** Only applied outcomes are recorded under a key. A
//!   rejected command writes nothing, its key included, so the same key may be retried once
//!   the case allows the command (a claim refused before the assignment can be resent with
//!   the same key after it).
//! - **Idempotency keys are bounded.** A key must be non-empty, at most
//!   [`spine::limits::MAX_ID_LEN`] bytes and free of control characters; any other key is
//!   refused with `payload_invalid` before anything is read or written (the key is part of the
//!   request's envelope, not of the command, so this check comes before the role's).
//! - **Concurrent copies of one keyed command.** When a command with a key is refused, the
//!   key is looked up once more before answering: a copy of the same command under the same
//!   key may have committed after the first lookup (its work is what refused this one), and
//!   the answer is then its outcome, as a duplicate. A copy that would still apply is stopped
//!   by the store's unique key and answered the same way.
//! - **Conflicts.** When another writer appended first, the engine reloads and re-decides, up
//!   to [`CONFLICT_RETRIES`] more times, then answers `conflict`. A re-decision may well be a
//!   different answer (the other operator's claim won: `invalid_state`).
//! - **The cache is checked by the append.** A command on a case the engine has cached is
//!   decided on the cached case without reading the store first: the append's expected
//!   version is the check (a case another writer moved on conflicts, and the engine reads it
//!   and decides again, without counting that as a retry). A refusal is never answered from
//!   the cache alone: the engine first reads what the store holds past the cached version and
//!   decides again on that. So every answer is the one the case as stored gives, and a
//!   command on a cached case costs the store one append and no read.
//! - **Time never goes backwards within a stream.** When the host clock reads earlier than
//!   the stream's last event (a clock stepped back, a scenario rerun on the same database),
//!   the command is decided and its events dated at that last event's time, and the host's
//!   reading is kept beside them (`host_ts_ms` in the envelope). `verify` flags a stream whose
//!   times go backwards.
//! - **Delivery.** At least once. Signals are written to the outbox with their events; after
//!   the commit the engine publishes the new ones in order and marks them delivered, stopping
//!   at the first failure. Whatever is left pending (a failed publish, a crash between commit
//!   and publish) is delivered by [`Engine::deliver_pending`] / [`Engine::recover`]. Signal ids
//!   are stable, so consumers drop repeats.
//!
//! This file holds `tick`, delivery and what the write path shares. `execute` and
//! `execute_async` are in `execute.rs`; the reads in `queries.rs`; `verify` and the index
//! rebuild in `verify.rs`; idempotency keys and their fingerprints in `idempotency.rs`; and
//! sealing sensitive intake in `sealing.rs`.

mod cache;
mod catalog;
mod desk;
mod error;
mod execute;
mod idempotency;
mod index;
mod queries;
mod receipt;
mod sealing;
mod subscriber;
mod verify;
mod view;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

pub use cache::CACHED_CASES;
pub(crate) use desk::active_job;
pub use desk::{ActiveJob, DeskView, MissingEvidence, Move};
pub use error::EngineError;
pub use idempotency::command_fingerprint;
pub use receipt::Receipt;
pub use subscriber::{CursorStore, FileCursor, MemoryCursor, Subscriber, SubscriberError};
pub use verify::{Rebuilt, verify_store, verify_with};
pub use view::{CaseView, Desk, ListPage, Listed, PhaseView, QueueItem};

use crate::audit::{Envelope, GENESIS_DIGEST, StoredEvent, StoredSignal};
use crate::host::{Append, CaseIndex, Clock, Store, StoreError, Transport};
use crate::policy::{Principal, Role};
use crate::spine::operator;
use crate::spine::{self, Case, Command, Event, SurfacePin, WithProfiles};
use crate::surface::Surface;
use crate::surface::registry::Registry;

/// How many times a command is re-decided after a version conflict before the engine answers
/// `conflict` (so at most `CONFLICT_RETRIES + 1` attempts in all).
pub const CONFLICT_RETRIES: u32 = 8;

/// How many pending signals [`Engine::deliver_pending`] reads from the outbox at a time.
pub const DELIVERY_BATCH: usize = 64;

/// The id of the principal recorded as the actor of escalations raised by [`Engine::tick`]
/// (with the `system` role).
pub const TICK_ACTOR_ID: &str = "planck";

/// Most cases per column of [`Engine::desk`] (a cut column sets [`Desk::truncated`]).
pub const DESK_LIMIT: usize = 100;

/// Most cases [`Engine::governance_queue`] returns, oldest first.
pub const QUEUE_LIMIT: usize = 500;

/// Most cases one page of [`Engine::list`] holds.
pub const MAX_LIST_LIMIT: usize = 500;

/// How many due cases [`Engine::tick`] reads from the index at a time.
pub const TICK_BATCH: usize = 256;

/// The engine over a host's store, transport and clock.
#[derive(Debug)]
pub struct Engine<S: Store, T: Transport, C: Clock> {
    registry: Arc<Registry>,
    store: S,
    transport: T,
    clock: C,
    /// Cases as last folded, so a command folds only what was appended since.
    cases: cache::CaseCache,
}

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// An engine judging cases by `registry`. Does no I/O: call [`Engine::recover`] once after
    /// a restart to deliver signals left pending.
    pub fn new(registry: Arc<Registry>, store: S, transport: T, clock: C) -> Self {
        Engine {
            registry,
            store,
            transport,
            clock,
            cases: cache::CaseCache::default(),
        }
    }

    /// The same engine keeping at most `cases` folded cases in its cache (default
    /// [`CACHED_CASES`]); past the bound the least recently used case is evicted, and its next
    /// command folds it from the store again. The cache is never an authority, so the bound
    /// changes speed and memory only: `0` keeps nothing (every command folds from the store).
    /// Memory grows with the number of cases recently used, never with the number served.
    #[must_use]
    pub fn with_cache_capacity(mut self, cases: usize) -> Self {
        self.cases = cache::CaseCache::with_capacity(cases);
        self
    }

    /// The most cases the cache keeps ([`Engine::with_cache_capacity`]).
    pub fn cache_capacity(&self) -> usize {
        self.cases.capacity()
    }

    /// How many folded cases (and operator streams) the cache holds now.
    pub fn cached_cases(&self) -> usize {
        self.cases.len()
    }

    /// The surfaces.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Raise every escalation that is due at the clock's `now` and return the events appended
    /// (each escalation at most once per entry into its phase). The store's index names the
    /// cases whose `next_due_at` has passed, so a tick reads only those: it costs what is due,
    /// not the number of cases. A case that keeps conflicting is left for the next tick.
    ///
    /// Runs inside a `planck.tick` [`tracing`] span (fields `cases`, `appended`).
    pub fn tick(&self) -> Result<Vec<StoredEvent>, EngineError> {
        let span = tracing::info_span!(
            "planck.tick",
            cases = tracing::field::Empty,
            appended = tracing::field::Empty,
        );
        let _entered = span.enter();
        let actor = Principal::new(TICK_ACTOR_ID, [Role::System]);
        let now = self.clock.now();
        let mut appended = Vec::new();
        // A case stays due while its row says so (a surface no longer registered, a case
        // that kept conflicting): each is tried once per tick.
        let mut tried: HashSet<String> = HashSet::new();
        loop {
            let due = self.store.due(now, TICK_BATCH)?;
            let full = due.len() == TICK_BATCH;
            let fresh: Vec<CaseIndex> = due
                .into_iter()
                .filter(|row| tried.insert(row.case.clone()))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for row in &fresh {
                appended.extend(self.tick_case(&row.case, &actor)?);
            }
            if !full {
                break;
            }
        }
        span.record("cases", tried.len());
        span.record("appended", appended.len());
        if !appended.is_empty() {
            tracing::info!(appended = appended.len(), "escalations raised");
        }
        Ok(appended)
    }

    fn tick_case(&self, case_id: &str, actor: &Principal) -> Result<Vec<StoredEvent>, EngineError> {
        for _ in 0..=CONFLICT_RETRIES {
            let stored = self.load_opened(case_id)?;
            let mut case = fold(case_id, &stored);
            let Some(pin) = case.request.as_ref().map(|r| r.surface.clone()) else {
                return Ok(Vec::new());
            };
            let Some(surface) = catalog::pinned(&self.registry, &pin) else {
                return Ok(Vec::new());
            };
            let (now, host_at) = monotonic(self.clock.now(), stored.last().map(|e| e.ts_ms));
            let events = spine::due_escalations(&case, surface, now);
            if events.is_empty() {
                return Ok(Vec::new());
            }
            let envelope = Envelope {
                case_id,
                actor,
                surface: &pin,
                idempotency_key: None,
                at: now,
                host_at,
            };
            let (seq, digest) = stored
                .last()
                .map_or((0, GENESIS_DIGEST), |e| (e.seq, e.digest.as_str()));
            let (sealed, outbox) = seal_with_outbox(&envelope, seq, digest, events)?;
            for event in &sealed {
                spine::apply(&mut case, &event.payload);
            }
            let row = index::row_for(case_id, &case, None, Some(surface), now);
            let version = stored.last().map_or(0, |e| e.seq);
            let append = Append::new(case_id, version, &sealed)
                .with_outbox(&outbox)
                .with_index(row.as_ref());
            match self.store.append(&append) {
                Ok(_) => {
                    // Blocking store calls: one poll finishes it. Were it to wait, the
                    // signals would stay pending and be delivered again (at least once).
                    let _ = execute::ready_now(self.publish_new(&outbox, execute::Wait::Block));
                    return Ok(sealed);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Ok(Vec::new())
    }

    /// Offer every pending signal to the transport, oldest first, marking each delivered.
    /// Stops at the first failed publish (the rest stay pending) and reports it. Returns how
    /// many were delivered.
    ///
    /// Runs inside a `planck.deliver_pending` [`tracing`] span (field `delivered`); a failed
    /// publish is reported as a warning event naming the signal.
    pub fn deliver_pending(&self) -> Result<usize, EngineError> {
        let span = tracing::info_span!("planck.deliver_pending", delivered = tracing::field::Empty);
        let _entered = span.enter();
        let result = self.deliver_pending_inner();
        match &result {
            Ok(delivered) => {
                span.record("delivered", delivered);
                if *delivered > 0 {
                    tracing::info!(delivered, "signals delivered");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "signal delivery stopped; the rest stays pending")
            }
        }
        result
    }

    fn deliver_pending_inner(&self) -> Result<usize, EngineError> {
        let mut delivered = 0;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let batch = self.store.pending_signals(DELIVERY_BATCH)?;
            let mut done = Vec::new();
            let mut failure = None;
            let mut repeated = false;
            for signal in &batch {
                if !seen.insert(signal.id.clone()) {
                    // The store offers a signal it was told is delivered: stop rather than loop.
                    repeated = true;
                    break;
                }
                match self.transport.publish(signal) {
                    Ok(()) => done.push(signal.id.clone()),
                    Err(source) => {
                        failure = Some(EngineError::Transport {
                            signal: signal.id.clone(),
                            source,
                        });
                        break;
                    }
                }
            }
            self.store.mark_delivered(&done)?;
            delivered += done.len();
            if let Some(failure) = failure {
                return Err(failure);
            }
            if repeated || batch.len() < DELIVERY_BATCH {
                return Ok(delivered);
            }
        }
    }

    /// Deliver what a previous run left pending (a crash between commit and publish, a
    /// transport that was down). Call once after constructing the engine on an existing store.
    pub fn recover(&self) -> Result<usize, EngineError> {
        self.deliver_pending()
    }

    /// The surface `case` is pinned to, if registered with the pinned fingerprint.
    pub fn surface_of(&self, case: &Case) -> Option<&Surface> {
        case.request
            .as_ref()
            .and_then(|r| catalog::pinned(&self.registry, &r.surface))
    }
}

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// What `decide` may look up for `command` on the stream `snapshot` holds: the surfaces,
    /// and the operator profiles [`operator::profiles_to_load`] names, each as its stream
    /// holds it now (the directory command's own stream as in `snapshot`). A profile read and
    /// the append that follows are not one transaction: a suspension applies to the commands
    /// decided after it commits.
    fn catalog_for<'r>(
        &'r self,
        snapshot: &cache::Snapshot,
        principal: &Principal,
        command: &Command,
    ) -> Result<WithProfiles<&'r Registry>, EngineError> {
        let mut catalog = WithProfiles::new(&*self.registry);
        for id in operator::profiles_to_load(&snapshot.case, &catalog, principal, command) {
            let profile = if operator::stream_id(&id) == snapshot.case.id {
                snapshot.profile.clone()
            } else {
                self.operator(&id)?
            };
            if let Some(profile) = profile {
                catalog.profiles.insert(id, profile);
            }
        }
        Ok(catalog)
    }

    /// The case as stored now: its cached snapshot with the events appended since folded in,
    /// or (no snapshot, or one the store no longer continues) folded from every stored event.
    fn snapshot(&self, case_id: &str) -> Result<cache::Snapshot, EngineError> {
        if let Some(mut snapshot) = self.cases.take(case_id) {
            let mut newer = self.store.load_after(case_id, snapshot.version())?;
            self.open_sealed(case_id, &mut newer)?;
            if snapshot.extend(&newer) {
                return Ok(snapshot);
            }
        }
        let stored = self.load_opened(case_id)?;
        let mut snapshot = cache::Snapshot::empty(case_id);
        if snapshot.extend(&stored) {
            return Ok(snapshot);
        }
        // Not a contiguous history: judge it as folded, as ever (the append will tell).
        Ok(cache::Snapshot {
            case: fold(case_id, &stored),
            profile: operator::replay_profile(stored.iter().map(|e| &e.payload)),
            version: stored.last().map_or(0, |e| e.seq),
            last_digest: stored
                .last()
                .map_or_else(|| GENESIS_DIGEST.to_string(), |e| e.digest.clone()),
            last_ts: stored.last().map(|e| e.ts_ms),
        })
    }
}

/// The time new events of a stream are dated at: the host clock's `now`, or the stream's last
/// event's time when the clock is behind it (time never goes backwards within a stream). The
/// second value is the host's reading when it was overruled, recorded beside the event.
fn monotonic(
    now: spine::Millis,
    last: Option<spine::Millis>,
) -> (spine::Millis, Option<spine::Millis>) {
    match last {
        Some(last) if now < last => (last, Some(now)),
        _ => (now, None),
    }
}

/// `events` sealed in `envelope` after the stream's event number `previous_seq` (whose digest
/// is `previous_digest`; 0 and [`GENESIS_DIGEST`] for a new stream), and the outbox rows of
/// the signals among them.
fn seal_with_outbox(
    envelope: &Envelope<'_>,
    previous_seq: u64,
    previous_digest: &str,
    events: Vec<Event>,
) -> Result<(Vec<StoredEvent>, Vec<StoredSignal>), EngineError> {
    let sealed = envelope
        .seal_after(previous_seq, previous_digest, events)
        .map_err(|source| EngineError::Envelope {
            case: envelope.case_id.to_string(),
            source,
        })?;
    let outbox = sealed
        .iter()
        .filter_map(StoredEvent::outbox_signal)
        .collect();
    Ok((sealed, outbox))
}

fn fold(id: &str, stored: &[StoredEvent]) -> Case {
    spine::replay(id, stored.iter().map(|e| &e.payload))
}

/// The surface the events are judged under: the case's pin, or the one a submission sets; an
/// operator stream belongs to no surface ([`SurfacePin::unpinned`]).
fn pin_of<'a>(case: &'a Case, events: &[Event]) -> Option<Cow<'a, SurfacePin>> {
    if operator::is_operator_stream(&case.id) {
        return Some(Cow::Owned(SurfacePin::unpinned()));
    }
    case.request
        .as_ref()
        .map(|r| Cow::Borrowed(&r.surface))
        .or_else(|| {
            events.iter().find_map(|e| match e {
                Event::RequestSubmitted { surface, .. } => Some(Cow::Owned(surface.clone())),
                _ => None,
            })
        })
}

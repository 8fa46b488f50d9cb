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

mod cache;
mod catalog;
mod desk;
mod error;
mod index;
mod receipt;
mod subscriber;
mod view;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

pub use cache::CACHED_CASES;
pub(crate) use desk::active_job;
pub use desk::{ActiveJob, DeskView, MissingEvidence, Move};
pub use error::EngineError;
pub use receipt::Receipt;
pub use subscriber::{CursorStore, FileCursor, MemoryCursor, Subscriber, SubscriberError};
pub use view::{CaseView, Desk, ListPage, Listed, PhaseView, QueueItem};

use crate::audit::sealed;
use crate::audit::{
    Envelope, GENESIS_DIGEST, StoredEvent, StoredSignal, VerifyCode, VerifyError, VerifyReport,
    digest_of,
};
use crate::host::{
    Append, CaseFilter, CaseIndex, Clock, FeedEntry, IdempotencyRecord, IndexRow, IndexState,
    ListCursor, Store, StoreError, Transport,
};
use crate::policy::{Principal, Role};
use crate::spine::operator::{self, OperatorProfile};
use crate::spine::{
    self, Case, Command, Event, Explanation, Rejection, RejectionCode, SurfacePin, WithProfiles,
};
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

/// How many events `verify` reads from the feed at a time.
const VERIFY_FEED_BATCH: usize = 1_000;

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

    // -----------------------------------------------------------------------------------------
    // Writes.

    /// Judge and, if accepted, append `command` sent by `principal` (from the host's session),
    /// optionally under an idempotency `key`. See the module docs for the idempotency, conflict
    /// and delivery rules. Errors are failures of the store or of serialization only; a
    /// refused command is `Ok(Receipt::Rejected(_))`.
    ///
    /// Each call runs inside a `planck.execute` [`tracing`] span (fields `command`, `case`,
    /// `principal`, and once answered `outcome`, `code`, `attempts`, `conflict_retries`,
    /// `store_us`) and ends with one event in it; without a subscriber this costs a branch.
    pub fn execute(
        &self,
        principal: &Principal,
        command: &Command,
        key: Option<&str>,
    ) -> Result<Receipt, EngineError> {
        let span = tracing::info_span!(
            "planck.execute",
            command = command.kind().as_str(),
            case = command.case.as_str(),
            principal = principal.id.as_str(),
            outcome = tracing::field::Empty,
            code = tracing::field::Empty,
            attempts = tracing::field::Empty,
            conflict_retries = tracing::field::Empty,
            store_us = tracing::field::Empty,
        );
        if span.is_disabled() {
            return self.execute_measured(principal, command, key, &mut Stats::off());
        }
        let _entered = span.enter();
        let mut stats = Stats::on();
        let result = self.execute_measured(principal, command, key, &mut stats);
        let store_us = u64::try_from(stats.store.as_micros()).unwrap_or(u64::MAX);
        let retries = stats.attempts.saturating_sub(1);
        span.record("attempts", stats.attempts);
        span.record("conflict_retries", retries);
        span.record("store_us", store_us);
        match &result {
            Ok(receipt) => {
                let code = receipt.code().map(RejectionCode::as_str);
                span.record("outcome", receipt.outcome());
                if let Some(code) = code {
                    span.record("code", code);
                }
                // The span carries the fields; the event marks the answer.
                tracing::info!("command answered");
            }
            Err(err) => {
                span.record("outcome", "error");
                tracing::error!(error = %err, "command failed");
            }
        }
        result
    }

    /// [`Engine::execute`], counting attempts and the time spent in the store into `stats`.
    fn execute_measured(
        &self,
        principal: &Principal,
        command: &Command,
        key: Option<&str>,
        stats: &mut Stats,
    ) -> Result<Receipt, EngineError> {
        // Only a key is bound to the command's fingerprint; without one it is never read.
        // A sensitive intake value never enters the fingerprint: the idempotency table would
        // otherwise hold an unkeyed hash of it, an oracle for low-entropy personal data.
        let sensitive = match &command.body {
            spine::CommandBody::SubmitRequest { surface, .. } => self.sensitive_fields(surface),
            _ => Vec::new(),
        };
        let fingerprint = match key {
            Some(_) if !sensitive.is_empty() => {
                command_fingerprint(principal, &redacted(command, &sensitive))?
            }
            Some(_) => command_fingerprint(principal, command)?,
            None => String::new(),
        };
        if let Some(key) = key {
            if let Err(rejection) = check_key(key) {
                return Ok(Receipt::Rejected(rejection));
            }
            if let Some(first) = stats.time(|| self.store.idempotency(key))? {
                return replay_key(&first, &fingerprint);
            }
        }
        let case_id = command.case.as_str();
        let mut attempts = 0;
        // Whether a cached snapshot may be decided on unread (see the module docs): until the
        // first refusal or conflict of this command.
        let mut trust_cache = true;
        loop {
            attempts += 1;
            stats.attempts = attempts;
            let cached = if trust_cache {
                self.cases.take(case_id)
            } else {
                None
            };
            let unread = cached.is_some();
            let mut snapshot = match cached {
                Some(snapshot) => snapshot,
                None => stats.time(|| self.snapshot(case_id))?,
            };
            let catalog = stats.time(|| self.catalog_for(&snapshot, principal, command))?;
            let case = &snapshot.case;
            let (now, host_at) = monotonic(self.clock.now(), snapshot.last_ts);
            let events = match spine::decide(case, &catalog, principal, command, now) {
                Ok(events) => events,
                Err(rejection) => {
                    self.cases.put(snapshot);
                    if unread {
                        // Read what the store holds past the cached version, and decide again.
                        trust_cache = false;
                        attempts -= 1;
                        continue;
                    }
                    // The state that refused the command may be the work of this same command,
                    // sent concurrently under the same key, committed between the key lookup
                    // above and this load: the answer is then its outcome, as a duplicate.
                    if let Some(key) = key
                        && let Some(first) = stats.time(|| self.store.idempotency(key))?
                    {
                        return replay_key(&first, &fingerprint);
                    }
                    return Ok(Receipt::Rejected(rejection));
                }
            };
            let pin = pin_of(case, &events).ok_or_else(|| EngineError::Unpinned {
                case: case_id.to_string(),
            })?;
            let surface = catalog::pinned(&self.registry, &pin);
            // Sensitive intake fields are sealed under a new key of the case (here, not in
            // `decide`: randomness stays out of the core); the plaintext events are what the
            // cached case folds and the index row is derived from.
            let plain = events.clone();
            let (events, case_key) = self.seal_sensitive(case_id, &pin, events)?;
            let envelope = Envelope {
                case_id,
                actor: principal,
                surface: &pin,
                idempotency_key: key,
                at: now,
                host_at,
            };
            let sealed = envelope
                .seal_after(snapshot.version, &snapshot.last_digest, events)
                .map_err(|source| EngineError::Envelope {
                    case: case_id.to_string(),
                    source,
                })?;
            let outbox: Vec<StoredSignal> = sealed
                .iter()
                .filter_map(StoredEvent::outbox_signal)
                .collect();
            let receipt = Receipt::Applied {
                case: case_id.to_string(),
                events: sealed,
            };
            let record = match key {
                Some(key) => Some(IdempotencyRecord {
                    key: key.to_string(),
                    fingerprint: fingerprint.clone(),
                    case_id: case_id.to_string(),
                    outcome: serde_json::to_string(&receipt).map_err(|source| {
                        EngineError::Serialization {
                            what: format!("the outcome for idempotency key `{key}`"),
                            source,
                        }
                    })?,
                    recorded_at: now,
                }),
                None => None,
            };
            let version = snapshot.version();
            let erases = receipt
                .events()
                .iter()
                .any(|e| matches!(e.payload, Event::PersonalDataErased { .. }));
            let mut folded = receipt.events().to_vec();
            for (event, payload) in folded.iter_mut().zip(plain) {
                event.payload = payload;
            }
            // Fold the new events first: the index row is the case as they leave it. On a
            // conflict the snapshot is dropped, as the store no longer continues it.
            let extended = snapshot.extend(&folded);
            let row = if extended {
                index::row_for(
                    case_id,
                    &snapshot.case,
                    snapshot.profile.as_ref(),
                    surface,
                    now,
                )
            } else {
                let mut after = snapshot.case.clone();
                let mut profile = snapshot.profile.clone();
                for event in &folded {
                    spine::apply(&mut after, &event.payload);
                    let _ = operator::apply_profile(&mut profile, &event.payload);
                }
                index::row_for(case_id, &after, profile.as_ref(), surface, now)
            };
            let mut append = Append::new(case_id, version, receipt.events())
                .with_idempotency(record.as_ref())
                .with_outbox(&outbox)
                .with_index(row.as_ref())
                .with_case_key(case_key.as_ref().map(sealed::CaseKey::as_bytes));
            if erases {
                append = append.erasing_case_key();
            }
            match stats.time(|| self.store.append(&append)) {
                Ok(_) => {
                    // After an erasure the cached plaintext goes too: the next read opens
                    // nothing.
                    if extended && !erases {
                        self.cases.put(snapshot);
                    }
                    self.publish_new(&outbox);
                    return Ok(receipt);
                }
                Err(StoreError::Conflict { .. }) => {
                    // The same command with the same key may be what beat us.
                    if let Some(key) = key
                        && let Some(first) = self.store.idempotency(key)?
                    {
                        return replay_key(&first, &fingerprint);
                    }
                    if unread {
                        // The cached case was behind the store: not a race, not a retry.
                        trust_cache = false;
                        attempts -= 1;
                        continue;
                    }
                    if attempts <= CONFLICT_RETRIES {
                        continue;
                    }
                    return Ok(Receipt::Rejected(
                        Rejection::new(
                            RejectionCode::Conflict,
                            format!("case `{case_id}` kept changing under the command ({attempts} attempts); send it again"),
                        )
                        .with_detail(json!({ "attempts": attempts })),
                    ));
                }
                Err(StoreError::KeyTaken { key }) => {
                    // A concurrent command recorded the key first: answer as if it had been
                    // there when we looked.
                    return match self.store.idempotency(&key)? {
                        Some(first) => replay_key(&first, &fingerprint),
                        None => Err(StoreError::corrupt(
                            key,
                            "the key is taken but has no record",
                            None,
                        )
                        .into()),
                    };
                }
                Err(other) => return Err(other.into()),
            }
        }
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
            let sealed =
                envelope
                    .seal(stored.last(), events)
                    .map_err(|source| EngineError::Envelope {
                        case: case_id.to_string(),
                        source,
                    })?;
            let outbox: Vec<StoredSignal> = sealed
                .iter()
                .filter_map(StoredEvent::outbox_signal)
                .collect();
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
                    self.publish_new(&outbox);
                    return Ok(sealed);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Ok(Vec::new())
    }

    /// Publish signals that were just committed, in order, marking each delivered; stop at the
    /// first failure (what is left stays pending for [`Engine::deliver_pending`]). The command
    /// is already committed, so failures here are not the caller's error.
    fn publish_new(&self, signals: &[StoredSignal]) {
        let mut delivered = Vec::new();
        for signal in signals {
            if self.transport.publish(signal).is_err() {
                break;
            }
            delivered.push(signal.id.clone());
        }
        // If marking fails the signals stay pending and are delivered again: at least once.
        let _ = self.store.mark_delivered(&delivered);
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

    // -----------------------------------------------------------------------------------------
    // Reads.

    /// The case, folded from its events; `None` when nothing was ever appended to it.
    pub fn case(&self, id: &str) -> Result<Option<Case>, EngineError> {
        let stored = self.load_opened(id)?;
        Ok((!stored.is_empty()).then(|| fold(id, &stored)))
    }

    /// The case's view (every layer, the phase and its label, evidence counts).
    pub fn view(&self, id: &str) -> Result<Option<CaseView>, EngineError> {
        Ok(self
            .case(id)?
            .and_then(|case| CaseView::of(&case, self.surface_of(&case))))
    }

    /// The governance queue (docs/queries.md): cases whose Task waits for review, for an
    /// assignee or for the hand-off (`create_job`), and moves waiting for approval; oldest case
    /// first, at most [`QUEUE_LIMIT`]. Answered from the store's index.
    pub fn governance_queue(&self) -> Result<Vec<QueueItem>, EngineError> {
        let mut queue = Vec::new();
        for row in self.store.queue(QUEUE_LIMIT)? {
            let Some(need) = row.queue else { continue };
            if let Some(view) = self.view(&row.case)? {
                queue.push(QueueItem { need, view });
            }
        }
        Ok(queue)
    }

    /// `operator`'s desk: queued Jobs they may claim (oldest first), Jobs they own (oldest
    /// first), and the completed Jobs they owned where the surface keeps completed work
    /// visible (newest first); at most [`DESK_LIMIT`] per column. Answered from the store's
    /// index; only the cases on the desk are read.
    pub fn desk(&self, operator: &str) -> Result<Desk, EngineError> {
        let rows = self.store.desk(operator, DESK_LIMIT + 1)?;
        let mut desk = Desk {
            operator: operator.to_string(),
            truncated: rows.queued.len() > DESK_LIMIT
                || rows.active.len() > DESK_LIMIT
                || rows.completed.len() > DESK_LIMIT,
            ..Desk::default()
        };
        for (rows, column) in [
            (rows.queued, &mut desk.queued),
            (rows.active, &mut desk.active),
            (rows.completed, &mut desk.completed),
        ] {
            for row in rows.into_iter().take(DESK_LIMIT) {
                column.extend(self.view(&row.case)?);
            }
        }
        Ok(desk)
    }

    /// One page of the cases matching `filter`, newest activity first (among equal times, the
    /// greater case id first), after the cursor `after` (from a previous page's `next`), at
    /// most `limit` (1 to [`MAX_LIST_LIMIT`]). Answered from the store's index.
    pub fn list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<ListPage, EngineError> {
        let limit = limit.clamp(1, MAX_LIST_LIMIT);
        let mut rows = self.store.list(filter, after, limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|row| ListCursor::after(row).encode())
        } else {
            None
        };
        let mut cases = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(view) = self.view(&row.case)? {
                cases.push(Listed {
                    view,
                    last_activity: row.last_activity,
                });
            }
        }
        Ok(ListPage { cases, next })
    }

    /// At most `limit` events of the global feed after position `after`, in commit order
    /// (docs/queries.md; [`Subscriber`] polls it with a stored cursor).
    pub fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, EngineError> {
        Ok(self.store.feed(after, limit)?)
    }

    /// Write every stream's index row again from its events (`planck reindex`): the state is
    /// `needs_rebuild` while it runs (queries fail rather than answer from a partial index)
    /// and `ready` once every row is written. Commands may run meanwhile: their appends write
    /// their own rows, and a stream that moves on during the rebuild keeps the newer row.
    /// The fields that need the pinned surface (`claim_open`, `completed_visible`,
    /// `next_due_at`) take their "surface unknown" values for cases whose surface is not
    /// registered; the report names those cases (docs/queries.md).
    pub fn rebuild_index(&self) -> Result<Rebuilt, EngineError> {
        let span = tracing::info_span!("planck.rebuild_index", rows = tracing::field::Empty);
        let _entered = span.enter();
        self.store.begin_reindex()?;
        let mut report = Rebuilt::default();
        for id in self.store.cases()? {
            let stored = self.store.load(&id)?;
            let version = stored.last().map_or(0, |e| e.seq);
            let (row, surface_known) = self.derived_row(&id, &stored);
            report.streams += 1;
            if self.store.reindex(&id, version, row.as_ref())? && row.is_some() {
                report.rows += 1;
                if !surface_known {
                    report.without_surface.push(id);
                }
            }
        }
        self.store.finish_reindex()?;
        span.record("rows", report.rows);
        Ok(report)
    }

    /// Rebuild the index when the store says it needs it (a database from before the index);
    /// returns whether it did. `planck serve` calls it at start.
    pub fn ensure_index(&self) -> Result<bool, EngineError> {
        if self.store.index_state()? == IndexState::NeedsRebuild {
            self.rebuild_index()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The index row `stored` (the events of `stream`) imply, and whether the pinned surface
    /// was known to compute it.
    fn derived_row(&self, stream: &str, stored: &[StoredEvent]) -> (Option<IndexRow>, bool) {
        let case = fold(stream, stored);
        let surface = self.surface_of(&case);
        let last = stored.last().map_or(0, |e| e.ts_ms);
        (
            index::row_for(
                stream,
                &case,
                operator::replay_profile(stored.iter().map(|e| &e.payload)).as_ref(),
                surface,
                last,
            ),
            surface.is_some(),
        )
    }

    /// Every stored event of the case, in order.
    pub fn history(&self, id: &str) -> Result<Vec<StoredEvent>, EngineError> {
        Ok(self.store.load(id)?)
    }

    /// Every check `execute` would make for `command` now, and the verdict. Writes nothing.
    pub fn explain(
        &self,
        principal: &Principal,
        command: &Command,
    ) -> Result<Explanation, EngineError> {
        let stored = self.load_opened(&command.case)?;
        let (now, _) = monotonic(self.clock.now(), stored.last().map(|e| e.ts_ms));
        let mut snapshot = cache::Snapshot::empty(&command.case);
        if !snapshot.extend(&stored) {
            snapshot.case = fold(&command.case, &stored);
        }
        let catalog = self.catalog_for(&snapshot, principal, command)?;
        Ok(spine::explain(
            &snapshot.case,
            &catalog,
            principal,
            command,
            now,
        ))
    }

    /// The profile of `operator`, folded from their stream; `None` when they were never
    /// registered.
    pub fn operator(&self, operator: &str) -> Result<Option<OperatorProfile>, EngineError> {
        let stream = operator::stream_id(operator);
        let snapshot = self.snapshot(&stream)?;
        let profile = snapshot.profile.clone();
        self.cases.put(snapshot);
        Ok(profile)
    }

    /// Every registered operator's profile, by id. The operators come from the store's index
    /// (docs/queries.md); only their streams are read.
    pub fn operators(&self) -> Result<Vec<OperatorProfile>, EngineError> {
        let mut profiles = Vec::new();
        for row in self.store.operators()? {
            profiles.extend(self.operator(&row.operator)?);
        }
        Ok(profiles)
    }

    /// Re-derive every case from its events and check every digest, link and seal; check
    /// every index row against the events (with the surfaces, so the fields that need one are
    /// checked too for cases whose pinned surface is registered) and the feed's positions.
    pub fn verify(&self) -> Result<VerifyReport, EngineError> {
        Ok(verify_with(&self.store, Some(&self.registry), None)?)
    }

    /// The surface `case` is pinned to, if registered with the pinned fingerprint.
    pub fn surface_of(&self, case: &Case) -> Option<&Surface> {
        case.request
            .as_ref()
            .and_then(|r| catalog::pinned(&self.registry, &r.surface))
    }
}

/// Verify every stream of `store` (no surfaces needed): what `planck verify` runs without
/// `--surfaces`. Everything [`crate::audit::verify_store`] checks (each stream's chain, the
/// outbox and idempotency rows against the events), then each index row in every field that
/// does not need the surface, and the feed in full. Streams whose rows cannot be decoded are
/// reported as [`VerifyCode::Unreadable`]; other store failures are errors.
pub fn verify_store(store: &impl Store) -> Result<VerifyReport, StoreError> {
    verify_with(store, None, None)
}

/// [`verify_store`], with the surfaces of `registry` to check every field of the index rows of
/// cases whose pinned surface is registered (what [`Engine::verify`] and `planck verify
/// --surfaces` run), and every stream `checkpoint` covers against its signed head (check the
/// checkpoint itself first with [`crate::audit::checkpoint::Checkpoint::check`]).
pub fn verify_with(
    store: &impl Store,
    registry: Option<&Registry>,
    checkpoint: Option<&crate::audit::checkpoint::Checkpoint>,
) -> Result<VerifyReport, StoreError> {
    let needs_rebuild = store.index_state()? == IndexState::NeedsRebuild;
    // The number of events of each stream, for the feed check.
    let mut lengths: HashMap<String, u64> = HashMap::new();
    let mut index_rows = 0;
    let mut report = crate::audit::sweep::verify_streams(store, checkpoint, |id, events, held| {
        lengths.insert(id.to_string(), events.last().map_or(0, |e| e.seq));
        if !held || needs_rebuild || events.is_empty() {
            return Ok(None);
        }
        let stored = store.index_row(id)?;
        index_rows += usize::from(stored.is_some());
        Ok(check_index_row(id, events, stored.as_ref(), registry))
    })?;
    report.index_rows = index_rows;
    report.index_needs_rebuild = needs_rebuild;
    let mut failed: HashSet<String> = report
        .failures
        .iter()
        .map(|f| f.case().to_string())
        .collect();
    if !needs_rebuild {
        verify_extra_rows(store, &lengths, &mut failed, &mut report)?;
    }
    verify_feed(store, &lengths, &mut failed, &mut report)?;
    Ok(report)
}

/// One stream's index row (`stored`) against the row its events imply.
fn check_index_row(
    id: &str,
    events: &[StoredEvent],
    stored: Option<&IndexRow>,
    registry: Option<&Registry>,
) -> Option<VerifyError> {
    let operator = operator::is_operator_stream(id);
    let case = fold(id, events);
    let surface = registry.and_then(|r| {
        case.request
            .as_ref()
            .and_then(|req| catalog::pinned(r, &req.surface))
    });
    let last = events.last().map_or(0, |e| e.ts_ms);
    let profile = operator
        .then(|| operator::replay_profile(events.iter().map(|e| &e.payload)))
        .flatten();
    let derived = index::row_for(id, &case, profile.as_ref(), surface, last);
    let (code, message) = match (stored, &derived) {
        (None, None) => return None,
        (None, Some(_)) => (
            VerifyCode::IndexMissing,
            "the case has no index row".to_string(),
        ),
        (Some(_), None) => (
            VerifyCode::IndexMismatch,
            "the stream has an index row but holds no request".to_string(),
        ),
        (Some(stored), Some(derived)) => {
            let differ = index::compare(stored, derived, surface.is_some());
            if differ.is_empty() {
                return None;
            }
            (
                VerifyCode::IndexMismatch,
                format!(
                    "the index row disagrees with the events in {}: rebuild it with `planck reindex`",
                    differ.join(", ")
                ),
            )
        }
    };
    Some(VerifyError::new(code, id, None, None, message))
}

/// Rows of cases that hold no events (an index edited by hand).
fn verify_extra_rows(
    store: &impl Store,
    lengths: &HashMap<String, u64>,
    failed: &mut HashSet<String>,
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    let all = CaseFilter::default();
    let mut after: Option<ListCursor> = None;
    loop {
        let rows = store.list(&all, after.as_ref(), VERIFY_FEED_BATCH)?;
        for row in &rows {
            if !lengths.contains_key(&row.case) && failed.insert(row.case.clone()) {
                report.failures.push(VerifyError::new(
                    VerifyCode::IndexMismatch,
                    row.case.clone(),
                    None,
                    None,
                    "the index has a row for a case that holds no events",
                ));
            }
        }
        match rows.last() {
            Some(last) if rows.len() == VERIFY_FEED_BATCH => after = Some(ListCursor::after(last)),
            _ => return Ok(()),
        }
    }
}

/// The feed: positions 1, 2, 3, … without holes, each case's events in sequence order, once
/// each, and every stored event in it.
fn verify_feed(
    store: &impl Store,
    lengths: &HashMap<String, u64>,
    failed: &mut HashSet<String>,
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    let mut seen: HashMap<String, u64> = HashMap::with_capacity(lengths.len());
    let mut next = 1u64;
    let mut fail = |report: &mut VerifyReport, event: &StoredEvent, code, message: String| {
        if failed.insert(event.case_id.clone()) {
            report.failures.push(VerifyError::new(
                code,
                event.case_id.clone(),
                Some(event.seq),
                Some(event.event_id.clone()),
                message,
            ));
        }
    };
    loop {
        let batch = match store.feed(next - 1, VERIFY_FEED_BATCH) {
            Ok(batch) => batch,
            Err(StoreError::Corrupt { what, message, .. }) => {
                // An event that does not decode stops the feed check there (the rest of the
                // feed cannot be read past it); its case is reported once.
                if failed.insert(what.clone()) {
                    report.failures.push(VerifyError::new(
                        VerifyCode::Unreadable,
                        what,
                        None,
                        None,
                        format!(
                            "the feed cannot be read past position {}: {message}",
                            next - 1
                        ),
                    ));
                }
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        for entry in &batch {
            let event = &entry.event;
            if entry.position != next {
                fail(
                    report,
                    event,
                    VerifyCode::FeedGap,
                    format!(
                        "the feed jumps from position {} to {}: an event was removed",
                        next - 1,
                        entry.position
                    ),
                );
            }
            next = entry.position.saturating_add(1);
            let last = seen.entry(event.case_id.clone()).or_insert(0);
            if event.seq != *last + 1 {
                let message = format!(
                    "at position {} the feed holds event {} of the case after event {}",
                    entry.position, event.seq, last
                );
                fail(report, event, VerifyCode::FeedOrder, message);
            }
            *last = (*last).max(event.seq);
        }
        report.positions = next - 1;
        if batch.len() < VERIFY_FEED_BATCH {
            break;
        }
    }
    for (case, &length) in lengths {
        let fed = seen.get(case).copied().unwrap_or(0);
        if fed < length && failed.insert(case.clone()) {
            report.failures.push(VerifyError::new(
                VerifyCode::FeedMissing,
                case.clone(),
                Some(fed + 1),
                None,
                format!("the case holds {length} events but the feed only its first {fed}"),
            ));
        }
    }
    Ok(())
}

/// What [`Engine::rebuild_index`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rebuilt {
    /// Streams read.
    pub streams: usize,
    /// Index rows written.
    pub rows: usize,
    /// Cases whose pinned surface is not registered: their rows hold the "surface unknown"
    /// values (no claim open to anyone, completed work visible, no escalation due).
    pub without_surface: Vec<String>,
}

/// The fingerprint an idempotency key is bound to: SHA-256 over the canonical JSON of the
/// command and the principal (its id and its set of roles).
pub fn command_fingerprint(
    principal: &Principal,
    command: &Command,
) -> Result<String, EngineError> {
    #[derive(Serialize)]
    struct Bound<'a> {
        principal: &'a str,
        roles: Vec<Role>,
        command: &'a Command,
    }
    let mut roles = principal.roles.clone();
    roles.sort();
    roles.dedup();
    digest_of(&Bound {
        principal: &principal.id,
        roles,
        command,
    })
    .map_err(|source| EngineError::Serialization {
        what: "the command".to_string(),
        source,
    })
}

/// An idempotency key must be non-empty, at most [`spine::limits::MAX_ID_LEN`] bytes long and
/// free of control characters: it is stored in every event and in the key table.
fn check_key(key: &str) -> Result<(), Rejection> {
    let max = spine::limits::MAX_ID_LEN;
    let problem = if key.trim().is_empty() {
        Some("the idempotency key must not be empty".to_string())
    } else if key.len() > max {
        Some(format!(
            "the idempotency key is {} bytes long; at most {max} are allowed",
            key.len()
        ))
    } else if key.chars().any(char::is_control) {
        Some("the idempotency key contains control characters".to_string())
    } else {
        None
    };
    match problem {
        Some(message) => Err(Rejection::new(RejectionCode::PayloadInvalid, message)
            .with_detail(json!({ "limit": "idempotency_key", "max_bytes": max }))),
        None => Ok(()),
    }
}

fn replay_key(first: &IdempotencyRecord, fingerprint: &str) -> Result<Receipt, EngineError> {
    if first.fingerprint != fingerprint {
        return Ok(Receipt::Rejected(
            Rejection::new(
                RejectionCode::PayloadInvalid,
                format!(
                    "idempotency key `{}` was first used for a different command",
                    first.key
                ),
            )
            .with_detail(json!({ "key": first.key, "case": first.case_id })),
        ));
    }
    let receipt: Receipt =
        serde_json::from_str(&first.outcome).map_err(|source| EngineError::Serialization {
            what: format!("the first outcome of idempotency key `{}`", first.key),
            source,
        })?;
    Ok(Receipt::Duplicate(Box::new(receipt)))
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

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// Seal the sensitive intake fields of a `request_submitted` among `events` under a new
    /// key of the case, returned to be stored with them; `events` unchanged (and no key) when
    /// the pinned surface declares none.
    fn seal_sensitive(
        &self,
        case_id: &str,
        pin: &SurfacePin,
        mut events: Vec<Event>,
    ) -> Result<(Vec<Event>, Option<sealed::CaseKey>), EngineError> {
        let Some(surface) = catalog::pinned(&self.registry, pin) else {
            return Ok((events, None));
        };
        let fields = &surface.intake().sensitive;
        let mut key = None;
        for event in &mut events {
            if let Event::RequestSubmitted { intake, .. } = event
                && fields.iter().any(|f| intake.contains_key(f))
            {
                let fail = |source| EngineError::Seal {
                    case: case_id.to_string(),
                    source,
                };
                if key.is_none() {
                    key = Some(sealed::CaseKey::generate().map_err(fail)?);
                }
                if let Some(key) = &key {
                    sealed::seal_intake(key, case_id, fields, intake).map_err(fail)?;
                }
            }
        }
        Ok((events, key))
    }

    /// The case's stored events with every sealed intake value opened with the case's key
    /// (`"<erased>"` once the key is destroyed): what decisions, views and rules read.
    fn load_opened(&self, case_id: &str) -> Result<Vec<StoredEvent>, EngineError> {
        let mut stored = self.store.load(case_id)?;
        self.open_sealed(case_id, &mut stored)?;
        Ok(stored)
    }

    /// Open, in place, the sealed intake values of `events` (only a `request_submitted`
    /// carries intake); the key is read only when one is sealed.
    fn open_sealed(&self, case_id: &str, events: &mut [StoredEvent]) -> Result<(), EngineError> {
        let mut key: Option<Option<sealed::CaseKey>> = None;
        for event in events {
            if let Event::RequestSubmitted { intake, .. } = &mut event.payload
                && intake.values().any(sealed::is_sealed)
            {
                if key.is_none() {
                    let bytes = self.store.case_key(case_id)?;
                    key = Some(bytes.and_then(|b| sealed::CaseKey::from_bytes(&b).ok()));
                }
                sealed::open_intake(key.as_ref().and_then(Option::as_ref), case_id, intake);
            }
        }
        Ok(())
    }

    /// The sensitive fields a `submit_request` for `surface` (a slug or `slug@version`) may
    /// carry: those of every registered version it could resolve to.
    fn sensitive_fields(&self, surface: &str) -> Vec<String> {
        let slug = surface.split('@').next().unwrap_or(surface);
        let mut fields: Vec<String> = self
            .registry
            .iter()
            .filter(|s| s.slug() == slug)
            .flat_map(|s| s.intake().sensitive.iter().cloned())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        fields
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

/// `command` with the values of its `sensitive` intake fields replaced by a marker (for the
/// idempotency fingerprint: a retry that differs only in a sensitive value replays the first
/// outcome).
fn redacted(command: &Command, sensitive: &[String]) -> Command {
    let mut command = command.clone();
    if let spine::CommandBody::SubmitRequest { intake, .. } = &mut command.body {
        for field in sensitive {
            if let Some(value) = intake.get_mut(field) {
                *value = serde_json::Value::String("<sensitive>".to_string());
            }
        }
    }
    command
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

/// What one [`Engine::execute`] cost: attempts and time spent in the store. Time is measured
/// only when a tracing subscriber listens (`on`), so an engine without one reads no clock.
struct Stats {
    attempts: u32,
    store: std::time::Duration,
    timing: bool,
}

impl Stats {
    fn on() -> Self {
        Stats {
            attempts: 0,
            store: std::time::Duration::ZERO,
            timing: true,
        }
    }

    fn off() -> Self {
        Stats {
            timing: false,
            ..Stats::on()
        }
    }

    /// Run a store call, adding its duration when timing.
    fn time<R>(&mut self, call: impl FnOnce() -> R) -> R {
        if !self.timing {
            return call();
        }
        let start = std::time::Instant::now();
        let result = call();
        self.store += start.elapsed();
        result
    }
}

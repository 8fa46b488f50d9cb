//! The engine: the thin shell that runs the pure spine against the host's world.
//!
//! [`Engine::execute`] is the whole write path: look up the idempotency key, load the case's
//! events, fold them, `decide` at the clock's `now`, wrap the events in their canonical
//! envelopes, and append them (with the idempotency record and the outbox rows for any
//! signals) at the expected version, in one atomic [`Store::append`]. Only after that append
//! committed are the new signals handed to the [`Transport`]. Everything else here is reads:
//! views, the governance queue, an operator's desk, history, `explain` and `verify`.
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
//! - **Delivery.** At least once. Signals are written to the outbox with their events; after
//!   the commit the engine publishes the new ones in order and marks them delivered, stopping
//!   at the first failure. Whatever is left pending (a failed publish, a crash between commit
//!   and publish) is delivered by [`Engine::deliver_pending`] / [`Engine::recover`]. Signal ids
//!   are stable, so consumers drop repeats.

mod cache;
mod catalog;
mod error;
mod receipt;
mod view;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

pub use cache::CACHED_CASES;
pub use error::EngineError;
pub use receipt::Receipt;
pub use view::{CaseView, Desk, PhaseView};

use crate::audit::{
    Envelope, GENESIS_DIGEST, StoredEvent, StoredSignal, VerifyCode, VerifyError, VerifyReport,
    digest_of, verify_case, verify_operator,
};
use crate::host::{Append, Clock, IdempotencyRecord, Store, StoreError, Transport};
use crate::policy::{Principal, Role};
use crate::spine::operator::{self, OperatorProfile, StreamId};
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
        let fingerprint = match key {
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
        loop {
            attempts += 1;
            stats.attempts = attempts;
            let mut snapshot = stats.time(|| self.snapshot(case_id))?;
            let catalog = stats.time(|| self.catalog_for(&snapshot, principal, command))?;
            let case = &snapshot.case;
            let now = self.clock.now();
            let events = match spine::decide(case, &catalog, principal, command, now) {
                Ok(events) => events,
                Err(rejection) => {
                    self.cases.put(snapshot);
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
            let envelope = Envelope {
                case_id,
                actor: principal,
                surface: &pin,
                idempotency_key: key,
                at: now,
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
            let append = Append::new(case_id, version, receipt.events())
                .with_idempotency(record.as_ref())
                .with_outbox(&outbox);
            match stats.time(|| self.store.append(&append)) {
                Ok(_) => {
                    if snapshot.extend(receipt.events()) {
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

    /// Raise every escalation that is due at the clock's `now`, on every live case, and return
    /// the events appended (each escalation at most once per entry into its phase). A case that
    /// keeps conflicting is left for the next tick.
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
        let mut appended = Vec::new();
        let cases: Vec<String> = self
            .store
            .cases()?
            .into_iter()
            .filter(|id| !operator::is_operator_stream(id))
            .collect();
        for case_id in &cases {
            appended.extend(self.tick_case(case_id, &actor)?);
        }
        span.record("cases", cases.len());
        span.record("appended", appended.len());
        if !appended.is_empty() {
            tracing::info!(appended = appended.len(), "escalations raised");
        }
        Ok(appended)
    }

    fn tick_case(&self, case_id: &str, actor: &Principal) -> Result<Vec<StoredEvent>, EngineError> {
        for _ in 0..=CONFLICT_RETRIES {
            let stored = self.store.load(case_id)?;
            let case = fold(case_id, &stored);
            let Some(pin) = case.request.as_ref().map(|r| r.surface.clone()) else {
                return Ok(Vec::new());
            };
            let Some(surface) = catalog::pinned(&self.registry, &pin) else {
                return Ok(Vec::new());
            };
            let now = self.clock.now();
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
            let version = stored.last().map_or(0, |e| e.seq);
            match self
                .store
                .append(&Append::new(case_id, version, &sealed).with_outbox(&outbox))
            {
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
        let stored = self.store.load(id)?;
        Ok((!stored.is_empty()).then(|| fold(id, &stored)))
    }

    /// The case's view (every layer, the phase and its label, evidence counts).
    pub fn view(&self, id: &str) -> Result<Option<CaseView>, EngineError> {
        Ok(self
            .case(id)?
            .and_then(|case| CaseView::of(&case, self.surface_of(&case))))
    }

    /// The governance queue: every case whose Task is open or approved, oldest case first.
    pub fn governance_queue(&self) -> Result<Vec<CaseView>, EngineError> {
        let mut queue = Vec::new();
        for id in self.store.cases()? {
            if operator::is_operator_stream(&id) {
                continue;
            }
            if let Some(case) = self.case(&id)?
                && view::in_governance_queue(&case)
            {
                queue.extend(CaseView::of(&case, self.surface_of(&case)));
            }
        }
        Ok(queue)
    }

    /// `operator`'s desk: queued Jobs they may claim, Jobs they own, and the completed Jobs they
    /// owned where the surface keeps completed work visible.
    pub fn desk(&self, operator: &str) -> Result<Desk, EngineError> {
        let mut desk = Desk {
            operator: operator.to_string(),
            ..Desk::default()
        };
        for id in self.store.cases()? {
            if operator::is_operator_stream(&id) {
                continue;
            }
            let Some(case) = self.case(&id)? else {
                continue;
            };
            let surface = self.surface_of(&case);
            let Some(slot) = view::desk_slot(&case, surface, operator) else {
                continue;
            };
            let Some(v) = CaseView::of(&case, surface) else {
                continue;
            };
            match slot {
                view::DeskSlot::Queued => desk.queued.push(v),
                view::DeskSlot::Active => desk.active.push(v),
                view::DeskSlot::Completed => desk.completed.push(v),
            }
        }
        Ok(desk)
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
        let stored = self.store.load(&command.case)?;
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
            self.clock.now(),
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

    /// Every registered operator's profile, in the order they were registered.
    pub fn operators(&self) -> Result<Vec<OperatorProfile>, EngineError> {
        let mut profiles = Vec::new();
        for id in self.store.cases()? {
            if let StreamId::Operator(operator) = StreamId::parse(&id) {
                profiles.extend(self.operator(operator)?);
            }
        }
        Ok(profiles)
    }

    /// Re-derive every case from its events and check every digest, link and seal.
    pub fn verify(&self) -> Result<VerifyReport, EngineError> {
        Ok(verify_store(&self.store)?)
    }

    /// The surface `case` is pinned to, if registered with the pinned fingerprint.
    pub fn surface_of(&self, case: &Case) -> Option<&Surface> {
        case.request
            .as_ref()
            .and_then(|r| catalog::pinned(&self.registry, &r.surface))
    }
}

/// Verify every stream of `store` (no surfaces needed): what `planck verify` runs. Each case
/// and each operator stream is re-derived from its events, with every digest and link
/// checked. Streams whose rows cannot be decoded are reported as [`VerifyCode::Unreadable`];
/// other store failures are errors.
pub fn verify_store(store: &impl Store) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    for id in store.cases()? {
        let operator = operator::is_operator_stream(&id);
        if operator {
            report.operators += 1;
        } else {
            report.cases += 1;
        }
        match store.load(&id) {
            Ok(events) => {
                report.events += events.len();
                let verified = if operator {
                    verify_operator(&id, &events).map(|_| ())
                } else {
                    verify_case(&id, &events).map(|_| ())
                };
                if let Err(failure) = verified {
                    report.failures.push(failure);
                }
            }
            Err(err @ StoreError::Corrupt { .. }) => {
                report.failures.push(VerifyError::new(
                    VerifyCode::Unreadable,
                    id.clone(),
                    None,
                    None,
                    err.to_string(),
                ));
            }
            Err(other) => return Err(other),
        }
    }
    Ok(report)
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
            let newer = self.store.load_after(case_id, snapshot.version())?;
            if snapshot.extend(&newer) {
                return Ok(snapshot);
            }
        }
        let stored = self.store.load(case_id)?;
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
        })
    }
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

//! The write path: [`Engine::execute`] and [`Engine::execute_async`].
//!
//! Both are one function, `execute_measured`: [`Engine::begin`] (the idempotency key), then,
//! per attempt, [`Engine::attempt`] (load or take the cached case, decide, seal, build the
//! append) and [`Engine::settle`] (what the store's answer means: the receipt, or another
//! attempt after a conflict). They differ only in how they wait for the commit ([`Wait`]):
//! `execute` calls [`Store::append`], which blocks its thread until the commit, so its future
//! never waits and one poll finishes it; `execute_async` awaits [`Store::append_async`] when
//! the store offers it, so a service answering many requests does not park a thread per
//! request while a group of appends commits.

use std::borrow::Cow;
use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::json;
use tracing::Instrument;

use super::idempotency::{check_key, command_fingerprint, redacted, replay_key};
use super::{CONFLICT_RETRIES, Engine, EngineError, Receipt, cache, catalog, index, pin_of};
use crate::audit::{Envelope, StoredEvent, StoredSignal, sealed};
use crate::host::{
    Append, Clock, Committed, IdempotencyRecord, IndexRow, Store, StoreError, Transport,
};
use crate::policy::Principal;
use crate::spine::{self, Command, Event, Rejection, RejectionCode, operator};

/// One command on its way: what every attempt at it shares.
struct Run<'c> {
    principal: &'c Principal,
    command: &'c Command,
    key: Option<&'c str>,
    /// The command's fingerprint under its key (empty without a key).
    fingerprint: String,
    attempts: u32,
    /// Whether a cached snapshot may be decided on unread (see the module docs of
    /// [`crate::engine`]): until the first refusal or conflict of this command.
    trust_cache: bool,
}

/// An attempt decided and sealed, waiting for its append.
struct Attempt {
    snapshot: cache::Snapshot,
    /// Decided on a cached snapshot the store was not read for.
    unread: bool,
    /// Whether the snapshot folded the new events (it continues the stream).
    extended: bool,
    /// Whether the events erase the case's personal data.
    erases: bool,
    version: u64,
    receipt: Receipt,
    outbox: Vec<StoredSignal>,
    record: Option<IdempotencyRecord>,
    row: Option<IndexRow>,
    case_key: Option<sealed::CaseKey>,
}

impl Attempt {
    /// What the store is asked to append for this attempt.
    fn append<'a>(&'a self, case_id: &'a str) -> Append<'a> {
        let append = Append::new(case_id, self.version, self.receipt.events())
            .with_idempotency(self.record.as_ref())
            .with_outbox(&self.outbox)
            .with_index(self.row.as_ref())
            .with_case_key(self.case_key.as_ref().map(sealed::CaseKey::as_bytes));
        if self.erases {
            append.erasing_case_key()
        } else {
            append
        }
    }
}

/// What an attempt came to: the answer without an append (refused, or a duplicate of a keyed
/// command), or the append to make.
#[allow(
    clippy::large_enum_variant,
    reason = "made and matched once per attempt: a move, where a box would allocate per command"
)]
enum Next {
    Answer(Receipt),
    Append(Attempt),
}

/// How a command waits for its commit.
#[derive(Clone, Copy, Debug)]
pub(super) enum Wait {
    /// On its thread: [`Store::append`] returns after the commit.
    Block,
    /// Awaiting the store's commit ([`Store::append_async`]) where the store offers it.
    Await,
}

impl Wait {
    /// Append `append`, awaiting the store's commit ([`Store::append_async`]) when waiting
    /// that way and the store offers it, else through [`Store::append`].
    async fn append<S: Store>(
        self,
        store: &S,
        append: &Append<'_>,
    ) -> Result<Committed, StoreError> {
        if let Wait::Await = self
            && let Some(commit) = store.append_async(append)
        {
            return commit.await;
        }
        store.append(append)
    }

    /// Mark `ids` delivered, the same way.
    async fn mark_delivered<S: Store>(self, store: &S, ids: &[String]) -> Result<(), StoreError> {
        if let Wait::Await = self
            && let Some(marked) = store.mark_delivered_async(ids)
        {
            return marked.await;
        }
        store.mark_delivered(ids)
    }
}

/// The output of a future that never waits (the write path with [`Wait::Block`], where every
/// store call returns before anything is awaited, so one poll finishes it); `None` if it did
/// wait.
pub(super) fn ready_now<T>(future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// What one execution cost: attempts and time spent in the store. Time is measured only when
/// a tracing subscriber listens (`on`), so an engine without one reads no clock.
struct Stats {
    attempts: u32,
    store: Duration,
    timing: bool,
}

impl Stats {
    fn on() -> Self {
        Stats {
            attempts: 0,
            store: Duration::ZERO,
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
        let started = self.start();
        let result = call();
        self.stop(started);
        result
    }

    /// The time now when timing (for a store call that is awaited, not called).
    fn start(&self) -> Option<Instant> {
        self.timing.then(Instant::now)
    }

    /// Add the time since `started`.
    fn stop(&mut self, started: Option<Instant>) {
        if let Some(started) = started {
            self.store += started.elapsed();
        }
    }
}

/// The `planck.execute` span of one command, its answer fields still empty.
fn execute_span(principal: &Principal, command: &Command) -> tracing::Span {
    tracing::info_span!(
        "planck.execute",
        command = command.kind().as_str(),
        case = command.case.as_str(),
        principal = principal.id.as_str(),
        outcome = tracing::field::Empty,
        code = tracing::field::Empty,
        attempts = tracing::field::Empty,
        conflict_retries = tracing::field::Empty,
        store_us = tracing::field::Empty,
    )
}

/// Record the answer in `span` (entered by the caller) and mark it with one event.
fn record_answer(span: &tracing::Span, stats: &Stats, result: &Result<Receipt, EngineError>) {
    let store_us = u64::try_from(stats.store.as_micros()).unwrap_or(u64::MAX);
    span.record("attempts", stats.attempts);
    span.record("conflict_retries", stats.attempts.saturating_sub(1));
    span.record("store_us", store_us);
    match result {
        Ok(receipt) => {
            span.record("outcome", receipt.outcome());
            if let Some(code) = receipt.code().map(RejectionCode::as_str) {
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
}

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
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
        ready_now(self.execute_waiting(principal, command, key, Wait::Block)).unwrap_or_else(|| {
            Err(StoreError::backend(
                "executing a command",
                "the blocking write path waited for a commit",
            )
            .into())
        })
    }

    /// [`Engine::execute`] for a caller on an async runtime: the same answer, the same writes,
    /// the same span; but where the store commits appends on a thread of its own
    /// ([`Store::append_async`], as [`crate::host::GroupCommitSqliteStore`] does), the command
    /// awaits its commit instead of blocking a thread until it. That is what lets a service
    /// answer many commands at once without a thread parked per command.
    ///
    /// Everything before the append still runs on the calling task: the key lookup, reading a
    /// case the engine has not cached, deciding and sealing, and after the commit handing new
    /// signals to the transport. So call it only over a store whose reads are local (the
    /// SQLite stores) and with a transport that does not block (`planck serve` hands signals
    /// to its dispatcher); over any other store or transport, run [`Engine::execute`] on a
    /// thread that may block. A store without `append_async` is appended to inline.
    ///
    /// Dropping the returned future after its append was handed to the store does not
    /// withdraw the append: it commits, and only the answer is lost (a keyed command sent
    /// again is then answered as a duplicate). A host that must finish every command it
    /// started runs this future to completion in a task of its own.
    ///
    /// ```
    /// # #[cfg(all(feature = "sqlite", feature = "serve"))]
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use planck::engine::Engine;
    /// use planck::host::{GroupCommitSqliteStore, ManualClock, NullTransport};
    /// use planck::policy::{Principal, Role};
    /// use planck::spine::Command;
    /// use planck::surface::Registry;
    /// use serde_json::json;
    ///
    /// let mut registry = Registry::new();
    /// assert!(registry.load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/surfaces")).is_ok());
    /// // Appends that arrive together share one commit; awaiting callers never block on it.
    /// let engine = Engine::new(
    ///     Arc::new(registry),
    ///     GroupCommitSqliteStore::open_in_memory()?,
    ///     NullTransport,
    ///     ManualClock::new(1_767_225_600_000),
    /// );
    /// let client = Principal::new("client-ava", [Role::Client]);
    /// let intake = json!({ "contact": "ava@example.com", "event_details": "40 guests",
    ///                      "preferred_timing": "Sat pm" });
    /// let submit = Command::from_json(
    ///     "ev-1",
    ///     "submit_request",
    ///     &json!({ "surface": "event-coordination", "intake": intake }),
    /// )?;
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let receipt = runtime.block_on(engine.execute_async(&client, &submit, Some("submit-ev-1")))?;
    /// assert!(receipt.is_applied());
    /// # Ok(())
    /// # }
    /// # #[cfg(not(all(feature = "sqlite", feature = "serve")))]
    /// # fn main() {}
    /// ```
    pub async fn execute_async(
        &self,
        principal: &Principal,
        command: &Command,
        key: Option<&str>,
    ) -> Result<Receipt, EngineError> {
        self.execute_waiting(principal, command, key, Wait::Await)
            .await
    }

    /// The command inside its `planck.execute` span, waiting for its commit as `wait` says.
    async fn execute_waiting(
        &self,
        principal: &Principal,
        command: &Command,
        key: Option<&str>,
        wait: Wait,
    ) -> Result<Receipt, EngineError> {
        let span = execute_span(principal, command);
        if span.is_disabled() {
            return self
                .execute_measured(principal, command, key, wait, &mut Stats::off())
                .await;
        }
        let mut stats = Stats::on();
        let result = self
            .execute_measured(principal, command, key, wait, &mut stats)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        record_answer(&span, &stats, &result);
        result
    }

    /// The write path, counting attempts and the time spent in the store into `stats`.
    async fn execute_measured(
        &self,
        principal: &Principal,
        command: &Command,
        key: Option<&str>,
        wait: Wait,
        stats: &mut Stats,
    ) -> Result<Receipt, EngineError> {
        let mut run = match self.begin(principal, command, key, stats)? {
            Ok(run) => run,
            Err(answer) => return Ok(answer),
        };
        let case_id = command.case.as_str();
        loop {
            let attempt = match self.attempt(&mut run, stats)? {
                Next::Answer(receipt) => return Ok(receipt),
                Next::Append(attempt) => attempt,
            };
            let append = attempt.append(case_id);
            let started = stats.start();
            let result = wait.append(&self.store, &append).await;
            stats.stop(started);
            if let Some((receipt, outbox)) = self.settle(&mut run, attempt, result, stats)? {
                self.publish_new(&outbox, wait).await;
                return Ok(receipt);
            }
        }
    }

    /// The key's checks before any attempt: the command's run, or its answer when the key is
    /// malformed or already recorded.
    fn begin<'c>(
        &self,
        principal: &'c Principal,
        command: &'c Command,
        key: Option<&'c str>,
        stats: &mut Stats,
    ) -> Result<Result<Run<'c>, Receipt>, EngineError> {
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
                return Ok(Err(Receipt::Rejected(rejection)));
            }
            if let Some(first) = stats.time(|| self.store.idempotency(key))? {
                return replay_key(&first, &fingerprint).map(Err);
            }
        }
        Ok(Ok(Run {
            principal,
            command,
            key,
            fingerprint,
            attempts: 0,
            trust_cache: true,
        }))
    }

    /// One attempt: the case (cached, or read), the decision, the sealed events and the
    /// append that would store them.
    fn attempt(&self, run: &mut Run<'_>, stats: &mut Stats) -> Result<Next, EngineError> {
        let (principal, command, key) = (run.principal, run.command, run.key);
        let case_id = command.case.as_str();
        run.attempts += 1;
        stats.attempts = run.attempts;
        let cached = if run.trust_cache {
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
        let (now, host_at) = super::monotonic(self.clock.now(), snapshot.last_ts);
        let events = match spine::decide(case, &catalog, principal, command, now) {
            Ok(events) => events,
            Err(rejection) => {
                self.cases.put(snapshot);
                if unread {
                    // Read what the store holds past the cached version, and decide again
                    // (once: the cache is no longer trusted).
                    run.trust_cache = false;
                    run.attempts -= 1;
                    return self.attempt(run, stats);
                }
                // The state that refused the command may be the work of this same command,
                // sent concurrently under the same key, committed between the key lookup and
                // this load: the answer is then its outcome, as a duplicate.
                if let Some(key) = key
                    && let Some(first) = stats.time(|| self.store.idempotency(key))?
                {
                    return replay_key(&first, &run.fingerprint).map(Next::Answer);
                }
                return Ok(Next::Answer(Receipt::Rejected(rejection)));
            }
        };
        let pin = pin_of(case, &events).ok_or_else(|| EngineError::Unpinned {
            case: case_id.to_string(),
        })?;
        let surface = catalog::pinned(&self.registry, &pin);
        // Sensitive intake fields are sealed under a new key of the case (here, not in
        // `decide`: randomness stays out of the core); the plaintext events are what the
        // cached case folds and the index row is derived from.
        let (events, plain, case_key) = match self.seal_sensitive(case_id, &pin, &events)? {
            Some((sealed, case_key)) => (sealed, Some(events), Some(case_key)),
            None => (events, None, None),
        };
        let envelope = Envelope {
            case_id,
            actor: principal,
            surface: &pin,
            idempotency_key: key,
            at: now,
            host_at,
        };
        let (sealed, outbox) =
            super::seal_with_outbox(&envelope, snapshot.version, &snapshot.last_digest, events)?;
        let receipt = Receipt::Applied {
            case: case_id.to_string(),
            events: sealed,
        };
        let record = match key {
            Some(key) => Some(IdempotencyRecord {
                key: key.to_string(),
                fingerprint: run.fingerprint.clone(),
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
        // What the case folds: the stored events, or (when intake was sealed) copies of them
        // carrying the plaintext.
        let folded: Cow<'_, [StoredEvent]> = match plain {
            None => Cow::Borrowed(receipt.events()),
            Some(plain) => {
                let mut folded = receipt.events().to_vec();
                for (event, payload) in folded.iter_mut().zip(plain) {
                    event.payload = payload;
                }
                Cow::Owned(folded)
            }
        };
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
            for event in folded.iter() {
                spine::apply(&mut after, &event.payload);
                let _ = operator::apply_profile(&mut profile, &event.payload);
            }
            index::row_for(case_id, &after, profile.as_ref(), surface, now)
        };
        drop(folded);
        Ok(Next::Append(Attempt {
            snapshot,
            unread,
            extended,
            erases,
            version,
            receipt,
            outbox,
            record,
            row,
            case_key,
        }))
    }

    /// What the store's `result` for `attempt` means: the receipt and the signals to publish
    /// (`Some`), or `None` to attempt again.
    fn settle(
        &self,
        run: &mut Run<'_>,
        attempt: Attempt,
        result: Result<Committed, StoreError>,
        stats: &mut Stats,
    ) -> Result<Option<(Receipt, Vec<StoredSignal>)>, EngineError> {
        let case_id = run.command.case.as_str();
        let key = run.key;
        match result {
            Ok(_) => {
                // After an erasure the cached plaintext goes too: the next read opens nothing.
                if attempt.extended && !attempt.erases {
                    self.cases.put(attempt.snapshot);
                }
                Ok(Some((attempt.receipt, attempt.outbox)))
            }
            Err(StoreError::Conflict { .. }) => {
                // The same command with the same key may be what beat us.
                if let Some(key) = key
                    && let Some(first) = stats.time(|| self.store.idempotency(key))?
                {
                    return replay_key(&first, &run.fingerprint).map(|r| Some((r, Vec::new())));
                }
                if attempt.unread {
                    // The cached case was behind the store: not a race, not a retry.
                    run.trust_cache = false;
                    run.attempts -= 1;
                    return Ok(None);
                }
                if run.attempts <= CONFLICT_RETRIES {
                    return Ok(None);
                }
                let attempts = run.attempts;
                Ok(Some((
                    Receipt::Rejected(
                        Rejection::new(
                            RejectionCode::Conflict,
                            format!("case `{case_id}` kept changing under the command ({attempts} attempts); send it again"),
                        )
                        .with_detail(json!({ "attempts": attempts })),
                    ),
                    Vec::new(),
                )))
            }
            Err(StoreError::KeyTaken { key }) => {
                // A concurrent command recorded the key first: answer as if it had been there
                // when we looked.
                match stats.time(|| self.store.idempotency(&key))? {
                    Some(first) => {
                        replay_key(&first, &run.fingerprint).map(|r| Some((r, Vec::new())))
                    }
                    None => {
                        Err(
                            StoreError::corrupt(key, "the key is taken but has no record", None)
                                .into(),
                        )
                    }
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Publish signals that were just committed, in order, marking each delivered; stop at the
    /// first failure (what is left stays pending for [`Engine::deliver_pending`]). The command
    /// is already committed, so failures here are not the caller's error.
    pub(super) async fn publish_new(&self, signals: &[StoredSignal], wait: Wait) {
        let delivered = self.publish(signals);
        if !delivered.is_empty() {
            // If marking fails the signals stay pending and are delivered again: at least once.
            let _ = wait.mark_delivered(&self.store, &delivered).await;
        }
    }

    /// Hand `signals` to the transport in order, stopping at the first failure: the ids of
    /// those it took.
    fn publish(&self, signals: &[StoredSignal]) -> Vec<String> {
        let mut delivered = Vec::new();
        for signal in signals {
            if self.transport.publish(signal).is_err() {
                break;
            }
            delivered.push(signal.id.clone());
        }
        delivered
    }
}

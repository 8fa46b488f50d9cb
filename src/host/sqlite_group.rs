//! [`GroupCommitSqliteStore`]: [`SqliteStore`] with group commit, for hosts that append from
//! several threads at once.
//!
//! With `synchronous = FULL` every commit waits for the disk (an fsync of the WAL), and
//! [`SqliteStore`] commits once per append, so appends from several threads take turns at the
//! disk. Here, appends that arrive while a commit is under way queue up; the next thread to
//! find no commit under way becomes the *leader*, takes every queued append (up to
//! [`MAX_GROUP`]), writes them all in one `BEGIN IMMEDIATE` transaction and commits once.
//!
//! Each caller still returns only after the commit that holds its append
//! (commit-before-acknowledge), and with its own result, exactly as [`SqliteStore`] would give
//! it: each append's checks (expected version, idempotency key) run before its writes, so an
//! append that is refused writes nothing and the rest of its group commits; should a write
//! fail after its checks passed (a backend error, a repeated outbox id), the transaction is
//! dropped and the group written again with each append in a savepoint of its own. Appends of
//! one group are written in arrival order, so a later append sees an earlier one's events, as
//! it would one commit later. If the group cannot commit, every caller in it gets the error;
//! so does every caller of a group whose leader panics (a bug): the transaction is rolled
//! back, the lead passes on, and nobody waits forever.
//!
//! Marking signals delivered ([`Store::mark_delivered`], which the engine calls after every
//! command that emits one) queues the same way and rides in the next group's transaction: it
//! returns after that commit, as it would after its own, without a commit (and an fsync) of
//! its own holding the write lock between two groups.
//!
//! A lone caller pays nothing for this: it finds no commit under way, leads a group of one and
//! commits at once. Under concurrency, the threads just acknowledged are still on their way
//! back when the next leader starts; so, like PostgreSQL's `commit_delay`/`commit_siblings`, a
//! leader whose previous group held several appends waits (at most [`DEFAULT_MAX_WAIT`], see
//! [`GroupCommitSqliteStore::with_max_wait`]) for as many to queue before it commits. That only
//! delays a commit, never an acknowledgement past its commit. Reads go straight to SQLite on
//! connections of their own (on a file), so they never wait behind a group's commit: a
//! command's reads (a case, an idempotency key) on one, the queries that return many rows (the
//! desk, the queue, lists, the feed, verification's scans) on another, so a command never waits
//! behind a query either.
//!
//! A caller on an async runtime awaits its commit instead ([`Store::append_async`],
//! [`Store::mark_delivered_async`]): its work queues the same way, but it never leads a group
//! (that would block the runtime's thread through a commit). A writer thread of the store's
//! own, started by the first such caller, leads whenever the next queued work is awaited; it
//! wakes each awaiting task once its group committed, so no thread is parked per caller.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::TransactionBehavior;

use crate::host::index::{
    CaseFilter, CaseIndex, DeskRows, FeedEntry, IndexRow, IndexState, ListCursor, OperatorIndex,
};
use crate::host::sqlite::{PreparedAppend, SqliteOptions, SqliteStore, mark_delivered_on};
use crate::host::store::{
    Append, Commit, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal,
    StreamHead,
};
use crate::spine::Millis;

/// Most appends one transaction takes; the rest wait for the next one.
pub const MAX_GROUP: usize = 256;

/// The longest a leader waits for a group to fill up (about one fsync on an ordinary SSD).
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_micros(200);

/// A [`SqliteStore`] whose appends from concurrent threads share commits. Open it like a
/// `SqliteStore`; it is a [`Store`] with the same behaviour, schema and file format.
#[derive(Debug)]
pub struct GroupCommitSqliteStore {
    shared: Arc<Shared>,
    /// The thread that leads groups for awaiting callers, started by the first of them.
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// What the callers and the writer thread share.
#[derive(Debug)]
struct Shared {
    store: SqliteStore,
    /// A second connection to the same file for a command's reads (a case, an idempotency
    /// key), so that they never wait behind a group's commit (WAL readers see only committed
    /// appends). `None` in memory.
    reader: Option<SqliteStore>,
    /// A third connection for the queries that return many rows (desk, queue, lists, feed,
    /// scans), so that a command's reads never wait behind one either. `None` in memory.
    queries: Option<SqliteStore>,
    queue: Mutex<Queue>,
    /// Signalled when an append queues while a leader is at work.
    arrived: Condvar,
    /// Signalled when it is the writer thread's turn to lead, or the store is closing.
    writer_turn: Condvar,
}

/// Appends waiting for a leader, whether a leader is at work, and how big the last group was.
#[derive(Debug)]
struct Queue {
    waiting: Vec<Arc<Pending>>,
    leading: bool,
    last_group: usize,
    /// While a leader waits: how many appends it already took, and how many it waits for.
    taken: usize,
    expected: usize,
    /// The longest a leader waits for its group to fill up.
    max_wait: Duration,
    /// The next group is the writer thread's to lead (its first work is awaited).
    writer_turn: bool,
    /// The store is being dropped: the writer thread stops once it has no turn left.
    closing: bool,
}

/// What one caller queued.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "each lives in its caller's `Arc<Pending>`, one allocation already; a box would add a second per append"
)]
enum Work {
    /// An append, serialized.
    Append(PreparedAppend<'static>),
    /// Outbox rows to mark delivered.
    MarkDelivered(Vec<String>),
    /// Panics when checked: a stand-in for a bug in a leader.
    #[cfg(test)]
    Panic,
}

impl Work {
    /// The checks, which write nothing (a mark has none).
    fn check(&self, tx: &rusqlite::Connection) -> Result<(), StoreError> {
        match self {
            Work::Append(append) => append.check(tx),
            Work::MarkDelivered(_) => Ok(()),
            #[cfg(test)]
            #[allow(clippy::panic, reason = "the test's stand-in for a bug")]
            Work::Panic => panic!("a bug in a group's leader"),
        }
    }

    /// The writes, once the checks passed: what the append committed, `None` for a mark.
    fn insert(&self, tx: &rusqlite::Connection) -> Result<Option<Committed>, StoreError> {
        match self {
            Work::Append(append) => append.insert(tx).map(Some),
            Work::MarkDelivered(ids) => mark_delivered_on(tx, ids).map(|()| None),
            #[cfg(test)]
            Work::Panic => Ok(None),
        }
    }

    /// Checks, then writes.
    fn write(&self, tx: &rusqlite::Connection) -> Result<Option<Committed>, StoreError> {
        self.check(tx)?;
        self.insert(tx)
    }
}

/// One caller's work, and what its caller is waiting for.
#[derive(Debug)]
struct Pending {
    work: Work,
    /// Awaited by a task ([`Awaited`]) rather than waited for by a thread: never handed the
    /// lead.
    awaited: bool,
    state: Mutex<State>,
    /// Signalled (for this caller alone) when the slot changes.
    ready: Condvar,
}

/// A caller's slot and, for an awaiting task, what wakes it.
#[derive(Debug)]
struct State {
    slot: Slot,
    waker: Option<Waker>,
}

/// What a queued caller is waiting for.
#[derive(Debug)]
enum Slot {
    /// Still queued.
    Waiting,
    /// The previous leader handed the lead to this caller: lead the next group.
    Lead,
    /// Its group committed (or failed): the result (`None` for a mark).
    Done(Result<Option<Committed>, StoreError>),
}

impl Pending {
    fn new(work: Work, awaited: bool) -> Arc<Self> {
        Arc::new(Pending {
            work,
            awaited,
            state: Mutex::new(State {
                slot: Slot::Waiting,
                waker: None,
            }),
            ready: Condvar::new(),
        })
    }

    /// Put `slot` and wake the caller: its task's waker when it awaits (no thread waits on
    /// `ready` then), else its thread.
    fn set(&self, slot: Slot) {
        let waker = {
            let mut state = lock(&self.state);
            state.slot = slot;
            state.waker.take()
        };
        if self.awaited {
            if let Some(waker) = waker {
                waker.wake();
            }
        } else {
            self.ready.notify_one();
        }
    }
}

/// The future of an awaited [`Pending`]: ready once its group committed or failed.
struct Awaited(Arc<Pending>);

impl Future for Awaited {
    type Output = Result<Option<Committed>, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.0.state);
        match std::mem::replace(&mut state.slot, Slot::Waiting) {
            Slot::Done(result) => Poll::Ready(result),
            // An awaited caller is never handed the lead; `Lead` cannot be here.
            waiting @ (Slot::Waiting | Slot::Lead) => {
                state.slot = waiting;
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; a poisoned lock still holds sound data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupCommitSqliteStore {
    /// Open (creating if needed) the database at `path` with the default options
    /// (`synchronous = FULL`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Open (creating if needed) the database at `path`.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let store = SqliteStore::open_with(path, options)?;
        let reader = SqliteStore::open_with(path, options)?;
        let queries = SqliteStore::open_with(path, options)?;
        Ok(Self::from_parts(store, Some(reader), Some(queries)))
    }

    /// Group the appends of an already open store, reading through two more connections to
    /// its file (opened with the default options) when it has one: one for a command's reads,
    /// one for the queries that return many rows.
    pub fn with_reader(store: SqliteStore) -> Result<Self, StoreError> {
        let (reader, queries) = match store.path() {
            Some(path) => (
                Some(SqliteStore::open(path)?),
                Some(SqliteStore::open(path)?),
            ),
            None => (None, None),
        };
        Ok(Self::from_parts(store, reader, queries))
    }

    /// A fresh database in memory (gone when the store is dropped).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Ok(Self::new(SqliteStore::open_in_memory()?))
    }

    /// Group the appends of an already open store; reads share its one connection (see
    /// [`GroupCommitSqliteStore::with_reader`]).
    pub fn new(store: SqliteStore) -> Self {
        Self::from_parts(store, None, None)
    }

    fn from_parts(
        store: SqliteStore,
        reader: Option<SqliteStore>,
        queries: Option<SqliteStore>,
    ) -> Self {
        GroupCommitSqliteStore {
            shared: Arc::new(Shared {
                store,
                reader,
                queries,
                queue: Mutex::new(Queue {
                    waiting: Vec::new(),
                    leading: false,
                    last_group: 0,
                    taken: 0,
                    expected: 0,
                    max_wait: DEFAULT_MAX_WAIT,
                    writer_turn: false,
                    closing: false,
                }),
                arrived: Condvar::new(),
                writer_turn: Condvar::new(),
            }),
            writer: Mutex::new(None),
        }
    }

    /// How long a leader may wait for its group to fill up to the size of the previous one
    /// (`Duration::ZERO`: never wait, commit whatever is queued).
    pub fn with_max_wait(self, max_wait: Duration) -> Self {
        lock(&self.shared.queue).max_wait = max_wait;
        self
    }

    /// The underlying store (the writing connection).
    pub fn inner(&self) -> &SqliteStore {
        &self.shared.store
    }

    fn reads(&self) -> &SqliteStore {
        self.shared.reads()
    }

    /// Where the queries that return many rows go: their own connection, else the reads'.
    fn queries(&self) -> &SqliteStore {
        self.shared.queries.as_ref().unwrap_or_else(|| self.reads())
    }

    /// Queue `work` for an awaiting caller: the writer thread (started here if need be) leads
    /// its group when no caller thread does.
    fn submit_awaited(&self, work: Work) -> Awaited {
        let mine = Pending::new(work, true);
        if let Err(err) = self.start_writer() {
            mine.set(Slot::Done(Err(err)));
            return Awaited(mine);
        }
        self.shared.enqueue(&mine);
        Awaited(mine)
    }

    /// Start the writer thread unless it runs.
    fn start_writer(&self) -> Result<(), StoreError> {
        let mut writer = lock(&self.writer);
        if writer.is_none() {
            let shared = Arc::clone(&self.shared);
            let handle = std::thread::Builder::new()
                .name("planck-group-writer".to_string())
                .spawn(move || shared.write_for_awaiting())
                .map_err(|e| StoreError::backend("starting the group commit's writer thread", e))?;
            *writer = Some(handle);
        }
        Ok(())
    }
}

impl Drop for GroupCommitSqliteStore {
    /// Stop the writer thread once it has led every group still queued for it: nothing that
    /// was queued is dropped unwritten.
    fn drop(&mut self) {
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle {
            lock(&self.shared.queue).closing = true;
            self.shared.writer_turn.notify_one();
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn reads(&self) -> &SqliteStore {
        self.reader.as_ref().unwrap_or(&self.store)
    }

    /// The writer thread: lead every group whose first work is awaited, until the store
    /// closes with no such group left.
    fn write_for_awaiting(&self) {
        loop {
            {
                let mut queue = lock(&self.queue);
                while !queue.writer_turn {
                    if queue.closing {
                        return;
                    }
                    queue = self
                        .writer_turn
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                queue.writer_turn = false;
            }
            self.lead();
        }
    }

    /// Queue `mine`. The leader at work is woken once as many as it waits for have queued;
    /// with no leader at work, `mine`'s caller leads the next group.
    fn enqueue(&self, mine: &Arc<Pending>) {
        let mut queue = lock(&self.queue);
        queue.waiting.push(Arc::clone(mine));
        if queue.leading {
            if queue.taken + queue.waiting.len() >= queue.expected {
                self.arrived.notify_one();
            }
        } else {
            queue.leading = true;
            self.give_lead(&mut queue, mine);
        }
    }

    /// Hand the next group's lead to `next`'s caller: its thread, or the writer thread when
    /// the caller awaits (a task never leads).
    fn give_lead(&self, queue: &mut Queue, next: &Pending) {
        if next.awaited {
            queue.writer_turn = true;
            self.writer_turn.notify_one();
        } else {
            next.set(Slot::Lead);
        }
    }

    /// Queue `work`, lead a group when it is this caller's turn, and return once the group
    /// that holds `work` committed (or failed).
    fn submit(&self, work: Work) -> Result<Option<Committed>, StoreError> {
        let mine = Pending::new(work, false);
        self.enqueue(&mine);
        loop {
            let mut state = lock(&mine.state);
            while matches!(state.slot, Slot::Waiting) {
                state = mine
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            match std::mem::replace(&mut state.slot, Slot::Waiting) {
                Slot::Done(result) => return result,
                // Lead: ours is still queued, so the group we lead holds it.
                Slot::Lead | Slot::Waiting => {
                    drop(state);
                    self.lead();
                }
            }
        }
    }

    /// Lead one group: open a transaction, write each queued append in its own savepoint as it
    /// is taken from the queue (so appends still on their way are written while others arrive),
    /// stop when the queue is empty and the group is as big as the last one (or the wait is
    /// over), commit once, and hand every caller of the group its result.
    fn lead(&self) {
        let mut group: Vec<Arc<Pending>> = Vec::new();
        let mut results: Vec<Result<Option<Committed>, StoreError>> = Vec::new();
        // A panic while writing (a bug) drops the transaction, so nothing of the group is
        // committed; it must not leave the group's callers waiting forever, nor the queue
        // without a leader: it fails this group like an error, and the lead passes on.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.write_group(&mut group, &mut results)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(
                "a group commit's leader panicked; its group was rolled back and failed"
            );
            Err(StoreError::backend(
                "committing a group of appends",
                "the group's leader panicked; the group was rolled back",
            ))
        });
        // The erased key's bytes leave the WAL before the erasure is acknowledged.
        let erased = group
            .iter()
            .any(|p| matches!(&p.work, Work::Append(a) if a.erase_case_key));
        if erased && outcome.is_ok() {
            crate::host::sqlite::checkpoint_after_erasure(&self.store.conn());
        }
        // Hand the lead to the first caller still queued (the writer thread when that caller
        // awaits), or give it up, before waking this group's callers, so the next group is
        // written while they wake.
        {
            let mut queue = lock(&self.queue);
            queue.last_group = group.len();
            match queue.waiting.first().map(Arc::clone) {
                Some(next) => self.give_lead(&mut queue, &next),
                None => queue.leading = false,
            }
        }
        // Nothing is acknowledged unless the group committed.
        let failure = outcome.err().map(|e| e.to_string());
        let mut results = results.into_iter();
        for pending in &group {
            let result = match (&failure, results.next()) {
                (None, Some(result)) => result,
                (Some(message), _) => Err(StoreError::backend(
                    "committing a group of appends",
                    message.clone(),
                )),
                (None, None) => Err(StoreError::backend(
                    "committing a group of appends",
                    "the append was not written",
                )),
            };
            pending.set(Slot::Done(result));
        }
    }

    fn write_group(
        &self,
        group: &mut Vec<Arc<Pending>>,
        results: &mut Vec<Result<Option<Committed>, StoreError>>,
    ) -> Result<(), StoreError> {
        let backend = |what: &'static str| move |e: rusqlite::Error| StoreError::backend(what, e);
        let mut conn = self.store.conn();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                // Every caller queued now gets the failure (as each would from `SqliteStore`),
                // the leader's own included, so nobody waits on a database that refuses.
                let mut queue = lock(&self.queue);
                let take = queue.waiting.len().min(MAX_GROUP);
                group.extend(queue.waiting.drain(..take));
                return Err(backend("beginning a group of appends")(e));
            }
        };
        let deadline = Instant::now() + lock(&self.queue).max_wait;
        // Checks first, then writes, with no savepoint: an append whose checks fail wrote
        // nothing. Only a write failing after its checks passed (a backend error, a repeated
        // outbox id) leaves rows behind; then the whole transaction is dropped and the group
        // written again, each append in a savepoint of its own.
        let mut clean = true;
        loop {
            let batch: Vec<Arc<Pending>> = {
                let mut queue = lock(&self.queue);
                // As many as last time: give the callers just acknowledged a moment to queue
                // (they wake the leader once, when the last of them arrives).
                let expected = queue.last_group.min(MAX_GROUP);
                queue.taken = group.len();
                queue.expected = expected;
                while queue.waiting.is_empty() && group.len() < expected {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    queue = self
                        .arrived
                        .wait_timeout(queue, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                let take = queue.waiting.len().min(MAX_GROUP - group.len());
                queue.taken = group.len() + take;
                queue.waiting.drain(..take).collect()
            };
            if batch.is_empty() {
                break;
            }
            // Into the group first: whatever happens next, every caller taken gets a result.
            let first = group.len();
            group.extend(batch);
            for pending in group.iter().skip(first) {
                let result = match pending.work.check(&tx) {
                    Ok(()) => match pending.work.insert(&tx) {
                        Ok(committed) => Ok(committed),
                        Err(_) => {
                            clean = false;
                            break;
                        }
                    },
                    Err(refused) => Err(refused),
                };
                results.push(result);
            }
            if !clean || group.len() >= MAX_GROUP {
                break;
            }
        }
        if clean {
            return tx
                .commit()
                .map_err(backend("committing a group of appends"));
        }
        drop(tx);
        results.clear();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("beginning a group of appends"))?;
        let run = |sql: &str| {
            tx.prepare_cached(sql)
                .and_then(|mut s| s.execute([]))
                .map(|_| ())
        };
        for pending in group.iter() {
            run("SAVEPOINT planck_append").map_err(backend("opening an append's savepoint"))?;
            let result = pending.work.write(&tx);
            match &result {
                // Keep the append: fold its savepoint into the transaction.
                Ok(_) => run("RELEASE planck_append"),
                // Undo this append alone; the group's others stay.
                Err(_) => {
                    run("ROLLBACK TO planck_append").and_then(|()| run("RELEASE planck_append"))
                }
            }
            .map_err(backend("closing an append's savepoint"))?;
            results.push(result);
        }
        tx.commit()
            .map_err(backend("committing a group of appends"))
    }
}

/// An append's group committed without a result for it (a bug, reported as an error).
fn no_result() -> StoreError {
    StoreError::backend("committing a group of appends", "no result for the append")
}

impl Store for GroupCommitSqliteStore {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.reads().load(case)
    }

    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        self.reads().load_after(case, after)
    }

    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
        // Serialize (and copy) before queueing: the leader may be another thread.
        let append = PreparedAppend::new(append)?.into_owned();
        self.shared
            .submit(Work::Append(append))?
            .ok_or_else(no_result)
    }

    fn append_async(&self, append: &Append<'_>) -> Option<Commit<Committed>> {
        let append = match PreparedAppend::new(append) {
            Ok(append) => append.into_owned(),
            Err(err) => return Some(Box::pin(std::future::ready(Err(err)))),
        };
        let awaited = self.submit_awaited(Work::Append(append));
        Some(Box::pin(
            async move { awaited.await?.ok_or_else(no_result) },
        ))
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.reads().idempotency(key)
    }

    fn cases(&self) -> Result<Vec<String>, StoreError> {
        self.queries().cases()
    }

    fn pending_signals(&self, limit: usize) -> Result<Vec<StoredSignal>, StoreError> {
        self.queries().pending_signals(limit)
    }

    fn mark_delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.shared
            .submit(Work::MarkDelivered(ids.to_vec()))
            .map(|_| ())
    }

    fn mark_delivered_async(&self, ids: &[String]) -> Option<Commit<()>> {
        if ids.is_empty() {
            return Some(Box::pin(std::future::ready(Ok(()))));
        }
        let awaited = self.submit_awaited(Work::MarkDelivered(ids.to_vec()));
        Some(Box::pin(async move { awaited.await.map(|_| ()) }))
    }

    fn desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError> {
        self.queries().desk(operator, limit)
    }

    fn queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        self.queries().queue(limit)
    }

    fn list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError> {
        self.queries().list(filter, after, limit)
    }

    fn due(&self, now: Millis, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        self.queries().due(now, limit)
    }

    fn operators(&self) -> Result<Vec<OperatorIndex>, StoreError> {
        self.queries().operators()
    }

    fn index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError> {
        self.queries().index_row(stream)
    }

    fn index_state(&self) -> Result<IndexState, StoreError> {
        self.queries().index_state()
    }

    fn begin_reindex(&self) -> Result<(), StoreError> {
        self.inner().begin_reindex()
    }

    fn reindex(
        &self,
        stream: &str,
        version: u64,
        row: Option<&IndexRow>,
    ) -> Result<bool, StoreError> {
        self.inner().reindex(stream, version, row)
    }

    fn finish_reindex(&self) -> Result<(), StoreError> {
        self.inner().finish_reindex()
    }

    fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        self.queries().feed(after, limit)
    }

    fn heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        self.queries().heads()
    }

    fn outbox_of(&self, stream: &str) -> Result<Vec<StoredSignal>, StoreError> {
        self.queries().outbox_of(stream)
    }

    fn idempotency_of(&self, stream: &str) -> Result<Vec<IdempotencyRecord>, StoreError> {
        self.queries().idempotency_of(stream)
    }

    fn referenced_streams(&self) -> Result<Vec<String>, StoreError> {
        self.queries().referenced_streams()
    }

    fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // From the writer: a reader may not yet see a key the last append wrote.
        self.inner().case_key(stream)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::host::conformance;

    /// Run `work` on a current-thread runtime; more than 30 s is a hang, and fails as `what`.
    fn within_30s<F: Future>(what: &str, work: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        // The timer is made inside the runtime, whose clock it reads.
        runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(30), work).await })
            .unwrap_or_else(|_| panic!("{what}: still waiting after 30 s"))
    }

    #[test]
    fn conforms_in_memory_and_on_a_file() {
        if let Err(failures) =
            conformance::run_all(|| GroupCommitSqliteStore::open_in_memory().unwrap())
        {
            panic!("group commit (in memory) fails the conformance suite:\n{failures}");
        }
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        let fresh = || {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            GroupCommitSqliteStore::open(dir.path().join(format!("g{i}.db"))).unwrap()
        };
        if let Err(failures) = conformance::run_all(fresh) {
            panic!("group commit (file) fails the conformance suite:\n{failures}");
        }
    }

    /// A command's reads and appends go on while a query that returns many rows holds its
    /// connection (as a long desk or feed page would); the queries wait for that connection
    /// alone.
    #[test]
    fn a_commands_reads_never_wait_behind_a_query() {
        let dir = tempfile::tempdir().unwrap();
        let store = GroupCommitSqliteStore::open(dir.path().join("reads.db")).unwrap();
        let events = conformance::fixture_tail("c", 0, 1).unwrap();
        store.append(&Append::new("c", 0, &events)).unwrap();
        let store = &store;
        let (sent, got) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            // A query under way: its connection is taken.
            let held = store.queries().conn();
            let to_test = sent.clone();
            scope.spawn(move || {
                let loaded = store.load("c").unwrap().len();
                let newer = store.load_after("c", 0).unwrap().len();
                let key = store.idempotency("no-such-key").unwrap();
                let more = conformance::fixture_tail("c", 1, 1).unwrap();
                store.append(&Append::new("c", 1, &more)).unwrap();
                to_test
                    .send(("command", loaded + newer, key.is_none()))
                    .unwrap();
            });
            let command = got
                .recv_timeout(Duration::from_secs(30))
                .expect("a command's reads waited behind a query");
            assert_eq!(command, ("command", 2, true));
            // A query waits for the query connection, and runs once it is free.
            scope.spawn(move || {
                let feed = store.feed(0, 10).unwrap().len();
                sent.send(("query", feed, true)).unwrap();
            });
            assert!(
                got.recv_timeout(Duration::from_millis(100)).is_err(),
                "the feed did not go to the query connection"
            );
            drop(held);
            let query = got
                .recv_timeout(Duration::from_secs(30))
                .expect("the feed never ran");
            assert_eq!(query, ("query", 2, true));
        });
    }

    /// A database that refuses the write lock fails the append, as `SqliteStore` would; the
    /// store keeps working once the lock is free.
    #[test]
    fn a_locked_database_fails_the_append_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let options = SqliteOptions {
            busy_timeout: std::time::Duration::from_millis(20),
            ..SqliteOptions::default()
        };
        let store = GroupCommitSqliteStore::open_with(&path, options).unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let events = conformance::fixture_tail("c", 0, 1).unwrap();
        assert!(matches!(
            store.append(&Append::new("c", 0, &events)),
            Err(StoreError::Backend { .. })
        ));
        other.execute_batch("ROLLBACK").unwrap();
        store.append(&Append::new("c", 0, &events)).unwrap();
        assert_eq!(store.load("c").unwrap().len(), 1);
    }

    /// Threads append events that emit signals and mark their signals delivered while others
    /// append: every mark lands in a group's commit, returns only after it, and is on the file
    /// when the store is opened again; no signal is left pending or marked twice over.
    #[test]
    fn marks_ride_in_groups_and_are_durable_when_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("marks.db");
        const THREADS: usize = 8;
        const ROUNDS: u64 = 12;
        {
            let store = GroupCommitSqliteStore::open(&path).unwrap();
            std::thread::scope(|scope| {
                for t in 0..THREADS {
                    let store = &store;
                    scope.spawn(move || {
                        let case = format!("case-{t}");
                        for round in 0..ROUNDS {
                            let events = conformance::fixture_tail(&case, round, 1).unwrap();
                            let signal =
                                conformance::fixture_signal(&events[0], "record", round as usize);
                            store
                                .append(
                                    &Append::new(&case, round, &events)
                                        .with_outbox(std::slice::from_ref(&signal)),
                                )
                                .unwrap();
                            store
                                .mark_delivered(std::slice::from_ref(&signal.id))
                                .unwrap();
                            let pending = store.pending_signals(1000).unwrap();
                            assert!(
                                pending.iter().all(|p| p.id != signal.id),
                                "{} is still pending after mark_delivered returned",
                                signal.id
                            );
                        }
                    });
                }
            });
            store.mark_delivered(&[]).unwrap();
        }
        let reopened = GroupCommitSqliteStore::open(&path).unwrap();
        assert!(reopened.pending_signals(1000).unwrap().is_empty());
        let signals: usize = (0..THREADS)
            .map(|t| reopened.outbox_of(&format!("case-{t}")).unwrap().len())
            .sum();
        assert_eq!(signals as u64, THREADS as u64 * ROUNDS);
    }

    /// Threads that wait and tasks that await append at once, each to its own cases: leading
    /// passes between caller threads and the writer thread, every append gets its own result,
    /// and every acknowledged event is on the file when it is opened again.
    #[test]
    fn awaiting_tasks_and_waiting_threads_share_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.db");
        const THREADS: usize = 4;
        const TASKS: usize = 16;
        const ROUNDS: u64 = 10;
        {
            let store = Arc::new(GroupCommitSqliteStore::open(&path).unwrap());
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            std::thread::scope(|scope| {
                for t in 0..THREADS {
                    let store = &store;
                    scope.spawn(move || {
                        let case = format!("thread-{t}");
                        for round in 0..ROUNDS {
                            let events = conformance::fixture_tail(&case, round, 1).unwrap();
                            store.append(&Append::new(&case, round, &events)).unwrap();
                        }
                    });
                }
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|t| {
                            let store = Arc::clone(&store);
                            tokio::spawn(async move {
                                let case = format!("task-{t}");
                                for round in 0..ROUNDS {
                                    let events =
                                        conformance::fixture_tail(&case, round, 1).unwrap();
                                    let commit = store
                                        .append_async(&Append::new(&case, round, &events))
                                        .unwrap();
                                    commit.await.unwrap();
                                }
                                // A stale version is refused, and only this append.
                                let events = conformance::fixture_tail(&case, 0, 1).unwrap();
                                let stale =
                                    store.append_async(&Append::new(&case, 0, &events)).unwrap();
                                assert!(matches!(stale.await, Err(StoreError::Conflict { .. })));
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
            });
        }
        let reopened = GroupCommitSqliteStore::open(&path).unwrap();
        for case in (0..THREADS)
            .map(|t| format!("thread-{t}"))
            .chain((0..TASKS).map(|t| format!("task-{t}")))
        {
            let events = reopened.load(&case).unwrap();
            assert_eq!(events.len() as u64, ROUNDS, "{case}");
            assert!(events.iter().zip(1..).all(|(e, seq)| e.seq == seq));
        }
    }

    /// A leader that panics (here, on purpose) fails its group with an error, rolled back,
    /// and the store goes on: a caller thread that led it, an awaiting task whose group the
    /// writer thread led, and every caller after them.
    #[test]
    fn a_panicking_leader_fails_its_group_and_the_store_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = GroupCommitSqliteStore::open(dir.path().join("panic.db")).unwrap();
        assert!(matches!(
            store.shared.submit(Work::Panic),
            Err(StoreError::Backend { .. })
        ));
        let events = conformance::fixture_tail("c", 0, 1).unwrap();
        store.append(&Append::new("c", 0, &events)).unwrap();
        within_30s("the writer thread survives a panicking group", async {
            let failed = store.submit_awaited(Work::Panic).await;
            assert!(matches!(failed, Err(StoreError::Backend { .. })));
            let events = conformance::fixture_tail("c", 1, 1).unwrap();
            let commit = store.append_async(&Append::new("c", 1, &events)).unwrap();
            commit.await.unwrap();
        });
        assert_eq!(store.load("c").unwrap().len(), 2);
    }

    /// Work queued for the writer thread is written before the store is dropped: the futures
    /// of a store dropped right after queueing still resolve with their commits.
    #[test]
    fn dropping_the_store_writes_what_awaiting_callers_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drop.db");
        const CASES: usize = 32;
        let events: Vec<_> = (0..CASES)
            .map(|i| conformance::fixture_tail(&format!("c-{i}"), 0, 1).unwrap())
            .collect();
        let store = GroupCommitSqliteStore::open(&path).unwrap();
        let commits: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                store
                    .append_async(&Append::new(&format!("c-{i}"), 0, e))
                    .unwrap()
            })
            .collect();
        let marked = store
            .mark_delivered_async(&["nothing-pending".to_string()])
            .unwrap();
        drop(store);
        within_30s("every queued append resolves after the drop", async {
            for commit in commits {
                commit.await.unwrap();
            }
            marked.await.unwrap();
        });
        let reopened = GroupCommitSqliteStore::open(&path).unwrap();
        for i in 0..CASES {
            assert_eq!(reopened.load(&format!("c-{i}")).unwrap().len(), 1);
        }
    }

    /// Many threads append to their own cases and race on a shared one: every append to an
    /// own case lands, exactly one of each round of racing appends wins, the losers get a
    /// conflict, and every acknowledged event is there once the callers return.
    #[test]
    fn concurrent_appends_share_commits_and_keep_their_own_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = GroupCommitSqliteStore::open(dir.path().join("group.db")).unwrap();
        const THREADS: usize = 8;
        const ROUNDS: u64 = 20;
        let barrier = Barrier::new(THREADS);
        let wins = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (store, barrier, wins) = (&store, &barrier, &wins);
                scope.spawn(move || {
                    let own = format!("own-{t}");
                    for round in 0..ROUNDS {
                        let events = conformance::fixture_tail(&own, round, 1).unwrap();
                        store.append(&Append::new(&own, round, &events)).unwrap();
                        assert_eq!(store.load(&own).unwrap().len() as u64, round + 1);
                        barrier.wait();
                        // Everyone races for the next event of the shared case.
                        let version = store.load("shared").unwrap().len() as u64;
                        let events = conformance::fixture_tail("shared", version, 1).unwrap();
                        match store.append(&Append::new("shared", version, &events)) {
                            Ok(_) => {
                                wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(StoreError::Conflict { .. }) => {}
                            Err(other) => panic!("unexpected: {other}"),
                        }
                        barrier.wait();
                    }
                });
            }
        });
        let shared = store.load("shared").unwrap();
        assert_eq!(
            shared.len() as u64,
            wins.load(std::sync::atomic::Ordering::SeqCst)
        );
        assert!(
            shared.len() as u64 >= ROUNDS,
            "at least one append wins each round"
        );
        for (i, e) in shared.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
        }
        for t in 0..THREADS {
            assert_eq!(
                store.load(&format!("own-{t}")).unwrap().len() as u64,
                ROUNDS
            );
        }
    }
}

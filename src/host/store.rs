//! Storage: the [`Store`] trait a host implements for its own database, and what it stores.
//!
//! A store keeps, per case, an append-only list of [`StoredEvent`]s; a table of idempotency
//! records; and an outbox of [`StoredSignal`]s. Everything the engine writes for one command
//! goes in one [`Store::append`] call, which must be atomic: the expected-version check, the
//! events, the idempotency record and the outbox rows all commit together or not at all.
//!
//! A store never interprets events, never decides anything and never delivers signals: it
//! keeps bytes in order and answers questions about them. [`crate::host::conformance`] holds
//! the tests every store must pass.

use serde::{Deserialize, Serialize};

pub use crate::audit::checkpoint::StreamHead;
pub use crate::audit::{StoredEvent, StoredSignal};
use crate::host::index::{
    CaseFilter, CaseIndex, DeskRows, FeedEntry, IndexRow, IndexState, ListCursor, OperatorIndex,
};
use crate::spine::Millis;

/// A boxed error from a store's backend (a database driver, an I/O error).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The outcome of the first command sent with an idempotency key, kept so that a repeat of the
/// same command returns it instead of running again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key, unique across the store.
    pub key: String,
    /// SHA-256 (hex) over the canonical JSON of the command and the principal that sent it.
    /// The same key with a different fingerprint is a different command.
    pub fingerprint: String,
    /// The case the command addressed.
    pub case_id: String,
    /// The first outcome, serialized by the engine (JSON). Opaque to the store.
    pub outcome: String,
    /// When the first outcome was recorded.
    pub recorded_at: Millis,
}

/// Why a store operation failed. Backend failures keep their cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The case is not at the expected version: someone else appended first. Nothing was written.
    #[error("case `{case}` is not at version {expected}{}", actual.map(|a| format!(" (it is at {a})")).unwrap_or_default())]
    Conflict {
        /// The case.
        case: String,
        /// The version the caller expected (the number of events it had seen).
        expected: u64,
        /// The version found, when the store knows it.
        actual: Option<u64>,
    },
    /// The idempotency key is already recorded (by a concurrent command). Nothing was written.
    #[error("idempotency key `{key}` is already recorded")]
    KeyTaken {
        /// The key.
        key: String,
    },
    /// The append itself is malformed (events of another case, sequence numbers that do not
    /// continue the case). Nothing was written; this is a bug in the caller.
    #[error("invalid append to case `{case}`: {message}")]
    Invalid {
        /// The case.
        case: String,
        /// What is wrong.
        message: String,
    },
    /// Stored data could not be read back (a row that does not decode).
    #[error("stored data for `{what}` is unreadable: {message}")]
    Corrupt {
        /// What could not be read (a case id, an idempotency key, a signal id).
        what: String,
        /// What is wrong.
        message: String,
        /// The decoding error.
        #[source]
        source: Option<BoxError>,
    },
    /// The index cannot answer: it was never built for some of the stored events (a database
    /// from before the index) or a rebuild did not finish. Rebuild it with
    /// `Engine::rebuild_index` (`planck reindex --db PATH --surfaces DIR`).
    #[error(
        "the index needs a rebuild: run `planck reindex` (Engine::rebuild_index) with the surfaces"
    )]
    IndexNotReady,
    /// The backend failed (I/O, a locked database, a lost connection).
    #[error("the store failed: {message}")]
    Backend {
        /// What the store was doing.
        message: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// A backend failure while doing `message`.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: source.into(),
        }
    }

    /// Unreadable data for `what`.
    pub fn corrupt(
        what: impl Into<String>,
        message: impl Into<String>,
        source: Option<BoxError>,
    ) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            message: message.into(),
            source,
        }
    }

    /// Whether this is a [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

/// Everything one command writes, for one atomic [`Store::append`]: the events of one stream
/// at an expected version, and the parts that commit with them. Each part is borrowed, so
/// building one copies nothing.
///
/// Build it with [`Append::new`] and the `with_*` methods; a store reads the fields. New parts
/// are added as new fields (with a default in [`Append::new`]), never as new parameters, so
/// code that builds appends keeps compiling.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Append<'a> {
    /// The stream (a case id, or another stream such as an operator's) the events belong to.
    pub stream: &'a str,
    /// How many events the stream must hold for the append to apply.
    pub expected_version: u64,
    /// The events, numbered `expected_version + 1, …`.
    pub events: &'a [StoredEvent],
    /// The idempotency record to write with the events, if the command carried a key.
    pub idempotency: Option<&'a IdempotencyRecord>,
    /// Signals to add to the outbox as pending.
    pub outbox: &'a [StoredSignal],
    /// The stream's index row as the events leave it (replacing the row it had), when the
    /// writer computed one; `None` leaves the stream's row as it is.
    pub index: Option<&'a IndexRow>,
    /// The stream's key for sealed personal data ([`crate::audit::sealed`]), written with the
    /// events, outside the hash chain (a stream has at most one).
    pub case_key: Option<&'a [u8]>,
    /// Destroy the stream's key for sealed personal data with the events (an erasure): its
    /// sealed fields read `"<erased>"` from then on.
    pub erase_case_key: bool,
}

impl<'a> Append<'a> {
    /// Append `events` to `stream`, which must hold `expected_version` events; no idempotency
    /// record, no signals.
    pub fn new(stream: &'a str, expected_version: u64, events: &'a [StoredEvent]) -> Self {
        Append {
            stream,
            expected_version,
            events,
            idempotency: None,
            outbox: &[],
            index: None,
            case_key: None,
            erase_case_key: false,
        }
    }

    /// Write `key` as the stream's key for sealed personal data (when `Some`).
    pub fn with_case_key(mut self, key: Option<&'a [u8]>) -> Self {
        self.case_key = key;
        self
    }

    /// Destroy the stream's key for sealed personal data with the events.
    pub fn erasing_case_key(mut self) -> Self {
        self.erase_case_key = true;
        self
    }

    /// Record `idempotency` (when `Some`) with the events.
    pub fn with_idempotency(
        mut self,
        idempotency: impl Into<Option<&'a IdempotencyRecord>>,
    ) -> Self {
        self.idempotency = idempotency.into();
        self
    }

    /// Add `outbox` to the outbox with the events.
    pub fn with_outbox(mut self, outbox: &'a [StoredSignal]) -> Self {
        self.outbox = outbox;
        self
    }

    /// Write `index` as the stream's index row with the events (when `Some`).
    pub fn with_index(mut self, index: impl Into<Option<&'a IndexRow>>) -> Self {
        self.index = index.into();
        self
    }

    /// The stream's version once the append commits.
    pub fn new_version(&self) -> u64 {
        self.expected_version
            .saturating_add(self.events.len() as u64)
    }
}

/// What a store assigned to an append that committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Committed {
    /// The global positions of the appended events, in order (`start` is the first event's):
    /// `None` when the store numbers events only after they commit, or when nothing was
    /// appended.
    pub positions: Option<std::ops::Range<u64>>,
}

impl Committed {
    /// An append whose events have no position yet (or that appended none).
    pub fn unnumbered() -> Self {
        Committed::default()
    }

    /// An append whose `count` events got the positions `first, first + 1, …`.
    pub fn numbered(first: u64, count: usize) -> Self {
        Committed {
            positions: Some(first..first.saturating_add(count as u64)),
        }
    }
}

/// A commit awaited rather than waited for on a thread ([`Store::append_async`]): resolves
/// once the store's commit holding the work is durable, with the work's result.
pub type Commit<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send>>;

/// Where a host keeps cases. Implement it for your database; run
/// [`crate::host::conformance::run_all`] against it.
///
/// Every method takes `&self` and may be called from several threads and from several
/// processes sharing one database: the expected-version check in [`Store::append`] is what
/// keeps them consistent.
pub trait Store: Send + Sync {
    /// Every stored event of `case`, in sequence order (empty for an unknown case).
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// The stored events of `case` after the first `after` (sequence numbers `after + 1`, …),
    /// in order: what a caller already holding the first `after` has not seen. The engine
    /// calls it before every decision on a case it has folded before. The default loads the
    /// whole case and drops the first `after`; a store overrides it to read only the tail.
    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = self.load(case)?;
        let skip = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(events.len());
        events.drain(..skip);
        Ok(events)
    }

    /// Atomically append `append.events` to the stream `append.stream`, record
    /// `append.idempotency` (when given) and add the `append.outbox` signals as pending, if and
    /// only if the stream currently holds exactly `append.expected_version` events. Otherwise
    /// fail with [`StoreError::Conflict`] and write nothing. When the idempotency key is
    /// already recorded, fail with [`StoreError::KeyTaken`] and write nothing. The events carry
    /// sequence numbers `expected_version + 1, expected_version + 2, …` (see [`check_append`]).
    /// Returns what the store assigned ([`Committed`]).
    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError>;

    /// [`Store::append`] for a caller that awaits the commit instead of blocking its thread:
    /// the append is checked and queued before this returns, and the future resolves with
    /// what `append` would have returned once the commit that holds it is durable. Dropping
    /// the future does not withdraw the append.
    ///
    /// `None` (the default) when this store has no such path: the caller then calls
    /// [`Store::append`] on a thread that may block. A store that commits on a thread of its
    /// own ([`crate::host::GroupCommitSqliteStore`]) returns `Some`.
    fn append_async(&self, append: &Append<'_>) -> Option<Commit<Committed>> {
        let _ = append;
        None
    }

    /// The record for an idempotency key, if one was written.
    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Every case id that holds at least one event, in the order the cases were created.
    fn cases(&self) -> Result<Vec<String>, StoreError>;

    /// Up to `limit` signals not yet marked delivered, oldest first (in append order).
    fn pending_signals(&self, limit: usize) -> Result<Vec<StoredSignal>, StoreError>;

    /// Mark signals delivered so they are not offered again. Unknown ids are ignored; marking
    /// twice is harmless.
    fn mark_delivered(&self, ids: &[String]) -> Result<(), StoreError>;

    /// [`Store::mark_delivered`] awaited instead of blocking, as [`Store::append_async`] is;
    /// `None` (the default) when this store has no such path.
    fn mark_delivered_async(&self, ids: &[String]) -> Option<Commit<()>> {
        let _ = ids;
        None
    }

    // -----------------------------------------------------------------------------------------
    // The index (docs/queries.md): rows written by `append`, read by these queries. Every query
    // fails with [`StoreError::IndexNotReady`] while [`Store::index_state`] is not `Ready`.

    /// `operator`'s desk: at most `limit` rows per column. Queued: `job` is `queued` and the
    /// operator is the assignee or `claim_open` holds, oldest case first (creation order).
    /// Active: `job` is `claimed` and the operator is the owner, oldest case first. Completed:
    /// `job` is `completed`, the operator is the owner and `completed_visible` holds, newest
    /// case first.
    fn desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError>;

    /// The governance queue: at most `limit` cases whose row has a `queue` need, oldest case
    /// first (creation order).
    fn queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError>;

    /// At most `limit` cases matching `filter`, newest `last_activity` first (among equal
    /// times, the greater case id first), strictly after `after` in that order when given.
    fn list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError>;

    /// At most `limit` cases whose `next_due_at` is at or before `now`, earliest first (ties by
    /// case id).
    fn due(&self, now: Millis, limit: usize) -> Result<Vec<CaseIndex>, StoreError>;

    /// Every operator's row, by operator id.
    fn operators(&self) -> Result<Vec<OperatorIndex>, StoreError>;

    /// The index row of `stream`, if it has one. Answers whatever the index state (`verify`
    /// reads rows of an index that is not ready, to say what is wrong with them).
    fn index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError>;

    /// Whether the index can answer queries.
    fn index_state(&self) -> Result<IndexState, StoreError>;

    /// Start rebuilding the index: the state becomes [`IndexState::NeedsRebuild`] (queries fail
    /// until [`Store::finish_reindex`]) and stays so should the rebuild not finish. Appends
    /// keep writing their rows meanwhile.
    fn begin_reindex(&self) -> Result<(), StoreError>;

    /// During a rebuild: make `row` the index row of `stream` (`None`: remove its row) if the
    /// stream holds exactly `version` events, atomically with that check. Returns `false`,
    /// writing nothing, when the stream moved on (the append that moved it wrote a newer row).
    fn reindex(
        &self,
        stream: &str,
        version: u64,
        row: Option<&IndexRow>,
    ) -> Result<bool, StoreError>;

    /// End a rebuild: the state becomes [`IndexState::Ready`].
    fn finish_reindex(&self) -> Result<(), StoreError>;

    // -----------------------------------------------------------------------------------------
    // The global feed.

    /// At most `limit` events with a global position greater than `after`, in position order.
    /// Positions are 1, 2, 3, … without holes, in commit order: once a reader has seen
    /// position `p`, no event committed later ever gets a position at or below `p`. A store
    /// may number events only some time after they commit (PostgreSQL does: see its docs);
    /// an event without a position yet is not in the feed.
    fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError>;

    // Reads for verification and checkpoints (`planck verify`, [`crate::audit::checkpoint`]).

    /// The head of every stream that holds at least one event, in any order: its id, its
    /// version (the highest sequence number stored) and the digest of that event. Read from
    /// the events themselves, never from a list of cases, so that a stream whose first event
    /// was deleted is still listed. What a checkpoint signs.
    fn heads(&self) -> Result<Vec<StreamHead>, StoreError>;

    /// Every outbox row of `stream`, pending or delivered, in append order.
    fn outbox_of(&self, stream: &str) -> Result<Vec<StoredSignal>, StoreError>;

    /// Every idempotency record that names `stream`, in any order.
    fn idempotency_of(&self, stream: &str) -> Result<Vec<IdempotencyRecord>, StoreError>;

    /// Every stream id named by an outbox row or an idempotency record, each once, in any
    /// order (verification looks for rows whose stream holds no events).
    fn referenced_streams(&self) -> Result<Vec<String>, StoreError>;

    /// The stream's key for sealed personal data, if it has one that was not destroyed
    /// ([`Append::case_key`], [`Append::erase_case_key`]).
    fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Check that the append's events may follow `expected_version` events of its stream: every
/// event belongs to the stream and sequence numbers continue without a gap. Stores call it
/// before writing.
pub fn check_append(append: &Append<'_>) -> Result<(), StoreError> {
    let case = append.stream;
    if let Some(row) = append.index {
        if !row.belongs_to(case) {
            return Err(StoreError::Invalid {
                case: case.to_string(),
                message: format!("the index row belongs to `{}`", row.stream()),
            });
        }
        if row.version() != append.new_version() {
            return Err(StoreError::Invalid {
                case: case.to_string(),
                message: format!(
                    "the index row reflects version {}, the append leaves version {}",
                    row.version(),
                    append.new_version()
                ),
            });
        }
    }
    for (offset, event) in append.events.iter().enumerate() {
        let seq = append.expected_version + offset as u64 + 1;
        if event.case_id != case {
            return Err(StoreError::Invalid {
                case: case.to_string(),
                message: format!(
                    "event `{}` belongs to case `{}`",
                    event.event_id, event.case_id
                ),
            });
        }
        if event.seq != seq {
            return Err(StoreError::Invalid {
                case: case.to_string(),
                message: format!(
                    "event `{}` has sequence number {}, expected {seq}",
                    event.event_id, event.seq
                ),
            });
        }
    }
    Ok(())
}

/// Writes `impl Store for` each pointer type given (over `S: Store + ?Sized`), forwarding
/// every method to the store it points at.
macro_rules! forward_store_through {
    ($($pointer:ty),+ $(,)?) => {$(
        impl<S: Store + ?Sized> Store for $pointer {
            fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
                (**self).load(case)
            }
            fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
                (**self).load_after(case, after)
            }
            fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
                (**self).append(append)
            }
            fn append_async(&self, append: &Append<'_>) -> Option<Commit<Committed>> {
                (**self).append_async(append)
            }
            fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
                (**self).idempotency(key)
            }
            fn cases(&self) -> Result<Vec<String>, StoreError> {
                (**self).cases()
            }
            fn pending_signals(&self, limit: usize) -> Result<Vec<StoredSignal>, StoreError> {
                (**self).pending_signals(limit)
            }
            fn mark_delivered(&self, ids: &[String]) -> Result<(), StoreError> {
                (**self).mark_delivered(ids)
            }
            fn mark_delivered_async(&self, ids: &[String]) -> Option<Commit<()>> {
                (**self).mark_delivered_async(ids)
            }
            fn desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError> {
                (**self).desk(operator, limit)
            }
            fn queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
                (**self).queue(limit)
            }
            fn list(
                &self,
                filter: &CaseFilter,
                after: Option<&ListCursor>,
                limit: usize,
            ) -> Result<Vec<CaseIndex>, StoreError> {
                (**self).list(filter, after, limit)
            }
            fn due(&self, now: Millis, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
                (**self).due(now, limit)
            }
            fn operators(&self) -> Result<Vec<OperatorIndex>, StoreError> {
                (**self).operators()
            }
            fn index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError> {
                (**self).index_row(stream)
            }
            fn index_state(&self) -> Result<IndexState, StoreError> {
                (**self).index_state()
            }
            fn begin_reindex(&self) -> Result<(), StoreError> {
                (**self).begin_reindex()
            }
            fn reindex(
                &self,
                stream: &str,
                version: u64,
                row: Option<&IndexRow>,
            ) -> Result<bool, StoreError> {
                (**self).reindex(stream, version, row)
            }
            fn finish_reindex(&self) -> Result<(), StoreError> {
                (**self).finish_reindex()
            }
            fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
                (**self).feed(after, limit)
            }
            fn heads(&self) -> Result<Vec<StreamHead>, StoreError> {
                (**self).heads()
            }
            fn outbox_of(&self, stream: &str) -> Result<Vec<StoredSignal>, StoreError> {
                (**self).outbox_of(stream)
            }
            fn idempotency_of(&self, stream: &str) -> Result<Vec<IdempotencyRecord>, StoreError> {
                (**self).idempotency_of(stream)
            }
            fn referenced_streams(&self) -> Result<Vec<String>, StoreError> {
                (**self).referenced_streams()
            }
            fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, StoreError> {
                (**self).case_key(stream)
            }
        }
    )+};
}

forward_store_through!(std::sync::Arc<S>, &S);

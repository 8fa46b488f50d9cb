//! [`MemoryStore`]: a [`Store`] in process memory, for tests, scenarios and small hosts.
//!
//! Everything lives behind one mutex, so every append is trivially atomic. Clones share the
//! same data (they are handles, like reopening a database). Nothing survives the process.
//!
//! The index rows are kept with ordered sets beside them, one per query (by assignee, by owner,
//! open claims, the queue, due times, last activity), updated under the same lock as the
//! events. The feed is the list of `(case, seq)` in append order: position `p` is its `p`-th
//! entry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::host::index::{
    CaseFilter, CaseIndex, DeskRows, FeedEntry, IndexRow, IndexState, ListCursor, OperatorIndex,
};
use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
    check_append,
};
use crate::spine::{JobState, Millis};

/// An in-memory store. Clones share one set of data.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Case ids in creation order.
    order: Vec<String>,
    events: HashMap<String, Vec<StoredEvent>>,
    keys: HashMap<String, IdempotencyRecord>,
    /// Signals in append order, with whether each was delivered.
    outbox: Vec<(StoredSignal, bool)>,
    /// Where each signal is in `outbox`, by id.
    outbox_ids: HashMap<String, usize>,
    /// Every signal before this index is delivered (so reads and marks never rescan them).
    first_pending: usize,
    /// Each case's place in `order` (its creation ordinal).
    ordinal: HashMap<String, u64>,
    /// The global feed: position `p` is entry `p - 1`, `(ordinal, seq)` (the case is
    /// `order[ordinal]`, so an entry copies no string).
    feed: Vec<(u64, u64)>,
    index: Index,
    /// Keys for sealed personal data, by stream (outside the events).
    case_keys: HashMap<String, zeroize::Zeroizing<Vec<u8>>>,
}

/// The index rows and, for each query, the ordered keys that answer it.
#[derive(Debug, Default)]
struct Index {
    needs_rebuild: bool,
    cases: HashMap<String, (u64, CaseIndex)>,
    /// `(assignee, created, case)` of queued Jobs.
    assigned_queued: BTreeSet<(String, u64, String)>,
    /// `(created, case)` of queued Jobs anyone may claim.
    open_queued: BTreeSet<(u64, String)>,
    /// `(owner, 0 claimed | 1 completed and visible, created, case)`.
    owned: BTreeSet<(String, u8, u64, String)>,
    /// `(created, case)` of cases in the governance queue.
    queue: BTreeSet<(u64, String)>,
    /// `(next_due_at, case)`.
    due: BTreeSet<(Millis, String)>,
    /// `(last_activity, case)`.
    activity: BTreeSet<(Millis, String)>,
    operators: BTreeMap<String, OperatorIndex>,
}

impl Index {
    fn put(&mut self, created: u64, row: Option<&IndexRow>, stream: &str) {
        if let Some(id) = stream.strip_prefix(crate::host::index::OPERATOR_STREAM_PREFIX) {
            match row {
                Some(IndexRow::Operator(op)) => {
                    self.operators.insert(id.to_string(), op.clone());
                }
                _ => {
                    self.operators.remove(id);
                }
            }
            return;
        }
        let new = match row {
            Some(IndexRow::Case(row)) => Some(row),
            _ => None,
        };
        let old = match (new, self.cases.get_mut(stream)) {
            // Replaced in place: the map keeps its key.
            (Some(row), Some(slot)) => Some(std::mem::replace(slot, (created, row.clone()))),
            (Some(row), None) => self
                .cases
                .insert(stream.to_string(), (created, row.clone())),
            (None, _) => self.cases.remove(stream),
        };
        let old_keys = old.as_ref().map(|(created, row)| Keys::of(*created, row));
        let new_keys = new.map(|row| Keys::of(created, row));
        self.rekey(old_keys.unwrap_or_default(), new_keys.unwrap_or_default());
    }

    /// Move the ordered keys of a row from `old` to `new`, touching only the sets whose key
    /// changed (most commands change one or two of them), so an unchanged key costs no copy.
    fn rekey(&mut self, old: Keys<'_>, new: Keys<'_>) {
        fn swap<B: PartialEq, K: Ord>(
            set: &mut BTreeSet<K>,
            old: Option<B>,
            new: Option<B>,
            owned: impl Fn(B) -> K,
        ) {
            if old == new {
                return;
            }
            if let Some(old) = old {
                set.remove(&owned(old));
            }
            if let Some(new) = new {
                set.insert(owned(new));
            }
        }
        swap(
            &mut self.assigned_queued,
            old.assigned_queued,
            new.assigned_queued,
            |(a, c, k): (&str, u64, &str)| (a.to_string(), c, k.to_string()),
        );
        swap(
            &mut self.open_queued,
            old.open_queued,
            new.open_queued,
            |(c, k): (u64, &str)| (c, k.to_string()),
        );
        swap(
            &mut self.owned,
            old.owned,
            new.owned,
            |(o, s, c, k): (&str, u8, u64, &str)| (o.to_string(), s, c, k.to_string()),
        );
        swap(
            &mut self.queue,
            old.queue,
            new.queue,
            |(c, k): (u64, &str)| (c, k.to_string()),
        );
        swap(&mut self.due, old.due, new.due, |(d, k): (Millis, &str)| {
            (d, k.to_string())
        });
        swap(
            &mut self.activity,
            old.activity,
            new.activity,
            |(a, k): (Millis, &str)| (a, k.to_string()),
        );
    }

    fn row(&self, case: &str) -> Option<CaseIndex> {
        self.cases.get(case).map(|(_, row)| row.clone())
    }

    fn ready(&self) -> Result<(), StoreError> {
        if self.needs_rebuild {
            Err(StoreError::IndexNotReady)
        } else {
            Ok(())
        }
    }
}

/// The ordered keys of one case's index row, borrowed from it: one per set of [`Index`]
/// (`None` where the row is not in that set). The default is a row in no set.
#[derive(Default)]
struct Keys<'a> {
    assigned_queued: Option<(&'a str, u64, &'a str)>,
    open_queued: Option<(u64, &'a str)>,
    owned: Option<(&'a str, u8, u64, &'a str)>,
    queue: Option<(u64, &'a str)>,
    due: Option<(Millis, &'a str)>,
    activity: Option<(Millis, &'a str)>,
}

impl<'a> Keys<'a> {
    fn of(created: u64, row: &'a CaseIndex) -> Self {
        let case = row.case.as_str();
        let queued = row.job == Some(JobState::Queued);
        let slot = match row.job {
            Some(JobState::Claimed) => Some(0),
            Some(JobState::Completed) if row.completed_visible => Some(1),
            _ => None,
        };
        Keys {
            assigned_queued: row
                .assignee
                .as_deref()
                .filter(|_| queued)
                .map(|assignee| (assignee, created, case)),
            open_queued: (queued && row.claim_open).then_some((created, case)),
            owned: row
                .owner
                .as_deref()
                .zip(slot)
                .map(|(owner, slot)| (owner, slot, created, case)),
            queue: row.queue.is_some().then_some((created, case)),
            due: row.next_due_at.map(|due| (due, case)),
            activity: Some((row.last_activity, case)),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied append: every append
        // validates first and then only pushes.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `edit` on a case's stored events: a way for tests to play an attacker who edits
    /// history in place. Never used by planck itself.
    pub fn tamper(&self, case: &str, edit: impl FnOnce(&mut Vec<StoredEvent>)) {
        if let Some(events) = self.lock().events.get_mut(case) {
            edit(events);
        }
    }

    /// Run `edit` on a stream's index row (`None` when it has none; setting `None` removes
    /// it): a way for tests to damage the index. Never used by planck itself.
    pub fn tamper_index(&self, stream: &str, edit: impl FnOnce(&mut Option<IndexRow>)) {
        let mut inner = self.lock();
        let mut row = index_row(&inner.index, stream);
        edit(&mut row);
        let created = inner.ordinal.get(stream).copied().unwrap_or(u64::MAX);
        inner.index.put(created, row.as_ref(), stream);
    }

    /// Mark the index as needing a rebuild, as a database from before the index would be: a
    /// way for tests to exercise [`IndexState::NeedsRebuild`]. Never used by planck itself.
    pub fn forget_index(&self) {
        let mut inner = self.lock();
        inner.index = Index {
            needs_rebuild: true,
            ..Index::default()
        };
    }
}

fn index_row(index: &Index, stream: &str) -> Option<IndexRow> {
    match stream.strip_prefix(crate::host::index::OPERATOR_STREAM_PREFIX) {
        Some(id) => index.operators.get(id).cloned().map(IndexRow::Operator),
        None => index.row(stream).map(IndexRow::Case),
    }
}

impl Store for MemoryStore {
    fn load(&self, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self.lock().events.get(case).cloned().unwrap_or_default())
    }

    fn append(&self, append: &Append<'_>) -> Result<Committed, StoreError> {
        check_append(append)?;
        let Append {
            stream: case,
            expected_version,
            events,
            idempotency,
            outbox,
            index: _,
            case_key,
            erase_case_key,
        } = *append;
        // Copy before taking the lock, so concurrent appends and loads wait only for the
        // checks and the pushes.
        let copies = events.to_vec();
        let mut inner = self.lock();
        let actual = inner.events.get(case).map_or(0, |e| e.len() as u64);
        if actual != expected_version {
            return Err(StoreError::Conflict {
                case: case.to_string(),
                expected: expected_version,
                actual: Some(actual),
            });
        }
        if let Some(record) = idempotency
            && inner.keys.contains_key(&record.key)
        {
            return Err(StoreError::KeyTaken {
                key: record.key.clone(),
            });
        }
        if let Some(dup) = outbox.iter().find(|s| inner.outbox_ids.contains_key(&s.id)) {
            return Err(StoreError::Invalid {
                case: case.to_string(),
                message: format!("signal `{}` is already in the outbox", dup.id),
            });
        }
        if case_key.is_some() && inner.case_keys.contains_key(case) {
            return Err(StoreError::Invalid {
                case: case.to_string(),
                message: "the stream already has a key for sealed personal data".into(),
            });
        }
        if let Some(record) = idempotency {
            inner.keys.insert(record.key.clone(), record.clone());
        }
        if let Some(key) = case_key {
            inner
                .case_keys
                .insert(case.to_string(), zeroize::Zeroizing::new(key.to_vec()));
        }
        if erase_case_key {
            // Dropping the `Zeroizing` value overwrites the bytes.
            inner.case_keys.remove(case);
        }
        for signal in outbox {
            let at = inner.outbox.len();
            inner.outbox_ids.insert(signal.id.clone(), at);
            inner.outbox.push((signal.clone(), false));
        }
        let mut committed = Committed::unnumbered();
        if !events.is_empty() {
            let ordinal = match inner.ordinal.get(case) {
                Some(ordinal) if actual != 0 => *ordinal,
                _ => {
                    let ordinal = inner.order.len() as u64;
                    inner.ordinal.insert(case.to_string(), ordinal);
                    inner.order.push(case.to_string());
                    ordinal
                }
            };
            committed = Committed::numbered(inner.feed.len() as u64 + 1, events.len());
            for event in events {
                inner.feed.push((ordinal, event.seq));
            }
            match inner.events.get_mut(case) {
                Some(stored) => stored.extend(copies),
                None => {
                    inner.events.insert(case.to_string(), copies);
                }
            }
        }
        if let Some(row) = append.index {
            let created = inner.ordinal.get(case).copied().unwrap_or(u64::MAX);
            inner.index.put(created, Some(row), case);
        }
        Ok(committed)
    }

    fn load_after(&self, case: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let skip = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(self
            .lock()
            .events
            .get(case)
            .and_then(|events| events.get(skip..))
            .map(<[StoredEvent]>::to_vec)
            .unwrap_or_default())
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.lock().keys.get(key).cloned())
    }

    fn cases(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().order.clone())
    }

    fn pending_signals(&self, limit: usize) -> Result<Vec<StoredSignal>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .outbox
            .get(inner.first_pending..)
            .unwrap_or_default()
            .iter()
            .filter(|(_, delivered)| !delivered)
            .take(limit)
            .map(|(s, _)| s.clone())
            .collect())
    }

    fn mark_delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        for id in ids {
            if let Some(entry) = inner
                .outbox_ids
                .get(id)
                .and_then(|at| inner.outbox.get_mut(*at))
            {
                entry.1 = true;
            }
        }
        while inner
            .outbox
            .get(inner.first_pending)
            .is_some_and(|(_, delivered)| *delivered)
        {
            inner.first_pending += 1;
        }
        Ok(())
    }

    fn desk(&self, operator: &str, limit: usize) -> Result<DeskRows, StoreError> {
        let inner = self.lock();
        let index = &inner.index;
        index.ready()?;
        // Queued: the operator's assigned Jobs and the open ones, merged in creation order.
        let from = (operator.to_string(), 0, String::new());
        let assigned = index
            .assigned_queued
            .range(from..)
            .take_while(|(a, _, _)| a == operator)
            .map(|(_, created, case)| (*created, case));
        let open = index
            .open_queued
            .iter()
            .map(|(created, case)| (*created, case));
        let mut queued: Vec<(u64, &String)> = assigned.take(limit).collect();
        queued.extend(open.take(limit));
        queued.sort();
        queued.dedup();
        queued.truncate(limit);
        let owned = |slot: u8| {
            let from = (operator.to_string(), slot, 0, String::new());
            index
                .owned
                .range(from..)
                .take_while(move |(o, s, _, _)| o == operator && *s == slot)
                .map(|(_, _, _, case)| case)
        };
        let rows = |cases: Vec<&String>| cases.into_iter().filter_map(|c| index.row(c)).collect();
        Ok(DeskRows {
            queued: rows(queued.into_iter().map(|(_, c)| c).collect()),
            active: rows(owned(0).take(limit).collect()),
            completed: rows({
                let all: Vec<&String> = owned(1).collect();
                all.into_iter().rev().take(limit).collect()
            }),
        })
    }

    fn queue(&self, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        let inner = self.lock();
        inner.index.ready()?;
        Ok(inner
            .index
            .queue
            .iter()
            .take(limit)
            .filter_map(|(_, case)| inner.index.row(case))
            .collect())
    }

    fn list(
        &self,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Vec<CaseIndex>, StoreError> {
        let inner = self.lock();
        inner.index.ready()?;
        let upper = match after {
            Some(c) => std::ops::Bound::Excluded((c.last_activity, c.case.clone())),
            None => std::ops::Bound::Unbounded,
        };
        Ok(inner
            .index
            .activity
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .filter_map(|(_, case)| inner.index.row(case))
            .filter(|row| filter.matches(row))
            .take(limit)
            .collect())
    }

    fn due(&self, now: Millis, limit: usize) -> Result<Vec<CaseIndex>, StoreError> {
        let inner = self.lock();
        inner.index.ready()?;
        Ok(inner
            .index
            .due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .filter_map(|(_, case)| inner.index.row(case))
            .collect())
    }

    fn operators(&self) -> Result<Vec<OperatorIndex>, StoreError> {
        let inner = self.lock();
        inner.index.ready()?;
        Ok(inner.index.operators.values().cloned().collect())
    }

    fn index_row(&self, stream: &str) -> Result<Option<IndexRow>, StoreError> {
        Ok(index_row(&self.lock().index, stream))
    }

    fn index_state(&self) -> Result<IndexState, StoreError> {
        Ok(if self.lock().index.needs_rebuild {
            IndexState::NeedsRebuild
        } else {
            IndexState::Ready
        })
    }

    fn begin_reindex(&self) -> Result<(), StoreError> {
        self.lock().index.needs_rebuild = true;
        Ok(())
    }

    fn reindex(
        &self,
        stream: &str,
        version: u64,
        row: Option<&IndexRow>,
    ) -> Result<bool, StoreError> {
        if let Some(row) = row {
            check_append(&Append::new(stream, version, &[]).with_index(row))?;
        }
        let mut inner = self.lock();
        let actual = inner.events.get(stream).map_or(0, |e| e.len() as u64);
        if actual != version {
            return Ok(false);
        }
        let created = inner.ordinal.get(stream).copied().unwrap_or(u64::MAX);
        inner.index.put(created, row, stream);
        Ok(true)
    }

    fn finish_reindex(&self) -> Result<(), StoreError> {
        self.lock().index.needs_rebuild = false;
        Ok(())
    }

    fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        let inner = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for (offset, (ordinal, seq)) in inner
            .feed
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take(limit)
            .enumerate()
        {
            let event = usize::try_from(*ordinal)
                .ok()
                .and_then(|ordinal| inner.order.get(ordinal))
                .and_then(|case| inner.events.get(case))
                .and_then(|events| events.get(usize::try_from(*seq).ok()?.checked_sub(1)?));
            // An event edited away by `tamper` leaves a hole, which `verify` reports.
            if let Some(event) = event {
                out.push(FeedEntry {
                    position: after + offset as u64 + 1,
                    event: event.clone(),
                });
            }
        }
        Ok(out)
    }

    fn heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter_map(|(stream, events)| {
                events.last().map(|last| StreamHead {
                    stream: stream.clone(),
                    version: last.seq,
                    digest: last.digest.clone(),
                })
            })
            .collect())
    }

    fn outbox_of(&self, stream: &str) -> Result<Vec<StoredSignal>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|(s, _)| s.case_id == stream)
            .map(|(s, _)| s.clone())
            .collect())
    }

    fn idempotency_of(&self, stream: &str) -> Result<Vec<IdempotencyRecord>, StoreError> {
        Ok(self
            .lock()
            .keys
            .values()
            .filter(|r| r.case_id == stream)
            .cloned()
            .collect())
    }

    fn referenced_streams(&self) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        let mut streams: Vec<String> = inner
            .outbox
            .iter()
            .map(|(s, _)| s.case_id.clone())
            .chain(inner.keys.values().map(|r| r.case_id.clone()))
            .collect();
        streams.sort_unstable();
        streams.dedup();
        Ok(streams)
    }

    fn case_key(&self, stream: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().case_keys.get(stream).map(|k| k.to_vec()))
    }
}

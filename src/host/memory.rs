//! [`MemoryStore`]: a [`Store`] in process memory, for tests, scenarios and small hosts.
//!
//! Everything lives behind one mutex, so every append is trivially atomic. Clones share the
//! same data (they are handles, like reopening a database). Nothing survives the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::host::store::{
    Append, Committed, IdempotencyRecord, Store, StoreError, StoredEvent, StoredSignal, StreamHead,
    check_append,
};

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
    /// Keys for sealed personal data, by stream (outside the events).
    case_keys: HashMap<String, zeroize::Zeroizing<Vec<u8>>>,
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
        if !events.is_empty() {
            if actual == 0 {
                inner.order.push(case.to_string());
            }
            inner
                .events
                .entry(case.to_string())
                .or_default()
                .extend(copies);
        }
        Ok(Committed::unnumbered())
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

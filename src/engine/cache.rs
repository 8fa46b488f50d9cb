//! The case cache: each case as the engine last folded it, so that a command reads and folds
//! only the events appended since, not the whole history.
//!
//! The cache is an optimization and never an authority. A snapshot says "the case at version
//! `n`, and its `n`-th event"; before every decision the engine asks the store for the events
//! after `n` ([`Store::load_after`](crate::host::Store::load_after)) and folds them in, so
//! appends by other engines sharing the store are always seen; and the append still carries
//! the expected version, so a stale snapshot can only cost a conflict, after which the case is
//! folded again from the store. Snapshots are taken out while a command uses them (two
//! commands on one case at once: the second folds from the store).
//!
//! The cache is bounded in cases (default [`CACHED_CASES`], set by
//! [`Engine::with_cache_capacity`](crate::engine::Engine::with_cache_capacity)); past the bound
//! the least recently used case goes, and its next command folds it from the store. So an
//! engine's memory follows the cases it is working on, not the number it has served.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::audit::{GENESIS_DIGEST, StoredEvent};
use crate::spine::Case;
use crate::spine::operator::{OperatorProfile, apply_profile, is_operator_stream};

/// The default bound of the case cache, in cases (streams): an engine keeps at most this many
/// folded cases, evicting the least recently used. Set another with
/// [`Engine::with_cache_capacity`](crate::engine::Engine::with_cache_capacity).
pub const CACHED_CASES: usize = 4_096;

/// A folded stream, and the sequence number and digest of its last stored event (what the
/// next events are numbered from and chained to). A case stream folds into `case`; an
/// operator stream folds into `profile` (and `case` only counts its events).
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) case: Case,
    pub(crate) profile: Option<OperatorProfile>,
    pub(crate) version: u64,
    pub(crate) last_digest: String,
    /// The time of the last stored event (`None` for a new case): no new event is dated
    /// before it.
    pub(crate) last_ts: Option<crate::spine::Millis>,
}

impl Snapshot {
    /// An empty case (nothing stored yet).
    pub(crate) fn empty(id: &str) -> Self {
        Snapshot {
            case: Case::new(id),
            profile: None,
            version: 0,
            last_digest: GENESIS_DIGEST.to_string(),
            last_ts: None,
        }
    }

    /// The number of events folded in.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Fold `events`, which must continue the case (sequence numbers `version + 1, …`).
    /// Returns `false`, folding nothing, when they do not.
    pub(crate) fn extend(&mut self, events: &[StoredEvent]) -> bool {
        let version = self.version();
        let continues = events
            .iter()
            .zip(1..)
            .all(|(e, i)| e.seq == version + i && e.case_id == self.case.id);
        if !continues {
            return false;
        }
        let operator = is_operator_stream(&self.case.id);
        for e in events {
            crate::spine::apply(&mut self.case, &e.payload);
            if operator {
                // A stream `decide` wrote folds cleanly; one that does not is `verify`'s to report.
                let _ = apply_profile(&mut self.profile, &e.payload);
            }
        }
        if let Some(last) = events.last() {
            self.version = last.seq;
            self.last_digest.clone_from(&last.digest);
            self.last_ts = Some(last.ts_ms);
        }
        true
    }
}

/// Snapshots by case id, at most `capacity` of them, the least recently used evicted first.
///
/// Every use of a case takes its snapshot out and puts it back, so "recently used" is "recently
/// put". Each put stamps the snapshot and queues `(id, stamp)`; eviction pops the queue until
/// it meets a stamp that is still a snapshot's current one (older queue entries are stale: the
/// case was taken or put again since). The queue is compacted when stale entries outnumber the
/// snapshots, so memory stays proportional to `capacity`, and every operation is amortized
/// O(1).
#[derive(Debug)]
pub(crate) struct CaseCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    snapshots: HashMap<String, (Snapshot, u64)>,
    order: VecDeque<(String, u64)>,
    next_stamp: u64,
}

impl Lru {
    fn is_current(&self, id: &str, stamp: u64) -> bool {
        self.snapshots.get(id).is_some_and(|(_, s)| *s == stamp)
    }

    /// Drop the least recently used snapshot; `false` when there is none.
    fn evict_one(&mut self) -> bool {
        while let Some((id, stamp)) = self.order.pop_front() {
            if self.is_current(&id, stamp) {
                self.snapshots.remove(&id);
                return true;
            }
        }
        false
    }

    /// Forget queue entries that no longer name a snapshot's current stamp.
    fn compact(&mut self) {
        let order = std::mem::take(&mut self.order);
        self.order = order
            .into_iter()
            .filter(|(id, stamp)| self.is_current(id, *stamp))
            .collect();
    }
}

impl Default for CaseCache {
    fn default() -> Self {
        CaseCache::with_capacity(CACHED_CASES)
    }
}

impl CaseCache {
    /// A cache of at most `capacity` cases (0: nothing is kept).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        CaseCache {
            capacity,
            inner: Mutex::new(Lru::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        // Only plain map operations run under the lock; a poisoned map is still a sound map.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most cases kept.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many cases are kept now.
    pub(crate) fn len(&self) -> usize {
        self.lock().snapshots.len()
    }

    /// Take the snapshot of `case` out of the cache, if there is one.
    pub(crate) fn take(&self, case: &str) -> Option<Snapshot> {
        self.lock()
            .snapshots
            .remove(case)
            .map(|(snapshot, _)| snapshot)
    }

    /// Keep `snapshot` for the next command on its case, evicting the least recently used
    /// case when the cache is full.
    pub(crate) fn put(&self, snapshot: Snapshot) {
        if self.capacity == 0 {
            return;
        }
        let mut lru = self.lock();
        let id = snapshot.case.id.clone();
        if !lru.snapshots.contains_key(&id) {
            while lru.snapshots.len() >= self.capacity && lru.evict_one() {}
        }
        let stamp = lru.next_stamp;
        lru.next_stamp = lru.next_stamp.wrapping_add(1);
        lru.order.push_back((id.clone(), stamp));
        lru.snapshots.insert(id, (snapshot, stamp));
        if lru.order.len() > 2 * lru.snapshots.len() + 64 {
            lru.compact();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::engine::Engine;
    use crate::host::{ManualClock, MemoryStore, NullTransport, Store};
    use crate::policy::{Principal, Role};
    use crate::spine::Command;
    use crate::surface::registry::Registry;

    fn engine(store: MemoryStore) -> Engine<MemoryStore, NullTransport, ManualClock> {
        let (def, diags) = crate::surface::toml::parse(
            "[surface]\nslug = \"cached\"\nname = \"S\"\nspec = \"x\"\nversion = 1\n\
             [[phase]]\nid = \"a\"\nlabel = \"A\"\n[[phase]]\nid = \"b\"\nlabel = \"B\"\n\
             [[phase]]\nid = \"c\"\nlabel = \"C\"\n[intake]\nrequired = [\"contact\"]\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let mut registry = Registry::new();
        registry
            .register(crate::surface::compile::compile(&def).unwrap().surface)
            .unwrap();
        Engine::new(
            Arc::new(registry),
            store,
            NullTransport,
            ManualClock::new(1_000),
        )
    }

    fn send(
        engine: &Engine<MemoryStore, NullTransport, ManualClock>,
        who: &Principal,
        name: &str,
        args: serde_json::Value,
    ) -> bool {
        let command = Command::from_json("c-1", name, &args).unwrap();
        engine.execute(who, &command, None).unwrap().is_applied()
    }

    fn snap(id: &str) -> super::Snapshot {
        super::Snapshot::empty(id)
    }

    /// The least recently used case is the one evicted, and repeated use of one case neither
    /// grows the cache nor its queue without bound.
    #[test]
    fn the_least_recently_used_case_is_evicted() {
        let cache = super::CaseCache::with_capacity(2);
        cache.put(snap("a"));
        cache.put(snap("b"));
        // Use `a` again: `b` is now the least recently used.
        let a = cache.take("a").unwrap();
        cache.put(a);
        cache.put(snap("c"));
        assert_eq!(cache.len(), 2);
        assert!(cache.take("b").is_none());
        assert!(cache.take("a").is_some());
        assert!(cache.take("c").is_some());
        for _ in 0..10_000 {
            cache.put(snap("d"));
            let d = cache.take("d").unwrap();
            cache.put(d);
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.lock().order.len() <= 67);
        let none = super::CaseCache::with_capacity(0);
        none.put(snap("a"));
        assert_eq!(none.len(), 0);
    }

    /// Two engines on one store: each sees what the other appended, though each keeps its own
    /// folded copy of the case between commands.
    #[test]
    fn a_cached_case_picks_up_what_another_engine_appended() {
        let store = MemoryStore::new();
        let (a, b) = (engine(store.clone()), engine(store.clone()));
        let client = Principal::new("client", [Role::Client]);
        let admin = Principal::new("admin", [Role::Admin]);
        let lee = Principal::new("op-lee", [Role::Operator]);
        assert!(send(
            &a,
            &client,
            "submit_request",
            json!({"surface": "cached", "intake": {"contact": "x"}})
        ));
        assert!(send(&a, &admin, "approve_task", json!(null)));
        // `b` assigns; `a`, holding the case at version 2, must see the assignment.
        assert!(send(
            &b,
            &admin,
            "assign_task",
            json!({"operator": "op-lee"})
        ));
        assert!(send(&a, &admin, "create_job", json!(null)));
        // `a` claims; `b` (holding version 3) must see the claim and refuse a second one.
        assert!(send(&a, &lee, "claim_job", json!(null)));
        assert!(!send(&b, &lee, "claim_job", json!(null)));
        assert!(send(&b, &lee, "complete_service_event", json!({})));
        assert!(send(&a, &lee, "complete_job", json!(null)));
        let events = store.load("c-1").unwrap();
        assert!(events.iter().zip(1..).all(|(e, i)| e.seq == i));
        assert!(crate::audit::verify_case("c-1", &events).is_ok());
    }
}

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

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::audit::{GENESIS_DIGEST, StoredEvent};
use crate::spine::Case;
use crate::spine::operator::{OperatorProfile, apply_profile, is_operator_stream};

/// Most cases kept; past it an arbitrary snapshot makes room.
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

/// Snapshots by case id.
#[derive(Debug, Default)]
pub(crate) struct CaseCache {
    snapshots: Mutex<HashMap<String, Snapshot>>,
}

impl CaseCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Snapshot>> {
        // Only plain map operations run under the lock; a poisoned map is still a sound map.
        self.snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Take the snapshot of `case` out of the cache, if there is one.
    pub(crate) fn take(&self, case: &str) -> Option<Snapshot> {
        self.lock().remove(case)
    }

    /// Keep `snapshot` for the next command on its case.
    pub(crate) fn put(&self, snapshot: Snapshot) {
        let mut snapshots = self.lock();
        if snapshots.len() >= CACHED_CASES
            && let Some(victim) = snapshots.keys().next().cloned()
        {
            snapshots.remove(&victim);
        }
        snapshots.insert(snapshot.case.id.clone(), snapshot);
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

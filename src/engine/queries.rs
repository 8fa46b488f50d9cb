//! The engine's reads: a case, its view and history, the governance queue, an operator's
//! desk, list pages, the feed, operator profiles and `explain` (writes nothing).

use super::{
    CaseView, DESK_LIMIT, Desk, Engine, EngineError, ListPage, Listed, MAX_LIST_LIMIT, QUEUE_LIMIT,
    QueueItem, cache, fold, monotonic,
};
use crate::audit::StoredEvent;
use crate::host::{CaseFilter, Clock, FeedEntry, ListCursor, Store, Transport};
use crate::policy::Principal;
use crate::spine::operator::{self, OperatorProfile};
use crate::spine::{self, Case, Command, Explanation};

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
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
    /// (docs/queries.md; [`Subscriber`](super::Subscriber) polls it with a stored cursor).
    pub fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, EngineError> {
        Ok(self.store.feed(after, limit)?)
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
}

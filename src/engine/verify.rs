//! `verify` beyond the chains: every index row against the row its stream's events imply,
//! rows without events, and the feed's positions; and rebuilding the index from the events
//! (`planck reindex`).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::{Engine, EngineError, catalog, fold, index};
use crate::audit::{StoredEvent, VerifyCode, VerifyError, VerifyReport};
use crate::host::{
    CaseFilter, Clock, IndexRow, IndexState, ListCursor, Store, StoreError, Transport,
};
use crate::spine::operator;
use crate::surface::registry::Registry;

/// How many events `verify` reads from the feed at a time.
const VERIFY_FEED_BATCH: usize = 1_000;

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

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
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

    /// Re-derive every case from its events and check every digest, link and seal; check
    /// every index row against the events (with the surfaces, so the fields that need one are
    /// checked too for cases whose pinned surface is registered) and the feed's positions.
    pub fn verify(&self) -> Result<VerifyReport, EngineError> {
        Ok(verify_with(&self.store, Some(&self.registry), None)?)
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

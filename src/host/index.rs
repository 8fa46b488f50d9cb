//! The index: one row per stream, derived from its events, that the store keeps beside them so
//! that desks, the governance queue, lists and due escalations are answered without folding
//! every case (docs/queries.md).
//!
//! The engine computes a stream's row from the stream as folded after each decision
//! ([`CaseIndex`] for a case, [`OperatorIndex`] for an operator's stream) and hands it to
//! [`Store::append`](crate::host::Store::append) in [`Append::index`](crate::host::Append),
//! which writes it in the same atomic transaction as the events: a committed append always
//! leaves the row that its events imply, and a refused one leaves the old row. Stores never
//! compute a row and never interpret events; they keep rows and answer the queries of the
//! [`Store`](crate::host::Store) trait from them (`desk`, `queue`, `list`, `due`,
//! `operators`). Rows are derived data: `verify` recomputes them from the events and names any
//! that disagree, and `Engine::rebuild_index` (`planck reindex`) writes them all again.
//!
//! This module holds only the values; each store keeps them in its own way.

use serde::{Deserialize, Serialize};

use crate::audit::StoredEvent;
use crate::spine::{JobState, Millis, ServiceEventState, TaskState};

/// Stream ids starting with this prefix hold an operator's profile, not a case
/// (`operator:<operator id>`).
pub const OPERATOR_STREAM_PREFIX: &str = "operator:";

/// Whether `stream` is an operator's stream (`operator:<id>`) rather than a case.
pub fn is_operator_stream(stream: &str) -> bool {
    stream.starts_with(OPERATOR_STREAM_PREFIX)
}

/// Why a case is in the governance queue: what an admin has to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueNeed {
    /// The Task is open: approve or reject it.
    Review,
    /// The Task is approved and nobody is assigned: assign an operator.
    Assign,
    /// The Task is approved and assigned but there is no Job: create it (the hand-off).
    HandOff,
    /// A move waits for approval.
    Approval,
}

impl QueueNeed {
    /// The need's name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueNeed::Review => "review",
            QueueNeed::Assign => "assign",
            QueueNeed::HandOff => "hand_off",
            QueueNeed::Approval => "approval",
        }
    }

    /// Parse a need's name.
    pub fn parse(name: &str) -> Option<QueueNeed> {
        [Self::Review, Self::Assign, Self::HandOff, Self::Approval]
            .into_iter()
            .find(|n| n.as_str() == name)
    }
}

/// The index row of one case: what the queries filter and order by. Computed by the engine
/// from the folded case and its pinned surface; see docs/queries.md for each field's rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseIndex {
    /// The case id (the stream).
    pub case: String,
    /// The number of events the row reflects (the stream version after the append).
    pub version: u64,
    /// The pinned surface's slug.
    pub surface: String,
    /// The pinned surface's version.
    pub surface_version: u32,
    /// The governance Task's state.
    pub task: Option<TaskState>,
    /// The assigned operator.
    pub assignee: Option<String>,
    /// The Job's state.
    pub job: Option<JobState>,
    /// The operator who owns the Job.
    pub owner: Option<String>,
    /// The ServiceEvent's phase id.
    pub phase: Option<String>,
    /// Where the work stands: the ServiceEvent's phase, or the first phase while the Job
    /// waits to be claimed.
    pub stage: Option<String>,
    /// The ServiceEvent's state.
    pub service_event: Option<ServiceEventState>,
    /// The phase a move waiting for approval would enter.
    pub pending_approval: Option<String>,
    /// Why the case is in the governance queue, when it is.
    pub queue: Option<QueueNeed>,
    /// Whether any operator may claim the Job (the surface's ownership is `open`). `false`
    /// when the pinned surface was not known when the row was computed.
    pub claim_open: bool,
    /// Whether the Job stays on its owner's desk once completed (`completed_visible`; `true`
    /// when the pinned surface was not known).
    pub completed_visible: bool,
    /// When the request was submitted.
    pub created_at: Millis,
    /// When the case's last event was decided.
    pub last_activity: Millis,
    /// When the next escalation becomes due (`None` when none can fire in the current phase,
    /// or the pinned surface was not known).
    pub next_due_at: Option<Millis>,
}

/// The index row of an operator's stream (`operator:<id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorIndex {
    /// The operator id (the stream is `operator:<id>`).
    pub operator: String,
    /// The number of events the row reflects.
    pub version: u64,
    /// The profile's status (`active`, `suspended`).
    pub status: String,
    /// The surface slugs the operator is bound to (empty: every surface).
    pub surfaces: Vec<String>,
}

/// One stream's index row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexRow {
    /// A case.
    Case(CaseIndex),
    /// An operator.
    Operator(OperatorIndex),
}

impl IndexRow {
    /// The stream the row belongs to.
    pub fn stream(&self) -> String {
        match self {
            IndexRow::Case(row) => row.case.clone(),
            IndexRow::Operator(row) => format!("{OPERATOR_STREAM_PREFIX}{}", row.operator),
        }
    }

    /// Whether the row belongs to `stream`.
    pub fn belongs_to(&self, stream: &str) -> bool {
        match self {
            IndexRow::Case(row) => row.case == stream && !is_operator_stream(stream),
            IndexRow::Operator(row) => {
                stream.strip_prefix(OPERATOR_STREAM_PREFIX) == Some(row.operator.as_str())
            }
        }
    }

    /// The stream version the row reflects.
    pub fn version(&self) -> u64 {
        match self {
            IndexRow::Case(row) => row.version,
            IndexRow::Operator(row) => row.version,
        }
    }
}

/// Which cases [`Store::list`](crate::host::Store::list) returns: every filter given must
/// hold (the filters of `planck list`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFilter {
    /// The surface slug, or `slug@version`.
    pub surface: Option<String>,
    /// The Job's state; `Some(None)` selects cases without a Job.
    pub job: Option<Option<JobState>>,
    /// The ServiceEvent's phase id.
    pub phase: Option<String>,
    /// The assigned operator.
    pub assignee: Option<String>,
    /// The operator who owns the Job.
    pub owner: Option<String>,
}

/// The surface part of a [`CaseFilter`], parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SurfaceSelector<'a> {
    /// No surface filter.
    Any,
    /// Every version of a slug.
    Slug(&'a str),
    /// One version of a slug.
    Exact(&'a str, u32),
    /// A filter no case can match (`slug@x` where `x` is not a version number).
    Nothing,
}

impl CaseFilter {
    /// The surface filter, parsed.
    pub fn surface_selector(&self) -> SurfaceSelector<'_> {
        match self.surface.as_deref() {
            None => SurfaceSelector::Any,
            Some(text) => match text.split_once('@') {
                None => SurfaceSelector::Slug(text),
                Some((slug, version)) => match version.parse::<u32>() {
                    Ok(version) => SurfaceSelector::Exact(slug, version),
                    Err(_) => SurfaceSelector::Nothing,
                },
            },
        }
    }

    /// Whether `row` passes every filter.
    pub fn matches(&self, row: &CaseIndex) -> bool {
        let surface_ok = match self.surface_selector() {
            SurfaceSelector::Any => true,
            SurfaceSelector::Slug(slug) => row.surface == slug,
            SurfaceSelector::Exact(slug, version) => {
                row.surface == slug && row.surface_version == version
            }
            SurfaceSelector::Nothing => false,
        };
        surface_ok
            && self.job.is_none_or(|job| row.job == job)
            && self
                .phase
                .as_deref()
                .is_none_or(|p| row.phase.as_deref() == Some(p))
            && self
                .assignee
                .as_deref()
                .is_none_or(|a| row.assignee.as_deref() == Some(a))
            && self
                .owner
                .as_deref()
                .is_none_or(|o| row.owner.as_deref() == Some(o))
    }
}

/// A place in the listing order of [`Store::list`](crate::host::Store::list) (newest activity
/// first; among equal times, the greater case id first): the last case of a page. The next
/// page holds the cases strictly after it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListCursor {
    /// The case's `last_activity`.
    pub last_activity: Millis,
    /// The case id.
    pub case: String,
}

impl ListCursor {
    /// The cursor just after `row`.
    pub fn after(row: &CaseIndex) -> Self {
        ListCursor {
            last_activity: row.last_activity,
            case: row.case.clone(),
        }
    }

    /// Whether `row` comes after this cursor in the listing order (so on the next page).
    pub fn admits(&self, row: &CaseIndex) -> bool {
        (row.last_activity, row.case.as_str()) < (self.last_activity, self.case.as_str())
    }

    /// The opaque text form (hex of `<last_activity>:<case>`), for `--after` and `after=`.
    pub fn encode(&self) -> String {
        hex::encode(format!("{}:{}", self.last_activity, self.case))
    }

    /// Parse the text form; `None` when it is not one.
    pub fn decode(text: &str) -> Option<ListCursor> {
        let bytes = hex::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, case) = text.split_once(':')?;
        Some(ListCursor {
            last_activity: at.parse().ok()?,
            case: case.to_string(),
        })
    }
}

/// The rows of one operator's desk, as [`Store::desk`](crate::host::Store::desk) returns them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeskRows {
    /// Queued Jobs the operator may claim (assigned to them, or `claim_open`), oldest case
    /// first.
    pub queued: Vec<CaseIndex>,
    /// Claimed Jobs the operator owns, oldest case first.
    pub active: Vec<CaseIndex>,
    /// Completed Jobs the operator owned that stay visible, newest case first.
    pub completed: Vec<CaseIndex>,
}

/// Whether a store's index can answer queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexState {
    /// Every stream's row is written with its events: queries answer.
    Ready,
    /// The index was never built for some of the events (a database from before the index,
    /// or a rebuild that did not finish): queries fail with
    /// [`StoreError::IndexNotReady`](crate::host::StoreError::IndexNotReady) until
    /// `Engine::rebuild_index` (`planck reindex`) runs.
    NeedsRebuild,
}

/// One event of the global feed with its position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// The event's global position: 1, 2, 3, … in commit order, without holes.
    pub position: u64,
    /// The event.
    pub event: StoredEvent,
}

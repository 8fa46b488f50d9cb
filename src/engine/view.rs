//! Read models: a case's view, the governance queue and an operator's desk.
//!
//! Views are projections computed from a folded [`Case`] and its pinned [`Surface`] (for
//! phase labels, declared evidence categories and `completed_visible`). They are plain
//! serializable values; building one never writes anything. The desk follows the Job's
//! owner: a Job handed over with `reassign_job` leaves the old owner's desk and appears on the
//! new one's, and a released Job is queued again.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::policy::Role;
use crate::spine::{
    Case, JobState, Millis, ServiceEventState, SettlementStatus, Signal, TaskState,
};
use crate::surface::Surface;
use crate::surface::ast::Ownership;

/// A phase as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhaseView {
    /// The phase id.
    pub id: String,
    /// Its label from the pinned surface (the id when the surface is not registered).
    pub label: String,
}

/// Every layer of one case, for a screen or an API response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseView {
    /// The case id.
    pub case: String,
    /// Events stored (the stream version).
    pub version: u64,
    /// The pinned surface, `slug@version`.
    pub surface: String,
    /// The surface's display name; `None` when the pinned version is not registered.
    pub surface_name: Option<String>,
    /// Who submitted the request.
    pub submitted_by: String,
    /// When.
    pub submitted_at: Millis,
    /// The governance Task's state.
    pub task: Option<TaskState>,
    /// The assigned operator.
    pub assignee: Option<String>,
    /// The Job's state.
    pub job: Option<JobState>,
    /// The operator who claimed the Job.
    pub owner: Option<String>,
    /// The ServiceEvent's state.
    pub service_event: Option<ServiceEventState>,
    /// The ServiceEvent's current phase (`None` until the Job is claimed).
    pub phase: Option<PhaseView>,
    /// Where the work stands: the ServiceEvent's phase, or the surface's first phase while the
    /// Job waits to be claimed.
    pub stage: Option<PhaseView>,
    /// Evidence items per declared category (zeros included) once the ServiceEvent is open.
    pub evidence: BTreeMap<String, u32>,
    /// The sealed Record's digest.
    pub record: Option<String>,
    /// The Settlement's status.
    pub settlement: Option<SettlementStatus>,
    /// Every signal emitted for the case, oldest first.
    pub signals: Vec<Signal>,
    /// The move waiting for approval, if any.
    pub pending_approval: Option<PendingView>,
    /// How many ServiceEvents were released back to the queue (kept in the case's history).
    pub released: usize,
}

/// A move waiting for approval, as a screen shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingView {
    /// The phase it waits in.
    pub from: PhaseView,
    /// The phase it would enter.
    pub to: PhaseView,
    /// The roles that may approve or reject it.
    pub approval: Vec<Role>,
    /// Who asked for it.
    pub requested_by: String,
    /// When.
    pub requested_at: Millis,
}

impl CaseView {
    /// The view of `case` judged by its pinned `surface` (`None` when not registered).
    /// `None` when nothing was submitted.
    pub fn of(case: &Case, surface: Option<&Surface>) -> Option<CaseView> {
        let request = case.request.as_ref()?;
        let phase_view = |id: &str| PhaseView {
            id: id.to_string(),
            label: surface
                .and_then(|s| s.phase_id(id).and_then(|p| s.phase(p)))
                .map_or_else(|| id.to_string(), |p| p.label.clone()),
        };
        let phase = case.phase().map(phase_view);
        let stage = match (&phase, case.job_state(), surface) {
            (Some(p), _, _) => Some(p.clone()),
            (None, Some(JobState::Queued), Some(s)) => {
                Some(phase_view(s.phase_name(s.first_phase())))
            }
            _ => None,
        };
        let mut evidence = BTreeMap::new();
        if let Some(se) = case.service_event.as_ref() {
            if let Some(s) = surface {
                for category in &s.evidence().categories {
                    evidence.insert(category.clone(), 0);
                }
            }
            for (category, count) in &se.evidence_counts {
                evidence.insert(category.clone(), *count);
            }
        }
        Some(CaseView {
            case: case.id.clone(),
            version: case.version,
            surface: request.surface.key(),
            surface_name: surface.map(|s| s.name().to_string()),
            submitted_by: request.submitted_by.clone(),
            submitted_at: request.submitted_at,
            task: case.task_state(),
            assignee: case.assignee().map(str::to_string),
            job: case.job_state(),
            owner: case.owner().map(str::to_string),
            service_event: case.service_event_state(),
            phase,
            stage,
            evidence,
            record: case.record.as_ref().map(|r| r.digest.clone()),
            settlement: case.settlement.as_ref().map(|s| s.status),
            signals: case.signals.clone(),
            pending_approval: case.pending_approval.as_ref().map(|p| PendingView {
                from: phase_view(&p.from),
                to: phase_view(&p.to),
                approval: p.approval.clone(),
                requested_by: p.requested_by.clone(),
                requested_at: p.requested_at,
            }),
            released: case.released.len(),
        })
    }
}

/// An operator's desk: the work in front of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Desk {
    /// The operator.
    pub operator: String,
    /// Queued Jobs the operator may claim: assigned to them, or on a surface whose ownership is
    /// `open`.
    pub queued: Vec<CaseView>,
    /// Claimed Jobs the operator owns.
    pub active: Vec<CaseView>,
    /// Completed Jobs the operator owned, on surfaces where `completed_visible` is true.
    pub completed: Vec<CaseView>,
}

/// Where a case sits on `operator`'s desk, if anywhere.
pub(crate) fn desk_slot(
    case: &Case,
    surface: Option<&Surface>,
    operator: &str,
) -> Option<DeskSlot> {
    match case.job_state()? {
        JobState::Queued => {
            let open = surface.is_some_and(|s| s.execution().ownership == Ownership::Open);
            (open || case.assignee() == Some(operator)).then_some(DeskSlot::Queued)
        }
        JobState::Claimed => (case.owner() == Some(operator)).then_some(DeskSlot::Active),
        JobState::Completed => {
            let visible = surface.is_none_or(|s| s.execution().completed_visible);
            (visible && case.owner() == Some(operator)).then_some(DeskSlot::Completed)
        }
        JobState::Cancelled => None,
    }
}

/// A column of the desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeskSlot {
    Queued,
    Active,
    Completed,
}

/// Whether a case belongs in the governance queue: its Task is open or approved (to review,
/// assign or hand off), or a move waits for approval.
pub(crate) fn in_governance_queue(case: &Case) -> bool {
    matches!(
        case.task_state(),
        Some(TaskState::Open | TaskState::Approved)
    ) || case.pending_approval.is_some()
}

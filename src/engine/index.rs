//! The index rows the engine writes with every append, and how it checks them.
//!
//! A row is a pure function of the folded stream, its pinned surface and the time of its last
//! event ([`case_row`]); the engine computes it after each decision and the store writes it in
//! the same transaction as the events (docs/queries.md). The fields that need the surface
//! (`claim_open`, `completed_visible`, `next_due_at`) take their "surface unknown" values when
//! the pinned surface is not registered; [`compare`] checks them only when it was.

use crate::host::index::is_operator_stream;
use crate::host::{CaseIndex, IndexRow, OperatorIndex, QueueNeed};
use crate::spine::operator::OperatorProfile;
use crate::spine::{self, Case, JobState, Millis, TaskState};
use crate::surface::Surface;
use crate::surface::ast::Ownership;

/// The index row of the stream `stream`, folded as `case`, whose last event was decided at
/// `last_activity`; `surface` is the pinned surface when registered, `profile` the operator's
/// profile when `stream` is an operator's stream (`operator:<id>`). `None` for a case stream
/// that holds no request and for an operator stream without a profile.
pub(crate) fn row_for(
    stream: &str,
    case: &Case,
    profile: Option<&OperatorProfile>,
    surface: Option<&Surface>,
    last_activity: Millis,
) -> Option<IndexRow> {
    if is_operator_stream(stream) {
        return profile.map(|p| {
            IndexRow::Operator(OperatorIndex {
                operator: p.id.clone(),
                version: case.version,
                status: p.status.as_str().to_string(),
                surfaces: p.surfaces.clone(),
            })
        });
    }
    case_row(case, surface, last_activity).map(IndexRow::Case)
}

/// The index row of `case` (see [`row_for`]).
pub(crate) fn case_row(
    case: &Case,
    surface: Option<&Surface>,
    last_activity: Millis,
) -> Option<CaseIndex> {
    let request = case.request.as_ref()?;
    let task = case.task_state();
    let job = case.job_state();
    let phase = case.phase().map(str::to_string);
    let stage = phase.clone().or_else(|| match job {
        // While the Job waits, its clock runs in the first phase.
        Some(JobState::Queued) => case.clock.as_ref().map(|c| c.phase.clone()),
        _ => None,
    });
    // The phase a move waiting for approval goes to.
    let pending_approval = case.pending_approval.as_ref().map(|p| p.to.clone());
    let queue = if pending_approval.is_some() {
        Some(QueueNeed::Approval)
    } else {
        match (task, job, case.assignee()) {
            (Some(TaskState::Open), _, _) => Some(QueueNeed::Review),
            (Some(TaskState::Approved), None, None) => Some(QueueNeed::Assign),
            (Some(TaskState::Approved), None, Some(_)) => Some(QueueNeed::HandOff),
            _ => None,
        }
    };
    Some(CaseIndex {
        case: case.id.clone(),
        version: case.version,
        surface: request.surface.slug.clone(),
        surface_version: request.surface.version,
        task,
        assignee: case.assignee().map(str::to_string),
        job,
        owner: case.owner().map(str::to_string),
        phase,
        stage,
        service_event: case.service_event_state(),
        pending_approval,
        queue,
        claim_open: surface.is_some_and(|s| s.execution().ownership == Ownership::Open),
        completed_visible: surface.is_none_or(|s| s.execution().completed_visible),
        created_at: request.submitted_at,
        last_activity,
        next_due_at: surface.and_then(|s| spine::next_escalation_due(case, s)),
    })
}

/// How a stored row differs from the row the events imply: the names of the fields that
/// differ (empty when they agree). Fields that need the surface are compared only when
/// `surface_known`.
pub(crate) fn compare(
    stored: &IndexRow,
    derived: &IndexRow,
    surface_known: bool,
) -> Vec<&'static str> {
    let mut differ = Vec::new();
    match (stored, derived) {
        (IndexRow::Case(a), IndexRow::Case(b)) => {
            let mut check = |name: &'static str, same: bool| {
                if !same {
                    differ.push(name);
                }
            };
            check("case", a.case == b.case);
            check("version", a.version == b.version);
            check("surface", a.surface == b.surface);
            check("surface_version", a.surface_version == b.surface_version);
            check("task", a.task == b.task);
            check("assignee", a.assignee == b.assignee);
            check("job", a.job == b.job);
            check("owner", a.owner == b.owner);
            check("phase", a.phase == b.phase);
            check("stage", a.stage == b.stage);
            check("service_event", a.service_event == b.service_event);
            check("pending_approval", a.pending_approval == b.pending_approval);
            check("queue", a.queue == b.queue);
            check("created_at", a.created_at == b.created_at);
            check("last_activity", a.last_activity == b.last_activity);
            if surface_known {
                check("claim_open", a.claim_open == b.claim_open);
                check(
                    "completed_visible",
                    a.completed_visible == b.completed_visible,
                );
                check("next_due_at", a.next_due_at == b.next_due_at);
            }
        }
        (IndexRow::Operator(a), IndexRow::Operator(b)) => {
            if a != b {
                differ.push("operator");
            }
        }
        _ => differ.push("kind"),
    }
    differ
}

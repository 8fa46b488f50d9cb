//! The task layer: `approve_task`, `reject_task`, `assign_task`, `annotate_task`, `close_task`.
//!
//! This module owns the governance of a request: the Task's review, the Assignment (which may
//! change only until the Job is claimed, and under `operators = "registered"` goes only to an
//! active operator bound to the surface), notes (an operator writes only on a task assigned
//! to them) and closure. Nobody approves their own request (`self_approval`). Each command
//! checks the task's state (4), then who the principal (or the operator named) is (5) where
//! that matters, then the surface's rules (6). Task events never move the Job, the
//! ServiceEvent or the Settlement, and an Assignment is never a Job: only `create_job`, on the
//! job layer, makes one.

use serde_json::json;

use crate::policy::Role;
use crate::spine::case::{JobState, TaskState};
use crate::spine::catalog::Catalog;
use crate::spine::decide::Ctx;
use crate::spine::gates::rules::run_rules;
use crate::spine::gates::{ok, operator_gate, reject, task_state_gate};
use crate::spine::limits;
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::Surface;

/// `approve_task`: Task `open` → `approved`.
pub(super) fn approve_task<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    task_review(cx, surface, true, None)
}

/// `reject_task`: Task `open` → `rejected`, with the reason.
pub(super) fn reject_task<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    task_review(cx, surface, false, Some(reason))
}

/// The review of an open task: approved, or rejected with `reason`.
fn task_review<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    approve: bool,
    reason: Option<&str>,
) -> Result<Vec<Event>, Rejection> {
    let what = if approve {
        "only an open task can be approved"
    } else {
        "only an open task can be rejected"
    };
    task_state_gate(cx.trace, cx.case, &[TaskState::Open], what)?;
    if approve {
        self_approval_gate(cx)?;
    }
    let kind = if approve {
        CommandKind::ApproveTask
    } else {
        CommandKind::RejectTask
    };
    run_rules(cx, surface, cx.case, None, &[kind])?;
    let by = cx.principal.id.clone();
    Ok(vec![match reason {
        None => Event::TaskApproved { by, at: cx.now },
        Some(reason) => Event::TaskRejected {
            by,
            reason: reason.to_string(),
            at: cx.now,
        },
    }])
}

/// (5) Separation of duties: the principal who submitted the request does not approve it.
fn self_approval_gate<C: Catalog, T: Trace>(cx: &mut Ctx<'_, C, T>) -> Result<(), Rejection> {
    let submitted_by = cx.case.request.as_ref().map(|r| r.submitted_by.as_str());
    let me = cx.principal.id.as_str();
    gate(
        cx.trace,
        "separation",
        if submitted_by == Some(me) {
            Err(Rejection::new(
                Code::SelfApproval,
                format!("`{me}` submitted this request: someone else must approve it"),
            )
            .with_detail(json!({ "submitted_by": me })))
        } else {
            ok()
        },
        || format!("`{me}` did not submit the request"),
    )
}

/// `assign_task`: records the Assignment; the task must be approved and the job, if any, not
/// yet claimed; under `operators = "registered"` the operator must be active and bound.
pub(super) fn assign_task<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    operator: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    let state = case.task_state();
    let job = case.job_state();
    let result = match (state, job) {
        (Some(TaskState::Closed), _) => reject(
            Code::InvalidState,
            "the task is closed: it can no longer be assigned",
        ),
        (_, Some(j)) if j != JobState::Queued => Err(Rejection::new(
            Code::InvalidState,
            format!(
                "the job is {}: the assignment can change only until the job is claimed",
                j.as_str()
            ),
        )
        .with_detail(json!({ "layer": "job", "state": j.as_str() }))),
        (Some(TaskState::Approved), _) => ok(),
        (s, _) => Err(Rejection::new(
            Code::TaskNotApproved,
            format!(
                "the task is {}: only an approved task can be assigned",
                s.map(TaskState::as_str).unwrap_or("none")
            ),
        )),
    };
    gate(cx.trace, "task", result, || {
        "the task is approved and the job, if any, is not yet claimed".into()
    })?;
    operator_gate(cx, surface, operator, "the operator")?;
    run_rules(cx, surface, case, None, &[CommandKind::AssignTask])?;
    Ok(vec![Event::TaskAssigned {
        operator: operator.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// `annotate_task`: a note on the task, by an admin or the operator it is assigned to.
pub(super) fn annotate_task<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    note: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    task_state_gate(
        cx.trace,
        case,
        &[TaskState::Open, TaskState::Approved, TaskState::Rejected],
        "notes can no longer be added",
    )?;
    let notes = case.task.as_ref().map(|t| t.notes.len()).unwrap_or(0);
    gate(
        cx.trace,
        "task",
        if notes >= limits::MAX_NOTES {
            reject(
                Code::InvalidState,
                format!(
                    "the task already holds {} notes, the most allowed",
                    limits::MAX_NOTES
                ),
            )
        } else {
            ok()
        },
        || "the task has room for another note".into(),
    )?;
    // (5) Audience: an operator writes only on a task assigned to them.
    let admin = cx.principal.has(Role::Admin);
    let assignee = case.assignee();
    gate(
        cx.trace,
        "audience",
        if admin || assignee == Some(cx.principal.id.as_str()) {
            ok()
        } else {
            Err(Rejection::new(
                Code::AudienceMismatch,
                format!("the task is not assigned to `{}`: only its assignee or an admin may annotate it", cx.principal.id),
            )
            .with_detail(json!({ "assignee": assignee })))
        },
        || format!("`{}` is in the task's audience", cx.principal.id),
    )?;
    run_rules(cx, surface, case, None, &[CommandKind::AnnotateTask])?;
    Ok(vec![Event::TaskAnnotated {
        by: cx.principal.id.clone(),
        note: note.to_string(),
        at: cx.now,
    }])
}

/// `close_task`: governance closure; changes no Job, ServiceEvent or Settlement.
pub(super) fn close_task<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    task_state_gate(
        cx.trace,
        cx.case,
        &[TaskState::Open, TaskState::Approved, TaskState::Rejected],
        "it is already closed",
    )?;
    run_rules(cx, surface, cx.case, None, &[CommandKind::CloseTask])?;
    Ok(vec![Event::TaskClosed {
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

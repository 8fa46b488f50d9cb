//! The job layer: `create_job`, `claim_job`, `complete_job`, `cancel_job`, and the claim.
//!
//! This module owns the Job's life: the explicit hand-off from an approved, assigned task
//! (`create_job`, the only command that makes a Job), the claim (the surface must take claims,
//! the principal must be eligible, a prepaid surface needs a captured settlement, and the
//! claim opens the ServiceEvent in the second phase), handover (`reassign_job`: the owner
//! changes, the work stays) and release (`release_job`: back to the queue before any work),
//! completion (only after the ServiceEvent is complete) and cancellation (never of delivered
//! work). The claim helpers (`eligible_gate`, `prepaid_gate`,
//! `claim_events`) are shared with the implicit claim of `claim = "optional"` surfaces,
//! which the service event layer judges on the first `advance`. It never moves a phase or
//! touches evidence (the service event layer does), and never writes economic state.

use serde_json::json;

use crate::spine::case::{Case, JobState, Millis, ServiceEventState, SettlementStatus, TaskState};
use crate::spine::catalog::Catalog;
use crate::spine::decide::Ctx;
use crate::spine::gates::rules::run_rules;
use crate::spine::gates::{
    approval_pending_gate, job_gate, ok, operator_gate, owner_gate, reject,
    service_event_open_gate, surface_takes_claims,
};
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::Surface;
use crate::surface::ast::{Ownership, PaymentTiming};

/// `create_job`: the explicit hand-off. The task must be approved and assigned, and the case
/// must have no job yet; the Job starts `queued` in the surface's first phase.
pub(super) fn create_job<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    let state = case.task_state();
    gate(
        cx.trace,
        "task",
        if state == Some(TaskState::Approved) {
            ok()
        } else {
            Err(Rejection::new(
                Code::TaskNotApproved,
                format!(
                    "the task is {}: a job is created only from an approved task",
                    state.map(TaskState::as_str).unwrap_or("none")
                ),
            ))
        },
        || "the task is approved".into(),
    )?;
    gate(
        cx.trace,
        "assignment",
        if case.assignment.is_some() {
            ok()
        } else {
            reject(
                Code::NotAssigned,
                "no operator is assigned: assign the task before creating the job",
            )
        },
        || {
            format!(
                "the task is assigned to `{}`",
                case.assignee().unwrap_or("")
            )
        },
    )?;
    gate(
        cx.trace,
        "job",
        match case.job_state() {
            Some(s) => reject(
                Code::JobExists,
                format!("the case already has a job ({})", s.as_str()),
            ),
            None => ok(),
        },
        || "the case has no job yet".into(),
    )?;
    run_rules(cx, surface, case, None, &[CommandKind::CreateJob])?;
    let phase = surface.phase_name(surface.first_phase()).to_string();
    Ok(vec![Event::JobCreated {
        by: cx.principal.id.clone(),
        phase,
        at: cx.now,
    }])
}

/// `claim_job`: the operator claims the queued Job; the ServiceEvent opens in the second phase.
pub(super) fn claim_job<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    surface_takes_claims(cx, surface)?;
    job_gate(
        cx.trace,
        cx.case,
        &[JobState::Queued],
        "only a queued job can be claimed",
    )?;
    eligible_gate(cx, surface)?;
    let me = cx.principal;
    operator_gate(cx, surface, &me.id, "the claimer")?;
    prepaid_gate(cx.trace, cx.case, surface)?;
    let claim_rule = surface
        .transition(surface.first_phase(), surface.claimed_phase())
        .and_then(|t| t.rule);
    run_rules(cx, surface, cx.case, claim_rule, &[CommandKind::ClaimJob])?;
    Ok(claim_events(surface, &cx.principal.id, false, cx.now).into())
}

/// `complete_job`: Job `completed`, by its owner or an admin, once the ServiceEvent is complete.
pub(super) fn complete_job<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[JobState::Claimed],
        "only a claimed job can be completed",
    )?;
    gate(
        cx.trace,
        "service_event",
        if case.service_event_state() == Some(ServiceEventState::Complete) {
            ok()
        } else {
            reject(
                Code::ServiceEventNotComplete,
                "the service event is not complete: complete it (and seal the record) before the job",
            )
        },
        || "the service event is complete".into(),
    )?;
    owner_gate(cx, true)?;
    owner_operator_gate(cx, surface)?;
    run_rules(cx, surface, case, None, &[CommandKind::CompleteJob])?;
    Ok(vec![Event::JobCompleted {
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// `cancel_job`: Job `cancelled`, while it is queued or claimed and its ServiceEvent is not
/// complete (a sealed Record of delivered work is never undone by a cancel). A move waiting
/// for approval is dropped with the Job.
pub(super) fn cancel_job<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    job_gate(
        cx.trace,
        cx.case,
        &[JobState::Queued, JobState::Claimed],
        "only an unfinished job can be cancelled",
    )?;
    gate(
        cx.trace,
        "service_event",
        if cx.case.service_event_state() == Some(ServiceEventState::Complete) {
            Err(Rejection::new(
                Code::InvalidState,
                "the service event is complete: a sealed record of delivered work is never undone by a cancel",
            )
            .with_detail(json!({ "layer": "service_event", "state": "complete" })))
        } else {
            ok()
        },
        || "the service event is not complete".into(),
    )?;
    run_rules(cx, surface, cx.case, None, &[CommandKind::CancelJob])?;
    Ok(vec![Event::JobCancelled {
        by: cx.principal.id.clone(),
        reason: reason.to_string(),
        at: cx.now,
    }])
}

/// `reassign_job`: the claimed Job and its open ServiceEvent (phase, evidence and any move
/// waiting for approval kept) go to `operator`, who becomes the owner. The Task's Assignment
/// is history and stays.
pub(super) fn reassign_job<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    operator: &str,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[JobState::Claimed],
        "only a claimed job can be handed over",
    )?;
    service_event_open_gate(cx.trace, case)?;
    let owner = case.owner().unwrap_or_default();
    gate(
        cx.trace,
        "owner",
        if owner == operator {
            Err(Rejection::new(
                Code::InvalidState,
                format!("`{operator}` already owns the job"),
            )
            .with_detail(json!({ "layer": "job", "owner": owner })))
        } else {
            ok()
        },
        || format!("the job goes from `{owner}` to `{operator}`"),
    )?;
    operator_gate(cx, surface, operator, "the operator")?;
    run_rules(cx, surface, case, None, &[CommandKind::ReassignJob])?;
    Ok(vec![Event::JobReassigned {
        from: owner.to_string(),
        to: operator.to_string(),
        reason: reason.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// `release_job`: a claimed Job whose ServiceEvent is still in the second phase with no
/// evidence (no work done) and no move waiting for approval goes back to `queued`, by its
/// owner or an admin. The ServiceEvent is closed into the case's history; a later claim opens
/// a new one, and the escalation clock restarts in the first phase.
pub(super) fn release_job<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[JobState::Claimed],
        "only a claimed job can be released",
    )?;
    service_event_open_gate(cx.trace, case)?;
    approval_pending_gate(
        cx.trace,
        case,
        surface,
        "approve or reject it before releasing the job",
    )?;
    let second = surface.phase_name(surface.claimed_phase());
    let (phase, items) = case
        .service_event
        .as_ref()
        .map_or(("", 0), |se| (se.phase.as_str(), se.evidence.len()));
    gate(
        cx.trace,
        "service_event",
        if phase != second {
            Err(Rejection::new(
                Code::InvalidState,
                format!(
                    "the service event is in `{phase}`: a job is released only before any work, in `{second}`"
                ),
            )
            .with_detail(json!({ "layer": "service_event", "phase": phase })))
        } else if items > 0 {
            Err(Rejection::new(
                Code::InvalidState,
                format!(
                    "the service event holds {items} evidence item{}: a job is released only before any work",
                    if items == 1 { "" } else { "s" }
                ),
            )
            .with_detail(json!({ "layer": "service_event", "evidence": items })))
        } else {
            ok()
        },
        || format!("no work is done yet: the service event is in `{second}` with no evidence"),
    )?;
    owner_gate(cx, true)?;
    owner_operator_gate(cx, surface)?;
    run_rules(cx, surface, case, None, &[CommandKind::ReleaseJob])?;
    Ok(vec![Event::JobReleased {
        phase: surface.phase_name(surface.first_phase()).to_string(),
        reason: reason.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// (5) When the owner sends a command an admin may also send (`complete_job`,
/// `release_job`), the owner must still be an active operator bound to the surface under
/// `operators = "registered"`; an admin acting for them is not checked.
fn owner_operator_gate<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<(), Rejection> {
    let me = cx.principal;
    if cx.case.owner() == Some(me.id.as_str()) {
        operator_gate(cx, surface, &me.id, "the owner")?;
    }
    Ok(())
}

/// (5) Eligibility to claim: the assignee, or any operator when ownership is open.
pub(super) fn eligible_gate<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<(), Rejection> {
    let open = surface.execution().ownership == Ownership::Open;
    let assignee = cx.case.assignee();
    gate(
        cx.trace,
        "eligibility",
        if open || assignee == Some(cx.principal.id.as_str()) {
            ok()
        } else {
            Err(Rejection::new(
                Code::NotAssignee,
                format!(
                    "the job is assigned to `{}`, not `{}`",
                    assignee.unwrap_or("nobody"),
                    cx.principal.id
                ),
            )
            .with_detail(json!({ "assignee": assignee })))
        },
        || {
            if open {
                "ownership is open: any operator may claim".into()
            } else {
                format!("`{}` is the assignee", cx.principal.id)
            }
        },
    )
}

/// (6) Prepaid surfaces need a captured settlement before the claim.
pub(super) fn prepaid_gate<T: Trace>(
    trace: &mut T,
    case: &Case,
    surface: &Surface,
) -> Result<(), Rejection> {
    let prepaid = surface.execution().payment_timing == PaymentTiming::Prepaid;
    let captured = case.settlement.as_ref().map(|s| s.status) == Some(SettlementStatus::Captured);
    gate(
        trace,
        "settlement",
        if !prepaid || captured {
            ok()
        } else {
            reject(
                Code::SettlementRequired,
                "this surface is prepaid: a captured settlement must exist before the claim",
            )
        },
        || {
            if prepaid {
                "a captured settlement exists".into()
            } else {
                "payment is independent of execution".into()
            }
        },
    )
}

/// The events of a claim by `operator` (`implicit` for the first `advance` of an optional
/// claim): the Job is claimed and the ServiceEvent opens in the second phase.
pub(super) fn claim_events(
    surface: &Surface,
    operator: &str,
    implicit: bool,
    now: Millis,
) -> [Event; 2] {
    [
        Event::JobClaimed {
            operator: operator.to_string(),
            implicit,
            at: now,
        },
        Event::ServiceEventOpened {
            phase: surface.phase_name(surface.claimed_phase()).to_string(),
            at: now,
        },
    ]
}

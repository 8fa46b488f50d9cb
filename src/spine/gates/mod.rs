//! The gates: the checks that several commands share, each one [`gate`] with its own name.
//!
//! This module owns the checks that do not belong to one layer: the role (1), the case and
//! its pinned surface (2), whether the surface takes claims (2), the state of the task, the
//! job and the service event and whether a move waits for approval (4), who owns the job and
//! whether an operator may act under `operators = "registered"` (5), and the evidence a move
//! needs (6).
//! [`payload`] holds the argument checks (3) and [`rules`] runs the surface's rules (6). Each
//! gate records itself in the [`Trace`] and returns the rejection its rank in the precedence
//! order of `docs/commands.md` calls for, with the same code, message and detail whichever
//! command asks. A gate never decides which gates run or in what order (the command does, in
//! `spine::decide`), never builds an event, and, like all of the spine, never reads a clock,
//! does I/O or panics.

pub(super) mod payload;
pub(super) mod rules;

use std::collections::BTreeMap;

use serde_json::json;

use crate::policy::{self, Principal, Role, missing_evidence};
use crate::spine::case::{Case, JobState, ServiceEventState, TaskState};
use crate::spine::catalog::Catalog;
use crate::spine::decide::Ctx;
use crate::spine::operator::OperatorStatus;
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Rejection, RejectionCode as Code};
use crate::surface::Surface;
use crate::surface::ast::Status;

/// A failed check with `code` and `message`.
pub(super) fn reject(code: Code, message: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection::new(code, message))
}

/// A check that held.
pub(super) fn ok() -> Result<(), Rejection> {
    Ok(())
}

/// (1) The role: `principal` holds one of the roles that may send `kind`.
pub(super) fn role_gate<T: Trace>(
    trace: &mut T,
    principal: &Principal,
    kind: CommandKind,
) -> Result<(), Rejection> {
    gate(
        trace,
        "role",
        if policy::may_send(principal, kind) {
            ok()
        } else {
            let allowed: Vec<&str> = policy::allowed_roles(kind)
                .iter()
                .map(|r| r.as_str())
                .collect();
            Err(Rejection::new(
                Code::ForbiddenRole,
                format!(
                    "`{}` may not send `{kind}`; it needs one of the roles {}",
                    principal.id,
                    allowed.join(", ")
                ),
            )
            .with_detail(json!({ "command": kind.as_str(), "allowed_roles": allowed })))
        },
        || format!("`{}` holds a role that may send `{kind}`", principal.id),
    )
}

/// (2) The case the command addresses exists.
pub(super) fn case_gate<C: Catalog, T: Trace>(cx: &mut Ctx<'_, C, T>) -> Result<(), Rejection> {
    let (case, command) = (cx.case, cx.command);
    gate(
        cx.trace,
        "case",
        if case.exists() {
            ok()
        } else {
            reject(
                Code::CaseNotFound,
                format!("there is no case `{}`", command.case),
            )
        },
        || format!("case `{}` exists", command.case),
    )
}

/// (2) The surface the case is pinned to, unchanged since submission.
pub(super) fn pinned_surface<'a, C: Catalog, T: Trace>(
    cx: &mut Ctx<'a, C, T>,
) -> Result<&'a Surface, Rejection> {
    let Some(request) = cx.case.request.as_ref() else {
        return Err(Rejection::new(
            Code::CaseNotFound,
            format!("there is no case `{}`", cx.case.id),
        ));
    };
    let pin = &request.surface;
    let found = cx.catalog.exact(&pin.slug, pin.version);
    let result = match found {
        None => reject(Code::UnknownSurface, format!("the case is pinned to `{}`, which is not registered", pin.key())),
        Some(s) if !s.fingerprint_matches(&pin.fingerprint) => Err(Rejection::new(
            Code::UnknownSurface,
            format!("`{}` is registered with a different definition than the one the case was submitted under", pin.key()),
        )
        .with_detail(json!({ "pinned": pin.fingerprint, "registered": s.fingerprint().to_hex() }))),
        Some(_) => ok(),
    };
    gate(cx.trace, "surface", result, || {
        format!("the case is judged by `{}` as pinned", pin.key())
    })?;
    found
        .ok_or_else(|| Rejection::new(Code::UnknownSurface, "the pinned surface is not registered"))
}

/// (2) Claims (explicit or implicit) need the surface to take new work.
pub(super) fn surface_takes_claims<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<(), Rejection> {
    let latest_status = cx
        .catalog
        .latest(surface.slug())
        .map(Surface::status)
        .unwrap_or(surface.status());
    let status = if surface.status() != Status::Active {
        surface.status()
    } else {
        latest_status
    };
    gate(
        cx.trace,
        "surface_status",
        if status == Status::Active {
            ok()
        } else {
            reject(
                Code::SurfaceInactive,
                format!(
                    "surface `{}` is {status}: it takes no claims",
                    surface.slug()
                ),
            )
        },
        || format!("surface `{}` is active", surface.slug()),
    )
}

/// (4) The task is in one of the `allowed` states; `what` ends the message when it is not.
pub(super) fn task_state_gate<T: Trace>(
    trace: &mut T,
    case: &Case,
    allowed: &[TaskState],
    what: &str,
) -> Result<(), Rejection> {
    let state = case.task_state();
    let result = match state {
        Some(s) if allowed.contains(&s) => ok(),
        Some(s) => Err(Rejection::new(
            Code::InvalidState,
            format!("the task is {}: {what}", s.as_str()),
        )
        .with_detail(json!({ "layer": "task", "state": s.as_str() }))),
        None => reject(Code::InvalidState, "the case has no task"),
    };
    gate(trace, "task", result, || {
        format!(
            "the task is {}",
            state.map(TaskState::as_str).unwrap_or("none")
        )
    })
}

/// (4) The case has a job in one of the `allowed` states (`what` ends the message when it is
/// not); returns that state.
pub(super) fn job_gate<T: Trace>(
    trace: &mut T,
    case: &Case,
    allowed: &[JobState],
    what: &str,
) -> Result<JobState, Rejection> {
    let state = case.job_state();
    let result = match state {
        None => reject(
            Code::NoJob,
            "the case has no job: an admin must create it first",
        ),
        Some(s) if allowed.contains(&s) => ok(),
        Some(s) => Err(Rejection::new(
            Code::InvalidState,
            format!("the job is {}: {what}", s.as_str()),
        )
        .with_detail(json!({ "layer": "job", "state": s.as_str() }))),
    };
    gate(trace, "job", result, || {
        format!(
            "the job is {}",
            state.map(JobState::as_str).unwrap_or("none")
        )
    })?;
    state.ok_or_else(|| Rejection::new(Code::NoJob, "the case has no job"))
}

/// (4) The service event is open.
pub(super) fn service_event_open_gate<T: Trace>(
    trace: &mut T,
    case: &Case,
) -> Result<(), Rejection> {
    let state = case.service_event_state();
    gate(
        trace,
        "service_event",
        match state {
            Some(ServiceEventState::Open) => ok(),
            Some(s) => reject(
                Code::InvalidState,
                format!("the service event is {}", s.as_str()),
            ),
            None => reject(
                Code::InvalidState,
                "the job has not been claimed: there is no service event yet",
            ),
        },
        || "the service event is open".into(),
    )
}

/// (5) The principal owns the job (or is an admin, when `allow_admin`).
pub(super) fn owner_gate<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    allow_admin: bool,
) -> Result<(), Rejection> {
    let owner = cx.case.owner();
    let admin = allow_admin && cx.principal.has(Role::Admin);
    gate(
        cx.trace,
        "owner",
        if admin || owner == Some(cx.principal.id.as_str()) {
            ok()
        } else {
            Err(Rejection::new(
                Code::NotOwner,
                format!(
                    "the job is owned by `{}`, not `{}`",
                    owner.unwrap_or("nobody"),
                    cx.principal.id
                ),
            )
            .with_detail(json!({ "owner": owner })))
        },
        || {
            if admin {
                "admins may do this".into()
            } else {
                format!("`{}` owns the job", cx.principal.id)
            }
        },
    )
}

/// (6) Every category in `categories` holds enough evidence in `counts`.
/// `what` names the move in messages; it is only built when a message is.
pub(super) fn evidence_gate<T: Trace>(
    trace: &mut T,
    surface: &Surface,
    categories: Vec<&str>,
    counts: &BTreeMap<String, u32>,
    what: impl Fn() -> String,
) -> Result<(), Rejection> {
    let missing = missing_evidence(surface, categories.iter().copied(), counts);
    let result = if missing.is_empty() {
        ok()
    } else {
        let names: Vec<String> = missing
            .iter()
            .map(|m| format!("`{}` ({} of {})", m.category, m.have, m.need))
            .collect();
        Err(Rejection::new(
            Code::EvidenceMissing,
            format!("{} needs more evidence: {}", what(), names.join(", ")),
        )
        .with_detail(json!({ "missing": missing })))
    };
    gate(trace, "evidence", result, || {
        if categories.is_empty() {
            format!("{} requires no evidence", what())
        } else {
            format!("{}: every required category holds enough evidence", what())
        }
    })
}

/// (4) No move waits for approval: while one does, the ServiceEvent neither moves nor is
/// released. Made only on surfaces that declare an approval (on the others nothing can wait).
pub(super) fn approval_pending_gate<T: Trace>(
    trace: &mut T,
    case: &Case,
    surface: &Surface,
    what: &str,
) -> Result<(), Rejection> {
    if !surface.has_approvals() && case.pending_approval.is_none() {
        return ok();
    }
    let result = match &case.pending_approval {
        None => ok(),
        Some(pending) => {
            let roles: Vec<&str> = pending.approval.iter().map(|r| r.as_str()).collect();
            Err(Rejection::new(
                Code::ApprovalPending,
                format!(
                    "the move to `{}` waits for approval by {}: {what}",
                    pending.to,
                    roles.join(" or ")
                ),
            )
            .with_detail(json!({
                "to": pending.to,
                "approval": roles,
                "requested_by": pending.requested_by,
            })))
        }
    };
    gate(trace, "approval", result, || {
        "no move waits for approval".into()
    })
}

/// (5) Under `operators = "registered"`: `operator` (`whom` says who that is in messages: the
/// principal, the operator a command names) has a profile that is active and bound to the
/// surface. Under `operators = "any"` nothing is checked (and nothing recorded).
pub(super) fn operator_gate<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    operator: &str,
    whom: &str,
) -> Result<(), Rejection> {
    if !surface.registered_operators() {
        return ok();
    }
    let slug = surface.slug();
    let result = match cx.catalog.profile(operator) {
        None => Err(Rejection::new(
            Code::OperatorInactive,
            format!("{whom} `{operator}` is not a registered operator: `{slug}` takes only registered operators"),
        )
        .with_detail(json!({ "operator": operator, "registered": false }))),
        Some(p) if p.status != OperatorStatus::Active => Err(Rejection::new(
            Code::OperatorInactive,
            format!("{whom} `{operator}` is {}", p.status),
        )
        .with_detail(json!({ "operator": operator, "status": p.status.as_str() }))),
        Some(p) if !p.binds(slug) => Err(Rejection::new(
            Code::OperatorInactive,
            format!("{whom} `{operator}` is not bound to `{slug}`"),
        )
        .with_detail(json!({ "operator": operator, "surfaces": p.surfaces, "surface": slug }))),
        Some(_) => ok(),
    };
    gate(cx.trace, "operator", result, || {
        format!("`{operator}` is an active operator bound to `{slug}`")
    })
}

/// (1) `approve_transition` / `reject_transition`: when the case has a pending move, the
/// principal holds one of the roles its `approval` names (the static role gate let through
/// every role that may ever approve). Recorded only when a move is pending; without one the
/// state gate (4) refuses.
pub(super) fn approval_role_gate<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
) -> Result<(), Rejection> {
    let Some(pending) = cx.case.pending_approval.as_ref() else {
        return ok();
    };
    let principal = cx.principal;
    let roles: Vec<&str> = pending.approval.iter().map(|r| r.as_str()).collect();
    gate(
        cx.trace,
        "role",
        if pending.approval.iter().any(|r| principal.has(*r)) {
            ok()
        } else {
            Err(Rejection::new(
                Code::ForbiddenRole,
                format!(
                    "`{}` may not decide the move to `{}`; it needs one of the roles {}",
                    principal.id,
                    pending.to,
                    roles.join(", ")
                ),
            )
            .with_detail(json!({ "command": cx.command.kind().as_str(), "allowed_roles": roles })))
        },
        || {
            format!(
                "`{}` holds a role the pending move names ({})",
                principal.id,
                roles.join(", ")
            )
        },
    )
}

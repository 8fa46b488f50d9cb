//! The service event layer: `advance`, `attach_evidence`, `complete_service_event`.
//!
//! This module owns the execution of a claimed Job: moving the ServiceEvent only along the
//! surface's declared transitions (never into the last phase, which only completion enters),
//! with the evidence each move requires; adding evidence in declared categories; and
//! completion, which needs every required category, enters the last phase, seals the Record
//! (through `spine::record`) and emits the `record` signal, all in one decision. On a
//! `claim = "optional"` surface the eligible operator's first `advance` claims the queued Job
//! (`advance_claiming`, with the claim checks of the job layer). Only the Job's owner acts
//! here (under `operators = "registered"`, only while their profile is active and bound).
//!
//! A move with `approval` (into any phase, the last included) whose checks all hold is asked
//! for (`transition_requested`) and waits: while it does, the ServiceEvent neither moves nor
//! completes (`approval_pending`), evidence may still be attached. `approve_transition` checks
//! the move again on the case as it is then and makes it; `reject_transition` drops it. It
//! never changes the Job's state (claims aside) or the Settlement.

use std::collections::BTreeMap;

use serde_json::json;

use crate::policy::{Principal, Role};
use crate::spine::case::{Case, JobState, PendingApproval, Signal};
use crate::spine::catalog::Catalog;
use crate::spine::command::{Command, CommandBody};
use crate::spine::decide::Ctx;
use crate::spine::decide::job::{claim_events, eligible_gate, prepaid_gate};
use crate::spine::gates::rules::{run_rules, run_rules_as};
use crate::spine::gates::{
    approval_pending_gate, evidence_gate, job_gate, ok, operator_gate, owner_gate, reject,
    service_event_open_gate, surface_takes_claims,
};
use crate::spine::limits;
use crate::spine::record::seal_record;
use crate::spine::signal::signal_id;
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::ast::ClaimPolicy;
use crate::surface::{PhaseId, Surface, TransitionInfo};

/// `advance`: moves the open ServiceEvent to `to` along a declared transition, by the Job's
/// owner, once the move's evidence and rules hold.
pub(super) fn advance<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    to: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    let optional = surface.execution().claim == ClaimPolicy::Optional;
    let implicit_claim = optional && case.job_state() == Some(JobState::Queued);
    if implicit_claim {
        surface_takes_claims(cx, surface)?;
    }
    let allowed: &[JobState] = if optional {
        &[JobState::Queued, JobState::Claimed]
    } else {
        &[JobState::Claimed]
    };
    job_gate(
        cx.trace,
        case,
        allowed,
        "the service event can move only while the job is claimed",
    )?;
    if implicit_claim {
        eligible_gate(cx, surface)?;
        return advance_claiming(cx, surface, to);
    }
    service_event_open_gate(cx.trace, case)?;
    approval_pending_gate(
        cx.trace,
        case,
        surface,
        "it must be approved or rejected first",
    )?;
    owner_gate(cx, false)?;
    let me = cx.principal;
    operator_gate(cx, surface, &me.id, "the owner")?;
    // (6) The move.
    let command = cx.command;
    let transition = advance_move(cx, surface, case, to, me, command)?;
    let from = case.phase().unwrap_or("").to_string();
    if !transition.approval.is_empty() {
        return Ok(vec![request_approval(
            cx,
            surface,
            from,
            to.to_string(),
            &transition.approval,
            None,
        )]);
    }
    Ok(vec![Event::PhaseAdvanced {
        from,
        to: to.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// (6) The move of `advance` to `to` from the ServiceEvent's current phase: declared (never
/// into the last phase, which only completion enters), with the evidence it requires and its
/// rules, judged with `mover` sending `command` (the owner's own `advance`, or the one a
/// pending approval asked for). Returns the transition.
fn advance_move<'s, C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &'s Surface,
    case: &Case,
    to: &str,
    mover: &Principal,
    command: &Command,
) -> Result<&'s TransitionInfo, Rejection> {
    let current_name = case.phase().unwrap_or("");
    let current = surface.phase_id(current_name);
    let target = surface.phase_id(to);
    let transition = match (current, target) {
        (Some(c), Some(t)) if t != surface.last_phase() => surface.transition(c, t),
        _ => None,
    };
    let result = match (target, transition) {
        (None, _) => reject(
            Code::NoSuchTransition,
            format!("`{to}` is not a phase of `{}`", surface.key()),
        ),
        (Some(t), _) if t == surface.last_phase() => Err(Rejection::new(
            Code::NoSuchTransition,
            format!("`{to}` is the last phase: it is entered only by `complete_service_event`"),
        )),
        (Some(_), None) => Err(Rejection::new(
            Code::NoSuchTransition,
            format!(
                "`{}` declares no move from `{current_name}` to `{to}`",
                surface.key()
            ),
        )
        .with_detail(
            json!({ "from": current_name, "to": to, "allowed": allowed_targets(surface, current) }),
        )),
        (Some(_), Some(_)) => ok(),
    };
    gate(cx.trace, "transition", result, || {
        format!("`{current_name}` → `{to}` is declared")
    })?;
    let transition =
        transition.ok_or_else(|| Rejection::new(Code::NoSuchTransition, "no such transition"))?;
    let counts = evidence_counts(case);
    let required: Vec<&str> = transition
        .requires
        .iter()
        .map(|c| surface.evidence().name(*c))
        .collect();
    evidence_gate(cx.trace, surface, required, counts, || {
        format!("moving to `{to}`")
    })?;
    run_rules_as(
        cx,
        surface,
        case,
        transition.rule,
        &[CommandKind::Advance],
        mover,
        command,
    )?;
    Ok(transition)
}

/// The event of a move with `approval` whose checks all held: it is asked for, and waits.
/// Recorded in the trace, so that `explain` says the move will wait.
fn request_approval<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    from: String,
    to: String,
    approval: &[Role],
    outcome: Option<String>,
) -> Event {
    if T::RECORDS {
        let roles: Vec<&str> = approval.iter().map(|r| r.as_str()).collect();
        let what = if surface.phase_id(&to) == Some(surface.last_phase()) {
            "completing the service event".to_string()
        } else {
            format!("moving to `{to}`")
        };
        cx.trace.record(
            "approval",
            true,
            format!(
                "{what} needs approval by {}: it is asked for and waits",
                roles.join(" or ")
            ),
            None,
        );
    }
    Event::TransitionRequested {
        from,
        to,
        approval: approval.to_vec(),
        outcome,
        by: cx.principal.id.clone(),
        at: cx.now,
    }
}

/// `claim = "optional"`: the eligible operator's first `advance` out of the first phase claims.
fn advance_claiming<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    to: &str,
) -> Result<Vec<Event>, Rejection> {
    let first = surface.first_phase();
    let second = surface.claimed_phase();
    let target = surface.phase_id(to);
    gate(
        cx.trace,
        "transition",
        if target == Some(second) {
            ok()
        } else {
            Err(Rejection::new(
                Code::NoSuchTransition,
                format!(
                    "the job is still queued: the first move is to `{}`, which claims it",
                    surface.phase_name(second)
                ),
            )
            .with_detail(json!({ "from": surface.phase_name(first), "to": to, "allowed": [surface.phase_name(second)] })))
        },
        || format!("`{to}` is the claiming move"),
    )?;
    let me = cx.principal;
    operator_gate(cx, surface, &me.id, "the claimer")?;
    prepaid_gate(cx.trace, cx.case, surface)?;
    let rule = surface.transition(first, second).and_then(|t| t.rule);
    run_rules(
        cx,
        surface,
        cx.case,
        rule,
        &[CommandKind::ClaimJob, CommandKind::Advance],
    )?;
    Ok(claim_events(surface, &cx.principal.id, true, cx.now).into())
}

/// The phases a ServiceEvent in `from` may move to with `advance` (the last phase is entered
/// only by completion).
fn allowed_targets(surface: &Surface, from: Option<PhaseId>) -> Vec<String> {
    let Some(from) = from else { return Vec::new() };
    surface
        .transitions_from(from)
        .filter(|t| t.to != surface.last_phase())
        .map(|t| surface.phase_name(t.to).to_string())
        .collect()
}

/// The evidence the case's ServiceEvent holds, per category (none before the claim).
fn evidence_counts(case: &Case) -> &BTreeMap<String, u32> {
    static NONE: BTreeMap<String, u32> = BTreeMap::new();
    case.service_event
        .as_ref()
        .map_or(&NONE, |s| &s.evidence_counts)
}

/// `attach_evidence`: adds one item in a declared category to the open ServiceEvent, by the
/// Job's owner.
pub(super) fn attach_evidence<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    category: &str,
    reference: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[JobState::Claimed],
        "evidence is attached only while the job is claimed",
    )?;
    service_event_open_gate(cx.trace, case)?;
    let items = case
        .service_event
        .as_ref()
        .map(|s| s.evidence.len())
        .unwrap_or(0);
    gate(
        cx.trace,
        "service_event",
        if items >= limits::MAX_EVIDENCE_ITEMS {
            reject(
                Code::InvalidState,
                format!(
                    "the service event already holds {} evidence items, the most allowed",
                    limits::MAX_EVIDENCE_ITEMS
                ),
            )
        } else {
            ok()
        },
        || "the service event has room for more evidence".into(),
    )?;
    owner_gate(cx, false)?;
    let me = cx.principal;
    operator_gate(cx, surface, &me.id, "the owner")?;
    gate(
        cx.trace,
        "category",
        if surface.evidence().category(category).is_some() {
            ok()
        } else {
            Err(Rejection::new(
                Code::UnknownEvidenceCategory,
                format!(
                    "`{category}` is not an evidence category of `{}`",
                    surface.key()
                ),
            )
            .with_detail(
                json!({ "category": category, "declared": surface.evidence().categories }),
            ))
        },
        || format!("`{category}` is a declared category"),
    )?;
    run_rules(cx, surface, case, None, &[CommandKind::AttachEvidence])?;
    Ok(vec![Event::EvidenceAttached {
        category: category.to_string(),
        reference: reference.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// `complete_service_event`: the ServiceEvent enters the last phase and completes, the Record
/// is sealed and the `record` signal emitted, in one decision. When the move into the last
/// phase has `approval`, the completion is asked for and waits instead.
pub(super) fn complete_service_event<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    outcome: &Option<String>,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[JobState::Claimed],
        "the service event completes only while the job is claimed",
    )?;
    service_event_open_gate(cx.trace, case)?;
    approval_pending_gate(
        cx.trace,
        case,
        surface,
        "it must be approved or rejected first",
    )?;
    owner_gate(cx, false)?;
    let me = cx.principal;
    operator_gate(cx, surface, &me.id, "the owner")?;
    let command = cx.command;
    let transition = completion_move(cx, surface, case, me, command)?;
    if !transition.approval.is_empty() {
        let last = surface.phase_name(surface.last_phase()).to_string();
        let from = case.phase().unwrap_or("").to_string();
        return Ok(vec![request_approval(
            cx,
            surface,
            from,
            last,
            &transition.approval,
            outcome.clone(),
        )]);
    }
    completion_events(cx, surface, case, outcome, &me.id)
}

/// (6) The move into the last phase from the ServiceEvent's current phase: declared, with
/// every required category and the evidence the move requires, and its rules, judged with
/// `mover` sending `command`. Returns the transition.
fn completion_move<'s, C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &'s Surface,
    case: &Case,
    mover: &Principal,
    command: &Command,
) -> Result<&'s TransitionInfo, Rejection> {
    let current_name = case.phase().unwrap_or("");
    let last = surface.last_phase();
    let transition = surface
        .phase_id(current_name)
        .and_then(|c| surface.transition(c, last));
    gate(
        cx.trace,
        "transition",
        if transition.is_some() {
            ok()
        } else {
            Err(Rejection::new(
                Code::NoSuchTransition,
                format!(
                    "`{}` declares no move from `{current_name}` to `{}`: the service event cannot complete from here",
                    surface.key(),
                    surface.phase_name(last)
                ),
            )
            .with_detail(json!({ "from": current_name, "to": surface.phase_name(last) })))
        },
        || {
            format!(
                "`{current_name}` → `{}` is declared",
                surface.phase_name(last)
            )
        },
    )?;
    let transition =
        transition.ok_or_else(|| Rejection::new(Code::NoSuchTransition, "no such transition"))?;
    let counts = evidence_counts(case);
    let mut required: Vec<&str> = surface
        .evidence()
        .required()
        .map(|(_, name)| name)
        .collect();
    required.extend(
        transition
            .requires
            .iter()
            .map(|c| surface.evidence().name(*c)),
    );
    evidence_gate(cx.trace, surface, required, counts, || {
        "completing the service event".to_string()
    })?;
    run_rules_as(
        cx,
        surface,
        case,
        transition.rule,
        &[CommandKind::CompleteServiceEvent],
        mover,
        command,
    )?;
    Ok(transition)
}

/// The events of the completion of `case`'s ServiceEvent with `outcome`, made by `by`: it
/// completes in the last phase, the Record is sealed and the `record` signal emitted.
fn completion_events<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    case: &Case,
    outcome: &Option<String>,
    by: &str,
) -> Result<Vec<Event>, Rejection> {
    let last = surface.last_phase();
    let current_name = case.phase().unwrap_or("");
    let completed = Event::ServiceEventCompleted {
        from: current_name.to_string(),
        phase: surface.phase_name(last).to_string(),
        outcome: outcome.clone(),
        by: by.to_string(),
        at: cx.now,
    };
    // The Record of the case as `completed` leaves it: only the ServiceEvent changes, so only
    // it is copied and completed (by `evolve`'s own code).
    let mut se = case.service_event.clone().ok_or_else(|| {
        Rejection::new(
            Code::InvalidState,
            "the job has not been claimed: there is no service event yet",
        )
    })?;
    crate::spine::evolve::complete(&mut se, surface.phase_name(last), outcome, cx.now);
    let record = seal_record(case, se, cx.now)?;
    let signal = Signal {
        id: signal_id(&case.id, "record", &case.signals, &[]),
        kind: "record".to_string(),
        case: case.id.clone(),
        at: cx.now,
        payload: json!({ "record_digest": record.digest }),
    };
    Ok(vec![
        completed,
        Event::RecordSealed { record },
        Event::SignalEmitted {
            signal,
            escalation: None,
        },
    ])
}

/// `approve_transition`: the pending move is checked again (transition, evidence, rules, on
/// the case as it is now; the rules judge it as the move its owner asked for) and made:
/// `transition_approved`, then `phase_advanced`, or on the move into the last phase the
/// completion (the Record sealed and `record` emitted, once). A check that fails refuses the
/// approval with its code, and the move stays pending.
pub(super) fn approve_transition<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    let pending = pending_gate(cx.trace, case)?;
    approver_gate(cx, pending)?;
    // (6) The move, as its owner asked for it.
    let requester = Principal::new(pending.requested_by.as_str(), [Role::Operator]);
    let completes = surface.phase_id(&pending.to) == Some(surface.last_phase());
    let asked = Command::new(
        case.id.as_str(),
        if completes {
            CommandBody::CompleteServiceEvent {
                outcome: pending.outcome.clone(),
            }
        } else {
            CommandBody::Advance {
                to: pending.to.clone(),
            }
        },
    );
    if completes {
        completion_move(cx, surface, case, &requester, &asked)?;
    } else {
        advance_move(cx, surface, case, &pending.to, &requester, &asked)?;
    }
    run_rules(cx, surface, case, None, &[CommandKind::ApproveTransition])?;
    let mut events = vec![Event::TransitionApproved {
        by: cx.principal.id.clone(),
        at: cx.now,
    }];
    if completes {
        events.extend(completion_events(
            cx,
            surface,
            case,
            &pending.outcome,
            &pending.requested_by,
        )?);
    } else {
        events.push(Event::PhaseAdvanced {
            from: case.phase().unwrap_or("").to_string(),
            to: pending.to.clone(),
            by: pending.requested_by.clone(),
            at: cx.now,
        });
    }
    Ok(events)
}

/// `reject_transition`: the pending move is dropped with a reason; the phase stays.
pub(super) fn reject_transition<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    let pending = pending_gate(cx.trace, case)?;
    approver_gate(cx, pending)?;
    run_rules(cx, surface, case, None, &[CommandKind::RejectTransition])?;
    Ok(vec![Event::TransitionRejected {
        reason: reason.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// (4) A move waits for approval and the Job is claimed; returns the pending move.
fn pending_gate<'c, T: Trace>(
    trace: &mut T,
    case: &'c Case,
) -> Result<&'c PendingApproval, Rejection> {
    let claimed = case.job_state() == Some(JobState::Claimed);
    let pending = case.pending_approval.as_ref().filter(|_| claimed);
    gate(
        trace,
        "approval",
        match (pending, case.job_state()) {
            (Some(_), _) => ok(),
            (None, Some(state)) if state != JobState::Claimed => Err(Rejection::new(
                Code::InvalidState,
                format!("the job is {}: no move waits for approval", state.as_str()),
            )
            .with_detail(json!({ "layer": "job", "state": state.as_str() }))),
            _ => reject(Code::InvalidState, "no move waits for approval"),
        },
        || {
            format!(
                "the move to `{}` waits for approval",
                pending.map_or("", |p| p.to.as_str())
            )
        },
    )?;
    pending.ok_or_else(|| Rejection::new(Code::InvalidState, "no move waits for approval"))
}

/// (5) Who decides a pending move: a principal whose only named role is `client` must be the
/// client who submitted the request (`audience_mismatch`), and nobody decides the move they
/// asked for themselves (`self_approval`).
fn approver_gate<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    pending: &PendingApproval,
) -> Result<(), Rejection> {
    let principal = cx.principal;
    let submitted_by = cx.case.request.as_ref().map(|r| r.submitted_by.as_str());
    let as_client_only = pending
        .approval
        .iter()
        .filter(|r| principal.has(**r))
        .all(|r| *r == Role::Client);
    let audience = !as_client_only || submitted_by == Some(principal.id.as_str());
    gate(
        cx.trace,
        "audience",
        if audience {
            ok()
        } else {
            Err(Rejection::new(
                Code::AudienceMismatch,
                format!(
                    "`{}` approves as a client, but the request was submitted by `{}`: only that client may",
                    principal.id,
                    submitted_by.unwrap_or("nobody")
                ),
            )
            .with_detail(json!({ "submitted_by": submitted_by })))
        },
        || {
            if as_client_only {
                format!("`{}` is the client who submitted the request", principal.id)
            } else {
                format!("`{}` approves in a role the move names", principal.id)
            }
        },
    )?;
    gate(
        cx.trace,
        "separation",
        if principal.id == pending.requested_by {
            Err(Rejection::new(
                Code::SelfApproval,
                format!(
                    "`{}` asked for this move: someone else must decide it",
                    principal.id
                ),
            )
            .with_detail(json!({ "requested_by": pending.requested_by })))
        } else {
            ok()
        },
        || {
            format!(
                "`{}` did not ask for the move (`{}` did)",
                principal.id, pending.requested_by
            )
        },
    )
}

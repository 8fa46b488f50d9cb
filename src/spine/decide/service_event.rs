//! The service event layer: `advance`, `attach_evidence`, `complete_service_event`.
//!
//! This module owns the execution of a claimed Job: moving the ServiceEvent only along the
//! surface's declared transitions (never into the last phase, which only completion enters),
//! with the evidence each move requires; adding evidence in declared categories; and
//! completion, which needs every required category, enters the last phase, seals the Record
//! (through `spine::record`) and emits the `record` signal, all in one decision. On a
//! `claim = "optional"` surface the eligible operator's first `advance` claims the queued Job
//! (`advance_claiming`, with the claim checks of the job layer). Only the Job's owner acts
//! here. It never changes the Job's state (claims aside) or the Settlement.

use std::collections::BTreeMap;

use serde_json::json;

use crate::spine::case::{Case, JobState, Signal};
use crate::spine::catalog::Catalog;
use crate::spine::decide::Ctx;
use crate::spine::decide::job::{claim_events, eligible_gate, prepaid_gate};
use crate::spine::gates::rules::run_rules;
use crate::spine::gates::{
    evidence_gate, job_gate, ok, owner_gate, reject, service_event_open_gate, surface_takes_claims,
};
use crate::spine::limits;
use crate::spine::record::seal_record;
use crate::spine::signal::signal_id;
use crate::spine::trace::{Trace, check, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::ast::ClaimPolicy;
use crate::surface::{PhaseId, Surface};

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
    owner_gate(cx, false)?;
    // (6) The move.
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
    run_rules(cx, surface, case, transition.rule, &[CommandKind::Advance])?;
    Ok(vec![Event::PhaseAdvanced {
        from: current_name.to_string(),
        to: to.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
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
    check(
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
    check(
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
/// is sealed and the `record` signal emitted, in one decision.
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
    owner_gate(cx, false)?;
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
    run_rules(
        cx,
        surface,
        case,
        transition.rule,
        &[CommandKind::CompleteServiceEvent],
    )?;
    let completed = Event::ServiceEventCompleted {
        from: current_name.to_string(),
        phase: surface.phase_name(last).to_string(),
        outcome: outcome.clone(),
        by: cx.principal.id.clone(),
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

//! `decide`: the rules of the universal spine, as one pure function.
//!
//! `decide(case, catalog, principal, command, now)` returns the events a command appends, or
//! the [`Rejection`] that refuses it. It reads no clock, does no I/O and draws no random
//! numbers: time arrives as `now`, identity as `principal`, surfaces through a [`Catalog`].
//! The checks run in the precedence order of `docs/commands.md`, so when several reasons apply
//! the one reported is always the first of: (1) role, (2) case and surface, (3) arguments,
//! (4) the state of the layer acted on, (5) who the principal is, (6) the move itself.
//!
//! This module owns the entry points, the checks every command on a case makes first (1–3)
//! and the dispatch of each command to its layer, one module per layer of the spine:
//! [`request`] (`submit_request`), [`task`], [`job`], [`service_event`] and [`settlement`],
//! and [`migrate`] (`migrate_case`: the case's pin).
//! Each command has one function there, reading top to bottom in the order above; the checks
//! several commands share are the gates of `spine::gates`. `decide` and [`explain`] run the
//! same `judge`, generic over a [`Trace`], so that what `explain` reports is what `decide`
//! does. This module never judges the state of a layer, who the principal is or the move
//! itself (4–6: the layers do), and nothing here or in a layer ever reads a clock, does I/O or
//! panics.
//!
//! Adding a command is a local change: its function goes into its layer's module (taking the
//! [`Ctx`] and the pinned surface) and one arm into the dispatch of `judge`. A command that
//! addresses no existing case branches off before the case gate, as `submit_request` does and
//! as the operator directory's commands do (judged in `spine::operator`, against the profile
//! the catalog holds).

mod job;
mod migrate;
mod request;
mod service_event;
mod settlement;
mod task;

use crate::policy::Principal;
use crate::spine::case::{Case, Millis};
use crate::spine::catalog::Catalog;
use crate::spine::command::{Command, CommandBody};
use crate::spine::gates::payload::arguments_gate;
use crate::spine::gates::{approval_role_gate, case_gate, pinned_surface, role_gate};
use crate::spine::trace::{Explanation, NoTrace, Trace};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};

/// Judge `command` against `case`: the events to append, or why not.
pub fn decide(
    case: &Case,
    catalog: &impl Catalog,
    principal: &Principal,
    command: &Command,
    now: Millis,
) -> Result<Vec<Event>, Rejection> {
    judge(case, catalog, principal, command, now, &mut NoTrace)
}

/// Run the same checks as [`decide`] and return each one made, in order, with its verdict.
/// Past a failed check that later checks do not depend on, judging goes on, so every check
/// that can still be judged is reported (see [`crate::spine::Trace::CONTINUES`]); the verdict
/// is always the first failure, exactly what [`decide`] returns.
pub fn explain(
    case: &Case,
    catalog: &impl Catalog,
    principal: &Principal,
    command: &Command,
    now: Millis,
) -> Explanation {
    let mut explanation = Explanation::default();
    let result = judge(case, catalog, principal, command, now, &mut explanation);
    match (result, explanation.rejection.is_some()) {
        // A held failure came first: it is the verdict, whatever happened after it.
        (Ok(_), true) => {}
        (Ok(events), false) => explanation.events = Some(events),
        (Err(rejection), held) => {
            explanation.stopped = explanation
                .checks
                .last()
                .filter(|c| !c.passed)
                .map(|c| c.check);
            if !held {
                explanation.rejection = Some(rejection);
            }
        }
    }
    explanation
}

/// Everything a per-command judge needs: the inputs of [`decide`] and the trace that records
/// each check.
pub(super) struct Ctx<'a, C: Catalog, T: Trace> {
    /// The case as stored (empty for a new request).
    pub(super) case: &'a Case,
    /// The surfaces.
    pub(super) catalog: &'a C,
    /// Who sends the command.
    pub(super) principal: &'a Principal,
    /// The command.
    pub(super) command: &'a Command,
    /// The time of the decision.
    pub(super) now: Millis,
    /// Where each check is recorded ([`NoTrace`] for `decide`).
    pub(super) trace: &'a mut T,
}

/// The one code path of [`decide`] and [`explain`]: the shared checks (1)–(3), then the
/// command's layer.
fn judge<C: Catalog, T: Trace>(
    case: &Case,
    catalog: &C,
    principal: &Principal,
    command: &Command,
    now: Millis,
    trace: &mut T,
) -> Result<Vec<Event>, Rejection> {
    let kind = command.kind();
    // (1) The role.
    role_gate(trace, principal, kind)?;
    let mut cx = Ctx {
        case,
        catalog,
        principal,
        command,
        now,
        trace,
    };
    // The operator directory: the profile addressed, not a case.
    if kind.addresses_operator() {
        return crate::spine::operator::directory::judge(&mut cx);
    }
    // A new case: the request layer checks that the id is free and resolves the surface.
    if kind == CommandKind::SubmitRequest {
        return request::submit_request(&mut cx);
    }
    // (1) An approval: the principal holds a role the pending move names.
    if matches!(
        kind,
        CommandKind::ApproveTransition | CommandKind::RejectTransition
    ) {
        approval_role_gate(&mut cx)?;
    }
    // (2) The case and its surface.
    case_gate(&mut cx)?;
    let surface = pinned_surface(&mut cx)?;
    // A move to another version: the version it names is judged with the surface (2),
    // before the arguments, as a request's surface is.
    if kind == CommandKind::MigrateCase {
        return migrate::migrate_case(&mut cx, surface);
    }
    // (3) The arguments.
    arguments_gate(cx.trace, &command.body)?;
    // (4)–(6) The layer the command acts on.
    let cx = &mut cx;
    match &command.body {
        // The task layer.
        CommandBody::ApproveTask => task::approve_task(cx, surface),
        CommandBody::RejectTask { reason } => task::reject_task(cx, surface, reason),
        CommandBody::AssignTask { operator } => task::assign_task(cx, surface, operator),
        CommandBody::AnnotateTask { note } => task::annotate_task(cx, surface, note),
        CommandBody::CloseTask => task::close_task(cx, surface),
        // The job layer.
        CommandBody::CreateJob => job::create_job(cx, surface),
        CommandBody::ClaimJob => job::claim_job(cx, surface),
        CommandBody::CompleteJob => job::complete_job(cx, surface),
        CommandBody::CancelJob { reason } => job::cancel_job(cx, surface, reason),
        CommandBody::ReassignJob { operator, reason } => {
            job::reassign_job(cx, surface, operator, reason)
        }
        CommandBody::ReleaseJob { reason } => job::release_job(cx, surface, reason),
        // The service event layer.
        CommandBody::Advance { to } => service_event::advance(cx, surface, to),
        CommandBody::AttachEvidence {
            category,
            reference,
        } => service_event::attach_evidence(cx, surface, category, reference),
        CommandBody::CompleteServiceEvent { outcome } => {
            service_event::complete_service_event(cx, surface, outcome)
        }
        CommandBody::ApproveTransition => service_event::approve_transition(cx, surface),
        CommandBody::RejectTransition { reason } => {
            service_event::reject_transition(cx, surface, reason)
        }
        // The settlement layer.
        CommandBody::RecordSettlement {
            status,
            amount_minor,
            currency,
        } => settlement::record_settlement(cx, surface, *status, *amount_minor, currency),
        // Erasure: a legal duty, so no surface rule can refuse it; the key is destroyed by the
        // store in the append that writes the event.
        CommandBody::ErasePersonalData { reason } => {
            let _ = surface;
            Ok(vec![Event::PersonalDataErased {
                reason: reason.clone(),
                by: cx.principal.id.clone(),
                at: cx.now,
            }])
        }
        // Judged above (a malformed body is refused by the argument gate).
        CommandBody::SubmitRequest { .. }
        | CommandBody::MigrateCase { .. }
        | CommandBody::RegisterOperator { .. }
        | CommandBody::UpdateOperator { .. }
        | CommandBody::SuspendOperator { .. }
        | CommandBody::ReinstateOperator { .. }
        | CommandBody::Malformed { .. } => Err(Rejection::new(
            Code::PayloadInvalid,
            "the command could not be understood",
        )),
    }
}

//! `decide`: the rules of the universal spine, as one pure function.
//!
//! `decide(case, catalog, principal, command, now)` returns the events a command appends, or
//! the [`Rejection`] that refuses it. It reads no clock, does no I/O and draws no random
//! numbers: time arrives as `now`, identity as `principal`, surfaces through a [`Catalog`].
//! The checks run in the precedence order of CONTRACT.md §3, so when several reasons apply the
//! one reported is always the first of: (1) role, (2) case and surface, (3) arguments, (4) the
//! state of the layer acted on, (5) who the principal is, (6) the move itself.
//!
//! Each command has one function below; each reads top to bottom in that order.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::audit::digest_of;
use crate::policy::{self, Principal, Role, check_intake, missing_evidence};
use crate::spine::case::{
    Case, EvidenceItem, JobState, Millis, PhaseEntry, Record, RecordBody, ServiceEvent,
    ServiceEventState, SettlementStatus, Signal, SurfacePin, TaskState,
};
use crate::spine::catalog::Catalog;
use crate::spine::command::{Command, CommandBody};
use crate::spine::guard;
use crate::spine::limits;
use crate::spine::trace::{Explanation, NoTrace, Trace, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::ast::{ClaimPolicy, Ownership, PaymentTiming, Status};
use crate::surface::rules::Reads;
use crate::surface::{PhaseId, RuleId, Surface};

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
pub fn explain(
    case: &Case,
    catalog: &impl Catalog,
    principal: &Principal,
    command: &Command,
    now: Millis,
) -> Explanation {
    let mut explanation = Explanation::default();
    match judge(case, catalog, principal, command, now, &mut explanation) {
        Ok(events) => explanation.events = Some(events),
        Err(rejection) => explanation.rejection = Some(rejection),
    }
    explanation
}

fn reject(code: Code, message: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection::new(code, message))
}

fn ok() -> Result<(), Rejection> {
    Ok(())
}

/// Everything a per-command judge needs.
struct Ctx<'a, C: Catalog, T: Trace> {
    case: &'a Case,
    catalog: &'a C,
    principal: &'a Principal,
    command: &'a Command,
    now: Millis,
    trace: &'a mut T,
}

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
    )?;
    let mut cx = Ctx {
        case,
        catalog,
        principal,
        command,
        now,
        trace,
    };
    if let CommandBody::SubmitRequest { .. }
    | CommandBody::Malformed {
        kind: CommandKind::SubmitRequest,
        ..
    } = &command.body
    {
        return submit_request(&mut cx);
    }
    // (2) The case and its surface.
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
    )?;
    let surface = pinned_surface(&mut cx)?;
    // (3) The arguments.
    if let CommandBody::Malformed { error, .. } = &command.body {
        gate(
            cx.trace,
            "payload",
            reject(Code::PayloadInvalid, error.clone()),
            String::new,
        )?;
    }
    gate(cx.trace, "payload", check_payload(&command.body), || {
        "the arguments are well formed".into()
    })?;
    let events = match &command.body {
        CommandBody::ApproveTask => task_review(&mut cx, surface, true, None),
        CommandBody::RejectTask { reason } => task_review(&mut cx, surface, false, Some(reason)),
        CommandBody::AssignTask { operator } => assign_task(&mut cx, surface, operator),
        CommandBody::AnnotateTask { note } => annotate_task(&mut cx, surface, note),
        CommandBody::CloseTask => close_task(&mut cx, surface),
        CommandBody::CreateJob => create_job(&mut cx, surface),
        CommandBody::ClaimJob => claim_job(&mut cx, surface),
        CommandBody::Advance { to } => advance(&mut cx, surface, to),
        CommandBody::AttachEvidence {
            category,
            reference,
        } => attach_evidence(&mut cx, surface, category, reference),
        CommandBody::CompleteServiceEvent { outcome } => {
            complete_service_event(&mut cx, surface, outcome)
        }
        CommandBody::CompleteJob => complete_job(&mut cx, surface),
        CommandBody::CancelJob { reason } => cancel_job(&mut cx, surface, reason),
        CommandBody::RecordSettlement {
            status,
            amount_minor,
            currency,
        } => record_settlement(&mut cx, surface, *status, *amount_minor, currency),
        CommandBody::SubmitRequest { .. } | CommandBody::Malformed { .. } => Err(Rejection::new(
            Code::PayloadInvalid,
            "the command could not be understood",
        )),
    }?;
    Ok(events)
}

/// (2) The surface the case is pinned to, unchanged since submission.
fn pinned_surface<'a, C: Catalog, T: Trace>(
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
fn surface_takes_claims<C: Catalog, T: Trace>(
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

// ---------------------------------------------------------------------------------------------
// (3) Arguments.

fn text(name: &str, value: &str, max: usize, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return reject(Code::PayloadInvalid, format!("`{name}` must not be empty"));
    }
    if value.len() > max {
        return reject(
            Code::PayloadInvalid,
            format!(
                "`{name}` is {} bytes long; at most {max} are allowed",
                value.len()
            ),
        );
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return reject(
            Code::PayloadInvalid,
            format!("`{name}` contains control characters"),
        );
    }
    Ok(())
}

fn check_payload(body: &CommandBody) -> Result<(), Rejection> {
    match body {
        CommandBody::RejectTask { reason } | CommandBody::CancelJob { reason } => {
            text("reason", reason, limits::MAX_TEXT_LEN, true)
        }
        CommandBody::AssignTask { operator } => {
            text("operator", operator, limits::MAX_ID_LEN, true)
        }
        CommandBody::AnnotateTask { note } => text("note", note, limits::MAX_TEXT_LEN, true),
        CommandBody::Advance { to } => text("to", to, limits::MAX_ID_LEN, true),
        CommandBody::AttachEvidence {
            category,
            reference,
        } => {
            text("category", category, limits::MAX_ID_LEN, true)?;
            text("ref", reference, limits::MAX_REF_LEN, true)
        }
        CommandBody::CompleteServiceEvent { outcome } => match outcome {
            Some(o) => text("outcome", o, limits::MAX_TEXT_LEN, false),
            None => Ok(()),
        },
        CommandBody::RecordSettlement {
            amount_minor,
            currency,
            ..
        } => {
            if *amount_minor < 0 || *amount_minor > limits::MAX_AMOUNT_MINOR {
                return reject(
                    Code::PayloadInvalid,
                    format!(
                        "`amount_minor` must be between 0 and {}, not {amount_minor}",
                        limits::MAX_AMOUNT_MINOR
                    ),
                );
            }
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return reject(
                    Code::PayloadInvalid,
                    format!("`currency` must be an ISO 4217 code like `USD`, not `{currency}`"),
                );
            }
            Ok(())
        }
        CommandBody::Malformed { error, .. } => reject(Code::PayloadInvalid, error.clone()),
        CommandBody::SubmitRequest { .. }
        | CommandBody::ApproveTask
        | CommandBody::CloseTask
        | CommandBody::CreateJob
        | CommandBody::ClaimJob
        | CommandBody::CompleteJob => Ok(()),
    }
}

fn json_depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check_intake_size(intake: &BTreeMap<String, Value>) -> Result<(), Rejection> {
    if intake.len() > limits::MAX_INTAKE_FIELDS {
        return reject(
            Code::IntakeInvalid,
            format!(
                "the intake has {} fields; at most {} are allowed",
                intake.len(),
                limits::MAX_INTAKE_FIELDS
            ),
        );
    }
    for (key, value) in intake {
        if key.len() > limits::MAX_ID_LEN {
            return reject(
                Code::IntakeInvalid,
                format!(
                    "an intake field name is longer than {} bytes",
                    limits::MAX_ID_LEN
                ),
            );
        }
        if json_depth(value) > limits::MAX_INTAKE_DEPTH {
            return reject(
                Code::IntakeInvalid,
                format!(
                    "intake field `{key}` nests deeper than {} levels",
                    limits::MAX_INTAKE_DEPTH
                ),
            );
        }
    }
    // The length of the intake as compact JSON, counted without building it.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let size = serde_json::to_writer(&mut count, intake)
        .map(|()| count.0)
        .unwrap_or(usize::MAX);
    if size > limits::MAX_INTAKE_BYTES {
        return reject(
            Code::IntakeInvalid,
            format!(
                "the intake is {size} bytes as JSON; at most {} are allowed",
                limits::MAX_INTAKE_BYTES
            ),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rules.

/// (6) Run the rules that apply, in order: a transition's rule, then rules `on` these commands.
/// A failing rule outranks an erroring one (CONTRACT.md §3).
fn run_rules<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    case_view: &Case,
    transition_rule: Option<RuleId>,
    on: &[CommandKind],
) -> Result<(), Rejection> {
    if surface.rules().is_empty() {
        return Ok(());
    }
    let mut ids: Vec<RuleId> = Vec::new();
    ids.extend(transition_rule);
    for kind in on {
        ids.extend(surface.rules_on(*kind).iter().copied());
    }
    if ids.is_empty() {
        return Ok(());
    }
    // Each rule's verdict, in order, up to the first that fails. Guards in the fast subset are
    // judged straight from the case; Rhai runs the others, against one scope holding only
    // what they read (built only when some rule needs it).
    let mut verdicts = Vec::with_capacity(ids.len());
    let mut reads = Reads::default();
    let mut need_rhai = false;
    for rule in ids.iter().filter_map(|id| surface.rule(*id)) {
        let fast = rule.guard.fast().and_then(|expr| {
            guard::fast_verdict(expr, case_view, surface, cx.principal, cx.command, cx.now)
        });
        if fast.is_none() {
            reads.merge(rule.guard.reads());
            need_rhai = true;
        }
        let failed = fast == Some(false);
        verdicts.push((rule, fast.map(Ok)));
        if failed {
            break;
        }
    }
    if need_rhai {
        let scope = guard::scope_for(&reads, case_view, surface, cx.principal, cx.command, cx.now);
        scope.with_rhai(|scope| {
            for (rule, verdict) in &mut verdicts {
                if verdict.is_none() {
                    let judged = rule.guard.eval_in(scope);
                    let failed = matches!(judged, Ok(false));
                    *verdict = Some(judged);
                    if failed {
                        break;
                    }
                }
            }
        });
    }
    let mut first_error: Option<Rejection> = None;
    // A rule left unjudged comes after one that failed, which ends the loop first.
    for (rule, verdict) in verdicts {
        let Some(verdict) = verdict else { break };
        match verdict {
            Ok(true) => {
                if T::RECORDS {
                    cx.trace
                        .record("rule", true, format!("rule `{}` holds", rule.name), None);
                }
            }
            Ok(false) => {
                let rejection = Rejection::new(Code::RuleFailed, rule.message.clone())
                    .with_detail(json!({ "rule": rule.name, "when": rule.when }));
                return gate(cx.trace, "rule", Err(rejection), String::new);
            }
            Err(err) => {
                if first_error.is_none() {
                    first_error = Some(
                        Rejection::new(
                            Code::RuleError,
                            format!("rule `{}` could not be judged: {err}", rule.name),
                        )
                        .with_detail(json!({ "rule": rule.name, "error": err.to_string() })),
                    );
                }
            }
        }
    }
    match first_error {
        Some(rejection) => gate(cx.trace, "rule", Err(rejection), String::new),
        None => Ok(()),
    }
}

/// `what` names the move in messages; it is only built when a message is.
fn evidence_gate<T: Trace>(
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

// ---------------------------------------------------------------------------------------------
// Request and Task.

fn resolve_for_new<'a, C: Catalog, T: Trace>(
    cx: &mut Ctx<'a, C, T>,
    requested: &str,
) -> Result<&'a Surface, Rejection> {
    let catalog = cx.catalog;
    // `slug` asks for the highest active version; `slug@N` pins exactly version N.
    let chosen = match requested.split_once('@') {
        Some((slug, v)) => v.parse::<u32>().ok().and_then(|v| catalog.exact(slug, v)),
        None => catalog
            .latest_active(requested)
            .or_else(|| catalog.latest(requested)),
    };
    let result = match chosen {
        None => {
            // Echo at most a short prefix of what was asked for: it comes from outside.
            let shown = shorten(requested, limits::MAX_ID_LEN);
            Err(Rejection::new(
                Code::UnknownSurface,
                format!("no surface `{shown}` is registered"),
            )
            .with_detail(json!({ "surface": shown })))
        }
        Some(s) if s.status() != Status::Active => reject(
            Code::SurfaceInactive,
            format!(
                "surface `{}` is {}: it takes no new requests",
                s.key(),
                s.status()
            ),
        ),
        Some(_) => ok(),
    };
    gate(cx.trace, "surface", result, || {
        format!("`{requested}` resolves to an active surface")
    })?;
    chosen.ok_or_else(|| Rejection::new(Code::UnknownSurface, "no such surface"))
}

/// At most `max` bytes of `text` (cut on a character boundary), with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or(""))
}

fn submit_request<C: Catalog, T: Trace>(cx: &mut Ctx<'_, C, T>) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    gate(
        cx.trace,
        "case",
        if case.exists() {
            reject(
                Code::CaseExists,
                format!("case `{}` already exists", case.id),
            )
        } else {
            ok()
        },
        || format!("case id `{}` is free", cx.command.case),
    )?;
    let (requested, intake, photos, routing_origin) = match &cx.command.body {
        CommandBody::SubmitRequest {
            surface,
            intake,
            photos,
            routing_origin,
        } => (surface, intake, photos, routing_origin),
        CommandBody::Malformed { error, raw, .. } => {
            // (2) still outranks (3): judge the surface named in the raw arguments, if any.
            if let Some(requested) = raw.get("surface").and_then(Value::as_str) {
                resolve_for_new(cx, requested)?;
            }
            return gate(
                cx.trace,
                "payload",
                reject(Code::PayloadInvalid, error.clone()),
                String::new,
            )
            .map(|()| Vec::new());
        }
        _ => return Err(Rejection::new(Code::PayloadInvalid, "not a submit_request")),
    };
    let surface = resolve_for_new(cx, requested)?;
    // (3) Arguments, then the intake contract.
    let payload = text("case", &cx.command.case, limits::MAX_ID_LEN, true)
        .and_then(|()| {
            routing_origin.as_deref().map_or(Ok(()), |r| {
                text("routing_origin", r, limits::MAX_TEXT_LEN, false)
            })
        })
        .and_then(|()| {
            if photos.len() > limits::MAX_PHOTOS {
                return reject(
                    Code::PayloadInvalid,
                    format!("at most {} photos are allowed", limits::MAX_PHOTOS),
                );
            }
            photos
                .iter()
                .try_for_each(|p| text("photos", p, limits::MAX_REF_LEN, true))
        });
    gate(cx.trace, "payload", payload, || {
        "the arguments are well formed".into()
    })?;
    let intake_result = check_intake_size(intake).and_then(|()| {
        check_intake(surface.intake(), intake, photos.len()).map_err(|problems| {
            let messages: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
            let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
            Rejection::new(Code::IntakeInvalid, messages.join("; "))
                .with_detail(json!({ "fields": fields }))
        })
    });
    gate(cx.trace, "intake", intake_result, || {
        format!("the intake meets `{}`'s intake contract", surface.slug())
    })?;
    let event = Event::RequestSubmitted {
        surface: SurfacePin {
            slug: surface.slug().to_string(),
            version: surface.version(),
            fingerprint: surface.fingerprint_hex().to_string(),
        },
        intake: intake.clone(),
        photos: photos.clone(),
        routing_origin: routing_origin.clone(),
        by: cx.principal.id.clone(),
        at: cx.now,
    };
    if !surface.rules_on(CommandKind::SubmitRequest).is_empty() {
        let prospective = crate::spine::evolve(case.clone(), &event);
        run_rules(
            cx,
            surface,
            &prospective,
            None,
            &[CommandKind::SubmitRequest],
        )?;
    }
    Ok(vec![event])
}

fn task_state_gate<T: Trace>(
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

fn task_review<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    approve: bool,
    reason: Option<&String>,
) -> Result<Vec<Event>, Rejection> {
    let what = if approve {
        "only an open task can be approved"
    } else {
        "only an open task can be rejected"
    };
    task_state_gate(cx.trace, cx.case, &[TaskState::Open], what)?;
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
            reason: reason.clone(),
            at: cx.now,
        },
    }])
}

fn assign_task<C: Catalog, T: Trace>(
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
    run_rules(cx, surface, case, None, &[CommandKind::AssignTask])?;
    Ok(vec![Event::TaskAssigned {
        operator: operator.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

fn annotate_task<C: Catalog, T: Trace>(
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

fn close_task<C: Catalog, T: Trace>(
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

// ---------------------------------------------------------------------------------------------
// Job.

fn create_job<C: Catalog, T: Trace>(
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

fn job_gate<T: Trace>(
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

/// (5) Eligibility to claim: the assignee, or any operator when ownership is open.
fn eligible_gate<C: Catalog, T: Trace>(
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
fn prepaid_gate<T: Trace>(trace: &mut T, case: &Case, surface: &Surface) -> Result<(), Rejection> {
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

fn claim_events(surface: &Surface, operator: &str, implicit: bool, now: Millis) -> [Event; 2] {
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

fn claim_job<C: Catalog, T: Trace>(
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
    prepaid_gate(cx.trace, cx.case, surface)?;
    let claim_rule = surface
        .transition(surface.first_phase(), surface.claimed_phase())
        .and_then(|t| t.rule);
    run_rules(cx, surface, cx.case, claim_rule, &[CommandKind::ClaimJob])?;
    Ok(claim_events(surface, &cx.principal.id, false, cx.now).into())
}

fn owner_gate<C: Catalog, T: Trace>(
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

fn service_event_open_gate<T: Trace>(trace: &mut T, case: &Case) -> Result<(), Rejection> {
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

fn advance<C: Catalog, T: Trace>(
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

fn allowed_targets(surface: &Surface, from: Option<PhaseId>) -> Vec<String> {
    let Some(from) = from else { return Vec::new() };
    surface
        .transitions_from(from)
        .filter(|t| t.to != surface.last_phase())
        .map(|t| surface.phase_name(t.to).to_string())
        .collect()
}

fn evidence_counts(case: &Case) -> &BTreeMap<String, u32> {
    static NONE: BTreeMap<String, u32> = BTreeMap::new();
    case.service_event
        .as_ref()
        .map_or(&NONE, |s| &s.evidence_counts)
}

fn attach_evidence<C: Catalog, T: Trace>(
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

fn complete_service_event<C: Catalog, T: Trace>(
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

/// Compose the Record from a completed ServiceEvent and seal it with its digest.
pub fn compose_record(case: &Case, completed_at: Millis) -> Result<Record, Rejection> {
    let Some(se) = case.service_event.as_ref() else {
        return Err(Rejection::new(
            Code::InvalidState,
            "a record needs a completed service event",
        ));
    };
    seal_record(case, se.clone(), completed_at)
}

/// [`compose_record`] with the ServiceEvent given apart from the case (the rest of the body
/// comes from `case`).
fn seal_record(case: &Case, se: ServiceEvent, completed_at: Millis) -> Result<Record, Rejection> {
    let Some(request) = case.request.as_ref() else {
        return Err(Rejection::new(
            Code::InvalidState,
            "a record needs a completed service event",
        ));
    };
    let body = RecordBody {
        case: case.id.clone(),
        surface: request.surface.clone(),
        operator: case.owner().unwrap_or("").to_string(),
        phases: se.history,
        evidence: se.evidence,
        outcome: se.outcome,
        completed_at,
    };
    let digest = record_digest(&body).map_err(|e| {
        Rejection::new(
            Code::InvalidState,
            format!("the record could not be serialized: {e}"),
        )
    })?;
    Ok(Record { body, digest })
}

/// The Record seal: exactly `digest_of(body)` (the canonical form sorts keys whatever the
/// field order), written from a view whose fields are declared in key order so that the
/// canonical writer has nothing to reorder. The exhaustive destructurings stop the build when
/// a field is added to the Record's types and not here.
fn record_digest(body: &RecordBody) -> Result<String, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Pin<'a> {
        fingerprint: &'a str,
        slug: &'a str,
        version: u32,
    }
    #[derive(serde::Serialize)]
    struct Phase<'a> {
        at: Millis,
        phase: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Item<'a> {
        at: Millis,
        by: &'a str,
        category: &'a str,
        reference: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        case: &'a str,
        completed_at: Millis,
        evidence: Vec<Item<'a>>,
        operator: &'a str,
        outcome: Option<&'a str>,
        phases: Vec<Phase<'a>>,
        surface: Pin<'a>,
    }
    let RecordBody {
        case,
        surface,
        operator,
        phases,
        evidence,
        outcome,
        completed_at,
    } = body;
    let SurfacePin {
        slug,
        version,
        fingerprint,
    } = surface;
    let view = Body {
        case,
        completed_at: *completed_at,
        evidence: evidence
            .iter()
            .map(|item| {
                let EvidenceItem {
                    category,
                    reference,
                    by,
                    at,
                } = item;
                Item {
                    at: *at,
                    by,
                    category,
                    reference,
                }
            })
            .collect(),
        operator,
        outcome: outcome.as_deref(),
        phases: phases
            .iter()
            .map(|entry| {
                let PhaseEntry { phase, at } = entry;
                Phase { at: *at, phase }
            })
            .collect(),
        surface: Pin {
            fingerprint,
            slug,
            version: *version,
        },
    };
    digest_of(&view)
}

/// The stable id of the next signal of `kind`: `<case>:<kind>:<n>`, counting the signals
/// already stored and those about to be appended in the same decision.
pub fn signal_id(case: &str, kind: &str, stored: &[Signal], pending: &[Signal]) -> String {
    let n = stored
        .iter()
        .chain(pending)
        .filter(|s| s.kind == kind)
        .count()
        + 1;
    format!("{case}:{kind}:{n}")
}

fn complete_job<C: Catalog, T: Trace>(
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
    run_rules(cx, surface, case, None, &[CommandKind::CompleteJob])?;
    Ok(vec![Event::JobCompleted {
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

fn cancel_job<C: Catalog, T: Trace>(
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
    run_rules(cx, surface, cx.case, None, &[CommandKind::CancelJob])?;
    Ok(vec![Event::JobCancelled {
        by: cx.principal.id.clone(),
        reason: reason.to_string(),
        at: cx.now,
    }])
}

fn record_settlement<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    status: SettlementStatus,
    amount_minor: i64,
    currency: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[
            JobState::Queued,
            JobState::Claimed,
            JobState::Completed,
            JobState::Cancelled,
        ],
        "",
    )?;
    let current = case.settlement.as_ref();
    let writes = current.map(|s| s.history.len()).unwrap_or(0);
    let result = if writes >= limits::MAX_SETTLEMENT_WRITES {
        reject(
            Code::InvalidState,
            format!(
                "the settlement already holds {} writes, the most allowed",
                limits::MAX_SETTLEMENT_WRITES
            ),
        )
    } else if status == SettlementStatus::Refunded
        && current.map(|s| s.status) != Some(SettlementStatus::Captured)
    {
        Err(Rejection::new(
            Code::InvalidState,
            "only a captured settlement can be refunded",
        )
        .with_detail(json!({ "layer": "settlement", "state": current.map(|s| s.status.as_str()) })))
    } else {
        ok()
    };
    gate(cx.trace, "settlement", result, || {
        format!("the settlement may move to {}", status.as_str())
    })?;
    run_rules(cx, surface, case, None, &[CommandKind::RecordSettlement])?;
    Ok(vec![Event::SettlementRecorded {
        status,
        amount_minor,
        currency: currency.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

//! Running a scenario: each step through the engine, then each check against the case.
//!
//! [`run`] drives an [`Engine`] whose clock is a [`ManualClock`]: before every step the clock
//! is set to the step's time (the scenario's `start`, moved by every `at` so far), then the
//! command is executed (or the tick run) and its outcome compared with the step's `expect`.
//! After the last step each `[[check]]` compares the case with what it expects. The runner
//! never judges a command itself and never stops early: a step that does not hold is recorded
//! and the run goes on, so one report shows every difference.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{CaseView, Engine, Receipt};
use crate::host::{ManualClock, MemoryStore, MemoryTransport, Store, StoredEvent, Transport};
use crate::scenario::model::{Action, Check, CheckField, CheckTarget, Expected, Scenario, Step};
use crate::scenario::parse::format_time;
use crate::scenario::report::{CheckReport, FieldReport, Outcome, ScenarioReport, StepReport};
use crate::spine::{Case, Event, OperatorProfile};
use crate::surface::Surface;
use crate::surface::load::{Format, SourceFile};
use crate::surface::registry::{LoadReport, Registry};

/// Load the surfaces `scenario` names (its `surfaces`, resolved against its file) and then
/// `extra`, into a fresh registry. The report says what happened to each file; a scenario
/// should run only when [`LoadReport::is_ok`].
///
/// A directory contributes every `.toml` and `.surface` file directly inside it, except
/// scenario files (a `.toml` file with no `[surface]` table and a `[[step]]`, `[[check]]` or
/// `[principals]`): a scenario whose `surfaces` names its own folder does not load itself, or
/// its neighbours, as surfaces.
pub fn load_surfaces(scenario: &Scenario, extra: &[PathBuf]) -> (Registry, LoadReport) {
    let mut paths: Vec<PathBuf> = Vec::new();
    for path in scenario
        .surfaces
        .iter()
        .map(|s| s.path.clone())
        .chain(extra.iter().cloned())
    {
        match surface_files_in(&path) {
            Some(files) => paths.extend(files),
            None => paths.push(path),
        }
    }
    let mut registry = Registry::new();
    let report = registry.load_paths(&paths);
    (registry, report)
}

/// The surface files directly inside `dir`, in path order, scenario files left out; `None`
/// when `dir` is not a readable directory (the registry then reports it).
fn surface_files_in(dir: &Path) -> Option<Vec<PathBuf>> {
    if !dir.is_dir() {
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.is_file() && Format::from_path(p).is_some() && !is_scenario_file(p))
        .collect();
    files.sort();
    Some(files)
}

/// Whether `path` holds a scenario rather than a surface: TOML with steps, checks or
/// principals and no `[surface]` table.
pub fn is_scenario_file(path: &Path) -> bool {
    if Format::from_path(path) != Some(Format::Toml) {
        return false;
    }
    let Ok(file) = SourceFile::read(path) else {
        return false;
    };
    let Ok(table) = file.text.parse::<toml::Table>() else {
        return false;
    };
    !table.contains_key("surface")
        && ["step", "check", "principals"]
            .iter()
            .any(|k| table.contains_key(*k))
}

/// Run `scenario` (read from `file`, named in the report) on a fresh in-memory engine judging
/// by `registry`, its clock starting at the scenario's `start`.
pub fn run_in_memory(scenario: &Scenario, file: &str, registry: Arc<Registry>) -> ScenarioReport {
    let engine = Engine::new(
        registry,
        MemoryStore::new(),
        MemoryTransport::default(),
        ManualClock::new(scenario.start),
    );
    run(scenario, file, &engine)
}

/// Run `scenario` (read from `file`, named in the report) on `engine`: every step in order,
/// then every check. The engine's clock is set to each step's time before the step.
pub fn run<S: Store, T: Transport>(
    scenario: &Scenario,
    file: &str,
    engine: &Engine<S, T, ManualClock>,
) -> ScenarioReport {
    let mut report = ScenarioReport::new(scenario.name.clone(), file);
    engine.clock().set(scenario.start);
    for step in &scenario.steps {
        report.steps.push(run_step(step, engine));
    }
    for check in &scenario.checks {
        report.checks.push(run_check(check, engine));
    }
    report.finish();
    report
}

fn run_step<S: Store, T: Transport>(step: &Step, engine: &Engine<S, T, ManualClock>) -> StepReport {
    engine.clock().set(step.time);
    let (outcome, detail, events) = match &step.action {
        Action::Tick => match engine.tick() {
            Ok(events) => {
                let detail = if events.is_empty() {
                    "no escalation due".to_string()
                } else {
                    describe_tick(&events)
                };
                (Outcome::Applied, detail, type_names(&events))
            }
            Err(err) => (
                Outcome::Error,
                format!("the engine failed: {err}"),
                Vec::new(),
            ),
        },
        Action::Command(command) => match &step.principal {
            None => (
                Outcome::Error,
                "the step names no principal".to_string(),
                Vec::new(),
            ),
            Some(principal) => match engine.execute(principal, command, step.key.as_deref()) {
                Ok(receipt) => receipt_outcome(&receipt, engine),
                Err(err) => (
                    Outcome::Error,
                    format!("the engine failed: {err}"),
                    Vec::new(),
                ),
            },
        },
    };
    let view = step
        .case
        .as_deref()
        .and_then(|id| engine.view(id).ok().flatten());
    let stage = view.as_ref().and_then(|v| v.stage.as_ref());
    let held = outcome.meets(step.expect);
    StepReport {
        index: step.index,
        line: step.line,
        actor: step.principal.as_ref().map(|p| p.id.clone()),
        command: step.action.name().to_string(),
        case: step.case.clone(),
        at: format_time(step.time),
        expect: step.expect,
        outcome,
        held,
        phase: stage.map(|p| p.id.clone()),
        phase_label: stage.map(|p| p.label.clone()),
        detail,
        events,
    }
}

fn receipt_outcome<S: Store, T: Transport>(
    receipt: &Receipt,
    engine: &Engine<S, T, ManualClock>,
) -> (Outcome, String, Vec<String>) {
    match receipt {
        Receipt::Applied { case, events } => {
            let view = engine.view(case).ok().flatten();
            let surface = engine
                .case(case)
                .ok()
                .flatten()
                .and_then(|c| engine.surface_of(&c).cloned());
            (
                Outcome::Applied,
                describe(events, view.as_ref(), surface.as_ref()),
                type_names(events),
            )
        }
        Receipt::Duplicate(first) => {
            let detail = format!(
                "same key, same command: the first outcome ({}), nothing written",
                first.outcome()
            );
            (Outcome::Duplicate, detail, Vec::new())
        }
        Receipt::Rejected(rejection) => (
            Outcome::Rejected(rejection.code),
            rejection.message.clone(),
            Vec::new(),
        ),
    }
}

fn type_names(events: &[StoredEvent]) -> Vec<String> {
    events.iter().map(|e| e.event_type.clone()).collect()
}

/// A phase's label on `surface`, or its id.
fn label(surface: Option<&Surface>, id: &str) -> String {
    surface
        .and_then(|s| s.phase_id(id).and_then(|p| s.phase(p)))
        .map_or_else(|| id.to_string(), |p| p.label.clone())
}

/// What the appended events did, in a few words each: `task approved · assignee op-lee`.
fn describe(events: &[StoredEvent], view: Option<&CaseView>, surface: Option<&Surface>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for stored in events {
        let part = match &stored.payload {
            Event::RequestSubmitted { surface: pin, .. } => {
                format!("request on {} · task open", pin.key())
            }
            Event::TaskApproved { .. } => "task approved".to_string(),
            Event::TaskRejected { reason, .. } => format!("task rejected: {reason}"),
            Event::TaskAssigned { operator, .. } => {
                let task = view.and_then(|v| v.task).map_or("none", |t| t.as_str());
                format!("task {task} · assignee {operator}")
            }
            Event::TaskAnnotated { .. } => "note added".to_string(),
            Event::TaskClosed { .. } => "task closed".to_string(),
            Event::PersonalDataErased { .. } => "personal data erased".to_string(),
            Event::JobCreated { .. } => "job queued".to_string(),
            Event::JobClaimed {
                operator,
                implicit: false,
                ..
            } => format!("job claimed by {operator}"),
            Event::JobClaimed {
                operator,
                implicit: true,
                ..
            } => format!("job claimed by {operator} (by advancing)"),
            Event::ServiceEventOpened { .. } => "service event open".to_string(),
            Event::PhaseAdvanced { from, to, .. } => {
                format!("{} → {}", label(surface, from), label(surface, to))
            }
            Event::EvidenceAttached { category, .. } => {
                let count = view
                    .and_then(|v| v.evidence.get(category))
                    .copied()
                    .unwrap_or(0);
                format!("evidence {category} ({count})")
            }
            Event::ServiceEventCompleted { .. } => "service event complete".to_string(),
            Event::RecordSealed { record } => {
                format!(
                    "record sealed {}",
                    record.digest.get(..12).unwrap_or(&record.digest)
                )
            }
            Event::SignalEmitted { signal, .. } => format!("signal {}", signal.kind),
            Event::JobCompleted { .. } => "job completed".to_string(),
            Event::JobCancelled { reason, .. } => format!("job cancelled: {reason}"),
            Event::JobReassigned { from, to, .. } => format!("job handed from {from} to {to}"),
            Event::JobReleased { .. } => {
                let released = view.map_or(0, |v| v.released);
                format!("job released to the queue (released service events: {released})")
            }
            Event::TransitionRequested { to, approval, .. } => {
                let roles: Vec<&str> = approval.iter().map(|r| r.as_str()).collect();
                format!(
                    "{} waits for approval by {}",
                    label(surface, to),
                    roles.join(" or ")
                )
            }
            Event::TransitionApproved { by, .. } => format!("approved by {by}"),
            Event::TransitionRejected { reason, .. } => format!("move rejected: {reason}"),
            Event::CaseMigrated { from, to, .. } => {
                format!("case moved from {} to {}", from.key(), to.key())
            }
            Event::OperatorRegistered { operator, .. } => {
                format!("operator {operator} registered · active")
            }
            Event::OperatorUpdated { .. } => "operator updated".to_string(),
            Event::OperatorSuspended { reason, .. } => {
                format!("operator suspended: {reason}")
            }
            Event::OperatorReinstated { .. } => "operator reinstated · active".to_string(),
            Event::SettlementRecorded {
                status,
                amount_minor,
                currency,
                ..
            } => {
                format!(
                    "settlement {} {} {currency}",
                    status.as_str(),
                    money(*amount_minor)
                )
            }
        };
        parts.push(part);
    }
    parts.join(" · ")
}

/// Minor units as `123.45`.
fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn describe_tick(events: &[StoredEvent]) -> String {
    events
        .iter()
        .filter_map(|e| {
            e.payload
                .signal()
                .map(|s| format!("signal {} on {}", s.kind, e.case_id))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn run_check<S: Store, T: Transport>(
    check: &Check,
    engine: &Engine<S, T, ManualClock>,
) -> CheckReport {
    let found: Result<Found, String> = match &check.target {
        CheckTarget::Case(id) => engine
            .case(id)
            .map(|case| Found::Case(Box::new(case)))
            .map_err(|e| e.to_string()),
        CheckTarget::Operator(id) => engine
            .operator(id)
            .map(Found::Operator)
            .map_err(|e| e.to_string()),
    };
    let fields: Vec<FieldReport> = check
        .expected
        .iter()
        .map(|(field, expected)| {
            let (actual, held) = match &found {
                Err(err) => (format!("error: {err}"), false),
                Ok(found) => {
                    let actual = match found {
                        Found::Case(case) => actual_of(case.as_ref().as_ref(), *field),
                        Found::Operator(profile) => operator_actual(profile.as_ref(), *field),
                    };
                    let held = actual == *expected;
                    (actual.to_string(), held)
                }
            };
            FieldReport {
                field: *field,
                expected: expected.to_string(),
                actual,
                held,
            }
        })
        .collect();
    let (case, operator) = match &check.target {
        CheckTarget::Case(id) => (Some(id.clone()), None),
        CheckTarget::Operator(id) => (None, Some(id.clone())),
    };
    CheckReport {
        case,
        operator,
        line: check.line,
        held: fields.iter().all(|f| f.held),
        fields,
    }
}

/// What a check found: a case, or an operator's profile (`None` when never written).
enum Found {
    Case(Box<Option<Case>>),
    Operator(Option<OperatorProfile>),
}

/// The value of an operator check's `field` (`status`: `none` for an operator never
/// registered).
fn operator_actual(profile: Option<&OperatorProfile>, field: CheckField) -> Expected {
    match field {
        CheckField::Status => {
            Expected::One(profile.map_or("none", |p| p.status.as_str()).to_string())
        }
        // The parser admits no other field on an operator check.
        _ => Expected::One("none".to_string()),
    }
}

/// The value of `field` on `case` (`none` for every layer of a case that does not exist).
pub fn actual_of(case: Option<&Case>, field: CheckField) -> Expected {
    let one = |v: Option<&str>| Expected::One(v.unwrap_or("none").to_string());
    match field {
        CheckField::Task => one(case.and_then(Case::task_state).map(|s| s.as_str())),
        CheckField::Assignee => one(case.and_then(Case::assignee)),
        CheckField::Job => one(case.and_then(Case::job_state).map(|s| s.as_str())),
        CheckField::Owner => one(case.and_then(Case::owner)),
        CheckField::Phase => one(case.and_then(Case::phase)),
        CheckField::Approval => Expected::One(
            case.and_then(Case::pending_phase)
                .map_or_else(|| "none".to_string(), |to| format!("pending:{to}")),
        ),
        // A case has no status (the parser admits `status` on operator checks only).
        CheckField::Status => one(None),
        CheckField::ServiceEvent => {
            one(case.and_then(Case::service_event_state).map(|s| s.as_str()))
        }
        CheckField::Record => one(case.and_then(|c| c.record.as_ref()).map(|_| "sealed")),
        CheckField::Settlement => one(case
            .and_then(|c| c.settlement.as_ref())
            .map(|s| s.status.as_str())),
        CheckField::Signals => Expected::List(
            case.map(|c| c.signals.iter().map(|s| s.kind.clone()).collect())
                .unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse::parse;
    use std::path::Path;

    const SURFACE: &str = r#"
[surface]
slug = "demo"
name = "Demo"
spec = "surface-runtime-spec-v0.01"
version = 1

[[phase]]
id = "queued"
label = "Queued"

[[phase]]
id = "claimed"
label = "Confirmed"

[[phase]]
id = "arrived"
label = "On Site"

[[phase]]
id = "done"
label = "Done"

[intake]
required = ["contact"]

[[escalation]]
phase = "claimed"
after = "1h"
signal = "claim_stale"
"#;

    fn registry() -> Arc<Registry> {
        use crate::surface::load::{Format, SourceFile, compile_source};
        let file = SourceFile::from_text("demo.toml", SURFACE, Format::Toml);
        let compiled = compile_source(&file).unwrap();
        let mut registry = Registry::new();
        registry.register(compiled.surface).unwrap();
        Arc::new(registry)
    }

    const SCENARIO: &str = r#"
[principals]
client = { id = "client-ava", roles = ["client"] }
admin = { id = "admin-kim", roles = ["admin"] }
lee = { id = "op-lee", roles = ["operator"] }
max = { id = "op-max", roles = ["operator"] }

[[step]]
as = "client"
command = "submit_request"
case = "c1"
args = { surface = "demo", intake = { contact = "ava@example.com" } }
key = "submit-c1"

[[step]]
as = "client"
command = "submit_request"
case = "c1"
args = { surface = "demo", intake = { contact = "ava@example.com" } }
key = "submit-c1"
expect = "duplicate"

[[step]]
as = "admin"
command = "approve_task"
case = "c1"

[[step]]
as = "admin"
command = "assign_task"
case = "c1"
args = { operator = "op-lee" }

[[step]]
as = "lee"
command = "claim_job"
case = "c1"
expect = "rejected:no_job"

[[step]]
as = "admin"
command = "create_job"
case = "c1"

[[step]]
as = "max"
command = "claim_job"
case = "c1"
expect = "rejected:not_assignee"

[[step]]
as = "lee"
command = "claim_job"
case = "c1"

[[step]]
command = "tick"
case = "c1"
at = "+2h"

[[step]]
as = "lee"
command = "advance"
case = "c1"
args = { to = "arrived" }

[[step]]
as = "lee"
command = "complete_service_event"
case = "c1"
args = { outcome = "done" }

[[check]]
case = "c1"
task = "approved"
assignee = "op-lee"
job = "claimed"
phase = "done"
service_event = "complete"
record = "sealed"
settlement = "none"
signals = ["claim_stale", "record"]
"#;

    #[test]
    fn runs_every_step_and_check() {
        let scenario = parse(SCENARIO, Path::new("demo.toml")).unwrap();
        let report = run_in_memory(&scenario, "demo.toml", registry());
        let text = report.to_text();
        assert!(report.passed, "{text}");
        assert!(text.contains("task approved · assignee op-lee"), "{text}");
        assert!(text.contains("On Site"), "{text}");
        assert!(text.contains("signal claim_stale on c1"), "{text}");
        let tick = &report.steps[8];
        assert_eq!(tick.at, "2026-01-01T02:00:00Z");
        assert_eq!(tick.phase_label.as_deref(), Some("Confirmed"));
    }

    #[test]
    fn differences_are_reported_not_fatal() {
        let text = SCENARIO
            .replace("expect = \"rejected:no_job\"", "")
            .replace("job = \"claimed\"", "job = \"completed\"");
        let scenario = parse(&text, Path::new("demo.toml")).unwrap();
        let report = run_in_memory(&scenario, "demo.toml", registry());
        assert!(!report.passed);
        assert_eq!(report.failed_steps(), 1);
        assert_eq!(
            report.steps[4].outcome,
            Outcome::Rejected(crate::spine::RejectionCode::NoJob)
        );
        let job = report.checks[0]
            .fields
            .iter()
            .find(|f| f.field == CheckField::Job)
            .unwrap();
        assert_eq!(
            (job.expected.as_str(), job.actual.as_str(), job.held),
            ("completed", "claimed", false)
        );
        assert_eq!(report.steps.len(), 11, "the run goes on after a failure");
    }
}

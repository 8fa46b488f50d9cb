//! What the pages show beyond the JSON views: the lifecycle of a case as steps, the next step
//! of a case judged as the principal who would send it ("why can't this move?"), and a short
//! line per stored event. Computed on the engine's side of [`Backend::run`](crate::serve::backend::Backend::run): each function
//! takes the engine and never blocks the async runtime.
//!
//! Nothing here judges a command: every verdict is [`Engine::explain`](crate::engine::Engine::explain)'s.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::audit::StoredEvent;
use crate::engine::{CaseView, EngineError};
use crate::policy::{Principal, Role};
use crate::serve::backend::ServeEngine;
use crate::spine::{Command, CommandBody, CommandKind, JobState, ServiceEventState, TaskState};

/// One phase of a case's lifecycle, as the phase stepper shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The phase id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// `done`, `current` or `todo`.
    pub state: &'static str,
}

/// The phases of `view`'s pinned surface, each marked done, current or to do. Empty when the
/// surface is not registered.
pub fn lifecycle(engine: &ServeEngine, view: &CaseView) -> Vec<Step> {
    let Some((slug, version)) = view.surface.rsplit_once('@') else {
        return Vec::new();
    };
    let Some(surface) = version
        .parse()
        .ok()
        .and_then(|v| engine.registry().get(slug, v))
    else {
        return Vec::new();
    };
    let current = view.stage.as_ref().and_then(|stage| {
        surface
            .phases()
            .iter()
            .position(|phase| phase.id == stage.id)
    });
    let finished = view.service_event == Some(ServiceEventState::Complete);
    surface
        .phases()
        .iter()
        .enumerate()
        .map(|(i, phase)| Step {
            id: phase.id.clone(),
            label: phase.label.clone(),
            state: match current {
                Some(c) if i < c || (i == c && finished) => "done",
                Some(c) if i == c => "current",
                _ => "todo",
            },
        })
        .collect()
}

/// The steps of many cases at once, by case id.
pub fn lifecycles<'a>(
    engine: &ServeEngine,
    views: impl IntoIterator<Item = &'a CaseView>,
) -> BTreeMap<String, Vec<Step>> {
    views
        .into_iter()
        .map(|view| (view.case.clone(), lifecycle(engine, view)))
        .collect()
}

/// The next step of a case, judged now as the principal who would take it.
#[derive(Clone, Debug, Serialize)]
pub struct NextStep {
    /// The command.
    pub command: &'static str,
    /// What it does, in words.
    pub label: String,
    /// Who it was judged as (principal id).
    pub judged_as: String,
    /// Whether the engine would apply it now.
    pub allowed: bool,
    /// The rejection code when refused.
    pub code: Option<String>,
    /// Why not, when refused.
    pub refused: Option<String>,
}

/// The roles `id` acted with in `history` (its latest event), or `fallback`.
pub fn roles_in(history: &[StoredEvent], id: &str, fallback: Role) -> Vec<Role> {
    history
        .iter()
        .rev()
        .find(|e| e.actor.id == id)
        .map_or_else(|| vec![fallback], |e| e.actor.roles.clone())
}

/// The principal `id` with the roles it acted with in `history` (or `fallback`).
pub fn principal_in(history: &[StoredEvent], id: &str, fallback: Role) -> Principal {
    Principal {
        id: id.to_string(),
        roles: roles_in(history, id, fallback),
    }
}

/// What should happen next to the case, each judged by `explain` as the principal who would
/// send it: `admin` for governance, the assignee for the claim, the owner for the moves and
/// the Job's completion. Empty once nothing is left to do.
pub fn next_steps(
    engine: &ServeEngine,
    admin: &Principal,
    view: &CaseView,
    history: &[StoredEvent],
) -> Result<Vec<NextStep>, EngineError> {
    let judge = |who: &Principal,
                 command: &'static str,
                 body: CommandBody,
                 label: String|
     -> Result<NextStep, EngineError> {
        let verdict = engine.explain(who, &Command::new(view.case.clone(), body))?;
        Ok(NextStep {
            command,
            label,
            judged_as: who.id.clone(),
            allowed: verdict.accepted(),
            code: verdict.rejection.as_ref().map(|r| r.code.to_string()),
            refused: verdict.rejection.map(|r| r.message),
        })
    };
    let mut steps = Vec::new();
    match (view.task, view.job, view.service_event) {
        (Some(TaskState::Open), _, _) => {
            steps.push(judge(
                admin,
                "approve_task",
                CommandBody::ApproveTask,
                "Approve the Task".into(),
            )?);
        }
        (Some(TaskState::Approved), None, _) if view.assignee.is_some() => {
            steps.push(judge(
                admin,
                "create_job",
                CommandBody::CreateJob,
                "Create the Job (the hand-off)".into(),
            )?);
        }
        (_, Some(JobState::Queued), _) => {
            if let Some(assignee) = &view.assignee {
                let who = principal_in(history, assignee, Role::Operator);
                steps.push(judge(
                    &who,
                    "claim_job",
                    CommandBody::ClaimJob,
                    "Claim the Job".into(),
                )?);
            }
        }
        (_, Some(JobState::Claimed), Some(ServiceEventState::Open)) => {
            if let Some(owner) = &view.owner {
                let who = principal_in(history, owner, Role::Operator);
                let job = crate::engine::active_job(engine, &who, view.clone())?;
                for m in job.moves {
                    steps.push(NextStep {
                        command: m.command,
                        label: format!("Move to {}", m.label),
                        judged_as: owner.clone(),
                        allowed: m.allowed,
                        code: m.code,
                        refused: m.refused,
                    });
                }
            }
        }
        (_, Some(JobState::Claimed), Some(ServiceEventState::Complete)) => {
            if let Some(owner) = &view.owner {
                let who = principal_in(history, owner, Role::Operator);
                steps.push(judge(
                    &who,
                    "complete_job",
                    CommandBody::CompleteJob,
                    "Complete the Job".into(),
                )?);
            }
        }
        _ => {}
    }
    Ok(steps)
}

/// One stored event as the history table shows it.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryRow {
    /// Its sequence number in the case.
    pub seq: u64,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// The event's type.
    pub event_type: String,
    /// Who caused it.
    pub actor: String,
    /// Its arguments in one line (`to: arrived · ref: s3://…`).
    pub detail: String,
    /// Its digest.
    pub digest: String,
}

/// The history table of a case.
pub fn history_rows(history: &[StoredEvent]) -> Vec<HistoryRow> {
    history
        .iter()
        .map(|e| HistoryRow {
            seq: e.seq,
            at: short_time(&e.ts_utc),
            event_type: e.event_type.clone(),
            actor: e.actor.id.clone(),
            detail: detail(&e.payload),
            digest: e.digest.clone(),
        })
        .collect()
}

/// `2026-01-10T09:00:00.123Z` as `2026-01-10 09:00:00` (the table says UTC).
fn short_time(rfc3339: &str) -> String {
    rfc3339
        .get(..19)
        .map_or_else(|| rfc3339.to_string(), |t| t.replacen('T', " ", 1))
}

/// The longest value shown in a history line.
const DETAIL_MAX: usize = 60;

fn detail(payload: &impl Serialize) -> String {
    let Ok(Value::Object(fields)) = serde_json::to_value(payload) else {
        return String::new();
    };
    fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "by" | "at"))
        .filter_map(|(k, v)| {
            let shown = match v {
                Value::Null => return None,
                Value::String(s) => shorten(s),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Array(items) => format!("{} item(s)", items.len()),
                Value::Object(map) => match (map.get("slug"), map.get("version")) {
                    (Some(Value::String(slug)), Some(version)) => format!("{slug}@{version}"),
                    _ => match (map.get("kind"), map.get("digest")) {
                        (Some(Value::String(kind)), _) => kind.clone(),
                        (_, Some(Value::String(digest))) => {
                            format!("digest {}…", digest.get(..12).unwrap_or(digest))
                        }
                        _ => format!("{} field(s)", map.len()),
                    },
                },
            };
            Some(format!("{k}: {shown}"))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= DETAIL_MAX {
        return text.to_string();
    }
    let mut short: String = text.chars().take(DETAIL_MAX - 1).collect();
    short.push('…');
    short
}

/// Which commands this build knows, for the forms that only make sense with them (release,
/// approvals inside execution: the governance layer). A page shows such a form only when its
/// command parses.
#[derive(Clone, Debug, Serialize)]
pub struct Known {
    /// `release_job`.
    pub release_job: bool,
    /// `approve_transition` and `reject_transition`.
    pub approvals: bool,
    /// `reassign_job`.
    pub reassign_job: bool,
    /// The operator directory: `register_operator`, `suspend_operator`, `reinstate_operator`.
    pub directory: bool,
    /// Every case command name, for the explain form.
    pub commands: Vec<&'static str>,
}

impl Known {
    /// What this build knows.
    pub fn now() -> Known {
        let known = |name: &str| CommandKind::parse(name).is_some();
        Known {
            release_job: known("release_job"),
            approvals: known("approve_transition") && known("reject_transition"),
            reassign_job: known("reassign_job"),
            directory: known("register_operator")
                && known("suspend_operator")
                && known("reinstate_operator"),
            commands: CommandKind::ALL.iter().map(|k| k.as_str()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_history_line_names_the_arguments() {
        let line = detail(&json!({
            "type": "evidence_attached",
            "category": "after",
            "ref": "s3://photos/after.jpg",
            "by": "op-lee",
            "at": 1,
            "photos": ["a", "b"],
            "surface": { "slug": "auto-detailing", "version": 1 },
            "outcome": null,
        }));
        assert_eq!(
            line,
            "category: after · photos: 2 item(s) · ref: s3://photos/after.jpg · surface: auto-detailing@1"
        );
        let long = "x".repeat(100);
        assert_eq!(shorten(&long).chars().count(), DETAIL_MAX);
    }
}

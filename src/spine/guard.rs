//! The read-only scope a Rhai rule sees (CONTRACT.md §1): `case`, `actor`, `command`, `now`.

use rhai::{Dynamic, Map};
use serde_json::Value;

use crate::policy::Principal;
use crate::spine::case::{Case, Millis};
use crate::spine::command::Command;
use crate::surface::Surface;
use crate::surface::rules::{GuardScope, Reads};

/// Deepest JSON nesting converted into a rule's scope (deeper values become `()`).
const MAX_DEPTH: usize = 16;

/// Build the whole scope for judging `command` on `case`.
pub fn scope(
    case: &Case,
    surface: &Surface,
    principal: &Principal,
    command: &Command,
    now: Millis,
) -> GuardScope {
    scope_for(&Reads::everything(), case, surface, principal, command, now)
}

/// Build the parts of the scope that `reads` names (see [`Guard::reads`]); the rest stays
/// empty. What a guard never names cannot change its verdict, so this judges exactly like
/// [`scope`] and spares converting the intake, the actor and the command when no guard looks.
///
/// [`Guard::reads`]: crate::surface::rules::Guard::reads
pub fn scope_for(
    reads: &Reads,
    case: &Case,
    surface: &Surface,
    principal: &Principal,
    command: &Command,
    now: Millis,
) -> GuardScope {
    let want = |name: &str| reads.case.reads(name);
    let mut c = Map::new();
    if want("id") {
        c.insert("id".into(), Dynamic::from(case.id.clone()));
    }
    if want("phase") {
        c.insert("phase".into(), opt_str(case.phase()));
    }
    if want("evidence") {
        let mut evidence = Map::new();
        let counts = case.service_event.as_ref().map(|s| &s.evidence_counts);
        for name in &surface.evidence().categories {
            let n = counts.and_then(|m| m.get(name)).copied().unwrap_or(0);
            evidence.insert(name.as_str().into(), Dynamic::from(i64::from(n)));
        }
        c.insert("evidence".into(), Dynamic::from_map(evidence));
    }
    if want("intake") {
        let mut intake = Map::new();
        if let Some(request) = case.request.as_ref() {
            for (k, v) in &request.intake {
                intake.insert(k.as_str().into(), json_to_dynamic(v, 0));
            }
        }
        c.insert("intake".into(), Dynamic::from_map(intake));
    }
    if want("assignee") {
        c.insert("assignee".into(), opt_str(case.assignee()));
    }
    if want("owner") {
        c.insert("owner".into(), opt_str(case.owner()));
    }
    if want("task") {
        c.insert("task".into(), opt_str(case.task_state().map(|s| s.as_str())));
    }
    if want("job") {
        c.insert("job".into(), opt_str(case.job_state().map(|s| s.as_str())));
    }
    if want("service_event") {
        c.insert(
            "service_event".into(),
            opt_str(case.service_event_state().map(|s| s.as_str())),
        );
    }
    if want("settlement") {
        c.insert(
            "settlement".into(),
            opt_str(case.settlement.as_ref().map(|s| s.status.as_str())),
        );
    }
    let mut actor = Map::new();
    if reads.actor {
        actor.insert("id".into(), Dynamic::from(principal.id.clone()));
        let roles: rhai::Array = principal
            .roles
            .iter()
            .map(|r| Dynamic::from(r.as_str().to_string()))
            .collect();
        actor.insert("roles".into(), Dynamic::from_array(roles));
    }
    let mut cmd = Map::new();
    if reads.command {
        cmd.insert(
            "name".into(),
            Dynamic::from(command.kind().as_str().to_string()),
        );
        if let Value::Object(args) = command.body.args_json() {
            for (k, v) in &args {
                cmd.insert(k.as_str().into(), json_to_dynamic(v, 0));
            }
        }
    }
    GuardScope {
        case: c,
        actor,
        command: cmd,
        now,
    }
}

fn opt_str(s: Option<&str>) -> Dynamic {
    s.map(|s| Dynamic::from(s.to_string()))
        .unwrap_or(Dynamic::UNIT)
}

/// Convert JSON to a Rhai value (bounded depth).
pub fn json_to_dynamic(v: &Value, depth: usize) -> Dynamic {
    if depth > MAX_DEPTH {
        return Dynamic::UNIT;
    }
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => Dynamic::from_array(
            items
                .iter()
                .map(|i| json_to_dynamic(i, depth + 1))
                .collect(),
        ),
        Value::Object(map) => {
            let mut m = Map::new();
            for (k, v) in map {
                m.insert(k.as_str().into(), json_to_dynamic(v, depth + 1));
            }
            Dynamic::from_map(m)
        }
    }
}

//! An [`Exploration`] for people (text) and tools (JSON).

use std::fmt::Write as _;

use serde_json::Value;

use crate::explore::{Bound, Exploration, Step};
use crate::spine::RejectionCode;

/// The exploration as JSON (every field of [`Exploration`]).
pub fn to_json(exploration: &Exploration) -> Value {
    serde_json::to_value(exploration).unwrap_or(Value::Null)
}

/// The exploration as text: the figures, each phase's shortest path, the transitions never
/// taken, the phases that cannot complete, and every rejection code met.
pub fn to_text(e: &Exploration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} states, {} moves, {} commands tried, {} commands deep",
        e.surface, e.states, e.moves, e.tries, e.depth
    );
    let hit = match e.bound_hit {
        None => "none hit".to_string(),
        Some(Bound::States) => "the state limit was HIT: the figures are a lower bound".into(),
        Some(Bound::Depth) => "the depth limit was HIT: the figures are a lower bound".into(),
    };
    let _ = writeln!(
        out,
        "  limits: {} states, {} commands deep; {hit}",
        e.limits.max_states, e.limits.max_depth
    );

    out.push_str("\nshortest path to each phase\n");
    let width = e.phases.iter().map(|p| p.id.len()).max().unwrap_or(0);
    for phase in &e.phases {
        match &phase.path {
            Some(path) => {
                let _ = writeln!(
                    out,
                    "  {:<width$}  {} command{}: {}",
                    phase.id,
                    path.len(),
                    if path.len() == 1 { "" } else { "s" },
                    describe_path(path)
                );
            }
            None => {
                let _ = writeln!(out, "  {:<width$}  never reached", phase.id);
            }
        }
    }

    let never: Vec<String> = e
        .never_taken()
        .map(|t| format!("{} -> {}", t.from, t.to))
        .collect();
    let taken = e.transitions.len() - never.len();
    let _ = writeln!(
        out,
        "\ntransitions: {taken} of {} taken",
        e.transitions.len()
    );
    for t in &never {
        let _ = writeln!(out, "  never taken: {t}");
    }

    if e.cannot_complete.is_empty() {
        out.push_str("\nevery phase reached can still complete\n");
    } else {
        let _ = writeln!(
            out,
            "\nphases that cannot complete (no path to the last phase, given the rules): {}",
            e.cannot_complete.join(", ")
        );
    }

    let _ = writeln!(
        out,
        "\nrejection codes reachable: {} of {}",
        e.rejections.len(),
        RejectionCode::ALL.len()
    );
    let width = e
        .rejections
        .iter()
        .map(|r| r.code.as_str().len())
        .max()
        .unwrap_or(0);
    for r in &e.rejections {
        let commands: Vec<&str> = r.commands.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(
            out,
            "  {:<width$}  by {}",
            r.code.as_str(),
            commands.join(", ")
        );
    }
    let missing: Vec<&str> = RejectionCode::ALL
        .iter()
        .filter(|c| !e.rejections.iter().any(|r| r.code == **c))
        .map(|c| c.as_str())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(out, "  never met: {}", missing.join(", "));
    }
    out
}

/// `client submit_request, admin approve_task, lee advance to=arrived`.
pub fn describe_path(path: &[Step]) -> String {
    path.iter().map(describe).collect::<Vec<_>>().join(", ")
}

/// `lee advance to=arrived`: the actor, the command, and its short arguments.
pub fn describe(step: &Step) -> String {
    let mut text = format!("{} {}", step.actor, step.command.as_str());
    if let Value::Object(args) = &step.args {
        for (k, v) in args {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            let _ = write!(text, " {k}={value}");
        }
    }
    text
}

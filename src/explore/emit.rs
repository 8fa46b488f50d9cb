//! An [`Exploration`] as a scenario file (docs/scenario.md) that `planck run` passes: every
//! transition the walk took and every rejection it met, each path on a case of its own.
//!
//! Transitions are covered greedily, longest path first: a path that takes several
//! transitions covers them all, so fewer cases are written. Each path is replayed through
//! the spine while it is written (to know which transitions it takes and where it ends), and
//! each transition case gets a `[[check]]` of the phase it ends in. Each rejection is written
//! as its shortest path followed by the refused command with `expect = "rejected:<code>"`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::explore::generate::{CASE, PRINCIPALS, catalog, operator_profiles};
use crate::explore::report::describe;
use crate::explore::{Exploration, NOW, Step, phase_of};
use crate::spine::{Case, Command, decide, evolve};
use crate::surface::{PhaseId, Surface};

/// The scenario text. `surfaces` is the `surfaces` entry to write: the surface file's path
/// relative to where the scenario will be written.
pub fn scenario(exploration: &Exploration, surface: &Surface, surfaces: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `planck explore --emit-scenario` from {}: every transition the walk took\n\
         # and every rejection it met, each on a case of its own. `planck run` passes it.\n",
        exploration.surface
    );
    let _ = writeln!(
        out,
        "name = {}",
        toml_string(&format!("explore {}", exploration.surface))
    );
    let _ = writeln!(out, "surfaces = [{}]\n", toml_string(surfaces));
    out.push_str("[principals]\n");
    for p in &PRINCIPALS {
        let _ = writeln!(
            out,
            "{} = {{ id = {}, roles = [{}] }}",
            p.key,
            toml_string(p.id),
            toml_string(p.role.as_str())
        );
    }

    // The operators the walk judged with are registered before any case.
    for profile in operator_profiles(surface) {
        let args = serde_json::json!({
            "operator": profile.id,
            "name": profile.name,
            "surfaces": profile.surfaces,
        });
        let _ = write!(
            out,
            "\n[[step]]\nas = {}\ncommand = \"register_operator\"\nargs = {}\n",
            toml_string(REGISTRAR),
            toml_value(&args)
        );
    }

    let mut checks = String::new();
    let mut covered: BTreeSet<(PhaseId, PhaseId)> = BTreeSet::new();
    let mut paths: Vec<(&str, &str, &Vec<Step>)> = exploration
        .transitions
        .iter()
        .filter_map(|t| t.path.as_ref().map(|p| (t.from.as_str(), t.to.as_str(), p)))
        .collect();
    paths.sort_by_key(|(.., p)| std::cmp::Reverse(p.len()));
    let mut n = 0;
    for (from, to, path) in paths {
        let (Some(a), Some(b)) = (surface.phase_id(from), surface.phase_id(to)) else {
            continue;
        };
        if covered.contains(&(a, b)) {
            continue;
        }
        n += 1;
        let case = format!("t{n}");
        let (moves, end) = replay(surface, path);
        let names: Vec<String> = moves
            .iter()
            .map(|(a, b)| format!("{} -> {}", surface.phase_name(*a), surface.phase_name(*b)))
            .collect();
        covered.extend(moves);
        let _ = writeln!(out, "\n# {case}: {}", names.join(", "));
        for step in path {
            write_step(&mut out, step, &case, None);
        }
        let _ = writeln!(
            checks,
            "\n[[check]]\ncase = {}\nphase = {}",
            toml_string(&case),
            toml_string(end.as_deref().unwrap_or("none"))
        );
    }

    for (n, r) in exploration.rejections.iter().enumerate() {
        let case = format!("r{}", n + 1);
        let last = r.path.last().map(describe).unwrap_or_default();
        let _ = writeln!(out, "\n# {case}: {} ({last})", r.code.as_str());
        let Some((refused, before)) = r.path.split_last() else {
            continue;
        };
        for step in before {
            write_step(&mut out, step, &case, None);
        }
        write_step(&mut out, refused, &case, Some(r.code.as_str()));
    }
    out.push_str(&checks);
    out
}

/// The representative principal who registers the walk's operators (an admin who takes no
/// other part in their cases' governance than any other admin does).
const REGISTRAR: &str = "admin2";

/// Replay `path` from an empty case: the phase moves it makes, and the phase it ends in.
fn replay(surface: &Surface, path: &[Step]) -> (Vec<(PhaseId, PhaseId)>, Option<String>) {
    let catalog = catalog(surface);
    let mut case = Case::new(CASE);
    let mut moves = Vec::new();
    for step in path {
        let Some(principal) = PRINCIPALS.iter().find(|p| p.key == step.actor) else {
            continue;
        };
        let Ok(command) = Command::from_json(CASE, step.command.as_str(), &step.args) else {
            continue;
        };
        let Ok(events) = decide(&case, &catalog, &principal.principal(), &command, NOW) else {
            continue;
        };
        let before = phase_of(surface, &case);
        case = events.iter().fold(case, evolve);
        if let (Some(a), Some(b)) = (before, phase_of(surface, &case))
            && a != b
        {
            moves.push((a, b));
        }
    }
    (moves, case.phase().map(str::to_string))
}

fn write_step(out: &mut String, step: &Step, case: &str, rejected: Option<&str>) {
    let _ = write!(
        out,
        "\n[[step]]\nas = {}\ncommand = {}\ncase = {}\n",
        toml_string(step.actor),
        toml_string(step.command.as_str()),
        toml_string(case)
    );
    if step.args.as_object().is_some_and(|m| !m.is_empty()) {
        let _ = writeln!(out, "args = {}", toml_value(&step.args));
    }
    if let Some(code) = rejected {
        let _ = writeln!(out, "expect = {}", toml_string(&format!("rejected:{code}")));
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key: bare when it can be.
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A JSON value as an inline TOML value (`null`, which TOML lacks, as an empty string; the
/// explorer never writes one).
fn toml_value(value: &Value) -> String {
    match value {
        Value::Null => "\"\"".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            if map.is_empty() {
                return "{}".to_string();
            }
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_inline_toml() {
        let v = serde_json::json!({ "a b": "x\"y", "n": 3, "l": ["p"], "m": {} });
        assert_eq!(
            toml_value(&v),
            r#"{ "a b" = "x\"y", l = ["p"], m = {}, n = 3 }"#
        );
        assert_eq!(toml_string("tab\there"), "\"tab\\there\"");
    }
}

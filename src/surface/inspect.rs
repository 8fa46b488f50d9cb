//! What a compiled surface says, for people ([`to_text`]) and for tools ([`to_json`]).
//!
//! Both views are taken from the compiled [`Surface`], so they show what the engine will
//! actually run: defaults filled in, implicit transitions written out (and marked as such),
//! the role of each phase in the spine, and the fingerprint a case pins. Nothing here reads
//! files or can fail.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::surface::model::{RuleTrigger, Surface, TransitionInfo};

/// The role of a phase in the spine, from its position (`docs/surface.md`).
pub fn phase_role(surface: &Surface, index: usize) -> &'static str {
    let last = surface.phases().len().saturating_sub(1);
    if index == 0 {
        "first"
    } else if index == last {
        "last"
    } else if index == 1 {
        "claimed"
    } else {
        "intermediate"
    }
}

/// What a phase's role means, for humans.
pub fn role_description(role: &str) -> &'static str {
    match role {
        "first" => "the Job waits to be claimed",
        "claimed" => "entered by claiming the Job",
        "last" => "entered only by completing the ServiceEvent",
        _ => "entered by `advance`",
    }
}

/// Whether `surface` declares its transitions (`false`: each phase moves to the next).
pub fn transitions_declared(surface: &Surface) -> bool {
    !surface.definition().transitions.is_empty()
}

/// The JSON view: `slug`, `name`, `spec`, `version`, `key`, `status`, `fingerprint`,
/// `execution` (with `operators`), `phases` (`id`, `label`, `role`), `transitions` (`from`,
/// `to`, `requires`, `rule`, `approval`, `implicit`), `evidence`, `intake`, `rules` (`name`, `on`, `when`, `message`) and
/// `escalations` (`phase`, `after`, `after_ms`, `signal`).
pub fn to_json(surface: &Surface) -> Value {
    let execution = surface.execution();
    let evidence = surface.evidence();
    let intake = surface.intake();
    let phases: Vec<Value> = surface
        .phases()
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "id": p.id, "label": p.label, "role": phase_role(surface, i) }))
        .collect();
    let transitions: Vec<Value> = surface
        .transitions()
        .iter()
        .map(|t| {
            json!({
                "from": surface.phase_name(t.from),
                "to": surface.phase_name(t.to),
                "requires": requires_names(surface, t),
                "rule": rule_name(surface, t),
                "approval": approval_names(t),
                "implicit": t.implicit,
            })
        })
        .collect();
    let rules: Vec<Value> = surface
        .rules()
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "on": trigger_name(r.on),
                "when": r.when,
                "message": r.message,
            })
        })
        .collect();
    let escalations: Vec<Value> = surface
        .escalations()
        .iter()
        .map(|e| {
            json!({
                "phase": surface.phase_name(e.phase),
                "after": e.after,
                "after_ms": e.after_ms,
                "signal": e.signal,
            })
        })
        .collect();
    json!({
        "slug": surface.slug(),
        "name": surface.name(),
        "spec": surface.spec(),
        "version": surface.version(),
        "key": surface.key(),
        "status": surface.status().as_str(),
        "fingerprint": surface.fingerprint().to_hex(),
        "execution": {
            "claim": execution.claim.as_str(),
            "ownership": execution.ownership.as_str(),
            "record": execution.record.as_str(),
            "payment_timing": execution.payment_timing.as_str(),
            "completed_visible": execution.completed_visible,
            "operators": execution.operators.as_str(),
        },
        "phases": phases,
        "transitions": transitions,
        "evidence": {
            "required_categories": evidence.required().map(|(_, c)| c).collect::<Vec<_>>(),
            "optional_categories": evidence
                .categories
                .iter()
                .skip(evidence.required_count as usize)
                .collect::<Vec<_>>(),
            "min_per_category": evidence.min_per_category,
        },
        "intake": {
            "required": intake.required,
            "optional": intake.optional,
            "min_photos": intake.min_photos,
        },
        "rules": rules,
        "escalations": escalations,
    })
}

/// The text view, for a terminal: identity, posture, phases with their roles, transitions
/// with what they require, the evidence and intake contracts, rules and escalations.
pub fn to_text(surface: &Surface) -> String {
    let mut out = String::new();
    let execution = surface.execution();
    let _ = writeln!(
        out,
        "{}  ({}, {})",
        surface.name(),
        surface.key(),
        surface.status()
    );
    let _ = writeln!(out, "  spec         {}", surface.spec());
    let _ = writeln!(out, "  fingerprint  {}", surface.fingerprint());
    let _ = writeln!(
        out,
        "  execution    claim {}, ownership {}, record {}, payment {}, completed {}",
        execution.claim,
        execution.ownership,
        execution.record,
        execution.payment_timing,
        if execution.completed_visible {
            "visible"
        } else {
            "hidden"
        }
    );
    if surface.registered_operators() {
        out.push_str("  operators    registered only: an active profile bound to this surface\n");
    }

    out.push_str("\nphases\n");
    let id_width = column_width(surface.phases().iter().map(|p| p.id.as_str()));
    let label_width = column_width(surface.phases().iter().map(|p| p.label.as_str()));
    for (i, p) in surface.phases().iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<id_width$}  {:<label_width$}  {}",
            i + 1,
            p.id,
            p.label,
            role_description(phase_role(surface, i))
        );
    }

    out.push_str("\ntransitions");
    if !transitions_declared(surface) {
        out.push_str(" (none declared: each phase moves to the next)");
    }
    out.push('\n');
    for t in surface.transitions() {
        let _ = write!(
            out,
            "  {} -> {}",
            surface.phase_name(t.from),
            surface.phase_name(t.to)
        );
        if t.implicit && transitions_declared(surface) {
            out.push_str("  (implied: the claim)");
        }
        let requires = requires_names(surface, t);
        if !requires.is_empty() {
            let _ = write!(out, "  requires {}", requires.join(", "));
        }
        if let Some(rule) = rule_name(surface, t) {
            let _ = write!(out, "  guard {rule}");
        }
        if !t.approval.is_empty() {
            let _ = write!(out, "  approval by {}", approval_names(t).join(" or "));
        }
        out.push('\n');
    }

    let evidence = surface.evidence();
    let required: Vec<&str> = evidence.required().map(|(_, c)| c).collect();
    let optional: Vec<&str> = evidence
        .categories
        .iter()
        .skip(evidence.required_count as usize)
        .map(String::as_str)
        .collect();
    out.push_str("\nevidence\n");
    let _ = writeln!(
        out,
        "  required  {}  (at least {} each before completion)",
        list_or_none(&required),
        evidence.min_per_category
    );
    let _ = writeln!(out, "  optional  {}", list_or_none(&optional));

    let intake = surface.intake();
    out.push_str("\nintake\n");
    let _ = writeln!(
        out,
        "  required  {}",
        list_or_none(&as_strs(&intake.required))
    );
    let _ = writeln!(
        out,
        "  optional  {}",
        list_or_none(&as_strs(&intake.optional))
    );
    let _ = writeln!(out, "  photos    at least {}", intake.min_photos);

    if !surface.rules().is_empty() {
        out.push_str("\nrules\n");
        for r in surface.rules() {
            let _ = writeln!(out, "  {}  on {}", r.name, trigger_name(r.on));
            let _ = writeln!(
                out,
                "    when     {}",
                r.when.replace('\n', "\n             ")
            );
            let _ = writeln!(out, "    message  {}", r.message);
        }
    }
    if !surface.escalations().is_empty() {
        out.push_str("\nescalations\n");
        for e in surface.escalations() {
            let _ = writeln!(
                out,
                "  {} for {} -> signal {}",
                surface.phase_name(e.phase),
                e.after,
                e.signal
            );
        }
    }
    out
}

/// The roles that may approve a transition (empty: none needed).
pub(crate) fn approval_names(t: &TransitionInfo) -> Vec<&'static str> {
    t.approval.iter().map(|r| r.as_str()).collect()
}

/// The names of the categories a transition requires.
pub(crate) fn requires_names<'s>(surface: &'s Surface, t: &TransitionInfo) -> Vec<&'s str> {
    t.requires
        .iter()
        .map(|c| surface.evidence().name(*c))
        .collect()
}

/// The name of the rule guarding a transition.
pub(crate) fn rule_name<'s>(surface: &'s Surface, t: &TransitionInfo) -> Option<&'s str> {
    t.rule
        .and_then(|r| surface.rule(r))
        .map(|r| r.name.as_str())
}

/// `advance`, `transition`, ...
pub(crate) fn trigger_name(trigger: RuleTrigger) -> &'static str {
    match trigger {
        RuleTrigger::Command(kind) => kind.as_str(),
        RuleTrigger::Transition => "transition",
    }
}

fn column_width<'a>(items: impl Iterator<Item = &'a str>) -> usize {
    items.map(|s| s.chars().count()).max().unwrap_or(0).min(32)
}

fn as_strs(items: &[String]) -> Vec<&str> {
    items.iter().map(String::as_str).collect()
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        String::from("(none)")
    } else {
        items.join(", ")
    }
}

//! The phase graph of a compiled surface, drawn for Graphviz ([`to_dot`]) and Markdown
//! ([`to_mermaid`]).
//!
//! Nodes are phases, labelled with what operators see and the phase id; edges are the
//! transitions, labelled with the evidence they require and the rule that guards them. The
//! first phase (the Job waiting to be claimed) and the last (entered only by completing the
//! ServiceEvent) are drawn apart and carry a note, the edge into the second phase is marked as
//! the claim, and escalations are written on the phase they watch. Implicit transitions (a
//! surface that declares none moves each phase to the next; one that declares some without
//! the claim edge gets that edge implied) are dashed. All user text is
//! escaped for the target format; nothing here can fail.

use std::fmt::Write as _;

use crate::surface::inspect::{approval_names, requires_names, rule_name};
use crate::surface::model::{PhaseId, Surface, TransitionInfo};

/// The surface as a Graphviz `digraph`, left to right: `planck graph --format dot FILE | dot -Tsvg`.
pub fn to_dot(surface: &Surface) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&surface.key()));
    out.push_str("  rankdir=LR;\n");
    let _ = writeln!(
        out,
        "  label={}; labelloc=t; fontname=\"Helvetica\";",
        dot_quote(&format!(
            "{} ({})\nfingerprint {}",
            surface.name(),
            surface.key(),
            short_fingerprint(surface)
        ))
    );
    out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    let last = surface.last_phase();
    for (i, phase) in surface.phases().iter().enumerate() {
        let id = PhaseId(u32::try_from(i).unwrap_or(u32::MAX));
        let mut label = format!("{}\n[{}]", phase.label, phase.id);
        for note in phase_notes(surface, id) {
            label.push('\n');
            label.push_str(&note);
        }
        let shape = if id == surface.first_phase() {
            ", style=\"rounded,bold\", peripheries=2"
        } else if id == last {
            ", shape=doublecircle"
        } else {
            ""
        };
        let _ = writeln!(out, "  p{i} [label={}{shape}];", dot_quote(&label));
    }
    for t in surface.transitions() {
        let dashed = t.implicit;
        let label = edge_label(surface, t).join("\n");
        let mut attrs = Vec::new();
        if !label.is_empty() {
            attrs.push(format!("label={}", dot_quote(&label)));
        }
        if dashed {
            attrs.push(String::from("style=dashed"));
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(out, "  p{} -> p{}{attrs};", t.from.0, t.to.0);
    }
    out.push_str("}\n");
    out
}

/// The surface as a Mermaid flowchart, left to right, ready for a Markdown ```` ```mermaid ````
/// block. The first phase is a stadium, the last a double circle.
pub fn to_mermaid(surface: &Surface) -> String {
    let mut out = String::new();
    out.push_str("flowchart LR\n");
    let _ = writeln!(
        out,
        "  %% {} ({}), fingerprint {}",
        mermaid_comment(surface.name()),
        mermaid_comment(&surface.key()),
        short_fingerprint(surface)
    );
    let last = surface.last_phase();
    for (i, phase) in surface.phases().iter().enumerate() {
        let id = PhaseId(u32::try_from(i).unwrap_or(u32::MAX));
        let mut label = format!(
            "{}<br/>[{}]",
            mermaid_text(&phase.label),
            mermaid_text(&phase.id)
        );
        for note in phase_notes(surface, id) {
            let _ = write!(label, "<br/><i>{}</i>", mermaid_text(&note));
        }
        let (open, close) = if id == surface.first_phase() {
            ("([", "])")
        } else if id == last {
            ("(((", ")))")
        } else {
            ("[", "]")
        };
        let _ = writeln!(out, "  p{i}{open}\"{label}\"{close}");
    }
    for t in surface.transitions() {
        let arrow = if t.implicit { "-.->" } else { "-->" };
        let label: Vec<String> = edge_label(surface, t)
            .iter()
            .map(|l| mermaid_text(l))
            .collect();
        if label.is_empty() {
            let _ = writeln!(out, "  p{} {arrow} p{}", t.from.0, t.to.0);
        } else {
            let _ = writeln!(
                out,
                "  p{} {arrow}|\"{}\"| p{}",
                t.from.0,
                label.join("<br/>"),
                t.to.0
            );
        }
    }
    out.push_str("  classDef first stroke-width:3px;\n");
    out.push_str("  classDef last stroke-width:3px;\n");
    let _ = writeln!(out, "  class p0 first");
    let _ = writeln!(out, "  class p{} last", last.0);
    out
}

/// The notes under a phase: its role when it is the first or the last, and its escalations.
fn phase_notes(surface: &Surface, id: PhaseId) -> Vec<String> {
    let mut notes = Vec::new();
    if id == surface.first_phase() {
        notes.push(String::from("start: waits for a claim"));
    } else if id == surface.last_phase() {
        notes.push(String::from("end: completing the service event"));
    }
    for e in surface.escalations().iter().filter(|e| e.phase == id) {
        notes.push(format!("after {}: signal {}", e.after, e.signal));
    }
    notes
}

/// The lines of an edge label: the claim, then what the move requires, its guard and who must
/// approve it.
fn edge_label(surface: &Surface, t: &TransitionInfo) -> Vec<String> {
    let mut lines = Vec::new();
    if t.from == surface.first_phase() && t.to == surface.claimed_phase() {
        lines.push(String::from("claim_job"));
    } else if t.to == surface.last_phase() {
        lines.push(String::from("complete_service_event"));
    }
    let requires = requires_names(surface, t);
    if !requires.is_empty() {
        lines.push(format!("requires {}", requires.join(", ")));
    }
    if let Some(rule) = rule_name(surface, t) {
        lines.push(format!("guard {rule}"));
    }
    if !t.approval.is_empty() {
        lines.push(format!("approval by {}", approval_names(t).join(" or ")));
    }
    lines
}

fn short_fingerprint(surface: &Surface) -> String {
    surface.fingerprint().to_hex().chars().take(12).collect()
}

/// A DOT quoted string; `\n` in `text` becomes a centred line break.
fn dot_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a quoted Mermaid label: quotes and markup characters as entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("#34;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '&' => out.push_str("#38;"),
            '|' => out.push_str("#124;"),
            '\n' => out.push_str("<br/>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text in a `%%` comment: one line.
fn mermaid_comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

//! The validator: every semantic problem of a [`Definition`], collected as [`Diagnostic`]s.
//!
//! Each check is one small function over a shared, precomputed context that pushes into one
//! accumulator, so adding a check is adding a function to the `CHECKS` table; no check stops the
//! others. Checks cover the hostile-input limits of [`crate::surface::limits`], patterns
//! (slugs, identifiers), empty texts and number ranges, duplicates, references between phases,
//! transitions, rules and categories, the shape and reachability of the phase graph (with
//! petgraph), rule triggers, rule compilation (Rhai positions mapped back into the file) and
//! escalation durations.
//!
//! This file holds the entry points, the `CHECKS` table and the context the checks share; the
//! checks live by what they look at: `values` (limits, missing keys, empty texts, patterns and
//! number ranges), `names` (names declared or listed twice), `phases` (the phase graph:
//! references, the shape of each transition, approvals, reachability), `rules` (triggers,
//! unused rules, compiling each `when` and checking what it reads), `escalations`, and
//! `patterns` (the text forms of slugs, identifiers and durations).
//!
//! Validation is pure and never panics; it never reads files and never builds the compiled
//! [`crate::surface::Surface`] (that is [`crate::surface::compile`](mod@crate::surface::compile), which runs this first).
//! A check that depends on a missing or malformed value skips it: the front end has already
//! reported why the value is missing.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::surface::ast::{Definition, Node, Span};
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::limits::MAX_DIAGNOSTICS;
use crate::surface::rules::Guard;

mod escalations;
mod names;
mod patterns;
mod phases;
mod rules;
mod values;

pub(crate) use patterns::is_duration_form;
pub use patterns::{is_identifier, is_slug, parse_duration};

use escalations::check_escalations;
use names::{
    check_duplicate_names, check_duplicate_phases, check_duplicate_rules,
    check_duplicate_transitions, check_required_and_optional,
};
use phases::{
    check_approvals, check_phase_count, check_reachability, check_transition_references,
    check_transition_shape,
};
use rules::{check_rule_triggers, check_unused_rules, compile_rules};
use values::{
    check_empty_values, check_identifiers, check_limits, check_missing_keys, check_numbers,
    check_slug, check_string_lengths,
};

/// The `on` value of a rule that runs only where a `[[transition]]` names it.
pub const TRANSITION_TRIGGER: &str = "transition";

/// Check `def` and return every problem found (errors and warnings), in check order.
///
/// This includes `missing_key` for required keys that are absent, which matters for
/// definitions built in code; after a front end, use [`validate_parsed`] instead.
pub fn validate(def: &Definition) -> Vec<Diagnostic> {
    run(def, true).diagnostics
}

/// Like [`validate`], but leaves missing keys to the front end that parsed `def`: front ends
/// report them with the table they belong to, and a key that was present with the wrong type
/// is absent from the tree without being missing from the file.
pub fn validate_parsed(def: &Definition) -> Vec<Diagnostic> {
    run(def, false).diagnostics
}

/// What validation produced: the diagnostics, and each rule's compiled guard (`None` where it
/// did not compile or was not compiled), so that the compiler compiles every guard once.
pub(crate) struct Validated {
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) guards: Vec<Option<Guard>>,
}

/// Run every check; `report_missing` adds `missing_key` for absent required keys.
pub(crate) fn run(def: &Definition, report_missing: bool) -> Validated {
    let cx = Cx::new(def, report_missing);
    let mut out = Vec::new();
    for check in CHECKS {
        check(&cx, &mut out);
    }
    let guards = compile_rules(&cx, &mut out);
    cap(&mut out);
    Validated {
        diagnostics: out,
        guards,
    }
}

/// Keep at most [`MAX_DIAGNOSTICS`], replacing the rest by one `too_many` warning that says
/// how many were left out.
pub(crate) fn cap(diags: &mut Vec<Diagnostic>) {
    if diags.len() <= MAX_DIAGNOSTICS {
        return;
    }
    let dropped = diags.len() - MAX_DIAGNOSTICS;
    diags.truncate(MAX_DIAGNOSTICS);
    diags.push(dropped_note(dropped));
}

/// The warning that stands for `dropped` diagnostics left out.
pub(crate) fn dropped_note(dropped: usize) -> Diagnostic {
    Diagnostic::warning(
        Code::TooMany,
        Span::default(),
        format!("{dropped} more problems were found and are not shown"),
    )
    .with_help(format!(
        "at most {MAX_DIAGNOSTICS} problems are reported for one file; fix these and check again"
    ))
}

/// One check: reads the context, pushes what it finds.
type Check = fn(&Cx<'_>, &mut Vec<Diagnostic>);

/// Every check, in the order their diagnostics are produced.
const CHECKS: &[Check] = &[
    check_limits,
    check_string_lengths,
    check_missing_keys,
    check_empty_values,
    check_slug,
    check_identifiers,
    check_numbers,
    check_phase_count,
    check_duplicate_phases,
    check_duplicate_rules,
    check_duplicate_transitions,
    check_duplicate_names,
    check_required_and_optional,
    check_transition_references,
    check_transition_shape,
    check_approvals,
    check_reachability,
    check_rule_triggers,
    check_unused_rules,
    check_escalations,
];

/// What the checks share: the definition and its name indexes (first occurrence wins).
struct Cx<'d> {
    def: &'d Definition,
    report_missing: bool,
    /// Phase id → index of its first declaration.
    phases: HashMap<&'d str, usize>,
    /// Rule name → index of its first declaration.
    rules: HashMap<&'d str, usize>,
    /// Every declared evidence category.
    categories: HashSet<&'d str>,
}

impl<'d> Cx<'d> {
    fn new(def: &'d Definition, report_missing: bool) -> Self {
        let mut phases = HashMap::new();
        for (i, phase) in def.phases.iter().enumerate() {
            if let Some(id) = &phase.value.id {
                phases.entry(id.value.as_str()).or_insert(i);
            }
        }
        let mut rules = HashMap::new();
        for (i, rule) in def.rules.iter().enumerate() {
            if let Some(name) = &rule.value.name {
                rules.entry(name.value.as_str()).or_insert(i);
            }
        }
        let categories = def
            .evidence
            .required_categories
            .iter()
            .chain(&def.evidence.optional_categories)
            .map(|c| c.value.as_str())
            .collect();
        Cx {
            def,
            report_missing,
            phases,
            rules,
            categories,
        }
    }

    /// The id of the first phase, when it has one.
    fn first_phase(&self) -> Option<&'d str> {
        self.def
            .phases
            .first()?
            .value
            .id
            .as_ref()
            .map(|n| n.value.as_str())
    }

    /// The id of the last phase, when it has one.
    fn last_phase(&self) -> Option<&'d str> {
        self.def
            .phases
            .last()?
            .value
            .id
            .as_ref()
            .map(|n| n.value.as_str())
    }

    /// Where to point when the problem is the whole surface.
    fn header_span(&self) -> Span {
        self.def.surface.span.0
    }

    /// A "did you mean" help for an unknown phase id.
    fn phase_help(&self, word: &str) -> String {
        let known: Vec<&str> = declared(self.def.phases.iter().map(|p| &p.value.id));
        help_for("phase", "[[phase]] ids", word, &known)
    }

    /// A "did you mean" help for an unknown rule name.
    fn rule_help(&self, word: &str) -> String {
        let known: Vec<&str> = declared(self.def.rules.iter().map(|r| &r.value.name));
        help_for("rule", "[[rule]] names", word, &known)
    }
}

/// The first 256 names in declaration order (enough for hints, bounded for hostile input).
fn declared<'d>(names: impl Iterator<Item = &'d Option<Node<String>>>) -> Vec<&'d str> {
    names
        .filter_map(|n| n.as_ref().map(|n| n.value.as_str()))
        .take(256)
        .collect()
}

/// "did you mean `x`?" when a known name is close; else the list, when it is short.
fn help_for(what: &str, table: &str, word: &str, known: &[&str]) -> String {
    if let Some(near) = closest(word, known) {
        return format!("did you mean `{near}`?");
    }
    match known {
        [] => format!("no {what} is declared"),
        few if few.len() <= 12 => format!("the declared {what}s are {}", list_in_backticks(few)),
        _ => format!("name one of the `{table}`"),
    }
}

fn text(node: &Option<Node<String>>) -> Option<&Node<String>> {
    node.as_ref()
}

fn is_blank(node: &Node<String>) -> bool {
    node.value.trim().is_empty()
}

fn text_of(node: &Option<Node<String>>) -> Option<&str> {
    node.as_ref().map(|n| n.value.as_str())
}

#[cfg(test)]
mod tests;

//! Rules: their triggers, transition rules no transition names, and each `when` compiled once
//! (Rhai positions mapped back into the file) and checked against what the surface declares
//! ([`crate::surface::rule_check`]).

use std::collections::HashSet;

use super::{Cx, TRANSITION_TRIGGER, declared, is_blank, text_of};
use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::spine::CommandKind;
use crate::surface::ast::{Node, Span};
use crate::surface::diagnostic::{Code, Diagnostic, Severity};
use crate::surface::limits::{MAX_RULES, MAX_STRING_BYTES};
use crate::surface::rule_check;
use crate::surface::rules::{Guard, GuardError};

pub(super) fn check_rule_triggers(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    for r in &cx.def.rules {
        let Some(on) = &r.value.on else { continue };
        let parsed = CommandKind::parse(&on.value);
        if let Some(kind) = parsed.filter(|k| k.addresses_operator()) {
            out.push(
                Diagnostic::error(
                    Code::UnknownTrigger,
                    on.span,
                    format!("`{kind}` addresses an operator, not a case: no rule runs with it"),
                )
                .with_label("never judged on a case")
                .with_help(
                    "rules guard the commands on a case; the operator directory has no surface",
                ),
            );
            continue;
        }
        if is_blank(on) || on.value == TRANSITION_TRIGGER || parsed.is_some() {
            continue;
        }
        let mut names: Vec<&str> = CommandKind::ALL
            .iter()
            .filter(|k| !k.addresses_operator())
            .map(|k| k.as_str())
            .collect();
        names.push(TRANSITION_TRIGGER);
        let help = match closest(&on.value, &names) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "`on` is a command name or `transition`: {}",
                list_in_backticks(&names)
            ),
        };
        out.push(
            Diagnostic::error(
                Code::UnknownTrigger,
                on.span,
                format!("`{}` is neither a command nor `transition`", on.value),
            )
            .with_label("unknown trigger")
            .with_help(help),
        );
    }
}

/// A transition rule no transition names is a warning; root causes first, a rule that a
/// misspelled `rule` of a transition was evidently meant to name (the `unknown_rule` error
/// says "did you mean" it) is not reported again.
pub(super) fn check_unused_rules(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let mut named: HashSet<&str> = cx
        .def
        .transitions
        .iter()
        .filter_map(|t| t.value.rule.as_ref().map(|r| r.value.as_str()))
        .collect();
    let known: Vec<&str> = declared(cx.def.rules.iter().map(|r| &r.value.name));
    let meant: Vec<&str> = named
        .iter()
        .filter(|n| !cx.rules.contains_key(*n))
        .filter_map(|n| closest(n, &known))
        .collect();
    named.extend(meant);
    for r in &cx.def.rules {
        let (Some(name), Some(on)) = (&r.value.name, &r.value.on) else {
            continue;
        };
        if on.value == TRANSITION_TRIGGER && !named.contains(name.value.as_str()) {
            out.push(
                Diagnostic::warning(
                    Code::UnusedRule,
                    name.span,
                    format!("rule `{}` never runs", name.value),
                )
                .with_label("no transition names this rule")
                .with_help(
                    "a rule with `on = \"transition\"` runs only where a `[[transition]]` names \
                     it in `rule`",
                ),
            );
        }
    }
}

/// Compile every rule's `when` once, reporting `rule_compile` with a span inside the file.
pub(super) fn compile_rules(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) -> Vec<Option<Guard>> {
    let rules = &cx.def.rules;
    if rules.len() > MAX_RULES {
        return vec![None; rules.len()];
    }
    rules
        .iter()
        .map(|r| {
            let when = r.value.when.as_ref()?;
            if is_blank(when) || when.value.len() > MAX_STRING_BYTES {
                return None;
            }
            match Guard::compile(&when.value) {
                Ok(guard) => {
                    check_rule_reads(cx, &r.value, when, out);
                    Some(guard)
                }
                Err(err) => {
                    let name = r.value.name.as_ref().map_or("", |n| n.value.as_str());
                    out.push(rule_compile_diagnostic(name, when, &err));
                    None
                }
            }
        })
        .collect()
}

/// The commands a rule is judged with: its `on` command, and for each transition that names
/// it, the command that makes that move (the claim edge: `claim_job`, and `advance` when the
/// claim is optional; the move into the last phase: `complete_service_event`; any other:
/// `advance`). An optional claim judges `claim_job` and `advance` rules together.
fn rule_commands(cx: &Cx<'_>, rule: &crate::surface::ast::Rule) -> Vec<CommandKind> {
    let optional = cx
        .def
        .execution
        .claim
        .is_some_and(|c| c.value == crate::surface::ast::ClaimPolicy::Optional);
    let mut commands = Vec::new();
    let add = |kind: CommandKind, commands: &mut Vec<CommandKind>| {
        let both = [CommandKind::ClaimJob, CommandKind::Advance];
        let kinds: &[CommandKind] = if optional && both.contains(&kind) {
            &both
        } else {
            std::slice::from_ref(&kind)
        };
        for k in kinds {
            if !commands.contains(k) {
                commands.push(*k);
            }
        }
    };
    if let Some(kind) = rule
        .on
        .as_ref()
        .and_then(|on| CommandKind::parse(&on.value))
    {
        add(kind, &mut commands);
    }
    let Some(name) = rule.name.as_ref().map(|n| n.value.as_str()) else {
        return commands;
    };
    let (first, last) = (cx.first_phase(), cx.last_phase());
    let second = cx
        .def
        .phases
        .get(1)
        .and_then(|p| p.value.id.as_ref())
        .map(|n| n.value.as_str());
    for t in &cx.def.transitions {
        let t = &t.value;
        if t.rule.as_ref().map(|r| r.value.as_str()) != Some(name) {
            continue;
        }
        let (from, to) = (text_of(&t.from), text_of(&t.to));
        let kind = if from.is_some() && from == first && to == second {
            CommandKind::ClaimJob
        } else if to.is_some() && to == last {
            CommandKind::CompleteServiceEvent
        } else {
            CommandKind::Advance
        };
        add(kind, &mut commands);
    }
    commands
}

/// The static checks of [`crate::surface::rule_check`] on one compiled `when`, mapped into
/// the file.
fn check_rule_reads(
    cx: &Cx<'_>,
    rule: &crate::surface::ast::Rule,
    when: &Node<String>,
    out: &mut Vec<Diagnostic>,
) {
    let def = cx.def;
    let declared = rule_check::Declared {
        phases: declared(def.phases.iter().map(|p| &p.value.id)),
        categories: def
            .evidence
            .required_categories
            .iter()
            .chain(&def.evidence.optional_categories)
            .map(|c| c.value.as_str())
            .collect(),
        intake: def
            .intake
            .required
            .iter()
            .chain(&def.intake.optional)
            .map(|f| f.value.as_str())
            .collect(),
        commands: rule_commands(cx, rule),
    };
    let name = rule.name.as_ref().map_or("", |n| n.value.as_str());
    for finding in rule_check::check(&when.value, &declared) {
        let span = inner_span(when, finding.range.clone());
        let message = format!("rule `{name}`: {}", finding.message);
        let mut diag = match finding.severity {
            Severity::Error => Diagnostic::error(finding.code, span, message),
            Severity::Warning => Diagnostic::warning(finding.code, span, message),
        }
        .with_label(finding.label);
        if let Some(help) = finding.help {
            diag = diag.with_help(help);
        }
        out.push(diag);
    }
}

/// The file span of `range` (bytes inside the value of `when`). Exact when the value was
/// written without escapes (its span is as long as its text); otherwise the whole value.
fn inner_span(when: &Node<String>, range: std::ops::Range<usize>) -> Span {
    let written = when.span.end.saturating_sub(when.span.start);
    if written != when.value.len() || range.end > when.value.len() || range.start > range.end {
        return when.span;
    }
    Span::new(when.span.start + range.start, when.span.start + range.end)
}

fn rule_compile_diagnostic(name: &str, when: &Node<String>, err: &GuardError) -> Diagnostic {
    let (reason, span) = match err {
        GuardError::Compile {
            message,
            line,
            column,
        } => {
            let span = match (line, column) {
                (Some(line), column) => position_span(when, *line, column.unwrap_or(1)),
                _ => when.span,
            };
            (message.clone(), span)
        }
        other => (other.to_string(), when.span),
    };
    let reason = rhai_reason(&reason);
    Diagnostic::error(
        Code::RuleCompile,
        span,
        format!("the `when` of rule `{name}` does not compile: {reason}"),
    )
    .with_label("here")
    .with_help(
        "`when` is one Rhai expression over `case`, `actor`, `command` and `now` that \
         evaluates to `true` or `false`",
    )
}

/// Rhai's message in the house style: lowercase start, no trailing period, names in backticks.
fn rhai_reason(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    if let Some(name) = message.strip_prefix("Undefined variable: ") {
        return format!("undefined variable `{name}`");
    }
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

/// The one-character span at Rhai's 1-based `line` and `column` inside `when`, mapped into the
/// file through the node's span (which covers the string's contents). Exact for literal
/// strings and for basic strings without escapes.
fn position_span(when: &Node<String>, line: usize, column: usize) -> Span {
    let text = when.value.as_str();
    let mut offset = 0;
    for _ in 1..line {
        match text.get(offset..).and_then(|rest| rest.find('\n')) {
            Some(nl) => offset += nl + 1,
            None => break,
        }
    }
    let rest = text.get(offset..).unwrap_or("");
    let mut chars = rest.char_indices().skip(column.saturating_sub(1));
    let (start, width) = match chars.next() {
        Some((i, c)) if c != '\n' => (offset + i, c.len_utf8()),
        Some((i, _)) => (offset + i, 0),
        None => (text.len(), 0),
    };
    let start = (when.span.start + start).min(when.span.end);
    let end = (start + width).min(when.span.end);
    Span::new(start, end)
}

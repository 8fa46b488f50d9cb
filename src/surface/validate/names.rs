//! Names declared or listed twice: phases, rules, transitions, categories and intake fields,
//! a name both required and optional, and `sensitive` fields that are not declared.

use std::collections::HashSet;

use super::Cx;
use crate::surface::ast::Node;
use crate::surface::diagnostic::{Code, Diagnostic};

pub(super) fn check_duplicate_phases(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for p in &cx.def.phases {
        let Some(id) = &p.value.id else { continue };
        if !seen.insert(id.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicatePhase,
                    id.span,
                    format!("phase `{}` is declared twice", id.value),
                )
                .with_label("declared again here")
                .with_help("phase ids must be unique"),
            );
        }
    }
}

pub(super) fn check_duplicate_rules(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for r in &cx.def.rules {
        let Some(name) = &r.value.name else { continue };
        if !seen.insert(name.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateRule,
                    name.span,
                    format!("rule `{}` is declared twice", name.value),
                )
                .with_label("declared again here")
                .with_help("rule names must be unique"),
            );
        }
    }
}

pub(super) fn check_duplicate_transitions(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    for t in &cx.def.transitions {
        let (Some(from), Some(to)) = (&t.value.from, &t.value.to) else {
            continue;
        };
        if !seen.insert((from.value.as_str(), to.value.as_str())) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateTransition,
                    t.span,
                    format!(
                        "the transition from `{}` to `{}` is declared twice",
                        from.value, to.value
                    ),
                )
                .with_label("declared again here")
                .with_help("merge the two: one transition may require several categories"),
            );
        }
    }
}

fn duplicates_in(out: &mut Vec<Diagnostic>, list: &[Node<String>], what: &str, key: &str) {
    let mut seen = HashSet::new();
    for n in list {
        if !seen.insert(n.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    n.span,
                    format!("{what} `{}` is listed twice in `{key}`", n.value),
                )
                .with_label("listed again here"),
            );
        }
    }
}

pub(super) fn check_duplicate_names(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    let ev = &def.evidence;
    duplicates_in(
        out,
        &ev.required_categories,
        "category",
        "required_categories",
    );
    duplicates_in(
        out,
        &ev.optional_categories,
        "category",
        "optional_categories",
    );
    duplicates_in(out, &def.intake.required, "intake field", "required");
    duplicates_in(out, &def.intake.optional, "intake field", "optional");
    for t in &def.transitions {
        duplicates_in(out, &t.value.requires, "category", "requires");
    }
}

fn both(
    out: &mut Vec<Diagnostic>,
    required: &[Node<String>],
    optional: &[Node<String>],
    what: &str,
) {
    let required: HashSet<&str> = required.iter().map(|n| n.value.as_str()).collect();
    let mut reported = HashSet::new();
    for n in optional {
        if required.contains(n.value.as_str()) && reported.insert(n.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::RequiredAndOptional,
                    n.span,
                    format!("{what} `{}` is both required and optional", n.value),
                )
                .with_label("also listed as required")
                .with_help("list it in one of the two"),
            );
        }
    }
}

pub(super) fn check_required_and_optional(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    both(
        out,
        &def.evidence.required_categories,
        &def.evidence.optional_categories,
        "category",
    );
    both(
        out,
        &def.intake.required,
        &def.intake.optional,
        "intake field",
    );
    duplicates_in(out, &def.intake.sensitive, "intake field", "sensitive");
    for n in &def.intake.sensitive {
        let declared = def
            .intake
            .required
            .iter()
            .chain(&def.intake.optional)
            .any(|f| f.value == n.value);
        if !declared {
            out.push(
                Diagnostic::error(
                    Code::UnknownIntakeField,
                    n.span,
                    format!(
                        "`sensitive` names `{}`, which is not a declared intake field",
                        n.value
                    ),
                )
                .with_label("not in `required` or `optional`")
                .with_help("list the field in `required` or `optional` first"),
            );
        }
    }
}

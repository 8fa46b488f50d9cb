//! Checks of each value on its own: the hostile-input limits, string lengths, missing keys,
//! empty texts, the slug and identifier patterns, and number ranges.

use super::{Cx, is_blank, is_identifier, is_slug, text};
use crate::surface::ast::{Definition, Node, Span};
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::limits::{
    MAX_CATEGORIES, MAX_ESCALATIONS, MAX_INTAKE_FIELDS, MAX_MIN_PER_CATEGORY, MAX_MIN_PHOTOS,
    MAX_PHASES, MAX_RULES, MAX_STRING_BYTES, MAX_TRANSITIONS, MAX_VERSION,
};

/// Every string of the definition with the key it was written under.
fn each_string<'d>(def: &'d Definition, mut f: impl FnMut(&'static str, &'d Node<String>)) {
    let h = &def.surface;
    for (key, node) in [("slug", &h.slug), ("name", &h.name), ("spec", &h.spec)] {
        if let Some(n) = node {
            f(key, n);
        }
    }
    for phase in &def.phases {
        for (key, node) in [("id", &phase.value.id), ("label", &phase.value.label)] {
            if let Some(n) = node {
                f(key, n);
            }
        }
    }
    for t in &def.transitions {
        let t = &t.value;
        for (key, node) in [("from", &t.from), ("to", &t.to), ("rule", &t.rule)] {
            if let Some(n) = node {
                f(key, n);
            }
        }
        for n in &t.requires {
            f("requires", n);
        }
        for n in t.approval.iter().flat_map(|a| &a.value) {
            f("approval", n);
        }
    }
    for n in &def.evidence.required_categories {
        f("required_categories", n);
    }
    for n in &def.evidence.optional_categories {
        f("optional_categories", n);
    }
    for n in &def.intake.required {
        f("required", n);
    }
    for n in &def.intake.optional {
        f("optional", n);
    }
    for r in &def.rules {
        let r = &r.value;
        for (key, node) in [
            ("name", &r.name),
            ("on", &r.on),
            ("when", &r.when),
            ("message", &r.message),
        ] {
            if let Some(n) = node {
                f(key, n);
            }
        }
    }
    for e in &def.escalations {
        let e = &e.value;
        for (key, node) in [
            ("phase", &e.phase),
            ("after", &e.after),
            ("signal", &e.signal),
        ] {
            if let Some(n) = node {
                f(key, n);
            }
        }
    }
}

pub(super) fn check_limits(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    let mut too_many = |what: &str, count: usize, max: usize, span: Option<Span>| {
        if count > max {
            out.push(
                Diagnostic::error(
                    Code::TooMany,
                    span.unwrap_or_else(|| cx.header_span()),
                    format!("the surface has {count} {what}; at most {max} are allowed"),
                )
                .with_label(format!("{what} past the limit start here")),
            );
        }
    };
    too_many(
        "phases",
        def.phases.len(),
        MAX_PHASES,
        def.phases.get(MAX_PHASES).map(|n| n.span),
    );
    too_many(
        "transitions",
        def.transitions.len(),
        MAX_TRANSITIONS,
        def.transitions.get(MAX_TRANSITIONS).map(|n| n.span),
    );
    too_many(
        "rules",
        def.rules.len(),
        MAX_RULES,
        def.rules.get(MAX_RULES).map(|n| n.span),
    );
    too_many(
        "escalations",
        def.escalations.len(),
        MAX_ESCALATIONS,
        def.escalations.get(MAX_ESCALATIONS).map(|n| n.span),
    );
    let categories: Vec<&Node<String>> = def
        .evidence
        .required_categories
        .iter()
        .chain(&def.evidence.optional_categories)
        .collect();
    too_many(
        "evidence categories",
        categories.len(),
        MAX_CATEGORIES,
        categories.get(MAX_CATEGORIES).map(|n| n.span),
    );
    let fields: Vec<&Node<String>> = def
        .intake
        .required
        .iter()
        .chain(&def.intake.optional)
        .collect();
    too_many(
        "intake fields",
        fields.len(),
        MAX_INTAKE_FIELDS,
        fields.get(MAX_INTAKE_FIELDS).map(|n| n.span),
    );
    for t in &def.transitions {
        let requires = &t.value.requires;
        too_many(
            "categories in one `requires`",
            requires.len(),
            MAX_CATEGORIES,
            requires.get(MAX_CATEGORIES).map(|n| n.span),
        );
    }
}

pub(super) fn check_string_lengths(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    each_string(cx.def, |key, node| {
        if node.value.len() > MAX_STRING_BYTES {
            out.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    node.span,
                    format!(
                        "`{key}` is {} bytes long; at most {MAX_STRING_BYTES} are allowed",
                        node.value.len()
                    ),
                )
                .with_label("too long"),
            );
        }
    });
}

fn missing(out: &mut Vec<Diagnostic>, span: Span, table: &str, key: &str) {
    out.push(
        Diagnostic::error(
            Code::MissingKey,
            span,
            format!("missing key `{key}` in `{table}`"),
        )
        .with_label(format!("this table needs `{key}`")),
    );
}

pub(super) fn check_missing_keys(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    if !cx.report_missing {
        return;
    }
    let h = &cx.def.surface;
    let span = h.span.0;
    for (key, present) in [
        ("slug", h.slug.is_some()),
        ("name", h.name.is_some()),
        ("spec", h.spec.is_some()),
        ("version", h.version.is_some()),
    ] {
        if !present {
            missing(out, span, "[surface]", key);
        }
    }
    for p in &cx.def.phases {
        for (key, present) in [
            ("id", p.value.id.is_some()),
            ("label", p.value.label.is_some()),
        ] {
            if !present {
                missing(out, p.span, "[[phase]]", key);
            }
        }
    }
    for t in &cx.def.transitions {
        for (key, present) in [
            ("from", t.value.from.is_some()),
            ("to", t.value.to.is_some()),
        ] {
            if !present {
                missing(out, t.span, "[[transition]]", key);
            }
        }
    }
    for r in &cx.def.rules {
        let v = &r.value;
        for (key, present) in [
            ("name", v.name.is_some()),
            ("on", v.on.is_some()),
            ("when", v.when.is_some()),
            ("message", v.message.is_some()),
        ] {
            if !present {
                missing(out, r.span, "[[rule]]", key);
            }
        }
    }
    for e in &cx.def.escalations {
        let v = &e.value;
        for (key, present) in [
            ("phase", v.phase.is_some()),
            ("after", v.after.is_some()),
            ("signal", v.signal.is_some()),
        ] {
            if !present {
                missing(out, e.span, "[[escalation]]", key);
            }
        }
    }
}

pub(super) fn check_empty_values(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    each_string(cx.def, |key, node| {
        if is_blank(node) {
            out.push(
                Diagnostic::error(Code::EmptyValue, node.span, format!("`{key}` is empty"))
                    .with_label("needs a value"),
            );
        }
    });
}

pub(super) fn check_slug(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let Some(slug) = text(&cx.def.surface.slug) else {
        return;
    };
    if is_blank(slug) || is_slug(&slug.value) {
        return;
    }
    out.push(
        Diagnostic::error(
            Code::InvalidSlug,
            slug.span,
            format!("`{}` is not a valid slug", slug.value),
        )
        .with_label("not a slug")
        .with_help(
            "a slug starts with a lowercase letter and has 2 to 63 lowercase letters, digits \
             or `-`, e.g. `event-coordination`",
        ),
    );
}

fn identifier(out: &mut Vec<Diagnostic>, what: &str, example: &str, node: &Node<String>) {
    if is_blank(node) || is_identifier(&node.value) {
        return;
    }
    out.push(
        Diagnostic::error(
            Code::InvalidIdentifier,
            node.span,
            format!("`{}` is not a valid {what}", node.value),
        )
        .with_label(format!("not a valid {what}"))
        .with_help(format!(
            "a {what} starts with a lowercase letter and has at most 63 lowercase letters, \
             digits or `_`, e.g. `{example}`"
        )),
    );
}

pub(super) fn check_identifiers(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    for p in &def.phases {
        if let Some(id) = &p.value.id {
            identifier(out, "phase id", "in_progress", id);
        }
    }
    for r in &def.rules {
        if let Some(name) = &r.value.name {
            identifier(out, "rule name", "crew_on_site", name);
        }
    }
    for c in def
        .evidence
        .required_categories
        .iter()
        .chain(&def.evidence.optional_categories)
    {
        identifier(out, "evidence category", "before", c);
    }
    for f in def.intake.required.iter().chain(&def.intake.optional) {
        identifier(out, "intake field", "preferred_timing", f);
    }
    for e in &def.escalations {
        if let Some(signal) = &e.value.signal {
            identifier(out, "signal name", "claim_stale", signal);
        }
    }
}

fn range(out: &mut Vec<Diagnostic>, key: &str, node: &Option<Node<i64>>, min: i64, max: i64) {
    let Some(node) = node else {
        return;
    };
    if node.value < min {
        out.push(
            Diagnostic::error(
                Code::OutOfRange,
                node.span,
                format!("`{key}` must be at least {min}, found `{}`", node.value),
            )
            .with_label(format!("below {min}")),
        );
    } else if node.value > max {
        out.push(
            Diagnostic::error(
                Code::OutOfRange,
                node.span,
                format!("`{key}` must be at most {max}, found `{}`", node.value),
            )
            .with_label(format!("above {max}")),
        );
    }
}

pub(super) fn check_numbers(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    range(out, "version", &def.surface.version, 1, MAX_VERSION);
    range(
        out,
        "min_per_category",
        &def.evidence.min_per_category,
        0,
        MAX_MIN_PER_CATEGORY,
    );
    range(out, "min_photos", &def.intake.min_photos, 0, MAX_MIN_PHOTOS);
}

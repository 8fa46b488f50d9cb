//! Printers: a [`Definition`] back to text, in either form.
//!
//! [`to_toml`] writes the TOML form (`docs/surface.md`) and [`to_dsl`] the canonical `.surface`
//! form. Both write exactly the keys present in the tree, in the documented order, so that
//! reading the output back gives an equal tree (and so an equal fingerprint):
//! `toml::parse(&to_toml(d)).0 == *d` and `dsl::parse(&to_dsl(d)).0 == *d` for every definition
//! whose required keys are present. Lists are always written (the tree cannot tell an empty
//! list from an absent one, and both read back as empty), except a transition's `approval`,
//! which the tree keeps apart (absent: no approval; empty: an error) and which is written
//! exactly when present. Printing never fails and never
//! panics. The DSL writes some required values by position (the slug, version and name in the
//! header, a phase id, the two ends of a transition, a rule's name, an escalation's phase); a
//! tree missing one of those (which never compiles) still prints, with `""` (or `v0`) in its
//! place, and so reads back with an empty value where the original had none.

use std::fmt::Write as _;

use crate::surface::ast::{Definition, Node};
use crate::surface::dsl::{is_bare_duration, is_bare_word};

/// The TOML form of `def`: `[surface]`, `[execution]`, `[[phase]]`, `[[transition]]`,
/// `[evidence]`, `[intake]`, `[[rule]]`, `[[escalation]]`, each with only the keys present.
pub fn to_toml(def: &Definition) -> String {
    let mut out = String::new();
    let h = &def.surface;
    out.push_str("[surface]\n");
    toml_str(&mut out, "slug", h.slug.as_ref());
    toml_str(&mut out, "name", h.name.as_ref());
    toml_str(&mut out, "spec", h.spec.as_ref());
    toml_int(&mut out, "version", h.version.as_ref());
    toml_str(
        &mut out,
        "status",
        h.status.as_ref().map(|s| s.value.as_str()),
    );

    let e = &def.execution;
    if e.claim.is_some()
        || e.ownership.is_some()
        || e.record.is_some()
        || e.payment_timing.is_some()
        || e.completed_visible.is_some()
        || e.operators.is_some()
    {
        out.push_str("\n[execution]\n");
        toml_str(
            &mut out,
            "claim",
            e.claim.as_ref().map(|v| v.value.as_str()),
        );
        toml_str(
            &mut out,
            "ownership",
            e.ownership.as_ref().map(|v| v.value.as_str()),
        );
        toml_str(
            &mut out,
            "record",
            e.record.as_ref().map(|v| v.value.as_str()),
        );
        let timing = e.payment_timing.as_ref().map(|v| v.value.as_str());
        toml_str(&mut out, "payment_timing", timing);
        if let Some(visible) = &e.completed_visible {
            let _ = writeln!(out, "completed_visible = {}", visible.value);
        }
        let operators = e.operators.as_ref().map(|v| v.value.as_str());
        toml_str(&mut out, "operators", operators);
    }

    for phase in &def.phases {
        out.push_str("\n[[phase]]\n");
        toml_str(&mut out, "id", phase.value.id.as_ref());
        toml_str(&mut out, "label", phase.value.label.as_ref());
    }

    for transition in &def.transitions {
        let t = &transition.value;
        out.push_str("\n[[transition]]\n");
        toml_str(&mut out, "from", t.from.as_ref());
        toml_str(&mut out, "to", t.to.as_ref());
        if !t.requires.is_empty() {
            toml_list(&mut out, "requires", &t.requires);
        }
        toml_str(&mut out, "rule", t.rule.as_ref());
        if let Some(approval) = &t.approval {
            toml_list(&mut out, "approval", &approval.value);
        }
    }

    let ev = &def.evidence;
    out.push_str("\n[evidence]\n");
    toml_list(&mut out, "required_categories", &ev.required_categories);
    toml_list(&mut out, "optional_categories", &ev.optional_categories);
    toml_int(&mut out, "min_per_category", ev.min_per_category.as_ref());

    let intake = &def.intake;
    out.push_str("\n[intake]\n");
    toml_list(&mut out, "required", &intake.required);
    toml_list(&mut out, "optional", &intake.optional);
    toml_int(&mut out, "min_photos", intake.min_photos.as_ref());
    if !intake.sensitive.is_empty() {
        toml_list(&mut out, "sensitive", &intake.sensitive);
    }

    for rule in &def.rules {
        let r = &rule.value;
        out.push_str("\n[[rule]]\n");
        toml_str(&mut out, "name", r.name.as_ref());
        toml_str(&mut out, "on", r.on.as_ref());
        if let Some(when) = &r.when {
            let _ = writeln!(out, "when = {}", toml_expression(&when.value));
        }
        toml_str(&mut out, "message", r.message.as_ref());
    }

    for escalation in &def.escalations {
        let e = &escalation.value;
        out.push_str("\n[[escalation]]\n");
        toml_str(&mut out, "phase", e.phase.as_ref());
        toml_str(&mut out, "after", e.after.as_ref());
        toml_str(&mut out, "signal", e.signal.as_ref());
    }
    out
}

/// The canonical `.surface` form of `def`: header, `spec`, `status`, `execution`, `phases`,
/// transitions, `evidence`, `intake`, rules, escalations; two-space indentation, phase labels
/// aligned, one statement per line.
pub fn to_dsl(def: &Definition) -> String {
    let mut out = String::new();
    let h = &def.surface;
    let version = h.version.as_ref().map(|v| v.value).unwrap_or(0);
    let _ = writeln!(
        out,
        "surface {} v{version} {} {{",
        dsl_name(h.slug.as_ref().map(|s| s.value.as_str()).unwrap_or("")),
        dsl_text(h.name.as_ref().map(|s| s.value.as_str()).unwrap_or("")),
    );
    if let Some(spec) = &h.spec {
        let _ = writeln!(out, "  spec {}", dsl_text(&spec.value));
    }
    if let Some(status) = &h.status {
        let _ = writeln!(out, "  status {}", status.value);
    }

    let e = &def.execution;
    let mut settings = Vec::new();
    if let Some(v) = &e.claim {
        settings.push(format!("claim {}", v.value));
    }
    if let Some(v) = &e.ownership {
        settings.push(format!("ownership {}", v.value));
    }
    if let Some(v) = &e.record {
        settings.push(format!("record {}", v.value));
    }
    if let Some(v) = &e.payment_timing {
        settings.push(format!("payment_timing {}", v.value));
    }
    if let Some(v) = &e.completed_visible {
        settings.push(format!("completed_visible {}", v.value));
    }
    if let Some(v) = &e.operators {
        settings.push(format!("operators {}", v.value));
    }
    if !settings.is_empty() {
        out.push_str("\n  execution {\n");
        for s in settings {
            let _ = writeln!(out, "    {s}");
        }
        out.push_str("  }\n");
    }

    if !def.phases.is_empty() {
        out.push_str("\n  phases {\n");
        let ids: Vec<String> = def
            .phases
            .iter()
            .map(|p| dsl_name(p.value.id.as_ref().map(|s| s.value.as_str()).unwrap_or("")))
            .collect();
        let width = ids
            .iter()
            .map(|i| i.chars().count())
            .max()
            .unwrap_or(0)
            .min(24);
        for (phase, id) in def.phases.iter().zip(&ids) {
            match &phase.value.label {
                Some(label) => {
                    let _ = writeln!(out, "    {id:<width$}  {}", dsl_text(&label.value));
                }
                None => {
                    let _ = writeln!(out, "    {id}");
                }
            }
        }
        out.push_str("  }\n");
    }

    if !def.transitions.is_empty() {
        out.push('\n');
        for transition in &def.transitions {
            let t = &transition.value;
            let _ = write!(
                out,
                "  transition {} -> {}",
                dsl_name(opt_str(&t.from)),
                dsl_name(opt_str(&t.to))
            );
            if !t.requires.is_empty() {
                let _ = write!(out, " requires {}", dsl_list(&t.requires));
            }
            if let Some(rule) = &t.rule {
                let _ = write!(out, " guard {}", dsl_name(&rule.value));
            }
            if let Some(approval) = &t.approval {
                let _ = write!(out, " approval {}", dsl_list(&approval.value));
            }
            out.push('\n');
        }
    }

    let ev = &def.evidence;
    out.push_str("\n  evidence {\n");
    let _ = writeln!(out, "    required {}", dsl_list(&ev.required_categories));
    let _ = writeln!(out, "    optional {}", dsl_list(&ev.optional_categories));
    if let Some(min) = &ev.min_per_category {
        let _ = writeln!(out, "    min_per_category {}", min.value);
    }
    out.push_str("  }\n");

    let intake = &def.intake;
    out.push_str("\n  intake {\n");
    let _ = writeln!(out, "    required {}", dsl_list(&intake.required));
    let _ = writeln!(out, "    optional {}", dsl_list(&intake.optional));
    if let Some(min) = &intake.min_photos {
        let _ = writeln!(out, "    min_photos {}", min.value);
    }
    if !intake.sensitive.is_empty() {
        let _ = writeln!(out, "    sensitive {}", dsl_list(&intake.sensitive));
    }
    out.push_str("  }\n");

    for rule in &def.rules {
        let r = &rule.value;
        let _ = write!(out, "\n  rule {}", dsl_name(opt_str(&r.name)));
        if let Some(on) = &r.on {
            let _ = write!(out, " on {}", dsl_name(&on.value));
        }
        out.push('\n');
        if let Some(when) = &r.when {
            let _ = writeln!(out, "    when {}", dsl_code(&when.value));
        }
        if let Some(message) = &r.message {
            let _ = writeln!(out, "    message {}", dsl_text(&message.value));
        }
    }

    if !def.escalations.is_empty() {
        out.push('\n');
        for escalation in &def.escalations {
            let e = &escalation.value;
            let _ = write!(out, "  escalate {}", dsl_name(opt_str(&e.phase)));
            if let Some(after) = &e.after {
                let after = if is_bare_duration(&after.value) {
                    after.value.clone()
                } else {
                    dsl_text(&after.value)
                };
                let _ = write!(out, " after {after}");
            }
            if let Some(signal) = &e.signal {
                let _ = write!(out, " signal {}", dsl_name(&signal.value));
            }
            out.push('\n');
        }
    }
    out.push_str("}\n");
    out
}

fn opt_str(node: &Option<Node<String>>) -> &str {
    node.as_ref().map(|n| n.value.as_str()).unwrap_or("")
}

/// `key = "value"` when present.
fn toml_str<'a>(out: &mut String, key: &str, value: Option<impl Into<TomlText<'a>>>) {
    if let Some(value) = value {
        let _ = writeln!(out, "{key} = {}", toml_basic(value.into().0));
    }
}

/// Either a `&str` or a string node, for [`toml_str`].
struct TomlText<'a>(&'a str);

impl<'a> From<&'a str> for TomlText<'a> {
    fn from(s: &'a str) -> Self {
        TomlText(s)
    }
}

impl<'a> From<&'a Node<String>> for TomlText<'a> {
    fn from(n: &'a Node<String>) -> Self {
        TomlText(&n.value)
    }
}

fn toml_int(out: &mut String, key: &str, value: Option<&Node<i64>>) {
    if let Some(value) = value {
        let _ = writeln!(out, "{key} = {}", value.value);
    }
}

fn toml_list(out: &mut String, key: &str, items: &[Node<String>]) {
    let items: Vec<String> = items.iter().map(|i| toml_basic(&i.value)).collect();
    let _ = writeln!(out, "{key} = [{}]", items.join(", "));
}

/// A TOML basic string (`"…"`), escaping quotes, backslashes and control characters.
fn toml_basic(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Rhai expression as a TOML string: a literal string (`'…'`) when it has no `'` and no
/// control character, a multi-line literal string (`'''…'''`) when it spans lines cleanly, a
/// basic string with escapes otherwise.
fn toml_expression(text: &str) -> String {
    let clean = |c: char| !c.is_control() || c == '\t';
    if !text.contains('\'') && text.chars().all(clean) {
        return format!("'{text}'");
    }
    if text.contains('\n')
        && !text.contains("'''")
        && !text.ends_with('\'')
        && text.chars().all(|c| clean(c) || c == '\n')
    {
        return format!("'''\n{text}'''");
    }
    toml_basic(text)
}

/// A name: bare when it can be, quoted otherwise.
fn dsl_name(text: &str) -> String {
    if is_bare_word(text) {
        text.to_owned()
    } else {
        dsl_text(text)
    }
}

/// A DSL quoted text, escaping `"`, `\`, line breaks and other control characters.
fn dsl_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `[a, b]`.
fn dsl_list(items: &[Node<String>]) -> String {
    let items: Vec<String> = items.iter().map(|i| dsl_name(&i.value)).collect();
    format!("[{}]", items.join(", "))
}

/// A Rhai expression as a code span: fenced with one backtick more than the longest run
/// inside it, padded with a space at each end when the Markdown rule would otherwise eat
/// one; an empty expression is written as `""`.
fn dsl_code(text: &str) -> String {
    if text.is_empty() {
        return String::from("\"\"");
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let all_spaces = text.chars().all(|c| c == ' ');
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' ') && !all_spaces);
    if pad {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::dsl;

    fn when_roundtrip(expr: &str) {
        let src = format!(
            "surface a v1 \"A\" {{ spec \"s\" rule r on advance when {} message \"m\" }}",
            dsl_code(expr)
        );
        let (def, diags) = dsl::parse(&src);
        assert!(diags.is_empty(), "{expr:?}: {diags:?}");
        let when = def.rules[0].value.when.clone().unwrap();
        assert_eq!(when.value, expr, "{src}");
    }

    #[test]
    fn code_spans_round_trip() {
        for expr in [
            "x",
            "`x`",
            " x ",
            " ",
            "  ",
            "` ",
            "a ``` b",
            "",
            "multi\nline\n",
            "case.evidence.arrival >= 1 && \"#\" != `a${1}`",
        ] {
            when_roundtrip(expr);
        }
    }

    #[test]
    fn toml_expression_forms() {
        assert_eq!(toml_expression("a >= 1"), "'a >= 1'");
        assert_eq!(toml_expression("a\nb"), "'''\na\nb'''");
        assert_eq!(toml_expression("a == 'x'"), "\"a == 'x'\"");
    }
}

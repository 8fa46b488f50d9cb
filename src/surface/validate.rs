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
//! Validation is pure and never panics; it never reads files and never builds the compiled
//! [`crate::surface::Surface`] (that is [`crate::surface::compile`](mod@crate::surface::compile), which runs this first).
//! A check that depends on a missing or malformed value skips it: the front end has already
//! reported why the value is missing.

use std::collections::{HashMap, HashSet};

use jiff::SpanRelativeTo;
use jiff::fmt::friendly::SpanParser;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed};

use crate::policy::Role;
use crate::spine::CommandKind;
use crate::surface::ast::{Definition, Node, Span};
use crate::surface::diagnostic::{Code, Diagnostic, Severity};
use crate::surface::limits::{
    MAX_CATEGORIES, MAX_DIAGNOSTICS, MAX_ESCALATION_MS, MAX_ESCALATIONS, MAX_INTAKE_FIELDS,
    MAX_MIN_PER_CATEGORY, MAX_MIN_PHOTOS, MAX_PHASES, MAX_RULES, MAX_STRING_BYTES, MAX_TRANSITIONS,
    MAX_VERSION,
};
use crate::surface::rule_check;
use crate::surface::rules::{Guard, GuardError};
use crate::surface::toml::{closest, list_in_backticks};

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

/// Parse an escalation duration: a whole number followed by one unit, `s` (seconds), `m`
/// (minutes), `h` (hours) or `d` (days of 24 hours), e.g. `90s`, `15m`, `24h`, `2d`. Returns
/// milliseconds; `None` when the text is not of that form (`is_duration_form` tells), or is
/// of that form but longer than jiff holds (about 20,000 years).
pub fn parse_duration(text: &str) -> Option<u64> {
    // Jiff's friendly format reads far more (`1.5h`, `2h 30m`, `1 hour`, `+1h`, weeks, years),
    // so only the contract's form reaches it.
    if !is_duration_form(text) {
        return None;
    }
    // Jiff reads at most 20 digits; leading zeros add nothing (`000s` is zero).
    let text = text.trim_start_matches('0');
    if text.len() == 1 {
        return Some(0);
    }
    static PARSER: SpanParser = SpanParser::new();
    let span = PARSER.parse_span(text).ok()?;
    let duration = span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()?;
    u64::try_from(duration.as_millis()).ok()
}

/// Whether `text` has the form of a duration (ASCII digits then one of `s`, `m`, `h`, `d`),
/// whatever its size: tells "not a duration" from "too long" when [`parse_duration`] says `None`.
pub(crate) fn is_duration_form(text: &str) -> bool {
    text.strip_suffix(['s', 'm', 'h', 'd'])
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `text` matches `^[a-z][a-z0-9-]{1,62}$`.
pub fn is_slug(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && (2..=63).contains(&text.len())
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// Whether `text` matches `^[a-z][a-z0-9_]{0,62}$` (phase ids, rule names, categories, intake
/// fields, signals).
pub fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= 63
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
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

fn check_limits(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_string_lengths(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_missing_keys(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_empty_values(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    each_string(cx.def, |key, node| {
        if is_blank(node) {
            out.push(
                Diagnostic::error(Code::EmptyValue, node.span, format!("`{key}` is empty"))
                    .with_label("needs a value"),
            );
        }
    });
}

fn check_slug(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_identifiers(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_numbers(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_phase_count(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let count = cx.def.phases.len();
    if count >= 3 {
        return;
    }
    let span = cx
        .def
        .phases
        .first()
        .map_or_else(|| cx.header_span(), |p| p.span);
    out.push(
        Diagnostic::error(
            Code::TooFewPhases,
            span,
            format!("the surface has {count} phases; at least 3 are needed"),
        )
        .with_label("not enough phases")
        .with_help(
            "the first phase is the Job waiting to be claimed, the second is entered by \
             claiming it and the last by completing the ServiceEvent",
        ),
    );
}

fn check_duplicate_phases(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_duplicate_rules(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_duplicate_transitions(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_duplicate_names(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_required_and_optional(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_transition_references(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    for t in &cx.def.transitions {
        let t = &t.value;
        for (key, node) in [("from", &t.from), ("to", &t.to)] {
            let Some(node) = node else { continue };
            if is_blank(node) || cx.phases.contains_key(node.value.as_str()) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    Code::UnknownPhase,
                    node.span,
                    format!("`{key}` names the unknown phase `{}`", node.value),
                )
                .with_label("no such phase")
                .with_help(cx.phase_help(&node.value)),
            );
        }
        if let Some(rule) = &t.rule
            && !is_blank(rule)
            && !cx.rules.contains_key(rule.value.as_str())
        {
            let help = cx.rule_help(&rule.value);
            out.push(
                Diagnostic::error(
                    Code::UnknownRule,
                    rule.span,
                    format!("`rule` names the unknown rule `{}`", rule.value),
                )
                .with_label("no such rule")
                .with_help(help),
            );
        }
        for category in &t.requires {
            if is_blank(category) || cx.categories.contains(category.value.as_str()) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    Code::UnknownCategory,
                    category.span,
                    format!(
                        "`requires` names the undeclared category `{}`",
                        category.value
                    ),
                )
                .with_label("not an evidence category")
                .with_help(
                    "declare it in `[evidence]` under `required_categories` or \
                     `optional_categories`",
                ),
            );
        }
    }
}

fn check_transition_shape(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let first = cx.first_phase();
    let last = cx.last_phase();
    for t in &cx.def.transitions {
        let (Some(from), Some(to)) = (&t.value.from, &t.value.to) else {
            continue;
        };
        if from.value == to.value {
            out.push(
                Diagnostic::error(
                    Code::SelfTransition,
                    t.span,
                    format!("the transition from `{}` leads back to itself", from.value),
                )
                .with_label("`from` and `to` are the same phase"),
            );
            continue;
        }
        let second = cx
            .def
            .phases
            .get(1)
            .and_then(|p| p.value.id.as_ref())
            .map(|n| n.value.as_str());
        if Some(from.value.as_str()) == first
            && Some(to.value.as_str()) != second
            && cx.phases.contains_key(to.value.as_str())
        {
            out.push(
                Diagnostic::warning(
                    Code::TransitionFromFirst,
                    to.span,
                    format!(
                        "a transition leads from the first phase `{}` to `{}`, not to the second",
                        from.value, to.value
                    ),
                )
                .with_label("this move can never be made")
                .with_help(format!(
                    "the first phase is left only by claiming the Job, which always enters the \
                     second phase `{}`; start this transition there",
                    second.unwrap_or("")
                )),
            );
        }
        if Some(to.value.as_str()) == first {
            out.push(
                Diagnostic::error(
                    Code::TransitionIntoFirst,
                    to.span,
                    format!("a transition leads into the first phase `{}`", to.value),
                )
                .with_label("the first phase cannot be entered again")
                .with_help(
                    "the first phase is the Job waiting to be claimed; nothing moves back to it",
                ),
            );
        }
        if Some(from.value.as_str()) == last {
            out.push(
                Diagnostic::error(
                    Code::TransitionOutOfLast,
                    from.span,
                    format!("a transition leaves the last phase `{}`", from.value),
                )
                .with_label("the last phase cannot be left")
                .with_help("the last phase is entered by completing the ServiceEvent and is final"),
            );
        }
    }
}

/// A transition's `approval`: a non-empty list of roles that may write (never `observer`),
/// each once, and never on the claim (first → second phase), which no one can hold back.
fn check_approvals(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let first = cx.first_phase();
    let second = cx
        .def
        .phases
        .get(1)
        .and_then(|p| p.value.id.as_ref())
        .map(|n| n.value.as_str());
    let writers: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| **r != Role::Observer)
        .map(|r| r.as_str())
        .collect();
    for t in &cx.def.transitions {
        let Some(approval) = &t.value.approval else {
            continue;
        };
        if approval.value.is_empty() {
            out.push(
                Diagnostic::error(
                    Code::InvalidApproval,
                    approval.span,
                    "`approval` names no role",
                )
                .with_label("an empty list")
                .with_help(format!(
                    "name the roles that may approve the move ({}), or leave `approval` out",
                    list_in_backticks(&writers)
                )),
            );
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for name in &approval.value {
            if is_blank(name) {
                continue;
            }
            match Role::parse(&name.value) {
                Some(Role::Observer) => out.push(
                    Diagnostic::error(
                        Code::InvalidApproval,
                        name.span,
                        "`observer` cannot approve a move: observers never write",
                    )
                    .with_label("never writes")
                    .with_help(format!(
                        "the roles that may approve are {}",
                        list_in_backticks(&writers)
                    )),
                ),
                Some(_) => {
                    if !seen.insert(name.value.as_str()) {
                        out.push(
                            Diagnostic::error(
                                Code::DuplicateName,
                                name.span,
                                format!("role `{}` is listed twice in `approval`", name.value),
                            )
                            .with_label("listed before"),
                        );
                    }
                }
                None => {
                    let help = match closest(&name.value, &writers) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "the roles that may approve are {}",
                            list_in_backticks(&writers)
                        ),
                    };
                    out.push(
                        Diagnostic::error(
                            Code::InvalidApproval,
                            name.span,
                            format!("`{}` is not a role", name.value),
                        )
                        .with_label("not a role")
                        .with_help(help),
                    );
                }
            }
        }
        let (from, to) = (text_of(&t.value.from), text_of(&t.value.to));
        if from.is_some() && from == first && to == second {
            out.push(
                Diagnostic::error(
                    Code::InvalidApproval,
                    approval.span,
                    "the claim cannot wait for an approval",
                )
                .with_label("on the move from the first phase to the second")
                .with_help(
                    "claiming the Job is this move: approve the task before the job is created, \
                     or put `approval` on a later move",
                ),
            );
        }
    }
}

/// Which phases can be reached from the first, and which can reach the last, over `edges`
/// (phase indices).
fn reach(count: usize, edges: &[(usize, usize)]) -> (Vec<bool>, Vec<bool>) {
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(count, edges.len());
    let nodes: Vec<NodeIndex> = (0..count).map(|_| graph.add_node(())).collect();
    for (a, b) in edges {
        if let (Some(a), Some(b)) = (nodes.get(*a), nodes.get(*b)) {
            graph.add_edge(*a, *b, ());
        }
    }
    let mut forward = vec![false; count];
    let mut backward = vec![false; count];
    let (Some(first), Some(last)) = (nodes.first().copied(), nodes.last().copied()) else {
        return (forward, backward);
    };
    let mut bfs = Bfs::new(&graph, first);
    while let Some(n) = bfs.next(&graph) {
        if let Some(slot) = forward.get_mut(n.index()) {
            *slot = true;
        }
    }
    let reversed = Reversed(&graph);
    let mut bfs = Bfs::new(reversed, last);
    while let Some(n) = bfs.next(reversed) {
        if let Some(slot) = backward.get_mut(n.index()) {
            *slot = true;
        }
    }
    (forward, backward)
}

/// Reachability both ways. Root causes first: a transition that names an unknown phase is
/// already an `unknown_phase` error, and the phases it was meant to connect are not reported
/// again. Reachability is computed twice, over the declared edges and over the edges as they
/// could be once the unknown names are fixed (an unknown `to` could lead to any phase, an
/// unknown `from` could come from any); only a phase unreachable (or a dead end) either way is
/// an error, and the `unknown_phase` diagnostic names the phases it cuts off.
fn check_reachability(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    // With a repeated or missing phase id the graph is ill-defined; that is reported already.
    let count = def.phases.len();
    if count < 2 || cx.phases.len() != count {
        return;
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut generous: Vec<(usize, usize)> = Vec::new();
    // Each transition naming an unknown phase, with the span of the unknown name.
    let mut broken: Vec<Span> = Vec::new();
    if def.transitions.is_empty() {
        edges.extend((1..count).map(|i| (i - 1, i)));
    } else {
        // The claim edge is implied by the phase roles (docs/commands.md): it counts whether or
        // not it is written.
        edges.push((0, 1));
        for t in &def.transitions {
            let (Some(from), Some(to)) = (&t.value.from, &t.value.to) else {
                continue;
            };
            let a = cx.phases.get(from.value.as_str()).copied();
            let b = cx.phases.get(to.value.as_str()).copied();
            match (a, b) {
                (Some(a), Some(b)) => edges.push((a, b)),
                (Some(a), None) => {
                    broken.push(to.span);
                    generous.extend((1..count).map(|b| (a, b)));
                }
                (None, Some(b)) => {
                    broken.push(from.span);
                    generous.extend((0..count - 1).map(|a| (a, b)));
                }
                (None, None) => {}
            }
        }
    }
    let (forward, backward) = reach(count, &edges);
    let (maybe_forward, maybe_backward) = if generous.is_empty() {
        (forward.clone(), backward.clone())
    } else {
        generous.extend(edges.iter().copied());
        reach(count, &generous)
    };
    let last_id = cx.last_phase().unwrap_or("");
    let mut cut_off: Vec<&str> = Vec::new();
    for (i, phase) in def.phases.iter().enumerate() {
        let Some(id) = &phase.value.id else { continue };
        let at = |v: &[bool]| v.get(i).copied().unwrap_or(true);
        if !at(&forward) && !at(&maybe_forward) {
            out.push(
                Diagnostic::error(
                    Code::UnreachablePhase,
                    id.span,
                    format!(
                        "phase `{}` cannot be reached from the first phase",
                        id.value
                    ),
                )
                .with_label("no transitions lead here")
                .with_help("add a `[[transition]]` into this phase, or remove it"),
            );
        }
        if !at(&backward) && !at(&maybe_backward) {
            out.push(
                Diagnostic::error(
                    Code::DeadEndPhase,
                    id.span,
                    format!(
                        "the last phase `{last_id}` cannot be reached from phase `{}`",
                        id.value
                    ),
                )
                .with_label("work that enters this phase can never complete")
                .with_help("add a `[[transition]]` out of this phase toward the last one"),
            );
        }
        if (!at(&forward) && at(&maybe_forward)) || (!at(&backward) && at(&maybe_backward)) {
            cut_off.push(id.value.as_str());
        }
    }
    if cut_off.is_empty() {
        return;
    }
    // Say on the cause what it cuts off.
    let consequence = format!(
        "until it names a declared phase, {} cannot be reached or cannot complete",
        list_in_backticks(&cut_off)
    );
    for d in out.iter_mut() {
        if d.code == Code::UnknownPhase && broken.contains(&d.span) {
            d.help = Some(match d.help.take() {
                Some(help) => format!("{help} ({consequence})"),
                None => consequence.clone(),
            });
        }
    }
}

fn check_rule_triggers(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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
fn check_unused_rules(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
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

fn check_escalations(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    for e in &cx.def.escalations {
        let e = &e.value;
        if let Some(phase) = &e.phase
            && !is_blank(phase)
            && !cx.phases.contains_key(phase.value.as_str())
        {
            out.push(
                Diagnostic::error(
                    Code::UnknownPhase,
                    phase.span,
                    format!("the escalation watches the unknown phase `{}`", phase.value),
                )
                .with_label("no such phase")
                .with_help(cx.phase_help(&phase.value)),
            );
        }
        let Some(after) = &e.after else { continue };
        if is_blank(after) {
            continue;
        }
        match parse_duration(&after.value) {
            Some(ms) if ms <= MAX_ESCALATION_MS => {}
            None if !is_duration_form(&after.value) => out.push(
                Diagnostic::error(
                    Code::InvalidDuration,
                    after.span,
                    format!("`{}` is not a duration", after.value),
                )
                .with_label("not a duration")
                .with_help(
                    "write a whole number and one unit: `s`, `m`, `h` or `d`, e.g. `90s`, \
                     `15m`, `24h`, `2d`",
                ),
            ),
            // Too long for the limit, or even for jiff: both are out of range.
            _ => out.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    after.span,
                    format!(
                        "`{}` is longer than the longest escalation, `366d`",
                        after.value
                    ),
                )
                .with_label("too long"),
            ),
        }
    }
}

/// Compile every rule's `when` once, reporting `rule_compile` with a span inside the file.
fn compile_rules(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) -> Vec<Option<Guard>> {
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

fn text_of(node: &Option<Node<String>>) -> Option<&str> {
    node.as_ref().map(|n| n.value.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::toml::parse;

    const BASE: &str = r#"
[surface]
slug = "demo"
name = "Demo"
spec = "surface-runtime-spec-v0.01"
version = 1

[[phase]]
id = "queued"
label = "Queued"

[[phase]]
id = "claimed"
label = "Claimed"

[[phase]]
id = "working"
label = "Working"

[[phase]]
id = "complete"
label = "Complete"
"#;

    fn check(extra: &str) -> Vec<Diagnostic> {
        let src = format!("{BASE}{extra}");
        let (def, diags) = parse(&src);
        assert!(diags.is_empty(), "front end: {diags:?}");
        validate(&def)
    }

    fn codes(extra: &str) -> Vec<&'static str> {
        check(extra).iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn the_base_surface_is_valid() {
        assert!(codes("").is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("15m"), Some(900_000));
        assert_eq!(parse_duration("24h"), Some(86_400_000));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        assert_eq!(parse_duration("0s"), Some(0));
        for bad in [
            "",
            "s",
            "10",
            "1.5h",
            "-1h",
            "1w",
            "1 h",
            " 1h",
            "h1",
            "99999999999999999999d",
            "1hé",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_duration("9999999999999999d"), None);
    }

    #[test]
    fn durations_are_the_contract_form_read_by_jiff() {
        // Forms jiff's friendly format reads but surfaces do not accept.
        for other in [
            "+1h", "1h30m", "1 hour", "2hours", "1y", "1mo", "1ms", "1H", "PT1H",
        ] {
            assert_eq!(parse_duration(other), None, "{other}");
            assert!(!is_duration_form(other), "{other}");
        }
        assert_eq!(parse_duration("007s"), Some(7_000));
        assert_eq!(parse_duration("000d"), Some(0));
        assert_eq!(parse_duration("00000000000000000000090s"), Some(90_000));
        assert_eq!(parse_duration("7304484d"), Some(7_304_484 * 86_400_000));
        // Of the form but too long to hold: out of range, not "not a duration".
        for long in ["7304485d", "99999999999999999999d"] {
            assert_eq!(parse_duration(long), None, "{long}");
            assert!(is_duration_form(long), "{long}");
        }
        let late = "\n[[escalation]]\nphase = \"claimed\"\nafter = \"99999999999999999999d\"\nsignal = \"late\"\n";
        assert_eq!(codes(late), vec!["out_of_range"]);
    }

    #[test]
    fn patterns() {
        assert!(is_slug("event-coordination"));
        assert!(is_slug("ab"));
        assert!(!is_slug("a"));
        assert!(!is_slug("Event"));
        assert!(!is_slug("1abc"));
        assert!(!is_slug(&"a".repeat(64)));
        assert!(is_identifier("a"));
        assert!(is_identifier("in_progress"));
        assert!(!is_identifier("in-progress"));
        assert!(!is_identifier("_x"));
        assert!(!is_identifier(&"a".repeat(64)));
    }

    #[test]
    fn transitions_into_first_out_of_last_and_self() {
        let got = codes(
            r#"
[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "queued"
[[transition]]
from = "claimed"
to = "working"
[[transition]]
from = "working"
to = "working"
[[transition]]
from = "working"
to = "complete"
[[transition]]
from = "complete"
to = "working"
"#,
        );
        assert_eq!(
            got,
            vec![
                "transition_into_first",
                "self_transition",
                "transition_out_of_last"
            ]
        );
    }

    #[test]
    fn reachability_is_checked_both_ways() {
        let got = codes(
            r#"
[[transition]]
from = "queued"
to = "complete"
[[transition]]
from = "claimed"
to = "working"
"#,
        );
        assert_eq!(
            got,
            vec!["transition_from_first", "dead_end_phase", "dead_end_phase"]
        );
        let got = codes("\n[[transition]]\nfrom = \"claimed\"\nto = \"complete\"\n");
        assert_eq!(got, vec!["unreachable_phase", "dead_end_phase"]);
    }

    #[test]
    fn the_claim_edge_is_implied() {
        let got = codes(
            "\n[[transition]]\nfrom = \"claimed\"\nto = \"working\"\n[[transition]]\nfrom = \"working\"\nto = \"complete\"\n",
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn consequences_of_an_unknown_phase_are_not_reported() {
        let diags = check(
            "\n[[transition]]\nfrom = \"claimed\"\nto = \"workin\"\n[[transition]]\nfrom = \"working\"\nto = \"complete\"\n",
        );
        let got: Vec<_> = diags.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(got, vec!["unknown_phase"]);
        let help = diags[0].help.as_deref().unwrap();
        assert!(help.starts_with("did you mean `working`?"), "{help}");
        assert!(help.contains("cannot be reached"), "{help}");
        // A phase cut off whatever the unknown name becomes is still reported.
        let got = codes(
            "\n[[transition]]\nfrom = \"claimed\"\nto = \"nowhere\"\n[[transition]]\nfrom = \"claimed\"\nto = \"complete\"\n[[transition]]\nfrom = \"complete\"\nto = \"working\"\n",
        );
        assert!(got.contains(&"unknown_phase"), "{got:?}");
    }

    #[test]
    fn a_misspelled_rule_name_does_not_also_make_the_rule_unused() {
        let got = codes(
            "\n[[transition]]\nfrom = \"claimed\"\nto = \"working\"\nrule = \"crew_redy\"\n[[transition]]\nfrom = \"working\"\nto = \"complete\"\n[[rule]]\nname = \"crew_ready\"\non = \"transition\"\nwhen = 'true'\nmessage = \"m\"\n",
        );
        assert_eq!(got, vec!["unknown_rule"]);
    }

    #[test]
    fn rule_compile_error_points_into_the_expression() {
        let src = format!(
            "{BASE}\n[[rule]]\nname = \"r\"\non = \"advance\"\nwhen = '''\ncase.phase == 1 &&\n  cas.x'''\nmessage = \"m\"\n"
        );
        let (def, diags) = parse(&src);
        assert!(diags.is_empty());
        let diags = validate(&def);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].code, Code::RuleCompile);
        assert_eq!(&src[diags[0].span.start..diags[0].span.end], "c");
        let (line, col) = crate::surface::diagnostic::line_col(&src, diags[0].span.start);
        assert_eq!(
            (line, col),
            (
                src.lines().position(|l| l.contains("cas.x")).unwrap() + 1,
                3
            )
        );
    }

    #[test]
    fn unused_transition_rule_is_a_warning() {
        let diags = check(
            "\n[[rule]]\nname = \"r\"\non = \"transition\"\nwhen = 'now > 0'\nmessage = \"m\"\n",
        );
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::UnusedRule);
        assert!(!diags[0].is_error());
    }

    #[test]
    fn unknown_trigger_suggests_a_command() {
        let diags = check(
            "\n[[rule]]\nname = \"r\"\non = \"advanse\"\nwhen = 'now > 0'\nmessage = \"m\"\n",
        );
        assert_eq!(diags[0].code, Code::UnknownTrigger);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `advance`?"));
    }

    #[test]
    fn missing_keys_are_reported_for_hand_built_definitions() {
        let def = Definition::default();
        let got: Vec<_> = validate(&def).iter().map(|d| d.code.as_str()).collect();
        assert_eq!(
            got,
            vec![
                "missing_key",
                "missing_key",
                "missing_key",
                "missing_key",
                "too_few_phases"
            ]
        );
        assert_eq!(validate_parsed(&def).len(), 1);
    }

    #[test]
    fn escalations_are_checked() {
        let got = codes(
            "\n[[escalation]]\nphase = \"claimd\"\nafter = \"24 hours\"\nsignal = \"claim_stale\"\n\n[[escalation]]\nphase = \"claimed\"\nafter = \"400d\"\nsignal = \"Claim-Stale\"\n",
        );
        assert_eq!(
            got,
            vec![
                "invalid_identifier",
                "unknown_phase",
                "invalid_duration",
                "out_of_range"
            ]
        );
    }

    #[test]
    fn ten_thousand_phases_validate_quickly() {
        let mut src =
            String::from("[surface]\nslug = \"big\"\nname = \"Big\"\nspec = \"s\"\nversion = 1\n");
        for i in 0..10_000 {
            src.push_str(&format!("[[phase]]\nid = \"p{i}\"\nlabel = \"P {i}\"\n"));
        }
        let (def, diags) = parse(&src);
        assert!(diags.is_empty());
        assert!(validate(&def).is_empty());
    }
}

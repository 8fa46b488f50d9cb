//! The TOML front end: a surface file in the TOML form (`docs/surface.md`) → [`Definition`].
//!
//! The file is parsed with `toml`'s recoverable parser into a spanned tree and then walked by
//! hand, table by table, so that every key and value keeps the byte span it was written at.
//! The walk accepts exactly the documented keys and reports, without ever stopping at the
//! first one, every TOML syntax error (`toml_syntax`), unknown key (`unknown_key`, with a "did
//! you mean" help when a known key is close), value of the wrong type (`wrong_type`), missing
//! required key (`missing_key`) and keyword outside its set (`invalid_value`).
//!
//! This module owns *syntax* only: it never judges meaning (patterns, references, reachability,
//! rule compilation all belong to [`crate::surface::validate`](mod@crate::surface::validate)), never fills in defaults (that
//! is [`Definition::normalized`]) and never panics, whatever the input.

use ::toml::Spanned;
use ::toml::de::{DeTable, DeValue};

use crate::diagnostic::toml::{
    closest, list_in_backticks, not_an_array_of_tables, span_of, syntax_error, type_name,
    wrong_type,
};
use crate::surface::ast::{
    ClaimPolicy, Definition, Escalation, Evidence, Execution, Header, Intake, Node, Operators,
    Ownership, PaymentTiming, Phase, RecordContainer, Rule, Span, SpanIgnored, Status, Transition,
};
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::limits::{MAX_DIAGNOSTICS, MAX_FILE_BYTES};
use crate::surface::validate::{cap, dropped_note};

/// The top-level tables of a surface file, in the order of `docs/surface.md`.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "surface",
    "execution",
    "phase",
    "transition",
    "evidence",
    "intake",
    "rule",
    "escalation",
];

const SURFACE_KEYS: &[&str] = &["slug", "name", "spec", "version", "status"];
const EXECUTION_KEYS: &[&str] = &[
    "claim",
    "ownership",
    "record",
    "payment_timing",
    "completed_visible",
    "operators",
];
const PHASE_KEYS: &[&str] = &["id", "label"];
const TRANSITION_KEYS: &[&str] = &["from", "to", "requires", "rule", "approval"];
const EVIDENCE_KEYS: &[&str] = &[
    "required_categories",
    "optional_categories",
    "min_per_category",
];
const INTAKE_KEYS: &[&str] = &["required", "optional", "min_photos", "sensitive"];
const RULE_KEYS: &[&str] = &["name", "on", "when", "message"];
const ESCALATION_KEYS: &[&str] = &["phase", "after", "signal"];

/// The keys each table accepts, for "did you mean" hints on misplaced keys.
const TABLE_KEYS: &[(&str, &[&str])] = &[
    ("[surface]", SURFACE_KEYS),
    ("[execution]", EXECUTION_KEYS),
    ("[[phase]]", PHASE_KEYS),
    ("[[transition]]", TRANSITION_KEYS),
    ("[evidence]", EVIDENCE_KEYS),
    ("[intake]", INTAKE_KEYS),
    ("[[rule]]", RULE_KEYS),
    ("[[escalation]]", ESCALATION_KEYS),
];

/// Parse a surface file written in TOML.
///
/// Always returns a [`Definition`] (as complete as the input allows) together with every
/// problem found, sorted by position. A file that is not valid TOML gets every syntax error and
/// nothing else (the recovered tree would only add follow-on noise). An empty diagnostic list
/// means the file is well-formed; it still has to pass
/// [`crate::surface::validate::validate_parsed`].
pub fn parse(source: &str) -> (Definition, Vec<Diagnostic>) {
    if source.len() > MAX_FILE_BYTES {
        let diag = Diagnostic::error(
            Code::FileTooLarge,
            Span::new(0, 0),
            format!(
                "the file is {} bytes long; surface files may be at most {MAX_FILE_BYTES} bytes",
                source.len()
            ),
        )
        .with_help("split the surface, or check that this is the file you meant");
        return (Definition::default(), vec![diag]);
    }

    let (root, errors) = DeTable::parse_recoverable(source);
    let mut walker = Walker {
        source,
        diags: Vec::new(),
        dropped: 0,
    };
    let mut syntax: Vec<Diagnostic> = errors
        .iter()
        .map(|error| {
            syntax_error(
                Code::TomlSyntax,
                error,
                "the file must be valid TOML before its surface can be checked",
            )
        })
        .collect();
    let def = walker.definition(root.get_ref());
    if !errors.is_empty() {
        // The recovered tree is a best effort: an unclosed header swallows the keys after
        // it, keys lost to an error look missing, and unreadable values come back as
        // placeholders. Reporting what the walk saw in it would bury the real problem under
        // follow-on noise, so a file that is not valid TOML gets its syntax errors (all of
        // them) and nothing else.
        syntax.sort_by_key(|d| (d.span.start, d.span.end));
        cap(&mut syntax);
        return (def, syntax);
    }
    let mut diags = walker.diags;
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    if walker.dropped > 0 {
        diags.push(dropped_note(walker.dropped));
    }
    (def, diags)
}

/// The content span of a string literal: inside the quotes, and for multi-line strings after
/// the newline that directly follows the opening delimiter (TOML drops that newline).
fn string_content_span(source: &str, span: Span) -> Span {
    let Some(raw) = source.get(span.start..span.end) else {
        return span;
    };
    let (open, close) = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        (3, 3)
    } else if raw.starts_with('\'') || raw.starts_with('"') {
        (1, 1)
    } else {
        return span;
    };
    if raw.len() < open + close {
        return span;
    }
    let mut start = span.start + open;
    if open == 3 {
        let rest = source.get(start..span.end).unwrap_or("");
        if rest.starts_with("\r\n") {
            start += 2;
        } else if rest.starts_with('\n') {
            start += 1;
        }
    }
    let end = span.end.saturating_sub(close).max(start);
    Span::new(start, end)
}

struct Walker<'s> {
    source: &'s str,
    diags: Vec<Diagnostic>,
    /// Diagnostics past [`MAX_DIAGNOSTICS`], counted but not kept.
    dropped: usize,
}

/// One TOML table being read: which keys it accepts and where it was written.
struct TableCx<'t, 'i> {
    table: &'t DeTable<'i>,
    /// The header span (`[surface]`, `[[phase]]`, `{ ... }`).
    span: Span,
    /// How the table is named in messages (`[surface]`, `[[phase]]`).
    name: &'static str,
}

impl Walker<'_> {
    fn push(&mut self, diag: Diagnostic) {
        if self.diags.len() < MAX_DIAGNOSTICS {
            self.diags.push(diag);
        } else {
            self.dropped += 1;
        }
    }

    fn definition(&mut self, root: &DeTable<'_>) -> Definition {
        let mut def = Definition::default();
        for (key, value) in root.iter() {
            let name = key.get_ref().as_ref();
            match name {
                "surface" => {
                    if let Some(t) = self.single_table(value, "surface") {
                        def.surface = self.header(&t);
                    }
                }
                "execution" => {
                    if let Some(t) = self.single_table(value, "execution") {
                        def.execution = self.execution(&t);
                    }
                }
                "evidence" => {
                    if let Some(t) = self.single_table(value, "evidence") {
                        def.evidence = self.evidence(&t);
                    }
                }
                "intake" => {
                    if let Some(t) = self.single_table(value, "intake") {
                        def.intake = self.intake(&t);
                    }
                }
                "phase" => {
                    def.phases = self
                        .array_of_tables(value, "phase", "[[phase]]")
                        .iter()
                        .map(|t| Node::new(self.phase(t), t.span))
                        .collect();
                }
                "transition" => {
                    def.transitions = self
                        .array_of_tables(value, "transition", "[[transition]]")
                        .iter()
                        .map(|t| Node::new(self.transition(t), t.span))
                        .collect();
                }
                "rule" => {
                    def.rules = self
                        .array_of_tables(value, "rule", "[[rule]]")
                        .iter()
                        .map(|t| Node::new(self.rule(t), t.span))
                        .collect();
                }
                "escalation" => {
                    def.escalations = self
                        .array_of_tables(value, "escalation", "[[escalation]]")
                        .iter()
                        .map(|t| Node::new(self.escalation(t), t.span))
                        .collect();
                }
                other => self.unknown_top_level(other, span_of(key), value),
            }
        }
        if !root.contains_key("surface") {
            def.surface.span = SpanIgnored(Span::new(0, self.source.len()));
            self.push(
                Diagnostic::error(
                    Code::MissingKey,
                    Span::new(0, 0),
                    "missing table `[surface]`",
                )
                .with_help(
                    "every surface file starts with a `[surface]` table that has `slug`, `name`, \
                     `spec` and `version`",
                ),
            );
        }
        def
    }

    fn unknown_top_level(&mut self, key: &str, span: Span, value: &Spanned<DeValue<'_>>) {
        let is_table = matches!(value.get_ref(), DeValue::Table(_))
            || matches!(value.get_ref(), DeValue::Array(a) if a.iter().any(|v| matches!(v.get_ref(), DeValue::Table(_))));
        let message = if is_table {
            format!("unknown table `{key}`")
        } else {
            format!("unknown key `{key}`")
        };
        let mut diag = Diagnostic::error(Code::UnknownKey, span, message)
            .with_label("not part of a surface file");
        if let Some((table, _)) = TABLE_KEYS.iter().find(|(_, keys)| keys.contains(&key)) {
            diag = diag.with_help(format!("`{key}` belongs in the `{table}` table"));
        } else if let Some(near) = closest(key, TOP_LEVEL_KEYS) {
            diag = diag.with_help(format!("did you mean `{near}`?"));
        } else {
            diag = diag.with_help(format!(
                "a surface file has the tables {}",
                list_in_backticks(TOP_LEVEL_KEYS)
            ));
        }
        self.push(diag);
    }

    /// A top-level value that must be a plain table (`[surface]`).
    fn single_table<'t, 'i>(
        &mut self,
        value: &'t Spanned<DeValue<'i>>,
        key: &'static str,
    ) -> Option<TableCx<'t, 'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(TableCx {
                table,
                span: span_of(value),
                name: table_name(key),
            }),
            other => {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        span_of(value),
                        format!("`{key}` must be a table, found {}", type_name(other)),
                    )
                    .with_label("expected a table")
                    .with_help(format!("write it as a `[{key}]` table")),
                );
                None
            }
        }
    }

    /// A top-level value that must be an array of tables (`[[phase]]`).
    fn array_of_tables<'t, 'i>(
        &mut self,
        value: &'t Spanned<DeValue<'i>>,
        key: &'static str,
        name: &'static str,
    ) -> Vec<TableCx<'t, 'i>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.push(not_an_array_of_tables(Code::WrongType, value, key));
            return Vec::new();
        };
        let mut tables = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(table) => tables.push(TableCx {
                    table,
                    span: span_of(item),
                    name,
                }),
                other => self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        span_of(item),
                        format!(
                            "each `{key}` entry must be a table, found {}",
                            type_name(other)
                        ),
                    )
                    .with_label("expected a table")
                    .with_help(format!("write each entry as its own `[[{key}]]` table")),
                ),
            }
        }
        tables
    }

    /// Report every key of `cx` that is not in `known`.
    fn unknown_keys(&mut self, cx: &TableCx<'_, '_>, known: &[&str]) {
        for (key, _) in cx.table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let mut diag = Diagnostic::error(
                Code::UnknownKey,
                span_of(key),
                format!("unknown key `{name}` in `{}`", cx.name),
            )
            .with_label(format!("not a key of `{}`", cx.name));
            diag = match closest(name, known) {
                Some(near) => diag.with_help(format!("did you mean `{near}`?")),
                None => diag.with_help(format!(
                    "the keys of `{}` are {}",
                    cx.name,
                    list_in_backticks(known)
                )),
            };
            self.push(diag);
        }
    }

    fn missing(&mut self, cx: &TableCx<'_, '_>, key: &str) {
        self.push(
            Diagnostic::error(
                Code::MissingKey,
                cx.span,
                format!("missing key `{key}` in `{}`", cx.name),
            )
            .with_label(format!("this table needs `{key}`")),
        );
    }

    fn wrong_type(&mut self, span: Span, key: &str, expected: &str, found: &DeValue<'_>) {
        self.push(wrong_type(Code::WrongType, span, key, expected, found));
    }

    /// A string value; `None` (and a diagnostic) when it is absent but required or mistyped.
    fn string(
        &mut self,
        cx: &TableCx<'_, '_>,
        key: &'static str,
        required: bool,
    ) -> Option<Node<String>> {
        let Some(value) = cx.table.get(key) else {
            if required {
                self.missing(cx, key);
            }
            return None;
        };
        match value.get_ref() {
            DeValue::String(s) => Some(Node::new(s.to_string(), span_of(value))),
            other => {
                self.wrong_type(span_of(value), key, "a string", other);
                None
            }
        }
    }

    /// An integer value.
    fn integer(
        &mut self,
        cx: &TableCx<'_, '_>,
        key: &'static str,
        required: bool,
    ) -> Option<Node<i64>> {
        let Some(value) = cx.table.get(key) else {
            if required {
                self.missing(cx, key);
            }
            return None;
        };
        match value.get_ref() {
            DeValue::Integer(int) => {
                let digits = int.as_str().replace('_', "");
                match i64::from_str_radix(&digits, int.radix()) {
                    Ok(n) => Some(Node::new(n, span_of(value))),
                    Err(_) => {
                        self.push(
                            Diagnostic::error(
                                Code::OutOfRange,
                                span_of(value),
                                format!("`{key}` is too large"),
                            )
                            .with_label("does not fit in a 64-bit integer"),
                        );
                        None
                    }
                }
            }
            other => {
                self.wrong_type(span_of(value), key, "an integer", other);
                None
            }
        }
    }

    /// A boolean value.
    fn boolean(&mut self, cx: &TableCx<'_, '_>, key: &'static str) -> Option<Node<bool>> {
        let value = cx.table.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(Node::new(*b, span_of(value))),
            other => {
                self.wrong_type(span_of(value), key, "a boolean (`true` or `false`)", other);
                None
            }
        }
    }

    /// A keyword value (`status`, `claim`, ...), parsed with `parse`.
    fn keyword<T>(
        &mut self,
        cx: &TableCx<'_, '_>,
        key: &'static str,
        parse: fn(&str) -> Option<T>,
        accepted: &[&str],
    ) -> Option<Node<T>> {
        let text = self.string(cx, key, false)?;
        match parse(&text.value) {
            Some(v) => Some(Node::new(v, text.span)),
            None => {
                let mut help = format!("accepted values: {}", list_in_backticks(accepted));
                if let Some(near) = closest(&text.value, accepted) {
                    help = format!("did you mean `{near}`? {help}");
                }
                self.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        text.span,
                        format!("`{}` is not a valid `{key}`", text.value),
                    )
                    .with_label(format!("not one of the `{key}` values"))
                    .with_help(help),
                );
                None
            }
        }
    }

    /// An array of strings; absent means empty.
    fn string_list(&mut self, cx: &TableCx<'_, '_>, key: &'static str) -> Vec<Node<String>> {
        let Some(value) = cx.table.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(span_of(value), key, "an array of strings", value.get_ref());
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Node::new(s.to_string(), span_of(item))),
                other => self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        span_of(item),
                        format!(
                            "each entry of `{key}` must be a string, found {}",
                            type_name(other)
                        ),
                    )
                    .with_label("expected a string"),
                ),
            }
        }
        out
    }

    /// An array of strings that may be absent: `None` when absent, else the list (possibly
    /// empty, which the validator judges) spanning the whole array.
    fn present_list(
        &mut self,
        cx: &TableCx<'_, '_>,
        key: &'static str,
    ) -> Option<Node<Vec<Node<String>>>> {
        let value = cx.table.get(key)?;
        if !matches!(value.get_ref(), DeValue::Array(_)) {
            self.wrong_type(span_of(value), key, "an array of strings", value.get_ref());
            return None;
        }
        Some(Node::new(self.string_list(cx, key), span_of(value)))
    }

    fn header(&mut self, cx: &TableCx<'_, '_>) -> Header {
        self.unknown_keys(cx, SURFACE_KEYS);
        Header {
            span: SpanIgnored(cx.span),
            slug: self.string(cx, "slug", true),
            name: self.string(cx, "name", true),
            spec: self.string(cx, "spec", true),
            version: self.integer(cx, "version", true),
            status: self.keyword(cx, "status", Status::parse, Status::ALL),
        }
    }

    fn execution(&mut self, cx: &TableCx<'_, '_>) -> Execution {
        self.unknown_keys(cx, EXECUTION_KEYS);
        Execution {
            claim: self.keyword(cx, "claim", ClaimPolicy::parse, ClaimPolicy::ALL),
            ownership: self.keyword(cx, "ownership", Ownership::parse, Ownership::ALL),
            record: self.keyword(cx, "record", RecordContainer::parse, RecordContainer::ALL),
            payment_timing: self.keyword(
                cx,
                "payment_timing",
                PaymentTiming::parse,
                PaymentTiming::ALL,
            ),
            completed_visible: self.boolean(cx, "completed_visible"),
            operators: self.keyword(cx, "operators", Operators::parse, Operators::ALL),
        }
    }

    fn phase(&mut self, cx: &TableCx<'_, '_>) -> Phase {
        self.unknown_keys(cx, PHASE_KEYS);
        Phase {
            id: self.string(cx, "id", true),
            label: self.string(cx, "label", true),
        }
    }

    fn transition(&mut self, cx: &TableCx<'_, '_>) -> Transition {
        self.unknown_keys(cx, TRANSITION_KEYS);
        Transition {
            from: self.string(cx, "from", true),
            to: self.string(cx, "to", true),
            requires: self.string_list(cx, "requires"),
            rule: self.string(cx, "rule", false),
            approval: self.present_list(cx, "approval"),
        }
    }

    fn evidence(&mut self, cx: &TableCx<'_, '_>) -> Evidence {
        self.unknown_keys(cx, EVIDENCE_KEYS);
        Evidence {
            required_categories: self.string_list(cx, "required_categories"),
            optional_categories: self.string_list(cx, "optional_categories"),
            min_per_category: self.integer(cx, "min_per_category", false),
        }
    }

    fn intake(&mut self, cx: &TableCx<'_, '_>) -> Intake {
        self.unknown_keys(cx, INTAKE_KEYS);
        Intake {
            required: self.string_list(cx, "required"),
            optional: self.string_list(cx, "optional"),
            min_photos: self.integer(cx, "min_photos", false),
            sensitive: self.string_list(cx, "sensitive"),
        }
    }

    fn rule(&mut self, cx: &TableCx<'_, '_>) -> Rule {
        self.unknown_keys(cx, RULE_KEYS);
        let when = self.string(cx, "when", true).map(|node| {
            let span = string_content_span(self.source, node.span);
            Node::new(node.value, span)
        });
        Rule {
            name: self.string(cx, "name", true),
            on: self.string(cx, "on", true),
            when,
            message: self.string(cx, "message", true),
        }
    }

    fn escalation(&mut self, cx: &TableCx<'_, '_>) -> Escalation {
        self.unknown_keys(cx, ESCALATION_KEYS);
        Escalation {
            phase: self.string(cx, "phase", true),
            after: self.string(cx, "after", true),
            signal: self.string(cx, "signal", true),
        }
    }
}

fn table_name(key: &str) -> &'static str {
    match key {
        "surface" => "[surface]",
        "execution" => "[execution]",
        "evidence" => "[evidence]",
        "intake" => "[intake]",
        "phase" => "[[phase]]",
        "transition" => "[[transition]]",
        "rule" => "[[rule]]",
        "escalation" => "[[escalation]]",
        _ => "the table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::diagnostic::line_col;

    const MINIMAL: &str = r#"
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
id = "complete"
label = "Complete"
"#;

    fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
        diags.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn minimal_file_parses_clean() {
        let (def, diags) = parse(MINIMAL);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(def.surface.slug.unwrap().value, "demo");
        assert_eq!(def.phases.len(), 3);
        assert_eq!(def.phases[1].value.id.as_ref().unwrap().value, "claimed");
        assert!(def.transitions.is_empty());
        assert!(def.surface.status.is_none());
    }

    #[test]
    fn unknown_key_suggests_the_close_one() {
        let src = MINIMAL.replace("slug = ", "slgu = ");
        let (_, diags) = parse(&src);
        let unknown = diags.iter().find(|d| d.code == Code::UnknownKey).unwrap();
        assert_eq!(unknown.help.as_deref(), Some("did you mean `slug`?"));
        assert!(codes(&diags).contains(&"missing_key"));
    }

    #[test]
    fn wrong_type_and_invalid_value_are_both_reported() {
        let src = MINIMAL.replace("version = 1", "version = \"1\"\nstatus = \"paused-ish\"");
        let (_, diags) = parse(&src);
        assert_eq!(codes(&diags), vec!["wrong_type", "invalid_value"]);
        assert!(
            diags[1]
                .help
                .as_ref()
                .unwrap()
                .contains("`active`, `paused`, `retired`")
        );
    }

    #[test]
    fn syntax_error_has_a_span() {
        let (_, diags) = parse("[surface\nslug = 1\n");
        assert!(!diags.is_empty());
        assert_eq!(diags[0].code, Code::TomlSyntax);
    }

    #[test]
    fn single_table_where_array_belongs_is_wrong_type() {
        let src = MINIMAL.replace("[[phase]]\nid = \"queued\"", "[phaze]\nid = \"queued\"");
        let (_, diags) = parse(&src);
        let d = diags.iter().find(|d| d.code == Code::UnknownKey).unwrap();
        assert_eq!(d.message, "unknown table `phaze`");
        assert_eq!(d.help.as_deref(), Some("did you mean `phase`?"));
    }

    #[test]
    fn when_span_covers_the_string_contents() {
        let src = format!(
            "{MINIMAL}\n[[rule]]\nname = \"r\"\non = \"advance\"\nwhen = '''\ncase.phase == \"x\"'''\nmessage = \"m\"\n"
        );
        let (def, diags) = parse(&src);
        assert!(diags.is_empty(), "{diags:?}");
        let when = def.rules[0].value.when.as_ref().unwrap();
        assert_eq!(&src[when.span.start..when.span.end], "case.phase == \"x\"");

        let src = format!(
            "{MINIMAL}\n[[rule]]\nname = \"r\"\non = \"advance\"\nwhen = \"now > 1\"\nmessage = \"m\"\n"
        );
        let (def, _) = parse(&src);
        let when = def.rules[0].value.when.as_ref().unwrap();
        assert_eq!(&src[when.span.start..when.span.end], "now > 1");
    }

    #[test]
    fn missing_key_points_at_the_table() {
        let src = MINIMAL.replace("label = \"Claimed\"\n", "");
        let (_, diags) = parse(&src);
        assert_eq!(codes(&diags), vec!["missing_key"]);
        let (line, _) = line_col(&src, diags[0].span.start);
        assert_eq!(line, 12);
    }

    #[test]
    fn oversized_file_is_refused_unparsed() {
        let src = " ".repeat(MAX_FILE_BYTES + 1);
        let (_, diags) = parse(&src);
        assert_eq!(codes(&diags), vec!["file_too_large"]);
    }

    #[test]
    fn a_key_outside_its_table_says_where_it_belongs() {
        let (_, diags) = parse(&format!("min_photos = 2\n{MINIMAL}"));
        assert_eq!(codes(&diags), vec!["unknown_key"]);
        assert_eq!(
            diags[0].help.as_deref(),
            Some("`min_photos` belongs in the `[intake]` table")
        );
    }

    #[test]
    fn diagnostics_are_capped() {
        let (_, diags) = parse(&"[[phase]]\n".repeat(5_000));
        assert_eq!(diags.len(), MAX_DIAGNOSTICS + 1);
        let last = diags.last().unwrap();
        assert_eq!(last.code, Code::TooMany);
        assert!(!last.is_error());
        assert!(
            last.message.starts_with("9001 more problems"),
            "{}",
            last.message
        );
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        use strsim::osa_distance as edit_distance;
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("slgu", "slug"), 1);
    }
}

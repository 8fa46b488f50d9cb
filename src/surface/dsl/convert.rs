//! The parse tree into the syntax tree: one `parse_*` per grammar rule, keyword values
//! checked against their sets, keys written twice reported, every node with its span.

use std::collections::HashSet;

use pest::iterators::Pair;

use super::grammar::Rule;
use crate::surface::ast::{
    ClaimPolicy, Definition, Escalation, Evidence, Execution, Header, Intake, Node, Operators,
    Ownership, PaymentTiming, Phase, RecordContainer, Rule as RuleDef, Span, SpanIgnored, Status,
    Transition,
};
use crate::surface::diagnostic::{Code, Diagnostic};

/// The conversion context: the diagnostics found so far, and where the text being converted
/// starts in the file (not 0 only while recovering from a syntax error, when each statement
/// is parsed on its own).
#[derive(Default)]
pub(super) struct Cx {
    pub(super) diags: Vec<Diagnostic>,
    pub(super) offset: usize,
}

/// Keys already written in one block, for `duplicate_key`.
#[derive(Default)]
pub(super) struct Seen(HashSet<&'static str>);

impl Cx {
    /// The span of `pair` in the file: pest's offsets plus where the parsed text starts.
    fn span_of(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.offset + s.start(), self.offset + s.end())
    }

    /// `file`: the one `surface` block.
    pub(super) fn parse_file(&mut self, pair: Pair<'_, Rule>) -> Definition {
        let mut def = Definition::default();
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::surface {
                def = self.parse_surface(inner);
            }
        }
        def
    }

    /// `surface`: the header, then the statements in any order.
    fn parse_surface(&mut self, pair: Pair<'_, Rule>) -> Definition {
        let mut def = Definition::default();
        let mut seen = Seen::default();
        for inner in pair.into_inner() {
            self.parse_statement(&mut def, &mut seen, inner);
        }
        def
    }

    /// One statement (or the header) into `def`; `seen` tracks the keys and blocks that may
    /// be written once.
    pub(super) fn parse_statement(
        &mut self,
        def: &mut Definition,
        seen: &mut Seen,
        inner: Pair<'_, Rule>,
    ) {
        let span = self.span_of(&inner);
        match inner.as_rule() {
            Rule::header => def.surface = self.parse_header(inner),
            Rule::spec_stmt => {
                let value = self.parse_spec_stmt(inner);
                self.set(seen, "spec", "surface", span, &mut def.surface.spec, value);
            }
            Rule::status_stmt => {
                let value = self.parse_status_stmt(inner);
                self.set(
                    seen,
                    "status",
                    "surface",
                    span,
                    &mut def.surface.status,
                    value,
                );
            }
            Rule::execution_block => {
                self.once(seen, "execution", span);
                self.parse_execution_block(inner, &mut def.execution);
            }
            Rule::phases_block => {
                self.once(seen, "phases", span);
                self.parse_phases_block(inner, &mut def.phases);
            }
            Rule::transition_stmt => def.transitions.push(self.parse_transition_stmt(inner)),
            Rule::evidence_block => {
                self.once(seen, "evidence", span);
                self.parse_evidence_block(inner, &mut def.evidence);
            }
            Rule::intake_block => {
                self.once(seen, "intake", span);
                self.parse_intake_block(inner, &mut def.intake);
            }
            Rule::rule_stmt => def.rules.push(self.parse_rule_stmt(inner)),
            Rule::escalate_stmt => def.escalations.push(self.parse_escalate_stmt(inner)),
            _ => {}
        }
    }

    /// `header`: `surface <slug> v<version> "<name>"`.
    fn parse_header(&mut self, pair: Pair<'_, Rule>) -> Header {
        let mut header = Header {
            span: SpanIgnored(self.span_of(&pair)),
            ..Header::default()
        };
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::name => header.slug = self.parse_name(inner),
                Rule::version => header.version = self.parse_version(inner),
                Rule::text => header.name = self.parse_text(inner),
                _ => {}
            }
        }
        header
    }

    /// `version`: `v1`.
    fn parse_version(&mut self, pair: Pair<'_, Rule>) -> Option<Node<i64>> {
        let mut value = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::int {
                value = self.parse_int(inner);
            }
        }
        value
    }

    /// `spec_stmt`: `spec "…"`.
    fn parse_spec_stmt(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let mut value = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::text {
                value = self.parse_text(inner);
            }
        }
        value
    }

    /// `status_stmt`: `status active`.
    fn parse_status_stmt(&mut self, pair: Pair<'_, Rule>) -> Option<Node<Status>> {
        self.keyword_value(pair, "status", Status::ALL, Status::parse)
    }

    /// `execution_block`: `execution { … }`.
    fn parse_execution_block(&mut self, pair: Pair<'_, Rule>, out: &mut Execution) {
        let mut seen = Seen::default();
        for inner in pair.into_inner() {
            let span = self.span_of(&inner);
            match inner.as_rule() {
                Rule::claim_setting => {
                    let v =
                        self.keyword_value(inner, "claim", ClaimPolicy::ALL, ClaimPolicy::parse);
                    self.set(&mut seen, "claim", "execution", span, &mut out.claim, v);
                }
                Rule::ownership_setting => {
                    let v =
                        self.keyword_value(inner, "ownership", Ownership::ALL, Ownership::parse);
                    self.set(
                        &mut seen,
                        "ownership",
                        "execution",
                        span,
                        &mut out.ownership,
                        v,
                    );
                }
                Rule::record_setting => {
                    let v = self.keyword_value(
                        inner,
                        "record",
                        RecordContainer::ALL,
                        RecordContainer::parse,
                    );
                    self.set(&mut seen, "record", "execution", span, &mut out.record, v);
                }
                Rule::payment_setting => {
                    let v = self.keyword_value(
                        inner,
                        "payment_timing",
                        PaymentTiming::ALL,
                        PaymentTiming::parse,
                    );
                    let slot = &mut out.payment_timing;
                    self.set(&mut seen, "payment_timing", "execution", span, slot, v);
                }
                Rule::visible_setting => {
                    let v = self.keyword_value(
                        inner,
                        "completed_visible",
                        &["true", "false"],
                        parse_bool,
                    );
                    let slot = &mut out.completed_visible;
                    self.set(&mut seen, "completed_visible", "execution", span, slot, v);
                }
                Rule::operators_setting => {
                    let v =
                        self.keyword_value(inner, "operators", Operators::ALL, Operators::parse);
                    let slot = &mut out.operators;
                    self.set(&mut seen, "operators", "execution", span, slot, v);
                }
                _ => {}
            }
        }
    }

    /// `phases_block`: `phases { … }`, appended in order.
    fn parse_phases_block(&mut self, pair: Pair<'_, Rule>, out: &mut Vec<Node<Phase>>) {
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::phase {
                out.push(self.parse_phase(inner));
            }
        }
    }

    /// `phase`: `id "Label"`.
    fn parse_phase(&mut self, pair: Pair<'_, Rule>) -> Node<Phase> {
        let span = self.span_of(&pair);
        let mut phase = Phase::default();
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::name => phase.id = self.parse_name(inner),
                Rule::text => phase.label = self.parse_text(inner),
                _ => {}
            }
        }
        Node::new(phase, span)
    }

    /// `transition_stmt`: `transition a -> b requires […] guard r`.
    fn parse_transition_stmt(&mut self, pair: Pair<'_, Rule>) -> Node<Transition> {
        let span = self.span_of(&pair);
        let mut transition = Transition::default();
        let mut seen = Seen::default();
        let mut names = 0;
        for inner in pair.into_inner() {
            let inner_span = self.span_of(&inner);
            match inner.as_rule() {
                Rule::name => {
                    let value = self.parse_name(inner);
                    if names == 0 {
                        transition.from = value;
                    } else {
                        transition.to = value;
                    }
                    names += 1;
                }
                Rule::requires_clause => {
                    let value = self.parse_requires_clause(inner);
                    let slot = &mut transition.requires;
                    self.set_list(&mut seen, "requires", "transition", inner_span, slot, value);
                }
                Rule::guard_clause => {
                    let value = self.parse_guard_clause(inner);
                    let slot = &mut transition.rule;
                    self.set(&mut seen, "guard", "transition", inner_span, slot, value);
                }
                Rule::approval_clause => {
                    let value = self.parse_approval_clause(inner);
                    let slot = &mut transition.approval;
                    self.set(&mut seen, "approval", "transition", inner_span, slot, value);
                }
                _ => {}
            }
        }
        Node::new(transition, span)
    }

    /// `requires_clause`: `requires [a, b]`.
    fn parse_requires_clause(&mut self, pair: Pair<'_, Rule>) -> Vec<Node<String>> {
        self.list_of(pair)
    }

    /// `guard_clause`: `guard rule_name`.
    fn parse_guard_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        self.name_of(pair)
    }

    /// `approval_clause`: `approval [client, admin]`; the node spans the list.
    fn parse_approval_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<Vec<Node<String>>>> {
        let mut value = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::list {
                let span = self.span_of(&inner);
                value = Some(Node::new(self.parse_list(inner), span));
            }
        }
        value
    }

    /// `evidence_block`: `evidence { required […] optional […] min_per_category N }`.
    fn parse_evidence_block(&mut self, pair: Pair<'_, Rule>, out: &mut Evidence) {
        let mut seen = Seen::default();
        for inner in pair.into_inner() {
            let span = self.span_of(&inner);
            match inner.as_rule() {
                Rule::required_setting => {
                    let value = self.parse_required_setting(inner);
                    let slot = &mut out.required_categories;
                    self.set_list(&mut seen, "required", "evidence", span, slot, value);
                }
                Rule::optional_setting => {
                    let value = self.parse_optional_setting(inner);
                    let slot = &mut out.optional_categories;
                    self.set_list(&mut seen, "optional", "evidence", span, slot, value);
                }
                Rule::min_per_category_setting => {
                    let value = self.parse_min_setting(inner);
                    let slot = &mut out.min_per_category;
                    self.set(&mut seen, "min_per_category", "evidence", span, slot, value);
                }
                _ => {}
            }
        }
    }

    /// `intake_block`: `intake { required […] optional […] min_photos N }`.
    fn parse_intake_block(&mut self, pair: Pair<'_, Rule>, out: &mut Intake) {
        let mut seen = Seen::default();
        for inner in pair.into_inner() {
            let span = self.span_of(&inner);
            match inner.as_rule() {
                Rule::required_setting => {
                    let value = self.parse_required_setting(inner);
                    let slot = &mut out.required;
                    self.set_list(&mut seen, "required", "intake", span, slot, value);
                }
                Rule::optional_setting => {
                    let value = self.parse_optional_setting(inner);
                    let slot = &mut out.optional;
                    self.set_list(&mut seen, "optional", "intake", span, slot, value);
                }
                Rule::min_photos_setting => {
                    let value = self.parse_min_setting(inner);
                    let slot = &mut out.min_photos;
                    self.set(&mut seen, "min_photos", "intake", span, slot, value);
                }
                Rule::sensitive_setting => {
                    let value = self.list_of(inner);
                    let slot = &mut out.sensitive;
                    self.set_list(&mut seen, "sensitive", "intake", span, slot, value);
                }
                _ => {}
            }
        }
    }

    /// `required_setting`: `required [a, b]`.
    fn parse_required_setting(&mut self, pair: Pair<'_, Rule>) -> Vec<Node<String>> {
        self.list_of(pair)
    }

    /// `optional_setting`: `optional [a, b]`.
    fn parse_optional_setting(&mut self, pair: Pair<'_, Rule>) -> Vec<Node<String>> {
        self.list_of(pair)
    }

    /// `min_per_category_setting` and `min_photos_setting`: a keyword and a whole number.
    fn parse_min_setting(&mut self, pair: Pair<'_, Rule>) -> Option<Node<i64>> {
        let mut value = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::int {
                value = self.parse_int(inner);
            }
        }
        value
    }

    /// `rule_stmt`: `rule name on … when … message …`.
    fn parse_rule_stmt(&mut self, pair: Pair<'_, Rule>) -> Node<RuleDef> {
        let span = self.span_of(&pair);
        let mut rule = RuleDef::default();
        let mut seen = Seen::default();
        for inner in pair.into_inner() {
            let inner_span = self.span_of(&inner);
            match inner.as_rule() {
                Rule::name => rule.name = self.parse_name(inner),
                Rule::on_clause => {
                    let value = self.parse_on_clause(inner);
                    self.set(&mut seen, "on", "rule", inner_span, &mut rule.on, value);
                }
                Rule::when_clause => {
                    let value = self.parse_when_clause(inner);
                    self.set(&mut seen, "when", "rule", inner_span, &mut rule.when, value);
                }
                Rule::message_clause => {
                    let value = self.parse_message_clause(inner);
                    let slot = &mut rule.message;
                    self.set(&mut seen, "message", "rule", inner_span, slot, value);
                }
                _ => {}
            }
        }
        Node::new(rule, span)
    }

    /// `on_clause`: `on advance`.
    fn parse_on_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        self.name_of(pair)
    }

    /// `when_clause`: ``when `expr` `` or `when "expr"`.
    fn parse_when_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let mut value = None;
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::code => value = Some(self.parse_code(inner)),
                Rule::text => {
                    // The span covers the expression only: the inside of the quotes.
                    value = self.parse_text(inner).map(|mut node| {
                        node.span = Span::new(
                            node.span.start.saturating_add(1),
                            node.span.end.saturating_sub(1).max(node.span.start),
                        );
                        node
                    });
                }
                _ => {}
            }
        }
        value
    }

    /// `message_clause`: `message "…"`.
    fn parse_message_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let mut value = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::text {
                value = self.parse_text(inner);
            }
        }
        value
    }

    /// `escalate_stmt`: `escalate phase after 24h signal name`.
    fn parse_escalate_stmt(&mut self, pair: Pair<'_, Rule>) -> Node<Escalation> {
        let span = self.span_of(&pair);
        let mut escalation = Escalation::default();
        let mut seen = Seen::default();
        for inner in pair.into_inner() {
            let inner_span = self.span_of(&inner);
            match inner.as_rule() {
                Rule::name => escalation.phase = self.parse_name(inner),
                Rule::after_clause => {
                    let value = self.parse_after_clause(inner);
                    let slot = &mut escalation.after;
                    self.set(&mut seen, "after", "escalate", inner_span, slot, value);
                }
                Rule::signal_clause => {
                    let value = self.parse_signal_clause(inner);
                    let slot = &mut escalation.signal;
                    self.set(&mut seen, "signal", "escalate", inner_span, slot, value);
                }
                _ => {}
            }
        }
        Node::new(escalation, span)
    }

    /// `after_clause`: `after 24h` or `after "…"`.
    fn parse_after_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let mut value = None;
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::duration => {
                    value = Some(Node::new(inner.as_str().to_owned(), self.span_of(&inner)));
                }
                Rule::text => value = self.parse_text(inner),
                _ => {}
            }
        }
        value
    }

    /// `signal_clause`: `signal name`.
    fn parse_signal_clause(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        self.name_of(pair)
    }

    /// `list`: `[a, b]`.
    fn parse_list(&mut self, pair: Pair<'_, Rule>) -> Vec<Node<String>> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::name)
            .filter_map(|p| self.parse_name(p))
            .collect()
    }

    /// `name`: a bare word or a quoted text.
    fn parse_name(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let mut value = None;
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::bare => value = Some(self.parse_bare(inner)),
                Rule::text => value = self.parse_text(inner),
                _ => {}
            }
        }
        value
    }

    /// `word`: like a name; its meaning is checked by the caller.
    fn parse_word(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        self.parse_name(pair)
    }

    /// `bare`: taken as written.
    fn parse_bare(&mut self, pair: Pair<'_, Rule>) -> Node<String> {
        Node::new(pair.as_str().to_owned(), self.span_of(&pair))
    }

    /// `int`: a whole number that fits the tree (`i64`), else `out_of_range`.
    fn parse_int(&mut self, pair: Pair<'_, Rule>) -> Option<Node<i64>> {
        let span = self.span_of(&pair);
        match pair.as_str().parse::<i64>() {
            Ok(n) => Some(Node::new(n, span)),
            Err(_) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::OutOfRange,
                        span,
                        format!("`{}` is too large a number", pair.as_str()),
                    )
                    .with_label("too large"),
                );
                None
            }
        }
    }

    /// `text`: the escapes decoded; the span covers the quotes.
    fn parse_text(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let span = self.span_of(&pair);
        let mut value = Some(String::new());
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::text_body {
                value = self.parse_text_body(inner);
            }
        }
        value.map(|v| Node::new(v, span))
    }

    /// `text_body`: decode `\"`, `\\`, `\n`, `\r`, `\t` and `\u{…}`.
    fn parse_text_body(&mut self, pair: Pair<'_, Rule>) -> Option<String> {
        let raw = pair.as_str();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((_, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next().map(|(_, e)| e) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let mut hex = String::new();
                    for (_, h) in chars.by_ref() {
                        match h {
                            '{' => {}
                            '}' => break,
                            h => hex.push(h),
                        }
                    }
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) => out.push(ch),
                        None => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::InvalidValue,
                                    self.span_of(&pair),
                                    format!("`\\u{{{hex}}}` is not a unicode character"),
                                )
                                .with_help(
                                    "write a code point up to `10FFFF`, surrogates excluded",
                                ),
                            );
                            return None;
                        }
                    }
                }
                // The grammar admits no other escape.
                _ => return None,
            }
        }
        Some(out)
    }

    /// `code`: the expression between the backticks, one padding space dropped at each end
    /// when both ends have one (as in Markdown); the span covers the expression only.
    fn parse_code(&mut self, pair: Pair<'_, Rule>) -> Node<String> {
        let mut body = Node::new(String::new(), self.span_of(&pair));
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::code_body {
                let text = inner.as_str();
                let span = self.span_of(&inner);
                body = match strip_code_padding(text) {
                    Some(stripped) => Node::new(
                        stripped.to_owned(),
                        Span::new(span.start + 1, span.end.saturating_sub(1)),
                    ),
                    None => Node::new(text.to_owned(), span),
                };
            }
        }
        body
    }

    /// The single name inside a clause (`guard x`, `on x`, `signal x`).
    fn name_of(&mut self, pair: Pair<'_, Rule>) -> Option<Node<String>> {
        let mut value = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::name {
                value = self.parse_name(inner);
            }
        }
        value
    }

    /// The list inside a clause (`requires […]`, `required […]`).
    fn list_of(&mut self, pair: Pair<'_, Rule>) -> Vec<Node<String>> {
        let mut value = Vec::new();
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::list {
                value = self.parse_list(inner);
            }
        }
        value
    }

    /// A keyword setting (`status active`): the word, checked against `accepted`.
    fn keyword_value<T>(
        &mut self,
        pair: Pair<'_, Rule>,
        key: &str,
        accepted: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<Node<T>> {
        let mut word = None;
        for inner in pair.into_inner() {
            if inner.as_rule() == Rule::word {
                word = self.parse_word(inner);
            }
        }
        let word = word?;
        match parse(&word.value) {
            Some(value) => Some(Node::new(value, word.span)),
            None => {
                let list = accepted
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        word.span,
                        format!("`{}` is not a valid `{key}`", word.value.escape_debug()),
                    )
                    .with_label(format!("expected one of {list}"))
                    .with_help(format!("`{key}` is one of {list}")),
                );
                None
            }
        }
    }

    /// Store `value` in `slot` unless `key` was already written in this block.
    fn set<T>(
        &mut self,
        seen: &mut Seen,
        key: &'static str,
        block: &str,
        span: Span,
        slot: &mut Option<Node<T>>,
        value: Option<Node<T>>,
    ) {
        if self.first_time(seen, key, block, span) {
            *slot = value;
        }
    }

    /// Store the list `value` in `slot` unless `key` was already written in this block.
    fn set_list(
        &mut self,
        seen: &mut Seen,
        key: &'static str,
        block: &str,
        span: Span,
        slot: &mut Vec<Node<String>>,
        value: Vec<Node<String>>,
    ) {
        if self.first_time(seen, key, block, span) {
            *slot = value;
        }
    }

    /// Record that `key` was written; `false` (and a `duplicate_key`) when it already was.
    fn first_time(&mut self, seen: &mut Seen, key: &'static str, block: &str, span: Span) -> bool {
        if seen.0.insert(key) {
            return true;
        }
        self.diags.push(
            Diagnostic::error(
                Code::DuplicateKey,
                span,
                format!("`{key}` is written twice in this `{block}`"),
            )
            .with_label("written again here")
            .with_help("keep one of them; the first one is used"),
        );
        false
    }

    /// A block that may appear once (`execution`, `phases`, `evidence`, `intake`).
    fn once(&mut self, seen: &mut Seen, key: &'static str, span: Span) {
        self.first_time(seen, key, "surface", span);
    }
}

/// `true` / `false`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The Markdown rule: when a code span's text both starts and ends with a space and is not
/// only spaces, one space is dropped at each end.
fn strip_code_padding(text: &str) -> Option<&str> {
    if text.len() >= 2 && text.starts_with(' ') && text.ends_with(' ') && text.trim() != "" {
        text.get(1..text.len() - 1)
    } else {
        None
    }
}

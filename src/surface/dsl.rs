//! The DSL front end: `.surface` text → [`Definition`] and diagnostics.
//!
//! The grammar lives in `grammar/surface.pest` (every rule documented there). [`parse`] runs
//! pest once, then converts the parse tree into the shared syntax tree at once, with one
//! `parse_*` function per grammar rule; no pest `Pair` leaves this module. Every node keeps its
//! span, and the `when` node's span covers the Rhai expression only, so the rule compiler can
//! point into it.
//!
//! Parsing never stops at a value problem: a keyword value outside its set (`status activ`)
//! is an `invalid_value` diagnostic, a key written twice in one block is `duplicate_key`, a
//! number too large for the tree is `out_of_range`, and the tree is still built. Only text the
//! grammar cannot read at all is a `dsl_syntax` diagnostic, with a human description of what
//! was expected. Missing keys (a rule without `when`, a phase without a label) and broken
//! references are left to the validator, which reports them for the tree whatever its form.
//! This module never panics, on any input, and does no I/O.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Once;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use crate::surface::ast::{
    ClaimPolicy, Definition, Escalation, Evidence, Execution, Header, Intake, Node, Operators,
    Ownership, PaymentTiming, Phase, RecordContainer, Rule as RuleDef, Span, SpanIgnored, Status,
    Transition,
};
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::limits::MAX_FILE_BYTES;
use crate::surface::toml::closest;

mod grammar {
    //! The pest parser generated from `grammar/surface.pest`.
    #![allow(
        missing_docs,
        reason = "pest_derive generates the `Rule` enum and its docs"
    )]

    /// The generated parser of `.surface` files.
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/surface.pest"]
    pub(super) struct SurfaceParser;
}

use grammar::{Rule, SurfaceParser};

/// The cumulative pest call budget per parse. The grammar is not recursive, so the budget
/// bounds work rather than depth: it is sized so that any file up to
/// [`MAX_FILE_BYTES`] parses, and nothing runs much longer than that would.
pub const CALL_LIMIT: usize = 64 * MAX_FILE_BYTES;

/// Parse a `.surface` file.
///
/// Returns the syntax tree and every diagnostic found while building it. On a syntax error
/// the first `dsl_syntax` diagnostic says where reading stopped and what was expected there;
/// reading goes on at the next statement ([`parse_recovering`]), so every statement with its
/// own syntax error adds one more, and the tree holds every statement that could be read.
pub fn parse(source: &str) -> (Definition, Vec<Diagnostic>) {
    let (def, diags, _) = parse_recovering(source);
    (def, diags)
}

/// What a parse could not read: the statements cut out after syntax errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unread {
    /// The keyword of each statement that did not parse (`phases`, `transition`, ...;
    /// `surface` for the header), or `*` when the statement could not be recognized.
    pub keywords: Vec<&'static str>,
}

impl Unread {
    /// Whether nothing was cut out.
    pub fn is_empty(&self) -> bool {
        self.keywords.is_empty()
    }

    /// Whether a statement starting with `keyword` (or one that could not be recognized)
    /// was cut out.
    pub fn lost(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|k| *k == keyword || *k == "*")
    }
}

/// The statement keywords, for cutting a broken file into statements.
const STATEMENT_KEYWORDS: &[&str] = &[
    "spec",
    "status",
    "execution",
    "phases",
    "transition",
    "evidence",
    "intake",
    "rule",
    "escalate",
];

/// The keywords that continue a statement on a new line (`rule x` ⏎ `on advance`).
const CLAUSE_KEYWORDS: &[&str] = &[
    "on", "when", "message", "requires", "guard", "approval", "after", "signal",
];

/// Parse a `.surface` file, reading on after syntax errors.
///
/// When the file parses, this is [`parse`]. When it does not, the first syntax error is
/// reported as usual, then the file is cut into its header and its statements (a statement
/// starts on a new line with a word that does not continue the one before) and each is read
/// on its own: every statement that parses is kept in the tree, every one that does not adds
/// its own `dsl_syntax` diagnostic and its keyword to the returned [`Unread`], so that the
/// validator can leave out what follows from the missing statements.
pub fn parse_recovering(source: &str) -> (Definition, Vec<Diagnostic>, Unread) {
    if source.len() > MAX_FILE_BYTES {
        let (def, diags) = too_large(source);
        return (def, diags, Unread::default());
    }
    install_call_limit();
    match SurfaceParser::parse(Rule::file, source) {
        Ok(pairs) => {
            let mut cx = Cx::default();
            let mut def = Definition::default();
            for pair in pairs {
                if pair.as_rule() == Rule::file {
                    def = cx.parse_file(pair);
                }
            }
            (def, cx.diags, Unread::default())
        }
        Err(error) => recover(source, syntax_diagnostic(source, error)),
    }
}

/// The one diagnostic of a file over the size limit.
fn too_large(source: &str) -> (Definition, Vec<Diagnostic>) {
    let diag = Diagnostic::error(
        Code::FileTooLarge,
        Span::new(0, 0),
        format!(
            "the file is {} bytes long; at most {MAX_FILE_BYTES} are allowed",
            source.len()
        ),
    );
    (Definition::default(), vec![diag])
}

/// Statements with syntax errors read before recovery gives up (the rest of the file then
/// counts as unread): bounds the work on hostile input.
const MAX_RECOVERED_ERRORS: usize = 64;

/// Read the header and each statement of a file that does not parse as a whole, after
/// `first` (the whole file's syntax error).
fn recover(source: &str, first: Diagnostic) -> (Definition, Vec<Diagnostic>, Unread) {
    let layout = split(source);
    let mut cx = Cx::default();
    let mut def = Definition::default();
    let mut seen = Seen::default();
    let mut unread = Unread::default();
    let mut errors = vec![first.clone()];
    let at = first.span.start;
    let mut failures = 0_usize;
    let mut parts = vec![(layout.header.clone(), Rule::header_item)];
    parts.extend(
        layout
            .items
            .iter()
            .map(|r| (r.clone(), Rule::statement_item)),
    );
    for (range, rule) in parts {
        let Some(text) = source.get(range.clone()) else {
            continue;
        };
        match SurfaceParser::parse(rule, text) {
            Ok(pairs) => {
                cx.offset = range.start;
                for item in pairs {
                    for inner in item.into_inner() {
                        cx.parse_statement(&mut def, &mut seen, inner);
                    }
                }
            }
            Err(_) if failures >= MAX_RECOVERED_ERRORS => {
                // Enough: the rest counts as unread, whatever it says.
                unread.keywords.push("*");
                break;
            }
            Err(error) => {
                failures += 1;
                unread.keywords.push(if rule == Rule::header_item {
                    "surface"
                } else {
                    keyword_at(text)
                });
                // The whole file's error already stands for the part it falls in.
                if range.start <= at && at <= range.end {
                    continue;
                }
                let mut diag = syntax_diagnostic(text, error);
                diag.span = Span::new(diag.span.start + range.start, diag.span.end + range.start);
                errors.push(diag);
            }
        }
    }
    errors.append(&mut cx.diags);
    (def, errors, unread)
}

/// The statement keyword `text` starts with (after spaces and comments): itself, the one it
/// is a misspelling of, or `*`.
fn keyword_at(text: &str) -> &'static str {
    let word: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    STATEMENT_KEYWORDS
        .iter()
        .find(|k| **k == word)
        .copied()
        .or_else(|| closest(&word, STATEMENT_KEYWORDS))
        .unwrap_or("*")
}

/// Where a file's header and statements are, found without the grammar.
struct Layout {
    /// From the start of the file through the `{` that opens the surface block (the whole
    /// file when there is none).
    header: std::ops::Range<usize>,
    /// Each stretch of statements: from a line that starts a statement to the next one, the
    /// last up to the `}` that closes the surface block; then what follows that `}`.
    items: Vec<std::ops::Range<usize>>,
}

/// Cut `source` into its header and statements. A statement starts on a new line, inside
/// the surface block and outside any list, with a word that is not a clause keyword
/// (`on`, `when`, ...); inside a nested block, only a statement keyword starts one (a block
/// left open ends there). Texts, code spans and comments are skipped.
fn split(source: &str) -> Layout {
    let mut header_end: Option<usize> = None;
    let mut items = Vec::new();
    let mut item_start: Option<usize> = None;
    let (mut depth, mut brackets) = (0_usize, 0_usize);
    let mut line_start = true;
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => {
                line_start = true;
                continue;
            }
            ' ' | '\t' | '\r' => continue,
            '#' => {
                while chars.next_if(|(_, c)| *c != '\n').is_some() {}
                continue;
            }
            '"' => {
                while let Some((_, c)) = chars.next_if(|(_, c)| *c != '\n') {
                    if c == '\\' {
                        chars.next_if(|(_, c)| *c != '\n');
                    } else if c == '"' {
                        break;
                    }
                }
            }
            '`' => {
                let mut run = 1;
                while chars.next_if(|(_, c)| *c == '`').is_some() {
                    run += 1;
                }
                let mut seen = 0;
                for (_, c) in chars.by_ref() {
                    seen = if c == '`' { seen + 1 } else { 0 };
                    if seen == run {
                        break;
                    }
                }
            }
            '{' => {
                depth += 1;
                if header_end.is_none() && depth == 1 {
                    header_end = Some(i + 1);
                    item_start = Some(i + 1);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && header_end.is_some() {
                    if let Some(start) = item_start.take() {
                        items.push(start..i);
                    }
                    // What follows the surface block is read as one more stretch.
                    items.push(i + 1..source.len());
                    break;
                }
            }
            '[' => brackets += 1,
            ']' => brackets = brackets.saturating_sub(1),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some((j, c)) =
                    chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                {
                    end = j + c.len_utf8();
                }
                let word = source.get(i..end).unwrap_or("");
                let starts = line_start
                    && header_end.is_some()
                    && brackets == 0
                    && ((depth == 1 && !CLAUSE_KEYWORDS.contains(&word))
                        || (depth > 1 && STATEMENT_KEYWORDS.contains(&word)));
                if starts {
                    depth = 1;
                    if let Some(start) = item_start.replace(i) {
                        items.push(start..i);
                    }
                }
            }
            _ => {}
        }
        line_start = false;
    }
    if let Some(start) = item_start {
        items.push(start..source.len());
    }
    Layout {
        header: 0..header_end.unwrap_or(source.len()),
        items,
    }
}

/// Whether `text` can be written as a bare word (unquoted) wherever the DSL takes a name.
pub fn is_bare_word(text: &str) -> bool {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !text.contains("->")
}

/// Whether `text` can be written as a bare duration (`24h`) after `after`.
pub fn is_bare_duration(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && text
            .get(digits..)
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphabetic()))
}

fn install_call_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| pest::set_call_limit(NonZeroUsize::new(CALL_LIMIT)));
}

/// The human name of each grammar rule, used in "expected …" messages.
fn human_rule(rule: &Rule) -> String {
    let name = match rule {
        Rule::EOI => "the end of the file",
        Rule::WHITESPACE => "a space",
        Rule::COMMENT => "a comment",
        Rule::file => "a surface file",
        Rule::statement_item => "statements",
        Rule::header_item => "the surface header and its `{`",
        Rule::surface => "a `surface` block",
        Rule::header => "`surface <slug> v<version> \"<name>\"`",
        Rule::version => "a version such as `v1`",
        Rule::statement => "a statement",
        Rule::spec_stmt => "`spec`",
        Rule::status_stmt => "`status`",
        Rule::execution_block => "`execution`",
        Rule::execution_setting => "an execution key",
        Rule::claim_setting | Rule::kw_claim => "`claim`",
        Rule::ownership_setting | Rule::kw_ownership => "`ownership`",
        Rule::record_setting | Rule::kw_record => "`record`",
        Rule::payment_setting | Rule::kw_payment_timing => "`payment_timing`",
        Rule::visible_setting | Rule::kw_completed_visible => "`completed_visible`",
        Rule::operators_setting | Rule::kw_operators => "`operators`",
        Rule::phases_block => "`phases`",
        Rule::phase => "a phase (`id \"Label\"`)",
        Rule::transition_stmt => "`transition`",
        Rule::transition_clause => "`requires`, `guard` or `approval`",
        Rule::requires_clause | Rule::kw_requires => "`requires`",
        Rule::guard_clause | Rule::kw_guard => "`guard`",
        Rule::approval_clause | Rule::kw_approval => "`approval`",
        Rule::evidence_block => "`evidence`",
        Rule::evidence_setting => "an evidence key",
        Rule::intake_block => "`intake`",
        Rule::intake_setting => "an intake key",
        Rule::required_setting | Rule::kw_required => "`required`",
        Rule::optional_setting | Rule::kw_optional => "`optional`",
        Rule::min_per_category_setting | Rule::kw_min_per_category => "`min_per_category`",
        Rule::min_photos_setting | Rule::kw_min_photos => "`min_photos`",
        Rule::sensitive_setting | Rule::kw_sensitive => "`sensitive`",
        Rule::rule_stmt => "`rule`",
        Rule::rule_clause => "`on`, `when` or `message`",
        Rule::on_clause | Rule::kw_on => "`on`",
        Rule::when_clause | Rule::kw_when => "`when`",
        Rule::message_clause | Rule::kw_message => "`message`",
        Rule::escalate_stmt => "`escalate`",
        Rule::escalate_clause => "`after` or `signal`",
        Rule::after_clause | Rule::kw_after => "`after`",
        Rule::signal_clause | Rule::kw_signal => "`signal`",
        Rule::list => "a list such as `[a, b]`",
        Rule::name => "a name",
        Rule::bare => "a bare name",
        Rule::word => "a word",
        Rule::duration => "a duration such as `24h`",
        Rule::int => "a whole number",
        Rule::text => "a quoted text",
        Rule::text_body => "text",
        Rule::text_char => "a character",
        Rule::escape => "an escape (`\\\"`, `\\\\`, `\\n`, `\\r`, `\\t` or `\\u{…}`)",
        Rule::code => "a Rhai expression in backticks",
        Rule::backticks => "a backtick",
        Rule::code_body => "the closing backticks",
        Rule::name_char => "a letter, digit, `_` or `-`",
        Rule::arrow => "`->`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::comma => "`,`",
        Rule::kw_surface => "`surface`",
        Rule::kw_spec => "`spec`",
        Rule::kw_status => "`status`",
        Rule::kw_execution => "`execution`",
        Rule::kw_phases => "`phases`",
        Rule::kw_transition => "`transition`",
        Rule::kw_evidence => "`evidence`",
        Rule::kw_intake => "`intake`",
        Rule::kw_rule => "`rule`",
        Rule::kw_escalate => "`escalate`",
    };
    name.to_owned()
}

/// The keyword a statement, setting or clause starts with, for "did you mean" hints.
fn keyword_of(rule: &Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::spec_stmt | Rule::kw_spec => "spec",
        Rule::status_stmt | Rule::kw_status => "status",
        Rule::execution_block | Rule::kw_execution => "execution",
        Rule::phases_block | Rule::kw_phases => "phases",
        Rule::transition_stmt | Rule::kw_transition => "transition",
        Rule::evidence_block | Rule::kw_evidence => "evidence",
        Rule::intake_block | Rule::kw_intake => "intake",
        Rule::rule_stmt | Rule::kw_rule => "rule",
        Rule::escalate_stmt | Rule::kw_escalate => "escalate",
        Rule::claim_setting | Rule::kw_claim => "claim",
        Rule::ownership_setting | Rule::kw_ownership => "ownership",
        Rule::record_setting | Rule::kw_record => "record",
        Rule::payment_setting | Rule::kw_payment_timing => "payment_timing",
        Rule::visible_setting | Rule::kw_completed_visible => "completed_visible",
        Rule::operators_setting | Rule::kw_operators => "operators",
        Rule::requires_clause | Rule::kw_requires => "requires",
        Rule::guard_clause | Rule::kw_guard => "guard",
        Rule::approval_clause | Rule::kw_approval => "approval",
        Rule::required_setting | Rule::kw_required => "required",
        Rule::optional_setting | Rule::kw_optional => "optional",
        Rule::min_per_category_setting | Rule::kw_min_per_category => "min_per_category",
        Rule::min_photos_setting | Rule::kw_min_photos => "min_photos",
        Rule::sensitive_setting | Rule::kw_sensitive => "sensitive",
        Rule::on_clause | Rule::kw_on => "on",
        Rule::when_clause | Rule::kw_when => "when",
        Rule::message_clause | Rule::kw_message => "message",
        Rule::after_clause | Rule::kw_after => "after",
        Rule::signal_clause | Rule::kw_signal => "signal",
        Rule::kw_surface => "surface",
        _ => return None,
    })
}

/// Turn a pest error into one `dsl_syntax` diagnostic at the place reading stopped.
fn syntax_diagnostic(source: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    let start = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let start = start.min(source.len());
    let found = found_token(source, start);
    let suggestion = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let keywords: Vec<&str> = positives.iter().filter_map(keyword_of).collect();
            let word = source.get(start..start + found.len).unwrap_or("");
            closest(word, &keywords).filter(|k| *k != word)
        }
        ErrorVariant::CustomError { .. } => None,
    };
    let renamed = error.renamed_rules(human_rule);
    let expected = match renamed.variant {
        ErrorVariant::CustomError { message } => message,
        ErrorVariant::ParsingError { .. } => String::from("unexpected input"),
    };
    let message = if expected.ends_with("limit reached") {
        format!("the file is too complex to read ({expected})")
    } else {
        format!("{expected}, found {}", found.describe)
    };
    let mut diag = Diagnostic::error(
        Code::DslSyntax,
        Span::new(start, start + found.len),
        message,
    )
    .with_label(String::from("not expected here"));
    if let Some(keyword) = suggestion {
        diag = diag.with_help(format!("did you mean `{keyword}`?"));
    } else if let Some(help) = syntax_help(source, start) {
        diag = diag.with_help(help);
    }
    diag
}

/// What stands at `offset`, for "found …" in syntax messages.
struct Found {
    describe: String,
    len: usize,
}

fn found_token(source: &str, offset: usize) -> Found {
    let rest = source.get(offset..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return Found {
            describe: String::from("the end of the file"),
            len: 0,
        };
    };
    if first == '`' {
        return Found {
            describe: String::from("a backtick"),
            len: 1,
        };
    }
    if first == '\n' || first == '\r' {
        return Found {
            describe: String::from("the end of the line"),
            len: 0,
        };
    }
    let word_len: usize = if first.is_alphanumeric() || first == '_' {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .take(40)
            .map(char::len_utf8)
            .sum()
    } else {
        first.len_utf8()
    };
    let token = rest.get(..word_len).unwrap_or("");
    let shown: String = token
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Found {
        describe: format!("`{shown}`"),
        len: word_len,
    }
}

/// A hint for the common mistakes, judged from the text where reading stopped.
fn syntax_help(source: &str, offset: usize) -> Option<String> {
    let rest = source.get(offset..).unwrap_or("");
    let before = source.get(..offset).unwrap_or("");
    if rest.starts_with('=') {
        return Some(String::from(
            "the DSL writes a key and its value side by side, without `=` (e.g. `claim required`)",
        ));
    }
    if rest.is_empty() && before.matches('{').count() > before.matches('}').count() {
        return Some(String::from("a block is not closed: add the missing `}`"));
    }
    if rest.starts_with('`') {
        return Some(String::from(
            "this Rhai expression is not closed: end it with the same backticks that opened it",
        ));
    }
    if before.trim().is_empty() && rest.starts_with('[') {
        return Some(String::from(
            "this looks like the TOML form: name the file `.toml`, or write the DSL \
             (`surface <slug> v<version> \"<name>\" { … }`)",
        ));
    }
    if rest.starts_with('"') {
        let line = rest.get(1..).unwrap_or("").lines().next().unwrap_or("");
        if !line.contains('"') {
            return Some(String::from(
                "this text is not closed: end it with `\"` on the same line (write a line \
                 break inside a text as `\\n`)",
            ));
        }
    }
    if rest.starts_with('\'') {
        return Some(String::from(
            "texts are written in double quotes, and Rhai expressions in backticks",
        ));
    }
    None
}

/// The conversion context: the diagnostics found so far, and where the text being converted
/// starts in the file (not 0 only while recovering from a syntax error, when each statement
/// is parsed on its own).
#[derive(Default)]
struct Cx {
    diags: Vec<Diagnostic>,
    offset: usize,
}

/// Keys already written in one block, for `duplicate_key`.
#[derive(Default)]
struct Seen(HashSet<&'static str>);

impl Cx {
    /// The span of `pair` in the file: pest's offsets plus where the parsed text starts.
    fn span_of(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.offset + s.start(), self.offset + s.end())
    }

    /// `file`: the one `surface` block.
    fn parse_file(&mut self, pair: Pair<'_, Rule>) -> Definition {
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
    fn parse_statement(&mut self, def: &mut Definition, seen: &mut Seen, inner: Pair<'_, Rule>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
# a comment
surface demo v2 "Demo" {
  spec "s"
  status paused
  execution { claim optional ownership open record service_event payment_timing prepaid completed_visible false }
  phases {
    queued "Queued"
    claimed "Claimed"
    done "Done"
  }
  transition queued -> claimed
  transition claimed->done requires [photo, "odd name",] guard ok
  evidence { required [photo] optional ["odd name"] min_per_category 2 }
  intake { required [contact] optional [] min_photos 1 }
  rule ok on transition when `case.evidence.photo >= 1` message "need a \"photo\"\n"
  escalate claimed after 24h signal stale
}
"#;

    #[test]
    fn parses_every_key() {
        let (def, diags) = parse(SMALL);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(def.surface.slug.as_ref().unwrap().value, "demo");
        assert_eq!(def.surface.version.as_ref().unwrap().value, 2);
        assert_eq!(def.surface.status.as_ref().unwrap().value, Status::Paused);
        assert_eq!(def.execution.claim.unwrap().value, ClaimPolicy::Optional);
        assert!(!def.execution.completed_visible.unwrap().value);
        assert_eq!(def.phases.len(), 3);
        assert_eq!(def.transitions.len(), 2);
        let t = &def.transitions[1].value;
        assert_eq!(t.requires.len(), 2);
        assert_eq!(t.requires[1].value, "odd name");
        assert_eq!(t.rule.as_ref().unwrap().value, "ok");
        assert_eq!(def.evidence.min_per_category.unwrap().value, 2);
        assert_eq!(def.intake.min_photos.unwrap().value, 1);
        let rule = &def.rules[0].value;
        assert_eq!(rule.message.as_ref().unwrap().value, "need a \"photo\"\n");
        let when = rule.when.as_ref().unwrap();
        assert_eq!(when.value, "case.evidence.photo >= 1");
        assert_eq!(&SMALL[when.span.start..when.span.end], when.value);
        assert_eq!(
            def.escalations[0].value.after.as_ref().unwrap().value,
            "24h"
        );
    }

    #[test]
    fn bad_keyword_is_invalid_value_not_a_stop() {
        let src = SMALL.replace("status paused", "status paused_ish");
        let (def, diags) = parse(&src);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::InvalidValue);
        assert_eq!(&src[diags[0].span.start..diags[0].span.end], "paused_ish");
        assert!(def.surface.status.is_none());
        assert_eq!(def.phases.len(), 3);
    }

    #[test]
    fn duplicate_key_is_reported() {
        let src = SMALL.replace("claim optional", "claim optional claim required");
        let (def, diags) = parse(&src);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::DuplicateKey);
        assert_eq!(def.execution.claim.unwrap().value, ClaimPolicy::Optional);
    }

    #[test]
    fn syntax_error_points_at_the_token() {
        let src = SMALL.replace(
            "transition queued -> claimed",
            "transition queued => claimed",
        );
        let (_, diags) = parse(&src);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::DslSyntax);
        let at = src.find("=> claimed").unwrap();
        assert_eq!(diags[0].span.start, at);
        assert!(diags[0].message.contains("`->`"), "{}", diags[0].message);
    }

    #[test]
    fn code_spans_with_backticks() {
        let src = SMALL.replace("`case.evidence.photo >= 1`", "`` `a` + \"`\" == x ``");
        let (def, diags) = parse(&src);
        assert!(diags.is_empty(), "{diags:?}");
        let when = def.rules[0].value.when.clone().unwrap();
        assert_eq!(when.value, "`a` + \"`\" == x");
        assert_eq!(&src[when.span.start..when.span.end], when.value);
    }

    #[test]
    fn large_files_stay_within_the_call_limit() {
        let mut src = String::from("surface big v1 \"Big\" {\n  spec \"s\"\n  phases {\n");
        for i in 0..10_000 {
            src.push_str(&format!("    p{i} \"Phase {i}\"\n"));
        }
        src.push_str("  }\n");
        for i in 0..9_999 {
            src.push_str(&format!(
                "  transition p{i} -> p{} requires [a] guard r\n",
                i + 1
            ));
        }
        src.push_str("}\n");
        let (def, diags) = parse(&src);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(def.phases.len(), 10_000);

        // A file of the largest size, mostly one comment and one long text.
        let filler = MAX_FILE_BYTES / 2 - 100;
        let big = format!(
            "# {}\nsurface a v1 \"{}\" {{ }}\n",
            "x".repeat(filler),
            "y".repeat(filler)
        );
        assert!(big.len() <= MAX_FILE_BYTES);
        let (def, diags) = parse(&big);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(def.surface.name.unwrap().value.len(), filler);
    }

    #[test]
    fn reading_goes_on_after_a_syntax_error() {
        let src = SMALL
            .replace(
                "transition queued -> claimed",
                "transition queued => claimed",
            )
            .replace("intake { required", "intake { requird");
        let (def, diags, unread) = parse_recovering(&src);
        let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::DslSyntax, Code::DslSyntax]);
        assert_eq!(unread.keywords, vec!["transition", "intake"]);
        assert_eq!(def.phases.len(), 3);
        assert_eq!(def.transitions.len(), 1);
        assert_eq!(def.rules.len(), 1);
        let when = def.rules[0].value.when.as_ref().unwrap();
        assert_eq!(&src[when.span.start..when.span.end], when.value);
        assert_eq!(def.surface.slug.as_ref().unwrap().value, "demo");
    }

    #[test]
    fn recovery_is_bounded_on_hostile_input() {
        let mut src = String::from("surface x v1 \"X\" {\n");
        for _ in 0..100_000 {
            src.push_str("  x =\n");
        }
        src.push('}');
        let start = std::time::Instant::now();
        let (_, diags, unread) = parse_recovering(&src);
        assert!(diags.len() <= MAX_RECOVERED_ERRORS + 1);
        assert!(unread.lost("anything"));
        assert!(start.elapsed().as_secs() < 20);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for src in [
            "",
            "surface",
            "surface x v1 \"a",
            "surface x v99999999999999999999999 \"a\" {}",
            "surface x v1 \"\\u{D800}\" {}",
            "surface x v1 \"a\" { rule r when ``` x",
            "\u{0}\u{feff}surface",
            "surface x v1 \"a\" { phases { a \"b\" } } trailing",
        ] {
            let _ = parse(src);
        }
        let deep = "[".repeat(100_000);
        let _ = parse(&deep);
    }
}

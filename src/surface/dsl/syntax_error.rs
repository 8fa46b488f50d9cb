//! Syntax errors: a pest error turned into one `dsl_syntax` diagnostic, with the human name
//! of every grammar rule, what was found, and a hint for the common mistakes.

use pest::error::{ErrorVariant, InputLocation};

use super::grammar::Rule;
use crate::diagnostic::toml::closest;
use crate::surface::ast::Span;
use crate::surface::diagnostic::{Code, Diagnostic};

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
pub(super) fn syntax_diagnostic(source: &str, error: pest::error::Error<Rule>) -> Diagnostic {
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

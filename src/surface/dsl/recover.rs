//! Reading on after a syntax error: the file cut into its header and statements without the
//! grammar, each statement parsed on its own, and what could not be read.

use pest::Parser as _;

use super::Unread;
use super::convert::{Cx, Seen};
use super::grammar::{Rule, SurfaceParser};
use super::syntax_error::syntax_diagnostic;
use crate::diagnostic::toml::closest;
use crate::surface::ast::{Definition, Span};
use crate::surface::diagnostic::Diagnostic;

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

/// Statements with syntax errors read before recovery gives up (the rest of the file then
/// counts as unread): bounds the work on hostile input.
pub(super) const MAX_RECOVERED_ERRORS: usize = 64;

/// Read the header and each statement of a file that does not parse as a whole, after
/// `first` (the whole file's syntax error).
pub(super) fn recover(source: &str, first: Diagnostic) -> (Definition, Vec<Diagnostic>, Unread) {
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

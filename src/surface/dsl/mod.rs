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
//!
//! This file holds the entry points; `convert` turns the parse tree into the syntax tree (one
//! `parse_*` per grammar rule), `syntax_error` turns a pest error into a readable `dsl_syntax`
//! diagnostic, and `recover` cuts a file that does not parse into statements read one by one.

use std::num::NonZeroUsize;
use std::sync::Once;

use pest::Parser as _;

use crate::surface::ast::{Definition, Span};
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::limits::MAX_FILE_BYTES;

mod convert;
mod recover;
mod syntax_error;

use convert::Cx;
use recover::recover;
use syntax_error::syntax_diagnostic;

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

#[cfg(test)]
mod tests;

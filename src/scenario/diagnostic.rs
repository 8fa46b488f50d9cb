//! Diagnostics for scenario files: what is wrong, where, and what to do about it.
//!
//! A scenario file is checked as a whole before anything runs: every problem becomes a
//! [`Diagnostic`] with a stable [`Code`], a lowercase message without a trailing period (user
//! input in backticks), the [`Span`] it is about and an optional help sentence. The shape is the
//! one surface files use (`crate::surface::Diagnostic`); the codes are the scenario file's own,
//! because a scenario names principals, commands, times and expectations that a surface never
//! does. [`render_text`] prints them like rustc; [`to_json`] gives them to tools.

use std::fmt;
use std::fmt::Write as _;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::surface::Span;
use crate::surface::diagnostic::line_col;
use crate::surface::render::clamp;

macro_rules! codes {
    ($($(#[$m:meta])* $variant:ident = $text:literal,)+) => {
        /// A stable scenario diagnostic code. The text form never changes once shipped.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$m])* $variant,)+
        }

        impl Code {
            /// Every code.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            /// The stable text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)+
                }
            }
        }
    };
}

codes! {
    /// The file cannot be read.
    Io = "io",
    /// The file is larger than a scenario file may be.
    FileTooLarge = "file_too_large",
    /// The TOML does not parse.
    TomlSyntax = "toml_syntax",
    /// A key that scenario files do not have.
    UnknownKey = "unknown_key",
    /// A key that is required is missing.
    MissingKey = "missing_key",
    /// A value of the wrong type.
    WrongType = "wrong_type",
    /// A value outside its accepted set, or empty where text is required.
    InvalidValue = "invalid_value",
    /// A step's `as` that is not a key of `[principals]`.
    UnknownPrincipal = "unknown_principal",
    /// A role that CONTRACT.md §2 does not have.
    UnknownRole = "unknown_role",
    /// A step's `command` that is neither a command of CONTRACT.md §2 nor `tick`.
    UnknownCommand = "unknown_command",
    /// A `start` or `at` that is neither `+N` with a unit nor an RFC 3339 time, or that moves
    /// the clock backwards.
    InvalidTime = "invalid_time",
    /// An `expect` that is not `applied`, `duplicate`, `rejected` or `rejected:<code>`.
    InvalidExpect = "invalid_expect",
    /// An `expect = "rejected:<code>"` whose code is not a rejection code of CONTRACT.md §3.
    UnknownRejectionCode = "unknown_rejection_code",
    /// A `surfaces` entry that does not exist.
    SurfaceNotFound = "surface_not_found",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem in a scenario file. Always an error: a scenario with problems does not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Lowercase, no trailing period, user input in backticks.
    pub message: String,
    /// Where.
    pub span: Span,
    /// A short label printed under the span.
    pub label: Option<String>,
    /// An extra sentence on what to do.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem with `code` at `span`.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    /// Add a label under the span.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Add a help sentence.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A scenario file's name (as the user wrote it) and its text, for rendering diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The path as given on the command line (or any name).
    pub name: String,
    /// The file's text.
    pub text: String,
}

impl Source {
    /// A source named `name` holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// `name:line:col` of byte `offset`.
    pub fn location(&self, offset: usize) -> String {
        let (line, col) = line_col(&self.text, offset);
        format!("{}:{line}:{col}", self.name)
    }
}

/// Render `diags` for a terminal, as `planck check` renders surface diagnostics: an
/// `error[code]` header, the message, the excerpt under a `file:line:col` title with the span
/// underlined and labelled, then the help. `color` adds ANSI styles.
pub fn render_text(source: &Source, diags: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(100);
    let named = NamedSource::new(source.name.clone(), source.text.clone());
    let mut out = String::new();
    for diag in diags {
        let report = Report {
            diag,
            span: clamp(&source.text, diag.span),
            source: &named,
        };
        if handler.render_report(&mut out, &report).is_err() {
            let _ = writeln!(
                out,
                "error[{}]: {} ({})",
                diag.code,
                diag.message,
                source.location(report.span.start)
            );
        }
    }
    out
}

/// One diagnostic seen through miette's protocol.
struct Report<'a> {
    diag: &'a Diagnostic,
    span: Span,
    source: &'a NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!("error[{}]", self.diag.code)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Error)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = LabeledSpan::new_primary_with_span(
            self.diag.label.clone(),
            self.span.start..self.span.end,
        );
        Some(Box::new(std::iter::once(label)))
    }
}

/// `diags` as JSON: one object per problem with `file`, `line`, `column`, `code`, `message`,
/// `label` and `help`.
pub fn to_json(source: &Source, diags: &[Diagnostic]) -> Value {
    Value::Array(
        diags
            .iter()
            .map(|d| {
                let (line, column) = line_col(&source.text, d.span.start);
                json!({
                    "file": source.name,
                    "line": line,
                    "column": column,
                    "severity": "error",
                    "code": d.code,
                    "message": d.message,
                    "label": d.label,
                    "help": d.help,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_and_underline() {
        let src = Source::new("s.toml", "name = \"x\"\nas = \"bob\"\n");
        let d = Diagnostic::new(
            Code::UnknownPrincipal,
            Span::new(16, 21),
            "unknown principal `bob`",
        )
        .with_label("not a key of `[principals]`")
        .with_help("did you mean `lee`?");
        let text = render_text(&src, std::slice::from_ref(&d), false);
        assert!(text.contains("error[unknown_principal]"), "{text}");
        assert!(text.contains("unknown principal `bob`"), "{text}");
        assert!(text.contains("s.toml:2:6"), "{text}");
        assert!(text.contains("as = \"bob\""), "{text}");
        assert!(text.contains("not a key of `[principals]`"), "{text}");
        assert!(text.contains("did you mean `lee`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        let json = to_json(&src, &[d]);
        assert_eq!(json[0]["line"], 2);
        assert_eq!(json[0]["column"], 6);
        assert_eq!(json[0]["code"], "unknown_principal");
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()));
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
        }
    }
}

//! Rendering diagnostics for people (rustc-like terminal output) and for tools (JSON).
//!
//! [`render_terminal`] hands each [`Diagnostic`] to miette's `GraphicalReportHandler`, with or
//! without color: a `error[code]` header, the message, the source excerpt under a
//! `file:line:col` title with the span underlined and labelled, and the help line.
//! [`to_json`] gives the same facts as plain data, with 1-based lines and columns computed by
//! [`line_col`].
//!
//! Rendering only formats: it never decides what is wrong, never writes to a terminal itself
//! (callers print the returned text) and never panics on a span that does not fit the text
//! (spans are clamped to the text and to character boundaries).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde_json::{Value, json};

use crate::surface::ast::Span;
use crate::surface::diagnostic::{Diagnostic, Severity, line_col};
use crate::surface::load::SourceFile;

/// Width the terminal rendering wraps at.
const WIDTH: usize = 100;

/// Render `diags` about `file` like rustc does, one report after the other.
///
/// With `color`, ANSI styles are used; without, the output is plain text (Unicode box
/// drawing, no escape codes), suitable for logs and snapshot tests.
pub fn render_terminal(file: &SourceFile, diags: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(WIDTH);
    let source = NamedSource::new(file.path.display().to_string(), file.text.clone());
    let mut out = String::new();
    for diag in diags {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        let report = Report {
            diag,
            span: clamp(&file.text, diag.span),
            source: &source,
        };
        if handler.render_report(&mut out, &report).is_err() {
            // Formatting into a String only fails if a Display impl does; fall back to one
            // plain line so the diagnostic is never lost.
            let (line, column) = line_col(&file.text, report.span.start);
            out.push_str(&format!(
                "{}[{}]: {} ({}:{line}:{column})\n",
                severity_word(diag.severity),
                diag.code,
                diag.message,
                file.path.display()
            ));
        }
    }
    out
}

/// The diagnostics as a JSON array, one object per diagnostic with `file`, `line`, `column`,
/// `end_line`, `end_column` (1-based; columns count characters), `code`, `severity`
/// (`error` or `warning`), `message` and `help` (`null` when there is none).
pub fn to_json(file: &SourceFile, diags: &[Diagnostic]) -> Value {
    let path = file.path.display().to_string();
    Value::Array(
        diags
            .iter()
            .map(|d| {
                let span = clamp(&file.text, d.span);
                let (line, column) = line_col(&file.text, span.start);
                let (end_line, end_column) = line_col(&file.text, span.end);
                json!({
                    "file": path,
                    "line": line,
                    "column": column,
                    "end_line": end_line,
                    "end_column": end_column,
                    "code": d.code.as_str(),
                    "severity": severity_word(d.severity),
                    "message": d.message,
                    "help": d.help,
                })
            })
            .collect(),
    )
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `span` moved inside `text` and onto character boundaries, so rendering never panics.
/// Shared with the scenario-file renderer.
pub(crate) fn clamp(text: &str, span: Span) -> Span {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while i > 0 && !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    let end = floor(span.end).max(start);
    Span::new(start, end)
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
        Some(Box::new(format!(
            "{}[{}]",
            severity_word(self.diag.severity),
            self.diag.code
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::diagnostic::Code;
    use crate::surface::load::Format;

    fn file() -> SourceFile {
        SourceFile::from_text(
            "surfaces/demo.toml",
            "[surface]\nslgu = \"démo\"\n",
            Format::Toml,
        )
    }

    fn diag() -> Diagnostic {
        Diagnostic::error(
            Code::UnknownKey,
            Span::new(10, 14),
            "unknown key `slgu` in `[surface]`",
        )
        .with_label("not a key of `[surface]`")
        .with_help("did you mean `slug`?")
    }

    #[test]
    fn terminal_output_shows_code_position_label_and_help() {
        let out = render_terminal(&file(), &[diag()], false);
        assert!(out.contains("error[unknown_key]"), "{out}");
        assert!(out.contains("surfaces/demo.toml:2:1"), "{out}");
        assert!(out.contains("unknown key `slgu` in `[surface]`"), "{out}");
        assert!(out.contains("not a key of `[surface]`"), "{out}");
        assert!(out.contains("did you mean `slug`?"), "{out}");
        assert!(!out.contains('\u{1b}'), "no escape codes without color");
        let colored = render_terminal(&file(), &[diag()], true);
        assert!(colored.contains('\u{1b}'));
    }

    #[test]
    fn spans_out_of_range_or_inside_a_char_do_not_panic() {
        let f = file();
        let mut d = diag();
        d.span = Span::new(19, 999);
        let out = render_terminal(&f, &[d.clone()], false);
        assert!(out.contains("error[unknown_key]"));
        let json = to_json(&f, &[d]);
        assert_eq!(json[0]["line"], 2);
    }

    #[test]
    fn json_has_the_documented_fields() {
        let json = to_json(&file(), &[diag()]);
        let obj = &json[0];
        assert_eq!(obj["file"], "surfaces/demo.toml");
        assert_eq!(obj["line"], 2);
        assert_eq!(obj["column"], 1);
        assert_eq!(obj["end_line"], 2);
        assert_eq!(obj["end_column"], 5);
        assert_eq!(obj["code"], "unknown_key");
        assert_eq!(obj["severity"], "error");
        assert_eq!(obj["help"], "did you mean `slug`?");
        let warning = Diagnostic::warning(Code::UnusedRule, Span::new(0, 1), "w");
        assert_eq!(to_json(&file(), &[warning])[0]["help"], Value::Null);
    }
}

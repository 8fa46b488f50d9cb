//! Rendering diagnostics for people (rustc-like terminal output) and for tools (JSON).
//!
//! [`render_terminal`] hands each [`Diagnostic`] to miette's `GraphicalReportHandler`, with or
//! without color: a `error[code]` header, the message, the source excerpt under a
//! `file:line:col` title with the span underlined and labelled (and any related places), and
//! the help line. [`to_json`] gives the same facts as plain data, with 1-based lines and
//! columns computed by [`line_col`]. Both serve every file kind: the file is any
//! [`SourceText`] and the code any [`DiagnosticCode`].
//!
//! Rendering only formats: it never decides what is wrong, never writes to a terminal itself
//! (callers print the returned text) and never panics on a span that does not fit the text
//! (spans are clamped to the text and to character boundaries).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, DiagnosticCode, Severity, SourceText, Span, line_col};

/// Width the terminal rendering wraps at.
const WIDTH: usize = 100;

/// Render `diags` about `file` like rustc does, one report after the other, a blank line
/// between two.
///
/// With `color`, ANSI styles are used; without, the output is plain text (Unicode box
/// drawing, no escape codes), suitable for logs and snapshot tests.
pub fn render_terminal<C: DiagnosticCode>(
    file: &impl SourceText,
    diags: &[Diagnostic<C>],
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(WIDTH);
    let name = file.name();
    let text = file.text();
    let source = NamedSource::new(name.as_ref(), text.to_string());
    let mut out = String::new();
    for diag in diags {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        let report = Report {
            diag,
            span: diag.span.clamp(text),
            text,
            source: &source,
        };
        if handler.render_report(&mut out, &report).is_err() {
            // Formatting into a String only fails if a Display impl does; fall back to one
            // plain line so the diagnostic is never lost.
            let (line, column) = line_col(text, report.span.start);
            out.push_str(&format!(
                "{}[{}]: {} ({name}:{line}:{column})\n",
                diag.severity,
                diag.code.as_str(),
                diag.message,
            ));
        }
    }
    out
}

/// The diagnostics as a JSON array, one object per diagnostic with `file`, `line`, `column`,
/// `end_line`, `end_column` (1-based; columns count characters), `code`, `severity`
/// (`error` or `warning`), `message`, `label` and `help` (`null` when there is none), and,
/// only when the diagnostic involves other places, `related`: one object per place with its
/// `line`, `column`, `end_line`, `end_column` and `label`.
pub fn to_json<C: DiagnosticCode>(file: &impl SourceText, diags: &[Diagnostic<C>]) -> Value {
    let name = file.name();
    let text = file.text();
    Value::Array(
        diags
            .iter()
            .map(|d| {
                let (line, column, end_line, end_column) = position(text, d.span);
                let mut object = json!({
                    "file": name,
                    "line": line,
                    "column": column,
                    "end_line": end_line,
                    "end_column": end_column,
                    "code": d.code.as_str(),
                    "severity": d.severity.as_str(),
                    "message": d.message,
                    "label": d.label,
                    "help": d.help,
                });
                if let Value::Object(fields) = &mut object
                    && !d.related.is_empty()
                {
                    let related = d.related.iter().map(|l| {
                        let (line, column, end_line, end_column) = position(text, l.span);
                        json!({
                            "line": line,
                            "column": column,
                            "end_line": end_line,
                            "end_column": end_column,
                            "label": l.text,
                        })
                    });
                    fields.insert("related".into(), related.collect());
                }
                object
            })
            .collect(),
    )
}

/// Start line, start column, end line and end column of `span` (clamped) in `text`.
fn position(text: &str, span: Span) -> (usize, usize, usize, usize) {
    let span = span.clamp(text);
    let (line, column) = line_col(text, span.start);
    let (end_line, end_column) = line_col(text, span.end);
    (line, column, end_line, end_column)
}

/// One diagnostic seen through miette's protocol.
struct Report<'a, C> {
    diag: &'a Diagnostic<C>,
    /// The primary span, clamped to `text`.
    span: Span,
    text: &'a str,
    source: &'a NamedSource<String>,
}

impl<C: DiagnosticCode> fmt::Debug for Report<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}

impl<C> fmt::Display for Report<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl<C: DiagnosticCode> std::error::Error for Report<'_, C> {}

impl<C: DiagnosticCode> miette::Diagnostic for Report<'_, C> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "{}[{}]",
            self.diag.severity,
            self.diag.code.as_str()
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
        let primary = LabeledSpan::new_primary_with_span(
            self.diag.label.clone(),
            self.span.start..self.span.end,
        );
        let related = self.diag.related.iter().map(|l| {
            let span = l.span.clamp(self.text);
            LabeledSpan::new_with_span(Some(l.text.clone()), span.start..span.end)
        });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;
    use crate::surface::Code;

    fn file() -> Source {
        Source::new("surfaces/demo.toml", "[surface]\nslgu = \"démo\"\n")
    }

    fn diag() -> Diagnostic<Code> {
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
    fn reports_are_separated_by_one_blank_line() {
        let warning = Diagnostic::warning(Code::UnusedRule, Span::new(0, 9), "unused");
        let out = render_terminal(&file(), &[diag(), warning], false);
        assert!(out.contains("\n\nwarning[unused_rule]"), "{out}");
        assert!(!out.contains("\n\n\n"), "{out}");
    }

    #[test]
    fn spans_out_of_range_or_inside_a_char_do_not_panic() {
        let f = file();
        let mut d = diag();
        d.span = Span::new(19, 999);
        d = d.with_related(Span::new(999, 2), "elsewhere");
        let out = render_terminal(&f, &[d.clone()], false);
        assert!(out.contains("error[unknown_key]"));
        let json = to_json(&f, &[d]);
        assert_eq!(json[0]["line"], 2);
        assert_eq!(json[0]["related"][0]["line"], 3);
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
        assert_eq!(obj["label"], "not a key of `[surface]`");
        assert_eq!(obj["help"], "did you mean `slug`?");
        assert!(obj.get("related").is_none(), "{obj}");
        let warning = Diagnostic::warning(Code::UnusedRule, Span::new(0, 1), "w");
        let obj = &to_json(&file(), &[warning])[0];
        assert_eq!(obj["severity"], "warning");
        assert_eq!(obj["label"], Value::Null);
        assert_eq!(obj["help"], Value::Null);
    }

    #[test]
    fn related_places_are_shown_and_listed() {
        let d = diag().with_related(Span::new(1, 8), "in this table");
        let out = render_terminal(&file(), std::slice::from_ref(&d), false);
        assert!(out.contains("in this table"), "{out}");
        let related = &to_json(&file(), &[d])[0]["related"];
        let expected = json!([
            { "line": 1, "column": 2, "end_line": 1, "end_column": 9, "label": "in this table" }
        ]);
        assert_eq!(related, &expected);
    }
}

//! The text a diagnostic points into: byte [`Span`]s, 1-based [`line_col`] positions, and the
//! named file ([`SourceText`], [`Source`]) a renderer shows them in.
//!
//! Spans are byte offsets into the file's text, as the parsers produce them; lines and columns
//! are computed only when a diagnostic is shown. Nothing here reads a file.

use std::borrow::Cow;

use serde::Serialize;

/// A byte range in a source file. Equality of syntax-tree nodes ignores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// This span moved inside `text` and onto character boundaries, so that slicing `text`
    /// with it never panics.
    pub fn clamp(self, text: &str) -> Span {
        let floor = |mut i: usize| {
            i = i.min(text.len());
            while i > 0 && !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(self.start);
        let end = floor(self.end).max(start);
        Span::new(start, end)
    }
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in source.bytes().enumerate() {
        if i >= offset {
            break;
        }
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let column = source
        .get(line_start..offset)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// A file that diagnostics are about: the name shown to the user and the text spans index.
///
/// Implemented by [`Source`] (any file held in memory) and by
/// [`SourceFile`](crate::surface::SourceFile), so each file kind keeps its own loader.
pub trait SourceText {
    /// The name shown in `file:line:col` positions (usually the path as given).
    fn name(&self) -> Cow<'_, str>;
    /// The file's text.
    fn text(&self) -> &str;
}

/// A file's name (as the user wrote it) and its text, for rendering diagnostics.
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

impl SourceText for Source {
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }

    fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a\nbc\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 2), (2, 1));
        assert_eq!(line_col(src, 3), (2, 2));
        assert_eq!(line_col(src, 999), (3, 1));
    }

    #[test]
    fn clamp_keeps_spans_inside_the_text_and_on_char_boundaries() {
        let text = "aé";
        assert_eq!(Span::new(0, 2).clamp(text), Span::new(0, 1));
        assert_eq!(Span::new(5, 9).clamp(text), Span::new(3, 3));
        assert_eq!(Span::new(2, 1).clamp(text), Span::new(1, 1));
    }

    #[test]
    fn location_is_name_line_column() {
        let src = Source::new("s.toml", "a\nbc\n");
        assert_eq!(src.location(3), "s.toml:2:2");
    }
}

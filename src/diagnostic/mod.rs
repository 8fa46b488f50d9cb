//! Diagnostics: what is wrong with a file a user wrote, where, and what to do about it.
//!
//! Every file planck reads from a user (a surface file, a scenario file, and whatever the CLI
//! reads next) reports its problems as one [`Diagnostic`] type: a stable code, a [`Severity`],
//! a lowercase message without a trailing period (user input in backticks), the [`Span`] it
//! is about with an optional label, further [`Label`]ed places when the problem involves
//! several, and an optional help sentence. Readers collect diagnostics and never stop at the
//! first one.
//!
//! The code is the only part that differs between file kinds: each kind has its own closed
//! enum, declared with `codes!` (which implements [`DiagnosticCode`]), so a surface file's
//! `unknown_key` and a scenario file's `unknown_principal` keep their exact text forms and a
//! function over surface diagnostics cannot receive a scenario one. [`source`] holds the spans
//! and the named text they point into; [`render`] shows diagnostics to people (like rustc)
//! and to tools (JSON). Nothing here reads a file or decides what is wrong.

pub mod render;
pub mod source;
pub(crate) mod toml;

use serde::Serialize;
use std::fmt;

pub use source::{Source, SourceText, Span, line_col};

/// A stable diagnostic code: one closed enum per file kind (in this crate, declared with the
/// `codes!` macro).
pub trait DiagnosticCode: Copy + fmt::Debug {
    /// The stable text form (`unknown_key`), which never changes once shipped.
    fn as_str(self) -> &'static str;
}

/// Declare a file kind's code enum: each variant with its doc comment and its stable text.
///
/// The enum gets `ALL`, `as_str`, [`DiagnosticCode`], `Display` and `Serialize` (both as the
/// text form).
macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$m:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$m])* $variant,)+
        }

        impl $name {
            /// Every code.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl $crate::diagnostic::DiagnosticCode for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use codes;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The file cannot be used.
    Error,
    /// The file can be used, but something looks wrong.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another place a diagnostic is about ("first declared here"), with what to say there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// A short text printed under the span.
    pub text: String,
}

/// One problem in a file, with a code `C` from the file kind's own enum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic<C> {
    /// The stable code.
    pub code: C,
    /// Error or warning.
    pub severity: Severity,
    /// Lowercase, no trailing period, user input in backticks.
    pub message: String,
    /// Where: the place the problem is reported at.
    pub span: Span,
    /// A short label printed under the span.
    pub label: Option<String>,
    /// Other places the problem involves, each with its own label.
    pub related: Vec<Label>,
    /// An extra sentence on what to do.
    pub help: Option<String>,
}

impl<C> Diagnostic<C> {
    /// An error: the file cannot be used.
    pub fn error(code: C, span: Span, message: impl Into<String>) -> Self {
        Diagnostic::new(code, Severity::Error, span, message.into())
    }

    /// A warning: the file can be used, but something looks wrong.
    pub fn warning(code: C, span: Span, message: impl Into<String>) -> Self {
        Diagnostic::new(code, Severity::Warning, span, message.into())
    }

    fn new(code: C, severity: Severity, span: Span, message: String) -> Self {
        Diagnostic {
            code,
            severity,
            message,
            span,
            label: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// Add a label under the span.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Add another place the problem involves, labelled with `text`.
    pub fn with_related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Add a help sentence.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Whether any diagnostic in `diags` is an error.
pub fn has_errors<C>(diags: &[Diagnostic<C>]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of a file kind is unique and `snake_case`.
    fn stable<C: DiagnosticCode>(all: &[C]) {
        let mut seen = std::collections::HashSet::new();
        for c in all {
            assert!(seen.insert(c.as_str()), "{c:?} twice");
            assert!(
                c.as_str()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c:?}"
            );
        }
    }

    #[test]
    fn codes_are_unique_snake_case() {
        stable(crate::surface::Code::ALL);
        stable(crate::scenario::Code::ALL);
    }

    #[test]
    fn builders_fill_the_fields() {
        let d = Diagnostic::warning(crate::surface::Code::UnusedRule, Span::new(1, 2), "m")
            .with_label("l")
            .with_related(Span::new(3, 4), "r")
            .with_help("h");
        assert!(!d.is_error());
        assert!(!has_errors(std::slice::from_ref(&d)));
        assert_eq!(d.label.as_deref(), Some("l"));
        assert_eq!(
            d.related,
            vec![Label {
                span: Span::new(3, 4),
                text: "r".into()
            }]
        );
        assert_eq!(d.help.as_deref(), Some("h"));
        let e = Diagnostic::error(crate::surface::Code::Io, Span::default(), "e");
        assert!(has_errors(&[d, e]));
    }
}

//! Diagnostics: what is wrong with a surface file, where, and what to do about it.
//!
//! Every problem found in a surface file becomes a [`Diagnostic`] with a stable [`Code`], a
//! lowercase message without a trailing period (user input in backticks), the [`Span`] it is
//! about and an optional help sentence. Front ends and the validator collect diagnostics and
//! never stop at the first one. Rendering (terminal, like rustc; JSON for machines) lives in
//! [`crate::surface::render`].

use std::fmt;

use serde::Serialize;

use crate::surface::ast::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The surface cannot be compiled.
    Error,
    /// The surface compiles, but something looks wrong.
    Warning,
}

macro_rules! codes {
    ($($(#[$m:meta])* $variant:ident = $text:literal,)+) => {
        /// A stable diagnostic code. The text form (`unknown_key`) never changes once shipped.
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
    /// The file is larger than the limit on surface files.
    FileTooLarge = "file_too_large",
    /// The TOML does not parse.
    TomlSyntax = "toml_syntax",
    /// The DSL does not parse.
    DslSyntax = "dsl_syntax",
    /// A key that the surface language does not have.
    UnknownKey = "unknown_key",
    /// A key the contract requires is missing.
    MissingKey = "missing_key",
    /// A value of the wrong type (a string where an integer belongs, ...).
    WrongType = "wrong_type",
    /// A keyword value that is not one of the accepted ones.
    InvalidValue = "invalid_value",
    /// A key written twice (DSL only; TOML reports duplicates as syntax errors).
    DuplicateKey = "duplicate_key",
    /// A slug that does not match `^[a-z][a-z0-9-]{1,62}$`.
    InvalidSlug = "invalid_slug",
    /// A phase id, rule name, category or field name that does not match its pattern.
    InvalidIdentifier = "invalid_identifier",
    /// A required text that is empty.
    EmptyValue = "empty_value",
    /// A number out of its range (`version >= 1`, `min_per_category >= 0`, ...).
    OutOfRange = "out_of_range",
    /// Fewer than three phases.
    TooFewPhases = "too_few_phases",
    /// More phases, rules, transitions, ... than the limits allow.
    TooMany = "too_many",
    /// Two phases with one id.
    DuplicatePhase = "duplicate_phase",
    /// Two rules with one name.
    DuplicateRule = "duplicate_rule",
    /// Two transitions with one `from` and `to`.
    DuplicateTransition = "duplicate_transition",
    /// A category or intake field listed twice.
    DuplicateName = "duplicate_name",
    /// A transition names a phase that is not declared.
    UnknownPhase = "unknown_phase",
    /// A transition names a rule that is not declared.
    UnknownRule = "unknown_rule",
    /// A transition requires a category the evidence contract does not declare.
    UnknownCategory = "unknown_category",
    /// A category both required and optional, or an intake field both required and optional.
    RequiredAndOptional = "required_and_optional",
    /// A transition into the first phase.
    TransitionIntoFirst = "transition_into_first",
    /// A transition out of the last phase.
    TransitionOutOfLast = "transition_out_of_last",
    /// A transition from a phase to itself.
    SelfTransition = "self_transition",
    /// A phase that cannot be reached from the first.
    UnreachablePhase = "unreachable_phase",
    /// A phase from which the last cannot be reached.
    DeadEndPhase = "dead_end_phase",
    /// A rule's `on` that is neither a command nor `transition`.
    UnknownTrigger = "unknown_trigger",
    /// A rule's `when` that does not compile.
    RuleCompile = "rule_compile",
    /// A rule with `on = "transition"` that no transition names.
    UnusedRule = "unused_rule",
    /// An escalation `after` that does not parse.
    InvalidDuration = "invalid_duration",
    /// A surface registered twice under one `slug@version` with different contents.
    RegistryConflict = "registry_conflict",
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

/// One problem in a surface file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
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
    /// An error.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    /// A warning.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Warning,
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

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Whether any diagnostic in `diags` is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
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

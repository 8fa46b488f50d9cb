//! What every reader of a user's TOML file shares (surface files, scenario files): spans of
//! `toml` values, type names for messages, the `toml` crate's syntax errors and wrongly typed
//! values as diagnostics, and the "did you mean" suggestion. Each reader keeps its own walk of
//! the tables and its own codes; the wording of these shared problems lives here once.

use ::toml::Spanned;
use ::toml::de::DeValue;

use crate::diagnostic::{Diagnostic, Span};

/// The span of a `toml` value or key.
pub(crate) fn span_of<T>(spanned: &Spanned<T>) -> Span {
    Span::from(spanned.span())
}

/// "a string", "an integer", … for messages.
pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A `toml` parse error as a diagnostic with `code` at the error's span: "invalid TOML: …",
/// with `help` (what the file must be valid TOML for).
pub(crate) fn syntax_error<C>(code: C, error: &::toml::de::Error, help: &str) -> Diagnostic<C> {
    let span = error.span().map(Span::from).unwrap_or_default();
    let message = error.message().trim().trim_end_matches('.');
    Diagnostic::error(
        code,
        span,
        format!("invalid TOML: {}", lowercase_first(message)),
    )
    .with_label("here")
    .with_help(help)
}

/// "`key` must be {expected}, found {what `found` is}" with `code` at `span`.
pub(crate) fn wrong_type<C>(
    code: C,
    span: Span,
    key: &str,
    expected: &str,
    found: &DeValue<'_>,
) -> Diagnostic<C> {
    Diagnostic::error(
        code,
        span,
        format!("`{key}` must be {expected}, found {}", type_name(found)),
    )
    .with_label(format!("expected {expected}"))
}

/// "`key` must be an array of tables" with `code` at `value`, which is something else.
pub(crate) fn not_an_array_of_tables<C>(
    code: C,
    value: &Spanned<DeValue<'_>>,
    key: &str,
) -> Diagnostic<C> {
    Diagnostic::error(
        code,
        span_of(value),
        format!(
            "`{key}` must be an array of tables, found {}",
            type_name(value.get_ref())
        ),
    )
    .with_label("expected an array of tables")
    .with_help(format!("write each entry as its own `[[{key}]]` table"))
}

/// The known name closest to `word`, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if word.len() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    known
        .iter()
        // Edit distance with adjacent transpositions (optimal string alignment), in characters.
        .map(|k| (strsim::osa_distance(word, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `` `a`, `b`, `c` `` for help texts.
pub(crate) fn list_in_backticks(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` with its first letter in lowercase, as diagnostic messages start, unless the first
/// word is an acronym (`TOML`, `URL`), which stays as it is.
pub(crate) fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !chars.as_str().starts_with(|c: char| c.is_uppercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_a_likely_typo_only() {
        assert_eq!(closest("stauts", &["status", "slug"]), Some("status"));
        assert_eq!(closest("zzz", &["status", "slug"]), None);
    }

    #[test]
    fn lowercase_first_keeps_acronyms() {
        assert_eq!(lowercase_first("Expected a value"), "expected a value");
        assert_eq!(lowercase_first("TOML key"), "TOML key");
        assert_eq!(lowercase_first(""), "");
    }
}

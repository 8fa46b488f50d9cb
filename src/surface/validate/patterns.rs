//! The text forms a surface's values take: slugs, identifiers and escalation durations.

use jiff::SpanRelativeTo;
use jiff::fmt::friendly::SpanParser;

/// Parse an escalation duration: a whole number followed by one unit, `s` (seconds), `m`
/// (minutes), `h` (hours) or `d` (days of 24 hours), e.g. `90s`, `15m`, `24h`, `2d`. Returns
/// milliseconds; `None` when the text is not of that form (`is_duration_form` tells), or is
/// of that form but longer than jiff holds (about 20,000 years).
pub fn parse_duration(text: &str) -> Option<u64> {
    // Jiff's friendly format reads far more (`1.5h`, `2h 30m`, `1 hour`, `+1h`, weeks, years),
    // so only the contract's form reaches it.
    if !is_duration_form(text) {
        return None;
    }
    // Jiff reads at most 20 digits; leading zeros add nothing (`000s` is zero).
    let text = text.trim_start_matches('0');
    if text.len() == 1 {
        return Some(0);
    }
    static PARSER: SpanParser = SpanParser::new();
    let span = PARSER.parse_span(text).ok()?;
    let duration = span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()?;
    u64::try_from(duration.as_millis()).ok()
}

/// Whether `text` has the form of a duration (ASCII digits then one of `s`, `m`, `h`, `d`),
/// whatever its size: tells "not a duration" from "too long" when [`parse_duration`] says `None`.
pub(crate) fn is_duration_form(text: &str) -> bool {
    text.strip_suffix(['s', 'm', 'h', 'd'])
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `text` matches `^[a-z][a-z0-9-]{1,62}$`.
pub fn is_slug(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && (2..=63).contains(&text.len())
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// Whether `text` matches `^[a-z][a-z0-9_]{0,62}$` (phase ids, rule names, categories, intake
/// fields, signals).
pub fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= 63
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

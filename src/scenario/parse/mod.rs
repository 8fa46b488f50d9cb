//! Reading a scenario file (`docs/scenario.md`) into a [`Scenario`], with every problem located.
//!
//! The file is parsed with `toml`'s recoverable parser into a spanned tree and walked by hand,
//! as the surface TOML front end does, so that each key and value keeps the byte span it was
//! written at. The walk accepts exactly the documented keys and reports, without stopping
//! at the first one, every syntax error, unknown key, wrong type, missing key, unknown
//! principal, role or command, bad time, bad expectation and unknown check value. Only
//! [`load`] touches the file system (to read the file and to see that its `surfaces` exist);
//! [`parse`] is a pure function of the text and never panics, whatever the input.
//!
//! This file holds the entry points, the key tables and the walker's shared readers (unknown
//! keys, wrong types, missing keys, strings, arrays of tables); the walker reads the file's
//! parts in `setup` (`surfaces`, `start`, `principals`), `steps` (each `[[step]]`: actor,
//! command, arguments, clock, expectation) and `checks` (each `[[check]]`).

use std::path::Path;

use ::toml::de::{DeTable, DeValue};

use crate::diagnostic::toml::{
    closest, list_in_backticks, not_an_array_of_tables, span_of, syntax_error, type_name,
    wrong_type,
};
use crate::diagnostic::{Source, Span};
use crate::scenario::diagnostic::{Code, Diagnostic};
use crate::scenario::model::Scenario;
use crate::spine::case::Millis;

mod checks;
mod setup;
mod steps;

/// The largest scenario file accepted, in bytes.
pub const MAX_SCENARIO_BYTES: usize = 1 << 20;

const TOP_LEVEL_KEYS: &[&str] = &["name", "surfaces", "start", "principals", "step", "check"];
const PRINCIPAL_KEYS: &[&str] = &["id", "roles"];
const STEP_KEYS: &[&str] = &["as", "command", "case", "args", "key", "at", "expect"];
const CHECK_KEYS: &[&str] = &[
    "case",
    "operator",
    "task",
    "assignee",
    "job",
    "owner",
    "phase",
    "approval",
    "service_event",
    "record",
    "settlement",
    "signals",
    "status",
];
const AT_HELP: &str =
    "write `+10s`, `+30m`, `+2h` or `+1d`, or an RFC 3339 time like `2026-01-10T09:00:00Z`";
const EXPECT_FORMS: &[&str] = &["applied", "duplicate", "rejected", "rejected:<code>"];

/// Read the scenario file at `path` and parse it; also check that every `surfaces` entry
/// exists. Returns the file's [`Source`] (for rendering diagnostics) with the scenario or every
/// problem found. A file that cannot be read is one `io` diagnostic.
pub fn load(path: &Path) -> (Source, Result<Scenario, Vec<Diagnostic>>) {
    let name = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                let diag =
                    Diagnostic::error(Code::Io, Span::default(), "the file is not valid UTF-8")
                        .with_help("scenario files are UTF-8 TOML");
                return (Source::new(name, ""), Err(vec![diag]));
            }
        },
        Err(err) => {
            let diag = Diagnostic::error(
                Code::Io,
                Span::default(),
                format!("cannot read `{name}`: {err}"),
            )
            .with_help("check the path; scenario files are TOML (docs/scenario.md)");
            return (Source::new(name, ""), Err(vec![diag]));
        }
    };
    let source = Source::new(name, text);
    let result = parse(&source.text, path).and_then(|scenario| {
        let missing: Vec<Diagnostic> = scenario
            .surfaces
            .iter()
            .filter(|s| !s.path.exists())
            .map(|s| {
                Diagnostic::error(
                    Code::SurfaceNotFound,
                    s.span,
                    format!(
                        "`{}` does not exist (looked for `{}`)",
                        s.written,
                        s.path.display()
                    ),
                )
                .with_label("no such file or directory")
                .with_help("`surfaces` entries are resolved relative to the scenario file")
            })
            .collect();
        if missing.is_empty() {
            Ok(scenario)
        } else {
            Err(missing)
        }
    });
    (source, result)
}

/// Parse the text of a scenario file. `file` is where it lives: `surfaces` are resolved against
/// its directory and its stem names a scenario that has no `name`. Returns the scenario, or
/// every problem found, sorted by position.
pub fn parse(source: &str, file: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    if source.len() > MAX_SCENARIO_BYTES {
        let len = source.len();
        let message = format!(
            "the file is {len} bytes long; scenario files may be at most {MAX_SCENARIO_BYTES}"
        );
        return Err(vec![
            Diagnostic::error(Code::FileTooLarge, Span::default(), message)
                .with_help("split the scenario into several files"),
        ]);
    }
    let (root, errors) = DeTable::parse_recoverable(source);
    let mut walker = Walker {
        source,
        diags: Vec::new(),
    };
    for error in &errors {
        walker.push(syntax_error(
            Code::TomlSyntax,
            error,
            "the file must be valid TOML before its scenario can be read",
        ));
    }
    let scenario = walker.scenario(root.get_ref(), file);
    let mut diags = walker.diags;
    if !errors.is_empty() {
        // Keys lost to a syntax error look missing; only report what is really there.
        diags.retain(|d| {
            d.code == Code::TomlSyntax || (d.code != Code::MissingKey && d.span != Span::default())
        });
    }
    if diags.is_empty() {
        Ok(scenario)
    } else {
        diags.sort_by_key(|d| (d.span.start, d.span.end));
        Err(diags)
    }
}

/// Parse an RFC 3339 time with an offset into unix milliseconds.
pub fn parse_time(text: &str) -> Option<Millis> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Format unix milliseconds as an RFC 3339 UTC time (`2026-01-10T09:00:00Z`).
pub fn format_time(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_string(),
        Err(_) => ms.to_string(),
    }
}

/// One table being read.
struct Table<'t, 'i> {
    table: &'t DeTable<'i>,
    span: Span,
    name: &'static str,
}

struct Walker<'s> {
    source: &'s str,
    diags: Vec<Diagnostic>,
}

impl Walker<'_> {
    fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    fn scenario(&mut self, root: &DeTable<'_>, file: &Path) -> Scenario {
        let top = Table {
            table: root,
            span: Span::default(),
            name: "the scenario file",
        };
        self.unknown_keys(&top, TOP_LEVEL_KEYS, |key| {
            ["id", "roles"]
                .contains(&key)
                .then_some("a principal")
                .or_else(|| {
                    (STEP_KEYS.contains(&key) || CHECK_KEYS.contains(&key))
                        .then_some("`[[step]]` or `[[check]]`")
                })
        });
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = self
            .string(&top, "name", false)
            .map(|(n, _)| n)
            .unwrap_or(stem);
        let surfaces = self.surfaces(root, file);
        let start = self.start(root);
        let principals = self.principals(root);
        let steps = self.steps(root, &principals, start);
        let checks = self.checks(root);
        if !root.contains_key("step") {
            self.push(
                Diagnostic::error(
                    Code::MissingKey,
                    Span::default(),
                    "the scenario has no `[[step]]`",
                )
                .with_help("add at least one `[[step]]` with `as`, `command` and `case`"),
            );
        }
        Scenario {
            name,
            surfaces,
            start,
            principals,
            steps,
            checks,
        }
    }

    fn unknown_keys(
        &mut self,
        cx: &Table<'_, '_>,
        known: &[&str],
        elsewhere: impl Fn(&str) -> Option<&'static str>,
    ) {
        for (key, _) in cx.table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let diag = Diagnostic::error(
                Code::UnknownKey,
                span_of(key),
                format!("unknown key `{name}` in {}", cx.name),
            )
            .with_label(format!("not a key of {}", cx.name));
            let help = match (closest(name, known), elsewhere(name)) {
                (Some(near), _) => format!("did you mean `{near}`?"),
                (None, Some(place)) => format!("`{name}` belongs in {place}"),
                (None, None) => format!("the keys of {} are {}", cx.name, list_in_backticks(known)),
            };
            self.push(diag.with_help(help));
        }
    }

    fn wrong_type(&mut self, span: Span, key: &str, expected: &str, found: &DeValue<'_>) {
        self.push(wrong_type(Code::WrongType, span, key, expected, found));
    }

    fn missing(&mut self, cx: &Table<'_, '_>, key: &str, help: &str) {
        let mut diag = Diagnostic::error(
            Code::MissingKey,
            cx.span,
            format!("missing key `{key}` in {}", cx.name),
        )
        .with_label(format!("this table needs `{key}`"));
        if !help.is_empty() {
            diag = diag.with_help(help);
        }
        self.push(diag);
    }

    /// A non-empty string value and its span.
    fn string(
        &mut self,
        cx: &Table<'_, '_>,
        key: &'static str,
        required: bool,
    ) -> Option<(String, Span)> {
        let Some(value) = cx.table.get(key) else {
            if required {
                self.missing(cx, key, "");
            }
            return None;
        };
        match value.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                self.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        span_of(value),
                        format!("`{key}` must not be empty"),
                    )
                    .with_label("empty"),
                );
                None
            }
            DeValue::String(s) => Some((s.to_string(), span_of(value))),
            other => {
                self.wrong_type(span_of(value), key, "a string", other);
                None
            }
        }
    }

    fn array_of_tables<'t, 'i>(
        &mut self,
        root: &'t DeTable<'i>,
        key: &'static str,
        name: &'static str,
    ) -> Vec<Table<'t, 'i>> {
        let Some(value) = root.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.push(not_an_array_of_tables(Code::WrongType, value, key));
            return Vec::new();
        };
        let mut tables = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(table) => tables.push(Table {
                    table,
                    span: span_of(item),
                    name,
                }),
                other => self.wrong_type(span_of(item), key, "a table", other),
            }
        }
        tables
    }
}

#[cfg(test)]
mod tests;

//! Reading a scenario file (`docs/scenario.md`) into a [`Scenario`], with every problem located.
//!
//! The file is parsed with `toml`'s recoverable parser into a spanned tree and walked by hand,
//! as the surface TOML front end does, so that each key and value keeps the byte span it was
//! written at. The walk accepts exactly the documented keys and reports, without stopping
//! at the first one, every syntax error, unknown key, wrong type, missing key, unknown
//! principal, role or command, bad time, bad expectation and unknown check value. Only
//! [`load`] touches the file system (to read the file and to see that its `surfaces` exist);
//! [`parse`] is a pure function of the text and never panics, whatever the input.

use std::path::Path;

use ::toml::Spanned;
use ::toml::de::{DeTable, DeValue};
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Source, Span, line_col};
use crate::policy::{Principal, Role};
use crate::scenario::diagnostic::{Code, Diagnostic};
use crate::scenario::model::{
    Action, At, Check, CheckField, CheckTarget, DEFAULT_START_MS, Expect, ExpectError, Expected,
    Scenario, Step, SurfacePath,
};
use crate::spine::case::Millis;
use crate::spine::{Command, CommandKind, RejectionCode};
use crate::surface::parse_duration;
use crate::surface::toml::{closest, list_in_backticks};
use crate::surface::validate::is_duration_form;

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
        let span = error.span().map(Span::from).unwrap_or_default();
        let message = error.message().trim().trim_end_matches('.').to_string();
        walker.push(
            Diagnostic::error(
                Code::TomlSyntax,
                span,
                format!("invalid TOML: {}", lowercase_first(&message)),
            )
            .with_label("here")
            .with_help("the file must be valid TOML before its scenario can be read"),
        );
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

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !chars.as_str().starts_with(|c: char| c.is_uppercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

fn span_of<T>(spanned: &Spanned<T>) -> Span {
    Span::from(spanned.span())
}

fn type_name(value: &DeValue<'_>) -> &'static str {
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
        self.push(
            Diagnostic::error(
                Code::WrongType,
                span,
                format!("`{key}` must be {expected}, found {}", type_name(found)),
            )
            .with_label(format!("expected {expected}")),
        );
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

    fn surfaces(&mut self, root: &DeTable<'_>, file: &Path) -> Vec<SurfacePath> {
        let Some(value) = root.get("surfaces") else {
            return Vec::new();
        };
        let base = file.parent().unwrap_or(Path::new(""));
        let mut out = Vec::new();
        let mut add = |written: &str, span: Span| {
            out.push(SurfacePath {
                written: written.to_string(),
                path: base.join(written),
                span,
            });
        };
        match value.get_ref() {
            DeValue::String(s) => add(s, span_of(value)),
            DeValue::Array(items) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => add(s, span_of(item)),
                        other => self.wrong_type(
                            span_of(item),
                            "surfaces",
                            "a list of paths (strings)",
                            other,
                        ),
                    }
                }
            }
            other => self.wrong_type(
                span_of(value),
                "surfaces",
                "a list of paths (strings)",
                other,
            ),
        }
        out
    }

    fn start(&mut self, root: &DeTable<'_>) -> Millis {
        let Some(value) = root.get("start") else {
            return DEFAULT_START_MS;
        };
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(d) => d.to_string(),
            other => {
                self.wrong_type(span_of(value), "start", "an RFC 3339 time", other);
                return DEFAULT_START_MS;
            }
        };
        match parse_time(&text) {
            Some(ms) => ms,
            None => {
                self.push(
                    Diagnostic::error(
                        Code::InvalidTime,
                        span_of(value),
                        format!("`{text}` is not an RFC 3339 time"),
                    )
                    .with_label("expected a time with a UTC offset")
                    .with_help("write it like `2026-01-10T09:00:00Z`"),
                );
                DEFAULT_START_MS
            }
        }
    }

    fn principals(&mut self, root: &DeTable<'_>) -> Vec<(String, Principal)> {
        let Some(value) = root.get("principals") else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(span_of(value), "principals", "a table", value.get_ref());
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, entry) in table.iter() {
            let key_text = key.get_ref().to_string();
            let DeValue::Table(fields) = entry.get_ref() else {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        span_of(entry),
                        format!(
                            "principal `{key_text}` must be a table, found {}",
                            type_name(entry.get_ref())
                        ),
                    )
                    .with_label("expected a table")
                    .with_help(format!(
                        "write it as `{key_text} = {{ id = \"...\", roles = [\"...\"] }}`"
                    )),
                );
                continue;
            };
            let cx = Table {
                table: fields,
                span: span_of(entry),
                name: "a principal",
            };
            self.unknown_keys(&cx, PRINCIPAL_KEYS, |_| None);
            let id = self.string(&cx, "id", true).map(|(id, _)| id);
            let roles = self.roles(&cx);
            // A principal with problems is still declared, so steps naming it do not cascade
            // into `unknown_principal`; the problems above keep the scenario from running.
            out.push((
                key_text,
                Principal::new(id.unwrap_or_default(), roles.unwrap_or_default()),
            ));
        }
        out
    }

    fn roles(&mut self, cx: &Table<'_, '_>) -> Option<Vec<Role>> {
        let Some(value) = cx.table.get("roles") else {
            self.missing(
                cx,
                "roles",
                "roles are `client`, `admin`, `operator`, `system` and `observer`",
            );
            return None;
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(span_of(value), "roles", "a list of roles", value.get_ref());
            return None;
        };
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let mut roles = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => match Role::parse(s) {
                    Some(role) => roles.push(role),
                    None => {
                        ok = false;
                        let mut help = format!("the roles are {}", list_in_backticks(&names));
                        if let Some(near) = closest(s, &names) {
                            help = format!("did you mean `{near}`? {help}");
                        }
                        self.push(
                            Diagnostic::error(
                                Code::UnknownRole,
                                span_of(item),
                                format!("`{s}` is not a role"),
                            )
                            .with_label("unknown role")
                            .with_help(help),
                        );
                    }
                },
                other => {
                    ok = false;
                    self.wrong_type(span_of(item), "roles", "a list of role names", other);
                }
            }
        }
        ok.then_some(roles)
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
            self.push(
                Diagnostic::error(
                    Code::WrongType,
                    span_of(value),
                    format!(
                        "`{key}` must be an array of tables, found {}",
                        type_name(value.get_ref())
                    ),
                )
                .with_label("expected an array of tables")
                .with_help(format!("write each entry as its own `[[{key}]]` table")),
            );
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

    fn steps(
        &mut self,
        root: &DeTable<'_>,
        principals: &[(String, Principal)],
        start: Millis,
    ) -> Vec<Step> {
        let tables = self.array_of_tables(root, "step", "`[[step]]`");
        let mut now = start;
        let mut steps = Vec::new();
        for (i, cx) in tables.iter().enumerate() {
            if let Some(step) = self.step(cx, i + 1, principals, &mut now) {
                steps.push(step);
            }
        }
        steps
    }

    fn step(
        &mut self,
        cx: &Table<'_, '_>,
        index: usize,
        principals: &[(String, Principal)],
        now: &mut Millis,
    ) -> Option<Step> {
        self.unknown_keys(cx, STEP_KEYS, |key| {
            CHECK_KEYS.contains(&key).then_some("`[[check]]`")
        });
        let command = self.string(cx, "command", true);
        // `None`: a problem (already reported); `Some(None)`: a tick.
        let kind: Option<Option<CommandKind>> = match &command {
            Some((name, _)) if name == "tick" => Some(None),
            Some((name, span)) => match CommandKind::parse(name) {
                Some(kind) => Some(Some(kind)),
                None => {
                    let mut names: Vec<&str> =
                        CommandKind::ALL.iter().map(|k| k.as_str()).collect();
                    names.push("tick");
                    let help = match closest(name, &names) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("the commands are {}", list_in_backticks(&names)),
                    };
                    self.push(
                        Diagnostic::error(
                            Code::UnknownCommand,
                            *span,
                            format!("`{name}` is not a command"),
                        )
                        .with_label("unknown command")
                        .with_help(help),
                    );
                    None
                }
            },
            None => None,
        };
        let is_tick = kind == Some(None);
        let directory = matches!(kind, Some(Some(k)) if k.addresses_operator());
        let actor = self.actor(cx, principals, !is_tick);
        let case = self.string(cx, "case", false);
        if case.is_none() && !is_tick && !directory && !cx.table.contains_key("case") {
            self.missing(cx, "case", "every command addresses one case by its id");
        }
        if let (true, Some((_, span))) = (directory, &case) {
            self.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    *span,
                    "an operator command addresses the operator named in `args`, not a case",
                )
                .with_label("no `case` here")
                .with_help(
                    "leave `case` out: `args = { operator = \"op-lee\", ... }` names the operator",
                ),
            );
        }
        let args = match cx.table.get("args") {
            None => Some(Value::Object(Map::new())),
            Some(value) if is_tick => {
                self.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        span_of(value),
                        "a `tick` takes no `args`",
                    )
                    .with_label("not used by a tick"),
                );
                None
            }
            Some(value) => match value.get_ref() {
                DeValue::Table(_) => self.json(value),
                other => {
                    self.wrong_type(span_of(value), "args", "a table", other);
                    None
                }
            },
        };
        let key = self.string(cx, "key", false);
        if let (true, Some((_, span))) = (is_tick, &key) {
            self.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    *span,
                    "a `tick` takes no idempotency `key`",
                )
                .with_label("not used by a tick"),
            );
        }
        let at = self.at(cx, now);
        let expect = self.expect(cx, is_tick);
        let kind = kind?;
        let (actor, principal) = actor?;
        let args = args?;
        let expect = expect?;
        let at = at?;
        let case_id = case.map(|(c, _)| c);
        let action = match (kind, &case_id) {
            (None, _) => Action::Tick,
            (Some(kind), None) if kind.addresses_operator() => {
                Action::Command(Command::for_operator(kind.as_str(), &args).ok()?)
            }
            (Some(kind), _) if kind.addresses_operator() => return None,
            (Some(kind), Some(case)) => {
                Action::Command(Command::from_json(case.clone(), kind.as_str(), &args).ok()?)
            }
            (Some(_), None) => return None,
        };
        Some(Step {
            index,
            span: cx.span,
            line: line_col(self.source, cx.span.start).0,
            actor,
            principal,
            action,
            case: case_id,
            args,
            key: key.map(|(k, _)| k),
            at,
            time: *now,
            expect,
        })
    }

    /// `as`: `Some((key, principal))` when resolved or absent (and allowed to be); `None` on a
    /// problem.
    fn actor(
        &mut self,
        cx: &Table<'_, '_>,
        principals: &[(String, Principal)],
        required: bool,
    ) -> Option<(Option<String>, Option<Principal>)> {
        if !cx.table.contains_key("as") {
            if required {
                self.missing(
                    cx,
                    "as",
                    "`as` names the principal sending the command: a key of `[principals]`",
                );
                return None;
            }
            return Some((None, None));
        }
        let (key, span) = self.string(cx, "as", false)?;
        match principals.iter().find(|(k, _)| *k == key) {
            Some((_, principal)) => Some((Some(key), Some(principal.clone()))),
            None => {
                let keys: Vec<&str> = principals.iter().map(|(k, _)| k.as_str()).collect();
                let help = match closest(&key, &keys) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if keys.is_empty() => "declare it under `[principals]`, e.g. \
                                                `admin = { id = \"admin-kim\", roles = [\"admin\"] }`"
                        .to_string(),
                    None => format!("the principals are {}", list_in_backticks(&keys)),
                };
                self.push(
                    Diagnostic::error(
                        Code::UnknownPrincipal,
                        span,
                        format!("unknown principal `{key}`"),
                    )
                    .with_label("not a key of `[principals]`")
                    .with_help(help),
                );
                None
            }
        }
    }

    /// `at`: moves `now`; `Some(None)` when absent.
    fn at(&mut self, cx: &Table<'_, '_>, now: &mut Millis) -> Option<Option<At>> {
        let Some(value) = cx.table.get("at") else {
            return Some(None);
        };
        let span = span_of(value);
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(d) => d.to_string(),
            other => {
                self.wrong_type(span, "at", "a time (`+2h` or an RFC 3339 time)", other);
                return None;
            }
        };
        let bad = |walker: &mut Walker<'_>, message: String| {
            walker.push(
                Diagnostic::error(Code::InvalidTime, span, message)
                    .with_label("not a time")
                    .with_help(AT_HELP),
            );
        };
        if let Some(rest) = text.strip_prefix('+') {
            let Some(ms) = parse_duration(rest) else {
                let why = if is_duration_form(rest) {
                    "moves the clock too far"
                } else {
                    "is not a duration"
                };
                bad(self, format!("`{text}` {why}"));
                return None;
            };
            let Some(next) = i64::try_from(ms).ok().and_then(|ms| now.checked_add(ms)) else {
                bad(self, format!("`{text}` moves the clock too far"));
                return None;
            };
            *now = next;
            return Some(Some(At::After { ms, text }));
        }
        let Some(ms) = parse_time(&text) else {
            bad(
                self,
                format!("`{text}` is neither `+N` with a unit nor an RFC 3339 time"),
            );
            return None;
        };
        if ms < *now {
            self.push(
                Diagnostic::error(
                    Code::InvalidTime,
                    span,
                    format!(
                        "`{text}` is before the clock's time at this step ({})",
                        format_time(*now)
                    ),
                )
                .with_label("the clock would move backwards")
                .with_help("steps run in order and the clock only moves forward"),
            );
            return None;
        }
        *now = ms;
        Some(Some(At::Instant { ms, text }))
    }

    fn expect(&mut self, cx: &Table<'_, '_>, is_tick: bool) -> Option<Expect> {
        let Some(value) = cx.table.get("expect") else {
            return Some(Expect::Applied);
        };
        let span = span_of(value);
        let DeValue::String(text) = value.get_ref() else {
            self.wrong_type(span, "expect", "a string", value.get_ref());
            return None;
        };
        match Expect::parse(text) {
            Ok(Expect::Applied) => Some(Expect::Applied),
            Ok(_) if is_tick => {
                self.push(
                    Diagnostic::error(
                        Code::InvalidExpect,
                        span,
                        format!("a `tick` is always applied, never `{text}`"),
                    )
                    .with_label("cannot hold")
                    .with_help("remove `expect`, or write `expect = \"applied\"`"),
                );
                None
            }
            Ok(expect) => Some(expect),
            Err(ExpectError::Invalid) => {
                let mut help = format!("write one of {}", list_in_backticks(EXPECT_FORMS));
                if let Some(near) = closest(text, &["applied", "duplicate", "rejected"]) {
                    help = format!("did you mean `{near}`? {help}");
                }
                self.push(
                    Diagnostic::error(
                        Code::InvalidExpect,
                        span,
                        format!("`{text}` is not an expectation"),
                    )
                    .with_label("not an expectation")
                    .with_help(help),
                );
                None
            }
            Err(ExpectError::UnknownCode(code)) => {
                let codes: Vec<&str> = RejectionCode::ALL.iter().map(|c| c.as_str()).collect();
                let help = match closest(&code, &codes) {
                    Some(near) => format!("did you mean `rejected:{near}`?"),
                    None => format!("the codes are {}", list_in_backticks(&codes)),
                };
                self.push(
                    Diagnostic::error(
                        Code::UnknownRejectionCode,
                        span,
                        format!("`{code}` is not a rejection code"),
                    )
                    .with_label("unknown rejection code")
                    .with_help(help),
                );
                None
            }
        }
    }

    /// A TOML value as JSON (datetimes become their RFC 3339 text).
    fn json(&mut self, value: &Spanned<DeValue<'_>>) -> Option<Value> {
        let span = span_of(value);
        Some(match value.get_ref() {
            DeValue::String(s) => Value::String(s.to_string()),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(d) => Value::String(d.to_string()),
            DeValue::Integer(int) => {
                let digits = int.as_str().replace('_', "");
                match i64::from_str_radix(&digits, int.radix()) {
                    Ok(n) => Value::Number(n.into()),
                    Err(_) => {
                        self.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                span,
                                "this integer does not fit in 64 bits",
                            )
                            .with_label("too large"),
                        );
                        return None;
                    }
                }
            }
            DeValue::Float(float) => {
                let number = float
                    .as_str()
                    .replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64);
                match number {
                    Some(n) => Value::Number(n),
                    None => {
                        self.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                span,
                                "`inf` and `nan` have no JSON form",
                            )
                            .with_label("not a finite number"),
                        );
                        return None;
                    }
                }
            }
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    out.push(self.json(item)?);
                }
                Value::Array(out)
            }
            DeValue::Table(table) => {
                let mut out = Map::new();
                for (key, item) in table.iter() {
                    out.insert(key.get_ref().to_string(), self.json(item)?);
                }
                Value::Object(out)
            }
        })
    }

    fn checks(&mut self, root: &DeTable<'_>) -> Vec<Check> {
        let tables = self.array_of_tables(root, "check", "`[[check]]`");
        let mut checks = Vec::new();
        for cx in &tables {
            self.unknown_keys(cx, CHECK_KEYS, |key| {
                STEP_KEYS.contains(&key).then_some("`[[step]]`")
            });
            let target = self.check_target(cx);
            let operator = matches!(target, Some(CheckTarget::Operator(_)));
            let mut expected = Vec::new();
            for field in CheckField::ALL {
                if let Some(value) = self.check_value(cx, field) {
                    expected.push((field, value));
                }
            }
            for (field, _) in &expected {
                if target.is_some() && field.of_operator() != operator {
                    let key = field.as_str();
                    let span = cx.table.get(key).map_or(cx.span, span_of);
                    let (message, help) = if operator {
                        (
                            format!("an operator check has no `{key}`"),
                            "an operator check (`operator = \"…\"`) checks `status`; check the case with `case = \"…\"`",
                        )
                    } else {
                        (
                            format!("a case check has no `{key}`"),
                            "`status` is an operator's: check it with `operator = \"…\"`",
                        )
                    };
                    self.push(
                        Diagnostic::error(Code::UnknownKey, span, message)
                            .with_label("not checked here")
                            .with_help(help),
                    );
                }
            }
            if let Some(target) = target {
                checks.push(Check {
                    span: cx.span,
                    line: line_col(self.source, cx.span.start).0,
                    target,
                    expected,
                });
            }
        }
        checks
    }

    /// What a `[[check]]` looks at: `case` or `operator`, exactly one of them.
    fn check_target(&mut self, cx: &Table<'_, '_>) -> Option<CheckTarget> {
        let has = |key| cx.table.contains_key(key);
        if has("case") && has("operator") {
            let span = cx.table.get("operator").map_or(cx.span, span_of);
            self.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    span,
                    "a check looks at a case or at an operator, not both",
                )
                .with_label("a second target")
                .with_help("write one `[[check]]` for the case and one for the operator"),
            );
            return None;
        }
        if has("operator") {
            return self
                .string(cx, "operator", true)
                .map(|(id, _)| CheckTarget::Operator(id));
        }
        self.string(cx, "case", true)
            .map(|(id, _)| CheckTarget::Case(id))
    }

    fn check_value(&mut self, cx: &Table<'_, '_>, field: CheckField) -> Option<Expected> {
        let key = field.as_str();
        if field == CheckField::Signals {
            let value = cx.table.get(key)?;
            let DeValue::Array(items) = value.get_ref() else {
                self.wrong_type(
                    span_of(value),
                    key,
                    "a list of signal names",
                    value.get_ref(),
                );
                return None;
            };
            let mut names = Vec::new();
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => names.push(s.to_string()),
                    other => {
                        self.wrong_type(span_of(item), key, "a list of signal names", other);
                        return None;
                    }
                }
            }
            return Some(Expected::List(names));
        }
        let (text, span) = self.string(cx, key, false)?;
        if field == CheckField::Approval
            && text != "none"
            && text.strip_prefix("pending:").is_none_or(str::is_empty)
        {
            self.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    span,
                    format!("`{text}` is not a value of `approval`"),
                )
                .with_label("not an `approval` value")
                .with_help("write `none`, or `pending:<phase id>` for the phase a waiting move would enter"),
            );
            return None;
        }
        if let Some(accepted) = field.accepted()
            && !accepted.contains(&text.as_str())
        {
            let mut help = format!("accepted values: {}", list_in_backticks(accepted));
            if let Some(near) = closest(&text, accepted) {
                help = format!("did you mean `{near}`? {help}");
            }
            self.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    span,
                    format!("`{text}` is not a value of `{key}`"),
                )
                .with_label(format!("not a `{key}` value"))
                .with_help(help),
            );
            return None;
        }
        Some(Expected::One(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::CheckTarget;
    use crate::spine::CommandBody;

    const GOOD: &str = r#"
name = "demo"
surfaces = ["../surfaces"]
start = "2026-01-10T09:00:00Z"

[principals]
client = { id = "client-ava", roles = ["client"] }
admin  = { id = "admin-kim",  roles = ["admin"] }

[[step]]
as = "client"
command = "submit_request"
case = "ev-1"
args = { surface = "event-coordination", intake = { contact = "ava@example.com", guests = 40, ratio = 0.5 } }
key = "submit-ev-1"

[[step]]
as = "admin"
command = "approve_task"
case = "ev-1"
at = "+2h"
expect = "rejected:task_not_approved"

[[step]]
command = "tick"
at = 2026-01-11T09:00:00Z

[[check]]
case = "ev-1"
task = "approved"
signals = ["record"]
"#;

    fn parse_str(text: &str) -> Result<Scenario, Vec<Diagnostic>> {
        parse(text, Path::new("dir/demo.toml"))
    }

    fn codes(text: &str) -> Vec<(Code, String)> {
        let diags = parse_str(text).unwrap_err();
        diags
            .iter()
            .map(|d| (d.code, text[d.span.start..d.span.end].to_string()))
            .collect()
    }

    #[test]
    fn parses_the_contract_example() {
        let s = parse_str(GOOD).unwrap();
        assert_eq!(s.name, "demo");
        assert_eq!(s.surfaces[0].path, Path::new("dir/../surfaces"));
        assert_eq!(s.start, parse_time("2026-01-10T09:00:00Z").unwrap());
        assert_eq!(s.principals.len(), 2);
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.steps[0].line, 10);
        assert_eq!(s.checks[0].line, 28);
        let first = &s.steps[0];
        assert_eq!(first.principal.as_ref().unwrap().id, "client-ava");
        assert_eq!(first.key.as_deref(), Some("submit-ev-1"));
        let Action::Command(cmd) = &first.action else {
            panic!()
        };
        let CommandBody::SubmitRequest { intake, .. } = &cmd.body else {
            panic!("{cmd:?}")
        };
        assert_eq!(intake["guests"], 40);
        assert_eq!(s.steps[1].time, s.start + 2 * 3_600_000);
        assert_eq!(
            s.steps[1].expect,
            Expect::Rejected(Some(RejectionCode::TaskNotApproved))
        );
        assert_eq!(s.steps[2].action, Action::Tick);
        assert_eq!(s.steps[2].time, parse_time("2026-01-11T09:00:00Z").unwrap());
        assert_eq!(s.checks[0].expected.len(), 2);
    }

    #[test]
    fn name_defaults_to_the_stem_and_start_to_2026() {
        let s = parse_str(
            "[principals]\na = { id = \"a\", roles = [\"admin\"] }\n[[step]]\ncommand = \"tick\"\n",
        )
        .unwrap();
        assert_eq!(s.name, "demo");
        assert_eq!(s.start, DEFAULT_START_MS);
    }

    #[test]
    fn reports_every_problem_with_its_position() {
        let text = r#"
nme = "x"
[principals]
lee = { id = "op-lee", roles = ["operater"], extra = 1 }
[[step]]
as = "le"
command = "claim_jobb"
case = "c"
[[step]]
as = "lee"
command = "advance"
case = "c"
at = "tomorrow"
expect = "rejected:no_jobs"
[[step]]
command = "tick"
expect = "duplicate"
[[check]]
case = "c"
task = "done"
"#;
        let found = codes(text);
        assert_eq!(
            found,
            vec![
                (Code::UnknownKey, "nme".into()),
                (Code::UnknownRole, "\"operater\"".into()),
                (Code::UnknownKey, "extra".into()),
                (Code::UnknownPrincipal, "\"le\"".into()),
                (Code::UnknownCommand, "\"claim_jobb\"".into()),
                (Code::InvalidTime, "\"tomorrow\"".into()),
                (Code::UnknownRejectionCode, "\"rejected:no_jobs\"".into()),
                (Code::InvalidExpect, "\"duplicate\"".into()),
                (Code::InvalidValue, "\"done\"".into()),
            ],
            "{found:?}"
        );
    }

    #[test]
    fn unknown_principal_has_a_hint() {
        let text = "[principals]\nlee = { id = \"op-lee\", roles = [\"operator\"] }\n[[step]]\nas = \"le\"\ncommand = \"claim_job\"\ncase = \"c\"\n";
        let diags = parse_str(text).unwrap_err();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::UnknownPrincipal);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `lee`?"));
    }

    #[test]
    fn commands_need_as_and_case() {
        let found = codes("[[step]]\ncommand = \"approve_task\"\n");
        assert_eq!(
            found.iter().filter(|(c, _)| *c == Code::MissingKey).count(),
            2,
            "{found:?}"
        );
    }

    #[test]
    fn time_never_moves_backwards() {
        let text = "start = \"2026-01-10T09:00:00Z\"\n[[step]]\ncommand = \"tick\"\nat = \"2026-01-09T09:00:00Z\"\n";
        assert_eq!(
            codes(text),
            vec![(Code::InvalidTime, "\"2026-01-09T09:00:00Z\"".into())]
        );
    }

    #[test]
    fn clock_moves_take_the_surface_duration_form() {
        let at = |offset: &str| {
            let text = format!("[[step]]\ncommand = \"tick\"\nat = \"{offset}\"\n");
            parse_str(&text).map_or_else(
                |diags| diags.iter().map(|d| d.message.clone()).collect(),
                |_| Vec::new(),
            )
        };
        assert!(at("+2h").is_empty());
        assert!(at("+007s").is_empty());
        assert_eq!(at("+1.5h"), vec!["`+1.5h` is not a duration"]);
        assert_eq!(at("++1h"), vec!["`++1h` is not a duration"]);
        assert_eq!(at("+1 hour"), vec!["`+1 hour` is not a duration"]);
        assert_eq!(
            at("+99999999999999999999d"),
            vec!["`+99999999999999999999d` moves the clock too far"]
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        let diags = parse_str("[[step]\ncommand = \"tick\"\n").unwrap_err();
        assert_eq!(diags[0].code, Code::TomlSyntax);
    }

    #[test]
    fn bad_args_are_left_to_the_engine() {
        let text = "[principals]\na = { id = \"a\", roles = [\"admin\"] }\n[[step]]\nas = \"a\"\ncommand = \"advance\"\ncase = \"c\"\nargs = { to = 3 }\nexpect = \"rejected:payload_invalid\"\n";
        let s = parse_str(text).unwrap();
        let Action::Command(cmd) = &s.steps[0].action else {
            panic!()
        };
        assert!(matches!(cmd.body, CommandBody::Malformed { .. }));
    }

    #[test]
    fn ticks_take_no_args_or_key_and_shapes_are_checked() {
        let text = r#"
start = "yesterday"
surfaces = "one/dir"
[principals]
a = "admin"
b = { id = "", roles = "admin" }
[[step]]
command = "tick"
args = { x = 1 }
key = "k"
[[check]]
task = "open"
signals = "record"
"#;
        let found = codes(text);
        assert_eq!(
            found,
            vec![
                (Code::InvalidTime, "\"yesterday\"".into()),
                (Code::WrongType, "\"admin\"".into()),
                (Code::InvalidValue, "\"\"".into()),
                (Code::WrongType, "\"admin\"".into()),
                (Code::InvalidValue, "{ x = 1 }".into()),
                (Code::InvalidValue, "\"k\"".into()),
                (Code::MissingKey, "[[check]]".into()),
                (Code::WrongType, "\"record\"".into()),
            ],
            "{found:?}"
        );
    }

    #[test]
    fn a_single_surfaces_string_is_accepted() {
        let s = parse_str("surfaces = \"s\"\n[[step]]\ncommand = \"tick\"\n").unwrap();
        assert_eq!(s.surfaces[0].path, Path::new("dir/s"));
    }

    #[test]
    fn a_scenario_needs_steps() {
        assert_eq!(
            codes("name = \"x\"\n"),
            vec![(Code::MissingKey, String::new())]
        );
    }

    #[test]
    fn operator_steps_and_checks() {
        let text = r#"
[principals]
admin = { id = "admin-kim", roles = ["admin"] }

[[step]]
as = "admin"
command = "suspend_operator"
args = { operator = "op-lee", reason = "lapsed" }

[[check]]
operator = "op-lee"
status = "suspended"

[[check]]
case = "c-1"
owner = "op-max"
approval = "pending:repairing"
"#;
        let scenario = parse_str(text).unwrap();
        let Action::Command(command) = &scenario.steps[0].action else {
            panic!("not a command")
        };
        assert_eq!(command.case, "operator:op-lee");
        assert_eq!(scenario.steps[0].case, None);
        assert_eq!(
            scenario.checks[0].target,
            CheckTarget::Operator("op-lee".into())
        );
        assert_eq!(
            scenario.checks[1].expected,
            vec![
                (CheckField::Owner, Expected::One("op-max".into())),
                (
                    CheckField::Approval,
                    Expected::One("pending:repairing".into())
                ),
            ]
        );
        let bad = |tail: &str| {
            codes(&format!(
                "[principals]\na = {{ id = \"a\", roles = [\"admin\"] }}\n[[step]]\nas = \"a\"\ncommand = \"close_task\"\ncase = \"c\"\n{tail}"
            ))
        };
        let code_of = |tail: &str| bad(tail).into_iter().map(|(c, _)| c).collect::<Vec<_>>();
        assert_eq!(
            code_of(
                "[[step]]\nas = \"a\"\ncommand = \"reinstate_operator\"\ncase = \"c\"\nargs = { operator = \"x\" }\n"
            ),
            [Code::InvalidValue]
        );
        assert_eq!(
            code_of("[[check]]\noperator = \"x\"\njob = \"queued\"\n"),
            [Code::UnknownKey]
        );
        assert_eq!(
            code_of("[[check]]\ncase = \"c\"\nstatus = \"active\"\n"),
            [Code::UnknownKey]
        );
        assert_eq!(
            code_of("[[check]]\ncase = \"c\"\noperator = \"x\"\n"),
            [Code::InvalidValue]
        );
        assert_eq!(
            code_of("[[check]]\ncase = \"c\"\napproval = \"waiting\"\n"),
            [Code::InvalidValue]
        );
        assert_eq!(
            code_of("[[check]]\noperator = \"x\"\nstatus = \"asleep\"\n"),
            [Code::InvalidValue]
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "",
            "[[step]]",
            "step = 1",
            "[[step]]\nat = 5",
            "[[check]]\ncase = 1",
            "\u{0}\u{ffff}",
            "[principals]\n[principals.a]\nid = \"x\"\nroles = [1]",
        ] {
            let _ = parse_str(text);
        }
    }
}

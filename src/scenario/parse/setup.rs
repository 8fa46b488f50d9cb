//! The scenario's setup: the `surfaces` it loads, its `start` time and its `[principals]`.

use std::path::Path;

use ::toml::de::{DeTable, DeValue};

use crate::diagnostic::Span;
use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::policy::{Principal, Role};
use crate::scenario::diagnostic::{Code, Diagnostic};
use crate::scenario::model::{DEFAULT_START_MS, SurfacePath};
use crate::spine::case::Millis;

use super::{PRINCIPAL_KEYS, Table, Walker, parse_time, span_of, type_name};

impl Walker<'_> {
    pub(super) fn surfaces(&mut self, root: &DeTable<'_>, file: &Path) -> Vec<SurfacePath> {
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

    pub(super) fn start(&mut self, root: &DeTable<'_>) -> Millis {
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

    pub(super) fn principals(&mut self, root: &DeTable<'_>) -> Vec<(String, Principal)> {
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
}

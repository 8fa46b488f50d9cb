//! Each `[[step]]`: who acts, the command and its case, the arguments (any TOML value as
//! JSON), the key, the clock move (`at`) and the expected outcome.

use ::toml::Spanned;
use ::toml::de::{DeTable, DeValue};
use serde_json::{Map, Number, Value};

use crate::diagnostic::line_col;
use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::policy::Principal;
use crate::scenario::diagnostic::{Code, Diagnostic};
use crate::scenario::model::{Action, At, Expect, ExpectError, Step};
use crate::spine::case::Millis;
use crate::spine::{Command, CommandKind, RejectionCode};
use crate::surface::parse_duration;
use crate::surface::validate::is_duration_form;

use super::{
    AT_HELP, CHECK_KEYS, EXPECT_FORMS, STEP_KEYS, Table, Walker, format_time, parse_time, span_of,
};

impl Walker<'_> {
    pub(super) fn steps(
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
}

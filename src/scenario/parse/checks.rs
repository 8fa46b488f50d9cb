//! Each `[[check]]`: the case or operator it looks at, and the value expected of each field.

use ::toml::de::{DeTable, DeValue};

use crate::diagnostic::line_col;
use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::scenario::diagnostic::{Code, Diagnostic};
use crate::scenario::model::{Check, CheckField, CheckTarget, Expected};

use super::{CHECK_KEYS, STEP_KEYS, Table, Walker, span_of};

impl Walker<'_> {
    pub(super) fn checks(&mut self, root: &DeTable<'_>) -> Vec<Check> {
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

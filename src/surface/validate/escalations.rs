//! Escalations: the phase each one watches, and its `after` duration.

use super::{Cx, is_blank, is_duration_form, parse_duration};
use crate::surface::diagnostic::{Code, Diagnostic};
use crate::surface::limits::MAX_ESCALATION_MS;

pub(super) fn check_escalations(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    for e in &cx.def.escalations {
        let e = &e.value;
        if let Some(phase) = &e.phase
            && !is_blank(phase)
            && !cx.phases.contains_key(phase.value.as_str())
        {
            out.push(
                Diagnostic::error(
                    Code::UnknownPhase,
                    phase.span,
                    format!("the escalation watches the unknown phase `{}`", phase.value),
                )
                .with_label("no such phase")
                .with_help(cx.phase_help(&phase.value)),
            );
        }
        let Some(after) = &e.after else { continue };
        if is_blank(after) {
            continue;
        }
        match parse_duration(&after.value) {
            Some(ms) if ms <= MAX_ESCALATION_MS => {}
            None if !is_duration_form(&after.value) => out.push(
                Diagnostic::error(
                    Code::InvalidDuration,
                    after.span,
                    format!("`{}` is not a duration", after.value),
                )
                .with_label("not a duration")
                .with_help(
                    "write a whole number and one unit: `s`, `m`, `h` or `d`, e.g. `90s`, \
                     `15m`, `24h`, `2d`",
                ),
            ),
            // Too long for the limit, or even for jiff: both are out of range.
            _ => out.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    after.span,
                    format!(
                        "`{}` is longer than the longest escalation, `366d`",
                        after.value
                    ),
                )
                .with_label("too long"),
            ),
        }
    }
}

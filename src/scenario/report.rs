//! What a scenario run produced, and how it is printed: one line per step, then each check.
//!
//! A [`ScenarioReport`] is plain data (serializable to JSON as is); [`ScenarioReport::to_text`]
//! prints it for people. Every step line names the step's index, the principal's id, the
//! command, the case, the outcome, the phase label after it and what the step did (or why it
//! was refused); a step or check that did not hold is marked `✗` with what was expected.
//! Nothing here runs anything: [`crate::scenario::run()`] fills the report in.

use std::fmt::Write as _;

use serde::Serialize;

use crate::scenario::model::{CheckField, Expect};
use crate::spine::RejectionCode;

/// The outcome of one scenario file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// The file it came from, as given.
    pub file: String,
    /// Whether every expectation and every check held.
    pub passed: bool,
    /// One entry per step, in order.
    pub steps: Vec<StepReport>,
    /// One entry per check, in order.
    pub checks: Vec<CheckReport>,
}

impl ScenarioReport {
    /// An empty report for `name` from `file`; [`ScenarioReport::finish`] sets `passed`.
    pub fn new(name: impl Into<String>, file: impl Into<String>) -> Self {
        ScenarioReport {
            name: name.into(),
            file: file.into(),
            passed: true,
            steps: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Recompute `passed` from the steps and checks.
    pub fn finish(&mut self) {
        self.passed = self.steps.iter().all(|s| s.held) && self.checks.iter().all(|c| c.held);
    }

    /// Steps whose expectation did not hold.
    pub fn failed_steps(&self) -> usize {
        self.steps.iter().filter(|s| !s.held).count()
    }

    /// Checks that did not hold.
    pub fn failed_checks(&self) -> usize {
        self.checks.iter().filter(|c| !c.held).count()
    }

    /// The report for people: a header, one line per step, each check, and a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario: {}  ({})", self.name, self.file);
        let who_w = width(
            self.steps.iter().map(|s| s.actor.as_deref().unwrap_or("—")),
            2,
        );
        let cmd_w = width(self.steps.iter().map(|s| s.command.as_str()), 7);
        let case_w = width(
            self.steps.iter().map(|s| s.case.as_deref().unwrap_or("—")),
            4,
        );
        let out_w = width(self.steps.iter().map(|s| s.outcome.as_str()), 7);
        let phase_w = width(
            self.steps
                .iter()
                .map(|s| s.phase_label.as_deref().unwrap_or("—")),
            5,
        );
        let idx_w = self.steps.len().to_string().len().max(2);
        let _ = writeln!(
            out,
            "   {:>idx_w$}  {:<who_w$}  {:<cmd_w$}  {:<case_w$}  {:<out_w$}  {:<phase_w$}  what happened",
            "#", "as", "command", "case", "outcome", "phase"
        );
        for step in &self.steps {
            let mark = if step.held { ' ' } else { '✗' };
            let mut detail = step.detail.clone();
            if !step.held {
                detail = format!("expected {}; {detail}", step.expect);
            }
            let line = format!(
                " {mark} {:>idx_w$}  {:<who_w$}  {:<cmd_w$}  {:<case_w$}  {:<out_w$}  {:<phase_w$}  {detail}",
                step.index,
                step.actor.as_deref().unwrap_or("—"),
                step.command,
                step.case.as_deref().unwrap_or("—"),
                step.outcome.as_str(),
                step.phase_label.as_deref().unwrap_or("—"),
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if !self.checks.is_empty() {
            out.push('\n');
        }
        for check in &self.checks {
            let mark = if check.held { ' ' } else { '✗' };
            let target = match (&check.case, &check.operator) {
                (Some(case), _) => case.clone(),
                (None, Some(operator)) => format!("operator {operator}"),
                (None, None) => "—".to_string(),
            };
            let _ = writeln!(out, " {mark} check {target} (line {})", check.line);
            let field_w = width(check.fields.iter().map(|f| f.field.as_str()), 5);
            for field in &check.fields {
                let line = if field.held {
                    format!("     {:<field_w$}  {}", field.field.as_str(), field.actual)
                } else {
                    format!(
                        "   ✗ {:<field_w$}  expected {}, found {}",
                        field.field.as_str(),
                        field.expected,
                        field.actual
                    )
                };
                let _ = writeln!(out, "{line}");
            }
        }
        out.push('\n');
        let steps = self.steps.len();
        let checks = self.checks.len();
        if self.passed {
            let _ = writeln!(
                out,
                "ok: {}, {}: every expectation held",
                plural(steps, "step"),
                plural(checks, "check")
            );
        } else {
            let _ = writeln!(
                out,
                "FAILED: {} of {} and {} of {} did not hold",
                self.failed_steps(),
                plural(steps, "step"),
                self.failed_checks(),
                plural(checks, "check")
            );
        }
        out
    }
}

fn width<T: AsRef<str>>(items: impl Iterator<Item = T>, min: usize) -> usize {
    items
        .map(|s| s.as_ref().chars().count())
        .max()
        .unwrap_or(0)
        .max(min)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The outcome of one step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    /// 1-based position among the steps.
    pub index: usize,
    /// The line of the `[[step]]` header in the file.
    pub line: usize,
    /// The principal's id (`None` for a tick sent by nobody).
    pub actor: Option<String>,
    /// The command's name, or `tick`.
    pub command: String,
    /// The case addressed.
    pub case: Option<String>,
    /// The clock when the step ran, RFC 3339.
    pub at: String,
    /// What was expected.
    pub expect: Expect,
    /// What happened.
    pub outcome: Outcome,
    /// Whether the outcome is the expected one.
    pub held: bool,
    /// The ServiceEvent's (or the queued Job's) phase id after the step.
    pub phase: Option<String>,
    /// That phase's label, as operators see it.
    pub phase_label: Option<String>,
    /// What the step did (`task approved · assignee op-lee`), or why it was refused.
    pub detail: String,
    /// The types of the events the step appended, in order.
    pub events: Vec<String>,
}

/// What a step produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (a tick is always applied).
    Applied,
    /// The idempotency key was seen before; nothing was written.
    Duplicate,
    /// Refused with this code.
    Rejected(RejectionCode),
    /// The engine failed (the store, not the command): the step could not be judged.
    Error,
}

impl Outcome {
    /// `applied`, `duplicate`, `rejected:<code>` or `error`.
    pub fn as_str(&self) -> String {
        match self {
            Outcome::Applied => "applied".to_string(),
            Outcome::Duplicate => "duplicate".to_string(),
            Outcome::Rejected(code) => format!("rejected:{code}"),
            Outcome::Error => "error".to_string(),
        }
    }

    /// Whether this outcome is what `expect` asks for.
    pub fn meets(&self, expect: Expect) -> bool {
        match (expect, self) {
            (Expect::Applied, Outcome::Applied) | (Expect::Duplicate, Outcome::Duplicate) => true,
            (Expect::Rejected(None), Outcome::Rejected(_)) => true,
            (Expect::Rejected(Some(want)), Outcome::Rejected(got)) => want == *got,
            _ => false,
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The case checked (a case check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// The operator checked (an operator check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The line of the `[[check]]` header in the file.
    pub line: usize,
    /// Whether every field held.
    pub held: bool,
    /// One entry per field written.
    pub fields: Vec<FieldReport>,
}

/// One field of a check: expected against actual.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldReport {
    /// The field.
    pub field: CheckField,
    /// The value written in the check.
    pub expected: String,
    /// The value found on the case.
    pub actual: String,
    /// Whether they agree.
    pub held: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(
        index: usize,
        command: &str,
        outcome: Outcome,
        expect: Expect,
        label: Option<&str>,
    ) -> StepReport {
        StepReport {
            index,
            line: index * 5,
            actor: Some("admin-kim".into()),
            command: command.into(),
            case: Some("ev-1".into()),
            at: "2026-01-01T00:00:00Z".into(),
            expect,
            held: outcome.meets(expect),
            outcome,
            phase: label.map(|_| "arrived".into()),
            phase_label: label.map(str::to_string),
            detail: "task approved · assignee op-lee".into(),
            events: vec!["task_assigned".into()],
        }
    }

    fn report() -> ScenarioReport {
        let mut r = ScenarioReport::new("demo", "demo.toml");
        r.steps.push(step(
            3,
            "assign_task",
            Outcome::Applied,
            Expect::Applied,
            None,
        ));
        r.steps.push(step(
            4,
            "claim_job",
            Outcome::Rejected(RejectionCode::NoJob),
            Expect::Rejected(Some(RejectionCode::NoJob)),
            Some("On Site"),
        ));
        r.checks.push(CheckReport {
            case: Some("ev-1".into()),
            operator: None,
            line: 40,
            held: true,
            fields: vec![FieldReport {
                field: CheckField::Task,
                expected: "closed".into(),
                actual: "closed".into(),
                held: true,
            }],
        });
        r.finish();
        r
    }

    #[test]
    fn text_has_one_line_per_step_with_the_phase_label() {
        let text = report().to_text();
        assert!(text.contains("assign_task  ev-1  applied"), "{text}");
        assert!(text.contains("rejected:no_job  On Site"), "{text}");
        assert!(text.contains("task approved · assignee op-lee"), "{text}");
        assert!(
            text.contains("ok: 2 steps, 1 check: every expectation held"),
            "{text}"
        );
    }

    #[test]
    fn failures_are_marked_with_what_was_expected() {
        let mut r = report();
        r.steps.push(step(
            5,
            "close_task",
            Outcome::Applied,
            Expect::Rejected(None),
            None,
        ));
        r.checks[0].fields[0].actual = "open".into();
        r.checks[0].fields[0].held = false;
        r.checks[0].held = false;
        r.finish();
        assert!(!r.passed);
        let text = r.to_text();
        assert!(text.contains(" ✗  5  admin-kim"), "{text}");
        assert!(text.contains("expected rejected;"), "{text}");
        assert!(
            text.contains(" ✗ check ev-1 (line 40)\n   ✗ task   expected closed, found open"),
            "{text}"
        );
        assert!(
            text.contains("FAILED: 1 of 3 steps and 1 of 1 check did not hold"),
            "{text}"
        );
    }

    #[test]
    fn json_uses_the_text_forms() {
        let json = serde_json::to_value(report()).unwrap();
        assert_eq!(json["steps"][1]["outcome"], "rejected:no_job");
        assert_eq!(json["steps"][1]["expect"], "rejected:no_job");
        assert_eq!(json["steps"][1]["phase_label"], "On Site");
        assert_eq!(json["checks"][0]["fields"][0]["field"], "task");
        assert_eq!(json["passed"], true);
    }

    #[test]
    fn outcomes_meet_expectations() {
        assert!(Outcome::Rejected(RejectionCode::NoJob).meets(Expect::Rejected(None)));
        assert!(
            !Outcome::Rejected(RejectionCode::NoJob)
                .meets(Expect::Rejected(Some(RejectionCode::NotOwner)))
        );
        assert!(!Outcome::Error.meets(Expect::Applied));
        assert!(!Outcome::Duplicate.meets(Expect::Applied));
    }
}

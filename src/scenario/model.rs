//! The typed scenario: what a scenario file (`docs/scenario.md`) says, checked and resolved.
//!
//! A [`Scenario`] is only built by [`crate::scenario::parse()`], which has already resolved every
//! principal, command name, time and expectation, so that running it can never meet a name it
//! does not know. Each step and check keeps the [`Span`] it was written at, so reports can point
//! back at the file.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::policy::Principal;
use crate::spine::case::Millis;
use crate::spine::{Command, RejectionCode};
use crate::surface::Span;

/// The default start of a scenario's clock: 2026-01-01T00:00:00Z, in unix milliseconds.
pub const DEFAULT_START_MS: Millis = 1_767_225_600_000;

/// A parsed scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The scenario's name (the file stem when the file gives none).
    pub name: String,
    /// Surface directories or files, resolved relative to the scenario file's directory.
    pub surfaces: Vec<SurfacePath>,
    /// The clock's start, unix milliseconds.
    pub start: Millis,
    /// The principals, in the order written, each under its key.
    pub principals: Vec<(String, Principal)>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The checks run after all steps, in order.
    pub checks: Vec<Check>,
}

impl Scenario {
    /// The principal written under `key` in `[principals]`.
    pub fn principal(&self, key: &str) -> Option<&Principal> {
        self.principals
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| p)
    }
}

/// One entry of `surfaces`: the path as written and where it resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SurfacePath {
    /// The text written in the file.
    pub written: String,
    /// Resolved against the scenario file's directory.
    pub path: PathBuf,
    /// Where it was written.
    pub span: Span,
}

/// One `[[step]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 1-based position among the steps.
    pub index: usize,
    /// The `[[step]]` table's span.
    pub span: Span,
    /// The 1-based line the `[[step]]` table starts on.
    pub line: usize,
    /// The `as` key, when given.
    pub actor: Option<String>,
    /// The principal `as` names, when given.
    pub principal: Option<Principal>,
    /// A command, or a tick.
    pub action: Action,
    /// The `case`, when given (always given for commands).
    pub case: Option<String>,
    /// The `args` as written (a JSON object; `{}` when absent).
    pub args: Value,
    /// The idempotency key.
    pub key: Option<String>,
    /// When to move the clock before the step.
    pub at: Option<At>,
    /// The clock's time when the step runs (start plus every `at` so far), unix milliseconds.
    pub time: Millis,
    /// What the step must produce.
    pub expect: Expect,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A command (`docs/commands.md`), built with its case and arguments.
    Command(Command),
    /// Run due escalations.
    Tick,
}

impl Action {
    /// The command's name, or `tick`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Command(command) => command.kind().as_str(),
            Action::Tick => "tick",
        }
    }
}

/// A step's `at`: how the clock moves before the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    /// `+2h`: forward by this many milliseconds.
    After {
        /// Milliseconds.
        ms: u64,
        /// The text written.
        text: String,
    },
    /// An RFC 3339 time: set the clock to it.
    Instant {
        /// Unix milliseconds.
        ms: Millis,
        /// The text written.
        text: String,
    },
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::After { text, .. } | At::Instant { text, .. } => f.write_str(text),
        }
    }
}

/// What a step is expected to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The command was applied (or the tick ran).
    Applied,
    /// The idempotency key was seen before: the first outcome, nothing written.
    Duplicate,
    /// Refused; with a code, refused with exactly that code.
    Rejected(Option<RejectionCode>),
}

impl Expect {
    /// Parse `applied`, `duplicate`, `rejected` or `rejected:<code>`.
    pub fn parse(text: &str) -> Result<Expect, ExpectError> {
        match text {
            "applied" => Ok(Expect::Applied),
            "duplicate" => Ok(Expect::Duplicate),
            "rejected" => Ok(Expect::Rejected(None)),
            other => match other.strip_prefix("rejected:") {
                Some(code) => RejectionCode::parse(code)
                    .map(|c| Expect::Rejected(Some(c)))
                    .ok_or_else(|| ExpectError::UnknownCode(code.to_string())),
                None => Err(ExpectError::Invalid),
            },
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Applied => f.write_str("applied"),
            Expect::Duplicate => f.write_str("duplicate"),
            Expect::Rejected(None) => f.write_str("rejected"),
            Expect::Rejected(Some(code)) => write!(f, "rejected:{code}"),
        }
    }
}

impl Serialize for Expect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why an `expect` text did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectError {
    /// Not of the form `applied | duplicate | rejected | rejected:<code>`.
    Invalid,
    /// `rejected:<code>` with a code that is not a rejection code (`docs/commands.md`).
    UnknownCode(String),
}

/// One `[[check]]`: the state a case (or an operator's profile) must be in after every step.
/// Every field is optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The `[[check]]` table's span.
    pub span: Span,
    /// The 1-based line the `[[check]]` table starts on.
    pub line: usize,
    /// What is checked.
    pub target: CheckTarget,
    /// The expected values, in the order of [`CheckField::ALL`].
    pub expected: Vec<(CheckField, Expected)>,
}

/// What a `[[check]]` looks at: a case (`case = "ev-1"`) or an operator (`operator =
/// "op-lee"`, whose only field is `status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckTarget {
    /// A case, by id.
    Case(String),
    /// An operator's profile, by operator id.
    Operator(String),
}

impl fmt::Display for CheckTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckTarget::Case(id) => f.write_str(id),
            CheckTarget::Operator(id) => write!(f, "operator {id}"),
        }
    }
}

/// An expected value of a check field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Expected {
    /// A single value (`closed`, `op-lee`, `none`).
    One(String),
    /// A list (`signals`).
    List(Vec<String>),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::One(v) => f.write_str(v),
            Expected::List(items) => write!(f, "[{}]", items.join(", ")),
        }
    }
}

/// A field of a `[[check]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckField {
    /// The Task's state.
    Task,
    /// The assigned operator.
    Assignee,
    /// The Job's state.
    Job,
    /// The Job's owner.
    Owner,
    /// The ServiceEvent's phase id.
    Phase,
    /// The move waiting for approval: `pending:<phase id>` or `none`.
    Approval,
    /// The ServiceEvent's state.
    ServiceEvent,
    /// Whether the Record is sealed.
    Record,
    /// The Settlement's status.
    Settlement,
    /// Every signal emitted for the case, in order.
    Signals,
    /// An operator's status (operator checks only): `active`, `suspended` or `none`.
    Status,
}

impl CheckField {
    /// Every field, in the order of `docs/scenario.md`.
    pub const ALL: [CheckField; 11] = [
        CheckField::Task,
        CheckField::Assignee,
        CheckField::Job,
        CheckField::Owner,
        CheckField::Phase,
        CheckField::Approval,
        CheckField::ServiceEvent,
        CheckField::Record,
        CheckField::Settlement,
        CheckField::Signals,
        CheckField::Status,
    ];

    /// Whether the field is checked on an operator (`status`) rather than on a case.
    pub fn of_operator(self) -> bool {
        self == CheckField::Status
    }

    /// The key as written in a `[[check]]`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckField::Task => "task",
            CheckField::Assignee => "assignee",
            CheckField::Job => "job",
            CheckField::Owner => "owner",
            CheckField::Phase => "phase",
            CheckField::Approval => "approval",
            CheckField::ServiceEvent => "service_event",
            CheckField::Record => "record",
            CheckField::Settlement => "settlement",
            CheckField::Signals => "signals",
            CheckField::Status => "status",
        }
    }

    /// The values the field accepts; `None` when any non-empty text is accepted (an operator
    /// id, a phase id; `approval` takes `none` or `pending:<phase id>`).
    pub fn accepted(self) -> Option<&'static [&'static str]> {
        match self {
            CheckField::Task => Some(&["none", "open", "approved", "rejected", "closed"]),
            CheckField::Job => Some(&["none", "queued", "claimed", "completed", "cancelled"]),
            CheckField::ServiceEvent => Some(&["none", "open", "complete"]),
            CheckField::Record => Some(&["none", "sealed"]),
            CheckField::Settlement => Some(&["none", "pending", "captured", "refunded", "waived"]),
            CheckField::Status => Some(&["none", "active", "suspended"]),
            CheckField::Assignee
            | CheckField::Owner
            | CheckField::Phase
            | CheckField::Approval
            | CheckField::Signals => None,
        }
    }
}

impl fmt::Display for CheckField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_start_is_2026() {
        let ts: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(ts.as_millisecond(), DEFAULT_START_MS);
    }

    #[test]
    fn expect_round_trips() {
        for text in ["applied", "duplicate", "rejected", "rejected:no_job"] {
            assert_eq!(Expect::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Expect::parse("rejected:nope"),
            Err(ExpectError::UnknownCode("nope".into()))
        );
        assert_eq!(Expect::parse("ok"), Err(ExpectError::Invalid));
    }
}

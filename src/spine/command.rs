//! Commands: what a principal asks a case to do (listed in `docs/commands.md`).
//!
//! A command names its case and carries typed arguments. Commands that arrive as JSON (from a
//! scenario file or a host's HTTP body) are parsed with [`Command::from_json`]; arguments that
//! do not parse become [`CommandBody::Malformed`], so that `decide` can still report the right
//! rejection in the precedence order of `docs/commands.md` (a forbidden role outranks a
//! malformed payload).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spine::CommandKind;
use crate::spine::case::SettlementStatus;

/// A command addressed to one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// The case (one request lineage).
    pub case: String,
    /// What to do.
    pub body: CommandBody,
}

/// The arguments of each command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandBody {
    /// Create the Request and its governance Task.
    SubmitRequest {
        /// The surface slug (or `slug@version` to pin an exact version).
        surface: String,
        /// The intake fields.
        #[serde(default)]
        intake: BTreeMap<String, Value>,
        /// Photo references.
        #[serde(default)]
        photos: Vec<String>,
        /// Where the request came in. Never an assignment.
        #[serde(default)]
        routing_origin: Option<String>,
    },
    /// Task `open` → `approved`.
    ApproveTask,
    /// Task `open` → `rejected`.
    RejectTask {
        /// Why.
        reason: String,
    },
    /// Record the Assignment.
    AssignTask {
        /// The operator's id.
        operator: String,
    },
    /// A note on the Task.
    AnnotateTask {
        /// The note.
        note: String,
    },
    /// Governance closure.
    CloseTask,
    /// The explicit hand-off that makes the Job.
    CreateJob,
    /// Claim the Job; opens the ServiceEvent.
    ClaimJob,
    /// Move the ServiceEvent along a declared transition.
    Advance {
        /// The target phase id.
        to: String,
    },
    /// Add one evidence item.
    AttachEvidence {
        /// A declared evidence category.
        category: String,
        /// The host's reference to the artifact.
        #[serde(rename = "ref")]
        reference: String,
    },
    /// Complete the ServiceEvent and seal the Record.
    CompleteServiceEvent {
        /// The outcome.
        #[serde(default)]
        outcome: Option<String>,
    },
    /// Job `completed`.
    CompleteJob,
    /// Job `cancelled`.
    CancelJob {
        /// Why.
        reason: String,
    },
    /// Write economic state.
    RecordSettlement {
        /// The status.
        status: SettlementStatus,
        /// Amount in minor units.
        amount_minor: i64,
        /// ISO 4217 code.
        currency: String,
    },
    /// Erase the case's personal data: destroy the key its sensitive intake fields are sealed
    /// under (they read `"<erased>"` from then on).
    ErasePersonalData {
        /// Why (the legal ground or the request; never personal data itself).
        reason: String,
    },
    /// Create an operator's profile (the operator directory).
    RegisterOperator {
        /// The operator's id (the principal id their session carries).
        operator: String,
        /// Their display name.
        name: String,
        /// The surface slugs they are bound to; empty: every surface.
        #[serde(default)]
        surfaces: Vec<String>,
        /// Host-defined attributes (skills, region, ...).
        #[serde(default)]
        attributes: BTreeMap<String, Value>,
    },
    /// Change an operator's binding or attributes.
    UpdateOperator {
        /// The operator's id.
        operator: String,
        /// The new surface binding (empty: every surface); unchanged when absent.
        #[serde(default)]
        surfaces: Option<Vec<String>>,
        /// The new attributes (they replace the old ones); unchanged when absent.
        #[serde(default)]
        attributes: Option<BTreeMap<String, Value>>,
    },
    /// Suspend an operator.
    SuspendOperator {
        /// The operator's id.
        operator: String,
        /// Why.
        reason: String,
    },
    /// Reinstate a suspended operator.
    ReinstateOperator {
        /// The operator's id.
        operator: String,
    },
    /// Hand a claimed Job and its open ServiceEvent to another operator.
    ReassignJob {
        /// The operator who becomes the owner.
        operator: String,
        /// Why.
        reason: String,
    },
    /// Put a claimed Job with no work done back in the queue.
    ReleaseJob {
        /// Why.
        reason: String,
    },
    /// Perform the pending move.
    ApproveTransition,
    /// Drop the pending move.
    RejectTransition {
        /// Why.
        reason: String,
    },
    /// Move the case to another version of its surface.
    MigrateCase {
        /// The target version (of the same slug).
        to_version: u32,
    },
    /// A command whose arguments did not parse; always refused with `payload_invalid`.
    Malformed {
        /// The command it claimed to be.
        kind: CommandKind,
        /// Why it did not parse.
        error: String,
        /// The arguments as received (so `decide` can still name the surface of a submit).
        #[serde(default)]
        raw: Value,
    },
}

impl CommandBody {
    /// The command's name.
    pub fn kind(&self) -> CommandKind {
        match self {
            CommandBody::SubmitRequest { .. } => CommandKind::SubmitRequest,
            CommandBody::ApproveTask => CommandKind::ApproveTask,
            CommandBody::RejectTask { .. } => CommandKind::RejectTask,
            CommandBody::AssignTask { .. } => CommandKind::AssignTask,
            CommandBody::AnnotateTask { .. } => CommandKind::AnnotateTask,
            CommandBody::CloseTask => CommandKind::CloseTask,
            CommandBody::CreateJob => CommandKind::CreateJob,
            CommandBody::ClaimJob => CommandKind::ClaimJob,
            CommandBody::Advance { .. } => CommandKind::Advance,
            CommandBody::AttachEvidence { .. } => CommandKind::AttachEvidence,
            CommandBody::CompleteServiceEvent { .. } => CommandKind::CompleteServiceEvent,
            CommandBody::ErasePersonalData { .. } => CommandKind::ErasePersonalData,
            CommandBody::CompleteJob => CommandKind::CompleteJob,
            CommandBody::CancelJob { .. } => CommandKind::CancelJob,
            CommandBody::RecordSettlement { .. } => CommandKind::RecordSettlement,
            CommandBody::RegisterOperator { .. } => CommandKind::RegisterOperator,
            CommandBody::UpdateOperator { .. } => CommandKind::UpdateOperator,
            CommandBody::SuspendOperator { .. } => CommandKind::SuspendOperator,
            CommandBody::ReinstateOperator { .. } => CommandKind::ReinstateOperator,
            CommandBody::ReassignJob { .. } => CommandKind::ReassignJob,
            CommandBody::ReleaseJob { .. } => CommandKind::ReleaseJob,
            CommandBody::ApproveTransition => CommandKind::ApproveTransition,
            CommandBody::RejectTransition { .. } => CommandKind::RejectTransition,
            CommandBody::MigrateCase { .. } => CommandKind::MigrateCase,
            CommandBody::Malformed { kind, .. } => *kind,
        }
    }

    /// The arguments as a JSON object (the `command` map a rule sees, minus the name).
    pub fn args_json(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                map.remove("command");
                Value::Object(map)
            }
            _ => Value::Object(serde_json::Map::new()),
        }
    }
}

/// Why a command name could not be understood at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a command")]
pub struct UnknownCommand(pub String);

impl Command {
    /// A command on `case`.
    pub fn new(case: impl Into<String>, body: CommandBody) -> Self {
        Command {
            case: case.into(),
            body,
        }
    }

    /// The command's name.
    pub fn kind(&self) -> CommandKind {
        self.body.kind()
    }

    /// A command of the operator directory (`register_operator`, `update_operator`,
    /// `suspend_operator`, `reinstate_operator`) built from its name and arguments, addressed
    /// to the stream of the operator its `operator` argument names (`operator:<id>`; see
    /// [`crate::spine::operator::StreamId`]). Arguments that do not fit become
    /// [`CommandBody::Malformed`], as with [`Command::from_json`].
    pub fn for_operator(name: &str, args: &Value) -> Result<Command, UnknownCommand> {
        let operator = args
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Command::from_json(crate::spine::operator::stream_id(operator), name, args)
    }

    /// The operator a directory command names (its `operator` argument, also read from the
    /// arguments of a malformed one); `None` for every other command.
    pub fn directory_target(&self) -> Option<&str> {
        match &self.body {
            CommandBody::RegisterOperator { operator, .. }
            | CommandBody::UpdateOperator { operator, .. }
            | CommandBody::SuspendOperator { operator, .. }
            | CommandBody::ReinstateOperator { operator } => Some(operator),
            CommandBody::Malformed { kind, raw, .. } if kind.addresses_operator() => {
                raw.get("operator").and_then(Value::as_str)
            }
            _ => None,
        }
    }

    /// Build a command from its name and a JSON object of arguments. An unknown name is an
    /// error; arguments that do not fit the command become [`CommandBody::Malformed`].
    pub fn from_json(
        case: impl Into<String>,
        name: &str,
        args: &Value,
    ) -> Result<Command, UnknownCommand> {
        let kind = CommandKind::parse(name).ok_or_else(|| UnknownCommand(name.to_string()))?;
        let mut object = match args {
            Value::Object(map) => map.clone(),
            Value::Null => serde_json::Map::new(),
            other => {
                let error = format!("arguments must be a map, not {}", json_type(other));
                return Ok(Command::new(
                    case,
                    CommandBody::Malformed {
                        kind,
                        error,
                        raw: other.clone(),
                    },
                ));
            }
        };
        let raw = Value::Object(object.clone());
        object.insert("command".to_string(), Value::String(name.to_string()));
        let body = match serde_json::from_value::<CommandBody>(Value::Object(object)) {
            Ok(body) => body,
            Err(err) => CommandBody::Malformed {
                kind,
                error: format!("`{name}`: {err}"),
                raw: raw.clone(),
            },
        };
        // Serde ignores extra fields on argument-less commands; refuse them like any other.
        // (Arguments that did not decode already have their own error.)
        if !matches!(body, CommandBody::Malformed { .. })
            && let (Value::Object(given), Value::Object(known)) = (&raw, body.args_json())
            && let Some(extra) = given.keys().find(|k| !known.contains_key(*k))
        {
            let error = format!("`{name}` has no argument `{extra}`");
            return Ok(Command::new(
                case,
                CommandBody::Malformed { kind, error, raw },
            ));
        }
        Ok(Command::new(case, body))
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_shape() {
        let c = Command::from_json("c", "advance", &json!({"to": "arrived"})).unwrap();
        assert_eq!(
            c.body,
            CommandBody::Advance {
                to: "arrived".into()
            }
        );
        let c = Command::from_json("c", "approve_task", &Value::Null).unwrap();
        assert_eq!(c.body, CommandBody::ApproveTask);
        let c = Command::from_json(
            "c",
            "attach_evidence",
            &json!({"category": "before", "ref": "s3://x"}),
        )
        .unwrap();
        assert_eq!(
            c.body,
            CommandBody::AttachEvidence {
                category: "before".into(),
                reference: "s3://x".into()
            }
        );
    }

    #[test]
    fn bad_args_become_malformed() {
        let c = Command::from_json("c", "advance", &json!({"to": 3})).unwrap();
        assert!(matches!(
            c.body,
            CommandBody::Malformed {
                kind: CommandKind::Advance,
                ..
            }
        ));
        let c = Command::from_json("c", "advance", &json!({"to": "x", "extra": 1})).unwrap();
        assert!(matches!(c.body, CommandBody::Malformed { .. }), "{c:?}");
        assert!(Command::from_json("c", "fly", &Value::Null).is_err());
    }
}

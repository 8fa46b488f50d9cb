//! Idempotency keys: the bounds a key must keep, the fingerprint it is bound to, and the
//! answer to a key used before (its first outcome, or a refusal for a different command).

use serde::Serialize;
use serde_json::json;

use super::{EngineError, Receipt};
use crate::audit::digest_of;
use crate::host::IdempotencyRecord;
use crate::policy::{Principal, Role};
use crate::spine::{self, Command, Rejection, RejectionCode};

/// The fingerprint an idempotency key is bound to: SHA-256 over the canonical JSON of the
/// command and the principal (its id and its set of roles).
pub fn command_fingerprint(
    principal: &Principal,
    command: &Command,
) -> Result<String, EngineError> {
    #[derive(Serialize)]
    struct Bound<'a> {
        principal: &'a str,
        roles: Vec<Role>,
        command: &'a Command,
    }
    let mut roles = principal.roles.clone();
    roles.sort();
    roles.dedup();
    digest_of(&Bound {
        principal: &principal.id,
        roles,
        command,
    })
    .map_err(|source| EngineError::Serialization {
        what: "the command".to_string(),
        source,
    })
}

/// An idempotency key must be non-empty, at most [`spine::limits::MAX_ID_LEN`] bytes long and
/// free of control characters: it is stored in every event and in the key table.
pub(super) fn check_key(key: &str) -> Result<(), Rejection> {
    let max = spine::limits::MAX_ID_LEN;
    let problem = if key.trim().is_empty() {
        Some("the idempotency key must not be empty".to_string())
    } else if key.len() > max {
        Some(format!(
            "the idempotency key is {} bytes long; at most {max} are allowed",
            key.len()
        ))
    } else if key.chars().any(char::is_control) {
        Some("the idempotency key contains control characters".to_string())
    } else {
        None
    };
    match problem {
        Some(message) => Err(Rejection::new(RejectionCode::PayloadInvalid, message)
            .with_detail(json!({ "limit": "idempotency_key", "max_bytes": max }))),
        None => Ok(()),
    }
}

pub(super) fn replay_key(
    first: &IdempotencyRecord,
    fingerprint: &str,
) -> Result<Receipt, EngineError> {
    if first.fingerprint != fingerprint {
        return Ok(Receipt::Rejected(
            Rejection::new(
                RejectionCode::PayloadInvalid,
                format!(
                    "idempotency key `{}` was first used for a different command",
                    first.key
                ),
            )
            .with_detail(json!({ "key": first.key, "case": first.case_id })),
        ));
    }
    let receipt: Receipt =
        serde_json::from_str(&first.outcome).map_err(|source| EngineError::Serialization {
            what: format!("the first outcome of idempotency key `{}`", first.key),
            source,
        })?;
    Ok(Receipt::Duplicate(Box::new(receipt)))
}

/// `command` with the values of its `sensitive` intake fields replaced by a marker (for the
/// idempotency fingerprint: a retry that differs only in a sensitive value replays the first
/// outcome).
pub(super) fn redacted(command: &Command, sensitive: &[String]) -> Command {
    let mut command = command.clone();
    if let spine::CommandBody::SubmitRequest { intake, .. } = &mut command.body {
        for field in sensitive {
            if let Some(value) = intake.get_mut(field) {
                *value = serde_json::Value::String("<sensitive>".to_string());
            }
        }
    }
    command
}

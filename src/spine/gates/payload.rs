//! The arguments a command carries (3): free text, ids, references, amounts and the intake.
//!
//! This module owns the checks on what arrives from outside inside a command's body: that text
//! is present when required, within the limits of `spine::limits` and free of control
//! characters; that a settlement amount and currency make sense; that an intake is small and
//! shallow enough to judge. It refuses with `payload_invalid` (or `intake_invalid` for the
//! intake) and a message naming the field and the limit. It never looks at the case, the
//! surface or the principal (the intake contract of a surface is checked by
//! `policy::check_intake`, after these), and never echoes more of a value than the limits allow.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spine::command::CommandBody;
use crate::spine::gates::reject;
use crate::spine::limits;
use crate::spine::trace::{Trace, check, gate};
use crate::spine::{Rejection, RejectionCode as Code};

/// (3) The arguments of a command on an existing case: a body that did not parse is refused
/// with its parse error, then each argument is checked.
pub(in crate::spine) fn arguments_gate<T: Trace>(
    trace: &mut T,
    body: &CommandBody,
) -> Result<(), Rejection> {
    if let CommandBody::Malformed { error, .. } = body {
        gate(
            trace,
            "payload",
            reject(Code::PayloadInvalid, error.clone()),
            String::new,
        )?;
    }
    check(trace, "payload", check_payload(body), || {
        "the arguments are well formed".into()
    })
}

/// `value` of the argument `name`: non-empty when `required`, at most `max` bytes, and free of
/// control characters other than newline and tab.
pub(in crate::spine) fn text(
    name: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return reject(Code::PayloadInvalid, format!("`{name}` must not be empty"));
    }
    if value.len() > max {
        return reject(
            Code::PayloadInvalid,
            format!(
                "`{name}` is {} bytes long; at most {max} are allowed",
                value.len()
            ),
        );
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return reject(
            Code::PayloadInvalid,
            format!("`{name}` contains control characters"),
        );
    }
    Ok(())
}

/// Each argument of `body` within its limits (a malformed body is refused with its error).
fn check_payload(body: &CommandBody) -> Result<(), Rejection> {
    match body {
        CommandBody::RejectTask { reason }
        | CommandBody::CancelJob { reason }
        | CommandBody::ErasePersonalData { reason }
        | CommandBody::ReleaseJob { reason }
        | CommandBody::RejectTransition { reason } => {
            text("reason", reason, limits::MAX_TEXT_LEN, true)
        }
        CommandBody::AssignTask { operator } | CommandBody::ReinstateOperator { operator } => {
            text("operator", operator, limits::MAX_ID_LEN, true)
        }
        CommandBody::ReassignJob { operator, reason }
        | CommandBody::SuspendOperator { operator, reason } => {
            text("operator", operator, limits::MAX_ID_LEN, true)?;
            text("reason", reason, limits::MAX_TEXT_LEN, true)
        }
        CommandBody::RegisterOperator {
            operator,
            name,
            surfaces,
            attributes,
        } => {
            text("operator", operator, limits::MAX_ID_LEN, true)?;
            text("name", name, limits::MAX_NAME_LEN, true)?;
            check_surfaces(surfaces)?;
            check_attributes(attributes)
        }
        CommandBody::UpdateOperator {
            operator,
            surfaces,
            attributes,
        } => {
            text("operator", operator, limits::MAX_ID_LEN, true)?;
            if surfaces.is_none() && attributes.is_none() {
                return reject(
                    Code::PayloadInvalid,
                    "`update_operator` needs `surfaces` or `attributes`: there is nothing to change",
                );
            }
            surfaces.as_deref().map_or(Ok(()), check_surfaces)?;
            attributes.as_ref().map_or(Ok(()), check_attributes)
        }
        CommandBody::AnnotateTask { note } => text("note", note, limits::MAX_TEXT_LEN, true),
        CommandBody::Advance { to } => text("to", to, limits::MAX_ID_LEN, true),
        CommandBody::AttachEvidence {
            category,
            reference,
        } => {
            text("category", category, limits::MAX_ID_LEN, true)?;
            text("ref", reference, limits::MAX_REF_LEN, true)
        }
        CommandBody::CompleteServiceEvent { outcome } => match outcome {
            Some(o) => text("outcome", o, limits::MAX_TEXT_LEN, false),
            None => Ok(()),
        },
        CommandBody::RecordSettlement {
            amount_minor,
            currency,
            ..
        } => {
            if *amount_minor < 0 || *amount_minor > limits::MAX_AMOUNT_MINOR {
                return reject(
                    Code::PayloadInvalid,
                    format!(
                        "`amount_minor` must be between 0 and {}, not {amount_minor}",
                        limits::MAX_AMOUNT_MINOR
                    ),
                );
            }
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return reject(
                    Code::PayloadInvalid,
                    format!("`currency` must be an ISO 4217 code like `USD`, not `{currency}`"),
                );
            }
            Ok(())
        }
        CommandBody::MigrateCase { to_version: 0 } => reject(
            Code::PayloadInvalid,
            "`to_version` must be a positive whole number, not 0",
        ),
        CommandBody::Malformed { error, .. } => reject(Code::PayloadInvalid, error.clone()),
        CommandBody::MigrateCase { .. }
        | CommandBody::SubmitRequest { .. }
        | CommandBody::ApproveTask
        | CommandBody::CloseTask
        | CommandBody::CreateJob
        | CommandBody::ClaimJob
        | CommandBody::CompleteJob
        | CommandBody::ApproveTransition => Ok(()),
    }
}

/// An operator's surface binding: at most [`limits::MAX_OPERATOR_SURFACES`] slugs, each a
/// slug (`^[a-z][a-z0-9-]{1,62}$`), none twice.
fn check_surfaces(surfaces: &[String]) -> Result<(), Rejection> {
    if surfaces.len() > limits::MAX_OPERATOR_SURFACES {
        return reject(
            Code::PayloadInvalid,
            format!(
                "`surfaces` names {} surfaces; at most {} are allowed",
                surfaces.len(),
                limits::MAX_OPERATOR_SURFACES
            ),
        );
    }
    for (i, slug) in surfaces.iter().enumerate() {
        if !crate::surface::validate::is_slug(slug) {
            let shown: String = slug.chars().take(limits::MAX_ID_LEN).collect();
            return reject(
                Code::PayloadInvalid,
                format!(
                    "`surfaces` holds `{}`, which is not a surface slug",
                    shown.escape_debug()
                ),
            );
        }
        if surfaces
            .get(..i)
            .is_some_and(|before| before.contains(slug))
        {
            return reject(
                Code::PayloadInvalid,
                format!("`surfaces` names `{slug}` twice"),
            );
        }
    }
    Ok(())
}

/// An operator's attributes: bounded like an intake (fields, name length, nesting, size).
fn check_attributes(attributes: &BTreeMap<String, Value>) -> Result<(), Rejection> {
    check_map_size(attributes, "attributes", Code::PayloadInvalid)
}

/// How deeply lists and maps nest in `v` (a scalar is 0).
fn json_depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// (3) The intake of a new request is small and shallow enough to judge: at most
/// `MAX_INTAKE_FIELDS` fields with short names, nested at most `MAX_INTAKE_DEPTH` levels and
/// `MAX_INTAKE_BYTES` long as compact JSON.
pub(in crate::spine) fn check_intake_size(
    intake: &BTreeMap<String, Value>,
) -> Result<(), Rejection> {
    check_map_size(intake, "intake", Code::IntakeInvalid)
}

/// A map of host data (`what`: the intake, an operator's attributes) within the intake's
/// limits, refused with `code` and a message naming `what` and the limit.
fn check_map_size(map: &BTreeMap<String, Value>, what: &str, code: Code) -> Result<(), Rejection> {
    let intake = map;
    if intake.len() > limits::MAX_INTAKE_FIELDS {
        return reject(
            code,
            format!(
                "the {what} has {} fields; at most {} are allowed",
                intake.len(),
                limits::MAX_INTAKE_FIELDS
            ),
        );
    }
    for (key, value) in intake {
        if key.len() > limits::MAX_ID_LEN {
            return reject(
                code,
                format!(
                    "{} is longer than {} bytes",
                    field_name(what),
                    limits::MAX_ID_LEN
                ),
            );
        }
        if json_depth(value) > limits::MAX_INTAKE_DEPTH {
            return reject(
                code,
                format!(
                    "{} `{key}` nests deeper than {} levels",
                    field(what),
                    limits::MAX_INTAKE_DEPTH
                ),
            );
        }
    }
    // The length of the intake as compact JSON, counted without building it.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let size = serde_json::to_writer(&mut count, intake)
        .map(|()| count.0)
        .unwrap_or(usize::MAX);
    if size > limits::MAX_INTAKE_BYTES {
        return reject(
            code,
            format!(
                "the {what} is {size} bytes as JSON; at most {} are allowed",
                limits::MAX_INTAKE_BYTES
            ),
        );
    }
    Ok(())
}

/// How one entry of the map `what` is named in messages.
fn field(what: &str) -> &'static str {
    match what {
        "intake" => "intake field",
        _ => "attribute",
    }
}

/// "an intake field name", "an attribute name".
fn field_name(what: &str) -> String {
    format!("an {} name", field(what))
}

//! The operator directory's commands: `register_operator`, `update_operator`,
//! `suspend_operator`, `reinstate_operator` (admin).
//!
//! Each addresses the stream of the operator its `operator` argument names and reads that
//! operator's profile through the catalog. The checks run in the precedence order of
//! `docs/commands.md`, after the role gate of `spine::decide`: (2) the operator exists
//! (`operator_not_found`; not for `register_operator`), (3) the arguments (ids, texts,
//! surface slugs, attributes bounded like an intake, and the stream addressed is the
//! operator's), (4) the profile's state (`invalid_state`: registering an existing operator,
//! suspending a suspended one, reinstating an active one). No surface is involved, so no rule
//! runs. Nothing here reads a clock, does I/O or panics.

use serde_json::json;

use crate::spine::catalog::Catalog;
use crate::spine::command::CommandBody;
use crate::spine::decide::Ctx;
use crate::spine::gates::payload::arguments_gate;
use crate::spine::gates::{ok, reject};
use crate::spine::operator::{OperatorProfile, OperatorStatus, stream_id};
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};

/// Judge a directory command (after the role gate).
pub(in crate::spine) fn judge<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
) -> Result<Vec<Event>, Rejection> {
    let command = cx.command;
    let kind = command.kind();
    let target = command.directory_target();
    let profile = target.and_then(|id| cx.catalog.profile(id));
    // (2) The operator addressed exists (a registration makes it).
    if kind != CommandKind::RegisterOperator
        && let Some(id) = target
    {
        gate(
            cx.trace,
            "operator",
            match profile {
                Some(_) => ok(),
                None => Err(Rejection::new(
                    Code::OperatorNotFound,
                    format!("there is no operator `{}`", shorten(id)),
                )
                .with_detail(json!({ "operator": shorten(id) }))),
            },
            || format!("operator `{id}` is registered"),
        )?;
    }
    // (3) The arguments, and the stream they address.
    arguments_gate(cx.trace, &command.body)?;
    let stream = stream_id(target.unwrap_or_default());
    gate(
        cx.trace,
        "payload",
        if command.case == stream {
            ok()
        } else {
            reject(
                Code::PayloadInvalid,
                format!(
                    "`{kind}` addresses the stream of the operator it names (`{stream}`), not `{}`",
                    shorten(&command.case)
                ),
            )
        },
        || format!("the command addresses `{stream}`"),
    )?;
    let by = cx.principal.id.clone();
    let at = cx.now;
    match &command.body {
        CommandBody::RegisterOperator {
            operator,
            name,
            surfaces,
            attributes,
        } => {
            state_gate(cx.trace, profile, None, "an operator is registered once")?;
            Ok(vec![Event::OperatorRegistered {
                operator: operator.clone(),
                name: name.clone(),
                surfaces: surfaces.clone(),
                attributes: attributes.clone(),
                by,
                at,
            }])
        }
        CommandBody::UpdateOperator {
            surfaces,
            attributes,
            ..
        } => Ok(vec![Event::OperatorUpdated {
            surfaces: surfaces.clone(),
            attributes: attributes.clone(),
            by,
            at,
        }]),
        CommandBody::SuspendOperator { reason, .. } => {
            state_gate(
                cx.trace,
                profile,
                Some(OperatorStatus::Active),
                "only an active operator can be suspended",
            )?;
            Ok(vec![Event::OperatorSuspended {
                reason: reason.clone(),
                by,
                at,
            }])
        }
        CommandBody::ReinstateOperator { .. } => {
            state_gate(
                cx.trace,
                profile,
                Some(OperatorStatus::Suspended),
                "only a suspended operator can be reinstated",
            )?;
            Ok(vec![Event::OperatorReinstated { by, at }])
        }
        _ => Err(Rejection::new(
            Code::PayloadInvalid,
            "the command could not be understood",
        )),
    }
}

/// (4) The profile is in the state the command needs: `None` (not registered yet) or the
/// given status; `what` ends the message when it is not.
fn state_gate<T: Trace>(
    trace: &mut T,
    profile: Option<&OperatorProfile>,
    wanted: Option<OperatorStatus>,
    what: &str,
) -> Result<(), Rejection> {
    let found = profile.map(|p| p.status);
    let describe = |s: Option<OperatorStatus>| match s {
        None => "not registered",
        Some(s) => s.as_str(),
    };
    gate(
        trace,
        "operator",
        if found == wanted {
            ok()
        } else {
            Err(Rejection::new(
                Code::InvalidState,
                match found {
                    None => format!("the operator is not registered: {what}"),
                    Some(s) if wanted.is_none() => {
                        format!("the operator is already registered ({s}): {what}")
                    }
                    Some(s) => format!("the operator is {s}: {what}"),
                },
            )
            .with_detail(json!({ "layer": "operator", "state": describe(found) })))
        },
        || format!("the operator is {}", describe(found)),
    )
}

/// At most a short prefix of an id from outside, for messages.
fn shorten(id: &str) -> String {
    let max = crate::spine::limits::MAX_ID_LEN;
    if id.len() <= max {
        return id.to_string();
    }
    let mut end = max;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", id.get(..end).unwrap_or(""))
}

//! The operator directory: who may act, as verified truth.
//!
//! An operator's profile ([`OperatorProfile`]: name, status, the surfaces they are bound to,
//! attributes) is folded from the operator's own stream, an ordinary stream of the store whose
//! id is `operator:<operator id>` ([`stream_id`], [`StreamId`]). Its events are the directory's
//! four (`operator_registered`, `operator_updated`, `operator_suspended`,
//! `operator_reinstated`), stored in the same hash-chained envelope as a case's, with an empty
//! surface pin. The four directory commands are judged by [`crate::spine::decide`] like every
//! other command (role gate, arguments, [`crate::spine::Trace`]); their judges live in
//! `directory`.
//!
//! `decide` reads profiles through [`crate::spine::Catalog::profile`]: the engine loads the
//! ones a command may consult ([`profiles_to_load`]) and hands them in with the surfaces, so
//! judging stays pure. A profile read and a case append are not one transaction: a suspension
//! applies to the commands decided after it commits.
//!
//! Nothing here does I/O, reads a clock or panics.

pub(super) mod directory;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::Principal;
use crate::spine::case::Case;
use crate::spine::catalog::Catalog;
use crate::spine::command::{Command, CommandBody};
use crate::spine::{CommandKind, Event};

/// The prefix of every operator stream id: `operator:<operator id>`. No case id may start
/// with it (`submit_request` refuses one with `payload_invalid`).
pub const OPERATOR_STREAM_PREFIX: &str = "operator:";

/// The id of `operator`'s stream.
pub fn stream_id(operator: &str) -> String {
    format!("{OPERATOR_STREAM_PREFIX}{operator}")
}

/// Whether `id` names an operator stream rather than a case.
pub fn is_operator_stream(id: &str) -> bool {
    id.starts_with(OPERATOR_STREAM_PREFIX)
}

/// What a stream id names: a case, or an operator's profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamId<'a> {
    /// A case (one request lineage).
    Case(&'a str),
    /// The stream of the operator with this id.
    Operator(&'a str),
}

impl<'a> StreamId<'a> {
    /// Tell the two kinds of stream apart by the id's prefix.
    pub fn parse(id: &'a str) -> StreamId<'a> {
        match id.strip_prefix(OPERATOR_STREAM_PREFIX) {
            Some(operator) => StreamId::Operator(operator),
            None => StreamId::Case(id),
        }
    }
}

/// Whether an operator may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorStatus {
    /// May be assigned, claim and act as owner (on the surfaces they are bound to).
    Active,
    /// May not, under `operators = "registered"`.
    Suspended,
}

impl OperatorStatus {
    /// `active` or `suspended`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorStatus::Active => "active",
            OperatorStatus::Suspended => "suspended",
        }
    }
}

impl fmt::Display for OperatorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's profile, folded from their stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorProfile {
    /// The operator's id (the principal id their session carries).
    pub id: String,
    /// Their display name.
    pub name: String,
    /// Active or suspended.
    pub status: OperatorStatus,
    /// The surface slugs they are bound to; empty: every surface.
    pub surfaces: Vec<String>,
    /// Host-defined attributes.
    pub attributes: BTreeMap<String, Value>,
    /// Why they are suspended (while they are).
    pub suspended_reason: Option<String>,
}

impl OperatorProfile {
    /// Whether the profile binds the operator to the surface `slug` (an empty binding binds
    /// every surface).
    pub fn binds(&self, slug: &str) -> bool {
        self.surfaces.is_empty() || self.surfaces.iter().any(|s| s == slug)
    }

    /// Whether the operator may act on `slug` under `operators = "registered"`: active and
    /// bound to it.
    pub fn may_act_on(&self, slug: &str) -> bool {
        self.status == OperatorStatus::Active && self.binds(slug)
    }
}

/// Why an event does not fold into a profile (what `verify` reports for an operator stream).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The stream does not start with `operator_registered`.
    #[error("an operator stream starts with `operator_registered`, not `{0}`")]
    NotRegistered(&'static str),
    /// A second `operator_registered`.
    #[error("the operator is already registered")]
    AlreadyRegistered,
    /// A suspension of a suspended operator, or a reinstatement of an active one.
    #[error("`{event}` does not follow: the operator is {status}")]
    OutOfOrder {
        /// The event's type.
        event: &'static str,
        /// The status it found.
        status: OperatorStatus,
    },
    /// An event of a case in an operator stream.
    #[error("`{0}` is an event of a case, not of an operator")]
    CaseEvent(&'static str),
}

/// Fold `event` into `profile` (`None` before the operator is registered). An event that does
/// not follow is reported and changes nothing; `decide` never produces one.
pub fn apply_profile(
    profile: &mut Option<OperatorProfile>,
    event: &Event,
) -> Result<(), ProfileError> {
    match (profile.as_mut(), event) {
        (
            None,
            Event::OperatorRegistered {
                operator,
                name,
                surfaces,
                attributes,
                ..
            },
        ) => {
            *profile = Some(OperatorProfile {
                id: operator.clone(),
                name: name.clone(),
                status: OperatorStatus::Active,
                surfaces: surfaces.clone(),
                attributes: attributes.clone(),
                suspended_reason: None,
            });
            Ok(())
        }
        (Some(_), Event::OperatorRegistered { .. }) => Err(ProfileError::AlreadyRegistered),
        (None, other) => Err(ProfileError::NotRegistered(other.type_name())),
        (
            Some(p),
            Event::OperatorUpdated {
                surfaces,
                attributes,
                ..
            },
        ) => {
            if let Some(surfaces) = surfaces {
                p.surfaces.clone_from(surfaces);
            }
            if let Some(attributes) = attributes {
                p.attributes.clone_from(attributes);
            }
            Ok(())
        }
        (Some(p), Event::OperatorSuspended { reason, .. }) => {
            if p.status != OperatorStatus::Active {
                return Err(ProfileError::OutOfOrder {
                    event: event.type_name(),
                    status: p.status,
                });
            }
            p.status = OperatorStatus::Suspended;
            p.suspended_reason = Some(reason.clone());
            Ok(())
        }
        (Some(p), Event::OperatorReinstated { .. }) => {
            if p.status != OperatorStatus::Suspended {
                return Err(ProfileError::OutOfOrder {
                    event: event.type_name(),
                    status: p.status,
                });
            }
            p.status = OperatorStatus::Active;
            p.suspended_reason = None;
            Ok(())
        }
        (Some(_), other) => Err(ProfileError::CaseEvent(other.type_name())),
    }
}

/// Fold an operator stream's events into the profile (`None` when there are none). Events
/// that do not follow are skipped (use [`apply_profile`] to see them).
pub fn replay_profile<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<OperatorProfile> {
    let mut profile = None;
    for event in events {
        let _ = apply_profile(&mut profile, event);
    }
    profile
}

/// The operators whose profiles `decide` may consult for `command` on `case`: the operator a
/// directory command addresses; otherwise, when the surface has `operators = "registered"`,
/// the principal and the operator `assign_task` or `reassign_job` names, and when a rule of
/// the surface may read `actor.profile`, the principal. The engine loads exactly these before
/// deciding (and before explaining), so both see the same directory.
pub fn profiles_to_load(
    case: &Case,
    catalog: &impl Catalog,
    principal: &Principal,
    command: &Command,
) -> Vec<String> {
    let kind = command.kind();
    if kind.addresses_operator() {
        return command
            .directory_target()
            .map(str::to_string)
            .into_iter()
            .collect();
    }
    let surface = match (&case.request, &command.body) {
        (Some(request), _) => catalog.exact(&request.surface.slug, request.surface.version),
        (None, CommandBody::SubmitRequest { surface, .. }) => match surface.split_once('@') {
            Some((slug, v)) => v.parse().ok().and_then(|v| catalog.exact(slug, v)),
            None => catalog
                .latest_active(surface)
                .or_else(|| catalog.latest(surface)),
        },
        _ => None,
    };
    let Some(surface) = surface else {
        return Vec::new();
    };
    let registered = surface.registered_operators();
    let mut ids = Vec::new();
    if registered || surface.reads_profile() {
        ids.push(principal.id.clone());
    }
    if registered
        && matches!(kind, CommandKind::AssignTask | CommandKind::ReassignJob)
        && let CommandBody::AssignTask { operator } | CommandBody::ReassignJob { operator, .. } =
            &command.body
        && !ids.contains(operator)
    {
        ids.push(operator.clone());
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Event {
        Event::OperatorRegistered {
            operator: "op-lee".into(),
            name: "Lee".into(),
            surfaces: vec!["auto-repair".into()],
            attributes: BTreeMap::new(),
            by: "admin".into(),
            at: 1,
        }
    }

    #[test]
    fn stream_ids_tell_the_two_kinds_apart() {
        assert_eq!(stream_id("op-lee"), "operator:op-lee");
        assert_eq!(
            StreamId::parse("operator:op-lee"),
            StreamId::Operator("op-lee")
        );
        assert_eq!(StreamId::parse("ev-1"), StreamId::Case("ev-1"));
        assert!(is_operator_stream("operator:"));
        assert!(!is_operator_stream("operators"));
    }

    #[test]
    fn the_profile_folds_and_refuses_what_does_not_follow() {
        let mut p = None;
        assert_eq!(
            apply_profile(
                &mut p,
                &Event::OperatorReinstated {
                    by: "a".into(),
                    at: 1
                }
            ),
            Err(ProfileError::NotRegistered("operator_reinstated"))
        );
        apply_profile(&mut p, &registered()).unwrap();
        assert!(p.as_ref().unwrap().may_act_on("auto-repair"));
        assert!(!p.as_ref().unwrap().may_act_on("detailing"));
        assert_eq!(
            apply_profile(&mut p, &registered()),
            Err(ProfileError::AlreadyRegistered)
        );
        let suspend = Event::OperatorSuspended {
            reason: "r".into(),
            by: "a".into(),
            at: 2,
        };
        apply_profile(&mut p, &suspend).unwrap();
        assert_eq!(p.as_ref().unwrap().status, OperatorStatus::Suspended);
        assert!(matches!(
            apply_profile(&mut p, &suspend),
            Err(ProfileError::OutOfOrder { .. })
        ));
        let update = Event::OperatorUpdated {
            surfaces: Some(vec![]),
            attributes: None,
            by: "a".into(),
            at: 3,
        };
        apply_profile(&mut p, &update).unwrap();
        assert!(p.as_ref().unwrap().binds("anything"));
        assert!(matches!(
            apply_profile(
                &mut p,
                &Event::TaskClosed {
                    by: "a".into(),
                    at: 4
                }
            ),
            Err(ProfileError::CaseEvent("task_closed"))
        ));
    }
}

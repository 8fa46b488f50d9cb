//! The scope a rule reads: the members of `case`, `actor` and `command`, with their types.

use super::*;

/// The type of a value in a guard's scope, as far as a static reading can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A text (or `()` where the value is optional), with the values it can hold.
    Text(Domain),
    /// An evidence count.
    Count,
    /// `now`: unix milliseconds.
    Time,
    /// An amount in minor units.
    Amount,
    /// A number written in the guard.
    Number,
    /// A boolean.
    Bool,
    /// A list of texts.
    List(Domain),
    /// A map with known members.
    Map(MapKind),
    /// `()`, written in the guard.
    Unit,
    /// Anything (intake values, attributes, the result of a method).
    Any,
}

/// The values a text can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Any text.
    Free,
    /// A phase id of the surface.
    Phase,
    /// An evidence category of the surface.
    Category,
    /// A Task state.
    Task,
    /// A Job state.
    Job,
    /// A ServiceEvent state.
    ServiceEvent,
    /// A settlement status.
    Settlement,
    /// A role.
    Role,
    /// The name of a command the rule is judged with.
    Command,
    /// An operator profile's status.
    OperatorStatus,
}

/// The maps of the scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `case`.
    Case,
    /// `actor`.
    Actor,
    /// `command`.
    Command,
    /// `case.evidence`: every declared category's count.
    Evidence,
    /// `case.intake` (and `command.intake`): the declared intake fields.
    Intake,
    /// `actor.profile`: the principal's operator profile (`()` when there is none).
    Profile,
}

/// The members of `case` (docs/commands.md and what `spine::guard` builds), with their types.
pub const CASE_MEMBERS: &[(&str, Ty)] = &[
    ("id", Ty::Text(Domain::Free)),
    ("phase", Ty::Text(Domain::Phase)),
    ("evidence", Ty::Map(MapKind::Evidence)),
    ("intake", Ty::Map(MapKind::Intake)),
    ("assignee", Ty::Text(Domain::Free)),
    ("owner", Ty::Text(Domain::Free)),
    ("task", Ty::Text(Domain::Task)),
    ("job", Ty::Text(Domain::Job)),
    ("service_event", Ty::Text(Domain::ServiceEvent)),
    ("settlement", Ty::Text(Domain::Settlement)),
    ("pending_approval", Ty::Text(Domain::Phase)),
];

/// The members of `actor`, with their types.
pub const ACTOR_MEMBERS: &[(&str, Ty)] = &[
    ("id", Ty::Text(Domain::Free)),
    ("roles", Ty::List(Domain::Role)),
    ("profile", Ty::Map(MapKind::Profile)),
];

/// The members of `actor.profile` (when the principal has an operator profile), with their
/// types.
pub const PROFILE_MEMBERS: &[(&str, Ty)] = &[
    ("status", Ty::Text(Domain::OperatorStatus)),
    ("surfaces", Ty::List(Domain::Free)),
    ("attributes", Ty::Any),
];

/// The arguments of `kind` as a rule sees them in `command` (beside `name`), with their
/// types. Exhaustive: a new command does not compile until it says what its rules can read.
pub fn command_args(kind: CommandKind) -> &'static [(&'static str, Ty)] {
    use CommandKind as K;
    match kind {
        K::SubmitRequest => &[
            ("surface", Ty::Text(Domain::Free)),
            ("intake", Ty::Map(MapKind::Intake)),
            ("photos", Ty::List(Domain::Free)),
            ("routing_origin", Ty::Text(Domain::Free)),
        ],
        K::ApproveTask
        | K::CloseTask
        | K::CreateJob
        | K::ClaimJob
        | K::CompleteJob
        | K::ApproveTransition => &[],
        K::RejectTask
        | K::CancelJob
        | K::ReleaseJob
        | K::RejectTransition
        | K::ErasePersonalData => &[("reason", Ty::Text(Domain::Free))],
        K::ReassignJob => &[
            ("operator", Ty::Text(Domain::Free)),
            ("reason", Ty::Text(Domain::Free)),
        ],
        // The directory commands address an operator: no rule runs with them (the validator
        // refuses them as triggers), so their rules read nothing.
        K::RegisterOperator => &[
            ("operator", Ty::Text(Domain::Free)),
            ("name", Ty::Text(Domain::Free)),
            ("surfaces", Ty::List(Domain::Free)),
            ("attributes", Ty::Any),
        ],
        K::UpdateOperator => &[
            ("operator", Ty::Text(Domain::Free)),
            ("surfaces", Ty::List(Domain::Free)),
            ("attributes", Ty::Any),
        ],
        K::SuspendOperator => &[
            ("operator", Ty::Text(Domain::Free)),
            ("reason", Ty::Text(Domain::Free)),
        ],
        K::ReinstateOperator => &[("operator", Ty::Text(Domain::Free))],
        K::AssignTask => &[("operator", Ty::Text(Domain::Free))],
        K::AnnotateTask => &[("note", Ty::Text(Domain::Free))],
        K::Advance => &[("to", Ty::Text(Domain::Phase))],
        K::AttachEvidence => &[
            ("category", Ty::Text(Domain::Category)),
            ("ref", Ty::Text(Domain::Free)),
        ],
        K::CompleteServiceEvent => &[("outcome", Ty::Text(Domain::Free))],
        K::RecordSettlement => &[
            ("status", Ty::Text(Domain::Settlement)),
            ("amount_minor", Ty::Amount),
            ("currency", Ty::Text(Domain::Free)),
        ],
        K::MigrateCase => &[("to_version", Ty::Number)],
    }
}

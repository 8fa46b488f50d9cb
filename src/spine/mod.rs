//! The universal spine: Request → Task → Assignment → Job → ServiceEvent → Record → Settlement.
//!
//! This is the functional core. [`decide`] judges a [`Command`] against a [`Case`] and returns
//! [`Event`]s or a [`Rejection`]; [`evolve`] folds events into a case; [`explain`] reports each
//! check `decide` makes; [`due_escalations`] finds stalled work. None of them does I/O, reads
//! a clock or draws random numbers, and none of them panics: time and identity are inputs.
//! The engine (`crate::engine`) is the only caller that touches the outside world.

pub mod case;
mod catalog;
mod command;
mod command_kind;
mod decide;
mod escalation;
mod event;
mod evolve;
mod gates;
pub mod guard;
pub mod limits;
pub mod migration;
pub mod operator;
mod record;
mod rejection;
mod signal;
mod trace;

pub use case::{
    Case, Job, JobState, Millis, PendingApproval, Record, RecordBody, ReleasedServiceEvent,
    Request, ServiceEvent, ServiceEventState, Settlement, SettlementStatus, Signal, SurfacePin,
    Task, TaskState,
};
pub use catalog::{Catalog, WithProfiles};
pub use command::{Command, CommandBody, UnknownCommand};
pub use command_kind::CommandKind;
pub use decide::{decide, explain};
pub use escalation::due_escalations;
pub use event::{EVENT_SCHEMA_VERSION, Event};
pub use evolve::{apply, evolve, replay};
pub use operator::{OperatorProfile, OperatorStatus, StreamId};
pub use record::compose_record;
pub use rejection::{Rejection, RejectionCode};
pub use signal::signal_id;
pub use trace::{Check, Explanation, NoTrace, Trace};

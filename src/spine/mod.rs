//! The universal spine: Request → Task → Assignment → Job → ServiceEvent → Record → Settlement.

mod command_kind;

pub use command_kind::CommandKind;

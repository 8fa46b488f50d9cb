//! The surface language: how a service type is declared in a file, checked and compiled.
//!
//! The pipeline is the folder: [`ast`] is the shared syntax tree; [`toml`] and [`dsl`] are the
//! two front ends that produce it; [`validate`](mod@validate) collects every problem as a
//! [`Diagnostic`]; [`compile`](mod@compile) turns a valid tree into an immutable [`Surface`]
//! (petgraph graph, transition table, compiled [`rules`], fingerprint); [`registry`] keys
//! surfaces by `slug@version`. Hostile-input bounds live in [`limits`]; the codes of surface
//! diagnostics in [`diagnostic`](mod@diagnostic), and [`render`] (the crate's one renderer,
//! [`crate::diagnostic::render`]) shows them to people and tools.
//! Nothing here does I/O except the file loaders in [`load`], and nothing here knows about cases.

pub mod ast;
pub mod compile;
pub mod diagnostic;
pub mod diff;
pub mod dsl;
pub mod graph;
pub mod inspect;
pub mod limits;
pub mod load;
pub mod model;
pub mod print;
pub mod registry;
pub mod rule_check;
pub mod rules;
pub mod toml;
pub mod validate;

pub use crate::diagnostic::render;
pub use ast::{Definition, Node, Span};
pub use compile::{Compiled, compile, fingerprint};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use load::{Format, LoadError, SourceFile, compile_source, parse_source};
pub use model::{
    CategoryId, EscalationInfo, EvidenceContract, ExecutionPolicy, Fingerprint, IntakeContract,
    PhaseId, PhaseInfo, RuleId, RuleInfo, RuleTrigger, Surface, TransitionId, TransitionInfo,
};
pub use registry::{LoadReport, Registry, RegistryError};
pub use validate::{parse_duration, validate};

//! The surface language: how a service type is declared in a file, checked and compiled.
//!
//! The pipeline is the folder: [`ast`] is the shared syntax tree; [`toml`] and [`dsl`] are the
//! two front ends that produce it; [`validate`] collects every problem as a [`Diagnostic`];
//! [`compile`] turns a valid tree into an immutable [`Surface`] (petgraph graph, transition
//! table, compiled [`rules`], fingerprint); [`registry`] keys surfaces by `slug@version`.
//! Nothing here does I/O except the file loaders in [`load`], and nothing here knows about cases.

pub mod ast;
pub mod diagnostic;
pub mod model;
pub mod rules;

pub use ast::{Definition, Node, Span};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use model::{
    CategoryId, EscalationInfo, EvidenceContract, ExecutionPolicy, Fingerprint, IntakeContract,
    PhaseId, PhaseInfo, RuleId, RuleInfo, RuleTrigger, Surface, TransitionId, TransitionInfo,
};

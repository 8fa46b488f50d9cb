//! Scenarios: a file of principals, steps and checks (CONTRACT.md §4), run against the engine.
//!
//! The pipeline is the folder: [`parse`] reads a scenario file into a typed [`Scenario`]
//! (every principal, command, time and expectation resolved, every problem a located
//! [`Diagnostic`]); [`run`] drives an engine through the steps, moving its clock, and records
//! each outcome against its expectation and each check against the case; [`report`] prints the
//! result as text or JSON. The CLI (`planck run`) and the tests share this module. It never
//! decides anything itself: every outcome comes from the engine.

pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod report;
pub mod run;

pub use diagnostic::{Code, Diagnostic, Source};
pub use model::{
    Action, At, Check, CheckField, DEFAULT_START_MS, Expect, Expected, Scenario, Step, SurfacePath,
};
pub use parse::{format_time, load, parse, parse_time};
pub use report::{CheckReport, FieldReport, Outcome, ScenarioReport, StepReport};
pub use run::{actual_of, run, run_in_memory};

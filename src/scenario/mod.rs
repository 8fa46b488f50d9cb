//! Scenarios: a file of principals, steps and checks (`docs/scenario.md`), run against the
//! engine.
//!
//! The pipeline is the folder: [`mod@parse`] reads a scenario file into a typed [`Scenario`]
//! (every principal, command, time and expectation resolved, every problem a located
//! [`Diagnostic`] with a scenario [`Code`] of [`diagnostic`]); [`mod@run`] drives an engine
//! through the steps, moving its clock, and records each outcome against its expectation and
//! each check against the case; [`mod@report`] prints the result as text or JSON. The CLI
//! (`planck run`) and the tests share this module. It never decides anything itself: every
//! outcome comes from the engine, and only [`load`] and [`load_surfaces`] touch the file
//! system.
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//!
//! let text = r#"
//! [principals]
//! client = { id = "client-ava", roles = ["client"] }
//!
//! [[step]]
//! as = "client"
//! command = "submit_request"
//! case = "c-1"
//! args = { surface = "nowhere", intake = {} }
//! expect = "rejected:unknown_surface"
//! "#;
//! let scenario = planck::scenario::parse(text, Path::new("demo.toml"))
//!     .map_err(|diags| format!("{diags:?}"))?;
//! let registry = Arc::new(planck::surface::registry::Registry::new());
//! let report = planck::scenario::run_in_memory(&scenario, "demo.toml", registry);
//! assert!(report.passed);
//! print!("{}", report.to_text());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod report;
pub mod run;

pub use crate::diagnostic::Source;
pub use diagnostic::{Code, Diagnostic};
pub use model::{
    Action, At, Check, CheckField, CheckTarget, DEFAULT_START_MS, Expect, Expected, Scenario, Step,
    SurfacePath,
};
pub use parse::{format_time, load, parse, parse_time};
pub use report::{CheckReport, FieldReport, Outcome, ScenarioReport, StepReport};
pub use run::{actual_of, load_surfaces, run, run_in_memory};

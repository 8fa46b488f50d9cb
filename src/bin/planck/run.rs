//! `planck run FILE… [--surfaces PATH]… [--db PATH] [--format text|json]`: execute scenario
//! files (`docs/scenario.md`) and report every step and check.
//!
//! Every file is read and checked first; if any is malformed its diagnostics are printed and
//! nothing runs (exit 2). Each scenario then gets its own engine: in memory by default, or on
//! the SQLite database given with `--db` (shared by every file of the run, so case ids must be
//! distinct across files). Surfaces come from the scenario's `surfaces` plus `--surfaces`;
//! when neither names any, `./surfaces` is used if it exists.

use std::io::{IsTerminal as _, Write as _, stderr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use planck::engine::Engine;
use planck::host::{ManualClock, MemoryTransport, SqliteStore};
use planck::scenario::diagnostic::{render_text, to_json};
use planck::scenario::{Scenario, ScenarioReport, Source, load, load_surfaces, run, run_in_memory};
use planck::surface::registry::{FileOutcome, Registry};
use planck::surface::render::render_terminal;
use serde_json::{Value, json};

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, emit, use_color};

/// Examples shown by `planck run --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck run examples/scenarios/event-coordination.toml
      the ten-step event-coordination example, in memory: one line per step with its
      outcome and phase label, then the checks
  planck run examples/scenarios/*.toml --surfaces surfaces/
      several scenarios, with extra surfaces besides each file's own `surfaces`
  planck run examples/scenarios/event-coordination.toml --db planck.db && planck verify --db planck.db
      keep the events in SQLite, then check every digest (a database keeps its cases, so
      running the same scenario twice on one database meets `case_exists`)
  planck run --format json examples/scenarios/auto-detailing.toml | jq '.scenarios[0].steps[] | .outcome'

A scenario file (docs/scenario.md) names principals, then [[step]]s and [[check]]s:
  [principals]
  admin = { id = \"admin-kim\", roles = [\"admin\"] }
  [[step]]
  as = \"admin\"
  command = \"approve_task\"
  case = \"ev-1\"
  at = \"+2h\"                      # move the clock first (+N s/m/h/d, or an RFC 3339 time)
  expect = \"applied\"              # applied | duplicate | rejected | rejected:<code>
  [[check]]
  case = \"ev-1\"
  task = \"approved\"

Exit codes: 0 every expectation and check held, 1 one did not, 2 a file could not be read or
is malformed (its diagnostics are printed), or a surface or the database could not be loaded.";

/// Arguments of `planck run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files (TOML, see docs/scenario.md)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Surface files or directories to load as well as each scenario's own `surfaces`
    /// (repeatable)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// Run on this SQLite database (created when missing) instead of in memory
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub format: RunFormat,
}

/// Output formats of `planck run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// One line per step (outcome, phase label, what happened), then each check
    Text,
    /// One JSON object: `passed` and every scenario's steps and checks
    Json,
}

/// Run `planck run`.
pub fn run_cmd(args: &Args) -> Result<u8, CliError> {
    let color = use_color(stderr().is_terminal());
    let mut scenarios: Vec<(Source, Scenario)> = Vec::new();
    let mut malformed: Vec<Value> = Vec::new();
    for file in &args.files {
        let (source, result) = load(file);
        match result {
            Ok(scenario) => scenarios.push((source, scenario)),
            Err(diags) => {
                if args.format == RunFormat::Text {
                    eprint!("{}", render_text(&source, &diags, color));
                    eprintln!(
                        "error: `{}` is not a valid scenario ({})",
                        source.name,
                        count(diags.len(), "problem")
                    );
                }
                if let Value::Array(items) = to_json(&source, &diags) {
                    malformed.extend(items);
                }
            }
        }
    }
    if !malformed.is_empty() {
        if args.format == RunFormat::Json {
            emit(
                &pretty(&json!({ "passed": false, "diagnostics": malformed, "scenarios": [] })),
                None,
            )?;
        }
        return Ok(EXIT_UNREADABLE);
    }

    let mut reports: Vec<ScenarioReport> = Vec::new();
    for (source, scenario) in &scenarios {
        let registry = match registry_for(scenario, &args.surfaces, color) {
            Ok(registry) => Arc::new(registry),
            Err(code) => return Ok(code),
        };
        let report = match &args.db {
            None => run_in_memory(scenario, &source.name, registry),
            Some(db) => match SqliteStore::open(db) {
                Ok(store) => {
                    let clock = ManualClock::new(scenario.start);
                    let engine = Engine::new(registry, store, MemoryTransport::default(), clock);
                    run(scenario, &source.name, &engine)
                }
                Err(err) => {
                    eprintln!("error: cannot open the database `{}`: {err}", db.display());
                    return Ok(EXIT_UNREADABLE);
                }
            },
        };
        if args.format == RunFormat::Text {
            let gap = if reports.is_empty() { "" } else { "\n" };
            emit(&format!("{gap}{}", report.to_text()), None)?;
        }
        reports.push(report);
    }
    let passed = reports.iter().all(|r| r.passed);
    match args.format {
        RunFormat::Json => emit(
            &pretty(&json!({ "passed": passed, "scenarios": reports })),
            None,
        )?,
        RunFormat::Text if reports.len() > 1 => {
            let failed = reports.iter().filter(|r| !r.passed).count();
            let line = if failed == 0 {
                format!("all {} scenarios held\n", reports.len())
            } else {
                format!("{failed} of {} scenarios did not hold\n", reports.len())
            };
            emit(&line, None)?;
        }
        RunFormat::Text => {}
    }
    Ok(if passed { EXIT_OK } else { EXIT_INVALID })
}

/// The surfaces `scenario` runs with: its own `surfaces`, then `extra`; `./surfaces` when
/// neither names any and it exists. Problems are printed; `Err` holds the exit code.
fn registry_for(scenario: &Scenario, extra: &[PathBuf], color: bool) -> Result<Registry, u8> {
    let mut extra = extra.to_vec();
    if scenario.surfaces.is_empty() && extra.is_empty() && Path::new("surfaces").is_dir() {
        extra.push(PathBuf::from("surfaces"));
    }
    let (registry, report) = load_surfaces(scenario, &extra);
    if report.is_ok() {
        return Ok(registry);
    }
    let mut err = stderr().lock();
    for file in report.failures() {
        match (&file.outcome, &file.source) {
            (FileOutcome::Unreadable(cause), _) => {
                let _ = writeln!(err, "error[{}]: {cause}", cause.to_diagnostic().code);
            }
            (_, Some(source)) => {
                let _ = err.write_all(render_terminal(source, &file.diagnostics, color).as_bytes());
            }
            (_, None) => {
                let _ = writeln!(err, "error: `{}` could not be loaded", file.path.display());
            }
        }
    }
    let _ = writeln!(
        err,
        "error: the surfaces for scenario `{}` could not be loaded",
        scenario.name
    );
    Err(EXIT_UNREADABLE)
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}

fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

//! `planck explore FILE [--emit-scenario OUT]`: walk every state a case of the surface can
//! reach (with the real spine, rules evaluated) and report each phase's shortest path, the
//! transitions never taken, the phases that cannot complete and the rejection codes met;
//! optionally write a scenario file that takes every transition and meets every rejection.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use clap::ValueEnum;
use planck::explore::{Limits, emit, explore, report};

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, emit as write_out, load_one};

/// Examples shown by `planck explore --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck explore surfaces/auto-detailing.toml
  planck explore --format json surfaces/event-coordination.surface | jq .states
  planck explore surfaces/auto-detailing.toml --emit-scenario tests/explored.toml
  planck run tests/explored.toml

The walk is bounded (--max-states, --max-depth); the report says when a bound was hit.
Exit codes: 0 explored (and written), 1 the surface has errors (printed instead), 2 a file
cannot be read or written.";

/// Arguments of `planck explore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surface file (`.toml` or `.surface`)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also write a scenario file that takes every transition reached and meets every
    /// rejection reached (`planck run` passes it)
    #[arg(long, value_name = "OUT")]
    pub emit_scenario: Option<PathBuf>,
    /// How to print the report
    #[arg(long, value_enum, default_value_t = ExploreFormat::Text)]
    pub format: ExploreFormat,
    /// States kept at most
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.max_states)]
    pub max_states: usize,
    /// Commands from the empty case at most
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.max_depth)]
    pub max_depth: usize,
}

/// Output formats of `planck explore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExploreFormat {
    /// A report for people
    Text,
    /// A JSON object (`states`, `phases`, `transitions`, `rejections`, ...)
    Json,
}

/// Run `planck explore`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (_, compiled) = match load_one(&args.file) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let surface = &compiled.surface;
    let limits = Limits {
        max_states: args.max_states,
        max_depth: args.max_depth,
    };
    let started = Instant::now();
    let exploration = explore(surface, limits);
    let elapsed = started.elapsed();

    let mut written = None;
    if let Some(out) = &args.emit_scenario {
        let Some(surfaces) = relative_to(out, &args.file) else {
            eprintln!(
                "error: cannot tell where `{}` is relative to `{}`",
                args.file.display(),
                out.display()
            );
            return Ok(EXIT_UNREADABLE);
        };
        let text = emit::scenario(&exploration, surface, &surfaces);
        write_out(&text, Some(out))?;
        written = Some(out.display().to_string());
    }

    let text = match args.format {
        ExploreFormat::Text => {
            let mut text = report::to_text(&exploration);
            text.push_str(&format!("\nexplored in {:.2} s\n", elapsed.as_secs_f64()));
            if let Some(out) = &written {
                text.push_str(&format!("scenario written to {out}\n"));
            }
            text
        }
        ExploreFormat::Json => {
            let mut json = report::to_json(&exploration);
            if let Some(object) = json.as_object_mut() {
                object.insert(
                    "elapsed_ms".into(),
                    serde_json::json!(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
                );
                if let Some(out) = written {
                    object.insert("scenario".into(), serde_json::json!(out));
                }
            }
            let body = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "{}".into());
            format!("{body}\n")
        }
    };
    write_out(&text, None)?;
    Ok(EXIT_OK)
}

/// `file` as a path relative to the directory `out` will be written in (forward slashes).
fn relative_to(out: &Path, file: &Path) -> Option<String> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = dir.canonicalize().ok()?;
    let file = file.canonicalize().ok()?;
    let from: Vec<Component<'_>> = dir.components().collect();
    let to: Vec<Component<'_>> = file.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..from.len() {
        parts.push("..".into());
    }
    for c in to.iter().skip(common) {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    Some(parts.join("/"))
}

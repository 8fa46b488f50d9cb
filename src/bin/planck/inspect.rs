//! `planck inspect FILE`: what a surface says, as the engine will run it (defaults filled
//! in, implicit transitions written out), for people (`text`) or tools (`json`).

use std::path::PathBuf;

use clap::ValueEnum;
use planck::surface::inspect::{to_json, to_text};

use crate::cli::{CliError, EXIT_OK, emit, load_one};

/// Examples shown by `planck inspect --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck inspect surfaces/auto-detailing.surface
  planck inspect --format json surfaces/event-coordination.toml | jq .fingerprint

Exit codes: 0 printed, 1 the file has errors (printed instead), 2 it cannot be read.";

/// Arguments of `planck inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surface file (`.toml` or `.surface`)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// How to print the surface
    #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
    pub format: InspectFormat,
}

/// Output formats of `planck inspect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// A summary for people
    Text,
    /// A JSON object (`slug`, `version`, `fingerprint`, `phases`, `transitions`, ...)
    Json,
}

/// Run `planck inspect`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (_, compiled) = match load_one(&args.file) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let text = match args.format {
        InspectFormat::Text => to_text(&compiled.surface),
        InspectFormat::Json => {
            let json = serde_json::to_string_pretty(&to_json(&compiled.surface))
                .unwrap_or_else(|_| String::from("{}"));
            format!("{json}\n")
        }
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

//! `planck graph FILE`: the phase graph of a surface, as a Mermaid flowchart (the default:
//! it renders inside Markdown on most code hosts) or as Graphviz dot.

use std::path::PathBuf;

use clap::ValueEnum;
use planck::surface::graph::{to_dot, to_mermaid};

use crate::cli::{CliError, EXIT_OK, emit, load_one};

/// Examples shown by `planck graph --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck graph surfaces/auto-detailing.surface           Mermaid, for a ```mermaid block
  planck graph --format dot surfaces/auto-detailing.toml | dot -Tsvg > detailing.svg
  planck graph surfaces/event-coordination.toml -o docs/event-coordination.mmd

The first phase (waiting for a claim) and the last (entered by completing the service event)
are drawn apart; edges show the evidence a move requires and the rule that guards it; dashed
edges are implicit (the surface declares no transitions, so each phase moves to the next).

Exit codes: 0 printed, 1 the file has errors (printed instead), 2 it cannot be read.";

/// Arguments of `planck graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surface file (`.toml` or `.surface`)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The drawing language
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// Write the graph to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Output formats of `planck graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (renders in Markdown)
    Mermaid,
    /// A Graphviz digraph (`dot -Tsvg`)
    Dot,
}

/// Run `planck graph`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (_, compiled) = match load_one(&args.file) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let text = match args.format {
        GraphFormat::Mermaid => to_mermaid(&compiled.surface),
        GraphFormat::Dot => to_dot(&compiled.surface),
    };
    emit(&text, args.output.as_ref())?;
    Ok(EXIT_OK)
}

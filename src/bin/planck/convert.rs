//! `planck convert FILE --to toml|dsl`: the same surface in the other form.
//!
//! Only a valid surface is converted (errors are printed and nothing is written). The output
//! says exactly the keys the input wrote (defaults stay implicit when they were), so both
//! files parse to equal trees and compile to the same fingerprint. Comments are not carried
//! over.

use std::path::PathBuf;

use clap::ValueEnum;
use planck::surface::load::parse_source;
use planck::surface::print::{to_dsl, to_toml};

use crate::cli::{CliError, EXIT_OK, emit, load_one};

/// Examples shown by `planck convert --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck convert surfaces/auto-detailing.toml --to dsl
  planck convert surfaces/auto-detailing.surface --to toml -o auto-detailing.toml
  planck convert x.surface --to dsl        reformat into the canonical layout

Comments are not carried over. Exit codes: 0 converted, 1 the file has errors (printed
instead), 2 it cannot be read or the output cannot be written.";

/// Arguments of `planck convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The surface file (`.toml` or `.surface`)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The form to write
    #[arg(long, value_enum)]
    pub to: Target,
    /// Write to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The forms `planck convert` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The TOML form (`.toml`)
    Toml,
    /// The planck DSL (`.surface`)
    Dsl,
}

/// Run `planck convert`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (file, _) = match load_one(&args.file) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    // The tree as written (not normalized), so implicit defaults stay implicit.
    let (definition, _) = parse_source(&file);
    let text = match args.to {
        Target::Toml => to_toml(&definition),
        Target::Dsl => to_dsl(&definition),
    };
    emit(&text, args.output.as_ref())?;
    Ok(EXIT_OK)
}

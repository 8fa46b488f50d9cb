//! `planck reindex --db PATH --surfaces PATH…`: write every index row of a SQLite database
//! again from its events (docs/queries.md).
//!
//! The index is derived data: each row is computed from a case's events and its pinned
//! surface. Run it on a database from an older planck (its queries refuse until then), or
//! when `planck verify` names a row that disagrees with the events. Commands may keep running
//! meanwhile: their appends write their own rows.

use std::path::PathBuf;

use crate::cli::{CliError, EXIT_OK, emit};
use crate::db;

/// Examples shown by `planck reindex --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck reindex --db planck.db --surfaces surfaces/
      rebuilt the index of `planck.db`: 12 rows from 12 streams

A row needs the case's pinned surface for three fields (whether any operator may claim,
whether completed work stays visible, when the next escalation is due). Cases whose surface
is not among `--surfaces` are named: their rows take the defaults (no open claim, completed
work visible, no escalation due) until a rebuild with their surface.

Exit codes: 0 rebuilt, 2 a surface file does not load, or the database cannot be opened, read
or written.";

/// Arguments of `planck reindex`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Surface files or directories the cases are pinned to (default: `./surfaces` when
    /// present)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
}

/// Run `planck reindex`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let engine = match db::engine(&args.db, &args.surfaces, true, 0) {
        Ok(engine) => engine,
        Err(code) => return Ok(code),
    };
    let report = match engine.rebuild_index() {
        Ok(report) => report,
        Err(err) => return Ok(db::failed(&args.db, &err)),
    };
    let mut text = format!(
        "rebuilt the index of `{}`: {} row{} from {} stream{}\n",
        args.db.display(),
        report.rows,
        if report.rows == 1 { "" } else { "s" },
        report.streams,
        if report.streams == 1 { "" } else { "s" },
    );
    if !report.without_surface.is_empty() {
        text.push_str(&format!(
            "warning: {} case{} pinned to a surface not loaded (their rows take the defaults): {}\n",
            report.without_surface.len(),
            if report.without_surface.len() == 1 { " is" } else { "s are" },
            report.without_surface.join(", ")
        ));
    }
    emit(&text, None)?;
    Ok(EXIT_OK)
}

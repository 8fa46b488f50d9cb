//! `planck verify --db PATH [--surfaces PATH]… [--format text|json]`: re-derive every case
//! (and every operator stream) of a SQLite database from its events and check every digest,
//! link and Record seal; every index row against the events; and the feed's positions.
//!
//! Verification needs no surfaces: it checks the stored history against itself. With
//! `--surfaces`, the index fields that need the pinned surface are checked too. Each stream is
//! reported as holding or with the first failure found, naming the stream and the event.

use std::path::PathBuf;

use clap::ValueEnum;
use planck::engine::verify_with;
use planck::host::Store;
use serde_json::json;

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::db::{self, open_existing};

/// Examples shown by `planck verify --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck run examples/scenarios/event-coordination.toml --db planck.db
  planck verify --db planck.db
      ok    ev-1
      verified 1 case, 15 events: every case holds
      index: 1 row checked against the events (without surfaces: ...)
      feed: positions 1 to 15 checked
  planck verify --db planck.db --surfaces surfaces/   the index's surface fields too
  planck verify --db planck.db --format json | jq .failures

Exit codes: 0 every case holds, 1 a case does not (the case and the event are named) or the
index needs a rebuild (`planck reindex`), 2 the database cannot be opened or read.";

/// Arguments of `planck verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Surface files or directories: check the index fields that need the pinned surface too
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,
}

/// Output formats of `planck verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// One line per case, then a summary
    Text,
    /// One JSON object: `ok`, `cases`, `operators`, `events`, `held` (stream ids), `failures`,
    /// `index_rows`, `positions` and `index_needs_rebuild`
    Json,
}

/// Run `planck verify`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let store = match open_existing(&args.db) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    // Only given surfaces are used (verification needs none); each must load.
    let registry = if args.surfaces.is_empty() {
        None
    } else {
        match db::surfaces(&args.surfaces, true) {
            Ok(registry) => Some(registry),
            Err(code) => return Ok(code),
        }
    };
    let (cases, report) = match store
        .cases()
        .and_then(|cases| Ok((cases, verify_with(&store, registry.as_ref())?)))
    {
        Ok(found) => found,
        Err(err) => {
            eprintln!(
                "error: cannot read the database `{}`: {err}",
                args.db.display()
            );
            return Ok(EXIT_UNREADABLE);
        }
    };
    let failed = |case: &str| report.failures.iter().any(|f| f.case() == case);
    let held: Vec<&String> = cases.iter().filter(|c| !failed(c)).collect();
    match args.format {
        VerifyFormat::Json => {
            let body = json!({
                "ok": report.ok(),
                "cases": report.cases,
                "operators": report.operators,
                "events": report.events,
                "held": held,
                "failures": report.failures,
                "index_rows": report.index_rows,
                "positions": report.positions,
                "index_needs_rebuild": report.index_needs_rebuild,
            });
            let text = serde_json::to_string_pretty(&body).unwrap_or_else(|_| String::from("{}"));
            emit(&format!("{text}\n"), None)?;
        }
        VerifyFormat::Text => {
            let mut text = String::new();
            for case in &cases {
                match report.failures.iter().find(|f| f.case() == case.as_str()) {
                    None => text.push_str(&format!("ok    {case}\n")),
                    Some(failure) => text.push_str(&format!("FAIL  {case}  {failure}\n")),
                }
            }
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let operators = match report.operators {
                0 => String::new(),
                n => format!(" and {n} operator stream{}", plural(n)),
            };
            let what = format!(
                "verified {} case{}{operators}, {} event{}",
                report.cases,
                plural(report.cases),
                report.events,
                plural(report.events)
            );
            let every = if report.operators == 0 {
                "every case holds"
            } else {
                "every stream holds"
            };
            if report.failures.is_empty() {
                text.push_str(&format!("{what}: {every}\n"));
            } else {
                text.push_str(&format!(
                    "{what}: {} of {} do not hold\n",
                    report.failures.len(),
                    report.cases + report.operators
                ));
            }
            if report.index_needs_rebuild {
                text.push_str(&format!(
                    "index: needs a rebuild (a database from an older planck): run `planck reindex --db {} --surfaces DIR`\n",
                    args.db.display()
                ));
            } else {
                text.push_str(&format!(
                    "index: {} row{} checked against the events{}\n",
                    report.index_rows,
                    if report.index_rows == 1 { "" } else { "s" },
                    if registry.is_some() {
                        ""
                    } else {
                        " (without surfaces: `--surfaces` checks the fields that need one)"
                    }
                ));
            }
            text.push_str(&format!(
                "feed: positions 1 to {} checked\n",
                report.positions
            ));
            emit(&text, None)?;
        }
    }
    Ok(if report.ok() { EXIT_OK } else { EXIT_INVALID })
}

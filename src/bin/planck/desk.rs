//! `planck desk --db PATH OPERATOR [--surfaces PATH]… [--format text|json]`: an operator's
//! desk (docs/queries.md): the queued Jobs they may claim, the Jobs they own with the phase
//! label and the moves allowed now (each judged as the operator would send it), and the
//! completed Jobs they owned that stay visible. Answered from the database's index.

use std::path::PathBuf;

use planck::engine::{CaseView, DeskView};
use planck::policy::{Principal, Role};

use crate::cli::{CliError, EXIT_OK, emit};
use crate::db::{self, Format};

/// Examples shown by `planck desk --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck run examples/scenarios/event-coordination.toml --db planck.db
  planck desk --db planck.db op-lee
  planck desk --db planck.db op-lee --format json | jq '.active[].moves'

Phase labels and moves come from the surfaces (`--surfaces`, else `./surfaces` when present).
Each column holds at most 100 Jobs (`truncated` says when one was cut; `planck list --assignee`
or `--owner` shows them all).

Exit codes: 0 printed, 2 the database cannot be opened or read, or its index needs a rebuild
(`planck reindex`).";

/// Arguments of `planck desk`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The operator's id
    #[arg(value_name = "OPERATOR")]
    pub operator: String,
    /// Surface files or directories, for labels and moves (default: `./surfaces` when present)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// How to print the desk
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Run `planck desk`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let engine = match db::engine(&args.db, &args.surfaces, false, now()) {
        Ok(engine) => engine,
        Err(code) => return Ok(code),
    };
    let principal = Principal::new(args.operator.clone(), [Role::Operator]);
    let desk = match engine.desk_with_moves(&principal) {
        Ok(desk) => desk,
        Err(err) => return Ok(db::failed(&args.db, &err)),
    };
    let text = match args.format {
        Format::Json => db::json_text(&desk),
        Format::Text => to_text(&desk),
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

/// The moves are judged at this time.
fn now() -> i64 {
    planck::host::Clock::now(&planck::host::SystemClock)
}

fn assigned(view: &CaseView) -> String {
    match &view.assignee {
        Some(a) => format!("assigned to {a}"),
        None => "not assigned".to_string(),
    }
}

fn to_text(desk: &DeskView) -> String {
    let mut out = format!("desk of {}\n", desk.operator);
    out.push_str(&format!("\nclaimable jobs ({})\n", desk.queued.len()));
    let rows: Vec<Vec<String>> = desk
        .queued
        .iter()
        .map(|v| vec![v.case.clone(), v.surface.clone(), db::stage(v), assigned(v)])
        .collect();
    if !rows.is_empty() {
        out.push_str(&db::table(
            &["case", "surface", "where", "assignment"],
            &rows,
        ));
    }
    out.push_str(&format!("\nactive jobs ({})\n", desk.active.len()));
    for job in &desk.active {
        let v = &job.view;
        out.push_str(&format!("  {}  {}  {}\n", v.case, v.surface, db::stage(v)));
        for m in &job.moves {
            let verdict = match (&m.allowed, &m.refused) {
                (true, _) => "allowed".to_string(),
                (false, Some(why)) => format!("refused: {why}"),
                (false, None) => "refused".to_string(),
            };
            out.push_str(&format!(
                "    move to {} ({}) with {}: {verdict}\n",
                m.label, m.to, m.command
            ));
        }
        if job.moves.is_empty() {
            out.push_str("    no move from here\n");
        }
        for missing in &job.missing_evidence {
            out.push_str(&format!(
                "    evidence missing: {} ({} of {})\n",
                missing.category, missing.have, missing.need
            ));
        }
    }
    out.push_str(&format!("\ncompleted jobs ({})\n", desk.completed.len()));
    let rows: Vec<Vec<String>> = desk
        .completed
        .iter()
        .map(|v| {
            vec![
                v.case.clone(),
                v.surface.clone(),
                db::stage(v),
                v.record.as_ref().map_or_else(
                    || "no record".to_string(),
                    |d| format!("record {}", short(d)),
                ),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&db::table(&["case", "surface", "where", "record"], &rows));
    }
    if desk.truncated {
        out.push_str("\na column holds more than 100 jobs: `planck list --assignee` or `--owner` shows them all\n");
    }
    out
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

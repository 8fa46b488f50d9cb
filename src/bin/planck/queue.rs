//! `planck queue --db PATH [--surfaces PATH]… [--format text|json]`: the governance queue
//! (docs/queries.md): the Tasks to review, assign or hand off, and the moves waiting for
//! approval, oldest case first. Answered from the database's index.

use std::path::PathBuf;

use planck::engine::QueueItem;
use planck::host::QueueNeed;
use serde_json::json;

use crate::cli::{CliError, EXIT_OK, emit};
use crate::db::{self, Format};

/// Examples shown by `planck queue --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck queue --db planck.db
  planck queue --db planck.db --format json | jq '.queue[] | select(.need == \"review\")'

Each case says what it waits for: `review` (approve or reject the Task), `assign` (name an
operator), `hand_off` (create the Job) or `approval` (a move waits for approval). At most 500
cases, oldest first.

Exit codes: 0 printed, 2 the database cannot be opened or read, or its index needs a rebuild
(`planck reindex`).";

/// Arguments of `planck queue`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Surface files or directories, for labels (default: `./surfaces` when present)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// How to print the queue
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Run `planck queue`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let engine = match db::engine(&args.db, &args.surfaces, false, 0) {
        Ok(engine) => engine,
        Err(code) => return Ok(code),
    };
    let queue = match engine.governance_queue() {
        Ok(queue) => queue,
        Err(err) => return Ok(db::failed(&args.db, &err)),
    };
    let text = match args.format {
        Format::Json => db::json_text(&json!({ "queue": queue })),
        Format::Text => to_text(&queue),
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

/// What an admin does next, in words.
fn need(need: QueueNeed) -> &'static str {
    match need {
        QueueNeed::Review => "review",
        QueueNeed::Assign => "assign",
        QueueNeed::HandOff => "hand off",
        QueueNeed::Approval => "approve move",
    }
}

fn to_text(queue: &[QueueItem]) -> String {
    let mut out = format!(
        "governance queue ({} case{})\n",
        queue.len(),
        if queue.len() == 1 { "" } else { "s" }
    );
    let rows: Vec<Vec<String>> = queue
        .iter()
        .map(|item| {
            let v = &item.view;
            vec![
                need(item.need).to_string(),
                v.case.clone(),
                v.surface.clone(),
                db::or_none(v.task.map(|t| t.as_str())),
                db::or_none(v.assignee.as_deref()),
                format!("{} by {}", db::time(v.submitted_at), v.submitted_by),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&db::table(
            &["need", "case", "surface", "task", "assignee", "submitted"],
            &rows,
        ));
    }
    out
}

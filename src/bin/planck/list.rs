//! `planck list --db PATH [--surface S] [--job STATE] [--phase P] [--assignee OP] [--owner OP]
//! [--limit N] [--after CURSOR]`: the matching cases, one line each, newest activity first,
//! with the cursor of the next page (docs/queries.md). Answered from the database's index.

use std::path::PathBuf;

use planck::engine::ListPage;
use planck::host::{CaseFilter, ListCursor};
use planck::spine::JobState;

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::db::{self, Format};

/// Cases per page unless `--limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;

/// Examples shown by `planck list --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck list --db planck.db
  planck list --db planck.db --job claimed --owner op-lee
  planck list --db planck.db --surface event-coordination@1 --phase in_progress
  planck list --db planck.db --job none              cases whose Task has no Job yet
  planck list --db planck.db --limit 20 --after 31373637...   the next page

Every filter given must hold. `--surface` takes a slug (every version) or `slug@version`;
`--job` a Job state (queued, claimed, completed, cancelled) or `none`; `--phase` the
ServiceEvent's phase id. Cases come newest activity first (the time of their last event;
among equal times, the greater case id first); the last line gives the cursor of the next
page, for `--after`.

Exit codes: 0 printed, 2 a bad filter, or the database cannot be opened or read, or its index
needs a rebuild (`planck reindex`).";

/// Arguments of `planck list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Only cases pinned to this surface: a slug, or `slug@version`
    #[arg(long, value_name = "S")]
    pub surface: Option<String>,
    /// Only cases whose Job is in this state (queued, claimed, completed, cancelled, or none)
    #[arg(long, value_name = "STATE")]
    pub job: Option<String>,
    /// Only cases whose ServiceEvent is in this phase
    #[arg(long, value_name = "P")]
    pub phase: Option<String>,
    /// Only cases assigned to this operator
    #[arg(long, value_name = "OP")]
    pub assignee: Option<String>,
    /// Only cases whose Job this operator owns
    #[arg(long, value_name = "OP")]
    pub owner: Option<String>,
    /// At most this many cases (1 to 500)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Start after this cursor (the `next` of a previous page)
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
    /// Surface files or directories, for labels (default: `./surfaces` when present)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// How to print the cases
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Run `planck list`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (filter, after) = match parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let engine = match db::engine(&args.db, &args.surfaces, false, 0) {
        Ok(engine) => engine,
        Err(code) => return Ok(code),
    };
    let page = match engine.list(&filter, after.as_ref(), args.limit) {
        Ok(page) => page,
        Err(err) => return Ok(db::failed(&args.db, &err)),
    };
    let text = match args.format {
        Format::Json => db::json_text(&page),
        Format::Text => to_text(&page),
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

fn parse(args: &Args) -> Result<(CaseFilter, Option<ListCursor>), String> {
    let job = match args.job.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(other) => Some(Some(JobState::parse(other).ok_or_else(|| {
            format!("`--job {other}`: expected none, queued, claimed, completed or cancelled")
        })?)),
    };
    if !(1..=planck::engine::MAX_LIST_LIMIT).contains(&args.limit) {
        return Err(format!(
            "`--limit {}`: expected a number from 1 to {}",
            args.limit,
            planck::engine::MAX_LIST_LIMIT
        ));
    }
    let after = match args.after.as_deref() {
        None => None,
        Some(text) => Some(
            ListCursor::decode(text)
                .ok_or_else(|| format!("`--after {text}` is not a cursor from a previous page"))?,
        ),
    };
    let filter = CaseFilter {
        surface: args.surface.clone(),
        job,
        phase: args.phase.clone(),
        assignee: args.assignee.clone(),
        owner: args.owner.clone(),
    };
    Ok((filter, after))
}

fn to_text(page: &ListPage) -> String {
    let rows: Vec<Vec<String>> = page
        .cases
        .iter()
        .map(|listed| {
            let v = &listed.view;
            vec![
                v.case.clone(),
                v.surface.clone(),
                db::or_none(v.task.map(|t| t.as_str())),
                db::or_none(v.job.map(|j| j.as_str())),
                db::stage(v),
                db::or_none(v.assignee.as_deref()),
                db::or_none(v.owner.as_deref()),
                db::time(listed.last_activity),
            ]
        })
        .collect();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no case matches\n");
    } else {
        out.push_str(&db::table(
            &[
                "case",
                "surface",
                "task",
                "job",
                "where",
                "assignee",
                "owner",
                "last activity",
            ],
            &rows,
        ));
    }
    match &page.next {
        Some(next) => out.push_str(&format!("next page: --after {next}\n")),
        None if !rows.is_empty() => out.push_str("end of the list\n"),
        None => {}
    }
    out
}

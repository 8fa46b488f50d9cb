//! `planck feed --db PATH [--after POSITION] [--limit N] [--format text|json]`: every stored
//! event of every case in global commit order, with its position (docs/queries.md).
//!
//! Positions are 1, 2, 3, … without holes; an event committed after a reader saw position `p`
//! never gets a position at or below `p`, so `--after` the last position printed continues
//! exactly where a previous read stopped.

use std::path::PathBuf;

use planck::host::FeedEntry;
use serde_json::json;

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::db::{self, Format};

/// Events per read unless `--limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// The most `--limit` accepts.
const MAX_LIMIT: usize = 10_000;

/// Examples shown by `planck feed --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck feed --db planck.db
  planck feed --db planck.db --after 120 --limit 50
  planck feed --db planck.db --format json | jq -r '.events[] | \"\\(.position) \\(.event.event_type)\"'

The last line says where to continue (`--after`). A program that follows the feed keeps the
last position it handled and asks for what comes after it (the library's
`engine::Subscriber` does exactly that).

Exit codes: 0 printed, 2 a bad argument, or the database cannot be opened or read.";

/// Arguments of `planck feed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Start after this position (0: from the first event)
    #[arg(long, value_name = "POSITION", default_value_t = 0)]
    pub after: u64,
    /// At most this many events (1 to 10000)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// How to print the events
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Run `planck feed`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    if !(1..=MAX_LIMIT).contains(&args.limit) {
        eprintln!(
            "error: `--limit {}`: expected a number from 1 to {MAX_LIMIT}",
            args.limit
        );
        return Ok(EXIT_UNREADABLE);
    }
    let engine = match db::engine(&args.db, &[], false, 0) {
        Ok(engine) => engine,
        Err(code) => return Ok(code),
    };
    let events = match engine.feed(args.after, args.limit) {
        Ok(events) => events,
        Err(err) => return Ok(db::failed(&args.db, &err)),
    };
    let last = events.last().map_or(args.after, |e| e.position);
    let full = events.len() == args.limit;
    let text = match args.format {
        Format::Json => db::json_text(&json!({
            "events": events,
            "last": last,
            "more": full,
        })),
        Format::Text => to_text(&events, last, full),
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

fn to_text(events: &[FeedEntry], last: u64, full: bool) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|entry| {
            let e = &entry.event;
            vec![
                entry.position.to_string(),
                e.ts_utc.clone(),
                e.case_id.clone(),
                e.seq.to_string(),
                e.event_type.clone(),
                e.actor.id.clone(),
            ]
        })
        .collect();
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&db::table(
            &["position", "time", "case", "seq", "type", "actor"],
            &rows,
        ));
    }
    if full {
        out.push_str(&format!("more after position {last}: --after {last}\n"));
    } else {
        out.push_str(&format!("end of the feed at position {last}\n"));
    }
    out
}

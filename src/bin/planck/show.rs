//! `planck show --db PATH CASE [--surfaces PATH]… [--format text|json]`: one case of a SQLite
//! database, every layer of it, and its history.
//!
//! The view names each layer's state (Task, Assignment, Job, ServiceEvent, Record,
//! Settlement), the phase with its label, evidence counts and every signal; the history lists
//! each stored event with its sequence number, time, type, actor and digest prefix. Phase
//! labels come from the surfaces (`--surfaces`, else `./surfaces` when present); without the
//! pinned surface the phase id stands in for its label.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use planck::engine::{CaseView, Engine};
use planck::host::{ManualClock, NullTransport, StoredEvent};
use planck::spine::Case;
use planck::surface::registry::Registry;
use serde_json::json;

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::db::open_existing;

/// Examples shown by `planck show --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck run examples/scenarios/event-coordination.toml --db planck.db
  planck show --db planck.db ev-1
      case ev-1 · event-coordination@1 (Event Coordination)
        task          closed
        phase         complete (Complete)
        ...
  planck show --db planck.db ev-1 --format json | jq .view.phase

Exit codes: 0 printed, 1 there is no such case, 2 the database cannot be opened or read.";

/// Arguments of `planck show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The case id
    #[arg(value_name = "CASE")]
    pub case: String,
    /// Surface files or directories, for phase labels (default: `./surfaces` when present)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// How to print the case
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
}

/// Output formats of `planck show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// The view and the history, for people
    Text,
    /// One JSON object: `view` and `history` (every stored event in its envelope)
    Json,
}

/// Run `planck show`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let store = match open_existing(&args.db) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let mut paths = args.surfaces.clone();
    if paths.is_empty() && Path::new("surfaces").is_dir() {
        paths.push(PathBuf::from("surfaces"));
    }
    let mut registry = Registry::new();
    // Surfaces only add labels here: a file that does not load is skipped, not fatal.
    let _ = registry.load_paths(&paths);
    let engine = Engine::new(
        Arc::new(registry),
        store,
        NullTransport,
        ManualClock::new(0),
    );
    let found = engine
        .case(&args.case)
        .and_then(|case| Ok((case, engine.view(&args.case)?, engine.history(&args.case)?)));
    let (case, view, history) = match found {
        Ok((Some(case), Some(view), history)) => (case, view, history),
        Ok(_) => {
            eprintln!(
                "error: there is no case `{}` in `{}`",
                args.case,
                args.db.display()
            );
            return Ok(EXIT_INVALID);
        }
        Err(err) => {
            eprintln!("error: cannot read case `{}`: {err}", args.case);
            return Ok(EXIT_UNREADABLE);
        }
    };
    let text = match args.format {
        ShowFormat::Json => {
            let body = json!({ "view": view, "history": history });
            let mut text =
                serde_json::to_string_pretty(&body).unwrap_or_else(|_| String::from("{}"));
            text.push('\n');
            text
        }
        ShowFormat::Text => to_text(&case, &view, &history),
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

fn time(ms: i64) -> String {
    planck::scenario::format_time(ms)
}

fn or_none<T: AsRef<str>>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_string(), |v| v.as_ref().to_string())
}

/// The view and history for people.
fn to_text(case: &Case, view: &CaseView, history: &[StoredEvent]) -> String {
    let mut out = String::new();
    let mut row = |key: &str, value: String| out.push_str(&format!("  {key:<13} {value}\n"));
    let name = view.surface_name.as_deref().unwrap_or("surface not loaded");
    let header = format!("case {} · {} ({name})\n", view.case, view.surface);
    row(
        "submitted",
        format!("by {} at {}", view.submitted_by, time(view.submitted_at)),
    );
    row("task", or_none(view.task.map(|t| t.as_str())));
    row("assignee", or_none(view.assignee.as_deref()));
    let job = match (view.job, view.owner.as_deref()) {
        (Some(job), Some(owner)) => format!("{} (owner {owner})", job.as_str()),
        (job, _) => or_none(job.map(|j| j.as_str())),
    };
    row("job", job);
    row(
        "service event",
        or_none(view.service_event.map(|s| s.as_str())),
    );
    let phase = match (&view.phase, &view.stage) {
        (Some(p), _) => format!("{} ({})", p.id, p.label),
        (None, Some(stage)) => format!("none (the job waits in {} ({}))", stage.id, stage.label),
        (None, None) => "none".to_string(),
    };
    row("phase", phase);
    if !view.evidence.is_empty() {
        let counts: Vec<String> = view
            .evidence
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        row("evidence", counts.join(", "));
    }
    row(
        "record",
        view.record
            .as_ref()
            .map_or_else(|| "none".to_string(), |d| format!("sealed {d}")),
    );
    let settlement = match case.settlement.as_ref() {
        Some(s) => format!(
            "{} {}.{:02} {}",
            s.status.as_str(),
            s.amount_minor / 100,
            (s.amount_minor % 100).abs(),
            s.currency
        ),
        None => "none".to_string(),
    };
    row("settlement", settlement);
    let signals: Vec<String> = view
        .signals
        .iter()
        .map(|s| format!("{} ({})", s.kind, s.id))
        .collect();
    row(
        "signals",
        if signals.is_empty() {
            "none".to_string()
        } else {
            signals.join(", ")
        },
    );
    out.insert_str(0, &header);
    out.push_str(&format!("\nhistory ({} events)\n", history.len()));
    let type_w = history
        .iter()
        .map(|e| e.event_type.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let actor_w = history
        .iter()
        .map(|e| e.actor.id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!(
        "  {:>3}  {:<24}  {:<type_w$}  {:<actor_w$}  digest\n",
        "seq", "time", "type", "actor"
    ));
    for event in history {
        out.push_str(&format!(
            "  {:>3}  {:<24}  {:<type_w$}  {:<actor_w$}  {}\n",
            event.seq,
            event.ts_utc,
            event.event_type,
            event.actor.id,
            event.digest.get(..12).unwrap_or(&event.digest)
        ));
    }
    out
}

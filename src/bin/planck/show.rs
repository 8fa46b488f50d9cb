//! `planck show --db PATH CASE [--surfaces PATH]… [--format text|json]`: one case of a SQLite
//! database, every layer of it, and its history (or, for `operator:<id>`, the operator's
//! profile and their stream's history).
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
use planck::spine::{Case, StreamId};
use planck::surface::registry::Registry;
use serde_json::json;

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::verify::open_existing;

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
    /// The case id (or `operator:<id>` for an operator's profile and stream)
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
    if let StreamId::Operator(operator) = StreamId::parse(&args.case) {
        return show_operator(&engine, args, operator);
    }
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

/// `planck show --db PATH operator:<id>`: the operator's profile and their stream's history.
fn show_operator<S: planck::host::Store>(
    engine: &Engine<S, NullTransport, ManualClock>,
    args: &Args,
    operator: &str,
) -> Result<u8, CliError> {
    let found = engine
        .operator(operator)
        .and_then(|p| Ok((p, engine.history(&args.case)?)));
    let (profile, history) = match found {
        Ok((Some(profile), history)) => (profile, history),
        Ok((None, _)) => {
            eprintln!(
                "error: there is no operator `{operator}` in `{}`",
                args.db.display()
            );
            return Ok(EXIT_INVALID);
        }
        Err(err) => {
            eprintln!("error: cannot read operator `{operator}`: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let text = match args.format {
        ShowFormat::Json => {
            let body = json!({ "profile": profile, "history": history });
            let mut text =
                serde_json::to_string_pretty(&body).unwrap_or_else(|_| String::from("{}"));
            text.push('\n');
            text
        }
        ShowFormat::Text => {
            let mut out = format!("operator {} · {}\n", profile.id, profile.name);
            let status = match &profile.suspended_reason {
                Some(reason) => format!("{} ({reason})", profile.status),
                None => profile.status.to_string(),
            };
            out.push_str(&format!("  {:<13} {status}\n", "status"));
            let surfaces = if profile.surfaces.is_empty() {
                "every surface".to_string()
            } else {
                profile.surfaces.join(", ")
            };
            out.push_str(&format!("  {:<13} {surfaces}\n", "surfaces"));
            if !profile.attributes.is_empty() {
                let attributes = serde_json::to_string(&profile.attributes).unwrap_or_default();
                out.push_str(&format!("  {:<13} {attributes}\n", "attributes"));
            }
            out.push_str(&history_text(&history));
            out
        }
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
    if let Some(pending) = &view.pending_approval {
        let roles: Vec<&str> = pending.approval.iter().map(|r| r.as_str()).collect();
        row(
            "approval",
            format!(
                "pending: {} ({}) asked by {}, for {}",
                pending.to.id,
                pending.to.label,
                pending.requested_by,
                roles.join(" or ")
            ),
        );
    }
    if view.released > 0 {
        row("released", format!("{} service event(s)", view.released));
    }
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
    out.push_str(&history_text(history));
    out
}

/// The stored events, one line each.
fn history_text(history: &[StoredEvent]) -> String {
    let mut out = String::new();
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

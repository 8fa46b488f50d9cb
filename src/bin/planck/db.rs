//! What the commands that read a database share: opening it (never creating one), loading the
//! surfaces, an engine over both, the output format of the query commands and their texts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use planck::engine::{CaseView, Engine, EngineError};
use planck::host::{ManualClock, NullTransport, SqliteStore, StoreError};
use planck::surface::registry::Registry;

use crate::cli::EXIT_UNREADABLE;

/// An engine over a database, for reads (it publishes nothing).
pub type DbEngine = Engine<SqliteStore, NullTransport, ManualClock>;

/// Output formats of the query commands (`desk`, `queue`, `list`, `explain`, `feed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: aligned columns
    Text,
    /// One JSON object, for tools
    Json,
}

/// Open an existing SQLite database (never creating one); `Err` holds the exit code after the
/// problem was printed.
pub fn open_existing(db: &Path) -> Result<SqliteStore, u8> {
    if !db.is_file() {
        eprintln!("error: there is no database at `{}`", db.display());
        return Err(EXIT_UNREADABLE);
    }
    SqliteStore::open(db).map_err(|err| {
        eprintln!("error: cannot open the database `{}`: {err}", db.display());
        EXIT_UNREADABLE
    })
}

/// The surfaces at `paths` (default: `./surfaces` when it exists). With `strict`, a file that
/// does not load is an error (exit 2, its problem printed); otherwise it is skipped.
pub fn surfaces(paths: &[PathBuf], strict: bool) -> Result<Registry, u8> {
    let mut paths = paths.to_vec();
    if paths.is_empty() && Path::new("surfaces").is_dir() {
        paths.push(PathBuf::from("surfaces"));
    }
    let mut registry = Registry::new();
    let report = registry.load_paths(&paths);
    if strict && !report.is_ok() {
        for failure in report.failures() {
            eprintln!(
                "error: the surface file `{}` does not load: run `planck check {}`",
                failure.path.display(),
                failure.path.display()
            );
        }
        return Err(EXIT_UNREADABLE);
    }
    Ok(registry)
}

/// An engine over the database at `db` with the surfaces at `paths` (see [`surfaces`]), its
/// clock at `now`.
pub fn engine(db: &Path, paths: &[PathBuf], strict: bool, now: i64) -> Result<DbEngine, u8> {
    let store = open_existing(db)?;
    let registry = surfaces(paths, strict)?;
    Ok(Engine::new(
        Arc::new(registry),
        store,
        NullTransport,
        ManualClock::new(now),
    ))
}

/// Print why reading `db` failed; the exit code for it.
pub fn failed(db: &Path, err: &EngineError) -> u8 {
    if matches!(err, EngineError::Store(StoreError::IndexNotReady)) {
        eprintln!(
            "error: the index of `{}` needs a rebuild (a database from an older planck): run `planck reindex --db {} --surfaces DIR`",
            db.display(),
            db.display()
        );
    } else {
        eprintln!("error: cannot read the database `{}`: {err}", db.display());
    }
    EXIT_UNREADABLE
}

/// Unix milliseconds as RFC 3339.
pub fn time(ms: i64) -> String {
    planck::scenario::format_time(ms)
}

/// The text, or `none`.
pub fn or_none(value: Option<&str>) -> String {
    value.unwrap_or("none").to_string()
}

/// Where the case's work stands, in words: `in Confirmed (confirmed)`, `waiting in Queued`.
pub fn stage(view: &CaseView) -> String {
    match (&view.phase, &view.stage) {
        (Some(p), _) => format!("{} ({})", p.label, p.id),
        (None, Some(s)) => format!("waiting in {} ({})", s.label, s.id),
        (None, None) => "none".to_string(),
    }
}

/// Rows of cells as aligned columns, each line indented by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            out.push(' ');
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count()) + 1));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `value` as pretty JSON with a final newline.
pub fn json_text<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}

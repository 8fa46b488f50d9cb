//! `planck diff OLD NEW [--db PATH]`: what changed between two versions of a surface; with
//! `--db`, which stored cases pinned to OLD could move to NEW, and why not for the others
//! (the judgement `migrate_case` uses: `planck::spine::migration::compatibility`).

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use planck::host::Store;
use planck::spine::migration::{Reason, compatibility};
use planck::spine::replay;
use planck::surface::Surface;
use planck::surface::diff::{diff, to_json, to_text};
use serde::Serialize;
use serde_json::json;

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, emit, load_one};
use crate::db::open_existing;

/// Examples shown by `planck diff --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck diff surfaces/auto-detailing.toml auto-detailing-v2.toml
  planck diff v1.toml v2.toml --db planck.db       which stored cases could move to v2
  planck diff --format json v1.toml v2.toml --db planck.db | jq .cases.blocked

Exit codes: 0 printed, 1 a surface file has errors (printed instead), 2 a file or the
database cannot be read.";

/// Arguments of `planck diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old version (`.toml` or `.surface`)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The new version
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// A SQLite database: say which cases pinned to OLD could move to NEW
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

/// Output formats of `planck diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// One line per change, by section; then the cases
    Text,
    /// One JSON object: `diff` (sections of changes) and, with `--db`, `cases`
    Json,
}

/// The stored cases pinned to OLD, judged against NEW.
#[derive(Debug, Default, Serialize)]
struct Cases {
    /// `slug@version` of OLD.
    pinned_to: String,
    /// `slug@version` of NEW.
    target: String,
    /// Cases that could move.
    movable: Vec<String>,
    /// Cases that could not, with every reason.
    blocked: Vec<Blocked>,
}

#[derive(Debug, Serialize)]
struct Blocked {
    case: String,
    reasons: Vec<serde_json::Value>,
}

/// Run `planck diff`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (_, old) = match load_one(&args.old) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let (_, new) = match load_one(&args.new) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let (old, new) = (old.surface, new.surface);
    let changes = diff(&old, &new);
    let cases = match &args.db {
        None => None,
        Some(db) => match judge_cases(db, &old, &new) {
            Ok(cases) => Some(cases),
            Err(code) => return Ok(code),
        },
    };
    let text = match args.format {
        DiffFormat::Text => {
            let mut text = to_text(&changes);
            if let Some(cases) = &cases {
                text.push_str(&cases_text(cases));
            }
            text
        }
        DiffFormat::Json => {
            let mut body = json!({ "diff": to_json(&changes) });
            if let (Some(cases), Some(object)) = (&cases, body.as_object_mut()) {
                object.insert(
                    "cases".into(),
                    serde_json::to_value(cases).unwrap_or_default(),
                );
            }
            format!(
                "{}\n",
                serde_json::to_string_pretty(&body).unwrap_or_else(|_| "{}".into())
            )
        }
    };
    emit(&text, None)?;
    Ok(EXIT_OK)
}

/// Every case of the database pinned to OLD's `slug@version`, judged against NEW.
fn judge_cases(db: &Path, old: &Surface, new: &Surface) -> Result<Cases, u8> {
    let store = open_existing(db)?;
    let unreadable = |err: &dyn std::fmt::Display| {
        eprintln!("error: cannot read the database `{}`: {err}", db.display());
        EXIT_UNREADABLE
    };
    let ids = store.cases().map_err(|e| unreadable(&e))?;
    let mut cases = Cases {
        pinned_to: old.key(),
        target: new.key(),
        ..Cases::default()
    };
    for id in ids {
        let events = store.load(&id).map_err(|e| unreadable(&e))?;
        let case = replay(&id, events.iter().map(|e| &e.payload));
        let Some(request) = case.request.as_ref() else {
            continue;
        };
        if request.surface.slug != old.slug() || request.surface.version != old.version() {
            continue;
        }
        match compatibility(&case, old, new) {
            Ok(()) => cases.movable.push(id),
            Err(reasons) => cases.blocked.push(Blocked {
                case: id,
                reasons: reasons.iter().map(Reason::to_json).collect(),
            }),
        }
    }
    Ok(cases)
}

fn cases_text(cases: &Cases) -> String {
    let total = cases.movable.len() + cases.blocked.len();
    let mut out = format!("\ncases pinned to {}: {total}\n", cases.pinned_to);
    if total == 0 {
        return out;
    }
    out.push_str(&format!(
        "  could move to {}: {}\n",
        cases.target,
        if cases.movable.is_empty() {
            "none".to_string()
        } else {
            cases.movable.join(", ")
        }
    ));
    for blocked in &cases.blocked {
        let reasons: Vec<&str> = blocked
            .reasons
            .iter()
            .filter_map(|r| r.get("message").and_then(|m| m.as_str()))
            .collect();
        out.push_str(&format!(
            "  could not: {}: {}\n",
            blocked.case,
            reasons.join("; ")
        ));
    }
    out
}

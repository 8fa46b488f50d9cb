//! `planck verify --db PATH [--surfaces PATH]… [--checkpoint FILE --public-key KEY.pub]
//! [--format text|json]`: re-derive every case (and every operator stream) of a SQLite
//! database from its events and check every digest, link and Record seal; the outbox and
//! idempotency rows against the events; every index row against the events; the feed's
//! positions; and (with a checkpoint) that every stream the checkpoint signed still holds at
//! least that version with that digest.
//!
//! Verification needs no surfaces: it checks the stored history against itself and against
//! the checkpoint. With `--surfaces`, the index fields that need the pinned surface are
//! checked too. Each stream is reported as holding or with the first failure found, naming
//! the stream and the event. A checkpoint that does not hold (another key, a changed root, a
//! broken signature) is reported before anything else and exits 1.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use planck::audit::checkpoint::{Checkpoint, verifying_key_from_pem};
use planck::engine::verify_with;
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
  planck verify --db planck.db --checkpoint cp.json --public-key planck.key.pub
      ok    ev-1
      verified 1 case, 15 events: every case holds
      checkpoint at position 15: 1 stream, 15 events, taken 2026-01-10T09:00:00.000Z by key 5d2f...: every stream it covers holds

Exit codes: 0 every case holds, 1 a case does not (the case and the event are named) or the
index needs a rebuild (`planck reindex`) or the checkpoint does not hold, 2 the database, the
checkpoint or the key cannot be opened or read.";

/// Arguments of `planck verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Surface files or directories: check the index fields that need the pinned surface too
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// A checkpoint written by `planck checkpoint`: also prove every stream it covers
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub checkpoint: Option<PathBuf>,
    /// The public key (`KEY.pub` from `planck keygen`) of the key that signed the checkpoint
    #[arg(long = "public-key", value_name = "KEY.pub", requires = "checkpoint")]
    pub public_key: Option<PathBuf>,
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
    /// `index_rows`, `positions`, `index_needs_rebuild` and, with a checkpoint, `checkpoint`
    Json,
}

/// Read and check a checkpoint with its public key; `Err` holds the exit code after the
/// problem was printed (2 unreadable, 1 it does not hold).
fn read_checkpoint(file: &Path, public_key: &Path) -> Result<Checkpoint, u8> {
    let read = |path: &Path, what: &str| {
        std::fs::read_to_string(path).map_err(|e| {
            eprintln!("error: cannot read the {what} `{}`: {e}", path.display());
            EXIT_UNREADABLE
        })
    };
    let key_text = read(public_key, "public key")?;
    let key = verifying_key_from_pem(&key_text).map_err(|e| {
        eprintln!("error: `{}` is {e}", public_key.display());
        EXIT_UNREADABLE
    })?;
    let checkpoint = Checkpoint::from_json(&read(file, "checkpoint")?).map_err(|e| {
        eprintln!("error: `{}`: {e}", file.display());
        EXIT_UNREADABLE
    })?;
    checkpoint.check(&key).map_err(|e| {
        eprintln!("FAIL  checkpoint `{}` does not hold: {e}", file.display());
        EXIT_INVALID
    })?;
    Ok(checkpoint)
}

/// Run `planck verify`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let checkpoint = match (&args.checkpoint, &args.public_key) {
        (Some(file), Some(key)) => match read_checkpoint(file, key) {
            Ok(checkpoint) => Some(checkpoint),
            Err(code) => return Ok(code),
        },
        _ => None,
    };
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
    let report = match verify_with(&store, registry.as_ref(), checkpoint.as_ref()) {
        Ok(report) => report,
        Err(err) => {
            eprintln!(
                "error: cannot read the database `{}`: {err}",
                args.db.display()
            );
            return Ok(EXIT_UNREADABLE);
        }
    };
    let failed = |case: &str| report.failures.iter().any(|f| f.case() == case);
    let held: Vec<&String> = report.streams.iter().filter(|c| !failed(c)).collect();
    let covered_failures = checkpoint.as_ref().map(|cp| {
        report
            .failures
            .iter()
            .filter(|f| cp.head(f.case()).is_some())
            .count()
    });
    match args.format {
        VerifyFormat::Json => {
            let mut body = json!({
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
            if let (Some(cp), Some(object)) = (&checkpoint, body.as_object_mut()) {
                object.insert(
                    "checkpoint".into(),
                    json!({
                        "position": cp.position(),
                        "streams": cp.streams(),
                        "events": cp.events(),
                        "root": cp.root(),
                        "taken_at": cp.taken_at(),
                        "key_id": cp.key_id(),
                        "failures": covered_failures,
                    }),
                );
            }
            let text = serde_json::to_string_pretty(&body).unwrap_or_else(|_| String::from("{}"));
            emit(&format!("{text}\n"), None)?;
        }
        VerifyFormat::Text => {
            let mut text = String::new();
            for case in &report.streams {
                match report.failures.iter().find(|f| f.case() == case.as_str()) {
                    None => text.push_str(&format!("ok    {case}\n")),
                    Some(failure) => text.push_str(&format!("FAIL  {case}  {failure}\n")),
                }
            }
            // Failures of streams that hold no events (an index row or a feed entry only).
            for failure in &report.failures {
                if !report.streams.iter().any(|s| s == failure.case()) {
                    text.push_str(&format!("FAIL  {}  {failure}\n", failure.case()));
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
            if let (Some(cp), Some(bad)) = (&checkpoint, covered_failures) {
                let verdict = if bad == 0 {
                    "every stream it covers holds".to_string()
                } else {
                    format!(
                        "{bad} of the {} streams it covers do not hold",
                        cp.streams()
                    )
                };
                text.push_str(&format!(
                    "checkpoint at position {}: {} stream{}, {} event{}, taken {} by key {}: {verdict}\n",
                    cp.position(),
                    cp.streams(),
                    if cp.streams() == 1 { "" } else { "s" },
                    cp.events(),
                    if cp.events() == 1 { "" } else { "s" },
                    cp.taken_at(),
                    cp.key_id(),
                ));
            }
            emit(&text, None)?;
        }
    }
    Ok(if report.ok() { EXIT_OK } else { EXIT_INVALID })
}

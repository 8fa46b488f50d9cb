//! `planck check PATH…`: compile every surface file given (directories: every `.toml` and
//! `.surface` file directly inside) and report every problem.
//!
//! Text mode prints each file's diagnostics like rustc (color only when stdout is a terminal)
//! and one `ok` line per clean surface; `--format json` prints one JSON array of every
//! diagnostic instead. The files are registered together, so the same `slug@version` written
//! twice with different contents (a TOML file and its DSL twin that drifted apart) is a
//! `registry_conflict`.

use std::io::{IsTerminal as _, stdout};
use std::path::PathBuf;

use clap::ValueEnum;
use planck::diagnostic::render::{render_terminal, to_json};
use planck::surface::load::{Format, SourceFile};
use planck::surface::registry::{FileOutcome, Registry};
use planck::surface::{Code, Diagnostic, Span};

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, emit, plural, use_color};

/// Examples shown by `planck check --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck check surfaces/
  planck check surfaces/auto-detailing.toml surfaces/auto-detailing.surface
  planck check --format json surfaces/ > diagnostics.json

Exit codes: 0 every file is clean (warnings allowed), 1 a file has errors, 2 a path cannot
be read. Every key of both forms and every diagnostic code: docs/surface.md.";

/// Arguments of `planck check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Surface files (`.toml`, `.surface`) or directories holding them
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print the result
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// Output formats of `planck check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Diagnostics like a compiler's, and one `ok` line per clean surface
    Text,
    /// One JSON array of every diagnostic (`file`, `line`, `column`, `code`, `severity`,
    /// `message`, ...)
    Json,
}

/// Run `planck check`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let color = use_color(stdout().is_terminal());
    let mut text = String::new();
    let mut json = Vec::new();
    let (mut clean, mut invalid, mut unreadable) = (0_usize, 0_usize, 0_usize);
    let (mut errors, mut warnings) = (0_usize, 0_usize);

    // A path that does not exist at all is reported as such (the registry would call a
    // missing directory "not a surface file").
    let (present, missing): (Vec<PathBuf>, Vec<PathBuf>) =
        args.paths.iter().cloned().partition(|p| p.exists());
    for path in &missing {
        unreadable += 1;
        let message = format!(
            "cannot read `{}`: no such file or directory",
            path.display()
        );
        let diag = Diagnostic::error(Code::Io, Span::default(), message.clone());
        let format = Format::from_path(path).unwrap_or(Format::Toml);
        let source = SourceFile::from_text(path.clone(), "", format);
        json.extend(as_array(to_json(&source, std::slice::from_ref(&diag))));
        text.push_str(&format!("error[io]: {message}\n"));
    }

    let mut registry = Registry::new();
    let report = registry.load_paths(&present);
    for file in &report.files {
        errors += file.diagnostics.iter().filter(|d| d.is_error()).count();
        warnings += file.diagnostics.iter().filter(|d| !d.is_error()).count();
        match (&file.outcome, &file.source) {
            (FileOutcome::Unreadable(err), _) => {
                unreadable += 1;
                let diag = err.to_diagnostic();
                let format = Format::from_path(&file.path).unwrap_or(Format::Toml);
                let source = SourceFile::from_text(file.path.clone(), "", format);
                json.extend(as_array(to_json(&source, std::slice::from_ref(&diag))));
                text.push_str(&format!("error[{}]: {err}\n", diag.code));
            }
            (outcome, Some(source)) => {
                json.extend(as_array(to_json(source, &file.diagnostics)));
                text.push_str(&render_terminal(source, &file.diagnostics, color));
                if let FileOutcome::Registered(key) = outcome {
                    clean += 1;
                    let fingerprint: String = key
                        .rsplit_once('@')
                        .and_then(|(slug, v)| registry.get(slug, v.parse().ok()?))
                        .map(|s| s.fingerprint().to_hex().chars().take(12).collect())
                        .unwrap_or_default();
                    text.push_str(&format!(
                        "ok  {}  {key}  {fingerprint}\n",
                        file.path.display()
                    ));
                } else {
                    invalid += 1;
                }
            }
            (_, None) => invalid += 1,
        }
    }

    match args.format {
        CheckFormat::Json => {
            let body = serde_json::to_string_pretty(&serde_json::Value::Array(json))
                .unwrap_or_else(|_| String::from("[]"));
            emit(&format!("{body}\n"), None)?;
        }
        CheckFormat::Text => {
            let total = report.files.len() + missing.len();
            if total == 0 {
                text.push_str("no surface files found (looked for `.toml` and `.surface`)\n");
            } else if invalid + unreadable > 0 {
                let mut parts = Vec::new();
                if invalid > 0 {
                    parts.push(format!(
                        "{invalid} of {total} with errors ({}, {})",
                        plural(errors, "error"),
                        plural(warnings, "warning")
                    ));
                }
                if unreadable > 0 {
                    parts.push(format!("{unreadable} of {total} unreadable"));
                }
                text.push_str(&format!("error: {}\n", parts.join("; ")));
            } else if warnings > 0 {
                text.push_str(&format!(
                    "{} checked, {}\n",
                    plural(clean, "surface"),
                    plural(warnings, "warning")
                ));
            }
            emit(&text, None)?;
        }
    }
    Ok(if unreadable > 0 {
        EXIT_UNREADABLE
    } else if invalid > 0 {
        EXIT_INVALID
    } else {
        EXIT_OK
    })
}

fn as_array(value: serde_json::Value) -> Vec<serde_json::Value> {
    match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    }
}

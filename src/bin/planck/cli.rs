//! The argument parser and what the subcommands share: exit codes, loading one surface file
//! and printing its diagnostics.

use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use planck::diagnostic::render::render_terminal;
use planck::surface::Diagnostic;
use planck::surface::compile::Compiled;
use planck::surface::load::{SourceFile, compile_source};
use thiserror::Error;

use crate::{
    check, checkpoint, convert, desk, diff, explain, explore, feed, graph, inspect, keygen, list,
    queue, reindex, run, serve, show, users, verify,
};

/// Everything held: the files are clean (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// A surface file has errors; they were printed.
pub const EXIT_INVALID: u8 = 1;
/// A file could not be read (or written), or the command line was wrong.
pub const EXIT_UNREADABLE: u8 = 2;

const ABOUT: &str = "Author planck surfaces and run scenarios against the planck engine";

const LONG_ABOUT: &str = "\
Author planck surfaces and run scenarios against the planck engine.

planck is an embeddable, rules-driven workflow engine. A surface file declares how one kind \
of service moves through its phases: who may claim it, what evidence completion needs, what \
a request must carry, and which extra rules guard each move. Surfaces are written in TOML \
(`.toml`) or in the planck DSL (`.surface`); both say the same things, and the same surface \
in either form has the same fingerprint. Scenario files drive whole cases through the \
engine (in memory, or in a SQLite database that `verify` and `show` read back).

Exit codes: 0 when everything is clean and held (warnings are allowed), 1 when a surface file \
has errors (printed like compiler errors, with file:line:column) or an expectation did not \
hold, 2 when a file cannot be read or is malformed.

Documentation, in the repository's docs/ folder: surface.md (surface files in both forms, every \
key and every `check` code), scenario.md (scenario files and what `run` prints), \
commands.md (the commands, roles, idempotency keys and rejection codes) and queries.md (desk, \
queue, list, explain, feed, the index and reindex).";

const EXAMPLES: &str = "\
Examples:
  planck check surfaces/                          check every surface in a directory
  planck check --format json surfaces/x.toml      diagnostics as JSON, for editors and CI
  planck inspect surfaces/auto-detailing.surface  what the engine will run, in plain words
  planck graph surfaces/auto-detailing.toml       the phase graph, as a Mermaid flowchart
  planck graph --format dot x.toml | dot -Tsvg    the phase graph, drawn by Graphviz
  planck convert x.toml --to dsl -o x.surface     the same surface in the other form
  planck explore x.toml --emit-scenario s.toml    every reachable state; a scenario covering it
  planck diff v1.toml v2.toml --db planck.db      what changed; which stored cases could move
  planck run examples/scenarios/event-coordination.toml   the ten-step example, in memory
  planck run --db planck.db examples/scenarios/*.toml     the same, kept in SQLite
  planck verify --db planck.db                    re-derive every case, check every digest
  planck keygen -o /secure/planck.key             a signing key for checkpoints (and its .pub)
  planck checkpoint --db planck.db --key /secure/planck.key -o cp.json
                                                  sign the state of every stream
  planck verify --db planck.db --checkpoint cp.json --public-key /secure/planck.key.pub
                                                  prove the database against a checkpoint
  planck show --db planck.db ev-1                 one case: every layer and its history
  planck desk --db planck.db op-lee               an operator's desk, with the moves allowed now
  planck queue --db planck.db                     Tasks to review, assign or hand off
  planck list --db planck.db --job claimed        matching cases, newest activity first
  planck explain --db planck.db --as op-max:operator ev-1 claim_job
                                                  every check the command would meet
  planck feed --db planck.db --after 100          every event in global commit order
  planck reindex --db planck.db --surfaces surfaces/
                                                  rebuild the index from the events
  planck serve --db planck.db --surfaces surfaces --users examples/serve/users.toml
                                                  the HTTP service on 127.0.0.1:8080
  planck users add users.toml kim --id admin-kim --role admin
                                                  add a login (password from stdin)";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "planck",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check surface files and directories of them; print every problem
    #[command(after_help = check::EXAMPLES)]
    Check(check::Args),
    /// Show what a surface says: phases, transitions, evidence, intake, rules, fingerprint
    #[command(after_help = inspect::EXAMPLES)]
    Inspect(inspect::Args),
    /// Draw the phase graph of a surface (Mermaid or Graphviz dot)
    #[command(after_help = graph::EXAMPLES)]
    Graph(graph::Args),
    /// Convert a surface file between the TOML and the DSL form
    #[command(after_help = convert::EXAMPLES)]
    Convert(convert::Args),
    /// What changed between two versions of a surface; with --db, which cases could move
    #[command(after_help = diff::EXAMPLES)]
    Diff(diff::Args),
    /// Walk every state a case of a surface can reach; optionally write a scenario covering it
    #[command(after_help = explore::EXAMPLES)]
    Explore(explore::Args),
    /// Run scenario files: each step through the engine, then each check (docs/scenario.md)
    #[command(after_help = run::EXAMPLES)]
    Run(run::Args),
    /// Re-derive every case of a SQLite database and check every digest
    #[command(after_help = verify::EXAMPLES)]
    Verify(verify::Args),
    /// Write a new Ed25519 signing key (and KEY.pub) for checkpoints
    #[command(after_help = keygen::EXAMPLES)]
    Keygen(keygen::Args),
    /// Sign the state of every stream of a SQLite database (a checkpoint, as JSON)
    #[command(after_help = checkpoint::EXAMPLES)]
    Checkpoint(checkpoint::Args),
    /// Show one case of a SQLite database: every layer, the phase and its history
    #[command(after_help = show::EXAMPLES)]
    Show(show::Args),
    /// An operator's desk: claimable Jobs, owned Jobs with the moves allowed now, completed Jobs
    #[command(after_help = desk::EXAMPLES)]
    Desk(desk::Args),
    /// The governance queue: Tasks to review, assign or hand off; moves waiting for approval
    #[command(after_help = queue::EXAMPLES)]
    Queue(queue::Args),
    /// The cases matching filters, newest activity first, a page at a time
    #[command(after_help = list::EXAMPLES)]
    List(list::Args),
    /// Every check a command would meet now, in order, each passed or failed with why
    #[command(after_help = explain::EXAMPLES)]
    Explain(explain::Args),
    /// Every stored event of every case in global commit order, with its position
    #[command(after_help = feed::EXAMPLES)]
    Feed(feed::Args),
    /// Rebuild the index of a SQLite database from its events
    #[command(after_help = reindex::EXAMPLES)]
    Reindex(reindex::Args),
    /// Run planck as an HTTP service: JSON API, operator and admin desks, webhooks
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::Args),
    /// Manage the users file of `planck serve`
    #[command(after_help = users::EXAMPLES)]
    Users(users::Args),
}

/// A failure of the command line itself rather than of a surface file.
#[derive(Debug, Error)]
pub enum CliError {
    /// Writing the output failed.
    #[error("cannot write {target}: {source}")]
    Write {
        /// Where the output was going.
        target: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Parse the arguments and run the subcommand; returns the process exit code.
pub fn execute() -> Result<u8, CliError> {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Explore(args) => explore::run(&args),
        Command::Run(args) => run::run_cmd(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Checkpoint(args) => checkpoint::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Desk(args) => desk::run(&args),
        Command::Queue(args) => queue::run(&args),
        Command::List(args) => list::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Feed(args) => feed::run(&args),
        Command::Reindex(args) => reindex::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Users(args) => users::run(&args),
    }
}

/// Whether to color output written to a terminal: only when it is one and `NO_COLOR` is not
/// set (<https://no-color.org>).
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One surface file, read and compiled; or the exit code after its problems were printed.
pub fn load_one(path: &Path) -> Result<(SourceFile, Compiled), u8> {
    let file = match SourceFile::read(path) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("error[{}]: {err}", err.to_diagnostic().code);
            return Err(EXIT_UNREADABLE);
        }
    };
    match compile_source(&file) {
        Ok(compiled) => {
            print_diagnostics_to_stderr(&file, &compiled.warnings);
            Ok((file, compiled))
        }
        Err(diags) => {
            print_diagnostics_to_stderr(&file, &diags);
            eprintln!("{}", summary(&file.path, &diags));
            Err(EXIT_INVALID)
        }
    }
}

/// Render `diags` to stderr (colored when stderr is a terminal).
pub fn print_diagnostics_to_stderr(file: &SourceFile, diags: &[Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    let text = render_terminal(file, diags, use_color(io::stderr().is_terminal()));
    let _ = io::stderr().write_all(text.as_bytes());
}

/// `error: `x.toml` has 2 errors and 1 warning`.
pub fn summary(path: &Path, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let mut text = format!(
        "error: `{}` has {}",
        path.display(),
        plural(errors, "error")
    );
    if warnings > 0 {
        text.push_str(&format!(" and {}", plural(warnings, "warning")));
    }
    text
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Write `text` to `output` when given, else to stdout.
pub fn emit(text: &str, output: Option<&PathBuf>) -> Result<(), CliError> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|source| CliError::Write {
            target: format!("`{}`", path.display()),
            source,
        }),
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|source| CliError::Write {
                    target: String::from("standard output"),
                    source,
                })
        }
    }
}

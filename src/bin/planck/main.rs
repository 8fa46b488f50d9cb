//! `planck`: the command line for people who write surfaces.
//!
//! `main` stays thin: [`cli::execute`] parses the arguments, runs one subcommand and returns
//! the exit code (0 clean, 1 the input has errors, 2 a file could not be read). Only an error
//! of the command line itself (stdout closed, an output file that cannot be written) comes
//! back as `Err`; it is printed and exits 2. Each subcommand lives in its own file.

mod check;
mod checkpoint;
mod cli;
mod convert;
mod db;
mod desk;
mod diff;
mod explain;
mod explore;
mod feed;
mod graph;
mod inspect;
mod keygen;
mod list;
mod queue;
mod reindex;
mod run;
mod serve;
mod show;
mod users;
mod verify;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::execute() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(cli::EXIT_UNREADABLE)
        }
    }
}

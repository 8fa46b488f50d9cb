//! `planck users add FILE LOGIN --id ID --role ROLE…`: write one login to a users file.
//!
//! The password is read from standard input (one line; from the terminal without echo when
//! standard input is one), never from the command line, where other users of the machine and
//! the shell history would see it.

use std::io::{self, BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use clap::Subcommand;
use planck::policy::Role;
use planck::serve::users::{AddOutcome, add_user};

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};

/// Examples shown by `planck users --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck users add users.toml kim --id admin-kim --role admin          (prompts for the password)
  printf '%s\\n' \"$PASSWORD\" | planck users add users.toml lee --id op-lee --role operator
  planck users add users.toml ava --id client-ava --role client --role observer

The file is created when missing; an existing login gets the new id, roles and password. The
file is replaced atomically and left readable by its owner only (0600).

Exit codes: 0 written, 1 a value was refused, 2 the file could not be read or written.";

/// `planck users …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: UsersCommand,
}

/// The subcommands of `planck users`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a login to a users file, or update it (password from standard input)
    Add(AddArgs),
}

/// Arguments of `planck users add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The users file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The login people type
    #[arg(value_name = "LOGIN")]
    pub login: String,
    /// The principal id commands are recorded under
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// A role (client, admin, operator, system, observer); repeat for more
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
    pub roles: Vec<Role>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| {
        format!("`{text}` is not a role (client, admin, operator, system, observer)")
    })
}

/// Run `planck users`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    match &args.command {
        UsersCommand::Add(add) => run_add(add),
    }
}

fn run_add(args: &AddArgs) -> Result<u8, CliError> {
    let password = match read_password(&args.login) {
        Ok(password) => password,
        Err(err) => {
            eprintln!("error: cannot read the password from standard input: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    match add_user(&args.file, &args.login, &args.id, &args.roles, &password) {
        Ok(outcome) => {
            let what = match outcome {
                AddOutcome::Added => "added",
                AddOutcome::Updated => "updated",
            };
            eprintln!(
                "{what} `{}` (principal `{}`) in `{}`",
                args.login,
                args.id,
                args.file.display()
            );
            Ok(EXIT_OK)
        }
        Err(planck::serve::users::UsersError::Invalid(message)) => {
            eprintln!("error: {message}");
            Ok(EXIT_INVALID)
        }
        Err(err) => {
            eprintln!("error: {err}");
            Ok(EXIT_UNREADABLE)
        }
    }
}

fn read_password(login: &str) -> io::Result<String> {
    if io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("password for `{login}`: "));
    }
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

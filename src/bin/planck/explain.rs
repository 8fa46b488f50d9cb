//! `planck explain --db PATH --as ID:ROLE[,ROLE…] CASE COMMAND [--args JSON]`: every check the
//! command would meet now, in order, each passed or failed with why (docs/queries.md). Writes
//! nothing.
//!
//! Judging goes on past a failed check when the later checks do not depend on it (a wrong
//! role, a bad argument, a layer in the wrong state, the wrong operator, missing evidence,
//! each rule), so every problem that can be seen is shown; it stops where the rest depends on
//! what failed (no case, no surface, no service event, no such transition) and says so. The
//! verdict is always the first failure: the rejection the command would get.

use std::path::PathBuf;

use planck::policy::{Principal, Role};
use planck::spine::{Command, Explanation};
use serde_json::{Value, json};

use crate::cli::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::db::{self, Format};

/// Examples shown by `planck explain --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck explain --db planck.db --as op-max:operator ev-1 claim_job
  planck explain --db planck.db --as op-lee:operator ev-1 advance --args '{\"to\": \"arrived\"}'
  planck explain --db planck.db --as kim:admin,observer ev-1 close_task --format json

Commands and their arguments are those of docs/commands.md; `--as` is the principal that would
send it (an id, a colon, and its roles separated by commas). The surfaces come from
`--surfaces` (else `./surfaces` when present); the case is judged by the one it is pinned to.
`--at` judges at another time than now (RFC 3339), for rules and escalations that read it.

Exit codes: 0 the command would be applied, 1 it would be refused, 2 a bad argument, or the
database cannot be opened or read.";

/// Arguments of `planck explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Who would send the command: `ID:ROLE[,ROLE…]` (roles: client, admin, operator, system,
    /// observer)
    #[arg(long = "as", value_name = "ID:ROLES")]
    pub principal: String,
    /// The case
    #[arg(value_name = "CASE")]
    pub case: String,
    /// The command (docs/commands.md)
    #[arg(value_name = "COMMAND")]
    pub command: String,
    /// The command's arguments as a JSON object
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub args: String,
    /// Judge at this time (RFC 3339) instead of now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Surface files or directories (default: `./surfaces` when present)
    #[arg(long = "surfaces", value_name = "PATH")]
    pub surfaces: Vec<PathBuf>,
    /// How to print the checks
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Parse `ID:ROLE[,ROLE…]`.
fn principal(text: &str) -> Result<Principal, String> {
    let (id, roles) = text
        .split_once(':')
        .ok_or_else(|| format!("`--as {text}`: expected ID:ROLE[,ROLE…], e.g. op-lee:operator"))?;
    if id.trim().is_empty() {
        return Err(format!("`--as {text}`: the id is empty"));
    }
    let mut parsed = Vec::new();
    for role in roles.split(',') {
        parsed.push(Role::parse(role.trim()).ok_or_else(|| {
            format!(
                "`--as {text}`: `{role}` is not a role (client, admin, operator, system, observer)"
            )
        })?);
    }
    Ok(Principal::new(id, parsed))
}

fn parse(args: &Args) -> Result<(Principal, Command, i64), String> {
    let who = principal(&args.principal)?;
    let body: Value =
        serde_json::from_str(&args.args).map_err(|e| format!("`--args` is not JSON: {e}"))?;
    let command =
        Command::from_json(args.case.clone(), &args.command, &body).map_err(|e| e.to_string())?;
    let now = match args.at.as_deref() {
        None => planck::host::Clock::now(&planck::host::SystemClock),
        Some(at) => at
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(|e| format!("`--at {at}` is not an RFC 3339 time: {e}"))?,
    };
    Ok((who, command, now))
}

/// Run `planck explain`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let (who, command, now) = match parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let engine = match db::engine(&args.db, &args.surfaces, false, now) {
        Ok(engine) => engine,
        Err(code) => return Ok(code),
    };
    let explanation = match engine.explain(&who, &command) {
        Ok(explanation) => explanation,
        Err(err) => return Ok(db::failed(&args.db, &err)),
    };
    let text = match args.format {
        Format::Json => db::json_text(&json!({
            "case": args.case,
            "command": args.command,
            "principal": who,
            "accepted": explanation.accepted(),
            "checks": explanation.checks,
            "stopped": explanation.stopped,
            "rejection": explanation.rejection,
            "events": explanation.events,
        })),
        Format::Text => to_text(args, &who, &explanation),
    };
    emit(&text, None)?;
    Ok(if explanation.accepted() {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

fn to_text(args: &Args, who: &Principal, explanation: &Explanation) -> String {
    let roles: Vec<&str> = who.roles.iter().map(|r| r.as_str()).collect();
    let mut out = format!(
        "explain `{}` on case {} as {} ({})\n",
        args.command,
        args.case,
        who.id,
        roles.join(", ")
    );
    let rows: Vec<Vec<String>> = explanation
        .checks
        .iter()
        .map(|c| {
            let why = match c.code {
                Some(code) if !c.passed => format!("{} [{}]", c.why, code.as_str()),
                _ => c.why.clone(),
            };
            vec![
                if c.passed { "pass" } else { "FAIL" }.to_string(),
                c.check.to_string(),
                why,
            ]
        })
        .collect();
    out.push_str(&db::table(&["", "check", "why"], &rows));
    if let Some(stopped) = explanation.stopped {
        out.push_str(&format!(
            "  (the later checks depend on `{stopped}`: not judged)\n"
        ));
    }
    match (&explanation.rejection, &explanation.events) {
        (Some(rejection), _) => out.push_str(&format!(
            "refused: {} ({})\n",
            rejection.code.as_str(),
            rejection.message
        )),
        (None, Some(events)) => {
            let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
            out.push_str(&format!("would be applied: {}\n", types.join(", ")));
        }
        (None, None) => out.push_str("would be applied\n"),
    }
    out
}

//! `planck checkpoint --db PATH --key KEY [-o FILE]`: sign the state of every stream of a
//! SQLite database.
//!
//! The checkpoint (JSON) holds the global position, the number of streams and events, a Merkle
//! root over every stream's `(id, version, head digest)`, the time, the key id and the
//! signature, and the list of stream heads the root is computed from. Keep it somewhere the
//! database's host cannot write; `planck verify --checkpoint` proves the database against it
//! later. docs/truth.md says what it proves and what it cannot.

use std::path::{Path, PathBuf};

use planck::audit::checkpoint::{SigningKey, signing_key_from_pem, take};
use planck::host::{Clock as _, SystemClock};

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, emit};
use crate::db::open_existing;

/// Examples shown by `planck checkpoint --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck keygen -o /secure/planck.key
  planck checkpoint --db planck.db --key /secure/planck.key -o cp-$(date +%s).json
  planck checkpoint --db planck.db --key /secure/planck.key | aws s3 cp - s3://audit/cp.json
  planck verify --db planck.db --checkpoint cp.json --public-key /secure/planck.key.pub

Exit codes: 0 written, 2 the database or the key cannot be read, or the file cannot be written.";

/// Arguments of `planck checkpoint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database written by `planck run --db` or by a host
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The signing key written by `planck keygen`
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Write the checkpoint here instead of to standard output
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Read a signing key file; `Err` holds the exit code after the problem was printed.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, u8> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!(
            "error: cannot read the signing key `{}`: {e}",
            path.display()
        );
        EXIT_UNREADABLE
    })?;
    signing_key_from_pem(&text).map_err(|e| {
        eprintln!("error: `{}` is {e}", path.display());
        EXIT_UNREADABLE
    })
}

/// Run `planck checkpoint`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let key = match read_signing_key(&args.key) {
        Ok(key) => key,
        Err(code) => return Ok(code),
    };
    let store = match open_existing(&args.db) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let checkpoint = match take(&store, &key, SystemClock.now()) {
        Ok(checkpoint) => checkpoint,
        Err(err) => {
            eprintln!(
                "error: cannot take a checkpoint of `{}`: {err}",
                args.db.display()
            );
            return Ok(EXIT_UNREADABLE);
        }
    };
    emit(&checkpoint.to_json(), args.output.as_ref())?;
    if let Some(output) = &args.output {
        emit(
            &format!("wrote {checkpoint} to `{}`\n", output.display()),
            None,
        )?;
    }
    Ok(EXIT_OK)
}

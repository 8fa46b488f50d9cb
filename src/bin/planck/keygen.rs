//! `planck keygen -o KEY [--force]`: a new Ed25519 signing key for checkpoints.
//!
//! Writes the signing key to `KEY` (PKCS#8 PEM, readable by its owner only) and the public key
//! to `KEY.pub` (SubjectPublicKeyInfo PEM), the forms `openssl` reads and writes. Refuses to
//! overwrite either file without `--force`: a replaced key no longer verifies the checkpoints
//! the old one signed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use planck::audit::checkpoint::{
    generate_signing_key, key_id, signing_key_to_pem, verifying_key_to_pem,
};

use crate::cli::{CliError, EXIT_OK, EXIT_UNREADABLE, emit};

/// Examples shown by `planck keygen --help`.
pub const EXAMPLES: &str = "\
Examples:
  planck keygen -o /secure/planck-checkpoint.key
      wrote the signing key `/secure/planck-checkpoint.key` and the public key `/secure/planck-checkpoint.key.pub`
      key id 5d2f...
  planck checkpoint --db planck.db --key /secure/planck-checkpoint.key -o cp.json
  planck verify --db planck.db --checkpoint cp.json --public-key /secure/planck-checkpoint.key.pub

Keep the signing key away from the database's host: whoever holds it can sign a checkpoint of
a forged database. Exit codes: 0 written, 2 a file exists (without --force) or cannot be written.";

/// Arguments of `planck keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the signing key (the public key goes to the same path plus `.pub`)
    #[arg(short = 'o', long = "output", value_name = "KEY")]
    pub output: PathBuf,
    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
}

/// Run `planck keygen`.
pub fn run(args: &Args) -> Result<u8, CliError> {
    let public = public_path(&args.output);
    if !args.force {
        for path in [&args.output, &public] {
            if path.exists() {
                eprintln!(
                    "error: `{}` already exists: pass --force to replace it (checkpoints signed with the old key then verify only with the old public key)",
                    path.display()
                );
                return Ok(EXIT_UNREADABLE);
            }
        }
    }
    let key = match generate_signing_key() {
        Ok(key) => key,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    let (secret, public_pem) = match signing_key_to_pem(&key)
        .and_then(|s| Ok((s, verifying_key_to_pem(&key.verifying_key())?)))
    {
        Ok(pair) => pair,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(EXIT_UNREADABLE);
        }
    };
    if let Err(err) = write_file(&args.output, secret.as_bytes(), 0o600, args.force)
        .and_then(|()| write_file(&public, public_pem.as_bytes(), 0o644, args.force))
    {
        eprintln!("error: {err}");
        return Ok(EXIT_UNREADABLE);
    }
    emit(
        &format!(
            "wrote the signing key `{}` and the public key `{}`\nkey id {}\n",
            args.output.display(),
            public.display(),
            key_id(&key.verifying_key())
        ),
        None,
    )?;
    Ok(EXIT_OK)
}

/// `KEY.pub` beside `KEY`.
pub fn public_path(key: &Path) -> PathBuf {
    let mut name = key.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Write `bytes` to a new file at `path` with `mode` (on Unix); with `replace`, an existing
/// file is replaced and given `mode`.
fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    let cannot = |e: std::io::Error| format!("cannot write `{}`: {e}", path.display());
    let mut file = options.open(path).map_err(cannot)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(cannot)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(cannot)
}

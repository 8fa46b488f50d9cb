//! Insta settings shared by the snapshot tests: paths that differ between machines and runs
//! (the checkout, temporary directories) are replaced by placeholders, so a snapshot holds
//! anywhere. See the crate docs (`main.rs`) for how to review a changed snapshot.

use std::path::Path;
use std::process::Command;

/// The checkout, as the snapshots show it.
pub const ROOT: &str = "[ROOT]";
/// A test's temporary directory, as the snapshots show it.
pub const TEMP: &str = "[TEMP]";

/// Settings for a snapshot whose text may name the checkout or `temp` (a test's temporary
/// directory). Use with `settings.bind(|| ...)`.
pub fn settings(temp: Option<&Path>) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // One folder for every snapshot, wherever the test's source file is.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    settings.set_snapshot_path(root.join("tests/it/snapshots"));
    // The temporary directory first (on some machines it lies inside the checkout), and each
    // path as the system resolves it first (macOS reports `/var/...` for `/private/var/...`).
    for (path, placeholder) in temp.into_iter().map(|t| (t, TEMP)).chain([(root, ROOT)]) {
        if let Ok(real) = path.canonicalize() {
            settings.add_filter(&escape(&real.display().to_string()), placeholder);
        }
        settings.add_filter(&escape(&path.display().to_string()), placeholder);
    }
    settings
}

/// The `planck` binary, run from the checkout with colours off: the command the CLI snapshots
/// run (`insta_cmd::assert_cmd_snapshot!` records its arguments, so keep them relative).
pub fn planck() -> Command {
    let mut cmd = Command::new(insta_cmd::get_cargo_bin("planck"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    cmd
}

/// `text` as a regular expression that matches exactly `text`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

//! The whole output (exit code, stdout, stderr) of the commands `scenario_cli.rs` runs, as
//! snapshots (`tests/it/snapshots/it__scenario_cli__snapshots__*.snap`). Files written by a
//! test are run from their temporary directory by a relative name, so the recorded arguments
//! stay the same.

use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

use super::{DETAILING, SUBMIT, TEN_STEPS, events_db, scenario};
use crate::snapshot::{planck, settings};

fn in_dir(dir: &tempfile::TempDir) -> Command {
    let mut cmd = planck();
    cmd.current_dir(dir.path());
    cmd
}

#[test]
fn run() {
    let dir = tempfile::tempdir().unwrap();
    let failing = format!(
        "{SUBMIT}\n[[step]]\nas = \"admin\"\ncommand = \"close_task\"\ncase = \"t-1\"\nexpect = \"rejected:invalid_state\"\n\n[[check]]\ncase = \"t-1\"\ntask = \"approved\"\n"
    );
    scenario(dir.path(), "failing.toml", &failing);
    let malformed = "[[step]]\nas = \"admni\"\ncommand = \"approve_task\"\ncase = \"t-1\"\nexpect = \"rejected:nope\"\n";
    scenario(dir.path(), "malformed.toml", malformed);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("run_ten_steps", planck().args(["run", TEN_STEPS]));
        assert_cmd_snapshot!("run_detailing", planck().args(["run", DETAILING]));
        assert_cmd_snapshot!(
            "run_json",
            planck().args(["run", "--format", "json", TEN_STEPS, DETAILING])
        );
        assert_cmd_snapshot!("run_failing", in_dir(&dir).args(["run", "failing.toml"]));
        assert_cmd_snapshot!(
            "run_malformed",
            in_dir(&dir).args(["run", "malformed.toml"])
        );
        assert_cmd_snapshot!(
            "run_malformed_json",
            in_dir(&dir).args(["run", "--format", "json", "malformed.toml"])
        );
        assert_cmd_snapshot!(
            "run_missing_file",
            planck().args(["run", "examples/scenarios/no-such-file.toml"])
        );
    });
}

#[test]
fn verify_and_show() {
    let dir = tempfile::tempdir().unwrap();
    events_db(dir.path());
    // The shipped surfaces beside the database, so `show` finds the phase labels in
    // `./surfaces` as it does in the checkout.
    let surfaces = dir.path().join("surfaces");
    std::fs::create_dir(&surfaces).unwrap();
    for entry in std::fs::read_dir(super::root().join("surfaces")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, surfaces.join(path.file_name().unwrap())).unwrap();
        }
    }
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("verify", in_dir(&dir).args(["verify", "--db", "planck.db"]));
        assert_cmd_snapshot!(
            "show",
            in_dir(&dir).args(["show", "ev-1", "--db", "planck.db"])
        );
        assert_cmd_snapshot!(
            "show_json",
            in_dir(&dir).args(["show", "ev-1", "--format", "json", "--db", "planck.db"])
        );
        assert_cmd_snapshot!(
            "show_unknown_case",
            in_dir(&dir).args(["show", "ev-404", "--db", "planck.db"])
        );
        let conn = rusqlite::Connection::open(dir.path().join("planck.db")).unwrap();
        conn.execute(
            "UPDATE events SET payload = replace(payload, 'op-lee', 'op-lex') \
             WHERE case_id = 'ev-1' AND event_type = 'task_assigned'",
            [],
        )
        .unwrap();
        drop(conn);
        assert_cmd_snapshot!(
            "verify_tampered",
            in_dir(&dir).args(["verify", "--db", "planck.db"])
        );
    });
}

#[test]
fn help() {
    settings(None).bind(|| {
        for sub in ["run", "verify", "show"] {
            assert_cmd_snapshot!(format!("help_{sub}"), planck().args([sub, "--help"]));
        }
    });
}

//! `planck run`, `planck verify` and `planck show`, run as a user would: exit codes, what is
//! printed, and that a tampered database is caught and the case named.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const TEN_STEPS: &str = "examples/scenarios/event-coordination.toml";
const DETAILING: &str = "examples/scenarios/auto-detailing.toml";

fn planck() -> Command {
    let mut cmd = Command::cargo_bin("planck").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    cmd
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scenario file in `dir` using the shipped surfaces, with `body` after the header.
fn scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let surfaces = root().join("surfaces");
    let text = format!(
        "surfaces = [\"{}\"]\n\n[principals]\nclient = {{ id = \"client-ava\", roles = [\"client\"] }}\nadmin = {{ id = \"admin-kim\", roles = [\"admin\"] }}\n\n{body}",
        surfaces.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SUBMIT: &str = r#"
[[step]]
as = "client"
command = "submit_request"
case = "t-1"
args = { surface = "event-coordination", intake = { contact = "a@b.c", event_details = "x", preferred_timing = "y" } }
"#;

#[test]
fn run_prints_each_step_with_its_phase_label() {
    planck()
        .args(["run", TEN_STEPS])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("On Site"))
        .stdout(predicate::str::contains("Confirmed"))
        .stdout(predicate::str::contains("rejected:not_assignee"))
        .stdout(predicate::str::contains("task approved · assignee op-lee"))
        .stdout(predicate::str::contains(
            "ok: 15 steps, 1 check: every expectation held",
        ));
}

#[test]
fn run_takes_several_files_and_prints_json() {
    let out = planck()
        .args(["run", "--format", "json", TEN_STEPS, DETAILING])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["scenarios"].as_array().unwrap().len(), 2);
    let steps = json["scenarios"][1]["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["outcome"] == "rejected:evidence_missing")
    );
    assert!(steps.iter().any(|s| s["phase_label"] == "Detailing"));
}

#[test]
fn a_failing_expectation_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{SUBMIT}\n[[step]]\nas = \"admin\"\ncommand = \"close_task\"\ncase = \"t-1\"\nexpect = \"rejected:invalid_state\"\n\n[[check]]\ncase = \"t-1\"\ntask = \"approved\"\n"
    );
    let path = scenario(dir.path(), "failing.toml", &body);
    planck()
        .arg("run")
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("expected rejected:invalid_state"))
        .stdout(predicate::str::contains("expected approved, found closed"))
        .stdout(predicate::str::contains("FAILED"));
}

#[test]
fn a_malformed_scenario_exits_2_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[[step]]\nas = \"admni\"\ncommand = \"approve_task\"\ncase = \"t-1\"\nexpect = \"rejected:nope\"\n";
    let path = scenario(dir.path(), "malformed.toml", body);
    planck()
        .arg("run")
        .arg(&path)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("error[unknown_principal]"))
        .stderr(predicate::str::contains("malformed.toml:8:6"))
        .stderr(predicate::str::contains("did you mean `admin`?"))
        .stderr(predicate::str::contains("error[unknown_rejection_code]"))
        .stderr(predicate::str::contains("malformed.toml:11:10"));
    planck()
        .args(["run", "--format", "json"])
        .arg(&path)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("\"code\": \"unknown_principal\""))
        .stdout(predicate::str::contains("\"line\": 8"));
}

#[test]
fn a_missing_file_exits_2() {
    planck()
        .args(["run", "examples/scenarios/no-such-file.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error[io]"));
}

#[test]
fn a_broken_surface_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s.toml", SUBMIT);
    planck()
        .arg("run")
        .arg(&path)
        .args(["--surfaces", "tests/scenarios/no-such-dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("could not be loaded"));
}

fn events_db(dir: &Path) -> PathBuf {
    let db = dir.join("planck.db");
    planck()
        .args(["run", TEN_STEPS, "--db"])
        .arg(&db)
        .assert()
        .code(0);
    db
}

#[test]
fn run_on_sqlite_then_verify_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let db = events_db(dir.path());
    planck()
        .args(["verify", "--db"])
        .arg(&db)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok    ev-1"))
        .stdout(predicate::str::contains("every case holds"));
    planck()
        .args(["show", "ev-1", "--db"])
        .arg(&db)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "case ev-1 · event-coordination@1 (Event Coordination)",
        ))
        .stdout(predicate::str::contains("complete (Complete)"))
        .stdout(predicate::str::contains("captured 1850.00 USD"))
        .stdout(predicate::str::contains("record (ev-1:record:1)"))
        .stdout(predicate::str::contains("request_submitted"))
        .stdout(predicate::str::contains("admin-kim"));
    let out = planck()
        .args(["show", "ev-1", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["view"]["phase"]["label"], "Complete");
    assert_eq!(json["history"][0]["event_type"], "request_submitted");
    planck()
        .args(["show", "ev-404", "--db"])
        .arg(&db)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no case `ev-404`"));
}

#[test]
fn one_edited_byte_makes_verify_fail_and_name_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let db = events_db(dir.path());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE events SET payload = replace(payload, 'op-lee', 'op-lex') \
             WHERE case_id = 'ev-1' AND event_type = 'task_assigned'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    planck()
        .args(["verify", "--db"])
        .arg(&db)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL  ev-1"))
        .stdout(predicate::str::contains("ev-1:3"))
        .stdout(predicate::str::contains("1 of 1 do not hold"));
}

#[test]
fn verify_needs_an_existing_database() {
    planck()
        .args(["verify", "--db", "no/such/planck.db"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no database"));
    let dir = tempfile::tempdir().unwrap();
    let not_sqlite = dir.path().join("x.db");
    std::fs::write(
        &not_sqlite,
        "this is not a database, just text that is long enough to matter",
    )
    .unwrap();
    planck()
        .args(["verify", "--db"])
        .arg(&not_sqlite)
        .assert()
        .code(2);
}

#[test]
fn help_teaches_with_examples() {
    for (cmd, example) in [
        (
            "run",
            "planck run examples/scenarios/event-coordination.toml",
        ),
        ("verify", "planck verify --db planck.db"),
        ("show", "planck show --db planck.db ev-1"),
    ] {
        planck()
            .args([cmd, "--help"])
            .assert()
            .code(0)
            .stdout(predicate::str::contains(example));
    }
}

mod snapshots;

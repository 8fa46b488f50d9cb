//! `planck explore` and `planck diff` run as a user would.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn planck() -> Command {
    let mut cmd = Command::cargo_bin("planck").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    cmd
}

fn stdout_json(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn explore_reports_paths_transitions_and_rejections() {
    planck()
        .args(["explore", "surfaces/event-coordination.toml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("event-coordination@1: 45 states"))
        .stdout(predicate::str::contains("transitions: 4 of 4 taken"))
        .stdout(predicate::str::contains(
            "complete     8 commands: client submit_request",
        ))
        .stdout(predicate::str::contains(
            "not_assignee                by claim_job",
        ))
        .stdout(predicate::str::contains("explored in"));
    let json = stdout_json(planck().args([
        "explore",
        "--format",
        "json",
        "surfaces/auto-detailing.surface",
    ]));
    assert_eq!(json["surface"], "auto-detailing@1");
    assert!(json["states"].as_u64().unwrap() > 100);
    assert_eq!(json["bound_hit"], Value::Null);
    assert!(json["elapsed_ms"].is_u64());
    assert_eq!(json["transitions"].as_array().unwrap().len(), 4);
    assert!(
        json["rejections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "evidence_missing")
    );
}

#[test]
fn explore_emits_a_scenario_that_run_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested").join("explored.toml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    planck()
        .args([
            "explore",
            "tests/scenarios/surfaces/guarded.toml",
            "--emit-scenario",
        ])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("scenario written to"));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("expect = \"rejected:rule_failed\""), "{text}");
    assert!(text.contains("expect = \"rejected:rule_error\""), "{text}");
    // The surface is named relative to the scenario.
    assert!(text.contains("surfaces = [\"../../"), "{text}");
    planck()
        .arg("run")
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("every expectation held"));
}

#[test]
fn explore_a_broken_surface_prints_its_errors() {
    planck()
        .args(["explore", "tests/surfaces/broken/rule_unknown_phase.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown_phase"));
}

const V2_CHANGES: [(&str, &str); 3] = [
    ("version = 1 ", "version = 2 "),
    ("label = \"Detailing\"", "label = \"Working\""),
    (
        "optional_categories = [\"damage\"]",
        "optional_categories = []",
    ),
];

#[test]
fn diff_lists_changes_and_judges_stored_cases() {
    let dir = tempfile::tempdir().unwrap();
    let mut v2 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces/auto-detailing.toml"),
    )
    .unwrap();
    for (from, to) in V2_CHANGES {
        assert!(v2.contains(from), "{from}");
        v2 = v2.replace(from, to);
    }
    let v2_path = dir.path().join("v2.toml");
    std::fs::write(&v2_path, v2).unwrap();

    planck()
        .args(["diff", "surfaces/auto-detailing.toml"])
        .arg(&v2_path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("~ version: 1 -> 2"))
        .stdout(predicate::str::contains(
            "~ phase `in_progress` label: \"Detailing\" -> \"Working\"",
        ))
        .stdout(predicate::str::contains("- category `damage`: optional"));

    // Three cases: one sealed, one with damage evidence, one waiting for its claim.
    let scenario = dir.path().join("cases.toml");
    let surfaces = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces");
    std::fs::write(
        &scenario,
        format!(
            r#"surfaces = [{surfaces:?}]
[principals]
client = {{ id = "client-ava", roles = ["client"] }}
admin = {{ id = "admin-kim", roles = ["admin"] }}
lee = {{ id = "op-lee", roles = ["operator"] }}
{}
"#,
            ["done", "damaged", "waiting"]
                .iter()
                .map(|case| steps(case))
                .collect::<String>()
        ),
    )
    .unwrap();
    let db = dir.path().join("cases.db");
    planck()
        .args(["run", "--db"])
        .arg(&db)
        .arg(&scenario)
        .assert()
        .code(0);
    planck()
        .args(["diff", "surfaces/auto-detailing.toml"])
        .arg(&v2_path)
        .arg("--db")
        .arg(&db)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "cases pinned to auto-detailing@1: 3",
        ))
        .stdout(predicate::str::contains(
            "could move to auto-detailing@2: waiting",
        ))
        .stdout(predicate::str::contains(
            "could not: damaged: evidence category `damage` holds 1 item",
        ))
        .stdout(predicate::str::contains(
            "could not: done: the Record is sealed",
        ));
    let json = stdout_json(
        planck()
            .args(["diff", "--format", "json", "surfaces/auto-detailing.toml"])
            .arg(&v2_path)
            .arg("--db")
            .arg(&db),
    );
    assert_eq!(json["cases"]["movable"], serde_json::json!(["waiting"]));
    let blocked = json["cases"]["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 2);
    let damaged = blocked.iter().find(|b| b["case"] == "damaged").unwrap();
    assert_eq!(damaged["reasons"][0]["reason"], "category_missing");
    assert_eq!(damaged["reasons"][0]["category"], "damage");
    assert_eq!(json["diff"]["sections"][0]["name"], "surface");
    planck().args(["verify", "--db"]).arg(&db).assert().code(0);
}

/// The steps of one case: `done` completes, `damaged` stops with damage evidence, `waiting`
/// stops with its Job queued.
fn steps(case: &str) -> String {
    let mut out = format!(
        r#"
[[step]]
as = "client"
command = "submit_request"
case = "{case}"
args = {{ surface = "auto-detailing", intake = {{ contact = "c", vehicle = "v", service_address = "a", preferred_timing = "t" }}, photos = ["p1", "p2"] }}
[[step]]
as = "admin"
command = "approve_task"
case = "{case}"
[[step]]
as = "admin"
command = "assign_task"
case = "{case}"
args = {{ operator = "op-lee" }}
[[step]]
as = "admin"
command = "create_job"
case = "{case}"
"#
    );
    let photo = |category: &str| {
        format!(
            "[[step]]\nas = \"lee\"\ncommand = \"attach_evidence\"\ncase = \"{case}\"\nargs = {{ category = \"{category}\", ref = \"r\" }}\n"
        )
    };
    let op = |command: &str, args: &str| {
        format!(
            "[[step]]\nas = \"lee\"\ncommand = \"{command}\"\ncase = \"{case}\"\nargs = {args}\n"
        )
    };
    match case {
        "waiting" => {}
        "damaged" => {
            out.push_str(&op("claim_job", "{}"));
            out.push_str(&photo("damage"));
        }
        _ => {
            out.push_str(&op("claim_job", "{}"));
            out.push_str(&op("advance", "{ to = \"arrived\" }"));
            out.push_str(&photo("arrival"));
            out.push_str(&photo("before"));
            out.push_str(&op("advance", "{ to = \"in_progress\" }"));
            out.push_str(&photo("after"));
            out.push_str(&op("complete_service_event", "{}"));
        }
    }
    out
}

//! The `planck` command line, run as a user would: exit codes, what is printed, and that
//! `convert` keeps the fingerprint.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn planck() -> Command {
    let mut cmd = Command::cargo_bin("planck").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    cmd
}

fn surfaces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces")
}

fn stdout_json(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn fingerprint_of(path: &Path) -> String {
    let json = stdout_json(planck().arg("inspect").arg(path).args(["--format", "json"]));
    json["fingerprint"].as_str().unwrap().to_owned()
}

const BROKEN: &str = r#"surface broken v1 "Broken" {
  spec "s"
  execution { claim sometimes }
  phases { a "A" b "B" c "C" }
  transition a -> b requires [nothing]
  transition b -> c
}
"#;

#[test]
fn check_shipped_surfaces_is_clean() {
    planck()
        .args(["check", "surfaces/"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "ok  surfaces/auto-detailing.surface  auto-detailing@1",
        ))
        .stdout(predicate::str::contains(
            "ok  surfaces/event-coordination.toml  event-coordination@1",
        ));
}

#[test]
fn check_broken_file_exits_1_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.surface");
    std::fs::write(&path, BROKEN).unwrap();

    planck()
        .arg("check")
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("invalid_value"))
        .stdout(predicate::str::contains("broken.surface:3:"));

    let json = stdout_json(planck().arg("check").arg(&path).args(["--format", "json"]));
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 2, "{json:#}");
    let first = &items[0];
    assert!(first["file"].as_str().unwrap().ends_with("broken.surface"));
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 21);
    assert_eq!(first["code"], "invalid_value");
    assert_eq!(first["severity"], "error");
    assert_eq!(items[1]["code"], "unknown_category");
    assert_eq!(items[1]["line"], 5);
    planck()
        .arg("check")
        .arg(&path)
        .args(["--format", "json"])
        .assert()
        .code(1);
}

#[test]
fn check_syntax_error_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("syntax.surface");
    std::fs::write(&path, BROKEN.replace("a -> b", "a => b")).unwrap();
    let json = stdout_json(planck().arg("check").arg(&path).args(["--format", "json"]));
    // A syntax error hides nothing else: the bad `claim` value (line 3) is reported too.
    let items = json.as_array().unwrap();
    let codes: Vec<&str> = items.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["invalid_value", "dsl_syntax"]);
    let syntax = &items[1];
    assert_eq!(syntax["line"], 5);
    assert_eq!(syntax["column"], 16);
    assert!(syntax["message"].as_str().unwrap().contains("`->`"));
}

#[test]
fn check_missing_path_exits_2() {
    planck()
        .args(["check", "no/such/dir/", "surfaces/"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("no/such/dir"));
    let json = stdout_json(planck().args(["check", "--format", "json", "missing.toml"]));
    assert_eq!(json[0]["code"], "io");
    assert_eq!(json[0]["file"], "missing.toml");
}

#[test]
fn other_commands_exit_1_on_invalid_and_2_on_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.surface");
    std::fs::write(&path, BROKEN).unwrap();
    for args in [
        vec!["inspect"],
        vec!["graph"],
        vec!["convert", "--to", "toml"],
    ] {
        planck()
            .args(&args)
            .arg(&path)
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("invalid_value"));
        planck()
            .args(&args)
            .arg(dir.path().join("absent.toml"))
            .assert()
            .code(2);
    }
}

#[test]
fn inspect_json_has_the_documented_keys() {
    let json = stdout_json(planck().args([
        "inspect",
        "--format",
        "json",
        "surfaces/auto-detailing.surface",
    ]));
    for key in [
        "slug",
        "name",
        "spec",
        "version",
        "status",
        "fingerprint",
        "execution",
        "phases",
        "transitions",
        "evidence",
        "intake",
        "rules",
        "escalations",
    ] {
        assert!(json.get(key).is_some(), "missing `{key}` in {json:#}");
    }
    assert_eq!(json["slug"], "auto-detailing");
    assert_eq!(json["version"], 1);
    assert_eq!(json["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(json["phases"][0]["role"], "first");
    assert_eq!(json["phases"][4]["role"], "last");
    assert_eq!(json["phases"][3]["label"], "Detailing");
    assert_eq!(json["transitions"][2]["requires"][1], "before");

    planck()
        .args(["inspect", "surfaces/event-coordination.toml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("event-coordination@1"))
        .stdout(predicate::str::contains("On Site"));
}

#[test]
fn graph_draws_labels_in_both_formats() {
    planck()
        .args(["graph", "surfaces/auto-detailing.toml"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("flowchart LR"))
        .stdout(predicate::str::contains("Detailing"))
        .stdout(predicate::str::contains("requires arrival, before"));
    planck()
        .args([
            "graph",
            "--format",
            "dot",
            "surfaces/event-coordination.surface",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("digraph"))
        .stdout(predicate::str::contains("On Site"))
        .stdout(predicate::str::contains("doublecircle"));
}

#[test]
fn convert_both_ways_keeps_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["auto-detailing", "event-coordination"] {
        let toml = surfaces().join(format!("{name}.toml"));
        let dsl = surfaces().join(format!("{name}.surface"));
        let expected = fingerprint_of(&toml);
        assert_eq!(fingerprint_of(&dsl), expected);

        // toml → dsl, through -o.
        let as_dsl = dir.path().join(format!("{name}.surface"));
        planck()
            .arg("convert")
            .arg(&toml)
            .args(["--to", "dsl", "-o"])
            .arg(&as_dsl)
            .assert()
            .code(0)
            .stdout(predicate::str::is_empty());
        assert_eq!(fingerprint_of(&as_dsl), expected);

        // dsl → toml, through stdout.
        let out = planck()
            .arg("convert")
            .arg(&dsl)
            .args(["--to", "toml"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let as_toml = dir.path().join(format!("{name}.toml"));
        std::fs::write(&as_toml, &out.stdout).unwrap();
        assert_eq!(fingerprint_of(&as_toml), expected);

        // Both converted files check clean together.
        planck().arg("check").arg(dir.path()).assert().code(0);
    }
}

#[test]
fn help_teaches_with_examples() {
    planck()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("planck check surfaces/"));
    for sub in ["check", "inspect", "graph", "convert"] {
        planck()
            .args([sub, "--help"])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("Examples:"));
    }
}

mod snapshots;

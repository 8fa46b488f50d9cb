//! Every scenario file shipped (`examples/scenarios/`, `tests/scenarios/`) runs through the
//! scenario runner and every expectation and check holds; together they exercise every
//! rejection code of docs/commands.md that a sequential run can produce.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use planck::diagnostic::render::render_terminal;
use planck::scenario::{Outcome, ScenarioReport, load, load_surfaces, run_in_memory};
use planck::spine::RejectionCode;

/// The `.toml` files directly inside `dir` (not its `surfaces/` subdirectory), sorted.
fn scenario_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files in {}", dir.display());
    files
}

fn run_file(path: &Path) -> ScenarioReport {
    let (source, result) = load(path);
    let scenario = match result {
        Ok(scenario) => scenario,
        Err(diags) => panic!("{}", render_terminal(&source, &diags, false)),
    };
    let (registry, surfaces) = load_surfaces(&scenario, &[]);
    assert!(
        surfaces.is_ok(),
        "{}: surfaces did not load: {surfaces:?}",
        path.display()
    );
    run_in_memory(&scenario, &source.name, Arc::new(registry))
}

fn run_all(dir: &str) -> Vec<ScenarioReport> {
    scenario_files(dir)
        .iter()
        .map(|path| {
            let report = run_file(path);
            assert!(report.passed, "{}", report.to_text());
            report
        })
        .collect()
}

#[test]
fn every_example_holds() {
    let reports = run_all("examples/scenarios");
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"event coordination: the ten steps"),
        "{names:?}"
    );
}

#[test]
fn every_test_scenario_holds() {
    run_all("tests/scenarios");
}

#[test]
fn the_ten_steps_show_the_event_lifecycle() {
    let report = run_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios/event-coordination.toml"),
    );
    let labels: Vec<&str> = report
        .steps
        .iter()
        .filter_map(|s| s.phase_label.as_deref())
        .collect();
    for label in ["Queued", "Confirmed", "On Site", "Active", "Complete"] {
        assert!(labels.contains(&label), "{label} missing from {labels:?}");
    }
    let outcomes: BTreeSet<String> = report.steps.iter().map(|s| s.outcome.as_str()).collect();
    for wanted in [
        "duplicate",
        "rejected:no_job",
        "rejected:not_assignee",
        "rejected:service_event_not_complete",
    ] {
        assert!(
            outcomes.contains(wanted),
            "{wanted} missing from {outcomes:?}"
        );
    }
    let check = &report.checks[0];
    assert_eq!(check.fields.len(), 8, "every check field is exercised");
}

#[test]
fn every_rejection_code_is_exercised() {
    let mut seen: BTreeSet<RejectionCode> = BTreeSet::new();
    for dir in ["examples/scenarios", "tests/scenarios"] {
        for report in run_all(dir) {
            for step in &report.steps {
                if let Outcome::Rejected(code) = step.outcome {
                    seen.insert(code);
                }
            }
        }
    }
    // `conflict` needs two writers racing on one case; a scenario runs its steps one after
    // the other, so it cannot happen here (tests/it/engine_conflict.rs covers it).
    let missing: Vec<&str> = RejectionCode::ALL
        .iter()
        .filter(|c| **c != RejectionCode::Conflict && !seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "rejection codes no scenario produces: {missing:?}"
    );
}

/// The runner's whole text report of every shipped scenario, one snapshot per file
/// (`tests/it/snapshots/it__scenario_files__*_reports@<file>.snap`).
#[test]
fn example_reports() {
    crate::snapshot::settings(None).bind(|| {
        insta::glob!("../../examples/scenarios", "*.toml", |path| {
            insta::assert_snapshot!(run_file(path).to_text());
        });
    });
}

/// As [`example_reports`], for `tests/scenarios/`.
#[test]
fn test_scenario_reports() {
    crate::snapshot::settings(None).bind(|| {
        insta::glob!("../scenarios", "*.toml", |path| {
            insta::assert_snapshot!(run_file(path).to_text());
        });
    });
}

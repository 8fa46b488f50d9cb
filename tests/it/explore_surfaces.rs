//! `planck explore` as planck's own test generator: every surface in `surfaces/` and `tests/`
//! that compiles is explored, the emitted scenario is run through the scenario runner, and it
//! must pass and take every transition the walk calls reachable.
//!
//! Run with `--nocapture` to see the states and the time per surface (the figures in
//! `docs/authoring.md` come from the release build of `planck explore`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use planck::engine::Engine;
use planck::explore::{Limits, emit, explore};
use planck::host::{ManualClock, MemoryStore, MemoryTransport};
use planck::scenario::{Action, load, load_surfaces, run};
use planck::spine::ServiceEventState;
use planck::surface::load::{Format, SourceFile, compile_source};

/// Every `.toml` and `.surface` file under `dir`, recursively, sorted.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else if Format::from_path(&path).is_some() {
            out.push(path);
        }
    }
}

/// Every surface file of the repository that compiles (broken test surfaces that only warn
/// compile too, and are explored).
fn surfaces() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    files_under(&root.join("surfaces"), &mut files);
    files_under(&root.join("tests"), &mut files);
    files
        .into_iter()
        .filter(|p| compile_source(&SourceFile::read(p).unwrap()).is_ok())
        .collect()
}

#[test]
fn every_surface_explores_to_a_scenario_that_passes_and_covers_every_transition() {
    let files = surfaces();
    assert!(files.len() >= 8, "only {} surfaces found", files.len());
    let dir = tempfile::tempdir().unwrap();
    let mut figures = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let surface = compile_source(&SourceFile::read(path).unwrap())
            .unwrap()
            .surface;
        let started = Instant::now();
        let exploration = explore(&surface, Limits::DEFAULT);
        let elapsed = started.elapsed();
        assert!(exploration.bound_hit.is_none(), "{}", path.display());
        figures.push(format!(
            "{:<60} {:>6} states {:>8.2} s",
            path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .unwrap()
                .display(),
            exploration.states,
            elapsed.as_secs_f64()
        ));

        // The emitted scenario names the surface by an absolute path: it is written in a
        // temporary directory.
        let out = dir.path().join(format!("explored-{n}.toml"));
        let text = emit::scenario(&exploration, &surface, &path.display().to_string());
        std::fs::write(&out, &text).unwrap();
        let (_, parsed) = load(&out);
        let scenario = parsed.unwrap_or_else(|d| panic!("{}: {d:?}\n{text}", path.display()));
        let (registry, report) = load_surfaces(&scenario, &[]);
        assert!(report.is_ok(), "{}", path.display());
        let engine = Engine::new(
            Arc::new(registry),
            MemoryStore::new(),
            MemoryTransport::default(),
            ManualClock::new(scenario.start),
        );
        let report = run(&scenario, &out.display().to_string(), &engine);
        assert!(
            report.passed,
            "{}: the emitted scenario fails\n{}",
            path.display(),
            report.to_text()
        );

        // Every transition explore took is taken by some case of the scenario.
        let cases: BTreeSet<String> = scenario
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::Command(_)))
            .filter_map(|s| s.case.clone())
            .collect();
        let mut moved = BTreeSet::new();
        for id in &cases {
            let Some(case) = engine.case(id).unwrap() else {
                continue;
            };
            let Some(se) = &case.service_event else {
                continue;
            };
            let first = surface.phases()[0].id.clone();
            let mut from = first;
            for entry in &se.history {
                moved.insert((from.clone(), entry.phase.clone()));
                from = entry.phase.clone();
            }
            if se.state == ServiceEventState::Complete {
                assert_eq!(se.phase, surface.phases().last().unwrap().id);
            }
        }
        for t in exploration.transitions.iter().filter(|t| t.path.is_some()) {
            assert!(
                moved.contains(&(t.from.clone(), t.to.clone())),
                "{}: {} -> {} is reachable but the scenario never takes it",
                path.display(),
                t.from,
                t.to
            );
        }
        // And every rejection code explore met is met by a step of the scenario.
        let met: BTreeSet<_> = report
            .steps
            .iter()
            .filter_map(|s| match s.outcome {
                planck::scenario::Outcome::Rejected(code) => Some(code),
                _ => None,
            })
            .collect();
        for r in &exploration.rejections {
            assert!(met.contains(&r.code), "{}: {:?}", path.display(), r.code);
        }
    }
    println!("{}", figures.join("\n"));
}

const BLOCKED: &str = r#"
[surface]
slug = "blocked"
name = "Blocked"
spec = "s"
version = 1

[[phase]]
id = "queued"
label = "Queued"
[[phase]]
id = "claimed"
label = "Claimed"
[[phase]]
id = "stuck"
label = "Stuck"
[[phase]]
id = "done"
label = "Done"

[[transition]]
from = "claimed"
to = "stuck"
[[transition]]
from = "claimed"
to = "done"
[[transition]]
from = "stuck"
to = "done"
rule = "never"

[evidence]
optional_categories = ["photo"]
min_per_category = 1

[[rule]]
name = "never"
on = "transition"
when = 'case.evidence.photo > 3 && false'
message = "never"
"#;

#[test]
fn rules_are_evaluated_not_assumed() {
    let surface = planck::surface::compile(&planck::surface::toml::parse(BLOCKED).0)
        .unwrap()
        .surface;
    let e = explore(&surface, Limits::DEFAULT);
    let never: Vec<_> = e
        .never_taken()
        .map(|t| format!("{} -> {}", t.from, t.to))
        .collect();
    assert_eq!(never, vec!["stuck -> done"]);
    assert_eq!(e.cannot_complete, vec!["stuck"]);
    assert!(
        e.rejections
            .iter()
            .any(|r| r.code == planck::spine::RejectionCode::RuleFailed)
    );
    // The photo count is explored up to what the rule reads (4), plus one.
    let text = planck::explore::report::to_text(&e);
    assert!(text.contains("never taken: stuck -> done"), "{text}");
    assert!(text.contains("cannot complete"), "{text}");
}

#[test]
fn the_bounds_are_reported_when_hit() {
    let surface = planck::surface::compile(&planck::surface::toml::parse(BLOCKED).0)
        .unwrap()
        .surface;
    let e = explore(
        &surface,
        Limits {
            max_states: 5,
            max_depth: 200,
        },
    );
    assert_eq!(e.states, 5);
    assert_eq!(e.bound_hit, Some(planck::explore::Bound::States));
    let e = explore(
        &surface,
        Limits {
            max_states: 1000,
            max_depth: 3,
        },
    );
    assert_eq!(e.depth, 3);
    assert_eq!(e.bound_hit, Some(planck::explore::Bound::Depth));
    assert!(planck::explore::report::to_text(&e).contains("HIT"));
}

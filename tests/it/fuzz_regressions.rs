//! Every input that ever crashed a fuzz target, replayed under plain `cargo test`, through the
//! same checks the fuzz targets run (`fuzz/harness/*.rs`, included here with `#[path]`).
//!
//! Inputs live in `tests/regressions/<target>/`, one file per crash, named after what it
//! found (`tests/regressions/README.md`). When `cargo fuzz run <target>` reports a crash,
//! copy `fuzz/artifacts/<target>/crash-…` there, fix the bug, and this test keeps it fixed.
//! The fuzz seeds (`fuzz/seeds/`) run here too, so the harness itself stays sound.

#[path = "../../fuzz/harness/engine.rs"]
mod engine;
#[path = "../../fuzz/harness/surface.rs"]
mod surface;

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            })
            .filter(|p| p.extension().is_none_or(|e| e != "md"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Run `check` on every file in `dirs`, naming the file that fails.
fn replay(dirs: &[&str], check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let mut n = 0;
    for dir in dirs {
        for path in files(dir) {
            let data = std::fs::read(&path).unwrap();
            if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{} fails again: {why}", path.display());
            }
            n += 1;
        }
    }
    n
}

#[test]
fn surface_toml_regressions() {
    let n = replay(
        &[
            "tests/regressions/surface_toml",
            "fuzz/seeds/surface_toml",
            "surfaces",
            "tests/surfaces/broken",
        ],
        |d| surface::check(surface::Front::Toml, d),
    );
    assert!(n > 0);
}

#[test]
fn surface_dsl_regressions() {
    let n = replay(
        &[
            "tests/regressions/surface_dsl",
            "fuzz/seeds/surface_dsl",
            "surfaces",
        ],
        |d| surface::check(surface::Front::Dsl, d),
    );
    assert!(n > 0);
}

#[test]
fn engine_commands_regressions() {
    let n = replay(
        &[
            "tests/regressions/engine_commands",
            "fuzz/seeds/engine_commands",
        ],
        |d| engine::Harness::new().run(d),
    );
    assert!(n > 0);
}

/// The engine seeds are what `engine::seeds()` builds (set `PLANCK_WRITE_SEEDS=1` to rewrite
/// them), and each one drives its surface all the way to a sealed Record: the harness is not
/// vacuous.
#[test]
fn engine_seeds_reach_a_record() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/engine_commands");
    for (name, bytes) in engine::seeds() {
        let path = dir.join(name);
        if std::env::var_os("PLANCK_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert_eq!(
            committed,
            bytes,
            "{} is stale: run with PLANCK_WRITE_SEEDS=1",
            path.display()
        );
        let mut harness = engine::Harness::new();
        harness.run(&bytes);
        assert_eq!(
            harness.stats.records, 1,
            "seed `{name}` did not seal a record: {:?}",
            harness.stats
        );
        assert_eq!(
            harness.stats.rejected, 0,
            "seed `{name}` had a rejection: {:?}",
            harness.stats
        );
    }
}

/// Random byte strings (a fixed pseudo-random sequence, so the run is reproducible) through the
/// engine harness: a small, always-on taste of what the fuzzer does.
#[test]
fn engine_harness_on_pseudo_random_bytes() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut totals = engine::Stats::default();
    for _ in 0..300 {
        let len = (next() % 600) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let mut harness = engine::Harness::new();
        harness.run(&bytes);
        totals.applied += harness.stats.applied;
        totals.rejected += harness.stats.rejected;
        totals.duplicate += harness.stats.duplicate;
    }
    assert!(totals.applied > 0 && totals.rejected > 0, "{totals:?}");
}

/// The surface seeds include the harness's own surface in both forms (set
/// `PLANCK_WRITE_SEEDS=1` to rewrite them after changing `FUZZ_OPEN` or the printer).
#[test]
fn surface_seeds_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let (def, diags) = planck::surface::toml::parse(engine::FUZZ_OPEN);
    assert!(diags.is_empty(), "{diags:#?}");
    let wanted = [
        (
            root.join("surface_toml/fuzz-open.toml"),
            engine::FUZZ_OPEN.trim_start().to_string(),
        ),
        (
            root.join("surface_dsl/fuzz-open.surface"),
            planck::surface::print::to_dsl(&def),
        ),
    ];
    for (path, text) in wanted {
        if std::env::var_os("PLANCK_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            text,
            "{} is stale: run with PLANCK_WRITE_SEEDS=1",
            path.display()
        );
    }
}

/// How deep a corpus of the engine target gets: how many inputs, how many seal a Record, and
/// the commands applied, refused and repeated. It reads the committed seeds on every test run
/// (the stats must count them, and at least one must seal a Record); point it at a fuzzing
/// session's corpus by hand: `PLANCK_FUZZ_CORPUS=fuzz/corpus/engine_commands cargo test --test
/// it -- --nocapture fuzz_regressions::engine_corpus_stats`.
#[test]
fn engine_corpus_stats() {
    let dir = std::env::var_os("PLANCK_FUZZ_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/engine_commands"),
        PathBuf::from,
    );
    let mut totals = engine::Stats::default();
    let (mut inputs, mut with_record) = (0, 0);
    for path in std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
    {
        let mut harness = engine::Harness::new();
        harness.run(&std::fs::read(&path).unwrap());
        inputs += 1;
        with_record += usize::from(harness.stats.records > 0);
        totals.applied += harness.stats.applied;
        totals.rejected += harness.stats.rejected;
        totals.duplicate += harness.stats.duplicate;
        totals.records += harness.stats.records;
        totals.escalations += harness.stats.escalations;
    }
    println!("{inputs} inputs, {with_record} sealed a record; totals {totals:?}");
    assert!(inputs > 0, "no inputs in the corpus");
    assert!(with_record > 0, "no input of the corpus sealed a Record");
}

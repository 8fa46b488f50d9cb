//! Data-driven checks of the diagnostics users see for broken surface files.
//!
//! Every file in `tests/surfaces/broken/` is a small TOML surface with (usually) one problem.
//! Its leading comment lines say what must be reported:
//!
//! ```text
//! # what is wrong, in words
//! # expect: unknown_key 7
//! ```
//!
//! meaning "a diagnostic with code `unknown_key` on line 7". A file may have several `expect`
//! lines. The test asserts that every expectation is met, that no *error* is reported that is
//! not expected (so each file really shows one problem), and that rendering the diagnostics
//! for a terminal and as JSON shows the code and the position.

use std::path::{Path, PathBuf};

use planck::surface::diagnostic::line_col;
use planck::surface::load::{Format, SourceFile, compile_source};
use planck::surface::render::{render_terminal, to_json};
use planck::surface::{Code, Diagnostic, Severity};

const DIR: &str = "tests/surfaces/broken";

#[derive(Debug, PartialEq, Eq, Clone)]
struct Expect {
    code: String,
    line: usize,
}

fn expectations(text: &str) -> Vec<Expect> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|rest| {
            let mut parts = rest.split_whitespace();
            let code = parts.next().expect("a code").to_string();
            let line = parts
                .next()
                .expect("a line")
                .parse()
                .expect("a line number");
            Expect { code, line }
        })
        .collect()
}

fn broken_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the broken surfaces folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn diagnostics(file: &SourceFile) -> Vec<Diagnostic> {
    match compile_source(file) {
        Ok(compiled) => compiled.warnings,
        Err(diags) => diags,
    }
}

fn seen(file: &SourceFile, diags: &[Diagnostic]) -> Vec<Expect> {
    diags
        .iter()
        .map(|d| Expect {
            code: d.code.as_str().to_string(),
            line: line_col(&file.text, d.span.start).0,
        })
        .collect()
}

#[test]
fn every_broken_surface_reports_what_its_header_expects() {
    let files = broken_files();
    assert!(files.len() >= 25, "only {} broken surfaces", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let file = SourceFile::read(path).expect("readable");
        let expected = expectations(&file.text);
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let diags = diagnostics(&file);
        let got = seen(&file, &diags);
        for e in &expected {
            if !got.contains(e) {
                failures.push(format!(
                    "{}: expected `{}` on line {}, got {:?}",
                    path.display(),
                    e.code,
                    e.line,
                    got
                ));
            }
        }
        for (d, g) in diags.iter().zip(&got) {
            if d.severity == Severity::Error && !expected.contains(g) {
                failures.push(format!(
                    "{}: unexpected `{}` on line {}: {}",
                    path.display(),
                    g.code,
                    g.line,
                    d.message
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_check_has_a_broken_surface() {
    let mut covered = std::collections::HashSet::new();
    for path in broken_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for e in expectations(&text) {
            covered.insert(e.code);
        }
    }
    // Codes that a TOML file on disk cannot produce: `io` and `file_too_large` are the
    // loader's (tested in `surface_compile.rs`), `dsl_syntax` and `duplicate_key` belong to
    // the DSL, and `registry_conflict` to the registry.
    let not_here = [
        Code::Io,
        Code::FileTooLarge,
        Code::DslSyntax,
        Code::DuplicateKey,
        Code::RegistryConflict,
    ];
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !not_here.contains(c))
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "no broken surface covers {missing:?}");
}

#[test]
fn a_file_with_several_problems_reports_all_of_them() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(DIR)
        .join("several_problems.toml");
    let file = SourceFile::read(&path).unwrap();
    let expected = expectations(&file.text);
    assert!(expected.len() >= 8);
    let diags = compile_source(&file).unwrap_err();
    let got = seen(&file, &diags);
    for e in &expected {
        assert!(got.contains(e), "missing {e:?} in {got:?}");
    }
    assert_eq!(
        diags.iter().filter(|d| d.is_error()).count(),
        expected.len(),
        "{got:?}"
    );
    // Sorted by position, as a reader goes through the file.
    let lines: Vec<usize> = got.iter().map(|g| g.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn rendering_shows_code_file_line_and_column() {
    for path in broken_files() {
        let file = SourceFile::read(&path).unwrap();
        let diags = diagnostics(&file);
        let text = render_terminal(&file, &diags, false);
        let json = to_json(&file, &diags);
        let array = json.as_array().unwrap();
        assert_eq!(array.len(), diags.len());
        for (d, j) in diags.iter().zip(array) {
            let (line, column) = line_col(&file.text, d.span.start);
            assert!(
                text.contains(&format!("[{}]", d.code)),
                "{}: no code in\n{text}",
                path.display()
            );
            let position = format!("{}:{line}:{column}", path.display());
            assert!(text.contains(&position), "no `{position}` in\n{text}");
            assert_eq!(j["code"], d.code.as_str());
            assert_eq!(j["line"], line);
            assert_eq!(j["column"], column);
            assert_eq!(j["file"], path.display().to_string());
            assert_eq!(j["message"], d.message.as_str());
        }
        let colored = render_terminal(&file, &diags, true);
        assert!(colored.len() >= text.len());
    }
}

#[test]
fn messages_follow_the_style() {
    for path in broken_files() {
        let file = SourceFile::read(&path).unwrap();
        for d in diagnostics(&file) {
            let first = d.message.chars().next().unwrap();
            assert!(
                !first.is_uppercase(),
                "{}: message starts uppercase: {}",
                path.display(),
                d.message
            );
            assert!(
                !d.message.ends_with('.'),
                "{}: message ends with a period: {}",
                path.display(),
                d.message
            );
        }
    }
}

#[test]
fn a_rule_compile_error_points_at_the_misspelt_variable() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(DIR)
        .join("rule_compile_multiline.toml");
    let file = SourceFile::read(&path).unwrap();
    let diags = compile_source(&file).unwrap_err();
    let d = diags.iter().find(|d| d.code == Code::RuleCompile).unwrap();
    let at = &file.text[d.span.start..];
    assert!(
        at.starts_with("actr"),
        "points at {:?}",
        &at[..at.len().min(20)]
    );
}

#[test]
fn the_same_problems_through_an_in_memory_file() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(DIR)
            .join("invalid_slug.toml"),
    )
    .unwrap();
    let file = SourceFile::from_text("memory.toml", text, Format::Toml);
    let diags = compile_source(&file).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::InvalidSlug);
}

/// The whole rendering of every broken surface, for a terminal (no colour) and as JSON, one
/// snapshot per file (`tests/it/snapshots/it__broken_surfaces__rendered@<file>.snap`); the
/// tests above check the codes and positions one by one.
#[test]
fn rendered() {
    crate::snapshot::settings(None).bind(|| {
        insta::glob!("../surfaces/broken", "*.toml", |path| {
            let file = SourceFile::read(path).unwrap();
            let diags = diagnostics(&file);
            let json = serde_json::to_string_pretty(&to_json(&file, &diags)).unwrap();
            let text = render_terminal(&file, &diags, false);
            insta::assert_snapshot!(format!("{text}\n----- json -----\n{json}"));
        });
    });
}

//! The checker as a new author meets it: rules read against what the surface declares, the
//! implied claim edge, root causes before consequences, a DSL syntax error that hides nothing
//! else, and a scenario that names its own folder.

use std::sync::Arc;

use planck::scenario::{load, load_surfaces, run_in_memory};
use planck::surface::diagnostic::line_col;
use planck::surface::load::{Format, SourceFile, compile_source};
use planck::surface::{Code, PhaseId};

/// A repair surface in the DSL with `extra` statements; the claim edge is not written.
fn repair(extra: &str) -> String {
    format!(
        r#"surface repair v1 "Repair" {{
  spec "s"
  phases {{
    queued "Queued"
    claimed "Claimed"
    diagnosed "Diagnosed"
    repairing "Repairing"
    done "Done"
  }}
  transition claimed -> diagnosed
  transition diagnosed -> repairing
  transition repairing -> done
  evidence {{ required [arrival] optional [damage] min_per_category 1 }}
  intake {{ required [contact, urgency] }}
{extra}}}
"#
    )
}

/// `(code, line)` of every diagnostic of `text` read as a DSL file.
fn problems(text: &str) -> Vec<(&'static str, usize)> {
    let file = SourceFile::from_text("repair.surface", text, Format::Dsl);
    let diags = match compile_source(&file) {
        Ok(compiled) => compiled.warnings,
        Err(diags) => diags,
    };
    diags
        .iter()
        .map(|d| (d.code.as_str(), line_col(text, d.span.start).0))
        .collect()
}

#[test]
fn the_issue_typos_fail_the_check() {
    for (rule, code) in [
        (
            r#"rule urgent on claim_job when `case.intake.urgncy == "high"` message "m""#,
            "unknown_intake_field",
        ),
        (
            "rule crew on advance when `case.evidence.arival >= 1` message \"m\"",
            "unknown_category",
        ),
        (
            r#"rule diag on advance when `case.phase == "diagnosd"` message "m""#,
            "unknown_phase",
        ),
    ] {
        let text = repair(&format!("  {rule}\n"));
        assert_eq!(problems(&text), vec![(code, 15)], "{rule}");
    }
}

#[test]
fn the_claim_edge_is_implied_and_counts_for_reachability() {
    let text = repair("");
    assert_eq!(problems(&text), vec![]);
    let file = SourceFile::from_text("repair.surface", text, Format::Dsl);
    let surface = compile_source(&file).unwrap().surface;
    let claim = surface.transition(PhaseId(0), PhaseId(1)).unwrap();
    assert!(claim.implicit);
    assert!(
        surface.definition().transitions.len() == 3,
        "not materialized"
    );
    assert_eq!(
        surface.transitions().iter().filter(|t| t.implicit).count(),
        1
    );
    let json = planck::surface::inspect::to_json(&surface);
    assert_eq!(json["transitions"][0]["implicit"], true);
    assert_eq!(json["transitions"][1]["implicit"], false);
    // Writing it stays allowed, and then it is not implicit.
    let written = text_with_claim_edge();
    let file = SourceFile::from_text("repair.surface", written, Format::Dsl);
    let surface = compile_source(&file).unwrap().surface;
    assert!(surface.transitions().iter().all(|t| !t.implicit));
    assert_eq!(surface.transitions().len(), 4);
}

fn text_with_claim_edge() -> String {
    repair("").replace(
        "  transition claimed -> diagnosed",
        "  transition queued -> claimed\n  transition claimed -> diagnosed",
    )
}

#[test]
fn a_misspelled_phase_is_the_only_problem_reported() {
    let text = repair("").replace("claimed -> diagnosed", "claimed -> diagnosd");
    assert_eq!(problems(&text), vec![("unknown_phase", 10)]);
}

#[test]
fn syntax_errors_hide_nothing_else() {
    let text = repair(
        "  rule r on advance when `case.intake.urgncy == 1` message \"m\"\n  escalate diagnosd after 2h signal slow\n  rule s on advance when `true` message = \"m\"\n",
    )
    .replace("claimed -> diagnosed", "claimed => diagnosed")
    .replace("min_per_category 1", "min_per_category = 1");
    let got = problems(&text);
    assert_eq!(
        got,
        vec![
            ("dsl_syntax", 10),
            ("dsl_syntax", 13),
            ("unknown_intake_field", 15),
            ("unknown_phase", 16),
            ("dsl_syntax", 17),
        ],
        "{got:?}"
    );
}

#[test]
fn a_broken_phases_block_does_not_bury_the_file_in_consequences() {
    let text = repair("").replace("diagnosed \"Diagnosed\"", "diagnosed = \"Diagnosed\"");
    let got = problems(&text);
    assert_eq!(got, vec![("dsl_syntax", 6)], "{got:?}");
}

#[test]
fn a_broken_header_reports_only_itself() {
    let text = repair("").replace("repair v1", "repair 1");
    assert_eq!(problems(&text), vec![("dsl_syntax", 1)]);
}

#[test]
fn rule_diagnostics_point_into_the_file() {
    let text = repair("  rule diag on advance when `case.phase == \"diagnosd\"` message \"m\"\n");
    let file = SourceFile::from_text("repair.surface", text.clone(), Format::Dsl);
    let diags = compile_source(&file).unwrap_err();
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert_eq!(d.code, Code::UnknownPhase);
    assert_eq!(&text[d.span.start..d.span.end], "\"diagnosd\"");
    assert_eq!(d.help.as_deref(), Some("did you mean `diagnosed`?"));
}

#[test]
fn a_scenario_naming_its_own_folder_does_not_load_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("repair.toml"),
        planck::surface::print::to_toml(&planck::surface::dsl::parse(&repair("")).0),
    )
    .unwrap();
    let scenario = r#"
name = "self"
surfaces = ["."]

[principals]
client = { id = "client-ava", roles = ["client"] }

[[step]]
as = "client"
command = "submit_request"
case = "r-1"
args = { surface = "repair", intake = { contact = "ava", urgency = "high" } }
"#;
    std::fs::write(dir.path().join("a.toml"), scenario).unwrap();
    std::fs::write(dir.path().join("b.toml"), scenario).unwrap();
    let path = dir.path().join("a.toml");
    let (_, parsed) = load(&path);
    let scenario = parsed.unwrap();
    let (registry, report) = load_surfaces(&scenario, &[]);
    assert!(
        report.is_ok(),
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    assert_eq!(registry.len(), 1);
    let report = run_in_memory(&scenario, "a.toml", Arc::new(registry));
    assert!(report.passed, "{}", report.to_text());
}

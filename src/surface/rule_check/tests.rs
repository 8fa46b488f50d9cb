use super::*;

fn declared() -> Declared<'static> {
    Declared {
        phases: vec!["queued", "claimed", "diagnosed", "repairing", "done"],
        categories: vec!["arrival", "before"],
        intake: vec!["contact", "urgency"],
        commands: vec![CommandKind::Advance],
    }
}

/// (code, text under the range, help) of each finding.
fn found(src: &str) -> Vec<(&'static str, String, Option<String>)> {
    check(src, &declared())
        .into_iter()
        .map(|f| {
            (
                f.code.as_str(),
                src[f.range.clone()].to_string(),
                f.help.clone(),
            )
        })
        .collect()
}

fn codes(src: &str) -> Vec<&'static str> {
    found(src).into_iter().map(|(c, ..)| c).collect()
}

#[test]
fn the_issue_typos_are_found_with_suggestions() {
    assert_eq!(
        found(r#"case.intake.urgncy == "high""#),
        vec![(
            "unknown_intake_field",
            "urgncy".into(),
            Some("did you mean `urgency`?".into())
        )]
    );
    assert_eq!(
        found("case.evidence.arival >= 1"),
        vec![(
            "unknown_category",
            "arival".into(),
            Some("did you mean `arrival`?".into())
        )]
    );
    assert_eq!(
        found(r#"case.phase == "diagnosd""#),
        vec![(
            "unknown_phase",
            "\"diagnosd\"".into(),
            Some("did you mean `diagnosed`?".into())
        )]
    );
    assert_eq!(codes(r#""diagnosd" != case.phase"#), vec!["unknown_phase"]);
}

#[test]
fn well_formed_guards_pass() {
    for src in [
        "case.evidence.arrival >= 1",
        r#"case.phase == "diagnosed" || case.phase in ["queued", "done"]"#,
        r#"case.intake.urgency == "high" && "contact" in case.intake"#,
        r#"case.intake["contact"] != () && case.evidence["before"] > 0"#,
        r#"case.owner == actor.id && "admin" in actor.roles"#,
        r#"command.to == "repairing" && command.name == "advance""#,
        r#"case.job == "claimed" && case.task != "closed" && case.settlement == "captured""#,
        r#"case.service_event == "open" && case.id != """#,
        "now > 1000 && case.intake.urgency.len() > 2",
        r#"actor.roles.contains("operator") && case.intake.contains("urgency")"#,
        r#"case.intake.urgency == 3 || case.intake.contact.to_upper() == "X""#,
        "case.assignee == () || case.evidence.arrival >= case.evidence.before",
    ] {
        assert_eq!(found(src), vec![], "{src}");
    }
}

#[test]
fn unknown_members_of_every_root() {
    assert_eq!(
        found("case.phse == 1"),
        vec![(
            "unknown_member",
            "phse".into(),
            Some("did you mean `phase`?".into())
        )]
    );
    assert_eq!(codes("actor.name == \"x\""), vec!["unknown_member"]);
    assert_eq!(codes("now.day > 3"), vec!["unknown_member"]);
    assert_eq!(codes(r#"command.category == "x""#), vec!["unknown_member"]);
    assert_eq!(codes(r#"case.phase.id == "x""#), vec!["unknown_member"]);
    assert_eq!(
        codes(r#"case["evidense"]["x"] == 1"#),
        vec!["unknown_member"]
    );
    assert_eq!(
        codes(r#""urgncy" in case.intake"#),
        vec!["unknown_intake_field"]
    );
    assert_eq!(
        codes(r#"case.evidence.contains("befor")"#),
        vec!["unknown_category"]
    );
}

#[test]
fn literals_outside_closed_sets() {
    assert_eq!(
        found(r#"case.job == "claimd""#),
        vec![(
            "unknown_value",
            "\"claimd\"".into(),
            Some("did you mean `claimed`?".into())
        )]
    );
    assert_eq!(codes(r#""admn" in actor.roles"#), vec!["unknown_value"]);
    assert_eq!(
        codes(r#"case.phase in ["queued", "repiaring"]"#),
        vec!["unknown_phase"]
    );
    assert_eq!(codes(r#"command.to != "nowhere""#), vec!["unknown_phase"]);
    assert_eq!(codes(r#"command.name == "advanse""#), vec!["unknown_value"]);
    let warn = check(r#"command.name == "claim_job""#, &declared());
    assert_eq!(warn.len(), 1);
    assert_eq!(warn[0].severity, Severity::Warning);
}

#[test]
fn type_mismatches() {
    assert_eq!(
        found(r#"case.evidence.arrival >= "1""#),
        vec![(
            "type_mismatch",
            r#"case.evidence.arrival >= "1""#.into(),
            Some("compare a number with a number: write it without quotes".into())
        )]
    );
    assert_eq!(codes(r#"now > "tomorrow""#), vec!["type_mismatch"]);
    assert_eq!(codes("case.phase == 3"), vec!["type_mismatch"]);
    assert_eq!(codes(r#"case.evidence == "x""#), vec!["type_mismatch"]);
    assert_eq!(codes(r#"actor.roles == "admin""#), vec!["type_mismatch"]);
    assert_eq!(
        codes("case.phase == case.evidence.arrival"),
        vec!["type_mismatch"]
    );
    assert_eq!(
        codes("case.evidence.arrival == true"),
        vec!["type_mismatch"]
    );
}

#[test]
fn command_members_follow_the_commands_the_rule_runs_for() {
    let mut d = declared();
    d.commands = vec![CommandKind::Advance, CommandKind::CompleteServiceEvent];
    let findings = check(r#"command.to == "done""#, &d);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, Code::UnknownMember);
    assert_eq!(findings[0].severity, Severity::Warning);
    assert!(
        check("command.outcome != ()", &d)
            .iter()
            .any(|f| f.severity == Severity::Warning)
    );
    d.commands = vec![CommandKind::RecordSettlement];
    assert!(
        check(
            r#"command.status == "captured" && command.amount_minor > 0"#,
            &d
        )
        .is_empty()
    );
    assert_eq!(check(r#"command.status == "paid""#, &d).len(), 1);
    d.commands = Vec::new();
    assert!(check("command.anything == 1", &d).is_empty());
}

#[test]
fn positions_on_later_lines_and_after_wide_characters() {
    let src = "case.intake.contact != \"é\" &&\n  case.evidence.arival >= 1";
    let got = found(src);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, "arival");
}

#[test]
fn literals_compared_with_scope_values() {
    let got = compared_literals(
        r#"case.evidence.arrival >= 2 && "x" != case.intake["urgency"] && case.phase in ["a", "b"] && now > 5 && case.owner == actor.id"#,
    );
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            (path(&["case", "evidence", "arrival"]), Literal::Int(2)),
            (
                path(&["case", "intake", "urgency"]),
                Literal::Text("x".into())
            ),
            (path(&["case", "phase"]), Literal::Text("a".into())),
            (path(&["case", "phase"]), Literal::Text("b".into())),
            (path(&["now"]), Literal::Int(5)),
        ]
    );
}

#[test]
fn broken_guards_have_no_findings() {
    assert!(check("case.phase ==", &declared()).is_empty());
}

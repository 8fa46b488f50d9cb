use super::*;
use crate::surface::toml::parse;

const BASE: &str = r#"
[surface]
slug = "demo"
name = "Demo"
spec = "surface-runtime-spec-v0.01"
version = 1

[[phase]]
id = "queued"
label = "Queued"

[[phase]]
id = "claimed"
label = "Claimed"

[[phase]]
id = "working"
label = "Working"

[[phase]]
id = "complete"
label = "Complete"
"#;

fn check(extra: &str) -> Vec<Diagnostic> {
    let src = format!("{BASE}{extra}");
    let (def, diags) = parse(&src);
    assert!(diags.is_empty(), "front end: {diags:?}");
    validate(&def)
}

fn codes(extra: &str) -> Vec<&'static str> {
    check(extra).iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn the_base_surface_is_valid() {
    assert!(codes("").is_empty());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90s"), Some(90_000));
    assert_eq!(parse_duration("15m"), Some(900_000));
    assert_eq!(parse_duration("24h"), Some(86_400_000));
    assert_eq!(parse_duration("2d"), Some(172_800_000));
    assert_eq!(parse_duration("0s"), Some(0));
    for bad in [
        "",
        "s",
        "10",
        "1.5h",
        "-1h",
        "1w",
        "1 h",
        " 1h",
        "h1",
        "99999999999999999999d",
        "1hé",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    assert_eq!(parse_duration("9999999999999999d"), None);
}

#[test]
fn durations_are_the_contract_form_read_by_jiff() {
    // Forms jiff's friendly format reads but surfaces do not accept.
    for other in [
        "+1h", "1h30m", "1 hour", "2hours", "1y", "1mo", "1ms", "1H", "PT1H",
    ] {
        assert_eq!(parse_duration(other), None, "{other}");
        assert!(!is_duration_form(other), "{other}");
    }
    assert_eq!(parse_duration("007s"), Some(7_000));
    assert_eq!(parse_duration("000d"), Some(0));
    assert_eq!(parse_duration("00000000000000000000090s"), Some(90_000));
    assert_eq!(parse_duration("7304484d"), Some(7_304_484 * 86_400_000));
    // Of the form but too long to hold: out of range, not "not a duration".
    for long in ["7304485d", "99999999999999999999d"] {
        assert_eq!(parse_duration(long), None, "{long}");
        assert!(is_duration_form(long), "{long}");
    }
    let late = "\n[[escalation]]\nphase = \"claimed\"\nafter = \"99999999999999999999d\"\nsignal = \"late\"\n";
    assert_eq!(codes(late), vec!["out_of_range"]);
}

#[test]
fn patterns() {
    assert!(is_slug("event-coordination"));
    assert!(is_slug("ab"));
    assert!(!is_slug("a"));
    assert!(!is_slug("Event"));
    assert!(!is_slug("1abc"));
    assert!(!is_slug(&"a".repeat(64)));
    assert!(is_identifier("a"));
    assert!(is_identifier("in_progress"));
    assert!(!is_identifier("in-progress"));
    assert!(!is_identifier("_x"));
    assert!(!is_identifier(&"a".repeat(64)));
}

#[test]
fn transitions_into_first_out_of_last_and_self() {
    let got = codes(
        r#"
[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "queued"
[[transition]]
from = "claimed"
to = "working"
[[transition]]
from = "working"
to = "working"
[[transition]]
from = "working"
to = "complete"
[[transition]]
from = "complete"
to = "working"
"#,
    );
    assert_eq!(
        got,
        vec![
            "transition_into_first",
            "self_transition",
            "transition_out_of_last"
        ]
    );
}

#[test]
fn reachability_is_checked_both_ways() {
    let got = codes(
        r#"
[[transition]]
from = "queued"
to = "complete"
[[transition]]
from = "claimed"
to = "working"
"#,
    );
    assert_eq!(
        got,
        vec!["transition_from_first", "dead_end_phase", "dead_end_phase"]
    );
    let got = codes("\n[[transition]]\nfrom = \"claimed\"\nto = \"complete\"\n");
    assert_eq!(got, vec!["unreachable_phase", "dead_end_phase"]);
}

#[test]
fn the_claim_edge_is_implied() {
    let got = codes(
        "\n[[transition]]\nfrom = \"claimed\"\nto = \"working\"\n[[transition]]\nfrom = \"working\"\nto = \"complete\"\n",
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn consequences_of_an_unknown_phase_are_not_reported() {
    let diags = check(
        "\n[[transition]]\nfrom = \"claimed\"\nto = \"workin\"\n[[transition]]\nfrom = \"working\"\nto = \"complete\"\n",
    );
    let got: Vec<_> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(got, vec!["unknown_phase"]);
    let help = diags[0].help.as_deref().unwrap();
    assert!(help.starts_with("did you mean `working`?"), "{help}");
    assert!(help.contains("cannot be reached"), "{help}");
    // A phase cut off whatever the unknown name becomes is still reported.
    let got = codes(
        "\n[[transition]]\nfrom = \"claimed\"\nto = \"nowhere\"\n[[transition]]\nfrom = \"claimed\"\nto = \"complete\"\n[[transition]]\nfrom = \"complete\"\nto = \"working\"\n",
    );
    assert!(got.contains(&"unknown_phase"), "{got:?}");
}

#[test]
fn a_misspelled_rule_name_does_not_also_make_the_rule_unused() {
    let got = codes(
        "\n[[transition]]\nfrom = \"claimed\"\nto = \"working\"\nrule = \"crew_redy\"\n[[transition]]\nfrom = \"working\"\nto = \"complete\"\n[[rule]]\nname = \"crew_ready\"\non = \"transition\"\nwhen = 'true'\nmessage = \"m\"\n",
    );
    assert_eq!(got, vec!["unknown_rule"]);
}

#[test]
fn rule_compile_error_points_into_the_expression() {
    let src = format!(
        "{BASE}\n[[rule]]\nname = \"r\"\non = \"advance\"\nwhen = '''\ncase.phase == 1 &&\n  cas.x'''\nmessage = \"m\"\n"
    );
    let (def, diags) = parse(&src);
    assert!(diags.is_empty());
    let diags = validate(&def);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, Code::RuleCompile);
    assert_eq!(&src[diags[0].span.start..diags[0].span.end], "c");
    let (line, col) = crate::surface::diagnostic::line_col(&src, diags[0].span.start);
    assert_eq!(
        (line, col),
        (
            src.lines().position(|l| l.contains("cas.x")).unwrap() + 1,
            3
        )
    );
}

#[test]
fn unused_transition_rule_is_a_warning() {
    let diags =
        check("\n[[rule]]\nname = \"r\"\non = \"transition\"\nwhen = 'now > 0'\nmessage = \"m\"\n");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::UnusedRule);
    assert!(!diags[0].is_error());
}

#[test]
fn unknown_trigger_suggests_a_command() {
    let diags =
        check("\n[[rule]]\nname = \"r\"\non = \"advanse\"\nwhen = 'now > 0'\nmessage = \"m\"\n");
    assert_eq!(diags[0].code, Code::UnknownTrigger);
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `advance`?"));
}

#[test]
fn missing_keys_are_reported_for_hand_built_definitions() {
    let def = Definition::default();
    let got: Vec<_> = validate(&def).iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "missing_key",
            "missing_key",
            "missing_key",
            "missing_key",
            "too_few_phases"
        ]
    );
    assert_eq!(validate_parsed(&def).len(), 1);
}

#[test]
fn escalations_are_checked() {
    let got = codes(
        "\n[[escalation]]\nphase = \"claimd\"\nafter = \"24 hours\"\nsignal = \"claim_stale\"\n\n[[escalation]]\nphase = \"claimed\"\nafter = \"400d\"\nsignal = \"Claim-Stale\"\n",
    );
    assert_eq!(
        got,
        vec![
            "invalid_identifier",
            "unknown_phase",
            "invalid_duration",
            "out_of_range"
        ]
    );
}

#[test]
fn ten_thousand_phases_validate_quickly() {
    let mut src =
        String::from("[surface]\nslug = \"big\"\nname = \"Big\"\nspec = \"s\"\nversion = 1\n");
    for i in 0..10_000 {
        src.push_str(&format!("[[phase]]\nid = \"p{i}\"\nlabel = \"P {i}\"\n"));
    }
    let (def, diags) = parse(&src);
    assert!(diags.is_empty());
    assert!(validate(&def).is_empty());
}

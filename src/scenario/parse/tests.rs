use super::*;
use crate::scenario::model::{Action, CheckField, CheckTarget, DEFAULT_START_MS, Expect, Expected};
use crate::spine::CommandBody;
use crate::spine::RejectionCode;

const GOOD: &str = r#"
name = "demo"
surfaces = ["../surfaces"]
start = "2026-01-10T09:00:00Z"

[principals]
client = { id = "client-ava", roles = ["client"] }
admin  = { id = "admin-kim",  roles = ["admin"] }

[[step]]
as = "client"
command = "submit_request"
case = "ev-1"
args = { surface = "event-coordination", intake = { contact = "ava@example.com", guests = 40, ratio = 0.5 } }
key = "submit-ev-1"

[[step]]
as = "admin"
command = "approve_task"
case = "ev-1"
at = "+2h"
expect = "rejected:task_not_approved"

[[step]]
command = "tick"
at = 2026-01-11T09:00:00Z

[[check]]
case = "ev-1"
task = "approved"
signals = ["record"]
"#;

fn parse_str(text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    parse(text, Path::new("dir/demo.toml"))
}

fn codes(text: &str) -> Vec<(Code, String)> {
    let diags = parse_str(text).unwrap_err();
    diags
        .iter()
        .map(|d| (d.code, text[d.span.start..d.span.end].to_string()))
        .collect()
}

#[test]
fn parses_the_contract_example() {
    let s = parse_str(GOOD).unwrap();
    assert_eq!(s.name, "demo");
    assert_eq!(s.surfaces[0].path, Path::new("dir/../surfaces"));
    assert_eq!(s.start, parse_time("2026-01-10T09:00:00Z").unwrap());
    assert_eq!(s.principals.len(), 2);
    assert_eq!(s.steps.len(), 3);
    assert_eq!(s.steps[0].line, 10);
    assert_eq!(s.checks[0].line, 28);
    let first = &s.steps[0];
    assert_eq!(first.principal.as_ref().unwrap().id, "client-ava");
    assert_eq!(first.key.as_deref(), Some("submit-ev-1"));
    let Action::Command(cmd) = &first.action else {
        panic!()
    };
    let CommandBody::SubmitRequest { intake, .. } = &cmd.body else {
        panic!("{cmd:?}")
    };
    assert_eq!(intake["guests"], 40);
    assert_eq!(s.steps[1].time, s.start + 2 * 3_600_000);
    assert_eq!(
        s.steps[1].expect,
        Expect::Rejected(Some(RejectionCode::TaskNotApproved))
    );
    assert_eq!(s.steps[2].action, Action::Tick);
    assert_eq!(s.steps[2].time, parse_time("2026-01-11T09:00:00Z").unwrap());
    assert_eq!(s.checks[0].expected.len(), 2);
}

#[test]
fn name_defaults_to_the_stem_and_start_to_2026() {
    let s = parse_str(
        "[principals]\na = { id = \"a\", roles = [\"admin\"] }\n[[step]]\ncommand = \"tick\"\n",
    )
    .unwrap();
    assert_eq!(s.name, "demo");
    assert_eq!(s.start, DEFAULT_START_MS);
}

#[test]
fn reports_every_problem_with_its_position() {
    let text = r#"
nme = "x"
[principals]
lee = { id = "op-lee", roles = ["operater"], extra = 1 }
[[step]]
as = "le"
command = "claim_jobb"
case = "c"
[[step]]
as = "lee"
command = "advance"
case = "c"
at = "tomorrow"
expect = "rejected:no_jobs"
[[step]]
command = "tick"
expect = "duplicate"
[[check]]
case = "c"
task = "done"
"#;
    let found = codes(text);
    assert_eq!(
        found,
        vec![
            (Code::UnknownKey, "nme".into()),
            (Code::UnknownRole, "\"operater\"".into()),
            (Code::UnknownKey, "extra".into()),
            (Code::UnknownPrincipal, "\"le\"".into()),
            (Code::UnknownCommand, "\"claim_jobb\"".into()),
            (Code::InvalidTime, "\"tomorrow\"".into()),
            (Code::UnknownRejectionCode, "\"rejected:no_jobs\"".into()),
            (Code::InvalidExpect, "\"duplicate\"".into()),
            (Code::InvalidValue, "\"done\"".into()),
        ],
        "{found:?}"
    );
}

#[test]
fn unknown_principal_has_a_hint() {
    let text = "[principals]\nlee = { id = \"op-lee\", roles = [\"operator\"] }\n[[step]]\nas = \"le\"\ncommand = \"claim_job\"\ncase = \"c\"\n";
    let diags = parse_str(text).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::UnknownPrincipal);
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `lee`?"));
}

#[test]
fn commands_need_as_and_case() {
    let found = codes("[[step]]\ncommand = \"approve_task\"\n");
    assert_eq!(
        found.iter().filter(|(c, _)| *c == Code::MissingKey).count(),
        2,
        "{found:?}"
    );
}

#[test]
fn time_never_moves_backwards() {
    let text = "start = \"2026-01-10T09:00:00Z\"\n[[step]]\ncommand = \"tick\"\nat = \"2026-01-09T09:00:00Z\"\n";
    assert_eq!(
        codes(text),
        vec![(Code::InvalidTime, "\"2026-01-09T09:00:00Z\"".into())]
    );
}

#[test]
fn clock_moves_take_the_surface_duration_form() {
    let at = |offset: &str| {
        let text = format!("[[step]]\ncommand = \"tick\"\nat = \"{offset}\"\n");
        parse_str(&text).map_or_else(
            |diags| diags.iter().map(|d| d.message.clone()).collect(),
            |_| Vec::new(),
        )
    };
    assert!(at("+2h").is_empty());
    assert!(at("+007s").is_empty());
    assert_eq!(at("+1.5h"), vec!["`+1.5h` is not a duration"]);
    assert_eq!(at("++1h"), vec!["`++1h` is not a duration"]);
    assert_eq!(at("+1 hour"), vec!["`+1 hour` is not a duration"]);
    assert_eq!(
        at("+99999999999999999999d"),
        vec!["`+99999999999999999999d` moves the clock too far"]
    );
}

#[test]
fn syntax_errors_are_reported() {
    let diags = parse_str("[[step]\ncommand = \"tick\"\n").unwrap_err();
    assert_eq!(diags[0].code, Code::TomlSyntax);
}

#[test]
fn bad_args_are_left_to_the_engine() {
    let text = "[principals]\na = { id = \"a\", roles = [\"admin\"] }\n[[step]]\nas = \"a\"\ncommand = \"advance\"\ncase = \"c\"\nargs = { to = 3 }\nexpect = \"rejected:payload_invalid\"\n";
    let s = parse_str(text).unwrap();
    let Action::Command(cmd) = &s.steps[0].action else {
        panic!()
    };
    assert!(matches!(cmd.body, CommandBody::Malformed { .. }));
}

#[test]
fn ticks_take_no_args_or_key_and_shapes_are_checked() {
    let text = r#"
start = "yesterday"
surfaces = "one/dir"
[principals]
a = "admin"
b = { id = "", roles = "admin" }
[[step]]
command = "tick"
args = { x = 1 }
key = "k"
[[check]]
task = "open"
signals = "record"
"#;
    let found = codes(text);
    assert_eq!(
        found,
        vec![
            (Code::InvalidTime, "\"yesterday\"".into()),
            (Code::WrongType, "\"admin\"".into()),
            (Code::InvalidValue, "\"\"".into()),
            (Code::WrongType, "\"admin\"".into()),
            (Code::InvalidValue, "{ x = 1 }".into()),
            (Code::InvalidValue, "\"k\"".into()),
            (Code::MissingKey, "[[check]]".into()),
            (Code::WrongType, "\"record\"".into()),
        ],
        "{found:?}"
    );
}

#[test]
fn a_single_surfaces_string_is_accepted() {
    let s = parse_str("surfaces = \"s\"\n[[step]]\ncommand = \"tick\"\n").unwrap();
    assert_eq!(s.surfaces[0].path, Path::new("dir/s"));
}

#[test]
fn a_scenario_needs_steps() {
    assert_eq!(
        codes("name = \"x\"\n"),
        vec![(Code::MissingKey, String::new())]
    );
}

#[test]
fn operator_steps_and_checks() {
    let text = r#"
[principals]
admin = { id = "admin-kim", roles = ["admin"] }

[[step]]
as = "admin"
command = "suspend_operator"
args = { operator = "op-lee", reason = "lapsed" }

[[check]]
operator = "op-lee"
status = "suspended"

[[check]]
case = "c-1"
owner = "op-max"
approval = "pending:repairing"
"#;
    let scenario = parse_str(text).unwrap();
    let Action::Command(command) = &scenario.steps[0].action else {
        panic!("not a command")
    };
    assert_eq!(command.case, "operator:op-lee");
    assert_eq!(scenario.steps[0].case, None);
    assert_eq!(
        scenario.checks[0].target,
        CheckTarget::Operator("op-lee".into())
    );
    assert_eq!(
        scenario.checks[1].expected,
        vec![
            (CheckField::Owner, Expected::One("op-max".into())),
            (
                CheckField::Approval,
                Expected::One("pending:repairing".into())
            ),
        ]
    );
    let bad = |tail: &str| {
        codes(&format!(
            "[principals]\na = {{ id = \"a\", roles = [\"admin\"] }}\n[[step]]\nas = \"a\"\ncommand = \"close_task\"\ncase = \"c\"\n{tail}"
        ))
    };
    let code_of = |tail: &str| bad(tail).into_iter().map(|(c, _)| c).collect::<Vec<_>>();
    assert_eq!(
        code_of(
            "[[step]]\nas = \"a\"\ncommand = \"reinstate_operator\"\ncase = \"c\"\nargs = { operator = \"x\" }\n"
        ),
        [Code::InvalidValue]
    );
    assert_eq!(
        code_of("[[check]]\noperator = \"x\"\njob = \"queued\"\n"),
        [Code::UnknownKey]
    );
    assert_eq!(
        code_of("[[check]]\ncase = \"c\"\nstatus = \"active\"\n"),
        [Code::UnknownKey]
    );
    assert_eq!(
        code_of("[[check]]\ncase = \"c\"\noperator = \"x\"\n"),
        [Code::InvalidValue]
    );
    assert_eq!(
        code_of("[[check]]\ncase = \"c\"\napproval = \"waiting\"\n"),
        [Code::InvalidValue]
    );
    assert_eq!(
        code_of("[[check]]\noperator = \"x\"\nstatus = \"asleep\"\n"),
        [Code::InvalidValue]
    );
}

#[test]
fn never_panics_on_odd_input() {
    for text in [
        "",
        "[[step]]",
        "step = 1",
        "[[step]]\nat = 5",
        "[[check]]\ncase = 1",
        "\u{0}\u{ffff}",
        "[principals]\n[principals.a]\nid = \"x\"\nroles = [1]",
    ] {
        let _ = parse_str(text);
    }
}

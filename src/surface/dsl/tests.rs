use super::recover::MAX_RECOVERED_ERRORS;
use super::*;
use crate::surface::ast::{ClaimPolicy, Status};

const SMALL: &str = r#"
# a comment
surface demo v2 "Demo" {
  spec "s"
  status paused
  execution { claim optional ownership open record service_event payment_timing prepaid completed_visible false }
  phases {
    queued "Queued"
    claimed "Claimed"
    done "Done"
  }
  transition queued -> claimed
  transition claimed->done requires [photo, "odd name",] guard ok
  evidence { required [photo] optional ["odd name"] min_per_category 2 }
  intake { required [contact] optional [] min_photos 1 }
  rule ok on transition when `case.evidence.photo >= 1` message "need a \"photo\"\n"
  escalate claimed after 24h signal stale
}
"#;

#[test]
fn parses_every_key() {
    let (def, diags) = parse(SMALL);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(def.surface.slug.as_ref().unwrap().value, "demo");
    assert_eq!(def.surface.version.as_ref().unwrap().value, 2);
    assert_eq!(def.surface.status.as_ref().unwrap().value, Status::Paused);
    assert_eq!(def.execution.claim.unwrap().value, ClaimPolicy::Optional);
    assert!(!def.execution.completed_visible.unwrap().value);
    assert_eq!(def.phases.len(), 3);
    assert_eq!(def.transitions.len(), 2);
    let t = &def.transitions[1].value;
    assert_eq!(t.requires.len(), 2);
    assert_eq!(t.requires[1].value, "odd name");
    assert_eq!(t.rule.as_ref().unwrap().value, "ok");
    assert_eq!(def.evidence.min_per_category.unwrap().value, 2);
    assert_eq!(def.intake.min_photos.unwrap().value, 1);
    let rule = &def.rules[0].value;
    assert_eq!(rule.message.as_ref().unwrap().value, "need a \"photo\"\n");
    let when = rule.when.as_ref().unwrap();
    assert_eq!(when.value, "case.evidence.photo >= 1");
    assert_eq!(&SMALL[when.span.start..when.span.end], when.value);
    assert_eq!(
        def.escalations[0].value.after.as_ref().unwrap().value,
        "24h"
    );
}

#[test]
fn bad_keyword_is_invalid_value_not_a_stop() {
    let src = SMALL.replace("status paused", "status paused_ish");
    let (def, diags) = parse(&src);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::InvalidValue);
    assert_eq!(&src[diags[0].span.start..diags[0].span.end], "paused_ish");
    assert!(def.surface.status.is_none());
    assert_eq!(def.phases.len(), 3);
}

#[test]
fn duplicate_key_is_reported() {
    let src = SMALL.replace("claim optional", "claim optional claim required");
    let (def, diags) = parse(&src);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::DuplicateKey);
    assert_eq!(def.execution.claim.unwrap().value, ClaimPolicy::Optional);
}

#[test]
fn syntax_error_points_at_the_token() {
    let src = SMALL.replace(
        "transition queued -> claimed",
        "transition queued => claimed",
    );
    let (_, diags) = parse(&src);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::DslSyntax);
    let at = src.find("=> claimed").unwrap();
    assert_eq!(diags[0].span.start, at);
    assert!(diags[0].message.contains("`->`"), "{}", diags[0].message);
}

#[test]
fn code_spans_with_backticks() {
    let src = SMALL.replace("`case.evidence.photo >= 1`", "`` `a` + \"`\" == x ``");
    let (def, diags) = parse(&src);
    assert!(diags.is_empty(), "{diags:?}");
    let when = def.rules[0].value.when.clone().unwrap();
    assert_eq!(when.value, "`a` + \"`\" == x");
    assert_eq!(&src[when.span.start..when.span.end], when.value);
}

#[test]
fn large_files_stay_within_the_call_limit() {
    let mut src = String::from("surface big v1 \"Big\" {\n  spec \"s\"\n  phases {\n");
    for i in 0..10_000 {
        src.push_str(&format!("    p{i} \"Phase {i}\"\n"));
    }
    src.push_str("  }\n");
    for i in 0..9_999 {
        src.push_str(&format!(
            "  transition p{i} -> p{} requires [a] guard r\n",
            i + 1
        ));
    }
    src.push_str("}\n");
    let (def, diags) = parse(&src);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(def.phases.len(), 10_000);

    // A file of the largest size, mostly one comment and one long text.
    let filler = MAX_FILE_BYTES / 2 - 100;
    let big = format!(
        "# {}\nsurface a v1 \"{}\" {{ }}\n",
        "x".repeat(filler),
        "y".repeat(filler)
    );
    assert!(big.len() <= MAX_FILE_BYTES);
    let (def, diags) = parse(&big);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(def.surface.name.unwrap().value.len(), filler);
}

#[test]
fn reading_goes_on_after_a_syntax_error() {
    let src = SMALL
        .replace(
            "transition queued -> claimed",
            "transition queued => claimed",
        )
        .replace("intake { required", "intake { requird");
    let (def, diags, unread) = parse_recovering(&src);
    let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![Code::DslSyntax, Code::DslSyntax]);
    assert_eq!(unread.keywords, vec!["transition", "intake"]);
    assert_eq!(def.phases.len(), 3);
    assert_eq!(def.transitions.len(), 1);
    assert_eq!(def.rules.len(), 1);
    let when = def.rules[0].value.when.as_ref().unwrap();
    assert_eq!(&src[when.span.start..when.span.end], when.value);
    assert_eq!(def.surface.slug.as_ref().unwrap().value, "demo");
}

#[test]
fn recovery_is_bounded_on_hostile_input() {
    let mut src = String::from("surface x v1 \"X\" {\n");
    for _ in 0..100_000 {
        src.push_str("  x =\n");
    }
    src.push('}');
    let start = std::time::Instant::now();
    let (_, diags, unread) = parse_recovering(&src);
    assert!(diags.len() <= MAX_RECOVERED_ERRORS + 1);
    assert!(unread.lost("anything"));
    assert!(start.elapsed().as_secs() < 20);
}

#[test]
fn hostile_inputs_do_not_panic() {
    for src in [
        "",
        "surface",
        "surface x v1 \"a",
        "surface x v99999999999999999999999 \"a\" {}",
        "surface x v1 \"\\u{D800}\" {}",
        "surface x v1 \"a\" { rule r when ``` x",
        "\u{0}\u{feff}surface",
        "surface x v1 \"a\" { phases { a \"b\" } } trailing",
    ] {
        let _ = parse(src);
    }
    let deep = "[".repeat(100_000);
    let _ = parse(&deep);
}

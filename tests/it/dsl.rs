//! The DSL front end: the shipped `.surface` files, syntax error positions and codes, value
//! problems that are diagnostics rather than stops, and `convert` round trips (printer and
//! front ends agree on the tree and the fingerprint).

use std::path::Path;

use planck::surface::diagnostic::{Code, line_col};
use planck::surface::load::{Format, SourceFile, compile_source};
use planck::surface::print::{to_dsl, to_toml};
use planck::surface::{Definition, compile, dsl, fingerprint, toml};

const SHIPPED: &[&str] = &["event-coordination", "auto-detailing"];

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn parse_dsl_clean(text: &str) -> Definition {
    let (def, diags) = dsl::parse(text);
    assert!(diags.is_empty(), "{diags:#?}");
    def
}

fn parse_toml_clean(text: &str) -> Definition {
    let (def, diags) = toml::parse(text);
    assert!(diags.is_empty(), "{diags:#?}");
    def
}

/// The one diagnostic of `text`, with its 1-based line and column.
fn only_diagnostic(text: &str) -> (Code, usize, usize, String) {
    let (_, diags) = dsl::parse(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    let (line, column) = line_col(text, d.span.start);
    (d.code, line, column, d.message.clone())
}

const MINIMAL: &str = r#"surface demo v1 "Demo" {
  spec "s"
  phases {
    queued "Queued"
    claimed "Claimed"
    done "Done"
  }
}
"#;

#[test]
fn shipped_dsl_files_equal_their_toml_twins() {
    for name in SHIPPED {
        let dsl_def = parse_dsl_clean(&read(&format!("surfaces/{name}.surface")));
        let toml_def = parse_toml_clean(&read(&format!("surfaces/{name}.toml")));
        assert_eq!(dsl_def, toml_def, "{name}");
        assert_eq!(fingerprint(&dsl_def), fingerprint(&toml_def), "{name}");
        let compiled = compile(&dsl_def).expect("the shipped surface compiles");
        assert!(compiled.warnings.is_empty(), "{:#?}", compiled.warnings);
        assert_eq!(compiled.surface.slug(), *name);
    }
}

#[test]
fn shipped_dsl_files_compile_through_the_loader() {
    for name in SHIPPED {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("surfaces/{name}.surface"));
        let file = SourceFile::read(&path).unwrap();
        assert_eq!(file.format, Format::Dsl);
        let compiled = compile_source(&file).unwrap();
        assert_eq!(compiled.surface.key(), format!("{name}@1"));
    }
}

#[test]
fn when_span_covers_the_expression_only() {
    let text = MINIMAL.replace(
        "}\n}",
        "}\n  rule r on advance when `case.evidence.x >= 1` message \"m\"\n}",
    );
    let def = parse_dsl_clean(&text);
    let when = def.rules[0].value.when.as_ref().unwrap();
    assert_eq!(
        &text[when.span.start..when.span.end],
        "case.evidence.x >= 1"
    );

    let quoted = MINIMAL.replace(
        "}\n}",
        "}\n  rule r on advance when \"a >= 1\" message \"m\"\n}",
    );
    let def = parse_dsl_clean(&quoted);
    let when = def.rules[0].value.when.as_ref().unwrap();
    assert_eq!(&quoted[when.span.start..when.span.end], "a >= 1");
}

#[test]
fn comments_and_layout_do_not_matter() {
    let squeezed =
        r#"surface demo v1 "Demo"{spec "s" phases{queued "Queued" claimed "Claimed" done "Done"}}"#;
    let commented = MINIMAL.replace("spec \"s\"", "spec \"s\" # the spec\n  # a whole line");
    assert_eq!(parse_dsl_clean(squeezed), parse_dsl_clean(MINIMAL));
    assert_eq!(parse_dsl_clean(&commented), parse_dsl_clean(MINIMAL));
}

#[test]
fn syntax_errors_point_at_the_problem() {
    // `=` where a value belongs.
    let text = MINIMAL.replace("spec \"s\"", "spec = \"s\"");
    let (code, line, column, message) = only_diagnostic(&text);
    assert_eq!((code, line, column), (Code::DslSyntax, 2, 8));
    assert!(message.contains("quoted text"), "{message}");
    assert!(message.contains("found `=`"), "{message}");

    // An unknown statement: the message lists what may come there.
    let text = MINIMAL.replace("spec \"s\"", "spek \"s\"");
    let (code, line, column, message) = only_diagnostic(&text);
    assert_eq!((code, line, column), (Code::DslSyntax, 2, 3));
    assert!(
        message.contains("`spec`") && message.contains("`phases`"),
        "{message}"
    );

    // A missing arrow in a transition.
    let text = MINIMAL.replace("}\n}", "}\n  transition queued claimed\n}");
    let (code, line, column, message) = only_diagnostic(&text);
    assert_eq!((code, line, column), (Code::DslSyntax, 8, 21));
    assert!(message.contains("`->`"), "{message}");

    // The version needs its `v`.
    let (code, line, column, message) = only_diagnostic(&MINIMAL.replace("v1", "1"));
    assert_eq!((code, line, column), (Code::DslSyntax, 1, 14));
    assert!(message.contains("version"), "{message}");

    // An unclosed block ends at the end of the file.
    let text = MINIMAL.trim_end().trim_end_matches('}');
    let (_, diags) = dsl::parse(text);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::DslSyntax);
    assert_eq!(diags[0].span.start, text.len());
    assert!(
        diags[0].message.contains("end of the file"),
        "{}",
        diags[0].message
    );
    assert!(diags[0].help.as_deref().unwrap_or("").contains('}'));

    // An unterminated text.
    let (code, line, _, _) = only_diagnostic(&MINIMAL.replace("\"Claimed\"", "\"Claimed"));
    assert_eq!((code, line), (Code::DslSyntax, 5));
}

#[test]
fn value_problems_are_diagnostics_and_parsing_goes_on() {
    let text = MINIMAL.replace(
        "spec \"s\"",
        "spec \"s\"\n  status sleeping\n  execution { claim maybe claim required completed_visible yes }",
    );
    let (def, diags) = dsl::parse(&text);
    let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        codes,
        vec![
            "invalid_value",
            "invalid_value",
            "duplicate_key",
            "invalid_value"
        ]
    );
    assert_eq!(def.phases.len(), 3, "the rest of the file is still read");
    let (line, column) = line_col(&text, diags[0].span.start);
    assert_eq!((line, column), (3, 10));
    assert!(diags[0].message.contains("`sleeping`"));
    assert!(diags[0].help.as_deref().unwrap().contains("`paused`"));

    let (_, diags) = dsl::parse(&MINIMAL.replace("v1", "v99999999999999999999"));
    assert_eq!(diags[0].code, Code::OutOfRange);

    let (_, diags) = dsl::parse(&MINIMAL.replace(
        "}\n}",
        "}\n  evidence { min_per_category 1 min_per_category 2 }\n  evidence { }\n}",
    ));
    let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, vec!["duplicate_key", "duplicate_key"]);
}

#[test]
fn missing_and_broken_values_reach_the_validator() {
    // A rule without `when`: the front end is content, the validator is not.
    let text = MINIMAL.replace("}\n}", "}\n  rule r on advance message \"m\"\n}");
    let def = parse_dsl_clean(&text);
    let diags = compile(&def).unwrap_err();
    assert!(
        diags.iter().any(|d| d.code == Code::MissingKey),
        "{diags:#?}"
    );

    // A quoted slug that is not a slug is read, then refused with its own code.
    let def = parse_dsl_clean(&MINIMAL.replace("demo", "\"Not A Slug\""));
    assert_eq!(def.surface.slug.as_ref().unwrap().value, "Not A Slug");
    let diags = compile(&def).unwrap_err();
    assert!(
        diags.iter().any(|d| d.code == Code::InvalidSlug),
        "{diags:#?}"
    );
}

#[test]
fn convert_round_trips_keep_tree_and_fingerprint() {
    for name in SHIPPED {
        let from_dsl = parse_dsl_clean(&read(&format!("surfaces/{name}.surface")));
        let from_toml = parse_toml_clean(&read(&format!("surfaces/{name}.toml")));

        // toml → dsl → toml and dsl → toml → dsl.
        let dsl_text = to_dsl(&from_toml);
        let again = parse_dsl_clean(&dsl_text);
        assert_eq!(again, from_toml, "{dsl_text}");
        let toml_text = to_toml(&again);
        assert_eq!(parse_toml_clean(&toml_text), from_toml, "{toml_text}");

        let toml_text = to_toml(&from_dsl);
        assert_eq!(parse_toml_clean(&toml_text), from_dsl, "{toml_text}");
        assert_eq!(
            fingerprint(&parse_toml_clean(&toml_text)),
            fingerprint(&from_dsl)
        );

        // The canonical form is a fixed point.
        assert_eq!(to_dsl(&parse_dsl_clean(&dsl_text)), dsl_text);
    }
}

#[test]
fn rules_escalations_and_awkward_text_round_trip() {
    let text = r#"
surface "odd slug" v7 "Name with \"quotes\" and \\ and \u{1F600}" {
  spec "line one\nline two\ttab"
  status retired
  execution { completed_visible false payment_timing prepaid }
  phases {
    queued "Q"
    "in progress" "In progress"
    done
  }
  transition queued -> "in progress" requires [a, "b c"] guard g
  transition "in progress" -> done
  evidence { required [a] optional ["b c"] }
  intake { optional [x] min_photos -1 }
  rule g on transition when `` `tpl ${case.phase}` == "x" || 'a' == 'a' `` message "m"
  rule multi on advance
    when `case.evidence.a >= 1 &&
          case.evidence.a < 9`
    message ""
  escalate queued after "one day" signal "late one"
  escalate done after 2d signal s
}
"#;
    let def = parse_dsl_clean(text);
    assert_eq!(def.phases[2].value.label, None);
    assert_eq!(
        def.rules[0].value.when.as_ref().unwrap().value,
        "`tpl ${case.phase}` == \"x\" || 'a' == 'a'"
    );
    assert!(
        def.rules[1]
            .value
            .when
            .as_ref()
            .unwrap()
            .value
            .contains('\n')
    );
    assert_eq!(parse_dsl_clean(&to_dsl(&def)), def, "{}", to_dsl(&def));
    let toml_text = to_toml(&def);
    let (from_toml, diags) = toml::parse(&toml_text);
    // The phase without a label is missing a required key in TOML's eyes; the tree is the same.
    assert!(
        diags.iter().all(|d| d.code == Code::MissingKey),
        "{diags:#?}"
    );
    assert_eq!(from_toml, def, "{toml_text}");
}

/// How the syntax and value problems above render for a terminal (no colour), one snapshot
/// per case (`tests/it/snapshots/it__dsl__rendered_problems_<case>.snap`).
#[test]
fn rendered_problems() {
    use planck::surface::render::render_terminal;

    let unclosed = MINIMAL.trim_end().trim_end_matches('}').to_string();
    let cases = [
        ("equals_for_a_value", MINIMAL.replace("spec \"s\"", "spec = \"s\"")),
        ("unknown_statement", MINIMAL.replace("spec \"s\"", "spek \"s\"")),
        (
            "missing_arrow",
            MINIMAL.replace("}\n}", "}\n  transition queued claimed\n}"),
        ),
        ("version_without_v", MINIMAL.replace("v1", "1")),
        ("unclosed_block", unclosed),
        (
            "unterminated_text",
            MINIMAL.replace("\"Claimed\"", "\"Claimed"),
        ),
        (
            "value_problems",
            MINIMAL.replace(
                "spec \"s\"",
                "spec \"s\"\n  status sleeping\n  execution { claim maybe claim required completed_visible yes }",
            ),
        ),
    ];
    crate::snapshot::settings(None).bind(|| {
        for (name, text) in cases {
            let file = SourceFile::from_text("demo.surface", text, Format::Dsl);
            let diags = compile_source(&file).unwrap_err();
            insta::assert_snapshot!(
                format!("rendered_problems_{name}"),
                render_terminal(&file, &diags, false)
            );
        }
    });
}

/// The governance keys say the same in both forms, round trip through both printers, and
/// leave the fingerprint of a surface that does not use them as it was.
#[test]
fn operators_and_approval_in_both_forms() {
    let toml_text = read("tests/scenarios/surfaces/auto-repair.toml");
    let from_toml = parse_toml_clean(&toml_text);
    let dsl_text = to_dsl(&from_toml);
    assert!(
        dsl_text.contains("    operators registered\n"),
        "{dsl_text}"
    );
    assert!(
        dsl_text.contains("transition diagnosed -> repairing requires [quote] approval [client]"),
        "{dsl_text}"
    );
    let from_dsl = parse_dsl_clean(&dsl_text);
    assert_eq!(from_dsl, from_toml);
    assert_eq!(fingerprint(&from_dsl), fingerprint(&from_toml));
    assert_eq!(parse_toml_clean(&to_toml(&from_dsl)), from_toml);
    let compiled = compile(&from_dsl).unwrap().surface;
    assert!(compiled.registered_operators());
    assert!(compiled.has_approvals());

    // `operators any`, written or not, is the same surface; `registered` is another.
    let plain = parse_dsl_clean(MINIMAL);
    let with = |setting: &str| {
        parse_dsl_clean(&MINIMAL.replace(
            "  spec \"s\"\n",
            &format!("  spec \"s\"\n  execution {{ {setting} }}\n"),
        ))
    };
    assert_eq!(fingerprint(&with("operators any")), fingerprint(&plain));
    assert_ne!(
        fingerprint(&with("operators registered")),
        fingerprint(&plain)
    );
    // An approval is part of the move it is written on.
    let moves = |approval: &str| {
        parse_dsl_clean(&MINIMAL.replace(
            "  }\n}\n",
            &format!("  }}\n  transition claimed -> done{approval}\n}}\n"),
        ))
    };
    assert_ne!(
        fingerprint(&moves(" approval [admin]")),
        fingerprint(&moves(""))
    );
    assert_eq!(
        only_diagnostic(&MINIMAL.replace(
            "  spec \"s\"\n",
            "  spec \"s\"\n  execution { operators some }\n"
        ))
        .0,
        Code::InvalidValue
    );
}

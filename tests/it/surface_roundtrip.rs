//! Property tests of the two surface forms and their printers.
//!
//! * Random *valid* definitions (3..12 phases, optional transitions forming a valid graph,
//!   evidence categories, intake fields, rules with simple `when` expressions, escalations,
//!   every optional key sometimes present and sometimes not) survive `to_toml` → `toml::parse`
//!   and `to_dsl` → `dsl::parse` as equal trees with equal fingerprints, without a diagnostic.
//! * Arbitrary text, arbitrary bytes and mutated DSL never make `dsl::parse` or the compiler
//!   panic.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;

use planck::spine::CommandKind;
use planck::surface::ast::{
    ClaimPolicy, Definition, Escalation, Evidence, Execution, Header, Intake, Node, Operators,
    Ownership, PaymentTiming, Phase, RecordContainer, Rule, Status, Transition,
};
use planck::surface::load::{Format, SourceFile, compile_source};
use planck::surface::print::{to_dsl, to_toml};
use planck::surface::{compile, dsl, fingerprint, toml};

fn n<T>(value: T) -> Node<T> {
    Node::synthetic(value)
}

fn s(text: &str) -> Node<String> {
    n(text.to_owned())
}

/// Identifier stems, DSL keywords among them (they must still work as names).
fn stem() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9_]{0,10}",
        1 => prop::sample::select(vec![
            "on", "rule", "guard", "when", "message", "transition", "phases", "requires",
            "required", "optional", "after", "signal", "v1", "true", "surface", "escalate",
        ])
        .prop_map(str::to_owned),
    ]
}

/// `count` distinct identifiers.
fn identifiers(count: std::ops::Range<usize>) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(stem(), count).prop_map(|stems| {
        let mut seen = BTreeSet::new();
        stems
            .into_iter()
            .enumerate()
            .map(|(i, stem)| {
                let mut id = stem;
                while seen.contains(&id) {
                    id = format!("{id}_{i}");
                }
                seen.insert(id.clone());
                id
            })
            .collect()
    })
}

/// A non-blank human text, with quotes, backslashes, `#`, tabs, line breaks and non-ASCII.
fn label() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][ -~\t\né😀]{0,20}"
}

fn option<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<Node<T>>> {
    prop::option::of(value.prop_map(n))
}

fn execution() -> impl Strategy<Value = Execution> {
    (
        option(prop::sample::select(vec![
            ClaimPolicy::Required,
            ClaimPolicy::Optional,
        ])),
        option(prop::sample::select(vec![
            Ownership::Assigned,
            Ownership::Open,
        ])),
        option(Just(RecordContainer::ServiceEvent)),
        option(prop::sample::select(vec![
            PaymentTiming::Independent,
            PaymentTiming::Prepaid,
        ])),
        option(any::<bool>()),
        option(prop::sample::select(vec![
            Operators::Registered,
            Operators::Any,
        ])),
    )
        .prop_map(
            |(claim, ownership, record, payment_timing, completed_visible, operators)| Execution {
                claim,
                ownership,
                record,
                payment_timing,
                completed_visible,
                operators,
            },
        )
}

/// A Rhai guard over declared categories (indexed, since a category may be a Rhai keyword): single-line, multi-line, with backticks and quotes.
fn when(categories: Vec<String>) -> impl Strategy<Value = String> {
    let cat = if categories.is_empty() {
        Just(String::from("x")).boxed()
    } else {
        prop::sample::select(categories).boxed()
    };
    (cat, 0..5_i64, 0..5_usize).prop_map(|(cat, min, shape)| match shape {
        0 => format!("case.evidence[\"{cat}\"] >= {min}"),
        1 => format!("case.evidence[\"{cat}\"] >= {min} &&\n  case.phase != \"PHASE\""),
        2 => format!("`tpl ${{case.phase}}` != \"x\" || case.evidence[\"{cat}\"] > {min}"),
        3 => format!("actor.id != 'x'.to_string() || case.evidence[\"{cat}\"] == {min}"),
        _ => format!(" case.evidence[\"{cat}\"] < {min} || \"#\" == \"#\" "),
    })
}

prop_compose! {
    fn valid_definition()(
        slug in "[a-z][a-z0-9-]{1,20}",
        name in label(),
        spec in label(),
        version in 1..1000_i64,
        status in option(prop::sample::select(vec![Status::Active, Status::Paused, Status::Retired])),
        execution in execution(),
        phase_ids in identifiers(3..12),
        labels in prop::collection::vec(label(), 12),
        categories in identifiers(0..6),
        required_count in 0..6_usize,
        fields in identifiers(0..6),
        required_fields in 0..6_usize,
        min_per_category in option(0..5_i64),
        min_photos in option(0..5_i64),
        declare_transitions in any::<bool>(),
        extra_edges in prop::collection::vec((any::<Index>(), any::<Index>()), 0..6),
        edge_requires in prop::collection::vec(prop::collection::vec(any::<Index>(), 0..3), 24),
        edge_rules in prop::collection::vec(prop::option::of(any::<Index>()), 24),
        edge_approvals in prop::collection::vec(prop::option::of(prop::sample::subsequence(vec!["client", "operator", "admin", "system"], 1..=4)), 24),
        rule_names in identifiers(0..4),
        rule_triggers in prop::collection::vec(prop::sample::select(
            CommandKind::ALL.iter().filter(|k| !k.addresses_operator()).map(|k| k.as_str()).chain(["transition"]).collect::<Vec<_>>()
        ), 4),
        rule_messages in prop::collection::vec(label(), 4),
        rule_whens in prop::collection::vec(any::<Index>(), 4),
        escalations in prop::collection::vec((any::<Index>(), 1..300_u64, prop::sample::select(vec!["s", "m", "h", "d"]), "[a-z][a-z0-9_]{0,12}"), 0..3),
        seed_whens in prop::collection::vec(when(vec![String::from("a"), String::from("b")]), 4),
    ) -> Definition {
        let phases: Vec<Node<Phase>> = phase_ids
            .iter()
            .zip(&labels)
            .map(|(id, label)| n(Phase { id: Some(s(id)), label: Some(s(label)) }))
            .collect();
        let count = phases.len();
        let required_count = required_count.min(categories.len());
        let required_categories: Vec<Node<String>> = categories[..required_count].iter().map(|c| s(c)).collect();
        let optional_categories: Vec<Node<String>> = categories[required_count..].iter().map(|c| s(c)).collect();
        let required_fields = required_fields.min(fields.len());

        // Rules: the `when` mentions a declared category when there is one.
        let rules: Vec<Node<Rule>> = rule_names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let base = seed_whens[i % seed_whens.len()].clone();
                // Every name a rule reads is declared (`planck check` refuses the others).
                let when = match categories.get(rule_whens[i].index(categories.len().max(1))) {
                    Some(cat) => base.replace("\"a\"", &format!("\"{cat}\"")).replace("\"b\"", &format!("\"{cat}\"")),
                    None => base.replace("case.evidence[\"a\"]", "now").replace("case.evidence[\"b\"]", "now"),
                };
                let when = when.replace("\"PHASE\"", &format!("\"{}\"", phase_ids[0]));
                n(Rule {
                    name: Some(s(name)),
                    on: Some(s(rule_triggers[i])),
                    when: Some(s(&when)),
                    message: Some(s(&rule_messages[i])),
                })
            })
            .collect();

        // Transitions: the chain keeps every phase reachable both ways; extra edges never
        // enter the first phase, leave the last, loop, or repeat.
        let mut transitions = Vec::new();
        if declare_transitions {
            let mut edges: Vec<(usize, usize)> = (0..count - 1).map(|i| (i, i + 1)).collect();
            for (a, b) in &extra_edges {
                let from = a.index(count - 1);
                let to = 1 + b.index(count - 1);
                if from != to && !edges.contains(&(from, to)) {
                    edges.push((from, to));
                }
            }
            for (i, (from, to)) in edges.into_iter().enumerate() {
                let mut requires: Vec<Node<String>> = Vec::new();
                if !categories.is_empty() {
                    for idx in &edge_requires[i % edge_requires.len()] {
                        let cat = &categories[idx.index(categories.len())];
                        if !requires.iter().any(|r| &r.value == cat) {
                            requires.push(s(cat));
                        }
                    }
                }
                let rule = match (&edge_rules[i % edge_rules.len()], rule_names.is_empty()) {
                    (Some(idx), false) => Some(s(&rule_names[idx.index(rule_names.len())])),
                    _ => None,
                };
                // The claim (first → second) never waits for approval.
                let approval = match &edge_approvals[i % edge_approvals.len()] {
                    Some(roles) if (from, to) != (0, 1) => {
                        Some(n(roles.iter().map(|r| s(r)).collect()))
                    }
                    _ => None,
                };
                transitions.push(n(Transition {
                    from: Some(s(&phase_ids[from])),
                    to: Some(s(&phase_ids[to])),
                    requires,
                    rule,
                    approval,
                }));
            }
        }

        let escalations = escalations
            .iter()
            .map(|(phase, amount, unit, signal)| n(Escalation {
                phase: Some(s(&phase_ids[phase.index(count)])),
                after: Some(n(format!("{amount}{unit}"))),
                signal: Some(s(signal)),
            }))
            .collect();

        Definition {
            surface: Header {
                slug: Some(s(&slug)),
                name: Some(s(&name)),
                spec: Some(s(&spec)),
                version: Some(n(version)),
                status,
                ..Header::default()
            },
            execution,
            phases,
            transitions,
            evidence: Evidence { required_categories, optional_categories, min_per_category },
            intake: Intake {
                required: fields[..required_fields].iter().map(|f| s(f)).collect(),
                optional: fields[required_fields..].iter().map(|f| s(f)).collect(),
                min_photos,
                // Every other field sensitive: both forms must carry the list.
                sensitive: fields.iter().step_by(2).map(|f| s(f)).collect(),
            },
            rules,
            escalations,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_definitions_round_trip_through_both_forms(def in valid_definition()) {
        // The generator makes valid surfaces (warnings, e.g. an unused rule, are allowed).
        if let Err(diags) = compile(&def) {
            prop_assert!(false, "generated definition does not compile: {diags:#?}\n{def:#?}");
        }
        let expected = fingerprint(&def);

        let toml_text = to_toml(&def);
        let (from_toml, diags) = toml::parse(&toml_text);
        prop_assert!(diags.is_empty(), "{diags:#?}\n{toml_text}");
        prop_assert_eq!(&from_toml, &def, "{}", toml_text);
        prop_assert_eq!(fingerprint(&from_toml), expected);

        let dsl_text = to_dsl(&def);
        let (from_dsl, diags) = dsl::parse(&dsl_text);
        prop_assert!(diags.is_empty(), "{diags:#?}\n{dsl_text}");
        prop_assert_eq!(&from_dsl, &def, "{}", dsl_text);
        prop_assert_eq!(fingerprint(&from_dsl), expected);

        // Converting the converted file changes nothing.
        prop_assert_eq!(to_dsl(&from_toml), dsl_text);
        prop_assert_eq!(to_toml(&from_dsl), toml_text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let (def, _) = dsl::parse(&text);
        let _ = compile(&def);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let (def, _) = dsl::parse(&text);
        let _ = compile(&def);
    }

    #[test]
    fn mutated_dsl_never_panics(
        def in valid_definition(),
        edits in prop::collection::vec((any::<Index>(), any::<Index>(), 0..5_u8, "[ -~\n`\"{}\\[\\]#]{0,6}"), 1..6),
    ) {
        let mut text = to_dsl(&def);
        for (at, len, kind, insert) in edits {
            let chars: Vec<char> = text.chars().collect();
            let at = at.index(chars.len() + 1);
            let end = (at + len.index(12)).min(chars.len());
            let mut mutated: Vec<char> = chars[..at].to_vec();
            match kind {
                0 => {} // delete a range
                1 => mutated.extend(insert.chars()), // replace the range
                2 => {
                    // insert, keep the range
                    mutated.extend(insert.chars());
                    mutated.extend(&chars[at..end]);
                }
                3 => {
                    // duplicate the range
                    mutated.extend(&chars[at..end]);
                    mutated.extend(&chars[at..end]);
                }
                _ => mutated.extend(chars[at..end].iter().rev()), // reverse it
            }
            mutated.extend(&chars[end..]);
            text = mutated.into_iter().collect();
        }
        let (parsed, _) = dsl::parse(&text);
        let _ = compile(&parsed);
        let file = SourceFile::from_text("mutated.surface", text, Format::Dsl);
        let _ = compile_source(&file);
    }
}

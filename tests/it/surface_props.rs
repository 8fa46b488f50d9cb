//! Hostile input never panics the TOML front end, the validator, the compiler or the renderer.
//!
//! Three generators: arbitrary bytes; near-valid TOML (the shipped surfaces with random
//! mutations: cuts, TOML tokens spliced in, lines duplicated or swapped); and well-formed
//! surfaces with random graphs, references and rules, where a successful compile must also
//! produce a consistent [`Surface`].

use std::path::PathBuf;

use planck::surface::compile::compile;
use planck::surface::load::{Format, SourceFile, compile_source};
use planck::surface::render::{render_terminal, to_json};
use planck::surface::validate::validate;
use planck::surface::{Diagnostic, PhaseId, Surface, fingerprint, toml};
use proptest::prelude::*;

fn shipped(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("surfaces")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Run the whole pipeline the way `planck check` does, rendering whatever comes out.
fn pipeline(text: &str) -> Result<Surface, Vec<Diagnostic>> {
    let (def, diags) = toml::parse(text);
    let _ = validate(&def);
    let _ = fingerprint(&def);
    let _ = compile(&def);
    let file = SourceFile::from_text("fuzz.toml", text, Format::Toml);
    let result = compile_source(&file);
    let shown = match &result {
        Ok(c) => c.warnings.clone(),
        Err(d) => d.clone(),
    };
    let _ = render_terminal(&file, &shown, false);
    let _ = to_json(&file, &shown);
    if diags.iter().any(Diagnostic::is_error) {
        assert!(result.is_err(), "front-end errors must not compile");
    }
    result.map(|c| c.surface)
}

/// Invariants of every compiled surface.
fn consistent(s: &Surface) {
    assert!(s.phases().len() >= 3);
    for (i, p) in s.phases().iter().enumerate() {
        assert_eq!(s.phase_id(&p.id), Some(PhaseId(i as u32)));
    }
    for t in s.transitions() {
        let found = s
            .transition(t.from, t.to)
            .expect("every transition is indexed");
        assert_eq!(found, t);
        assert_ne!(t.to, s.first_phase());
        assert_ne!(t.from, s.last_phase());
        assert_ne!(t.from, t.to);
    }
    for p in 0..s.phases().len() {
        let targets: Vec<PhaseId> = s
            .transitions_from(PhaseId(p as u32))
            .map(|t| t.to)
            .collect();
        let mut sorted = targets.clone();
        sorted.sort();
        assert_eq!(targets, sorted);
    }
    assert_eq!(s.graph().node_count(), s.phases().len());
    assert_eq!(s.graph().edge_count(), s.transitions().len());
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "=",
    "\n",
    "#",
    ",",
    "{",
    "}",
    ".",
    "\\",
    "\\u0000",
    "phase",
    "transition",
    "rule",
    "surface",
    "id",
    "from",
    "to",
    "requires",
    "when",
    "-1",
    "0",
    "99999999999999999999",
    "1.5",
    "inf",
    "nan",
    "true",
    "1979-05-27T07:32:00Z",
    "\"queued\"",
    "\"complete\"",
    "\"x\"",
    "[]",
    "[[phase]]\nid = \"queued\"\nlabel = \"Q\"\n",
    "[[transition]]\nfrom = \"complete\"\nto = \"queued\"\n",
    "[[rule]]\nname = \"r\"\non = \"advance\"\nwhen = '(((('\nmessage = \"m\"\n",
    "[[escalation]]\nphase = \"claimed\"\nafter = \"9999999999999999999d\"\nsignal = \"s\"\n",
    "é",
    "\u{1F600}",
    "\r\n",
    "\t",
    "\u{feff}",
];

#[derive(Clone, Debug)]
enum Mutation {
    Cut(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Mutation::Cut(a, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut text: String, mutations: &[Mutation]) -> String {
    for m in mutations {
        match *m {
            Mutation::Cut(at, n) => {
                let a = boundary(&text, at);
                let b = boundary(&text, a + n);
                if b >= a {
                    text.replace_range(a..b, "");
                }
            }
            Mutation::Insert(at, t) => {
                let a = boundary(&text, at);
                text.insert_str(a, TOKENS[t]);
            }
            Mutation::DuplicateLine(i) => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = i % lines.len();
                    lines.insert(i, lines[i]);
                }
                text = lines.join("\n");
            }
            Mutation::SwapLines(i, j) => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let (i, j) = (i % lines.len(), j % lines.len());
                    lines.swap(i, j);
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

const IDS: &[&str] = &[
    "queued",
    "claimed",
    "arrived",
    "in_progress",
    "complete",
    "Bad-Id",
    "",
];
const CATEGORIES: &[&str] = &["arrival", "before", "after", "damage", "Bad"];
const WHENS: &[&str] = &[
    "true",
    "case.evidence.after >= 1",
    "actor.roles.contains(\"admin\")",
    "now > 0 && command.to == \"complete\"",
    "cas.phase",
    "((((",
    "",
    "loop { }",
    "case.phase ==\n  \"claimed\"",
];
const TRIGGERS: &[&str] = &["advance", "transition", "claim_job", "arrive", ""];
const AFTERS: &[&str] = &["90s", "15m", "24h", "2d", "1 day", "400d", "", "0s"];

fn quoted(s: &str) -> String {
    format!("'''{s}'''")
}

prop_compose! {
    fn surface_text()(
        phases in prop::collection::vec((0..IDS.len(), any::<bool>()), 0..8),
        transitions in prop::collection::vec(
            (0..IDS.len(), 0..IDS.len(), prop::collection::vec(0..CATEGORIES.len(), 0..3), prop::option::of(0..3usize)),
            0..10,
        ),
        required in prop::collection::vec(0..CATEGORIES.len(), 0..4),
        optional in prop::collection::vec(0..CATEGORIES.len(), 0..3),
        min in -2i64..3,
        rules in prop::collection::vec((0..3usize, 0..TRIGGERS.len(), 0..WHENS.len()), 0..4),
        escalations in prop::collection::vec((0..IDS.len(), 0..AFTERS.len()), 0..3),
        version in -1i64..3,
    ) -> String {
        let mut s = format!(
            "[surface]\nslug = \"gen\"\nname = \"Generated\"\nspec = \"s\"\nversion = {version}\n\n"
        );
        for (i, (id, label)) in phases.iter().enumerate() {
            let label = if *label { format!("Phase {i}") } else { String::new() };
            s.push_str(&format!("[[phase]]\nid = \"{}\"\nlabel = \"{label}\"\n", IDS[*id]));
        }
        for (from, to, requires, rule) in &transitions {
            let requires: Vec<String> = requires.iter().map(|c| format!("\"{}\"", CATEGORIES[*c])).collect();
            s.push_str(&format!(
                "[[transition]]\nfrom = \"{}\"\nto = \"{}\"\nrequires = [{}]\n",
                IDS[*from], IDS[*to], requires.join(", ")
            ));
            if let Some(r) = rule {
                s.push_str(&format!("rule = \"rule_{r}\"\n"));
            }
        }
        let list = |v: &Vec<usize>| v.iter().map(|c| format!("\"{}\"", CATEGORIES[*c])).collect::<Vec<_>>().join(", ");
        s.push_str(&format!(
            "[evidence]\nrequired_categories = [{}]\noptional_categories = [{}]\nmin_per_category = {min}\n",
            list(&required), list(&optional)
        ));
        for (name, on, when) in &rules {
            s.push_str(&format!(
                "[[rule]]\nname = \"rule_{name}\"\non = \"{}\"\nwhen = {}\nmessage = \"no\"\n",
                TRIGGERS[*on], quoted(WHENS[*when])
            ));
        }
        for (phase, after) in &escalations {
            s.push_str(&format!(
                "[[escalation]]\nphase = \"{}\"\nafter = \"{}\"\nsignal = \"stale\"\n",
                IDS[*phase], AFTERS[*after]
            ));
        }
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = pipeline(&text);
    }

    #[test]
    fn tomlish_text_never_panics(parts in prop::collection::vec(0..TOKENS.len(), 0..64)) {
        let text: String = parts.iter().map(|i| TOKENS[*i]).collect::<Vec<_>>().join(" ");
        let _ = pipeline(&text);
    }

    #[test]
    fn mutated_event_coordination_never_panics(ms in prop::collection::vec(mutation(), 1..8)) {
        let text = apply(shipped("event-coordination.toml"), &ms);
        if let Ok(s) = pipeline(&text) {
            consistent(&s);
        }
    }

    #[test]
    fn mutated_auto_detailing_never_panics(ms in prop::collection::vec(mutation(), 1..8)) {
        let text = apply(shipped("auto-detailing.toml"), &ms);
        if let Ok(s) = pipeline(&text) {
            consistent(&s);
        }
    }

    #[test]
    fn generated_surfaces_compile_consistently_or_explain_why(text in surface_text()) {
        match pipeline(&text) {
            Ok(s) => {
                consistent(&s);
                prop_assert_eq!(s.fingerprint(), fingerprint(&toml::parse(&text).0));
            }
            Err(diags) => {
                prop_assert!(!diags.is_empty());
                prop_assert!(diags.iter().any(Diagnostic::is_error));
                for d in &diags {
                    prop_assert!(d.span.start <= d.span.end && d.span.end <= text.len(), "{:?}", d);
                }
            }
        }
    }
}

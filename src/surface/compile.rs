//! The compiler: a valid [`Definition`] → an immutable [`Surface`], plus its fingerprint.
//!
//! [`compile`] runs [`crate::surface::validate`](mod@crate::surface::validate) first and refuses (with every diagnostic) when
//! anything is an error; only then does it resolve names into dense indices and build the phase
//! table, the transitions (implicit linear ones when none are declared), the sorted adjacency
//! table, the petgraph graph, the evidence and intake contracts, the rules (each Rhai guard
//! compiled exactly once, during validation) and the escalations.
//!
//! It also owns the *fingerprint*: SHA-256 over a canonical JSON serialization of the
//! [normalized](Definition::normalized) definition. The canonical form has a fixed field order
//! and no spans, so comments, whitespace, key order, defaults written out or left implicit, and
//! the front end (TOML or DSL) never change the fingerprint.
//!
//! Compilation is pure: no I/O, no clock, and no panics on any input.

use std::collections::HashMap;

use petgraph::graph::DiGraph;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::policy::Role;
use crate::spine::CommandKind;
use crate::surface::ast::{
    ClaimPolicy, Definition, Node, Operators, Ownership, PaymentTiming, RecordContainer, Status,
};
use crate::surface::diagnostic::{Diagnostic, has_errors};
use crate::surface::model::{
    CategoryId, EscalationInfo, EvidenceContract, ExecutionPolicy, Fingerprint, IntakeContract,
    PhaseId, PhaseInfo, RuleId, RuleInfo, RuleTrigger, Surface, TransitionId, TransitionInfo,
};
use crate::surface::rules::Guard;
use crate::surface::validate::{self, parse_duration};

/// A compiled surface and the warnings its definition produced.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The compiled surface.
    pub surface: Surface,
    /// Warnings (never errors): the surface works, but something looks wrong.
    pub warnings: Vec<Diagnostic>,
}

/// The version tag inside the canonical serialization. Changing the canonical form (a field
/// added, renamed, reordered) must bump it, because it changes every fingerprint.
pub const CANONICAL_FORMAT: &str = "planck.surface.v1";

impl Definition {
    /// This definition with every default filled in: `status = "active"`, `claim =
    /// "required"`, `ownership = "assigned"`, `record = "service_event"`, `payment_timing =
    /// "independent"`, `completed_visible = true`, `operators = "any"`, `min_per_category = 0`,
    /// `min_photos = 0`;
    /// and each rule's `when` trimmed of surrounding whitespace (a front end's quoting is not
    /// part of the expression).
    ///
    /// Transitions are **not** materialized: a surface that declares no `[[transition]]`
    /// keeps an empty list, meaning "each phase moves to the next". Writing that linear chain
    /// out is a different definition (with a different fingerprint) even though it compiles to
    /// the same graph, because declared transitions are what `requires` and `rule` hang on and
    /// what `planck convert` must reproduce. Both front ends follow this rule.
    ///
    /// Spans are kept (they never take part in equality), so `def.normalized() == def` holds
    /// exactly when every default was already written out and no `when` has surrounding
    /// whitespace. Normalizing twice changes nothing.
    pub fn normalized(&self) -> Definition {
        let mut def = self.clone();
        def.surface
            .status
            .get_or_insert_with(|| Node::synthetic(Status::Active));
        let e = &mut def.execution;
        e.claim
            .get_or_insert_with(|| Node::synthetic(ClaimPolicy::Required));
        e.ownership
            .get_or_insert_with(|| Node::synthetic(Ownership::Assigned));
        e.record
            .get_or_insert_with(|| Node::synthetic(RecordContainer::ServiceEvent));
        e.payment_timing
            .get_or_insert_with(|| Node::synthetic(PaymentTiming::Independent));
        e.completed_visible
            .get_or_insert_with(|| Node::synthetic(true));
        e.operators
            .get_or_insert_with(|| Node::synthetic(Operators::Any));
        def.evidence
            .min_per_category
            .get_or_insert_with(|| Node::synthetic(0));
        def.intake
            .min_photos
            .get_or_insert_with(|| Node::synthetic(0));
        for rule in &mut def.rules {
            if let Some(when) = &mut rule.value.when {
                let trimmed = when.value.trim();
                if trimmed.len() != when.value.len() {
                    when.value = trimmed.to_string();
                }
            }
        }
        def
    }

    /// The canonical JSON text of the normalized definition: what [`fingerprint`] hashes.
    pub fn canonical_json(&self) -> String {
        let def = self.normalized();
        serde_json::to_string(&Canonical::of(&def)).unwrap_or_default()
    }
}

/// The content fingerprint of `def`: SHA-256 over [`Definition::canonical_json`].
pub fn fingerprint(def: &Definition) -> Fingerprint {
    let digest = Sha256::digest(def.canonical_json().as_bytes());
    Fingerprint(digest.into())
}

/// Validate and compile `def`.
///
/// On any error returns every diagnostic (errors and warnings, in check order); otherwise the
/// compiled surface and the warnings.
pub fn compile(def: &Definition) -> Result<Compiled, Vec<Diagnostic>> {
    let validated = validate::run(def, true);
    if has_errors(&validated.diagnostics) {
        return Err(validated.diagnostics);
    }
    let surface = build(def, validated.guards);
    Ok(Compiled {
        surface,
        warnings: validated.diagnostics,
    })
}

fn text(node: &Option<Node<String>>) -> String {
    node.as_ref().map(|n| n.value.clone()).unwrap_or_default()
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Build the surface from a definition that passed validation (every lookup resolves).
fn build(def: &Definition, guards: Vec<Option<Guard>>) -> Surface {
    let normalized = def.normalized();
    let fingerprint = fingerprint(def);
    let h = &normalized.surface;
    let e = &normalized.execution;
    let execution = ExecutionPolicy {
        claim: e.claim.map_or(ClaimPolicy::Required, |n| n.value),
        ownership: e.ownership.map_or(Ownership::Assigned, |n| n.value),
        record: e.record.map_or(RecordContainer::ServiceEvent, |n| n.value),
        payment_timing: e
            .payment_timing
            .map_or(PaymentTiming::Independent, |n| n.value),
        completed_visible: e.completed_visible.is_none_or(|n| n.value),
        operators: e.operators.map_or(Operators::Any, |n| n.value),
    };

    let phases: Vec<PhaseInfo> = normalized
        .phases
        .iter()
        .map(|p| PhaseInfo {
            id: text(&p.value.id),
            label: text(&p.value.label),
        })
        .collect();
    let phase_index: HashMap<String, PhaseId> = phases
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), PhaseId(index_u32(i))))
        .collect();
    let phase_of = |node: &Option<Node<String>>| {
        node.as_ref()
            .and_then(|n| phase_index.get(n.value.as_str()).copied())
            .unwrap_or(PhaseId(0))
    };

    let ev = &normalized.evidence;
    let categories: Vec<String> = ev
        .required_categories
        .iter()
        .chain(&ev.optional_categories)
        .map(|c| c.value.clone())
        .collect();
    let evidence = EvidenceContract {
        categories,
        required_count: index_u32(ev.required_categories.len()),
        min_per_category: ev
            .min_per_category
            .map_or(0, |n| u32::try_from(n.value).unwrap_or(0)),
    };
    let intake = IntakeContract {
        required: normalized
            .intake
            .required
            .iter()
            .map(|n| n.value.clone())
            .collect(),
        optional: normalized
            .intake
            .optional
            .iter()
            .map(|n| n.value.clone())
            .collect(),
        min_photos: normalized
            .intake
            .min_photos
            .map_or(0, |n| u32::try_from(n.value).unwrap_or(0)),
        sensitive: normalized
            .intake
            .sensitive
            .iter()
            .map(|n| n.value.clone())
            .collect(),
    };

    let mut rules = Vec::with_capacity(normalized.rules.len());
    let mut rules_on: HashMap<CommandKind, Vec<RuleId>> = HashMap::new();
    let mut rule_index: HashMap<&str, RuleId> = HashMap::new();
    for (i, (rule, guard)) in normalized.rules.iter().zip(guards).enumerate() {
        let id = RuleId(index_u32(i));
        let on_text = text(&rule.value.on);
        // Validation admitted only command names and `transition`.
        let on = match CommandKind::parse(&on_text) {
            Some(kind) => {
                rules_on.entry(kind).or_default().push(id);
                RuleTrigger::Command(kind)
            }
            None => RuleTrigger::Transition,
        };
        if let Some(name) = &rule.value.name {
            rule_index.entry(name.value.as_str()).or_insert(id);
        }
        // Validation compiled every `when`; a guard is missing only for definitions that did
        // not pass it, which never reach this point. Should one get here anyway, the rule
        // refuses everything (fails closed) rather than shifting every later `RuleId`.
        let Some(guard) = guard.or_else(|| Guard::compile("false").ok()) else {
            continue;
        };
        rules.push(RuleInfo {
            name: text(&rule.value.name),
            on,
            when: text(&rule.value.when),
            message: text(&rule.value.message),
            guard,
        });
    }

    let transitions: Vec<TransitionInfo> = if normalized.transitions.is_empty() {
        (1..phases.len())
            .map(|i| TransitionInfo {
                from: PhaseId(index_u32(i - 1)),
                to: PhaseId(index_u32(i)),
                requires: Vec::new(),
                rule: None,
                approval: Vec::new(),
                implicit: true,
            })
            .collect()
    } else {
        // The claim edge (first → second) is implied by the phase roles; a surface may write
        // it (to hang `requires` or a rule on the claim) but never has to.
        let claim_declared = normalized
            .transitions
            .iter()
            .any(|t| phase_of(&t.value.from) == PhaseId(0) && phase_of(&t.value.to) == PhaseId(1));
        let implied = (!claim_declared && phases.len() > 1).then(|| TransitionInfo {
            from: PhaseId(0),
            to: PhaseId(1),
            requires: Vec::new(),
            rule: None,
            approval: Vec::new(),
            implicit: true,
        });
        implied
            .into_iter()
            .chain(normalized.transitions.iter().map(|t| {
                TransitionInfo {
                    from: phase_of(&t.value.from),
                    to: phase_of(&t.value.to),
                    requires: t
                        .value
                        .requires
                        .iter()
                        .filter_map(|c| evidence.category(&c.value))
                        .collect::<Vec<CategoryId>>(),
                    rule: t
                        .value
                        .rule
                        .as_ref()
                        .and_then(|r| rule_index.get(r.value.as_str()).copied()),
                    approval: approval_roles(&t.value.approval),
                    implicit: false,
                }
            }))
            .collect()
    };

    let mut edges: Vec<(PhaseId, PhaseId, TransitionId)> = transitions
        .iter()
        .enumerate()
        .map(|(i, t)| (t.from, t.to, TransitionId(index_u32(i))))
        .collect();
    edges.sort();
    let mut adjacency_start = vec![0_u32; phases.len() + 1];
    for (from, _, _) in &edges {
        if let Some(slot) = adjacency_start.get_mut(from.0 as usize + 1) {
            *slot += 1;
        }
    }
    for i in 1..adjacency_start.len() {
        let prev = adjacency_start.get(i - 1).copied().unwrap_or(0);
        if let Some(slot) = adjacency_start.get_mut(i) {
            *slot += prev;
        }
    }
    let adjacency: Vec<(PhaseId, TransitionId)> =
        edges.iter().map(|(_, to, tid)| (*to, *tid)).collect();

    let mut graph = DiGraph::with_capacity(phases.len(), transitions.len());
    let nodes: Vec<_> = (0..phases.len())
        .map(|i| graph.add_node(PhaseId(index_u32(i))))
        .collect();
    for (i, t) in transitions.iter().enumerate() {
        if let (Some(a), Some(b)) = (nodes.get(t.from.0 as usize), nodes.get(t.to.0 as usize)) {
            graph.add_edge(*a, *b, TransitionId(index_u32(i)));
        }
    }

    let escalations = normalized
        .escalations
        .iter()
        .map(|esc| {
            let after = text(&esc.value.after);
            EscalationInfo {
                phase: phase_of(&esc.value.phase),
                after_ms: parse_duration(&after).unwrap_or(0),
                after,
                signal: text(&esc.value.signal),
            }
        })
        .collect();

    Surface {
        slug: text(&h.slug),
        name: text(&h.name),
        spec: text(&h.spec),
        version: h.version.map_or(0, |n| u32::try_from(n.value).unwrap_or(0)),
        status: h.status.map_or(Status::Active, |n| n.value),
        execution,
        phases,
        phase_index,
        transitions,
        adjacency_start,
        adjacency,
        graph,
        evidence,
        intake,
        rules,
        rules_on,
        escalations,
        fingerprint_hex: fingerprint.to_hex(),
        fingerprint,
        definition: normalized,
    }
}

/// The roles of a transition's `approval`, as validation admitted them (each a role that may
/// write; repeats dropped).
fn approval_roles(approval: &Option<Node<Vec<Node<String>>>>) -> Vec<Role> {
    let mut roles = Vec::new();
    for name in approval.iter().flat_map(|a| &a.value) {
        if let Some(role) = Role::parse(&name.value)
            && role != Role::Observer
            && !roles.contains(&role)
        {
            roles.push(role);
        }
    }
    roles
}

/// The canonical serialization: fixed field order (declaration order), no spans, defaults
/// already filled in by [`Definition::normalized`]. Absent values serialize as `null`.
///
/// Keys added after the first release (`operators`, a transition's `approval`) are written
/// only when they differ from their default, so that every surface written before them keeps
/// its fingerprint.
#[derive(Serialize)]
struct Canonical<'a> {
    format: &'static str,
    surface: CanonicalHeader<'a>,
    execution: CanonicalExecution,
    phases: Vec<CanonicalPhase<'a>>,
    transitions: Vec<CanonicalTransition<'a>>,
    evidence: CanonicalEvidence<'a>,
    intake: CanonicalIntake<'a>,
    rules: Vec<CanonicalRule<'a>>,
    escalations: Vec<CanonicalEscalation<'a>>,
}

#[derive(Serialize)]
struct CanonicalHeader<'a> {
    slug: Option<&'a str>,
    name: Option<&'a str>,
    spec: Option<&'a str>,
    version: Option<i64>,
    status: Option<Status>,
}

#[derive(Serialize)]
struct CanonicalExecution {
    claim: Option<ClaimPolicy>,
    ownership: Option<Ownership>,
    record: Option<RecordContainer>,
    payment_timing: Option<PaymentTiming>,
    completed_visible: Option<bool>,
    #[serde(skip_serializing_if = "is_default_operators")]
    operators: Option<Operators>,
}

/// `operators` left out of the canonical form: absent, or the default `any`.
fn is_default_operators(operators: &Option<Operators>) -> bool {
    matches!(operators, None | Some(Operators::Any))
}

#[derive(Serialize)]
struct CanonicalPhase<'a> {
    id: Option<&'a str>,
    label: Option<&'a str>,
}

#[derive(Serialize)]
struct CanonicalTransition<'a> {
    from: Option<&'a str>,
    to: Option<&'a str>,
    requires: Vec<&'a str>,
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
struct CanonicalEvidence<'a> {
    required_categories: Vec<&'a str>,
    optional_categories: Vec<&'a str>,
    min_per_category: Option<i64>,
}

#[derive(Serialize)]
struct CanonicalIntake<'a> {
    required: Vec<&'a str>,
    optional: Vec<&'a str>,
    min_photos: Option<i64>,
    /// Absent when empty, so the fingerprint of a surface without it is what it always was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sensitive: Vec<&'a str>,
}

#[derive(Serialize)]
struct CanonicalRule<'a> {
    name: Option<&'a str>,
    on: Option<&'a str>,
    when: Option<&'a str>,
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct CanonicalEscalation<'a> {
    phase: Option<&'a str>,
    after: Option<&'a str>,
    signal: Option<&'a str>,
}

fn s(node: &Option<Node<String>>) -> Option<&str> {
    node.as_ref().map(|n| n.value.as_str())
}

fn list(nodes: &[Node<String>]) -> Vec<&str> {
    nodes.iter().map(|n| n.value.as_str()).collect()
}

impl<'a> Canonical<'a> {
    fn of(def: &'a Definition) -> Self {
        let h = &def.surface;
        let e = &def.execution;
        Canonical {
            format: CANONICAL_FORMAT,
            surface: CanonicalHeader {
                slug: s(&h.slug),
                name: s(&h.name),
                spec: s(&h.spec),
                version: h.version.map(|n| n.value),
                status: h.status.map(|n| n.value),
            },
            execution: CanonicalExecution {
                claim: e.claim.map(|n| n.value),
                ownership: e.ownership.map(|n| n.value),
                record: e.record.map(|n| n.value),
                payment_timing: e.payment_timing.map(|n| n.value),
                completed_visible: e.completed_visible.map(|n| n.value),
                operators: e.operators.map(|n| n.value),
            },
            phases: def
                .phases
                .iter()
                .map(|p| CanonicalPhase {
                    id: s(&p.value.id),
                    label: s(&p.value.label),
                })
                .collect(),
            transitions: def
                .transitions
                .iter()
                .map(|t| CanonicalTransition {
                    from: s(&t.value.from),
                    to: s(&t.value.to),
                    requires: list(&t.value.requires),
                    rule: s(&t.value.rule),
                    approval: t.value.approval.as_ref().map(|a| list(&a.value)),
                })
                .collect(),
            evidence: CanonicalEvidence {
                required_categories: list(&def.evidence.required_categories),
                optional_categories: list(&def.evidence.optional_categories),
                min_per_category: def.evidence.min_per_category.map(|n| n.value),
            },
            intake: CanonicalIntake {
                required: list(&def.intake.required),
                optional: list(&def.intake.optional),
                min_photos: def.intake.min_photos.map(|n| n.value),
                sensitive: list(&def.intake.sensitive),
            },
            rules: def
                .rules
                .iter()
                .map(|r| CanonicalRule {
                    name: s(&r.value.name),
                    on: s(&r.value.on),
                    when: s(&r.value.when),
                    message: s(&r.value.message),
                })
                .collect(),
            escalations: def
                .escalations
                .iter()
                .map(|esc| CanonicalEscalation {
                    phase: s(&esc.value.phase),
                    after: s(&esc.value.after),
                    signal: s(&esc.value.signal),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::toml::parse;

    const SRC: &str = r#"
[surface]
slug = "demo"
name = "Demo"
spec = "surface-runtime-spec-v0.01"
version = 2

[[phase]]
id = "queued"
label = "Queued"
[[phase]]
id = "claimed"
label = "Claimed"
[[phase]]
id = "arrived"
label = "Arrived"
[[phase]]
id = "complete"
label = "Complete"

[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "complete"
requires = ["after"]
rule = "crew_ok"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "complete"

[evidence]
required_categories = ["after"]
optional_categories = ["damage"]
min_per_category = 1

[[rule]]
name = "crew_ok"
on = "transition"
when = "case.evidence.after >= 1"
message = "no after photos"

[[rule]]
name = "night"
on = "advance"
when = "now > 0"
message = "too early"

[[escalation]]
phase = "claimed"
after = "24h"
signal = "claim_stale"
"#;

    fn compiled(src: &str) -> Compiled {
        let (def, diags) = parse(src);
        assert!(diags.is_empty(), "{diags:?}");
        compile(&def).unwrap()
    }

    #[test]
    fn builds_tables_and_indexes() {
        let c = compiled(SRC);
        let s = &c.surface;
        assert!(c.warnings.is_empty());
        assert_eq!(s.key(), "demo@2");
        assert_eq!(s.status(), Status::Active);
        assert_eq!(s.phases().len(), 4);
        assert_eq!(s.phase_id("arrived"), Some(PhaseId(2)));
        let claimed = s.phase_id("claimed").unwrap();
        let targets: Vec<_> = s.transitions_from(claimed).map(|t| t.to).collect();
        assert_eq!(targets, vec![PhaseId(2), PhaseId(3)], "sorted by target");
        let t = s.transition(claimed, PhaseId(3)).unwrap();
        assert_eq!(t.requires, vec![CategoryId(0)]);
        assert_eq!(t.rule, Some(RuleId(0)));
        assert!(s.transition(PhaseId(0), PhaseId(3)).is_none());
        assert_eq!(s.evidence().categories, vec!["after", "damage"]);
        assert_eq!(s.evidence().required_count, 1);
        assert_eq!(s.rules_on(CommandKind::Advance), &[RuleId(1)]);
        assert!(s.rules_on(CommandKind::ClaimJob).is_empty());
        assert_eq!(s.rule(RuleId(0)).unwrap().on, RuleTrigger::Transition);
        assert_eq!(s.escalations()[0].after_ms, 86_400_000);
        assert_eq!(s.graph().node_count(), 4);
        assert_eq!(s.graph().edge_count(), 4);
    }

    #[test]
    fn linear_transitions_are_implicit() {
        let src = SRC.split("[[transition]]").next().unwrap().to_string();
        let c = compiled(&src);
        let s = &c.surface;
        assert_eq!(s.transitions().len(), 3);
        for i in 0..3 {
            assert!(s.transition(PhaseId(i), PhaseId(i + 1)).is_some());
        }
        assert!(s.definition().transitions.is_empty(), "not materialized");
    }

    #[test]
    fn fingerprint_ignores_defaults_written_out() {
        let (plain, _) = parse(SRC);
        let explicit_src = SRC.replace(
            "version = 2\n",
            "version = 2\nstatus = \"active\"\n\n[execution]\nclaim = \"required\"\nownership = \"assigned\"\nrecord = \"service_event\"\npayment_timing = \"independent\"\ncompleted_visible = true\n\n[intake]\nmin_photos = 0\n",
        );
        let (explicit, diags) = parse(&explicit_src);
        assert!(diags.is_empty(), "{diags:?}");
        assert_ne!(plain, explicit);
        assert_eq!(plain.normalized(), explicit.normalized());
        assert_eq!(fingerprint(&plain), fingerprint(&explicit));
        let (other, _) = parse(&SRC.replace("version = 2", "version = 3"));
        assert_ne!(fingerprint(&plain), fingerprint(&other));
    }

    #[test]
    fn errors_come_back_all_together() {
        let (def, _) = parse(
            &SRC.replace(
                "\"claimed\"\nto = \"complete\"",
                "\"claimd\"\nto = \"complete\"",
            )
            .replace("24h", "1 day"),
        );
        let diags = compile(&def).unwrap_err();
        let codes: Vec<_> = diags.iter().map(|d| d.code.as_str()).collect();
        assert!(codes.contains(&"unknown_phase"), "{codes:?}");
        assert!(codes.contains(&"invalid_duration"), "{codes:?}");
    }

    #[test]
    fn normalizing_is_idempotent() {
        let (def, _) = parse(SRC);
        let once = def.normalized();
        assert_eq!(once.normalized(), once);
        assert_eq!(fingerprint(&once), fingerprint(&def));
    }

    #[test]
    fn canonical_json_has_a_fixed_shape() {
        let (def, _) = parse(SRC);
        let json = def.canonical_json();
        assert!(
            json.starts_with("{\"format\":\"planck.surface.v1\",\"surface\":{\"slug\":\"demo\"")
        );
        assert!(!json.contains("span"));
    }
}

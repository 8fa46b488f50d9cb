//! The phase graph: enough phases, transitions that name declared phases, rules and
//! categories, the shape of each transition (never into the first phase, out of the last or
//! back to itself), approvals, and reachability both ways (with petgraph).

use std::collections::HashSet;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed};

use super::{Cx, is_blank, text_of};
use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::policy::Role;
use crate::surface::ast::Span;
use crate::surface::diagnostic::{Code, Diagnostic};

pub(super) fn check_phase_count(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let count = cx.def.phases.len();
    if count >= 3 {
        return;
    }
    let span = cx
        .def
        .phases
        .first()
        .map_or_else(|| cx.header_span(), |p| p.span);
    out.push(
        Diagnostic::error(
            Code::TooFewPhases,
            span,
            format!("the surface has {count} phases; at least 3 are needed"),
        )
        .with_label("not enough phases")
        .with_help(
            "the first phase is the Job waiting to be claimed, the second is entered by \
             claiming it and the last by completing the ServiceEvent",
        ),
    );
}

pub(super) fn check_transition_references(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    for t in &cx.def.transitions {
        let t = &t.value;
        for (key, node) in [("from", &t.from), ("to", &t.to)] {
            let Some(node) = node else { continue };
            if is_blank(node) || cx.phases.contains_key(node.value.as_str()) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    Code::UnknownPhase,
                    node.span,
                    format!("`{key}` names the unknown phase `{}`", node.value),
                )
                .with_label("no such phase")
                .with_help(cx.phase_help(&node.value)),
            );
        }
        if let Some(rule) = &t.rule
            && !is_blank(rule)
            && !cx.rules.contains_key(rule.value.as_str())
        {
            let help = cx.rule_help(&rule.value);
            out.push(
                Diagnostic::error(
                    Code::UnknownRule,
                    rule.span,
                    format!("`rule` names the unknown rule `{}`", rule.value),
                )
                .with_label("no such rule")
                .with_help(help),
            );
        }
        for category in &t.requires {
            if is_blank(category) || cx.categories.contains(category.value.as_str()) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    Code::UnknownCategory,
                    category.span,
                    format!(
                        "`requires` names the undeclared category `{}`",
                        category.value
                    ),
                )
                .with_label("not an evidence category")
                .with_help(
                    "declare it in `[evidence]` under `required_categories` or \
                     `optional_categories`",
                ),
            );
        }
    }
}

pub(super) fn check_transition_shape(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let first = cx.first_phase();
    let last = cx.last_phase();
    for t in &cx.def.transitions {
        let (Some(from), Some(to)) = (&t.value.from, &t.value.to) else {
            continue;
        };
        if from.value == to.value {
            out.push(
                Diagnostic::error(
                    Code::SelfTransition,
                    t.span,
                    format!("the transition from `{}` leads back to itself", from.value),
                )
                .with_label("`from` and `to` are the same phase"),
            );
            continue;
        }
        let second = cx
            .def
            .phases
            .get(1)
            .and_then(|p| p.value.id.as_ref())
            .map(|n| n.value.as_str());
        if Some(from.value.as_str()) == first
            && Some(to.value.as_str()) != second
            && cx.phases.contains_key(to.value.as_str())
        {
            out.push(
                Diagnostic::warning(
                    Code::TransitionFromFirst,
                    to.span,
                    format!(
                        "a transition leads from the first phase `{}` to `{}`, not to the second",
                        from.value, to.value
                    ),
                )
                .with_label("this move can never be made")
                .with_help(format!(
                    "the first phase is left only by claiming the Job, which always enters the \
                     second phase `{}`; start this transition there",
                    second.unwrap_or("")
                )),
            );
        }
        if Some(to.value.as_str()) == first {
            out.push(
                Diagnostic::error(
                    Code::TransitionIntoFirst,
                    to.span,
                    format!("a transition leads into the first phase `{}`", to.value),
                )
                .with_label("the first phase cannot be entered again")
                .with_help(
                    "the first phase is the Job waiting to be claimed; nothing moves back to it",
                ),
            );
        }
        if Some(from.value.as_str()) == last {
            out.push(
                Diagnostic::error(
                    Code::TransitionOutOfLast,
                    from.span,
                    format!("a transition leaves the last phase `{}`", from.value),
                )
                .with_label("the last phase cannot be left")
                .with_help("the last phase is entered by completing the ServiceEvent and is final"),
            );
        }
    }
}

/// A transition's `approval`: a non-empty list of roles that may write (never `observer`),
/// each once, and never on the claim (first → second phase), which no one can hold back.
pub(super) fn check_approvals(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let first = cx.first_phase();
    let second = cx
        .def
        .phases
        .get(1)
        .and_then(|p| p.value.id.as_ref())
        .map(|n| n.value.as_str());
    let writers: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| **r != Role::Observer)
        .map(|r| r.as_str())
        .collect();
    for t in &cx.def.transitions {
        let Some(approval) = &t.value.approval else {
            continue;
        };
        if approval.value.is_empty() {
            out.push(
                Diagnostic::error(
                    Code::InvalidApproval,
                    approval.span,
                    "`approval` names no role",
                )
                .with_label("an empty list")
                .with_help(format!(
                    "name the roles that may approve the move ({}), or leave `approval` out",
                    list_in_backticks(&writers)
                )),
            );
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for name in &approval.value {
            if is_blank(name) {
                continue;
            }
            match Role::parse(&name.value) {
                Some(Role::Observer) => out.push(
                    Diagnostic::error(
                        Code::InvalidApproval,
                        name.span,
                        "`observer` cannot approve a move: observers never write",
                    )
                    .with_label("never writes")
                    .with_help(format!(
                        "the roles that may approve are {}",
                        list_in_backticks(&writers)
                    )),
                ),
                Some(_) => {
                    if !seen.insert(name.value.as_str()) {
                        out.push(
                            Diagnostic::error(
                                Code::DuplicateName,
                                name.span,
                                format!("role `{}` is listed twice in `approval`", name.value),
                            )
                            .with_label("listed before"),
                        );
                    }
                }
                None => {
                    let help = match closest(&name.value, &writers) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "the roles that may approve are {}",
                            list_in_backticks(&writers)
                        ),
                    };
                    out.push(
                        Diagnostic::error(
                            Code::InvalidApproval,
                            name.span,
                            format!("`{}` is not a role", name.value),
                        )
                        .with_label("not a role")
                        .with_help(help),
                    );
                }
            }
        }
        let (from, to) = (text_of(&t.value.from), text_of(&t.value.to));
        if from.is_some() && from == first && to == second {
            out.push(
                Diagnostic::error(
                    Code::InvalidApproval,
                    approval.span,
                    "the claim cannot wait for an approval",
                )
                .with_label("on the move from the first phase to the second")
                .with_help(
                    "claiming the Job is this move: approve the task before the job is created, \
                     or put `approval` on a later move",
                ),
            );
        }
    }
}

/// Which phases can be reached from the first, and which can reach the last, over `edges`
/// (phase indices).
fn reach(count: usize, edges: &[(usize, usize)]) -> (Vec<bool>, Vec<bool>) {
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(count, edges.len());
    let nodes: Vec<NodeIndex> = (0..count).map(|_| graph.add_node(())).collect();
    for (a, b) in edges {
        if let (Some(a), Some(b)) = (nodes.get(*a), nodes.get(*b)) {
            graph.add_edge(*a, *b, ());
        }
    }
    let mut forward = vec![false; count];
    let mut backward = vec![false; count];
    let (Some(first), Some(last)) = (nodes.first().copied(), nodes.last().copied()) else {
        return (forward, backward);
    };
    let mut bfs = Bfs::new(&graph, first);
    while let Some(n) = bfs.next(&graph) {
        if let Some(slot) = forward.get_mut(n.index()) {
            *slot = true;
        }
    }
    let reversed = Reversed(&graph);
    let mut bfs = Bfs::new(reversed, last);
    while let Some(n) = bfs.next(reversed) {
        if let Some(slot) = backward.get_mut(n.index()) {
            *slot = true;
        }
    }
    (forward, backward)
}

/// Reachability both ways. Root causes first: a transition that names an unknown phase is
/// already an `unknown_phase` error, and the phases it was meant to connect are not reported
/// again. Reachability is computed twice, over the declared edges and over the edges as they
/// could be once the unknown names are fixed (an unknown `to` could lead to any phase, an
/// unknown `from` could come from any); only a phase unreachable (or a dead end) either way is
/// an error, and the `unknown_phase` diagnostic names the phases it cuts off.
pub(super) fn check_reachability(cx: &Cx<'_>, out: &mut Vec<Diagnostic>) {
    let def = cx.def;
    // With a repeated or missing phase id the graph is ill-defined; that is reported already.
    let count = def.phases.len();
    if count < 2 || cx.phases.len() != count {
        return;
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut generous: Vec<(usize, usize)> = Vec::new();
    // Each transition naming an unknown phase, with the span of the unknown name.
    let mut broken: Vec<Span> = Vec::new();
    if def.transitions.is_empty() {
        edges.extend((1..count).map(|i| (i - 1, i)));
    } else {
        // The claim edge is implied by the phase roles (docs/commands.md): it counts whether or
        // not it is written.
        edges.push((0, 1));
        for t in &def.transitions {
            let (Some(from), Some(to)) = (&t.value.from, &t.value.to) else {
                continue;
            };
            let a = cx.phases.get(from.value.as_str()).copied();
            let b = cx.phases.get(to.value.as_str()).copied();
            match (a, b) {
                (Some(a), Some(b)) => edges.push((a, b)),
                (Some(a), None) => {
                    broken.push(to.span);
                    generous.extend((1..count).map(|b| (a, b)));
                }
                (None, Some(b)) => {
                    broken.push(from.span);
                    generous.extend((0..count - 1).map(|a| (a, b)));
                }
                (None, None) => {}
            }
        }
    }
    let (forward, backward) = reach(count, &edges);
    let (maybe_forward, maybe_backward) = if generous.is_empty() {
        (forward.clone(), backward.clone())
    } else {
        generous.extend(edges.iter().copied());
        reach(count, &generous)
    };
    let last_id = cx.last_phase().unwrap_or("");
    let mut cut_off: Vec<&str> = Vec::new();
    for (i, phase) in def.phases.iter().enumerate() {
        let Some(id) = &phase.value.id else { continue };
        let at = |v: &[bool]| v.get(i).copied().unwrap_or(true);
        if !at(&forward) && !at(&maybe_forward) {
            out.push(
                Diagnostic::error(
                    Code::UnreachablePhase,
                    id.span,
                    format!(
                        "phase `{}` cannot be reached from the first phase",
                        id.value
                    ),
                )
                .with_label("no transitions lead here")
                .with_help("add a `[[transition]]` into this phase, or remove it"),
            );
        }
        if !at(&backward) && !at(&maybe_backward) {
            out.push(
                Diagnostic::error(
                    Code::DeadEndPhase,
                    id.span,
                    format!(
                        "the last phase `{last_id}` cannot be reached from phase `{}`",
                        id.value
                    ),
                )
                .with_label("work that enters this phase can never complete")
                .with_help("add a `[[transition]]` out of this phase toward the last one"),
            );
        }
        if (!at(&forward) && at(&maybe_forward)) || (!at(&backward) && at(&maybe_backward)) {
            cut_off.push(id.value.as_str());
        }
    }
    if cut_off.is_empty() {
        return;
    }
    // Say on the cause what it cuts off.
    let consequence = format!(
        "until it names a declared phase, {} cannot be reached or cannot complete",
        list_in_backticks(&cut_off)
    );
    for d in out.iter_mut() {
        if d.code == Code::UnknownPhase && broken.contains(&d.span) {
            d.help = Some(match d.help.take() {
                Some(help) => format!("{help} ({consequence})"),
                None => consequence.clone(),
            });
        }
    }
}

//! `planck explore`: every abstract state one case of one surface can reach, walked with the
//! real spine (docs/authoring.md).
//!
//! The walk starts from an empty case and tries, in every state, every representative
//! principal ([`generate::PRINCIPALS`]) with every candidate command ([`generate::candidates`]:
//! each command with representative arguments, one exhaustive `match` over the commands).
//! Each try goes through [`crate::spine::decide`]: rules are evaluated, not assumed. An
//! applied command is folded with [`crate::spine::evolve`] into the next case; a refused one
//! records its rejection code. States are told apart by an abstract [`key::Key`] (layers,
//! phase, evidence counts capped at what the contract and the rules read, ownership, the
//! settlement where it matters; no ids, no times), breadth first, so the first path found to
//! anything is a shortest one.
//!
//! What the walk leaves out, on purpose: time (every command is judged at the scenario
//! clock's default start, so escalations never fall due and `now` is one value), principal ids
//! other than the representative ones, and evidence counts above the caps. The walk is
//! bounded by [`Limits`] and says when a bound was hit.
//!
//! [`report`] prints the result (text or JSON); [`emit`] writes it as a scenario file that
//! takes every transition reached and meets every rejection reached. Nothing here does I/O.

pub mod emit;
pub mod generate;
pub mod key;
pub mod report;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

use crate::policy;
use crate::scenario::DEFAULT_START_MS;
use crate::spine::{Case, CommandKind, JobState, RejectionCode, ServiceEventState, decide, evolve};
use crate::surface::ast::PaymentTiming;
use crate::surface::{PhaseId, Surface};

use generate::{Candidate, Hints, PRINCIPALS, candidates};
use key::{Abstraction, Key};

/// The bounds of a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// States kept at most; past it new states are not explored.
    pub max_states: usize,
    /// Commands applied from the empty case at most; deeper states are not explored.
    pub max_depth: usize,
}

impl Limits {
    /// 50,000 states and 200 commands deep: far above every surface shipped (a few thousand
    /// states, 20 to 30 commands deep).
    pub const DEFAULT: Limits = Limits {
        max_states: 50_000,
        max_depth: 200,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which bound stopped the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// [`Limits::max_states`].
    States,
    /// [`Limits::max_depth`].
    Depth,
}

/// One command of a path: who sent it, which command, with which arguments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// The principal's key in [`generate::PRINCIPALS`] (`client`, `lee`, ...).
    pub actor: &'static str,
    /// The command.
    pub command: CommandKind,
    /// Its arguments, as a scenario writes them.
    pub args: Value,
}

/// A phase and the shortest path that reaches it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseReach {
    /// The phase id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// The commands from the empty case to the first state in this phase (the first phase is
    /// the Job waiting, the others the ServiceEvent's); `None` when it is never reached.
    pub path: Option<Vec<Step>>,
}

/// A transition of the surface and whether the walk took it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionReach {
    /// From this phase.
    pub from: String,
    /// To this one.
    pub to: String,
    /// Implied rather than written (the claim edge, or the linear chain).
    pub implicit: bool,
    /// A shortest path whose last command makes this move; `None` when it is never taken.
    pub path: Option<Vec<Step>>,
}

/// A rejection code met, by which commands, and a shortest path to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RejectionReach {
    /// The code.
    pub code: RejectionCode,
    /// Every command refused with it somewhere in the walk.
    pub commands: Vec<CommandKind>,
    /// A shortest path whose last command is refused with it.
    pub path: Vec<Step>,
}

/// What a walk found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exploration {
    /// `slug@version`.
    pub surface: String,
    /// The bounds it ran under.
    pub limits: Limits,
    /// Which bound was hit, if any (then the figures below are a lower bound).
    pub bound_hit: Option<Bound>,
    /// Distinct abstract states reached.
    pub states: usize,
    /// Commands applied (edges of the state graph, repeats included).
    pub moves: usize,
    /// Commands tried (`decide` calls).
    pub tries: usize,
    /// The deepest state, in commands from the empty case.
    pub depth: usize,
    /// Every phase, in lifecycle order, with its shortest path.
    pub phases: Vec<PhaseReach>,
    /// Every transition of the compiled surface, taken or not.
    pub transitions: Vec<TransitionReach>,
    /// Phases reached from which the last phase can never be reached, given the rules.
    pub cannot_complete: Vec<String>,
    /// Every rejection code met, in the order of docs/commands.md.
    pub rejections: Vec<RejectionReach>,
}

impl Exploration {
    /// The transitions never taken.
    pub fn never_taken(&self) -> impl Iterator<Item = &TransitionReach> {
        self.transitions.iter().filter(|t| t.path.is_none())
    }
}

/// The time every explored command is judged at: a scenario's default start.
pub const NOW: i64 = DEFAULT_START_MS;

/// One state of the walk.
struct Node {
    case: Case,
    /// The state it was first reached from, and the command that led here.
    parent: Option<(usize, Step)>,
    depth: usize,
}

/// Walk every state a case of `surface` can reach, within `limits`.
pub fn explore(surface: &Surface, limits: Limits) -> Exploration {
    let hints = Hints::of(surface);
    let abstraction = abstraction(surface, &hints);
    let tries_list = candidates(surface, &hints);
    let principals: Vec<_> = PRINCIPALS.iter().map(|p| p.principal()).collect();
    let catalog = generate::catalog(surface);

    let mut nodes = vec![Node {
        case: Case::new(generate::CASE),
        parent: None,
        depth: 0,
    }];
    let mut seen: HashMap<Key, usize> = HashMap::new();
    seen.insert(abstraction.key(surface, &Case::new(generate::CASE)), 0);
    let mut queue = VecDeque::from([0_usize]);
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut rejections: BTreeMap<RejectionCode, (BTreeSet<CommandKind>, (usize, Step))> =
        BTreeMap::new();
    let mut taken: HashMap<(PhaseId, PhaseId), (usize, Step)> = HashMap::new();
    let mut bound_hit = None;
    let mut tries = 0_usize;

    // The role gate does not depend on the case: a principal without a role that may send a
    // command is tried once, on the empty case.
    for (p, principal) in principals.iter().enumerate() {
        let mut tried = BTreeSet::new();
        for cand in &tries_list {
            if policy::may_send(principal, cand.kind) || !tried.insert(cand.kind) {
                continue;
            }
            tries += 1;
            if let Err(r) = decide(
                &Case::new(generate::CASE),
                &catalog,
                principal,
                &cand.command,
                NOW,
            ) {
                note(&mut rejections, r.code, cand, step(p, cand), 0);
            }
        }
    }

    while let Some(i) = queue.pop_front() {
        let Some(node) = nodes.get(i) else { continue };
        let case = node.case.clone();
        let depth = node.depth;
        let from_phase = phase_of(surface, &case);
        for (p, principal) in principals.iter().enumerate() {
            for cand in &tries_list {
                if !policy::may_send(principal, cand.kind) {
                    continue;
                }
                tries += 1;
                let events = match decide(&case, &catalog, principal, &cand.command, NOW) {
                    Ok(events) => events,
                    Err(r) => {
                        note(&mut rejections, r.code, cand, step(p, cand), i);
                        continue;
                    }
                };
                let next = events.iter().fold(case.clone(), evolve);
                if let (Some(a), Some(b)) = (from_phase, phase_of(surface, &next))
                    && a != b
                {
                    taken.entry((a, b)).or_insert_with(|| (i, step(p, cand)));
                }
                let key = abstraction.key(surface, &next);
                if let Some(&j) = seen.get(&key) {
                    edges.push((i, j));
                    continue;
                }
                if depth + 1 > limits.max_depth {
                    bound_hit.get_or_insert(Bound::Depth);
                    continue;
                }
                if nodes.len() >= limits.max_states {
                    bound_hit = Some(Bound::States);
                    continue;
                }
                let j = nodes.len();
                seen.insert(key, j);
                edges.push((i, j));
                nodes.push(Node {
                    case: next,
                    parent: Some((i, step(p, cand))),
                    depth: depth + 1,
                });
                queue.push_back(j);
            }
        }
    }

    let path_to = |i: usize| path(&nodes, i);
    let phases = surface
        .phases()
        .iter()
        .enumerate()
        .map(|(n, info)| {
            let id = PhaseId(u32::try_from(n).unwrap_or(u32::MAX));
            let first = nodes
                .iter()
                .position(|node| phase_of(surface, &node.case) == Some(id));
            PhaseReach {
                id: info.id.clone(),
                label: info.label.clone(),
                path: first.map(path_to),
            }
        })
        .collect();
    let transitions = surface
        .transitions()
        .iter()
        .map(|t| TransitionReach {
            from: surface.phase_name(t.from).to_string(),
            to: surface.phase_name(t.to).to_string(),
            implicit: t.implicit,
            path: taken.get(&(t.from, t.to)).map(|(i, last)| {
                let mut steps = path_to(*i);
                steps.push(last.clone());
                steps
            }),
        })
        .collect();
    let rejections = rejections
        .into_iter()
        .map(|(code, (commands, (i, last)))| {
            let mut steps = path_to(i);
            steps.push(last);
            RejectionReach {
                code,
                commands: commands.into_iter().collect(),
                path: steps,
            }
        })
        .collect();
    Exploration {
        surface: surface.key(),
        limits,
        bound_hit,
        states: nodes.len(),
        moves: edges.len(),
        tries,
        depth: nodes.iter().map(|n| n.depth).max().unwrap_or(0),
        phases,
        cannot_complete: cannot_complete(surface, &nodes, &edges),
        transitions,
        rejections,
    }
}

/// The caps and whether the settlement matters, from the surface and its rules.
fn abstraction(surface: &Surface, hints: &Hints) -> Abstraction {
    let evidence = surface.evidence();
    let caps = evidence
        .categories
        .iter()
        .map(|c| {
            let needed_by_contract = evidence.min_per_category;
            let needed_by_rules = hints.max_int(&["case", "evidence", c]).map_or(0, |n| {
                u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX)
            });
            needed_by_contract.max(needed_by_rules).saturating_add(1)
        })
        .collect();
    let prepaid = surface.execution().payment_timing == PaymentTiming::Prepaid;
    let read = surface
        .rules()
        .iter()
        .any(|r| r.guard.reads().case.reads("settlement"));
    Abstraction {
        caps,
        settlement: prepaid || read,
    }
}

fn step(p: usize, cand: &Candidate) -> Step {
    Step {
        actor: PRINCIPALS.get(p).map_or("", |r| r.key),
        command: cand.kind,
        args: cand.args.clone(),
    }
}

/// Record a rejection: the first (so shortest) witness of each code, and every command.
fn note(
    rejections: &mut BTreeMap<RejectionCode, (BTreeSet<CommandKind>, (usize, Step))>,
    code: RejectionCode,
    cand: &Candidate,
    step: Step,
    at: usize,
) {
    rejections
        .entry(code)
        .or_insert_with(|| (BTreeSet::new(), (at, step)))
        .0
        .insert(cand.kind);
}

/// The phase a case is in: the ServiceEvent's, or the first phase while the Job waits.
fn phase_of(surface: &Surface, case: &Case) -> Option<PhaseId> {
    match (&case.service_event, case.job_state()) {
        (Some(se), _) => surface.phase_id(&se.phase),
        (None, Some(JobState::Queued)) => Some(surface.first_phase()),
        _ => None,
    }
}

/// The commands from the empty case to node `i`.
fn path(nodes: &[Node], mut i: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    while let Some((parent, step)) = nodes.get(i).and_then(|n| n.parent.as_ref()) {
        steps.push(step.clone());
        i = *parent;
    }
    steps.reverse();
    steps
}

/// Phases reached none of whose states can reach a complete ServiceEvent.
fn cannot_complete(surface: &Surface, nodes: &[Node], edges: &[(usize, usize)]) -> Vec<String> {
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (a, b) in edges {
        if let Some(list) = incoming.get_mut(*b) {
            list.push(*a);
        }
    }
    let mut can = vec![false; nodes.len()];
    let mut stack: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.case.service_event_state() == Some(ServiceEventState::Complete))
        .map(|(i, _)| i)
        .collect();
    while let Some(i) = stack.pop() {
        match can.get_mut(i) {
            Some(flag) if !*flag => *flag = true,
            _ => continue,
        }
        stack.extend(incoming.get(i).into_iter().flatten().copied());
    }
    let mut reached: BTreeMap<PhaseId, bool> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if let Some(phase) = phase_of(surface, &node.case) {
            let ok = reached.entry(phase).or_insert(false);
            *ok |= can.get(i).copied().unwrap_or(false);
        }
    }
    reached
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(phase, _)| surface.phase_name(phase).to_string())
        .collect()
}

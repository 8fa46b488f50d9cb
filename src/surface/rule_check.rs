//! Static checks of a rule's `when` against what the surface declares.
//!
//! A guard that reads something the surface never has is silently false at run time: Rhai
//! reads a missing map key as `()`, and `() >= 1` is an error or `false`, so the user sees the
//! rule's message for a reason that has nothing to do with it. This module reads the guard's
//! syntax tree (parsed without the optimizer, so literals and positions are as written) and
//! finds, before anything runs:
//!
//! - members the scope does not have: `case.X`, `actor.X`, `command.X` (which depends on the
//!   commands the rule is judged with) and any member of `now` (`unknown_member`);
//! - `case.intake.X` where `X` is not a declared intake field (`unknown_intake_field`), and
//!   `case.evidence.X` where `X` is not a declared category (`unknown_category`), whether read
//!   as a property, an index (`case.intake["X"]`), with `in` or with `contains`;
//! - a literal compared with a value that can never equal it: `case.phase == "diagnosd"`
//!   (`unknown_phase`), `case.job == "claimd"`, `"admn" in actor.roles`
//!   (`unknown_value`);
//! - obvious type mismatches: a count, `now` or an amount compared with a text or a boolean,
//!   a text compared with a number, a map or a list compared with a literal (`type_mismatch`).
//!
//! The scope's members are tables ([`CASE_MEMBERS`], [`ACTOR_MEMBERS`], [`command_args`]), so
//! a member added to the scope is one line here. Each finding carries a byte range inside the
//! `when` text; the validator maps it into the file. Nothing here evaluates a guard, reads a
//! file or panics.

use std::ops::Range;

use rhai::{ASTFlags, ASTNode, Expr, FnCallExpr, Position};

use crate::policy::Role;
use crate::spine::CommandKind;
use crate::spine::case::{JobState, ServiceEventState, SettlementStatus, TaskState};
use crate::spine::operator::OperatorStatus;
use crate::surface::diagnostic::{Code, Severity};
use crate::surface::rules::parse_for_analysis;
use crate::surface::toml::{closest, list_in_backticks};

/// What a rule's `when` is checked against: the surface's names and the commands the rule is
/// judged with.
#[derive(Clone, Debug, Default)]
pub struct Declared<'a> {
    /// Every phase id, in lifecycle order.
    pub phases: Vec<&'a str>,
    /// Every evidence category (required and optional).
    pub categories: Vec<&'a str>,
    /// Every intake field (required and optional).
    pub intake: Vec<&'a str>,
    /// The commands the rule may be judged with. Empty when it never runs (a transition rule
    /// no transition names); `command` is then not checked.
    pub commands: Vec<CommandKind>,
}

/// One problem in a `when`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The stable code.
    pub code: Code,
    /// Error, or warning when the guard may still work as meant.
    pub severity: Severity,
    /// Byte range inside the `when` text.
    pub range: Range<usize>,
    /// What is wrong (lowercase, no trailing period).
    pub message: String,
    /// A short label under the range.
    pub label: String,
    /// What to do ("did you mean `urgency`?").
    pub help: Option<String>,
}

/// The type of a value in a guard's scope, as far as a static reading can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A text (or `()` where the value is optional), with the values it can hold.
    Text(Domain),
    /// An evidence count.
    Count,
    /// `now`: unix milliseconds.
    Time,
    /// An amount in minor units.
    Amount,
    /// A number written in the guard.
    Number,
    /// A boolean.
    Bool,
    /// A list of texts.
    List(Domain),
    /// A map with known members.
    Map(MapKind),
    /// `()`, written in the guard.
    Unit,
    /// Anything (intake values, attributes, the result of a method).
    Any,
}

/// The values a text can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Any text.
    Free,
    /// A phase id of the surface.
    Phase,
    /// An evidence category of the surface.
    Category,
    /// A Task state.
    Task,
    /// A Job state.
    Job,
    /// A ServiceEvent state.
    ServiceEvent,
    /// A settlement status.
    Settlement,
    /// A role.
    Role,
    /// The name of a command the rule is judged with.
    Command,
    /// An operator profile's status.
    OperatorStatus,
}

/// The maps of the scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `case`.
    Case,
    /// `actor`.
    Actor,
    /// `command`.
    Command,
    /// `case.evidence`: every declared category's count.
    Evidence,
    /// `case.intake` (and `command.intake`): the declared intake fields.
    Intake,
    /// `actor.profile`: the principal's operator profile (`()` when there is none).
    Profile,
}

/// The members of `case` (docs/commands.md and what `spine::guard` builds), with their types.
pub const CASE_MEMBERS: &[(&str, Ty)] = &[
    ("id", Ty::Text(Domain::Free)),
    ("phase", Ty::Text(Domain::Phase)),
    ("evidence", Ty::Map(MapKind::Evidence)),
    ("intake", Ty::Map(MapKind::Intake)),
    ("assignee", Ty::Text(Domain::Free)),
    ("owner", Ty::Text(Domain::Free)),
    ("task", Ty::Text(Domain::Task)),
    ("job", Ty::Text(Domain::Job)),
    ("service_event", Ty::Text(Domain::ServiceEvent)),
    ("settlement", Ty::Text(Domain::Settlement)),
    ("pending_approval", Ty::Text(Domain::Phase)),
];

/// The members of `actor`, with their types.
pub const ACTOR_MEMBERS: &[(&str, Ty)] = &[
    ("id", Ty::Text(Domain::Free)),
    ("roles", Ty::List(Domain::Role)),
    ("profile", Ty::Map(MapKind::Profile)),
];

/// The members of `actor.profile` (when the principal has an operator profile), with their
/// types.
pub const PROFILE_MEMBERS: &[(&str, Ty)] = &[
    ("status", Ty::Text(Domain::OperatorStatus)),
    ("surfaces", Ty::List(Domain::Free)),
    ("attributes", Ty::Any),
];

/// The arguments of `kind` as a rule sees them in `command` (beside `name`), with their
/// types. Exhaustive: a new command does not compile until it says what its rules can read.
pub fn command_args(kind: CommandKind) -> &'static [(&'static str, Ty)] {
    use CommandKind as K;
    match kind {
        K::SubmitRequest => &[
            ("surface", Ty::Text(Domain::Free)),
            ("intake", Ty::Map(MapKind::Intake)),
            ("photos", Ty::List(Domain::Free)),
            ("routing_origin", Ty::Text(Domain::Free)),
        ],
        K::ApproveTask
        | K::CloseTask
        | K::CreateJob
        | K::ClaimJob
        | K::CompleteJob
        | K::ApproveTransition => &[],
        K::RejectTask | K::CancelJob | K::ReleaseJob | K::RejectTransition => {
            &[("reason", Ty::Text(Domain::Free))]
        }
        K::ReassignJob => &[
            ("operator", Ty::Text(Domain::Free)),
            ("reason", Ty::Text(Domain::Free)),
        ],
        // The directory commands address an operator: no rule runs with them (the validator
        // refuses them as triggers), so their rules read nothing.
        K::RegisterOperator => &[
            ("operator", Ty::Text(Domain::Free)),
            ("name", Ty::Text(Domain::Free)),
            ("surfaces", Ty::List(Domain::Free)),
            ("attributes", Ty::Any),
        ],
        K::UpdateOperator => &[
            ("operator", Ty::Text(Domain::Free)),
            ("surfaces", Ty::List(Domain::Free)),
            ("attributes", Ty::Any),
        ],
        K::SuspendOperator => &[
            ("operator", Ty::Text(Domain::Free)),
            ("reason", Ty::Text(Domain::Free)),
        ],
        K::ReinstateOperator => &[("operator", Ty::Text(Domain::Free))],
        K::AssignTask => &[("operator", Ty::Text(Domain::Free))],
        K::AnnotateTask => &[("note", Ty::Text(Domain::Free))],
        K::Advance => &[("to", Ty::Text(Domain::Phase))],
        K::AttachEvidence => &[
            ("category", Ty::Text(Domain::Category)),
            ("ref", Ty::Text(Domain::Free)),
        ],
        K::CompleteServiceEvent => &[("outcome", Ty::Text(Domain::Free))],
        K::RecordSettlement => &[
            ("status", Ty::Text(Domain::Settlement)),
            ("amount_minor", Ty::Amount),
            ("currency", Ty::Text(Domain::Free)),
        ],
        K::MigrateCase => &[("to_version", Ty::Number)],
    }
}

/// Check `source` (a rule's `when`) against `declared`. A `when` that does not compile gets
/// no findings here (the compiler reports it).
pub fn check(source: &str, declared: &Declared<'_>) -> Vec<Finding> {
    let Some(ast) = parse_for_analysis(source) else {
        return Vec::new();
    };
    let mut checker = Checker {
        source,
        declared,
        findings: Vec::new(),
    };
    ast.walk(&mut |path: &[ASTNode]| {
        let Some((ASTNode::Expr(expr), parents)) = path.split_last() else {
            return true;
        };
        match expr {
            Expr::Variable(..) => {
                if let Some(ASTNode::Expr(parent @ (Expr::Dot(bin, ..) | Expr::Index(bin, ..)))) =
                    parents.last()
                    && std::ptr::eq(&bin.lhs, *expr)
                {
                    checker.chain(parent);
                }
            }
            Expr::FnCall(call, pos) => checker.call(call, *pos),
            _ => {}
        }
        true
    });
    let mut findings = checker.findings;
    findings.sort_by_key(|f| (f.range.start, f.range.end));
    findings.dedup();
    findings
}

/// A literal a rule compares some value with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Literal {
    /// A text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// Every literal `source` compares a scope value with, as `(path, literal)`: the path is the
/// chain of names from the root (`["case", "intake", "urgency"]`). Read from comparisons
/// (`case.evidence.arrival >= 2`, either side), `x in [..]` with `x` a chain, and
/// `contains`. What the explorer builds representative arguments and caps counts from.
pub fn compared_literals(source: &str) -> Vec<(Vec<String>, Literal)> {
    let Some(ast) = parse_for_analysis(source) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Expr(Expr::FnCall(call, _))) = path.last() else {
            return true;
        };
        let name = call.name.as_str();
        let compare = matches!(name, "==" | "!=" | "<" | "<=" | ">" | ">=");
        match call.args.as_slice() {
            [a, b] if compare => {
                for (chain, other) in [(a, b), (b, a)] {
                    if let (Some(names), Some(lit)) = (chain_names(chain), literal_of(other)) {
                        found.push((names, lit));
                    }
                }
            }
            [container, item] if name == "contains" => {
                if let (Expr::Array(items, _), Some(names)) = (container, chain_names(item)) {
                    for lit in items.iter().filter_map(literal_of) {
                        found.push((names.clone(), lit));
                    }
                }
            }
            _ => {}
        }
        true
    });
    found.sort();
    found.dedup();
    found
}

/// `["case", "intake", "x"]` for a chain of plain names (properties or text keys).
fn chain_names(expr: &Expr) -> Option<Vec<String>> {
    let (root, _, segs) = flatten(expr)?;
    let mut names = vec![root.to_string()];
    for seg in segs {
        match seg {
            Seg::Prop(name, _) => names.push(name.to_string()),
            Seg::Key(Expr::StringConstant(name, _)) => names.push(name.to_string()),
            _ => return None,
        }
    }
    Some(names)
}

fn literal_of(expr: &Expr) -> Option<Literal> {
    match expr {
        Expr::StringConstant(s, _) => Some(Literal::Text(s.to_string())),
        Expr::IntegerConstant(i, _) => Some(Literal::Int(*i)),
        Expr::BoolConstant(b, _) => Some(Literal::Bool(*b)),
        _ => None,
    }
}

/// One segment of a member chain after its root variable.
enum Seg<'e> {
    /// `.name`
    Prop(&'e str, Position),
    /// `[expr]`
    Key(&'e Expr),
    /// `.method(args)`
    Method(&'e FnCallExpr),
}

/// `root.seg.seg…`, when `expr` is a chain rooted at a variable.
fn flatten(expr: &Expr) -> Option<(&str, Position, Vec<Seg<'_>>)> {
    match expr {
        Expr::Variable(var, _, pos) => Some((var.1.as_str(), *pos, Vec::new())),
        Expr::Dot(bin, ..) => {
            let (root, pos, mut segs) = flatten(&bin.lhs)?;
            rest(&bin.rhs, &mut segs)?;
            Some((root, pos, segs))
        }
        Expr::Index(bin, flags, _) => {
            let (root, pos, mut segs) = flatten(&bin.lhs)?;
            index_rest(&bin.rhs, *flags, &mut segs)?;
            Some((root, pos, segs))
        }
        _ => None,
    }
}

fn rest<'e>(expr: &'e Expr, segs: &mut Vec<Seg<'e>>) -> Option<()> {
    match expr {
        Expr::Property(prop, pos) => segs.push(Seg::Prop(prop.2.as_str(), *pos)),
        Expr::MethodCall(call, _) => segs.push(Seg::Method(call)),
        Expr::Dot(bin, ..) => {
            rest(&bin.lhs, segs)?;
            rest(&bin.rhs, segs)?;
        }
        Expr::Index(bin, flags, _) => {
            rest(&bin.lhs, segs)?;
            index_rest(&bin.rhs, *flags, segs)?;
        }
        _ => return None,
    }
    Some(())
}

/// The right side of an index: the key alone (`BREAK`), or the key followed by the rest of
/// the chain.
fn index_rest<'e>(rhs: &'e Expr, flags: ASTFlags, segs: &mut Vec<Seg<'e>>) -> Option<()> {
    if flags.contains(ASTFlags::BREAK) {
        segs.push(Seg::Key(rhs));
        return Some(());
    }
    match rhs {
        Expr::Dot(bin, ..) => {
            segs.push(Seg::Key(&bin.lhs));
            rest(&bin.rhs, segs)
        }
        Expr::Index(bin, flags, _) => {
            segs.push(Seg::Key(&bin.lhs));
            index_rest(&bin.rhs, *flags, segs)
        }
        _ => None,
    }
}

/// How a member lookup went.
enum Lookup {
    /// The member exists.
    Found(Ty),
    /// It exists for some of the commands the rule runs with, not for these.
    Partial(Ty, Vec<CommandKind>),
    /// It does not exist.
    Missing,
}

/// Broad classes of values, for type mismatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Text,
    Number,
    Bool,
    List,
    Map,
    Loose,
}

fn class(ty: Ty) -> Class {
    match ty {
        Ty::Text(_) => Class::Text,
        Ty::Count | Ty::Time | Ty::Amount | Ty::Number => Class::Number,
        Ty::Bool => Class::Bool,
        Ty::List(_) => Class::List,
        Ty::Map(_) => Class::Map,
        Ty::Unit | Ty::Any => Class::Loose,
    }
}

/// "a count", "a phase id", ... for messages.
fn describe(ty: Ty) -> &'static str {
    match ty {
        Ty::Text(Domain::Phase) => "a phase id",
        Ty::Text(Domain::Category) => "an evidence category",
        Ty::Text(Domain::Command) => "a command name",
        Ty::Text(Domain::Role) => "a role",
        Ty::Text(
            Domain::Task
            | Domain::Job
            | Domain::ServiceEvent
            | Domain::Settlement
            | Domain::OperatorStatus,
        ) => "a state name",
        Ty::Text(Domain::Free) => "a text",
        Ty::Count => "a count",
        Ty::Time => "a time in unix milliseconds",
        Ty::Amount => "an amount in minor units",
        Ty::Number => "a number",
        Ty::Bool => "a boolean",
        Ty::List(_) => "a list",
        Ty::Map(MapKind::Evidence) => "a map of evidence counts",
        Ty::Map(MapKind::Intake) => "the intake map",
        Ty::Map(_) => "a map",
        Ty::Unit => "`()`",
        Ty::Any => "a value",
    }
}

struct Checker<'s, 'd> {
    source: &'s str,
    declared: &'d Declared<'d>,
    findings: Vec<Finding>,
}

impl Checker<'_, '_> {
    fn push(
        &mut self,
        code: Code,
        severity: Severity,
        range: Range<usize>,
        message: String,
        label: &str,
        help: Option<String>,
    ) {
        self.findings.push(Finding {
            code,
            severity,
            range,
            message,
            label: label.to_string(),
            help,
        });
    }

    /// Check every member of the chain at `expr`, reporting the first that does not exist.
    fn chain(&mut self, expr: &Expr) {
        if let Some((root, pos, segs)) = flatten(expr) {
            self.resolve(root, pos, &segs, true);
        }
    }

    /// The type at the end of a chain; `None` when a member does not exist (reported when
    /// `report`) or the chain cannot be read statically.
    fn resolve(&mut self, root: &str, pos: Position, segs: &[Seg<'_>], report: bool) -> Option<Ty> {
        let mut ty = match root {
            "case" => Ty::Map(MapKind::Case),
            "actor" => Ty::Map(MapKind::Actor),
            "command" => Ty::Map(MapKind::Command),
            "now" => Ty::Time,
            _ => return None,
        };
        let start = self.offset(pos)?;
        let mut path_end = token_end(self.source, start);
        for seg in segs {
            let path = self.source.get(start..path_end).unwrap_or(root).to_string();
            match seg {
                Seg::Prop(name, pos) => {
                    let range = self.token(*pos)?;
                    path_end = range.end;
                    ty = self.member(ty, &path, name, range, report)?;
                }
                Seg::Key(Expr::StringConstant(name, pos)) => {
                    let range = self.token(*pos)?;
                    path_end = self.after_close(range.end, ']');
                    ty = self.member(ty, &path, name, range, report)?;
                }
                Seg::Key(key) => {
                    path_end = self
                        .expr_end(key)
                        .map_or(path_end, |e| self.after_close(e, ']'));
                    ty = match ty {
                        Ty::Map(MapKind::Evidence) => Ty::Count,
                        Ty::List(domain) => Ty::Text(domain),
                        _ => Ty::Any,
                    };
                }
                Seg::Method(call) => {
                    if report {
                        self.method(ty, &path, call);
                    }
                    ty = Ty::Any;
                }
            }
        }
        Some(ty)
    }

    /// `ty.name`: its type, or a finding.
    fn member(
        &mut self,
        ty: Ty,
        path: &str,
        name: &str,
        range: Range<usize>,
        report: bool,
    ) -> Option<Ty> {
        let kind = match ty {
            Ty::Map(kind) => kind,
            Ty::Any => return Some(Ty::Any),
            other => {
                if report {
                    let what = if path == "now" {
                        "a number (unix milliseconds)".to_string()
                    } else {
                        describe(other).to_string()
                    };
                    self.push(
                        Code::UnknownMember,
                        Severity::Error,
                        range,
                        format!("`{path}` is {what}: it has no member `{name}`"),
                        "no such member",
                        Some(format!("read `{path}` itself")),
                    );
                }
                return None;
            }
        };
        match self.lookup(kind, name) {
            Lookup::Found(ty) => Some(ty),
            Lookup::Partial(ty, missing_for) => {
                if report {
                    let runs: Vec<&str> =
                        self.declared.commands.iter().map(|k| k.as_str()).collect();
                    let without: Vec<&str> = missing_for.iter().map(|k| k.as_str()).collect();
                    self.push(
                        Code::UnknownMember,
                        Severity::Warning,
                        range,
                        format!(
                            "`{path}.{name}` is `()` when the rule runs for {}",
                            list_in_backticks(&without)
                        ),
                        "not an argument of every command this rule runs for",
                        Some(format!(
                            "this rule is judged with {}; only some of them carry `{name}`",
                            list_in_backticks(&runs)
                        )),
                    );
                }
                Some(ty)
            }
            Lookup::Missing => {
                if report {
                    self.missing_member(kind, path, name, range);
                }
                None
            }
        }
    }

    fn lookup(&self, kind: MapKind, name: &str) -> Lookup {
        let table = |members: &[(&str, Ty)]| {
            members
                .iter()
                .find(|(m, _)| *m == name)
                .map_or(Lookup::Missing, |(_, ty)| Lookup::Found(*ty))
        };
        match kind {
            MapKind::Case => table(CASE_MEMBERS),
            MapKind::Actor => table(ACTOR_MEMBERS),
            MapKind::Profile => table(PROFILE_MEMBERS),
            MapKind::Evidence => {
                if self.declared.categories.contains(&name) {
                    Lookup::Found(Ty::Count)
                } else {
                    Lookup::Missing
                }
            }
            MapKind::Intake => {
                if self.declared.intake.contains(&name) {
                    Lookup::Found(Ty::Any)
                } else {
                    Lookup::Missing
                }
            }
            MapKind::Command => {
                if name == "name" {
                    return Lookup::Found(Ty::Text(Domain::Command));
                }
                let commands = &self.declared.commands;
                if commands.is_empty() {
                    return Lookup::Found(Ty::Any);
                }
                let mut found = None;
                let mut missing_for = Vec::new();
                for kind in commands {
                    match command_args(*kind).iter().find(|(m, _)| *m == name) {
                        Some((_, ty)) => found = Some(*ty),
                        None => missing_for.push(*kind),
                    }
                }
                match found {
                    None => Lookup::Missing,
                    Some(ty) if missing_for.is_empty() => Lookup::Found(ty),
                    Some(ty) => Lookup::Partial(ty, missing_for),
                }
            }
        }
    }

    /// The names a map has, for "did you mean".
    fn names_of(&self, kind: MapKind) -> Vec<&str> {
        match kind {
            MapKind::Case => CASE_MEMBERS.iter().map(|(n, _)| *n).collect(),
            MapKind::Actor => ACTOR_MEMBERS.iter().map(|(n, _)| *n).collect(),
            MapKind::Profile => PROFILE_MEMBERS.iter().map(|(n, _)| *n).collect(),
            MapKind::Evidence => self.declared.categories.clone(),
            MapKind::Intake => self.declared.intake.clone(),
            MapKind::Command => {
                let mut names = vec!["name"];
                for kind in &self.declared.commands {
                    for (n, _) in command_args(*kind) {
                        if !names.contains(n) {
                            names.push(n);
                        }
                    }
                }
                names
            }
        }
    }

    fn missing_member(&mut self, kind: MapKind, path: &str, name: &str, range: Range<usize>) {
        let known = self.names_of(kind);
        let suggestion = closest(name, &known).map(|near| format!("did you mean `{near}`?"));
        let listed = |what: &str| match known.as_slice() {
            [] => format!("no {what} is declared"),
            few if few.len() <= 12 => {
                format!("the declared {what}s are {}", list_in_backticks(few))
            }
            _ => format!("name a declared {what}"),
        };
        let (code, message, label, help) = match kind {
            MapKind::Evidence => (
                Code::UnknownCategory,
                format!("`{name}` is not a declared evidence category"),
                "not in `[evidence]`",
                suggestion.unwrap_or_else(|| {
                    format!(
                        "{}; an undeclared category always counts as `()`",
                        listed("category")
                    )
                }),
            ),
            MapKind::Intake => (
                Code::UnknownIntakeField,
                format!("`{name}` is not a declared intake field"),
                "not in `[intake]`",
                suggestion.unwrap_or_else(|| {
                    format!(
                        "{}; a request never carries an undeclared field",
                        listed("intake field")
                    )
                }),
            ),
            MapKind::Case | MapKind::Actor | MapKind::Command | MapKind::Profile => {
                let commands: Vec<&str> =
                    self.declared.commands.iter().map(|k| k.as_str()).collect();
                let context = if kind == MapKind::Command {
                    format!(" when the rule runs for {}", list_in_backticks(&commands))
                } else {
                    String::new()
                };
                (
                    Code::UnknownMember,
                    format!("`{path}` has no member `{name}`{context}"),
                    "no such member",
                    suggestion
                        .unwrap_or_else(|| format!("`{path}` has {}", list_in_backticks(&known))),
                )
            }
        };
        self.push(code, Severity::Error, range, message, label, Some(help));
    }

    /// `x.contains("name")` on a map or a list.
    fn method(&mut self, ty: Ty, path: &str, call: &FnCallExpr) {
        if call.name.as_str() != "contains" {
            return;
        }
        let [Expr::StringConstant(item, pos)] = call.args.as_slice() else {
            return;
        };
        let Some(range) = self.token(*pos) else {
            return;
        };
        self.contains(ty, path, item, range);
    }

    /// `item in <ty>`: a key of a map or a value of a list.
    fn contains(&mut self, ty: Ty, path: &str, item: &str, range: Range<usize>) {
        match ty {
            Ty::Map(kind @ (MapKind::Evidence | MapKind::Intake)) => {
                if matches!(self.lookup(kind, item), Lookup::Missing) {
                    self.missing_member(kind, path, item, range);
                }
            }
            Ty::List(domain) => self.value(domain, path, item, range),
            _ => {}
        }
    }

    /// A call: comparisons and `in`.
    fn call(&mut self, call: &FnCallExpr, pos: Position) {
        let name = call.name.as_str();
        let [a, b] = call.args.as_slice() else {
            return;
        };
        match name {
            "==" | "!=" | "<" | "<=" | ">" | ">=" if call.is_operator_call() => {
                self.compare(name, a, b, pos)
            }
            // `x in y` is `contains(y, x)`.
            "contains" => self.in_check(a, b),
            _ => {}
        }
    }

    fn in_check(&mut self, container: &Expr, item: &Expr) {
        if let Expr::StringConstant(text, pos) = item {
            let Some((root, rpos, segs)) = flatten(container) else {
                return;
            };
            let Some(ty) = self.resolve(root, rpos, &segs, false) else {
                return;
            };
            let Some(range) = self.token(*pos) else {
                return;
            };
            let path = self.expr_text(container);
            self.contains(ty, &path, text, range);
            return;
        }
        if let Expr::Array(items, _) = container {
            let Some(Ty::Text(domain)) = self.type_of(item) else {
                return;
            };
            let path = self.expr_text(item);
            for element in items.iter() {
                if let Expr::StringConstant(text, pos) = element
                    && let Some(range) = self.token(*pos)
                {
                    self.value(domain, &path, text, range);
                }
            }
        }
    }

    fn compare(&mut self, op: &str, a: &Expr, b: &Expr, pos: Position) {
        let (ta, tb) = (self.type_of(a), self.type_of(b));
        if op == "==" || op == "!=" {
            for (side, other, other_ty) in [(a, b, tb), (b, a, ta)] {
                if let (Some(Ty::Text(domain)), Expr::StringConstant(text, lpos)) = (other_ty, side)
                    && let Some(range) = self.token(*lpos)
                {
                    let path = self.expr_text(other);
                    self.value(domain, &path, text, range);
                }
            }
        }
        let (Some(x), Some(y)) = (ta, tb) else {
            return;
        };
        let (cx, cy) = (class(x), class(y));
        if cx == Class::Loose || cy == Class::Loose || cx == cy {
            return;
        }
        let range = match (self.expr_start(a), self.expr_end(b)) {
            (Some(s), Some(e)) if s < e => s..e,
            _ => match self.token(pos) {
                Some(r) => r,
                None => return,
            },
        };
        let (left, right) = (self.expr_text(a), self.expr_text(b));
        let verdict = if op == "!=" { "true" } else { "false" };
        let help = match (x, y) {
            (Ty::List(_), Ty::Text(_)) => {
                format!("to ask whether the list holds it, write `{right} in {left}`")
            }
            (Ty::Text(_), Ty::List(_)) => {
                format!("to ask whether the list holds it, write `{left} in {right}`")
            }
            (Ty::Count | Ty::Amount | Ty::Time, Ty::Text(_))
            | (Ty::Text(_), Ty::Count | Ty::Amount | Ty::Time) => {
                "compare a number with a number: write it without quotes".to_string()
            }
            (Ty::Text(_), Ty::Number) | (Ty::Number, Ty::Text(_)) => {
                "compare a text with a text: write it in quotes".to_string()
            }
            _ => "compare values of one type".to_string(),
        };
        self.push(
            Code::TypeMismatch,
            Severity::Error,
            range,
            format!(
                "`{left}` is {} and `{right}` is {}: `{op}` between them is always {verdict}",
                describe(x),
                describe(y)
            ),
            "these never compare",
            Some(help),
        );
    }

    /// A literal `text` that a value of `domain` (read at `path`) is compared with.
    fn value(&mut self, domain: Domain, path: &str, text: &str, range: Range<usize>) {
        let states = |all: &[&'static str]| all.to_vec();
        let (known, what): (Vec<&str>, &str) = match domain {
            Domain::Free => return,
            Domain::Phase => (self.declared.phases.clone(), "phase id"),
            Domain::Category => (self.declared.categories.clone(), "evidence category"),
            Domain::Task => (
                states(&[
                    TaskState::Open.as_str(),
                    TaskState::Approved.as_str(),
                    TaskState::Rejected.as_str(),
                    TaskState::Closed.as_str(),
                ]),
                "task state",
            ),
            Domain::Job => (
                states(&[
                    JobState::Queued.as_str(),
                    JobState::Claimed.as_str(),
                    JobState::Completed.as_str(),
                    JobState::Cancelled.as_str(),
                ]),
                "job state",
            ),
            Domain::ServiceEvent => (
                states(&[
                    ServiceEventState::Open.as_str(),
                    ServiceEventState::Complete.as_str(),
                ]),
                "service event state",
            ),
            Domain::Settlement => (
                states(&[
                    SettlementStatus::Pending.as_str(),
                    SettlementStatus::Captured.as_str(),
                    SettlementStatus::Refunded.as_str(),
                    SettlementStatus::Waived.as_str(),
                ]),
                "settlement status",
            ),
            Domain::Role => (Role::ALL.iter().map(|r| r.as_str()).collect(), "role"),
            Domain::OperatorStatus => (
                states(&[
                    OperatorStatus::Active.as_str(),
                    OperatorStatus::Suspended.as_str(),
                ]),
                "operator status",
            ),
            Domain::Command => {
                let runs: Vec<&str> = self.declared.commands.iter().map(|k| k.as_str()).collect();
                if runs.is_empty() || runs.contains(&text) {
                    return;
                }
                if CommandKind::parse(text).is_some() {
                    self.push(
                        Code::UnknownValue,
                        Severity::Warning,
                        range,
                        format!("this rule is never judged with `{text}`"),
                        "never this command",
                        Some(format!(
                            "the rule runs for {}, so `{path}` is never `{text}`",
                            list_in_backticks(&runs)
                        )),
                    );
                    return;
                }
                let all: Vec<&str> = CommandKind::ALL.iter().map(|k| k.as_str()).collect();
                let help = closest(text, &all)
                    .map(|near| format!("did you mean `{near}`?"))
                    .unwrap_or_else(|| format!("the rule runs for {}", list_in_backticks(&runs)));
                self.push(
                    Code::UnknownValue,
                    Severity::Error,
                    range,
                    format!("`{text}` is not a command name"),
                    "not a command",
                    Some(help),
                );
                return;
            }
        };
        if known.contains(&text) {
            return;
        }
        let help = closest(text, &known)
            .map(|near| format!("did you mean `{near}`?"))
            .unwrap_or_else(|| match known.as_slice() {
                [] => format!("no {what} is declared"),
                few if few.len() <= 12 => {
                    format!("`{path}` is one of {}", list_in_backticks(few))
                }
                _ => format!("name a declared {what}"),
            });
        let code = match domain {
            Domain::Phase => Code::UnknownPhase,
            Domain::Category => Code::UnknownCategory,
            _ => Code::UnknownValue,
        };
        self.push(
            code,
            Severity::Error,
            range,
            format!("`{text}` is not a {what}: `{path}` is never `{text}`"),
            &format!("not a {what}"),
            Some(help),
        );
    }

    /// The static type of an operand, without reporting anything.
    fn type_of(&mut self, expr: &Expr) -> Option<Ty> {
        match expr {
            Expr::StringConstant(..) | Expr::InterpolatedString(..) => Some(Ty::Text(Domain::Free)),
            Expr::IntegerConstant(..) | Expr::FloatConstant(..) => Some(Ty::Number),
            Expr::BoolConstant(..) => Some(Ty::Bool),
            Expr::Unit(..) => Some(Ty::Unit),
            Expr::Array(..) => Some(Ty::List(Domain::Free)),
            Expr::Variable(..) | Expr::Dot(..) | Expr::Index(..) => {
                let (root, pos, segs) = flatten(expr)?;
                self.resolve(root, pos, &segs, false)
            }
            _ => None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Positions.

    /// Byte offset of a Rhai position (1-based line, 1-based column in characters).
    fn offset(&self, pos: Position) -> Option<usize> {
        let (line, column) = (pos.line()?, pos.position()?);
        let mut start = 0;
        for _ in 1..line {
            start += self.source.get(start..)?.find('\n')? + 1;
        }
        let rest = self.source.get(start..)?;
        let skip = column.checked_sub(1)?;
        let within = rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i);
        Some(start + within)
    }

    /// The range of the token at `pos`.
    fn token(&self, pos: Position) -> Option<Range<usize>> {
        let start = self.offset(pos)?;
        Some(start..token_end(self.source, start))
    }

    /// Past the `close` character that follows `end` (after spaces), or `end`.
    fn after_close(&self, end: usize, close: char) -> usize {
        let rest = self.source.get(end..).unwrap_or("");
        let trimmed = rest.trim_start();
        if trimmed.starts_with(close) {
            end + (rest.len() - trimmed.len()) + close.len_utf8()
        } else {
            end
        }
    }

    fn expr_start(&self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Dot(bin, ..) | Expr::Index(bin, ..) => self.expr_start(&bin.lhs),
            Expr::And(items, _) | Expr::Or(items, _) | Expr::Coalesce(items, _) => {
                self.expr_start(items.first()?)
            }
            Expr::FnCall(call, pos) if call.is_operator_call() && call.args.len() == 2 => self
                .expr_start(call.args.first()?)
                .or_else(|| self.offset(*pos)),
            other => self.offset(other.start_position()),
        }
    }

    fn expr_end(&self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Dot(bin, ..) => self.expr_end(&bin.rhs),
            Expr::Index(bin, flags, _) => {
                let end = self.expr_end(&bin.rhs)?;
                Some(if flags.contains(ASTFlags::BREAK) {
                    self.after_close(end, ']')
                } else {
                    end
                })
            }
            Expr::MethodCall(_, pos) => {
                let name_end = token_end(self.source, self.offset(*pos)?);
                Some(matching_close(self.source, name_end).unwrap_or(name_end))
            }
            Expr::Array(_, pos) => {
                let open = self.offset(*pos)?;
                Some(matching_close(self.source, open).unwrap_or(open + 1))
            }
            Expr::FnCall(call, pos) => match call.args.as_slice() {
                [_, b] if call.is_operator_call() => self.expr_end(b),
                _ => {
                    let name_end = token_end(self.source, self.offset(*pos)?);
                    Some(matching_close(self.source, name_end).unwrap_or(name_end))
                }
            },
            Expr::And(items, _) | Expr::Or(items, _) | Expr::Coalesce(items, _) => {
                self.expr_end(items.last()?)
            }
            other => Some(token_end(self.source, self.offset(other.position())?)),
        }
    }

    /// The text of `expr` as written (for messages); empty when its range is unknown.
    fn expr_text(&self, expr: &Expr) -> String {
        match (self.expr_start(expr), self.expr_end(expr)) {
            (Some(s), Some(e)) => self.source.get(s..e).unwrap_or("").trim().to_string(),
            _ => String::new(),
        }
    }
}

/// The end of the token starting at `start`: a string literal (with escapes), a word, a
/// number, or one character.
fn token_end(source: &str, start: usize) -> usize {
    let Some(rest) = source.get(start..) else {
        return start;
    };
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return start;
    };
    if first == '"' || first == '`' || first == '\'' {
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                escaped = false;
            } else if c == '\\' && first != '`' {
                escaped = true;
            } else if c == first {
                return start + i + c.len_utf8();
            }
        }
        return source.len();
    }
    if first.is_alphanumeric() || first == '_' {
        let len: usize = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' && first.is_ascii_digit())
            .map(char::len_utf8)
            .sum();
        return start + len;
    }
    start + first.len_utf8()
}

/// The end (past the closing bracket) of the bracketed group opening at or after `from`
/// (after spaces): `(…)` or `[…]`, skipping string literals.
fn matching_close(source: &str, from: usize) -> Option<usize> {
    let rest = source.get(from..)?;
    let skipped = rest.len() - rest.trim_start().len();
    let open_at = from + skipped;
    let open = source.get(open_at..)?.chars().next()?;
    let close = match open {
        '(' => ')',
        '[' => ']',
        _ => return None,
    };
    let mut depth = 0_usize;
    let mut i = open_at;
    while let Some(c) = source.get(i..).and_then(|r| r.chars().next()) {
        if c == '"' || c == '`' || c == '\'' {
            i = token_end(source, i);
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i + c.len_utf8());
            }
        }
        i += c.len_utf8();
    }
    None
}

#[cfg(test)]
mod tests {
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
}

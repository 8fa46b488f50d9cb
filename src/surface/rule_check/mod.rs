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

use crate::diagnostic::toml::{closest, list_in_backticks};
use crate::policy::Role;
use crate::spine::CommandKind;
use crate::spine::case::{JobState, ServiceEventState, SettlementStatus, TaskState};
use crate::spine::operator::OperatorStatus;
use crate::surface::diagnostic::{Code, Severity};
use crate::surface::rules::parse_for_analysis;

mod checker;
mod scope;
mod syntax;

use checker::Checker;
pub use scope::{ACTOR_MEMBERS, CASE_MEMBERS, Domain, MapKind, PROFILE_MEMBERS, Ty, command_args};
use syntax::{Seg, flatten, matching_close, token_end};

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

#[cfg(test)]
mod tests;

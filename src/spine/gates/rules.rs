//! The surface's rules (6): the Rhai guards a surface attaches to transitions and commands.
//!
//! This module owns running them for one command: which rules apply (the transition's rule,
//! then the rules `on` the command, in the surface's order), judging each through the native
//! fast path or the Rhai sandbox of `spine::guard`, and which verdict wins: the first rule that
//! fails is `rule_failed`; otherwise the first that could not be judged is `rule_error` (a
//! failing rule outranks an erroring one, as `docs/commands.md` orders them). Rules fail closed:
//! an error never lets a command through. It never changes the case it is shown (a new request
//! is judged against the case as it would be), and never gives a rule more than the read-only
//! scope of `spine::guard`.

use serde_json::json;

use crate::policy::Principal;
use crate::spine::case::Case;
use crate::spine::catalog::Catalog;
use crate::spine::command::Command;
use crate::spine::decide::Ctx;
use crate::spine::guard;
use crate::spine::trace::{Trace, gate};
use crate::spine::{CommandKind, Rejection, RejectionCode as Code};
use crate::surface::rules::Reads;
use crate::surface::{RuleId, Surface};

/// (6) Run the rules that apply, in order: a transition's rule, then rules `on` these commands.
/// A failing rule outranks an erroring one (the precedence order of `docs/commands.md`).
pub(in crate::spine) fn run_rules<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    case_view: &Case,
    transition_rule: Option<RuleId>,
    on: &[CommandKind],
) -> Result<(), Rejection> {
    let (principal, command) = (cx.principal, cx.command);
    run_rules_as(
        cx,
        surface,
        case_view,
        transition_rule,
        on,
        principal,
        command,
    )
}

/// [`run_rules`] with `actor` and `command` in the rules' scope standing for `principal` and
/// `command` rather than the command judged: `approve_transition` judges the pending move's
/// rules as the move its owner asked for.
pub(in crate::spine) fn run_rules_as<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    case_view: &Case,
    transition_rule: Option<RuleId>,
    on: &[CommandKind],
    principal: &Principal,
    command: &Command,
) -> Result<(), Rejection> {
    if surface.rules().is_empty() {
        return Ok(());
    }
    let mut ids: Vec<RuleId> = Vec::new();
    ids.extend(transition_rule);
    for kind in on {
        ids.extend(surface.rules_on(*kind).iter().copied());
    }
    if ids.is_empty() {
        return Ok(());
    }
    // Each rule's verdict, in order, up to the first that fails. Guards in the fast subset are
    // judged straight from the case; Rhai runs the others, against one scope holding only
    // what they read (built only when some rule needs it).
    let mut verdicts = Vec::with_capacity(ids.len());
    let mut reads = Reads::default();
    let mut need_rhai = false;
    for rule in ids.iter().filter_map(|id| surface.rule(*id)) {
        let fast = rule.guard.fast().and_then(|expr| {
            guard::fast_verdict(expr, case_view, surface, principal, command, cx.now)
        });
        if fast.is_none() {
            reads.merge(rule.guard.reads());
            need_rhai = true;
        }
        let failed = fast == Some(false);
        verdicts.push((rule, fast.map(Ok)));
        if failed {
            break;
        }
    }
    if need_rhai {
        let profile = if reads.profile {
            cx.catalog.profile(&principal.id)
        } else {
            None
        };
        let actor = guard::Actor { principal, profile };
        let scope = guard::scope_for(&reads, case_view, surface, actor, command, cx.now);
        scope.with_rhai(|scope| {
            for (rule, verdict) in &mut verdicts {
                if verdict.is_none() {
                    let judged = rule.guard.eval_in(scope);
                    let failed = matches!(judged, Ok(false));
                    *verdict = Some(judged);
                    if failed {
                        break;
                    }
                }
            }
        });
    }
    let mut first_error: Option<Rejection> = None;
    // A rule left unjudged comes after one that failed, which ends the loop first.
    for (rule, verdict) in verdicts {
        let Some(verdict) = verdict else { break };
        match verdict {
            Ok(true) => {
                if T::RECORDS {
                    cx.trace
                        .record("rule", true, format!("rule `{}` holds", rule.name), None);
                }
            }
            Ok(false) => {
                let rejection = Rejection::new(Code::RuleFailed, rule.message.clone())
                    .with_detail(json!({ "rule": rule.name, "when": rule.when }));
                return gate(cx.trace, "rule", Err(rejection), String::new);
            }
            Err(err) => {
                if first_error.is_none() {
                    first_error = Some(
                        Rejection::new(
                            Code::RuleError,
                            format!("rule `{}` could not be judged: {err}", rule.name),
                        )
                        .with_detail(json!({ "rule": rule.name, "error": err.to_string() })),
                    );
                }
            }
        }
    }
    match first_error {
        Some(rejection) => gate(cx.trace, "rule", Err(rejection), String::new),
        None => Ok(()),
    }
}

//! Migration: `migrate_case`, the one command that changes the surface a case is pinned to.
//!
//! This module owns judging a move of a case from its pinned version to another version of
//! the same slug: that the target is registered (2, before the arguments, as the surface a
//! request names is), that `to_version` is a positive whole number (3), that the case is
//! still live and the target is another version (4), and that everything the case holds
//! means the same under the target (6): the judgement is `spine::migration::compatibility`,
//! shared with `planck diff --db`, never repeated here. Its event carries both pins; `evolve`
//! repins the Request, so every later command is judged by the target and every later
//! envelope carries it. A sealed case never moves. It never changes a phase, evidence, an
//! owner or a pending approval: only the pin (and which escalations count as already raised
//! in the current phase).

use serde_json::{Value, json};

use crate::spine::case::{JobState, SurfacePin, TaskState};
use crate::spine::catalog::Catalog;
use crate::spine::command::CommandBody;
use crate::spine::decide::Ctx;
use crate::spine::gates::ok;
use crate::spine::gates::payload::arguments_gate;
use crate::spine::gates::rules::run_rules;
use crate::spine::migration::compatibility;
use crate::spine::trace::{Trace, gate};
use crate::spine::{Case, CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::Surface;

/// `migrate_case`: repins the case to `to_version` of its slug. `surface` is the version it is
/// pinned to (the pin gate already held). A body that did not parse is still judged in
/// precedence order: the version it names, if it can be read, before the payload.
pub(super) fn migrate_case<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
) -> Result<Vec<Event>, Rejection> {
    let body = &cx.command.body;
    // (2) The version it moves to, when the arguments name one.
    let target = match requested_version(body) {
        Some(version) => Some(target_gate(cx, surface, version)?),
        None => None,
    };
    // (3) The arguments.
    arguments_gate(cx.trace, body)?;
    let target = target.ok_or_else(|| {
        Rejection::new(
            Code::PayloadInvalid,
            "`to_version` must be a positive whole number",
        )
    })?;
    // (4) The case is live, and the target is another version.
    live_gate(cx.trace, cx.case, surface, target)?;
    // (6) Everything the case holds means the same under the target.
    let result = match compatibility(cx.case, surface, target) {
        Ok(()) => ok(),
        Err(reasons) => {
            let sentences: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            let detail: Vec<Value> = reasons.iter().map(|r| r.to_json()).collect();
            Err(Rejection::new(
                Code::MigrationUnsafe,
                format!(
                    "the case cannot move to `{}`: {}",
                    target.key(),
                    sentences.join("; ")
                ),
            )
            .with_detail(json!({
                "from": surface.key(),
                "to": target.key(),
                "reasons": detail,
            })))
        }
    };
    gate(cx.trace, "compatibility", result, || {
        format!(
            "everything the case holds means the same under `{}`",
            target.key()
        )
    })?;
    run_rules(cx, surface, cx.case, None, &[CommandKind::MigrateCase])?;
    Ok(vec![Event::CaseMigrated {
        from: pin_of(surface),
        to: pin_of(target),
        fired: fired_under(cx.case, surface, target),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

/// The version a `migrate_case` body names: its `to_version`, or, for a body that did not
/// parse, a positive whole `to_version` among the arguments as received.
fn requested_version(body: &CommandBody) -> Option<u32> {
    match body {
        CommandBody::MigrateCase { to_version } => Some(*to_version),
        CommandBody::Malformed { raw, .. } => raw
            .get("to_version")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok()),
        _ => None,
    }
    .filter(|v| *v > 0)
}

/// (2) `slug@version` of the case's slug is registered.
fn target_gate<'a, C: Catalog, T: Trace>(
    cx: &mut Ctx<'a, C, T>,
    surface: &Surface,
    version: u32,
) -> Result<&'a Surface, Rejection> {
    let slug = surface.slug();
    let found = cx.catalog.exact(slug, version);
    let result = match found {
        Some(_) => ok(),
        None => Err(Rejection::new(
            Code::UnknownSurface,
            format!("no version {version} of `{slug}` is registered: the case cannot move there"),
        )
        .with_detail(json!({ "surface": slug, "version": version }))),
    };
    gate(cx.trace, "target", result, || {
        format!("`{slug}@{version}` is registered")
    })?;
    found.ok_or_else(|| Rejection::new(Code::UnknownSurface, "the target is not registered"))
}

/// (4) The case is still live (not sealed, its Job neither completed nor cancelled, its Task
/// not rejected) and `target` is another version than the one it is pinned to.
fn live_gate<T: Trace>(
    trace: &mut T,
    case: &Case,
    surface: &Surface,
    target: &Surface,
) -> Result<(), Rejection> {
    let state = |layer: &str, state: &str, message: String| {
        Err(Rejection::new(Code::InvalidState, message)
            .with_detail(json!({ "layer": layer, "state": state })))
    };
    let result = if case.record.is_some() {
        state(
            "record",
            "sealed",
            "the record is sealed: a sealed case never moves".into(),
        )
    } else if let Some(job @ (JobState::Completed | JobState::Cancelled)) = case.job_state() {
        state(
            "job",
            job.as_str(),
            format!("the job is {}: only a live case moves", job.as_str()),
        )
    } else if case.task_state() == Some(TaskState::Rejected) {
        state(
            "task",
            "rejected",
            "the task is rejected: only a live case moves".into(),
        )
    } else if target.version() == surface.version() {
        Err(Rejection::new(
            Code::InvalidState,
            format!("the case is already pinned to `{}`", surface.key()),
        )
        .with_detail(json!({ "layer": "request", "version": surface.version() })))
    } else {
        ok()
    };
    gate(trace, "state", result, || {
        format!(
            "the case is live and pinned to `{}`, not `{}`",
            surface.key(),
            target.key()
        )
    })
}

/// The pin of `surface`.
fn pin_of(surface: &Surface) -> SurfacePin {
    SurfacePin {
        slug: surface.slug().to_string(),
        version: surface.version(),
        fingerprint: surface.fingerprint_hex().to_string(),
    }
}

/// The escalations of `target` (by index) that count as already raised during the current
/// phase entry: those of the same phase and signal raised under `old`. An escalation is raised
/// once per phase entry, whichever version the case was pinned to when it fell due.
fn fired_under(case: &Case, old: &Surface, target: &Surface) -> Vec<u32> {
    let Some(clock) = case.clock.as_ref() else {
        return Vec::new();
    };
    let raised: Vec<&str> = clock
        .fired
        .iter()
        .filter_map(|i| old.escalations().get(*i as usize))
        .filter(|e| old.phase_name(e.phase) == clock.phase)
        .map(|e| e.signal.as_str())
        .collect();
    target
        .escalations()
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            target.phase_name(e.phase) == clock.phase && raised.contains(&e.signal.as_str())
        })
        .map(|(i, _)| i as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Principal, Role};
    use crate::spine::{Command, decide, evolve, explain};
    use serde_json::json;

    /// `mig@version`: queued, claimed, working, done; `extra` is appended to the file.
    fn surface(version: u32, extra: &str) -> Surface {
        let src = format!(
            "[surface]\nslug = \"mig\"\nname = \"Mig\"\nspec = \"s\"\nversion = {version}\n\
             [[phase]]\nid = \"queued\"\nlabel = \"Queued\"\n[[phase]]\nid = \"claimed\"\nlabel = \"Claimed\"\n\
             [[phase]]\nid = \"working\"\nlabel = \"Working\"\n[[phase]]\nid = \"done\"\nlabel = \"Done\"\n\
             [intake]\nrequired = [\"contact\"]\n{extra}"
        );
        let (def, diags) = crate::surface::toml::parse(&src);
        assert!(diags.is_empty(), "{diags:?}");
        crate::surface::compile(&def).unwrap().surface
    }

    const APPROVED: &str = "[[transition]]\nfrom = \"claimed\"\nto = \"working\"\n\
        [[transition]]\nfrom = \"working\"\nto = \"done\"\napproval = [\"admin\"]\n";

    fn who(role: Role) -> Principal {
        match role {
            Role::Operator => Principal::new("op-lee", [role]),
            Role::Admin => Principal::new("admin-kim", [role]),
            _ => Principal::new("client-ava", [role]),
        }
    }

    /// A case on `catalog` driven by `(role, command, args)` steps, each of which must apply.
    fn drive(catalog: &[Surface], steps: &[(Role, &str, Value)]) -> Case {
        let mut case = Case::new("c");
        for (role, name, args) in steps {
            let command = Command::from_json("c", name, args).unwrap();
            let events = decide(&case, &catalog, &who(*role), &command, 1)
                .unwrap_or_else(|r| panic!("{name}: {r}"));
            case = events.iter().fold(case, evolve);
        }
        case
    }

    fn working() -> Vec<(Role, &'static str, Value)> {
        vec![
            (
                Role::Client,
                "submit_request",
                json!({"surface": "mig@1", "intake": {"contact": "x"}}),
            ),
            (Role::Admin, "approve_task", json!({})),
            (Role::Admin, "assign_task", json!({"operator": "op-lee"})),
            (Role::Admin, "create_job", json!({})),
            (Role::Operator, "claim_job", json!({})),
            (Role::Operator, "advance", json!({"to": "working"})),
        ]
    }

    fn migrate(
        case: &Case,
        catalog: &[Surface],
        role: Role,
        args: Value,
    ) -> Result<Vec<Event>, Rejection> {
        let command = Command::from_json("c", "migrate_case", &args).unwrap();
        decide(case, &catalog, &who(role), &command, 2)
    }

    fn code(r: Result<Vec<Event>, Rejection>) -> Code {
        r.map(|e| panic!("applied: {e:?}")).unwrap_err().code
    }

    #[test]
    fn a_compatible_case_moves_and_is_judged_by_the_target_from_then_on() {
        let catalog = vec![
            surface(1, APPROVED),
            surface(
                2,
                "[evidence]\nrequired_categories = [\"photo\"]\nmin_per_category = 1\n",
            ),
        ];
        let case = drive(&catalog, &working());
        let events = migrate(&case, &catalog, Role::Admin, json!({"to_version": 2})).unwrap();
        let [Event::CaseMigrated { from, to, by, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(
            (from.key(), to.key(), by.as_str()),
            ("mig@1".into(), "mig@2".into(), "admin-kim")
        );
        let moved = events.iter().fold(case, evolve);
        assert_eq!(moved.request.as_ref().unwrap().surface, *to);
        // Version 2 needs a photo before completion; version 1 did not.
        let complete = Command::from_json("c", "complete_service_event", &json!({})).unwrap();
        let refused = decide(
            &moved,
            &catalog.as_slice(),
            &who(Role::Operator),
            &complete,
            3,
        );
        assert_eq!(code(refused), Code::EvidenceMissing);
    }

    #[test]
    fn every_refusal_in_precedence_order() {
        let catalog = vec![surface(1, APPROVED), surface(3, "")];
        let case = drive(&catalog, &working());
        // (1) the role.
        assert_eq!(
            code(migrate(
                &case,
                &catalog,
                Role::Operator,
                json!({"to_version": 3})
            )),
            Code::ForbiddenRole
        );
        // (2) the case; the target (before a malformed argument elsewhere in the body).
        assert_eq!(
            code(migrate(
                &Case::new("c"),
                &catalog,
                Role::Admin,
                json!({"to_version": 3})
            )),
            Code::CaseNotFound
        );
        assert_eq!(
            code(migrate(
                &case,
                &catalog,
                Role::Admin,
                json!({"to_version": 7})
            )),
            Code::UnknownSurface
        );
        assert_eq!(
            code(migrate(
                &case,
                &catalog,
                Role::Admin,
                json!({"to_version": 7, "x": 1})
            )),
            Code::UnknownSurface
        );
        // (3) the arguments.
        for bad in [
            json!({"to_version": 0}),
            json!({"to_version": -1}),
            json!({"to_version": "3"}),
            json!({}),
            json!({"to_version": 3, "x": 1}),
        ] {
            assert_eq!(
                code(migrate(&case, &catalog, Role::Admin, bad.clone())),
                Code::PayloadInvalid,
                "{bad}"
            );
        }
        // (4) the same version.
        assert_eq!(
            code(migrate(
                &case,
                &catalog,
                Role::Admin,
                json!({"to_version": 1})
            )),
            Code::InvalidState
        );
        // (6) version 3 has no transitions into `working` declared... but the phase exists in
        // the same role: what differs is the pending approval, once one waits.
        let mut steps = working();
        steps.push((Role::Operator, "complete_service_event", json!({})));
        let waiting = drive(&catalog, &steps);
        assert!(waiting.pending_approval.is_some());
        let refused =
            migrate(&waiting, &catalog, Role::Admin, json!({"to_version": 3})).unwrap_err();
        assert_eq!(refused.code, Code::MigrationUnsafe);
        assert_eq!(
            refused.detail["reasons"][0]["reason"],
            "pending_approval_changed"
        );
        assert!(
            refused.message.contains("waits for approval by admin"),
            "{}",
            refused.message
        );
        // The same move with the same roles in the target: it moves, the approval still waits.
        let same = vec![surface(1, APPROVED), surface(4, APPROVED)];
        let events = migrate(&waiting, &same, Role::Admin, json!({"to_version": 4})).unwrap();
        let moved = events.iter().fold(waiting.clone(), evolve);
        assert_eq!(moved.pending_approval, waiting.pending_approval);
        // explain names the failing check.
        let command = Command::from_json("c", "migrate_case", &json!({"to_version": 3})).unwrap();
        let explained = explain(
            &waiting,
            &catalog.as_slice(),
            &who(Role::Admin),
            &command,
            2,
        );
        assert_eq!(
            explained.checks.last().map(|c| c.check),
            Some("compatibility")
        );
    }

    #[test]
    fn a_finished_case_never_moves() {
        let catalog = vec![surface(1, ""), surface(2, "")];
        let mut steps = working();
        steps.push((Role::Operator, "complete_service_event", json!({})));
        let sealed = drive(&catalog, &steps);
        assert!(sealed.record.is_some());
        let refused =
            migrate(&sealed, &catalog, Role::Admin, json!({"to_version": 2})).unwrap_err();
        assert_eq!(
            (refused.code, refused.detail["layer"].as_str()),
            (Code::InvalidState, Some("record"))
        );
        let mut steps = working();
        steps.push((Role::Admin, "cancel_job", json!({"reason": "called off"})));
        let cancelled = drive(&catalog, &steps);
        assert_eq!(
            code(migrate(
                &cancelled,
                &catalog,
                Role::Admin,
                json!({"to_version": 2})
            )),
            Code::InvalidState
        );
        let rejected = drive(
            &catalog,
            &[
                (
                    Role::Client,
                    "submit_request",
                    json!({"surface": "mig@1", "intake": {"contact": "x"}}),
                ),
                (Role::Admin, "reject_task", json!({"reason": "no"})),
            ],
        );
        assert_eq!(
            code(migrate(
                &rejected,
                &catalog,
                Role::Admin,
                json!({"to_version": 2})
            )),
            Code::InvalidState
        );
    }

    #[test]
    fn an_escalation_raised_before_the_move_is_not_raised_again() {
        let esc = "[[escalation]]\nphase = \"working\"\nafter = \"1h\"\nsignal = \"slow\"\n";
        let catalog = vec![
            surface(1, esc),
            surface(
                2,
                &format!(
                    "[[escalation]]\nphase = \"claimed\"\nafter = \"1h\"\nsignal = \"late\"\n{esc}"
                ),
            ),
        ];
        let case = drive(&catalog, &working());
        let hour = 3_600_000;
        let raised = crate::spine::due_escalations(&case, &catalog[0], hour * 2);
        assert_eq!(raised.len(), 1);
        let case = raised.iter().fold(case, evolve);
        let events = migrate(&case, &catalog, Role::Admin, json!({"to_version": 2})).unwrap();
        let [Event::CaseMigrated { fired, .. }] = events.as_slice() else {
            panic!()
        };
        assert_eq!(fired, &[1]);
        let moved = events.iter().fold(case, evolve);
        assert!(crate::spine::due_escalations(&moved, &catalog[1], hour * 3).is_empty());
    }
}

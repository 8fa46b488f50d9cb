//! The read-only scope a Rhai rule sees (the rules of `docs/surface.md`): `case`, `actor`,
//! `command`, `now`.
//!
//! `actor.profile` is the principal's operator profile (`()` when they have none, or when no
//! rule reads it and the engine did not load it: a value no rule names cannot change a
//! verdict). The fast judge never reads it (a guard that does goes through Rhai).

use rhai::{Dynamic, Map};
use serde_json::Value;

use crate::policy::Principal;
use crate::spine::case::{Case, Millis};
use crate::spine::command::Command;
use crate::spine::operator::OperatorProfile;
use crate::surface::Surface;
use crate::surface::rules::{CompareOp, FastExpr, FastOperand, GuardScope, Reads};

/// Deepest JSON nesting converted into a rule's scope (deeper values become `()`).
const MAX_DEPTH: usize = 16;

/// Who `actor` is in a rule's scope: the principal, and their operator profile if they have
/// one.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    /// The principal.
    pub principal: &'a Principal,
    /// Their operator profile (`actor.profile`), when they have one.
    pub profile: Option<&'a OperatorProfile>,
}

impl<'a> From<&'a Principal> for Actor<'a> {
    /// A principal with no operator profile.
    fn from(principal: &'a Principal) -> Self {
        Actor {
            principal,
            profile: None,
        }
    }
}

/// Build the whole scope for judging `command` on `case`.
pub fn scope<'a>(
    case: &Case,
    surface: &Surface,
    actor: impl Into<Actor<'a>>,
    command: &Command,
    now: Millis,
) -> GuardScope {
    scope_for(&Reads::everything(), case, surface, actor, command, now)
}

/// Build the parts of the scope that `reads` names (see [`Guard::reads`]); the rest stays
/// empty. What a guard never names cannot change its verdict, so this judges exactly like
/// [`scope`] and spares converting the intake, the actor and the command when no guard looks.
///
/// [`Guard::reads`]: crate::surface::rules::Guard::reads
pub fn scope_for<'a>(
    reads: &Reads,
    case: &Case,
    surface: &Surface,
    actor: impl Into<Actor<'a>>,
    command: &Command,
    now: Millis,
) -> GuardScope {
    let Actor { principal, profile } = actor.into();
    let want = |name: &str| reads.case.reads(name);
    let mut c = Map::new();
    if want("id") {
        c.insert("id".into(), Dynamic::from(case.id.clone()));
    }
    if want("phase") {
        c.insert("phase".into(), opt_str(case.phase()));
    }
    if want("evidence") {
        let mut evidence = Map::new();
        let counts = case.service_event.as_ref().map(|s| &s.evidence_counts);
        for name in &surface.evidence().categories {
            let n = counts.and_then(|m| m.get(name)).copied().unwrap_or(0);
            evidence.insert(name.as_str().into(), Dynamic::from(i64::from(n)));
        }
        c.insert("evidence".into(), Dynamic::from_map(evidence));
    }
    if want("intake") {
        let mut intake = Map::new();
        if let Some(request) = case.request.as_ref() {
            for (k, v) in &request.intake {
                intake.insert(k.as_str().into(), json_to_dynamic(v, 0));
            }
        }
        c.insert("intake".into(), Dynamic::from_map(intake));
    }
    if want("assignee") {
        c.insert("assignee".into(), opt_str(case.assignee()));
    }
    if want("owner") {
        c.insert("owner".into(), opt_str(case.owner()));
    }
    if want("task") {
        c.insert(
            "task".into(),
            opt_str(case.task_state().map(|s| s.as_str())),
        );
    }
    if want("job") {
        c.insert("job".into(), opt_str(case.job_state().map(|s| s.as_str())));
    }
    if want("service_event") {
        c.insert(
            "service_event".into(),
            opt_str(case.service_event_state().map(|s| s.as_str())),
        );
    }
    if want("settlement") {
        c.insert(
            "settlement".into(),
            opt_str(case.settlement.as_ref().map(|s| s.status.as_str())),
        );
    }
    if want("pending_approval") {
        c.insert("pending_approval".into(), opt_str(case.pending_phase()));
    }
    let mut actor = Map::new();
    if reads.actor {
        actor.insert("id".into(), Dynamic::from(principal.id.clone()));
        let roles: rhai::Array = principal
            .roles
            .iter()
            .map(|r| Dynamic::from(r.as_str().to_string()))
            .collect();
        actor.insert("roles".into(), Dynamic::from_array(roles));
        if reads.profile {
            actor.insert("profile".into(), profile.map_or(Dynamic::UNIT, profile_map));
        }
    }
    let mut cmd = Map::new();
    if reads.command {
        cmd.insert(
            "name".into(),
            Dynamic::from(command.kind().as_str().to_string()),
        );
        if let Value::Object(args) = command.body.args_json() {
            for (k, v) in &args {
                cmd.insert(k.as_str().into(), json_to_dynamic(v, 0));
            }
        }
    }
    GuardScope {
        case: c,
        actor,
        command: cmd,
        now,
    }
}

/// Judge a guard in the fast subset ([`FastExpr`]) exactly as Rhai would judge it against the
/// scope [`scope`] builds, reading the values straight from the case. `None` when Rhai's
/// answer is not certain to be a plain comparison (a value missing or `()`, a float, a list or
/// map, two sides of different types, an ordering of strings or booleans): the caller then
/// runs the guard through Rhai.
pub fn fast_verdict(
    expr: &FastExpr,
    case: &Case,
    surface: &Surface,
    principal: &Principal,
    command: &Command,
    now: Millis,
) -> Option<bool> {
    let input = FastInput {
        case,
        surface,
        principal,
        command,
        now,
    };
    input.judge(expr)
}

/// A value as Rhai would hold it, when it is one the fast judge compares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plain<'a> {
    Int(i64),
    Str(&'a str),
    Bool(bool),
}

struct FastInput<'a> {
    case: &'a Case,
    surface: &'a Surface,
    principal: &'a Principal,
    command: &'a Command,
    now: Millis,
}

impl<'a> FastInput<'a> {
    fn judge(&self, expr: &'a FastExpr) -> Option<bool> {
        match expr {
            FastExpr::Bool(b) => Some(*b),
            FastExpr::Not(inner) => self.judge(inner).map(|b| !b),
            FastExpr::And(items) => {
                for item in items {
                    if !self.judge(item)? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            FastExpr::Or(items) => {
                for item in items {
                    if self.judge(item)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            FastExpr::Compare(op, a, b) => {
                let (a, b) = (self.value(a)?, self.value(b)?);
                match (a, b) {
                    (Plain::Int(a), Plain::Int(b)) => Some(match op {
                        CompareOp::Eq => a == b,
                        CompareOp::Ne => a != b,
                        CompareOp::Lt => a < b,
                        CompareOp::Le => a <= b,
                        CompareOp::Gt => a > b,
                        CompareOp::Ge => a >= b,
                    }),
                    (Plain::Str(_), Plain::Str(_)) | (Plain::Bool(_), Plain::Bool(_)) => match op {
                        CompareOp::Eq => Some(a == b),
                        CompareOp::Ne => Some(a != b),
                        _ => None,
                    },
                    _ => None,
                }
            }
        }
    }

    fn value(&self, operand: &'a FastOperand) -> Option<Plain<'a>> {
        match operand {
            FastOperand::Int(i) => Some(Plain::Int(*i)),
            FastOperand::Str(s) => Some(Plain::Str(s)),
            FastOperand::Bool(b) => Some(Plain::Bool(*b)),
            FastOperand::Path(root, props) => self.path(root, props),
        }
    }

    /// The value at `root.props…` in the scope [`scope`] builds (`None` where that holds
    /// `()`, a float, a list or a map, or nothing at all).
    fn path(&self, root: &str, props: &'a [String]) -> Option<Plain<'a>> {
        let case = self.case;
        let mut props = props.iter().map(String::as_str);
        let path = (root, props.next(), props.next(), props.next());
        let text = |s: Option<&'a str>| s.map(Plain::Str);
        match path {
            ("now", None, ..) => Some(Plain::Int(self.now)),
            ("actor", Some("id"), None, _) => Some(Plain::Str(&self.principal.id)),
            ("command", Some("name"), None, _) => Some(Plain::Str(self.command.kind().as_str())),
            ("case", Some("id"), None, _) => Some(Plain::Str(&case.id)),
            ("case", Some("phase"), None, _) => text(case.phase()),
            ("case", Some("assignee"), None, _) => text(case.assignee()),
            ("case", Some("owner"), None, _) => text(case.owner()),
            ("case", Some("pending_approval"), None, _) => text(case.pending_phase()),
            ("case", Some("task"), None, _) => text(case.task_state().map(|s| s.as_str())),
            ("case", Some("job"), None, _) => text(case.job_state().map(|s| s.as_str())),
            ("case", Some("service_event"), None, _) => {
                text(case.service_event_state().map(|s| s.as_str()))
            }
            ("case", Some("settlement"), None, _) => {
                text(case.settlement.as_ref().map(|s| s.status.as_str()))
            }
            ("case", Some("evidence"), Some(category), None) => {
                let declared = self
                    .surface
                    .evidence()
                    .categories
                    .iter()
                    .any(|c| c == category);
                declared.then(|| {
                    let n = case
                        .service_event
                        .as_ref()
                        .and_then(|s| s.evidence_counts.get(category))
                        .copied()
                        .unwrap_or(0);
                    Plain::Int(i64::from(n))
                })
            }
            ("case", Some("intake"), Some(field), None) => {
                match case.request.as_ref()?.intake.get(field)? {
                    Value::String(s) => Some(Plain::Str(s)),
                    Value::Bool(b) => Some(Plain::Bool(*b)),
                    Value::Number(n) => n.as_i64().map(Plain::Int),
                    Value::Null | Value::Array(_) | Value::Object(_) => None,
                }
            }
            _ => None,
        }
    }
}

/// `actor.profile`: `status`, `surfaces`, `attributes`.
fn profile_map(profile: &OperatorProfile) -> Dynamic {
    let mut map = Map::new();
    map.insert(
        "status".into(),
        Dynamic::from(profile.status.as_str().to_string()),
    );
    let surfaces: rhai::Array = profile
        .surfaces
        .iter()
        .map(|s| Dynamic::from(s.clone()))
        .collect();
    map.insert("surfaces".into(), Dynamic::from_array(surfaces));
    let mut attributes = Map::new();
    for (k, v) in &profile.attributes {
        attributes.insert(k.as_str().into(), json_to_dynamic(v, 0));
    }
    map.insert("attributes".into(), Dynamic::from_map(attributes));
    Dynamic::from_map(map)
}

fn opt_str(s: Option<&str>) -> Dynamic {
    s.map(|s| Dynamic::from(s.to_string()))
        .unwrap_or(Dynamic::UNIT)
}

/// Convert JSON to a Rhai value (bounded depth).
pub fn json_to_dynamic(v: &Value, depth: usize) -> Dynamic {
    if depth > MAX_DEPTH {
        return Dynamic::UNIT;
    }
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => Dynamic::from_array(
            items
                .iter()
                .map(|i| json_to_dynamic(i, depth + 1))
                .collect(),
        ),
        Value::Object(map) => {
            let mut m = Map::new();
            for (k, v) in map {
                m.insert(k.as_str().into(), json_to_dynamic(v, depth + 1));
            }
            Dynamic::from_map(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy::Role;
    use crate::spine::{Command, CommandBody, Event, SettlementStatus, SurfacePin, apply};
    use crate::surface::rules::Guard;

    fn surface() -> Surface {
        let (def, diags) = crate::surface::toml::parse(
            r#"
[surface]
slug = "fast"
name = "Fast"
spec = "s"
version = 1
[[phase]]
id = "queued"
label = "Q"
[[phase]]
id = "claimed"
label = "C"
[[phase]]
id = "arrived"
label = "A"
[[phase]]
id = "complete"
label = "D"
[evidence]
required_categories = ["after"]
optional_categories = ["note"]
min_per_category = 1
[intake]
required = ["contact"]
"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        crate::surface::compile::compile(&def).unwrap().surface
    }

    /// An empty case, a submitted one, and one claimed, advanced, with evidence and a settlement.
    fn cases() -> Vec<Case> {
        let mut intake = std::collections::BTreeMap::new();
        for (k, v) in [
            ("contact", json!("ava@example.com")),
            ("n", json!(3)),
            ("neg", json!(-2)),
            ("flag", json!(true)),
            ("price", json!(1.5)),
            ("list", json!([1])),
            ("map", json!({"a": 1})),
            ("nothing", json!(null)),
            ("big", json!(u64::MAX)),
            ("empty", json!("")),
        ] {
            intake.insert(k.to_string(), v);
        }
        let submitted = Event::RequestSubmitted {
            surface: SurfacePin {
                slug: "fast".into(),
                version: 1,
                fingerprint: "00".repeat(32),
            },
            intake,
            photos: vec![],
            routing_origin: None,
            by: "client".into(),
            at: 1,
        };
        let mut later = Case::new("c-1");
        for e in [
            submitted.clone(),
            Event::TaskApproved {
                by: "admin".into(),
                at: 2,
            },
            Event::TaskAssigned {
                operator: "op-lee".into(),
                by: "admin".into(),
                at: 3,
            },
            Event::JobCreated {
                by: "admin".into(),
                phase: "queued".into(),
                at: 4,
            },
            Event::JobClaimed {
                operator: "op-lee".into(),
                implicit: false,
                at: 5,
            },
            Event::ServiceEventOpened {
                phase: "claimed".into(),
                at: 5,
            },
            Event::PhaseAdvanced {
                from: "claimed".into(),
                to: "arrived".into(),
                by: "op-lee".into(),
                at: 6,
            },
            Event::EvidenceAttached {
                category: "after".into(),
                reference: "r".into(),
                by: "op-lee".into(),
                at: 7,
            },
            Event::SettlementRecorded {
                status: SettlementStatus::Captured,
                amount_minor: 5,
                currency: "USD".into(),
                by: "admin".into(),
                at: 8,
            },
        ] {
            apply(&mut later, &e);
        }
        let mut just_submitted = Case::new("c-1");
        apply(&mut just_submitted, &submitted);
        vec![Case::new("c-1"), just_submitted, later]
    }

    const GUARDS: &[&str] = &[
        "true",
        "false",
        "!true",
        "case.evidence.after >= 1",
        "case.evidence.after > 1",
        "case.evidence.note == 0",
        "case.evidence.undeclared >= 1",
        "case.evidence.after != case.evidence.note",
        r#"case.phase == "arrived""#,
        r#"case.phase != "arrived""#,
        r#"case.phase < "b""#,
        r#"case.owner == actor.id"#,
        r#"case.assignee == "op-lee" && case.job == "claimed""#,
        r#"case.task == "approved" || case.task == "open""#,
        r#"case.service_event == "open""#,
        r#"case.settlement == "captured""#,
        r#"case.id == "c-1""#,
        r#"case.intake.contact != """#,
        r#"case.intake.empty == """#,
        "case.intake.n >= 3",
        "case.intake.n == 3 && case.intake.neg < 0",
        "case.intake.flag == true",
        "case.intake.flag != false",
        "case.intake.flag > false",
        "case.intake.price > 1",
        "case.intake.list == 1",
        "case.intake.map == 1",
        "case.intake.nothing == 1",
        "case.intake.big > 0",
        "case.intake.missing == 1",
        r#"case.intake.n == "3""#,
        "case.intake.contact == 1",
        "now > 1000",
        "now == 5 || now != 5",
        r#"command.name == "advance""#,
        r#"actor.id == "op-lee""#,
        "!(case.evidence.after >= 1) || case.intake.n < 10",
        "case.evidence.after >= 1 && case.intake.price > 1",
        "case.intake.price > 1 || case.evidence.after >= 1",
        "false && case.intake.price > 1",
        "true || case.intake.missing > 1",
        r#"case.phase == "arrived" && case.evidence.after >= 1 && !(case.owner != "op-lee")"#,
    ];

    /// Wherever the fast judge answers, its answer is Rhai's verdict on the full scope.
    #[test]
    fn fast_verdicts_are_rhai_verdicts() {
        let surface = surface();
        let principals = [
            Principal::new("op-lee", [Role::Operator]),
            Principal::new("admin", [Role::Admin]),
        ];
        let commands = [
            Command::new(
                "c-1",
                CommandBody::Advance {
                    to: "arrived".into(),
                },
            ),
            Command::new("c-1", CommandBody::ClaimJob),
        ];
        let mut answered = 0;
        let mut judged = 0;
        for src in GUARDS {
            let guard = Guard::compile(src).unwrap();
            let fast = guard.fast();
            for case in &cases() {
                for principal in &principals {
                    for command in &commands {
                        for now in [5, 2000] {
                            judged += 1;
                            let rhai = guard.eval(&scope(case, &surface, principal, command, now));
                            let Some(expr) = fast else { continue };
                            if let Some(verdict) =
                                fast_verdict(expr, case, &surface, principal, command, now)
                            {
                                answered += 1;
                                assert_eq!(
                                    rhai,
                                    Ok(verdict),
                                    "`{src}` on {case:?} by {principal:?} at {now}"
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(
            answered * 2 > judged,
            "only {answered} of {judged} answered fast"
        );
    }
}

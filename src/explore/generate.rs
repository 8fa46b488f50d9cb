//! What the explorer tries in every state: representative principals, and for each command
//! representative arguments built from the surface and the literals its rules compare with.
//!
//! The argument generator is one exhaustive `match` over [`CommandKind`]: a new command does
//! not compile until it says how the explorer exercises it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::policy::{Principal, Role};
use crate::spine::{
    Command, CommandKind, OperatorProfile, OperatorStatus, SettlementStatus, WithProfiles,
};
use crate::surface::Surface;
use crate::surface::rule_check::{Literal, compared_literals};

/// The case id every explored command addresses (the emitted scenario gives each path its
/// own).
pub const CASE: &str = "case";

/// The slug no surface has, for `unknown_surface`.
pub const NO_SURFACE: &str = "no-such-surface";

/// A phase id no surface declares, for `advance`.
pub const NO_PHASE: &str = "no_such_phase";

/// A category no surface declares, for `attach_evidence`.
pub const NO_CATEGORY: &str = "no_such_category";

/// One representative principal: the key it has in an emitted scenario's `[principals]`, its
/// id and its roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Representative {
    /// The `[principals]` key (`client`, `lee`, ...).
    pub key: &'static str,
    /// The principal id.
    pub id: &'static str,
    /// The role it holds.
    pub role: Role,
}

/// The principals every state is tried with: the client who submits, another client, an
/// admin and a second admin, the operator the task is assigned to and another operator, the
/// host's system, and an observer.
pub const PRINCIPALS: [Representative; 8] = [
    Representative {
        key: "client",
        id: "client-ava",
        role: Role::Client,
    },
    Representative {
        key: "client2",
        id: "client-bo",
        role: Role::Client,
    },
    Representative {
        key: "admin",
        id: "admin-kim",
        role: Role::Admin,
    },
    Representative {
        key: "admin2",
        id: "admin-lou",
        role: Role::Admin,
    },
    Representative {
        key: "lee",
        id: "op-lee",
        role: Role::Operator,
    },
    Representative {
        key: "max",
        id: "op-max",
        role: Role::Operator,
    },
    Representative {
        key: "system",
        id: "system-bot",
        role: Role::System,
    },
    Representative {
        key: "observer",
        id: "audit-oli",
        role: Role::Observer,
    },
];

/// The operator tasks are assigned to (the other operator is never assigned: the two are
/// symmetric, so one assignee covers every case).
pub const ASSIGNEE: &str = "op-lee";

/// The other operator: a claimed Job is handed over to them (`reassign_job`).
pub const OTHER_OPERATOR: &str = "op-max";

impl Representative {
    /// As a principal.
    pub fn principal(&self) -> Principal {
        Principal::new(self.id, [self.role])
    }
}

/// The operators' profiles the walk judges with: on a surface with `operators =
/// "registered"` (or whose rules read `actor.profile`), both representative operators are
/// registered, active and bound to it (the emitted scenario registers them first); elsewhere
/// none.
pub fn operator_profiles(surface: &Surface) -> Vec<OperatorProfile> {
    if !surface.registered_operators() && !surface.reads_profile() {
        return Vec::new();
    }
    PRINCIPALS
        .iter()
        .filter(|p| p.role == Role::Operator)
        .map(|p| OperatorProfile {
            id: p.id.to_string(),
            name: p.key.to_string(),
            status: OperatorStatus::Active,
            surfaces: vec![surface.slug().to_string()],
            attributes: BTreeMap::new(),
            suspended_reason: None,
        })
        .collect()
}

/// The catalog the walk judges with: the surface and [`operator_profiles`].
pub fn catalog(surface: &Surface) -> WithProfiles<&Surface> {
    operator_profiles(surface)
        .into_iter()
        .fold(WithProfiles::new(surface), WithProfiles::with)
}

/// The index in [`PRINCIPALS`] of the principal with `id`.
pub fn principal_index(id: &str) -> Option<usize> {
    PRINCIPALS.iter().position(|p| p.id == id)
}

/// One thing to try: a command with its arguments (as a scenario would write them), and the
/// command built from them exactly as the scenario runner builds it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The command.
    pub kind: CommandKind,
    /// Its arguments.
    pub args: Value,
    /// `Command::from_json(CASE, kind, args)`.
    pub command: Command,
}

/// The literals the surface's rules compare each scope path with (`case.intake.urgency` →
/// `"high"`), read once.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    by_path: BTreeMap<Vec<String>, BTreeSet<Literal>>,
}

impl Hints {
    /// Read every rule of `surface`.
    pub fn of(surface: &Surface) -> Hints {
        let mut hints = Hints::default();
        for rule in surface.rules() {
            for (path, literal) in compared_literals(&rule.when) {
                hints.by_path.entry(path).or_default().insert(literal);
            }
        }
        hints
    }

    /// The literals compared with the value at `path`.
    pub fn at<'a>(&'a self, path: &[&str]) -> impl Iterator<Item = &'a Literal> + 'a {
        let key: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
        self.by_path.get(&key).into_iter().flatten()
    }

    /// The largest whole number compared with `path`, if any.
    pub fn max_int(&self, path: &[&str]) -> Option<i64> {
        self.at(path)
            .filter_map(|l| match l {
                Literal::Int(n) => Some(*n),
                _ => None,
            })
            .max()
    }

    /// The texts compared with `path`.
    fn texts(&self, path: &[&str]) -> Vec<String> {
        self.at(path)
            .filter_map(|l| match l {
                Literal::Text(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

/// At most this many argument variants of one command (bounds the walk's width).
const MAX_VARIANTS: usize = 16;

/// Every candidate command, for every command kind, in [`CommandKind::ALL`] order.
pub fn candidates(surface: &Surface, hints: &Hints) -> Vec<Candidate> {
    let mut out = Vec::new();
    for kind in CommandKind::ALL {
        let mut variants = arguments(kind, surface, hints);
        variants.dedup();
        variants.truncate(MAX_VARIANTS);
        for args in variants {
            if let Ok(command) = Command::from_json(CASE, kind.as_str(), &args) {
                out.push(Candidate {
                    kind,
                    args,
                    command,
                });
            }
        }
    }
    out
}

/// `{"name": text}`, an empty one (`payload_invalid`), and one per text the rules compare
/// `command.<name>` with.
fn text_arg(name: &str, text: &str, hints: &Hints) -> Vec<Value> {
    let mut out = vec![json!({ name: text }), json!({ name: "" })];
    for hint in hints.texts(&["command", name]) {
        out.push(json!({ name: hint }));
    }
    out
}

/// The representative arguments of `kind`. Exhaustive on purpose: a new command must say
/// here how it is exercised.
fn arguments(kind: CommandKind, surface: &Surface, hints: &Hints) -> Vec<Value> {
    use CommandKind as K;
    // Arguments a command does not take make it `payload_invalid`.
    let extra = json!({ "unexpected": 1 });
    match kind {
        K::SubmitRequest => submissions(surface, hints),
        K::ApproveTask
        | K::CloseTask
        | K::CreateJob
        | K::ClaimJob
        | K::CompleteJob
        | K::ApproveTransition => {
            vec![json!({}), extra]
        }
        K::RejectTask => text_arg("reason", "not this time", hints),
        K::ReleaseJob => text_arg("reason", "cannot make it", hints),
        K::RejectTransition => text_arg("reason", "not yet", hints),
        K::ReassignJob => vec![
            json!({ "operator": OTHER_OPERATOR, "reason": "handover" }),
            json!({ "operator": ASSIGNEE, "reason": "handover" }),
            json!({ "operator": "", "reason": "handover" }),
        ],
        // The operator directory addresses operators, not the case the walk explores; the
        // walk registers the representative operators up front instead (see `mod.rs`).
        K::RegisterOperator | K::UpdateOperator | K::SuspendOperator | K::ReinstateOperator => {
            Vec::new()
        }
        // A move needs a second version of the surface; the walk explores one
        // (`planck diff --db` and the migration tests cover it).
        K::MigrateCase => Vec::new(),
        K::CancelJob => text_arg("reason", "called off", hints),
        K::AnnotateTask => text_arg("note", "a note", hints),
        K::ErasePersonalData => text_arg("reason", "the client asked", hints),
        K::AssignTask => vec![json!({ "operator": ASSIGNEE }), json!({ "operator": "" })],
        K::Advance => {
            let mut out: Vec<Value> = surface
                .phases()
                .iter()
                .map(|p| json!({ "to": p.id }))
                .collect();
            out.push(json!({ "to": NO_PHASE }));
            out.push(json!({ "to": 1 }));
            out
        }
        K::AttachEvidence => {
            let mut out: Vec<Value> = surface
                .evidence()
                .categories
                .iter()
                .map(|c| json!({ "category": c, "ref": "evidence-1" }))
                .collect();
            out.push(json!({ "category": NO_CATEGORY, "ref": "evidence-1" }));
            for hint in hints.texts(&["command", "ref"]) {
                if let Some(c) = surface.evidence().categories.first() {
                    out.push(json!({ "category": c, "ref": hint }));
                }
            }
            out.push(json!({ "category": "", "ref": "evidence-1" }));
            out
        }
        K::CompleteServiceEvent => {
            let mut out = vec![json!({})];
            for hint in hints.texts(&["command", "outcome"]) {
                out.push(json!({ "outcome": hint }));
            }
            out.push(extra);
            out
        }
        K::RecordSettlement => {
            let mut amounts = vec![10_000_i64];
            if let Some(n) = hints.max_int(&["command", "amount_minor"]) {
                amounts.extend([n.saturating_sub(1).max(0), n, n.saturating_add(1)]);
            }
            let statuses = [
                SettlementStatus::Pending,
                SettlementStatus::Captured,
                SettlementStatus::Refunded,
                SettlementStatus::Waived,
            ];
            let mut out = Vec::new();
            for status in statuses {
                out.push(
                    json!({ "status": status.as_str(), "amount_minor": 10_000, "currency": "USD" }),
                );
            }
            for amount in amounts.into_iter().skip(1) {
                out.push(
                    json!({ "status": "captured", "amount_minor": amount, "currency": "USD" }),
                );
            }
            out.push(json!({ "status": "captured", "amount_minor": 10_000, "currency": "usd" }));
            out
        }
    }
}

/// The intake every submission starts from: each required field given, no optional one.
pub fn base_intake(surface: &Surface) -> Map<String, Value> {
    surface
        .intake()
        .required
        .iter()
        .map(|f| (f.clone(), Value::String(format!("{f} given"))))
        .collect()
}

/// `submit_request` variants: a valid intake, one that breaks the intake contract, one on a
/// surface that does not exist, one that is malformed, then one per literal the rules compare
/// an intake field with (and its neighbours for numbers).
fn submissions(surface: &Surface, hints: &Hints) -> Vec<Value> {
    let base = base_intake(surface);
    let photos: Vec<String> = (1..=surface.intake().min_photos)
        .map(|i| format!("photo-{i}"))
        .collect();
    let submit = |slug: &str, intake: &Map<String, Value>| {
        if photos.is_empty() {
            json!({ "surface": slug, "intake": intake })
        } else {
            json!({ "surface": slug, "intake": intake, "photos": photos })
        }
    };
    let contract = surface.intake();
    // Breaks the intake contract: a required field missing, or an undeclared one.
    let mut broken = base.clone();
    match contract.required.first() {
        Some(field) => {
            broken.remove(field);
        }
        None => {
            broken.insert("undeclared_field".into(), json!("x"));
        }
    }
    let mut out = vec![
        submit(surface.slug(), &base),
        submit(surface.slug(), &broken),
        submit(NO_SURFACE, &base),
        json!({ "surface": surface.slug(), "intake": "not a map" }),
    ];
    let fields = contract.required.iter().chain(&contract.optional);
    for field in fields {
        for root in ["case", "command"] {
            for literal in hints.at(&[root, "intake", field]) {
                let values = match literal {
                    Literal::Text(s) => vec![Value::String(s.clone())],
                    Literal::Int(n) => vec![
                        json!(n.saturating_sub(1)),
                        json!(n),
                        json!(n.saturating_add(1)),
                    ],
                    Literal::Bool(b) => vec![json!(b), json!(!b)],
                };
                for value in values {
                    let mut intake = base.clone();
                    intake.insert(field.clone(), value);
                    out.push(submit(surface.slug(), &intake));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spine::CommandBody;
    use crate::surface::rule_check::command_args;

    fn surface() -> Surface {
        let (def, diags) = crate::surface::toml::parse(
            r#"
[surface]
slug = "gen"
name = "Gen"
spec = "s"
version = 1
[[phase]]
id = "queued"
label = "Q"
[[phase]]
id = "claimed"
label = "C"
[[phase]]
id = "done"
label = "D"
[evidence]
required_categories = ["photo"]
[intake]
required = ["contact"]
optional = ["guests"]
[[rule]]
name = "small"
on = "submit_request"
when = 'case.intake.guests == () || case.intake.guests <= 50'
message = "too many"
"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        crate::surface::compile(&def).unwrap().surface
    }

    /// What the rule checker says a rule can read in `command` is what commands carry.
    #[test]
    fn the_rule_checkers_argument_table_matches_the_commands() {
        let surface = surface();
        let all = candidates(&surface, &Hints::of(&surface));
        for kind in CommandKind::ALL {
            if kind.addresses_operator() {
                continue;
            }
            let body = all
                .iter()
                .find(|c| {
                    c.kind == kind && !matches!(c.command.body, CommandBody::Malformed { .. })
                })
                .map(|c| c.command.body.clone())
                // The walk does not try `migrate_case` (it explores one version).
                .or_else(|| {
                    (kind == CommandKind::MigrateCase)
                        .then_some(CommandBody::MigrateCase { to_version: 2 })
                })
                .unwrap_or_else(|| panic!("no well-formed candidate for {kind}"));
            let Value::Object(args) = body.args_json() else {
                panic!("{kind}")
            };
            let mut real: Vec<&str> = args.keys().map(String::as_str).collect();
            let mut table: Vec<&str> = command_args(kind).iter().map(|(n, _)| *n).collect();
            real.sort_unstable();
            table.sort_unstable();
            assert_eq!(real, table, "{kind}");
        }
    }

    #[test]
    fn intake_variants_come_from_rule_literals() {
        let surface = surface();
        let all = candidates(&surface, &Hints::of(&surface));
        let guests: Vec<&Value> = all
            .iter()
            .filter(|c| c.kind == CommandKind::SubmitRequest)
            .filter_map(|c| c.args.get("intake")?.get("guests"))
            .collect();
        assert_eq!(guests, vec![&json!(49), &json!(50), &json!(51)]);
    }
}

//! Shared helpers for the spine tests: surfaces, principals and a harness that folds accepted
//! events into the case the way the engine does (but with no store: `decide` + `evolve` only).
#![allow(dead_code, reason = "a helper may have no test yet")]

pub mod truth;

use std::path::Path;

use std::collections::BTreeMap;

use planck::policy::{Principal, Role};
use planck::spine::operator::apply_profile;
use planck::spine::{
    self, Case, Command, CommandBody, Event, Millis, OperatorProfile, Rejection, RejectionCode,
    SettlementStatus, WithProfiles,
};
use planck::surface::Surface;
use serde_json::{Value, json};

/// Compile a TOML surface from text, panicking with the diagnostics if it is invalid.
pub fn surface_from_toml(text: &str) -> Surface {
    let (def, diags) = planck::surface::toml::parse(text);
    assert!(
        !planck::surface::diagnostic::has_errors(&diags),
        "{diags:#?}"
    );
    match planck::surface::compile::compile(&def) {
        Ok(compiled) => compiled.surface,
        Err(diags) => panic!("{diags:#?}"),
    }
}

/// A shipped surface by slug (from `surfaces/<slug>.toml`).
pub fn shipped(slug: &str) -> Surface {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("surfaces")
        .join(format!("{slug}.toml"));
    surface_from_toml(&std::fs::read_to_string(path).unwrap())
}

/// A five-phase test surface; `extra` is appended TOML (rules, transitions, ...), and
/// `execution` replaces the `[execution]` body.
pub fn custom(slug: &str, status: &str, execution: &str, extra: &str) -> Surface {
    custom_version(slug, 1, status, execution, extra)
}

/// [`custom`] at an explicit version.
pub fn custom_version(
    slug: &str,
    version: u32,
    status: &str,
    execution: &str,
    extra: &str,
) -> Surface {
    surface_from_toml(&format!(
        r#"
[surface]
slug = "{slug}"
name = "Test {slug}"
spec = "surface-runtime-spec-v0.01"
version = {version}
status = "{status}"

[execution]
{execution}

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
id = "in_progress"
label = "Working"
[[phase]]
id = "complete"
label = "Complete"

[evidence]
required_categories = ["after"]
optional_categories = ["note"]
min_per_category = 1

[intake]
required = ["contact"]
optional = ["notes"]

{extra}
"#
    ))
}

/// Every surface the spine tests use.
pub fn catalog() -> Vec<Surface> {
    vec![
        shipped("event-coordination"),
        shipped("auto-detailing"),
        custom(
            "guarded",
            "active",
            "",
            r#"
[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "in_progress"
rule = "has_contact"
[[transition]]
from = "in_progress"
to = "complete"

[[rule]]
name = "has_contact"
on = "transition"
when = 'case.intake.contact != ""'
message = "the request has no contact"

[[rule]]
name = "not_blocked"
on = "advance"
when = '!("notes" in case.intake) || case.intake.notes != "blocked"'
message = "the job is blocked"

[[rule]]
name = "claim_window"
on = "claim_job"
when = 'case.intake.contact != "nobody@example.com"'
message = "this request may not be claimed"

[[rule]]
name = "no_spam"
on = "submit_request"
when = 'case.intake.contact != "spam@example.com"'
message = "spam is refused"

[[rule]]
name = "broken"
on = "attach_evidence"
when = 'if command.category == "note" { 1 } else { true }'
message = "never shown"

[[escalation]]
phase = "claimed"
after = "2h"
signal = "claim_stale"

[[escalation]]
phase = "queued"
after = "1d"
signal = "unclaimed"
"#,
        ),
        custom("prepaid", "active", r#"payment_timing = "prepaid""#, ""),
        custom("paused", "paused", "", ""),
        custom_version("flip", 1, "active", "", ""),
        custom_version("flip", 2, "paused", "", ""),
        custom("optional-claim", "active", "claim = \"optional\"", ""),
        custom("open-ownership", "active", "ownership = \"open\"", ""),
        custom("repair", "active", "operators = \"registered\"", REPAIR),
        custom("quote", "active", "", QUOTE),
    ]
}

/// The governed test surface (`operators = "registered"`): the move into `in_progress` waits
/// for the client, the completion for an admin; rules on the governance commands.
pub const REPAIR: &str = r#"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "in_progress"
approval = ["client"]
[[transition]]
from = "in_progress"
to = "complete"
approval = ["admin"]
rule = "not_refunded"

[[rule]]
name = "not_refunded"
on = "transition"
when = 'case.settlement != "refunded"'
message = "the payment was refunded: the work is not signed off"

[[rule]]
name = "handover_reason"
on = "reassign_job"
when = 'command.reason != "whim"'
message = "a handover needs a real reason"

[[rule]]
name = "release_reason"
on = "release_job"
when = 'command.reason != "whim"'
message = "a release needs a real reason"

[[rule]]
name = "say_why"
on = "reject_transition"
when = 'command.reason != "because"'
message = "say why the move is rejected"

[[rule]]
name = "approvals_open"
on = "approve_transition"
when = 'case.intake.contact != "frozen@example.com"'
message = "approvals are frozen for this request"
"#;

/// A test surface with `operators = "any"` whose move into `in_progress` an operator or an
/// admin approves, and whose claim rule reads `actor.profile`.
pub const QUOTE: &str = r#"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "in_progress"
approval = ["operator", "admin"]
[[transition]]
from = "in_progress"
to = "complete"

[[rule]]
name = "not_suspended"
on = "claim_job"
when = 'actor.profile == () || actor.profile.status == "active"'
message = "a suspended operator does not claim here"
"#;

pub fn client() -> Principal {
    Principal::new("client-ava", [Role::Client])
}
pub fn admin() -> Principal {
    Principal::new("admin-kim", [Role::Admin])
}
pub fn lee() -> Principal {
    Principal::new("op-lee", [Role::Operator])
}
pub fn max() -> Principal {
    Principal::new("op-max", [Role::Operator])
}
pub fn system() -> Principal {
    Principal::new("billing", [Role::System])
}
pub fn observer() -> Principal {
    Principal::new("auditor", [Role::Observer])
}

/// The intake each shipped or test surface accepts.
pub fn intake_for(slug: &str) -> Value {
    match slug {
        "event-coordination" => json!({
            "contact": "ava@example.com", "event_details": "40 guests", "preferred_timing": "Sat pm"
        }),
        "auto-detailing" => json!({
            "contact": "ava@example.com", "vehicle": "2019 Civic", "service_address": "1 Main St",
            "preferred_timing": "Mon am"
        }),
        _ => json!({ "contact": "ava@example.com" }),
    }
}

/// The submit command for `slug` on `case`.
pub fn submit(case: &str, slug: &str) -> Command {
    let photos = if slug == "auto-detailing" {
        json!(["p1.jpg", "p2.jpg"])
    } else {
        json!([])
    };
    Command::from_json(
        case,
        "submit_request",
        &json!({ "surface": slug, "intake": intake_for(slug), "photos": photos }),
    )
    .unwrap()
}

/// A command from its name and JSON args.
pub fn cmd(case: &str, name: &str, args: Value) -> Command {
    Command::from_json(case, name, &args).unwrap()
}

/// A directory command from its name and JSON args (addressed to the operator's stream).
pub fn op_cmd(name: &str, args: Value) -> Command {
    Command::for_operator(name, &args).unwrap()
}

/// A case driven through `decide` + `evolve` only, with an operator directory beside it.
pub struct Harness {
    pub catalog: Vec<Surface>,
    pub case: Case,
    pub events: Vec<Event>,
    pub now: Millis,
    /// Operator profiles, folded from the directory commands sent with [`Harness::directory`].
    pub profiles: BTreeMap<String, OperatorProfile>,
}

impl Harness {
    pub fn new(case: &str) -> Self {
        Harness {
            catalog: catalog(),
            case: Case::new(case),
            events: Vec::new(),
            now: 1_767_225_600_000,
            profiles: BTreeMap::new(),
        }
    }

    /// The surfaces and the profiles: what `decide` may look up.
    pub fn lookup(&self) -> WithProfiles<&Vec<Surface>> {
        WithProfiles {
            surfaces: &self.catalog,
            profiles: self.profiles.clone(),
        }
    }

    /// Judge a directory command and, when accepted, fold it into the operator's profile. A
    /// rejection must leave the profiles unchanged.
    pub fn directory(
        &mut self,
        who: &Principal,
        command: Command,
    ) -> Result<Vec<Event>, Rejection> {
        let before = self.profiles.clone();
        let stream = Case::new(command.case.clone());
        let result = spine::decide(&stream, &self.lookup(), who, &command, self.now);
        match &result {
            Ok(events) => {
                let id = command.directory_target().unwrap().to_string();
                let mut profile = self.profiles.remove(&id);
                for e in events {
                    apply_profile(&mut profile, e).unwrap();
                }
                self.profiles.extend(profile.map(|p| (id, p)));
            }
            Err(_) => assert_eq!(self.profiles, before),
        }
        result
    }

    /// A directory command that must be accepted.
    pub fn register(&mut self, operator: &str, surfaces: &[&str]) {
        let c = op_cmd(
            "register_operator",
            json!({ "operator": operator, "name": operator, "surfaces": surfaces }),
        );
        self.directory(&admin(), c).unwrap();
    }

    /// Judge and, when accepted, fold. A rejection must leave the case unchanged.
    pub fn send(&mut self, who: &Principal, command: Command) -> Result<Vec<Event>, Rejection> {
        let before = self.case.clone();
        let result = spine::decide(&self.case, &self.lookup(), who, &command, self.now);
        match &result {
            Ok(events) => {
                for e in events {
                    spine::apply(&mut self.case, e);
                }
                self.events.extend(events.iter().cloned());
            }
            Err(_) => assert_eq!(self.case, before),
        }
        result
    }

    pub fn ok(&mut self, who: &Principal, name: &str, args: Value) -> Vec<Event> {
        let case = self.case.id.clone();
        match self.send(who, cmd(&case, name, args)) {
            Ok(events) => events,
            Err(r) => panic!("{name} by {} was refused: {r}", who.id),
        }
    }

    pub fn code(&mut self, who: &Principal, name: &str, args: Value) -> RejectionCode {
        let case = self.case.id.clone();
        match self.send(who, cmd(&case, name, args)) {
            Ok(events) => panic!("{name} by {} was accepted: {events:?}", who.id),
            Err(r) => r.code,
        }
    }

    pub fn submit(&mut self, slug: &str) {
        let c = submit(&self.case.id.clone(), slug);
        self.send(&client(), c).unwrap();
    }

    /// Submit, approve, assign op-lee and create the job.
    pub fn reach_job(&mut self, slug: &str) {
        self.submit(slug);
        self.ok(&admin(), "approve_task", Value::Null);
        self.ok(&admin(), "assign_task", json!({ "operator": "op-lee" }));
        self.ok(&admin(), "create_job", Value::Null);
    }

    /// ... and op-lee claims.
    pub fn reach_claimed(&mut self, slug: &str) {
        self.reach_job(slug);
        self.ok(&lee(), "claim_job", Value::Null);
    }

    /// ... and the service event completes (no evidence needed on event-coordination).
    pub fn reach_complete(&mut self, slug: &str) {
        self.reach_claimed(slug);
        self.ok(&lee(), "advance", json!({ "to": "arrived" }));
        self.ok(&lee(), "advance", json!({ "to": "in_progress" }));
        self.ok(
            &lee(),
            "complete_service_event",
            json!({ "outcome": "delivered" }),
        );
    }

    pub fn settle(&mut self, status: SettlementStatus) {
        self.ok(
            &admin(),
            "record_settlement",
            json!({ "status": status.as_str(), "amount_minor": 1000, "currency": "USD" }),
        );
    }

    /// Folding every accepted event from empty rebuilds this case.
    pub fn assert_replays(&self) {
        let rebuilt = spine::replay(&self.case.id, &self.events);
        assert_eq!(rebuilt, self.case);
    }
}

/// `Malformed` bodies are never accepted.
pub fn is_malformed(c: &Command) -> bool {
    matches!(c.body, CommandBody::Malformed { .. })
}

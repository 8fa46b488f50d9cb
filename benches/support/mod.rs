//! Shared fixtures for planck's benches: surfaces (shipped, the peer lifecycle, generated ones),
//! principals, and each benchmarked lifecycle as a list of typed commands.
//!
//! Commands are built as typed [`CommandBody`] values (not parsed from JSON), so the benches
//! time the spine and not the JSON front door. Each bench file uses a different subset.
#![allow(dead_code, reason = "each bench binary uses a different subset")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "bench fixtures: a broken fixture should stop the bench loudly"
)]

use std::collections::BTreeMap;
use std::path::Path;

use planck::policy::{Principal, Role};
use planck::spine::{self, Case, Command, CommandBody, Event, Millis, SettlementStatus};
use planck::surface::Surface;
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z, the time every bench runs at.
pub const NOW: Millis = 1_767_225_600_000;

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

/// The text of a shipped surface file (`surfaces/<name>`).
pub fn shipped_text(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("surfaces")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A shipped surface by slug (from `surfaces/<slug>.toml`).
pub fn shipped(slug: &str) -> Surface {
    surface_from_toml(&shipped_text(&format!("{slug}.toml")))
}

/// The five-phase lifecycle every peer runs (queued → claimed → arrived → in_progress →
/// complete), with a Rhai guard on completion that reads the evidence, exactly like the guard
/// in `benches/peers/xstate.mjs` and `benches/peers/rust-fsm`.
pub const PEER_LIFECYCLE: &str = r#"
[surface]
slug = "peer-lifecycle"
name = "Peer lifecycle"
spec = "surface-runtime-spec-v0.01"
version = 1

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
label = "In progress"
[[phase]]
id = "complete"
label = "Complete"

[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "in_progress"
[[transition]]
from = "in_progress"
to = "complete"
rule = "after_photos"

[evidence]
optional_categories = ["after"]

[intake]
required = ["contact"]

[[rule]]
name = "after_photos"
on = "transition"
when = 'case.evidence.after >= 1'
message = "the after photos are missing"
"#;

/// The peer lifecycle surface.
pub fn peer_surface() -> Surface {
    surface_from_toml(PEER_LIFECYCLE)
}

/// A five-phase surface whose `arrived → in_progress` move carries a Rhai rule (`guarded`) or
/// the same surface without it (`plain`): the pair the guard-cost figure compares.
pub fn guard_pair() -> (Surface, Surface) {
    let base = |slug: &str, rule: &str, rules: &str| {
        format!(
            r#"
[surface]
slug = "{slug}"
name = "Guard cost"
spec = "surface-runtime-spec-v0.01"
version = 1
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
label = "In progress"
[[phase]]
id = "complete"
label = "Complete"
[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "in_progress"
{rule}
[[transition]]
from = "in_progress"
to = "complete"
[evidence]
optional_categories = ["arrival"]
[intake]
required = ["contact"]
{rules}
"#
        )
    };
    let guarded = surface_from_toml(&base(
        "guarded",
        r#"rule = "crew_on_site""#,
        r#"
[[rule]]
name = "crew_on_site"
on = "transition"
when = 'case.evidence.arrival >= 1'
message = "the crew has not checked in on site""#,
    ));
    let plain = surface_from_toml(&base("plain", "", ""));
    (guarded, plain)
}

/// The guarded surface of [`guard_pair`] with a rule outside the spine's fast subset (it uses
/// `in`), so Rhai itself judges it on every move: the cost of the interpreter path.
pub fn rhai_guarded() -> Surface {
    let (guarded, _) = guard_pair();
    let toml = planck::surface::print::to_toml(guarded.definition())
        .replace("slug = \"guarded\"", "slug = \"rhai-guarded\"")
        .replace(
            "case.evidence.arrival >= 1",
            "\"arrival\" in case.evidence && case.evidence.arrival >= 1",
        );
    let surface = surface_from_toml(&toml);
    assert!(
        surface.rules().iter().all(|r| r.guard.fast().is_none()),
        "the rule must need Rhai"
    );
    surface
}

/// A generated surface in TOML with `n` phases (`p0` … `p{n-1}`), a linear chain of declared
/// transitions, and two evidence categories: the shape a generator of large surfaces writes.
pub fn generated_toml(n: usize) -> String {
    let mut s = String::with_capacity(64 * n + 512);
    s.push_str(
        "[surface]\nslug = \"generated\"\nname = \"Generated\"\nspec = \"surface-runtime-spec-v0.01\"\nversion = 1\n\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "[[phase]]\nid = \"p{i}\"\nlabel = \"Phase {i}\"\n"
        ));
    }
    for i in 1..n {
        s.push_str(&format!(
            "[[transition]]\nfrom = \"p{}\"\nto = \"p{i}\"\n",
            i - 1
        ));
    }
    s.push_str(
        "\n[evidence]\nrequired_categories = [\"after\"]\noptional_categories = [\"note\"]\nmin_per_category = 1\n\n[intake]\nrequired = [\"contact\"]\n",
    );
    s
}

/// The same generated surface in the DSL form.
pub fn generated_dsl(n: usize) -> String {
    let mut s = String::with_capacity(48 * n + 512);
    s.push_str(
        "surface generated v1 \"Generated\" {\n  spec \"surface-runtime-spec-v0.01\"\n  phases {\n",
    );
    for i in 0..n {
        s.push_str(&format!("    p{i} \"Phase {i}\"\n"));
    }
    s.push_str("  }\n");
    for i in 1..n {
        s.push_str(&format!("  transition p{} -> p{i}\n", i - 1));
    }
    s.push_str(
        "  evidence {\n    required [after]\n    optional [note]\n    min_per_category 1\n  }\n  intake {\n    required [contact]\n  }\n}\n",
    );
    s
}

pub fn client() -> Principal {
    Principal::new("client-ava", [Role::Client])
}
pub fn admin() -> Principal {
    Principal::new("admin-kim", [Role::Admin])
}
pub fn lee() -> Principal {
    Principal::new("op-lee", [Role::Operator])
}

/// The intake each surface accepts.
pub fn intake_for(slug: &str) -> BTreeMap<String, Value> {
    let v = match slug {
        "event-coordination" => json!({
            "contact": "ava@example.com", "event_details": "40 guests", "preferred_timing": "Sat pm"
        }),
        "auto-detailing" => json!({
            "contact": "ava@example.com", "vehicle": "2019 Civic", "service_address": "1 Main St",
            "preferred_timing": "Mon am"
        }),
        _ => json!({ "contact": "ava@example.com" }),
    };
    serde_json::from_value(v).unwrap()
}

/// One step of a lifecycle: a short label, who sends it and what.
pub struct Step {
    pub label: &'static str,
    pub who: Principal,
    pub body: CommandBody,
}

fn step(label: &'static str, who: Principal, body: CommandBody) -> Step {
    Step { label, who, body }
}

fn advance(to: &str) -> CommandBody {
    CommandBody::Advance { to: to.into() }
}

fn attach(category: &str, reference: &str) -> CommandBody {
    CommandBody::AttachEvidence {
        category: category.into(),
        reference: reference.into(),
    }
}

/// Every command of a whole lifecycle (submit → settle) on `slug`, in order. The evidence
/// steps are those the surface needs (auto-detailing's photos, the peer lifecycle's guard).
pub fn lifecycle(slug: &str) -> Vec<Step> {
    let photos = if slug == "auto-detailing" {
        vec!["p1.jpg".to_string(), "p2.jpg".to_string()]
    } else {
        Vec::new()
    };
    let mut steps = vec![
        step(
            "submit_request",
            client(),
            CommandBody::SubmitRequest {
                surface: slug.into(),
                intake: intake_for(slug),
                photos,
                routing_origin: None,
            },
        ),
        step("approve_task", admin(), CommandBody::ApproveTask),
        step(
            "assign_task",
            admin(),
            CommandBody::AssignTask {
                operator: "op-lee".into(),
            },
        ),
        step("create_job", admin(), CommandBody::CreateJob),
        step("claim_job", lee(), CommandBody::ClaimJob),
    ];
    match slug {
        "auto-detailing" => {
            steps.push(step("advance:arrived", lee(), advance("arrived")));
            steps.push(step(
                "attach:arrival",
                lee(),
                attach("arrival", "s3://ev/arrival.jpg"),
            ));
            steps.push(step(
                "attach:before",
                lee(),
                attach("before", "s3://ev/before.jpg"),
            ));
            steps.push(step("advance:in_progress", lee(), advance("in_progress")));
            steps.push(step(
                "attach:after",
                lee(),
                attach("after", "s3://ev/after.jpg"),
            ));
        }
        "peer-lifecycle" => {
            steps.push(step("advance:arrived", lee(), advance("arrived")));
            steps.push(step("advance:in_progress", lee(), advance("in_progress")));
            steps.push(step(
                "attach:after",
                lee(),
                attach("after", "s3://ev/after.jpg"),
            ));
        }
        _ => {
            steps.push(step("advance:arrived", lee(), advance("arrived")));
            steps.push(step("advance:in_progress", lee(), advance("in_progress")));
        }
    }
    steps.push(step(
        "complete_service_event",
        lee(),
        CommandBody::CompleteServiceEvent {
            outcome: Some("delivered".into()),
        },
    ));
    steps.push(step("complete_job", lee(), CommandBody::CompleteJob));
    steps.push(step(
        "record_settlement",
        admin(),
        CommandBody::RecordSettlement {
            status: SettlementStatus::Captured,
            amount_minor: 12_500,
            currency: "USD".into(),
        },
    ));
    steps
}

/// The steps as commands on `case`.
pub fn commands(case: &str, steps: &[Step]) -> Vec<(Principal, Command)> {
    steps
        .iter()
        .map(|s| (s.who.clone(), Command::new(case, s.body.clone())))
        .collect()
}

/// Drive `steps` through `decide` + `apply` on `catalog`, returning the case *before* each
/// step (what the per-command benches start from) and every event, in order.
pub fn drive(
    catalog: &impl spine::Catalog,
    case_id: &str,
    steps: &[Step],
) -> (Vec<Case>, Vec<Vec<Event>>) {
    let mut case = Case::new(case_id);
    let mut before = Vec::with_capacity(steps.len());
    let mut events = Vec::with_capacity(steps.len());
    for s in steps {
        before.push(case.clone());
        let command = Command::new(case_id, s.body.clone());
        let out = spine::decide(&case, catalog, &s.who, &command, NOW)
            .unwrap_or_else(|r| panic!("{} was refused: {r}", s.label));
        for e in &out {
            spine::apply(&mut case, e);
        }
        events.push(out);
    }
    (before, events)
}

/// A registry holding the shipped surfaces and the peer lifecycle.
pub fn registry() -> std::sync::Arc<planck::surface::registry::Registry> {
    let mut registry = planck::surface::registry::Registry::new();
    for surface in [
        shipped("event-coordination"),
        shipped("auto-detailing"),
        peer_surface(),
    ] {
        registry.register(surface).unwrap();
    }
    std::sync::Arc::new(registry)
}

/// An engine over `store` with the bench registry, no transport and a fixed clock.
pub fn engine<S: planck::host::Store>(
    store: S,
) -> planck::engine::Engine<S, planck::host::NullTransport, planck::host::ManualClock> {
    planck::engine::Engine::new(
        registry(),
        store,
        planck::host::NullTransport,
        planck::host::ManualClock::new(NOW),
    )
}

/// Run a whole lifecycle of `steps` on a fresh `case` through `engine`; every command must
/// be applied. Returns the number of commands.
pub fn engine_lifecycle<
    S: planck::host::Store,
    T: planck::host::Transport,
    C: planck::host::Clock,
>(
    engine: &planck::engine::Engine<S, T, C>,
    case: &str,
    steps: &[Step],
) -> usize {
    for s in steps {
        let command = Command::new(case, s.body.clone());
        let receipt = engine.execute(&s.who, &command, None).unwrap();
        assert!(receipt.is_applied(), "{}: {receipt:?}", s.label);
    }
    steps.len()
}

/// A unique case id per call (benches append new cases on every iteration).
pub fn fresh_case(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Seal a whole lifecycle of `surface` on `case_id` as stored envelopes, the way the engine
/// would (one `seal` per command, each command's events chained to the previous ones).
pub fn sealed_lifecycle(surface: &Surface, case_id: &str) -> Vec<planck::audit::StoredEvent> {
    let steps = lifecycle(surface.slug());
    let (before, events) = drive(surface, case_id, &steps);
    let mut stored: Vec<planck::audit::StoredEvent> = Vec::new();
    for ((step, case), events) in steps.iter().zip(&before).zip(events) {
        let pin = match (&case.request, events.first()) {
            (Some(r), _) => r.surface.clone(),
            (None, Some(Event::RequestSubmitted { surface, .. })) => surface.clone(),
            _ => panic!("{}: no surface pin", step.label),
        };
        let envelope = planck::audit::Envelope {
            case_id,
            actor: &step.who,
            surface: &pin,
            idempotency_key: None,
            at: NOW,
            host_at: None,
        };
        let sealed = envelope.seal(stored.last(), events).unwrap();
        stored.extend(sealed);
    }
    stored
}

/// planck's `events` table and its two SQL indexes, as `src/host/sqlite.rs` creates them: the
/// schema of the benches' raw rusqlite floors.
pub const EVENTS_SCHEMA: &str = "
CREATE TABLE events (
    case_id             TEXT    NOT NULL,
    seq                 INTEGER NOT NULL,
    event_id            TEXT    NOT NULL UNIQUE,
    event_type          TEXT    NOT NULL,
    schema_version      INTEGER NOT NULL,
    ts_utc              TEXT    NOT NULL,
    ts_ms               INTEGER NOT NULL,
    actor               TEXT    NOT NULL,
    surface             TEXT    NOT NULL,
    surface_fingerprint TEXT    NOT NULL,
    idempotency_key     TEXT,
    payload             TEXT    NOT NULL,
    prev_digest         TEXT    NOT NULL,
    digest              TEXT    NOT NULL,
    position            INTEGER,
    host_ts_ms          INTEGER,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX events_case_starts ON events (seq) WHERE seq = 1;
CREATE UNIQUE INDEX events_position ON events (position);";

/// `SqliteStore`'s insert of one event row, written by [`EventRow::insert`].
pub const EVENTS_INSERT: &str =
    "INSERT INTO events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq, actor,
                     surface, surface_fingerprint, idempotency_key, payload, prev_digest, digest,
                     position, host_ts_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// One event's row, serialized the way `SqliteStore` stores it (actor and payload as JSON
/// text), for the raw floors.
pub struct EventRow {
    pub event: planck::audit::StoredEvent,
    pub actor: String,
    pub payload: String,
}

impl EventRow {
    /// The row of `event`.
    pub fn of(event: planck::audit::StoredEvent) -> EventRow {
        EventRow {
            actor: serde_json::to_string(&event.actor).unwrap(),
            payload: serde_json::to_string(&event.payload).unwrap(),
            event,
        }
    }

    /// Insert this row with `insert` (a statement of [`EVENTS_INSERT`], on any table of
    /// [`EVENTS_SCHEMA`]'s columns) under `event_id`, `case` and `seq`, at feed `position`.
    pub fn insert(
        &self,
        insert: &mut rusqlite::Statement<'_>,
        event_id: &str,
        case: &str,
        seq: i64,
        position: i64,
    ) {
        let e = &self.event;
        insert
            .execute(rusqlite::params![
                event_id,
                e.event_type,
                i64::from(e.schema_version),
                e.ts_utc,
                e.ts_ms,
                case,
                seq,
                self.actor,
                e.surface,
                e.surface_fingerprint,
                e.idempotency_key,
                self.payload,
                e.prev_digest,
                e.digest,
                position,
                e.host_ts_ms
            ])
            .unwrap();
    }

    /// This row under its own event id, case and sequence number, at feed `position`.
    pub fn insert_as_is(&self, insert: &mut rusqlite::Statement<'_>, position: i64) {
        let e = &self.event;
        self.insert(insert, &e.event_id, &e.case_id, e.seq as i64, position);
    }
}

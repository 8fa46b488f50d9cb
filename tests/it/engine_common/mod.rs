//! Shared helpers for the engine tests: a registry of the shipped surfaces plus three test
//! surfaces, engines on each store, and the principals and command builders of
//! [`crate::common`].

use std::path::Path;
use std::sync::Arc;

use planck::engine::{Engine, Receipt};
use planck::host::{Clock, ManualClock, MemoryStore, MemoryTransport, Store, Transport};
use planck::policy::Principal;
use planck::spine::{Command, Millis};
use planck::surface::registry::Registry;
use serde_json::{Value, json};

use crate::common::surface_from_toml;
/// The principals and command builders of the spine tests, the same here.
pub use crate::common::{admin, client, cmd, lee, max, op_cmd, submit, system};

/// 2026-01-10T09:00:00Z.
pub const T0: Millis = 1_768_035_600_000;
pub const HOUR: Millis = 3_600_000;

/// Five phases, a way back from `arrived` to `claimed`, and two escalations.
pub const WATCHED: &str = r#"
[surface]
slug = "watched"
name = "Watched"
spec = "surface-runtime-spec-v0.01"
version = 1

[[phase]]
id = "queued"
label = "Waiting"
[[phase]]
id = "claimed"
label = "Taken"
[[phase]]
id = "arrived"
label = "There"
[[phase]]
id = "in_progress"
label = "Working"
[[phase]]
id = "complete"
label = "Done"

[[transition]]
from = "queued"
to = "claimed"
[[transition]]
from = "claimed"
to = "arrived"
[[transition]]
from = "arrived"
to = "claimed"
[[transition]]
from = "arrived"
to = "in_progress"
[[transition]]
from = "in_progress"
to = "complete"

[evidence]
required_categories = ["after"]
optional_categories = ["note"]
min_per_category = 1

[intake]
required = ["contact"]

[[escalation]]
phase = "claimed"
after = "2h"
signal = "claim_stale"

[[escalation]]
phase = "queued"
after = "1d"
signal = "unclaimed"
"#;

/// Open ownership (any operator may claim) and completed jobs hidden from the desk.
pub const OPEN_DESK: &str = r#"
[surface]
slug = "open-desk"
name = "Open Desk"
spec = "surface-runtime-spec-v0.01"
version = 1

[execution]
ownership = "open"
completed_visible = false

[[phase]]
id = "queued"
label = "Queued"
[[phase]]
id = "claimed"
label = "Claimed"
[[phase]]
id = "complete"
label = "Complete"

[intake]
required = ["contact"]
"#;

/// `operators = "registered"`, the move into `in_progress` approved by the client, and an
/// escalation on the phase an approval waits in.
pub const GOVERNED: &str = r#"
[surface]
slug = "governed"
name = "Governed"
spec = "surface-runtime-spec-v0.01"
version = 1

[execution]
operators = "registered"

[[phase]]
id = "queued"
label = "Queued"
[[phase]]
id = "claimed"
label = "Claimed"
[[phase]]
id = "arrived"
label = "There"
[[phase]]
id = "in_progress"
label = "Working"
[[phase]]
id = "complete"
label = "Done"

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

[intake]
required = ["contact"]

[[escalation]]
phase = "arrived"
after = "1h"
signal = "quote_stale"
"#;

/// The shipped surfaces (from `surfaces/`) and the three test surfaces.
pub fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    let report = registry.load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces"));
    assert!(
        report.is_ok(),
        "{:#?}",
        report.failures().collect::<Vec<_>>()
    );
    for text in [WATCHED, OPEN_DESK, GOVERNED] {
        registry.register(surface_from_toml(text)).unwrap();
    }
    Arc::new(registry)
}

/// An engine on a fresh memory store, with a memory transport and a manual clock at [`T0`].
pub type MemEngine = Engine<MemoryStore, MemoryTransport, ManualClock>;

pub fn memory_engine() -> MemEngine {
    engine_on(MemoryStore::new())
}

/// An engine on `store`, with [`registry`], a memory transport and a manual clock at [`T0`].
pub fn engine_on<S: Store>(store: S) -> Engine<S, MemoryTransport, ManualClock> {
    Engine::new(
        registry(),
        store,
        MemoryTransport::new(),
        ManualClock::new(T0),
    )
}

/// Execute and require `applied`.
pub fn ok<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    who: &Principal,
    command: Command,
) -> Receipt {
    let receipt = engine.execute(who, &command, None).unwrap();
    assert!(
        receipt.is_applied(),
        "{} by {} was not applied: {receipt:?}",
        command.kind(),
        who.id
    );
    receipt
}

/// Execute and return the rejection code (panicking when applied).
pub fn code<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    who: &Principal,
    command: Command,
) -> planck::spine::RejectionCode {
    let receipt = engine.execute(who, &command, None).unwrap();
    receipt.code().unwrap_or_else(|| {
        panic!(
            "{} by {} was not refused: {receipt:?}",
            command.kind(),
            who.id
        )
    })
}

/// Submit, approve, assign op-lee, create the job.
pub fn to_job<S: Store, T: Transport, C: Clock>(engine: &Engine<S, T, C>, case: &str, slug: &str) {
    ok(engine, &client(), submit(case, slug));
    ok(engine, &admin(), cmd(case, "approve_task", Value::Null));
    ok(
        engine,
        &admin(),
        cmd(case, "assign_task", json!({ "operator": "op-lee" })),
    );
    ok(engine, &admin(), cmd(case, "create_job", Value::Null));
}

/// One race for the job of `case` between op-lee's claim (`lees`) and op-max's (`maxs`):
/// exactly one applied, and the loser decided again on the winner's claim (`invalid_state`,
/// not `conflict`); the case holds the winner's six events.
pub fn assert_one_claim_won<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    case: &str,
    lees: &Receipt,
    maxs: &Receipt,
) {
    let pair = [lees, maxs];
    assert_eq!(
        pair.iter().filter(|r| r.is_applied()).count(),
        1,
        "case {case}: {pair:?}"
    );
    let loser = pair.iter().find(|r| !r.is_applied()).unwrap();
    assert_eq!(
        loser.code().map(|c| c.as_str()),
        Some("invalid_state"),
        "the loser re-decided: {loser:?}"
    );
    assert_eq!(engine.case(case).unwrap().unwrap().version, 6);
}

/// op-lee, who has claimed the job on `case`, moves it to `arrived` and `in_progress`,
/// attaches the `after` evidence `evidence` when given, and completes the service event.
pub fn finish_service_event<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    case: &str,
    evidence: Option<&str>,
) {
    ok(
        engine,
        &lee(),
        cmd(case, "advance", json!({ "to": "arrived" })),
    );
    ok(
        engine,
        &lee(),
        cmd(case, "advance", json!({ "to": "in_progress" })),
    );
    if let Some(reference) = evidence {
        let attach = json!({ "category": "after", "ref": reference });
        ok(engine, &lee(), cmd(case, "attach_evidence", attach));
    }
    ok(
        engine,
        &lee(),
        cmd(case, "complete_service_event", Value::Null),
    );
}

/// The seed's ten event-coordination steps on `case`, submit to a closed task, as (who,
/// command) pairs.
pub fn ten_steps(case: &str) -> Vec<(Principal, Command)> {
    vec![
        (client(), submit(case, "event-coordination")),
        (admin(), cmd(case, "approve_task", Value::Null)),
        (
            admin(),
            cmd(case, "assign_task", json!({ "operator": "op-lee" })),
        ),
        (admin(), cmd(case, "create_job", Value::Null)),
        (lee(), cmd(case, "claim_job", Value::Null)),
        (lee(), cmd(case, "advance", json!({ "to": "arrived" }))),
        (lee(), cmd(case, "advance", json!({ "to": "in_progress" }))),
        (
            lee(),
            cmd(
                case,
                "complete_service_event",
                json!({ "outcome": "delivered" }),
            ),
        ),
        (lee(), cmd(case, "complete_job", Value::Null)),
        (admin(), cmd(case, "close_task", Value::Null)),
    ]
}

/// The seed's ten-step event-coordination lifecycle ([`ten_steps`]), ending with a closed task
/// and a captured settlement. Returns every receipt.
pub fn event_coordination<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
    case: &str,
) -> Vec<Receipt> {
    let settle = cmd(
        case,
        "record_settlement",
        json!({ "status": "captured", "amount_minor": 125000, "currency": "USD" }),
    );
    ten_steps(case)
        .into_iter()
        .chain([(system(), settle)])
        .map(|(who, command)| ok(engine, &who, command))
        .collect()
}

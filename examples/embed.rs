//! A small host program that embeds planck.
//!
//! It plays the part of a web service: it keeps its own session table (token → principal),
//! implements `Transport` by printing each signal, stores cases in SQLite in a temporary
//! directory, loads the shipped surfaces from the repository's `surfaces/` directory, and
//! drives one auto-detailing case from intake to settlement, printing each receipt.
//!
//! Run it with `cargo run --example embed`.

use std::collections::HashMap;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use planck::engine::{Engine, Receipt};
use planck::host::{SqliteStore, StoredSignal, SystemClock, Transport, TransportError};
use planck::policy::{Principal, Role};
use planck::spine::Command;
use planck::surface::registry::Registry;
use serde_json::{Value, json};

/// The host's delivery: here, a line on stdout. A real host would put the signal on a queue and
/// let consumers drop repeats by `signal.id`.
struct PrintTransport;

impl Transport for PrintTransport {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        println!(
            "    >> signal `{}` ({}) {}",
            signal.id, signal.kind, signal.payload
        );
        Ok(())
    }
}

/// The host's sessions: identity comes from here, never from a request body.
struct Sessions(HashMap<&'static str, Principal>);

impl Sessions {
    fn new() -> Self {
        let mut table = HashMap::new();
        table.insert("tok-ava", Principal::new("client-ava", [Role::Client]));
        table.insert("tok-kim", Principal::new("admin-kim", [Role::Admin]));
        table.insert("tok-lee", Principal::new("op-lee", [Role::Operator]));
        table.insert("tok-max", Principal::new("op-max", [Role::Operator]));
        table.insert("tok-billing", Principal::new("billing", [Role::System]));
        Sessions(table)
    }

    fn principal(&self, token: &str) -> Result<&Principal, Box<dyn Error>> {
        self.0
            .get(token)
            .ok_or_else(|| format!("no session for token `{token}`").into())
    }
}

fn describe(receipt: &Receipt) -> String {
    match receipt {
        Receipt::Applied { events, .. } => {
            let seqs: Vec<String> = events
                .iter()
                .map(|e| format!("#{} {}", e.seq, e.event_type))
                .collect();
            format!("applied: {}", seqs.join(", "))
        }
        Receipt::Duplicate(first) => {
            format!("duplicate of the first outcome ({})", describe(first))
        }
        Receipt::Rejected(rejection) => {
            format!("rejected: {} ({})", rejection.code, rejection.message)
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    // Surfaces: compiled once at start-up, shared by every engine.
    let mut registry = Registry::new();
    let report = registry.load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces"));
    if !report.is_ok() {
        return Err(format!("{} surface file(s) did not load", report.failures().count()).into());
    }
    let registry = Arc::new(registry);

    // Storage: one SQLite file.
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("planck.db");
    let engine = Engine::new(
        registry,
        SqliteStore::open(&db)?,
        PrintTransport,
        SystemClock,
    );
    engine.recover()?; // deliver anything a previous run left pending
    println!("planck embedded; cases stored in {}", db.display());

    let sessions = Sessions::new();
    let case = "ad-1001";
    // (session token, command, arguments, idempotency key) as they would arrive over HTTP.
    let requests: Vec<(&str, &str, Value, Option<&str>)> = vec![
        (
            "tok-ava",
            "submit_request",
            json!({
                "surface": "auto-detailing",
                "intake": {
                    "contact": "ava@example.com", "vehicle": "2019 Honda Civic",
                    "service_address": "12 Harbor Rd", "preferred_timing": "Saturday morning"
                },
                "photos": ["uploads/civic-front.jpg", "uploads/civic-side.jpg"]
            }),
            Some("form-7f3a"),
        ),
        // The browser retried the form post: same key, same command.
        (
            "tok-ava",
            "submit_request",
            json!({
                "surface": "auto-detailing",
                "intake": {
                    "contact": "ava@example.com", "vehicle": "2019 Honda Civic",
                    "service_address": "12 Harbor Rd", "preferred_timing": "Saturday morning"
                },
                "photos": ["uploads/civic-front.jpg", "uploads/civic-side.jpg"]
            }),
            Some("form-7f3a"),
        ),
        ("tok-kim", "approve_task", Value::Null, None),
        (
            "tok-kim",
            "assign_task",
            json!({ "operator": "op-lee" }),
            None,
        ),
        ("tok-kim", "create_job", Value::Null, None),
        ("tok-max", "claim_job", Value::Null, None), // not the assignee
        ("tok-lee", "claim_job", Value::Null, None),
        ("tok-lee", "advance", json!({ "to": "arrived" }), None),
        ("tok-lee", "advance", json!({ "to": "in_progress" }), None), // photos first
        (
            "tok-lee",
            "attach_evidence",
            json!({ "category": "arrival", "ref": "uploads/arrival.jpg" }),
            None,
        ),
        (
            "tok-lee",
            "attach_evidence",
            json!({ "category": "before", "ref": "uploads/before.jpg" }),
            None,
        ),
        ("tok-lee", "advance", json!({ "to": "in_progress" }), None),
        (
            "tok-lee",
            "attach_evidence",
            json!({ "category": "after", "ref": "uploads/after.jpg" }),
            None,
        ),
        (
            "tok-lee",
            "complete_service_event",
            json!({ "outcome": "interior and exterior detailed" }),
            None,
        ),
        ("tok-lee", "complete_job", Value::Null, None),
        (
            "tok-billing",
            "record_settlement",
            json!({ "status": "captured", "amount_minor": 18900, "currency": "USD" }),
            None,
        ),
    ];

    for (token, name, args, key) in requests {
        let principal = sessions.principal(token)?;
        let command = Command::from_json(case, name, &args)?;
        let receipt = engine.execute(principal, &command, key)?;
        let stage = engine
            .view(case)?
            .and_then(|v| v.stage)
            .map_or_else(|| "-".to_string(), |s| s.label);
        println!(
            "{:>11} {:<24} [{stage}] {}",
            principal.id,
            name,
            describe(&receipt)
        );
    }

    if let Some(view) = engine.view(case)? {
        println!(
            "\nthe case as a screen would show it:\n{}",
            serde_json::to_string_pretty(&view)?
        );
    }
    let report = engine.verify()?;
    println!(
        "\nverify: {} case(s), {} event(s), {}",
        report.cases,
        report.events,
        if report.ok() {
            "every digest holds"
        } else {
            "FAILED"
        }
    );
    for failure in &report.failures {
        println!("  {failure}");
    }
    Ok(())
}

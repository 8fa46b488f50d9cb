//! A projection built from planck's global feed: how many Jobs are in each phase.
//!
//! A host keeps read models of its own (a dashboard, a search index, an export) by following
//! the feed: every event of every case, in global commit order, each with its position
//! (docs/queries.md). [`Subscriber`] polls the feed from a stored cursor and hands each event
//! to a handler. Delivery is **at least once**: after a crash between handling an event and
//! saving the cursor, the event comes again. So the handler here is idempotent: it remembers
//! the last sequence number it applied for each case and ignores anything at or below it. (A
//! projection kept in a database does better: save the cursor in the same transaction as the
//! projection, and each event counts exactly once.)
//!
//! Run it with `cargo run --example projection`.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use planck::engine::{Engine, FileCursor, Receipt, Subscriber};
use planck::host::{FeedEntry, NullTransport, SqliteStore, SystemClock};
use planck::policy::{Principal, Role};
use planck::spine::{Command, Event};
use planck::surface::registry::Registry;
use serde_json::{Value, json};

/// Jobs per phase, folded from the feed.
#[derive(Default)]
struct JobsPerPhase {
    /// Where each case's Job is (`None`: no Job, or a finished one).
    phase_of: HashMap<String, String>,
    /// The last sequence number applied per case: repeats are skipped.
    applied: HashMap<String, u64>,
}

impl JobsPerPhase {
    /// Apply one event of the feed; an event seen before changes nothing.
    fn apply(&mut self, entry: &FeedEntry) {
        let event = &entry.event;
        let seen = self.applied.entry(event.case_id.clone()).or_insert(0);
        if event.seq <= *seen {
            return; // delivered again after a restart: already counted
        }
        *seen = event.seq;
        let case = event.case_id.clone();
        match &event.payload {
            Event::JobCreated { phase, .. } | Event::ServiceEventOpened { phase, .. } => {
                self.phase_of.insert(case, phase.clone());
            }
            Event::PhaseAdvanced { to, .. } => {
                self.phase_of.insert(case, to.clone());
            }
            Event::JobCompleted { .. } | Event::JobCancelled { .. } => {
                self.phase_of.remove(&case);
            }
            _ => {}
        }
    }

    fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for phase in self.phase_of.values() {
            *counts.entry(phase.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut registry = Registry::new();
    let report = registry.load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces"));
    if !report.is_ok() {
        return Err(format!("{} surface file(s) did not load", report.failures().count()).into());
    }
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("planck.db");
    let engine = Engine::new(
        Arc::new(registry),
        SqliteStore::open(&db)?,
        NullTransport,
        SystemClock,
    );

    // Three events coordinated, each taken a little further.
    for (case, steps) in [("ev-1", 1), ("ev-2", 2), ("ev-3", 3)] {
        drive(&engine, case, steps)?;
    }

    // The projection's cursor lives in a file beside it: a restart continues where it stopped.
    let cursor = dir.path().join("jobs-per-phase.cursor");
    let mut projection = JobsPerPhase::default();
    let subscriber = Subscriber::new(SqliteStore::open(&db)?, FileCursor::new(&cursor));
    catch_up(&subscriber, &mut projection)?;
    println!("after the first catch-up: {:?}", projection.counts());

    // More work happens; the next poll picks up only what is new.
    drive(&engine, "ev-4", 2)?;
    advance(&engine, "ev-3", "in_progress")?;
    catch_up(&subscriber, &mut projection)?;
    println!("after the second catch-up: {:?}", projection.counts());

    // A crash after handling but before saving the cursor: here, the cursor moved back.
    std::fs::write(&cursor, "3\n")?;
    catch_up(&subscriber, &mut projection)?;
    println!(
        "after events came again: {:?} (unchanged: repeats are skipped)",
        projection.counts()
    );
    Ok(())
}

/// Poll until the feed has nothing new.
fn catch_up(
    subscriber: &Subscriber<SqliteStore, FileCursor>,
    projection: &mut JobsPerPhase,
) -> Result<(), Box<dyn Error>> {
    loop {
        let handled = subscriber.poll(|entry| {
            projection.apply(entry);
            Ok::<(), std::convert::Infallible>(())
        })?;
        if handled == 0 {
            return Ok(());
        }
    }
}

type Db = Engine<SqliteStore, NullTransport, SystemClock>;

/// Submit `case` and take it `steps` steps: 1 the Job created, 2 claimed, 3 on site.
fn drive(engine: &Db, case: &str, steps: u32) -> Result<(), Box<dyn Error>> {
    let client = Principal::new("client-ava", [Role::Client]);
    let admin = Principal::new("admin-kim", [Role::Admin]);
    let lee = Principal::new("op-lee", [Role::Operator]);
    send(
        engine,
        &client,
        case,
        "submit_request",
        json!({
            "surface": "event-coordination",
            "intake": {"contact": "ava@example.com", "event_details": "Dinner", "preferred_timing": "Friday"}
        }),
    )?;
    send(engine, &admin, case, "approve_task", Value::Null)?;
    send(
        engine,
        &admin,
        case,
        "assign_task",
        json!({"operator": "op-lee"}),
    )?;
    send(engine, &admin, case, "create_job", Value::Null)?;
    if steps >= 2 {
        send(engine, &lee, case, "claim_job", Value::Null)?;
    }
    if steps >= 3 {
        advance(engine, case, "arrived")?;
    }
    Ok(())
}

fn advance(engine: &Db, case: &str, to: &str) -> Result<(), Box<dyn Error>> {
    let lee = Principal::new("op-lee", [Role::Operator]);
    send(engine, &lee, case, "advance", json!({ "to": to }))
}

fn send(
    engine: &Db,
    who: &Principal,
    case: &str,
    command: &str,
    args: Value,
) -> Result<(), Box<dyn Error>> {
    let command = Command::from_json(case, command, &args)?;
    match engine.execute(who, &command, None)? {
        Receipt::Rejected(rejection) => Err(format!("{case}: {}", rejection.message).into()),
        _ => Ok(()),
    }
}

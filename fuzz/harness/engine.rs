//! The checks behind the `engine_commands` fuzz target, shared with
//! `tests/it/fuzz_regressions.rs` (which includes this file with `#[path]`).
//!
//! The input bytes are read as a sequence of operations: commands (with arguments picked from
//! pools that make sense for the case, or built from raw bytes), from the principal who would
//! normally send them or from anyone, with or without idempotency keys, on two cases (or an
//! odd case id), plus clock jumps, ticks and outbox deliveries. They run against an
//! [`Engine`] on a [`MemoryStore`] with the shipped surfaces and one inline surface with open
//! ownership, optional claims, prepayment, rules and escalations.
//!
//! After every step the spine's invariants are asserted (see `tests/it/spine_props.rs`): nothing
//! is written by a refused or duplicate command; an applied one appends contiguous events to
//! its case only; no Job without approval, assignment and `create_job`; no ServiceEvent
//! without an eligible claim; no Record without the evidence contract; exactly one `record`
//! signal per Record, after it; a completed Job has a complete ServiceEvent; settlement and
//! execution never move each other; an observer never writes; a key replays its first outcome.
//! At the end, `verify` passes on every case and every signal was delivered exactly once.
#![allow(
    dead_code,
    reason = "the fuzz target and the regression tests each use a part"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests assert by panicking"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use planck::audit::{StoredEvent, verify_case};
use planck::engine::{Engine, Receipt};
use planck::host::{ManualClock, MemoryStore, MemoryTransport, Store};
use planck::policy::{Principal, Role};
use planck::spine::{self, Case, Command, CommandKind, Event, JobState, ServiceEventState};
use planck::surface::Surface;
use planck::surface::ast::Ownership;
use planck::surface::registry::Registry;
use serde_json::{Value, json};

/// A surface with open ownership, optional claims, prepayment, branching transitions, rules
/// and escalations: the postures the shipped surfaces do not use.
pub const FUZZ_OPEN: &str = r#"
[surface]
slug = "fuzz-open"
name = "Fuzz Open"
spec = "surface-runtime-spec-v0.01"
version = 1

[execution]
claim = "optional"
ownership = "open"
payment_timing = "prepaid"

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
id = "review"
label = "Review"
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
requires = ["arrival"]
rule = "crew_on_site"
[[transition]]
from = "in_progress"
to = "review"
[[transition]]
from = "review"
to = "in_progress"
[[transition]]
from = "in_progress"
to = "complete"
requires = ["after"]
[[transition]]
from = "review"
to = "complete"

[evidence]
required_categories = ["arrival", "after"]
optional_categories = ["note"]
min_per_category = 1

[intake]
required = ["contact"]
optional = ["notes"]

[[rule]]
name = "crew_on_site"
on = "transition"
when = 'case.evidence.arrival >= 1 && actor.id != ""'
message = "the crew has not checked in on site"

[[rule]]
name = "short_notes"
on = "annotate_task"
when = 'command.note.len() < 64'
message = "notes are kept short"

[[rule]]
name = "few_notes"
on = "attach_evidence"
when = 'case.evidence.note < 3 || command.category != "note"'
message = "at most three note items"

[[escalation]]
phase = "queued"
after = "24h"
signal = "claim_stale"

[[escalation]]
phase = "arrived"
after = "2h"
signal = "on_site_long"
"#;

/// The surfaces every run registers: the shipped ones and [`FUZZ_OPEN`].
pub fn harness_surfaces() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "event-coordination",
            include_str!("../../surfaces/event-coordination.toml"),
        ),
        (
            "auto-detailing",
            include_str!("../../surfaces/auto-detailing.toml"),
        ),
        ("fuzz-open", FUZZ_OPEN),
    ]
}

fn compile_toml(text: &str) -> Surface {
    let (def, diags) = planck::surface::toml::parse(text);
    assert!(
        !planck::surface::diagnostic::has_errors(&diags),
        "a harness surface does not parse: {diags:#?}"
    );
    match planck::surface::compile(&def) {
        Ok(c) => c.surface,
        Err(diags) => panic!("a harness surface does not compile: {diags:#?}"),
    }
}

/// The principals commands come from. The last three are unusual on purpose: an operator who
/// is also an admin, a principal with no role, and an observer.
pub fn principals() -> Vec<Principal> {
    vec![
        Principal::new("client-ava", [Role::Client]),
        Principal::new("admin-kim", [Role::Admin]),
        Principal::new("op-lee", [Role::Operator]),
        Principal::new("op-max", [Role::Operator]),
        Principal::new("system-pay", [Role::System]),
        Principal::new("obs-ola", [Role::Observer]),
        Principal::new("op-lee", [Role::Operator, Role::Admin]),
        Principal::new("nobody", []),
    ]
}

/// Reads the fuzz input a byte at a time; past the end it reads zeros.
pub struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, at: 0 }
    }

    /// Whether every byte was read.
    pub fn done(&self) -> bool {
        self.at >= self.data.len()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// An index below `n` (n > 0).
    pub fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// A string: a length byte (capped at `max`), then that many bytes, lossily as UTF-8.
    pub fn string(&mut self, max: usize) -> String {
        let len = usize::from(self.byte()).min(max);
        let start = self.at.min(self.data.len());
        let end = (start + len).min(self.data.len());
        self.at += len;
        String::from_utf8_lossy(self.data.get(start..end).unwrap_or(&[])).into_owned()
    }

    /// A JSON value of bounded depth.
    pub fn json(&mut self, depth: usize) -> Value {
        match self.pick(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.byte().is_multiple_of(2)),
            2 => json!(i64::from(self.byte() as i8) * 1_000_003),
            3 => json!(f64::from(self.byte()) / 7.0),
            4 => Value::String(self.string(24)),
            5 => Value::Array((0..self.pick(4)).map(|_| self.json(depth - 1)).collect()),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.pick(4) {
                    let key = match self.pick(8) {
                        0 => "surface".to_string(),
                        1 => "to".to_string(),
                        2 => "reason".to_string(),
                        3 => "operator".to_string(),
                        4 => "category".to_string(),
                        5 => "ref".to_string(),
                        6 => "intake".to_string(),
                        _ => self.string(8),
                    };
                    let value = self.json(depth - 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
        }
    }
}

/// What a run did, for the fuzz target's curiosity and the regression tests' assertions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Commands applied.
    pub applied: usize,
    /// Commands answered with a duplicate receipt.
    pub duplicate: usize,
    /// Commands rejected.
    pub rejected: usize,
    /// Records sealed.
    pub records: usize,
    /// Escalation events raised by ticks.
    pub escalations: usize,
}

/// The engine under test and what the harness remembers about it.
pub struct Harness {
    engine: Engine<MemoryStore, MemoryTransport, ManualClock>,
    store: MemoryStore,
    transport: MemoryTransport,
    clock: ManualClock,
    surfaces: Vec<Arc<Surface>>,
    people: Vec<Principal>,
    /// The first applied command under each key, and its receipt.
    keys: HashMap<String, (Principal, Command, Receipt)>,
    /// Every case id ever addressed.
    cases: Vec<String>,
    /// What happened.
    pub stats: Stats,
}

const CASES: [&str; 2] = ["f-1", "f-2"];
const START: i64 = 1_767_225_600_000;

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// A fresh engine with the harness surfaces registered.
    pub fn new() -> Harness {
        // Compiled once per process: every input starts from the same registry.
        static COMPILED: std::sync::OnceLock<(Arc<Registry>, Vec<Arc<Surface>>)> =
            std::sync::OnceLock::new();
        let (registry, surfaces) = COMPILED.get_or_init(|| {
            let mut registry = Registry::new();
            let mut surfaces = Vec::new();
            for (_, text) in harness_surfaces() {
                let surface = Arc::new(compile_toml(text));
                if let Err(e) = registry.register(surface.clone()) {
                    panic!("registering a harness surface: {e}");
                }
                surfaces.push(surface);
            }
            (Arc::new(registry), surfaces)
        });
        let (registry, surfaces) = (registry.clone(), surfaces.clone());
        let store = MemoryStore::new();
        let transport = MemoryTransport::new();
        let clock = ManualClock::new(START);
        let engine = Engine::new(registry, store.clone(), transport.clone(), clock.clone());
        Harness {
            engine,
            store,
            transport,
            clock,
            surfaces,
            people: principals(),
            keys: HashMap::new(),
            cases: Vec::new(),
            stats: Stats::default(),
        }
    }

    fn surface_of(&self, case: &Case) -> Option<&Surface> {
        let pin = &case.request.as_ref()?.surface;
        self.surfaces
            .iter()
            .find(|s| s.slug() == pin.slug && s.version() == pin.version)
            .map(AsRef::as_ref)
    }

    fn load(&self, case: &str) -> Vec<StoredEvent> {
        match self.store.load(case) {
            Ok(events) => events,
            Err(e) => panic!("MemoryStore::load failed: {e}"),
        }
    }

    fn versions(&self) -> BTreeMap<String, usize> {
        self.cases
            .iter()
            .map(|c| (c.clone(), self.load(c).len()))
            .collect()
    }

    fn outbox_len(&self) -> usize {
        self.all_signals().len()
    }

    fn all_signals(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for c in &self.cases {
            for e in self.load(c) {
                if let Some(signal) = e.payload.signal() {
                    ids.push(signal.id.clone());
                }
            }
        }
        ids
    }

    /// Run every operation the input encodes (at most 256), checking after each.
    pub fn run(&mut self, data: &[u8]) {
        let mut bytes = Bytes::new(data);
        let mut steps = 0;
        while !bytes.done() && steps < 256 {
            steps += 1;
            self.step(&mut bytes);
        }
        self.finish();
    }

    /// One operation.
    pub fn step(&mut self, bytes: &mut Bytes<'_>) {
        let op = bytes.pick(19);
        let who = bytes.byte();
        let flags = bytes.byte();
        if flags & 0x10 != 0 {
            self.clock.advance(25 * 3_600_000);
        } else {
            self.clock.advance(60_000);
        }
        match op {
            15 => return self.tick(),
            16 => {
                if let Err(e) = self.engine.deliver_pending() {
                    panic!("deliver_pending failed on a memory transport: {e}");
                }
                return;
            }
            _ => {}
        }
        let case_id = if flags & 0x20 != 0 && flags & 0x40 != 0 {
            bytes.string(40)
        } else {
            CASES[usize::from(flags & 0x08 != 0)].to_string()
        };
        let case = self.engine.case(&case_id).ok().flatten();
        let (name, args) = self.command_for(op, bytes, case.as_ref(), flags);
        let principal = if who < 200 {
            self.people[sensible(&name, flags)].clone()
        } else {
            self.people[usize::from(who) % self.people.len()].clone()
        };
        let key = match flags & 0x07 {
            0..=3 => None,
            4..=6 => Some(format!("k{}", flags & 0x03)),
            _ => Some(bytes.string(40)),
        };
        let command = match Command::from_json(case_id.clone(), &name, &args) {
            Ok(c) => c,
            Err(_) => {
                // Only unknown command names fail here; the host would refuse them itself.
                assert!(CommandKind::parse(&name).is_none(), "`{name}` is a command");
                return;
            }
        };
        self.execute(&principal, &command, key.as_deref());
    }

    fn command_for(
        &self,
        op: usize,
        bytes: &mut Bytes<'_>,
        case: Option<&Case>,
        flags: u8,
    ) -> (String, Value) {
        let surface = case
            .and_then(|c| self.surface_of(c))
            .or_else(|| self.surfaces.first().map(AsRef::as_ref));
        let phases: Vec<String> = surface
            .map(|s| s.phases().iter().map(|p| p.id.clone()).collect())
            .unwrap_or_default();
        let cats: Vec<String> = surface
            .map(|s| s.evidence().categories.clone())
            .unwrap_or_default();
        let odd = flags & 0x20 != 0 && flags & 0x40 == 0;
        let text = |bytes: &mut Bytes<'_>, normal: &str| {
            if odd {
                bytes.string(200)
            } else {
                normal.to_string()
            }
        };
        match op {
            0 => {
                let which = bytes.pick(self.surfaces.len() + 1);
                let (slug, intake, photos) = match self.surfaces.get(which) {
                    Some(s) => (
                        s.slug().to_string(),
                        intake_for(s.slug()),
                        s.intake().min_photos,
                    ),
                    None => ("no-such-surface".to_string(), json!({}), 0),
                };
                let mut intake = intake;
                if odd && let Value::Object(map) = &mut intake {
                    match bytes.pick(3) {
                        0 => {
                            let k = map.keys().next().cloned().unwrap_or_default();
                            map.remove(&k);
                        }
                        1 => {
                            let k = bytes.string(16);
                            let v = bytes.json(3);
                            map.insert(k, v);
                        }
                        _ => {
                            let v = bytes.json(4);
                            map.insert("contact".into(), v);
                        }
                    }
                }
                let photos: Vec<String> = (0..photos + u32::from(bytes.byte().is_multiple_of(3)))
                    .map(|i| format!("photo://{i}"))
                    .collect();
                let surface = if bytes.byte().is_multiple_of(4) {
                    format!("{slug}@1")
                } else {
                    slug
                };
                (
                    "submit_request".into(),
                    json!({ "surface": surface, "intake": intake, "photos": photos }),
                )
            }
            1 => ("approve_task".into(), Value::Null),
            2 => (
                "reject_task".into(),
                json!({ "reason": text(bytes, "not for us") }),
            ),
            3 => {
                let operator = match bytes.pick(4) {
                    0 | 1 => "op-lee".to_string(),
                    2 => "op-max".to_string(),
                    _ => text(bytes, "op-zed"),
                };
                ("assign_task".into(), json!({ "operator": operator }))
            }
            4 => (
                "annotate_task".into(),
                json!({ "note": text(bytes, "call first") }),
            ),
            5 => ("close_task".into(), Value::Null),
            6 => ("create_job".into(), Value::Null),
            7 => ("claim_job".into(), Value::Null),
            8 => {
                // The next phase in declaration order (the usual move).
                let current = case.and_then(Case::phase);
                let next = match current {
                    Some(p) => phases.iter().position(|x| x == p).map_or(1, |i| i + 1),
                    None => 1,
                };
                let to = phases
                    .get(next)
                    .cloned()
                    .unwrap_or_else(|| "nowhere".into());
                ("advance".into(), json!({ "to": to }))
            }
            9 => {
                let i = bytes.pick(phases.len() + 1);
                let to = phases
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| text(bytes, "nowhere"));
                ("advance".into(), json!({ "to": to }))
            }
            10 => {
                // The first required category still short of items, else any category.
                let i = bytes.pick(cats.len() + 2);
                let wanted = case
                    .and_then(|c| c.service_event.as_ref())
                    .and_then(|se| {
                        cats.iter()
                            .find(|c| se.evidence_counts.get(*c).copied().unwrap_or(0) == 0)
                    })
                    .cloned();
                let category = match (i, wanted) {
                    (0, Some(w)) => w,
                    _ => cats.get(i).cloned().unwrap_or_else(|| text(bytes, "bogus")),
                };
                (
                    "attach_evidence".into(),
                    json!({ "category": category, "ref": text(bytes, "s3://bucket/a.jpg") }),
                )
            }
            11 => {
                let outcome = if bytes.byte().is_multiple_of(2) {
                    json!({})
                } else {
                    json!({ "outcome": text(bytes, "done") })
                };
                ("complete_service_event".into(), outcome)
            }
            12 => ("complete_job".into(), Value::Null),
            13 => (
                "cancel_job".into(),
                json!({ "reason": text(bytes, "client cancelled") }),
            ),
            14 => {
                let status = ["captured", "pending", "refunded", "waived", "bogus"][bytes.pick(5)];
                let amount = if odd {
                    i64::from_le_bytes([
                        bytes.byte(),
                        bytes.byte(),
                        bytes.byte(),
                        bytes.byte(),
                        bytes.byte(),
                        bytes.byte(),
                        bytes.byte(),
                        bytes.byte(),
                    ])
                } else {
                    i64::from(bytes.byte()) * 100
                };
                let currency = ["EUR", "USD", "eur", "EURO"][bytes.pick(4)];
                (
                    "record_settlement".into(),
                    json!({ "status": status, "amount_minor": amount, "currency": currency }),
                )
            }
            _ => {
                // Any command name (or none), with arguments built from raw bytes.
                let names: Vec<&str> = CommandKind::ALL.iter().map(|k| k.as_str()).collect();
                let name = names
                    .get(bytes.pick(names.len() + 1))
                    .copied()
                    .unwrap_or("fly");
                (name.to_string(), bytes.json(3))
            }
        }
    }

    fn execute(&mut self, principal: &Principal, command: &Command, key: Option<&str>) {
        if !self.cases.contains(&command.case) {
            self.cases.push(command.case.clone());
        }
        let before_versions = self.versions();
        let before_case = self.engine.case(&command.case).ok().flatten();
        let before_outbox = self.outbox_len();
        let receipt = match self.engine.execute(principal, command, key) {
            Ok(r) => r,
            Err(e) => panic!("execute failed on a memory store: {e} ({command:?})"),
        };
        let after_versions = self.versions();
        let known = key.and_then(|k| self.keys.get(k)).cloned();
        match &receipt {
            Receipt::Applied { case, events } => {
                self.stats.applied += 1;
                assert_eq!(case, &command.case, "applied to another case");
                assert!(!events.is_empty(), "an applied command appended nothing");
                assert!(
                    !principal.roles.is_empty(),
                    "a principal with no role wrote: {command:?}"
                );
                assert!(
                    !principal.roles.iter().all(|r| *r == Role::Observer),
                    "an observer wrote: {command:?}"
                );
                assert!(
                    known.is_none(),
                    "key {key:?} was used before, yet the command applied again"
                );
                let before = before_versions.get(case).copied().unwrap_or(0);
                let stored = self.load(case);
                assert_eq!(
                    stored.len(),
                    before + events.len(),
                    "the store does not hold exactly the new events"
                );
                for (i, e) in events.iter().enumerate() {
                    assert_eq!(
                        e.seq,
                        (before + i + 1) as u64,
                        "sequence numbers are not contiguous"
                    );
                    assert_eq!(
                        stored.get(before + i),
                        Some(e),
                        "the stored event differs from the receipt"
                    );
                    assert_eq!(e.idempotency_key.as_deref(), key, "the event lost its key");
                }
                for (c, v) in &before_versions {
                    if c != case {
                        assert_eq!(after_versions.get(c), Some(v), "another case changed");
                    }
                }
                self.stats.records += events
                    .iter()
                    .filter(|e| matches!(e.payload, Event::RecordSealed { .. }))
                    .count();
                if let Some(k) = key {
                    self.keys.insert(
                        k.to_string(),
                        (principal.clone(), command.clone(), receipt.clone()),
                    );
                }
                self.check_settlement_isolation(command, before_case.as_ref());
            }
            Receipt::Duplicate(first) => {
                self.stats.duplicate += 1;
                assert_eq!(before_versions, after_versions, "a duplicate wrote");
                assert_eq!(
                    before_outbox,
                    self.outbox_len(),
                    "a duplicate wrote a signal"
                );
                let Some((p, c, r)) = known else {
                    panic!("a duplicate receipt for key {key:?}, never applied before");
                };
                assert_eq!(
                    (&p, &c),
                    (principal, command),
                    "a duplicate of a different command"
                );
                assert_eq!(
                    **first, r,
                    "the duplicate does not replay the first outcome"
                );
            }
            Receipt::Rejected(rejection) => {
                self.stats.rejected += 1;
                assert_eq!(
                    before_versions, after_versions,
                    "a rejected command wrote: {rejection}"
                );
                assert_eq!(
                    before_outbox,
                    self.outbox_len(),
                    "a rejected command wrote a signal"
                );
                assert!(
                    !rejection.message.is_empty(),
                    "a rejection without a message"
                );
                if let Some((p, c, _)) = &known {
                    assert!(
                        (p, c) != (principal, command),
                        "the same key and command were rejected instead of replayed"
                    );
                    assert_eq!(
                        rejection.code.as_str(),
                        "payload_invalid",
                        "a reused key gave `{rejection}`"
                    );
                }
            }
        }
        self.check_case(&command.case);
    }

    fn tick(&mut self) {
        let before = self.versions();
        let events = match self.engine.tick() {
            Ok(events) => events,
            Err(e) => panic!("tick failed on a memory store: {e}"),
        };
        self.stats.escalations += events.len();
        for e in &events {
            assert!(
                matches!(
                    e.payload,
                    Event::SignalEmitted {
                        escalation: Some(_),
                        ..
                    }
                ),
                "a tick appended something other than an escalation signal: {:?}",
                e.payload
            );
            assert_eq!(
                e.actor.roles,
                vec![Role::System],
                "a tick acted as someone else"
            );
        }
        let after = self.versions();
        let grown: usize = after
            .iter()
            .map(|(c, v)| v - before.get(c).copied().unwrap_or(0))
            .sum();
        assert_eq!(
            grown,
            events.len(),
            "the tick's events are not what the store gained"
        );
        for c in self.cases.clone() {
            self.check_case(&c);
        }
    }

    fn check_settlement_isolation(&self, command: &Command, before: Option<&Case>) {
        let Some(after) = self.engine.case(&command.case).ok().flatten() else {
            return;
        };
        let Some(before) = before else { return };
        if command.kind() == CommandKind::RecordSettlement {
            let mut expected = before.clone();
            expected.settlement = after.settlement.clone();
            expected.version = after.version;
            assert!(expected == after, "a settlement write moved execution");
        } else {
            assert!(
                before.settlement == after.settlement,
                "execution moved the settlement"
            );
        }
    }

    /// Every invariant of the spine on one case, from its stored events.
    pub fn check_case(&self, id: &str) {
        let stored = self.load(id);
        if stored.is_empty() {
            assert!(
                self.engine.case(id).ok().flatten().is_none(),
                "a case without events"
            );
            return;
        }
        let case = match verify_case(id, &stored) {
            Ok(case) => case,
            Err(e) => panic!("case `{id}` does not verify: {e}"),
        };
        let folded = self.engine.case(id).ok().flatten();
        assert!(
            folded.as_ref() == Some(&case),
            "the engine's case is not the replayed one"
        );
        let events: Vec<&Event> = stored.iter().map(|e| &e.payload).collect();
        let Some(surface) = self.surface_of(&case) else {
            panic!("case `{id}` is pinned to a surface the harness does not know");
        };
        if let Err(why) = invariants(surface, &events, &case) {
            panic!("case `{id}`: {why}\nevents: {events:#?}");
        }
    }

    /// The end of a run: deliver what is pending, then verify every case and the outbox.
    pub fn finish(&mut self) {
        if let Err(e) = self.engine.deliver_pending() {
            panic!("deliver_pending failed on a memory transport: {e}");
        }
        let report = match self.engine.verify() {
            Ok(r) => r,
            Err(e) => panic!("verify failed on a memory store: {e}"),
        };
        assert!(report.ok(), "verify found failures: {:?}", report.failures);
        match self.store.pending_signals(usize::MAX) {
            Ok(p) => assert!(p.is_empty(), "signals left pending: {p:?}"),
            Err(e) => panic!("pending_signals failed: {e}"),
        }
        let delivered: Vec<String> = self
            .transport
            .delivered()
            .into_iter()
            .map(|s| s.id)
            .collect();
        let unique: HashSet<&String> = delivered.iter().collect();
        assert_eq!(
            unique.len(),
            delivered.len(),
            "a signal was delivered twice: {delivered:?}"
        );
        let mut emitted = self.all_signals();
        let mut got = delivered.clone();
        emitted.sort();
        got.sort();
        assert_eq!(
            emitted, got,
            "the delivered signals are not the emitted ones"
        );
    }
}

/// The principal who would normally send `name` (an index into [`principals`]).
fn sensible(name: &str, flags: u8) -> usize {
    let operator = if flags & 0x80 != 0 { 3 } else { 2 };
    match name {
        "submit_request" => 0,
        "approve_task" | "reject_task" | "assign_task" | "close_task" | "create_job"
        | "cancel_job" => 1,
        "record_settlement" => {
            if flags & 0x80 != 0 {
                1
            } else {
                4
            }
        }
        _ => operator,
    }
}

/// An intake that meets `slug`'s contract.
pub fn intake_for(slug: &str) -> Value {
    match slug {
        "event-coordination" => json!({
            "contact": "ava@example.com",
            "event_details": "40 guests",
            "preferred_timing": "Sat pm"
        }),
        "auto-detailing" => json!({
            "contact": "ava@example.com",
            "vehicle": "2019 Civic",
            "service_address": "1 Main St",
            "preferred_timing": "Mon am"
        }),
        _ => json!({ "contact": "ava@example.com" }),
    }
}

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}

/// The spine's invariants over one case's events and the case they fold into (the list in
/// `tests/it/spine_props.rs`).
pub fn invariants(surface: &Surface, events: &[&Event], case: &Case) -> Result<(), String> {
    let pos = |pred: &dyn Fn(&Event) -> bool| events.iter().position(|e| pred(e));
    let count = |pred: &dyn Fn(&Event) -> bool| events.iter().filter(|e| pred(e)).count();
    // No Job without approval, assignment and create_job, and never two.
    if let Some(job_at) = pos(&|e| matches!(e, Event::JobCreated { .. })) {
        let approved = pos(&|e| matches!(e, Event::TaskApproved { .. }));
        let assigned = pos(&|e| matches!(e, Event::TaskAssigned { .. }));
        ensure(approved.is_some_and(|a| a < job_at), || {
            "a job before approval".into()
        })?;
        ensure(assigned.is_some_and(|a| a < job_at), || {
            "a job before assignment".into()
        })?;
        ensure(
            count(&|e| matches!(e, Event::JobCreated { .. })) == 1,
            || "two jobs".into(),
        )?;
    }
    ensure(
        case.job.is_some() == pos(&|e| matches!(e, Event::JobCreated { .. })).is_some(),
        || "the job and its creation disagree".into(),
    )?;
    // Exactly one claim per ServiceEvent, by an eligible operator.
    ensure(
        count(&|e| matches!(e, Event::JobClaimed { .. })) <= 1,
        || "two claims".into(),
    )?;
    ensure(
        count(&|e| matches!(e, Event::ServiceEventOpened { .. })) <= 1,
        || "two service events".into(),
    )?;
    if case.service_event.is_some() {
        let mut assignee: Option<&str> = None;
        let mut eligible = false;
        for e in events {
            match e {
                Event::TaskAssigned { operator, .. } => assignee = Some(operator),
                Event::JobClaimed { operator, .. } => {
                    eligible = surface.execution().ownership == Ownership::Open
                        || assignee == Some(operator.as_str());
                }
                _ => {}
            }
        }
        ensure(eligible, || {
            "a service event without an eligible claim".into()
        })?;
        ensure(case.owner().is_some(), || {
            "a service event without an owner".into()
        })?;
    }
    // No Record unless the evidence contract held; the seal recomputes.
    ensure(
        count(&|e| matches!(e, Event::RecordSealed { .. })) <= 1,
        || "two records".into(),
    )?;
    if let Some(record) = &case.record {
        let Some(se) = case.service_event.as_ref() else {
            return Err("a record without a service event".into());
        };
        ensure(se.state == ServiceEventState::Complete, || {
            "a record on an open service event".into()
        })?;
        for (_, name) in surface.evidence().required() {
            let n = se.evidence_counts.get(name).copied().unwrap_or(0);
            ensure(n >= surface.evidence().min_per_category, || {
                format!("a record without evidence `{name}`")
            })?;
        }
        let digest = planck::audit::digest_of(&record.body).map_err(|e| e.to_string())?;
        ensure(record.digest == digest, || {
            "the record seal does not recompute".into()
        })?;
    }
    // Exactly one `record` signal per Record, never before it.
    let record_signals: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.signal().is_some_and(|s| s.kind == "record"))
        .map(|(i, _)| i)
        .collect();
    ensure(
        record_signals.len() == usize::from(case.record.is_some()),
        || {
            format!(
                "{} record signals for {} records",
                record_signals.len(),
                usize::from(case.record.is_some())
            )
        },
    )?;
    if let (Some(sig), Some(rec)) = (
        record_signals.first(),
        pos(&|e| matches!(e, Event::RecordSealed { .. })),
    ) {
        ensure(rec < *sig, || {
            "the record signal came before the record".into()
        })?;
    }
    // Signal ids are unique within the case.
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e.signal())
        .map(|s| s.id.as_str())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    ensure(unique.len() == ids.len(), || {
        format!("repeated signal ids: {ids:?}")
    })?;
    // A completed Job implies a complete ServiceEvent.
    if case.job_state() == Some(JobState::Completed) {
        ensure(
            case.service_event_state() == Some(ServiceEventState::Complete),
            || "a completed job without a complete service event".into(),
        )?;
    }
    // Folding from empty rebuilds the same case.
    let rebuilt = spine::replay(&case.id, events.iter().copied());
    ensure(&rebuilt == case, || {
        "replay does not rebuild the case".into()
    })
}

fn encode(steps: &[(u8, &[u8])]) -> Vec<u8> {
    // (op, who, flags, extra bytes): who 0 is "the principal who would normally send it",
    // flags 0 means case `f-1`, no key, ordinary arguments, a one-minute step.
    let mut out = Vec::new();
    for (op, extra) in steps {
        out.extend_from_slice(&[*op, 0, 0]);
        out.extend_from_slice(extra);
    }
    out
}

/// Byte strings that drive each harness surface through its whole lifecycle: the seeds that
/// show the harness reaches deep states (`tests/it/fuzz_regressions.rs` checks they seal a
/// Record and match the files in `fuzz/seeds/engine_commands/`).
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let event_coordination = encode(&[
        (0, &[0, 1, 1]),   // submit event-coordination (no extra photo, no @version)
        (1, &[]),          // approve
        (3, &[0]),         // assign op-lee
        (6, &[]),          // create_job
        (7, &[]),          // claim
        (8, &[]),          // advance to arrived
        (8, &[]),          // advance to in_progress
        (11, &[0]),        // complete the service event
        (12, &[]),         // complete the job
        (14, &[0, 50, 0]), // settle: captured, 5000, EUR
        (15, &[]),         // tick
        (16, &[]),         // deliver
    ]);
    let auto_detailing = encode(&[
        (0, &[1, 1, 1]), // submit auto-detailing (its two photos)
        (1, &[]),
        (3, &[0]),
        (6, &[]),
        (7, &[]),
        (10, &[0]), // attach the first empty category (arrival)
        (10, &[0]), // ... (before)
        (8, &[]),   // advance to arrived
        (8, &[]),   // advance to in_progress (needs arrival and before)
        (10, &[0]), // attach after
        (11, &[0]),
        (12, &[]),
        (14, &[0, 20, 0]),
    ]);
    let fuzz_open = encode(&[
        (0, &[2, 1, 1]), // submit fuzz-open
        (1, &[]),
        (3, &[0]),
        (6, &[]),
        (14, &[0, 30, 0]), // prepaid: capture before the claim
        (8, &[]),          // the first advance claims implicitly (claim = optional)
        (8, &[]),          // to arrived
        (10, &[0]),        // attach arrival
        (8, &[]),          // to in_progress (rule crew_on_site)
        (10, &[0]),        // attach after
        (11, &[0]),
        (12, &[]),
        (15, &[]),
    ]);
    vec![
        ("event_coordination", event_coordination),
        ("auto_detailing", auto_detailing),
        ("fuzz_open", fuzz_open),
    ]
}

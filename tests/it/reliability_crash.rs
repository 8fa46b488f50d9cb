//! kill -9: a child process drives cases through the engine on a SQLite file as fast as it
//! can, and is killed with SIGKILL (`Child::kill`) at random moments, 25 times. After every
//! kill the parent reopens the file and shows:
//!
//! - **no partial append**: SQLite's `integrity_check` is `ok`; every command's events are all
//!   there or none are (a completion always carries its sealed Record and its `record` signal,
//!   a claim its opened ServiceEvent), and every idempotency key on an event has its record,
//!   whose receipt lists exactly the events stored under that key;
//! - **the chain verifies**: `verify` passes on every case (contiguous sequence numbers,
//!   links, digests, seals);
//! - **every signal committed before the kill is delivered after the restart**: the parent
//!   runs `Engine::recover` (what a host does on start) with a transport that records into a
//!   file, and then every `signal_emitted` event of the store is in that file and nothing is
//!   pending;
//! - **none twice under one id**: the consumer (the recording transport) keeps each signal id
//!   once and drops repeats by id, as the delivery contract asks; the repeats it dropped (kills
//!   between a publish and its `mark_delivered`) are counted, and no two signals share an id.
//!
//! The child is this test binary run again (`crash_child`), so no extra program is needed.
#![cfg(feature = "sqlite")]

use crate::reliability_support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use planck::engine::{Engine, Receipt, verify_store};
use planck::host::{ManualClock, SqliteStore, Store, StoredSignal, Transport, TransportError};
use planck::spine::Event;
use reliability_support::{T0, admin, client, cmd, operator, registry, system};
use serde_json::{Value, json};

const CHILD_ENV: &str = "PLANCK_CRASH_CHILD";

/// A consumer that records each signal id once in a file (fsynced before it answers), and
/// drops repeats by id, counting them in a second file.
struct FileTransport {
    delivered: PathBuf,
    repeats: PathBuf,
    seen: Mutex<HashSet<String>>,
}

impl FileTransport {
    fn new(dir: &Path) -> FileTransport {
        let delivered = dir.join("delivered.log");
        let seen = read_ids(&delivered).into_iter().collect();
        FileTransport {
            delivered,
            repeats: dir.join("repeats.log"),
            seen: Mutex::new(seen),
        }
    }

    fn append(path: &Path, line: &str) -> std::io::Result<()> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(format!("{line}\n").as_bytes())?;
        file.sync_data()
    }
}

impl Transport for FileTransport {
    fn publish(&self, signal: &StoredSignal) -> Result<(), TransportError> {
        let mut seen = self.seen.lock().unwrap();
        let target = if seen.contains(&signal.id) {
            &self.repeats
        } else {
            &self.delivered
        };
        FileTransport::append(target, &signal.id)
            .map_err(|e| TransportError::with_source("recording a signal", e))?;
        seen.insert(signal.id.clone());
        Ok(())
    }
}

/// Every complete line of a log (a line cut by a kill has no newline and is not counted).
fn read_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The commands that take one case from submission to settlement, each with its principal
/// and its idempotency key; `None` is a clock jump and a tick (the escalation fires).
fn lifecycle(case: &str) -> Vec<Option<(planck::policy::Principal, planck::spine::Command)>> {
    vec![
        Some((
            client(),
            cmd(
                case,
                "submit_request",
                json!({"surface": "race-open", "intake": {"contact": "a@x"}}),
            ),
        )),
        Some((admin(), cmd(case, "approve_task", Value::Null))),
        Some((
            admin(),
            cmd(case, "assign_task", json!({"operator": "op-1"})),
        )),
        Some((admin(), cmd(case, "create_job", Value::Null))),
        Some((operator(1), cmd(case, "claim_job", Value::Null))),
        Some((operator(1), cmd(case, "advance", json!({"to": "working"})))),
        None,
        Some((
            operator(1),
            cmd(case, "complete_service_event", json!({"outcome": "done"})),
        )),
        Some((operator(1), cmd(case, "complete_job", Value::Null))),
        Some((
            system(),
            cmd(
                case,
                "record_settlement",
                json!({"status": "captured", "amount_minor": 900, "currency": "EUR"}),
            ),
        )),
    ]
}

/// The child: recover, finish the last case it was working on (its keys make the steps that
/// already landed duplicates), then start new cases until it is killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let start: i64 = std::env::var("PLANCK_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let store = SqliteStore::open(dir.join("crash.db")).unwrap();
    let clock = ManualClock::new(start);
    let engine = Engine::new(registry(), store, FileTransport::new(&dir), clock.clone());
    engine.recover().unwrap();
    let existing = engine.store().cases().unwrap();
    let mut n = existing.len().saturating_sub(1);
    loop {
        let case = format!("crash-{n:05}");
        for (i, step) in lifecycle(&case).into_iter().enumerate() {
            clock.advance(60_000);
            match step {
                Some((who, command)) => {
                    let key = format!("{case}:{i}");
                    let receipt = engine.execute(&who, &command, Some(&key)).unwrap();
                    assert!(!receipt.is_rejected(), "{case} step {i}: {receipt:?}");
                }
                None => {
                    clock.advance(2 * 3_600_000);
                    engine.tick().unwrap();
                }
            }
        }
        n += 1;
    }
}

struct Totals {
    kills: usize,
    cases: usize,
    events: usize,
    signals: usize,
    repeats_dropped: usize,
    recovered_by_parent: usize,
}

/// Everything the module docs promise, on the file as the kill left it.
fn check_after_kill(dir: &Path, totals: &mut Totals) {
    // The file is sound.
    let conn = rusqlite::Connection::open(dir.join("crash.db")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(conn);

    let store = SqliteStore::open(dir.join("crash.db")).unwrap();
    // The chain verifies.
    let report = verify_store(&store).unwrap();
    assert!(report.ok(), "verify after a kill: {:?}", report.failures);

    // No partial append.
    let mut all_signals = Vec::new();
    for case in store.cases().unwrap() {
        let events = store.load(&case).unwrap();
        let payloads: Vec<&Event> = events.iter().map(|e| &e.payload).collect();
        for (i, e) in payloads.iter().enumerate() {
            match e {
                Event::ServiceEventCompleted { .. } => {
                    assert!(
                        matches!(payloads.get(i + 1), Some(Event::RecordSealed { .. })),
                        "{case}: a completion without its record"
                    );
                    assert!(
                        payloads
                            .get(i + 2)
                            .and_then(|e| e.signal())
                            .is_some_and(|s| s.kind == "record"),
                        "{case}: a record without its signal"
                    );
                }
                Event::JobClaimed { .. } => {
                    assert!(
                        matches!(payloads.get(i + 1), Some(Event::ServiceEventOpened { .. })),
                        "{case}: a claim without its service event"
                    );
                }
                _ => {}
            }
        }
        let mut by_key: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for e in &events {
            if let Some(key) = e.idempotency_key.as_deref() {
                by_key.entry(key).or_default().push(e.seq);
            }
            if let Some(signal) = e.payload.signal() {
                all_signals.push(signal.id.clone());
            }
        }
        for (key, seqs) in by_key {
            let record = store
                .idempotency(key)
                .unwrap()
                .unwrap_or_else(|| panic!("{case}: events under key {key} but no key record"));
            let receipt: Receipt = serde_json::from_str(&record.outcome).unwrap();
            let recorded: Vec<u64> = receipt.events().iter().map(|e| e.seq).collect();
            assert_eq!(
                recorded, seqs,
                "{case}: key {key} recorded other events than those stored"
            );
        }
        totals.events += events.len();
        totals.cases += 1;
    }
    let unique: HashSet<&String> = all_signals.iter().collect();
    assert_eq!(unique.len(), all_signals.len(), "two signals share an id");

    // Restart: recover delivers what the kill left pending; then every signal is delivered.
    let transport = FileTransport::new(dir);
    let engine = Engine::new(registry(), store, transport, ManualClock::new(T0));
    totals.recovered_by_parent += engine.recover().unwrap();
    assert!(
        engine
            .store()
            .pending_signals(usize::MAX)
            .unwrap()
            .is_empty(),
        "signals still pending after recover"
    );
    let delivered = read_ids(&dir.join("delivered.log"));
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &delivered {
        *counts.entry(id).or_default() += 1;
    }
    for id in &all_signals {
        assert_eq!(
            counts.get(id.as_str()).copied(),
            Some(1),
            "signal {id} was delivered {:?} times",
            counts.get(id.as_str())
        );
    }
    assert_eq!(
        delivered.len(),
        all_signals.len(),
        "the consumer holds signals the store does not"
    );
    totals.signals = all_signals.len();
    totals.repeats_dropped = read_ids(&dir.join("repeats.log")).len();
}

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut totals = Totals {
        kills: 0,
        cases: 0,
        events: 0,
        signals: 0,
        repeats_dropped: 0,
        recovered_by_parent: 0,
    };
    // A fixed pseudo-random sequence of delays: reproducible, yet spread over the child's life
    // (starting up, recovering, mid-command, mid-commit).
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut progress = Vec::new();
    for restart in 0..25u32 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(40 + state % 360);
        let mut child = Process::new(&exe)
            .args([
                "--exact",
                "reliability_crash::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env(
                "PLANCK_CRASH_START",
                (T0 + i64::from(restart) * 10 * 86_400_000).to_string(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the child ended on its own ({status}) before the kill:\n{err}");
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        totals.kills += 1;
        let (cases, events) = (totals.cases, totals.events);
        totals.cases = 0;
        totals.events = 0;
        check_after_kill(dir.path(), &mut totals);
        assert!(
            totals.events >= events && totals.cases >= cases,
            "the store shrank"
        );
        progress.push(totals.events);
    }
    // The kills landed while the child was working, not only before it started.
    assert!(totals.events > 100, "the child barely worked: {progress:?}");
    let line = format!(
        "kill -9: {} kills survived; {} cases, {} events, {} signals, each delivered once; {} repeats dropped by id; {} signals left pending by a kill and delivered by the restart's recovery; events after each kill: {progress:?}",
        totals.kills,
        totals.cases,
        totals.events,
        totals.signals,
        totals.repeats_dropped,
        totals.recovered_by_parent
    );
    println!("{line}");
    eprintln!("{line}");
}

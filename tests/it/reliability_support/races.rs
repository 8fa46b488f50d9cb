//! Races on one case through one store: the scenarios shared by `tests/it/reliability_races.rs`
//! (SQLite file) and `tests/it/postgres_races.rs` (PostgreSQL), with threads and with separate
//! processes (the test binary runs itself as the child; see [`child_main`]).
//!
//! Every contender is its own engine instance on its own store handle (its own connection),
//! as separate host processes would be. After each race: exactly one claim and at most one
//! Record won; every loser got a clear rejection (with its code) or a duplicate receipt; the
//! case's events are contiguous and exactly what the winners appended (none lost, none
//! doubled); exactly one `record` signal exists, was delivered once, and nothing is pending;
//! `verify` passes on the whole store.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use planck::engine::verify_store;
use planck::policy::Principal;
use planck::spine::{Command, Event};
use planck::surface::registry::Registry;
use serde_json::{Value, json};

use super::{
    StoreSpec, admin, cmd, engine_on, operator, prepare_completion, prepare_job, receipt_line,
    registry,
};

/// Threads in one process, or one process per contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Threads,
    Processes,
}

/// One command sent in the race.
#[derive(Clone, Debug)]
pub struct Contender {
    pub who: Principal,
    pub command: Command,
    pub key: Option<String>,
}

/// What one contender got back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Outcome {
    /// `applied`, `duplicate` or `rejected`.
    pub outcome: String,
    /// The rejection code, if rejected.
    pub code: Option<String>,
    /// Events appended (or, for a duplicate, those of the first outcome).
    pub events: usize,
    /// Signal ids this contender's engine delivered.
    pub delivered: Vec<String>,
    /// Append conflicts a child process ran into (threads count in the shared counter).
    pub conflicts: usize,
}

impl Outcome {
    fn label(&self) -> String {
        match &self.code {
            Some(code) => format!("{}:{code}", self.outcome),
            None => self.outcome.clone(),
        }
    }
}

/// The environment variable that turns the test binary into a race child.
pub const CHILD_ENV: &str = "PLANCK_RACE_CHILD";

/// The body of the `race_child` test each race binary declares: does nothing unless started by
/// [`run_race`] as a child process.
pub fn child_main() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec = StoreSpec::decode(&spec);
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let who: Principal = serde_json::from_str(&var("PLANCK_RACE_PRINCIPAL")).unwrap();
    let command: Command = serde_json::from_str(&var("PLANCK_RACE_COMMAND")).unwrap();
    let key = std::env::var("PLANCK_RACE_KEY").ok();
    let go = PathBuf::from(var("PLANCK_RACE_GO"));
    let engine = engine_on(&spec, &registry());
    // Open the connection and read the case once, so the race is on the write, not the connect.
    let _ = engine.case(&command.case).unwrap();
    println!("\nPLANCK_READY");
    std::io::stdout().flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(Instant::now() < deadline, "the parent never said go");
        std::thread::sleep(Duration::from_micros(200));
    }
    let receipt = engine.execute(&who, &command, key.as_deref()).unwrap();
    let delivered: Vec<String> = engine
        .transport()
        .delivered()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut line: Value = serde_json::from_str(&receipt_line(&receipt)).unwrap();
    line["delivered"] = json!(delivered);
    line["conflicts"] = json!(super::CONFLICTS.load(std::sync::atomic::Ordering::SeqCst));
    println!("\nPLANCK_RESULT {line}");
    std::io::stdout().flush().unwrap();
}

/// Send every contender's command at once and collect what each got back.
pub fn run_race(
    spec: &StoreSpec,
    registry: &Arc<Registry>,
    contenders: &[Contender],
    mode: Mode,
    child_test: &str,
) -> Vec<Outcome> {
    match mode {
        Mode::Threads => {
            let conflicts_before = super::CONFLICTS.load(std::sync::atomic::Ordering::SeqCst);
            let barrier = Barrier::new(contenders.len());
            std::thread::scope(|s| {
                let handles: Vec<_> = contenders
                    .iter()
                    .map(|c| {
                        let barrier = &barrier;
                        s.spawn(move || {
                            let engine = engine_on(spec, registry);
                            let _ = engine.case(&c.command.case).unwrap();
                            barrier.wait();
                            let receipt = engine
                                .execute(&c.who, &c.command, c.key.as_deref())
                                .unwrap();
                            Outcome {
                                outcome: receipt.outcome().to_string(),
                                code: receipt.code().map(|c| c.as_str().to_string()),
                                events: receipt.events().len(),
                                delivered: engine
                                    .transport()
                                    .delivered()
                                    .into_iter()
                                    .map(|s| s.id)
                                    .collect(),
                                conflicts: 0,
                            }
                        })
                    })
                    .collect();
                let mut outcomes: Vec<Outcome> =
                    handles.into_iter().map(|h| h.join().unwrap()).collect();
                if let Some(first) = outcomes.first_mut() {
                    first.conflicts = super::CONFLICTS.load(std::sync::atomic::Ordering::SeqCst)
                        - conflicts_before;
                }
                outcomes
            })
        }
        Mode::Processes => run_processes(spec, contenders, child_test),
    }
}

fn run_processes(spec: &StoreSpec, contenders: &[Contender], child_test: &str) -> Vec<Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    for c in contenders {
        let mut child = Process::new(&exe)
            .args(["--exact", child_test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec.encode())
            .env(
                "PLANCK_RACE_PRINCIPAL",
                serde_json::to_string(&c.who).unwrap(),
            )
            .env(
                "PLANCK_RACE_COMMAND",
                serde_json::to_string(&c.command).unwrap(),
            )
            .env("PLANCK_RACE_GO", &go)
            .envs(c.key.as_ref().map(|k| ("PLANCK_RACE_KEY", k.clone())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let ready = ready_tx.clone();
        let reader = std::thread::spawn(move || {
            let mut result = None;
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if line.contains("PLANCK_READY") {
                    let _ = ready.send(());
                }
                if let Some(at) = line.find("PLANCK_RESULT ") {
                    result = Some(line[at + "PLANCK_RESULT ".len()..].to_string());
                }
            }
            result
        });
        children.push((child, reader));
    }
    for _ in contenders {
        ready_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a race child never got ready");
    }
    std::fs::write(&go, b"go").unwrap();
    children
        .into_iter()
        .map(|(mut child, reader)| {
            let status = child.wait().unwrap();
            assert!(status.success(), "a race child failed: {status}");
            let line = reader
                .join()
                .unwrap()
                .expect("a race child printed no result");
            let v: Value = serde_json::from_str(&line).unwrap();
            Outcome {
                outcome: v["outcome"].as_str().unwrap().to_string(),
                code: v["code"].as_str().map(str::to_string),
                events: v["events"].as_u64().unwrap() as usize,
                delivered: v["delivered"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
                conflicts: v["conflicts"].as_u64().unwrap_or(0) as usize,
            }
        })
        .collect()
}

/// What a race must end in.
#[derive(Clone, Debug)]
pub struct Expect {
    /// How many contenders apply.
    pub applied: usize,
    /// The labels (`rejected:invalid_state`, `duplicate`, …) a loser may get.
    pub losers: &'static [&'static str],
    /// Records the case must hold afterwards.
    pub records: usize,
}

/// Tally of every race run by one test, printed at its end.
#[derive(Debug, Default)]
pub struct Tally {
    pub races: usize,
    pub outcomes: BTreeMap<String, usize>,
    /// Append conflicts the contenders ran into (each one re-decided by the engine).
    pub conflicts: usize,
}

impl Tally {
    pub fn print(&self, what: &str) {
        let line = format!(
            "{what}: {} races; outcomes {:?}; {} append conflicts re-decided",
            self.races, self.outcomes, self.conflicts
        );
        println!("{line}");
        eprintln!("{line}");
    }
}

/// Check everything the races promise, for `case` after one race.
pub fn check_after(
    spec: &StoreSpec,
    case: &str,
    before: usize,
    outcomes: &[Outcome],
    expect: &Expect,
    tally: &mut Tally,
) {
    tally.races += 1;
    tally.conflicts += outcomes.iter().map(|o| o.conflicts).sum::<usize>();
    for o in outcomes {
        *tally.outcomes.entry(o.label()).or_default() += 1;
    }
    let applied: Vec<&Outcome> = outcomes.iter().filter(|o| o.outcome == "applied").collect();
    assert_eq!(
        applied.len(),
        expect.applied,
        "{} applied, {} expected: {outcomes:?}",
        applied.len(),
        expect.applied
    );
    for o in outcomes.iter().filter(|o| o.outcome != "applied") {
        assert!(
            expect.losers.contains(&o.label().as_str()),
            "a loser got `{}`; expected one of {:?}",
            o.label(),
            expect.losers
        );
    }
    let store = spec.open();
    let events = store.load(case).unwrap();
    // Contiguous, and exactly what the winners appended: nothing lost, nothing doubled.
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let want: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, want, "sequence numbers are not contiguous");
    let won: usize = applied.iter().map(|o| o.events).sum();
    assert_eq!(
        events.len(),
        before + won,
        "the case holds {} events; {before} before and {won} appended by the winners",
        events.len()
    );
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "an event id repeats");
    if let Err(e) = planck::audit::verify_case(case, &events) {
        panic!("the case does not verify: {e}");
    }
    let count = |pred: &dyn Fn(&Event) -> bool| events.iter().filter(|e| pred(&e.payload)).count();
    assert_eq!(
        count(&|e| matches!(e, Event::JobClaimed { .. })),
        1,
        "exactly one claim"
    );
    assert_eq!(
        count(&|e| matches!(e, Event::RecordSealed { .. })),
        expect.records,
        "records"
    );
    let record_signals: Vec<String> = events
        .iter()
        .filter_map(|e| e.payload.signal())
        .filter(|s| s.kind == "record")
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(record_signals.len(), expect.records, "record signals");
    // Each record signal was delivered exactly once, by the winner's engine, and is not pending.
    for id in &record_signals {
        let deliveries = outcomes
            .iter()
            .flat_map(|o| &o.delivered)
            .filter(|d| *d == id)
            .count();
        assert_eq!(deliveries, 1, "signal {id} delivered {deliveries} times");
    }
    let pending = store.pending_signals(10_000).unwrap();
    assert!(
        pending.iter().all(|s| s.case_id != case),
        "signals left pending: {pending:?}"
    );
    let report = verify_store(&store).unwrap();
    assert!(report.ok(), "verify: {:?}", report.failures);
}

fn version(spec: &StoreSpec, case: &str) -> usize {
    spec.open().load(case).unwrap().len()
}

/// Many operators claim one Job on an `ownership = "open"` surface: one claim wins, every
/// other operator is told the Job is already claimed.
pub fn claim_race(
    spec: &StoreSpec,
    mode: Mode,
    rounds: usize,
    contenders: usize,
    child_test: &str,
) -> Tally {
    let registry = registry();
    let setup = engine_on(spec, &registry);
    let mut tally = Tally::default();
    for round in 0..rounds {
        let case = format!("claim-{mode:?}-{round}");
        prepare_job(&setup, &case, "race-open");
        let before = version(spec, &case);
        let racers: Vec<Contender> = (1..=contenders)
            .map(|i| Contender {
                who: operator(i),
                command: cmd(&case, "claim_job", Value::Null),
                key: None,
            })
            .collect();
        let outcomes = run_race(spec, &registry, &racers, mode, child_test);
        let expect = Expect {
            applied: 1,
            losers: &[
                "rejected:invalid_state",
                "rejected:not_owner",
                "rejected:conflict",
            ],
            records: 0,
        };
        check_after(spec, &case, before, &outcomes, &expect, &mut tally);
    }
    tally
}

/// The owner sends `complete_service_event` several times at once: without a key one
/// completion wins and the others are `invalid_state`; with one key shared by all, one wins
/// and the others get the first outcome back as a duplicate.
pub fn double_complete(
    spec: &StoreSpec,
    mode: Mode,
    rounds: usize,
    contenders: usize,
    same_key: bool,
    child_test: &str,
) -> Tally {
    let registry = registry();
    let setup = engine_on(spec, &registry);
    let owner = operator(1);
    let mut tally = Tally::default();
    for round in 0..rounds {
        let case = format!("complete-{mode:?}-{same_key}-{round}");
        prepare_completion(&setup, &case, &owner);
        let before = version(spec, &case);
        let key = same_key.then(|| format!("{case}:complete"));
        let racers: Vec<Contender> = (0..contenders)
            .map(|_| Contender {
                who: owner.clone(),
                command: cmd(&case, "complete_service_event", json!({"outcome": "done"})),
                key: key.clone(),
            })
            .collect();
        let outcomes = run_race(spec, &registry, &racers, mode, child_test);
        let losers: &'static [&'static str] = if same_key {
            &["duplicate"]
        } else {
            &["rejected:invalid_state", "rejected:conflict"]
        };
        check_after(
            spec,
            &case,
            before,
            &outcomes,
            &Expect {
                applied: 1,
                losers,
                records: 1,
            },
            &mut tally,
        );
    }
    tally
}

/// Settlement is written (twice, by an admin and by the payment system) while the owner
/// completes the ServiceEvent: all three apply, in some order, and the Record is sealed once.
pub fn settle_while_completing(
    spec: &StoreSpec,
    mode: Mode,
    rounds: usize,
    child_test: &str,
) -> Tally {
    let registry = registry();
    let setup = engine_on(spec, &registry);
    let owner = operator(1);
    let mut tally = Tally::default();
    for round in 0..rounds {
        let case = format!("settle-{mode:?}-{round}");
        prepare_completion(&setup, &case, &owner);
        let before = version(spec, &case);
        let racers = vec![
            Contender {
                who: owner.clone(),
                command: cmd(&case, "complete_service_event", Value::Null),
                key: None,
            },
            Contender {
                who: admin(),
                command: cmd(
                    &case,
                    "record_settlement",
                    json!({"status": "pending", "amount_minor": 5000, "currency": "EUR"}),
                ),
                key: Some(format!("{case}:settle-admin")),
            },
            Contender {
                who: super::system(),
                command: cmd(
                    &case,
                    "record_settlement",
                    json!({"status": "captured", "amount_minor": 5000, "currency": "EUR"}),
                ),
                key: Some(format!("{case}:settle-system")),
            },
        ];
        let outcomes = run_race(spec, &registry, &racers, mode, child_test);
        check_after(
            spec,
            &case,
            before,
            &outcomes,
            &Expect {
                applied: 3,
                losers: &[],
                records: 1,
            },
            &mut tally,
        );
        let case_state = setup.case(&case).unwrap().unwrap();
        let settlement = case_state.settlement.expect("a settlement");
        assert_eq!(settlement.history.len(), 2, "both settlement writes landed");
        assert!(case_state.record.is_some(), "the record is sealed");
    }
    tally
}

/// Where the SQLite races keep their file.
pub fn sqlite_spec(dir: &Path) -> StoreSpec {
    StoreSpec::Sqlite(dir.join("races.db"))
}

//! `planck serve` under load, briefly: a bounded smoke version of the load test in
//! BENCHMARKS.md (many clients at once on the command route, each driving its own cases through
//! the lifecycle), and the pages' time to first byte over a few hundred cases. The real figures
//! come from the release build (`cargo bench --bench peers -- --only serve`); these runs are
//! the debug build and only guard against breakage and gross regressions.

#![cfg(feature = "serve")]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use planck::host::Store as _;
use planck::policy::{Principal, Role};
use serde_json::{Value, json};

use crate::serve::{Client, Server, users_file};

/// The event-coordination lifecycle: (login, command, args).
fn lifecycle() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "ava",
            "submit_request",
            json!({ "surface": "event-coordination", "intake": {
                "contact": "ava@example.com", "event_details": "40 guests", "preferred_timing": "Sat pm" } }),
        ),
        ("kim", "approve_task", json!({})),
        ("kim", "assign_task", json!({ "operator": "op-lee" })),
        ("kim", "create_job", json!({})),
        ("lee", "claim_job", json!({})),
        ("lee", "advance", json!({ "to": "arrived" })),
        ("lee", "advance", json!({ "to": "in_progress" })),
        (
            "lee",
            "complete_service_event",
            json!({ "outcome": "done" }),
        ),
        ("lee", "complete_job", json!({})),
        (
            "kim",
            "record_settlement",
            json!({ "status": "captured", "amount_minor": 12500, "currency": "USD" }),
        ),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * sorted.len() as f64) as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn many_clients_on_the_command_route_lose_nothing() {
    const CLIENTS: usize = 8;
    const RUN_FOR: Duration = Duration::from_secs(2);
    let server = Server::start(&[]);
    let steps = lifecycle();
    // Every client logs in first; the clock starts once all of them are ready.
    let ready = std::sync::Barrier::new(CLIENTS + 1);
    let mut start = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (server, steps, ready) = (&server, &steps, &ready);
                scope.spawn(move || {
                    let logins = ["ava", "kim", "lee"].map(|l| (l, Client::login(server, l)));
                    let as_login =
                        |login: &str| &logins.iter().find(|(l, _)| *l == login).unwrap().1;
                    ready.wait();
                    let end = Instant::now() + RUN_FOR;
                    let (mut latencies, mut events) = (Vec::new(), 0);
                    for k in 0.. {
                        let case = format!("load-{c}-{k}");
                        for (login, command, args) in steps {
                            if Instant::now() >= end {
                                return (latencies, events);
                            }
                            let t = Instant::now();
                            let r = as_login(login).command(&case, command, args.clone());
                            latencies.push(t.elapsed());
                            assert_eq!(r.status, 200, "{case} {command}: {}", r.body);
                            let receipt = r.json();
                            assert_eq!(receipt["outcome"], "applied", "{}", r.body);
                            events += receipt["detail"]["events"].as_array().unwrap().len();
                        }
                    }
                    (latencies, events)
                })
            })
            .collect();
        ready.wait();
        start = Instant::now();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed();
    let mut latencies: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let acknowledged: usize = results.iter().map(|r| r.1).sum();
    latencies.sort_unstable();
    assert!(latencies.len() >= CLIENTS, "too few commands ran");
    eprintln!(
        "serve smoke load (debug build): {CLIENTS} clients, {} commands in {:.1} s = {:.0}/s, p50 {:?}, p99 {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    );
    // Every acknowledged event is stored, nothing else is, and every chain verifies.
    let store = planck::host::SqliteStore::open(server.db()).unwrap();
    let stored: usize = store
        .cases()
        .unwrap()
        .iter()
        .map(|c| store.load(c).unwrap().len())
        .sum();
    assert_eq!(stored, acknowledged);
    let report = planck::engine::verify_store(&store).unwrap();
    assert!(report.ok(), "{report:?}");
}

/// Cases in every state, written straight into the database before the server starts:
/// a tenth of them on `op-lee`'s desk, the rest spread over other operators.
fn seed(db: &Path, n: usize) {
    let store = planck::host::SqliteStore::open_with(
        db,
        planck::host::SqliteOptions {
            synchronous: planck::host::Synchronous::Normal,
            ..planck::host::SqliteOptions::default()
        },
    )
    .unwrap();
    let mut registry = planck::surface::registry::Registry::new();
    assert!(
        registry
            .load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces"))
            .is_ok()
    );
    let engine = planck::engine::Engine::new(
        Arc::new(registry),
        store,
        planck::host::NullTransport,
        planck::host::SystemClock,
    );
    let client = Principal::new("client-ava", [Role::Client]);
    let admin = Principal::new("admin-kim", [Role::Admin]);
    let steps = lifecycle();
    for i in 0..n {
        let case = format!("seed-{i:04}");
        let operator = if i % 10 == 0 {
            "op-lee".to_string()
        } else {
            format!("op-{}", i % 25)
        };
        let who = |login: &str| match login {
            "ava" => client.clone(),
            "kim" => admin.clone(),
            _ => Principal::new(operator.clone(), [Role::Operator]),
        };
        // 0: open, 1: approved and assigned, 2: queued, 3-5: under way, 6-9: done.
        let upto = [1, 3, 4, 6, 7, 8, 10, 10, 10, 10][i % 10];
        for (login, command, args) in steps.iter().take(upto) {
            let mut args = args.clone();
            if *command == "assign_task" {
                args = json!({ "operator": operator });
            }
            let command = planck::spine::Command::from_json(&case, command, &args).unwrap();
            let receipt = engine.execute(&who(login), &command, None).unwrap();
            assert!(receipt.is_applied(), "{case}: {receipt:?}");
        }
    }
}

#[test]
fn pages_answer_fast_with_hundreds_of_cases() {
    const CASES: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path());
    seed(&dir.path().join("planck.db"), CASES);
    let server = Server::start_in(dir, &users, &[]);
    let kim = Client::login(&server, "kim");
    let lee = Client::login(&server, "lee");
    for (who, path) in [
        (&lee, "/desk"),
        (&kim, "/admin"),
        (&kim, "/admin/cases/seed-0005"),
        (&kim, "/api/cases?limit=50"),
    ] {
        let mut firsts = Vec::new();
        for _ in 0..5 {
            let (status, ttfb, body) = who.time_to_first_byte(path);
            assert_eq!(status, 200, "{path}: {body}");
            firsts.push(ttfb);
        }
        firsts.sort_unstable();
        let median = firsts[firsts.len() / 2];
        eprintln!("{path}: time to first byte {median:?} over {CASES} cases (debug build)");
        // A guard against a page that grows much worse than linearly (seconds per page in a
        // debug build on a busy machine), not a target: the release figures are in
        // BENCHMARKS.md.
        assert!(median < Duration::from_secs(15), "{path}: {median:?}");
    }
}

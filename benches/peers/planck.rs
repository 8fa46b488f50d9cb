//! planck's side of the peer comparison: the figures `benches/peers/run.sh` sets beside XState
//! v5, the compiled `statig` floor and a raw rusqlite insert (see BENCHMARKS.md).
//!
//! Plain timing (no criterion): each figure runs for a fixed time budget per round, several
//! rounds, and reports the median. The figures:
//! - `decide_evolve`: `decide` + `apply` over the whole peer lifecycle (submit → settle on the
//!   five-phase `peer-lifecycle` surface, a Rhai guard on completion), commands per second;
//! - `engine_memory`: the same lifecycle through `Engine::execute` on `MemoryStore`;
//! - `guard_ratio`: an `advance` whose transition carries a Rhai rule, over the same advance
//!   without it (time per decide + apply);
//! - `sqlite_*`: rows per second appended to `SqliteStore` (one event per append, one case at a
//!   time, and group commit from several threads) and, as the floor, a raw rusqlite insert of
//!   the same rows (`sqlite_floor`);
//! - `durable_*`: whole commands through `Engine::execute` on a durable store (FULL) from 1,
//!   16 and 64 clients, each command acknowledged before the client's next: commands per
//!   second and p50 / p99 latency per level, the figures set beside Restate (see `durable.rs`);
//! - `serve_http`: the same lifecycles through the real `planck serve` binary over HTTP on
//!   loopback, 1, 16 and 64 clients (key `durable_serve_http`; see `serve_http.rs`);
//! - `verify`: events per second re-verified by `audit::verify_case`;
//! - `compile_*`: the shipped surfaces' compile time and the per-phase growth of generated ones.
//!
//! Usage: `cargo bench --bench peers -- [--json] [--quick] [--only NAME]...`. With `--json` it
//! prints one JSON object (what run.sh reads); otherwise a readable list.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench stops loudly on a broken fixture"
)]

mod driver;
mod durable;
mod serve_http;
mod sqlite_floor;
#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use planck::audit::{StoredEvent, verify_case};
use planck::host::MemoryStore;
use planck::spine::{self, Case, Catalog, Command, CommandBody};
use planck::surface::{Format, SourceFile, Surface, compile_source};
use serde_json::{Value, json};
use support::{NOW, Step, lifecycle};

/// How long and how often to measure.
#[derive(Clone, Copy)]
pub struct Budget {
    pub rounds: usize,
    pub per_round: Duration,
}

/// Run `batch` (which does some operations and returns how many) until `per_round` has passed,
/// `rounds` times after one warm-up round; the median of the per-round operations per second.
pub fn rate(budget: Budget, mut batch: impl FnMut() -> u64) -> f64 {
    let mut rates = Vec::with_capacity(budget.rounds);
    for round in 0..=budget.rounds {
        let start = Instant::now();
        let mut ops = 0;
        while start.elapsed() < budget.per_round {
            ops += batch();
        }
        if round > 0 {
            rates.push(ops as f64 / start.elapsed().as_secs_f64());
        }
    }
    median(rates)
}

/// Like [`rate`], for batches that time themselves (set-up excluded): each returns the
/// operations done and the time they took.
pub fn timed_rate(budget: Budget, mut batch: impl FnMut() -> (u64, Duration)) -> f64 {
    let mut rates = Vec::with_capacity(budget.rounds);
    for round in 0..=budget.rounds {
        let (mut ops, mut spent) = (0, Duration::ZERO);
        while spent < budget.per_round {
            let (n, t) = batch();
            ops += n;
            spent += t;
        }
        if round > 0 {
            rates.push(ops as f64 / spent.as_secs_f64());
        }
    }
    median(rates)
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn run_lifecycle(
    catalog: &impl Catalog,
    commands: &[(planck::policy::Principal, Command)],
) -> Case {
    let mut case = Case::new("case-1");
    for (who, command) in commands {
        let events = spine::decide(&case, catalog, who, command, NOW).unwrap();
        for e in &events {
            spine::apply(&mut case, e);
        }
    }
    case
}

fn decide_evolve(budget: Budget) -> f64 {
    let surface = support::peer_surface();
    let commands = support::commands("case-1", &lifecycle("peer-lifecycle"));
    let n = commands.len() as u64;
    rate(budget, || {
        for _ in 0..100 {
            black_box(run_lifecycle(&surface, black_box(&commands)));
        }
        100 * n
    })
}

fn engine_memory(budget: Budget) -> f64 {
    let steps = lifecycle("peer-lifecycle");
    let n = steps.len() as u64;
    timed_rate(budget, || {
        // A fresh store per batch keeps memory flat across rounds; making and dropping it is
        // not timed.
        let engine = support::engine(MemoryStore::new());
        let cases: Vec<String> = (0..100).map(|_| support::fresh_case("c")).collect();
        let start = Instant::now();
        for case in &cases {
            support::engine_lifecycle(&engine, case, &steps);
        }
        let spent = start.elapsed();
        drop(engine);
        (100 * n, spent)
    })
}

/// The case of `surface` just before `advance → in_progress` (arrival evidence attached).
fn before_in_progress(surface: &Surface) -> Case {
    let steps: Vec<Step> = lifecycle(surface.slug()).into_iter().take(5).collect();
    let (_, events) = support::drive(surface, "case-1", &steps);
    let mut case = spine::replay("case-1", events.iter().flatten());
    for body in [
        CommandBody::Advance {
            to: "arrived".into(),
        },
        CommandBody::AttachEvidence {
            category: "arrival".into(),
            reference: "s3://ev/a.jpg".into(),
        },
    ] {
        for e in spine::decide(
            &case,
            surface,
            &support::lee(),
            &Command::new("case-1", body),
            NOW,
        )
        .unwrap()
        {
            spine::apply(&mut case, &e);
        }
    }
    case
}

/// Time per `advance` (decide + apply) on `surface`, in ns. Each batch clones its cases before
/// the clock starts, so only decide + apply is timed.
fn advance_ns(surface: &Surface, budget: Budget) -> f64 {
    let case = before_in_progress(surface);
    let lee = support::lee();
    let command = Command::new(
        "case-1",
        CommandBody::Advance {
            to: "in_progress".into(),
        },
    );
    let per_s = timed_rate(budget, || {
        let mut cases: Vec<Case> = (0..200).map(|_| case.clone()).collect();
        let start = Instant::now();
        for case in &mut cases {
            for e in spine::decide(case, surface, &lee, black_box(&command), NOW).unwrap() {
                spine::apply(case, &e);
            }
        }
        let spent = start.elapsed();
        black_box(cases);
        (200, spent)
    });
    1e9 / per_s
}

fn guard_ratio(budget: Budget) -> (f64, f64, f64) {
    let (guarded, plain) = support::guard_pair();
    let rhai = support::rhai_guarded();
    (
        advance_ns(&guarded, budget),
        advance_ns(&plain, budget),
        advance_ns(&rhai, budget),
    )
}

fn verify(budget: Budget) -> f64 {
    let surface = support::peer_surface();
    let cases: Vec<(String, Vec<StoredEvent>)> = (0..50)
        .map(|i| {
            let id = format!("case-{i}");
            let events = sqlite_floor::sealed_lifecycle(&surface, &id);
            (id, events)
        })
        .collect();
    let events: u64 = cases.iter().map(|(_, e)| e.len() as u64).sum();
    rate(budget, || {
        for (id, e) in &cases {
            black_box(verify_case(id, black_box(e)).unwrap());
        }
        events
    })
}

/// The cost of one envelope digest (canonical JSON + SHA-256 + hex), averaged over the events
/// of a peer lifecycle, and of the SHA-256 alone over the same bytes: what every stored event
/// costs the engine (and verify) on top of `decide`.
fn digest_ns(budget: Budget) -> (f64, f64, f64) {
    let surface = support::peer_surface();
    let events = sqlite_floor::sealed_lifecycle(&surface, "case-1");
    let n = events.len() as u64;
    let bytes: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut value = serde_json::to_value(e).unwrap();
            if let Value::Object(map) = &mut value {
                map.remove("digest");
            }
            planck::audit::canonical::reference_canonical_json(&value).unwrap()
        })
        .collect();
    let avg_len = bytes.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
    let digest = rate(budget, || {
        for e in &events {
            black_box(e.compute_digest().unwrap());
        }
        n
    });
    let sha = rate(budget, || {
        for b in &bytes {
            black_box(planck::audit::sha256_hex(black_box(b)));
        }
        n
    });
    (1e9 / digest, 1e9 / sha, avg_len)
}

fn compile_us(text: &str, format: Format, budget: Budget) -> f64 {
    let file = SourceFile::from_text("bench", text, format);
    compile_source(&file).unwrap();
    1e6 / rate(budget, || {
        black_box(compile_source(black_box(&file)).unwrap());
        1
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--only")
        .map(|w| w[1].as_str())
        .collect();
    let want = |name: &str| {
        only.is_empty()
            || only
                .iter()
                .any(|o| name.starts_with(o) || o.starts_with(name))
    };
    let budget = if quick {
        Budget {
            rounds: 3,
            per_round: Duration::from_millis(200),
        }
    } else {
        Budget {
            rounds: 7,
            per_round: Duration::from_millis(500),
        }
    };
    let mut out: BTreeMap<&str, Value> = BTreeMap::new();
    if want("decide_evolve") {
        out.insert("decide_evolve_per_s", json!(decide_evolve(budget)));
        out.insert(
            "lifecycle_commands",
            json!(lifecycle("peer-lifecycle").len()),
        );
    }
    if want("engine_memory") {
        out.insert("engine_memory_per_s", json!(engine_memory(budget)));
    }
    if want("guard") {
        let (guarded, plain, rhai) = guard_ratio(budget);
        out.insert("guarded_advance_ns", json!(guarded));
        out.insert("unguarded_advance_ns", json!(plain));
        out.insert("rhai_guarded_advance_ns", json!(rhai));
    }
    if want("digest") {
        let (digest, sha, len) = digest_ns(budget);
        out.insert("envelope_digest_ns", json!(digest));
        out.insert("sha256_ns", json!(sha));
        out.insert("envelope_bytes", json!(len));
    }
    if want("verify") {
        out.insert("verify_events_per_s", json!(verify(budget)));
    }
    if want("compile") {
        let mut worst: f64 = 0.0;
        for file in [
            "event-coordination.toml",
            "event-coordination.surface",
            "auto-detailing.toml",
            "auto-detailing.surface",
        ] {
            let format = if file.ends_with(".toml") {
                Format::Toml
            } else {
                Format::Dsl
            };
            worst = worst.max(compile_us(&support::shipped_text(file), format, budget));
        }
        out.insert("compile_shipped_worst_us", json!(worst));
        let small = Budget {
            rounds: budget.rounds.min(5),
            per_round: budget.per_round,
        };
        let per_phase =
            |n: usize| compile_us(&support::generated_toml(n), Format::Toml, small) / n as f64;
        let (p100, p10k) = (per_phase(100), per_phase(10_000));
        out.insert("compile_per_phase_100_us", json!(p100));
        out.insert("compile_per_phase_10000_us", json!(p10k));
    }
    if want("sqlite") || want("engine_sqlite") {
        for (k, v) in sqlite_floor::figures(budget, quick, &want) {
            out.insert(k, v);
        }
    }
    if want("durable") {
        for (k, v) in durable::figures(quick) {
            out.insert(k, v);
        }
    }
    if want("serve_http") {
        for (k, v) in serve_http::figures(quick) {
            out.insert(k, v);
        }
    }
    if json_out {
        println!("{}", serde_json::to_string(&out).unwrap());
    } else {
        for (k, v) in &out {
            println!("{k:32} {v}");
        }
    }
}

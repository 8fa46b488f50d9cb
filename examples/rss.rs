//! Memory against cases served: the engine's peak RSS stays flat however many cases it has
//! served, because its case cache is bounded (`Engine::with_cache_capacity`, default
//! `planck::engine::CACHED_CASES`).
//!
//! Serves `N` fresh event-coordination cases through `Engine::execute` on a `SqliteStore` file
//! (`synchronous = NORMAL`: memory, not fsyncs, is measured here), each case two commands
//! (submit, approve), one case after another, so every case but the last few is one the
//! engine no longer touches. At 10^k cases served it prints the process's peak RSS (`VmHWM`)
//! and current RSS (`VmRSS`) from `/proc/self/status`, and how many cases the cache holds.
//! The store is on disk, so what grows is the engine's (SQLite's own page cache is bounded).
//!
//! ```text
//! cargo run --release --example rss -- [N=100000] [--capacity CASES]
//! ```
//! `--capacity 18446744073709551615` (usize::MAX) shows the unbounded growth for contrast.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use planck::engine::Engine;
use planck::host::{ManualClock, NullTransport, SqliteOptions, SqliteStore, Synchronous};
use planck::policy::{Principal, Role};
use planck::spine::Command;
use planck::surface::registry::Registry;
use serde_json::{Value, json};

/// `VmHWM` and `VmRSS` of this process, in KiB (0 where /proc is not there).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut total: u64 = 100_000;
    let mut capacity = planck::engine::CACHED_CASES;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--capacity" {
            capacity = it.next().ok_or("--capacity needs a number")?.parse()?;
        } else {
            total = arg.parse()?;
        }
    }

    let mut registry = Registry::new();
    let report = registry.load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces"));
    if !report.is_ok() {
        return Err(format!("the shipped surfaces did not load: {report:?}").into());
    }
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open_with(
        dir.path().join("rss.db"),
        SqliteOptions {
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        },
    )?;
    let engine = Engine::new(
        Arc::new(registry),
        store,
        NullTransport,
        ManualClock::new(1_768_035_600_000),
    )
    .with_cache_capacity(capacity);

    let client = Principal::new("client-ava", [Role::Client]);
    let admin = Principal::new("admin-kim", [Role::Admin]);
    let intake = json!({
        "surface": "event-coordination",
        "intake": {"contact": "ava@example.com", "event_details": "40 guests", "preferred_timing": "Sat pm"}
    });
    let (hwm, rss) = rss_kib();
    println!("cache capacity {capacity} cases; before serving: VmHWM {hwm} KiB, VmRSS {rss} KiB");
    println!(
        "{:>10} {:>12} {:>12} {:>8} {:>10}",
        "cases", "VmHWM KiB", "VmRSS KiB", "cached", "seconds"
    );
    let start = Instant::now();
    let mut next_report = 10_000;
    for i in 1..=total {
        let case = format!("case-{i}");
        for (who, name, args) in [
            (&client, "submit_request", &intake),
            (&admin, "approve_task", &Value::Null),
        ] {
            let command = Command::from_json(&case, name, args)?;
            let receipt = engine.execute(who, &command, None)?;
            if !receipt.is_applied() {
                return Err(format!("{name} on {case} was not applied: {receipt:?}").into());
            }
        }
        if i == next_report || i == total {
            let (hwm, rss) = rss_kib();
            println!(
                "{i:>10} {hwm:>12} {rss:>12} {:>8} {:>10.1}",
                engine.cached_cases(),
                start.elapsed().as_secs_f64()
            );
            next_report = next_report.saturating_mul(10);
        }
    }
    Ok(())
}

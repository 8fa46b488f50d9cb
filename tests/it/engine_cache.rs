//! The engine's case cache is bounded: however many cases an engine serves, it keeps at most
//! its capacity of folded cases, and a case evicted from the cache is folded again from the
//! store on its next command, ending exactly where an engine that never evicted it ends.

use crate::engine_common;

use engine_common::*;
use planck::engine::{CACHED_CASES, Engine};
use planck::host::{ManualClock, MemoryStore, MemoryTransport, SqliteStore, Store};
use planck::policy::Principal;
use planck::spine::Command;
use serde_json::{Value, json};

/// Drive `cases` lifecycles interleaved (one step of each case in turn), so that with a small
/// cache every case is evicted between two of its commands. Checks the bound after every
/// command.
fn interleaved<S: Store>(engine: &Engine<S, MemoryTransport, ManualClock>, cases: &[String]) {
    let all: Vec<Vec<(Principal, Command)>> = cases.iter().map(|c| ten_steps(c)).collect();
    for step in 0..all[0].len() {
        for lifecycle in &all {
            let (who, command) = lifecycle[step].clone();
            ok(engine, &who, command);
            assert!(
                engine.cached_cases() <= engine.cache_capacity(),
                "{} cached with a capacity of {}",
                engine.cached_cases(),
                engine.cache_capacity()
            );
        }
    }
}

fn case_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ev-{i}")).collect()
}

#[test]
fn the_default_capacity_is_documented_and_applied() {
    let engine = memory_engine();
    assert_eq!(engine.cache_capacity(), CACHED_CASES);
    assert_eq!(engine.cached_cases(), 0);
}

#[test]
fn the_cache_stays_at_its_bound_and_evicted_cases_end_where_cached_ones_do() {
    let cases = case_ids(12);
    let small = memory_engine().with_cache_capacity(3);
    let large = memory_engine();
    interleaved(&small, &cases);
    interleaved(&large, &cases);
    assert_eq!(small.cached_cases(), 3, "the cache fills up to its bound");
    assert_eq!(large.cached_cases(), cases.len());
    for id in &cases {
        let (a, b) = (small.case(id).unwrap(), large.case(id).unwrap());
        assert_eq!(
            a, b,
            "{id} differs between a bounded and an unbounded cache"
        );
        let (ha, hb) = (small.history(id).unwrap(), large.history(id).unwrap());
        assert_eq!(ha.len(), hb.len());
        let seqs: Vec<u64> = ha.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=ha.len() as u64).collect::<Vec<_>>());
        for (x, y) in ha.iter().zip(&hb) {
            assert_eq!(x.payload, y.payload);
            assert_eq!(x.event_type, y.event_type);
        }
    }
    let report = small.verify().unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.cases, cases.len());
}

#[test]
fn a_capacity_of_zero_keeps_nothing_and_still_judges_right() {
    let engine = memory_engine().with_cache_capacity(0);
    interleaved(&engine, &case_ids(3));
    assert_eq!(engine.cached_cases(), 0);
    let report = engine.verify().unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // A refusal still sees the stored state: the job is completed, so it cannot be claimed.
    assert_eq!(
        code(&engine, &lee(), cmd("ev-0", "claim_job", Value::Null)).as_str(),
        "invalid_state"
    );
}

/// An evicted case that another engine moved on meanwhile is folded from the store, with the
/// other engine's events, before the next decision.
#[test]
fn an_evicted_case_reloads_with_what_another_engine_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let new = |capacity| {
        Engine::new(
            registry(),
            SqliteStore::open(&path).unwrap(),
            MemoryTransport::new(),
            ManualClock::new(T0),
        )
        .with_cache_capacity(capacity)
    };
    let (a, b) = (new(1), new(16));
    to_job(&a, "ev-a", "event-coordination");
    // `b` claims; `a` then evicts ev-a by serving another case.
    ok(&b, &lee(), cmd("ev-a", "claim_job", Value::Null));
    ok(&a, &client(), submit("ev-b", "event-coordination"));
    assert_eq!(a.cached_cases(), 1);
    // `a` must see the claim: a second claim is refused, and advancing works.
    assert_eq!(
        code(&a, &max(), cmd("ev-a", "claim_job", Value::Null)).as_str(),
        "invalid_state"
    );
    ok(
        &a,
        &lee(),
        cmd("ev-a", "advance", json!({ "to": "arrived" })),
    );
    let events = a.history("ev-a").unwrap();
    assert!(planck::audit::verify_case("ev-a", &events).is_ok());
}

/// Many cases served one after another: the cache holds only the most recent ones.
#[test]
fn serving_many_cases_keeps_only_the_capacity() {
    let engine = Engine::new(
        registry(),
        MemoryStore::new(),
        MemoryTransport::new(),
        ManualClock::new(T0),
    )
    .with_cache_capacity(8);
    for i in 0..200 {
        ok(
            &engine,
            &client(),
            submit(&format!("c-{i}"), "event-coordination"),
        );
        assert!(engine.cached_cases() <= 8);
    }
    assert_eq!(engine.cached_cases(), 8);
}

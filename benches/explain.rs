//! Explain: the cost of a full `explain` (every check `decide` makes, each with its sentence).
//!
//! What it isolates: `spine::explain` alone, against the case just before each command of the
//! auto-detailing lifecycle (nothing is folded, so no set-up is needed), plus two refusals an
//! operator typically asks "why?" about. Compare with `decide/command/auto-detailing/*` for the
//! price of the recorded sentences.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench stops loudly on a broken fixture; criterion's macros write undocumented functions"
)]

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use planck::policy::{Principal, Role};
use planck::spine::{self, Command, CommandBody};
use support::{NOW, lifecycle};

fn explain(c: &mut Criterion) {
    let surface = support::shipped("auto-detailing");
    let steps = lifecycle("auto-detailing");
    let (before, _) = support::drive(&surface, "case-1", &steps);
    let mut group = c.benchmark_group("explain/auto-detailing");
    for (step, case) in steps.iter().zip(&before) {
        let command = Command::new("case-1", step.body.clone());
        assert!(spine::explain(case, &surface, &step.who, &command, NOW).accepted());
        group.bench_function(step.label, |b| {
            b.iter(|| spine::explain(case, &surface, &step.who, black_box(&command), NOW))
        });
    }
    // Refusals: another operator claims (not_assignee); moving on without the photos
    // (evidence_missing).
    let claim = steps.iter().position(|s| s.label == "claim_job").unwrap();
    let max = Principal::new("op-max", [Role::Operator]);
    let command = Command::new("case-1", CommandBody::ClaimJob);
    assert!(!spine::explain(&before[claim], &surface, &max, &command, NOW).accepted());
    group.bench_function("refused:not_assignee", |b| {
        b.iter(|| spine::explain(&before[claim], &surface, &max, black_box(&command), NOW))
    });
    let arrival = steps
        .iter()
        .position(|s| s.label == "attach:arrival")
        .unwrap();
    let command = Command::new(
        "case-1",
        CommandBody::Advance {
            to: "in_progress".into(),
        },
    );
    assert!(!spine::explain(&before[arrival], &surface, &support::lee(), &command, NOW).accepted());
    group.bench_function("refused:evidence_missing", |b| {
        b.iter(|| {
            spine::explain(
                &before[arrival],
                &surface,
                &support::lee(),
                black_box(&command),
                NOW,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, explain);
criterion_main!(benches);

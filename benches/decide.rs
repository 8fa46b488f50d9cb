//! Decide: the pure core, `decide` + `evolve` (as `apply`), with no store, no envelope and no
//! digests of the audit layer (a sealed Record's own digest is part of `decide`).
//!
//! What it isolates: the spine's judgement and the fold of its events into the case.
//! - `decide/lifecycle/<slug>`: a whole lifecycle (submit → settle) from an empty case; divide
//!   by the number of commands for the per-command average the peer comparison uses;
//! - `decide/command/<slug>/<command>`: each command of the event-coordination and
//!   auto-detailing lifecycles on its own, from the case just before it (the clone of that case
//!   is set-up, outside the timing);
//! - `decide/guard`: the same `advance arrived → in_progress` on a surface whose transition
//!   carries a Rhai rule and on one without it (target: guarded ≤ 2× unguarded); the rule
//!   (`case.evidence.arrival >= 1`) is in the subset the spine judges without the interpreter,
//!   so `rhai_guarded_interpreted` adds the same rule written so that Rhai must run it.

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

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use planck::spine::{self, Case, Catalog, Command, CommandBody};
use planck::surface::Surface;
use support::{NOW, lifecycle};

/// Run every step from an empty case; the result is the final case.
fn run_lifecycle(
    catalog: &impl Catalog,
    case_id: &str,
    steps: &[(planck::policy::Principal, Command)],
) -> Case {
    let mut case = Case::new(case_id);
    for (who, command) in steps {
        let events = spine::decide(&case, catalog, who, command, NOW).unwrap();
        for e in &events {
            spine::apply(&mut case, e);
        }
    }
    case
}

fn lifecycles(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide/lifecycle");
    for slug in ["event-coordination", "auto-detailing", "peer-lifecycle"] {
        let surface = if slug == "peer-lifecycle" {
            support::peer_surface()
        } else {
            support::shipped(slug)
        };
        let steps = lifecycle(slug);
        let commands = support::commands("case-1", &steps);
        group.throughput(Throughput::Elements(commands.len() as u64));
        group.bench_function(slug, |b| {
            b.iter(|| run_lifecycle(&surface, "case-1", black_box(&commands)))
        });
    }
    group.finish();
}

fn per_command(c: &mut Criterion) {
    for slug in ["event-coordination", "auto-detailing"] {
        let surface = support::shipped(slug);
        let steps = lifecycle(slug);
        let (before, _) = support::drive(&surface, "case-1", &steps);
        let mut group = c.benchmark_group(format!("decide/command/{slug}"));
        for (step, case) in steps.iter().zip(before) {
            let command = Command::new("case-1", step.body.clone());
            group.bench_function(step.label, |b| {
                b.iter_batched(
                    || case.clone(),
                    |mut case| {
                        let events =
                            spine::decide(&case, &surface, &step.who, black_box(&command), NOW)
                                .unwrap();
                        for e in &events {
                            spine::apply(&mut case, e);
                        }
                        case
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

/// The case of `surface` just before `advance → in_progress` (arrival evidence attached).
fn before_in_progress(surface: &Surface) -> Case {
    let mut steps = lifecycle(surface.slug());
    steps.truncate(5); // submit … claim
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
        let events = spine::decide(
            &case,
            surface,
            &support::lee(),
            &Command::new("case-1", body),
            NOW,
        )
        .unwrap();
        for e in &events {
            spine::apply(&mut case, e);
        }
    }
    case
}

fn guard(c: &mut Criterion) {
    let (guarded, plain) = support::guard_pair();
    let mut group = c.benchmark_group("decide/guard");
    let command = Command::new(
        "case-1",
        CommandBody::Advance {
            to: "in_progress".into(),
        },
    );
    let lee = support::lee();
    let rhai = support::rhai_guarded();
    for (name, surface) in [
        ("unguarded", &plain),
        ("rhai_guarded", &guarded),
        ("rhai_guarded_interpreted", &rhai),
    ] {
        let case = before_in_progress(surface);
        spine::decide(&case, surface, &lee, &command, NOW).unwrap();
        group.bench_function(name, |b| {
            b.iter_batched(
                || case.clone(),
                |mut case| {
                    let events =
                        spine::decide(&case, surface, &lee, black_box(&command), NOW).unwrap();
                    for e in &events {
                        spine::apply(&mut case, e);
                    }
                    case
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, lifecycles, per_command, guard);
criterion_main!(benches);

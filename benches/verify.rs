//! Verify: replaying stored cases and checking every envelope, link, digest and Record seal.
//!
//! What it isolates: `audit::verify_case` over envelopes already in memory (no store reads, no
//! JSON decoding of rows): per event it recomputes the envelope digest over canonical JSON,
//! checks the chain link and the timestamp, folds the event with `apply`, and re-seals the
//! Record. Throughput is in events, so criterion prints events per second directly
//! (target: at least 500,000 events/s).

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

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use planck::audit::{Envelope, StoredEvent, verify_case};
use planck::spine::Case;

/// Seal a whole lifecycle of `slug` as stored envelopes, the way the engine would.
pub fn sealed_case(surface: &planck::surface::Surface, case_id: &str) -> Vec<StoredEvent> {
    let steps = support::lifecycle(surface.slug());
    let (before, events) = support::drive(surface, case_id, &steps);
    let mut stored: Vec<StoredEvent> = Vec::new();
    for ((step, case), events) in steps.iter().zip(&before).zip(events) {
        let pin = match (&case.request, &events[0]) {
            (Some(r), _) => r.surface.clone(),
            (None, planck::spine::Event::RequestSubmitted { surface, .. }) => surface.clone(),
            _ => unreachable!(),
        };
        let env = Envelope {
            case_id,
            actor: &step.who,
            surface: &pin,
            idempotency_key: None,
            at: support::NOW,
        };
        let sealed = env.seal(stored.last(), events).unwrap();
        stored.extend(sealed);
    }
    stored
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for slug in ["event-coordination", "auto-detailing"] {
        let surface = support::shipped(slug);
        let cases: Vec<(String, Vec<StoredEvent>)> = (0..50)
            .map(|i| {
                let id = format!("case-{i}");
                let events = sealed_case(&surface, &id);
                (id, events)
            })
            .collect();
        let events: usize = cases.iter().map(|(_, e)| e.len()).sum();
        for (id, e) in &cases {
            verify_case(id, e).unwrap();
        }
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(format!("{slug}/50_cases"), |b| {
            b.iter(|| {
                cases
                    .iter()
                    .map(|(id, e)| verify_case(id, black_box(e)).unwrap())
                    .collect::<Vec<Case>>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

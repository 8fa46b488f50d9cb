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
use planck::audit::{StoredEvent, verify_case};
use planck::spine::Case;

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for slug in ["event-coordination", "auto-detailing"] {
        let surface = support::shipped(slug);
        let cases: Vec<(String, Vec<StoredEvent>)> = (0..50)
            .map(|i| {
                let id = format!("case-{i}");
                let events = support::sealed_lifecycle(&surface, &id);
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

//! Compile: parse + validate + compile of surface files, from text to an immutable `Surface`.
//!
//! What it isolates: the surface language pipeline only (front end, validator, Rhai guard
//! compilation, phase table, adjacency, petgraph graph, fingerprint). No file I/O: the text is
//! read once before timing. Two groups:
//! - `compile/shipped`: every shipped surface in both forms (target: under 100 µs each);
//! - `compile/generated`: generated surfaces with 10 … 10,000 phases in TOML and DSL form,
//!   reported per phase (criterion's element throughput), so near-linear growth shows as a
//!   flat per-phase time.

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
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use planck::surface::{Format, SourceFile, compile_source};

fn compile_text(name: &str, text: &str, format: Format) -> planck::surface::Surface {
    let file = SourceFile::from_text(name, text, format);
    match compile_source(&file) {
        Ok(compiled) => compiled.surface,
        Err(diags) => panic!("{name}: {diags:#?}"),
    }
}

fn shipped(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile/shipped");
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
        let text = support::shipped_text(file);
        compile_text(file, &text, format);
        group.bench_function(file, |b| {
            b.iter(|| compile_text(file, black_box(&text), format))
        });
    }
    group.finish();
}

fn generated(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile/generated");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    for n in [10_usize, 100, 1_000, 10_000] {
        group.throughput(Throughput::Elements(n as u64));
        for (form, text, format) in [
            ("toml", support::generated_toml(n), Format::Toml),
            ("dsl", support::generated_dsl(n), Format::Dsl),
        ] {
            let surface = compile_text("generated", &text, format);
            assert_eq!(surface.phases().len(), n);
            group.bench_with_input(BenchmarkId::new(form, n), &text, |b, text| {
                b.iter(|| compile_text("generated", black_box(text), format))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, shipped, generated);
criterion_main!(benches);

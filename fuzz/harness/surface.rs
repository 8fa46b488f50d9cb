//! The checks behind the `surface_toml` and `surface_dsl` fuzz targets, shared with
//! `tests/it/fuzz_regressions.rs` (which includes this file with `#[path]`) so that every input
//! that ever crashed is replayed by plain `cargo test`.
//!
//! For any bytes: the front end and the compiler return (never panic, never hang). For any
//! input that compiles: printing the tree in either form and reading it back gives an equal
//! tree and the same fingerprint (jiff-style round trip), and the printed forms compile too.
#![allow(dead_code, reason = "each fuzz target uses one front end")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests assert by panicking"
)]

use planck::surface::diagnostic::has_errors;
use planck::surface::{Definition, compile, dsl, fingerprint, print, toml};

/// Which front end reads the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// `surface::toml::parse`.
    Toml,
    /// `surface::dsl::parse`.
    Dsl,
}

/// Parse `data` with `front`, compile it, and when it compiles check both round trips.
/// Panics (a fuzz crash) when a property does not hold.
pub fn check(front: Front, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (def, diags) = match front {
        Front::Toml => toml::parse(text),
        Front::Dsl => dsl::parse(text),
    };
    spans_inside(text, &diags);
    if has_errors(&diags) {
        return;
    }
    let compiled = match compile(&def) {
        Ok(compiled) => compiled,
        Err(diags) => {
            assert!(
                has_errors(&diags),
                "compile refused without an error: {diags:#?}"
            );
            spans_inside(text, &diags);
            return;
        }
    };
    spans_inside(text, &compiled.warnings);
    let fp = fingerprint(&def);
    assert_eq!(
        compiled.surface.fingerprint(),
        fp,
        "the compiled surface's fingerprint is not the definition's"
    );
    round_trip("DSL", &def, &print::to_dsl(&def), dsl::parse, fp);
    round_trip("TOML", &def, &print::to_toml(&def), toml::parse, fp);
}

/// Diagnostics must point inside the file (spans are byte offsets into the source, on
/// character boundaries, so a renderer can slice them).
fn spans_inside(text: &str, diags: &[planck::surface::Diagnostic]) {
    for d in diags {
        let span = d.span;
        assert!(
            span.start <= span.end
                && span.end <= text.len()
                && text.is_char_boundary(span.start)
                && text.is_char_boundary(span.end),
            "diagnostic span {span:?} is not a slice of the {}-byte file: {d:?}",
            text.len()
        );
    }
}

fn round_trip(
    form: &str,
    def: &Definition,
    printed: &str,
    parse: fn(&str) -> (Definition, Vec<planck::surface::Diagnostic>),
    fp: planck::surface::Fingerprint,
) {
    let (back, diags) = parse(printed);
    assert!(
        !has_errors(&diags),
        "the {form} printer wrote text its parser refuses:\n{printed}\n{diags:#?}"
    );
    assert!(
        back == *def,
        "{form} round trip changed the tree:\nprinted:\n{printed}\nbefore: {def:#?}\nafter: {back:#?}"
    );
    assert_eq!(
        fingerprint(&back),
        fp,
        "{form} round trip changed the fingerprint:\n{printed}"
    );
    assert!(
        compile(&back).is_ok(),
        "the {form} printout of a compiling surface does not compile:\n{printed}"
    );
}

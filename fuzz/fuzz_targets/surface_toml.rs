//! Bytes → `surface::toml::parse` → `compile`; when it compiles, print it as DSL and as TOML
//! and read both back: equal tree, equal fingerprint. See `fuzz/harness/surface.rs`.
#![no_main]

#[path = "../harness/surface.rs"]
mod surface;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    surface::check(surface::Front::Toml, data);
});

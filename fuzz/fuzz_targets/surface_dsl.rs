//! Bytes → `surface::dsl::parse` → `compile`; when it compiles, `print::to_dsl` → parse again
//! gives an equal tree and fingerprint (and so does the TOML printout). See
//! `fuzz/harness/surface.rs`.
#![no_main]

#[path = "../harness/surface.rs"]
mod surface;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    surface::check(surface::Front::Dsl, data);
});

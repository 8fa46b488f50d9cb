//! Arbitrary command sequences from arbitrary principals against an `Engine` on a
//! `MemoryStore` with the shipped surfaces, asserting the spine's invariants after every step
//! and `verify` at the end. See `fuzz/harness/engine.rs` for how bytes become commands.
#![no_main]

#[path = "../harness/engine.rs"]
mod engine;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    engine::Harness::new().run(data);
});

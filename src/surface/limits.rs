//! Hostile-input limits on surface files, in one documented place.
//!
//! A surface file may come from anyone who can drop a file in a directory, so every size that
//! the loader, the front ends, the validator and the compiler depend on is bounded here. The
//! limits are generous for hand-written surfaces and for generated ones (a surface with 10,000
//! phases compiles), and small enough that a hostile file cannot make the compiler allocate
//! without bound. Exceeding a limit is a diagnostic (`file_too_large`, `too_many`,
//! `out_of_range`), never a panic. This module only declares numbers (and asserts, at compile
//! time, that they fit the compiled representation): it must never check input against them,
//! so that each check lives next to the code that reports it.

/// Largest surface file accepted, in bytes (4 MiB). Larger files are `file_too_large` and are
/// not parsed at all.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Most `[[phase]]` entries in one surface. Generated surfaces with 10,000 phases must
/// compile; phase ids are `u32` inside the compiled surface.
pub const MAX_PHASES: usize = 16_384;

/// Most `[[transition]]` entries in one surface.
pub const MAX_TRANSITIONS: usize = 65_536;

/// Most `[[rule]]` entries in one surface (each one is a compiled Rhai expression).
pub const MAX_RULES: usize = 256;

/// Most `[[escalation]]` entries in one surface.
pub const MAX_ESCALATIONS: usize = 256;

/// Most evidence categories (`required_categories` and `optional_categories` together), and
/// most entries in one transition's `requires`.
pub const MAX_CATEGORIES: usize = 256;

/// Most intake fields (`required` and `optional` together).
pub const MAX_INTAKE_FIELDS: usize = 256;

/// Longest string value anywhere in a surface file, in bytes (a `when` expression included).
pub const MAX_STRING_BYTES: usize = 4_096;

/// Largest `min_per_category`: more evidence items than anyone attaches by hand.
pub const MAX_MIN_PER_CATEGORY: i64 = 10_000;

/// Largest `min_photos`.
pub const MAX_MIN_PHOTOS: i64 = 10_000;

/// Largest `version` (versions are `u32` inside the compiled surface).
pub const MAX_VERSION: i64 = u32::MAX as i64;

/// Longest escalation `after`, in milliseconds (366 days). Longer waits are `out_of_range`:
/// an escalation that cannot fire within a year is almost always a unit typo.
pub const MAX_ESCALATION_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// Most diagnostics reported for one file. Past it, one `too_many` warning says how many more
/// problems were found: a file with a hundred thousand broken tables gets a readable answer
/// and bounded memory, and fixing the first problems usually removes the rest.
pub const MAX_DIAGNOSTICS: usize = 1_000;

// The limits fit the compiled representation, checked when the crate compiles: ids are `u32`,
// generated surfaces with 10,000 phases must compile, and a `when` the string limit admits is
// one the Rhai sandbox admits.
const _: () = {
    assert!(MAX_PHASES >= 10_000);
    assert!(MAX_PHASES <= u32::MAX as usize);
    assert!(MAX_TRANSITIONS <= u32::MAX as usize);
    assert!(MAX_RULES <= u32::MAX as usize);
    assert!(MAX_CATEGORIES <= u32::MAX as usize);
    assert!(MAX_MIN_PER_CATEGORY <= u32::MAX as i64);
    assert!(MAX_MIN_PHOTOS <= u32::MAX as i64);
    assert!(MAX_STRING_BYTES <= MAX_FILE_BYTES);
    assert!(MAX_STRING_BYTES <= crate::surface::rules::Limits::DEFAULT.max_source_len);
};

//! planck: an embeddable, rules-driven workflow engine.

pub mod spine;
pub mod surface;

//! planck: an embeddable, rules-driven workflow engine.

pub mod audit;
pub mod policy;
pub mod spine;
pub mod surface;

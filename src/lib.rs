//! planck: an embeddable, rules-driven workflow engine.

pub mod audit;
pub mod engine;
pub mod host;
pub mod policy;
pub mod scenario;
pub mod spine;
pub mod surface;

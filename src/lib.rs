#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! The module tree is the pipeline (see `ARCHITECTURE.md`): [`surface`] turns a surface file
//! into a compiled [`surface::Surface`]; [`spine`] is the pure core that judges commands
//! against a case; [`policy`] says who may do what; [`engine`] drives the core over the host's
//! [`host`] traits; [`audit`] makes the stored history verifiable; [`scenario`] runs scenario
//! files; [`explore`] walks every state a case of a surface can reach. [`diagnostic`] is how
//! every file a user writes reports its problems.
//!
//! # Cargo features
//!
//! - `sqlite` (default): [`host::SqliteStore`], the embedded durable store (SQLite is bundled:
//!   nothing to install).
//! - `postgres`: `host::PostgresStore`, for hosts that run many instances against one
//!   PostgreSQL database.
//! - `serve` (default): `planck::serve`, the HTTP service behind `planck serve` (axum and
//!   tokio; sessions, the JSON API, the desks as pages, the ticker and the outbox dispatcher).
//!   Enables `webhook`.
//! - `webhook`: `host::WebhookTransport`, signals POSTed as JSON signed with HMAC-SHA256.
//! - `otel`: `planck serve --otlp` exports the engine's tracing spans over OTLP.

pub mod audit;
pub mod diagnostic;
pub mod engine;
pub mod explore;
pub mod host;
pub mod policy;
pub mod scenario;
#[cfg(feature = "serve")]
pub mod serve;
pub mod spine;
pub mod surface;

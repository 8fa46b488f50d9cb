//! The world a host brings: storage ([`Store`]), signal delivery ([`Transport`]) and time
//! ([`Clock`]), and the implementations planck ships.
//!
//! Each trait is small and documented so that a host can implement it for its own database,
//! queue or clock without reading the rest of planck; [`conformance`] proves a store behaves
//! like the shipped ones. Shipped: [`MemoryStore`] and (feature `sqlite`, on by default)
//! [`SqliteStore`] and its group-commit form [`GroupCommitSqliteStore`]; [`MemoryTransport`] and [`NullTransport`]; [`SystemClock`] and
//! [`ManualClock`]; (feature `webhook`) [`webhook::WebhookTransport`]. Code here moves bytes and reads the time; it never judges a command, and
//! nothing outside `host/` touches a database or the system clock.

mod clock;
pub mod conformance;
pub mod index;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod index_sql;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_group;
#[cfg(feature = "sqlite")]
mod sqlite_list;
mod store;
mod transport;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use index::{
    CaseFilter, CaseIndex, DeskRows, FeedEntry, IndexRow, IndexState, ListCursor, OperatorIndex,
    QueueNeed,
};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{Dispatched, PG_SCHEMA_VERSION, PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore, Synchronous};
#[cfg(feature = "sqlite")]
pub use sqlite_group::{DEFAULT_MAX_WAIT, GroupCommitSqliteStore, MAX_GROUP};
pub use store::{
    Append, BoxError, Commit, Committed, IdempotencyRecord, Store, StoreError, StoredEvent,
    StoredSignal, StreamHead, check_append,
};
pub use transport::{MemoryTransport, NullTransport, Transport, TransportError};
#[cfg(feature = "webhook")]
pub use webhook::{WebhookError, WebhookOptions, WebhookTransport};

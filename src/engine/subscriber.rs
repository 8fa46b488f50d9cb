//! [`Subscriber`]: the loop a host runs to follow the global feed with a stored cursor
//! (projections, exporters, observers; docs/queries.md).
//!
//! The cursor is the last position handled, kept in a [`CursorStore`] ([`MemoryCursor`],
//! [`FileCursor`], or the host's own: a row in its projection's database, written in the same
//! transaction as the projection, makes handling exactly once). Each [`Subscriber::poll`] reads
//! the events after the cursor in position order, hands each to the handler, and saves the
//! cursor after the last one handled. Delivery is **at least once**: an event handled whose
//! position was not yet saved (a crash between the two) is handed over again after a restart,
//! so a handler must tolerate repeats (the event id `<case>:<seq>` and the position identify
//! an event). Nothing is ever skipped: the feed never gives a committed event a position below
//! one a reader has seen.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::host::{BoxError, FeedEntry, Store, StoreError};

/// How many events [`Subscriber::poll`] reads at a time unless told otherwise.
pub const DEFAULT_BATCH: usize = 256;

/// Where a subscriber keeps the last position it handled.
pub trait CursorStore {
    /// The last position handled (0 before the first event).
    fn load(&self) -> Result<u64, BoxError>;
    /// Remember that every event up to `position` was handled.
    fn save(&self, position: u64) -> Result<(), BoxError>;
}

/// A cursor in memory (gone with the process: after a restart the feed is read from the start).
#[derive(Debug, Default)]
pub struct MemoryCursor(AtomicU64);

impl MemoryCursor {
    /// A cursor at `position`.
    pub fn new(position: u64) -> Self {
        MemoryCursor(AtomicU64::new(position))
    }
}

impl CursorStore for MemoryCursor {
    fn load(&self) -> Result<u64, BoxError> {
        Ok(self.0.load(Ordering::Acquire))
    }

    fn save(&self, position: u64) -> Result<(), BoxError> {
        self.0.store(position, Ordering::Release);
        Ok(())
    }
}

/// A cursor in a file holding the position as decimal text; saved by writing a temporary file
/// beside it and renaming it over the old one, so a crash leaves the old position or the new,
/// never a torn one. A missing file is position 0.
#[derive(Clone, Debug)]
pub struct FileCursor {
    path: PathBuf,
}

impl FileCursor {
    /// A cursor kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCursor { path: path.into() }
    }
}

impl CursorStore for FileCursor {
    fn load(&self) -> Result<u64, BoxError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text.trim().parse()?),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(err) => Err(err.into()),
        }
    }

    fn save(&self, position: u64) -> Result<(), BoxError> {
        let mut temp = self.path.clone().into_os_string();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        std::fs::write(&temp, format!("{position}\n"))?;
        std::fs::rename(&temp, &self.path)?;
        Ok(())
    }
}

/// Why a subscriber stopped.
#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    /// Reading the feed failed.
    #[error("reading the feed failed")]
    Store(#[from] StoreError),
    /// Loading or saving the cursor failed.
    #[error("the subscriber's cursor could not be {action}")]
    Cursor {
        /// `loaded` or `saved`.
        action: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The handler refused the event at `position`; the cursor stays before it, so the next
    /// poll hands it over again.
    #[error("the handler failed on the event at position {position}")]
    Handler {
        /// The event's position.
        position: u64,
        /// The handler's error.
        #[source]
        source: BoxError,
    },
}

/// Follows the feed of a store from a stored cursor.
#[derive(Debug)]
pub struct Subscriber<S: Store, C: CursorStore> {
    store: S,
    cursor: C,
    batch: usize,
}

impl<S: Store, C: CursorStore> Subscriber<S, C> {
    /// Follow `store`'s feed from the position `cursor` holds.
    pub fn new(store: S, cursor: C) -> Self {
        Subscriber {
            store,
            cursor,
            batch: DEFAULT_BATCH,
        }
    }

    /// Read at most `batch` events per poll (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The cursor store.
    pub fn cursor(&self) -> &C {
        &self.cursor
    }

    /// Read the events after the cursor (at most one batch), hand each to `handle` in position
    /// order, and save the cursor after the last one handled. Returns how many were handled (0:
    /// nothing new). When `handle` fails, the cursor is saved just before that event and the
    /// error returned: the next poll starts with it.
    pub fn poll<E: Into<BoxError>>(
        &self,
        mut handle: impl FnMut(&FeedEntry) -> Result<(), E>,
    ) -> Result<usize, SubscriberError> {
        let start = self
            .cursor
            .load()
            .map_err(|source| SubscriberError::Cursor {
                action: "loaded",
                source,
            })?;
        let batch = self.store.feed(start, self.batch)?;
        let mut handled = 0;
        let mut last = start;
        let mut failure = None;
        for entry in &batch {
            if let Err(err) = handle(entry) {
                failure = Some(SubscriberError::Handler {
                    position: entry.position,
                    source: err.into(),
                });
                break;
            }
            last = entry.position;
            handled += 1;
        }
        if last != start {
            self.cursor
                .save(last)
                .map_err(|source| SubscriberError::Cursor {
                    action: "saved",
                    source,
                })?;
        }
        match failure {
            Some(failure) => Err(failure),
            None => Ok(handled),
        }
    }

    /// Poll until `stop` says so (it is asked before every poll), sleeping `idle` whenever a
    /// poll found nothing new. Returns the number of events handled, or the first error.
    pub fn run<E: Into<BoxError>>(
        &self,
        idle: Duration,
        mut handle: impl FnMut(&FeedEntry) -> Result<(), E>,
        mut stop: impl FnMut() -> bool,
    ) -> Result<usize, SubscriberError> {
        let mut total = 0;
        while !stop() {
            let handled = self.poll(&mut handle)?;
            total += handled;
            if handled == 0 {
                std::thread::sleep(idle);
            }
        }
        Ok(total)
    }
}

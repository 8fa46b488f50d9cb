//! The one layer between HTTP handlers and the engine.
//!
//! The engine is blocking (a SQLite or PostgreSQL call, a fold, argon2). Every call from a
//! handler goes through [`Backend`], which runs it on tokio's blocking pool through a
//! [`TaskTracker`], so no runtime thread waits on a commit or the network, and shutdown can
//! wait for every engine call that started, even one whose client went away: a command either
//! commits or never starts. Over a store that commits on a thread of its own (the SQLite
//! database of `planck serve --db`), a command instead runs as a tracked task on the runtime
//! and awaits its commit ([`Backend::awaiting_commits`]), so no thread is parked per command;
//! its reads (the key, a case not cached) are local SQLite reads. Handlers never touch the
//! engine directly. The desk, the queue and lists are the
//! engine's indexed queries (docs/queries.md); the feed is the store's. Every applied command
//! bumps a counter ([`Backend::commits`]) that open feed streams wait on, so they read the
//! new events at once instead of at their next poll.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::audit::{StoredEvent, verify_case};
pub use crate::engine::{ActiveJob, DeskView, MissingEvidence, Move};
use crate::engine::{CaseView, Engine, EngineError, QueueItem, Receipt};
use crate::host::{Clock, FeedEntry, Store, Transport};
use crate::policy::Principal;
use crate::serve::query::{ListFilter, ListPage};
use crate::spine::{Command, Explanation, OperatorProfile};

/// The engine as `serve` runs it: any store, any transport, any clock.
pub type ServeEngine = Engine<Arc<dyn Store>, Arc<dyn Transport>, Arc<dyn Clock>>;

/// Why an engine call failed (not a refused command: that is a receipt).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The engine failed (the store, serialization).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The blocking task did not finish (it panicked or the runtime is going away).
    #[error("the engine call did not finish: {0}")]
    Join(String),
}

/// Runs engine calls off the async runtime. Cheap to clone.
#[derive(Clone)]
pub struct Backend {
    engine: Arc<ServeEngine>,
    tasks: TaskTracker,
    commits: Arc<watch::Sender<u64>>,
    /// Commands run on the runtime and await their commits ([`Engine::execute_async`]).
    await_commits: bool,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("in_flight", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// One case in full: its view, its history and whether its chain verifies.
#[derive(Clone, Debug, Serialize)]
pub struct CaseDetail {
    /// Every layer.
    pub view: CaseView,
    /// Every stored event.
    pub history: Vec<StoredEvent>,
    /// `None` when every digest, link and seal holds; the failure otherwise.
    pub verify_failure: Option<String>,
}

impl Backend {
    /// A backend over `engine`; engine calls are tracked by `tasks`.
    pub fn new(engine: Arc<ServeEngine>, tasks: TaskTracker) -> Self {
        Backend {
            engine,
            tasks,
            commits: Arc::new(watch::Sender::new(0)),
            await_commits: false,
        }
    }

    /// Run commands as tracked tasks on the runtime that await their commits
    /// ([`Engine::execute_async`]) instead of on the blocking pool (`false`, the default). Only
    /// for a store whose reads are local and whose [`Store::append_async`] awaits a writer
    /// thread of its own.
    pub fn awaiting_commits(mut self, await_commits: bool) -> Self {
        self.await_commits = await_commits;
        self
    }

    /// A receiver that changes whenever a command executed here was applied (its value counts
    /// them). Commits by other processes (another instance on the same PostgreSQL database,
    /// the ticker) do not show here: a follower also polls.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// The engine calls still running.
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// Run `call` on the blocking pool, tracked, and wait for it.
    pub async fn run<R, F>(&self, call: F) -> Result<R, BackendError>
    where
        F: FnOnce(&ServeEngine) -> R + Send + 'static,
        R: Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        self.tasks
            .spawn_blocking(move || call(&engine))
            .await
            .map_err(|err| BackendError::Join(err.to_string()))
    }

    /// `Engine::execute` as `principal`.
    pub async fn execute(
        &self,
        principal: Principal,
        command: Command,
        key: Option<String>,
    ) -> Result<Receipt, BackendError> {
        let receipt = if self.await_commits {
            // A task of its own, tracked: the command finishes even if its client goes away.
            let engine = Arc::clone(&self.engine);
            self.tasks
                .spawn(async move {
                    engine
                        .execute_async(&principal, &command, key.as_deref())
                        .await
                })
                .await
                .map_err(|err| BackendError::Join(err.to_string()))??
        } else {
            self.run(move |e| e.execute(&principal, &command, key.as_deref()))
                .await??
        };
        if matches!(receipt, Receipt::Applied { .. }) {
            self.commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(receipt)
    }

    /// A case's view, history and verify status; `None` when nothing was ever stored for it.
    pub async fn case(&self, id: String) -> Result<Option<CaseDetail>, BackendError> {
        Ok(self.run(move |e| case_detail(e, &id)).await??)
    }

    /// A case's view only.
    pub async fn view(&self, id: String) -> Result<Option<CaseView>, BackendError> {
        Ok(self.run(move |e| e.view(&id)).await??)
    }

    /// The governance queue.
    pub async fn queue(&self) -> Result<Vec<QueueItem>, BackendError> {
        Ok(self.run(|e| e.governance_queue()).await??)
    }

    /// `principal`'s desk, with the moves allowed now judged as `principal`.
    pub async fn desk(&self, principal: Principal) -> Result<DeskView, BackendError> {
        Ok(self.run(move |e| e.desk_with_moves(&principal)).await??)
    }

    /// One page of the cases matching `filter`, from the store's index.
    pub async fn list(&self, filter: ListFilter) -> Result<ListPage, BackendError> {
        Ok(self
            .run(move |e| e.list(&filter.filter, filter.after.as_ref(), filter.limit))
            .await??)
    }

    /// At most `limit` events of the global feed after `after`.
    pub async fn feed(&self, after: u64, limit: usize) -> Result<Vec<FeedEntry>, BackendError> {
        Ok(self.run(move |e| e.feed(after, limit)).await??)
    }

    /// Every operator profile of the directory (the governance layer), sorted by id.
    pub async fn operators(&self) -> Result<Vec<OperatorProfile>, BackendError> {
        Ok(self.run(|e| e.operators()).await??)
    }

    /// `Engine::explain` as `principal`.
    pub async fn explain(
        &self,
        principal: Principal,
        command: Command,
    ) -> Result<Explanation, BackendError> {
        Ok(self.run(move |e| e.explain(&principal, &command)).await??)
    }
}

fn case_detail(engine: &ServeEngine, id: &str) -> Result<Option<CaseDetail>, EngineError> {
    let history = engine.history(id)?;
    if history.is_empty() {
        return Ok(None);
    }
    let Some(view) = engine.view(id)? else {
        return Ok(None);
    };
    let verify_failure = verify_case(id, &history).err().map(|e| e.to_string());
    Ok(Some(CaseDetail {
        view,
        history,
        verify_failure,
    }))
}

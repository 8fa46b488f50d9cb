//! The one layer between HTTP handlers and the engine.
//!
//! The engine is blocking (a SQLite or PostgreSQL call, a fold, argon2). Every call from a
//! handler goes through [`Backend`], which runs it on tokio's blocking pool through a
//! [`TaskTracker`], so no runtime thread ever blocks and shutdown can wait for every engine
//! call that started, even one whose client went away: a command either commits or never
//! starts. Handlers never touch the engine directly. The desk, the queue and lists are the
//! engine's indexed queries (docs/queries.md); the feed is the store's.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::task::TaskTracker;

use crate::audit::{StoredEvent, verify_case};
use crate::engine::{CaseView, Desk, Engine, EngineError, QueueItem, Receipt};
use crate::host::{Clock, FeedEntry, Store, Transport};
use crate::policy::Principal;
use crate::serve::query::{ListFilter, ListPage};
use crate::spine::{Command, CommandBody, Explanation, ServiceEventState};

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
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("in_flight", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// A move an operator could make from the current phase, with the engine's verdict now.
#[derive(Clone, Debug, Serialize)]
pub struct Move {
    /// The command that makes it: `advance`, or `complete_service_event` into the last phase.
    pub command: &'static str,
    /// The target phase id.
    pub to: String,
    /// Its label.
    pub label: String,
    /// Whether the engine would apply it now.
    pub allowed: bool,
    /// Why not, when refused.
    pub refused: Option<String>,
}

/// An active Job on the desk, with what can be done next.
#[derive(Clone, Debug, Serialize)]
pub struct ActiveJob {
    /// The case.
    #[serde(flatten)]
    pub view: CaseView,
    /// The moves from the current phase, each with its verdict.
    pub moves: Vec<Move>,
    /// Required evidence categories still short of items, with how many more each needs.
    pub missing_evidence: Vec<MissingEvidence>,
    /// Every declared evidence category (for the attach form).
    pub categories: Vec<String>,
}

/// A required category short of items.
#[derive(Clone, Debug, Serialize)]
pub struct MissingEvidence {
    /// The category.
    pub category: String,
    /// Items held.
    pub have: u32,
    /// Items needed.
    pub need: u32,
}

/// An operator's desk with the moves allowed now.
#[derive(Clone, Debug, Serialize)]
pub struct DeskView {
    /// The operator (the session's principal).
    pub operator: String,
    /// Queued Jobs they may claim.
    pub queued: Vec<CaseView>,
    /// Jobs they own, with moves and missing evidence.
    pub active: Vec<ActiveJob>,
    /// Completed Jobs they owned, where the surface keeps them visible.
    pub completed: Vec<CaseView>,
    /// Whether a column was cut at the desk's limit.
    pub truncated: bool,
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
        Backend { engine, tasks }
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
        Ok(self
            .run(move |e| e.execute(&principal, &command, key.as_deref()))
            .await??)
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
        Ok(self.run(move |e| desk_view(e, &principal)).await??)
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

fn desk_view(engine: &ServeEngine, principal: &Principal) -> Result<DeskView, EngineError> {
    let Desk {
        operator,
        queued,
        active,
        completed,
        truncated,
    } = engine.desk(&principal.id)?;
    let mut jobs = Vec::with_capacity(active.len());
    for view in active {
        jobs.push(active_job(engine, principal, view)?);
    }
    Ok(DeskView {
        operator,
        queued,
        active: jobs,
        completed,
        truncated,
    })
}

/// The moves from the case's current phase, each judged by `explain` as `principal`, and the
/// required evidence still missing.
fn active_job(
    engine: &ServeEngine,
    principal: &Principal,
    view: CaseView,
) -> Result<ActiveJob, EngineError> {
    let Some(case) = engine.case(&view.case)? else {
        return Ok(ActiveJob {
            view,
            moves: Vec::new(),
            missing_evidence: Vec::new(),
            categories: Vec::new(),
        });
    };
    let Some(surface) = engine.surface_of(&case) else {
        return Ok(ActiveJob {
            view,
            moves: Vec::new(),
            missing_evidence: Vec::new(),
            categories: Vec::new(),
        });
    };
    let mut moves = Vec::new();
    let open = view.service_event == Some(ServiceEventState::Open);
    if let (true, Some(current)) = (
        open,
        view.phase.as_ref().and_then(|p| surface.phase_id(&p.id)),
    ) {
        for transition in surface.transitions_from(current) {
            let to = surface.phase_name(transition.to).to_string();
            let label = surface
                .phase(transition.to)
                .map_or_else(|| to.clone(), |p| p.label.clone());
            let (command, body) = if transition.to == surface.last_phase() {
                (
                    "complete_service_event",
                    CommandBody::CompleteServiceEvent { outcome: None },
                )
            } else {
                ("advance", CommandBody::Advance { to: to.clone() })
            };
            let verdict = engine.explain(principal, &Command::new(view.case.clone(), body))?;
            moves.push(Move {
                command,
                to,
                label,
                allowed: verdict.accepted(),
                refused: verdict.rejection.map(|r| r.message),
            });
        }
    }
    let contract = surface.evidence();
    let missing_evidence = if open {
        contract
            .required()
            .filter_map(|(_, category)| {
                let have = view.evidence.get(category).copied().unwrap_or(0);
                (have < contract.min_per_category).then(|| MissingEvidence {
                    category: category.to_string(),
                    have,
                    need: contract.min_per_category,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ActiveJob {
        categories: contract.categories.clone(),
        view,
        moves,
        missing_evidence,
    })
}

//! An operator's desk with what they can do next: each active Job's moves from its current
//! phase, judged by `explain` as the operator, and the required evidence still missing. What
//! `planck desk` prints and `GET /api/desk` answers.

use serde::Serialize;

use crate::engine::{CaseView, Desk, Engine, EngineError};
use crate::host::{Clock, Store, Transport};
use crate::policy::Principal;
use crate::spine::{Command, CommandBody, ServiceEventState};

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
    /// The rejection code, when refused.
    pub code: Option<String>,
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

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// `principal`'s desk ([`Engine::desk`]), each active Job with the moves from its current
    /// phase judged as `principal` now, and the required evidence still missing.
    pub fn desk_with_moves(&self, principal: &Principal) -> Result<DeskView, EngineError> {
        let engine = self;
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
}

/// The moves from the case's current phase, each judged by `explain` as `principal`, and the
/// required evidence still missing.
pub(crate) fn active_job<S: Store, T: Transport, C: Clock>(
    engine: &Engine<S, T, C>,
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
                code: verdict.rejection.as_ref().map(|r| r.code.to_string()),
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

//! The abstract state of a case: what can change a later decision, and nothing else (no ids,
//! no times, no histories). Two cases with one key are one state of the walk.

use crate::explore::generate::{PRINCIPALS, principal_index};
use crate::policy::Role;
use crate::spine::{Case, JobState, ServiceEventState, SettlementStatus, TaskState};
use crate::surface::Surface;

/// What the walk tells states apart by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The intake as submitted (canonical JSON), `None` before the request.
    intake: Option<String>,
    task: Option<TaskState>,
    /// The assignee and the owner, as indices of the representative principals.
    assignee: Option<usize>,
    job: Option<JobState>,
    owner: Option<usize>,
    /// The ServiceEvent: its state, phase and evidence count per category (capped).
    service_event: Option<(ServiceEventState, String, Vec<u32>)>,
    /// The settlement, where it can change a decision (prepaid surfaces, rules that read it).
    settlement: Option<SettlementStatus>,
    /// Who submitted the request, where it can change a decision: while the task is open, an
    /// admin who submitted may not approve it (`self_approval`); on a surface with approvals,
    /// only the submitting client may approve as a client (`audience_mismatch`). Every other
    /// submitter is `None`: no later decision tells them apart.
    submitter: Option<usize>,
    /// The move waiting for approval: the phase it would enter, and who asked for it (who may
    /// not decide it).
    pending: Option<(String, Option<usize>)>,
}

/// How a surface's cases are abstracted.
#[derive(Clone, Debug)]
pub struct Abstraction {
    /// Per declared category (in declaration order), the count above which more evidence
    /// changes nothing: the largest count a requirement or a rule literal needs, plus one.
    pub caps: Vec<u32>,
    /// Whether the settlement takes part in the key.
    pub settlement: bool,
}

impl Abstraction {
    /// The key of `case` under `surface`.
    pub fn key(&self, surface: &Surface, case: &Case) -> Key {
        let who = |id: Option<&str>| id.map(|id| principal_index(id).unwrap_or(usize::MAX));
        let intake = case
            .request
            .as_ref()
            .map(|r| serde_json::to_string(&r.intake).unwrap_or_default());
        let service_event = case.service_event.as_ref().map(|se| {
            let counts = surface
                .evidence()
                .categories
                .iter()
                .zip(&self.caps)
                .map(|(c, cap)| se.evidence_counts.get(c).copied().unwrap_or(0).min(*cap))
                .collect();
            (se.state, se.phase.clone(), counts)
        });
        let submitter = case.request.as_ref().and_then(|r| {
            let i = principal_index(&r.submitted_by).unwrap_or(usize::MAX);
            let role = PRINCIPALS.get(i).map(|p| p.role);
            let open = case.task_state() == Some(TaskState::Open);
            let approves_own_task = open && role == Some(Role::Admin);
            let approves_as_client = surface.has_approvals() && role == Some(Role::Client);
            (approves_own_task || approves_as_client).then_some(i)
        });
        let pending = case
            .pending_approval
            .as_ref()
            .map(|p| (p.to.clone(), who(Some(&p.requested_by))));
        Key {
            intake,
            task: case.task_state(),
            assignee: who(case.assignee()),
            job: case.job_state(),
            owner: who(case.owner()),
            service_event,
            settlement: if self.settlement {
                case.settlement.as_ref().map(|s| s.status)
            } else {
                None
            },
            submitter,
            pending,
        }
    }
}

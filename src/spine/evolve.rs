//! `evolve`: fold one event into a case. Pure, total and never refusing: every event it sees
//! was accepted by `decide` (or read back from a verified store), so it only applies facts.

use crate::spine::Event;
use crate::spine::case::{
    Assignment, Case, EvidenceItem, Job, JobState, Millis, Note, PendingApproval, PhaseClock,
    PhaseEntry, ReleasedServiceEvent, Request, ServiceEvent, ServiceEventState, Settlement,
    SettlementEntry, Task, TaskState,
};

/// Apply `event` to `case` and return the new case.
pub fn evolve(mut case: Case, event: &Event) -> Case {
    apply(&mut case, event);
    case
}

/// Apply `event` to `case` in place.
pub fn apply(case: &mut Case, event: &Event) {
    case.version += 1;
    match event {
        // The sealed fields' key is gone; the events (and so the case) keep their form.
        Event::PersonalDataErased { .. } => {}
        Event::RequestSubmitted {
            surface,
            intake,
            photos,
            routing_origin,
            by,
            at,
        } => {
            case.request = Some(Request {
                surface: surface.clone(),
                intake: intake.clone(),
                photos: photos.clone(),
                routing_origin: routing_origin.clone(),
                submitted_by: by.clone(),
                submitted_at: *at,
            });
            case.task = Some(Task {
                state: TaskState::Open,
                notes: Vec::new(),
                rejection_reason: None,
            });
        }
        Event::TaskApproved { .. } => set_task(case, TaskState::Approved),
        Event::TaskRejected { reason, .. } => {
            set_task(case, TaskState::Rejected);
            if let Some(task) = case.task.as_mut() {
                task.rejection_reason = Some(reason.clone());
            }
        }
        Event::TaskAssigned { operator, by, at } => {
            case.assignment = Some(Assignment {
                operator: operator.clone(),
                assigned_by: by.clone(),
                at: *at,
            });
        }
        Event::TaskAnnotated { by, note, at } => {
            if let Some(task) = case.task.as_mut() {
                task.notes.push(Note {
                    author: by.clone(),
                    text: note.clone(),
                    at: *at,
                });
            }
        }
        Event::TaskClosed { .. } => set_task(case, TaskState::Closed),
        Event::JobCreated { phase, at, .. } => {
            case.job = Some(Job {
                state: JobState::Queued,
                owner: None,
                created_at: *at,
                cancel_reason: None,
            });
            case.clock = Some(PhaseClock {
                phase: phase.clone(),
                entered_at: *at,
                fired: Vec::new(),
            });
        }
        Event::JobClaimed { operator, .. } => {
            if let Some(job) = case.job.as_mut() {
                job.state = JobState::Claimed;
                job.owner = Some(operator.clone());
            }
        }
        Event::ServiceEventOpened { phase, at } => {
            case.service_event = Some(ServiceEvent {
                state: ServiceEventState::Open,
                phase: phase.clone(),
                history: vec![PhaseEntry {
                    phase: phase.clone(),
                    at: *at,
                }],
                evidence: Vec::new(),
                evidence_counts: Default::default(),
                outcome: None,
            });
            case.clock = Some(PhaseClock {
                phase: phase.clone(),
                entered_at: *at,
                fired: Vec::new(),
            });
        }
        Event::PhaseAdvanced { to, at, .. } => {
            if let Some(se) = case.service_event.as_mut() {
                se.phase = to.clone();
                se.history.push(PhaseEntry {
                    phase: to.clone(),
                    at: *at,
                });
            }
            case.clock = Some(PhaseClock {
                phase: to.clone(),
                entered_at: *at,
                fired: Vec::new(),
            });
        }
        Event::EvidenceAttached {
            category,
            reference,
            by,
            at,
        } => {
            if let Some(se) = case.service_event.as_mut() {
                se.evidence.push(EvidenceItem {
                    category: category.clone(),
                    reference: reference.clone(),
                    by: by.clone(),
                    at: *at,
                });
                *se.evidence_counts.entry(category.clone()).or_insert(0) += 1;
            }
        }
        Event::ServiceEventCompleted {
            phase, outcome, at, ..
        } => {
            if let Some(se) = case.service_event.as_mut() {
                complete(se, phase, outcome, *at);
            }
            case.clock = None;
        }
        Event::RecordSealed { record } => case.record = Some(record.clone()),
        Event::SignalEmitted { signal, escalation } => {
            case.signals.push(signal.clone());
            if let (Some(index), Some(clock)) = (escalation, case.clock.as_mut()) {
                clock.fired.push(*index);
            }
        }
        Event::JobCompleted { .. } => {
            if let Some(job) = case.job.as_mut() {
                job.state = JobState::Completed;
            }
            case.clock = None;
        }
        Event::JobCancelled { reason, .. } => {
            if let Some(job) = case.job.as_mut() {
                job.state = JobState::Cancelled;
                job.cancel_reason = Some(reason.clone());
            }
            case.clock = None;
            case.pending_approval = None;
        }
        Event::JobReassigned { to, .. } => {
            if let Some(job) = case.job.as_mut() {
                job.owner = Some(to.clone());
            }
        }
        Event::JobReleased {
            phase,
            reason,
            by,
            at,
        } => {
            let owner = case.owner().unwrap_or_default().to_string();
            if let Some(service_event) = case.service_event.take() {
                case.released.push(ReleasedServiceEvent {
                    service_event,
                    owner,
                    reason: reason.clone(),
                    by: by.clone(),
                    at: *at,
                });
            }
            if let Some(job) = case.job.as_mut() {
                job.state = JobState::Queued;
                job.owner = None;
            }
            case.pending_approval = None;
            case.clock = Some(PhaseClock {
                phase: phase.clone(),
                entered_at: *at,
                fired: Vec::new(),
            });
        }
        Event::TransitionRequested {
            from,
            to,
            approval,
            outcome,
            by,
            at,
        } => {
            case.pending_approval = Some(PendingApproval {
                from: from.clone(),
                to: to.clone(),
                approval: approval.clone(),
                outcome: outcome.clone(),
                requested_by: by.clone(),
                requested_at: *at,
            });
        }
        Event::TransitionApproved { .. } | Event::TransitionRejected { .. } => {
            case.pending_approval = None;
        }
        Event::CaseMigrated { to, fired, .. } => {
            if let Some(request) = case.request.as_mut() {
                request.surface = to.clone();
            }
            if let Some(clock) = case.clock.as_mut() {
                clock.fired = fired.clone();
            }
        }
        // The operator directory's events belong to operator streams
        // (`crate::spine::operator::apply_profile` folds them).
        Event::OperatorRegistered { .. }
        | Event::OperatorUpdated { .. }
        | Event::OperatorSuspended { .. }
        | Event::OperatorReinstated { .. } => {}
        Event::SettlementRecorded {
            status,
            amount_minor,
            currency,
            by,
            at,
        } => {
            let entry = SettlementEntry {
                status: *status,
                amount_minor: *amount_minor,
                currency: currency.clone(),
                by: by.clone(),
                at: *at,
            };
            match case.settlement.as_mut() {
                Some(s) => {
                    s.status = *status;
                    s.amount_minor = *amount_minor;
                    s.currency = currency.clone();
                    s.history.push(entry);
                }
                None => {
                    case.settlement = Some(Settlement {
                        status: *status,
                        amount_minor: *amount_minor,
                        currency: currency.clone(),
                        history: vec![entry],
                    })
                }
            }
        }
    }
}

/// What `service_event_completed` does to the ServiceEvent (`decide` composes the Record from
/// a ServiceEvent completed by this same function, without cloning the whole case).
pub(crate) fn complete(se: &mut ServiceEvent, phase: &str, outcome: &Option<String>, at: Millis) {
    se.state = ServiceEventState::Complete;
    se.phase = phase.to_string();
    se.history.push(PhaseEntry {
        phase: phase.to_string(),
        at,
    });
    se.outcome = outcome.clone();
}

fn set_task(case: &mut Case, state: TaskState) {
    if let Some(task) = case.task.as_mut() {
        task.state = state;
    }
}

/// Fold `events` into a fresh case with `id`.
pub fn replay<'a>(id: &str, events: impl IntoIterator<Item = &'a Event>) -> Case {
    let mut case = Case::new(id);
    for event in events {
        apply(&mut case, event);
    }
    case
}

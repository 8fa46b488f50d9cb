//! Escalations: signals for work that sits too long in one phase. Pure: `now` is an input.

use serde_json::json;

use crate::spine::Event;
use crate::spine::case::{Case, JobState, Millis, Signal};
use crate::spine::signal::signal_id;
use crate::surface::Surface;

/// The escalation signals due on `case` at `now`: each escalation whose phase the case has
/// been in for at least `after`, at most once per entry into that phase. Only live work
/// escalates (a queued or claimed Job whose ServiceEvent is not complete). A move waiting for
/// approval leaves the clock running; the signal's payload then carries `pending_approval`
/// (the phase the move would enter).
pub fn due_escalations(case: &Case, surface: &Surface, now: Millis) -> Vec<Event> {
    let mut events = Vec::new();
    let Some(clock) = case.clock.as_ref() else {
        return events;
    };
    if !matches!(case.job_state(), Some(JobState::Queued | JobState::Claimed)) {
        return events;
    }
    let mut pending: Vec<Signal> = Vec::new();
    for (index, escalation) in surface.escalations().iter().enumerate() {
        let index = index as u32;
        if surface.phase_name(escalation.phase) != clock.phase || clock.fired.contains(&index) {
            continue;
        }
        let held = now.saturating_sub(clock.entered_at);
        if held < 0 || (held as u64) < escalation.after_ms {
            continue;
        }
        let mut payload = json!({ "phase": clock.phase, "entered_at": clock.entered_at, "after": escalation.after });
        // A move waiting for approval does not stop the clock; the signal says it waits.
        if let (Some(waiting), Some(map)) = (case.pending_phase(), payload.as_object_mut()) {
            map.insert("pending_approval".into(), json!(waiting));
        }
        let signal = Signal {
            id: signal_id(&case.id, &escalation.signal, &case.signals, &pending),
            kind: escalation.signal.clone(),
            case: case.id.clone(),
            at: now,
            payload,
        };
        pending.push(signal.clone());
        events.push(Event::SignalEmitted {
            signal,
            escalation: Some(index),
        });
    }
    events
}

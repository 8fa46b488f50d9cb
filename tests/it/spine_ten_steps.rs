//! The seed's ten-step event-coordination example (seed 002, "Execution Example"), run through
//! `decide` and `evolve` alone: no store, no engine, no clock but the one we pass in.

use crate::common;

use common::*;
use planck::spine::{self, JobState, ServiceEventState, SettlementStatus, TaskState};
use serde_json::{Value, json};

#[test]
fn the_ten_steps() {
    let mut h = Harness::new("ev-1");
    // 1. Actor submits Request. It creates no executable work.
    h.submit("event-coordination");
    assert!(h.case.request.is_some());
    assert!(h.case.job.is_none());
    // 2. A Task exists for admin governance.
    assert_eq!(h.case.task_state(), Some(TaskState::Open));
    h.ok(&admin(), "approve_task", Value::Null);
    // 3. Assignment occurs: it records who receives the hand-off; it starts nothing.
    h.ok(&admin(), "assign_task", json!({"operator": "op-lee"}));
    assert_eq!(h.case.assignee(), Some("op-lee"));
    assert!(h.case.job.is_none());
    // 4. Job is created by the explicit hand-off: queued work on the operator's desk.
    h.ok(&admin(), "create_job", Value::Null);
    assert_eq!(h.case.job_state(), Some(JobState::Queued));
    // 5. Operator claims Job: ownership of execution.
    h.now += 3_600_000;
    h.ok(&lee(), "claim_job", Value::Null);
    assert_eq!(h.case.owner(), Some("op-lee"));
    // 6. ServiceEvent begins, in the second phase ("Confirmed").
    assert_eq!(h.case.service_event_state(), Some(ServiceEventState::Open));
    assert_eq!(h.case.phase(), Some("claimed"));
    // 7. Coordination occurs: On Site, then Active.
    h.now += 3_600_000;
    h.ok(&lee(), "advance", json!({"to": "arrived"}));
    h.now += 3_600_000;
    h.ok(&lee(), "advance", json!({"to": "in_progress"}));
    // 8. ServiceEvent completes. Settlement is not implied.
    h.now += 3_600_000;
    h.ok(
        &lee(),
        "complete_service_event",
        json!({"outcome": "event delivered"}),
    );
    assert_eq!(
        h.case.service_event_state(),
        Some(ServiceEventState::Complete)
    );
    assert!(h.case.settlement.is_none());
    // 9. Record is created: sealed, and the `record` signal emitted once, after it.
    let record = h.case.record.clone().expect("a sealed record");
    assert_eq!(record.body.operator, "op-lee");
    assert_eq!(
        record
            .body
            .phases
            .iter()
            .map(|p| p.phase.as_str())
            .collect::<Vec<_>>(),
        ["claimed", "arrived", "in_progress", "complete"]
    );
    assert_eq!(
        h.case
            .signals
            .iter()
            .map(|s| s.kind.as_str())
            .collect::<Vec<_>>(),
        ["record"]
    );
    h.ok(&lee(), "complete_job", Value::Null);
    assert_eq!(h.case.job_state(), Some(JobState::Completed));
    // 10. Settlement remains separate economic state.
    h.settle(SettlementStatus::Captured);
    assert_eq!(
        h.case.settlement.as_ref().unwrap().status,
        SettlementStatus::Captured
    );
    assert_eq!(h.case.record.as_ref(), Some(&record));
    h.ok(&admin(), "close_task", Value::Null);
    assert_eq!(h.case.task_state(), Some(TaskState::Closed));
    assert_eq!(h.case.job_state(), Some(JobState::Completed));
    // Replaying the facts rebuilds the same case and the same record digest.
    h.assert_replays();
    let rebuilt = spine::replay("ev-1", &h.events);
    assert_eq!(rebuilt.record.unwrap().digest, record.digest);
}

//! The settlement layer: `record_settlement`, the only command that writes economic state.
//!
//! This module owns judging a settlement write: the case must have a Job (in any state), the
//! settlement has room for another write, and only a captured settlement can be refunded.
//! Settlement is separate from execution: its event changes nothing but the Settlement, and
//! this module reads the Job only to know that one exists; it never moves the Task, the Job or
//! the ServiceEvent. (The one place execution waits on payment, the claim on a prepaid
//! surface, is judged by the job layer.)

use serde_json::json;

use crate::spine::case::{JobState, SettlementStatus};
use crate::spine::catalog::Catalog;
use crate::spine::decide::Ctx;
use crate::spine::gates::rules::run_rules;
use crate::spine::gates::{job_gate, ok, reject};
use crate::spine::limits;
use crate::spine::trace::{Trace, check};
use crate::spine::{CommandKind, Event, Rejection, RejectionCode as Code};
use crate::surface::Surface;

/// `record_settlement`: writes the Settlement's status, amount and currency.
pub(super) fn record_settlement<C: Catalog, T: Trace>(
    cx: &mut Ctx<'_, C, T>,
    surface: &Surface,
    status: SettlementStatus,
    amount_minor: i64,
    currency: &str,
) -> Result<Vec<Event>, Rejection> {
    let case = cx.case;
    job_gate(
        cx.trace,
        case,
        &[
            JobState::Queued,
            JobState::Claimed,
            JobState::Completed,
            JobState::Cancelled,
        ],
        "",
    )?;
    let current = case.settlement.as_ref();
    let writes = current.map(|s| s.history.len()).unwrap_or(0);
    let result = if writes >= limits::MAX_SETTLEMENT_WRITES {
        reject(
            Code::InvalidState,
            format!(
                "the settlement already holds {} writes, the most allowed",
                limits::MAX_SETTLEMENT_WRITES
            ),
        )
    } else if status == SettlementStatus::Refunded
        && current.map(|s| s.status) != Some(SettlementStatus::Captured)
    {
        Err(Rejection::new(
            Code::InvalidState,
            "only a captured settlement can be refunded",
        )
        .with_detail(json!({ "layer": "settlement", "state": current.map(|s| s.status.as_str()) })))
    } else {
        ok()
    };
    check(cx.trace, "settlement", result, || {
        format!("the settlement may move to {}", status.as_str())
    })?;
    run_rules(cx, surface, case, None, &[CommandKind::RecordSettlement])?;
    Ok(vec![Event::SettlementRecorded {
        status,
        amount_minor,
        currency: currency.to_string(),
        by: cx.principal.id.clone(),
        at: cx.now,
    }])
}

//! Signal ids: the one naming rule for every signal a case emits.
//!
//! Two places emit signals: the service event layer of `spine::decide` (the `record` signal,
//! in the decision that seals the Record) and [`crate::spine::due_escalations`]. Both name the
//! next signal with [`signal_id`], so ids are stable and consumers can drop repeats. This module
//! never decides whether a signal is due; it only names it, from the signals already stored and
//! those about to be appended.

use crate::spine::case::Signal;

/// The stable id of the next signal of `kind`: `<case>:<kind>:<n>`, counting the signals
/// already stored and those about to be appended in the same decision.
pub fn signal_id(case: &str, kind: &str, stored: &[Signal], pending: &[Signal]) -> String {
    let n = stored
        .iter()
        .chain(pending)
        .filter(|s| s.kind == kind)
        .count()
        + 1;
    format!("{case}:{kind}:{n}")
}

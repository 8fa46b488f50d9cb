//! The checks `decide` makes, recorded when asked: the answer to "why can't I do this?".
//!
//! `decide` and `explain` run one function, generic over a [`Trace`]. `decide` passes
//! [`NoTrace`], which compiles to nothing; `explain` passes an [`Explanation`], which keeps
//! every check in order with its verdict.

use serde::Serialize;

use crate::spine::{Event, Rejection, RejectionCode};

/// A sink for checks.
pub trait Trace {
    /// Whether passing checks should be described (building the text costs a little).
    const RECORDS: bool;
    /// Record one check.
    fn record(
        &mut self,
        check: &'static str,
        passed: bool,
        why: String,
        code: Option<RejectionCode>,
    );
}

/// Records nothing (what `decide` uses).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTrace;

impl Trace for NoTrace {
    const RECORDS: bool = false;
    #[inline(always)]
    fn record(&mut self, _: &'static str, _: bool, _: String, _: Option<RejectionCode>) {}
}

/// One check made while judging a command.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// What was checked (`role`, `case`, `surface`, `payload`, `task`, `job`, `owner`, ...).
    pub check: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// Why, in a sentence.
    pub why: String,
    /// The rejection code it produced, when it failed.
    pub code: Option<RejectionCode>,
}

/// Every check made, in order, and the verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Explanation {
    /// The checks, in the order they were made; the last one failed if the command is refused.
    pub checks: Vec<Check>,
    /// The events the command would append, when every check passed.
    pub events: Option<Vec<Event>>,
    /// The rejection, when a check failed.
    pub rejection: Option<Rejection>,
}

impl Explanation {
    /// Whether the command would be accepted.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none()
    }
}

impl Trace for Explanation {
    const RECORDS: bool = true;
    fn record(
        &mut self,
        check: &'static str,
        passed: bool,
        why: String,
        code: Option<RejectionCode>,
    ) {
        self.checks.push(Check {
            check,
            passed,
            why,
            code,
        });
    }
}

/// Run one check: record it and pass the result through.
#[inline(always)]
pub(crate) fn gate<T: Trace>(
    trace: &mut T,
    check: &'static str,
    result: Result<(), Rejection>,
    pass: impl FnOnce() -> String,
) -> Result<(), Rejection> {
    match &result {
        Ok(()) => {
            if T::RECORDS {
                trace.record(check, true, pass(), None);
            }
        }
        Err(rejection) => {
            if T::RECORDS {
                trace.record(
                    check,
                    false,
                    rejection.message.clone(),
                    Some(rejection.code),
                );
            }
        }
    }
    result
}

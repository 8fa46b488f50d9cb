//! The checks `decide` makes, recorded when asked: the answer to "why can't I do this?".
//!
//! `decide` and `explain` run one function, generic over a [`Trace`]. `decide` passes
//! [`NoTrace`], which compiles to nothing; `explain` passes an [`Explanation`], which keeps
//! every check in order with its verdict.
//!
//! Checks come in two kinds. A [`gate`] stops the judging when it fails, in both modes: the
//! checks after it depend on what it checked (no case, no surface, no service event, no such
//! transition: there is nothing left to judge). A [`check`] stops `decide` too, but lets
//! `explain` go on to the later checks, which do not depend on it (the role, the arguments,
//! a layer's state, who the principal is, evidence, each rule): `explain` then reports every
//! check that can still be judged, and its verdict is still the first failure, the one
//! `decide` returns. Which checks are which is listed in docs/queries.md.

use serde::Serialize;

use crate::spine::{Event, Rejection, RejectionCode};

/// A sink for checks.
pub trait Trace {
    /// Whether passing checks should be described (building the text costs a little).
    const RECORDS: bool;
    /// Whether judging goes on past a failed `check` (`explain`), holding the first failure
    /// as the verdict, rather than stopping at it (`decide`).
    const CONTINUES: bool = false;
    /// Record one check.
    fn record(
        &mut self,
        check: &'static str,
        passed: bool,
        why: String,
        code: Option<RejectionCode>,
    );
    /// Keep `rejection` as the verdict if it is the first failure (only called when
    /// [`Trace::CONTINUES`]).
    fn hold(&mut self, _rejection: Rejection) {}
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
    /// The checks, in the order they were made: every check `decide` makes up to its first
    /// failure, then (when a check failed) every later one that could still be judged.
    pub checks: Vec<Check>,
    /// The events the command would append, when every check passed.
    pub events: Option<Vec<Event>>,
    /// The rejection `decide` returns: the first check that failed.
    pub rejection: Option<Rejection>,
    /// The check whose failure stopped the judging, when one did: the checks after it depend
    /// on what it checked, so they were not judged.
    pub stopped: Option<&'static str>,
}

impl Explanation {
    /// Whether the command would be accepted.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none()
    }
}

impl Trace for Explanation {
    const RECORDS: bool = true;
    const CONTINUES: bool = true;
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
    fn hold(&mut self, rejection: Rejection) {
        if self.rejection.is_none() {
            self.rejection = Some(rejection);
        }
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

/// Run one check that later checks do not depend on: record it; when it fails, `decide` stops
/// (the rejection is returned) and `explain` holds the first failure and goes on (`Ok`).
#[inline(always)]
pub(crate) fn check<T: Trace>(
    trace: &mut T,
    name: &'static str,
    result: Result<(), Rejection>,
    pass: impl FnOnce() -> String,
) -> Result<(), Rejection> {
    match result {
        Ok(()) => {
            if T::RECORDS {
                trace.record(name, true, pass(), None);
            }
            Ok(())
        }
        Err(rejection) => {
            if T::RECORDS {
                trace.record(name, false, rejection.message.clone(), Some(rejection.code));
            }
            if T::CONTINUES {
                trace.hold(rejection);
                Ok(())
            } else {
                Err(rejection)
            }
        }
    }
}

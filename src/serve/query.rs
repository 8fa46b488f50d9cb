//! `GET /api/cases?…`: the filters of `planck list` (docs/queries.md), parsed apart from how
//! they are answered.
//!
//! [`ListFilter::parse`] turns query parameters into a filter (unknown parameters and bad
//! values are refused, never ignored). [`scan`] answers it by reading every case: fine for a
//! desk-sized store, and the one function to replace when the store answers the query itself.
//! Order: newest activity first (the time of the case's last event), ties by case id; the
//! cursor names the last case of a page, and the next page starts after it.

use serde::Serialize;

use crate::engine::{CaseView, EngineError};
use crate::serve::backend::ServeEngine;
use crate::spine::{JobState, Millis};

/// Cases per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 500;

/// Which cases to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// The surface slug, or `slug@version`.
    pub surface: Option<String>,
    /// The Job's state (`none` for cases without a Job).
    pub job: Option<Option<JobState>>,
    /// The ServiceEvent's phase id.
    pub phase: Option<String>,
    /// The assigned operator.
    pub assignee: Option<String>,
    /// The operator who owns the Job.
    pub owner: Option<String>,
    /// At most this many cases.
    pub limit: usize,
    /// Start after this position (from a previous page's `next`).
    pub after: Option<Cursor>,
}

/// A position in the listing order: the last activity time and the case id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The case's last event time.
    pub at: Millis,
    /// The case.
    pub case: String,
}

impl Cursor {
    /// The opaque text form (hex of `at:case`).
    pub fn encode(&self) -> String {
        hex::encode(format!("{}:{}", self.at, self.case))
    }

    /// Parse the text form.
    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = hex::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, case) = text.split_once(':')?;
        Some(Cursor {
            at: at.parse().ok()?,
            case: case.to_string(),
        })
    }
}

/// A query parameter that is unknown or has a bad value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FilterError(pub String);

impl ListFilter {
    /// Parse query parameters (`surface`, `job`, `phase`, `assignee`, `owner`, `limit`,
    /// `after`). Each may appear once.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ListFilter, FilterError> {
        let mut filter = ListFilter {
            limit: DEFAULT_LIMIT,
            ..ListFilter::default()
        };
        let mut seen = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name) {
                return Err(FilterError(format!("`{name}` is given twice")));
            }
            seen.push(name);
            let text = || Some(value.to_string());
            match name {
                "surface" => filter.surface = text(),
                "phase" => filter.phase = text(),
                "assignee" => filter.assignee = text(),
                "owner" => filter.owner = text(),
                "job" => {
                    filter.job = Some(match value {
                        "none" => None,
                        "queued" => Some(JobState::Queued),
                        "claimed" => Some(JobState::Claimed),
                        "completed" => Some(JobState::Completed),
                        "cancelled" => Some(JobState::Cancelled),
                        other => {
                            return Err(FilterError(format!(
                                "`job={other}`: expected none, queued, claimed, completed or cancelled"
                            )));
                        }
                    });
                }
                "limit" => {
                    filter.limit = match value.parse::<usize>() {
                        Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                        _ => {
                            return Err(FilterError(format!(
                                "`limit={value}`: expected a number from 1 to {MAX_LIMIT}"
                            )));
                        }
                    };
                }
                "after" => {
                    filter.after = Some(Cursor::decode(value).ok_or_else(|| {
                        FilterError(format!(
                            "`after={value}` is not a cursor from a previous page"
                        ))
                    })?);
                }
                other => {
                    return Err(FilterError(format!(
                        "`{other}` is not a filter (surface, job, phase, assignee, owner, limit, after)"
                    )));
                }
            }
        }
        Ok(filter)
    }

    /// Whether `view` passes every filter but the cursor and the limit.
    pub fn matches(&self, view: &CaseView) -> bool {
        let surface_ok = self
            .surface
            .as_deref()
            .is_none_or(|s| view.surface == s || view.surface.split('@').next() == Some(s));
        let job_ok = self.job.is_none_or(|job| view.job == job);
        let phase_ok = self
            .phase
            .as_deref()
            .is_none_or(|p| view.phase.as_ref().is_some_and(|v| v.id == p));
        let assignee_ok = self
            .assignee
            .as_deref()
            .is_none_or(|a| view.assignee.as_deref() == Some(a));
        let owner_ok = self
            .owner
            .as_deref()
            .is_none_or(|o| view.owner.as_deref() == Some(o));
        surface_ok && job_ok && phase_ok && assignee_ok && owner_ok
    }
}

/// One listed case.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// The case's view.
    #[serde(flatten)]
    pub view: CaseView,
    /// When its last event was stored (unix milliseconds).
    pub last_activity: Millis,
}

/// One page of cases.
#[derive(Clone, Debug, Serialize)]
pub struct ListPage {
    /// The cases, newest activity first.
    pub cases: Vec<Listed>,
    /// The cursor for the next page (`after=`), when there may be one.
    pub next: Option<String>,
}

/// Answer `filter` by reading every case.
pub fn scan(engine: &ServeEngine, filter: &ListFilter) -> Result<ListPage, EngineError> {
    let mut found = Vec::new();
    for id in engine.store().cases()? {
        let history = engine.history(&id)?;
        let Some(last) = history.last().map(|e| e.ts_ms) else {
            continue;
        };
        let case = crate::spine::replay(&id, history.iter().map(|e| &e.payload));
        let Some(view) = CaseView::of(&case, engine.surface_of(&case)) else {
            continue;
        };
        if filter.matches(&view) {
            found.push(Listed {
                view,
                last_activity: last,
            });
        }
    }
    // Newest first; ties by case id.
    found.sort_by(|a, b| {
        b.last_activity
            .cmp(&a.last_activity)
            .then_with(|| a.view.case.cmp(&b.view.case))
    });
    if let Some(after) = &filter.after {
        found.retain(|l| {
            l.last_activity < after.at || (l.last_activity == after.at && l.view.case > after.case)
        });
    }
    let more = found.len() > filter.limit;
    found.truncate(filter.limit);
    let next = if more {
        found.last().map(|l| {
            Cursor {
                at: l.last_activity,
                case: l.view.case.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(ListPage { cases: found, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_refuse_what_they_do_not_know() {
        let f = ListFilter::parse([
            ("surface", "auto-detailing"),
            ("job", "queued"),
            ("limit", "5"),
        ])
        .unwrap();
        assert_eq!(f.surface.as_deref(), Some("auto-detailing"));
        assert_eq!(f.job, Some(Some(JobState::Queued)));
        assert_eq!(f.limit, 5);
        assert_eq!(
            ListFilter::parse([("job", "none")]).unwrap().job,
            Some(None)
        );
        assert!(ListFilter::parse([("job", "done")]).is_err());
        assert!(ListFilter::parse([("limit", "0")]).is_err());
        assert!(ListFilter::parse([("limit", "501")]).is_err());
        assert!(ListFilter::parse([("colour", "red")]).is_err());
        assert!(ListFilter::parse([("owner", "a"), ("owner", "b")]).is_err());
        assert!(ListFilter::parse([("after", "zz")]).is_err());
        let c = Cursor {
            at: 42,
            case: "ev:1".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }
}

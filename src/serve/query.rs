//! `GET /api/cases?…`: the filters of `planck list` (docs/queries.md), parsed apart from how
//! they are answered.
//!
//! [`ListFilter::parse`] turns query parameters into a filter (unknown parameters and bad
//! values are refused, never ignored). The store's index answers it ([`Engine::list`]):
//! newest activity first (the time of the case's last event; among equal times, the greater
//! case id first); the cursor names the last case of a page, and the next page starts after
//! it.
//!
//! [`Engine::list`]: crate::engine::Engine::list

pub use crate::engine::{ListPage, Listed};
use crate::host::{CaseFilter, ListCursor};
use crate::spine::JobState;

/// Cases per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = crate::engine::MAX_LIST_LIMIT;

/// Which cases to list, and which page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// The filters (surface, job, phase, assignee, owner).
    pub filter: CaseFilter,
    /// At most this many cases.
    pub limit: usize,
    /// Start after this place (from a previous page's `next`).
    pub after: Option<ListCursor>,
}

/// A query parameter that is unknown or has a bad value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FilterError(pub String);

/// Parse a `job` filter value: a Job state, or `none` for cases without a Job.
pub fn parse_job(value: &str) -> Result<Option<JobState>, FilterError> {
    match value {
        "none" => Ok(None),
        other => JobState::parse(other).map(Some).ok_or_else(|| {
            FilterError(format!(
                "`job={other}`: expected none, queued, claimed, completed or cancelled"
            ))
        }),
    }
}

impl ListFilter {
    /// Parse query parameters (`surface`, `job`, `phase`, `assignee`, `owner`, `limit`,
    /// `after`). Each may appear once.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ListFilter, FilterError> {
        let mut list = ListFilter {
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
                "surface" => list.filter.surface = text(),
                "phase" => list.filter.phase = text(),
                "assignee" => list.filter.assignee = text(),
                "owner" => list.filter.owner = text(),
                "job" => list.filter.job = Some(parse_job(value)?),
                "limit" => {
                    list.limit = match value.parse::<usize>() {
                        Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                        _ => {
                            return Err(FilterError(format!(
                                "`limit={value}`: expected a number from 1 to {MAX_LIMIT}"
                            )));
                        }
                    };
                }
                "after" => {
                    list.after = Some(ListCursor::decode(value).ok_or_else(|| {
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
        Ok(list)
    }
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
        assert_eq!(f.filter.surface.as_deref(), Some("auto-detailing"));
        assert_eq!(f.filter.job, Some(Some(JobState::Queued)));
        assert_eq!(f.limit, 5);
        assert_eq!(
            ListFilter::parse([("job", "none")]).unwrap().filter.job,
            Some(None)
        );
        assert!(ListFilter::parse([("job", "done")]).is_err());
        assert!(ListFilter::parse([("limit", "0")]).is_err());
        assert!(ListFilter::parse([("limit", "501")]).is_err());
        assert!(ListFilter::parse([("colour", "red")]).is_err());
        assert!(ListFilter::parse([("owner", "a"), ("owner", "b")]).is_err());
        assert!(ListFilter::parse([("after", "zz")]).is_err());
        let c = ListCursor {
            last_activity: 42,
            case: "ev:1".into(),
        };
        assert_eq!(ListCursor::decode(&c.encode()), Some(c));
    }
}

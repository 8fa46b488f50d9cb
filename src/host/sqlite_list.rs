//! How [`SqliteStore`](crate::host::SqliteStore) answers a filtered list (`planck list`): the
//! cases that pass a [`CaseFilter`], newest activity first, a page at a time.
//!
//! Every append changes its case's `last_activity`, and every index holding that column gives
//! the append two more pages to write (the entry leaves its old place and goes to the newest
//! end). So one index orders cases by activity, `case_index_list` on `(surface, job,
//! last_activity, case_id)`, and a list reads it as *ranges*: one per surface and Job state
//! the filter allows (a Job state is one of four, or no Job yet), each already newest first,
//! each read only as far as the page needs. The ranges' keys are merged here and the page's
//! rows read by key. A list filtered by surface and Job state is one range; an unfiltered one
//! reads five per surface (the surfaces themselves found by walking the index's first column,
//! one seek each). Either way the cost is the page times the ranges, not the number of cases.
//!
//! A list filtered by operator (assignee or owner) reads that operator's cases instead, off the
//! desk's indexes, and orders them: its cost is the operator's cases. A filter on phase alone
//! reads the ranges until the page is full of matching cases, so a rare phase reads further.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::host::StoreError;
use crate::host::index::{CaseFilter, CaseIndex, ListCursor, SurfaceSelector};
use crate::host::index_sql::{ListQuery, SqlValue};
use crate::host::sqlite::SELECT_CASE_ROW;
use crate::spine::JobState;

fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::backend("reading the index", err)
}

/// The cases of `case_index` that pass `filter`, after `after`, newest activity first, at
/// most `limit`. `rows` reads the full rows of the statement it is given.
pub(crate) fn list(
    conn: &Connection,
    filter: &CaseFilter,
    after: Option<&ListCursor>,
    limit: usize,
    rows: impl Fn(&Connection, &str, Vec<Value>) -> Result<Vec<CaseIndex>, StoreError>,
) -> Result<Vec<CaseIndex>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    if filter.assignee.is_some() || filter.owner.is_some() {
        // An operator's cases are few beside all cases: let the planner read them off the
        // desk's indexes (`case_index_assigned`, `case_index_owned`) and order them.
        let Some(query) = ListQuery::new("case_index", filter, after, limit, placeholder) else {
            return Ok(Vec::new());
        };
        let values = query.values.into_iter().map(value).collect();
        return rows(conn, &query.sql, values);
    }
    let (surfaces, version) = match filter.surface_selector() {
        SurfaceSelector::Nothing => return Ok(Vec::new()),
        SurfaceSelector::Slug(slug) => (vec![slug.to_string()], None),
        SurfaceSelector::Exact(slug, version) => (vec![slug.to_string()], Some(version)),
        SurfaceSelector::Any => (surfaces(conn)?, None),
    };
    // The Job states a range can hold: no Job yet, then each state.
    let jobs: Vec<Option<JobState>> = match filter.job {
        Some(job) => vec![job],
        None => std::iter::once(None)
            .chain(JobState::ALL.map(Some))
            .collect(),
    };
    // One statement shape for every range: `?1` the surface, `?2` the Job state (NULL: no
    // Job), then the other filters, the cursor and the limit.
    let mut clauses = vec!["surface = ?1".to_string(), "job IS ?2".to_string()];
    let mut bound: Vec<Value> = Vec::new();
    let mut bind = |clause: &str, value: Value| {
        bound.push(value);
        clauses.push(clause.replace("{}", &placeholder(bound.len() + 2)));
    };
    if let Some(version) = version {
        bind("surface_version = {}", Value::Integer(i64::from(version)));
    }
    if let Some(phase) = &filter.phase {
        bind("phase = {}", Value::Text(phase.clone()));
    }
    if let Some(cursor) = after {
        // The first clause bounds the index range; the second is the exact order.
        bind("last_activity <= {}", Value::Integer(cursor.last_activity));
        let at = bound.len() + 2;
        bound.push(Value::Integer(cursor.last_activity));
        bound.push(Value::Text(cursor.case.clone()));
        clauses.push(format!(
            "(last_activity, case_id) < ({}, {})",
            placeholder(at + 1),
            placeholder(at + 2)
        ));
    }
    bound.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT last_activity, case_id FROM case_index INDEXED BY case_index_list
          WHERE {} ORDER BY last_activity DESC, case_id DESC LIMIT {}",
        clauses.join(" AND "),
        placeholder(bound.len() + 2)
    );
    let mut keys: Vec<(i64, String)> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        for surface in &surfaces {
            for job in &jobs {
                let head = [
                    Value::Text(surface.clone()),
                    job.map_or(Value::Null, |job| Value::Text(job.as_str().into())),
                ];
                let found = stmt
                    .query_map(
                        params_from_iter(head.into_iter().chain(bound.clone())),
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                    )
                    .map_err(backend)?;
                for key in found {
                    keys.push(key.map_err(backend)?);
                }
            }
        }
    }
    // Newest first, then the greater case id first: the order of every range.
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys.truncate(limit);
    let mut page = Vec::with_capacity(keys.len());
    for (_, case) in keys {
        page.extend(rows(conn, &SELECT_CASE_ROW, vec![Value::Text(case)])?);
    }
    Ok(page)
}

/// Every surface slug with a case, in order: one seek per slug down the first column of
/// `case_index_list`, however many cases each has.
fn surfaces(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT MIN(surface) FROM case_index INDEXED BY case_index_list WHERE surface > ?1",
        )
        .map_err(backend)?;
    let mut last = String::new();
    while let Some(next) = stmt
        .query_row([&last], |r| r.get::<_, Option<String>>(0))
        .optional()
        .map_err(backend)?
        .flatten()
    {
        out.push(next.clone());
        last = next;
    }
    Ok(out)
}

fn placeholder(n: usize) -> String {
    format!("?{n}")
}

fn value(value: SqlValue) -> Value {
    match value {
        SqlValue::Text(text) => Value::Text(text),
        SqlValue::Integer(n) => Value::Integer(n),
    }
}

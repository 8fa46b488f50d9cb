//! What the SQL stores (SQLite and PostgreSQL) share about the index: the columns of a case's
//! row, how a row read back becomes a [`CaseIndex`] or an [`OperatorIndex`], and the `WHERE`
//! clause of a filtered list. Each store keeps its own SQL dialect, connections and plans; the
//! rules for what a stored row means live here once, so the two cannot drift apart.

use crate::host::StoreError;
use crate::host::index::{
    CaseFilter, CaseIndex, ListCursor, OPERATOR_STREAM_PREFIX, OperatorIndex, QueueNeed,
    SurfaceSelector,
};
use crate::spine::{JobState, Millis, ServiceEventState, TaskState};

/// The columns of a case's index row, in the order [`CaseColumns`] holds them.
pub(crate) const CASE_COLUMNS: &str = "case_id, version, surface, surface_version, task, assignee, job, owner, phase, stage,
    service_event, pending_approval, queue, claim_open, completed_visible, created_at, last_activity, next_due_at";

/// A case's index row as a SQL store reads it ([`CASE_COLUMNS`], in order), each column in its
/// stored type. [`CaseColumns::decode`] checks what the database cannot.
pub(crate) struct CaseColumns {
    pub case: String,
    pub version: i64,
    pub surface: String,
    pub surface_version: i64,
    pub task: Option<String>,
    pub assignee: Option<String>,
    pub job: Option<String>,
    pub owner: Option<String>,
    pub phase: Option<String>,
    pub stage: Option<String>,
    pub service_event: Option<String>,
    pub pending_approval: Option<String>,
    pub queue: Option<String>,
    pub claim_open: bool,
    pub completed_visible: bool,
    pub created_at: Millis,
    pub last_activity: Millis,
    pub next_due_at: Option<Millis>,
}

impl CaseColumns {
    /// The row as a [`CaseIndex`]; a negative count or an unknown state name is
    /// [`StoreError::Corrupt`], naming the case and the column.
    pub(crate) fn decode(self) -> Result<CaseIndex, StoreError> {
        let case = self.case;
        let bad = |what: &str| {
            StoreError::corrupt(
                case.clone(),
                format!("the index row has an unreadable {what}"),
                None,
            )
        };
        fn parse<T>(
            text: Option<String>,
            parse: impl Fn(&str) -> Option<T>,
        ) -> Result<Option<T>, ()> {
            text.map(|t| parse(&t).ok_or(())).transpose()
        }
        Ok(CaseIndex {
            version: u64::try_from(self.version).map_err(|_| bad("version"))?,
            surface_version: u32::try_from(self.surface_version)
                .map_err(|_| bad("surface version"))?,
            task: parse(self.task, TaskState::parse).map_err(|()| bad("task state"))?,
            job: parse(self.job, JobState::parse).map_err(|()| bad("job state"))?,
            service_event: parse(self.service_event, ServiceEventState::parse)
                .map_err(|()| bad("service event state"))?,
            queue: parse(self.queue, QueueNeed::parse).map_err(|()| bad("queue need"))?,
            case,
            surface: self.surface,
            assignee: self.assignee,
            owner: self.owner,
            phase: self.phase,
            stage: self.stage,
            pending_approval: self.pending_approval,
            claim_open: self.claim_open,
            completed_visible: self.completed_visible,
            created_at: self.created_at,
            last_activity: self.last_activity,
            next_due_at: self.next_due_at,
        })
    }
}

/// An operator's index row as a SQL store reads it (`operator, version, status, surfaces`,
/// the surfaces as a JSON array).
pub(crate) struct OperatorColumns {
    pub operator: String,
    pub version: i64,
    pub status: String,
    pub surfaces: String,
}

impl OperatorColumns {
    /// The row as an [`OperatorIndex`]; a negative version or an unreadable surface list is
    /// [`StoreError::Corrupt`], naming the operator's stream.
    pub(crate) fn decode(self) -> Result<OperatorIndex, StoreError> {
        let operator = self.operator;
        let bad = |what: &str| {
            StoreError::corrupt(
                format!("{OPERATOR_STREAM_PREFIX}{operator}"),
                format!("the operator index row has an unreadable {what}"),
                None,
            )
        };
        Ok(OperatorIndex {
            version: u64::try_from(self.version).map_err(|_| bad("version"))?,
            surfaces: serde_json::from_str(&self.surfaces).map_err(|_| bad("surface list"))?,
            operator,
            status: self.status,
        })
    }
}

/// A value bound to one placeholder of a [`ListQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SqlValue {
    /// A text column's value.
    Text(String),
    /// An integer column's value.
    Integer(i64),
}

/// A filtered list of cases as one SQL statement: [`ListQuery::sql`] with its placeholders
/// numbered 1, 2, … in the order of [`ListQuery::values`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListQuery {
    /// `SELECT` [`CASE_COLUMNS`] `FROM table WHERE … ORDER BY … LIMIT …`.
    pub sql: String,
    /// The values of the placeholders, in order.
    pub values: Vec<SqlValue>,
}

impl ListQuery {
    /// The statement that lists the cases of `table` that pass `filter`, after `after`, newest
    /// activity first, at most `limit`. `placeholder` writes the n-th placeholder in the
    /// store's dialect (`?n` for SQLite, `$n` for PostgreSQL). `None` when no case can pass
    /// (a surface filter `slug@x` whose `x` is not a version).
    pub(crate) fn new(
        table: &str,
        filter: &CaseFilter,
        after: Option<&ListCursor>,
        limit: usize,
        placeholder: fn(usize) -> String,
    ) -> Option<ListQuery> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<SqlValue> = Vec::new();
        // `clause` holds one `{}` per value, in order.
        let mut bind = |clause: &str, bound: Vec<SqlValue>| {
            let mut text = clause.to_string();
            for value in bound {
                values.push(value);
                text = text.replacen("{}", &placeholder(values.len()), 1);
            }
            clauses.push(text);
        };
        match filter.surface_selector() {
            SurfaceSelector::Any => {}
            SurfaceSelector::Slug(slug) => bind("surface = {}", vec![SqlValue::Text(slug.into())]),
            SurfaceSelector::Exact(slug, version) => bind(
                "surface = {} AND surface_version = {}",
                vec![
                    SqlValue::Text(slug.into()),
                    SqlValue::Integer(i64::from(version)),
                ],
            ),
            SurfaceSelector::Nothing => return None,
        }
        match filter.job {
            None => {}
            Some(None) => bind("job IS NULL", Vec::new()),
            Some(Some(job)) => bind("job = {}", vec![SqlValue::Text(job.as_str().into())]),
        }
        for (column, value) in [
            ("phase", &filter.phase),
            ("assignee", &filter.assignee),
            ("owner", &filter.owner),
        ] {
            if let Some(value) = value {
                bind(
                    &format!("{column} = {{}}"),
                    vec![SqlValue::Text(value.clone())],
                );
            }
        }
        if let Some(cursor) = after {
            // The first clause lets the planner use the `last_activity` index; the second is
            // the exact order (newest first, then the greater case id first).
            bind(
                "last_activity <= {} AND (last_activity, case_id) < ({}, {})",
                vec![
                    SqlValue::Integer(cursor.last_activity),
                    SqlValue::Integer(cursor.last_activity),
                    SqlValue::Text(cursor.case.clone()),
                ],
            );
        }
        let where_clause = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        values.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM {table} {where_clause}
              ORDER BY last_activity DESC, case_id DESC LIMIT {}",
            placeholder(values.len())
        );
        Some(ListQuery { sql, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dollar(n: usize) -> String {
        format!("${n}")
    }

    #[test]
    fn list_query_numbers_its_placeholders_in_order() {
        let filter = CaseFilter {
            surface: Some("auto-detailing@2".into()),
            job: Some(None),
            owner: Some("op-1".into()),
            ..CaseFilter::default()
        };
        let cursor = ListCursor {
            last_activity: 7,
            case: "c-9".into(),
        };
        let query = ListQuery::new("t", &filter, Some(&cursor), 50, dollar).expect("a query");
        assert!(query.sql.contains(
            "WHERE surface = $1 AND surface_version = $2 AND job IS NULL AND owner = $3 \
             AND last_activity <= $4 AND (last_activity, case_id) < ($5, $6)"
        ));
        assert!(query.sql.ends_with("LIMIT $7"));
        assert_eq!(
            query.values,
            vec![
                SqlValue::Text("auto-detailing".into()),
                SqlValue::Integer(2),
                SqlValue::Text("op-1".into()),
                SqlValue::Integer(7),
                SqlValue::Integer(7),
                SqlValue::Text("c-9".into()),
                SqlValue::Integer(50),
            ]
        );
    }

    #[test]
    fn a_surface_that_is_not_a_version_matches_nothing() {
        let filter = CaseFilter {
            surface: Some("auto-detailing@x".into()),
            ..CaseFilter::default()
        };
        assert_eq!(ListQuery::new("t", &filter, None, 10, dollar), None);
    }

    #[test]
    fn an_unknown_state_is_corrupt_and_names_the_case() {
        let columns = CaseColumns {
            case: "c-1".into(),
            version: 3,
            surface: "s".into(),
            surface_version: 1,
            task: Some("pondering".into()),
            assignee: None,
            job: None,
            owner: None,
            phase: None,
            stage: None,
            service_event: None,
            pending_approval: None,
            queue: None,
            claim_open: false,
            completed_visible: true,
            created_at: 0,
            last_activity: 0,
            next_due_at: None,
        };
        let err = columns.decode().expect_err("corrupt");
        let text = err.to_string();
        assert!(
            text.contains("c-1") && text.contains("task state"),
            "{text}"
        );
    }
}

//! The index: rows written with their append and only then, each query's selection, order
//! and limit, the index state and the rebuild.

use super::fixtures::{T0, call, ensure, expect_conflict, fixture_events, fixture_tail, record};
use crate::host::index::{
    CaseFilter, CaseIndex, IndexRow, IndexState, ListCursor, OperatorIndex, QueueNeed,
};
use crate::host::store::{Append, Store, StoreError};
use crate::spine::{JobState, Millis, ServiceEventState, TaskState};

/// A case index row for `case` at `version`, everything else empty, changed by `edit`.
pub fn fixture_row(case: &str, version: u64, edit: impl FnOnce(&mut CaseIndex)) -> IndexRow {
    let mut row = CaseIndex {
        case: case.to_string(),
        version,
        surface: "conformance".to_string(),
        surface_version: 1,
        task: Some(TaskState::Open),
        assignee: None,
        job: None,
        owner: None,
        phase: None,
        stage: None,
        service_event: None,
        pending_approval: None,
        queue: Some(QueueNeed::Review),
        claim_open: false,
        completed_visible: true,
        created_at: T0,
        last_activity: T0,
        next_due_at: None,
    };
    edit(&mut row);
    IndexRow::Case(row)
}

/// Create `case` (one event) with `row` as its index row.
fn create_with_row<S: Store>(store: &S, case: &str, row: &IndexRow) -> Result<(), String> {
    let events = fixture_events(case, None, 1, None)?;
    call(
        "append",
        store.append(&Append::new(case, 0, &events).with_index(row)),
    )?;
    Ok(())
}

fn ids(rows: &[CaseIndex]) -> Vec<&str> {
    rows.iter().map(|r| r.case.as_str()).collect()
}

fn expect_ids(what: &str, rows: &[CaseIndex], want: &[&str]) -> Result<(), String> {
    let got = ids(rows);
    ensure(got == want, || {
        format!("{what}: got {got:?}, expected {want:?}")
    })
}

/// A row is written with its append, read back exactly, replaced by the next append's row,
/// kept by an append without one, and never written by a refused append (conflict, key taken).
pub fn index_rows<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-index";
    ensure(
        call("index_state", store.index_state())? == IndexState::Ready,
        || "a new store's index is not ready".into(),
    )?;
    ensure(call("index_row", store.index_row(case))?.is_none(), || {
        "an unknown case has an index row".into()
    })?;
    let first = fixture_events(case, None, 2, None)?;
    let row1 = fixture_row(case, 2, |r| {
        r.assignee = Some("op-a".into());
        r.next_due_at = Some(T0 + 5);
        r.stage = Some("queued".into());
        r.pending_approval = Some("done".into());
        r.service_event = Some(ServiceEventState::Open);
        r.claim_open = true;
        r.completed_visible = false;
    });
    call(
        "append",
        store.append(&Append::new(case, 0, &first).with_index(&row1)),
    )?;
    let got = call("index_row", store.index_row(case))?;
    ensure(got.as_ref() == Some(&row1), || {
        format!("the row reads back as {got:?}")
    })?;
    // Replaced (every field, including back to empty).
    let second = fixture_events(case, first.last(), 1, None)?;
    let row2 = fixture_row(case, 3, |r| {
        r.task = Some(TaskState::Approved);
        r.queue = None;
        r.job = Some(JobState::Claimed);
        r.owner = Some("op-b".into());
        r.phase = Some("doing".into());
        r.last_activity = T0 + 9;
    });
    call(
        "append",
        store.append(&Append::new(case, 2, &second).with_index(&row2)),
    )?;
    let got = call("index_row", store.index_row(case))?;
    ensure(got.as_ref() == Some(&row2), || {
        format!("the replaced row reads back as {got:?}")
    })?;
    // An append without a row keeps the row.
    let third = fixture_events(case, second.last(), 1, None)?;
    call("append", store.append(&Append::new(case, 3, &third)))?;
    ensure(
        call("index_row", store.index_row(case))?.as_ref() == Some(&row2),
        || "an append without a row changed the row".into(),
    )?;
    // Refused appends write no row.
    let stale = fixture_tail(case, 2, 2)?;
    let refused = fixture_row(case, 4, |r| r.owner = Some("op-lost".into()));
    expect_conflict(
        "an append at a stale version",
        store.append(&Append::new(case, 2, &stale).with_index(&refused)),
    )?;
    let k = "conformance-index-key";
    call(
        "append",
        store.append(
            &Append::new(
                "conformance-index-k",
                0,
                &fixture_events("conformance-index-k", None, 1, Some(k))?,
            )
            .with_idempotency(&record(k, "conformance-index-k")),
        ),
    )?;
    let taken = fixture_events(case, third.last(), 1, Some(k))?;
    let refused = fixture_row(case, 5, |r| r.owner = Some("op-lost".into()));
    match store.append(
        &Append::new(case, 4, &taken)
            .with_idempotency(&record(k, case))
            .with_index(&refused),
    ) {
        Err(StoreError::KeyTaken { .. }) => {}
        other => return Err(format!("a taken key: expected `KeyTaken`, got {other:?}")),
    }
    ensure(
        call("index_row", store.index_row(case))?.as_ref() == Some(&row2),
        || "a refused append changed the row".into(),
    )?;
    // Operator rows.
    let op_stream = "operator:conformance-op";
    let op = IndexRow::Operator(OperatorIndex {
        operator: "conformance-op".into(),
        version: 1,
        status: "active".into(),
        surfaces: vec!["conformance".into(), "other".into()],
    });
    let events = fixture_events(op_stream, None, 1, None)?;
    call(
        "append",
        store.append(&Append::new(op_stream, 0, &events).with_index(&op)),
    )?;
    ensure(
        call("index_row", store.index_row(op_stream))?.as_ref() == Some(&op),
        || "the operator row does not read back".into(),
    )?;
    let listed = call("operators", store.operators())?;
    ensure(
        listed.len() == 1 && listed.first().cloned().map(IndexRow::Operator).as_ref() == Some(&op),
        || format!("operators() lists {listed:?}"),
    )
}

/// A row of another stream, or one that does not reflect the version the append leaves, is
/// refused and nothing is written.
pub fn index_rows_checked<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-index-checked";
    let events = fixture_events(case, None, 1, None)?;
    for (what, row) in [
        (
            "another case's row",
            fixture_row("conformance-other", 1, |_| {}),
        ),
        ("a row of the wrong version", fixture_row(case, 2, |_| {})),
        (
            "an operator row on a case",
            IndexRow::Operator(OperatorIndex {
                operator: case.into(),
                version: 1,
                status: "active".into(),
                surfaces: Vec::new(),
            }),
        ),
    ] {
        match store.append(&Append::new(case, 0, &events).with_index(&row)) {
            Err(StoreError::Invalid { .. }) => {}
            other => return Err(format!("{what}: expected `Invalid`, got {other:?}")),
        }
    }
    ensure(call("load", store.load(case))?.is_empty(), || {
        "a refused append wrote its events".into()
    })?;
    ensure(call("index_row", store.index_row(case))?.is_none(), || {
        "a refused append wrote its row".into()
    })
}

/// The desk: queued Jobs assigned to the operator or open to anyone (creation order, each
/// once), claimed Jobs they own (creation order), completed visible Jobs they owned (newest
/// case first); `limit` per column.
pub fn desk_query<S: Store>(store: &S) -> Result<(), String> {
    let row = |case: &str, edit: &dyn Fn(&mut CaseIndex)| fixture_row(case, 1, |r| edit(r));
    let queued = |r: &mut CaseIndex| {
        r.task = Some(TaskState::Approved);
        r.queue = None;
        r.job = Some(JobState::Queued);
    };
    let cases: Vec<(&str, IndexRow)> = vec![
        (
            "conformance-d1",
            row("conformance-d1", &|r| {
                queued(r);
                r.assignee = Some("op-lee".into());
            }),
        ),
        (
            "conformance-d2",
            row("conformance-d2", &|r| {
                queued(r);
                r.assignee = Some("op-max".into());
            }),
        ),
        (
            "conformance-d3",
            row("conformance-d3", &|r| {
                queued(r);
                r.assignee = Some("op-max".into());
                r.claim_open = true;
            }),
        ),
        (
            "conformance-d4",
            row("conformance-d4", &|r| {
                queued(r);
                r.assignee = Some("op-lee".into());
                r.claim_open = true;
            }),
        ),
        (
            "conformance-d5",
            row("conformance-d5", &|r| {
                r.job = Some(JobState::Claimed);
                r.owner = Some("op-lee".into());
                r.assignee = Some("op-lee".into());
            }),
        ),
        (
            "conformance-d6",
            row("conformance-d6", &|r| {
                r.job = Some(JobState::Claimed);
                r.owner = Some("op-max".into());
            }),
        ),
        (
            "conformance-d7",
            row("conformance-d7", &|r| {
                r.job = Some(JobState::Completed);
                r.owner = Some("op-lee".into());
            }),
        ),
        (
            "conformance-d8",
            row("conformance-d8", &|r| {
                r.job = Some(JobState::Completed);
                r.owner = Some("op-lee".into());
                r.completed_visible = false;
            }),
        ),
        (
            "conformance-d9",
            row("conformance-d9", &|r| {
                r.job = Some(JobState::Completed);
                r.owner = Some("op-lee".into());
            }),
        ),
        (
            "conformance-da",
            row("conformance-da", &|r| {
                r.job = Some(JobState::Cancelled);
                r.owner = Some("op-lee".into());
                r.assignee = Some("op-lee".into());
            }),
        ),
        (
            "conformance-db",
            row("conformance-db", &|r| {
                r.job = Some(JobState::Claimed);
                r.owner = Some("op-lee".into());
            }),
        ),
        (
            "conformance-dc",
            row("conformance-dc", &|r| {
                queued(r);
                r.claim_open = true;
            }),
        ),
    ];
    for (case, row) in &cases {
        create_with_row(store, case, row)?;
    }
    let lee = call("desk", store.desk("op-lee", 10))?;
    expect_ids(
        "op-lee's queued Jobs",
        &lee.queued,
        &[
            "conformance-d1",
            "conformance-d3",
            "conformance-d4",
            "conformance-dc",
        ],
    )?;
    expect_ids(
        "op-lee's active Jobs",
        &lee.active,
        &["conformance-d5", "conformance-db"],
    )?;
    expect_ids(
        "op-lee's completed Jobs",
        &lee.completed,
        &["conformance-d9", "conformance-d7"],
    )?;
    let max = call("desk", store.desk("op-max", 10))?;
    expect_ids(
        "op-max's queued Jobs",
        &max.queued,
        &[
            "conformance-d2",
            "conformance-d3",
            "conformance-d4",
            "conformance-dc",
        ],
    )?;
    expect_ids("op-max's active Jobs", &max.active, &["conformance-d6"])?;
    expect_ids("op-max's completed Jobs", &max.completed, &[])?;
    let nobody = call("desk", store.desk("op-none", 10))?;
    expect_ids(
        "a stranger's queued Jobs",
        &nobody.queued,
        &["conformance-d3", "conformance-d4", "conformance-dc"],
    )?;
    let short = call("desk", store.desk("op-lee", 1))?;
    expect_ids(
        "op-lee's queued Jobs, limit 1",
        &short.queued,
        &["conformance-d1"],
    )?;
    expect_ids(
        "op-lee's active Jobs, limit 1",
        &short.active,
        &["conformance-d5"],
    )?;
    expect_ids(
        "op-lee's completed Jobs, limit 1",
        &short.completed,
        &["conformance-d9"],
    )?;
    // A row moves between columns when the next append replaces it.
    let more = fixture_events(
        "conformance-d1",
        call("load", store.load("conformance-d1"))?.last(),
        1,
        None,
    )?;
    let claimed = fixture_row("conformance-d1", 2, |r| {
        r.job = Some(JobState::Claimed);
        r.owner = Some("op-lee".into());
        r.assignee = Some("op-lee".into());
    });
    call(
        "append",
        store.append(&Append::new("conformance-d1", 1, &more).with_index(&claimed)),
    )?;
    let lee = call("desk", store.desk("op-lee", 10))?;
    expect_ids(
        "op-lee's queued Jobs after a claim",
        &lee.queued,
        &["conformance-d3", "conformance-d4", "conformance-dc"],
    )?;
    expect_ids(
        "op-lee's active Jobs after a claim",
        &lee.active,
        &["conformance-d1", "conformance-d5", "conformance-db"],
    )
}

/// The queue: rows with a queue need, creation order, `limit`. Due: rows whose `next_due_at` is
/// at or before `now`, earliest first.
pub fn queue_and_due_queries<S: Store>(store: &S) -> Result<(), String> {
    let rows = [
        ("conformance-q1", Some(QueueNeed::Review), Some(T0 + 30)),
        ("conformance-q2", None, Some(T0 + 10)),
        ("conformance-q3", Some(QueueNeed::HandOff), None),
        ("conformance-q4", Some(QueueNeed::Approval), Some(T0 + 10)),
        ("conformance-q5", None, Some(T0 + 50)),
    ];
    for (case, need, due) in rows {
        create_with_row(
            store,
            case,
            &fixture_row(case, 1, |r| {
                r.queue = need;
                r.next_due_at = due;
            }),
        )?;
    }
    let queue = call("queue", store.queue(10))?;
    expect_ids(
        "the queue",
        &queue,
        &["conformance-q1", "conformance-q3", "conformance-q4"],
    )?;
    ensure(
        queue.get(1).and_then(|r| r.queue) == Some(QueueNeed::HandOff),
        || "the queue need does not read back".into(),
    )?;
    expect_ids(
        "the queue, limit 2",
        &call("queue", store.queue(2))?,
        &["conformance-q1", "conformance-q3"],
    )?;
    expect_ids(
        "due before anything",
        &call("due", store.due(T0 + 9, 10))?,
        &[],
    )?;
    expect_ids(
        "due at T0+10",
        &call("due", store.due(T0 + 10, 10))?,
        &["conformance-q2", "conformance-q4"],
    )?;
    expect_ids(
        "due at T0+40",
        &call("due", store.due(T0 + 40, 10))?,
        &["conformance-q2", "conformance-q4", "conformance-q1"],
    )?;
    expect_ids(
        "due at T0+99, limit 2",
        &call("due", store.due(T0 + 99, 2))?,
        &["conformance-q2", "conformance-q4"],
    )?;
    // Once the row says nothing is due, the case leaves the due list.
    let more = fixture_events(
        "conformance-q2",
        call("load", store.load("conformance-q2"))?.last(),
        1,
        None,
    )?;
    call(
        "append",
        store.append(
            &Append::new("conformance-q2", 1, &more).with_index(&fixture_row(
                "conformance-q2",
                2,
                |r| {
                    r.queue = None;
                    r.next_due_at = None;
                },
            )),
        ),
    )?;
    expect_ids(
        "due after the escalation",
        &call("due", store.due(T0 + 40, 10))?,
        &["conformance-q4", "conformance-q1"],
    )
}

/// The list: every filter, newest activity first (ties: the greater case id first), pages
/// after a cursor, `limit`.
pub fn list_query<S: Store>(store: &S) -> Result<(), String> {
    type Edit<'a> = &'a dyn Fn(&mut CaseIndex);
    let rows: Vec<(&str, Millis, Edit<'_>)> = vec![
        ("conformance-l1", T0 + 1, &|r| {
            r.job = Some(JobState::Queued);
            r.assignee = Some("op-a".into());
        }),
        ("conformance-l2", T0 + 5, &|r| {
            r.job = Some(JobState::Claimed);
            r.assignee = Some("op-a".into());
            r.owner = Some("op-a".into());
            r.phase = Some("doing".into());
        }),
        ("conformance-l3", T0 + 5, &|r| {
            r.surface = "other".into();
            r.surface_version = 2;
        }),
        ("conformance-l4", T0 + 3, &|r| {
            r.job = Some(JobState::Claimed);
            r.owner = Some("op-b".into());
            r.phase = Some("checking".into());
        }),
        ("conformance-l5", T0 + 9, &|r| {
            r.surface = "other".into();
            r.surface_version = 1;
            r.job = Some(JobState::Queued);
        }),
    ];
    for (case, at, edit) in &rows {
        create_with_row(
            store,
            case,
            &fixture_row(case, 1, |r| {
                r.last_activity = *at;
                edit(r);
            }),
        )?;
    }
    let list = |filter: CaseFilter, after: Option<&ListCursor>, limit: usize| {
        call("list", store.list(&filter, after, limit))
    };
    let all = list(CaseFilter::default(), None, 10)?;
    expect_ids(
        "every case",
        &all,
        &[
            "conformance-l5",
            "conformance-l3",
            "conformance-l2",
            "conformance-l4",
            "conformance-l1",
        ],
    )?;
    let page = list(CaseFilter::default(), None, 2)?;
    expect_ids(
        "the first page",
        &page,
        &["conformance-l5", "conformance-l3"],
    )?;
    let cursor = page.last().map(ListCursor::after).ok_or("an empty page")?;
    let cursor = ListCursor::decode(&cursor.encode()).ok_or("the cursor does not round-trip")?;
    let page = list(CaseFilter::default(), Some(&cursor), 2)?;
    expect_ids(
        "the second page",
        &page,
        &["conformance-l2", "conformance-l4"],
    )?;
    let cursor = page.last().map(ListCursor::after).ok_or("an empty page")?;
    expect_ids(
        "the last page",
        &list(CaseFilter::default(), Some(&cursor), 2)?,
        &["conformance-l1"],
    )?;
    let f = |edit: &dyn Fn(&mut CaseFilter)| {
        let mut filter = CaseFilter::default();
        edit(&mut filter);
        filter
    };
    expect_ids(
        "surface slug",
        &list(f(&|f| f.surface = Some("other".into())), None, 10)?,
        &["conformance-l5", "conformance-l3"],
    )?;
    expect_ids(
        "surface slug@version",
        &list(f(&|f| f.surface = Some("other@2".into())), None, 10)?,
        &["conformance-l3"],
    )?;
    expect_ids(
        "a surface version that is no number",
        &list(f(&|f| f.surface = Some("other@x".into())), None, 10)?,
        &[],
    )?;
    expect_ids(
        "job queued",
        &list(f(&|f| f.job = Some(Some(JobState::Queued))), None, 10)?,
        &["conformance-l5", "conformance-l1"],
    )?;
    expect_ids(
        "job none",
        &list(f(&|f| f.job = Some(None)), None, 10)?,
        &["conformance-l3"],
    )?;
    expect_ids(
        "phase",
        &list(f(&|f| f.phase = Some("doing".into())), None, 10)?,
        &["conformance-l2"],
    )?;
    expect_ids(
        "assignee",
        &list(f(&|f| f.assignee = Some("op-a".into())), None, 10)?,
        &["conformance-l2", "conformance-l1"],
    )?;
    expect_ids(
        "owner",
        &list(f(&|f| f.owner = Some("op-b".into())), None, 10)?,
        &["conformance-l4"],
    )?;
    expect_ids(
        "several filters",
        &list(
            f(&|f| {
                f.job = Some(Some(JobState::Claimed));
                f.assignee = Some("op-a".into());
                f.surface = Some("conformance@1".into());
            }),
            None,
            10,
        )?,
        &["conformance-l2"],
    )?;
    let cursor = ListCursor {
        last_activity: T0 + 5,
        case: "conformance-l3".into(),
    };
    expect_ids(
        "claimed after a cursor",
        &list(
            f(&|f| f.job = Some(Some(JobState::Claimed))),
            Some(&cursor),
            10,
        )?,
        &["conformance-l2", "conformance-l4"],
    )
}

/// The index state: a rebuild makes queries fail until it finishes; `reindex` writes or removes
/// a row only at the stream's current version.
pub fn index_rebuild<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-reindex";
    create_with_row(store, case, &fixture_row(case, 1, |_| {}))?;
    call("begin_reindex", store.begin_reindex())?;
    ensure(
        call("index_state", store.index_state())? == IndexState::NeedsRebuild,
        || "the state is not `needs_rebuild` during a rebuild".into(),
    )?;
    for (what, result) in [
        ("desk", store.desk("op", 10).map(|_| ())),
        ("queue", store.queue(10).map(|_| ())),
        (
            "list",
            store.list(&CaseFilter::default(), None, 10).map(|_| ()),
        ),
        ("due", store.due(T0, 10).map(|_| ())),
        ("operators", store.operators().map(|_| ())),
    ] {
        ensure(matches!(result, Err(StoreError::IndexNotReady)), || {
            format!("{what} during a rebuild: expected `IndexNotReady`, got {result:?}")
        })?;
    }
    let row = fixture_row(case, 1, |r| r.owner = Some("op-rebuilt".into()));
    ensure(
        !call(
            "reindex",
            store.reindex(case, 2, Some(&row)).or_else(|e| match e {
                StoreError::Invalid { .. } => Ok(false),
                other => Err(other),
            }),
        )?,
        || "a reindex at the wrong version wrote".into(),
    )?;
    let stale = fixture_row(case, 0, |_| {});
    ensure(
        !call("reindex", store.reindex(case, 0, Some(&stale)))?,
        || "a reindex at a stale version wrote".into(),
    )?;
    ensure(call("reindex", store.reindex(case, 1, Some(&row)))?, || {
        "a reindex at the current version did not write".into()
    })?;
    ensure(
        call("index_row", store.index_row(case))?.as_ref() == Some(&row),
        || "the reindexed row does not read back".into(),
    )?;
    call("finish_reindex", store.finish_reindex())?;
    ensure(
        call("index_state", store.index_state())? == IndexState::Ready,
        || "the state is not `ready` after a rebuild".into(),
    )?;
    ensure(
        ids(&call("list", store.list(&CaseFilter::default(), None, 10))?) == [case],
        || "the rebuilt index does not answer".into(),
    )?;
    call("begin_reindex", store.begin_reindex())?;
    ensure(call("reindex", store.reindex(case, 1, None))?, || {
        "removing a row at the current version did not happen".into()
    })?;
    call("finish_reindex", store.finish_reindex())?;
    ensure(call("index_row", store.index_row(case))?.is_none(), || {
        "a removed row is still there".into()
    })
}

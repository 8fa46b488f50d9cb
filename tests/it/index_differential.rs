//! `SqliteStore`'s index against `MemoryStore`'s, on random rows and random later rows: every
//! stored row agrees, and every page of every filtered list agrees. SQLite writes only the
//! columns that changed and reads a list as ranges of one index merged
//! (`src/host/sqlite_list.rs`); the memory store keeps whole rows and filters them, so it is
//! the reference.

use planck::host::conformance::{fixture_row, fixture_tail};
use planck::host::{
    Append, CaseFilter, CaseIndex, IndexRow, ListCursor, MemoryStore, QueueNeed, SqliteStore, Store,
};
use planck::spine::JobState;
use proptest::prelude::*;

const SURFACES: [&str; 3] = ["alpha", "beta", "gamma"];
const NAMES: [Option<&str>; 3] = [None, Some("op-a"), Some("op-b")];
const PHASES: [Option<&str>; 3] = [None, Some("doing"), Some("checking")];

/// No Job (0), or the Job state `i - 1`.
fn job(i: usize) -> Option<JobState> {
    i.checked_sub(1).map(|i| JobState::ALL[i])
}

/// The parts of a row the queries read, as indexes into the tables above.
#[derive(Clone, Debug)]
struct Shape {
    surface: usize,
    version: u32,
    job: usize,
    phase: usize,
    assignee: usize,
    owner: usize,
    last_activity: i64,
    queued: bool,
    due: Option<i64>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        (0..3usize, 1..3u32, 0..5usize, 0..3usize),
        (
            0..3usize,
            0..3usize,
            0..6i64,
            any::<bool>(),
            proptest::option::of(0..4i64),
        ),
    )
        .prop_map(
            |((surface, version, job, phase), (assignee, owner, last_activity, queued, due))| {
                Shape {
                    surface,
                    version,
                    job,
                    phase,
                    assignee,
                    owner,
                    last_activity,
                    queued,
                    due,
                }
            },
        )
}

fn row(case: &str, version: u64, s: &Shape) -> IndexRow {
    fixture_row(case, version, |r: &mut CaseIndex| {
        r.surface = SURFACES[s.surface].to_string();
        r.surface_version = s.version;
        r.job = job(s.job);
        r.phase = PHASES[s.phase].map(String::from);
        r.stage = r.phase.clone();
        r.assignee = NAMES[s.assignee].map(String::from);
        r.owner = NAMES[s.owner].map(String::from);
        r.last_activity = s.last_activity;
        r.queue = s.queued.then_some(QueueNeed::Assign);
        r.next_due_at = s.due;
    })
}

/// A filter: each field given or not.
#[derive(Clone, Debug)]
struct Filter {
    surface: Option<(usize, Option<u32>)>,
    job: Option<usize>,
    phase: Option<usize>,
    assignee: Option<usize>,
    owner: Option<usize>,
    limit: usize,
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        proptest::option::of((0..3usize, proptest::option::of(1..3u32))),
        proptest::option::of(0..5usize),
        proptest::option::weighted(0.3, 1..3usize),
        proptest::option::weighted(0.2, 1..3usize),
        proptest::option::weighted(0.2, 1..3usize),
        1..5usize,
    )
        .prop_map(|(surface, job, phase, assignee, owner, limit)| Filter {
            surface,
            job,
            phase,
            assignee,
            owner,
            limit,
        })
}

impl Filter {
    fn to_case_filter(&self) -> CaseFilter {
        CaseFilter {
            surface: self.surface.map(|(s, v)| match v {
                Some(v) => format!("{}@{v}", SURFACES[s]),
                None => SURFACES[s].to_string(),
            }),
            job: self.job.map(job),
            phase: self.phase.and_then(|p| PHASES[p].map(String::from)),
            assignee: self.assignee.and_then(|a| NAMES[a].map(String::from)),
            owner: self.owner.and_then(|o| NAMES[o].map(String::from)),
        }
    }
}

/// Every page of the list, in order, as case ids (at most 100 pages).
fn walk<S: Store>(store: &S, filter: &CaseFilter, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<ListCursor> = None;
    for _ in 0..100 {
        let page = store.list(filter, cursor.as_ref(), limit).expect("list");
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(ListCursor::after);
        pages.push(page.into_iter().map(|r| r.case).collect());
    }
    pages
}

fn both(memory: &MemoryStore, sqlite: &SqliteStore, append: &Append<'_>) {
    memory.append(append).expect("memory append");
    sqlite.append(append).expect("sqlite append");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_keeps_and_lists_the_rows_memory_does(
        first in proptest::collection::vec(shape(), 1..16),
        later in proptest::collection::vec((0..16usize, shape()), 0..24),
        filters in proptest::collection::vec(filter(), 1..8),
    ) {
        let memory = MemoryStore::new();
        let sqlite = SqliteStore::open_in_memory().expect("sqlite");
        let mut versions = Vec::new();
        for (i, s) in first.iter().enumerate() {
            let case = format!("c-{i:02}");
            let events = fixture_tail(&case, 0, 1).expect("events");
            let row = row(&case, 1, s);
            both(&memory, &sqlite, &Append::new(&case, 0, &events).with_index(&row));
            versions.push(1u64);
        }
        for (pick, s) in &later {
            let i = pick % first.len();
            let case = format!("c-{i:02}");
            let version = versions[i];
            let events = fixture_tail(&case, version, 1).expect("events");
            let row = row(&case, version + 1, s);
            both(&memory, &sqlite, &Append::new(&case, version, &events).with_index(&row));
            versions[i] = version + 1;
        }
        for i in 0..first.len() {
            let case = format!("c-{i:02}");
            prop_assert_eq!(
                sqlite.index_row(&case).expect("row"),
                memory.index_row(&case).expect("row"),
                "the row of {}", case
            );
        }
        for f in &filters {
            let filter = f.to_case_filter();
            prop_assert_eq!(
                walk(&sqlite, &filter, f.limit),
                walk(&memory, &filter, f.limit),
                "the pages of {:?}", filter
            );
        }
    }
}

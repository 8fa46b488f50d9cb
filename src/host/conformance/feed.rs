//! The feed: positions 1, 2, 3, ... in commit order, none taken by a refused append, and with
//! several writers and a polling reader never a position below one already seen, never a
//! hole, every event exactly once.

use super::fixtures::{call, ensure, expect_conflict, fixture_events, fixture_tail, record};
use crate::host::store::{Append, Store, StoreError, StoredEvent};

/// Read the whole feed after `after`, in pages of `page`.
fn read_feed<S: Store>(
    store: &S,
    after: u64,
    page: usize,
) -> Result<Vec<crate::host::FeedEntry>, String> {
    let mut out = Vec::new();
    let mut at = after;
    loop {
        let batch = call("feed", store.feed(at, page))?;
        let done = batch.len() < page;
        if let Some(last) = batch.last() {
            at = last.position;
        }
        out.extend(batch);
        if done {
            return Ok(out);
        }
    }
}

/// How long a property waits for a store that numbers events after they commit (PostgreSQL:
/// any transaction open in the cluster holds numbering back) to number what was committed.
const FEED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Read the feed after `after` until it holds at least `want` events (or [`FEED_PATIENCE`]
/// passed), in pages of `page`.
fn read_feed_until<S: Store>(
    store: &S,
    after: u64,
    want: usize,
    page: usize,
) -> Result<Vec<crate::host::FeedEntry>, String> {
    let deadline = std::time::Instant::now() + FEED_PATIENCE;
    let mut out = read_feed(store, after, page)?;
    while out.len() < want && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let from = out.last().map_or(after, |e| e.position);
        out.extend(read_feed(store, from, page)?);
    }
    Ok(out)
}

/// Positions 1, 2, 3, … in commit order across cases; pages after a position; what
/// [`Committed`](crate::host::store::Committed) reports (when the store reports positions) is where the events are.
pub fn feed_order<S: Store>(store: &S) -> Result<(), String> {
    ensure(call("feed", store.feed(0, 10))?.is_empty(), || {
        "a new store's feed is not empty".into()
    })?;
    let a = "conformance-feed-a";
    let b = "conformance-feed-b";
    let a1 = fixture_events(a, None, 2, None)?;
    let b1 = fixture_events(b, None, 1, None)?;
    let a2 = fixture_events(a, a1.last(), 3, None)?;
    let committed = [
        call("append", store.append(&Append::new(a, 0, &a1)))?,
        call("append", store.append(&Append::new(b, 0, &b1)))?,
        call("append", store.append(&Append::new(a, 2, &a2)))?,
    ];
    let order: Vec<&StoredEvent> = a1.iter().chain(&b1).chain(&a2).collect();
    let feed = read_feed_until(store, 0, order.len(), 2)?;
    ensure(feed.len() == order.len(), || {
        format!(
            "the feed holds {} events, {} were appended",
            feed.len(),
            order.len()
        )
    })?;
    for (i, (entry, want)) in feed.iter().zip(&order).enumerate() {
        ensure(entry.position == i as u64 + 1, || {
            format!("entry {i} has position {}", entry.position)
        })?;
        ensure(&entry.event == *want, || {
            format!(
                "position {} holds `{}`, expected `{}`",
                entry.position, entry.event.event_id, want.event_id
            )
        })?;
    }
    let tail = call("feed", store.feed(4, 10))?;
    ensure(
        tail.iter().map(|e| e.position).collect::<Vec<_>>() == [5, 6],
        || {
            format!(
                "after position 4 the feed holds {:?}",
                tail.iter().map(|e| e.position).collect::<Vec<_>>()
            )
        },
    )?;
    ensure(call("feed", store.feed(6, 10))?.is_empty(), || {
        "the feed goes on past its end".into()
    })?;
    let mut next = 1;
    for (c, n) in committed.iter().zip([2u64, 1, 3]) {
        if let Some(range) = &c.positions {
            ensure(*range == (next..next + n), || {
                format!(
                    "an append reports positions {range:?}, expected {:?}",
                    next..next + n
                )
            })?;
        }
        next += n;
    }
    Ok(())
}

/// Refused appends (a conflict, a taken key, a malformed append) take no position: the next
/// committed event follows the last one without a hole.
pub fn feed_refusals<S: Store>(store: &S) -> Result<(), String> {
    let case = "conformance-feed-refused";
    let first = fixture_events(case, None, 1, Some("conformance-feed-k"))?;
    call(
        "append",
        store.append(
            &Append::new(case, 0, &first).with_idempotency(&record("conformance-feed-k", case)),
        ),
    )?;
    expect_conflict(
        "a stale append",
        store.append(&Append::new(case, 0, &fixture_tail(case, 0, 2)?)),
    )?;
    let taken = fixture_events(
        "conformance-feed-other",
        None,
        1,
        Some("conformance-feed-k"),
    )?;
    ensure(
        store
            .append(
                &Append::new("conformance-feed-other", 0, &taken)
                    .with_idempotency(&record("conformance-feed-k", "x")),
            )
            .is_err(),
        || "a taken key was recorded".into(),
    )?;
    let next = fixture_events(case, first.last(), 1, None)?;
    call("append", store.append(&Append::new(case, 1, &next)))?;
    let feed = read_feed_until(store, 0, 2, 10)?;
    let got: Vec<(u64, &str)> = feed
        .iter()
        .map(|e| (e.position, e.event.event_id.as_str()))
        .collect();
    let id = |events: &[StoredEvent]| {
        events
            .first()
            .map(|e| e.event_id.clone())
            .unwrap_or_default()
    };
    let (first, next) = (id(&first), id(&next));
    let want = [(1, first.as_str()), (2, next.as_str())];
    ensure(got == want, || {
        format!("the feed holds {got:?}, expected {want:?}")
    })
}

/// Several writers on one handle and a reader polling (see [`feed_promise`]).
pub fn feed_concurrent<S: Store>(store: &S) -> Result<(), String> {
    feed_promise(&[store, store, store, store], "conformance-fc")
}

/// Several writers on several handles and a reader on another (see [`feed_promise`]).
pub fn feed_concurrent_handles<S: Store>(open: &impl Fn() -> S) -> Result<(), String> {
    let handles: Vec<S> = (0..5).map(|_| open()).collect();
    let refs: Vec<&S> = handles.iter().collect();
    feed_promise(&refs, "conformance-fch")
}

/// The feed's promise under concurrency: the last handle reads the feed in small pages while
/// the others append (each to cases of its own, and racing on one shared case); the reader
/// never sees a position at or below one it saw, never a hole, each case's events in order,
/// and at the end every committed event exactly once.
pub fn feed_promise<S: Store>(handles: &[&S], prefix: &str) -> Result<(), String> {
    const ROUNDS: u64 = 15;
    let Some((reader, writers)) = handles.split_last() else {
        return Ok(());
    };
    let shared = format!("{prefix}-shared");
    let start = read_feed(*reader, 0, 100)?.last().map_or(0, |e| e.position);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (written, read) = std::thread::scope(|scope| {
        let writing: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(w, store)| {
                let shared = &shared;
                scope.spawn(move || -> Result<u64, String> {
                    let own = format!("{prefix}-{w}");
                    let mut written = 0;
                    let mut last: Option<StoredEvent> = None;
                    for round in 0..ROUNDS {
                        let n = 1 + (round % 3) as usize;
                        let events = fixture_events(&own, last.as_ref(), n, None)?;
                        let version = last.as_ref().map_or(0, |e| e.seq);
                        call("append", store.append(&Append::new(&own, version, &events)))?;
                        written += n as u64;
                        last = events.last().cloned();
                        // Race for the next event of the shared case.
                        let version = call("load", store.load(shared))?.len() as u64;
                        let events = fixture_tail(shared, version, 1)?;
                        match store.append(&Append::new(shared, version, &events)) {
                            Ok(_) => written += 1,
                            Err(StoreError::Conflict { .. }) => {}
                            Err(other) => return Err(format!("a racing append failed: {other}")),
                        }
                    }
                    Ok(written)
                })
            })
            .collect();
        let done = &done;
        let reading = scope.spawn(move || -> Result<Vec<crate::host::FeedEntry>, String> {
            let mut seen = Vec::new();
            let mut after = start;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let batch = call("feed", reader.feed(after, 7))?;
                for entry in &batch {
                    ensure(entry.position == after + 1, || {
                        format!(
                            "after position {after} the feed gave position {}",
                            entry.position
                        )
                    })?;
                    after = entry.position;
                }
                let empty = batch.is_empty();
                seen.extend(batch);
                if finished && empty {
                    return Ok(seen);
                }
                if empty {
                    std::thread::yield_now();
                }
            }
        });
        let mut written = 0;
        let mut failure = None;
        for w in writing {
            match w.join() {
                Ok(Ok(n)) => written += n,
                Ok(Err(why)) => failure = Some(why),
                Err(_) => failure = Some("a writer panicked".to_string()),
            }
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err("the reader panicked".to_string()));
        match failure {
            Some(why) => (Err(why), read),
            None => (Ok(written), read),
        }
    });
    let written = written?;
    let mut read = read?;
    // The reader stopped when it saw an empty page after the writers finished; anything
    // numbered later (a store that numbers after commit) is read now and must follow on.
    // Events of other properties sharing the storage may be numbered meanwhile: only this
    // property's cases are counted.
    let mine = |read: &[crate::host::FeedEntry]| {
        read.iter()
            .filter(|e| e.event.case_id.starts_with(prefix))
            .count() as u64
    };
    let deadline = std::time::Instant::now() + FEED_PATIENCE;
    while mine(&read) < written && std::time::Instant::now() < deadline {
        let last = read.last().map_or(start, |e| e.position);
        let tail = read_feed(*reader, last, 100)?;
        for entry in tail {
            ensure(
                entry.position == read.last().map_or(start, |e| e.position) + 1,
                || format!("the feed's tail resumes at position {}", entry.position),
            )?;
            read.push(entry);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ensure(mine(&read) == written, || {
        format!(
            "{written} events were committed but the reader saw {}",
            mine(&read)
        )
    })?;
    read.retain(|e| e.event.case_id.starts_with(prefix));
    let mut per_case: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for entry in &read {
        let last = per_case.entry(entry.event.case_id.as_str()).or_insert(0);
        ensure(entry.event.seq == *last + 1, || {
            format!(
                "the feed holds event {} of `{}` after event {}",
                entry.event.seq, entry.event.case_id, last
            )
        })?;
        *last = entry.event.seq;
    }
    for (case, count) in &per_case {
        let stored = call("load", reader.load(case))?.len() as u64;
        ensure(stored == *count, || {
            format!("`{case}` holds {stored} events, the feed {count}")
        })?;
    }
    Ok(())
}

//! The feed's promise under concurrency (docs/queries.md): many writers on many connections,
//! and separate processes, append while a reader polls the feed; the reader never sees a
//! position at or below one it saw, never a hole, and at the end every event exactly once, each
//! case's events in sequence order. On SQLite (connections and processes on one file) and
//! PostgreSQL (connections and processes on one schema; needs `PLANCK_PG_URL`).

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use planck::host::{Append, FeedEntry, Store, StoreError, conformance};

use crate::reliability_support::StoreSpec;

const CHILD: &str = "feed_promise::writer_child";
const CHILD_ENV: &str = "PLANCK_FEED_CHILD";

/// Append `rounds` times to the case `feed-<writer>` (1 to 3 events each) and race once per
/// round for the next event of `feed-shared`; return how many events this writer committed.
fn write(store: &dyn Store, writer: &str, rounds: u64) -> u64 {
    let own = format!("feed-{writer}");
    let mut written = 0;
    let mut last = None;
    for round in 0..rounds {
        let n = 1 + (round % 3) as usize;
        let events = conformance::fixture_events(&own, last.as_ref(), n, None).unwrap();
        let version = last
            .as_ref()
            .map_or(0, |e: &planck::host::StoredEvent| e.seq);
        store.append(&Append::new(&own, version, &events)).unwrap();
        written += n as u64;
        last = events.last().cloned();
        let version = store.load("feed-shared").unwrap().len() as u64;
        let events = conformance::fixture_tail("feed-shared", version, 1).unwrap();
        match store.append(&Append::new("feed-shared", version, &events)) {
            Ok(_) => written += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("a racing append failed: {other}"),
        }
    }
    written
}

/// Not a test of its own: the body of each writer process.
#[test]
fn writer_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let writer = std::env::var("PLANCK_FEED_WRITER").unwrap();
    let rounds: u64 = std::env::var("PLANCK_FEED_ROUNDS")
        .unwrap()
        .parse()
        .unwrap();
    let store = StoreSpec::decode(&spec).open_raw();
    let written = write(store.as_ref(), &writer, rounds);
    println!("\nPLANCK_WRITTEN {written}");
    std::io::stdout().flush().unwrap();
}

/// How the writers run.
#[derive(Clone, Copy)]
enum Writers {
    /// Threads, each on its own connection (its own store handle).
    Connections(usize),
    /// Processes (this test binary again), each with its own connection.
    Processes(usize),
}

/// Run the writers while a reader on its own handle polls the feed; check the promise.
fn promise(spec: &StoreSpec, writers: Writers, rounds: u64) {
    let reader = spec.open_raw();
    let done = AtomicBool::new(false);
    let (written, mut seen) = std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            let mut seen: Vec<FeedEntry> = Vec::new();
            let mut after = 0;
            let mut polls = 0u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                let batch = reader.feed(after, 13).unwrap();
                polls += 1;
                for entry in &batch {
                    assert_eq!(
                        entry.position,
                        after + 1,
                        "after position {after} the feed gave {}",
                        entry.position
                    );
                    after = entry.position;
                }
                let empty = batch.is_empty();
                seen.extend(batch);
                if finished && empty {
                    eprintln!("the reader polled {polls} times");
                    return seen;
                }
                if empty {
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        });
        let written: u64 = match writers {
            Writers::Connections(n) => {
                let handles: Vec<Arc<dyn Store>> = (0..n).map(|_| spec.open_raw()).collect();
                std::thread::scope(|inner| {
                    let jobs: Vec<_> = handles
                        .iter()
                        .enumerate()
                        .map(|(w, store)| {
                            inner.spawn(move || write(store.as_ref(), &format!("c{w}"), rounds))
                        })
                        .collect();
                    jobs.into_iter().map(|j| j.join().unwrap()).sum()
                })
            }
            Writers::Processes(n) => {
                let exe = std::env::current_exe().unwrap();
                let children: Vec<_> = (0..n)
                    .map(|w| {
                        Command::new(&exe)
                            .args(["--exact", CHILD, "--nocapture", "--test-threads=1"])
                            .env(CHILD_ENV, spec.encode())
                            .env("PLANCK_FEED_WRITER", format!("p{w}"))
                            .env("PLANCK_FEED_ROUNDS", rounds.to_string())
                            .stdout(Stdio::piped())
                            .stderr(Stdio::inherit())
                            .spawn()
                            .unwrap()
                    })
                    .collect();
                children
                    .into_iter()
                    .map(|child| {
                        let out = child.wait_with_output().unwrap();
                        assert!(out.status.success(), "a writer process failed");
                        let text = String::from_utf8_lossy(&out.stdout);
                        text.lines()
                            .find_map(|l| l.strip_prefix("PLANCK_WRITTEN "))
                            .unwrap_or_else(|| panic!("no result from a writer: {text}"))
                            .trim()
                            .parse::<u64>()
                            .unwrap()
                    })
                    .sum()
            }
        };
        done.store(true, Ordering::Release);
        (written, reading.join().unwrap())
    });
    // A store that numbers after commit (PostgreSQL) may number the last events later: they
    // must follow on without a hole.
    let deadline = Instant::now() + Duration::from_secs(30);
    while (seen.len() as u64) < written && Instant::now() < deadline {
        let after = seen.last().map_or(0, |e| e.position);
        for entry in reader.feed(after, 100).unwrap() {
            assert_eq!(entry.position, seen.last().map_or(0, |e| e.position) + 1);
            seen.push(entry);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen.len() as u64,
        written,
        "every committed event is in the feed exactly once"
    );
    let mut per_case: HashMap<String, u64> = HashMap::new();
    for entry in &seen {
        let last = per_case.entry(entry.event.case_id.clone()).or_insert(0);
        assert_eq!(
            entry.event.seq,
            *last + 1,
            "`{}` in sequence order",
            entry.event.case_id
        );
        *last = entry.event.seq;
    }
    for (case, count) in &per_case {
        assert_eq!(reader.load(case).unwrap().len() as u64, *count, "{case}");
    }
    eprintln!(
        "{}: {written} events from {} cases, read in order without a hole",
        spec.label(),
        per_case.len()
    );
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    #[test]
    fn many_connections_and_a_polling_reader() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StoreSpec::Sqlite(dir.path().join("feed.db"));
        promise(&spec, Writers::Connections(8), 25);
    }

    #[test]
    fn several_processes_and_a_polling_reader() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StoreSpec::Sqlite(dir.path().join("feed.db"));
        // Create the file (and its schema) once, before the processes race to open it.
        drop(spec.open_raw());
        promise(&spec, Writers::Processes(4), 20);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::reliability_support::pg::Scratch;
    use crate::reliability_support::pg_url;

    fn scratch(test: &str, tag: &str) -> Option<(Scratch, StoreSpec)> {
        let url = pg_url(test)?;
        let scratch = Scratch::new(&url, tag);
        let spec = StoreSpec::Postgres {
            url,
            schema: scratch.schema.clone(),
        };
        Some((scratch, spec))
    }

    #[test]
    fn many_connections_and_a_polling_reader() {
        let Some((_scratch, spec)) = scratch("many_connections_and_a_polling_reader", "feed_c")
        else {
            return;
        };
        promise(&spec, Writers::Connections(12), 25);
    }

    #[test]
    fn several_processes_and_a_polling_reader() {
        let Some((_scratch, spec)) = scratch("several_processes_and_a_polling_reader", "feed_p")
        else {
            return;
        };
        promise(&spec, Writers::Processes(4), 20);
    }

    /// The trap itself: a transaction that began writing first commits last. Its event is
    /// numbered after the ones a reader already saw, never below them.
    #[test]
    fn an_event_committed_late_is_numbered_after_what_a_reader_saw() {
        let Some((scratch, _spec)) = scratch(
            "an_event_committed_late_is_numbered_after_what_a_reader_saw",
            "feed_late",
        ) else {
            return;
        };
        let store = &scratch.store;
        let mut slow = ::postgres::Client::connect(&scratch.url, ::postgres::NoTls).unwrap();
        let mut tx = slow.transaction().unwrap();
        // Begin a write (the transaction takes its id now) and hold it open.
        let late = conformance::fixture_events("feed-late", None, 1, None).unwrap();
        let e = &late[0];
        tx.execute(
            &format!(
                "INSERT INTO {}.planck_events (event_id, event_type, schema_version, ts_utc, ts_ms, case_id, seq,
                        actor, surface, surface_fingerprint, idempotency_key, payload, prev_digest, digest)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, NULL, $10, $11, $12)",
                scratch.schema
            ),
            &[
                &e.event_id,
                &e.event_type,
                &(e.schema_version as i32),
                &e.ts_utc,
                &e.ts_ms,
                &e.case_id,
                &serde_json::to_string(&e.actor).unwrap(),
                &e.surface,
                &e.surface_fingerprint,
                &serde_json::to_string(&e.payload).unwrap(),
                &e.prev_digest,
                &e.digest,
            ],
        )
        .unwrap();
        // Meanwhile another transaction commits, and a reader sees it.
        let early = conformance::fixture_events("feed-early", None, 2, None).unwrap();
        store.append(&Append::new("feed-early", 0, &early)).unwrap();
        let seen = store.feed(0, 10).unwrap();
        assert_eq!(seen.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2]);
        // The slow transaction commits: its event comes after, at position 3.
        tx.commit().unwrap();
        let next = store.feed(2, 10).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(
            (next[0].position, next[0].event.case_id.as_str()),
            (3, "feed-late")
        );
        assert_eq!(store.feed(0, 10).unwrap().len(), 3);
    }
}

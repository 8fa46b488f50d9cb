//! The store conformance suite against [`PostgresStore`] on a real PostgreSQL server.
//!
//! Needs `PLANCK_PG_URL` (start a throwaway server with `eval "$(bash scripts/ci_postgres.sh
//! start)"`) and the `postgres` feature. Without either, each test prints a loud SKIPPED line
//! and passes. Every store here lives in a schema of its own, dropped afterwards.

use crate::reliability_support;

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_conformance_skipped() {
    reliability_support::loud(
        "SKIPPED: built without the `postgres` feature — PostgreSQL tests did not run (cargo test --features postgres)",
    );
}

#[cfg(feature = "postgres")]
mod with_postgres {
    use std::cell::RefCell;
    use std::sync::{Arc, Barrier};

    use planck::host::{
        Append, MemoryTransport, PostgresOptions, PostgresStore, Store, conformance,
    };

    use super::reliability_support::{pg::Scratch, pg_url, unique_schema};

    #[test]
    fn postgres_conforms() {
        let Some(url) = pg_url("postgres_conforms") else {
            return;
        };
        let scratches = RefCell::new(Vec::new());
        let fresh = || {
            let scratch = Scratch::new(&url, "conf");
            let store = scratch.reopen();
            scratches.borrow_mut().push(scratch);
            store
        };
        let result = conformance::run_all(fresh);
        let n = scratches.borrow().len();
        drop(scratches);
        if let Err(failures) = result {
            panic!("PostgresStore fails the conformance suite:\n{failures}");
        }
        println!("PostgresStore passed the conformance suite ({n} fresh schemas)");
    }

    #[test]
    fn postgres_survives_reopening_and_racing_connections() {
        let Some(url) = pg_url("postgres_survives_reopening_and_racing_connections") else {
            return;
        };
        let scratch = Scratch::new(&url, "reopen");
        if let Err(failures) = conformance::run_reopen(|| scratch.reopen()) {
            panic!("PostgresStore fails the reopen properties:\n{failures}");
        }
    }

    #[test]
    fn schema_creation_is_idempotent_and_concurrent() {
        let Some(url) = pg_url("schema_creation_is_idempotent_and_concurrent") else {
            return;
        };
        let schema = unique_schema("ddl");
        let barrier = Arc::new(Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (url, schema, barrier) = (url.clone(), schema.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    PostgresStore::connect_with(
                        &url,
                        PostgresOptions {
                            schema,
                            ..PostgresOptions::default()
                        },
                    )
                    .map(|_| ())
                    .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let store = super::reliability_support::pg::open(&url, &schema);
        assert!(store.cases().unwrap().is_empty());
        store.drop_schema().unwrap();
    }

    #[test]
    fn a_newer_schema_version_is_refused() {
        let Some(url) = pg_url("a_newer_schema_version_is_refused") else {
            return;
        };
        let scratch = Scratch::new(&url, "ver");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .execute(
                &format!(
                    "UPDATE {}.planck_meta SET value = '99' WHERE key = 'schema_version'",
                    scratch.schema
                ),
                &[],
            )
            .unwrap();
        let err = PostgresStore::connect_with(
            &url,
            PostgresOptions {
                schema: scratch.schema.clone(),
                ..PostgresOptions::default()
            },
        )
        .unwrap_err();
        assert!(
            format!("{err} {:?}", std::error::Error::source(&err)).contains("schema version"),
            "{err}"
        );
    }

    #[test]
    fn bad_urls_and_schema_names_are_clear_errors() {
        let err = PostgresStore::connect("this is not a url ::").unwrap_err();
        assert!(err.to_string().contains("the store failed"), "{err}");
        let err = PostgresStore::connect_with(
            "postgres://nobody@127.0.0.1:1/none",
            PostgresOptions {
                schema: "x; drop table y".into(),
                ..PostgresOptions::default()
            },
        )
        .unwrap_err();
        assert!(
            format!("{err:?}").contains("not a usable schema name"),
            "{err:?}"
        );
        let err = PostgresStore::connect("postgres://nobody@127.0.0.1:1/none").unwrap_err();
        assert!(err.to_string().contains("connecting"), "{err}");
    }

    /// The events, keys and signals read back byte for byte: digests recompute after a trip
    /// through the database (floats, unicode, nested maps, u64::MAX).
    #[test]
    fn digests_survive_the_database() {
        let Some(url) = pg_url("digests_survive_the_database") else {
            return;
        };
        let scratch = Scratch::new(&url, "digest");
        let events = conformance::fixture_events("pg-d", None, 4, Some("k")).unwrap();
        scratch
            .store
            .append(&Append::new("pg-d", 0, &events))
            .unwrap();
        let back = scratch.reopen().load("pg-d").unwrap();
        assert_eq!(back, events);
        assert!(back.iter().all(|e| e.digest_holds()));
        let report = planck::audit::verify_case("pg-d", &back);
        assert!(report.is_ok(), "{report:?}");
    }

    /// `load_after` reads only the tail, exactly as `load` would after dropping the head.
    #[test]
    fn load_after_reads_the_tail() {
        let Some(url) = pg_url("load_after_reads_the_tail") else {
            return;
        };
        let scratch = Scratch::new(&url, "tail");
        let events = conformance::fixture_events("pg-t", None, 5, None).unwrap();
        scratch
            .store
            .append(&Append::new("pg-t", 0, &events))
            .unwrap();
        for after in 0..=6u64 {
            let tail = scratch.store.load_after("pg-t", after).unwrap();
            let want: Vec<_> = events.iter().filter(|e| e.seq > after).cloned().collect();
            assert_eq!(tail, want, "after {after}");
        }
        assert!(scratch.store.load_after("pg-none", 0).unwrap().is_empty());
        assert!(
            scratch
                .store
                .load_after("pg-t", u64::MAX)
                .unwrap()
                .is_empty()
        );
    }

    /// Several workers dispatch one outbox at once: each signal is delivered exactly once
    /// (no publish fails here), and nothing is left pending.
    #[test]
    fn skip_locked_dispatch_hands_each_signal_to_one_worker() {
        let Some(url) = pg_url("skip_locked_dispatch_hands_each_signal_to_one_worker") else {
            return;
        };
        let scratch = Scratch::new(&url, "dispatch");
        let mut total = 0;
        for c in 0..40 {
            let case = format!("pg-out-{c}");
            let events = conformance::fixture_events(&case, None, 5, None).unwrap();
            let signals: Vec<_> = events
                .iter()
                .enumerate()
                .map(|(i, e)| conformance::fixture_signal(e, "s", i + 1))
                .collect();
            total += signals.len();
            scratch
                .store
                .append(&Append::new(&case, 0, &events).with_outbox(&signals))
                .unwrap();
        }
        let transport = MemoryTransport::new();
        let workers = 6;
        let barrier = Barrier::new(workers);
        std::thread::scope(|s| {
            for _ in 0..workers {
                let store = scratch.reopen();
                let (transport, barrier) = (&transport, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    loop {
                        let report = store.dispatch(transport, 7).unwrap();
                        assert!(report.failed.is_empty());
                        if report.delivered.is_empty() {
                            break;
                        }
                    }
                });
            }
        });
        let delivered = transport.delivered();
        let mut ids: Vec<&str> = delivered.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "a signal was delivered twice");
        assert_eq!(ids.len(), total, "every signal delivered once");
        assert!(scratch.store.pending_signals(1000).unwrap().is_empty());
        println!("{workers} workers delivered {total} signals, each exactly once");
    }

    /// A publish that fails leaves the signal pending for the next dispatch.
    #[test]
    fn failed_publish_stays_pending() {
        struct Flaky(std::sync::atomic::AtomicUsize);
        impl planck::host::Transport for Flaky {
            fn publish(
                &self,
                _: &planck::host::StoredSignal,
            ) -> Result<(), planck::host::TransportError> {
                if self
                    .0
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    .is_multiple_of(2)
                {
                    Err(planck::host::TransportError::new("down"))
                } else {
                    Ok(())
                }
            }
        }
        let Some(url) = pg_url("failed_publish_stays_pending") else {
            return;
        };
        let scratch = Scratch::new(&url, "flaky");
        let events = conformance::fixture_events("pg-f", None, 4, None).unwrap();
        let signals: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, e)| conformance::fixture_signal(e, "s", i + 1))
            .collect();
        scratch
            .store
            .append(&Append::new("pg-f", 0, &events).with_outbox(&signals))
            .unwrap();
        let flaky = Flaky(std::sync::atomic::AtomicUsize::new(0));
        let report = scratch.store.dispatch(&flaky, 10).unwrap();
        assert_eq!(report.delivered.len(), 2);
        assert_eq!(report.failed.len(), 2);
        let pending: Vec<String> = scratch
            .store
            .pending_signals(10)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(pending, report.failed);
    }
}

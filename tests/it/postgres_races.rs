//! The races of `tests/it/reliability_races.rs`, on PostgreSQL: threads and separate processes,
//! each contender an engine on its own connection, one case, one database. What each race
//! checks is in `tests/it/reliability_support/races.rs`.
//!
//! Needs `PLANCK_PG_URL` and the `postgres` feature; without them each test prints a loud
//! SKIPPED line and passes. Every test works in a schema of its own, dropped afterwards.

use crate::reliability_support;

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_races_skipped() {
    reliability_support::loud(
        "SKIPPED: built without the `postgres` feature — PostgreSQL tests did not run (cargo test --features postgres)",
    );
}

#[cfg(feature = "postgres")]
mod with_postgres {
    use super::reliability_support::pg::Scratch;
    use super::reliability_support::races::{self, Mode};
    use super::reliability_support::{StoreSpec, pg_url};

    const CHILD: &str = "postgres_races::with_postgres::race_child";

    /// Not a test of its own: the body of each child process the process races start.
    #[test]
    fn race_child() {
        races::child_main();
    }

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
    fn many_operators_claim_one_job_threads() {
        let Some((_scratch, spec)) = scratch("many_operators_claim_one_job_threads", "claim_t")
        else {
            return;
        };
        races::claim_race(&spec, Mode::Threads, 12, 8, CHILD)
            .print("PostgreSQL, threads, 8 operators claim one job");
    }

    #[test]
    fn many_operators_claim_one_job_processes() {
        let Some((_scratch, spec)) = scratch("many_operators_claim_one_job_processes", "claim_p")
        else {
            return;
        };
        races::claim_race(&spec, Mode::Processes, 3, 6, CHILD)
            .print("PostgreSQL, processes, 6 operators claim one job");
    }

    #[test]
    fn owner_completes_twice_at_once_threads() {
        let Some((_scratch, spec)) = scratch("owner_completes_twice_at_once_threads", "twice_t")
        else {
            return;
        };
        races::double_complete(&spec, Mode::Threads, 10, 4, false, CHILD)
            .print("PostgreSQL, threads, owner completes 4x (no key)");
        races::double_complete(&spec, Mode::Threads, 10, 4, true, CHILD)
            .print("PostgreSQL, threads, owner completes 4x (one key)");
    }

    #[test]
    fn owner_completes_twice_at_once_processes() {
        let Some((_scratch, spec)) = scratch("owner_completes_twice_at_once_processes", "twice_p")
        else {
            return;
        };
        races::double_complete(&spec, Mode::Processes, 2, 3, false, CHILD)
            .print("PostgreSQL, processes, owner completes 3x (no key)");
        races::double_complete(&spec, Mode::Processes, 2, 3, true, CHILD)
            .print("PostgreSQL, processes, owner completes 3x (one key)");
    }

    #[test]
    fn settlement_written_while_completing_threads() {
        let Some((_scratch, spec)) =
            scratch("settlement_written_while_completing_threads", "settle_t")
        else {
            return;
        };
        races::settle_while_completing(&spec, Mode::Threads, 12, CHILD)
            .print("PostgreSQL, threads, two settlements while completing");
    }

    #[test]
    fn settlement_written_while_completing_processes() {
        let Some((_scratch, spec)) =
            scratch("settlement_written_while_completing_processes", "settle_p")
        else {
            return;
        };
        races::settle_while_completing(&spec, Mode::Processes, 3, CHILD)
            .print("PostgreSQL, processes, two settlements while completing");
    }
}

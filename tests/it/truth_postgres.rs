//! Truth against a motivated editor (issue 13) on PostgreSQL: the attacks of [`crate::truth`]
//! that apply to a [`planck::host::PostgresStore`], each performed with plain SQL on the
//! store's tables and judged by the verification `planck verify` runs
//! ([`planck::engine::verify_with`]) without a checkpoint and with one taken (and signed,
//! written out and read back) before the attack. The CLI's `verify` and `checkpoint` read
//! SQLite only, so the library is driven directly: the ten steps run on the store through
//! [`planck::scenario::run`], the checkpoint is [`planck::audit::checkpoint::take`], and each
//! verification opens the schema afresh, as a verifier's process would.
//!
//! The forgers recompute every digest exactly as the SQLite ones do
//! ([`crate::common::truth::rechain`]), and rewrite the outbox rows and idempotency receipts
//! to match; an attacker who deletes events also moves the case's version row
//! (`planck_cases.version`) back and rebuilds the index.
//!
//! | attack | detected without a checkpoint | detected with one |
//! | --- | --- | --- |
//! | delete the last event of a case, index left as it was | yes (`index_mismatch`) | yes (`stream_truncated`) |
//! | delete the last event of a case, index rebuilt | no | yes (`stream_truncated`) |
//! | delete the whole tail of a case, the sealed Record and its outbox row included, index rebuilt | no | yes (`stream_truncated`) |
//! | delete the tail but leave the Record's outbox row | yes (`outbox_mismatch`) | yes (`stream_truncated`) |
//! | delete the first event of a case | yes (`sequence_gap`) | yes (`sequence_gap`) |
//! | delete a whole case (events, case row, index row, outbox, idempotency) | no | yes (`stream_missing`) |
//! | `TRUNCATE` every table | no | yes (`stream_missing`) |
//! | edit an outbox row (payload or digest) | yes (`outbox_mismatch`) | yes (`outbox_mismatch`) |
//! | delete an outbox row | yes (`outbox_missing`) | yes (`outbox_missing`) |
//! | edit an idempotency outcome | yes (`idempotency_mismatch`) | yes (`idempotency_mismatch`) |
//! | delete an idempotency record | yes (`idempotency_missing`) | yes (`idempotency_missing`) |
//! | edit a payload, recompute every digest, outbox and receipt | no | yes (`head_mismatch`) |
//! | edit an actor, recompute every digest, outbox and receipt | no | yes (`head_mismatch`) |
//! | backdate an event, recompute every digest | yes (`time_backwards`) | yes |
//!
//! Needs `PLANCK_PG_URL` and the `postgres` feature; without either each test prints a loud
//! SKIPPED line and passes. Every test has a schema of its own, dropped afterwards.

use crate::reliability_support;

#[cfg(not(feature = "postgres"))]
#[test]
fn truth_postgres_skipped() {
    reliability_support::loud(
        "SKIPPED: built without the `postgres` feature — the PostgreSQL tamper tests did not run (cargo test --features postgres)",
    );
}

#[cfg(feature = "postgres")]
mod with_postgres {
    use std::path::Path;
    use std::sync::Arc;

    use planck::audit::StoredEvent;
    use planck::audit::checkpoint::{self, Checkpoint, VerifyingKey};
    use planck::engine::{Engine, verify_with};
    use planck::host::{Clock, ManualClock, MemoryTransport, Store, SystemClock};
    use planck::surface::registry::Registry;

    use super::reliability_support::{pg::Scratch, pg_url};
    use crate::common::truth::{
        CASE, Judged, TEN_STEPS, Verdict, assert_backdating_caught, assert_caught,
        assert_detected_both, assert_holds_both, assert_undetected_without_then_with,
        backdate_the_last_event, change_the_closer, cut_the_settlement, envelope_swap, rechain,
    };

    /// A schema holding the ten steps, the surfaces they ran with, and a checkpoint of the
    /// schema taken before any attack, with its public key.
    struct Fixture {
        scratch: Scratch,
        registry: Arc<Registry>,
        checkpoint: Checkpoint,
        public: VerifyingKey,
    }

    /// The fixture, or `None` (after a loud SKIPPED line) without `PLANCK_PG_URL`.
    fn fixture(test: &str) -> Option<Fixture> {
        let url = pg_url(test)?;
        let scratch = Scratch::new(&url, "truth");
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(TEN_STEPS);
        let (source, scenario) = planck::scenario::load(&file);
        let scenario = scenario.unwrap_or_else(|d| panic!("{d:#?}"));
        let (registry, loaded) = planck::scenario::load_surfaces(&scenario, &[]);
        assert!(loaded.is_ok(), "the scenario's surfaces load");
        let registry = Arc::new(registry);
        let engine = Engine::new(
            registry.clone(),
            &scratch.store,
            MemoryTransport::default(),
            ManualClock::new(scenario.start),
        );
        let report = planck::scenario::run(&scenario, &source.name, &engine);
        assert!(report.passed, "{}", report.to_text());
        let key = checkpoint::generate_signing_key().unwrap();
        let taken = checkpoint::take(&scratch.store, &key, SystemClock.now()).unwrap();
        // Shipped elsewhere as JSON and read back, as `planck checkpoint` and `verify` do.
        let checkpoint = Checkpoint::from_json(&taken.to_json()).unwrap();
        Some(Fixture {
            scratch,
            registry,
            checkpoint,
            public: key.verifying_key(),
        })
    }

    impl Fixture {
        /// Run `statements` on the store's tables, `{s}` standing for the schema.
        fn sql(&self, statements: &str) {
            self.client()
                .batch_execute(&statements.replace("{s}", &self.scratch.schema))
                .unwrap();
        }

        fn client(&self) -> postgres::Client {
            postgres::Client::connect(&self.scratch.url, postgres::NoTls).unwrap()
        }

        /// Rebuild the index from the (edited) events, as an attacker covering their tracks
        /// would (`planck reindex`).
        fn rebuild_index(&self) {
            Engine::new(
                self.registry.clone(),
                self.scratch.reopen(),
                MemoryTransport::default(),
                ManualClock::new(0),
            )
            .rebuild_index()
            .unwrap();
        }
    }

    impl Judged for Fixture {
        /// What `planck verify` runs, on a fresh connection to the schema: without the
        /// checkpoint, and with it once it checks against the public key.
        fn verdicts(&self) -> (Verdict, Verdict) {
            let store = self.scratch.reopen();
            let without = verify_with(&store, None, None).unwrap();
            self.checkpoint.check(&self.public).unwrap();
            let with = verify_with(&store, None, Some(&self.checkpoint)).unwrap();
            (Verdict::of(&without), Verdict::of(&with))
        }
    }

    /// The forger: load the case through the store, let `edit` change the events, recompute
    /// every digest and link ([`rechain`]) and rewrite the event rows, the outbox rows and the
    /// idempotency receipts so that they agree.
    fn forge(f: &Fixture, edit: impl FnOnce(&mut [StoredEvent])) {
        let original = f.scratch.reopen().load(CASE).unwrap();
        let events = rechain(&original, edit);
        let s = &f.scratch.schema;
        let mut client = f.client();
        let mut tx = client.transaction().unwrap();
        for (old, new) in original.iter().zip(&events) {
            if old == new {
                continue;
            }
            let rows = tx
                .execute(
                    &format!(
                        "UPDATE {s}.planck_events
                            SET payload = $1, actor = $2, ts_ms = $3, ts_utc = $4,
                                prev_digest = $5, digest = $6
                          WHERE case_id = $7 AND seq = $8"
                    ),
                    &[
                        &serde_json::to_string(&new.payload).unwrap(),
                        &serde_json::to_string(&new.actor).unwrap(),
                        &new.ts_ms,
                        &new.ts_utc,
                        &new.prev_digest,
                        &new.digest,
                        &CASE,
                        &i64::try_from(new.seq).unwrap(),
                    ],
                )
                .unwrap();
            assert_eq!(rows, 1);
            tx.execute(
                &format!("UPDATE {s}.planck_outbox SET event_digest = $1 WHERE event_id = $2"),
                &[&new.digest, &new.event_id],
            )
            .unwrap();
            let (old_json, new_json) = envelope_swap(old, new);
            tx.execute(
                &format!("UPDATE {s}.planck_idempotency SET outcome = replace(outcome, $1, $2)"),
                &[&old_json, &new_json],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    #[test]
    fn pg_the_untouched_database_holds_with_and_without_the_checkpoint() {
        let Some(f) = fixture("pg_the_untouched_database_holds_with_and_without_the_checkpoint")
        else {
            return;
        };
        assert_holds_both(&f);
    }

    #[test]
    fn pg_deleting_the_last_event_is_caught_by_the_checkpoint() {
        let Some(f) = fixture("pg_deleting_the_last_event_is_caught_by_the_checkpoint") else {
            return;
        };
        f.sql(
            "DELETE FROM {s}.planck_events WHERE case_id = 'ev-1'
                AND seq = (SELECT max(seq) FROM {s}.planck_events WHERE case_id = 'ev-1');
             UPDATE {s}.planck_cases SET version = version - 1 WHERE case_id = 'ev-1';",
        );
        // The index row still says how far the case went.
        assert_caught(&f, "index_mismatch", "stream_truncated");
        f.rebuild_index();
        assert_undetected_without_then_with(&f, "stream_truncated");
    }

    #[test]
    fn pg_deleting_the_tail_with_the_sealed_record_is_caught_by_the_checkpoint() {
        let Some(f) =
            fixture("pg_deleting_the_tail_with_the_sealed_record_is_caught_by_the_checkpoint")
        else {
            return;
        };
        // The Record is sealed at seq 10 and announced at seq 11: delete from the seal on,
        // with the Record's outbox row, so nothing inside the database points at what is gone.
        f.sql(
            "DELETE FROM {s}.planck_events WHERE case_id = 'ev-1' AND seq >= 10;
             DELETE FROM {s}.planck_outbox WHERE case_id = 'ev-1';
             UPDATE {s}.planck_cases SET version = 9 WHERE case_id = 'ev-1';",
        );
        f.rebuild_index();
        assert_undetected_without_then_with(&f, "stream_truncated");
    }

    #[test]
    fn pg_deleting_the_tail_but_not_its_outbox_row_is_caught_without_a_checkpoint() {
        let Some(f) =
            fixture("pg_deleting_the_tail_but_not_its_outbox_row_is_caught_without_a_checkpoint")
        else {
            return;
        };
        f.sql("DELETE FROM {s}.planck_events WHERE case_id = 'ev-1' AND seq >= 10");
        assert_caught(&f, "outbox_mismatch", "stream_truncated");
    }

    #[test]
    fn pg_deleting_the_first_event_is_caught_without_a_checkpoint() {
        let Some(f) = fixture("pg_deleting_the_first_event_is_caught_without_a_checkpoint") else {
            return;
        };
        f.sql("DELETE FROM {s}.planck_events WHERE case_id = 'ev-1' AND seq = 1");
        assert_detected_both(&f, "sequence_gap");
    }

    #[test]
    fn pg_deleting_a_whole_case_is_caught_by_the_checkpoint() {
        let Some(f) = fixture("pg_deleting_a_whole_case_is_caught_by_the_checkpoint") else {
            return;
        };
        f.sql(
            "DELETE FROM {s}.planck_events WHERE case_id = 'ev-1';
             DELETE FROM {s}.planck_cases WHERE case_id = 'ev-1';
             DELETE FROM {s}.planck_case_index WHERE case_id = 'ev-1';
             DELETE FROM {s}.planck_case_keys WHERE case_id = 'ev-1';
             DELETE FROM {s}.planck_outbox WHERE case_id = 'ev-1';
             DELETE FROM {s}.planck_idempotency WHERE case_id = 'ev-1';",
        );
        assert_undetected_without_then_with(&f, "stream_missing");
    }

    /// The analogue of truncating the SQLite file: every table of the store emptied, its
    /// metadata (schema version, index state) included.
    #[test]
    fn pg_truncating_every_table_is_caught_by_the_checkpoint() {
        let Some(f) = fixture("pg_truncating_every_table_is_caught_by_the_checkpoint") else {
            return;
        };
        f.sql(
            "TRUNCATE {s}.planck_events, {s}.planck_cases, {s}.planck_case_index,
                      {s}.planck_operator_index, {s}.planck_case_keys, {s}.planck_outbox,
                      {s}.planck_idempotency, {s}.planck_meta RESTART IDENTITY",
        );
        assert_undetected_without_then_with(&f, "stream_missing");
        let (_, with) = f.verdicts();
        assert_eq!(with.failures.len(), 1, "{with:?}");
    }

    #[test]
    fn pg_editing_an_outbox_row_is_caught_without_a_checkpoint() {
        let Some(f) = fixture("pg_editing_an_outbox_row_is_caught_without_a_checkpoint") else {
            return;
        };
        f.sql(
            "UPDATE {s}.planck_outbox SET payload = replace(payload, 'record_digest', 'record_digesT')",
        );
        assert_detected_both(&f, "outbox_mismatch");
        drop(f);
        let Some(f) = fixture("pg_editing_an_outbox_row_is_caught_without_a_checkpoint") else {
            return;
        };
        f.sql("UPDATE {s}.planck_outbox SET event_digest = 'ab' || substr(event_digest, 3)");
        assert_detected_both(&f, "outbox_mismatch");
    }

    #[test]
    fn pg_deleting_an_outbox_row_is_caught_without_a_checkpoint() {
        let Some(f) = fixture("pg_deleting_an_outbox_row_is_caught_without_a_checkpoint") else {
            return;
        };
        f.sql("DELETE FROM {s}.planck_outbox");
        assert_detected_both(&f, "outbox_missing");
    }

    #[test]
    fn pg_editing_an_idempotency_outcome_is_caught_without_a_checkpoint() {
        let Some(f) = fixture("pg_editing_an_idempotency_outcome_is_caught_without_a_checkpoint")
        else {
            return;
        };
        f.sql(
            "UPDATE {s}.planck_idempotency
                SET outcome = replace(outcome, 'Garden reception', 'Garden party')",
        );
        assert_detected_both(&f, "idempotency_mismatch");
        drop(f);
        let Some(f) = fixture("pg_editing_an_idempotency_outcome_is_caught_without_a_checkpoint")
        else {
            return;
        };
        f.sql(
            r#"UPDATE {s}.planck_idempotency
                  SET outcome = '{"outcome":"rejected","detail":{"code":"invalid_state","message":"no"}}'"#,
        );
        let (without, with) = f.verdicts();
        assert_eq!(without.exit, 1, "{without:?}");
        assert_eq!(with.exit, 1, "{with:?}");
    }

    #[test]
    fn pg_deleting_an_idempotency_record_is_caught_without_a_checkpoint() {
        let Some(f) = fixture("pg_deleting_an_idempotency_record_is_caught_without_a_checkpoint")
        else {
            return;
        };
        f.sql("DELETE FROM {s}.planck_idempotency");
        assert_detected_both(&f, "idempotency_missing");
    }

    #[test]
    fn pg_a_forger_who_edits_a_payload_and_recomputes_every_digest_is_caught_by_the_checkpoint() {
        let Some(f) = fixture(
            "pg_a_forger_who_edits_a_payload_and_recomputes_every_digest_is_caught_by_the_checkpoint",
        ) else {
            return;
        };
        forge(&f, cut_the_settlement);
        assert_undetected_without_then_with(&f, "head_mismatch");
    }

    #[test]
    fn pg_a_forger_who_edits_an_actor_and_recomputes_every_digest_is_caught_by_the_checkpoint() {
        let Some(f) = fixture(
            "pg_a_forger_who_edits_an_actor_and_recomputes_every_digest_is_caught_by_the_checkpoint",
        ) else {
            return;
        };
        forge(&f, change_the_closer);
        assert_undetected_without_then_with(&f, "head_mismatch");
    }

    #[test]
    fn pg_a_forger_who_backdates_an_event_is_caught_without_a_checkpoint() {
        let Some(f) = fixture("pg_a_forger_who_backdates_an_event_is_caught_without_a_checkpoint")
        else {
            return;
        };
        forge(&f, backdate_the_last_event);
        assert_backdating_caught(&f);
    }
}

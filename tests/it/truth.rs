//! Truth against a motivated editor (issue 13): one test per attack on a SQLite database
//! written by `planck run --db`, each judged by `planck verify` without a checkpoint and with
//! one taken (`planck checkpoint`) before the attack; the checkpoint's own failures (a wrong
//! key, a wrong root, another database's checkpoint); and time that never goes backwards when
//! a scenario is rerun on the same database.
//!
//! The attacker can write the database and has read the source: the forgers below recompute
//! every digest with the public canonical form and digest rule
//! ([`planck::audit::StoredEvent::compute_digest`]) and rewrite the rows beside the events
//! (outbox, idempotency receipts) to match. The index is derived data anyone can rebuild
//! (`planck reindex`): an attacker who deletes events rebuilds it too, or the index check
//! (`index_mismatch`) catches the deletion without a checkpoint.
//!
//! | attack | detected without a checkpoint | detected with one |
//! | --- | --- | --- |
//! | delete the last event of a case, index left as it was | yes (`index_mismatch`) | yes (`stream_truncated`) |
//! | delete the last event of a case, index rebuilt | no | yes (`stream_truncated`) |
//! | delete the whole tail of a case, the sealed Record and its outbox row included, index rebuilt | no | yes (`stream_truncated`) |
//! | delete the tail but leave the Record's outbox row | yes (`outbox_mismatch`) | yes (`stream_truncated`) |
//! | delete the first event of a case | yes (`sequence_gap`) | yes (`sequence_gap`) |
//! | delete a whole case (events, outbox, idempotency, index row) | no | yes (`stream_missing`) |
//! | truncate the database file to zero bytes | no | yes (`stream_missing`) |
//! | edit an outbox row (payload or digest) | yes (`outbox_mismatch`) | yes (`outbox_mismatch`) |
//! | delete an outbox row | yes (`outbox_missing`) | yes (`outbox_missing`) |
//! | edit an idempotency outcome | yes (`idempotency_mismatch`) | yes (`idempotency_mismatch`) |
//! | delete an idempotency record | yes (`idempotency_missing`) | yes (`idempotency_missing`) |
//! | edit a payload, recompute every digest, outbox and receipt | no | yes (`head_mismatch`) |
//! | edit an actor, recompute every digest, outbox and receipt | no | yes (`head_mismatch`) |
//! | backdate an event, recompute every digest | yes (`time_backwards`) | yes |
//!
//! The same attacks on PostgreSQL: [`crate::truth_postgres`]. What does not depend on the store
//! (the verdicts, the assertions, the forger's digest computation and edits) is in
//! [`crate::common::truth`].

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use planck::audit::StoredEvent;
use planck::host::{SqliteStore, Store};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

use crate::common::truth::{
    Judged, TEN_STEPS, Verdict, assert_backdating_caught, assert_caught, assert_detected_both,
    assert_holds_both, assert_undetected_without_then_with, backdate_the_last_event,
    change_the_closer, cut_the_settlement, envelope_swap, rechain,
};

fn planck() -> Command {
    let mut cmd = Command::cargo_bin("planck").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    cmd
}

/// A database with the ten steps (case `ev-1`, 15 events, one outbox row, one idempotency
/// record), a key pair and a checkpoint of the database taken before any attack.
struct Fixture {
    _dir: TempDir,
    db: PathBuf,
    key: PathBuf,
    public: PathBuf,
    checkpoint: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("planck.db");
    planck()
        .args(["run", TEN_STEPS, "--db"])
        .arg(&db)
        .assert()
        .code(0);
    let key = dir.path().join("planck.key");
    keygen(&key);
    let checkpoint = dir.path().join("cp.json");
    take_checkpoint(&db, &key, &checkpoint);
    let public = dir.path().join("planck.key.pub");
    Fixture {
        _dir: dir,
        db,
        key,
        public,
        checkpoint,
    }
}

/// `planck keygen -o <key>`: the key pair at `key` and `key.pub`.
fn keygen(key: &Path) {
    planck().arg("keygen").arg("-o").arg(key).assert().code(0);
}

/// `planck checkpoint` of `db`, signed with `key`, written to `out`.
fn take_checkpoint(db: &Path, key: &Path, out: &Path) {
    planck()
        .args(["checkpoint", "--db"])
        .arg(db)
        .arg("--key")
        .arg(key)
        .arg("-o")
        .arg(out)
        .assert()
        .code(0);
}

/// `planck verify --db <db>`, with `--checkpoint` and `--public-key` when given.
fn verify(db: &Path, checkpoint: Option<(&Path, &Path)>) -> Command {
    let mut cmd = planck();
    cmd.args(["verify", "--db"]).arg(db);
    if let Some((cp, public)) = checkpoint {
        cmd.arg("--checkpoint")
            .arg(cp)
            .arg("--public-key")
            .arg(public);
    }
    cmd
}

/// `planck verify` with a checkpoint it cannot trust: exit 1, saying the checkpoint does not
/// hold. Its stderr.
fn verify_refused(db: &Path, checkpoint: &Path, public: &Path) -> String {
    let out = verify(db, Some((checkpoint, public))).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("does not hold"), "{stderr}");
    stderr
}

impl Fixture {
    fn sql(&self, statements: &str) {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.execute_batch(statements).unwrap();
    }

    /// Rebuild the index from the (edited) events, as an attacker covering their tracks would.
    fn rebuild_index(&self) {
        planck()
            .args(["reindex", "--surfaces", "surfaces", "--db"])
            .arg(&self.db)
            .assert()
            .code(0);
    }
}

impl Judged for Fixture {
    /// `planck verify --format json`, without and with the checkpoint.
    fn verdicts(&self) -> (Verdict, Verdict) {
        (
            verdict(&self.db, None),
            verdict(&self.db, Some((&self.checkpoint, &self.public))),
        )
    }
}

fn verdict(db: &Path, checkpoint: Option<(&Path, &Path)>) -> Verdict {
    let out = verify(db, checkpoint)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let exit = out.status.code().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verify printed no JSON (exit {exit}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let failures = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["case"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Verdict { exit, failures }
}

#[test]
fn the_untouched_database_holds_with_and_without_the_checkpoint() {
    assert_holds_both(&fixture());
}

#[test]
fn deleting_the_last_event_is_caught_by_the_checkpoint() {
    let f = fixture();
    f.sql("DELETE FROM events WHERE case_id = 'ev-1' AND seq = (SELECT max(seq) FROM events WHERE case_id = 'ev-1')");
    // The index row still says how far the case went.
    assert_caught(&f, "index_mismatch", "stream_truncated");
    f.rebuild_index();
    assert_undetected_without_then_with(&f, "stream_truncated");
}

#[test]
fn deleting_the_tail_with_the_sealed_record_is_caught_by_the_checkpoint() {
    let f = fixture();
    // The Record is sealed at seq 10 and announced at seq 11: delete from the seal on, with
    // the Record's outbox row, so nothing inside the database points at what is gone.
    f.sql(
        "DELETE FROM events WHERE case_id = 'ev-1' AND seq >= 10;
         DELETE FROM outbox WHERE case_id = 'ev-1';",
    );
    f.rebuild_index();
    assert_undetected_without_then_with(&f, "stream_truncated");
}

#[test]
fn deleting_the_tail_but_not_its_outbox_row_is_caught_without_a_checkpoint() {
    let f = fixture();
    f.sql("DELETE FROM events WHERE case_id = 'ev-1' AND seq >= 10");
    assert_caught(&f, "outbox_mismatch", "stream_truncated");
}

#[test]
fn deleting_the_first_event_is_caught_without_a_checkpoint() {
    let f = fixture();
    f.sql("DELETE FROM events WHERE case_id = 'ev-1' AND seq = 1");
    assert_detected_both(&f, "sequence_gap");
}

#[test]
fn deleting_a_whole_case_is_caught_by_the_checkpoint() {
    let f = fixture();
    f.sql(
        "DELETE FROM events WHERE case_id = 'ev-1';
         DELETE FROM outbox WHERE case_id = 'ev-1';
         DELETE FROM idempotency WHERE case_id = 'ev-1';
         DELETE FROM case_index WHERE case_id = 'ev-1';",
    );
    assert_undetected_without_then_with(&f, "stream_missing");
}

#[test]
fn truncating_the_file_to_zero_bytes_is_caught_by_the_checkpoint() {
    let f = fixture();
    std::fs::write(&f.db, b"").unwrap();
    assert_undetected_without_then_with(&f, "stream_missing");
    verify(&f.db, Some((&f.checkpoint, &f.public)))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL  ev-1"))
        .stdout(predicate::str::contains(
            "1 of the 1 streams it covers do not hold",
        ));
}

#[test]
fn editing_an_outbox_row_is_caught_without_a_checkpoint() {
    let f = fixture();
    f.sql("UPDATE outbox SET payload = replace(payload, 'record_digest', 'record_digesT')");
    assert_detected_both(&f, "outbox_mismatch");
    let f = fixture();
    f.sql("UPDATE outbox SET event_digest = 'ab' || substr(event_digest, 3)");
    assert_detected_both(&f, "outbox_mismatch");
}

#[test]
fn deleting_an_outbox_row_is_caught_without_a_checkpoint() {
    let f = fixture();
    f.sql("DELETE FROM outbox");
    assert_detected_both(&f, "outbox_missing");
}

#[test]
fn editing_an_idempotency_outcome_is_caught_without_a_checkpoint() {
    let f = fixture();
    f.sql("UPDATE idempotency SET outcome = replace(outcome, 'Garden reception', 'Garden party')");
    assert_detected_both(&f, "idempotency_mismatch");
    let f = fixture();
    f.sql(r#"UPDATE idempotency SET outcome = '{"outcome":"rejected","detail":{"code":"invalid_state","message":"no"}}'"#);
    let (without, _) = f.verdicts();
    assert_eq!(without.exit, 1, "{without:?}");
}

#[test]
fn deleting_an_idempotency_record_is_caught_without_a_checkpoint() {
    let f = fixture();
    f.sql("DELETE FROM idempotency");
    assert_detected_both(&f, "idempotency_missing");
}

/// The forger: load the case through the public API, let `edit` change the events, then
/// recompute every digest and link ([`rechain`]) and rewrite the event rows, the outbox rows
/// and the idempotency receipts so that they agree.
fn forge(db: &Path, edit: impl FnOnce(&mut [StoredEvent])) {
    let original = SqliteStore::open(db).unwrap().load("ev-1").unwrap();
    let events = rechain(&original, edit);
    let conn = rusqlite::Connection::open(db).unwrap();
    for (old, new) in original.iter().zip(&events) {
        if old == new {
            continue;
        }
        conn.execute(
            "UPDATE events SET payload = ?1, actor = ?2, ts_ms = ?3, ts_utc = ?4, prev_digest = ?5, digest = ?6
              WHERE case_id = 'ev-1' AND seq = ?7",
            rusqlite::params![
                serde_json::to_string(&new.payload).unwrap(),
                serde_json::to_string(&new.actor).unwrap(),
                new.ts_ms,
                new.ts_utc,
                new.prev_digest,
                new.digest,
                i64::try_from(new.seq).unwrap(),
            ],
        )
        .unwrap();
        conn.execute(
            "UPDATE outbox SET event_digest = ?1 WHERE event_id = ?2",
            rusqlite::params![new.digest, new.event_id],
        )
        .unwrap();
        let (old_json, new_json) = envelope_swap(old, new);
        conn.execute(
            "UPDATE idempotency SET outcome = replace(outcome, ?1, ?2)",
            rusqlite::params![old_json, new_json],
        )
        .unwrap();
    }
}

#[test]
fn a_forger_who_edits_a_payload_and_recomputes_every_digest_is_caught_by_the_checkpoint() {
    let f = fixture();
    forge(&f.db, cut_the_settlement);
    assert_undetected_without_then_with(&f, "head_mismatch");
}

#[test]
fn a_forger_who_edits_an_actor_and_recomputes_every_digest_is_caught_by_the_checkpoint() {
    let f = fixture();
    forge(&f.db, change_the_closer);
    assert_undetected_without_then_with(&f, "head_mismatch");
}

#[test]
fn a_forger_who_backdates_an_event_is_caught_without_a_checkpoint() {
    let f = fixture();
    forge(&f.db, backdate_the_last_event);
    assert_backdating_caught(&f);
}

#[test]
fn verify_with_a_wrong_key_names_the_key() {
    let f = fixture();
    let other = f.key.with_file_name("other.key");
    keygen(&other);
    let mut other_pub = other.clone().into_os_string();
    other_pub.push(".pub");
    let stderr = verify_refused(&f.db, &f.checkpoint, Path::new(&other_pub));
    let cp: Value = serde_json::from_str(&std::fs::read_to_string(&f.checkpoint).unwrap()).unwrap();
    let signer = cp["key_id"].as_str().unwrap();
    assert!(
        stderr.contains(signer),
        "the message names the signing key id: {stderr}"
    );
}

#[test]
fn verify_with_a_wrong_root_fails_clearly() {
    let f = fixture();
    let text = std::fs::read_to_string(&f.checkpoint).unwrap();
    let mut cp: Value = serde_json::from_str(&text).unwrap();
    cp["root"] = Value::from("00".repeat(32));
    std::fs::write(&f.checkpoint, serde_json::to_string_pretty(&cp).unwrap()).unwrap();
    let stderr = verify_refused(&f.db, &f.checkpoint, &f.public);
    assert!(
        stderr.contains("root"),
        "the message names the root: {stderr}"
    );
}

#[test]
fn verify_with_a_checkpoint_of_another_database_names_the_streams() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let other_db = dir.path().join("other.db");
    // Whether every step of that scenario holds does not matter: it writes its cases.
    let _ = planck()
        .args(["run", "examples/scenarios/auto-detailing.toml", "--db"])
        .arg(&other_db)
        .output()
        .unwrap();
    let other_cp = dir.path().join("other.json");
    take_checkpoint(&other_db, &f.key, &other_cp);
    let v = verdict(&f.db, Some((&other_cp, &f.public)));
    assert_eq!(v.exit, 1, "{v:?}");
    assert!(
        v.failures.iter().all(|(code, _)| code == "stream_missing"),
        "{v:?}"
    );
    assert!(!v.failures.is_empty());
}

/// The user's report: a scenario rerun on the same database stored an event dated before
/// the event preceding it (the rerun's clock starts at the scenario's start again). The
/// scenario here ends with a step a month after the settlement; on the rerun the settlement
/// is accepted again at its scenario time, a month before that last step.
#[test]
fn a_scenario_rerun_on_the_same_database_never_dates_an_event_before_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(TEN_STEPS))
        .unwrap()
        .replace("surfaces = [\"../../surfaces\"]", "")
        .replace(
            "command = \"close_task\"\ncase = \"ev-1\"\n",
            "command = \"close_task\"\ncase = \"ev-1\"\nat = \"+30d\"\n",
        );
    assert!(text.contains("+30d"));
    let file = dir.path().join("rerun.toml");
    std::fs::write(&file, text).unwrap();
    let db = dir.path().join("planck.db");
    let run = || {
        planck()
            .arg("run")
            .arg(&file)
            .args(["--surfaces", "surfaces", "--db"])
            .arg(&db)
            .output()
            .unwrap()
    };
    assert_eq!(run().status.code(), Some(0));
    let before = SqliteStore::open(&db).unwrap().load("ev-1").unwrap();
    let last = before.last().unwrap().clone();
    assert_eq!(last.event_type, "task_closed");
    run();
    let after = SqliteStore::open(&db).unwrap().load("ev-1").unwrap();
    let added = &after[before.len()..];
    assert!(!added.is_empty(), "the rerun's settlement is accepted");
    for event in added {
        assert_eq!(event.ts_ms, last.ts_ms, "dated at the last event's time");
        let host = event.host_ts_ms.expect("the host's time is kept beside it");
        assert_eq!(last.ts_ms - host, 30 * 24 * 3_600_000, "a month behind");
    }
    for pair in after.windows(2) {
        assert!(pair[1].ts_ms >= pair[0].ts_ms, "{pair:#?}");
    }
    verify(&db, None)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("every case holds"));
}

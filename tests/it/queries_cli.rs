//! `planck desk`, `queue`, `list`, `explain`, `feed` and `reindex` run as a user would, on a
//! database holding cases in every state (`tests/scenarios/queries.toml`): the whole output
//! of each (exit code, stdout, stderr) as snapshots
//! (`tests/it/snapshots/it__queries_cli__*.snap`), text and `--format json`, plus the
//! assertions that pin what the snapshots only show (exit codes, the cursor walking every
//! page, `--after` continuing the feed, a database whose index needs a rebuild).

use std::path::Path;
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;
use serde_json::Value;

use crate::snapshot::{planck, settings};

const QUERIES: &str = "tests/scenarios/queries.toml";
/// A time after every step of the scenario, for the commands that judge at a time.
const AT: &str = "2026-03-03T00:00:00Z";

/// A fresh directory holding a database (`planck.db`) with the scenario's cases, and the
/// shipped surfaces beside it in `./surfaces` (the default the commands look for).
fn queries_db() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = dir.join("planck.db");
    let out = planck()
        .args(["run", QUERIES, "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let surfaces = dir.join("surfaces");
    std::fs::create_dir(&surfaces).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("surfaces");
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, surfaces.join(path.file_name().unwrap())).unwrap();
        }
    }
    tmp
}

/// `planck` run from `dir`, so the database is `planck.db` and the surfaces `./surfaces`.
fn in_dir(dir: &tempfile::TempDir) -> Command {
    let mut cmd = planck();
    cmd.current_dir(dir.path());
    cmd
}

/// `planck <sub> --db planck.db`, run from `dir`.
fn on_db(dir: &tempfile::TempDir, sub: &str) -> Command {
    let mut cmd = in_dir(dir);
    cmd.args([sub, "--db", "planck.db"]);
    cmd
}

/// `planck explain --db planck.db --at AT --as <who>`, run from `dir`.
fn explain_at(dir: &tempfile::TempDir, who: &str) -> Command {
    let mut cmd = on_db(dir, "explain");
    cmd.args(["--at", AT, "--as", who]);
    cmd
}

fn json(cmd: &mut Command) -> (Option<i32>, Value) {
    let out = cmd.output().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), value)
}

#[test]
fn desk_and_queue() {
    let dir = queries_db();
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("desk", on_db(&dir, "desk").arg("op-lee"));
        assert_cmd_snapshot!(
            "desk_json",
            on_db(&dir, "desk").args(["op-lee", "--format", "json"])
        );
        assert_cmd_snapshot!("desk_empty", on_db(&dir, "desk").arg("op-nobody"));
        assert_cmd_snapshot!("queue", on_db(&dir, "queue"));
        assert_cmd_snapshot!(
            "queue_json",
            on_db(&dir, "queue").args(["--format", "json"])
        );
    });
    let (code, desk) = json(on_db(&dir, "desk").args(["op-max", "--format", "json"]));
    assert_eq!(code, Some(0));
    assert_eq!(desk["queued"].as_array().unwrap().len(), 0, "{desk}");
    let (_, queue) = json(on_db(&dir, "queue").args(["--format", "json"]));
    let needs: Vec<&str> = queue["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["need"].as_str().unwrap())
        .collect();
    assert_eq!(needs, ["review", "assign", "hand_off"]);
}

#[test]
fn list_filters_and_pages() {
    let dir = queries_db();
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("list", on_db(&dir, "list"));
        assert_cmd_snapshot!("list_page", on_db(&dir, "list").args(["--limit", "3"]));
        assert_cmd_snapshot!(
            "list_filtered",
            on_db(&dir, "list").args(["--surface", "event-coordination", "--owner", "op-lee"])
        );
        assert_cmd_snapshot!(
            "list_json",
            on_db(&dir, "list").args(["--job", "claimed", "--format", "json"])
        );
        assert_cmd_snapshot!(
            "list_none",
            on_db(&dir, "list").args(["--phase", "in_progress"])
        );
        assert_cmd_snapshot!(
            "list_bad_cursor",
            on_db(&dir, "list").args(["--after", "zz"])
        );
        assert_cmd_snapshot!("list_bad_job", on_db(&dir, "list").args(["--job", "done"]));
    });
    // Walking the pages two at a time sees every case once, newest activity first.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut cmd = on_db(&dir, "list");
        cmd.args(["--limit", "2", "--format", "json"]);
        if let Some(cursor) = &after {
            cmd.args(["--after", cursor]);
        }
        let (code, page) = json(&mut cmd);
        assert_eq!(code, Some(0));
        for case in page["cases"].as_array().unwrap() {
            seen.push(case["case"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["q-7", "q-6", "q-5", "q-4", "q-3", "q-2", "q-1"]);
    // The job filter: `none` is the cases without a Job.
    let (_, none) = json(on_db(&dir, "list").args(["--job", "none", "--format", "json"]));
    assert_eq!(none["cases"].as_array().unwrap().len(), 3, "{none}");
}

#[test]
fn explain_shows_every_check() {
    let dir = queries_db();
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "explain_refused",
            explain_at(&dir, "op-max:operator").args(["q-4", "claim_job"])
        );
        assert_cmd_snapshot!(
            "explain_several_failures",
            explain_at(&dir, "client-ava:client").args(["q-6", "complete_service_event"])
        );
        assert_cmd_snapshot!(
            "explain_applied",
            explain_at(&dir, "op-lee:operator").args([
                "q-5",
                "advance",
                "--args",
                r#"{"to": "in_progress"}"#,
            ])
        );
        assert_cmd_snapshot!(
            "explain_json",
            explain_at(&dir, "op-lee:operator").args([
                "q-6",
                "complete_service_event",
                "--format",
                "json",
            ])
        );
        assert_cmd_snapshot!(
            "explain_unknown_case",
            explain_at(&dir, "admin-kim:admin").args(["q-404", "approve_task"])
        );
        assert_cmd_snapshot!(
            "explain_bad_principal",
            on_db(&dir, "explain").args(["--as", "op-lee", "q-5", "claim_job"])
        );
        assert_cmd_snapshot!(
            "explain_bad_command",
            on_db(&dir, "explain").args(["--as", "op-lee:operator", "q-5", "fly"])
        );
    });
    // Explaining writes nothing.
    let (_, before) = json(on_db(&dir, "feed").args(["--limit", "1000", "--format", "json"]));
    let status = on_db(&dir, "explain")
        .args(["--as", "op-lee:operator", "q-4", "claim_job"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let (_, after) = json(on_db(&dir, "feed").args(["--limit", "1000", "--format", "json"]));
    assert_eq!(before, after);
}

#[test]
fn feed_in_commit_order() {
    let dir = queries_db();
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("feed_first", on_db(&dir, "feed").args(["--limit", "5"]));
        assert_cmd_snapshot!("feed_rest", on_db(&dir, "feed").args(["--after", "25"]));
        assert_cmd_snapshot!(
            "feed_json",
            on_db(&dir, "feed").args(["--after", "28", "--limit", "1", "--format", "json"])
        );
        assert_cmd_snapshot!("feed_bad_limit", on_db(&dir, "feed").args(["--limit", "0"]));
    });
    // Pages of 4 cover positions 1..=n exactly once, in order.
    let mut positions = Vec::new();
    let mut after = 0;
    loop {
        let (code, page) = json(on_db(&dir, "feed").args([
            "--limit",
            "4",
            "--format",
            "json",
            "--after",
            &after.to_string(),
        ]));
        assert_eq!(code, Some(0));
        let events = page["events"].as_array().unwrap();
        positions.extend(events.iter().map(|e| e["position"].as_u64().unwrap()));
        after = page["last"].as_u64().unwrap();
        if !page["more"].as_bool().unwrap() {
            break;
        }
    }
    let n = u64::try_from(positions.len()).unwrap();
    assert_eq!(positions, (1..=n).collect::<Vec<_>>());
}

#[test]
fn reindex_after_an_old_database() {
    let dir = queries_db();
    // What a database from before the index looks like to the commands: its index needs a
    // rebuild, so the queries refuse rather than answer from an empty index.
    let conn = rusqlite::Connection::open(dir.path().join("planck.db")).unwrap();
    conn.execute_batch(
        "DELETE FROM case_index; UPDATE planck_meta SET value = 'needs_rebuild' WHERE key = 'index_state';",
    )
    .unwrap();
    drop(conn);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("desk_needs_rebuild", on_db(&dir, "desk").arg("op-lee"));
        assert_cmd_snapshot!("verify_needs_rebuild", on_db(&dir, "verify"));
        assert_cmd_snapshot!(
            "reindex",
            on_db(&dir, "reindex").args(["--surfaces", "surfaces"])
        );
        assert_cmd_snapshot!(
            "verify_after_reindex",
            on_db(&dir, "verify").args(["--surfaces", "surfaces"])
        );
        assert_cmd_snapshot!(
            "reindex_without_a_surface",
            on_db(&dir, "reindex").args(["--surfaces", "surfaces/event-coordination.toml"])
        );
        assert_cmd_snapshot!(
            "queue_no_database",
            in_dir(&dir).args(["queue", "--db", "missing.db"])
        );
    });
}

#[test]
fn help() {
    settings(None).bind(|| {
        for sub in ["desk", "queue", "list", "explain", "feed", "reindex"] {
            assert_cmd_snapshot!(format!("help_{sub}"), planck().args([sub, "--help"]));
        }
    });
}

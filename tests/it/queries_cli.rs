//! `planck desk`, `queue`, `list`, `explain`, `feed` and `reindex` run as a user would, on a
//! database holding cases in every state (`tests/scenarios/queries.toml`): the whole output
//! of each (exit code, stdout, stderr) as snapshots
//! (`tests/it/snapshots/it__queries_cli__*.snap`), text and `--format json`, plus the
//! assertions that pin what the snapshots only show (exit codes, the cursor walking every
//! page, `--after` continuing the feed, a database whose index needs a rebuild).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside `#[test]` functions: a failed expectation is a failed test"
)]

use std::path::Path;
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;
use serde_json::Value;

use crate::snapshot::{planck, settings};

const QUERIES: &str = "tests/scenarios/queries.toml";
/// A time after every step of the scenario, for the commands that judge at a time.
const AT: &str = "2026-03-03T00:00:00Z";

/// A database in `dir` (`planck.db`) holding the scenario's cases, with the shipped surfaces
/// beside it in `./surfaces` (the default the commands look for).
fn queries_db(dir: &Path) {
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
}

/// `planck` run from `dir`, so the database is `planck.db` and the surfaces `./surfaces`.
fn in_dir(dir: &tempfile::TempDir) -> Command {
    let mut cmd = planck();
    cmd.current_dir(dir.path());
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
    let dir = tempfile::tempdir().unwrap();
    queries_db(dir.path());
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "desk",
            in_dir(&dir).args(["desk", "--db", "planck.db", "op-lee"])
        );
        assert_cmd_snapshot!(
            "desk_json",
            in_dir(&dir).args(["desk", "--db", "planck.db", "op-lee", "--format", "json"])
        );
        assert_cmd_snapshot!(
            "desk_empty",
            in_dir(&dir).args(["desk", "--db", "planck.db", "op-nobody"])
        );
        assert_cmd_snapshot!("queue", in_dir(&dir).args(["queue", "--db", "planck.db"]));
        assert_cmd_snapshot!(
            "queue_json",
            in_dir(&dir).args(["queue", "--db", "planck.db", "--format", "json"])
        );
    });
    let (code, desk) = json(
        in_dir(&dir)
            .args(["desk", "--db", "planck.db", "op-max"])
            .args(["--format", "json"]),
    );
    assert_eq!(code, Some(0));
    assert_eq!(desk["queued"].as_array().unwrap().len(), 0, "{desk}");
    let (_, queue) = json(in_dir(&dir).args(["queue", "--db", "planck.db", "--format", "json"]));
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
    let dir = tempfile::tempdir().unwrap();
    queries_db(dir.path());
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("list", in_dir(&dir).args(["list", "--db", "planck.db"]));
        assert_cmd_snapshot!(
            "list_page",
            in_dir(&dir).args(["list", "--db", "planck.db", "--limit", "3"])
        );
        assert_cmd_snapshot!(
            "list_filtered",
            in_dir(&dir).args([
                "list",
                "--db",
                "planck.db",
                "--surface",
                "event-coordination",
                "--owner",
                "op-lee",
            ])
        );
        assert_cmd_snapshot!(
            "list_json",
            in_dir(&dir).args([
                "list",
                "--db",
                "planck.db",
                "--job",
                "claimed",
                "--format",
                "json"
            ])
        );
        assert_cmd_snapshot!(
            "list_none",
            in_dir(&dir).args(["list", "--db", "planck.db", "--phase", "in_progress"])
        );
        assert_cmd_snapshot!(
            "list_bad_cursor",
            in_dir(&dir).args(["list", "--db", "planck.db", "--after", "zz"])
        );
        assert_cmd_snapshot!(
            "list_bad_job",
            in_dir(&dir).args(["list", "--db", "planck.db", "--job", "done"])
        );
    });
    // Walking the pages two at a time sees every case once, newest activity first.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut cmd = in_dir(&dir);
        cmd.args([
            "list",
            "--db",
            "planck.db",
            "--limit",
            "2",
            "--format",
            "json",
        ]);
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
    let (_, none) = json(in_dir(&dir).args([
        "list",
        "--db",
        "planck.db",
        "--job",
        "none",
        "--format",
        "json",
    ]));
    assert_eq!(none["cases"].as_array().unwrap().len(), 3, "{none}");
}

#[test]
fn explain_shows_every_check() {
    let dir = tempfile::tempdir().unwrap();
    queries_db(dir.path());
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "explain_refused",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--at",
                AT,
                "--as",
                "op-max:operator",
                "q-4",
                "claim_job",
            ])
        );
        assert_cmd_snapshot!(
            "explain_several_failures",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--at",
                AT,
                "--as",
                "client-ava:client",
                "q-6",
                "complete_service_event",
            ])
        );
        assert_cmd_snapshot!(
            "explain_applied",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--at",
                AT,
                "--as",
                "op-lee:operator",
                "q-5",
                "advance",
                "--args",
                r#"{"to": "in_progress"}"#,
            ])
        );
        assert_cmd_snapshot!(
            "explain_json",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--at",
                AT,
                "--as",
                "op-lee:operator",
                "q-6",
                "complete_service_event",
                "--format",
                "json",
            ])
        );
        assert_cmd_snapshot!(
            "explain_unknown_case",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--at",
                AT,
                "--as",
                "admin-kim:admin",
                "q-404",
                "approve_task",
            ])
        );
        assert_cmd_snapshot!(
            "explain_bad_principal",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--as",
                "op-lee",
                "q-5",
                "claim_job"
            ])
        );
        assert_cmd_snapshot!(
            "explain_bad_command",
            in_dir(&dir).args([
                "explain",
                "--db",
                "planck.db",
                "--as",
                "op-lee:operator",
                "q-5",
                "fly",
            ])
        );
    });
    // Explaining writes nothing.
    let (_, before) = json(in_dir(&dir).args([
        "feed",
        "--db",
        "planck.db",
        "--limit",
        "1000",
        "--format",
        "json",
    ]));
    let status = in_dir(&dir)
        .args([
            "explain",
            "--db",
            "planck.db",
            "--as",
            "op-lee:operator",
            "q-4",
            "claim_job",
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let (_, after) = json(in_dir(&dir).args([
        "feed",
        "--db",
        "planck.db",
        "--limit",
        "1000",
        "--format",
        "json",
    ]));
    assert_eq!(before, after);
}

#[test]
fn feed_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    queries_db(dir.path());
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "feed_first",
            in_dir(&dir).args(["feed", "--db", "planck.db", "--limit", "5"])
        );
        assert_cmd_snapshot!(
            "feed_rest",
            in_dir(&dir).args(["feed", "--db", "planck.db", "--after", "25"])
        );
        assert_cmd_snapshot!(
            "feed_json",
            in_dir(&dir).args([
                "feed",
                "--db",
                "planck.db",
                "--after",
                "28",
                "--limit",
                "1",
                "--format",
                "json"
            ])
        );
        assert_cmd_snapshot!(
            "feed_bad_limit",
            in_dir(&dir).args(["feed", "--db", "planck.db", "--limit", "0"])
        );
    });
    // Pages of 4 cover positions 1..=n exactly once, in order.
    let mut positions = Vec::new();
    let mut after = 0;
    loop {
        let (code, page) = json(in_dir(&dir).args([
            "feed",
            "--db",
            "planck.db",
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
    let dir = tempfile::tempdir().unwrap();
    queries_db(dir.path());
    // What a database from before the index looks like to the commands: its index needs a
    // rebuild, so the queries refuse rather than answer from an empty index.
    let conn = rusqlite::Connection::open(dir.path().join("planck.db")).unwrap();
    conn.execute_batch(
        "DELETE FROM case_index; UPDATE planck_meta SET value = 'needs_rebuild' WHERE key = 'index_state';",
    )
    .unwrap();
    drop(conn);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "desk_needs_rebuild",
            in_dir(&dir).args(["desk", "--db", "planck.db", "op-lee"])
        );
        assert_cmd_snapshot!(
            "verify_needs_rebuild",
            in_dir(&dir).args(["verify", "--db", "planck.db"])
        );
        assert_cmd_snapshot!(
            "reindex",
            in_dir(&dir).args(["reindex", "--db", "planck.db", "--surfaces", "surfaces"])
        );
        assert_cmd_snapshot!(
            "verify_after_reindex",
            in_dir(&dir).args(["verify", "--db", "planck.db", "--surfaces", "surfaces"])
        );
        assert_cmd_snapshot!(
            "reindex_without_a_surface",
            in_dir(&dir).args([
                "reindex",
                "--db",
                "planck.db",
                "--surfaces",
                "surfaces/event-coordination.toml",
            ])
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

//! The whole output (exit code, stdout, stderr) of the commands `cli.rs` runs, as snapshots
//! (`tests/it/snapshots/it__cli__snapshots__*.snap`). Files written by a test are run from
//! their temporary directory by a relative name, so the recorded arguments stay the same.

use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

use super::BROKEN;
use crate::snapshot::{planck, settings};

fn in_dir(dir: &tempfile::TempDir) -> Command {
    let mut cmd = planck();
    cmd.current_dir(dir.path());
    cmd
}

#[test]
fn check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.surface"), BROKEN).unwrap();
    let syntax = BROKEN.replace("a -> b", "a => b");
    std::fs::write(dir.path().join("syntax.surface"), syntax).unwrap();
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!("check_shipped", planck().args(["check", "surfaces/"]));
        assert_cmd_snapshot!(
            "check_broken",
            in_dir(&dir).args(["check", "broken.surface"])
        );
        assert_cmd_snapshot!(
            "check_broken_json",
            in_dir(&dir).args(["check", "--format", "json", "broken.surface"])
        );
        assert_cmd_snapshot!(
            "check_syntax",
            in_dir(&dir).args(["check", "syntax.surface"])
        );
        assert_cmd_snapshot!(
            "check_missing",
            planck().args(["check", "no/such/dir/", "surfaces/"])
        );
        assert_cmd_snapshot!(
            "check_missing_json",
            planck().args(["check", "--format", "json", "missing.toml"])
        );
        assert_cmd_snapshot!(
            "inspect_invalid",
            in_dir(&dir).args(["inspect", "broken.surface"])
        );
    });
}

#[test]
fn inspect_graph_convert() {
    settings(None).bind(|| {
        assert_cmd_snapshot!(
            "inspect",
            planck().args(["inspect", "surfaces/event-coordination.toml"])
        );
        assert_cmd_snapshot!(
            "inspect_json",
            planck().args([
                "inspect",
                "--format",
                "json",
                "surfaces/auto-detailing.surface"
            ])
        );
        assert_cmd_snapshot!(
            "graph_mermaid",
            planck().args(["graph", "surfaces/auto-detailing.toml"])
        );
        assert_cmd_snapshot!(
            "graph_dot",
            planck().args([
                "graph",
                "--format",
                "dot",
                "surfaces/event-coordination.surface"
            ])
        );
        assert_cmd_snapshot!(
            "convert_to_dsl",
            planck().args(["convert", "surfaces/event-coordination.toml", "--to", "dsl"])
        );
        assert_cmd_snapshot!(
            "convert_to_toml",
            planck().args(["convert", "surfaces/auto-detailing.surface", "--to", "toml"])
        );
    });
}

#[test]
fn help() {
    settings(None).bind(|| {
        assert_cmd_snapshot!("help", planck().arg("--help"));
        for sub in ["check", "inspect", "graph", "convert"] {
            assert_cmd_snapshot!(format!("help_{sub}"), planck().args([sub, "--help"]));
        }
    });
}

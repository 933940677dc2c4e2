//! The `shakedown` command as a user runs it: exit codes, messages, and the report it writes.

use std::process::{Command, Output};

fn shakedown(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .args(args)
        .env_remove("SHAKEDOWN_SEED")
        .output()
        .expect("run shakedown")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_names_every_suite() {
    let o = shakedown(&["list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for suite in ["replica_lag", "clock_skew", "timezone"] {
        assert!(out.contains(suite), "{suite} missing from:\n{out}");
    }
}

#[test]
fn an_unknown_suite_is_a_one_line_error_naming_the_known_ones() {
    let o = shakedown(&["run", "replica_lga"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("unknown suite `replica_lga`") && e.contains("known suites: replica_lag"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
}

#[test]
fn bad_variant_and_bad_seed_are_usage_errors() {
    for args in [
        &["run", "--variant", "sloppy"][..],
        &["run", "--seed", "-3"],
        &["run", "--seed", "twelve"],
        &["images", "rebuild"],
    ] {
        let o = shakedown(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error:"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn an_unreachable_docker_engine_says_how_to_fix_it() {
    let o = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .args(["images", "status"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run shakedown");
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("cannot reach the Docker engine") && e.contains("DOCKER_HOST"),
        "{e}"
    );
}

#[test]
fn an_unknown_reference_service_is_refused() {
    let o = shakedown(&["reference", "ledger"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown reference service `ledger`"));
}

#[test]
fn run_writes_the_report_and_exits_zero_when_verdicts_are_as_expected() {
    let out = std::env::temp_dir().join(format!("shakedown-cli-report-{}", std::process::id()));
    let o = shakedown(&[
        "run",
        "replica_lag",
        "--variant",
        "hardened",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{stdout}\n{}", stderr(&o));
    assert!(stdout.contains("every verdict as expected"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("replica_lag/hardened/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["seed"], 3);
    assert!(out.join("replica_lag/hardened/history.json").is_file());
    assert!(std::fs::read_to_string(out.join("index.html"))
        .unwrap()
        .contains("replica_lag"));
    assert!(std::fs::read_to_string(out.join("junit.xml"))
        .unwrap()
        .contains("failures=\"0\""));
    let _ = std::fs::remove_dir_all(&out);
}

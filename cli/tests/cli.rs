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
    for suite in [
        "replica_lag",
        "clock_skew",
        "timezone",
        "inconsistent_reads",
        "shared_database",
        "circuit_breaker",
        "dead_letters",
        "event_ordering",
    ] {
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
fn images_list_prints_one_tagged_reference_a_line_without_an_engine() {
    let o = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .args(["images", "list"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run shakedown");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 4, "{out}");
    for role in ["runtime", "postgres", "broker", "haproxy"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("shakedown/{role}:"))),
            "{role} missing from:\n{out}"
        );
    }
    // The tag carries the recipe hash, so the list is a cache key: `<repo>:<what>-<hash>`.
    assert!(
        lines
            .iter()
            .all(|l| l.rsplit_once('-').is_some_and(|(_, h)| h.len() >= 8)),
        "{out}"
    );
}

#[test]
fn zero_or_garbage_jobs_are_usage_errors_that_say_what_to_give() {
    for (jobs, says) in [
        ("0", "would run nothing"),
        ("two", "whole number from 1 to 64"),
        ("-2", "whole number from 1 to 64"),
        ("1000", "more than the 64 allowed"),
    ] {
        let o = shakedown(&["run", "replica_lag", &format!("--jobs={jobs}")]);
        assert_eq!(o.status.code(), Some(2), "--jobs {jobs}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("error:") && e.contains(says),
            "--jobs {jobs}: {e}"
        );
        assert!(!e.contains("panicked"), "--jobs {jobs}: {e}");
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn shakedown_proxy_serves_the_toxiproxy_api_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let config = std::env::temp_dir().join(format!(
        "shakedown-proxy-config-{}.json",
        std::process::id()
    ));
    let upstream = free_port();
    std::fs::write(
        &config,
        format!(r#"[{{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:{upstream}"}}]"#),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .args([
            "proxy",
            "--port",
            &port.to_string(),
            "--seed",
            "5",
            "--config",
            config.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start shakedown proxy");
    let http = reqwest::blocking::Client::new();
    let mut version = None;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/version")).send() {
            version = Some(r.text().unwrap());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let proxies: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/proxies"))
        .send()
        .and_then(|r| r.json())
        .expect("GET /proxies");
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().expect("wait for the proxy");
    let _ = std::fs::remove_file(&config);
    assert!(
        version.is_some_and(|v| v.contains('2')),
        "GET /version never answered"
    );
    assert_eq!(
        proxies["db"]["upstream"],
        format!("127.0.0.1:{upstream}"),
        "{proxies}"
    );
    assert!(
        status.success(),
        "SIGTERM must stop it cleanly, got {status}"
    );
}

#[test]
fn shakedown_proxy_explains_a_taken_port_and_a_bad_config() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = shakedown(&["proxy", "--port", &port]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&port), "{}", stderr(&o));

    let bad = std::env::temp_dir().join(format!("shakedown-proxy-bad-{}.json", std::process::id()));
    std::fs::write(&bad, "{ not json").unwrap();
    let free = free_port().to_string();
    let o = shakedown(&["proxy", "--port", &free, "--config", bad.to_str().unwrap()]);
    let _ = std::fs::remove_file(&bad);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(bad.file_name().unwrap().to_str().unwrap()),
        "{}",
        stderr(&o)
    );
}

/// A run to write by hand: its variant, how many stale reads it found, why it could not finish.
type HandRun<'a> = (shakedown::Variant, u64, Option<&'a str>);

fn run_folder(name: &str, runs: &[HandRun<'_>]) -> std::path::PathBuf {
    use shakedown::checker::CheckResult;
    use shakedown::report::{write_run, Report, RunArtifacts, WorkloadSummary};
    let dir = std::env::temp_dir().join(format!("shakedown-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let arts: Vec<RunArtifacts> = runs
        .iter()
        .enumerate()
        .map(|(i, (variant, stale, error))| {
            let check = CheckResult::builder("read_your_writes")
                .anomaly("stale_read_after_own_write", *stale)
                .counted("reads_checked", 48)
                .build();
            RunArtifacts {
                suite: format!("suite{i}"),
                variant: variant.to_string(),
                report: error.is_none().then(|| {
                    Report::new(
                        "s",
                        *variant,
                        1,
                        vec![],
                        WorkloadSummary::default(),
                        vec![check],
                    )
                }),
                history: Some(serde_json::json!({"ops": [], "timeline": []})),
                expected: variant.expected(),
                error: error.map(str::to_string),
                duration: Some(std::time::Duration::from_millis(2500)),
            }
        })
        .collect();
    write_run(&dir, &arts).unwrap();
    std::fs::remove_file(dir.join("index.html")).unwrap();
    dir
}

#[test]
fn report_re_renders_a_run_folder_and_exits_as_the_run_did() {
    use shakedown::Variant::{Hardened, Naive};
    let cases: [(&str, &[HandRun<'_>], i32, &str); 3] = [
        (
            "expected",
            &[(Naive, 12, None), (Hardened, 0, None)],
            0,
            "every verdict as expected",
        ),
        (
            "unexpected",
            &[(Naive, 0, None), (Hardened, 0, None)],
            1,
            "1 of 2 run(s) did not get the expected verdict",
        ),
        (
            "error",
            &[(Naive, 12, None), (Hardened, 0, Some("docker went away"))],
            2,
            "1 of 2 run(s) could not finish",
        ),
    ];
    for (name, runs, code, says) in cases {
        let dir = run_folder(name, runs);
        let o = shakedown(&["report", dir.to_str().unwrap()]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(code), "{name}: {out}{}", stderr(&o));
        assert!(out.contains(says), "{name}: {out}");
        assert!(
            dir.join("index.html").is_file(),
            "{name}: index re-rendered"
        );
        assert!(dir.join("junit.xml").is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_summary_names_outcomes_in_words_not_debug_forms() {
    use shakedown::Variant::{Hardened, Naive};
    let dir = run_folder(
        "words",
        &[(Naive, 12, None), (Naive, 0, None), (Hardened, 3, None)],
    );
    let o = shakedown(&["report", dir.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    let row = |suite: &str| {
        out.lines()
            .find(|l| l.starts_with(suite))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row("suite0").contains("caught") && !row("suite0").contains("NOT"),
        "{out}"
    );
    assert!(row("suite1").contains("NOT caught"), "{out}");
    assert!(row("suite2").contains("NOT handled"), "{out}");
    assert!(!out.contains("Some(") && !out.contains("Invalid"), "{out}");
}

#[test]
fn report_of_a_folder_that_is_not_a_run_says_what_to_give_it() {
    let empty = std::env::temp_dir().join(format!("shakedown-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    for (arg, says) in [
        (empty.to_str().unwrap(), "no run in it"),
        ("/nonexistent/shakedown-report", "is not a folder"),
    ] {
        let o = shakedown(&["report", arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}");
        assert!(
            stderr(&o).contains(says) && stderr(&o).contains("shakedown run"),
            "{}",
            stderr(&o)
        );
    }
    let _ = std::fs::remove_dir(&empty);
}

#[test]
fn every_subcommand_has_help_with_an_example_and_the_exit_codes_are_documented() {
    let top = shakedown(&["--help"]);
    let text = String::from_utf8_lossy(&top.stdout).into_owned();
    assert!(
        text.contains("Exit codes: 0") && text.contains("130") && text.contains("RUST_LOG"),
        "{text}"
    );
    for sub in [
        &["run"][..],
        &["report"],
        &["list"],
        &["images"],
        &["images", "build"],
        &["images", "status"],
        &["images", "list"],
        &["clean"],
        &["proxy"],
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        let o = shakedown(&args);
        let help = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{sub:?}");
        assert!(
            help.contains("Example") && help.contains("shakedown "),
            "{sub:?} has no example:\n{help}"
        );
    }
}

//! The `shakedown` command as a user runs it, where it starts containers: a real run writes its
//! report; an environment failure mid-run exits 2 and is an error in the report; Ctrl-C mid-run
//! leaves nothing behind, also with several runs in progress at once (`--jobs`).

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
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("failures=\"0\"") && junit.contains("errors=\"0\""),
        "{junit}"
    );
    assert!(
        junit.contains("classname=\"shakedown.replica_lag\""),
        "{junit}"
    );
    // The run's page draws its timeline from the history: lanes, bars, and each fault window
    // shaded in the timeline and both charts.
    let history: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("replica_lag/hardened/history.json")).unwrap(),
    )
    .unwrap();
    let injected = history["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "inject")
        .count();
    assert!(injected > 0, "{history}");
    let page = std::fs::read_to_string(out.join("replica_lag/hardened/index.html")).unwrap();
    assert!(page.contains("<g class=\"lane\""), "no lanes");
    assert!(page.contains("class=\"op op-ok\""), "no bars");
    assert_eq!(
        page.matches("<rect class=\"fault\"").count(),
        injected * 3,
        "fault windows"
    );
    let elle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("replica_lag/hardened/elle.json")).unwrap())
            .unwrap();
    assert_eq!(elle[0]["type"], "invoke", "{}", elle[0]);
    // The summary is in words, and the output has no Debug forms.
    assert!(stdout.contains("handled"), "{stdout}");
    assert!(!stdout.contains("Some("), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The containers and networks this owner's runs have labelled.
fn labelled_by(owner: &str) -> (Vec<String>, usize) {
    let filter = format!("label={}={owner}", shakedown::docker::OWNER_LABEL);
    let ids = |args: &[&str]| -> Vec<String> {
        let out = Command::new("docker")
            .args(args)
            .args(["--filter", &filter, "-q"])
            .output()
            .expect("docker");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    (ids(&["ps", "-a"]), ids(&["network", "ls"]).len())
}

/// The distinct runs (values of the run label) of this owner's containers.
fn runs_of(owner: &str) -> usize {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter"])
        .arg(format!("label={}={owner}", shakedown::docker::OWNER_LABEL))
        .args(["--format"])
        .arg(format!(
            "{{{{.Label \"{}\"}}}}",
            shakedown::docker::RUN_LABEL
        ))
        .output()
        .expect("docker");
    let mut runs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    runs.sort();
    runs.dedup();
    runs.len()
}

type StderrLines = std::io::Lines<std::io::BufReader<std::process::ChildStderr>>;

/// Starts `shakedown run replica_lag --variant naive --out OUT` with its output piped; gives the
/// child, its owner token and its stderr lines, read up to the first line containing `until`.
fn start_naive_run(
    out: &std::path::Path,
    until: &str,
) -> (std::process::Child, String, StderrLines) {
    start_run(&["replica_lag", "--variant", "naive"], out, until, 1)
}

/// Starts `shakedown run ARGS --out OUT` with its output piped; gives the child, its owner token
/// and its stderr lines, read up to the `times`-th line containing `until`.
fn start_run(
    args: &[&str],
    out: &std::path::Path,
    until: &str,
    times: usize,
) -> (std::process::Child, String, StderrLines) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start shakedown run");
    let owner = shakedown::docker::owner_token_of(child.id()).expect("the child is running");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = 0;
    for line in lines.by_ref() {
        if line.expect("stderr").contains(until) {
            seen += 1;
            if seen == times {
                break;
            }
        }
    }
    (child, owner, lines)
}

#[test]
fn an_environment_failure_mid_run_exits_two_and_is_an_error_in_the_report() {
    let out = std::env::temp_dir().join(format!("shakedown-midrun-{}", std::process::id()));
    // Once the workload runs, the cluster goes away under it, as when a CI runner's engine
    // loses the containers: the run cannot finish, which is not a verdict.
    let (mut child, owner, lines) = start_naive_run(&out, "running the workload");
    let (containers, _) = labelled_by(&owner);
    assert!(!containers.is_empty(), "the run has no containers");
    let removed = Command::new("docker")
        .args(["rm", "-f"])
        .args(&containers)
        .output()
        .expect("docker rm");
    assert!(removed.status.success(), "{}", stderr(&removed));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(2), "{stdout}\n{rest:?}");
    assert!(stdout.contains("could not finish"), "{stdout}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("errors=\"1\"") && junit.contains("failures=\"0\""),
        "{junit}"
    );
    assert_eq!(
        labelled_by(&owner),
        (vec![], 0),
        "the run left resources: {stdout}\n{rest:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Sends SIGINT to the run and checks it stops as interrupted (exit 130, "interrupted" said);
/// returns the rest of its stderr.
fn interrupt(
    child: &mut std::process::Child,
    lines: impl Iterator<Item = std::io::Result<String>>,
) -> Vec<String> {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:?}");
    rest
}

#[test]
fn ctrl_c_mid_run_removes_every_container_of_the_run() {
    let out = std::env::temp_dir().join(format!("shakedown-ctrlc-{}", std::process::id()));
    // Interrupt once the cluster is being started: containers exist then.
    let (mut child, owner, lines) = start_naive_run(&out, "starting PostgreSQL");
    let labelled = || {
        let (containers, networks) = labelled_by(&owner);
        containers.len() + networks
    };
    let mut seen = 0;
    for _ in 0..100 {
        seen = labelled();
        if seen > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(seen > 0, "the run never started a container");
    interrupt(&mut child, lines);
    assert_eq!(
        labelled(),
        0,
        "containers or networks of the interrupted run are still there"
    );
}

#[test]
fn ctrl_c_with_two_runs_in_progress_removes_the_containers_of_both() {
    let out = std::env::temp_dir().join(format!("shakedown-ctrlc-jobs-{}", std::process::id()));
    // Both variants of one suite at once; interrupt once each has started its cluster.
    let (mut child, owner, lines) = start_run(
        &["replica_lag", "--jobs", "2"],
        &out,
        "starting PostgreSQL",
        2,
    );
    let mut runs = 0;
    for _ in 0..200 {
        runs = runs_of(&owner);
        if runs >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(runs, 2, "two runs did not both start containers");
    let rest = interrupt(&mut child, lines);
    assert_eq!(
        labelled_by(&owner),
        (vec![], 0),
        "containers or networks of the interrupted runs are still there: {rest:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

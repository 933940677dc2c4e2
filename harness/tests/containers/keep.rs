//! Failures that explain themselves: a node that never became ready reports the end of its log
//! and its exit code; `SHAKEDOWN_KEEP=on-failure` keeps a panicking test's containers, and the
//! sweep `shakedown clean` runs removes them.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use shakedown::docker::{self, SweepContext, SweepScope};
use shakedown::image::{ensure, BuildPolicy, RUNTIME};
use shakedown::topology::KeepPolicy;
use shakedown::{Error, NodeSpec, Probe, Stream, Topology};

use crate::support::{leftovers, RunGuard};

const KEEP_PROBE_ENV: &str = "SHAKEDOWN_TEST_KEEP_PROBE";

/// A node that prints 30 numbered lines and an error, then exits 3, never listening on 8080.
/// The error waits half a second: stdout and stderr are separate pipes, and without the pause
/// the engine may log the error before the numbered lines (seen under load).
fn crashing(name: &str) -> NodeSpec {
    NodeSpec::new(name, RUNTIME.reference())
        .cmd([
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo line-$i; done; sleep 0.5; echo 'fatal: no database' >&2; exit 3",
        ])
        .port(8080)
        .probe(Probe::Tcp(8080))
        .startup_timeout(Duration::from_secs(120))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_process_exits_reports_its_last_log_lines_and_exit_code_at_once(
) -> anyhow::Result<()> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    let topology = Topology::start_keeping(KeepPolicy::Never).await?;
    let run = topology.run_id().to_string();
    let began = Instant::now();
    let err = topology.start_node(crashing("api")).await.unwrap_err();
    // It stops waiting when the process exits, not after the 120 s startup timeout.
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "{:?}",
        began.elapsed()
    );
    let Error::NotReady {
        exit_code,
        ref log_tail,
        ..
    } = err
    else {
        panic!("expected NotReady, got {err}");
    };
    assert_eq!(exit_code, Some(3));
    // The last 20 of its 31 lines.
    let lines: Vec<&str> = log_tail.lines().collect();
    assert_eq!(lines.len(), 20, "{log_tail}");
    for kept in ["line-12", "line-30", "fatal: no database"] {
        assert!(lines.contains(&kept), "{kept} missing:\n{log_tail}");
    }
    assert!(!lines.contains(&"line-11"), "{log_tail}");
    let text = err.to_string();
    assert!(
        text.contains("exited with code 3") && text.contains("  line-30"),
        "{text}"
    );
    // The container is gone, so the message names none and says how to keep it next time.
    assert!(!text.contains(&format!("sd-{run}-api")), "{text}");
    assert!(text.contains("SHAKEDOWN_KEEP=on-failure"), "{text}");
    assert_eq!(leftovers(&run).0, 0);

    // A ready line that never comes: the log ends with the process.
    let spec = NodeSpec::new("worker", RUNTIME.reference())
        .cmd(["sh", "-c", "echo starting; exit 7"])
        .wait_for_log(Stream::Stdout, "ready")
        .startup_timeout(Duration::from_secs(120));
    let err = topology.start_node(spec).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ended before a line containing `ready`"),
        "{text}"
    );
    assert!(
        text.contains("exited with code 7") && text.contains("  starting"),
        "{text}"
    );
    topology.shutdown().await?;
    assert_eq!(leftovers(&run), (0, 0));
    Ok(())
}

/// Run in a child process by `on_failure_keeps_a_panicking_tests_containers_until_clean`; a no-op
/// otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_probe() {
    let Ok(out) = std::env::var(KEEP_PROBE_ENV) else {
        return;
    };
    ensure(&[RUNTIME], BuildPolicy::from_env())
        .await
        .expect("image");
    let topology = Topology::start().await.expect("topology");
    assert_eq!(topology.keep_policy(), KeepPolicy::OnFailure);
    std::fs::write(&out, topology.run_id()).expect("write run id");
    let _node = topology
        .start_node(
            NodeSpec::new("kept", RUNTIME.reference())
                .cmd(["sleep", "infinity"])
                .probe(Probe::Exec(vec!["true".into()])),
        )
        .await
        .expect("node");
    panic!("deliberate panic mid-test, with a container running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_keeps_a_panicking_tests_containers_until_clean() -> anyhow::Result<()> {
    let out = std::env::temp_dir().join(format!("shakedown-keep-probe-{}", std::process::id()));
    let child = Command::new(std::env::current_exe()?)
        .args(["--exact", "keep::keep_probe", "--nocapture"])
        .envs(HashMap::from([
            (KEEP_PROBE_ENV, out.to_str().unwrap()),
            ("SHAKEDOWN_KEEP", "on-failure"),
        ]))
        .output()?;
    assert!(!child.status.success(), "the probe must have panicked");
    let run = std::fs::read_to_string(&out).expect("the probe wrote its run id");
    let _ = std::fs::remove_file(&out);
    let _guard = RunGuard(run.clone());
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        stderr.contains(&format!("kept the containers and network of run {run}")),
        "{stderr}"
    );
    assert!(stderr.contains("shakedown clean"), "{stderr}");
    assert_eq!(
        leftovers(&run),
        (1, 1),
        "the panicking test's run must stay"
    );

    // The automatic sweep (every Topology::start) leaves kept runs; `shakedown clean` does not.
    let docker = docker::client().await?;
    let auto = SweepContext::current(false)?;
    docker::sweep_as(&docker, SweepScope::Orphaned, Some(&run), &auto).await?;
    assert_eq!(leftovers(&run), (1, 1));
    let clean = SweepContext::current(true)?;
    let swept = docker::sweep_as(&docker, SweepScope::OrphanedAndKept, Some(&run), &clean).await?;
    assert_eq!((swept.containers, swept.networks), (1, 1));
    assert_eq!(leftovers(&run), (0, 0));
    Ok(())
}

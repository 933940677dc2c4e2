//! Real containers: node operations, and cleanup on drop, on shutdown and while a panic unwinds.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use shakedown::image::{ensure, BuildPolicy, RUNTIME};
use shakedown::{NodeSpec, Probe, Topology};
use tokio::io::AsyncBufReadExt;

use crate::support::leftovers;

const PANIC_PROBE_ENV: &str = "SHAKEDOWN_TEST_PANIC_PROBE";

async fn runtime_node(topology: &Topology, name: &str) -> shakedown::Result<shakedown::Node> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    topology
        .start_node(
            NodeSpec::new(name, RUNTIME.reference())
                .cmd(["sleep", "infinity"])
                .probe(Probe::Exec(vec!["true".into()])),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_exec_log_pause_restart_and_partition_for_real() -> anyhow::Result<()> {
    let topology = Topology::start().await?;
    let a = runtime_node(&topology, "a").await?;
    let b = runtime_node(&topology, "b").await?;

    let out = a
        .exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
        .await?;
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    assert!(a.exec_ok(["false"]).await.is_err());

    // Peers resolve each other by container name on the run's network.
    let resolve = format!("getent hosts {}", b.container_name());
    assert_eq!(a.exec(["sh", "-c", &resolve]).await?.code, 0);

    // Partition: b disappears from a's view, and comes back.
    b.disconnect().await?;
    assert_ne!(
        a.exec(["sh", "-c", &resolve]).await?.code,
        0,
        "b must be unreachable while disconnected"
    );
    b.reconnect().await?;
    // Docker's embedded DNS registers the endpoint a moment after the connect call returns.
    let mut resolved = false;
    for _ in 0..50 {
        if a.exec(["sh", "-c", &resolve]).await?.code == 0 {
            resolved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resolved, "b must resolve again after reconnect");

    // Pause freezes the node: an exec cannot complete until it is thawed.
    b.pause().await?;
    let frozen = tokio::time::timeout(Duration::from_millis(500), b.exec(["true"])).await;
    assert!(
        frozen.is_err() || frozen.as_ref().is_ok_and(|r| r.is_err()),
        "exec in a paused node returned: {frozen:?}"
    );
    b.unpause().await?;
    assert_eq!(b.exec(["true"]).await?.code, 0);

    // Kill stops it; start_again brings it back; restart waits for the probe.
    // Logs: a snapshot, and a followed stream that sees new lines as they are written.
    let mut follow = a.log_stream(shakedown::Stream::Stdout, true).lines();
    a.exec_ok(["sh", "-c", "echo marker-one > /proc/1/fd/1"])
        .await?;
    assert!(a.logs().await?.contains("marker-one"));
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(line)) = follow.next_line().await {
            if line.contains("marker-one") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        seen.ok(),
        Some(true),
        "the followed log stream never showed the marker"
    );
    b.kill().await?;
    assert!(
        b.exec(["true"]).await.is_err(),
        "exec in a killed node must fail"
    );
    b.start_again().await?;
    b.restart().await?;
    assert_eq!(b.exec(["true"]).await?.code, 0);

    let run = topology.run_id().to_string();
    drop((a, b));
    topology.shutdown().await?;
    assert_eq!(leftovers(&run), (0, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_removes_containers_and_network() -> anyhow::Result<()> {
    let topology = Topology::start().await?;
    let run = topology.run_id().to_string();
    let node = runtime_node(&topology, "solo").await?;
    assert_eq!(leftovers(&run), (1, 1));
    drop(topology); // the node still holds the run
    assert_eq!(leftovers(&run), (1, 1));
    drop(node);
    assert_eq!(leftovers(&run), (0, 0));
    Ok(())
}

/// Run in a child process by `a_panicking_test_leaves_nothing_behind`; a no-op otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_probe() {
    let Ok(out) = std::env::var(PANIC_PROBE_ENV) else {
        return;
    };
    let topology = Topology::start().await.expect("topology");
    std::fs::write(&out, topology.run_id()).expect("write run id");
    let _node = runtime_node(&topology, "doomed").await.expect("node");
    panic!("deliberate panic mid-test, with a container running");
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let out = std::env::temp_dir().join(format!("shakedown-panic-probe-{}", std::process::id()));
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "topology::panic_probe", "--nocapture"])
        .envs(HashMap::from([
            (PANIC_PROBE_ENV, out.to_str().unwrap()),
            ("SHAKEDOWN_KEEP", "never"),
        ]))
        .status()
        .expect("run the probe");
    assert!(!status.success(), "the probe must have panicked");
    let run = std::fs::read_to_string(&out).expect("the probe wrote its run id");
    let _ = std::fs::remove_file(&out);
    assert_eq!(run.len(), 12);
    assert_eq!(
        leftovers(&run),
        (0, 0),
        "containers or networks of run {run} outlived the panic"
    );
}

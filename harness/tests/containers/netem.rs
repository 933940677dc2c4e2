//! `tc netem` on a real node: the delay shows in a round trip, a full drop makes connections
//! hang, and the heal leaves the interface as it was; a node without NET_ADMIN gets a clear error.

use std::time::Duration;

use shakedown::fault::nemeses::Netem;
use shakedown::image::{ensure, BuildPolicy, RUNTIME};
use shakedown::{Node, NodeSpec, Probe, Run, RunOptions, Topology};

async fn node(topology: &Topology, name: &str, net_admin: bool) -> anyhow::Result<Node> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    let mut spec = NodeSpec::new(name, RUNTIME.reference())
        .cmd(["sleep", "infinity"])
        .probe(Probe::Exec(vec!["true".into()]));
    if net_admin {
        spec = spec.cap_add("NET_ADMIN");
    }
    Ok(topology.start_node(spec).await?)
}

/// Milliseconds `from` takes to be refused by a closed port of `to` (one round trip), or `None`
/// when nothing comes back within 2 s.
async fn round_trip_ms(from: &Node, to: &Node) -> anyhow::Result<Option<u64>> {
    let script = format!(
        "s=$(date +%s%N); timeout 2 bash -c 'exec 3<>/dev/tcp/{}/9' 2>/dev/null; c=$?; \
         e=$(date +%s%N); echo $c $(( (e - s) / 1000000 ))",
        to.container_name()
    );
    let out = from.exec_ok(["bash", "-c", script.as_str()]).await?;
    let mut parts = out.split_whitespace();
    let code: i32 = parts.next().unwrap_or("").parse()?;
    let ms: u64 = parts.next().unwrap_or("").parse()?;
    Ok((code != 124).then_some(ms))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netem_delays_and_drops_a_nodes_packets_and_heals_cleanly() -> anyhow::Result<()> {
    let topology = Topology::start().await?;
    let a = node(&topology, "a", true).await?;
    let b = node(&topology, "b", false).await?;
    let run: Run<&'static str, ()> = Run::new("netem", RunOptions::seeded(1));
    let before = qdisc(&a).await?;
    assert!(!before.contains("netem"), "{before}");

    let base = round_trip_ms(&a, &b)
        .await?
        .expect("a healthy peer answers");
    let slow = run
        .inject(Netem::delay(&a, Duration::from_millis(400)).jitter(Duration::from_millis(20)))
        .await;
    match slow {
        // Some VM kernels are built without netem: the nemesis must say so, and the effect
        // checks cannot run on them.
        Err(e) if e.to_string().contains("CONFIG_NET_SCH_NETEM") => {
            eprintln!("netem effect checks skipped: {e}");
            assert_eq!(
                qdisc(&a).await?,
                before,
                "a failed inject leaves the interface alone"
            );
        }
        slow => effects(&run, &a, &b, slow?, base, &before).await?,
    }

    // Without NET_ADMIN: a clear error that says what to grant.
    let err = run
        .inject(Netem::delay(&b, Duration::from_millis(10)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NET_ADMIN"), "{err}");
    let bad = run.inject(Netem::loss(&a, 150.0)).await.unwrap_err();
    assert!(bad.to_string().contains("0..=100"), "{bad}");
    topology.shutdown().await?;
    Ok(())
}

async fn qdisc(node: &Node) -> anyhow::Result<String> {
    Ok(node.exec_ok(["tc", "qdisc", "show", "dev", "eth0"]).await?)
}

/// With netem in the kernel: the delay shows in a round trip, a full drop silences the node,
/// and the heal restores the interface.
async fn effects(
    run: &Run<&'static str, ()>,
    a: &Node,
    b: &Node,
    slow: shakedown::FaultGuard<'_>,
    base: u64,
    before: &str,
) -> anyhow::Result<()> {
    assert!(qdisc(a).await?.contains("netem"));
    let delayed = round_trip_ms(a, b)
        .await?
        .expect("a delayed peer still answers");
    // The SYN leaves a at least 380 ms late (400 ms ± 20 ms), whatever the baseline.
    assert!(
        delayed >= 380,
        "round trip {delayed} ms under a 400 ms delay (baseline {base} ms)"
    );
    slow.heal().await?;

    let cut = run.inject(Netem::drop_all(a)).await?;
    assert_eq!(
        round_trip_ms(a, b).await?,
        None,
        "a full drop must silence the node"
    );
    cut.heal().await?;

    assert_eq!(qdisc(a).await?, before, "the heal restores the interface");
    let after = round_trip_ms(a, b).await?.expect("healed");
    assert!(after < 380, "still delayed after the heal: {after} ms");
    let timeline = run.timeline();
    let windows = timeline.windows();
    assert_eq!(windows.len(), 2);
    assert!(windows
        .iter()
        .all(|w| w.fault.kind() == "netem" && w.end.is_some()));
    Ok(())
}

//! The sweep of leftovers on an engine shared by two hosts: each removes its own dead owners'
//! containers at once and the other host's only after the time-to-live, whatever `/proc` says.

use std::process::Command;
use std::time::Duration;

use shakedown::docker::{
    self, SweepContext, SweepScope, CREATED_LABEL, HOST_LABEL, OWNER_LABEL, RUN_LABEL,
};
use shakedown::image::{ensure, BuildPolicy, RUNTIME};

use crate::support::RunGuard;

/// The names of the run's containers, sorted, without the run prefix.
fn names_of(run: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .args(["--filter", &format!("label={RUN_LABEL}={run}")])
        .output()
        .expect("docker CLI");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// Creates (without starting) a container of `run` with the given ownership labels.
fn create(run: &str, name: &str, labels: &[(&str, String)]) {
    let mut cmd = Command::new("docker");
    cmd.args(["create", "--name", &format!("{run}-{name}")])
        .args(["--label", &format!("{RUN_LABEL}={run}")]);
    for (k, v) in labels {
        cmd.args(["--label", &format!("{k}={v}")]);
    }
    let out = cmd
        .args([RUNTIME.reference().as_str(), "sleep", "infinity"])
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn host(id: &str, now: u64) -> SweepContext {
    SweepContext {
        host: id.into(),
        ttl: Duration::from_secs(2 * 3600),
        now,
        include_kept: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_engine_sweep_only_their_own_dead_owners_and_the_other_hosts_expired(
) -> anyhow::Result<()> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    let docker = docker::client().await?;
    let run = format!("sweeptest{:08x}", rand::random::<u32>());
    let _guard = RunGuard(run.clone());
    let now = docker::unix_now();
    // A pid that no process of this machine has (above the kernel's pid_max limit).
    let dead = "4194304:1".to_string();
    let alive = docker::owner_token();
    let three_hours_ago = (now - 3 * 3600).to_string();
    let (a, b) = ("host-a".to_string(), "host-b".to_string());
    create(
        &run,
        "a-dead",
        &[
            (OWNER_LABEL, dead.clone()),
            (HOST_LABEL, a.clone()),
            (CREATED_LABEL, now.to_string()),
        ],
    );
    create(
        &run,
        "a-alive",
        &[
            (OWNER_LABEL, alive.clone()),
            (HOST_LABEL, a.clone()),
            (CREATED_LABEL, now.to_string()),
        ],
    );
    // On host b its owner may well be running: host a cannot tell, so it waits for the TTL.
    create(
        &run,
        "b-fresh",
        &[
            (OWNER_LABEL, dead.clone()),
            (HOST_LABEL, b.clone()),
            (CREATED_LABEL, now.to_string()),
        ],
    );
    create(
        &run,
        "b-old",
        &[
            (OWNER_LABEL, dead.clone()),
            (HOST_LABEL, b.clone()),
            (CREATED_LABEL, three_hours_ago),
        ],
    );
    // Labelled before hosts were recorded: another host's, aged by the engine's creation time.
    create(&run, "legacy", &[(OWNER_LABEL, dead.clone())]);
    let names =
        |left: &[&str]| -> Vec<String> { left.iter().map(|n| format!("{run}-{n}")).collect() };

    let swept = docker::sweep_as(&docker, SweepScope::Orphaned, Some(&run), &host(&a, now)).await?;
    assert_eq!(swept.containers, 2);
    assert_eq!(names_of(&run), names(&["a-alive", "b-fresh", "legacy"]));

    // Host b, where the same dead token is its own: its fresh orphan goes, host a's stays.
    let swept = docker::sweep_as(&docker, SweepScope::Orphaned, Some(&run), &host(&b, now)).await?;
    assert_eq!(swept.containers, 1);
    assert_eq!(names_of(&run), names(&["a-alive", "legacy"]));

    // Three hours later, from host b: host a's containers have outlived the TTL.
    let later = host(&b, now + 3 * 3600);
    docker::sweep_as(&docker, SweepScope::Orphaned, Some(&run), &later).await?;
    assert_eq!(names_of(&run), Vec::<String>::new());
    Ok(())
}

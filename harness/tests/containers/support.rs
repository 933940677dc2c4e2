//! What the container tests share: counting a run's leftovers and removing them whatever happens.

use std::process::Command;

use shakedown::docker::RUN_LABEL;

/// Containers and networks carrying this run's label, as `docker` sees them.
pub fn leftovers(run_id: &str) -> (usize, usize) {
    let count = |args: &[&str]| ids(args, run_id).len();
    (count(&["ps", "-a"]), count(&["network", "ls"]))
}

fn ids(args: &[&str], run_id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .args(["--filter", &format!("label={RUN_LABEL}={run_id}"), "-q"])
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Removes a run's containers and networks on drop, also when an assertion fails first.
pub struct RunGuard(pub String);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let containers = ids(&["ps", "-a"], &self.0);
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&containers)
                .output();
        }
        for network in ids(&["network", "ls"], &self.0) {
            let _ = Command::new("docker")
                .args(["network", "rm", &network])
                .output();
        }
    }
}

/// Removes the images it names when dropped (also while a failed assertion unwinds).
pub struct Images(pub Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "--force"])
            .args(&self.0)
            .output();
    }
}

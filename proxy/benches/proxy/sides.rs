//! Where each path's relay runs, and what it costs: a runtime on threads of its own per relay
//! (like a separate process), and CPU time read from `/proc`.

use std::thread;

use crate::Result;

/// A runtime on threads of its own, kept alive for the whole run.
pub struct Side {
    pub handle: tokio::runtime::Handle,
    /// The thread driving the runtime (`block_on`).
    tid: i32,
    /// Name prefix of the runtime's worker threads (multi-thread runtime only).
    workers: Option<String>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Side {
    /// Nanoseconds this runtime's threads have spent on a CPU (user + kernel).
    pub fn cpu_ns(&self) -> u64 {
        let sched = |tid: &str| -> u64 {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
                .unwrap_or(0)
        };
        let mut total = sched(&self.tid.to_string());
        if let Some(prefix) = &self.workers {
            // Thread names are cut to 15 bytes in `comm`.
            let prefix = &prefix[..prefix.len().min(15)];
            if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
                for entry in dir.flatten() {
                    let tid = entry.file_name().to_string_lossy().into_owned();
                    let comm =
                        std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                    if comm.trim_end() == prefix {
                        total += sched(&tid);
                    }
                }
            }
        }
        total
    }
}

/// The calling thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn current_tid() -> i32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// A runtime for one relay: current-thread on its own thread, or with `threads` > 0 a
/// multi-thread runtime whose workers are named `<name>-worker`.
pub fn side_runtime(name: &str, threads: usize) -> Result<Side> {
    let thread_name = name.to_string();
    let (htx, hrx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    thread::Builder::new().name(name.into()).spawn(move || {
        let rt = if threads > 0 {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name(format!("{thread_name}-worker"))
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("runtime");
        let _ = htx.send((rt.handle().clone(), current_tid()));
        rt.block_on(async {
            let _ = stop_rx.await;
        });
    })?;
    let (handle, tid) = hrx.recv()?;
    Ok(Side {
        handle,
        tid,
        workers: (threads > 0).then(|| format!("{name}-worker")),
        _stop: stop_tx,
    })
}

/// CPU time of the whole process (all threads, also finished ones), in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    // Fields 14 and 15 of /proc/self/stat, counted after the ")" ending the command name.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks * 10_000_000) // USER_HZ is 100 on Linux
        })
        .unwrap_or(0)
}

//! Memory of the spin process tree, read from /proc: `spin up` leads a
//! process group (the harness starts it so) that holds the `spin trigger
//! http` child running the app. A sampler thread sums `VmRSS` over the
//! group every interval and keeps the largest sum; at the end it also reads
//! each member's own high-water mark (`VmHWM`), which no sampling misses.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the sampler saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rss {
    /// Largest sampled sum of `VmRSS` over the group.
    pub peak_bytes: u64,
    /// Largest `VmHWM` of one member, read when sampling stopped.
    pub max_process_hwm_bytes: u64,
    /// Members of the group when sampling stopped (pid, command name).
    pub processes: Vec<(u32, String)>,
    pub samples: u64,
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Rss>,
}

impl Sampler {
    /// Starts sampling the process group led by `pgrp` every `every`.
    pub fn start(pgrp: u32, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || sample_until(pgrp, every, &flag));
        Sampler { stop, handle }
    }

    /// Stops sampling; call it while the processes still run.
    pub fn finish(self) -> Rss {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("the RSS sampler does not panic")
    }
}

fn sample_until(pgrp: u32, every: Duration, stop: &AtomicBool) -> Rss {
    let mut rss = Rss::default();
    loop {
        let members = group(pgrp);
        let sum = members.iter().filter_map(|&pid| status_kib(pid, "VmRSS:")).sum::<u64>() * 1024;
        rss.peak_bytes = rss.peak_bytes.max(sum);
        rss.samples += 1;
        if stop.load(Ordering::SeqCst) {
            rss.max_process_hwm_bytes = members.iter().filter_map(|&pid| status_kib(pid, "VmHWM:")).max().unwrap_or(0) * 1024;
            rss.processes = members.iter().map(|&pid| (pid, command_line(pid))).collect();
            return rss;
        }
        std::thread::sleep(every);
    }
}

/// Pids of the processes in group `pgrp`.
pub fn group(pgrp: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| process_group(pid) == Some(pgrp))
        .collect()
}

/// Field 5 of /proc/<pid>/stat (after the parenthesised command name).
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// A `kB` line of /proc/<pid>/status, such as `VmRSS:`.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

fn command_line(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split('\0').take(3).collect::<Vec<_>>().join(" ").trim().to_string())
        .unwrap_or_default()
}

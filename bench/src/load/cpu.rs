//! CPU time spent during a run, from /proc, to tell how much of the machine
//! the app had: the spin process group's own time (`utime + stime` of each
//! member in /proc/<pid>/stat, all threads included) and the whole
//! machine's busy and stolen time (/proc/stat). Both are in USER_HZ ticks,
//! which Linux fixes at 100 per second for userspace.

use serde::Serialize;
use std::time::Duration;

const TICKS_PER_S: f64 = 100.0;

/// Counters at the start of a run.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    busy: u64,
    steal: u64,
    spin: u64,
}

/// CPU seconds spent between a [`Mark`] and now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cpu {
    /// The spin process group (`spin up` and `spin trigger http`).
    pub spin_s: f64,
    /// Every process on the machine (user, nice, system, irq, softirq).
    pub machine_busy_s: f64,
    /// Time the hypervisor gave to others while we wanted to run.
    pub steal_s: f64,
    /// Wall time × cores.
    pub available_s: f64,
}

pub fn mark(pgrp: u32) -> Mark {
    let (busy, steal) = machine_ticks();
    Mark { busy, steal, spin: group_ticks(pgrp) }
}

/// What was spent since `start`, over `wall` on `cores` cores.
pub fn since(start: Mark, pgrp: u32, wall: Duration, cores: u32) -> Cpu {
    let now = mark(pgrp);
    let s = |later: u64, earlier: u64| later.saturating_sub(earlier) as f64 / TICKS_PER_S;
    Cpu {
        spin_s: s(now.spin, start.spin),
        machine_busy_s: s(now.busy, start.busy),
        steal_s: s(now.steal, start.steal),
        available_s: wall.as_secs_f64() * f64::from(cores),
    }
}

/// CPU seconds (user + system, all threads) used so far by the members of
/// process group `pgrp`.
pub fn group_seconds(pgrp: u32) -> f64 {
    group_ticks(pgrp) as f64 / TICKS_PER_S
}

/// (busy, steal) ticks of all CPUs from the `cpu` line of /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal ...
    (at(0) + at(1) + at(2) + at(5) + at(6), at(7))
}

/// utime + stime ticks summed over the members of process group `pgrp`.
fn group_ticks(pgrp: u32) -> u64 {
    super::rss::group(pgrp).iter().filter_map(|&pid| process_ticks(pid)).sum()
}

fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Fields 14 and 15 of stat; after the name, field n is at index n - 3.
    Some(after_name.get(11)?.parse::<u64>().ok()? + after_name.get(12)?.parse::<u64>().ok()?)
}

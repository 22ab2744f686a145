//! One run's outcomes added up: counts by status, throughput over the wall
//! time of the whole run, latency percentiles per kind, memory, CPU time,
//! where the converters' time went, and everything that looks like a trap
//! — in a variant's error or in the run's spin.log.

use super::cpu::Cpu;
use super::rss::Rss;
use super::upload::{Kind, Outcome};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Variants a finished upload has (webp, avif, jpeg, thumbnail).
pub const VARIANTS: usize = 4;

/// Latency percentiles of a set of uploads (nearest rank).
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(mut ms: Vec<f64>) -> Option<Latency> {
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
        Some(Latency { n: ms.len(), p50_ms: rank(0.5), p95_ms: rank(0.95), max_ms: ms[ms.len() - 1] })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub one_shot: Option<Latency>,
    pub tus: Option<Latency>,
    /// tus: from the creation to the answer of the last PATCH.
    pub tus_sent: Option<Latency>,
    pub all: Option<Latency>,
}

/// One host-thread setting's run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `default` (Spin's own: one worker per core) or `TOKIO_WORKER_THREADS`.
    pub threads: String,
    pub uploads: usize,
    pub done: usize,
    pub partial: usize,
    /// `failed` manifests and uploads that got no manifest at all.
    pub failed: usize,
    /// Uploads that got no manifest (a request failed; see their errors).
    pub client_errors: usize,
    /// `done` uploads with fewer than [`VARIANTS`] variants.
    pub missing_variants: usize,
    /// Uploads with an error that mentions a trap or an empty answer.
    pub trapped: usize,
    pub wall_s: f64,
    pub input_bytes: u64,
    pub uploads_per_s: f64,
    /// 10^6 bytes of originals per second.
    pub mb_per_s: f64,
    pub latency: Latencies,
    pub rss: Rss,
    pub cpu: Cpu,
    /// The largest `linear_memory` any variant reported.
    pub max_linear_memory: Option<u64>,
    /// One-shot uploads whose POST answered 202 (finished by polling).
    pub one_shot_accepted: usize,
    pub patch_retries: u32,
    pub stages: Stages,
    /// The stack's folder: spin.log, the components' stderr under
    /// spin-state/logs/, the store's logs.
    pub logs: PathBuf,
    /// spin.log lines that mention a trap.
    pub log_traps: Vec<String>,
    /// Other spin.log lines about errors, failures, timeouts and re-drives.
    pub log_notes: Vec<String>,
    /// The store's event notifications that got no timely answer from
    /// `POST /v1/events` (store.err `NOTIFY FAILED`; each is re-sent).
    pub notify_failures: usize,
    pub outcomes: Vec<Outcome>,
}

fn is_trap(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("trap") || t.contains("empty answer")
}

fn count(outcomes: &[Outcome], f: impl Fn(&Outcome) -> bool) -> usize {
    outcomes.iter().filter(|o| f(o)).count()
}

fn latencies(outcomes: &[Outcome]) -> Latencies {
    let of = |f: &dyn Fn(&Outcome) -> bool| Latency::of(outcomes.iter().filter(|o| f(o)).map(|o| o.latency_ms).collect());
    Latencies {
        one_shot: of(&|o| o.kind == Kind::OneShot),
        tus: of(&|o| matches!(o.kind, Kind::Tus { .. })),
        tus_sent: Latency::of(outcomes.iter().filter_map(|o| o.sent_ms).collect()),
        all: of(&|_| true),
    }
}

fn notable(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    ["error", "fail", "stopped", "re-driven", "panicked", "timed out", "within"].iter().any(|w| l.contains(w))
}

/// The lines of spin.log that mention a trap, and its other notable lines.
/// spin.log has Spin's own output and, echoed, every component's stderr
/// (also kept per component under `spin-state/logs/`).
fn scan_log(log: &Path) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let traps = text.lines().filter(|l| is_trap(l)).map(str::to_string).collect();
    let notes = text.lines().filter(|l| notable(l) && !is_trap(l)).map(str::to_string).collect();
    (traps, notes)
}

/// Where the variants' time went, from the converters' own stages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stages {
    pub variants: usize,
    /// probe + decode + resize + encode, summed over every variant.
    pub compute_s: f64,
    /// fetch + store (the converter's storage requests), mean per variant.
    pub storage_mean_s: f64,
    /// Outside the converter (instantiation, service chaining), mean per variant.
    pub chaining_mean_s: f64,
}

const COMPUTE: [&str; 4] = ["probe", "decode", "resize", "encode"];
const STORAGE: [&str; 2] = ["fetch", "store"];

fn stages(outcomes: &[Outcome]) -> Stages {
    let sum = |names: &[&str]| outcomes.iter().flat_map(|o| names.iter().filter_map(|n| o.stages_ms.get(*n))).sum::<f64>() / 1000.0;
    let variants = outcomes.iter().map(|o| o.variants).sum::<usize>();
    let per = variants.max(1) as f64;
    Stages { variants, compute_s: sum(&COMPUTE), storage_mean_s: sum(&STORAGE) / per, chaining_mean_s: sum(&["chaining"]) / per }
}

impl RunReport {
    /// `dir` is the stack's folder (spin.log and the component logs).
    pub fn new(threads: &str, outcomes: Vec<Outcome>, wall: Duration, (rss, cpu): (Rss, Cpu), dir: &Path) -> RunReport {
        let wall_s = wall.as_secs_f64();
        let input_bytes = outcomes.iter().map(|o| o.bytes).sum::<u64>();
        let (log_traps, log_notes) = scan_log(&dir.join("spin.log"));
        RunReport {
            threads: threads.to_string(),
            uploads: outcomes.len(),
            done: count(&outcomes, |o| o.status == "done"),
            partial: count(&outcomes, |o| o.status == "partial"),
            failed: count(&outcomes, |o| !matches!(o.status.as_str(), "done" | "partial")),
            client_errors: count(&outcomes, |o| o.status == "error"),
            missing_variants: count(&outcomes, |o| o.status == "done" && o.variants < VARIANTS),
            trapped: count(&outcomes, |o| o.errors.iter().any(|e| is_trap(e))),
            wall_s,
            input_bytes,
            uploads_per_s: outcomes.len() as f64 / wall_s,
            mb_per_s: input_bytes as f64 / 1e6 / wall_s,
            latency: latencies(&outcomes),
            rss,
            cpu,
            max_linear_memory: outcomes.iter().filter_map(|o| o.max_linear_memory).max(),
            one_shot_accepted: count(&outcomes, |o| o.accepted),
            patch_retries: outcomes.iter().map(|o| o.patch_retries).sum(),
            stages: stages(&outcomes),
            logs: dir.to_path_buf(),
            log_traps,
            log_notes,
            notify_failures: std::fs::read_to_string(dir.join("store.err")).unwrap_or_default().matches("NOTIFY FAILED").count(),
            outcomes,
        }
    }

    /// Every upload done with all its variants, and no trap anywhere.
    pub fn passed(&self) -> bool {
        self.done == self.uploads && self.missing_variants == 0 && self.trapped == 0 && self.log_traps.is_empty()
    }

    pub fn one_line(&self) -> String {
        format!(
            "host threads {}: {} done, {} partial, {} failed ({} client errors, {} trapped) in {:.1} s",
            self.threads, self.done, self.partial, self.failed, self.client_errors, self.trapped, self.wall_s
        )
    }

    /// What went wrong, upload by upload, and the spin.log lines to read.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .outcomes
            .iter()
            .filter(|o| o.status != "done" || !o.errors.is_empty())
            .map(|o| format!("#{} {} {} ({}): {}: {}", o.index, o.kind.label(), o.photo, o.id.as_deref().unwrap_or("no id"), o.status, o.errors.join("; ")))
            .collect();
        out.extend(self.log_traps.iter().map(|l| format!("trap in {l}")));
        out
    }
}

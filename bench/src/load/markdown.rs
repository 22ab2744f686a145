//! The load report as Markdown: what ran where, then one table with a
//! column per host-thread setting (and their ratio when there are two), then
//! every problem, upload by upload.

use super::summary::{Latency, RunReport};
use super::upload::Kind;
use super::Report;

const MIB: f64 = 1024.0 * 1024.0;

/// One table row: a label and, per run, the text and the number behind it.
struct Row {
    label: String,
    cells: Vec<(String, Option<f64>)>,
}

fn row(label: impl Into<String>, runs: &[RunReport], f: impl Fn(&RunReport) -> (String, Option<f64>)) -> Row {
    Row { label: label.into(), cells: runs.iter().map(f).collect() }
}

fn num(runs: &[RunReport], label: &str, decimals: usize, f: impl Fn(&RunReport) -> Option<f64>) -> Row {
    row(label, runs, |r| match f(r) {
        Some(v) => (format!("{v:.decimals$}"), Some(v)),
        None => ("–".into(), None),
    })
}

/// A latency statistic: its name and how to read it.
type Stat = (&'static str, fn(&Latency) -> f64);
const STATS: [Stat; 3] = [("p50", |l| l.p50_ms), ("p95", |l| l.p95_ms), ("max", |l| l.max_ms)];

fn latency_rows(runs: &[RunReport], kind: &str, pick: fn(&RunReport) -> Option<&Latency>) -> Vec<Row> {
    let n = runs.iter().find_map(|r| pick(r)).map_or(0, |l| l.n);
    STATS.iter().map(|(name, f)| num(runs, &format!("{kind} latency {name}, s (n = {n})"), 1, |r| pick(r).map(|l| f(l) / 1000.0))).collect()
}

fn rows(runs: &[RunReport]) -> Vec<Row> {
    let mut rows = vec![
        row("uploads done / partial / failed", runs, |r| (format!("{} / {} / {}", r.done, r.partial, r.failed), None)),
        num(runs, "wall time of the run, s", 1, |r| Some(r.wall_s)),
        num(runs, "throughput, uploads/s", 2, |r| Some(r.uploads_per_s)),
        num(runs, "throughput, MB/s of originals", 2, |r| Some(r.mb_per_s)),
    ];
    rows.extend(latency_rows(runs, "one-shot", |r| r.latency.one_shot.as_ref()));
    rows.extend(latency_rows(runs, "tus", |r| r.latency.tus.as_ref()));
    rows.extend(latency_rows(runs, "tus bytes sent (last PATCH answered)", |r| r.latency.tus_sent.as_ref()));
    rows.extend(latency_rows(runs, "all", |r| r.latency.all.as_ref()));
    rows.extend([
        num(runs, "converter compute (probe+decode+resize+encode), sum over all variants, s", 0, |r| Some(r.stages.compute_s)),
        num(runs, "converter storage (fetch+store), mean per variant, s", 1, |r| Some(r.stages.storage_mean_s)),
        num(runs, "outside the converter (chaining), mean per variant, s", 1, |r| Some(r.stages.chaining_mean_s)),
        num(runs, "CPU time of the spin process group, s", 0, |r| Some(r.cpu.spin_s)),
        num(runs, "CPU time of everything else (store, this client, other work on the machine), s", 0, |r| Some(r.cpu.machine_busy_s - r.cpu.spin_s)),
        num(runs, "CPU time available (wall × cores), s", 0, |r| Some(r.cpu.available_s)),
        num(runs, "CPU time stolen by the hypervisor, s", 0, |r| Some(r.cpu.steal_s)),
        num(runs, "peak RSS of the spin process group (sampled), MiB", 0, |r| Some(r.rss.peak_bytes as f64 / MIB)),
        num(runs, "largest VmHWM of one spin process, MiB", 0, |r| Some(r.rss.max_process_hwm_bytes as f64 / MIB)),
        num(runs, "largest linear_memory of a variant, MiB", 1, |r| r.max_linear_memory.map(|b| b as f64 / MIB)),
        num(runs, "one-shot POSTs answered 202", 0, |r| Some(r.one_shot_accepted as f64)),
        num(runs, "tus PATCHes retried (409/423/transport)", 0, |r| Some(r.patch_retries as f64)),
        row("traps (uploads / log lines)", runs, |r| (format!("{} / {}", r.trapped, r.log_traps.len()), None)),
        num(runs, "other spin.log lines on errors, timeouts, re-drives", 0, |r| Some(r.log_notes.len() as f64)),
    ]);
    rows
}

fn heading(threads: &str) -> String {
    match threads {
        "default" => "host threads: default (= cores)".into(),
        n => format!("TOKIO_WORKER_THREADS={n}"),
    }
}

/// A cell's number, unless it shows as zero (no ratio of rounding noise).
fn shown((text, value): &(String, Option<f64>)) -> Option<f64> {
    value.filter(|_| text.parse::<f64>().is_ok_and(|x| x != 0.0))
}

/// The table; a ratio column (second run ÷ first) when there are two runs.
pub fn table(runs: &[RunReport]) -> String {
    let ratio = runs.len() == 2;
    let mut head: Vec<String> = runs.iter().map(|r| heading(&r.threads)).collect();
    if ratio {
        head.push(format!("{} ÷ {}", runs[1].threads, runs[0].threads));
    }
    let mut out = format!("| | {} |\n|---|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for Row { label, cells } in rows(runs) {
        let mut texts: Vec<String> = cells.iter().map(|(t, _)| t.clone()).collect();
        if ratio {
            texts.push(match (shown(&cells[0]), shown(&cells[1])) {
                (Some(a), Some(b)) => format!("{:.2}", b / a),
                _ => String::new(),
            });
        }
        out.push_str(&format!("| {label} | {} |\n", texts.join(" | ")));
    }
    out
}

fn describe_plan(report: &Report) -> String {
    let first = report.runs.first().map(|r| &r.outcomes[..]).unwrap_or_default();
    let tus = first.iter().filter(|o| matches!(o.kind, Kind::Tus { .. })).count();
    let mut photos: Vec<String> = first.iter().map(|o| format!("{} ({} bytes)", o.photo, o.bytes)).collect();
    photos.sort();
    photos.dedup();
    let chunks: Vec<String> = report.plan.chunks.iter().map(|c| format!("{} KiB", c / 1024)).collect();
    format!(
        "{} uploads started at once: {} one-shot, {tus} tus (chunks of {}, round-robin), polling every {} ms; photos round-robin: {}.",
        report.plan.uploads,
        first.len() - tus,
        chunks.join(" / "),
        report.plan.poll_ms,
        photos.join(", ")
    )
}

/// The whole report.
pub fn render(report: &Report) -> String {
    let m = &report.machine;
    let mut out = format!("## Load: {} concurrent uploads\n\n", report.plan.uploads);
    out.push_str(&format!("Command: `{}` ({}; tree: {})\n\n", report.command, report.date, report.git));
    out.push_str(&format!("Machine: {}, {} cores, {} GiB; {}; {}; {}.\n\n", m.cpu, m.cores, m.memory_gib, m.os, m.kernel, m.spin));
    out.push_str(&format!("{}\n\n", describe_plan(report)));
    out.push_str(&table(&report.runs));
    for run in &report.runs {
        out.push_str(&run_details(run));
    }
    out
}

/// A run's problems, upload by upload, and its notable log lines by kind.
fn run_details(run: &RunReport) -> String {
    let mut out = String::new();
    let problems = run.problems();
    if !problems.is_empty() {
        out.push_str(&format!("\nProblems with host threads {} (logs in {}):\n\n", run.threads, run.logs.display()));
        out.extend(problems.iter().map(|p| format!("- {p}\n")));
    }
    if !run.log_notes.is_empty() || run.notify_failures > 0 {
        out.push_str(&format!("\nHost threads {}: spin.log lines on errors, timeouts, re-drives (ids and keys elided), and the store's notifications:\n\n", run.threads));
        out.extend(kinds(&run.log_notes).iter().map(|(n, line)| format!("    {n:>4} × {line}\n")));
        out.push_str(&format!("    {:>4} × store.err: NOTIFY FAILED (POST /v1/events got no timely answer; re-sent)\n", run.notify_failures));
    }
    out
}

/// A log line with its ids and object keys elided.
fn elide(line: &str) -> String {
    let word = |w: &str| {
        let core = w.trim_end_matches([':', ',']);
        let hex = core.len() >= 16 && core.chars().all(|c| c.is_ascii_hexdigit());
        match ["originals/", "uploads/", "variants/"].iter().find(|p| w.starts_with(*p)) {
            Some(prefix) => format!("{prefix}…"),
            None if hex => format!("<id>{}", &w[core.len()..]),
            None => w.to_string(),
        }
    };
    line.split(' ').map(word).collect::<Vec<_>>().join(" ")
}

/// Distinct (elided) lines with their counts, most frequent first.
fn kinds(lines: &[String]) -> Vec<(usize, String)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for line in lines {
        *counts.entry(elide(line)).or_default() += 1;
    }
    let mut kinds: Vec<(usize, String)> = counts.into_iter().map(|(l, n)| (n, l)).collect();
    kinds.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    kinds
}

//! `make load` (`kiln-load`): many uploads at once against one real
//! `spin up` + kiln-store, per Spin host-thread setting. Each upload runs on
//! its own thread ([`upload`]): one-shot `POST /v1/images`, or tus in
//! 256 KiB–1 MiB chunks, then polling until the manifest is terminal. While
//! they run, the RSS of the spin process group is sampled ([`rss`]) and
//! the CPU time it and the machine spend is counted ([`cpu`]); the
//! outcomes add up to a [`summary::RunReport`] per setting, printed side by
//! side as Markdown ([`markdown`]) and written as JSON.

pub mod cpu;
pub mod markdown;
pub mod rss;
pub mod summary;
pub mod upload;

use anyhow::{ensure, Context, Result};
use kiln_e2e::Stack;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use summary::RunReport;
use upload::{Job, Kind, Photo};

/// What one invocation measures.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Uploads started at once, per host-thread setting.
    pub uploads: usize,
    /// Share of the uploads that use tus (the rest are one-shot), 0..=100.
    pub tus_percent: usize,
    /// The images, used round-robin.
    pub photos: Vec<PathBuf>,
    /// Spin host threads per run: `default` (= cores) or a number.
    pub threads: Vec<String>,
    /// tus chunk sizes, used round-robin over the tus uploads.
    pub chunks: Vec<usize>,
    /// Interval of `GET /v1/uploads/<id>` while an upload is not terminal.
    pub poll_ms: u64,
    /// Interval of the RSS samples.
    pub sample_ms: u64,
}

/// The whole invocation: where it ran, what it did, every run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub date: String,
    pub command: String,
    /// The commit measured, and the tracked files that differed from it.
    pub git: String,
    pub machine: crate::report::results::Machine,
    pub plan: Plan,
    pub runs: Vec<RunReport>,
}

impl Report {
    /// True when every upload of every run ended `done` and nothing trapped.
    pub fn passed(&self) -> bool {
        self.runs.iter().all(RunReport::passed)
    }
}

/// Runs the plan once per host-thread setting.
pub fn run(plan: &Plan, command: String) -> Result<Report> {
    let photos = load_photos(&plan.photos)?;
    let mut runs = Vec::new();
    for threads in &plan.threads {
        eprintln!("kiln-load: {} uploads with host threads = {threads} ...", plan.uploads);
        let report = run_once(plan, &photos, threads)?;
        eprintln!("kiln-load: {}", report.one_line());
        runs.push(report);
    }
    let machine = crate::study::machine::describe(Vec::new());
    let date = crate::study::proc::version("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    Ok(Report { date, command, git: git_state(), machine, plan: plan.clone(), runs })
}

/// `<commit>`, plus the tracked files changed in the working tree: the
/// components were built from the tree, not from the commit.
fn git_state() -> String {
    let root = kiln_e2e::repo_root();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").arg("-C").arg(&root).args(args).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
    };
    let changed = git(&["diff", "--name-only", "HEAD"]).lines().collect::<Vec<_>>().join(", ");
    let head = git(&["rev-parse", "--short", "HEAD"]);
    if changed.is_empty() { head } else { format!("{head} with uncommitted changes in {changed}") }
}

fn load_photos(paths: &[PathBuf]) -> Result<Vec<Arc<Photo>>> {
    ensure!(!paths.is_empty(), "no photos to upload");
    paths.iter().map(|p| Photo::read(p).map(Arc::new)).collect()
}

/// The environment `spin up` gets for a host-thread setting.
fn spin_env(threads: &str) -> Result<Vec<(&str, &str)>> {
    if threads == "default" {
        ensure!(std::env::var_os("TOKIO_WORKER_THREADS").is_none(), "TOKIO_WORKER_THREADS is set here: 'default' would inherit it; unset it");
        return Ok(crate::FOUR_VARIANTS.to_vec());
    }
    threads.parse::<u16>().with_context(|| format!("--threads: {threads:?} is neither 'default' nor a number"))?;
    Ok([vec![("TOKIO_WORKER_THREADS", threads)], crate::FOUR_VARIANTS.to_vec()].concat())
}

/// The jobs of one run: tus spread evenly among one-shot uploads.
pub fn jobs(plan: &Plan, photos: &[Arc<Photo>]) -> Vec<Job> {
    let n = plan.uploads;
    let tus = (n * plan.tus_percent + 50) / 100;
    let mut tus_seen = 0;
    (0..n)
        .map(|i| {
            let is_tus = (i + 1) * tus / n.max(1) > i * tus / n.max(1);
            let chunk = plan.chunks[tus_seen % plan.chunks.len()];
            tus_seen += usize::from(is_tus);
            let kind = if is_tus { Kind::Tus { chunk } } else { Kind::OneShot };
            Job { index: i, kind, photo: photos[i % photos.len()].clone() }
        })
        .collect()
}

/// One run: a fresh stack, every upload at once, RSS sampled throughout.
fn run_once(plan: &Plan, photos: &[Arc<Photo>], threads: &str) -> Result<RunReport> {
    let env = spin_env(threads)?;
    let stack = Stack::start_with(&format!("load-{threads}"), &env);
    let pid = stack.spin_pid().context("spin up is not running")?;
    let sampler = rss::Sampler::start(pid, Duration::from_millis(plan.sample_ms));
    let jobs = jobs(plan, photos);
    let poll = Duration::from_millis(plan.poll_ms);
    let cpu_start = cpu::mark(pid);
    let (outcomes, wall) = run_jobs(&stack, jobs, poll);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let cpu = cpu::since(cpu_start, pid, wall, cores);
    let rss = sampler.finish();
    Ok(RunReport::new(threads, outcomes, wall, (rss, cpu), &stack.dir))
}

/// Starts every job on its own thread at the same moment; returns the
/// outcomes in job order and the wall time until the last one finished.
pub fn run_jobs(stack: &Stack, jobs: Vec<Job>, poll: Duration) -> (Vec<upload::Outcome>, Duration) {
    let barrier = Barrier::new(jobs.len() + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    upload::run(stack, &job, poll)
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let outcomes = handles.into_iter().map(|h| h.join().expect("upload threads catch their panics")).collect();
        (outcomes, started.elapsed())
    })
}

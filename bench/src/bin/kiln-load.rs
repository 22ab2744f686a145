//! `make load` (`kiln-load`): N uploads at once (default 50, half one-shot,
//! half tus in 256 KiB–1 MiB chunks) of the 2560x1600 corpus photos against
//! a real `spin up` + kiln-store, once per Spin host-thread setting
//! (default: Spin's own and `TOKIO_WORKER_THREADS=8`). Prints a Markdown
//! table side by side, writes bench/results/load.json, and exits non-zero
//! unless every upload ended `done` with no trap (see `kiln_bench::load`).

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use kiln_bench::load::{self, markdown, Plan};
use kiln_e2e::{corpus, repo_root};
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    /// Uploads started at once, per host-thread setting.
    #[arg(long, default_value_t = 50)]
    uploads: usize,
    /// Share of the uploads sent with tus (the rest one-shot), in percent.
    #[arg(long, default_value_t = 50)]
    tus_percent: usize,
    /// Images to upload, round-robin (default: the corpus' 2560x1600 photos).
    #[arg(long, value_delimiter = ',')]
    photos: Vec<PathBuf>,
    /// Spin host threads per run: `default` (= cores) or a number.
    #[arg(long, value_delimiter = ',', default_value = "default,8")]
    threads: Vec<String>,
    /// tus chunk sizes in KiB, round-robin over the tus uploads.
    #[arg(long, value_delimiter = ',', default_value = "256,512,1024")]
    chunk_kib: Vec<usize>,
    /// Interval of the status polls, ms.
    #[arg(long, default_value_t = 250)]
    poll_ms: u64,
    /// Interval of the RSS samples, ms.
    #[arg(long, default_value_t = 100)]
    sample_ms: u64,
    /// The JSON results (default: bench/results/load.json in the checkout).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The corpus photos whose name says 2560x1600.
fn default_photos() -> Result<Vec<PathBuf>> {
    let dir = corpus().join("photos");
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut photos: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains("2560x1600") && n.ends_with(".jpg")))
        .collect();
    photos.sort();
    ensure!(!photos.is_empty(), "no *2560x1600*.jpg in {}", dir.display());
    Ok(photos)
}

fn plan(args: &Args) -> Result<Plan> {
    ensure!(args.uploads > 0, "--uploads must be at least 1");
    ensure!(args.tus_percent <= 100, "--tus-percent is a percentage");
    ensure!(!args.chunk_kib.is_empty() && args.chunk_kib.iter().all(|&c| c > 0), "--chunk-kib needs sizes above 0");
    ensure!(!args.threads.is_empty(), "--threads needs at least one setting");
    let photos = if args.photos.is_empty() { default_photos()? } else { args.photos.clone() };
    Ok(Plan {
        uploads: args.uploads,
        tus_percent: args.tus_percent,
        photos,
        threads: args.threads.clone(),
        chunks: args.chunk_kib.iter().map(|c| c * 1024).collect(),
        poll_ms: args.poll_ms,
        sample_ms: args.sample_ms,
    })
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() { "make load".into() } else { format!("make load LOAD_ARGS='{}'", args.join(" ")) }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let plan = plan(&args)?;
    let report = load::run(&plan, command_line())?;
    println!("{}", markdown::render(&report));
    let out = args.out.clone().unwrap_or_else(|| repo_root().join("bench/results/load.json"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n").with_context(|| format!("writing {}", out.display()))?;
    eprintln!("kiln-load: wrote {}", out.display());
    if !report.passed() {
        bail!("not every upload ended done without a trap: see the problems above and the spin.log of each run");
    }
    Ok(())
}

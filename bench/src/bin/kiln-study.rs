//! `make study` (`kiln-study [--quick] [--runs N]`): measures every path of
//! the glue-cost study (see `kiln_bench::study`), writes the results file,
//! then generates docs/glue-costs.md and its plots from it and
//! bench/prices.toml. `--report-only` regenerates the report from an
//! existing results file.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kiln_bench::study::{self, Plan};
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    /// A few minutes: the 4 MP and 12 MP photos, 3 repetitions (unless --runs).
    #[arg(long)]
    quick: bool,
    /// Repetitions of every measurement (default: 3 quick, 5 full).
    #[arg(long)]
    runs: Option<usize>,
    /// Where the results go.
    #[arg(long, default_value = "bench/results/study.json")]
    results: PathBuf,
    #[arg(long, default_value = "bench/prices.toml")]
    prices: PathBuf,
    #[arg(long, default_value = "docs/glue-costs.md")]
    out: PathBuf,
    #[arg(long, default_value = "docs/glue-costs")]
    plots: PathBuf,
    /// Skip measuring; regenerate the report from --results.
    #[arg(long)]
    report_only: bool,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Subcommand)]
enum Child {
    /// (internal) one native conversion in its own process.
    #[command(hide = true)]
    NativeChild { input: PathBuf, variant: String },
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Child::NativeChild { input, variant }) = &args.child {
        return study::native::child(input, variant);
    }
    let root = kiln_e2e::repo_root();
    let at = |p: &PathBuf| if p.is_absolute() { p.clone() } else { root.join(p) };
    if !args.report_only {
        let plan = Plan { quick: args.quick, runs: args.runs.unwrap_or(if args.quick { 3 } else { 5 }), scratch: std::env::temp_dir().join(format!("kiln-study-{}", std::process::id())) };
        let results = study::measure(&plan)?;
        let path = at(&args.results);
        std::fs::create_dir_all(path.parent().context("results dir")?)?;
        std::fs::write(&path, serde_json::to_vec_pretty(&results)?)?;
        eprintln!("study: wrote {}", path.display());
        let _ = std::fs::remove_dir_all(&plan.scratch);
    }
    kiln_bench::report::generate(&at(&args.results), &at(&args.prices), &at(&args.out), &at(&args.plots))?;
    eprintln!("study: wrote {}", at(&args.out).display());
    Ok(())
}

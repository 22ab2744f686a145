//! `kiln-report`: writes the glue-cost report (`docs/glue-costs.md` and its
//! SVG plots) from a study results file and the cited prices file.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Generate docs/glue-costs.md from study results and bench/prices.toml")]
struct Args {
    /// Results written by `make study`.
    #[arg(long, default_value = "bench/results/study.json")]
    results: PathBuf,
    /// Prices, each with its public source and date.
    #[arg(long, default_value = "bench/prices.toml")]
    prices: PathBuf,
    /// The Markdown report to write.
    #[arg(long, default_value = "docs/glue-costs.md")]
    out: PathBuf,
    /// Directory for the SVG plots.
    #[arg(long, default_value = "docs/glue-costs/")]
    plots: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    kiln_bench::report::generate(&a.results, &a.prices, &a.out, &a.plots)?;
    println!("wrote {} and plots in {}", a.out.display(), a.plots.display());
    Ok(())
}

//! The Markdown `--quality` prints: per format, the sweep (bytes, score and
//! encode time at each quality setting), bytes at fixed SSIMULACRA2 targets
//! (geometric mean over the photos) with kiln's size relative to each peer
//! and the kiln quality that reaches each target, and where kiln's default
//! lands; then kiln's AVIF by speed.

use super::formats::{avifdec, kiln_avif_at, Format};
use super::{Base, Curves, Point};
use std::path::Path;
use std::time::Instant;

/// SSIMULACRA2 scores the tables read the curves at (70: "high quality",
/// where web images aim; 80+: "very high").
const TARGETS: [f64; 5] = [60.0, 65.0, 70.0, 75.0, 80.0];

pub fn header(bases: &[Base]) {
    let photos: Vec<String> = bases.iter().map(|b| format!("{} ({}×{})", b.name, b.image.width, b.image.height)).collect();
    println!("# Bytes at equal SSIMULACRA2: kiln vs the reference encoders\n");
    println!("Photos, resized by vips to 2048 px on the long side (the base every encoder encodes): {}.", photos.join(", "));
    println!("Scores: the `ssimulacra2` crate on the decoded output against the base. ms: wall time of one encode, natively, one at a time (a tool's includes starting it and reading the base file).\n");
}

/// Bytes at `target` score, interpolating log(bytes) between the two points
/// around it; None outside the curve.
fn bytes_at(curve: &[Point], target: f64) -> Option<f64> {
    around(curve, target).map(|(a, b, t)| ((a.bytes as f64).ln() * (1.0 - t) + (b.bytes as f64).ln() * t).exp())
}

/// The quality setting that reaches `target`, interpolated linearly.
fn quality_at(curve: &[Point], target: f64) -> Option<f64> {
    around(curve, target).map(|(a, b, t)| a.quality as f64 * (1.0 - t) + b.quality as f64 * t)
}

/// The two points of the curve (sorted by score) around `target`, and where
/// the target lies between them (0..=1).
fn around(curve: &[Point], target: f64) -> Option<(&Point, &Point, f64)> {
    let mut points: Vec<&Point> = curve.iter().collect();
    points.sort_by(|a, b| a.score.total_cmp(&b.score));
    points.windows(2).find(|w| w[0].score <= target && target <= w[1].score).map(|w| {
        let t = (target - w[0].score) / (w[1].score - w[0].score).max(1e-9);
        (w[0], w[1], t)
    })
}

fn geomean(values: &[f64]) -> f64 {
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

fn percent(kiln: f64, peer: f64) -> String {
    format!("{:+.1} %", (kiln / peer - 1.0) * 100.0)
}

pub fn format_tables(format: &Format, bases: &[Base], curves: &Curves) {
    let labels: Vec<&str> = format.encoders.iter().map(|(l, _)| *l).collect();
    println!("## {}: kiln vs {}\n", format.name, labels[1..].join(", "));
    println!("{}\n", format.note);
    sweep_table(format, &labels, curves);
    target_table(&labels, curves, bases.len());
    default_line(format, bases, curves);
}

/// Per quality setting and encoder: bytes summed over the photos, mean
/// score, mean encode ms.
fn sweep_table(format: &Format, labels: &[&str], curves: &Curves) {
    println!("Each quality setting, over the {} photos: bytes summed / mean SSIMULACRA2 / mean encode ms.\n", curves.len());
    println!("| quality | {} |", labels.iter().map(|l| format!("{l} bytes / score / ms")).collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---|".repeat(labels.len()));
    for (q, quality) in format.qualities.iter().enumerate() {
        let cells: Vec<String> = (0..labels.len())
            .map(|e| {
                let points: Vec<&Point> = curves.iter().map(|photo| &photo[e][q]).collect();
                let bytes: u64 = points.iter().map(|p| p.bytes).sum();
                format!("{bytes} / {:.1} / {:.0}", mean(points.iter().map(|p| p.score)), mean(points.iter().map(|p| p.ms)))
            })
            .collect();
        println!("| {quality} | {} |", cells.join(" | "));
    }
    let times: Vec<String> = (0..labels.len())
        .map(|e| format!("{} {:.0} ms", labels[e], mean(curves.iter().flat_map(|photo| photo[e].iter().map(|p| p.ms)))))
        .collect();
    println!("\nMean encode time over all settings and photos: {}.\n", times.join(", "));
}

/// Per target score: kiln's quality setting and bytes, each peer's bytes
/// and kiln relative to it; geometric means over the photos where every
/// encoder's curve reaches the target.
fn target_table(labels: &[&str], curves: &Curves, photos: usize) {
    println!("Bytes at equal SSIMULACRA2: geometric mean over the photos whose curves all reach the target (interpolated in log(bytes)); kiln quality: the mean setting that reaches it; kiln vs peer: kiln's bytes relative to the peer's (negative = kiln smaller).\n");
    let peers: String = labels[1..].iter().map(|l| format!(" {l} bytes | kiln vs {l} |")).collect();
    println!("| SSIMULACRA2 | photos | kiln quality | kiln bytes |{peers}");
    println!("|---|---|---|---|{}", "---|---|".repeat(labels.len() - 1));
    for target in TARGETS {
        let reached: Vec<Vec<f64>> = curves
            .iter()
            .filter_map(|photo| photo.iter().map(|c| bytes_at(c, target)).collect::<Option<Vec<f64>>>())
            .collect();
        if reached.is_empty() {
            println!("| {target:.0} | 0/{photos} | – | – |{}", " – | – |".repeat(labels.len() - 1));
            continue;
        }
        let kiln_q = mean(curves.iter().filter(|photo| photo.iter().all(|c| bytes_at(c, target).is_some())).filter_map(|photo| quality_at(&photo[0], target)));
        let bytes: Vec<f64> = (0..labels.len()).map(|e| geomean(&reached.iter().map(|r| r[e]).collect::<Vec<_>>())).collect();
        let peers: String = bytes[1..].iter().map(|b| format!(" {b:.0} | {} |", percent(bytes[0], *b))).collect();
        println!("| {target:.0} | {}/{photos} | {kiln_q:.0} | {:.0} |{peers}", reached.len(), bytes[0]);
    }
    println!();
}

/// Where kiln's default quality lands on each photo.
fn default_line(format: &Format, bases: &[Base], curves: &Curves) {
    let Some(q) = format.qualities.iter().position(|&q| q == format.default_quality) else { return };
    let per_photo: Vec<String> = bases.iter().zip(curves).map(|(b, photo)| format!("{} {:.1}", b.name, photo[0][q].score)).collect();
    let bytes = geomean(&curves.iter().map(|photo| photo[0][q].bytes as f64).collect::<Vec<_>>());
    let score = mean(curves.iter().map(|photo| photo[0][q].score));
    println!("kiln's default quality {}: mean SSIMULACRA2 {score:.1} ({}), geometric-mean bytes {bytes:.0}.\n", format.default_quality, per_photo.join(", "));
}

/// kiln's AVIF at quality 60 for each libaom speed on one photo: what
/// `avif_speed` trades (native times; the component runs the same code in
/// wasm, ~3× slower: docs/benchmarks.md).
pub fn speed_table(base: &Base, dir: &Path) {
    println!("## AVIF: kiln at quality 60 by `avif_speed` (libaom cpu-used), natively, on {}\n", base.name);
    println!("| speed | bytes | SSIMULACRA2 | encode ms |");
    println!("|---|---|---|---|");
    let reference = base.pixels();
    for speed in [9u8, 8, 7, 6] {
        eprintln!("[AVIF] {}: kiln q60 speed {speed}", base.name);
        let out = dir.join(format!("kiln-speed{speed}.avif"));
        let started = Instant::now();
        kiln_avif_at(base, 60, speed, &out);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let bytes = std::fs::metadata(&out).expect("output").len();
        let score = super::score::ssimulacra2(&reference, &avifdec(&out), &out);
        println!("| {speed} | {bytes} | {score:.1} | {ms:.0} |");
    }
    println!();
}

//! `quality=auto` against fixed quality (`kiln-bench --auto-quality`, and
//! the end of `--quality`): for each photo and format, kiln's default
//! quality and the quality the auto search picks for a target, each output
//! decoded by the format's reference decoder and scored on the whole image,
//! so the table shows what the search's sample predicts against what the
//! full picture scores, the bytes saved and the search's time.

use super::formats::{Format, FORMATS};
use super::score::Pixels;
use super::Base;
use kiln_core::auto_quality::{choose, Choice, Sampling, DEFAULT_TARGET};
use kiln_core::encode::avif::{AvifEncoder, Chroma};
use kiln_core::encode::jpeg::JpegEncoder;
use kiln_core::encode::webp::WebpEncoder;
use std::path::Path;
use std::time::Instant;

/// One photo in one format: fixed default vs auto.
struct Row {
    photo: String,
    fixed: Measured,
    auto: Measured,
    choice: Choice,
}

/// An output at one quality: bytes, full-image score, encode ms.
struct Measured {
    quality: u32,
    bytes: u64,
    score: f64,
    ms: f64,
}

/// Prints the auto-quality tables for `bases` at `target`.
pub fn tables(bases: &[Base], dir: &Path, target: f32, sampling: &Sampling) {
    println!("## quality=auto: target SSIMULACRA2 {target} vs the fixed defaults\n");
    println!("Sample: up to {g} x {g} tiles of {t} px, aiming {m} points above the target.\n", g = sampling.grid, t = sampling.tile, m = sampling.margin);
    println!(
        "Each format's default quality, then the quality `quality=auto` picks for the target on the same 2048 px base. \
         Scores: the whole output, decoded by the format's reference decoder (dwebp, djpeg, avifdec), against the base; \
         `sample`: what the search scored on its sample of tiles. Search: its wall time, natively, before the output's own encode (`ms`).\n"
    );
    for format in &FORMATS {
        let rows: Vec<Row> = bases.iter().map(|base| row(format, base, dir, target, sampling)).collect();
        print_format(format, &rows, target);
    }
}

fn row(format: &Format, base: &Base, dir: &Path, target: f32, sampling: &Sampling) -> Row {
    eprintln!("[auto {}] {}", format.name, base.name);
    let choice = match format.name {
        "WebP" => choose(&WebpEncoder { quality: format.default_quality as f32, method: 4 }, &base.image, target, sampling),
        "JPEG" => choose(&JpegEncoder::new(format.default_quality as f32).expect("quality"), &base.image, target, sampling),
        _ => choose(&AvifEncoder::new(format.default_quality as f32, 9, Chroma::Yuv420).expect("settings"), &base.image, target, sampling),
    }
    .expect("auto quality search");
    let measure = |quality: u32| {
        let out = dir.join(format!("auto-{}-q{quality}.{}", format.name, format.ext));
        let started = Instant::now();
        (format.encoders[0].1)(base, quality, &out);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let bytes = std::fs::metadata(&out).expect("output").len();
        let decoded: Pixels = (format.decode)(&out);
        let score = super::score::ssimulacra2(&base.pixels(), &decoded, &out);
        std::fs::remove_file(&out).ok();
        Measured { quality, bytes, score, ms }
    };
    Row { photo: base.name.clone(), fixed: measure(format.default_quality), auto: measure(choice.quality as u32), choice }
}

fn print_format(format: &Format, rows: &[Row], target: f32) {
    println!("### {}: default quality {} vs auto\n", format.name, format.default_quality);
    println!("| photo | fixed: bytes / score | auto: quality / bytes / score (sample) | trials / search ms / encode ms | auto vs fixed bytes |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} / {:.1} | {} / {} / {:.1} ({:.1}) | {} / {:.0} / {:.0} | {:+.1} % |",
            r.photo,
            r.fixed.bytes,
            r.fixed.score,
            r.auto.quality,
            r.auto.bytes,
            r.auto.score,
            r.choice.score,
            r.choice.trials,
            r.choice.search.as_secs_f64() * 1000.0,
            r.auto.ms,
            (r.auto.bytes as f64 / r.fixed.bytes as f64 - 1.0) * 100.0
        );
    }
    let sum = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).sum::<f64>();
    let n = rows.len() as f64;
    let (fixed_bytes, auto_bytes) = (sum(&|r| r.fixed.bytes as f64), sum(&|r| r.auto.bytes as f64));
    let spread = |f: &dyn Fn(&Row) -> f64| {
        let v: Vec<f64> = rows.iter().map(f).collect();
        v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
    };
    println!(
        "\nOver the photos: auto's bytes {:+.1} % against fixed; full-image scores: fixed {:.1} (spread {:.1}), auto {:.1} (spread {:.1}, target {target}); \
         sample minus full score: mean {:+.1}; search {:.0} ms per image on average (the output's encode: {:.0} ms).\n",
        (auto_bytes / fixed_bytes - 1.0) * 100.0,
        sum(&|r| r.fixed.score) / n,
        spread(&|r| r.fixed.score),
        sum(&|r| r.auto.score) / n,
        spread(&|r| r.auto.score),
        sum(&|r| r.choice.score - r.auto.score) / n,
        sum(&|r| r.choice.search.as_secs_f64() * 1000.0) / n,
        sum(&|r| r.auto.ms) / n,
    );
}

/// The default target, for `--auto-quality` without `--target`.
pub const TARGET: f32 = DEFAULT_TARGET;

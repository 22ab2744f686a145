//! Bytes at equal quality (`kiln-bench --quality`, part of `make bench`):
//! for WebP, JPEG and AVIF, kiln's encoder against the format's reference
//! tools (cwebp; cjpeg from libjpeg-turbo; avifenc with libaom and with
//! rav1e) on the corpus photos, scored with SSIMULACRA2.
//!
//! Each photo's 2048 px base is what vips makes of it (a PNG, and a PPM for
//! cjpeg); every encoder encodes that same base over a range of quality
//! settings, one at a time and timed, then each output is decoded back and
//! scored against the base (scoring runs on all cores, after the timing).
//! Each encoder's curve (score, bytes) is interpolated at fixed scores,
//! linearly in log(bytes), so the tables compare bytes at equal quality
//! rather than at equal "quality" numbers, which mean different things to
//! each encoder (report.rs).

mod auto;
mod formats;
mod report;
mod score;

use formats::{Format, FORMATS};
use kiln_core::image::{Image, PixelLayout};
use score::{run, Pixels};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The photos measured by default, from the corpus' photos/.
const PHOTOS: [&str; 4] = ["colorfulcups-2560x1600.jpg", "eveningglow-2560x1600.jpg", "path-2560x1600.jpg", "path-4000x3000-12mp.jpg"];

/// One photo's 2048 px base, as pixels and as files for the tools.
pub struct Base {
    pub name: String,
    pub image: Image,
    pub png: PathBuf,
    pub ppm: PathBuf,
}

impl Base {
    fn pixels(&self) -> Pixels {
        (self.image.pixels.clone(), self.image.width, self.image.height)
    }
}

/// One encoded point of a curve.
pub struct Point {
    pub quality: u32,
    pub bytes: u64,
    pub score: f64,
    pub ms: f64,
}

/// The curves of one format: `curves[photo][encoder]`.
pub type Curves = Vec<Vec<Vec<Point>>>;

/// Runs the whole comparison on `image` (default: the corpus photos),
/// working in `dir`, and prints the tables as Markdown.
pub fn run_all(image: Option<&Path>, corpus: &Path, dir: &Path) {
    score::check_tools();
    let started = Instant::now();
    let bases = bases(image, corpus, dir);
    report::header(&bases);
    for format in &FORMATS {
        let curves: Curves = bases.iter().map(|base| format_curves(format, base, dir)).collect();
        report::format_tables(format, &bases, &curves);
    }
    report::speed_table(bases.last().expect("a photo"), dir);
    auto::tables(&bases, dir, auto::TARGET, &kiln_core::auto_quality::Sampling::DEFAULT);
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    println!("Run time of `--quality`: {minutes:.1} min.\n");
    eprintln!("--quality done in {minutes:.1} min");
    std::fs::remove_dir_all(dir).ok();
}

/// Only the `quality=auto` tables (`kiln-bench --auto-quality`), at `target`.
pub fn run_auto(image: Option<&Path>, corpus: &Path, dir: &Path, target: Option<f32>, sampling: &kiln_core::auto_quality::Sampling) {
    score::check_tools();
    let started = Instant::now();
    let bases = bases(image, corpus, dir);
    report::header(&bases);
    auto::tables(&bases, dir, target.unwrap_or(auto::TARGET), sampling);
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    println!("Run time of `--auto-quality`: {minutes:.1} min.\n");
    std::fs::remove_dir_all(dir).ok();
}

/// The 2048 px bases of `image`, or of the corpus photos.
fn bases(image: Option<&Path>, corpus: &Path, dir: &Path) -> Vec<Base> {
    let photos: Vec<PathBuf> = match image {
        Some(image) => vec![image.to_path_buf()],
        None => PHOTOS.iter().map(|p| corpus.join("photos").join(p)).collect(),
    };
    photos.iter().enumerate().map(|(i, p)| make_base(p, &dir.join(format!("photo{i}")))).collect()
}

fn make_base(photo: &Path, dir: &Path) -> Base {
    std::fs::create_dir_all(dir).expect("quality dir");
    let png = dir.join("base.png");
    let target = format!("{}[compression=1]", png.display());
    run("vipsthumbnail", &[photo.to_str().expect("path"), "-s", "2048", "-o", &target]);
    let (pixels, width, height) = score::read_png_rgb(&png);
    let ppm = dir.join("base.ppm");
    score::write_ppm(&ppm, &pixels, width, height);
    let name = photo.file_name().unwrap_or_default().to_string_lossy().into_owned();
    Base { name, image: Image { width, height, layout: PixelLayout::Rgb8, pixels }, png, ppm }
}

/// Every encoder's curve for one photo: all encodes first, one at a time
/// (timed), then all scores in parallel.
fn format_curves(format: &Format, base: &Base, dir: &Path) -> Vec<Vec<Point>> {
    let photo_dir = base.png.parent().unwrap_or(dir);
    let mut jobs = Vec::new();
    for (e, (label, encode)) in format.encoders.iter().enumerate() {
        for &quality in format.qualities {
            eprintln!("[{}] {}: {label} q{quality}", format.name, base.name);
            let out = photo_dir.join(format!("{}-q{quality}.{}", label.replace(' ', "-"), format.ext));
            let started = Instant::now();
            encode(base, quality, &out);
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            jobs.push((e, quality, out, ms));
        }
    }
    eprintln!("[{}] {}: scoring {} outputs", format.name, base.name, jobs.len());
    let scores = score_all(format, base, &jobs.iter().map(|j| j.2.clone()).collect::<Vec<_>>());
    let mut curves: Vec<Vec<Point>> = format.encoders.iter().map(|_| Vec::new()).collect();
    for ((e, quality, out, ms), score) in jobs.into_iter().zip(scores) {
        let bytes = std::fs::metadata(&out).expect("output").len();
        curves[e].push(Point { quality, bytes, score, ms });
        std::fs::remove_file(&out).ok();
    }
    curves
}

/// SSIMULACRA2 of each output against the base, on all cores.
fn score_all(format: &Format, base: &Base, outputs: &[PathBuf]) -> Vec<f64> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let reference = base.pixels();
    let mut scores = vec![0.0; outputs.len()];
    let chunk = outputs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (outs, slots) in outputs.chunks(chunk).zip(scores.chunks_mut(chunk)) {
            let reference = &reference;
            s.spawn(move || {
                for (out, slot) in outs.iter().zip(slots) {
                    *slot = score::ssimulacra2(reference, &(format.decode)(out), out);
                }
            });
        }
    });
    scores
}

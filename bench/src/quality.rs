//! Bytes at equal quality: kiln's AVIF encoder against avifenc with libaom
//! and with rav1e, scored with SSIMULACRA2 (`kiln-bench --quality`, part of
//! `make bench`).
//!
//! The 2048 px base is what vips makes of the photo (a PNG); every encoder
//! encodes that same base over a range of quality settings, each output is
//! decoded back with avifdec (dav1d) and scored against the base. Each
//! encoder's curve (score, bytes) is interpolated at fixed scores, linearly
//! in log(bytes), so the table compares bytes at equal quality rather than
//! at equal "quality" numbers, which mean different things to each encoder.

use kiln_core::encode::avif::{AvifEncoder, Chroma};
use kiln_core::encode::Encoder;
use kiln_core::image::{Image, PixelLayout};
use ssimulacra2::{compute_frame_ssimulacra2, ColorPrimaries, Rgb, TransferCharacteristic};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// SSIMULACRA2 scores the table reads the curves at (70: high quality, the
/// range web images aim at; 80+: very high).
const TARGETS: [f64; 4] = [60.0, 70.0, 75.0, 80.0];
/// kiln / avifenc quality settings on libavif's 0-100 scale.
const QUALITIES: [u32; 7] = [35, 45, 55, 60, 65, 75, 85];

/// One encoded point of a curve.
struct Point {
    quality: u32,
    bytes: u64,
    score: f64,
    ms: f64,
}

fn read_png_rgb(path: &Path) -> (Vec<u8>, u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("PNG")));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    buf.truncate(info.buffer_size());
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        other => panic!("{}: unexpected PNG colour type {other:?}", path.display()),
    };
    (rgb, info.width, info.height)
}

fn frame(rgb: &[u8], width: u32, height: u32) -> Rgb {
    let data = rgb.chunks_exact(3).map(|p| [p[0] as f32 / 255.0, p[1] as f32 / 255.0, p[2] as f32 / 255.0]).collect();
    Rgb::new(data, width as usize, height as usize, TransferCharacteristic::SRGB, ColorPrimaries::BT709).expect("frame")
}

/// SSIMULACRA2 of the AVIF at `avif` against the base, decoding with avifdec.
fn score(base: &(Vec<u8>, u32, u32), avif: &Path) -> f64 {
    let png = avif.with_extension("decoded.png");
    run("avifdec", &[avif.to_str().expect("path"), png.to_str().expect("path")]);
    let (rgb, w, h) = read_png_rgb(&png);
    assert_eq!((w, h), (base.1, base.2), "{} decodes to another size", avif.display());
    compute_frame_ssimulacra2(frame(&base.0, base.1, base.2), frame(&rgb, w, h)).expect("SSIMULACRA2")
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    let status = status.unwrap_or_else(|e| panic!("{program}: {e} (scripts/setup.sh --study installs it)"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// The curve of one encoder: `encode(quality, out)` writes the file.
fn curve(base: &(Vec<u8>, u32, u32), dir: &Path, name: &str, encode: &dyn Fn(u32, &Path)) -> Vec<Point> {
    QUALITIES
        .iter()
        .map(|&quality| {
            let out = dir.join(format!("{name}-q{quality}.avif"));
            let started = Instant::now();
            encode(quality, &out);
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let bytes = std::fs::metadata(&out).expect("output").len();
            Point { quality, bytes, score: score(base, &out), ms }
        })
        .collect()
}

/// kiln's encoder at quality 60 for each libaom speed: what `avif_speed`
/// trades (native times; the component runs the same code in wasm, ~3×
/// slower: docs/benchmarks.md).
fn speed_table(base: &(Vec<u8>, u32, u32), image: &Image, dir: &Path) {
    println!("\nkiln at quality 60 by `avif_speed` (libaom cpu-used), natively:\n");
    println!("| speed | bytes | SSIMULACRA2 | encode ms |");
    println!("|---|---|---|---|");
    for speed in [9u8, 8, 7, 6] {
        let encoder = AvifEncoder::new(60.0, speed, Chroma::Yuv420).expect("settings");
        let started = Instant::now();
        let bytes = encoder.encode(image).expect("kiln AVIF");
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let out = dir.join(format!("kiln-speed{speed}.avif"));
        std::fs::write(&out, &bytes).expect("write");
        println!("| {speed} | {} | {:.1} | {ms:.0} |", bytes.len(), score(base, &out));
    }
}

/// Bytes at `target` score, interpolating log(bytes) between the two points
/// around it; None outside the curve.
fn bytes_at(curve: &[Point], target: f64) -> Option<f64> {
    let mut points: Vec<&Point> = curve.iter().collect();
    points.sort_by(|a, b| a.score.total_cmp(&b.score));
    points.windows(2).find(|w| w[0].score <= target && target <= w[1].score).map(|w| {
        let t = (target - w[0].score) / (w[1].score - w[0].score).max(1e-9);
        ((w[0].bytes as f64).ln() * (1.0 - t) + (w[1].bytes as f64).ln() * t).exp()
    })
}

pub fn run_avif(photo: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("quality dir");
    let base_png = dir.join("base.png");
    run("vipsthumbnail", &[photo.to_str().expect("path"), "-s", "2048", "-o", &format!("{}[compression=1]", base_png.display())]);
    let base = read_png_rgb(&base_png);
    let image = Image { width: base.1, height: base.2, layout: PixelLayout::Rgb8, pixels: base.0.clone() };

    let kiln = curve(&base, dir, "kiln", &|q, out| {
        let encoder = AvifEncoder::new(q as f32, 9, Chroma::Yuv420).expect("settings");
        std::fs::write(out, encoder.encode(&image).expect("kiln AVIF")).expect("write");
    });
    let base_path = base_png.as_path();
    let avifenc = |codec: &'static str, speed: &'static str| {
        move |q: u32, out: &Path| {
            // libavif's quality -> quantizer mapping, the one kiln uses.
            let quantizer = AvifEncoder::new(q as f32, 9, Chroma::Yuv420).expect("settings").quantizer().to_string();
            let (png, out) = (base_path.to_str().expect("path"), out.to_str().expect("path"));
            run("avifenc", &["-c", codec, "-s", speed, "--min", &quantizer, "--max", &quantizer, "-y", "420", "-j", "1", png, out]);
        }
    };
    let aom = curve(&base, dir, "avifenc-aom", &avifenc("aom", "9"));
    let rav1e = curve(&base, dir, "avifenc-rav1e", &avifenc("rav1e", "10"));

    let name = photo.file_name().unwrap_or_default().to_string_lossy();
    println!("## AVIF bytes at equal SSIMULACRA2: kiln vs avifenc\n");
    println!("{name}, resized by vips to {}×{}. kiln: the core natively (libaom 3.11, all-intra, speed 9, 4:2:0; the component runs the same code in wasm). avifenc 0.11 (Debian): `-c aom -s 9` (libaom 3.6) and `-c rav1e -s 10` (rav1e 0.5), `-y 420 -j 1`, at libavif's quantizer for each quality. Scores: the `ssimulacra2` crate on avifdec's decode. ms: wall time of one encode (avifenc's includes reading the PNG).\n", base.1, base.2);
    println!("| quality | kiln bytes / score / ms | avifenc aom bytes / score / ms | avifenc rav1e bytes / score / ms |");
    println!("|---|---|---|---|");
    for i in 0..QUALITIES.len() {
        let cell = |p: &Point| format!("{} / {:.1} / {:.0}", p.bytes, p.score, p.ms);
        println!("| {} | {} | {} | {} |", kiln[i].quality, cell(&kiln[i]), cell(&aom[i]), cell(&rav1e[i]));
    }
    speed_table(&base, &image, dir);
    println!("\n| SSIMULACRA2 | kiln bytes | avifenc aom bytes | kiln ÷ aom | avifenc rav1e bytes | kiln ÷ rav1e |");
    println!("|---|---|---|---|---|---|");
    let fmt = |b: Option<f64>| b.map_or("–".to_string(), |b| format!("{b:.0}"));
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map_or("–".to_string(), |(a, b)| format!("{:.3}", a / b));
    for target in TARGETS {
        let (k, a, r) = (bytes_at(&kiln, target), bytes_at(&aom, target), bytes_at(&rav1e, target));
        println!("| {target:.0} | {} | {} | {} | {} | {} |", fmt(k), fmt(a), ratio(k, a), fmt(r), ratio(k, r));
    }
    println!();
}

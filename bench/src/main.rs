//! `make bench`: converts one image (default: the 12 MP corpus photo) with
//! each kiln component under a real `spin up` (128 MiB instances, stage
//! times from `Server-Timing`) and with the same core natively in this
//! process, `--runs` times each, side by side; prints medians, min–max,
//! the wasm/native ratio per stage and the output sizes as Markdown.
//!
//! `kiln-bench --headline`: one upload against the native libvips chain,
//! and each format against vips and its reference encoder (headline.rs).
//!
//! `kiln-bench --quality`: WebP, JPEG and AVIF bytes at equal SSIMULACRA2
//! against cwebp, cjpeg and avifenc on the corpus photos (quality/).
//!
//! `kiln-bench --capacity`: capacity on paper (docs/scaling.md) from the
//! committed results, bench/results/study.json and load.json, and the
//! key-value operations of kiln's upload logic (capacity.rs).
//!
//! `kiln-bench --progressive`: kiln's progressive JPEG decoder against
//! jpeg-decoder and djpeg, natively and in the thumbnail component
//! (progressive.rs).
//!
//! `kiln-bench --fanout`: the upload path instead — `POST /v1/images`
//! latency for each fan-out width (converters in flight at once) and Spin
//! host thread count (`TOKIO_WORKER_THREADS`), and meanwhile the latency of
//! a tiny request to the same app, to show queueing behind CPU-bound work.

use clap::Parser;
use kiln_core::encode::{avif::{AvifEncoder, Chroma}, jpeg::JpegEncoder, png::PngEncoder, webp::WebpEncoder, Encoder};
use kiln_core::{convert, ConvertOptions, Limits};
use kiln_e2e::{corpus, Stack};
use std::path::PathBuf;

mod capacity;
mod fanout;
mod headline;
mod progressive;
mod quality;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Image to convert (default: the corpus' 12 MP photo).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Repetitions per component and path.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Measure fan-out width x host threads on the upload path instead.
    #[arg(long)]
    fanout: bool,
    /// One upload's four variants against the native libvips chain, then
    /// each format against vips and its reference encoder, instead.
    #[arg(long)]
    headline: bool,
    /// WebP, JPEG and AVIF bytes at equal SSIMULACRA2, kiln vs cwebp, cjpeg
    /// and avifenc (aom, rav1e), on the corpus photos (or --image), instead.
    #[arg(long)]
    quality: bool,
    /// quality=auto against the fixed defaults on the corpus photos (or
    /// --image): bytes, full-image scores and search time (also the end of
    /// --quality), instead.
    #[arg(long)]
    auto_quality: bool,
    /// The SSIMULACRA2 target of --auto-quality (default 70).
    #[arg(long)]
    target: Option<f32>,
    /// --auto-quality's sample: tile side (px), tiles per side, and the
    /// points above the target it aims at (default: kiln's).
    #[arg(long)]
    sample_tile: Option<u32>,
    #[arg(long)]
    sample_grid: Option<u32>,
    #[arg(long)]
    sample_margin: Option<f32>,
    /// Capacity on paper (docs/scaling.md) from bench/results/study.json and
    /// load.json and the upload logic's key-value operations, instead.
    #[arg(long)]
    capacity: bool,
    /// kiln's progressive JPEG decoder against jpeg-decoder and djpeg at
    /// 1/2, 1/4 and 1/8, natively and under spin up, instead.
    #[arg(long)]
    progressive: bool,
}

const STAGES: [&str; 4] = ["decode", "resize", "encode", "total"];

/// The components with the settings the benchmark stacks give them
/// ([`kiln_bench::FOUR_VARIANTS`]: the native chain's).
fn components() -> Vec<(&'static str, &'static str, u32, Box<dyn Encoder>)> {
    vec![
        ("webp", "/v1/convert/webp", 2048, Box::new(WebpEncoder::new(80.0).unwrap())),
        ("avif", "/v1/convert/avif", 2048, Box::new(AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap())),
        ("jpeg", "/v1/convert/jpeg", 2048, Box::new(JpegEncoder::new(82.0).unwrap())),
        ("thumbnail", "/v1/thumbnail", 256, Box::new(PngEncoder)),
    ]
}

/// Stage durations in ms, in STAGES order.
type Sample = [f64; 4];

fn parse_server_timing(header: &str) -> Sample {
    let stages: Vec<(String, f64)> = kiln_core::timing::durations(header).collect();
    let get = |name: &str| {
        stages.iter().find(|(n, _)| n == name).map(|(_, ms)| *ms).unwrap_or_else(|| panic!("Server-Timing {header:?} lacks {name}"))
    };
    STAGES.map(get)
}

fn native_sample(input: &[u8], side: u32, encoder: &dyn Encoder) -> (Sample, usize) {
    let started = Instant::now();
    let options = ConvertOptions { max_long_side: side, limits: Limits::default(), metadata: Default::default() };
    let out = convert(input.to_vec(), &options, encoder).expect("native conversion");
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let t = out.timings;
    ([ms(t.decode), ms(t.resize), ms(t.encode), ms(started.elapsed())], out.bytes.len())
}

fn spin_sample(stack: &Stack, route: &str, input: &[u8]) -> (Sample, f64, usize) {
    let started = Instant::now();
    let reply = stack.convert(route, input);
    let client_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(reply.status, 200, "{route}: {}", String::from_utf8_lossy(&reply.body));
    (parse_server_timing(reply.header("server-timing").unwrap()), client_ms, reply.body.len())
}

fn median(mut v: Vec<f64>) -> f64 {
    median_of(&mut v)
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn spread(v: &[f64]) -> String {
    let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    format!("{lo:.1}–{hi:.1}")
}

fn main() {
    let args = Args::parse();
    if args.quality {
        let dir = std::env::temp_dir().join(format!("kiln-quality-{}", std::process::id()));
        return quality::run_all(args.image.as_deref(), &corpus(), &dir);
    }
    if args.auto_quality {
        let dir = std::env::temp_dir().join(format!("kiln-auto-quality-{}", std::process::id()));
        let default = kiln_core::auto_quality::Sampling::DEFAULT;
        let sampling = kiln_core::auto_quality::Sampling {
            tile: args.sample_tile.unwrap_or(default.tile),
            grid: args.sample_grid.unwrap_or(default.grid),
            margin: args.sample_margin.unwrap_or(default.margin),
        };
        return quality::run_auto(args.image.as_deref(), &corpus(), &dir, args.target, &sampling);
    }
    if args.progressive {
        return progressive::run(&corpus(), args.runs);
    }
    let path = args.image.clone().unwrap_or_else(|| corpus().join("photos/path-4000x3000-12mp.jpg"));
    let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if args.fanout {
        return fanout::run(&input, &path, args.runs);
    }
    if args.headline {
        return headline::run(&input, &path, args.runs);
    }
    if args.capacity {
        return capacity::run(&input, &path, &kiln_e2e::repo_root().join("bench/results"));
    }
    eprintln!("starting kiln-store and spin up ...");
    let stack = Stack::start_with("bench", &kiln_bench::FOUR_VARIANTS);

    println!("## {} ({} bytes), {} runs each, medians (min–max) in ms\n", path.file_name().unwrap().to_string_lossy(), input.len(), args.runs);
    println!("| component | stage | spin up (wasm) | native | wasm/native |");
    println!("|---|---|---|---|---|");
    let mut sizes = Vec::new();
    for (name, route, side, encoder) in components() {
        spin_sample(&stack, route, &input); // warm-up: module compile cache, page cache
        let (mut wasm, mut native, mut client) = (Vec::new(), Vec::new(), Vec::new());
        let (mut wasm_size, mut native_size) = (0, 0);
        // Interleave the two paths so machine noise hits both alike.
        for _ in 0..args.runs {
            let (w, c, size) = spin_sample(&stack, route, &input);
            wasm.push(w);
            client.push(c);
            wasm_size = size;
            let (n, size) = native_sample(&input, side, encoder.as_ref());
            native.push(n);
            native_size = size;
        }
        for (i, stage) in STAGES.iter().enumerate() {
            let w: Vec<f64> = wasm.iter().map(|s| s[i]).collect();
            let n: Vec<f64> = native.iter().map(|s| s[i]).collect();
            let (wm, nm) = (median(w.clone()), median(n.clone()));
            println!("| {name} | {stage} | {wm:.1} ({}) | {nm:.1} ({}) | {:.2}x |", spread(&w), spread(&n), wm / nm);
        }
        println!("| {name} | client round trip | {:.1} ({}) | | |", median(client.clone()), spread(&client));
        sizes.push((name, wasm_size, native_size));
    }
    println!("\n| component | output bytes (spin) | output bytes (native) |");
    println!("|---|---|---|");
    for (name, w, n) in sizes {
        println!("| {name} | {w} | {n} |");
    }
}

//! `kiln-bench --headline`, the first table of `make bench`: one upload's
//! four variants, kiln against what a user would script with libvips, side
//! by side in one run, alternating, `--runs` times each after a warm-up.
//!
//! - **kiln**: a one-shot `POST /v1/images` under `spin up` (the host
//!   threads `make up` sets), from the first byte sent to the finished
//!   manifest; CPU seconds are those of the spin and kiln-store process
//!   groups (/proc), what a FaaS bill and the store would charge.
//! - **native chain**: `vipsthumbnail` four times in sequence with
//!   `VIPS_CONCURRENCY=1` (`vips thumbnail`, the study's runner): WebP Q80, AVIF Q60 effort 0 (libaom), progressive
//!   JPEG Q82 (each 2048 px) and a 256 px PNG; CPU seconds are the
//!   children's user + system time.
//!
//! Then, per format, each kiln component in direct mode next to `vips
//! thumbnail` to that format (decode, resize, encode) and next to the
//! format's own encoder on the same 2048 px base (cwebp, avifenc with
//! libaom, cjpeg), and the fast variants' manifest time against their own
//! work (does a JPEG wait behind the AVIF encode?).

use kiln_bench::load::cpu::group_seconds;
use kiln_bench::study::{settings::VARIANTS, tools};
use kiln_e2e::Stack;
use std::path::Path;
use std::time::Instant;

/// The host threads `make up` gives Spin (scripts/up.sh): 4 per core, at
/// least 8; `TOKIO_WORKER_THREADS` in the environment overrides it.
pub fn host_threads() -> String {
    if let Ok(n) = std::env::var("TOKIO_WORKER_THREADS") {
        return n;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 4).max(8).to_string()
}

struct Upload {
    /// The stored original's key.
    original: String,
    wall_s: f64,
    cpu_s: f64,
    /// Manifest `ms` and stages per variant format.
    variant_ms: Vec<(String, f64, serde_json::Value)>,
}

fn kiln_upload(stack: &Stack, input: &[u8]) -> Upload {
    let groups = [stack.spin_pid().expect("spin runs"), stack.store_pid()];
    let cpu = || groups.iter().map(|&g| group_seconds(g)).sum::<f64>();
    let cpu_before = cpu();
    let started = Instant::now();
    let reply = stack.post("/v1/images?filename=photo.jpg", "image/jpeg", input, Some(&stack.token));
    assert_eq!(reply.status, 201, "POST /v1/images: {}", String::from_utf8_lossy(&reply.body));
    let wall_s = started.elapsed().as_secs_f64();
    let manifest = reply.json();
    assert_eq!(manifest["status"], "done", "{manifest}");
    let variant_ms = manifest["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| (v["format"].as_str().unwrap_or("?").to_string(), v["ms"].as_f64().unwrap_or(f64::NAN), v["stages"].clone()))
        .collect();
    for v in manifest["variants"].as_array().into_iter().flatten() {
        eprintln!("upload: {} {} ms, stages {}", v["format"], v["ms"], v["stages"]);
    }
    let original = manifest["original"]["key"].as_str().expect("original key").to_string();
    Upload { original, wall_s, cpu_s: cpu() - cpu_before, variant_ms }
}

/// user + system CPU seconds of this process' waited-for children
/// (fields cutime and cstime of /proc/self/stat, in USER_HZ = 100 ticks/s).
fn children_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 1..].split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("tick count");
    (ticks(13) + ticks(14)) / 100.0
}

/// One run of the native chain: wall seconds, CPU seconds, and per
/// format (seconds, output bytes).
type ChainRun = (f64, f64, Vec<(f64, u64)>);

/// One native chain: the four outputs as `vips thumbnail` makes them
/// (the study's runner: study::tools, same settings as kiln's defaults):
/// (wall s, CPU s, per-step (wall s, output bytes)).
fn native_chain(input: &Path, dir: &Path) -> ChainRun {
    let cpu_before = children_cpu_s();
    let started = Instant::now();
    let steps = VARIANTS
        .iter()
        .map(|v| {
            let (done, bytes) = tools::vips_variant(input, v, dir).expect("vips (make bench installs it: scripts/setup.sh --study)");
            (done.wall_ms / 1000.0, bytes)
        })
        .collect();
    (started.elapsed().as_secs_f64(), children_cpu_s() - cpu_before, steps)
}

fn median(mut v: Vec<f64>) -> f64 {
    crate::median_of(&mut v)
}

/// A kiln component alone in storage mode, the work it does in an upload
/// (fetch the original, convert, store the variant): client ms.
fn component_alone(stack: &Stack, route: &str, key: &str) -> f64 {
    let started = Instant::now();
    let reply = stack.convert_key(route, key);
    assert_eq!(reply.status, 200, "{route}: {}", String::from_utf8_lossy(&reply.body));
    started.elapsed().as_secs_f64() * 1000.0
}

/// A kiln component in direct mode: (its Server-Timing total ms, encode ms, bytes).
fn component(stack: &Stack, route: &str, input: &[u8]) -> (f64, f64, u64) {
    let (sample, _, bytes) = crate::spin_sample(stack, route, input);
    (sample[3], sample[2], bytes as u64)
}

pub fn run(input: &[u8], path: &Path, runs: usize) {
    let threads = host_threads();
    eprintln!("starting kiln-store and spin up (TOKIO_WORKER_THREADS={threads}) ...");
    let stack = Stack::start_with("bench-headline", &[&[("TOKIO_WORKER_THREADS", threads.as_str())][..], &kiln_bench::FOUR_VARIANTS[..]].concat());
    let dir = stack.dir.join("native");
    std::fs::create_dir_all(&dir).expect("native output dir");

    // Warm-up: module compilation, page cache, both paths.
    kiln_upload(&stack, input);
    native_chain(path, &dir);
    let (mut kiln, mut chain) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        kiln.push(kiln_upload(&stack, input));
        chain.push(native_chain(path, &dir));
    }
    let kiln_wall = median(kiln.iter().map(|u| u.wall_s).collect());
    let kiln_cpu = median(kiln.iter().map(|u| u.cpu_s).collect());
    let chain_wall = median(chain.iter().map(|c| c.0).collect());
    let chain_cpu = median(chain.iter().map(|c| c.1).collect());
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    println!("## Headline: one upload's four variants, kiln vs the native chain\n");
    println!("{name} ({} bytes), {runs} runs each, alternating, medians; kiln with TOKIO_WORKER_THREADS={threads}.\n", input.len());
    println!("| | kiln (spin up, POST /v1/images) | native chain (4 × vipsthumbnail) | kiln ÷ native |");
    println!("|---|---|---|---|");
    println!("| wall time, s | {kiln_wall:.2} | {chain_wall:.2} | **{:.2}×** |", kiln_wall / chain_wall);
    println!("| CPU seconds per upload | {kiln_cpu:.2} (spin + store) | {chain_cpu:.2} | **{:.2}×** |", kiln_cpu / chain_cpu);
    println!();
    println!("HEADLINE wall_ratio={:.2} cpu_ratio={:.2}\n", kiln_wall / chain_wall, kiln_cpu / chain_cpu);

    per_format(&stack, input, path, &dir, runs, &kiln, &chain);
}

/// The per-format table and the fast variants' waiting.
fn per_format(stack: &Stack, input: &[u8], path: &Path, dir: &Path, runs: usize, kiln: &[Upload], chain: &[ChainRun]) {
    // The base the reference encoders start from, as vips makes it (untimed).
    tools::decode_resize(path, dir).expect("vips");
    tools::base_png(path, dir).expect("vips");
    println!("## Per format: kiln components vs libvips and the reference encoders\n");
    println!("Medians of {runs} runs, ms. kiln = the component in direct mode under spin up (Server-Timing `total`: decode, resize, encode; `encode` alone in brackets). vips = one `vips thumbnail` to that format from the chain above. Encoder = the format's own tool on vips' 2048 px base (reading it included): cwebp -q 80, avifenc -c aom -s 9 --min 25 --max 25 -y 420, cjpeg -quality 82 -progressive -optimize.\n");
    println!("| format | kiln total (encode) | vips | kiln ÷ vips | encoder | kiln encode ÷ encoder | bytes kiln / vips / encoder |");
    println!("|---|---|---|---|---|---|---|");
    let routes = [("webp", "/v1/convert/webp"), ("avif", "/v1/convert/avif"), ("jpeg", "/v1/convert/jpeg"), ("thumbnail", "/v1/thumbnail")];
    let mut own_work = Vec::new();
    for (i, (format, route)) in routes.iter().enumerate() {
        component(stack, route, input); // warm-up
        let (mut totals, mut encodes, mut tool, mut alone) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut bytes = (0, 0);
        for _ in 0..runs {
            alone.push(component_alone(stack, route, &kiln[0].original));
            let (total, encode, b) = component(stack, route, input);
            totals.push(total);
            encodes.push(encode);
            bytes.0 = b;
            if *format != "thumbnail" {
                let (done, b) = tools::encode(format, dir).expect("reference encoder");
                tool.push(done.wall_ms);
                bytes.1 = b;
            }
        }
        let (total, encode) = (median(totals), median(encodes));
        let vips = median(chain.iter().map(|c| c.2[i].0 * 1000.0).collect());
        let vips_bytes = chain.last().map_or(0, |c| c.2[i].1);
        let (tool_cell, ratio_cell, tool_bytes) = if tool.is_empty() {
            ("–".to_string(), "–".to_string(), "–".to_string())
        } else {
            let t = median(tool);
            (format!("{t:.0}"), format!("{:.2}×", encode / t), bytes.1.to_string())
        };
        println!("| {format} | {total:.0} ({encode:.0}) | {vips:.0} | {:.2}× | {tool_cell} | {ratio_cell} | {} / {vips_bytes} / {tool_bytes} |", total / vips, bytes.0);
        own_work.push((format.to_string(), median(alone)));
    }

    println!("\n## Does a fast variant wait for the slow ones?\n");
    println!("The manifest's `ms` per variant in the uploads above (fetch, convert and store, while the other three run) against the same work alone (the component in storage mode on the stored original, nothing else running), and where the upload's time went, from the converter's stages (medians, ms).\n");
    println!("| format | manifest ms | alone ms | ratio | fetch | decode + resize + encode | store | chaining |");
    println!("|---|---|---|---|---|---|---|---|");
    for (format, own) in own_work {
        let of = |pick: &dyn Fn(f64, &serde_json::Value) -> f64| {
            median(kiln.iter().filter_map(|u| u.variant_ms.iter().find(|(f, _, _)| *f == format).map(|(_, ms, st)| pick(*ms, st))).collect())
        };
        let stage = |st: &serde_json::Value, names: &[&str]| names.iter().map(|n| st[*n].as_f64().unwrap_or(0.0)).sum::<f64>();
        let in_upload = of(&|ms, _| ms);
        let fetch = of(&|_, st| stage(st, &["fetch"]));
        let compute = of(&|_, st| stage(st, &["decode", "resize", "encode"]));
        let store = of(&|_, st| stage(st, &["store"]));
        let chaining = of(&|_, st| stage(st, &["chaining"]));
        println!("| {format} | {in_upload:.0} | {own:.0} | {:.2}× | {fetch:.0} | {compute:.0} | {store:.0} | {chaining:.0} |", in_upload / own);
    }
    println!();
}

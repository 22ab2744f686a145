//! `kiln-bench --progressive`: kiln's own progressive JPEG decoder
//! (kiln_core::decode::progressive) against jpeg-decoder's scaled decode
//! (what kiln used before, which keeps every coefficient) and libjpeg-turbo's
//! `djpeg -scale 1/s` (native C with SIMD, process start included), on
//! corpus photos made progressive by `jpegtran -progressive` (libjpeg's
//! scan script), at 1/2, 1/4 and 1/8; runs alternate between the three.
//! Then the same photo through the thumbnail component under `spin up`,
//! progressive and baseline, for the decode stage in wasm.

use kiln_core::decode::progressive::{decode_scaled, working_bytes};
use kiln_core::estimate::phases::jpeg_blocks;
use kiln_core::probe::probe;
use kiln_e2e::images::jpegtran_progressive;
use kiln_e2e::Stack;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const PHOTOS: &[&str] = &["photos/path-4000x3000-12mp.jpg", "photos/fallenleaf-4958x6198-31mp.jpg"];

fn ms(f: impl FnOnce()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64() * 1000.0
}

fn jpeg_decoder_scaled(bytes: &[u8], (w, h): (u32, u32), s: u32) -> usize {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().unwrap();
    decoder.scale(w.div_ceil(s) as u16, h.div_ceil(s) as u16).unwrap();
    decoder.decode().unwrap().len()
}

fn djpeg(file: &Path, s: u32) {
    let status = Command::new("djpeg").args(["-scale", &format!("1/{s}"), "-outfile", "/dev/null"]).arg(file).status().expect("djpeg");
    assert!(status.success());
}

pub fn run(corpus: &Path, runs: usize) {
    let dir = std::env::temp_dir().join(format!("kiln-progressive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("## Progressive JPEG decode, shrink-on-load: kiln vs jpeg-decoder vs djpeg (native, medians of {runs}, ms)\n");
    println!("| photo | scale | kiln | jpeg-decoder | djpeg (libjpeg-turbo) | kiln / jpeg-decoder | kiln / djpeg | kiln holds | all coefficients |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut files = Vec::new();
    for rel in PHOTOS {
        let bytes = jpegtran_progressive(&std::fs::read(corpus.join(rel)).unwrap());
        let file = dir.join(Path::new(rel).file_name().unwrap());
        std::fs::write(&file, &bytes).unwrap();
        let info = probe(&bytes).unwrap();
        let all: u64 = jpeg_blocks(&info).iter().map(|(w, h)| (w * h * 128) as u64).sum();
        for s in [2, 4, 8] {
            let (mut kiln, mut theirs, mut native) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                kiln.push(ms(|| drop(decode_scaled(&bytes, s, u64::MAX).unwrap())));
                theirs.push(ms(|| {
                    jpeg_decoder_scaled(&bytes, (info.width, info.height), s);
                }));
                native.push(ms(|| djpeg(&file, s)));
            }
            let (k, t, n) = (crate::median(kiln), crate::median(theirs), crate::median(native));
            let held = working_bytes(&jpeg_blocks(&info), s);
            println!("| {} | 1/{s} | {k:.0} | {t:.0} | {n:.0} | {:.2}× | {:.2}× | {:.1} MB | {:.1} MB |", rel, k / t, k / n, held as f64 / 1e6, all as f64 / 1e6);
        }
        files.push((rel, bytes));
    }
    println!("\n## The thumbnail component under spin up: decode stage (Server-Timing), medians of {runs}, ms\n");
    println!("| photo | progressive (kiln's decoder) | baseline (jpeg-decoder) | ratio |");
    println!("|---|---|---|---|");
    let stack = Stack::start_with("bench-progressive", &kiln_bench::FOUR_VARIANTS);
    for (rel, progressive) in files {
        let baseline = std::fs::read(corpus.join(rel)).unwrap();
        let decode = |bytes: &[u8]| {
            let reply = stack.convert("/v1/thumbnail", bytes);
            assert_eq!(reply.status, 200, "{rel}: {}", String::from_utf8_lossy(&reply.body));
            crate::parse_server_timing(reply.header("server-timing").unwrap())[0]
        };
        decode(&progressive); // warm-up
        let (mut p, mut b) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            p.push(decode(&progressive));
            b.push(decode(&baseline));
        }
        let (p, b) = (crate::median(p), crate::median(b));
        println!("| {rel} | {p:.0} | {b:.0} | {:.2}× |", p / b);
    }
    std::fs::remove_dir_all(&dir).ok();
}

//! `make study`: measures the glue kiln's serverless shape costs, per stage,
//! over the corpus photos, next to the baselines, all in one run:
//! - kiln under `spin up`: each component alone ([`kiln::direct`]), the
//!   one-shot upload in split and combined (decode-once) mode, and the tus
//!   path ([`kiln`]);
//! - the machine-offload baseline, a worker process cold-started per
//!   upload ([`offload`]);
//! - the same core natively, one process per conversion ([`native`]);
//! - libvips and the per-format reference encoders ([`tools`]).
//!
//! Paths are interleaved within every repetition so machine noise hits all
//! alike. The results go to `bench/results/study.json` ([`record`]), from
//! which [`crate::report`] writes docs/glue-costs.md.

pub mod kiln;
pub mod machine;
pub mod native;
pub mod offload;
pub mod proc;
pub mod record;
pub mod settings;
pub mod tools;

use anyhow::{ensure, Context, Result};
use kiln_e2e::{corpus, Stack};
use record::{Key, Results};
use settings::VARIANTS;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// (corpus photo, size class). `--quick` takes the first two.
pub const INPUTS: [(&str, &str); 3] = [
    ("photos/path-2560x1600.jpg", "4 MP"),
    ("photos/path-4000x3000-12mp.jpg", "12 MP"),
    ("photos/fallenleaf-4958x6198-31mp.jpg", "31 MP"),
];

pub struct Plan {
    pub quick: bool,
    pub runs: usize,
    /// Scratch folder for tool outputs.
    pub scratch: PathBuf,
}

struct Photo {
    name: String,
    path: PathBuf,
    bytes: Vec<u8>,
}

/// Runs every path `plan.runs` times over the inputs.
pub fn measure(plan: &Plan) -> Result<Results> {
    check_tools()?;
    std::fs::create_dir_all(&plan.scratch)?;
    let inputs = if plan.quick { &INPUTS[..2] } else { &INPUTS[..] };
    let mut r = Results::new(if plan.quick { "quick" } else { "full" }, plan.runs as u32);
    let mut photos = Vec::new();
    for (rel, class) in inputs {
        let path = corpus().join(rel);
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        let info = kiln_core::probe::probe(&bytes)?;
        let name = path.file_name().expect("file name").to_string_lossy().into_owned();
        r.inputs.push(record::Input { name: name.clone(), class: class.to_string(), width: info.width, height: info.height, bytes: bytes.len() as u64 });
        photos.push(Photo { name, path, bytes });
    }
    r.machine = machine::describe(tools::versions());

    eprintln!("study: starting kiln-store + spin up (split and combined mode)");
    let split = Stack::start_with("study", &crate::FOUR_VARIANTS);
    let combined = Stack::start_with("study-combined", &[&[("SPIN_VARIABLE_CONVERSION_MODE", "combined")][..], &crate::FOUR_VARIANTS[..]].concat());
    let offload = offload::options(&split, offload::worker_bin()?);
    warm_up(&split, &combined, &photos)?;

    let started = Instant::now();
    for run in 0..plan.runs {
        for photo in &photos {
            eprintln!("study: run {}/{} · {} · {:.0} s so far", run + 1, plan.runs, photo.name, started.elapsed().as_secs_f64());
            let input = photo.name.as_str();
            native_paths(&mut r, photo)?;
            kiln::direct(&split, &mut r, input, &photo.bytes)?;
            with_queueing(&split, &mut r, input, "kiln-oneshot", |r| kiln::oneshot(&split, r, input, &photo.bytes, "kiln-oneshot"))?;
            with_queueing(&combined, &mut r, input, "kiln-combined", |r| kiln::oneshot(&combined, r, input, &photo.bytes, "kiln-combined"))?;
            kiln::tus(&split, &mut r, input, &photo.bytes)?;
            offload::upload(&offload, &mut r, input, &photo.bytes, run)?;
            tool_paths(&mut r, photo, &plan.scratch)?;
        }
    }
    add_estimates(&mut r, &photos);
    r.derive_sum("decode_resize", &["probe", "decode", "resize"]);
    r.finish();
    r.generated = now_utc();
    Ok(r)
}

fn check_tools() -> Result<()> {
    for tool in ["vips", "vipsthumbnail", "cwebp", "avifenc", "cjpeg"] {
        let found = Command::new(tool).arg("--help").stdin(std::process::Stdio::null()).output().is_ok();
        ensure!(found, "{tool} not found: `scripts/setup.sh --study` installs the reference tools (libvips-tools, webp, libavif-bin, libjpeg-turbo-progs)");
    }
    if !Path::new("/usr/bin/time").exists() {
        anyhow::bail!("/usr/bin/time (GNU time) not found: `scripts/setup.sh --study` installs it (Debian package time)");
    }
    Ok(())
}

/// One unrecorded pass of the kiln paths: compiles and caches the
/// components and warms the page cache before anything is timed.
fn warm_up(split: &Stack, combined: &Stack, photos: &[Photo]) -> Result<()> {
    eprintln!("study: warm-up");
    let mut scratch = Results::default();
    for p in photos {
        kiln::direct(split, &mut scratch, &p.name, &p.bytes)?;
        kiln::oneshot(split, &mut scratch, &p.name, &p.bytes, "kiln-oneshot")?;
        kiln::oneshot(combined, &mut scratch, &p.name, &p.bytes, "kiln-combined")?;
    }
    Ok(())
}

/// Runs `upload` while a second thread sends trivial requests (405 from a
/// converter) to the same app every 25 ms; records the slowest as
/// `queueing`: how long a request waits behind CPU-bound neighbours.
fn with_queueing(stack: &Stack, r: &mut Results, input: &str, path: &str, upload: impl FnOnce(&mut Results) -> Result<()>) -> Result<()> {
    let done = AtomicBool::new(false);
    let (outcome, worst) = std::thread::scope(|s| {
        let prober = s.spawn(|| {
            let mut worst: f64 = 0.0;
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let reply = stack.tus("GET", "/v1/convert/jpeg", &[], &[]);
                worst = worst.max(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(reply.status, 405, "probe request");
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            worst
        });
        let outcome = upload(r);
        done.store(true, Ordering::Relaxed);
        (outcome, prober.join().expect("prober"))
    });
    outcome?;
    r.time(Key { input, path, variant: "upload" }, "queueing", worst);
    Ok(())
}

/// The core natively: each variant in its own process, then all four in
/// one process decoding once (the lower bound of an upload).
fn native_paths(r: &mut Results, photo: &Photo) -> Result<()> {
    let me = std::env::current_exe()?;
    for variant in VARIANTS.iter().copied().chain(["upload"]) {
        let mut cmd = Command::new(&me);
        cmd.arg("native-child").arg(&photo.path).arg(variant);
        let done = proc::run(cmd)?;
        let report = native::parse(&done.stdout)?;
        let k = Key { input: &photo.name, path: "native", variant };
        for (stage, ms) in &report.stages {
            match stage.split_once('-') {
                Some((v, stage)) => r.time(Key { variant: v, ..k }, &format!("upload_{stage}"), *ms),
                None => r.time(k, stage, *ms),
            }
        }
        r.memory(k, "rss", done.peak_rss_bytes, None);
        if variant != "upload" {
            for (v, size) in report.sizes {
                r.output(Key { variant: &v, ..k }, size);
            }
        }
    }
    Ok(())
}

/// libvips per format, then the decode+resize step and the reference encoders.
fn tool_paths(r: &mut Results, photo: &Photo, scratch: &Path) -> Result<()> {
    let input = photo.name.as_str();
    for variant in VARIANTS {
        let (done, size) = tools::vips_variant(&photo.path, variant, scratch)?;
        let k = Key { input, path: "vips", variant };
        r.time(k, "total", done.wall_ms);
        r.memory(k, "rss", done.peak_rss_bytes, None);
        r.output(k, size);
    }
    let base = tools::decode_resize(&photo.path, scratch)?;
    tools::base_png(&photo.path, scratch)?;
    for variant in ["webp", "avif", "jpeg"] {
        let (done, size) = tools::encode(variant, scratch)?;
        let k = Key { input, path: "tools", variant };
        r.time(k, "decode_resize", base.wall_ms);
        r.time(k, "encode", done.wall_ms);
        r.time(k, "total", base.wall_ms + done.wall_ms);
        r.memory(k, "rss", done.peak_rss_bytes.max(base.peak_rss_bytes), None);
        r.output(k, size);
    }
    let (done, size) = tools::vipsthumbnail(&photo.path, scratch)?;
    let k = Key { input, path: "tools", variant: "thumbnail" };
    r.time(k, "total", done.wall_ms);
    r.memory(k, "rss", done.peak_rss_bytes, None);
    r.output(k, size);
    Ok(())
}

/// The core's pre-decode estimate next to every peak it governs: the
/// per-format components' linear memory.
fn add_estimates(r: &mut Results, photos: &[Photo]) {
    for m in &mut r.memory {
        // The estimate bounds the conversion's own memory, which a component's
        // linear memory is; a native process' RSS adds the binary and libc.
        let governed = m.kind == "linear-memory" && m.path != "kiln-combined" && VARIANTS.contains(&m.variant.as_str());
        if let (true, Some(photo)) = (governed, photos.iter().find(|p| p.name == m.input)) {
            m.estimate_bytes = native::estimate(&photo.bytes, &m.variant);
        }
    }
}

fn now_utc() -> String {
    proc::version("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
}

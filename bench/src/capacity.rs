//! `kiln-bench --capacity`: docs/scaling.md's numbers, capacity on paper
//! from what was measured, nothing new timed:
//! - each component's seconds per upload: the glue-cost study's one-shot
//!   uploads (`bench/results/study.json`): CPU seconds (probe + decode +
//!   resize + encode; for the manifest, receiving and storing the original)
//!   and seconds an instance is held (the converter's whole request; for the
//!   manifest, the whole upload);
//! - today's single-machine throughput: `make load` (`bench/results/load.json`);
//! - the key-value operations of one upload, counted by running kiln's own
//!   upload logic (one-shot and tus) on the in-memory store.
//!
//! Little's law: busy workers = uploads per second × seconds each. Replicas
//! of one CPU are sized to run at most [`UTILISATION`] busy (the HPA target
//! in deploy/kiln-avif.yaml); hosted Spin's key-value limits per app bound
//! the uploads per second one app sustains, whatever its replicas.

use futures::executor::block_on;
use kiln_bench::report::markdown::{fmt_count, table};
use kiln_bench::report::results::{Input, Machine, Study};
use kiln_upload::memory::{MemWorld, StateCalls};
use kiln_upload::record::UploadRecord;
use kiln_upload::tokens::TokenRequest;
use kiln_upload::tus::{Begun, NewUpload};
use kiln_upload::UploadConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Replicas are sized to be at most this busy.
const UTILISATION: f64 = 0.7;
/// Hosted Spin's key-value limits per app (Akamai Functions quotas and limits).
const KV_READS_PER_S: f64 = 1000.0;
const KV_WRITES_PER_S: f64 = 50.0;
/// The converters, as the study names their variants, and their components.
const CONVERTERS: [(&str, &str); 4] = [("webp", "convert-webp"), ("avif", "convert-avif"), ("jpeg", "convert-jpeg"), ("thumbnail", "thumbnail")];
/// Multiples of today's throughput the tables size for.
const FACTORS: [f64; 3] = [1.0, 10.0, 1000.0];
/// tus chunk size of the upload page and the study.
const CHUNK: usize = 5 << 20;

/// Busy workers at `rate` arrivals per second of `seconds` each (Little's law).
fn busy(rate: f64, seconds: f64) -> f64 {
    rate * seconds
}

/// One-CPU replicas that keep `rate` × `cpu_seconds` at most [`UTILISATION`] busy.
fn replicas(rate: f64, cpu_seconds: f64) -> u64 {
    ((busy(rate, cpu_seconds) / UTILISATION) - 1e-9).ceil().max(1.0) as u64
}

/// Key-value operations, as a Spin app makes them: a compare-and-swap reads
/// the current value, then writes (crates/spin/src/kv.rs).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct KvOps {
    reads: u64,
    writes: u64,
}

impl KvOps {
    fn of(c: StateCalls) -> KvOps {
        KvOps { reads: c.gets + c.swaps, writes: c.swaps + c.deletes }
    }

    fn since(self, before: KvOps) -> KvOps {
        KvOps { reads: self.reads - before.reads, writes: self.writes - before.writes }
    }

    fn sum(parts: &[KvOps]) -> KvOps {
        parts.iter().fold(KvOps::default(), |t, p| KvOps { reads: t.reads + p.reads, writes: t.writes + p.writes })
    }

    /// The most uploads per second one app's key-value limits allow, and
    /// which limit binds.
    fn bound(self) -> (f64, &'static str) {
        let by_reads = KV_READS_PER_S / self.reads.max(1) as f64;
        let by_writes = KV_WRITES_PER_S / self.writes.max(1) as f64;
        if by_writes <= by_reads { (by_writes, "writes") } else { (by_reads, "reads") }
    }

    /// Apps (each with its own key-value store) that `rate` uploads per
    /// second need under those limits.
    fn apps(self, rate: f64) -> u64 {
        (rate / self.bound().0 - 1e-9).ceil().max(1.0) as u64
    }
}

fn ops(world: &MemWorld) -> KvOps {
    KvOps::of(world.state.calls())
}

/// Writes that recorded one more variant: the pipeline commits each as it arrives.
fn variant_writes(world: &MemWorld) -> usize {
    let records = world.state.writes().into_iter().filter_map(|(_, value)| serde_json::from_slice::<UploadRecord>(&value).ok());
    let variants = records.map(|r| r.manifest.variants.len());
    variants.scan(0, |last, n| Some(std::mem::replace(last, n) < n)).filter(|grew| *grew).count()
}

/// A one-shot upload's operations, the store's event for its original, and
/// how many of the upload's writes recorded a variant.
fn one_shot_ops(image: &[u8]) -> (KvOps, KvOps, usize) {
    let world = MemWorld::new(1, 0.0);
    let kiln = world.instance(UploadConfig::default());
    let manifest = block_on(kiln.post_image(Some("photo.jpg"), image.to_vec(), None)).expect("the one-shot upload runs");
    assert_eq!(manifest.status, kiln_upload::Status::Done);
    let upload = ops(&world);
    let key = &manifest.original.key;
    let event = serde_json::json!({"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": "kiln"}, "object": {"key": key}}}]});
    let accepted = block_on(kiln.accept_events(event.to_string().as_bytes())).expect("the event is accepted");
    assert!(accepted.work.is_empty(), "a finished upload is not driven again");
    (upload, ops(&world).since(upload), variant_writes(&world))
}

/// A scoped upload token's operations: issuing it, then spending its one upload.
fn token_ops() -> KvOps {
    let world = MemWorld::new(3, 0.0);
    let kiln = world.instance(UploadConfig::default());
    let (_, grant) = block_on(kiln.issue_upload_token("master", &TokenRequest::default())).expect("a token is issued");
    block_on(kiln.spend_upload_token(&grant)).expect("its upload is spent");
    ops(&world)
}

/// A tus upload's operations in PATCHes of `chunk` bytes: creation, every
/// PATCH, and what runs after the last one (assembly, variants, manifest).
fn tus_ops(image: &[u8], chunk: usize) -> [KvOps; 3] {
    let world = MemWorld::new(2, 0.0);
    let kiln = world.instance(UploadConfig::default());
    block_on(async {
        let new = NewUpload { length: Some(image.len() as u64), ..NewUpload::default() };
        let id = kiln.tus_create(new).await.expect("creation").view.id;
        let created = ops(&world);
        let mut work = None;
        for (n, piece) in image.chunks(chunk).enumerate() {
            let Begun::Locked(ticket) = kiln.tus_begin(&id, (n * chunk) as u64, Some(piece.len() as u64)).await.expect("begin") else {
                panic!("PATCH {n} did not take the lock")
            };
            work = kiln.tus_commit(ticket, piece, None).await.expect("commit").work;
        }
        let patched = ops(&world);
        let manifest = kiln.run(work.expect("the last PATCH hands over the work")).await.expect("the tus upload runs");
        assert_eq!(manifest.status, kiln_upload::Status::Done);
        [created, patched.since(created), ops(&world).since(patched)]
    })
}

/// `make load`'s results, as far as capacity needs them.
#[derive(Deserialize)]
struct Load {
    date: String,
    command: String,
    machine: Machine,
    plan: LoadPlan,
    runs: Vec<LoadRun>,
}

#[derive(Deserialize)]
struct LoadPlan {
    uploads: usize,
    tus_percent: usize,
    photos: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct LoadRun {
    threads: String,
    uploads_per_s: f64,
    cpu: LoadCpu,
}

#[derive(Deserialize)]
struct LoadCpu {
    machine_busy_s: f64,
    available_s: f64,
}

impl Load {
    fn read(path: &Path) -> Load {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e} (make load writes it)", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Today's throughput: the run with the most uploads per second.
    fn best(&self) -> &LoadRun {
        self.runs.iter().max_by(|a, b| a.uploads_per_s.total_cmp(&b.uploads_per_s)).expect("load.json has runs")
    }
}

/// One component's seconds per upload of one input.
struct Seconds {
    component: &'static str,
    /// On a CPU: what replicas are sized by.
    cpu: f64,
    /// In an instance, waiting on storage included: instances in flight.
    held: f64,
}

/// Each component's seconds per one-shot upload of `input` (medians).
fn seconds(study: &Study, input: &str) -> Option<Vec<Seconds>> {
    let s = |variant: &str, stage: &str| study.timing(input, "kiln-oneshot", variant, stage).map(|t| t.median / 1000.0);
    let manifest = Seconds { component: "manifest", cpu: s("upload", "dispatch")? + s("upload", "store_original")?, held: s("upload", "total")? };
    let mut out = vec![manifest];
    for (variant, component) in CONVERTERS {
        let cpu = ["probe", "decode", "resize", "encode"].iter().filter_map(|stage| s(variant, stage)).sum();
        out.push(Seconds { component, cpu, held: s(variant, "total")? });
    }
    Some(out)
}

fn total_cpu(seconds: &[Seconds]) -> f64 {
    seconds.iter().map(|s| s.cpu).sum()
}

fn fmt_rate(rate: f64) -> String {
    if rate >= 100.0 { fmt_count(rate) } else { format!("{rate:.2}") }
}

/// "replicas (instances in flight)" for `seconds`, summed, at `rate`.
fn cell(rate: f64, seconds: &[Seconds]) -> String {
    let replicas: u64 = seconds.iter().map(|s| replicas(rate, s.cpu)).sum();
    let in_flight: f64 = seconds.iter().map(|s| busy(rate, s.held).ceil()).sum();
    format!("{} ({})", fmt_count(replicas as f64), fmt_count(in_flight))
}

/// Per component of one input: seconds, then replicas (instances in flight) per rate.
fn component_table(input: &Input, seconds: &[Seconds], today: f64) -> String {
    let mut headers = vec!["component".to_string(), "CPU s".into(), "held s".into()];
    headers.extend(FACTORS.iter().map(|f| format!("{}×: {} /s", fmt_count(*f), fmt_rate(today * f))));
    let row = |name: &str, cpu: f64, held: String, of: &[Seconds]| {
        let mut row = vec![name.to_string(), format!("{cpu:.3}"), held];
        row.extend(FACTORS.iter().map(|f| cell(today * f, of)));
        row
    };
    let mut rows: Vec<Vec<String>> = seconds.iter().map(|s| row(s.component, s.cpu, format!("{:.2}", s.held), std::slice::from_ref(s))).collect();
    rows.push(row("all", total_cpu(seconds), String::new(), seconds));
    format!("#### {} ({}, {} bytes)\n\n{}", input.class, input.name, input.bytes, table(&headers, &rows))
}

/// Key-value operations of the uploads docs/scaling.md discusses.
struct KvCounts {
    one_shot: KvOps,
    /// The store's event for an original kiln stored (when notifications are on).
    event: KvOps,
    /// Of the one-shot's writes, those that recorded a variant.
    variant_writes: usize,
    /// A scoped upload token for one upload, issued and spent.
    token: KvOps,
    /// (what, PATCHes, [creation, PATCHes, after the last PATCH]).
    tus: Vec<(String, usize, [KvOps; 3])>,
}

impl KvCounts {
    fn count(image: &[u8], name: &str) -> KvCounts {
        let (one_shot, event, variant_writes) = one_shot_ops(image);
        let mut largest = image.to_vec();
        largest.resize(UploadConfig::default().max_upload_bytes as usize, 0);
        let cases = [(format!("tus, {name}, 5 MiB PATCHes"), image, CHUNK), (format!("tus, {name}, 1 MiB PATCHes"), image, 1 << 20), ("tus, 40 MiB (Tus-Max-Size), 5 MiB PATCHes".to_string(), &largest[..], CHUNK)];
        let tus = cases.into_iter().map(|(what, bytes, chunk)| (what, bytes.len().div_ceil(chunk), tus_ops(bytes, chunk))).collect();
        KvCounts { one_shot, event, variant_writes, token: token_ops(), tus }
    }

    /// The tus upload of the photo in 5 MiB PATCHes, in total.
    fn tus_total(&self) -> KvOps {
        KvOps::sum(&self.tus[0].2)
    }
}

fn kv_table(kv: &KvCounts, name: &str) -> String {
    let headers = ["upload", "PATCHes", "reads", "writes", "writes: creation + PATCHes + after the last", "most uploads/s per app", "bound by"].map(String::from);
    let row = |what: String, patches: String, ops: KvOps, split: String| {
        let (bound, by) = ops.bound();
        vec![what, patches, ops.reads.to_string(), ops.writes.to_string(), split, format!("{bound:.1}"), by.to_string()]
    };
    let mut rows = vec![row(format!("one-shot, {name}"), "–".into(), kv.one_shot, "–".into())];
    for (what, patches, phases) in &kv.tus {
        let split = phases.map(|p| p.writes.to_string()).join(" + ");
        rows.push(row(what.clone(), patches.to_string(), KvOps::sum(phases), split));
    }
    let extra = |what: &str, ops: KvOps| vec![what.into(), "–".into(), format!("+{}", ops.reads), format!("+{}", ops.writes), "–".into(), "–".into(), "–".into()];
    rows.push(extra("the store's event for the original (when notifications are on)", kv.event));
    rows.push(extra("a scoped upload token, issued and spent (browsers)", kv.token));
    table(&headers, &rows)
}

/// What each multiple of today's throughput asks of replicas and of the key-value store.
fn summary(today: f64, photo: Option<&[Seconds]>, kv: &KvCounts) -> String {
    let headers = ["× today", "uploads/s", "1-CPU replicas (in flight)", "KV reads/s, writes/s: one-shot", "tus", "hosted apps for KV: one-shot / tus"].map(String::from);
    let per_s = |rate: f64, ops: KvOps| format!("{}, {}", fmt_count(rate * ops.reads as f64), fmt_count(rate * ops.writes as f64));
    let tus = kv.tus_total();
    let rows = FACTORS
        .iter()
        .map(|f| {
            let rate = today * f;
            let replicas = photo.map_or("–".into(), |s| cell(rate, s));
            let apps = format!("{} / {}", kv.one_shot.apps(rate), tus.apps(rate));
            vec![format!("{}×", fmt_count(*f)), fmt_rate(rate), replicas, per_s(rate, kv.one_shot), per_s(rate, tus), apps]
        })
        .collect::<Vec<_>>();
    table(&headers, &rows)
}

fn intro(study: &Study, load: &Load, image_path: &Path, image: &[u8]) -> String {
    let m = &study.machine;
    let best = load.best();
    let photos: Vec<String> = load.plan.photos.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
    let mut out = format!(
        "Inputs: bench/results/study.json (make study, {}) and bench/results/load.json ({}, {}), both measured on a {}-core {}, {:.0} GiB, {}, {}; key-value operations counted on kiln's upload logic (crates/upload, in-memory store) with {} ({} bytes).\n\n",
        study.generated, load.command, load.date, m.cores, m.cpu, m.memory_gib, m.os, m.spin.split(" (").next().unwrap_or_default(),
        image_path.file_name().unwrap_or_default().to_string_lossy(), image.len()
    );
    let busy_share = best.cpu.machine_busy_s / best.cpu.available_s * 100.0;
    out += &format!(
        "Today's single-machine throughput: **{:.2} uploads/s** (make load: {} uploads at once, {} % tus, photos {}; best run, host threads {}; machine CPU {busy_share:.0} % busy; {} cores).\n\n",
        best.uploads_per_s, load.plan.uploads, load.plan.tus_percent, photos.join(", "), best.threads, load.machine.cores
    );
    out
}

/// What the formula says one machine like today's sustains, per input.
fn machine_check(study: &Study, cores: u32) -> String {
    let per: Vec<String> = study
        .inputs_by_size()
        .into_iter()
        .filter_map(|i| seconds(study, &i.name).map(|s| format!("{}: {:.2} uploads/s ({:.3} CPU s each)", i.class, f64::from(cores) / total_cpu(&s), total_cpu(&s))))
        .collect();
    format!("Check: by Little's law {cores} cores fully busy sustain {cores} ÷ CPU seconds per upload: {}.\n\n", per.join("; "))
}

pub fn run(image: &[u8], image_path: &Path, results: &Path) {
    let study = Study::load(&results.join("study.json")).unwrap_or_else(|e| panic!("{e} (make study writes it)"));
    let load = Load::read(&results.join("load.json"));
    let today = load.best().uploads_per_s;
    println!("## Capacity on paper\n");
    print!("{}", intro(&study, &load, image_path, image));
    print!("{}", machine_check(&study, load.machine.cores));
    println!("### Replicas per component\n");
    println!(
        "Seconds per one-shot upload (medians): CPU s = probe + decode + resize + encode (manifest: dispatch + store_original); held s = the converter's request (manifest: the whole upload). Cells: 1-CPU replicas at {:.0} % CPU (instances in flight), at multiples of today's throughput.\n",
        UTILISATION * 100.0
    );
    for input in study.inputs_by_size() {
        if let Some(s) = seconds(&study, &input.name) {
            println!("{}", component_table(input, &s, today));
        }
    }
    let name = image_path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let kv = KvCounts::count(image, &name);
    println!("### Key-value operations per upload\n");
    println!(
        "A compare-and-swap counts as one read and one write. Hosted Spin allows {} reads/s and {} writes/s per app.\n",
        fmt_count(KV_READS_PER_S),
        fmt_count(KV_WRITES_PER_S)
    );
    println!("{}", kv_table(&kv, &name));
    let (_, patches, [_, p, _]) = &kv.tus[0];
    println!(
        "Of the one-shot's {} writes, {} record one variant each as it arrives; each PATCH writes {} times (it takes the upload's lock, then appends its chunk).\n",
        kv.one_shot.writes,
        kv.variant_writes,
        p.writes as f64 / *patches as f64
    );
    println!("### At 1×, 10× and 1,000× today\n");
    let photo = seconds(&study, &name);
    println!("Replicas for uploads of {name}; key-value rates for its one-shot and tus (5 MiB PATCHes) uploads.\n");
    print!("{}", summary(today, photo.as_deref(), &kv));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_follow_littles_law_at_the_target_utilisation() {
        // 2 uploads/s × 0.35 s = 0.7 busy CPUs: exactly one replica at 70 %.
        assert_eq!(replicas(2.0, 0.35), 1);
        assert_eq!(replicas(2.0, 0.36), 2);
        // 1,000 uploads/s × 0.5 s = 500 busy CPUs → 500 / 0.7 = 714.3 → 715.
        assert_eq!(replicas(1000.0, 0.5), 715);
        assert_eq!(replicas(0.001, 0.1), 1, "at least one replica");
        assert_eq!(busy(4.0, 0.25), 1.0);
    }

    #[test]
    fn the_key_value_bound_is_the_tighter_limit() {
        assert_eq!(KvOps { reads: 10, writes: 5 }.bound(), (10.0, "writes"));
        assert_eq!(KvOps { reads: 500, writes: 1 }.bound(), (2.0, "reads"));
        let ten_per_s = KvOps { reads: 10, writes: 5 };
        assert_eq!((ten_per_s.apps(1.0), ten_per_s.apps(10.0), ten_per_s.apps(10.5), ten_per_s.apps(2169.0)), (1, 1, 2, 217));
        assert_eq!(KvOps::of(StateCalls { gets: 3, swaps: 2, deletes: 1 }), KvOps { reads: 5, writes: 3 });
    }

    /// A small JPEG followed by zeros: the upload logic probes only the
    /// header, and the in-memory converters do not decode.
    fn image(bytes: usize) -> Vec<u8> {
        let mut jpeg = Vec::new();
        let encoder = jpeg_encoder::Encoder::new(&mut jpeg, 90);
        encoder.encode(&[128; 64 * 48 * 3], 64, 48, jpeg_encoder::ColorType::Rgb).unwrap();
        jpeg.resize(bytes.max(jpeg.len()), 0);
        jpeg
    }

    #[test]
    fn counting_runs_kilns_upload_logic() {
        let (one_shot, event, variants) = one_shot_ops(&image(0));
        assert_eq!(variants, 4, "one write per variant (webp, avif, jpeg, thumbnail)");
        assert!(one_shot.reads > 0 && one_shot.writes >= 4, "a write per variant at least: {one_shot:?}");
        assert!(event.reads > 0 && event.writes == 0, "an event for a finished upload only reads: {event:?}");
        assert!(token_ops().writes >= 2, "issuing and spending a token both write");
        let one = tus_ops(&image(300 << 10), 1 << 20);
        let three = tus_ops(&image(600 << 10), 256 << 10);
        assert_eq!(one[0], three[0], "creation does not depend on the size");
        assert!(one[1].writes > 0 && three[1].writes == 3 * one[1].writes, "writes grow by PATCH: {one:?} {three:?}");
        assert!(one[2].writes >= 4, "a write per variant at least: {:?}", one[2]);
    }
}

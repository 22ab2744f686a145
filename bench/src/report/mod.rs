//! The glue-cost report: turns the study results (`bench/results/study.json`)
//! and the cited prices (`bench/prices.toml`) into `docs/glue-costs.md` with
//! SVG plots. Every figure in the output comes from one of those two files.

pub mod cost;
pub mod economics;
pub mod latency;
pub mod markdown;
pub mod plots;
pub mod prices;
pub mod results;

use anyhow::Context;
use markdown::{fmt_usd, strings, table};
use prices::{Cite, Prices};
use results::{Input, Study};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Reads `results` and `prices`, writes the report to `out_md` and its SVG
/// plots into `plots_dir`.
pub fn generate(results: &Path, prices: &Path, out_md: &Path, plots_dir: &Path) -> anyhow::Result<()> {
    let study = Study::load(results)?;
    let prices = Prices::load(prices)?;
    std::fs::create_dir_all(plots_dir).with_context(|| format!("creating {}", plots_dir.display()))?;
    let link_base = relative_dir(out_md, plots_dir);
    let mut md = header(&study, results, &prices);
    md += &method(&study);
    md += &machine(&study);
    md += &price_table(&prices);
    let inputs = study.inputs_by_size();
    let costs: Vec<_> = inputs.iter().map(|i| economics::input_costs(&study, i, &prices)).collect();
    for input in &inputs {
        md += &measurements(&study, input, &prices, plots_dir, &link_base)?;
    }
    md += &cost_model_intro(&prices);
    for c in &costs {
        md += &cost_section(&study, c, &prices, plots_dir, &link_base)?;
    }
    md += "## Conclusion\n\n";
    let previous = results.with_file_name("study-previous.json");
    if previous.exists() {
        md += &changes(&Study::load(&previous)?, &study, &prices);
    }
    for (input, c) in inputs.iter().zip(&costs) {
        md += &latency::conclusion(&study, input, &prices);
        md += "\n\n";
        md += &economics::conclusion(c, &prices);
        md += "\n\n";
    }
    md += &caveats();
    if let Some(dir) = out_md.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out_md, md).with_context(|| format!("writing {}", out_md.display()))
}

/// How this run differs from the previous one kept beside it
/// (`study-previous.json`, the results the last committed report was made
/// from): per input, the one-shot upload, wasm against native and the
/// tools, and the FaaS-vs-machine cost.
fn changes(before: &Study, now: &Study, prices: &Prices) -> String {
    let mut out = format!("**Since the previous run** ({}, kept in bench/results/study-previous.json), per input, before → now:\n\n", before.generated);
    let oneshot = |s: &Study, input: &str| s.timing(input, "kiln-oneshot", "upload", "total").map(|t| t.median / 1000.0);
    let sum = |s: &Study, input: &str, path: &str, formats: &[&str]| -> Option<f64> {
        formats.iter().map(|v| s.timing(input, path, v, "total").map(|t| t.median)).sum()
    };
    let web = ["webp", "avif", "jpeg"];
    for input in now.inputs_by_size() {
        let Some(old_input) = before.inputs.iter().find(|i| i.name == input.name) else { continue };
        let (Some(b), Some(n)) = (oneshot(before, &input.name), oneshot(now, &input.name)) else { continue };
        out += &format!("- **{}**: one-shot upload {b:.2} s → {n:.2} s ({})", input.class, markdown::fmt_ratio(n / b));
        let vs_tools = |s: &Study| Some(sum(s, &input.name, "kiln-direct", &web)? / sum(s, &input.name, "tools", &web)?);
        if let (Some(b), Some(n)) = (vs_tools(before), vs_tools(now)) {
            out += &format!("; WebP + AVIF + JPEG against libvips + cwebp/avifenc/cjpeg {} → {}", markdown::fmt_ratio(b), markdown::fmt_ratio(n));
        }
        let (cb, cn) = (economics::input_costs(before, old_input, prices), economics::input_costs(now, input, prices));
        if let (Some((_, _, fb)), Some((_, _, fn_))) = (cb.faas_reference(), cn.faas_reference()) {
            out += &format!("; FaaS {} → {} per 1,000 uploads", fmt_usd(fb.total() * 1000.0), fmt_usd(fn_.total() * 1000.0));
            let cheapest_vm = |c: &economics::InputCosts, faas: f64| c.vm.iter().map(|r| r.cost.total() / faas).min_by(f64::total_cmp);
            if let (Some(vb), Some(vn)) = (cheapest_vm(&cb, fb.total()), cheapest_vm(&cn, fn_.total())) {
                out += &format!("; the cheapest VM per conversion {} → {} of FaaS", markdown::fmt_ratio(vb), markdown::fmt_ratio(vn));
            }
        }
        out += ".\n";
    }
    out + "\n"
}

/// What the numbers do not say, in words (not figures).
fn caveats() -> String {
    "## Caveats\n\n\
- One machine with few cores runs everything: Spin, the four converters of a split upload, kiln-store and the \
  offload worker's four threads share its cores, so the split design's converters queue behind each other \
  (see `queueing`, and `store`/`fetch` stretched by waiting for a core). On a host with a core per instance, \
  the split design's wall time approaches its slowest format; the billed time does not change. Spin does not \
  preempt a CPU-bound guest: `TOKIO_WORKER_THREADS` above the core count removes most of the queueing \
  (docs/benchmarks.md, fan-out study).\n\
- `vips` writes AVIF through libheif + libaom (`effort=0`), as kiln does (libaom, speed 9, 4:2:0) since issue 11. \
  `tools` uses `avifenc -c aom` at kiln's quantizer for the same quality, reading a PNG of the resized image; \
  `cwebp` and `cjpeg` read a PPM. Their `encode` includes reading that file.\n\
- The FaaS price is AWS Lambda arm64 as a proxy: hosted Spin publishes no price. Lambda bills a 128 MiB \
  function a fraction of a vCPU, so the same work would run longer there; the \"@ 1,769 MiB\" lines price the \
  measured times at one full vCPU.\n\
- The offload baseline measures a process cold start, not a VM boot; boots are the cited figures from \
  bench/prices.toml. The worker keeps uplodr's shape: one thread per variant, each decoding the original.\n\
- S3 request counts for the kiln paths follow the code paths (one-shot: original, four variants and \
  manifest.json PUT, one GET per converter; tus adds a PUT per chunk, the multipart calls and a DELETE per chunk).\n\n"
        .to_string()
}

/// How the Markdown file refers to the plots directory.
fn relative_dir(out_md: &Path, plots_dir: &Path) -> PathBuf {
    let base = out_md.parent().unwrap_or(Path::new(""));
    plots_dir.strip_prefix(base).map(Path::to_path_buf).unwrap_or_else(|_| plots_dir.to_path_buf())
}

fn slug(input: &Input) -> String {
    let s: String = input.class.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if s.is_empty() { input.name.replace('.', "-") } else { format!("{s}-{}", input.width) }
}

fn header(study: &Study, results: &Path, prices: &Prices) -> String {
    format!(
        "# Glue costs: kiln on Spin vs a machine per conversion\n\n\
         > **Generated file — do not edit.** Produced by `make study` from `{}` (run {}, mode `{}`, {} repetitions) \
         and `bench/prices.toml` (checked {}). Regenerate the report alone with\n\
         > `cargo run --release -p kiln-bench --bin kiln-study -- --report-only`.\n\
         > Every figure below comes from those two files.\n\n",
        shown(results), study.generated, study.mode, study.runs, prices.meta.checked
    )
}

/// `path` relative to the working directory when it lies below it (the
/// report should not name the machine's checkout).
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

fn method(study: &Study) -> String {
    let mut s = String::from("## Method\n\n");
    s += "Paths measured (each on the same machine, in the same run):\n\n\
- `kiln-oneshot` — `POST /v1/images` under `spin up`: the manifest component stores the original and fans out to one Spin component per format (the plain design).\n\
- `kiln-combined` — the same, but one component decodes once and encodes all four variants (the design that reduces the glue).\n\
- `kiln-tus` — a tus resumable upload in chunks, server-side assembly, then the fan-out.\n\
- `kiln-direct` — each converter component alone in direct mode (image in, image out, no storage).\n\
- `offload` — the machine-offload baseline: a native worker process cold-started per upload by a driver (spawn, wait for Ping, one Upload RPC, teardown). A VM's boot is not measured; published boot times from `bench/prices.toml` are added in the cost model.\n\
- `native` — the same core in one native process: the lower bound.\n\
- `vips` — the `vips`/`vipsthumbnail` CLI; `tools` — `cwebp`, `avifenc`, `cjpeg` at matched settings.\n\n";
    let _ = write!(
        s,
        "Stages come from the components' `Server-Timing` headers and the harness' own clocks: per variant `fetch`, \
`probe`, `decode`, `resize`, `encode`, `store`, `chaining` (the orchestrator's wall time for the variant minus the \
converter's own total: instantiation and service chaining), `total`; per upload `dispatch`, `instantiate`, \
`store_original`, `assemble`, `fan_out`, `spawn`, `ready`, `upload`, `teardown`, `total`. Stage names the harness \
adds later are shown as they come. Every measurement was repeated **{} times**; tables show the **median (min–max)** \
in ms. Ratios are ratios of medians measured in the same run. Peak memory: RSS for native processes, the linear \
memory at the end of a component's request (its peak) for Spin components, a counting allocator's peak for `heap`.\n\n",
        study.runs
    );
    s
}

fn machine(study: &Study) -> String {
    let m = &study.machine;
    let mut rows = vec![
        strings(&["CPU", &m.cpu]),
        vec!["cores".into(), m.cores.to_string()],
        vec!["memory".into(), format!("{} GiB", m.memory_gib)],
        strings(&["OS", &m.os]),
        strings(&["kernel", &m.kernel]),
        strings(&["Spin", &m.spin]),
        strings(&["rustc", &m.rustc]),
    ];
    rows.extend(m.tools.iter().map(|(k, v)| vec![k.clone(), v.clone()]));
    let mut s = String::from("## Machine\n\n");
    s += &table(&strings(&["", ""]), &rows);
    s += "\nInputs:\n\n";
    let inputs: Vec<Vec<String>> = study
        .inputs_by_size()
        .iter()
        .map(|i| vec![i.class.clone(), i.name.clone(), format!("{}×{}", i.width, i.height), format!("{:.1}", i.megapixels()), markdown::fmt_count(i.bytes as f64)])
        .collect();
    s += &table(&strings(&["class", "file", "size", "MP", "bytes"]), &inputs);
    s + "\n"
}

fn cite_cells(c: &Cite) -> [String; 2] {
    let src = if c.assumption { format!("**assumption:** {} — {}", c.note, c.source) } else if c.note.is_empty() { c.source.clone() } else { format!("{} ({})", c.source, c.note) };
    [src, c.date.clone()]
}

fn price_table(p: &Prices) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut push = |key: String, value: String, c: &Cite| {
        let [src, date] = cite_cells(c);
        rows.push(vec![key, value, src, date]);
    };
    for (k, f) in &p.faas {
        push(format!("faas.{k}"), format!("{}: {}/GB-s, {}/request, billed at {} MiB per {} ms", f.label, fmt_usd(f.gb_second), fmt_usd(f.request), f.memory_mib, f.billing_increment_ms), &f.cite);
    }
    for (k, t) in &p.trigger {
        push(format!("trigger.{k}"), format!("{}: {}/request", t.label, fmt_usd(t.request)), &t.cite);
    }
    for (k, o) in &p.object_store {
        push(format!("object_store.{k}"), format!("{}: PUT {}, GET {}, other {}", o.label, fmt_usd(o.put), fmt_usd(o.get), fmt_usd(o.other)), &o.cite);
    }
    for (k, t) in &p.transfer {
        push(format!("transfer.{k}"), format!("{}: {}/GB", t.label, fmt_usd(t.per_gb)), &t.cite);
    }
    for (k, v) in &p.vm {
        push(format!("vm.{k}"), format!("{}: {}/s, minimum {} s, then per {} s", v.label, fmt_usd(v.usd_per_second()), v.min_billed_s, v.billing_increment_s), &v.cite);
    }
    for (k, b) in &p.boot {
        push(format!("boot.{k}"), format!("{}: {} s", b.label, b.seconds), &b.cite);
    }
    for (k, a) in &p.always_on {
        push(format!("always_on.{k}"), format!("{}: {} per {} h", a.label, fmt_usd(a.usd_per_month), a.month_hours), &a.cite);
    }
    let mut s = format!("## Prices and published figures\n\nFrom `bench/prices.toml` ({}, {}). Entries marked **assumption** are derived, not published.\n\n", p.meta.currency, p.meta.region);
    s += &table(&strings(&["entry", "value", "source", "date"]), &rows);
    for n in &p.meta.notes {
        s += &format!("\n- {n}");
    }
    s + "\n\n"
}

fn measurements(study: &Study, input: &Input, prices: &Prices, plots_dir: &Path, link: &Path) -> anyhow::Result<String> {
    let name = &input.name;
    let mut s = format!("## {} — {} ({}×{}, {} bytes)\n\n### Per stage\n\n", input.class, name, input.width, input.height, markdown::fmt_count(input.bytes as f64));
    s += &markdown::stage_table(study, name);
    let file = format!("stages-{}.svg", slug(input));
    if plots::stage_breakdown(study, name, &plots_dir.join(&file))? {
        s += &format!("\n![per-stage breakdown, {}]({})\n", input.class, link.join(&file).display());
    }
    for (reference, title) in [("native", "kiln / native (same core, one native process)"), ("vips", "kiln / libvips CLI"), ("tools", "kiln / cwebp, avifenc, cjpeg")] {
        if let Some(t) = markdown::ratio_table(study, name, reference) {
            s += &format!("\n### Ratios {title}\n\n{t}");
        }
    }
    if let Some(t) = markdown::decode_once_table(study, name, billed_seconds(study, name, prices)) {
        s += &format!("\n### Decode once (`kiln-combined`) vs one component per format (`kiln-oneshot`)\n\n{t}");
    }
    if let Some(t) = markdown::memory_table(study, name) {
        s += &format!("\n### Peak memory vs the core's pre-decode estimate\n\n{t}");
    }
    if let Some(t) = markdown::outputs_table(study, name) {
        s += &format!("\n### Output sizes, bytes\n\n{t}");
    }
    Ok(s + "\n")
}

/// Billed function seconds per upload of a path, at the FaaS billing increment.
fn billed_seconds<'a>(study: &'a Study, input: &'a str, prices: &'a Prices) -> impl Fn(&str) -> Option<f64> + 'a {
    let inc = prices.faas().billing_increment_ms;
    move |path| study.requests(input, path).map(|r| cost::billed_seconds_per_upload(&r.billed_function_ms, r.function_invocations, inc))
}

fn cost_model_intro(p: &Prices) -> String {
    let f = p.faas();
    format!(
        "## Cost model\n\n\
Per upload, then per 1,000 uploads, for each size class:\n\n\
- **FaaS** ({}): request fee × function invocations + {} × client requests + GB-s at {} MiB for the billed wall time of \
every invocation (the orchestrator is billed while it waits for the converters: a glue cost) + object-store requests \
({}) + bytes moved between functions and storage × {}/GB ({}).\n\
- **FaaS at one full vCPU**: the same usage billed at {} MiB, the memory at which the FaaS grants a whole vCPU. \
The times were measured on a full core, and a CPU-for-memory platform at {} MiB would run them proportionally slower \
while billing the same GB-s, so this line is what the measured CPU time costs there.\n\
- **VM per conversion** (the uplodr shape): per-second price × (published boot + measured worker start + measured \
work + teardown), rounded to the billing increment, at least the minimum billed time, plus the machine's object-store requests.\n\
- **Always-on machine** ({}): its monthly price spread over the month's uploads; when the uploads exceed what one machine \
can convert in a month (month ÷ measured `offload` work time, scaled by its vCPUs ÷ the measuring machine's cores — \
an assumption of linear scaling), another machine is added.\n\n",
        f.label, p.trigger().label, f.memory_mib, p.object_store().label, fmt_usd(p.transfer().per_gb), p.transfer().label,
        f.full_vcpu_mib.map(markdown::fmt_count).unwrap_or_else(|| "—".into()), f.memory_mib, p.always_on().label
    )
}

fn cost_section(study: &Study, c: &economics::InputCosts, p: &Prices, plots_dir: &Path, link: &Path) -> anyhow::Result<String> {
    let mut s = format!("### {} — {}\n\n", c.input.class, c.input.name);
    s += &economics::cost_table(c, p);
    s += "\nCost per 1,000 uploads by upload rate (always-on: machines needed in brackets):\n\n";
    s += &economics::rate_table(c, p);
    let series = economics::plot_series(c, p);
    if !series.is_empty() {
        let file = format!("cost-{}.svg", slug(c.input));
        let title = format!("{} ({}): USD per 1,000 uploads vs uploads per month", c.input.class, c.input.name);
        plots::cost_vs_rate(&title, &series, &plots_dir.join(&file))?;
        s += &format!("\n![cost per 1,000 uploads vs rate, {}]({})\n", c.input.class, link.join(&file).display());
    }
    s += "\n#### Capacity for a burst\n\n";
    s += &economics::capacity_section(study, c, p);
    Ok(s + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_report_has_every_section_and_plot() {
        let dir = std::env::temp_dir().join(format!("kiln-report-test-{}", std::process::id()));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (out, plots) = (dir.join("report.md"), dir.join("plots"));
        generate(&root.join("src/report/testdata/study-fixture.json"), &root.join("prices.toml"), &out, &plots).unwrap();
        let md = std::fs::read_to_string(&out).unwrap();
        for needle in ["## Method", "## Machine", "## Prices", "### Ratios kiln / native", "### Ratios kiln / libvips",
            "### Decode once", "### Peak memory", "## Cost model", "#### Capacity", "## Conclusion", "queue_wait", "](plots/"] {
            assert!(md.contains(needle), "report lacks {needle}");
        }
        let svgs = std::fs::read_dir(&plots).unwrap().count();
        assert_eq!(svgs, 4, "two inputs × (stages + cost)");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

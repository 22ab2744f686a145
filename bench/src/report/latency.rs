//! The time side of the conclusion, per input: how long an upload takes on
//! each path, how far kiln is from the same core natively and from the
//! reference tools, and where the rest of the time goes (glue), all from
//! medians of the same run.

use super::markdown::fmt_ratio;
use super::prices::Prices;
use super::results::{Input, Study};

const FORMATS: [&str; 4] = ["webp", "avif", "jpeg", "thumbnail"];

fn median(study: &Study, input: &str, path: &str, variant: &str, stage: &str) -> Option<f64> {
    study.timing(input, path, variant, stage).map(|s| s.median)
}

fn sum(study: &Study, input: &str, path: &str, stage: &str) -> Option<f64> {
    FORMATS.iter().map(|v| median(study, input, path, v, stage)).sum()
}

fn secs(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

/// One paragraph for `input`; empty when the kiln one-shot path is missing.
pub fn conclusion(study: &Study, input: &Input, prices: &Prices) -> String {
    let name = input.name.as_str();
    let Some(oneshot) = median(study, name, "kiln-oneshot", "upload", "total") else { return String::new() };
    let mut out = format!("**{} — time.** A one-shot upload took {} on kiln (one component per format)", input.class, secs(oneshot));
    if let Some(c) = median(study, name, "kiln-combined", "upload", "total") {
        out += &format!(", {} with the decode-once component ({})", secs(c), fmt_ratio(c / oneshot));
    }
    if let Some(t) = median(study, name, "kiln-tus", "upload", "total") {
        out += &format!(" and {} through tus", secs(t));
    }
    out += ". ";
    if let Some(n) = median(study, name, "native", "upload", "total") {
        out += &format!("The same core natively makes all four variants in {}, one after the other in one process, decoding once (kiln one-shot = {} of that, with its four converters running in parallel). ", secs(n), fmt_ratio(oneshot / n));
    }
    if let (Some(w), Some(n)) = (sum(study, name, "kiln-direct", "total"), sum(study, name, "native", "total")) {
        out += &format!("Doing the same work, wasm takes {} as long as native (the four components' own totals, alone, against the native ones, summed)", fmt_ratio(w / n));
        if let Some(t) = ["webp", "avif", "jpeg"].iter().map(|v| median(study, name, "tools", v, "total")).sum::<Option<f64>>() {
            let k: Option<f64> = ["webp", "avif", "jpeg"].iter().map(|v| median(study, name, "kiln-direct", v, "total")).sum();
            if let Some(k) = k {
                out += &format!("; against libvips + cwebp/avifenc/cjpeg the three web formats take {} as long", fmt_ratio(k / t));
            }
        }
        out += ". On top of that comes the glue: fetching the original once per format, storing, chaining, and converters queueing behind each other on the host's cores";
        if let Some(q) = median(study, name, "kiln-oneshot", "upload", "queueing") {
            out += &format!(" (a trivial request waited up to {:.0} ms during a split upload", q);
            if let Some(qc) = median(study, name, "kiln-combined", "upload", "queueing") {
                out += &format!(", {:.0} ms during a combined one", qc);
            }
            out += ")";
        }
        out += ". ";
    }
    if let (Some(work), Some(start)) = (median(study, name, "offload", "upload", "upload"), median(study, name, "offload", "upload", "ready")) {
        let boots: Vec<f64> = prices.boots().iter().map(|(_, b)| b.seconds).collect();
        let (lo, hi) = boots.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &b| (lo.min(b), hi.max(b)));
        out += &format!(
            "The offload worker, once running, converts in {} ({} of kiln's one-shot wall time; its process starts in {:.0} ms)",
            secs(work),
            fmt_ratio(work / oneshot),
            start
        );
        if lo <= hi {
            out += &format!(
                ", but a VM per conversion first boots {lo}–{hi} s: the variants are ready after {}–{}, {}–{} of kiln's",
                secs(lo * 1000.0 + start + work),
                secs(hi * 1000.0 + start + work),
                fmt_ratio((lo * 1000.0 + start + work) / oneshot),
                fmt_ratio((hi * 1000.0 + start + work) / oneshot)
            );
        }
        out += ".";
    }
    out
}

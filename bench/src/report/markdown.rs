//! Markdown tables of the measurements for one input: per-stage medians and
//! spreads per path, ratios kiln/native and kiln/libvips/tools per stage, the
//! decode-once design against the plain one, peak memory against the
//! estimate, output sizes; plus the number formatting every section shares.

use super::results::{spread, Spread, Study};

/// A Markdown table; every row must have `headers.len()` cells.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    let mut out = line(headers);
    out += &line(&headers.iter().map(|_| "---".to_string()).collect::<Vec<_>>());
    for r in rows {
        out += &line(r);
    }
    out
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn fmt_ms(x: f64) -> String {
    if x.abs() >= 100.0 { format!("{x:.0}") } else if x.abs() >= 10.0 { format!("{x:.1}") } else { format!("{x:.2}") }
}

pub fn fmt_spread(s: Spread) -> String {
    if s.n <= 1 || s.min == s.max {
        fmt_ms(s.median)
    } else {
        format!("{} ({}–{})", fmt_ms(s.median), fmt_ms(s.min), fmt_ms(s.max))
    }
}

pub fn fmt_ratio(x: f64) -> String {
    if x >= 10.0 { format!("{x:.0}×") } else { format!("{x:.2}×") }
}

/// Dollars: cents from $1 up, three significant digits below.
pub fn fmt_usd(x: f64) -> String {
    if x >= 1000.0 {
        format!("${}", fmt_count(x))
    } else if x >= 1.0 {
        format!("${x:.2}")
    } else if x == 0.0 {
        "$0".to_string()
    } else {
        let digits = (-x.log10().floor()) as usize + 2;
        format!("${x:.digits$}")
    }
}

/// A whole number with thousands separators.
pub fn fmt_count(x: f64) -> String {
    let s = format!("{:.0}", x.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

pub fn fmt_mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// Rows (variant, stage), one column per path: median (min–max) in ms.
pub fn stage_table(study: &Study, input: &str) -> String {
    let paths = study.paths_of(input);
    let mut headers = strings(&["variant", "stage"]);
    headers.extend(paths.iter().cloned());
    let mut rows = Vec::new();
    for variant in study.variants_of(input) {
        for stage in study.stages_of(input, &variant) {
            let mut row = vec![variant.clone(), stage.clone()];
            for p in &paths {
                row.push(study.timing(input, p, &variant, &stage).map(fmt_spread).unwrap_or_default());
            }
            rows.push(row);
        }
    }
    table(&headers, &rows)
}

fn kiln_paths(study: &Study, input: &str) -> Vec<String> {
    study.paths_of(input).into_iter().filter(|p| p.starts_with("kiln-")).collect()
}

/// Ratios of medians kiln-path / `reference` per (variant, stage) both measured.
pub fn ratio_table(study: &Study, input: &str, reference: &str) -> Option<String> {
    let kiln = kiln_paths(study, input);
    let mut headers = vec!["variant".into(), "stage".into(), format!("{reference} ms")];
    headers.extend(kiln.iter().map(|k| format!("{k} / {reference}")));
    let mut rows = Vec::new();
    for variant in study.variants_of(input) {
        for stage in study.stages_of(input, &variant) {
            let Some(r) = study.timing(input, reference, &variant, &stage) else { continue };
            let cells: Vec<String> = kiln
                .iter()
                .map(|k| study.timing(input, k, &variant, &stage).map(|s| fmt_ratio(s.median / r.median)).unwrap_or_default())
                .collect();
            if r.median > 0.0 && cells.iter().any(|c| !c.is_empty()) {
                let mut row = vec![variant.clone(), stage.clone(), fmt_ms(r.median)];
                row.extend(cells);
                rows.push(row);
            }
        }
    }
    (!rows.is_empty()).then(|| table(&headers, &rows))
}

/// Sum over the four variants of one stage's median, plus the upload's own
/// (the combined design records its shared fetch, decode and chaining once,
/// on the upload), if any was measured.
fn stage_sum(study: &Study, input: &str, path: &str, stage: &str) -> Option<f64> {
    let v: Vec<f64> = ["webp", "avif", "jpeg", "thumbnail", "upload"]
        .iter()
        .filter_map(|var| study.timing(input, path, var, stage).map(|s| s.median))
        .collect();
    (!v.is_empty()).then(|| v.iter().sum())
}

/// The decode-once design (`kiln-combined`) against the plain one (`kiln-oneshot`).
pub fn decode_once_table(study: &Study, input: &str, billed_s: impl Fn(&str) -> Option<f64>) -> Option<String> {
    let (a, b) = ("kiln-oneshot", "kiln-combined");
    let up = |p: &str| study.timing(input, p, "upload", "total").map(|s| s.median);
    let req = |p: &str, f: fn(&super::results::Requests) -> f64| study.requests(input, p).map(f);
    type Metric<'a> = (&'a str, Option<f64>, Option<f64>, fn(f64) -> String);
    let metrics: Vec<Metric> = vec![
        ("upload wall time, ms", up(a), up(b), fmt_ms),
        ("decode, summed over variants, ms", stage_sum(study, input, a, "decode"), stage_sum(study, input, b, "decode"), fmt_ms),
        ("fetch, summed over variants, ms", stage_sum(study, input, a, "fetch"), stage_sum(study, input, b, "fetch"), fmt_ms),
        ("chaining, summed over variants, ms", stage_sum(study, input, a, "chaining"), stage_sum(study, input, b, "chaining"), fmt_ms),
        ("function invocations", req(a, |r| r.function_invocations.into()), req(b, |r| r.function_invocations.into()), fmt_count),
        ("object-store GETs", req(a, |r| r.s3_get.into()), req(b, |r| r.s3_get.into()), fmt_count),
        ("bytes moved between functions/storage", req(a, |r| r.internal_bytes as f64), req(b, |r| r.internal_bytes as f64), fmt_mib),
        ("billed function time, s", billed_s(a), billed_s(b), |x| format!("{x:.2}")),
    ];
    let rows: Vec<Vec<String>> = metrics
        .into_iter()
        .filter(|(_, x, y, _)| x.is_some() || y.is_some())
        .map(|(name, x, y, f)| {
            let ratio = match (x, y) {
                (Some(x), Some(y)) if x > 0.0 => fmt_ratio(y / x),
                _ => String::new(),
            };
            vec![name.to_string(), x.map(f).unwrap_or_default(), y.map(f).unwrap_or_default(), ratio]
        })
        .collect();
    (!rows.is_empty()).then(|| table(&strings(&["metric", a, b, "combined / oneshot"]), &rows))
}

/// Peak memory per path and variant against the core's pre-decode estimate.
pub fn memory_table(study: &Study, input: &str) -> Option<String> {
    let rows: Vec<Vec<String>> = study
        .memory
        .iter()
        .filter(|m| m.input == input)
        .filter_map(|m| {
            let s = spread(&m.bytes.iter().map(|&b| b as f64).collect::<Vec<_>>())?;
            let est = m.estimate_bytes.map(|e| e as f64);
            let mib = |x: f64| format!("{:.1}", x / 1048576.0);
            let measured = if s.n > 1 && s.min != s.max {
                format!("{} ({}–{})", mib(s.median), mib(s.min), mib(s.max))
            } else {
                mib(s.median)
            };
            let verdict = est.map(|e| if e >= s.max { "yes" } else { "**no**" }).unwrap_or("");
            Some(vec![
                m.path.clone(),
                m.variant.clone(),
                m.kind.clone(),
                est.map(mib).unwrap_or_default(),
                measured,
                est.map(|e| fmt_ratio(s.max / e)).unwrap_or_default(),
                verdict.to_string(),
            ])
        })
        .collect();
    let headers = strings(&["path", "variant", "kind", "estimate MiB", "measured MiB", "max / estimate", "estimate ≥ max?"]);
    (!rows.is_empty()).then(|| table(&headers, &rows))
}

/// Output bytes per variant (rows) and path (columns).
pub fn outputs_table(study: &Study, input: &str) -> Option<String> {
    let outs: Vec<_> = study.outputs.iter().filter(|o| o.input == input).collect();
    if outs.is_empty() {
        return None;
    }
    let paths: Vec<String> = study.paths_of(input).into_iter().filter(|p| outs.iter().any(|o| &o.path == p)).collect();
    let mut variants: Vec<String> = outs.iter().map(|o| o.variant.clone()).collect();
    variants.dedup();
    variants.sort_by_key(|v| super::results::VARIANTS.iter().position(|c| c == v).unwrap_or(99));
    variants.dedup();
    let rows: Vec<Vec<String>> = variants
        .iter()
        .map(|v| {
            let mut row = vec![v.clone()];
            for p in &paths {
                let b = outs.iter().find(|o| &o.path == p && &o.variant == v).map(|o| fmt_count(o.bytes as f64));
                row.push(b.unwrap_or_default());
            }
            row
        })
        .collect();
    let mut headers = strings(&["variant"]);
    headers.extend(paths);
    Some(table(&headers, &rows))
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_count(1234567.4), "1,234,567");
        assert_eq!(fmt_count(999.0), "999");
        assert_eq!(fmt_usd(0.000123456), "$0.000123");
        assert_eq!(fmt_usd(0.0123456), "$0.0123");
        assert_eq!(fmt_usd(12.345), "$12.35");
        assert_eq!(fmt_usd(6800.0), "$6,800");
        assert_eq!(fmt_ms(805.49), "805");
        assert_eq!(fmt_ratio(2.034), "2.03×");
    }

    #[test]
    fn table_shape() {
        let t = table(&strings(&["a", "b"]), &[strings(&["1", "2"])]);
        assert_eq!(t, "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
    }
}

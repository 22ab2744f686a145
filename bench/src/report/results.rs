//! The study results file (`bench/results/study.json`, written by `make study`):
//! serde types, lookups by (input, path, variant, stage), canonical orderings
//! of paths/variants/stages, and the median / min–max helpers every table uses.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The only schema version this reader understands.
pub const SCHEMA: u32 = 1;

/// Paths in the order the report shows them; unknown paths follow, sorted.
pub const PATHS: [&str; 8] = [
    "kiln-oneshot",
    "kiln-combined",
    "kiln-tus",
    "kiln-direct",
    "offload",
    "native",
    "vips",
    "tools",
];

/// Variants in report order; unknown variants follow, sorted.
pub const VARIANTS: [&str; 5] = ["upload", "webp", "avif", "jpeg", "thumbnail"];

/// Canonical stages in report order (per-variant and per-upload stages
/// together); unknown stages go just before `total`.
pub const STAGES: [&str; 18] = [
    "dispatch",
    "instantiate",
    "store_original",
    "assemble",
    "fan_out",
    "spawn",
    "ready",
    "upload",
    "teardown",
    "fetch",
    "probe",
    "decode",
    "resize",
    "encode",
    "store",
    "chaining",
    "other",
    "total",
];

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a valid study results file: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("{path}: schema {found}, this report understands schema {SCHEMA}")]
    Schema { path: String, found: u32 },
}

#[derive(Debug, Clone, Deserialize)]
pub struct Study {
    pub schema: u32,
    pub generated: String,
    pub mode: String,
    pub runs: u32,
    pub machine: Machine,
    pub inputs: Vec<Input>,
    #[serde(default)]
    pub timings: Vec<Timing>,
    #[serde(default)]
    pub memory: Vec<Memory>,
    #[serde(default)]
    pub outputs: Vec<Output>,
    #[serde(default)]
    pub requests: Vec<Requests>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Machine {
    pub cpu: String,
    pub cores: u32,
    pub memory_gib: f64,
    pub os: String,
    pub kernel: String,
    pub spin: String,
    pub rustc: String,
    pub tools: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    pub class: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

impl Input {
    pub fn megapixels(&self) -> f64 {
        f64::from(self.width) * f64::from(self.height) / 1e6
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub input: String,
    pub path: String,
    pub variant: String,
    pub stage: String,
    pub ms: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Memory {
    pub input: String,
    pub path: String,
    pub variant: String,
    pub kind: String,
    pub bytes: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub input: String,
    pub path: String,
    pub variant: String,
    pub bytes: u64,
}

/// Per upload and path: what the cost model bills.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Requests {
    pub input: String,
    pub path: String,
    pub function_invocations: u32,
    pub s3_put: u32,
    pub s3_get: u32,
    #[serde(default)]
    pub s3_other: u32,
    #[serde(default)]
    pub internal_bytes: u64,
    #[serde(default)]
    pub billed_function_ms: Vec<f64>,
    /// Client → platform HTTP requests (API-gateway fees); 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_requests: Option<u32>,
}

/// Median and min–max of repeated measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

/// Median of the finite values (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    spread(values).map(|s| s.median)
}

/// Median, min and max of the finite values; `None` when there are none.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Spread { median, min: v[0], max: v[n - 1], n })
}

/// Orders `names` by the position in `canon`, unknown names after, sorted.
fn canonical_order(names: impl IntoIterator<Item = String>, canon: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.into_iter().collect();
    v.sort();
    v.dedup();
    let rank = |s: &str| canon.iter().position(|c| *c == s).unwrap_or(canon.len());
    v.sort_by_key(|s| rank(s));
    v
}

/// Stages in report order: canonical ones, unknown ones, then `total`.
pub fn order_stages(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v = canonical_order(names, &STAGES[..STAGES.len() - 1]);
    if let Some(i) = v.iter().position(|s| s == "total") {
        let total = v.remove(i);
        v.push(total);
    }
    v
}

impl Study {
    pub fn load(path: &Path) -> Result<Self, ResultsError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read { path: p.clone(), source })?;
        let study: Study =
            serde_json::from_str(&text).map_err(|source| ResultsError::Parse { path: p.clone(), source })?;
        if study.schema != SCHEMA {
            return Err(ResultsError::Schema { path: p, found: study.schema });
        }
        Ok(study)
    }

    /// Inputs from smallest to largest pixel count.
    pub fn inputs_by_size(&self) -> Vec<&Input> {
        let mut v: Vec<&Input> = self.inputs.iter().collect();
        v.sort_by_key(|i| u64::from(i.width) * u64::from(i.height));
        v
    }

    /// Every path measured for `input` (timings or requests), in report order.
    pub fn paths_of(&self, input: &str) -> Vec<String> {
        let t = self.timings.iter().filter(|t| t.input == input).map(|t| t.path.clone());
        let r = self.requests.iter().filter(|r| r.input == input).map(|r| r.path.clone());
        canonical_order(t.chain(r), &PATHS)
    }

    pub fn variants_of(&self, input: &str) -> Vec<String> {
        let v = self.timings.iter().filter(|t| t.input == input).map(|t| t.variant.clone());
        canonical_order(v, &VARIANTS)
    }

    pub fn stages_of(&self, input: &str, variant: &str) -> Vec<String> {
        let s = self.timings.iter().filter(|t| t.input == input && t.variant == variant);
        order_stages(s.map(|t| t.stage.clone()))
    }

    /// Median / spread of one measurement; `None` if it was not measured.
    pub fn timing(&self, input: &str, path: &str, variant: &str, stage: &str) -> Option<Spread> {
        let found = self.timings.iter().find(|t| {
            t.input == input && t.path == path && t.variant == variant && t.stage == stage
        })?;
        spread(&found.ms)
    }

    pub fn requests(&self, input: &str, path: &str) -> Option<&Requests> {
        self.requests.iter().find(|r| r.input == input && r.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        let s = spread(&[5.0, f64::NAN, 1.0, 9.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (5.0, 1.0, 9.0, 3));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn unknown_stages_go_before_total() {
        let names = ["total", "zeta", "decode", "fetch", "alpha"].map(String::from);
        assert_eq!(order_stages(names), ["fetch", "decode", "alpha", "zeta", "total"]);
    }

    #[test]
    fn fixture_loads_and_answers_lookups() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/testdata/study-fixture.json");
        let study = Study::load(&path).unwrap();
        let small = study.inputs_by_size()[0].name.clone();
        assert!(study.paths_of(&small).starts_with(&["kiln-oneshot".to_string()]));
        assert!(study.timing(&small, "native", "webp", "decode").is_some());
        assert!(study.timing(&small, "native", "webp", "no-such-stage").is_none());
    }
}

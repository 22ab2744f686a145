//! The results file `make study` writes (`bench/results/study.json`,
//! schema 1, read back by [`crate::report`]): every sample of every stage,
//! memory peak, output size and billed request, keyed by input, path and
//! variant. The record types are the report's own ([`crate::report::results`]),
//! so writer and reader cannot drift apart.

pub use crate::report::results::{Input, Machine, Memory, Output, Requests, Timing};
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub schema: u32,
    pub generated: String,
    pub mode: String,
    pub runs: u32,
    pub machine: Machine,
    pub inputs: Vec<Input>,
    pub timings: Vec<Timing>,
    pub memory: Vec<Memory>,
    pub outputs: Vec<Output>,
    pub requests: Vec<Requests>,
    /// Every run's billed times per (input, path), until [`Results::finish`].
    #[serde(skip)]
    billed_runs: Vec<(String, String, Vec<f64>)>,
}

/// Where a sample belongs: (input, path, variant).
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub input: &'a str,
    pub path: &'a str,
    pub variant: &'a str,
}

impl Results {
    pub fn new(mode: &str, runs: u32) -> Results {
        Results { schema: 1, mode: mode.into(), runs, ..Default::default() }
    }

    /// Appends a sample of `stage` in ms.
    pub fn time(&mut self, k: Key, stage: &str, ms: f64) {
        let same = |t: &&mut Timing| t.input == k.input && t.path == k.path && t.variant == k.variant && t.stage == stage;
        match self.timings.iter_mut().find(same) {
            Some(t) => t.ms.push(round(ms)),
            None => self.timings.push(Timing {
                input: k.input.into(),
                path: k.path.into(),
                variant: k.variant.into(),
                stage: stage.into(),
                ms: vec![round(ms)],
            }),
        }
    }

    /// Appends a memory peak sample (`kind`: rss, linear-memory, heap).
    pub fn memory(&mut self, k: Key, kind: &str, bytes: u64, estimate: Option<u64>) {
        let same = |m: &&mut Memory| m.input == k.input && m.path == k.path && m.variant == k.variant && m.kind == kind;
        match self.memory.iter_mut().find(same) {
            Some(m) => m.bytes.push(bytes),
            None => self.memory.push(Memory {
                input: k.input.into(),
                path: k.path.into(),
                variant: k.variant.into(),
                kind: kind.into(),
                bytes: vec![bytes],
                estimate_bytes: estimate,
            }),
        }
    }

    /// Records an output's size (the last run's).
    pub fn output(&mut self, k: Key, bytes: u64) {
        self.outputs.retain(|o| !(o.input == k.input && o.path == k.path && o.variant == k.variant));
        self.outputs.push(Output { input: k.input.into(), path: k.path.into(), variant: k.variant.into(), bytes });
    }

    /// Adds stage `name` = the per-run sum of `parts` wherever all parts
    /// were measured for every run (e.g. `decode_resize`, to compare with
    /// a tool that does both in one step).
    pub fn derive_sum(&mut self, name: &str, parts: &[&str]) {
        let mut derived = Vec::new();
        for t in self.timings.iter().filter(|t| t.stage == parts[0]) {
            let samples: Option<Vec<&Vec<f64>>> = parts
                .iter()
                .map(|p| self.timings.iter().find(|u| u.input == t.input && u.path == t.path && u.variant == t.variant && u.stage == *p).map(|u| &u.ms))
                .collect();
            let Some(samples) = samples else { continue };
            if samples.iter().all(|s| s.len() == t.ms.len()) {
                let ms = (0..t.ms.len()).map(|i| round(samples.iter().map(|s| s[i]).sum())).collect();
                derived.push(Timing { input: t.input.clone(), path: t.path.clone(), variant: t.variant.clone(), stage: name.into(), ms });
            }
        }
        self.timings.extend(derived);
    }

    /// Records the billable units of one upload on one run.
    pub fn requests(&mut self, r: Requests) {
        self.billed_runs.push((r.input.clone(), r.path.clone(), r.billed_function_ms.clone()));
        self.requests.retain(|x| !(x.input == r.input && x.path == r.path));
        self.requests.push(r);
    }

    /// Gives each (input, path) the billed times of its median run (by
    /// total billed time): one representative upload, not a mix of runs.
    pub fn finish(&mut self) {
        for r in &mut self.requests {
            let mut runs: Vec<&Vec<f64>> =
                self.billed_runs.iter().filter(|(i, p, _)| *i == r.input && *p == r.path).map(|(_, _, b)| b).collect();
            runs.sort_by(|a, b| a.iter().sum::<f64>().total_cmp(&b.iter().sum::<f64>()));
            if let Some(median) = runs.get(runs.len() / 2) {
                r.billed_function_ms = median.iter().map(|&ms| round(ms)).collect();
            }
        }
    }
}

fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

//! The prices file (`bench/prices.toml`): serde types for every price and
//! public figure the cost model uses, each with its source and date, and the
//! scenario (which entries the report compares, the burst and the rate range).
//! `validate` refuses a number without a source unless it is marked as an
//! assumption with its reasoning.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PricesError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a valid prices file: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("{0}: every figure needs `source` and `date`, or `assumption = true` with a `note` giving the reasoning")]
    Unsourced(String),
    #[error("scenario refers to {kind} `{key}`, which prices.toml does not define")]
    Missing { kind: &'static str, key: String },
    #[error("{0}: give exactly one of usd_per_hour / usd_per_second")]
    VmPrice(String),
}

/// Where a figure comes from.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Cite {
    #[serde(default)]
    pub source: String,
    /// When the source was published or read (ISO date).
    #[serde(default)]
    pub date: String,
    /// True when the figure is not published but derived or assumed.
    #[serde(default)]
    pub assumption: bool,
    #[serde(default)]
    pub note: String,
}

impl Cite {
    fn check(&self, what: &str) -> Result<(), PricesError> {
        let sourced = !self.source.trim().is_empty() && !self.date.trim().is_empty();
        let reasoned = self.assumption && !self.note.trim().is_empty();
        if sourced || reasoned { Ok(()) } else { Err(PricesError::Unsourced(what.to_string())) }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    pub currency: String,
    pub region: String,
    /// When the file was last checked against its sources.
    pub checked: String,
    /// Caveats the report prints with the price table.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Function-as-a-service compute.
#[derive(Debug, Clone, Deserialize)]
pub struct Faas {
    pub label: String,
    pub gb_second: f64,
    pub request: f64,
    /// Memory billed per invocation (kiln runs in 128 MiB instances).
    pub memory_mib: f64,
    /// Duration is rounded up to this many ms per invocation.
    pub billing_increment_ms: f64,
    /// Memory at which the platform grants one full vCPU (CPU scales with
    /// memory); the report also prices the measured time at this size.
    #[serde(default)]
    pub full_vcpu_mib: Option<f64>,
    #[serde(flatten)]
    pub cite: Cite,
}

/// A per-request front door (API gateway) in front of the function.
#[derive(Debug, Clone, Deserialize)]
pub struct Trigger {
    pub label: String,
    pub request: f64,
    #[serde(flatten)]
    pub cite: Cite,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ObjectStore {
    pub label: String,
    pub put: f64,
    pub get: f64,
    /// Price applied to other requests (HEAD, LIST, DELETE, multipart calls).
    pub other: f64,
    #[serde(flatten)]
    pub cite: Cite,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transfer {
    pub label: String,
    pub per_gb: f64,
    #[serde(flatten)]
    pub cite: Cite,
}

/// A machine rented per conversion.
#[derive(Debug, Clone, Deserialize)]
pub struct Vm {
    pub label: String,
    pub vcpus: u32,
    pub memory_gib: f64,
    #[serde(default)]
    pub usd_per_hour: Option<f64>,
    #[serde(default)]
    pub usd_per_second: Option<f64>,
    /// Minimum billed time per start.
    pub min_billed_s: f64,
    /// Billing granularity after the minimum.
    pub billing_increment_s: f64,
    #[serde(flatten)]
    pub cite: Cite,
}

impl Vm {
    pub fn usd_per_second(&self) -> f64 {
        self.usd_per_second.or(self.usd_per_hour.map(|h| h / 3600.0)).unwrap_or(f64::NAN)
    }
}

/// A published VM boot (request → usable) time.
#[derive(Debug, Clone, Deserialize)]
pub struct Boot {
    pub label: String,
    pub seconds: f64,
    #[serde(flatten)]
    pub cite: Cite,
}

/// A machine kept running all month.
#[derive(Debug, Clone, Deserialize)]
pub struct AlwaysOn {
    pub label: String,
    pub vcpus: u32,
    pub memory_gib: f64,
    pub usd_per_month: f64,
    /// Hours in the provider's billing month (Fly: 30 days = 720 h).
    pub month_hours: f64,
    #[serde(flatten)]
    pub cite: Cite,
}

/// What the report compares. These are choices, not prices.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub faas: String,
    pub trigger: String,
    pub object_store: String,
    pub transfer: String,
    /// VMs for the per-conversion model (the first one is plotted).
    pub vm: Vec<String>,
    /// Boot figures applied to the per-conversion model (each is a column).
    pub boot: Vec<String>,
    pub always_on: String,
    /// The burst for the capacity formula: `burst_jobs` uploads within `burst_deadline_s`.
    pub burst_jobs: f64,
    pub burst_deadline_s: f64,
    /// Upload-rate range of the cost plot, uploads per month.
    pub rate_min: f64,
    pub rate_max: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Prices {
    pub meta: Meta,
    pub faas: BTreeMap<String, Faas>,
    pub trigger: BTreeMap<String, Trigger>,
    pub object_store: BTreeMap<String, ObjectStore>,
    pub transfer: BTreeMap<String, Transfer>,
    pub vm: BTreeMap<String, Vm>,
    pub boot: BTreeMap<String, Boot>,
    pub always_on: BTreeMap<String, AlwaysOn>,
    pub scenario: Scenario,
}

fn pick<'a, T>(map: &'a BTreeMap<String, T>, kind: &'static str, key: &str) -> Result<&'a T, PricesError> {
    map.get(key).ok_or_else(|| PricesError::Missing { kind, key: key.to_string() })
}

impl Prices {
    pub fn load(path: &Path) -> Result<Self, PricesError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PricesError::Read { path: p.clone(), source })?;
        Self::parse(&text).map_err(|e| match e {
            PricesError::Parse { source, .. } => PricesError::Parse { path: p, source },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Self, PricesError> {
        let prices: Prices =
            toml::from_str(text).map_err(|source| PricesError::Parse { path: String::new(), source })?;
        prices.validate()?;
        Ok(prices)
    }

    /// Every entry cited, every scenario key defined, every VM priced once.
    pub fn validate(&self) -> Result<(), PricesError> {
        for (k, v) in &self.faas { v.cite.check(&format!("faas.{k}"))?; }
        for (k, v) in &self.trigger { v.cite.check(&format!("trigger.{k}"))?; }
        for (k, v) in &self.object_store { v.cite.check(&format!("object_store.{k}"))?; }
        for (k, v) in &self.transfer { v.cite.check(&format!("transfer.{k}"))?; }
        for (k, v) in &self.boot { v.cite.check(&format!("boot.{k}"))?; }
        for (k, v) in &self.always_on { v.cite.check(&format!("always_on.{k}"))?; }
        for (k, v) in &self.vm {
            v.cite.check(&format!("vm.{k}"))?;
            if v.usd_per_hour.is_some() == v.usd_per_second.is_some() {
                return Err(PricesError::VmPrice(format!("vm.{k}")));
            }
        }
        let s = &self.scenario;
        pick(&self.faas, "faas", &s.faas)?;
        pick(&self.trigger, "trigger", &s.trigger)?;
        pick(&self.object_store, "object_store", &s.object_store)?;
        pick(&self.transfer, "transfer", &s.transfer)?;
        pick(&self.always_on, "always_on", &s.always_on)?;
        for k in &s.vm { pick(&self.vm, "vm", k)?; }
        for k in &s.boot { pick(&self.boot, "boot", k)?; }
        Ok(())
    }

    pub fn faas(&self) -> &Faas { &self.faas[&self.scenario.faas] }
    pub fn trigger(&self) -> &Trigger { &self.trigger[&self.scenario.trigger] }
    pub fn object_store(&self) -> &ObjectStore { &self.object_store[&self.scenario.object_store] }
    pub fn transfer(&self) -> &Transfer { &self.transfer[&self.scenario.transfer] }
    pub fn always_on(&self) -> &AlwaysOn { &self.always_on[&self.scenario.always_on] }
    pub fn vms(&self) -> Vec<(&str, &Vm)> {
        self.scenario.vm.iter().map(|k| (k.as_str(), &self.vm[k])).collect()
    }
    pub fn boots(&self) -> Vec<(&str, &Boot)> {
        self.scenario.boot.iter().map(|k| (k.as_str(), &self.boot[k])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_prices() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("prices.toml")).unwrap()
    }

    #[test]
    fn repository_prices_file_is_valid_and_cited() {
        let p = Prices::parse(&repo_prices()).unwrap();
        assert!(p.faas().gb_second > 0.0);
        assert!(!p.vms().is_empty() && !p.boots().is_empty());
    }

    #[test]
    fn unsourced_figure_is_refused() {
        let text = repo_prices().replacen("source = ", "unused_source = ", 1);
        assert!(matches!(Prices::parse(&text), Err(PricesError::Unsourced(_))));
    }

    #[test]
    fn scenario_key_must_exist() {
        let mut p = Prices::parse(&repo_prices()).unwrap();
        p.scenario.always_on = "no-such-machine".into();
        assert!(matches!(p.validate(), Err(PricesError::Missing { kind: "always_on", .. })));
    }
}

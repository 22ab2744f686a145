//! Joins the measurements of one input with the prices: FaaS cost per kiln
//! path, a VM per conversion for every (VM, boot) pair, the always-on machine
//! and its break-even rate, the burst capacity; renders them as Markdown, as
//! plot series, and as the plain-language conclusion.

use super::cost::{self, AlwaysOnCost, FaasCost, Usage, VmCost};
use super::markdown::{fmt_count, fmt_ms, fmt_ratio, fmt_usd, strings, table};
use super::plots::Series;
use super::prices::Prices;
use super::results::{Input, Study};

/// Measured times of the machine-offload path, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct MachineTimes {
    /// Worker process spawn until it answers Ping.
    pub start_s: f64,
    /// The upload RPC round trip (all four variants converted and stored).
    pub work_s: f64,
    pub teardown_s: f64,
    /// Object-store requests of one upload on the machine path.
    pub storage_usd: f64,
}

pub struct VmRow {
    pub vm: String,
    pub boot: String,
    pub boot_s: f64,
    pub cost: VmCost,
}

/// Everything the cost sections say about one input.
pub struct InputCosts<'a> {
    pub input: &'a Input,
    pub faas: Vec<(String, Usage, FaasCost)>,
    /// The same usage billed at the memory that buys one full vCPU: what the
    /// measured times (taken on a full core) cost on a CPU-for-memory FaaS.
    pub faas_cpu: Vec<(String, Usage, FaasCost)>,
    pub machine: Option<MachineTimes>,
    pub vm: Vec<VmRow>,
    /// Uploads per month one always-on machine can take.
    pub capacity: Option<f64>,
}

fn usage(study: &Study, input: &str, path: &str, prices: &Prices) -> Option<Usage> {
    let r = study.requests(input, path)?;
    Some(Usage {
        invocations: r.function_invocations.into(),
        client_requests: r.client_requests.unwrap_or(1).into(),
        s3_put: r.s3_put.into(),
        s3_get: r.s3_get.into(),
        s3_other: r.s3_other.into(),
        internal_bytes: r.internal_bytes as f64,
        billed_s: cost::billed_seconds_per_upload(&r.billed_function_ms, r.function_invocations, prices.faas().billing_increment_ms),
    })
}

fn machine_times(study: &Study, input: &str, prices: &Prices) -> Option<MachineTimes> {
    let ms = |stage: &str| study.timing(input, "offload", "upload", stage).map(|s| s.median / 1000.0);
    let work_s = ms("upload")?;
    let storage_usd = study
        .requests(input, "offload")
        .map(|r| cost::storage_usd(r.s3_put.into(), r.s3_get.into(), r.s3_other.into(), prices.object_store()))
        .unwrap_or(0.0);
    Some(MachineTimes {
        start_s: ms("spawn").unwrap_or(0.0) + ms("ready").unwrap_or(0.0),
        work_s,
        teardown_s: ms("teardown").unwrap_or(0.0),
        storage_usd,
    })
}

pub fn input_costs<'a>(study: &Study, input: &'a Input, prices: &Prices) -> InputCosts<'a> {
    let (f, t, s, x) = (prices.faas(), prices.trigger(), prices.object_store(), prices.transfer());
    let faas = study
        .paths_of(&input.name)
        .into_iter()
        .filter(|p| p.starts_with("kiln-"))
        .filter_map(|p| usage(study, &input.name, &p, prices).map(|u| (p, u)))
        .map(|(p, u)| {
            let c = cost::faas_per_upload(&u, f, t, s, x);
            (p, u, c)
        })
        .collect::<Vec<_>>();
    let faas_cpu = match f.full_vcpu_mib {
        Some(mib) => {
            let full = super::prices::Faas { memory_mib: mib, ..f.clone() };
            faas.iter().map(|(p, u, _)| (format!("{p} @ {} MiB", fmt_count(mib)), *u, cost::faas_per_upload(u, &full, t, s, x))).collect()
        }
        None => Vec::new(),
    };
    let machine = machine_times(study, &input.name, prices);
    let mut vm = Vec::new();
    if let Some(m) = machine {
        for (vk, v) in prices.vms() {
            for (bk, b) in prices.boots() {
                let c = cost::vm_per_upload(b.seconds, m.start_s, m.work_s + m.teardown_s, v, m.storage_usd);
                vm.push(VmRow { vm: vk.to_string(), boot: bk.to_string(), boot_s: b.seconds, cost: c });
            }
        }
    }
    let a = prices.always_on();
    let capacity = machine
        .map(|m| cost::capacity_per_machine(m.work_s, a.vcpus, study.machine.cores, a.month_hours * 3600.0));
    InputCosts { input, faas, faas_cpu, machine, vm, capacity }
}

impl InputCosts<'_> {
    /// The plain design's FaaS cost (kiln-oneshot), else the first measured.
    pub fn faas_reference(&self) -> Option<&(String, Usage, FaasCost)> {
        self.faas.iter().find(|(p, _, _)| p == "kiln-oneshot").or(self.faas.first())
    }

    /// The plain design billed at one full vCPU, when prices.toml gives it.
    pub fn faas_cpu_reference(&self) -> Option<&(String, Usage, FaasCost)> {
        self.faas_cpu.iter().find(|(p, _, _)| p.starts_with("kiln-oneshot ")).or(self.faas_cpu.first())
    }

    pub fn cheapest_faas(&self) -> Option<&(String, Usage, FaasCost)> {
        self.faas.iter().min_by(|a, b| a.2.total().total_cmp(&b.2.total()))
    }

    pub fn always_on_at(&self, prices: &Prices, uploads: f64) -> Option<AlwaysOnCost> {
        let m = self.machine?;
        Some(cost::always_on(uploads, self.capacity?, prices.always_on().usd_per_month, m.storage_usd))
    }

    pub fn break_even(&self, prices: &Prices, faas_per_upload: f64) -> Option<f64> {
        let m = self.machine?;
        cost::break_even_uploads(prices.always_on().usd_per_month, self.capacity?, m.storage_usd, faas_per_upload)
    }
}

/// Decades from the scenario's rate_min to rate_max.
pub fn decades(prices: &Prices) -> Vec<f64> {
    let (lo, hi) = (prices.scenario.rate_min.log10().ceil() as i32, prices.scenario.rate_max.log10().floor() as i32);
    (lo..=hi).map(|e| 10f64.powi(e)).collect()
}

/// The per-upload cost table of one input.
pub fn cost_table(c: &InputCosts, prices: &Prices) -> String {
    let mut rows = Vec::new();
    let cpu_mib = prices.faas().full_vcpu_mib.unwrap_or(f64::NAN);
    let lists = [(&c.faas, prices.faas().memory_mib), (&c.faas_cpu, cpu_mib)];
    for (p, u, f, mib) in lists.iter().flat_map(|(l, mib)| l.iter().map(move |(p, u, f)| (p, u, f, *mib))) {
        let detail = format!(
            "{} invocations {}, API {}, {:.2} s billed at {mib:.0} MiB {}, {} PUT + {} GET + {} other {}, {} moved {}",
            u.invocations, fmt_usd(f.requests), fmt_usd(f.trigger), u.billed_s, fmt_usd(f.compute),
            u.s3_put, u.s3_get, u.s3_other, fmt_usd(f.storage), super::markdown::fmt_mib(u.internal_bytes), fmt_usd(f.transfer)
        );
        rows.push(vec![format!("FaaS, {p}"), fmt_usd(f.total()), fmt_usd(f.total() * 1000.0), detail]);
    }
    for r in &c.vm {
        let (v, b) = (&prices.vm[&r.vm], &prices.boot[&r.boot]);
        let m = c.machine.expect("VM rows exist only with machine times");
        let detail = format!(
            "boot {} s ({}) + start {} ms + work {} ms + teardown {} ms = {:.1} s busy → {:.0} s billed (min {:.0} s) × {}/s; storage {}",
            r.boot_s, b.label, fmt_ms(m.start_s * 1e3), fmt_ms(m.work_s * 1e3), fmt_ms(m.teardown_s * 1e3),
            r.cost.busy_s, r.cost.billed_s, v.min_billed_s, fmt_usd(v.usd_per_second()), fmt_usd(r.cost.storage)
        );
        rows.push(vec![format!("VM per conversion, {}", v.label), fmt_usd(r.cost.total()), fmt_usd(r.cost.total() * 1000.0), detail]);
    }
    table(&strings(&["model", "per upload", "per 1,000 uploads", "how"]), &rows)
}

/// Cost per 1,000 uploads at each decade of the upload rate.
pub fn rate_table(c: &InputCosts, prices: &Prices) -> String {
    let rates = decades(prices);
    let mut headers = strings(&["model \\ uploads per month"]);
    headers.extend(rates.iter().map(|r| fmt_count(*r)));
    let mut rows = Vec::new();
    for (p, _, f) in c.faas.iter().chain(&c.faas_cpu) {
        let mut row = vec![format!("FaaS, {p}")];
        row.extend(rates.iter().map(|_| fmt_usd(f.total() * 1000.0)));
        rows.push(row);
    }
    if let Some(r) = c.vm.first() {
        let mut row = vec![format!("VM per conversion, {} s boot", r.boot_s)];
        row.extend(rates.iter().map(|_| fmt_usd(r.cost.total() * 1000.0)));
        rows.push(row);
    }
    if c.machine.is_some() {
        let mut row = vec![format!("{} (machines)", prices.always_on().label)];
        for &u in &rates {
            let a = c.always_on_at(prices, u).expect("machine times present");
            row.push(format!("{} ({})", fmt_usd(a.per_upload * 1000.0), a.machines));
        }
        rows.push(row);
    }
    table(&headers, &rows)
}

/// Lines for the cost-vs-rate plot.
pub fn plot_series(c: &InputCosts, prices: &Prices) -> Vec<Series> {
    let (lo, hi) = (prices.scenario.rate_min.log10(), prices.scenario.rate_max.log10());
    let xs: Vec<f64> = (0..=240).map(|i| 10f64.powf(lo + (hi - lo) * f64::from(i) / 240.0)).collect();
    let flat = |label: String, y: f64| Series { label, points: xs.iter().map(|&x| (x, y)).collect() };
    let mut out: Vec<Series> =
        c.faas.iter().chain(&c.faas_cpu).map(|(p, _, f)| flat(format!("FaaS {p}"), f.total() * 1000.0)).collect();
    let first_vm = prices.scenario.vm.first();
    let on_first_vm = c.vm.iter().filter(|r| Some(&r.vm) == first_vm);
    let mut boots: Vec<&VmRow> = on_first_vm.collect();
    boots.sort_by(|a, b| a.boot_s.total_cmp(&b.boot_s));
    let mut picked: Vec<&VmRow> = Vec::new();
    for r in [boots.first(), boots.last()].into_iter().flatten() {
        if !picked.iter().any(|x| std::ptr::eq(*x, *r)) {
            picked.push(r);
        }
    }
    for r in picked {
        out.push(flat(format!("VM per conversion, {} s boot ({})", r.boot_s, prices.vm[&r.vm].label), r.cost.total() * 1000.0));
    }
    if c.machine.is_some() {
        let pts = xs.iter().filter_map(|&x| c.always_on_at(prices, x).map(|a| (x, a.per_upload * 1000.0))).collect();
        out.push(Series { label: prices.always_on().label.clone(), points: pts });
    }
    out
}

/// The burst: workers = jobs × time / deadline, warm and after each boot.
pub fn capacity_section(study: &Study, c: &InputCosts, prices: &Prices) -> String {
    let s = &prices.scenario;
    let (jobs, deadline) = (s.burst_jobs, s.burst_deadline_s);
    let mut rows = Vec::new();
    // FaaS instances boot no VM (their start is the measured `instantiate`),
    // so only machines get the boot columns.
    let mut add = |what: String, t: f64, boots: bool| {
        let warm = cost::workers(jobs, t, deadline);
        let mut row = vec![what, format!("{:.2}", t), format!("{}", warm.ceil())];
        for (_, b) in prices.boots() {
            let cold = cost::workers_after_boot(jobs, t, deadline, b.seconds);
            let cell = if boots { cold.map(|w| format!("{}", w.ceil())).unwrap_or_else(|| "impossible".into()) } else { "—".into() };
            row.push(cell);
        }
        rows.push(row);
    };
    for path in ["kiln-oneshot", "kiln-combined", "kiln-tus"] {
        if let Some(t) = study.timing(&c.input.name, path, "upload", "total") {
            add(format!("FaaS instances, {path} (upload wall time)"), t.median / 1000.0, false);
        }
    }
    if let Some(m) = c.machine {
        add("machines, offload worker (start + work + teardown)".into(), m.start_s + m.work_s + m.teardown_s, true);
    }
    let instantiate: Vec<f64> = ["webp", "avif", "jpeg", "thumbnail"]
        .iter()
        .filter_map(|v| study.timing(&c.input.name, "kiln-direct", v, "instantiate").map(|s| s.median))
        .collect();
    let mut headers = vec!["worker".to_string(), "time per upload, s".into(), "workers, already warm".into()];
    headers.extend(prices.boots().iter().map(|(_, b)| format!("booting {} s first", b.seconds)));
    let mut out = format!(
        "Burst: **{} uploads within {} s** (prices.toml `[scenario]`). workers = jobs × time / deadline; \
         a worker that must boot first has only deadline − boot left. FaaS instances boot no VM (—): \
         a Spin instance starts with the request{}.\n\n",
        fmt_count(jobs),
        deadline,
        if instantiate.is_empty() {
            String::new()
        } else {
            format!(" (a trivial request to a component, instantiation included, took {:.1} ms here)", instantiate.iter().sum::<f64>() / instantiate.len() as f64)
        }
    );
    out += &table(&headers, &rows);
    if let (Some(m), Some((p, _, _))) = (c.machine, c.faas_reference())
        && let Some(t) = study.timing(&c.input.name, p, "upload", "total")
    {
        let base = m.start_s + m.work_s + m.teardown_s;
        out += "\nLatency a boot adds to one upload (a VM per conversion):\n\n";
        for (_, b) in prices.boots() {
            out += &format!(
                "- {} s boot ({}): the variants are ready after {:.1} s instead of {:.2} s on a warm machine \
                 ({} the machine's conversion time) and {:.2} s on {p}.\n",
                b.seconds, b.label, b.seconds + base, base, fmt_ratio((b.seconds + base) / base), t.median / 1000.0
            );
        }
    }
    out
}

/// Plain-language conclusion for one input, every number computed.
pub fn conclusion(c: &InputCosts, prices: &Prices) -> String {
    let Some((fp, _, f)) = c.faas_reference() else { return String::new() };
    let mut out = format!("**{} ({}).** ", c.input.class, c.input.name);
    out += &format!(
        "FaaS ({fp}, billed at {} MiB) costs {} per 1,000 uploads at any rate",
        prices.faas().memory_mib, fmt_usd(f.total() * 1000.0)
    );
    if let Some((cp, _, cf)) = c.faas_cpu_reference() {
        out += &format!("; billed as {cp}, the memory that buys the full core the times were measured on, {}", fmt_usd(cf.total() * 1000.0));
    }
    out += ". ";
    if let Some((cp, _, cf)) = c.cheapest_faas().filter(|(p, _, _)| p != fp) {
        out += &format!("The {cp} design costs {} ({} of it). ", fmt_usd(cf.total() * 1000.0), fmt_ratio(cf.total() / f.total()));
    }
    out += &vm_sentence(c, f.total());
    out += &always_on_sentence(c, prices, fp, f.total());
    if let Some((cp, _, cf)) = c.faas_cpu_reference() {
        out += " ";
        out += &always_on_sentence(c, prices, cp, cf.total());
    }
    out
}

fn vm_sentence(c: &InputCosts, faas: f64) -> String {
    let by_cost = |x: &&VmRow, y: &&VmRow| x.cost.total().total_cmp(&y.cost.total());
    let (Some(lo), Some(hi)) = (c.vm.iter().min_by(by_cost), c.vm.iter().max_by(by_cost)) else { return String::new() };
    let wins = c.vm.iter().filter(|r| r.cost.total() < faas).count();
    let verdict = if wins == 0 {
        "more than FaaS with every boot figure: the boot and the minimum billing dwarf the work".to_string()
    } else {
        format!("less than FaaS in {wins} of {} (VM, boot) cases", c.vm.len())
    };
    format!(
        "A VM per conversion costs {}–{} per 1,000 ({}–{} FaaS; boots {}–{} s), {verdict}. ",
        fmt_usd(lo.cost.total() * 1000.0), fmt_usd(hi.cost.total() * 1000.0),
        fmt_ratio(lo.cost.total() / faas), fmt_ratio(hi.cost.total() / faas), lo.boot_s, hi.boot_s
    )
}

fn always_on_sentence(c: &InputCosts, prices: &Prices, faas_label: &str, faas: f64) -> String {
    let a = prices.always_on();
    let (Some(cap), Some(m)) = (c.capacity, c.machine) else {
        return "No machine-offload timing was measured, so machines are not compared.".into();
    };
    let full = a.usd_per_month / cap + m.storage_usd;
    match c.break_even(prices, faas) {
        Some(u) => format!(
            "Against FaaS {faas_label}, an always-on {} wins above **{} uploads per month** (≈{} per hour); at its capacity of {} uploads per month it costs {} per 1,000, {} cheaper.",
            a.label, fmt_count(u), fmt_count(u / a.month_hours), fmt_count(cap), fmt_usd(full * 1000.0), fmt_ratio(faas / full)
        ),
        None => format!(
            "Against FaaS {faas_label}, an always-on {} never wins: even full ({} uploads per month) it costs {} per 1,000, {} FaaS.",
            a.label, fmt_count(cap), fmt_usd(full * 1000.0), fmt_ratio(full / faas)
        ),
    }
}

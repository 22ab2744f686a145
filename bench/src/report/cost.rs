//! The cost model, as pure functions of measured times/counts and prices:
//! FaaS per upload (requests, GB-s, object-store requests, transfer), a VM per
//! conversion (per-second price × (boot + start + work), minimum billing), an
//! always-on machine (monthly price over uploads, capacity-limited), the
//! break-even rate, and the capacity formula workers = jobs × time / deadline.

use super::prices::{Faas, ObjectStore, Transfer, Trigger, Vm};

/// Bytes in a billed GB (AWS bills data in GiB-sized "GB").
pub const BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What one upload uses on the FaaS platform.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub invocations: f64,
    pub client_requests: f64,
    pub s3_put: f64,
    pub s3_get: f64,
    pub s3_other: f64,
    pub internal_bytes: f64,
    /// Billed function seconds per upload (after rounding up per invocation).
    pub billed_s: f64,
}

/// Billed seconds per upload from per-invocation wall times (ms): each is
/// rounded up to `increment_ms`; a list holding several uploads' invocations
/// (a multiple of `invocations`) is averaged per upload.
pub fn billed_seconds_per_upload(billed_ms: &[f64], invocations: u32, increment_ms: f64) -> f64 {
    let round = |ms: f64| if increment_ms > 0.0 { (ms / increment_ms).ceil() * increment_ms } else { ms };
    let total_ms: f64 = billed_ms.iter().map(|&ms| round(ms)).sum();
    let inv = invocations as usize;
    let uploads = if inv > 0 && billed_ms.len() >= 2 * inv { billed_ms.len() / inv } else { 1 };
    total_ms / uploads as f64 / 1000.0
}

/// Object-store request cost of one upload.
pub fn storage_usd(put: f64, get: f64, other: f64, store: &ObjectStore) -> f64 {
    put * store.put + get * store.get + other * store.other
}

/// FaaS cost of one upload, by component.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaasCost {
    pub requests: f64,
    pub trigger: f64,
    pub compute: f64,
    pub storage: f64,
    pub transfer: f64,
}

impl FaasCost {
    pub fn total(&self) -> f64 {
        self.requests + self.trigger + self.compute + self.storage + self.transfer
    }
}

pub fn faas_per_upload(u: &Usage, faas: &Faas, trigger: &Trigger, store: &ObjectStore, transfer: &Transfer) -> FaasCost {
    FaasCost {
        requests: u.invocations * faas.request,
        trigger: u.client_requests * trigger.request,
        compute: u.billed_s * (faas.memory_mib / 1024.0) * faas.gb_second,
        storage: storage_usd(u.s3_put, u.s3_get, u.s3_other, store),
        transfer: u.internal_bytes / BYTES_PER_GB * transfer.per_gb,
    }
}

/// Seconds billed for a machine busy `busy_s`: rounded up to the increment,
/// at least the minimum.
pub fn vm_billed_seconds(busy_s: f64, min_s: f64, increment_s: f64) -> f64 {
    let rounded = if increment_s > 0.0 { (busy_s / increment_s).ceil() * increment_s } else { busy_s };
    rounded.max(min_s)
}

/// One conversion on its own freshly booted machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmCost {
    pub busy_s: f64,
    pub billed_s: f64,
    pub compute: f64,
    pub storage: f64,
}

impl VmCost {
    pub fn total(&self) -> f64 {
        self.compute + self.storage
    }
}

/// `boot_s` is the published VM boot, `start_s` + `work_s` are measured
/// (worker process start until it answers, then the conversion round trip,
/// teardown included).
pub fn vm_per_upload(boot_s: f64, start_s: f64, work_s: f64, vm: &Vm, storage: f64) -> VmCost {
    let busy_s = boot_s + start_s + work_s;
    let billed_s = vm_billed_seconds(busy_s, vm.min_billed_s, vm.billing_increment_s);
    VmCost { busy_s, billed_s, compute: billed_s * vm.usd_per_second(), storage }
}

/// Uploads per month one always-on machine can take: its month divided by
/// the per-upload work time measured on `measured_cores`, scaled linearly
/// to the machine's vCPUs.
pub fn capacity_per_machine(work_s: f64, vcpus: u32, measured_cores: u32, month_s: f64) -> f64 {
    let scale = if measured_cores > 0 { f64::from(vcpus) / f64::from(measured_cores) } else { 1.0 };
    month_s / work_s * scale
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlwaysOnCost {
    pub machines: u64,
    pub monthly: f64,
    pub per_upload: f64,
}

/// Always-on machines for `uploads` a month: as many as capacity requires,
/// at least one, plus the object-store requests of every upload.
pub fn always_on(uploads: f64, capacity: f64, usd_per_month: f64, storage_per_upload: f64) -> AlwaysOnCost {
    let machines = ((uploads / capacity).ceil() as u64).max(1);
    let monthly = machines as f64 * usd_per_month + storage_per_upload * uploads;
    AlwaysOnCost { machines, monthly, per_upload: monthly / uploads }
}

/// Uploads per month above which always-on machines cost less per upload
/// than FaaS; `None` if they never do (the machine is dearer even when full).
pub fn break_even_uploads(usd_per_month: f64, capacity: f64, machine_storage: f64, faas_per_upload: f64) -> Option<f64> {
    let margin = faas_per_upload - machine_storage;
    if margin <= 0.0 {
        return None;
    }
    let uploads = usd_per_month / margin;
    (uploads <= capacity).then_some(uploads)
}

/// The capacity formula: workers = jobs × time / deadline (not rounded).
pub fn workers(jobs: f64, time_s: f64, deadline_s: f64) -> f64 {
    jobs * time_s / deadline_s
}

/// Workers a burst needs when each must first boot: the boot eats into the
/// deadline; `None` when the boot alone is longer than the deadline.
pub fn workers_after_boot(jobs: f64, time_s: f64, deadline_s: f64, boot_s: f64) -> Option<f64> {
    let left = deadline_s - boot_s;
    (left > 0.0).then(|| workers(jobs, time_s, left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::prices::Cite;

    fn faas() -> Faas {
        Faas { label: "f".into(), gb_second: 0.00001, request: 0.0000002, memory_mib: 128.0, billing_increment_ms: 1.0, full_vcpu_mib: None, cite: Cite::default() }
    }
    fn store() -> ObjectStore {
        ObjectStore { label: "s".into(), put: 0.000005, get: 0.0000004, other: 0.000005, cite: Cite::default() }
    }
    fn vm(per_hour: f64, min_s: f64) -> Vm {
        Vm { label: "v".into(), vcpus: 16, memory_gib: 32.0, usd_per_hour: Some(per_hour), usd_per_second: None, min_billed_s: min_s, billing_increment_s: 1.0, cite: Cite::default() }
    }

    #[test]
    fn billed_seconds_round_up_and_average_over_uploads() {
        // 3 invocations of one upload: 100.2 → 101, 200 → 200, 0.5 → 1 ms.
        assert!((billed_seconds_per_upload(&[100.2, 200.0, 0.5], 3, 1.0) - 0.302).abs() < 1e-12);
        // Two uploads' worth of 2 invocations each: (1000+3000+1000+3000)/2.
        assert!((billed_seconds_per_upload(&[1000.0, 3000.0, 1000.0, 3000.0], 2, 1.0) - 4.0).abs() < 1e-12);
        // 100 ms granularity: 150 → 200.
        assert!((billed_seconds_per_upload(&[150.0], 1, 100.0) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn faas_cost_by_hand() {
        let u = Usage { invocations: 5.0, client_requests: 1.0, s3_put: 6.0, s3_get: 4.0, s3_other: 0.0, internal_bytes: BYTES_PER_GB, billed_s: 8.0 };
        let trig = Trigger { label: "t".into(), request: 0.000001, cite: Cite::default() };
        let xfer = Transfer { label: "x".into(), per_gb: 0.02, cite: Cite::default() };
        let c = faas_per_upload(&u, &faas(), &trig, &store(), &xfer);
        assert!((c.requests - 0.000001).abs() < 1e-15); // 5 × $0.0000002
        assert!((c.trigger - 0.000001).abs() < 1e-15);
        assert!((c.compute - 0.00001).abs() < 1e-15); // 8 s × 0.125 GB × $0.00001
        assert!((c.storage - 0.0000316).abs() < 1e-15); // 6 × 5e-6 + 4 × 4e-7
        assert!((c.transfer - 0.02).abs() < 1e-15);
        assert!((c.total() - 0.0200436).abs() < 1e-12);
    }

    #[test]
    fn vm_minimum_and_rounding() {
        assert_eq!(vm_billed_seconds(12.3, 60.0, 1.0), 60.0);
        assert_eq!(vm_billed_seconds(61.2, 60.0, 1.0), 62.0);
        assert_eq!(vm_billed_seconds(0.3, 0.0, 1.0), 1.0);
        // $0.72/h = $0.0002/s; 45 s boot + 0.5 s start + 2 s work = 47.5 s → 60 s minimum.
        let c = vm_per_upload(45.0, 0.5, 2.0, &vm(0.72, 60.0), 0.00003);
        assert_eq!((c.busy_s, c.billed_s), (47.5, 60.0));
        assert!((c.compute - 0.012).abs() < 1e-12);
        assert!((c.total() - 0.01203).abs() < 1e-12);
    }

    #[test]
    fn always_on_spreads_and_scales_with_load() {
        // 2 s per upload on 2 measured cores, machine with 2 vCPU, 30-day month.
        let cap = capacity_per_machine(2.0, 2, 2, 2_592_000.0);
        assert_eq!(cap, 1_296_000.0);
        let a = always_on(1000.0, cap, 66.0, 0.0);
        assert_eq!(a.machines, 1);
        assert!((a.per_upload - 0.066).abs() < 1e-12);
        let b = always_on(3_000_000.0, cap, 66.0, 0.0);
        assert_eq!(b.machines, 3);
        assert!((b.monthly - 198.0).abs() < 1e-9);
        // A 4 vCPU machine takes twice as many.
        assert_eq!(capacity_per_machine(2.0, 4, 2, 2_592_000.0), 2_592_000.0);
    }

    #[test]
    fn break_even_by_hand() {
        // $66/month vs $0.0001 per FaaS upload → 660,000 uploads/month.
        let u = break_even_uploads(66.0, 1_296_000.0, 0.0, 0.0001).unwrap();
        assert!((u - 660_000.0).abs() < 1e-6);
        // Same, but the machine also pays $0.00005 of requests per upload.
        assert!((break_even_uploads(66.0, 1e7, 0.00005, 0.0001).unwrap() - 1_320_000.0).abs() < 1e-6);
        // Break-even beyond one machine's capacity: machines never win.
        assert_eq!(break_even_uploads(66.0, 500_000.0, 0.0, 0.0001), None);
        assert_eq!(break_even_uploads(66.0, 1e9, 0.0002, 0.0001), None);
    }

    #[test]
    fn capacity_formula_by_hand() {
        // 1,000 uploads × 3 s each within 60 s → 50 workers.
        assert_eq!(workers(1000.0, 3.0, 60.0), 50.0);
        // With a 45 s boot only 15 s are left → 200 workers; a 60 s boot can't make it.
        assert_eq!(workers_after_boot(1000.0, 3.0, 60.0, 45.0), Some(200.0));
        assert_eq!(workers_after_boot(1000.0, 3.0, 60.0, 60.0), None);
    }
}

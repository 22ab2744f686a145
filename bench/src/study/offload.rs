//! The machine-offload baseline: per upload, the driver cold-starts a
//! `kiln-offload-worker` process (the stand-in for booting a VM), waits for
//! its gRPC `Ping`, sends the image with `Upload` (all four variants in
//! parallel threads, written to the same kiln-store), and tears it down.
//! The VM boot itself is not simulated: the report adds the cited boot
//! times from bench/prices.toml as a separate column.

use super::record::{Key, Requests, Results};
use super::settings::VARIANTS;
use anyhow::{Context, Result};
use kiln_e2e::{Stack, ACCESS_KEY, BUCKET, SECRET_KEY};
use kiln_offload::{drive, DriveOptions, S3Settings};
use std::path::PathBuf;
use std::time::Duration;

/// The worker binary built next to this one (`cargo build --release`).
pub fn worker_bin() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.parent().context("exe dir")?.join("kiln-offload-worker");
    anyhow::ensure!(bin.exists(), "{} not found: build it with `cargo build --release -p kiln-offload`", bin.display());
    Ok(bin)
}

pub fn options(stack: &Stack, worker_bin: PathBuf) -> DriveOptions {
    DriveOptions {
        worker_bin,
        token: format!("study-{}", std::process::id()),
        s3: S3Settings {
            endpoint: stack.s3.clone(),
            bucket: BUCKET.into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            region: "us-east-1".into(),
            public_base_url: format!("{}/{BUCKET}", stack.s3),
        },
        lifetime_secs: 1200,
        ready_timeout: Duration::from_secs(30),
    }
}

/// One offloaded upload, recorded under path `offload`.
pub fn upload(opts: &DriveOptions, r: &mut Results, input: &str, bytes: &[u8], run: usize) -> Result<()> {
    let report = drive(opts, "photo.jpg", &format!("study-{run}"), bytes.to_vec()).with_context(|| format!("offload of {input}"))?;
    anyhow::ensure!(report.variants.len() == VARIANTS.len(), "offload returned {} variants", report.variants.len());
    let k = Key { input, path: "offload", variant: "upload" };
    r.time(k, "spawn", report.spawn_ms);
    r.time(k, "ready", report.ready_ms);
    r.time(k, "upload", report.upload_ms);
    r.time(k, "teardown", report.teardown_ms);
    r.time(k, "total", report.total_ms);
    for (name, ms) in &report.server_timing {
        match name.split_once('-') {
            Some((variant, stage)) => r.time(Key { input, path: "offload", variant }, stage, *ms),
            None if name == "total" => r.time(k, "worker_total", *ms),
            None => r.time(k, name, *ms),
        }
    }
    if let Some(rss) = report.peak_rss_bytes {
        r.memory(k, "rss", rss, None);
    }
    r.requests(Requests {
        input: input.into(),
        path: "offload".into(),
        function_invocations: 0,
        s3_put: 1 + VARIANTS.len() as u32,
        s3_get: 0,
        s3_other: 0,
        internal_bytes: bytes.len() as u64,
        billed_function_ms: Vec::new(),
        client_requests: Some(1),
    });
    Ok(())
}

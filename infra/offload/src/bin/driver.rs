//! `kiln-offload-driver`: plays the dispatcher for one image — starts a
//! `kiln-offload-worker`, waits for Ping, uploads, tears the worker down —
//! and prints the step timings as JSON.

use anyhow::Context;
use clap::Parser;
use kiln_offload::{drive, DriveOptions, S3Settings};
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "kiln-offload-driver", version, about)]
struct Args {
    /// The image to upload.
    image: PathBuf,
    /// The worker binary (default: kiln-offload-worker next to this one).
    #[arg(long)]
    worker: Option<PathBuf>,
    /// Token the worker is started with (default: a fresh random one).
    #[arg(long, env = "KILN_OFFLOAD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Folder under originals/ (default: offload-<unix ms>).
    #[arg(long)]
    folder: Option<String>,
    #[arg(long, env = "KILN_OFFLOAD_S3_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    s3_endpoint: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_BUCKET", default_value = "kiln")]
    s3_bucket: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_ACCESS_KEY", default_value = "kiln")]
    s3_access_key: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_SECRET_KEY", default_value = "kiln-dev-secret", hide_env_values = true)]
    s3_secret_key: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// Base of the public URLs (default: <s3-endpoint>/<s3-bucket>).
    #[arg(long, env = "KILN_OFFLOAD_PUBLIC_BASE_URL")]
    public_base_url: Option<String>,
    /// The worker's self-termination deadline, seconds.
    #[arg(long, default_value_t = 1200)]
    lifetime: u64,
    /// How long the worker may take to answer Ping, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    ready_timeout_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let worker_bin = match args.worker.clone() {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("kiln-offload-worker"),
    };
    let file_name = args.image.file_name().context("the image path has no file name")?.to_string_lossy().into_owned();
    let data = std::fs::read(&args.image).with_context(|| format!("read {}", args.image.display()))?;
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let folder = args.folder.clone().unwrap_or_else(|| format!("offload-{millis}"));
    let opts = DriveOptions {
        worker_bin,
        token: args.token.clone().unwrap_or_else(random_token),
        s3: S3Settings {
            public_base_url: args.public_base_url.clone().unwrap_or_else(|| format!("{}/{}", args.s3_endpoint.trim_end_matches('/'), args.s3_bucket)),
            endpoint: args.s3_endpoint,
            bucket: args.s3_bucket,
            access_key: args.s3_access_key,
            secret_key: args.s3_secret_key,
            region: args.s3_region,
        },
        lifetime_secs: args.lifetime,
        ready_timeout: Duration::from_millis(args.ready_timeout_ms),
    };
    let report = drive(&opts, &file_name, &folder, data)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// 128 bits from the standard library's per-process random hash keys.
fn random_token() -> String {
    let a = RandomState::new().hash_one(std::process::id());
    let b = RandomState::new().hash_one(std::time::Instant::now());
    format!("{a:016x}{b:016x}")
}

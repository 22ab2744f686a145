//! The worker: flags, the `Image` gRPC service and the server loop.
//!
//! `Upload` checks the bearer token, the names and the image (header only:
//! format, pixels, memory estimate, for every variant) before anything is
//! stored; then it PUTs the original at `originals/<folder>/<file_name>`,
//! makes the four variants in parallel ([`crate::variants`]) and answers
//! their public URLs. If any variant fails, the whole call fails (uplodr
//! style) with one status naming each failed variant and why, and which
//! ones were stored; the original and the stored variants stay in the
//! bucket. Stage timings (`server-timing`) and the peak RSS
//! (`kiln-peak-rss`) are in the response metadata, on errors too.
//!
//! The process exits by itself after `--lifetime` seconds, busy or not, so
//! a worker the dispatcher lost never runs (and bills) forever.

use crate::proto::image_server::{Image, ImageServer};
use crate::proto::{Echo, UploadReq, UploadResp, Variant};
use crate::settings::{S3Settings, VariantJob, VariantSettings};
use crate::storage::{ObjectStore, StorageError};
use crate::timing::{peak_rss_bytes, Timings};
use crate::variants::{make_all, VariantError};
use anyhow::Context;
use kiln_upload::keys::{validate_source_key, ORIGINALS_PREFIX};
use kiln_core::{ConvertOptions, KilnError, Limits};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// `kiln-offload-worker`: converts one upload per process lifetime, uplodr-style.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "kiln-offload-worker", version, about)]
pub struct Args {
    /// Address to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, env = "KILN_OFFLOAD_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Seconds after which the process exits by itself, busy or not.
    #[arg(long, env = "KILN_OFFLOAD_LIFETIME", default_value_t = 1200)]
    pub lifetime: u64,
    /// Bearer token `Upload` requires (`authorization: Bearer <token>`).
    #[arg(long, env = crate::TOKEN_ENV, hide_env_values = true)]
    pub token: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub s3_endpoint: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_BUCKET", default_value = "kiln")]
    pub s3_bucket: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_ACCESS_KEY", default_value = "kiln")]
    pub s3_access_key: String,
    #[arg(long, env = crate::S3_SECRET_ENV, default_value = "kiln-dev-secret", hide_env_values = true)]
    pub s3_secret_key: String,
    #[arg(long, env = "KILN_OFFLOAD_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Base of the variants' public URLs (default: <s3-endpoint>/<s3-bucket>).
    #[arg(long, env = "KILN_OFFLOAD_PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Attempts per object-store request (exponential backoff from 100 ms).
    #[arg(long, env = "KILN_OFFLOAD_STORAGE_ATTEMPTS", default_value_t = 4)]
    pub storage_attempts: u32,
    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, env = "KILN_OFFLOAD_MAX_MESSAGE_BYTES", default_value_t = crate::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,
    /// Limits checked before decoding (kiln's defaults).
    #[arg(long, env = "KILN_OFFLOAD_MAX_INPUT_BYTES", default_value_t = kiln_core::limits::DEFAULT_MAX_INPUT_BYTES)]
    pub max_input_bytes: u64,
    #[arg(long, env = "KILN_OFFLOAD_MAX_PIXELS", default_value_t = kiln_core::limits::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    #[arg(long, env = "KILN_OFFLOAD_MAX_MEMORY_BYTES", default_value_t = kiln_core::limits::DEFAULT_MAX_MEMORY_BYTES)]
    pub max_memory_bytes: u64,
    /// Variant sizes and encoder settings (kiln's spin.toml defaults).
    #[arg(long, env = "KILN_OFFLOAD_VARIANT_MAX_SIDE", default_value_t = 2048)]
    pub variant_max_side: u32,
    #[arg(long, env = "KILN_OFFLOAD_AVIF_MAX_SIDE", default_value_t = 2048)]
    pub avif_max_side: u32,
    #[arg(long, env = "KILN_OFFLOAD_THUMBNAIL_MAX_SIDE", default_value_t = 256)]
    pub thumbnail_max_side: u32,
    #[arg(long, env = "KILN_OFFLOAD_WEBP_QUALITY", default_value_t = 80.0)]
    pub webp_quality: f32,
    #[arg(long, env = "KILN_OFFLOAD_JPEG_QUALITY", default_value_t = 82.0)]
    pub jpeg_quality: f32,
    #[arg(long, env = "KILN_OFFLOAD_AVIF_QUALITY", default_value_t = 60.0)]
    pub avif_quality: f32,
    #[arg(long, env = "KILN_OFFLOAD_AVIF_SPEED", default_value_t = 9)]
    pub avif_speed: u8,
}

impl Args {
    pub fn s3(&self) -> S3Settings {
        S3Settings {
            endpoint: self.s3_endpoint.clone(),
            bucket: self.s3_bucket.clone(),
            access_key: self.s3_access_key.clone(),
            secret_key: self.s3_secret_key.clone(),
            region: self.s3_region.clone(),
            public_base_url: self
                .public_base_url
                .clone()
                .unwrap_or_else(|| format!("{}/{}", self.s3_endpoint.trim_end_matches('/'), self.s3_bucket)),
        }
    }

    pub fn variants(&self) -> VariantSettings {
        VariantSettings {
            variant_max_side: self.variant_max_side,
            avif_max_side: self.avif_max_side,
            thumbnail_max_side: self.thumbnail_max_side,
            webp_quality: self.webp_quality,
            jpeg_quality: self.jpeg_quality,
            avif_quality: self.avif_quality,
            avif_speed: self.avif_speed,
        }
    }

    pub fn limits(&self) -> Limits {
        Limits { max_input_bytes: self.max_input_bytes, max_pixels: self.max_pixels, max_memory_bytes: self.max_memory_bytes, ..Limits::default() }
    }
}

/// The `Image` service.
pub struct ImageService {
    token: String,
    limits: Limits,
    jobs: Arc<Vec<VariantJob>>,
    store: Arc<ObjectStore>,
}

impl ImageService {
    /// Checks the settings (token, encoder parameters, store URL).
    pub fn new(args: &Args) -> anyhow::Result<ImageService> {
        anyhow::ensure!(!args.token.is_empty(), "the token must not be empty");
        let jobs = args.variants().jobs().context("variant settings")?;
        let store = ObjectStore::new(&args.s3(), args.storage_attempts)?;
        Ok(ImageService { token: args.token.clone(), limits: args.limits(), jobs: Arc::new(jobs), store: Arc::new(store) })
    }

    fn authorize(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let given = metadata.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let expected = format!("Bearer {}", self.token);
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            Ok(())
        } else if given.is_empty() {
            Err(Status::unauthenticated("missing 'authorization: Bearer <token>' metadata"))
        } else {
            Err(Status::unauthenticated("wrong bearer token"))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[tonic::async_trait]
impl Image for ImageService {
    async fn ping(&self, request: Request<Echo>) -> Result<Response<Echo>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn upload(&self, request: Request<UploadReq>) -> Result<Response<UploadResp>, Status> {
        let started = Instant::now();
        self.authorize(request.metadata())?;
        let req = request.into_inner();
        let (jobs, store, limits) = (self.jobs.clone(), self.store.clone(), self.limits);
        let done = tokio::task::spawn_blocking(move || upload(req, &jobs, limits, &store))
            .await
            .map_err(|e| Status::internal(format!("the upload task failed: {e}")));
        let (result, mut timings) = match done {
            Ok(pair) => pair,
            Err(status) => (Err(status), Timings::default()),
        };
        timings.push("total", started.elapsed());
        let metadata = response_metadata(&timings);
        match result {
            Ok(resp) => {
                let mut response = Response::new(resp);
                *response.metadata_mut() = metadata;
                Ok(response)
            }
            Err(status) => Err(Status::with_metadata(status.code(), status.message(), metadata)),
        }
    }
}

fn response_metadata(timings: &Timings) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    if let Ok(value) = MetadataValue::try_from(timings.header()) {
        metadata.insert(crate::SERVER_TIMING, value);
    }
    if let Some(rss) = peak_rss_bytes() {
        metadata.insert(crate::PEAK_RSS, MetadataValue::from(rss));
    }
    metadata
}

/// The blocking part of `Upload`: checks, original, variants.
fn upload(req: UploadReq, jobs: &[VariantJob], limits: Limits, store: &ObjectStore) -> (Result<UploadResp, Status>, Timings) {
    let mut timings = Timings::default();
    let result = upload_timed(req, jobs, limits, store, &mut timings);
    (result, timings)
}

fn upload_timed(req: UploadReq, jobs: &[VariantJob], limits: Limits, store: &ObjectStore, timings: &mut Timings) -> Result<UploadResp, Status> {
    let started = Instant::now();
    let source_key = original_key(&req.folder, &req.file_name)?;
    check_image(&req.data, jobs, limits)?;
    timings.push("validate", started.elapsed());

    let started = Instant::now();
    let mime = kiln_core::sniff::sniff(&req.data).map(|f| f.mime_type()).unwrap_or("application/octet-stream");
    store.put(&source_key, &req.data, mime).map_err(|e| storage_status(&e))?;
    timings.push("store_original", started.elapsed());

    let started = Instant::now();
    let outcomes = make_all(&req.data, &source_key, jobs, limits, store);
    timings.push("convert", started.elapsed());
    let mut variants = Vec::new();
    let mut failures = Vec::new();
    for outcome in outcomes {
        timings.extend(outcome.timings);
        match outcome.result {
            Ok(p) => variants.push((p.name, Variant { url: p.url, mime_type: p.mime_type.to_string() })),
            Err(e) => failures.push((outcome.name, e)),
        }
    }
    if failures.is_empty() {
        Ok(UploadResp { variants: variants.into_iter().map(|(_, v)| v).collect() })
    } else {
        Err(failed_variants(&failures, &variants.iter().map(|(n, _)| *n).collect::<Vec<_>>()))
    }
}

/// `originals/<folder>/<file_name>` (or `originals/<file_name>` without a
/// folder), checked with kiln's key rules; the file name is one segment.
pub fn original_key(folder: &str, file_name: &str) -> Result<String, Status> {
    if file_name.is_empty() {
        return Err(Status::invalid_argument("file_name must not be empty"));
    }
    if file_name.contains('/') {
        return Err(Status::invalid_argument(format!("file_name {file_name:?} must not contain '/'")));
    }
    let folder = folder.trim_matches('/');
    let key = if folder.is_empty() {
        format!("{ORIGINALS_PREFIX}{file_name}")
    } else {
        format!("{ORIGINALS_PREFIX}{folder}/{file_name}")
    };
    validate_source_key(&key).map_err(|e| Status::invalid_argument(format!("folder {folder:?} / file_name {file_name:?}: {e}")))?;
    Ok(key)
}

/// Header-only checks for every variant before anything is stored: the
/// bytes are an image kiln reads, within the byte, pixel and memory limits.
fn check_image(data: &[u8], jobs: &[VariantJob], limits: Limits) -> Result<(), Status> {
    if data.is_empty() {
        return Err(Status::invalid_argument("data is empty: send the image bytes"));
    }
    for job in jobs {
        let options = ConvertOptions { max_long_side: job.max_side, limits, metadata: Default::default() };
        kiln_core::pipeline::plan(data, &options, job.encoder.as_ref()).map_err(|e| {
            let status = kiln_status(&e);
            Status::new(status.code(), format!("{}: {}", job.encoder.format().name, status.message()))
        })?;
    }
    Ok(())
}

fn kiln_status(e: &KilnError) -> Status {
    match e {
        KilnError::TooLarge(_) => Status::resource_exhausted(e.to_string()),
        KilnError::Unsupported(_) => Status::invalid_argument(format!("not an image kiln reads ({e})")),
        KilnError::Corrupt(_) | KilnError::BadParameter(_) => Status::invalid_argument(e.to_string()),
        KilnError::Encode(_) => Status::internal(e.to_string()),
    }
}

fn storage_status(e: &StorageError) -> Status {
    match e {
        StorageError::Unavailable { .. } => Status::unavailable(e.to_string()),
        StorageError::Config(_) | StorageError::Refused { .. } => Status::internal(e.to_string()),
    }
}

/// One status for a partly failed upload: the most operational failure's
/// code (unavailable > internal > resource exhausted > invalid argument),
/// and a message naming every failed variant and the stored ones.
fn failed_variants(failures: &[(&str, VariantError)], stored: &[&str]) -> Status {
    let rank = |c: Code| match c {
        Code::Unavailable => 3,
        Code::Internal => 2,
        Code::ResourceExhausted => 1,
        _ => 0,
    };
    let statuses: Vec<(&str, Status)> = failures
        .iter()
        .map(|(name, e)| {
            let status = match e {
                VariantError::Convert(k) => kiln_status(k),
                VariantError::Store(s) => storage_status(s),
                VariantError::Panicked => Status::internal(e.to_string()),
            };
            (*name, status)
        })
        .collect();
    let code = statuses.iter().map(|(_, s)| s.code()).max_by_key(|c| rank(*c)).unwrap_or(Code::Internal);
    let details: Vec<String> = statuses.iter().map(|(n, s)| format!("{n}: {}", s.message())).collect();
    let total = failures.len() + stored.len();
    let stored = if stored.is_empty() { "none".to_string() } else { stored.join(", ") };
    Status::new(code, format!("{} of {total} variants failed: {}; stored: {stored}", failures.len(), details.join("; ")))
}

/// Binds, prints the listening line, serves until the lifetime is over.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let service = ImageService::new(&args)?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("bind {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}http://{addr}", crate::LISTENING_PREFIX)?;
    stdout.flush()?;
    drop(stdout);
    let server = ImageServer::new(service)
        .max_decoding_message_size(args.max_message_bytes)
        .max_encoding_message_size(args.max_message_bytes);
    // Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to the first Ping.
    let serve = tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)));
    tokio::select! {
        served = serve => served.context("gRPC server")?,
        () = tokio::time::sleep(Duration::from_secs(args.lifetime)) => {
            eprintln!("kiln-offload: lifetime of {} s over, exiting", args.lifetime);
        }
    }
    Ok(())
}

//! One upload, timed from its first request to its terminal manifest:
//! one-shot (`POST /v1/images`, then polling only if it answered 202) or
//! tus (create, PATCH chunk by chunk — resyncing with HEAD after a 409,
//! 423 or transport error — then polling `GET /v1/uploads/<id>`). The
//! harness panics on transport errors; each request here turns such a
//! panic into an error, so one broken upload is reported, not fatal.

use anyhow::{anyhow, bail, ensure, Context, Result};
use base64::Engine;
use kiln_e2e::{Reply, Stack};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// PATCHes retried per upload (after 409, 423 or a transport error).
const MAX_PATCH_RETRIES: u32 = 20;
/// Longest wait for a terminal manifest.
const POLL_LIMIT: Duration = Duration::from_secs(900);

/// An image to upload.
#[derive(Debug)]
pub struct Photo {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Photo {
    pub fn read(path: &Path) -> Result<Photo> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "photo.jpg".into());
        Ok(Photo { name, bytes })
    }
}

/// How an upload is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    OneShot,
    Tus { chunk: usize },
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::OneShot => "one-shot",
            Kind::Tus { .. } => "tus",
        }
    }
}

/// One upload to make.
#[derive(Debug, Clone)]
pub struct Job {
    pub index: usize,
    pub kind: Kind,
    pub photo: std::sync::Arc<Photo>,
}

/// What became of one upload.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub index: usize,
    pub kind: Kind,
    pub photo: String,
    pub bytes: u64,
    pub latency_ms: f64,
    /// The manifest's `status`, or `error` when no manifest was obtained.
    pub status: String,
    pub id: Option<String>,
    /// The variants' and the manifest's errors, or the client's error.
    pub errors: Vec<String>,
    pub variants: usize,
    /// Public URLs of the made variants.
    pub urls: Vec<String>,
    pub max_linear_memory: Option<u64>,
    /// One-shot: the POST answered 202 (finished by polling).
    pub accepted: bool,
    /// tus: PATCHes sent again after a 409, 423 or transport error.
    pub patch_retries: u32,
    /// tus: ms from the creation to the answer of the last PATCH.
    pub sent_ms: Option<f64>,
    /// The converters' stages (`fetch`, `decode`, `encode`, `store`,
    /// `chaining`, ...) in ms, summed over this upload's variants.
    pub stages_ms: BTreeMap<String, f64>,
}

/// The manifest and how the upload got there.
struct Finished {
    manifest: Value,
    accepted: bool,
    patch_retries: u32,
    sent_ms: Option<f64>,
}

/// Runs `job` and times it; never panics.
pub fn run(stack: &Stack, job: &Job, poll: Duration) -> Outcome {
    let started = Instant::now();
    let result = match job.kind {
        Kind::OneShot => one_shot(stack, job, poll),
        Kind::Tus { chunk } => tus(stack, job, chunk, poll),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut outcome = Outcome {
        index: job.index,
        kind: job.kind,
        photo: job.photo.name.clone(),
        bytes: job.photo.bytes.len() as u64,
        latency_ms,
        status: "error".into(),
        id: None,
        errors: Vec::new(),
        variants: 0,
        urls: Vec::new(),
        max_linear_memory: None,
        accepted: false,
        patch_retries: 0,
        sent_ms: None,
        stages_ms: BTreeMap::new(),
    };
    match result {
        Ok(finished) => read_manifest(&mut outcome, finished),
        Err(e) => outcome.errors.push(format!("{e:#}")),
    }
    outcome
}

fn read_manifest(outcome: &mut Outcome, finished: Finished) {
    let m = &finished.manifest;
    outcome.accepted = finished.accepted;
    outcome.patch_retries = finished.patch_retries;
    outcome.sent_ms = finished.sent_ms;
    outcome.status = m["status"].as_str().unwrap_or("unreadable").to_string();
    outcome.id = m["id"].as_str().map(str::to_string);
    outcome.errors.extend(m["error"].as_str().map(str::to_string));
    let variants = m["variants"].as_array().map(Vec::as_slice).unwrap_or_default();
    outcome.variants = variants.len();
    for v in variants {
        let format = v["format"].as_str().unwrap_or("?");
        outcome.errors.extend(v["error"].as_str().map(|e| format!("{format}: {e}")));
        outcome.urls.extend(v["url"].as_str().map(str::to_string));
        outcome.max_linear_memory = outcome.max_linear_memory.max(v["linear_memory"].as_u64());
        for (stage, ms) in v["stages"].as_object().into_iter().flatten() {
            *outcome.stages_ms.entry(stage.clone()).or_default() += ms.as_f64().unwrap_or(0.0);
        }
    }
}

/// A harness request; a panic in it (a transport error) becomes an error.
fn request(what: &str, f: impl FnOnce() -> Reply) -> Result<Reply> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let why = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".into());
        anyhow!("{what}: {why}")
    })
}

fn body_text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body[..reply.body.len().min(500)]).into_owned()
}

fn json(what: &str, reply: &Reply) -> Result<Value> {
    serde_json::from_slice(&reply.body).with_context(|| format!("{what}: {} with a body that is not JSON: {}", reply.status, body_text(reply)))
}

fn one_shot(stack: &Stack, job: &Job, poll: Duration) -> Result<Finished> {
    let path = format!("/v1/images?filename={}", query_escape(&job.photo.name));
    let reply = request("POST /v1/images", || stack.post(&path, "image/jpeg", &job.photo.bytes, Some(&stack.token)))?;
    let manifest = match reply.status {
        201 => return Ok(Finished { manifest: json("POST /v1/images", &reply)?, accepted: false, patch_retries: 0, sent_ms: None }),
        202 => json("POST /v1/images", &reply)?,
        other => bail!("POST /v1/images: {other}: {}", body_text(&reply)),
    };
    let id = manifest["id"].as_str().context("POST /v1/images answered 202 without an id")?;
    let manifest = wait(stack, &format!("/v1/uploads/{id}"), poll)?;
    Ok(Finished { manifest, accepted: true, patch_retries: 0, sent_ms: None })
}

/// Percent-encodes everything but `A-Za-z0-9-._~`.
fn query_escape(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn tus(stack: &Stack, job: &Job, chunk: usize, poll: Duration) -> Result<Finished> {
    let started = Instant::now();
    let path = create(stack, job)?;
    let patch_retries = send_chunks(stack, &path, &job.photo.bytes, chunk)?;
    let sent_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    let manifest = wait(stack, &path, poll)?;
    Ok(Finished { manifest, accepted: false, patch_retries, sent_ms })
}

/// tus creation; returns the upload's path.
fn create(stack: &Stack, job: &Job) -> Result<String> {
    let length = job.photo.bytes.len().to_string();
    let meta = format!("filename {}", base64::engine::general_purpose::STANDARD.encode(&job.photo.name));
    let headers = [("upload-length", length.as_str()), ("upload-metadata", meta.as_str())];
    let reply = request("tus POST /v1/uploads", || stack.tus("POST", "/v1/uploads", &headers, &[]))?;
    ensure!(reply.status == 201, "tus POST /v1/uploads: {}: {}", reply.status, body_text(&reply));
    let location = reply.header("location").context("tus POST /v1/uploads: 201 without Location")?;
    Ok(location.trim_start_matches(&stack.api).to_string())
}

/// PATCHes `bytes` from offset 0 in `chunk`-sized pieces; returns how many
/// PATCHes had to be sent again.
fn send_chunks(stack: &Stack, path: &str, bytes: &[u8], chunk: usize) -> Result<u32> {
    let (mut offset, mut retries) = (0, 0);
    while offset < bytes.len() {
        let end = (offset + chunk).min(bytes.len());
        let at = offset.to_string();
        let headers = [("content-type", "application/offset+octet-stream"), ("upload-offset", at.as_str())];
        let what = format!("tus PATCH {path} at {offset}");
        let why = match request(&what, || stack.tus("PATCH", path, &headers, &bytes[offset..end])) {
            Ok(r) if r.status == 204 => {
                offset = header_offset(&r).with_context(|| format!("{what}: 204 without a valid Upload-Offset"))?;
                continue;
            }
            Ok(r) if matches!(r.status, 409 | 423) => anyhow!("{what}: {}: {}", r.status, body_text(&r)),
            Ok(r) => bail!("{what}: {}: {}", r.status, body_text(&r)),
            Err(e) => e,
        };
        retries += 1;
        ensure!(retries <= MAX_PATCH_RETRIES, "gave up after {MAX_PATCH_RETRIES} PATCH retries; last: {why:#}");
        std::thread::sleep(Duration::from_millis(250));
        offset = resync(stack, path)?;
    }
    Ok(retries)
}

fn header_offset(reply: &Reply) -> Option<usize> {
    reply.header("upload-offset")?.trim().parse().ok()
}

/// The server's offset, from HEAD.
fn resync(stack: &Stack, path: &str) -> Result<usize> {
    let reply = request(&format!("tus HEAD {path}"), || stack.tus("HEAD", path, &[], &[]))?;
    ensure!(reply.status == 200, "tus HEAD {path}: {}", reply.status);
    header_offset(&reply).with_context(|| format!("tus HEAD {path}: no valid Upload-Offset"))
}

/// Polls `GET path` every `poll` until the manifest is terminal (200).
fn wait(stack: &Stack, path: &str, poll: Duration) -> Result<Value> {
    let started = Instant::now();
    loop {
        let reply = request(&format!("GET {path}"), || stack.get_with_token(path))?;
        match reply.status {
            200 => return json(&format!("GET {path}"), &reply),
            202 => {}
            other => bail!("GET {path}: {other}: {}", body_text(&reply)),
        }
        ensure!(started.elapsed() < POLL_LIMIT, "GET {path}: not terminal after {POLL_LIMIT:?}");
        std::thread::sleep(poll);
    }
}

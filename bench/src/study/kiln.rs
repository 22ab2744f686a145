//! kiln under a real `spin up` (128 MiB instances) with a real kiln-store:
//! - `kiln-direct`: each component alone, image in, image out (no storage),
//!   stages from `Server-Timing`; `instantiate` is a trivial request (405)
//!   to the same component: instance creation + HTTP, no work;
//! - `kiln-oneshot`: `POST /v1/images` (split mode: one chained request per
//!   format); `kiln-combined`: the same with `conversion_mode = combined`;
//! - `kiln-tus`: tus create + PATCHes of 5 MiB, then polling the upload
//!   until its manifest is finished (assembly and fan-out run after the
//!   last PATCH was answered).
//!
//! Per-variant stages come from the manifest, which carries each
//! converter's `Server-Timing` and linear-memory peak.

use super::record::{Key, Requests, Results};
use super::settings::VARIANTS;
use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use kiln_e2e::Stack;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Chunk size of the tus path: S3's minimum part size, so assembly copies
/// parts server-side when a file has more than one chunk.
const TUS_CHUNK: usize = 5 << 20;
/// Size of `manifest.json`, counted in the bytes moved to storage.
const MANIFEST_BYTES: u64 = 2048;

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn route(variant: &str) -> String {
    if variant == "thumbnail" { "/v1/thumbnail".into() } else { format!("/v1/convert/{variant}") }
}

/// One direct-mode conversion per component, and its instantiation cost.
pub fn direct(stack: &Stack, r: &mut Results, input: &str, bytes: &[u8]) -> Result<()> {
    for variant in VARIANTS {
        let k = Key { input, path: "kiln-direct", variant };
        let started = Instant::now();
        let reply = stack.convert(&route(variant), bytes);
        let wall = ms(started);
        ensure!(reply.status == 200, "{variant}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
        for (stage, v) in kiln_core::timing::durations(reply.header("server-timing").unwrap_or("")) {
            r.time(k, &stage, v);
        }
        r.time(k, "roundtrip", wall);
        if let Some(bytes) = reply.header("x-kiln-linear-memory").and_then(|v| v.parse().ok()) {
            r.memory(k, "linear-memory", bytes, None);
        }
        r.output(k, reply.body.len() as u64);

        let started = Instant::now();
        let reply = stack.tus("GET", &route(variant), &[], &[]);
        ensure!(reply.status == 405, "GET {}: {}", route(variant), reply.status);
        r.time(k, "instantiate", ms(started));
    }
    Ok(())
}

/// `POST /v1/images` on `stack`, recorded under `path`.
pub fn oneshot(stack: &Stack, r: &mut Results, input: &str, bytes: &[u8], path: &str) -> Result<()> {
    let started = Instant::now();
    let reply = stack.post("/v1/images?filename=photo.jpg", "image/jpeg", bytes, Some(&stack.token));
    let wall = ms(started);
    ensure!(reply.status == 201, "{path}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
    let manifest = reply.json();
    let k = Key { input, path, variant: "upload" };
    r.time(k, "dispatch", wall - num(&manifest["timings"]["total"])?);
    r.time(k, "total", wall);
    record_manifest(r, input, path, &manifest, bytes.len() as u64, wall, 1)
}

/// A tus upload in 5 MiB chunks, timed until its manifest is finished.
pub fn tus(stack: &Stack, r: &mut Results, input: &str, bytes: &[u8]) -> Result<()> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let started = Instant::now();
    let length = bytes.len().to_string();
    let meta = format!("filename {}", b64("photo.jpg"));
    let created = stack.tus("POST", "/v1/uploads", &[("upload-length", &length), ("upload-metadata", &meta)], &[]);
    ensure!(created.status == 201, "tus create: {} {}", created.status, String::from_utf8_lossy(&created.body));
    let url = created.header("location").context("tus create: no Location")?.to_string();
    let path = url.trim_start_matches(&stack.api).to_string();
    let chunks = bytes.len().div_ceil(TUS_CHUNK);
    for (i, chunk) in bytes.chunks(TUS_CHUNK).enumerate() {
        let offset = (i * TUS_CHUNK).to_string();
        let headers = [("content-type", "application/offset+octet-stream"), ("upload-offset", offset.as_str())];
        let reply = stack.tus("PATCH", &path, &headers, chunk);
        ensure!(reply.status == 204, "tus PATCH {i}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
    }
    let uploaded = ms(started);
    let manifest = poll(stack, &path)?;
    let wall = ms(started);
    let k = Key { input, path: "kiln-tus", variant: "upload" };
    r.time(k, "dispatch", uploaded);
    r.time(k, "total", wall);
    record_manifest(r, input, "kiln-tus", &manifest, bytes.len() as u64, wall, chunks as u32)
}

/// Polls the upload every 20 ms until its manifest is finished.
fn poll(stack: &Stack, path: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let reply = stack.get_with_token(path);
        match reply.status {
            200 => return Ok(reply.json()),
            202 => std::thread::sleep(Duration::from_millis(20)),
            other => bail!("GET {path}: {other} {}", String::from_utf8_lossy(&reply.body)),
        }
    }
    bail!("no finished manifest for {path} within 300 s")
}

/// The manifest's upload stages, each variant's stages, memory and size,
/// and what the upload bills.
fn record_manifest(r: &mut Results, input: &str, path: &str, m: &Value, input_bytes: u64, wall: f64, chunks: u32) -> Result<()> {
    ensure!(m["status"] == "done", "{path}: upload not done: {m}");
    let k = Key { input, path, variant: "upload" };
    for (stage, v) in m["timings"].as_object().context("manifest timings")? {
        if stage != "total" {
            r.time(k, stage, v.as_f64().unwrap_or(0.0));
        }
    }
    let mut outputs = 0;
    let mut billed = vec![wall];
    for v in m["variants"].as_array().context("manifest variants")? {
        let variant = v["format"].as_str().context("variant format")?;
        let vk = Key { input, path, variant };
        for (stage, ms) in v["stages"].as_object().into_iter().flatten() {
            r.time(vk, stage, ms.as_f64().unwrap_or(0.0));
        }
        r.time(vk, "wall", num(&v["ms"])?);
        if let Some(bytes) = v["linear_memory"].as_u64() {
            r.memory(vk, "linear-memory", bytes, None);
        }
        let size = v["size"].as_u64().unwrap_or(0);
        r.output(vk, size);
        outputs += size;
        if path != "kiln-combined" {
            billed.push(num(&v["ms"])?);
        }
    }
    let combined = path == "kiln-combined";
    if combined {
        billed.push(num(&m["timings"]["fan_out"])?);
    }
    let converters = if combined { 1 } else { VARIANTS.len() as u32 };
    r.requests(Requests {
        input: input.into(),
        path: path.into(),
        // The manifest (once per client request) and the converters.
        function_invocations: if path == "kiln-tus" { 1 + chunks + converters } else { 1 + converters },
        // one-shot: original + variants + manifest.json; tus: each chunk, then
        // CreateMultipartUpload + one part per chunk + Complete.
        s3_put: if path == "kiln-tus" { chunks + 2 + chunks } else { 1 } + VARIANTS.len() as u32 + 1,
        // Each converter GETs the original; streamed assembly also reads
        // every chunk back (server-side assembly copies them in the store).
        s3_get: converters + if m["timings"].get("assemble_streamed").is_some() { chunks } else { 0 },
        // tus deletes its chunk objects after assembly.
        s3_other: if path == "kiln-tus" { chunks } else { 0 },
        internal_bytes: input_bytes * (1 + converters as u64) + outputs + MANIFEST_BYTES,
        billed_function_ms: billed,
        client_requests: Some(if path == "kiln-tus" { 1 + chunks } else { 1 }),
    });
    Ok(())
}

fn num(v: &Value) -> Result<f64> {
    v.as_f64().with_context(|| format!("expected a number, got {v}"))
}

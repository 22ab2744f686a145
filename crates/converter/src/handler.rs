//! The request handler every converter component runs: method and auth
//! checks, parameters, then direct mode (image in, image out) or storage
//! mode (`{"key"}` in, variant written to the bucket, JSON out).

use crate::api::{authorize, header, linear_memory_bytes, server_timing, ApiError, LINEAR_MEMORY_HEADER};
use crate::body::read_capped;
use crate::config::{var_num, Config};
use crate::params::{self, Params};
use crate::storage::Storage;
use kiln_core::encode::Encoder;
use kiln_core::keys::{validate_source_key, variant_key};
use kiln_core::{convert, ConvertOptions, Converted};
use spin_sdk::http::{IncomingRequest, Method, Response};
use std::time::{Duration, Instant};

/// Largest JSON body accepted in storage mode.
pub(crate) const MAX_JSON_BYTES: u64 = 64 * 1024;

/// What distinguishes one converter component from another.
pub struct Converter {
    /// Spin variable with the default (and maximum) long side of the output.
    pub max_side_variable: &'static str,
    /// Builds the encoder, from the request's quality or the configured default.
    pub build_encoder: fn(&Params) -> Result<Box<dyn Encoder>, ApiError>,
}

/// Handles one request; every failure becomes a JSON error response.
pub async fn serve(req: IncomingRequest, converter: &Converter) -> Response {
    let started = Instant::now();
    match handle(req, converter, started).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("kiln: {} {}: {}", e.status, e.code, e.detail);
            e.into_response()
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageJob {
    pub(crate) key: String,
}

/// What the request asks for, checked before its body is read.
struct Job {
    config: Config,
    options: ConvertOptions,
    encoder: Box<dyn Encoder>,
}

fn prepare(req: &IncomingRequest, converter: &Converter) -> Result<Job, ApiError> {
    if req.method() != Method::Post {
        return Err(ApiError::new(405, "method_not_allowed", "use POST with an image body or {\"key\": \"...\"}"));
    }
    let config = Config::load()?;
    authorize(req, &config.auth_token)?;
    let max_side: u32 = var_num(converter.max_side_variable)?;
    let params = params::parse(&req.path_with_query().unwrap_or_default(), max_side)?;
    let encoder = (converter.build_encoder)(&params)?;
    let options = ConvertOptions { max_long_side: params.width.unwrap_or(max_side), limits: config.limits };
    Ok(Job { config, options, encoder })
}

async fn handle(req: IncomingRequest, converter: &Converter, started: Instant) -> Result<Response, ApiError> {
    let job = match prepare(&req, converter) {
        Ok(job) => job,
        Err(e) => {
            crate::body::drain(req).await;
            return Err(e);
        }
    };
    let Job { config, options, encoder } = job;
    let content_type = header(&req, "content-type").unwrap_or_default();
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse().ok());

    if content_type.trim().to_ascii_lowercase().starts_with("application/json") {
        let body = read_capped(req.into_body_stream(), declared, MAX_JSON_BYTES, "JSON body").await?;
        let job: StorageJob = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("expected {{\"key\": \"<object key>\"}}: {e}")))?;
        storage_mode(job, &config, &options, encoder.as_ref(), started).await
    } else {
        let body = read_capped(req.into_body_stream(), declared, config.limits.max_input_bytes, "image body").await?;
        direct_mode(body, &options, encoder.as_ref(), started)
    }
}

fn direct_mode(body: Vec<u8>, options: &ConvertOptions, encoder: &dyn Encoder, started: Instant) -> Result<Response, ApiError> {
    let converted = convert(body, options, encoder)?;
    let timing = timings(&converted, None, None, started.elapsed());
    Ok(Response::builder()
        .status(200)
        .header("content-type", converted.format.mime_type)
        .header("server-timing", timing)
        .header("x-kiln-width", converted.width.to_string())
        .header("x-kiln-height", converted.height.to_string())
        .header(LINEAR_MEMORY_HEADER, linear_memory_bytes().unwrap_or(0).to_string())
        .body(converted.bytes)
        .build())
}

async fn storage_mode(
    job: StorageJob,
    config: &Config,
    options: &ConvertOptions,
    encoder: &dyn Encoder,
    started: Instant,
) -> Result<Response, ApiError> {
    validate_source_key(&job.key)?;
    let storage = Storage::new(&config.s3)?;
    let fetch_started = Instant::now();
    let original = storage.get(&job.key, config.limits.max_input_bytes).await?;
    let fetch = fetch_started.elapsed();

    let converted = convert(original, options, encoder)?;
    let (mut body, store) = store_variant(&storage, &job.key, &converted).await?;
    body["linear_memory"] = serde_json::json!(linear_memory_bytes());
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("server-timing", timings(&converted, Some(fetch), Some(store), started.elapsed()))
        .header(LINEAR_MEMORY_HEADER, linear_memory_bytes().unwrap_or(0).to_string())
        .body(body.to_string())
        .build())
}

/// PUTs a variant of `source_key` where [`variant_key`] puts it; returns
/// the JSON that describes it to the caller and how long the PUT took.
pub(crate) async fn store_variant(storage: &Storage, source_key: &str, converted: &Converted) -> Result<(serde_json::Value, Duration), ApiError> {
    let format = converted.format;
    let key = variant_key(source_key, format.name, format.extension);
    let started = Instant::now();
    storage.put(&key, &converted.bytes, format.mime_type).await?;
    let body = serde_json::json!({
        "format": format.name,
        "key": key,
        "url": storage.public_url(&key),
        "mime_type": format.mime_type,
        "size": converted.bytes.len(),
        "width": converted.width,
        "height": converted.height,
    });
    Ok((body, started.elapsed()))
}

fn timings(c: &Converted, fetch: Option<Duration>, store: Option<Duration>, total: Duration) -> String {
    let t = &c.timings;
    let mut stages = Vec::with_capacity(7);
    if let Some(fetch) = fetch {
        stages.push(("fetch", fetch));
    }
    stages.extend([("probe", t.probe), ("decode", t.decode), ("resize", t.resize), ("encode", t.encode)]);
    if let Some(store) = store {
        stages.push(("store", store));
    }
    stages.push(("total", total));
    server_timing(&stages)
}

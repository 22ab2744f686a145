//! The combined converter: `POST {"key"}` makes every variant of a stored
//! original in one instance — one fetch, one decode, one base resize
//! ([`kiln_core::convert_many`]) — instead of one chained request, fetch and
//! decode per format. The manifest uses it when `conversion_mode` is
//! `combined`. The response lists every variant (or its error); one
//! format's failure does not lose the others.

use crate::api::{authorize, header, linear_memory_bytes, server_timing, ApiError, LINEAR_MEMORY_HEADER};
use crate::body::read_capped;
use crate::config::{var_num, Config};
use crate::handler::{self, StorageJob, MAX_JSON_BYTES};
use crate::params::Params;
use crate::storage::Storage;
use crate::Converter;
use kiln_core::keys::validate_source_key;
use kiln_core::{convert_many, Converted, KilnError, Output};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingRequest, Method, Response};
use std::time::{Duration, Instant};

/// Handles one request for every converter in `formats`.
pub async fn serve(req: IncomingRequest, formats: &[Converter]) -> Response {
    let started = Instant::now();
    match handle(req, formats, started).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("kiln: {} {}: {}", e.status, e.code, e.detail);
            e.into_response()
        }
    }
}

async fn handle(req: IncomingRequest, formats: &[Converter], started: Instant) -> Result<Response, ApiError> {
    let config = match check(&req) {
        Ok(config) => config,
        Err(e) => {
            crate::body::drain(req).await;
            return Err(e);
        }
    };
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse().ok());
    let body = read_capped(req.into_body_stream(), declared, MAX_JSON_BYTES, "JSON body").await?;
    let job: StorageJob = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{\"key\": \"<object key>\"}}: {e}")))?;
    validate_source_key(&job.key)?;

    let mut encoders = Vec::with_capacity(formats.len());
    for f in formats {
        encoders.push((var_num::<u32>(f.max_side_variable)?, (f.build_encoder)(&Params::default())?));
    }
    let outputs: Vec<Output> = encoders.iter().map(|(side, e)| Output { max_long_side: *side, encoder: e.as_ref() }).collect();

    let storage = Storage::new(&config.s3)?;
    let t = Instant::now();
    let original = storage.get(&job.key, config.limits.max_input_bytes).await?;
    let fetch = t.elapsed();
    let many = convert_many(original, &outputs, config.limits)?;

    let mut stages = vec![("fetch", fetch), ("probe", many.shared.probe), ("decode", many.shared.decode), ("resize", many.shared.resize)];
    let mut variants = Vec::with_capacity(outputs.len());
    let mut named = Vec::new();
    for (output, result) in outputs.iter().zip(many.outputs) {
        let name = output.encoder.format().name;
        let (variant, own) = store_variant(&storage, &job.key, name, result, many.shared.resize).await;
        variants.push(variant);
        named.extend(own.into_iter().map(|(stage, d)| (format!("{name}-{stage}"), d)));
    }
    let named: Vec<(&str, Duration)> = named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    stages.extend(named);
    stages.push(("total", started.elapsed()));
    let body = json!({ "variants": variants, "linear_memory": linear_memory_bytes() });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("server-timing", server_timing(&stages))
        .header(LINEAR_MEMORY_HEADER, linear_memory_bytes().unwrap_or(0).to_string())
        .body(body.to_string())
        .build())
}

fn check(req: &IncomingRequest) -> Result<Config, ApiError> {
    if req.method() != Method::Post {
        return Err(ApiError::new(405, "method_not_allowed", "use POST with {\"key\": \"...\"}"));
    }
    let config = Config::load()?;
    authorize(req, &config.auth_token)?;
    if !header(req, "content-type").unwrap_or_default().trim().to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::new(415, "unsupported_media_type", "the combined converter takes {\"key\": \"<object key>\"} as application/json"));
    }
    Ok(config)
}

/// PUTs one converted variant; returns its JSON entry and its own stages
/// (derived resize, encode, store).
async fn store_variant(
    storage: &Storage,
    source_key: &str,
    name: &str,
    result: Result<Converted, KilnError>,
    shared_resize: Duration,
) -> (Value, Vec<(&'static str, Duration)>) {
    let converted = match result {
        Ok(c) => c,
        Err(e) => return (error_entry(name, e.into()), Vec::new()),
    };
    let (mut entry, store) = match handler::store_variant(storage, source_key, &converted).await {
        Ok(stored) => stored,
        Err(e) => return (error_entry(name, e), Vec::new()),
    };
    let own = vec![
        ("resize", converted.timings.resize.saturating_sub(shared_resize)),
        ("encode", converted.timings.encode),
        ("store", store),
    ];
    let stages: serde_json::Map<String, Value> = own.iter().map(|(s, d)| (s.to_string(), json!(d.as_secs_f64() * 1000.0))).collect();
    entry["stages"] = Value::Object(stages);
    (entry, own)
}

fn error_entry(name: &str, e: ApiError) -> Value {
    json!({ "format": name, "status": e.status, "error": e.code, "detail": e.detail })
}

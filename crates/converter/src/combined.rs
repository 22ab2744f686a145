//! The combined converter: `POST {"key", "formats"?}` makes every variant
//! of a stored original in one instance — one fetch, one decode, one base
//! resize ([`kiln_core::convert_many`]) — instead of one chained request,
//! fetch and decode per format. The manifest uses it when `conversion_mode`
//! is `combined`. The answer ([`CombinedReply`]) lists every format, made
//! or refused; one format's failure does not lose the others.

use crate::handler::{self, StorageJob, MAX_JSON_BYTES};
use crate::params::Params;
use crate::Converter;
use kiln_core::{convert_many, Converted, KilnError, Output};
use kiln_spin::body::read_capped;
use kiln_spin::config::{metadata_policy, responsive_widths, var_num, Config};
use kiln_spin::http::{authorize, content_length, header, linear_memory_bytes, server_timing, ApiError, LINEAR_MEMORY_HEADER};
use kiln_spin::s3::S3Store;
use kiln_upload::keys::validate_source_key;
use kiln_upload::manifest::{CombinedEntry, CombinedReply, ErrorBody};
use kiln_upload::ObjectStore;
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Handles one request for every converter in `formats`, answering a JSON
/// error even on a panic or running out of memory.
pub async fn serve(req: IncomingRequest, out: ResponseOutparam, formats: &[Converter]) {
    kiln_spin::last_words::serve(out, async { crate::handler::answer(handle(req, formats, Instant::now()).await) }).await
}

async fn handle(req: IncomingRequest, converters: &[Converter], started: Instant) -> Result<Response, ApiError> {
    let config = match check(&req) {
        Ok(config) => config,
        Err(e) => {
            kiln_spin::body::drain(req).await;
            return Err(e);
        }
    };
    let declared = content_length(&req);
    let body = read_capped(req.into_body_stream(), declared, MAX_JSON_BYTES, "JSON body").await?;
    let job: StorageJob = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("expected {{\"key\": \"<object key>\"}}: {e}")))?;
    validate_source_key(&job.key)?;

    let mut encoders = Vec::with_capacity(converters.len());
    for c in converters {
        let encoder = (c.build_encoder)(&Params::default())?;
        if job.formats.as_ref().is_none_or(|wanted| wanted.iter().any(|f| f == encoder.format().name)) {
            let side = var_num::<u32>(c.max_side_variable)?;
            let widths = if c.responsive { Some(responsive_widths(side)?) } else { None };
            encoders.push((side, encoder, c.placeholder, widths));
        }
    }
    let metadata = metadata_policy()?;
    let outputs: Vec<Output> = encoders
        .iter()
        .map(|(side, e, placeholder, widths)| Output {
            max_long_side: *side,
            encoder: e.as_ref(),
            placeholder: *placeholder,
            widths: widths.as_deref().unwrap_or_default(),
            metadata,
        })
        .collect();

    let storage = S3Store::new(&config.s3)?;
    let t = Instant::now();
    let original = storage.get(&job.key, config.limits.max_input_bytes).await?;
    let fetch = t.elapsed();
    let many = convert_many(original, &outputs, config.limits)?;

    let mut stages = vec![("fetch", fetch), ("probe", many.shared.probe), ("decode", many.shared.decode), ("resize", many.shared.resize)];
    let mut entries = Vec::with_capacity(outputs.len());
    let mut named = Vec::new();
    for ((output, result), (.., widths)) in outputs.iter().zip(many.outputs).zip(&encoders) {
        let name = output.encoder.format().name;
        let (entry, own) = store_variant(&storage, &job.key, name, result, many.shared.resize, widths.is_some()).await;
        entries.push(entry);
        named.extend(own.into_iter().map(|(stage, d)| (format!("{name}-{stage}"), d)));
    }
    stages.extend(named.iter().map(|(n, d)| (n.as_str(), *d)));
    stages.push(("total", started.elapsed()));
    let reply = CombinedReply { variants: entries, linear_memory: linear_memory_bytes() };
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("server-timing", server_timing(&stages))
        .header(LINEAR_MEMORY_HEADER, linear_memory_bytes().unwrap_or(0).to_string())
        .body(serde_json::to_vec(&reply).expect("a reply serializes"))
        .build())
}

fn check(req: &IncomingRequest) -> Result<Config, ApiError> {
    if req.method() != Method::Post {
        return Err(ApiError::new(405, "method_not_allowed", "use POST with {\"key\": \"...\"}"));
    }
    let config = Config::load()?;
    authorize(req, &config.auth_token, "auth_token")?;
    if !header(req, "content-type").unwrap_or_default().trim().to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::new(415, "unsupported_media_type", "the combined converter takes {\"key\": \"<object key>\"} as application/json"));
    }
    Ok(config)
}

/// PUTs one converted variant (always the canonical one) and its
/// responsive widths; returns its entry and its own stages (derived resize,
/// encode, widths, store).
async fn store_variant(
    storage: &S3Store,
    source_key: &str,
    name: &str,
    result: Result<Converted, KilnError>,
    shared_resize: Duration,
    responsive: bool,
) -> (CombinedEntry, Vec<(&'static str, Duration)>) {
    let failed = |e: ApiError| CombinedEntry {
        format: name.to_string(),
        variant: None,
        failure: Some((e.status, ErrorBody { error: e.code.to_string(), detail: e.detail })),
        stages: BTreeMap::new(),
    };
    let converted = match result {
        Ok(c) => c,
        Err(e) => return (failed(e.into()), Vec::new()),
    };
    let (reply, store) = match handler::store_variant(storage, source_key, name, &converted, responsive).await {
        Ok(stored) => stored,
        Err(e) => return (failed(e), Vec::new()),
    };
    let search = converted.auto_quality.map(|a| a.search).unwrap_or_default();
    let mut own = vec![("resize", converted.timings.resize.saturating_sub(shared_resize)), ("encode", converted.timings.encode.saturating_sub(search))];
    if converted.auto_quality.is_some() {
        own.push(("auto-quality", search));
    }
    if !converted.renditions.is_empty() {
        own.push(("widths", converted.renditions.iter().map(|r| r.resize + r.encode).sum()));
    }
    own.push(("store", store));
    let stages = own.iter().map(|(s, d)| (s.to_string(), d.as_secs_f64() * 1000.0)).collect();
    (CombinedEntry { format: name.to_string(), variant: Some(reply), failure: None, stages }, own)
}

//! The request handler every converter component runs: method and auth
//! checks, parameters, then direct mode (image in, image out) or storage
//! mode (`{"key"}` in, variant written to the bucket, JSON out).

use crate::params::{self, Params};
use kiln_core::encode::Encoder;
use kiln_core::{convert_with, ConvertOptions, Converted, Extras, KilnError, Metadata};
use kiln_spin::body::read_capped;
use kiln_spin::config::{metadata_policy, responsive_widths, var_num, Config};
use kiln_spin::http::{authorize, content_length, header, linear_memory_bytes, server_timing, ApiError, LINEAR_MEMORY_HEADER};
use kiln_spin::s3::S3Store;
use kiln_upload::keys::{responsive_name, validate_source_key, variant_key, variant_name};
use kiln_upload::manifest::{srcset, AutoQuality, ResponsiveWidth, VariantReply};
use kiln_upload::ObjectStore;
use kiln_spin::last_words;
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use std::time::{Duration, Instant};

/// Largest JSON body accepted in storage mode.
pub(crate) const MAX_JSON_BYTES: u64 = 64 * 1024;

/// What distinguishes one converter component from another.
pub struct Converter {
    /// Spin variable with the default (and maximum) long side of the output.
    pub max_side_variable: &'static str,
    /// Builds the encoder, from the request's quality or the configured default.
    pub build_encoder: fn(&Params) -> Result<Box<dyn Encoder>, ApiError>,
    /// Whether its variant carries the image's placeholders (ThumbHash,
    /// BlurHash, dominant colour, aspect ratio): the thumbnail's.
    pub placeholder: bool,
    /// Whether its canonical variant is also made at the `responsive_widths`.
    pub responsive: bool,
}

/// Handles one request; every failure becomes a JSON error response, even
/// a panic or running out of memory ([`last_words`]).
pub async fn serve(req: IncomingRequest, out: ResponseOutparam, converter: &Converter) {
    last_words::serve(out, async { answer(handle(req, converter, Instant::now()).await) }).await
}

/// The response for a handler's result: an error is logged and answered as JSON.
pub(crate) fn answer(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| {
        eprintln!("kiln: {} {}: {}", e.status, e.code, e.detail);
        e.into_response()
    })
}

/// Storage mode's body: `{"key": "originals/..."}` (the combined converter
/// also takes the `formats` to make; all when absent).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageJob {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) formats: Option<Vec<String>>,
}

/// What the request asks for, checked before its body is read.
struct Job {
    config: Config,
    options: ConvertOptions,
    params: Params,
    encoder: Box<dyn Encoder>,
    placeholder: bool,
    /// Responsive widths of the canonical variant in storage mode (`None`
    /// for a parameterised one-off and for the thumbnail; unused in direct mode).
    widths: Option<Vec<u32>>,
}

impl Job {
    fn convert(&self, input: Vec<u8>, widths: &[u32]) -> Result<Converted, KilnError> {
        convert_with(input, &self.options, self.encoder.as_ref(), Extras { placeholder: self.placeholder, widths })
    }
}

fn prepare(req: &IncomingRequest, converter: &Converter) -> Result<Job, ApiError> {
    if req.method() != Method::Post {
        return Err(ApiError::new(405, "method_not_allowed", "use POST with an image body or {\"key\": \"...\"} (GET is the health check)"));
    }
    let config = Config::load()?;
    authorize(req, &config.auth_token, "auth_token")?;
    let max_side: u32 = var_num(converter.max_side_variable)?;
    let params = params::parse(&req.path_with_query().unwrap_or_default(), max_side)?;
    let encoder = (converter.build_encoder)(&params)?;
    let configured = metadata_policy()?;
    let metadata = Metadata { exif: params.metadata.unwrap_or(configured.exif), colour: params.colour.unwrap_or(configured.colour) };
    let options = ConvertOptions { max_long_side: params.width.unwrap_or(max_side), limits: config.limits, metadata };
    let widths = if converter.responsive && params == Params::default() { Some(responsive_widths(max_side)?) } else { None };
    Ok(Job { config, options, params, encoder, placeholder: converter.placeholder, widths })
}

async fn handle(req: IncomingRequest, converter: &Converter, started: Instant) -> Result<Response, ApiError> {
    // A health check (Kubernetes readiness, deploy/): no auth, no work.
    if req.method() == Method::Get {
        return Ok(kiln_spin::http::json(200, &serde_json::json!({"status": "ok"})));
    }
    let job = match prepare(&req, converter) {
        Ok(job) => job,
        Err(e) => {
            kiln_spin::body::drain(req).await;
            return Err(e);
        }
    };
    let content_type = header(&req, "content-type").unwrap_or_default();
    let declared = content_length(&req);
    if content_type.trim().to_ascii_lowercase().starts_with("application/json") {
        let body = read_capped(req.into_body_stream(), declared, MAX_JSON_BYTES, "JSON body").await?;
        let storage_job: StorageJob =
            serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("expected {{\"key\": \"<object key>\"}}: {e}")))?;
        storage_mode(&storage_job.key, &job, started).await
    } else {
        let body = read_capped(req.into_body_stream(), declared, job.config.limits.max_input_bytes, "image body").await?;
        direct_mode(body, &job, started)
    }
}

fn direct_mode(body: Vec<u8>, job: &Job, started: Instant) -> Result<Response, ApiError> {
    let converted = job.convert(body, &[])?;
    let timing = timings(&converted, None, None, started.elapsed());
    let mut response = Response::builder();
    if let Some(auto) = converted.auto_quality {
        // What quality=auto picked, since the body is the image itself.
        response.header("x-kiln-quality", auto.quality.to_string());
        response.header("x-kiln-auto-quality", format!("target={}; score={:.2}; reached={}; trials={}", auto.target, auto.score, auto.reached, auto.trials));
    }
    Ok(response
        .status(200)
        .header("content-type", converted.format.mime_type)
        .header("server-timing", timing)
        .header("x-kiln-width", converted.width.to_string())
        .header("x-kiln-height", converted.height.to_string())
        .header("x-kiln-metadata", embedded(&converted))
        .header(LINEAR_MEMORY_HEADER, linear_memory_bytes().unwrap_or(0).to_string())
        .body(converted.bytes)
        .build())
}

/// What a direct-mode output carries (`x-kiln-metadata`): `icc`, `exif`,
/// both comma-separated, or `none`.
fn embedded(converted: &Converted) -> String {
    let e = converted.embedded;
    let names: Vec<&str> = [(e.icc, "icc"), (e.exif, "exif")].into_iter().filter_map(|(on, name)| on.then_some(name)).collect();
    if names.is_empty() { "none".into() } else { names.join(",") }
}

async fn storage_mode(key: &str, job: &Job, started: Instant) -> Result<Response, ApiError> {
    validate_source_key(key)?;
    // A stored variant follows the configured policy: one asked for per
    // request would need its own name next to the canonical variant.
    if job.params.metadata.is_some() || job.params.colour.is_some() {
        return Err(ApiError::bad_request("metadata and colour are direct-mode parameters; stored variants follow the 'metadata' and 'colour' variables"));
    }
    let storage = S3Store::new(&job.config.s3)?;
    let fetch_started = Instant::now();
    let original = storage.get(key, job.config.limits.max_input_bytes).await?;
    let fetch = fetch_started.elapsed();

    let converted = job.convert(original, job.widths.as_deref().unwrap_or_default())?;
    let name = variant_name(converted.format.name, job.params.width, job.params.quality.map(|q| q.label()).as_deref());
    let (mut reply, store) = store_variant(&storage, key, &name, &converted, job.widths.is_some()).await?;
    reply.linear_memory = linear_memory_bytes();
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("server-timing", timings(&converted, Some(fetch), Some(store), started.elapsed()))
        .header(LINEAR_MEMORY_HEADER, linear_memory_bytes().unwrap_or(0).to_string())
        .body(serde_json::to_vec(&reply).expect("a reply serializes"))
        .build())
}

/// PUTs a variant of `source_key` named `name` where [`variant_key`] puts
/// it, then its responsive widths next to it; returns its description and
/// how long the PUTs took. A variant with responsive widths asked for gets
/// a `srcset` (`responsive`), even when the image was too narrow for any.
pub(crate) async fn store_variant(
    storage: &S3Store,
    source_key: &str,
    name: &str,
    converted: &Converted,
    responsive: bool,
) -> Result<(VariantReply, Duration), ApiError> {
    let format = converted.format;
    let key = variant_key(source_key, name, format.extension);
    let started = Instant::now();
    storage.put(&key, &converted.bytes, format.mime_type).await?;
    let mut widths = Vec::with_capacity(converted.renditions.len());
    for r in &converted.renditions {
        let key = variant_key(source_key, &responsive_name(name, r.width), format.extension);
        storage.put(&key, &r.bytes, format.mime_type).await?;
        widths.push(ResponsiveWidth { url: storage.public_url(&key), key, size: r.bytes.len() as u64, width: r.width, height: r.height });
    }
    let url = storage.public_url(&key);
    let reply = VariantReply {
        format: format.name.to_string(),
        srcset: responsive.then(|| srcset((&url, converted.width), &widths)),
        url,
        key,
        mime_type: format.mime_type.to_string(),
        size: converted.bytes.len() as u64,
        width: converted.width,
        height: converted.height,
        linear_memory: None,
        placeholder: converted.placeholder.clone(),
        widths,
        embedded: converted.embedded,
        auto_quality: converted.auto_quality.map(|c| AutoQuality {
            quality: c.quality,
            target: c.target,
            score: (c.score * 100.0).round() / 100.0,
            reached: c.reached,
            trials: c.trials,
            ms: c.search.as_secs_f64() * 1000.0,
        }),
    };
    Ok((reply, started.elapsed()))
}

fn timings(c: &Converted, fetch: Option<Duration>, store: Option<Duration>, total: Duration) -> String {
    let t = &c.timings;
    let mut stages = Vec::with_capacity(8);
    if let Some(fetch) = fetch {
        stages.push(("fetch", fetch));
    }
    // quality=auto's search runs inside the encoder: shown on its own.
    let search = c.auto_quality.map(|a| a.search).unwrap_or_default();
    stages.extend([("probe", t.probe), ("decode", t.decode), ("resize", t.resize), ("encode", t.encode.saturating_sub(search))]);
    if c.auto_quality.is_some() {
        stages.push(("auto-quality", search));
    }
    if !c.renditions.is_empty() {
        stages.push(("widths", c.renditions.iter().map(|r| r.resize + r.encode).sum()));
    }
    if let Some(store) = store {
        stages.push(("store", store));
    }
    stages.push(("total", total));
    server_timing(&stages)
}

//! Fan-out: converting a stored original into every variant through
//! service chaining. In `split` mode (the default) one chained request per
//! converter, `fanout_width` in flight at once, each fetching and decoding
//! the original itself; in `combined` mode one request to the combined
//! converter, which decodes once and encodes every format. A converter's
//! failure (including a trap, which Spin turns into an empty 500 that `send`
//! returns as `Ok`) becomes a failed variant in the manifest; the others'
//! variants are kept. Every variant carries the converter's stages, parsed
//! from its `Server-Timing`, plus `chaining`: the time spent outside it.

use futures::future::join_all;
use kiln_converter::config::{var, var_num};
use kiln_core::manifest::Variant;
use spin_sdk::http::{Method, Request, Response};
use std::collections::BTreeMap;
use std::time::Instant;

/// (format, chained URL) of each converter component in spin.toml.
pub const CONVERTERS: [(&str, &str); 4] = [
    ("webp", "http://convert-webp.spin.internal/v1/convert/webp"),
    ("avif", "http://convert-avif.spin.internal/v1/convert/avif"),
    ("jpeg", "http://convert-jpeg.spin.internal/v1/convert/jpeg"),
    ("thumbnail", "http://thumbnail.spin.internal/v1/thumbnail"),
];

/// The combined converter (`conversion_mode = "combined"`).
pub const COMBINED: &str = "http://convert-all.spin.internal/v1/convert/all";

/// The variants, and the upload-level stages the fan-out measured.
pub struct FanOut {
    pub variants: Vec<Variant>,
    pub timings: BTreeMap<String, f64>,
}

/// Converts `key` into `manifest`'s variants and records the fan-out's
/// stages (`fan_out` = its wall time) in the manifest's timings.
pub async fn convert_into(manifest: &mut kiln_core::manifest::Manifest, key: &str, token: &str) {
    let started = Instant::now();
    let out = convert_all(key, token).await;
    manifest.variants = out.variants;
    manifest.timings.extend(out.timings);
    manifest.timings.insert("fan_out".into(), ms(started));
}

/// Converts `key` into every variant, as `conversion_mode` says.
pub async fn convert_all(key: &str, token: &str) -> FanOut {
    match var("conversion_mode").unwrap_or_default().trim() {
        "combined" => combined(key, token).await,
        _ => split(key, token).await,
    }
}

/// One request per converter, at most `fanout_width` (default 4 = all at
/// once) in flight at a time.
async fn split(key: &str, token: &str) -> FanOut {
    let width = var_num::<usize>("fanout_width").unwrap_or(CONVERTERS.len()).clamp(1, CONVERTERS.len());
    let mut variants = Vec::with_capacity(CONVERTERS.len());
    for batch in CONVERTERS.chunks(width) {
        variants.extend(join_all(batch.iter().map(|&(format, url)| convert_one(format, url, key, token))).await);
    }
    FanOut { variants, timings: BTreeMap::new() }
}

async fn convert_one(format: &str, url: &str, key: &str, token: &str) -> Variant {
    let started = Instant::now();
    let (outcome, stages) = call(url, key, token).await;
    let ms = ms(started);
    match outcome {
        Ok(v) => Variant { stages: with_chaining(stages, ms), ..Variant::done(format, ms, &v) },
        Err(error) => Variant::failed(format, ms, error),
    }
}

/// One request to the combined converter. Its shared stages (fetch, probe,
/// decode, base resize) go to the upload's timings; each variant keeps its
/// own (derived resize, encode, store).
async fn combined(key: &str, token: &str) -> FanOut {
    let started = Instant::now();
    let (outcome, stages) = call(COMBINED, key, token).await;
    let ms = ms(started);
    let reply = match outcome {
        Ok(reply) => reply,
        Err(error) => {
            let variants = CONVERTERS.iter().map(|(format, _)| Variant::failed(format, ms, error.clone())).collect();
            return FanOut { variants, timings: BTreeMap::new() };
        }
    };
    let linear_memory = reply["linear_memory"].as_u64();
    let variants = reply["variants"].as_array().cloned().unwrap_or_default().iter().map(|v| combined_variant(v, ms, linear_memory)).collect();
    let mut timings: BTreeMap<String, f64> =
        stages.iter().filter(|(name, _)| ["fetch", "probe", "decode", "resize"].contains(&name.as_str())).map(|(k, v)| (k.clone(), *v)).collect();
    if let Some(total) = stages.get("total") {
        timings.insert("chaining".into(), (ms - total).max(0.0));
        timings.insert("converter_total".into(), *total);
    }
    FanOut { variants, timings }
}

fn combined_variant(v: &serde_json::Value, ms: f64, linear_memory: Option<u64>) -> Variant {
    let format = v["format"].as_str().unwrap_or("?");
    if let Some(code) = v["error"].as_str() {
        return Variant::failed(format, ms, format!("{} {code}: {}", v["status"], v["detail"].as_str().unwrap_or("")));
    }
    let stages = v["stages"].as_object().map(|m| m.iter().filter_map(|(k, d)| Some((k.clone(), d.as_f64()?))).collect()).unwrap_or_default();
    Variant { stages, linear_memory, ..Variant::done(format, ms, v) }
}

/// POSTs `{"key"}` to a converter: its JSON on 200, else a readable
/// error; and its `Server-Timing` stages either way.
async fn call(url: &str, key: &str, token: &str) -> (Result<serde_json::Value, String>, BTreeMap<String, f64>) {
    let request = Request::builder()
        .method(Method::Post)
        .uri(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(serde_json::json!({ "key": key }).to_string())
        .build();
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(response) => {
            let header = response.header("server-timing").and_then(|h| h.as_str()).unwrap_or_default();
            let stages = kiln_core::timing::durations(header).collect();
            (interpret(&response), stages)
        }
        Err(e) => (Err(format!("service chaining to {url} failed: {e}")), BTreeMap::new()),
    }
}

fn with_chaining(mut stages: BTreeMap<String, f64>, ms: f64) -> BTreeMap<String, f64> {
    if let Some(total) = stages.get("total").copied() {
        stages.insert("chaining".into(), (ms - total).max(0.0));
    }
    stages
}

/// The converter's JSON on 200; otherwise a readable error.
fn interpret(response: &Response) -> Result<serde_json::Value, String> {
    let status = *response.status();
    let body = response.body();
    if status == 200 {
        return serde_json::from_slice(body).map_err(|e| format!("converter answered 200 with bad JSON: {e}"));
    }
    if body.is_empty() {
        return Err(format!("converter answered {status} with an empty body (it trapped, e.g. out of memory)"));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => Err(format!("{status} {}: {}", json["error"].as_str().unwrap_or("?"), json["detail"].as_str().unwrap_or(""))),
        Err(_) => Err(format!("{status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]))),
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaining_is_the_time_outside_the_converter() {
        let stages = BTreeMap::from([("total".to_string(), 80.0)]);
        assert_eq!(with_chaining(stages, 100.0)["chaining"], 20.0);
    }
}

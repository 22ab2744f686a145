//! Fan-out: one chained request per converter, all in flight at once, each
//! given the original's object key. A converter's failure (including a trap,
//! which Spin turns into an empty 500 that `send` returns as `Ok`) becomes a
//! failed variant in the manifest; the others' variants are kept.

use futures::future::join_all;
use kiln_core::manifest::Variant;
use spin_sdk::http::{Method, Request, Response};
use std::time::Instant;

/// (format, chained URL) of each converter component in spin.toml.
pub const CONVERTERS: [(&str, &str); 4] = [
    ("webp", "http://convert-webp.spin.internal/v1/convert/webp"),
    ("avif", "http://convert-avif.spin.internal/v1/convert/avif"),
    ("jpeg", "http://convert-jpeg.spin.internal/v1/convert/jpeg"),
    ("thumbnail", "http://thumbnail.spin.internal/v1/thumbnail"),
];

/// Converts `key` with every converter, at most `fanout_width` (a Spin
/// variable, default 4 = all at once) in flight at a time.
pub async fn convert_all(key: &str, token: &str) -> Vec<Variant> {
    let width = kiln_converter::config::var_num::<usize>("fanout_width").unwrap_or(CONVERTERS.len()).clamp(1, CONVERTERS.len());
    let mut variants = Vec::with_capacity(CONVERTERS.len());
    for batch in CONVERTERS.chunks(width) {
        variants.extend(join_all(batch.iter().map(|&(format, url)| convert_one(format, url, key, token))).await);
    }
    variants
}

async fn convert_one(format: &str, url: &str, key: &str, token: &str) -> Variant {
    let started = Instant::now();
    let request = Request::builder()
        .method(Method::Post)
        .uri(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(serde_json::json!({ "key": key }).to_string())
        .build();
    let outcome = match spin_sdk::http::send::<_, Response>(request).await {
        Ok(response) => interpret(&response),
        Err(e) => Err(format!("service chaining to {url} failed: {e}")),
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(v) => Variant {
            format: format.to_string(),
            status: "done".into(),
            url: v["url"].as_str().map(String::from),
            mime_type: v["mime_type"].as_str().map(String::from),
            size: v["size"].as_u64(),
            width: v["width"].as_u64().map(|n| n as u32),
            height: v["height"].as_u64().map(|n| n as u32),
            ms,
            error: None,
        },
        Err(error) => Variant {
            format: format.to_string(),
            status: "failed".into(),
            url: None,
            mime_type: None,
            size: None,
            width: None,
            height: None,
            ms,
            error: Some(error),
        },
    }
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

//! The converter components as the upload logic's [`Converters`], called by
//! Spin service chaining (`http://<component>.spin.internal/...`) with the
//! original's key, never its bytes. In `split` mode (the default) one
//! request per format, `fanout_width` in flight at once; in `combined` mode
//! one request to `convert-all`, which decodes once for every format.
//!
//! An answer becomes a variant: made (200 with a [`VariantReply`]), or
//! refused for good (4xx, or a 500: a trap, which Spin turns into an empty
//! 500, or an encoder failure, both deterministic). A transport error, a
//! timeout, or 502/503/504 (the converter's storage failed) is a passing
//! failure, tried again on the upload's next attempt. Every variant carries
//! the converter's stages from `Server-Timing`, plus `chaining`: the time
//! spent outside it.

use crate::clock;
use crate::http::LINEAR_MEMORY_HEADER;
use futures::{Stream, StreamExt};
use kiln_upload::manifest::{CombinedReply, ErrorBody, Variant, VariantReply};
use kiln_upload::ports::{Converted, Converters};
use spin_sdk::http::{Method, Request, Response};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// (format, chained URL) of each converter component in spin.toml.
pub const CONVERTERS: [(&str, &str); 4] = [
    ("webp", "http://convert-webp.spin.internal/v1/convert/webp"),
    ("avif", "http://convert-avif.spin.internal/v1/convert/avif"),
    ("jpeg", "http://convert-jpeg.spin.internal/v1/convert/jpeg"),
    ("thumbnail", "http://thumbnail.spin.internal/v1/thumbnail"),
];

/// The combined converter (`conversion_mode = "combined"`).
pub const COMBINED: &str = "http://convert-all.spin.internal/v1/convert/all";

/// The stages a combined converter measures once for every format.
const SHARED_STAGES: [&str; 4] = ["fetch", "probe", "decode", "resize"];

pub struct ChainedConverters {
    pub token: String,
    /// Where the AVIF converter is (`avif_converter_origin`): Spin's
    /// chaining by default, or a Service of its own when a deployment
    /// scales it apart from the rest (deploy/).
    pub avif_origin: String,
    pub combined: bool,
    /// Converters called at once in split mode (1..=4).
    pub width: usize,
    /// Limit on one converter call.
    pub timeout: Duration,
}

/// A converter's answer, read.
struct Answer {
    status: u16,
    body: Vec<u8>,
    stages: BTreeMap<String, f64>,
    linear_memory: Option<u64>,
    ms: f64,
}

impl ChainedConverters {
    async fn call(&self, url: &str, body: serde_json::Value) -> Result<Answer, String> {
        let started = Instant::now();
        let request = Request::builder()
            .method(Method::Post)
            .uri(url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.token))
            .body(body.to_string())
            .build();
        let sent = clock::timeout(self.timeout, spin_sdk::http::send::<_, Response>(request)).await;
        let response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(format!("service chaining to {url} failed: {e}")),
            Err(()) => return Err(format!("{url} did not answer within {:?}", self.timeout)),
        };
        let header = |name: &str| response.header(name).and_then(|h| h.as_str()).unwrap_or_default().to_string();
        Ok(Answer {
            status: *response.status(),
            stages: kiln_core::timing::durations(&header("server-timing")).collect(),
            linear_memory: header(LINEAR_MEMORY_HEADER).parse().ok().filter(|&n| n > 0),
            body: response.body().to_vec(),
            ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    async fn convert_one(&self, format: &str, url: &str, key: &str) -> Converted {
        let answer = match self.call(url, serde_json::json!({ "key": key })).await {
            Ok(answer) => answer,
            Err(why) => return Converted::Retry { format: format.into(), why },
        };
        match failure(format, answer.status, &answer.body, answer.ms) {
            Some(failed) => failed,
            None => match serde_json::from_slice::<VariantReply>(&answer.body) {
                Ok(reply) => {
                    let stages = with_chaining(answer.stages, answer.ms);
                    Converted::Variant(Variant { linear_memory: answer.linear_memory, ..Variant::done(answer.ms, reply, stages) })
                }
                Err(e) => Converted::Variant(Variant::failed(format, answer.ms, format!("the converter answered 200 with bad JSON: {e}"))),
            },
        }
    }

    /// One request to the combined converter for `formats`.
    async fn convert_combined(&self, key: &str, formats: &[String]) -> Vec<Converted> {
        let answer = match self.call(COMBINED, serde_json::json!({ "key": key, "formats": formats })).await {
            Ok(answer) => answer,
            Err(why) => return formats.iter().map(|f| Converted::Retry { format: f.clone(), why: why.clone() }).collect(),
        };
        if let Some(failed) = failure("all", answer.status, &answer.body, answer.ms) {
            return formats.iter().map(|f| rename(&failed, f)).collect();
        }
        let reply: CombinedReply = match serde_json::from_slice(&answer.body) {
            Ok(reply) => reply,
            Err(e) => {
                let why = format!("the combined converter answered 200 with bad JSON: {e}");
                return formats.iter().map(|f| Converted::Variant(Variant::failed(f, answer.ms, why.clone()))).collect();
            }
        };
        let mut timings: BTreeMap<String, f64> = answer.stages.iter().filter(|(n, _)| SHARED_STAGES.contains(&n.as_str())).map(|(k, v)| (k.clone(), *v)).collect();
        if let Some(total) = answer.stages.get("total") {
            timings.insert("chaining".into(), (answer.ms - total).max(0.0));
            timings.insert("converter_total".into(), *total);
        }
        let mut out = vec![Converted::Timings(timings)];
        for entry in reply.variants {
            out.push(match (entry.variant, entry.failure) {
                (Some(v), _) => Converted::Variant(Variant { linear_memory: reply.linear_memory, ..Variant::done(answer.ms, v, entry.stages) }),
                (None, Some((status, body))) => classify(&entry.format, status, &body, answer.ms),
                (None, None) => Converted::Variant(Variant::failed(&entry.format, answer.ms, "the combined converter said nothing of it".into())),
            });
        }
        out
    }
}

impl Converters for ChainedConverters {
    fn formats(&self) -> Vec<String> {
        CONVERTERS.iter().map(|(f, _)| f.to_string()).collect()
    }

    fn convert<'a>(&'a self, key: &'a str, formats: &'a [String]) -> impl Stream<Item = Converted> + 'a {
        let split = (!self.combined).then(|| {
            let calls = formats.iter().filter_map(|f| CONVERTERS.iter().find(|(name, _)| name == f));
            futures::stream::iter(calls)
                .map(move |(format, url)| async move {
                    let url = if *format == "avif" { format!("{}/v1/convert/avif", self.avif_origin) } else { url.to_string() };
                    self.convert_one(format, &url, key).await
                })
                .buffer_unordered(self.width.max(1))
        });
        let combined = self
            .combined
            .then(|| futures::stream::once(self.convert_combined(key, formats)).flat_map(futures::stream::iter));
        futures::stream::iter(split).flatten().chain(futures::stream::iter(combined).flatten())
    }
}

/// The failure an answer carries, if it is not a 200.
fn failure(format: &str, status: u16, body: &[u8], ms: f64) -> Option<Converted> {
    if status == 200 {
        return None;
    }
    let error = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => e,
        Err(_) if body.is_empty() => ErrorBody { error: "trapped".into(), detail: "empty answer: the converter trapped (e.g. out of memory)".into() },
        Err(_) => ErrorBody { error: "unreadable".into(), detail: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned() },
    };
    Some(classify(format, status, &error, ms))
}

/// A refusal for good, or a passing failure (the converter's storage).
fn classify(format: &str, status: u16, e: &ErrorBody, ms: f64) -> Converted {
    let why = format!("{status} {}: {}", e.error, e.detail);
    if matches!(status, 502..=504) {
        Converted::Retry { format: format.into(), why }
    } else {
        Converted::Variant(Variant::failed(format, ms, why))
    }
}

fn rename(converted: &Converted, format: &str) -> Converted {
    match converted {
        Converted::Retry { why, .. } => Converted::Retry { format: format.into(), why: why.clone() },
        Converted::Variant(v) => Converted::Variant(Variant { format: format.into(), ..v.clone() }),
        other => other.clone(),
    }
}

fn with_chaining(mut stages: BTreeMap<String, f64>, ms: f64) -> BTreeMap<String, f64> {
    if let Some(total) = stages.get("total").copied() {
        stages.insert("chaining".into(), (ms - total).max(0.0));
    }
    stages
}

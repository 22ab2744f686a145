//! The manifest of one upload: the original and every variant made from
//! it, with per-variant status, as stored in `manifest.json` next to the
//! variants and returned by the upload API. It extends uplodr's
//! `UploadResp { variants: [Variant { url, mime_type }] }`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    /// `converting`, `done` (every variant made), `partial` or `failed`.
    pub status: String,
    pub original: Original,
    pub variants: Vec<Variant>,
    /// Stage durations in ms (`store_original`, `fan_out`, `total`, ...).
    pub timings: BTreeMap<String, f64>,
    /// Why the upload failed before any variant could be attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Original {
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub mime_type: String,
    /// The store's ETag of the original, when it came from an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// One variant: on success the converter's answer plus its duration; on
/// failure the status and error it gave (nothing else is lost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub format: String,
    /// `done` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The converter's own stage durations in ms (`fetch`, `decode`,
    /// `encode`, `store`, ...) and `chaining`: the part of `ms` spent outside
    /// the converter (instantiation and service chaining).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, f64>,
    /// The converter instance's linear-memory peak in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_memory: Option<u64>,
}

impl Variant {
    /// A variant that could not be made, and why.
    pub fn failed(format: &str, ms: f64, error: String) -> Variant {
        Variant {
            format: format.to_string(),
            status: "failed".into(),
            url: None,
            mime_type: None,
            size: None,
            width: None,
            height: None,
            ms,
            error: Some(error),
            stages: BTreeMap::new(),
            linear_memory: None,
        }
    }

    /// A made variant from a converter's JSON description of it.
    pub fn done(format: &str, ms: f64, v: &serde_json::Value) -> Variant {
        Variant {
            format: format.to_string(),
            status: "done".into(),
            url: v["url"].as_str().map(String::from),
            mime_type: v["mime_type"].as_str().map(String::from),
            size: v["size"].as_u64(),
            width: v["width"].as_u64().map(|n| n as u32),
            height: v["height"].as_u64().map(|n| n as u32),
            ms,
            error: None,
            stages: BTreeMap::new(),
            linear_memory: v["linear_memory"].as_u64(),
        }
    }
}

impl Manifest {
    /// The overall status implied by the variants' statuses.
    pub fn summarize(variants: &[Variant]) -> &'static str {
        let done = variants.iter().filter(|v| v.status == "done").count();
        match done {
            0 => "failed",
            n if n == variants.len() => "done",
            _ => "partial",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(status: &str) -> Variant {
        Variant { status: status.into(), ..Variant::failed("webp", 1.0, "x".into()) }
    }

    #[test]
    fn status_summarizes_variants() {
        assert_eq!(Manifest::summarize(&[variant("done"), variant("done")]), "done");
        assert_eq!(Manifest::summarize(&[variant("done"), variant("failed")]), "partial");
        assert_eq!(Manifest::summarize(&[variant("failed")]), "failed");
    }

    #[test]
    fn failed_variants_omit_absent_fields() {
        let json = serde_json::to_value(variant("failed")).unwrap();
        assert!(json.get("url").is_none());
        assert_eq!(json["status"], "failed");
    }
}

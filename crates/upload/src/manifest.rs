//! The manifest of one upload — the original and every variant made from
//! it, with typed statuses — as stored in `manifest.json` next to the
//! variants and returned by the upload API. It extends uplodr's
//! `UploadResp { variants: [Variant { url, mime_type }] }`.
//!
//! Also the typed replies a converter sends back ([`VariantReply`],
//! [`CombinedReply`], [`ErrorBody`]): the converter serializes them and the
//! fan-out parses them, so both sides share one definition.

pub use kiln_core::placeholder::Placeholder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an upload is. `done`, `partial` and `failed` are terminal: once an
/// upload reaches one, its manifest never changes again (a new version of an
/// event-sourced original, with a new ETag, starts a new manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// tus: bytes are still arriving.
    Uploading,
    /// tus: every byte is in; the chunks are being assembled into the original.
    Assembling,
    /// The original is stored; the variants are being made.
    Converting,
    /// Every variant was made.
    Done,
    /// Some variants were made, some failed (each says why).
    Partial,
    /// Nothing usable: the original was refused, or every variant failed.
    Failed,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Done | Status::Partial | Status::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub status: Status,
    pub original: Original,
    pub variants: Vec<Variant>,
    /// Stage durations in ms (`store_original`, `assemble_*`, `fan_out`, `total`, ...).
    pub timings: BTreeMap<String, f64>,
    /// Why the upload failed as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times the work was started: 1 unless an attempt was cut
    /// short (a crash, a lost lease, a storage outage) and re-driven.
    #[serde(default)]
    pub attempts: u32,
    /// What a page shows before the image arrives (ThumbHash, BlurHash,
    /// dominant colour, aspect ratio), from the thumbnail once it is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Placeholder>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Original {
    pub key: String,
    pub size: u64,
    /// Hex SHA-256 of the whole original (empty until known).
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub mime_type: String,
    /// The store's ETag of the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Whether one variant was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariantStatus {
    Done,
    Failed,
}

/// One variant: on success the converter's answer plus its duration; on
/// failure the error it gave (nothing else is lost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub format: String,
    pub status: VariantStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The converter's own stage durations in ms (`fetch`, `decode`,
    /// `encode`, `store`, ...) and `chaining`: the part of `ms` spent outside
    /// the converter (instantiation and service chaining).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, f64>,
    /// The converter instance's linear-memory peak in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_memory: Option<u64>,
    /// The same format at narrower responsive widths, narrowest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widths: Vec<ResponsiveWidth>,
    /// What of the original's metadata it carries (the `metadata` and
    /// `colour` variables, docs/metadata.md); absent when nothing, the default.
    #[serde(default, skip_serializing_if = "kiln_core::Embedded::is_none")]
    pub embedded: kiln_core::Embedded,
    /// A ready `srcset` for this format: every width and the variant
    /// itself (`<url> 480w, <url> 1024w, <url> 2048w`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srcset: Option<String>,
    /// What `quality=auto` picked; absent at a fixed quality (boxed: most
    /// variants have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_quality: Option<Box<AutoQuality>>,
    /// The placeholders the converter sent with this variant (the
    /// thumbnail's), on their way to [`Manifest::placeholder`] (boxed: only
    /// one variant in four has them).
    #[serde(skip)]
    pub placeholder: Option<Box<Placeholder>>,
}

impl Variant {
    /// A variant that could not be made, and why.
    pub fn failed(format: &str, ms: f64, error: String) -> Variant {
        Variant {
            format: format.to_string(),
            status: VariantStatus::Failed,
            url: None,
            mime_type: None,
            size: None,
            width: None,
            height: None,
            ms,
            error: Some(error),
            stages: BTreeMap::new(),
            linear_memory: None,
            widths: Vec::new(),
            embedded: kiln_core::Embedded::default(),
            srcset: None,
            auto_quality: None,
            placeholder: None,
        }
    }

    /// A made variant, from the converter's reply.
    pub fn done(ms: f64, reply: VariantReply, stages: BTreeMap<String, f64>) -> Variant {
        Variant {
            format: reply.format,
            status: VariantStatus::Done,
            url: Some(reply.url),
            mime_type: Some(reply.mime_type),
            size: Some(reply.size),
            width: Some(reply.width),
            height: Some(reply.height),
            ms,
            error: None,
            stages,
            linear_memory: reply.linear_memory,
            widths: reply.widths,
            embedded: reply.embedded,
            srcset: reply.srcset,
            auto_quality: reply.auto_quality.map(Box::new),
            placeholder: reply.placeholder.map(Box::new),
        }
    }
}

impl Manifest {
    /// A manifest at its start: nothing known but the id and the key.
    pub fn new(id: &str, status: Status, key: &str) -> Manifest {
        Manifest {
            id: id.to_string(),
            status,
            original: Original { key: key.to_string(), ..Original::default() },
            variants: Vec::new(),
            timings: BTreeMap::new(),
            error: None,
            attempts: 0,
            placeholder: None,
        }
    }

    /// The terminal status the variants add up to.
    pub fn summarize(variants: &[Variant]) -> Status {
        let done = variants.iter().filter(|v| v.status == VariantStatus::Done).count();
        match done {
            0 => Status::Failed,
            n if n == variants.len() => Status::Done,
            _ => Status::Partial,
        }
    }

    /// Records `variant`, replacing an earlier entry of its format; its
    /// placeholders become the manifest's.
    pub fn upsert(&mut self, mut variant: Variant) {
        if let Some(placeholder) = variant.placeholder.take() {
            self.placeholder = Some(*placeholder);
        }
        match self.variants.iter_mut().find(|v| v.format == variant.format) {
            Some(slot) => *slot = variant,
            None => self.variants.push(variant),
        }
    }

    /// The formats of `wanted` that have no entry yet.
    pub fn missing(&self, wanted: &[String]) -> Vec<String> {
        wanted.iter().filter(|f| !self.variants.iter().any(|v| &v.format == *f)).cloned().collect()
    }

    /// Puts the variants in the order of `formats`.
    pub fn order_variants(&mut self, formats: &[String]) {
        self.variants.sort_by_key(|v| formats.iter().position(|f| *f == v.format).unwrap_or(usize::MAX));
    }
}

/// A converter's answer in storage mode: the variant it stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantReply {
    pub format: String,
    pub key: String,
    pub url: String,
    pub mime_type: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_memory: Option<u64>,
    /// The image's placeholders, from the thumbnail converter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Placeholder>,
    /// Its responsive widths, narrowest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widths: Vec<ResponsiveWidth>,
    /// What of the original's metadata it carries (the `metadata` and
    /// `colour` variables, docs/metadata.md); absent when nothing, the default.
    #[serde(default, skip_serializing_if = "kiln_core::Embedded::is_none")]
    pub embedded: kiln_core::Embedded,
    /// The `srcset` of its format (see [`Variant::srcset`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srcset: Option<String>,
    /// What `quality=auto` picked (see [`Variant::auto_quality`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_quality: Option<AutoQuality>,
}

/// What `quality=auto` picked for a variant: the quality used, the
/// SSIMULACRA2 target and the score its sample reached, the candidates
/// tried and the search's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoQuality {
    pub quality: f32,
    pub target: f32,
    pub score: f64,
    /// False when even the highest quality tried stays below the target.
    pub reached: bool,
    pub trials: u32,
    pub ms: f64,
}

/// One responsive width of a variant, stored next to it (`webp-480w.webp`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsiveWidth {
    pub key: String,
    pub url: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
}

/// The `srcset` attribute for a variant `(url, width)` and its narrower
/// widths: `<url> <width>w` entries, narrowest first, comma-separated.
pub fn srcset(variant: (&str, u32), widths: &[ResponsiveWidth]) -> String {
    let mut entries: Vec<(u32, &str)> = widths.iter().map(|w| (w.width, w.url.as_str())).collect();
    entries.push((variant.1, variant.0));
    entries.sort_by_key(|&(w, _)| w);
    entries.iter().map(|(w, url)| format!("{url} {w}w")).collect::<Vec<_>>().join(", ")
}

/// Every error answer of kiln: `{"error": "<code>", "detail": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub detail: String,
}

/// One format's outcome in the combined converter's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinedEntry {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<VariantReply>,
    /// The HTTP status and error this format would have got on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<(u16, ErrorBody)>,
    /// This format's own stages (derived resize, encode, store), in ms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, f64>,
}

/// The combined converter's answer: every format, made or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinedReply {
    pub variants: Vec<CombinedEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_memory: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(status: VariantStatus) -> Variant {
        Variant { status, ..Variant::failed("webp", 1.0, "x".into()) }
    }

    #[test]
    fn status_summarizes_variants() {
        use VariantStatus::*;
        assert_eq!(Manifest::summarize(&[variant(Done), variant(Done)]), Status::Done);
        assert_eq!(Manifest::summarize(&[variant(Done), variant(Failed)]), Status::Partial);
        assert_eq!(Manifest::summarize(&[variant(Failed)]), Status::Failed);
    }

    #[test]
    fn statuses_serialize_as_lower_case_words() {
        assert_eq!(serde_json::to_string(&Status::Converting).unwrap(), "\"converting\"");
        let json = serde_json::to_value(variant(VariantStatus::Failed)).unwrap();
        assert!(json.get("url").is_none());
        assert_eq!(json["status"], "failed");
    }

    #[test]
    fn a_variants_placeholder_becomes_the_manifests_and_stays() {
        let placeholder = Placeholder { thumbhash: "t".into(), blurhash: "b".into(), dominant_color: "#102030".into(), aspect_ratio: 1.5 };
        let mut m = Manifest::new("id", Status::Converting, "originals/x.jpg");
        m.upsert(Variant { placeholder: Some(Box::new(placeholder.clone())), ..variant(VariantStatus::Done) });
        m.upsert(variant(VariantStatus::Failed));
        assert_eq!(m.placeholder.as_ref(), Some(&placeholder));
        assert!(m.variants.iter().all(|v| v.placeholder.is_none()));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["placeholder"]["dominant_color"], "#102030");
        assert!(json["variants"][0].get("placeholder").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<Manifest>(json).unwrap(), m);
        assert!(serde_json::to_value(Manifest::new("id", Status::Converting, "k")).unwrap().get("placeholder").is_none());
    }

    #[test]
    fn srcset_lists_every_width_narrowest_first() {
        let width = |w: u32| ResponsiveWidth { key: format!("k{w}"), url: format!("https://cdn/x-{w}w.webp"), size: 1, width: w, height: w / 2 };
        assert_eq!(
            srcset(("https://cdn/x.webp", 2048), &[width(1024), width(480)]),
            "https://cdn/x-480w.webp 480w, https://cdn/x-1024w.webp 1024w, https://cdn/x.webp 2048w"
        );
        assert_eq!(srcset(("u", 300), &[]), "u 300w");
    }

    #[test]
    fn upsert_replaces_and_missing_lists_the_rest() {
        let mut m = Manifest::new("i", Status::Converting, "originals/i/a.jpg");
        m.upsert(variant(VariantStatus::Failed));
        m.upsert(variant(VariantStatus::Done));
        assert_eq!(m.variants.len(), 1);
        let wanted = vec!["webp".to_string(), "avif".to_string()];
        assert_eq!(m.missing(&wanted), vec!["avif".to_string()]);
    }
}

//! The object-storage event trigger: `POST /v1/events` with an S3 / MinIO /
//! Tigris / R2 notification. Acknowledged at once (202, before any
//! conversion: notifiers time out fast and retry), then every
//! `ObjectCreated` event for a key under `originals/` in kiln's bucket is
//! converted. Events for other prefixes — the variants kiln writes itself —
//! are ignored, so there is no recursion. Re-delivery is idempotent: an
//! original whose manifest is finished for the same ETag is not converted
//! again. A failure is recorded in the manifest, never dropped.

use crate::{fanout, oneshot::hex, oneshot::ms, record};
use kiln_converter::api::{authorize, header, ApiError};
use kiln_converter::body::read_capped;
use kiln_converter::config::{var, Config};
use kiln_converter::storage::Storage;
use kiln_core::events::{parse, ObjectEvent};
use kiln_core::keys::{validate_source_key, ORIGINALS_PREFIX};
use kiln_core::manifest::{Manifest, Original};
use kiln_core::probe::probe;
use sha2::{Digest, Sha256};
use spin_sdk::http::IncomingRequest;
use std::collections::BTreeMap;
use std::time::Instant;

/// Largest notification body accepted (AWS caps a message at 64 KB).
const MAX_EVENT_BYTES: u64 = 1024 * 1024;

/// The events a notification asks kiln to convert, and how many it ignored.
pub struct Accepted {
    pub config: Config,
    pub convert: Vec<ObjectEvent>,
    pub ignored: usize,
}

/// Authenticates and parses a notification; nothing is converted yet.
pub async fn accept(req: IncomingRequest) -> Result<Accepted, ApiError> {
    let config = Config::load()?;
    let token = var("events_token")?;
    if let Err(e) = authorize(&req, if token.is_empty() { &config.auth_token } else { &token }) {
        kiln_converter::body::drain(req).await;
        return Err(e);
    }
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse().ok());
    let body = read_capped(req.into_body_stream(), declared, MAX_EVENT_BYTES, "event body").await?;
    let events = parse(&body)?;
    let total = events.len();
    let convert: Vec<ObjectEvent> = events
        .into_iter()
        .filter(|e| e.created && e.bucket == config.s3.bucket && e.key.starts_with(ORIGINALS_PREFIX))
        .filter(|e| validate_source_key(&e.key).is_ok())
        .collect();
    Ok(Accepted { ignored: total - convert.len(), convert, config })
}

/// The acknowledgement body.
pub fn receipt(accepted: &Accepted) -> serde_json::Value {
    let keys: Vec<&str> = accepted.convert.iter().map(|e| e.key.as_str()).collect();
    serde_json::json!({ "accepted": keys, "ignored": accepted.ignored })
}

/// The upload id of an original: the id folder of keys kiln itself made
/// (`originals/<id>/<file>`), else derived from bucket and key, so
/// re-deliveries and re-uploads of one key share one manifest.
pub fn id_for(bucket: &str, key: &str) -> String {
    let folder = key.strip_prefix(ORIGINALS_PREFIX).and_then(|rest| rest.split_once('/')).map(|(id, _)| id);
    match folder {
        Some(id) if crate::ids::is_valid_id(id) => id.to_string(),
        _ => hex(&Sha256::digest(format!("{bucket}/{key}").as_bytes()))[..32].to_string(),
    }
}

/// Converts every accepted event, one after the other (each fans out in
/// parallel). Runs after the acknowledgement has been sent.
pub async fn process(accepted: Accepted) {
    for event in &accepted.convert {
        if let Err(e) = process_one(&accepted.config, event).await {
            eprintln!("kiln events: {} failed: {} {}", event.key, e.code, e.detail);
        }
    }
}

async fn process_one(config: &Config, event: &ObjectEvent) -> Result<(), ApiError> {
    let id = id_for(&event.bucket, &event.key);
    if let Some(known) = record::load(&id)? {
        let same_object = known.original.etag.is_some() && known.original.etag == event.etag;
        // A one-shot upload records itself before writing its original.
        let being_uploaded = known.status == "converting" && known.original.etag.is_none();
        if same_object || being_uploaded {
            eprintln!("kiln events: {} already handled (etag {:?}, {}), skipping", event.key, event.etag, known.status);
            return Ok(());
        }
    }
    let started = Instant::now();
    let storage = Storage::new(&config.s3)?;
    let mut manifest = Manifest {
        id,
        status: "converting".into(),
        original: Original {
            key: event.key.clone(),
            size: event.size.unwrap_or(0),
            sha256: String::new(),
            width: 0,
            height: 0,
            mime_type: String::new(),
            etag: event.etag.clone(),
        },
        variants: Vec::new(),
        timings: BTreeMap::new(),
        error: None,
    };
    record::save_progress(&manifest)?;
    let t = Instant::now();
    match describe_original(&storage, config, &event.key).await {
        Ok(original) => manifest.original = Original { etag: event.etag.clone(), ..original },
        Err(e) => {
            manifest.status = "failed".into();
            manifest.error = Some(format!("{}: {}", e.code, e.detail));
            return record::save(&storage, &event.key, &manifest).await;
        }
    }
    manifest.timings.insert("fetch_original".into(), ms(t));
    record::save_progress(&manifest)?;
    fanout::convert_into(&mut manifest, &event.key, &config.auth_token).await;
    manifest.timings.insert("total".into(), ms(started));
    manifest.status = Manifest::summarize(&manifest.variants).to_string();
    record::save(&storage, &event.key, &manifest).await
}

/// Size, SHA-256, dimensions and type of an original in the bucket.
async fn describe_original(storage: &Storage, config: &Config, key: &str) -> Result<Original, ApiError> {
    let bytes = storage.get(key, config.limits.max_input_bytes).await?;
    let info = probe(&bytes)?;
    Ok(Original {
        key: key.to_string(),
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(&bytes)),
        width: info.width,
        height: info.height,
        mime_type: info.format.mime_type().to_string(),
        etag: None,
    })
}

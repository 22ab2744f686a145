//! The HTTP trigger per upload: `POST /v1/images` with a whole image (at
//! most `max_request_bytes`, 10 MiB like hosted Spin's request limit) stores
//! the original, converts it into every variant and answers the manifest.
//! `GET /v1/uploads/<id>` returns a stored manifest.

use crate::{fanout, ids, record};
use kiln_converter::api::{authorize, header, ApiError};
use kiln_converter::body::read_capped;
use kiln_converter::config::{var_num, Config};
use kiln_converter::storage::Storage;
use kiln_core::manifest::{Manifest, Original};
use kiln_core::probe::probe;
use sha2::{Digest, Sha256};
use spin_sdk::http::{IncomingRequest, Response};
use std::collections::BTreeMap;
use std::time::Instant;

/// `POST /v1/images`.
pub async fn post_image(req: IncomingRequest) -> Result<Response, ApiError> {
    let started = Instant::now();
    let config = Config::load()?;
    if let Err(e) = authorize(&req, &config.auth_token) {
        kiln_converter::body::drain(req).await;
        return Err(e);
    }
    let cap: u64 = var_num("max_request_bytes")?;
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse().ok());
    let filename_param = query_param(&req.path_with_query().unwrap_or_default(), "filename");
    let body = read_capped(req.into_body_stream(), declared, cap, "image body").await.map_err(|e| {
        if e.status == 413 {
            ApiError::new(413, "too_large", format!("{}; upload larger files in chunks with the resumable API at /v1/uploads", e.detail))
        } else {
            e
        }
    })?;
    let info = probe(&body)?;
    if info.pixels() > config.limits.max_pixels {
        return Err(ApiError::new(413, "too_large", format!("{}x{} is over the {} pixel limit", info.width, info.height, config.limits.max_pixels)));
    }
    let mime = info.format.mime_type();
    let fallback = format!("image.{}", mime.trim_start_matches("image/").replace("jpeg", "jpg"));
    let id = ids::new_id();
    let filename = ids::safe_filename(&filename_param.unwrap_or_default(), &fallback);
    let key = format!("{}{id}/{filename}", kiln_core::keys::ORIGINALS_PREFIX);
    let original = Original {
        key: key.clone(),
        size: body.len() as u64,
        sha256: hex(&Sha256::digest(&body)),
        width: info.width,
        height: info.height,
        mime_type: mime.to_string(),
        etag: None,
    };

    let storage = Storage::new(&config.s3)?;
    // Recorded before the original is written, so the store's event for it
    // finds the upload in progress and does not convert it a second time.
    let mut manifest =
        Manifest { id: id.clone(), status: "converting".into(), original, variants: Vec::new(), timings: BTreeMap::new(), error: None };
    record::save_progress(&manifest)?;
    let t = Instant::now();
    manifest.original.etag = storage.put(&key, &body, mime).await?;
    drop(body);
    manifest.timings.insert("store_original".to_string(), ms(t));
    record::save_progress(&manifest)?;
    fanout::convert_into(&mut manifest, &key, &config.auth_token).await;
    manifest.timings.insert("total".to_string(), ms(started));
    manifest.status = Manifest::summarize(&manifest.variants).to_string();
    record::save(&storage, &key, &manifest).await?;
    Ok(Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .header("location", format!("/v1/uploads/{id}"))
        .body(serde_json::to_vec(&manifest).expect("manifest serializes"))
        .build())
}

/// `GET /v1/uploads/<id>`.
pub async fn get_manifest(req: IncomingRequest, id: &str) -> Result<Response, ApiError> {
    let config = Config::load()?;
    authorize(&req, &config.auth_token)?;
    if !ids::is_valid_id(id) {
        return Err(ApiError::new(404, "not_found", format!("no upload {id:?}")));
    }
    let Some(manifest) = record::load(id)? else {
        // A resumable upload still receiving bytes: report its progress.
        let upload = crate::uploads::load(id)?.ok_or_else(|| ApiError::new(404, "not_found", format!("no upload {id:?}")))?;
        let progress = serde_json::json!({"id": id, "status": "uploading", "offset": upload.offset, "length": upload.length});
        return Ok(Response::builder().status(202).header("content-type", "application/json").body(progress.to_string()).build());
    };
    let status = if manifest.status == "converting" { 202 } else { 200 };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&manifest).expect("manifest serializes"))
        .build())
}

fn query_param(path_with_query: &str, name: &str) -> Option<String> {
    let query = path_with_query.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

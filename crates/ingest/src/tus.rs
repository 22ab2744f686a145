//! tus 1.0 resumable uploads on `/v1/uploads`: core protocol, creation,
//! creation-with-upload, checksum (sha1, sha256), termination, expiration
//! and concatenation. Each PATCH body (at most `max_request_bytes`) is
//! stored as its own object `uploads/<id>/<offset>` as it arrives; the
//! state lives in key-value ([`crate::uploads`]). When the last byte is in,
//! the caller answers first and then runs [`crate::assemble::finish`].

use crate::ids;
use crate::uploads::{self, Chunk, Kind, Upload};
use kiln_converter::api::{authorize, header, ApiError};
use kiln_converter::body::{drain, read_capped};
use kiln_converter::config::{var_num, Config};
use kiln_converter::storage::Storage;
use kiln_core::tus::{self as proto, ChecksumAlgorithm, Concat};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spin_sdk::http::{IncomingRequest, Method, Response};
use std::time::{Duration, UNIX_EPOCH};

/// How long a PATCH may hold an upload before another may take over.
const LOCK_SECONDS: u64 = 120;

/// A handled request: the response, and an upload to finish after it.
pub struct Outcome {
    pub response: Response,
    pub finish: Option<(Config, Upload)>,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Outcome { response, finish: None }
    }
}

/// Limits from Spin variables.
struct TusLimits {
    max_size: u64,
    max_chunk: u64,
    expiry_seconds: u64,
}

fn limits() -> Result<TusLimits, ApiError> {
    Ok(TusLimits {
        max_size: var_num("tus_max_size")?,
        max_chunk: var_num("max_request_bytes")?,
        expiry_seconds: var_num("upload_expiry_seconds")?,
    })
}

/// Handles a request under `/v1/uploads` (`rest` is what follows it).
pub async fn handle(req: IncomingRequest, rest: &str) -> Outcome {
    let method = effective_method(&req);
    let result = if method == Method::Options {
        options()
    } else {
        match checked(&req) {
            Ok(config) => dispatch(req, method, rest, config).await,
            Err(e) => {
                drain(req).await;
                Err(e)
            }
        }
    };
    result.unwrap_or_else(|e| {
        let mut response = e.into_response();
        tus_headers(&mut response);
        if response.status() == &412 {
            response.set_header("tus-version", proto::TUS_VERSION);
        }
        response.into()
    })
}

/// `X-HTTP-Method-Override` lets clients without PATCH/DELETE use POST.
fn effective_method(req: &IncomingRequest) -> Method {
    match (req.method(), header(req, "x-http-method-override").as_deref()) {
        (Method::Post, Some("PATCH")) => Method::Patch,
        (Method::Post, Some("DELETE")) => Method::Delete,
        (Method::Post, Some("HEAD")) => Method::Head,
        (m, _) => m,
    }
}

/// Auth and the `Tus-Resumable` version, required on every request but OPTIONS.
fn checked(req: &IncomingRequest) -> Result<Config, ApiError> {
    let config = Config::load()?;
    authorize(req, &config.auth_token)?;
    if req.method() != Method::Get && header(req, "tus-resumable").as_deref() != Some(proto::TUS_VERSION) {
        return Err(ApiError::new(412, "precondition_failed", "Tus-Resumable: 1.0.0 is required"));
    }
    Ok(config)
}

async fn dispatch(req: IncomingRequest, method: Method, rest: &str, config: Config) -> Result<Outcome, ApiError> {
    let id = rest.trim_start_matches('/');
    match (method, id) {
        (Method::Post, "") => create(req, config).await,
        (_, "") => Err(ApiError::new(405, "method_not_allowed", "POST creates an upload")),
        (_, id) if !ids::is_valid_id(id) => Err(not_found(id)),
        (Method::Head, id) => head(id).map(Outcome::from),
        (Method::Patch, id) => patch(req, id, config).await,
        (Method::Delete, id) => terminate(id, &config).await.map(Outcome::from),
        (Method::Get, id) => crate::oneshot::get_manifest(req, id).await.map(Outcome::from),
        _ => Err(ApiError::new(405, "method_not_allowed", "use HEAD, PATCH, DELETE or GET")),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, "not_found", format!("no upload {id:?}"))
}

fn tus_headers(response: &mut Response) {
    response.set_header("tus-resumable", proto::TUS_VERSION);
    response.set_header("cache-control", "no-store");
}

fn reply(status: u16, headers: &[(&str, String)]) -> Response {
    let mut response = Response::new(status, Vec::<u8>::new());
    tus_headers(&mut response);
    for (k, v) in headers {
        response.set_header(*k, v.clone());
    }
    response
}

fn options() -> Result<Outcome, ApiError> {
    let l = limits()?;
    Ok(reply(
        204,
        &[
            ("tus-version", proto::TUS_VERSION.into()),
            ("tus-extension", proto::EXTENSIONS.into()),
            ("tus-max-size", l.max_size.to_string()),
            ("tus-checksum-algorithm", proto::CHECKSUM_ALGORITHMS.into()),
        ],
    )
    .into())
}

fn expires_header(upload: &Upload) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(upload.expires_at))
}

/// `POST /v1/uploads`: creation, creation-with-upload, concatenation.
async fn create(req: IncomingRequest, config: Config) -> Result<Outcome, ApiError> {
    let l = limits()?;
    let raw_metadata = header(&req, "upload-metadata").unwrap_or_default();
    let metadata = proto::parse_metadata(&raw_metadata)?;
    let concat = header(&req, "upload-concat").map(|h| proto::parse_concat(&h)).transpose()?;
    let (kind, length, chunks) = match concat {
        Some(Concat::Final(parts)) => final_parts(parts)?,
        other => {
            if header(&req, "upload-defer-length").is_some() {
                return Err(ApiError::bad_request("Upload-Defer-Length is not supported: send Upload-Length"));
            }
            let length = header(&req, "upload-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Upload-Length (a whole number) is required"))?;
            let kind = if other == Some(Concat::Partial) { Kind::Partial } else { Kind::Whole };
            (kind, length, Vec::new())
        }
    };
    if length > l.max_size {
        return Err(ApiError::new(413, "too_large", format!("Upload-Length {length} is over Tus-Max-Size {}", l.max_size)));
    }
    let id = ids::new_id();
    let fallback = "upload";
    let upload = Upload {
        id: id.clone(),
        length,
        offset: chunks.iter().map(|c| c.len).sum(),
        metadata: raw_metadata,
        filename: ids::safe_filename(metadata.get("filename").map_or("", String::as_str), fallback),
        declared_sha256: metadata.get("sha256").filter(|v| !v.is_empty()).cloned(),
        kind,
        expires_at: uploads::now() + l.expiry_seconds,
        chunks,
        locked_until: 0,
        sha256: Default::default(),
        header: None,
    };
    uploads::save(&upload)?;
    let location = format!("/v1/uploads/{id}");
    let mut headers = vec![("location", location), ("upload-expires", expires_header(&upload))];
    let with_body = header(&req, "content-type").is_some_and(|ct| ct.starts_with(proto::OFFSET_OCTET_STREAM));
    if matches!(upload.kind, Kind::Final { .. }) {
        return Ok(Outcome { response: reply(201, &headers), finish: Some((config, upload)) });
    }
    if !with_body {
        let finish = (upload.length == 0 && upload.kind == Kind::Whole).then_some((config, upload));
        return Ok(Outcome { response: reply(201, &headers), finish });
    }
    // creation-with-upload: the body is the first chunk, at offset 0.
    let patched = patch_locked(req, &id, 0, &config, &l).await?;
    headers.push(("upload-offset", patched.response.header("upload-offset").and_then(|v| v.as_str()).unwrap_or("0").to_string()));
    Ok(Outcome { response: reply(201, &headers), finish: patched.finish })
}

/// The chunks of a final upload: every partial, complete, in order.
fn final_parts(parts: Vec<String>) -> Result<(Kind, u64, Vec<Chunk>), ApiError> {
    let mut chunks = Vec::new();
    let mut length = 0;
    for id in &parts {
        let part = uploads::load(id)?.ok_or_else(|| ApiError::bad_request(format!("partial upload {id} does not exist")))?;
        if part.kind != Kind::Partial {
            return Err(ApiError::bad_request(format!("upload {id} was not created with Upload-Concat: partial")));
        }
        if !part.is_complete() {
            return Err(ApiError::bad_request(format!("partial upload {id} is not finished ({} of {} bytes)", part.offset, part.length)));
        }
        chunks.extend(part.chunks.iter().map(|c| Chunk { offset: length + c.offset, ..c.clone() }));
        length += part.length;
    }
    Ok((Kind::Final { parts }, length, chunks))
}

fn head(id: &str) -> Result<Response, ApiError> {
    let upload = uploads::load(id)?.ok_or_else(|| not_found(id))?;
    if upload.is_expired() {
        return Err(ApiError::new(410, "gone", format!("upload {id} expired")));
    }
    let mut headers = vec![
        ("upload-offset", upload.offset.to_string()),
        ("upload-length", upload.length.to_string()),
        ("upload-expires", expires_header(&upload)),
    ];
    if !upload.metadata.is_empty() {
        headers.push(("upload-metadata", upload.metadata.clone()));
    }
    match &upload.kind {
        Kind::Partial => headers.push(("upload-concat", "partial".into())),
        Kind::Final { parts } => {
            let urls: Vec<String> = parts.iter().map(|p| format!("/v1/uploads/{p}")).collect();
            headers.push(("upload-concat", format!("final;{}", urls.join(" "))));
        }
        Kind::Whole => {}
    }
    Ok(reply(200, &headers))
}

/// `PATCH /v1/uploads/<id>`: append one chunk at `Upload-Offset`.
async fn patch(req: IncomingRequest, id: &str, config: Config) -> Result<Outcome, ApiError> {
    let l = limits()?;
    let content_type = header(&req, "content-type").unwrap_or_default();
    if !content_type.starts_with(proto::OFFSET_OCTET_STREAM) {
        drain(req).await;
        return Err(ApiError::new(415, "unsupported_media_type", "PATCH needs Content-Type: application/offset+octet-stream"));
    }
    let Some(offset) = header(&req, "upload-offset").and_then(|v| v.trim().parse::<u64>().ok()) else {
        drain(req).await;
        return Err(ApiError::bad_request("Upload-Offset (a whole number) is required"));
    };
    patch_locked(req, id, offset, &config, &l).await
}

/// Takes the upload's lock (compare-and-swap), stores the body as a chunk,
/// advances the offset, releases the lock. Any failure leaves the upload as
/// it was before the request.
async fn patch_locked(req: IncomingRequest, id: &str, offset: u64, config: &Config, l: &TusLimits) -> Result<Outcome, ApiError> {
    let declared: Option<u64> = header(&req, "content-length").and_then(|v| v.trim().parse().ok());
    let checksum = match header(&req, "upload-checksum").map(|h| proto::parse_checksum(&h)).transpose() {
        Ok(checksum) => checksum,
        Err(e) => {
            drain(req).await;
            return Err(e.into());
        }
    };
    let now = uploads::now();
    let locked = uploads::update(id, |u| {
        if u.is_expired() {
            return Err(ApiError::new(410, "gone", format!("upload {id} expired")));
        }
        if matches!(u.kind, Kind::Final { .. }) {
            return Err(ApiError::new(403, "forbidden", "a final (concatenated) upload cannot be patched"));
        }
        if u.offset != offset {
            return Err(ApiError::new(409, "conflict", format!("Upload-Offset is {offset} but the upload is at {}", u.offset)));
        }
        if u.locked_until > now {
            return Err(ApiError::new(423, "locked", format!("upload {id} is receiving another PATCH")));
        }
        if let Some(n) = declared.filter(|&n| n > l.max_chunk) {
            return Err(ApiError::new(413, "too_large", format!("a PATCH body is at most {} bytes, got {n}; send smaller chunks", l.max_chunk)));
        }
        if declared.is_some_and(|n| u.offset + n > u.length) {
            return Err(ApiError::new(413, "too_large", format!("the body would go past Upload-Length {}", u.length)));
        }
        Ok(Upload { locked_until: now + LOCK_SECONDS, ..u.clone() })
    });
    let upload = match locked {
        Ok(Some((_, upload))) => upload,
        Ok(None) => {
            drain(req).await;
            return Err(not_found(id));
        }
        Err(e) => {
            drain(req).await;
            return Err(e);
        }
    };
    match receive(req, &upload, config, l, checksum).await {
        Ok((chunk, body)) => {
            let mut done = upload;
            done.sha256.update(&body);
            if done.offset == 0 {
                done.header = kiln_core::probe::probe(&body).ok().map(|info| uploads::Header {
                    mime_type: info.format.mime_type().to_string(),
                    width: info.width,
                    height: info.height,
                });
            }
            drop(body);
            done.offset += chunk.len;
            if chunk.len > 0 {
                done.chunks.push(chunk);
            }
            done.locked_until = 0;
            uploads::save(&done)?;
            let response = reply(204, &[("upload-offset", done.offset.to_string()), ("upload-expires", expires_header(&done))]);
            let finish = (done.is_complete() && done.kind == Kind::Whole).then(|| (config.clone(), done));
            Ok(Outcome { response, finish })
        }
        Err(e) => {
            uploads::save(&Upload { locked_until: 0, ..upload })?;
            Err(e)
        }
    }
}

/// Reads the body (bounded), checks its checksum, stores it as a chunk;
/// returns the chunk and its bytes.
async fn receive(
    req: IncomingRequest,
    upload: &Upload,
    config: &Config,
    l: &TusLimits,
    checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
) -> Result<(Chunk, Vec<u8>), ApiError> {
    let declared = header(&req, "content-length").and_then(|v| v.trim().parse().ok());
    let cap = l.max_chunk.min(upload.length - upload.offset);
    let body = read_capped(req.into_body_stream(), declared, cap, "PATCH body").await?;
    if let Some((algo, expected)) = checksum {
        let actual = match algo {
            ChecksumAlgorithm::Sha1 => Sha1::digest(&body).to_vec(),
            ChecksumAlgorithm::Sha256 => Sha256::digest(&body).to_vec(),
        };
        if actual != expected {
            return Err(ApiError::new(460, "checksum_mismatch", "Upload-Checksum does not match the body; the chunk was discarded"));
        }
    }
    let key = format!("uploads/{}/{:020}", upload.id, upload.offset);
    if !body.is_empty() {
        Storage::new(&config.s3)?.put(&key, &body, "application/octet-stream").await?;
    }
    Ok((Chunk { offset: upload.offset, len: body.len() as u64, key }, body))
}

/// `DELETE /v1/uploads/<id>`: termination. Chunks are deleted, the state
/// removed; later requests get 404.
async fn terminate(id: &str, config: &Config) -> Result<Response, ApiError> {
    let upload = uploads::load(id)?.ok_or_else(|| not_found(id))?;
    if upload.locked_until > uploads::now() {
        return Err(ApiError::new(423, "locked", format!("upload {id} is receiving a PATCH")));
    }
    let storage = Storage::new(&config.s3)?;
    if !matches!(upload.kind, Kind::Final { .. }) {
        for chunk in &upload.chunks {
            storage.delete(&chunk.key).await?;
        }
    }
    uploads::remove(id)?;
    Ok(reply(204, &[]))
}

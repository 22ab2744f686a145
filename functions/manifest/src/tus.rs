//! tus 1.0 over HTTP on `/v1/uploads`: headers in, the state machine of
//! `kiln_upload::tus` called, headers and statuses out. A PATCH's lock is
//! taken before its body is read, so refusals (409, 413, 423, ...) never
//! cost a transfer. The request that completes an upload is answered first;
//! then the upload is assembled and converted in this instance.

use kiln_spin::body::{drain, read_capped};
use kiln_spin::config::{upload_config, Config};
use kiln_spin::http::{authorize_upload, content_length, header, respond, ApiError, Caller};
use kiln_upload::tus::header::{self as grammar, Concat, CHECKSUM_ALGORITHMS, EXTENSIONS, OFFSET_OCTET_STREAM, TUS_VERSION};
use kiln_upload::tus::{Begun, ConcatView, NewUpload, TusView};
use kiln_upload::{ids, pipeline::Work, Kiln};
use kiln_spin::OnSpin;
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use std::time::{Duration, UNIX_EPOCH};

/// An answer, and work to run after it.
struct Outcome {
    response: Response,
    work: Option<(Kiln<OnSpin>, Work)>,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Outcome { response, work: None }
    }
}

/// Handles a request under `/v1/uploads` (`rest` is what follows it).
pub async fn handle(req: IncomingRequest, rest: &str, out: ResponseOutparam) {
    let method = effective_method(&req);
    if method == Method::Get && !rest.is_empty() {
        return crate::uploads::get(req, rest, out).await;
    }
    let result = match checked(&req, method.clone()) {
        Ok((config, caller)) => dispatch(req, method, rest, config, caller).await,
        Err(e) => {
            drain(req).await;
            Err(e)
        }
    };
    let outcome = result.unwrap_or_else(|e| {
        let version_missing = e.status == 412;
        let mut response = e.into_response();
        tus_headers(&mut response);
        if version_missing {
            response.set_header("tus-version", TUS_VERSION);
        }
        response.into()
    });
    respond(out, outcome.response).await;
    if let Some((kiln, work)) = outcome.work {
        let id = work.id.clone();
        if let Err(e) = kiln.run(work).await {
            eprintln!("kiln uploads: {id}: {e} (re-driven later)");
        }
    }
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

/// Auth (the master token or a scoped upload token) and the
/// `Tus-Resumable` version, required on every request but OPTIONS.
fn checked(req: &IncomingRequest, method: Method) -> Result<(Config, Caller), ApiError> {
    let config = Config::load()?;
    if method == Method::Options {
        return Ok((config, Caller::Master));
    }
    let caller = authorize_upload(req, &config.auth_token)?;
    if header(req, "tus-resumable").as_deref() != Some(TUS_VERSION) {
        return Err(ApiError::new(412, "precondition_failed", "Tus-Resumable: 1.0.0 is required"));
    }
    Ok((config, caller))
}

async fn dispatch(req: IncomingRequest, method: Method, id: &str, config: Config, caller: Caller) -> Result<Outcome, ApiError> {
    if method == Method::Options {
        drain(req).await;
        return options(&config).map(Outcome::from);
    }
    if id.is_empty() {
        return match method {
            Method::Post => create(req, &config, &caller).await,
            _ => Err(ApiError::new(405, "method_not_allowed", "POST creates an upload")),
        };
    }
    if !ids::is_valid_id(id) {
        drain(req).await;
        return Err(ApiError::new(404, "not_found", format!("no upload {id:?}")));
    }
    let kiln = kiln_spin::kiln(&config)?;
    if let Caller::Scoped(_) = caller {
        let owned = match kiln.record(id).await {
            Ok(record) => caller.check_owns(id, record.as_ref().and_then(|r| r.grant.as_ref())),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = owned {
            drain(req).await;
            return Err(e);
        }
    }
    match method {
        Method::Head => Ok(reply(200, &view_headers(&kiln.tus_head(id).await?, true)).into()),
        Method::Patch => patch(req, id, kiln).await,
        Method::Delete => {
            drain(req).await;
            kiln.tus_terminate(id).await?;
            Ok(reply(204, &[]).into())
        }
        _ => Err(ApiError::new(405, "method_not_allowed", "use HEAD, PATCH, DELETE or GET")),
    }
}

fn tus_headers(response: &mut Response) {
    response.set_header("tus-resumable", TUS_VERSION);
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

fn options(config: &Config) -> Result<Response, ApiError> {
    let max = upload_config(config)?.max_upload_bytes;
    let headers = [
        ("tus-version", TUS_VERSION.to_string()),
        ("tus-extension", EXTENSIONS.to_string()),
        ("tus-max-size", max.to_string()),
        ("tus-checksum-algorithm", CHECKSUM_ALGORITHMS.to_string()),
    ];
    Ok(reply(204, &headers))
}

fn expires(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The headers that describe an upload (`full`: HEAD's, with length,
/// metadata and concatenation).
fn view_headers(view: &TusView, full: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![("upload-offset", view.offset.to_string()), ("upload-expires", expires(view.expires_ms))];
    if !full {
        return headers;
    }
    headers.push(("upload-length", view.length.to_string()));
    if !view.metadata.is_empty() {
        headers.push(("upload-metadata", view.metadata.clone()));
    }
    match &view.concat {
        ConcatView::None => {}
        ConcatView::Partial => headers.push(("upload-concat", "partial".into())),
        ConcatView::Final(parts) => {
            let urls: Vec<String> = parts.iter().map(|p| format!("/v1/uploads/{p}")).collect();
            headers.push(("upload-concat", format!("final;{}", urls.join(" "))));
        }
    }
    headers
}

/// `POST /v1/uploads`: creation, creation-with-upload, concatenation.
async fn create(req: IncomingRequest, config: &Config, caller: &Caller) -> Result<Outcome, ApiError> {
    let kiln = kiln_spin::kiln(config)?;
    let new = match new_upload(&req) {
        Ok(new) => scoped(new, caller, &kiln).await,
        Err(e) => Err(e),
    };
    let new = match new {
        Ok(new) => new,
        Err(e) => {
            drain(req).await;
            return Err(e);
        }
    };
    let with_body = header(&req, "content-type").is_some_and(|ct| ct.starts_with(OFFSET_OCTET_STREAM));
    let created = match kiln.tus_create(new).await {
        Ok(created) => created,
        Err(e) => {
            drain(req).await;
            return Err(e.into());
        }
    };
    let id = created.view.id.clone();
    let mut headers = vec![("location", format!("/v1/uploads/{id}")), ("upload-expires", expires(created.view.expires_ms))];
    if let Some(work) = created.work {
        return Ok(Outcome { response: reply(201, &headers), work: Some((kiln, work)) });
    }
    if !with_body {
        drain(req).await;
        return Ok(reply(201, &headers).into());
    }
    // creation-with-upload: the body is the first chunk, at offset 0.
    let patched = patch_at(req, &id, 0, kiln).await?;
    headers.push(("upload-offset", patched.response.header("upload-offset").and_then(|v| v.as_str()).unwrap_or("0").to_string()));
    Ok(Outcome { response: reply(201, &headers), work: patched.work })
}

/// A scoped token's limits on a new upload, checked before one of its
/// uploads is spent: a length within its `max_bytes`, no concatenation.
async fn scoped(mut new: NewUpload, caller: &Caller, kiln: &Kiln<OnSpin>) -> Result<NewUpload, ApiError> {
    let Caller::Scoped(grant) = caller else { return Ok(new) };
    if new.concat.is_some() {
        return Err(ApiError::new(403, "forbidden", "parallel uploads (Upload-Concat) need the master token"));
    }
    if let Some(length) = new.length.filter(|&l| l > grant.max_bytes) {
        return Err(ApiError::new(413, "too_large", format!("Upload-Length {length} is over this upload token's max_bytes {}", grant.max_bytes)));
    }
    kiln.spend_upload_token(grant).await?;
    new.scope = Some(grant.scope());
    Ok(new)
}

fn new_upload(req: &IncomingRequest) -> Result<NewUpload, ApiError> {
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        header(req, name)
            .map(|v| v.trim().parse().map_err(|_| ApiError::bad_request(format!("{name} must be a whole number, got {v:?}"))))
            .transpose()
    };
    let concat: Option<Concat> = header(req, "upload-concat").map(|h| grammar::parse_concat(&h)).transpose()?;
    Ok(NewUpload {
        length: number("upload-length")?,
        defer_length: header(req, "upload-defer-length").is_some(),
        metadata: header(req, "upload-metadata").unwrap_or_default(),
        concat,
        scope: None,
    })
}

/// `PATCH /v1/uploads/<id>`: one chunk at `Upload-Offset`.
async fn patch(req: IncomingRequest, id: &str, kiln: Kiln<OnSpin>) -> Result<Outcome, ApiError> {
    if !header(&req, "content-type").unwrap_or_default().starts_with(OFFSET_OCTET_STREAM) {
        drain(req).await;
        return Err(ApiError::new(415, "unsupported_media_type", "PATCH needs Content-Type: application/offset+octet-stream"));
    }
    let Some(offset) = header(&req, "upload-offset").and_then(|v| v.trim().parse::<u64>().ok()) else {
        drain(req).await;
        return Err(ApiError::bad_request("Upload-Offset (a whole number) is required"));
    };
    patch_at(req, id, offset, kiln).await
}

async fn patch_at(req: IncomingRequest, id: &str, offset: u64, kiln: Kiln<OnSpin>) -> Result<Outcome, ApiError> {
    let declared = content_length(&req);
    let checksum = match header(&req, "upload-checksum").map(|h| grammar::parse_checksum(&h)).transpose() {
        Ok(checksum) => checksum,
        Err(e) => {
            drain(req).await;
            return Err(e.into());
        }
    };
    let ticket = match kiln.tus_begin(id, offset, declared).await {
        Ok(Begun::Locked(ticket)) => ticket,
        Ok(Begun::Noop(view)) => {
            drain(req).await;
            return Ok(reply(204, &view_headers(&view, false)).into());
        }
        Err(e) => {
            drain(req).await;
            return Err(e.into());
        }
    };
    let room = ticket.room(kiln.config.max_request_bytes);
    let body = match read_capped(req.into_body_stream(), declared, room, "PATCH body").await {
        Ok(body) => body,
        Err(e) => {
            kiln.tus_abort(ticket).await;
            return Err(e);
        }
    };
    let patched = kiln.tus_commit(ticket, &body, checksum).await?;
    drop(body);
    let response = reply(204, &view_headers(&patched.view, false));
    Ok(Outcome { response, work: patched.work.map(|w| (kiln, w)) })
}

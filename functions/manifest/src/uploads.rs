//! `GET /v1/uploads/<id>` (an upload's state and manifest) and `POST
//! /v1/images` (a whole image in one request). A GET that finds the upload's
//! work stalled (its lease expired) answers first, then re-drives it here.

use kiln_spin::body::{drain, read_capped};
use kiln_spin::config::{upload_config, Config};
use kiln_spin::http::{authorize_upload, content_length, json, respond, ApiError, Caller};
use kiln_upload::manifest::Status;
use kiln_upload::{ids, Clock};
use spin_sdk::http::{IncomingRequest, Response, ResponseOutparam};

/// `GET /v1/uploads/<id>`: 202 while uploading, assembling or converting,
/// 200 with the manifest once terminal.
pub async fn get(req: IncomingRequest, id: &str, out: ResponseOutparam) {
    let result = async {
        let config = Config::load()?;
        let caller = authorize_upload(&req, &config.auth_token)?;
        if !ids::is_valid_id(id) {
            return Err(ApiError::new(404, "not_found", format!("no upload {id:?}")));
        }
        let kiln = kiln_spin::kiln(&config)?;
        let record = kiln.record(id).await?;
        caller.check_owns(id, record.as_ref().and_then(|r| r.grant.as_ref()))?;
        let record = record.ok_or_else(|| ApiError::new(404, "not_found", format!("no upload {id:?}")))?;
        let response = match (&record.tus, record.status()) {
            (Some(tus), Status::Uploading) => {
                json(202, &serde_json::json!({"id": id, "status": Status::Uploading, "offset": tus.offset, "length": tus.length}))
            }
            (_, status) if status.is_terminal() => json(200, &record.manifest),
            _ => json(202, &record.manifest),
        };
        let stalled = record.needs_drive(kiln.clock.now_ms());
        Ok::<_, ApiError>((response, stalled.then_some(kiln)))
    }
    .await;
    match result {
        Ok((response, redrive)) => {
            respond(out, response).await;
            if let Some(kiln) = redrive {
                match kiln.drive(id).await {
                    Ok(manifest) => eprintln!("kiln uploads: {id} re-driven: {:?}", manifest.map(|m| m.status)),
                    Err(e) => eprintln!("kiln uploads: {id}: re-drive stopped: {e}"),
                }
            }
        }
        Err(e) => respond(out, e.into_response()).await,
    }
}

/// `POST /v1/images?filename=<name>`: 201 with the manifest when every
/// variant is settled; 202 with it if an attempt stopped on a passing
/// failure (a later drive finishes it).
pub async fn post_image(req: IncomingRequest, out: ResponseOutparam) {
    let response = match one_shot(req).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("kiln images: {} {}: {}", e.status, e.code, e.detail);
            e.into_response()
        }
    };
    respond(out, response).await;
}

async fn one_shot(req: IncomingRequest) -> Result<Response, ApiError> {
    let config = Config::load()?;
    let caller = match authorize_upload(&req, &config.auth_token) {
        Ok(caller) => caller,
        Err(e) => {
            drain(req).await;
            return Err(e);
        }
    };
    let mut cap = upload_config(&config)?.max_request_bytes;
    if let Caller::Scoped(grant) = &caller {
        cap = cap.min(grant.max_bytes);
    }
    let filename = query_param(&req.path_with_query().unwrap_or_default(), "filename");
    let declared = content_length(&req);
    let body = read_capped(req.into_body_stream(), declared, cap, "image body").await.map_err(|e| {
        if e.status == 413 {
            ApiError::new(413, "too_large", format!("{}; upload larger files in chunks with the resumable API at /v1/uploads", e.detail))
        } else {
            e
        }
    })?;
    let kiln = kiln_spin::kiln(&config)?;
    // A scoped token's format is checked before one of its uploads is spent.
    let scope = match &caller {
        Caller::Scoped(grant) => {
            grant.scope().check_image(&body)?;
            kiln.spend_upload_token(grant).await?;
            Some(grant.scope())
        }
        Caller::Master => None,
    };
    let manifest = kiln.post_image(filename.as_deref(), body, scope).await?;
    let status = if manifest.status.is_terminal() { 201 } else { 202 };
    let mut response = json(status, &manifest);
    response.set_header("location", format!("/v1/uploads/{}", manifest.id));
    Ok(response)
}

fn query_param(path_with_query: &str, name: &str) -> Option<String> {
    let query = path_with_query.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

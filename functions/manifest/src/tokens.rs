//! `POST /v1/upload-tokens`: with the master token, a scoped upload token
//! for a browser (expiry, largest size, formats, number of uploads;
//! `kiln_upload::tokens`). The upload routes accept it in its place.

use kiln_spin::body::{drain, read_capped};
use kiln_spin::config::Config;
use kiln_spin::http::{authorize, content_length, json, respond, ApiError};
use kiln_upload::tokens::TokenRequest;
use spin_sdk::http::{IncomingRequest, Response, ResponseOutparam};

/// The largest request body: a few small fields.
const MAX_BODY: u64 = 4096;

pub async fn issue(req: IncomingRequest, out: ResponseOutparam) {
    let response = issued(req).await.unwrap_or_else(ApiError::into_response);
    respond(out, response).await;
}

async fn issued(req: IncomingRequest) -> Result<Response, ApiError> {
    let config = Config::load()?;
    if let Err(e) = authorize(&req, &config.auth_token, "auth_token") {
        drain(req).await;
        return Err(e);
    }
    let declared = content_length(&req);
    let body = read_capped(req.into_body_stream(), declared, MAX_BODY, "token request").await?;
    let request: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("token request: {e} (fields: expires_in, max_bytes, formats, uploads)")))?
    };
    let kiln = kiln_spin::kiln(&config)?;
    let (token, grant) = kiln.issue_upload_token(&config.auth_token, &request).await?;
    Ok(json(
        201,
        &serde_json::json!({
            "token": token,
            "id": grant.id,
            "expires_at": grant.expires_s,
            "max_bytes": grant.max_bytes,
            "formats": grant.formats,
            "uploads": grant.uploads,
        }),
    ))
}

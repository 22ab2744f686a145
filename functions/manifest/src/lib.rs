//! kiln's manifest function: the upload API. Routes only; the work is in
//! kiln-ingest.
//!
//! - `POST /v1/images` — a whole image (≤ 10 MiB): store, convert into every
//!   variant in parallel, answer the manifest (201).
//! - `GET /v1/uploads/<id>` — the manifest of an upload.

use kiln_converter::api::ApiError;
use kiln_ingest::oneshot;
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let path = req.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or("").to_string();
    let result = match (req.method(), path.as_str()) {
        (Method::Post, "/v1/images") => oneshot::post_image(req).await,
        (Method::Get, p) if p.starts_with("/v1/uploads/") => {
            let id = p.trim_start_matches("/v1/uploads/").to_string();
            oneshot::get_manifest(req, &id).await
        }
        (_, "/v1/images") => Err(ApiError::new(405, "method_not_allowed", "use POST with the image as the body")),
        _ => Err(ApiError::new(404, "not_found", format!("no route {path}"))),
    };
    result.unwrap_or_else(|e| {
        eprintln!("kiln manifest: {} {}: {}", e.status, e.code, e.detail);
        e.into_response()
    })
}

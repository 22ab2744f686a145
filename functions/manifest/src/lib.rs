//! kiln's manifest function: the upload API. Routes only; the work is in
//! kiln-ingest.
//!
//! - `POST /v1/images` — a whole image (≤ 10 MiB): store, convert into every
//!   variant in parallel, answer the manifest (201).
//! - `/v1/uploads` — tus 1.0 resumable uploads (POST, HEAD, PATCH, DELETE,
//!   OPTIONS); the last PATCH is answered first, then the upload is
//!   assembled and converted.
//! - `GET /v1/uploads/<id>` — the manifest of an upload (202 while uploading
//!   or converting).
//! - `POST /v1/events` — object-storage notifications: acknowledged with 202
//!   first, converted after the response has been sent.

use kiln_converter::api::ApiError;
use kiln_ingest::{assemble, events, oneshot, tus};
use spin_sdk::http::{IncomingRequest, Method, OutgoingResponse, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let path = req.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or("").to_string();
    let result = match (req.method(), path.as_str()) {
        (Method::Post, "/v1/events") => match events::accept(req).await {
            Ok(accepted) => {
                let receipt = json_response(202, &events::receipt(&accepted));
                respond(out, receipt).await;
                // The notifier has its answer; the conversion runs now.
                events::process(accepted).await;
                return;
            }
            Err(e) => Err(e),
        },
        (Method::Post, "/v1/images") => oneshot::post_image(req).await,
        (_, p) if p == "/v1/uploads" || p.starts_with("/v1/uploads/") => {
            let rest = p.trim_start_matches("/v1/uploads").to_string();
            let outcome = tus::handle(req, &rest).await;
            respond(out, outcome.response).await;
            if let Some((config, upload)) = outcome.finish {
                // The client has its answer; assemble and convert now.
                assemble::finish(&config, &upload).await;
            }
            return;
        }
        (_, "/v1/images" | "/v1/events") => Err(ApiError::new(405, "method_not_allowed", "use POST")),
        _ => Err(ApiError::new(404, "not_found", format!("no route {path}"))),
    };
    let response = result.unwrap_or_else(|e| {
        eprintln!("kiln manifest: {} {}: {}", e.status, e.code, e.detail);
        e.into_response()
    });
    respond(out, response).await;
}

fn json_response(status: u16, body: &serde_json::Value) -> Response {
    Response::builder().status(status).header("content-type", "application/json").body(body.to_string()).build()
}

async fn respond(out: ResponseOutparam, response: Response) {
    let body = response.body().to_vec();
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = out.set_with_body(outgoing, body).await {
                eprintln!("kiln manifest: writing the response failed: {e:?}");
            }
        }
        Err(e) => eprintln!("kiln manifest: building the response failed: {e}"),
    }
}

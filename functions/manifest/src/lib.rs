//! kiln's manifest function: the upload API. Routing and HTTP only; what
//! happens to an upload is `kiln-upload`, run on Spin by `kiln-spin`.
//!
//! - `/v1/uploads` — tus 1.0 resumable uploads ([`tus`]); `GET
//!   /v1/uploads/<id>` the manifest ([`uploads`]).
//! - `POST /v1/images` — a whole image in one request ([`uploads`]).
//! - `POST /v1/events` — object-storage notifications ([`events`]).
//! - `POST /v1/sweep` — the periodic sweep ([`sweep`]).
//! - `GET /healthz` — a health check (readiness probes).
//! - `POST /v1/upload-tokens` — scoped upload tokens for browsers
//!   ([`tokens`]); the upload routes take them in place of the master token.
//!
//! Browsers from the origins in `cors_allowed_origins` may call all of
//! them (`kiln_spin::cors`).
//!
//! Work that outlives a request (assembling after the last PATCH,
//! converting after an event's 202, re-driving a stalled upload) runs after
//! the response has been sent, in the same instance.

mod events;
mod sweep;
mod tokens;
mod tus;
mod uploads;

use kiln_spin::http::{add_to_every_response, header, respond, ApiError};
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    // CORS first: a preflight is answered without auth, and every other
    // answer to an allowed origin (errors included) carries its headers.
    let cors = match kiln_spin::config::cors_policy() {
        Ok(cors) => cors,
        Err(e) => return respond(out, e.into_response()).await,
    };
    let origin = header(&req, "origin");
    if let (Method::Options, Some(origin), Some(_)) = (req.method(), &origin, header(&req, "access-control-request-method")) {
        let answer = match cors.preflight(origin) {
            Ok(headers) => {
                let mut response = Response::new(204, Vec::<u8>::new());
                headers.into_iter().for_each(|(k, v)| response.set_header(k, v));
                response
            }
            Err(e) => e.into_response(),
        };
        return respond(out, answer).await;
    }
    add_to_every_response(cors.response_headers(origin.as_deref()));

    let path = req.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or("").to_string();
    match (req.method(), path.as_str()) {
        (_, p) if p == "/v1/uploads" || p.starts_with("/v1/uploads/") => {
            let rest = p.trim_start_matches("/v1/uploads").trim_start_matches('/').to_string();
            tus::handle(req, &rest, out).await
        }
        (Method::Post, "/v1/images") => uploads::post_image(req, out).await,
        (Method::Post, "/v1/events") => events::handle(req, out).await,
        (Method::Post, "/v1/sweep") => sweep::handle(req, out).await,
        (Method::Post, "/v1/upload-tokens") => tokens::issue(req, out).await,
        // A health check (Kubernetes readiness, deploy/): no auth, no state.
        (Method::Get, "/healthz") => respond(out, kiln_spin::http::json(200, &serde_json::json!({"status": "ok"}))).await,
        (_, "/v1/images" | "/v1/events" | "/v1/sweep" | "/v1/upload-tokens") => {
            respond(out, ApiError::new(405, "method_not_allowed", "use POST").into_response()).await
        }
        _ => respond(out, ApiError::new(404, "not_found", format!("no route {path}")).into_response()).await,
    }
}

//! kiln's manifest function: the upload API. Routing and HTTP only; what
//! happens to an upload is `kiln-upload`, run on Spin by `kiln-spin`.
//!
//! - `/v1/uploads` — tus 1.0 resumable uploads ([`tus`]); `GET
//!   /v1/uploads/<id>` the manifest ([`uploads`]).
//! - `POST /v1/images` — a whole image in one request ([`uploads`]).
//! - `POST /v1/events` — object-storage notifications ([`events`]).
//! - `POST /v1/sweep` — the periodic sweep ([`sweep`]).
//!
//! Work that outlives a request (assembling after the last PATCH,
//! converting after an event's 202, re-driving a stalled upload) runs after
//! the response has been sent, in the same instance.

mod events;
mod sweep;
mod tus;
mod uploads;

use kiln_spin::http::{respond, ApiError};
use spin_sdk::http::{IncomingRequest, Method, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
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
        (_, "/v1/images" | "/v1/events" | "/v1/sweep") => {
            respond(out, ApiError::new(405, "method_not_allowed", "use POST").into_response()).await
        }
        _ => respond(out, ApiError::new(404, "not_found", format!("no route {path}")).into_response()).await,
    }
}

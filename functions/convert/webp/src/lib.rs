//! kiln's WebP converter: `POST /v1/convert/webp`. Lossy WebP (libwebp),
//! quality from `?quality=` or the `webp_quality` variable.

use kiln_converter::{formats::WEBP, serve};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &WEBP).await
}

//! kiln's WebP converter: `POST /v1/convert/webp`. Lossy WebP (libwebp),
//! quality from `?quality=` or the `webp_quality` variable.

use kiln_converter::{formats::WEBP, serve};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[global_allocator]
static ALLOCATOR: kiln_converter::LastWords = kiln_converter::LastWords;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out, &WEBP).await
}

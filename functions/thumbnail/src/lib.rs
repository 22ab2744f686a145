//! kiln's thumbnail: `POST /v1/thumbnail`. A small 8-bit PNG (alpha kept),
//! long side from `?width=` or the `thumbnail_max_side` variable.

use kiln_converter::{formats::THUMBNAIL, serve};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[global_allocator]
static ALLOCATOR: kiln_converter::LastWords = kiln_converter::LastWords;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out, &THUMBNAIL).await
}

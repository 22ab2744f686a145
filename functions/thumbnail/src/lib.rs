//! kiln's thumbnail: `POST /v1/thumbnail`. A small 8-bit PNG (alpha kept),
//! long side from `?width=` or the `thumbnail_max_side` variable.

use kiln_converter::{formats::THUMBNAIL, serve};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &THUMBNAIL).await
}

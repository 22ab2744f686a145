//! kiln's JPEG converter: `POST /v1/convert/jpeg`. Progressive 4:2:0 JPEG,
//! quality from `?quality=` or the `jpeg_quality` variable.

use kiln_converter::{formats::JPEG, serve};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &JPEG).await
}

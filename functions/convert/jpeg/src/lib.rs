//! kiln's JPEG converter: `POST /v1/convert/jpeg`. Progressive 4:2:0 JPEG,
//! quality from `?quality=` or the `jpeg_quality` variable.

use kiln_converter::{formats::JPEG, serve};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[global_allocator]
static ALLOCATOR: kiln_converter::LastWords = kiln_converter::LastWords;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out, &JPEG).await
}

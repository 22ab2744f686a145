//! kiln's combined converter: `POST /v1/convert/all` with `{"key"}` makes
//! every variant (WebP, AVIF, JPEG, PNG thumbnail) of a stored original in
//! one instance, decoding it once. The manifest calls it instead of the four
//! per-format components when `conversion_mode = "combined"`; see
//! docs/glue-costs.md for what that saves and costs.

use kiln_converter::combined::serve;
use kiln_converter::formats::{AVIF, JPEG, THUMBNAIL, WEBP};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[global_allocator]
static ALLOCATOR: kiln_converter::LastWords = kiln_converter::LastWords;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out, &[WEBP, AVIF, JPEG, THUMBNAIL]).await
}

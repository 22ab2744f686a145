//! kiln's AVIF converter: `POST /v1/convert/avif`. libaom (docs/avif.md);
//! speed and chroma from `avif_speed` and `avif_chroma`, quality from
//! `?quality=` or `avif_quality`.

use kiln_converter::{formats::AVIF, serve};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[global_allocator]
static ALLOCATOR: kiln_converter::LastWords = kiln_converter::LastWords;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    serve(req, out, &AVIF).await
}

//! kiln's WebP converter: `POST /v1/convert/webp`. Lossy WebP (libwebp),
//! quality from `?quality=` or the `webp_quality` variable.

use kiln_converter::{api::ApiError, config::var_num, params::Params, serve, Converter};
use kiln_core::encode::{webp::WebpEncoder, Encoder};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const WEBP: Converter = Converter { max_side_variable: "variant_max_side", build_encoder };

fn build_encoder(params: &Params) -> Result<Box<dyn Encoder>, ApiError> {
    let quality = match params.quality {
        Some(q) => q,
        None => var_num("webp_quality")?,
    };
    Ok(Box::new(WebpEncoder::new(quality)?))
}

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &WEBP).await
}

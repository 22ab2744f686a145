//! kiln's JPEG converter: `POST /v1/convert/jpeg`. Progressive 4:2:0 JPEG,
//! quality from `?quality=` or the `jpeg_quality` variable.

use kiln_converter::{api::ApiError, config::var_num, params::Params, serve, Converter};
use kiln_core::encode::{jpeg::JpegEncoder, Encoder};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const JPEG: Converter = Converter { max_side_variable: "variant_max_side", build_encoder };

fn build_encoder(params: &Params) -> Result<Box<dyn Encoder>, ApiError> {
    let quality = match params.quality {
        Some(q) => q,
        None => var_num("jpeg_quality")?,
    };
    Ok(Box::new(JpegEncoder::new(quality)?))
}

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &JPEG).await
}

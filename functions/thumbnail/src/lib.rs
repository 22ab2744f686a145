//! kiln's thumbnail: `POST /v1/thumbnail`. A small 8-bit PNG (alpha kept),
//! long side from `?width=` or the `thumbnail_max_side` variable.

use kiln_converter::{api::ApiError, params::Params, serve, Converter};
use kiln_core::encode::{png::PngEncoder, Encoder};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const THUMBNAIL: Converter = Converter { max_side_variable: "thumbnail_max_side", build_encoder };

fn build_encoder(params: &Params) -> Result<Box<dyn Encoder>, ApiError> {
    if params.quality.is_some() {
        return Err(ApiError::bad_request("the PNG thumbnail is lossless: 'quality' does not apply"));
    }
    Ok(Box::new(PngEncoder))
}

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &THUMBNAIL).await
}

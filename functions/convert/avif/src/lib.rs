//! kiln's AVIF converter: `POST /v1/convert/avif`. rav1e via ravif; speed
//! from the `avif_speed` variable, quality from `?quality=` or `avif_quality`.

use kiln_converter::{api::ApiError, config::var_num, params::Params, serve, Converter};
use kiln_core::encode::{avif::AvifEncoder, Encoder};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

const AVIF: Converter = Converter { max_side_variable: "avif_max_side", build_encoder };

fn build_encoder(params: &Params) -> Result<Box<dyn Encoder>, ApiError> {
    let quality = match params.quality {
        Some(q) => q,
        None => var_num("avif_quality")?,
    };
    Ok(Box::new(AvifEncoder::new(quality, var_num("avif_speed")?)?))
}

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    serve(req, &AVIF).await
}

//! Query parameters of a conversion request: `width` (max long side of the
//! output, never above the configured maximum) and `quality` (1..=100).

use kiln_spin::http::ApiError;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Params {
    pub width: Option<u32>,
    /// `metadata` and `colour` (direct mode only): what the output keeps of
    /// the input's metadata, over the configured policy ([`kiln_core::metadata`]).
    pub metadata: Option<kiln_core::ExifPolicy>,
    pub colour: Option<kiln_core::ColourPolicy>,
    pub quality: Option<f32>,
}

/// Parses the query string of `path_with_query`.
pub fn parse(path_with_query: &str, max_width: u32) -> Result<Params, ApiError> {
    let mut params = Params::default();
    let query = path_with_query.split_once('?').map_or("", |(_, q)| q);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "width" => {
                let w: u32 = value
                    .parse()
                    .map_err(|_| ApiError::bad_request(format!("width must be a whole number, got {value:?}")))?;
                if w == 0 || w > max_width {
                    return Err(ApiError::bad_request(format!("width must be between 1 and {max_width}, got {w}")));
                }
                params.width = Some(w);
            }
            "quality" => {
                let q: f32 = value
                    .parse()
                    .map_err(|_| ApiError::bad_request(format!("quality must be a number, got {value:?}")))?;
                if !(1.0..=100.0).contains(&q) {
                    return Err(ApiError::bad_request(format!("quality must be between 1 and 100, got {q}")));
                }
                params.quality = Some(q);
            }
            "metadata" => params.metadata = Some(kiln_core::ExifPolicy::parse(&value).map_err(ApiError::bad_request)?),
            "colour" => params.colour = Some(kiln_core::ColourPolicy::parse(&value).map_err(ApiError::bad_request)?),
            other => return Err(ApiError::bad_request(format!("unknown query parameter {other:?} (known: width, quality, metadata, colour)"))),
        }
    }
    Ok(params)
}


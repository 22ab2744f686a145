//! Query parameters of a conversion request: `width` (max long side of the
//! output, never above the configured maximum), `quality` (1..=100, or
//! `auto`: the lowest quality reaching an SSIMULACRA2 target) and `target`
//! (that score, 30..=95, with `quality=auto` only).

use kiln_spin::http::ApiError;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Params {
    pub width: Option<u32>,
    /// `metadata` and `colour` (direct mode only): what the output keeps of
    /// the input's metadata, over the configured policy ([`kiln_core::metadata`]).
    pub metadata: Option<kiln_core::ExifPolicy>,
    pub colour: Option<kiln_core::ColourPolicy>,
    pub quality: Option<Quality>,
    /// `quality=auto`'s SSIMULACRA2 target, when the request sets it.
    pub target: Option<f32>,
}

/// A quality setting: a number, or `auto` ([`kiln_core::auto_quality`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quality {
    Fixed(f32),
    Auto,
}

impl Quality {
    /// `auto` or a number from 1 to 100.
    pub fn parse(value: &str) -> Result<Quality, String> {
        let value = value.trim();
        if value == "auto" {
            return Ok(Quality::Auto);
        }
        let q: f32 = value.parse().map_err(|_| format!("quality must be a number from 1 to 100 or \"auto\", got {value:?}"))?;
        if !(1.0..=100.0).contains(&q) {
            return Err(format!("quality must be between 1 and 100, got {q}"));
        }
        Ok(Quality::Fixed(q))
    }

    /// How a variant's name spells it (`80`, `auto`).
    pub fn label(&self) -> String {
        match self {
            Quality::Fixed(q) => q.to_string(),
            Quality::Auto => "auto".to_string(),
        }
    }
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
            "quality" => params.quality = Some(Quality::parse(&value).map_err(ApiError::bad_request)?),
            "target" => {
                let t: f32 = value
                    .parse()
                    .map_err(|_| ApiError::bad_request(format!("target must be an SSIMULACRA2 score, got {value:?}")))?;
                params.target = Some(kiln_core::auto_quality::check_target(t)?);
            }
            "metadata" => params.metadata = Some(kiln_core::ExifPolicy::parse(&value).map_err(ApiError::bad_request)?),
            "colour" => params.colour = Some(kiln_core::ColourPolicy::parse(&value).map_err(ApiError::bad_request)?),
            other => return Err(ApiError::bad_request(format!("unknown query parameter {other:?} (known: width, quality, target, metadata, colour)"))),
        }
    }
    if params.target.is_some() && params.quality != Some(Quality::Auto) {
        return Err(ApiError::bad_request("target applies to quality=auto only"));
    }
    Ok(params)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_is_a_number_or_auto() {
        assert_eq!(Quality::parse("80"), Ok(Quality::Fixed(80.0)));
        assert_eq!(Quality::parse(" auto "), Ok(Quality::Auto));
        assert!(Quality::parse("0").unwrap_err().contains("between 1 and 100"));
        assert!(Quality::parse("best").unwrap_err().contains("\"auto\""));
        assert_eq!(Quality::Auto.label(), "auto");
        assert_eq!(Quality::Fixed(55.0).label(), "55");
    }

    #[test]
    fn target_goes_with_auto_only() {
        let p = parse("/v1/convert/webp?quality=auto&target=75", 2048).unwrap();
        assert_eq!((p.quality, p.target), (Some(Quality::Auto), Some(75.0)));
        assert!(parse("/v1/convert/webp?target=75", 2048).is_err());
        assert!(parse("/v1/convert/webp?quality=80&target=75", 2048).is_err());
        assert!(parse("/v1/convert/webp?quality=auto&target=20", 2048).is_err());
        assert!(parse("/v1/convert/webp?quality=auto&target=x", 2048).is_err());
        assert_eq!(parse("/v1/convert/webp?quality=auto", 2048).unwrap().target, None);
    }

    #[test]
    fn metadata_and_colour_are_checked() {
        use kiln_core::{ColourPolicy, ExifPolicy};
        let p = parse("/v1/convert/jpeg?metadata=copyright&colour=keep", 2048).unwrap();
        assert_eq!((p.metadata, p.colour), (Some(ExifPolicy::Copyright), Some(ColourPolicy::Keep)));
        assert_eq!(parse("/v1/convert/jpeg", 2048).unwrap(), Params::default());
        for (query, says) in [("metadata=all", "metadata must be strip or copyright"), ("colour=p3", "colour must be srgb or keep")] {
            let e = parse(&format!("/v1/convert/jpeg?{query}"), 2048).unwrap_err();
            assert!(e.status == 400 && e.detail.contains(says), "{query}: {}", e.detail);
        }
        assert!(parse("/v1/convert/jpeg?icc=keep", 2048).unwrap_err().detail.contains("metadata, colour"));
    }
}

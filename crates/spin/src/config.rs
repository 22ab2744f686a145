//! Configuration from Spin variables (declared in spin.toml, overridden with
//! `SPIN_VARIABLE_<NAME>` or `spin up --variable name=value`). A component
//! can only read the variables spin.toml passes it, so each reader here
//! names exactly what it needs.

use crate::http::ApiError;
use kiln_core::metadata::{ColourPolicy, ExifPolicy, Metadata};
use kiln_core::Limits;
use kiln_upload::UploadConfig;
use std::time::Duration;

/// What every component that touches storage reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub auth_token: String,
    pub limits: Limits,
    pub s3: S3Config,
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// Base of the public URL of a key: `<public_base_url>/<key>`.
    pub public_base_url: String,
    /// Attempts per storage request (1 = no retry).
    pub attempts: u32,
    /// Limit on one attempt, from sending to the last byte of the answer.
    pub timeout: Duration,
}

/// A variable as a string; a missing variable is a configuration error.
pub fn var(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name).map_err(|e| ApiError::misconfigured(format!("Spin variable '{name}': {e}")))
}

/// The `cors_allowed_origins` variable, parsed.
pub fn cors_policy() -> Result<crate::cors::CorsPolicy, ApiError> {
    let raw = var("cors_allowed_origins")?;
    crate::cors::CorsPolicy::parse(&raw).map_err(|e| ApiError::misconfigured(format!("Spin variable 'cors_allowed_origins': {e}")))
}

/// A numeric variable.
pub fn var_num<T: std::str::FromStr>(name: &str) -> Result<T, ApiError> {
    let raw = var(name)?;
    raw.trim().parse().map_err(|_| ApiError::misconfigured(format!("Spin variable '{name}' = {raw:?} is not a number")))
}

fn seconds(name: &str) -> Result<Duration, ApiError> {
    Ok(Duration::from_secs(var_num(name)?))
}

fn millis(name: &str) -> Result<u64, ApiError> {
    Ok(var_num::<u64>(name)?.saturating_mul(1000))
}

impl Config {
    pub fn load() -> Result<Config, ApiError> {
        Ok(Config {
            auth_token: var("auth_token")?,
            limits: Limits {
                max_input_bytes: var_num("max_input_bytes")?,
                max_pixels: var_num("max_pixels")?,
                max_memory_bytes: var_num("max_memory_bytes")?,
                max_animation_frames: var_num("max_animation_frames")?,
                max_animation_pixels: var_num("max_animation_pixels")?,
                max_icc_bytes: var_num("max_icc_bytes")?,
            },
            s3: S3Config {
                endpoint: var("s3_endpoint")?,
                region: var("s3_region")?,
                bucket: var("s3_bucket")?,
                access_key: var("s3_access_key")?,
                secret_key: var("s3_secret_key")?,
                public_base_url: var("public_base_url")?.trim_end_matches('/').to_string(),
                attempts: var_num::<u32>("storage_attempts")?.max(1),
                timeout: seconds("storage_timeout_seconds")?,
            },
        })
    }
}

/// The upload logic's settings (the manifest component's variables).
pub fn upload_config(config: &Config) -> Result<UploadConfig, ApiError> {
    let tus_max_size: u64 = var_num("tus_max_size")?;
    Ok(UploadConfig {
        bucket: config.s3.bucket.clone(),
        max_upload_bytes: tus_max_size.min(config.limits.max_input_bytes),
        max_request_bytes: var_num("max_request_bytes")?,
        min_chunk_bytes: var_num("tus_min_chunk_bytes")?,
        max_pixels: config.limits.max_pixels,
        expiry_ms: millis("upload_expiry_seconds")?,
        lock_ms: millis("tus_lock_seconds")?,
        lease_ms: millis("lease_seconds")?,
        max_attempts: var_num::<u32>("max_attempts")?.max(1),
        retry_ms: millis("retry_seconds")?,
        sweep_page: var_num::<u32>("sweep_page")?.clamp(1, 1000),
        orphan_grace_ms: millis("orphan_grace_seconds")?,
        ..UploadConfig::default()
    })
}

/// The `responsive_widths` variable ([`parse_widths`]).
pub fn responsive_widths(max_width: u32) -> Result<Vec<u32>, ApiError> {
    let raw = var("responsive_widths")?;
    parse_widths(&raw, max_width).map_err(|e| ApiError::misconfigured(format!("Spin variable 'responsive_widths' = {raw:?}: {e}")))
}

/// The `metadata` (strip | copyright) and `colour` (srgb | keep)
/// variables: what of an original's metadata a variant keeps
/// ([`kiln_core::metadata`]).
pub fn metadata_policy() -> Result<Metadata, ApiError> {
    let misconfigured = |name: &str, e: String| ApiError::misconfigured(format!("Spin variable '{name}': {e}"));
    Ok(Metadata {
        exif: ExifPolicy::parse(&var("metadata")?).map_err(|e| misconfigured("metadata", e))?,
        colour: ColourPolicy::parse(&var("colour")?).map_err(|e| misconfigured("colour", e))?,
    })
}

/// Most responsive widths a format can have: each is one more encode in
/// the same call, which must end within hosted Spin's 30 s.
pub const MAX_RESPONSIVE_WIDTHS: usize = 8;

/// Parses the `responsive_widths` variable: displayed widths in px,
/// comma-separated (`"480,1024"`), each 1..=`max_width`; empty for none.
pub fn parse_widths(raw: &str, max_width: u32) -> Result<Vec<u32>, String> {
    let widths = raw
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| match w.parse::<u32>() {
            Ok(n) if (1..=max_width).contains(&n) => Ok(n),
            _ => Err(format!("{w:?} is not a width between 1 and {max_width}")),
        })
        .collect::<Result<Vec<u32>, String>>()?;
    if widths.len() > MAX_RESPONSIVE_WIDTHS {
        return Err(format!("{} widths, at most {MAX_RESPONSIVE_WIDTHS}", widths.len()));
    }
    Ok(widths)
}

#[cfg(test)]
mod widths_tests {
    use super::*;

    #[test]
    fn responsive_widths_parse_and_are_checked() {
        assert_eq!(parse_widths("480, 1024", 2048), Ok(vec![480, 1024]));
        assert_eq!(parse_widths("", 2048), Ok(vec![]));
        assert_eq!(parse_widths(" , ", 2048), Ok(vec![]));
        assert!(parse_widths("480,wide", 2048).unwrap_err().contains("\"wide\""));
        assert!(parse_widths("0", 2048).is_err());
        assert!(parse_widths("4096", 2048).is_err());
        assert!(parse_widths("1,2,3,4,5,6,7,8,9", 2048).unwrap_err().contains("at most 8"));
    }
}

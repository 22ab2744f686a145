//! Configuration from Spin variables (declared in spin.toml, overridden with
//! `SPIN_VARIABLE_<NAME>` or `spin up --variable name=value`). A component
//! can only read the variables spin.toml passes it, so each reader here
//! names exactly what it needs.

use crate::http::ApiError;
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

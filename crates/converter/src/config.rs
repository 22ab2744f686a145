//! Configuration from Spin variables (set in spin.toml, overridden with
//! `SPIN_VARIABLE_<NAME>` or `spin up --variable name=value`).

use crate::api::ApiError;
use kiln_core::Limits;

/// Everything a converter reads from Spin variables.
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
}

/// A variable as a string; a missing variable is a configuration error.
pub fn var(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .map_err(|e| ApiError::new(500, "misconfigured", format!("Spin variable '{name}': {e}")))
}

/// A numeric variable.
pub fn var_num<T: std::str::FromStr>(name: &str) -> Result<T, ApiError> {
    let raw = var(name)?;
    raw.trim()
        .parse()
        .map_err(|_| ApiError::new(500, "misconfigured", format!("Spin variable '{name}' = {raw:?} is not a number")))
}

impl Config {
    pub fn load() -> Result<Config, ApiError> {
        Ok(Config {
            auth_token: var("auth_token")?,
            limits: Limits {
                max_input_bytes: var_num("max_input_bytes")?,
                max_pixels: var_num("max_pixels")?,
                max_memory_bytes: var_num("max_memory_bytes")?,
            },
            s3: S3Config {
                endpoint: var("s3_endpoint")?,
                region: var("s3_region")?,
                bucket: var("s3_bucket")?,
                access_key: var("s3_access_key")?,
                secret_key: var("s3_secret_key")?,
                public_base_url: var("public_base_url")?.trim_end_matches('/').to_string(),
                attempts: var_num::<u32>("storage_attempts")?.max(1),
            },
        })
    }
}

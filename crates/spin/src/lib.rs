//! kiln on Spin: everything Spin-specific, so the upload logic
//! (`kiln-upload`) and the image core (`kiln-core`) stay free of it.
//!
//! - [`http`]: JSON errors, auth, headers, responses; [`body`]: bounded
//!   request bodies; [`config`]: Spin variables.
//! - The upload logic's edges on Spin: [`s3::S3Store`] (S3 over outbound
//!   HTTP), [`kv::KvState`] (key-value), [`chaining::ChainedConverters`]
//!   (service chaining) and [`clock::SpinClock`].

#![allow(async_fn_in_trait)]

pub mod assets;
pub mod body;
pub mod chaining;
pub mod clock;
pub mod config;
pub mod cors;
pub mod http;
pub mod kv;
pub mod last_words;
pub mod s3;

use config::{var, var_num, Config};
use http::ApiError;
use kiln_upload::{Kiln, Platform};
use std::time::Duration;

/// The upload logic's edges on Spin.
pub struct OnSpin;

impl Platform for OnSpin {
    type Objects = s3::S3Store;
    type State = kv::KvState;
    type Converters = chaining::ChainedConverters;
    type Clock = clock::SpinClock;
}

/// The upload service, configured from Spin variables (the manifest
/// component's).
pub fn kiln(config: &Config) -> Result<Kiln<OnSpin>, ApiError> {
    let converters = chaining::ChainedConverters {
        token: config.auth_token.clone(),
        avif_origin: var("avif_converter_origin")?.trim().trim_end_matches('/').to_string(),
        combined: var("conversion_mode")?.trim() == "combined",
        width: var_num::<usize>("fanout_width")?.clamp(1, chaining::CONVERTERS.len()),
        timeout: Duration::from_secs(var_num("converter_timeout_seconds")?),
    };
    let state = kv::KvState::open().map_err(|e| ApiError::new(500, "state_failed", e.0))?;
    Ok(Kiln::new(s3::S3Store::new(&config.s3)?, state, converters, clock::SpinClock, config::upload_config(config)?))
}

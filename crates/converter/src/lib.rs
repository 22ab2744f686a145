//! kiln-converter: everything a converter component does around the core.
//!
//! A request flows: [`api::authorize`] (bearer token) → [`params`] (query:
//! `width`, `quality`) → either *direct mode* (the body is the image, the
//! response is the variant) or *storage mode* (the body is
//! `{"key": "..."}`: [`storage`] GETs the original, the variant is PUT at
//! `variants/<key-stem>/<name>.<ext>` and the response describes it).
//! Configuration comes from Spin variables ([`config`]); errors leave as JSON
//! with the right status ([`api::ApiError`]).
//!
//! [`combined`] is the decode-once alternative: one request converts a
//! stored original into every format.
//!
//! Each component's own `lib.rs` only names its format and builds its
//! encoder (a [`Converter`]).

pub mod api;
pub mod body;
pub mod combined;
pub mod config;
pub mod formats;
pub mod handler;
pub mod params;
pub mod storage;

pub use handler::{serve, Converter};

//! kiln-converter: everything a converter component does around the core.
//!
//! A request flows: bearer-token auth → [`params`] (query: `width`,
//! `quality`) → either *direct mode* (the body is the image, the response
//! is the variant) or *storage mode* (the body is `{"key": "originals/..."}`:
//! the original is fetched from the bucket, the variant is PUT at
//! `variants/<original key without originals/>/<name>.<ext>` and the
//! response is a typed `VariantReply`). A request with `width` or `quality`
//! writes a variant named after them (`jpeg-w8-q1.jpg`), never over the
//! canonical one the manifest describes. Spin plumbing (errors, bodies,
//! variables, S3) is `kiln-spin`; key layout is `kiln_upload::keys`.
//!
//! [`combined`] is the decode-once alternative: one request converts a
//! stored original into every format.
//!
//! Each component's own `lib.rs` only names its format and builds its
//! encoder (a [`Converter`]).

pub mod combined;
pub mod formats;
pub mod handler;
pub mod params;

pub use handler::{serve, Converter};
/// The allocator every converter component installs (see `kiln_spin::last_words`).
pub use kiln_spin::last_words::LastWords;

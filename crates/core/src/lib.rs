//! kiln-core: the pure-Rust image pipeline shared by every kiln function.
//!
//! Bytes flow through the modules in this order:
//! [`sniff`] (what format is this?) → [`probe`] (header only: dimensions,
//! components, progressive?) → [`estimate`] (peak memory *before* decoding,
//! checked against [`limits::Limits`]) → [`decode`] (with JPEG shrink-on-load)
//! → [`resize`] → [`orient`] (EXIF orientation) → [`colour`] (the embedded
//! ICC profile to sRGB) → [`encode`] (one module per
//! output format, behind the [`encode::Encoder`] trait). [`pipeline`] strings
//! them together and times each stage; [`multi`] decodes once for many outputs.
//! [`animation`] streams an animated GIF or WebP, frame by frame, into an
//! animated WebP.
//!
//! Nothing here touches WASI, HTTP, storage or uploads (that is
//! `kiln-upload`): the crate is about images only, tested natively and
//! linked unchanged into the Spin components.

pub mod alloc_counter;
#[cfg(feature = "webp")]
pub mod animation;
pub mod auto_quality;
pub mod colour;
mod container;
pub mod decode;
pub mod encode;
pub mod error;
pub mod estimate;
pub mod image;
pub mod limits;
pub mod metadata;
pub mod multi;
pub mod orient;
pub mod pipeline;
pub mod placeholder;
pub mod probe;
pub mod resize;
pub mod sniff;
pub mod timing;

pub use error::KilnError;
pub use image::{Image, PixelLayout};
pub use limits::Limits;
pub use metadata::{ColourPolicy, Embedded, ExifPolicy, Metadata};
pub use multi::{convert_many, ConvertedMany, Output, Rendition};
pub use pipeline::{convert, convert_with, ConvertOptions, Converted, Extras, StageTimings};
pub use sniff::InputFormat;

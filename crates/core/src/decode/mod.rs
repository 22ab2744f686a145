//! Decoders, one module per input format, each producing an RGB8 or RGBA8
//! [`Image`]. JPEG supports shrink-on-load (DCT scaling by 1/2, 1/4, 1/8);
//! a progressive JPEG shrunk on load keeps only the coefficients it reads
//! ([`progressive`]); the other formats decode at full size, which the memory estimate covers,
//! except a non-interlaced PNG, which is decoded row by row into the
//! streaming resizer ([`rows`], [`crate::resize::stream`]).

mod gif;
mod jpeg;
pub mod progressive;
mod png;
mod webp;

pub use gif::Frames as GifFrames;
pub use png::PngRows;
pub use webp::Frames as WebpFrames;

use crate::error::KilnError;
use crate::image::Image;
use crate::probe::ImageInfo;
use crate::sniff::InputFormat;

/// Decodes `bytes` (already probed as `info`). `jpeg_scale` is the DCT
/// scaling denominator (1, 2, 4 or 8) and is ignored by other formats.
pub fn decode(bytes: &[u8], info: &ImageInfo, jpeg_scale: u32, max_alloc: u64) -> Result<Image, KilnError> {
    match info.format {
        InputFormat::Jpeg => jpeg::decode(bytes, info, jpeg_scale, max_alloc),
        InputFormat::Png => png::decode(bytes, max_alloc),
        InputFormat::Gif => gif::decode(bytes, max_alloc),
        InputFormat::Webp => webp::decode(bytes, max_alloc),
    }
}

/// Whether a progressive JPEG at DCT scale 1/`jpeg_scale` goes to kiln's
/// own decoder ([`progressive`]), which keeps only the coefficients the
/// scaled IDCT reads, rather than to one that keeps them all.
pub fn lean_progressive(info: &ImageInfo, jpeg_scale: u32) -> bool {
    info.jpeg.as_ref().is_some_and(|f| f.progressive && progressive::handles(f.components.len(), jpeg_scale))
}

/// Whether `info`'s image is decoded row by row ([`rows`]) rather than whole.
pub fn streams(info: &ImageInfo) -> bool {
    info.format == InputFormat::Png && !info.interlaced
}

/// The rows of an image that [`streams`], decoding with at most `max_alloc`.
pub fn rows<'a>(bytes: &'a [u8], info: &ImageInfo, max_alloc: u64) -> Result<PngRows<'a>, KilnError> {
    if !streams(info) {
        return Err(KilnError::Unsupported(format!("a {:?} image is not decoded row by row", info.format)));
    }
    PngRows::new(bytes, max_alloc)
}

/// Expands 1- or 2-channel 8-bit pixels to RGB8 / RGBA8.
pub(crate) fn gray_to_rgb(src: &[u8], with_alpha: bool) -> Vec<u8> {
    if with_alpha {
        src.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect()
    } else {
        src.iter().flat_map(|&g| [g, g, g]).collect()
    }
}

/// Converts CMYK (0 = no ink, as jpeg-decoder returns it after undoing
/// Adobe's inversion) to RGB naively: the fallback should no profile, not
/// even the default one, make a transform ([`crate::colour::cmyk_to_srgb`]).
pub(crate) fn cmyk_to_rgb(src: &[u8]) -> Vec<u8> {
    src.chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - p[3] as u32;
            [p[0], p[1], p[2]].map(|c| (((255 - c as u32) * k + 127) / 255) as u8)
        })
        .collect()
}

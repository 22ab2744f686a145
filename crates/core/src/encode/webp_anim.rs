//! Animated lossy WebP with libwebp's animation encoder (`WebPAnimEncoder`,
//! src/mux/anim_encode.c), called through `libwebp-sys` 0.9 — the same
//! libwebp the `webp` crate links, built for wasm32-wasip2 with it.
//!
//! Why not the `webp` crate's `AnimEncoder`: it keeps every frame's pixels
//! and `WebPPicture` until the end (frames × canvas of memory). Here each
//! frame is imported into a `WebPPicture`, handed to `WebPAnimEncoderAdd`
//! and freed at once, so the caller streams frames and memory stays a few
//! canvases. What libwebp keeps meanwhile (counted by
//! [`crate::estimate::animation`]):
//! three ARGB canvases of its own (current, previous, previous disposed),
//! the YUV planes and VP8 state while one frame is encoded, and every
//! encoded frame in its muxer until [`AnimEncoder::finish`] assembles them.
//!
//! Every unsafe call is here, each pointer is checked, and each libwebp
//! allocation is owned by a guard whose `Drop` frees it, so every error
//! path frees what it allocated.

use crate::error::KilnError;
use libwebp_sys as sys;
use std::ffi::CStr;
use std::ptr::NonNull;

/// Streams RGBA frames of one size into an animated lossy WebP.
pub struct AnimEncoder {
    encoder: Encoder,
    config: sys::WebPConfig,
    width: u32,
    height: u32,
    /// Where the next frame starts, in ms from the first one.
    timestamp_ms: i32,
    frames: u32,
}

/// Owns a `WebPAnimEncoder*`: deleted (with its canvases and muxer) on drop.
struct Encoder(NonNull<sys::WebPAnimEncoder>);

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: the pointer came from WebPAnimEncoderNewInternal and is deleted once.
        unsafe { sys::WebPAnimEncoderDelete(self.0.as_ptr()) }
    }
}

/// Owns a `WebPPicture` and the ARGB buffer an import allocates in it.
struct Picture(sys::WebPPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: initialised by WebPPictureInitInternal; freeing an
        // unallocated picture is a no-op, and the buffers are freed once.
        unsafe { sys::WebPPictureFree(&mut self.0) }
    }
}

/// Owns the assembled bytes libwebp allocated (`WebPData`).
struct Data(sys::WebPData);

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: bytes were allocated by libwebp (WebPMalloc) or are null.
        unsafe { sys::WebPFree(self.0.bytes as *mut _) }
    }
}

impl AnimEncoder {
    /// An encoder for a `width` × `height` canvas, lossy at `quality`
    /// (0..=100) with `method` (0..=6), played `loop_count` times (WebP's
    /// meaning: 0 = forever, n = n plays in all; see [`crate::animation`]).
    pub fn new(width: u32, height: u32, loop_count: u16, quality: f32, method: i32) -> Result<AnimEncoder, KilnError> {
        let (w, h) = (dimension(width)?, dimension(height)?);
        let mut options = std::mem::MaybeUninit::<sys::WebPAnimEncoderOptions>::uninit();
        // SAFETY: OptionsInit writes every field when it returns true.
        let mut options = unsafe {
            if sys::WebPAnimEncoderOptionsInitInternal(options.as_mut_ptr(), sys::WEBP_MUX_ABI_VERSION as _) == 0 {
                return Err(encode_error("WebPAnimEncoderOptionsInit: ABI mismatch"));
            }
            options.assume_init()
        };
        options.anim_params.loop_count = loop_count as _;
        // Transparent background: a GIF's disposed areas are transparent in browsers.
        options.anim_params.bgcolor = 0x0000_0000;
        // Defaults kept: no key frames (each frame is the changed rectangle
        // over the previous one, which keeps one encoded frame pending at a
        // time), lossy only (allow_mixed = 0), minimize_size = 0.
        // SAFETY: options is initialised; the result is checked for null.
        let raw = unsafe { sys::WebPAnimEncoderNewInternal(w, h, &options, sys::WEBP_MUX_ABI_VERSION as _) };
        let encoder = Encoder(NonNull::new(raw).ok_or_else(|| encode_error(&format!("WebPAnimEncoderNew {width}x{height} failed (out of memory?)")))?);
        Ok(AnimEncoder { encoder, config: lossy_config(quality, method)?, width, height, timestamp_ms: 0, frames: 0 })
    }

    /// Adds one frame (`width × height × 4` RGBA bytes) shown for `duration_ms`.
    pub fn add(&mut self, rgba: &[u8], duration_ms: u32) -> Result<(), KilnError> {
        let expected = self.width as usize * self.height as usize * 4;
        if rgba.len() != expected {
            return Err(encode_error(&format!("frame of {} bytes for a {}x{} RGBA canvas", rgba.len(), self.width, self.height)));
        }
        let next = i32::try_from(duration_ms).ok().and_then(|d| self.timestamp_ms.checked_add(d));
        let next = next.ok_or_else(|| KilnError::TooLarge(format!("the animation lasts over {} ms", i32::MAX)))?;
        let mut picture = self.picture(rgba)?;
        // SAFETY: encoder and picture are live; config was validated by
        // WebPConfigInit; libwebp only reads the picture during the call.
        let ok = unsafe { sys::WebPAnimEncoderAdd(self.encoder.0.as_ptr(), &mut picture.0, self.timestamp_ms, &self.config) };
        drop(picture); // the frame's ARGB copy is freed before the next one is made
        if ok == 0 {
            return Err(self.error("WebPAnimEncoderAdd"));
        }
        self.timestamp_ms = next;
        self.frames += 1;
        Ok(())
    }

    /// A `WebPPicture` holding an ARGB copy of `rgba`.
    fn picture(&self, rgba: &[u8]) -> Result<Picture, KilnError> {
        let mut raw = std::mem::MaybeUninit::<sys::WebPPicture>::uninit();
        // SAFETY: PictureInit writes every field when it returns true.
        let mut picture = unsafe {
            if sys::WebPPictureInitInternal(raw.as_mut_ptr(), sys::WEBP_ENCODER_ABI_VERSION as _) == 0 {
                return Err(encode_error("WebPPictureInit: ABI mismatch"));
            }
            Picture(raw.assume_init())
        };
        picture.0.use_argb = 1; // the animation encoder works in ARGB
        picture.0.width = self.width as _;
        picture.0.height = self.height as _;
        // SAFETY: rgba holds width × height × 4 bytes (checked by `add`),
        // rows `width × 4` apart; the import copies them.
        let ok = unsafe { sys::WebPPictureImportRGBA(&mut picture.0, rgba.as_ptr(), (self.width * 4) as _) };
        if ok == 0 {
            return Err(encode_error(&format!("WebPPictureImportRGBA {}x{} failed (out of memory?)", self.width, self.height)));
        }
        Ok(picture)
    }

    /// Ends the last frame (its duration is the one given to `add`) and
    /// returns the animated WebP. The encoder, its canvases and its muxer's
    /// frames are freed before the result is copied out, so the peak at the
    /// end is the assembled file twice (libwebp's and ours), not three times.
    pub fn finish(self) -> Result<Vec<u8>, KilnError> {
        if self.frames == 0 {
            return Err(encode_error("an animation needs at least one frame"));
        }
        let enc = self.encoder.0.as_ptr();
        // SAFETY: a null frame marks the end; the timestamp is the last frame's end.
        if unsafe { sys::WebPAnimEncoderAdd(enc, std::ptr::null_mut(), self.timestamp_ms, std::ptr::null()) } == 0 {
            return Err(self.error("WebPAnimEncoderAdd(end)"));
        }
        let mut data = Data(sys::WebPData { bytes: std::ptr::null(), size: 0 });
        // SAFETY: enc is live; Assemble fills data with a libwebp allocation on success.
        if unsafe { sys::WebPAnimEncoderAssemble(enc, &mut data.0) } == 0 {
            return Err(self.error("WebPAnimEncoderAssemble"));
        }
        drop(self.encoder);
        if data.0.bytes.is_null() {
            return Err(encode_error("WebPAnimEncoderAssemble returned no data"));
        }
        // SAFETY: libwebp allocated `size` bytes at `bytes`; Data frees them after the copy.
        Ok(unsafe { std::slice::from_raw_parts(data.0.bytes, data.0.size) }.to_vec())
    }

    /// libwebp's last error message for `call`.
    fn error(&self, call: &str) -> KilnError {
        // SAFETY: GetError returns a pointer to a NUL-terminated string owned
        // by the encoder (or null), read before the encoder is dropped.
        let message = unsafe {
            let ptr = sys::WebPAnimEncoderGetError(self.encoder.0.as_ptr());
            if ptr.is_null() { String::new() } else { CStr::from_ptr(ptr).to_string_lossy().into_owned() }
        };
        encode_error(&format!("{call} failed after {} frames: {message}", self.frames))
    }
}

/// A lossy config at `quality` and `method`, validated.
fn lossy_config(quality: f32, method: i32) -> Result<sys::WebPConfig, KilnError> {
    let mut config = std::mem::MaybeUninit::<sys::WebPConfig>::uninit();
    // SAFETY: ConfigInit writes every field when it returns true.
    let mut config = unsafe {
        let ok = sys::WebPConfigInitInternal(config.as_mut_ptr(), sys::WebPPreset::WEBP_PRESET_DEFAULT, quality, sys::WEBP_ENCODER_ABI_VERSION as _);
        if ok == 0 {
            return Err(encode_error("WebPConfigInit: ABI mismatch"));
        }
        config.assume_init()
    };
    config.lossless = 0;
    config.quality = quality;
    config.method = method;
    // SAFETY: config is initialised.
    if unsafe { sys::WebPValidateConfig(&config) } == 0 {
        return Err(KilnError::BadParameter(format!("WebP quality {quality} / method {method} rejected by libwebp")));
    }
    Ok(config)
}

/// A canvas side libwebp accepts (1..=16383).
fn dimension(side: u32) -> Result<i32, KilnError> {
    if (1..=sys::WEBP_MAX_DIMENSION).contains(&side) {
        Ok(side as i32)
    } else {
        Err(KilnError::TooLarge(format!("an animated WebP side is at most {} px, not {side}", sys::WEBP_MAX_DIMENSION)))
    }
}

fn encode_error(what: &str) -> KilnError {
    KilnError::Encode(format!("libwebp animation: {what}"))
}

//! AVIF with libaom (C, the AV1 reference encoder, via libaom-sys) in its
//! all-intra mode, the mode avifenc and libvips use for still pictures.
//! Pixels become 8-bit YCbCr (BT.601, full range, 4:2:0 or 4:4:4) with the
//! `yuv` crate; the AV1 bitstream goes into an AVIF container with
//! avif-serialize. Alpha, when present, is a second, monochrome AV1 image.
//!
//! In wasm, libaom runs its generic C kernels (scripts/build-libaom-wasm.sh);
//! its fatal-error path (setjmp/longjmp, which wasi-libc lacks) ends in
//! [`kiln_aom_fatal`]. Why libaom rather than rav1e: docs/avif.md.

use super::{check_quality, pixels, Encoder, OutputFormat, AVIF, MIB};
use crate::error::KilnError;
use crate::image::{Image, PixelLayout};
use libaom_sys as aom;
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_uint};

/// Chroma subsampling of the colour image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// Half the chroma resolution both ways: what avifenc and libvips use by
    /// default for photos; 20-25 % faster than 4:4:4 and smaller.
    Yuv420,
    /// Full chroma resolution: for sharp coloured edges (text, line art).
    Yuv444,
}

impl Chroma {
    pub fn parse(s: &str) -> Result<Chroma, KilnError> {
        match s {
            "420" | "4:2:0" => Ok(Chroma::Yuv420),
            "444" | "4:4:4" => Ok(Chroma::Yuv444),
            _ => Err(KilnError::BadParameter(format!("AVIF chroma must be 420 or 444, got {s:?}"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AvifEncoder {
    /// 1..=100, avifenc's scale: quantizer = ((100 - quality) * 63 + 50) / 100.
    pub quality: f32,
    /// libaom's `cpu-used`, 0 (slow, small) ..= 9 (fast).
    pub speed: u8,
    pub chroma: Chroma,
}

/// The fastest `cpu-used` libaom allows in all-intra mode.
pub const MAX_SPEED: u8 = 9;

impl AvifEncoder {
    pub fn new(quality: f32, speed: u8, chroma: Chroma) -> Result<Self, KilnError> {
        if speed > MAX_SPEED {
            return Err(KilnError::BadParameter(format!("AVIF speed must be between 0 and {MAX_SPEED}, got {speed}")));
        }
        Ok(AvifEncoder { quality: check_quality(quality)?, speed, chroma })
    }

    /// libaom's quantizer (0 = lossless-ish .. 63) for `quality`, as libavif
    /// maps its `--qcolor`.
    pub fn quantizer(&self) -> u32 {
        ((100.0 - self.quality.round()) as u32 * 63 + 50) / 100
    }
}

impl Encoder for AvifEncoder {
    fn format(&self) -> OutputFormat {
        AVIF
    }

    fn keeps_alpha(&self) -> bool {
        true
    }

    fn working_bytes(&self, width: u32, height: u32, _channels: u32) -> u64 {
        // The YCbCr planes (1.5 or 3 B/px), libaom's source copy, its
        // reconstruction with borders and per-superblock state; alpha is a
        // second, monochrome encode after the first has been freed.
        // Calibrated under spin up (docs/memory-model.md).
        pixels(width, height) * 12 + 24 * MIB
    }

    fn encode(&self, img: &Image) -> Result<Vec<u8>, KilnError> {
        self.encode_into_container(img, None)
    }

    /// avif-serialize writes EXIF as an `Exif` item (not an ICC profile).
    fn encode_with_exif(&self, img: &Image, exif: &[u8]) -> Option<Result<Vec<u8>, KilnError>> {
        Some(self.encode_into_container(img, Some(exif)))
    }
}

impl AvifEncoder {
    fn encode_into_container(&self, img: &Image, exif: Option<&[u8]>) -> Result<Vec<u8>, KilnError> {
        let (w, h) = (img.width, img.height);
        let channels = img.layout.channels();
        let planes = to_ycbcr(img, self.chroma)?;
        let color = encode_av1(&self.settings(false), &planes)?;
        drop(planes);
        let alpha = match img.layout {
            PixelLayout::Rgba8 if has_translucency(&img.pixels) => {
                let plane = alpha_plane(&img.pixels, channels);
                let gray = vec![128u8; (w as usize).div_ceil(2) * (h as usize).div_ceil(2)];
                let planes = Planes { width: w, height: h, chroma: Chroma::Yuv420, y: plane, u: gray.clone(), v: gray };
                Some(encode_av1(&self.settings(true), &planes)?)
            }
            _ => None,
        };
        let mut container = avif_serialize::Aviffy::new();
        container
            .set_full_color_range(true)
            .set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
            .set_chroma_subsampling(match self.chroma {
                Chroma::Yuv420 => (true, true),
                Chroma::Yuv444 => (false, false),
            })
            .set_seq_profile(match self.chroma {
                Chroma::Yuv420 => 0,
                Chroma::Yuv444 => 1,
            });
        if let Some(exif) = exif {
            container.set_exif(exif.to_vec());
        }
        Ok(container.to_vec(&color, alpha.as_deref(), w, h, 8))
    }
}

impl AvifEncoder {
    fn settings(&self, monochrome: bool) -> Settings {
        Settings { quantizer: self.quantizer(), speed: self.speed, monochrome, reconstruct: false }
    }

    /// Encodes `img`'s colour (alpha is left out) and returns the AV1
    /// payload's size and what a decoder will show from it: libaom's own
    /// reconstruction (its preview frame, loop filters applied), as RGB.
    /// [`crate::auto_quality`] scores candidates with it, since kiln has no
    /// AV1 decoder.
    pub fn encode_reconstructed(&self, img: &Image) -> Result<(usize, Image), KilnError> {
        let planes = to_ycbcr(img, self.chroma)?;
        let settings = Settings { reconstruct: true, ..self.settings(false) };
        let mut shown = None;
        let av1 = encode_av1_with(&settings, &planes, Some(&mut shown))?;
        let shown = shown.ok_or_else(|| KilnError::Encode("libaom gave no reconstruction".into()))?;
        Ok((av1.len(), to_rgb(&shown)?))
    }
}

/// 8-bit YCbCr planes (full range, BT.601, as [`to_ycbcr`] makes them) back to RGB.
fn to_rgb(planes: &Planes) -> Result<Image, KilnError> {
    use yuv::{YuvPlanarImage, YuvRange, YuvStandardMatrix};
    let chroma_width = planes.chroma_width();
    let image = YuvPlanarImage {
        y_plane: &planes.y,
        y_stride: planes.width,
        u_plane: &planes.u,
        u_stride: chroma_width,
        v_plane: &planes.v,
        v_stride: chroma_width,
        width: planes.width,
        height: planes.height,
    };
    let mut rgb = vec![0u8; planes.width as usize * planes.height as usize * 3];
    let (range, matrix) = (YuvRange::Full, YuvStandardMatrix::Bt601);
    match planes.chroma {
        Chroma::Yuv420 => yuv::yuv420_to_rgb(&image, &mut rgb, planes.width * 3, range, matrix),
        Chroma::Yuv444 => yuv::yuv444_to_rgb(&image, &mut rgb, planes.width * 3, range, matrix),
    }
    .map_err(|e| KilnError::Encode(format!("YCbCr to RGB: {e}")))?;
    Ok(Image::new(planes.width, planes.height, PixelLayout::Rgb8, rgb))
}

/// Copies libaom's image (8-bit, or 16-bit when libaom keeps high bit
/// depth buffers) into tight 8-bit planes.
///
/// # Safety
/// `img` must be a live image libaom returned, with `chroma`'s subsampling.
unsafe fn copy_planes(img: &aom::aom_image_t, chroma: Chroma) -> Planes {
    let (width, height) = (img.d_w, img.d_h);
    let mut planes = Planes { width, height, chroma, y: Vec::new(), u: Vec::new(), v: Vec::new() };
    let (cw, ch) = match chroma {
        Chroma::Yuv420 => (width.div_ceil(2), height.div_ceil(2)),
        Chroma::Yuv444 => (width, height),
    };
    let wide = img.fmt & aom::AOM_IMG_FMT_HIGHBITDEPTH != 0;
    let copy = |plane: usize, w: u32, h: u32| -> Vec<u8> {
        let mut out = Vec::with_capacity(w as usize * h as usize);
        for row in 0..h as usize {
            // SAFETY: libaom's planes hold `h` rows of at least `w` samples
            // each, `stride` bytes apart.
            unsafe {
                let start = img.planes[plane].add(row * img.stride[plane] as usize);
                if wide {
                    let samples = std::slice::from_raw_parts(start as *const u16, w as usize);
                    out.extend(samples.iter().map(|&s| s.min(255) as u8));
                } else {
                    out.extend_from_slice(std::slice::from_raw_parts(start, w as usize));
                }
            }
        }
        out
    };
    planes.y = copy(0, width, height);
    planes.u = copy(1, cw, ch);
    planes.v = copy(2, cw, ch);
    planes
}

/// An 8-bit YCbCr picture in three planes, each `stride = plane width`.
struct Planes {
    width: u32,
    height: u32,
    chroma: Chroma,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Planes {
    fn chroma_width(&self) -> u32 {
        match self.chroma {
            Chroma::Yuv420 => self.width.div_ceil(2),
            Chroma::Yuv444 => self.width,
        }
    }
}

fn to_ycbcr(img: &Image, chroma: Chroma) -> Result<Planes, KilnError> {
    use yuv::{YuvChromaSubsampling, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};
    let subsampling = match chroma {
        Chroma::Yuv420 => YuvChromaSubsampling::Yuv420,
        Chroma::Yuv444 => YuvChromaSubsampling::Yuv444,
    };
    let mut planar = YuvPlanarImageMut::<u8>::alloc(img.width, img.height, subsampling);
    let stride = img.width * img.layout.channels() as u32;
    let (range, matrix, mode) = (YuvRange::Full, YuvStandardMatrix::Bt601, YuvConversionMode::Balanced);
    let result = match (img.layout, chroma) {
        (PixelLayout::Rgb8, Chroma::Yuv420) => yuv::rgb_to_yuv420(&mut planar, &img.pixels, stride, range, matrix, mode),
        (PixelLayout::Rgba8, Chroma::Yuv420) => yuv::rgba_to_yuv420(&mut planar, &img.pixels, stride, range, matrix, mode),
        (PixelLayout::Rgb8, Chroma::Yuv444) => yuv::rgb_to_yuv444(&mut planar, &img.pixels, stride, range, matrix, mode),
        (PixelLayout::Rgba8, Chroma::Yuv444) => yuv::rgba_to_yuv444(&mut planar, &img.pixels, stride, range, matrix, mode),
    };
    result.map_err(|e| KilnError::Encode(format!("RGB to YCbCr: {e}")))?;
    // The planes were allocated by `alloc` above: take them, do not copy.
    let into_vec = |b: yuv::BufferStoreMut<'_, u8>| match b {
        yuv::BufferStoreMut::Owned(v) => v,
        yuv::BufferStoreMut::Borrowed(s) => s.to_vec(),
    };
    Ok(Planes {
        width: img.width,
        height: img.height,
        chroma,
        y: into_vec(planar.y_plane),
        u: into_vec(planar.u_plane),
        v: into_vec(planar.v_plane),
    })
}

fn has_translucency(rgba: &[u8]) -> bool {
    rgba.chunks_exact(4).any(|px| px[3] != 255)
}

fn alpha_plane(pixels: &[u8], channels: usize) -> Vec<u8> {
    pixels.chunks_exact(channels).map(|px| px[channels - 1]).collect()
}

struct Settings {
    quantizer: u32,
    speed: u8,
    monochrome: bool,
    /// Keep the loop filters on the reconstruction, to read it back.
    reconstruct: bool,
}

/// One libaom encoder instance, destroyed when dropped.
struct AomEncoder(aom::aom_codec_ctx_t);

impl Drop for AomEncoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised by aom_codec_enc_init_ver.
        unsafe { aom::aom_codec_destroy(&mut self.0) };
    }
}

impl AomEncoder {
    fn new(settings: &Settings, planes: &Planes) -> Result<AomEncoder, KilnError> {
        // SAFETY: plain libaom API calls on structures it initialises itself.
        unsafe {
            let iface = aom::aom_codec_av1_cx();
            let mut cfg = MaybeUninit::<aom::aom_codec_enc_cfg_t>::zeroed();
            check(aom::aom_codec_enc_config_default(iface, cfg.as_mut_ptr(), aom::AOM_USAGE_ALL_INTRA), "default config")?;
            let mut cfg = cfg.assume_init();
            cfg.g_w = planes.width;
            cfg.g_h = planes.height;
            cfg.g_threads = 1;
            cfg.g_profile = if planes.chroma == Chroma::Yuv444 && !settings.monochrome { 1 } else { 0 };
            cfg.g_bit_depth = aom::AOM_BITS_8;
            cfg.g_input_bit_depth = 8;
            cfg.g_limit = 1;
            cfg.g_lag_in_frames = 0;
            cfg.full_still_picture_hdr = 0;
            cfg.monochrome = settings.monochrome as c_uint;
            cfg.rc_end_usage = aom::AOM_Q;
            cfg.rc_min_quantizer = 0;
            cfg.rc_max_quantizer = 63;
            let mut ctx = MaybeUninit::<aom::aom_codec_ctx_t>::zeroed();
            let init = aom::aom_codec_enc_init_ver(ctx.as_mut_ptr(), iface, &cfg, 0, aom::AOM_ENCODER_ABI_VERSION as c_int);
            check(init, "encoder init")?;
            let mut encoder = AomEncoder(ctx.assume_init());
            encoder.control(aom::AOME_SET_CPUUSED, settings.speed as c_int)?;
            encoder.control(aom::AOME_SET_CQ_LEVEL, settings.quantizer as c_int)?;
            encoder.control(aom::AV1E_SET_COLOR_RANGE, aom::AOM_CR_FULL_RANGE as c_int)?;
            encoder.control(aom::AV1E_SET_MATRIX_COEFFICIENTS, aom::AOM_CICP_MC_BT_601 as c_int)?;
            // The reconstruction is never shown nor referenced: skip its
            // loop filters (output bytes unchanged), as libavif does.
            // (Kept when the reconstruction is read back: auto quality.)
            encoder.control(aom::AV1E_SET_SKIP_POSTPROC_FILTERING, !settings.reconstruct as c_int)?;
            Ok(encoder)
        }
    }

    fn control(&mut self, id: aom::aome_enc_control_id, value: c_int) -> Result<(), KilnError> {
        // SAFETY: every control kiln sets takes an int (or unsigned int).
        check(unsafe { aom::aom_codec_control(&mut self.0, id as c_int, value) }, "control")
    }

    fn error(&self, what: &str) -> KilnError {
        // SAFETY: libaom returns a static or context-owned C string, or null.
        let detail = unsafe { aom::aom_codec_error_detail(&self.0) };
        let detail = if detail.is_null() { String::new() } else { unsafe { CStr::from_ptr(detail) }.to_string_lossy().into_owned() };
        KilnError::Encode(format!("libaom {what}: {detail}"))
    }
}

fn check(err: aom::aom_codec_err_t, what: &str) -> Result<(), KilnError> {
    if err == aom::AOM_CODEC_OK {
        return Ok(());
    }
    // SAFETY: returns a static string for every error code.
    let text = unsafe { CStr::from_ptr(aom::aom_codec_err_to_string(err)) };
    Err(KilnError::Encode(format!("libaom {what}: {}", text.to_string_lossy())))
}

/// Encodes one picture as an AV1 key frame (a sequence header plus frame
/// OBUs), the payload of an AVIF image item.
fn encode_av1(settings: &Settings, planes: &Planes) -> Result<Vec<u8>, KilnError> {
    encode_av1_with(settings, planes, None)
}

/// [`encode_av1`], also copying the reconstruction into `shown` when asked.
fn encode_av1_with(settings: &Settings, planes: &Planes, shown: Option<&mut Option<Planes>>) -> Result<Vec<u8>, KilnError> {
    let mut encoder = AomEncoder::new(settings, planes)?;
    let format = match planes.chroma {
        Chroma::Yuv420 => aom::AOM_IMG_FMT_I420,
        Chroma::Yuv444 => aom::AOM_IMG_FMT_I444,
    };
    let mut image = MaybeUninit::<aom::aom_image_t>::zeroed();
    // SAFETY: aom_img_wrap only records the pointers; the planes outlive
    // the encode calls below, and libaom only reads them.
    let image = unsafe {
        let wrapped = aom::aom_img_wrap(image.as_mut_ptr(), format, planes.width, planes.height, 1, planes.y.as_ptr() as *mut u8);
        if wrapped.is_null() {
            return Err(KilnError::Encode("libaom: cannot wrap the picture".into()));
        }
        let mut image = image.assume_init();
        image.planes[0] = planes.y.as_ptr() as *mut u8;
        image.planes[1] = planes.u.as_ptr() as *mut u8;
        image.planes[2] = planes.v.as_ptr() as *mut u8;
        image.stride[0] = planes.width as c_int;
        image.stride[1] = planes.chroma_width() as c_int;
        image.stride[2] = planes.chroma_width() as c_int;
        image.range = aom::AOM_CR_FULL_RANGE;
        image.mc = aom::AOM_CICP_MC_BT_601;
        image.monochrome = settings.monochrome as c_int;
        image
    };
    let mut out = Vec::new();
    // SAFETY: `image` points at live planes; packets are copied out before
    // the next libaom call.
    unsafe {
        let flags = aom::AOM_EFLAG_FORCE_KF as aom::aom_enc_frame_flags_t;
        if aom::aom_codec_encode(&mut encoder.0, &image, 0, 1, flags) != aom::AOM_CODEC_OK {
            return Err(encoder.error("encode"));
        }
        collect_packets(&mut encoder, &mut out);
        if let Some(shown) = shown {
            let preview = aom::aom_codec_get_preview_frame(&mut encoder.0);
            if !preview.is_null() {
                *shown = Some(copy_planes(&*preview, planes.chroma));
            }
        }
        if aom::aom_codec_encode(&mut encoder.0, std::ptr::null(), 0, 0, 0) != aom::AOM_CODEC_OK {
            return Err(encoder.error("flush"));
        }
        collect_packets(&mut encoder, &mut out);
    }
    if out.is_empty() {
        return Err(KilnError::Encode("libaom returned no frame".into()));
    }
    Ok(out)
}

/// Appends every compressed-frame packet libaom has ready to `out`.
unsafe fn collect_packets(encoder: &mut AomEncoder, out: &mut Vec<u8>) {
    let mut iter = std::ptr::null();
    loop {
        // SAFETY: the iterator protocol of aom_codec_get_cx_data; the packet
        // stays valid until the next libaom call.
        let packet = unsafe { aom::aom_codec_get_cx_data(&mut encoder.0, &mut iter) };
        if packet.is_null() {
            return;
        }
        let packet = unsafe { &*packet };
        if packet.kind == aom::AOM_CODEC_CX_FRAME_PKT {
            let frame = unsafe { packet.data.frame };
            out.extend_from_slice(unsafe { std::slice::from_raw_parts(frame.buf as *const u8, frame.sz) });
        }
    }
}

/// Where libaom's longjmp lands in wasm (scripts/wasi/include/setjmp.h):
/// its fatal-error path. Panicking runs kiln's panic hook, which answers
/// the request with a JSON 500; then the instance aborts.
#[cfg(target_family = "wasm")]
#[unsafe(no_mangle)]
pub extern "C" fn kiln_aom_fatal(code: c_int) -> ! {
    panic!("libaom stopped on an internal error (aom_codec_err_t {code}): out of memory or an impossible setting")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_maps_to_libavifs_quantizer() {
        let q = |quality| AvifEncoder::new(quality, 9, Chroma::Yuv420).unwrap().quantizer();
        assert_eq!(q(60.0), 25);
        assert_eq!(q(100.0), 0);
        assert_eq!(q(1.0), 62);
        assert!(q(80.0) < q(60.0));
    }

    #[test]
    fn settings_are_checked() {
        assert!(AvifEncoder::new(60.0, 10, Chroma::Yuv420).is_err());
        assert!(AvifEncoder::new(0.0, 9, Chroma::Yuv420).is_err());
        assert_eq!(Chroma::parse("444").unwrap(), Chroma::Yuv444);
        assert_eq!(Chroma::parse("4:2:0").unwrap(), Chroma::Yuv420);
        assert!(Chroma::parse("422").is_err());
    }

    /// A gradient with a translucent left half when `alpha`.
    fn picture(width: u32, height: u32, alpha: bool) -> Image {
        let layout = if alpha { PixelLayout::Rgba8 } else { PixelLayout::Rgb8 };
        let mut pixels = Vec::new();
        for y in 0..height {
            for x in 0..width {
                pixels.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
                if alpha {
                    pixels.push(if x < width / 2 { 64 } else { 255 });
                }
            }
        }
        Image::new(width, height, layout, pixels)
    }

    const ALPHA_URN: &[u8] = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha";

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn alpha_becomes_an_auxiliary_image_only_when_some_pixel_is_translucent() {
        let encoder = AvifEncoder::new(60.0, 9, Chroma::Yuv420).unwrap();
        let translucent = encoder.encode(&picture(67, 33, true)).unwrap();
        assert_eq!(&translucent[4..12], b"ftypavif");
        assert!(contains(&translucent, ALPHA_URN));
        let mut opaque = picture(67, 33, true);
        opaque.pixels.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        let opaque = encoder.encode(&opaque).unwrap();
        assert!(!contains(&opaque, ALPHA_URN));
        let rgb = encoder.encode(&picture(1, 1, false)).unwrap();
        assert_eq!(&rgb[4..12], b"ftypavif");
    }

    #[test]
    fn the_chroma_setting_changes_the_bitstream() {
        let img = picture(128, 96, false);
        let small = AvifEncoder::new(80.0, 9, Chroma::Yuv420).unwrap().encode(&img).unwrap();
        let full = AvifEncoder::new(80.0, 9, Chroma::Yuv444).unwrap().encode(&img).unwrap();
        assert_ne!(small, full);
    }
}

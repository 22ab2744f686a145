//! Peak-memory estimate computed from the header alone, before decoding.
//!
//! The limit uses a **calibrated linear model** per output format
//! (docs/memory-model.md): `peak ≈ max(input + a_class·source + b_class,
//! c·target + b_e)`, where `source` is the bytes of the pixel buffers the
//! decoder must hold (decoded pixels after shrink-on-load × bytes per
//! pixel, plus a progressive JPEG's coefficients) and `target`
//! the resized image's bytes. The coefficients in [`calibration`] are fitted by
//! `kiln-calibrate` on peaks measured on the corpus and synthetic sizes,
//! with the intercept raised so no calibration point is above the line.
//! The hand-written [`phases`] model explains a refusal phase by phase and
//! takes over where a plan lies outside the calibrated range.

pub mod animation;
pub mod calibration;
pub mod phases;

use crate::probe::ImageInfo;
use crate::resize::stream::RowResizer;
use crate::sniff::InputFormat;
pub use phases::BASE_BYTES;

/// The estimate for one plan: the phase model's breakdown and, when the
/// output format is calibrated, the calibrated peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MemoryEstimate {
    pub decode: u64,
    pub resize: u64,
    pub encode: u64,
    /// The calibrated model's peak (with the phase model's as a floor outside
    /// the calibrated range); `None` for an uncalibrated output format.
    pub calibrated: Option<u64>,
}

impl MemoryEstimate {
    /// The peak the limits are checked against.
    pub fn peak(&self) -> u64 {
        self.calibrated.unwrap_or_else(|| self.phase_peak())
    }

    /// The hand-written phase model's peak.
    pub fn phase_peak(&self) -> u64 {
        BASE_BYTES + self.decode.max(self.resize).max(self.encode)
    }
}

/// What a decoder may allocate for `plan`: the decode phase's decoder state
/// and decoded pixels as the phase model plans them from the header, plus
/// the fixed allowance. A decoder is given this limit, never the whole
/// budget, so a file whose data disagrees with its header (a GIF frame
/// larger than its screen, a PNG ancillary chunk that inflates to hundreds
/// of MB) is refused instead of growing past what was checked.
pub fn decoder_budget(info: &ImageInfo, plan: &Plan) -> u64 {
    let phases = phases::phases(info, plan);
    phases.decode.saturating_sub(plan.input_bytes) + BASE_BYTES
}

/// Everything the estimate needs to know about the planned conversion.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub input_bytes: u64,
    /// JPEG DCT scaling denominator (1 = full size).
    pub jpeg_scale: u32,
    /// Size after shrink-on-load (the decoder's output).
    pub decoded: (u32, u32),
    /// Final size before orientation.
    pub target: (u32, u32),
    /// Channels the encoder sees (3 or 4).
    pub channels: u32,
    /// The encoder's own working memory for `target` (phase model).
    pub encoder_bytes: u64,
    /// The output format's name (`OutputFormat::name`): picks the model.
    pub output: &'static str,
    /// Colour management's memory on top ([`crate::colour::working_bytes`];
    /// 0 for an input without an ICC profile), held in every phase. For a
    /// CMYK JPEG the estimate counts more ([`crate::colour::estimate_bytes`]).
    pub colour_bytes: u64,
}

/// Inputs whose decoders hold memory differently get their own slope.
/// Alpha is its own class: RGBA images take a premultiplied copy to resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputClass {
    JpegBaseline,
    JpegProgressive,
    /// An interlaced PNG, decoded whole.
    Png,
    PngAlpha,
    Gif,
    Webp,
    WebpAlpha,
    /// A non-interlaced PNG, decoded row by row into the streaming resizer.
    PngRows,
    PngAlphaRows,
    /// A progressive JPEG shrunk on load by kiln's own decoder, which keeps
    /// only the coefficients it reads ([`crate::decode::progressive`]);
    /// `JpegProgressive` is one decoded by a decoder that keeps them all.
    JpegProgressiveScaled,
}

/// How many input classes there are.
pub const CLASSES: usize = 10;

impl InputClass {
    pub const ALL: [InputClass; CLASSES] = [
        InputClass::JpegBaseline,
        InputClass::JpegProgressive,
        InputClass::Png,
        InputClass::PngAlpha,
        InputClass::Gif,
        InputClass::Webp,
        InputClass::WebpAlpha,
        InputClass::PngRows,
        InputClass::PngAlphaRows,
        InputClass::JpegProgressiveScaled,
    ];

    /// The class of `info` decoded at JPEG DCT scale 1/`jpeg_scale`.
    pub fn of(info: &ImageInfo, jpeg_scale: u32) -> InputClass {
        match info.format {
            InputFormat::Jpeg if crate::decode::lean_progressive(info, jpeg_scale) => InputClass::JpegProgressiveScaled,
            InputFormat::Jpeg if info.jpeg.as_ref().is_some_and(|f| f.progressive) => InputClass::JpegProgressive,
            InputFormat::Jpeg => InputClass::JpegBaseline,
            InputFormat::Png if !info.interlaced && info.has_alpha => InputClass::PngAlphaRows,
            InputFormat::Png if !info.interlaced => InputClass::PngRows,
            InputFormat::Png if info.has_alpha => InputClass::PngAlpha,
            InputFormat::Png => InputClass::Png,
            InputFormat::Gif => InputClass::Gif,
            InputFormat::Webp if info.has_alpha => InputClass::WebpAlpha,
            InputFormat::Webp => InputClass::Webp,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        ["jpeg-baseline", "jpeg-progressive", "png", "png-alpha", "gif", "webp", "webp-alpha", "png-rows", "png-alpha-rows", "jpeg-progressive-scaled"]
            [self.index()]
    }
}

/// The model's variables for one plan, all known before decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    pub class: InputClass,
    /// The encoded input, alive until decoding ends.
    pub input_bytes: u64,
    /// Decoded pixels (after shrink-on-load) × 3 or 4 bytes, plus a
    /// progressive JPEG's full-size DCT coefficients (2 bytes per sample),
    /// or, shrunk on load by kiln's own decoder, the coefficients it keeps
    /// and its scaled planes ([`crate::decode::progressive::working_bytes`]).
    /// For a streamed PNG, which never holds its pixels, the streaming
    /// resizer's window ([`RowResizer::working_bytes`]) and the resized
    /// image it fills while the input is still alive.
    pub source_bytes: u64,
    /// Target pixels × the channels the encoder sees.
    pub target_bytes: u64,
}

pub fn features(info: &ImageInfo, plan: &Plan) -> Features {
    let px = |(w, h): (u32, u32)| w as u64 * h as u64;
    let class = InputClass::of(info, plan.jpeg_scale);
    let decoded = if crate::decode::streams(info) {
        RowResizer::working_bytes(plan.decoded, plan.target, plan.channels) + px(plan.target) * plan.channels as u64
    } else {
        px(plan.decoded) * if info.has_alpha { 4 } else { 3 }
    };
    let coefficients = match class {
        InputClass::JpegProgressiveScaled => crate::decode::progressive::working_bytes(&phases::jpeg_blocks(info), plan.jpeg_scale),
        InputClass::JpegProgressive => phases::jpeg_samples(info).2 * 2,
        _ => 0,
    };
    Features {
        class,
        input_bytes: plan.input_bytes,
        source_bytes: decoded + coefficients,
        target_bytes: px(plan.target) * plan.channels as u64,
    }
}

/// One output format's fitted coefficients (see [`calibration`]): the peak
/// is the larger of a decode line per input class (input, decoder buffers)
/// and an encode line (the resized image and the encoder's state), as the
/// conversion frees its input before it encodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    pub output: &'static str,
    /// Bytes per input byte (not fitted: see docs/memory-model.md).
    pub per_input_byte: f64,
    /// Bytes per source byte and the decode line's intercept, by
    /// [`InputClass::index`].
    pub per_source_byte: [f64; CLASSES],
    pub decode_intercept: [f64; CLASSES],
    pub per_target_byte: f64,
    pub encode_intercept: f64,
    /// Largest source bytes calibrated per class (0 = class not calibrated)
    /// and largest target bytes: beyond them the phase model is a floor.
    pub max_source_bytes: [u64; CLASSES],
    pub max_target_bytes: u64,
}

impl Model {
    /// The decode line's bytes for `f`.
    pub fn decode_line(&self, f: &Features) -> f64 {
        self.per_input_byte * f.input_bytes as f64
            + self.per_source_byte[f.class.index()] * f.source_bytes as f64
            + self.decode_intercept[f.class.index()]
    }

    /// The encode line's bytes for `f`.
    pub fn encode_line(&self, f: &Features) -> f64 {
        self.per_target_byte * f.target_bytes as f64 + self.encode_intercept
    }

    /// The model's peak for `f`, in bytes (rounded up).
    pub fn predict(&self, f: &Features) -> u64 {
        self.decode_line(f).max(self.encode_line(f)).max(0.0).ceil() as u64
    }

    /// Whether `f` lies inside the range the model was calibrated on.
    pub fn covers(&self, f: &Features) -> bool {
        f.source_bytes <= self.max_source_bytes[f.class.index()] && f.target_bytes <= self.max_target_bytes
    }

    /// The limit's value: [`Model::predict`] inside the calibrated range,
    /// else the larger of it and the phase model's `phase_peak`.
    pub fn peak(&self, f: &Features, phase_peak: u64) -> u64 {
        let predicted = self.predict(f);
        if self.covers(f) { predicted } else { predicted.max(phase_peak) }
    }
}

/// The calibrated model for an output format, if there is one.
pub fn model_for(output: &str) -> Option<&'static Model> {
    calibration::MODELS.iter().find(|m| m.output == output)
}

/// The estimate for `plan`: the calibrated model where the plan lies in its
/// range, else the larger of it and the phase model.
pub fn estimate(info: &ImageInfo, plan: &Plan) -> MemoryEstimate {
    // A CMYK JPEG is converted with a profile even without one of its own.
    let colour = crate::colour::estimate_bytes(info, plan.colour_bytes);
    let mut estimate = phases::phases(info, plan);
    if let Some(model) = model_for(plan.output) {
        let floor = match phases::uncalibrated_decode(info, plan) {
            0 => 0,
            bytes => BASE_BYTES + bytes,
        };
        let (decode_lines, resize_lines) = phases::side_bytes(info, plan);
        let calibrated = model.peak(&features(info, plan), estimate.phase_peak()) + decode_lines.max(resize_lines);
        estimate.calibrated = Some(calibrated.max(floor) + colour);
    }
    estimate.decode += colour;
    estimate.resize += colour;
    estimate.encode += colour;
    estimate
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn model() -> Model {
        Model {
            output: "test",
            per_input_byte: 1.0,
            per_source_byte: [2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            decode_intercept: [4.0 * MIB as f64, 4.0 * MIB as f64, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            per_target_byte: 5.0,
            encode_intercept: 6.0 * MIB as f64,
            max_source_bytes: [100 * MIB, 100 * MIB, 0, 0, 0, 0, 0, 0, 0, 0],
            max_target_bytes: 20 * MIB,
        }
    }

    fn f(class: InputClass, source_mib: u64) -> Features {
        Features { class, input_bytes: MIB, source_bytes: source_mib * MIB, target_bytes: 2 * MIB }
    }

    #[test]
    fn predicts_the_larger_line_inside_the_calibrated_range() {
        let m = model();
        // decode 1 + 2·10 + 4 = 25 MiB, encode 5·2 + 6 = 16 MiB; the phase model is ignored.
        assert_eq!(m.peak(&f(InputClass::JpegBaseline, 10), 500 * MIB), 25 * MIB);
        assert_eq!(m.peak(&f(InputClass::JpegProgressive, 10), 0), 35 * MIB);
        // decode 1 + 2·2 + 4 = 9 MiB: the encode line's 16 MiB wins.
        assert_eq!(m.peak(&f(InputClass::JpegBaseline, 2), 0), 16 * MIB);
    }

    #[test]
    fn phase_model_is_a_floor_outside_the_calibrated_range() {
        let m = model();
        // Beyond the largest calibrated source, and an uncalibrated class.
        assert_eq!(m.peak(&f(InputClass::JpegBaseline, 200), 900 * MIB), 900 * MIB);
        assert_eq!(m.peak(&f(InputClass::JpegBaseline, 200), 0), 405 * MIB);
        assert_eq!(m.peak(&f(InputClass::Gif, 1), 70 * MIB), 70 * MIB);
    }
}

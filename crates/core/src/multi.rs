//! Decode once, encode many: the pipeline behind kiln's combined converter.
//!
//! [`convert`](crate::convert) makes one variant from the original; running
//! it once per format (one Spin component per format) fetches, probes and
//! decodes the same original four times. [`convert_many`] decodes it once
//! (shrink-on-load for the largest output), resizes once to the largest
//! output, and derives every output from that base image — smaller outputs
//! such as the thumbnail are resampled from the base, not the original.
//! Encoders run one after the other, so the peak is one decode or one encode
//! plus the retained base image, not their sum.
//!
//! An output may also ask for responsive widths ([`Output::widths`]): the
//! same format at narrower displayed widths, each derived from the same
//! base and returned as a [`Rendition`] of that output.
//!
//! An animated GIF's or WebP's WebP output stays animated: it is made from the input
//! ([`crate::animation`], which streams its frames) after the still
//! outputs, once the base is freed; the input is kept for it.

use crate::encode::Encoder;
use crate::error::KilnError;
use crate::image::Image;
use crate::limits::Limits;
use crate::metadata::{self, Embed, Metadata};
use crate::colour;
use crate::orient;
use crate::placeholder::placeholder;
use crate::estimate::MemoryEstimate;
use crate::pipeline::{decode_to_target, plan, ConvertOptions, Converted, StageTimings};
use crate::probe::ImageInfo;
use crate::resize::{fit_within, resize, resized};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// One requested output: its encoder and long-side cap.
pub struct Output<'a> {
    pub max_long_side: u32,
    pub encoder: &'a dyn Encoder,
    /// Compute this output's [`crate::placeholder::Placeholder`] (the thumbnail's).
    pub placeholder: bool,
    /// Responsive widths (displayed px): the output is also made at each
    /// width narrower than itself (never upscaled, never a copy of itself).
    pub widths: &'a [u32],
    /// What of the input's metadata this output keeps ([`crate::metadata`]).
    pub metadata: Metadata,
}

/// An output made again at a narrower responsive width.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub bytes: Vec<u8>,
    /// Displayed width and height.
    pub width: u32,
    pub height: u32,
    /// Its own resize (from the shared base) and encode.
    pub resize: Duration,
    pub encode: Duration,
}

/// Every output's result (in request order) and the shared stages' times.
pub struct ConvertedMany {
    pub outputs: Vec<Result<Converted, KilnError>>,
    /// probe, decode and the base resize, paid once for all outputs.
    pub shared: StageTimings,
}

/// Converts `input` into every output, decoding it once. Errors before or
/// during decoding fail the whole call; an encoder's failure fails only its
/// own output.
pub fn convert_many(input: Vec<u8>, outputs: &[Output], limits: Limits) -> Result<ConvertedMany, KilnError> {
    let largest = outputs.iter().map(|o| o.max_long_side).max().ok_or_else(|| KilnError::BadParameter("no outputs requested".into()))?;
    let heaviest = heaviest_encoder(outputs, largest);
    let mut shared = StageTimings::default();

    let started = Instant::now();
    let options = ConvertOptions { max_long_side: largest, limits, metadata: Default::default() };
    let (info, plan, memory) = plan(&input, &options, heaviest)?;
    let base_bytes = plan.target.0 as u64 * plan.target.1 as u64 * plan.channels as u64;
    // An animated GIF's or WebP's WebP output is made from the input after the still
    // outputs (crate::animation), so the input is kept for it.
    let animated: Vec<bool> = outputs.iter().map(|o| is_animated_webp(&info, o)).collect();
    let kept_bytes = if animated.contains(&true) { input.len() as u64 } else { 0 };
    // The base image stays alive while each output is derived and encoded.
    if memory.peak() + base_bytes + kept_bytes > limits.max_memory_bytes {
        return Err(KilnError::TooLarge(format!(
            "{}x{} needs an estimated {} MiB to convert into {} outputs at once, the limit is {} MiB",
            info.width,
            info.height,
            (memory.peak() + base_bytes + kept_bytes).div_ceil(1 << 20),
            outputs.len(),
            limits.max_memory_bytes >> 20
        )));
    }
    let orientation = orient::read_orientation(&input);
    let icc = colour::read_icc(&input, limits.max_icc_bytes)?;
    let keep: Vec<Embed> = outputs.iter().map(|o| Embed::from_source(&input, icc.as_deref(), o.metadata).for_format(o.encoder.format())).collect();
    let kept_input = animated.contains(&true).then(|| input.clone());
    shared.probe = started.elapsed();

    let keep_alpha = outputs.iter().any(|o| o.encoder.keeps_alpha());
    let (mut base, decode, resize_time) = decode_to_target(input, &info, &plan, keep_alpha)?;
    (shared.decode, shared.resize) = (decode, resize_time);
    // Once, on the base, so every output is derived from sRGB pixels;
    // unless an output keeps the profile (crate::metadata): then the base
    // stays as it is and each output that does not is converted on its own.
    let started = Instant::now();
    let base_srgb = keep.iter().all(|k| k.icc.is_none());
    let base_managed = base_srgb && colour::to_srgb(&mut base, icc.as_deref())?;
    shared.resize += started.elapsed();

    let profile = (!base_srgb).then_some(icc.as_deref()).flatten();
    let still = Still { info: &info, base: &base, orientation, base_managed, profile, jpeg_scale: plan.jpeg_scale, estimate: memory, shared };
    let mut results: Vec<Option<Result<Converted, KilnError>>> =
        outputs.iter().zip(&animated).zip(&keep).map(|((output, &animated), keep)| (!animated).then(|| still.convert(output, keep))).collect();
    drop(base);
    if let Some(input) = kept_input {
        for ((output, slot), _) in outputs.iter().zip(&mut results).zip(&animated).filter(|(_, animated)| **animated) {
            *slot = Some(convert_animated_output(input.clone(), output, limits));
        }
    }
    let results = results.into_iter().map(|r| r.expect("every output converted")).collect();
    Ok(ConvertedMany { outputs: results, shared })
}

/// What every still output is derived from: the shared base and what is
/// known about the source.
struct Still<'a> {
    info: &'a ImageInfo,
    base: &'a Image,
    orientation: u16,
    /// Whether the base was converted to sRGB with the source's profile.
    base_managed: bool,
    /// The source's profile when the base was left unconverted (an output
    /// keeps it): every other output is converted with it.
    profile: Option<&'a [u8]>,
    jpeg_scale: u32,
    estimate: MemoryEstimate,
    shared: StageTimings,
}

impl Still<'_> {
    /// One output from the base: derived, its placeholder, encoded, then
    /// its responsive widths.
    fn convert(&self, output: &Output, keep: &Embed) -> Result<Converted, KilnError> {
        let target = fit_within(self.info.width, self.info.height, output.max_long_side);
        let mut timings = self.shared;
        let started = Instant::now();
        let mut image = derive(self.base, target, output.encoder, self.orientation)?;
        let to_srgb = self.profile.filter(|_| keep.icc.is_none());
        let colour_managed = match to_srgb {
            Some(icc) => colour::to_srgb(image.to_mut(), Some(icc))?,
            None => self.base_managed,
        };
        timings.resize += started.elapsed();
        let placeholder = output.placeholder.then(|| placeholder(&image)).transpose()?;
        let started = Instant::now();
        let (bytes, embedded) = metadata::encode(output.encoder, &image, keep)?;
        timings.encode = started.elapsed();
        let narrower = narrower_sizes(target, self.orientation, output.widths);
        let renditions =
            narrower.into_iter().map(|size| rendition(self.base, size, output.encoder, self.orientation, to_srgb, keep)).collect::<Result<_, _>>()?;
        Ok(Converted {
            bytes,
            format: output.encoder.format(),
            width: image.width,
            height: image.height,
            source: self.info.clone(),
            orientation: self.orientation,
            colour_managed,
            embedded,
            placeholder,
            renditions,
            auto_quality: output.encoder.auto_choice(),
            jpeg_scale: self.jpeg_scale,
            estimate: self.estimate,
            timings,
        })
    }
}

/// Whether `output` of `info` is an animated WebP ([`crate::animation`]).
fn is_animated_webp(info: &ImageInfo, output: &Output) -> bool {
    #[cfg(feature = "webp")]
    {
        output.encoder.as_webp().is_some() && crate::animation::is_animated(info)
    }
    #[cfg(not(feature = "webp"))]
    {
        let _ = (info, output);
        false
    }
}

/// An animated WebP output, made from the input as the WebP component does.
fn convert_animated_output(input: Vec<u8>, output: &Output, limits: Limits) -> Result<Converted, KilnError> {
    let options = ConvertOptions { max_long_side: output.max_long_side, limits, metadata: output.metadata };
    #[cfg(feature = "webp")]
    if let Some(webp) = output.encoder.as_webp() {
        return crate::animation::convert_animated(input, &options, webp);
    }
    let _ = (input, options);
    Err(KilnError::Unsupported("animated output needs the WebP encoder".into()))
}

/// The stored-orientation sizes of the responsive `widths` narrower than
/// an output of `target` (stored orientation), narrowest first, each once.
pub fn narrower_sizes(target: (u32, u32), orientation: u16, widths: &[u32]) -> Vec<(u32, u32)> {
    let swap = orient::swaps_dimensions(orientation);
    let (shown_w, shown_h) = if swap { (target.1, target.0) } else { target };
    let mut widths: Vec<u32> = widths.iter().copied().filter(|&w| w > 0 && w < shown_w).collect();
    widths.sort_unstable();
    widths.dedup();
    widths
        .into_iter()
        .map(|w| {
            let h = ((shown_h as f64 * w as f64 / shown_w as f64).round() as u32).max(1);
            if swap { (h, w) } else { (w, h) }
        })
        .collect()
}

/// One responsive width of an output: derived from `base` (an output's own
/// pixels in [`crate::convert_with`], with orientation 1), converted to
/// sRGB with `to_srgb` when given, encoded, and given the output's metadata.
pub(crate) fn rendition(
    base: &Image,
    size: (u32, u32),
    encoder: &dyn Encoder,
    orientation: u16,
    to_srgb: Option<&[u8]>,
    keep: &Embed,
) -> Result<Rendition, KilnError> {
    let started = Instant::now();
    let mut image = derive(base, size, encoder, orientation)?;
    if to_srgb.is_some() {
        colour::to_srgb(image.to_mut(), to_srgb)?;
    }
    let resize = started.elapsed();
    let started = Instant::now();
    let (bytes, _) = metadata::encode(encoder, &image, keep)?;
    Ok(Rendition { bytes, width: image.width, height: image.height, resize, encode: started.elapsed() })
}

/// The encoder needing the most working memory at the largest size: the
/// plan's memory check is made for it.
fn heaviest_encoder<'a>(outputs: &[Output<'a>], side: u32) -> &'a dyn Encoder {
    outputs
        .iter()
        .max_by_key(|o| o.encoder.working_bytes(side, side, 4))
        .map(|o| o.encoder)
        .expect("outputs is not empty")
}

/// One output's pixels from the shared base: channels the encoder can keep,
/// resampled to `target` (stored orientation), then oriented for display.
/// Borrows the base when it already is all that, so outputs at the base's
/// size and layout cost no copy.
fn derive<'a>(base: &'a Image, target: (u32, u32), encoder: &dyn Encoder, orientation: u16) -> Result<Cow<'a, Image>, KilnError> {
    let (w, h) = (target.0.min(base.width), target.1.min(base.height));
    let image = if base.has_alpha() && !encoder.keeps_alpha() {
        Cow::Owned(resize(base.flattened(), w, h)?)
    } else if (w, h) == (base.width, base.height) {
        Cow::Borrowed(base)
    } else {
        Cow::Owned(resized(base, w, h)?)
    };
    Ok(if (2..=8).contains(&orientation) { Cow::Owned(orient::oriented(&image, orientation)) } else { image })
}

#[cfg(test)]
mod tests {
    use super::narrower_sizes;

    #[test]
    fn narrower_sizes_are_displayed_widths_narrowest_first_never_wider() {
        assert_eq!(narrower_sizes((2048, 1536), 1, &[1024, 480, 480, 2048, 0, 9000]), vec![(480, 360), (1024, 768)]);
        // Orientation 6 shows a stored 1000x1600 as 1600x1000.
        assert_eq!(narrower_sizes((1000, 1600), 6, &[480]), vec![(300, 480)]);
        assert_eq!(narrower_sizes((300, 200), 1, &[480, 1024]), Vec::<(u32, u32)>::new());
        // A sliver keeps at least one pixel.
        assert_eq!(narrower_sizes((4000, 1), 1, &[10]), vec![(10, 1)]);
    }
}

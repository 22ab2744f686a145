//! One conversion, end to end: limits → probe → plan + memory estimate →
//! decode (shrink-on-load, or row by row into the streaming resizer) →
//! resize → orient → colour (ICC profile to sRGB) → encode, with stage
//! timings (orientation and colour count as resize time).

use crate::colour;
use crate::decode::{self, decode};
use crate::estimate::decoder_budget;
use crate::encode::{Encoder, OutputFormat};
use crate::error::KilnError;
use crate::estimate::{estimate, MemoryEstimate, Plan};
use crate::image::{flatten_onto_white, Image, PixelLayout};
use crate::limits::Limits;
use crate::metadata::{self, Embed, Embedded, Metadata};
use crate::orient;
use crate::placeholder::{placeholder, Placeholder};
use crate::probe::{probe, ImageInfo};
use crate::resize::stream::RowResizer;
use crate::multi::{narrower_sizes, rendition, Rendition};
use crate::resize::{fit_within, jpeg_shrink_factor, resize};
use std::time::{Duration, Instant};

/// What to produce.
#[derive(Debug, Clone, Copy)]
pub struct ConvertOptions {
    /// Cap on the long side of the output, in displayed orientation.
    pub max_long_side: u32,
    pub limits: Limits,
    /// What of the input's metadata the output keeps ([`crate::metadata`]).
    pub metadata: Metadata,
}

/// Wall-clock time of each stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    pub probe: Duration,
    pub decode: Duration,
    pub resize: Duration,
    pub encode: Duration,
}

/// A finished conversion.
#[derive(Debug, Clone)]
pub struct Converted {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    pub source: ImageInfo,
    pub orientation: u16,
    /// Whether an embedded ICC profile was applied (the output is sRGB either way).
    pub colour_managed: bool,
    /// What of the input's metadata the output carries ([`crate::metadata`]).
    pub embedded: Embedded,
    /// The output's placeholders, when asked for.
    pub placeholder: Option<Placeholder>,
    /// The same output at narrower responsive widths ([`Extras::widths`],
    /// [`crate::Output::widths`]), narrowest first.
    pub renditions: Vec<Rendition>,
    /// What `quality=auto` picked ([`crate::auto_quality`]), at a fixed
    /// quality `None`.
    pub auto_quality: Option<crate::auto_quality::Choice>,
    pub jpeg_scale: u32,
    pub estimate: MemoryEstimate,
    pub timings: StageTimings,
}

/// Plans a conversion from the header alone and checks every limit. This is
/// the part that must run before any large allocation.
pub fn plan(bytes: &[u8], options: &ConvertOptions, encoder: &dyn Encoder) -> Result<(ImageInfo, Plan, MemoryEstimate), KilnError> {
    let limits = &options.limits;
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(KilnError::TooLarge(format!(
            "input is {} bytes, the limit is {} bytes",
            bytes.len(),
            limits.max_input_bytes
        )));
    }
    let info = probe(bytes)?;
    if info.pixels() > limits.max_pixels {
        return Err(KilnError::TooLarge(format!(
            "{}x{} = {} pixels, the limit is {} pixels",
            info.width,
            info.height,
            info.pixels(),
            limits.max_pixels
        )));
    }
    check_animation(&info, limits)?;
    let colour_bytes = colour::working_bytes(colour::read_icc(bytes, limits.max_icc_bytes)?.map_or(0, |p| p.len() as u64));
    let target = fit_within(info.width, info.height, options.max_long_side);
    let channels = if info.has_alpha && encoder.keeps_alpha() { 4 } else { 3 };
    let plan_for = |jpeg_scale: u32| Plan {
        input_bytes: bytes.len() as u64,
        jpeg_scale,
        decoded: (info.width.div_ceil(jpeg_scale), info.height.div_ceil(jpeg_scale)),
        target,
        channels,
        encoder_bytes: encoder.working_bytes(target.0, target.1, channels),
        output: encoder.format().name,
        colour_bytes,
    };
    // Shrink-on-load candidates, best quality first (see jpeg_shrink_factor).
    let scales = match info.format {
        crate::InputFormat::Jpeg => {
            let src = (info.width, info.height);
            vec![jpeg_shrink_factor(src, target, 2), jpeg_shrink_factor(src, target, 1)]
        }
        _ => vec![1],
    };
    let mut candidates = scales.into_iter().map(|s| {
        let plan = plan_for(s);
        (plan, estimate(&info, &plan))
    });
    let (mut plan, mut memory) = candidates.next().expect("one candidate");
    for (p, m) in candidates {
        if memory.peak() <= limits.max_memory_bytes {
            break;
        }
        (plan, memory) = (p, m);
    }
    if memory.peak() > limits.max_memory_bytes {
        return Err(KilnError::TooLarge(format!(
            "{}x{} {:?}{} needs an estimated {} MiB to convert (decode {} MiB, resize {} MiB, encode {} MiB), the limit is {} MiB",
            info.width,
            info.height,
            info.format,
            if info.jpeg.as_ref().is_some_and(|f| f.progressive) { " (progressive)" } else { "" },
            mib(memory.peak()),
            mib(memory.decode),
            mib(memory.resize),
            mib(memory.encode),
            mib(limits.max_memory_bytes)
        )));
    }
    Ok((info, plan, memory))
}

fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// An animation's frames, and the pixels of all of them, within the limits.
fn check_animation(info: &ImageInfo, limits: &Limits) -> Result<(), KilnError> {
    if info.frames > limits.max_animation_frames {
        return Err(KilnError::TooLarge(format!("{} frames, the limit is {} frames", info.frames, limits.max_animation_frames)));
    }
    if info.frame_pixels > limits.max_pixels {
        return Err(KilnError::TooLarge(format!(
            "its {} frames hold {} pixels, the limit is {} pixels",
            info.frames, info.frame_pixels, limits.max_pixels
        )));
    }
    Ok(())
}

/// Decodes as `plan` says, with the decoder held to [`decoder_budget`],
/// and checks that what came out is what the header announced.
fn decode_planned(bytes: &[u8], info: &ImageInfo, plan: &Plan) -> Result<Image, KilnError> {
    let image = decode(bytes, info, plan.jpeg_scale, decoder_budget(info, plan))?;
    let (w, h) = plan.decoded;
    let fits = if info.format == crate::InputFormat::Jpeg { image.width <= w && image.height <= h } else { (image.width, image.height) == (w, h) };
    let expected = image.width as u64 * image.height as u64 * image.layout.channels() as u64;
    if !fits || image.pixels.len() as u64 != expected {
        return Err(KilnError::Corrupt(format!(
            "the {:?} decoder produced {}x{} ({} bytes) where the header announced {w}x{h}",
            info.format,
            image.width,
            image.height,
            image.pixels.len()
        )));
    }
    Ok(image)
}

/// What a conversion makes besides its output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The output's [`Placeholder`], from its pixels before they are encoded
    /// (what the thumbnail does).
    pub placeholder: bool,
    /// Responsive widths (displayed px): the output again at each width
    /// narrower than itself, resampled from its pixels ([`Converted::renditions`]).
    pub widths: &'a [u32],
}

/// Converts `input` with `encoder`. Takes the input by value so its bytes
/// are freed as soon as the pixels are decoded.
pub fn convert(input: Vec<u8>, options: &ConvertOptions, encoder: &dyn Encoder) -> Result<Converted, KilnError> {
    convert_with(input, options, encoder, Extras::default())
}

/// [`convert`], also making the [`Extras`] asked for. A rendition is made
/// after the output is encoded, from its pixels, so it adds time but no
/// memory peak: one narrower image and its encoder, both smaller.
pub fn convert_with(input: Vec<u8>, options: &ConvertOptions, encoder: &dyn Encoder, extras: Extras) -> Result<Converted, KilnError> {
    // An animated GIF or WebP into WebP stays animated (crate::animation).
    #[cfg(feature = "webp")]
    if let Some(webp) = encoder.as_webp()
        && matches!(crate::sniff::sniff(&input), Some(crate::InputFormat::Gif | crate::InputFormat::Webp))
        && crate::animation::is_animated(&probe(&input)?)
    {
        return crate::animation::convert_animated(input, options, webp);
    }
    let mut timings = StageTimings::default();
    let started = Instant::now();
    let (info, plan, memory) = plan(&input, options, encoder)?;
    let orientation = orient::read_orientation(&input);
    let icc = colour::read_icc(&input, options.limits.max_icc_bytes)?;
    let keep = Embed::from_source(&input, icc.as_deref(), options.metadata).for_format(encoder.format());
    timings.probe = started.elapsed();

    let (image, decode, resize) = decode_to_target(input, &info, &plan, encoder.keeps_alpha())?;
    (timings.decode, timings.resize) = (decode, resize);
    let started = Instant::now();
    let mut image = orient::apply(image, orientation);
    // A kept profile is embedded and the pixels stay in its colour space.
    let colour_managed = keep.icc.is_none() && colour::to_srgb(&mut image, icc.as_deref())?;
    timings.resize += started.elapsed();

    let placeholder = extras.placeholder.then(|| placeholder(&image)).transpose()?;
    let started = Instant::now();
    let (bytes, embedded) = metadata::encode(encoder, &image, &keep)?;
    timings.encode = started.elapsed();
    let renditions = renditions(&image, encoder, extras.widths, &keep)?;

    Ok(Converted {
        bytes,
        format: encoder.format(),
        width: image.width,
        height: image.height,
        source: info,
        orientation,
        colour_managed,
        embedded,
        placeholder,
        renditions,
        auto_quality: encoder.auto_choice(),
        jpeg_scale: plan.jpeg_scale,
        estimate: memory,
        timings,
    })
}

/// `image` (displayed orientation) at each responsive width narrower than it.
/// Each carries the output's metadata (`keep`).
fn renditions(image: &Image, encoder: &dyn Encoder, widths: &[u32], keep: &Embed) -> Result<Vec<Rendition>, KilnError> {
    narrower_sizes((image.width, image.height), 1, widths).into_iter().map(|size| rendition(image, size, encoder, 1, None, keep)).collect()
}

/// Decodes `input` as `plan` says and resamples it to `plan.target`
/// (stored orientation). Alpha is flattened onto white unless `keep_alpha`,
/// and dropped when it is opaque everywhere, so encoders see 3 channels
/// whenever they can. An image that [`decode::streams`] is decoded row by
/// row into the streaming resizer and never held whole; any other is
/// decoded whole, its input freed, then resized. Returns the image and the
/// time spent decoding and resizing.
pub(crate) fn decode_to_target(input: Vec<u8>, info: &ImageInfo, plan: &Plan, keep_alpha: bool) -> Result<(Image, Duration, Duration), KilnError> {
    let started = Instant::now();
    if decode::streams(info) {
        let mut rows = decode::rows(&input, info, decoder_budget(info, plan))?;
        if rows.size() != plan.decoded {
            return Err(announced_otherwise(info, rows.size(), plan.decoded));
        }
        let flatten = rows.layout() == PixelLayout::Rgba8 && !keep_alpha;
        let layout = if flatten { PixelLayout::Rgb8 } else { rows.layout() };
        let mut resizer = RowResizer::new(plan.decoded, plan.target, layout)?;
        let mut flat = Vec::new();
        for _ in 0..plan.decoded.1 {
            let row = rows.next_row()?;
            if flatten {
                flat.clear();
                flatten_onto_white(row, &mut flat);
                resizer.push(&flat)?;
            } else {
                resizer.push(row)?;
            }
        }
        rows.finish()?;
        let resize = resizer.busy();
        let image = resizer.finish()?.drop_opaque_alpha();
        return Ok((image, started.elapsed().saturating_sub(resize), resize));
    }
    let image = decode_planned(&input, info, plan)?;
    drop(input);
    let decode = started.elapsed();
    let started = Instant::now();
    let image = if keep_alpha { image.drop_opaque_alpha() } else { image.flatten_onto_white() };
    let image = resize(image, plan.target.0, plan.target.1)?;
    Ok((image, decode, started.elapsed()))
}

fn announced_otherwise(info: &ImageInfo, got: (u32, u32), announced: (u32, u32)) -> KilnError {
    KilnError::Corrupt(format!(
        "the {:?} decoder produced {}x{} where the header announced {}x{}",
        info.format, got.0, got.1, announced.0, announced.1
    ))
}

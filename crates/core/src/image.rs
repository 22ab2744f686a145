//! The in-memory pixel buffer passed between decode, resize, orient and encode.

/// Interleaved 8-bit pixel layouts kiln works in. Grayscale and CMYK inputs
/// are converted to RGB at decode time, so encoders only see these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    Rgb8,
    Rgba8,
}

impl PixelLayout {
    pub fn channels(self) -> usize {
        match self {
            PixelLayout::Rgb8 => 3,
            PixelLayout::Rgba8 => 4,
        }
    }
}

/// A decoded image: `pixels.len() == width * height * layout.channels()`.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub layout: PixelLayout,
    pub pixels: Vec<u8>,
}

impl Image {
    pub fn new(width: u32, height: u32, layout: PixelLayout, pixels: Vec<u8>) -> Self {
        debug_assert_eq!(pixels.len(), width as usize * height as usize * layout.channels());
        Image { width, height, layout, pixels }
    }

    pub fn has_alpha(&self) -> bool {
        self.layout == PixelLayout::Rgba8
    }

    /// True when some pixel is not fully opaque.
    pub fn uses_alpha(&self) -> bool {
        self.has_alpha() && self.pixels.chunks_exact(4).any(|p| p[3] != 255)
    }

    /// Drops an alpha channel that is opaque everywhere, so encoders do not
    /// spend bytes on it.
    pub fn drop_opaque_alpha(self) -> Image {
        if !self.has_alpha() || self.uses_alpha() {
            return self;
        }
        self.flatten_onto_white()
    }

    /// Composites RGBA onto white and returns RGB (for formats without alpha).
    pub fn flatten_onto_white(self) -> Image {
        if !self.has_alpha() {
            return self;
        }
        self.flattened()
    }

    /// An RGB copy of an RGBA image composited onto white.
    pub fn flattened(&self) -> Image {
        debug_assert!(self.has_alpha());
        let mut rgb = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        flatten_onto_white(&self.pixels, &mut rgb);
        Image::new(self.width, self.height, PixelLayout::Rgb8, rgb)
    }
}

/// Appends RGBA pixels `rgba` to `rgb`, composited onto white.
pub fn flatten_onto_white(rgba: &[u8], rgb: &mut Vec<u8>) {
    for p in rgba.chunks_exact(4) {
        let a = p[3] as u32;
        for c in &p[..3] {
            rgb.push(((*c as u32 * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
}

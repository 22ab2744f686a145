//! From kept coefficients to pixels: a scaled inverse DCT per block (the
//! 8-point IDCT sampled at the centres of n × n pixel groups, from the
//! n × n lowest frequencies), one 8-bit plane per component, then chroma
//! upsampled (bilinear between sample centres, as libjpeg's "fancy"
//! upsampling) and converted to RGB.

use super::scan::Coefficients;
use std::f32::consts::PI;

/// One component's samples at the scaled size, padded to whole blocks.
pub(super) struct SamplePlane {
    pub width: usize,
    /// The samples that hold image (the rest is block padding).
    pub valid: (usize, usize),
    pub samples: Vec<u8>,
}

/// Runs the scaled IDCT over every block of component `c`, dequantising
/// with `quant` (natural order). `valid` is the component's scaled size.
pub(super) fn idct_plane(store: &Coefficients, c: usize, quant: &[u16; 64], valid: (usize, usize)) -> SamplePlane {
    let n = store.n;
    let plane = &store.planes[c];
    let (width, height) = (plane.blocks_w * n, plane.blocks_h * n);
    let mut samples = vec![0u8; width * height];
    let basis = basis(n);
    let mut freq = vec![0f32; n * n];
    let mut rows = vec![0f32; n * n];
    for by in 0..plane.blocks_h {
        for bx in 0..plane.blocks_w {
            let kept = store.kept(c, bx, by);
            for v in 0..n {
                for u in 0..n {
                    freq[v * n + u] = kept[v * n + u] as f32 * quant[v * 8 + u] as f32;
                }
            }
            // Rows (over u) then columns (over v): rows[v][x] = Σu B[x][u]·F[v][u].
            for v in 0..n {
                for x in 0..n {
                    rows[v * n + x] = (0..n).map(|u| basis[x * n + u] * freq[v * n + u]).sum();
                }
            }
            for y in 0..n {
                let out = &mut samples[(by * n + y) * width + bx * n..][..n];
                for (x, sample) in out.iter_mut().enumerate() {
                    let value: f32 = (0..n).map(|v| basis[y * n + v] * rows[v * n + x]).sum();
                    *sample = (value + 128.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
    let valid = (valid.0.clamp(1, width.max(1)), valid.1.clamp(1, height.max(1)));
    SamplePlane { width, valid, samples }
}

/// B[x][u] = C(u)/2 · cos((2x+1)uπ / 2n), C(0) = 1/√2: with n = 8 the
/// IDCT itself, with fewer its value at the centre of each group of 8/n pixels.
fn basis(n: usize) -> Vec<f32> {
    let mut basis = vec![0f32; n * n];
    for x in 0..n {
        for u in 0..n {
            let c = if u == 0 { std::f32::consts::FRAC_1_SQRT_2 } else { 1.0 };
            basis[x * n + u] = c / 2.0 * ((2 * x + 1) as f32 * u as f32 * PI / (2 * n) as f32).cos();
        }
    }
    basis
}

/// How the components combine into RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColourModel {
    Gray,
    YCbCr,
    Rgb,
}

/// Where a component's sample for output column (or row) i lies: the two
/// neighbouring samples and the second's weight, for each i in 0..len.
fn positions(len: usize, factor: usize, max_factor: usize, valid: usize) -> Vec<(u32, u32, f32)> {
    (0..len)
        .map(|i| {
            let at = ((i as f32 + 0.5) * factor as f32 / max_factor as f32 - 0.5).max(0.0);
            let first = (at as usize).min(valid - 1);
            let second = (first + 1).min(valid - 1);
            (first as u32, second as u32, at - first as f32)
        })
        .collect()
}

/// Interleaves `planes` into `width × height` RGB8 pixels. `factors` are
/// each component's sampling factors and the largest ones.
pub(super) fn to_rgb(planes: &[SamplePlane], factors: &[(usize, usize)], max: (usize, usize), model: ColourModel, (width, height): (usize, usize)) -> Vec<u8> {
    let columns: Vec<_> = planes.iter().zip(factors).map(|(p, f)| positions(width, f.0, max.0, p.valid.0)).collect();
    let lines: Vec<_> = planes.iter().zip(factors).map(|(p, f)| positions(height, f.1, max.1, p.valid.1)).collect();
    let mut rgb = vec![0u8; width * height * 3];
    let mut sample = [0f32; 3];
    for (y, out) in rgb.chunks_exact_mut(width * 3).enumerate() {
        for (x, pixel) in out.chunks_exact_mut(3).enumerate() {
            for (c, plane) in planes.iter().enumerate().take(3) {
                let (y0, y1, wy) = lines[c][y];
                let (x0, x1, wx) = columns[c][x];
                let at = |row: u32, col: u32| plane.samples[row as usize * plane.width + col as usize] as f32;
                let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * wx;
                let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * wx;
                sample[c] = top + (bottom - top) * wy;
            }
            let [r, g, b] = match model {
                ColourModel::Gray => [sample[0]; 3],
                ColourModel::Rgb => sample,
                ColourModel::YCbCr => {
                    let (luma, cb, cr) = (sample[0], sample[1] - 128.0, sample[2] - 128.0);
                    [luma + 1.402 * cr, luma - 0.344_136 * cb - 0.714_136 * cr, luma + 1.772 * cb]
                }
            };
            pixel.copy_from_slice(&[r, g, b].map(|v| (v + 0.5).clamp(0.0, 255.0) as u8));
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basis_at_full_size_is_the_orthonormal_idct() {
        let b = basis(8);
        // Rows of the 8-point DCT-III matrix (scaled by 1/2) are orthogonal
        // with norm 1/2 along x, for each pair of frequencies.
        for u in 0..8 {
            for w in 0..8 {
                let dot: f32 = (0..8).map(|x| b[x * 8 + u] * b[x * 8 + w]).sum();
                let want = if u == w { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "u={u} w={w}: {dot}");
            }
        }
    }

    #[test]
    fn a_dc_only_block_is_flat_at_every_scale() {
        for n in [1, 2, 4] {
            let b = basis(n);
            for x in 0..n {
                // F(0,0) = 80 gives 80/8 = 10 above mid-gray.
                let value = b[x * n] * b[x * n] * 80.0;
                assert!((value - 10.0).abs() < 1e-4, "n={n}: {value}");
            }
        }
    }

    #[test]
    fn chroma_positions_sit_between_sample_centres() {
        // 2:1 subsampling: output 0 and 1 both read sample 0 and 1 at weights
        // 0 and 0.25; output 2 reads 0→1 at 0.75.
        let p = positions(4, 1, 2, 2);
        assert_eq!(p[0], (0, 1, 0.0));
        assert_eq!(p[1], (0, 1, 0.25));
        assert_eq!(p[2], (0, 1, 0.75));
        assert_eq!(p[3], (1, 1, 0.25));
        // Full resolution: each output reads its own sample.
        assert!(positions(3, 2, 2, 3).iter().enumerate().all(|(i, p)| p.0 as usize == i && p.2 == 0.0));
    }
}

//! Fits the memory model per output format on the calibration rows as the
//! larger of two lines (max-affine regression, Magnani & Boyd): a decode
//! line `input + a_class·source + b_d` and an encode line `c·target + b_e`.
//! Points are assigned to the line that is larger at them and each line is
//! refitted by least squares on its points (negative slopes dropped) until
//! the assignment settles; then each intercept is raised until none of its
//! points is above it, the decode intercept further until every conversion
//! that trapped at 128 MiB is estimated at 128 MiB or more, and the whole
//! model is multiplied by [`MARGIN`]. The input buffer's coefficient is
//! fixed at 1 byte per byte (see docs/memory-model.md).

use super::table::{Row, HEAP, LINEAR};
use anyhow::{bail, ensure, Result};
use kiln_core::estimate::{Features, InputClass, Model, CLASSES};

/// The fitted model is multiplied by this.
pub const MARGIN: f64 = 1.05;
/// Spin's instance limit during calibration: a trap means at least this.
pub const INSTANCE_LIMIT: u64 = 128 << 20;
/// Target bytes must vary by this fraction of their maximum to be fitted.
const MIN_TARGET_SPREAD: f64 = 0.25;

/// One regressor: its value at a point.
type Column = Box<dyn Fn(&Point) -> f64>;

/// One measured conversion as the fit sees it.
#[derive(Debug, Clone)]
pub struct Point {
    pub input: String,
    pub f: Features,
    /// Linear memory under spin up (native heap when no spin run exists).
    pub y: u64,
    pub old_estimate: u64,
}

/// One output format's fit, its points and the conversions that trapped.
#[derive(Debug, Clone)]
pub struct Fit {
    pub model: Model,
    pub kind: &'static str,
    pub points: Vec<Point>,
    pub trapped: Vec<Point>,
    /// The point that set each intercept and by how much it was raised.
    pub binding: Vec<String>,
}

/// Fits every output format present in `rows`.
pub fn fit_all(rows: &[Row]) -> Result<Vec<Fit>> {
    const OUTPUTS: [&str; 4] = ["webp", "avif", "jpeg", "thumbnail"];
    if let Some(r) = rows.iter().find(|r| !OUTPUTS.contains(&r.output.as_str())) {
        bail!("unknown output format {:?}", r.output);
    }
    OUTPUTS.into_iter().filter(|o| rows.iter().any(|r| r.output == *o)).map(|o| fit_output(rows, o)).collect()
}

fn fit_output(rows: &[Row], output: &'static str) -> Result<Fit> {
    let kind = if rows.iter().any(|r| r.output == output && r.kind == LINEAR) { LINEAR } else { HEAP };
    let mut points = points(rows, output, kind, |r| r.measured())?;
    let trapped = points_trapped(rows, output, kind)?;
    points.extend(estimated_traps(rows, output, &trapped));
    ensure!(points.len() >= 4, "{output}: only {} measured points", points.len());
    let mut decode: Vec<bool> = points.iter().map(|p| p.f.source_bytes > p.f.target_bytes).collect();
    let mut lines = fit_lines(&points, &decode)?;
    for _ in 0..50 {
        let next: Vec<bool> = points.iter().map(|p| lines.decode(&p.f) >= lines.encode(&p.f)).collect();
        if next == decode {
            break;
        }
        decode = next;
        lines = fit_lines(&points, &decode)?;
    }
    let binding = raise(&mut lines, &points, &decode, &trapped);
    let model = lines.into_model(output, &points);
    for p in &points {
        ensure!(model.predict(&p.f) >= p.y, "{output}: {} above the raised lines", p.input);
    }
    Ok(Fit { model, kind, points, trapped, binding })
}

/// Raises each class's decode intercept and the encode intercept until
/// none of their points (nor a trap) is above them; gives classes without
/// a fitted line the steepest slope and highest intercept. Returns which
/// point set each intercept.
fn raise(lines: &mut Lines, points: &[Point], decode: &[bool], trapped: &[Point]) -> Vec<String> {
    let mut binding = Vec::new();
    let mut lift = |name: &str, on: &mut f64, residuals: Vec<(&Point, f64)>| {
        if let Some((p, r)) = residuals.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            *on += r.max(0.0);
            binding.push(format!("{name}: {} (+{:.1} MiB)", p.input, r.max(0.0) / 1048576.0));
        }
    };
    for class in InputClass::ALL {
        let c = class.index();
        let residuals = points.iter().zip(decode).filter(|(p, d)| **d && p.f.class == class).map(|(p, _)| (p, p.y as f64 - lines.decode(&p.f))).collect();
        let mut b = lines.decode_intercept[c];
        lift(class.name(), &mut b, residuals);
        lines.decode_intercept[c] = b;
    }
    let residuals = points.iter().zip(decode).filter(|(_, d)| !**d).map(|(p, _)| (p, p.y as f64 - lines.encode(&p.f))).collect();
    let mut b = lines.encode_intercept;
    lift("encode", &mut b, residuals);
    lines.encode_intercept = b;
    let fitted = |c: usize| lines.fitted[c];
    let steepest = (0..CLASSES).filter(|&c| fitted(c)).map(|c| lines.per_source[c]).fold(0.0, f64::max);
    let highest = (0..CLASSES).filter(|&c| fitted(c)).map(|c| lines.decode_intercept[c]).fold(0.0, f64::max);
    // A class with a single size gets the steepest slope through its point
    // (beyond it the phase model is a floor), but never an intercept below
    // the phase model's fixed overhead: a steep line through one large
    // point would fall below zero for a small input (the fuzzer found a 9x9
    // progressive JPEG estimated at 0 bytes). One without points gets the
    // steepest slope and the highest intercept.
    let floor = kiln_core::estimate::BASE_BYTES as f64;
    for c in (0..CLASSES).filter(|&c| !fitted(c)) {
        lines.per_source[c] = steepest;
        let own = points.iter().filter(|p| p.f.class.index() == c);
        let through = own.map(|p| p.y as f64 - p.f.input_bytes as f64 - steepest * p.f.source_bytes as f64).reduce(f64::max);
        lines.decode_intercept[c] = through.map_or(highest, |b| b.max(floor));
    }
    for t in trapped {
        let c = t.f.class.index();
        lines.decode_intercept[c] += (t.y as f64 - lines.decode(&t.f).max(lines.encode(&t.f))).max(0.0);
    }
    binding
}

/// The lines while fitting (no margin, no rounding).
struct Lines {
    per_source: [f64; CLASSES],
    decode_intercept: [f64; CLASSES],
    /// Classes with a decode line of their own (two sizes or more).
    fitted: [bool; CLASSES],
    per_target: f64,
    encode_intercept: f64,
}

impl Lines {
    fn decode(&self, f: &Features) -> f64 {
        let c = f.class.index();
        f.input_bytes as f64 + self.per_source[c] * f.source_bytes as f64 + self.decode_intercept[c]
    }
    fn encode(&self, f: &Features) -> f64 {
        self.per_target * f.target_bytes as f64 + self.encode_intercept
    }
    fn into_model(self, output: &'static str, points: &[Point]) -> Model {
        let mut max_source_bytes = [0u64; CLASSES];
        for p in points {
            let m = &mut max_source_bytes[p.f.class.index()];
            *m = (*m).max(p.f.source_bytes);
        }
        let up = |x: f64| (x * MARGIN * 1e4).ceil() / 1e4;
        Model {
            output,
            per_input_byte: up(1.0),
            per_source_byte: self.per_source.map(up),
            decode_intercept: self.decode_intercept.map(|b| (b * MARGIN).ceil()),
            per_target_byte: up(self.per_target),
            encode_intercept: (self.encode_intercept * MARGIN).ceil(),
            max_source_bytes,
            max_target_bytes: points.iter().map(|p| p.f.target_bytes).max().unwrap_or(0),
        }
    }
}

/// Least-squares fit of each class's decode line and of the encode line on
/// their assigned points. An empty line stays at zero (the other, positive
/// line always wins); a class needs two sizes for a line of its own.
fn fit_lines(points: &[Point], decode: &[bool]) -> Result<Lines> {
    let mut lines = Lines { per_source: [0.0; CLASSES], decode_intercept: [0.0; CLASSES], fitted: [false; CLASSES], per_target: 0.0, encode_intercept: 0.0 };
    for class in InputClass::ALL {
        let d: Vec<&Point> = points.iter().zip(decode).filter(|(p, d)| **d && p.f.class == class).map(|(p, _)| p).collect();
        if distinct(&d, |p| Some(p.f.source_bytes)) < 2 {
            continue;
        }
        let column: Column = Box::new(|p: &Point| p.f.source_bytes as f64);
        let (slopes, b) = nonnegative_least_squares(&d, vec![column], |p| p.y as f64 - p.f.input_bytes as f64)?;
        let c = class.index();
        (lines.per_source[c], lines.decode_intercept[c], lines.fitted[c]) = (slopes[0], b, true);
    }
    let e: Vec<&Point> = points.iter().zip(decode).filter(|(_, d)| !**d).map(|(p, _)| p).collect();
    if !e.is_empty() {
        let targets: Vec<f64> = e.iter().map(|p| p.f.target_bytes as f64).collect();
        let (lo, hi) = (targets.iter().cloned().fold(f64::INFINITY, f64::min), targets.iter().cloned().fold(0.0, f64::max));
        let columns: Vec<Column> =
            if hi - lo >= MIN_TARGET_SPREAD * hi { vec![Box::new(|p: &Point| p.f.target_bytes as f64)] } else { vec![] };
        let (slopes, b) = nonnegative_least_squares(&e, columns, |p| p.y as f64)?;
        lines.per_target = slopes.first().copied().unwrap_or(0.0);
        lines.encode_intercept = b;
    }
    Ok(lines)
}

fn distinct(points: &[&Point], key: impl Fn(&Point) -> Option<u64>) -> usize {
    let mut v: Vec<u64> = points.iter().filter_map(|p| key(p)).collect();
    v.sort();
    v.dedup();
    v.len()
}

/// `output`'s points of `kind` whose rows pass `keep`.
fn points(rows: &[Row], output: &str, kind: &str, keep: impl Fn(&Row) -> bool) -> Result<Vec<Point>> {
    rows.iter()
        .filter(|r| r.output == output && r.kind == kind && keep(r))
        .map(|r| Ok(Point { input: r.input.clone(), f: r.features()?, y: r.peak_bytes, old_estimate: r.old_estimate }))
        .collect()
}

/// Heaps of at least this size are dominated by pixel buffers: their
/// linear/heap ratio is the wasm overhead applied to trapped conversions.
const RATIO_MIN_HEAP: u64 = 32 << 20;

/// The trapped conversions as points: native heap × the largest linear/heap
/// ratio measured for the same output and input class (any class if that
/// one has none), and never below the 128 MiB they trapped at.
fn estimated_traps(rows: &[Row], output: &str, trapped: &[Point]) -> Vec<Point> {
    let heap_of = |t: &Point| {
        let same = |r: &&Row| r.kind == HEAP && r.output == output && r.input == t.input && r.source_bytes == t.f.source_bytes;
        rows.iter().find(same).map(|r| r.peak_bytes)
    };
    trapped
        .iter()
        .filter_map(|t| {
            let ratio = wasm_ratio(rows, output, Some(t.f.class)).or_else(|| wasm_ratio(rows, output, None)).unwrap_or(1.0);
            let y = ((heap_of(t)? as f64 * ratio) as u64).max(INSTANCE_LIMIT);
            Some(Point { y, ..t.clone() })
        })
        .collect()
}

/// The largest linear/heap ratio over conversions measured both ways.
fn wasm_ratio(rows: &[Row], output: &str, class: Option<InputClass>) -> Option<f64> {
    let heaps = rows.iter().filter(|r| r.kind == HEAP && r.output == output && r.peak_bytes >= RATIO_MIN_HEAP);
    heaps
        .filter(|h| class.is_none_or(|c| h.input_format == c.name()))
        .filter_map(|h| {
            let l = rows.iter().find(|l| l.kind == LINEAR && l.measured() && l.output == output && l.input == h.input && l.jpeg_scale == h.jpeg_scale)?;
            Some(l.peak_bytes as f64 / h.peak_bytes as f64)
        })
        .reduce(f64::max)
}

/// Conversions that trapped under spin up (status 500: over 128 MiB).
fn points_trapped(rows: &[Row], output: &str, kind: &str) -> Result<Vec<Point>> {
    if kind != LINEAR {
        return Ok(Vec::new());
    }
    if let Some(r) = rows.iter().find(|r| r.kind == LINEAR && !matches!(r.status, 200 | 500)) {
        bail!("{} -> {}: unexpected status {}", r.input, r.output, r.status);
    }
    let mut trapped = points(rows, output, kind, |r| r.status == 500)?;
    trapped.iter_mut().for_each(|t| t.y = INSTANCE_LIMIT);
    Ok(trapped)
}

/// Least squares of `z` on `columns` plus an intercept, refitted without
/// any column whose slope comes out negative. Returns (slopes, intercept).
fn nonnegative_least_squares(points: &[&Point], mut columns: Vec<Column>, z: impl Fn(&Point) -> f64) -> Result<(Vec<f64>, f64)> {
    let n = columns.len();
    let mut kept: Vec<usize> = (0..n).collect();
    loop {
        let xs: Vec<Vec<f64>> = points.iter().map(|p| columns.iter().map(|c| c(p)).collect()).collect();
        let zs: Vec<f64> = points.iter().map(|p| z(p)).collect();
        let beta = least_squares(&xs, &zs)?;
        let slopes = &beta[..columns.len()];
        match (0..slopes.len()).min_by(|&a, &b| slopes[a].total_cmp(&slopes[b])) {
            Some(i) if slopes[i] < 0.0 => {
                drop(columns.remove(i));
                kept.remove(i);
            }
            _ => {
                // A dropped column keeps slope 0: the intercept explains it.
                let mut full = vec![0.0; n];
                for (&k, &b) in kept.iter().zip(slopes) {
                    full[k] = b;
                }
                return Ok((full, beta[columns.len()]));
            }
        }
    }
}

/// Ordinary least squares with an intercept (last element of the result).
/// Columns are scaled to 1 for conditioning; normal equations.
fn least_squares(xs: &[Vec<f64>], zs: &[f64]) -> Result<Vec<f64>> {
    let k = xs.first().map_or(0, |x| x.len()) + 1;
    let scale: Vec<f64> = (0..k - 1).map(|j| xs.iter().map(|x| x[j].abs()).fold(1.0, f64::max)).collect();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (x, &z) in xs.iter().zip(zs) {
        let mut row: Vec<f64> = x.iter().zip(&scale).map(|(v, s)| v / s).collect();
        row.push(1.0);
        for i in 0..k {
            for j in 0..k {
                a[i][j] += row[i] * row[j];
            }
            a[i][k] += row[i] * z;
        }
    }
    let mut beta = solve(a)?;
    for (b, s) in beta.iter_mut().zip(&scale) {
        *b /= s;
    }
    Ok(beta)
}

/// Gaussian elimination with partial pivoting on an augmented matrix.
fn solve(mut a: Vec<Vec<f64>>) -> Result<Vec<f64>> {
    let k = a.len();
    for col in 0..k {
        let pivot = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        ensure!(a[pivot][col].abs() > 1e-9, "singular normal equations (collinear variables)");
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (_, row) in a.iter_mut().enumerate().filter(|(r, _)| *r != col) {
            let factor = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= factor * p;
            }
        }
    }
    Ok((0..k).map(|i| a[i][k] / a[i][i]).collect())
}

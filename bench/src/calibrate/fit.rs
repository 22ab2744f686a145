//! Fits the memory model per output format on the calibration rows:
//! least squares for the slopes (negative slopes dropped), then the
//! intercept raised until no point is above the line, then a safety margin
//! of [`MARGIN`] on the whole line. The input buffer's coefficient is not
//! fitted but fixed at 1 byte per byte (see docs/memory-model.md).

use super::table::{Row, HEAP, LINEAR};
use anyhow::{bail, ensure, Result};
use kiln_core::estimate::{Features, InputClass, Model};
use std::collections::BTreeMap;

/// The fitted line is multiplied by this.
pub const MARGIN: f64 = 1.05;
/// A class needs this many distinct sizes to get its own slope.
const MIN_CLASS_POINTS: usize = 3;
/// Target bytes must vary by this fraction of their maximum to be fitted
/// (the thumbnail's target is nearly constant: the intercept absorbs it).
const MIN_TARGET_SPREAD: f64 = 0.25;

/// One (input, output) conversion's peak as the fit sees it.
#[derive(Debug, Clone)]
pub struct Point {
    pub input: String,
    pub f: Features,
    /// Linear memory when measured, else native heap + the wasm overhead.
    pub y: u64,
    pub from_linear: bool,
    pub heap: u64,
    pub old_estimate: u64,
}

/// One output format's fit and the points it was made on.
#[derive(Debug, Clone)]
pub struct Fit {
    pub model: Model,
    /// Largest (linear − heap) over the pairs measured both ways.
    pub overhead: u64,
    pub points: Vec<Point>,
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
    let (points, overhead) = points(rows, output)?;
    let classes: Vec<InputClass> = InputClass::ALL.into_iter().filter(|&c| fitted_class(&points, c)).collect();
    let fitted: Vec<&Point> = points.iter().filter(|p| classes.contains(&p.f.class)).collect();
    ensure!(!fitted.is_empty(), "{output}: no class has {MIN_CLASS_POINTS} measured sizes");
    let targets: Vec<f64> = fitted.iter().map(|p| p.f.target_bytes as f64).collect();
    let max_target = targets.iter().cloned().fold(0.0, f64::max);
    let min_target = targets.iter().cloned().fold(f64::INFINITY, f64::min);
    let use_target = (max_target - min_target) >= MIN_TARGET_SPREAD * max_target;
    let (per_source, per_target) = slopes(&fitted, &classes, use_target)?;
    let line = |f: &Features| f.input_bytes as f64 + per_source[f.class.index()] * f.source_bytes as f64 + per_target * f.target_bytes as f64;
    let intercept = fitted.iter().map(|p| p.y as f64 - line(&p.f)).fold(f64::NEG_INFINITY, f64::max);
    let mut max_source_bytes = [0u64; 5];
    for p in &fitted {
        let m = &mut max_source_bytes[p.f.class.index()];
        *m = (*m).max(p.f.source_bytes);
    }
    let model = Model {
        output,
        per_input_byte: round_up(MARGIN, 1e4),
        per_source_byte: per_source.map(|a| round_up(a * MARGIN, 1e4)),
        per_target_byte: round_up(per_target * MARGIN, 1e4),
        intercept: (intercept * MARGIN).ceil(),
        max_source_bytes,
        max_target_bytes: max_target as u64,
    };
    for p in &fitted {
        ensure!(model.predict(&p.f) >= p.y, "{output}: {} above the raised line", p.input);
    }
    Ok(Fit { model, overhead, points })
}

fn round_up(x: f64, per: f64) -> f64 {
    (x * per).ceil() / per
}

/// `output`'s points: linear memory where measured, else the native heap
/// plus the largest linear − heap difference seen for this output.
fn points(rows: &[Row], output: &str) -> Result<(Vec<Point>, u64)> {
    let mut pairs: BTreeMap<&str, (Option<&Row>, Option<&Row>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.output == output && r.measured()) {
        let pair = pairs.entry(r.input.as_str()).or_default();
        match r.kind.as_str() {
            HEAP => pair.0 = Some(r),
            LINEAR => pair.1 = Some(r),
            other => bail!("unknown measurement kind {other:?}"),
        }
    }
    let overhead = pairs
        .values()
        .filter_map(|(h, l)| Some(l.as_ref()?.peak_bytes.saturating_sub(h.as_ref()?.peak_bytes)))
        .max()
        .unwrap_or(0);
    let points = pairs
        .values()
        .map(|&(heap, linear)| {
            let any = linear.or(heap).expect("a pair has a row");
            Ok(Point {
                input: any.input.clone(),
                f: any.features()?,
                y: linear.map_or_else(|| heap.unwrap().peak_bytes + overhead, |l| l.peak_bytes),
                from_linear: linear.is_some(),
                heap: heap.map_or(0, |h| h.peak_bytes),
                old_estimate: any.old_estimate,
            })
        })
        .collect::<Result<_>>()?;
    Ok((points, overhead))
}

fn fitted_class(points: &[Point], class: InputClass) -> bool {
    let mut sizes: Vec<u64> = points.iter().filter(|p| p.f.class == class).map(|p| p.f.source_bytes).collect();
    sizes.sort();
    sizes.dedup();
    sizes.len() >= MIN_CLASS_POINTS
}

/// Least-squares slopes per class (and for the target if `use_target`) of
/// y − input bytes, refitted without any slope that comes out negative.
fn slopes(points: &[&Point], classes: &[InputClass], use_target: bool) -> Result<([f64; 5], f64)> {
    // Column ids: 0..5 = source bytes of class i, 5 = target bytes.
    let mut columns: Vec<usize> = classes.iter().map(|c| c.index()).collect();
    if use_target {
        columns.push(5);
    }
    loop {
        let beta = least_squares(points, &columns)?;
        let worst = (0..columns.len()).min_by(|&a, &b| beta[a].total_cmp(&beta[b]));
        match worst {
            Some(i) if beta[i] < 0.0 => {
                columns.remove(i);
            }
            _ => {
                let mut per_source = [0.0; 5];
                let mut per_target = 0.0;
                for (&c, &b) in columns.iter().zip(&beta) {
                    if c == 5 { per_target = b } else { per_source[c] = b }
                }
                return Ok((per_source, per_target));
            }
        }
    }
}

fn column(p: &Point, c: usize) -> f64 {
    match c {
        5 => p.f.target_bytes as f64,
        i if p.f.class.index() == i => p.f.source_bytes as f64,
        _ => 0.0,
    }
}

/// Ordinary least squares of y − input on `columns` plus an intercept;
/// returns the slopes (intercept dropped). Columns are scaled to 1 for
/// conditioning and solved by the normal equations.
fn least_squares(points: &[&Point], columns: &[usize]) -> Result<Vec<f64>> {
    let k = columns.len() + 1;
    let scale: Vec<f64> = columns.iter().map(|&c| points.iter().map(|p| column(p, c)).fold(1.0, f64::max)).collect();
    let row = |p: &Point| -> Vec<f64> {
        let mut x: Vec<f64> = columns.iter().zip(&scale).map(|(&c, s)| column(p, c) / s).collect();
        x.push(1.0);
        x
    };
    let mut a = vec![vec![0.0; k + 1]; k];
    for p in points {
        let x = row(p);
        let z = p.y as f64 - p.f.input_bytes as f64;
        for i in 0..k {
            for j in 0..k {
                a[i][j] += x[i] * x[j];
            }
            a[i][k] += x[i] * z;
        }
    }
    let beta = solve(a)?;
    Ok(beta[..columns.len()].iter().zip(&scale).map(|(b, s)| b / s).collect())
}

/// Gaussian elimination with partial pivoting on an augmented matrix.
fn solve(mut a: Vec<Vec<f64>>) -> Result<Vec<f64>> {
    let k = a.len();
    for col in 0..k {
        let pivot = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        ensure!(a[pivot][col].abs() > 1e-9, "singular normal equations (collinear variables)");
        a.swap(col, pivot);
        for r in 0..k {
            if r != col {
                let factor = a[r][col] / a[col][col];
                for c in col..=k {
                    a[r][c] -= factor * a[col][c];
                }
            }
        }
    }
    Ok((0..k).map(|i| a[i][k] / a[i][i]).collect())
}

//! SVG plots (plotters, SVG backend only): the stacked per-stage breakdown of
//! every path for one input (one panel per variant), and cost per 1,000
//! uploads against the upload rate on log axes.

use super::results::{order_stages, Study};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::Path;

/// A plotting failure, with the backend's message.
#[derive(Debug, thiserror::Error)]
#[error("plot {path}: {message}")]
pub struct PlotError {
    pub path: String,
    pub message: String,
}

fn err(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError { path: path.display().to_string(), message }
}

/// Stable colour for the i-th stage or series.
fn colour(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// One bar per path, stacked by stage (medians, `total` left out), one
/// panel per variant. Returns false if there was nothing to draw.
pub fn stage_breakdown(study: &Study, input: &str, out: &Path) -> Result<bool, PlotError> {
    let variants = study.variants_of(input);
    let paths = study.paths_of(input);
    let stages: Vec<String> = order_stages(
        study.timings.iter().filter(|t| t.input == input && is_leaf(&t.variant, &t.stage)).map(|t| t.stage.clone()),
    );
    if variants.is_empty() || stages.is_empty() {
        return Ok(false);
    }
    let e = err(out);
    let root = SVGBackend::new(out, (1200, 340 * variants.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let panels = root.split_evenly((variants.len(), 1));
    for (k, (panel, variant)) in panels.iter().zip(&variants).enumerate() {
        let bars = stacked(study, input, variant, &paths, &stages);
        let ymax = bars.iter().map(|b| b.iter().map(|(_, _, y1)| *y1).fold(0.0, f64::max)).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{input} — {variant}: median ms per stage (summaries not stacked)"), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(60)
            .build_cartesian_2d((0..paths.len()).into_segmented(), 0.0..ymax * 1.08)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(paths.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => paths.get(*i).cloned().unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .y_desc("ms")
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let unsplit = "total (not split into stages)".to_string();
        for (si, stage) in stages.iter().chain([&unsplit]).enumerate() {
            let rects: Vec<_> = bars
                .iter()
                .enumerate()
                .flat_map(|(pi, b)| b.iter().filter(|(s, _, _)| *s == si).map(move |&(_, y0, y1)| (pi, y0, y1)))
                .map(|(pi, y0, y1)| {
                    let mut r = Rectangle::new(
                        [(SegmentValue::Exact(pi), y0), (SegmentValue::Exact(pi + 1), y1)],
                        colour(si).filled(),
                    );
                    r.set_margin(0, 0, 18, 18);
                    r
                })
                .collect();
            let drawn = chart.draw_series(rects).map_err(|x| e(x.to_string()))?;
            if k == 0 {
                let c = colour(si);
                drawn.label(stage.clone()).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
            }
        }
        if k == 0 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(("sans-serif", 10))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|x| e(x.to_string()))?;
        }
    }
    root.present().map_err(|x| e(x.to_string()))?;
    Ok(true)
}

/// Stages that add up along an upload's or a variant's time line. Summaries
/// (`total`, `fan_out` within a variant, `wall`, `roundtrip`, `convert`,
/// `converter_total`, `decode_resize` where decode and resize exist) and
/// side measurements (`queueing`, `instantiate`) are left out of the bars.
fn is_leaf(variant: &str, stage: &str) -> bool {
    const UPLOAD: &[&str] = &["dispatch", "spawn", "ready", "store_original", "assemble_server_side", "assemble_streamed", "fan_out", "upload", "teardown"];
    const VARIANT: &[&str] = &["fetch", "probe", "decode", "resize", "decode_resize", "encode", "store", "chaining"];
    if variant == "upload" { UPLOAD.contains(&stage) } else { VARIANT.contains(&stage) }
}

/// Per path: (stage index, bottom, top) segments of the stacked bar; a path
/// that reported only its total gets one segment with index `stages.len()`.
fn stacked(study: &Study, input: &str, variant: &str, paths: &[String], stages: &[String]) -> Vec<Vec<(usize, f64, f64)>> {
    paths
        .iter()
        .map(|p| {
            let mut y = 0.0;
            let mut segs = Vec::new();
            let split_decode = study.timing(input, p, variant, "decode").is_some();
            for (si, s) in stages.iter().enumerate() {
                if !is_leaf(variant, s) || (s == "decode_resize" && split_decode) {
                    continue;
                }
                if let Some(t) = study.timing(input, p, variant, s) {
                    segs.push((si, y, y + t.median));
                    y += t.median;
                }
            }
            if segs.is_empty()
                && let Some(t) = study.timing(input, p, variant, "total")
            {
                segs.push((stages.len(), 0.0, t.median));
            }
            segs
        })
        .collect()
}

/// A named curve of (uploads per month, dollars per 1,000 uploads).
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Cost per 1,000 uploads against uploads per month, log–log.
pub fn cost_vs_rate(title: &str, series: &[Series], out: &Path) -> Result<(), PlotError> {
    let e = err(out);
    let all = series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| *x > 0.0 && *y > 0.0);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 >= x1 {
        return Err(e("no points to plot".into()));
    }
    let root = SVGBackend::new(out, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((x0..x1).log_scale(), (y0 / 2.0..y1 * 2.0).log_scale())
        .map_err(|x| e(x.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("uploads per month")
        .y_desc("USD per 1,000 uploads")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(|x| e(x.to_string()))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(x.to_string()))?;
    root.present().map_err(|x| e(x.to_string()))
}

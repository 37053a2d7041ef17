//! The four chart kinds of an HTML report, each drawn as inline SVG plus a table of the same
//! numbers: a scatter with a Pareto front, small-multiple horizontal bars, stacked horizontal
//! bars and lines over a swept parameter.
//!
//! What a chart cannot draw (a non-finite value, a value ≤ 0 on a log axis, a negative part of a
//! stack) is left out of the picture, shown as such in the table and listed under the chart;
//! a chart with nothing to draw says "no data" in the picture. Every drawn data mark has
//! `class="mark …"` and a `data-kind`, so the page's script and the tests can count them.

use super::esc;
use super::scale::{format, non_finite, Scale, Style, Unit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One axis of a scatter or line chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// What the axis measures ("capital cost", "step time"); the ticks carry the unit.
    pub label: String,
    pub unit: Unit,
    /// Logarithmic (decades); values ≤ 0 cannot be drawn on it.
    pub log: bool,
}

/// A labelled reference value drawn as a dashed line across the plot ("non-blocking + 5 %",
/// "HBM capacity").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guide {
    pub label: String,
    pub value: f64,
}

/// One point of a scatter chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScatterPoint {
    /// Name of the design or plan (drawn beside the point when there is room, always in the
    /// point's tooltip and the table).
    pub label: String,
    pub x: f64,
    pub y: f64,
    /// On the Pareto front (see [`pareto_front`]): drawn filled and joined by the front's step
    /// line.
    pub on_front: bool,
    /// Ringed and named in the legend (e.g. the cheapest design within 5 % of non-blocking).
    pub highlight: bool,
}

/// Scatter of designs or plans with their Pareto front (x = cost or power, y = step time).
/// Marks: `pareto-point`, `point`, `pareto-line` (one step line through ≥ 2 front points),
/// `highlight`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScatterChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub points: Vec<ScatterPoint>,
    /// Vertical reference lines at x values.
    pub x_guides: Vec<Guide>,
    /// Horizontal reference lines at y values.
    pub y_guides: Vec<Guide>,
    /// Legend text of highlighted points ("cheapest within 5 % of non-blocking").
    pub highlight_label: String,
}

/// Whether lower or higher is better for a metric (the best bar of each metric is marked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Better {
    Lower,
    Higher,
    Neither,
}

/// One metric (one panel) of a bar chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarMetric {
    /// "step time", "tokens/s", "capital cost", "tokens per dollar".
    pub label: String,
    pub unit: Unit,
    pub better: Better,
}

/// One fabric or plan of a bar chart: one value per metric, in the metrics' order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarRow {
    pub label: String,
    pub values: Vec<f64>,
}

/// Side-by-side horizontal bars: one panel per metric, one bar per row (fabric or plan) in each,
/// a row keeping its colour across panels. Marks: `bar`, one per drawable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarChart {
    pub title: String,
    pub metrics: Vec<BarMetric>,
    pub rows: Vec<BarRow>,
}

/// One bar of a stacked chart: one value per part, in the parts' order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackedRow {
    pub label: String,
    pub values: Vec<f64>,
}

/// Stacked horizontal bars (a step's breakdown per plan or per pipeline stage, memory per
/// accelerator). Marks: `segment`, one per positive finite value (zero parts are not drawn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackedChart {
    pub title: String,
    pub unit: Unit,
    /// Names of the parts, each with its own colour (the first ten colours are distinct).
    pub parts: Vec<String>,
    pub rows: Vec<StackedRow>,
    /// Vertical reference lines on the value axis.
    pub guides: Vec<Guide>,
}

/// One series of a line chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    /// (x, y) pairs; the line joins them in order of x.
    pub points: Vec<(f64, f64)>,
}

/// One metric over a swept parameter, one series per group. Marks: `line-point` per drawable
/// point, `line` per series with ≥ 2 drawable points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

/// Minimise-both Pareto front of (x, y) pairs: `true` where no other point is at least as good
/// on both and better on one. Non-finite pairs are never on the front; equal points all are.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    let ok = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    points
        .iter()
        .map(|p| {
            ok(p)
                && !points
                    .iter()
                    .any(|q| ok(q) && q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1))
        })
        .collect()
}

/// A drawn chart: its SVG, legend, notes about values not drawn, table, and marks by kind.
pub(crate) struct Drawn {
    pub svg: String,
    pub legend: Vec<(String, String)>,
    pub notes: Vec<String>,
    pub table: String,
    pub marks: BTreeMap<&'static str, usize>,
}

impl Drawn {
    fn new() -> Self {
        Drawn {
            svg: String::new(),
            legend: Vec::new(),
            notes: Vec::new(),
            table: String::new(),
            marks: BTreeMap::new(),
        }
    }
    fn mark(&mut self, kind: &'static str) {
        *self.marks.entry(kind).or_insert(0) += 1;
    }
}

/// Colour classes (`c0`…`c9`, CSS in `mod.rs`), cycled.
fn colour(i: usize) -> String {
    format!("c{}", i % 10)
}

/// Pixel coordinates: one decimal, deterministic.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// A label cut to `n` characters with an ellipsis (the full text is in the tooltip and table).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn svg_open(d: &mut Drawn, w: f64, h: f64, title: &str) {
    let _ = write!(
        d.svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"><title>{}</title>"#,
        esc(title)
    );
}

fn no_data(d: &mut Drawn, w: f64, h: f64) {
    let _ = write!(
        d.svg,
        r#"<rect class="frame" x="1" y="1" width="{}" height="{}"/><text class="nodata" x="{}" y="{}" text-anchor="middle">no data</text>"#,
        w - 2.0,
        h - 2.0,
        w / 2.0,
        h / 2.0
    );
}

/// Why a value cannot be drawn on an axis, if it cannot.
fn undrawable(v: f64, log: bool) -> Option<String> {
    if !v.is_finite() {
        Some(non_finite(v).to_string())
    } else if log && v <= 0.0 {
        Some(format!("{v} ≤ 0 on a logarithmic axis"))
    } else {
        None
    }
}

/// Gridlines and tick labels of an x axis (bottom) and/or y axis (left) over a plot area.
fn axes(d: &mut Drawn, xs: &Scale, ys: &Scale, x: &Axis, y: &Axis, area: (f64, f64, f64, f64)) {
    let (l, t, r, b) = area;
    for v in xs.ticks() {
        let p = px(xs.px(v));
        let _ = write!(
            d.svg,
            r#"<line class="grid" x1="{p}" y1="{}" x2="{p}" y2="{}"/><text class="tick" x="{p}" y="{}" text-anchor="middle">{}</text>"#,
            px(t),
            px(b),
            px(b + 16.0),
            esc(&format(v, &x.unit, Style::Tick))
        );
    }
    for v in ys.ticks() {
        let p = px(ys.px(v));
        let _ = write!(
            d.svg,
            r#"<line class="grid" x1="{}" y1="{p}" x2="{}" y2="{p}"/><text class="tick" x="{}" y="{p}" dy="4" text-anchor="end">{}</text>"#,
            px(l),
            px(r),
            px(l - 6.0),
            esc(&format(v, &y.unit, Style::Tick))
        );
    }
    let _ = write!(
        d.svg,
        r#"<rect class="frame" x="{}" y="{}" width="{}" height="{}"/><text class="axis" x="{}" y="{}" text-anchor="middle">{}{}</text><text class="axis" transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}{}</text>"#,
        px(l),
        px(t),
        px(r - l),
        px(b - t),
        px((l + r) / 2.0),
        px(b + 36.0),
        esc(&x.label),
        if x.log { " (log scale)" } else { "" },
        px((t + b) / 2.0),
        esc(&y.label),
        if y.log { " (log scale)" } else { "" },
    );
}

/// `min..max` of finite values, if any.
fn range(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    vals.filter(|v| v.is_finite()).fold(None, |acc, v| {
        Some(acc.map_or((v, v), |(a, b): (f64, f64)| (a.min(v), b.max(v))))
    })
}

fn table_open(t: &mut String, caption: &str, headers: &[String]) {
    let _ = write!(t, "<table><caption>{}</caption><thead><tr>", esc(caption));
    for h in headers {
        let _ = write!(t, r#"<th scope="col">{}</th>"#, esc(h));
    }
    t.push_str("</tr></thead><tbody>");
}

fn cell(v: f64, unit: &Unit) -> String {
    format!(r#"<td class="num">{}</td>"#, esc(&format(v, unit, Style::Value)))
}

pub(crate) fn scatter(c: &ScatterChart) -> Drawn {
    let (w, h) = (760.0, 440.0);
    let area = (84.0, 16.0, w - 24.0, h - 52.0);
    let mut d = Drawn::new();
    svg_open(&mut d, w, h, &c.title);
    let mut ok = Vec::new();
    for p in &c.points {
        match undrawable(p.x, c.x.log).or_else(|| undrawable(p.y, c.y.log)) {
            Some(why) => d.notes.push(format!("{}: {why}", p.label)),
            None => ok.push(p),
        }
    }
    let xg = c.x_guides.iter().filter(|g| undrawable(g.value, c.x.log).is_none());
    let yg = c.y_guides.iter().filter(|g| undrawable(g.value, c.y.log).is_none());
    match (
        range(ok.iter().map(|p| p.x).chain(xg.clone().map(|g| g.value))),
        range(ok.iter().map(|p| p.y).chain(yg.clone().map(|g| g.value))),
    ) {
        (Some((x0, x1)), Some((y0, y1))) if !ok.is_empty() => {
            let xs = Scale::new(x0, x1, c.x.log, false, &c.x.unit, area.0, area.2);
            let ys = Scale::new(y0, y1, c.y.log, false, &c.y.unit, area.3, area.1);
            axes(&mut d, &xs, &ys, &c.x, &c.y, area);
            for g in xg {
                let p = px(xs.px(g.value));
                let _ = write!(
                    d.svg,
                    r#"<line class="guide" x1="{p}" y1="{}" x2="{p}" y2="{}"/><text class="guide-label" x="{p}" y="{}" dx="4">{}</text>"#,
                    px(area.1),
                    px(area.3),
                    px(area.1 + 12.0),
                    esc(&g.label)
                );
            }
            for g in yg {
                let p = px(ys.px(g.value));
                let _ = write!(
                    d.svg,
                    r#"<line class="guide" x1="{}" y1="{p}" x2="{}" y2="{p}"/><text class="guide-label" x="{}" y="{p}" dy="-4" text-anchor="end">{}</text>"#,
                    px(area.0),
                    px(area.2),
                    px(area.2 - 4.0),
                    esc(&g.label)
                );
            }
            let tip = |p: &ScatterPoint| {
                format!(
                    "{}: {} {}, {} {}",
                    p.label,
                    c.x.label,
                    format(p.x, &c.x.unit, Style::Value),
                    c.y.label,
                    format(p.y, &c.y.unit, Style::Value)
                )
            };
            for p in ok.iter().filter(|p| !p.on_front) {
                let _ = write!(
                    d.svg,
                    r#"<circle class="mark point" data-kind="point" data-x="{}" data-y="{}" cx="{}" cy="{}" r="4"><title>{}</title></circle>"#,
                    p.x,
                    p.y,
                    px(xs.px(p.x)),
                    px(ys.px(p.y)),
                    esc(&tip(p))
                );
                d.mark("point");
            }
            let mut front: Vec<&&ScatterPoint> = ok.iter().filter(|p| p.on_front).collect();
            front.sort_by(|a, b| a.x.total_cmp(&b.x).then(b.y.total_cmp(&a.y)));
            if front.len() >= 2 {
                // The staircase bounding the dominated region: across at a point's y to the
                // next point's x, then down to its y.
                let mut path = format!("M{},{}", px(xs.px(front[0].x)), px(ys.px(front[0].y)));
                for p in &front[1..] {
                    let _ = write!(path, " H{} V{}", px(xs.px(p.x)), px(ys.px(p.y)));
                }
                let _ = write!(
                    d.svg,
                    r#"<path class="mark front" data-kind="pareto-line" d="{path}"><title>Pareto front</title></path>"#
                );
                d.mark("pareto-line");
            }
            for p in &front {
                let _ = write!(
                    d.svg,
                    r#"<circle class="mark pareto" data-kind="pareto-point" data-x="{}" data-y="{}" cx="{}" cy="{}" r="5"><title>{}</title></circle>"#,
                    p.x,
                    p.y,
                    px(xs.px(p.x)),
                    px(ys.px(p.y)),
                    esc(&tip(p))
                );
                d.mark("pareto-point");
            }
            for p in ok.iter().filter(|p| p.highlight) {
                let _ = write!(
                    d.svg,
                    r#"<circle class="mark ring" data-kind="highlight" cx="{}" cy="{}" r="9"><title>{}</title></circle>"#,
                    px(xs.px(p.x)),
                    px(ys.px(p.y)),
                    esc(&format!("{}: {}", c.highlight_label, tip(p)))
                );
                d.mark("highlight");
            }
            let label_all = ok.len() <= 12;
            for p in ok.iter().filter(|p| label_all || p.on_front || p.highlight) {
                let _ = write!(
                    d.svg,
                    r#"<text class="label" x="{}" y="{}">{}</text>"#,
                    px(xs.px(p.x) + 7.0),
                    px(ys.px(p.y) - 7.0),
                    esc(&clip(&p.label, 28))
                );
            }
            if !front.is_empty() {
                d.legend.push((
                    "pareto".into(),
                    "Pareto front (no other point is cheaper and faster)".into(),
                ));
            }
            if ok.iter().any(|p| !p.on_front) {
                d.legend.push(("point".into(), "other points".into()));
            }
            if ok.iter().any(|p| p.highlight) {
                d.legend.push(("ring".into(), c.highlight_label.clone()));
            }
        }
        _ => no_data(&mut d, w, h),
    }
    d.svg.push_str("</svg>");
    let mut t = String::new();
    table_open(
        &mut t,
        &c.title,
        &[
            "point".into(),
            c.x.label.clone(),
            c.y.label.clone(),
            "Pareto front".into(),
            c.highlight_label.clone(),
        ],
    );
    for p in &c.points {
        let _ = write!(
            t,
            "<tr><th scope=\"row\">{}</th>{}{}<td>{}</td><td>{}</td></tr>",
            esc(&p.label),
            cell(p.x, &c.x.unit),
            cell(p.y, &c.y.unit),
            if p.on_front { "yes" } else { "" },
            if p.highlight { "yes" } else { "" }
        );
    }
    t.push_str("</tbody></table>");
    d.table = t;
    d
}

pub(crate) fn bars(c: &BarChart) -> Drawn {
    let label_w = 170.0;
    let panel_w = 240.0;
    let row_h = 22.0;
    let top = 38.0;
    let m = c.metrics.len().max(1) as f64;
    let n = c.rows.len() as f64;
    let w = label_w + m * panel_w + 8.0;
    let h = top + n.max(1.0) * row_h + 30.0;
    let mut d = Drawn::new();
    svg_open(&mut d, w, h, &c.title);
    for r in &c.rows {
        if r.values.len() != c.metrics.len() {
            d.notes.push(format!(
                "{}: {} values for {} metrics (missing ones are not drawn, extra ones ignored)",
                r.label,
                r.values.len(),
                c.metrics.len()
            ));
        }
    }
    let value = |r: &BarRow, j: usize| r.values.get(j).copied().unwrap_or(f64::NAN);
    let any = c
        .metrics
        .iter()
        .enumerate()
        .any(|(j, _)| c.rows.iter().any(|r| value(r, j).is_finite()));
    if !any {
        no_data(&mut d, w, h);
    } else {
        for (i, r) in c.rows.iter().enumerate() {
            let y = top + i as f64 * row_h + row_h / 2.0;
            let _ = write!(
                d.svg,
                r#"<text class="label" x="{}" y="{}" dy="4" text-anchor="end"><title>{}</title>{}</text>"#,
                px(label_w - 8.0),
                px(y),
                esc(&r.label),
                esc(&clip(&r.label, 24))
            );
        }
        for (j, met) in c.metrics.iter().enumerate() {
            let x0 = label_w + j as f64 * panel_w;
            let vals: Vec<f64> = c.rows.iter().map(|r| value(r, j)).collect();
            let _ = write!(
                d.svg,
                r#"<text class="axis" x="{}" y="14">{}</text><text class="tick" x="{}" y="28">{}</text>"#,
                px(x0 + 4.0),
                esc(&clip(&met.label, 32)),
                px(x0 + 4.0),
                match met.better {
                    Better::Lower => "lower is better",
                    Better::Higher => "higher is better",
                    Better::Neither => "",
                }
            );
            let Some((lo, hi)) = range(vals.iter().copied()) else {
                let _ = write!(
                    d.svg,
                    r#"<text class="nodata" x="{}" y="{}">no data</text>"#,
                    px(x0 + 8.0),
                    px(top + 16.0)
                );
                continue;
            };
            let s = Scale::new(lo, hi, false, true, &met.unit, x0 + 6.0, x0 + panel_w - 104.0);
            let bottom = top + n * row_h;
            let zero = px(s.px(0.0));
            for v in [s.lo, s.hi] {
                let p = px(s.px(v));
                let _ = write!(
                    d.svg,
                    r#"<line class="grid" x1="{p}" y1="{}" x2="{p}" y2="{}"/><text class="tick" x="{p}" y="{}" text-anchor="middle">{}</text>"#,
                    px(top),
                    px(bottom),
                    px(bottom + 16.0),
                    esc(&format(v, &met.unit, Style::Tick))
                );
            }
            let _ = write!(
                d.svg,
                r#"<line class="baseline" x1="{zero}" y1="{}" x2="{zero}" y2="{}"/>"#,
                px(top),
                px(bottom)
            );
            let best = match met.better {
                Better::Lower => Some(lo),
                Better::Higher => Some(hi),
                Better::Neither => None,
            };
            for (i, (r, &v)) in c.rows.iter().zip(&vals).enumerate() {
                if !v.is_finite() {
                    if j < r.values.len() {
                        d.notes.push(format!("{} · {}: {}", r.label, met.label, non_finite(v)));
                    }
                    continue;
                }
                let (a, b) = (s.px(0.0).min(s.px(v)), s.px(0.0).max(s.px(v)));
                let y = top + i as f64 * row_h + 4.0;
                let is_best = best == Some(v);
                let text = format(v, &met.unit, Style::Value);
                let _ = write!(
                    d.svg,
                    r#"<rect class="mark bar {}{}" data-kind="bar" data-value="{v}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect><text class="value{}" x="{}" y="{}" dy="4">{}</text>"#,
                    colour(i),
                    if is_best { " best" } else { "" },
                    px(a),
                    px(y),
                    px(b - a),
                    px(row_h - 8.0),
                    esc(&format!("{} · {}: {text}", r.label, met.label)),
                    if is_best { " best" } else { "" },
                    px(b + 4.0),
                    px(y + (row_h - 8.0) / 2.0),
                    esc(&text)
                );
                d.mark("bar");
            }
        }
        if c.metrics.iter().any(|m| m.better != Better::Neither) {
            d.legend
                .push(("best".into(), "outlined bar, bold value: the best of its metric".into()));
        }
    }
    d.svg.push_str("</svg>");
    let mut headers = vec![String::new()];
    headers.extend(c.metrics.iter().map(|m| m.label.clone()));
    let mut t = String::new();
    table_open(&mut t, &c.title, &headers);
    for r in &c.rows {
        let _ = write!(t, "<tr><th scope=\"row\">{}</th>", esc(&r.label));
        for (j, met) in c.metrics.iter().enumerate() {
            t.push_str(&cell(value(r, j), &met.unit));
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    d.table = t;
    d
}

pub(crate) fn stacked(c: &StackedChart) -> Drawn {
    let (label_w, w, row_h, top) = (220.0, 780.0, 26.0, 8.0);
    let n = c.rows.len() as f64;
    let h = top + n.max(1.0) * row_h + 44.0;
    let (l, r) = (label_w, w - 96.0);
    let mut d = Drawn::new();
    svg_open(&mut d, w, h, &c.title);
    let part = |i: usize| c.parts.get(i).map(String::as_str).unwrap_or("(unnamed part)");
    let ok = |v: f64| v.is_finite() && v > 0.0;
    for row in &c.rows {
        if row.values.len() != c.parts.len() {
            d.notes.push(format!(
                "{}: {} values for {} parts",
                row.label,
                row.values.len(),
                c.parts.len()
            ));
        }
        for (i, &v) in row.values.iter().enumerate() {
            if !v.is_finite() || v < 0.0 {
                let why = if v.is_finite() {
                    format!("negative ({})", format(v, &c.unit, Style::Value))
                } else {
                    non_finite(v).to_string()
                };
                d.notes.push(format!("{} · {}: {why}", row.label, part(i)));
            }
        }
    }
    let totals: Vec<f64> = c
        .rows
        .iter()
        .map(|row| row.values.iter().copied().filter(|&v| ok(v)).sum())
        .collect();
    let guides: Vec<&Guide> = c.guides.iter().filter(|g| g.value.is_finite()).collect();
    let max = totals
        .iter()
        .copied()
        .chain(guides.iter().map(|g| g.value))
        .fold(0.0f64, f64::max);
    if !c.rows.iter().any(|row| row.values.iter().any(|&v| ok(v))) {
        no_data(&mut d, w, h);
    } else {
        let s = Scale::new(0.0, max, false, true, &c.unit, l, r);
        let bottom = top + n * row_h;
        for v in s.ticks() {
            let p = px(s.px(v));
            let _ = write!(
                d.svg,
                r#"<line class="grid" x1="{p}" y1="{}" x2="{p}" y2="{}"/><text class="tick" x="{p}" y="{}" text-anchor="middle">{}</text>"#,
                px(top),
                px(bottom),
                px(bottom + 16.0),
                esc(&format(v, &c.unit, Style::Tick))
            );
        }
        let mut used = vec![
            false;
            c.parts
                .len()
                .max(c.rows.iter().map(|x| x.values.len()).max().unwrap_or(0))
        ];
        for (k, row) in c.rows.iter().enumerate() {
            let y = top + k as f64 * row_h;
            let _ = write!(
                d.svg,
                r#"<text class="label" x="{}" y="{}" dy="4" text-anchor="end"><title>{}</title>{}</text>"#,
                px(l - 8.0),
                px(y + row_h / 2.0),
                esc(&row.label),
                esc(&clip(&row.label, 32))
            );
            let mut acc = 0.0;
            for (i, &v) in row.values.iter().enumerate() {
                if !ok(v) {
                    continue;
                }
                used[i] = true;
                let (a, b) = (s.px(acc), s.px(acc + v));
                acc += v;
                let _ = write!(
                    d.svg,
                    r#"<rect class="mark seg {}" data-kind="segment" data-value="{v}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
                    colour(i),
                    px(a),
                    px(y + 4.0),
                    px(b - a),
                    px(row_h - 8.0),
                    esc(&format!(
                        "{} · {}: {} ({:.1} % of {})",
                        row.label,
                        part(i),
                        format(v, &c.unit, Style::Value),
                        v / totals[k] * 100.0,
                        format(totals[k], &c.unit, Style::Value)
                    ))
                );
                d.mark("segment");
            }
            if acc > 0.0 {
                let _ = write!(
                    d.svg,
                    r#"<text class="value" x="{}" y="{}" dy="4">{}</text>"#,
                    px(s.px(acc) + 4.0),
                    px(y + row_h / 2.0),
                    esc(&format(acc, &c.unit, Style::Value))
                );
            }
        }
        for g in guides {
            let p = px(s.px(g.value));
            let _ = write!(
                d.svg,
                r#"<line class="guide" x1="{p}" y1="{}" x2="{p}" y2="{}"/><text class="guide-label" x="{p}" y="{}" text-anchor="middle">{}</text>"#,
                px(top),
                px(bottom),
                px(bottom + 32.0),
                esc(&g.label)
            );
        }
        for (i, u) in used.iter().enumerate() {
            if *u {
                d.legend.push((colour(i), part(i).to_string()));
            }
        }
    }
    d.svg.push_str("</svg>");
    let mut headers = vec![String::new()];
    headers.extend(c.parts.iter().cloned());
    headers.push("total".into());
    let mut t = String::new();
    table_open(&mut t, &c.title, &headers);
    for (k, row) in c.rows.iter().enumerate() {
        let _ = write!(t, "<tr><th scope=\"row\">{}</th>", esc(&row.label));
        for i in 0..c.parts.len() {
            match row.values.get(i) {
                Some(&0.0) => t.push_str("<td class=\"num\">—</td>"),
                Some(&v) => t.push_str(&cell(v, &c.unit)),
                None => t.push_str("<td class=\"num\">missing</td>"),
            }
        }
        t.push_str(&cell(totals[k], &c.unit));
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    d.table = t;
    d
}

pub(crate) fn lines(c: &LineChart) -> Drawn {
    let (w, h) = (760.0, 400.0);
    let area = (84.0, 16.0, w - 24.0, h - 52.0);
    let mut d = Drawn::new();
    svg_open(&mut d, w, h, &c.title);
    let mut drawable: Vec<Vec<(f64, f64)>> = Vec::new();
    for s in &c.series {
        let mut pts = Vec::new();
        for &(x, y) in &s.points {
            match undrawable(x, c.x.log).or_else(|| undrawable(y, c.y.log)) {
                Some(why) => d.notes.push(format!(
                    "{} at x = {}: {why}",
                    s.name,
                    format(x, &c.x.unit, Style::Value)
                )),
                None => pts.push((x, y)),
            }
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        drawable.push(pts);
    }
    let all = || drawable.iter().flatten();
    match (range(all().map(|p| p.0)), range(all().map(|p| p.1))) {
        (Some((x0, x1)), Some((y0, y1))) => {
            let xs = Scale::new(x0, x1, c.x.log, false, &c.x.unit, area.0, area.2);
            let ys = Scale::new(y0, y1, c.y.log, false, &c.y.unit, area.3, area.1);
            axes(&mut d, &xs, &ys, &c.x, &c.y, area);
            for (i, (s, pts)) in c.series.iter().zip(&drawable).enumerate() {
                if pts.len() >= 2 {
                    let path: Vec<String> = pts
                        .iter()
                        .enumerate()
                        .map(|(k, p)| {
                            format!(
                                "{}{},{}",
                                if k == 0 { "M" } else { "L" },
                                px(xs.px(p.0)),
                                px(ys.px(p.1))
                            )
                        })
                        .collect();
                    let _ = write!(
                        d.svg,
                        r#"<path class="mark line {}" data-kind="line" d="{}"><title>{}</title></path>"#,
                        colour(i),
                        path.join(" "),
                        esc(&s.name)
                    );
                    d.mark("line");
                }
                for p in pts {
                    let _ = write!(
                        d.svg,
                        r#"<circle class="mark dot {}" data-kind="line-point" data-x="{}" data-y="{}" cx="{}" cy="{}" r="3.5"><title>{}</title></circle>"#,
                        colour(i),
                        p.0,
                        p.1,
                        px(xs.px(p.0)),
                        px(ys.px(p.1)),
                        esc(&format!(
                            "{} · {} {}: {} {}",
                            s.name,
                            c.x.label,
                            format(p.0, &c.x.unit, Style::Value),
                            c.y.label,
                            format(p.1, &c.y.unit, Style::Value)
                        ))
                    );
                    d.mark("line-point");
                }
                if !pts.is_empty() {
                    d.legend.push((colour(i), s.name.clone()));
                }
            }
        }
        _ => no_data(&mut d, w, h),
    }
    d.svg.push_str("</svg>");
    // Table: one row per x value (all series' x values, sorted), one column per series.
    let mut xs_all: Vec<f64> = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
    xs_all.sort_by(f64::total_cmp);
    xs_all.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let mut headers = vec![c.x.label.clone()];
    headers.extend(c.series.iter().map(|s| format!("{} · {}", s.name, c.y.label)));
    let mut t = String::new();
    table_open(&mut t, &c.title, &headers);
    for x in xs_all {
        let _ = write!(
            t,
            "<tr><th scope=\"row\">{}</th>",
            esc(&format(x, &c.x.unit, Style::Value))
        );
        for s in &c.series {
            let ys: Vec<String> = s
                .points
                .iter()
                .filter(|p| p.0.total_cmp(&x).is_eq())
                .map(|p| format(p.1, &c.y.unit, Style::Value))
                .collect();
            let _ = write!(t, "<td class=\"num\">{}</td>", esc(&ys.join(", ")));
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    d.table = t;
    d
}

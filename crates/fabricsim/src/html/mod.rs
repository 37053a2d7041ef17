//! Self-contained HTML reports: one file with inline CSS, inline SVG charts and a small inline
//! script, no external resource (a Content-Security-Policy in the page forbids loading any),
//! so it opens anywhere without a network.
//!
//! A [`Page`] is a title and a list of [`Block`]s — headings, paragraphs, facts (name → value)
//! and charts: [`ScatterChart`] (a Pareto front: `design`), [`BarChart`] (side-by-side bars per
//! metric: `compare`), [`StackedChart`] (a step's breakdown: `plan`, `train`) and [`LineChart`]
//! (a metric over a swept parameter: `sweep`). Each chart is followed by a table of the same
//! numbers. [`Page::render`] is deterministic: the same page gives the same bytes (no clock, no
//! random ids, fixed number formatting); every text is escaped.
//!
//! Every drawn data mark carries `class="mark …"` and a `data-kind` (`pareto-point`, `point`,
//! `pareto-line`, `highlight`, `bar`, `segment`, `line`, `line-point`). The page's script counts
//! them when it loads and writes the counts into the DOM — on `<body>`:
//! `data-script="ran"`, `data-charts`, `data-marks-<kind>`, `data-visible-<kind>` (marks with a
//! non-empty box inside their SVG's view box), `data-marks-total`, `data-js-errors`; on each
//! chart's `<figure>`: `data-marks` and `data-marks-visible` (`kind=count` pairs) — and records
//! every JavaScript error or blocked load in `data-js-errors` and the `#js-errors` list, so a
//! headless browser's dumped DOM shows that the page ran and what it drew.
//! [`Page::expected_marks`] gives the counts the page should show.
//!
//! This module knows nothing of the simulation except [`StepParts`]' conversions from a training
//! report (`step.rs`); callers turn their results into the chart inputs.

mod charts;
mod reports;
mod scale;
mod step;
#[cfg(test)]
mod tests;

pub use charts::{
    pareto_front, Axis, BarChart, BarMetric, BarRow, Better, Guide, LineChart, ScatterChart, ScatterPoint, Series,
    StackedChart, StackedRow,
};
pub use reports::{compare_page, design_page, plan_page, sweep_page};
pub use scale::Unit;
pub use step::{StepParts, STEP_PART_NAMES};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One piece of a page, in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A paragraph of plain text.
    Text(String),
    /// A two-column table of name → value (the run's setup and headline numbers).
    Facts(Vec<(String, String)>),
    Scatter(ScatterChart),
    Bars(BarChart),
    Stacked(StackedChart),
    Lines(LineChart),
}

impl From<ScatterChart> for Block {
    fn from(c: ScatterChart) -> Self {
        Block::Scatter(c)
    }
}
impl From<BarChart> for Block {
    fn from(c: BarChart) -> Self {
        Block::Bars(c)
    }
}
impl From<StackedChart> for Block {
    fn from(c: StackedChart) -> Self {
        Block::Stacked(c)
    }
}
impl From<LineChart> for Block {
    fn from(c: LineChart) -> Self {
        Block::Lines(c)
    }
}

/// A whole HTML report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The page's `<title>` and top heading.
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Page {
    /// An empty page with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Page {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Add a section heading.
    pub fn heading(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    /// Add a paragraph.
    pub fn text(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    /// Add a name → value table.
    pub fn facts<N: Into<String>, V: Into<String>>(&mut self, rows: impl IntoIterator<Item = (N, V)>) -> &mut Self {
        self.blocks.push(Block::Facts(
            rows.into_iter().map(|(n, v)| (n.into(), v.into())).collect(),
        ));
        self
    }

    /// Add a chart (any of the four kinds).
    pub fn chart(&mut self, c: impl Into<Block>) -> &mut Self {
        self.blocks.push(c.into());
        self
    }

    /// The data marks the page draws, by `data-kind` (what its script should count).
    pub fn expected_marks(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for b in &self.blocks {
            if let Some((_, d)) = draw(b) {
                for (k, n) in d.marks {
                    *m.entry(k.to_string()).or_insert(0) += n;
                }
            }
        }
        m
    }

    /// The page as one self-contained HTML document.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(64 * 1024);
        let version = env!("CARGO_PKG_VERSION");
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"fabricsim {version}\">\n<title>{}</title>\n<style>\n{}</style>\n<script>\n{HEAD_JS}</script>\n</head>\n",
            esc(&self.title),
            css()
        );
        let _ = write!(
            s,
            "<body data-script=\"not-run\" data-js-errors=\"0\">\n<header><h1>{}</h1><p class=\"gen\">Written by fabricsim {version}. \
             Self-contained: no network needed. Hover over a mark for its numbers; each chart's numbers are in the table below it.</p></header>\n<main>\n",
            esc(&self.title)
        );
        let mut n = 0;
        for b in &self.blocks {
            match b {
                Block::Heading(t) => {
                    let _ = writeln!(s, "<h2>{}</h2>", esc(t));
                }
                Block::Text(t) => {
                    let _ = writeln!(s, "<p>{}</p>", esc(t));
                }
                Block::Facts(rows) => {
                    s.push_str("<table class=\"facts\"><tbody>");
                    for (k, v) in rows {
                        let _ = write!(s, "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", esc(k), esc(v));
                    }
                    s.push_str("</tbody></table>\n");
                }
                _ => {
                    let Some((kind, d)) = draw(b) else { continue };
                    n += 1;
                    let title = match b {
                        Block::Scatter(c) => &c.title,
                        Block::Bars(c) => &c.title,
                        Block::Stacked(c) => &c.title,
                        Block::Lines(c) => &c.title,
                        _ => unreachable!("only charts are drawn"),
                    };
                    let total: usize = d.marks.values().sum();
                    let _ = write!(
                        s,
                        "<figure class=\"chart\" id=\"chart-{n}\" data-chart=\"{kind}\" data-empty=\"{}\"><figcaption><h3>{}</h3></figcaption>\n{}\n",
                        total == 0,
                        esc(title),
                        d.svg
                    );
                    if !d.legend.is_empty() {
                        s.push_str("<ul class=\"legend\">");
                        for (class, text) in &d.legend {
                            let _ = write!(s, "<li><span class=\"sw {class}\"></span>{}</li>", esc(text));
                        }
                        s.push_str("</ul>\n");
                    }
                    if !d.notes.is_empty() {
                        let _ = write!(s, "<div class=\"warn\"><p>Not drawn ({}):</p><ul>", d.notes.len());
                        for note in &d.notes {
                            let _ = write!(s, "<li>{}</li>", esc(note));
                        }
                        s.push_str("</ul></div>\n");
                    }
                    s.push_str(&d.table);
                    s.push_str("\n</figure>\n");
                }
            }
        }
        let _ = write!(
            s,
            "</main>\n<footer><p id=\"status\">The page's script has not run.</p><ul id=\"js-errors\" hidden></ul></footer>\n<script>\n{BODY_JS}</script>\n</body>\n</html>\n"
        );
        s
    }
}

/// A chart block's kind name and drawing; `None` for text blocks.
fn draw(b: &Block) -> Option<(&'static str, charts::Drawn)> {
    match b {
        Block::Scatter(c) => Some(("scatter", charts::scatter(c))),
        Block::Bars(c) => Some(("bars", charts::bars(c))),
        Block::Stacked(c) => Some(("stacked", charts::stacked(c))),
        Block::Lines(c) => Some(("lines", charts::lines(c))),
        _ => None,
    }
}

/// Escape text for HTML/SVG content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Colour-blind-safe palette (Okabe & Ito, 2008, plus wine and dark grey): the parts of a step
/// take them in `STEP_PART_NAMES` order.
const PALETTE: [&str; 10] = [
    "#0072B2", "#56B4E9", "#E69F00", "#F0E442", "#CC79A7", "#882255", "#D55E00", "#BBBBBB", "#009E73", "#444444",
];

fn css() -> String {
    let mut s = String::from(
        "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0 auto;max-width:1100px;padding:0 16px 32px}\n\
         h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:0 0 6px}\n\
         .gen{color:#666;font-size:12px;margin:0 0 12px}\n\
         figure.chart{margin:20px 0 28px;padding:0}\n\
         svg{max-width:100%;height:auto;display:block;font-size:12px}\n\
         svg text{fill:#222}.tick{fill:#555}.axis{font-weight:600}.label{fill:#333}.value{fill:#333}.value.best{font-weight:700}\n\
         .grid{stroke:#e6e6e6}.baseline{stroke:#888}.frame{fill:none;stroke:#bbb}\n\
         .nodata{font-size:18px;fill:#a00;font-weight:600}\n\
         .guide{stroke:#777;stroke-dasharray:5 4}.guide-label{fill:#555;font-size:11px}\n\
         .point{fill:#fff;stroke:#777;stroke-width:1.5}.pareto{fill:#0072B2;stroke:#fff}.front{fill:none;stroke:#0072B2;stroke-width:2}\n\
         .ring{fill:none;stroke:#D55E00;stroke-width:2.5}.bar.best{stroke:#000;stroke-width:1.5}\n\
         .line{fill:none;stroke-width:2}.dot{stroke:#fff}\n\
         .legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px}\n\
         .sw{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-2px;border-radius:2px}\n\
         .sw.pareto{background:#0072B2;border-radius:6px}.sw.point{border:1.5px solid #777;border-radius:6px;width:9px;height:9px}\n\
         .sw.ring{border:2.5px solid #D55E00;border-radius:8px;width:8px;height:8px}.sw.best{border:1.5px solid #000}\n\
         .warn{background:#fff4e5;border-left:4px solid #D55E00;padding:4px 10px;margin:6px 0;font-size:13px}.warn p,.warn ul{margin:2px 0}\n\
         table{border-collapse:collapse;margin:8px 0;font-size:12px}caption{text-align:left;font-weight:600;padding:2px 0}\n\
         th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\n\
         thead th{background:#f4f4f4}table.facts th{background:#f8f8f8;font-weight:600}\n\
         #status{color:#666;font-size:12px}#js-errors{color:#a00}\n",
    );
    for (i, c) in PALETTE.iter().enumerate() {
        let _ = writeln!(
            s,
            ".bar.c{i},.seg.c{i},.dot.c{i},.sw.c{i}{{fill:{c};background:{c}}}.line.c{i}{{stroke:{c}}}"
        );
    }
    s
}

/// Installed first: records JavaScript errors, unhandled rejections and loads the page policy
/// blocked, and shows them in `#js-errors` and `data-js-errors` once the body exists.
const HEAD_JS: &str = r#"(function () {
  var errors = [];
  window.__fabricsimErrors = errors;
  function show() {
    var b = document.body, list = document.getElementById('js-errors');
    if (!b || !list) return;
    b.setAttribute('data-js-errors', String(errors.length));
    while (list.firstChild) list.removeChild(list.firstChild);
    for (var i = 0; i < errors.length; i++) {
      var li = document.createElement('li');
      li.textContent = errors[i];
      list.appendChild(li);
    }
    list.hidden = errors.length === 0;
  }
  function record(m) { errors.push(String(m)); show(); }
  window.__fabricsimRecord = record;
  window.__fabricsimShow = show;
  window.onerror = function (msg, src, line, col) {
    record('error: ' + msg + ' (line ' + line + ':' + col + ')');
    return false;
  };
  window.addEventListener('unhandledrejection', function (e) { record('unhandled rejection: ' + e.reason); });
  document.addEventListener('securitypolicyviolation', function (e) {
    record('blocked by the page policy: ' + e.blockedURI + ' (' + e.violatedDirective + ')');
  });
})();
"#;

/// Runs at the end of the body: counts the marks of every chart by kind, and those whose box is
/// non-empty and inside their SVG's view box (drawn where a reader sees them), into the DOM.
const BODY_JS: &str = r#"(function () {
  var b = document.body, all = {}, visible = {}, total = 0;
  function summary(o) {
    return Object.keys(o).sort().map(function (k) { return k + '=' + o[k]; }).join(' ');
  }
  try {
    var figures = document.querySelectorAll('figure.chart');
    for (var i = 0; i < figures.length; i++) {
      var f = figures[i], svg = f.querySelector('svg'), vb = svg.viewBox.baseVal;
      var marks = f.querySelectorAll('.mark'), mine = {}, seen = {};
      for (var j = 0; j < marks.length; j++) {
        var m = marks[j], k = m.getAttribute('data-kind') || 'unknown', r = m.getBBox();
        mine[k] = (mine[k] || 0) + 1;
        all[k] = (all[k] || 0) + 1;
        total++;
        var inside = (r.width > 0 || r.height > 0) &&
          r.x >= vb.x - 0.5 && r.y >= vb.y - 0.5 &&
          r.x + r.width <= vb.x + vb.width + 0.5 && r.y + r.height <= vb.y + vb.height + 0.5;
        if (inside) {
          seen[k] = (seen[k] || 0) + 1;
          visible[k] = (visible[k] || 0) + 1;
        }
      }
      f.setAttribute('data-marks', summary(mine));
      f.setAttribute('data-marks-visible', summary(seen));
    }
    Object.keys(all).sort().forEach(function (k) {
      b.setAttribute('data-marks-' + k, String(all[k]));
      b.setAttribute('data-visible-' + k, String(visible[k] || 0));
    });
    b.setAttribute('data-charts', String(figures.length));
    b.setAttribute('data-marks-total', String(total));
    document.getElementById('status').textContent =
      figures.length + ' charts, ' + total + ' marks drawn (' + (summary(all) || 'none') + ').';
  } catch (e) {
    window.__fabricsimRecord('report script: ' + e);
  }
  window.__fabricsimShow();
  b.setAttribute('data-script', 'ran');
})();
"#;

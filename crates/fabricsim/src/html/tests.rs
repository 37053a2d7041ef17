//! The HTML report's SVG: marks drawn = data given, escaping, determinism, empty and
//! non-finite input. (The page running in a real browser: `crates/cli/tests/html_browser.rs`.)

use super::*;

fn axis(label: &str, unit: Unit, log: bool) -> Axis {
    Axis {
        label: label.into(),
        unit,
        log,
    }
}

fn scatter(points: &[(&str, f64, f64)], log: bool) -> ScatterChart {
    let front = pareto_front(&points.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>());
    ScatterChart {
        title: "designs".into(),
        x: axis("capital cost", Unit::Usd, log),
        y: axis("step time", Unit::Seconds, false),
        points: points
            .iter()
            .zip(front)
            .map(|(p, f)| ScatterPoint {
                label: p.0.into(),
                x: p.1,
                y: p.2,
                on_front: f,
                highlight: false,
            })
            .collect(),
        x_guides: vec![],
        y_guides: vec![Guide {
            label: "non-blocking + 5 %".into(),
            value: 1.05,
        }],
        highlight_label: "cheapest within 5 %".into(),
    }
}

fn bars(rows: &[(&str, Vec<f64>)]) -> BarChart {
    BarChart {
        title: "fabrics".into(),
        metrics: vec![
            BarMetric {
                label: "step time".into(),
                unit: Unit::Seconds,
                better: Better::Lower,
            },
            BarMetric {
                label: "tokens per dollar".into(),
                unit: Unit::Count("tokens/$".into()),
                better: Better::Higher,
            },
        ],
        rows: rows
            .iter()
            .map(|(l, v)| BarRow {
                label: l.to_string(),
                values: v.clone(),
            })
            .collect(),
    }
}

fn stacked(rows: &[(&str, Vec<f64>)]) -> StackedChart {
    StackedChart {
        title: "memory".into(),
        unit: Unit::Bytes,
        parts: vec!["weights".into(), "grads".into(), "activations".into()],
        rows: rows
            .iter()
            .map(|(l, v)| StackedRow {
                label: l.to_string(),
                values: v.clone(),
            })
            .collect(),
        guides: vec![],
    }
}

fn lines(series: &[(&str, Vec<(f64, f64)>)]) -> LineChart {
    LineChart {
        title: "sweep".into(),
        x: axis("accelerators", Unit::Count(String::new()), true),
        y: axis("MFU", Unit::Fraction, false),
        series: series
            .iter()
            .map(|(n, p)| Series {
                name: n.to_string(),
                points: p.clone(),
            })
            .collect(),
    }
}

fn page_of(b: impl Into<Block>) -> Page {
    let mut p = Page::new("test");
    p.chart(b);
    p
}

/// Occurrences of `data-kind="kind"` in the page (only data marks carry `data-kind`).
fn count(html: &str, kind: &str) -> usize {
    html.matches(&format!("data-kind=\"{kind}\"")).count()
}

/// Check that the page draws exactly `want` marks per kind, and that every mark has both
/// `class="mark …"` and a `data-kind`, and that `expected_marks` says the same.
fn check(p: &Page, want: &[(&str, usize)]) {
    let html = p.render();
    let mut expected = BTreeMap::new();
    for (k, n) in want {
        assert_eq!(count(&html, k), *n, "kind {k}");
        if *n > 0 {
            expected.insert(k.to_string(), *n);
        }
    }
    let total: usize = want.iter().map(|x| x.1).sum();
    assert_eq!(
        html.matches("class=\"mark ").count(),
        total,
        "class=\"mark\" on every mark"
    );
    assert_eq!(html.matches("data-kind=").count(), total, "data-kind only on marks");
    assert_eq!(p.expected_marks(), expected);
}

#[test]
fn scatter_draws_one_mark_per_point_and_the_front() {
    let p = scatter(
        &[
            ("a", 10.0, 1.0),
            ("b", 5.0, 1.2),
            ("c", 3.0, 2.0),
            ("d", 8.0, 1.5), // dominated by b
            ("e", 12.0, 3.0),
        ],
        false,
    );
    let mut c = p.clone();
    c.points[2].highlight = true;
    check(
        &page_of(c),
        &[("pareto-point", 3), ("point", 2), ("pareto-line", 1), ("highlight", 1)],
    );
    // One front point: no step line.
    check(
        &page_of(scatter(&[("a", 1.0, 1.0), ("b", 2.0, 2.0)], true)),
        &[("pareto-point", 1), ("point", 1), ("pareto-line", 0)],
    );
}

#[test]
fn pareto_front_minimises_both() {
    let pts = [
        (1.0, 5.0),
        (2.0, 4.0),
        (2.0, 6.0),
        (3.0, 1.0),
        (3.0, 1.0),
        (f64::NAN, 0.0),
        (4.0, 4.0),
    ];
    assert_eq!(pareto_front(&pts), vec![true, true, false, true, true, false, false]);
    assert!(pareto_front(&[]).is_empty());
}

#[test]
fn front_is_a_staircase_in_x_order() {
    let html = page_of(scatter(&[("c", 3.0, 1.0), ("a", 1.0, 3.0), ("b", 2.0, 2.0)], false)).render();
    let d = html.split("data-kind=\"pareto-line\" d=\"").nth(1).unwrap();
    let d = &d[..d.find('"').unwrap()];
    // M a, then across and down to b, then to c: two H and two V segments.
    assert_eq!(d.matches(" H").count(), 2, "{d}");
    assert_eq!(d.matches(" V").count(), 2, "{d}");
}

#[test]
fn bars_one_per_value() {
    check(
        &page_of(bars(&[
            ("fat-tree", vec![1.0, 2.0e6]),
            ("rail-only", vec![1.2, 1.5e6]),
            ("hpn", vec![0.9, 2.5e6]),
        ])),
        &[("bar", 6)],
    );
}

#[test]
fn stacked_draws_positive_parts_only() {
    check(
        &page_of(stacked(&[
            ("stage 0", vec![1e9, 0.0, 5e8]),
            ("stage 1", vec![1e9, 2e9, 3e9]),
        ])),
        &[("segment", 5)],
    );
}

#[test]
fn lines_draw_points_and_one_line_per_series() {
    check(
        &page_of(lines(&[
            ("405B", vec![(64.0, 0.4), (128.0, 0.38), (256.0, 0.35)]),
            ("70B", vec![(64.0, 0.45)]),
        ])),
        &[("line-point", 4), ("line", 1)],
    );
}

#[test]
fn step_breakdown_parts_add_up() {
    let parts = StepParts {
        compute_s: 1.0,
        bubble_s: 0.25,
        dp_comm_s: 0.125,
        optimizer_s: 0.0625,
        ..Default::default()
    };
    let c = StackedChart::step_breakdown("step", [("TP 8 · PP 4".to_string(), parts)]);
    assert_eq!(c.parts.len(), STEP_PART_NAMES.len());
    assert_eq!(c.rows[0].values.iter().sum::<f64>(), 1.4375);
    let html = page_of(c).render();
    assert_eq!(count(&html, "segment"), 4);
    assert!(
        html.contains("1.44 s"),
        "total printed at the bar's end and in the table"
    );
}

#[test]
fn every_text_is_escaped() {
    let evil = "<script>alert('x')</script> & \"q\"";
    let mut p = Page::new(evil);
    p.heading(evil).text(evil).facts([(evil, evil)]);
    let mut s = scatter(&[(evil, 1.0, 1.0), ("b", 2.0, 2.0)], false);
    s.title = evil.into();
    s.x.label = evil.into();
    s.highlight_label = evil.into();
    s.points[0].highlight = true;
    p.chart(s);
    let mut b = bars(&[(evil, vec![1.0, 2.0])]);
    b.metrics[0].label = evil.into();
    b.metrics[1].unit = Unit::Count(evil.into());
    p.chart(b);
    let mut st = stacked(&[(evil, vec![1.0, f64::NAN, 2.0])]);
    st.parts[0] = evil.into();
    st.guides.push(Guide {
        label: evil.into(),
        value: 2.0,
    });
    p.chart(st);
    p.chart(lines(&[(evil, vec![(1.0, 0.5), (2.0, 0.6)])]));
    let html = p.render();
    assert!(!html.contains("<script>alert"), "raw text in the page");
    assert!(!html.contains("\"q\""));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
    // Only the page's own two scripts.
    assert_eq!(html.matches("<script").count(), 2);
}

#[test]
fn same_page_same_bytes() {
    let build = || {
        let mut p = Page::new("report");
        p.chart(scatter(&[("a", 1.0, 2.0), ("b", 2.0, 1.0), ("c", 3.0, 3.0)], true));
        p.chart(bars(&[("x", vec![0.1, 3.0]), ("y", vec![0.2, 1.0])]));
        p.chart(stacked(&[("s", vec![1.0, 2.0, 3.0])]));
        p.chart(lines(&[("l", vec![(1.0, 0.1), (10.0, 0.2)])]));
        p
    };
    let a = build().render();
    assert_eq!(a, build().render());
    assert_eq!(a, build().render());
    // A page survives a JSON round trip (the inputs are serialisable) and renders the same.
    let json = serde_json::to_string(&build()).unwrap();
    let back: Page = serde_json::from_str(&json).unwrap();
    assert_eq!(back.render(), a);
}

#[test]
fn empty_charts_say_no_data() {
    for c in [
        Block::from(scatter(&[], false)),
        Block::from(bars(&[])),
        Block::from(stacked(&[])),
        Block::from(stacked(&[("zero", vec![0.0, 0.0, 0.0])])),
        Block::from(lines(&[])),
        Block::from(lines(&[("nothing", vec![])])),
    ] {
        let p = page_of(c.clone());
        let html = p.render();
        assert!(html.contains(">no data</text>"), "{c:?}");
        assert!(html.contains("data-empty=\"true\""), "{c:?}");
        assert!(p.expected_marks().is_empty(), "{c:?}");
        assert_eq!(html.matches("data-kind=").count(), 0);
    }
}

#[test]
fn non_finite_values_are_not_drawn_and_are_named() {
    let p = page_of(scatter(
        &[
            ("ok", 1.0, 1.0),
            ("nan", f64::NAN, 1.0),
            ("inf", 2.0, f64::INFINITY),
            ("zero", 0.0, 2.0),
        ],
        true,
    ));
    let html = p.render();
    assert_eq!(count(&html, "pareto-point") + count(&html, "point"), 1);
    assert!(html.contains("Not drawn (3)"), "{html}");
    assert!(html.contains("nan: not a number"));
    assert!(html.contains("inf: ∞"));
    assert!(html.contains("zero: 0 ≤ 0 on a logarithmic axis"));

    let p = page_of(bars(&[("a", vec![f64::NAN, 1.0]), ("b", vec![1.0])]));
    let html = p.render();
    assert_eq!(count(&html, "bar"), 2);
    assert!(html.contains("a · step time: not a number"));
    assert!(html.contains("b: 1 values for 2 metrics"));
    assert!(
        html.contains("<td class=\"num\">not a number</td>"),
        "the table shows it"
    );

    let p = page_of(stacked(&[("s", vec![1.0, f64::NEG_INFINITY, -2.0])]));
    let html = p.render();
    assert_eq!(count(&html, "segment"), 1);
    assert!(html.contains("s · grads: −∞"));
    assert!(html.contains("s · activations: negative (-2.00 B)"));

    let p = page_of(lines(&[("l", vec![(1.0, 0.5), (2.0, f64::NAN), (4.0, 0.7)])]));
    let html = p.render();
    assert_eq!(count(&html, "line-point"), 2);
    assert_eq!(count(&html, "line"), 1);
    assert!(html.contains("l at x = 2: not a number"));
}

#[test]
fn page_loads_nothing_from_outside() {
    let mut p = Page::new("r");
    p.chart(scatter(&[("a", 1.0, 2.0)], false));
    p.chart(bars(&[("x", vec![1.0, 2.0])]));
    let html = p.render();
    // The only URL is the SVG namespace name, which is never fetched.
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count() + 1,
        "http-equiv is the other"
    );
    for attr in [" src=", " href=", "url(", "@import"] {
        assert!(!html.contains(attr), "{attr}");
    }
    assert!(html.contains("default-src 'none'"));
}

/// `sweep --html` of a mixed grid whose pool_shares are not written in order: each mixed line
/// runs through its points by increasing share (left to right), whatever the grid's order.
#[test]
fn sweep_mixed_lines_draw_left_to_right() {
    use crate::sweep::{MixedCols, Row, SweepReport};
    let row = |point: u64, share: f64, eff: f64, balance: &str| Row {
        point,
        points_total: 6,
        kind: "train".into(),
        cluster: "pools.toml".into(),
        model: Some("llama-3.1-8b".into()),
        plan: Some("tp=8,pp=4".into()),
        mixed: Some(MixedCols {
            mixed_balance: Some(balance.into()),
            first_pool_share_fraction: Some(share),
            efficiency_vs_ideal_fraction: Some(eff),
            ..MixedCols::default()
        }),
        ..Row::default()
    };
    let report = SweepReport {
        schema_version: crate::SCHEMA_VERSION,
        kind: "sweep".into(),
        grid_fingerprint: "00ff".into(),
        points_total: 6,
        shard_index: 0,
        shard_count: 1,
        rows: vec![
            row(0, 0.75, 0.90, "pp"),
            row(1, 0.75, 0.80, "dp"),
            row(2, 0.25, 0.95, "pp"),
            row(3, 0.25, 0.85, "dp"),
            row(4, 0.5, 0.97, "pp"),
            row(5, 0.5, 0.88, "dp"),
        ],
        mixed_columns: true,
    };
    let page = crate::html::sweep_page(&report);
    let charts: Vec<&LineChart> = page
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Lines(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(charts.len(), 1);
    let got: Vec<(String, Vec<(f64, f64)>)> = charts[0]
        .series
        .iter()
        .map(|s| (s.name.clone(), s.points.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "pools.toml · llama-3.1-8b · tp=8,pp=4 · dp".to_string(),
                vec![(0.25, 0.85), (0.5, 0.88), (0.75, 0.80)]
            ),
            (
                "pools.toml · llama-3.1-8b · tp=8,pp=4 · pp".to_string(),
                vec![(0.25, 0.95), (0.5, 0.97), (0.75, 0.90)]
            ),
        ]
    );
}

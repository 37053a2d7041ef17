//! HTML pages of the search and comparison commands, built from their typed results:
//! `compare` (side-by-side bars), `design` (Pareto front of cost against slowdown) and `sweep`
//! (one metric over the swept parameter). `train`'s page lives with its renderer in the CLI.

use super::{
    Axis, BarChart, BarMetric, BarRow, Better, Guide, LineChart, Page, ScatterChart, ScatterPoint, Series, Unit,
};
use super::{StackedChart, StepParts};
use crate::compare::CompareReport;
use crate::design::DesignReport;
use crate::sweep::SweepReport;
use std::collections::BTreeMap;

/// `fabricsim compare --html`: one panel per metric, one bar per fabric (or plan).
pub fn compare_page(r: &CompareReport) -> Page {
    let mut page = Page::new(format!("fabricsim compare · {}", r.job));
    page.facts([
        ("job".to_string(), r.job.clone()),
        ("accelerators".to_string(), r.accelerators.to_string()),
        ("fidelity".to_string(), r.fidelity.clone()),
        ("fabrics".to_string(), r.rows.len().to_string()),
    ]);
    let training = r.rows.iter().any(|row| row.training.is_some());
    let metrics = if training {
        vec![
            metric("step time", Unit::Seconds, Better::Lower),
            metric("tokens/s", Unit::Count("tokens/s".into()), Better::Higher),
            metric("MFU", Unit::Fraction, Better::Higher),
            metric("capital cost (job's share)", Unit::Usd, Better::Lower),
            metric("facility power (job's share)", Unit::Watts, Better::Lower),
            metric("tokens/s per M$", Unit::Count("tokens/s per M$".into()), Better::Higher),
            metric("tokens per joule", Unit::Count("tokens/J".into()), Better::Higher),
        ]
    } else {
        vec![
            metric("time", Unit::Seconds, Better::Lower),
            metric("bus bandwidth", Unit::Count("B/s".into()), Better::Higher),
            metric("capital cost (job's share)", Unit::Usd, Better::Lower),
            metric("facility power (job's share)", Unit::Watts, Better::Lower),
        ]
    };
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let values = match (&row.training, &row.collective) {
                (Some(t), _) => {
                    let e = row.efficiency.as_ref();
                    vec![
                        t.step_time_s,
                        t.tokens_per_s,
                        t.mfu,
                        row.cost_power.capital_cost_usd,
                        row.cost_power.facility_power_w,
                        e.map_or(f64::NAN, |e| e.tokens_per_s_per_musd),
                        e.map_or(f64::NAN, |e| e.tokens_per_j),
                    ]
                }
                (None, Some(c)) => vec![
                    c.time_s,
                    c.busbw_bytes_per_s,
                    row.cost_power.capital_cost_usd,
                    row.cost_power.facility_power_w,
                ],
                (None, None) => vec![f64::NAN; metrics.len()],
            };
            BarRow {
                label: row.label.clone(),
                values,
            }
        })
        .collect();
    page.chart(BarChart {
        title: format!("{} on {} accelerators, side by side", r.job, r.accelerators),
        metrics,
        rows,
    });
    if !r.basis.is_empty() {
        page.heading("How the columns are computed");
        for b in &r.basis {
            page.text(b.clone());
        }
    }
    page
}

fn metric(label: &str, unit: Unit, better: Better) -> BarMetric {
    BarMetric {
        label: label.into(),
        unit,
        better,
    }
}

/// `fabricsim design --html`: the Pareto front of capital cost against the objective slowdown,
/// the cheapest design within the slowdown ringed, the slowdown limit as a guide line.
pub fn design_page(r: &DesignReport) -> Page {
    let mut page = Page::new(format!("fabricsim design · {} × {}", r.gpus, r.node));
    page.facts([
        ("accelerators".to_string(), format!("{} × {}", r.gpus, r.node)),
        (
            "workloads".to_string(),
            r.workloads
                .iter()
                .map(|w| w.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("designs evaluated".to_string(), r.designs_evaluated.to_string()),
        ("reference (non-blocking)".to_string(), r.reference.spec.clone()),
        (
            "cheapest within the slowdown".to_string(),
            r.cheapest_within.as_ref().map_or("none".into(), |d| d.spec.clone()),
        ),
    ]);
    let cheapest = r.cheapest_within.as_ref().map(|d| d.spec.as_str());
    let mut points: Vec<ScatterPoint> = r
        .front
        .iter()
        .map(|d| ScatterPoint {
            label: d.spec.clone(),
            x: d.capital_cost_usd,
            y: d.objective_slowdown_fraction,
            on_front: !d.dominated,
            highlight: Some(d.spec.as_str()) == cheapest,
        })
        .collect();
    if let Some(c) = &r.cheapest_within {
        if !r.front.iter().any(|d| d.spec == c.spec) {
            points.push(ScatterPoint {
                label: c.spec.clone(),
                x: c.capital_cost_usd,
                y: c.objective_slowdown_fraction,
                on_front: false,
                highlight: true,
            });
        }
    }
    page.chart(ScatterChart {
        title: "Pareto front: capital cost against slowdown vs non-blocking".into(),
        x: Axis {
            label: "capital cost".into(),
            unit: Unit::Usd,
            log: false,
        },
        y: Axis {
            label: "slowdown vs non-blocking (objective)".into(),
            unit: Unit::Fraction,
            log: false,
        },
        points,
        x_guides: Vec::new(),
        y_guides: vec![Guide {
            label: format!("max slowdown {:.1} %", 100.0 * r.max_slowdown_fraction),
            value: r.max_slowdown_fraction,
        }],
        highlight_label: "cheapest within the slowdown (confirmed at flow fidelity)".into(),
    });
    if !r.basis.is_empty() {
        page.heading("What the search covers");
        for b in &r.basis {
            page.text(b.clone());
        }
    }
    page
}

/// `fabricsim sweep --html`: training points as step time against accelerators, one series
/// per (cluster, model, plan); collective points as bus bandwidth against size, one series per
/// (cluster, op, ranks). Points with an error are listed, not drawn.
pub fn sweep_page(r: &SweepReport) -> Page {
    let mut page = Page::new(format!("fabricsim sweep · {} points", r.points_total));
    page.facts([
        ("grid fingerprint".to_string(), r.grid_fingerprint.clone()),
        ("points in this output".to_string(), r.rows.len().to_string()),
        ("shard".to_string(), format!("{}/{}", r.shard_index, r.shard_count)),
    ]);
    let mut train: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut coll: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    // Mixed-accelerator points: efficiency against the first pool's share, one line per pool
    // pair · model · plan · balancing asked.
    let mut mixed: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut failed = Vec::new();
    for row in &r.rows {
        if let Some(e) = &row.error {
            failed.push(format!("point {}: {e}", row.point));
            continue;
        }
        if let Some(m) = &row.mixed {
            if let (Some(x), Some(y)) = (m.first_pool_share_fraction, m.efficiency_vs_ideal_fraction) {
                let pair = crate::mixed::parse_preset(&row.cluster)
                    .ok()
                    .and_then(|s| {
                        let [(a, _), (b, _)] = s.node_pools()?;
                        Some(format!(
                            "{a} + {b} ({})",
                            s.link.as_ref().map_or("no link", |l| l.kind.name())
                        ))
                    })
                    .unwrap_or_else(|| row.cluster.clone());
                let key = format!(
                    "{pair} · {} · {} · {}",
                    row.model.clone().unwrap_or_default(),
                    row.plan.clone().unwrap_or_default(),
                    m.mixed_balance.clone().unwrap_or_default()
                );
                mixed.entry(key).or_default().push((x, y));
            }
            continue;
        }
        match row.kind.as_str() {
            "train" => {
                if let (Some(x), Some(y)) = (row.accelerators_used.or(row.gpus.map(u64::from)), row.step_time_s) {
                    let key = format!(
                        "{} · {} · {}",
                        row.cluster,
                        row.model.clone().unwrap_or_default(),
                        row.plan.clone().unwrap_or_default()
                    );
                    train.entry(key).or_default().push((x as f64, y));
                }
            }
            _ => {
                if let (Some(x), Some(y)) = (row.size_bytes, row.busbw_bytes_per_s) {
                    let key = format!(
                        "{} · {} · {} ranks",
                        row.cluster,
                        row.op.clone().unwrap_or_default(),
                        row.ranks.or(row.ranks_used).unwrap_or(0)
                    );
                    coll.entry(key).or_default().push((x as f64, y));
                }
            }
        }
    }
    let series = |m: BTreeMap<String, Vec<(f64, f64)>>| {
        m.into_iter()
            .map(|(name, points)| Series { name, points })
            .collect::<Vec<_>>()
    };
    if !train.is_empty() {
        page.chart(LineChart {
            title: "Training points: step time against accelerators".into(),
            x: Axis {
                label: "accelerators".into(),
                unit: Unit::Count(String::new()),
                log: true,
            },
            y: Axis {
                label: "step time".into(),
                unit: Unit::Seconds,
                log: false,
            },
            series: series(train),
        });
    }
    // Rows come in grid order (pool_shares as written); a line is drawn through its points in
    // order, so each mixed line is sorted by the first pool's share to draw left to right.
    for points in mixed.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    if !mixed.is_empty() {
        page.chart(LineChart {
            title: "Mixed-accelerator points: efficiency against the ideal by the first pool's share".into(),
            x: Axis {
                label: "first pool's share of the accelerators".into(),
                unit: Unit::Fraction,
                log: false,
            },
            y: Axis {
                label: "efficiency vs ideal".into(),
                unit: Unit::Fraction,
                log: false,
            },
            series: series(mixed),
        });
    }
    if !coll.is_empty() {
        page.chart(LineChart {
            title: "Collective points: bus bandwidth against message size".into(),
            x: Axis {
                label: "message size".into(),
                unit: Unit::Bytes,
                log: true,
            },
            y: Axis {
                label: "bus bandwidth".into(),
                unit: Unit::Count("B/s".into()),
                log: false,
            },
            series: series(coll),
        });
    }
    if !failed.is_empty() {
        page.heading(format!("Points with an error ({})", failed.len()));
        for f in failed {
            page.text(f);
        }
    }
    page
}

/// `fabricsim plan --html`: the top plans' step breakdowns (each its slowest stage's), stacked,
/// best first.
pub fn plan_page(job: &crate::plan::Job, out: &crate::plan::Outcome) -> Page {
    let mut page = Page::new(format!("fabricsim plan · {} on {}", job.model.name, job.cluster));
    page.facts([
        ("model".to_string(), job.model.name.clone()),
        (
            "cluster".to_string(),
            format!("{} ({} accelerators)", job.cluster, job.accelerators),
        ),
        ("batch".to_string(), format!("{} × {} tokens", job.gbs, job.seq)),
        ("plans shown".to_string(), out.ranked.len().to_string()),
    ]);
    page.chart(StackedChart::step_breakdown(
        "Where each plan's step goes (best first)",
        out.ranked.iter().enumerate().map(|(i, r)| {
            (
                format!("#{} {}", i + 1, r.candidate.label()),
                StepParts::from_breakdown(&r.report.breakdown),
            )
        }),
    ));
    page
}

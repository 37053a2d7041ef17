//! The fitted constants, their rules, and leave-one-group-out cross-validation
//! (`fabricsim validate --cross-validate`).
//!
//! Every constant fitted to measured rows is listed in [`fitted`] with the rows it is fitted on
//! (a predicate over the CSV columns), the rule that fits it, and a *prior*: the value a
//! documented source gives before any fitting, used when a held-out group leaves no row to fit
//! on. The model reads each constant through `units::calibration::get`, so a refit can be
//! evaluated without touching the shipped values. docs/calibration.md lists the same table.
//!
//! Cross-validation: for each `source_group` (training) or source repository (collectives) in
//! turn, refit every constant on its rows *outside* that group, in the order listed (a later
//! constant is fitted with the earlier refits in force), then predict the held-out group's rows.
//! The held-out errors of all groups together are the leave-one-group-out (LOGO) figures.

use crate::validate::{source_group_of, DataSet, ValidatedRow};
use serde::Serialize;
use std::collections::HashMap;

/// Which measurement set a constant is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    Collectives,
    Training,
    /// Serving measurements (`validate --inference`).
    Inference,
}

/// How a constant is fitted to its rows.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// For a constant the prediction is (close to) proportional to: scale it by the median of
    /// measured ÷ predicted over the rows, repeated until the median ratio is 1 (±10⁻⁴).
    MedianRatio,
    /// Minimise Σ ln²(predicted ÷ measured) over the rows by golden-section search of ln θ in
    /// `lo..hi`.
    LogLeastSquares { lo: f64, hi: f64 },
}

/// One fitted constant.
pub struct Fitted {
    /// The name the model reads it by (`units::calibration::get`).
    pub name: &'static str,
    pub shipped: f64,
    /// The value before fitting, from a documented source; used when no fitting row remains.
    pub prior: f64,
    pub prior_source: &'static str,
    pub data: DataKind,
    /// The rows it is fitted on, in words.
    pub rows: &'static str,
    pub select: fn(&HashMap<String, String>) -> bool,
    pub rule: Rule,
}

fn col(m: &HashMap<String, String>, k: &str) -> String {
    m.get(k).map(|s| s.trim().to_lowercase()).unwrap_or_default()
}

/// A single-node H100 or H200 (Hopper with 18 NVLinks, not the H800) collective row.
fn hopper_single_node(m: &HashMap<String, String>) -> bool {
    let a = col(m, "accelerator");
    (a.starts_with("h100") || a.starts_with("h200")) && col(m, "num_nodes").parse::<u32>().unwrap_or(1) <= 1
}

/// A single-node H100 (not H200/H800) collective row.
fn h100_single_node(m: &HashMap<String, String>) -> bool {
    let a = col(m, "accelerator");
    a.starts_with("h100") && col(m, "num_nodes").parse::<u32>().unwrap_or(1) <= 1
}

/// The row's message size in bytes ("large (not stated)" counts as the 8 GiB validate uses).
fn size_of(m: &HashMap<String, String>) -> f64 {
    let s = col(m, "message_bytes");
    if s.starts_with("large") {
        return 8.0 * (1u64 << 30) as f64;
    }
    if let Ok(v) = crate::collective::parse_size(&s) {
        return v;
    }
    // A sweep ("128MB-16GB sweep"): its top.
    s.split_whitespace()
        .find_map(|t| {
            t.split_once('-')
                .and_then(|(_, b)| crate::collective::parse_size(b).ok())
        })
        .unwrap_or(0.0)
}

fn nvls(m: &HashMap<String, String>) -> bool {
    let a = col(m, "algorithm");
    a.contains("nvls") && !a.contains("not nvls") && !a.contains("disabled") && !a.contains("presumably")
}

fn ring_class(m: &HashMap<String, String>) -> bool {
    let a = col(m, "algorithm");
    let op = col(m, "collective");
    matches!(op.as_str(), "all_reduce" | "all_gather" | "reduce_scatter") && !nvls(m) && !a.contains("collnet")
}

/// Every constant fitted to measured rows, in fitting order.
pub fn fitted() -> Vec<Fitted> {
    use collective::constants as c;
    vec![
        Fitted {
            name: "ETA_SCALE_UP",
            shipped: c::ETA_SCALE_UP,
            prior: 1.0,
            prior_source: "wire speed (no calibration)",
            data: DataKind::Collectives,
            rows: "single-node H100 ring-class rows (all_reduce, all_gather, reduce_scatter; not NVLS) of at least 1 GiB",
            select: |m| h100_single_node(m) && ring_class(m) && size_of(m) >= (1u64 << 30) as f64,
            rule: Rule::MedianRatio,
        },
        Fitted {
            name: "ETA_NVLS",
            shipped: c::ETA_NVLS,
            prior: 1.0,
            prior_source: "wire speed (no calibration)",
            data: DataKind::Collectives,
            rows: "single-node H100/H200 NVLS all_reduce rows above 2 GiB",
            select: |m| hopper_single_node(m) && nvls(m) && size_of(m) > 2.0 * (1u64 << 30) as f64,
            rule: Rule::MedianRatio,
        },
        Fitted {
            name: "NVLS_BASE_LAT_S",
            shipped: c::NVLS_BASE_LAT_S,
            prior: 23e-6,
            prior_source: "NCCL's tuning model, NVLS Simple base latency 23 µs (src/graph/tuning.cc of NCCL 2.18–2.19, as mirrored in astra-sim's MockNccl)",
            data: DataKind::Collectives,
            rows: "single-node H100/H200 NVLS all_reduce rows below 1 GiB",
            select: |m| hopper_single_node(m) && nvls(m) && size_of(m) < (1u64 << 30) as f64,
            rule: Rule::LogLeastSquares { lo: 1e-6, hi: 1e-3 },
        },
        Fitted {
            name: "BLACKWELL_TENSOR_FRACTION",
            shipped: workload::compute::BLACKWELL_TENSOR_FRACTION,
            prior: 1.0,
            prior_source: "the H100 kernel table scaled by the datasheet peak (no calibration)",
            data: DataKind::Training,
            rows: "training rows on Blackwell parts (B200, B300, GB200, GB300)",
            select: |m| {
                let p = crate::expected_error::part_of(&col(m, "accelerator"));
                crate::expected_error::generation_of(p) == "blackwell"
            },
            rule: Rule::MedianRatio,
        },
        Fitted {
            name: "TPU_ATTAINED_FRACTION",
            shipped: workload::compute::TPU_ATTAINED_FRACTION,
            prior: 1.0,
            prior_source: "the roofline times MXU occupancy, nothing lost (no calibration)",
            data: DataKind::Training,
            rows: "training rows on TPUs (MaxText)",
            select: |m| {
                let p = crate::expected_error::part_of(&col(m, "accelerator"));
                crate::expected_error::generation_of(p) == "tpu"
            },
            rule: Rule::MedianRatio,
        },
        Fitted {
            name: "SERVE_EP_DECODE_TOKEN_OVERHEAD_S",
            shipped: crate::serve::cost::EP_DECODE_TOKEN_OVERHEAD_S,
            prior: 0.0,
            prior_source: "nothing beyond the kernel models (no calibration)",
            data: DataKind::Inference,
            rows: "decode-only throughput rows on Hopper (H100, H800) with expert parallelism",
            select: |m| {
                let a = col(m, "accelerator");
                (a.contains("h100") || a.contains("h800"))
                    && col(m, "serving_mode").contains("decode-only")
                    && col(m, "metric").contains("tokens_per_s")
            },
            rule: Rule::LogLeastSquares { lo: 1e-9, hi: 1e-5 },
        },
    ]
}

/// One predicted row, whatever the set.
#[derive(Debug, Clone, Serialize)]
pub struct Predicted {
    pub row_id: String,
    pub source_group: String,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    pub assumed: bool,
}

fn rows_of<R: ValidatedRow>(rows: &[R], measured: impl Fn(&R) -> (f64, f64)) -> Vec<Predicted> {
    rows.iter()
        .map(|r| {
            let (m, p) = measured(r);
            Predicted {
                row_id: r.id().to_string(),
                source_group: r.source_group().to_string(),
                measured: m,
                predicted: p,
                error_pct: r.error_pct(),
                assumed: !r.assumptions().is_empty(),
            }
        })
        .collect()
}

/// Validate `text` (a CSV of `kind`) with `values` in force.
pub fn predict(kind: DataKind, text: &str, values: &[(&'static str, f64)]) -> Result<Vec<Predicted>, String> {
    units::calibration::with(values, || match kind {
        DataKind::Collectives => {
            let r = crate::validate::collectives(text, collective::Options::default())?;
            Ok(rows_of(&r.rows, |c| (c.measured, c.predicted)))
        }
        DataKind::Training => {
            let r = crate::validate_training::training(text)?;
            Ok(rows_of(&r.rows, |c| (c.measured, c.predicted)))
        }
        DataKind::Inference => {
            let r = crate::validate_inference::inference(text)?;
            Ok(rows_of(&r.rows, |c| (c.measured, c.predicted)))
        }
    })
}

/// The header and the records of `text` that `keep` accepts, as CSV text.
pub fn filter_csv(text: &str, keep: impl Fn(&HashMap<String, String>) -> bool) -> Result<String, String> {
    let (headers, rows) = crate::validate::records(text)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).map_err(|e| e.to_string())?;
    for (m, rec) in &rows {
        if keep(m) {
            w.write_record(rec).map_err(|e| e.to_string())?;
        }
    }
    String::from_utf8(w.into_inner().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// The result of fitting one constant.
#[derive(Debug, Clone, Serialize)]
pub struct FitResult {
    pub name: String,
    /// The unit of `value` and `shipped`: `s` for latencies, `fraction` for efficiencies.
    pub unit: &'static str,
    pub value: f64,
    pub shipped: f64,
    /// The rows it was fitted on (empty: the prior was used).
    pub fit_rows: Vec<String>,
    pub from_prior: bool,
}

/// Fit `p` on its rows of `text`, leaving out the rows of group `held_out`, with `base` (earlier
/// refits) in force.
pub fn fit(p: &Fitted, text: &str, held_out: Option<&str>, base: &[(&'static str, f64)]) -> Result<FitResult, String> {
    let sub = filter_csv(text, |m| {
        (p.select)(m) && held_out.is_none_or(|g| source_group_of(m) != g)
    })?;
    let at = |v: f64| -> Result<Vec<Predicted>, String> {
        let mut vals = base.to_vec();
        vals.push((p.name, v));
        predict(p.data, &sub, &vals)
    };
    let rows = at(p.shipped)?;
    if rows.is_empty() {
        return Ok(FitResult {
            name: p.name.into(),
            unit: unit_of(p.name),
            value: p.prior,
            shipped: p.shipped,
            fit_rows: Vec::new(),
            from_prior: true,
        });
    }
    let fit_rows: Vec<String> = rows.iter().map(|r| r.row_id.clone()).collect();
    let value = match p.rule {
        Rule::MedianRatio => {
            let mut v = p.shipped;
            let mut rows = rows;
            for _ in 0..8 {
                let ratio = median(rows.iter().map(|r| r.measured / r.predicted));
                v *= ratio;
                if (ratio - 1.0).abs() < 1e-4 {
                    break;
                }
                rows = at(v)?;
            }
            v
        }
        Rule::LogLeastSquares { lo, hi } => {
            let cost = |x: f64| -> Result<f64, String> {
                Ok(at(x.exp())?
                    .iter()
                    .map(|r| (r.predicted / r.measured).ln().powi(2))
                    .sum())
            };
            let g = (5f64.sqrt() - 1.0) / 2.0;
            let (mut a, mut b) = (lo.ln(), hi.ln());
            let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
            let (mut fc, mut fd) = (cost(c)?, cost(d)?);
            for _ in 0..40 {
                if fc < fd {
                    b = d;
                    d = c;
                    fd = fc;
                    c = b - g * (b - a);
                    fc = cost(c)?;
                } else {
                    a = c;
                    c = d;
                    fc = fd;
                    d = a + g * (b - a);
                    fd = cost(d)?;
                }
            }
            ((a + b) / 2.0).exp()
        }
    };
    Ok(FitResult {
        name: p.name.into(),
        unit: unit_of(p.name),
        value,
        shipped: p.shipped,
        fit_rows,
        from_prior: false,
    })
}

/// The unit of a fitted constant, from its name (`…_S` are seconds; the rest are fractions).
fn unit_of(name: &str) -> &'static str {
    if name.ends_with("_S") {
        "s"
    } else {
        "fraction"
    }
}

fn median(v: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.into_iter().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        1.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Refit every constant of `kind` on all of `text` (the shipped values come from this, with
/// the rounding docs/calibration.md states).
pub fn refit_all(kind: DataKind, text: &str) -> Result<Vec<FitResult>, String> {
    let mut base: Vec<(&'static str, f64)> = Vec::new();
    let mut out = Vec::new();
    for p in fitted().iter().filter(|p| p.data == kind) {
        let r = fit(p, text, None, &base)?;
        base.push((p.name, r.value));
        out.push(r);
    }
    Ok(out)
}

/// One held-out group.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    pub source_group: String,
    pub rows: usize,
    pub median_abs_error_pct: f64,
    pub max_abs_error_pct: f64,
    /// The constants as refitted without this group.
    pub refits: Vec<FitResult>,
}

/// `validate --cross-validate` for one set.
#[derive(Debug, Clone, Serialize)]
pub struct CrossValidation {
    pub kind: DataKind,
    pub data_set: String,
    /// How many constants are fitted on this set.
    pub fitted_constants: usize,
    pub groups: Vec<HeldOut>,
    /// Every compared row, predicted with the constants refitted without its group.
    pub rows: Vec<Predicted>,
    /// Over the held-out rows that state their setup (the figure to quote).
    pub median_abs_error_pct: Option<f64>,
    pub max_abs_error_pct: Option<f64>,
    /// Over every held-out row, assumed ones included.
    pub all_median_abs_error_pct: Option<f64>,
}

/// Leave-one-group-out cross-validation of the constants fitted on `data` (see the module doc).
pub fn cross_validate(kind: DataKind, data: DataSet) -> Result<CrossValidation, String> {
    let text = data.text;
    let mut groups: Vec<String> = Vec::new();
    for (m, _) in crate::validate::records(text)?.1 {
        let g = source_group_of(&m);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let params: Vec<Fitted> = fitted().into_iter().filter(|p| p.data == kind).collect();
    let mut out_groups = Vec::new();
    let mut all_rows = Vec::new();
    for g in &groups {
        let mut base: Vec<(&'static str, f64)> = Vec::new();
        let mut refits = Vec::new();
        for p in &params {
            let r = fit(p, text, Some(g), &base)?;
            base.push((p.name, r.value));
            refits.push(r);
        }
        let held = filter_csv(text, |m| &source_group_of(m) == g)?;
        let rows = predict(kind, &held, &base)?;
        if rows.is_empty() {
            continue;
        }
        out_groups.push(HeldOut {
            source_group: g.clone(),
            rows: rows.len(),
            median_abs_error_pct: crate::validate::median_abs(rows.iter().map(|r| r.error_pct)).unwrap_or(0.0),
            max_abs_error_pct: rows.iter().map(|r| r.error_pct.abs()).fold(0.0, f64::max),
            refits,
        });
        all_rows.extend(rows);
    }
    let stated = || all_rows.iter().filter(|r| !r.assumed).map(|r| r.error_pct);
    Ok(CrossValidation {
        kind,
        data_set: data.name.into(),
        fitted_constants: params.len(),
        median_abs_error_pct: crate::validate::median_abs(stated()),
        max_abs_error_pct: stated().map(f64::abs).max_by(f64::total_cmp),
        all_median_abs_error_pct: crate::validate::median_abs(all_rows.iter().map(|r| r.error_pct)),
        groups: out_groups,
        rows: all_rows,
    })
}

/// Human table of a cross-validation.
pub fn render(cv: &CrossValidation) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let kind = match cv.kind {
        DataKind::Collectives => "collectives",
        DataKind::Training => "training",
        DataKind::Inference => "inference",
    };
    let _ = writeln!(
        s,
        "== cross-validation (leave one source group out) · {kind} · {} · {} fitted constant(s)",
        cv.data_set, cv.fitted_constants
    );
    let _ = writeln!(
        s,
        "{:<60} {:>5} {:>9} {:>9}  refits",
        "held-out group", "rows", "median", "max"
    );
    for g in &cv.groups {
        let refits: Vec<String> = g
            .refits
            .iter()
            .map(|r| {
                if r.from_prior {
                    format!("{} = {} (prior: no row left)", r.name, sig(r.value))
                } else {
                    format!("{} = {} ({} rows)", r.name, sig(r.value), r.fit_rows.len())
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "{:<60} {:>5} {:>8.1}% {:>8.1}%  {}",
            g.source_group.chars().take(60).collect::<String>(),
            g.rows,
            g.median_abs_error_pct,
            g.max_abs_error_pct,
            refits.join(", ")
        );
    }
    let pct = |v: Option<f64>| v.map(|e| format!("{e:.1} %")).unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        s,
        "\nleave-one-group-out: median |error| {} · max |error| {} over {} rows that state their setup ({} with assumed rows: {})",
        pct(cv.median_abs_error_pct),
        pct(cv.max_abs_error_pct),
        cv.rows.iter().filter(|r| !r.assumed).count(),
        cv.rows.len(),
        pct(cv.all_median_abs_error_pct)
    );
    s
}

/// Four significant digits.
fn sig(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

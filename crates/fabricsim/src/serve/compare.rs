//! The fabric question: the same serving load searched on several clusters, each with its own
//! Pareto envelope, and the ratio of two envelopes at a given interactivity (InferenceX's GB200
//! NVL72 vs HGX B200 comparison).
//!
//! Named fabrics (`FABRICS`) are presets with parameters; any other cluster spec works too.

use serde::Serialize;

use super::search::{per_accel_at, search, SearchOptions, SearchReport};
use super::{ServeScenario, Slo, WeightPrecision};

/// A named fabric of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FabricAlias {
    pub name: &'static str,
    /// Cluster spec (a preset with parameters).
    pub spec: &'static str,
    pub description: &'static str,
}

/// The fabrics `--compare-fabrics` knows by name. The HGX clusters have 72 GPUs (9 servers) so
/// that they match one NVL72 rack in accelerators; the NICs and switches are the presets'
/// catalogue entries (ConnectX-7 400G; Quantum-2 NDR for InfiniBand, Spectrum-4 for RoCE).
pub const FABRICS: &[FabricAlias] = &[
    FabricAlias {
        name: "hgx-h100-ib",
        spec: "rail-optimized:gpus=72,node=hgx-h100",
        description: "9 × HGX H100 (8-GPU NVLink4 islands), rail-optimized NDR InfiniBand, 400G per GPU",
    },
    FabricAlias {
        name: "hgx-b200-roce",
        spec: "rail-optimized:gpus=72,node=hgx-b200,switch=spectrum4-sn5600,port_gbit=400",
        description: "9 × HGX B200 (8-GPU NVLink5 islands), rail-optimized RoCE on Spectrum-4, 400G (50 GB/s) per GPU",
    },
    FabricAlias {
        name: "gb200-nvl72",
        spec: "gb200-nvl72",
        description: "one GB200 NVL72 rack: 72 GPUs in one NVLink5 domain",
    },
    FabricAlias {
        name: "cloudmatrix384",
        spec: "cloudmatrix384",
        description: "Huawei CloudMatrix384: 384 Ascend 910C in one Unified Bus domain",
    },
];

/// The default list of `--compare-fabrics` (the four fabrics).
pub const DEFAULT_FABRICS: &str = "hgx-h100-ib,hgx-b200-roce,gb200-nvl72,cloudmatrix384";

/// Split a fabric list: `;` always separates; `,` separates too, except before a `key=value`
/// without `:` — a parameter of the spec before it (`rail-optimized:gpus=72,node=hgx-b200`).
pub fn split_list(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for group in s.split(';') {
        for piece in group.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let is_param = piece.contains('=') && !piece.contains(':');
            match out.last_mut() {
                Some(last) if is_param && last.contains(':') => {
                    last.push(',');
                    last.push_str(piece);
                }
                _ => out.push(piece.to_string()),
            }
        }
    }
    out
}

/// (label, cluster spec) of a list entry: a name of [`FABRICS`] or a spec used as is.
pub fn resolve(entry: &str) -> (String, String) {
    match FABRICS.iter().find(|f| f.name == entry) {
        Some(f) => (f.name.to_string(), f.spec.to_string()),
        None => (entry.to_string(), entry.to_string()),
    }
}

/// The weight precision each platform serves DeepSeek-class models in when none is given:
/// NVFP4 on Blackwell (its FP4 tensor cores; InferenceX's comparison is FP4), INT8 on Ascend
/// 910C (CloudMatrix-Infer's W8A8 deployment), FP8 elsewhere (Hopper's native low precision).
pub fn native_precision(accel_id: &str) -> WeightPrecision {
    match accel_id {
        "b200" | "gb200" | "b300" | "gb300" => WeightPrecision::Fp4,
        "ascend-910c" => WeightPrecision::Int8,
        _ => WeightPrecision::Fp8,
    }
}

/// InferenceX's published comparison (DeepSeek-R1-0528 FP4, 1k in / 1k out, disaggregated,
/// MTP; ../shared/reference/measurements/inference.csv rows I044 and I045, SemiAnalysis
/// InferenceX blog "GB200 NVL72 vs B200 on DeepSeek R1 670B"): output tokens/s per GPU at
/// 125 tokens/s per user.
pub const INFERENCEX_AT_PER_USER: f64 = 125.0;
pub const INFERENCEX_GB200_PER_GPU: f64 = 4130.0;
pub const INFERENCEX_B200_PER_GPU: f64 = 941.0;
/// The band of interactivity in which InferenceX's ratio first exceeds 2× (row I044's note).
pub const INFERENCEX_2X_BAND: (f64, f64) = (75.0, 175.0);
/// The acceptance band for the modelled ratio at 125 tokens/s per user.
pub const RATIO_GATE: (f64, f64) = (3.0, 6.0);

/// One searched fabric.
#[derive(Debug, Clone, Serialize)]
pub struct FabricResult {
    pub label: String,
    pub cluster: String,
    pub accelerator_id: String,
    pub precision: String,
    pub search: SearchReport,
}

/// A point of the ratio curve.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RatioPoint {
    pub output_tokens_per_s_per_user: f64,
    pub ratio: f64,
}

/// The modelled GB200 NVL72 / HGX B200 ratio against InferenceX's.
#[derive(Debug, Clone, Serialize)]
pub struct RatioCheck {
    pub numerator: String,
    pub denominator: String,
    pub at_output_tokens_per_s_per_user: f64,
    pub numerator_output_tokens_per_s_per_accel: Option<f64>,
    pub denominator_output_tokens_per_s_per_accel: Option<f64>,
    pub ratio: Option<f64>,
    pub published_ratio: f64,
    pub gate: (f64, f64),
    pub within_gate: bool,
    /// Lowest interactivity (scanning upwards in 1 token/s steps) at which the ratio is ≥ 2.
    pub first_above_2x_output_tokens_per_s_per_user: Option<f64>,
    pub published_first_above_2x_band: (f64, f64),
    pub curve: Vec<RatioPoint>,
    pub statement: String,
}

/// The comparison's result.
#[derive(Debug, Clone, Serialize)]
pub struct FabricComparison {
    pub schema_version: u32,
    pub model: String,
    pub workload: String,
    pub slo: Slo,
    pub fabrics: Vec<FabricResult>,
    pub inferencex: Option<RatioCheck>,
}

/// One fabric to search: its label, the scenario on it (cluster, precision set) and the
/// built fabric.
pub struct FabricRun {
    pub label: String,
    pub scenario: ServeScenario,
    pub fabric: fabric::Fabric,
}

/// Search every fabric (in the order given) and compare.
pub fn compare(runs: &[FabricRun], opts: &SearchOptions) -> Result<FabricComparison, String> {
    let first = runs.first().ok_or("--compare-fabrics: no fabric given")?;
    let mut fabrics = Vec::new();
    for r in runs {
        let rep = search(&r.scenario, &r.fabric, opts).map_err(|e| format!("{}: {e}", r.label))?;
        fabrics.push(FabricResult {
            label: r.label.clone(),
            cluster: r.scenario.cluster.clone(),
            accelerator_id: r.fabric.accel_model.to_string(),
            precision: r.scenario.precision.name().to_string(),
            search: rep,
        });
    }
    let num = fabrics.iter().find(|f| f.accelerator_id == "gb200");
    let den = fabrics.iter().find(|f| f.accelerator_id == "b200");
    let inferencex = match (num, den) {
        (Some(a), Some(b)) => Some(ratio_check(a, b)),
        _ => None,
    };
    Ok(FabricComparison {
        schema_version: crate::SCHEMA_VERSION,
        model: first.scenario.model.name.clone(),
        workload: fabrics[0].search.workload.clone(),
        slo: first.scenario.slo,
        fabrics,
        inferencex,
    })
}

/// The ratio of two envelopes along their common range and at InferenceX's interactivity.
pub fn ratio_check(a: &FabricResult, b: &FabricResult) -> RatioCheck {
    let (ea, eb) = (&a.search.envelope, &b.search.envelope);
    let max_u = |e: &[super::search::SearchPoint]| e.last().map_or(0.0, |p| p.output_tokens_per_s_per_user);
    let min_u = |e: &[super::search::SearchPoint]| e.first().map_or(0.0, |p| p.output_tokens_per_s_per_user);
    let lo = min_u(ea).min(min_u(eb)).ceil().max(1.0);
    let hi = max_u(ea).min(max_u(eb)).floor();
    let mut curve = Vec::new();
    let mut first2 = None;
    let mut u = lo;
    while u <= hi {
        if let (Some(ya), Some(yb)) = (per_accel_at(ea, u), per_accel_at(eb, u)) {
            if yb > 0.0 {
                let r = ya / yb;
                if first2.is_none() && r >= 2.0 {
                    first2 = Some(u);
                }
                curve.push(RatioPoint {
                    output_tokens_per_s_per_user: u,
                    ratio: r,
                });
            }
        }
        u += 1.0;
    }
    let at = INFERENCEX_AT_PER_USER;
    let ya = per_accel_at(ea, at);
    let yb = per_accel_at(eb, at);
    let ratio = match (ya, yb) {
        (Some(x), Some(y)) if y > 0.0 => Some(x / y),
        _ => None,
    };
    let within = ratio.is_some_and(|r| r >= RATIO_GATE.0 && r <= RATIO_GATE.1);
    let published = INFERENCEX_GB200_PER_GPU / INFERENCEX_B200_PER_GPU;
    let statement = match (ratio, ya, yb) {
        (Some(r), Some(x), Some(y)) => format!(
            "at {at} tokens/s per user: {} {x:.0} vs {} {y:.0} output tokens/s per accelerator = {r:.2}× (InferenceX {:.0} vs {:.0} = {published:.2}×; gate {}–{}×: {})",
            a.label,
            b.label,
            INFERENCEX_GB200_PER_GPU,
            INFERENCEX_B200_PER_GPU,
            RATIO_GATE.0,
            RATIO_GATE.1,
            if within { "within" } else { "OUTSIDE" }
        ),
        _ => format!(
            "at {at} tokens/s per user: {} reaches {} and {} reaches {} tokens/s per user at most — no ratio there",
            a.label,
            fmt1(max_u(ea)),
            b.label,
            fmt1(max_u(eb))
        ),
    };
    RatioCheck {
        numerator: a.label.clone(),
        denominator: b.label.clone(),
        at_output_tokens_per_s_per_user: at,
        numerator_output_tokens_per_s_per_accel: ya,
        denominator_output_tokens_per_s_per_accel: yb,
        ratio,
        published_ratio: published,
        gate: RATIO_GATE,
        within_gate: within,
        first_above_2x_output_tokens_per_s_per_user: first2,
        published_first_above_2x_band: INFERENCEX_2X_BAND,
        curve,
        statement,
    }
}

fn fmt1(x: f64) -> String {
    format!("{x:.1}")
}

//! `fabricsim validate --inference CSV`: rebuild each published serving measurement as a
//! [`serve::ServeScenario`], simulate it and compare on the row's own metric and unit.
//!
//! Every row is one of three kinds, decided by its `metric` (never by its id):
//!
//! - **inputs**: figures that describe the workload or the fleet — KV-cache hit rates, average
//!   KV lengths, tokens per day, fleet sizes, relative claims on hardware the row does not
//!   state. They are listed, never compared; the production decode row draws its context length
//!   from the average-KV-length input of its own system.
//! - **predictions**: throughput (per node = 8 accelerators, per GPU / NPU, per TP group, per
//!   request), and EP dispatch kernel times. Compared.
//! - **not compared**: predictions the simulator cannot reproduce from what the row gives,
//!   listed with the reason (a ratio of two runs whose second run the source does not
//!   describe, a 24-hour production average with no stated load, hardware the catalogue lacks).
//!
//! Mapping rules (docs/serving.md, "Validation and calibration"):
//! - cluster by accelerator: H800 / H100 / H200 / B200 → one HGX (DGX for H100) node when the
//!   deployment fits 8 GPUs, else a rail-optimized fat-tree of those nodes with one 400G NIC per
//!   GPU (the systems' standard; the rows do not state a speed); GB200 → one NVL72 rack; Ascend
//!   910C → CloudMatrix384 (one accelerator per 910C package: a count of dies is halved);
//!   MI300X → the MI300X node;
//! - deployment from `tp`/`ep`/`dp` (the phase's number of "P / D" pairs); DP attention with
//!   `ep` ranks, TP 1, when the row runs expert parallelism; per-phase rows (prefill-only,
//!   decode-only, or the phase a metric names in a disaggregated system) as
//!   [`Layout::PrefillOnly`] / [`Layout::DecodeOnly`]; trtllm-bench offline rows colocated;
//! - workload from `input_len` / `output_len` / `batch_or_concurrency` ("128 per device; KV len
//!   4096" → a decode-only batch of 128 per rank over a 4,096-token context; "16,384
//!   tokens/device" → the prefill chunk budget);
//! - precision and KV dtype from `precision`; MTP where `serving_mode` says so; two-batch
//!   overlap where the row says TBO / two-batch overlap / micro-batch pipelining, or the row
//!   is DeepSeek's own system (its inference overview describes dual micro-batch overlap);
//! - every gap a rule fills is recorded on the row (`assumptions`) and printed by `--explain`.

use crate::serve::{
    self, requests::Arrivals, requests::LenDist, requests::Workload, Features, InstanceSpec, Layout, ServeReport,
    ServeScenario, Slo, WeightPrecision,
};
use crate::validate::{DataSet, Progress, Skipped, Summary};
use collective::moe::{MoeDtype, MoeKernel, MoeOp, MoeSpec};
use engine::Fidelity;
use serde::Serialize;
use std::collections::HashMap;

/// The columns of `testdata/inference.csv`; a CSV must have them all.
pub const COLUMNS: &[&str] = &[
    "row_id",
    "system",
    "accelerator",
    "num_accel",
    "interconnect",
    "model",
    "precision",
    "serving_mode",
    "tp",
    "ep",
    "dp",
    "pp",
    "attention_parallelism",
    "input_len",
    "output_len",
    "batch_or_concurrency",
    "slo",
    "metric",
    "value",
    "source",
    "source_locator",
    "confidence",
    "notes",
];

/// Accelerators per node in the rows' per-node figures (testdata/MEASUREMENTS.md: "per-node
/// figures are for 8-GPU nodes unless the row says otherwise").
pub const GPUS_PER_NODE: f64 = 8.0;

/// Interactivity rows (InferenceX) report total tokens — input plus output — per GPU: the
/// published figure is the benchmark's `tput_per_gpu` (InferenceMAX issue #293: the charts show
/// `tput_per_gpu`, input and output throughput combined).
pub const ISO_INTERACTIVITY_COUNTS_INPUT: bool = true;

/// DeepSeek-V3's MTP acceptance where a row runs MTP and states none (the serve default,
/// DeepSeek-V3 technical report §5.4.3: 85–90 % of second tokens accepted).
pub const MTP_ACCEPTANCE: f64 = serve::inputs::DEFAULT_MTP_ACCEPTANCE;

/// Decode batch per rank where a decode row states none: SGLang's GB200 Part I post "mirrors"
/// the setup of its H100 post, whose decode runs 256 requests per device (row I018).
pub const DEFAULT_DECODE_BATCH: u32 = 256;

/// One compared row: the scenario it became and the error on the row's own metric.
#[derive(Debug, Serialize, Clone, Default)]
pub struct InferenceRow {
    pub row_id: String,
    pub source_group: String,
    pub system: String,
    /// The cluster the row became (a preset spec).
    pub cluster: String,
    pub model: String,
    /// The deployment (or kernel) simulated.
    pub deployment: String,
    /// Workload, features and the quantity read from the report.
    pub scenario: Vec<String>,
    pub metric: String,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    /// Gaps in the row filled by a stated rule; a row with any is an assumed row.
    pub assumptions: Vec<String>,
    /// Details the row's system defines (standard NIC, engine defaults): said, not assumed.
    pub defaults: Vec<String>,
}

crate::impl_validated_row!(InferenceRow);

/// A row listed but not compared.
#[derive(Debug, Serialize, Clone)]
pub struct Listed {
    pub row_id: String,
    pub metric: String,
    pub value: String,
    pub reason: String,
}

/// `validate --inference`'s report: compared rows, inputs, rows not compared, and the summary
/// with the keys of the other validations.
#[derive(Debug, Serialize)]
pub struct InferenceReport {
    pub schema_version: u32,
    pub kind: String,
    pub data_set: String,
    pub rows: Vec<InferenceRow>,
    /// Workload and fleet descriptions: never compared.
    pub inputs: Vec<Listed>,
    /// Predictions that could not be compared, with the reason.
    pub not_compared: Vec<Listed>,
    /// The not-compared rows in the shape of the other validations' `skipped`.
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
}

/// Validate the inference CSV `text`.
pub fn inference(text: &str) -> Result<InferenceReport, String> {
    inference_from(DataSet { name: "CSV text", text }, &mut |_, _| {})
}

/// A row as column → trimmed value.
type Row = HashMap<String, String>;

fn field<'a>(m: &'a Row, k: &str) -> &'a str {
    m.get(k).map(|s| s.trim()).unwrap_or("")
}

/// Read and check the CSV: every column present, every record complete, `row_id`, `metric` and
/// a readable `value` on every line. Errors name the line.
pub fn parse(text: &str) -> Result<Vec<(usize, Row)>, String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    for need in COLUMNS {
        if !headers.iter().any(|h| h.trim() == *need) {
            return Err(format!("column `{need}` is missing (line 1)"));
        }
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("line {}: unreadable CSV record: {e}", i + 2))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(i + 2);
        if rec.len() != headers.len() {
            return Err(format!(
                "line {line}: {} fields where the header has {}",
                rec.len(),
                headers.len()
            ));
        }
        let m: Row = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.trim().to_string(), v.to_string()))
            .collect();
        for k in ["row_id", "metric", "value"] {
            if field(&m, k).is_empty() {
                return Err(format!("line {line}: `{k}` is empty"));
            }
        }
        parse_value(field(&m, "value")).map_err(|e| format!("line {line} ({}): value {e}", field(&m, "row_id")))?;
        out.push((line, m));
    }
    Ok(out)
}

/// The numbers of a `value` cell: `73700`, `0.563`, `20-22` (its midpoint), `525%`, `1.49x /
/// 2.54x` (two figures).
pub fn parse_value(v: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for part in v.split('/') {
        let p = part.trim().trim_end_matches(['x', 'X', '%']).trim().replace(',', "");
        let x = match p.split_once('-') {
            Some((a, b)) if !a.is_empty() => {
                let (a, b): (f64, f64) = (
                    a.trim().parse().map_err(|_| format!("`{v}` is not a number"))?,
                    b.trim().parse().map_err(|_| format!("`{v}` is not a number"))?,
                );
                (a + b) / 2.0
            }
            _ => p.parse::<f64>().map_err(|_| format!("`{v}` is not a number"))?,
        };
        if !(x.is_finite() && x >= 0.0) {
            return Err(format!("`{v}` is not a finite, non-negative number"));
        }
        out.push(x);
    }
    Ok(out)
}

/// Why a row is an input (a workload or fleet description), or `None` for a prediction.
pub fn input_reason(m: &Row) -> Option<&'static str> {
    let metric = field(m, "metric").to_lowercase();
    let accel = field(m, "accelerator").to_lowercase();
    if metric.contains("hit_rate") || metric.contains("hit rate") {
        Some("workload description: the KV-cache hit rate of the production load")
    } else if metric.contains("kv_cache_length") || metric.contains("kv_length") {
        Some("workload description: the average context the decode attention reads (used as the context of the production decode row)")
    } else if metric.contains("per_day") {
        Some("workload description: the daily token volume")
    } else if metric.contains("nodes") || metric.contains("fleet") {
        Some("fleet description: the number of nodes serving the load")
    } else if (metric.contains("vs_baseline") || metric.contains("increase"))
        && (accel.is_empty() || accel.contains("not stated"))
    {
        Some("relative claim on hardware the source does not state: nothing to simulate")
    } else {
        None
    }
}

/// Validate an inference data set, telling `progress` after every row.
pub fn inference_from(data: DataSet, progress: Progress) -> Result<InferenceReport, String> {
    let rows = parse(data.text)?;
    let all: Vec<Row> = rows.iter().map(|(_, m)| m.clone()).collect();
    let mut fabrics: HashMap<String, fabric::Fabric> = HashMap::new();
    let mut compared = Vec::new();
    let mut inputs = Vec::new();
    let mut not_compared = Vec::new();
    let total = rows.len();
    progress(0, total);
    for (i, (_, m)) in rows.iter().enumerate() {
        let listed = |reason: String| Listed {
            row_id: field(m, "row_id").to_string(),
            metric: field(m, "metric").to_string(),
            value: field(m, "value").to_string(),
            reason,
        };
        if let Some(why) = input_reason(m) {
            inputs.push(listed(why.to_string()));
        } else {
            match predict(m, &all, &mut fabrics) {
                Ok(mut r) => {
                    r.row_id = field(m, "row_id").to_string();
                    r.source_group = crate::validate::source_group_of(m);
                    r.system = field(m, "system").to_string();
                    r.metric = field(m, "metric").to_string();
                    r.error_pct = (r.predicted - r.measured) / r.measured * 100.0;
                    compared.push(r);
                }
                Err(reason) => not_compared.push(listed(reason)),
            }
        }
        progress(i + 1, total);
    }
    let summary = crate::validate::summarise(&compared, not_compared.len());
    Ok(InferenceReport {
        schema_version: crate::SCHEMA_VERSION,
        kind: "inference".into(),
        data_set: data.name.into(),
        rows: compared,
        inputs,
        skipped: not_compared
            .iter()
            .map(|l| Skipped {
                row_id: l.row_id.clone(),
                reason: l.reason.clone(),
            })
            .collect(),
        not_compared,
        summary,
    })
}

/// Numbers in a text, in order ("2,000" is 2000; "1K" is 1000).
fn numbers(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let comma_in_number = c == ','
            && !cur.is_empty()
            && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
            && chars.get(i + 4).is_none_or(|d| !d.is_ascii_digit());
        if c.is_ascii_digit() || (c == '.' && !cur.is_empty()) {
            cur.push(c);
        } else if comma_in_number {
        } else if !cur.is_empty() {
            if let Ok(x) = cur.trim_end_matches('.').parse::<f64>() {
                out.push(x);
            }
            cur.clear();
        }
    }
    if let Ok(x) = cur.trim_end_matches('.').parse::<f64>() {
        out.push(x);
    }
    out
}

fn first_number(text: &str) -> Option<f64> {
    numbers(text).into_iter().next().filter(|x| *x > 0.0)
}

/// Which phase a "prefill 32 / decode 144" or "32 (P) / 72 (D)" cell's part belongs to.
fn phase_part(text: &str, phase: Phase) -> String {
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() < 2 {
        return text.to_string();
    }
    let l = |s: &str| s.to_lowercase();
    let want = match phase {
        Phase::Prefill => ["prefill", "(p)"],
        _ => ["decode", "(d)"],
    };
    parts
        .iter()
        .find(|p| want.iter().any(|w| l(p).contains(w)))
        .map(|s| s.to_string())
        .unwrap_or_else(|| {
            if phase == Phase::Prefill {
                parts[0].to_string()
            } else {
                parts[parts.len() - 1].to_string()
            }
        })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Prefill,
    Decode,
    Colocated,
}

/// How a predicted throughput is normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Node,
    Accel,
    Instance,
    /// Output tokens over one request's end-to-end latency.
    Request,
}

fn unit_of(metric: &str) -> Unit {
    let l = metric.to_lowercase();
    if l.contains("per_node") {
        Unit::Node
    } else if l.contains("per_gpu") || l.contains("per_npu") || l.contains("per_accel") {
        Unit::Accel
    } else if l.contains("tp group") || l.starts_with("total_output") {
        Unit::Instance
    } else if l.contains("benchmark_latency") {
        Unit::Request
    } else {
        Unit::Accel
    }
}

/// The cluster an accelerator column and a GPU count become, and what the system defines.
fn cluster_for(accel: &str, gpus: u32) -> Result<(String, Vec<String>), String> {
    let a = accel.to_lowercase();
    let nic = "one 400G NIC per GPU, the standard of the system (the row states no speed)".to_string();
    let hgx = |node: &str, single: &str| -> (String, Vec<String>) {
        if gpus <= 8 {
            (single.to_string(), vec![])
        } else {
            let n = gpus.div_ceil(8) * 8;
            (
                format!("rail-optimized:gpus={n},node={node},port_gbit=400"),
                vec![format!("{} nodes of 8 in a rail-optimized fat-tree, {nic}", n / 8)],
            )
        }
    };
    if a.contains("gb200") {
        if gpus > 72 {
            return Err(format!("{gpus} GB200 GPUs is more than one NVL72 rack"));
        }
        Ok(("gb200-nvl72".into(), vec![]))
    } else if a.contains("910c") || a.contains("ascend") {
        Ok(("cloudmatrix384".into(), vec![]))
    } else if a.contains("mi300x") {
        if gpus > 8 {
            return Err("more than one MI300X node".into());
        }
        Ok(("mi300x-node".into(), vec![]))
    } else if a.contains("h800") {
        Ok(hgx("hgx-h800", "hgx:gpu=h800"))
    } else if a.contains("h100") {
        Ok(hgx("dgx-h100", "dgx-h100"))
    } else if a.contains("h200") {
        Ok(hgx("hgx-h200", "hgx:gpu=h200"))
    } else if a.contains("b200") {
        Ok(hgx("hgx-b200", "hgx:gpu=b200"))
    } else {
        Err(format!("accelerator `{accel}` is not in fabricsim's catalogue"))
    }
}

fn fabric_for<'a>(spec: &str, cache: &'a mut HashMap<String, fabric::Fabric>) -> Result<&'a fabric::Fabric, String> {
    if !cache.contains_key(spec) {
        let f = fabric::presets::build_preset(spec).map_err(|e| e.to_string())?.1;
        cache.insert(spec.to_string(), f);
    }
    Ok(&cache[spec])
}

/// The registry model a row names, and a note when it stands for a sibling.
fn model_for(text: &str) -> Result<(workload::ModelSpec, Option<String>), String> {
    let l = text.to_lowercase();
    let (name, note) = if l.contains("deepseek") {
        ("deepseek-v3", None)
    } else if l.contains("llama-3.3-70b") {
        (
            "llama-3.1-70b",
            Some("Llama-3.3-70B has Llama-3.1-70B's architecture (same layers, widths, vocabulary)".to_string()),
        )
    } else if l.contains("405b") {
        ("llama-3.1-405b", None)
    } else if l.contains("70b") {
        ("llama-3.1-70b", None)
    } else {
        return Err(format!("model `{text}` is not in fabricsim's registry"));
    };
    let m = workload::registry::lookup(name).ok_or_else(|| format!("model `{name}` missing from the registry"))?;
    Ok((m, note))
}

/// What a prediction row becomes before it runs.
struct Mapped {
    cluster: String,
    scenario: ServeScenario,
    phase: Phase,
    unit: Unit,
    gpus_per_instance: u32,
    assumptions: Vec<String>,
    defaults: Vec<String>,
}

/// A row's prediction, or the reason it is not compared.
fn predict(m: &Row, all: &[Row], fabrics: &mut HashMap<String, fabric::Fabric>) -> Result<InferenceRow, String> {
    let metric = field(m, "metric").to_lowercase();
    let value = parse_value(field(m, "value"))?;
    if metric.contains("speedup") || value.len() > 1 {
        return Err("a ratio of two runs (with and without EPLB) whose second run the source does not describe: the expert-load skew without EPLB is not published, and fitting it to this row would tune a constant to one row".into());
    }
    let measured = value[0];
    if measured <= 0.0 {
        return Err("the value is zero".into());
    }
    if metric.contains("dispatch") {
        return dispatch_row(m, measured, fabrics);
    }
    let system = field(m, "system").to_lowercase();
    let production = system.contains("production") || field(m, "batch_or_concurrency").contains("production");
    if production {
        if metric.contains("per_user") {
            return Err("the production per-user speed is the operating point the production decode row of the same system is simulated at (its TPOT), not a prediction".into());
        }
        if metric.contains("prefill") || metric.contains("input") {
            return Err("a 24-hour production average whose prefill load is not stated: the prefill nodes are not saturated (SGLang measures DeepSeek's profiled peak at about twice this), and the source gives neither their utilisation nor the prompt lengths".into());
        }
    }
    if field(m, "batch_or_concurrency").to_lowercase().contains("pareto") {
        return iso_interactivity_row(m, measured, fabrics);
    }
    let mut mapped = map_row(m, all, production)?;
    let f = fabric_for(&mapped.cluster, fabrics)?;
    if production {
        return production_decode(m, all, measured, mapped, f);
    }
    // trtllm-bench's capacity scheduler (TensorRT-LLM's default GUARANTEED_NO_EVICT) admits a
    // request only when the KV cache holds its whole sequence: the running batch is the pool
    // over (input + output), never preempted.
    if mapped.phase == Phase::Colocated && field(m, "system").to_lowercase().contains("trtllm") {
        let priced = serve::cost::price_roles(&mapped.scenario, f)?;
        let cap = priced.roles[0].kv_capacity_tokens_per_rank;
        let (i, o) = in_out(&mapped.scenario);
        let batch = (cap / (i + o).max(1) as u64).max(1) as u32;
        if let Layout::Colocated { instance } = &mut mapped.scenario.layout {
            instance.max_running = batch.min(instance.max_running.max(batch));
        }
        mapped.defaults.push(format!(
            "TensorRT-LLM's GUARANTEED_NO_EVICT scheduler: at most {batch} requests running (KV pool of {cap} tokens over {} tokens per request)",
            i + o
        ));
    }
    let r = serve::run(&mapped.scenario, f)?;
    let (predicted, what) = read_metric(&r, &mapped);
    Ok(finish(m, mapped, measured, predicted, what))
}

fn in_out(s: &ServeScenario) -> (u32, u32) {
    match &s.workload {
        Workload::Synthetic { input, output, .. } => (input.max(), output.max()),
        _ => (0, 0),
    }
}

fn finish(m: &Row, mapped: Mapped, measured: f64, predicted: f64, what: String) -> InferenceRow {
    let s = &mapped.scenario;
    let mut scenario = vec![
        format!(
            "model: {} {}, KV {}",
            s.model.name,
            s.precision.name(),
            kv_name(s.features.kv_dtype_bytes)
        ),
        format!("workload: {}", s.workload.describe()),
        format!("features: {}", features_text(&s.features)),
        format!("compared: {what}"),
    ];
    scenario.retain(|l| !l.ends_with(": "));
    let _ = m;
    InferenceRow {
        cluster: mapped.cluster,
        model: s.model.name.clone(),
        deployment: s.layout.describe(),
        scenario,
        measured,
        predicted,
        assumptions: mapped.assumptions,
        defaults: mapped.defaults,
        ..Default::default()
    }
}

fn kv_name(b: f64) -> &'static str {
    if b <= 1.0 {
        "fp8"
    } else {
        "bf16"
    }
}

fn features_text(f: &Features) -> String {
    let mut v = Vec::new();
    if f.two_batch_overlap {
        v.push("two-batch overlap".to_string());
    }
    if f.redundant_experts > 0 {
        v.push(format!("{} redundant experts", f.redundant_experts));
    }
    if f.mtp_draft_tokens > 0 {
        v.push(format!(
            "MTP {} draft(s) at {:.2} acceptance",
            f.mtp_draft_tokens, f.mtp_acceptance
        ));
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The quantity the row's metric names, from the report, in the row's unit.
fn read_metric(r: &ServeReport, mapped: &Mapped) -> (f64, String) {
    let (per_accel, name) = match mapped.phase {
        Phase::Prefill => (r.input_tokens_per_s_per_accel, "input tokens/s per accelerator"),
        _ => (r.output_tokens_per_s_per_accel, "output tokens/s per accelerator"),
    };
    match mapped.unit {
        Unit::Node => (per_accel * GPUS_PER_NODE, format!("{name} × {GPUS_PER_NODE} per node")),
        Unit::Accel => (per_accel, name.to_string()),
        Unit::Instance => (
            per_accel * mapped.gpus_per_instance as f64,
            format!("{name} × {} accelerators of the instance", mapped.gpus_per_instance),
        ),
        Unit::Request => {
            let (_, o) = in_out(&mapped.scenario);
            (
                if r.e2e_s.mean > 0.0 {
                    o as f64 / r.e2e_s.mean
                } else {
                    0.0
                },
                format!("{o} output tokens over the mean end-to-end latency"),
            )
        }
    }
}

/// Map a throughput row to a scenario (cluster, layout, workload, features).
fn map_row(m: &Row, all: &[Row], production: bool) -> Result<Mapped, String> {
    let metric = field(m, "metric").to_lowercase();
    let mode = field(m, "serving_mode").to_lowercase();
    let mut assumptions = Vec::new();
    let mut defaults = Vec::new();
    let phase = if mode.contains("prefill-only") || mode.contains("prefill only") {
        Phase::Prefill
    } else if mode.contains("decode-only") || mode.contains("decode only") {
        Phase::Decode
    } else if mode.contains("disaggregated") || mode.contains("pdc") {
        if metric.contains("prefill") || metric.contains("input") {
            defaults.push("a disaggregated system's prefill figure: its prefill instances alone, decode unlimited (the per-phase measurement the sources describe)".into());
            Phase::Prefill
        } else if metric.contains("decode") {
            defaults
                .push("a disaggregated system's decode figure: its decode instances alone, prefill unlimited".into());
            Phase::Decode
        } else {
            return Err("a disaggregated figure that names neither phase".into());
        }
    } else {
        Phase::Colocated
    };
    let (model, model_note) = model_for(field(m, "model"))?;
    defaults.extend(model_note);
    let moe = model.is_moe();
    // Parallelism of the phase.
    let col = |k: &str| phase_part(field(m, k), phase);
    let mut ep_text = col("ep");
    let mut ranks = first_number(&ep_text).map(|x| x as u32);
    let accel = field(m, "accelerator");
    let num_accel = field(m, "num_accel").to_lowercase();
    if moe
        && (accel.to_lowercase().contains("910c") || accel.to_lowercase().contains("ascend"))
        && num_accel.contains("die")
    {
        // EP over dies of dual-die packages: fabricsim's accelerator is the package.
        if let Some(n) = first_number(&num_accel) {
            defaults.push(format!(
                "EP over {} dies = {} Ascend 910C packages (fabricsim's accelerator is the package)",
                ranks.unwrap_or(0),
                n as u32
            ));
            ranks = Some(n as u32);
        }
    }
    if ep_text.contains(" or ") {
        ep_text = ep_text.to_lowercase();
    }
    let tp_col = first_number(&col("tp")).map(|x| x as u32);
    let pp = first_number(field(m, "pp")).map(|x| x as u32).unwrap_or(1).max(1);
    let options: Vec<u32> = if ep_text.to_lowercase().contains(" or ") {
        numbers(&ep_text)
            .into_iter()
            .map(|x| x as u32)
            .filter(|x| *x > 0)
            .collect()
    } else {
        ranks.into_iter().collect()
    };
    let precision_text = field(m, "precision").to_lowercase();
    let precision = if precision_text.contains("fp4") {
        WeightPrecision::Fp4
    } else if precision_text.contains("int8") {
        WeightPrecision::Int8
    } else if precision_text.contains("fp8") {
        WeightPrecision::Fp8
    } else if precision_text.contains("bf16") {
        WeightPrecision::Bf16
    } else {
        return Err(format!("precision `{}` names no GEMM precision", field(m, "precision")));
    };
    let kv_fp8 = precision_text.contains("attention/kv")
        || precision_text.contains("kv fp8")
        || precision == WeightPrecision::Fp4
        || precision_text.contains("modelopt");
    if precision_text.contains("modelopt") {
        defaults.push(
            "FP8 KV cache: NVIDIA's ModelOpt checkpoints quantise the KV cache to FP8 (`kv_cache_quant_algo`)".into(),
        );
    } else if !kv_fp8 {
        defaults.push("KV cache in BF16 (the row states no KV dtype)".into());
    }
    let attn = field(m, "attention_parallelism").to_lowercase();
    let system = field(m, "system").to_lowercase();
    let tbo = (attn.contains("two-batch overlap") || attn.contains("tbo") || attn.contains("microbatch pipelining"))
        && !attn.contains("overlap disabled");
    let tbo = if !tbo && system.contains("deepseek") && moe {
        defaults.push("two-batch overlap: DeepSeek's inference system overview (Day 6) overlaps two micro-batches in prefill and decode".into());
        true
    } else {
        tbo
    };
    let mtp = mode.contains("mtp");
    // Workload.
    let batch_text = field(m, "batch_or_concurrency").to_lowercase();
    let batch_numbers = numbers(&batch_text);
    let kv_len = batch_text
        .find("kv len")
        .and_then(|i| first_number(&batch_text[i..]))
        .map(|x| x as u32);
    let input = match (first_number(field(m, "input_len")), kv_len) {
        (Some(x), _) => x as u32,
        (None, Some(k)) => k,
        (None, None) if production => {
            let kv = all
                .iter()
                .find(|r| {
                    field(r, "system") == field(m, "system")
                        && field(r, "metric").to_lowercase().contains("kv_cache_length")
                })
                .and_then(|r| parse_value(field(r, "value")).ok())
                .and_then(|v| v.first().copied())
                .ok_or("the production mix's context length is not among the rows")?;
            defaults.push(format!(
                "context {kv:.0} tokens: the average KV length per output token of the same system (input row)"
            ));
            kv as u32
        }
        (None, None) => return Err("the row states no input length".into()),
    };
    let output = match first_number(field(m, "output_len")) {
        Some(x) => x as u32,
        None => match phase {
            Phase::Prefill => 1,
            _ => {
                defaults.push("decode-only requests of 128 output tokens over the stated context (the row states no output length)".into());
                128
            }
        },
    };
    let output = if phase == Phase::Prefill { 1 } else { output };
    let tokens_per_device = batch_text.contains("token");
    let per_device =
        batch_text.contains("per device") || batch_text.contains("per npu") || batch_text.contains("per gpu");
    let mut try_ranks = options.clone();
    if try_ranks.is_empty() {
        try_ranks.push(tp_col.unwrap_or(1) * pp);
    }
    if options.len() > 1 {
        assumptions.push(format!(
            "the row names {} ranks per instance: the first that fits the weights is simulated (weight offload to the host is not modelled)",
            options.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" or ")
        ));
    }
    let mut last_err = String::new();
    for (k, &n) in try_ranks.iter().enumerate() {
        let ep_moe = moe && n > 1 && !options.is_empty();
        let (tp, dp) = if ep_moe {
            (1, n)
        } else {
            (tp_col.unwrap_or(n).max(1), 1)
        };
        let ep = if ep_moe { n } else { 1 };
        let gpus = tp * dp * pp;
        let (cluster, sys_defaults) = cluster_for(accel, gpus)?;
        let mut spec = InstanceSpec {
            tp,
            ep,
            dp_attn: dp,
            pp,
            instances: 1,
            max_running: serve::DEFAULT_MAX_RUNNING,
            chunk_tokens: serve::DEFAULT_CHUNK_TOKENS,
        };
        let mut local = Vec::new();
        let users: u32 = match phase {
            Phase::Decode => {
                let b = if per_device {
                    batch_numbers.first().map(|x| *x as u32).unwrap_or(DEFAULT_DECODE_BATCH)
                } else {
                    if !production {
                        local.push(format!(
                            "decode batch {DEFAULT_DECODE_BATCH} per rank (the row states none; its source mirrors the H100 post's 256 per device)"
                        ));
                    }
                    DEFAULT_DECODE_BATCH
                };
                spec.max_running = b;
                b * dp
            }
            Phase::Prefill => {
                if tokens_per_device {
                    if let Some(c) = batch_numbers.first() {
                        spec.chunk_tokens = *c as u32;
                    }
                } else {
                    local.push(format!(
                        "prefill batch not stated: the engine's chunk budget of {} tokens per rank and step",
                        serve::DEFAULT_CHUNK_TOKENS
                    ));
                }
                // Saturated: every rank's chunk budget filled every step.
                dp * (spec.chunk_tokens.div_ceil(input.max(1)) + 1) * 2
            }
            Phase::Colocated => {
                let n = batch_numbers.first().map(|x| *x as u32).unwrap_or(1).max(1);
                spec.max_running = spec.max_running.max(n);
                n
            }
        };
        let layout = match phase {
            Phase::Prefill => Layout::PrefillOnly { instance: spec },
            Phase::Decode => Layout::DecodeOnly { instance: spec },
            Phase::Colocated => Layout::Colocated { instance: spec },
        };
        let mut features = Features {
            kv_dtype_bytes: if kv_fp8 { 1.0 } else { 2.0 },
            two_batch_overlap: tbo,
            redundant_experts: if ep > 1 && moe {
                serve::inputs::DEFAULT_REDUNDANT_EXPERTS
            } else {
                0
            },
            ..Features::default()
        };
        if mtp {
            features.mtp_draft_tokens = 1;
            features.mtp_acceptance = MTP_ACCEPTANCE;
            local.push(format!(
                "MTP with one draft token accepted at {MTP_ACCEPTANCE} (DeepSeek-V3 report; the row states no acceptance)"
            ));
        }
        // Windows long enough for many steps (a prefill step of a 16K-token chunk per rank
        // takes seconds: a short window would count whole steps only).
        let (duration_s, warmup_s) = match phase {
            Phase::Prefill => (120.0, 20.0),
            Phase::Decode => (30.0, 5.0),
            Phase::Colocated => {
                if users <= 4 {
                    (60.0, 10.0)
                } else {
                    (600.0, 120.0)
                }
            }
        };
        let scenario = ServeScenario {
            cluster: cluster.clone(),
            model: model.clone(),
            precision,
            layout,
            workload: Workload::Synthetic {
                input: LenDist::Fixed { tokens: input },
                output: LenDist::Fixed { tokens: output },
                arrivals: Arrivals::Concurrency { users },
                shared_prefix_tokens: 0,
            },
            slo: Slo::default(),
            features,
            duration_s,
            warmup_s,
            seed: 1,
        };
        // Does it fit? (price once; the error names the shortfall.)
        let fits = fabric::presets::build_preset(&cluster)
            .map_err(|e| e.to_string())
            .and_then(|(_, f)| serve::cost::price_roles(&scenario, &f).map(|_| ()));
        match fits {
            Ok(()) => {
                let mut d = defaults.clone();
                d.extend(sys_defaults);
                let mut a = assumptions.clone();
                a.extend(local);
                return Ok(Mapped {
                    cluster,
                    scenario,
                    phase,
                    unit: unit_of(field(m, "metric")),
                    gpus_per_instance: gpus,
                    assumptions: a,
                    defaults: d,
                });
            }
            Err(e) => {
                last_err = e;
                if k + 1 == try_ranks.len() {
                    break;
                }
            }
        }
    }
    Err(last_err)
}

/// DeepSeek's production decode: the batch whose TPOT meets the per-user speed the same system
/// reports (its operating point), throughput per node there.
fn production_decode(
    m: &Row,
    all: &[Row],
    measured: f64,
    mut mapped: Mapped,
    f: &fabric::Fabric,
) -> Result<InferenceRow, String> {
    let speed = all
        .iter()
        .find(|r| field(r, "system") == field(m, "system") && field(r, "metric").to_lowercase().contains("per_user"))
        .and_then(|r| parse_value(field(r, "value")).ok())
        .and_then(|v| v.first().copied())
        .ok_or("the production per-user speed is not among the rows")?;
    let Layout::DecodeOnly { instance } = mapped.scenario.layout else {
        return Err("the production figure is not a decode figure".into());
    };
    let target_tpot = 1.0 / speed;
    mapped.defaults.push(format!(
        "operating point: the largest decode batch per rank whose mean TPOT is within 1 / {speed:.0} tok/s/user = {:.1} ms (the same system's per-user speed)",
        target_tpot * 1e3
    ));
    let mut best: Option<(u32, ServeReport)> = None;
    for b in [8u32, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256] {
        let mut s = mapped.scenario.clone();
        let spec = InstanceSpec {
            max_running: b,
            ..instance
        };
        s.layout = Layout::DecodeOnly { instance: spec };
        if let Workload::Synthetic { arrivals, .. } = &mut s.workload {
            *arrivals = Arrivals::Concurrency {
                users: b * spec.dp_attn,
            };
        }
        let r = serve::run(&s, f)?;
        if r.tpot_s.mean > target_tpot {
            break;
        }
        best = Some((b, r));
        mapped.scenario = s;
    }
    let (b, r) = best.ok_or_else(|| {
        format!(
            "no decode batch meets the production TPOT of {:.1} ms",
            target_tpot * 1e3
        )
    })?;
    let (predicted, what) = read_metric(&r, &mapped);
    let mut row = finish(m, mapped, measured, predicted, what);
    row.scenario.push(format!(
        "batch {b} per rank: mean TPOT {:.1} ms, {:.1} tok/s per user",
        r.tpot_s.mean * 1e3,
        r.output_tokens_per_s_per_user
    ));
    Ok(row)
}

/// An EP dispatch kernel time (`collective::moe`, DeepEP's low-latency kernel) on the row's EP
/// group.
fn dispatch_row(m: &Row, measured: f64, fabrics: &mut HashMap<String, fabric::Fabric>) -> Result<InferenceRow, String> {
    let metric = field(m, "metric").to_lowercase();
    let scale = if metric.contains("_ms") {
        1e3
    } else if metric.contains("_us") {
        1e6
    } else {
        return Err("a dispatch time without a unit (_ms or _us)".into());
    };
    let (model, _) = model_for(field(m, "model"))?;
    let moe = model.moe.as_ref().ok_or("a dispatch row on a dense model")?;
    let ep = first_number(field(m, "ep")).ok_or("the row states no EP size")? as u32;
    let accel = field(m, "accelerator").to_lowercase();
    let ascend = accel.contains("910c") || accel.contains("ascend");
    let mut defaults = Vec::new();
    let mut assumptions = Vec::new();
    // Tokens per rank: the decode batch of the same deployment, split in two by two-batch
    // overlap, else DeepEP's low-latency benchmark batch of 128.
    let tokens: u64 = 128;
    if field(m, "system").to_lowercase().contains("sglang") {
        assumptions.push("128 tokens per rank: the 256-per-device decode batch of the same deployment (row I018's setup) split in two by two-batch overlap".into());
    } else {
        assumptions.push("128 tokens per rank: DeepEP's low-latency benchmark batch (the H800 DeepEP figure the row compares with, 194 µs at EP256, is DeepEP's published result at that batch)".into());
    }
    let (cluster, sys) = cluster_for(field(m, "accelerator"), ep)?;
    defaults.extend(sys);
    let f = fabric_for(&cluster, fabrics)?;
    let experts = if ep >= moe.experts {
        ep
    } else {
        let slots = moe.experts + serve::inputs::DEFAULT_REDUNDANT_EXPERTS;
        slots.div_ceil(ep) * ep
    };
    let groups = vec![(0..ep).collect::<Vec<u32>>()];
    let mut sp = MoeSpec::new(
        MoeOp::Dispatch,
        MoeKernel::LowLatency,
        tokens,
        model.hidden,
        moe.top_k,
        experts,
    );
    sp.dtype = MoeDtype::Fp8;
    if ascend {
        defaults.push("INT8 dispatch payload, priced as the 1-byte FP8 payload plus its scales".into());
    }
    let r = collective::moe::run(f, &groups, &sp, Fidelity::Analytical).map_err(|e| e.to_string())?;
    Ok(InferenceRow {
        cluster,
        model: model.name.clone(),
        deployment: format!(
            "low-latency dispatch, EP{ep}, {experts} expert slots, top-{}",
            moe.top_k
        ),
        scenario: vec![format!(
            "compared: dispatch kernel time (latency {:.1} µs + transfer {:.1} µs)",
            r.latency_s * 1e6,
            r.transfer_s * 1e6
        )],
        measured,
        predicted: r.time_s * scale,
        assumptions,
        defaults,
        ..Default::default()
    })
}

/// InferenceX's Pareto point at an interactivity: decode swept over the batch to the per-user
/// speed the row names (interpolated), prefill saturated, prefill and decode GPUs in the ratio
/// that balances their token rates; total tokens per GPU.
fn iso_interactivity_row(
    m: &Row,
    measured: f64,
    fabrics: &mut HashMap<String, fabric::Fabric>,
) -> Result<InferenceRow, String> {
    let target = first_number(field(m, "slo")).ok_or("the row states no interactivity")?;
    let (model, _) = model_for(field(m, "model"))?;
    let input = first_number(field(m, "input_len")).ok_or("no input length")? as u32;
    let output = first_number(field(m, "output_len")).ok_or("no output length")? as u32;
    let ep = first_number(field(m, "ep")).unwrap_or(8.0) as u32;
    let accel = field(m, "accelerator");
    let mut assumptions = vec![
        format!("decode: TP1, DP attention and EP over {ep} GPUs (the widest EP the row names)"),
        "prefill: TP1, DP attention and EP over 8 GPUs, saturated".to_string(),
        "prefill and decode GPUs in the ratio that balances their token rates (fractional; the row does not state the P:D split)".to_string(),
        format!("MTP with one draft token accepted at {MTP_ACCEPTANCE} (DeepSeek-V3 report; the row states no acceptance)"),
    ];
    let mut defaults = vec![format!(
        "tokens per GPU count input and output, as InferenceX's `tput_per_gpu` (InferenceMAX issue #293)"
    )];
    let (dec_cluster, d1) = cluster_for(accel, ep)?;
    let (pre_cluster, d2) = cluster_for(accel, 8)?;
    defaults.extend(d1);
    defaults.extend(d2);
    let features = Features {
        kv_dtype_bytes: 1.0,
        redundant_experts: serve::inputs::DEFAULT_REDUNDANT_EXPERTS,
        mtp_draft_tokens: 1,
        mtp_acceptance: MTP_ACCEPTANCE,
        ..Features::default()
    };
    let base = |layout: Layout, users: u32, out: u32, cluster: &str| ServeScenario {
        cluster: cluster.to_string(),
        model: model.clone(),
        precision: WeightPrecision::Fp4,
        layout,
        workload: Workload::Synthetic {
            input: LenDist::Fixed { tokens: input },
            output: LenDist::Fixed { tokens: out },
            arrivals: Arrivals::Concurrency { users },
            shared_prefix_tokens: 0,
        },
        slo: Slo::default(),
        features: features.clone(),
        duration_s: 30.0,
        warmup_s: 5.0,
        seed: 1,
    };
    // Decode curve.
    let fd = fabric_for(&dec_cluster, fabrics)?.clone();
    let mut curve: Vec<(f64, f64, u32)> = Vec::new();
    for b in [1u32, 2, 4, 8, 16, 32, 64, 128, 256] {
        let spec = InstanceSpec {
            tp: 1,
            ep,
            dp_attn: ep,
            pp: 1,
            instances: 1,
            max_running: b,
            chunk_tokens: serve::DEFAULT_CHUNK_TOKENS,
        };
        let s = base(Layout::DecodeOnly { instance: spec }, b * ep, output, &dec_cluster);
        let r = serve::run(&s, &fd)?;
        curve.push((r.output_tokens_per_s_per_user, r.output_tokens_per_s_per_accel, b));
    }
    let (dec, b_lo) = interpolate(&curve, target).ok_or_else(|| {
        format!(
            "the modelled decode does not reach {target} tok/s/user (fastest {:.0})",
            curve.first().map_or(0.0, |c| c.0)
        )
    })?;
    // Prefill, saturated.
    let fp = fabric_for(&pre_cluster, fabrics)?.clone();
    let spec = InstanceSpec {
        tp: 1,
        ep: 8,
        dp_attn: 8,
        pp: 1,
        instances: 1,
        max_running: serve::DEFAULT_MAX_RUNNING,
        chunk_tokens: serve::DEFAULT_CHUNK_TOKENS,
    };
    let users = 8 * (serve::DEFAULT_CHUNK_TOKENS.div_ceil(input) + 1) * 2;
    let mut s = base(Layout::PrefillOnly { instance: spec }, users, 1, &pre_cluster);
    s.features.mtp_draft_tokens = 0;
    s.duration_s = 120.0;
    s.warmup_s = 20.0;
    let pre = serve::run(&s, &fp)?.input_tokens_per_s_per_accel;
    if !(pre > 0.0 && dec > 0.0) {
        return Err("the modelled prefill or decode produced no tokens".into());
    }
    let ratio = input as f64 / output as f64;
    let gpus_per_out = 1.0 / dec + ratio / pre;
    let tokens = if ISO_INTERACTIVITY_COUNTS_INPUT {
        1.0 + ratio
    } else {
        1.0
    };
    let predicted = tokens / gpus_per_out;
    assumptions.retain(|a| !a.is_empty());
    Ok(InferenceRow {
        cluster: if dec_cluster == pre_cluster {
            dec_cluster.clone()
        } else {
            format!("{dec_cluster} (decode), {pre_cluster} (prefill)")
        },
        model: model.name.clone(),
        deployment: format!("prefill tp=1,ep=8,dp-attn=8 + decode tp=1,ep={ep},dp-attn={ep} (P:D balanced)"),
        scenario: vec![
            format!("workload: {input} in / {output} out, FP4 weights, FP8 KV"),
            format!(
                "decode at {target} tok/s/user: {dec:.0} output tok/s per GPU (between batches {b_lo} and {} per rank)",
                b_lo * 2
            ),
            format!(
                "prefill: {pre:.0} input tok/s per GPU; P:D GPUs {:.2}",
                (ratio / pre) / (1.0 / dec)
            ),
            "compared: (input + output) tokens/s per GPU of prefill and decode together".into(),
        ],
        measured,
        predicted,
        assumptions,
        defaults,
        ..Default::default()
    })
}

/// Throughput per accelerator where the per-user speed (falling with the batch) crosses
/// `target`, linear between the two points around it; and the lower batch.
fn interpolate(curve: &[(f64, f64, u32)], target: f64) -> Option<(f64, u32)> {
    for w in curve.windows(2) {
        let ((u0, t0, b0), (u1, t1, _)) = (w[0], w[1]);
        if u0 >= target && u1 <= target && u0 > u1 {
            let x = (u0 - target) / (u0 - u1);
            return Some((t0 + (t1 - t0) * x, b0));
        }
    }
    None
}

/// Human table; with `explain`, each row is followed by the scenario it became.
pub fn render(r: &InferenceReport, explain: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<34} {:<44} {:>10} {:>10} {:>8}",
        "row", "system", "metric", "measured", "modelled", "error"
    );
    for c in &r.rows {
        let _ = writeln!(
            s,
            "{:<6} {:<34} {:<44} {:>10} {:>10} {:>7.1}%{}",
            c.row_id,
            c.system.chars().take(34).collect::<String>(),
            c.metric.chars().take(44).collect::<String>(),
            fmt_num(c.measured),
            fmt_num(c.predicted),
            c.error_pct,
            if c.assumptions.is_empty() { "" } else { "  (assumed)" }
        );
        if explain {
            let mut lines = vec![format!("deployment: {}", c.deployment)];
            lines.extend(c.scenario.iter().cloned());
            s.push_str(&crate::validate::explain_lines(
                &c.cluster,
                &lines,
                &c.assumptions,
                &c.defaults,
            ));
        }
    }
    if !r.inputs.is_empty() {
        let _ = writeln!(s, "\ninputs (workload and fleet descriptions, not compared):");
        for l in &r.inputs {
            let _ = writeln!(s, "{:<6} {} = {}: {}", l.row_id, l.metric, l.value, l.reason);
        }
    }
    if !r.not_compared.is_empty() {
        let _ = writeln!(s, "\nnot compared:");
        for l in &r.not_compared {
            let _ = writeln!(s, "{:<6} {} = {}: {}", l.row_id, l.metric, l.value, l.reason);
        }
    }
    let footer = crate::validate::render_footer(
        &crate::validate::Report::<InferenceRow> {
            schema_version: r.schema_version,
            kind: r.kind.clone(),
            data_set: r.data_set.clone(),
            rows: Vec::new(),
            skipped: Vec::new(),
            summary: clone_summary(&r.summary),
        },
        "   (each row in its own unit)",
    );
    s.push_str(&footer);
    s
}

fn clone_summary(s: &Summary) -> Summary {
    Summary {
        rows_compared: s.rows_compared,
        rows_skipped: s.rows_skipped,
        median_abs_error_pct: s.median_abs_error_pct,
        max_abs_error_pct: s.max_abs_error_pct,
        rows_stated: s.rows_stated,
        rows_assumed: s.rows_assumed,
        assumed_rows: s.assumed_rows.clone(),
        assumed_median_abs_error_pct: s.assumed_median_abs_error_pct,
        assumed_max_abs_error_pct: s.assumed_max_abs_error_pct,
        all_median_abs_error_pct: s.all_median_abs_error_pct,
        all_max_abs_error_pct: s.all_max_abs_error_pct,
        by_source_group: s.by_source_group.clone(),
    }
}

fn fmt_num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_thousands_and_units() {
        assert_eq!(numbers("16,384 tokens/device"), vec![16384.0]);
        assert_eq!(numbers("2000 (KV len 2,000)"), vec![2000.0, 2000.0]);
        assert_eq!(numbers("128 per device; KV len 4096"), vec![128.0, 4096.0]);
        assert_eq!(parse_value("20-22").unwrap(), vec![21.0]);
        assert_eq!(parse_value("1.49x / 2.54x").unwrap(), vec![1.49, 2.54]);
        assert_eq!(parse_value("525%").unwrap(), vec![525.0]);
        assert!(parse_value("lots").is_err());
    }

    #[test]
    fn phases_split() {
        assert_eq!(
            first_number(&phase_part("prefill 32 / decode 144", Phase::Decode)),
            Some(144.0)
        );
        assert_eq!(first_number(&phase_part("32 (P) / 72 (D)", Phase::Prefill)), Some(32.0));
    }
}

//! `fabricsim validate --training CSV`: rebuild each published training run (cluster, model,
//! parallelism), simulate one step, and compare on the row's own metric with the row's own FLOP
//! accounting.
//!
//! Mapping rules (docs/calibration.md):
//! - cluster: the accelerator's standard system (8 per node on NVSwitch, one NIC per GPU at that
//!   generation's speed, or the speed read from `system_interconnect`: "8x 200Gb/s HDR",
//!   "4 OPA links per node" = 4 × 100 Gb/s) in a rail-optimized fat-tree of ⌈N/8⌉ nodes;
//! - model: the registry by name when the row names a public model, else the row's layers,
//!   hidden and heads with GPT defaults and the vocabulary stated in `other_parallelism`;
//! - plan: TP/PP/DP/CP/EP/VP from the row (DP = N/(TP·PP·CP) when empty), micro-batch 1 when
//!   not stated, full recompute when the row says so, else selective; FP8 when the row says FP8;
//!   `--tp-comm-overlap` honoured;
//! - memory (the `fits`/`OOM` column only; the step is timed with the plan above): rows trained
//!   with FSDP (`other_parallelism` says so: PyTorch FSDP/FSDP2, Megatron-FSDP) shard weights,
//!   gradients and optimizer states over DP, i.e. ZeRO-3; NeMo 24.07 rows keep gradients in BF16
//!   (the NeMo Framework Launcher's H100 recipes run `distributed_fused_adam` with
//!   `grad_sync_dtype=bf16`, e.g. examples/training/llama/h100/llama3_8b_fp8.sh and
//!   gpt/h100/175b_fp8_16node.sh); capacity is the usable HBM the driver reports;
//! - metric, first available: step_time_s, tokens_per_s_per_accel, tflops_per_accel, mfu_pct,
//!   hfu_pct. TFLOP/s use the row's accounting: Megatron SC'21 and BLOOM count hardware FLOPs
//!   96·B·s·l·h²·(1 + s/6h + V/16lh); Korthikanti, Megatron-Core and NeMo count model FLOPs
//!   72·B·s·l·h²·(1 + s/6h + V/12hl) for GPT-style rows and the simulator's own model FLOPs for
//!   named non-GPT models (Llama, Nemotron).

use crate::train::{simulate, TrainOptions};
use crate::validate::{DataSet, Progress, Report};
use serde::Serialize;
use std::collections::HashMap;
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

fn field<'a>(m: &'a HashMap<String, String>, k: &str) -> &'a str {
    m.get(k).map(|s| s.trim()).unwrap_or("")
}

fn num(m: &HashMap<String, String>, k: &str) -> Option<f64> {
    field(m, k).parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
}

/// Gb/s per GPU from the interconnect text, if stated.
fn port_gbit(text: &str, gpus_per_node: u32) -> Option<f64> {
    let l = text.to_lowercase();
    if let Some(t) = crate::validate::parse_inter_node(&l) {
        return Some(t / gpus_per_node as f64);
    }
    if l.contains("opa") || l.contains("omni-path") {
        // "4 OPA links per node": Omni-Path 100 Gb/s links.
        let n: f64 = l
            .split_whitespace()
            .zip(l.split_whitespace().skip(1))
            .find(|(_, b)| b.starts_with("opa"))
            .and_then(|(a, _)| a.trim_start_matches('(').parse().ok())
            .unwrap_or(4.0);
        return Some(n * 100.0 / gpus_per_node as f64);
    }
    None
}

fn vocab_of(text: &str) -> Option<u64> {
    let l = text.to_lowercase();
    let i = l.find("vocab")?;
    l[i + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

/// Which registry model a row names, if any (public architectures only).
fn registry_model(name: &str) -> Option<ModelSpec> {
    let l = name.to_lowercase();
    if l.contains("megatron") || l.starts_with("gpt") {
        return None;
    }
    workload::registry::lookup(&l)
        .or_else(|| workload::registry::lookup(&l.replace("llama2", "llama-2").replace("llama3", "llama-3")))
        .or_else(|| workload::registry::lookup(&l.replace("llama2-", "llama-2-").replace("llama3-", "llama-3-")))
        .or_else(|| {
            if l.contains("bloom") {
                workload::registry::lookup("bloom-176b")
            } else {
                None
            }
        })
        .or_else(|| {
            if l.contains("nemotron") && l.contains("340") {
                workload::registry::lookup("nemotron-4-340b")
            } else {
                None
            }
        })
}

/// The plan a training row became.
#[derive(Debug, Serialize, Clone, Default)]
pub struct RowPlan {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    pub vp: u32,
    pub micro_batch: u32,
    pub global_batch_seqs: u32,
    pub seq_len: u64,
    pub zero: u8,
    pub recompute: String,
    pub precision: String,
    pub sequence_parallel: bool,
    pub tp_comm_overlap: bool,
}

impl RowPlan {
    /// The plan as a row reports it.
    pub fn from_plan(p: &ParallelPlan) -> Self {
        RowPlan {
            tp: p.tp,
            pp: p.pp,
            dp: p.dp,
            cp: p.cp,
            ep: p.ep,
            vp: p.vp,
            micro_batch: p.mbs,
            global_batch_seqs: p.gbs,
            seq_len: p.seq,
            zero: p.zero,
            recompute: format!("{:?}", p.recompute).to_lowercase(),
            precision: format!("{:?}", p.precision).to_lowercase(),
            sequence_parallel: p.sequence_parallel,
            tp_comm_overlap: p.tp_comm_overlap,
        }
    }
}

impl RowModel {
    /// The model as a row reports it.
    pub fn from_model(m: &ModelSpec) -> Self {
        RowModel {
            name: m.name.clone(),
            layers: m.layers,
            hidden: m.hidden,
            heads: m.heads,
            vocab: m.vocab,
            params: m.params(),
        }
    }
}

/// The model a training row became.
#[derive(Debug, Serialize, Clone, Default)]
pub struct RowModel {
    pub name: String,
    pub layers: u32,
    pub hidden: u64,
    pub heads: u32,
    pub vocab: u64,
    pub params: f64,
}

/// Memory of the row's plan as its framework lays it out (mapping rules above).
#[derive(Debug, Serialize, Clone, Default)]
pub struct RowMemory {
    pub fits: bool,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub required_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub capacity_bytes: f64,
}

/// One compared training row: the scenario it became (cluster, model, plan, framework, the
/// assumptions that filled its gaps) and the error on the row's own metric.
#[derive(Debug, Serialize, Clone, Default)]
pub struct TrainingRow {
    pub row_id: String,
    pub source_group: String,
    /// "model on N × accelerator", as the row names them.
    pub run: String,
    /// The cluster the row became (a preset spec).
    pub cluster: String,
    pub model: RowModel,
    /// The framework whose behaviour the row is simulated with.
    pub framework: String,
    pub plan: RowPlan,
    pub memory: RowMemory,
    pub metric: String,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    /// Layout, batch or model dimensions the row omits, taken by a stated rule: an assumed row.
    pub assumptions: Vec<String>,
    /// Details the system defines (standard NIC, flagship SKU, micro-batch 1): said, not assumed.
    pub defaults: Vec<String>,
}

crate::impl_validated_row!(TrainingRow);

impl TrainingRow {
    /// The plan in Megatron's short form: `TP8 PP4 DP32 VP2`.
    pub fn plan_label(&self) -> String {
        let p = &self.plan;
        let mut s = format!("TP{} PP{} DP{}", p.tp, p.pp, p.dp);
        for (k, v) in [("CP", p.cp), ("EP", p.ep), ("VP", p.vp)] {
            if v > 1 {
                s.push_str(&format!(" {k}{v}"));
            }
        }
        s
    }
}

/// Validate the training CSV `text`.
pub fn training(text: &str) -> Result<Report<TrainingRow>, String> {
    training_from(DataSet { name: "CSV text", text }, &mut |_, _| {})
}

/// Every record of the CSV as column → value, read leniently (replay reports malformed ones):
/// the sibling rows the assumption rules draw on.
fn all_rows(text: &str) -> Vec<HashMap<String, String>> {
    crate::validate::records(text)
        .map(|(_, r)| r.into_iter().map(|(m, _)| m).collect())
        .unwrap_or_default()
}

/// Validate a training data set, telling `progress` after every row.
pub fn training_from(data: DataSet, progress: Progress) -> Result<Report<TrainingRow>, String> {
    let rows = all_rows(data.text);
    crate::validate::replay(
        data,
        &["row_id", "accelerator", "num_accel", "seq_len"],
        crate::validate::TRAINING_COLUMNS,
        "training",
        |m| one(m, &rows),
        progress,
    )
}

/// Whether the row's plan fits the accelerator's memory as the row's framework lays it out:
/// FSDP (`other` names it) as ZeRO-3, NeMo (`group` names it) with BF16 gradients (mapping
/// rules above). Returns (fits, required bytes, capacity bytes).
fn row_memory(
    f: &fabric::Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    other: &str,
    group: &str,
    framework: &workload::FrameworkProfile,
    recipe: &crate::train::memory::RecipeMemory,
) -> RowMemory {
    let plan = ParallelPlan {
        zero: if other.to_lowercase().contains("fsdp") {
            3
        } else {
            plan.zero
        },
        ..plan.clone()
    };
    let grad_bytes = if group.contains("NeMo") { 2.0 } else { 4.0 };
    let required = crate::train::memory::memory_for_recipe(model, &plan, framework, grad_bytes, recipe).total();
    let capacity = crate::train::memory::capacity(f);
    RowMemory {
        fits: required <= capacity,
        required_bytes: required,
        capacity_bytes: capacity,
    }
}

/// Words two source groups share at their start ("Megatron-LM README H100 weak scaling" and
/// "Megatron-LM README H100 strong scaling" share 3).
fn shared_prefix_words(a: &str, b: &str) -> usize {
    a.split_whitespace()
        .zip(b.split_whitespace())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The sibling of row `m` that a gap is filled from: another row of the same model (equal
/// `layers`, `hidden`, `heads`) on the same accelerator family that has what `has` asks for;
/// of the same `source_group` first, else of the group sharing the most leading words with it
/// (at least two: the same source), ties to the earlier row.
fn sibling<'a>(
    rows: &'a [HashMap<String, String>],
    m: &HashMap<String, String>,
    has: impl Fn(&HashMap<String, String>) -> bool,
) -> Option<&'a HashMap<String, String>> {
    let same_model = |r: &HashMap<String, String>| {
        ["layers", "hidden", "heads"]
            .iter()
            .all(|k| !field(r, k).is_empty() && field(r, k) == field(m, k))
            && accel_family(field(r, "accelerator")) == accel_family(field(m, "accelerator"))
            && field(r, "row_id") != field(m, "row_id")
    };
    let group = field(m, "source_group");
    rows.iter()
        .filter(|r| same_model(r) && has(r))
        .map(|r| (shared_prefix_words(field(r, "source_group"), group), r))
        .filter(|(w, r)| *w >= 2 || field(r, "source_group") == group)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, r)| r)
}

/// A100 / H100 / … : the part a row's accelerator column starts with, for sibling matching.
fn accel_family(a: &str) -> String {
    a.to_lowercase()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The framework a row ran under, from its source group and parallelism text (the profile
/// `validate_framework::row_framework` picks; MaxText rows by name).
pub fn framework_of(group: &str, other: &str) -> &'static str {
    let g = format!("{group} {other}").to_lowercase();
    if g.contains("maxtext") || g.contains("jax") {
        "maxtext"
    } else {
        crate::validate_framework::row_framework(group, other, "", "")
            .framework
            .name()
    }
}

/// The scenario a (GPU) training row becomes under the mapping rules (module notes): what
/// `validate --training` simulates and `validate --planner` plans for.
#[derive(Debug, Clone)]
pub struct RowScenario {
    /// The cluster as a preset spec.
    pub spec: String,
    pub fabric: fabric::Fabric,
    pub model: ModelSpec,
    /// The row's model column.
    pub model_name: String,
    /// The row names no registry model: GPT-style sizes (the row's FLOP accounting).
    pub gpt_style: bool,
    /// The published plan.
    pub plan: ParallelPlan,
    /// The compute model with the row's framework and era applied.
    pub cm: workload::compute::ComputeModel,
    pub accelerators: u32,
    pub accelerator: String,
    pub memory: RowMemory,
    /// Whether the row states its own TP and PP (not taken from a sibling row).
    pub layout_stated: bool,
    pub assumptions: Vec<String>,
    pub defaults: Vec<String>,
}

/// Every row of a training CSV as its id and the scenario it becomes; TPU rows (MaxText,
/// `validate_tpu`'s own mapping) and rows the mapping cannot build carry an error.
pub fn row_scenarios(text: &str) -> Vec<(String, Result<RowScenario, String>)> {
    let rows = all_rows(text);
    rows.iter()
        .map(|m| {
            let id = field(m, "row_id").to_string();
            if crate::validate_tpu::compare(m).is_some() {
                return (id, Err("a TPU row (MaxText mapping, validate_tpu)".into()));
            }
            (id, row_scenario(m, &rows))
        })
        .collect()
}

fn one(m: &HashMap<String, String>, rows: &[HashMap<String, String>]) -> Result<TrainingRow, String> {
    // TPU rows under MaxText: their own mapping (validate_tpu.rs).
    if let Some(r) = crate::validate_tpu::compare(m) {
        return r;
    }
    let RowScenario {
        spec,
        fabric: f,
        model,
        model_name,
        gpt_style,
        plan,
        cm,
        accelerators: n,
        accelerator: accel,
        memory,
        layout_stated: _,
        assumptions,
        defaults,
    } = row_scenario(m, rows)?;
    let group = field(m, "source_group");
    let (gbs, seq) = (plan.gbs, plan.seq);
    let model_name = model_name.as_str();
    let accel = accel.as_str();
    let r = simulate(
        &spec,
        &f,
        &model,
        &plan,
        &cm,
        &TrainOptions {
            fidelity: engine::Fidelity::Flow,
            allow_oom: true,
            full: false,
            in_network: collective::InNetwork::default(),
            moe_imbalance: 1.0,
            cross_site: Default::default(),
        },
    )
    .map_err(|e| e.to_string())?;
    let world = plan.world() as f64;
    let (b, s, l, h, v) = (
        gbs as f64,
        seq as f64,
        model.layers as f64,
        model.hidden as f64,
        model.vocab as f64,
    );
    let hw_formula = 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
    let model_formula = if gpt_style {
        72.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (12.0 * h * l))
    } else {
        r.model_flops_per_step
    };
    let uses_hw = group.contains("SC21") || group.contains("BLOOM");
    let step = r.step_time_s;
    let (metric, measured, predicted) = if let Some(x) = num(m, "step_time_s") {
        ("step_time_s", x, step)
    } else if let Some(x) = num(m, "tokens_per_s_per_accel") {
        ("tokens_per_s_per_accel", x, r.tokens_per_s_per_accel)
    } else if let Some(x) = num(m, "tflops_per_accel") {
        let flops = if uses_hw { hw_formula } else { model_formula };
        ("tflops_per_accel", x, flops / step / world / 1e12)
    } else if let Some(x) = num(m, "mfu_pct") {
        let peak = cm.accel.peak_bf16;
        ("mfu_pct", x, model_formula / step / world / peak * 100.0)
    } else if let Some(x) = num(m, "hfu_pct") {
        let peak = cm.accel.peak_bf16;
        ("hfu_pct", x, hw_formula / step / world / peak * 100.0)
    } else {
        return Err("the row gives no comparable metric (step_time_s, tokens_per_s_per_accel, tflops_per_accel, mfu_pct or hfu_pct)".into());
    };
    Ok(TrainingRow {
        run: format!("{} on {} × {}", model_name, n, accel),
        cluster: spec,
        model: RowModel::from_model(&model),
        framework: cm.framework.framework.name().into(),
        plan: RowPlan::from_plan(&plan),
        memory,
        metric: metric.into(),
        measured,
        predicted,
        error_pct: (predicted - measured) / measured * 100.0,
        assumptions,
        defaults,
        ..Default::default()
    })
}

/// The scenario of GPU training row `m` (mapping rules in the module notes).
pub fn row_scenario(m: &HashMap<String, String>, rows: &[HashMap<String, String>]) -> Result<RowScenario, String> {
    let mut assumptions: Vec<String> = Vec::new();
    let mut defaults: Vec<String> = Vec::new();
    let accel = field(m, "accelerator");
    let (node, arch_note) = crate::validate::node_for_noted(accel)
        .ok_or_else(|| format!("accelerator `{accel}` has no standard system"))?;
    defaults.extend(arch_note);
    let n = num(m, "num_accel").ok_or("num_accel missing")? as u32;
    let seq = num(m, "seq_len").ok_or("seq_len missing")? as u64;
    let mut other = field(m, "other_parallelism").to_string();
    let group = field(m, "source_group");

    // Layout: the row's, else its sibling's (same model and source) with DP = N / (TP·PP·CP).
    let (tp, pp, mut vp, mut cp, mut mbs_given) = (
        num(m, "TP").map(|v| v as u32),
        num(m, "PP").map(|v| v as u32),
        num(m, "VP").map(|v| v as u32),
        num(m, "CP").map(|v| v as u32),
        num(m, "micro_batch").map(|v| v as u32),
    );
    let layout_stated = tp.is_some() && pp.is_some();
    let (tp, pp) = match (tp, pp) {
        (Some(tp), Some(pp)) => (tp, pp),
        _ => {
            let s = sibling(rows, m, |r| num(r, "TP").is_some() && num(r, "PP").is_some())
                .ok_or("the row does not state its parallel layout (TP/PP) and has no sibling row of the same model and source that does")?;
            let (tp, pp) = (num(s, "TP").unwrap_or(1.0) as u32, num(s, "PP").unwrap_or(1.0) as u32);
            vp = vp.or(num(s, "VP").map(|v| v as u32));
            cp = cp.or(num(s, "CP").map(|v| v as u32));
            mbs_given = mbs_given.or(num(s, "micro_batch").map(|v| v as u32));
            let sib_other = field(s, "other_parallelism");
            assumptions.push(format!(
                "layout not stated: TP {tp} · PP {pp}{} and the options `{sib_other}` of sibling row {} ({}), the published recipe of this model; DP = GPUs ÷ (TP·PP·CP)",
                vp.filter(|&v| v > 1).map(|v| format!(" · VP {v}")).unwrap_or_default(),
                field(s, "row_id"),
                field(s, "source_group"),
            ));
            other = format!("{other}; {sib_other}");
            (tp, pp)
        }
    };
    let cp = cp.unwrap_or(1);
    let ep = num(m, "EP").map(|v| v as u32).unwrap_or(1);
    let vp = vp.unwrap_or(1);
    if tp == 0 || pp == 0 || cp == 0 || n % (tp * pp * cp) != 0 {
        return Err(format!(
            "{n} accelerators are not a multiple of TP·PP·CP = {}",
            tp * pp * cp
        ));
    }
    let dp = num(m, "DP").map(|v| v as u32).unwrap_or(n / (tp * pp * cp));
    let mbs = mbs_given.unwrap_or_else(|| {
        defaults.push("micro-batch not stated: 1".into());
        1
    });

    // Global batch: the row's, else the sibling's batch per data-parallel replica × DP.
    let gbs = match num(m, "global_batch_seqs") {
        Some(g) => g as u32,
        None => {
            let s = sibling(rows, m, |r| num(r, "global_batch_seqs").is_some())
                .ok_or("global_batch_seqs missing, and no sibling row of the same model and source states one")?;
            let sg = num(s, "global_batch_seqs").unwrap_or(1.0);
            let sdp = num(s, "DP").unwrap_or_else(|| {
                let n = num(s, "num_accel").unwrap_or(1.0);
                n / (num(s, "TP").unwrap_or(1.0) * num(s, "PP").unwrap_or(1.0) * num(s, "CP").unwrap_or(1.0))
            });
            let per_replica = (sg / sdp.max(1.0)).round().max(1.0);
            let g = (per_replica * dp as f64) as u32;
            assumptions.push(format!(
                "global batch not stated: {g} sequences, the {per_replica} per data-parallel replica of sibling row {} ({} sequences on DP {sdp}) × DP {dp}",
                field(s, "row_id"),
                sg
            ));
            g
        }
    };

    let lower = other.to_lowercase();
    let recompute = if lower.contains("full activation") || lower.contains("full ac") {
        Recompute::Full
    } else if lower.contains("no recompute") {
        Recompute::None
    } else {
        Recompute::Selective
    };
    let precision = if field(m, "precision").to_lowercase().contains("fp8") {
        Precision::Fp8
    } else {
        Precision::Bf16
    };
    let model_name = field(m, "model");
    let named = registry_model(model_name);
    let gpt_style = named.is_none();
    let vocab = vocab_of(&other).unwrap_or(51200);
    let model = match named {
        Some(mm) => mm,
        None => {
            let layers = num(m, "layers").ok_or("layers missing")? as u32;
            let hidden = num(m, "hidden").ok_or("hidden missing")? as u64;
            let heads = num(m, "heads").ok_or("heads missing")? as u32;
            let mm = ModelSpec::gpt(model_name, layers, hidden, heads, vocab, seq);
            mm.validate(model_name).map_err(|e| e.to_string())?;
            mm
        }
    };
    let rf = crate::validate_framework::row_framework(group, &other, field(m, "precision"), accel);
    let node = rf.node.unwrap_or(node);
    let gpn = 8u32;
    let nodes = n.div_ceil(gpn).max(1);
    let node_t = fabric::topology::nodes::node_type(node).map_err(|e| e.to_string())?;
    let port = match port_gbit(field(m, "system_interconnect"), gpn) {
        Some(p) => p,
        None => {
            let p = node_t.port.as_gbit();
            if nodes > 1 && !crate::validate_nvl72::is_rack(node) {
                defaults.push(format!(
                    "inter-node speed not stated: the system's standard, {p} Gb/s per GPU"
                ));
            }
            p
        }
    };
    // NVL72 racks (whole or partial, NVL4/NVL8 partitions): the rack scenario and what the row
    // leaves to the system's definition.
    let spec = match crate::validate_nvl72::training_scenario(node, n) {
        Some(sc) => {
            defaults.extend(sc.assumptions);
            sc.spec
        }
        None => format!("rail-optimized:gpus={},node={node},port_gbit={port}", nodes * gpn),
    };
    let (_, mut f) = fabric::presets::build_preset(&spec).map_err(|e| e.to_string())?;
    if !crate::validate_nvl72::is_rack(node) {
        // The routing the row's network implies (InfiniBand adaptive, EFA spray, else ECMP).
        f.routing = crate::routing::for_interconnect(field(m, "system_interconnect"));
    }
    let mut plan = ParallelPlan {
        tp,
        pp,
        dp,
        cp,
        ep,
        vp,
        mbs,
        gbs,
        seq,
        zero: 1,
        recompute,
        precision,
        sequence_parallel: tp > 1 && !group.contains("SC21"),
        tp_comm_overlap: lower.contains("tp-comm-overlap"),
        layers_per_stage: None,
        hsdp_shard: None,
    };
    let mut cm = crate::train::compute_model_for(f.accel_model)
        .ok_or_else(|| format!("no compute model for `{}`", f.accel_model))?;
    crate::validate_framework::apply(&rf, &mut plan, &mut cm);
    defaults.extend(crate::validate_era::apply(group, &other, &mut plan, &mut cm));
    let recipe = crate::validate_recipes::megatron_bridge(group, &model, accel, &plan);
    plan.layers_per_stage = recipe.layers_per_stage.clone().or(plan.layers_per_stage);
    defaults.extend(recipe.notes);
    let memory = row_memory(&f, &model, &plan, &lower, group, &cm.framework, &recipe.memory);
    Ok(RowScenario {
        spec,
        fabric: f,
        model,
        model_name: model_name.to_string(),
        gpt_style,
        plan,
        cm,
        accelerators: n,
        accelerator: accel.to_string(),
        memory,
        layout_stated,
        assumptions,
        defaults,
    })
}

/// Human table of a training validation; with `explain`, each row is followed by the scenario it
/// became (cluster, model, plan, framework, memory, assumptions).
pub fn render(r: &Report<TrainingRow>, explain: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<40} {:<22} {:<24} {:>10} {:>10} {:>8}  memory",
        "row", "run", "plan", "metric", "measured", "predicted", "error"
    );
    for c in &r.rows {
        let _ = writeln!(
            s,
            "{:<6} {:<40} {:<22} {:<24} {:>10.1} {:>10.1} {:>7.1}%  {}{}",
            c.row_id,
            c.run.chars().take(40).collect::<String>(),
            c.plan_label(),
            c.metric,
            c.measured,
            c.predicted,
            c.error_pct,
            if c.memory.fits { "fits" } else { "OOM" },
            if c.assumptions.is_empty() { "" } else { "  (assumed)" }
        );
        if explain {
            let p = &c.plan;
            let md = &c.model;
            let scenario = vec![
                format!(
                    "model: {} ({} layers, hidden {}, {} heads, vocab {}, {:.2}B parameters)",
                    md.name,
                    md.layers,
                    md.hidden,
                    md.heads,
                    md.vocab,
                    md.params / 1e9
                ),
                format!(
                    "plan: {} · micro-batch {} · global batch {} × {} tokens · ZeRO-{} · recompute {} · {}{}{}",
                    c.plan_label(),
                    p.micro_batch,
                    p.global_batch_seqs,
                    p.seq_len,
                    p.zero,
                    p.recompute,
                    p.precision,
                    if p.sequence_parallel {
                        " · sequence parallel"
                    } else {
                        ""
                    },
                    if p.tp_comm_overlap { " · TP comm overlap" } else { "" }
                ),
                format!("framework: {}", c.framework),
                format!(
                    "memory: {} of {} ({})",
                    units::si(c.memory.required_bytes, "B"),
                    units::si(c.memory.capacity_bytes, "B"),
                    if c.memory.fits { "fits" } else { "does not fit" }
                ),
            ];
            s.push_str(&crate::validate::explain_lines(
                &c.cluster,
                &scenario,
                &c.assumptions,
                &c.defaults,
            ));
        }
    }
    s.push_str(&crate::validate::render_footer(r, "   (each row on its own metric)"));
    s
}

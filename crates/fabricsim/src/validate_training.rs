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
use crate::validate::{Compared, DataSet, Progress, Report};
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

/// Validate the training CSV `text`.
pub fn training(text: &str) -> Result<Report, String> {
    training_from(DataSet { name: "CSV text", text }, &mut |_, _| {})
}

/// Validate a training data set, telling `progress` after every row.
pub fn training_from(data: DataSet, progress: Progress) -> Result<Report, String> {
    crate::validate::replay(
        data,
        &[
            "row_id",
            "accelerator",
            "num_accel",
            "layers",
            "hidden",
            "heads",
            "seq_len",
            "global_batch_seqs",
        ],
        crate::validate::TRAINING_COLUMNS,
        "training",
        one,
        progress,
    )
}

/// Whether the row's plan fits the accelerator's memory as the row's framework lays it out:
/// FSDP (`other` names it) as ZeRO-3, NeMo (`group` names it) with BF16 gradients (mapping
/// rules above).
fn row_fits(f: &fabric::Fabric, model: &ModelSpec, plan: &ParallelPlan, other: &str, group: &str) -> bool {
    let plan = ParallelPlan {
        zero: if other.to_lowercase().contains("fsdp") {
            3
        } else {
            plan.zero
        },
        ..plan.clone()
    };
    let grad_bytes = if group.contains("NeMo") { 2.0 } else { 4.0 };
    crate::train::memory::memory_with_grad_bytes(model, &plan, grad_bytes).total() <= crate::train::memory::capacity(f)
}

fn one(m: &HashMap<String, String>) -> Result<Compared, String> {
    let accel = field(m, "accelerator");
    let node =
        crate::validate::node_for(accel).ok_or_else(|| format!("accelerator `{accel}` has no standard system"))?;
    let n = num(m, "num_accel").ok_or("num_accel missing")? as u32;
    let layers = num(m, "layers").ok_or("layers missing")? as u32;
    let hidden = num(m, "hidden").ok_or("hidden missing")? as u64;
    let heads = num(m, "heads").ok_or("heads missing")? as u32;
    let seq = num(m, "seq_len").ok_or("seq_len missing")? as u64;
    let gbs = num(m, "global_batch_seqs").ok_or("global_batch_seqs missing")? as u32;
    let other = field(m, "other_parallelism");
    let tp = num(m, "TP").map(|v| v as u32);
    let pp = num(m, "PP").map(|v| v as u32);
    let (Some(tp), Some(pp)) = (tp, pp) else {
        return Err("the row does not state its parallel layout (TP/PP)".into());
    };
    let cp = num(m, "CP").map(|v| v as u32).unwrap_or(1);
    let ep = num(m, "EP").map(|v| v as u32).unwrap_or(1);
    let vp = num(m, "VP").map(|v| v as u32).unwrap_or(1);
    let dp = num(m, "DP").map(|v| v as u32).unwrap_or(n / (tp * pp * cp).max(1));
    let mbs = num(m, "micro_batch").map(|v| v as u32).unwrap_or(1);
    let lower = other.to_lowercase();
    let recompute = if lower.contains("full activation") {
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
    let vocab = vocab_of(other).unwrap_or(51200);
    let model = match named {
        Some(mm) => mm,
        None => {
            let mm = ModelSpec::gpt(model_name, layers, hidden, heads, vocab, seq);
            mm.validate(model_name).map_err(|e| e.to_string())?;
            mm
        }
    };
    let gpn = 8u32;
    let nodes = n.div_ceil(gpn).max(1);
    let node_t = fabric::topology::nodes::node_type(node).map_err(|e| e.to_string())?;
    let port = port_gbit(field(m, "system_interconnect"), gpn).unwrap_or(node_t.port.as_gbit());
    let spec = format!("rail-optimized:gpus={},node={node},port_gbit={port}", nodes * gpn);
    let (_, f) = fabric::presets::build_preset(&spec).map_err(|e| e.to_string())?;
    let plan = ParallelPlan {
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
        sequence_parallel: tp > 1 && !field(m, "source_group").contains("SC21"),
        tp_comm_overlap: lower.contains("tp-comm-overlap"),
        layers_per_stage: None,
    };
    let fits = row_fits(&f, &model, &plan, &lower, field(m, "source_group"));
    let cm = crate::train::compute_model_for(f.accel_model)
        .ok_or_else(|| format!("no compute model for `{}`", f.accel_model))?;
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
        },
    )
    .map_err(|e| e.to_string())?;
    let world = plan.world() as f64;
    let (b, s, l, h, v) = (gbs as f64, seq as f64, layers as f64, hidden as f64, model.vocab as f64);
    let group = field(m, "source_group");
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
        return Err("the row gives no comparable metric".into());
    };
    Ok(Compared {
        row_id: String::new(),
        system: format!("{} on {} × {}", model_name, n, accel),
        op: format!(
            "TP{tp} PP{pp} DP{dp}{}{}{}",
            if cp > 1 { format!(" CP{cp}") } else { String::new() },
            if ep > 1 { format!(" EP{ep}") } else { String::new() },
            if vp > 1 { format!(" VP{vp}") } else { String::new() }
        ),
        ranks: n,
        size_bytes: 0.0,
        algorithm: if fits { "fits".into() } else { "OOM".into() },
        metric: metric.into(),
        measured,
        predicted,
        error_pct: (predicted - measured) / measured * 100.0,
    })
}

//! `validate --training` rows measured on TPUs under MaxText: each row becomes a TPU scenario —
//! the generation's pod preset with a slice of `num_accel` chips, the MaxText model, a MaxText
//! mesh — and is compared on its own metric with MaxText's FLOP accounting.
//!
//! Mapping rules (docs/calibration.md, "TPU training as XLA runs it"):
//! - cluster: `tpu-v5p-pod` / `tpu-v5e-pod` / `tpu-v6e-pod` by the accelerator's name, the slice
//!   the standard shape of `num_accel` chips (Cloud TPU docs' slice tables: v5p 64 = 4x4x4,
//!   2048 = 8x16x16, …; v5e/v6e 256 = 16x16), `slices=N` when the row says "N slice(s)" (or
//!   the job exceeds one pod);
//! - model: the registry (MaxText's `global_parameter_scale` models, Llama 3.1 8B);
//! - plan: the MaxText recipe published for that model and generation ([`RECIPES`]: mesh,
//!   per-device batch, sequence, remat policy), each marked as an assumption — the rows state
//!   at most "FSDP + TP over ICI";
//! - metric: TFLOP/s per chip and MFU count attention over the full s×s scores, as MaxText's
//!   `calculate_tflops_training_per_device` did when the v5p/v5e tables were published;
//!   tokens/s per chip directly.

use crate::train::tpu::MaxTextMesh;
use crate::train::{simulate, TrainOptions};
use crate::validate_training::{RowMemory, RowModel, RowPlan, TrainingRow};
use std::collections::HashMap;
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

/// A MaxText recipe: what a published script runs for a model on a generation.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Generation (`v5p`, `v5e`, `v6e`) and registry model name.
    pub gen: &'static str,
    /// The registry model the row's name maps to.
    pub row_model: &'static str,
    /// The model the recipe trained (the row's model as the recipe's base.yml defined it).
    pub model: &'static str,
    pub mesh: MaxTextMesh,
    pub per_device_batch: u32,
    pub seq: u64,
    pub recompute: Recompute,
    /// The recipe offloads every layer's saved tensors (its `custom` remat policy: the
    /// decoder layer input and the q/k/v/out projections `offload`ed to host memory), so the
    /// device keeps no per-layer activations.
    pub host_offload: bool,
    /// The script, for the assumption line.
    pub source: &'static str,
}

const fn mesh(ici_data: i64, ici_fsdp: i64, ici_tensor: i64) -> MaxTextMesh {
    MaxTextMesh {
        ici_data,
        ici_fsdp,
        ici_sequence: 1,
        ici_tensor,
        dcn_data: -1,
        dcn_fsdp: 1,
    }
}

/// The MaxText recipes of the measured rows (AI-Hypercomputer/maxtext). Remat policies map to
/// fabricsim's by what stays in device memory: `minimal` (saves every matmul output, recomputes
/// the rest) → selective; `full` and `custom` policies that keep none of the MLP's activations
/// on the device (the Trillium recipe offloads the layer input and the q/k/v/out projections to
/// host memory and recomputes everything else: the MLP and the attention core) → full.
///
/// The v5p and v5e tables (MaxText/configs/v5p/README.md, v5e/README.md) were added with their
/// scripts in commit 76bd53b0f (2023-12-15) and never re-measured: the rows are the scripts and
/// base.yml of that commit (`maxtext_scaled_2023` models; v5p 32B at per_device_batch_size 8,
/// which later scripts lowered to 7 and then 6 on the newer, larger-activation models).
pub const RECIPES: &[Recipe] = &[
    Recipe {
        gen: "v5p",
        row_model: "maxtext-32b",
        model: "maxtext-32b-2023",
        mesh: mesh(1, -1, 4),
        per_device_batch: 8,
        seq: 2048,
        recompute: Recompute::Selective,
        host_offload: false,
        source: "MaxText/configs/v5p/32b.sh at 76bd53b0f, 2023-12-15, the README table's commit (per_device_batch_size=8, ici_fsdp -1, ici_tensor 4, remat minimal, seq 2048; base.yml of that commit: maxtext-32b-2023)",
    },
    Recipe {
        gen: "v5p",
        row_model: "maxtext-1024b",
        model: "maxtext-1024b-2023",
        mesh: mesh(1, -1, 16),
        per_device_batch: 2,
        seq: 2048,
        recompute: Recompute::Full,
        host_offload: false,
        source: "MaxText/configs/v5p/1024b.sh at 76bd53b0f, 2023-12-15, the README table's commit (per_device_batch_size=2, ici_fsdp -1, ici_tensor 16, remat full, seq 2048; base.yml of that commit: maxtext-1024b-2023)",
    },
    Recipe {
        gen: "v5e",
        row_model: "maxtext-32b",
        model: "maxtext-32b-2023",
        mesh: mesh(1, -1, 1),
        per_device_batch: 4,
        seq: 2048,
        recompute: Recompute::Full,
        host_offload: false,
        source: "MaxText/configs/v5e/32b.sh at 76bd53b0f, 2023-12-15, the README table's commit (per_device_batch_size=4, base.yml mesh: ici_fsdp -1, remat full, seq 2048; base.yml of that commit: maxtext-32b-2023)",
    },
    Recipe {
        gen: "v6e",
        row_model: "llama-3.1-8b",
        model: "llama-3.1-8b",
        mesh: mesh(1, -1, 1),
        per_device_batch: 4,
        seq: 8192,
        recompute: Recompute::Full,
        host_offload: true,
        source: "benchmarks/maxtext_trillium_model_configs.py llama3_1_8b_8192 (per_device_batch_size=4, ici_fsdp -1, remat custom with offload, seq 8192)",
    },
];

/// A TPU row as a scenario (for `validate --explain` and the comparison).
#[derive(Debug, Clone)]
pub struct TpuRow {
    pub cluster: String,
    pub model: ModelSpec,
    pub mesh: MaxTextMesh,
    pub plan: ParallelPlan,
    /// How the row's missing setup was taken (empty when the row states it all).
    pub assumptions: Vec<String>,
    /// The recipe's host offload of every layer's saved tensors ([`Recipe::host_offload`]).
    pub host_offload: bool,
}

fn field<'a>(m: &'a HashMap<String, String>, k: &str) -> &'a str {
    m.get(k).map(|s| s.trim()).unwrap_or("")
}

fn num(m: &HashMap<String, String>, k: &str) -> Option<f64> {
    field(m, k).parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
}

/// The generation of a TPU accelerator name, if it is one.
fn generation(accel: &str) -> Option<&'static str> {
    let l = accel.to_lowercase();
    if !l.contains("tpu") {
        return None;
    }
    ["v5p", "v5e", "v6e", "v4", "v7"]
        .into_iter()
        .find(|g| l.contains(g))
        .or_else(|| {
            (l.contains("trillium"))
                .then_some("v6e")
                .or_else(|| l.contains("ironwood").then_some("v7"))
        })
}

/// The standard slice shape of `n` chips (Cloud TPU docs' slice tables), with the slice count
/// when `n` exceeds one pod.
fn slice_shape(gen: &str, n: u32) -> Option<String> {
    let cube = [
        (64, "4x4x4"),
        (128, "4x4x8"),
        (256, "4x8x8"),
        (512, "8x8x8"),
        (1024, "8x8x16"),
        (2048, "8x16x16"),
        (4096, "16x16x16"),
        (6144, "16x16x24"),
    ];
    let plane = [
        (4, "2x2"),
        (8, "2x4"),
        (16, "4x4"),
        (32, "4x8"),
        (64, "8x8"),
        (128, "8x16"),
        (256, "16x16"),
    ];
    let table: &[(u32, &str)] = if gen == "v5e" || gen == "v6e" { &plane } else { &cube };
    table.iter().find(|(c, _)| *c == n).map(|(_, s)| s.to_string())
}

/// "N slice(s)" in the row's text, if stated.
fn slices_stated(text: &str) -> Option<u32> {
    let l = text.to_lowercase();
    let i = l.find("slice(s)").or_else(|| l.find(" slices"))?;
    l[..i].split_whitespace().last()?.parse().ok().filter(|&s| s > 0)
}

/// The scenario of a TPU row, `None` when the row is not a TPU row.
pub fn scenario(m: &HashMap<String, String>) -> Option<Result<TpuRow, String>> {
    let gen = generation(field(m, "accelerator"))?;
    Some(scenario_of(m, gen))
}

fn scenario_of(m: &HashMap<String, String>, gen: &'static str) -> Result<TpuRow, String> {
    let n = num(m, "num_accel").ok_or("num_accel missing")? as u32;
    let other = format!("{} {}", field(m, "other_parallelism"), field(m, "system_interconnect"));
    let slices = slices_stated(&other).unwrap_or(1).max(1);
    if n % slices != 0 {
        return Err(format!(
            "num_accel {n} is not a multiple of the {slices} slices the row states"
        ));
    }
    let per_slice = n / slices;
    let shape = slice_shape(gen, per_slice)
        .ok_or_else(|| format!("no standard TPU {gen} slice of {per_slice} chips (num_accel)"))?;
    // Twisted tori are requested explicitly (Cloud TPU docs' "Supports twisted?" column); the
    // rows do not say they were.
    let twistable = gen != "v5e" && gen != "v6e";
    let cluster = format!(
        "tpu-{gen}-pod:slice={shape}{}{}",
        if twistable { ",twisted=false" } else { "" },
        if slices > 1 {
            format!(",slices={slices}")
        } else {
            String::new()
        }
    );
    let model_name = field(m, "model");
    let row_model =
        workload::registry::lookup(model_name).ok_or_else(|| format!("model `{model_name}` is not in the registry"))?;
    let recipe = RECIPES
        .iter()
        .find(|r| r.gen == gen && workload::registry::lookup(r.row_model).is_some_and(|x| x.name == row_model.name))
        .ok_or_else(|| format!("no published MaxText recipe for {} on TPU {gen}", row_model.name))?;
    let model = workload::registry::lookup(recipe.model)
        .ok_or_else(|| format!("recipe model `{}` is not in the registry", recipe.model))?;
    let mut assumptions = vec![format!("plan: MaxText's published recipe, {}", recipe.source)];
    if model.name != row_model.name {
        assumptions.push(format!(
            "model: {} as the recipe's base.yml defined it ({} layers × {}, {} heads of {}, MLP {}{}, vocab {}{})",
            model.name,
            model.layers,
            model.hidden,
            model.heads,
            model.head_dim,
            model.ffn,
            if model.gated_mlp { " gated" } else { " ReLU" },
            model.vocab,
            if model.tied_embeddings { ", tied" } else { "" }
        ));
    }
    let seq = match num(m, "seq_len") {
        Some(s) => s as u64,
        None => {
            assumptions.push(format!("sequence {} from the recipe (the row gives none)", recipe.seq));
            recipe.seq
        }
    };
    let gbs = match num(m, "global_batch_seqs") {
        Some(g) => g as u32,
        None => {
            assumptions.push(format!(
                "global batch {} = per_device_batch_size {} × {n} chips (the row gives none)",
                recipe.per_device_batch * n,
                recipe.per_device_batch
            ));
            recipe.per_device_batch * n
        }
    };
    let (_, f) = fabric::presets::build_preset(&cluster).map_err(|e| e.to_string())?;
    let r = recipe.mesh.resolve(&f)?;
    let (tp, cp, dp, zero) = r.plan_sizes();
    assumptions.extend(crate::train::tpu::placement_notes(&f, &r));
    let plan = ParallelPlan {
        tp,
        pp: 1,
        dp,
        cp,
        ep: 1,
        vp: 1,
        mbs: gbs / dp.max(1),
        gbs,
        seq,
        zero,
        recompute: recipe.recompute,
        precision: Precision::Bf16,
        sequence_parallel: tp > 1,
        // XLA overlaps the tensor-parallel collectives with the matmuls (the recipes' async
        // collective fusion flags).
        tp_comm_overlap: tp > 1,
        layers_per_stage: None,
        hsdp_shard: None,
    };
    Ok(TpuRow {
        cluster,
        model,
        mesh: recipe.mesh,
        plan,
        assumptions,
        host_offload: recipe.host_offload,
    })
}

/// Compare a TPU row, `None` when the row is not a TPU row.
pub fn compare(m: &HashMap<String, String>) -> Option<Result<TrainingRow, String>> {
    let row = match scenario(m)? {
        Ok(r) => r,
        Err(e) => return Some(Err(e)),
    };
    Some(compare_row(m, &row))
}

fn compare_row(m: &HashMap<String, String>, row: &TpuRow) -> Result<TrainingRow, String> {
    let (_, f) = fabric::presets::build_preset(&row.cluster).map_err(|e| e.to_string())?;
    let mut cm = crate::train::compute_model_for(f.accel_model)
        .ok_or_else(|| format!("no compute model for `{}`", f.accel_model))?;
    // The rows ran under MaxText (JAX/XLA), as `train` prices a TPU cluster by default.
    cm.framework = workload::Framework::Maxtext.profile();
    let opts = TrainOptions {
        allow_oom: true,
        ..TrainOptions::new(engine::Fidelity::Flow)
    };
    let r = simulate(&row.cluster, &f, &row.model, &row.plan, &cm, &opts)?;
    let (metric, measured, predicted) = if let Some(x) = num(m, "tokens_per_s_per_accel") {
        ("tokens_per_s_per_accel", x, r.tokens_per_s_per_accel)
    } else if let Some(x) = num(m, "tflops_per_accel") {
        (
            "tflops_per_accel",
            x,
            r.mfu_full_attention * r.peak_flops_per_s_per_accel / 1e12,
        )
    } else if let Some(x) = num(m, "mfu_pct") {
        ("mfu_pct", x, r.mfu_full_attention * 100.0)
    } else {
        return Err("the row gives no comparable metric".into());
    };
    let p = &row.plan;
    let get = |k: &str| m.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let md = &row.model;
    Ok(TrainingRow {
        run: format!("{} on {} × {}", get("model"), p.world(), get("accelerator")),
        cluster: row.cluster.clone(),
        model: RowModel::from_model(md),
        framework: cm.framework.framework.name().into(),
        plan: RowPlan::from_plan(p),
        memory: {
            // As XLA lays the step out (`MemoryOptions::maxtext`), with the recipe's offload.
            let offload = if row.host_offload { md.layers } else { 0 };
            let required = crate::train::memory::maxtext_memory(md, p, offload).total();
            let capacity = crate::train::memory::capacity(&f);
            RowMemory {
                fits: required <= capacity,
                required_bytes: required,
                capacity_bytes: capacity,
            }
        },
        metric: metric.into(),
        measured,
        predicted,
        error_pct: (predicted - measured) / measured * 100.0,
        assumptions: row.assumptions.clone(),
        ..Default::default()
    })
}

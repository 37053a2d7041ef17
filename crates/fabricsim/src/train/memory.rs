//! Memory per accelerator of a plan (weights, gradients, optimizer, activations, buffers) and
//! the parameter split that data-parallel synchronisation and the optimizer read.

use fabric::Fabric;
use workload::memory::{heaviest_stage, memory_per_accel_stage, memory_per_accel_with, MemoryBreakdown, MemoryOptions};
use workload::{ModelSpec, ParallelPlan, Recompute};

/// The memory model's options as `simulate` uses them: modern kernels (FlashAttention / cuDNN)
/// keep no attention scores; LLM recipes use no dropout.
const OPTIONS: MemoryOptions = MemoryOptions {
    flash_attention: true,
    dropout: false,
    fixed_overhead: 1024.0 * 1024.0 * 1024.0,
    grad_bytes: 4.0,
    op_level_selective: false,
    offload_activation_layers: 0,
    recompute_mla_up_proj: false,
    xla: false,
};

/// Memory per accelerator of a plan, as `simulate` computes it: the heaviest pipeline stage's.
pub fn memory(model: &ModelSpec, p: &ParallelPlan) -> MemoryBreakdown {
    memory_per_accel_with(model, p, &OPTIONS)
}

/// `memory` with the gradient buffer in `grad_bytes` per element (4: fp32 `main_grad`, as
/// `memory`; 2: gradients accumulated and synchronised in BF16).
pub fn memory_with_grad_bytes(model: &ModelSpec, p: &ParallelPlan, grad_bytes: f64) -> MemoryBreakdown {
    memory_per_accel_with(model, p, &MemoryOptions { grad_bytes, ..OPTIONS })
}

/// `memory_with_grad_bytes` as `framework` saves activations (torchtitan's op-level selective
/// checkpointing keeps matmul outputs, not Korthikanti's set).
pub fn memory_for_framework(
    model: &ModelSpec,
    p: &ParallelPlan,
    framework: &workload::FrameworkProfile,
    grad_bytes: f64,
) -> MemoryBreakdown {
    let op_level_selective = framework.selective_ac == workload::framework::SelectiveAc::EveryOtherMatmul;
    memory_per_accel_with(
        model,
        p,
        &MemoryOptions {
            grad_bytes,
            op_level_selective,
            ..OPTIONS
        },
    )
}

/// What a published recipe sets beyond the plan that changes memory: activation offload to
/// the host and recomputed modules (`validate` reads them from the recipe files).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RecipeMemory {
    /// Megatron-Core `cpu_offloading_num_layers` (`MemoryOptions::offload_activation_layers`).
    pub offload_activation_layers: u32,
    /// Megatron-Core `recompute_modules` containing `mla_up_proj`.
    pub recompute_mla_up_proj: bool,
}

/// `memory_for_framework` with a recipe's offload and recompute settings.
pub fn memory_for_recipe(
    model: &ModelSpec,
    p: &ParallelPlan,
    framework: &workload::FrameworkProfile,
    grad_bytes: f64,
    recipe: &RecipeMemory,
) -> MemoryBreakdown {
    let op_level_selective = framework.selective_ac == workload::framework::SelectiveAc::EveryOtherMatmul;
    memory_per_accel_with(
        model,
        p,
        &MemoryOptions {
            grad_bytes,
            op_level_selective,
            offload_activation_layers: recipe.offload_activation_layers,
            recompute_mla_up_proj: recipe.recompute_mla_up_proj,
            ..OPTIONS
        },
    )
}

/// Memory of a plan as MaxText runs it on TPU (`MemoryOptions::maxtext`: fp32 parameters and
/// optax Adam, the `minimal` remat policy for selective recomputation, XLA's FSDP buffers),
/// with the saved activations of `offload_layers` layers offloaded to host memory.
pub fn maxtext_memory(model: &ModelSpec, p: &ParallelPlan, offload_layers: u32) -> MemoryBreakdown {
    memory_per_accel_with(
        model,
        p,
        &MemoryOptions {
            offload_activation_layers: offload_layers,
            ..MemoryOptions::maxtext()
        },
    )
}

/// Memory per accelerator as `simulate` reports it on `f`: MaxText's accounting on a TPU
/// cluster, else `memory_for_framework` with fp32 gradients.
pub fn memory_on(
    f: &Fabric,
    model: &ModelSpec,
    p: &ParallelPlan,
    framework: &workload::FrameworkProfile,
) -> MemoryBreakdown {
    if super::tpu::is_tpu(f) {
        maxtext_memory(model, p, 0)
    } else {
        memory_for_framework(model, p, framework, 4.0)
    }
}

/// Memory of a rank of pipeline stage `stage`.
pub fn stage_memory(model: &ModelSpec, p: &ParallelPlan, stage: u32) -> MemoryBreakdown {
    memory_per_accel_stage(model, p, stage, &OPTIONS)
}

/// The pipeline stage with the most memory per accelerator (the first of equals).
pub fn heaviest_memory_stage(model: &ModelSpec, p: &ParallelPlan) -> u32 {
    heaviest_stage(model, p, &OPTIONS).0
}

/// HBM a training process can use on the fabric's accelerator, in bytes (the driver's reported
/// total, `Accelerator::usable_hbm`; 0 when the catalogue does not know the part).
pub fn capacity(f: &Fabric) -> f64 {
    fabric::catalogue::accelerator(f.accel_model)
        .map(|a| a.usable_hbm().0)
        .unwrap_or(0.0)
}

/// Physical HBM of the fabric's accelerator in bytes (the catalogue's `hbm`, 0 when unknown):
/// the figure the default pipeline depth's "quarter of HBM" rule reads, unchanged by the usable
/// capacity the fit check uses.
pub fn physical_capacity(f: &Fabric) -> f64 {
    fabric::catalogue::accelerator(f.accel_model)
        .map(|a| a.hbm.0)
        .unwrap_or(0.0)
}

/// The least activation recomputation (none, then selective, then full) with which the plan
/// fits the accelerator's memory; `None` if even full recomputation does not fit.
pub fn least_recompute_that_fits(f: &Fabric, model: &ModelSpec, p: &ParallelPlan) -> Option<Recompute> {
    let capacity = capacity(f);
    [Recompute::None, Recompute::Selective, Recompute::Full]
        .into_iter()
        .find(|&r| {
            memory(
                model,
                &ParallelPlan {
                    recompute: r,
                    ..p.clone()
                },
            )
            .total()
                <= capacity
        })
}

/// Share of a rank's parameters that are dense (synchronised over all DP) and routed experts
/// (sharded over EP, synchronised over DP / EP).
pub fn param_split(model: &ModelSpec) -> (f64, f64) {
    match &model.moe {
        None => (1.0, 0.0),
        Some(_) => {
            let total = model.params();
            let expert: f64 = (0..model.layers).map(|l| model.layer_expert_params(l)).sum();
            let e = (expert / total).clamp(0.0, 1.0);
            (1.0 - e, e)
        }
    }
}

/// Parameters one rank holds: dense ones split over TP × PP, routed experts also over EP.
pub fn params_per_rank(model: &ModelSpec, p: &ParallelPlan) -> f64 {
    let (dense_share, expert_share) = param_split(model);
    let per_rank = model.params() / (p.tp as f64 * p.pp as f64);
    per_rank * dense_share + per_rank * expert_share / p.ep as f64
}

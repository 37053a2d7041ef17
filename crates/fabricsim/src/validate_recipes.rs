//! What the published Megatron-Bridge performance recipes set beyond a row's columns that
//! changes where memory goes (issue 8, part 6: every shared row is a plan that ran): activation
//! offload to the host, recomputed modules, the pipeline split. Read from the recipe files of
//! NVIDIA-NeMo/Megatron-Bridge and reported on the row as assumptions naming the file:
//!
//! - `scripts/performance/configs/llama/llama3_workload_base_configs.py`: Llama 3 70B with
//!   Megatron-FSDP offloads the activations of `cpu_offloading_num_layers` layers to Grace /
//!   host memory — GB300 FP8-CS 20, GB300 BF16 30, GB200 FP8-CS 40, GB200 BF16 20, B200 FP8-CS
//!   5 (`LLAMA3_70B_PRETRAIN_CONFIG_<GPU>_<PRECISION>_V1/V2`);
//! - `src/megatron/bridge/recipes/llama/llama31_405b.py`: Llama 3.1 405B sets
//!   `account_for_embedding_in_pipeline_split` and `account_for_loss_in_pipeline_split`, so the
//!   embedding and the loss each take a layer's slot: (126 + 2) / (PP·VP) slots per chunk, the
//!   first and last chunk one layer fewer (Megatron-Core `get_num_layers_to_build`);
//! - `scripts/performance/configs/deepseek/deepseek_workload_base_configs.py`: DeepSeek-V3 BF16
//!   on GB200 recomputes MLA's up-projections (`recompute_modules=["mla_up_proj"]`,
//!   `DEEPSEEK_V3_PRETRAIN_CONFIG_GB200_BF16_V1/V2`).
//!
//! Offload transfer time: Megatron-Core requires PP = 1 with CPU offloading, and TE's offload
//! handler copies layer i's activations out while layer i+1 computes and reloads layer i−1
//! while layer i's backward runs (double buffering), so the copies are assumed hidden and are
//! not priced: on T053 (GB300, Llama 3 70B, micro-batch 2 × 8192 tokens) one layer's saved
//! activations are ~3.7 GB, ~8 ms over NVLink-C2C's 450 GB/s per direction, against ~15 ms of
//! the layer's forward at the row's measured 2,030 TFLOP/s.

use crate::train::memory::RecipeMemory;
use workload::{ModelSpec, ParallelPlan, Precision};

/// What a recipe sets for a row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecipeSettings {
    pub memory: RecipeMemory,
    /// The recipe's pipeline split (chunk sizes in pipeline order), when it is not even.
    pub layers_per_stage: Option<Vec<u32>>,
    /// One line per setting, naming the file.
    pub notes: Vec<String>,
}

/// `cpu_offloading_num_layers` of the Llama 3 70B Megatron-FSDP recipes, by GPU and precision.
const LLAMA3_70B_OFFLOAD: &[(&str, Precision, u32)] = &[
    ("gb300", Precision::Fp8, 20),
    ("gb300", Precision::Bf16, 30),
    ("gb200", Precision::Fp8, 40),
    ("gb200", Precision::Bf16, 20),
    ("b200", Precision::Fp8, 5),
];

/// The GPU family of a row's accelerator text (`GB300 (Blackwell Ultra)` → `gb300`).
fn gpu(accel: &str) -> Option<&'static str> {
    let l = accel.to_lowercase();
    ["gb300", "gb200", "b300", "b200", "h100"]
        .into_iter()
        .find(|g| l.contains(g))
}

/// The settings of the Megatron-Bridge recipe a row ran, for rows of that source.
pub fn megatron_bridge(group: &str, model: &ModelSpec, accel: &str, plan: &ParallelPlan) -> RecipeSettings {
    let mut out = RecipeSettings::default();
    if !group.contains("Megatron-Bridge") {
        return out;
    }
    let Some(g) = gpu(accel) else { return out };
    match model.name.as_str() {
        "llama-3-70b" if plan.zero >= 3 && plan.pp == 1 => {
            if let Some(&(_, _, n)) = LLAMA3_70B_OFFLOAD
                .iter()
                .find(|(gg, pr, _)| *gg == g && *pr == plan.precision)
            {
                out.memory.offload_activation_layers = n;
                out.notes.push(format!(
                    "recipe: activations of {n} of the {} layers offloaded to host memory (cpu_offloading_num_layers={n}, Megatron-Bridge scripts/performance/configs/llama/llama3_workload_base_configs.py, LLAMA3_70B_PRETRAIN_CONFIG_{}_{})",
                    model.layers,
                    g.to_uppercase(),
                    if plan.precision == Precision::Fp8 { "FP8_CS" } else { "BF16" }
                ));
            }
        }
        "llama-3.1-405b" if plan.pp > 1 => {
            let chunks = plan.chunks();
            let slots = model.layers + 2;
            if slots % chunks == 0 && slots / chunks >= 2 {
                let per = slots / chunks;
                let mut split = vec![per; chunks as usize];
                split[0] -= 1;
                *split.last_mut().unwrap() -= 1;
                out.layers_per_stage = Some(split);
                out.notes.push(format!(
                    "recipe: embedding and loss each take a layer's slot in the pipeline split ({per} layers per chunk, {} in the first and last; account_for_embedding/loss_in_pipeline_split=True, Megatron-Bridge src/megatron/bridge/recipes/llama/llama31_405b.py)",
                    per - 1
                ));
            }
        }
        "deepseek-v3" if g == "gb200" && plan.precision == Precision::Bf16 => {
            out.memory.recompute_mla_up_proj = true;
            out.notes.push("recipe: MLA up-projections recomputed (recompute_modules=[\"mla_up_proj\"], Megatron-Bridge scripts/performance/configs/deepseek/deepseek_workload_base_configs.py, DEEPSEEK_V3_PRETRAIN_CONFIG_GB200_BF16)".into());
        }
        _ => {}
    }
    out
}

//! The framework a published training row ran under, read from its text, and what that changes
//! in the scenario `validate --training` builds (docs/calibration.md, "FSDP and framework
//! profiles"):
//!
//! - `source_group` or `other_parallelism` naming torchtitan → `torchtitan`, or
//!   `torchtitan-compile` when the row says "compile" and not "no compile"; every other GPU row
//!   → `megatron` (Megatron-LM, Megatron-Core, NeMo, Megatron-Bridge); TPU rows → `maxtext`;
//! - "FSDP" (PyTorch FSDP/FSDP2, Megatron-FSDP) → ZeRO-3 over the DP group for the step as well
//!   as for memory; "full AC" → full recompute; "AsyncTP" is read but its overlap is not credited: torchtitan's AsyncTP
//!   (micro-pipelined all-gather/matmul and matmul/reduce-scatter) gains 4–16 % end to end on
//!   Llama 3 8B/70B at TP 8 on this very Grand Teton hardware (pytorch/torchtitan
//!   benchmarks/asyncTP_llama3_h100_2025-06_torchtitan.md), where hiding all of the TP
//!   communication behind the GEMMs (`--tp-comm-overlap`) would gain 50 % and more; the TP
//!   collectives are therefore priced as exposed, an upper bound off by that 4–16 %;
//! - torchtitan without pipeline parallelism has no gradient accumulation (torchtitan 9dec370,
//!   the commit of the benchmark rows): a rank's local batch is one micro-batch, MBS = GBS / DP;
//! - "96GB HBM2e" H100s are the Grand Teton part (catalogue `h100-96gb`): its peaks and HBM
//!   bandwidth price the kernels.

use workload::compute::ComputeModel;
use workload::{Framework, ParallelPlan};

/// What a row's text says about how it ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowFramework {
    pub framework: Framework,
    /// ZeRO-3 / FSDP.
    pub fsdp: bool,
    /// The row ran torchtitan's AsyncTP (read, not credited: module notes).
    pub async_tp: bool,
    /// "full AC" (torchtitan's name for full activation checkpointing).
    pub full_ac: bool,
    /// The catalogue accelerator that prices the kernels when the row names a variant SKU.
    pub accelerator: Option<&'static str>,
    /// The node type of that SKU's system.
    pub node: Option<&'static str>,
}

/// Read the framework from a row's `source_group`, `other_parallelism`, `precision` and
/// `accelerator` columns.
pub fn row_framework(group: &str, other: &str, precision: &str, accel: &str) -> RowFramework {
    let text = format!("{group} {other} {precision}").to_lowercase();
    let a = accel.to_lowercase();
    let framework = if a.contains("tpu") {
        Framework::Maxtext
    } else if text.contains("torchtitan") {
        if text.contains("compile") && !text.contains("no compile") {
            Framework::TorchtitanCompile
        } else {
            Framework::Torchtitan
        }
    } else {
        Framework::Megatron
    };
    RowFramework {
        framework,
        fsdp: text.contains("fsdp"),
        async_tp: text.contains("asynctp") || text.contains("async tp"),
        full_ac: text.contains("full ac"),
        accelerator: (a.contains("h100") && a.contains("96gb")).then_some("h100-96gb"),
        node: (a.contains("h100") && a.contains("96gb")).then_some("grand-teton-h100"),
    }
}

/// Apply a row's framework to its plan and compute model.
pub fn apply(row: &RowFramework, plan: &mut ParallelPlan, cm: &mut ComputeModel) {
    if row.fsdp {
        plan.zero = 3;
    }
    if row.full_ac {
        plan.recompute = workload::Recompute::Full;
    }
    if matches!(row.framework, Framework::Torchtitan | Framework::TorchtitanCompile) && plan.pp == 1 {
        plan.mbs = (plan.gbs / plan.dp.max(1)).max(1);
    }
    if let Some(id) = row.accelerator {
        if let Some(m) = crate::train::compute_model_for(id) {
            *cm = m;
        }
    }
    cm.framework = row.framework.profile();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_map_to_frameworks() {
        let t = row_framework(
            "torchtitan Llama 3.1 benchmarks (Dec 2024)",
            "FSDP 32 x TP 8 + AsyncTP; full AC",
            "FP8 linears + compile",
            "H100 (96GB HBM2e variant, 500W)",
        );
        assert_eq!(t.framework, Framework::TorchtitanCompile);
        assert!(t.fsdp && t.async_tp && t.full_ac);
        assert_eq!(t.accelerator, Some("h100-96gb"));
        let e = row_framework(
            "torchtitan Llama 3.1 benchmarks",
            "FSDP 8; selective AC, no compile",
            "bf16",
            "H100",
        );
        assert_eq!(e.framework, Framework::Torchtitan);
        let m = row_framework(
            "NVIDIA Megatron-Bridge 25.11 performance summary",
            "FSDP",
            "FP8-CS",
            "H100-SXM5-80GB",
        );
        assert_eq!(m.framework, Framework::Megatron);
        assert!(m.fsdp && !m.async_tp && m.accelerator.is_none());
        assert_eq!(
            row_framework("MaxText", "", "bf16", "TPU v5p").framework,
            Framework::Maxtext
        );
    }
}

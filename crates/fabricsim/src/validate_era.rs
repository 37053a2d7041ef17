//! The software era of a published training row, where it changes how a kernel ran
//! (docs/calibration.md, "Training accuracy: pre-FlashAttention rows").
//!
//! Rows measured with Megatron-LM or Megatron-DeepSpeed before FlashAttention reached them ran
//! attention unfused ([`workload::framework::AttentionBackend::Unfused`]): FlashAttention was
//! published in May 2022 (Dao et al., arXiv:2205.14135) and Megatron-LM took it in 2023
//! (`--use-flash-attn`). Rule, by source group:
//!
//! - "Megatron-LM SC21" (Narayanan et al., SC'21, arXiv:2104.04473, measured in 2021);
//! - "Korthikanti" (arXiv:2205.05198, May 2022; its selective recomputation recomputes exactly
//!   the unfused softmax/dropout of the s×s scores, which a fused kernel would not store);
//! - "BLOOM" (BLOOM-176B trained March–July 2022 on bigscience Megatron-DeepSpeed, fused
//!   scale-mask-softmax kernels, no FlashAttention).
//!
//! Every later row (Megatron-Core, NeMo, Megatron-Bridge, torchtitan, MaxText, MegaScale)
//! keeps its framework's fused attention.
//!
//! A row whose text says its communication was overlapped in all three dimensions ("3D comm
//! overlap": MegaScale, Jiang et al., NSDI'24, arXiv:2402.15627, §3.2 — tensor-parallel
//! all-gather / reduce-scatter fused with the adjacent GEMMs and overlapped with them) runs its
//! tensor-parallel collectives as `--tp-comm-overlap` does: hidden behind the layer's GEMMs.
//!
//! The SC'21 rows predate Megatron-LM's distributed optimizer (`--use-distributed-optimizer`,
//! docs/distrib_optimizer.md, 2022): the gradients were all-reduced over the data-parallel group
//! and every rank stepped the optimizer over all of its parameters (ZeRO 0), not a 1/DP shard.
//! Nothing is fitted.

use workload::compute::ComputeModel;
use workload::framework::AttentionBackend;
use workload::ParallelPlan;

/// Whether a row of `source_group` ran attention unfused (module notes).
pub fn unfused_attention(group: &str) -> bool {
    let g = group.to_lowercase();
    g.contains("sc21") || g.contains("korthikanti") || g.contains("bloom")
}

/// Whether a row's `other_parallelism` text says the tensor-parallel communication was
/// overlapped with the GEMMs (module notes).
pub fn tp_comm_overlap(other: &str) -> bool {
    let o = other.to_lowercase();
    o.contains("tp-comm-overlap") || o.contains("3d comm overlap")
}

/// Whether a row ran without the distributed optimizer (module notes): the SC'21 rows.
pub fn no_distributed_optimizer(group: &str) -> bool {
    group.to_lowercase().contains("sc21")
}

/// Price the row's attention, its tensor-parallel overlap and its optimizer sharding as its era
/// and text say; returns what was applied, for the row's `default:` lines (`--explain`): the era fills a gap
/// the row leaves, it does not make the row an assumed one.
pub fn apply(group: &str, other: &str, plan: &mut ParallelPlan, cm: &mut ComputeModel) -> Vec<String> {
    let mut notes = Vec::new();
    if unfused_attention(group) {
        cm.framework.attention = AttentionBackend::Unfused;
        notes.push("attention unfused (Megatron before FlashAttention: s×s scores through HBM)".to_string());
    }
    if tp_comm_overlap(other) && !plan.tp_comm_overlap {
        plan.tp_comm_overlap = true;
        notes.push("tensor-parallel communication overlapped with the GEMMs (row: 3D comm overlap)".to_string());
    }
    if no_distributed_optimizer(group) {
        plan.zero = 0;
        notes.push(
            "no distributed optimizer (2021): gradients all-reduced, full optimizer step on every rank".to_string(),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras_by_source_group() {
        assert!(unfused_attention("Megatron-LM SC21 weak scaling"));
        assert!(unfused_attention(
            "Korthikanti et al. 2022 (seq-parallel + selective recompute)"
        ));
        assert!(unfused_attention("BLOOM-176B training log"));
        assert!(!unfused_attention(
            "Megatron-LM README H100 weak scaling (Megatron-Core r0.8.0)"
        ));
        assert!(!unfused_attention("NVIDIA NeMo 24.07 performance summary"));
        assert!(!unfused_attention("MegaScale (ByteDance) 175B strong scaling"));
        assert!(tp_comm_overlap(
            "MegaScale: parallel transformer block, sliding-window attn, LAMB, 3D comm overlap"
        ));
        assert!(tp_comm_overlap(
            "--overlap-grad-reduce --overlap-param-gather --tp-comm-overlap"
        ));
        assert!(!tp_comm_overlap("Megatron-LM (commit 285068c8) baseline"));
        assert!(no_distributed_optimizer("Megatron-LM SC21 weak scaling"));
        assert!(!no_distributed_optimizer(
            "Korthikanti et al. 2022 (seq-parallel + selective recompute)"
        ));
    }
}

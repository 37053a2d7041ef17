//! Stage 3 of a training step: **stage timings**. Price each layer's operations with the compute
//! model and add the per-layer communication the compute stream waits for (tensor-parallel
//! collectives, expert dispatch/combine, context-parallel K/V exchange beyond what attention
//! hides, ZeRO-3 gathers beyond what the previous layer hides), giving the forward and backward
//! time of one micro-batch on every (pipeline stage, virtual chunk), plus the optimizer step.
//!
//! Every stage's work is accounted ([`StageWork`]), not only the first stage's, so reports can
//! name the stage that sets the pace.

use super::comm::CommCosts;
use super::layout::Placement;
use super::memory::params_per_rank;
use workload::compute::ComputeModel;
use workload::flops::{self, MemoryOp, OpDesc, OpKind};
use workload::{ModelSpec, Precision, Recompute};

/// Work of one pipeline stage over a whole step (all micro-batches, all its chunks), seconds
/// on its compute stream and FLOPs of one of its ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageWork {
    /// Forward kernels (embedding and output layer included).
    pub forward_s: f64,
    /// Backward kernels.
    pub backward_s: f64,
    pub recompute_s: f64,
    /// Exposed tensor-parallel communication.
    pub tp_comm_s: f64,
    /// Exposed expert dispatch/combine.
    pub ep_comm_s: f64,
    /// Exposed context-parallel K/V exchange.
    pub cp_comm_s: f64,
    /// Exposed ZeRO-3 parameter gathers.
    pub zero3_comm_s: f64,
    /// FLOPs one rank executes, recomputation included (causal attention as the kernels run it,
    /// embedding and output layer included).
    pub hardware_flops: f64,
    /// FLOPs of one rank's forward + backward, without recomputation.
    pub executed_flops: f64,
}

impl StageWork {
    /// Forward + backward kernels.
    pub fn compute_s(&self) -> f64 {
        self.forward_s + self.backward_s
    }
    /// Time the stage's compute stream is busy in one step.
    pub fn busy_s(&self) -> f64 {
        self.compute_s() + self.recompute_s + self.tp_comm_s + self.ep_comm_s + self.cp_comm_s + self.zero3_comm_s
    }
}

/// The durations the pipeline schedule runs.
#[derive(Debug, Clone)]
pub struct StageTimings {
    /// Forward and backward time of one micro-batch on [stage][chunk].
    pub fwd: Vec<Vec<f64>>,
    pub bwd: Vec<Vec<f64>>,
    /// Per pipeline stage, its work over the step.
    pub stages: Vec<StageWork>,
    /// Fused AdamW over one rank's (sharded) parameters.
    pub optimizer_s: f64,
}

fn sum_time(cm: &ComputeModel, ops: &[OpDesc], precision: Precision) -> f64 {
    ops.iter().map(|o| cm.op_time(o, precision)).sum()
}

fn kind_time(cm: &ComputeModel, ops: &[OpDesc], precision: Precision, pick: fn(&OpKind) -> bool) -> f64 {
    ops.iter()
        .filter(|o| pick(&o.kind))
        .map(|o| cm.op_time(o, precision))
        .sum()
}

fn is_attention(k: &OpKind) -> bool {
    matches!(k, OpKind::Attention { .. })
}

fn is_gemm(k: &OpKind) -> bool {
    matches!(k, OpKind::Gemm { .. })
}

/// Layers of virtual chunk `c` of `chunks` (an uneven split gives the first `layers % chunks`
/// chunks one extra layer).
fn chunk_layers(layers: u32, chunks: u32, c: u32) -> std::ops::Range<u32> {
    let base = layers / chunks;
    let extra = layers % chunks;
    let start = c * base + c.min(extra);
    start..start + base + u32::from(c < extra)
}

/// Forward/backward time of every (stage, chunk) and each stage's work.
pub fn stage_timings(pl: &Placement, model: &ModelSpec, cm: &ComputeModel, comm: &CommCosts) -> StageTimings {
    let p = &pl.plan;
    let m = pl.microbatches as f64;
    let chunks = p.pp * p.vp;
    let mut fwd = vec![vec![0.0; p.vp as usize]; p.pp as usize];
    let mut bwd = vec![vec![0.0; p.vp as usize]; p.pp as usize];
    let mut stages = vec![StageWork::default(); p.pp as usize];
    for s in 0..p.pp {
        let w = &mut stages[s as usize];
        for c in 0..p.vp {
            let v = c * p.pp + s;
            let mut tf = 0.0;
            let mut tb = 0.0;
            for layer in chunk_layers(model.layers, chunks, v) {
                let ops = flops::layer_ops(model, layer, p.mbs as u64, p.seq, p.tp, p.cp, p.ep, p.sequence_parallel);
                let back = flops::backward_ops(&ops);
                let f_t = sum_time(cm, &ops, p.precision);
                let b_t = sum_time(cm, &back, p.precision);
                let attn_f = kind_time(cm, &ops, p.precision, is_attention);
                let re = match p.recompute {
                    Recompute::None => 0.0,
                    Recompute::Selective => attn_f,
                    Recompute::Full => f_t,
                };
                let ep_t = if model.layer_is_moe(layer) {
                    comm.ep_per_moe_layer
                } else {
                    0.0
                };
                // Ring attention overlaps each K/V round with the attention of a block.
                let cp_exposed = (comm.cp_kv_round * (p.cp - 1) as f64 - attn_f).max(0.0);
                // With --tp-comm-overlap the collectives hide behind the layer's GEMMs.
                let gemm_f = kind_time(cm, &ops, p.precision, is_gemm);
                let (tp_f, tp_b) = if p.tp_comm_overlap {
                    (
                        (comm.tp_per_layer - gemm_f).max(0.0),
                        (comm.tp_per_layer - 2.0 * gemm_f).max(0.0),
                    )
                } else {
                    (comm.tp_per_layer, comm.tp_per_layer)
                };
                let tp_re = if p.recompute == Recompute::Full { tp_f } else { 0.0 };
                // ZeRO-3 gathers are prefetched one layer ahead.
                let z3_f = (comm.zero3_ag_per_layer - f_t).max(0.0);
                let z3_b = (comm.zero3_ag_per_layer - b_t).max(0.0);
                tf += f_t + tp_f + ep_t + cp_exposed + z3_f;
                tb += b_t + re + tp_b + tp_re + ep_t + cp_exposed + z3_b;

                w.forward_s += f_t * m;
                w.backward_s += b_t * m;
                w.recompute_s += re * m;
                w.tp_comm_s += (tp_f + tp_b + tp_re) * m;
                w.ep_comm_s += 2.0 * ep_t * m;
                w.cp_comm_s += 2.0 * cp_exposed * m;
                w.zero3_comm_s += (z3_f + z3_b) * m;
                let fl: f64 = ops.iter().map(|o| o.flops).sum::<f64>() + back.iter().map(|o| o.flops).sum::<f64>();
                let refl: f64 = match p.recompute {
                    Recompute::None => 0.0,
                    Recompute::Selective => ops.iter().filter(|o| is_attention(&o.kind)).map(|o| o.flops).sum(),
                    Recompute::Full => ops.iter().map(|o| o.flops).sum(),
                };
                w.hardware_flops += (fl + refl) * m;
                w.executed_flops += fl * m;
            }
            // Embedding on the first virtual stage, output layer and loss on the last.
            let mut edge: Vec<OpDesc> = Vec::new();
            if v == 0 {
                edge.extend(flops::embedding_ops(model, p.mbs as u64, p.seq / p.cp as u64));
            }
            if v == chunks - 1 {
                edge.extend(flops::output_ops(model, p.mbs as u64, p.seq / p.cp as u64, p.tp));
            }
            if !edge.is_empty() {
                let back = flops::backward_ops(&edge);
                let (ef, eb) = (sum_time(cm, &edge, p.precision), sum_time(cm, &back, p.precision));
                tf += ef;
                tb += eb;
                let fl: f64 = edge.iter().chain(&back).map(|o| o.flops).sum();
                w.hardware_flops += fl * m;
                w.executed_flops += fl * m;
                w.forward_s += ef * m;
                w.backward_s += eb * m;
            }
            fwd[s as usize][c as usize] = tf;
            bwd[s as usize][c as usize] = tb;
        }
    }

    // Optimizer: fused AdamW over this rank's (sharded) parameters, 28 bytes moved per
    // parameter (FP32 master, two moments, BF16 gradient and weight).
    let params_rank = params_per_rank(model, p);
    let opt_params = if p.zero >= 1 {
        params_rank / (p.dp * p.cp) as f64
    } else {
        params_rank
    };
    let opt_op = OpDesc {
        name: "adamw",
        kind: OpKind::Memory {
            what: MemoryOp::Optimizer,
        },
        flops: 0.0,
        bytes: 28.0 * opt_params,
    };
    StageTimings {
        fwd,
        bwd,
        stages,
        optimizer_s: cm.op_time(&opt_op, Precision::Bf16),
    }
}

/// The compute model of a catalogue accelerator: its own peaks with the H100-fitted efficiency
/// rule (measured H100 kernels; other accelerators are an assumption, docs/compute-model.md).
pub fn compute_model_for(accel: &str) -> Option<ComputeModel> {
    if accel == "h100" {
        return Some(ComputeModel::h100());
    }
    let a = fabric::catalogue::accelerator(accel)?;
    Some(ComputeModel::from_peaks(
        a.name,
        a.bf16_dense.0,
        a.fp8_dense.map(|x| x.0),
        a.hbm_bw.0,
    ))
}

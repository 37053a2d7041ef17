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
    /// Transformer layers the stage holds (all its chunks).
    pub layers: u32,
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

/// One pass (forward or backward) of one block for one micro-batch on one rank: kernel time and
/// the communication the compute stream waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassTime {
    /// Kernels of the pass.
    pub compute_s: f64,
    /// Recomputed forward (backward passes only).
    pub recompute_s: f64,
    /// Exposed tensor-parallel collectives (with full recompute, the recomputed forward's too).
    pub tp_s: f64,
    /// Exposed expert dispatch + combine.
    pub ep_s: f64,
    /// Exposed context-parallel K/V exchange.
    pub cp_s: f64,
    /// Exposed ZeRO-3 parameter gather.
    pub zero3_s: f64,
    /// FLOPs the pass's kernels execute (recomputation included).
    pub flops: f64,
}

impl PassTime {
    /// Time on the compute stream.
    pub fn total(&self) -> f64 {
        self.compute_s + self.recompute_s + self.tp_s + self.ep_s + self.cp_s + self.zero3_s
    }
}

/// What a [`BlockTiming`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Transformer layer (0-based).
    Layer(u32),
    /// Token (and position) embedding, on the first virtual stage.
    Embedding,
    /// Final norm, output layer and loss, on the last virtual stage.
    Output,
}

/// Forward and backward of one block for one micro-batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTiming {
    pub block: Block,
    /// A mixture-of-experts layer (expert dispatch and combine).
    pub moe: bool,
    pub forward: PassTime,
    pub backward: PassTime,
}

/// The durations the pipeline schedule runs.
#[derive(Debug, Clone)]
pub struct StageTimings {
    /// Forward and backward time of one micro-batch on [stage][chunk].
    pub fwd: Vec<Vec<f64>>,
    pub bwd: Vec<Vec<f64>>,
    /// The blocks of [stage][chunk], in forward order: their passes sum to `fwd` and `bwd`.
    pub blocks: Vec<Vec<Vec<BlockTiming>>>,
    /// Per pipeline stage, its work over the step.
    pub stages: Vec<StageWork>,
    /// Fused AdamW over one rank's (sharded) parameters.
    pub optimizer_s: f64,
}

impl StageTimings {
    /// The stage with the most busy time (the first of equals): the one that sets the pace.
    pub fn slowest_stage(&self) -> u32 {
        let mut best = 0usize;
        for (i, w) in self.stages.iter().enumerate() {
            if w.busy_s() > self.stages[best].busy_s() {
                best = i;
            }
        }
        best as u32
    }
}

/// Kernel time of `ops` under the compute model's framework (attention backend, host floor).
fn sum_time(cm: &ComputeModel, ops: &[OpDesc], precision: Precision) -> f64 {
    ops.iter().map(|o| cm.framework.op_time(cm, o, precision)).sum()
}

fn kind_time(cm: &ComputeModel, ops: &[OpDesc], precision: Precision, pick: fn(&OpKind) -> bool) -> f64 {
    ops.iter()
        .filter(|o| pick(&o.kind))
        .map(|o| cm.framework.op_time(cm, o, precision))
        .sum()
}

/// Forward and backward kernels of a forward op list as the framework runs them (unfused
/// elementwise ops, rotary embedding, FP8 casts: `workload::framework`).
fn framework_ops(
    cm: &ComputeModel,
    model: &ModelSpec,
    ops: &[OpDesc],
    precision: Precision,
) -> (Vec<OpDesc>, Vec<OpDesc>) {
    let fwd = cm.framework.forward_ops(model, ops, precision, cm);
    // A forward FP8 cast has no backward of its own (the output-gradient casts are added).
    let kept: Vec<OpDesc> = fwd.iter().filter(|o| o.name != "fp8_cast").cloned().collect();
    let mut back = flops::backward_ops(&kept);
    back.extend(cm.framework.backward_extra(ops, precision));
    (fwd, back)
}

/// Recomputed forward time and FLOPs of a layer under selective checkpointing: the attention
/// core (Megatron), or torchtitan's op policy (every op but the saved matmul outputs and SDPA;
/// every second matmul recomputed).
fn selective_recompute(cm: &ComputeModel, model: &ModelSpec, ops: &[OpDesc], precision: Precision) -> (f64, f64) {
    use workload::framework::{FrameworkProfile, SelectiveAc};
    match cm.framework.selective_ac {
        SelectiveAc::AttentionCore => (
            kind_time(cm, ops, precision, is_attention),
            ops.iter().filter(|o| is_attention(&o.kind)).map(|o| o.flops).sum(),
        ),
        SelectiveAc::EveryOtherMatmul => {
            let (mut t, mut fl) = (0.0, 0.0);
            for o in ops {
                let share = match o.kind {
                    OpKind::Gemm { .. } => FrameworkProfile::op_ac_gemm_share(model, o.name).unwrap_or(0.0),
                    OpKind::Attention { .. } => 0.0,
                    OpKind::Memory { .. } => 1.0,
                };
                if share > 0.0 {
                    t += share * cm.framework.op_time(cm, o, precision);
                    fl += share * o.flops;
                }
            }
            (t, fl)
        }
    }
}

fn is_attention(k: &OpKind) -> bool {
    matches!(k, OpKind::Attention { .. })
}

fn is_gemm(k: &OpKind) -> bool {
    matches!(k, OpKind::Gemm { .. })
}

/// Forward/backward time of every (stage, chunk), its blocks, and each stage's work.
pub fn stage_timings(pl: &Placement, model: &ModelSpec, cm: &ComputeModel, comm: &CommCosts) -> StageTimings {
    let p = &pl.plan;
    let m = pl.microbatches as f64;
    let chunks = p.pp * p.vp;
    let mut fwd = vec![vec![0.0; p.vp as usize]; p.pp as usize];
    let mut bwd = vec![vec![0.0; p.vp as usize]; p.pp as usize];
    let mut blocks = vec![vec![Vec::new(); p.vp as usize]; p.pp as usize];
    let mut stages = vec![StageWork::default(); p.pp as usize];
    for s in 0..p.pp {
        let w = &mut stages[s as usize];
        for c in 0..p.vp {
            let v = c * p.pp + s;
            let mut tf = 0.0;
            let mut tb = 0.0;
            let mut list: Vec<BlockTiming> = Vec::new();
            // Embedding on the first virtual stage, output layer and loss on the last.
            let edge = |ops: Vec<OpDesc>, block: Block| {
                let (ops, back) = framework_ops(cm, model, &ops, p.precision);
                BlockTiming {
                    block,
                    moe: false,
                    forward: PassTime {
                        compute_s: sum_time(cm, &ops, p.precision),
                        flops: ops.iter().map(|o| o.flops).sum(),
                        ..Default::default()
                    },
                    backward: PassTime {
                        compute_s: sum_time(cm, &back, p.precision),
                        flops: back.iter().map(|o| o.flops).sum(),
                        ..Default::default()
                    },
                }
            };
            if v == 0 {
                list.push(edge(
                    flops::embedding_ops(model, p.mbs as u64, p.seq / p.cp as u64),
                    Block::Embedding,
                ));
            }
            for layer in p.chunk_layers(model.layers, v) {
                w.layers += 1;
                let plain = flops::layer_ops(model, layer, p.mbs as u64, p.seq, p.tp, p.cp, p.ep, p.sequence_parallel);
                let (ops, back) = framework_ops(cm, model, &plain, p.precision);
                // The hottest rank's expert GEMMs under routing imbalance (train/moe.rs).
                let hot = super::moe::hottest_ops(&ops, comm, model.layer_is_moe(layer));
                let (f_t, b_t) = match &hot {
                    Some((o, bk)) => (sum_time(cm, o, p.precision), sum_time(cm, bk, p.precision)),
                    None => (sum_time(cm, &ops, p.precision), sum_time(cm, &back, p.precision)),
                };
                let attn_f = kind_time(cm, &ops, p.precision, is_attention);
                let (sel_t, sel_fl) = selective_recompute(cm, model, &ops, p.precision);
                let re = match p.recompute {
                    Recompute::None => 0.0,
                    Recompute::Selective => sel_t,
                    Recompute::Full => f_t,
                };
                let moe = model.layer_is_moe(layer);
                let (ep_f, ep_b) = super::moe::layer_exposed(comm, pl, s, moe, f_t, b_t + re);
                // Ring attention overlaps each K/V round with the attention of a block.
                let cp_exposed = (comm.cp_kv_round * (p.cp - 1) as f64 - attn_f).max(0.0);
                // With --tp-comm-overlap the collectives hide behind the layer's GEMMs.
                let gemm_f = kind_time(cm, &ops, p.precision, is_gemm);
                let (tp_f, tp_b) = if p.tp_comm_overlap || cm.framework.tp_comm_overlap {
                    (
                        (comm.tp_per_layer - gemm_f).max(0.0),
                        (comm.tp_per_layer - 2.0 * gemm_f).max(0.0),
                    )
                } else {
                    (comm.tp_per_layer, comm.tp_per_layer)
                };
                let tp_re = if p.recompute == Recompute::Full { tp_f } else { 0.0 };
                // ZeRO-3/FSDP (see `fsdp_exposed`).
                let (z3_f, z3_b) = fsdp_exposed(comm, f_t, b_t + re, cm.framework.overlap_comm);
                let fl_f: f64 = ops.iter().map(|o| o.flops).sum();
                let fl_b: f64 = back.iter().map(|o| o.flops).sum();
                let refl: f64 = match p.recompute {
                    Recompute::None => 0.0,
                    Recompute::Selective => sel_fl,
                    Recompute::Full => fl_f,
                };
                list.push(BlockTiming {
                    block: Block::Layer(layer),
                    moe,
                    forward: PassTime {
                        compute_s: f_t,
                        recompute_s: 0.0,
                        tp_s: tp_f,
                        ep_s: ep_f,
                        cp_s: cp_exposed,
                        zero3_s: z3_f,
                        flops: fl_f,
                    },
                    backward: PassTime {
                        compute_s: b_t,
                        recompute_s: re,
                        tp_s: tp_b + tp_re,
                        ep_s: ep_b,
                        cp_s: cp_exposed,
                        zero3_s: z3_b,
                        flops: fl_b + refl,
                    },
                });
                w.hardware_flops += (fl_f + fl_b + refl) * m;
                w.executed_flops += (fl_f + fl_b) * m;
            }
            if v == chunks - 1 {
                // The output layer, and the MTP modules after it (train/moe.rs).
                let mut out_ops = flops::output_ops(model, p.mbs as u64, p.seq / p.cp as u64, p.tp);
                out_ops.extend(super::moe::mtp_ops(model, p));
                let mut out = edge(out_ops, Block::Output);
                super::moe::mtp_exposed(&mut out, comm, pl, s, model);
                list.push(out);
            }
            for b in &list {
                let (f, bk) = (&b.forward, &b.backward);
                tf += f.total();
                tb += bk.total();
                w.forward_s += f.compute_s * m;
                w.backward_s += bk.compute_s * m;
                w.recompute_s += bk.recompute_s * m;
                w.tp_comm_s += (f.tp_s + bk.tp_s) * m;
                w.ep_comm_s += (f.ep_s + bk.ep_s) * m;
                w.cp_comm_s += (f.cp_s + bk.cp_s) * m;
                w.zero3_comm_s += (f.zero3_s + bk.zero3_s) * m;
                if !matches!(b.block, Block::Layer(_)) {
                    w.hardware_flops += (f.flops + bk.flops) * m;
                    w.executed_flops += (f.flops + bk.flops) * m;
                }
            }
            fwd[s as usize][c as usize] = tf;
            bwd[s as usize][c as usize] = tb;
            blocks[s as usize][c as usize] = list;
        }
    }

    // Optimizer: AdamW over this rank's (sharded) parameters: fused, 28 bytes moved per
    // parameter (FP32 master, two moments, BF16 gradient and weight), or the framework's
    // foreach passes at the same achieved bandwidth.
    let params_rank = params_per_rank(model, p);
    let opt_params = if p.zero >= 1 {
        params_rank / (p.shard_group() * p.cp) as f64
    } else {
        params_rank
    } * cm.framework.optimizer_bytes_per_param()
        / workload::framework::FUSED_ADAMW_BYTES_PER_PARAM;
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
        blocks,
        stages,
        optimizer_s: cm.op_time(&opt_op, Precision::Bf16),
    }
}

/// Exposed ZeRO-3/FSDP communication of one layer for one micro-batch, `(forward, backward)`.
/// With overlap (prefetch), the layer's parameter all-gather runs during the previous layer's
/// forward (`forward_s`, the layers being alike) and is exposed only beyond it; in the backward
/// the next all-gather (resharded after the forward), this layer's gradient reduce-scatter and,
/// with HSDP, the replicas' all-reduce share the network while the layer's backward
/// (`backward_s`, recompute included) runs. Without overlap all of it waits.
pub fn fsdp_exposed(comm: &CommCosts, forward_s: f64, backward_s: f64, overlap: bool) -> (f64, f64) {
    let ag = comm.zero3_ag_per_layer;
    let back = ag + comm.zero3_rs_per_layer + comm.zero3_ar_per_layer;
    if overlap {
        ((ag - forward_s).max(0.0), (back - backward_s).max(0.0))
    } else {
        (ag, back)
    }
}

/// The compute model of a catalogue accelerator: its own peaks with the H100-fitted efficiency
/// rule (measured H100 kernels; other accelerators are an assumption, docs/compute-model.md);
/// TPUs get their own rule (`train::tpu`).
pub fn compute_model_for(accel: &str) -> Option<ComputeModel> {
    if accel == "h100" {
        return Some(ComputeModel::h100());
    }
    let a = fabric::catalogue::accelerator(accel)?;
    if let Some(t) = fabric::catalogue::tpu_core(a.id) {
        return Some(super::tpu::compute_model(a, t));
    }
    Some(
        ComputeModel::from_peaks(a.name, a.bf16_dense.0, a.fp8_dense.map(|x| x.0), a.hbm_bw.0)
            .with_tensor_fraction(workload::compute::sustained_tensor_fraction(a.id)),
    )
}

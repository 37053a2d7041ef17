//! FLOPs and bytes of a transformer layer, per operation, for one tensor-parallel rank; and the
//! closed formulas the literature uses (Megatron, Korthikanti et al.).
//!
//! Per-operation lists (`layer_ops`, `backward_ops`, `head_ops`) feed the compute model; the
//! closed formulas (`megatron_hw_flops`, `korthikanti_model_flops`, `model_flops_per_token`,
//! `model_flops_per_step`) are the accountings the published runs report.
//!
//! Conventions of the operation lists:
//! - GEMM FLOPs = 2·M·N·K; GEMM bytes = BF16 operands and result, 2·(M·K + K·N + M·N) (the
//!   compute model rescales for FP8).
//! - Attention forward FLOPs = 2·b·h_q·s_q·s_kv·(d_qk + d_v), halved when causal (with context
//!   parallelism a rank's s/cp queries see on average half of the s keys: the load-balanced
//!   split Megatron uses); backward = 2.5 × forward (FlashAttention/cuDNN recompute the scores),
//!   as in the H100 kernel measurements.
//! - Memory-bound ops carry their HBM bytes in BF16 (2 B/element); their `flops` are a rough
//!   count of the elementwise arithmetic (a few per element) and are never compute-bound.
//! - Backward of a forward GEMM (M=T, N, K): dgrad (M=T, N=K, K=N) and wgrad (M=N, N=K, K=T);
//!   of a memory op: same op with 2× bytes.

use crate::compute::CROSS_ENTROPY_BYTES_PER_LOGIT;
use crate::model::ModelSpec;

/// Which GEMM of `nn.Linear` (forward Y = X·Wᵀ, data-gradient, weight-gradient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    Fwd,
    Dgrad,
    Wgrad,
}

/// The kind of an operation, with the shape the compute model needs.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// Matrix product of (M×K)·(K×N) in the `pass` layout; FLOPs = 2·M·N·K.
    Gemm { m: u64, n: u64, k: u64, pass: Pass },
    /// Scaled dot-product attention core (flash-style), forward or backward.
    Attention {
        batch: u64,
        heads: u64,
        kv_heads: u64,
        seq_q: u64,
        seq_kv: u64,
        head_dim_qk: u64,
        head_dim_v: u64,
        causal: bool,
        backward: bool,
    },
    /// Memory-bound elementwise / normalisation work moving `bytes` through HBM.
    Memory { what: MemoryOp },
}

/// Memory-bound operations (see the kernel measurements' memory.csv).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryOp {
    Norm,
    Elementwise,
    Copy,
    CrossEntropy,
    Optimizer,
}

/// One operation of a layer on one TP rank.
#[derive(Debug, Clone, PartialEq)]
pub struct OpDesc {
    /// Short name: "qkv", "attn_out", "fc1", "fc2", "router", "expert_fc1", "attention", "norm", ...
    pub name: &'static str,
    pub kind: OpKind,
    /// Floating-point operations (multiply-add = 2).
    pub flops: f64,
    /// Bytes read and written in HBM (for the roofline's memory side).
    pub bytes: f64,
}

/// Bytes per element of BF16 activations.
const BF16: f64 = 2.0;

fn gemm(name: &'static str, m: u64, n: u64, k: u64, pass: Pass) -> OpDesc {
    let (mf, nf, kf) = (m as f64, n as f64, k as f64);
    OpDesc {
        name,
        kind: OpKind::Gemm { m, n, k, pass },
        flops: 2.0 * mf * nf * kf,
        bytes: BF16 * (mf * kf + kf * nf + mf * nf),
    }
}

fn mem(name: &'static str, what: MemoryOp, bytes: f64, flops: f64) -> OpDesc {
    OpDesc {
        name,
        kind: OpKind::Memory { what },
        flops,
        bytes,
    }
}

/// Attention-core FLOPs as the op lists count them (see the module notes).
pub fn attention_flops(batch: u64, heads: u64, seq_q: u64, seq_kv: u64, d_qk: u64, d_v: u64, causal: bool) -> f64 {
    let full = 2.0 * batch as f64 * heads as f64 * seq_q as f64 * seq_kv as f64 * (d_qk + d_v) as f64;
    if causal {
        0.5 * full
    } else {
        full
    }
}

#[allow(clippy::too_many_arguments)]
fn attention_op(batch: u64, heads: u64, kv_heads: u64, seq_q: u64, seq_kv: u64, d_qk: u64, d_v: u64) -> OpDesc {
    let (b, hq, hk, sq, skv) = (batch as f64, heads as f64, kv_heads as f64, seq_q as f64, seq_kv as f64);
    // Q, K, V read; O written (BF16); the fp32 log-sum-exp per query row written.
    let bytes =
        BF16 * b * (hq * sq * d_qk as f64 + hk * skv * (d_qk + d_v) as f64 + hq * sq * d_v as f64) + 4.0 * b * hq * sq;
    OpDesc {
        name: "attention",
        kind: OpKind::Attention {
            batch,
            heads,
            kv_heads,
            seq_q,
            seq_kv,
            head_dim_qk: d_qk,
            head_dim_v: d_v,
            causal: true,
            backward: false,
        },
        flops: attention_flops(batch, heads, seq_q, seq_kv, d_qk, d_v, true),
        bytes,
    }
}

/// Normalisation over `rows × dim` BF16 elements: read and write.
fn norm_op(name: &'static str, rows: u64, dim: u64) -> OpDesc {
    let e = rows as f64 * dim as f64;
    mem(name, MemoryOp::Norm, 2.0 * BF16 * e, 5.0 * e)
}

/// Residual add (bias-dropout-add fused in Megatron): two reads, one write.
fn residual_op(name: &'static str, rows: u64, dim: u64) -> OpDesc {
    let e = rows as f64 * dim as f64;
    mem(name, MemoryOp::Elementwise, 3.0 * BF16 * e, e)
}

/// MLP activation on `rows × ffn` outputs: gated reads gate and up (2·ffn) and writes ffn;
/// GELU/squared-ReLU reads and writes ffn.
fn activation_op(name: &'static str, rows: u64, ffn: u64, gated: bool) -> OpDesc {
    let e = rows as f64 * ffn as f64;
    if gated {
        mem(name, MemoryOp::Elementwise, 3.0 * BF16 * e, 6.0 * e)
    } else {
        mem(name, MemoryOp::Elementwise, 2.0 * BF16 * e, 8.0 * e)
    }
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

/// The forward operations of transformer layer `layer` (0-based) on one tensor-parallel rank,
/// for a micro-batch of `batch` sequences of `seq` tokens split over `cp` context-parallel ranks
/// (the rank holds `batch·seq/cp` tokens), with `tp`-way tensor parallelism (Megatron layout:
/// heads, FFN columns and experts' FFN split `tp` ways; key/value heads replicated when fewer
/// than `tp`) and `ep`-way expert parallelism.
///
/// Tokens T = batch·⌈seq/cp⌉. GEMMs run on all T tokens; norms, residuals and the router on
/// T/tp tokens with `sequence_parallel`, on T otherwise (replicated across the TP group).
/// Ops, in order: `norm_attn`; `qkv` (N = (heads + 2·kv_heads)·head_dim/tp) or the MLA
/// projections `q_down`, `q_norm`, `q_up` (or `q_proj`), `kv_down`, `kv_norm`, `kv_up`;
/// `attention` (heads/tp, seq/cp queries against seq keys, causal); `attn_out`;
/// `residual_attn`; `norm_mlp`; then either the dense MLP `fc1` (N = 2·ffn/tp when gated),
/// `act`, `fc2`, or for MoE layers `router` (N = experts), `moe_permute`, per local expert
/// (⌈experts/ep⌉ of them) `expert_fc1` and `expert_fc2` with M = ⌈T·ep·top_k/experts⌉ tokens
/// (each rank receives T·top_k token-copies on average: its `experts/ep` experts' share of the
/// EP group's ep·T·top_k), `expert_act`, `shared_fc1`/`shared_act`/`shared_fc2` (shared
/// experts, on all T tokens), `moe_unpermute`; `residual_mlp`.
#[allow(clippy::too_many_arguments)]
pub fn layer_ops(
    m: &ModelSpec,
    layer: u32,
    batch: u64,
    seq: u64,
    tp: u32,
    cp: u32,
    ep: u32,
    sequence_parallel: bool,
) -> Vec<OpDesc> {
    let tp = tp.max(1) as u64;
    let cp = cp.max(1) as u64;
    let ep = ep.max(1) as u64;
    let seq_q = ceil_div(seq, cp);
    let t = batch * seq_q;
    let t_n = if sequence_parallel { ceil_div(t, tp) } else { t };
    let h = m.hidden;
    let heads = ceil_div(m.heads as u64, tp);
    let kv_heads = ceil_div(m.kv_heads as u64, tp);
    let d_qk = m.qk_head_dim();
    let d_v = m.v_head_dim();
    let mut ops = Vec::with_capacity(16);

    ops.push(norm_op("norm_attn", t_n, h));
    let att_kv_heads = match &m.mla {
        Some(mla) => {
            if mla.q_lora_rank > 0 {
                ops.push(gemm("q_down", t, mla.q_lora_rank, h, Pass::Fwd));
                ops.push(norm_op("q_norm", t, mla.q_lora_rank));
                ops.push(gemm("q_up", t, heads * d_qk, mla.q_lora_rank, Pass::Fwd));
            } else {
                ops.push(gemm("q_proj", t, heads * d_qk, h, Pass::Fwd));
            }
            ops.push(gemm(
                "kv_down",
                t,
                mla.kv_lora_rank + mla.qk_rope_head_dim,
                h,
                Pass::Fwd,
            ));
            ops.push(norm_op("kv_norm", t, mla.kv_lora_rank));
            ops.push(gemm(
                "kv_up",
                t,
                heads * (mla.qk_nope_head_dim + mla.v_head_dim),
                mla.kv_lora_rank,
                Pass::Fwd,
            ));
            heads
        }
        None => {
            ops.push(gemm("qkv", t, (heads + 2 * kv_heads) * m.head_dim, h, Pass::Fwd));
            kv_heads
        }
    };
    ops.push(attention_op(batch, heads, att_kv_heads, seq_q, seq, d_qk, d_v));
    ops.push(gemm("attn_out", t, h, heads * d_v, Pass::Fwd));
    ops.push(residual_op("residual_attn", t_n, h));
    ops.push(norm_op("norm_mlp", t_n, h));

    let up = if m.gated_mlp { 2 } else { 1 };
    match &m.moe {
        Some(moe) if m.layer_is_moe(layer) => {
            let k = moe.top_k as u64;
            let experts = moe.experts.max(1) as u64;
            ops.push(gemm("router", t_n, experts, h, Pass::Fwd));
            let copies = t_n as f64 * k as f64 * h as f64;
            let permute_bytes = BF16 * (t_n as f64 * h as f64 + copies);
            ops.push(mem("moe_permute", MemoryOp::Copy, permute_bytes, 0.0));
            let local = ceil_div(experts, ep);
            let per_expert = ceil_div(t * ep * k, experts).max(1);
            let f = ceil_div(moe.expert_ffn, tp);
            for _ in 0..local {
                ops.push(gemm("expert_fc1", per_expert, up * f, h, Pass::Fwd));
                ops.push(gemm("expert_fc2", per_expert, h, f, Pass::Fwd));
            }
            ops.push(activation_op("expert_act", local * per_expert, f, m.gated_mlp));
            if moe.shared_experts > 0 {
                let fs = ceil_div(moe.shared_experts as u64 * moe.shared_ffn, tp);
                ops.push(gemm("shared_fc1", t, up * fs, h, Pass::Fwd));
                ops.push(activation_op("shared_act", t, fs, m.gated_mlp));
                ops.push(gemm("shared_fc2", t, h, fs, Pass::Fwd));
            }
            ops.push(mem("moe_unpermute", MemoryOp::Copy, permute_bytes, copies));
        }
        _ => {
            let f = ceil_div(m.ffn, tp);
            ops.push(gemm("fc1", t, up * f, h, Pass::Fwd));
            ops.push(activation_op("act", t, f, m.gated_mlp));
            ops.push(gemm("fc2", t, h, f, Pass::Fwd));
        }
    }
    ops.push(residual_op("residual_mlp", t_n, h));
    ops
}

/// The backward operations of a forward list, in execution order (reverse of the forward):
/// per forward GEMM (M=T, N, K) a dgrad (M=T, N=K, K=N) then a wgrad (M=N, N=K, K=T); per
/// attention core the backward kernel at 2.5× the forward FLOPs and 2× its bytes; per memory op
/// the same op with 2× bytes and FLOPs, except `CrossEntropy`, whose forward entry already
/// counts forward and backward (as the kernel measurements time it). Ops that are already
/// backward are skipped.
pub fn backward_ops(fwd: &[OpDesc]) -> Vec<OpDesc> {
    let mut out = Vec::with_capacity(fwd.len() * 2);
    for op in fwd.iter().rev() {
        match &op.kind {
            OpKind::Gemm {
                m,
                n,
                k,
                pass: Pass::Fwd,
            } => {
                let mut d = gemm(op.name, *m, *k, *n, Pass::Dgrad);
                d.name = op.name;
                out.push(d);
                let mut w = gemm(op.name, *n, *k, *m, Pass::Wgrad);
                w.name = op.name;
                out.push(w);
            }
            OpKind::Gemm { .. } => {}
            OpKind::Attention {
                batch,
                heads,
                kv_heads,
                seq_q,
                seq_kv,
                head_dim_qk,
                head_dim_v,
                causal,
                backward: false,
            } => out.push(OpDesc {
                name: op.name,
                kind: OpKind::Attention {
                    batch: *batch,
                    heads: *heads,
                    kv_heads: *kv_heads,
                    seq_q: *seq_q,
                    seq_kv: *seq_kv,
                    head_dim_qk: *head_dim_qk,
                    head_dim_v: *head_dim_v,
                    causal: *causal,
                    backward: true,
                },
                flops: 2.5 * op.flops,
                bytes: 2.0 * op.bytes,
            }),
            OpKind::Attention { .. } => {}
            OpKind::Memory {
                what: MemoryOp::CrossEntropy,
            } => {}
            OpKind::Memory { what } => out.push(mem(op.name, *what, 2.0 * op.bytes, 2.0 * op.flops)),
        }
    }
    out
}

/// Forward ops of the first pipeline stage's input side: `embedding` (row gather, `Copy`) and,
/// with learned positions, `pos_embedding` (add). `batch·seq` tokens (pass seq/cp under context
/// parallelism).
pub fn embedding_ops(m: &ModelSpec, batch: u64, seq: u64) -> Vec<OpDesc> {
    let t = batch * seq;
    let e = t as f64 * m.hidden as f64;
    let mut ops = vec![mem("embedding", MemoryOp::Copy, 2.0 * BF16 * e, 0.0)];
    if m.pos_embeddings > 0 {
        ops.push(mem("pos_embedding", MemoryOp::Elementwise, 3.0 * BF16 * e, e));
    }
    ops
}

/// Forward ops of the last pipeline stage's output side: `final_norm`, `lm_head` (M = tokens,
/// N = vocab/tp: vocabulary-parallel, K = hidden) and `cross_entropy` (forward and backward
/// together, counted with the compute model's `CROSS_ENTROPY_BYTES_PER_LOGIT` — the minimal
/// traffic of a fused kernel, 4 B per logit — whose fitted efficiency carries the real cost).
pub fn output_ops(m: &ModelSpec, batch: u64, seq: u64, tp: u32) -> Vec<OpDesc> {
    let t = batch * seq;
    let v = ceil_div(m.vocab, tp.max(1) as u64);
    let logits = t as f64 * v as f64;
    vec![
        norm_op("final_norm", t, m.hidden),
        gemm("lm_head", t, v, m.hidden, Pass::Fwd),
        mem(
            "cross_entropy",
            MemoryOp::CrossEntropy,
            CROSS_ENTROPY_BYTES_PER_LOGIT * logits,
            8.0 * logits,
        ),
    ]
}

/// `embedding_ops` followed by `output_ops` (a single-stage pipeline has both; with pipeline
/// parallelism the first stage runs the embedding, the last the output ops).
pub fn head_ops(m: &ModelSpec, batch: u64, seq: u64, tp: u32) -> Vec<OpDesc> {
    let mut ops = embedding_ops(m, batch, seq);
    ops.extend(output_ops(m, batch, seq, tp));
    ops
}

/// Megatron-LM (Narayanan et al. SC'21) FLOPs per iteration, counting the recomputed forward of
/// full activation recomputation: 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h)). GPT-shaped models only
/// (FFN 4h, multi-head attention, non-causal attention accounting).
pub fn megatron_hw_flops(m: &ModelSpec, batch_seqs: f64, seq: f64) -> f64 {
    let (l, h, v) = (m.layers as f64, m.hidden as f64, m.vocab as f64);
    96.0 * batch_seqs * seq * l * h * h * (1.0 + seq / (6.0 * h) + v / (16.0 * l * h))
}

/// Korthikanti et al. 2022 model FLOPs per iteration (no recompute):
/// 72·B·s·l·h²·(1 + s/(6h) + V/(12·h·l)). GPT-shaped models only.
pub fn korthikanti_model_flops(m: &ModelSpec, batch_seqs: f64, seq: f64) -> f64 {
    let (l, h, v) = (m.layers as f64, m.hidden as f64, m.vocab as f64);
    72.0 * batch_seqs * seq * l * h * h * (1.0 + seq / (6.0 * h) + v / (12.0 * h * l))
}

/// Model FLOPs per trained token (forward + backward, no recompute) for sequence length `seq`:
///
/// 6·N + 6·l·a·(d_qk + d_v)·s + 6·h·V
///
/// with N = active non-embedding parameters (`ModelSpec::active_non_embedding_params`: top-k
/// and shared experts, router, MLA projections, norms and biases), the attention term counted
/// over the full s×s score matrix (non-causal; 12·l·h·s for multi-head attention with
/// d_qk = d_v = h/a) and the output layer 6·h·V. This is the convention of PaLM's MFU, of
/// Korthikanti et al. (it equals their formula per token for GPT up to the 13·l·h bias/norm
/// parameters) and of the Megatron-Core / NeMo "model TFLOP/s" the reference runs report.
/// `model_flops_per_token_causal` halves the attention term (what a causal kernel executes).
pub fn model_flops_per_token(m: &ModelSpec, seq: u64) -> f64 {
    6.0 * m.active_non_embedding_params() + attention_model_flops_per_token(m, seq) + 6.0 * (m.hidden * m.vocab) as f64
}

/// As `model_flops_per_token` with the attention term halved (causal mask: 6·l·h·s for MHA).
pub fn model_flops_per_token_causal(m: &ModelSpec, seq: u64) -> f64 {
    6.0 * m.active_non_embedding_params()
        + 0.5 * attention_model_flops_per_token(m, seq)
        + 6.0 * (m.hidden * m.vocab) as f64
}

/// Non-causal attention-core model FLOPs per token, forward + backward: 6·l·a·(d_qk + d_v)·s.
fn attention_model_flops_per_token(m: &ModelSpec, seq: u64) -> f64 {
    6.0 * m.layers as f64 * m.heads as f64 * (m.qk_head_dim() + m.v_head_dim()) as f64 * seq as f64
}

/// Model FLOPs of one optimizer step of `global_batch_seqs` sequences of `seq` tokens
/// (`model_flops_per_token` × tokens).
pub fn model_flops_per_step(m: &ModelSpec, global_batch_seqs: u64, seq: u64) -> f64 {
    model_flops_per_token(m, seq) * global_batch_seqs as f64 * seq as f64
}

/// How `layer_ops_flops_sum` counts the attention core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlopConvention {
    /// What the op lists say the kernels execute: causal attention, backward 2.5 × forward.
    Executed,
    /// The literature's model FLOPs: attention over the full s×s scores (non-causal), backward
    /// 2 × forward (the convention of `korthikanti_model_flops` and `megatron_hw_flops`).
    Literature,
}

/// FLOPs of all layers' GEMMs and attention cores for one micro-batch of `batch` sequences,
/// forward + backward (plus a second forward when `recompute_forward`, as full activation
/// recomputation executes), summed over the whole TP × CP group (one rank's ops × tp × cp);
/// memory-bound ops and the embedding/output layer excluded (add `output_ops` for the lm_head).
/// With expert parallelism each rank computes, on average, its own tokens' expert FLOPs, so the
/// result does not depend on `ep`.
#[allow(clippy::too_many_arguments)]
pub fn layer_ops_flops_sum(
    m: &ModelSpec,
    batch: u64,
    seq: u64,
    tp: u32,
    cp: u32,
    ep: u32,
    sequence_parallel: bool,
    convention: FlopConvention,
    recompute_forward: bool,
) -> f64 {
    let group = tp.max(1) as f64 * cp.max(1) as f64;
    let per_layer = |layer: u32| -> f64 {
        let fwd = layer_ops(m, layer, batch, seq, tp, cp, ep, sequence_parallel);
        let bwd = backward_ops(&fwd);
        let fwd_passes = if recompute_forward { 2.0 } else { 1.0 };
        let mut total = 0.0;
        for (ops, passes) in [(&fwd, fwd_passes), (&bwd, 1.0)] {
            for op in ops.iter() {
                total += passes
                    * match (&op.kind, convention) {
                        (OpKind::Gemm { .. }, _) => op.flops,
                        (OpKind::Attention { .. }, FlopConvention::Executed) => op.flops,
                        (OpKind::Attention { backward, .. }, FlopConvention::Literature) => {
                            // Causal → full scores; backward 2× instead of 2.5× forward.
                            let fwd_full = 2.0 * if *backward { op.flops / 2.5 } else { op.flops };
                            if *backward {
                                2.0 * fwd_full
                            } else {
                                fwd_full
                            }
                        }
                        (OpKind::Memory { .. }, _) => 0.0,
                    };
            }
        }
        total
    };
    let moe_layers = m.moe_layers();
    let dense_layers = m.layers - moe_layers;
    let mut sum = 0.0;
    if dense_layers > 0 {
        sum += dense_layers as f64 * per_layer(0);
    }
    if moe_layers > 0 {
        sum += moe_layers as f64 * per_layer(m.layers - 1);
    }
    sum * group
}

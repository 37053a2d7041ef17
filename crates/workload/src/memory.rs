//! Memory per accelerator: weights, gradients, optimizer states by ZeRO stage, activations by
//! recompute policy (Korthikanti et al.), temporary buffers.
//!
//! Model states (bytes per parameter held by the rank):
//! - weights: BF16, 2 B (FP8 training adds a 1 B FP8 copy of the GEMM weights, as Transformer
//!   Engine caches it; the BF16 weights stay);
//! - gradients: FP32 main gradients, 4 B (Megatron accumulates into fp32 `main_grad`; 2 B with
//!   `MemoryOptions::grad_bytes` where a recipe keeps them in BF16);
//! - optimizer: Adam in mixed precision, 12 B (fp32 master weights, m and v).
//!
//! The rank holds its pipeline stage's layers (the plan's `layers_per_stage`, or an even split
//! with the remainder on the first chunks; every stage is evaluated and the heaviest reported), 1/tp of each layer's parameters and, of the routed
//! experts, 1/(ep·tp) (Megatron's default expert tensor parallelism = tp). ZeRO shards across
//! the data-parallel group, which for dense parameters is DP × CP (Megatron's distributed
//! optimizer shards over both) and for expert parameters DP × CP / EP: stage 1 shards the
//! optimizer, 2 also the gradients, 3 also the weights.
//!
//! Activations follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
//! Transformer Models", arXiv:2205.05198, §4 and Table 2), per layer and micro-batch, in bytes,
//! for s tokens, b sequences, hidden h, a heads, t-way tensor parallelism:
//! - no recompute: s·b·h·(34 + 5·a·s/h), divided by t with sequence parallelism, and
//!   s·b·h·(10 + 24/t + 5·a·s/(h·t)) with TP alone;
//! - selective recompute (attention core recomputed): s·b·h·34/t with SP, s·b·h·(10 + 24/t)
//!   without;
//! - full recompute: 2·s·b·h per layer (its input only), /t with SP (the stored input is the
//!   sequence-parallel shard).
//!
//! The 34 is generalised term by term so that it equals 34 for GPT and follows other shapes:
//! attention block 2 (norm output) + 2·(a·d_qk + a_kv·(d_qk + d_v))/h (Q, K, V) + 2·a·d_v/h
//! (out-projection input) + 1 (dropout mask); MLP 2 (fc1 input) + 2·f₁/h (fc1 output; f₁ = 2·ffn
//! when gated) + 2·ffn/h (fc2 input) + 1 (dropout mask); 4 (the two norms' inputs). MoE layers
//! store the MLP terms for the top_k copies of each token (router input and permuted tokens
//! included) plus shared experts; MLA adds the compressed q/kv latents. The "10" (tensors
//! replicated across TP without SP) is the 4 norm inputs, the 2 + 2 block inputs and the 2
//! dropout masks. In FP8 training the saved GEMM inputs (the two block inputs, the
//! out-projection, fc2 and expert fc1 inputs) take 1 byte, as Transformer Engine saves their
//! FP8 cast (`layer_activations_in`). `MemoryOptions` can drop the dropout masks and the 5·a·s/h score term (flash
//! attention keeps only fp32 softmax statistics); `memory_per_accel` uses the paper as is.
//!
//! In-flight micro-batches on pipeline stage i: 1F1B holds min(pp − i, m) micro-batches of the
//! stage's layers; the interleaved schedule with v virtual stages holds 2·(pp−1−i) + (v−1)·pp + 1
//! chunks (Megatron's warm-up) of, on average, a v-th of the stage's layers — on the first stage
//! Korthikanti's factor 1 + (pp−1)/(pp·v) with an even split. Plus the embedding output's dropout mask (s·b·h per in-flight micro-batch,
//! /t with SP) on the first stage and, on the last, the final norm and lm_head inputs
//! (4·s·b·h, /t with SP) and the fp32 logits 4·s·b·V/t.
//!
//! Recipes move memory too (`MemoryOptions`): activation offload to the host
//! (`offload_activation_layers`: Megatron's `cpu_offloading_num_layers`, MaxText's `offload`
//! remat names), MLA up-projection recomputation, and JAX/XLA's own layout under MaxText
//! (`MemoryOptions::maxtext`: fp32 parameters with optax Adam, the `minimal` remat policy, BF16
//! FSDP buffers).
//!
//! Buffers: a fixed 1 GiB (CUDA context, cuBLAS/cuDNN workspaces, NCCL buffers) plus the largest
//! transient tensor among: the data-parallel gradient bucket (fp32, max(40 M, 1 M·dp)
//! parameters — Megatron's default bucket), ZeRO-3's gathered BF16 weights of two layers (the
//! current and the prefetched), and the BF16 copy of the logits the cross-entropy makes.

use crate::model::ModelSpec;
use crate::plan::{ParallelPlan, Precision, Recompute};

/// Bytes per accelerator, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemoryBreakdown {
    pub weights: f64,
    pub gradients: f64,
    pub optimizer: f64,
    pub activations: f64,
    pub buffers: f64,
}

impl MemoryBreakdown {
    pub fn total(&self) -> f64 {
        self.weights + self.gradients + self.optimizer + self.activations + self.buffers
    }
}

/// Knobs beyond the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryOptions {
    /// Attention core stores only fp32 softmax statistics (FlashAttention / cuDNN), not the
    /// 5·a·s²·b score tensors Korthikanti et al. count.
    pub flash_attention: bool,
    /// Dropout masks stored (1 byte per element after the attention and MLP blocks and the
    /// embedding); modern LLM recipes train without dropout.
    pub dropout: bool,
    /// Fixed overhead in bytes (CUDA context, library workspaces, communication buffers).
    pub fixed_overhead: f64,
    /// Bytes per element of the gradient buffer and its communication bucket: 4 for Megatron's
    /// fp32 `main_grad` (the default), 2 where the recipe accumulates and syncs gradients in
    /// BF16 (NeMo's `distributed_fused_adam` with `grad_sync_dtype: bf16`).
    pub grad_bytes: f64,
    /// Selective recomputation is torchtitan's op-level policy (`selective_ac_option = "op"`):
    /// the block input and the outputs of every matmul but every second one and of SDPA are
    /// saved, everything else recomputed (`crate::framework::SelectiveAc::EveryOtherMatmul`),
    /// instead of Korthikanti's attention-core recomputation.
    pub op_level_selective: bool,
    /// Layers of each pipeline stage whose saved activations are offloaded to host memory
    /// during the forward pass and fetched back for the backward (Megatron-Core
    /// `cpu_offloading_num_layers`, Transformer Engine's `get_cpu_offload_context`; the first
    /// N layers of the stage): their activation bytes leave the device. TE double-buffers the
    /// copies (the layer being copied out overlaps the next layer's compute, the reload of
    /// layer i−1 overlaps layer i's backward), so the peak holds the other layers' activations.
    pub offload_activation_layers: u32,
    /// MLA's up-projections are recomputed in the backward pass (Megatron-Core
    /// `recompute_modules=["mla_up_proj"]`): the up-projected Q, K and V are not kept, only
    /// the compressed latents (counted anyway) — for models with MLA only.
    pub recompute_mla_up_proj: bool,
    /// JAX/XLA as MaxText trains (`MemoryOptions::maxtext`): fp32 parameters updated in place
    /// by optax Adam (4 B weights + 8 B for mu and nu, no separate master copy or BF16 weight
    /// copy: layers cast to BF16 where used); selective recomputation is MaxText's `minimal`
    /// remat policy (`jax.checkpoint_policies.checkpoint_dots_with_no_batch_dims`: the outputs
    /// of the weight matmuls are saved, everything else recomputed); under FSDP the gathered
    /// BF16 weights of two layers (the scan body's and the next, prefetched) and one layer's
    /// BF16 partial weight gradient before its reduce-scatter (the dot's output in the
    /// activations' dtype; the cast to fp32 follows on the shard).
    pub xla: bool,
}

impl Default for MemoryOptions {
    /// Korthikanti et al.'s accounting: scores stored, dropout on, 1 GiB fixed overhead.
    fn default() -> Self {
        MemoryOptions {
            flash_attention: false,
            dropout: true,
            fixed_overhead: 1024.0 * 1024.0 * 1024.0,
            grad_bytes: GRAD_BYTES,
            op_level_selective: false,
            offload_activation_layers: 0,
            recompute_mla_up_proj: false,
            xla: false,
        }
    }
}

impl MemoryOptions {
    /// MaxText on TPU: flash attention (splash kernel), no dropout, XLA's accounting (`xla`).
    pub fn maxtext() -> Self {
        MemoryOptions {
            flash_attention: true,
            dropout: false,
            xla: true,
            ..MemoryOptions::default()
        }
    }
}

/// Bytes of BF16 weights, FP32 gradients, Adam states.
const WEIGHT_BYTES: f64 = 2.0;
const FP8_COPY_BYTES: f64 = 1.0;
const GRAD_BYTES: f64 = 4.0;
const ADAM_BYTES: f64 = 12.0;
/// fp32 parameters under JAX/optax (MaxText `weight_dtype: float32`), which are also Adam's
/// master weights: of the 12 B of Adam's states 4 are the parameters themselves.
const XLA_PARAM_BYTES: f64 = 4.0;

/// Korthikanti et al.'s per-layer activation bytes for a GPT layer (the paper's closed form),
/// for `s` tokens, `b` sequences, hidden `h`, `a` heads, TP `t`.
pub fn korthikanti_layer_activations(
    s: f64,
    b: f64,
    h: f64,
    a: f64,
    t: f64,
    recompute: Recompute,
    sequence_parallel: bool,
) -> f64 {
    let sbh = s * b * h;
    match (recompute, sequence_parallel) {
        (Recompute::None, true) => sbh / t * (34.0 + 5.0 * a * s / h),
        (Recompute::None, false) => sbh * (10.0 + 24.0 / t + 5.0 * a * s / (h * t)),
        (Recompute::Selective, true) => sbh * 34.0 / t,
        (Recompute::Selective, false) => sbh * (10.0 + 24.0 / t),
        (Recompute::Full, true) => 2.0 * sbh / t,
        (Recompute::Full, false) => 2.0 * sbh,
    }
}

/// Activation bytes layer `layer` stores for one micro-batch of `b` sequences of `s` tokens
/// (per context-parallel rank: pass s/cp), generalising Korthikanti's terms (module notes), in
/// BF16 training.
#[allow(clippy::too_many_arguments)]
pub fn layer_activations(
    m: &ModelSpec,
    layer: u32,
    s: f64,
    b: f64,
    tp: f64,
    recompute: Recompute,
    sequence_parallel: bool,
    opts: &MemoryOptions,
) -> f64 {
    layer_activations_in(m, layer, s, b, tp, recompute, sequence_parallel, Precision::Bf16, opts)
}

/// `layer_activations` in the given precision. FP8 training (Transformer Engine) saves the
/// inputs of the linear layers for their weight gradients in their FP8 cast, 1 byte per
/// element instead of 2: the QKV input (first norm's output), the out-projection input, the
/// fc1 input (second norm's output; for MoE the permuted token copies) and the fc2 input. The
/// norm inputs, Q/K/V (the attention core's inputs), fc1's output (the activation function's
/// input) and the layer input kept under full recompute stay BF16.
#[allow(clippy::too_many_arguments)]
pub fn layer_activations_in(
    m: &ModelSpec,
    layer: u32,
    s: f64,
    b: f64,
    tp: f64,
    recompute: Recompute,
    sequence_parallel: bool,
    precision: Precision,
    opts: &MemoryOptions,
) -> f64 {
    // Bytes per element of a saved GEMM input.
    let gemm_in = if precision == Precision::Fp8 { 1.0 } else { 2.0 };
    let t = tp.max(1.0);
    let h = m.hidden as f64;
    let sbh = s * b * h;
    if recompute == Recompute::Full {
        return if sequence_parallel { 2.0 * sbh / t } else { 2.0 * sbh };
    }
    let a = m.heads as f64;
    let a_kv = m.kv_heads as f64;
    let d_qk = m.qk_head_dim() as f64;
    let d_v = m.v_head_dim() as f64;
    if recompute == Recompute::Selective && opts.op_level_selective {
        // torchtitan op-level SAC, per token in units of h: the block input (2, replicated),
        // wq's output, wv's output, SDPA's output and fp32 log-sum-exp, w1's output, and w2's
        // output when it is an odd (saved) matmul — gated: wq wk wv wo w1 w3 w2, w2 7th; ungated
        // w1 5th and w2 6th (recomputed).
        let ffn = match &m.moe {
            Some(moe) if m.layer_is_moe(layer) => moe.top_k as f64 * moe.expert_ffn as f64,
            _ => m.ffn as f64,
        };
        let w2_out = if m.gated_mlp { 2.0 } else { 0.0 };
        let split = (2.0 * a * d_qk + 2.0 * a_kv * d_v + 2.0 * a * d_v + 4.0 * a + 2.0 * ffn) / h + w2_out;
        let coeff = if sequence_parallel {
            (2.0 + split) / t
        } else {
            2.0 + split / t
        };
        return sbh * coeff;
    }
    if recompute == Recompute::Selective && opts.xla {
        // MaxText `minimal`, per token in units of h: the layer input (the scan carry), the
        // Q, K, V projections, the out-projection's output (with the carry, it recomputes the
        // second norm's input) and the MLP's input projections (wi_0, wi_1 when gated); the
        // attention core, norms, activation function and wo's output (not needed by the
        // backward) are not kept. MaxText shards all of them over the tensor axis.
        let ffn = match &m.moe {
            Some(moe) if m.layer_is_moe(layer) => moe.top_k as f64 * moe.expert_ffn as f64,
            _ => m.ffn as f64,
        };
        let up = if m.gated_mlp { 2.0 } else { 1.0 };
        let coeff = 2.0 + 2.0 * (a * d_qk + a_kv * (d_qk + d_v)) / h + 2.0 + 2.0 * up * ffn / h;
        return sbh * coeff / t;
    }
    let dropout = if opts.dropout { 1.0 } else { 0.0 };
    // Per-token bytes in units of h ("coefficients" of s·b·h).
    // Replicated across TP without SP: two norm inputs (4), the attention and MLP block inputs
    // (2 + 2), the dropout masks.
    let replicated = 4.0 + gemm_in + gemm_in + 2.0 * dropout;
    // Inside the TP region (split t ways): Q, K, V (recomputed from the latents when MLA's
    // up-projection is recomputed) and the out-projection input.
    let qkv = if opts.recompute_mla_up_proj && m.mla.is_some() {
        0.0
    } else {
        2.0 * (a * d_qk + a_kv * (d_qk + d_v)) / h
    };
    let mut split = qkv + gemm_in * a * d_v / h;
    if let Some(mla) = &m.mla {
        split += 2.0 * (mla.q_lora_rank + mla.kv_lora_rank + mla.qk_rope_head_dim) as f64 / h;
    }
    let up = if m.gated_mlp { 2.0 } else { 1.0 };
    let mlp = |ffn: f64| 2.0 * up * ffn / h + gemm_in * ffn / h;
    match &m.moe {
        Some(moe) if m.layer_is_moe(layer) => {
            let k = moe.top_k as f64;
            // Permuted token copies (expert fc1 inputs) and the experts' intermediates.
            split += gemm_in * k + k * mlp(moe.expert_ffn as f64);
            split += moe.shared_experts as f64 * mlp(moe.shared_ffn as f64);
        }
        _ => split += mlp(m.ffn as f64),
    }
    // Attention scores (softmax output 2, its dropout mask 1, dropout output 2: 5·a·s per token)
    // or, with flash attention, the fp32 log-sum-exp (4 bytes per head and token).
    let scores = if opts.flash_attention {
        4.0 * a / h
    } else {
        (2.0 + 3.0 * dropout) * a * s / h
    };
    let scores = if recompute == Recompute::Selective { 0.0 } else { scores };
    let coeff = if sequence_parallel {
        (replicated + split + scores) / t
    } else {
        replicated + (split + scores) / t
    };
    sbh * coeff
}

/// Memory of the rank on pipeline stage `stage` (0-based) under plan `p`.
pub fn memory_per_accel_stage(m: &ModelSpec, p: &ParallelPlan, stage: u32, opts: &MemoryOptions) -> MemoryBreakdown {
    let pp = p.pp.max(1);
    let tp = p.tp.max(1) as f64;
    let cp = p.cp.max(1) as f64;
    let ep = p.ep.max(1) as f64;
    let dp = p.dp.max(1) as f64;
    let stage = stage.min(pp - 1);
    let first = stage == 0;
    let last = stage == pp - 1;

    // Layers of this stage: its chunks' layers as the schedule runs them (the plan's split, or
    // an even one with the remainder on the first chunks).
    let stage_layers = p.stage_layers(m.layers, stage);

    // Parameters held: dense (sharded by TP) and expert (by EP × TP).
    let mut dense = 0.0;
    let mut expert = 0.0;
    let mut largest_layer: f64 = 0.0;
    for &layer in &stage_layers {
        let e = m.layer_expert_params(layer);
        let d = m.layer_params(layer) - e;
        dense += d / tp;
        expert += e / (ep * tp);
        largest_layer = largest_layer.max(d / tp + e / (ep * tp));
    }
    if first {
        dense += m.vocab as f64 * m.hidden as f64 / tp + m.pos_embeddings as f64 * m.hidden as f64;
    }
    if last {
        // The output layer (a copy of the tied embedding when the stages differ) and final norm.
        if !m.tied_embeddings || !first {
            dense += m.vocab as f64 * m.hidden as f64 / tp;
        }
        dense += m.norm_params(m.hidden);
        // Multi-token-prediction modules (DeepSeek-V3): a layer like the last, a 2h → h
        // projection and two norms each; embedding and output head shared.
        let l = m.layers.saturating_sub(1);
        let (e, d) = (m.layer_expert_params(l), m.layer_params(l) - m.layer_expert_params(l));
        let proj = 2.0 * m.hidden as f64 * m.hidden as f64 + 2.0 * m.norm_params(m.hidden);
        dense += m.mtp_layers as f64 * (d + proj) / tp;
        expert += m.mtp_layers as f64 * e / (ep * tp);
    }
    // HSDP (ZeRO-3 inside shard groups, replicated across them) shards over the shard group.
    let dense_dp = p.shard_group() as f64 * cp;
    let expert_dp = (dp * cp / ep).max(1.0);
    let shard = |stage_needed: u8, group: f64| if p.zero >= stage_needed { group } else { 1.0 };

    let weight_bytes = WEIGHT_BYTES
        + if p.precision == Precision::Fp8 {
            FP8_COPY_BYTES
        } else {
            0.0
        };
    let (weight_bytes, adam_bytes) = if opts.xla {
        (XLA_PARAM_BYTES, ADAM_BYTES - XLA_PARAM_BYTES)
    } else {
        (weight_bytes, ADAM_BYTES)
    };
    let weights = weight_bytes * (dense / shard(3, dense_dp) + expert / shard(3, expert_dp));
    let gradients = opts.grad_bytes * (dense / shard(2, dense_dp) + expert / shard(2, expert_dp));
    let optimizer = adam_bytes * (dense / shard(1, dense_dp) + expert / shard(1, expert_dp));

    // Activations.
    let s = (p.seq as f64 / cp).ceil();
    let b = p.mbs.max(1) as f64;
    let h = m.hidden as f64;
    let sp = p.sequence_parallel;
    let microbatches = p.microbatches().max(1) as f64;
    let vp = p.vp.max(1);
    let layer_bytes = |l: u32| layer_activations_in(m, l, s, b, tp, p.recompute, sp, p.precision, opts);
    // The first `offload_activation_layers` layers of the stage keep nothing on the device.
    let offloaded = opts.offload_activation_layers as usize;
    let kept = |l: &u32| stage_layers.iter().position(|x| x == l).is_none_or(|i| i >= offloaded);
    let per_mb: f64 = stage_layers.iter().filter(|l| kept(l)).map(|&l| layer_bytes(l)).sum();
    // Micro-batches in flight on this stage (1F1B: pp − stage; interleaved: Megatron's
    // warm-up, chunk by chunk).
    let in_flight_layers_factor = if vp > 1 && pp > 1 {
        let chunk_bytes: Vec<f64> = (0..vp)
            .map(|c| {
                p.chunk_layers(m.layers, c * pp + stage)
                    .filter(|l| kept(l))
                    .map(layer_bytes)
                    .sum()
            })
            .collect();
        let peak = interleaved_peak(pp, vp, stage, p.microbatches().max(1), &chunk_bytes);
        if per_mb > 0.0 {
            peak / per_mb
        } else {
            0.0
        }
    } else {
        ((pp - stage) as f64).min(microbatches)
    };
    let mut activations = per_mb * in_flight_layers_factor;
    let sp_div = if sp { tp } else { 1.0 };
    if first && opts.dropout {
        activations += s * b * h / sp_div * in_flight_layers_factor;
    }
    let logits_bf16 = if last { 2.0 * s * b * m.vocab as f64 / tp } else { 0.0 };
    if last {
        activations += 4.0 * s * b * h / sp_div + 4.0 * s * b * m.vocab as f64 / tp;
        // MTP modules: their layer's activations and a second set of logits.
        let l = m.layers.saturating_sub(1);
        let mtp = layer_activations_in(m, l, s, b, tp, p.recompute, sp, p.precision, opts) * in_flight_layers_factor
            + 4.0 * s * b * m.vocab as f64 / tp;
        activations += m.mtp_layers as f64 * mtp;
    }

    // Buffers: fixed + the largest transient.
    // One fp32 communication bucket (Megatron's default 40M elements); the gradient buffer
    // itself is counted in `gradients`.
    let bucket = opts.grad_bytes * 40e6f64;
    // ZeRO-3/FSDP: the gathered layer computing and the next one prefetched (prefetch depth 1),
    // and one layer's unsharded gradient waiting for its reduce-scatter.
    let zero3 = if p.zero >= 3 && opts.xla {
        (2.0 * WEIGHT_BYTES + WEIGHT_BYTES) * largest_layer
    } else if p.zero >= 3 {
        (2.0 * WEIGHT_BYTES + opts.grad_bytes) * largest_layer
    } else {
        0.0
    };
    let buffers = opts.fixed_overhead + bucket.max(zero3).max(logits_bf16);

    MemoryBreakdown {
        weights,
        gradients,
        optimizer,
        activations,
        buffers,
    }
}

/// Peak activation bytes that Megatron's interleaved 1F1B schedule holds on pipeline stage
/// `stage` with `vp` model chunks of `chunk_bytes[c]` bytes per micro-batch each, over `m`
/// micro-batches: the rank runs min(2·(pp−1−stage) + (vp−1)·pp, m·vp) warm-up forwards, then
/// one forward and one backward at a time, then the cool-down backwards
/// (`forward_backward_pipelining_with_interleaving`). Forward unit k runs chunk
/// (k mod pp·vp) / pp, backward unit j chunk vp − 1 − (j mod pp·vp) / pp. With equal chunks
/// the peak is (warm-up + 1) chunks, Korthikanti's 1 + (pp−1)/(pp·v) stages' worth on the first.
pub fn interleaved_peak(pp: u32, vp: u32, stage: u32, m: u32, chunk_bytes: &[f64]) -> f64 {
    let (pp, vp) = (pp.max(1) as u64, vp.max(1) as u64);
    let total = m.max(1) as u64 * vp;
    let warmup = (2 * (pp - 1 - (stage as u64).min(pp - 1)) + (vp - 1) * pp).min(total);
    let fwd = |k: u64| chunk_bytes[((k % (pp * vp)) / pp) as usize];
    let bwd = |j: u64| chunk_bytes[(vp - 1 - (j % (pp * vp)) / pp) as usize];
    let mut held: f64 = (0..warmup).map(fwd).sum();
    let mut peak = held;
    // The composition repeats with period pp·vp: two periods past the warm-up see the peak.
    let steady = (total - warmup).min(2 * pp * vp + 1);
    for i in 0..steady {
        held += fwd(warmup + i);
        peak = peak.max(held);
        held -= bwd(i);
    }
    peak
}

/// Memory of the most loaded rank (the largest total over every pipeline stage: the first
/// holds the most in-flight activations, the last the output layer and logits, and an uneven
/// split or dense-then-MoE layers can make a middle stage the heaviest), with Korthikanti et
/// al.'s activation accounting (`MemoryOptions::default()`).
pub fn memory_per_accel(m: &ModelSpec, p: &ParallelPlan) -> MemoryBreakdown {
    memory_per_accel_with(m, p, &MemoryOptions::default())
}

/// `memory_per_accel` with explicit options.
pub fn memory_per_accel_with(m: &ModelSpec, p: &ParallelPlan, opts: &MemoryOptions) -> MemoryBreakdown {
    heaviest_stage(m, p, opts).1
}

/// The pipeline stage with the largest memory total (the first of equals) and its memory.
pub fn heaviest_stage(m: &ModelSpec, p: &ParallelPlan, opts: &MemoryOptions) -> (u32, MemoryBreakdown) {
    let mut best = (0, memory_per_accel_stage(m, p, 0, opts));
    for s in 1..p.pp.max(1) {
        let b = memory_per_accel_stage(m, p, s, opts);
        if b.total() > best.1.total() {
            best = (s, b);
        }
    }
    best
}

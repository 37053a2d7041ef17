//! Training frameworks as a few physical parameters (`--framework`): the same model runs
//! differently under Megatron-Core with Transformer Engine, PyTorch eager (torchtitan),
//! torch.compile (torchtitan with `--compile`) and JAX/XLA (MaxText). A profile says which
//! kernels the framework fuses, which attention kernel it calls, how its optimizer steps, how it
//! recomputes under selective checkpointing and whether it overlaps communication — each from
//! the framework's documented behaviour (sources beside each profile), never fitted.
//!
//! What a profile changes, and only that:
//! - **unfused elementwise ops** are priced as the kernels eager PyTorch launches, each a
//!   memory-bound op at the measured elementwise bandwidth (testdata/h100-kernels/memory.csv):
//!   RMSNorm/LayerNorm composed of fp32 upcast, pow, mean, mul, downcast, weight-mul
//!   ([`EAGER_NORM_BYTES_PER_ELEMENT`]); rotary embedding via complex multiply
//!   ([`EAGER_ROPE_BYTES_PER_ELEMENT`]); SwiGLU as silu + mul at the measured eager fraction
//!   ([`EAGER_SWIGLU_HBM_FRACTION`]);
//! - **attention backend**: cuDNN fused attention (Transformer Engine on Hopper) or
//!   FlashAttention-2 (`F.scaled_dot_product_attention`'s default on H100 in PyTorch 2.5/2.6),
//!   each with its measured rule; on accelerators other than Hopper the primary rule is kept
//!   (FlashAttention-2 is Ampere-tuned: 50–73 % of A100 peak, Dao 2023, §4.1); or, for rows
//!   measured before FlashAttention (`validate --training`, fabricsim's `validate_era`),
//!   unfused attention: the score GEMMs and softmax/dropout passes ([`unfused_attention_ops`]);
//! - **host dispatch floor**: an eager kernel takes at least the host's per-call dispatch time
//!   ([`EAGER_HOST_DISPATCH_S`], measured); XLA launches one compiled program (no floor);
//! - **FP8 casts**: every FP8 GEMM input and output-gradient is cast (and transposed) by a
//!   memory-bound kernel (Transformer Engine `cast_transpose`, torchao float8), [`FP8_CAST_BYTES_PER_ELEMENT`];
//! - **optimizer**: fused AdamW (one kernel, 28 B/param) or foreach AdamW (eight passes,
//!   [`FOREACH_ADAMW_BYTES_PER_PARAM`]);
//! - **selective recompute**: the attention core (Megatron, Korthikanti et al.) or torchtitan's
//!   op-level policy (save every matmul output except every second one, recompute all other
//!   ops);
//! - **overlap**: ZeRO-3/FSDP gathers and reduce-scatters overlapped with the layers'
//!   compute (prefetch) or not; tensor-parallel communication overlapped with GEMMs by default.

use crate::compute::ComputeModel;
use crate::flops::{MemoryOp, OpDesc, OpKind};
use crate::model::ModelSpec;
use crate::plan::Precision;

/// A training framework (`--framework`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framework {
    /// Megatron-Core with Transformer Engine (NeMo, Megatron-Bridge, Megatron-LM).
    Megatron,
    /// torchtitan (PyTorch eager, FSDP2).
    Torchtitan,
    /// torchtitan with `torch.compile` per transformer block.
    TorchtitanCompile,
    /// MaxText (JAX/XLA).
    Maxtext,
}

/// Names `--framework` accepts, in order.
pub const FRAMEWORK_NAMES: [&str; 4] = ["megatron", "torchtitan", "torchtitan-compile", "maxtext"];

impl Framework {
    /// Parse a `--framework` value.
    pub fn parse(s: &str) -> Result<Framework, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "megatron" => Ok(Framework::Megatron),
            "torchtitan" => Ok(Framework::Torchtitan),
            "torchtitan-compile" => Ok(Framework::TorchtitanCompile),
            "maxtext" => Ok(Framework::Maxtext),
            other => Err(format!(
                "--framework (or `framework` in the scenario's [training]): unknown framework `{other}` (valid: {})",
                FRAMEWORK_NAMES.join(", ")
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Framework::Megatron => "megatron",
            Framework::Torchtitan => "torchtitan",
            Framework::TorchtitanCompile => "torchtitan-compile",
            Framework::Maxtext => "maxtext",
        }
    }

    /// The default framework of an accelerator: MaxText on TPUs, Megatron elsewhere.
    pub fn default_for(accel: &str) -> Framework {
        if accel.to_ascii_lowercase().contains("tpu") {
            Framework::Maxtext
        } else {
            Framework::Megatron
        }
    }

    /// The framework's profile.
    pub fn profile(self) -> FrameworkProfile {
        FrameworkProfile::of(self)
    }
}

/// Which attention kernel the framework calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionBackend {
    /// cuDNN fused attention (Transformer Engine's default on Hopper).
    Cudnn,
    /// FlashAttention-2 (PyTorch SDPA's flash backend).
    Flash,
    /// Megatron-LM's core attention before FlashAttention (2021–2022: `CoreAttention` in
    /// megatron/model/transformer.py): `baddbmm` Q·Kᵀ writing the full s×s scores, the fused
    /// `scaled_upper_triang_masked_softmax` kernel, attention dropout, `bmm` with V. The scores
    /// go through HBM and the causal half is computed, not skipped ([`unfused_attention_ops`]).
    Unfused,
}

/// What selective activation checkpointing recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectiveAc {
    /// The attention core only (Megatron `--recompute-granularity selective`).
    AttentionCore,
    /// torchtitan `selective_ac_option = "op"`: every op except matmul outputs (every second
    /// matmul recomputed) and SDPA.
    EveryOtherMatmul,
}

/// The physical parameters of a framework (module notes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameworkProfile {
    pub framework: Framework,
    /// Minimum time of one kernel: the host's per-call dispatch (0 when compiled to one program).
    pub host_dispatch_s: f64,
    /// RMSNorm/LayerNorm as one fused kernel.
    pub fused_norm: bool,
    /// Rotary embedding as one fused kernel.
    pub fused_rope: bool,
    /// Gated activation (SwiGLU) as one fused kernel.
    pub fused_activation: bool,
    /// FP8 casts fused into the neighbouring kernels (norm output, compiled graphs).
    pub fused_fp8_cast: bool,
    pub attention: AttentionBackend,
    /// Fused AdamW (one kernel) rather than foreach (one kernel per pass).
    pub fused_optimizer: bool,
    pub selective_ac: SelectiveAc,
    /// ZeRO-3/FSDP parameter gathers prefetched one layer ahead and gradient reduce-scatters
    /// overlapped with the backward (Megatron `--overlap-param-gather --overlap-grad-reduce`,
    /// FSDP2 prefetch, XLA's latency-hiding scheduler).
    pub overlap_comm: bool,
    /// Tensor-parallel collectives overlapped with the GEMMs without being asked (XLA's
    /// collective-matmul scheduling); otherwise only with `--tp-comm-overlap` / AsyncTP.
    pub tp_comm_overlap: bool,
}

/// Per-call host dispatch floor of eager PyTorch kernels, seconds: the H100 kernel measurements
/// found kernels shorter than ~17 µs timed at the host's dispatch floor
/// (testdata/h100-kernels/README.md, "Method").
pub const EAGER_HOST_DISPATCH_S: f64 = 17e-6;
/// HBM bytes per element of eager RMSNorm in PyTorch 2.5 (`torch.nn.RMSNorm` composite,
/// aten/src/ATen/native/layer_norm.cpp `rms_norm`): upcast to fp32 (2 r + 4 w), pow (4 + 4),
/// mean (4 r), multiply by the reciprocal (4 + 4), downcast (4 + 2), weight multiply (2 + 2).
pub const EAGER_NORM_BYTES_PER_ELEMENT: f64 = 36.0;
/// Kernels of an eager RMSNorm (the six passes above).
pub const EAGER_NORM_KERNELS: f64 = 6.0;
/// HBM bytes per element of a fused norm (read, write BF16): what `flops::layer_ops` counts.
pub const FUSED_NORM_BYTES_PER_ELEMENT: f64 = 4.0;
/// Rotary embedding over the query and key elements. Fused (Transformer Engine
/// `fused_apply_rotary_pos_emb`, Inductor): read and write BF16, 4 B. Eager (torchtitan
/// `apply_rotary_emb`: `.float()` 2 + 4, complex multiply 4 + 4, `type_as` 4 + 2): 20 B in
/// three kernels.
pub const FUSED_ROPE_BYTES_PER_ELEMENT: f64 = 4.0;
pub const EAGER_ROPE_BYTES_PER_ELEMENT: f64 = 20.0;
pub const EAGER_ROPE_KERNELS: f64 = 3.0;
/// Achieved HBM fraction of eager SwiGLU (`F.silu(a) * b`, counted as 3 × 2 B per output
/// element): 0.3145–0.3222 on the six measured shapes (testdata/h100-kernels/memory.csv,
/// `swiglu_fwd_eager`), median 0.32.
pub const EAGER_SWIGLU_HBM_FRACTION: f64 = 0.32;
/// HBM bytes per element of an FP8 cast with transpose (Transformer Engine `cast_transpose`:
/// read BF16 2, write FP8 1 and its transpose 1).
pub const FP8_CAST_BYTES_PER_ELEMENT: f64 = 4.0;
/// HBM bytes per parameter of PyTorch's foreach AdamW (`_multi_tensor_adamw`, fp32 state):
/// weight decay mul (8), lerp of exp_avg (12), mul and addcmul of exp_avg_sq (8 + 12), sqrt,
/// div, add (3 × 8), addcdiv into the parameter (16) = 80 B, against the fused kernel's 28.
pub const FOREACH_ADAMW_BYTES_PER_PARAM: f64 = 80.0;
/// HBM bytes per parameter of the fused AdamW step (the measured `adamw_fused_fp32_step`).
pub const FUSED_ADAMW_BYTES_PER_PARAM: f64 = 28.0;
/// HBM bytes per attention score element of unfused attention's memory-bound kernels, FP16/BF16
/// scores (Megatron-LM `CoreAttention`, 2021–2022). Forward: fused scale-mask-softmax reads and
/// writes the scores (2 + 2), dropout reads them and writes its output and a one-byte mask
/// (2 + 2 + 1) = 9 B. Backward: dropout backward reads the gradient and the mask and writes
/// (2 + 1 + 2), softmax backward reads the gradient and the saved probabilities and writes
/// (2 + 2 + 2) = 11 B. The batched GEMMs' own reads and writes of the scores are in their bytes.
pub const UNFUSED_ATTENTION_FWD_BYTES_PER_SCORE: f64 = 9.0;
pub const UNFUSED_ATTENTION_BWD_BYTES_PER_SCORE: f64 = 11.0;

impl FrameworkProfile {
    /// The documented profile of `framework`.
    pub fn of(framework: Framework) -> FrameworkProfile {
        match framework {
            // Megatron-Core + Transformer Engine: TE LayerNormLinear / fused RMSNorm, fused RoPE
            // (`--apply-rope-fusion`), fused bias-SwiGLU (`--bias-swiglu-fusion`), cuDNN fused
            // attention on Hopper, FusedAdam (Apex/TE), distributed optimizer with
            // `--overlap-grad-reduce --overlap-param-gather` in NeMo/Megatron-Bridge recipes;
            // TP overlap only with `--tp-comm-overlap`. Eager launches (no CUDA graphs in the
            // recipes of the rows).
            Framework::Megatron => FrameworkProfile {
                framework,
                host_dispatch_s: EAGER_HOST_DISPATCH_S,
                fused_norm: true,
                fused_rope: true,
                fused_activation: true,
                fused_fp8_cast: false,
                attention: AttentionBackend::Cudnn,
                fused_optimizer: true,
                selective_ac: SelectiveAc::AttentionCore,
                overlap_comm: true,
                tp_comm_overlap: false,
            },
            // torchtitan (Dec 2024, torchtitan 9dec370, PyTorch nightly 2024-12-23): eager
            // `nn.RMSNorm` (norm_type = "rmsnorm"), complex-multiply RoPE, `F.silu(w1(x)) *
            // w3(x)`, SDPA (flash backend on H100), AdamW with `fused = false` (foreach),
            // selective AC option "op" (train_configs/llama3_8b.toml); FSDP2 prefetches the
            // next block's all-gather and overlaps reduce-scatter; AsyncTP opt-in.
            Framework::Torchtitan => FrameworkProfile {
                framework,
                host_dispatch_s: EAGER_HOST_DISPATCH_S,
                fused_norm: false,
                fused_rope: false,
                fused_activation: false,
                fused_fp8_cast: false,
                attention: AttentionBackend::Flash,
                fused_optimizer: false,
                selective_ac: SelectiveAc::EveryOtherMatmul,
                overlap_comm: true,
                tp_comm_overlap: false,
            },
            // torchtitan with `compile = true`: Inductor compiles each transformer block,
            // fusing norms, RoPE, SwiGLU and float8 casts into Triton kernels; SDPA and matmuls
            // stay library calls; optimizer as above.
            Framework::TorchtitanCompile => FrameworkProfile {
                framework,
                fused_norm: true,
                fused_rope: true,
                fused_activation: true,
                fused_fp8_cast: true,
                ..FrameworkProfile::of(Framework::Torchtitan)
            },
            // MaxText: one XLA program (no host dispatch per kernel), XLA fusion of every
            // elementwise chain, fused optimizer update, latency-hiding scheduler overlapping
            // collectives with compute (collective matmul for TP).
            Framework::Maxtext => FrameworkProfile {
                framework,
                host_dispatch_s: 0.0,
                fused_norm: true,
                fused_rope: true,
                fused_activation: true,
                fused_fp8_cast: true,
                attention: AttentionBackend::Cudnn,
                fused_optimizer: true,
                selective_ac: SelectiveAc::AttentionCore,
                overlap_comm: true,
                tp_comm_overlap: true,
            },
        }
    }

    /// The forward kernels the framework runs for a layer's forward op list (`flops::layer_ops`
    /// counts fused kernels): eager norms and activations repriced, rotary embedding added for
    /// models without learned positions, FP8 casts added for FP8 GEMMs. `tp` as in the list.
    pub fn forward_ops(
        &self,
        model: &ModelSpec,
        ops: &[OpDesc],
        precision: Precision,
        cm: &ComputeModel,
    ) -> Vec<OpDesc> {
        let mut out = Vec::with_capacity(ops.len() + 4);
        for op in ops {
            match (&op.kind, op.name) {
                (OpKind::Memory { what: MemoryOp::Norm }, _) if !self.fused_norm => {
                    // Eager norm: six elementwise kernels moving 36 B/element instead of 4.
                    let per_kernel =
                        op.bytes * EAGER_NORM_BYTES_PER_ELEMENT / FUSED_NORM_BYTES_PER_ELEMENT / EAGER_NORM_KERNELS;
                    for _ in 0..EAGER_NORM_KERNELS as usize {
                        out.push(memory(op.name, MemoryOp::Elementwise, per_kernel));
                    }
                }
                (
                    OpKind::Memory {
                        what: MemoryOp::Elementwise,
                    },
                    "act" | "expert_act" | "shared_act",
                ) if !self.fused_activation && model.gated_mlp => {
                    // Eager SwiGLU at its measured fraction of HBM, as bytes at the
                    // elementwise fraction.
                    let scale = cm.table.memory.elementwise / EAGER_SWIGLU_HBM_FRACTION;
                    out.push(memory(op.name, MemoryOp::Elementwise, op.bytes * scale / 2.0));
                    out.push(memory(op.name, MemoryOp::Elementwise, op.bytes * scale / 2.0));
                }
                (
                    OpKind::Attention {
                        batch,
                        heads,
                        kv_heads,
                        seq_q,
                        head_dim_qk,
                        ..
                    },
                    _,
                ) => {
                    if model.pos_embeddings == 0 && model.mla.is_none() {
                        // Rotary embedding on the rank's query and key heads.
                        let elems = (*batch * *seq_q * (*heads + *kv_heads) * *head_dim_qk) as f64;
                        if self.fused_rope {
                            out.push(memory(
                                "rope",
                                MemoryOp::Elementwise,
                                elems * FUSED_ROPE_BYTES_PER_ELEMENT,
                            ));
                        } else {
                            let per = elems * EAGER_ROPE_BYTES_PER_ELEMENT / EAGER_ROPE_KERNELS;
                            for _ in 0..EAGER_ROPE_KERNELS as usize {
                                out.push(memory("rope", MemoryOp::Elementwise, per));
                            }
                        }
                    }
                    out.push(op.clone());
                }
                (OpKind::Gemm { m, k, .. }, name) if precision == Precision::Fp8 && !self.fused_fp8_cast => {
                    // The GEMM's input cast (the norm-fed qkv/fc1 inputs come out of the
                    // fused norm in FP8 already, as Transformer Engine's LayerNormLinear does).
                    if !matches!(name, "qkv" | "fc1" | "q_down" | "q_proj" | "kv_down" | "router") {
                        out.push(memory(
                            "fp8_cast",
                            MemoryOp::Copy,
                            (*m * *k) as f64 * FP8_CAST_BYTES_PER_ELEMENT,
                        ));
                    }
                    out.push(op.clone());
                }
                _ => out.push(op.clone()),
            }
        }
        out
    }

    /// FP8 casts of the output gradients the backward of `fwd` adds (one per FP8 GEMM).
    pub fn backward_extra(&self, fwd: &[OpDesc], precision: Precision) -> Vec<OpDesc> {
        if precision != Precision::Fp8 || self.fused_fp8_cast {
            return Vec::new();
        }
        fwd.iter()
            .filter_map(|op| match op.kind {
                OpKind::Gemm { m, n, .. } if op.name != "router" => Some(memory(
                    "fp8_cast_grad",
                    MemoryOp::Copy,
                    (m * n) as f64 * FP8_CAST_BYTES_PER_ELEMENT,
                )),
                _ => None,
            })
            .collect()
    }

    /// Seconds of one kernel under this framework: the attention backend's rule for attention
    /// (on Hopper), the compute model otherwise, never below the host dispatch floor.
    pub fn op_time(&self, cm: &ComputeModel, op: &OpDesc, precision: Precision) -> f64 {
        let t = match (&op.kind, self.attention, &cm.table.attention_alt) {
            (
                OpKind::Attention {
                    batch,
                    heads,
                    seq_q,
                    seq_kv,
                    head_dim_qk,
                    head_dim_v,
                    backward,
                    ..
                },
                AttentionBackend::Flash,
                Some(alt),
            ) if alt.backend == "flash" && is_hopper(&cm.accel.name) => {
                // As `ComputeModel::op_time` for attention, with the FlashAttention-2 rule.
                let rule = if *backward { &alt.bwd } else { &alt.fwd };
                let eff = rule.efficiency(
                    *batch as f64,
                    *heads as f64,
                    *seq_q as f64,
                    *seq_kv as f64,
                    *head_dim_qk as f64,
                    *head_dim_v as f64,
                );
                let compute = if op.flops <= 0.0 {
                    0.0
                } else if eff > 0.0 {
                    op.flops / (cm.accel.peak_bf16 * eff)
                } else {
                    f64::INFINITY
                };
                compute.max(op.bytes.max(0.0) / cm.accel.hbm_bw) + cm.kernel_overhead_s
            }
            (OpKind::Attention { .. }, AttentionBackend::Unfused, _) => unfused_attention_ops(&op.kind)
                .iter()
                .map(|o| cm.op_time(o, precision).max(self.host_dispatch_s))
                .sum(),
            _ => cm.op_time(op, precision),
        };
        t.max(self.host_dispatch_s)
    }

    /// How the profile was set (the report's `assumed` line): documented behaviour only; a
    /// framework whose validation rows come from a single source says so (docs/calibration.md).
    pub fn provenance(&self) -> &'static str {
        match self.framework {
            Framework::Megatron => "documented profile, nothing fitted",
            Framework::Torchtitan => "documented profile, nothing fitted (rows from two sources)",
            Framework::TorchtitanCompile => {
                "rows from a single source (torchtitan Dec-2024 benchmarks): documented defaults, nothing fitted"
            }
            Framework::Maxtext => "documented defaults, nothing fitted",
        }
    }

    /// Bytes the optimizer step moves per parameter.
    pub fn optimizer_bytes_per_param(&self) -> f64 {
        if self.fused_optimizer {
            FUSED_ADAMW_BYTES_PER_PARAM
        } else {
            FOREACH_ADAMW_BYTES_PER_PARAM
        }
    }

    /// Fraction of the forward GEMM FLOPs of a layer that torchtitan's op-level selective AC
    /// recomputes, per fused op of `flops::layer_ops`: its matmuls in module order (wq, wk, wv,
    /// wo, w1, w3, w2; or w1, w2 ungated), every second one recomputed (wk, wo, w3 / wk, wo,
    /// w2). `None` for ops that are not matmuls of a dense layer.
    pub fn op_ac_gemm_share(model: &ModelSpec, name: &str) -> Option<f64> {
        let hq = model.heads as f64;
        let hk = model.kv_heads as f64;
        match name {
            // wk of the fused wq|wk|wv.
            "qkv" => Some(hk / (hq + 2.0 * hk)),
            "attn_out" => Some(1.0),
            // w3 of the fused w1|w3; ungated: w1 is the 5th matmul (saved).
            "fc1" => Some(if model.gated_mlp { 0.5 } else { 0.0 }),
            // w2 is the 7th matmul gated (saved), the 6th ungated (recomputed).
            "fc2" => Some(if model.gated_mlp { 0.0 } else { 1.0 }),
            _ => None,
        }
    }
}

/// The kernels unfused attention runs for one attention op ([`AttentionBackend::Unfused`]): the
/// batched GEMMs over every (batch, head) — full s_q × s_kv scores, the causal mask applied after
/// Q·Kᵀ — as GEMMs of M = batch·heads·rows, and the memory-bound softmax and dropout passes over
/// the scores. Forward: S = Q·Kᵀ, softmax + dropout, O = P·V. Backward: dP = dO·Vᵀ, dV = Pᵀ·dO,
/// dropout and softmax backward, dQ = dS·K, dK = dSᵀ·Q. Empty for other ops.
pub fn unfused_attention_ops(kind: &OpKind) -> Vec<OpDesc> {
    use crate::flops::Pass;
    let OpKind::Attention {
        batch,
        heads,
        seq_q,
        seq_kv,
        head_dim_qk,
        head_dim_v,
        backward,
        ..
    } = *kind
    else {
        return Vec::new();
    };
    let bh = batch * heads;
    let g = |name: &'static str, m: u64, n: u64, k: u64, pass: Pass| {
        let (mf, nf, kf) = (m as f64, n as f64, k as f64);
        OpDesc {
            name,
            kind: OpKind::Gemm { m, n, k, pass },
            flops: 2.0 * mf * nf * kf,
            bytes: 2.0 * (mf * kf + kf * nf + mf * nf),
        }
    };
    let scores = (bh * seq_q * seq_kv) as f64;
    if !backward {
        vec![
            g("attn_scores", bh * seq_q, seq_kv, head_dim_qk, Pass::Fwd),
            memory(
                "attn_softmax_dropout",
                MemoryOp::Elementwise,
                UNFUSED_ATTENTION_FWD_BYTES_PER_SCORE * scores,
            ),
            g("attn_context", bh * seq_q, head_dim_v, seq_kv, Pass::Fwd),
        ]
    } else {
        vec![
            g("attn_dprobs", bh * seq_q, seq_kv, head_dim_v, Pass::Dgrad),
            g("attn_dv", bh * seq_kv, head_dim_v, seq_q, Pass::Wgrad),
            memory(
                "attn_softmax_dropout_bwd",
                MemoryOp::Elementwise,
                UNFUSED_ATTENTION_BWD_BYTES_PER_SCORE * scores,
            ),
            g("attn_dq", bh * seq_q, head_dim_qk, seq_kv, Pass::Dgrad),
            g("attn_dk", bh * seq_kv, head_dim_qk, seq_q, Pass::Wgrad),
        ]
    }
}

fn memory(name: &'static str, what: MemoryOp, bytes: f64) -> OpDesc {
    OpDesc {
        name,
        kind: OpKind::Memory { what },
        flops: 0.0,
        bytes,
    }
}

/// Whether a compute model's accelerator is a Hopper part (the measured FlashAttention-2 rule
/// applies there; elsewhere the primary rule stands for the framework's attention).
fn is_hopper(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    l.contains("h100") || l.contains("h800") || l.contains("h20") || l.contains("h200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_defaults() {
        for n in FRAMEWORK_NAMES {
            assert_eq!(Framework::parse(n).unwrap().name(), n);
        }
        let e = Framework::parse("deepspeed").unwrap_err();
        assert!(e.contains("--framework") && e.contains("torchtitan-compile"), "{e}");
        assert_eq!(Framework::default_for("tpu-v5p"), Framework::Maxtext);
        assert_eq!(Framework::default_for("h100"), Framework::Megatron);
    }

    #[test]
    fn eager_norm_moves_nine_times_the_bytes() {
        let cm = ComputeModel::h100();
        let m = crate::registry::lookup("llama-3.1-8b").unwrap();
        let ops = crate::flops::layer_ops(&m, 0, 1, 8192, 1, 1, 1, false);
        let fused = Framework::Megatron
            .profile()
            .forward_ops(&m, &ops, Precision::Bf16, &cm);
        let eager = Framework::Torchtitan
            .profile()
            .forward_ops(&m, &ops, Precision::Bf16, &cm);
        let bytes = |l: &[OpDesc], name: &str| -> f64 { l.iter().filter(|o| o.name == name).map(|o| o.bytes).sum() };
        assert!((bytes(&eager, "norm_attn") / bytes(&fused, "norm_attn") - 9.0).abs() < 1e-12);
        assert!((bytes(&eager, "rope") / bytes(&fused, "rope") - 5.0).abs() < 1e-12);
        // Compile fuses them back.
        let compiled = Framework::TorchtitanCompile
            .profile()
            .forward_ops(&m, &ops, Precision::Bf16, &cm);
        assert_eq!(bytes(&compiled, "norm_attn"), bytes(&fused, "norm_attn"));
    }

    /// FlashAttention-2 is priced with its own measured rule on Hopper, the same as pricing with
    /// a table whose primary rule is FA2; elsewhere the primary rule stands.
    /// Unfused attention (Megatron-LM before FlashAttention): full s×s score GEMMs and the
    /// softmax/dropout passes through HBM, slower than the fused kernel, more so at small
    /// hidden sizes.
    #[test]
    fn unfused_attention_materialises_the_scores() {
        let m = crate::registry::lookup("llama-3.1-8b").unwrap();
        let ops = crate::flops::layer_ops(&m, 0, 1, 2048, 1, 1, 1, false);
        let attn = ops.iter().find(|o| o.name == "attention").unwrap();
        let f = unfused_attention_ops(&attn.kind);
        assert_eq!(f.len(), 3);
        // Q·Kᵀ and P·V over all s² scores: 4·heads·s²·d, twice the causal count.
        let gemm_flops: f64 = f.iter().map(|o| o.flops).sum();
        assert!((gemm_flops / (4.0 * 32.0 * 2048.0 * 2048.0 * 128.0) - 1.0).abs() < 1e-12);
        let sm = f.iter().find(|o| o.name == "attn_softmax_dropout").unwrap();
        assert_eq!(sm.bytes, UNFUSED_ATTENTION_FWD_BYTES_PER_SCORE * 32.0 * 2048.0 * 2048.0);
        let back = crate::flops::backward_ops(&ops);
        let battn = back
            .iter()
            .find(|o| matches!(o.kind, OpKind::Attention { .. }))
            .unwrap();
        assert_eq!(unfused_attention_ops(&battn.kind).len(), 5);
        let qkv = ops.iter().find(|o| o.name == "qkv").unwrap();
        assert!(unfused_attention_ops(&qkv.kind).is_empty());
        let a100 = ComputeModel::from_peaks("NVIDIA A100 SXM4 80GB", 312e12, None, 2.039e12);
        let fused = Framework::Megatron.profile();
        let unfused = FrameworkProfile {
            attention: AttentionBackend::Unfused,
            ..fused
        };
        for op in [attn, battn] {
            assert!(unfused.op_time(&a100, op, Precision::Bf16) > 1.5 * fused.op_time(&a100, op, Precision::Bf16));
        }
    }

    #[test]
    fn flash_attention_rule_on_hopper_only() {
        let m = crate::registry::lookup("llama-3.1-8b").unwrap();
        let ops = crate::flops::layer_ops(&m, 0, 1, 8192, 1, 1, 1, false);
        let attn = ops.iter().find(|o| o.name == "attention").unwrap();
        let cm = ComputeModel::h100();
        let mut fa2 = cm.clone();
        fa2.table.attention = cm.table.attention_alt.clone().unwrap();
        let tt = Framework::Torchtitan.profile();
        let t = tt.op_time(&cm, attn, Precision::Bf16);
        assert!((t / fa2.op_time(attn, Precision::Bf16) - 1.0).abs() < 1e-12);
        assert!(
            t > cm.op_time(attn, Precision::Bf16) * 1.5,
            "FA2 is slower than cuDNN on H100"
        );
        let a100 = ComputeModel::from_peaks("NVIDIA A100 SXM4 80GB", 312e12, None, 2.039e12);
        assert_eq!(
            tt.op_time(&a100, attn, Precision::Bf16),
            a100.op_time(attn, Precision::Bf16)
        );
    }
}

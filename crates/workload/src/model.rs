//! Transformer specifications and their parameter counts.

use crate::WorkloadError;

/// Mixture-of-experts part of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub experts: u32,
    /// Experts each token is routed to.
    pub top_k: u32,
    /// FFN (intermediate) size of one routed expert.
    pub expert_ffn: u64,
    /// Always-active shared experts (each of `shared_ffn` intermediate size).
    pub shared_experts: u32,
    pub shared_ffn: u64,
    /// Leading layers that are dense (use `ModelSpec::ffn`) instead of MoE.
    pub dense_layers: u32,
}

/// Multi-head latent attention (DeepSeek-V2/V3).
#[derive(Debug, Clone, PartialEq)]
pub struct Mla {
    /// Query low-rank dimension (0 = no query compression).
    pub q_lora_rank: u64,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
}

/// Normalisation layer kind (LayerNorm has a weight and a bias, RMSNorm only a weight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Norm {
    LayerNorm,
    #[default]
    RmsNorm,
}

/// A decoder-only transformer.
///
/// For MLA models `head_dim` is the query/key head dimension (`qk_nope_head_dim +
/// qk_rope_head_dim`) and `kv_heads == heads`; the projections are described by `mla`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Registry name (lowercase, hyphenated).
    pub name: String,
    pub layers: u32,
    pub hidden: u64,
    /// Query heads and key/value heads (GQA when fewer).
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u64,
    /// Dense FFN intermediate size.
    pub ffn: u64,
    /// Gated MLP (SwiGLU: gate and up projections) rather than a plain two-matrix MLP.
    pub gated_mlp: bool,
    pub vocab: u64,
    pub tied_embeddings: bool,
    pub moe: Option<Moe>,
    pub mla: Option<Mla>,
    /// Multi-token-prediction modules (DeepSeek-V3: 1, `num_nextn_predict_layers`), each a
    /// projection of 2h → h, one transformer layer like the last and the shared output head
    /// again. Outside `params()` (DeepSeek-V3's 671B / 37B active exclude them); priced on the
    /// last pipeline stage (`fabricsim::train::moe`).
    pub mtp_layers: u32,
    /// Longest trained context (informational).
    pub max_seq: u64,
    /// Learned absolute position embeddings (rows of the table; 0 = RoPE/ALiBi, no parameters).
    pub pos_embeddings: u64,
    /// Biases on every linear layer (GPT-2/3, BLOOM, OPT, Megatron GPT defaults).
    pub linear_bias: bool,
    /// Biases on the query/key/value projections only (Qwen2, Llama `attention_bias`).
    pub qkv_bias: bool,
    pub norm: Norm,
}

impl Default for ModelSpec {
    /// An empty (invalid) Llama-style spec, for `..Default::default()` in literals.
    fn default() -> Self {
        ModelSpec {
            name: String::new(),
            layers: 0,
            hidden: 0,
            heads: 0,
            kv_heads: 0,
            head_dim: 0,
            ffn: 0,
            gated_mlp: true,
            vocab: 0,
            tied_embeddings: false,
            moe: None,
            mla: None,
            mtp_layers: 0,
            max_seq: 0,
            pos_embeddings: 0,
            linear_bias: false,
            qkv_bias: false,
            norm: Norm::RmsNorm,
        }
    }
}

/// Largest parameter count `validate` accepts.
pub const MAX_PARAMS: f64 = 1e15;
/// Most layers a model may have (the largest published models have a few hundred; a step's cost
/// grows with layers, so this bounds the run time).
pub const MAX_LAYERS: u64 = 10_000;
/// Widest hidden or head dimension accepted (2^20; published models stay below 2^17); FFN
/// widths may be 4 × this.
pub const MAX_WIDTH: u64 = 1 << 20;
/// Most attention heads accepted.
pub const MAX_HEADS: u64 = 1 << 16;
/// Largest vocabulary accepted (2^24).
pub const MAX_VOCAB: u64 = 1 << 24;
/// Most experts per MoE layer accepted.
pub const MAX_EXPERTS: u64 = 1 << 16;

impl ModelSpec {
    /// A GPT-2/3-style model as Megatron-LM builds it: FFN 4h, GELU (not gated), multi-head
    /// attention (`kv_heads = heads`), LayerNorm, biases, learned position embeddings for `seq`
    /// positions, untied output layer, vocabulary 51,200 (GPT-2 BPE padded) when 0 is given.
    /// `head_dim = hidden / heads` (0, which `validate` rejects, when heads do not divide hidden).
    pub fn gpt(name: &str, layers: u32, hidden: u64, heads: u32, vocab: u64, seq: u64) -> ModelSpec {
        let head_dim = if heads > 0 && hidden % heads as u64 == 0 {
            hidden / heads as u64
        } else {
            0
        };
        ModelSpec {
            name: name.to_string(),
            layers,
            hidden,
            heads,
            kv_heads: heads,
            head_dim,
            // Saturating: an absurd hidden size is reported as such by `validate`, not as a
            // wrapped-around ffn.
            ffn: hidden.saturating_mul(4),
            gated_mlp: false,
            vocab: if vocab == 0 { 51_200 } else { vocab },
            tied_embeddings: false,
            moe: None,
            mla: None,
            mtp_layers: 0,
            max_seq: seq,
            pos_embeddings: seq,
            linear_bias: true,
            qkv_bias: false,
            norm: Norm::LayerNorm,
        }
    }

    pub fn is_moe(&self) -> bool {
        self.moe.is_some()
    }

    /// Whether layer `layer` (0-based) has a routed-expert FFN (MoE models: all but the first
    /// `dense_layers`).
    pub fn layer_is_moe(&self, layer: u32) -> bool {
        match &self.moe {
            Some(moe) => layer >= moe.dense_layers,
            None => false,
        }
    }

    /// Layers whose FFN is routed experts.
    pub fn moe_layers(&self) -> u32 {
        match &self.moe {
            Some(moe) => self.layers.saturating_sub(moe.dense_layers),
            None => 0,
        }
    }

    /// Parameters of one normalisation over `dim` features.
    pub fn norm_params(&self, dim: u64) -> f64 {
        match self.norm {
            Norm::LayerNorm => 2.0 * dim as f64,
            Norm::RmsNorm => dim as f64,
        }
    }

    /// Query-head dimension used by the attention core (q·k).
    pub fn qk_head_dim(&self) -> u64 {
        match &self.mla {
            Some(mla) => mla.qk_nope_head_dim + mla.qk_rope_head_dim,
            None => self.head_dim,
        }
    }

    /// Value-head dimension (attention output per head).
    pub fn v_head_dim(&self) -> u64 {
        match &self.mla {
            Some(mla) => mla.v_head_dim,
            None => self.head_dim,
        }
    }

    /// Matrix parameters of one layer's attention block (projections only; no norms/biases).
    pub fn attention_matrix_params(&self) -> f64 {
        let h = self.hidden as f64;
        let a = self.heads as f64;
        match &self.mla {
            Some(mla) => {
                let qk = (mla.qk_nope_head_dim + mla.qk_rope_head_dim) as f64;
                let q = if mla.q_lora_rank > 0 {
                    // q_a_proj (h → q_lora) and q_b_proj (q_lora → heads·(nope+rope)).
                    h * mla.q_lora_rank as f64 + mla.q_lora_rank as f64 * a * qk
                } else {
                    h * a * qk
                };
                // kv_a_proj_with_mqa (h → kv_lora + rope), kv_b_proj (kv_lora → heads·(nope+v)).
                let kv = h * (mla.kv_lora_rank + mla.qk_rope_head_dim) as f64
                    + mla.kv_lora_rank as f64 * a * (mla.qk_nope_head_dim + mla.v_head_dim) as f64;
                let o = a * mla.v_head_dim as f64 * h;
                q + kv + o
            }
            None => {
                let d = self.head_dim as f64;
                let kv = self.kv_heads as f64;
                h * (a + 2.0 * kv) * d + a * d * h
            }
        }
    }

    /// Attention parameters of one layer: projections, their biases, MLA's inner norms and the
    /// pre-attention norm.
    fn attention_params(&self) -> f64 {
        let mut p = self.attention_matrix_params() + self.norm_params(self.hidden);
        let qkv_out = ((self.heads as u64 + 2 * self.kv_heads as u64) * self.head_dim) as f64;
        if self.linear_bias {
            p += qkv_out + self.hidden as f64;
        } else if self.qkv_bias {
            p += qkv_out;
        }
        if let Some(mla) = &self.mla {
            if mla.q_lora_rank > 0 {
                p += self.norm_params(mla.q_lora_rank);
            }
            p += self.norm_params(mla.kv_lora_rank);
        }
        p
    }

    /// Parameters of one MLP of intermediate size `ffn` (matrices and, for GPT-style models, biases).
    pub fn mlp_params(&self, ffn: u64) -> f64 {
        let h = self.hidden as f64;
        let f = ffn as f64;
        let mats = if self.gated_mlp { 3.0 } else { 2.0 };
        let mut p = mats * h * f;
        if self.linear_bias {
            p += if self.gated_mlp { 2.0 * f } else { f } + h;
        }
        p
    }

    /// FFN-side parameters of one layer (including the pre-MLP norm); `active` counts only the
    /// `top_k` routed experts a token uses.
    fn ffn_params(&self, layer: u32, active: bool) -> f64 {
        let norm = self.norm_params(self.hidden);
        match &self.moe {
            Some(moe) if self.layer_is_moe(layer) => {
                let routed = if active { moe.top_k } else { moe.experts } as f64;
                let router = moe.experts as f64 * self.hidden as f64;
                norm + router
                    + routed * self.mlp_params(moe.expert_ffn)
                    + moe.shared_experts as f64 * self.mlp_params(moe.shared_ffn)
            }
            _ => norm + self.mlp_params(self.ffn),
        }
    }

    /// Parameters of layer `layer` (total; all experts).
    pub fn layer_params(&self, layer: u32) -> f64 {
        self.attention_params() + self.ffn_params(layer, false)
    }

    /// Expert (routed) parameters of layer `layer`: the part sharded by expert parallelism.
    pub fn layer_expert_params(&self, layer: u32) -> f64 {
        match &self.moe {
            Some(moe) if self.layer_is_moe(layer) => moe.experts as f64 * self.mlp_params(moe.expert_ffn),
            _ => 0.0,
        }
    }

    /// Input embedding (token + learned positions) parameters.
    pub fn embedding_params(&self) -> f64 {
        (self.vocab + self.pos_embeddings) as f64 * self.hidden as f64
    }

    /// Output-layer parameters not shared with the input embedding (0 when tied).
    pub fn lm_head_params(&self) -> f64 {
        if self.tied_embeddings {
            0.0
        } else {
            self.vocab as f64 * self.hidden as f64
        }
    }

    /// Sum over layers of `f(layer)`, grouping the dense and MoE layers (exact, O(1)).
    fn sum_layers(&self, f: impl Fn(u32) -> f64) -> f64 {
        let moe_layers = self.moe_layers();
        let dense_layers = self.layers - moe_layers;
        let mut total = 0.0;
        if dense_layers > 0 {
            total += dense_layers as f64 * f(0);
        }
        if moe_layers > 0 {
            total += moe_layers as f64 * f(self.layers - 1);
        }
        total
    }

    /// Total parameters: embeddings (the output layer counted separately when untied), learned
    /// position embeddings, every layer (all experts), biases and norms (including the final
    /// norm).
    pub fn params(&self) -> f64 {
        self.non_embedding_params() + self.embedding_params() + self.lm_head_params()
    }

    /// Parameters used per token: as `params` with only the `top_k` routed experts (plus shared
    /// experts) of each MoE layer. Embeddings and the output layer are included (the convention
    /// of Mixtral's "12.9B active"; DeepSeek-V3 comes out at 37.55B against its rounded "37B").
    pub fn active_params(&self) -> f64 {
        self.active_non_embedding_params() + self.embedding_params() + self.lm_head_params()
    }

    /// Parameters outside the embedding table(s), position embeddings and the output layer.
    pub fn non_embedding_params(&self) -> f64 {
        self.sum_layers(|l| self.layer_params(l)) + self.norm_params(self.hidden)
    }

    /// Active (per-token) non-embedding parameters.
    pub fn active_non_embedding_params(&self) -> f64 {
        self.sum_layers(|l| self.attention_params() + self.ffn_params(l, true)) + self.norm_params(self.hidden)
    }

    /// Values one token leaves in the KV cache of one layer: GQA/MHA keep a key and a value per
    /// KV head (`2 · kv_heads · head_dim`); MLA keeps the compressed latent and the decoupled RoPE
    /// key (`kv_lora_rank + qk_rope_head_dim`: 576 for DeepSeek-V3).
    pub fn kv_values_per_token_layer(&self) -> u64 {
        match &self.mla {
            Some(mla) => mla.kv_lora_rank + mla.qk_rope_head_dim,
            None => 2 * self.kv_heads as u64 * self.head_dim,
        }
    }

    /// KV-cache bytes of one token over all layers at `dtype_bytes` per value (DeepSeek-V3 in
    /// BF16: 61 · 576 · 2 = 70,272 B). MTP modules are not counted (they keep no cache of their
    /// own across steps in SGLang / vLLM).
    pub fn kv_bytes_per_token(&self, dtype_bytes: f64) -> f64 {
        self.layers as f64 * self.kv_values_per_token_layer() as f64 * dtype_bytes
    }

    /// KV values of one token in one layer held by one of `tp` tensor-parallel ranks: GQA
    /// splits the KV heads (each rank keeps at least one head, replicated when `tp` exceeds the
    /// KV heads); MLA's latent is not split by heads, so every TP rank keeps all of it.
    pub fn kv_values_per_token_layer_per_rank(&self, tp: u32) -> u64 {
        let tp = tp.max(1) as u64;
        match &self.mla {
            Some(_) => self.kv_values_per_token_layer(),
            None => 2 * (self.kv_heads as u64).div_ceil(tp) * self.head_dim,
        }
    }

    /// Checks sizes and consistency; `context` names the source in the error (a file, a
    /// registry entry).
    pub fn validate(&self, context: &str) -> Result<(), WorkloadError> {
        let bad = |field: &str, problem: String| WorkloadError::BadField {
            context: context.to_string(),
            field: field.to_string(),
            problem,
        };
        for (field, v) in [
            ("layers", self.layers as u64),
            ("hidden", self.hidden),
            ("heads", self.heads as u64),
            ("kv_heads", self.kv_heads as u64),
            ("vocab", self.vocab),
        ] {
            if v == 0 {
                return Err(bad(field, "must be positive".into()));
            }
        }
        for (field, v, max) in [
            ("layers", self.layers as u64, MAX_LAYERS),
            ("hidden", self.hidden, MAX_WIDTH),
            ("heads", self.heads as u64, MAX_HEADS),
            ("kv_heads", self.kv_heads as u64, MAX_HEADS),
            ("head_dim", self.head_dim, MAX_WIDTH),
            ("ffn", self.ffn, 4 * MAX_WIDTH),
            ("vocab", self.vocab, MAX_VOCAB),
        ] {
            if v > max {
                return Err(bad(field, format!("{v} is beyond the {max} this simulator accepts")));
            }
        }
        if let Some(moe) = &self.moe {
            for (field, v, max) in [
                ("moe.experts", moe.experts as u64, MAX_EXPERTS),
                ("moe.top_k", moe.top_k as u64, MAX_EXPERTS),
                ("moe.expert_ffn", moe.expert_ffn, 4 * MAX_WIDTH),
                ("moe.shared_experts", moe.shared_experts as u64, MAX_EXPERTS),
                ("moe.shared_ffn", moe.shared_ffn, 4 * MAX_WIDTH),
            ] {
                if v > max {
                    return Err(bad(field, format!("{v} is beyond the {max} this simulator accepts")));
                }
            }
        }
        if self.head_dim == 0 {
            return Err(bad(
                "head_dim",
                format!(
                    "is 0: heads ({}) must divide hidden ({}) unless head_dim is given explicitly",
                    self.heads, self.hidden
                ),
            ));
        }
        if self.kv_heads > self.heads || self.heads % self.kv_heads != 0 {
            return Err(bad(
                "kv_heads",
                format!(
                    "{} key/value heads must divide the {} query heads",
                    self.kv_heads, self.heads
                ),
            ));
        }
        let all_moe = matches!(&self.moe, Some(m) if m.dense_layers == 0);
        if self.ffn == 0 && !all_moe {
            return Err(bad("ffn", "must be positive (dense layers use it)".into()));
        }
        if let Some(moe) = &self.moe {
            if moe.experts == 0 || moe.top_k == 0 || moe.expert_ffn == 0 {
                return Err(bad("moe", "experts, top_k and expert_ffn must be positive".into()));
            }
            if moe.top_k > moe.experts {
                return Err(bad(
                    "moe.top_k",
                    format!("{} exceeds the {} experts", moe.top_k, moe.experts),
                ));
            }
            if moe.dense_layers > self.layers {
                return Err(bad(
                    "moe.dense_layers",
                    format!("{} exceeds the {} layers", moe.dense_layers, self.layers),
                ));
            }
            if moe.shared_experts > 0 && moe.shared_ffn == 0 {
                return Err(bad(
                    "moe.shared_ffn",
                    "must be positive when there are shared experts".into(),
                ));
            }
        }
        if let Some(mla) = &self.mla {
            if mla.kv_lora_rank == 0 || mla.v_head_dim == 0 || mla.qk_nope_head_dim + mla.qk_rope_head_dim == 0 {
                return Err(bad(
                    "mla",
                    "kv_lora_rank, v_head_dim and the q/k head dims must be positive".into(),
                ));
            }
            if self.kv_heads != self.heads {
                return Err(bad("kv_heads", "MLA models have kv_heads == heads".into()));
            }
        }
        let p = self.params();
        if !p.is_finite() || p > MAX_PARAMS {
            return Err(WorkloadError::Invalid {
                context: context.to_string(),
                problem: format!("{p:.3e} parameters is beyond the {MAX_PARAMS:e} this simulator accepts"),
            });
        }
        Ok(())
    }
}

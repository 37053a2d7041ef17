//! Built-in models by name.
//!
//! Every entry cites where its numbers come from. Hugging Face entries copy the fields of the
//! model's public `config.json` (the same values `hf::from_hf_config` reads); the Megatron,
//! Korthikanti and NeMo entries take layers/hidden/heads from the rows of
//! `testdata/training.csv` and the remaining choices from the cited paper or framework defaults.
//! Names are lowercase and hyphenated; `lookup` also accepts aliases (case, spaces, underscores,
//! dots and hyphens do not matter, and the model names used in `training.csv` resolve).

use crate::model::{Mla, ModelSpec, Moe, Norm};

/// One registry entry: canonical name, extra aliases, builder.
struct Entry {
    name: &'static str,
    aliases: &'static [&'static str],
    build: fn(&'static str) -> ModelSpec,
}

/// Llama-family (also Mistral, Qwen2/3 dense) spec: RMSNorm, SwiGLU, RoPE, no biases.
#[allow(clippy::too_many_arguments)]
fn llama(
    name: &str,
    layers: u32,
    hidden: u64,
    heads: u32,
    kv_heads: u32,
    ffn: u64,
    vocab: u64,
    tied: bool,
    max_seq: u64,
) -> ModelSpec {
    ModelSpec {
        name: name.to_string(),
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim: hidden / heads as u64,
        ffn,
        gated_mlp: true,
        vocab,
        tied_embeddings: tied,
        moe: None,
        mla: None,
        mtp_layers: 0,
        max_seq,
        pos_embeddings: 0,
        linear_bias: false,
        qkv_bias: false,
        norm: Norm::RmsNorm,
    }
}

/// Megatron-LM SC'21 GPT (Narayanan et al., arXiv:2104.04473, Table 1): vocabulary 51,200, tied
/// embeddings, learned positions, seq 2048. Parameter count = the paper's
/// 12·l·h²·(1 + 13/(12h) + (V + s)/(12·l·h)).
fn megatron_sc21(name: &str, layers: u32, hidden: u64, heads: u32) -> ModelSpec {
    ModelSpec {
        tied_embeddings: true,
        ..ModelSpec::gpt(name, layers, hidden, heads, 51_200, 2048)
    }
}

/// Megatron-Core H100 benchmark GPT (NVIDIA/Megatron-LM README, images/model_table.png):
/// vocabulary 131,072, seq 4096, untied output layer (what makes e.g. 30×4096 come to 7.1B),
/// rotary positions (no learned table: the README does not say; with one, 24×2048 would come to
/// 1.754B, outside the rounding of its "1.7B"), otherwise Megatron GPT defaults (FFN 4h, GELU,
/// LayerNorm, biases).
fn megatron_core(name: &str, layers: u32, hidden: u64, heads: u32) -> ModelSpec {
    ModelSpec {
        pos_embeddings: 0,
        ..ModelSpec::gpt(name, layers, hidden, heads, 131_072, 4096)
    }
}

/// MaxText's `global_parameter_scale` rule (AI-Hypercomputer/maxtext, `get_individual_scales`
/// in MaxText/pyconfig.py, unchanged from 2023 to today's src/maxtext/configs/types.py):
/// log2(scale) = 3·b + r; heads and MLP double b + (r > 0) times, the embedding b + (r > 1)
/// times, the layers b times. Returns (embedding, heads, MLP, layers) multipliers.
fn maxtext_scales(scale: u32) -> (u32, u32, u32) {
    let log2 = scale.max(1).ilog2();
    let (b, r) = (log2 / 3, log2 % 3);
    (b + u32::from(r > 1), b + u32::from(r > 0), b)
}

/// MaxText's synthetic models of `global_parameter_scale` (a power of two) over today's
/// base.yml (since commit 3b2ac8113, 2024-02-14, "Modify default config for good
/// convergence"): base_emb_dim 2048, base_num_query_heads = base_num_kv_heads 16, base_mlp_dim
/// 7168, base_num_decoder_layers 16, head_dim 128 (fixed), mlp_activations [silu, linear]
/// (gated), vocab_size 32,000, untied logits, RMSNorm, RoPE; scaled by [`maxtext_scales`].
/// Scale 32 is 32 layers × 8192 (64 heads, MLP 28,672): 31.7 B; scale 1024 is 128 layers ×
/// 16,384 (256 heads of 128, MLP 114,688): 1.0 T.
pub fn maxtext_scaled(name: &str, scale: u32) -> ModelSpec {
    let (emb_s, head_s, layer_s) = maxtext_scales(scale);
    let emb = 2048u64 << emb_s;
    let heads = 16u32 << head_s;
    let mlp = 7168u64 << head_s;
    let layers = 16u32 << layer_s;
    ModelSpec {
        head_dim: 128,
        ..llama(name, layers, emb, heads, heads, mlp, 32_000, false, 2048)
    }
}

/// The same models over base.yml as it stood when MaxText published its v5p and v5e tables
/// (commit 76bd53b0f, 2023-12-15, which added MaxText/configs/v5p/README.md and
/// v5e/README.md with the scripts that produced them; base.yml unchanged from Sept 2023 to
/// 2024-02-14): base_emb_dim 2560, base_num_heads 8 (multi-head: keys and values have as
/// many heads), base_mlp_dim 8192, base_num_decoder_layers 16, head_dim 256,
/// mlp_activations [relu] (one up-projection, not gated), vocab_size 32,768,
/// logits_via_embedding True (tied). Scale 32 is 32 layers × 10,240 (32 heads of 256, MLP
/// 32,768): 32.5 B; scale 1024 is 128 layers × 20,480 (128 heads of 256, MLP 131,072): 1.03 T.
pub fn maxtext_scaled_2023(name: &str, scale: u32) -> ModelSpec {
    let (emb_s, head_s, layer_s) = maxtext_scales(scale);
    let emb = 2560u64 << emb_s;
    let heads = 8u32 << head_s;
    let mlp = 8192u64 << head_s;
    let layers = 16u32 << layer_s;
    ModelSpec {
        head_dim: 256,
        gated_mlp: false,
        ..llama(name, layers, emb, heads, heads, mlp, 32_768, true, 2048)
    }
}

const ENTRIES: &[Entry] = &[
    // MaxText synthetic models (`global_parameter_scale`, see `maxtext_scaled`), as the MaxText
    // v5p/v5e README tables and training.csv name them.
    Entry {
        name: "maxtext-32b",
        aliases: &[
            "MaxText synthetic 32B (global_parameter_scale)",
            "MaxText synthetic 32B",
        ],
        build: |n| maxtext_scaled(n, 32),
    },
    Entry {
        name: "maxtext-64b",
        aliases: &[
            "MaxText synthetic 64B (global_parameter_scale)",
            "MaxText synthetic 64B",
        ],
        build: |n| maxtext_scaled(n, 64),
    },
    Entry {
        name: "maxtext-128b",
        aliases: &[
            "MaxText synthetic 128B (global_parameter_scale)",
            "MaxText synthetic 128B",
        ],
        build: |n| maxtext_scaled(n, 128),
    },
    Entry {
        name: "maxtext-32b-2023",
        aliases: &["MaxText synthetic 32B (Dec 2023 base.yml)"],
        build: |n| maxtext_scaled_2023(n, 32),
    },
    Entry {
        name: "maxtext-1024b-2023",
        aliases: &["MaxText synthetic 1024B (Dec 2023 base.yml)"],
        build: |n| maxtext_scaled_2023(n, 1024),
    },
    Entry {
        name: "maxtext-1024b",
        aliases: &[
            "MaxText synthetic 1024B (global_parameter_scale)",
            "MaxText synthetic 1024B",
        ],
        build: |n| maxtext_scaled(n, 1024),
    },
    // GPT-3 175B: Brown et al. 2020 (arXiv:2005.14165) Table 2.1: 96 layers, d_model 12288, 96
    // heads, context 2048, tied embeddings, learned positions. Vocabulary 51,200 as Megatron pads
    // GPT-2 BPE (50,257) and as every reference run in training.csv (Korthikanti, NeMo) uses.
    Entry {
        name: "gpt-3-175b",
        aliases: &["gpt3-175b", "gpt-175b", "GPT 175B (GPT-3)", "GPT3-175B", "davinci"],
        build: |n| ModelSpec {
            tied_embeddings: true,
            ..ModelSpec::gpt(n, 96, 12288, 96, 51_200, 2048)
        },
    },
    // Megatron-LM SC'21 Table 1 rows (training.csv T001–T010).
    Entry {
        name: "megatron-gpt-1.7b",
        aliases: &["GPT-1.7B (Megatron)"],
        build: |n| megatron_sc21(n, 24, 2304, 24),
    },
    Entry {
        name: "megatron-gpt-3.6b",
        aliases: &["GPT-3.6B (Megatron)"],
        build: |n| megatron_sc21(n, 30, 3072, 32),
    },
    Entry {
        name: "megatron-gpt-7.5b",
        aliases: &["GPT-7.5B (Megatron)"],
        build: |n| megatron_sc21(n, 36, 4096, 32),
    },
    Entry {
        name: "megatron-gpt-18b",
        aliases: &["GPT-18.4B (Megatron)", "megatron-gpt-18.4b"],
        build: |n| megatron_sc21(n, 40, 6144, 48),
    },
    Entry {
        name: "megatron-gpt-39b",
        aliases: &["GPT-39.1B (Megatron)", "megatron-gpt-39.1b"],
        build: |n| megatron_sc21(n, 48, 8192, 64),
    },
    Entry {
        name: "megatron-gpt-76b",
        aliases: &["GPT-76.1B (Megatron)", "megatron-gpt-76.1b"],
        build: |n| megatron_sc21(n, 60, 10240, 80),
    },
    Entry {
        name: "megatron-gpt-145b",
        aliases: &["GPT-145.6B (Megatron)", "megatron-gpt-145.6b"],
        build: |n| megatron_sc21(n, 80, 12288, 96),
    },
    Entry {
        name: "megatron-gpt-310b",
        aliases: &["GPT-310.1B (Megatron)", "megatron-gpt-310.1b"],
        build: |n| megatron_sc21(n, 96, 16384, 128),
    },
    // Also MT-NLG 530B's shape (Smith et al. 2022, arXiv:2201.11990: 105 layers, 20480, 128 heads),
    // as used by Korthikanti et al. (training.csv T024, T026).
    Entry {
        name: "megatron-gpt-530b",
        aliases: &[
            "GPT-529.6B (Megatron)",
            "megatron-gpt-529.6b",
            "GPT 530B (MT-NLG)",
            "MT-NLG 530B",
            "mt-nlg-530b",
        ],
        build: |n| megatron_sc21(n, 105, 20480, 128),
    },
    Entry {
        name: "megatron-gpt-1t",
        aliases: &["GPT-1008.0B (Megatron)", "GPT 1T", "megatron-gpt-1008b"],
        build: |n| megatron_sc21(n, 128, 25600, 160),
    },
    // Korthikanti et al. 2022 (arXiv:2205.05198) Table 3: GPT 22B = 48 layers, 6144, 64 heads,
    // vocabulary 51,200, seq 2048 (training.csv T022).
    Entry {
        name: "megatron-gpt-22b",
        aliases: &["GPT 22B"],
        build: |n| megatron_sc21(n, 48, 6144, 64),
    },
    // Megatron-Core r0.8.0 H100 weak-scaling table (training.csv T011–T021). The 1.7B differs
    // from the SC'21 1.7B, hence the `megatron-core-` prefix; the others keep `megatron-gpt-`
    // (the names the H100 kernel measurements use for 7.1B and 32B).
    Entry {
        name: "megatron-core-gpt-1.7b",
        aliases: &["GPT-1.7B (Megatron-Core)"],
        build: |n| megatron_core(n, 24, 2048, 16),
    },
    Entry {
        name: "megatron-gpt-7.1b",
        aliases: &["GPT-7.1B (Megatron-Core)", "megatron-core-gpt-7.1b"],
        build: |n| megatron_core(n, 30, 4096, 32),
    },
    Entry {
        name: "megatron-gpt-16b",
        aliases: &["GPT-16B (Megatron-Core)", "megatron-core-gpt-16b"],
        build: |n| megatron_core(n, 32, 6144, 48),
    },
    Entry {
        name: "megatron-gpt-32b",
        aliases: &["GPT-32B (Megatron-Core)", "megatron-core-gpt-32b"],
        build: |n| megatron_core(n, 48, 7168, 56),
    },
    Entry {
        name: "megatron-gpt-70b",
        aliases: &["GPT-70B (Megatron-Core)", "megatron-core-gpt-70b"],
        build: |n| megatron_core(n, 84, 8192, 64),
    },
    Entry {
        name: "megatron-gpt-119b",
        aliases: &["GPT-119B (Megatron-Core)", "megatron-core-gpt-119b"],
        build: |n| megatron_core(n, 92, 10240, 80),
    },
    Entry {
        name: "megatron-gpt-177b",
        aliases: &[
            "GPT-177B (Megatron-Core)",
            "GPT-3 style 177B (Megatron-Core)",
            "megatron-core-gpt-177b",
        ],
        build: |n| megatron_core(n, 96, 12288, 96),
    },
    Entry {
        name: "megatron-gpt-314b",
        aliases: &["GPT-314B (Megatron-Core)", "megatron-core-gpt-314b"],
        build: |n| megatron_core(n, 96, 16384, 128),
    },
    Entry {
        name: "megatron-gpt-462b",
        aliases: &["GPT-462B (Megatron-Core)", "megatron-core-gpt-462b"],
        build: |n| megatron_core(n, 112, 18432, 144),
    },
    // NeMo 24.07 GPT3-5B (training.csv T046: 24 layers, 4096, 32 heads, seq 2048); NeMo's
    // megatron_gpt_config defaults: tied embeddings, learned positions, vocabulary GPT-2 BPE
    // padded to a multiple of 128 (50,304). Medium confidence (NeMo recipe, not a paper).
    Entry {
        name: "nemo-gpt3-5b",
        aliases: &["GPT3-5B", "gpt-3-5b"],
        build: |n| ModelSpec {
            tied_embeddings: true,
            ..ModelSpec::gpt(n, 24, 4096, 32, 50_304, 2048)
        },
    },
    // BLOOM-176B: bigscience/bloom config.json (n_layer 70, hidden_size 14336, n_head 112,
    // vocab_size 250880, tied, ALiBi: no position table) and Le Scao et al. 2022 (arXiv:2211.05100).
    Entry {
        name: "bloom-176b",
        aliases: &["bloom"],
        build: |n| ModelSpec {
            pos_embeddings: 0,
            tied_embeddings: true,
            ..ModelSpec::gpt(n, 70, 14336, 112, 250_880, 2048)
        },
    },
    // OPT-175B: Zhang et al. 2022 (arXiv:2205.01068) Table 1 and facebook/opt-* configs:
    // 96 layers, 12288, 96 heads, ffn 49152, vocab 50272, tied, learned positions 2048 + 2 offset.
    Entry {
        name: "opt-175b",
        aliases: &[],
        build: |n| ModelSpec {
            pos_embeddings: 2050,
            tied_embeddings: true,
            vocab: 50_272,
            ..ModelSpec::gpt(n, 96, 12288, 96, 50_272, 2048)
        },
    },
    // meta-llama/Llama-2-7b-hf config.json: 32 layers, 4096, 32 heads (MHA), ffn 11008, vocab
    // 32000, max_position_embeddings 4096, untied.
    Entry {
        name: "llama-2-7b",
        aliases: &[],
        build: |n| llama(n, 32, 4096, 32, 32, 11008, 32_000, false, 4096),
    },
    // meta-llama/Llama-2-13b-hf config.json: 40 layers, 5120, 40 heads, ffn 13824.
    Entry {
        name: "llama-2-13b",
        aliases: &[],
        build: |n| llama(n, 40, 5120, 40, 40, 13824, 32_000, false, 4096),
    },
    // meta-llama/Llama-2-70b-hf config.json: 80 layers, 8192, 64 heads, 8 KV heads, ffn 28672.
    Entry {
        name: "llama-2-70b",
        aliases: &["LLAMA2-70B"],
        build: |n| llama(n, 80, 8192, 64, 8, 28672, 32_000, false, 4096),
    },
    // meta-llama/Meta-Llama-3-8B config.json: 32 layers, 4096, 32 heads, 8 KV, ffn 14336,
    // vocab 128256, max_position_embeddings 8192.
    Entry {
        name: "llama-3-8b",
        aliases: &["LLAMA3-8B"],
        build: |n| llama(n, 32, 4096, 32, 8, 14336, 128_256, false, 8192),
    },
    // meta-llama/Meta-Llama-3-70B config.json: 80 layers, 8192, 64 heads, 8 KV, ffn 28672.
    Entry {
        name: "llama-3-70b",
        aliases: &["LLAMA3-70B"],
        build: |n| llama(n, 80, 8192, 64, 8, 28672, 128_256, false, 8192),
    },
    // meta-llama/Llama-3.1-8B config.json (as Llama 3 8B, max_position_embeddings 131072).
    Entry {
        name: "llama-3.1-8b",
        aliases: &[],
        build: |n| llama(n, 32, 4096, 32, 8, 14336, 128_256, false, 131_072),
    },
    // meta-llama/Llama-3.1-70B config.json.
    Entry {
        name: "llama-3.1-70b",
        // Llama 3.3 70B keeps Llama 3.1 70B's architecture (meta-llama/Llama-3.3-70B-Instruct
        // config.json: the same sizes; only the weights differ).
        aliases: &["llama-3.3-70b"],
        build: |n| llama(n, 80, 8192, 64, 8, 28672, 128_256, false, 131_072),
    },
    // meta-llama/Llama-3.1-405B config.json: 126 layers, 16384, 128 heads, 8 KV, ffn 53248;
    // Dubey et al. 2024 (arXiv:2407.21783) Table 3.
    Entry {
        name: "llama-3.1-405b",
        aliases: &[],
        build: |n| llama(n, 126, 16384, 128, 8, 53248, 128_256, false, 131_072),
    },
    // mistralai/Mixtral-8x7B-v0.1 config.json: 32 layers, 4096, 32 heads, 8 KV, intermediate
    // 14336, num_local_experts 8, num_experts_per_tok 2, vocab 32000, max_position 32768.
    Entry {
        name: "mixtral-8x7b",
        aliases: &[],
        build: |n| ModelSpec {
            moe: Some(Moe {
                experts: 8,
                top_k: 2,
                expert_ffn: 14336,
                shared_experts: 0,
                shared_ffn: 0,
                dense_layers: 0,
            }),
            ..llama(n, 32, 4096, 32, 8, 14336, 32_000, false, 32_768)
        },
    },
    // mistralai/Mixtral-8x22B-v0.1 config.json: 56 layers, 6144, 48 heads, 8 KV, intermediate
    // 16384, 8 experts top-2, vocab 32768, max_position 65536.
    Entry {
        name: "mixtral-8x22b",
        aliases: &[],
        build: |n| ModelSpec {
            moe: Some(Moe {
                experts: 8,
                top_k: 2,
                expert_ffn: 16384,
                shared_experts: 0,
                shared_ffn: 0,
                dense_layers: 0,
            }),
            ..llama(n, 56, 6144, 48, 8, 16384, 32_768, false, 65_536)
        },
    },
    // deepseek-ai/DeepSeek-V3 config.json: 61 layers, 7168, 128 heads, intermediate 18432,
    // moe_intermediate 2048, 256 routed + 1 shared experts, top-8, first_k_dense_replace 3,
    // q_lora 1536, kv_lora 512, qk_nope 128, qk_rope 64, v_head 128, vocab 129280,
    // max_position 163840, untied. One multi-token-prediction module (num_nextn_predict_layers 1;
    // arXiv:2412.19437 §2.2, D = 1; Megatron-Bridge's deepseek_v3 recipe: use_mtp True,
    // mtp_num_layers 1), outside the paper's 671B total / 37B active.
    Entry {
        name: "deepseek-v3",
        // DeepSeek-R1 is a post-trained DeepSeek-V3 (deepseek-ai/DeepSeek-R1 config.json: the
        // same architecture), so serving it is serving this network.
        aliases: &["deepseek-v3-671b", "deepseek-r1", "deepseek-r1-0528"],
        build: |n| ModelSpec {
            heads: 128,
            kv_heads: 128,
            head_dim: 192,
            moe: Some(Moe {
                experts: 256,
                top_k: 8,
                expert_ffn: 2048,
                shared_experts: 1,
                shared_ffn: 2048,
                dense_layers: 3,
            }),
            mla: Some(Mla {
                q_lora_rank: 1536,
                kv_lora_rank: 512,
                qk_nope_head_dim: 128,
                qk_rope_head_dim: 64,
                v_head_dim: 128,
            }),
            mtp_layers: 1,
            ..llama(n, 61, 7168, 128, 128, 18432, 129_280, false, 163_840)
        },
    },
    // Qwen/Qwen2.5-72B config.json: 80 layers, 8192, 64 heads, 8 KV, intermediate 29568, vocab
    // 152064, untied, q/k/v biases (Qwen2 architecture), max_position 131072.
    Entry {
        name: "qwen2.5-72b",
        aliases: &[],
        build: |n| ModelSpec {
            qkv_bias: true,
            ..llama(n, 80, 8192, 64, 8, 29568, 152_064, false, 131_072)
        },
    },
    // Qwen/Qwen3-235B-A22B config.json: 94 layers, 4096, 64 heads, 4 KV, head_dim 128 (explicit,
    // not hidden/heads), intermediate 12288 (unused: every layer is MoE), moe_intermediate 1536,
    // 128 experts top-8, no shared expert, vocab 151936, max_position 40960, untied.
    Entry {
        name: "qwen3-235b-a22b",
        aliases: &["qwen3-235b"],
        build: |n| ModelSpec {
            head_dim: 128,
            moe: Some(Moe {
                experts: 128,
                top_k: 8,
                expert_ffn: 1536,
                shared_experts: 0,
                shared_ffn: 0,
                dense_layers: 0,
            }),
            ..llama(n, 94, 4096, 64, 4, 12288, 151_936, false, 40_960)
        },
    },
    // Nemotron-4 340B: NVIDIA 2024 (arXiv:2406.11704) and nvidia/Nemotron-4-340B-Base config:
    // 96 layers, 18432, 96 heads, 8 KV heads (GQA), ffn 73728 squared-ReLU (not gated), vocab
    // 256000, untied, RoPE, no biases, LayerNorm, seq 4096 (training.csv T052).
    Entry {
        name: "nemotron-4-340b",
        aliases: &["Nemotron-340B", "nemotron-340b"],
        build: |n| ModelSpec {
            gated_mlp: false,
            norm: Norm::LayerNorm,
            ..llama(n, 96, 18432, 96, 8, 73728, 256_000, false, 4096)
        },
    },
];

/// Canonical lookup key: lowercase ASCII letters and digits only.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The model named `name` (case-insensitive; spaces, underscores, dots, hyphens and brackets are
/// ignored, so "Llama 3.1 405B", "llama3.1-405b" and "LLAMA_3_1_405B" all find `llama-3.1-405b`).
pub fn lookup(name: &str) -> Option<ModelSpec> {
    let k = key(name);
    if k.is_empty() {
        return None;
    }
    ENTRIES
        .iter()
        .find(|e| key(e.name) == k || e.aliases.iter().any(|a| key(a) == k))
        .map(|e| (e.build)(e.name))
}

/// Canonical names of every built-in model, in registry order.
pub fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

/// Aliases of the model `name` (canonical name first).
pub fn aliases(name: &str) -> Vec<&'static str> {
    ENTRIES
        .iter()
        .filter(|e| e.name == name)
        .flat_map(|e| std::iter::once(e.name).chain(e.aliases.iter().copied()))
        .collect()
}

/// Every built-in model.
pub fn all() -> Vec<ModelSpec> {
    ENTRIES.iter().map(|e| (e.build)(e.name)).collect()
}

/// `lookup`, with `WorkloadError::UnknownModel` when the name is not known.
pub fn get(name: &str) -> Result<ModelSpec, crate::WorkloadError> {
    lookup(name).ok_or_else(|| crate::WorkloadError::UnknownModel(name.to_string()))
}

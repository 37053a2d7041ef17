//! Import of a Hugging Face `config.json`.
//!
//! Supported `model_type`s (or, without one, `architectures[0]`): `llama`
//! (LlamaForCausalLM), `mistral`, `mixtral`, `qwen2`, `qwen2_moe`, `qwen3`, `qwen3_moe`,
//! `deepseek_v2` and `deepseek_v3`. Everything else is rejected, as are settings that change
//! the architecture in a way the simulator does not model (sliding-window attention that is on
//! and shorter than the context, `layer_types` other than full attention, MoE layer patterns
//! other than "every layer after the first k"); the error lists each such field.
//!
//! Settings that do not change FLOPs or memory materially are accepted and ignored:
//! `rope_scaling`/`rope_theta`, `hidden_act`, routing details (`n_group`, `topk_group`,
//! `scoring_func`, `norm_topk_prob`, ...), `quantization_config`, Qwen3's per-head q/k norms.
//! DeepSeek's multi-token-prediction modules (`num_nextn_predict_layers`) become
//! `ModelSpec::mtp_layers`: outside the parameter count, priced in the training step.

use serde_json::{Map, Value};

use crate::model::{Mla, ModelSpec, Moe, Norm};
use crate::WorkloadError;

const SUPPORTED: &[&str] = &[
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "deepseek_v2",
    "deepseek_v3",
];

/// `architectures` entries and the `model_type` they imply.
const ARCHITECTURES: &[(&str, &str)] = &[
    ("LlamaForCausalLM", "llama"),
    ("MistralForCausalLM", "mistral"),
    ("MixtralForCausalLM", "mixtral"),
    ("Qwen2ForCausalLM", "qwen2"),
    ("Qwen2MoeForCausalLM", "qwen2_moe"),
    ("Qwen3ForCausalLM", "qwen3"),
    ("Qwen3MoeForCausalLM", "qwen3_moe"),
    ("DeepseekV2ForCausalLM", "deepseek_v2"),
    ("DeepseekV3ForCausalLM", "deepseek_v3"),
];

struct Cfg<'a> {
    obj: &'a Map<String, Value>,
    context: &'a str,
}

impl Cfg<'_> {
    fn bad(&self, field: &str, problem: impl Into<String>) -> WorkloadError {
        WorkloadError::BadField {
            context: self.context.to_string(),
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    fn present(&self, field: &str) -> Option<&Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn type_name(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    fn opt_u64(&self, field: &str) -> Result<Option<u64>, WorkloadError> {
        match self.present(field) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) => Ok(Some(n)),
                None => Err(self.bad(
                    field,
                    format!("expected a non-negative integer, found {}", Self::describe(v)),
                )),
            },
        }
    }

    fn describe(v: &Value) -> String {
        match v {
            Value::Number(n) => format!("the number {n}"),
            Value::String(s) => format!("the string {s:?}"),
            other => Self::type_name(other).to_string(),
        }
    }

    fn req_u64(&self, field: &str) -> Result<u64, WorkloadError> {
        self.opt_u64(field)?
            .ok_or_else(|| self.bad(field, "required field is missing"))
    }

    fn req_pos(&self, field: &str) -> Result<u64, WorkloadError> {
        match self.req_u64(field)? {
            0 => Err(self.bad(field, "must be positive")),
            n => Ok(n),
        }
    }

    fn opt_u32(&self, field: &str) -> Result<Option<u32>, WorkloadError> {
        match self.opt_u64(field)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.bad(field, format!("{n} is too large"))),
        }
    }

    fn req_u32(&self, field: &str) -> Result<u32, WorkloadError> {
        self.opt_u32(field)?
            .ok_or_else(|| self.bad(field, "required field is missing"))
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>, WorkloadError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.bad(field, format!("expected true or false, found {}", Self::describe(v)))),
        }
    }

    fn opt_str(&self, field: &str) -> Result<Option<&str>, WorkloadError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.bad(field, format!("expected a string, found {}", Self::describe(v)))),
        }
    }
}

/// Reads a Hugging Face `config.json` (its text) into a `ModelSpec`. `context` names the file in
/// errors. The spec's name is the last component of `_name_or_path`, lowercased, when present,
/// else `context`.
pub fn from_hf_config(json: &str, context: &str) -> Result<ModelSpec, WorkloadError> {
    let value: Value = serde_json::from_str(json).map_err(|e| WorkloadError::Invalid {
        context: context.to_string(),
        problem: format!("not valid JSON: {e}"),
    })?;
    let obj = value.as_object().ok_or_else(|| WorkloadError::Invalid {
        context: context.to_string(),
        problem: format!(
            "expected a JSON object at the top level, found {}",
            Cfg::type_name(&value)
        ),
    })?;
    let c = Cfg { obj, context };

    let model_type = model_type(&c)?;
    let unsupported = unsupported_settings(&c, &model_type)?;
    if !unsupported.is_empty() {
        return Err(WorkloadError::Invalid {
            context: context.to_string(),
            problem: format!(
                "fields it does not understand (they change the architecture in ways fabricsim does not model): {}",
                unsupported.join("; ")
            ),
        });
    }

    let layers = c.req_u32("num_hidden_layers")?;
    let hidden = c.req_pos("hidden_size")?;
    let heads = c.req_u32("num_attention_heads")?;
    if heads == 0 {
        return Err(c.bad("num_attention_heads", "must be positive"));
    }
    let kv_heads = c.opt_u32("num_key_value_heads")?.unwrap_or(heads);
    let vocab = c.req_pos("vocab_size")?;
    let max_seq = c.opt_u64("max_position_embeddings")?.unwrap_or(0);
    let tied = c.opt_bool("tie_word_embeddings")?.unwrap_or(false);
    let qkv_bias = match model_type.as_str() {
        "qwen2" | "qwen2_moe" => c.opt_bool("attention_bias")?.unwrap_or(true),
        _ => c.opt_bool("attention_bias")?.unwrap_or(false),
    };
    let is_mla = model_type.starts_with("deepseek");

    let head_dim = match c.opt_u64("head_dim")? {
        Some(0) => return Err(c.bad("head_dim", "must be positive")),
        Some(d) => d,
        None if is_mla => 0, // set from the MLA dims below
        None => {
            if hidden % heads as u64 != 0 {
                return Err(c.bad(
                    "num_attention_heads",
                    format!("{heads} heads do not divide hidden_size {hidden} and no head_dim is given"),
                ));
            }
            hidden / heads as u64
        }
    };

    let mut spec = ModelSpec {
        name: spec_name(&c, context)?,
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim,
        ffn: 0,
        gated_mlp: true,
        vocab,
        tied_embeddings: tied,
        moe: None,
        mla: None,
        mtp_layers: 0,
        max_seq,
        pos_embeddings: 0,
        linear_bias: false,
        qkv_bias,
        norm: Norm::RmsNorm,
    };

    match model_type.as_str() {
        "llama" | "mistral" | "qwen2" | "qwen3" => {
            spec.ffn = c.req_pos("intermediate_size")?;
        }
        "mixtral" => {
            spec.ffn = c.req_pos("intermediate_size")?;
            spec.moe = Some(Moe {
                experts: c.req_u32("num_local_experts")?,
                top_k: c.req_u32("num_experts_per_tok")?,
                expert_ffn: spec.ffn,
                shared_experts: 0,
                shared_ffn: 0,
                dense_layers: 0,
            });
        }
        "qwen2_moe" | "qwen3_moe" => {
            spec.ffn = c.opt_u64("intermediate_size")?.unwrap_or(0);
            let shared_ffn = c.opt_u64("shared_expert_intermediate_size")?.unwrap_or(0);
            spec.moe = Some(Moe {
                experts: c.req_u32("num_experts")?,
                top_k: c.req_u32("num_experts_per_tok")?,
                expert_ffn: c.req_pos("moe_intermediate_size")?,
                shared_experts: u32::from(shared_ffn > 0),
                shared_ffn,
                dense_layers: 0,
            });
        }
        _ => {
            // DeepSeek-V2/V3: MLA and fine-grained experts after `first_k_dense_replace` dense layers.
            spec.ffn = c.req_pos("intermediate_size")?;
            spec.kv_heads = heads;
            let mla = Mla {
                q_lora_rank: c.opt_u64("q_lora_rank")?.unwrap_or(0),
                kv_lora_rank: c.req_pos("kv_lora_rank")?,
                qk_nope_head_dim: c.req_u64("qk_nope_head_dim")?,
                qk_rope_head_dim: c.req_u64("qk_rope_head_dim")?,
                v_head_dim: c.req_pos("v_head_dim")?,
            };
            spec.head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
            spec.mla = Some(mla);
            let experts = c.opt_u32("n_routed_experts")?.unwrap_or(0);
            if experts > 0 {
                let expert_ffn = c.req_pos("moe_intermediate_size")?;
                let shared = c.opt_u32("n_shared_experts")?.unwrap_or(0);
                spec.moe = Some(Moe {
                    experts,
                    top_k: c.req_u32("num_experts_per_tok")?,
                    expert_ffn,
                    shared_experts: shared,
                    shared_ffn: if shared > 0 { expert_ffn } else { 0 },
                    dense_layers: c.opt_u32("first_k_dense_replace")?.unwrap_or(0),
                });
            }
            // DeepSeek-V3's multi-token-prediction modules (priced by the training step).
            spec.mtp_layers = c.opt_u32("num_nextn_predict_layers")?.unwrap_or(0);
        }
    }

    spec.validate(context).map_err(|e| hf_names(e, &c))?;
    Ok(spec)
}

/// The config.json key a model field came from, so errors name what the user wrote.
fn hf_names(e: WorkloadError, c: &Cfg) -> WorkloadError {
    let WorkloadError::BadField {
        context,
        field,
        problem,
    } = e
    else {
        return e;
    };
    let has = |k: &str| c.opt_u64(k).ok().flatten().is_some();
    let key = match field.as_str() {
        "layers" => "num_hidden_layers",
        "hidden" => "hidden_size",
        "heads" => "num_attention_heads",
        "kv_heads" => "num_key_value_heads",
        "ffn" => "intermediate_size",
        "vocab" => "vocab_size",
        "head_dim" => "head_dim",
        "moe.top_k" => "num_experts_per_tok",
        "moe.experts" | "moe" => {
            if has("num_local_experts") {
                "num_local_experts"
            } else if has("n_routed_experts") {
                "n_routed_experts"
            } else {
                "num_experts"
            }
        }
        "moe.expert_ffn" => "moe_intermediate_size",
        "moe.shared_experts" => "n_shared_experts",
        "moe.shared_ffn" => "shared_expert_intermediate_size",
        "moe.dense_layers" => "first_k_dense_replace",
        "mla" => "kv_lora_rank",
        other => other,
    };
    WorkloadError::BadField {
        context,
        field: key.to_string(),
        problem,
    }
}

fn model_type(c: &Cfg) -> Result<String, WorkloadError> {
    if let Some(t) = c.opt_str("model_type")? {
        if SUPPORTED.contains(&t) {
            return Ok(t.to_string());
        }
        return Err(c.bad(
            "model_type",
            format!(
                "unsupported model_type `{t}` (fabricsim understands: {})",
                SUPPORTED.join(", ")
            ),
        ));
    }
    match c.present("architectures") {
        Some(Value::Array(items)) => {
            let first = items.first().and_then(Value::as_str).ok_or_else(|| {
                c.bad(
                    "architectures",
                    "expected a non-empty array of strings (and no model_type is given)",
                )
            })?;
            ARCHITECTURES
                .iter()
                .find(|(a, _)| *a == first)
                .map(|(_, t)| t.to_string())
                .ok_or_else(|| {
                    c.bad(
                        "architectures",
                        format!(
                            "unsupported architecture `{first}` (fabricsim understands: {})",
                            ARCHITECTURES.iter().map(|(a, _)| *a).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })
        }
        Some(v) => Err(c.bad(
            "architectures",
            format!("expected an array of strings, found {}", Cfg::describe(v)),
        )),
        None => Err(c.bad(
            "model_type",
            "required field is missing (and no `architectures` either)",
        )),
    }
}

/// Top-level keys the importer reads or knows to be irrelevant to the cost of training
/// (tokens, initialisation, numerics, positional scaling, routing-loss settings, metadata).
const KNOWN_KEYS: &[&str] = &[
    "_name_or_path",
    "architectures",
    "attention_bias",
    "attention_chunk_size",
    "attention_dropout",
    "auto_map",
    "aux_loss_alpha",
    "bos_token_id",
    "decoder_sparse_step",
    "eos_token_id",
    "ep_size",
    "first_k_dense_replace",
    "head_dim",
    "hidden_act",
    "hidden_size",
    "initializer_range",
    "intermediate_size",
    "kv_lora_rank",
    "layer_types",
    "max_position_embeddings",
    "max_window_layers",
    "mlp_bias",
    "mlp_only_layers",
    "model_type",
    "moe_intermediate_size",
    "moe_layer_freq",
    "n_group",
    "n_routed_experts",
    "n_shared_experts",
    "norm_topk_prob",
    "num_attention_heads",
    "num_experts",
    "num_experts_per_tok",
    "num_hidden_layers",
    "num_key_value_heads",
    "num_local_experts",
    "num_nextn_predict_layers",
    "output_router_logits",
    "pad_token_id",
    "pretraining_tp",
    "q_lora_rank",
    "qk_nope_head_dim",
    "qk_rope_head_dim",
    "quantization_config",
    "rms_norm_eps",
    "rope_scaling",
    "rope_theta",
    "rope_interleave",
    "routed_scaling_factor",
    "router_aux_loss_coef",
    "router_jitter_noise",
    "scoring_func",
    "seq_aux",
    "shared_expert_intermediate_size",
    "sliding_window",
    "tie_word_embeddings",
    "topk_group",
    "topk_method",
    "torch_dtype",
    "dtype",
    "transformers_version",
    "use_cache",
    "use_sliding_window",
    "v_head_dim",
    "vocab_size",
    "partial_rotary_factor",
    "embd_pdrop",
    "resid_pdrop",
    "tokenizer_class",
    "qk_layernorm",
    "use_qk_norm",
    "mtp_num_hidden_layers",
];

/// Routed-expert fields, meaningful only for the MoE families.
const MOE_KEYS: &[&str] = &[
    "num_local_experts",
    "num_experts",
    "n_routed_experts",
    "num_experts_per_tok",
    "moe_intermediate_size",
];

/// Settings present in the config that change the architecture in ways not modelled.
fn unsupported_settings(c: &Cfg, model_type: &str) -> Result<Vec<String>, WorkloadError> {
    let mut out = Vec::new();
    let unknown: Vec<&str> = c
        .obj
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        out.push(format!("unknown field(s) {}", unknown.join(", ")));
    }
    let moe_family = matches!(
        model_type,
        "mixtral" | "qwen2_moe" | "qwen3_moe" | "deepseek_v2" | "deepseek_v3"
    );
    if !moe_family {
        let moe: Vec<&str> = MOE_KEYS.iter().copied().filter(|k| c.obj.contains_key(*k)).collect();
        if !moe.is_empty() {
            out.push(format!(
                "expert fields {} on a dense `{model_type}` model",
                moe.join(", ")
            ));
        }
    }
    let max_pos = c.opt_u64("max_position_embeddings")?;
    // Sliding-window attention: Mistral applies `sliding_window` whenever it is set; Qwen only
    // with `use_sliding_window`. A window at least as long as the context changes nothing.
    if let Some(w) = c.opt_u64("sliding_window")? {
        let on = match model_type {
            "mistral" | "mixtral" | "llama" => true,
            _ => c.opt_bool("use_sliding_window")?.unwrap_or(false),
        };
        if on && max_pos.is_none_or(|m| w < m) {
            let ctx = max_pos
                .map(|m| format!("the {m}-token context"))
                .unwrap_or_else(|| "the context (no max_position_embeddings given)".into());
            out.push(format!(
                "sliding_window = {w} (sliding-window attention shorter than {ctx})"
            ));
        }
    }
    if let Some(v) = c.present("layer_types") {
        let items = v
            .as_array()
            .ok_or_else(|| c.bad("layer_types", "expected an array of strings"))?;
        let odd: Vec<&str> = items
            .iter()
            .map(|x| x.as_str().unwrap_or("?"))
            .filter(|t| *t != "full_attention")
            .collect();
        if !odd.is_empty() {
            let mut kinds = odd.clone();
            kinds.sort_unstable();
            kinds.dedup();
            out.push(format!(
                "layer_types with {} non-full-attention layers ({})",
                odd.len(),
                kinds.join(", ")
            ));
        }
    }
    if let Some(v) = c.present("mlp_only_layers") {
        match v.as_array() {
            Some(a) if a.is_empty() => {}
            _ => out.push("mlp_only_layers (dense layers interleaved with MoE layers)".to_string()),
        }
    }
    if let Some(step) = c.opt_u64("decoder_sparse_step")? {
        if step != 1 {
            out.push(format!("decoder_sparse_step = {step} (MoE every {step} layers)"));
        }
    }
    if let Some(freq) = c.opt_u64("moe_layer_freq")? {
        if freq != 1 {
            out.push(format!("moe_layer_freq = {freq} (MoE every {freq} layers)"));
        }
    }
    if let Some(w) = c.present("attention_chunk_size") {
        out.push(format!("attention_chunk_size = {w} (chunked attention)"));
    }
    Ok(out)
}

fn spec_name(c: &Cfg, context: &str) -> Result<String, WorkloadError> {
    Ok(match c.opt_str("_name_or_path")? {
        Some(p) if !p.trim().is_empty() => p
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(p)
            .to_ascii_lowercase(),
        _ => context.to_string(),
    })
}

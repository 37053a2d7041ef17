//! Training scenarios: a TOML file, command-line flags over it, and the built-in default
//! (Llama 3.1 70B on `dgx-h100-superpod:su=4`). Everything resolves to a cluster spec string,
//! a model and a [`ParallelPlan`].

use serde::Deserialize;
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

/// The scenario file format (all sections optional; flags override).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Cluster: preset with parameters (`NAME:key=value`) or a cluster TOML path.
    pub cluster: Option<String>,
    /// Model: a registry name or alias.
    pub model: Option<String>,
    /// Or a model given by its sizes (`[model_inline]`).
    pub model_inline: Option<InlineModel>,
    pub fidelity: Option<String>,
    #[serde(default)]
    pub parallel: Parallel,
    #[serde(default)]
    pub batch: Batch,
    #[serde(default)]
    pub training: Training,
}

/// Where a model comes from.
#[derive(Debug, Clone)]
pub enum ModelField {
    Name(String),
    Inline(InlineModel),
}

/// A model given by its sizes (GPT defaults for what is left out).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct InlineModel {
    pub name: Option<String>,
    pub layers: u32,
    pub hidden: u64,
    pub heads: u32,
    pub kv_heads: Option<u32>,
    pub head_dim: Option<u64>,
    pub ffn: Option<u64>,
    pub gated_mlp: Option<bool>,
    pub vocab: Option<u64>,
    pub tied_embeddings: Option<bool>,
    pub experts: Option<u32>,
    pub top_k: Option<u32>,
    pub expert_ffn: Option<u64>,
    pub shared_experts: Option<u32>,
    pub dense_layers: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Parallel {
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub dp: Option<u32>,
    pub cp: Option<u32>,
    pub ep: Option<u32>,
    pub vp: Option<u32>,
    pub gpus: Option<u32>,
    pub sequence_parallel: Option<bool>,
    pub tp_comm_overlap: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub gbs: Option<u32>,
    pub mbs: Option<u32>,
    pub seq: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub precision: Option<String>,
    pub recompute: Option<String>,
    pub zero: Option<u8>,
}

/// The built-in scenario run by a bare `fabricsim train`.
pub const DEFAULT_SCENARIO: &str = r#"# Llama 3.1 70B on a 4-SU DGX H100 SuperPOD (1016 GPUs; the plan uses 992).
cluster = "dgx-h100-superpod:su=4"
model = "llama-3.1-70b"
[parallel]
tp = 8
pp = 4
dp = 31
sequence_parallel = true
[batch]
gbs = 992
mbs = 1
seq = 8192
[training]
precision = "bf16"
recompute = "selective"
zero = 1
"#;

pub fn parse(text: &str, context: &str) -> Result<ScenarioFile, String> {
    toml::from_str(text).map_err(|e| format!("{context}: malformed scenario: {}", e.to_string().trim()))
}

pub fn precision(s: &str) -> Result<Precision, String> {
    match s.to_lowercase().as_str() {
        "bf16" => Ok(Precision::Bf16),
        "fp8" => Ok(Precision::Fp8),
        o => Err(format!("precision `{o}`: expected bf16 or fp8")),
    }
}

pub fn recompute(s: &str) -> Result<Recompute, String> {
    match s.to_lowercase().as_str() {
        "none" => Ok(Recompute::None),
        "selective" => Ok(Recompute::Selective),
        "full" => Ok(Recompute::Full),
        o => Err(format!("recompute `{o}`: expected none, selective or full")),
    }
}

/// Resolve a model field (registry name, or inline sizes).
pub fn model(field: &ModelField, context: &str) -> Result<ModelSpec, String> {
    match field {
        ModelField::Name(n) => workload::registry::lookup(n)
            .ok_or_else(|| format!("{context}: unknown model `{n}` (run `fabricsim models`)")),
        ModelField::Inline(m) => {
            let mut spec = ModelSpec::gpt(
                m.name.as_deref().unwrap_or("custom"),
                m.layers,
                m.hidden,
                m.heads,
                m.vocab.unwrap_or(51200),
                2048,
            );
            if let Some(k) = m.kv_heads {
                spec.kv_heads = k;
            }
            if let Some(d) = m.head_dim {
                spec.head_dim = d;
            }
            if let Some(ffn) = m.ffn {
                spec.ffn = ffn;
            }
            if let Some(g) = m.gated_mlp {
                spec.gated_mlp = g;
            }
            if let Some(t) = m.tied_embeddings {
                spec.tied_embeddings = t;
            }
            if let Some(e) = m.experts {
                spec.moe = Some(workload::Moe {
                    experts: e,
                    top_k: m.top_k.unwrap_or(2),
                    expert_ffn: m.expert_ffn.unwrap_or(spec.ffn),
                    shared_experts: m.shared_experts.unwrap_or(0),
                    shared_ffn: m.expert_ffn.unwrap_or(spec.ffn),
                    dense_layers: m.dense_layers.unwrap_or(0),
                });
            }
            spec.validate(context).map_err(|e| e.to_string())?;
            Ok(spec)
        }
    }
}

/// Resolve the plan from the scenario (flags have already been merged into it).
pub fn plan(s: &ScenarioFile, accels: u64, domain: u32, model: &ModelSpec) -> Result<ParallelPlan, String> {
    let p = &s.parallel;
    let tp = p.tp.unwrap_or_else(|| domain.clamp(1, 8).min(model.heads));
    let pp = p.pp.unwrap_or(1);
    let cp = p.cp.unwrap_or(1);
    let ep = p.ep.unwrap_or(1);
    let vp = p.vp.unwrap_or(1);
    let denom = tp as u64 * pp as u64 * cp as u64;
    if denom == 0 {
        return Err("TP, PP and CP must be at least 1".into());
    }
    let gpus = p.gpus.map(u64::from).unwrap_or(accels);
    let dp = match p.dp {
        Some(d) => d,
        None => {
            let d = gpus / denom;
            if d == 0 {
                return Err(format!(
                    "TP × PP × CP = {tp} × {pp} × {cp} = {denom} exceeds the {gpus} accelerators (set --tp, --pp, --cp)"
                ));
            }
            d as u32
        }
    };
    let mbs = s.batch.mbs.unwrap_or(1);
    let gbs = s.batch.gbs.unwrap_or(dp * mbs * (4 * pp).max(8));
    Ok(ParallelPlan {
        tp,
        pp,
        dp,
        cp,
        ep,
        vp,
        mbs,
        gbs,
        seq: s.batch.seq.unwrap_or(4096),
        zero: s.training.zero.unwrap_or(1),
        recompute: recompute(s.training.recompute.as_deref().unwrap_or("selective"))?,
        precision: precision(s.training.precision.as_deref().unwrap_or("bf16"))?,
        sequence_parallel: p.sequence_parallel.unwrap_or(tp > 1),
        tp_comm_overlap: p.tp_comm_overlap.unwrap_or(false),
    })
}

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
    /// Layers of each pipeline stage (PP entries, or PP × VP chunk sizes with interleaving).
    pub layers_per_stage: Option<Vec<u32>>,
    /// Placement of the parallel dimensions, innermost first (`train --order`'s form,
    /// `tp,cp,ep,pp,dp`); the flag wins over it.
    pub order: Option<String>,
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
    /// HSDP shard group size (ZeRO-3 inside groups of this many DP ranks, replicated across).
    pub hsdp_shard: Option<u32>,
    /// Training framework (`megatron`, `torchtitan`, `torchtitan-compile`, `maxtext`; default by
    /// accelerator).
    pub framework: Option<String>,
}

/// The built-in scenario run by a bare `fabricsim train`. The layout is not given: it follows
/// the derivation rules of [`plan`] (TP 8, PP 4, DP 31 on 1016 GPUs, GBS 992; recompute: the least
/// that fits), so a flag that
/// restates any value changes nothing, and a flag that changes the cluster or the model gets
/// a layout made for them.
pub const DEFAULT_SCENARIO: &str = r#"# Llama 3.1 70B on a 4-SU DGX H100 SuperPOD (1016 GPUs; the plan uses 992).
cluster = "dgx-h100-superpod:su=4"
model = "llama-3.1-70b"
[batch]
mbs = 1
seq = 8192
[training]
precision = "bf16"
zero = 1
"#;

/// The cluster of a scenario that names none.
pub const DEFAULT_CLUSTER: &str = "dgx-h100-superpod:su=4";

/// Micro-batches per pipeline when the global batch is derived: 8 per pipeline stage, so the
/// 1F1B bubble (p−1)/(m+p−1) stays under 12 % and interleaving (m a multiple of PP) is possible.
pub const MICROBATCHES_PER_STAGE: u32 = 8;

/// Share of HBM the model states (weights, gradients, optimizer) may take when PP is derived:
/// the rest is for activations and buffers. Published recipes sit near it: Llama 3 405B with
/// TP 8 · PP 16 on 80 GB (19 GB of states) and Llama 3 70B with TP 8 · PP 4 (13 GB).
pub const STATES_SHARE_OF_HBM: f64 = 0.25;

/// Default sequence length when none is given.
pub const DEFAULT_SEQ: u64 = 4096;

pub fn parse(text: &str, context: &str) -> Result<ScenarioFile, String> {
    toml::from_str(text).map_err(|e| format!("{context}: malformed scenario: {}", e.to_string().trim()))
}

pub fn precision(s: &str) -> Result<Precision, String> {
    match s.to_lowercase().as_str() {
        "bf16" => Ok(Precision::Bf16),
        "fp8" => Ok(Precision::Fp8),
        o => Err(format!(
            "--precision `{o}` (or `precision` in the scenario): expected bf16 or fp8"
        )),
    }
}

pub fn recompute(s: &str) -> Result<Recompute, String> {
    match s.to_lowercase().as_str() {
        "none" => Ok(Recompute::None),
        "selective" => Ok(Recompute::Selective),
        "full" => Ok(Recompute::Full),
        o => Err(format!(
            "--recompute `{o}` (or `recompute` in the scenario): expected none, selective or full"
        )),
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
            if let Some(v) = m.vocab {
                // Given explicitly: 0 is an error (`validate`), not the GPT default.
                spec.vocab = v;
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

/// The smallest power-of-two PP whose model states fit in a quarter of HBM (see [`plan`]).
fn pp_default(s: &ScenarioFile, accels: u64, tp: u32, cp: u32, hbm: f64, model: &ModelSpec) -> (u32, String) {
    let gpus = s.parallel.gpus.map(u64::from).unwrap_or(accels);
    let zero = s.training.zero.unwrap_or(1);
    let budget = STATES_SHARE_OF_HBM * hbm;
    let gib = |b: f64| b / 1073741824.0;
    let mut pp = 1u32;
    loop {
        let dp = s
            .parallel
            .dp
            .unwrap_or_else(|| (gpus / (tp as u64 * pp as u64 * cp as u64)).clamp(1, u32::MAX as u64) as u32);
        let trial = ParallelPlan {
            tp,
            pp,
            dp,
            cp,
            ep: 1,
            vp: 1,
            mbs: 1,
            gbs: dp,
            seq: s.batch.seq.unwrap_or(DEFAULT_SEQ),
            zero,
            recompute: Recompute::Full,
            precision: Precision::Bf16,
            sequence_parallel: tp > 1,
            tp_comm_overlap: false,
            layers_per_stage: None,
            hsdp_shard: s.training.hsdp_shard,
        };
        let m = crate::train::memory(model, &trial);
        let states = m.weights + m.gradients + m.optimizer;
        let next = pp * 2;
        let dp_given = s.parallel.dp.unwrap_or(1) as u64;
        let room = next <= model.layers && tp as u64 * next as u64 * cp as u64 * dp_given <= gpus;
        if states <= budget || !room {
            let why = if states <= budget {
                format!(
                    "the smallest power of two whose model states ({:.1} GiB) fit in a quarter of the {:.0} GB of HBM (the datasheet figure)",
                    gib(states),
                    hbm / 1e9
                )
            } else {
                format!(
                    "the most stages the layers and accelerators allow; model states take {:.1} GiB, above a quarter of HBM",
                    gib(states)
                )
            };
            return (pp, why);
        }
        pp = next;
    }
}

/// A plan resolved from a scenario, with the values that were derived rather than given.
#[derive(Debug, Clone)]
pub struct ResolvedPlan {
    pub plan: ParallelPlan,
    /// One line per derived value: what it is and the rule that gave it.
    pub derived: Vec<String>,
}

/// As [`plan`], on the cluster `f`. On a TPU cluster the defaults are MaxText's
/// (`train::tpu`): the mesh `mesh` (MaxText's `base.yml` default when `None`: FSDP over every
/// chip of a slice, `ici_fsdp_parallelism: -1`, data parallelism over the slices,
/// `dcn_data_parallelism: -1`, no tensor or pipeline parallelism) — not the Megatron recipe.
/// Values the scenario gives (`--tp`, `--pp`, …) still win over the default mesh; a
/// mesh given explicitly cannot be combined with `--tp`, `--cp` or `--dp`.
pub fn plan_on(
    s: &ScenarioFile,
    f: &fabric::Fabric,
    hbm_bytes: f64,
    model: &ModelSpec,
    mesh: Option<crate::train::tpu::MaxTextMesh>,
) -> Result<ResolvedPlan, String> {
    let accels = f.accel_count() as u64;
    if !crate::train::tpu::is_tpu(f) {
        if mesh.is_some() {
            return Err(format!(
                "--ici-*/--dcn-* (MaxText mesh axes) need a TPU cluster; `{}` is not one",
                f.accel_model
            ));
        }
        return plan(s, accels, f.domain_size, hbm_bytes, model);
    }
    let mut s = s.clone();
    let mut notes = Vec::new();
    let given = mesh.is_some();
    let m = mesh.unwrap_or_default();
    let p = &s.parallel;
    if given {
        for (name, v) in [("tp", p.tp), ("cp", p.cp), ("dp", p.dp), ("gpus", p.gpus)] {
            if v.is_some() {
                return Err(format!(
                    "--{name} with --ici-*/--dcn-* mesh axes: give the plan one way (the mesh sets TP, CP and DP)"
                ));
            }
        }
    }
    let uses_default = !given && p.tp.is_none() && p.cp.is_none() && p.dp.is_none() && p.gpus.is_none();
    if given || uses_default {
        let r = m.resolve(f)?;
        let (tp, cp, dp, zero) = r.plan_sizes();
        s.parallel.tp = Some(tp);
        s.parallel.cp = Some(cp);
        s.parallel.dp = Some(dp);
        s.parallel.pp.get_or_insert(1);
        // The mesh decides the sharding: an fsdp axis is ZeRO-3, pure data parallelism none.
        s.training.zero = Some(zero);
        // ici data × ici fsdp inside one slice is HSDP: parameters sharded over the fsdp axis
        // (the inner one in MaxText's mesh order), replicated over data, gradients
        // all-reduced across the replicas. Across slices the DCN handles the replicas.
        if r.ici_data > 1 && r.ici_fsdp > 1 && r.dcn_data * r.dcn_fsdp == 1 {
            s.training.hsdp_shard = Some(r.ici_fsdp);
        }
        notes.push(format!(
            "{}: ici data {} · fsdp {} · sequence {} · tensor {}, dcn data {} · fsdp {} → TP {tp} · CP {cp} · DP {dp} · {}",
            if given { "MaxText mesh" } else { "MaxText's default mesh (base.yml: ici_fsdp -1, dcn_data -1; FSDP over the slice, DP over slices)" },
            r.ici_data,
            r.ici_fsdp,
            r.ici_sequence,
            r.ici_tensor,
            r.dcn_data,
            r.dcn_fsdp,
            if zero == 3 { "ZeRO-3 (FSDP)" } else { "no sharding" }
        ));
        notes.extend(crate::train::tpu::placement_notes(f, &r));
    } else {
        // Some of TP/CP/DP given: MaxText's defaults for the rest (no TP, no PP, FSDP).
        s.parallel.tp.get_or_insert(1);
        s.parallel.pp.get_or_insert(1);
        s.training.zero.get_or_insert(3);
    }
    // XLA overlaps tensor-parallel collectives with the matmuls (async collective fusion,
    // collective matmul; MaxText's scripts turn them on).
    s.parallel.tp_comm_overlap.get_or_insert(true);
    let mut r = plan(&s, accels, f.domain_size, hbm_bytes, model)?;
    r.derived.splice(0..0, notes);
    // MaxText runs each step's batch at once (`per_device_batch_size`; gradient accumulation
    // is opt-in): one micro-batch of GBS / DP unless a micro-batch above 1 or pipelining is
    // asked for (the built-in scenario's MBS 1 is a GPU default).
    let p = &mut r.plan;
    if p.pp == 1 && p.mbs == 1 && p.gbs > p.dp && p.gbs % p.dp == 0 {
        p.mbs = p.gbs / p.dp;
        r.derived.push(format!(
            "MBS {}: GBS {} ÷ DP {}, one micro-batch per step as MaxText runs per_device_batch_size (no gradient accumulation)",
            p.mbs, p.gbs, p.dp
        ));
    }
    Ok(r)
}

/// Largest power of two ≤ `cap` that divides `heads` (at least 1).
fn tp_default(cap: u32, heads: u32) -> u32 {
    let mut t = 1u32;
    while t * 2 <= cap && heads % (t * 2) == 0 {
        t *= 2;
    }
    t
}

/// Resolve the plan from the scenario (flags have already been merged into it). Rules, in one
/// place: TP = the largest power of two ≤ min(scale-up domain, 8) dividing the heads; PP = the
/// smallest power of two whose model states (weights, gradients, optimizer) fit in
/// [`STATES_SHARE_OF_HBM`] of `hbm_bytes`; CP, EP, VP = 1; accelerators = `gpus` or the whole
/// cluster; DP = accelerators ÷ (TP × PP × CP) (rounded down only when `gpus` is not given);
/// MBS = 1; GBS = DP × MBS × 8 × PP; sequence 4096.
pub fn plan(
    s: &ScenarioFile,
    accels: u64,
    domain: u32,
    hbm_bytes: f64,
    model: &ModelSpec,
) -> Result<ResolvedPlan, String> {
    // `gpus` equal to the whole cluster (and no DP to check it against) restates the default
    // (the whole cluster, rounded down to the layout), so it changes nothing.
    let mut s = s.clone();
    if s.parallel.gpus.map(u64::from) == Some(accels) && s.parallel.dp.is_none() {
        s.parallel.gpus = None;
    }
    let s = &s;
    let p = &s.parallel;
    let mut derived = Vec::new();
    for (name, v) in [
        ("tp", p.tp),
        ("pp", p.pp),
        ("cp", p.cp),
        ("ep", p.ep),
        ("vp", p.vp),
        ("dp", p.dp),
        ("gpus", p.gpus),
        ("mbs", s.batch.mbs),
        ("gbs", s.batch.gbs),
    ] {
        if v == Some(0) {
            return Err(format!(
                "--{name} 0 (or `{name} = 0` in the scenario): must be at least 1"
            ));
        }
    }
    if s.batch.seq == Some(0) {
        return Err("--seq 0 (or `seq = 0` in the scenario): must be at least 1".into());
    }
    // Each rule's value is listed when the value used is the rule's, given or not, so restating
    // a default changes nothing.
    let rule_tp = tp_default(domain.clamp(1, 8), model.heads);
    let tp = p.tp.unwrap_or(rule_tp);
    if tp == rule_tp {
        derived.push(format!(
            "TP {tp}: the largest power of two up to min(scale-up domain {domain}, 8) that divides the {} heads",
            model.heads
        ));
    }
    let cp = p.cp.unwrap_or(1);
    let vp = p.vp.unwrap_or(1);
    // A layer split fixes PP: one stage per entry (per VP entries with interleaving). The
    // memory rule's reason is kept when it gives the same PP (restating changes nothing).
    let (rule_pp, why) = {
        let (mem_pp, mem_why) = pp_default(s, accels, tp, cp, hbm_bytes, model);
        match &p.layers_per_stage {
            Some(list) if !list.is_empty() && list.len() as u32 % vp == 0 && list.len() as u32 / vp != mem_pp => (
                list.len() as u32 / vp,
                if vp > 1 {
                    format!("the {} --layers-per-stage entries ÷ VP {vp}", list.len())
                } else {
                    format!("one pipeline stage per --layers-per-stage entry ({})", list.len())
                },
            ),
            _ => (mem_pp, mem_why),
        }
    };
    let pp = p.pp.unwrap_or(rule_pp);
    if pp == rule_pp {
        derived.push(format!("PP {pp}: {why}"));
    }
    let ep = p.ep.unwrap_or(1);
    let denom = tp as u64 * pp as u64 * cp as u64;
    if let Some(g) = p.gpus {
        if g as u64 > accels {
            return Err(format!(
                "--gpus {g} (or `gpus` in the scenario): the cluster has {accels} accelerators"
            ));
        }
    }
    // The rule's DP (also when DP is given: a given value equal to the rule's is listed as
    // following it, so restating a default changes nothing).
    let rule_dp: Option<(u32, String)> = match p.gpus {
        Some(g) if g as u64 % denom == 0 => Some((
            (g as u64 / denom) as u32,
            format!("--gpus {g} ÷ (TP {tp} × PP {pp} × CP {cp})"),
        )),
        Some(_) => None,
        None => u32::try_from(accels / denom).ok().filter(|&d| d > 0).map(|d| {
            (
                d,
                format!(
                    "the cluster's {accels} accelerators ÷ (TP {tp} × PP {pp} × CP {cp}){}",
                    if accels % denom != 0 { ", rounded down" } else { "" }
                ),
            )
        }),
    };
    let dp = match (p.dp, p.gpus) {
        (Some(d), Some(g)) if denom * d as u64 != g as u64 => {
            return Err(format!(
                "--gpus {g} (or `gpus` in the scenario) but TP × PP × CP × DP = {tp} × {pp} × {cp} × {d} = {}: give one of gpus and dp (flag or scenario field), or make them agree",
                denom * d as u64
            ));
        }
        (Some(d), _) => d,
        (None, Some(g)) if g as u64 % denom != 0 => {
            return Err(format!(
                "--gpus {g} (or `gpus` in the scenario): not a multiple of TP × PP × CP = {tp} × {pp} × {cp} = {denom}"
            ));
        }
        (None, _) => match &rule_dp {
            Some((d, _)) => *d,
            None => {
                return Err(format!(
                    "TP × PP × CP = {tp} × {pp} × {cp} = {denom} exceeds the cluster's {accels} accelerators (lower --tp, --pp or --cp)"
                ))
            }
        },
    };
    if let Some((d, why)) = &rule_dp {
        if *d == dp {
            derived.push(format!("DP {d}: {why}"));
        }
    }
    let mbs = s.batch.mbs.unwrap_or(1);
    let rule_gbs = dp as u64 * mbs as u64 * (MICROBATCHES_PER_STAGE as u64 * pp as u64);
    let gbs = match s.batch.gbs {
        Some(g) => g,
        None => u32::try_from(rule_gbs).map_err(|_| {
            format!("the derived global batch {rule_gbs} is beyond what this simulator accepts (give --gbs)")
        })?,
    };
    if gbs as u64 == rule_gbs {
        derived.push(format!(
            "GBS {gbs}: DP {dp} × MBS {mbs} × {MICROBATCHES_PER_STAGE} micro-batches per pipeline stage × PP {pp}"
        ));
    }
    let seq = match s.batch.seq {
        Some(q) => q,
        None => {
            derived.push(format!("sequence length {DEFAULT_SEQ} (default)"));
            DEFAULT_SEQ
        }
    };
    let plan = ParallelPlan {
        tp,
        pp,
        dp,
        cp,
        ep,
        vp,
        mbs,
        gbs,
        seq,
        zero: s.training.zero.unwrap_or(1),
        recompute: recompute(s.training.recompute.as_deref().unwrap_or("selective"))?,
        precision: precision(s.training.precision.as_deref().unwrap_or("bf16"))?,
        sequence_parallel: p.sequence_parallel.unwrap_or(true) && tp > 1,
        tp_comm_overlap: p.tp_comm_overlap.unwrap_or(false),
        layers_per_stage: p.layers_per_stage.clone(),
        hsdp_shard: s.training.hsdp_shard,
    };
    plan.check_layers_per_stage(model.layers)?;
    Ok(ResolvedPlan { plan, derived })
}

/// Parse `--layers-per-stage 7,8,8,…,7` (whole numbers separated by commas). The list is
/// checked against the plan and model by [`ParallelPlan::check_layers_per_stage`].
pub fn parse_layers_per_stage(s: &str) -> Result<Vec<u32>, String> {
    s.split(',')
        .map(str::trim)
        .map(|x| {
            x.parse::<u32>().map_err(|_| {
                format!("--layers-per-stage `{s}`: `{x}` is not a whole number (give layer counts separated by commas, e.g. 7,8,8,7)")
            })
        })
        .collect()
}

/// The model field of a scenario: a name or inline sizes, never both.
pub fn model_field(s: &ScenarioFile, context: &str) -> Result<Option<ModelField>, String> {
    match (&s.model, &s.model_inline) {
        (Some(_), Some(_)) => Err(format!(
            "{context}: both `model` and `[model_inline]` are given; keep one"
        )),
        (Some(n), None) => Ok(Some(ModelField::Name(n.clone()))),
        (None, Some(m)) => Ok(Some(ModelField::Inline(m.clone()))),
        (None, None) => Ok(None),
    }
}

//! One `topo`, `collective` or `train` run from typed, serialisable inputs: the entry points of
//! the outer rooms that are not the command line (`sweep` points, the Python package). Each
//! resolves its inputs with the same rules, in the same order, as the CLI command of the same
//! name, so a run here and the CLI's `--json` for the same values print the same numbers (a CLI
//! test pins it for `train` and `collective`).
//!
//! This module does no I/O: clusters come through a [`LoadCluster`] the caller supplies (the CLI
//! and the Python package read cluster TOML files; presets need no file).
//!
//! Left out, for the CLI only: `--calibration` directories, `--trace`, the MaxText mesh flags
//! (`--ici-*`, `--dcn-*`), `--full`, Hugging Face `config.json` models, and the MoE kernels
//! `moe_dispatch` / `moe_combine` of `collective`.

use crate::collective as fc;
use crate::scenario::{self, ModelField, ScenarioFile};
use crate::train::{self, TrainOptions, TrainReport};
use fabric::topology::clos::ClusterSpec;
use fabric::Fabric;
use serde::{Deserialize, Serialize};

/// Builds a cluster from a SPEC (a preset with parameters or a cluster TOML path), or says why
/// not. `Sync`, so sweep points can build clusters on every core.
pub type LoadCluster<'a> = dyn Fn(&str) -> Result<(ClusterSpec, Fabric), String> + Sync + 'a;

/// Refuse a run whose estimated memory exceeds this unless told otherwise (`--max-memory`'s
/// default): what a workstation can give one run.
pub const DEFAULT_MAX_MEMORY_BYTES: f64 = 2.0 * 1073741824.0;

/// Bytes in GiB (or MiB below one GiB), as `--max-memory` takes them.
fn binary_bytes(b: f64) -> String {
    if b >= 1073741824.0 {
        format!("{:.1} GiB", b / 1073741824.0)
    } else {
        format!("{:.0} MiB", b / 1048576.0)
    }
}

/// A memory limit in bytes, checked as `--max-memory` is (at least 1 MiB).
pub(crate) fn memory_limit(v: Option<f64>) -> Result<f64, String> {
    match v {
        None => Ok(DEFAULT_MAX_MEMORY_BYTES),
        Some(v) if v.is_finite() && v >= 1048576.0 => Ok(v),
        Some(v) => Err(format!("max_memory_bytes {v}: below 1 MiB, no run fits")),
    }
}

/// Refuse up front a run whose estimated memory exceeds the limit, naming both.
pub(crate) fn check_memory(estimate: f64, largest: &str, limit: f64) -> Result<(), String> {
    if estimate > limit {
        return Err(format!(
            "the run would need about {} of memory (largest part: {largest}), above max_memory {}: raise the limit on a machine that has it, or make the job smaller",
            binary_bytes(estimate),
            binary_bytes(limit)
        ));
    }
    Ok(())
}

/// Set the fabric's routing mode when one is given.
fn apply_routing(f: &mut Fabric, routing: Option<&str>) -> Result<(), String> {
    if let Some(r) = routing {
        f.routing = fabric::RoutingMode::parse(r).ok_or_else(|| {
            format!(
                "routing: unknown routing mode `{r}` (known: {})",
                fabric::RoutingMode::names()
            )
        })?;
    }
    Ok(())
}

/// Inputs of a `topo` run (the flags of `fabricsim topo`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopoInputs {
    /// A preset with parameters or a cluster TOML path.
    pub cluster: String,
    /// Power usage effectiveness (1.0–3.0; default: the catalogue's).
    pub pue: Option<f64>,
    /// ecmp, adaptive or spray (default: the cluster's own).
    pub routing: Option<String>,
}

/// `fabricsim topo --json`'s report.
pub fn topo(x: &TopoInputs, load: &LoadCluster) -> Result<crate::topo::TopoReport, String> {
    let pue = x
        .pue
        .map(crate::topo::Pue::new)
        .transpose()
        .map_err(|e| format!("pue: {e}"))?;
    let (cs, mut f) = load(&x.cluster)?;
    apply_routing(&mut f, x.routing.as_deref())?;
    Ok(crate::topo::report(&cs, &f, &crate::topo::TopoOptions { pue }))
}

/// Inputs of a `train` run: the flags of `fabricsim train` that override a scenario's fields
/// (`None`: the scenario's value, else the derived default), and the options of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainInputs {
    /// A preset with parameters or a cluster TOML path.
    pub cluster: Option<String>,
    /// A registry name or alias.
    pub model: Option<String>,
    pub gpus: Option<u32>,
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub dp: Option<u32>,
    pub cp: Option<u32>,
    pub ep: Option<u32>,
    pub vp: Option<u32>,
    pub layers_per_stage: Option<Vec<u32>>,
    pub gbs: Option<u32>,
    pub mbs: Option<u32>,
    pub seq: Option<u64>,
    /// bf16 or fp8.
    pub precision: Option<String>,
    /// none, selective or full.
    pub recompute: Option<String>,
    /// ZeRO stage 0–3 (3 is FSDP).
    pub zero: Option<u8>,
    /// HSDP shard group (implies ZeRO-3).
    pub hsdp_shard: Option<u32>,
    /// megatron, torchtitan, torchtitan-compile or maxtext.
    pub framework: Option<String>,
    /// flow (default) or analytical.
    pub fidelity: Option<String>,
    /// Placement order of the dimensions, innermost first (default tp,cp,ep,pp,dp).
    pub order: Option<String>,
    /// ecmp, adaptive or spray (default: the cluster's own).
    pub routing: Option<String>,
    /// IB SHARP as a candidate (default true).
    pub sharp: Option<bool>,
    /// NVLink SHARP as a candidate (default true).
    pub nvls: Option<bool>,
    /// Max/mean expert load (≥ 1; default 1).
    pub moe_imbalance: Option<f64>,
    /// Memory limit of the run in bytes (default [`DEFAULT_MAX_MEMORY_BYTES`]).
    pub max_memory_bytes: Option<f64>,
    /// What crosses the sites of a multi-site cluster: dp (default), pp or diloco.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_site: Option<String>,
    /// DiLoCo's inner steps between outer synchronisations (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diloco_inner_steps: Option<u32>,
    /// Mixed-accelerator clusters (`mixed:...`): how the job is spread over the pools, pp, dp
    /// or best (default best), as `--mixed-balance`. Run by [`train_mixed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed_balance: Option<String>,
    /// Mixed-accelerator clusters written as a cluster TOML (`[[pool]]` tables): the text of
    /// the file `cluster` names, read by the caller (this module reads no files), or the text
    /// the sweep wrote for its pools resized ([`crate::mixed::MixedSpec::to_toml`]). Used by
    /// [`train_mixed`] in place of reading `cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed_cluster_toml: Option<String>,
}

/// A scenario file's text and its name for messages.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioText<'a> {
    pub text: &'a str,
    pub name: &'a str,
}

/// One training step, resolved and simulated as `fabricsim train [SCENARIO] FLAGS --json`
/// would: `scenario` (`None`: the built-in one) with `x` over it. A plan that does not fit in
/// memory is reported (`fits: false`) rather than refused: the caller decides (the CLI exits 2
/// without `--allow-oom`).
pub fn train(scenario_file: Option<ScenarioText>, x: &TrainInputs, load: &LoadCluster) -> Result<TrainReport, String> {
    let moe_imbalance = x.moe_imbalance.unwrap_or(1.0);
    if !(moe_imbalance.is_finite() && moe_imbalance >= 1.0) {
        return Err(format!(
            "moe_imbalance {moe_imbalance}: must be ≥ 1 (max/mean expert load; 1 = balanced)"
        ));
    }
    let (mut sc, context) = match scenario_file {
        Some(s) => (scenario::parse(s.text, s.name)?, s.name.to_string()),
        None => (
            scenario::parse(scenario::DEFAULT_SCENARIO, "built-in scenario")?,
            "built-in scenario".to_string(),
        ),
    };
    merge_inputs(&mut sc, x);
    let cluster = sc.cluster.clone().unwrap_or_else(|| scenario::DEFAULT_CLUSTER.into());
    let (_, mut f) = load(&cluster)?;
    apply_routing(&mut f, x.routing.as_deref())?;
    let model = match &x.model {
        Some(m) => scenario::model(&ModelField::Name(m.clone()), "model")?,
        None => match scenario::model_field(&sc, &context)? {
            Some(field) => scenario::model(&field, &context)?,
            None => return Err(format!("{context}: no model (give a model name)")),
        },
    };
    let fidelity = match sc.fidelity.as_deref().unwrap_or("flow") {
        "flow" => engine::Fidelity::Flow,
        "analytical" => engine::Fidelity::Analytical,
        o => return Err(format!("fidelity `{o}`: expected flow or analytical")),
    };
    let hbm = train::memory::physical_capacity(&f);
    // torchtitan shards with FSDP2 always: with no ZeRO stage given, a torchtitan run is ZeRO-3
    // (as `fabricsim train`).
    let zero_unset =
        x.zero.is_none() && x.hsdp_shard.is_none() && (scenario_file.is_none() || sc.training.zero.is_none());
    let torchtitan_fsdp = zero_unset
        && sc
            .training
            .framework
            .as_deref()
            .is_some_and(|fw| fw.trim().to_lowercase().starts_with("torchtitan"));
    if torchtitan_fsdp {
        sc.training.zero = Some(3);
    }
    let resolved = scenario::plan_on(&sc, &f, hbm, &model, None)?;
    let mut plan = resolved.plan;
    let mut derived = resolved.derived;
    if torchtitan_fsdp {
        derived.push(
            "ZeRO-3 (FSDP2): torchtitan shards parameters, gradients and optimizer states with FSDP2 in every run"
                .into(),
        );
    }
    if let Some(r) = train::least_recompute_that_fits(&f, &model, &plan) {
        if sc.training.recompute.is_none() {
            plan.recompute = r;
        }
        if plan.recompute == r {
            derived.push(format!(
                "recompute {}: the least activation recomputation with which the plan fits memory",
                format!("{r:?}").to_lowercase()
            ));
        }
    }
    let order = match &x.order {
        Some(o) => train::parse_order(o)?,
        None => train::DEFAULT_ORDER,
    };
    let mut cm = train::compute_model_for(f.accel_model)
        .ok_or_else(|| format!("no compute model for accelerator `{}`", f.accel_model))?;
    cm.framework = match &sc.training.framework {
        Some(name) => workload::Framework::parse(name)?,
        None => workload::Framework::default_for(f.accel_model),
    }
    .profile();
    train::check_plan(&f, &model, &plan)?;
    if x.moe_imbalance.is_some() && moe_imbalance != 1.0 {
        if model.moe.is_none() {
            return Err(format!(
                "moe_imbalance {moe_imbalance}: model `{}` has no experts",
                model.name
            ));
        }
        if moe_imbalance > plan.ep.max(1) as f64 {
            return Err(format!(
                "moe_imbalance {moe_imbalance}: the max/mean expert load of a rank cannot exceed EP {} (every token on one rank)",
                plan.ep
            ));
        }
    }
    let limit = memory_limit(x.max_memory_bytes)?;
    // The baseline (on several sites) runs after the step has let go of its engines.
    let est = train::estimate_train_memory(&f, &model, &plan, false, false);
    check_memory(est.bytes, &est.largest, limit)?;
    let cross_site = train::sites::CrossSite::parse(x.cross_site.as_deref().unwrap_or("dp"), x.diloco_inner_steps)?;
    if cross_site != train::sites::CrossSite::Dp && train::sites::dci(&f).is_none() {
        return Err(format!(
            "cross_site {}: cluster `{cluster}` has one site (use a multi-site cluster)",
            cross_site.name()
        ));
    }
    let opts = TrainOptions {
        fidelity,
        allow_oom: true,
        full: false,
        in_network: collective::InNetwork {
            sharp: x.sharp.unwrap_or(true),
            nvls: x.nvls.unwrap_or(true),
        },
        moe_imbalance,
        cross_site,
    };
    let mut r = train::simulate_ordered(&cluster, &f, &model, &plan, &cm, &opts, order)?;
    train::sites::run_baseline(
        &mut r,
        &cluster,
        &f,
        &mut |spec: &str| {
            let (_, mut b) = load(spec)?;
            apply_routing(&mut b, x.routing.as_deref())?;
            Ok(b)
        },
        &model,
        &plan,
        &cm,
        &opts,
        order,
    )?;
    r.derived = derived;
    // Energy at the default power options (the CLI's without its power flags); none for an
    // accelerator without a TDP in the catalogue.
    r.energy = crate::power::train_energy(&r, &f, &crate::power::PowerOptions::default()).ok();
    Ok(r)
}

/// The mixed spec of `x`: its `mixed_cluster_toml` when given (`cluster` names it in
/// messages), else its `cluster` as a `mixed:` preset.
pub fn mixed_spec(x: &TrainInputs) -> Result<crate::mixed::MixedSpec, String> {
    mixed_spec_of(
        x.cluster.as_deref().unwrap_or_default(),
        x.mixed_cluster_toml.as_deref(),
    )
}

fn mixed_spec_of(cluster: &str, toml: Option<&str>) -> Result<crate::mixed::MixedSpec, String> {
    use crate::mixed;
    if let Some(text) = toml {
        return mixed::parse_toml(text, cluster);
    }
    if !mixed::is_mixed_preset(cluster) {
        return Err(format!(
            "cluster `{cluster}`: not a mixed-accelerator cluster (expected mixed:first=...,second=... or a cluster TOML with [[pool]] tables)"
        ));
    }
    mixed::parse_preset(cluster)
}

/// One training step on a mixed-accelerator cluster (`cluster` a `mixed:` spec, or a cluster
/// TOML whose text is `mixed_cluster_toml`), resolved and balanced as `fabricsim train
/// --cluster C --mixed-balance B --json` would, on the built-in scenario with `x` over it;
/// refused when a pool's part of the run would need more memory than `max_memory_bytes` (the
/// rule of [`train`], pool by pool: see [`crate::mixed::setup::check_memory`]).
pub fn train_mixed(x: &TrainInputs, load: &LoadCluster) -> Result<crate::mixed::MixedRun, String> {
    use crate::mixed;
    let mut sc = scenario::parse(scenario::DEFAULT_SCENARIO, "built-in scenario")?;
    merge_inputs(&mut sc, x);
    let cluster = sc.cluster.clone().unwrap_or_default();
    let spec = mixed_spec_of(&cluster, x.mixed_cluster_toml.as_deref())?;
    let balance = mixed::Balance::parse(x.mixed_balance.as_deref().unwrap_or("best"))?;
    if x.cross_site.is_some() || x.diloco_inner_steps.is_some() {
        return Err(format!(
            "cross_site / diloco_inner_steps: cluster `{cluster}` is a mixed-accelerator cluster of pools, not sites"
        ));
    }
    if x.moe_imbalance.is_some_and(|m| m != 1.0) {
        return Err(format!(
            "moe_imbalance: not modelled on a mixed-accelerator cluster (`{cluster}`)"
        ));
    }
    let model = match &x.model {
        Some(m) => scenario::model(&ModelField::Name(m.clone()), "model")?,
        None => match scenario::model_field(&sc, "built-in scenario")? {
            Some(field) => scenario::model(&field, "built-in scenario")?,
            None => return Err("built-in scenario: no model (give a model name)".into()),
        },
    };
    let fidelity = match sc.fidelity.as_deref().unwrap_or("flow") {
        "flow" => engine::Fidelity::Flow,
        "analytical" => engine::Fidelity::Analytical,
        o => return Err(format!("fidelity `{o}`: expected flow or analytical")),
    };
    // torchtitan shards with FSDP2 always (as `train`).
    if x.zero.is_none()
        && x.hsdp_shard.is_none()
        && sc
            .training
            .framework
            .as_deref()
            .is_some_and(|fw| fw.trim().to_lowercase().starts_with("torchtitan"))
    {
        sc.training.zero = Some(3);
    }
    let job = mixed::MixedJob {
        scenario: &sc,
        model: &model,
        order: x.order.as_deref(),
        fidelity,
        in_network: collective::InNetwork {
            sharp: x.sharp.unwrap_or(true),
            nvls: x.nvls.unwrap_or(true),
        },
        balance,
        max_memory_bytes: Some(memory_limit(x.max_memory_bytes)?),
    };
    let load_pool = |spec: &str| -> Result<Fabric, String> {
        let (_, mut f) = load(spec)?;
        apply_routing(&mut f, x.routing.as_deref())?;
        Ok(f)
    };
    mixed::setup::run_job(&cluster, &spec, &job, &load_pool)
}

/// Inputs over a scenario's fields, one by one, as `fabricsim train`'s flags.
fn merge_inputs(sc: &mut ScenarioFile, x: &TrainInputs) {
    macro_rules! set {
        ($field:expr, $v:expr) => {
            if let Some(v) = $v {
                $field = Some(v);
            }
        };
    }
    set!(sc.cluster, x.cluster.clone());
    set!(sc.parallel.gpus, x.gpus);
    set!(sc.parallel.tp, x.tp);
    set!(sc.parallel.pp, x.pp);
    set!(sc.parallel.cp, x.cp);
    set!(sc.parallel.ep, x.ep);
    set!(sc.parallel.vp, x.vp);
    set!(sc.parallel.dp, x.dp);
    set!(sc.parallel.layers_per_stage, x.layers_per_stage.clone());
    set!(sc.batch.gbs, x.gbs);
    set!(sc.batch.mbs, x.mbs);
    set!(sc.batch.seq, x.seq);
    set!(sc.training.precision, x.precision.clone());
    set!(sc.training.recompute, x.recompute.clone());
    set!(sc.training.zero, x.zero);
    if x.hsdp_shard.is_some() {
        sc.training.zero = Some(3);
    }
    set!(sc.training.hsdp_shard, x.hsdp_shard);
    set!(sc.training.framework, x.framework.clone());
    set!(sc.fidelity, x.fidelity.clone());
}

/// Inputs of a `collective` run (the flags of `fabricsim collective`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectiveInputs {
    /// A preset with parameters or a cluster TOML path.
    pub cluster: String,
    /// all_reduce, reduce_scatter, all_gather, all_to_all, broadcast, reduce or send_recv.
    pub op: String,
    /// Ranks (default: every accelerator of the cluster).
    pub ranks: Option<u32>,
    /// Message sizes in bytes (default: 8 B to 8 GiB, doubling).
    pub sizes_bytes: Option<Vec<f64>>,
    /// flow (default) or analytical.
    pub fidelity: Option<String>,
    /// A forced algorithm (default: chosen per size like NCCL).
    pub algo: Option<String>,
    /// A forced protocol: LL, LL128 or Simple.
    pub proto: Option<String>,
    /// IB SHARP as a candidate (default true).
    pub sharp: Option<bool>,
    /// NVLink SHARP as a candidate (default true).
    pub nvls: Option<bool>,
    /// Flows per ring edge on the scale-out network (1..=64).
    pub channels: Option<u32>,
    /// ecmp, adaptive or spray (default: the cluster's own).
    pub routing: Option<String>,
    /// packed (default) or scattered[:SEED].
    pub placement: Option<String>,
    /// Memory limit of the run in bytes (default [`DEFAULT_MAX_MEMORY_BYTES`]).
    pub max_memory_bytes: Option<f64>,
}

/// `packed` or `scattered[:SEED]` (placement files are for the CLI).
fn placement(p: &str) -> Result<fc::Placement, String> {
    match p {
        "packed" => Ok(fc::Placement::Packed),
        p if p == "scattered" || p.starts_with("scattered:") => {
            let seed = p
                .strip_prefix("scattered:")
                .map(|s| s.parse::<u64>())
                .transpose()
                .map_err(|_| format!("placement: bad seed in `{p}`"))?;
            Ok(fc::Placement::Scattered {
                seed: seed.unwrap_or(1),
            })
        }
        o => Err(format!("placement `{o}`: expected packed or scattered[:SEED]")),
    }
}

/// The collective sweep `fabricsim collective --json` prints for the same values.
pub fn collective(x: &CollectiveInputs, load: &LoadCluster) -> Result<fc::Report, String> {
    if collective::moe::MoeOp::parse(&x.op).is_some() {
        return Err(format!(
            "op `{}`: the MoE kernels run from the command line only (`fabricsim collective --op {}`)",
            x.op, x.op
        ));
    }
    let (_, mut f) = load(&x.cluster)?;
    apply_routing(&mut f, x.routing.as_deref())?;
    let op: collective::Op = x.op.parse().map_err(|e| format!("op: {e}"))?;
    let algo = x
        .algo
        .as_deref()
        .map(collective::parse_algo)
        .transpose()
        .map_err(|e| format!("algo: {e}"))?;
    let protocol = x
        .proto
        .as_deref()
        .map(|p| p.parse::<collective::constants::Protocol>())
        .transpose()
        .map_err(|e| format!("proto: {e}"))?;
    let fidelity = match x.fidelity.as_deref().unwrap_or("flow") {
        "flow" => engine::Fidelity::Flow,
        "analytical" => engine::Fidelity::Analytical,
        other => return Err(format!("fidelity: `{other}` is not flow or analytical")),
    };
    let channels = x.channels.unwrap_or(collective::constants::NET_CHANNELS);
    if channels == 0 || channels > 64 {
        return Err(format!("channels {channels}: must be 1..=64"));
    }
    let in_network = collective::InNetwork {
        sharp: x.sharp.unwrap_or(true),
        nvls: x.nvls.unwrap_or(true),
    };
    if let (Some(a), Some(name)) = (algo, x.algo.as_deref()) {
        for (off, flag, algo) in [
            (!in_network.sharp, "sharp = false", collective::Algo::CollNet),
            (!in_network.nvls, "nvls = false", collective::Algo::Nvls),
        ] {
            if off && a.algo == algo {
                return Err(format!(
                    "algo {name} runs {} but {flag} removes it: drop one of the two",
                    algo.name()
                ));
            }
        }
    }
    let opts = collective::Options {
        fidelity,
        channels,
        protocol,
        in_network,
        ..collective::Options::default()
    };
    let sizes = match &x.sizes_bytes {
        Some(s) => {
            for v in s {
                if !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0) {
                    return Err(format!("sizes_bytes: {v} is not a whole number of bytes ≥ 0"));
                }
            }
            s.clone()
        }
        None => fc::default_sizes(),
    };
    let placement = placement(x.placement.as_deref().unwrap_or("packed"))?;
    let n = x.ranks.unwrap_or(f.accel_count() as u32);
    let rank_list = fc::place(&f, n, &placement)?;
    collective::plan::check_group(&f, &rank_list).map_err(|e| e.to_string())?;
    let limit = memory_limit(x.max_memory_bytes)?;
    let (est, largest) = fc::estimate_memory(&f, &rank_list, op, algo.map(|a| a.algo), opts)?;
    check_memory(est, &largest, limit)?;
    let req = fc::Request {
        cluster: &x.cluster,
        op,
        ranks: &rank_list,
        sizes: &sizes,
        algo,
        opts,
        placement: &placement,
    };
    fc::run(&f, &req).map_err(|e| e.to_string())
}

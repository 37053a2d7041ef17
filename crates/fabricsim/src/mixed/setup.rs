//! From a mixed spec and a job to a run, shared by `train --cluster mixed:...` and `sweep`
//! points on mixed clusters: load every pool's fabric (through the caller's loader, which
//! applies the job's routing), price the pool link, resolve the plan over all accelerators
//! with the smaller scale-up domain and HBM of the pools, and [`super::run`] it.
//!
//! No I/O: pools come through `load`.

use super::{Balance, MixedOptions, MixedReport, MixedSpec, Pool};
use crate::scenario::{self, ScenarioFile};
use engine::Fidelity;
use fabric::Fabric;
use workload::{ModelSpec, ParallelPlan};

/// The job of a mixed run: the scenario with the flags merged into it, and the run's options.
pub struct MixedJob<'a> {
    pub scenario: &'a ScenarioFile,
    pub model: &'a ModelSpec,
    /// Placement order as given (`--order`, else the scenario's; `None`: the default).
    pub order: Option<&'a str>,
    pub fidelity: Fidelity,
    pub in_network: collective::InNetwork,
    pub balance: Balance,
    /// The simulation's memory limit in bytes, checked pool by pool ([`check_memory`]); `None`:
    /// not checked (`train --cluster mixed:...`, as before the sweep applied it).
    pub max_memory_bytes: Option<f64>,
}

/// A mixed run and the plan it ran.
pub struct MixedRun {
    pub report: MixedReport,
    /// The whole job's plan (DP of the pp mode).
    pub plan: ParallelPlan,
    /// Model FLOPs of the step ÷ (step time × Σ over pools of accelerators × dense peak at
    /// the plan's precision), as `train`'s `mfu` over one kind of accelerator.
    pub mfu: f64,
    /// The framework whose kernels priced the step (`megatron`, …).
    pub framework: String,
}

/// Build every pool: its cluster spec, its fabric from `load`, its compute model with
/// `framework`'s profile (the accelerator's default framework when `None`).
pub fn load_pools(
    spec: &MixedSpec,
    framework: Option<&str>,
    load: &dyn Fn(&str) -> Result<Fabric, String>,
) -> Result<(Vec<Pool>, String), String> {
    let mut pools = Vec::new();
    let mut fw_name = String::new();
    for (i, p) in spec.pools.iter().enumerate() {
        let field = format!("pool `{}` (pool {i})", p.name);
        let cs = p.source.cluster_spec(&field)?;
        let f = load(&cs).map_err(|e| format!("{field}: cluster `{cs}`: {e}"))?;
        let mut cm = crate::train::compute_model_for(f.accel_model)
            .ok_or_else(|| format!("{field}: no compute model for accelerator `{}`", f.accel_model))?;
        let fw = match framework {
            Some(name) => workload::Framework::parse(name).map_err(|e| format!("{field}: {e}"))?,
            None => workload::Framework::default_for(f.accel_model),
        };
        cm.framework = fw.profile();
        if i == 0 {
            fw_name = fw.name().to_string();
        }
        pools.push(Pool {
            name: p.name.clone(),
            cluster: cs,
            fabric: f,
            cm,
        });
    }
    Ok((pools, fw_name))
}

/// Run `job` over the pools of `spec` (`cluster` names it in messages and the report).
pub fn run_job(
    cluster: &str,
    spec: &MixedSpec,
    job: &MixedJob,
    load: &dyn Fn(&str) -> Result<Fabric, String>,
) -> Result<MixedRun, String> {
    if spec.pools.len() < 2 {
        return Err(format!(
            "{cluster}: a mixed cluster needs at least two [[pool]] tables, got {}",
            spec.pools.len()
        ));
    }
    let (pools, framework) = load_pools(spec, job.scenario.training.framework.as_deref(), load)?;
    let named: Vec<(&str, &Fabric)> = pools.iter().map(|p| (p.name.as_str(), &p.fabric)).collect();
    let link = super::link::price(spec.link.as_ref(), &named, &format!("{cluster}: pool_link"))?;
    let total: u64 = pools.iter().map(|p| p.fabric.accel_count() as u64).sum();
    // The plan over all accelerators, with the smaller scale-up domain and HBM of the pools.
    let domain = pools.iter().map(|p| p.fabric.domain_size).min().unwrap_or(1);
    let hbm = pools
        .iter()
        .map(|p| crate::train::memory::physical_capacity(&p.fabric))
        .fold(f64::INFINITY, f64::min);
    let mut sc = job.scenario.clone();
    if sc.parallel.gpus.is_none() && sc.parallel.dp.is_none() {
        sc.parallel.gpus = Some(total as u32);
    }
    let plan = scenario::plan(&sc, total, domain, hbm, job.model)?.plan;
    if let Some(limit) = job.max_memory_bytes {
        check_memory(&pools, job.model, &plan, limit)?;
    }
    let order = match job.order.or(sc.parallel.order.as_deref()) {
        Some(o) => crate::train::parse_order(o)?,
        None => crate::train::DEFAULT_ORDER,
    };
    let opts = MixedOptions {
        fidelity: job.fidelity,
        in_network: job.in_network,
        order,
        balance: job.balance,
        recompute_given: sc.training.recompute.is_some(),
    };
    let report = super::run(cluster, &pools, &link, job.model, &plan, &opts)?;
    // CORRECTNESS: the same accounting as `train::report` (causal model FLOPs, dense peak of
    // the precision the GEMMs run in), summed over the pools' accelerators.
    let peak_sum: f64 = pools
        .iter()
        .map(|p| {
            let peak = match plan.precision {
                workload::Precision::Fp8 => p.cm.accel.peak_fp8.unwrap_or(p.cm.accel.peak_bf16),
                workload::Precision::Bf16 => p.cm.accel.peak_bf16,
            };
            p.fabric.accel_count() as f64 * peak
        })
        .sum();
    let model_flops = workload::flops::model_flops_per_token_causal(job.model, plan.seq) * report.tokens_per_step;
    let mfu = model_flops / (report.step_time_s * peak_sum);
    Ok(MixedRun {
        report,
        plan,
        mfu,
        framework,
    })
}

/// Refuse a mixed run whose simulation would need more memory than `limit` (bytes), by the
/// rule ordinary `train` points follow (`train::estimate_memory` against `max_memory`), applied
/// pool by pool: the pools are simulated one at a time (a pool alone, a pool's replicas in the
/// dp mode, its block of stages in the pp mode), so each pool is estimated as running the
/// whole job alone — its whole TP × PP × CP replicas, the job's whole global batch (the most
/// micro-batches its replicas can take) — an upper bound of each piece the run simulates on it.
pub fn check_memory(pools: &[Pool], model: &ModelSpec, plan: &ParallelPlan, limit: f64) -> Result<(), String> {
    let shape = (plan.tp as u64 * plan.pp as u64 * plan.cp as u64).max(1);
    for p in pools {
        let dp = (p.fabric.accel_count() as u64 / shape).max(1) as u32;
        let alone = ParallelPlan {
            dp,
            layers_per_stage: None,
            ..plan.clone()
        };
        let est = crate::train::estimate_memory(&p.fabric, model, &alone, false);
        crate::job::check_memory(est.bytes, &est.largest, limit)
            .map_err(|e| format!("pool `{}` (`{}`): {e}", p.name, p.cluster))?;
    }
    Ok(())
}

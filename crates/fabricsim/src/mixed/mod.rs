//! Mixed-accelerator clusters: one training job over pools of different accelerators, each
//! pool a normal cluster with its own [`Fabric`], joined by a pool link (RDMA at the slower
//! NIC's rate, or CPU forwarding). A `Fabric` has one accelerator model, so a mixed cluster is
//! a composite of fabrics; nothing here changes `train`.
//!
//! ```text
//!  spec::parse_preset / parse_toml   pools + pool link as given                    → MixedSpec
//!  (caller loads each pool's Fabric; link::price prices the link at the slower side) → PoolLink
//!  run                                the job balanced two ways, production-style:
//!    pp  uneven pipeline stages: each pool holds a contiguous block of PP stages; the integer
//!        layer split minimises the slowest stage under every stage's memory limit, with
//!        per-layer forward/backward times from `train`'s own stages (layout → comm → timing)
//!        on each pool's fabric; ONE 1F1B schedule (workload::schedule) with heterogeneous
//!        stage times, the boundary send between pools over the pool link, DP sync per stage
//!        inside its pool
//!    dp  uneven data-parallel micro-batches: whole replicas inside a pool, each pool simulated
//!        by `train` with its micro-batch count; replicas on the faster pool take more; the
//!        gradient all-reduce across pools over the pool link, not overlapped
//!  ideal = Σ over pools of the pool's throughput alone (same TP × PP replica, same
//!  micro-batches per replica); naive = equal layers per stage / equal micro-batches  → MixedReport
//! ```

pub mod link;
pub mod setup;
pub mod spec;
pub mod topo;

use crate::train::{self, comm, layout, timing, TrainOptions};
use engine::{Engine, Fidelity, Task, TaskId};
use fabric::Fabric;
use std::collections::BTreeMap;
use workload::compute::ComputeModel;
use workload::schedule::{self, StageTimes};
use workload::{ModelSpec, ParallelPlan, Recompute};

pub use link::PoolLink;
pub use setup::{MixedJob, MixedRun};
pub use spec::{is_mixed_preset, is_mixed_toml, parse_preset, parse_toml, LinkKind, MixedSpec, PoolSource, PoolSpec};

/// A loaded pool.
pub struct Pool {
    pub name: String,
    /// The cluster spec its fabric was built from.
    pub cluster: String,
    pub fabric: Fabric,
    /// The compute model of its accelerator (with the job's framework profile).
    pub cm: ComputeModel,
}

/// How the job is spread over the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// Uneven pipeline stages.
    Pp,
    /// Uneven data-parallel micro-batches.
    Dp,
    /// Both, the better reported.
    Best,
}

impl Balance {
    pub fn parse(s: &str) -> Result<Balance, String> {
        match s {
            "pp" => Ok(Balance::Pp),
            "dp" => Ok(Balance::Dp),
            "best" => Ok(Balance::Best),
            o => Err(format!("--mixed-balance `{o}`: expected pp, dp or best")),
        }
    }
}

/// Options of a mixed run.
#[derive(Debug, Clone)]
pub struct MixedOptions {
    pub fidelity: Fidelity,
    pub in_network: collective::InNetwork,
    pub order: [usize; 5],
    pub balance: Balance,
    /// The plan's recompute policy was given (else the least that fits is chosen per mode).
    pub recompute_given: bool,
}

/// One pool's part of a balanced run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolPart {
    pub name: String,
    /// Pipeline stages (pp) or data-parallel replicas (dp) the pool holds.
    pub stages: Option<u32>,
    pub replicas: Option<u32>,
    /// pp: layers per stage of the pool, and its share of the model's layers.
    pub layers_per_stage: Option<Vec<u32>>,
    pub layer_share_fraction: Option<f64>,
    /// dp: micro-batches per replica (the most any replica of the pool runs) and the pool's
    /// share of the step's micro-batches.
    pub microbatches_per_replica: Option<u32>,
    pub microbatch_share_fraction: Option<f64>,
    /// pp: the busiest stage's compute stream over the step; dp: the pool's own step (its
    /// pipeline, its in-pool gradient sync and optimizer) before the cross-pool sync.
    pub time_s: f64,
}

/// Where a balanced run's time goes beyond a perfect balance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Losses {
    /// pp: step minus the step with every stage at the continuous-balance time (integer layers).
    pub integer_imbalance_s: f64,
    /// pp: step minus the step with the boundary send priced like an in-pool send.
    pub pool_link_sends_s: f64,
    /// dp: the exposed gradient all-reduce across pools over the pool link.
    pub cross_pool_sync_s: f64,
    /// dp: the slowest pool's step minus the fastest's (integer micro-batches).
    pub pool_step_spread_s: f64,
    /// pp: the memory limit moved layers (the split without it would be faster).
    pub memory_limited: bool,
    /// pp: step of the split the memory limit forbids (`None` when it does not bind).
    pub without_memory_limit_step_s: Option<f64>,
}

/// One balancing mode's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModeResult {
    /// `pp` or `dp`.
    pub balance: String,
    pub recompute: String,
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub efficiency_vs_ideal_fraction: f64,
    pub naive_step_time_s: f64,
    pub naive_tokens_per_s: f64,
    pub naive_split_efficiency_fraction: f64,
    /// pp: layers of every stage, balanced and naive.
    pub layers_per_stage: Option<Vec<u32>>,
    pub naive_layers_per_stage: Option<Vec<u32>>,
    /// pp: whether the naive split fits every stage's memory.
    pub naive_fits: Option<bool>,
    /// pp: one activation send across the pool link (every replica's at once).
    pub pool_link_send_s: Option<f64>,
    pub pools: Vec<PoolPart>,
    pub losses: Losses,
}

/// A pool running the job alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolAlone {
    pub name: String,
    pub cluster: String,
    pub accelerator: String,
    pub gpus: u64,
    pub hbm_bytes: f64,
    /// Data-parallel replicas of the job's TP × PP shape it holds alone.
    pub replicas: u32,
    pub recompute: String,
    pub fits: bool,
    /// Its step on the mixed run's pipeline model with its own balanced integer layer split.
    pub step_time_s: f64,
    /// The same with every stage perfectly balanced (continuous layers): the ideal's.
    pub ideal_step_time_s: f64,
    /// Its share of the ideal: tokens of a step ÷ `ideal_step_time_s`.
    pub tokens_per_s: f64,
    /// `train` itself on the pool alone (even layer split), for reference.
    pub train_step_time_s: f64,
}

/// `train --json` on a mixed cluster.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MixedReport {
    pub schema_version: u32,
    pub cluster: String,
    pub fidelity: String,
    pub model: String,
    pub accelerators_in_cluster: u64,
    pub tp: u32,
    pub pp: u32,
    pub cp: u32,
    /// Data-parallel replicas of the pp mode (each spanning the pools).
    pub dp: u32,
    pub mbs: u32,
    pub gbs: u32,
    pub seq: u64,
    pub tokens_per_step: f64,
    /// The chosen mode (`pp` or `dp`) and why.
    pub balance: String,
    pub balance_basis: String,
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub ideal_tokens_per_s: f64,
    pub efficiency_vs_ideal_fraction: f64,
    pub naive_split_efficiency_fraction: f64,
    pub pool_link: PoolLink,
    pub pools: Vec<PoolAlone>,
    /// Every mode that ran (pp first).
    pub modes: Vec<ModeResult>,
    /// Modes that could not run, with the reason.
    pub modes_skipped: Vec<String>,
    pub notes: Vec<String>,
}

fn rc_name(r: Recompute) -> String {
    format!("{r:?}").to_lowercase()
}

const RECOMPUTES: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];

struct Ctx<'a> {
    pools: &'a [Pool],
    link: &'a PoolLink,
    model: &'a ModelSpec,
    plan: &'a ParallelPlan,
    opts: &'a MixedOptions,
    /// (pool, micro-batches per replica, recompute) → (step s, fits, recompute used).
    alone: BTreeMap<(usize, u32, u8), (f64, bool)>,
    /// (pool, recompute) → its homogeneous balanced layer split.
    splits: BTreeMap<(usize, u8), Option<Vec<u32>>>,
    probes: BTreeMap<(usize, u8), Probe>,
}

impl Ctx<'_> {
    fn replicas_alone(&self, i: usize) -> Result<u32, String> {
        let shape = self.plan.tp as u64 * self.plan.pp as u64 * self.plan.cp as u64;
        let g = self.pools[i].fabric.accel_count() as u64;
        if g % shape != 0 || g < shape {
            return Err(format!(
                "pool `{}`: {g} accelerators is not a multiple of the replica TP × PP × CP = {shape} (--tp/--pp): the pool cannot hold whole replicas",
                self.pools[i].name
            ));
        }
        Ok((g / shape) as u32)
    }

    /// The least recompute (from `from`) with which the pool's alone plan fits; `from` if none.
    fn recompute_alone(&self, i: usize, m: u32) -> Result<Recompute, String> {
        if self.opts.recompute_given {
            return Ok(self.plan.recompute);
        }
        let p = self.alone_plan(i, m, Recompute::None)?;
        Ok(train::least_recompute_that_fits(&self.pools[i].fabric, self.model, &p).unwrap_or(Recompute::Full))
    }

    fn alone_plan(&self, i: usize, m: u32, r: Recompute) -> Result<ParallelPlan, String> {
        let dp = self.replicas_alone(i)?;
        Ok(ParallelPlan {
            dp,
            gbs: dp * m * self.plan.mbs,
            layers_per_stage: None,
            recompute: r,
            ..self.plan.clone()
        })
    }

    /// Pool `i` alone with its own layer split balanced by the same min-max rule as the mixed
    /// pipeline (the first and last stages lighter for the embedding and output layer), under
    /// its memory; the even split where no split fits.
    fn homogeneous_split(&mut self, i: usize, r: Recompute) -> Result<Option<Vec<u32>>, String> {
        if let Some(s) = self.splits.get(&(i, r as u8)) {
            return Ok(s.clone());
        }
        let p = self.alone_plan(i, self.plan.microbatches().max(1), r)?;
        let split = if p.pp > 1 && p.vp <= 1 {
            let pr = self.alone_probe(i, r)?;
            let probes = vec![pr; i + 1];
            let pool_of = vec![i; p.pp as usize];
            let pm = PipeModel {
                pool_of: pool_of.clone(),
                probes: &probes,
                m: p.microbatches(),
                cross: 0.0,
            };
            let caps: Vec<u32> = (0..pool_of.len())
                .map(|s| memory_cap(self, &p, &pool_of, s, r))
                .collect();
            min_max_split(&pm, self.model.layers, &caps)
        } else {
            None
        };
        self.splits.insert((i, r as u8), split.clone());
        Ok(split)
    }

    fn alone_probe(&mut self, i: usize, r: Recompute) -> Result<Probe, String> {
        if let Some(p) = self.probes.get(&(i, r as u8)) {
            return Ok(*p);
        }
        let dp = self.replicas_alone(i)?;
        let pr = probe(self, i, self.plan.pp, dp, r)?;
        self.probes.insert((i, r as u8), pr);
        Ok(pr)
    }

    /// Step time of pool `i` alone with `m` micro-batches per replica on the same pipeline
    /// model as the mixed run (its own balanced integer split, its in-pool DP sync and
    /// optimizer), whether the split fits memory, and the recompute used.
    fn alone(&mut self, i: usize, m: u32) -> Result<(f64, bool, Recompute), String> {
        let r = self.recompute_alone(i, m)?;
        let key = (i, m, r as u8);
        if let Some(&(s, fits)) = self.alone.get(&key) {
            return Ok((s, fits, r));
        }
        let pr = self.alone_probe(i, r)?;
        let split = self.homogeneous_split(i, r)?;
        let fits = split.is_some();
        let split = split.unwrap_or_else(|| even_split(self.model.layers, self.plan.pp));
        let probes = vec![pr; i + 1];
        let pm = PipeModel {
            pool_of: vec![i; self.plan.pp as usize],
            probes: &probes,
            m,
            cross: 0.0,
        };
        let step = pm.run(&split)?.step_time;
        self.alone.insert(key, (step, fits));
        Ok((step, fits, r))
    }

    /// Pool `i` alone with its stages perfectly balanced (continuous layers): the ideal.
    fn alone_ideal(&mut self, i: usize, m: u32) -> Result<f64, String> {
        let r = self.recompute_alone(i, m)?;
        let pr = self.alone_probe(i, r)?;
        let probes = vec![pr; i + 1];
        let pm = PipeModel {
            pool_of: vec![i; self.plan.pp as usize],
            probes: &probes,
            m,
            cross: 0.0,
        };
        let cont = continuous_balance(&pm, self.model.layers);
        Ok(pm.run_times(&cont, None)?.step_time)
    }

    /// `train` itself on pool `i` alone (even split), for reference.
    fn alone_train(&self, i: usize, m: u32) -> Result<(f64, bool), String> {
        let r = self.recompute_alone(i, m)?;
        let p = self.alone_plan(i, m, r)?;
        let pool = &self.pools[i];
        let mut o = TrainOptions::new(self.opts.fidelity);
        o.in_network = self.opts.in_network;
        o.allow_oom = true;
        let rep = train::simulate_ordered(
            &pool.cluster,
            &pool.fabric,
            self.model,
            &p,
            &pool.cm,
            &o,
            self.opts.order,
        )
        .map_err(|e| format!("pool `{}`: {e}", pool.name))?;
        Ok((rep.step_time_s, rep.fits))
    }
}

/// Per-layer times of a pool's stages, from `train`'s own layout → comm → timing stages on the
/// pool's fabric with the pool's block of `k` stages.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// Forward and backward of one layer, the embedding and the output layer, one micro-batch.
    layer: (f64, f64),
    emb: (f64, f64),
    out: (f64, f64),
    dp_per_layer: f64,
    opt_per_layer: f64,
    p2p: f64,
    p2p_bytes: f64,
}

fn probe(c: &Ctx, i: usize, k: u32, dp: u32, r: Recompute) -> Result<Probe, String> {
    let pool = &c.pools[i];
    let p = ParallelPlan {
        pp: k,
        dp,
        gbs: dp * c.plan.microbatches().max(1) * c.plan.mbs,
        vp: 1,
        layers_per_stage: None,
        recompute: r,
        ..c.plan.clone()
    };
    let pl = layout::place(&pool.fabric, c.model, &p, c.opts.order, false)
        .map_err(|e| format!("pool `{}` ({k} stages × DP {dp}): {e}", pool.name))?;
    let cc = comm::price(
        &pool.fabric,
        &pl,
        c.model,
        comm::CommOptions {
            fidelity: c.opts.fidelity,
            in_network: c.opts.in_network,
            moe_imbalance: 1.0,
            fidelity_checks: false,
        },
    )
    .map_err(|e| format!("pool `{}`: {e}", pool.name))?;
    let t = timing::stage_timings(&pl, c.model, &pool.cm, &cc);
    let (mut sum, mut n, mut emb, mut out) = ((0.0, 0.0), 0u32, (0.0, 0.0), (0.0, 0.0));
    let add = |a: &mut (f64, f64), b: &timing::BlockTiming| {
        a.0 += b.forward.total();
        a.1 += b.backward.total();
    };
    for stage in &t.blocks {
        for b in stage.iter().flatten() {
            match b.block {
                timing::Block::Layer(_) => {
                    add(&mut sum, b);
                    n += 1;
                }
                timing::Block::Embedding => add(&mut emb, b),
                timing::Block::Output => add(&mut out, b),
            }
        }
    }
    let layers = c.model.layers as f64;
    Ok(Probe {
        layer: (sum.0 / n.max(1) as f64, sum.1 / n.max(1) as f64),
        emb,
        out,
        dp_per_layer: cc.dp_total * k as f64 / layers,
        opt_per_layer: t.optimizer_s * k as f64 / layers,
        p2p: cc.p2p,
        p2p_bytes: cc.p2p_bytes,
    })
}

/// Delays of the mixed pipeline: in-pool sends at the sending pool's price, the boundary
/// between pools over the pool link; DP buckets on a per-stage stream.
struct MixedHooks<'a> {
    pool_of: &'a [usize],
    p2p_in: &'a [f64],
    /// The boundary send's price (`None`: the sending pool's in-pool price).
    cross: Option<f64>,
    dp: &'a [f64],
    pp: u32,
}

impl schedule::Hooks for MixedHooks<'_> {
    fn p2p(&mut self, e: &mut Engine, _r: u32, from: u32, to: u32, _b: bool, dep: TaskId) -> Result<TaskId, String> {
        let (a, b) = (self.pool_of[from as usize], self.pool_of[to as usize]);
        let seconds = match self.cross {
            Some(x) if a != b => x,
            _ => self.p2p_in[a],
        };
        e.add_task(Task::Delay { seconds }, &[dep]).map_err(|e| e.to_string())
    }
    fn dp(&mut self, e: &mut Engine, stage: u32, _chunk: u32, deps: &[TaskId]) -> Result<(TaskId, TaskId), String> {
        let id = e
            .add_task(
                Task::Compute {
                    resource: self.pp + stage,
                    seconds: self.dp[stage as usize],
                },
                deps,
            )
            .map_err(|e| e.to_string())?;
        Ok((id, id))
    }
}

/// The pipeline of the pp mode for one layer split.
struct PipeModel<'a> {
    pool_of: Vec<usize>,
    probes: &'a [Probe],
    m: u32,
    cross: f64,
}

impl PipeModel<'_> {
    fn pp(&self) -> u32 {
        self.pool_of.len() as u32
    }
    /// Forward and backward of one micro-batch on stage `s` holding `l` layers (`l` may be
    /// fractional for the continuous balance).
    fn stage_fb(&self, s: usize, l: f64) -> (f64, f64) {
        let p = &self.probes[self.pool_of[s]];
        let mut t = (l * p.layer.0, l * p.layer.1);
        if s == 0 {
            t = (t.0 + p.emb.0, t.1 + p.emb.1);
        }
        if s + 1 == self.pool_of.len() {
            t = (t.0 + p.out.0, t.1 + p.out.1);
        }
        t
    }
    fn stage_time(&self, s: usize, l: u32) -> f64 {
        let (f, b) = self.stage_fb(s, l as f64);
        f + b
    }
    /// Step time with stages holding `layers[s]` layers and boundary sends of `cross` s.
    fn run_times(&self, layers: &[f64], cross: Option<f64>) -> Result<schedule::Timeline, String> {
        let pp = self.pp();
        let fwd: Vec<Vec<f64>> = (0..pp as usize).map(|s| vec![self.stage_fb(s, layers[s]).0]).collect();
        let bwd: Vec<Vec<f64>> = (0..pp as usize).map(|s| vec![self.stage_fb(s, layers[s]).1]).collect();
        let dp: Vec<f64> = (0..pp as usize)
            .map(|s| layers[s] * self.probes[self.pool_of[s]].dp_per_layer)
            .collect();
        let opt: Vec<f64> = (0..pp as usize)
            .map(|s| layers[s] * self.probes[self.pool_of[s]].opt_per_layer)
            .collect();
        let st = StageTimes {
            fwd,
            bwd,
            p2p: 0.0,
            dp: dp.iter().map(|&d| vec![d]).collect(),
            optimizer: opt,
        };
        let p2p_in: Vec<f64> = self.probes.iter().map(|p| p.p2p).collect();
        let mut hooks = MixedHooks {
            pool_of: &self.pool_of,
            p2p_in: &p2p_in,
            cross,
            dp: &dp,
            pp,
        };
        let e = Engine::new(vec![1.0], Fidelity::Analytical).map_err(|e| e.to_string())?;
        schedule::simulate_with(pp, 1, self.m, 1, &st, e, &mut hooks)
    }
    fn run(&self, split: &[u32]) -> Result<schedule::Timeline, String> {
        let layers: Vec<f64> = split.iter().map(|&l| l as f64).collect();
        self.run_times(&layers, Some(self.cross))
    }
}

/// The integer split minimising the slowest stage with every stage's layers ≤ `cap[s]`.
fn min_max_split(pm: &PipeModel, total: u32, cap: &[u32]) -> Option<Vec<u32>> {
    let pp = cap.len();
    if cap.contains(&0) || cap.iter().map(|&c| c as u64).sum::<u64>() < total as u64 {
        return None;
    }
    let mut cands: Vec<f64> = (0..pp)
        .flat_map(|s| (1..=cap[s]).map(move |l| (s, l)))
        .map(|(s, l)| pm.stage_time(s, l))
        .collect();
    cands.sort_by(f64::total_cmp);
    let fill = |t: f64| -> Vec<u32> {
        (0..pp)
            .map(|s| {
                (1..=cap[s])
                    .take_while(|&l| pm.stage_time(s, l) <= t)
                    .last()
                    .unwrap_or(0)
            })
            .collect()
    };
    let ok = |v: &[u32]| v.iter().all(|&l| l >= 1) && v.iter().map(|&l| l as u64).sum::<u64>() >= total as u64;
    let (mut lo, mut hi) = (0usize, cands.len() - 1);
    if !ok(&fill(cands[hi])) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if ok(&fill(cands[mid])) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut v = fill(cands[lo]);
    let mut excess = v.iter().map(|&l| l as u64).sum::<u64>() - total as u64;
    while excess > 0 {
        // Take a layer from the slowest stage that has more than one (first of equals).
        let s = (0..pp).filter(|&s| v[s] > 1).max_by(|&a, &b| {
            pm.stage_time(a, v[a])
                .total_cmp(&pm.stage_time(b, v[b]))
                .then(b.cmp(&a))
        })?;
        v[s] -= 1;
        excess -= 1;
    }
    Some(v)
}

/// Most layers stage `s` can hold in the memory of its pool's accelerator (0: not one).
fn memory_cap(c: &Ctx, plan: &ParallelPlan, pool_of: &[usize], s: usize, r: Recompute) -> u32 {
    let pp = pool_of.len() as u32;
    let n = c.model.layers;
    let cap = train::memory::capacity(&c.pools[pool_of[s]].fabric);
    let mut best = 0;
    for l in 1..=n.saturating_sub(pp - 1) {
        let rest = n - l;
        let others = pp - 1;
        let split: Vec<u32> = (0..pp)
            .map(|t| {
                if t as usize == s {
                    l
                } else {
                    let j = if (t as usize) < s { t } else { t - 1 };
                    rest / others.max(1) + u32::from(j < rest % others.max(1))
                }
            })
            .collect();
        let p = ParallelPlan {
            layers_per_stage: Some(split),
            recompute: r,
            vp: 1,
            ..plan.clone()
        };
        if train::memory::stage_memory(c.model, &p, s as u32).total() <= cap {
            best = l;
        } else {
            break;
        }
    }
    best
}

fn even_split(n: u32, pp: u32) -> Vec<u32> {
    (0..pp).map(|s| n / pp + u32::from(s < n % pp)).collect()
}

fn split_fits(c: &Ctx, pool_of: &[usize], split: &[u32], r: Recompute) -> bool {
    let p = ParallelPlan {
        layers_per_stage: Some(split.to_vec()),
        recompute: r,
        vp: 1,
        ..c.plan.clone()
    };
    (0..split.len()).all(|s| {
        train::memory::stage_memory(c.model, &p, s as u32).total()
            <= train::memory::capacity(&c.pools[pool_of[s]].fabric)
    })
}

fn run_pp(c: &mut Ctx, ideal: f64) -> Result<ModeResult, String> {
    let plan = c.plan;
    let npools = c.pools.len();
    if plan.pp < npools as u32 {
        return Err(format!(
            "--pp {}: pipeline balancing needs at least one stage per pool ({npools} pools)",
            plan.pp
        ));
    }
    if plan.vp > 1 {
        return Err(format!(
            "--vp {}: pipeline balancing over pools runs plain 1F1B (VP 1)",
            plan.vp
        ));
    }
    let per_stage = plan.tp as u64 * plan.cp as u64 * plan.dp as u64;
    let mut ks = Vec::new();
    for p in c.pools.iter() {
        let g = p.fabric.accel_count() as u64;
        if g % per_stage != 0 || g == 0 {
            return Err(format!(
                "pool `{}`: {g} accelerators is not a multiple of a stage's TP × CP × DP = {per_stage}: it cannot hold whole pipeline stages",
                p.name
            ));
        }
        ks.push((g / per_stage) as u32);
    }
    let pool_of: Vec<usize> = ks
        .iter()
        .enumerate()
        .flat_map(|(i, &k)| std::iter::repeat_n(i, k as usize))
        .collect();
    let m = plan.microbatches();
    let tokens = plan.gbs as f64 * plan.seq as f64;
    let recomputes: Vec<Recompute> = if c.opts.recompute_given {
        vec![plan.recompute]
    } else {
        RECOMPUTES.to_vec()
    };
    let mut last_err = String::new();
    for r in recomputes {
        let probes: Vec<Probe> = (0..npools)
            .map(|i| probe(c, i, ks[i], plan.dp, r))
            .collect::<Result<_, _>>()?;
        // The boundary send: every rank of the boundary stage of every replica at once, at the
        // slower side.
        let flows = plan.tp as u64 * plan.cp as u64 * plan.dp as u64;
        let bytes = probes.iter().map(|p| p.p2p_bytes).fold(0.0, f64::max);
        let cross = c.link.transfer_s(flows, bytes);
        let pm = PipeModel {
            pool_of: pool_of.clone(),
            probes: &probes,
            m,
            cross,
        };
        let caps: Vec<u32> = (0..pool_of.len())
            .map(|s| memory_cap(c, c.plan, &pool_of, s, r))
            .collect();
        let Some(split) = min_max_split(&pm, c.model.layers, &caps) else {
            last_err = format!(
                "the plan does not fit the pools' memory with recompute {}: most layers per stage {:?} for {} layers (pools {})",
                rc_name(r),
                caps,
                c.model.layers,
                c.pools
                    .iter()
                    .map(|p| format!("`{}` {:.0} GiB", p.name, train::memory::capacity(&p.fabric) / (1u64 << 30) as f64))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            continue;
        };
        let tl = pm.run(&split)?;
        let step = tl.step_time;
        let naive = even_split(c.model.layers, plan.pp);
        let naive_tl = pm.run(&naive)?;
        // Losses: the same split with the boundary send at the in-pool price; every stage at
        // the continuous-balance time; the split without the memory limit.
        let no_link = pm
            .run_times(&split.iter().map(|&l| l as f64).collect::<Vec<_>>(), None)?
            .step_time;
        let cont = continuous_balance(&pm, c.model.layers);
        let cont_step = pm.run_times(&cont, Some(cross))?.step_time;
        let unlimited = min_max_split(&pm, c.model.layers, &vec![c.model.layers; pool_of.len()]);
        let without = match &unlimited {
            Some(u) if u != &split => Some(pm.run(u)?.step_time),
            _ => None,
        };
        let mut parts = Vec::new();
        for (i, p) in c.pools.iter().enumerate() {
            let stages: Vec<usize> = (0..pool_of.len()).filter(|&s| pool_of[s] == i).collect();
            let layers: Vec<u32> = stages.iter().map(|&s| split[s]).collect();
            parts.push(PoolPart {
                name: p.name.clone(),
                stages: Some(ks[i]),
                replicas: None,
                layer_share_fraction: Some(layers.iter().sum::<u32>() as f64 / c.model.layers as f64),
                layers_per_stage: Some(layers),
                microbatches_per_replica: None,
                microbatch_share_fraction: None,
                time_s: stages.iter().map(|&s| tl.busy[s]).fold(0.0, f64::max),
            });
        }
        return Ok(ModeResult {
            balance: "pp".into(),
            recompute: rc_name(r),
            step_time_s: step,
            tokens_per_s: tokens / step,
            efficiency_vs_ideal_fraction: tokens / step / ideal,
            naive_step_time_s: naive_tl.step_time,
            naive_tokens_per_s: tokens / naive_tl.step_time,
            naive_split_efficiency_fraction: tokens / naive_tl.step_time / ideal,
            naive_fits: Some(split_fits(c, &pool_of, &naive, r)),
            layers_per_stage: Some(split),
            naive_layers_per_stage: Some(naive),
            pool_link_send_s: Some(cross),
            pools: parts,
            losses: Losses {
                integer_imbalance_s: (step - cont_step).max(0.0),
                pool_link_sends_s: (step - no_link).max(0.0),
                cross_pool_sync_s: 0.0,
                pool_step_spread_s: 0.0,
                memory_limited: without.is_some_and(|w| w < step),
                without_memory_limit_step_s: without.filter(|&w| w < step),
            },
        });
    }
    Err(last_err)
}

/// Layers per stage, continuous, with every stage's forward + backward equal.
fn continuous_balance(pm: &PipeModel, total: u32) -> Vec<f64> {
    let pp = pm.pool_of.len();
    // t = x_s · layer_s + extra_s for all s, Σ x_s = total.
    let extra = |s: usize| pm.stage_time(s, 0);
    let rate = |s: usize| {
        let l = pm.probes[pm.pool_of[s]].layer;
        l.0 + l.1
    };
    let inv: f64 = (0..pp).map(|s| 1.0 / rate(s)).sum();
    let t = (total as f64 + (0..pp).map(|s| extra(s) / rate(s)).sum::<f64>()) / inv;
    (0..pp).map(|s| ((t - extra(s)) / rate(s)).max(0.0)).collect()
}

#[allow(clippy::needless_range_loop)] // pools, replicas and micro-batches are parallel arrays
fn run_dp(c: &mut Ctx, ideal: f64, m_even: u32) -> Result<ModeResult, String> {
    let plan = c.plan;
    let npools = c.pools.len();
    let dps: Vec<u32> = (0..npools).map(|i| c.replicas_alone(i)).collect::<Result<_, _>>()?;
    let total_mb = (plan.gbs / plan.mbs.max(1)) as u64;
    let dp_total: u64 = dps.iter().map(|&d| d as u64).sum();
    if total_mb < dp_total {
        return Err(format!(
            "--gbs {}: {total_mb} micro-batches cannot give every one of the {dp_total} replicas one",
            plan.gbs
        ));
    }
    for i in 0..npools {
        let (_, fits, r) = c.alone(i, m_even)?;
        if !fits {
            return Err(format!(
                "the plan does not fit pool `{}`'s memory ({} GiB) even with recompute {} (a whole TP {} × PP {} replica per pool)",
                c.pools[i].name,
                (train::memory::capacity(&c.pools[i].fabric) / (1u64 << 30) as f64).round(),
                rc_name(r),
                plan.tp,
                plan.pp
            ));
        }
    }
    // Affine estimate T_i(m) = a + b·m from two runs, then greedy with the real runs.
    let m_hi = m_even.max(2);
    let m_lo = (m_even / 2).max(1).min(m_hi - 1);
    let mut start = Vec::new();
    let mut ab = Vec::new();
    for i in 0..npools {
        let (hi, _, _) = c.alone(i, m_hi)?;
        let (lo, _, _) = c.alone(i, m_lo)?;
        let b = ((hi - lo) / (m_hi - m_lo) as f64).max(1e-12);
        ab.push((lo - b * m_lo as f64, b));
    }
    let inv: f64 = (0..npools).map(|i| dps[i] as f64 / ab[i].1).sum();
    let t_star = (total_mb as f64 + (0..npools).map(|i| dps[i] as f64 * ab[i].0 / ab[i].1).sum::<f64>()) / inv;
    for i in 0..npools {
        start.push((((t_star - ab[i].0) / ab[i].1).floor() as i64).max(1) as u32);
    }
    let assigned = |m: &[u32]| -> u64 { (0..npools).map(|i| dps[i] as u64 * m[i] as u64).sum() };
    let mut m = start;
    while assigned(&m) > total_mb {
        // Floor cannot overshoot unless the floor of 1 did: take from the most loaded pool.
        let mut worst = None;
        for i in 0..npools {
            if m[i] > 1 {
                let t = c.alone(i, m[i])?.0;
                if worst.is_none_or(|(_, w)| t > w) {
                    worst = Some((i, t));
                }
            }
        }
        match worst {
            Some((i, _)) => m[i] -= 1,
            None => break,
        }
    }
    let mut last = 0usize;
    while assigned(&m) < total_mb {
        let mut best: Option<(usize, f64)> = None;
        for i in 0..npools {
            let t = c.alone(i, m[i] + 1)?.0;
            if best.is_none_or(|(_, b)| t < b) {
                best = Some((i, t));
            }
        }
        let (i, _) = best.expect("at least one pool");
        m[i] += 1;
        last = i;
    }
    // The last pool to grow takes the remainder (some of its replicas one micro-batch fewer).
    let mut share: Vec<u64> = (0..npools).map(|i| dps[i] as u64 * m[i] as u64).collect();
    let over = assigned(&m) - total_mb;
    share[last] -= over;
    // Cross-pool gradient all-reduce: 2(S−1)/S of one replica's BF16 gradient over the link,
    // spread over the smaller pool's accelerators, not overlapped.
    let s = npools as f64;
    let grad = c.model.params() * 2.0 * 2.0 * (s - 1.0) / s;
    let flows = c
        .pools
        .iter()
        .map(|p| p.fabric.accel_count() as u64)
        .min()
        .unwrap_or(1)
        .max(1);
    let cross = c.link.transfer_s(flows, grad / flows as f64) + (2.0 * (s - 1.0) - 1.0) * c.link.latency_s;
    let mut times = Vec::new();
    for i in 0..npools {
        times.push(c.alone(i, m[i])?.0);
    }
    let slowest = times.iter().copied().fold(0.0, f64::max);
    let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
    let step = slowest + cross;
    // Naive: every replica the same micro-batches (the remainder on the first replicas).
    let naive_m = total_mb.div_ceil(dp_total) as u32;
    let mut naive_slowest: f64 = 0.0;
    for i in 0..npools {
        naive_slowest = naive_slowest.max(c.alone(i, naive_m)?.0);
    }
    let naive = naive_slowest + cross;
    let tokens = plan.gbs as f64 * plan.seq as f64;
    let r = c.alone(0, m_even)?.2;
    let parts = (0..npools)
        .map(|i| PoolPart {
            name: c.pools[i].name.clone(),
            stages: None,
            replicas: Some(dps[i]),
            layers_per_stage: None,
            layer_share_fraction: None,
            microbatches_per_replica: Some(m[i]),
            microbatch_share_fraction: Some(share[i] as f64 / total_mb as f64),
            time_s: times[i],
        })
        .collect();
    Ok(ModeResult {
        balance: "dp".into(),
        recompute: rc_name(r),
        step_time_s: step,
        tokens_per_s: tokens / step,
        efficiency_vs_ideal_fraction: tokens / step / ideal,
        naive_step_time_s: naive,
        naive_tokens_per_s: tokens / naive,
        naive_split_efficiency_fraction: tokens / naive / ideal,
        layers_per_stage: None,
        naive_layers_per_stage: None,
        naive_fits: None,
        pool_link_send_s: None,
        pools: parts,
        losses: Losses {
            integer_imbalance_s: 0.0,
            pool_link_sends_s: 0.0,
            cross_pool_sync_s: cross,
            pool_step_spread_s: slowest - fastest,
            memory_limited: false,
            without_memory_limit_step_s: None,
        },
    })
}

/// Run the job over the pools. `plan` is the whole job: TP, PP, CP and DP = accelerators ÷
/// (TP × PP × CP) for the pipeline mode (each replica spans the pools), GBS, MBS, sequence.
#[allow(clippy::needless_range_loop)]
pub fn run(
    cluster: &str,
    pools: &[Pool],
    link: &PoolLink,
    model: &ModelSpec,
    plan: &ParallelPlan,
    opts: &MixedOptions,
) -> Result<MixedReport, String> {
    if pools.len() < 2 {
        return Err(format!(
            "{cluster}: a mixed cluster needs at least two pools, got {}",
            pools.len()
        ));
    }
    let total: u64 = pools.iter().map(|p| p.fabric.accel_count() as u64).sum();
    if plan.world() != total {
        return Err(format!(
            "{cluster}: the plan uses {} accelerators (TP {} × PP {} × CP {} × DP {}); the pools hold {total}",
            plan.world(),
            plan.tp,
            plan.pp,
            plan.cp,
            plan.dp
        ));
    }
    if plan.ep > 1 {
        return Err("--ep: expert parallelism over a mixed cluster is not modelled (give --ep 1)".into());
    }
    let mut c = Ctx {
        pools,
        link,
        model,
        plan,
        opts,
        alone: BTreeMap::new(),
        splits: BTreeMap::new(),
        probes: BTreeMap::new(),
    };
    // Ideal: each pool alone with the same replica shape and micro-batches per replica.
    let m_even = plan.microbatches().max(1);
    let mut alone = Vec::new();
    let mut ideal = 0.0;
    let mut notes = Vec::new();
    for i in 0..pools.len() {
        let dp = c.replicas_alone(i)?;
        let (step, fits, r) = c.alone(i, m_even)?;
        let ideal_step = c.alone_ideal(i, m_even)?;
        let (train_step, _) = c.alone_train(i, m_even)?;
        let tokens = (dp * m_even * plan.mbs) as f64 * plan.seq as f64;
        let tps = tokens / ideal_step;
        ideal += tps;
        if !fits {
            notes.push(format!(
                "pool `{}` alone does not fit its memory even with recompute {}: its ideal throughput is that of a run that would not fit",
                pools[i].name,
                rc_name(r)
            ));
        }
        alone.push(PoolAlone {
            name: pools[i].name.clone(),
            cluster: pools[i].cluster.clone(),
            accelerator: pools[i].fabric.accel_model.to_string(),
            gpus: pools[i].fabric.accel_count() as u64,
            hbm_bytes: train::memory::capacity(&pools[i].fabric),
            replicas: dp,
            recompute: rc_name(r),
            fits,
            step_time_s: step,
            ideal_step_time_s: ideal_step,
            tokens_per_s: tps,
            train_step_time_s: train_step,
        });
    }
    let mut modes = Vec::new();
    let mut skipped = Vec::new();
    if matches!(opts.balance, Balance::Pp | Balance::Best) {
        match run_pp(&mut c, ideal) {
            Ok(r) => modes.push(r),
            Err(e) if opts.balance == Balance::Best => skipped.push(format!("pp: {e}")),
            Err(e) => return Err(e),
        }
    }
    if matches!(opts.balance, Balance::Dp | Balance::Best) {
        match run_dp(&mut c, ideal, m_even) {
            Ok(r) => modes.push(r),
            Err(e) if opts.balance == Balance::Best => skipped.push(format!("dp: {e}")),
            Err(e) => return Err(e),
        }
    }
    let Some(best) = modes
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.tokens_per_s.total_cmp(&b.1.tokens_per_s).then(b.0.cmp(&a.0)))
        .map(|(_, m)| m.clone())
    else {
        return Err(format!(
            "{cluster}: neither balancing mode can run: {}",
            skipped.join("; ")
        ));
    };
    let basis = match opts.balance {
        Balance::Best if modes.len() > 1 => "the better of pp and dp (--mixed-balance best)".to_string(),
        Balance::Best => format!("the only mode that runs ({})", skipped.join("; ")),
        _ => "--mixed-balance".to_string(),
    };
    notes.push(
        "ideal = Σ over pools of the pool's tokens/s running the job alone with the same TP × PP replica and micro-batches per replica, its stages perfectly balanced (continuous layers), on the same pipeline model".into(),
    );
    if best.balance == "dp" {
        notes.push("dp: the cross-pool gradient all-reduce is not overlapped with the backward pass".into());
    } else {
        notes.push(
            "pp: per-layer times are the mean of the pool's transformer layers; DP sync and optimizer scale with a stage's layers"
                .into(),
        );
    }
    Ok(MixedReport {
        schema_version: 1,
        cluster: cluster.to_string(),
        fidelity: format!("{:?}", opts.fidelity).to_lowercase(),
        model: model.name.clone(),
        accelerators_in_cluster: total,
        tp: plan.tp,
        pp: plan.pp,
        cp: plan.cp,
        dp: plan.dp,
        mbs: plan.mbs,
        gbs: plan.gbs,
        seq: plan.seq,
        tokens_per_step: plan.gbs as f64 * plan.seq as f64,
        balance: best.balance.clone(),
        balance_basis: basis,
        step_time_s: best.step_time_s,
        tokens_per_s: best.tokens_per_s,
        ideal_tokens_per_s: ideal,
        efficiency_vs_ideal_fraction: best.efficiency_vs_ideal_fraction,
        naive_split_efficiency_fraction: best.naive_split_efficiency_fraction,
        pool_link: link.clone(),
        pools: alone,
        modes,
        modes_skipped: skipped,
        notes,
    })
}

/// One row of a pool-ratio sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepRow {
    pub first_pool_gpus: u32,
    pub second_pool_gpus: u32,
    pub first_pool_share_fraction: f64,
    pub balance: String,
    pub step_time_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub ideal_tokens_per_s: Option<f64>,
    pub efficiency_vs_ideal_fraction: Option<f64>,
    pub naive_split_efficiency_fraction: Option<f64>,
    /// Why the point did not run.
    pub error: Option<String>,
}

/// The sweep rows as CSV.
pub fn sweep_csv(rows: &[SweepRow]) -> String {
    let f = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    let mut s = String::from("first_pool_gpus,second_pool_gpus,first_pool_share_fraction,balance,step_time_s,tokens_per_s,ideal_tokens_per_s,efficiency_vs_ideal_fraction,naive_split_efficiency_fraction,error\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},\"{}\"\n",
            r.first_pool_gpus,
            r.second_pool_gpus,
            r.first_pool_share_fraction,
            r.balance,
            f(r.step_time_s),
            f(r.tokens_per_s),
            f(r.ideal_tokens_per_s),
            f(r.efficiency_vs_ideal_fraction),
            f(r.naive_split_efficiency_fraction),
            r.error.clone().unwrap_or_default().replace('"', "'")
        ));
    }
    s
}

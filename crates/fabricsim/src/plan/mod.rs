//! `fabricsim plan`: the fastest parallel plan for a training job on a cluster.
//!
//! ```text
//!  job (cluster, model, seq, batch, precision, framework) + constraints
//!     │ space::enumerate        every candidate plan × placement order (TPU: MaxText meshes)
//!     │ train::check_plan       drop plans the simulator rejects
//!     │ memory                  drop plans that do not fit HBM (train's own memory model), and
//!     │                         (pruned search) plans that recompute more than they need to fit
//!     │ bound::lower_bound_with critical path of compute + TP collectives, ≤ the simulated step
//!     │ analytical, best first  candidates in bound order until the bound passes the K-th best
//!     │                         (no fidelity checks: they only warn; one memo per thread)
//!     │ re-rank at flow         the K best again at flow fidelity
//!     ▼ families::explain       why each family the winner is not in loses
//! ```
//!
//! Invariants: the bound never exceeds the step time `train` reports for the plan (property
//! test); the outcome is a function of the input alone — candidates are evaluated in fixed-size
//! batches in a fixed order and every ranking sorts on a total key (step time by
//! `f64::total_cmp`, then [`Candidate::key`]), so the thread count changes nothing; the
//! exhaustive search (every candidate at the re-rank fidelity, no pruning) returns the same best
//! plan as the pruned one (tested on 64–512 GPU clusters). Rendering is the CLI's.

pub mod bound;
pub mod families;
pub mod launch;
pub mod published;
pub mod report;
pub mod space;

use crate::train::{self, Breakdown, TrainOptions, TrainReport};
use bound::Bound;
use engine::Fidelity;
use fabric::Fabric;
use rayon::prelude::*;
pub use space::Candidate;
use workload::compute::ComputeModel;
use workload::{Framework, ModelSpec, Precision, Recompute};

/// The fixed parts of a training job the planner searches plans for.
#[derive(Debug, Clone)]
pub struct Job {
    /// The cluster spec as given (preset with parameters or a cluster TOML path).
    pub cluster: String,
    pub fabric: Fabric,
    pub model: ModelSpec,
    /// How a scenario file names the model (`model = "…"`); `None` for a model read from a
    /// Hugging Face config, which a scenario cannot name (the file then says so).
    pub model_name: Option<String>,
    /// The compute model with the framework's profile (as `train` builds it).
    pub cm: ComputeModel,
    pub framework: Framework,
    /// Accelerators the plan must use: TP × CP × PP × DP.
    pub accelerators: u64,
    pub seq: u64,
    /// Global batch, sequences.
    pub gbs: u32,
    pub precision: Precision,
    /// Megatron sequence parallelism whenever TP > 1.
    pub sequence_parallel: bool,
    /// Megatron `--tp-comm-overlap` in every plan.
    pub tp_comm_overlap: bool,
    pub in_network: collective::InNetwork,
}

impl Job {
    /// A job on preset `cluster` with registry model `model` (name or alias) under `framework`
    /// (the accelerator's default when `None`): BF16, sequence parallelism, no TP overlap, every
    /// accelerator of the cluster. The library's entry point (the CLI builds the same from its
    /// flags).
    pub fn for_preset(cluster: &str, model: &str, seq: u64, gbs: u32, framework: Option<&str>) -> Result<Job, String> {
        let (_, fabric) = crate::cluster::load(crate::cluster::Source::Preset(cluster)).map_err(|e| e.to_string())?;
        let spec = crate::scenario::model(&crate::scenario::ModelField::Name(model.into()), "model")?;
        let mut cm = train::compute_model_for(fabric.accel_model)
            .ok_or_else(|| format!("no compute model for accelerator `{}`", fabric.accel_model))?;
        let framework = match framework {
            Some(f) => Framework::parse(f)?,
            None => Framework::default_for(fabric.accel_model),
        };
        cm.framework = framework.profile();
        Ok(Job {
            cluster: cluster.into(),
            accelerators: fabric.accel_count() as u64,
            fabric,
            model: spec,
            model_name: Some(model.into()),
            cm,
            framework,
            seq,
            gbs,
            precision: Precision::Bf16,
            sequence_parallel: true,
            tp_comm_overlap: false,
            in_network: collective::InNetwork::default(),
        })
    }
}

/// Values the search must keep (`--fix k=v`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixed {
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub dp: Option<u32>,
    pub cp: Option<u32>,
    pub ep: Option<u32>,
    pub vp: Option<u32>,
    pub mbs: Option<u32>,
    pub zero: Option<u8>,
    pub recompute: Option<Recompute>,
    pub order: Option<[usize; 5]>,
}

/// Constraints on the plan (`--max-tp`, `--fix`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Largest TP searched (default: twice the scale-up domain).
    pub max_tp: Option<u32>,
    pub fixed: Fixed,
}

/// Keys `--fix` takes.
pub const FIX_KEYS: [&str; 10] = ["tp", "pp", "dp", "cp", "ep", "vp", "mbs", "zero", "recompute", "order"];

impl Constraints {
    /// Add `--fix` items: `pp=16`, or several separated by commas (`tp=8,pp=16`); `order` takes
    /// `train --order`'s form with `-` or `/` between names (`order=tp-cp-ep-dp-pp`).
    pub fn fix(&mut self, s: &str) -> Result<(), String> {
        for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                format!(
                    "--fix `{item}`: expected KEY=VALUE with KEY one of {}",
                    FIX_KEYS.join(", ")
                )
            })?;
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            let num = || -> Result<u32, String> {
                v.parse::<u32>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| format!("--fix {k}={v}: expected a whole number ≥ 1"))
            };
            let f = &mut self.fixed;
            match k.as_str() {
                "tp" => f.tp = Some(num()?),
                "pp" => f.pp = Some(num()?),
                "dp" => f.dp = Some(num()?),
                "cp" => f.cp = Some(num()?),
                "ep" => f.ep = Some(num()?),
                "vp" => f.vp = Some(num()?),
                "mbs" => f.mbs = Some(num()?),
                "zero" => {
                    f.zero = Some(match v {
                        "0" | "1" | "2" | "3" => v.parse().unwrap_or(1),
                        "fsdp" => 3,
                        _ => return Err(format!("--fix zero={v}: expected 0, 1, 2, 3 or fsdp")),
                    })
                }
                "recompute" => f.recompute = Some(crate::scenario::recompute(v).map_err(|e| format!("--fix {e}"))?),
                "order" => {
                    f.order =
                        Some(train::parse_order(&v.replace(['-', '/'], ",")).map_err(|e| format!("--fix order: {e}"))?)
                }
                _ => {
                    return Err(format!(
                        "--fix `{item}`: unknown key `{k}` (valid: {})",
                        FIX_KEYS.join(", ")
                    ))
                }
            }
        }
        Ok(())
    }

    /// ` (--fix tp=8,pp=16, --max-tp 8)`, or nothing without constraints.
    pub fn describe(&self) -> String {
        let f = &self.fixed;
        let mut parts: Vec<String> = Vec::new();
        for (k, v) in [
            ("tp", f.tp),
            ("pp", f.pp),
            ("dp", f.dp),
            ("cp", f.cp),
            ("ep", f.ep),
            ("vp", f.vp),
            ("mbs", f.mbs),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if let Some(z) = f.zero {
            parts.push(format!("zero={z}"));
        }
        if let Some(r) = f.recompute {
            parts.push(format!("recompute={}", format!("{r:?}").to_lowercase()));
        }
        if let Some(o) = f.order {
            parts.push(format!("order={}", space::order_name(o)));
        }
        let mut out = Vec::new();
        if !parts.is_empty() {
            out.push(format!("--fix {}", parts.join(",")));
        }
        if let Some(t) = self.max_tp {
            out.push(format!("--max-tp {t}"));
        }
        if out.is_empty() {
            String::new()
        } else {
            format!(" ({})", out.join(", "))
        }
    }
}

/// How the search runs.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Plans in the outcome.
    pub top: usize,
    /// Candidates re-ranked at `fidelity` (the K best by analytical step time; at least `top`).
    pub rerank: usize,
    /// Fidelity of the final ranking (flow by default).
    pub fidelity: Fidelity,
    /// Every candidate that fits at `fidelity`, no bound pruning and no recompute dominance
    /// (for checking the pruned search on small clusters).
    pub exhaustive: bool,
    /// Candidates whose simulation would need more host memory than this are left out
    /// (`train::estimate_memory`; `train`'s own `--max-memory` default).
    pub max_sim_memory_bytes: f64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            top: 5,
            rerank: 8,
            fidelity: Fidelity::Flow,
            exhaustive: false,
            max_sim_memory_bytes: 2.0 * 1073741824.0,
        }
    }
}

/// Candidates evaluated together in the best-first loop: a constant, so the set evaluated
/// (and the outcome) does not depend on the number of threads.
pub const BATCH: usize = 16;

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// `train` rejects the plan (the message).
    Invalid(String),
    /// Does not fit in accelerator memory.
    OverMemory,
    /// Its simulation would need more host memory than the limit.
    TooBigToSimulate,
    /// The same plan with less recomputation fits (recomputation only adds compute).
    Dominated,
    /// Its lower bound is above the K-th best analytical step time: never evaluated.
    Pruned,
    /// Evaluated (see the entry's evaluations).
    Evaluated,
    /// The simulation failed (the message).
    Failed(String),
}

/// One simulated step, summarised.
#[derive(Debug, Clone)]
pub struct Eval {
    pub step_time_s: f64,
    pub mfu: f64,
    pub memory_bytes_per_accel: f64,
    pub breakdown: Breakdown,
}

impl Eval {
    fn of(r: &TrainReport) -> Eval {
        Eval {
            step_time_s: r.step_time_s,
            mfu: r.mfu,
            memory_bytes_per_accel: r.memory_bytes_per_accel,
            breakdown: r.breakdown.clone(),
        }
    }
}

/// A candidate and what the search learnt about it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub candidate: Candidate,
    pub status: Status,
    /// Memory per accelerator as `train` reports it (0 for invalid plans).
    pub memory_bytes: f64,
    pub bound: Option<Bound>,
    pub analytical: Option<Eval>,
    /// At the final fidelity when it is not analytical.
    pub rerank: Option<Eval>,
}

impl Entry {
    /// The evaluation at the final fidelity, else the analytical one.
    pub fn best_eval(&self) -> Option<&Eval> {
        self.rerank.as_ref().or(self.analytical.as_ref())
    }
}

/// One plan of the outcome.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub candidate: Candidate,
    /// The step at the final fidelity, as `train` reports it.
    pub report: TrainReport,
    pub bound: Bound,
    /// The analytical step time that put it among the re-ranked (None in an exhaustive search).
    pub analytical_step_s: Option<f64>,
}

/// Counts of the search.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub candidates: usize,
    pub invalid: usize,
    pub over_memory: usize,
    pub too_big_to_simulate: usize,
    pub dominated: usize,
    pub pruned_by_bound: usize,
    pub evaluated_analytical: usize,
    pub evaluated_rerank: usize,
    pub failed: usize,
}

/// The search's result: plans best first, the rejected families, counts, every entry.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ranked: Vec<Ranked>,
    pub rejected: Vec<families::Rejected>,
    pub stats: Stats,
    pub fidelity: Fidelity,
    pub entries: Vec<Entry>,
}

/// Progress: `(phase, done, total)`, called from the searching thread between batches.
pub type ProgressFn<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

fn train_options(job: &Job, fidelity: Fidelity) -> TrainOptions {
    TrainOptions {
        fidelity,
        allow_oom: true,
        full: false,
        in_network: job.in_network,
        moe_imbalance: 1.0,
        cross_site: Default::default(),
    }
}

/// One [`train::Evaluator`] per worker thread of the search: the memo of merged collective
/// plans and their runs is shared by the candidates a thread evaluates, the route caches by all
/// (reports are identical to fresh simulations; `tests/train.rs`).
///
/// An evaluation runs parallel work of its own (rayon), and a thread waiting on it may pick
/// up another candidate of the search (work stealing) while it holds its evaluator: slots are
/// taken with `try_lock`, never waited for — a thread takes its own slot when free, else any
/// free slot, else a new evaluator sharing the routes (the same report from any of them).
struct Pool<'f> {
    slots: Vec<std::sync::Mutex<train::Evaluator<'f>>>,
    /// Locked only to make a spare evaluator from (never while evaluating).
    template: std::sync::Mutex<train::Evaluator<'f>>,
}

impl<'f> Pool<'f> {
    fn new(f: &'f Fabric, fidelity_checks: bool) -> Pool<'f> {
        let n = rayon::current_num_threads().max(1) + 1;
        let mut first = train::Evaluator::new(f);
        first.set_fidelity_checks(fidelity_checks);
        // The threads share their route caches: a layout's DeepEP routes and schedule pieces
        // are routed once, whichever thread evaluates its plans.
        let slots: Vec<_> = (0..n).map(|_| std::sync::Mutex::new(first.sharing_routes())).collect();
        Pool {
            slots,
            template: std::sync::Mutex::new(first),
        }
    }

    /// Run `work` with a free evaluator: the calling thread's own slot (the last slot for a
    /// thread outside the pool) when free, else the next free one, else a spare.
    fn with<T>(&self, work: impl FnOnce(&mut train::Evaluator<'f>) -> T) -> T {
        use std::sync::TryLockError;
        let n = self.slots.len();
        let own = rayon::current_thread_index().map_or(n - 1, |i| i % (n - 1));
        for k in 0..n {
            match self.slots[(own + k) % n].try_lock() {
                Ok(mut ev) => return work(&mut ev),
                Err(TryLockError::Poisoned(e)) => return work(&mut e.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let mut spare = self.template.lock().unwrap_or_else(|e| e.into_inner()).sharing_routes();
        work(&mut spare)
    }
}

/// [`evaluate`] through an evaluator (the same report, analytical fidelity checks as set).
fn evaluate_in(ev: &mut train::Evaluator, job: &Job, c: &Candidate, fidelity: Fidelity) -> Result<TrainReport, String> {
    let mut r = ev.simulate_ordered(
        &job.cluster,
        &job.model,
        &c.plan,
        &job.cm,
        &train_options(job, fidelity),
        c.order,
    )?;
    r.timeline = None;
    Ok(r)
}

/// Simulate `c` as `train` would (`train::simulate_ordered`).
pub fn evaluate(job: &Job, c: &Candidate, fidelity: Fidelity) -> Result<TrainReport, String> {
    let mut r = train::simulate_ordered(
        &job.cluster,
        &job.fabric,
        &job.model,
        &c.plan,
        &job.cm,
        &train_options(job, fidelity),
        c.order,
    )?;
    r.timeline = None;
    Ok(r)
}

/// What decides a candidate's groups: its parallel sizes and the order of its dimensions.
fn layout_key(c: &Candidate) -> (u32, u32, u32, u32, u32, [usize; 5]) {
    let p = &c.plan;
    (p.tp, p.cp, p.ep, p.pp, p.dp, c.order)
}

/// Sort key of an evaluation: step time (total order), then the candidate.
fn by_time(a: (f64, &Candidate), b: (f64, &Candidate)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then_with(|| a.1.key().cmp(&b.1.key()))
}

/// Search the plan space of `job` under `cons` (module notes).
pub fn search(job: &Job, cons: &Constraints, opts: &SearchOptions, progress: ProgressFn) -> Result<Outcome, String> {
    let cands = space::enumerate(job, cons)?;
    let f = &job.fabric;
    let capacity = train::memory::capacity(f);
    progress("checking plans and memory", 0, cands.len());
    // Validity and memory, in parallel (order kept).
    let mut entries: Vec<Entry> = cands
        .into_par_iter()
        .map(|c| {
            let mut e = Entry {
                status: Status::Evaluated,
                memory_bytes: 0.0,
                bound: None,
                analytical: None,
                rerank: None,
                candidate: c,
            };
            let p = &e.candidate.plan;
            if let Err(msg) = train::check_plan(f, &job.model, p) {
                e.status = Status::Invalid(msg);
                return e;
            }
            e.memory_bytes = train::memory::memory_on(f, &job.model, p, &job.cm.framework).total();
            if e.memory_bytes > capacity {
                e.status = Status::OverMemory;
            } else if train::estimate_memory(f, &job.model, p, false).bytes > opts.max_sim_memory_bytes {
                e.status = Status::TooBigToSimulate;
            }
            e
        })
        .collect();
    let fits = |e: &Entry| e.status == Status::Evaluated;
    if !entries.iter().any(fits) {
        return Err(nothing_fits(job, cons, &entries, capacity));
    }
    // Recompute dominance: of the same plan with different recompute policies, only the least
    // recomputation that fits is kept (more recomputation only adds compute).
    if !opts.exhaustive {
        let mut least = std::collections::BTreeMap::new();
        for e in entries.iter().filter(|e| fits(e)) {
            let r = space::recompute_rank(e.candidate.plan.recompute);
            let v = least.entry(e.candidate.key_without_recompute()).or_insert(r);
            *v = (*v).min(r);
        }
        for e in entries.iter_mut().filter(|e| e.status == Status::Evaluated) {
            if least
                .get(&e.candidate.key_without_recompute())
                .is_some_and(|&l| space::recompute_rank(e.candidate.plan.recompute) > l)
            {
                e.status = Status::Dominated;
            }
        }
    }
    // Bounds of the live candidates (one per plan; the order does not change it).
    let live: Vec<usize> = (0..entries.len()).filter(|&i| fits(&entries[i])).collect();
    progress("bounding", 0, live.len());
    // Analytical fidelity checks only add warnings, and the analytical pass only ranks.
    let pool = Pool::new(f, false);
    // The TP price depends on the TP groups (the layout) and the activation size only: price
    // each distinct one once (a representative candidate of each), then bound every candidate.
    let tp_key = |c: &Candidate| {
        let p = &c.plan;
        (p.tp, p.cp, p.ep, p.pp, p.dp, c.order, p.mbs, p.seq, p.sequence_parallel)
    };
    let mut reps: std::collections::BTreeMap<_, usize> = std::collections::BTreeMap::new();
    for &i in &live {
        reps.entry(tp_key(&entries[i].candidate)).or_insert(i);
    }
    let reps: Vec<(_, usize)> = reps.into_iter().collect();
    let prices: Vec<Result<f64, String>> = reps
        .par_iter()
        .map(|&(_, i)| {
            let c = &entries[i].candidate;
            pool.with(|ev| ev.tp_per_layer(&job.model, &c.plan, c.order, Fidelity::Analytical, job.in_network))
        })
        .collect();
    let tp_price: std::collections::BTreeMap<_, Result<f64, String>> =
        reps.into_iter().map(|(k, _)| k).zip(prices).collect();
    let bounds: Vec<Result<Bound, String>> = live
        .par_iter()
        .map(|&i| {
            let c = &entries[i].candidate;
            let tp = tp_price[&tp_key(c)].clone()?;
            Ok(bound::lower_bound_with(&job.model, &job.cm, &c.plan, tp))
        })
        .collect();
    for (&i, b) in live.iter().zip(bounds) {
        match b {
            Ok(b) => entries[i].bound = Some(b),
            Err(m) => entries[i].status = Status::Failed(m),
        }
    }
    let live: Vec<usize> = live.into_iter().filter(|&i| fits(&entries[i])).collect();
    let final_fidelity = opts.fidelity;
    // Reports of the re-ranked plans (flow fidelity: no fidelity checks to add), reused for the
    // plans shown instead of simulating them again.
    let mut kept: std::collections::BTreeMap<usize, TrainReport> = std::collections::BTreeMap::new();
    if opts.exhaustive {
        let total = live.len();
        let mut done = 0;
        for chunk in live.chunks(BATCH) {
            progress("simulating every candidate", done, total);
            let evals: Vec<Result<TrainReport, String>> = chunk
                .par_iter()
                .map(|&i| pool.with(|ev| evaluate_in(ev, job, &entries[i].candidate, final_fidelity)))
                .collect();
            for (&i, r) in chunk.iter().zip(evals) {
                record(&mut entries[i], r, final_fidelity);
            }
            done += chunk.len();
        }
    } else {
        // Best first by bound: evaluate analytically in fixed batches until the next bound is
        // above the K-th best analytical step time.
        let mut order = live.clone();
        order.sort_by(|&a, &b| {
            let (ba, bb) = (
                entries[a].bound.unwrap_or_default(),
                entries[b].bound.unwrap_or_default(),
            );
            ba.step_s
                .total_cmp(&bb.step_s)
                .then_with(|| entries[a].candidate.key().cmp(&entries[b].candidate.key()))
        });
        let k = opts.rerank.max(opts.top).max(1);
        let mut best: Vec<f64> = Vec::new();
        let mut next = 0usize;
        while next < order.len() {
            let threshold = if best.len() >= k { best[k - 1] } else { f64::INFINITY };
            let batch: Vec<usize> = order[next..]
                .iter()
                .take(BATCH)
                .copied()
                .take_while(|&i| entries[i].bound.unwrap_or_default().step_s <= threshold)
                .collect();
            if batch.is_empty() {
                break;
            }
            progress("simulating (analytical, best bound first)", next, order.len());
            // Plans of one layout next to each other: the threads split the batch into runs,
            // and an evaluator reuses most of a layout's work (the results do not depend on
            // the order).
            let mut batch = batch;
            batch.sort_by_key(|&i| layout_key(&entries[i].candidate));
            let evals: Vec<Result<TrainReport, String>> = batch
                .par_iter()
                .map(|&i| pool.with(|ev| evaluate_in(ev, job, &entries[i].candidate, Fidelity::Analytical)))
                .collect();
            for (&i, r) in batch.iter().zip(evals) {
                record(&mut entries[i], r, Fidelity::Analytical);
                if let Some(e) = &entries[i].analytical {
                    best.push(e.step_time_s);
                }
            }
            best.sort_by(f64::total_cmp);
            next += batch.len();
        }
        for &i in &order[next..] {
            entries[i].status = Status::Pruned;
        }
        // Re-rank the K best at the final fidelity.
        if final_fidelity != Fidelity::Analytical {
            let mut done: Vec<usize> = order[..next]
                .iter()
                .copied()
                .filter(|&i| entries[i].analytical.is_some())
                .collect();
            done.sort_by(|&a, &b| {
                by_time(
                    (
                        entries[a].analytical.as_ref().map_or(f64::INFINITY, |e| e.step_time_s),
                        &entries[a].candidate,
                    ),
                    (
                        entries[b].analytical.as_ref().map_or(f64::INFINITY, |e| e.step_time_s),
                        &entries[b].candidate,
                    ),
                )
            });
            done.truncate(k);
            progress("re-ranking at flow fidelity", 0, done.len());
            let evals: Vec<Result<TrainReport, String>> = done
                .par_iter()
                .map(|&i| pool.with(|ev| evaluate_in(ev, job, &entries[i].candidate, final_fidelity)))
                .collect();
            for (&i, r) in done.iter().zip(evals) {
                if let Ok(rep) = &r {
                    kept.insert(i, rep.clone());
                }
                record(&mut entries[i], r, final_fidelity);
            }
        }
    }
    // The ranking at the final fidelity.
    let final_eval = |e: &Entry| -> Option<f64> {
        if final_fidelity == Fidelity::Analytical {
            e.analytical.as_ref().map(|x| x.step_time_s)
        } else {
            e.rerank.as_ref().map(|x| x.step_time_s)
        }
    };
    let mut ranked_idx: Vec<usize> = (0..entries.len())
        .filter(|&i| final_eval(&entries[i]).is_some())
        .collect();
    ranked_idx.sort_by(|&a, &b| {
        by_time(
            (final_eval(&entries[a]).unwrap_or(f64::INFINITY), &entries[a].candidate),
            (final_eval(&entries[b]).unwrap_or(f64::INFINITY), &entries[b].candidate),
        )
    });
    if ranked_idx.is_empty() {
        let why = entries
            .iter()
            .find_map(|e| match &e.status {
                Status::Failed(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "no candidate could be simulated".into());
        return Err(format!("no plan could be simulated: {why}"));
    }
    ranked_idx.truncate(opts.top.max(1));
    // Reports of the plans shown (at the final fidelity; the evaluations kept only summaries).
    let reports: Vec<Result<TrainReport, String>> = ranked_idx
        .par_iter()
        .map(|&i| match kept.get(&i) {
            Some(r) => Ok(r.clone()),
            // As `evaluate` (the same report), through the search's evaluators with the
            // fidelity checks on, so the layouts' routes are reused.
            None => pool.with(|ev| {
                let was = ev.fidelity_checks();
                ev.set_fidelity_checks(true);
                let r = evaluate_in(ev, job, &entries[i].candidate, final_fidelity);
                ev.set_fidelity_checks(was);
                r
            }),
        })
        .collect();
    drop(kept);
    let mut ranked = Vec::new();
    for (&i, r) in ranked_idx.iter().zip(reports) {
        let e = &entries[i];
        ranked.push(Ranked {
            candidate: e.candidate.clone(),
            report: r?,
            bound: e.bound.unwrap_or_default(),
            analytical_step_s: e.analytical.as_ref().map(|x| x.step_time_s),
        });
    }
    let mut stats = Stats {
        candidates: entries.len(),
        ..Default::default()
    };
    for e in &entries {
        match &e.status {
            Status::Invalid(_) => stats.invalid += 1,
            Status::OverMemory => stats.over_memory += 1,
            Status::TooBigToSimulate => stats.too_big_to_simulate += 1,
            Status::Dominated => stats.dominated += 1,
            Status::Pruned => stats.pruned_by_bound += 1,
            Status::Failed(_) => stats.failed += 1,
            Status::Evaluated => {}
        }
        stats.evaluated_analytical += usize::from(e.analytical.is_some());
        stats.evaluated_rerank += usize::from(e.rerank.is_some());
    }
    let rejected = families::explain(&entries, &ranked[0], ranked_idx[0], capacity);
    Ok(Outcome {
        ranked,
        rejected,
        stats,
        fidelity: final_fidelity,
        entries,
    })
}

fn record(e: &mut Entry, r: Result<TrainReport, String>, fidelity: Fidelity) {
    match r {
        Ok(r) => {
            let ev = Eval::of(&r);
            if fidelity == Fidelity::Analytical {
                e.analytical = Some(ev);
            } else {
                e.rerank = Some(ev);
            }
        }
        Err(m) => e.status = Status::Failed(m),
    }
}

/// The error when no candidate fits: the least memory any valid plan needs.
fn nothing_fits(job: &Job, cons: &Constraints, entries: &[Entry], capacity: f64) -> String {
    let gib = |b: f64| b / 1073741824.0;
    let least = entries
        .iter()
        .filter(|e| e.status == Status::OverMemory)
        .min_by(|a, b| {
            a.memory_bytes
                .total_cmp(&b.memory_bytes)
                .then_with(|| a.candidate.key().cmp(&b.candidate.key()))
        });
    match least {
        Some(e) => format!(
            "no plan of {} on {} accelerators fits in memory{}: the least any needs is {:.1} GiB per accelerator ({}), against {:.1} GiB of HBM (use more accelerators, a shorter sequence, or fewer constraints)",
            job.model.name,
            job.accelerators,
            cons.describe(),
            gib(e.memory_bytes),
            e.candidate.label(),
            gib(capacity)
        ),
        None => {
            let first = entries.iter().find_map(|e| match &e.status {
                Status::Invalid(m) => Some(m.clone()),
                Status::TooBigToSimulate => Some(format!(
                    "{}: its simulation would exceed the host memory limit",
                    e.candidate.label()
                )),
                _ => None,
            });
            format!(
                "no valid plan of {} on {} accelerators{}: {}",
                job.model.name,
                job.accelerators,
                cons.describe(),
                first.unwrap_or_else(|| "no candidate".into())
            )
        }
    }
}

//! `fabricsim train`: one training step of an LLM with a parallel plan on a cluster, as a
//! pipeline of typed stages, each in its own module:
//!
//! ```text
//!  plan + model + fabric
//!     │ layout::place         check the plan, place TP/CP/EP/PP/DP over accelerators  → Placement
//!     │ comm::price           every collective and send on the fabric, all groups at once → CommCosts
//!     │ timing::stage_timings forward/backward per (stage, chunk), per-stage work      → StageTimings
//!     │ pipeline::run         1F1B / interleaved schedule on the engine, DP sync as flows → Timeline
//!     ▼ report::assemble      step time, MFU, breakdown, memory, busiest links         → TrainReport
//! ```
//!
//! Each stage reads only the outputs of the stages before it; new mechanisms (TPU plans, MoE
//! dispatch, FSDP prefetch) plug in at the stage they belong to. Rendering the report (text,
//! Chrome traces) is the CLI's.

pub mod comm;
pub mod layout;
pub mod memory;
pub mod moe;
pub mod pipeline;
pub mod report;
pub mod sites;
pub mod timing;
pub mod tpu;

use engine::Fidelity;
use fabric::Fabric;
use workload::compute::ComputeModel;
use workload::{ModelSpec, ParallelPlan};

pub use comm::{concurrent, merge_groups, CommCost, CommOptions};
pub use layout::{
    check_plan, estimate_memory, estimate_train_memory, parse_order, Layout, MemoryEstimate, DEFAULT_ORDER, ORDER_NAMES,
};
pub use memory::{least_recompute_that_fits, memory};
pub use report::{Breakdown, LinkReport, MemoryReport, PlanReport, TrainReport};
pub use timing::compute_model_for;

/// Options of a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub fidelity: Fidelity,
    pub allow_oom: bool,
    /// Simulate every data-parallel replica's pipeline and put every pipeline send and gradient
    /// synchronisation on the fabric as it happens (no symmetry shortcut). For small cases and
    /// for checking the shortcut.
    pub full: bool,
    /// In-network reductions the collectives may use (`--sharp`, `--nvls`; both on by default
    /// — NCCL_COLLNET_ENABLE and NCCL_NVLS_ENABLE).
    pub in_network: collective::InNetwork,
    /// Max/mean expert load of MoE layers (`--moe-imbalance`, ≥ 1; 1 = balanced).
    pub moe_imbalance: f64,
    /// What crosses the sites on a multi-site fabric (`--cross-site`; ignored elsewhere).
    pub cross_site: sites::CrossSite,
}

impl TrainOptions {
    /// `fidelity`, plan must fit, one representative pipeline, every in-network reduction on.
    pub fn new(fidelity: Fidelity) -> TrainOptions {
        TrainOptions {
            fidelity,
            allow_oom: false,
            full: false,
            in_network: collective::InNetwork::default(),
            moe_imbalance: 1.0,
            cross_site: sites::CrossSite::Dp,
        }
    }
}

/// Simulate one step with the default placement order (TP, CP, EP, PP, DP, innermost first).
pub fn simulate(
    cluster: &str,
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
) -> Result<TrainReport, String> {
    simulate_ordered(cluster, f, model, plan, cm, opts, DEFAULT_ORDER)
}

/// Simulate one step with placement `order` (coordinate indices tp=0, cp=1, ep=2, pp=3,
/// dp=4, innermost first).
pub fn simulate_ordered(
    cluster: &str,
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
    order: [usize; 5],
) -> Result<TrainReport, String> {
    simulate_with_progress(cluster, f, model, plan, cm, opts, order, &mut |_, _, _| {})
}

/// The stages of a step, in order, as [`simulate_with_progress`] reports them.
pub const STAGES: [&str; 4] = [
    "pricing communication on the fabric",
    "stage timings",
    "running the pipeline schedule",
    "writing the report",
];

/// As [`simulate_ordered`], calling `progress(done, total, next)` before each stage (the CLI
/// draws a bar with an ETA from it).
#[allow(clippy::too_many_arguments)]
pub fn simulate_with_progress(
    cluster: &str,
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
    order: [usize; 5],
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<TrainReport, String> {
    simulate_memo(
        cluster,
        f,
        model,
        plan,
        cm,
        opts,
        order,
        progress,
        &mut comm::Memo::new(),
        true,
    )
}

/// Evaluates many plans one after another on one fabric, reusing what earlier evaluations
/// computed (a planner's inner loop).
///
/// [`simulate_ordered`] prices every collective from scratch; an `Evaluator` keeps a
/// [`comm::Memo`] for its fabric: merged plans of a collective on a set of groups, their
/// simulations at each fidelity, and DeepEP dispatch/combine runs. Plans that share groups
/// (the same TP, the same layout with another micro-batch, recompute or ZeRO stage) then skip
/// those simulations. Every report is identical to [`simulate_ordered`]'s for the same
/// arguments (the reused results are those the engine would compute again; tested).
/// Memory grows with the distinct collectives seen; drop the evaluator to free it (its route
/// caches and layout groups, bounded, live as long as any evaluator sharing them:
/// [`Evaluator::sharing_routes`]). One per thread (it is `Send`, not shared; evaluators made
/// with `sharing_routes` share only those caches, which lock).
pub struct Evaluator<'f> {
    fabric: &'f Fabric,
    memo: comm::Memo,
    fidelity_checks: bool,
}

impl<'f> Evaluator<'f> {
    /// An evaluator for plans on `fabric`.
    pub fn new(fabric: &'f Fabric) -> Evaluator<'f> {
        Evaluator {
            fabric,
            memo: comm::Memo::across_plans(),
            fidelity_checks: true,
        }
    }

    /// Another evaluator on the same fabric that shares this one's route caches (DeepEP's
    /// routes and the schedule's data-parallel pieces, `comm::Memo::across_plans_sharing`):
    /// for the threads of one search, which then route each layout once between them. Each
    /// keeps its own memo of merged plans and runs; reports are those of fresh simulations.
    pub fn sharing_routes(&self) -> Evaluator<'f> {
        Evaluator {
            fabric: self.fabric,
            memo: comm::Memo::across_plans_sharing(&self.memo),
            fidelity_checks: self.fidelity_checks,
        }
    }

    /// Keep at most `flows` plan flows in the memo's merged plans between plans (default
    /// `comm::Memo::MAX_MERGED_FLOWS`); past it the next plan starts the memo afresh (the same
    /// reports). For tests and memory-tight searches.
    pub fn set_memo_bound(&mut self, flows: usize) {
        self.memo.set_max_merged_flows(flows);
    }

    /// Run the analytical fidelity checks (on by default; [`CommOptions::fidelity_checks`]).
    /// Off, analytical reports have the same times and no fidelity-check warnings: for a
    /// planner whose survivors are simulated at flow fidelity anyway.
    pub fn set_fidelity_checks(&mut self, on: bool) {
        self.fidelity_checks = on;
    }

    /// Let runs take their flows' paths from another plan's routes kept in the same step
    /// (on by default; the reports are the same either way — off, for tests comparing both).
    pub fn set_route_lending(&mut self, on: bool) {
        self.memo.set_route_lending(on);
    }

    /// Whether it runs the analytical fidelity checks ([`Evaluator::set_fidelity_checks`]).
    pub fn fidelity_checks(&self) -> bool {
        self.fidelity_checks
    }

    /// `CommCosts::tp_per_layer` of `plan` placed in `order` at `fidelity`, as a simulation
    /// of it would price it (the same value), without pricing the rest of the step.
    pub fn tp_per_layer(
        &mut self,
        model: &ModelSpec,
        plan: &ParallelPlan,
        order: [usize; 5],
        fidelity: Fidelity,
        in_network: collective::InNetwork,
    ) -> Result<f64, String> {
        self.memo.bound();
        let mut placement = layout::place(self.fabric, model, plan, order, false)?;
        if let Some(g) = self.memo.groups_memo() {
            placement.layout.share_groups(g);
        }
        comm::tp_per_layer_with(
            self.fabric,
            &placement,
            model,
            comm::CommOptions {
                fidelity,
                in_network,
                moe_imbalance: 1.0,
                fidelity_checks: false,
            },
            &mut self.memo,
        )
    }

    /// What was reused across plans so far through this evaluator's route caches (with the
    /// evaluators sharing them: [`Evaluator::sharing_routes`]): DeepEP runs whose routes were
    /// kept, and schedule pieces (data-parallel syncs of one stage) already routed or priced
    /// (for tests and benchmarks; the reports are the same either way).
    pub fn route_reuse(&self) -> (u64, u64) {
        self.memo.route_reuse()
    }

    /// Schedule pieces that took only their paths from the route caches (plans differing in
    /// virtual stages; not under adaptive routing, whose routes read bytes).
    pub fn piece_path_reuse(&self) -> u64 {
        self.memo.piece_path_reuse()
    }

    /// Priced schedule pieces taken from the route caches for pieces whose bytes differ by a
    /// power of two (plans differing in virtual stages 1, 2, 4, …; analytical fidelity, not
    /// under adaptive routing), their durations scaled exactly.
    pub fn piece_scaled_reuse(&self) -> u64 {
        self.memo.piece_scaled_reuse()
    }

    /// A search's steps whose data-parallel synchronisations the memo had already run and
    /// whose routes an earlier step kept, so the schedule's pieces took their paths from
    /// those (the reports are the same either way).
    pub fn past_route_claims(&self) -> u64 {
        self.memo.past_route_claims()
    }

    /// Flows whose paths a run took from the routes another plan's run kept in the same step's
    /// pricing (a data-parallel all-gather after its reduce-scatter; the reports are the same
    /// either way).
    pub fn lent_flows(&self) -> u64 {
        self.memo.lent_flows()
    }

    /// Flows of the schedule's data-parallel pieces that took their paths from the routes the
    /// step's pricing kept for the same plan (not routed a second time; the reports are the
    /// same either way), over every evaluator sharing this one's route caches
    /// ([`Evaluator::sharing_routes`]).
    pub fn piece_pre_reuse(&self) -> u64 {
        self.memo.piece_pre_reuse()
    }

    /// The fabric it evaluates on.
    pub fn fabric(&self) -> &'f Fabric {
        self.fabric
    }

    /// [`simulate_ordered`] on the evaluator's fabric.
    pub fn simulate_ordered(
        &mut self,
        cluster: &str,
        model: &ModelSpec,
        plan: &ParallelPlan,
        cm: &ComputeModel,
        opts: &TrainOptions,
        order: [usize; 5],
    ) -> Result<TrainReport, String> {
        self.memo.bound();
        simulate_memo(
            cluster,
            self.fabric,
            model,
            plan,
            cm,
            opts,
            order,
            &mut |_, _, _| {},
            &mut self.memo,
            self.fidelity_checks,
        )
    }
}

/// The step time [`simulate_ordered`] reports (`TrainReport::step_time_s`, the same value bit
/// for bit), computed without what only the report reads: no fidelity checks, the flat
/// data-parallel synchronisations not simulated on their own (the schedule runs them as flows
/// and reads only their algorithm and latency: [`comm::Memo::step_time_only`]), no report.
/// What a multi-site run's single-site baseline needs (`sites::baseline_step`).
pub fn step_time_ordered(
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
    order: [usize; 5],
) -> Result<f64, String> {
    let mut memo = comm::Memo::step_time_only();
    let (.., timeline) = step_parts(f, model, plan, cm, opts, order, &mut |_, _, _| {}, &mut memo, false)?;
    Ok(timeline.step_time)
}

#[allow(clippy::too_many_arguments)]
fn simulate_memo(
    cluster: &str,
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
    order: [usize; 5],
    progress: &mut dyn FnMut(usize, usize, &str),
    memo: &mut comm::Memo,
    fidelity_checks: bool,
) -> Result<TrainReport, String> {
    let (placement, comm, timings, timeline) =
        step_parts(f, model, plan, cm, opts, order, progress, memo, fidelity_checks)?;
    progress(3, STAGES.len(), STAGES[3]);
    Ok(report::assemble(report::Inputs {
        cluster,
        fabric: f,
        model,
        compute: cm,
        fidelity: opts.fidelity,
        placement: &placement,
        comm: &comm,
        timings: &timings,
        timeline,
        in_network: opts.in_network,
    }))
}

/// Placement, pricing, stage timings and the schedule of one step: everything but the report.
#[allow(clippy::too_many_arguments)]
fn step_parts(
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
    order: [usize; 5],
    progress: &mut dyn FnMut(usize, usize, &str),
    memo: &mut comm::Memo,
    fidelity_checks: bool,
) -> Result<
    (
        layout::Placement,
        comm::CommCosts,
        timing::StageTimings,
        workload::schedule::Timeline,
    ),
    String,
> {
    let n = STAGES.len();
    // `--cross-site pp` on a multi-site fabric: pipeline stages outermost (split over the
    // sites), DP inside a site.
    let multi_site = sites::dci(f).is_some();
    let order = if multi_site && opts.cross_site == sites::CrossSite::Pp {
        [0, 1, 2, 4, 3]
    } else {
        order
    };
    if multi_site && opts.cross_site == sites::CrossSite::Pp {
        let n_sites = f.site_count();
        if plan.pp < n_sites || plan.pp % n_sites != 0 {
            return Err(format!(
                "--cross-site pp: --pp {} does not split over the {n_sites} sites (PP must be a multiple of the sites, each site holding whole stages)",
                plan.pp
            ));
        }
    }
    let mut placement = layout::place(f, model, plan, order, opts.full)?;
    if let Some(g) = memo.groups_memo() {
        placement.layout.share_groups(g);
    }
    placement.cross_site = opts.cross_site;
    if matches!(opts.cross_site, sites::CrossSite::Diloco { .. }) && multi_site && placement.layout.slices() < 2 {
        return Err(
            "--cross-site diloco: the plan's data-parallel replicas do not split evenly over the sites (DP must be a multiple of the sites, placed outermost)".into(),
        );
    }
    progress(0, n, STAGES[0]);
    // The pricing keeps the routes of the flat data-parallel synchronisations' plans for the
    // schedule (until `clear_plan_routes` below, or here on an error).
    memo.start_plan_routes();
    let priced = comm::price_pending(
        f,
        &placement,
        model,
        comm::CommOptions {
            fidelity: opts.fidelity,
            in_network: opts.in_network,
            moe_imbalance: opts.moe_imbalance,
            fidelity_checks,
        },
        memo,
    );
    let (mut comm, pending) = priced.inspect_err(|_| memo.clear_plan_routes())?;
    progress(1, n, STAGES[1]);
    // The fidelity checks' flow runs (analytical fidelity) on other threads while this one
    // computes the stage timings and the schedule, which read the costs but not the checks;
    // the checks' second pass then runs on the costs as priced and its checks join the step's,
    // as `price_with` would have given them (same values).
    progress(2, n, STAGES[2]);
    let caps = &placement.caps;
    // The checks' second pass reads the costs as priced; the schedule may change them (a TPU
    // torus's overlap of the gradient sync scales the DP costs), so it gets them as they are.
    let priced = pending.as_ref().map(|_| comm.clone());
    // The routes the pricing kept for the data-parallel synchronisations' plans, which the
    // schedule's pieces take instead of routing the same flows again.
    let pre: Vec<pipeline::PreRouted> = comm
        .dp
        .iter()
        .map(|sync| {
            let algo = sync.cost.algo?;
            memo.plan_routes_for(
                &placement.layout.groups(sync.dim),
                sync.op,
                algo,
                collective::constants::NET_CHANNELS,
            )
        })
        .collect();
    memo.clear_plan_routes();
    let piece_routes = memo.piece_routes();
    let mut schedule = || {
        let timings = timing::stage_timings(&placement, model, cm, &comm);
        // TPU: XLA overlaps the gradient synchronisation with the backward pass.
        tpu::overlap_gradient_sync(f, &placement, model, &timings, &mut comm);
        let timeline = pipeline::run_cached(
            f,
            &placement,
            &timings,
            &comm,
            opts.fidelity,
            opts.full,
            piece_routes,
            &pre,
        );
        (timings, timeline)
    };
    let (checks, (timings, timeline)) = match pending {
        None => (None, schedule()),
        // Inside a rayon worker (a sweep's or planner's), `rayon::join`: a worker blocked on a
        // thread whose jobs wait for a free worker could deadlock the pool.
        Some(p) if rayon::current_thread_index().is_some() => {
            let (c, r) = rayon::join(|| p.run(f, caps), schedule);
            (Some(c), r)
        }
        // Elsewhere (`train`), the schedule stays on this thread (and its allocator arena).
        Some(p) => std::thread::scope(|s| {
            let h = s.spawn(|| p.run(f, caps));
            let r = schedule();
            (Some(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))), r)
        }),
    };
    // The checks' errors first, as when they ran before the schedule.
    if let (Some(runs), Some(mut priced)) = (checks, priced) {
        comm::finish_checks(f, &placement, model, &mut priced, memo, runs)?;
        comm.fidelity_checks = priced.fidelity_checks;
    }
    let timeline = timeline?;
    Ok((placement, comm, timings, timeline))
}

#[cfg(test)]
mod tests {
    use super::*;
    /// `comm`'s test plan with GBS two micro-batches per replica.
    fn plan(tp: u32, pp: u32, dp: u32, ep: u32, zero: u8) -> ParallelPlan {
        ParallelPlan {
            gbs: 2 * dp * pp,
            ..comm::tests::plan(tp, pp, dp, ep, zero)
        }
    }

    /// A step's fidelity checks are the ones `comm::price` gives on the same placement: their
    /// flow runs overlap the schedule and their second pass follows it (`step_parts`), on the
    /// costs as priced — also on a TPU torus, whose schedule scales the DP costs (XLA overlap)
    /// that the second pass reads to choose what it checks.
    #[test]
    fn step_checks_are_the_priced_checks() {
        let cases = [
            ("tpu-v5p-pod:slice=4x4x4", "llama-3.1-8b", plan(4, 1, 16, 1, 1)),
            ("tpu-v5p-pod:slice=4x4x4", "llama-3.1-8b", plan(1, 1, 64, 1, 3)),
            ("tpu-v5p-pod:slice=4x4x4", "llama-3.1-8b", plan(1, 1, 64, 1, 0)),
            ("tpu-v5p-pod:slice=4x4x4", "llama-3.1-8b", plan(4, 2, 8, 1, 1)),
            ("fat-tree:gpus=64", "mixtral-8x7b", plan(2, 4, 8, 4, 1)),
        ];
        for (cluster, name, p) in cases {
            let f = crate::cluster::load(crate::cluster::Source::Preset(cluster))
                .unwrap_or_else(|e| panic!("{cluster}: {e}"))
                .1;
            let m = workload::registry::lookup(name).unwrap();
            let cm = compute_model_for(f.accel_model).unwrap();
            let opts = TrainOptions {
                allow_oom: true,
                ..TrainOptions::new(Fidelity::Analytical)
            };
            let mut memo = comm::Memo::new();
            let (pl, step, _, _) = step_parts(
                &f,
                &m,
                &p,
                &cm,
                &opts,
                DEFAULT_ORDER,
                &mut |_, _, _| {},
                &mut memo,
                true,
            )
            .unwrap_or_else(|e| panic!("{cluster} {name}: {e}"));
            let priced = comm::price(
                &f,
                &pl,
                &m,
                CommOptions {
                    fidelity: opts.fidelity,
                    in_network: opts.in_network,
                    moe_imbalance: opts.moe_imbalance,
                    fidelity_checks: true,
                },
            )
            .unwrap();
            assert!(!priced.fidelity_checks.is_empty(), "{cluster} {name}: no checks");
            assert_eq!(
                format!("{:?}", step.fidelity_checks),
                format!("{:?}", priced.fidelity_checks),
                "{cluster} {name} {p:?}"
            );
        }
    }
}

//! The analytical **lower bound** on a plan's step time that the search prunes with.
//!
//! The bound prices every layer's kernels with the same compute model and the same framework
//! profile as `train` ([`crate::train::timing::stage_timings`]), with every communication but
//! the tensor-parallel collectives free (below), and then takes the critical path that no
//! pipeline schedule can beat: pipeline stage `s` cannot start before the first micro-batch's forward has passed
//! stages `0..s` of some chunk, is then busy for all its micro-batches' forward and backward
//! passes, and after its last backward that micro-batch's backward still has to pass stages
//! `s-1..0`. So
//!
//! ```text
//! step ≥ max over stages s of  min_c Σ_{s'<s} fwd[s'][c]  +  m · Σ_c (fwd[s][c] + bwd[s][c])  +  min_c Σ_{s'<s} bwd[s'][c]
//! ```
//!
//! plus the optimizer step, which stage 0 runs after its last backward (the schedule's
//! optimizer task waits for the stage's last compute).
//!
//! Communication enters in one form only: the **tensor-parallel collectives** of each layer,
//! priced exactly as `train` prices them (`train::comm::tp_per_layer_with`, analytical
//! fidelity, all groups at once: the same value the analytical step uses) and exposed exactly
//! as `train`'s stage timings expose them (the whole collective without `--tp-comm-overlap`,
//! the part beyond the layer's GEMMs with it). They sit on the compute stream of every pass,
//! so the critical path above contains them. [`lower_bound`] leaves them out (free
//! communication); [`lower_bound_with`] takes their price. Every other communication (pipeline
//! sends, expert, context-parallel, ZeRO-3, the data-parallel synchronisation) stays free,
//! which only lowers the bound.
//!
//! CORRECTNESS: the bound never exceeds the step time `train` reports at analytical fidelity
//! (the pruning compares it with analytical steps), and with the TP price of either fidelity
//! it never exceeds the step at that fidelity; a property test (`tests/plan.rs`) checks both on
//! random models, plans and clusters. It costs one pass over the layers plus, for the TP
//! price, one analytical collective per distinct TP layout (memoised): thousands of candidates
//! per second.

use crate::train::comm::CommCosts;
use crate::train::layout::{Layout, Placement};
use workload::compute::ComputeModel;
use workload::{ModelSpec, ParallelPlan};

/// A lower bound on the step time of a plan and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bound {
    /// The bound, seconds.
    pub step_s: f64,
    /// The busy time (kernels, recomputation included) of the stage that sets the bound.
    pub compute_s: f64,
    /// The unavoidable fill and drain of the pipeline in front of and behind that stage.
    pub bubble_s: f64,
    /// Exposed tensor-parallel collectives of that stage's own passes (in the bound).
    pub tp_comm_s: f64,
    /// The optimizer step after the last backward (in the bound).
    pub optimizer_s: f64,
}

/// The lower bound of `plan` with every communication free (module notes). PRECONDITION:
/// `check_plan` passed.
pub fn lower_bound(model: &ModelSpec, cm: &ComputeModel, plan: &ParallelPlan) -> Bound {
    lower_bound_with(model, cm, plan, 0.0)
}

/// The lower bound of `plan` with the tensor-parallel collectives of one layer's forward
/// priced at `tp_per_layer_s` (`CommCosts::tp_per_layer` of the step; module notes).
/// PRECONDITION: `check_plan` passed.
pub fn lower_bound_with(model: &ModelSpec, cm: &ComputeModel, plan: &ParallelPlan, tp_per_layer_s: f64) -> Bound {
    let p = plan;
    let placement = Placement {
        plan: p.clone(),
        layout: Layout::new(
            p.tp,
            p.cp,
            p.ep,
            p.pp,
            (p.dp / p.ep.max(1)).max(1),
            crate::train::DEFAULT_ORDER,
        ),
        microbatches: p.microbatches(),
        world: p.world(),
        caps: Vec::new(),
        cross_site: Default::default(),
    };
    let comm = CommCosts {
        tp_per_layer: tp_per_layer_s,
        ..CommCosts::default()
    };
    let t = crate::train::timing::stage_timings(&placement, model, cm, &comm);
    let opt = t.optimizer_s;
    let m = p.microbatches() as f64;
    let stages = t.fwd.len();
    let chunks = t.fwd.first().map_or(0, Vec::len);
    let mut best = Bound::default();
    for s in 0..stages {
        let busy: f64 = m * (0..chunks).map(|c| t.fwd[s][c] + t.bwd[s][c]).sum::<f64>();
        let head = (0..chunks)
            .map(|c| (0..s).map(|q| t.fwd[q][c]).sum::<f64>())
            .fold(f64::INFINITY, f64::min);
        let tail = (0..chunks)
            .map(|c| (0..s).map(|q| t.bwd[q][c]).sum::<f64>())
            .fold(f64::INFINITY, f64::min);
        let (head, tail) = if chunks == 0 { (0.0, 0.0) } else { (head, tail) };
        let step = head + busy + tail + opt;
        if step > best.step_s {
            let tp = t.stages[s].tp_comm_s;
            best = Bound {
                step_s: step,
                compute_s: busy - tp,
                bubble_s: head + tail,
                tp_comm_s: tp,
                optimizer_s: opt,
            };
        }
    }
    best
}

//! The analytical **lower bound** on a plan's step time that the search prunes with.
//!
//! The bound prices every layer's kernels with the same compute model and the same framework
//! profile as `train` ([`crate::train::timing::stage_timings`]), but with every communication
//! free ([`CommCosts::default`]), and then takes the critical path that no pipeline schedule
//! can beat: pipeline stage `s` cannot start before the first micro-batch's forward has passed
//! stages `0..s` of some chunk, is then busy for all its micro-batches' forward and backward
//! passes, and after its last backward that micro-batch's backward still has to pass stages
//! `s-1..0`. So
//!
//! ```text
//! step ≥ max over stages s of  min_c Σ_{s'<s} fwd[s'][c]  +  m · Σ_c (fwd[s][c] + bwd[s][c])  +  min_c Σ_{s'<s} bwd[s'][c]
//! ```
//!
//! Leaving out every communication, the optimizer step and the data-parallel synchronisation
//! only lowers it. CORRECTNESS: the bound never exceeds the step time `train` reports at
//! either fidelity (a property test, `tests/plan.rs`, checks it on random models, plans and
//! clusters). It costs one pass over the layers (no fabric, no engine): thousands of
//! candidates per second.

use crate::train::comm::CommCosts;
use crate::train::layout::{Layout, Placement};
use workload::compute::ComputeModel;
use workload::{ModelSpec, ParallelPlan};

/// A lower bound on the step time of a plan and its two parts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bound {
    /// The bound, seconds.
    pub step_s: f64,
    /// The busy time (kernels, recomputation included) of the stage that sets the bound.
    pub compute_s: f64,
    /// The unavoidable fill and drain of the pipeline in front of and behind that stage.
    pub bubble_s: f64,
}

/// The lower bound of `plan` (module notes). PRECONDITION: `check_plan` passed.
pub fn lower_bound(model: &ModelSpec, cm: &ComputeModel, plan: &ParallelPlan) -> Bound {
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
    };
    let t = crate::train::timing::stage_timings(&placement, model, cm, &CommCosts::default());
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
        let step = head + busy + tail;
        if step > best.step_s {
            best = Bound {
                step_s: step,
                compute_s: busy,
                bubble_s: head + tail,
            };
        }
    }
    best
}

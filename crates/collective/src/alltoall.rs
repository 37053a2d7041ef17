//! Direct and pairwise exchanges. all_to_all: each rank sends `size / n` to every other rank
//! (the nccl-tests size is the whole n-rank buffer). On full meshes the same direct pattern
//! serves reduce_scatter and all_gather (and all_reduce as one then the other), so that every
//! link of the mesh is used.

use crate::constants::LinkClass;
use crate::plan::{single_domain, Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::Fabric;

fn class(f: &Fabric, ranks: &[u32]) -> LinkClass {
    if single_domain(f, ranks) {
        LinkClass::NvLink
    } else {
        LinkClass::Net
    }
}

fn exchange(f: &Fabric, ranks: &[u32], bytes: f64) -> Phase {
    let n = ranks.len();
    let mut ph = Phase::default();
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let mut pf = PlanFlow::new(ranks[i], ranks[j], bytes);
                pf.pxn = true;
                ph.flows.push(pf);
            }
        }
    }
    ph.steps(class(f, ranks), 1);
    ph
}

/// Most flows one exchange may create (n·(n−1)); beyond it the flow model would need more memory
/// than a workstation has (≈ 100 bytes per flow-hop).
pub const MAX_EXCHANGE_FLOWS: u64 = 20_000_000;

fn check_size(algo: Algo, op: Op, n: usize) -> Result<(), CollectiveError> {
    let flows = n as u64 * (n as u64).saturating_sub(1);
    if flows > MAX_EXCHANGE_FLOWS {
        let max_n = ((MAX_EXCHANGE_FLOWS as f64).sqrt()) as u64;
        return Err(CollectiveError::Unsupported {
            algo,
            op,
            why: format!(
                "an exchange among {n} ranks is {flows} flows, beyond the limit of {MAX_EXCHANGE_FLOWS}: use groups of at most {max_n} ranks (e.g. --ranks), as expert-parallel all-to-alls are"
            ),
        });
    }
    Ok(())
}

pub fn direct(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    check_size(Algo::Direct, op, ranks.len())?;
    let n = ranks.len() as f64;
    let mut plan = Plan::new(op, Algo::Direct);
    match op {
        Op::AllToAll | Op::ReduceScatter | Op::AllGather => plan.phases.push(exchange(f, ranks, size / n)),
        Op::AllReduce => {
            plan.phases.push(exchange(f, ranks, size / n));
            plan.phases.push(exchange(f, ranks, size / n));
        }
        _ => {
            return Err(CollectiveError::Unsupported {
                algo: Algo::Direct,
                op,
                why: "serves all_to_all, reduce_scatter, all_gather, all_reduce".into(),
            })
        }
    }
    Ok(plan)
}

pub fn pairwise(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    check_size(Algo::Pairwise, op, ranks.len())?;
    if op != Op::AllToAll {
        return Err(CollectiveError::Unsupported {
            algo: Algo::Pairwise,
            op,
            why: "serves all_to_all".into(),
        });
    }
    let n = ranks.len();
    let mut plan = Plan::new(op, Algo::Pairwise);
    for k in 1..n {
        let mut ph = Phase::default();
        for i in 0..n {
            let mut pf = PlanFlow::new(ranks[i], ranks[(i + k) % n], size / n as f64);
            pf.pxn = true;
            ph.flows.push(pf);
        }
        ph.steps(class(f, ranks), 1);
        plan.phases.push(ph);
    }
    Ok(plan)
}

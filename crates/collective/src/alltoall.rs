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
    let mut ph = Phase {
        flows: Vec::with_capacity(n * n.saturating_sub(1)),
        ..Phase::default()
    };
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

/// Flows per phase of `algo` (direct or pairwise) running `op` on `n` ranks, without lowering:
/// the same checks and shape as [`direct`] and [`pairwise`] (an exchange of 4,000 ranks is 16
/// million flows, too many to build only to count them).
pub fn phase_flows(algo: Algo, op: Op, n: usize) -> Result<Vec<u64>, CollectiveError> {
    check_size(algo, op, n)?;
    let n = n as u64;
    let exchange = n * n.saturating_sub(1);
    match (algo, op) {
        (Algo::Direct, Op::AllToAll | Op::ReduceScatter | Op::AllGather) => Ok(vec![exchange]),
        (Algo::Direct, Op::AllReduce) => Ok(vec![exchange; 2]),
        (Algo::Direct, _) => Err(CollectiveError::Unsupported {
            algo,
            op,
            why: "serves all_to_all, reduce_scatter, all_gather, all_reduce".into(),
        }),
        (Algo::Pairwise, Op::AllToAll) => Ok(vec![n; n.saturating_sub(1) as usize]),
        (Algo::Pairwise, _) => Err(CollectiveError::Unsupported {
            algo,
            op,
            why: "serves all_to_all".into(),
        }),
        _ => Err(CollectiveError::Unsupported {
            algo,
            op,
            why: "not an exchange algorithm".into(),
        }),
    }
}

pub fn direct(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    let phases = phase_flows(Algo::Direct, op, ranks.len())?.len();
    let n = ranks.len() as f64;
    let mut plan = Plan::new(op, Algo::Direct);
    for _ in 0..phases {
        plan.phases.push(exchange(f, ranks, size / n));
    }
    Ok(plan)
}

pub fn pairwise(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    phase_flows(Algo::Pairwise, op, ranks.len())?;
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

//! Recursive halving (reduce-scatter) and recursive doubling (all-gather); all_reduce is one
//! then the other (Rabenseifner). The group size must be a power of two.

use crate::constants::LinkClass;
use crate::plan::{Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::Fabric;

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    let n = ranks.len();
    if !n.is_power_of_two() {
        return Err(CollectiveError::Unsupported {
            algo: Algo::HalvingDoubling,
            op,
            why: format!("{n} ranks is not a power of two"),
        });
    }
    if !matches!(op, Op::AllReduce | Op::ReduceScatter | Op::AllGather) {
        return Err(CollectiveError::Unsupported {
            algo: Algo::HalvingDoubling,
            op,
            why: "serves all_reduce, reduce_scatter, all_gather".into(),
        });
    }
    let mut plan = Plan::new(op, Algo::HalvingDoubling);
    let levels = n.trailing_zeros();
    let class = if crate::plan::single_domain(f, ranks) {
        LinkClass::NvLink
    } else {
        LinkClass::Net
    };
    let phase_at = |j: u32, bytes: f64| {
        let d = n >> (j + 1);
        let mut ph = Phase::default();
        for i in 0..n {
            ph.flows.push(PlanFlow::new(ranks[i], ranks[i ^ d], bytes));
        }
        ph.steps(class, 1);
        ph
    };
    if op != Op::AllGather {
        for j in 0..levels {
            plan.phases.push(phase_at(j, size / (2u64 << j) as f64));
        }
    }
    if op != Op::ReduceScatter {
        for j in (0..levels).rev() {
            plan.phases.push(phase_at(j, size / (2u64 << j) as f64));
        }
    }
    Ok(plan)
}

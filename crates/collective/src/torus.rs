//! Torus (bucket) algorithm: reduce-scatter along x, then y, then z over bidirectional rings
//! (half the data each way), then all-gather in reverse order; each dimension works on the
//! shard left by the previous one.

use crate::constants::LinkClass;
use crate::plan::{Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::routing::{torus_coord, torus_index};
use fabric::{Fabric, ScaleUpKind};

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    let unsupported = |why: &str| CollectiveError::Unsupported {
        algo: Algo::Torus,
        op,
        why: why.into(),
    };
    let ScaleUpKind::Torus { dims, .. } = f.scale_up else {
        return Err(unsupported("the fabric is not a torus"));
    };
    if !matches!(op, Op::AllReduce | Op::ReduceScatter | Op::AllGather) {
        return Err(unsupported("serves all_reduce, reduce_scatter, all_gather"));
    }
    let n: u32 = dims.iter().product();
    let base = f.domain_of(ranks[0]) * f.domain_size;
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable();
    if ranks.len() as u32 != n || sorted.iter().enumerate().any(|(i, &r)| r != base + i as u32) {
        return Err(unsupported("the group must be a whole torus (every chip of the slice)"));
    }
    let mut plan = Plan::new(op, Algo::Torus);
    let active: Vec<usize> = (0..3).filter(|&d| dims[d] > 1).collect();
    let mut rs_phases = Vec::new();
    let mut cur = size;
    for &d in &active {
        let len = dims[d] as f64;
        let mut ph = Phase::default();
        for local in 0..n {
            let c = torus_coord(local, dims);
            for fwd in [true, false] {
                let mut nc = c;
                nc[d] = if fwd {
                    (c[d] + 1) % dims[d]
                } else {
                    (c[d] + dims[d] - 1) % dims[d]
                };
                if dims[d] == 2 && !fwd {
                    continue;
                }
                let share = if dims[d] == 2 { 1.0 } else { 0.5 };
                let bytes = (len - 1.0) / len * cur * share;
                ph.flows
                    .push(PlanFlow::new(base + local, base + torus_index(nc, dims), bytes));
            }
        }
        ph.steps(LinkClass::NvLink, dims[d] - 1);
        rs_phases.push(ph);
        cur /= len;
    }
    if op != Op::AllGather {
        plan.phases.extend(rs_phases.iter().cloned());
    }
    if op != Op::ReduceScatter {
        plan.phases.extend(rs_phases.into_iter().rev());
    }
    Ok(plan)
}

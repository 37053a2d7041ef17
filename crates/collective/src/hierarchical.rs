//! Hierarchical all_reduce / reduce_scatter / all_gather across domains: intra-domain
//! reduce-scatter (a ring per domain, all at once), then the shards reduced across domains
//! among members at the same position (a ring per position — per rail — or, for CollNet, the
//! IB SHARP switch tree), then an intra-domain all-gather; the three stages are pipelined (one
//! phase of concurrent flows), as NCCL streams chunks through them.

use crate::constants::{LinkClass, ETA_SHARP};
use crate::plan::{by_domain, Phase, Plan, PlanFlow};
use crate::{ring, Algo, CollectiveError, Op};
use fabric::Fabric;

/// Does the scale-out network support in-network reduction (IB SHARP on Quantum switches)?
pub fn sharp_supported(f: &Fabric) -> bool {
    f.switch_models.iter().any(|m| m.chip.starts_with("quantum"))
}

fn intra(f: &Fabric, doms: &[Vec<u32>], op: Op, size: f64) -> Result<Phase, CollectiveError> {
    let mut phase = Phase::default();
    let mut steps = 0;
    for d in doms {
        let p = ring::lower(f, d, op, size, 1)?;
        for ph in p.phases {
            steps = steps.max(ph.steps_nvlink + ph.steps_net);
            phase.flows.extend(ph.flows);
        }
    }
    phase.steps(LinkClass::NvLink, steps);
    Ok(phase)
}

pub fn lower(
    f: &Fabric,
    ranks: &[u32],
    op: Op,
    size: f64,
    channels: u32,
    collnet: bool,
) -> Result<Plan, CollectiveError> {
    let algo = if collnet { Algo::CollNet } else { Algo::Hierarchical };
    let unsupported = |why: &str| CollectiveError::Unsupported {
        algo,
        op,
        why: why.into(),
    };
    if !matches!(op, Op::AllReduce | Op::ReduceScatter | Op::AllGather) {
        return Err(unsupported("serves all_reduce, reduce_scatter and all_gather"));
    }
    if collnet && (op != Op::AllReduce || !sharp_supported(f)) {
        return Err(unsupported(
            "CollNet needs all_reduce on an InfiniBand fabric with SHARP (Quantum switches)",
        ));
    }
    let doms = by_domain(f, ranks);
    let g = doms[0].len();
    if doms.len() < 2 || doms.iter().any(|d| d.len() != g) {
        return Err(unsupported("needs two or more domains with the same number of members"));
    }
    let mut plan = Plan::new(op, algo);
    let shard = size / g as f64;
    let first = match op {
        Op::AllGather => None,
        _ => Some(intra(f, &doms, Op::ReduceScatter, size)?),
    };
    if let Some(p) = first {
        plan.phases.push(p);
    }
    // Across domains, per position.
    let mut mid = Phase::default();
    let cross_op = op;
    let m = doms.len() as u32;
    if collnet {
        let base = f.links.len() as u32;
        for d in &doms {
            for &r in d {
                let ports = f.scale_out_ports(r);
                let Some(&p) = ports.first() else {
                    return Err(unsupported("accelerator has no scale-out port"));
                };
                let v = base + plan.virtual_links.len() as u32;
                plan.virtual_links.push(ETA_SHARP * f.links[p as usize].capacity.0);
                let mut pf = PlanFlow::new(r, r, shard);
                pf.path = Some(vec![p, v, p ^ 1]);
                mid.flows.push(pf);
            }
        }
        let depth = (m as f64).log2().ceil() as u32;
        mid.steps(LinkClass::Net, 2 * depth.max(1));
    } else {
        let cross_size = match op {
            Op::AllReduce => shard,
            _ => size / g as f64,
        };
        for pos in 0..g {
            let members: Vec<u32> = doms.iter().map(|d| d[pos]).collect();
            let p = ring::lower(f, &members, cross_op, cross_size, channels)?;
            for ph in p.phases {
                mid.steps_net = mid.steps_net.max(ph.steps_net + ph.steps_nvlink);
                mid.flows.extend(ph.flows);
            }
        }
    }
    plan.phases.push(mid);
    if op != Op::ReduceScatter {
        plan.phases.push(intra(f, &doms, Op::AllGather, size)?);
    }
    // NCCL pipelines the stages chunk by chunk (CollNet chain/direct, NVLS-tree): in steady
    // state intra-domain reduce-scatter, the cross-domain exchange and the intra-domain
    // all-gather all stream at once, so they form one phase of concurrent flows whose latency
    // is the sum of the stages' steps.
    let mut one = Phase::default();
    for ph in plan.phases.drain(..) {
        one.steps_nvlink += ph.steps_nvlink;
        one.steps_net += ph.steps_net;
        one.flows.extend(ph.flows);
    }
    plan.phases.push(one);
    Ok(plan)
}

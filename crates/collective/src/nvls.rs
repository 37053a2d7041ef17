//! NVLS (NVLink SHARP): the NVSwitch reduces and multicasts. Each GPU pushes its buffer into the
//! switch and receives the reduced result: one flow per GPU over its up-link, a virtual link
//! standing for the switch's reduction rate at that port, and its down-link.
//!
//! Across several NVLink domains NCCL runs NVLSTree (NCCL >= 2.18, `NCCL_ALGO=NVLSTree`; the
//! all_reduce candidate on multi-node NVLS systems without CollNet, `src/enqueue.cc`): NVLS
//! reduces inside each domain, the shards cross the network between members at the same
//! position (NCCL: a tree of nodes, each node's NVLS heads on their own NICs), and NVLS
//! multicasts the result back. Modelled as one pipelined phase: the in-domain NVLS flows and a
//! ring per position (rail) across domains carrying each member's 1/g shard, as
//! `hierarchical` does; latency: NVLS base latency plus NCCL's 2(nNodes - 1) network steps
//! (tuning.cc: `2*(nNodes-1)*hwLat[NET][NVLS_TREE]`).

use crate::constants::{eta_nvls, LinkClass};
use crate::plan::{by_domain, single_domain, Phase, Plan, PlanFlow};
use crate::{ring, Algo, CollectiveError, Op};
use fabric::{Fabric, ScaleUpKind};

/// Accelerators whose NVSwitch generation supports NVLink SHARP (NVSwitch gen3 and later).
pub fn supported(f: &Fabric) -> bool {
    matches!(f.scale_up, ScaleUpKind::Switched)
        && matches!(
            f.accel_model,
            "h100" | "h200" | "h800" | "b200" | "b300" | "gb200" | "gb300"
        )
}

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64, channels: u32) -> Result<Plan, CollectiveError> {
    let unsupported = |why: &str| CollectiveError::Unsupported {
        algo: Algo::Nvls,
        op,
        why: why.into(),
    };
    if op != Op::AllReduce {
        return Err(unsupported("modelled for all_reduce only"));
    }
    if !supported(f) {
        return Err(unsupported("needs an NVSwitch with NVLink SHARP (gen3 or later)"));
    }
    let doms = by_domain(f, ranks);
    let multi = !single_domain(f, ranks);
    let g = doms[0].len();
    if multi && (g < 2 || doms.iter().any(|d| d.len() != g)) {
        return Err(unsupported(
            "across NVLink domains (NVLSTree) every domain needs the same number of members, two or more",
        ));
    }
    let mut plan = Plan::new(op, Algo::Nvls);
    plan.nvls = true;
    let mut phase = Phase::default();
    let base = f.links.len() as u32;
    for &r in ranks {
        let ports = f.scale_up_ports(r);
        // Star domains have one port per GPU (the logical switch).
        let Some(&up) = ports.first() else {
            return Err(unsupported("accelerator has no switch port"));
        };
        let bw = f.links[up as usize].capacity.0;
        let v = base + plan.virtual_links.len() as u32;
        plan.virtual_links.push(eta_nvls(f.accel_model) * bw);
        let mut pf = PlanFlow::new(r, r, size);
        pf.path = Some(vec![up, v, up ^ 1]);
        phase.flows.push(pf);
    }
    phase.steps(LinkClass::NvLink, 0);
    if multi {
        // The shards between domains, a ring per position (rail), pipelined with the NVLS stages.
        let mut net_steps = 0;
        for pos in 0..g {
            let members: Vec<u32> = doms.iter().map(|d| d[pos]).collect();
            let p = ring::lower(f, &members, Op::AllReduce, size / g as f64, channels)?;
            for ph in p.phases {
                net_steps = net_steps.max(ph.steps_net + ph.steps_nvlink);
                phase.flows.extend(ph.flows);
            }
        }
        phase.steps(LinkClass::Net, net_steps);
    }
    plan.phases.push(phase);
    Ok(plan)
}

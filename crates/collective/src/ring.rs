//! Ring algorithms. Within one domain a single ring in rank order. Across domains NCCL-style:
//! one ring per member position `c` (a "rail"); inside each domain the ring visits the members
//! rotated by `c`, and the edge between domains leaves from the last member and enters at the
//! first, routed with PXN so it stays on one rail. Each inter-domain edge is split over
//! `channels` flows (distinct ECMP hashes).

use crate::constants::LinkClass;
use crate::plan::{by_domain, Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::Fabric;

/// The rings (rank sequences) used for a group, and whether it spans several domains.
pub fn rings(f: &Fabric, ranks: &[u32]) -> (Vec<Vec<u32>>, bool) {
    let doms = by_domain(f, ranks);
    if doms.len() <= 1 {
        let n = ranks.len();
        if matches!(f.scale_up, fabric::ScaleUpKind::FullMesh) && n > 2 {
            // On a full mesh a single ring would use one of each GPU's links; like RCCL, run
            // one ring per stride s coprime with n (i → i+s), each on its own set of links.
            let gcd = |mut a: usize, mut b: usize| {
                while b != 0 {
                    (a, b) = (b, a % b);
                }
                a
            };
            let rings = (1..n)
                .filter(|&st| gcd(st, n) == 1)
                .map(|st| (0..n).map(|i| ranks[(i * st) % n]).collect())
                .collect();
            return (rings, false);
        }
        return (vec![ranks.to_vec()], false);
    }
    // One ring per position of the smallest domain: ring `c` enters each domain at its member
    // `c` and leaves from the member before it, so the rings leave every domain on different
    // rails (NICs), as NCCL's channels do. Uneven domains (a partly used rack beside whole
    // ones) get as many rings as the smallest holds; each still visits every member.
    let g = doms.iter().map(|d| d.len()).min().unwrap_or(1);
    let rings = (0..g)
        .map(|c| {
            doms.iter()
                .flat_map(|d| (0..d.len()).map(move |i| d[(c + i) % d.len()]))
                .collect()
        })
        .collect();
    (rings, true)
}

/// Bytes each ring edge carries (in total over all rings) and the latency steps, per op.
fn volume(op: Op, n: u32, size: f64) -> Option<(f64, u32)> {
    let n_f = n as f64;
    Some(match op {
        Op::AllReduce => (2.0 * (n_f - 1.0) / n_f * size, 2 * (n - 1)),
        Op::ReduceScatter | Op::AllGather => ((n_f - 1.0) / n_f * size, n - 1),
        Op::Broadcast | Op::Reduce => (size, n - 1),
        _ => return None,
    })
}

/// Lower `op` on `ranks` to a ring plan.
pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64, channels: u32) -> Result<Plan, CollectiveError> {
    let n = ranks.len() as u32;
    let (per_edge, steps) = volume(op, n, size).ok_or(CollectiveError::Unsupported {
        algo: Algo::Ring,
        op,
        why: "use direct or pairwise for all_to_all and p2p for send_recv".into(),
    })?;
    let mut plan = Plan::new(op, Algo::Ring);
    let mut phase = Phase::default();
    if n == 1 {
        plan.phases.push(phase);
        return Ok(plan);
    }
    let (rings, multi) = rings(f, ranks);
    let nr = rings.len() as f64;
    let chain = matches!(op, Op::Broadcast | Op::Reduce);
    let mut inter_edges = 0u32;
    for ring in &rings {
        let len = ring.len();
        let edges = if chain { len - 1 } else { len };
        for i in 0..edges {
            let (a, b) = (ring[i], ring[(i + 1) % len]);
            let (src, dst) = if op == Op::Reduce { (b, a) } else { (a, b) };
            let cross = f.domain_of(src) != f.domain_of(dst);
            if cross {
                inter_edges += 1;
            }
            let ch = if cross { channels.max(1) } else { 1 };
            for c in 0..ch {
                let mut pf = PlanFlow::new(src, dst, per_edge / nr / ch as f64);
                pf.channel = c;
                pf.pxn = multi;
                phase.flows.push(pf);
            }
        }
    }
    // Latency: NCCL counts the steps of one ring; inter-domain steps use NET latency.
    let domains_in_ring = if multi {
        (inter_edges as f64 / nr).round() as u32
    } else {
        0
    };
    let net_steps = if chain {
        domains_in_ring.saturating_sub(1)
    } else {
        domains_in_ring
    } * steps
        / (n - 1).max(1);
    let net_steps = net_steps.min(steps);
    phase.steps(LinkClass::Net, net_steps);
    phase.steps(LinkClass::NvLink, steps - net_steps);
    plan.phases.push(phase);
    Ok(plan)
}

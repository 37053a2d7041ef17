//! NCCL's double binary tree for all_reduce: two binary trees over the domains (the second the
//! mirror of the first, so a node is a leaf in one where it is interior in the other), each
//! carrying half the data; a chain through the members inside each domain. Reduce and
//! broadcast are pipelined, so up- and down-flows run together.
//!
//! Only all_reduce, as in NCCL: the two trees have different roots, which is fine when every
//! rank ends with the result, but a broadcast (reduce) has one root that holds (receives) all
//! the data — the mirrored tree's root does not, so a "double tree broadcast" would move half
//! the data from a rank that does not have it (on 2 ranks: twice the wire speed).

use crate::constants::LinkClass;
use crate::plan::{by_domain, Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::Fabric;

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64, channels: u32) -> Result<Plan, CollectiveError> {
    if op != Op::AllReduce {
        return Err(CollectiveError::Unsupported {
            algo: Algo::Tree,
            op,
            why: "the double binary tree serves all_reduce only (as in NCCL); use ring for broadcast and reduce".into(),
        });
    }
    let mut plan = Plan::new(op, Algo::Tree);
    plan.tree_latency = true;
    let mut phase = Phase::default();
    let doms = by_domain(f, ranks);
    // Units of the tree: one per domain when the group spans domains, else one per rank.
    let units: Vec<Vec<u32>> = if doms.len() > 1 {
        doms
    } else {
        ranks.iter().map(|&r| vec![r]).collect()
    };
    let m = units.len();
    let (up, down) = match op {
        Op::AllReduce => (true, true),
        Op::Reduce => (true, false),
        _ => (false, true),
    };
    // Like NCCL, one tree per channel: across domains every member position (rail) heads its
    // own channel's tree, so every NIC carries a share; the channels alternate between the two
    // complementary tree shapes (a node interior in one is a leaf in the other).
    let g_all = units.iter().map(|u| u.len()).min().unwrap_or(1);
    let trees = if m > 1 && g_all > 1 && units.iter().all(|u| u.len() == g_all) {
        g_all
    } else {
        2
    };
    let share = size / trees as f64;
    // With one tree per rail the trees already spread over the NICs: one flow per tree edge.
    let ch = if trees == 2 && units.len() > 1 && units[0].len() > 1 {
        channels.max(1)
    } else {
        1
    };
    // Chain edges inside domains repeat across the channels' rotations: sum them per pair.
    let mut chain: std::collections::BTreeMap<(u32, u32), f64> = std::collections::BTreeMap::new();
    for t in 0..trees {
        let mirror = t % 2 == 1;
        let head = |u: &Vec<u32>| {
            if trees == 2 {
                if mirror {
                    u[u.len() / 2]
                } else {
                    u[0]
                }
            } else {
                u[t % u.len()]
            }
        };
        let at = |i: usize| if mirror { m - 1 - i } else { i };
        for i in 1..m {
            let child = head(&units[at(i)]);
            let parent = head(&units[at((i - 1) / 2)]);
            for c in 0..ch {
                let mut push = |s, d| {
                    let mut pf = PlanFlow::new(s, d, share / ch as f64);
                    pf.channel = c + 16 * t as u32;
                    phase.flows.push(pf);
                };
                if up {
                    push(child, parent);
                }
                if down {
                    push(parent, child);
                }
            }
        }
        // Chains inside domains (when units are domains), starting at this channel's head.
        for u in &units {
            if u.len() < 2 {
                continue;
            }
            let start = if trees == 2 {
                if mirror {
                    u.len() / 2
                } else {
                    0
                }
            } else {
                t % u.len()
            };
            let seq: Vec<u32> = (0..u.len()).map(|k| u[(start + k) % u.len()]).collect();
            for w in seq.windows(2) {
                if up {
                    *chain.entry((w[1], w[0])).or_default() += share;
                }
                if down {
                    *chain.entry((w[0], w[1])).or_default() += share;
                }
            }
        }
    }
    phase
        .flows
        .extend(chain.into_iter().map(|((a, b), bytes)| PlanFlow::new(a, b, bytes)));
    let depth = (m as f64).log2().ceil() as u32;
    let g = units[0].len() as u32;
    let factor = if up && down { 2 } else { 1 };
    if m > 1 && g > 1 {
        phase.steps(LinkClass::Net, factor * depth);
        phase.steps(LinkClass::NvLink, factor * (g - 1));
    } else {
        let class = if m > 1 && !crate::plan::single_domain(f, ranks) {
            LinkClass::Net
        } else {
            LinkClass::NvLink
        };
        phase.steps(class, factor * depth);
    }
    plan.phases.push(phase);
    Ok(plan)
}

//! The lowered form of a collective: phases of concurrent flows, run one after another, with
//! the latency steps each phase adds.

use crate::constants::LinkClass;
use crate::{Algo, CollectiveError, Op};
use fabric::Fabric;

/// One flow of a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFlow {
    /// Source and destination accelerators.
    pub src: u32,
    pub dst: u32,
    pub bytes: f64,
    /// Distinguishes parallel flows of one pair (NCCL channels): feeds the ECMP hash.
    pub channel: u32,
    /// Route with PXN (forward over the scale-up domain to the destination's rail).
    pub pxn: bool,
    /// An explicit path (link ids; ids ≥ the fabric's link count are the plan's virtual links),
    /// used instead of routing (NVLS and SHARP go through the switch and back).
    pub path: Option<Vec<u32>>,
}

impl PlanFlow {
    pub fn new(src: u32, dst: u32, bytes: f64) -> Self {
        Self {
            src,
            dst,
            bytes,
            channel: 0,
            pxn: false,
            path: None,
        }
    }
}

/// A set of concurrent flows plus its latency steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Phase {
    pub flows: Vec<PlanFlow>,
    /// Latency steps by link class (NCCL hwLat applies per step).
    pub steps_nvlink: u32,
    pub steps_net: u32,
}

impl Phase {
    pub fn steps(&mut self, class: LinkClass, n: u32) {
        match class {
            LinkClass::NvLink => self.steps_nvlink += n,
            LinkClass::Net => self.steps_net += n,
        }
    }
}

/// The lowered collective.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub op: Op,
    pub algo: Algo,
    pub phases: Vec<Phase>,
    /// Tree-like latency constants (NCCL's tree rows) rather than ring-like.
    pub tree_latency: bool,
    /// NVLS: Simple protocol only, NVLS base latency.
    pub nvls: bool,
    /// Capacities (bytes/s, already effective) of virtual links appended after the fabric's.
    pub virtual_links: Vec<f64>,
}

impl Plan {
    pub fn new(op: Op, algo: Algo) -> Self {
        Self {
            op,
            algo,
            phases: Vec::new(),
            tree_latency: false,
            nvls: false,
            virtual_links: Vec::new(),
        }
    }
    /// Total bytes the plan puts on the wire (sum over flows, before routing).
    pub fn bytes(&self) -> f64 {
        self.phases.iter().flat_map(|p| &p.flows).map(|f| f.bytes).sum()
    }
    pub fn flow_count(&self) -> usize {
        self.phases.iter().map(|p| p.flows.len()).sum()
    }
    /// Whether every flow is routed (no explicit path) and the plan has no virtual links: the
    /// plans [`Plan::translated`] can move.
    pub fn routed_only(&self) -> bool {
        self.virtual_links.is_empty() && self.phases.iter().flat_map(|p| &p.flows).all(|f| f.path.is_none())
    }
    /// Append the flows of each phase, every endpoint moved by `d` ranks, to `out`'s phases
    /// (as [`Plan::translated`] then merging phase by phase would). PRECONDITION:
    /// [`Plan::routed_only`], and no endpoint leaves `u32` (see `simulate::translation`).
    pub fn append_translated(&self, d: i64, out: &mut Vec<Phase>) {
        debug_assert!(self.routed_only());
        let mv = |r: u32| (i64::from(r) + d) as u32;
        for (i, ph) in self.phases.iter().enumerate() {
            if out.len() <= i {
                out.push(Phase::default());
            }
            let dst = &mut out[i];
            dst.steps_nvlink = dst.steps_nvlink.max(ph.steps_nvlink);
            dst.steps_net = dst.steps_net.max(ph.steps_net);
            dst.flows.extend(ph.flows.iter().map(|fl| PlanFlow {
                src: mv(fl.src),
                dst: mv(fl.dst),
                bytes: fl.bytes,
                channel: fl.channel,
                pxn: fl.pxn,
                path: None,
            }));
        }
    }
    /// The plan with only the flows `keep` accepts, phase by phase (the same phases, steps
    /// and everything else): `retain` on a copy, without copying the flows left out.
    pub fn filtered(&self, keep: impl Fn(&PlanFlow) -> bool) -> Plan {
        // Whole destructuring: a field added to either type must be carried here.
        let Plan {
            op,
            algo,
            phases,
            tree_latency,
            nvls,
            virtual_links,
        } = self;
        let phases = phases
            .iter()
            .map(|ph| {
                let Phase {
                    flows,
                    steps_nvlink,
                    steps_net,
                } = ph;
                Phase {
                    flows: flows.iter().filter(|fl| keep(fl)).cloned().collect(),
                    steps_nvlink: *steps_nvlink,
                    steps_net: *steps_net,
                }
            })
            .collect();
        Plan {
            op: *op,
            algo: *algo,
            phases,
            tree_latency: *tree_latency,
            nvls: *nvls,
            virtual_links: virtual_links.clone(),
        }
    }

    /// The plan with every flow's endpoints moved by `d` ranks (`None` unless
    /// [`Plan::routed_only`] and every endpoint stays in `u32`).
    pub fn translated(&self, d: i64) -> Option<Plan> {
        let fits = |r: u32| u32::try_from(i64::from(r) + d).is_ok();
        let ok = self.routed_only()
            && self
                .phases
                .iter()
                .flat_map(|p| &p.flows)
                .all(|f| fits(f.src) && fits(f.dst));
        ok.then(|| {
            let mut phases = Vec::new();
            self.append_translated(d, &mut phases);
            // Moving keeps each phase's steps (appending into empty phases takes them as they are).
            Plan {
                phases,
                virtual_links: Vec::new(),
                ..self.clone_header()
            }
        })
    }
    fn clone_header(&self) -> Plan {
        Plan {
            op: self.op,
            algo: self.algo,
            phases: Vec::new(),
            tree_latency: self.tree_latency,
            nvls: self.nvls,
            virtual_links: Vec::new(),
        }
    }
}

/// The ranks of a group bucketed by scale-up domain, in order of first appearance; members of a
/// domain sorted by accelerator index.
pub fn by_domain(f: &Fabric, ranks: &[u32]) -> Vec<Vec<u32>> {
    // (domain, rank, position) sorted by domain then rank: each domain's members in a run,
    // sorted; the runs then ordered by their first position in `ranks`.
    let mut keyed: Vec<(u32, u32, u32)> = ranks
        .iter()
        .enumerate()
        .map(|(i, &r)| (f.domain_of(r), r, i as u32))
        .collect();
    keyed.sort_unstable();
    let mut runs: Vec<(u32, usize, usize)> = Vec::new(); // (first position, start, end)
    let mut start = 0;
    while start < keyed.len() {
        let d = keyed[start].0;
        let mut end = start;
        let mut first = u32::MAX;
        while end < keyed.len() && keyed[end].0 == d {
            first = first.min(keyed[end].2);
            end += 1;
        }
        runs.push((first, start, end));
        start = end;
    }
    runs.sort_unstable();
    runs.into_iter()
        .map(|(_, a, b)| keyed[a..b].iter().map(|k| k.1).collect())
        .collect()
}

/// Check a group: non-empty, in range, no duplicates.
pub fn check_group(f: &Fabric, ranks: &[u32]) -> Result<(), CollectiveError> {
    if ranks.is_empty() {
        return Err(CollectiveError::BadGroup("the group is empty".into()));
    }
    let n = f.accel_count() as u32;
    if ranks.len() <= 64 {
        // Small groups (most of a training step's): no table over the whole fabric.
        for (i, &r) in ranks.iter().enumerate() {
            if r >= n {
                return Err(CollectiveError::BadGroup(format!(
                    "accelerator {r} does not exist (the fabric has {n})"
                )));
            }
            if ranks[..i].contains(&r) {
                return Err(CollectiveError::BadGroup(format!("accelerator {r} appears twice")));
            }
        }
        return Ok(());
    }
    let mut seen = vec![false; n as usize];
    for &r in ranks {
        if r >= n {
            return Err(CollectiveError::BadGroup(format!(
                "accelerator {r} does not exist (the fabric has {n})"
            )));
        }
        if std::mem::replace(&mut seen[r as usize], true) {
            return Err(CollectiveError::BadGroup(format!("accelerator {r} appears twice")));
        }
    }
    Ok(())
}

/// Do all members of the group sit in one scale-up domain?
pub fn single_domain(f: &Fabric, ranks: &[u32]) -> bool {
    let d = f.domain_of(ranks[0]);
    ranks.iter().all(|&r| f.domain_of(r) == d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `filtered` is a copy with `retain` applied to every phase.
    #[test]
    fn filtered_is_a_retained_copy() {
        let mut p = Plan::new(Op::ReduceScatter, Algo::Hierarchical);
        p.tree_latency = true;
        p.virtual_links = vec![1e9, 2e9];
        for k in 0..3u32 {
            p.phases.push(Phase {
                flows: (0..10)
                    .map(|i| PlanFlow {
                        channel: k,
                        ..PlanFlow::new(i, (i + k + 1) % 10, f64::from(i))
                    })
                    .collect(),
                steps_nvlink: k,
                steps_net: 2 * k,
            });
        }
        let keep = |fl: &PlanFlow| fl.src % 3 != 1;
        let mut want = p.clone();
        for ph in &mut want.phases {
            ph.flows.retain(keep);
        }
        assert_eq!(p.filtered(keep), want);
        assert_eq!(p.filtered(|_| true), p);
    }
}

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
}

/// The ranks of a group bucketed by scale-up domain, in order of first appearance; members of a
/// domain sorted by accelerator index.
pub fn by_domain(f: &Fabric, ranks: &[u32]) -> Vec<Vec<u32>> {
    let mut order: Vec<u32> = Vec::new();
    let mut buckets: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for &r in ranks {
        let d = f.domain_of(r);
        let b = buckets.entry(d).or_default();
        if b.is_empty() {
            order.push(d);
        }
        b.push(r);
    }
    order
        .into_iter()
        .map(|d| {
            let mut v = buckets.remove(&d).unwrap_or_default();
            v.sort_unstable();
            v
        })
        .collect()
}

/// Check a group: non-empty, in range, no duplicates.
pub fn check_group(f: &Fabric, ranks: &[u32]) -> Result<(), CollectiveError> {
    if ranks.is_empty() {
        return Err(CollectiveError::BadGroup("the group is empty".into()));
    }
    let n = f.accel_count() as u32;
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

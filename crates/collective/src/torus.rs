//! Torus algorithm as the TPU runtime runs it: reduce-scatter over bidirectional rings (half the
//! data each way) along every dimension the group spans, then all-gather in reverse order; each
//! dimension works on the shard left by the previous one.
//!
//! **All dimensions at once.** The data is split into one part per spanned dimension and part
//! `j` visits the dimensions in an order rotated by `j` (x→y→z, y→z→x, z→x→y), so every phase
//! keeps the links of all spanned dimensions busy at the same time — the multi-dimensional ring
//! the TPU runtime uses on a 2D/3D slice, instead of the textbook bucket algorithm that leaves
//! two dimensions idle while the third works.
//!
//! **Groups.** Either a whole slice (every chip of the torus) or a *box* of it: the chips that
//! share their coordinates on some dimensions and span a contiguous range of the others (a TP
//! group along x, an FSDP group over y × z, or 8 of a 16-long dimension when a mesh axis splits
//! it). A spanned dimension covered completely keeps its wrap-around; a partial one is a line
//! whose ring closes back along it (below). Any other group is not a box; selection then falls
//! back to rings.
//!
//! **Wrap-around.** Each ring flow goes to the chip's physical neighbour (`torus_step`): where
//! the slice closes the dimension (a full dimension of a cube-built slice, through the OCS) that
//! is one hop; where it does not (a partial dimension of a v5e/v6e slice, a slice under one
//! cube), the ring closes through the fabric's route back along the line, sharing those links —
//! which is what a ring on a mesh line costs. On a twisted torus the wrap link of a short
//! dimension lands `k` chips along the long one; the ring follows it (same bytes per link as an
//! untwisted ring) when that chip is in the group.

use crate::constants::LinkClass;
use crate::plan::{Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::routing::{torus_coord, torus_index, torus_step};
use fabric::{Fabric, ScaleUpKind};

/// A group laid out as a sub-torus of a slice: the slice's first rank, the torus shape, the
/// dimensions the group spans (each completely) and the coordinates it fixes on the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTorus {
    pub base: u32,
    pub dims: [u32; 3],
    pub wrap: [bool; 3],
    pub twist: [u32; 3],
    /// Spanned dimensions (length > 1), in x, y, z order.
    pub spans: Vec<usize>,
    /// The box's lowest coordinate on every dimension (the fixed one on unspanned dimensions).
    pub fixed: [u32; 3],
    /// The box's extent on every dimension (1 where not spanned).
    pub ext: [u32; 3],
}

impl SubTorus {
    /// Whether `c` (slice coordinates) belongs to the group.
    fn contains(&self, c: [u32; 3]) -> bool {
        (0..3).all(|d| c[d] >= self.fixed[d] && c[d] < self.fixed[d] + self.ext[d])
    }
}

/// The sub-torus `ranks` form on `f`, if they do (module notes).
pub fn sub_torus(f: &Fabric, ranks: &[u32]) -> Option<SubTorus> {
    let ScaleUpKind::Torus { dims, wrap, twist } = f.scale_up else {
        return None;
    };
    if ranks.len() < 2 {
        return None;
    }
    let dom = f.domain_of(ranks[0]);
    let base = dom * f.domain_size;
    if ranks.iter().any(|&r| f.domain_of(r) != dom) {
        return None;
    }
    let coords: Vec<[u32; 3]> = ranks.iter().map(|&r| torus_coord(r - base, dims)).collect();
    let mut lo = coords[0];
    let mut hi = coords[0];
    for c in &coords {
        for d in 0..3 {
            lo[d] = lo[d].min(c[d]);
            hi[d] = hi[d].max(c[d]);
        }
    }
    let ext = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let spans: Vec<usize> = (0..3).filter(|&d| ext[d] > 1).collect();
    let expect: u64 = ext.iter().map(|&e| e as u64).product();
    if expect != ranks.len() as u64 {
        return None;
    }
    let st = SubTorus {
        base,
        dims,
        wrap,
        twist,
        spans,
        fixed: lo,
        ext,
    };
    // Every rank in the sub-torus, none twice.
    let mut seen = std::collections::BTreeSet::new();
    for &c in &coords {
        if !st.contains(c) || !seen.insert(torus_index(c, dims)) {
            return None;
        }
    }
    Some(st)
}

/// The chip a ring along `d` sends to from `c`, forward or backward, and the explicit path
/// (link ids) when the ring closes along the line instead of over a wrap link (module notes).
fn ring_next(f: &Fabric, st: &SubTorus, c: [u32; 3], d: usize, forward: bool) -> ([u32; 3], Option<Vec<u32>>) {
    if let Some(n) = torus_step(c, d, forward, st.dims, st.wrap, st.twist) {
        if st.contains(n) {
            return (n, None);
        }
    }
    // No wrap link to a member: the ring closes back along the line (a mesh line's ring).
    let (lo, len) = (st.fixed[d], st.ext[d]);
    let mut n = c;
    n[d] = lo
        + if forward {
            (c[d] - lo + 1) % len
        } else {
            (c[d] - lo + len - 1) % len
        };
    let mut path = Vec::new();
    let mut cur = c;
    let step_fwd = n[d] > c[d];
    while cur[d] != n[d] {
        let Some(next) = torus_step(cur, d, step_fwd, st.dims, [false; 3], [0; 3]) else {
            return (n, None);
        };
        let a = f.accels[(st.base + torus_index(cur, st.dims)) as usize];
        let b = f.accels[(st.base + torus_index(next, st.dims)) as usize];
        match f.link_between(a, b) {
            Some(l) => path.push(l.0),
            None => return (n, None),
        }
        cur = next;
    }
    (n, Some(path))
}

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    let unsupported = |why: &str| CollectiveError::Unsupported {
        algo: Algo::Torus,
        op,
        why: why.into(),
    };
    if !matches!(f.scale_up, ScaleUpKind::Torus { .. }) {
        return Err(unsupported("the fabric is not a torus"));
    }
    if !matches!(op, Op::AllReduce | Op::ReduceScatter | Op::AllGather) {
        return Err(unsupported("serves all_reduce, reduce_scatter, all_gather"));
    }
    let st = sub_torus(f, ranks).ok_or_else(|| {
        unsupported("the group must be a whole slice or a box of one (contiguous ranges of its dimensions)")
    })?;
    let k = st.spans.len();
    let mut members: Vec<[u32; 3]> = ranks.iter().map(|&r| torus_coord(r - st.base, st.dims)).collect();
    members.sort_unstable_by_key(|&c| torus_index(c, st.dims));
    // Phase i: part j reduces along dimension spans[(i + j) % k], on the shard the dimensions
    // it visited before left it.
    let mut rs_phases = Vec::new();
    for i in 0..k {
        let mut ph = Phase::default();
        let mut steps = 0;
        for j in 0..k {
            let d = st.spans[(i + j) % k];
            let done: f64 = (0..i).map(|q| st.ext[st.spans[(q + j) % k]] as f64).product();
            let cur = size / k as f64 / done;
            let len = st.ext[d] as f64;
            steps = steps.max(st.ext[d] - 1);
            let two = st.ext[d] == 2;
            let share = if two { 1.0 } else { 0.5 };
            let bytes = (len - 1.0) / len * cur * share;
            for &c in &members {
                for fwd in [true, false] {
                    if two && !fwd {
                        continue;
                    }
                    let (n, path) = ring_next(f, &st, c, d, fwd);
                    let mut fl = PlanFlow::new(
                        st.base + torus_index(c, st.dims),
                        st.base + torus_index(n, st.dims),
                        bytes,
                    );
                    fl.path = path;
                    ph.flows.push(fl);
                }
            }
        }
        ph.steps(LinkClass::NvLink, steps);
        rs_phases.push(ph);
    }
    let mut plan = Plan::new(op, Algo::Torus);
    if op != Op::AllGather {
        plan.phases.extend(rs_phases.iter().cloned());
    }
    if op != Op::ReduceScatter {
        plan.phases.extend(rs_phases.into_iter().rev());
    }
    Ok(plan)
}

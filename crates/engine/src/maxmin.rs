//! Exact weighted max-min fair rate allocation by bottleneck-order
//! water-filling.
//!
//! Each flow `f` has a path (a list of link ids, repeats allowed) and a
//! weight `w_f >= 1`. The constraint of link `l` is
//! `Σ_{occurrences of f on l} w_f · x_f <= C_l`. The allocation returned is
//! the unique max-min fair one: every flow crosses a saturated link on which
//! its rate is the largest.
//!
//! Algorithm: links sit in an indexed min-heap keyed by their fair share
//! `rem_l / n_l` (`n_l` is the total weight of unfrozen flows on `l`). Pop
//! the minimum, freeze its unfrozen flows at that share, subtract them from
//! every link on their paths and re-key each touched link once per step.
//! Cost `O(Σ|path| · log L)`.

use crate::bits::BitSet;
use crate::heap::IndexedMinHeap;
use crate::EngineError;

/// Reusable water-filling state over a global link id space and a global
/// flow id space. Callers describe one (sub)problem at a time:
/// [`WaterFill::begin`], [`WaterFill::mark_var`] for every variable flow,
/// [`WaterFill::set_link`] for every link touched by a variable flow, then
/// [`WaterFill::fill`].
#[derive(Debug, Clone)]
pub(crate) struct WaterFill {
    /// Remaining capacity per link (after fixed and frozen flows).
    rem: Vec<f64>,
    /// Total weight (with multiplicity) of unfrozen variable flows per link.
    n: Vec<u64>,
    /// Used capacity per link (fixed plus frozen flows).
    pub(crate) used: Vec<f64>,
    heap: IndexedMinHeap,
    dirty: Vec<bool>,
    dirty_list: Vec<u32>,
    /// Variables of the current problem, as a set and in marking order.
    var: BitSet,
    vars: Vec<u32>,
    /// Variables already frozen.
    frozen: BitSet,
    /// Tests: load the heap link by link in order ([`IndexedMinHeap::set`]), as before
    /// [`IndexedMinHeap::heapify`], to check both give the same rates bit for bit.
    #[cfg(test)]
    pub(crate) ordered_load: bool,
}

impl WaterFill {
    /// State for `links` links and `flows` flows.
    pub(crate) fn new(links: usize, flows: usize) -> Self {
        Self {
            rem: vec![0.0; links],
            n: vec![0; links],
            used: vec![0.0; links],
            heap: IndexedMinHeap::new(links),
            dirty: vec![false; links],
            dirty_list: Vec::new(),
            var: BitSet::new(flows),
            vars: Vec::new(),
            frozen: BitSet::new(flows),
            #[cfg(test)]
            ordered_load: false,
        }
    }

    /// Starts describing a new problem; forgets which flows were variable.
    pub(crate) fn begin(&mut self) {
        self.heap.clear();
        for &f in &self.vars {
            self.var.clear(f);
            self.frozen.clear(f);
        }
        self.vars.clear();
    }

    /// Marks `f` as a variable of the current problem (at most once).
    #[inline]
    pub(crate) fn mark_var(&mut self, f: u32) {
        debug_assert!(!self.var.get(f));
        self.var.set(f);
        self.vars.push(f);
    }

    /// Whether `f` is a variable of the current problem (frozen or not).
    #[inline]
    pub(crate) fn is_var(&self, f: u32) -> bool {
        self.var.get(f)
    }

    /// The variables of the current problem, in the order they were marked
    /// (or by id after [`WaterFill::sort_vars`]).
    pub(crate) fn vars(&self) -> &[u32] {
        &self.vars
    }

    /// Orders the variables by id, so that walking them reads per-flow
    /// arrays in address order.
    pub(crate) fn sort_vars(&mut self) {
        self.vars.sort_unstable();
    }

    /// Declares link `l`: capacity left after fixed flows `rem`, total
    /// weight `n` of variable flows through it (counting repeats), and the
    /// rate already used by fixed flows.
    #[inline]
    pub(crate) fn set_link(&mut self, l: u32, rem: f64, n: u64, used_fixed: f64) {
        let li = l as usize;
        self.rem[li] = rem;
        self.n[li] = n;
        self.used[li] = used_fixed;
        self.dirty[li] = false;
        if n > 0 {
            let key = rem.max(0.0) / n as f64;
            #[cfg(test)]
            if self.ordered_load {
                self.heap.set(l, key);
                return;
            }
            // Ordered once, when `fill` starts: what it pops is the same, the minimum by
            // (share, link id) whatever the heap's shape.
            self.heap.push_unordered(l, key);
        }
    }

    /// Water-fills the declared problem, writing the rate of every variable
    /// flow into `rate`. `link_flows(l)` lists (at least) the variable flows
    /// through `l` (one entry per occurrence; non-variable entries are
    /// skipped); the path of flow `f` is `hops[off[f]..off[f + 1]]`.
    /// `frozen(f, rate, path)` is called for every flow as it is frozen,
    /// which is in order of non-decreasing rate up to rounding.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fill<'a>(
        &mut self,
        link_flows: impl Fn(usize) -> &'a [u32],
        off: &[u32],
        hops: &[u32],
        weight: impl Fn(u32) -> u32,
        rate: &mut [f64],
        mut frozen: impl FnMut(u32, f64, &[u32]),
    ) {
        // Flows are frozen in chunks: first their ids (flag bits only), then
        // the bounds and first hop of every path of the chunk, then the
        // updates. The path loads of a chunk are independent of each other,
        // so their cache misses overlap instead of queuing behind updates.
        const CHUNK: usize = 32;
        let mut batch = [0u32; CHUNK];
        let mut span = [(0u32, 0u32); CHUNK];
        self.heap.heapify();
        while let Some((l, _)) = self.heap.pop() {
            let li = l as usize;
            let share = self.rem[li].max(0.0) / self.n[li] as f64;
            let list = link_flows(li);
            let mut i = 0;
            while i < list.len() {
                let mut k = 0;
                while i < list.len() && k < CHUNK {
                    let f = list[i];
                    i += 1;
                    if self.var.get(f) && !self.frozen.get(f) {
                        self.frozen.set(f);
                        batch[k] = f;
                        k += 1;
                    }
                }
                for j in 0..k {
                    let fi = batch[j] as usize;
                    span[j] = (off[fi], off[fi + 1]);
                }
                let mut first = 0u32;
                for &(a, b) in &span[..k] {
                    if a < b {
                        first ^= hops[a as usize];
                    }
                }
                std::hint::black_box(first);
                for j in 0..k {
                    let f = batch[j];
                    rate[f as usize] = share;
                    let w = weight(f);
                    let ws = f64::from(w) * share;
                    let path = &hops[span[j].0 as usize..span[j].1 as usize];
                    frozen(f, share, path);
                    for &m in path {
                        let mi = m as usize;
                        self.rem[mi] -= ws;
                        self.n[mi] -= u64::from(w);
                        self.used[mi] += ws;
                        if !self.dirty[mi] {
                            self.dirty[mi] = true;
                            self.dirty_list.push(m);
                        }
                    }
                }
            }
            for &m in &self.dirty_list {
                let mi = m as usize;
                self.dirty[mi] = false;
                if m == l {
                    continue;
                }
                if self.n[mi] == 0 {
                    self.heap.remove(m);
                } else {
                    self.heap.set(m, self.rem[mi].max(0.0) / self.n[mi] as f64);
                }
            }
            self.dirty_list.clear();
        }
    }
}

/// Weighted max-min fair rates, checking the input.
///
/// `flows[i] = (path, weight)`; returns the rate of one unit of each flow
/// (a flow of weight `w` uses `w × rate` on each link of its path, counted
/// once per occurrence). A flow with an empty path is unconstrained and gets
/// `f64::INFINITY`.
///
/// # Errors
/// [`EngineError::InvalidCapacity`] for a capacity that is not finite and
/// positive, [`EngineError::InvalidLink`] for a link id out of range and
/// [`EngineError::InvalidWeight`] for a zero weight.
pub fn try_solve(capacity: &[f64], flows: &[(&[u32], u32)]) -> Result<Vec<f64>, EngineError> {
    try_solve_with(capacity, flows, |_| {})
}

/// [`try_solve`], with `setup` applied to the water-filling state before it is loaded.
fn try_solve_with(
    capacity: &[f64],
    flows: &[(&[u32], u32)],
    setup: impl FnOnce(&mut WaterFill),
) -> Result<Vec<f64>, EngineError> {
    for (link, &c) in capacity.iter().enumerate() {
        if !(c.is_finite() && c > 0.0) {
            return Err(EngineError::InvalidCapacity {
                link: link as u32,
                capacity: c,
            });
        }
    }
    let nl = capacity.len();
    let mut off = Vec::with_capacity(flows.len() + 1);
    let mut hops = Vec::new();
    let mut weight = Vec::with_capacity(flows.len());
    let mut link_flows: Vec<Vec<u32>> = vec![Vec::new(); nl];
    off.push(0u32);
    for (fi, &(path, w)) in flows.iter().enumerate() {
        if w == 0 {
            return Err(EngineError::InvalidWeight { flow: fi as u32 });
        }
        for &l in path {
            if l as usize >= nl {
                return Err(EngineError::InvalidLink {
                    link: l,
                    links: nl as u32,
                });
            }
            hops.push(l);
            link_flows[l as usize].push(fi as u32);
        }
        let end = u32::try_from(hops.len()).map_err(|_| EngineError::TooLarge)?;
        off.push(end);
        weight.push(w);
    }
    let nf = u32::try_from(flows.len()).map_err(|_| EngineError::TooLarge)?;
    let mut wf = WaterFill::new(nl, flows.len());
    setup(&mut wf);
    wf.begin();
    for f in 0..nf {
        wf.mark_var(f);
    }
    for (l, fl) in link_flows.iter().enumerate() {
        let n: u64 = fl.iter().map(|&f| u64::from(weight[f as usize])).sum();
        wf.set_link(l as u32, capacity[l], n, 0.0);
    }
    let mut rate = vec![f64::INFINITY; flows.len()];
    wf.fill(
        |l| &link_flows[l],
        &off,
        &hops,
        |f| weight[f as usize],
        &mut rate,
        |_, _, _| {},
    );
    Ok(rate)
}

/// Weighted max-min fair rates; see [`try_solve`] for the semantics.
///
/// # Panics
/// If the input is invalid (see [`try_solve`]'s errors).
pub fn solve(capacity: &[f64], flows: &[(&[u32], u32)]) -> Vec<f64> {
    match try_solve(capacity, flows) {
        Ok(r) => r,
        Err(e) => panic!("maxmin::solve: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Many equal shares (capacities from a small set, unit and small weights), so the
    /// order in which ties pop matters.
    fn instance() -> impl Strategy<Value = (Vec<f64>, Vec<(Vec<u32>, u32)>)> {
        (1usize..40).prop_flat_map(|l| {
            (
                prop::collection::vec(prop_oneof![Just(1.0f64), Just(3.0), Just(4.0), 0.5f64..10.0], l),
                prop::collection::vec((prop::collection::vec(0..l as u32, 1..8), 1u32..4), 1..120),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The heap loaded unordered and heapified once gives the rates of the heap loaded
        /// link by link, bit for bit.
        #[test]
        fn heapify_load_equals_ordered_load((caps, flows) in instance()) {
            let refs: Vec<(&[u32], u32)> = flows.iter().map(|(p, w)| (p.as_slice(), *w)).collect();
            let new = try_solve(&caps, &refs).unwrap();
            let old = try_solve_with(&caps, &refs, |wf| wf.ordered_load = true).unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&new), bits(&old));
        }
    }
}

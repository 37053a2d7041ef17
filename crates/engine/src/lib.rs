//! Deterministic discrete-event engine for fabricsim.
//!
//! The engine moves bytes over a network of directed links (identified by
//! dense `u32` ids with fixed capacities in bytes/s) and runs compute and
//! delay tasks, all connected by dependencies. Two fidelities exist:
//!
//! * [`Fidelity::Flow`]: concurrent flows share links by exact weighted
//!   max-min fairness, re-solved (incrementally, per connected component)
//!   whenever a flow starts or finishes.
//! * [`Fidelity::Analytical`]: an alpha-beta model; a transfer takes its
//!   latency plus the larger of its slowest flow alone on its path and its
//!   most loaded link's bytes over capacity. Transfers do not share links
//!   with each other (no contention between tasks).
//!
//! The engine does no I/O and is deterministic: the same tasks give
//! bit-identical [`RunReport`]s. Simultaneous events (within a relative
//! epsilon of `1e-12`) are batched and rates are re-solved once per batch.
//!
//! # Cost, and what keeps it low without approximation
//!
//! There is no approximation beyond the batching epsilon above: rates are
//! those a from-scratch max-min solve of every active flow gives at every
//! event (tested against one). What makes large transfers cheap:
//!
//! * **Partial re-solves.** A start re-solves the connected component it
//!   touches. A batch of pure completions re-solves only flows whose rate is
//!   at or above the smallest finished rate (less a relative `1e-9` margin):
//!   removing a flow of rate `r` from a water-filling leaves every rate
//!   below `r` unchanged.
//! * **Flow lists sorted by rate.** Each link keeps its flows in order of
//!   non-increasing rate class (the rate with the last 22 mantissa bits
//!   dropped, so rounding noise between equal rates does not reorder
//!   lists); the flows to re-solve on a link are then a prefix of its list,
//!   and a link without any is passed over after reading one entry. In an
//!   all-to-all of n(n−1) equal flows that start together the flows that
//!   finish are the fastest of their links, so every re-solve after the
//!   first is empty and costs O(hops of the finished flows).
//! * **Lists rebuilt in freezing order.** Water-filling freezes flows in
//!   order of non-decreasing rate, so a full solve writes every list anew,
//!   reversed, without sorting.
//! * **Completion times in sorted runs.** Each solve's reschedules are
//!   sorted once and merged like a binomial heap; pops are sequential reads.
//! * **Overlapped cache misses.** Water-filling and completions handle
//!   flows in chunks of 32 whose path bounds are loaded before any update,
//!   so the random reads of a chunk overlap.
//! * **Compact input.** [`FlowSet`] holds a transfer's paths in one array;
//!   identical flows (same path and bytes) merge through a hash table of
//!   8 bytes per slot with a fixed hash.
//!
//! [`Engine::stored_memory_estimate`] and [`Engine::run_memory_estimate`]
//! give the bytes these structures take, for callers that must check a run
//! fits before starting it.
//!
//! ```
//! use engine::{Engine, Fidelity, Flow, Task};
//! let mut e = Engine::new(vec![100.0], Fidelity::Flow).unwrap();
//! let flow = |b| Flow { path: vec![0], bytes: b, weight: 1 };
//! let t = e.add_task(Task::Transfer { latency: 1.0, flows: vec![flow(100.0), flow(100.0)] }, &[]).unwrap();
//! let r = e.run().unwrap();
//! assert_eq!(r.task_end_s[t.0 as usize], 3.0); // 1 s latency + 200 B at 100 B/s
//! ```

mod bits;
mod completions;
mod engine;
mod heap;
pub mod maxmin;
pub mod progress;

pub use engine::{check_capacities, AnalyticalPricer, Engine};

use std::fmt;

/// How transfers are modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fidelity {
    /// Flow-level fluid model with weighted max-min fair sharing.
    Flow,
    /// Alpha-beta model: `latency + max(max_f bytes_f / min capacity on
    /// path_f, max_l task bytes on l / capacity_l)`: a task's own flows load
    /// its links, other tasks do not (no contention between tasks).
    Analytical,
}

/// Identifier of a task, in insertion order starting at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

/// One (possibly weighted) flow of a [`Task::Transfer`].
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Link ids crossed, in order. A link listed twice is counted twice.
    pub path: Vec<u32>,
    /// Bytes carried by each of the `weight` identical flows.
    pub bytes: f64,
    /// Multiplicity: `weight` identical flows merged into one variable; each
    /// gets the same rate and each carries `bytes`. Must be at least 1.
    pub weight: u32,
}

/// The flows of one transfer in compact form: all paths in one array, no
/// allocation per flow. The same as a `Vec<Flow>` for
/// [`Engine::add_transfer`]; meant for transfers of millions of flows.
///
/// ```
/// use engine::{Engine, Fidelity, FlowSet};
/// let mut e = Engine::new(vec![100.0, 100.0], Fidelity::Flow).unwrap();
/// let mut flows = FlowSet::new();
/// flows.push(&[0, 1], 100.0, 1);
/// flows.push(&[1], 100.0, 1);
/// e.add_transfer(0.0, &flows, &[]).unwrap();
/// assert_eq!(e.run().unwrap().makespan_s, 2.0);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlowSet {
    /// End of each flow's path in `hops`.
    end: Vec<u32>,
    hops: Vec<u32>,
    bytes: Vec<f64>,
    weight: Vec<u32>,
    /// More than `u32::MAX` hops were pushed ([`Engine::add_transfer`]
    /// then fails with [`EngineError::TooLarge`]).
    overflow: bool,
}

/// `v.extend_from_slice(path)`, paths of a few links (most routes) copied by their length: a
/// copy of a size known in place is a few moves, where a copy of any size is a call.
#[inline]
pub fn extend_path(v: &mut Vec<u32>, path: &[u32]) {
    match *path {
        [a, b] => v.extend_from_slice(&[a, b]),
        [a, b, c, d] => v.extend_from_slice(&[a, b, c, d]),
        [a, b, c, d, e, f] => v.extend_from_slice(&[a, b, c, d, e, f]),
        [a] => v.push(a),
        [a, b, c] => v.extend_from_slice(&[a, b, c]),
        [a, b, c, d, e] => v.extend_from_slice(&[a, b, c, d, e]),
        _ => v.extend_from_slice(path),
    }
}

impl FlowSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with room for `flows` flows of `hops` hops in all.
    pub fn with_capacity(flows: usize, hops: usize) -> Self {
        Self {
            end: Vec::with_capacity(flows),
            hops: Vec::with_capacity(hops),
            bytes: Vec::with_capacity(flows),
            weight: Vec::with_capacity(flows),
            overflow: false,
        }
    }

    /// Appends `weight` identical flows of `bytes` each over `path` (see
    /// [`Flow`]; checked when the set is added to an engine).
    pub fn push(&mut self, path: &[u32], bytes: f64, weight: u32) {
        extend_path(&mut self.hops, path);
        let end = u32::try_from(self.hops.len()).unwrap_or_else(|_| {
            self.overflow = true;
            u32::MAX
        });
        self.end.push(end);
        self.bytes.push(bytes);
        self.weight.push(weight);
    }

    /// Appends the flows `paths` of `other` (their paths and weights), flow `q` with
    /// `bytes(q)` bytes: what [`FlowSet::push`] of each in turn gives, without a copy of each
    /// path on its own.
    ///
    /// # Panics
    /// Where `paths` is not a range of `other`'s flows, or `other` holds more than `u32::MAX`
    /// hops (its path ends are then not all known).
    pub fn extend_from(&mut self, other: &FlowSet, paths: std::ops::Range<usize>, bytes: impl FnMut(usize) -> f64) {
        assert!(!other.overflow, "extend_from: the source set overflowed");
        if paths.is_empty() {
            return;
        }
        let a = if paths.start == 0 {
            0
        } else {
            other.end[paths.start - 1] as usize
        };
        let b = other.end[paths.end - 1] as usize;
        let base = self.hops.len();
        self.hops.extend_from_slice(&other.hops[a..b]);
        self.end.reserve(paths.len());
        for &e in &other.end[paths.clone()] {
            let end = u32::try_from(base + (e as usize - a)).unwrap_or_else(|_| {
                self.overflow = true;
                u32::MAX
            });
            self.end.push(end);
        }
        self.bytes.extend(paths.clone().map(bytes));
        self.weight.extend_from_slice(&other.weight[paths]);
    }

    /// Number of flows (before merging).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no flow was pushed.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Total hops over all paths.
    pub fn hops(&self) -> usize {
        self.hops.len()
    }

    /// Removes every flow, keeping the allocations.
    pub fn clear(&mut self) {
        self.end.clear();
        self.hops.clear();
        self.bytes.clear();
        self.weight.clear();
        self.overflow = false;
    }

    /// Flow `i`: its path, bytes and weight.
    #[inline]
    pub fn flow(&self, i: usize) -> (&[u32], f64, u32) {
        (self.path(i), self.bytes[i], self.weight[i])
    }

    /// The bytes of every flow, to change in place (same paths and weights).
    pub fn bytes_mut(&mut self) -> &mut [f64] {
        &mut self.bytes
    }

    /// The bytes of every flow, in order.
    pub fn bytes(&self) -> &[f64] {
        &self.bytes
    }

    /// The weight of every flow, in order.
    pub fn weights(&self) -> &[u32] {
        &self.weight
    }

    /// Every hop of every path, flow after flow.
    pub fn links(&self) -> &[u32] {
        &self.hops
    }

    /// Where each flow's path ends in [`FlowSet::links`] (flow `i`'s path is
    /// `links()[ends[i - 1]..ends[i]]`, the first from 0).
    pub fn path_ends(&self) -> &[u32] {
        &self.end
    }

    /// Rename every hop `l` to `rename(l)` (same flows, bytes and weights).
    pub fn rename_links(&mut self, mut rename: impl FnMut(u32) -> u32) {
        for l in &mut self.hops {
            *l = rename(*l);
        }
    }

    /// The path of flow `i`.
    pub fn path(&self, i: usize) -> &[u32] {
        let a = if i == 0 { 0 } else { self.end[i - 1] as usize };
        &self.hops[a..self.end[i] as usize]
    }
}

/// A unit of work in the task graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// Fixed duration on no resource (e.g. a latency term).
    Delay {
        /// Duration in seconds (finite, `>= 0`).
        seconds: f64,
    },
    /// Runs `seconds` on `resource` (e.g. a device compute stream): tasks on
    /// the same resource run one at a time, in TaskId order among those that
    /// are ready (FIFO by TaskId).
    Compute {
        /// Arbitrary resource id.
        resource: u32,
        /// Duration in seconds (finite, `>= 0`).
        seconds: f64,
    },
    /// After `latency` seconds all flows start together; the task ends when
    /// the last flow drains. A flow with an empty path or 0 bytes completes
    /// immediately after the latency.
    Transfer {
        /// Start-up latency in seconds (finite, `>= 0`).
        latency: f64,
        /// The flows; identical ones (same path and bytes) are merged into
        /// one weighted variable automatically, which is exact.
        flows: Vec<Flow>,
    },
}

/// Per-link statistics of a run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkStats {
    /// Bytes carried (each flow counted once per occurrence of the link on
    /// its path, times its weight).
    pub bytes: f64,
    /// Time during which the link carried a positive rate.
    pub busy_s: f64,
    /// Maximum over time of used rate / capacity. In analytical mode this
    /// can exceed 1 (no sharing is modelled).
    pub peak_utilisation: f64,
}

/// Result of [`Engine::run`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunReport {
    /// Time at which the last task ended (0 with no tasks).
    pub makespan_s: f64,
    /// Start time per task, indexed by [`TaskId`]. For a compute task this
    /// is when it started running on its resource.
    pub task_start_s: Vec<f64>,
    /// End time per task, indexed by [`TaskId`].
    pub task_end_s: Vec<f64>,
    /// Statistics per link, indexed by link id (empty when an analytical engine's link
    /// statistics are off: [`Engine::set_link_stats`]).
    pub links: Vec<LinkStats>,
    /// Events processed (task events and flow completions).
    pub events: u64,
    /// Max-min (component) solves performed.
    pub solves: u64,
}

impl RunReport {
    /// The `k` most loaded links as `(link id, average utilisation)`, where
    /// average utilisation is `bytes / (capacity × makespan)`. Links that
    /// carried nothing are omitted; ties are broken by the smaller id.
    /// `caps` are the link capacities given to [`Engine::new`].
    pub fn bottlenecks(&self, caps: &[f64], k: usize) -> Vec<(u32, f64)> {
        if self.makespan_s <= 0.0 {
            return Vec::new();
        }
        let links = self
            .links
            .iter()
            .zip(caps)
            .enumerate()
            .filter(|(_, (s, &c))| s.bytes > 0.0 && c > 0.0)
            .map(|(i, (s, &c))| (i as u32, s.bytes / c / self.makespan_s));
        busiest(links, k)
    }
}

/// The `k` first of `links` (`(link id, utilisation)`) by utilisation, most first, ties by the
/// smaller id — a total order, so the result does not depend on the order they come in:
/// kept while scanning for small `k`, sorted otherwise.
pub(crate) fn busiest(links: impl Iterator<Item = (u32, f64)>, k: usize) -> Vec<(u32, f64)> {
    let before = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)).is_lt();
    if k > 64 {
        let mut v: Vec<(u32, f64)> = links.collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        return v;
    }
    let mut v: Vec<(u32, f64)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return v;
    }
    for x in links {
        if v.len() == k && !before(&x, &v[k - 1]) {
            continue;
        }
        let at = v.partition_point(|y| before(y, &x));
        v.insert(at, x);
        v.truncate(k);
    }
    v
}

/// [`busiest`] of `(l, b / caps[l] / end)` over `links` (`(link id, bytes)`): the same links
/// and utilisations, with the second division made only for links that may enter the first
/// `k` (most links of a large transfer cannot).
///
/// CORRECTNESS: with `end` normal, a link whose ratio `r = b / c` is below
/// `floor = r_k · (1 − 2⁻⁵⁰)` (`r_k` the ratio of the `k`-th link kept so far, normal, and the
/// product normal) has a utilisation strictly below that link's `u_k = fl(r_k / end)` (normal):
/// `floor` is at most `r_k (1 − 2⁻⁵⁰)(1 + 2⁻⁵³) < r_k (1 − 2⁻⁵¹)`, so `r / end` is below
/// `(r_k / end)(1 − 2⁻⁵¹)` and its rounding (relative error at most 2⁻⁵³ where normal; any
/// subnormal or zero is below a normal `u_k`) stays below `(r_k / end)(1 − 2⁻⁵²) <
/// (r_k / end)(1 − 2⁻⁵³) ≤ u_k`. Such a link comes after the `k`-th in `busiest`'s order
/// (strictly less utilisation), so `busiest` would not keep it either; every other link is
/// compared as `busiest` compares it. Elsewhere (`end`, `r_k`, `u_k` or `floor` not normal, or
/// `r_k` not positive — a negative capacity; no `k`-th link yet) nothing is skipped.
pub(crate) fn busiest_loads(
    links: impl Iterator<Item = (u32, f64)>,
    caps: &[f64],
    end: f64,
    k: usize,
) -> Vec<(u32, f64)> {
    if k == 0 || k > 64 || !end.is_normal() {
        return busiest(links.map(|(l, b)| (l, b / caps[l as usize] / end)), k);
    }
    let before = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)).is_lt();
    // The links kept, with their ratios.
    let mut v: Vec<((u32, f64), f64)> = Vec::with_capacity(k + 1);
    let mut floor = f64::NEG_INFINITY;
    for (l, b) in links {
        let r = b / caps[l as usize];
        if r < floor {
            continue;
        }
        let x = (l, r / end);
        if v.len() == k && !before(&x, &v[k - 1].0) {
            continue;
        }
        let at = v.partition_point(|y| before(&y.0, &x));
        v.insert(at, (x, r));
        v.truncate(k);
        if v.len() == k {
            let ((_, u_k), r_k) = v[k - 1];
            let f = r_k * (1.0 - 4.0 * f64::EPSILON);
            // Positive only: the bound below holds for a positive `r_k` (a negative one, from a
            // capacity `check_capacities` refuses, would put `floor` above it).
            floor = if r_k > 0.0 && r_k.is_normal() && u_k.is_normal() && f.is_normal() {
                f
            } else {
                f64::NEG_INFINITY
            };
        }
    }
    v.into_iter().map(|(x, _)| x).collect()
}

/// Errors of the engine and of [`maxmin::try_solve`].
#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// A link capacity is zero, negative, infinite or NaN.
    InvalidCapacity {
        /// Link id.
        link: u32,
        /// The offending capacity.
        capacity: f64,
    },
    /// A path names a link id that does not exist.
    InvalidLink {
        /// The offending id.
        link: u32,
        /// Number of links.
        links: u32,
    },
    /// A flow has weight 0.
    InvalidWeight {
        /// Index of the flow in its task (or in the solver input).
        flow: u32,
    },
    /// A flow's byte count is negative or not finite.
    InvalidBytes {
        /// Index of the flow in its task.
        flow: u32,
        /// The offending value.
        bytes: f64,
    },
    /// A duration or latency is negative or not finite.
    InvalidDuration {
        /// The offending value.
        seconds: f64,
    },
    /// A dependency refers to a task that has not been added (yet).
    UnknownDependency {
        /// The offending dependency.
        dep: TaskId,
        /// Number of tasks added so far.
        tasks: u32,
    },
    /// More tasks, flows or flow-hops than `u32` ids can address.
    TooLarge,
    /// A weight sum overflowed `u32` while merging identical flows.
    WeightOverflow,
    /// [`Engine::add_transfer_like`] names a task that is not a transfer.
    NotATransfer {
        /// The offending task.
        task: TaskId,
    },
    /// [`Engine::add_priced_transfer`] on an engine in flow mode.
    NotAnalytical,
    /// The simulation could not make progress (internal invariant broken).
    Stalled {
        /// Simulated time at which it stalled.
        time: f64,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCapacity { link, capacity } => {
                write!(
                    f,
                    "link {link} has invalid capacity {capacity} (must be finite and > 0)"
                )
            }
            Self::InvalidLink { link, links } => {
                write!(f, "link id {link} out of range (there are {links} links)")
            }
            Self::InvalidWeight { flow } => write!(f, "flow {flow} has weight 0"),
            Self::InvalidBytes { flow, bytes } => {
                write!(
                    f,
                    "flow {flow} has invalid byte count {bytes} (must be finite and >= 0)"
                )
            }
            Self::InvalidDuration { seconds } => {
                write!(f, "invalid duration {seconds} s (must be finite and >= 0)")
            }
            Self::UnknownDependency { dep, tasks } => {
                write!(f, "dependency on task {} but only {tasks} tasks exist", dep.0)
            }
            Self::TooLarge => write!(f, "too many tasks, flows or flow-hops for u32 ids"),
            Self::WeightOverflow => write!(f, "merged flow weight overflows u32"),
            Self::NotATransfer { task } => write!(f, "task {} is not a transfer", task.0),
            Self::NotAnalytical => write!(f, "a priced transfer needs an analytical engine"),
            Self::Stalled { time } => write!(f, "simulation stalled at t = {time} s"),
        }
    }
}

impl std::error::Error for EngineError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A byte count or capacity: ordinary, equal to others (ties), subnormal, tiny, huge.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            1.0f64..1e12,
            Just(3.0e9),
            Just(6.0e9),
            Just(5e-324),
            Just(1e-300),
            Just(1e300),
            (1u32..8).prop_map(f64::from),
        ]
    }

    /// Negative capacities (no caller passes them: `check_capacities` refuses them) make
    /// negative ratios, below which the skip's bound does not hold: none is skipped there
    /// (a link a hair above the k-th negative one is kept, as `busiest` keeps it).
    #[test]
    fn busiest_loads_with_negative_ratios() {
        let caps = [1.0, -1.0, -1.0, -1.0];
        for links in [
            vec![(0, 1.0), (1, 1.0), (2, 1.0 - f64::EPSILON / 2.0)],
            vec![(1, 1.0), (2, 1.0 - f64::EPSILON / 2.0), (3, 1.0 - f64::EPSILON)],
        ] {
            for end in [1.0, 3.0, 1e-3] {
                for k in 1..4 {
                    let want = busiest(links.iter().map(|&(l, b)| (l, b / caps[l as usize] / end)), k);
                    assert_eq!(
                        busiest_loads(links.iter().copied(), &caps, end, k),
                        want,
                        "{links:?} end {end} k {k}"
                    );
                }
            }
        }
    }

    proptest! {
        /// `extend_path` appends what `extend_from_slice` appends, at every length (the ones
        /// copied by length and the others), after any prefix.
        #[test]
        fn extend_path_is_extend_from_slice(prefix in prop::collection::vec(any::<u32>(), 0..5),
                                            path in prop::collection::vec(any::<u32>(), 0..12)) {
            let mut want = prefix.clone();
            want.extend_from_slice(&path);
            let mut got = prefix;
            extend_path(&mut got, &path);
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// `busiest_loads` is `busiest` of the utilisations `b / c / end`, link for link and
        /// bit for bit: links in any order (ids repeated or not), ties, extreme ratios and
        /// makespans, any `k` (past 64 too) — and capacities no caller passes (negative, zero,
        /// NaN, infinite).
        #[test]
        fn busiest_loads_is_busiest(links in prop::collection::vec((0u32..40, value()), 0..60),
                                    caps in prop::collection::vec(prop_oneof![4 => value(), 1 => value().prop_map(|v| -v),
                                                                              1 => Just(0.0f64), 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)], 40),
                                    end in prop_oneof![1e-6f64..1e3, Just(1.0), Just(5e-324), Just(1e-310), Just(1e300), Just(f64::MAX)],
                                    k in prop_oneof![0usize..6, Just(65usize)]) {
            let want = busiest(links.iter().map(|&(l, b)| (l, b / caps[l as usize] / end)), k);
            let got = busiest_loads(links.iter().copied(), &caps, end, k);
            let bits = |v: &[(u32, f64)]| v.iter().map(|&(l, u)| (l, u.to_bits())).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }

        /// Many links whose ratios sit within a few ulps of each other around the k-th, later
        /// ones with smaller ids (ties go their way): the skip never drops one `busiest` keeps.
        #[test]
        fn busiest_loads_near_ties(base in 1.0f64..1e10, ulps in prop::collection::vec(-8i64..8, 1..50),
                                   end in prop_oneof![0.3f64..3.0, 1e-3f64..1e3], k in 1usize..5) {
            let caps = vec![1.0; ulps.len() + 1];
            let links: Vec<(u32, f64)> = ulps
                .iter()
                .enumerate()
                // Later links have smaller ids: one tying the k-th in utilisation goes before it.
                .map(|(i, &d)| ((ulps.len() - i) as u32, f64::from_bits((base.to_bits() as i64 + d) as u64)))
                .collect();
            let want = busiest(links.iter().map(|&(l, b)| (l, b / caps[l as usize] / end)), k);
            let got = busiest_loads(links.iter().copied(), &caps, end, k);
            prop_assert_eq!(got, want);
        }
    }
}

//! The discrete-event simulation itself.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use crate::bits::BitSet;
use crate::completions::Completions;
use crate::maxmin::WaterFill;
use crate::{EngineError, Fidelity, FlowSet, LinkStats, RunReport, Task, TaskId};

/// Relative tolerance under which events are considered simultaneous.
const BATCH_EPS: f64 = 1e-12;

/// Flows whose rate is below `(1 - FIXED_MARGIN) ×` the smallest rate of
/// the flows that just finished keep their rate without being re-solved
/// (exact: in water-filling, removing a flow of rate `r` cannot change any
/// rate below `r`). The margin only guards against rounding.
const FIXED_MARGIN: f64 = 1e-9;

/// The class of a rate (`>= 0`) for ordering flow lists: its bits with the
/// low 22 of the mantissa dropped, so rates within a relative `2^-30` (about
/// `FIXED_MARGIN`) usually share a class, and rounding differences between
/// mathematically equal rates rarely reorder a list. Monotone in the rate.
#[inline]
fn rate_class(rate: f64) -> u64 {
    rate.to_bits() >> 22
}

/// Marks a flow list found out of order while it is rebuilt (above every
/// rate class).
const UNSORTED: u64 = u64::MAX;

/// Whether flow `f` lies in one of the sorted, disjoint `ranges`.
#[inline]
fn is_started(ranges: &[(u32, u32)], f: u32) -> bool {
    match ranges {
        [] => false,
        [(a, b)] => (*a..*b).contains(&f),
        _ => {
            let i = ranges.partition_point(|&(a, _)| a <= f);
            i > 0 && f < ranges[i - 1].1
        }
    }
}

/// Stored form of a task.
#[derive(Debug, Clone)]
enum Spec {
    Delay(f64),
    Compute {
        resource: u32,
        seconds: f64,
    },
    Transfer {
        latency: f64,
        first: u32,
        end: u32,
    },
    /// Analytical mode: a transfer priced beforehand ([`Engine::add_priced_transfer`]).
    Priced {
        latency: f64,
        seconds: f64,
    },
}

/// A deterministic discrete-event engine: build a task graph with
/// [`Engine::add_task`], then [`Engine::run`] it.
#[derive(Debug, Clone)]
pub struct Engine {
    caps: Vec<f64>,
    fidelity: Fidelity,
    specs: Vec<Spec>,
    /// CSR of dependencies per task.
    dep_off: Vec<u32>,
    deps: Vec<u32>,
    /// CSR of flow paths (after merging identical flows).
    flow_off: Vec<u32>,
    hops: Vec<u32>,
    flow_bytes: Vec<f64>,
    flow_weight: Vec<u32>,
    /// Whether every stored flow has weight 1 (then weights are not read).
    unit_weights: bool,
    /// `(first flow, task)` of every transfer with flows, by first flow:
    /// the flows of a transfer are the range up to the next one's first.
    transfer_first: Vec<(u32, u32)>,
    /// Analytical mode: the flow ranges `(first, end)` that several transfers share
    /// ([`Engine::add_transfer_like`]), sorted; a run prices each such range once.
    shared: Vec<(u32, u32)>,
    /// Whether an analytical run records per-link statistics ([`Engine::set_link_stats`]).
    link_stats: bool,
    /// Whether an analytical run's link statistics include busy time and peak utilisation
    /// ([`Engine::set_link_bytes_only`]).
    link_times: bool,
    /// Tests: water-fill with the heap loaded link by link (as before `heapify`).
    #[cfg(test)]
    ordered_heap_load: bool,
}

/// The check [`Engine::new`] makes of its capacities: every one finite and positive, the first
/// bad one named.
///
/// # Errors
/// [`EngineError::InvalidCapacity`].
pub fn check_capacities(caps: &[f64]) -> Result<(), EngineError> {
    // One pass without early exit, on the bits in lanes the compiler vectorises (~10⁵ links
    // per engine, and every pricing of a plan checks them), then the first bad one for the
    // error. A capacity is finite and positive exactly when its bits `x` have the sign bit
    // clear, are not 0 (+0: `x - 1` wraps to the sign bit) and have an exponent short of all
    // ones (infinities and NaNs: `x + 2⁵²` carries into the sign bit): the sign bit of
    // `x | (x + 2⁵²) | (x - 1)`, or-ed over every capacity, is clear when all are valid.
    let valid = |c: f64| c.is_finite() & (c > 0.0);
    let flag = |c: &f64| {
        let x = c.to_bits();
        x | x.wrapping_add(1 << 52) | x.wrapping_sub(1)
    };
    // (An integer `|` reduction: the compiler splits it into vector lanes itself.)
    if caps.iter().fold(0u64, |o, c| o | flag(c)) >> 63 != 0 {
        if let Some((link, &c)) = caps.iter().enumerate().find(|(_, &c)| !valid(c)) {
            return Err(EngineError::InvalidCapacity {
                link: link as u32,
                capacity: c,
            });
        }
    }
    Ok(())
}

fn check_duration(seconds: f64) -> Result<(), EngineError> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(())
    } else {
        Err(EngineError::InvalidDuration { seconds })
    }
}

impl Engine {
    /// A new engine over links with the given capacities (bytes/s).
    ///
    /// # Errors
    /// [`EngineError::InvalidCapacity`] if a capacity is not finite and
    /// positive; [`EngineError::TooLarge`] for more than `u32::MAX` links.
    pub fn new(link_capacity_bytes_per_s: Vec<f64>, fidelity: Fidelity) -> Result<Self, EngineError> {
        if u32::try_from(link_capacity_bytes_per_s.len()).is_err() {
            return Err(EngineError::TooLarge);
        }
        check_capacities(&link_capacity_bytes_per_s)?;
        Ok(Self {
            caps: link_capacity_bytes_per_s,
            fidelity,
            specs: Vec::new(),
            dep_off: vec![0],
            deps: Vec::new(),
            flow_off: vec![0],
            hops: Vec::new(),
            flow_bytes: Vec::new(),
            flow_weight: Vec::new(),
            unit_weights: true,
            transfer_first: Vec::new(),
            shared: Vec::new(),
            link_stats: true,
            link_times: true,
            #[cfg(test)]
            ordered_heap_load: false,
        })
    }

    /// Link capacities (bytes/s), indexed by link id.
    pub fn capacities(&self) -> &[f64] {
        &self.caps
    }

    /// Whether an analytical run records per-link statistics (on by default). Off, it
    /// reports the same times and an empty [`RunReport::links`], without the cost of
    /// recording every transfer's busy intervals on every link it loads: for callers that
    /// read the timeline only. The flow fidelity always records them (they fall out of its
    /// rate updates).
    pub fn set_link_stats(&mut self, on: bool) {
        self.link_stats = on;
    }

    /// Whether an analytical run's link statistics hold the bytes only (off by default): then
    /// [`LinkStats::busy_s`] and [`LinkStats::peak_utilisation`] stay 0, without recording a
    /// busy interval per (transfer, link) and sweeping them at the end. The bytes, and what
    /// derives from them ([`RunReport::bottlenecks`]), are the same; so are the times. The
    /// flow fidelity always records everything.
    pub fn set_link_bytes_only(&mut self, on: bool) {
        self.link_times = !on;
    }

    /// The fidelity this engine runs at.
    pub fn fidelity(&self) -> Fidelity {
        self.fidelity
    }

    /// Run at `fidelity` from now on: the same task graph simulated again under the other
    /// model without routing, checking and storing its flows a second time (they are stored
    /// alike under both). Refused (returns `false`, nothing changed) once
    /// [`Engine::add_transfer_like`] has made analytical transfers share their flows, which
    /// the flow fidelity stores as copies.
    pub fn set_fidelity(&mut self, fidelity: Fidelity) -> bool {
        // Shared flow ranges and priced transfers exist only in analytical mode.
        let priced = || self.specs.iter().any(|s| matches!(s, Spec::Priced { .. }));
        if fidelity != self.fidelity && (!self.shared.is_empty() || priced()) {
            return false;
        }
        self.fidelity = fidelity;
        true
    }

    /// Whether a flow-fidelity run of this task graph ends when an analytical run of it does,
    /// at every task, by a closed form rather than by the event order: every task a transfer,
    /// each one after the one before it (the transfers never run at the same time), and within
    /// each transfer every link's flows carrying the same bytes (zero-byte flows aside: they
    /// start nothing at either fidelity). Callers that need only the times and each link's
    /// bytes may then run the analytical fidelity in place of the flow one; busy times, peak
    /// utilisations and the event and solve counts are the flow fidelity's own and differ.
    /// The times agree up to rounding: sums taken in another order, and the flow run's
    /// batching of completions within 10⁻¹² (relative) of each other, which can end each of its
    /// transfers that much early — the closed form is the exact value.
    ///
    /// CORRECTNESS (why the times agree, up to the rounding of floating-point sums): within
    /// one transfer, flows that share a link carry the same bytes, so every set of flows
    /// joined through shared links carries one size `b`. Let `n_l` count a link's flows (by
    /// weight and by occurrences on the path) and `M` be the largest `n_l / c_l` of the set's
    /// links. At any moment of the flow run each live flow's max-min rate is at least the
    /// smallest `c_l / n_l(t) ≥ 1 / M` over its links (fewer live flows only raise a share),
    /// so every flow is done `b · M` after the transfer starts; and a link with
    /// `n_l / c_l = M` must carry `n_l · b` bytes at `c_l` at most, so its flows are not done
    /// earlier. The transfer therefore lasts the largest `n_l · b / c_l` over its links —
    /// the analytical duration's second term, which bounds its first (one flow alone on its
    /// narrowest link). With transfers in sequence, each starts at the same time under both.
    pub fn flow_matches_analytical(&self) -> bool {
        if !self.shared.is_empty() {
            return false;
        }
        // Each link's bytes in the current transfer (`UNSET`: none yet), reset after it.
        const UNSET: u64 = u64::MAX;
        let mut seen: Vec<u64> = vec![UNSET; self.caps.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (t, spec) in self.specs.iter().enumerate() {
            let Spec::Transfer { first, end, .. } = *spec else {
                return false;
            };
            let deps = &self.deps[self.dep_off[t] as usize..self.dep_off[t + 1] as usize];
            if t > 0 && !deps.contains(&(t as u32 - 1)) {
                return false;
            }
            for f in first..end {
                let bytes = self.flow_bytes[f as usize];
                if bytes <= 0.0 {
                    continue;
                }
                let bits = bytes.to_bits();
                for &l in self.path(f) {
                    let s = &mut seen[l as usize];
                    if *s == UNSET {
                        *s = bits;
                        touched.push(l);
                    } else if *s != bits {
                        return false;
                    }
                }
            }
            for l in touched.drain(..) {
                seen[l as usize] = UNSET;
            }
        }
        true
    }

    /// Number of tasks added so far.
    pub fn num_tasks(&self) -> usize {
        self.specs.len()
    }

    /// Number of flow variables stored (after merging identical flows).
    pub fn num_flows(&self) -> usize {
        self.flow_bytes.len()
    }

    /// Bytes the stored flows of an engine take: `flows` flow variables over
    /// `flow_hops` hops in all (see [`Engine::run_memory_estimate`]).
    pub fn stored_memory_estimate(flows: u64, flow_hops: u64) -> u64 {
        // flow_off, flow_bytes, flow_weight; one link id per hop.
        (4 + 8 + 4) * flows + 4 * flow_hops
    }

    /// Bytes [`Engine::run`] allocates at its peak, on top of the stored flows,
    /// for `links` links and `flows` flows over `flow_hops` hops: in flow
    /// fidelity the state of a solve that holds every flow at once (the first
    /// solve of one transfer of them all). Counted from the arrays the run
    /// keeps, before allocator overhead; callers calibrate it against measured
    /// peak memory (`collective::memory`).
    pub fn run_memory_estimate(links: u64, flows: u64, flow_hops: u64, fidelity: Fidelity) -> u64 {
        match fidelity {
            // Per flow: rate, new rate, remaining bytes, last update, due time
            // (8 B each), completion queue entry (16 B, plus 16 B while two
            // runs merge), solve variables (4 B, up to 8 B while growing),
            // three bit flags. Per hop: the link's flow list, and its rebuilt
            // copy during a full solve. Per link: its list header (24 B),
            // water-filling state and heap slot (37 B), statistics (24 B) and
            // eleven other words or flags.
            Fidelity::Flow => 80 * flows + 8 * flow_hops + 176 * links,
            // Per link: the task's load, statistics, busy intervals.
            Fidelity::Analytical => 80 * links,
        }
    }

    /// Adds a task that starts once all of `deps` have ended.
    ///
    /// Identical flows of a transfer (same path and bytes) are merged into
    /// one weighted variable. On error nothing is added.
    ///
    /// # Errors
    /// [`EngineError::UnknownDependency`] if a dependency does not exist
    /// yet, [`EngineError::InvalidDuration`] for a bad duration or latency,
    /// [`EngineError::InvalidLink`], [`EngineError::InvalidBytes`] or
    /// [`EngineError::InvalidWeight`] for a bad flow,
    /// [`EngineError::WeightOverflow`] / [`EngineError::TooLarge`] when ids
    /// or weights overflow `u32`.
    pub fn add_task(&mut self, task: Task, deps: &[TaskId]) -> Result<TaskId, EngineError> {
        let id = self.check_task(deps)?;
        let spec = match task {
            Task::Delay { seconds } => {
                check_duration(seconds)?;
                Spec::Delay(seconds)
            }
            Task::Compute { resource, seconds } => {
                check_duration(seconds)?;
                Spec::Compute { resource, seconds }
            }
            Task::Transfer { latency, flows } => {
                let get = |i: usize| {
                    let f = &flows[i];
                    (f.path.as_slice(), f.bytes, f.weight)
                };
                self.store_flows(id, latency, flows.len(), get)?
            }
        };
        self.push_task(spec, deps)
    }

    /// Adds a transfer whose flows are given in compact form (see
    /// [`FlowSet`]); otherwise the same as [`Engine::add_task`] with
    /// [`Task::Transfer`], including the merging of identical flows.
    ///
    /// # Errors
    /// As [`Engine::add_task`].
    pub fn add_transfer(&mut self, latency: f64, flows: &FlowSet, deps: &[TaskId]) -> Result<TaskId, EngineError> {
        let id = self.check_task(deps)?;
        if flows.overflow {
            return Err(EngineError::TooLarge);
        }
        let spec = self.store_flows(id, latency, flows.len(), |i| {
            (flows.path(i), flows.bytes[i], flows.weight[i])
        })?;
        self.push_task(spec, deps)
    }

    /// Analytical mode: adds a transfer whose duration `seconds` was priced beforehand by an
    /// [`AnalyticalPricer`] over this engine's capacities — the same as [`Engine::add_transfer`]
    /// of those flows (same start, same end, bit for bit), without storing them. Such a
    /// transfer loads no link in the run's statistics, so use it where those are off
    /// ([`Engine::set_link_stats`]).
    ///
    /// # Errors
    /// [`EngineError::NotAnalytical`] in flow mode; otherwise as [`Engine::add_task`].
    pub fn add_priced_transfer(&mut self, latency: f64, seconds: f64, deps: &[TaskId]) -> Result<TaskId, EngineError> {
        self.check_task(deps)?;
        if self.fidelity != Fidelity::Analytical {
            return Err(EngineError::NotAnalytical);
        }
        check_duration(latency)?;
        check_duration(seconds)?;
        self.push_task(Spec::Priced { latency, seconds }, deps)
    }

    /// Adds a transfer with the flows of transfer `like` (added earlier) and start-up
    /// `latency`: the same as [`Engine::add_task`] with `like`'s flows again, without checking
    /// or merging them a second time (the stored flows are those `like` stored). In analytical
    /// mode the transfers share one stored copy, and a run prices it once (a transfer's
    /// analytical duration and link loads depend on its flows alone).
    ///
    /// # Errors
    /// [`EngineError::NotATransfer`] if `like` is not a transfer; otherwise as
    /// [`Engine::add_task`].
    pub fn add_transfer_like(&mut self, latency: f64, like: TaskId, deps: &[TaskId]) -> Result<TaskId, EngineError> {
        let id = self.check_task(deps)?;
        check_duration(latency)?;
        let Some(&Spec::Transfer { first, end, .. }) = self.specs.get(like.0 as usize) else {
            return Err(EngineError::NotATransfer { task: like });
        };
        let spec = if self.fidelity == Fidelity::Analytical {
            if let Err(at) = self.shared.binary_search(&(first, end)) {
                self.shared.insert(at, (first, end));
            }
            Spec::Transfer { latency, first, end }
        } else {
            // Flow mode: every transfer's flows are variables of their own (a copy).
            let (h0, h1) = (self.flow_off[first as usize], self.flow_off[end as usize]);
            let total_hops = self.hops.len() + (h1 - h0) as usize;
            let total_flows = self.flow_bytes.len() + (end - first) as usize;
            if u32::try_from(total_hops).is_err() || total_flows >= u32::MAX as usize {
                return Err(EngineError::TooLarge);
            }
            let new_first = self.flow_bytes.len() as u32;
            self.hops.extend_from_within(h0 as usize..h1 as usize);
            let base = self.hops.len() as u32 - h1;
            for f in first..end {
                let off = self.flow_off[f as usize + 1] + base;
                self.flow_off.push(off);
            }
            self.flow_bytes.extend_from_within(first as usize..end as usize);
            self.flow_weight.extend_from_within(first as usize..end as usize);
            if end > first {
                self.transfer_first.push((new_first, id));
            }
            Spec::Transfer {
                latency,
                first: new_first,
                end: self.flow_bytes.len() as u32,
            }
        };
        self.push_task(spec, deps)
    }

    /// The id the next task gets, after checking its dependencies.
    fn check_task(&self, deps: &[TaskId]) -> Result<u32, EngineError> {
        let ntasks = self.specs.len() as u32;
        let id = u32::try_from(self.specs.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .ok_or(EngineError::TooLarge)?;
        for &d in deps {
            if d.0 >= ntasks {
                return Err(EngineError::UnknownDependency { dep: d, tasks: ntasks });
            }
        }
        if u32::try_from(self.deps.len() + deps.len()).is_err() {
            return Err(EngineError::TooLarge);
        }
        Ok(id)
    }

    /// Checks the `n` flows of transfer `id` (`flow(i)` = path, bytes,
    /// weight), merges identical ones and stores them. On error nothing is
    /// stored.
    fn store_flows<'a>(
        &mut self,
        id: u32,
        latency: f64,
        n: usize,
        flow: impl Fn(usize) -> (&'a [u32], f64, u32),
    ) -> Result<Spec, EngineError> {
        check_duration(latency)?;
        let nl = self.caps.len() as u32;
        let Merged {
            flows: merged,
            hops: new_hops,
        } = check_merge(n, &flow, nl)?;
        let total_hops = self.hops.len() + new_hops;
        let total_flows = self.flow_bytes.len() + merged.len();
        if u32::try_from(total_hops).is_err() || total_flows >= u32::MAX as usize {
            return Err(EngineError::TooLarge);
        }
        self.hops.reserve(new_hops);
        self.flow_off.reserve(merged.len());
        self.flow_bytes.reserve(merged.len());
        self.flow_weight.reserve(merged.len());
        let first = self.flow_bytes.len() as u32;
        for &(i, w) in &merged {
            let (path, bytes, _) = flow(i as usize);
            self.hops.extend_from_slice(path);
            self.flow_off.push(self.hops.len() as u32);
            self.flow_bytes.push(bytes);
            self.flow_weight.push(w);
            self.unit_weights &= w == 1;
        }
        if !merged.is_empty() {
            self.transfer_first.push((first, id));
        }
        Ok(Spec::Transfer {
            latency,
            first,
            end: self.flow_bytes.len() as u32,
        })
    }

    /// Appends a checked task (see [`Engine::check_task`]).
    fn push_task(&mut self, spec: Spec, deps: &[TaskId]) -> Result<TaskId, EngineError> {
        let id = self.specs.len() as u32;
        self.deps.extend(deps.iter().map(|d| d.0));
        self.dep_off.push(self.deps.len() as u32);
        self.specs.push(spec);
        Ok(TaskId(id))
    }

    /// Runs the task graph from time 0 and reports the timeline. The engine
    /// is left unchanged, so `run` can be called again (with an identical
    /// result).
    ///
    /// # Errors
    /// [`EngineError::Stalled`] if an internal invariant is broken (a flow
    /// left with zero rate); not expected in practice.
    pub fn run(&mut self) -> Result<RunReport, EngineError> {
        Sim::new(self).run()
    }

    /// The weight of flow `f`.
    #[inline]
    fn weight(&self, f: u32) -> u32 {
        if self.unit_weights {
            1
        } else {
            self.flow_weight[f as usize]
        }
    }

    #[inline]
    fn path(&self, f: u32) -> &[u32] {
        &self.hops[self.flow_off[f as usize] as usize..self.flow_off[f as usize + 1] as usize]
    }
}

/// One flow of an analytical transfer (`analytical_seconds`, `price_flows`): adds
/// `bytes · w` to the load of each link of `path` — unless `DENSE`, listing in `touched` the
/// links it is the first to load — and returns the flow's own term, `bytes` over the path's
/// smallest capacity, where the transfer's last maximum over loaded links (`load / capacity`)
/// may not already hold it: `None` for a flow that loads its links, and for an empty path
/// (which loads nothing and takes no time).
///
/// CORRECTNESS: the transfer's duration is the largest of every flow's term and every loaded
/// link's `load / capacity`, capacities positive and finite (the engine's and the callers'
/// checks). A flow with `bytes · w > 0` (bytes finite, `w ≥ 1`) adds that to each link of its
/// path, so each of those links ends with a load of at least `bytes · w ≥ bytes` (a rounded
/// sum of terms ≥ 0 is at least each term; `w ≥ 1` is exact), and is among the loaded links
/// the last maximum reads. On the link of the smallest capacity `c`, `load / c ≥ bytes / c`
/// (correctly rounded division is monotone), which is the flow's term: the maximum is the
/// same bits without it. So only the flows that load nothing (0 bytes, or −0) return their
/// term, from the smallest capacity as before (`c < min` keeps what `f64::min` keeps); a
/// flow that loads reads no capacity at all — half of the hops' scattered reads.
#[inline]
fn flow_terms<const DENSE: bool>(
    path: &[u32],
    bytes: f64,
    w: u32,
    caps: &[f64],
    load: &mut [f64],
    touched: &mut Vec<u32>,
) -> Option<f64> {
    if path.is_empty() {
        return None;
    }
    let bw = bytes * f64::from(w);
    if bw > 0.0 {
        if DENSE {
            for &l in path {
                load[l as usize] += bw;
            }
        } else {
            // A link is listed where this flow is the first to load it (a branch: a version
            // writing every link past the list's end without one cost a fill per flow).
            for &l in path {
                let v = &mut load[l as usize];
                if *v == 0.0 {
                    touched.push(l);
                }
                *v += bw;
            }
        }
        return None;
    }
    let mut min_cap = f64::INFINITY;
    for &l in path {
        let c = caps[l as usize];
        if c < min_cap {
            min_cap = c;
        }
    }
    Some(bytes / min_cap)
}

/// The analytical duration of one transfer's stored flows (`flow(i)` = path, bytes, weight of
/// its `n` merged flows, in stored order): the larger of the slowest flow alone on its path and
/// the most loaded link's bytes over its capacity. Leaves each touched link's load in `load`
/// (first-touch order in `touched`) for the caller to read and reset.
fn analytical_seconds<'a>(
    n: usize,
    flow: impl Fn(usize) -> (&'a [u32], f64, u32),
    caps: &[f64],
    load: &mut [f64],
    touched: &mut Vec<u32>,
) -> f64 {
    let mut dur: f64 = 0.0;
    for i in 0..n {
        let (path, bytes, w) = flow(i);
        if let Some(t) = flow_terms::<false>(path, bytes, w, caps, load, touched) {
            dur = dur.max(t);
        }
    }
    for &l in touched.iter() {
        dur = dur.max(load[l as usize] / caps[l as usize]);
    }
    dur
}

/// Prices transfers as an analytical engine over `caps` would ([`Engine::add_transfer`] then a
/// run), one after another with reused scratch: the duration [`Engine::add_priced_transfer`]
/// takes. Checks and merges the flows exactly as [`Engine::add_transfer`] does, so a set it
/// refuses gives that error.
pub struct AnalyticalPricer<'c> {
    caps: &'c [f64],
    load: Vec<f64>,
    touched: Vec<u32>,
    /// [`AnalyticalPricer::price_chain`]: bytes per link over several transfers (allocated by
    /// the first chain of more than one).
    bytes: Vec<f64>,
    bytes_touched: Vec<u32>,
    /// The call under way reads loads back by a scan of every link (`chain`), and `clear`
    /// zeroes them all.
    dense: bool,
    /// … and a chain of several transfers: `bytes` holds sums to zero.
    dense_bytes: bool,
    /// Tests: the mode every call takes (else chosen by the hop count).
    force_dense: Option<bool>,
}

thread_local! {
    /// Zeroed per-link arrays (a pricer's loads and bytes) of this thread's last pricer, for
    /// the next one to reuse: pricing a small plan over ~10⁵ links would otherwise zero two
    /// arrays of that length. A pricer gives them back all zeros (it resets every entry it
    /// touched), so results do not depend on it.
    static PRICER_ARRAYS: std::cell::RefCell<(Vec<f64>, Vec<f64>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    /// The touched-link lists of this thread's last pricer, emptied, for the next one (a list
    /// grown to ~10⁵ entries again by doubling would copy itself as many times).
    static PRICER_LISTS: std::cell::RefCell<(Vec<u32>, Vec<u32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Longest arrays the pool keeps (8 bytes an entry): 2²² entries, 32 MiB each.
const MAX_POOLED_LINKS: usize = 1 << 22;

impl<'c> AnalyticalPricer<'c> {
    /// A pricer over the engine's link capacities `caps` (bytes/s).
    pub fn new(caps: &'c [f64]) -> Self {
        let (mut load, bytes) = PRICER_ARRAYS.with(|p| std::mem::take(&mut *p.borrow_mut()));
        let (touched, bytes_touched) = PRICER_LISTS.with(|p| std::mem::take(&mut *p.borrow_mut()));
        debug_assert!(touched.is_empty() && bytes_touched.is_empty());
        debug_assert!(load.iter().chain(&bytes).all(|&x| x == 0.0));
        if load.len() < caps.len() {
            load.resize(caps.len(), 0.0);
        }
        Self {
            caps,
            load,
            touched,
            bytes,
            bytes_touched,
            dense: false,
            dense_bytes: false,
            force_dense: None,
        }
    }

    /// The analytical duration of a transfer of `flows` (seconds, latency excluded).
    ///
    /// # Errors
    /// As [`Engine::add_transfer`] for bad flows.
    pub fn price(&mut self, flows: &FlowSet) -> Result<f64, EngineError> {
        self.price_busiest(flows, 0).map(|(dur, _)| dur)
    }

    /// [`AnalyticalPricer::price`], and each link the transfer loads with its load, given to
    /// `each(link, bytes)` (in no set order, each link once, loads > 0): the bytes an
    /// analytical engine holding only this transfer reports for the link
    /// ([`RunReport::links`](crate::RunReport::links)), the same bits (`0 + load`, as
    /// [`AnalyticalPricer::price_chain`] adds them).
    ///
    /// # Errors
    /// As [`Engine::add_transfer`] for bad flows (`each` is then not called).
    pub fn price_loads(&mut self, flows: &FlowSet, mut each: impl FnMut(u32, f64)) -> Result<f64, EngineError> {
        let r = self.chain(std::slice::from_ref(flows), 0).map(|(end, _)| end);
        if r.is_ok() {
            // One transfer: its loads stay in `load` (`chain` adds them to `bytes` only for a
            // chain of several), on the links `touched` lists or, read back densely, on every
            // link with a load.
            if self.dense {
                for (l, &b) in self.load[..self.caps.len()].iter().enumerate() {
                    if b > 0.0 {
                        each(l as u32, b);
                    }
                }
            } else {
                for &l in &self.touched {
                    each(l, self.load[l as usize]);
                }
            }
        }
        self.clear();
        r
    }

    /// [`AnalyticalPricer::price`], and the `k` busiest links as
    /// [`RunReport::bottlenecks`](crate::RunReport::bottlenecks) of an analytical engine
    /// holding only this transfer (latency 0, link statistics on) gives them: the same bits.
    ///
    /// # Errors
    /// As [`Engine::add_transfer`] for bad flows.
    pub fn price_busiest(&mut self, flows: &FlowSet, k: usize) -> Result<(f64, Vec<(u32, f64)>), EngineError> {
        self.price_chain(std::slice::from_ref(flows), k)
    }

    /// What an analytical engine over these capacities reports for `transfers` added in order,
    /// each after the one before it, latency 0 ([`Engine::add_transfer`], link statistics on,
    /// then [`Engine::run`]): its makespan and its `k` busiest links
    /// ([`RunReport::bottlenecks`](crate::RunReport::bottlenecks)) — the same bits, and for
    /// bad flows or too many the error its building gives (the first, in order).
    ///
    /// CORRECTNESS: such a run ends each transfer at `previous end + duration`
    /// (`analytical_seconds`, the same code on the same merged flows) — or at the previous end
    /// itself where that is within the engine's batching window (`BATCH_EPS`) — adds each transfer's
    /// load to a link's bytes in transfer order (`0 + load₁ + load₂ + …`), and ranks the links
    /// with bytes by `bytes / capacity / makespan` (`crate::busiest`); nothing else of the run
    /// reaches those figures.
    ///
    /// # Errors
    /// As [`Engine::add_transfer`].
    pub fn price_chain(&mut self, transfers: &[FlowSet], k: usize) -> Result<(f64, Vec<(u32, f64)>), EngineError> {
        let r = self.chain(transfers, k);
        // Every entry back to 0 (after an error too) for the next call.
        self.clear();
        r
    }

    fn chain(&mut self, transfers: &[FlowSet], k: usize) -> Result<(f64, Vec<(u32, f64)>), EngineError> {
        let nl = self.caps.len() as u32;
        // Bytes per link over the chain, where more than one transfer adds to them.
        let chained = transfers.len() > 1;
        if chained && self.bytes.len() < self.caps.len() {
            self.bytes.resize(self.caps.len(), 0.0);
        }
        self.bytes_touched.clear();
        // At least as many hops as links a transfer: the loads are read back by a scan of
        // every link after each transfer (a few instructions a link, vectorised) instead of
        // tracking the links touched (a test and a push per hop, then a pass per link
        // touched). The same figures either way: each link's
        // load and bytes are its own sums in flow order, and the maximum and
        // `crate::busiest` do not depend on the order links come in.
        let all_hops: usize = transfers.iter().map(|t| t.hops.len()).sum();
        self.dense = self
            .force_dense
            .unwrap_or(all_hops >= self.caps.len().saturating_mul(transfers.len()));
        self.dense_bytes = self.dense && chained;
        let (mut end, mut batch_end, mut total_flows, mut total_hops) = (0.0f64, 0.0f64, 0usize, 0usize);
        for flows in transfers {
            if flows.overflow {
                return Err(EngineError::TooLarge);
            }
            let n = flows.len();
            let get = |i: usize| flows.flow(i);
            let Merged { flows: merged, hops } = check_merge(n, &get, nl)?;
            // `Engine::store_flows`'s limits over the transfers stored so far.
            total_flows += merged.len();
            total_hops += hops;
            if u32::try_from(total_hops).is_err() || total_flows >= u32::MAX as usize {
                return Err(EngineError::TooLarge);
            }
            self.touched.clear();
            let dur = if self.dense {
                price_flows::<true>(flows, &merged, self.caps, &mut self.load, &mut self.touched)
            } else {
                price_flows::<false>(flows, &merged, self.caps, &mut self.load, &mut self.touched)
            };
            // Started when the one before ended (plus latency 0, which changes no time ≥ +0);
            // its end event falls in the batch of that end when within `BATCH_EPS` of it
            // (`Sim::run` processes everything up to `now + now · BATCH_EPS` at `now`), else
            // starts the next batch.
            let t = end + dur;
            if t > batch_end {
                end = t;
                batch_end = end + end * BATCH_EPS;
            }
            if chained {
                if self.dense {
                    // A link without load adds +0, which leaves its bytes (≥ +0) as they are.
                    let nl = nl as usize;
                    for (b, v) in self.bytes[..nl].iter_mut().zip(&mut self.load[..nl]) {
                        *b += std::mem::take(v);
                    }
                } else {
                    for &l in &self.touched {
                        let b = &mut self.bytes[l as usize];
                        if *b == 0.0 {
                            self.bytes_touched.push(l);
                        }
                        *b += std::mem::take(&mut self.load[l as usize]);
                    }
                }
                self.touched.clear();
            }
        }
        let bytes = if chained { &self.bytes } else { &self.load };
        let caps = self.caps;
        // Each loaded link's utilisation `b / caps[l] / end` (`crate::busiest_loads`).
        let busy = if end <= 0.0 {
            Vec::new()
        } else if self.dense {
            crate::busiest_loads(
                bytes[..caps.len()]
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b > 0.0)
                    .map(|(l, &b)| (l as u32, b)),
                caps,
                end,
                k,
            )
        } else {
            let touched = if chained { &self.bytes_touched } else { &self.touched };
            crate::busiest_loads(
                touched
                    .iter()
                    .map(|&l| (l, bytes[l as usize]))
                    .filter(|&(_, b)| b > 0.0),
                caps,
                end,
                k,
            )
        };
        Ok((end, busy))
    }

    /// Every load and byte count back to 0 for the next call.
    fn clear(&mut self) {
        if self.dense {
            let nl = self.caps.len();
            self.load[..nl].fill(0.0);
            if self.dense_bytes {
                self.bytes[..nl].fill(0.0);
            }
            self.dense = false;
            self.dense_bytes = false;
        }
        for &l in &self.touched {
            self.load[l as usize] = 0.0;
        }
        self.touched.clear();
        for &l in &self.bytes_touched {
            self.bytes[l as usize] = 0.0;
        }
        self.bytes_touched.clear();
    }
}

/// [`analytical_seconds`] of a transfer's merged flows (`merged`: [`check_merge`] of `flows`)
/// — the same bits — leaving each link's load in `load`; with `DENSE`, the links touched are
/// not tracked (the caller reads the loads back by a scan of every link), else they are
/// listed in `touched` in first-touch order.
///
/// CORRECTNESS: the same code on the same flows in the same order as `analytical_seconds`
/// (`flow_terms` per flow: `bytes · weight` added to each link of its path, `bytes` over the
/// path's smallest capacity), then the largest load over capacity; that last maximum is over
/// the links with load either way (a scan meets the others at 0, which changes no maximum ≥ 0).
fn price_flows<const DENSE: bool>(
    flows: &FlowSet,
    merged: &[(u32, u32)],
    caps: &[f64],
    load: &mut [f64],
    touched: &mut Vec<u32>,
) -> f64 {
    let mut dur: f64 = 0.0;
    let mut one = |path: &[u32], bytes: f64, w: u32| {
        if let Some(t) = flow_terms::<DENSE>(path, bytes, w, caps, load, touched) {
            dur = dur.max(t);
        }
    };
    if merged.len() == flows.len() {
        // Nothing merged: every flow once, in order, with its own weight.
        let mut a = 0usize;
        for ((&e, &bytes), &w) in flows.end.iter().zip(&flows.bytes).zip(&flows.weight) {
            let e = e as usize;
            one(&flows.hops[a..e], bytes, w);
            a = e;
        }
    } else {
        for &(i, w) in merged {
            let i = i as usize;
            one(flows.path(i), flows.bytes[i], w);
        }
    }
    if DENSE {
        // In lanes the compiler vectorises. A link without load gives 0, which changes no
        // maximum ≥ 0; `x > m` keeps what `f64::max` keeps, a NaN quotient (only from a
        // capacity the callers' `check_capacities` refuses) included: neither keeps it.
        const LANES: usize = 8;
        let mut m = [dur; LANES];
        let (load, caps) = (&load[..caps.len()], caps);
        let blocks = load.chunks_exact(LANES).zip(caps.chunks_exact(LANES));
        for (vb, cb) in blocks {
            for j in 0..LANES {
                let x = vb[j] / cb[j];
                m[j] = if x > m[j] { x } else { m[j] };
            }
        }
        let done = load.len() / LANES * LANES;
        for (j, (&v, &c)) in load[done..].iter().zip(&caps[done..]).enumerate() {
            let x = v / c;
            m[j] = if x > m[j] { x } else { m[j] };
        }
        for x in m {
            dur = dur.max(x);
        }
    } else {
        // In four lanes (no chain of maxima through one value): the same maximum, as above (a
        // touched link's quotient is positive, or NaN from a capacity the callers refuse,
        // which neither keeps).
        let mut m = [dur; 4];
        let mut quads = touched.chunks_exact(4);
        for q in &mut quads {
            for j in 0..4 {
                let l = q[j] as usize;
                let x = load[l] / caps[l];
                m[j] = if x > m[j] { x } else { m[j] };
            }
        }
        for (j, &l) in quads.remainder().iter().enumerate() {
            let x = load[l as usize] / caps[l as usize];
            m[j] = if x > m[j] { x } else { m[j] };
        }
        for x in m {
            dur = dur.max(x);
        }
    }
    dur
}

impl Drop for AnalyticalPricer<'_> {
    /// Gives the zeroed arrays to the thread's pool ([`PRICER_ARRAYS`]) unless it holds longer
    /// ones or they are too long to keep.
    fn drop(&mut self) {
        self.clear();
        // `clear` left both lists empty.
        let lists = (
            std::mem::take(&mut self.touched),
            std::mem::take(&mut self.bytes_touched),
        );
        if lists.0.capacity() <= MAX_POOLED_LINKS && lists.1.capacity() <= MAX_POOLED_LINKS {
            let _ = PRICER_LISTS.try_with(|p| {
                let mut p = p.borrow_mut();
                if p.0.capacity() <= lists.0.capacity() {
                    p.0 = lists.0;
                }
                if p.1.capacity() <= lists.1.capacity() {
                    p.1 = lists.1;
                }
            });
        }
        let (load, bytes) = (std::mem::take(&mut self.load), std::mem::take(&mut self.bytes));
        if load.len() > MAX_POOLED_LINKS || bytes.len() > MAX_POOLED_LINKS {
            return;
        }
        // A thread being torn down has no pool left: the arrays are then just freed.
        let _ = PRICER_ARRAYS.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.0.len() <= load.len() {
                p.0 = load;
            }
            if p.1.len() <= bytes.len() {
                p.1 = bytes;
            }
        });
    }
}

/// Checks `n` flows (`flow(i)` = path, bytes, weight) against `nl` links: bytes finite and
/// not negative, weight not zero, every link known; the first bad flow's error.
fn check_flows<'a>(n: usize, flow: &impl Fn(usize) -> (&'a [u32], f64, u32), nl: u32) -> Result<(), EngineError> {
    check_flows_from(0, n, flow, nl)
}

/// [`check_flows`] for flows `start..n`.
fn check_flows_from<'a>(
    start: usize,
    n: usize,
    flow: &impl Fn(usize) -> (&'a [u32], f64, u32),
    nl: u32,
) -> Result<(), EngineError> {
    for i in start..n {
        check_flow(i, flow(i), nl)?;
    }
    Ok(())
}

/// One flow of [`check_flows`]: its error, if any.
#[inline]
fn check_flow(i: usize, (path, bytes, weight): (&[u32], f64, u32), nl: u32) -> Result<(), EngineError> {
    let fi = u32::try_from(i).map_err(|_| EngineError::TooLarge)?;
    if !(bytes.is_finite() && bytes >= 0.0) {
        return Err(EngineError::InvalidBytes { flow: fi, bytes });
    }
    if weight == 0 {
        return Err(EngineError::InvalidWeight { flow: fi });
    }
    if let Some(&l) = path.iter().find(|&&l| l >= nl) {
        return Err(EngineError::InvalidLink { link: l, links: nl });
    }
    Ok(())
}

/// Identical flows merged: `(first index, summed weight)` per distinct (path, bytes), in order
/// of first occurrence, and the hops of those first occurrences in all.
struct Merged {
    flows: Vec<(u32, u32)>,
    hops: usize,
}

thread_local! {
    /// [`check_merge`]'s hash table, kept between calls (emptied by each before use).
    static MERGE_TABLE: std::cell::RefCell<Vec<(u32, u32)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`check_flows`] then [`merge_identical`] in one pass over the flows: the same merged flows,
/// and the same error where either would fail (a bad flow anywhere before a weight overflow).
///
/// CORRECTNESS: flows are checked in index order as the pass reaches them, so the first bad
/// flow's error is returned before anything of a later flow is read; a weight overflow at
/// flow `i` returns the error of a bad flow after `i` where there is one (checked then), as
/// [`check_flows`] running first would.
fn check_merge<'a>(n: usize, flow: &impl Fn(usize) -> (&'a [u32], f64, u32), nl: u32) -> Result<Merged, EngineError> {
    const EMPTY: u32 = u32::MAX;
    if u32::try_from(n).map_or(true, |n| n == u32::MAX) {
        check_flows(n, flow, nl)?;
        return Err(EngineError::TooLarge);
    }
    let size = (n + n / 2).max(8).next_power_of_two();
    let mask = size - 1;
    let mut table = MERGE_TABLE
        .try_with(|t| std::mem::take(&mut *t.borrow_mut()))
        .unwrap_or_default();
    table.clear();
    table.resize(size, (EMPTY, 0));
    let r = check_merge_in(n, flow, nl, &mut table, mask);
    // Small tables go back for the next call (a large one is freed: ≤ 8 MiB kept).
    if size <= 1 << 20 {
        let _ = MERGE_TABLE.try_with(|t| {
            let mut t = t.borrow_mut();
            if t.capacity() < table.capacity() {
                *t = table;
            }
        });
    }
    r
}

fn check_merge_in<'a>(
    n: usize,
    flow: &impl Fn(usize) -> (&'a [u32], f64, u32),
    nl: u32,
    table: &mut [(u32, u32)],
    mask: usize,
) -> Result<Merged, EngineError> {
    const EMPTY: u32 = u32::MAX;
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(n);
    let mut hops = 0usize;
    for i in 0..n {
        let (path, bytes, w) = flow(i);
        // The checks of `check_flow`, the links' folded into the hash loop.
        let fi = i as u32;
        if !(bytes.is_finite() && bytes >= 0.0) {
            return Err(EngineError::InvalidBytes { flow: fi, bytes });
        }
        if w == 0 {
            return Err(EngineError::InvalidWeight { flow: fi });
        }
        // Two links a step (half the chain of dependent multiplies).
        let mut h = bytes.to_bits() ^ (path.len() as u64).rotate_left(32);
        let mut bad = false;
        let mut pairs = path.chunks_exact(2);
        for p in &mut pairs {
            bad |= (p[0] >= nl) | (p[1] >= nl);
            h = (h ^ (u64::from(p[0]) | u64::from(p[1]) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 29;
        }
        for &l in pairs.remainder() {
            bad |= l >= nl;
            h = (h ^ u64::from(l)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 29;
        }
        if bad {
            check_flow(i, (path, bytes, w), nl)?;
        }
        let h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let tag = (h >> 32) as u32;
        let mut slot = h as usize & mask;
        loop {
            let (m, t) = table[slot];
            if m == EMPTY {
                table[slot] = (merged.len() as u32, tag);
                merged.push((fi, w));
                hops += path.len();
                break;
            }
            if t == tag {
                let (p, b, _) = flow(merged[m as usize].0 as usize);
                if b.to_bits() == bytes.to_bits() && p == path {
                    let mw = &mut merged[m as usize].1;
                    match mw.checked_add(w) {
                        Some(s) => *mw = s,
                        None => {
                            check_flows_from(i + 1, n, flow, nl)?;
                            return Err(EngineError::WeightOverflow);
                        }
                    }
                    break;
                }
            }
            slot = (slot + 1) & mask;
        }
    }
    Ok(Merged { flows: merged, hops })
}

/// Merges identical flows among `n` (`flow(i)` = path, bytes, weight):
/// returns `(first index, summed weight)` per distinct (path, bytes), in
/// order of first occurrence.
///
/// An open-addressing table of `(index, hash tag)` slots with a fixed hash:
/// 8–16 bytes per flow while it runs, paths compared only when tags match,
/// and deterministic (no `RandomState`). The reference [`check_merge`] is tested against.
#[cfg(test)]
fn merge_identical<'a>(
    n: usize,
    flow: &impl Fn(usize) -> (&'a [u32], f64, u32),
) -> Result<Vec<(u32, u32)>, EngineError> {
    const EMPTY: u32 = u32::MAX;
    if u32::try_from(n).map_or(true, |n| n == u32::MAX) {
        return Err(EngineError::TooLarge);
    }
    let size = (n + n / 2).max(8).next_power_of_two();
    let mask = size - 1;
    let mut table: Vec<(u32, u32)> = vec![(EMPTY, 0); size];
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(n);
    for i in 0..n {
        let (path, bytes, w) = flow(i);
        let mut h = bytes.to_bits() ^ (path.len() as u64).rotate_left(32);
        for &l in path {
            h = (h ^ u64::from(l)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 29;
        }
        let h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let tag = (h >> 32) as u32;
        let mut slot = h as usize & mask;
        loop {
            let (m, t) = table[slot];
            if m == EMPTY {
                table[slot] = (merged.len() as u32, tag);
                merged.push((i as u32, w));
                break;
            }
            if t == tag {
                let (p, b, _) = flow(merged[m as usize].0 as usize);
                if b.to_bits() == bytes.to_bits() && p == path {
                    let mw = &mut merged[m as usize].1;
                    *mw = mw.checked_add(w).ok_or(EngineError::WeightOverflow)?;
                    break;
                }
            }
            slot = (slot + 1) & mask;
        }
    }
    Ok(merged)
}

#[derive(Debug, Clone, Copy)]
enum EvKind {
    TaskEnd(u32),
    FlowsStart(u32),
}

/// A scheduled task event, ordered by `(time, seq)`.
#[derive(Debug, Clone, Copy)]
struct Ev {
    time: f64,
    seq: u64,
    kind: EvKind,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    fn cmp(&self, o: &Self) -> Ordering {
        self.time.total_cmp(&o.time).then(self.seq.cmp(&o.seq))
    }
}

#[derive(Debug, Default)]
struct Resource {
    busy: bool,
    ready: BinaryHeap<Reverse<u32>>,
}

/// Analytical mode: a priced transfer's duration and the loads (bytes) of the links it
/// touches, in first-touch order.
type Priced = (f64, Vec<(u32, f64)>);

/// Mutable state of one run.
struct Sim<'e> {
    e: &'e Engine,
    now: f64,
    // --- tasks
    deps_left: Vec<u32>,
    dependents_off: Vec<u32>,
    dependents: Vec<u32>,
    start: Vec<f64>,
    end: Vec<f64>,
    pending_flows: Vec<u32>,
    /// Flows popped from `completions` in the current batch (scratch).
    done: Vec<u32>,
    /// `(first flow, end flow, task)` of the transfer last found by `task_of`.
    last_task: (u32, u32, u32),
    queue: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    resources: BTreeMap<u32, Resource>,
    dirty_resources: Vec<u32>,
    // --- flows
    alive: BitSet,
    rate: Vec<f64>,
    new_rate: Vec<f64>,
    remaining: Vec<f64>,
    last: Vec<f64>,
    completions: Completions,
    link_flows: Vec<Vec<u32>>,
    wf: WaterFill,
    lstamp: Vec<u32>,
    lepoch: u32,
    roots: Vec<u32>,
    started_any: bool,
    finished_min_rate: f64,
    comp_links: Vec<u32>,
    /// Links of the current solve that carry variable flows.
    var_links: Vec<u32>,
    /// Per link: first entry of `link_flows` that may be alive.
    lhead: Vec<u32>,
    /// Per link of the current solve: end of its variable prefix.
    lstop: Vec<u32>,
    /// Per link of the current solve: weight of its variable flows, then in
    /// a full solve a write cursor; in `start_flows`, a count. Zero outside
    /// those two.
    lsum: Vec<u64>,
    /// While a full solve rebuilds the lists: one segment per link, filled
    /// in reverse freezing order, and per link the rate class of the last
    /// flow written (`UNSORTED` once the list is found out of order).
    next: Vec<u32>,
    last_class: Vec<u64>,
    scratch: Vec<u32>,
    // --- links
    /// Weight of the alive flows per link (a flow counted once per
    /// occurrence on the link's path).
    link_weight: Vec<u64>,
    /// Flow ranges of the transfers started since the last solve, sorted.
    started: Vec<(u32, u32)>,
    /// Whether the link carried a positive rate since `link_last`.
    link_busy: Vec<bool>,
    link_last: Vec<f64>,
    stats: Vec<LinkStats>,
    /// Analytical mode: `(link, start, end, rate)` busy intervals.
    intervals: Vec<(u32, f64, f64, f64)>,
    /// Analytical mode: scratch per-link load of the task being priced (zero between tasks).
    load: Vec<f64>,
    /// Analytical mode: per shared flow range (`Engine::shared`, same index), its duration
    /// and the loads of the links it touches in first-touch order, once priced.
    priced: Vec<Option<Priced>>,
    // --- counters
    n_events: u64,
    n_solves: u64,
}

thread_local! {
    /// Per-link flow lists of this thread's last flow-model run, emptied, for the next run to
    /// reuse: a run over ~10⁵ links would otherwise allocate (and free) one list per link it
    /// uses. Only capacity is kept; a run reads nothing else of them, so results do not depend
    /// on it.
    static LINK_LISTS: std::cell::RefCell<Vec<Vec<u32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Most list entries (4 bytes each) a thread's pool keeps: 64 MiB.
const MAX_POOLED_ENTRIES: usize = 1 << 24;

/// `n` empty per-link lists, reusing the thread's pooled ones (see [`LINK_LISTS`]).
fn take_link_lists(n: usize) -> Vec<Vec<u32>> {
    if n == 0 {
        return Vec::new();
    }
    let mut lists = LINK_LISTS.with(|p| std::mem::take(&mut *p.borrow_mut()));
    debug_assert!(lists.iter().all(Vec::is_empty));
    lists.resize_with(n, Vec::new);
    lists
}

/// Returns a run's per-link lists to the thread's pool, emptied.
fn give_back_link_lists(mut lists: Vec<Vec<u32>>) {
    if lists.is_empty() {
        return;
    }
    for l in &mut lists {
        l.clear();
    }
    // Not kept past `MAX_POOLED_ENTRIES` of capacity (a very large run's lists are freed, as
    // before the pool).
    let capacity: usize = lists.iter().map(Vec::capacity).sum();
    if capacity > MAX_POOLED_ENTRIES {
        return;
    }
    // The pool is empty while a run holds its lists (`take_link_lists`): the last run's stay.
    LINK_LISTS.with(|p| *p.borrow_mut() = lists);
}

impl<'e> Sim<'e> {
    fn new(e: &'e Engine) -> Self {
        let nt = e.specs.len();
        let nf = e.flow_bytes.len();
        let nl = e.caps.len();
        // Dependents CSR.
        let mut count = vec![0u32; nt + 1];
        for &d in &e.deps {
            count[d as usize + 1] += 1;
        }
        for i in 0..nt {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut dependents = vec![0u32; e.deps.len()];
        let deps_left: Vec<u32> = e.dep_off.windows(2).map(|w| w[1] - w[0]).collect();
        for t in 0..nt {
            let ds = &e.deps[e.dep_off[t] as usize..e.dep_off[t + 1] as usize];
            for &d in ds {
                dependents[fill[d as usize] as usize] = t as u32;
                fill[d as usize] += 1;
            }
        }
        let flow_mode = e.fidelity == Fidelity::Flow;
        let (fl, ll) = if flow_mode { (nf, nl) } else { (0, 0) };
        Self {
            e,
            now: 0.0,
            deps_left,
            dependents_off: count,
            dependents,
            start: vec![f64::NAN; nt],
            end: vec![f64::NAN; nt],
            pending_flows: vec![0; nt],
            done: Vec::new(),
            last_task: (0, 0, 0),
            queue: BinaryHeap::new(),
            seq: 0,
            resources: BTreeMap::new(),
            dirty_resources: Vec::new(),
            alive: BitSet::new(fl),
            rate: vec![0.0; fl],
            new_rate: vec![0.0; fl],
            remaining: vec![0.0; fl],
            last: vec![0.0; fl],
            completions: Completions::new(fl),
            link_flows: take_link_lists(ll),
            wf: {
                #[allow(unused_mut)]
                let mut wf = WaterFill::new(ll, fl);
                #[cfg(test)]
                {
                    wf.ordered_load = e.ordered_heap_load;
                }
                wf
            },
            lstamp: vec![0; ll],
            lepoch: 0,
            roots: Vec::new(),
            started_any: false,
            finished_min_rate: f64::INFINITY,
            comp_links: Vec::new(),
            var_links: Vec::new(),
            lhead: vec![0; ll],
            lstop: vec![0; ll],
            lsum: vec![0; ll],
            next: Vec::new(),
            last_class: vec![0; ll],
            scratch: Vec::new(),
            link_weight: vec![0; ll],
            started: Vec::new(),
            link_busy: vec![false; ll],
            link_last: vec![0.0; ll],
            stats: if flow_mode || e.link_stats {
                vec![LinkStats::default(); nl]
            } else {
                Vec::new()
            },
            intervals: Vec::new(),
            load: if flow_mode { Vec::new() } else { vec![0.0; nl] },
            priced: vec![None; e.shared.len()],
            n_events: 0,
            n_solves: 0,
        }
    }

    fn push(&mut self, time: f64, kind: EvKind) {
        self.seq += 1;
        self.queue.push(Reverse(Ev {
            time,
            seq: self.seq,
            kind,
        }));
    }

    fn run(mut self) -> Result<RunReport, EngineError> {
        for t in 0..self.e.specs.len() as u32 {
            if self.deps_left[t as usize] == 0 {
                self.ready(t);
            }
        }
        // Progress: every flow completes once and every task ends once.
        let expected = self.e.flow_bytes.len() as u64 + self.e.specs.len() as u64;
        let mut next_tick = 1u64 << 16;
        loop {
            let batch_end = self.now + self.now * BATCH_EPS;
            self.process_batch(batch_end);
            if self.n_events >= next_tick {
                crate::progress::tick(self.n_events.min(expected), expected);
                next_tick = self.n_events + (1 << 16);
            }
            let next_ev = self.queue.peek().map(|Reverse(ev)| ev.time);
            let next_fl = self.completions.peek().map(|(_, k)| k);
            let t0 = match (next_ev, next_fl) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if !t0.is_finite() {
                return Err(EngineError::Stalled { time: self.now });
            }
            self.now = self.now.max(t0);
        }
        if self.e.fidelity == Fidelity::Analytical && self.e.link_stats && self.e.link_times {
            self.sweep_intervals();
        }
        give_back_link_lists(std::mem::take(&mut self.link_flows));
        let makespan_s = self.end.iter().copied().fold(0.0, f64::max);
        Ok(RunReport {
            makespan_s,
            task_start_s: self.start,
            task_end_s: self.end,
            links: self.stats,
            events: self.n_events,
            solves: self.n_solves,
        })
    }

    /// Processes everything due at `self.now` (up to `batch_end`): task
    /// events, flow completions, compute dispatch, and one rate re-solve
    /// once all of that has settled.
    fn process_batch(&mut self, batch_end: f64) {
        loop {
            let mut progressed = false;
            while let Some(&Reverse(ev)) = self.queue.peek() {
                if ev.time > batch_end {
                    break;
                }
                self.queue.pop();
                self.n_events += 1;
                progressed = true;
                match ev.kind {
                    EvKind::TaskEnd(t) => {
                        if let Spec::Compute { resource, .. } = self.e.specs[t as usize] {
                            if let Some(r) = self.resources.get_mut(&resource) {
                                r.busy = false;
                            }
                            self.dirty_resources.push(resource);
                        }
                        self.task_end(t);
                    }
                    EvKind::FlowsStart(t) => self.start_flows(t),
                }
            }
            let mut done = std::mem::take(&mut self.done);
            while let Some((f, k)) = self.completions.peek() {
                if k > batch_end {
                    break;
                }
                self.completions.pop();
                self.n_events += 1;
                progressed = true;
                done.push(f);
            }
            self.finish_flows(&done);
            done.clear();
            self.done = done;
            if progressed || self.dispatch_compute() {
                continue;
            }
            if !self.roots.is_empty() || self.started_any {
                self.resolve();
                continue;
            }
            break;
        }
    }

    /// Task `t` has all its dependencies satisfied at `self.now`.
    fn ready(&mut self, t: u32) {
        let now = self.now;
        match self.e.specs[t as usize] {
            Spec::Delay(s) => {
                self.start[t as usize] = now;
                self.push(now + s, EvKind::TaskEnd(t));
            }
            Spec::Compute { resource, .. } => {
                self.resources.entry(resource).or_default().ready.push(Reverse(t));
                self.dirty_resources.push(resource);
            }
            Spec::Priced { latency, seconds } => {
                // As an analytical transfer of the flows it was priced from.
                self.start[t as usize] = now;
                let begin = now + latency;
                self.push(begin + seconds, EvKind::TaskEnd(t));
            }
            Spec::Transfer { latency, first, end } => {
                self.start[t as usize] = now;
                match self.e.fidelity {
                    Fidelity::Flow => self.push(now + latency, EvKind::FlowsStart(t)),
                    Fidelity::Analytical => {
                        let begin = now + latency;
                        let shared = self.e.shared.binary_search(&(first, end)).ok();
                        let stats = self.e.link_stats;
                        let times = self.e.link_times;
                        if let Some((i, (dur, loads))) = shared.and_then(|i| Some((i, self.priced[i].take()?))) {
                            // The same flows as a transfer already priced: the same duration
                            // and link loads, bit for bit.
                            for &(l, load) in loads.iter().filter(|_| stats) {
                                self.stats[l as usize].bytes += load;
                                // An interval that rounds to no length (`begin + dur == begin`)
                                // is busy for no time; the sweep, which ends intervals before
                                // it starts others at one instant, would end it before it began.
                                if dur > 0.0 && times && begin + dur > begin {
                                    self.intervals.push((l, begin, begin + dur, load / dur));
                                }
                            }
                            self.priced[i] = Some((dur, loads));
                            self.push(begin + dur, EvKind::TaskEnd(t));
                            return;
                        }
                        // CORRECTNESS: the task's duration is the larger of the slowest flow
                        // alone on its path and the most loaded link's bytes over its
                        // capacity (the task's own flows share links; other tasks do not
                        // count). Both are lower bounds of the flow fidelity's time, so
                        // analytical is never slower than flow, and no link exceeds capacity.
                        // (`AnalyticalPricer` computes the same with the same code.)
                        let mut touched: Vec<u32> = Vec::new();
                        let e = self.e;
                        let dur = analytical_seconds(
                            (end - first) as usize,
                            |i| {
                                let f = first + i as u32;
                                (e.path(f), e.flow_bytes[f as usize], e.flow_weight[f as usize])
                            },
                            &e.caps,
                            &mut self.load,
                            &mut touched,
                        );
                        let mut loads = Vec::new();
                        for &l in &touched {
                            let load = std::mem::take(&mut self.load[l as usize]);
                            if !stats {
                                continue;
                            }
                            self.stats[l as usize].bytes += load;
                            // Not when it rounds to no length (see above).
                            if dur > 0.0 && times && begin + dur > begin {
                                self.intervals.push((l, begin, begin + dur, load / dur));
                            }
                            if shared.is_some() {
                                loads.push((l, load));
                            }
                        }
                        if let Some(i) = shared {
                            self.priced[i] = Some((dur, loads));
                        }
                        self.push(begin + dur, EvKind::TaskEnd(t));
                    }
                }
            }
        }
    }

    /// Starts the best ready task on every idle resource touched since the
    /// last call. Returns whether anything started.
    fn dispatch_compute(&mut self) -> bool {
        if self.dirty_resources.is_empty() {
            return false;
        }
        let mut dirty = std::mem::take(&mut self.dirty_resources);
        dirty.sort_unstable();
        dirty.dedup();
        let mut started = false;
        for &r in &dirty {
            let Some(res) = self.resources.get_mut(&r) else {
                continue;
            };
            if res.busy {
                continue;
            }
            if let Some(Reverse(t)) = res.ready.pop() {
                res.busy = true;
                if let Spec::Compute { seconds, .. } = self.e.specs[t as usize] {
                    self.start[t as usize] = self.now;
                    self.push(self.now + seconds, EvKind::TaskEnd(t));
                    started = true;
                }
            }
        }
        dirty.clear();
        self.dirty_resources = dirty;
        started
    }

    fn task_end(&mut self, t: u32) {
        self.end[t as usize] = self.now;
        let (a, b) = (
            self.dependents_off[t as usize] as usize,
            self.dependents_off[t as usize + 1] as usize,
        );
        for i in a..b {
            let d = self.dependents[i];
            self.deps_left[d as usize] -= 1;
            if self.deps_left[d as usize] == 0 {
                self.ready(d);
            }
        }
    }

    fn start_flows(&mut self, t: u32) {
        let Spec::Transfer { first, end, .. } = self.e.specs[t as usize] else {
            return;
        };
        let e = self.e;
        // Grow every link's list once, by exactly its new entries (a big
        // transfer would otherwise leave lists up to twice their size).
        let carries = |f: u32| e.flow_bytes[f as usize] > 0.0;
        self.scratch.clear();
        for f in (first..end).filter(|&f| carries(f)) {
            for &l in e.path(f) {
                if self.lsum[l as usize] == 0 {
                    self.scratch.push(l);
                }
                self.lsum[l as usize] += 1;
            }
        }
        for &l in &self.scratch {
            let add = std::mem::take(&mut self.lsum[l as usize]) as usize;
            let list = &mut self.link_flows[l as usize];
            if list.capacity() == 0 {
                list.reserve_exact(add);
            } else {
                // A list that grows again (a schedule starts transfers one after another):
                // amortised growth, so it is not copied at every start.
                list.reserve(add);
            }
        }
        self.scratch.clear();
        let mut pending = 0;
        for f in first..end {
            let fi = f as usize;
            let path = e.path(f);
            if path.is_empty() || !carries(f) {
                continue;
            }
            let (bytes, w) = (e.flow_bytes[fi], e.weight(f));
            let wb = bytes * f64::from(w);
            for &l in path {
                self.link_flows[l as usize].push(f);
                self.link_weight[l as usize] += u64::from(w);
                self.stats[l as usize].bytes += wb;
            }
            self.roots.extend_from_slice(path);
            self.alive.set(f);
            self.remaining[fi] = bytes;
            self.rate[fi] = 0.0;
            self.last[fi] = self.now;
            pending += 1;
        }
        if pending == 0 {
            self.task_end(t);
        } else {
            self.pending_flows[t as usize] = pending;
            self.started_any = true;
            self.started.push((first, end));
        }
    }

    /// Flows `done` finished now, in this order. Processed in chunks whose
    /// rates and path bounds are loaded first (independent cache misses,
    /// which overlap), then applied flow by flow.
    fn finish_flows(&mut self, done: &[u32]) {
        const CHUNK: usize = 32;
        let e = self.e;
        let mut span = [(0u32, 0u32); CHUNK];
        for chunk in done.chunks(CHUNK) {
            let mut min_rate = self.finished_min_rate;
            for (j, &f) in chunk.iter().enumerate() {
                let fi = f as usize;
                min_rate = min_rate.min(self.rate[fi]);
                span[j] = (e.flow_off[fi], e.flow_off[fi + 1]);
            }
            self.finished_min_rate = min_rate;
            let mut first = 0u32;
            for &(a, b) in &span[..chunk.len()] {
                if a < b {
                    first ^= e.hops[a as usize];
                }
            }
            std::hint::black_box(first);
            for (j, &f) in chunk.iter().enumerate() {
                self.alive.clear(f);
                let path = &e.hops[span[j].0 as usize..span[j].1 as usize];
                let w = u64::from(e.weight(f));
                for &l in path {
                    self.link_weight[l as usize] -= w;
                }
                self.roots.extend_from_slice(path);
                let t = self.task_of(f);
                self.pending_flows[t as usize] -= 1;
                if self.pending_flows[t as usize] == 0 {
                    self.task_end(t);
                }
            }
        }
    }

    /// The transfer task flow `f` belongs to (flows finish in bursts of one
    /// transfer, so the last answer is tried first).
    #[inline]
    fn task_of(&mut self, f: u32) -> u32 {
        let (first, end, t) = self.last_task;
        if (first..end).contains(&f) {
            return t;
        }
        let tf = &self.e.transfer_first;
        let i = tf.partition_point(|&(first, _)| first <= f) - 1;
        let end = tf.get(i + 1).map_or(u32::MAX, |&(next, _)| next);
        self.last_task = (tf[i].0, end, tf[i].1);
        tf[i].1
    }

    /// Re-solves the rates of the flows affected by the starts and finishes
    /// since the last solve: the connected component(s) of the touched
    /// links, and after pure finishes only the flows at or above the
    /// smallest finished rate.
    ///
    /// CORRECTNESS: between solves the alive entries of every link's flow
    /// list (from `lhead`) are sorted by non-increasing rate class, except
    /// entries appended by a start, which always triggers a full solve of
    /// their links. So after pure finishes the variable flows of a link (rate
    /// class at or above the threshold's) are a prefix of its list, and a
    /// link whose first alive flow is below the threshold is passed over
    /// after reading that one entry.
    fn resolve(&mut self) {
        self.n_solves += 1;
        let e = self.e;
        let now = self.now;
        let full = self.started_any;
        // Variable flows: those whose rate class reaches the threshold's
        // (a superset of the flows at or above it: re-solving more is exact).
        let threshold = if full {
            0
        } else {
            rate_class(self.finished_min_rate * (1.0 - FIXED_MARGIN))
        };
        self.wf.begin();
        if self.lepoch == u32::MAX {
            self.lstamp.iter_mut().for_each(|s| *s = 0);
            self.lepoch = 0;
        }
        self.lepoch += 1;
        let ep = self.lepoch;
        self.comp_links.clear();
        for &r in &self.roots {
            if self.lstamp[r as usize] != ep {
                self.lstamp[r as usize] = ep;
                self.comp_links.push(r);
            }
        }
        self.roots.clear();
        self.started.sort_unstable();
        // Breadth-first search over links and variable flows; `lsum` gets
        // the weight of each link's variable flows.
        let mut i = 0;
        while i < self.comp_links.len() {
            let l = self.comp_links[i] as usize;
            i += 1;
            let alive = &self.alive;
            let list = &mut self.link_flows[l];
            let (lo, hi) = if full {
                // Drop the entries before the head and the finished flows, in one pass.
                let mut w = 0;
                for r in self.lhead[l] as usize..list.len() {
                    let f = list[r];
                    if alive.get(f) {
                        list[w] = f;
                        w += 1;
                    }
                }
                list.truncate(w);
                (0, list.len())
            } else {
                let mut lo = self.lhead[l] as usize;
                while lo < list.len() && !alive.get(list[lo]) {
                    lo += 1;
                }
                let mut hi = lo;
                while hi < list.len() {
                    let f = list[hi];
                    if alive.get(f) && rate_class(self.rate[f as usize]) < threshold {
                        break;
                    }
                    hi += 1;
                }
                (lo, hi)
            };
            self.lhead[l] = lo as u32;
            self.lstop[l] = hi as u32;
            // In a full solve every alive flow is variable: the link's weight
            // is known, and flows started since the last solve need no
            // exploring (their links are roots already).
            let mut n = if full { self.link_weight[l] } else { 0 };
            for &f in &list[lo..hi] {
                if !alive.get(f) {
                    continue;
                }
                if !full {
                    n += u64::from(e.weight(f));
                }
                if self.wf.is_var(f) {
                    continue;
                }
                self.wf.mark_var(f);
                if full && is_started(&self.started, f) {
                    continue;
                }
                for &m in e.path(f) {
                    if self.lstamp[m as usize] != ep {
                        self.lstamp[m as usize] = ep;
                        self.comp_links.push(m);
                    }
                }
            }
            self.lsum[l] = n;
        }
        self.var_links.clear();
        for &l in &self.comp_links {
            let li = l as usize;
            if self.link_busy[li] {
                self.stats[li].busy_s += now - self.link_last[li];
            }
            self.link_last[li] = now;
            self.link_busy[li] = self.link_weight[li] > 0;
            let n = self.lsum[li];
            if n == 0 {
                // Nothing on this link changes rate (only finished flows
                // left it): its load can only have dropped.
                continue;
            }
            let mut fixed = 0.0;
            for &f in &self.link_flows[li][self.lstop[li] as usize..] {
                if self.alive.get(f) {
                    fixed += f64::from(e.weight(f)) * self.rate[f as usize];
                }
            }
            self.wf.set_link(l, e.caps[li] - fixed, n, fixed);
            self.var_links.push(l);
        }
        if full {
            // The lists are rebuilt in freezing order while water-filling
            // reads the old ones: each link gets a segment of `next` as long
            // as its list, filled from its end (see `install_lists`); `lsum`
            // becomes the segment's write cursor.
            let mut end = 0u64;
            for &l in &self.var_links {
                let li = l as usize;
                end += self.link_flows[li].len() as u64;
                self.lsum[li] = end;
                self.last_class[li] = 0;
            }
            self.next.clear();
            self.next.resize(end as usize, 0);
        }
        let (lists, lhead, lstop) = (&self.link_flows, &self.lhead, &self.lstop);
        let (next, cursor, last_class, unsorted) =
            (&mut self.next, &mut self.lsum, &mut self.last_class, &mut self.scratch);
        unsorted.clear();
        self.wf.fill(
            |l| &lists[l][lhead[l] as usize..lstop[l] as usize],
            &e.flow_off,
            &e.hops,
            |f| e.weight(f),
            &mut self.new_rate,
            |f, share, path| {
                if !full {
                    return;
                }
                let c = rate_class(share);
                for &m in path {
                    let mi = m as usize;
                    cursor[mi] -= 1;
                    next[cursor[mi] as usize] = f;
                    let last = &mut last_class[mi];
                    if *last != UNSORTED {
                        if c < *last {
                            unsorted.push(m);
                            *last = UNSORTED;
                        } else {
                            *last = c;
                        }
                    }
                }
            },
        );
        if !full && self.wf.vars().iter().any(|&f| self.new_rate[f as usize] <= 0.0) {
            // Rounding starved a re-solved flow next to fixed ones (not
            // expected in practice): fall back to solving whole components.
            self.roots.extend_from_slice(&self.comp_links);
            self.started_any = true;
            self.resolve();
            return;
        }
        if full {
            self.wf.sort_vars();
        }
        self.completions.reserve(self.wf.vars().len());
        for &f in self.wf.vars() {
            let fi = f as usize;
            let nr = self.new_rate[fi];
            if nr != self.rate[fi] {
                let rem = (self.remaining[fi] - self.rate[fi] * (now - self.last[fi])).max(0.0);
                self.remaining[fi] = rem;
                self.last[fi] = now;
                self.rate[fi] = nr;
                let done = if nr > 0.0 { now + rem / nr } else { f64::INFINITY };
                self.completions.set(f, done);
            }
        }
        for &l in &self.var_links {
            let li = l as usize;
            let u = self.wf.used[li] / e.caps[li];
            if u > self.stats[li].peak_utilisation {
                self.stats[li].peak_utilisation = u;
            }
        }
        if full {
            self.install_lists();
        } else {
            for k in 0..self.var_links.len() {
                self.resort(self.var_links[k] as usize);
            }
        }
        for &l in &self.comp_links {
            self.lsum[l as usize] = 0;
        }
        self.started.clear();
        self.started_any = false;
        self.finished_min_rate = f64::INFINITY;
    }

    /// After a full solve: replaces the list of every link with variable
    /// flows (all its alive flows) by the one built in freezing order, which
    /// is non-decreasing rate up to rounding, reversed; a list that rounding
    /// left out of order (rare: rates are compared by class) is sorted.
    fn install_lists(&mut self) {
        for &l in &self.var_links {
            let li = l as usize;
            // The write cursor ended at the start of the link's segment.
            let (start, list) = (self.lsum[li] as usize, &mut self.link_flows[li]);
            let len = list.len();
            list.clear();
            list.extend_from_slice(&self.next[start..start + len]);
            self.lhead[li] = 0;
        }
        let rate = &self.rate;
        for &m in &self.scratch {
            self.link_flows[m as usize].sort_unstable_by_key(|&f| (Reverse(rate_class(rate[f as usize])), f));
        }
        self.scratch.clear();
        debug_assert!(self.var_links.iter().all(|&l| self.list_sorted(l as usize)));
    }

    /// Whether the alive flows of `l`'s list (from `lhead`) are in order of
    /// non-increasing rate class (the invariant of [`Sim::resolve`]).
    fn list_sorted(&self, l: usize) -> bool {
        let list = &self.link_flows[l][self.lhead[l] as usize..];
        let classes = list
            .iter()
            .filter(|&&f| self.alive.get(f))
            .map(|&f| rate_class(self.rate[f as usize]));
        classes.clone().zip(classes.skip(1)).all(|(a, b)| a >= b)
    }

    /// Restores the order of link `l`'s flow list after a solve changed the
    /// rates of the flows in `lhead..lstop` (all alive ones there were
    /// variables; those after `lstop` kept their rates and are sorted).
    fn resort(&mut self, l: usize) {
        let rate = &self.rate;
        let alive = &self.alive;
        // Non-increasing rate class; ties by flow id, so the order is
        // deterministic.
        let by_class = |&f: &u32| (Reverse(rate_class(rate[f as usize])), f);
        let list = &mut self.link_flows[l];
        let (lo, hi) = (self.lhead[l] as usize, self.lstop[l] as usize);
        let scratch = &mut self.scratch;
        scratch.clear();
        scratch.extend(list[lo..hi].iter().copied().filter(|&f| alive.get(f)));
        scratch.sort_unstable_by_key(by_class);
        let tail_ok = match (scratch.last(), list[hi..].iter().find(|&&f| alive.get(f))) {
            (Some(&a), Some(&b)) => rate_class(rate[a as usize]) >= rate_class(rate[b as usize]),
            _ => true,
        };
        if tail_ok {
            let start = hi - scratch.len();
            list[start..hi].copy_from_slice(scratch);
            self.lhead[l] = start as u32;
        } else {
            list.drain(..lo);
            list.retain(|&f| alive.get(f));
            list.sort_unstable_by_key(by_class);
            self.lhead[l] = 0;
        }
        debug_assert!(self.list_sorted(l));
    }

    /// Analytical mode: turns the recorded busy intervals into busy time and
    /// peak utilisation per link.
    fn sweep_intervals(&mut self) {
        // The points of each link in one segment (a counting sort by link: links are dense
        // ids), each segment then sorted by (time, kind: 0 = end, 1 = start).
        let nl = self.stats.len();
        let mut seg = vec![0u32; nl + 1];
        for &(l, ..) in &self.intervals {
            seg[l as usize + 1] += 2;
        }
        for l in 0..nl {
            seg[l + 1] += seg[l];
        }
        let mut fill = seg.clone();
        let mut pts: Vec<(f64, u8, f64)> = vec![(0.0, 0, 0.0); self.intervals.len() * 2];
        for &(l, s, t, r) in &self.intervals {
            let at = &mut fill[l as usize];
            pts[*at as usize] = (s, 1, r);
            pts[*at as usize + 1] = (t, 0, r);
            *at += 2;
        }
        self.intervals = Vec::new();
        for l in 0..nl {
            let (a, b) = (seg[l] as usize, seg[l + 1] as usize);
            if a == b {
                continue;
            }
            let pts = &mut pts[a..b];
            pts.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let cap = self.e.caps[l];
            let mut active = 0usize;
            let mut used = 0.0;
            let mut prev = pts[0].0;
            let st = &mut self.stats[l];
            for &(t, kind, r) in pts.iter() {
                if active > 0 {
                    st.busy_s += t - prev;
                }
                prev = t;
                if kind == 1 {
                    active += 1;
                    used += r;
                    st.peak_utilisation = st.peak_utilisation.max(used / cap);
                } else {
                    active -= 1;
                    used = if active == 0 { 0.0 } else { used - r };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flow;
    use proptest::prelude::*;

    /// A task: its flows `(path, bytes)` (none: a delay), latency, dependencies (taken modulo
    /// its index, so on earlier tasks).
    type TaskSpec = (Vec<(Vec<u32>, f64)>, f64, Vec<u32>);

    /// A random task graph of transfers (and a few delays) over `links` links with
    /// capacities from a small set, so that equal shares (ties) are common.
    fn instance() -> impl Strategy<Value = (Vec<f64>, Vec<TaskSpec>)> {
        (2usize..24).prop_flat_map(|l| {
            let flow = (
                prop::collection::vec(0..l as u32, 1..6),
                prop_oneof![Just(1.0f64), Just(2.5), 0.1f64..20.0],
            );
            let task = (
                prop::collection::vec(flow, 0..14),
                prop_oneof![Just(0.0f64), 0.0f64..0.5],
                prop::collection::vec(0u32..1000, 0..3),
            );
            (
                prop::collection::vec(prop_oneof![Just(1.0f64), Just(4.0), 0.5f64..8.0], l),
                prop::collection::vec(task, 1..24),
            )
        })
    }

    fn build(caps: &[f64], tasks: &[TaskSpec], ordered: bool) -> Engine {
        let mut e = Engine::new(caps.to_vec(), Fidelity::Flow).unwrap();
        e.ordered_heap_load = ordered;
        for (i, (flows, latency, deps)) in tasks.iter().enumerate() {
            // Dependencies on earlier tasks only.
            let deps: Vec<TaskId> = deps.iter().filter(|_| i > 0).map(|&d| TaskId(d % i as u32)).collect();
            let task = if flows.is_empty() {
                Task::Delay { seconds: *latency }
            } else {
                Task::Transfer {
                    latency: *latency,
                    flows: flows
                        .iter()
                        .map(|(p, b)| Flow {
                            path: p.clone(),
                            bytes: *b,
                            weight: 1,
                        })
                        .collect(),
                }
            };
            e.add_task(task, &deps).unwrap();
        }
        e
    }

    /// Flows for [`check_merge`]: few distinct paths and sizes (duplicates common), some bad
    /// (bytes NaN, infinite or negative, weight 0, a link past the last) and weights near the
    /// top of `u32` (overflows).
    fn merge_case() -> impl Strategy<Value = Vec<(Vec<u32>, f64, u32)>> {
        let path = prop::collection::vec(0u32..6, 0..4);
        let bytes = prop_oneof![
            8 => prop_oneof![Just(0.0f64), Just(1.0), Just(2.5)],
            1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0)],
        ];
        let weight = prop_oneof![
            8 => 1u32..3,
            1 => Just(0u32),
            1 => Just(u32::MAX - 1),
        ];
        prop::collection::vec((path, bytes, weight), 0..40)
    }

    /// The analytical duration as it was computed before the one-pass loop (the reference).
    fn analytical_seconds_reference(
        flows: &[(Vec<u32>, f64, u32)],
        caps: &[f64],
        load: &mut [f64],
        touched: &mut Vec<u32>,
    ) -> f64 {
        let mut dur: f64 = 0.0;
        for (path, bytes, w) in flows {
            let w = f64::from(*w);
            let Some(min_cap) = path.iter().map(|&l| caps[l as usize]).reduce(f64::min) else {
                continue;
            };
            dur = dur.max(bytes / min_cap);
            if bytes * w <= 0.0 {
                continue;
            }
            for &l in path {
                let v = &mut load[l as usize];
                if *v == 0.0 {
                    touched.push(l);
                }
                *v += bytes * w;
            }
        }
        for &l in touched.iter() {
            dur = dur.max(load[l as usize] / caps[l as usize]);
        }
        dur
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The one-pass check and merge gives what checking every flow then merging gives:
        /// the same merged flows and hop count, or the same error.
        #[test]
        fn check_merge_is_check_then_merge(flows in merge_case(), nl in 4u32..7) {
            let get = |i: usize| (flows[i].0.as_slice(), flows[i].1, flows[i].2);
            let n = flows.len();
            let reference = check_flows(n, &get, nl).and_then(|()| merge_identical(n, &get));
            let got = check_merge(n, &get, nl);
            match (reference, got) {
                (Ok(m), Ok(g)) => {
                    let hops: usize = m.iter().map(|&(i, _)| flows[i as usize].0.len()).sum();
                    prop_assert_eq!(&g.flows, &m);
                    prop_assert_eq!(g.hops, hops);
                }
                (Err(a), Err(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}")),
                (a, b) => prop_assert!(false, "reference {:?}, one pass {:?}", a, b.map(|g| g.flows)),
            }
        }

        /// The one-pass analytical loop gives the reference's duration, loads and first-touch
        /// order bit for bit.
        #[test]
        fn analytical_seconds_is_the_reference(
            flows in prop::collection::vec(
                (
                    prop::collection::vec(0u32..6, 0..4),
                    prop_oneof![
                        Just(0.0f64), Just(-0.0), Just(1.0), 0.1f64..9.0, Just(1e308),
                        Just(f64::MAX), Just(5e-324), Just(1e-310),
                    ],
                    prop_oneof![1u32..4, Just(u32::MAX)],
                ),
                0..30,
            ),
            // Valid capacities (positive, finite), subnormal and largest ones included.
            caps in prop::collection::vec(
                prop_oneof![
                    Just(1.0f64), 0.3f64..5.0, Just(5e-324), Just(1e-310), Just(f64::MAX), Just(1e300),
                ],
                6,
            ),
        ) {
            let mut load = vec![0.0; 6];
            let mut want_touched = Vec::new();
            let want = analytical_seconds_reference(&flows, &caps, &mut load, &mut want_touched);
            let mut load2 = vec![0.0; 6];
            let mut touched = Vec::new();
            let got = analytical_seconds(
                flows.len(),
                |i| (flows[i].0.as_slice(), flows[i].1, flows[i].2),
                &caps,
                &mut load2,
                &mut touched,
            );
            prop_assert_eq!(got.to_bits(), want.to_bits());
            // The engine records busy intervals in first-touch order.
            prop_assert_eq!(&touched, &want_touched);
            prop_assert_eq!(
                load.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                load2.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `price_loads` gives an analytical engine's makespan and every loaded link's bytes
        /// bit for bit (each link once), with the links touched tracked and with every link
        /// scanned, or errs where the engine refuses the transfer.
        #[test]
        fn price_loads_are_the_engines_link_bytes(
            flows in prop::collection::vec(
                (
                    prop::collection::vec(0u32..40, 0..5),
                    prop_oneof![
                        12 => prop_oneof![Just(0.0f64), Just(-0.0), Just(1.0), 0.1f64..9.0, Just(1e300)],
                        1 => prop_oneof![Just(f64::NAN), Just(-1.0)],
                    ],
                    prop_oneof![12 => 1u32..4, 1 => Just(0u32)],
                ),
                0..40,
            ),
            caps in prop::collection::vec(prop_oneof![Just(1.0f64), Just(2.0), 0.3f64..5.0], 40..52),
        ) {
            let nl = caps.len() as u32;
            let mut set = FlowSet::new();
            for (p, b, w) in &flows {
                let p: Vec<u32> = p.iter().map(|&l| (l * 7 + 11) % nl).collect();
                set.push(&p, *b, *w);
            }
            let mut e = Engine::new(caps.clone(), Fidelity::Analytical).unwrap();
            e.set_link_bytes_only(true);
            let want = e.add_transfer(0.0, &set, &[]).ok().map(|_| {
                let rep = e.run().unwrap();
                let bytes: Vec<(u32, u64)> = rep
                    .links
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.bytes > 0.0)
                    .map(|(l, s)| (l as u32, s.bytes.to_bits()))
                    .collect();
                (rep.makespan_s.to_bits(), bytes)
            });
            for dense in [false, true] {
                let mut p = AnalyticalPricer::new(&caps);
                p.force_dense = Some(dense);
                let mut got: Vec<(u32, u64)> = Vec::new();
                let t = p.price_loads(&set, |l, b| got.push((l, b.to_bits())));
                got.sort_unstable();
                let n = got.len();
                got.dedup_by_key(|x| x.0);
                prop_assert_eq!(got.len(), n, "a link given twice");
                prop_assert_eq!(t.ok().map(|t| (t.to_bits(), got)), want.clone(), "dense {}", dense);
                prop_assert!(p.load.iter().all(|&x| x.to_bits() == 0) && p.touched.is_empty());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Chains priced with the links touched tracked and with every link scanned give the
        /// same makespan and busiest links bit for bit, or the same error (a bad flow in any
        /// transfer, a merged weight overflowing), and leave the pricer's arrays at 0 either
        /// way.
        #[test]
        fn dense_and_tracked_pricing_agree(
            transfers in prop::collection::vec(
                prop::collection::vec(
                    (
                        prop::collection::vec(0u32..40, 0..5),
                        prop_oneof![
                            12 => prop_oneof![Just(0.0f64), Just(-0.0), Just(1.0), 0.1f64..9.0, Just(1e308)],
                            1 => prop_oneof![Just(f64::NAN), Just(-1.0)],
                        ],
                        prop_oneof![12 => 1u32..3, 1 => Just(0u32), 1 => Just(u32::MAX - 1)],
                    ),
                    0..12,
                ),
                1..4,
            ),
            // 40 to 51 links (a scan's blocks of lanes and its rest); hops taken modulo their count.
            caps in prop::collection::vec(prop_oneof![Just(1.0f64), Just(2.0), 0.3f64..5.0], 40..52),
            k in 0usize..5,
        ) {
            let nl = caps.len() as u32;
            let sets: Vec<FlowSet> = transfers
                .iter()
                .map(|t| {
                    let mut s = FlowSet::new();
                    for (p, b, w) in t {
                        // Toward the last links too: the scan's rest must count.
                        let p: Vec<u32> = p.iter().map(|&l| (l * 7 + 11) % nl).collect();
                        s.push(&p, *b, *w);
                    }
                    s
                })
                .collect();
            let mut got = Vec::new();
            for dense in [false, true] {
                let mut p = AnalyticalPricer::new(&caps);
                p.force_dense = Some(dense);
                let r = p.price_chain(&sets, k);
                prop_assert!(p.load.iter().chain(&p.bytes).all(|&x| x.to_bits() == 0));
                prop_assert!(p.touched.is_empty() && p.bytes_touched.is_empty());
                got.push(format!(
                    "{:?}",
                    r.map(|(t, busy)| (t.to_bits(), busy.iter().map(|&(l, u)| (l, u.to_bits())).collect::<Vec<_>>()))
                ));
            }
            prop_assert_eq!(&got[0], &got[1]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The lane-wise capacity check finds the first capacity that is not finite and
        /// positive wherever it sits (in a block of lanes or the rest), and passes the others
        /// (subnormals included).
        #[test]
        fn check_capacities_finds_the_first_bad_link(
            caps in prop::collection::vec(
                prop_oneof![
                    12 => prop_oneof![
                        Just(1.0f64), Just(f64::MIN_POSITIVE / 4.0), Just(f64::from_bits(1)), Just(f64::MIN_POSITIVE),
                        Just(f64::MAX), 0.1f64..1e12
                    ],
                    1 => prop_oneof![
                        Just(0.0f64), Just(-0.0), Just(-1.0), Just(f64::INFINITY), Just(f64::NEG_INFINITY),
                        Just(f64::NAN), Just(-f64::NAN), Just(f64::from_bits(u64::MAX >> 1)), Just(-f64::from_bits(1))
                    ],
                ],
                0..40,
            ),
        ) {
            let want = caps.iter().position(|&c| !(c.is_finite() && c > 0.0));
            match (check_capacities(&caps), want) {
                (Ok(()), None) => {}
                (Err(EngineError::InvalidCapacity { link, capacity }), Some(i)) => {
                    prop_assert_eq!(link as usize, i);
                    prop_assert_eq!(capacity.to_bits(), caps[i].to_bits());
                }
                (got, want) => prop_assert!(false, "got {:?}, want the link {:?}", got, want),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whole runs (incremental and full re-solves) are bit-identical whether the
        /// water-filling heap is heapified once per solve or loaded link by link.
        #[test]
        fn heapify_load_equals_ordered_load((caps, tasks) in instance()) {
            let new = build(&caps, &tasks, false).run().unwrap();
            let old = build(&caps, &tasks, true).run().unwrap();
            prop_assert_eq!(format!("{new:?}"), format!("{old:?}"));
        }
    }
}

//! The discrete-event simulation itself.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::heap::IndexedMinHeap;
use crate::maxmin::WaterFill;
use crate::{EngineError, Fidelity, LinkStats, RunReport, Task, TaskId};

/// Relative tolerance under which events are considered simultaneous.
const BATCH_EPS: f64 = 1e-12;

/// Flows whose rate is below `(1 - FIXED_MARGIN) ×` the smallest rate of
/// the flows that just finished keep their rate without being re-solved
/// (exact: in water-filling, removing a flow of rate `r` cannot change any
/// rate below `r`). The margin only guards against rounding.
const FIXED_MARGIN: f64 = 1e-9;

/// Stored form of a task.
#[derive(Debug, Clone)]
enum Spec {
    Delay(f64),
    Compute { resource: u32, seconds: f64 },
    Transfer { latency: f64, first: u32, end: u32 },
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
    flow_task: Vec<u32>,
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
        for (link, &c) in link_capacity_bytes_per_s.iter().enumerate() {
            if !(c.is_finite() && c > 0.0) {
                return Err(EngineError::InvalidCapacity {
                    link: link as u32,
                    capacity: c,
                });
            }
        }
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
            flow_task: Vec::new(),
        })
    }

    /// Link capacities (bytes/s), indexed by link id.
    pub fn capacities(&self) -> &[f64] {
        &self.caps
    }

    /// The fidelity this engine was built with.
    pub fn fidelity(&self) -> Fidelity {
        self.fidelity
    }

    /// Number of tasks added so far.
    pub fn num_tasks(&self) -> usize {
        self.specs.len()
    }

    /// Number of flow variables stored (after merging identical flows).
    pub fn num_flows(&self) -> usize {
        self.flow_bytes.len()
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
        let nl = self.caps.len() as u32;
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
                check_duration(latency)?;
                for (i, f) in flows.iter().enumerate() {
                    let fi = u32::try_from(i).map_err(|_| EngineError::TooLarge)?;
                    if !(f.bytes.is_finite() && f.bytes >= 0.0) {
                        return Err(EngineError::InvalidBytes {
                            flow: fi,
                            bytes: f.bytes,
                        });
                    }
                    if f.weight == 0 {
                        return Err(EngineError::InvalidWeight { flow: fi });
                    }
                    if let Some(&l) = f.path.iter().find(|&&l| l >= nl) {
                        return Err(EngineError::InvalidLink { link: l, links: nl });
                    }
                }
                // Merge identical flows (same path and bytes), keeping the
                // order of first occurrence.
                let mut index: HashMap<(&[u32], u64), usize> = HashMap::with_capacity(flows.len());
                let mut merged: Vec<(usize, u32)> = Vec::with_capacity(flows.len());
                for (i, f) in flows.iter().enumerate() {
                    let key = (f.path.as_slice(), f.bytes.to_bits());
                    match index.get(&key) {
                        Some(&m) => {
                            let w = &mut merged[m].1;
                            *w = w.checked_add(f.weight).ok_or(EngineError::WeightOverflow)?;
                        }
                        None => {
                            index.insert(key, merged.len());
                            merged.push((i, f.weight));
                        }
                    }
                }
                let total_hops: usize =
                    self.hops.len() + merged.iter().map(|&(i, _)| flows[i].path.len()).sum::<usize>();
                let total_flows = self.flow_bytes.len() + merged.len();
                if u32::try_from(total_hops).is_err() || total_flows >= u32::MAX as usize {
                    return Err(EngineError::TooLarge);
                }
                let first = self.flow_bytes.len() as u32;
                for &(i, w) in &merged {
                    let f = &flows[i];
                    self.hops.extend_from_slice(&f.path);
                    self.flow_off.push(self.hops.len() as u32);
                    self.flow_bytes.push(f.bytes);
                    self.flow_weight.push(w);
                    self.flow_task.push(id);
                }
                Spec::Transfer {
                    latency,
                    first,
                    end: self.flow_bytes.len() as u32,
                }
            }
        };
        let total_deps = self.deps.len() + deps.len();
        if u32::try_from(total_deps).is_err() {
            return Err(EngineError::TooLarge);
        }
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

    #[inline]
    fn path(&self, f: u32) -> &[u32] {
        &self.hops[self.flow_off[f as usize] as usize..self.flow_off[f as usize + 1] as usize]
    }
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
    queue: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    resources: BTreeMap<u32, Resource>,
    dirty_resources: Vec<u32>,
    // --- flows
    alive: Vec<bool>,
    rate: Vec<f64>,
    new_rate: Vec<f64>,
    remaining: Vec<f64>,
    last: Vec<f64>,
    completions: IndexedMinHeap,
    link_flows: Vec<Vec<u32>>,
    wf: WaterFill,
    lstamp: Vec<u32>,
    lepoch: u32,
    roots: Vec<u32>,
    started_any: bool,
    finished_min_rate: f64,
    comp_links: Vec<u32>,
    comp_flows: Vec<u32>,
    // --- links
    link_used: Vec<f64>,
    link_last: Vec<f64>,
    stats: Vec<LinkStats>,
    /// Analytical mode: `(link, start, end, rate)` busy intervals.
    intervals: Vec<(u32, f64, f64, f64)>,
    /// Analytical mode: scratch per-link load of the task being priced (zero between tasks).
    load: Vec<f64>,
    // --- counters
    n_events: u64,
    n_solves: u64,
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
            queue: BinaryHeap::new(),
            seq: 0,
            resources: BTreeMap::new(),
            dirty_resources: Vec::new(),
            alive: vec![false; fl],
            rate: vec![0.0; fl],
            new_rate: vec![0.0; fl],
            remaining: vec![0.0; fl],
            last: vec![0.0; fl],
            completions: IndexedMinHeap::new(fl),
            link_flows: vec![Vec::new(); ll],
            wf: WaterFill::new(ll, fl),
            lstamp: vec![0; ll],
            lepoch: 0,
            roots: Vec::new(),
            started_any: false,
            finished_min_rate: f64::INFINITY,
            comp_links: Vec::new(),
            comp_flows: Vec::new(),
            link_used: vec![0.0; ll],
            link_last: vec![0.0; ll],
            stats: vec![LinkStats::default(); nl],
            intervals: Vec::new(),
            load: if flow_mode { Vec::new() } else { vec![0.0; nl] },
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
        loop {
            let batch_end = self.now + self.now * BATCH_EPS;
            self.process_batch(batch_end);
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
        if self.e.fidelity == Fidelity::Analytical {
            self.sweep_intervals();
        }
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
            while let Some((f, k)) = self.completions.peek() {
                if k > batch_end {
                    break;
                }
                self.completions.pop();
                self.n_events += 1;
                progressed = true;
                self.finish_flow(f);
            }
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
            Spec::Transfer { latency, first, end } => {
                self.start[t as usize] = now;
                match self.e.fidelity {
                    Fidelity::Flow => self.push(now + latency, EvKind::FlowsStart(t)),
                    Fidelity::Analytical => {
                        let begin = now + latency;
                        // CORRECTNESS: the task's duration is the larger of the slowest flow
                        // alone on its path and the most loaded link's bytes over its
                        // capacity (the task's own flows share links; other tasks do not
                        // count). Both are lower bounds of the flow fidelity's time, so
                        // analytical is never slower than flow, and no link exceeds capacity.
                        let mut dur: f64 = 0.0;
                        let mut touched: Vec<u32> = Vec::new();
                        for f in first..end {
                            let path = self.e.path(f);
                            let bytes = self.e.flow_bytes[f as usize];
                            let w = f64::from(self.e.flow_weight[f as usize]);
                            let Some(min_cap) = path.iter().map(|&l| self.e.caps[l as usize]).reduce(f64::min) else {
                                continue;
                            };
                            dur = dur.max(bytes / min_cap);
                            if bytes * w <= 0.0 {
                                continue;
                            }
                            for &l in path {
                                let load = &mut self.load[l as usize];
                                if *load == 0.0 {
                                    touched.push(l);
                                }
                                *load += bytes * w;
                            }
                        }
                        for &l in &touched {
                            dur = dur.max(self.load[l as usize] / self.e.caps[l as usize]);
                        }
                        for &l in &touched {
                            let load = std::mem::take(&mut self.load[l as usize]);
                            self.stats[l as usize].bytes += load;
                            if dur > 0.0 {
                                self.intervals.push((l, begin, begin + dur, load / dur));
                            }
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
        let mut pending = 0;
        for f in first..end {
            let fi = f as usize;
            let path = e.path(f);
            let bytes = e.flow_bytes[fi];
            if path.is_empty() || bytes <= 0.0 {
                continue;
            }
            let wb = bytes * f64::from(e.flow_weight[fi]);
            for &l in path {
                self.link_flows[l as usize].push(f);
                self.stats[l as usize].bytes += wb;
            }
            self.roots.extend_from_slice(path);
            self.alive[fi] = true;
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
        }
    }

    fn finish_flow(&mut self, f: u32) {
        let fi = f as usize;
        self.alive[fi] = false;
        self.finished_min_rate = self.finished_min_rate.min(self.rate[fi]);
        self.roots.extend_from_slice(self.e.path(f));
        let t = self.e.flow_task[fi];
        self.pending_flows[t as usize] -= 1;
        if self.pending_flows[t as usize] == 0 {
            self.task_end(t);
        }
    }

    /// Re-solves the rates of the flows affected by the starts and finishes
    /// since the last solve: the connected component(s) of the touched
    /// links, and after pure finishes only the flows at or above the
    /// smallest finished rate.
    fn resolve(&mut self) {
        self.n_solves += 1;
        let e = self.e;
        let now = self.now;
        let threshold = if self.started_any {
            f64::NEG_INFINITY
        } else {
            self.finished_min_rate * (1.0 - FIXED_MARGIN)
        };
        self.wf.begin();
        if self.lepoch == u32::MAX {
            self.lstamp.iter_mut().for_each(|s| *s = 0);
            self.lepoch = 0;
        }
        self.lepoch += 1;
        let ep = self.lepoch;
        self.comp_links.clear();
        self.comp_flows.clear();
        for &r in &self.roots {
            if self.lstamp[r as usize] != ep {
                self.lstamp[r as usize] = ep;
                self.comp_links.push(r);
            }
        }
        self.roots.clear();
        // Breadth-first search over links and variable flows.
        let mut i = 0;
        while i < self.comp_links.len() {
            let l = self.comp_links[i] as usize;
            i += 1;
            let alive = &self.alive;
            self.link_flows[l].retain(|&f| alive[f as usize]);
            for &f in &self.link_flows[l] {
                if self.rate[f as usize] < threshold || self.wf.is_var(f) {
                    continue;
                }
                self.wf.mark_var(f);
                self.comp_flows.push(f);
                for &m in e.path(f) {
                    if self.lstamp[m as usize] != ep {
                        self.lstamp[m as usize] = ep;
                        self.comp_links.push(m);
                    }
                }
            }
        }
        for &l in &self.comp_links {
            let li = l as usize;
            if self.link_used[li] > 0.0 {
                self.stats[li].busy_s += now - self.link_last[li];
            }
            self.link_last[li] = now;
            let mut fixed = 0.0;
            let mut n = 0u64;
            for &f in &self.link_flows[li] {
                let w = e.flow_weight[f as usize];
                if self.wf.is_var(f) {
                    n += u64::from(w);
                } else {
                    fixed += f64::from(w) * self.rate[f as usize];
                }
            }
            self.wf.set_link(l, e.caps[li] - fixed, n, fixed);
        }
        self.wf.fill(
            &self.link_flows,
            &e.flow_off,
            &e.hops,
            &e.flow_weight,
            &mut self.new_rate,
        );
        if threshold > f64::NEG_INFINITY && self.comp_flows.iter().any(|&f| self.new_rate[f as usize] <= 0.0) {
            // Rounding starved a re-solved flow next to fixed ones (not
            // expected in practice): fall back to solving whole components.
            self.roots.extend_from_slice(&self.comp_links);
            self.started_any = true;
            self.resolve();
            return;
        }
        for &f in &self.comp_flows {
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
        for &l in &self.comp_links {
            let li = l as usize;
            let used = self.wf.used[li];
            self.link_used[li] = used;
            let u = used / e.caps[li];
            if u > self.stats[li].peak_utilisation {
                self.stats[li].peak_utilisation = u;
            }
        }
        self.started_any = false;
        self.finished_min_rate = f64::INFINITY;
    }

    /// Analytical mode: turns the recorded busy intervals into busy time and
    /// peak utilisation per link.
    fn sweep_intervals(&mut self) {
        // (link, time, kind: 0 = end, 1 = start, rate)
        let mut pts: Vec<(u32, f64, u8, f64)> = Vec::with_capacity(self.intervals.len() * 2);
        for &(l, s, t, r) in &self.intervals {
            pts.push((l, s, 1, r));
            pts.push((l, t, 0, r));
        }
        self.intervals = Vec::new();
        pts.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut i = 0;
        while i < pts.len() {
            let l = pts[i].0;
            let cap = self.e.caps[l as usize];
            let mut active = 0usize;
            let mut used = 0.0;
            let mut prev = pts[i].1;
            let st = &mut self.stats[l as usize];
            while i < pts.len() && pts[i].0 == l {
                let (_, t, kind, r) = pts[i];
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
                i += 1;
            }
        }
    }
}

//! The event loop: arrivals, finishes, failures and repairs; the free-GPU pool and its
//! placements; the contention bookkeeping that sets each running job's progress rate.
//!
//! **Restart rule** (failures from [`super::failures`]): a job checkpoints every τ of its own
//! work in the current attempt (after the attempt's restart overhead); a failure on any of its
//! GPUs stops it, the work since its last checkpoint is lost (added back to what it has left),
//! it is requeued, and its next attempt first runs detection + restart
//! (`catalogue::failures::DETECT_S + RESTART_S`) on its new GPUs. A preempted job (priority
//! policy) checkpoints when it is stopped: it loses nothing and pays no restart.
//!
//! **Repair**: the failed hardware's GPUs leave the pool until `NODE_REPAIR_S` after the
//! failure: free ones at once, busy ones (other jobs on the failed host or leaf) when their job
//! stops (drained).

use super::contention::{slowdown, Footprint, View};
use super::failures::{checkpoint_interval_s, leaf_gpus, FailureModel};
use super::{Job, Options, Placement, Policy, Rng, SCAN_DEPTH};
use fabric::catalogue::failures::{self as fc, FailureClass};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

const FREE: u32 = u32::MAX;
/// Owner of a GPU out of the pool for repair.
const REPAIR: u32 = u32::MAX - 1;
const NO_UNIT: u32 = u32::MAX;

/// A leaf's or pod's stretch is re-published to its jobs when it moves by more than this
/// share (or returns to 1): rates lag the exact loads by at most 1 %, and a scattered job's
/// start no longer re-prices every job in every pod it touches.
pub(crate) const PUBLISH_TOLERANCE: f64 = 0.01;

/// What happened to one job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobOut {
    /// First start (NaN if it never started).
    pub first_start_s: f64,
    /// Completion (NaN if it never finished).
    pub end_s: f64,
    /// Wall time spent running, all attempts.
    pub busy_wall_s: f64,
    /// What that wall time would have been with the job's placement alone on the cluster.
    pub alone_wall_s: f64,
    pub interruptions: u32,
    pub preemptions: u32,
    /// GPU-seconds lost to its interruptions: GPUs × (work since the last checkpoint +
    /// detection + restart), each interruption.
    pub lost_gpu_s: f64,
    /// The EASY reservation made when the job first blocked at the head (backfill only).
    pub reservation_s: Option<f64>,
    /// Domains and leaves of the last placement.
    pub leaves: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimOut {
    pub jobs: Vec<JobOut>,
    /// (time, busy GPUs, GPUs out for repair) after every change.
    pub busy_steps: Vec<(f64, u32, u32)>,
    pub makespan_s: f64,
    pub last_arrival_s: f64,
    /// ∫ busy GPUs dt.
    pub busy_gpu_s: f64,
    /// ∫ free GPUs that the blocked head job could not use although there were enough dt.
    pub stranded_gpu_s: f64,
    /// ∫ (partly used domains / domains in use) dt.
    pub partial_domain_s: f64,
    /// Job-stopping failures drawn while the cluster was active, in all and per class
    /// (`FailureClass::ALL` order).
    pub failures: u64,
    pub failures_by_class: [u64; 7],
    /// Failures that stopped at least one job.
    pub failures_stopping_jobs: u64,
    /// Time during which failures are drawn: jobs running or still to arrive.
    pub failure_active_s: f64,
    /// ∫ GPUs out for repair dt.
    pub repair_gpu_s: f64,
    pub events: u64,
}

/// Free GPUs, per domain, per leaf and pod.
struct Pool {
    ds: u32,
    free: Vec<bool>,
    dom_free: Vec<u32>,
    /// Domains by free count.
    buckets: Vec<BTreeSet<u32>>,
    /// Whole-free domains per leaf; (count, leaf) ordered; whole-free domains per pod.
    leaf_whole: Vec<BTreeSet<u32>>,
    leaf_order: BTreeSet<(u32, u32)>,
    pod_whole: Vec<u32>,
    list: Vec<u32>,
    pos: Vec<u32>,
    /// Domains partly used, and domains with any GPU used.
    partial: u32,
    used: u32,
}

impl Pool {
    fn new(v: &View) -> Pool {
        let ds = v.domain_size;
        let mut buckets = vec![BTreeSet::new(); ds as usize + 1];
        buckets[ds as usize] = (0..v.domains).collect();
        let leaf_whole: Vec<BTreeSet<u32>> = v.leaf_doms.iter().map(|d| d.iter().copied().collect()).collect();
        let leaf_order = leaf_whole
            .iter()
            .enumerate()
            .map(|(l, s)| (s.len() as u32, l as u32))
            .collect();
        let pod_whole = v
            .pod_leaves
            .iter()
            .map(|ls| ls.iter().map(|&l| leaf_whole[l as usize].len() as u32).sum())
            .collect();
        Pool {
            ds,
            free: vec![true; v.gpus as usize],
            dom_free: vec![ds; v.domains as usize],
            buckets,
            leaf_whole,
            leaf_order,
            pod_whole,
            list: (0..v.gpus).collect(),
            pos: (0..v.gpus).collect(),
            partial: 0,
            used: 0,
        }
    }

    fn free_count(&self) -> u32 {
        self.list.len() as u32
    }

    fn set_dom(&mut self, v: &View, d: u32, old: u32, new: u32) {
        let ds = self.ds;
        self.buckets[old as usize].remove(&d);
        self.buckets[new as usize].insert(d);
        let l = v.dom_leaf[d as usize];
        let p = v.leaf_pod[l as usize] as usize;
        if old == ds || new == ds {
            let c = self.leaf_whole[l as usize].len() as u32;
            self.leaf_order.remove(&(c, l));
            if old == ds {
                self.leaf_whole[l as usize].remove(&d);
                self.pod_whole[p] -= 1;
            } else {
                self.leaf_whole[l as usize].insert(d);
                self.pod_whole[p] += 1;
            }
            self.leaf_order.insert((self.leaf_whole[l as usize].len() as u32, l));
        }
        let part = |x: u32| u32::from(x > 0 && x < ds);
        let usedf = |x: u32| u32::from(x < ds);
        self.partial = self.partial + part(new) - part(old);
        self.used = self.used + usedf(new) - usedf(old);
        self.dom_free[d as usize] = new;
    }

    fn take(&mut self, v: &View, g: u32) {
        debug_assert!(self.free[g as usize]);
        self.free[g as usize] = false;
        let i = self.pos[g as usize] as usize;
        let last = *self.list.last().expect("a free GPU");
        self.list.swap_remove(i);
        if last != g {
            self.pos[last as usize] = i as u32;
        }
        let d = g / self.ds;
        let old = self.dom_free[d as usize];
        self.set_dom(v, d, old, old - 1);
    }

    fn release(&mut self, v: &View, g: u32) {
        debug_assert!(!self.free[g as usize]);
        self.free[g as usize] = true;
        self.pos[g as usize] = self.list.len() as u32;
        self.list.push(g);
        let d = g / self.ds;
        let old = self.dom_free[d as usize];
        self.set_dom(v, d, old, old + 1);
    }

    fn free_in(&self, d: u32, n: u32) -> Vec<u32> {
        (d * self.ds..(d + 1) * self.ds)
            .filter(|&g| self.free[g as usize])
            .take(n as usize)
            .collect()
    }

    /// Place `n` GPUs; takes them.
    fn place(&mut self, v: &View, n: u32, how: Placement, rng: &mut Rng) -> Option<Vec<u32>> {
        if n == 0 || n > self.free_count() {
            return None;
        }
        let gpus = match how {
            Placement::Scattered => {
                let mut out = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let i = rng.below(self.list.len() as u64) as usize;
                    let g = self.list[i];
                    self.take(v, g);
                    out.push(g);
                }
                out.sort_unstable();
                return Some(out);
            }
            Placement::Packed => self.packed(v, n)?,
        };
        for &g in &gpus {
            self.take(v, g);
        }
        Some(gpus)
    }

    fn packed(&self, v: &View, n: u32) -> Option<Vec<u32>> {
        let ds = self.ds;
        let best_fit = |r: u32, skip: &BTreeSet<u32>| -> Option<u32> {
            (r..=ds).find_map(|c| self.buckets[c as usize].iter().find(|d| !skip.contains(d)).copied())
        };
        if n <= ds {
            let d = best_fit(n, &BTreeSet::new())?;
            return Some(self.free_in(d, n));
        }
        let (k, r) = (n / ds, n % ds);
        let whole = self.buckets[ds as usize].len() as u32;
        let partial_fits = r > 0 && (r..ds).any(|c| !self.buckets[c as usize].is_empty());
        if whole < k + u32::from(r > 0 && !partial_fits) {
            return None;
        }
        let mut chosen: Vec<u32> = Vec::with_capacity(k as usize);
        if let Some(&(_, l)) = self.leaf_order.range((k, 0)..).next() {
            chosen.extend(self.leaf_whole[l as usize].iter().take(k as usize));
        } else {
            let pod = (0..self.pod_whole.len())
                .filter(|&p| self.pod_whole[p] >= k)
                .min_by_key(|&p| (self.pod_whole[p], p));
            let leaves: Vec<u32> = match pod {
                Some(p) => {
                    let mut ls = v.pod_leaves[p].clone();
                    ls.sort_by_key(|&l| (Reverse(self.leaf_whole[l as usize].len()), l));
                    ls
                }
                None => self.leaf_order.iter().rev().map(|&(_, l)| l).collect(),
            };
            for l in leaves {
                for &d in &self.leaf_whole[l as usize] {
                    if chosen.len() as u32 == k {
                        break;
                    }
                    chosen.push(d);
                }
                if chosen.len() as u32 == k {
                    break;
                }
            }
        }
        let mut gpus: Vec<u32> = chosen.iter().flat_map(|&d| d * ds..(d + 1) * ds).collect();
        if r > 0 {
            let skip: BTreeSet<u32> = chosen.iter().copied().collect();
            let d = best_fit(r, &skip)?;
            gpus.extend(self.free_in(d, r));
        }
        Some(gpus)
    }
}

struct Rt {
    remaining: f64,
    rate: f64,
    last: f64,
    gpus: Vec<u32>,
    fp: Footprint,
    s_alone: f64,
    version: u32,
    running: bool,
    started_seq: u64,
    /// Checkpoint interval, seconds of work.
    tau: f64,
    /// Work done in this attempt, and the restart overhead it began with.
    attempt_work: f64,
    overhead: f64,
    /// Overhead the next attempt begins with (detection + restart after a failure).
    pending_overhead: f64,
    /// Communication stretch and the unit where it is reached (`NO_UNIT`: none above 1).
    kappa: f64,
    argmax: u32,
}

/// Event kinds in tie order: finishes and repairs free GPUs before failures and arrivals are
/// seen.
const FINISH: u8 = 0;
const REPAIR_DONE: u8 = 1;
const FAILURE: u8 = 2;
const ARRIVAL: u8 = 3;

type Event = Reverse<(u64, u8, u32, u32)>;

struct Sim<'a> {
    v: &'a View,
    jobs: &'a [Job],
    opts: &'a Options,
    pool: Pool,
    rng: Rng,
    rt: Vec<Rt>,
    out: Vec<JobOut>,
    owner: Vec<u32>,
    /// Until when each GPU is out for repair (a busy one leaves the pool when its job stops).
    repair_until: Vec<f64>,
    in_repair: u32,
    /// GPU sets of the repairs (an event's id indexes this).
    repairs: Vec<Vec<u32>>,
    queue: BTreeSet<(u64, u64, u32)>,
    running: BTreeSet<u32>,
    heap: BinaryHeap<Event>,
    leaf_load: Vec<f64>,
    pod_load: Vec<f64>,
    /// The stretch `max(1, ρ)` each unit has published to its jobs.
    pub_leaf: Vec<f64>,
    pub_pod: Vec<f64>,
    leaf_jobs: Vec<BTreeSet<u32>>,
    pod_jobs: Vec<BTreeSet<u32>>,
    now: f64,
    start_counter: u64,
    /// Whether the head job is blocked with enough free GPUs (fragmentation).
    stranded: bool,
}

fn key_time(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

impl Sim<'_> {
    fn queue_key(&self, j: u32) -> (u64, u64, u32) {
        let job = &self.jobs[j as usize];
        match self.opts.policy {
            Policy::Fifo | Policy::Backfill => (0, j as u64, j),
            Policy::Sjf => (key_time(job.run_s), j as u64, j),
            Policy::Priority => (255 - job.priority as u64, j as u64, j),
        }
    }

    fn push(&mut self, t: f64, kind: u8, j: u32, ver: u32) {
        self.heap.push(Reverse((key_time(t), kind, j, ver)));
    }

    fn settle(&mut self, j: u32) {
        let now = self.now;
        let r = &mut self.rt[j as usize];
        let dt = now - r.last;
        if dt > 0.0 {
            let work = (dt * r.rate).min(r.remaining);
            r.remaining -= work;
            r.attempt_work += work;
            let o = &mut self.out[j as usize];
            o.busy_wall_s += dt;
            o.alone_wall_s += work * r.s_alone;
        }
        r.last = now;
    }

    /// The stretch a job sees on unit `u` (leaves first, then pods), as published.
    fn published(&self, u: u32) -> f64 {
        let nl = self.leaf_load.len() as u32;
        if u < nl {
            self.pub_leaf[u as usize]
        } else {
            self.pub_pod[(u - nl) as usize]
        }
    }

    /// `κ` of job `a` over every unit it uses, and the unit where it is reached.
    fn full_kappa(&self, a: u32) -> (f64, u32) {
        let fp = &self.rt[a as usize].fp;
        let nl = self.leaf_load.len() as u32;
        let mut best = (1.0, NO_UNIT);
        for u in fp.leaves.iter().map(|x| x.0).chain(fp.pods.iter().map(|x| x.0 + nl)) {
            let k = self.published(u);
            if k > best.0 {
                best = (k, u);
            }
        }
        best
    }

    /// Loads change by `sign` × the footprint of `j`. A unit's stretch `max(1, ρ)` is
    /// published to its jobs when it moves by more than [`PUBLISH_TOLERANCE`] (or returns to
    /// 1); a job's `κ` follows increases at once and is recomputed when the unit holding its
    /// maximum falls; jobs whose `κ` changed get new rates (`j` itself when it starts).
    fn apply(&mut self, j: u32, sign: f64) {
        let fp = std::mem::take(&mut self.rt[j as usize].fp);
        let nl = self.leaf_load.len() as u32;
        let mut changed: Vec<(u32, f64, f64)> = Vec::new();
        for &(l, d) in &fp.leaves {
            let li = l as usize;
            self.leaf_load[li] = (self.leaf_load[li] + sign * d).max(0.0);
            if sign > 0.0 {
                self.leaf_jobs[li].insert(j);
            } else {
                self.leaf_jobs[li].remove(&j);
            }
            let c = (self.leaf_load[li] / self.v.leaf_up[li]).max(1.0);
            let old = self.pub_leaf[li];
            if (c - old).abs() > PUBLISH_TOLERANCE * old || (c == 1.0 && old != 1.0) {
                self.pub_leaf[li] = c;
                changed.push((l, old, c));
            }
        }
        for &(p, d) in &fp.pods {
            let pi = p as usize;
            self.pod_load[pi] = (self.pod_load[pi] + sign * d).max(0.0);
            if sign > 0.0 {
                self.pod_jobs[pi].insert(j);
            } else {
                self.pod_jobs[pi].remove(&j);
            }
            let c = (self.pod_load[pi] / self.v.pod_up[pi]).max(1.0);
            let old = self.pub_pod[pi];
            if (c - old).abs() > PUBLISH_TOLERANCE * old || (c == 1.0 && old != 1.0) {
                self.pub_pod[pi] = c;
                changed.push((p + nl, old, c));
            }
        }
        self.rt[j as usize].fp = fp;
        let mut update = BTreeSet::new();
        let mut recompute = BTreeSet::new();
        for &(u, old, new) in &changed {
            let jobs = if u < nl {
                &self.leaf_jobs[u as usize]
            } else {
                &self.pod_jobs[(u - nl) as usize]
            };
            for &a in jobs {
                let r = &self.rt[a as usize];
                if new >= r.kappa {
                    update.insert(a);
                } else if new < old && r.argmax == u {
                    recompute.insert(a);
                }
            }
        }
        for &(u, _, new) in &changed {
            let jobs = if u < nl {
                &self.leaf_jobs[u as usize]
            } else {
                &self.pod_jobs[(u - nl) as usize]
            };
            for &a in jobs {
                let r = &mut self.rt[a as usize];
                if new > r.kappa {
                    r.kappa = new;
                    r.argmax = u;
                }
            }
        }
        for a in recompute {
            let (k, u) = self.full_kappa(a);
            let r = &mut self.rt[a as usize];
            r.kappa = k;
            r.argmax = u;
            update.insert(a);
        }
        if sign > 0.0 {
            let (k, u) = self.full_kappa(j);
            let r = &mut self.rt[j as usize];
            r.kappa = k;
            r.argmax = u;
            update.insert(j);
        } else {
            update.remove(&j);
        }
        let c = self.opts.comm_fraction;
        for a in update {
            let rate = 1.0 / slowdown(self.rt[a as usize].kappa, c);
            let r = &self.rt[a as usize];
            if a == j || (rate - r.rate).abs() > 1e-12 * r.rate {
                self.settle(a);
                let r = &mut self.rt[a as usize];
                r.rate = rate;
                r.version += 1;
                let (t, ver) = (self.now + r.remaining / rate, r.version);
                self.push(t, FINISH, a, ver);
            }
        }
    }

    fn start(&mut self, j: u32, gpus: Vec<u32>) {
        for &g in &gpus {
            self.owner[g as usize] = j;
        }
        let fp = Footprint::of(self.v, &gpus);
        let s_alone = slowdown(fp.kappa_alone(self.v), self.opts.comm_fraction);
        self.start_counter += 1;
        let leaves: BTreeSet<u32> = gpus.iter().map(|&g| self.v.gpu_leaf[g as usize]).collect();
        let o = &mut self.out[j as usize];
        if o.first_start_s.is_nan() {
            o.first_start_s = self.now;
        }
        o.leaves = leaves.len() as u32;
        let r = &mut self.rt[j as usize];
        r.overhead = std::mem::take(&mut r.pending_overhead);
        r.remaining += r.overhead;
        r.attempt_work = 0.0;
        r.gpus = gpus;
        r.fp = fp;
        r.s_alone = s_alone;
        r.running = true;
        r.rate = 1.0;
        r.last = self.now;
        r.started_seq = self.start_counter;
        self.running.insert(j);
        self.apply(j, 1.0);
    }

    /// Stop a running job (finished or killed): settle, free its GPUs and links.
    fn stop(&mut self, j: u32) {
        self.settle(j);
        let gpus = std::mem::take(&mut self.rt[j as usize].gpus);
        for &g in &gpus {
            if self.repair_until[g as usize] > self.now {
                // Drained: the failed host or leaf goes to repair now.
                self.owner[g as usize] = REPAIR;
                self.in_repair += 1;
            } else {
                self.owner[g as usize] = FREE;
                self.pool.release(self.v, g);
            }
        }
        self.rt[j as usize].running = false;
        self.rt[j as usize].version += 1;
        self.running.remove(&j);
        self.apply(j, -1.0);
        let r = &mut self.rt[j as usize];
        r.fp = Footprint::default();
        r.kappa = 1.0;
        r.argmax = NO_UNIT;
    }

    /// A failure stops running job `j`: it loses the work since its last checkpoint and its
    /// next attempt begins with detection + restart. Returns the GPU-seconds lost.
    fn fail(&mut self, j: u32) -> f64 {
        self.stop(j);
        let gpus = self.jobs[j as usize].gpus as f64;
        let r = &mut self.rt[j as usize];
        let model = (r.attempt_work - r.overhead).max(0.0);
        let lost = if r.tau.is_finite() {
            model - (model / r.tau).floor() * r.tau
        } else {
            model
        };
        // Overhead of this attempt not yet run is dropped: the next attempt pays its own.
        let unrun = (r.overhead - r.attempt_work).max(0.0);
        r.remaining += lost - unrun;
        r.pending_overhead = fc::DETECT_S + fc::RESTART_S;
        r.attempt_work = 0.0;
        r.overhead = 0.0;
        let lost_gpu_s = gpus * (lost + fc::DETECT_S + fc::RESTART_S);
        let o = &mut self.out[j as usize];
        o.interruptions += 1;
        o.lost_gpu_s += lost_gpu_s;
        lost_gpu_s
    }

    /// `gpus` leave the pool until `until`: free ones now, busy ones when their job stops.
    fn send_to_repair(&mut self, gpus: Vec<u32>, until: f64) {
        for &g in &gpus {
            let gi = g as usize;
            self.repair_until[gi] = self.repair_until[gi].max(until);
            if self.owner[gi] == FREE {
                self.pool.take(self.v, g);
                self.owner[gi] = REPAIR;
                self.in_repair += 1;
            }
        }
        let id = self.repairs.len() as u32;
        self.repairs.push(gpus);
        self.push(until, REPAIR_DONE, id, 0);
    }

    /// Repair `id` ends: its GPUs whose repair is over return to the pool.
    fn repaired(&mut self, id: u32) {
        let gpus = std::mem::take(&mut self.repairs[id as usize]);
        for g in gpus {
            let gi = g as usize;
            if self.owner[gi] == REPAIR && self.repair_until[gi] <= self.now {
                self.owner[gi] = FREE;
                self.in_repair -= 1;
                self.pool.release(self.v, g);
            }
        }
    }

    fn requeue(&mut self, j: u32) {
        let k = self.queue_key(j);
        self.queue.insert(k);
    }

    fn try_start(&mut self, j: u32) -> bool {
        let n = self.jobs[j as usize].gpus;
        match self.pool.place(self.v, n, self.opts.placement, &mut self.rng) {
            Some(g) => {
                let k = self.queue_key(j);
                self.queue.remove(&k);
                self.start(j, g);
                true
            }
            None => false,
        }
    }

    fn schedule(&mut self) {
        self.stranded = false;
        loop {
            let Some(&(_, _, head)) = self.queue.iter().next() else {
                return;
            };
            if self.try_start(head) {
                continue;
            }
            let n = self.jobs[head as usize].gpus;
            match self.opts.policy {
                Policy::Fifo => {}
                Policy::Priority => {
                    if self.preempt_for(head) {
                        continue;
                    }
                }
                Policy::Backfill => self.backfill(head),
                Policy::Sjf => self.greedy(),
            }
            if let Some(&(_, _, h)) = self.queue.iter().next() {
                let n = if h == head { n } else { self.jobs[h as usize].gpus };
                self.stranded = n <= self.pool.free_count();
            }
            return;
        }
    }

    /// Shortest-first: every queued job that fits starts, in queue order.
    fn greedy(&mut self) {
        let keys: Vec<u32> = self.queue.iter().take(SCAN_DEPTH).map(|k| k.2).collect();
        for j in keys {
            if self.pool.free_count() == 0 {
                break;
            }
            if self.jobs[j as usize].gpus <= self.pool.free_count() {
                self.try_start(j);
            }
        }
    }

    /// Preempt lower-priority jobs until `head` fits; true if it started.
    fn preempt_for(&mut self, head: u32) -> bool {
        let prio = self.jobs[head as usize].priority;
        let mut victims: Vec<(u8, Reverse<u64>, u32)> = self
            .running
            .iter()
            .filter(|&&j| self.jobs[j as usize].priority < prio)
            .map(|&j| {
                (
                    self.jobs[j as usize].priority,
                    Reverse(self.rt[j as usize].started_seq),
                    j,
                )
            })
            .collect();
        let avail: u64 = victims.iter().map(|v| self.jobs[v.2 as usize].gpus as u64).sum();
        if avail + (self.pool.free_count() as u64) < self.jobs[head as usize].gpus as u64 {
            return false;
        }
        victims.sort();
        for (_, _, v) in victims {
            self.stop(v);
            self.out[v as usize].preemptions += 1;
            self.requeue(v);
            if self.try_start(head) {
                return true;
            }
        }
        false
    }

    /// EASY backfill behind a blocked head.
    fn backfill(&mut self, head: u32) {
        let need = self.jobs[head as usize].gpus;
        let mut ends: Vec<(f64, u32, u32)> = self
            .running
            .iter()
            .map(|&j| {
                let r = &self.rt[j as usize];
                let left = (r.remaining - (self.now - r.last) * r.rate).max(0.0);
                (self.now + left / r.rate, j, self.jobs[j as usize].gpus)
            })
            .collect();
        ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut avail = self.pool.free_count();
        let mut shadow = f64::INFINITY;
        for &(t, _, g) in &ends {
            avail += g;
            if avail >= need {
                shadow = t;
                break;
            }
        }
        let mut extra = avail.saturating_sub(need);
        let o = &mut self.out[head as usize];
        if o.reservation_s.is_none() {
            o.reservation_s = Some(shadow);
        }
        let keys: Vec<u32> = self.queue.iter().skip(1).take(SCAN_DEPTH).map(|k| k.2).collect();
        for j in keys {
            let free = self.pool.free_count();
            if free == 0 {
                break;
            }
            let n = self.jobs[j as usize].gpus;
            if n > free {
                continue;
            }
            let r = &self.rt[j as usize];
            let ends_in_time = self.now + r.remaining <= shadow * (1.0 + 1e-12);
            if !ends_in_time && n > extra {
                continue;
            }
            if self.try_start(j) && !ends_in_time {
                extra -= n;
            }
        }
    }
}

pub(crate) fn simulate(v: &View, jobs: &[Job], opts: &Options, fm: &FailureModel) -> SimOut {
    let n = jobs.len();
    let fail_rate = fm.per_s();
    let per_gpu_s = fail_rate / v.gpus.max(1) as f64;
    let mut sim = Sim {
        v,
        jobs,
        opts,
        pool: Pool::new(v),
        rng: Rng::new(opts.seed ^ 0xF00D),
        rt: jobs
            .iter()
            .map(|j| Rt {
                remaining: j.run_s,
                rate: 1.0,
                last: 0.0,
                gpus: Vec::new(),
                fp: Footprint::default(),
                s_alone: 1.0,
                version: 0,
                running: false,
                started_seq: 0,
                tau: checkpoint_interval_s(opts.checkpoint_interval_s, j.gpus, per_gpu_s),
                attempt_work: 0.0,
                overhead: 0.0,
                pending_overhead: 0.0,
                kappa: 1.0,
                argmax: NO_UNIT,
            })
            .collect(),
        out: vec![
            JobOut {
                first_start_s: f64::NAN,
                end_s: f64::NAN,
                busy_wall_s: 0.0,
                alone_wall_s: 0.0,
                interruptions: 0,
                preemptions: 0,
                lost_gpu_s: 0.0,
                reservation_s: None,
                leaves: 0,
            };
            n
        ],
        owner: vec![FREE; v.gpus as usize],
        repair_until: vec![f64::NEG_INFINITY; v.gpus as usize],
        in_repair: 0,
        repairs: Vec::new(),
        queue: BTreeSet::new(),
        running: BTreeSet::new(),
        heap: BinaryHeap::new(),
        leaf_load: vec![0.0; v.leaves()],
        pod_load: vec![0.0; v.pods()],
        pub_leaf: vec![1.0; v.leaves()],
        pub_pod: vec![1.0; v.pods()],
        leaf_jobs: vec![BTreeSet::new(); v.leaves()],
        pod_jobs: vec![BTreeSet::new(); v.pods()],
        now: 0.0,
        start_counter: 0,
        stranded: false,
    };
    for (i, j) in jobs.iter().enumerate() {
        sim.push(j.submit_s, ARRIVAL, i as u32, 0);
    }
    let lg = leaf_gpus(v);
    let mut frng = Rng::new(opts.seed ^ 0xFA11);
    if fail_rate > 0.0 {
        let t = -frng.unit_open().ln() / fail_rate;
        sim.push(t, FAILURE, 0, 0);
    }
    let mut pending = n;
    let mut out = SimOut {
        jobs: Vec::new(),
        busy_steps: vec![(0.0, 0, 0)],
        makespan_s: 0.0,
        last_arrival_s: jobs.iter().map(|j| j.submit_s).fold(0.0, f64::max),
        busy_gpu_s: 0.0,
        stranded_gpu_s: 0.0,
        partial_domain_s: 0.0,
        failures: 0,
        failures_by_class: [0; 7],
        failures_stopping_jobs: 0,
        failure_active_s: 0.0,
        repair_gpu_s: 0.0,
        events: 0,
    };
    let mut busy = 0u32;
    while let Some(Reverse((tb, kind, j, ver))) = sim.heap.pop() {
        let t = f64::from_bits(tb);
        if (kind == FAILURE || kind == REPAIR_DONE) && pending == 0 && sim.running.is_empty() && sim.queue.is_empty() {
            break;
        }
        if kind == FINISH && (ver != sim.rt[j as usize].version || !sim.rt[j as usize].running) {
            continue;
        }
        // Integrate the state since the last event.
        let dt = t - sim.now;
        if dt > 0.0 {
            out.busy_gpu_s += dt * busy as f64;
            if sim.stranded {
                out.stranded_gpu_s += dt * sim.pool.free_count() as f64;
            }
            if sim.pool.used > 0 {
                out.partial_domain_s += dt * sim.pool.partial as f64 / sim.pool.used as f64;
            }
            out.repair_gpu_s += dt * sim.in_repair as f64;
            if pending > 0 || !sim.running.is_empty() {
                out.failure_active_s += dt;
            }
        }
        sim.now = t;
        out.events += 1;
        match kind {
            FINISH => {
                sim.stop(j);
                sim.out[j as usize].end_s = t;
                out.makespan_s = out.makespan_s.max(t);
            }
            FAILURE => {
                // Thinned to the active time (see `failures`): an idle, finished cluster
                // draws none, so repairs drain and the run ends.
                if pending > 0 || !sim.running.is_empty() {
                    let mut pick = frng.unit() * fail_rate;
                    let mut s = fm.streams.len() - 1;
                    for (i, st) in fm.streams.iter().enumerate() {
                        if pick < st.per_s {
                            s = i;
                            break;
                        }
                        pick -= st.per_s;
                    }
                    let st = &fm.streams[s];
                    let unit = frng.below(st.count);
                    out.failures += 1;
                    let ci = FailureClass::ALL.iter().position(|&c| c == st.class).unwrap_or(0);
                    out.failures_by_class[ci] += 1;
                    let (hit, down) = fm.hit(v, s, unit, &lg);
                    let victims: BTreeSet<u32> = hit
                        .iter()
                        .map(|&g| sim.owner[g as usize])
                        .filter(|&o| o != FREE && o != REPAIR)
                        .collect();
                    if !down.is_empty() {
                        sim.send_to_repair(down, t + fc::NODE_REPAIR_S);
                    }
                    if !victims.is_empty() {
                        out.failures_stopping_jobs += 1;
                    }
                    for victim in victims {
                        sim.fail(victim);
                        sim.requeue(victim);
                    }
                }
                let next = t - frng.unit_open().ln() / fail_rate;
                sim.push(next, FAILURE, 0, 0);
            }
            REPAIR_DONE => sim.repaired(j),
            _ => {
                pending -= 1;
                sim.requeue(j);
            }
        }
        sim.schedule();
        let b = v.gpus - sim.pool.free_count() - sim.in_repair;
        let last = out.busy_steps.last().map(|x| x.2).unwrap_or(0);
        if b != busy || sim.in_repair != last {
            busy = b;
            out.busy_steps.push((t, b, sim.in_repair));
        }
    }
    out.jobs = sim.out;
    out
}

#[cfg(test)]
mod tests {
    use super::super::{JobState, Options};
    use super::*;

    fn view(spec: &str) -> View {
        View::new(&fabric::presets::build_preset(spec).unwrap().1)
    }

    fn job(i: usize, submit: f64, gpus: u32, run: f64) -> Job {
        Job {
            id: format!("j{i}"),
            submit_s: submit,
            gpus,
            run_s: run,
            state: JobState::Completed,
            priority: 0,
            trace_queue_s: None,
        }
    }

    #[test]
    fn packed_fills_the_fullest_domain_and_whole_leaves() {
        let v = view("fat-tree:gpus=256,oversub=4");
        let mut p = Pool::new(&v);
        let mut rng = Rng::new(1);
        let a = p.place(&v, 3, Placement::Packed, &mut rng).unwrap();
        assert_eq!(a, vec![0, 1, 2]);
        let b = p.place(&v, 4, Placement::Packed, &mut rng).unwrap();
        assert_eq!(b, vec![3, 4, 5, 6], "best fit: the partly used domain");
        let c = p.place(&v, 16, Placement::Packed, &mut rng).unwrap();
        let leaves: BTreeSet<u32> = c.iter().map(|&g| v.gpu_leaf[g as usize]).collect();
        assert_eq!(leaves.len(), 1, "{c:?}");
        assert_eq!(p.partial, 1);
        for g in a {
            p.release(&v, g);
        }
        assert_eq!(p.free_count(), 256 - 4 - 16);
    }

    #[test]
    fn fifo_runs_in_order_and_everything_finishes() {
        let v = view("fat-tree:gpus=64");
        let jobs = vec![job(0, 0.0, 64, 100.0), job(1, 1.0, 8, 10.0), job(2, 2.0, 64, 5.0)];
        let opts = Options {
            failures_per_gpu_hour: Some(0.0),
            ..Options::default()
        };
        let o = simulate(&v, &jobs, &opts, &FailureModel::none());
        assert_eq!(o.jobs[1].first_start_s, 100.0);
        assert_eq!(o.jobs[2].first_start_s, 110.0);
        assert_eq!(o.makespan_s, 115.0);
        assert!((o.busy_gpu_s - (64.0 * 100.0 + 8.0 * 10.0 + 64.0 * 5.0)).abs() < 1e-6);
    }
}

//! The request-level event loop: arrivals and sessions, routing, continuous batching with
//! chunked prefill, paged KV blocks with recompute preemption, a prefix cache per attention rank
//! in HBM with tiers below it (host DRAM, pooled memory, SSD), and the KV hand-off of disaggregated serving.
//!
//! Events are ordered by `(time, sequence)`; every choice (routing, ranks, eviction) breaks ties
//! by index, so a scenario and seed give the same records bit for bit.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::cost::{RankLoad, RoleCost, StepCost};
use super::requests::{Generator, RequestSpec};
use super::{Layout, Role, ServeScenario};

/// Simulated time after the window's end for requests in flight to finish, as a multiple of the
/// window (requests still running then count as unfinished and miss their SLO).
pub const DRAIN_FACTOR: f64 = 1.0;

/// What happened to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub session: u64,
    pub turn: u32,
    pub arrival_s: f64,
    /// NaN while unfinished.
    pub first_token_s: f64,
    pub end_s: f64,
    pub input: u32,
    pub output: u32,
    /// Prompt tokens served from a cache (not computed).
    pub cached: u32,
    /// Prompt tokens that an earlier request could have left in a cache.
    pub cacheable: u32,
    /// Of `cached`, tokens fetched from a tier below HBM.
    pub fetched: u32,
    pub preemptions: u32,
    /// Seconds of KV transfer from prefill to decode (disaggregated).
    pub kv_transfer_s: f64,
}

impl Record {
    pub fn finished(&self) -> bool {
        self.end_s.is_finite()
    }

    pub fn ttft_s(&self) -> f64 {
        self.first_token_s - self.arrival_s
    }

    /// Mean time per output token after the first.
    pub fn tpot_s(&self) -> f64 {
        if self.output > 1 {
            (self.end_s - self.first_token_s) / (self.output - 1) as f64
        } else {
            0.0
        }
    }
}

/// Per-role counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleStats {
    pub steps: u64,
    pub busy_s: f64,
    pub cost: StepCost,
    /// Sum over steps of decode requests and of tokens.
    pub decode_reqs: u64,
    pub tokens: u64,
    /// Time integral of KV blocks in use (all ranks) and the peak fraction.
    pub kv_used_block_s: f64,
    pub kv_peak_fraction: f64,
    /// Input tokens prefilled (computed) and taken from cache, output tokens, inside the window.
    pub window_prefill_tokens: f64,
    pub window_cached_tokens: f64,
    pub window_output_tokens: f64,
    pub preemptions: u64,
}

/// The simulation's output.
#[derive(Debug, Clone)]
pub struct SimOut {
    pub records: Vec<Record>,
    pub roles: Vec<RoleStats>,
    /// [start, end] of the measurement window.
    pub window: (f64, f64),
    /// Time the last event was handled.
    pub end_s: f64,
    /// ∫ (requests in the system) dt over the window, for Little's law.
    pub in_system_integral: f64,
    pub kv_transfer_bytes: f64,
    pub demotions_below_hbm: u64,
    pub events: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Queued,
    Prefill,
    Transfer,
    Decode,
    Done,
}

#[derive(Debug, Clone)]
struct Req {
    spec: RequestSpec,
    session: usize,
    rec: usize,
    phase: Phase,
    role: usize,
    inst: usize,
    rank: usize,
    /// Tokens that must be in the KV cache before decoding (prompt + regenerated output).
    target: u32,
    done: u32,
    generated: f64,
    blocks: u64,
    /// Shared-prefix tokens that live in the rank's pinned blocks, not in `blocks`.
    pinned: u32,
    ready_at: f64,
    /// Tokens fetched from a tier below HBM, counted as cached at admission.
    fetched: u32,
    admitted_seq: u64,
    /// Most prompt tokens ever prefilled (cached ones included), for counting input once.
    prompt_high: u32,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    session: usize,
    tokens: u32,
    blocks: u64,
    last_use: f64,
}

#[derive(Debug, Clone, Default)]
struct Rank {
    running: Vec<usize>,
    used_blocks: u64,
    /// Finished sessions' contexts kept in HBM (evictable, LRU).
    hbm: Vec<CacheEntry>,
    cached_blocks: u64,
    /// Shared system prompt computed on this rank (blocks pinned).
    shared_blocks: u64,
    shared_tokens: u32,
    /// Contexts demoted to the tiers below HBM (host DRAM, pooled memory, SSD: the role's
    /// `tiers` in order), each with the bytes it holds per GPU.
    tiers: Vec<(Vec<CacheEntry>, f64)>,
    /// When the rank's outgoing KV transfers (disaggregated prefill) are done.
    egress_free_s: f64,
    /// When the rank's fetches from the tiers below HBM are done.
    fetch_free_s: f64,
}

#[derive(Debug, Clone, Default)]
struct Inst {
    busy: bool,
    queue: VecDeque<usize>,
    ranks: Vec<Rank>,
    /// (request, prefill chunk or 0 for decode) of the step in flight.
    work: Vec<(usize, u32)>,
}

#[derive(Debug, Clone)]
struct SessionState {
    id: u64,
    turns: Vec<RequestSpec>,
    next: usize,
    /// (instance, rank) where the last turn ran (prefix-cache affinity).
    home: Option<(usize, usize, usize)>,
    user: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    NextSession,
    Arrive(usize, usize),
    Ready(usize),
    TransferDone(usize),
    StepDone(usize, usize),
}

struct Sim<'a> {
    s: &'a ServeScenario,
    roles: &'a [RoleCost],
    kv_send: Option<&'a dyn Fn(f64) -> f64>,
    gen: Generator,
    now: f64,
    seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    insts: Vec<Vec<Inst>>,
    reqs: Vec<Req>,
    sessions: Vec<SessionState>,
    pending: Option<super::requests::Session>,
    out: SimOut,
    in_system: u64,
    last_t: f64,
    admit_seq: u64,
    page: u32,
    decode_role: Option<usize>,
    entry_role: usize,
    prefill_only: bool,
    decode_only: bool,
}

fn t_key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

fn blocks_for(tokens: u64, page: u32) -> u64 {
    tokens.div_ceil(page as u64)
}

/// Run the event loop.
pub fn run<'a>(
    s: &'a ServeScenario,
    roles: &'a [RoleCost],
    gen: &Generator,
    kv_send: Option<&'a dyn Fn(f64) -> f64>,
) -> Result<SimOut, String> {
    let insts = roles
        .iter()
        .map(|r| {
            (0..r.spec.instances)
                .map(|_| Inst {
                    ranks: vec![Rank::default(); r.spec.dp_attn as usize],
                    ..Inst::default()
                })
                .collect()
        })
        .collect();
    let decode_role = roles.iter().position(|r| r.role == Role::Decode);
    let mut sim = Sim {
        s,
        roles,
        kv_send,
        gen: gen.clone(),
        now: 0.0,
        seq: 0,
        heap: BinaryHeap::new(),
        insts,
        reqs: Vec::new(),
        sessions: Vec::new(),
        pending: None,
        out: SimOut {
            records: Vec::new(),
            roles: vec![RoleStats::default(); roles.len()],
            window: (s.warmup_s, s.duration_s),
            end_s: 0.0,
            in_system_integral: 0.0,
            kv_transfer_bytes: 0.0,
            demotions_below_hbm: 0,
            events: 0,
        },
        in_system: 0,
        last_t: 0.0,
        admit_seq: 0,
        page: s.features.page_tokens.max(1),
        decode_role,
        entry_role: 0,
        prefill_only: matches!(s.layout, Layout::PrefillOnly { .. }),
        decode_only: matches!(s.layout, Layout::DecodeOnly { .. }),
    };
    sim.start()?;
    let stop = s.duration_s * (1.0 + DRAIN_FACTOR);
    while let Some(Reverse((tk, _, ev))) = sim.heap.pop() {
        let t = f64::from_bits(tk);
        if t > stop {
            break;
        }
        sim.advance(t);
        sim.out.events += 1;
        sim.handle(ev)?;
    }
    let end = sim.now;
    sim.advance(end);
    sim.out.end_s = end;
    Ok(sim.out)
}

impl<'a> Sim<'a> {
    fn push(&mut self, t: f64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t_key(t), self.seq, ev)));
    }

    /// Move the clock, integrating requests in the system over the window.
    fn advance(&mut self, t: f64) {
        let (w0, w1) = self.out.window;
        let a = self.last_t.max(w0);
        let b = t.min(w1);
        if b > a {
            self.out.in_system_integral += self.in_system as f64 * (b - a);
        }
        self.last_t = t;
        self.now = t;
    }

    fn start(&mut self) -> Result<(), String> {
        match self.gen.users() {
            Some(users) => {
                for _ in 0..users {
                    self.start_session(true)?;
                }
            }
            None => {
                self.pending = self.gen.next_session();
                if let Some(p) = &self.pending {
                    let t = p.arrival_s.unwrap_or(0.0);
                    self.push(t, Ev::NextSession);
                }
            }
        }
        Ok(())
    }

    /// Begin a session now (closed loop) or at its arrival (open loop).
    fn start_session(&mut self, user: bool) -> Result<(), String> {
        let sess = if user {
            if self.now > self.s.duration_s {
                return Ok(());
            }
            match self.gen.next_session() {
                Some(s) => s,
                None => return Ok(()),
            }
        } else {
            match self.pending.take() {
                Some(s) => s,
                None => return Ok(()),
            }
        };
        if self.reqs.len() >= super::MAX_REQUESTS {
            return Err(format!(
                "more than {} requests in the window: shorten --duration or lower the load",
                super::MAX_REQUESTS
            ));
        }
        let idx = self.sessions.len();
        self.sessions.push(SessionState {
            id: sess.id,
            turns: sess.turns,
            next: 0,
            home: None,
            user,
        });
        let t = self.now;
        self.release_turn(idx, t);
        Ok(())
    }

    fn release_turn(&mut self, session: usize, t: f64) {
        let st = &mut self.sessions[session];
        let turn = st.next;
        if turn >= st.turns.len() {
            return;
        }
        st.next += 1;
        let spec = st.turns[turn].clone();
        let id = st.id;
        let rec = self.out.records.len();
        self.out.records.push(Record {
            session: id,
            turn: turn as u32,
            arrival_s: t,
            first_token_s: f64::NAN,
            end_s: f64::NAN,
            input: spec.input,
            output: spec.output,
            cached: 0,
            cacheable: spec.prefix,
            fetched: 0,
            preemptions: 0,
            kv_transfer_s: 0.0,
        });
        let r = self.reqs.len();
        self.reqs.push(Req {
            target: spec.input,
            spec,
            session,
            rec,
            phase: Phase::Queued,
            role: 0,
            inst: 0,
            rank: 0,
            done: 0,
            generated: 0.0,
            blocks: 0,
            pinned: 0,
            ready_at: t,
            fetched: 0,
            admitted_seq: 0,
            prompt_high: 0,
        });
        self.push(t, Ev::Arrive(r, session));
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        match ev {
            Ev::NextSession => {
                self.start_session(false)?;
                self.pending = self.gen.next_session();
                if let Some(p) = &self.pending {
                    let t = p.arrival_s.unwrap_or(self.now).max(self.now);
                    self.push(t, Ev::NextSession);
                }
            }
            Ev::Arrive(r, _) => {
                self.in_system += 1;
                if self.decode_only {
                    let role = self.decode_role.expect("decode role");
                    let inst = self.least_loaded(role);
                    let q = &mut self.reqs[r];
                    q.role = role;
                    q.inst = inst;
                    q.done = q.spec.input;
                    q.target = q.spec.input;
                    self.insts[role][inst].queue.push_back(r);
                    self.try_step(role, inst);
                } else {
                    let role = self.entry_role;
                    let home = self.sessions[self.reqs[r].session].home;
                    let inst = match home {
                        Some((hr, hi, _)) if hr == role && self.reqs[r].spec.prefix > 0 => hi,
                        _ => self.least_loaded(role),
                    };
                    self.reqs[r].role = role;
                    self.reqs[r].inst = inst;
                    self.fetch_from_host(r);
                    self.insts[role][inst].queue.push_back(r);
                    let ready = self.reqs[r].ready_at;
                    if ready > self.now {
                        self.push(ready, Ev::Ready(r));
                    } else {
                        self.try_step(role, inst);
                    }
                }
            }
            Ev::Ready(r) => {
                let (role, inst) = (self.reqs[r].role, self.reqs[r].inst);
                self.try_step(role, inst);
            }
            Ev::TransferDone(r) => {
                let rec = self.reqs[r].rec;
                if self.out.records[rec].first_token_s.is_nan() {
                    self.out.records[rec].first_token_s = self.now;
                }
                // Free the prefill copy (kept as the session's prefix cache there).
                let (role, inst, rank) = (self.reqs[r].role, self.reqs[r].inst, self.reqs[r].rank);
                self.release_blocks(r, true);
                self.try_step(role, inst);
                let _ = rank;
                let d = self.decode_role.expect("decode role");
                let di = self.least_loaded(d);
                let q = &mut self.reqs[r];
                q.role = d;
                q.inst = di;
                q.phase = Phase::Queued;
                q.target = q.spec.input;
                q.done = q.spec.input;
                q.pinned = 0;
                self.insts[d][di].queue.push_back(r);
                self.try_step(d, di);
            }
            Ev::StepDone(role, inst) => {
                self.step_done(role, inst);
                self.try_step(role, inst);
            }
        }
        Ok(())
    }

    /// Instance of `role` with the fewest requests queued or running (lowest index on ties).
    fn least_loaded(&self, role: usize) -> usize {
        let mut best = 0;
        let mut best_load = usize::MAX;
        for (i, inst) in self.insts[role].iter().enumerate() {
            let load = inst.queue.len() + inst.ranks.iter().map(|r| r.running.len()).sum::<usize>();
            if load < best_load {
                best_load = load;
                best = i;
            }
        }
        best
    }

    /// A session turn whose context was demoted below HBM is fetched back before it can be
    /// scheduled: `ready_at` = now + bytes / the bandwidth of the tier that holds it.
    fn fetch_from_host(&mut self, r: usize) {
        if !self.s.features.prefix_cache {
            return;
        }
        let (role, inst, session) = (self.reqs[r].role, self.reqs[r].inst, self.reqs[r].session);
        let Some((hr, hi, hrank)) = self.sessions[session].home else {
            return;
        };
        if hr != role || hi != inst {
            return;
        }
        let rc = &self.roles[role];
        let rank = &mut self.insts[role][inst].ranks[hrank];
        for (ti, (entries, bytes_held)) in rank.tiers.iter_mut().enumerate() {
            if let Some(pos) = entries.iter().position(|e| e.session == session) {
                let e = entries.remove(pos);
                let bytes = e.tokens as f64 * rc.kv_bytes_per_token_per_gpu;
                *bytes_held -= bytes;
                // Fetches from the rank's tiers share its host link: one at a time.
                let start = self.now.max(rank.fetch_free_s);
                let done = start + bytes / rc.tiers[ti].bandwidth_bytes_per_s_per_accel;
                rank.fetch_free_s = done;
                let q = &mut self.reqs[r];
                q.fetched = e.tokens.min(q.spec.prefix);
                q.ready_at = done;
                q.rank = hrank;
                return;
            }
        }
    }

    /// Put an entry evicted from tier `ti − 1` (or HBM for 0) into tier `ti`, pushing that
    /// tier's oldest entries further down when it is full; entries that fit nowhere are dropped.
    fn demote(&mut self, role: usize, inst: usize, rank: usize, ti: usize, e: CacheEntry) {
        let rc = &self.roles[role];
        let Some(tier) = rc.tiers.get(ti) else { return };
        let per_token = rc.kv_bytes_per_token_per_gpu;
        let bytes = e.tokens as f64 * per_token;
        let cap = tier.capacity_bytes_per_accel;
        if bytes > cap {
            return self.demote(role, inst, rank, ti + 1, e);
        }
        let ntiers = rc.tiers.len();
        let rk = &mut self.insts[role][inst].ranks[rank];
        if rk.tiers.len() < ntiers {
            rk.tiers.resize(ntiers, (Vec::new(), 0.0));
        }
        let mut pushed_down = Vec::new();
        {
            let (entries, held) = &mut rk.tiers[ti];
            while *held + bytes > cap && !entries.is_empty() {
                let old = entries.remove(0);
                *held -= old.tokens as f64 * per_token;
                pushed_down.push(old);
            }
            *held += bytes;
            entries.push(e);
        }
        self.out.demotions_below_hbm += 1;
        for old in pushed_down {
            self.demote(role, inst, rank, ti + 1, old);
        }
    }

    fn free_blocks(&self, role: usize, rank: &Rank) -> i64 {
        let cap = blocks_for(self.roles[role].kv_capacity_tokens_per_rank, self.page) as i64;
        cap - rank.used_blocks as i64 - rank.cached_blocks as i64 - rank.shared_blocks as i64
    }

    /// Evict LRU cached contexts of a rank until `need` blocks are free (demoting them to the
    /// host tier when it has room). Returns whether enough is free.
    fn make_room(&mut self, role: usize, inst: usize, rank: usize, need: u64) -> bool {
        loop {
            let free = self.free_blocks(role, &self.insts[role][inst].ranks[rank]);
            if free >= need as i64 {
                return true;
            }
            let rk = &mut self.insts[role][inst].ranks[rank];
            if rk.hbm.is_empty() {
                return false;
            }
            let lru = rk
                .hbm
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.last_use.total_cmp(&b.1.last_use).then(a.0.cmp(&b.0)))
                .map(|(i, _)| i)
                .expect("non-empty");
            let e = rk.hbm.remove(lru);
            rk.cached_blocks -= e.blocks;
            self.demote(role, inst, rank, 0, e);
        }
    }

    /// Release a request's blocks; with `keep`, its context stays cached for its session.
    fn release_blocks(&mut self, r: usize, keep: bool) {
        let (role, inst, rank) = (self.reqs[r].role, self.reqs[r].inst, self.reqs[r].rank);
        let blocks = self.reqs[r].blocks;
        let session = self.reqs[r].session;
        let tokens = (self.reqs[r].spec.input as f64 + self.reqs[r].generated.floor()) as u32;
        let now = self.now;
        let more_turns = self.sessions[session].next < self.sessions[session].turns.len();
        let rk = &mut self.insts[role][inst].ranks[rank];
        rk.used_blocks -= blocks;
        self.reqs[r].blocks = 0;
        if keep && more_turns && self.s.features.prefix_cache {
            rk.cached_blocks += blocks;
            rk.hbm.push(CacheEntry {
                session,
                tokens,
                blocks,
                last_use: now,
            });
            self.sessions[session].home = Some((role, inst, rank));
        }
    }

    /// Ensure request `r` (on its rank) holds blocks for `tokens`; false when the pool is full.
    fn grow(&mut self, r: usize, tokens: u64) -> bool {
        let (role, inst, rank) = (self.reqs[r].role, self.reqs[r].inst, self.reqs[r].rank);
        let own = tokens.saturating_sub(self.reqs[r].pinned as u64);
        let need = blocks_for(own, self.page).saturating_sub(self.reqs[r].blocks);
        if need == 0 {
            return true;
        }
        if !self.make_room(role, inst, rank, need) {
            return false;
        }
        self.insts[role][inst].ranks[rank].used_blocks += need;
        self.reqs[r].blocks += need;
        true
    }

    /// Recompute preemption: the request gives its blocks back and waits at the queue's head;
    /// what it generated is kept and recomputed with the prompt on readmission.
    fn preempt(&mut self, r: usize) {
        let (role, inst, rank) = (self.reqs[r].role, self.reqs[r].inst, self.reqs[r].rank);
        self.release_blocks(r, false);
        let rk = &mut self.insts[role][inst].ranks[rank];
        rk.running.retain(|&x| x != r);
        let q = &mut self.reqs[r];
        q.phase = Phase::Queued;
        q.done = 0;
        q.pinned = 0;
        q.target = q.spec.input + q.generated.floor() as u32;
        // A decode instance cannot recompute: the context comes back from the prefill side as
        // a new hand-off before the request can run again.
        if self.roles[role].role == Role::Decode {
            if let (Some(send), Some(p)) = (self.kv_send, self.roles.iter().find(|x| x.role == Role::Prefill)) {
                let dtp = self.roles[role].spec.tp;
                q.ready_at = self.now + p.kv_transfer_s(send, q.target, dtp);
            }
        }
        self.out.records[q.rec].preemptions += 1;
        self.out.roles[role].preemptions += 1;
        self.insts[role][inst].queue.push_front(r);
        let ready = self.reqs[r].ready_at;
        if ready > self.now {
            self.push(ready, Ev::Ready(r));
        }
    }

    /// Start the next step of an idle instance if it has work.
    fn try_step(&mut self, role: usize, inst: usize) {
        if self.insts[role][inst].busy {
            return;
        }
        let rc = &self.roles[role];
        let per_dec = rc.tokens_per_decode;
        let chunk = rc.spec.chunk_tokens;
        let max_running = rc.spec.max_running as usize;
        let ranks = rc.spec.dp_attn as usize;
        let is_decode = rc.role == Role::Decode;
        let mut loads = vec![RankLoad::default(); ranks];
        let mut work: Vec<(usize, u32)> = Vec::new();
        let mut budgets = vec![chunk as i64; ranks];
        // 1. Running requests: decode first (make room, preempting the newest), then prefills.
        for k in 0..ranks {
            let mut i = 0;
            while i < self.insts[role][inst].ranks[k].running.len() {
                let r = self.insts[role][inst].ranks[k].running[i];
                if self.reqs[r].phase != Phase::Decode {
                    i += 1;
                    continue;
                }
                let ctx = self.reqs[r].spec.input as u64 + self.reqs[r].generated.floor() as u64;
                if self.grow(r, ctx + per_dec as u64) {
                    i += 1;
                    continue;
                }
                // Preempt the newest request of the rank (possibly this one).
                let newest = *self.insts[role][inst].ranks[k]
                    .running
                    .iter()
                    .max_by_key(|&&x| self.reqs[x].admitted_seq)
                    .expect("running");
                self.preempt(newest);
                if newest == r {
                    continue;
                }
                // Start over: the list shrank and this request may fit now.
                i = 0;
            }
            for &r in &self.insts[role][inst].ranks[k].running {
                if self.reqs[r].phase == Phase::Decode {
                    let ctx = self.reqs[r].spec.input as f64 + self.reqs[r].generated.floor();
                    loads[k].decode_reqs += 1;
                    loads[k].decode_ctx_sum += ctx;
                    budgets[k] -= per_dec as i64;
                    work.push((r, 0));
                }
            }
        }
        for k in 0..ranks {
            let running = self.insts[role][inst].ranks[k].running.clone();
            for r in running {
                if self.reqs[r].phase != Phase::Prefill || budgets[k] <= 0 {
                    continue;
                }
                let left = self.reqs[r].target - self.reqs[r].done;
                let c = left.min(budgets[k] as u32);
                if c == 0 {
                    continue;
                }
                // A chunk that finds no blocks preempts the newest prefilling request of the
                // rank (possibly this one), so a pool full of half-prefilled prompts cannot
                // stall the instance.
                let mut fits = self.grow(r, (self.reqs[r].done + c) as u64);
                while !fits {
                    let newest = self.insts[role][inst].ranks[k]
                        .running
                        .iter()
                        .copied()
                        .filter(|&x| self.reqs[x].phase == Phase::Prefill && !work.iter().any(|w| w.0 == x))
                        .max_by_key(|&x| self.reqs[x].admitted_seq);
                    match newest {
                        Some(n) if n != r => {
                            self.preempt(n);
                            fits = self.grow(r, (self.reqs[r].done + c) as u64);
                        }
                        _ => break,
                    }
                }
                if !fits {
                    self.preempt(r);
                    continue;
                }
                loads[k].prefill.push((c, self.reqs[r].done));
                budgets[k] -= c as i64;
                work.push((r, c));
            }
        }
        // 2. Admit queued requests (FIFO; a request not ready or not fitting blocks the ones
        //    behind it on its rank choice, as engines keep arrival order).
        let mut blocked = false;
        while !blocked {
            let Some(&r) = self.insts[role][inst].queue.front() else {
                break;
            };
            if self.reqs[r].ready_at > self.now {
                break;
            }
            // Rank: the session's home rank when its context is cached there, else the rank
            // with the most free blocks among those with room.
            let session = self.reqs[r].session;
            let home_rank = match self.sessions[session].home {
                Some((hr, hi, hk)) if hr == role && hi == inst && !is_decode => Some(hk),
                _ => None,
            };
            let fetched_rank = (self.reqs[r].fetched > 0).then_some(self.reqs[r].rank);
            let candidates: Vec<usize> = match fetched_rank.or(home_rank) {
                Some(k) => vec![k],
                None => (0..ranks).collect(),
            };
            let mut best: Option<(usize, i64)> = None;
            for k in candidates {
                let rk = &self.insts[role][inst].ranks[k];
                if rk.running.len() >= max_running || (!is_decode && budgets[k] <= 0) {
                    continue;
                }
                let free = self.free_blocks(role, rk) + rk.cached_blocks as i64;
                if best.is_none_or(|(_, f)| free > f) {
                    best = Some((k, free));
                }
            }
            let Some((k, _)) = best else { break };
            if !self.admit(role, inst, k, r, &mut budgets[k], &mut loads[k], &mut work) {
                blocked = true;
            }
        }
        if work.is_empty() {
            return;
        }
        let cost = rc.step(&loads);
        let st = &mut self.out.roles[role];
        st.steps += 1;
        st.busy_s += cost.total_s;
        add_cost(&mut st.cost, &cost);
        for l in &loads {
            st.decode_reqs += l.decode_reqs as u64;
            st.tokens += l.tokens(per_dec);
        }
        let cap = blocks_for(rc.kv_capacity_tokens_per_rank, self.page) as f64;
        let used: u64 = self.insts[role][inst]
            .ranks
            .iter()
            .map(|r| r.used_blocks + r.shared_blocks)
            .sum();
        let frac = used as f64 / (cap * ranks as f64);
        st.kv_used_block_s += frac * cost.total_s;
        st.kv_peak_fraction = st.kv_peak_fraction.max(frac);
        let inst_ref = &mut self.insts[role][inst];
        inst_ref.busy = true;
        inst_ref.work = work;
        let t = self.now + cost.total_s.max(1e-9);
        self.push(t, Ev::StepDone(role, inst));
    }

    /// Admit queued request `r` onto rank `k`; false when it cannot start now.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        role: usize,
        inst: usize,
        k: usize,
        r: usize,
        budget: &mut i64,
        load: &mut RankLoad,
        work: &mut Vec<(usize, u32)>,
    ) -> bool {
        let rc = &self.roles[role];
        let per_dec = rc.tokens_per_decode;
        let is_decode = rc.role == Role::Decode;
        self.reqs[r].rank = k;
        if is_decode {
            // KV arrives complete: hold blocks for the context (prompt and the first token, fed
            // back in the first decode step) and the next tokens.
            let ctx = self.reqs[r].spec.input as u64 + self.reqs[r].generated.max(1.0).floor() as u64;
            if !self.grow(r, ctx + per_dec as u64) {
                return false;
            }
            self.insts[role][inst].queue.pop_front();
            self.admit_seq += 1;
            let q = &mut self.reqs[r];
            q.admitted_seq = self.admit_seq;
            q.phase = Phase::Decode;
            if q.generated < 1.0 {
                // Decode-only runs: the prompt was prefilled elsewhere, the first token with it.
                q.generated = 1.0;
                let rec = &mut self.out.records[q.rec];
                if rec.first_token_s.is_nan() {
                    rec.first_token_s = self.now;
                }
            }
            self.insts[role][inst].ranks[k].running.push(r);
            load.decode_reqs += 1;
            load.decode_ctx_sum += ctx as f64;
            *budget -= per_dec as i64;
            work.push((r, 0));
            return true;
        }
        // Prefix hits: the session's context cached on this rank, or the shared prompt.
        let mut cached = 0u32;
        let mut taken: Option<CacheEntry> = None;
        let spec = self.reqs[r].spec.clone();
        if self.s.features.prefix_cache && spec.prefix > 0 && self.reqs[r].target == spec.input {
            if spec.shared_prefix {
                let rk = &self.insts[role][inst].ranks[k];
                if rk.shared_tokens >= spec.prefix {
                    cached = spec.prefix;
                    self.reqs[r].pinned = spec.prefix;
                }
            } else if self.reqs[r].fetched > 0 {
                cached = self.reqs[r].fetched;
            } else {
                let session = self.reqs[r].session;
                let rk = &mut self.insts[role][inst].ranks[k];
                if let Some(pos) = rk.hbm.iter().position(|e| e.session == session) {
                    let e = rk.hbm.remove(pos);
                    rk.cached_blocks -= e.blocks;
                    // The entry's blocks become the request's.
                    rk.used_blocks += e.blocks;
                    self.reqs[r].blocks = e.blocks;
                    cached = e.tokens.min(spec.prefix);
                    taken = Some(e);
                }
            }
        }
        // At least the last prompt token is computed (its logits give the first token).
        let target = self.reqs[r].target;
        cached = cached.min(target.saturating_sub(1));
        self.reqs[r].done = cached;
        self.reqs[r].prompt_high = self.reqs[r].prompt_high.max(cached.min(spec.input));
        let c = (target - cached).min((*budget).max(0) as u32);
        if c == 0 || !self.grow(r, (cached + c) as u64) {
            // Undo: a cached context it took goes back to the cache; nothing else was taken.
            if let Some(e) = taken {
                let rk = &mut self.insts[role][inst].ranks[k];
                rk.used_blocks -= e.blocks;
                rk.cached_blocks += e.blocks;
                rk.hbm.push(e);
                self.reqs[r].blocks = 0;
            } else if self.reqs[r].blocks > 0 {
                self.release_blocks(r, false);
            }
            self.reqs[r].done = 0;
            self.reqs[r].pinned = 0;
            return false;
        }
        self.insts[role][inst].queue.pop_front();
        self.admit_seq += 1;
        let rec = self.reqs[r].rec;
        if self.reqs[r].target == spec.input {
            self.out.records[rec].cached = cached;
            self.out.records[rec].fetched = self.reqs[r].fetched.min(cached);
            if self.now >= self.out.window.0 && self.now <= self.out.window.1 {
                self.out.roles[role].window_cached_tokens += cached as f64;
            }
        }
        let q = &mut self.reqs[r];
        q.admitted_seq = self.admit_seq;
        q.phase = Phase::Prefill;
        self.insts[role][inst].ranks[k].running.push(r);
        load.prefill.push((c, cached));
        *budget -= c as i64;
        work.push((r, c));
        true
    }

    fn step_done(&mut self, role: usize, inst: usize) {
        let work = std::mem::take(&mut self.insts[role][inst].work);
        self.insts[role][inst].busy = false;
        let rc = &self.roles[role];
        let accepted = rc.accepted_per_step;
        let in_window = self.now >= self.out.window.0 && self.now <= self.out.window.1;
        let mut finished = Vec::new();
        for (r, chunk) in work {
            if self.reqs[r].phase == Phase::Queued || self.reqs[r].phase == Phase::Done {
                continue; // preempted meanwhile
            }
            if chunk > 0 {
                let q = &mut self.reqs[r];
                // Input throughput counts each prompt token once: tokens recomputed after a
                // preemption (and regenerated output) are not input.
                let fresh = (q.done + chunk)
                    .min(q.spec.input)
                    .saturating_sub(q.done.max(q.prompt_high));
                q.prompt_high = q.prompt_high.max((q.done + chunk).min(q.spec.input));
                q.done += chunk;
                if in_window {
                    self.out.roles[role].window_prefill_tokens += fresh as f64;
                }
                // The shared prompt, once computed on a rank, stays pinned there.
                if q.spec.shared_prefix && q.pinned == 0 && q.done >= q.spec.prefix {
                    let (k, p) = (q.rank, q.spec.prefix);
                    let rk = &mut self.insts[role][inst].ranks[k];
                    if rk.shared_tokens < p {
                        rk.shared_tokens = p;
                        rk.shared_blocks = blocks_for(p as u64, self.page);
                    }
                }
                if self.reqs[r].done < self.reqs[r].target {
                    continue;
                }
                // Prompt complete: its logits give a token.
                let first = self.reqs[r].generated < 1.0;
                let rec = self.reqs[r].rec;
                if first {
                    self.reqs[r].generated = 1.0;
                    // Disaggregated: the first token reaches the user through the decode
                    // instance, with the KV cache (SGLang PD, Dynamo), so TTFT includes the
                    // transfer; it is stamped when the transfer ends.
                    let handed_off = rc.role == Role::Prefill && !self.prefill_only && self.reqs[r].spec.output > 1;
                    if !handed_off {
                        self.out.records[rec].first_token_s = self.now;
                    }
                    if in_window {
                        self.out.roles[role].window_output_tokens += 1.0;
                    }
                }
                if self.prefill_only || self.reqs[r].generated >= self.reqs[r].spec.output as f64 {
                    finished.push(r);
                } else if rc.role == Role::Prefill {
                    self.begin_transfer(r);
                } else {
                    self.reqs[r].phase = Phase::Decode;
                }
            } else {
                let q = &mut self.reqs[r];
                let before = q.generated;
                q.generated = (q.generated + accepted).min(q.spec.output as f64);
                if in_window {
                    self.out.roles[role].window_output_tokens += q.generated - before;
                }
                if q.generated >= q.spec.output as f64 {
                    finished.push(r);
                }
            }
        }
        for r in finished {
            self.finish(r);
        }
    }

    fn begin_transfer(&mut self, r: usize) {
        let role = self.reqs[r].role;
        let (inst, rank) = (self.reqs[r].inst, self.reqs[r].rank);
        self.insts[role][inst].ranks[rank].running.retain(|&x| x != r);
        self.reqs[r].phase = Phase::Transfer;
        let d = self.decode_role.expect("decode role");
        let dtp = self.roles[d].spec.tp;
        let rc = &self.roles[role];
        let t = match self.kv_send {
            Some(send) => rc.kv_transfer_s(send, self.reqs[r].spec.input, dtp),
            None => 0.0,
        };
        self.out.kv_transfer_bytes += self.reqs[r].spec.input as f64 * rc.kv_bytes_per_token;
        // The rank's network ports carry one hand-off at a time: a transfer starts when the
        // rank's previous one has left (queueing on the sender; the receivers are not modelled).
        let rk = &mut self.insts[role][inst].ranks[rank];
        let start = self.now.max(rk.egress_free_s);
        rk.egress_free_s = start + t;
        let rec = self.reqs[r].rec;
        self.out.records[rec].kv_transfer_s = start + t - self.now;
        self.push(start + t, Ev::TransferDone(r));
    }

    fn finish(&mut self, r: usize) {
        let (role, inst, rank) = (self.reqs[r].role, self.reqs[r].inst, self.reqs[r].rank);
        self.insts[role][inst].ranks[rank].running.retain(|&x| x != r);
        // Decode ranks do not keep contexts: the next turn prefills where its prefix is cached.
        let keep = self.roles[role].role != Role::Decode;
        self.release_blocks(r, keep);
        self.reqs[r].phase = Phase::Done;
        let rec = self.reqs[r].rec;
        self.out.records[rec].end_s = self.now;
        self.in_system -= 1;
        // The session's next turn, after its tool pause; a closed-loop user starts a new
        // session when this one is over.
        let session = self.reqs[r].session;
        let st = &self.sessions[session];
        if st.next < st.turns.len() {
            let next = &st.turns[st.next];
            let t = match next.at_s {
                Some(at) => at.max(self.now),
                None => self.now + next.pause_s,
            };
            if t <= self.s.duration_s {
                self.release_turn(session, t);
                // `release_turn` pushed the arrival at `t` directly.
            }
        } else if st.user {
            let _ = self.start_session(true);
        }
    }
}

fn add_cost(a: &mut StepCost, b: &StepCost) {
    a.total_s += b.total_s;
    a.gemm_s += b.gemm_s;
    a.attention_s += b.attention_s;
    a.moe_s += b.moe_s;
    a.other_s += b.other_s;
    a.comm_exposed_s += b.comm_exposed_s;
    a.tp_comm_s += b.tp_comm_s;
    a.ep_comm_s += b.ep_comm_s;
    a.pp_comm_s += b.pp_comm_s;
}

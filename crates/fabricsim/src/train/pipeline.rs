//! Stage 4 of a training step: **the pipeline schedule on the engine**. Run 1F1B (or
//! interleaved 1F1B) with the stage timings; pipeline sends and data-parallel gradient
//! synchronisation are added by hooks, so bubbles and overlap emerge from the schedule.
//!
//! Symmetry: DP replicas run identical work, so by default one pipeline is scheduled with its
//! sends as pre-priced delays; its gradient synchronisation still runs as real transfers of
//! every group of the stage on the fabric when the schedule releases it. `full` runs every
//! replica and every pipeline send as transfers instead (no symmetry shortcut).

use super::comm::CommCosts;
use super::layout::{Layout, Placement};
use super::timing::StageTimings;
use collective::constants::{base_lat, hw_lat, Protocol, NET_CHANNELS};
use collective::plan::Plan;
use engine::{Engine, Fidelity, Task, TaskId};
use fabric::Fabric;
use std::sync::{Arc, Mutex};
use workload::schedule::{self, StageTimes, Timeline};

/// Communication as real flow transfers on the fabric.
struct FabricHooks<'a> {
    f: &'a Fabric,
    /// Routes under the fabric's routing mode.
    router: fabric::Router<'a>,
    lay: &'a Layout,
    p2p_bytes: f64,
    p2p_latency: f64,
    /// Pipeline sends as a fixed (pre-priced) delay instead of transfers.
    p2p_delay: Option<f64>,
    /// The site of each stage (empty on one site) and a send across sites: its pre-priced
    /// delay, and the one-way fibre delay added to its transfer under `full`.
    stage_site: Vec<u32>,
    p2p_cross: f64,
    cross_latency: f64,
    /// Per DP synchronisation: the merged plan of all groups (at the chunk's size), its latency,
    /// and the protocol's payload share.
    dp: Vec<(Plan, f64, f64)>,
    vp: u32,
    /// Where each DP plan's virtual links start in the engine's link list.
    virtual_base: Vec<u32>,
    /// Per DP plan and phase, the indices of its flows whose source sits on each stage (in
    /// flow order): [plan][phase][stage].
    by_stage: Vec<Vec<Vec<Vec<u32>>>>,
    /// The routed flows of (plan, phase, stage), routed before the schedule on all cores
    /// ([`route_all`]), each from a fresh router state as the hook would; the stage's first
    /// chunk takes them.
    routed: std::collections::BTreeMap<(usize, usize, u32), Piece>,
    /// The transfer of (plan, phase, stage)'s first chunk: every chunk of a stage syncs the
    /// same flows with the same bytes, so the later chunks repeat its flows.
    first_chunk: std::collections::BTreeMap<(usize, usize, u32), TaskId>,
    /// Per DP plan, at analytical fidelity on a multi-site fabric, for the pieces across sites
    /// (`Dim::Dcn`): (one stage-chunk's share of the serialisation time of every stage's piece
    /// together, its latency). Those pieces queue on one shared DCI resource instead of each
    /// being priced alone on the whole DCI (alpha-beta has no sharing between tasks).
    dci_fifo: Vec<Option<(f64, f64)>>,
}

/// The engine resource standing for the DCI at analytical fidelity (compute streams are
/// `replica · pp + stage`, far below it).
const DCI_RESOURCE: u32 = u32::MAX - 1;

impl schedule::Hooks for FabricHooks<'_> {
    fn p2p(
        &mut self,
        e: &mut Engine,
        replica: u32,
        from: u32,
        to: u32,
        _backward: bool,
        dep: TaskId,
    ) -> Result<TaskId, String> {
        let cross = !self.stage_site.is_empty() && self.stage_site[from as usize] != self.stage_site[to as usize];
        if let Some(d) = self.p2p_delay {
            let d = if cross { self.p2p_cross } else { d };
            return e
                .add_task(Task::Delay { seconds: d }, &[dep])
                .map_err(|e| e.to_string());
        }
        let (ep, dpo) = (replica % self.lay.ep, replica / self.lay.ep);
        let mut flows = Vec::new();
        self.router.new_phase();
        for tp in 0..self.lay.tp {
            for cp in 0..self.lay.cp {
                let a = self.lay.rank(tp, cp, ep, from, dpo);
                let b = self.lay.rank(tp, cp, ep, to, dpo);
                for (path, bytes) in self
                    .router
                    .route_vec(a, b, 0, fabric::RouteOpts { pxn: true }, self.p2p_bytes)
                    .map_err(|e| e.to_string())?
                {
                    if !path.is_empty() && bytes > 0.0 {
                        flows.push(engine::Flow { path, bytes, weight: 1 });
                    }
                }
            }
        }
        e.add_task(
            Task::Transfer {
                latency: self.p2p_latency + if cross { self.cross_latency } else { 0.0 },
                flows,
            },
            &[dep],
        )
        .map_err(|e| e.to_string())
    }

    fn dp(&mut self, e: &mut Engine, stage: u32, _chunk: u32, deps: &[TaskId]) -> Result<(TaskId, TaskId), String> {
        let mut first: Option<TaskId> = None;
        let mut last: Option<TaskId> = None;
        let mut first_deps: Vec<TaskId> = deps.to_vec();
        if self.dp.is_empty() {
            let id = e
                .add_task(Task::Delay { seconds: 0.0 }, deps)
                .map_err(|e| e.to_string())?;
            return Ok((id, id));
        }
        let fabric_links = self.f.links.len() as u32;
        for (k, (plan, lat, share)) in self.dp.iter().enumerate() {
            if let Some((bw, latency)) = self.dci_fifo[k] {
                let d: Vec<TaskId> = match last {
                    Some(t) => vec![t],
                    None => std::mem::take(&mut first_deps),
                };
                let q = e
                    .add_task(
                        Task::Compute {
                            resource: DCI_RESOURCE,
                            seconds: bw,
                        },
                        &d,
                    )
                    .map_err(|e| e.to_string())?;
                let id = e
                    .add_task(Task::Delay { seconds: latency }, &[q])
                    .map_err(|e| e.to_string())?;
                first.get_or_insert(q);
                last = Some(id);
                continue;
            }
            for (i, ph) in plan.phases.iter().enumerate() {
                let key = (k, i, stage);
                let latency = if i == 0 { *lat } else { 0.0 };
                let d: Vec<TaskId> = match last {
                    Some(t) => vec![t],
                    None => std::mem::take(&mut first_deps),
                };
                // Later chunks of the stage repeat the first chunk's flows
                // (`Engine::add_transfer_like`: the analytical engine prices them once).
                if let Some(&like) = self.first_chunk.get(&key) {
                    let id = e.add_transfer_like(latency, like, &d).map_err(|e| e.to_string())?;
                    first.get_or_insert(id);
                    last = Some(id);
                    continue;
                }
                // Priced beforehand (analytical): every chunk of the stage takes the duration
                // (as `add_transfer_like` would price the first chunk's flows once).
                if let Some(&Piece::Seconds(seconds)) = self.routed.get(&key) {
                    let id = e.add_priced_transfer(latency, seconds, &d).map_err(|e| e.to_string())?;
                    first.get_or_insert(id);
                    last = Some(id);
                    continue;
                }
                let flows = match self.routed.remove(&key) {
                    Some(Piece::Flows(v)) => v,
                    _ => Arc::new({
                        self.router.new_phase();
                        let idx = self.by_stage[k][i]
                            .get(stage as usize)
                            .map_or(&[][..], |v| v.as_slice());
                        route_piece(
                            &mut self.router,
                            ph,
                            idx,
                            self.vp,
                            *share,
                            fabric_links,
                            self.virtual_base[k],
                            None,
                            None,
                        )?
                        .0
                    }),
                };
                let id = e.add_transfer(latency, &flows, &d).map_err(|e| e.to_string())?;
                if self.vp > 1 {
                    self.first_chunk.insert(key, id);
                }
                first.get_or_insert(id);
                last = Some(id);
            }
        }
        match (first, last) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err("empty data-parallel plan".to_string()),
        }
    }
}

/// Route the flows `idx` of phase `ph` (one stage's groups of a DP plan) with `router`, their
/// bytes a chunk's share (`vp` chunks) of the plan's over the protocol's payload share `share`;
/// explicit paths keep their fabric links and move their virtual links to `virtual_base`.
/// The flows go into one compact [`engine::FlowSet`] (no allocation per flow).
///
/// With `pre` (the same phase of the plan the pricing ran, and its routes: [`PrePhase`]), a
/// flow that phase routed alike — same source, destination, channel and PXN, no explicit
/// path, routed with bytes — takes its paths from there instead of the router, with its own
/// bytes set as the router sets them (under spraying an equal share per path): the same flows
/// (`collective::simulate::PlanRoutes`: kept only under ECMP and spraying, where a route reads
/// neither the bytes nor the flows routed before it).
#[allow(clippy::too_many_arguments)]
fn route_piece(
    router: &mut fabric::Router<'_>,
    ph: &collective::plan::Phase,
    idx: &[u32],
    vp: u32,
    share: f64,
    fabric_links: u32,
    virtual_base: u32,
    mut from: Option<&mut Vec<u32>>,
    pre: Option<PrePhase<'_>>,
) -> Result<(engine::FlowSet, usize), String> {
    let mut flows = engine::FlowSet::with_capacity(idx.len(), 4 * idx.len());
    // Flows that took their paths from `pre`.
    let mut taken = 0;
    // A path of the flow at position `at` of `idx`, kept where it is not empty and carries
    // bytes (as `Router::route`'s callers keep them), with `at` recorded in `from`.
    fn push(flows: &mut engine::FlowSet, from: &mut Option<&mut Vec<u32>>, at: u32, path: &[u32], bytes: f64) {
        if !path.is_empty() && bytes > 0.0 {
            flows.push(path, bytes, 1);
            if let Some(v) = from.as_deref_mut() {
                v.push(at);
            }
        }
    }
    let mut moved = Vec::new();
    let fab = router.fabric();
    let spray = router.mode() == fabric::RoutingMode::Spray;
    // The share of each path of a flow of `b` bytes, as `Router::route` computes it.
    let each = |fl: &collective::PlanFlow, b: f64| {
        if spray {
            b / fab.spray_shares(fl.src, fl.dst) as f64
        } else {
            b
        }
    };
    // Where the flow at `fi` takes its paths from `pre` (the same flow there, without an
    // explicit path, routed with bytes on its paths): the share of its bytes each path gets.
    let lent = |pre: &PrePhase<'_>, fi: u32| -> Option<f64> {
        let fl = &ph.flows[fi as usize];
        let r = &pre.phase.flows[fi as usize];
        (fl.path.is_none()
            && r.path.is_none()
            && (r.src, r.dst, r.channel, r.pxn) == (fl.src, fl.dst, fl.channel, fl.pxn)
            && each(r, r.bytes) > 0.0)
            .then(|| each(fl, fl.bytes / vp as f64 / share))
    };
    // The shares of a run of flows taken from `pre` at once (sized for the longest run).
    let mut shares: Vec<f64> = Vec::with_capacity(if pre.is_some() { idx.len() } else { 0 });
    let mut j = 0;
    while j < idx.len() {
        if let Some(pre) = &pre {
            // A run of flows of consecutive indices, each taking its paths from `pre` with
            // bytes on them: their paths are consecutive there too and are appended at once —
            // what pushing each path with its flow's share, in order, gives.
            shares.clear();
            let first = idx[j] as usize;
            while let Some(&fi) = idx.get(j + shares.len()) {
                match lent(pre, fi).filter(|&b| fi as usize == first + shares.len() && b > 0.0) {
                    Some(b) => shares.push(b),
                    None => break,
                }
            }
            if !shares.is_empty() {
                let starts = &pre.starts[first..=first + shares.len()];
                let (qa, qb) = (starts[0] as usize, starts[shares.len()] as usize);
                let mut t = 0;
                flows.extend_from(pre.flows, qa..qb, |q| {
                    while q >= starts[t + 1] as usize {
                        t += 1;
                    }
                    shares[t]
                });
                if let Some(v) = from.as_deref_mut() {
                    for (t, w) in starts.windows(2).enumerate() {
                        v.extend(std::iter::repeat_n((j + t) as u32, (w[1] - w[0]) as usize));
                    }
                }
                taken += shares.len();
                j += shares.len();
                continue;
            }
        }
        let (at, fi) = (j as u32, idx[j]);
        j += 1;
        let fl = &ph.flows[fi as usize];
        let bytes = fl.bytes / vp as f64 / share;
        match &fl.path {
            Some(p) => {
                moved.clear();
                moved.extend(p.iter().map(|&l| {
                    if l < fabric_links {
                        l
                    } else {
                        l - fabric_links + virtual_base
                    }
                }));
                push(&mut flows, &mut from, at, &moved, bytes);
            }
            None => {
                if let Some(pre) = &pre {
                    if lent(pre, fi).is_some() {
                        // Its paths carry no bytes here (those with bytes were taken above).
                        continue;
                    }
                }
                router
                    .route(
                        fl.src,
                        fl.dst,
                        fl.channel as u64,
                        fabric::RouteOpts { pxn: fl.pxn },
                        bytes,
                        &mut |path, b| push(&mut flows, &mut from, at, path, b),
                    )
                    .map_err(|e| e.to_string())?
            }
        }
    }
    Ok((flows, taken))
}

/// A phase of the plan the pricing ran for a data-parallel synchronisation, and its routes
/// (`collective::simulate::PlanRoutes`), for [`route_piece`]: the flows of the phase and,
/// per flow, where its routed flows begin in `flows`.
#[derive(Clone, Copy)]
struct PrePhase<'a> {
    phase: &'a collective::plan::Phase,
    flows: &'a engine::FlowSet,
    starts: &'a [u32],
}

/// The priced plan of a data-parallel synchronisation and its routes, as the pricing kept them
/// (`comm::Memo`), for the schedule's pieces of the same flows.
pub type PreRouted = Option<(Arc<Plan>, Arc<collective::simulate::PlanRoutes>)>;

/// Phase `i` of `pre` where it can serve phase `ph` of the schedule's plan (the same number of
/// flows; each flow is still checked by [`route_piece`]).
fn pre_phase<'a>(pre: &'a PreRouted, i: usize, ph: &collective::plan::Phase) -> Option<PrePhase<'a>> {
    let (plan, routes) = pre.as_ref()?;
    let phase = plan.phases.get(i)?;
    let (flows, starts) = routes.phase(i)?;
    (phase.flows.len() == ph.flows.len() && starts.len() == ph.flows.len() + 1).then_some(PrePhase {
        phase,
        flows,
        starts,
    })
}

/// A DP piece of the schedule: (DP plan, phase, stage).
type PieceKey = (usize, usize, u32);

/// A DP piece made ready before the schedule: its routed flows, or at analytical fidelity the
/// duration an analytical engine gives them (`engine::AnalyticalPricer`; the schedule's engine
/// records no link statistics, so the flows need not be stored on it).
#[derive(Clone)]
enum Piece {
    Flows(Arc<engine::FlowSet>),
    Seconds(f64),
}

impl Piece {
    /// A kept piece for a slot whose signature was divided by `scale` (`normalise_bytes`; 0
    /// or 1: not divided): a duration times it.
    fn scaled(&self, scale: f64) -> Piece {
        match self {
            Piece::Seconds(t) if scale != 0.0 && scale != 1.0 => Piece::Seconds(t * scale),
            p => p.clone(),
        }
    }

    /// The piece to keep for a signature divided by `scale`: a duration over it, where that
    /// division is exact (else nothing is kept).
    fn unscaled(&self, scale: f64) -> Option<Piece> {
        match self {
            Piece::Seconds(t) if scale != 0.0 && scale != 1.0 => {
                let kept = t / scale;
                (kept * scale == *t && (kept == 0.0 || kept.is_normal())).then_some(Piece::Seconds(kept))
            }
            p => Some(p.clone()),
        }
    }
}

/// What routing a piece reads, per flow: endpoints, channel, PXN, bytes (bits). In a
/// *paths* signature the last field is only whether the flow's paths carry bytes (1 or 0):
/// under ECMP and spray a route does not depend on the bytes (`PieceRoutes`).
type RouteSig = Vec<(u32, u32, u32, bool, u64)>;

/// The routed paths of a piece, for a later piece whose flows are the same but for their
/// bytes (another number of virtual stages): the flows as routed, and for each the position of
/// its flow in the piece (to give it that flow's new bytes).
struct Routed {
    flows: engine::FlowSet,
    from: Vec<u32>,
}

/// A piece's place in [`PieceRoutes`] and what the cache held for it: the signature and hash
/// of the piece (priced or routed, bytes included) and its hit; the signature and hash of its
/// paths (bytes left out; under ECMP and spray) and their hit.
#[derive(Default)]
struct CacheSlot {
    piece: Option<(u64, RouteSig)>,
    /// The power of two a priced piece's signature divided its bytes by
    /// ([`normalise_bytes`]; 0 where not divided, read as 1): its duration is the kept one
    /// times it.
    scale: f64,
    hit: Option<Piece>,
    paths: Option<(u64, RouteSig)>,
    routed: Option<Arc<Routed>>,
}

/// Divides the bytes of a priced piece's signature by one power of two — the first flow with
/// bytes brought into [1, 2) — and returns it, where every division is exact and every byte
/// count stays far from the range's ends (else leaves the signature as it is: `None`).
/// Pieces whose bytes differ by a power of two (another number of virtual stages: 1, 2, 4, …)
/// then share one signature and one priced duration.
///
/// CORRECTNESS: the analytical price of a piece (`engine::AnalyticalPricer::price`) is made of
/// products of bytes by integer weights, sums of those, quotients by capacities and maxima.
/// With every byte count `b` replaced by `b · 2ᵏ` every one of them is the old one times `2ᵏ`
/// exactly — rounding to nearest commutes with scaling by a power of two wherever no value
/// leaves the normal range, which the bounds keep far from: byte counts in 2^±200 here, and
/// the caller normalises only where every capacity is in 2^±100 (`caps_in_range`), so every
/// quotient is in 2^±300 and every sum below 2^210 (of at most 2³² terms). The routes do not
/// change either: this is used under ECMP and spraying only, whose routes do not read bytes.
/// So the piece's duration is the normalised piece's times `2ᵏ`, bit for bit.
fn normalise_bytes(sig: &mut RouteSig) -> Option<f64> {
    const LOW: f64 = 1.0 / (1u64 << 50) as f64 / (1u64 << 50) as f64 / (1u64 << 50) as f64 / (1u64 << 50) as f64;
    let first = sig.iter().map(|e| f64::from_bits(e.4)).find(|&b| b > 0.0)?;
    // 2^⌊log2 first⌋, from the exponent bits (a normal `first`: checked below).
    let scale = f64::from_bits(first.to_bits() & 0x7FF0_0000_0000_0000);
    let fits = |b: f64| b == 0.0 || (b.is_normal() && b > LOW && b < 1.0 / LOW);
    if !(fits(first) && fits(scale)) {
        return None;
    }
    // Division by `scale` as a product by its inverse, 2^−k exactly (|k| ≤ 200): both round
    // the same real b · 2^−k once, so the same bits (a multiplication, not a division, a flow).
    let inv = 1.0 / scale;
    let exact = sig.iter().all(|e| {
        let b = f64::from_bits(e.4);
        let n = b * inv;
        fits(b) && fits(n) && n * scale == b
    });
    if !exact {
        return None;
    }
    for e in sig.iter_mut() {
        e.4 = (f64::from_bits(e.4) * inv).to_bits();
    }
    Some(scale)
}

/// What a hash of a [`RouteSig`] indexes in [`PieceRoutes`].
#[derive(Clone, Copy)]
enum SigKind {
    /// A priced piece (analytical fidelity).
    Priced,
    /// A routed piece (flow fidelity).
    Flows,
    /// The paths of a piece, bytes left out.
    Paths,
}

/// A cheap, fixed hash of a [`RouteSig`] and what it indexes: three independent lanes (the
/// endpoints, the channel and PXN, the bytes of each entry), mixed together at the end, so no
/// lane waits on the others' multiplications.
fn sig_hash(sig: &RouteSig, kind: SigKind) -> u64 {
    let mix = |h: u64, v: u64| {
        let h = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ h >> 29
    };
    let mut h = [
        sig.len() as u64 ^ (kind as u64) << 61,
        0x243F_6A88_85A3_08D3,
        0x1319_8A2E_0370_7344,
    ];
    for &(a, b, c, x, bytes) in sig {
        h[0] = mix(h[0], u64::from(a) | u64::from(b) << 32);
        h[1] = mix(h[1], u64::from(c) | u64::from(x) << 32);
        h[2] = mix(h[2], bytes);
    }
    mix(mix(mix(h[0], h[1]), h[2]), sig.len() as u64)
}

/// The paths signature of a piece (`route_all`'s `sig` with `paths`) from its signature with
/// bytes (`sig` without), whose bytes were divided by `scale` (`normalise_bytes`; 0: not):
/// per flow whether each of its paths carries bytes, from the flow's own bytes (`n · scale`,
/// exactly the bytes `normalise_bytes` divided) shared out as `route_piece` shares them.
fn paths_sig(f: &Fabric, sig: &RouteSig, scale: f64) -> RouteSig {
    let spray = f.routing == fabric::RoutingMode::Spray;
    sig.iter()
        .map(|&(src, dst, c, x, bits)| {
            let n = f64::from_bits(bits);
            let bytes = if scale != 0.0 { n * scale } else { n };
            let each = if spray {
                bytes / f.spray_shares(src, dst) as f64
            } else {
                bytes
            };
            (src, dst, c, x, u64::from(each > 0.0))
        })
        .collect()
}

/// The routed DP pieces of earlier schedules on one fabric, by what their routing reads
/// ([`RouteSig`]): a planner's plans that share their data-parallel layout (another
/// micro-batch, recompute or ZeRO stage) sync the same pieces, and a schedule takes their
/// flows (or at analytical fidelity their durations) from here instead of routing them again;
/// plans that differ in virtual stages sync the same flows with other bytes, and take the
/// paths from here (under ECMP and spray, where routes do not read bytes; not adaptive
/// routing). The same flows: a piece is routed from a fresh router state
/// (`Router::new_phase`), so its routes are a function of its signature and the fabric (one
/// cache serves one fabric). Bounded: past [`PieceRoutes::MAX_UNITS`] it starts again empty.
/// Shared between threads.
#[derive(Default)]
pub struct PieceRoutes {
    inner: Mutex<PieceRoutesInner>,
    hits: std::sync::atomic::AtomicU64,
    path_hits: std::sync::atomic::AtomicU64,
    /// Priced pieces taken from here for a piece whose bytes differ by a power of two
    /// (`normalise_bytes`).
    scaled_hits: std::sync::atomic::AtomicU64,
    /// Flows of pieces routed here that took their paths from the pricing's routes
    /// ([`PrePhase`]).
    pre_flows: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct PieceRoutesInner {
    /// Per signature hash: the signature, the piece, and the power of two a priced piece's
    /// signature was divided by (`normalise_bytes`; 0 where not).
    by_hash: std::collections::HashMap<u64, Vec<(RouteSig, Piece, f64)>>,
    paths: std::collections::HashMap<u64, Vec<(RouteSig, Arc<Routed>)>>,
    units: usize,
    /// The capacities of the fabric's links the priced pieces were priced with
    /// ([`PieceRoutes::for_caps`]), and how many times they changed.
    caps: Vec<f64>,
    generation: u64,
}

impl PieceRoutes {
    /// What is kept at most, in 4-byte units: a signature entry 6, a hop 1, a stored flow 5
    /// (its end, bytes, weight and position): 2²⁴, 64 MiB per cache (one cache serves a
    /// search's threads together).
    pub const MAX_UNITS: usize = 1 << 24;

    /// The piece kept for `sig` (hash `h`): with `generation` (`Some` for a priced piece:
    /// [`PieceRoutes::for_caps`]) a priced one of that generation's capacities, without it a
    /// routed one (the kind is checked as well as the hash).
    fn get(&self, h: u64, sig: &RouteSig, generation: Option<u64>) -> Option<(Piece, f64)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation.is_some_and(|g| g != inner.generation) {
            return None;
        }
        let priced = generation.is_some();
        let hit = inner
            .by_hash
            .get(&h)?
            .iter()
            .find(|(s, v, _)| s == sig && matches!(v, Piece::Seconds(_)) == priced)
            .map(|(_, v, scale)| (v.clone(), *scale));
        if hit.is_some() {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        hit
    }

    fn get_paths(&self, h: u64, sig: &RouteSig) -> Option<Arc<Routed>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let hit = inner
            .paths
            .get(&h)?
            .iter()
            .find(|(s, _)| s == sig)
            .map(|(_, v)| v.clone());
        if hit.is_some() {
            self.path_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        hit
    }

    /// Price pieces with `caps` (the fabric's links; the pieces kept use no other) from now
    /// on: a change of capacities drops what is kept (the priced durations read them) and
    /// starts a new generation, which the priced pieces' `get` and `put` name (so a thread
    /// pricing with other capacities in between is neither served nor kept). Returns it.
    fn for_caps(&self, caps: &[f64]) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.caps.as_slice() != caps {
            let generation = inner.generation + 1;
            *inner = PieceRoutesInner {
                caps: caps.to_vec(),
                generation,
                ..PieceRoutesInner::default()
            };
        }
        inner.generation
    }

    /// Pieces taken from here so far (routed or priced).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Flows of the pieces routed so far that took their paths from the pricing's routes of
    /// the same plan ([`run_cached`]'s `pre`) instead of the router.
    pub fn pre_flows(&self) -> u64 {
        self.pre_flows.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Pieces whose paths were taken from here so far (their bytes their own).
    pub fn path_hits(&self) -> u64 {
        self.path_hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Priced pieces taken from here so far for pieces whose bytes differ from the kept one's by
    /// a power of two (another number of virtual stages), their duration scaled.
    pub fn scaled_hits(&self) -> u64 {
        self.scaled_hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Room for `size` more units (emptied when there is none).
    fn make_room(inner: &mut PieceRoutesInner, size: usize) {
        if inner.units + size > Self::MAX_UNITS {
            let caps = std::mem::take(&mut inner.caps);
            *inner = PieceRoutesInner {
                caps,
                generation: inner.generation,
                ..PieceRoutesInner::default()
            };
        }
        inner.units += size;
    }

    /// Keep `piece` for `sig` (hash `h`; a priced one only within generation `generation`),
    /// unless it is kept already (another thread's same piece).
    fn put(&self, h: u64, sig: RouteSig, piece: Piece, generation: Option<u64>, scale: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let priced = matches!(piece, Piece::Seconds(_));
        if generation.is_some_and(|g| g != inner.generation)
            || inner.by_hash.get(&h).is_some_and(|v| {
                v.iter()
                    .any(|(s, p, _)| *s == sig && matches!(p, Piece::Seconds(_)) == priced)
            })
        {
            return;
        }
        // A priced piece keeps its signature only.
        let size = 6 * sig.len()
            + match &piece {
                Piece::Flows(v) => v.hops() + 5 * v.len(),
                Piece::Seconds(_) => 0,
            };
        Self::make_room(&mut inner, size);
        inner.by_hash.entry(h).or_default().push((sig, piece, scale));
    }

    /// Keep a piece's paths for its paths signature `sig` (hash `h`), unless kept already.
    fn put_paths(&self, h: u64, sig: RouteSig, routed: Arc<Routed>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.paths.get(&h).is_some_and(|v| v.iter().any(|(s, _)| *s == sig)) {
            return;
        }
        let size = 6 * sig.len() + routed.flows.hops() + 5 * routed.flows.len();
        Self::make_room(&mut inner, size);
        inner.paths.entry(h).or_default().push((sig, routed));
    }
}

/// The flows of `routed` (a piece's paths) with the bytes of the flows `idx` of `ph` at `vp`
/// chunks and payload share `share`, computed as [`route_piece`] and the router compute them
/// (a spray route splits a flow into equal shares).
fn with_bytes(
    f: &Fabric,
    routed: &Routed,
    ph: &collective::plan::Phase,
    idx: &[u32],
    vp: u32,
    share: f64,
) -> engine::FlowSet {
    let spray = f.routing == fabric::RoutingMode::Spray;
    let mut flows = routed.flows.clone();
    for (b, &j) in flows.bytes_mut().iter_mut().zip(&routed.from) {
        let fl = &ph.flows[idx[j as usize] as usize];
        let bytes = fl.bytes / vp as f64 / share;
        *b = if spray {
            bytes / f.spray_shares(fl.src, fl.dst) as f64
        } else {
            bytes
        };
    }
    flows
}

/// Route every (DP plan, phase, stage) piece the schedule's DP hook will add, before the
/// schedule, each from a fresh router state as the hook would (so the same routes), on all
/// cores; a piece whose flows to route are the same as an earlier piece's of the same stage
/// (the in-site reduce-scatter and all-gather of a multi-site step lower to the same ring
/// flows) reuses its routes. A piece that fails to route
/// is left out, for the hook to route (and report) in its turn.
#[allow(clippy::too_many_arguments)]
fn route_all(
    f: &Fabric,
    dp: &[(Plan, f64, f64)],
    by_stage: &[Vec<Vec<Vec<u32>>>],
    skip: &[bool],
    stages: u32,
    vp: u32,
    virtual_base: &[u32],
    cache: Option<&PieceRoutes>,
    price: Option<&[f64]>,
    pre: &[PreRouted],
) -> std::collections::BTreeMap<(usize, usize, u32), Piece> {
    use rayon::prelude::*;
    let fabric_links = f.links.len() as u32;
    // The generation of the capacities priced pieces are kept for (none at flow fidelity,
    // where pieces are routed flows, which do not read capacities).
    let generation = match (cache, price) {
        (Some(c), Some(caps)) => Some(c.for_caps(&caps[..(fabric_links as usize).min(caps.len())])),
        _ => None,
    };
    // Routes that do not read bytes (`RoutingMode::Adaptive` places flows by the load so far).
    let bytes_free = f.routing != fabric::RoutingMode::Adaptive;
    // Priced pieces are kept under bytes normalised by a power of two (`normalise_bytes`) only
    // where every capacity they are priced with is in 2^±100 (real fabrics: 10⁶–10¹⁴ bytes/s),
    // which keeps every quantity of a price in the normal range.
    let caps_in_range = price.is_some_and(|caps| {
        let (lo, hi) = (2f64.powi(-100), 2f64.powi(100));
        caps.iter().all(|&c| c > lo && c < hi)
    });
    // What routing a piece reads: per flow its endpoints, channel, PXN and bytes (its paths
    // signature, `paths_sig`, from that); explicit paths only through the plan's own
    // virtual-link base, so pieces with one are not shared.
    let sig = |k: usize, i: usize, s: usize| -> Option<RouteSig> {
        let ph = &dp[k].0.phases[i];
        let share = dp[k].2;
        let idx = by_stage[k][i].get(s).map_or(&[][..], |v| v.as_slice());
        // Sized once (a collect into `Option<Vec<_>>` cannot know its length and grows).
        let mut out = Vec::with_capacity(idx.len());
        for &fi in idx {
            let fl = &ph.flows[fi as usize];
            if fl.path.is_some() {
                return None;
            }
            let bytes = fl.bytes / vp as f64 / share;
            out.push((fl.src, fl.dst, fl.channel, fl.pxn, bytes.to_bits()));
        }
        Some(out)
    };
    let kind = if price.is_some() {
        SigKind::Priced
    } else {
        SigKind::Flows
    };
    // (key, the earlier key it copies).
    let mut keys: Vec<(PieceKey, Option<PieceKey>)> = Vec::new();
    // Per key: its signatures and hashes where the cache may hold or keep it, and what it holds.
    let mut cached: Vec<CacheSlot> = Vec::new();
    for s in 0..stages as usize {
        // The earlier pieces of the stage with a signature: with a cache, their slots (whose
        // normalised signature and scale they are compared by: equal exactly where the
        // signatures are, `normalise_bytes` being exact and a function of the signature);
        // without one, their signatures.
        let mut seen: Vec<(PieceKey, usize)> = Vec::new();
        let mut seen_sigs: Vec<(PieceKey, RouteSig)> = Vec::new();
        for (k, (plan, _, _)) in dp.iter().enumerate() {
            if skip[k] {
                continue;
            }
            for i in 0..plan.phases.len() {
                let key = (k, i, s as u32);
                let g = sig(k, i, s);
                let mut slot = CacheSlot::default();
                let same = match (cache, g) {
                    (Some(c), Some(mut g)) if !g.is_empty() => {
                        if matches!(kind, SigKind::Priced) && bytes_free && caps_in_range {
                            slot.scale = normalise_bytes(&mut g).unwrap_or(0.0);
                        }
                        let same = seen
                            .iter()
                            .find(|&&(_, at)| {
                                let o = &cached[at];
                                o.scale == slot.scale && o.piece.as_ref().is_some_and(|(_, og)| *og == g)
                            })
                            .map(|&(key, _)| key);
                        if same.is_none() {
                            seen.push((key, cached.len()));
                            let h = sig_hash(&g, kind);
                            slot.hit = c.get(h, &g, generation).map(|(piece, kept_scale)| {
                                // Kept for bytes another power of two apart (another VP).
                                if kept_scale != slot.scale {
                                    c.scaled_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                                piece
                            });
                            // Paths are kept only for pieces the pricing's routes do not serve:
                            // `route_piece` copies the same paths from those (and a search's
                            // later steps of the same plan get them again: `Memo::past_routes`).
                            let served = pre
                                .get(k)
                                .is_some_and(|p| pre_phase(p, i, &dp[k].0.phases[i]).is_some());
                            if slot.hit.is_none() && bytes_free && !served {
                                let pg = paths_sig(f, &g, slot.scale);
                                let ph = sig_hash(&pg, SigKind::Paths);
                                slot.routed = c.get_paths(ph, &pg);
                                slot.paths = Some((ph, pg));
                            }
                            slot.piece = Some((h, g));
                        }
                        same
                    }
                    (Some(_), _) => None,
                    (None, g) => g.and_then(|g| {
                        let hit = seen_sigs
                            .iter()
                            .find(|(_, h)| !h.is_empty() && *h == g)
                            .map(|(key, _)| *key);
                        if hit.is_none() {
                            seen_sigs.push((key, g));
                        }
                        hit
                    }),
                };
                keys.push((key, same));
                cached.push(slot);
            }
        }
    }
    let routed: Vec<(Option<Piece>, Option<Arc<Routed>>)> = keys
        .par_iter()
        .zip(cached.par_iter())
        .map_init(
            || (fabric::Router::new(f), price.map(engine::AnalyticalPricer::new)),
            |(router, pricer), (&((k, i, s), same), slot)| {
                if same.is_some() {
                    return (None, None);
                }
                if let Some(v) = &slot.hit {
                    return (Some(v.scaled(slot.scale)), None);
                }
                let idx = by_stage[k][i].get(s as usize).map_or(&[][..], |v| v.as_slice());
                let ph = &dp[k].0.phases[i];
                // A piece the engine would refuse is left to the hook (which reports it).
                let mut make = |flows: std::borrow::Cow<'_, engine::FlowSet>| match pricer {
                    Some(p) => p.price(&flows).ok().map(Piece::Seconds),
                    None => Some(Piece::Flows(Arc::new(flows.into_owned()))),
                };
                match &slot.routed {
                    Some(r) => (
                        make(std::borrow::Cow::Owned(with_bytes(f, r, ph, idx, vp, dp[k].2))),
                        None,
                    ),
                    None => {
                        router.new_phase();
                        let mut from = slot.paths.is_some().then(|| Vec::with_capacity(idx.len()));
                        let Ok((flows, taken)) = route_piece(
                            router,
                            ph,
                            idx,
                            vp,
                            dp[k].2,
                            fabric_links,
                            virtual_base[k],
                            from.as_mut(),
                            pre.get(k).and_then(|p| pre_phase(p, i, ph)),
                        ) else {
                            return (None, None);
                        };
                        if let (Some(c), true) = (cache, taken > 0) {
                            c.pre_flows
                                .fetch_add(taken as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                        match from {
                            // Kept with the bytes as routed; a later piece sets its own.
                            Some(from) => {
                                let r = Arc::new(Routed { flows, from });
                                (make(std::borrow::Cow::Borrowed(&r.flows)), Some(r))
                            }
                            None => (make(std::borrow::Cow::Owned(flows)), None),
                        }
                    }
                }
            },
        )
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for ((&(key, same), (flows, fresh)), slot) in keys.iter().zip(routed).zip(cached) {
        if let (Some(c), Some((h, g)), Some(r)) = (cache, slot.paths, fresh) {
            c.put_paths(h, g, r);
        }
        let flows = match (flows, same) {
            (Some(v), _) => v,
            (None, Some(src)) => match out.get(&src) {
                Some(v) => Piece::clone(v),
                None => continue,
            },
            (None, None) => continue,
        };
        if let (Some(c), Some((h, g)), None) = (cache, slot.piece, slot.hit) {
            // A priced piece is kept for its normalised signature: its duration over the scale
            // (kept only where that division is exact).
            if let Some(kept) = flows.unscaled(slot.scale) {
                c.put(h, g, kept, generation, slot.scale);
            }
        }
        out.insert(key, flows);
    }
    out
}

/// Run the step's schedule: one pipeline (or every replica with `full`) on an engine whose
/// links are the fabric's plus the virtual links of the DP plans.
pub fn run(
    f: &Fabric,
    pl: &Placement,
    timings: &StageTimings,
    comm: &CommCosts,
    fidelity: Fidelity,
    full: bool,
) -> Result<Timeline, String> {
    run_cached(f, pl, timings, comm, fidelity, full, None, &[])
}

/// [`run`], taking the DP pieces' routes from `routes` where it holds them and keeping the
/// others there, and the paths of their flows from `pre` (per data-parallel synchronisation of
/// `comm.dp`, the plan its pricing ran and its routes; each flow checked) where those hold
/// them (the same timeline).
#[allow(clippy::too_many_arguments)]
pub fn run_cached(
    f: &Fabric,
    pl: &Placement,
    timings: &StageTimings,
    comm: &CommCosts,
    fidelity: Fidelity,
    full: bool,
    routes: Option<&PieceRoutes>,
    pre: &[PreRouted],
) -> Result<Timeline, String> {
    let p = &pl.plan;
    let lay = &pl.layout;
    let st = StageTimes {
        fwd: timings.fwd.clone(),
        bwd: timings.bwd.clone(),
        p2p: comm.p2p,
        dp: vec![vec![comm.dp_total / p.vp as f64; p.vp as usize]; p.pp as usize],
        optimizer: vec![timings.optimizer_s; p.pp as usize],
    };
    let router = fabric::Router::new(f);
    let mut all_caps = pl.caps.clone();
    router.merge_capacities(&mut all_caps);
    let mut dp = Vec::new();
    let mut virtual_base = Vec::new();
    let multi_site = f.site_count() > 1;
    let dci_fifo: Vec<Option<(f64, f64)>> = comm
        .dp
        .iter()
        .map(|sync| {
            (multi_site && fidelity == Fidelity::Analytical && sync.dim == super::layout::Dim::Dcn).then(|| {
                // The priced cost is every stage's piece at once (all groups of the dimension);
                // each (stage, chunk) holds the DCI for its share of that time.
                let bw = (sync.cost.seconds - sync.cost.latency).max(0.0) / (p.pp * p.vp).max(1) as f64;
                (bw, sync.cost.latency)
            })
        })
        .collect();
    // Each synchronisation's merged plan, lowered on all cores (independent; errors in order).
    let plans: Vec<Result<Plan, String>> = {
        use rayon::prelude::*;
        comm.dp
            .par_iter()
            .map(|sync| {
                let algo = sync
                    .cost
                    .algo
                    .ok_or("data-parallel synchronisation without an algorithm")?;
                super::comm::merge_groups(f, &lay.groups(sync.dim), sync.op, sync.bytes, algo, NET_CHANNELS)
            })
            .collect()
    };
    for (sync, plan) in comm.dp.iter().zip(plans) {
        let plan = plan?;
        let proto = sync.cost.protocol.unwrap_or(Protocol::Simple);
        virtual_base.push(all_caps.len() as u32);
        all_caps.extend_from_slice(&plan.virtual_links);
        dp.push((plan, sync.cost.latency, proto.bandwidth_factor()));
    }
    // Each accelerator's stage, found once (two divisions) rather than once per flow; only
    // where there are flows to place (`stage_of` is asked of no rank otherwise, as before).
    let has_flows = dp
        .iter()
        .any(|(plan, _, _)| plan.phases.iter().any(|ph| !ph.flows.is_empty()));
    let stage_of: Vec<u32> = if has_flows {
        (0..f.accel_count() as u32).map(|r| lay.stage_of(r)).collect()
    } else {
        Vec::new()
    };
    let by_stage: Vec<Vec<Vec<Vec<u32>>>> = dp
        .iter()
        .map(|(plan, _, _): &(Plan, f64, f64)| {
            plan.phases
                .iter()
                .map(|ph| {
                    // Sized for an even share of the phase's flows per stage (the usual
                    // layout; a larger share grows as before).
                    let even = ph.flows.len().div_ceil(lay.pp.max(1) as usize);
                    let mut v: Vec<Vec<u32>> = (0..lay.pp).map(|_| Vec::with_capacity(even)).collect();
                    for (fi, fl) in ph.flows.iter().enumerate() {
                        let stage = stage_of
                            .get(fl.src as usize)
                            .copied()
                            .unwrap_or_else(|| lay.stage_of(fl.src));
                        if let Some(b) = v.get_mut(stage as usize) {
                            b.push(fi as u32);
                        }
                    }
                    v
                })
                .collect()
        })
        .collect();
    let skip: Vec<bool> = dci_fifo.iter().map(Option::is_some).collect();
    // At analytical fidelity the pieces are priced as they are routed (the engine's
    // capacities are `all_caps`; a capacity it would refuse leaves them to the hook).
    // (Every capacity finite and positive: the engine's own check, one vectorised pass.)
    let valid_caps = engine::check_capacities(&all_caps).is_ok();
    let price = (fidelity == Fidelity::Analytical && valid_caps).then_some(all_caps.as_slice());
    let routed = route_all(
        f,
        &dp,
        &by_stage,
        &skip,
        lay.pp,
        p.vp,
        &virtual_base,
        routes,
        price,
        pre,
    );
    let mut e = Engine::new(all_caps, fidelity).map_err(|e| e.to_string())?;
    // The schedule reads the timeline only (busiest links come from the priced collectives).
    e.set_link_stats(false);
    let class = super::comm::p2p_link_class(f, pl);
    let p2p_latency = base_lat(false, Protocol::Simple) + hw_lat(class, false, Protocol::Simple);
    let p2p_delay = if full { None } else { Some(comm.p2p) };
    let replicas = if full { p.dp } else { 1 };
    let (stage_site, cross_latency) = match &comm.sites {
        Some(s) if comm.p2p_cross > 0.0 => (super::sites::stage_sites(f, lay), s.dci.one_way_s),
        _ => (Vec::new(), 0.0),
    };
    let mut hooks = FabricHooks {
        f,
        router,
        lay,
        p2p_bytes: comm.p2p_bytes,
        p2p_latency,
        p2p_delay,
        stage_site,
        p2p_cross: comm.p2p_cross,
        cross_latency,
        dp,
        vp: p.vp,
        virtual_base,
        by_stage,
        routed,
        first_chunk: std::collections::BTreeMap::new(),
        dci_fifo,
    };
    schedule::simulate_with(p.pp, p.vp, pl.microbatches, replicas, &st, e, &mut hooks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use collective::{Algo, Op};

    fn fabric(spec: &str, routing: fabric::RoutingMode) -> Fabric {
        let (_, mut f) = crate::cluster::load(crate::cluster::Source::Preset(spec)).expect("cluster");
        f.routing = routing;
        f
    }

    /// A piece routed with the pricing's routes of the same plan (lowered at another size) is
    /// the piece routed by the router, flow for flow (paths, bytes, weights and positions),
    /// under ECMP and spray (also over two ports per GPU, where spray splits a flow, and on a
    /// TPU torus); under adaptive routing no routes are kept.
    #[test]
    fn pieces_from_kept_routes_equal_routed_pieces() {
        let cases = [
            ("fat-tree:gpus=64", fabric::RoutingMode::Ecmp),
            ("fat-tree:gpus=64", fabric::RoutingMode::Spray),
            ("hpn7-pod:hosts=8,segments=1", fabric::RoutingMode::Spray),
            ("hpn7-pod:hosts=8,segments=1", fabric::RoutingMode::Ecmp),
            ("tpu-v5p-pod:slice=4x4x4", fabric::RoutingMode::Ecmp),
            ("fat-tree:gpus=64", fabric::RoutingMode::Adaptive),
        ];
        let mut taken_all = 0;
        for (spec, routing) in cases {
            let f = fabric(spec, routing);
            let caps = collective::simulate::effective_capacities(&f);
            let n = f.accel_count() as u32;
            let links = f.links.len() as u32;
            // Data-parallel groups across nodes: stride 8 (and a group of one odd shape).
            let mut groups: Vec<Vec<u32>> = (0..8).map(|r| (r..n).step_by(8).collect()).collect();
            groups.push(vec![n - 1, 3, n / 2 + 5]);
            for algo in [Algo::Ring, Algo::Tree, Algo::Hierarchical] {
                for op in [Op::AllReduce, Op::ReduceScatter, Op::AllGather] {
                    let Ok(priced) =
                        crate::train::comm::merge_groups(&f, &groups, op, collective::simulate::REF_SIZE, algo, 2)
                    else {
                        continue;
                    };
                    let (_, routes) =
                        collective::simulate::run_plan_routes(&f, &caps, &priced, engine::Fidelity::Analytical, true)
                            .expect("run");
                    if routing == fabric::RoutingMode::Adaptive {
                        assert!(routes.is_none(), "adaptive routes read the load");
                        continue;
                    }
                    let pre: PreRouted = Some((Arc::new(priced), Arc::new(routes.expect("routes"))));
                    // The schedule's plan: the same groups at another size (and a zero-byte one).
                    for size in [3.7e6, 0.0] {
                        let plan = crate::train::comm::merge_groups(&f, &groups, op, size, algo, 2).expect("lower");
                        for (i, ph) in plan.phases.iter().enumerate() {
                            let pp = pre_phase(&pre, i, ph).expect("the same phase");
                            // Flows scattered over the phase (by source), then all of them and a block
                            // (long runs of consecutive flows, taken at once).
                            for stage in 0..5u32 {
                                let n = ph.flows.len() as u32;
                                let idx: Vec<u32> = (0..n)
                                    .filter(|&k| match stage {
                                        0..=2 => ph.flows[k as usize].src % 3 == stage,
                                        3 => true,
                                        _ => k >= n / 3 && k < n - n / 4,
                                    })
                                    .collect();
                                // The piece, its flows' positions and the flows that took kept paths.
                                let piece = |pre: Option<PrePhase<'_>>| {
                                    let mut from = Vec::new();
                                    let (flows, taken) = route_piece(
                                        &mut fabric::Router::new(&f),
                                        ph,
                                        &idx,
                                        2,
                                        0.93,
                                        links,
                                        links + 7,
                                        Some(&mut from),
                                        pre,
                                    )
                                    .expect("piece");
                                    (flows, from, taken)
                                };
                                let (a, from_a, taken) = piece(Some(pp));
                                let (b, from_b, none) = piece(None);
                                assert_eq!(none, 0);
                                assert_eq!(a, b, "{spec} {routing:?} {algo:?} {op:?} size {size} phase {i}");
                                assert_eq!(from_a, from_b);
                                taken_all += taken;
                            }
                        }
                    }
                }
            }
        }
        assert!(taken_all > 0, "no flow took the kept routes");
    }

    use proptest::prelude::*;

    /// The piece of flows `idx` of `ph` routed alone by the router (no kept routes), payload
    /// share 1, virtual links at `base`.
    fn routed_alone(f: &Fabric, ph: &collective::plan::Phase, idx: &[u32], vp: u32, base: u32) -> engine::FlowSet {
        route_piece(&mut fabric::Router::new(f), ph, idx, vp, 1.0, base, base, None, None)
            .expect("piece")
            .0
    }

    /// Pieces of one stage that carry the same flows are priced once (`same`), and pieces whose
    /// bytes are a power of two apart (one normalised signature, another scale) are not taken
    /// for each other: each piece's price is the one it has priced alone, with and without a
    /// cache, with the cache warm or cold.
    #[test]
    fn pieces_of_a_stage_priced_once_each() {
        let f = fabric("fat-tree:gpus=64", fabric::RoutingMode::Ecmp);
        let caps = collective::simulate::effective_capacities(&f);
        let groups: Vec<Vec<u32>> = (0..8).map(|r| (r..64).step_by(8).collect()).collect();
        let ring = |bytes: f64| {
            crate::train::comm::merge_groups(&f, &groups, Op::ReduceScatter, bytes, Algo::Ring, 2).expect("lower")
        };
        // The same flows, twice the bytes, the same bytes again, three times the bytes.
        let dp: Vec<(Plan, f64, f64)> = [1.0e6, 2.0e6, 1.0e6, 3.0e6]
            .iter()
            .map(|&b| (ring(b), 0.0, 1.0))
            .collect();
        let stages = 2u32;
        let by_stage: Vec<Vec<Vec<Vec<u32>>>> = dp
            .iter()
            .map(|(plan, _, _)| {
                plan.phases
                    .iter()
                    .map(|ph| {
                        let mut v = vec![Vec::new(); stages as usize];
                        for (i, fl) in ph.flows.iter().enumerate() {
                            v[(fl.src / 32) as usize].push(i as u32);
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        let skip = vec![false; dp.len()];
        let base = vec![f.links.len() as u32; dp.len()];
        let alone = |k: usize, i: usize, s: u32| {
            let flows = routed_alone(&f, &dp[k].0.phases[i], &by_stage[k][i][s as usize], 1, base[k]);
            engine::AnalyticalPricer::new(&caps).price(&flows).unwrap()
        };
        let cache = PieceRoutes::default();
        for c in [None, Some(&cache), Some(&cache)] {
            let out = route_all(&f, &dp, &by_stage, &skip, stages, 1, &base, c, Some(&caps), &[]);
            assert_eq!(out.len(), dp.len() * stages as usize);
            for (&(k, i, s), piece) in &out {
                let Piece::Seconds(t) = piece else {
                    panic!("a priced piece")
                };
                assert_eq!(t.to_bits(), alone(k, i, s).to_bits(), "piece {k} {i} {s}");
            }
        }
    }

    /// Where the pricing kept no routes, a piece's paths are kept for a later schedule whose
    /// pieces carry the same flows with other bytes (another number of virtual stages, not a
    /// power of two apart): its pieces take them (`path_hits`) and equal routed ones; where the
    /// pricing's routes serve a piece, it keeps none (it copies them from there).
    #[test]
    fn pieces_take_kept_paths_where_no_routes_were_kept() {
        for routing in [fabric::RoutingMode::Ecmp, fabric::RoutingMode::Spray] {
            let f = fabric("fat-tree:gpus=64", routing);
            let groups: Vec<Vec<u32>> = (0..8).map(|r| (r..64).step_by(8).collect()).collect();
            let ring =
                crate::train::comm::merge_groups(&f, &groups, Op::ReduceScatter, 6.0e6, Algo::Ring, 2).expect("lower");
            let dp = vec![(ring, 0.0, 1.0)];
            let stages = 2u32;
            let by_stage: Vec<Vec<Vec<Vec<u32>>>> = vec![dp[0]
                .0
                .phases
                .iter()
                .map(|ph| {
                    let mut v = vec![Vec::new(); stages as usize];
                    for (i, fl) in ph.flows.iter().enumerate() {
                        v[(fl.src / 32) as usize].push(i as u32);
                    }
                    v
                })
                .collect()];
            let (skip, base) = (vec![false], vec![f.links.len() as u32]);
            let routed = |vp: u32, k: usize, i: usize, s: u32| {
                routed_alone(&f, &dp[k].0.phases[i], &by_stage[k][i][s as usize], vp, base[k])
            };
            let cache = PieceRoutes::default();
            for vp in [1, 3] {
                let out = route_all(&f, &dp, &by_stage, &skip, stages, vp, &base, Some(&cache), None, &[]);
                for (&(k, i, s), piece) in &out {
                    let Piece::Flows(got) = piece else {
                        panic!("a routed piece")
                    };
                    assert_eq!(**got, routed(vp, k, i, s), "{routing:?} vp {vp} piece {k} {i} {s}");
                }
            }
            assert!(cache.path_hits() > 0, "{routing:?}: no piece took kept paths");
            // With the pricing's routes for the plan, nothing is kept for paths.
            let caps = collective::simulate::effective_capacities(&f);
            let (_, routes) =
                collective::simulate::run_plan_routes(&f, &caps, &dp[0].0, engine::Fidelity::Analytical, true)
                    .expect("run");
            let pre: Vec<PreRouted> = vec![Some((Arc::new(dp[0].0.clone()), Arc::new(routes.expect("routes"))))];
            let fresh = PieceRoutes::default();
            for vp in [1, 3] {
                let out = route_all(&f, &dp, &by_stage, &skip, stages, vp, &base, Some(&fresh), None, &pre);
                for (&(k, i, s), piece) in &out {
                    let Piece::Flows(got) = piece else {
                        panic!("a routed piece")
                    };
                    assert_eq!(
                        **got,
                        routed(vp, k, i, s),
                        "{routing:?} vp {vp} piece {k} {i} {s}, kept routes"
                    );
                }
            }
            assert_eq!(fresh.path_hits(), 0, "{routing:?}: served pieces keep no paths");
            assert!(fresh.pre_flows() > 0);
        }
    }

    thread_local! {
        /// Fabrics whose flows spray over one or two ports per GPU, or take one ECMP path.
        static SPRAYED: Vec<Fabric> = vec![
            fabric("fat-tree:gpus=64", fabric::RoutingMode::Spray),
            fabric("hpn7-pod:hosts=8,segments=1", fabric::RoutingMode::Spray),
            fabric("fat-tree:gpus=64", fabric::RoutingMode::Ecmp),
        ];
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A piece's paths signature from its signature with bytes, normalised or not
        /// (`paths_sig`), is the one read from its flows' own bytes: per flow whether each of
        /// its paths carries bytes, shared out as `route_piece` shares them (one share a port
        /// under spray) — bytes zero, subnormal, tiny enough to vanish when shared, or large.
        #[test]
        fn paths_signatures_from_priced_ones(fi in 0usize..3, norm in any::<bool>(),
                                             flows in proptest::collection::vec((0u32..64, 0u32..64, 0u32..3, any::<bool>(),
                                                 prop_oneof![Just(0.0f64), Just(5e-324), Just(1e-310), Just(7e-324), 1e-3f64..1e12, Just(3.0e9)]), 1..24)) {
            SPRAYED.with(|fs| {
                let f = &fs[fi];
                let raw: RouteSig = flows.iter().map(|&(a, b, c, x, bytes)| (a, b, c, x, bytes.to_bits())).collect();
                let mut g = raw.clone();
                let scale = if norm { normalise_bytes(&mut g).unwrap_or(0.0) } else { 0.0 };
                let spray = f.routing == fabric::RoutingMode::Spray;
                let want: RouteSig = flows
                    .iter()
                    .map(|&(a, b, c, x, bytes)| {
                        let each = if spray { bytes / f.spray_shares(a, b) as f64 } else { bytes };
                        (a, b, c, x, u64::from(each > 0.0))
                    })
                    .collect();
                prop_assert_eq!(paths_sig(f, &g, scale), want);
                Ok(())
            })?;
        }

        /// Pieces whose bytes differ by a power of two get one normalised signature, and the
        /// duration kept for it, scaled back, is the analytical price of each bit for bit
        /// (`normalise_bytes`'s CORRECTNESS): random paths over links of assorted capacities,
        /// repeated flows (merged by the pricer), zero-byte flows, spray-like splits.
        #[test]
        fn power_of_two_pieces_price_as_the_kept_one(
            flows in proptest::collection::vec(
                (
                    proptest::collection::vec(0u32..12, 1..4),
                    prop_oneof![Just(0.0f64), 1.0f64..1e10, Just(3.0e9)],
                    1u32..3,
                ),
                1..20,
            ),
            caps in proptest::collection::vec(prop_oneof![Just(5.0e10f64), 1.0e9f64..4.0e11], 12),
            shift in -6i32..7,
        ) {
            let k = 2f64.powi(shift);
            let sig_of = |f: f64| -> RouteSig {
                flows.iter().enumerate().map(|(i, (_, b, w))| (i as u32, *w, 0, false, (b * f).to_bits())).collect()
            };
            let price_of = |f: f64| {
                let mut set = engine::FlowSet::new();
                for (p, b, w) in &flows {
                    set.push(p, b * f / 3.0, *w);
                }
                engine::AnalyticalPricer::new(&caps).price(&set).unwrap()
            };
            let (mut a, mut b) = (sig_of(1.0), sig_of(k));
            let (sa, sb) = (normalise_bytes(&mut a), normalise_bytes(&mut b));
            // Where both normalise, they meet at one signature.
            if sa.is_some() && sb.is_some() {
                prop_assert_eq!(&a, &b);
            }
            for ((scale, f), (other, of)) in [((sa, 1.0), (sb, k)), ((sb, k), (sa, 1.0))] {
                let Some(scale) = scale else { continue };
                let t = price_of(f);
                let Some(Piece::Seconds(kept)) = Piece::Seconds(t).unscaled(scale) else {
                    continue; // not kept: nothing to check
                };
                // The kept duration is the normalised piece's price, and scales back exactly.
                prop_assert_eq!(kept.to_bits(), price_of(f / scale).to_bits());
                let Piece::Seconds(back) = Piece::Seconds(kept).scaled(scale) else { unreachable!() };
                prop_assert_eq!(back.to_bits(), t.to_bits());
                // And the other piece's price from it, where its signature meets this one.
                if let Some(os) = other {
                    let Piece::Seconds(o) = Piece::Seconds(kept).scaled(os) else { unreachable!() };
                    prop_assert_eq!(o.to_bits(), price_of(of).to_bits());
                }
            }
        }
    }
}

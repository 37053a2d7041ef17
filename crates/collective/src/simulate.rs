//! Running a lowered collective on the engine. The transfer part of a plan scales exactly with
//! the message size (every flow's bytes are proportional to it and the flow set does not
//! depend on it), so each algorithm is simulated once, at a reference size, and every size of
//! a sweep is priced from that run plus its latency under the best protocol.

use crate::constants::{self, LinkClass, Protocol, ETA_NET};
use crate::plan::{check_group, Plan};
use crate::{
    alltoall, halving_doubling, hierarchical, nvls, p2p, ring, select, torus, tree, Algo, CollectiveError, Op,
};
use engine::{Engine, Fidelity, FlowSet};
use fabric::{Fabric, Net, RouteOpts, Router, RoutingMode};

/// Options of a collective run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub fidelity: Fidelity,
    /// Flows per ring edge that crosses the scale-out network.
    pub channels: u32,
    /// Force a protocol (default: the fastest).
    pub protocol: Option<Protocol>,
    /// In-network reductions selection may use (forcing an algorithm ignores this).
    pub in_network: select::InNetwork,
    /// Whether LL128 may run on algorithms whose steps cross the scale-out network. NCCL
    /// enables LL128 only where the GPU reaches its NIC through a PCIe switch (or PXN): on
    /// Grace-attached NICs (GB200/GB300: GPU → C2C → CPU → PCIe → NIC, path type PHB) NCCL
    /// ≤ 2.26 turns it off, and 2.27 turns it on (the path becomes `PATH_P2C`,
    /// `NCCL_LL128_C2C=1`; NVIDIA/nccl v2.26.2 and v2.27.3 src/graph/tuning.cc, paths.cc).
    /// Default `true` (today's NCCL).
    pub ll128_over_network: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fidelity: Fidelity::Flow,
            channels: constants::NET_CHANNELS,
            protocol: None,
            in_network: select::InNetwork::default(),
            ll128_over_network: true,
        }
    }
}

/// A busy link of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Bottleneck {
    pub link: u32,
    pub name: String,
    /// Bytes carried over (capacity × transfer time).
    pub utilisation: f64,
}

/// The result for one message size.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectiveResult {
    pub op: Op,
    pub algo: Algo,
    pub protocol: Protocol,
    pub ranks: u32,
    pub size_bytes: f64,
    pub time_s: f64,
    pub latency_s: f64,
    pub transfer_s: f64,
    pub algbw_bytes_per_s: f64,
    pub busbw_bytes_per_s: f64,
    pub bottlenecks: Vec<Bottleneck>,
    pub flows: usize,
}

/// (total, latency, transfer, protocol) of one size.
pub type Priced = (f64, f64, f64, Protocol);

/// One algorithm simulated at the reference size.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub algo: Algo,
    /// Transfer time at `REF_SIZE` bytes.
    pub transfer_ref_s: f64,
    /// Latency per protocol (`None` where the protocol is not used by the algorithm).
    pub latency: [Option<f64>; 3],
    pub bottlenecks: Vec<Bottleneck>,
    pub flows: usize,
    /// Latency steps of the plan and the bytes each rank sends at `REF_SIZE`, for the pipeline
    /// fill term (`None` for algorithms that are not step-pipelined, like NVLS).
    pub pipeline: Option<(u32, f64)>,
    /// Least seconds per byte of message under LL (NCCL's `llMaxBw` bus-bandwidth cap, see
    /// [`constants::ll_max_busbw`]); 0 where no cap applies.
    pub ll_s_per_byte: f64,
    /// NVLS plans: ranks per NVLink domain (NVLS heads), for the pipeline fill
    /// ([`constants::nvls_fill_bytes`]).
    pub nvls_heads: Option<u32>,
}

/// Reference size of the single simulation per algorithm (1 GiB).
pub const REF_SIZE: f64 = 1073741824.0;

/// Lower `op` with `algo`.
pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64, algo: Algo, channels: u32) -> Result<Plan, CollectiveError> {
    match algo {
        Algo::Ring => ring::lower(f, ranks, op, size, channels),
        Algo::Tree => tree::lower(f, ranks, op, size, channels),
        Algo::Nvls => nvls::lower(f, ranks, op, size, channels),
        Algo::CollNet => hierarchical::lower(f, ranks, op, size, channels, true),
        Algo::Hierarchical => hierarchical::lower(f, ranks, op, size, channels, false),
        Algo::HalvingDoubling => halving_doubling::lower(f, ranks, op, size),
        Algo::Direct => alltoall::direct(f, ranks, op, size),
        Algo::Pairwise => alltoall::pairwise(f, ranks, op, size),
        Algo::Torus => torus::lower(f, ranks, op, size),
        Algo::P2p => p2p::lower(f, ranks, op, size),
    }
}

/// The rank shift `d` with which [`lower`] of `to` is [`lower`] of `from` with every flow's
/// endpoints moved by `d` ([`Plan::translated`]), for the algorithms where that holds by
/// construction; `None` where it is not shown (then lower `to` itself).
///
/// CORRECTNESS: ring and hierarchical lowering read a group only through its rank order, each
/// rank's scale-up domain (`Fabric::domain_of`: equal or not, and the order of domain ids in
/// `by_domain`) and the fabric's scale-up kind. When `to[i] = from[i] + d` and
/// `domain_of(to[i]) = domain_of(from[i]) + e` for every `i` (one `d`, one `e`), every
/// comparison they make between ranks or domains comes out the same, so they emit the same
/// flows (bytes, channels, PXN, steps) between the moved endpoints. Other algorithms read more
/// (NIC ports, torus coordinates, explicit paths) and are not translated.
pub fn translation(f: &Fabric, algo: Algo, from: &[u32], to: &[u32]) -> Option<i64> {
    if !matches!(algo, Algo::Ring | Algo::Hierarchical) {
        return None;
    }
    rank_shift(f, from, to)
}

/// The rank shift `d` with `to[i] = from[i] + d` for every `i` (groups of one length, not
/// empty), every rank of either on the fabric and moved into the scale-up domain of its own
/// moved by one `e` (`domain_of(to[i]) = domain_of(from[i]) + e`): a move that keeps every
/// comparison between ranks and between their domains ([`translation`]).
pub(crate) fn rank_shift(f: &Fabric, from: &[u32], to: &[u32]) -> Option<i64> {
    if from.len() != to.len() || from.is_empty() {
        return None;
    }
    let n = f.accel_count() as u64;
    let d = i64::from(to[0]) - i64::from(from[0]);
    let e = i64::from(f.domain_of(to[0])) - i64::from(f.domain_of(from[0]));
    let ds = i64::from(f.domain_size);
    if ds > 0 && d % ds == 0 {
        // A move by whole domains: `domain_of(a + d) = domain_of(a) + d / ds` for every rank
        // (floor division of non-negatives), which is `e`: only the moves and ranges to check,
        // without a division per rank.
        let same = from
            .iter()
            .zip(to)
            .all(|(&a, &b)| u64::from(a) < n && u64::from(b) < n && i64::from(b) - i64::from(a) == d);
        return same.then_some(d);
    }
    let same = from.iter().zip(to).all(|(&a, &b)| {
        u64::from(a) < n
            && u64::from(b) < n
            && i64::from(b) - i64::from(a) == d
            && i64::from(f.domain_of(b)) - i64::from(f.domain_of(a)) == e
    });
    same.then_some(d)
}

/// Effective capacity of every fabric link (NCCL's achievable fraction by link class).
pub fn effective_capacities(f: &Fabric) -> Vec<f64> {
    let eta_up = constants::eta_scale_up();
    f.links
        .iter()
        .map(|l| {
            l.capacity.0
                * match l.net {
                    Net::ScaleUp => eta_up,
                    _ => ETA_NET,
                }
        })
        .collect()
}

/// Latency of a plan under protocol `p` (`None` if the plan cannot use `p`).
pub fn latency(plan: &Plan, p: Protocol) -> Option<f64> {
    if plan.nvls {
        // NVLS runs Simple only; across domains (NVLSTree) each network step adds NCCL's NET
        // per-step latency.
        let net: u32 = plan.phases.iter().map(|ph| ph.steps_net).sum();
        return (p == Protocol::Simple)
            .then(|| constants::nvls_base_lat_s() + net as f64 * constants::hw_lat(LinkClass::Net, false, p));
    }
    let t = plan.tree_latency;
    let steps: f64 = plan
        .phases
        .iter()
        .map(|ph| {
            ph.steps_nvlink as f64 * constants::hw_lat(LinkClass::NvLink, t, p)
                + ph.steps_net as f64 * constants::hw_lat(LinkClass::Net, t, p)
        })
        .sum();
    Some(constants::base_lat(t, p) + steps)
}

/// Simulate a plan's transfers (no latency); returns the transfer time and the busy links.
pub fn run_plan(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    fidelity: Fidelity,
) -> Result<(f64, Vec<Bottleneck>), CollectiveError> {
    run_plan_routes(f, caps, plan, fidelity, false).map(|(r, _)| r)
}

/// [`run_plan`], and with `keep` under ECMP or spraying the routed flows ([`PlanRoutes`];
/// `None` otherwise).
pub fn run_plan_routes(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    fidelity: Fidelity,
    keep: bool,
) -> Result<RunAndRoutes, CollectiveError> {
    run_plan_routes_from(f, caps, plan, fidelity, keep, None)
}

/// [`run_plan_routes`], its flows taking their paths from `donor` where it holds them (the
/// same result: see [`RouteDonor`]).
pub fn run_plan_routes_from(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    fidelity: Fidelity,
    keep: bool,
    donor: Option<&RouteDonor<'_>>,
) -> Result<RunAndRoutes, CollectiveError> {
    run_plan_routes_checked(f, caps, false, plan, fidelity, keep, donor)
}

/// [`run_plan_routes_from`], told whether `caps` passed [`engine::check_capacities`]
/// (`caps_valid`; a caller running many plans on one set of capacities checks them once): an
/// analytical run on those capacities alone (no virtual links, no trunks merged) does not
/// check them again. The same results and errors where `caps_valid` is true exactly when
/// the check passes (it is given `false` otherwise, which checks as before).
pub fn run_plan_routes_checked(
    f: &Fabric,
    caps: &[f64],
    caps_valid: bool,
    plan: &Plan,
    fidelity: Fidelity,
    keep: bool,
    donor: Option<&RouteDonor<'_>>,
) -> Result<RunAndRoutes, CollectiveError> {
    if fidelity == Fidelity::Analytical {
        if let Some(r) = run_compact(f, caps, caps_valid, plan, keep, donor)? {
            return Ok(r);
        }
    }
    let (mut built, routes) = build_plan_routes_from(f, caps, plan, keep, donor)?;
    Ok((run_built(f, &mut built, fidelity)?, routes))
}

/// The fabric's (trunk-merged) capacities followed by `virtual_links`: the links of a built
/// plan's engine.
fn all_capacities(router: &Router, caps: &[f64], virtual_links: &[f64]) -> Vec<f64> {
    // Sized for both at once (growing it for the virtual links would copy the fabric's).
    let mut all = Vec::with_capacity(caps.len() + virtual_links.len());
    all.extend_from_slice(caps);
    router.merge_capacities(&mut all);
    all.extend_from_slice(virtual_links);
    all
}

/// Route one phase's flows as [`build_plan`] does (link ids index the fabric's links, then the
/// plan's virtual links) into `flows`, cleared first; with `starts`, where each flow's paths
/// begin in `flows` (cleared first; one entry per flow, then the end).
fn route_phase(
    router: &mut Router,
    ph: &crate::plan::Phase,
    flows: &mut FlowSet,
    mut starts: Option<&mut Vec<u32>>,
    donor: Option<&RouteDonor<'_>>,
) -> Result<(), CollectiveError> {
    flows.clear();
    router.new_phase();
    if let Some(v) = starts.as_deref_mut() {
        v.clear();
        v.reserve(ph.flows.len() + 1);
    }
    for pf in &ph.flows {
        if let Some(v) = starts.as_deref_mut() {
            v.push(flows.len() as u32);
        }
        match &pf.path {
            Some(p) => {
                if pf.bytes > 0.0 && !p.is_empty() {
                    flows.push(p, pf.bytes, 1);
                }
            }
            None => {
                if let Some((d, (set, paths))) = donor.and_then(|d| Some((d, d.paths(pf)?))) {
                    // The paths `router.route` gives this flow, each with the share of the
                    // bytes it gives them (`RouteDonor`).
                    let bytes = d.share(pf);
                    if bytes > 0.0 {
                        for q in paths {
                            flows.push(set.path(q), bytes, 1);
                        }
                        d.taken.set(d.taken.get() + 1);
                    }
                    continue;
                }
                router.route(
                    pf.src,
                    pf.dst,
                    pf.channel as u64,
                    RouteOpts { pxn: pf.pxn },
                    pf.bytes,
                    &mut |path, bytes| {
                        if bytes > 0.0 && !path.is_empty() {
                            flows.push(path, bytes, 1);
                        }
                    },
                )?;
            }
        }
    }
    if let Some(v) = starts {
        v.push(flows.len() as u32);
    }
    Ok(())
}

/// The routed flows of a plan's phases as an analytical run routed them ([`run_plan_routes`]),
/// for another plan whose flows route alike (the same plan lowered at another size: the
/// schedule's data-parallel pieces) to take instead of routing them again.
///
/// CORRECTNESS: only kept under ECMP and spraying, where a flow's paths are a function of its
/// source, destination, channel and PXN option and the fabric (not of the bytes, nor of the
/// flows routed before it in its phase: adaptive routing reads the load placed so far). A flow
/// routed with bytes > 0 has every path it was routed on kept here (an empty path — source
/// and destination the same — is none), in order; under spraying each carries an equal share
/// of its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRoutes {
    /// Per phase: the routed flows (link ids of the fabric, then the plan's virtual links) and
    /// where each plan flow's begin (one entry per flow, then the end).
    phases: Vec<(FlowSet, Vec<u32>)>,
}

impl PlanRoutes {
    /// Phases kept.
    pub fn phases(&self) -> usize {
        self.phases.len()
    }

    /// The routed flows of phase `ph` and where each plan flow's begin.
    pub fn phase(&self, ph: usize) -> Option<(&FlowSet, &[u32])> {
        self.phases.get(ph).map(|(f, s)| (f, s.as_slice()))
    }

    /// What is kept, in 4-byte units (a hop 1; a flow's end, bytes and weight 4; where a plan
    /// flow's paths begin 1), for bounds.
    pub fn size(&self) -> usize {
        self.phases.iter().map(|(f, s)| f.hops() + 4 * f.len() + s.len()).sum()
    }
}

/// Another run's routed flows ([`PlanRoutes`]) lent to a plan's run on the same fabric (a
/// donor made for another `Fabric` value is not used: `route_plan` checks): a flow of the plan takes
/// the paths of the donor's flow with its source, destination, channel and PXN option instead
/// of being routed again ([`run_plan_routes_from`]). A hierarchical or ring all-gather has
/// its reduce-scatter's flows in another order, and a step runs both.
///
/// CORRECTNESS: a donor is made only under ECMP and spraying ([`RouteDonor::new`]), where
/// `Router::route` gives a flow paths that are a function of its source, destination,
/// channel, PXN option and the fabric (not of its bytes, nor of the flows routed before it),
/// and emits each path with the flow's bytes (spraying: an equal share per path, the bytes
/// divided by `Fabric::spray_shares`), keeping a path only where that share is > 0 and the
/// path is not empty. The donor's run kept every such path of a flow whose share was > 0, in
/// order (`PlanRoutes`); only those flows lend (a flow whose share was 0 kept nothing, which
/// says nothing of its paths). So a flow taking a donor flow's paths with its own share, and
/// nothing where that share is not > 0, gets the flow set routing would give it, bit for bit,
/// and a route that would fail cannot be lent (the donor's route succeeded).
pub struct RouteDonor<'a> {
    f: &'a Fabric,
    routes: &'a PlanRoutes,
    spray: bool,
    /// Per source accelerator, where its entries begin in `entries` (then the end).
    start: Vec<u32>,
    /// The lending flows by source: (destination, channel, PXN option, phase, flow index).
    entries: Vec<(u32, u32, bool, u32, u32)>,
    /// Flows that took their paths from here.
    taken: std::cell::Cell<usize>,
}

impl<'a> RouteDonor<'a> {
    /// The flows of `plan` that lend their paths kept in `routes` (a run of `plan` on `f`
    /// kept them); `None` under adaptive routing, or where `routes` are not `plan`'s shape.
    pub fn new(f: &'a Fabric, plan: &Plan, routes: &'a PlanRoutes) -> Option<RouteDonor<'a>> {
        if f.routing == RoutingMode::Adaptive || routes.phases.len() != plan.phases.len() {
            return None;
        }
        let spray = f.routing == RoutingMode::Spray;
        let accels = f.accel_count();
        let lends = |pf: &crate::plan::PlanFlow| {
            pf.path.is_none() && (pf.src as usize) < accels && path_share(f, spray, pf) > 0.0
        };
        let mut start = vec![0u32; accels + 1];
        for (ph, (_, st)) in plan.phases.iter().zip(&routes.phases) {
            if st.len() != ph.flows.len() + 1 {
                return None;
            }
            for pf in ph.flows.iter().filter(|pf| lends(pf)) {
                start[pf.src as usize + 1] += 1;
            }
        }
        for i in 0..accels {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut entries = vec![(0, 0, false, 0, 0); start[accels] as usize];
        for (pi, ph) in plan.phases.iter().enumerate() {
            for (k, pf) in ph.flows.iter().enumerate().filter(|(_, pf)| lends(pf)) {
                let at = &mut next[pf.src as usize];
                entries[*at as usize] = (pf.dst, pf.channel, pf.pxn, pi as u32, k as u32);
                *at += 1;
            }
        }
        Some(RouteDonor {
            f,
            routes,
            spray,
            start,
            entries,
            taken: std::cell::Cell::new(0),
        })
    }

    /// The kept flow set and the range of its paths that routing gives `pf`, where a donor
    /// flow lends them.
    fn paths(&self, pf: &crate::plan::PlanFlow) -> Option<(&'a FlowSet, std::ops::Range<usize>)> {
        let s = pf.src as usize;
        let (&a, &b) = (self.start.get(s)?, self.start.get(s + 1)?);
        let &(.., ph, k) = self.entries[a as usize..b as usize]
            .iter()
            .find(|&&(d, c, x, ..)| (d, c, x) == (pf.dst, pf.channel, pf.pxn))?;
        let (set, starts) = &self.routes.phases[ph as usize];
        let k = k as usize;
        Some((set, starts[k] as usize..starts[k + 1] as usize))
    }

    /// The bytes `Router::route` gives each path of `pf`.
    fn share(&self, pf: &crate::plan::PlanFlow) -> f64 {
        path_share(self.f, self.spray, pf)
    }

    /// Flows that took paths with bytes from this donor so far (a diagnostic: a routing that
    /// fails and is redone counts its flows again).
    pub fn taken(&self) -> usize {
        self.taken.get()
    }
}

/// The bytes `Router::route` gives each path of `pf` on `f` (`spray`: split equally over
/// `Fabric::spray_shares`).
fn path_share(f: &Fabric, spray: bool, pf: &crate::plan::PlanFlow) -> f64 {
    if spray {
        pf.bytes / f.spray_shares(pf.src, pf.dst) as f64
    } else {
        pf.bytes
    }
}

/// [`run_plan`] at analytical fidelity on the plan [`build_routed`] builds; `None` (run
/// [`build_plan`] instead, which reports the error in its order) where a flow fails to route.
/// With `keep`, also the routed flows ([`PlanRoutes`], under ECMP and spraying only).
fn run_compact(
    f: &Fabric,
    caps: &[f64],
    caps_valid: bool,
    plan: &Plan,
    keep: bool,
    donor: Option<&RouteDonor<'_>>,
) -> Result<Option<RunAndRoutes>, CollectiveError> {
    let Some((all, phases, starts, keep)) = route_plan(f, caps, plan, keep, donor)? else {
        return Ok(None);
    };
    // The engine's capacities are `caps` themselves where borrowed: checked already when the
    // caller says so.
    let checked = caps_valid && matches!(all, std::borrow::Cow::Borrowed(_));
    // Priced without an engine: an analytical engine holding the phases in sequence (as
    // `build_routed` stores them, compact or not — the same run: `build_compact`) gives the
    // pricer's makespan and busiest links bit for bit (`engine::AnalyticalPricer::price_chain`),
    // after the same checks of capacities and flows (so the same errors).
    let engine_error = |e: engine::EngineError| CollectiveError::Engine(e.to_string());
    if !checked {
        engine::check_capacities(&all).map_err(engine_error)?;
    }
    let (t, busy) = engine::AnalyticalPricer::new(&all)
        .price_chain(&phases, 3)
        .map_err(engine_error)?;
    let routes = keep.then(|| PlanRoutes {
        phases: phases.into_iter().zip(starts).collect(),
    });
    Ok(Some(((t, name_bottlenecks(f, busy)), routes)))
}

/// The engine capacities of `plan`, its phases routed as [`build_plan`] routes them (one flow
/// set per phase, every phase before any is stored), where each flow's paths begin in its set
/// when kept, and whether they are (`keep` under ECMP and spraying); `None` where a flow fails
/// to route.
#[allow(clippy::type_complexity)]
fn route_plan<'c>(
    f: &Fabric,
    caps: &'c [f64],
    plan: &Plan,
    keep: bool,
    donor: Option<&RouteDonor<'_>>,
) -> Result<Option<(std::borrow::Cow<'c, [f64]>, Vec<FlowSet>, Vec<Vec<u32>>, bool)>, CollectiveError> {
    let mut router = Router::new(f);
    // The fabric's capacities as they are where spraying merges no trunks and the plan has no
    // virtual links (no copy of ~10⁵ capacities per run).
    let all: std::borrow::Cow<'_, [f64]> = if router.mode() != RoutingMode::Spray && plan.virtual_links.is_empty() {
        std::borrow::Cow::Borrowed(caps)
    } else {
        std::borrow::Cow::Owned(all_capacities(&router, caps, &plan.virtual_links))
    };
    let keep = keep && router.mode() != RoutingMode::Adaptive;
    let mut phases = Vec::with_capacity(plan.phases.len());
    let mut starts = Vec::with_capacity(if keep { plan.phases.len() } else { 0 });
    for ph in &plan.phases {
        let mut flows = FlowSet::with_capacity(ph.flows.len(), 4 * ph.flows.len());
        let mut st = Vec::new();
        // A donor lends only under the modes it is made for (`RouteDonor::new`).
        let donor = donor.filter(|d| std::ptr::eq(d.f, f) && router.mode() != RoutingMode::Adaptive);
        if route_phase(&mut router, ph, &mut flows, keep.then_some(&mut st), donor).is_err() {
            return Ok(None);
        }
        phases.push(flows);
        if keep {
            starts.push(st);
        }
    }
    Ok(Some((all, phases, starts, keep)))
}

/// `plan` routed as [`build_plan`] routes, every phase before any is stored, then stored on a
/// compact built plan ([`build_compact`]) where one is made, else on an engine of every link
/// (phases added in [`build_plan`]'s order); `None` where a flow fails to route (the caller
/// builds as [`build_plan`] did, reporting the error in its order). With `keep`, also the
/// routed flows ([`PlanRoutes`], under ECMP and spraying only), in the fabric's link ids.
fn build_routed(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    keep: bool,
    donor: Option<&RouteDonor<'_>>,
) -> Result<Option<(BuiltPlan, Option<PlanRoutes>)>, CollectiveError> {
    let Some((all, mut phases, starts, keep)) = route_plan(f, caps, plan, keep, donor)? else {
        return Ok(None);
    };
    let built = match build_compact(&all, &mut phases) {
        Some(b) => {
            if keep {
                // Back to the fabric's (and the plan's virtual) link ids.
                let used = b.links.as_deref().unwrap_or_default();
                for flows in &mut phases {
                    flows.rename_links(|l| used[l as usize]);
                }
            }
            b
        }
        None => {
            // What `build_plan` builds: every phase routed, they are added in its order.
            let mut e = Engine::new(all.into_owned(), Fidelity::Analytical)
                .map_err(|e| CollectiveError::Engine(e.to_string()))?;
            e.set_link_bytes_only(true);
            let mut prev = None;
            for flows in &phases {
                let deps: Vec<engine::TaskId> = prev.into_iter().collect();
                let id = e
                    .add_transfer(0.0, flows, &deps)
                    .map_err(|e| CollectiveError::Engine(e.to_string()))?;
                prev = Some(id);
            }
            BuiltPlan::new(e, None)
        }
    };
    let routes = keep.then(|| PlanRoutes {
        phases: phases.into_iter().zip(starts).collect(),
    });
    Ok(Some((built, routes)))
}

/// A run's time and busy links, and the routes it kept ([`run_plan_routes`]).
pub type RunAndRoutes = ((f64, Vec<Bottleneck>), Option<PlanRoutes>);

/// A built plan of `phases`' transfers (one per phase, each after the previous one, link ids
/// indexing `all`) on an engine of only the links they use, renumbered in id order; `None`
/// where the full engine could answer differently (a capacity it refuses, a link that does
/// not exist, a flow it refuses: the full build reports those).
///
/// CORRECTNESS: an analytical run reads a link only through the flows on it: a transfer's
/// duration is the slowest flow alone on its path and the most loaded link it touches (links
/// in first-touch order along its flows), each link's bytes add up its transfers' loads, and
/// [`engine::RunReport::bottlenecks`] skips links without bytes and orders the rest by
/// utilisation then id. Dropping unused links and renumbering the others in increasing order
/// keeps every flow's capacities, every first-touch order, every load and every tie-break, so
/// the times and busy links (renamed back by [`run_built`]) are the full engine's bit for
/// bit; identical flows stay identical (the renaming is one-to-one), so the engine merges the
/// same ones. At flow fidelity the engine reads a link through its capacity, the flows on it
/// (lists in flow-id order, sums in that order) and its id only to break ties (water-filling
/// pops links by fair share then id; the busiest links by utilisation then id), which an
/// increasing renumbering keeps; unused links carry nothing and are never solved. So flow runs
/// are the full engine's bit for bit too (as [`run_symmetric_at`] already relies on).
/// What is saved is the engine's per-link state over the whole fabric (~10⁵ links) per run,
/// and the scan of it for the busiest links.
/// The flow sets are renamed in place, and as given again when `None` comes back.
pub fn build_compact(all: &[f64], phases: &mut [FlowSet]) -> Option<BuiltPlan> {
    if !worth_compacting(phases.iter().map(FlowSet::hops).sum(), all.len()) {
        return None;
    }
    build_compact_any(all, phases)
}

/// [`build_compact`] whatever the plan's size.
fn build_compact_any(all: &[f64], phases: &mut [FlowSet]) -> Option<BuiltPlan> {
    let valid = |c: f64| c.is_finite() & (c > 0.0);
    if !all.iter().fold(true, |ok, &c| ok & valid(c)) {
        return None;
    }
    // The used links in id order, and the new id of each.
    const UNUSED: u32 = u32::MAX;
    let mut new_id = vec![UNUSED; all.len()];
    let mut used: Vec<u32> = Vec::new();
    for ph in phases.iter() {
        for &l in ph.links() {
            let v = new_id.get_mut(l as usize)?;
            if *v == UNUSED {
                *v = 0;
                used.push(l);
            }
        }
    }
    used.sort_unstable();
    for (i, &l) in used.iter().enumerate() {
        new_id[l as usize] = i as u32;
    }
    let compact: Vec<f64> = used.iter().map(|&l| all[l as usize]).collect();
    let mut e = Engine::new(compact, Fidelity::Analytical).ok()?;
    e.set_link_bytes_only(true);
    for flows in phases.iter_mut() {
        flows.rename_links(|l| new_id[l as usize]);
    }
    let mut prev = None;
    for flows in phases.iter() {
        let deps: Vec<engine::TaskId> = prev.into_iter().collect();
        match e.add_transfer(0.0, flows, &deps) {
            Ok(id) => prev = Some(id),
            Err(_) => {
                for flows in phases.iter_mut() {
                    flows.rename_links(|l| used[l as usize]);
                }
                return None;
            }
        }
    }
    Some(BuiltPlan::new(e, Some(used)))
}

/// The analytical time of one transfer whose flows are groups of consecutive flows of
/// `flows` (`ends[k]`: the end of group `k`), link ids indexing `all`, and its busy links (at
/// most 3: link, utilisation), priced from the first group alone when every group is the first
/// one moved onto links of its own; `None` where that is not shown (then run them all).
///
/// CORRECTNESS: it is shown when each group has the first group's flows in the same order
/// with the same bytes and weights (bits) and paths renamed link by link through a one-to-one
/// map, onto links no other group uses, of bitwise-equal capacities. An analytical transfer
/// takes the larger of its slowest flow alone and its most loaded link, a maximum; a link's
/// load sums the flows on it in order, merged identical flows at their first occurrence: on a
/// group's links only that group's flows, which are the first group's renamed (identical
/// exactly where the first group's are). So every group's flows and links give the first
/// group's values, the maximum over groups is the first group's, and each link's utilisation
/// is that of the first group's link it stands for; the busy links are then the best three of
/// all groups' links under [`engine::RunReport::bottlenecks`]' total order (utilisation, then
/// id). Flows or capacities the engine would refuse are left to the full run.
pub fn run_symmetric(all: &[f64], flows: &FlowSet, ends: &[usize]) -> Option<(f64, Vec<(u32, f64)>)> {
    run_symmetric_at(all, flows, ends, Fidelity::Analytical)
}

/// [`run_symmetric`] at either fidelity.
///
/// CORRECTNESS (flow fidelity): max-min fair sharing couples flows only through the links
/// they share, so groups on links of their own evolve apart: every group's flows get the
/// first group's rates at the same instants, completions fall at the same times, and the
/// engine's batches, re-solves and thresholds (all per flow and per link, or minima over
/// flows finishing together — equal across identical groups) repeat the first group's in
/// every group. Where the engine orders links or flows (water-filling ties, per-link lists,
/// re-sorts), it orders them by id: at flow fidelity the map from the first group's links to
/// each group's must therefore also keep their order (flows already keep theirs: each
/// group's are consecutive, in the first group's order), so every group's arithmetic is the
/// first group's operation for operation. The engine then runs the first group alone on its
/// links renamed in id order (the same order again). Property-tested against the engine on
/// all groups (`symmetric_groups_price_as_all_groups`, both fidelities).
pub fn run_symmetric_at(
    all: &[f64],
    flows: &FlowSet,
    ends: &[usize],
    fidelity: Fidelity,
) -> Option<(f64, Vec<(u32, f64)>)> {
    let map = symmetry_map(all, flows, ends, fidelity)?;
    run_symmetric_with(all, flows, ends, fidelity, &map)
}

/// What [`run_symmetric_at`] checks of a flow set that does not depend on its bytes: every
/// group has the first group's number of flows, each path the first group's renamed link by
/// link through a one-to-one map onto links no other group uses, of bitwise-equal (valid)
/// capacities, and at flow fidelity in the same link order. Kept with a flow set's routes
/// (`moe::RouteCache`), it is checked once for runs that differ only in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetryMap {
    /// Every group's links (each once), and for each the first group's link it stands for;
    /// group by group, in the order the group's flows first reach them.
    owned: Vec<(u32, u32)>,
    /// Where each group's entries of `owned` end.
    group_ends: Vec<u32>,
}

impl SymmetryMap {
    /// A map of these pairs and group ends (see the fields): for a caller that derived them
    /// as [`symmetry_map`] would (`moe`'s runs mirrored from the other direction's routes).
    pub(crate) fn from_parts(owned: Vec<(u32, u32)>, group_ends: Vec<u32>) -> SymmetryMap {
        SymmetryMap { owned, group_ends }
    }

    /// Every group's pairs (image, first group's link), group by group.
    pub(crate) fn owned(&self) -> &[(u32, u32)] {
        &self.owned
    }

    /// Where each group's pairs end in [`SymmetryMap::owned`].
    pub(crate) fn group_ends(&self) -> &[u32] {
        &self.group_ends
    }

    /// The flow fidelity's map ([`symmetry_map`] at [`Fidelity::Flow`]) from this analytical
    /// one, without reading the paths again: the same map where every group's images of the
    /// first group's links increase with them, else `None` — what `symmetry_map` gives.
    ///
    /// CORRECTNESS: the two differ only in the order check, the rest of their checks and the
    /// map they build being the same. Every group maps each link of the first group's paths
    /// to exactly one link of its own (its entries of `owned` are those pairs, each once), so
    /// the group keeps the first group's link order exactly when its pairs, sorted by the
    /// first group's link, have increasing images.
    pub fn at_flow(&self) -> Option<SymmetryMap> {
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut start = self.group_ends.first().copied().unwrap_or(0) as usize;
        for &end in self.group_ends.iter().skip(1) {
            pairs.clear();
            pairs.extend(self.owned[start..end as usize].iter().map(|&(m, r)| (r, m)));
            pairs.sort_unstable();
            if pairs.windows(2).any(|w| w[0].1 >= w[1].1) {
                return None;
            }
            start = end as usize;
        }
        Some(self.clone())
    }
}

/// The part of [`run_symmetric_at`]'s check that reads paths, group ends and capacities only
/// (not bytes or weights): `None` where it fails.
pub fn symmetry_map(all: &[f64], flows: &FlowSet, ends: &[usize], fidelity: Fidelity) -> Option<SymmetryMap> {
    let n0 = *ends.first()?;
    if ends.len() < 2 || n0 == 0 || ends.last() != Some(&flows.len()) {
        return None;
    }
    if engine::check_capacities(all).is_err() {
        return None;
    }
    let nl = all.len();
    // Per link: the group using it and the first group's link it stands for (`group << 32 |
    // link`); per first-group link: its image in the group being checked, stamped with that
    // group (`group << 32 | image`). `NO_STAMP` everywhere else: arrays of the thread's pool
    // (two per-link arrays, 8 bytes an entry: allocating and filling them cost more than the
    // check on a DeepEP run), given back with the entries this call set reset.
    let (mut owner, mut image) = SYMMETRY_ARRAYS
        .try_with(|p| std::mem::take(&mut *p.borrow_mut()))
        .unwrap_or_default();
    if owner.len() < nl {
        owner.resize(nl, NO_STAMP);
    }
    if image.len() < nl {
        image.resize(nl, NO_STAMP);
    }
    let mut owned: Vec<(u32, u32)> = Vec::new();
    let r = symmetry_map_in(all, flows, ends, fidelity, &mut owner, &mut image, &mut owned);
    // Every owner entry set is in `owned` (set and pushed together); every image entry set is
    // a link of the first group's paths.
    for &(m, _) in &owned {
        owner[m as usize] = NO_STAMP;
    }
    let first_end = flows.path_ends().get(n0 - 1).map_or(0, |&e| e as usize);
    for &r in flows.links().get(..first_end).unwrap_or_default() {
        if let Some(x) = image.get_mut(r as usize) {
            *x = NO_STAMP;
        }
    }
    debug_assert!(owner.iter().chain(&image).all(|&x| x == NO_STAMP));
    if owner.len() <= MAX_POOLED_STAMPS {
        let _ = SYMMETRY_ARRAYS.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.0.len() <= owner.len() {
                *p = (owner, image);
            }
        });
    }
    r.map(|group_ends| SymmetryMap { owned, group_ends })
}

/// [`symmetry_map`]'s arrays' empty entry.
const NO_STAMP: u64 = u64::MAX;

/// Longest per-link arrays the thread pools keep ([`SYMMETRY_ARRAYS`], [`FIRST_BYTES`]: 2²²
/// entries, 32 MiB each).
const MAX_POOLED_STAMPS: usize = 1 << 22;

thread_local! {
    /// [`symmetry_map`]'s per-link arrays, all [`NO_STAMP`], for the thread's next call.
    static SYMMETRY_ARRAYS: std::cell::RefCell<(Vec<u64>, Vec<u64>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// [`symmetry_map`] over its arrays (`owner`, `image`: at least one entry per link, all
/// [`NO_STAMP`]), the map's pairs pushed on `owned`: where each group's pairs end, or `None`.
fn symmetry_map_in(
    all: &[f64],
    flows: &FlowSet,
    ends: &[usize],
    fidelity: Fidelity,
    owner: &mut [u64],
    image: &mut [u64],
    owned: &mut Vec<(u32, u32)>,
) -> Option<Vec<u32>> {
    const NONE: u64 = NO_STAMP;
    let n0 = ends[0];
    let nl = all.len();
    let (hops, path_end) = (flows.links(), flows.path_ends());
    // Where flow `i`'s path begins in `hops`.
    let begin = |i: usize| if i == 0 { 0 } else { path_end[i - 1] as usize };
    let mut group_ends: Vec<u32> = Vec::with_capacity(ends.len());
    // The first group's links in id order (for the order check at flow fidelity).
    let mut firsts: Vec<u32> = Vec::new();
    let first_hops = &hops[..begin(n0)];
    if fidelity != Fidelity::Analytical {
        firsts.extend_from_slice(first_hops);
        firsts.sort_unstable();
        firsts.dedup();
    }
    let mut start = 0;
    for (k, &end) in ends.iter().enumerate() {
        // (A group's number stamps the maps' entries beside a link id: below `u32::MAX`.)
        if end < start || end - start != n0 || k >= u32::MAX as usize {
            return None;
        }
        // Every path as long as the first group's, flow by flow: the group's hops then pair
        // with the first group's one to one, in order.
        let base = begin(start);
        let same_lengths = path_end[start..end]
            .iter()
            .zip(&path_end[..n0])
            .all(|(&e, &e0)| e as usize - base == e0 as usize);
        if !same_lengths {
            return None;
        }
        let k = k as u64;
        for (&r, &m) in first_hops.iter().zip(&hops[base..begin(end)]) {
            let (ri, mi) = (r as usize, m as usize);
            let im = (k << 32) | u64::from(m);
            // A pair this group met before passed every check below then (the same links,
            // capacities and owner): nothing to do again.
            if image.get(ri) == Some(&im) {
                continue;
            }
            if ri >= nl || mi >= nl || all[mi].to_bits() != all[ri].to_bits() {
                return None;
            }
            let seen = image[ri];
            if seen >> 32 == k {
                // Another image in this group.
                return None;
            }
            image[ri] = im;
            let mine = (k << 32) | u64::from(r);
            match owner[mi] {
                NONE => {
                    owner[mi] = mine;
                    owned.push((m, r));
                }
                o if o != mine => return None,
                _ => {}
            }
        }
        if fidelity != Fidelity::Analytical && k > 0 && !keeps_order(&firsts, image, k) {
            return None;
        }
        if k == 0 {
            // Every group has as many pairs as the first (a map that does not fails), each of
            // a link of its own: at most one pair a link in all.
            owned.reserve(owned.len().saturating_mul(ends.len() - 1).min(nl));
        }
        group_ends.push(owned.len() as u32);
        start = end;
    }
    Some(group_ends)
}

/// [`run_symmetric_at`] given the flow set's [`symmetry_map`] (at the same fidelity, of the
/// same paths, ends and capacities): checks what the map does not — the first group's flows
/// valid, every group's bytes and weights the first group's bit for bit — and prices the
/// first group alone.
pub fn run_symmetric_with(
    all: &[f64],
    flows: &FlowSet,
    ends: &[usize],
    fidelity: Fidelity,
    map: &SymmetryMap,
) -> Option<(f64, Vec<(u32, f64)>)> {
    let n0 = *ends.first()?;
    if ends.len() < 2 || n0 == 0 || ends.last() != Some(&flows.len()) {
        return None;
    }
    let (bytes, weights) = (flows.bytes(), flows.weights());
    let mut start = 0;
    for &end in ends {
        if end < start || end - start != n0 {
            return None;
        }
        let same_bytes = bytes[start..end]
            .iter()
            .zip(&bytes[..n0])
            .all(|(b, b0)| b.to_bits() == b0.to_bits());
        if !same_bytes || weights[start..end] != weights[..n0] {
            return None;
        }
        start = end;
    }
    // The first group alone.
    let first_hops = flows.path_ends().get(n0 - 1).map_or(0, |&e| e as usize);
    let mut first = FlowSet::with_capacity(n0, first_hops);
    for i in 0..n0 {
        let (p, b, w) = flows.flow(i);
        first.push(p, b, w);
    }
    run_symmetric_first(all, first, fidelity, map)
}

/// The symmetric run of [`run_symmetric_with`] from its first group's flows `first` alone,
/// where every other group's flows are known to carry the first group's bytes and weights
/// (bit for bit) over paths `map` renames them to: checks the first group's flows valid and
/// prices them.
pub(crate) fn run_symmetric_first(
    all: &[f64],
    first: FlowSet,
    fidelity: Fidelity,
    map: &SymmetryMap,
) -> Option<(f64, Vec<(u32, f64)>)> {
    if first.is_empty() {
        return None;
    }
    for i in 0..first.len() {
        let (p, b, w) = first.flow(i);
        if p.is_empty() || !(b.is_finite() && b >= 0.0) || w == 0 {
            return None;
        }
    }
    let nl = all.len();
    // Bytes of each first-group link, by its id: a zeroed array of the thread's pool, given
    // back zeroed (the entries set are listed).
    let mut first_bytes = FIRST_BYTES
        .try_with(|p| std::mem::take(&mut *p.borrow_mut()))
        .unwrap_or_default();
    if first_bytes.len() < nl {
        first_bytes.resize(nl, 0.0);
    }
    let mut set: Vec<u32> = Vec::new();
    let r = first_group_bytes(all, first, fidelity, &mut first_bytes, &mut set)
        .and_then(|t| best_of_groups(all, map, t, &mut first_bytes[..nl]));
    for &l in &set {
        first_bytes[l as usize] = 0.0;
    }
    debug_assert!(first_bytes.iter().all(|&b| b == 0.0));
    if first_bytes.len() <= MAX_POOLED_STAMPS {
        let _ = FIRST_BYTES.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() <= first_bytes.len() {
                *p = first_bytes;
            }
        });
    }
    r
}

thread_local! {
    /// [`run_symmetric_with`]'s per-link bytes, all 0, for the thread's next call.
    static FIRST_BYTES: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The first group's flows alone priced at `fidelity` over the links `all`: the makespan, each
/// link's bytes written in `bytes` (by id) and listed in `set`; `None` where the engine
/// would refuse them. Analytical: the pricer, which gives what an analytical engine over the
/// same links holding this one transfer reports, makespan and link bytes bit for bit
/// (`engine::AnalyticalPricer::price_loads`), after the engine's checks of capacities and
/// flows (those it refuses give `None`, as the engine's refusal does). Flow: an engine of
/// the group's links.
fn first_group_bytes(
    all: &[f64],
    first: FlowSet,
    fidelity: Fidelity,
    bytes: &mut [f64],
    set: &mut Vec<u32>,
) -> Option<f64> {
    if fidelity == Fidelity::Analytical {
        engine::check_capacities(all).ok()?;
        return engine::AnalyticalPricer::new(all)
            .price_loads(&first, |l, b| {
                bytes[l as usize] = b;
                set.push(l);
            })
            .ok();
    }
    let mut phases = [first];
    let mut built = build_compact_any(all, &mut phases)?;
    let e = &mut built.engine;
    if !e.set_fidelity(fidelity) {
        return None;
    }
    let rep = e.run().ok()?;
    let links = built.links.as_ref()?;
    for (&l, s) in links.iter().zip(&rep.links) {
        bytes[l as usize] = s.bytes;
        set.push(l);
    }
    Some(rep.makespan_s)
}

/// The makespan `t` and the busy links (at most 3) of every group, from the first group's
/// link bytes `first_bytes` through `map` (see [`run_symmetric_at`]).
///
/// Only the first group's links whose utilisation can rank among the best three are read
/// for every group (the bytes of the others are set to 0 in `first_bytes`, whose entries the
/// caller resets): a link of group `k` stands for a first-group link of bitwise-equal
/// capacity and bytes, so it has that link's utilisation — every utilisation comes `G` times
/// (`G` groups). With the first group's utilisations in the order `bottlenecks` ranks them,
/// the `⌈3 / G⌉`-th, `u`, has at least three links at or above it; a link below `u` has
/// three links strictly before it and is not kept.
fn best_of_groups(all: &[f64], map: &SymmetryMap, t: f64, first_bytes: &mut [f64]) -> Option<(f64, Vec<(u32, f64)>)> {
    if t <= 0.0 {
        return Some((t, Vec::new()));
    }
    let util = |b: f64, c: f64| (b > 0.0 && c > 0.0).then(|| b / c / t);
    // The first group's pairs are its own links (`(r, r)`).
    let firsts = &map.owned[..map.group_ends.first().map_or(0, |&e| e as usize)];
    let groups = map.group_ends.len().max(1);
    let mut us: Vec<f64> = firsts
        .iter()
        .filter_map(|&(m, r)| util(*first_bytes.get(r as usize)?, *all.get(m as usize)?))
        .collect();
    let k = 3usize.div_ceil(groups);
    if us.len() > k {
        let (_, &mut floor, _) = us.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        for &(m, r) in firsts {
            let (Some(&b), Some(&c)) = (first_bytes.get(r as usize), all.get(m as usize)) else {
                continue;
            };
            if util(b, c).is_some_and(|u| u.total_cmp(&floor).is_lt()) {
                first_bytes[r as usize] = 0.0;
            }
        }
    }
    // The best three of every group's links, as `RunReport::bottlenecks` keeps them.
    let before = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)).is_lt();
    let mut best: Vec<(u32, f64)> = Vec::with_capacity(4);
    for &(m, r) in &map.owned {
        let (Some(&c), Some(&b)) = (all.get(m as usize), first_bytes.get(r as usize)) else {
            return None;
        };
        if !(b > 0.0 && c > 0.0) {
            continue;
        }
        let x = (m, b / c / t);
        if best.len() == 3 && !before(&x, &best[2]) {
            continue;
        }
        let at = best.partition_point(|y| before(y, &x));
        best.insert(at, x);
        best.truncate(3);
    }
    Some((t, best))
}

/// Whether group `k`'s images of the first group's links (`image[r] = (k, m)` for each of
/// the first group's links `r`, in `firsts` in id order) increase with them.
fn keeps_order(firsts: &[u32], image: &[u64], k: u64) -> bool {
    let mut prev = None;
    for &r in firsts {
        let (g, m) = (image[r as usize] >> 32, image[r as usize] as u32);
        if g != k || prev.is_some_and(|p| p >= m) {
            return false;
        }
        prev = Some(m);
    }
    true
}

/// Whether a plan of `hops` hops in all is run on a compact engine ([`build_compact`]) rather
/// than one over all `links`: finding, sorting and renaming the used links costs per hop what
/// the full engine's per-link state costs per link, so only plans much smaller than the
/// fabric gain (a single group's algorithm choice, TP pairs; not a DeepEP run over every GPU,
/// where it cost more than it saved).
pub fn worth_compacting(hops: usize, links: usize) -> bool {
    hops <= links / 4
}

/// The fabric's capacities `caps` with spraying's trunks merged (as `build_flows_on` and
/// [`build_plan`] give them to the engine), followed by `virtual_links`.
pub fn engine_capacities(f: &Fabric, caps: &[f64], virtual_links: &[f64]) -> Vec<f64> {
    all_capacities(&Router::new(f), caps, virtual_links)
}

/// A plan's transfers routed and stored on an engine ([`build_plan`]), to simulate at either
/// fidelity ([`run_built`], as often as needed): routing and storing do not depend on the
/// fidelity, so running a built plan at both costs them once.
#[derive(Debug, Clone)]
pub struct BuiltPlan {
    engine: Engine,
    /// A compact built plan ([`build_compact`]): the link (of the fabric, or virtual) each
    /// engine link stands for, in increasing order.
    links: Option<Vec<u32>>,
    /// [`BuiltPlan::flow_matches_analytical`], once asked (the engine's flows do not change).
    closed: std::sync::OnceLock<bool>,
}

impl BuiltPlan {
    fn new(engine: Engine, links: Option<Vec<u32>>) -> BuiltPlan {
        BuiltPlan {
            engine,
            links,
            closed: std::sync::OnceLock::new(),
        }
    }

    /// Whether [`run_built`] at flow fidelity takes the analytical closed form
    /// (`engine::Engine::flow_matches_analytical`).
    pub fn flow_matches_analytical(&self) -> bool {
        *self.closed.get_or_init(|| self.engine.flow_matches_analytical())
    }

    /// A plan with no transfers on an engine without links (a placeholder).
    pub(crate) fn empty() -> BuiltPlan {
        BuiltPlan::new(
            Engine::new(Vec::new(), Fidelity::Analytical).expect("an engine without links"),
            None,
        )
    }
}

/// Route `plan`'s phases on the fabric with capacities `caps` (plus its virtual links) and
/// store them as one transfer per phase, each after the previous one: on an engine of only
/// the links they use where [`build_compact`] makes one (the same runs at either fidelity),
/// else of every link.
pub fn build_plan(f: &Fabric, caps: &[f64], plan: &Plan) -> Result<BuiltPlan, CollectiveError> {
    build_plan_routes(f, caps, plan, false).map(|(b, _)| b)
}

/// [`build_plan`], and with `keep` under ECMP or spraying the routed flows ([`PlanRoutes`]).
pub fn build_plan_routes(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    keep: bool,
) -> Result<(BuiltPlan, Option<PlanRoutes>), CollectiveError> {
    build_plan_routes_from(f, caps, plan, keep, None)
}

/// [`build_plan_routes`], its flows taking their paths from `donor` where it holds them (the
/// same built plan: see [`RouteDonor`]; a plan not worth compacting is routed as before).
pub fn build_plan_routes_from(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    keep: bool,
    donor: Option<&RouteDonor<'_>>,
) -> Result<(BuiltPlan, Option<PlanRoutes>), CollectiveError> {
    // A plan of more flows than a quarter of the links is taken as not worth compacting (a
    // flow that leaves its accelerator has a hop at least): routed and stored phase by phase,
    // one phase's flows held at a time (an all-to-all phase holds millions).
    let links = caps.len() + plan.virtual_links.len();
    if worth_compacting(plan.flow_count(), links) {
        if let Some(r) = build_routed(f, caps, plan, keep, donor)? {
            return Ok(r);
        }
    }
    build_full_routes(f, caps, plan, keep)
}

/// [`build_plan`] on an engine of every link of the fabric (and the plan's virtual links),
/// never compact: the reference the compact builds are checked against.
pub fn build_plan_full(f: &Fabric, caps: &[f64], plan: &Plan) -> Result<BuiltPlan, CollectiveError> {
    build_full_routes(f, caps, plan, false).map(|(b, _)| b)
}

/// [`build_plan_routes`] on an engine of every link, routing and storing phase by phase (the
/// order in which it reports errors).
fn build_full_routes(
    f: &Fabric,
    caps: &[f64],
    plan: &Plan,
    keep: bool,
) -> Result<(BuiltPlan, Option<PlanRoutes>), CollectiveError> {
    // The fabric's routing mode: ECMP hashing, adaptive (least-loaded per flow, within a
    // phase: phases do not run together) or spraying (trunks of summed capacity).
    let mut router = Router::new(f);
    let keep = keep && router.mode() != RoutingMode::Adaptive;
    let mut kept = Vec::with_capacity(if keep { plan.phases.len() } else { 0 });
    let all = all_capacities(&router, caps, &plan.virtual_links);
    // Built at analytical fidelity; `run_built` sets the one it runs at. The busiest links
    // are found from the bytes per link alone.
    let mut e = Engine::new(all, Fidelity::Analytical).map_err(|e| CollectiveError::Engine(e.to_string()))?;
    e.set_link_bytes_only(true);
    let mut prev = None;
    // Routes go straight into one compact flow set per phase (no vector per flow): an
    // all-to-all phase holds millions of flows.
    let mut flows = FlowSet::new();
    for ph in &plan.phases {
        let mut starts = Vec::new();
        if keep {
            flows = FlowSet::with_capacity(ph.flows.len(), 4 * ph.flows.len());
        }
        route_phase(&mut router, ph, &mut flows, keep.then_some(&mut starts), None)?;
        let deps: Vec<engine::TaskId> = prev.into_iter().collect();
        let id = e
            .add_transfer(0.0, &flows, &deps)
            .map_err(|e| CollectiveError::Engine(e.to_string()))?;
        prev = Some(id);
        if keep {
            kept.push((std::mem::take(&mut flows), starts));
        }
    }
    let routes = keep.then_some(PlanRoutes { phases: kept });
    Ok((BuiltPlan::new(e, None), routes))
}

/// [`build_plan`] of a plan of one phase whose flows all have explicit paths (link ids indexing
/// the engine capacities `all`, [`engine_capacities`]), given as a flow set: the same built
/// plan without a vector per flow.
pub(crate) fn build_flows_on(all: Vec<f64>, flows: &FlowSet) -> Result<BuiltPlan, CollectiveError> {
    let mut e = Engine::new(all, Fidelity::Analytical).map_err(|e| CollectiveError::Engine(e.to_string()))?;
    e.set_link_bytes_only(true);
    e.add_transfer(0.0, flows, &[])
        .map_err(|e| CollectiveError::Engine(e.to_string()))?;
    Ok(BuiltPlan::new(e, None))
}

/// Simulate a built plan at `fidelity`: the transfer time and the busy links, as
/// [`run_plan`] of the plan gives them.
///
/// A flow run whose times the analytical one gives (`Engine::flow_matches_analytical`: phases
/// in sequence, each link's flows of one size — rings, pairwise exchanges, sends of equal
/// chunks, and hierarchical plans whose inner and outer chunks keep to links of their own)
/// runs analytically: the same makespan and link bytes up to rounding, so the same busy links
/// (bytes over capacity and makespan), without the water-filling. (Up to rounding: sums taken
/// in another order, and the water-filled run's batching of completions within 10⁻¹² of each
/// other, which can end each of its transfers that much early — the closed form is the exact
/// one.)
/// [`run_built_solved`] is the reference that always water-fills.
pub fn run_built(
    f: &Fabric,
    built: &mut BuiltPlan,
    fidelity: Fidelity,
) -> Result<(f64, Vec<Bottleneck>), CollectiveError> {
    set_built_fidelity(built, fidelity)?;
    if fidelity == Fidelity::Flow && built.flow_matches_analytical() {
        built.engine.set_fidelity(Fidelity::Analytical);
        let rep = built.engine.run();
        built.engine.set_fidelity(Fidelity::Flow);
        return finish_run(f, built, rep);
    }
    let rep = built.engine.run();
    finish_run(f, built, rep)
}

/// [`run_built`] without its analytical closed form: a flow run always water-fills.
pub fn run_built_solved(
    f: &Fabric,
    built: &mut BuiltPlan,
    fidelity: Fidelity,
) -> Result<(f64, Vec<Bottleneck>), CollectiveError> {
    set_built_fidelity(built, fidelity)?;
    let rep = built.engine.run();
    finish_run(f, built, rep)
}

fn set_built_fidelity(built: &mut BuiltPlan, fidelity: Fidelity) -> Result<(), CollectiveError> {
    // CORRECTNESS: a built plan holds plain transfers (no `add_transfer_like`), which every
    // fidelity stores alike.
    if built.engine.set_fidelity(fidelity) {
        Ok(())
    } else {
        Err(CollectiveError::Engine("a built plan's transfers share flows".into()))
    }
}

/// [`run_built`]'s result from its engine's report.
fn finish_run(
    f: &Fabric,
    built: &BuiltPlan,
    rep: Result<engine::RunReport, engine::EngineError>,
) -> Result<(f64, Vec<Bottleneck>), CollectiveError> {
    let rep = rep.map_err(|e| CollectiveError::Engine(e.to_string()))?;
    let t = rep.makespan_s;
    let mut busy = rep.bottlenecks(built.engine.capacities(), 3);
    if let Some(links) = &built.links {
        for b in &mut busy {
            b.0 = links[b.0 as usize];
        }
    }
    Ok((t, name_bottlenecks(f, busy)))
}

/// The busy links of a run (at most 3), named.
pub(crate) fn name_bottlenecks(f: &Fabric, busy: Vec<(u32, f64)>) -> Vec<Bottleneck> {
    // Only spraying merges links into trunks (named after their representative).
    let router = (f.routing == RoutingMode::Spray).then(|| Router::new(f));
    let mut busy: Vec<Bottleneck> = busy
        .into_iter()
        .map(|(l, u)| Bottleneck {
            link: l,
            name: match router.as_ref().map_or(1, |r| r.trunk_size(l)) {
                1 => link_label(f, l),
                k => format!("{} (+{} links sprayed as one trunk)", link_label(f, l), k - 1),
            },
            utilisation: u,
        })
        .collect();
    busy.truncate(3);
    busy
}

/// A link's name; the links after the fabric's are a plan's virtual links (the reduction
/// engines of NVLS / SHARP switches).
pub fn link_label(f: &Fabric, l: u32) -> String {
    if (l as usize) < f.links.len() {
        f.link_name(fabric::LinkId(l))
    } else {
        "in-switch reduction (virtual)".into()
    }
}

/// Simulate `algo` once at the reference size.
pub fn evaluate(
    f: &Fabric,
    caps: &[f64],
    ranks: &[u32],
    op: Op,
    algo: Algo,
    opts: Options,
) -> Result<Evaluated, CollectiveError> {
    let plan = lower(f, ranks, op, REF_SIZE, algo, opts.channels)?;
    evaluate_plan(f, caps, false, ranks, algo, &plan, opts)
}

/// Simulate a plan lowered at the reference size for `ranks`.
/// `caps_valid`: whether `caps` passed `engine::check_capacities` ([`run_plan_routes_checked`]).
fn evaluate_plan(
    f: &Fabric,
    caps: &[f64],
    caps_valid: bool,
    ranks: &[u32],
    algo: Algo,
    plan: &Plan,
    opts: Options,
) -> Result<Evaluated, CollectiveError> {
    let ((t, bottlenecks), _) = run_plan_routes_checked(f, caps, caps_valid, plan, opts.fidelity, false, None)?;
    let latency = latencies(plan, opts);
    let steps: u32 = plan.phases.iter().map(|ph| ph.steps_nvlink + ph.steps_net).sum();
    let pipeline = (!plan.nvls).then(|| (steps, plan.bytes() / ranks.len().max(1) as f64));
    Ok(Evaluated {
        algo,
        transfer_ref_s: t,
        latency,
        bottlenecks,
        flows: plan.flow_count(),
        pipeline,
        ll_s_per_byte: ll_s_per_byte(f, ranks, plan),
        nvls_heads: nvls_heads(f, ranks, plan),
    })
}

/// Seconds per message byte NCCL's LL cap imposes on ring and tree inside one NVLink domain:
/// busbw factor of the op ÷ `llMaxBw` (0 where it does not apply).
fn ll_s_per_byte(f: &Fabric, ranks: &[u32], plan: &Plan) -> f64 {
    if !matches!(plan.algo, Algo::Ring | Algo::Tree) || !crate::plan::single_domain(f, ranks) {
        return 0.0;
    }
    match constants::ll_max_busbw(f.accel_model) {
        Some(cap) => plan.op.busbw_factor(ranks.len() as u32) / cap,
        None => 0.0,
    }
}

/// NVLS heads of an NVLS plan: the ranks of the (first) NVLink domain.
fn nvls_heads(f: &Fabric, ranks: &[u32], plan: &Plan) -> Option<u32> {
    plan.nvls
        .then(|| crate::plan::by_domain(f, ranks).first().map_or(1, |d| d.len() as u32))
}

/// Latency of `plan` under each protocol of [`Protocol::ALL`] (`None` where it does not run):
/// LL128 is left out of plans that cross the network when `opts` forbids it there.
fn latencies(plan: &Plan, opts: Options) -> [Option<f64>; 3] {
    let crosses_network = plan.phases.iter().any(|ph| ph.steps_net > 0);
    let mut out = [None; 3];
    for (i, p) in Protocol::ALL.into_iter().enumerate() {
        if p == Protocol::Ll128 && crosses_network && !opts.ll128_over_network {
            continue;
        }
        out[i] = latency(plan, p);
    }
    out
}

impl Evaluated {
    /// Time at `size` under the best protocol (or `forced`).
    pub fn time(&self, size: f64, forced: Option<Protocol>) -> Option<Priced> {
        let transfer = self.transfer_ref_s * size / REF_SIZE;
        let mut best: Option<Priced> = None;
        for (i, p) in Protocol::ALL.into_iter().enumerate() {
            if forced.is_some_and(|fp| fp != p) {
                continue;
            }
            let Some(lat) = self.latency[i] else { continue };
            let mut tr = transfer / p.bandwidth_factor();
            if p == Protocol::Ll {
                tr = tr.max(size * self.ll_s_per_byte);
            }
            if let Some(heads) = self.nvls_heads {
                tr += constants::nvls_fill_bytes(size, heads) * self.transfer_ref_s / REF_SIZE;
            }
            if let Some((steps, per_rank_ref)) = self.pipeline {
                tr += constants::pipeline_fill(steps, tr, per_rank_ref * size / REF_SIZE);
            }
            let total = lat + tr;
            if best.is_none_or(|b| total < b.0) {
                best = Some((total, lat, tr, p));
            }
        }
        best
    }
    /// Smallest latency over protocols: a lower bound on the time of any size.
    pub fn min_latency(&self) -> f64 {
        self.latency.iter().flatten().copied().fold(f64::INFINITY, f64::min)
    }
}

/// Run `op` on `ranks` for every size; `algo = None` chooses per size like NCCL.
pub fn run_sizes(
    f: &Fabric,
    ranks: &[u32],
    op: Op,
    sizes: &[f64],
    algo: Option<Algo>,
    opts: Options,
) -> Result<Vec<CollectiveResult>, CollectiveError> {
    run_sizes_with_progress(f, ranks, op, sizes, algo, opts, &mut |_, _| {})
}

/// [`run_sizes`], telling `progress` (candidate algorithms done, candidates in all) after each
/// candidate is simulated or ruled out: the simulations are where the time goes, pricing the
/// sizes afterwards is instant.
pub fn run_sizes_with_progress(
    f: &Fabric,
    ranks: &[u32],
    op: Op,
    sizes: &[f64],
    algo: Option<Algo>,
    opts: Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<CollectiveResult>, CollectiveError> {
    check_group(f, ranks)?;
    run_sizes_in(
        f,
        &effective_capacities(f),
        false,
        ranks,
        op,
        sizes,
        algo,
        opts,
        progress,
    )
}

/// [`run_sizes`] with the capacities the candidates are priced with given: `run_sizes` prices
/// with [`effective_capacities`] of `f`, which a caller holding them already (a training step's
/// placement) passes instead of scanning every link again. A step passes its own, so its
/// choices and its runs read the same capacities (under a calibration override of the step's
/// thread too, which the pool's other threads do not see).
pub fn run_sizes_on(
    f: &Fabric,
    caps: &[f64],
    ranks: &[u32],
    op: Op,
    sizes: &[f64],
    algo: Option<Algo>,
    opts: Options,
) -> Result<Vec<CollectiveResult>, CollectiveError> {
    run_sizes_checked(f, caps, false, ranks, op, sizes, algo, opts)
}

/// [`run_sizes_on`], told whether `caps` passed `engine::check_capacities` (`caps_valid`, as
/// [`run_plan_routes_checked`] is): a caller choosing for many collectives on one set of
/// capacities checks them once. The same results and errors where `caps_valid` is true
/// exactly when the check passes.
#[allow(clippy::too_many_arguments)]
pub fn run_sizes_checked(
    f: &Fabric,
    caps: &[f64],
    caps_valid: bool,
    ranks: &[u32],
    op: Op,
    sizes: &[f64],
    algo: Option<Algo>,
    opts: Options,
) -> Result<Vec<CollectiveResult>, CollectiveError> {
    check_group(f, ranks)?;
    run_sizes_in(f, caps, caps_valid, ranks, op, sizes, algo, opts, &mut |_, _| {})
}

/// `caps_valid`: whether `caps` passed `engine::check_capacities`; where not told, an
/// analytical choice among several candidates checks them once here for all (a failed check
/// leaves each run to check and report as before).
#[allow(clippy::too_many_arguments)]
fn run_sizes_in(
    f: &Fabric,
    caps: &[f64],
    caps_valid: bool,
    ranks: &[u32],
    op: Op,
    sizes: &[f64],
    algo: Option<Algo>,
    opts: Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<CollectiveResult>, CollectiveError> {
    let n = ranks.len() as u32;
    let cands = match algo {
        Some(a) => vec![a],
        None => select::allowed_candidates(f, ranks, op, opts.in_network),
    };
    let total = cands.len();
    // Checked once for all candidates (each analytical run would check them again; a flow
    // run's engine checks its own).
    let caps_valid =
        caps_valid || (total > 1 && opts.fidelity == Fidelity::Analytical && engine::check_capacities(caps).is_ok());
    progress(0, total);
    // Evaluate candidates; skip one whose latency alone exceeds the best total at every size.
    let mut evals: Vec<Evaluated> = Vec::new();
    let mut last_err = None;
    for (i, a) in cands.into_iter().enumerate() {
        if i > 0 {
            progress(i, total);
        }
        let plan_probe = lower(f, ranks, op, REF_SIZE, a, opts.channels);
        let plan = match plan_probe {
            Ok(p) => p,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let lat_min = Protocol::ALL
            .into_iter()
            .filter_map(|p| latency(&plan, p))
            .fold(f64::INFINITY, f64::min);
        if algo.is_none() && !evals.is_empty() {
            let dominated = sizes.iter().all(|&s| {
                evals
                    .iter()
                    .any(|e| e.time(s, opts.protocol).is_some_and(|t| t.0 <= lat_min))
            });
            if dominated {
                continue;
            }
        }
        match evaluate_plan(f, caps, caps_valid, ranks, a, &plan, opts) {
            Ok(e) => evals.push(e),
            Err(e) => last_err = Some(e),
        }
    }
    progress(total, total);
    if evals.is_empty() {
        return Err(last_err.unwrap_or(CollectiveError::BadGroup("no algorithm applies".into())));
    }
    let mut out = Vec::with_capacity(sizes.len());
    for &s in sizes {
        let mut best: Option<(&Evaluated, Priced)> = None;
        for e in &evals {
            if let Some(t) = e.time(s, opts.protocol) {
                if best.as_ref().is_none_or(|b| t.0 < b.1 .0) {
                    best = Some((e, t));
                }
            }
        }
        let Some((e, (time, lat, tr, p))) = best else {
            return Err(CollectiveError::Unsupported {
                algo: evals[0].algo,
                op,
                why: match opts.protocol {
                    Some(p) => format!("it does not use the {} protocol", p.name()),
                    None => "no protocol applies".into(),
                },
            });
        };
        let algbw = if time > 0.0 { s / time } else { 0.0 };
        out.push(CollectiveResult {
            op,
            algo: e.algo,
            protocol: p,
            ranks: n,
            size_bytes: s,
            time_s: time,
            latency_s: lat,
            transfer_s: tr,
            algbw_bytes_per_s: algbw,
            busbw_bytes_per_s: algbw * op.busbw_factor(n),
            bottlenecks: e.bottlenecks.clone(),
            flows: e.flows,
        });
    }
    Ok(out)
}

/// One size.
pub fn simulate(
    f: &Fabric,
    ranks: &[u32],
    op: Op,
    size: f64,
    algo: Option<Algo>,
    opts: Options,
) -> Result<CollectiveResult, CollectiveError> {
    let mut v = run_sizes(f, ranks, op, &[size], algo, opts)?;
    v.pop().ok_or(CollectiveError::BadGroup("no result".into()))
}

/// Run `op` on several disjoint groups at once (e.g. every EP group's all_to_all, every DP
/// group's all_reduce): each group is lowered with the same algorithm, the plans are merged
/// phase by phase (phase k of the run = phase k of every group; latency steps: the most any
/// group has in that phase) and run as one engine simulation, so groups contend for shared
/// links. `algo = None` takes the algorithm chosen for the first group alone at `size`.
/// `ranks` (and busbw) in the result refer to the largest group.
pub fn run_groups(
    f: &Fabric,
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    algo: Option<Algo>,
    opts: Options,
) -> Result<CollectiveResult, CollectiveError> {
    let first = groups
        .first()
        .ok_or_else(|| CollectiveError::BadGroup("no groups given".into()))?;
    let mut seen = vec![false; f.accel_count()];
    for g in groups {
        check_group(f, g)?;
        for &r in g {
            if std::mem::replace(&mut seen[r as usize], true) {
                return Err(CollectiveError::BadGroup(format!(
                    "accelerator {r} is in two groups (groups must be disjoint)"
                )));
            }
        }
    }
    let algo = match algo {
        Some(a) => a,
        None => simulate(f, first, op, size, None, opts)?.algo,
    };
    let base = f.links.len() as u32;
    let mut merged: Option<Plan> = None;
    for g in groups {
        let plan = lower(f, g, op, REF_SIZE, algo, opts.channels)?;
        let Some(m) = merged.as_mut() else {
            merged = Some(plan);
            continue;
        };
        // Renumber this plan's virtual links after those already merged.
        let shift = m.virtual_links.len() as u32;
        m.virtual_links.extend_from_slice(&plan.virtual_links);
        m.tree_latency |= plan.tree_latency;
        m.nvls |= plan.nvls;
        for (k, mut ph) in plan.phases.into_iter().enumerate() {
            for pf in &mut ph.flows {
                if let Some(p) = pf.path.as_mut() {
                    p.iter_mut().filter(|l| **l >= base).for_each(|l| *l += shift);
                }
            }
            if k == m.phases.len() {
                m.phases.push(ph);
            } else {
                let dst = &mut m.phases[k];
                dst.flows.extend(ph.flows);
                dst.steps_nvlink = dst.steps_nvlink.max(ph.steps_nvlink);
                dst.steps_net = dst.steps_net.max(ph.steps_net);
            }
        }
    }
    let plan = merged.expect("at least one group");
    let caps = effective_capacities(f);
    let (t, bottlenecks) = run_plan(f, &caps, &plan, opts.fidelity)?;
    let lat = latencies(&plan, opts);
    let steps: u32 = plan.phases.iter().map(|ph| ph.steps_nvlink + ph.steps_net).sum();
    let all_ranks: usize = groups.iter().map(|g| g.len()).sum();
    let pipeline = (!plan.nvls).then(|| (steps, plan.bytes() / all_ranks.max(1) as f64));
    let ev = Evaluated {
        algo,
        transfer_ref_s: t,
        latency: lat,
        bottlenecks,
        flows: plan.flow_count(),
        pipeline,
        ll_s_per_byte: ll_s_per_byte(f, first, &plan),
        nvls_heads: nvls_heads(f, first, &plan),
    };
    let (time, lat, tr, p) = ev.time(size, opts.protocol).ok_or(CollectiveError::Unsupported {
        algo,
        op,
        why: "no protocol applies".into(),
    })?;
    let n = groups.iter().map(|g| g.len()).max().unwrap_or(0) as u32;
    let algbw = if time > 0.0 { size / time } else { 0.0 };
    Ok(CollectiveResult {
        op,
        algo,
        protocol: p,
        ranks: n,
        size_bytes: size,
        time_s: time,
        latency_s: lat,
        transfer_s: tr,
        algbw_bytes_per_s: algbw,
        busbw_bytes_per_s: algbw * op.busbw_factor(n),
        bottlenecks: ev.bottlenecks,
        flows: ev.flows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `symmetry_map` as it was written before it compared hop blocks (flow by flow, a pair
    /// of arrays per link): the reference.
    fn symmetry_map_reference(all: &[f64], flows: &FlowSet, ends: &[usize], fidelity: Fidelity) -> Option<SymmetryMap> {
        let n0 = *ends.first()?;
        if ends.len() < 2 || n0 == 0 || ends.last() != Some(&flows.len()) {
            return None;
        }
        if !all.iter().all(|&c| c.is_finite() && c > 0.0) {
            return None;
        }
        const NONE: u32 = u32::MAX;
        let nl = all.len();
        let mut owner = vec![NONE; nl];
        let mut from = vec![NONE; nl];
        let mut image = vec![(NONE, NONE); nl];
        let mut owned: Vec<(u32, u32)> = Vec::new();
        let mut group_ends: Vec<u32> = Vec::new();
        let mut firsts: Vec<u32> = Vec::new();
        if fidelity != Fidelity::Analytical {
            for i in 0..n0 {
                firsts.extend_from_slice(flows.flow(i).0);
            }
            firsts.sort_unstable();
            firsts.dedup();
        }
        let mut start = 0;
        for (k, &end) in ends.iter().enumerate() {
            let k = k as u32;
            if end < start || end - start != n0 {
                return None;
            }
            for i in 0..n0 {
                let p0 = flows.flow(i).0;
                let p = flows.flow(start + i).0;
                if p.len() != p0.len() {
                    return None;
                }
                for (&r, &m) in p0.iter().zip(p) {
                    let (ri, mi) = (r as usize, m as usize);
                    if ri >= nl || mi >= nl || all[mi].to_bits() != all[ri].to_bits() {
                        return None;
                    }
                    match image[ri] {
                        (g, im) if g == k && im != m => return None,
                        (g, _) if g == k => {}
                        _ => image[ri] = (k, m),
                    }
                    if owner[mi] == NONE {
                        owner[mi] = k;
                        from[mi] = r;
                        owned.push((m, r));
                    } else if owner[mi] != k || from[mi] != r {
                        return None;
                    }
                }
            }
            if fidelity != Fidelity::Analytical && k > 0 {
                let mut prev = None;
                for &r in &firsts {
                    let (g, m) = image[r as usize];
                    if g != k || prev.is_some_and(|p| p >= m) {
                        return None;
                    }
                    prev = Some(m);
                }
            }
            group_ends.push(owned.len() as u32);
            start = end;
        }
        Some(SymmetryMap { owned, group_ends })
    }

    thread_local! {
        static SOME: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    /// The property test below meets maps that exist, not only refusals.
    #[test]
    fn symmetry_map_cases_include_maps() {
        symmetry_map_is_the_reference();
        assert!(SOME.with(|c| c.get()) > 100, "{} maps", SOME.with(|c| c.get()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The map read off hop blocks is the reference's, `None` included: groups that are
        /// copies of the first on links of their own (often symmetric), with a link moved,
        /// shared with another group, a path cut short, a group of another size, capacities
        /// that differ, out of range — at both fidelities.
        #[test]
        fn symmetry_map_is_the_reference(
            first in prop::collection::vec(prop::collection::vec(0u32..6, 0..4), 1..5),
            copies in 1usize..5,
            offsets in prop::collection::vec(prop_oneof![Just(6u32), Just(12), 0u32..20], 4),
            tweak in prop_oneof![4 => Just(None), 1 => (0usize..4, 0usize..5, 0u32..30).prop_map(Some)],
            cut in prop_oneof![6 => Just(None), 1 => (0usize..4, 0usize..5).prop_map(Some)],
            caps in prop_oneof![
                3 => (30usize..34).prop_map(|n| vec![1.0f64; n]),
                1 => prop::collection::vec(prop_oneof![3 => Just(1.0f64), 1 => Just(2.0)], 30..34),
            ],
            drop_last in prop_oneof![8 => Just(false), 1 => Just(true)],
        ) {
            let mut flows = FlowSet::new();
            let mut ends = Vec::new();
            for c in 0..copies {
                for (i, path) in first.iter().enumerate() {
                    let off = if c == 0 { 0 } else { offsets[c - 1] * c as u32 };
                    let mut p: Vec<u32> = path.iter().map(|&l| l + off).collect();
                    if let Some((tc, ti, l)) = tweak {
                        if tc == c && ti == i && !p.is_empty() {
                            p[0] = l;
                        }
                    }
                    if cut == Some((c, i)) {
                        p.pop();
                    }
                    if drop_last && c + 1 == copies && i + 1 == first.len() && copies > 1 {
                        continue;
                    }
                    flows.push(&p, 1.0, 1);
                }
                ends.push(flows.len());
            }
            for fidelity in [Fidelity::Analytical, Fidelity::Flow] {
                let got = symmetry_map(&caps, &flows, &ends, fidelity);
                SOME.with(|c| c.set(c.get() + u32::from(got.is_some())));
                prop_assert_eq!(&got, &symmetry_map_reference(&caps, &flows, &ends, fidelity));
                // The thread's arrays went back empty: the next call (the next case) starts
                // from nothing this one set.
                let clean = SYMMETRY_ARRAYS.with(|a| {
                    let a = a.borrow();
                    a.0.iter().chain(&a.1).all(|&x| x == NO_STAMP)
                });
                prop_assert!(clean, "the pooled arrays kept stamps");
                // A symmetric run over the map gives its per-link bytes back zeroed too.
                if let Some(m) = &got {
                    let _ = run_symmetric_with(&caps, &flows, &ends, fidelity, m);
                    let zeroed = FIRST_BYTES.with(|p| p.borrow().iter().all(|&b| b.to_bits() == 0));
                    prop_assert!(zeroed, "the pooled bytes kept loads");
                }
            }
        }
    }
}

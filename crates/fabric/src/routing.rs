//! Routing functions, one per topology family; routes are computed on demand, never stored.
//!
//! - Switched scale-up (NVSwitch star, UB Clos) and every scale-out network route **up-down**
//!   over the scope tree: climb from the source's first switch until reaching a tier whose scope
//!   contains the destination, then descend by scope. Where several up-links or several
//!   parallel down-links qualify, one is chosen by ECMP with the fixed hash [`ecmp_hash`].
//! - Full meshes use the direct link; tori use dimension-order routing (x, then y, then z,
//!   shortest direction, ties to +), following twisted wraparounds.
//! - Dual-plane fabrics choose the plane by the same hash; a route never leaves its plane.
//! - When the scale-out network cannot join two accelerators (rail-only networks across rails),
//!   or when PXN is asked for, the route first moves over the scale-up domain to the
//!   accelerator on the destination's rail, as NCCL's PXN does.
//!
//! How the scale-out network spreads flows over its equal-cost paths is the fabric's
//! [`RoutingMode`] (static ECMP, adaptive routing or packet spraying), applied by a [`Router`];
//! [`Fabric::route`] itself is static ECMP. Scale-up networks keep their own routing in every
//! mode (NVSwitch planes are already folded into one logical switch).

use crate::error::{FabricError, Result};
use crate::model::*;
use std::collections::BTreeMap;

/// How the scale-out network spreads flows over equal-cost paths: a property of the fabric
/// (each preset's default, with its source, is in its TOML file: `routing = "..."`), and of
/// the user's `--routing`.
///
/// The three modes, and the degree to which each avoids collisions, in the flow model:
/// - **`ecmp`** — static hashing: every flow (a (source, destination, channel) triple, i.e.
///   one NCCL connection / QP) takes one path chosen by the fixed hash [`ecmp_hash`] at every
///   decision point, whatever the load. Independent flows collide on up-links and down-links
///   (RFC 2992's hash-threshold ECMP; Meta's RoCE fabric with E-ECMP and QP scaling,
///   Gangidi et al., SIGCOMM 2024, "Routing": the hash includes the QP, so NCCL's channels are the
///   flows). Reproducible: the same input gives the same paths.
/// - **`adaptive`** — load-aware choice per flow: at every decision point the flow takes the
///   least-loaded candidate link (bytes already placed on it by the concurrent flows of the
///   same phase, earlier flows first; ties go to the hashed choice), on its whole route:
///   NIC port, every up-link, every parallel down-link. A flow is not split, so indivisible
///   flows can still leave some imbalance, and a switch sees only its own links, so two flows
///   that leave different leaves on different spines can still meet on a spine's down-link.
///   This is InfiniBand adaptive routing as the subnet manager sets it up on a fat-tree
///   (NVIDIA InfiniBand Cluster Bring-up Procedure, "Adaptive Routing": the switch selects the
///   output port by the port's load among the ports with minimal hops to the destination —
///   the `TREE` AR group — and AR is enabled by default in opensm.conf, `routing_engine
///   ar_updn`), taken at flow(let) granularity; IB makes the choice per packet, which lies
///   between this and `spray`. It is also Alibaba HPN's precise path selection, which picks a
///   path with room for each elephant flow (Qian et al., SIGCOMM 2024).
/// - **`spray`** — every flow is split evenly over all equal-cost paths, per packet
///   (Spectrum-X: per-packet adaptive routing with out-of-order placement at the SuperNIC; the
///   fluid limit of spraying over equal-capacity paths). Modelled exactly for the fluid model:
///   the links that spraying loads equally — a switch tier's up-links out of one scope, its
///   down-links into one scope, an accelerator's ports in one plane — become one trunk whose
///   capacity is their sum, and a flow with several NIC ports sends an equal share through
///   each. No collisions; the reordering cost is left out (the NIC places out-of-order packets
///   directly: NVIDIA DOCA "Out-of-order Data Placement").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum RoutingMode {
    /// Static ECMP hashing per flow (the historical behaviour).
    #[default]
    Ecmp,
    /// Least-loaded path choice per flow at every decision point.
    Adaptive,
    /// Each flow split evenly over every equal-cost path.
    Spray,
}

impl RoutingMode {
    /// Every mode, in order of increasing spreading.
    pub const ALL: [RoutingMode; 3] = [RoutingMode::Ecmp, RoutingMode::Adaptive, RoutingMode::Spray];

    /// The name used by `--routing`, cluster files and JSON.
    pub fn name(self) -> &'static str {
        match self {
            RoutingMode::Ecmp => "ecmp",
            RoutingMode::Adaptive => "adaptive",
            RoutingMode::Spray => "spray",
        }
    }

    /// Parse a name (`ecmp`, `adaptive`, `spray`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// The valid names, comma-separated (for error messages).
    pub fn names() -> String {
        Self::ALL.map(|m| m.name()).join(", ")
    }

    /// One line for a report's assumptions.
    pub fn describe(self) -> &'static str {
        match self {
            RoutingMode::Ecmp => "static ECMP: each flow (source, destination, channel) hashed onto one of the equal-cost paths; flows can collide",
            RoutingMode::Adaptive => "adaptive: each flow takes the least-loaded link at every decision point (flow granularity, switch-local); residual collisions on down-links",
            RoutingMode::Spray => "packet spraying: each flow split evenly over all equal-cost paths (trunks of equally loaded links); no collisions, reordering cost not modelled",
        }
    }
}

/// How a route chooses among equal candidates.
#[derive(Clone, Copy)]
enum Choice<'a> {
    /// Static ECMP: the fixed hash.
    Hash,
    /// Adaptive: the least-loaded candidate (bytes placed so far), ties to the hashed one.
    Least(&'a [f64]),
    /// Spray: leave through source port `i` (one share per port); the rest by hash (the
    /// candidates are one trunk).
    Port(usize),
}

/// Index among `n` candidates: the hashed one, or with [`Choice::Least`] the least-loaded,
/// scanning from the hashed one so that ties keep the hash's choice.
/// The hash `h` is computed only where there is a choice (`n > 1`; [`pick`] of one candidate
/// is 0 whatever the hash).
fn choose(n: usize, h: impl FnOnce() -> u64, ch: Choice, link: impl Fn(usize) -> u32) -> usize {
    let start = if n == 1 { 0 } else { pick(n, h()) };
    match ch {
        Choice::Least(load) if n > 1 => {
            let mut best = start;
            let mut best_load = load[link(start) as usize];
            for k in 1..n {
                let i = (start + k) % n;
                let v = load[link(i) as usize];
                if v < best_load {
                    best = i;
                    best_load = v;
                }
            }
            best
        }
        _ => start,
    }
}

/// Routes flows under a fabric's [`RoutingMode`], keeping what the mode needs: the load
/// placed so far (adaptive) or the trunk of every link (spray). One router serves one
/// simulation; call [`Router::new_phase`] between sets of flows that do not run together.
pub struct Router<'f> {
    f: &'f Fabric,
    mode: RoutingMode,
    /// Adaptive: bytes placed on each link by the flows of the current phase.
    load: Vec<f64>,
    /// Adaptive: links with a non-zero load (to clear them).
    touched: Vec<u32>,
    /// Spray: the representative link of each link's trunk (itself when alone).
    trunk: Vec<u32>,
    /// Spray: number of links in the trunk a representative stands for.
    trunk_size: Vec<u32>,
    buf: Vec<u32>,
}

impl<'f> Router<'f> {
    /// A router under the fabric's own mode.
    pub fn new(f: &'f Fabric) -> Self {
        Self::with_mode(f, f.routing)
    }

    /// A router under `mode`.
    pub fn with_mode(f: &'f Fabric, mode: RoutingMode) -> Self {
        let n = f.links.len();
        let (load, trunk, trunk_size) = match mode {
            RoutingMode::Ecmp => (Vec::new(), Vec::new(), Vec::new()),
            RoutingMode::Adaptive => (vec![0.0; n], Vec::new(), Vec::new()),
            RoutingMode::Spray => {
                let (t, s) = trunks(f);
                (Vec::new(), t, s)
            }
        };
        Self {
            f,
            mode,
            load,
            touched: Vec::new(),
            trunk,
            trunk_size,
            buf: Vec::new(),
        }
    }

    pub fn mode(&self) -> RoutingMode {
        self.mode
    }

    /// The fabric it routes on.
    pub fn fabric(&self) -> &'f Fabric {
        self.f
    }

    /// Forget the load placed so far (adaptive): the next flows do not run with the earlier ones.
    pub fn new_phase(&mut self) {
        for &l in &self.touched {
            self.load[l as usize] = 0.0;
        }
        self.touched.clear();
    }

    /// Route `bytes` from accelerator `src` to `dst` (channel `flow`), calling `emit` with each
    /// path and its bytes: one path, or under `spray` one equal share per NIC port of the
    /// source when the route leaves the scale-up domain. Paths under `spray` use each trunk's
    /// representative link (see [`Router::merge_capacities`]).
    ///
    /// Under ECMP and spray the paths are a function of (`src`, `dst`, `flow`, `opts`) and the
    /// fabric alone — not of `bytes` nor of the flows routed before — and callers rely on it
    /// (`collective::simulate::PlanRoutes`, the schedule's piece caches): keep it so, or make
    /// those caches read what a route would read.
    pub fn route(
        &mut self,
        src: u32,
        dst: u32,
        flow: u64,
        opts: RouteOpts,
        bytes: f64,
        emit: &mut dyn FnMut(&[u32], f64),
    ) -> Result<()> {
        self.buf.clear();
        match self.mode {
            RoutingMode::Ecmp => {
                self.f.route(src, dst, flow, opts, &mut self.buf)?;
                emit(&self.buf, bytes);
            }
            RoutingMode::Adaptive => {
                self.f
                    .route_with(src, dst, flow, opts, Choice::Least(&self.load), &mut self.buf)?;
                if bytes > 0.0 {
                    for &l in &self.buf {
                        let v = &mut self.load[l as usize];
                        if *v == 0.0 {
                            self.touched.push(l);
                        }
                        *v += bytes;
                    }
                }
                emit(&self.buf, bytes);
            }
            RoutingMode::Spray => {
                let ports = self.f.spray_shares(src, dst) as usize;
                for i in 0..ports {
                    self.buf.clear();
                    self.f
                        .route_with(src, dst, flow, opts, Choice::Port(i), &mut self.buf)?;
                    for l in &mut self.buf {
                        *l = self.trunk[*l as usize];
                    }
                    emit(&self.buf, bytes / ports as f64);
                }
            }
        }
        Ok(())
    }

    /// Convenience: the paths of one flow as `(path, bytes)` pairs.
    pub fn route_vec(
        &mut self,
        src: u32,
        dst: u32,
        flow: u64,
        opts: RouteOpts,
        bytes: f64,
    ) -> Result<Vec<(Vec<u32>, f64)>> {
        let mut out = Vec::new();
        self.route(src, dst, flow, opts, bytes, &mut |p, b| out.push((p.to_vec(), b)))?;
        Ok(out)
    }

    /// Under `spray`, give each trunk's representative the summed capacity of its links
    /// (`caps` indexed by fabric link id; entries past the fabric's links are left alone).
    /// The other links of a trunk keep theirs and carry nothing.
    pub fn merge_capacities(&self, caps: &mut [f64]) {
        if self.trunk.is_empty() {
            return;
        }
        let n = self.trunk.len().min(caps.len());
        for l in 0..n {
            let r = self.trunk[l] as usize;
            if r != l {
                caps[r] += caps[l];
            }
        }
    }

    /// Number of links the trunk of representative `link` stands for (1 outside `spray`).
    pub fn trunk_size(&self, link: u32) -> u32 {
        self.trunk_size.get(link as usize).copied().unwrap_or(1)
    }
}

/// Spray trunks: links that uniform spraying loads equally share a representative (the
/// lowest id). Up-links are grouped by (tier, scope) of their lower end and the plane of their
/// upper end, down-links by (tier, scope) of their lower end and the plane of their upper end:
/// in a Clos every switch of one scope reaches the same accelerators, and spraying at each
/// tier splits a flow evenly over them. Scale-up links are never grouped.
fn trunks(f: &Fabric) -> (Vec<u32>, Vec<u32>) {
    let n = f.links.len();
    let mut rep: Vec<u32> = (0..n as u32).collect();
    let mut size = vec![1u32; n];
    let mut first: BTreeMap<(u8, u8, u32, u32), u32> = BTreeMap::new();
    for (l, link) in f.links.iter().enumerate() {
        if link.net == Net::ScaleUp {
            continue;
        }
        let a = &f.nodes[link.src.0 as usize];
        let b = &f.nodes[link.dst.0 as usize];
        let key = if a.tier < b.tier {
            (0u8, a.tier, a.scope, b.plane)
        } else if a.tier > b.tier {
            (1u8, b.tier, b.scope, a.plane)
        } else {
            continue;
        };
        let r = *first.entry(key).or_insert(l as u32);
        if r as usize != l {
            rep[l] = r;
            size[r as usize] += 1;
        }
    }
    (rep, size)
}

/// Options of a route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteOpts {
    /// Forward over the scale-up domain to the NIC on the destination's rail when that keeps
    /// the network part of the path under one leaf (NCCL's PXN).
    pub pxn: bool,
}

/// SplitMix64 finaliser: the fixed, documented hash behind every ECMP and plane choice.
/// It depends only on its input, never on the Rust release or the process.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// ECMP hash of a flow `(src, dst, flow)` at decision point `step`.
pub fn ecmp_hash(src: u32, dst: u32, flow: u64, step: u32) -> u64 {
    ecmp_hash_of_pair(ecmp_pair(src, dst), flow, step)
}

/// The part of [`ecmp_hash`] that depends on the endpoints alone, for a route that hashes at
/// several decision points.
#[inline]
fn ecmp_pair(src: u32, dst: u32) -> u64 {
    splitmix64(((src as u64) << 32) | dst as u64)
}

/// [`ecmp_hash`] of the flow whose [`ecmp_pair`] is `pair`.
#[inline]
fn ecmp_hash_of_pair(pair: u64, flow: u64, step: u32) -> u64 {
    splitmix64(pair ^ splitmix64(flow ^ ((step as u64) << 48)))
}

/// One hop of a climb or descent: one of `hops` (`(link, node it leads to)`, side by side, at
/// least one) chosen by `ch` with the hash of the endpoints' `pair` at decision point `step`;
/// its link is pushed on `out` and its node returned.
#[inline]
fn take_hop(hops: &[(u32, u32)], pair: u64, flow: u64, step: u32, ch: Choice, out: &mut Vec<u32>) -> NodeId {
    let x = choose(hops.len(), || ecmp_hash_of_pair(pair, flow, step), ch, |x| hops[x].0);
    let (l, next) = hops[x];
    out.push(l);
    NodeId(next)
}

/// `h mod n` (`n ≥ 1`): a mask where `n` is a power of two (the usual switch radix; the same
/// value), not a division on the route's chain of loads.
#[inline]
fn pick(n: usize, h: u64) -> usize {
    let n = n as u64;
    if n & n.wrapping_sub(1) == 0 {
        (h & n.wrapping_sub(1)) as usize
    } else {
        (h % n) as usize
    }
}

/// Torus geometry helper: the neighbour of `c` one step along dimension `d` in direction
/// `dir` (+1 or -1), with wraparound and twist. `None` past a mesh edge.
pub fn torus_step(
    c: [u32; 3],
    d: usize,
    forward: bool,
    dims: [u32; 3],
    wrap: [bool; 3],
    twist: [u32; 3],
) -> Option<[u32; 3]> {
    let n = dims[d];
    let mut out = c;
    let long = long_dim(dims);
    if forward {
        if c[d] + 1 < n {
            out[d] = c[d] + 1;
        } else {
            if !wrap[d] {
                return None;
            }
            out[d] = 0;
            if twist[d] != 0 && d != long {
                out[long] = (c[long] + twist[d]) % dims[long];
            }
        }
    } else if c[d] > 0 {
        out[d] = c[d] - 1;
    } else {
        if !wrap[d] {
            return None;
        }
        out[d] = n - 1;
        if twist[d] != 0 && d != long {
            out[long] = (c[long] + dims[long] - twist[d] % dims[long]) % dims[long];
        }
    }
    Some(out)
}

/// The dimension twists shift along: the last of the longest dimensions.
pub fn long_dim(dims: [u32; 3]) -> usize {
    let m = *dims.iter().max().unwrap_or(&1);
    (0..3).rev().find(|&d| dims[d] == m).unwrap_or(2)
}

pub fn torus_coord(local: u32, dims: [u32; 3]) -> [u32; 3] {
    [
        local % dims[0],
        (local / dims[0]) % dims[1],
        local / (dims[0] * dims[1]),
    ]
}

pub fn torus_index(c: [u32; 3], dims: [u32; 3]) -> u32 {
    c[0] + dims[0] * (c[1] + dims[1] * c[2])
}

impl Fabric {
    /// Route one flow from accelerator `src` to accelerator `dst`, appending link ids to `out`.
    /// `flow` distinguishes parallel flows of one pair (NCCL channels); it feeds the ECMP hash.
    pub fn route(&self, src: u32, dst: u32, flow: u64, opts: RouteOpts, out: &mut Vec<u32>) -> Result<()> {
        self.route_with(src, dst, flow, opts, Choice::Hash, out)
    }

    fn route_with(&self, src: u32, dst: u32, flow: u64, opts: RouteOpts, ch: Choice, out: &mut Vec<u32>) -> Result<()> {
        let n = self.accels.len() as u32;
        if src >= n || dst >= n {
            return Err(FabricError::NoRoute {
                src,
                dst,
                why: format!("the fabric has {n} accelerators"),
            });
        }
        if src == dst {
            return Ok(());
        }
        if self.domain_of(src) == self.domain_of(dst) {
            return self.route_scale_up(src, dst, flow, out);
        }
        let ds = self.domain_size;
        let relay = self.domain_of(src) * ds + dst % ds;
        if opts.pxn && ds > 1 && relay != src && self.shares_leaf(relay, dst) && !self.shares_leaf(src, dst) {
            self.route_scale_up(src, relay, flow, out)?;
            return self.route_scale_out(relay, dst, flow, ch, out);
        }
        let mark = out.len();
        match self.route_scale_out(src, dst, flow, ch, out) {
            Ok(()) => Ok(()),
            Err(e) => {
                out.truncate(mark);
                if ds > 1 && relay != src {
                    self.route_scale_up(src, relay, flow, out)?;
                    self.route_scale_out(relay, dst, flow, ch, out)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Convenience: the route as a new vector.
    pub fn route_vec(&self, src: u32, dst: u32, flow: u64, opts: RouteOpts) -> Result<Vec<u32>> {
        let mut v = Vec::new();
        self.route(src, dst, flow, opts, &mut v)?;
        Ok(v)
    }

    fn shares_leaf(&self, a: u32, b: u32) -> bool {
        // One port each (most fabrics): their switches' scopes, from the ports' records.
        if let (Some(x), Some(y)) = (self.one_port(a, 0), self.one_port(b, 0)) {
            return x.scope == y.scope;
        }
        let pa = self.scale_out_ports(a);
        let pb = self.scale_out_ports(b);
        pa.iter().any(|&x| {
            let sa = self.nodes[self.links[x as usize].dst.0 as usize].scope;
            pb.iter()
                .any(|&y| self.nodes[self.links[y as usize].dst.0 as usize].scope == sa)
        })
    }

    fn route_scale_up(&self, src: u32, dst: u32, flow: u64, out: &mut Vec<u32>) -> Result<()> {
        let a = self.accels[src as usize];
        let b = self.accels[dst as usize];
        match &self.scale_up {
            ScaleUpKind::None => Err(FabricError::NoRoute {
                src,
                dst,
                why: "no scale-up network".into(),
            }),
            ScaleUpKind::FullMesh => match self.link_between(a, b) {
                Some(l) => {
                    out.push(l.0);
                    Ok(())
                }
                None => Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "full mesh lacks the direct link".into(),
                }),
            },
            ScaleUpKind::Switched => {
                // One port each (most scale-up domains): the route from the ports' records,
                // as below with one candidate on each side.
                if let (Some(x), Some(y)) = (self.one_port(src, 1), self.one_port(dst, 1)) {
                    return self.clos_at(src, dst, flow, Choice::Hash, x, y, out);
                }
                let pa = self.scale_up_ports(src);
                let pb = self.scale_up_ports(dst);
                if pa.is_empty() || pb.is_empty() {
                    return Err(FabricError::NoRoute {
                        src,
                        dst,
                        why: "accelerator has no scale-up port".into(),
                    });
                }
                let i = if pa.len() == 1 {
                    0
                } else {
                    pick(pa.len(), ecmp_hash(src, dst, flow, 0))
                };
                // Ports are made in the same order on every accelerator (one per scale-up plane).
                let j = i.min(pb.len() - 1);
                self.clos(src, dst, flow, Choice::Hash, pa[i], pb[j], out)
            }
            ScaleUpKind::Torus { dims, wrap, twist } => {
                let ds = self.domain_size;
                let base = self.domain_of(src) * ds;
                let mut cur = torus_coord(src - base, *dims);
                let target = torus_coord(dst - base, *dims);
                let mut guard = 0u32;
                for d in 0..3 {
                    while cur[d] != target[d] {
                        let nd = dims[d];
                        let fwd_dist = (target[d] + nd - cur[d]) % nd;
                        let forward = if wrap[d] {
                            fwd_dist <= nd - fwd_dist
                        } else {
                            target[d] > cur[d]
                        };
                        let next =
                            torus_step(cur, d, forward, *dims, *wrap, *twist).ok_or_else(|| FabricError::NoRoute {
                                src,
                                dst,
                                why: "torus step off the mesh edge".into(),
                            })?;
                        let na = self.accels[(base + torus_index(next, *dims)) as usize];
                        let ca = self.accels[(base + torus_index(cur, *dims)) as usize];
                        let l = self.link_between(ca, na).ok_or_else(|| FabricError::NoRoute {
                            src,
                            dst,
                            why: "torus neighbour link missing".into(),
                        })?;
                        out.push(l.0);
                        cur = next;
                        guard += 1;
                        if guard > dims.iter().sum::<u32>() * 4 {
                            return Err(FabricError::NoRoute {
                                src,
                                dst,
                                why: "torus route does not converge".into(),
                            });
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Under [`RoutingMode::Spray`], the equal shares a flow from `src` to `dst` is split into
    /// ([`Router::route`]): one per scale-out port of the source when the route leaves the
    /// scale-up domain, else 1.
    pub fn spray_shares(&self, src: u32, dst: u32) -> u32 {
        let n = self.accels.len() as u32;
        if src < n && dst < n && self.domain_of(src) != self.domain_of(dst) {
            self.scale_out_ports(src).len().max(1) as u32
        } else {
            1
        }
    }

    fn route_scale_out(&self, src: u32, dst: u32, flow: u64, ch: Choice, out: &mut Vec<u32>) -> Result<()> {
        // One port at each end (most fabrics), from the ports' records: what the same case
        // below gives.
        if let (Some(x), Some(y)) = (self.one_port(src, 0), self.one_port(dst, 0)) {
            if x.plane != y.plane {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: format!("destination has no port in plane {}", x.plane),
                });
            }
            return self.clos_at(src, dst, flow, ch, x, y, out);
        }
        let pa = self.scale_out_ports(src);
        let pb = self.scale_out_ports(dst);
        if pa.is_empty() || pb.is_empty() {
            return Err(FabricError::NoRoute {
                src,
                dst,
                why: "no scale-out port".into(),
            });
        }
        let plane_of = |l: u32| self.nodes[self.links[l as usize].dst.0 as usize].plane;
        // One port at each end (most fabrics): no choice to make, whatever the mode (what the
        // general case below gives with one candidate on each side).
        if let (&[a], &[b]) = (pa, pb) {
            let plane = plane_of(a);
            if plane_of(b) != plane {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: format!("destination has no port in plane {plane}"),
                });
            }
            return self.clos(src, dst, flow, ch, a, b, out);
        }
        // Plane choice: the hash picks one of the source's ports; the destination port must be
        // in the same plane.
        let h = || ecmp_hash(src, dst, flow, 0);
        let i = match ch {
            Choice::Port(k) => k % pa.len(),
            // Adaptive: the port (and so the plane) is chosen at the ends, for the flow's whole
            // path: a port scores the larger of its own load and that of the least-loaded
            // destination port in its plane (a plane cannot be left on the way).
            Choice::Least(load) if pa.len() > 1 => {
                let score = |k: usize| {
                    let p = plane_of(pa[k]);
                    let dst_load = pb
                        .iter()
                        .filter(|&&l| plane_of(l) == p)
                        .map(|&l| load[(l ^ 1) as usize])
                        .fold(f64::INFINITY, f64::min);
                    load[pa[k] as usize].max(dst_load)
                };
                let start = pick(pa.len(), h());
                let mut best = start;
                let mut best_score = score(start);
                for k in 1..pa.len() {
                    let c = (start + k) % pa.len();
                    let v = score(c);
                    if v < best_score {
                        best = c;
                        best_score = v;
                    }
                }
                best
            }
            _ if pa.len() == 1 => 0,
            _ => pick(pa.len(), h()),
        };
        let plane = plane_of(pa[i]);
        // The destination's ports in the plane, counted and indexed without a vector (this runs
        // once per routed flow).
        let same_len = pb.iter().filter(|&&l| plane_of(l) == plane).count();
        if same_len == 0 {
            return Err(FabricError::NoRoute {
                src,
                dst,
                why: format!("destination has no port in plane {plane}"),
            });
        }
        let same = |k: usize| -> usize {
            if same_len == pb.len() {
                k
            } else {
                (0..pb.len()).filter(|&j| plane_of(pb[j]) == plane).nth(k).unwrap_or(0)
            }
        };
        let j = match ch {
            // Spray: the destination port of the same rank within the plane.
            Choice::Port(_) => {
                let rank = (0..i).filter(|&x| plane_of(pa[x]) == plane).count();
                same(rank % same_len)
            }
            // The destination port's load is on its leaf → accelerator link.
            _ => same(choose(
                same_len,
                || ecmp_hash(dst, src, flow, 40),
                ch,
                |k| pb[same(k)] ^ 1,
            )),
        };
        self.clos(src, dst, flow, ch, pa[i], pb[j], out)
    }

    /// Up-down route from port link `pa` (src → first switch) to port link `pb` (dst → first
    /// switch); the last hop is `pb`'s reverse.
    #[allow(clippy::too_many_arguments)]
    fn clos(&self, src: u32, dst: u32, flow: u64, ch: Choice, pa: u32, pb: u32, out: &mut Vec<u32>) -> Result<()> {
        let port = |l: u32| {
            let switch = self.links[l as usize].dst.0;
            OnePort {
                port: l,
                switch,
                plane: NONE,
                scope: self.nodes[switch as usize].scope,
            }
        };
        self.clos_at(src, dst, flow, ch, port(pa), port(pb), out)
    }

    /// [`Fabric::clos`] from the two ports' records (their switches and the switches'
    /// scopes; the planes are not read).
    #[allow(clippy::too_many_arguments)]
    fn clos_at(
        &self,
        src: u32,
        dst: u32,
        flow: u64,
        ch: Choice,
        a: OnePort,
        b: OnePort,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let (pa, pb) = (a.port, b.port);
        let (leaf_a, leaf_b) = (NodeId(a.switch), NodeId(b.switch));
        // Both ports on one switch that has a scope (a scale-up switch, a shared leaf): up to
        // it and down — what the general walk below gives when the ends meet at once (the
        // same scope at the start of both chains: no climb, no descent, the descent ends at
        // the destination's own switch).
        if leaf_a == leaf_b && b.scope != NONE {
            out.push(pa);
            out.push(pb ^ 1);
            return Ok(());
        }
        // Scope chain of the destination, tier 1 upward.
        let mut chain_b = [NONE; 8];
        let mut s = b.scope;
        let mut depth_b = 0;
        while s != NONE && depth_b < 8 {
            chain_b[depth_b] = s;
            depth_b += 1;
            s = self.scope_parent[s as usize];
        }
        // Find the lowest common scope: `up` steps above the source's leaf, `down` steps above
        // the destination's. Within one Clos both are equal; sites of different depths joined
        // over a DCI (`topology::sites`) climb a different number of steps on each side.
        let mut sa = a.scope;
        let mut meet = None;
        let mut up = 0;
        while sa != NONE && up < 8 {
            if let Some(k) = chain_b[..depth_b].iter().position(|&sb| sb == sa) {
                meet = Some((up, k));
                break;
            }
            sa = self.scope_parent[sa as usize];
            up += 1;
        }
        let (up, top) = meet.ok_or_else(|| FabricError::NoRoute {
            src,
            dst,
            why: "the two accelerators share no switch tier (different planes or rails)".into(),
        })?;
        out.push(pa);
        let pair = ecmp_pair(src, dst);
        let mut cur = leaf_a;
        for k in 0..up {
            let u = cur.0 as usize;
            let base = self.up_start[u] as usize;
            let ups = &self.up_hop[base..self.up_start[u + 1] as usize];
            if ups.is_empty() {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "switch has no up-link".into(),
                });
            }
            cur = take_hop(ups, pair, flow, 1 + k as u32, ch, out);
        }
        for k in (0..top).rev() {
            let want = chain_b[k];
            let u = cur.0 as usize;
            let base = self.down_start[u] as usize;
            let downs = &self.down_links[base..self.down_start[u + 1] as usize];
            // `want`'s run: from the switch's table of runs where it has one (no search over
            // links spread in memory), else by a search.
            let (lo, hi) = match self.down_runs[u].range(want, &self.down_run_bounds) {
                Some(r) => (r.start, r.end),
                None => {
                    let lo = downs.partition_point(|&(sc, _)| sc < want);
                    // The end of `want`'s run (`partition_point(sc <= want)`; runs are short).
                    (lo, lo + downs[lo..].iter().take_while(|&&(sc, _)| sc == want).count())
                }
            };
            if lo == hi {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "no down-link toward the destination".into(),
                });
            }
            cur = take_hop(&self.down_hop[base + lo..base + hi], pair, flow, 16 + k as u32, ch, out);
        }
        if cur != leaf_b {
            // Another switch with the same down-scope (e.g. the second ToR of a pair in one
            // plane): leave through its own link to the destination.
            let b = self.accels[dst as usize];
            let l = self.link_between(cur, b).ok_or_else(|| FabricError::NoRoute {
                src,
                dst,
                why: "descent ended at a switch without a link to the destination".into(),
            })?;
            out.push(l.0);
            return Ok(());
        }
        out.push(pb ^ 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The routing functions as they were before the shortcuts of a single port at each end
    /// and of both ends on one switch: the reference the routes are checked against.
    impl Fabric {
        fn ref_route_with(
            &self,
            src: u32,
            dst: u32,
            flow: u64,
            opts: RouteOpts,
            ch: Choice,
            out: &mut Vec<u32>,
        ) -> Result<()> {
            let n = self.accels.len() as u32;
            if src >= n || dst >= n {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: format!("the fabric has {n} accelerators"),
                });
            }
            if src == dst {
                return Ok(());
            }
            if self.domain_of(src) == self.domain_of(dst) {
                return self.ref_route_scale_up(src, dst, flow, out);
            }
            let ds = self.domain_size;
            let relay = self.domain_of(src) * ds + dst % ds;
            if opts.pxn && ds > 1 && relay != src && self.ref_shares_leaf(relay, dst) && !self.ref_shares_leaf(src, dst)
            {
                self.ref_route_scale_up(src, relay, flow, out)?;
                return self.ref_route_scale_out(relay, dst, flow, ch, out);
            }
            let mark = out.len();
            match self.ref_route_scale_out(src, dst, flow, ch, out) {
                Ok(()) => Ok(()),
                Err(e) => {
                    out.truncate(mark);
                    if ds > 1 && relay != src {
                        self.ref_route_scale_up(src, relay, flow, out)?;
                        self.ref_route_scale_out(relay, dst, flow, ch, out)
                    } else {
                        Err(e)
                    }
                }
            }
        }

        /// `shares_leaf` as it was before the ports' records: every pair of ports.
        fn ref_shares_leaf(&self, a: u32, b: u32) -> bool {
            let pa = self.scale_out_ports(a);
            let pb = self.scale_out_ports(b);
            pa.iter().any(|&x| {
                let sa = self.nodes[self.links[x as usize].dst.0 as usize].scope;
                pb.iter()
                    .any(|&y| self.nodes[self.links[y as usize].dst.0 as usize].scope == sa)
            })
        }

        fn ref_route_scale_up(&self, src: u32, dst: u32, flow: u64, out: &mut Vec<u32>) -> Result<()> {
            let a = self.accels[src as usize];
            let b = self.accels[dst as usize];
            match &self.scale_up {
                ScaleUpKind::None => Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "no scale-up network".into(),
                }),
                ScaleUpKind::FullMesh => match self.link_between(a, b) {
                    Some(l) => {
                        out.push(l.0);
                        Ok(())
                    }
                    None => Err(FabricError::NoRoute {
                        src,
                        dst,
                        why: "full mesh lacks the direct link".into(),
                    }),
                },
                ScaleUpKind::Switched => {
                    let pa = self.scale_up_ports(src);
                    let pb = self.scale_up_ports(dst);
                    if pa.is_empty() || pb.is_empty() {
                        return Err(FabricError::NoRoute {
                            src,
                            dst,
                            why: "accelerator has no scale-up port".into(),
                        });
                    }
                    let i = if pa.len() == 1 {
                        0
                    } else {
                        pick(pa.len(), ecmp_hash(src, dst, flow, 0))
                    };
                    // Ports are made in the same order on every accelerator (one per scale-up plane).
                    let j = i.min(pb.len() - 1);
                    self.ref_clos(src, dst, flow, Choice::Hash, pa[i], pb[j], out)
                }
                ScaleUpKind::Torus { dims, wrap, twist } => {
                    let ds = self.domain_size;
                    let base = self.domain_of(src) * ds;
                    let mut cur = torus_coord(src - base, *dims);
                    let target = torus_coord(dst - base, *dims);
                    let mut guard = 0u32;
                    for d in 0..3 {
                        while cur[d] != target[d] {
                            let nd = dims[d];
                            let fwd_dist = (target[d] + nd - cur[d]) % nd;
                            let forward = if wrap[d] {
                                fwd_dist <= nd - fwd_dist
                            } else {
                                target[d] > cur[d]
                            };
                            let next = torus_step(cur, d, forward, *dims, *wrap, *twist).ok_or_else(|| {
                                FabricError::NoRoute {
                                    src,
                                    dst,
                                    why: "torus step off the mesh edge".into(),
                                }
                            })?;
                            let na = self.accels[(base + torus_index(next, *dims)) as usize];
                            let ca = self.accels[(base + torus_index(cur, *dims)) as usize];
                            let l = self.link_between(ca, na).ok_or_else(|| FabricError::NoRoute {
                                src,
                                dst,
                                why: "torus neighbour link missing".into(),
                            })?;
                            out.push(l.0);
                            cur = next;
                            guard += 1;
                            if guard > dims.iter().sum::<u32>() * 4 {
                                return Err(FabricError::NoRoute {
                                    src,
                                    dst,
                                    why: "torus route does not converge".into(),
                                });
                            }
                        }
                    }
                    Ok(())
                }
            }
        }

        fn ref_route_scale_out(&self, src: u32, dst: u32, flow: u64, ch: Choice, out: &mut Vec<u32>) -> Result<()> {
            let pa = self.scale_out_ports(src);
            let pb = self.scale_out_ports(dst);
            if pa.is_empty() || pb.is_empty() {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "no scale-out port".into(),
                });
            }
            // Plane choice: the hash picks one of the source's ports; the destination port must be
            // in the same plane.
            let h = || ecmp_hash(src, dst, flow, 0);
            let plane_of = |l: u32| self.nodes[self.links[l as usize].dst.0 as usize].plane;
            let i = match ch {
                Choice::Port(k) => k % pa.len(),
                // Adaptive: the port (and so the plane) is chosen at the ends, for the flow's whole
                // path: a port scores the larger of its own load and that of the least-loaded
                // destination port in its plane (a plane cannot be left on the way).
                Choice::Least(load) if pa.len() > 1 => {
                    let score = |k: usize| {
                        let p = plane_of(pa[k]);
                        let dst_load = pb
                            .iter()
                            .filter(|&&l| plane_of(l) == p)
                            .map(|&l| load[(l ^ 1) as usize])
                            .fold(f64::INFINITY, f64::min);
                        load[pa[k] as usize].max(dst_load)
                    };
                    let start = pick(pa.len(), h());
                    let mut best = start;
                    let mut best_score = score(start);
                    for k in 1..pa.len() {
                        let c = (start + k) % pa.len();
                        let v = score(c);
                        if v < best_score {
                            best = c;
                            best_score = v;
                        }
                    }
                    best
                }
                _ if pa.len() == 1 => 0,
                _ => pick(pa.len(), h()),
            };
            let plane = plane_of(pa[i]);
            // The destination's ports in the plane, counted and indexed without a vector (this runs
            // once per routed flow).
            let same_len = pb.iter().filter(|&&l| plane_of(l) == plane).count();
            if same_len == 0 {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: format!("destination has no port in plane {plane}"),
                });
            }
            let same = |k: usize| -> usize {
                if same_len == pb.len() {
                    k
                } else {
                    (0..pb.len()).filter(|&j| plane_of(pb[j]) == plane).nth(k).unwrap_or(0)
                }
            };
            let j = match ch {
                // Spray: the destination port of the same rank within the plane.
                Choice::Port(_) => {
                    let rank = (0..i).filter(|&x| plane_of(pa[x]) == plane).count();
                    same(rank % same_len)
                }
                // The destination port's load is on its leaf → accelerator link.
                _ => same(choose(
                    same_len,
                    || ecmp_hash(dst, src, flow, 40),
                    ch,
                    |k| pb[same(k)] ^ 1,
                )),
            };
            self.ref_clos(src, dst, flow, ch, pa[i], pb[j], out)
        }

        #[allow(clippy::too_many_arguments)]
        fn ref_clos(
            &self,
            src: u32,
            dst: u32,
            flow: u64,
            ch: Choice,
            pa: u32,
            pb: u32,
            out: &mut Vec<u32>,
        ) -> Result<()> {
            let leaf_a = self.links[pa as usize].dst;
            let leaf_b = self.links[pb as usize].dst;
            // Scope chain of the destination, tier 1 upward.
            let mut chain_b = [NONE; 8];
            let mut s = self.nodes[leaf_b.0 as usize].scope;
            let mut depth_b = 0;
            while s != NONE && depth_b < 8 {
                chain_b[depth_b] = s;
                depth_b += 1;
                s = self.scope_parent[s as usize];
            }
            // Find the lowest common scope: `up` steps above the source's leaf, `down` steps above
            // the destination's. Within one Clos both are equal; sites of different depths joined
            // over a DCI (`topology::sites`) climb a different number of steps on each side.
            let mut sa = self.nodes[leaf_a.0 as usize].scope;
            let mut meet = None;
            let mut up = 0;
            while sa != NONE && up < 8 {
                if let Some(k) = chain_b[..depth_b].iter().position(|&sb| sb == sa) {
                    meet = Some((up, k));
                    break;
                }
                sa = self.scope_parent[sa as usize];
                up += 1;
            }
            let (up, top) = meet.ok_or_else(|| FabricError::NoRoute {
                src,
                dst,
                why: "the two accelerators share no switch tier (different planes or rails)".into(),
            })?;
            out.push(pa);
            let mut cur = leaf_a;
            for k in 0..up {
                let u = cur.0 as usize;
                let base = self.up_start[u] as usize;
                let ups = &self.up_hop[base..self.up_start[u + 1] as usize];
                if ups.is_empty() {
                    return Err(FabricError::NoRoute {
                        src,
                        dst,
                        why: "switch has no up-link".into(),
                    });
                }
                let x = choose(ups.len(), || ecmp_hash(src, dst, flow, 1 + k as u32), ch, |x| ups[x].0);
                out.push(ups[x].0);
                cur = NodeId(ups[x].1);
            }
            for k in (0..top).rev() {
                let want = chain_b[k];
                let u = cur.0 as usize;
                let base = self.down_start[u] as usize;
                let downs = &self.down_links[base..self.down_start[u + 1] as usize];
                let lo = downs.partition_point(|&(sc, _)| sc < want);
                // The end of `want`'s run (`partition_point(sc <= want)`; runs are short).
                let hi = lo + downs[lo..].iter().take_while(|&&(sc, _)| sc == want).count();
                if lo == hi {
                    return Err(FabricError::NoRoute {
                        src,
                        dst,
                        why: "no down-link toward the destination".into(),
                    });
                }
                let x = lo
                    + choose(
                        hi - lo,
                        || ecmp_hash(src, dst, flow, 16 + k as u32),
                        ch,
                        |x| downs[lo + x].1,
                    );
                out.push(downs[x].1);
                cur = NodeId(self.down_hop[base + x].1);
            }
            if cur != leaf_b {
                // Another switch with the same down-scope (e.g. the second ToR of a pair in one
                // plane): leave through its own link to the destination.
                let b = self.accels[dst as usize];
                let l = self.link_between(cur, b).ok_or_else(|| FabricError::NoRoute {
                    src,
                    dst,
                    why: "descent ended at a switch without a link to the destination".into(),
                })?;
                out.push(l.0);
                return Ok(());
            }
            out.push(pb ^ 1);
            Ok(())
        }
    }

    /// Fabrics with every kind of route: one scale-up node, a fat-tree of three tiers, an
    /// oversubscribed one, rails, dual-ToR dual-plane ports, an NVL72 rack, two sites, a torus.
    const SPECS: &[&str] = &[
        "dgx-h100",
        "fat-tree:gpus=1024,tiers=3",
        "fat-tree:gpus=256,oversub=3",
        "rail-optimized:gpus=128",
        "hpn7-pod:hosts=8,segments=1",
        "gb200-nvl72",
        "multi-site:gpus=256,sites=2,distance_km=10",
        "tpu-v4-pod:slice=4x4x4",
    ];

    thread_local! {
        static FABRICS: Vec<Fabric> = {
            let mut v: Vec<Fabric> = SPECS
                .iter()
                .map(|s| crate::presets::build_preset(s).unwrap_or_else(|e| panic!("{s}: {e}")).1)
                .collect();
            // Dual-plane with one port per accelerator, alternating planes: one port at each
            // end whose planes may differ (no route).
            let mut one = v[4].clone();
            let (mut start, mut ports) = (vec![0u32], Vec::new());
            for r in 0..one.accels.len() as u32 {
                let p = one.scale_out_ports(r);
                if let Some(&l) = p.get(r as usize % p.len().max(1)) {
                    ports.push(l);
                }
                start.push(ports.len() as u32);
            }
            (one.so_port_start, one.so_ports) = (start, ports);
            one.index_ports();
            v.push(one);
            v
        };
    }

    /// The search `clos` falls back to: where `want`'s run lies among sorted down-links (an
    /// empty run as `0..0`: a route only tells it is empty).
    fn searched(downs: &[(u32, u32)], want: u32) -> std::ops::Range<usize> {
        let lo = downs.partition_point(|&(sc, _)| sc < want);
        let r = lo..lo + downs[lo..].iter().take_while(|&&(sc, _)| sc == want).count();
        if r.is_empty() {
            0..0
        } else {
            r
        }
    }

    /// Every switch of the test fabrics (and of a 9,216-GPU fat-tree, whose core switches reach
    /// their pods over runs of unequal lengths): the table gives each scope (those present,
    /// around them, and far off) the search's range; nearly every switch has one (all of the
    /// fat-tree's).
    #[test]
    fn down_runs_are_the_search() {
        let big = crate::presets::build_preset("fat-tree:gpus=9216").unwrap().1;
        let (mut tables, mut switches) = (0, 0);
        FABRICS.with(|fs| {
            for f in fs.iter().chain([&big]) {
                let mut bounds = Vec::new();
                for u in 0..f.nodes.len() {
                    let downs = &f.down_links[f.down_start[u] as usize..f.down_start[u + 1] as usize];
                    let runs = f.down_runs[u];
                    let again = crate::model::DownRuns::of(downs, &mut bounds);
                    assert_eq!((runs.first, runs.span), (again.first, again.span));
                    if downs.is_empty() {
                        assert_eq!(runs.range(7, &f.down_run_bounds), None);
                        continue;
                    }
                    let last = downs[downs.len() - 1].0;
                    let wants =
                        downs
                            .iter()
                            .map(|d| d.0)
                            .chain([0, last + 1, last + 7, u32::MAX, downs[0].0.wrapping_sub(1)]);
                    switches += 1;
                    if runs.span == 0 {
                        // Scopes too spread (a rail-optimised leaf's accelerators): searched.
                        assert!(!std::ptr::eq(f, &big), "switch {u} of the fat-tree has no table");
                        continue;
                    }
                    tables += 1;
                    for want in wants {
                        let r = runs.range(want, &f.down_run_bounds);
                        assert_eq!(
                            r.map(|r| if r.is_empty() { 0..0 } else { r }),
                            Some(searched(downs, want)),
                            "switch {u}, scope {want}"
                        );
                    }
                }
            }
        });
        assert!(tables * 10 > switches * 9, "{tables} tables for {switches} switches");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any sorted down-link list (runs of any lengths, scopes with gaps, near `u32::MAX`):
        /// where `DownRuns::of` makes a table, it gives the search's range for every scope;
        /// it makes one unless the scopes spread too far.
        #[test]
        fn down_runs_of_any_list(first in prop_oneof![Just(0u32), 0u32..100, Just(u32::MAX - 40)], runs in prop::collection::vec(1usize..4, 0..6),
                                 gaps in prop::collection::vec(prop_oneof![Just(0u32), 0u32..3, Just(100)], 6), want in 0u32..120) {
            let mut downs = Vec::new();
            let mut s = first;
            for (k, &r) in runs.iter().enumerate() {
                for j in 0..r {
                    downs.push((s, (k * 4 + j) as u32));
                }
                s = s.saturating_add(1 + gaps[k]);
            }
            downs.sort_unstable();
            let mut bounds = vec![9, 9];
            let d = crate::model::DownRuns::of(&downs, &mut bounds);
            let spread = downs.last().map_or(0, |l| u64::from(l.0) - u64::from(downs[0].0) + 1);
            prop_assert_eq!(d.span > 0, !downs.is_empty() && spread <= 2 * downs.len() as u64 + 16);
            for w in [want, first, first.wrapping_add(want % 8), first.wrapping_add(want), first.wrapping_sub(1), u32::MAX] {
                if let Some(r) = d.range(w, &bounds) {
                    prop_assert_eq!(if r.is_empty() { 0..0 } else { r }, searched(&downs, w));
                }
            }
        }

        /// The pick is the hash modulo the count, a power of two or not; the hash from the
        /// pair's part is the whole hash.
        #[test]
        fn pick_is_the_remainder(n in prop_oneof![1usize..70, Just(1 << 20), Just(usize::MAX)], h: u64,
                                 src: u32, dst: u32, flow: u64, step: u32) {
            prop_assert_eq!(pick(n, h) as u64, h % n as u64);
            let whole = splitmix64(splitmix64(((src as u64) << 32) | dst as u64) ^ splitmix64(flow ^ ((step as u64) << 48)));
            prop_assert_eq!(ecmp_hash_of_pair(ecmp_pair(src, dst), flow, step), whole);
        }

        /// Every route (or error) is the reference's, hop for hop, under the hash, a spray
        /// port and the least-loaded choice, with and without PXN, endpoints in or out of range.
        #[test]
        fn routes_are_the_reference(fi in 0..SPECS.len() + 1, a in 0u32..1100, b in 0u32..1100, flow in 0u64..6,
                                    pxn in any::<bool>(), choice in 0usize..3, port in 0usize..3, seed in any::<u64>()) {
            FABRICS.with(|fs| {
                let f = &fs[fi];
                let n = f.accels.len() as u32;
                // Mostly in range (a few past the end).
                let (src, dst) = (a % (n + 2), b % (n + 2));
                let load: Vec<f64> = (0..f.links.len() as u64).map(|l| (splitmix64(seed ^ l) % 5) as f64).collect();
                let ch = match choice {
                    0 => Choice::Hash,
                    1 => Choice::Port(port),
                    _ => Choice::Least(&load),
                };
                let opts = RouteOpts { pxn };
                let (mut x, mut y) = (Vec::new(), Vec::new());
                let rx = f.route_with(src, dst, flow, opts, ch, &mut x);
                let ry = f.ref_route_with(src, dst, flow, opts, ch, &mut y);
                prop_assert_eq!(format!("{rx:?}"), format!("{ry:?}"));
                if rx.is_ok() {
                    prop_assert_eq!(x, y);
                }
                Ok(())
            })?;
        }
    }
}

//! MoE expert-parallel dispatch and combine as DeepEP runs them (github.com/deepseek-ai/DeepEP,
//! V1 kernels, `docs/legacy.md`, `csrc/kernels/internode.cu`, `intranode.cu`,
//! `internode_ll.cu`, and the benchmarks `tests/test_intranode.py`, `tests/test_internode.py`,
//! `tests/test_low_latency.py`).
//!
//! **Normal kernels** (training, prefill). Inside one scale-up domain (the intranode kernel)
//! every rank writes each token once into the buffer of every *rank* that hosts one of the
//! token's experts, over NVLink. Across domains (the internode kernel) a token goes once to
//! every *node* that hosts one of its experts, over RDMA to the GPU of the same local index
//! (same rail), and that GPU forwards it over NVLink to the node's ranks that need it (token
//! dedup per node, then per rank). Routing is node-limited: each token picks at most
//! `max_nodes` nodes (DeepSeek-V3: 4; the benchmark scores the nodes by their best expert and
//! takes the top `num_topk_groups = min(nodes, 4)`), then its top-k experts among those nodes.
//!
//! **Low-latency kernels** (decoding). One message per (token, selected expert), no dedup:
//! NVLink to ranks of the same domain, RDMA from the sender's own NIC (IBGDA) to the others;
//! no node limit (the benchmark takes a plain top-k).
//!
//! **Routing** is uniform random over experts, as the benchmarks draw it (balanced). Byte
//! counts are expectations: a token hits a given rank (node) with the hypergeometric
//! probability that at least one of its k experts lies there. `imbalance` (max/mean load) scales
//! what the hottest rank of each group receives (dispatch) or sends (combine).
//!
//! **Local copies.** DeepEP's warps write every token copy — the rank's own included — into the
//! receiver's buffer, so a GPU's ingress (remote and local copies together) is capped by its
//! NVLink ingress. Modelled as one virtual link per GPU with the capacity of its NVLink down-link
//! that every NVLink-class flow into the GPU (and its own copies) crosses.
//!
//! **Bandwidth as DeepEP defines it** ("bottleneck bandwidth", the benchmarks' print-out):
//! NVLink = the bytes a rank receives (every distinct token, its own included) / kernel time;
//! RDMA = tokens × distinct nodes hit (its own node included) × token bytes / kernel time;
//! low-latency = tokens × top-k × message bytes / kernel time. Single-domain normal kernels quote
//! NVLink, multi-domain ones RDMA, low-latency ones RDMA.

use crate::plan::{by_domain, check_group};
use crate::simulate::{effective_capacities, Bottleneck};
use crate::CollectiveError;
use engine::Fidelity;
use fabric::{Fabric, RouteOpts};
use std::fmt;

/// DeepSeek-V3's node limit: each token is sent to at most 4 nodes (arXiv:2412.19437 §2.1.2,
/// "node-limited routing ... M = 4"); DeepEP's benchmarks use `num_topk_groups = 4`.
pub const DEEPSEEK_V3_MAX_NODES: u32 = 4;

/// FP8 payload: one byte per element plus one FP32 scale per 128 elements (DeepEP's per-token
/// cast, `fp8_factor = (1 + 4/128) / 2` of BF16 in tests/test_internode.py).
pub const FP8_SCALE_BLOCK: u64 = 128;

/// Low-latency messages carry 16 bytes of metadata besides the payload
/// (`num_fp8_bytes = hidden + hidden / 128 * 4 + 16`, tests/test_low_latency.py).
pub const LL_MESSAGE_HEADER_BYTES: f64 = 16.0;

/// Fixed time of one low-latency kernel (launch, per-expert count signals and the receiver's
/// wait for every sender), seconds. **Fitted** (docs/calibration.md, "MoE dispatch/combine"): the
/// median over DeepEP V1's published low-latency rows EP16–EP256, dispatch and combine (10
/// figures, docs/legacy.md), of measured latency minus the modelled transfer time (29–37 µs).
/// The EP8 rows (C056) are held out.
pub const LL_KERNEL_LATENCY_S: f64 = 35e-6;

/// Most experts accepted (as the model registry's `workload::model::MAX_EXPERTS`).
pub const MAX_EXPERTS: u32 = 1 << 16;
/// Widest hidden size accepted (as `workload::model::MAX_WIDTH`).
pub const MAX_HIDDEN: u64 = 1 << 20;
/// Most tokens per rank accepted (2^24: far beyond any published batch; bounds the byte counts).
pub const MAX_TOKENS: u64 = 1 << 24;

/// Dispatch (tokens to experts) or combine (expert outputs back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoeOp {
    Dispatch,
    Combine,
}

impl MoeOp {
    /// The other direction.
    pub fn reverse(self) -> MoeOp {
        match self {
            MoeOp::Dispatch => MoeOp::Combine,
            MoeOp::Combine => MoeOp::Dispatch,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MoeOp::Dispatch => "moe_dispatch",
            MoeOp::Combine => "moe_combine",
        }
    }
    /// `moe_dispatch` / `moe_combine` (also without the prefix); `None` for any other name.
    pub fn parse(s: &str) -> Option<MoeOp> {
        match s.trim().to_lowercase().replace('-', "_").as_str() {
            "moe_dispatch" | "dispatch" => Some(MoeOp::Dispatch),
            "moe_combine" | "combine" => Some(MoeOp::Combine),
            _ => None,
        }
    }
    /// The payload DeepEP's benchmarks use: FP8 dispatch, BF16 combine.
    pub fn default_dtype(self) -> MoeDtype {
        match self {
            MoeOp::Dispatch => MoeDtype::Fp8,
            MoeOp::Combine => MoeDtype::Bf16,
        }
    }
}

/// DeepEP's kernel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoeKernel {
    Normal,
    LowLatency,
}

impl MoeKernel {
    pub fn name(self) -> &'static str {
        match self {
            MoeKernel::Normal => "normal",
            MoeKernel::LowLatency => "low-latency",
        }
    }
    pub fn parse(s: &str) -> Result<MoeKernel, String> {
        match s.trim().to_lowercase().as_str() {
            "normal" => Ok(MoeKernel::Normal),
            "low-latency" | "low_latency" | "ll" => Ok(MoeKernel::LowLatency),
            _ => Err(format!("unknown kernel `{s}` (known: normal, low-latency)")),
        }
    }
}

/// Payload type of the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoeDtype {
    Fp8,
    Bf16,
}

impl MoeDtype {
    pub fn name(self) -> &'static str {
        match self {
            MoeDtype::Fp8 => "fp8",
            MoeDtype::Bf16 => "bf16",
        }
    }
    pub fn parse(s: &str) -> Result<MoeDtype, String> {
        match s.trim().to_lowercase().as_str() {
            "fp8" | "e4m3" => Ok(MoeDtype::Fp8),
            "bf16" | "bfloat16" => Ok(MoeDtype::Bf16),
            _ => Err(format!("unknown dtype `{s}` (known: fp8, bf16)")),
        }
    }
}

/// One dispatch or combine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoeSpec {
    pub op: MoeOp,
    pub kernel: MoeKernel,
    /// Tokens per rank (the batch each rank dispatches).
    pub tokens: u64,
    pub hidden: u64,
    pub topk: u32,
    /// Routed experts over the whole group (a multiple of the ranks).
    pub experts: u32,
    pub dtype: MoeDtype,
    /// Node-limited routing: most nodes a token goes to (normal kernels; 0 = no limit).
    pub max_nodes: u32,
    /// Max/mean expert load (≥ 1): the hottest rank of each group receives this many times the
    /// mean (dispatch) and sends as much back (combine).
    pub imbalance: f64,
}

impl MoeSpec {
    /// DeepEP's benchmark setting for `op` with `kernel` (payload by op, node limit 4, balanced).
    pub fn new(op: MoeOp, kernel: MoeKernel, tokens: u64, hidden: u64, topk: u32, experts: u32) -> Self {
        MoeSpec {
            op,
            kernel,
            tokens,
            hidden,
            topk,
            experts,
            dtype: op.default_dtype(),
            max_nodes: DEEPSEEK_V3_MAX_NODES,
            imbalance: 1.0,
        }
    }

    /// Bytes of one token copy (normal kernels) or one message (low-latency).
    pub fn token_bytes(&self) -> f64 {
        let payload = match self.dtype {
            MoeDtype::Fp8 => (self.hidden + self.hidden.div_ceil(FP8_SCALE_BLOCK) * 4) as f64,
            MoeDtype::Bf16 => 2.0 * self.hidden as f64,
        };
        match (self.kernel, self.dtype) {
            (MoeKernel::LowLatency, MoeDtype::Fp8) => payload + LL_MESSAGE_HEADER_BYTES,
            _ => payload,
        }
    }

    /// Check the spec against a group of `ranks` ranks (clear errors naming the flag).
    pub fn check(&self, ranks: usize) -> Result<(), String> {
        if self.tokens == 0 {
            return Err("--tokens must be at least 1".into());
        }
        if self.hidden == 0 {
            return Err("--hidden must be at least 1".into());
        }
        if self.topk == 0 {
            return Err("--topk must be at least 1 (experts each token is routed to)".into());
        }
        if self.experts == 0 {
            return Err("--experts must be at least 1".into());
        }
        if self.experts > MAX_EXPERTS {
            return Err(format!(
                "--experts {} is beyond {MAX_EXPERTS} (the most experts per MoE layer fabricsim accepts)",
                self.experts
            ));
        }
        if self.hidden > MAX_HIDDEN {
            return Err(format!("--hidden {} is beyond {MAX_HIDDEN}", self.hidden));
        }
        if self.tokens > MAX_TOKENS {
            return Err(format!("--tokens {} is beyond {MAX_TOKENS} per rank", self.tokens));
        }
        if self.topk > self.experts {
            return Err(format!(
                "--topk {} exceeds --experts {}: a token cannot pick more experts than exist",
                self.topk, self.experts
            ));
        }
        if ranks > 0 && self.experts as usize % ranks != 0 {
            return Err(format!(
                "--experts {} is not a multiple of the {ranks} ranks (DeepEP places experts evenly: num_experts % num_ranks == 0)",
                self.experts
            ));
        }
        if !(self.imbalance.is_finite() && self.imbalance >= 1.0) {
            return Err(format!(
                "imbalance {} must be ≥ 1 (max/mean expert load; 1 = balanced)",
                self.imbalance
            ));
        }
        Ok(())
    }
}

/// Probability that none of `k` experts drawn without replacement from `pool` lands among
/// `hit` given ones (hypergeometric zero class).
pub fn p_miss(pool: f64, hit: f64, k: u32) -> f64 {
    let mut p = 1.0;
    for i in 0..k {
        let i = i as f64;
        let num = pool - hit - i;
        if num <= 0.0 {
            return 0.0;
        }
        p *= num / (pool - i);
    }
    p
}

/// Expected byte accounting of one rank (balanced routing), DeepEP's definitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoeBytes {
    /// Nodes (scale-up domains) and ranks of the group.
    pub nodes: u32,
    pub ranks: u32,
    /// Nodes a token may go to (node-limited routing; all nodes for low-latency).
    pub nodes_per_token: u32,
    /// Bytes of one token copy or message.
    pub token_bytes: f64,
    /// Probability a token goes to a given node / rank.
    pub p_node: f64,
    pub p_rank: f64,
    /// Distinct nodes a token is sent to, its own included (DeepEP's `num_rdma_token_sent` per
    /// token).
    pub nodes_hit_per_token: f64,
    /// Distinct ranks a token is sent to.
    pub ranks_hit_per_token: f64,
    /// DeepEP's RDMA bytes of one rank: tokens × nodes hit (own included) × token bytes.
    pub rdma_bytes: f64,
    /// Of those, what crosses the network (other nodes only).
    pub rdma_wire_bytes: f64,
    /// DeepEP's NVLink bytes of one rank: every distinct token it receives (own included).
    pub nvlink_bytes: f64,
    /// Low-latency: tokens × top-k × message bytes (every selection, no dedup).
    pub ll_bytes: f64,
}

/// The expected bytes of one rank for `spec` on `nodes` nodes of `ranks / nodes` ranks.
pub fn bytes(spec: &MoeSpec, nodes: u32, ranks: u32) -> MoeBytes {
    let n = nodes.max(1);
    let r = ranks.max(1) as f64;
    let e = spec.experts as f64;
    let k = spec.topk;
    let limit = match spec.kernel {
        MoeKernel::Normal if spec.max_nodes > 0 => spec.max_nodes.min(n),
        _ => n,
    };
    // A token picks `limit` nodes uniformly, then k experts among theirs.
    let pool = limit as f64 * e / n as f64;
    let chosen = limit as f64 / n as f64;
    let p_node = chosen * (1.0 - p_miss(pool, e / n as f64, k));
    let p_rank = chosen * (1.0 - p_miss(pool, e / r, k));
    let b = spec.token_bytes();
    let t = spec.tokens as f64;
    MoeBytes {
        nodes: n,
        ranks: ranks.max(1),
        nodes_per_token: limit,
        token_bytes: b,
        p_node,
        p_rank,
        nodes_hit_per_token: p_node * n as f64,
        ranks_hit_per_token: p_rank * r,
        // One node runs the intranode kernel: no RDMA at all.
        rdma_bytes: if n > 1 { t * p_node * n as f64 * b } else { 0.0 },
        rdma_wire_bytes: t * p_node * (n - 1) as f64 * b,
        nvlink_bytes: t * p_rank * r * b,
        ll_bytes: t * k as f64 * b,
    }
}

/// Which link class DeepEP quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    NvLink,
    Rdma,
}

impl Domain {
    pub fn name(self) -> &'static str {
        match self {
            Domain::NvLink => "nvlink",
            Domain::Rdma => "rdma",
        }
    }
}

/// One dispatch or combine on the fabric.
#[derive(Debug, Clone, PartialEq)]
pub struct MoeResult {
    pub spec: MoeSpec,
    /// Ranks of the (largest) group.
    pub ranks: u32,
    pub bytes: MoeBytes,
    /// Kernel time = transfer + fixed latency.
    pub time_s: f64,
    pub transfer_s: f64,
    pub latency_s: f64,
    /// DeepEP's bandwidths of the run (bytes as in [`MoeBytes`] / kernel time).
    pub bottleneck_domain: Domain,
    pub bottleneck_bytes_per_s: f64,
    pub rdma_bytes_per_s: f64,
    pub nvlink_bytes_per_s: f64,
    pub bottlenecks: Vec<Bottleneck>,
    pub flows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Flow {
    src: u32,
    dst: u32,
    bytes: f64,
    /// NVLink-class (crosses the receiver's copy-ingress virtual link) or RDMA.
    nvlink: bool,
}

/// Dispatch flows of one group (combine reverses them).
fn group_flows(f: &Fabric, group: &[u32], doms: &[Vec<u32>], spec: &MoeSpec, out: &mut Vec<Flow>) -> MoeBytes {
    let n = doms.len() as u32;
    let acc = bytes(spec, n, group.len() as u32);
    let t = spec.tokens as f64;
    let b = acc.token_bytes;
    let hot = group.iter().copied().min().unwrap_or(0);
    let w = |dst: u32| if dst == hot { spec.imbalance } else { 1.0 };
    match spec.kernel {
        MoeKernel::LowLatency => {
            let per = t * spec.topk as f64 / group.len() as f64 * b;
            for &s in group {
                for &d in group {
                    let same = f.domain_of(s) == f.domain_of(d);
                    out.push(Flow {
                        src: s,
                        dst: d,
                        bytes: per * w(d),
                        nvlink: same,
                    });
                }
            }
        }
        MoeKernel::Normal if n == 1 => {
            let per = t * acc.p_rank * b;
            for &s in group {
                for &d in group {
                    out.push(Flow {
                        src: s,
                        dst: d,
                        bytes: per * w(d),
                        nvlink: true,
                    });
                }
            }
        }
        MoeKernel::Normal => {
            // RDMA: once per destination node, to the GPU of the same local index.
            let rdma = t * acc.p_node * b;
            for (a, da) in doms.iter().enumerate() {
                for (bi, db) in doms.iter().enumerate() {
                    if a == bi {
                        continue; // the own node's tokens are copied into the local buffer
                    }
                    for (i, &s) in da.iter().enumerate() {
                        let d = db[i % db.len()];
                        let hot_node = db.contains(&hot);
                        out.push(Flow {
                            src: s,
                            dst: d,
                            bytes: rdma * if hot_node { spec.imbalance } else { 1.0 },
                            nvlink: false,
                        });
                    }
                }
            }
            // NVLink forwarding: forwarder (b, i) carries, for every source node, the tokens of
            // source (·, i) that hit rank (b, j).
            let fwd = n as f64 * t * acc.p_rank * b;
            for db in doms {
                for &s in db {
                    for &d in db {
                        out.push(Flow {
                            src: s,
                            dst: d,
                            bytes: fwd * w(d),
                            nvlink: true,
                        });
                    }
                }
            }
        }
    }
    acc
}

/// Flows one group's dispatch creates, without building them (low-latency: every pair; normal:
/// RDMA between nodes on each rail plus NVLink inside each node).
pub fn flow_count(f: &Fabric, group: &[u32], kernel: MoeKernel) -> u64 {
    match kernel {
        MoeKernel::LowLatency => (group.len() as u64).pow(2),
        MoeKernel::Normal => flow_count_in(group, &by_domain(f, group), kernel),
    }
}

/// [`flow_count`] of a group whose members by scale-up domain are `doms` (`by_domain`).
fn flow_count_in(group: &[u32], doms: &[Vec<u32>], kernel: MoeKernel) -> u64 {
    let n = group.len() as u64;
    match kernel {
        MoeKernel::LowLatency => n * n,
        MoeKernel::Normal => {
            let nodes = doms.len() as u64;
            let inside: u64 = doms.iter().map(|d| (d.len() as u64).pow(2)).sum();
            n * nodes.saturating_sub(1) + inside
        }
    }
}

/// Run one dispatch or combine on every group at once (groups contend for shared links). The
/// result's byte accounting and bandwidths are those of the first group.
pub fn run(f: &Fabric, groups: &[Vec<u32>], spec: &MoeSpec, fidelity: Fidelity) -> Result<MoeResult, CollectiveError> {
    run_cached(f, groups, spec, fidelity, None)
}

/// [`run`], taking the routes from `cache` when it holds those of the same groups, kernel and
/// direction (and keeping them there when it does not): the same result.
pub fn run_cached(
    f: &Fabric,
    groups: &[Vec<u32>],
    spec: &MoeSpec,
    fidelity: Fidelity,
    cache: Option<&RouteCache>,
) -> Result<MoeResult, CollectiveError> {
    let kept = Kept::look_up(f, groups, spec, cache);
    if let (Some(c), None, Some(twin)) = (cache, &kept.own, &kept.twin) {
        if let Some(r) = run_mirrored(f, groups, spec, fidelity, twin, &kept.caps) {
            c.mirrored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(r);
        }
    }
    let (head, caps, virtual_links, set, ends, routes) = route(f, groups, spec, cache, kept)?;
    let all = crate::simulate::engine_capacities(f, &caps, &virtual_links);
    if groups.len() > 1 {
        // Every group priced as the first one where each is it on links of its own (the same
        // result at either fidelity: `simulate::run_symmetric_at`).
        if let Some((transfer, busy)) =
            run_symmetric(routes.as_deref().map(|r| &r.symmetry), &all, &set, &ends, fidelity)
        {
            return Ok(finish(f, &head, transfer, crate::simulate::name_bottlenecks(f, busy)));
        }
    }
    if fidelity == Fidelity::Analytical {
        // Priced without an engine: an analytical engine holding this one transfer gives the
        // pricer's duration and busiest links bit for bit
        // (`engine::AnalyticalPricer::price_busiest`), after the same checks of capacities and
        // flows (so the same errors).
        let engine_error = |e: engine::EngineError| CollectiveError::Engine(e.to_string());
        engine::check_capacities(&all).map_err(engine_error)?;
        let (transfer, busy) = engine::AnalyticalPricer::new(&all)
            .price_busiest(&set, 3)
            .map_err(engine_error)?;
        return Ok(finish(f, &head, transfer, crate::simulate::name_bottlenecks(f, busy)));
    }
    let plan = crate::simulate::build_flows_on(all, &set)?;
    run_built(f, &mut MoeBuilt { plan, ..head }, fidelity)
}

/// A DeepEP dispatch or combine routed ([`build`]), to simulate at either fidelity
/// ([`run_built`]): symmetric groups from their routed flows, others on an engine the first
/// such run stores them on.
#[derive(Debug, Clone)]
pub struct MoeBuilt {
    spec: MoeSpec,
    ranks: u32,
    acc: MoeBytes,
    /// The fabric's link count: virtual copy-ingress links follow.
    base: u32,
    /// The real NVLink down-link each virtual copy-ingress link stands for.
    real_links: Vec<u32>,
    flows: usize,
    plan: crate::simulate::BuiltPlan,
    /// Until `plan` is stored: the routed flows, where each group's end among them, and the
    /// engine capacities (`simulate::engine_capacities`). Runs price symmetric groups from
    /// them (`simulate::run_symmetric_at`, at either fidelity); the first run that cannot
    /// stores them on `plan` for itself and later runs.
    routed: Option<Box<Routed1>>,
}

/// [`MoeBuilt::routed`]: the flows, each group's end, the engine capacities, and the routes
/// kept in a [`RouteCache`] they came from or went to (with their symmetry maps).
#[derive(Debug, Clone)]
struct Routed1 {
    set: MoeSet,
    ends: Vec<usize>,
    all: Vec<f64>,
    routes: Option<std::sync::Arc<MoeRoutes>>,
    /// Without `routes`: the flows' symmetry maps once computed, as `MoeRoutes::symmetry`
    /// keeps them (a built run priced at both fidelities computes each once).
    symmetry: SymmetrySlots,
}

/// A run's routed flows: its own, or those a [`RouteCache`] keeps for it (the flows it routed
/// itself, not copied).
#[derive(Debug, Clone)]
enum MoeSet {
    Own(engine::FlowSet),
    Kept(std::sync::Arc<MoeRoutes>),
}

impl std::ops::Deref for MoeSet {
    type Target = engine::FlowSet;

    fn deref(&self) -> &engine::FlowSet {
        match self {
            MoeSet::Own(s) => s,
            MoeSet::Kept(r) => &r.set,
        }
    }
}

/// A flow set's symmetry maps at analytical and at flow fidelity, each computed once.
type SymmetrySlots = [std::sync::OnceLock<Option<crate::simulate::SymmetryMap>>; 2];

/// `simulate::run_symmetric_at`, with the part of its check that reads only paths (the
/// symmetry map) taken from `slots` (a [`RouteCache`]'s routes, or a built run's own), and
/// computed there once — at flow fidelity from the analytical map where that is there
/// (the same result: `simulate::run_symmetric_with`, `simulate::SymmetryMap::at_flow`).
fn run_symmetric(
    slots: Option<&SymmetrySlots>,
    all: &[f64],
    set: &engine::FlowSet,
    ends: &[usize],
    fidelity: Fidelity,
) -> Option<(f64, Vec<(u32, f64)>)> {
    match slots {
        Some(slots) => {
            let slot = &slots[usize::from(fidelity != Fidelity::Analytical)];
            let map = slot.get_or_init(|| match slots[0].get() {
                // The flow fidelity's map from the analytical one where that is made (the
                // same map: `SymmetryMap::at_flow`).
                Some(analytical) if fidelity != Fidelity::Analytical => {
                    analytical.as_ref().and_then(crate::simulate::SymmetryMap::at_flow)
                }
                _ => crate::simulate::symmetry_map(all, set, ends, fidelity),
            });
            crate::simulate::run_symmetric_with(all, set, ends, fidelity, map.as_ref()?)
        }
        None => crate::simulate::run_symmetric_at(all, set, ends, fidelity),
    }
}

/// The flows of [`run`], routed (everything but the simulation; stored on an engine by the
/// first run that needs them there).
pub fn build(f: &Fabric, groups: &[Vec<u32>], spec: &MoeSpec) -> Result<MoeBuilt, CollectiveError> {
    build_cached(f, groups, spec, None)
}

/// [`build`] with routes from (or kept in) `cache`, as [`run_cached`].
pub fn build_cached(
    f: &Fabric,
    groups: &[Vec<u32>],
    spec: &MoeSpec,
    cache: Option<&RouteCache>,
) -> Result<MoeBuilt, CollectiveError> {
    let kept = Kept::look_up(f, groups, spec, cache);
    let (head, caps, virtual_links, set, ends, routes) = route(f, groups, spec, cache, kept)?;
    let all = crate::simulate::engine_capacities(f, &caps, &virtual_links);
    Ok(MoeBuilt {
        routed: Some(Box::new(Routed1 {
            set,
            ends,
            all,
            routes,
            symmetry: Default::default(),
        })),
        ..head
    })
}

/// The routed flows of [`build`]: the built run but its plan (an empty one), the effective
/// capacities, the virtual copy-ingress links, the flows over them and where each group's
/// flows end among them.
type Routed = (
    MoeBuilt,
    Vec<f64>,
    Vec<f64>,
    MoeSet,
    Vec<usize>,
    Option<std::sync::Arc<MoeRoutes>>,
);

/// The routes of one DeepEP run's flows, for a later run of the same groups, kernel and
/// direction ([`RouteCache`]).
///
/// CORRECTNESS: which flows a run has (their endpoints, in order) depends on the groups, the
/// kernel and the direction only, and routing reads only the endpoints (channel 0, no PXN);
/// the bytes (tokens, top-k, experts, imbalance) decide which flows are skipped (no bytes)
/// and, through that, the order in which the copy-ingress virtual links are numbered. So a
/// run whose flows carry bytes exactly where the cached run's did has the cached paths,
/// virtual links and group ends; only the bytes are its own.
#[derive(Debug)]
struct MoeRoutes {
    groups: Vec<Vec<u32>>,
    kernel: MoeKernel,
    op: MoeOp,
    /// Per flow (in `group_flows` order): whether it carried bytes.
    carries: Vec<bool>,
    /// The routed flows, and for each the index of its flow.
    set: engine::FlowSet,
    from: Vec<u32>,
    ends: Vec<usize>,
    virtual_links: Vec<f64>,
    real_links: Vec<u32>,
    /// The accelerator whose NVLink ingress each virtual link is (the destination it was made
    /// for), beside `real_links`.
    ingress_of: Vec<u32>,
    /// Links of the engine the flows run on (the fabric's and the virtual ones).
    links: usize,
    /// The flows' symmetry map at analytical and at flow fidelity (`simulate::symmetry_map`:
    /// it reads the paths, group ends and capacities — the fabric's effective ones, which the
    /// cache checks ([`RouteCache`]), and the virtual links' taken from them — which every run
    /// taking these routes shares), computed by the first run that needs it.
    symmetry: SymmetrySlots,
}

impl MoeRoutes {
    /// What it holds, in 4-byte units (see [`RouteCache::MAX_UNITS`]): a flow 4, a hop 1, and
    /// for the two symmetry maps once computed 4 per link the flows use (a pair of link ids
    /// each; at most the hops, at most the engine's links) and 2 per group (where its links
    /// end; a group has a flow at least).
    fn size(&self) -> usize {
        self.set.len() * 4 + self.set.hops() + 4 * self.set.hops().min(self.links) + 2 * self.ends.len()
    }
}

/// Routed DeepEP flows kept between runs on one fabric (a planner's plans often share their
/// expert-parallel groups and differ in tokens per micro-batch): a run of the same groups,
/// kernel and direction takes its routes from here instead of routing ~10⁵ flows again (the
/// same result: see `MoeRoutes`). Holds the last [`RouteCache::CAPACITY`] routings, at most
/// [`RouteCache::MAX_UNITS`] in size, for one set of effective capacities (the virtual links'
/// capacities and the symmetry maps read them; other capacities — another calibration — find
/// nothing, and their first routing empties it). Shared between threads.
#[derive(Debug, Default)]
pub struct RouteCache {
    inner: std::sync::Mutex<RouteCacheInner>,
    hits: std::sync::atomic::AtomicU64,
    twins: std::sync::atomic::AtomicU64,
    mirrored: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct RouteCacheInner {
    entries: Vec<std::sync::Arc<MoeRoutes>>,
    /// The effective capacities the entries were routed with.
    caps: Vec<f64>,
}

impl RouteCache {
    /// Routings kept (the oldest is dropped); [`RouteCache::MAX_UNITS`] usually binds first on
    /// large fabrics (one search's threads share a cache, over several layouts).
    pub const CAPACITY: usize = 32;

    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs that took their routes from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs that took some of their routes from the other direction's run of the same groups
    /// and kernel (`TwinRoutes`) so far.
    pub fn twins(&self) -> u64 {
        self.twins.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs priced from the other direction's symmetric routes of the same groups and kernel,
    /// without routing (`run_mirrored`), so far.
    pub fn mirrored(&self) -> u64 {
        self.mirrored.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The routes kept of `groups`, `kernel` in direction `op` and in the other direction, for
    /// these effective capacities.
    #[allow(clippy::type_complexity)]
    fn get_both(
        &self,
        groups: &[Vec<u32>],
        kernel: MoeKernel,
        op: MoeOp,
        caps: &[f64],
    ) -> (Option<std::sync::Arc<MoeRoutes>>, Option<std::sync::Arc<MoeRoutes>>) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.caps.as_slice() != caps {
            return (None, None);
        }
        let find = |op: MoeOp| {
            inner
                .entries
                .iter()
                .rev()
                .find(|r| r.kernel == kernel && r.op == op && r.groups.as_slice() == groups)
                .cloned()
        };
        (find(op), find(op.reverse()))
    }

    /// Most kept in all, in 4-byte units ([`MoeRoutes`]: ≤ 128 MiB, a dozen routings of ~10⁵
    /// flows on a 9,216-GPU fabric); a routing larger than that alone is not kept.
    pub const MAX_UNITS: usize = 1 << 25;

    fn put(&self, r: std::sync::Arc<MoeRoutes>, caps: &[f64]) {
        let size = r.size();
        if size > Self::MAX_UNITS {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.caps.as_slice() != caps {
            *inner = RouteCacheInner {
                entries: Vec::new(),
                caps: caps.to_vec(),
            };
        }
        let entries = &mut inner.entries;
        entries.retain(|e| !(e.kernel == r.kernel && e.op == r.op && e.groups == r.groups));
        while !entries.is_empty()
            && (entries.len() >= Self::CAPACITY
                || entries.iter().map(|e| e.size()).sum::<usize>() + size > Self::MAX_UNITS)
        {
            entries.remove(0);
        }
        entries.push(r);
    }
}

fn c_hit(cache: Option<&RouteCache>) {
    if let Some(c) = cache {
        c.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The routes of the other direction's run of the same groups and kernel (a dispatch's for a
/// combine, or the reverse), read for this run's flows.
///
/// CORRECTNESS: a DeepEP run routes each flow between its endpoints with channel 0 and no PXN
/// (`route`), a function of the pair alone; a dispatch routes flow `(s, d)` from `s` to `d`
/// and a combine from `d` to `s`, over the same flows (`group_flows` depends on the groups and
/// the kernel, not the direction). So the route a run needs for flow `i` (endpoints `(s, d)`)
/// is the route the other direction took for the flow with endpoints `(d, s)`, where that flow
/// exists in the same group and carried bytes there: its path without the trailing virtual
/// copy-ingress link (ids from the fabric's link count on; a route holds fabric links only).
/// Where there is no such flow the run routes as before.
struct TwinRoutes {
    /// Per flow index, where the other run's flow set holds the path of its reverse flow
    /// (`u32::MAX`: nowhere — routed).
    at: Vec<u32>,
}

impl TwinRoutes {
    /// Largest group whose flows take the other direction's routes.
    const MAX_GROUP: usize = 1024;

    /// Where `twin` holds each flow's reverse path: per group, a table of its flows by (local
    /// source, local destination) gives flow `i = (s, d)` the flow `j = (d, s)`, where each
    /// of the two is the only flow of its pair in the group (else `i` is routed: a pair met
    /// twice has no single reverse), and `j` carried bytes in the other run.
    fn new(twin: &MoeRoutes, groups: &[Vec<u32>], group_end: &[usize], flows: &[Flow], accels: usize) -> TwinRoutes {
        let mut at = vec![u32::MAX; flows.len()];
        if twin.carries.len() != flows.len() {
            return TwinRoutes { at };
        }
        // Per flow index, where the other run's flow set holds its path.
        let mut held = vec![u32::MAX; flows.len()];
        for (k, &j) in twin.from.iter().enumerate() {
            if let Some(h) = held.get_mut(j as usize) {
                *h = k as u32;
            }
        }
        // Per accelerator, its index in the current group (`u32::MAX`: not in it).
        let mut local = vec![u32::MAX; accels];
        // The current group's flows by (local source, local destination): flow index + 1
        // (0: none; `u32::MAX`: more than one).
        let mut table: Vec<u32> = Vec::new();
        let mut first = 0;
        for (g, &end) in groups.iter().zip(group_end) {
            let (start, n) = (first, g.len());
            first = end;
            // The table holds n² entries while a group has about n² / (ranks per node) flows: a
            // larger group is routed (at most 4 MiB of table).
            if n > TwinRoutes::MAX_GROUP || start >= end {
                continue;
            }
            for (k, &r) in g.iter().enumerate() {
                if let Some(x) = local.get_mut(r as usize) {
                    *x = k as u32;
                }
            }
            table.clear();
            table.resize(n * n, 0);
            let pair = |fl: &Flow| -> Option<(usize, usize)> {
                let a = *local.get(fl.src as usize)?;
                let b = *local.get(fl.dst as usize)?;
                (a != u32::MAX && b != u32::MAX).then_some((a as usize, b as usize))
            };
            for (j, fl) in flows[start..end].iter().enumerate() {
                if let Some((a, b)) = pair(fl) {
                    let slot = &mut table[a * n + b];
                    *slot = if *slot == 0 { (start + j) as u32 + 1 } else { u32::MAX };
                }
            }
            for (i, fl) in flows[start..end].iter().enumerate() {
                let Some((a, b)) = pair(fl) else {
                    continue;
                };
                if table[a * n + b] == u32::MAX {
                    continue;
                }
                let j = table[b * n + a];
                if j != 0 && j != u32::MAX {
                    at[start + i] = held[(j - 1) as usize];
                }
            }
            for &r in g {
                if let Some(x) = local.get_mut(r as usize) {
                    *x = u32::MAX;
                }
            }
        }
        TwinRoutes { at }
    }

    /// Appends to `path` the route of flow `i` from the other run (its reverse flow's path
    /// there, without the copy-ingress link a flow over NVLink ends with: link ids from
    /// `base` on), and returns whether it could.
    fn route(&self, twin: &MoeRoutes, i: usize, base: u32, path: &mut Vec<u32>) -> bool {
        let k = self.at[i];
        if k == u32::MAX {
            return false;
        }
        let p = twin.set.path(k as usize);
        match p.iter().rposition(|&l| l < base) {
            Some(last) => {
                engine::extend_path(path, &p[..=last]);
                true
            }
            None => false,
        }
    }
}

/// [`run_cached`] of two or more `groups` priced from the routes `cache` keeps of the other
/// direction's run of the same groups and kernel where those are symmetric (their
/// [`crate::simulate::SymmetryMap`] computed), without routing a flow: this run's first
/// group's flows and its symmetry map derived from them. `None` where that is not shown to
/// give the run's result (it then routes as before); never an error (a run that would fail
/// routes and fails as before).
///
/// CORRECTNESS: the run's flows (`group_flows`) are the other run's (`D`) flows, the same
/// endpoints in the same order, with this direction's bytes. A flow `(s, d)` of group `k` and
/// the flow `(d, s)` of the same group travel the same route in the two directions (this
/// run's flow from `d` to `s` where the other's runs `(d, s)` from `d` to `s`, or the other
/// way round: `TwinRoutes`) and end at the same accelerator, so where the two have the same
/// NVLink class this run's path is `D`'s path with its last, virtual copy-ingress link (of
/// that accelerator) numbered as this run numbers it — where `D` routed its flow (it carried
/// bytes there and was kept; a flow whose reverse `D` did not carry is unknown, and the run
/// is routed). Whether this run keeps a flow that carries bytes is then whether `D` kept its
/// reverse (routing, the ingress link and an empty path are the same functions of the same
/// endpoints). Checked here, flow by flow in every group at the same position `q` within
/// it: the reverse flow at one position `rev(q)` (found in the first group), the same class,
/// the same kept flows, and `D`'s kept reverse at the same position within `D`'s group, `p(q)`.
/// `D`'s map says `D`'s group `k` flow at position `p` has the path of `D`'s first group's,
/// renamed link by link by a one-to-one `σ_k` onto links of group `k` alone, of equal
/// capacities. So this run's group `k` has its first group's paths renamed by `σ'_k`: `σ_k` on
/// fabric links, and on a copy-ingress link of accelerator `x` the link of `y` where `σ_k`
/// takes `D`'s link of `x` to `D`'s link of `y`. That is one-to-one (`σ_k` conjugated by the
/// one-to-one renumbering of the ingress links), onto links of group `k` alone (`D`'s groups'
/// images are disjoint), of the same capacities (an ingress link's is that of the GPU's
/// NVLink down-link, the same in both runs; checked bit for bit again), in the first group's
/// order of first reach — the pairs `symmetry_map` gives, in its order. The copy-ingress
/// links are numbered as `route` numbers them: in flow order, at the first kept NVLink-class
/// flow into each accelerator, standing for the down-link `D` found for it (the same
/// function of the accelerator). With every group's kept flows carrying the first group's
/// bytes bit for bit (checked; all of weight 1), `simulate::run_symmetric_with` would price
/// this run's routed flows as `run_symmetric_first` prices its first group here — what
/// `run_cached` returns. Tested against fresh runs (`moe_runs_take_the_other_directions_routes`,
/// `mirrored_moe_runs_are_fresh_runs`).
fn run_mirrored(
    f: &Fabric,
    groups: &[Vec<u32>],
    spec: &MoeSpec,
    fidelity: Fidelity,
    twin: &MoeRoutes,
    caps: &[f64],
) -> Option<MoeResult> {
    let m = mirror(f, groups, spec, twin, caps)?;
    let map = match fidelity {
        Fidelity::Analytical => m.map,
        _ => m.map.at_flow()?,
    };
    let (transfer, busy) = crate::simulate::run_symmetric_first(&m.all, m.first, fidelity, &map)?;
    Some(finish(f, &m.head, transfer, crate::simulate::name_bottlenecks(f, busy)))
}

/// What [`run_mirrored`] derives of a run from the other direction's symmetric routes: what
/// [`route`] would give — the run but its plan, and the engine capacities — with the routed
/// flows' first group alone and their analytical symmetry map (`simulate::symmetry_map`).
struct Mirrored {
    head: MoeBuilt,
    all: Vec<f64>,
    first: engine::FlowSet,
    map: crate::simulate::SymmetryMap,
}

/// [`run_mirrored`]'s derivation (see there).
fn mirror(f: &Fabric, groups: &[Vec<u32>], spec: &MoeSpec, twin: &MoeRoutes, caps: &[f64]) -> Option<Mirrored> {
    const NO_LINK: u32 = u32::MAX;
    if groups.len() < 2 || (twin.kernel, twin.op, twin.groups.as_slice()) != (spec.kernel, spec.op.reverse(), groups) {
        return None;
    }
    let map_d = twin.symmetry.iter().find_map(|s| s.get().and_then(Option::as_ref))?;
    let (ends_d, owned_d, gends_d) = (&twin.ends, map_d.owned(), map_d.group_ends());
    if ends_d.len() != groups.len() || gends_d.len() != groups.len() {
        return None;
    }
    let base = f.links.len() as u32;
    let nvl = f.domain_size > 1;
    let carries = |fl: &Flow| fl.bytes > 0.0 || fl.bytes.is_nan();
    // The accelerator a flow's route ends at (its copy-ingress link's).
    let dest = |fl: &Flow| match spec.op {
        MoeOp::Dispatch => fl.dst,
        MoeOp::Combine => fl.src,
    };
    // `D`'s copy-ingress link of each accelerator it made one for.
    let mut vlink_d = vec![NO_LINK; f.accel_count()];
    for (i, &x) in twin.ingress_of.iter().enumerate() {
        *vlink_d.get_mut(x as usize)? = base + i as u32;
    }
    // This run's, numbered as `route` numbers them, and what they stand for.
    let mut vlink = vec![NO_LINK; f.accel_count()];
    let (mut virtual_links, mut real_links, mut ingress_of) = (Vec::new(), Vec::new(), Vec::new());
    // Group by group (as `route` checks, counts and makes them; one group's flows at a time):
    // the flows, where `D` keeps each of the group's flows (by position, from the group's
    // range of `D`'s routed flows), and per position the first group's reverse flow, bytes
    // and `D`'s position of the reverse flow this run keeps (`u32::MAX`: not kept).
    let (mut count, mut count0, mut acc) = (0u64, 0u64, None);
    let (mut flows0, mut buf, mut held): (Vec<Flow>, Vec<Flow>, Vec<u32>) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rev, mut kept): (Vec<usize>, Vec<u32>) = (Vec::new(), Vec::new());
    let mut first_d = 0;
    for (k, g) in groups.iter().enumerate() {
        // A group that is the first moved by `d` ranks (`simulate::rank_shift`): its checks,
        // count and flows are the first group's, every endpoint moved by `d` — `check_group`
        // reads the ranks' range and distinctness, and `by_domain`, `flow_count_in` and
        // `group_flows` compare ranks and domains only (the lowest rank is the hot expert's),
        // which the move keeps; the bytes are the first group's.
        let shift = if k == 0 {
            None
        } else {
            crate::simulate::rank_shift(f, &groups[0], g)
        };
        match shift {
            Some(_) => count += count0,
            None => {
                check_group(f, g).ok()?;
                spec.check(g.len()).ok()?;
                let doms = by_domain(f, g);
                let c = flow_count_in(g, &doms, spec.kernel);
                count += c;
                if count > crate::alltoall::MAX_EXCHANGE_FLOWS {
                    return None;
                }
                let out = if k == 0 { &mut flows0 } else { &mut buf };
                out.clear();
                let a = group_flows(f, g, &doms, spec, out);
                if k == 0 {
                    acc = Some(a);
                    count0 = c;
                }
            }
        }
        let (flows, d): (&[Flow], u32) = match shift {
            Some(d) => (&flows0, d as u32),
            None if k == 0 => (&flows0, 0),
            None => (&buf, 0),
        };
        if count > crate::alltoall::MAX_EXCHANGE_FLOWS {
            return None;
        }
        let n0 = flows.len();
        let start = k.checked_mul(n0)?;
        if k == 0 {
            if twin.carries.len() != n0.checked_mul(groups.len())? {
                return None;
            }
            let mut pairs: Vec<(u32, u32, u32)> = flows
                .iter()
                .enumerate()
                .map(|(q, fl)| (fl.src, fl.dst, q as u32))
                .collect();
            pairs.sort_unstable();
            if pairs.windows(2).any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
                return None; // a pair met twice has no single reverse
            }
            for fl in flows {
                let i = pairs
                    .binary_search_by(|&(a, b, _)| (a, b).cmp(&(fl.dst, fl.src)))
                    .ok()?;
                rev.push(pairs[i].2 as usize);
            }
        } else if n0 != rev.len() {
            return None;
        }
        // `D`'s flows of this group, by position in it.
        held.clear();
        held.resize(n0, u32::MAX);
        let end_d = ends_d[k] as u32;
        for p in first_d..end_d {
            let j = (*twin.from.get(p as usize)? as usize).checked_sub(start)?;
            *held.get_mut(j)? = p - first_d;
        }
        for (q, fl) in flows.iter().enumerate() {
            let r = rev[q];
            // (A moved group's flows are the first group's, checked there.)
            if shift.is_none() {
                let back = &flows[r];
                if (back.src, back.dst, back.nvlink) != (fl.dst, fl.src, fl.nvlink) {
                    return None;
                }
            }
            let p = if !carries(fl) {
                u32::MAX
            } else if !twin.carries[start + r] {
                return None; // a path `D` never routed
            } else {
                held[r]
            };
            if k == 0 {
                kept.push(p);
            } else if kept[q] != p
                || (shift.is_none() && p != u32::MAX && fl.bytes.to_bits() != flows0[q].bytes.to_bits())
            {
                return None;
            }
            if p != u32::MAX && fl.nvlink && nvl {
                let x = dest(fl).wrapping_add(d) as usize;
                if *vlink.get(x)? == NO_LINK {
                    let real = *twin.real_links.get(vlink_d.get(x)?.checked_sub(base)? as usize)?;
                    let cap = *caps.get(real as usize)?;
                    vlink[x] = base + virtual_links.len() as u32;
                    virtual_links.push(cap);
                    real_links.push(real);
                    ingress_of.push(x as u32);
                }
            }
        }
        first_d = end_d;
    }
    let per_group = kept.iter().filter(|&&p| p != u32::MAX).count();
    if per_group == 0 {
        return None;
    }
    // (Capacities the engine would refuse: `run_symmetric_first` refuses them too, at either
    // fidelity, and the run is routed — no check of its own here.)
    let all = crate::simulate::engine_capacities(f, caps, &virtual_links);
    // The first group's flows: `D`'s paths of their reverses, the ingress link renumbered.
    let mut first = engine::FlowSet::with_capacity(per_group, 4 * per_group);
    let mut path: Vec<u32> = Vec::new();
    for (fl, &p) in flows0.iter().zip(&kept) {
        if p == u32::MAX {
            continue;
        }
        path.clear();
        path.extend_from_slice(twin.set.path(p as usize));
        let last = path.last_mut()?;
        if fl.nvlink && nvl {
            if *last < base || vlink_d.get(dest(fl) as usize) != Some(last) {
                return None;
            }
            *last = vlink[dest(fl) as usize];
        } else if *last >= base {
            return None;
        }
        first.push(&path, fl.bytes, 1);
    }
    // The first group's links in order of first reach, each with its index among `D`'s first
    // group's pairs (listed in the same order in every group of `D`'s map).
    let firsts_d = &owned_d[..*gends_d.first()? as usize];
    let mut index_d: Vec<(u32, u32)> = firsts_d.iter().enumerate().map(|(i, &(r, _))| (r, i as u32)).collect();
    index_d.sort_unstable();
    // (Link, first position) of each link of the first group, in order of first reach.
    let mut reach: Vec<(u32, u32)> = first.links().iter().enumerate().map(|(i, &l)| (l, i as u32)).collect();
    reach.sort_unstable();
    reach.dedup_by_key(|&mut (l, _)| l);
    reach.sort_unstable_by_key(|&(_, i)| i);
    let mut firsts: Vec<(u32, usize)> = Vec::with_capacity(reach.len());
    for &(c, _) in &reach {
        let d = if c < base {
            c
        } else {
            vlink_d[*ingress_of.get((c - base) as usize)? as usize]
        };
        let i = index_d.binary_search_by_key(&d, |&(r, _)| r).ok()?;
        firsts.push((c, index_d[i].1 as usize));
    }
    let mut owned: Vec<(u32, u32)> = Vec::with_capacity(firsts.len() * groups.len());
    let mut group_ends: Vec<u32> = Vec::with_capacity(groups.len());
    owned.extend(firsts.iter().map(|&(c, _)| (c, c)));
    group_ends.push(owned.len() as u32);
    let mut from_d = gends_d[0] as usize;
    for &end_d in &gends_d[1..] {
        let pairs_d = &owned_d[from_d..end_d as usize];
        from_d = end_d as usize;
        if pairs_d.len() != firsts_d.len() || pairs_d.iter().zip(firsts_d).any(|(a, b)| a.1 != b.1) {
            return None;
        }
        for &(c, i) in &firsts {
            let m = pairs_d[i].0;
            let m = if m < base {
                m
            } else {
                let y = *twin.ingress_of.get((m - base) as usize)?;
                *vlink.get(y as usize)?
            };
            if all.get(m as usize)?.to_bits() != all[c as usize].to_bits() {
                return None;
            }
            owned.push((m, c));
        }
        group_ends.push(owned.len() as u32);
    }
    let map = crate::simulate::SymmetryMap::from_parts(owned, group_ends);
    let head = MoeBuilt {
        spec: *spec,
        ranks: groups[0].len() as u32,
        acc: acc?,
        base,
        real_links,
        flows: per_group * groups.len(),
        plan: crate::simulate::BuiltPlan::empty(),
        routed: None,
    };
    Some(Mirrored { head, all, first, map })
}

/// A run's effective capacities (`simulate::effective_capacities`) and the routes a
/// [`RouteCache`] keeps for it: its own (same groups, kernel and direction) and the other
/// direction's, looked up at once.
struct Kept {
    caps: Vec<f64>,
    own: Option<std::sync::Arc<MoeRoutes>>,
    twin: Option<std::sync::Arc<MoeRoutes>>,
}

impl Kept {
    fn look_up(f: &Fabric, groups: &[Vec<u32>], spec: &MoeSpec, cache: Option<&RouteCache>) -> Kept {
        let caps = effective_capacities(f);
        let (own, twin) = cache.map_or((None, None), |c| c.get_both(groups, spec.kernel, spec.op, &caps));
        Kept { caps, own, twin }
    }
}

/// Every group's flows (`group_flows`) in order, where each group's end among them, and the
/// first group's byte accounting — after `route`'s checks of the groups and of their flow
/// count (its errors). A group that is the first moved by `d` ranks (`simulate::rank_shift`)
/// has the first group's checks, count and flows with every endpoint moved by `d` — what its
/// own give: `check_group` reads the ranks' range and distinctness, and `by_domain`,
/// `flow_count_in` and `group_flows` compare ranks and their domains only (the lowest rank
/// is the hot expert's), which the move keeps, the bytes being the first group's — and takes
/// them from there.
fn all_flows(
    f: &Fabric,
    groups: &[Vec<u32>],
    spec: &MoeSpec,
) -> Result<(Vec<Flow>, Vec<usize>, MoeBytes), CollectiveError> {
    let first = groups
        .first()
        .ok_or_else(|| CollectiveError::BadGroup("no groups given".into()))?;
    // Each later group's move from the first, where it is one.
    let shifts: Vec<Option<i64>> = groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            if k == 0 {
                None
            } else {
                crate::simulate::rank_shift(f, first, g)
            }
        })
        .collect();
    for (g, shift) in groups.iter().zip(&shifts) {
        if shift.is_none() {
            check_group(f, g)?;
            spec.check(g.len()).map_err(CollectiveError::BadGroup)?;
        }
    }
    // Every other group's members by scale-up domain, found once for the count and the flows.
    let doms: Vec<Option<Vec<Vec<u32>>>> = groups
        .iter()
        .zip(&shifts)
        .map(|(g, shift)| shift.is_none().then(|| by_domain(f, g)))
        .collect();
    let count0 = flow_count_in(first, doms[0].as_deref().unwrap_or_default(), spec.kernel);
    let count: u64 = groups
        .iter()
        .zip(&doms)
        .map(|(g, d)| d.as_ref().map_or(count0, |d| flow_count_in(g, d, spec.kernel)))
        .sum();
    if count > crate::alltoall::MAX_EXCHANGE_FLOWS {
        return Err(CollectiveError::BadGroup(format!(
            "{} over {} ranks is {count} flows, beyond the limit of {}: use smaller EP groups (e.g. --ranks 256)",
            spec.op.name(),
            groups.iter().map(|g| g.len()).sum::<usize>(),
            crate::alltoall::MAX_EXCHANGE_FLOWS
        )));
    }
    let mut flows = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut acc = None;
    // Where each group's flows end in `flows`.
    let mut group_end = Vec::with_capacity(groups.len());
    for ((g, d), shift) in groups.iter().zip(&doms).zip(&shifts) {
        match (d, shift) {
            (Some(d), _) => {
                let a = group_flows(f, g, d, spec, &mut flows);
                acc.get_or_insert(a);
            }
            // (No members by domain: a moved group.)
            (None, shift) => {
                debug_assert!(shift.is_some());
                let d = shift.unwrap_or(0) as u32;
                for q in 0..group_end[0] {
                    let fl = &flows[q];
                    let moved = Flow {
                        src: fl.src.wrapping_add(d),
                        dst: fl.dst.wrapping_add(d),
                        ..*fl
                    };
                    flows.push(moved);
                }
            }
        }
        group_end.push(flows.len());
    }
    let acc = acc.expect("at least one group");
    Ok((flows, group_end, acc))
}

/// Route every flow of [`build`] into one flow set (routes from `cache` when it has them).
fn route(
    f: &Fabric,
    groups: &[Vec<u32>],
    spec: &MoeSpec,
    cache: Option<&RouteCache>,
    kept: Kept,
) -> Result<Routed, CollectiveError> {
    let first = groups
        .first()
        .ok_or_else(|| CollectiveError::BadGroup("no groups given".into()))?;
    let (flows, group_end, acc) = all_flows(f, groups, spec)?;
    let Kept { caps, own, twin } = kept;
    let base = f.links.len() as u32;
    // One virtual copy-ingress link per GPU that has NVLink peers in its group.
    // (By destination rank; `NO_LINK` where none yet.)
    const NO_LINK: u32 = u32::MAX;
    let mut vlink: Vec<u32> = vec![NO_LINK; f.accel_count()];
    let mut virtual_links = Vec::new();
    // The real NVLink down-link each virtual copy-ingress link stands for.
    let mut real_links: Vec<u32> = Vec::new();
    let carries = |fl: &Flow| fl.bytes > 0.0 || fl.bytes.is_nan();
    let head = |real_links: Vec<u32>, n_flows: usize| MoeBuilt {
        spec: *spec,
        ranks: first.len() as u32,
        acc,
        base,
        real_links,
        flows: n_flows,
        plan: crate::simulate::BuiltPlan::empty(),
        routed: None,
    };
    if let Some(hit) = own {
        if hit.carries.len() == flows.len() && hit.carries.iter().zip(&flows).all(|(&c, fl)| c == carries(fl)) {
            c_hit(cache);
            let mut set = hit.set.clone();
            for (b, &i) in set.bytes_mut().iter_mut().zip(&hit.from) {
                *b = flows[i as usize].bytes;
            }
            let n = set.len();
            return Ok((
                head(hit.real_links.clone(), n),
                caps,
                hit.virtual_links.clone(),
                MoeSet::Own(set),
                hit.ends.clone(),
                Some(hit),
            ));
        }
    }
    let mut from: Vec<u32> = Vec::with_capacity(if cache.is_some() { flows.len() } else { 0 });
    let twin_routes = twin
        .as_deref()
        .map(|t| TwinRoutes::new(t, groups, &group_end, &flows, f.accel_count()));
    // The NVLink ingress (the last link of a route from the first domain peer) of each
    // accelerator the other direction's run made a copy-ingress link for: a function of the
    // accelerator alone, found the same way in either direction.
    let mut twin_ingress: Vec<u32> = Vec::new();
    if let Some(t) = twin.as_deref() {
        twin_ingress.resize(f.accel_count(), NO_LINK);
        for (&g, &real) in t.ingress_of.iter().zip(&t.real_links) {
            if let Some(x) = twin_ingress.get_mut(g as usize) {
                *x = real;
            }
        }
    }
    let mut ingress_of: Vec<u32> = Vec::new();
    let mut twin_used = false;
    let mut buf = Vec::new();
    // Routes go straight into one compact flow set (no vector per flow: ~10⁵ flows).
    let mut set = engine::FlowSet::with_capacity(flows.len(), 4 * flows.len());
    let mut path: Vec<u32> = Vec::new();
    let mut n_flows = 0;
    // Where each group's flows end in `set`.
    let mut ends = Vec::with_capacity(groups.len());
    for (i, fl) in flows.iter().enumerate() {
        while ends.len() < group_end.len() && group_end[ends.len()] <= i {
            ends.push(set.len());
        }
        let (src, dst) = match spec.op {
            MoeOp::Dispatch => (fl.src, fl.dst),
            MoeOp::Combine => (fl.dst, fl.src),
        };
        if !carries(fl) {
            continue;
        }
        path.clear();
        if src != dst {
            let known = match (&twin_routes, &twin) {
                (Some(tr), Some(t)) => tr.route(t, i, base, &mut path),
                _ => false,
            };
            twin_used |= known;
            if !known {
                // Straight into the (empty) path: `TwinRoutes::route` adds nothing where it
                // has no route.
                f.route(src, dst, 0, RouteOpts { pxn: false }, &mut path)?;
            }
        }
        if fl.nvlink && f.domain_size > 1 {
            let id = match vlink.get(dst as usize).copied().filter(|&v| v != NO_LINK) {
                Some(id) => id,
                None => {
                    // The GPU's NVLink ingress: the last link of a route from a domain peer.
                    // The lowest-numbered other accelerator of its domain (domains are
                    // contiguous rank ranges: `Fabric::domain_of`).
                    let first = f.domain_of(dst) * f.domain_size;
                    let peer = [first, first + 1]
                        .into_iter()
                        .find(|&p| p != dst && (p as usize) < f.accel_count() && f.domain_of(p) == f.domain_of(dst));
                    let known = twin_ingress.get(dst as usize).copied().filter(|&l| l != NO_LINK);
                    let last = match peer {
                        Some(_) if known.is_some() => known,
                        Some(p) => {
                            buf.clear();
                            f.route(p, dst, 0, RouteOpts { pxn: false }, &mut buf)?;
                            buf.last().copied()
                        }
                        None => None,
                    };
                    let Some(last) = last else {
                        continue;
                    };
                    let id = base + virtual_links.len() as u32;
                    virtual_links.push(caps[last as usize]);
                    real_links.push(last);
                    ingress_of.push(dst);
                    if vlink.len() <= dst as usize {
                        vlink.resize(dst as usize + 1, NO_LINK);
                    }
                    vlink[dst as usize] = id;
                    id
                }
            };
            path.push(id);
        }
        if path.is_empty() {
            continue; // a local copy with no NVLink peers: HBM speed, not modelled
        }
        set.push(&path, fl.bytes, 1);
        if cache.is_some() {
            from.push(i as u32);
        }
        n_flows += 1;
    }
    ends.resize(group_end.len(), set.len());
    if let (true, Some(c)) = (twin_used, cache) {
        c.twins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let Some(c) = cache else {
        return Ok((
            head(real_links, n_flows),
            caps,
            virtual_links,
            MoeSet::Own(set),
            ends,
            None,
        ));
    };
    let routes = {
        let r = std::sync::Arc::new(MoeRoutes {
            groups: groups.to_vec(),
            kernel: spec.kernel,
            op: spec.op,
            carries: flows.iter().map(carries).collect(),
            set,
            from,
            ends: ends.clone(),
            virtual_links: virtual_links.clone(),
            real_links: real_links.clone(),
            ingress_of,
            links: caps.len() + virtual_links.len(),
            symmetry: Default::default(),
        });
        c.put(r.clone(), &caps);
        r
    };
    let set = MoeSet::Kept(routes.clone());
    Ok((head(real_links, n_flows), caps, virtual_links, set, ends, Some(routes)))
}

/// Simulate a built dispatch or combine at `fidelity`: what [`run`] gives.
pub fn run_built(f: &Fabric, built: &mut MoeBuilt, fidelity: Fidelity) -> Result<MoeResult, CollectiveError> {
    if let Some(r) = &built.routed {
        if r.ends.len() > 1 {
            let slots = r.routes.as_deref().map_or(&r.symmetry, |routes| &routes.symmetry);
            if let Some((transfer, busy)) = run_symmetric(Some(slots), &r.all, &r.set, &r.ends, fidelity) {
                return Ok(finish(f, built, transfer, crate::simulate::name_bottlenecks(f, busy)));
            }
        }
        // Stored only on success: a failed build leaves the routed flows for a later run.
        built.plan = crate::simulate::build_flows_on(r.all.clone(), &r.set)?;
        built.routed = None;
    }
    let (transfer, bottlenecks) = crate::simulate::run_built(f, &mut built.plan, fidelity)?;
    Ok(finish(f, built, transfer, bottlenecks))
}

/// The result of a run of `built` whose transfer took `transfer` seconds, with its busy links.
fn finish(f: &Fabric, built: &MoeBuilt, transfer: f64, mut bottlenecks: Vec<crate::simulate::Bottleneck>) -> MoeResult {
    let (spec, acc, base) = (&built.spec, built.acc, built.base);
    let real_links = &built.real_links;
    // A copy-ingress bottleneck is reported as the GPU's NVLink down-link it stands for.
    for bn in &mut bottlenecks {
        if let Some(&real) = bn.link.checked_sub(base).and_then(|v| real_links.get(v as usize)) {
            bn.link = real;
            bn.name = format!("{} (copies into the GPU)", f.link_name(fabric::LinkId(real)));
        }
    }
    let latency = match spec.kernel {
        MoeKernel::LowLatency => LL_KERNEL_LATENCY_S,
        MoeKernel::Normal => 0.0,
    };
    let time = transfer + latency;
    let per_s = |b: f64| if time > 0.0 { b / time } else { 0.0 };
    let (domain, rdma_b, nvl_b) = match spec.kernel {
        MoeKernel::LowLatency => (Domain::Rdma, acc.ll_bytes, acc.ll_bytes),
        MoeKernel::Normal if acc.nodes == 1 => (Domain::NvLink, 0.0, acc.nvlink_bytes),
        MoeKernel::Normal => (Domain::Rdma, acc.rdma_bytes, acc.nvlink_bytes),
    };
    let bottleneck = match domain {
        Domain::Rdma => rdma_b,
        Domain::NvLink => nvl_b,
    };
    MoeResult {
        spec: *spec,
        ranks: built.ranks,
        bytes: acc,
        time_s: time,
        transfer_s: transfer,
        latency_s: latency,
        bottleneck_domain: domain,
        bottleneck_bytes_per_s: per_s(bottleneck),
        rdma_bytes_per_s: per_s(rdma_b),
        nvlink_bytes_per_s: per_s(nvl_b),
        bottlenecks,
        flows: built.flows,
    }
}

impl fmt::Display for MoeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) on {} ranks: {:.1} µs, {:.1} GB/s ({})",
            self.spec.op.name(),
            self.spec.kernel.name(),
            self.ranks,
            self.time_s * 1e6,
            self.bottleneck_bytes_per_s / 1e9,
            self.bottleneck_domain.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run mirrored from the other direction's symmetric routes derives what routing its
    /// flows gives: the capacities (the copy-ingress links numbered alike), the ingress links'
    /// down-links, the first group's flows and the symmetry map, equal to
    /// `simulate::symmetry_map` of all the routed flows — on groups whose members alternate
    /// between scale-up domains (each direction numbers its ingress links in another order),
    /// listed from another rank, and interleaved.
    #[test]
    fn mirrored_runs_derive_the_routed_flows() {
        let mut derived = 0;
        for name in [
            "fat-tree:gpus=64",
            "fat-tree:gpus=256,oversub=3",
            "rail-optimized:gpus=128",
        ] {
            let f = fabric::presets::build_preset(name).unwrap().1;
            let ds = f.domain_size;
            let layouts: [Vec<Vec<u32>>; 3] = [
                (0..4)
                    .map(|g| vec![2 * g + ds, 2 * g, 2 * g + 1 + ds, 2 * g + 1])
                    .collect(),
                (0..3)
                    .map(|g| (0..8).map(|i| 16 * g + (2 * i + 5) % 16).collect())
                    .collect(),
                (0..4).map(|g| (0..8).map(|i| g + 4 * i).collect()).collect(),
            ];
            for groups in &layouts {
                for kernel in [MoeKernel::Normal, MoeKernel::LowLatency] {
                    for first in [MoeOp::Dispatch, MoeOp::Combine] {
                        let cache = RouteCache::new();
                        let spec = |op| MoeSpec {
                            imbalance: 1.5,
                            ..MoeSpec::new(op, kernel, 96, 1024, 4, 64)
                        };
                        run_cached(&f, groups, &spec(first), Fidelity::Analytical, Some(&cache)).unwrap();
                        let spec = spec(first.reverse());
                        let kept = Kept::look_up(&f, groups, &spec, Some(&cache));
                        assert!(kept.own.is_none());
                        let Some(m) = mirror(&f, groups, &spec, kept.twin.as_deref().unwrap(), &kept.caps) else {
                            continue;
                        };
                        let fresh = Kept::look_up(&f, groups, &spec, None);
                        let (head, caps, virtual_links, set, ends, _) = route(&f, groups, &spec, None, fresh).unwrap();
                        let all = crate::simulate::engine_capacities(&f, &caps, &virtual_links);
                        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&m.all), bits(&all), "{name} {groups:?} {spec:?}");
                        assert_eq!(m.head.real_links, head.real_links);
                        assert_eq!(m.head.flows, head.flows);
                        let mut firsts = engine::FlowSet::new();
                        for i in 0..ends[0] {
                            let (p, b, w) = set.flow(i);
                            firsts.push(p, b, w);
                        }
                        assert_eq!(m.first, firsts, "{name} {groups:?} {spec:?}");
                        let map = crate::simulate::symmetry_map(&all, &set, &ends, Fidelity::Analytical);
                        assert_eq!(Some(&m.map), map.as_ref(), "{name} {groups:?} {spec:?}");
                        derived += 1;
                    }
                }
            }
        }
        assert!(derived >= 20, "{derived} runs derived");
    }

    /// `all_flows` gives each group's own checks and flows (`group_flows`) in order, with
    /// groups that are the first moved by some ranks among them (forward and back, within and
    /// across scale-up domains) and groups that are not, and the same errors for bad groups.
    #[test]
    fn all_flows_are_each_groups_flows() {
        let naive = |f: &Fabric, groups: &[Vec<u32>], spec: &MoeSpec| {
            let first = groups
                .first()
                .ok_or_else(|| CollectiveError::BadGroup("no groups given".into()))?;
            for g in groups {
                check_group(f, g)?;
                spec.check(g.len()).map_err(CollectiveError::BadGroup)?;
            }
            let doms: Vec<Vec<Vec<u32>>> = groups.iter().map(|g| by_domain(f, g)).collect();
            let count: u64 = groups
                .iter()
                .zip(&doms)
                .map(|(g, d)| flow_count_in(g, d, spec.kernel))
                .sum();
            if count > crate::alltoall::MAX_EXCHANGE_FLOWS {
                return Err(CollectiveError::BadGroup(format!("count {count}")));
            }
            let (mut flows, mut ends) = (Vec::new(), Vec::new());
            let acc = group_flows(f, first, &doms[0], spec, &mut Vec::new());
            for (g, d) in groups.iter().zip(&doms) {
                group_flows(f, g, d, spec, &mut flows);
                ends.push(flows.len());
            }
            Ok((flows, ends, acc))
        };
        let mut moved = 0;
        for name in ["fat-tree:gpus=64", "rail-optimized:gpus=128", "gb200-nvl72"] {
            let f = fabric::presets::build_preset(name).unwrap().1;
            let ds = f.domain_size;
            let layouts: Vec<Vec<Vec<u32>>> = vec![
                (0..4).map(|g| (0..8).map(|i| g * 8 + i).collect()).collect(),
                (0..4).map(|g| (0..8).map(|i| (3 - g) * 8 + i).collect()).collect(),
                (0..4)
                    .map(|g| vec![2 * g + ds, 2 * g, 2 * g + 1 + ds, 2 * g + 1])
                    .collect(),
                (0..4).map(|g| (0..6).map(|i| g + 4 * i).collect()).collect(),
                (0..3)
                    .map(|g| (0..8).map(|i| 16 * g + (2 * i + 5) % 16).collect())
                    .collect(),
                vec![vec![0, 1, 2, 3], vec![5, 6, 7, 8], vec![9, 10, 11, 12]],
                vec![vec![0, 1, 2, 3], vec![4, 5, 6, 6]],
                vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![2000, 2001, 2002, 2003]],
            ];
            for groups in &layouts {
                for kernel in [MoeKernel::Normal, MoeKernel::LowLatency] {
                    let spec = MoeSpec {
                        imbalance: 1.5,
                        ..MoeSpec::new(MoeOp::Dispatch, kernel, 96, 1024, 4, 64)
                    };
                    let a = all_flows(&f, groups, &spec).map(|(fl, e, acc)| (fl, e, format!("{acc:?}")));
                    let b = naive(&f, groups, &spec).map(|(fl, e, acc)| (fl, e, format!("{acc:?}")));
                    match (&a, &b) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b, "{name} {groups:?} {kernel:?}"),
                        (Err(CollectiveError::BadGroup(x)), Err(CollectiveError::BadGroup(y)))
                            if y.starts_with("count") =>
                        {
                            assert!(x.contains("beyond the limit"), "{x}")
                        }
                        _ => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name} {groups:?}"),
                    }
                    moved += groups[1..]
                        .iter()
                        .filter(|g| crate::simulate::rank_shift(&f, &groups[0], g).is_some())
                        .count();
                }
            }
        }
        assert!(moved >= 20, "{moved} moved groups");
    }

    fn v3(op: MoeOp, kernel: MoeKernel, tokens: u64) -> MoeSpec {
        MoeSpec::new(op, kernel, tokens, 7168, 8, 256)
    }

    #[test]
    fn token_bytes_follow_deepep_benchmarks() {
        // FP8: 7168 + 56 scales × 4 B = 7392; BF16 2 × 7168; low-latency FP8 adds 16 B.
        assert_eq!(v3(MoeOp::Dispatch, MoeKernel::Normal, 1).token_bytes(), 7392.0);
        assert_eq!(v3(MoeOp::Combine, MoeKernel::Normal, 1).token_bytes(), 14336.0);
        assert_eq!(v3(MoeOp::Dispatch, MoeKernel::LowLatency, 1).token_bytes(), 7408.0);
    }

    #[test]
    fn dedup_counts_distinct_ranks_and_nodes() {
        // One node of 8: each rank hosts 32 of 256 experts; a token misses a rank with
        // probability C(224, 8) / C(256, 8).
        let s = v3(MoeOp::Dispatch, MoeKernel::Normal, 4096);
        let a = bytes(&s, 1, 8);
        let miss: f64 = (0..8).map(|i| (224.0 - i as f64) / (256.0 - i as f64)).product();
        assert!((a.p_rank - (1.0 - miss)).abs() < 1e-12);
        assert!((a.ranks_hit_per_token - 8.0 * (1.0 - miss)).abs() < 1e-12);
        // Dedup: fewer copies than selections (5.3 distinct ranks for 8 experts).
        assert!(a.ranks_hit_per_token < 8.0 && a.ranks_hit_per_token > 5.0);
        assert!((a.nvlink_bytes - 4096.0 * a.ranks_hit_per_token * 7392.0).abs() < 1e-6);
        assert_eq!((a.rdma_wire_bytes, a.rdma_bytes), (0.0, 0.0));
        // Low-latency: every selection is a message, no dedup.
        let ll = bytes(&v3(MoeOp::Dispatch, MoeKernel::LowLatency, 128), 1, 8);
        assert_eq!(ll.ll_bytes, 128.0 * 8.0 * 7408.0);
    }

    #[test]
    fn node_limited_routing_caps_the_nodes_a_token_reaches() {
        let s = v3(MoeOp::Dispatch, MoeKernel::Normal, 4096);
        // 8 nodes, at most 4 per token: 4 nodes chosen, 8 experts among their 128.
        let a = bytes(&s, 8, 64);
        assert_eq!(a.nodes_per_token, 4);
        let miss: f64 = (0..8).map(|i| (96.0 - i as f64) / (128.0 - i as f64)).product();
        assert!((a.nodes_hit_per_token - 4.0 * (1.0 - miss)).abs() < 1e-12);
        assert!(a.nodes_hit_per_token <= 4.0);
        // Without the limit a token reaches more nodes.
        let free = bytes(&MoeSpec { max_nodes: 0, ..s }, 8, 64);
        assert!(free.nodes_hit_per_token > a.nodes_hit_per_token + 1.0);
        // RDMA once per node, not per rank: wire bytes = tokens × other nodes hit × bytes.
        assert!((a.rdma_wire_bytes - 4096.0 * a.p_node * 7.0 * 7392.0).abs() < 1e-6);
        assert!(a.rdma_bytes > a.rdma_wire_bytes);
        // Two nodes: the limit of 4 does not bind.
        assert_eq!(bytes(&s, 2, 16).nodes_per_token, 2);
        // Whole-group sums: what ranks receive equals what they send (p_rank over all ranks).
        let sent = a.ranks_hit_per_token * 4096.0;
        assert!((a.nvlink_bytes / 7392.0 - sent).abs() < 1e-6);
    }

    #[test]
    fn checks_name_the_flag() {
        let s = v3(MoeOp::Dispatch, MoeKernel::Normal, 4096);
        assert!(MoeSpec { topk: 0, ..s }.check(8).unwrap_err().contains("--topk"));
        assert!(MoeSpec { topk: 300, ..s }
            .check(8)
            .unwrap_err()
            .contains("--topk 300 exceeds --experts 256"));
        assert!(MoeSpec {
            experts: 100,
            topk: 8,
            ..s
        }
        .check(8)
        .unwrap_err()
        .contains("multiple"));
        assert!(MoeSpec { imbalance: 0.5, ..s }.check(8).is_err());
        assert!(MoeSpec { experts: 1 << 20, ..s }
            .check(8)
            .unwrap_err()
            .contains("--experts"));
        assert!(MoeSpec { hidden: 1 << 30, ..s }
            .check(8)
            .unwrap_err()
            .contains("--hidden"));
        assert!(MoeSpec { tokens: 1 << 30, ..s }
            .check(8)
            .unwrap_err()
            .contains("--tokens"));
        assert!(MoeKernel::parse("fast").unwrap_err().contains("normal, low-latency"));
        assert!(s.check(8).is_ok());
    }

    #[test]
    fn too_many_flows_is_an_error() {
        let f = fabric::presets::build_preset("fat-tree:gpus=8192").unwrap().1;
        let g = vec![(0..8192).collect::<Vec<u32>>()];
        let s = MoeSpec::new(MoeOp::Dispatch, MoeKernel::LowLatency, 128, 7168, 8, 8192);
        assert_eq!(flow_count(&f, &g[0], MoeKernel::LowLatency), 8192 * 8192);
        let e = run(&f, &g, &s, Fidelity::Flow).unwrap_err().to_string();
        assert!(e.contains("beyond the limit") && e.contains("--ranks"), "{e}");
        // Normal kernels: 1,024 nodes × 1,023 per rank + 64 per node.
        assert_eq!(flow_count(&f, &g[0], MoeKernel::Normal), 8192 * 1023 + 1024 * 64);
    }

    #[test]
    fn constants_pinned() {
        assert_eq!(DEEPSEEK_V3_MAX_NODES, 4);
        assert_eq!(FP8_SCALE_BLOCK, 128);
        assert_eq!(LL_MESSAGE_HEADER_BYTES, 16.0);
        assert_eq!(LL_KERNEL_LATENCY_S, 35e-6);
    }

    /// DeepEP's published H800 table (docs/legacy.md) on an HGX H800 and a fat-tree of them:
    /// the model stays within 15 % of each figure it is checked on.
    #[test]
    fn deepep_h800_table() {
        let one = fabric::presets::build_preset("hgx:gpu=h800").unwrap().1;
        let four = fabric::presets::build_preset("fat-tree:gpus=32,node=hgx-h800")
            .unwrap()
            .1;
        let g = |n: u32| vec![(0..n).collect::<Vec<u32>>()];
        for (f, n, kernel, op, tokens, gbps) in [
            (&one, 8, MoeKernel::Normal, MoeOp::Dispatch, 4096, 153.0),
            (&one, 8, MoeKernel::Normal, MoeOp::Combine, 4096, 158.0),
            (&four, 32, MoeKernel::Normal, MoeOp::Dispatch, 4096, 58.0),
            (&four, 32, MoeKernel::Normal, MoeOp::Combine, 4096, 57.0),
            (&one, 8, MoeKernel::LowLatency, MoeOp::Dispatch, 128, 98.0),
            (&four, 32, MoeKernel::LowLatency, MoeOp::Combine, 128, 53.0),
        ] {
            let s = v3(op, kernel, tokens);
            let r = run(f, &g(n), &s, Fidelity::Flow).unwrap();
            let got = r.bottleneck_bytes_per_s / 1e9;
            assert!(
                (got / gbps - 1.0).abs() < 0.15,
                "{n} {kernel:?} {op:?}: {got:.1} vs {gbps}"
            );
        }
    }
}

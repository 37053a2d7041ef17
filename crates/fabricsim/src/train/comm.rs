//! Stage 2 of a training step: **communication costs**. Price every collective of one step on
//! the real fabric — tensor-, context- and expert-parallel collectives, ZeRO-3 parameter
//! gathers, pipeline sends and data-parallel gradient synchronisation — each with every group
//! of its dimension at once, so groups contend where they share links.
//!
//! The output, [`CommCosts`], holds durations per occurrence (per layer, per send, per step);
//! how much of each is exposed is decided by the stage-timing and schedule stages. Every priced
//! collective is also listed ([`PricedComm`]: operation, bytes, algorithm) for reports and traces.
//!
//! In-network reductions (SHARP/CollNet, NVLS) compete in NCCL-like selection unless switched
//! off ([`CommOptions::in_network`]).
//!
//! **Fidelity check.** The analytical fidelity prices a transfer by its own link loads and
//! lets separate transfers ignore each other. When the step is priced analytically, the
//! largest communications of the step (every kind whose per-step time on one rank is at least
//! [`CHECK_SHARE`] of the largest kind's) are priced again under the flow fidelity (max-min fair
//! sharing, all groups together: one flow solve per collective, no schedule), and the gradient
//! synchronisation, which the analytical schedule runs stage by stage without contention
//! between the pipeline stages' syncs, is compared with all stages' syncs together under flow.
//! Each check that differs by more than [`CHECK_TOLERANCE`] becomes a [`FidelityCheck`] the
//! report turns into a warning naming the dimension and both times.

use super::layout::{Dim, Layout, Placement};
use super::memory::param_split;
use collective::constants::{LinkClass, Protocol, NET_CHANNELS};
use collective::moe::{MoeBuilt, MoeResult, MoeSpec};
use collective::plan::{Phase, Plan, PlanFlow};
use collective::simulate::{
    build_plan_routes, build_plan_routes_from, latency, lower, run_built, run_plan, run_plan_routes_checked, BuiltPlan,
    Options, PlanRoutes, REF_SIZE,
};
use collective::{Algo, InNetwork, Op};
use engine::Fidelity;
use fabric::Fabric;
use std::collections::BTreeMap;
use std::sync::Arc;
use workload::{ModelSpec, ParallelPlan};

/// Communication time of one collective on all groups of a dimension at once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommCost {
    pub seconds: f64,
    pub algo: Option<Algo>,
    pub protocol: Option<Protocol>,
    /// The latency part of `seconds`.
    pub latency: f64,
}

/// How the comm stage prices collectives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommOptions {
    pub fidelity: Fidelity,
    /// In-network reductions selection may use (`--sharp`, `--nvls`; both on by default).
    pub in_network: InNetwork,
    /// Max/mean expert load (`--moe-imbalance`, ≥ 1; 1 = balanced).
    pub moe_imbalance: f64,
    /// Run the analytical fidelity checks (module notes; on by default). They only add
    /// warnings: switching them off changes no time, only drops [`CommCosts::fidelity_checks`].
    /// The planner's analytical pass switches them off (its survivors are re-ranked at flow).
    pub fidelity_checks: bool,
}

impl From<Fidelity> for CommOptions {
    /// `fidelity` with every in-network reduction allowed.
    fn from(fidelity: Fidelity) -> Self {
        CommOptions {
            fidelity,
            in_network: InNetwork::default(),
            moe_imbalance: 1.0,
            fidelity_checks: true,
        }
    }
}

/// Kinds whose per-step time is at least this share of the largest kind's are fidelity-checked.
pub const CHECK_SHARE: f64 = 0.1;
/// A fidelity check warns when the two prices differ by more than this fraction.
pub const CHECK_TOLERANCE: f64 = 0.1;

/// The kind of communication a link load comes from (the `during` of a busiest link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommKind {
    Tp,
    Ep,
    Cp,
    Pp,
    Dp,
    /// ZeRO-3 parameter gathers.
    Zero3,
}

impl CommKind {
    pub fn label(self) -> &'static str {
        match self {
            CommKind::Tp => "TP",
            CommKind::Ep => "EP",
            CommKind::Cp => "CP",
            CommKind::Pp => "PP",
            CommKind::Dp => "DP",
            CommKind::Zero3 => "ZeRO-3",
        }
    }
}

/// A link's utilisation while one kind of communication runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkLoad {
    pub link: u32,
    pub utilisation: f64,
    pub during: CommKind,
}

/// One data-parallel synchronisation collective (all groups of `dim` at once).
#[derive(Debug, Clone, PartialEq)]
pub struct DpSync {
    pub dim: Dim,
    pub op: Op,
    pub bytes: f64,
    pub cost: CommCost,
}

/// One priced collective (or send) of the step, every group of its dimension at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricedComm {
    pub kind: CommKind,
    /// The dimension whose groups run it (`None` for pipeline sends).
    pub dim: Option<Dim>,
    pub op: Op,
    /// Bytes of one occurrence per rank (the collective's message size).
    pub bytes: f64,
    /// Ranks per group and groups priced together.
    pub group_size: u32,
    pub groups: u32,
    pub cost: CommCost,
}

/// What a fidelity check compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckScope {
    /// The same collective, all groups together, analytical against flow.
    AllGroups,
    /// One pipeline stage's gradient sync alone (analytical, as the analytical schedule runs
    /// it) against every stage's together under flow (they overlap at the end of the step).
    StagesTogether,
}

/// An analytical price checked against the flow fidelity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FidelityCheck {
    pub kind: CommKind,
    pub op: Op,
    pub scope: CheckScope,
    pub analytical_s: f64,
    pub flow_s: f64,
    /// Pipeline stages whose syncs were priced together (`StagesTogether`).
    pub stages: u32,
}

impl FidelityCheck {
    /// Relative difference of the two prices.
    pub fn difference(&self) -> f64 {
        (self.flow_s - self.analytical_s).abs() / self.analytical_s.max(1e-300)
    }
}

/// Every communication of one step, priced.
#[derive(Debug, Clone, Default)]
pub struct CommCosts {
    /// Tensor-parallel collectives of one layer's forward (the backward has the same).
    pub tp_per_layer: f64,
    pub tp_algo: Option<Algo>,
    /// Expert dispatch + combine of one MoE layer in one direction.
    pub ep_per_moe_layer: f64,
    /// DeepEP's dispatch/combine of one MoE layer, forward and backward (train/moe.rs).
    pub moe: Option<super::moe::MoeEp>,
    /// One round of the context-parallel K/V ring.
    pub cp_kv_round: f64,
    /// ZeRO-3 all-gather of one layer's parameters (over the shard group).
    pub zero3_ag_per_layer: f64,
    /// ZeRO-3 reduce-scatter of one layer's gradients (over the shard group).
    pub zero3_rs_per_layer: f64,
    /// HSDP: all-reduce of one layer's gradient shard across the replicas (0 without HSDP).
    pub zero3_ar_per_layer: f64,
    /// HSDP: bytes of that all-reduce per rank (0 without HSDP).
    pub hsdp_ar_bytes_per_layer: f64,
    /// One activation (or gradient) send between consecutive stages, every pair at once.
    pub p2p: f64,
    /// Bytes of one such send per rank.
    pub p2p_bytes: f64,
    /// Gradient synchronisation collectives of each stage (dense, then expert).
    pub dp: Vec<DpSync>,
    /// Their summed time.
    pub dp_total: f64,
    /// Every priced collective and send, in pricing order.
    pub collectives: Vec<PricedComm>,
    /// Analytical prices checked against the flow fidelity (analytical runs only; all checks,
    /// within tolerance or not).
    pub fidelity_checks: Vec<FidelityCheck>,
    /// Link utilisations while each kind of communication runs, in pricing order.
    pub link_loads: Vec<LinkLoad>,
    pub warnings: Vec<String>,
    /// A send across a stage boundary that crosses the DCI (`--cross-site pp`): every such
    /// pair at once over the long-haul links, plus the one-way fibre delay; 0 when no
    /// boundary crosses sites.
    pub p2p_cross: f64,
    /// What crossing sites costs (multi-site fabrics only; `train::sites`).
    pub sites: Option<SiteComm>,
}

/// The cross-site communication of a step, as priced (`train::sites`).
#[derive(Debug, Clone, Default)]
pub struct SiteComm {
    pub dci: super::sites::Dci,
    /// Sites the job spans.
    pub sites: u32,
    /// Bytes each site sends over the DCI per step (closed form for the hierarchical sync).
    pub dci_bytes_per_site: f64,
    /// The flow engine's time for the cross-site pieces on their own (all groups at once),
    /// propagation excluded.
    pub dci_flow_s: f64,
    /// Latency-bound DCI crossings on the step's critical path.
    pub latency_steps: u32,
    /// DiLoCo: one outer synchronisation (hierarchical, fp32 pseudo-gradients), its DCI bytes
    /// per site and the flow time of its cross-site piece.
    pub outer_sync_s: f64,
    pub outer_dci_bytes_per_site: f64,
    pub outer_dci_flow_s: f64,
    pub outer_latency_steps: u32,
}

impl CommCosts {
    /// The priced collectives of one kind.
    pub fn of(&self, kind: CommKind) -> impl Iterator<Item = &PricedComm> {
        self.collectives.iter().filter(move |c| c.kind == kind)
    }
}

/// Results already computed while pricing, reused when the same computation comes again:
/// the merged plan of a collective on a set of groups (lowered at [`REF_SIZE`]), the
/// simulation of a merged plan (the same phases and virtual links at the same fidelity), and
/// DeepEP dispatch/combine runs (the same groups, spec and fidelity). The engine is
/// deterministic, so a reused result is the one a new run would give, bit for bit.
///
/// A memo serves **one fabric** (its topology and routing mode) and its effective capacities
/// (`Placement::caps`, checked: other capacities empty it); keys hold everything else a
/// result depends on. [`price`] keeps one per step (an analytical step
/// prices the same plan again in its fidelity checks, and reduce-scatter and all-gather
/// often lower to the same flows); [`super::Evaluator`] keeps one across the plans it
/// evaluates on its fabric.
#[derive(Default)]
pub struct Memo {
    /// The effective capacities the results were computed with (they follow the calibration
    /// constants in force: a change empties the memo).
    caps: Vec<f64>,
    /// The slice [`Memo::for_caps`] was last given (address and length: the placement's
    /// capacities, which a step's runs are given again), and whether `caps` pass
    /// `engine::check_capacities` (found at the first run that asks).
    caps_from: (usize, usize),
    caps_valid: Option<bool>,
    merged: MergedPlans,
    /// The algorithm, protocol and latency chosen for a collective of one size on one group
    /// (`run_sizes` of that group alone, and the latency of its plan).
    chosen: BTreeMap<ChooseKey, (Algo, Protocol, f64)>,
    runs: Vec<MemoRun>,
    moe: Vec<MemoMoe>,
    /// While the fidelity checks collect their simulations ([`start_checks`]):
    /// the runs asked for and missing, recorded instead of computed.
    defer: Option<Deferred>,
    /// Within one [`price_pending`] whose fidelity checks will run (until their first pass has
    /// taken them for their flow runs): the analytical runs' routed and stored plans
    /// (collectives and DeepEP), which the checks run again at flow fidelity instead of routing
    /// and storing the same flows a second time.
    keep_built: bool,
    built: Vec<(Arc<Plan>, BuiltPlan)>,
    built_moe: Vec<(Vec<Vec<u32>>, MoeSpec, MoeBuilt)>,
    /// DeepEP's routed flows, for runs of the same groups with other token counts
    /// (`collective::moe::RouteCache`: the same results). Routes depend on the fabric, and
    /// what the cache keeps with them on its effective capacities, which it checks; so the
    /// memos of one search's threads may share it ([`Memo::across_plans_sharing`]), and a
    /// change of the memo's capacities keeps it.
    moe_routes: Arc<collective::moe::RouteCache>,
    /// The schedule's routed data-parallel pieces (`pipeline::PieceRoutes`: the same flows;
    /// priced pieces are kept for one set of capacities, which it checks). Shared as
    /// `moe_routes`.
    pub(crate) piece_routes: Arc<super::pipeline::PieceRoutes>,
    /// The rank groups of the layouts met ([`super::layout::GroupMemo`]), for a memo serving
    /// several plans.
    pub(crate) groups: super::layout::GroupMemo,
    /// Whether the memo serves several plans ([`Memo::across_plans`]): only then are routes
    /// kept for later runs (`moe_routes`, `piece_routes`), which one step would not reuse.
    across_plans: bool,
    /// Pricing for the step time alone ([`Memo::step_time_only`]): the flat data-parallel
    /// synchronisations get their algorithm, protocol and latency but are not simulated.
    step_only: bool,
    /// The routed flows of the flat data-parallel synchronisations' merged plans this step's
    /// pricing ran (`collective::simulate::PlanRoutes`, under ECMP and spraying), for the
    /// schedule's data-parallel pieces to take instead of routing the same flows again: kept
    /// from [`Memo::start_plan_routes`] to [`Memo::clear_plan_routes`] (one step's pricing at
    /// most, within [`Memo::PLAN_ROUTES_UNITS`]; not the fidelity checks' runs).
    plan_routes: Vec<(Arc<Plan>, Arc<PlanRoutes>)>,
    /// The routes of the plans a step's up-front batch ran ([`prefetch`]), until the pricing
    /// of a data-parallel synchronisation claims its plan's (into `plan_routes`).
    spare_routes: Vec<(Arc<Plan>, Arc<PlanRoutes>)>,
    /// A search's memo ([`Memo::across_plans`]): the routes earlier steps kept for their
    /// data-parallel synchronisations' plans (the memo's merged plans, by address), for a later
    /// step whose run of the same plan the memo already holds — its schedule's pieces then take
    /// their paths from them as the first step's did. Oldest first, within
    /// [`Memo::PAST_ROUTES_UNITS`]; dropped with the merged plans (`Memo::bound`, a change of
    /// capacities), whose later plans are new addresses.
    past_routes: Vec<(Arc<Plan>, Arc<PlanRoutes>)>,
    /// Runs found in the memo whose routes came from `past_routes` (for tests and benches).
    past_claims: u64,
    /// Whether a step's pricing is on (routes may be kept).
    keeping_routes: bool,
    /// `Plan::bytes` of the plans in `merged`, by address (`merged` holds them as long as this
    /// memo, so an address names one plan): a sum over every flow, asked at each pricing.
    plan_bytes: std::collections::HashMap<usize, f64>,
    /// Flows of the plans in `merged` (what a search's memo grows by), and the most it keeps
    /// across steps before starting afresh ([`Memo::bound`]).
    merged_flows: usize,
    max_merged_flows: Option<usize>,
    /// Whether a data-parallel synchronisation is being priced (its run keeps its routes).
    want_routes: bool,
    /// Within one step's fidelity checks (from the first pass to the end of the second): the
    /// plans found to carry the flows of a plan asked for earlier in the pass, in another
    /// order ([`same_flows`]), each with that plan, whose flow run it takes ([`Memo::run`]).
    reordered: Vec<(Arc<Plan>, Arc<Plan>)>,
    /// Flows whose paths runs took from another plan's routes kept by the step's pricing
    /// ([`Memo::simulate`], `collective::simulate::RouteDonor`), over the memo's life
    /// (capacity changes included).
    lent_flows: u64,
    /// Runs do not take lent routes ([`Memo::set_route_lending`]).
    no_lending: bool,
}

/// Simulations a pass over the fidelity checks asked for and the memo lacked, to compute on
/// all cores before the pass that reads them.
#[derive(Default)]
struct Deferred {
    runs: Vec<(Arc<Plan>, Fidelity)>,
    moe: Vec<(Vec<Vec<u32>>, MoeSpec, Fidelity)>,
    /// The flow runs the pass asked for, in order, memo hits included (what a later request
    /// with the same flows in another order pairs with: [`Memo::run`]).
    requested: Vec<Arc<Plan>>,
}

/// The groups, operation, algorithm and channels of a merged plan.
type MergeKey = (Vec<Vec<u32>>, Op, Algo, u32);

/// The memo's merged plans by [`MergeKey`], found from the groups as a slice (no copy of the
/// groups per lookup): a hash of the operation, algorithm, channels, group count, first and
/// last groups and every group's size and first two ranks picks a bucket, where keys compare
/// whole.
#[derive(Default)]
struct MergedPlans(std::collections::HashMap<u64, Vec<(MergeKey, Arc<Plan>)>>);

impl MergedPlans {
    fn hash(groups: &[Vec<u32>], op: Op, algo: Algo, channels: u32) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (op, algo, channels, groups.len()).hash(&mut h);
        (groups.first(), groups.last()).hash(&mut h);
        // Every group's first two ranks and size, folded cheaply: group sets that share their
        // first and last groups (layouts in another order) still fall apart.
        let fold = groups.iter().fold(0u64, |acc, g| {
            let head = u64::from(g.first().copied().unwrap_or(u32::MAX)) << 32
                | u64::from(g.get(1).copied().unwrap_or(u32::MAX));
            (acc.rotate_left(17) ^ head ^ (g.len() as u64).rotate_left(40)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
        fold.hash(&mut h);
        h.finish()
    }

    fn get(&self, groups: &[Vec<u32>], op: Op, algo: Algo, channels: u32) -> Option<&Arc<Plan>> {
        let bucket = self.0.get(&Self::hash(groups, op, algo, channels))?;
        bucket
            .iter()
            .find(|((g, o, a, c), _)| *o == op && *a == algo && *c == channels && g.as_slice() == groups)
            .map(|(_, p)| p)
    }

    /// Keeps `plan` under `key` unless the key has one; whether it was kept.
    fn insert(&mut self, key: MergeKey, plan: &Arc<Plan>) -> bool {
        if self.get(&key.0, key.1, key.2, key.3).is_some() {
            return false;
        }
        let h = Self::hash(&key.0, key.1, key.2, key.3);
        self.0.entry(h).or_default().push((key, plan.clone()));
        true
    }
}

/// The group, operation, size (bits), fidelity (flow?) and in-network reductions (SHARP,
/// NVLS) of a choice of algorithm.
type ChooseKey = (Vec<u32>, Op, u64, bool, bool, bool);

/// Rank groups of one dimension, as a layout shares them (`Layout::groups`).
type Groups = Arc<Vec<Vec<u32>>>;

/// A simulated plan: the plan, its fidelity, its transfer time and busy links.
type MemoRun = (Arc<Plan>, Fidelity, f64, Vec<(u32, f64)>);

/// A DeepEP run: groups, spec, fidelity, result.
type MemoMoe = (Vec<Vec<u32>>, MoeSpec, Fidelity, Arc<MoeResult>);

impl Memo {
    /// An empty memo.
    pub fn new() -> Memo {
        Memo::default()
    }

    /// A memo for the plans of a search ([`super::Evaluator`]): it also keeps DeepEP's routes
    /// and the schedule's routed data-parallel pieces for later plans with the same groups.
    pub fn across_plans() -> Memo {
        Memo {
            across_plans: true,
            ..Memo::default()
        }
    }

    /// A memo for the plans of a search on the fabric `other` serves, sharing its route caches
    /// (DeepEP's routes, the schedule's pieces) and layout groups: a search's threads then route
    /// a layout once between them. The rest (merged plans, runs, choices) stays its own.
    pub fn across_plans_sharing(other: &Memo) -> Memo {
        Memo {
            across_plans: true,
            moe_routes: other.moe_routes.clone(),
            piece_routes: other.piece_routes.clone(),
            groups: other.groups.clone(),
            ..Memo::default()
        }
    }

    /// The groups memo layouts should share, when the memo serves several plans.
    pub(crate) fn groups_memo(&self) -> Option<&super::layout::GroupMemo> {
        self.across_plans.then_some(&self.groups)
    }

    /// The schedule's piece routes to use and keep, when the memo serves several plans.
    pub(crate) fn piece_routes(&self) -> Option<&super::pipeline::PieceRoutes> {
        self.across_plans.then_some(&self.piece_routes)
    }

    /// Reuse so far across plans: DeepEP runs that took their routes from the memo (their own,
    /// or the other direction's symmetric ones, mirrored without routing), and the schedule's
    /// data-parallel pieces it took ready (routed, or priced at analytical fidelity).
    pub fn route_reuse(&self) -> (u64, u64) {
        (
            self.moe_routes.hits() + self.moe_routes.mirrored(),
            self.piece_routes.hits(),
        )
    }

    /// Schedule pieces that took only their paths from the memo (another number of virtual
    /// stages: the same flows with other bytes).
    pub fn piece_path_reuse(&self) -> u64 {
        self.piece_routes.path_hits()
    }

    /// Priced schedule pieces taken from the memo for pieces whose bytes differ by a power of
    /// two (another number of virtual stages: 1, 2, 4, …), their durations scaled exactly.
    pub fn piece_scaled_reuse(&self) -> u64 {
        self.piece_routes.scaled_hits()
    }

    /// Flows of the schedule's data-parallel pieces that took their paths from the pricing's
    /// routes of the same plan (`pipeline::PieceRoutes::pre_flows`; counted where the memo
    /// serves several plans, over every memo sharing its route caches).
    pub fn piece_pre_reuse(&self) -> u64 {
        self.piece_routes.pre_flows()
    }

    /// Runs of data-parallel synchronisations found in the memo whose routes an earlier step
    /// kept (`Memo::past_routes`), for the schedule's pieces.
    pub fn past_route_claims(&self) -> u64 {
        self.past_claims
    }

    /// Flows whose runs took their paths from another plan's routes kept by a step's pricing
    /// instead of routing them (a data-parallel all-gather after its reduce-scatter: the same
    /// flows in another order; the results are the same either way).
    pub fn lent_flows(&self) -> u64 {
        self.lent_flows
    }

    /// Let runs take their flows' paths from another plan's routes kept in the same step
    /// (on by default; the results are the same either way).
    pub fn set_route_lending(&mut self, on: bool) {
        self.no_lending = !on;
    }

    /// DeepEP's route cache, when the memo serves several plans.
    fn moe_routes(&self) -> Option<&collective::moe::RouteCache> {
        self.across_plans.then_some(&self.moe_routes)
    }

    /// A memo for pricing whose only reader is the pipeline schedule (the step time, as
    /// [`super::step_time_ordered`] computes it): on a fabric that is not a TPU torus, the
    /// schedule runs every flat data-parallel synchronisation itself as flows and reads only
    /// its algorithm, protocol and latency from the pricing, so the pricing does not simulate
    /// it — its `CommCost::seconds` is 0 and it loads no links. Nothing else changes: tensor,
    /// context, expert and ZeRO-3 collectives, pipeline sends and the hierarchical pieces of a
    /// multi-site synchronisation are priced as always. Not for reports.
    pub fn step_time_only() -> Memo {
        Memo {
            step_only: true,
            ..Memo::default()
        }
    }

    /// Forget everything unless it was computed with these capacities.
    fn for_caps(&mut self, caps: &[f64]) {
        self.caps_from = (caps.as_ptr() as usize, caps.len());
        if self.caps.as_slice() != caps {
            *self = Memo {
                caps: caps.to_vec(),
                step_only: self.step_only,
                across_plans: self.across_plans,
                // Routes do not depend on capacities; priced pieces are checked against them
                // (`PieceRoutes::for_caps`).
                moe_routes: self.moe_routes.clone(),
                piece_routes: self.piece_routes.clone(),
                groups: self.groups.clone(),
                // Routes read no capacities.
                plan_routes: std::mem::take(&mut self.plan_routes),
                spare_routes: std::mem::take(&mut self.spare_routes),
                past_claims: self.past_claims,
                max_merged_flows: self.max_merged_flows,
                keeping_routes: self.keeping_routes,
                lent_flows: self.lent_flows,
                no_lending: self.no_lending,
                want_routes: self.want_routes,
                caps_from: self.caps_from,
                ..Memo::default()
            };
        }
    }

    /// Whether `caps` — the slice [`Memo::for_caps`] was last given, whose values the memo
    /// holds — pass `engine::check_capacities`, checked once per set of capacities; `false`
    /// for any other slice (its runs check it then, as before).
    fn caps_checked(&mut self, caps: &[f64]) -> bool {
        if (caps.as_ptr() as usize, caps.len()) != self.caps_from || caps.len() != self.caps.len() {
            return false;
        }
        debug_assert!(
            caps.iter().zip(&self.caps).all(|(a, b)| a.to_bits() == b.to_bits()),
            "a memo's runs read the capacities it was given"
        );
        *self
            .caps_valid
            .get_or_insert_with(|| engine::check_capacities(&self.caps).is_ok())
    }

    /// [`merge_groups`] at [`REF_SIZE`], once per (groups, op, algo, channels).
    fn merged(
        &mut self,
        f: &Fabric,
        groups: &[Vec<u32>],
        op: Op,
        algo: Algo,
        channels: u32,
    ) -> Result<Arc<Plan>, String> {
        if let Some(p) = self.merged.get(groups, op, algo, channels) {
            return Ok(p.clone());
        }
        let plan = Arc::new(merge_groups(f, groups, op, REF_SIZE, algo, channels)?);
        self.keep_merged((groups.to_vec(), op, algo, channels), &plan);
        Ok(plan)
    }

    /// The algorithm and protocol `run_sizes` chooses for `op` of `size` bytes on `group` alone
    /// under `sim`, and the latency of that algorithm's plan under that protocol; once per
    /// (group, op, size, fidelity, in-network reductions) — the other options are
    /// `Options::default()`'s. The choice is made on the fabric's own effective capacities
    /// (`run_sizes`), which follow the calibration constants like the memo's capacities do.
    fn choose(
        &mut self,
        f: &Fabric,
        caps: &[f64],
        group: &[u32],
        op: Op,
        size: f64,
        sim: Options,
    ) -> Result<(Algo, Protocol, f64), String> {
        let key = choose_key(group, op, size, sim);
        if let Some(&c) = self.chosen.get(&key) {
            return Ok(c);
        }
        let valid = self.caps_checked(caps);
        let (algo, proto, lat) = choose_one(f, caps, valid, group, op, size, sim)?;
        self.chosen.insert(key, (algo, proto, lat));
        Ok((algo, proto, lat))
    }

    /// What [`Memo::plan_routes`] and [`Memo::spare_routes`] keep at most, in 4-byte units
    /// ([`PlanRoutes::size`]: a hop 1, a flow 4, a flow's start 1): 64 MiB, plus the slack of
    /// the flow sets' reserved capacity.
    const PLAN_ROUTES_UNITS: usize = 1 << 24;

    /// What [`Memo::past_routes`] keeps at most, in the same units: 16 MiB per memo (a search
    /// has one per thread, for its whole length), the data-parallel plans of a few layouts of
    /// a 10⁴-GPU job.
    const PAST_ROUTES_UNITS: usize = 1 << 22;

    /// Keep the routes of a run of `plan` for this step's schedule (`spare`: from the up-front
    /// batch, until a synchronisation's pricing claims them), within the bound; past it they
    /// are not kept, and the schedule routes its pieces itself. Whether they were kept.
    fn keep_plan_routes(&mut self, plan: &Arc<Plan>, routes: Arc<PlanRoutes>, spare: bool) -> bool {
        if !self.keeping_routes {
            return false;
        }
        let used: usize = self
            .plan_routes
            .iter()
            .chain(&self.spare_routes)
            .map(|(_, r)| r.size())
            .sum();
        let kept = if spare {
            &mut self.spare_routes
        } else {
            &mut self.plan_routes
        };
        if used + routes.size() > Self::PLAN_ROUTES_UNITS || kept.iter().any(|(p, _)| same_plan(p, plan)) {
            return false;
        }
        kept.push((plan.clone(), routes.clone()));
        if !spare && self.across_plans {
            self.keep_past_routes(plan, &routes);
        }
        true
    }

    /// Keep a step's routes of `plan` for later steps ([`Memo::past_routes`]), the oldest
    /// dropped past the bound.
    fn keep_past_routes(&mut self, plan: &Arc<Plan>, routes: &Arc<PlanRoutes>) {
        let size = routes.size();
        if size > Self::PAST_ROUTES_UNITS || self.past_routes.iter().any(|(p, _)| Arc::ptr_eq(p, plan)) {
            return;
        }
        let used: usize = self.past_routes.iter().map(|(_, r)| r.size()).sum();
        // The oldest entries out, at once, until this one fits.
        let mut freed = 0;
        let out = self
            .past_routes
            .iter()
            .take_while(|(_, r)| {
                let over = used - freed + size > Self::PAST_ROUTES_UNITS;
                if over {
                    freed += r.size();
                }
                over
            })
            .count();
        self.past_routes.drain(..out);
        self.past_routes.push((plan.clone(), routes.clone()));
    }

    /// Whether runs now keep their routes for the schedule: a step's pricing of a flat
    /// data-parallel synchronisation.
    fn wants_routes(&self) -> bool {
        self.keeping_routes && self.want_routes
    }

    /// A data-parallel synchronisation's run of `plan` found in the memo: its routes, where the
    /// up-front batch kept them (or, in a search, an earlier step), move to those the schedule
    /// reads.
    fn claim_spare_routes(&mut self, plan: &Arc<Plan>) {
        if let Some(i) = self.spare_routes.iter().position(|(p, _)| same_plan(p, plan)) {
            let (p, r) = self.spare_routes.swap_remove(i);
            self.keep_plan_routes(&p, r, false);
        } else if let Some(i) = self.past_routes.iter().position(|(p, _)| Arc::ptr_eq(p, plan)) {
            // An earlier step's (a search's memo): the same plan, so the same routes; kept
            // as the newest (the last to go past the bound).
            let (p, r) = self.past_routes.remove(i);
            self.past_routes.push((p.clone(), r.clone()));
            if self.keep_plan_routes(&p, r, false) {
                self.past_claims += 1;
            }
        }
    }

    /// The routes kept for the merged plan of `op` on `groups` by `algo` over `channels`
    /// (as [`Memo::merged`] keys it) by this step's pricing, if any.
    pub(crate) fn plan_routes_for(
        &self,
        groups: &[Vec<u32>],
        op: Op,
        algo: Algo,
        channels: u32,
    ) -> Option<(Arc<Plan>, Arc<PlanRoutes>)> {
        if self.plan_routes.is_empty() {
            return None;
        }
        let plan = self.merged.get(groups, op, algo, channels)?;
        // An equal plan (another operation lowered to the same flows) was run once, under the
        // first one's name (`Memo::run`).
        self.plan_routes.iter().find(|(p, _)| same_plan(p, plan)).cloned()
    }

    /// Plan flows a memo serving several plans keeps in its merged plans before a step starts
    /// it afresh ([`Memo::bound`]): 2²⁵ (a plan flow is ~50 bytes, so ~1.6 GB per memo, one
    /// memo per search thread) — a guard against unbounded growth more than a target:
    /// starting afresh costs the reuse. The unconstrained search of the 9,216-GPU benchmark job
    /// peaks at 4.4 GB with it, 6.1 GB without, for the same CPU time (137 s against 135 s
    /// user); at 2²² it held 1.1 GB but took 70 % more CPU.
    pub const MAX_MERGED_FLOWS: usize = 1 << 25;

    /// Between steps: past [`Memo::MAX_MERGED_FLOWS`] flows in its merged plans (or the bound
    /// set by [`Memo::set_max_merged_flows`]), or past 4,096 DeepEP runs, forget the merged plans, their runs, the
    /// algorithm choices and DeepEP's runs (caches: later steps compute them again, the same
    /// values). The route caches are bounded on their own and stay.
    pub(crate) fn bound(&mut self) {
        let max = self.max_merged_flows.unwrap_or(Self::MAX_MERGED_FLOWS);
        if self.merged_flows > max || self.moe.len() > 1 << 12 {
            self.merged = MergedPlans::default();
            self.plan_bytes = std::collections::HashMap::new();
            self.merged_flows = 0;
            self.runs = Vec::new();
            self.reordered = Vec::new();
            self.chosen = BTreeMap::new();
            self.moe = Vec::new();
            // Kept for plans no later run will name (a new merged plan is a new address).
            self.past_routes = Vec::new();
        }
    }

    /// Another bound for [`Memo::bound`] (tests: a tiny one makes every step start afresh).
    pub fn set_max_merged_flows(&mut self, flows: usize) {
        self.max_merged_flows = Some(flows);
    }

    /// `plan.bytes()`, once per plan of `merged` (computed for any other).
    fn plan_bytes(&self, plan: &Arc<Plan>) -> f64 {
        match self.plan_bytes.get(&(Arc::as_ptr(plan) as usize)) {
            Some(&b) => b,
            None => plan.bytes(),
        }
    }

    /// Keep `plan` in `merged` under `key` (unless one is kept there already).
    fn keep_merged(&mut self, key: MergeKey, plan: &Arc<Plan>) {
        if self.merged.insert(key, plan) {
            self.plan_bytes.insert(Arc::as_ptr(plan) as usize, plan.bytes());
            self.merged_flows += plan.flow_count();
        }
    }

    /// Keep the routes of the runs from now on (a step's pricing), none kept before.
    pub(crate) fn start_plan_routes(&mut self) {
        self.plan_routes = Vec::new();
        self.spare_routes = Vec::new();
        self.keeping_routes = true;
    }

    /// Forget the routes kept by this step's pricing and keep no more (the schedule has taken
    /// what it needs).
    pub(crate) fn clear_plan_routes(&mut self) {
        self.plan_routes = Vec::new();
        self.spare_routes = Vec::new();
        self.keeping_routes = false;
    }

    /// `run_plan` of `plan` on the fabric with `caps` at `fidelity`, once per distinct plan.
    fn run(
        &mut self,
        f: &Fabric,
        caps: &[f64],
        plan: &Arc<Plan>,
        fidelity: Fidelity,
    ) -> Result<(f64, Vec<(u32, f64)>), String> {
        // Within the fidelity checks of one step, a flow run of a plan carrying the flows of a
        // plan the same pass asked for earlier, in another order (a hierarchical all-gather
        // after its reduce-scatter), takes that plan's result (`same_flows`,
        // `reorders_alike`): paired in the first pass, read in the second. Only the step's
        // own requests pair, in their order, so the result does not depend on what the memo
        // ran before (a search's memo serves many steps).
        if reorders_alike(f, fidelity) {
            match &mut self.defer {
                Some(d) => {
                    let earlier = d
                        .requested
                        .iter()
                        .find(|p| !same_plan(p, plan) && same_flows(p, plan))
                        .cloned();
                    if let Some(rep) = earlier {
                        if !self.reordered.iter().any(|(a, _)| Arc::ptr_eq(a, plan)) {
                            self.reordered.push((plan.clone(), rep));
                        }
                        return Ok((0.0, Vec::new()));
                    }
                    if !d.requested.iter().any(|p| same_plan(p, plan)) {
                        d.requested.push(plan.clone());
                    }
                }
                None => {
                    let rep = self.reordered.iter().find(|(a, _)| Arc::ptr_eq(a, plan));
                    let found = rep.and_then(|(_, rep)| {
                        self.runs
                            .iter()
                            .find(|(p, fi, ..)| *fi == fidelity && same_plan(p, rep))
                    });
                    if let Some((_, _, t, busy)) = found {
                        return Ok((*t, busy.clone()));
                    }
                }
            }
        }
        if let Some((_, _, t, busy)) = self
            .runs
            .iter()
            .find(|(p, fi, ..)| *fi == fidelity && same_plan(p, plan))
        {
            let found = (*t, busy.clone());
            if self.wants_routes() {
                self.claim_spare_routes(plan);
            }
            return Ok(found);
        }
        if let Some(d) = &mut self.defer {
            // Recorded for later; the caller's result from this pass is discarded.
            if !d.runs.iter().any(|(p, fi)| *fi == fidelity && same_plan(p, plan)) {
                d.runs.push((plan.clone(), fidelity));
            }
            return Ok((0.0, Vec::new()));
        }
        let (t, busy) = self.simulate(f, caps, plan, fidelity).map_err(|e| e.to_string())?;
        let busy: Vec<(u32, f64)> = busy.into_iter().map(|b| (b.link, b.utilisation)).collect();
        self.runs.push((plan.clone(), fidelity, t, busy.clone()));
        Ok((t, busy))
    }

    /// `collective::moe::run`, once per (groups, spec, fidelity).
    pub(crate) fn moe(
        &mut self,
        f: &Fabric,
        groups: &[Vec<u32>],
        spec: &MoeSpec,
        fidelity: Fidelity,
    ) -> Result<Arc<MoeResult>, collective::CollectiveError> {
        if let Some(r) = self.moe_done(groups, spec, fidelity) {
            return Ok(r);
        }
        let r = Arc::new(self.simulate_moe(f, groups, spec, fidelity)?);
        self.moe.push((groups.to_vec(), *spec, fidelity, r.clone()));
        Ok(r)
    }
}

impl Memo {
    /// `run_plan`, keeping the built plan of an analytical run while `keep_built` and running
    /// a kept one (taken out: the checks run each plan once at flow) instead of building it
    /// again. A built plan simulates as `run_plan` of the plan does.
    fn simulate(
        &mut self,
        f: &Fabric,
        caps: &[f64],
        plan: &Arc<Plan>,
        fidelity: Fidelity,
    ) -> Result<(f64, Vec<collective::simulate::Bottleneck>), collective::CollectiveError> {
        if let Some(mut b) = self.take_built(plan) {
            return run_built(f, &mut b, fidelity);
        }
        // Routes another plan's run kept in this step's pricing, for a plan likely to carry
        // its flows in another order (the all-gather of a reduce-scatter's groups): its flows
        // take them where the donor has the same flow (`RouteDonor`), the rest are routed.
        let lender = self
            .plan_routes
            .iter()
            .chain(&self.spare_routes)
            .filter(|_| !self.no_lending)
            .find(|(p, _)| lends_routes(p, plan))
            .cloned();
        let donor = lender
            .as_ref()
            .and_then(|(p, r)| collective::simulate::RouteDonor::new(f, p, r));
        let lent = |memo: &mut Memo| memo.lent_flows += donor.as_ref().map_or(0, |d| d.taken() as u64);
        if !self.keep_built || fidelity != Fidelity::Analytical {
            let valid = self.caps_checked(caps);
            let (r, routes) =
                run_plan_routes_checked(f, caps, valid, plan, fidelity, self.wants_routes(), donor.as_ref())?;
            lent(self);
            if let Some(routes) = routes {
                self.keep_plan_routes(plan, Arc::new(routes), false);
            }
            return Ok(r);
        }
        let (mut b, routes) = build_plan_routes_from(f, caps, plan, self.wants_routes(), donor.as_ref())?;
        lent(self);
        let r = run_built(f, &mut b, fidelity)?;
        self.built.push((plan.clone(), b));
        if let Some(routes) = routes {
            self.keep_plan_routes(plan, Arc::new(routes), false);
        }
        Ok(r)
    }

    /// A kept built plan of `plan`, taken out of the memo.
    fn take_built(&mut self, plan: &Arc<Plan>) -> Option<BuiltPlan> {
        let i = self.built.iter().position(|(p, _)| same_plan(p, plan))?;
        Some(self.built.swap_remove(i).1)
    }

    /// `collective::moe::run`, keeping and reusing built runs like [`Memo::simulate`].
    fn simulate_moe(
        &mut self,
        f: &Fabric,
        groups: &[Vec<u32>],
        spec: &MoeSpec,
        fidelity: Fidelity,
    ) -> Result<MoeResult, collective::CollectiveError> {
        if let Some(mut b) = self.take_built_moe(groups, spec) {
            return collective::moe::run_built(f, &mut b, fidelity);
        }
        if !self.keep_built || fidelity != Fidelity::Analytical {
            return collective::moe::run_cached(f, groups, spec, fidelity, self.moe_routes());
        }
        let mut b = collective::moe::build_cached(f, groups, spec, self.moe_routes())?;
        let r = collective::moe::run_built(f, &mut b, fidelity)?;
        self.built_moe.push((groups.to_vec(), *spec, b));
        Ok(r)
    }

    /// A kept built DeepEP run of (groups, spec), taken out of the memo.
    fn take_built_moe(&mut self, groups: &[Vec<u32>], spec: &MoeSpec) -> Option<MoeBuilt> {
        let i = self
            .built_moe
            .iter()
            .position(|(g, s, _)| same_spec(s, spec) && g.as_slice() == groups)?;
        Some(self.built_moe.swap_remove(i).2)
    }

    /// Start or end a step whose analytical runs keep their built plans (the checks' flow runs
    /// reuse them); ending it drops those still kept.
    fn keep_built(&mut self, on: bool) {
        self.keep_built = on;
        self.built.clear();
        self.built_moe.clear();
    }

    /// The DeepEP run of (groups, spec, fidelity), if the memo holds it.
    fn moe_done(&self, groups: &[Vec<u32>], spec: &MoeSpec, fidelity: Fidelity) -> Option<Arc<MoeResult>> {
        self.moe
            .iter()
            .find(|(g, s, fi, _)| *fi == fidelity && same_spec(s, spec) && g.as_slice() == groups)
            .map(|(.., r)| r.clone())
    }
}

/// Whether a run of `plan` should look for its flows' paths in the routes kept for `donor`'s
/// run: another plan of the same algorithm, virtual links, phases and flow count (a ring or
/// hierarchical all-gather and the reduce-scatter of the same groups carry the same flows in
/// another order). A cheap guess: a flow the donor lacks is routed (`RouteDonor`).
fn lends_routes(donor: &Arc<Plan>, plan: &Arc<Plan>) -> bool {
    !Arc::ptr_eq(donor, plan)
        && donor.algo == plan.algo
        && donor.phases.len() == plan.phases.len()
        && donor
            .phases
            .iter()
            .zip(&plan.phases)
            .all(|(a, b)| a.flows.len() == b.flows.len())
        && donor.virtual_links == plan.virtual_links
}

/// Two plans that simulate alike (the same phases and virtual links).
fn same_plan(a: &Arc<Plan>, b: &Arc<Plan>) -> bool {
    Arc::ptr_eq(a, b) || (a.virtual_links == b.virtual_links && a.phases == b.phases)
}

/// Whether runs at `fidelity` on `f` of plans with the same flows in another order
/// ([`same_flows`]) give the same result: flow fidelity (analytical runs are cheap, and the
/// memo keys them by plan) under ECMP or spraying.
///
/// CORRECTNESS: under ECMP and spraying a flow's paths are a function of its source,
/// destination, channel, PXN option (or explicit path) and the fabric, not of the flows routed
/// before it (adaptive routing reads the load placed so far: excluded), so both plans put the
/// same flows on the same paths, each phase after the previous one. The flow model's rates
/// are the unique weighted max-min fair allocation of the flows alive, whatever their order,
/// so both runs have the same completion times, makespan and link loads; only the order of
/// floating-point sums differs, which moves a result by rounding at most. The memo gives the
/// second plan the first one's result, so a step prices and checks it once.
fn reorders_alike(f: &Fabric, fidelity: Fidelity) -> bool {
    fidelity == Fidelity::Flow && f.routing != fabric::routing::RoutingMode::Adaptive
}

/// Whether `b` has `a`'s virtual links and, phase by phase, `a`'s flows (endpoints, bytes to
/// the bit, channel, PXN option, explicit path) in some order: the same multiset per phase.
fn same_flows(a: &Plan, b: &Plan) -> bool {
    type Key<'a> = (u32, u32, u64, u32, bool, Option<&'a [u32]>);
    fn key(x: &collective::PlanFlow) -> Key<'_> {
        (x.src, x.dst, x.bytes.to_bits(), x.channel, x.pxn, x.path.as_deref())
    }
    // Order-free fingerprint of a phase: a wrapping sum of a mix of each flow's key.
    fn fingerprint(flows: &[collective::PlanFlow]) -> u64 {
        let mix = |mut z: u64| {
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        flows.iter().fold(0u64, |acc, x| {
            let mut h = mix(u64::from(x.src) << 32 | u64::from(x.dst));
            h = mix(h ^ x.bytes.to_bits());
            h = mix(h ^ (u64::from(x.channel) << 1 | u64::from(x.pxn)));
            for &l in x.path.iter().flatten() {
                h = mix(h ^ u64::from(l));
            }
            acc.wrapping_add(h)
        })
    }
    if a.virtual_links != b.virtual_links || a.phases.len() != b.phases.len() {
        return false;
    }
    let pairs = || a.phases.iter().zip(&b.phases);
    if pairs().any(|(x, y)| x.flows.len() != y.flows.len() || fingerprint(&x.flows) != fingerprint(&y.flows)) {
        return false;
    }
    fn sorted(flows: &[collective::PlanFlow]) -> Vec<Key<'_>> {
        let mut k: Vec<Key<'_>> = flows.iter().map(key).collect();
        k.sort_unstable();
        k
    }
    // Flows without explicit paths: three integers each, counted in a hash map (one pass over
    // each phase instead of two sorts).
    fn packed(x: &collective::PlanFlow) -> (u64, u64, u64) {
        (
            u64::from(x.src) << 32 | u64::from(x.dst),
            x.bytes.to_bits(),
            u64::from(x.channel) << 1 | u64::from(x.pxn),
        )
    }
    fn same_counts(x: &[collective::PlanFlow], y: &[collective::PlanFlow]) -> bool {
        let mut count: std::collections::HashMap<(u64, u64, u64), i64, std::hash::BuildHasherDefault<MixHasher>> =
            std::collections::HashMap::with_capacity_and_hasher(x.len(), Default::default());
        for fl in x {
            *count.entry(packed(fl)).or_insert(0) += 1;
        }
        for fl in y {
            match count.get_mut(&packed(fl)) {
                Some(c) if *c > 0 => *c -= 1,
                _ => return false,
            }
        }
        // As many flows on each side (checked before), each of `y`'s taken from `x`'s.
        true
    }
    let routed = |flows: &[collective::PlanFlow]| flows.iter().all(|x| x.path.is_none());
    pairs().all(|(x, y)| {
        x.flows == y.flows
            || if routed(&x.flows) && routed(&y.flows) {
                same_counts(&x.flows, &y.flows)
            } else {
                sorted(&x.flows) == sorted(&y.flows)
            }
    })
}

/// A quick hasher for integer keys ([`same_flows`]' counts): each word folded in by a
/// multiply-rotate (not for keys an adversary chooses; equal keys still compare equal).
#[derive(Default)]
struct MixHasher(u64);

impl std::hash::Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(23) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

/// Two specs that price alike (the imbalance compared bit for bit).
fn same_spec(a: &MoeSpec, b: &MoeSpec) -> bool {
    a.imbalance.to_bits() == b.imbalance.to_bits()
        && MoeSpec { imbalance: 0.0, ..*a } == MoeSpec { imbalance: 0.0, ..*b }
}

/// Price every communication of the step.
pub fn price(f: &Fabric, pl: &Placement, model: &ModelSpec, opts: impl Into<CommOptions>) -> Result<CommCosts, String> {
    price_with(f, pl, model, opts, &mut Memo::new())
}

/// [`price`] with results of earlier pricing on the same fabric reused from `memo`.
pub fn price_with(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    opts: impl Into<CommOptions>,
    memo: &mut Memo,
) -> Result<CommCosts, String> {
    let (mut out, pending) = price_pending(f, pl, model, opts, memo)?;
    if let Some(pending) = pending {
        let runs = pending.run(f, &pl.caps);
        finish_checks(f, pl, model, &mut out, memo, runs)?;
    }
    Ok(out)
}

/// [`price_with`], but the fidelity checks' flow runs (when there are any) are handed back
/// instead of run: the caller runs them ([`PendingChecks::run`], on all cores, needing neither
/// the memo nor the costs) while it goes on with the step — the schedule reads the costs, not
/// the checks — and then completes the costs with [`finish_checks`]. The costs and checks are
/// those of [`price_with`] bit for bit (the same runs, results and second pass, only later)
/// provided [`finish_checks`] gets the costs as returned here: the second pass reads them to
/// choose what it checks (`train::step_parts` hands it a copy taken before the schedule, whose
/// TPU overlap scales the DP costs).
pub fn price_pending(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    opts: impl Into<CommOptions>,
    memo: &mut Memo,
) -> Result<(CommCosts, Option<PendingChecks>), String> {
    memo.for_caps(&pl.caps);
    // Pairs left by checks whose second pass did not run (an error between the passes).
    memo.reordered.clear();
    let opts: CommOptions = opts.into();
    let checks = opts.fidelity == Fidelity::Analytical && opts.fidelity_checks;
    memo.keep_built(checks);
    let r = price_in(f, pl, model, opts, memo).map(|mut out| {
        let pending = checks.then(|| start_checks(f, pl, model, &mut out, memo));
        (out, pending)
    });
    memo.keep_built(false);
    r
}

/// [`price_with`] for a memo already set to the placement's capacities.
fn price_in(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    opts: CommOptions,
    memo: &mut Memo,
) -> Result<CommCosts, String> {
    let p = &pl.plan;
    let lay = &pl.layout;
    let caps = &pl.caps;
    let mut out = CommCosts::default();
    let act_bytes = (p.mbs as u64 * p.seq / p.cp as u64) as f64 * model.hidden as f64 * 2.0;
    // Multi-site fabrics (not TPU multislice, which has its own DCN pricing).
    let n_sites = super::sites::sites_used(f, pl.world);
    let xs = if matches!(f.scale_up, fabric::ScaleUpKind::Torus { .. }) || n_sites < 2 {
        None
    } else {
        super::sites::dci(f)
    };
    let mut site_comm = xs.clone().map(|d| SiteComm {
        dci: d,
        sites: n_sites,
        ..SiteComm::default()
    });

    if xs.is_some() {
        prefetch_multi_site(memo, f, pl, model, act_bytes, opts);
    } else if opts.fidelity == Fidelity::Analytical && rayon::current_thread_index().is_none() {
        prefetch_single_site(memo, f, pl, model, act_bytes, opts);
    }

    // Tensor parallel: per layer, forward 2 × (AG + RS) with SP or 2 all-reduces; backward the same.
    let tp_groups = lay.groups(Dim::Tp);
    if p.tp > 1 {
        if p.sequence_parallel {
            let (ag, l1) = concurrent_in(memo, f, caps, &tp_groups, Op::AllGather, act_bytes, opts)?;
            let (rs, _) = concurrent_in(memo, f, caps, &tp_groups, Op::ReduceScatter, act_bytes, opts)?;
            load(l1, CommKind::Tp, &mut out);
            record(
                &mut out,
                CommKind::Tp,
                Dim::Tp,
                Op::AllGather,
                act_bytes,
                &tp_groups,
                ag,
            );
            record(
                &mut out,
                CommKind::Tp,
                Dim::Tp,
                Op::ReduceScatter,
                act_bytes,
                &tp_groups,
                rs,
            );
            out.tp_per_layer = 2.0 * (ag.seconds + rs.seconds);
            out.tp_algo = ag.algo;
        } else {
            let (ar, l1) = concurrent_in(memo, f, caps, &tp_groups, Op::AllReduce, act_bytes, opts)?;
            load(l1, CommKind::Tp, &mut out);
            record(
                &mut out,
                CommKind::Tp,
                Dim::Tp,
                Op::AllReduce,
                act_bytes,
                &tp_groups,
                ar,
            );
            out.tp_per_layer = 2.0 * ar.seconds;
            out.tp_algo = ar.algo;
        }
        if tp_groups.iter().any(|g| !collective::plan::single_domain(f, g)) {
            out.warnings.push(format!(
                "TP groups of {} span scale-up domains: tensor-parallel traffic crosses the scale-out network",
                p.tp
            ));
        }
        if let Some(d) = &xs {
            if tp_groups.iter().any(|g| super::sites::spans_sites(f, g)) {
                // Every ring step of the layer's collectives waits for the fibre: 2(n−1) steps
                // per all-reduce (or all-gather + reduce-scatter), two per layer's forward.
                let steps = 4 * (p.tp - 1);
                out.tp_per_layer += steps as f64 * d.one_way_s;
                let per_step = out.tp_per_layer * 2.0 * model.layers as f64 / p.pp as f64 * pl.microbatches as f64;
                out.warnings.push(format!(
                    "TP groups of {} span sites: tensor-parallel collectives cross the DCI ({:.3} ms per layer's forward, of which {} one-way fibre delays of {:.3} ms; ≈ {:.2} s per step on each stage) — keep TP inside a site",
                    p.tp,
                    out.tp_per_layer * 1e3,
                    steps,
                    d.one_way_s * 1e3,
                    per_step
                ));
            }
        }
    }

    // Expert parallel: DeepEP dispatch + combine per MoE layer (train/moe.rs).
    super::moe::price(f, pl, model, opts.fidelity, opts.moe_imbalance, &mut out, memo)?;

    // Context parallel: ring attention passes K/V around the CP ring.
    if p.cp > 1 {
        let kv = cp_kv_bytes(p, model);
        let groups = lay.groups(Dim::Cp);
        let (c, l) = concurrent_in(memo, f, caps, &groups, Op::SendRecv, kv, opts)?;
        load(l, CommKind::Cp, &mut out);
        record(&mut out, CommKind::Cp, Dim::Cp, Op::SendRecv, kv, &groups, c);
        out.cp_kv_round = c.seconds;
        if xs.is_some() && groups.iter().any(|g| super::sites::spans_sites(f, g)) {
            out.warnings.push(format!(
                "CP groups of {} span sites: the K/V ring crosses the DCI ({:.3} ms per round) — keep CP inside a site",
                p.cp,
                c.seconds * 1e3
            ));
        }
    }
    if xs.is_some() && p.ep > 1 && lay.groups(Dim::Ep).iter().any(|g| super::sites::spans_sites(f, g)) {
        out.warnings.push(format!(
            "EP groups of {} span sites: expert dispatch and combine cross the DCI ({:.3} ms per MoE layer and direction) — keep EP inside a site",
            p.ep,
            out.ep_per_moe_layer * 1e3
        ));
    }

    // ZeRO-3 / FSDP: each layer's parameters are all-gathered over its shard group before its
    // forward and again before its backward (resharded after the forward); its gradients are
    // reduce-scattered over the shard group during the backward and, with HSDP, the shards
    // all-reduced across the replicas (BF16 gradients).
    if p.zero == 3 && p.dp * p.cp > 1 {
        let layer_bytes = zero3_layer_bytes(p, model);
        let (shard, replicas) = fsdp_groups(lay, p.shard_group() * p.cp);
        let (c, l) = concurrent_in(memo, f, caps, &shard, Op::AllGather, layer_bytes, opts)?;
        load(l, CommKind::Zero3, &mut out);
        record(
            &mut out,
            CommKind::Zero3,
            Dim::Dp,
            Op::AllGather,
            layer_bytes,
            &shard,
            c,
        );
        out.zero3_ag_per_layer = c.seconds;
        let (rs, _) = concurrent_in(memo, f, caps, &shard, Op::ReduceScatter, layer_bytes, opts)?;
        record(
            &mut out,
            CommKind::Zero3,
            Dim::Dp,
            Op::ReduceScatter,
            layer_bytes,
            &shard,
            rs,
        );
        out.zero3_rs_per_layer = rs.seconds;
        let shard_size = shard.first().map_or(1, |g| g.len()) as f64;
        let ar_bytes = layer_bytes / shard_size;
        let (ar, l) = concurrent_in(memo, f, caps, &replicas, Op::AllReduce, ar_bytes, opts)?;
        load(l, CommKind::Zero3, &mut out);
        record(
            &mut out,
            CommKind::Zero3,
            Dim::Dp,
            Op::AllReduce,
            ar_bytes,
            &replicas,
            ar,
        );
        out.zero3_ar_per_layer = ar.seconds;
        out.hsdp_ar_bytes_per_layer = if replicas.first().is_some_and(|g| g.len() > 1) {
            ar_bytes
        } else {
            0.0
        };
    }

    // Pipeline sends.
    out.p2p_bytes = act_bytes / if p.sequence_parallel { p.tp as f64 } else { 1.0 };
    let stage_sites = if xs.is_some() {
        super::sites::stage_sites(f, lay)
    } else {
        Vec::new()
    };
    let crosses = |s: u32| stage_sites.len() > s as usize + 1 && stage_sites[s as usize] != stage_sites[s as usize + 1];
    let crossing: Vec<u32> = (0..lay.pp.saturating_sub(1)).filter(|&s| crosses(s)).collect();
    let (p2p, l_pp) = p2p_cost(f, pl, out.p2p_bytes, opts.fidelity, memo, &|s| !crosses(s))?;
    out.p2p = p2p;
    load(l_pp, CommKind::Pp, &mut out);
    if let (Some(d), Some(sc), false) = (&xs, site_comm.as_mut(), crossing.is_empty()) {
        let (pc, l_x) = p2p_cost(f, pl, out.p2p_bytes, opts.fidelity, memo, &|s| crosses(s))?;
        load(l_x, CommKind::Pp, &mut out);
        out.p2p_cross = pc + d.one_way_s;
        // Per step: every micro-batch crosses each such boundary forward and backward.
        let m = pl.microbatches as f64 * p.vp as f64;
        let pairs = (lay.tp * lay.cp * lay.ep * lay.dpo) as f64;
        sc.dci_bytes_per_site += m * out.p2p_bytes * pairs * crossing.len() as f64;
        let lat = latency(&p2p_plan(f, pl, &|s| crosses(s)), Protocol::Simple).unwrap_or(0.0);
        sc.dci_flow_s += 2.0 * m * (pc - lat).max(0.0);
        sc.latency_steps += 2 * pl.microbatches * p.vp * crossing.len() as u32;
    }
    if p.pp > 1 {
        let pairs = lay.tp * lay.cp * lay.ep * lay.dpo * (lay.pp - 1);
        out.collectives.push(PricedComm {
            kind: CommKind::Pp,
            dim: None,
            op: Op::SendRecv,
            bytes: out.p2p_bytes,
            group_size: 2,
            groups: pairs,
            cost: CommCost {
                seconds: p2p,
                algo: Some(Algo::P2p),
                protocol: Some(Protocol::Simple),
                latency: 0.0,
            },
        });
    }

    // Data-parallel gradient synchronisation of each stage's parameters (BF16 gradients;
    // dense parameters over DP × CP, routed experts over DPo × CP).
    if p.dp * p.cp > 1 {
        let (dense_params, expert_params) = dp_params(p, model);
        let ops: Vec<Op> = if p.zero == 0 {
            vec![Op::AllReduce]
        } else {
            vec![Op::ReduceScatter, Op::AllGather]
        };
        let dp_groups = lay.groups(Dim::Dp);
        let hierarchical = xs.is_some() && lay.slices() > 1;
        if let (true, Some(d), Some(sc)) = (hierarchical && dense_params > 0.0, &xs, site_comm.as_mut()) {
            let diloco = matches!(pl.cross_site, super::sites::CrossSite::Diloco { .. });
            let replica = dense_params * 2.0 * (p.tp * p.pp) as f64;
            if !diloco {
                sc.dci_bytes_per_site += super::sites::dci_bytes_per_site(replica, n_sites);
            }
            let bytes = dense_params * 2.0;
            let g = dp_groups.first().map_or(1, |g| g.len());
            let mut pieces = Vec::new();
            hierarchical_pieces(&mut pieces, p.zero, bytes, g, diloco);
            let lists: Vec<(Groups, Op, f64)> = pieces.iter().map(|&(dim, op, b)| (lay.groups(dim), op, b)).collect();
            prefetch(memo, f, caps, &lists, 0, &[], None, opts);
            for (dim, op, b) in pieces {
                let groups = lay.groups(dim);
                let (mut c, l) = concurrent_in(memo, f, caps, &groups, op, b, opts)?;
                if dim == Dim::Dcn {
                    sc.dci_flow_s += (c.seconds - c.latency).max(0.0);
                    let steps = super::sites::cross_steps(op, n_sites);
                    sc.latency_steps += steps;
                    c.seconds += steps as f64 * d.one_way_s;
                    c.latency += steps as f64 * d.one_way_s;
                }
                if op != Op::AllGather {
                    load(l, CommKind::Dp, &mut out);
                }
                record(&mut out, CommKind::Dp, dim, op, b, &groups, c);
                out.dp_total += c.seconds;
                out.dp.push(DpSync {
                    dim,
                    op,
                    bytes: b,
                    cost: c,
                });
            }
            if diloco {
                // The outer synchronisation: one full model copy of pseudo-gradients (fp32),
                // hierarchically across the sites, once every H inner steps.
                let per_rank = model.params() / (p.tp as f64 * p.pp as f64);
                let ob = per_rank * super::sites::OUTER_BYTES_PER_PARAM;
                sc.outer_dci_bytes_per_site = super::sites::dci_bytes_per_site(ob * (p.tp * p.pp) as f64, n_sites);
                let mut outer = Vec::new();
                hierarchical_pieces(&mut outer, 0, ob, g, false);
                for (dim, op, b) in outer {
                    let (c, _) = concurrent_in(memo, f, caps, &lay.groups(dim), op, b, opts)?;
                    sc.outer_sync_s += c.seconds;
                    if dim == Dim::Dcn {
                        let steps = super::sites::cross_steps(op, n_sites);
                        sc.outer_dci_flow_s += (c.seconds - c.latency).max(0.0);
                        sc.outer_latency_steps += steps;
                        sc.outer_sync_s += steps as f64 * d.one_way_s;
                    }
                }
            }
        }
        for (i, &op) in ops.iter().enumerate() {
            if dense_params <= 0.0 || hierarchical {
                break;
            }
            let bytes = dense_params * 2.0;
            let (c, l) = dp_sync_in(memo, f, caps, &dp_groups, op, bytes, opts)?;
            if i == 0 {
                load(l, CommKind::Dp, &mut out);
            }
            record(&mut out, CommKind::Dp, Dim::Dp, op, bytes, &dp_groups, c);
            out.dp_total += c.seconds;
            out.dp.push(DpSync {
                dim: Dim::Dp,
                op,
                bytes,
                cost: c,
            });
        }
        if expert_params > 0.0 && p.dp / p.ep * p.cp > 1 {
            let groups = lay.groups(Dim::DpExpert);
            for &op in &ops {
                let bytes = expert_params * 2.0;
                let (c, _) = dp_sync_in(memo, f, caps, &groups, op, bytes, opts)?;
                record(&mut out, CommKind::Dp, Dim::DpExpert, op, bytes, &groups, c);
                out.dp_total += c.seconds;
                out.dp.push(DpSync {
                    dim: Dim::DpExpert,
                    op,
                    bytes,
                    cost: c,
                });
            }
        }
    }
    // Multislice TPU jobs: the gradient shards' all-reduce across slices over the DCN.
    if xs.is_none() {
        super::tpu::price_dcn(f, pl, model, opts, &mut out)?;
    }
    if xs.is_some()
        && lay.slices() < 2
        && p.dp * p.cp > 1
        && lay.groups(Dim::Dp).iter().any(|g| super::sites::spans_sites(f, g))
    {
        out.warnings.push(
            "DP groups span sites unevenly (not one equal share per site): their gradient synchronisation is priced flat, not hierarchically".into(),
        );
    }
    out.sites = site_comm;
    Ok(out)
}

/// The tensor-parallel collectives of one layer's forward, as [`price_with`] prices them
/// (`CommCosts::tp_per_layer`, the same calls, so the same value bit for bit), without pricing
/// anything else: what the planner's lower bound adds to the compute (`plan::bound`).
pub fn tp_per_layer_with(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    opts: impl Into<CommOptions>,
    memo: &mut Memo,
) -> Result<f64, String> {
    memo.for_caps(&pl.caps);
    let opts: CommOptions = opts.into();
    let p = &pl.plan;
    if p.tp <= 1 {
        return Ok(0.0);
    }
    let caps = &pl.caps;
    let act_bytes = (p.mbs as u64 * p.seq / p.cp as u64) as f64 * model.hidden as f64 * 2.0;
    let tp_groups = pl.layout.groups(Dim::Tp);
    Ok(if p.sequence_parallel {
        let (ag, _) = concurrent_in(memo, f, caps, &tp_groups, Op::AllGather, act_bytes, opts)?;
        let (rs, _) = concurrent_in(memo, f, caps, &tp_groups, Op::ReduceScatter, act_bytes, opts)?;
        2.0 * (ag.seconds + rs.seconds)
    } else {
        let (ar, _) = concurrent_in(memo, f, caps, &tp_groups, Op::AllReduce, act_bytes, opts)?;
        2.0 * ar.seconds
    })
}

/// FSDP/HSDP groups: every DP group (DP × CP ranks, CP innermost) cut into shard groups of
/// `shard` consecutive ranks, and the replica groups joining the ranks at the same position of
/// each shard group (one group of one rank each without HSDP).
pub fn fsdp_groups(lay: &Layout, shard: u32) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let shard = shard.max(1) as usize;
    let mut shards = Vec::new();
    let mut replicas = Vec::new();
    for g in lay.groups(Dim::Dp).iter() {
        let n = g.len().div_ceil(shard);
        for c in g.chunks(shard) {
            shards.push(c.to_vec());
        }
        for i in 0..shard.min(g.len()) {
            replicas.push((0..n).filter_map(|k| g.get(k * shard + i).copied()).collect());
        }
    }
    (shards, replicas)
}

fn record(out: &mut CommCosts, kind: CommKind, dim: Dim, op: Op, bytes: f64, groups: &[Vec<u32>], cost: CommCost) {
    if cost.seconds <= 0.0 {
        return;
    }
    out.collectives.push(PricedComm {
        kind,
        dim: Some(dim),
        op,
        bytes,
        group_size: groups.first().map_or(0, |g| g.len() as u32),
        groups: groups.len() as u32,
        cost,
    });
}

/// Seconds one rank spends in each kind of communication per step, unexposed (occurrences ×
/// duration, on an average stage): what ranks the kinds for the fidelity check.
fn per_step(pl: &Placement, model: &ModelSpec, c: &CommCosts, kind: CommKind) -> f64 {
    let p = &pl.plan;
    let m = pl.microbatches as f64;
    let layers = model.layers as f64 / p.pp as f64;
    let moe_layers = (0..model.layers).filter(|&l| model.layer_is_moe(l)).count() as f64 / p.pp as f64;
    match kind {
        CommKind::Tp => 2.0 * c.tp_per_layer * layers * m,
        CommKind::Ep => 2.0 * c.ep_per_moe_layer * moe_layers * m,
        CommKind::Cp => 2.0 * c.cp_kv_round * (p.cp.saturating_sub(1)) as f64 * layers * m,
        CommKind::Zero3 => (2.0 * c.zero3_ag_per_layer + c.zero3_rs_per_layer + c.zero3_ar_per_layer) * layers * m,
        CommKind::Pp => 2.0 * c.p2p * m * p.vp as f64,
        CommKind::Dp => c.dp_total,
    }
}

/// Price the step's largest communications again under the flow fidelity (module notes).
///
/// Two passes over the same code ([`check_pass`]): the first ([`start_checks`]) records the
/// simulations it needs and the memo lacks (`Memo::defer`: independent flow runs of whole
/// dimensions, the largest costs of an analytical step), which then run on all cores
/// ([`PendingChecks::run`]) into the memo; the second ([`finish_checks`]) reads them there.
/// The engine is deterministic, so each result is the one a run in sequence gives and the
/// checks are unchanged; a simulation that fails in parallel is left out, for the second pass
/// to run again and report in its turn.
///
/// The first pass, with the memo's kept built plans (taken out for the flow runs): while
/// [`Memo::keep_built`] is on.
fn start_checks(f: &Fabric, pl: &Placement, model: &ModelSpec, out: &mut CommCosts, memo: &mut Memo) -> PendingChecks {
    memo.reordered.clear();
    memo.defer = Some(Deferred::default());
    // Errors of this pass come again, in order, from the second one.
    let _ = check_pass(f, pl, model, out, memo);
    let todo = memo.defer.take().unwrap_or_default();
    let mut jobs: Vec<(usize, CheckJob)> = Vec::new();
    for (plan, fi) in todo.runs {
        let built = memo.take_built(&plan).map(Box::new);
        jobs.push((plan.flow_count(), CheckJob::Run(plan, fi, built)));
    }
    for (groups, spec, fi) in todo.moe {
        if memo.moe_done(&groups, &spec, fi).is_none() {
            let ranks = groups.iter().map(|g| g.len() * g.len()).sum();
            let built = memo.take_built_moe(&groups, &spec).map(Box::new);
            jobs.push((ranks, CheckJob::Moe(groups, spec, fi, built)));
        }
    }
    // Largest first, for the cores to finish together (the order changes no result).
    jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
    PendingChecks {
        jobs,
        moe_routes: memo.moe_routes().is_some().then(|| memo.moe_routes.clone()),
    }
}

/// The flow runs of the fidelity checks, collected by their first pass ([`price_pending`]).
pub struct PendingChecks {
    jobs: Vec<(usize, CheckJob)>,
    /// The memo's DeepEP route cache where it serves several plans: a DeepEP check not built
    /// by the pricing takes its routes (and their symmetry maps) from there (the same result).
    moe_routes: Option<Arc<collective::moe::RouteCache>>,
}

enum CheckJob {
    Run(Arc<Plan>, Fidelity, Option<Box<BuiltPlan>>),
    Moe(Vec<Vec<u32>>, MoeSpec, Fidelity, Option<Box<MoeBuilt>>),
}

enum CheckDone {
    Run(MemoRun),
    Moe(MemoMoe),
}

/// The results of [`PendingChecks::run`], for [`finish_checks`].
pub struct CheckRuns(Vec<Option<CheckDone>>);

impl PendingChecks {
    /// Run the flow simulations on all cores (rayon), on the fabric with the placement's
    /// effective capacities `caps`.
    pub fn run(self, f: &Fabric, caps: &[f64]) -> CheckRuns {
        use rayon::prelude::*;
        CheckRuns(
            self.jobs
                .into_par_iter()
                .map(|(_, job)| run_check(f, caps, job, self.moe_routes.as_deref()))
                .collect(),
        )
    }
}

/// One fidelity check's flow run ([`PendingChecks::run`]); not inlined, so profiles show the
/// checks apart.
#[inline(never)]
fn run_check(
    f: &Fabric,
    caps: &[f64],
    job: CheckJob,
    moe_routes: Option<&collective::moe::RouteCache>,
) -> Option<CheckDone> {
    match job {
        CheckJob::Run(plan, fi, built) => {
            let (t, busy) = match built {
                Some(mut b) => run_built(f, &mut b, fi),
                None => run_plan(f, caps, &plan, fi),
            }
            .ok()?;
            let busy: Vec<(u32, f64)> = busy.into_iter().map(|b| (b.link, b.utilisation)).collect();
            Some(CheckDone::Run((plan, fi, t, busy)))
        }
        CheckJob::Moe(groups, spec, fi, built) => {
            let r = match built {
                Some(mut b) => collective::moe::run_built(f, &mut b, fi),
                None => collective::moe::run_cached(f, &groups, &spec, fi, moe_routes),
            }
            .ok()?;
            Some(CheckDone::Moe((groups, spec, fi, Arc::new(r))))
        }
    }
}

/// The second pass of the fidelity checks: the runs' results into the memo, then the checks
/// into `out` (see [`start_checks`]).
pub fn finish_checks(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    out: &mut CommCosts,
    memo: &mut Memo,
    runs: CheckRuns,
) -> Result<(), String> {
    memo.for_caps(&pl.caps);
    for d in runs.0.into_iter().flatten() {
        match d {
            CheckDone::Run(r) => memo.runs.push(r),
            CheckDone::Moe(m) => memo.moe.push(m),
        }
    }
    let r = check_pass(f, pl, model, out, memo);
    // The pairs of this step's checks serve no other pricing.
    memo.reordered.clear();
    r
}

/// One pass over the fidelity checks (see [`start_checks`]).
fn check_pass(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    out: &mut CommCosts,
    memo: &mut Memo,
) -> Result<(), String> {
    use CommKind::*;
    let lay = &pl.layout;
    let kinds = [Tp, Ep, Cp, Zero3, Pp, Dp];
    let largest = kinds.iter().map(|&k| per_step(pl, model, out, k)).fold(0.0, f64::max);
    if largest <= 0.0 {
        return Ok(());
    }
    let mut checks = Vec::new();
    for &k in &kinds {
        if per_step(pl, model, out, k) < CHECK_SHARE * largest {
            continue;
        }
        if k == Pp {
            let (t, _) = p2p_cost(f, pl, out.p2p_bytes, Fidelity::Flow, memo, &|_| true)?;
            checks.push(FidelityCheck {
                kind: Pp,
                op: Op::SendRecv,
                scope: CheckScope::AllGroups,
                analytical_s: out.p2p,
                flow_s: t,
                stages: 1,
            });
            continue;
        }
        if k == Ep {
            // DeepEP kernels
            match (&mut memo.defer, super::moe::check_run(pl, model, out)) {
                (Some(d), Some((groups, spec))) => d.moe.push((groups, spec, Fidelity::Flow)),
                (Some(_), None) => {}
                (None, _) => checks.extend(super::moe::fidelity_check(f, pl, model, out, memo)?),
            }
        }
        for c in out.collectives.iter().filter(|c| c.kind == k) {
            let (Some(algo), Some(dim)) = (c.cost.algo, c.dim) else {
                continue;
            };
            let groups = if k == Zero3 {
                // FSDP/HSDP collectives run on the shard (or replica) groups, not whole DP groups.
                let (shard, replicas) = fsdp_groups(lay, pl.plan.shard_group() * pl.plan.cp);
                Arc::new(if c.op == Op::AllReduce { replicas } else { shard })
            } else {
                lay.groups(dim)
            };
            let proto = c.cost.protocol.unwrap_or(Protocol::Simple);
            let merged = memo.merged(f, &groups, c.op, algo, NET_CHANNELS)?;
            let (flow, _) = time_merged(
                memo,
                f,
                &pl.caps,
                &merged,
                &groups,
                c.bytes,
                proto,
                c.cost.latency,
                Fidelity::Flow,
            )?;
            checks.push(FidelityCheck {
                kind: k,
                op: c.op,
                scope: CheckScope::AllGroups,
                analytical_s: c.cost.seconds,
                flow_s: flow,
                stages: 1,
            });
            // The analytical schedule runs each stage's sync alone; the stages' syncs overlap.
            if k == Dp && lay.pp > 1 {
                let alone = Arc::new(merged.filtered(|fl| lay.stage_of(fl.src) == 0));
                let stage0: Vec<Vec<u32>> = groups
                    .iter()
                    .filter(|g| g.first().is_some_and(|&r| lay.stage_of(r) == 0))
                    .cloned()
                    .collect();
                let (a, _) = time_merged(
                    memo,
                    f,
                    &pl.caps,
                    &alone,
                    &stage0,
                    c.bytes,
                    proto,
                    c.cost.latency,
                    Fidelity::Analytical,
                )?;
                checks.push(FidelityCheck {
                    kind: k,
                    op: c.op,
                    scope: CheckScope::StagesTogether,
                    analytical_s: a,
                    flow_s: flow,
                    stages: lay.pp,
                });
            }
        }
    }
    out.fidelity_checks = checks;
    Ok(())
}

fn load(links: Vec<(u32, f64)>, during: CommKind, out: &mut CommCosts) {
    out.link_loads
        .extend(links.into_iter().map(|(link, utilisation)| LinkLoad {
            link,
            utilisation,
            during,
        }));
}

/// Price one collective of `size` bytes on all `groups` at once: the algorithm (and protocol)
/// is the best for one group alone (among those `opts.in_network` allows); then every group's
/// flows run together on the fabric.
pub fn concurrent(
    f: &Fabric,
    caps: &[f64],
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    opts: impl Into<CommOptions>,
) -> Result<(CommCost, Vec<(u32, f64)>), String> {
    concurrent_with(&mut Memo::new(), f, caps, groups, op, size, opts)
}

/// [`concurrent`] with merged plans and their runs reused from `memo` (same fabric).
pub fn concurrent_with(
    memo: &mut Memo,
    f: &Fabric,
    caps: &[f64],
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    opts: impl Into<CommOptions>,
) -> Result<(CommCost, Vec<(u32, f64)>), String> {
    memo.for_caps(caps);
    concurrent_in(memo, f, caps, groups, op, size, opts.into())
}

/// [`concurrent_with`] for a memo already set to `caps` (`Memo::for_caps`: [`price_with`]
/// and [`tp_per_layer_with`] set it once instead of comparing the capacities per collective).
fn concurrent_in(
    memo: &mut Memo,
    f: &Fabric,
    caps: &[f64],
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    opts: CommOptions,
) -> Result<(CommCost, Vec<(u32, f64)>), String> {
    concurrent_run(memo, f, caps, groups, op, size, opts, true)
}

/// A flat data-parallel synchronisation of `groups`: [`concurrent_in`], or under a
/// step-time-only memo ([`Memo::step_time_only`]) on a fabric that is not a TPU torus only the
/// choice [`concurrent_in`] makes (algorithm, protocol, latency — the same memoised choice),
/// with no simulation: 0 seconds and no link loads. The schedule's DP hook merges the groups'
/// plan and runs it as flows itself (`pipeline::run`), reading nothing else of the cost.
#[allow(clippy::too_many_arguments)]
fn dp_sync_in(
    memo: &mut Memo,
    f: &Fabric,
    caps: &[f64],
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    opts: CommOptions,
) -> Result<(CommCost, Vec<(u32, f64)>), String> {
    let torus = matches!(f.scale_up, fabric::ScaleUpKind::Torus { .. });
    let simulate = !memo.step_only || torus;
    // Its run keeps its routes for the schedule's pieces of the same flows.
    memo.want_routes = true;
    let r = concurrent_run(memo, f, caps, groups, op, size, opts, simulate);
    memo.want_routes = false;
    r
}

/// [`concurrent_in`]'s choice of algorithm, protocol and latency, and with `simulate` its run
/// of the merged plan; without, 0 seconds and no link loads ([`dp_sync_in`]).
#[allow(clippy::too_many_arguments)]
fn concurrent_run(
    memo: &mut Memo,
    f: &Fabric,
    caps: &[f64],
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    opts: CommOptions,
    simulate: bool,
) -> Result<(CommCost, Vec<(u32, f64)>), String> {
    debug_assert!(memo.caps.as_slice() == caps);
    if groups.is_empty() || groups[0].len() < 2 || size <= 0.0 {
        return Ok((CommCost::default(), Vec::new()));
    }
    let sim = Options {
        fidelity: opts.fidelity,
        in_network: opts.in_network,
        ..Default::default()
    };
    let (algo, proto, lat) = memo.choose(f, caps, &groups[0], op, size, sim)?;
    let (seconds, links) = if simulate {
        let merged = memo.merged(f, groups, op, algo, sim.channels)?;
        time_merged(memo, f, caps, &merged, groups, size, proto, lat, opts.fidelity)?
    } else {
        (0.0, Vec::new())
    };
    Ok((
        CommCost {
            seconds,
            algo: Some(algo),
            protocol: Some(proto),
            latency: lat,
        },
        links,
    ))
}

/// Fill `memo` with the merged plans and their runs that [`concurrent_with`] needs for each
/// `(groups, op, size)`, the runs of `plans`, and DeepEP's runs of `moe` (groups, specs),
/// computing them on all cores (keeping the analytical runs' built plans for the fidelity
/// checks while [`Memo::keep_built`] is on, as [`Memo::simulate`] does): the pieces of a hierarchical
/// synchronisation (in-site and cross-site groups) are independent simulations. Each result
/// is the one `concurrent_with` would compute (same lowering, same deterministic engine), so
/// prices do not change; a plan equal to one already run (the in-site all-gather after the
/// reduce-scatter) is run once. Anything that fails is left for `concurrent_with` to compute
/// and report. The last `dp_pieces` of `pieces` are flat data-parallel synchronisations: within
/// a step's pricing their runs keep their routes ([`Memo::spare_routes`]) for the schedule.
#[allow(clippy::too_many_arguments)]
fn prefetch(
    memo: &mut Memo,
    f: &Fabric,
    caps: &[f64],
    pieces: &[(Groups, Op, f64)],
    dp_pieces: usize,
    plans: &[Arc<Plan>],
    moe: Option<&(Vec<Vec<u32>>, Vec<MoeSpec>)>,
    opts: CommOptions,
) {
    use rayon::prelude::*;
    memo.for_caps(caps);
    let sim = Options {
        fidelity: opts.fidelity,
        in_network: opts.in_network,
        ..Default::default()
    };
    let fidelity = opts.fidelity;
    // Analytical runs keep their built plans for the fidelity checks, as `Memo::simulate`
    // and `Memo::simulate_moe` do.
    let keep = memo.keep_built && fidelity == Fidelity::Analytical;
    // Within a step's pricing, the runs of the flat data-parallel synchronisations' plans (the
    // last `dp_pieces` of `pieces`) keep their routes for the schedule's pieces of the same
    // flows (spare until the synchronisation's pricing claims them: `Memo::run`).
    let keep_routes = memo.keeping_routes;
    let shared: &Memo = memo;
    // (choice key, choice, merge key where the memo lacks the plan, plan, whether it is a
    // flat data-parallel synchronisation's).
    type Fetched = (ChooseKey, (Algo, Protocol, f64), Option<MergeKey>, Arc<Plan>, bool);
    type Ran = (MemoRun, Option<BuiltPlan>, Option<PlanRoutes>);
    type RanMoe = (MemoMoe, Option<MoeBuilt>);
    // The capacities checked once for the batch, where a choice or run needs them (each
    // analytical run would check them again).
    let caps_ok = std::sync::OnceLock::new();
    let valid = || *caps_ok.get_or_init(|| engine::check_capacities(caps).is_ok());
    let collectives = || -> (Vec<Fetched>, Vec<Option<Ran>>) {
        let dp_from = pieces.len().saturating_sub(dp_pieces);
        let merged: Vec<Fetched> = pieces
            .par_iter()
            .enumerate()
            .filter_map(|(i, (groups, op, size))| {
                let dp = i >= dp_from;
                if groups.is_empty() || groups[0].len() < 2 || *size <= 0.0 {
                    return None;
                }
                let ck = choose_key(&groups[0], *op, *size, sim);
                let chosen = match shared.chosen.get(&ck) {
                    Some(&c) => c,
                    None => choose_one(
                        f,
                        caps,
                        sim.fidelity == Fidelity::Analytical && valid(),
                        &groups[0],
                        *op,
                        *size,
                        sim,
                    )
                    .ok()?,
                };
                if let Some(p) = shared.merged.get(groups, *op, chosen.0, sim.channels) {
                    return Some((ck, chosen, None, p.clone(), dp));
                }
                let plan = merge_groups(f, groups, *op, REF_SIZE, chosen.0, sim.channels).ok()?;
                let key = (groups.to_vec(), *op, chosen.0, sim.channels);
                Some((ck, chosen, Some(key), Arc::new(plan), dp))
            })
            .collect();
        // The plans to run: not run yet, and not equal to an earlier one of this batch; and
        // whether a data-parallel synchronisation's (its run then keeps its routes).
        let mut todo: Vec<(Arc<Plan>, bool)> = Vec::new();
        let fetched = merged.iter().map(|(_, _, _, plan, dp)| (plan, *dp));
        for (plan, dp) in fetched.chain(plans.iter().map(|p| (p, false))) {
            let done = shared
                .runs
                .iter()
                .any(|(p, fi, ..)| *fi == fidelity && same_plan(p, plan))
                || shared.built.iter().any(|(p, _)| same_plan(p, plan));
            if done {
                continue;
            }
            match todo.iter_mut().find(|(p, _)| same_plan(p, plan)) {
                Some((_, keeps)) => *keeps |= dp,
                None => todo.push((plan.clone(), dp)),
            }
        }
        let runs: Vec<Option<Ran>> = todo
            .par_iter()
            .map(|(plan, dp)| {
                let keep_routes = keep_routes && *dp;
                let (t, busy, built, routes) = if keep {
                    let (mut b, routes) = build_plan_routes(f, caps, plan, keep_routes).ok()?;
                    let (t, busy) = run_built(f, &mut b, fidelity).ok()?;
                    (t, busy, Some(b), routes)
                } else {
                    // (Only an analytical run reads the promise.)
                    let valid = fidelity == Fidelity::Analytical && valid();
                    let ((t, busy), routes) =
                        run_plan_routes_checked(f, caps, valid, plan, fidelity, keep_routes, None).ok()?;
                    (t, busy, None, routes)
                };
                let busy: Vec<(u32, f64)> = busy.into_iter().map(|b| (b.link, b.utilisation)).collect();
                Some(((plan.clone(), fidelity, t, busy), built, routes))
            })
            .collect();
        (merged, runs)
    };
    // DeepEP's runs the memo lacks (neither run nor kept built).
    let moe_runs = || -> Vec<Option<RanMoe>> {
        let Some((groups, specs)) = moe else { return Vec::new() };
        let mut todo: Vec<&MoeSpec> = Vec::new();
        for s in specs {
            let kept = shared
                .built_moe
                .iter()
                .any(|(g, k, _)| same_spec(k, s) && g.as_slice() == groups.as_slice());
            if shared.moe_done(groups, s, fidelity).is_none() && !kept && !todo.iter().any(|t| same_spec(t, s)) {
                todo.push(s);
            }
        }
        todo.par_iter()
            .map(|&s| {
                let cache = shared.moe_routes();
                let (r, built) = if keep {
                    let mut b = collective::moe::build_cached(f, groups, s, cache).ok()?;
                    let r = collective::moe::run_built(f, &mut b, fidelity).ok()?;
                    (r, Some(b))
                } else {
                    (collective::moe::run_cached(f, groups, s, fidelity, cache).ok()?, None)
                };
                Some(((groups.clone(), *s, fidelity, Arc::new(r)), built))
            })
            .collect()
    };
    let ((merged, runs), moe_runs) = rayon::join(collectives, moe_runs);
    for (ck, chosen, key, plan, _) in merged {
        memo.chosen.entry(ck).or_insert(chosen);
        if let Some(key) = key {
            memo.keep_merged(key, &plan);
        }
    }
    for (run, built, routes) in runs.into_iter().flatten() {
        if let Some(b) = built {
            memo.built.push((run.0.clone(), b));
        }
        if let Some(r) = routes {
            memo.keep_plan_routes(&run.0, Arc::new(r), true);
        }
        memo.runs.push(run);
    }
    for (m, built) in moe_runs.into_iter().flatten() {
        if let Some(b) = built {
            memo.built_moe.push((m.0.clone(), m.1, b));
        }
        memo.moe.push(m);
    }
}

/// Bytes of one ring-attention K/V pass between CP neighbours (BF16 keys and values of the
/// rank's sequence share and TP share of the KV heads).
fn cp_kv_bytes(p: &ParallelPlan, model: &ModelSpec) -> f64 {
    2.0 * (p.mbs as u64 * p.seq / p.cp as u64) as f64
        * (model.kv_heads as f64 * model.head_dim as f64 / p.tp as f64)
        * 2.0
}

/// BF16 bytes of one layer's parameters on a TP rank (ZeRO-3's per-layer gathers).
fn zero3_layer_bytes(p: &ParallelPlan, model: &ModelSpec) -> f64 {
    model.params() / model.layers as f64 / p.tp as f64 * 2.0
}

/// Parameters per rank whose gradients the data-parallel synchronisation reduces: (dense over
/// DP × CP — none under ZeRO-3, which reduces them layer by layer in the backward —, routed
/// experts over DPo × CP).
fn dp_params(p: &ParallelPlan, model: &ModelSpec) -> (f64, f64) {
    let (dense_share, expert_share) = param_split(model);
    let per_rank = model.params() / (p.tp as f64 * p.pp as f64);
    let dense_params = if p.zero == 3 { 0.0 } else { per_rank * dense_share };
    (dense_params, per_rank * expert_share / p.ep as f64)
}

/// The tensor-parallel collectives of a layer as [`price_in`] prices them (groups, operation,
/// bytes): all-gather and reduce-scatter with sequence parallelism, else all-reduce.
fn tp_pieces(pl: &Placement, act_bytes: f64) -> Vec<(Groups, Op, f64)> {
    let p = &pl.plan;
    if p.tp <= 1 {
        return Vec::new();
    }
    let tp = pl.layout.groups(Dim::Tp);
    if p.sequence_parallel {
        vec![
            (tp.clone(), Op::AllGather, act_bytes),
            (tp, Op::ReduceScatter, act_bytes),
        ]
    } else {
        vec![(tp, Op::AllReduce, act_bytes)]
    }
}

/// On one site, at analytical fidelity, from a thread outside rayon's pool (a `train` run,
/// not a planner evaluation, whose evaluations already fill the cores): price up front in
/// one parallel batch ([`prefetch`]) what [`price_in`] then prices one after the other — the
/// tensor-parallel collectives, ZeRO-3's, context parallelism's ring, the flat data-parallel
/// synchronisations it simulates, the pipeline sends' plan and DeepEP's runs — so the step's
/// thread waits for the longest of them instead of running them in turn. Only the memo
/// changes (the same results, found there later); a piece listed here that `price_in` does
/// not ask for costs time, not correctness.
fn prefetch_single_site(
    memo: &mut Memo,
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    act_bytes: f64,
    opts: CommOptions,
) {
    let p = &pl.plan;
    let lay = &pl.layout;
    let mut lists = tp_pieces(pl, act_bytes);
    if p.cp > 1 {
        lists.push((lay.groups(Dim::Cp), Op::SendRecv, cp_kv_bytes(p, model)));
    }
    if p.zero == 3 && p.dp * p.cp > 1 {
        let layer_bytes = zero3_layer_bytes(p, model);
        let (shard, replicas) = fsdp_groups(lay, p.shard_group() * p.cp);
        let shard_size = shard.first().map_or(1, |g| g.len()) as f64;
        let shard = Arc::new(shard);
        lists.push((shard.clone(), Op::AllGather, layer_bytes));
        lists.push((shard, Op::ReduceScatter, layer_bytes));
        lists.push((Arc::new(replicas), Op::AllReduce, layer_bytes / shard_size));
    }
    let torus = matches!(f.scale_up, fabric::ScaleUpKind::Torus { .. });
    // The flat data-parallel synchronisations come last (their runs keep their routes).
    let dp_from = lists.len();
    if p.dp * p.cp > 1 && (!memo.step_only || torus) {
        let ops: &[Op] = if p.zero == 0 {
            &[Op::AllReduce]
        } else {
            &[Op::ReduceScatter, Op::AllGather]
        };
        let (dense_params, expert_params) = dp_params(p, model);
        if dense_params > 0.0 {
            let groups = lay.groups(Dim::Dp);
            lists.extend(ops.iter().map(|&op| (groups.clone(), op, dense_params * 2.0)));
        }
        if expert_params > 0.0 && p.dp / p.ep * p.cp > 1 {
            let groups = lay.groups(Dim::DpExpert);
            lists.extend(ops.iter().map(|&op| (groups.clone(), op, expert_params * 2.0)));
        }
    }
    let mut plans = Vec::new();
    let p2p_bytes = act_bytes / if p.sequence_parallel { p.tp as f64 } else { 1.0 };
    if lay.pp >= 2 && p2p_bytes > 0.0 {
        plans.push(Arc::new(p2p_plan(f, pl, &|_| true)));
    }
    let moe = super::moe::requests(pl, model, opts.moe_imbalance);
    let dp_pieces = lists.len() - dp_from;
    prefetch(memo, f, &pl.caps, &lists, dp_pieces, &plans, moe.as_ref(), opts);
}

/// On several sites, price up front in one parallel batch ([`prefetch`]) what [`price_with`]
/// then prices one after the other: the tensor-parallel collectives, the pipeline sends'
/// plans ([`p2p_cost`]) and the pieces of the hierarchical data-parallel synchronisation, so
/// the step's thread waits once for the longest of them instead of running them in turn. Only
/// the memo changes (the same results, found there later); a piece listed here that
/// `price_with` does not price (the conditions below mirror its own) only costs time.
fn prefetch_multi_site(
    memo: &mut Memo,
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    act_bytes: f64,
    opts: CommOptions,
) {
    let p = &pl.plan;
    let lay = &pl.layout;
    let mut lists = tp_pieces(pl, act_bytes);
    if p.dp * p.cp > 1 && p.zero != 3 && lay.slices() > 1 {
        let (dense_params, _) = dp_params(p, model);
        if dense_params > 0.0 {
            let g = lay.groups(Dim::Dp).first().map_or(1, |g| g.len());
            let diloco = matches!(pl.cross_site, super::sites::CrossSite::Diloco { .. });
            let mut pieces = Vec::new();
            hierarchical_pieces(&mut pieces, p.zero, dense_params * 2.0, g, diloco);
            lists.extend(pieces.iter().map(|&(dim, op, b)| (lay.groups(dim), op, b)));
        }
    }
    let mut plans = Vec::new();
    let p2p_bytes = act_bytes / if p.sequence_parallel { p.tp as f64 } else { 1.0 };
    if lay.pp >= 2 && p2p_bytes > 0.0 {
        let stage_sites = super::sites::stage_sites(f, lay);
        let crosses =
            |s: u32| stage_sites.len() > s as usize + 1 && stage_sites[s as usize] != stage_sites[s as usize + 1];
        if (0..lay.pp - 1).any(|s| !crosses(s)) {
            plans.push(Arc::new(p2p_plan(f, pl, &|s| !crosses(s))));
        }
        if (0..lay.pp - 1).any(crosses) {
            plans.push(Arc::new(p2p_plan(f, pl, &crosses)));
        }
    }
    prefetch(memo, f, &pl.caps, &lists, 0, &plans, None, opts);
}

/// The key of [`Memo::choose`]: group, operation, size (bits), fidelity (flow?) and the
/// in-network reductions (SHARP, NVLS) — the other options are `Options::default()`'s.
fn choose_key(group: &[u32], op: Op, size: f64, sim: Options) -> ChooseKey {
    (
        group.to_vec(),
        op,
        size.to_bits(),
        sim.fidelity == Fidelity::Flow,
        sim.in_network.sharp,
        sim.in_network.nvls,
    )
}

/// The algorithm and protocol `run_sizes` picks for `op` of `size` on `group` alone, and the
/// latency of that algorithm's plan under that protocol (what [`Memo::choose`] keeps).
fn choose_one(
    f: &Fabric,
    caps: &[f64],
    caps_valid: bool,
    group: &[u32],
    op: Op,
    size: f64,
    sim: Options,
) -> Result<(Algo, Protocol, f64), String> {
    // `caps`: the placement's, the fabric's effective capacities (`layout::place`);
    // `caps_valid`: whether they passed `engine::check_capacities`.
    let one = collective::simulate::run_sizes_checked(f, caps, caps_valid, group, op, &[size], None, sim)
        .map_err(|e| e.to_string())?;
    let r = one.first().ok_or("collective selection returned no result")?;
    // The latency of the chosen algorithm's plan (lowered at `REF_SIZE` with `sim`'s channels)
    // under the chosen protocol: what `run_sizes` priced it with (`Evaluated::time` takes it
    // from `simulate::latency` of that plan), so no second lowering.
    Ok((r.algo, r.protocol, r.latency_s))
}

/// Time of a merged plan (lowered at [`REF_SIZE`]) at `size`: latency, transfer scaled by the
/// protocol's payload share, and NCCL's staging term; with the busy links.
#[allow(clippy::too_many_arguments)]
fn time_merged(
    memo: &mut Memo,
    f: &Fabric,
    caps: &[f64],
    merged: &Arc<Plan>,
    groups: &[Vec<u32>],
    size: f64,
    proto: Protocol,
    lat: f64,
    fidelity: Fidelity,
) -> Result<(f64, Vec<(u32, f64)>), String> {
    let (t, busy) = memo.run(f, caps, merged, fidelity)?;
    let mut transfer = t * size / REF_SIZE / proto.bandwidth_factor();
    if !merged.nvls {
        // NCCL's staging term, as for a single collective (collective::constants).
        let steps: u32 = merged.phases.iter().map(|ph| ph.steps_nvlink + ph.steps_net).sum();
        let ranks: usize = groups.iter().map(|g| g.len()).sum();
        let per_rank = memo.plan_bytes(merged) / ranks.max(1) as f64 * size / REF_SIZE;
        transfer += collective::constants::pipeline_fill(steps, transfer, per_rank);
    }
    Ok((lat + transfer, busy))
}

/// The plans of `op` on every group, merged phase by phase into one plan (virtual links
/// renumbered after the fabric's and each other's).
///
/// A group that is the first group moved by whole scale-up domains
/// (`collective::simulate::translation`: ring and hierarchical plans) takes the first group's
/// lowered flows with moved endpoints instead of being lowered again — the same flows by
/// construction (4,608 TP pairs or 384 expert-DP rings are each a translate of the first).
pub fn merge_groups(
    f: &Fabric,
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    algo: Algo,
    channels: u32,
) -> Result<Plan, String> {
    let mut merged = Plan::new(op, algo);
    // The first group's plan, when later groups can take it moved (no explicit paths and no
    // virtual links to renumber).
    let mut first: Option<Plan> = None;
    for (gi, g) in groups.iter().enumerate() {
        if let Some(t) = &first {
            if let Some(d) = collective::simulate::translation(f, algo, &groups[0], g) {
                t.append_translated(d, &mut merged.phases);
                continue;
            }
        }
        let mut p = lower(f, g, op, size, algo, channels).map_err(|e| e.to_string())?;
        if gi == 0 && groups.len() > 1 && p.routed_only() {
            first = Some(p.clone());
            // Room for every group's flows when all are moved copies of the first.
            merged.phases = p
                .phases
                .iter()
                .map(|ph| Phase {
                    flows: Vec::with_capacity(ph.flows.len() * groups.len()),
                    ..Phase::default()
                })
                .collect();
        }
        if gi == 0 {
            merged.tree_latency = p.tree_latency;
            merged.nvls = p.nvls;
        }
        let base = f.links.len() as u32;
        let offset = merged.virtual_links.len() as u32;
        for ph in &mut p.phases {
            for fl in &mut ph.flows {
                if let Some(path) = &mut fl.path {
                    for l in path.iter_mut() {
                        if *l >= base {
                            *l += offset;
                        }
                    }
                }
            }
        }
        merged.virtual_links.extend(p.virtual_links);
        for (i, ph) in p.phases.into_iter().enumerate() {
            if merged.phases.len() <= i {
                merged.phases.push(Phase::default());
            }
            let dst = &mut merged.phases[i];
            dst.steps_nvlink = dst.steps_nvlink.max(ph.steps_nvlink);
            dst.steps_net = dst.steps_net.max(ph.steps_net);
            dst.flows.extend(ph.flows);
        }
    }
    Ok(merged)
}

/// Time of point-to-point sends between consecutive pipeline stages, every pair of every
/// replica at once in both directions (the 1F1B steady state).
fn p2p_cost(
    f: &Fabric,
    pl: &Placement,
    bytes: f64,
    fidelity: Fidelity,
    memo: &mut Memo,
    boundary: &dyn Fn(u32) -> bool,
) -> Result<(f64, Vec<(u32, f64)>), String> {
    let lay: &Layout = &pl.layout;
    if lay.pp < 2 || bytes <= 0.0 || !(0..lay.pp - 1).any(boundary) {
        return Ok((0.0, Vec::new()));
    }
    let plan = p2p_plan(f, pl, boundary);
    let lat = latency(&plan, Protocol::Simple).unwrap_or(0.0);
    let (t, busy) = memo.run(f, &pl.caps, &Arc::new(plan), fidelity)?;
    Ok((lat + t * bytes / REF_SIZE, busy))
}

/// The plan of one send between consecutive stages at [`REF_SIZE`], every pair whose
/// boundary (the lower stage) `boundary` keeps, in both directions.
fn p2p_plan(f: &Fabric, pl: &Placement, boundary: &dyn Fn(u32) -> bool) -> Plan {
    let lay: &Layout = &pl.layout;
    let mut ph = Phase::default();
    let boundaries = (0..lay.pp.saturating_sub(1)).filter(|&s| boundary(s)).count();
    ph.flows
        .reserve(2 * boundaries * (lay.dpo * lay.ep * lay.cp * lay.tp) as usize);
    for dpo in 0..lay.dpo {
        for ep in 0..lay.ep {
            for cp in 0..lay.cp {
                for tp in 0..lay.tp {
                    for s in (0..lay.pp - 1).filter(|&s| boundary(s)) {
                        let a = lay.rank(tp, cp, ep, s, dpo);
                        let b = lay.rank(tp, cp, ep, s + 1, dpo);
                        let mut fw = PlanFlow::new(a, b, REF_SIZE);
                        fw.pxn = true;
                        let mut bw = PlanFlow::new(b, a, REF_SIZE);
                        bw.pxn = true;
                        ph.flows.push(fw);
                        ph.flows.push(bw);
                    }
                }
            }
        }
    }
    ph.steps(p2p_link_class(f, pl), 1);
    let mut plan = Plan::new(Op::SendRecv, Algo::P2p);
    plan.phases.push(ph);
    plan
}

/// The pieces of a hierarchical gradient synchronisation across sites of `bytes` per rank
/// over in-site groups of `g` ranks: reduce-scatter inside → all-reduce (ZeRO-1/2:
/// reduce-scatter then all-gather) of the shard across sites → all-gather inside. DiLoCo's
/// inner steps synchronise inside the site only.
fn hierarchical_pieces(out: &mut Vec<(Dim, Op, f64)>, zero: u8, bytes: f64, g: usize, in_site_only: bool) {
    let shard = bytes / g.max(1) as f64;
    match (in_site_only, zero) {
        (true, 0) => out.push((Dim::Dp, Op::AllReduce, bytes)),
        (true, _) => {
            out.push((Dim::Dp, Op::ReduceScatter, bytes));
            out.push((Dim::Dp, Op::AllGather, bytes));
        }
        (false, 0) => {
            out.push((Dim::Dp, Op::ReduceScatter, bytes));
            out.push((Dim::Dcn, Op::AllReduce, shard));
            out.push((Dim::Dp, Op::AllGather, bytes));
        }
        (false, _) => {
            out.push((Dim::Dp, Op::ReduceScatter, bytes));
            out.push((Dim::Dcn, Op::ReduceScatter, shard));
            out.push((Dim::Dcn, Op::AllGather, shard));
            out.push((Dim::Dp, Op::AllGather, bytes));
        }
    }
}

/// The link class pipeline sends travel on: scale-up when consecutive stages share a domain.
pub fn p2p_link_class(f: &Fabric, pl: &Placement) -> LinkClass {
    if pl.pp_in_domain(f) {
        LinkClass::NvLink
    } else {
        LinkClass::Net
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use workload::{ParallelPlan, Precision, Recompute};

    /// A plan of the given sizes (one micro-batch of 4,096 tokens, GBS 64, selective
    /// recompute, BF16, sequence parallel with TP), for the `train` unit tests.
    pub(in crate::train) fn plan(tp: u32, pp: u32, dp: u32, ep: u32, zero: u8) -> ParallelPlan {
        ParallelPlan {
            tp,
            pp,
            dp,
            cp: 1,
            ep,
            vp: 1,
            mbs: 1,
            gbs: 64,
            seq: 4096,
            zero,
            recompute: Recompute::Selective,
            precision: Precision::Bf16,
            sequence_parallel: tp > 1,
            tp_comm_overlap: false,
            layers_per_stage: None,
            hsdp_shard: None,
        }
    }

    /// `choose_one`'s latency is that of the chosen algorithm's plan lowered again at
    /// `REF_SIZE` under the chosen protocol (what it computed before taking `run_sizes`'):
    /// groups inside and across domains, every collective, sizes from latency-bound to
    /// bandwidth-bound, with and without in-network reduction, on NVLink, InfiniBand and TPU
    /// fabrics.
    #[test]
    fn chosen_latency_is_the_lowered_plans() {
        let mut checked = 0;
        for spec in [
            "fat-tree:gpus=64",
            "dgx-h100-superpod:su=1",
            "gb200-nvl72",
            "tpu-v4-pod:slice=4x4x4",
            "rail-only:gpus=64",
        ] {
            let (_, f) = crate::cluster::load(crate::cluster::Source::Preset(spec)).unwrap();
            let caps = collective::simulate::effective_capacities(&f);
            let n = f.accel_count() as u32;
            let groups: [Vec<u32>; 4] = [
                (0..8.min(n)).collect(),
                (0..n).step_by(8).take(16).collect(),
                (0..32.min(n)).collect(),
                (0..n).step_by(4).take(12).collect(),
            ];
            for g in groups.iter().filter(|g| g.len() > 1) {
                for op in [Op::AllReduce, Op::ReduceScatter, Op::AllGather, Op::AllToAll] {
                    for size in [1e3, 1e6, 3e8] {
                        for in_network in [false, true] {
                            let sim = Options {
                                in_network: collective::select::InNetwork {
                                    sharp: in_network,
                                    nvls: in_network,
                                },
                                ..Default::default()
                            };
                            let Ok((algo, proto, lat)) = choose_one(&f, &caps, false, g, op, size, sim) else {
                                continue;
                            };
                            let plan = lower(&f, g, op, REF_SIZE, algo, sim.channels).unwrap();
                            let again = latency(&plan, proto).unwrap_or(0.0);
                            assert_eq!(
                                lat.to_bits(),
                                again.to_bits(),
                                "{spec} {g:?} {op:?} {size} {algo:?} {proto:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 200, "{checked} choices checked");
    }

    /// Merged plans are found by the groups' contents (another copy of the same groups), and
    /// groups that share their first and last groups (one hash bucket) stay apart.
    #[test]
    fn merged_plans_are_found_by_content() {
        // Two plans told apart by address.
        let plan = |_: u32| Arc::new(collective::Plan::new(Op::AllReduce, Algo::Ring));
        let a: Vec<Vec<u32>> = vec![vec![0, 1], vec![2, 3], vec![4, 5]];
        let b: Vec<Vec<u32>> = vec![vec![0, 1], vec![2, 7], vec![4, 5]];
        let (pa, pb) = (plan(0), plan(1));
        let mut m = MergedPlans::default();
        assert!(m.insert((a.clone(), Op::AllReduce, Algo::Ring, 2), &pa));
        assert!(m.insert((b.clone(), Op::AllReduce, Algo::Ring, 2), &pb));
        assert!(!m.insert((a.clone(), Op::AllReduce, Algo::Ring, 2), &pb), "kept once");
        let a2: Vec<Vec<u32>> = a.to_vec();
        assert!(Arc::ptr_eq(m.get(&a2, Op::AllReduce, Algo::Ring, 2).unwrap(), &pa));
        assert!(Arc::ptr_eq(m.get(&b, Op::AllReduce, Algo::Ring, 2).unwrap(), &pb));
        assert!(m.get(&a, Op::AllGather, Algo::Ring, 2).is_none());
        assert!(m.get(&a, Op::AllReduce, Algo::Tree, 2).is_none());
        assert!(m.get(&a, Op::AllReduce, Algo::Ring, 4).is_none());
        assert!(m.get(&a[..2], Op::AllReduce, Algo::Ring, 2).is_none());
    }

    /// Within one step's fidelity checks, a flow run of a plan whose phases carry the flows of
    /// a plan asked for earlier in another order takes that plan's result (`same_flows`,
    /// `reorders_alike`): only at flow fidelity, not under adaptive routing, not for plans that
    /// differ in a flow's bytes, channel or phase, and whatever the memo ran before. The
    /// result is a fresh run's up to rounding.
    #[test]
    fn reordered_flow_runs_share_a_result() {
        use collective::{Phase, Plan, PlanFlow};
        let phase = |flows: Vec<PlanFlow>| Phase {
            flows,
            steps_nvlink: 0,
            steps_net: 0,
        };
        // Two phases of crossing flows over a 64-GPU fat-tree, two channels each: contention.
        let flows = |shift: u32, bytes: f64| -> Vec<PlanFlow> {
            (0..32u32)
                .flat_map(|i| {
                    (0..2).map(move |c| PlanFlow {
                        channel: c,
                        ..PlanFlow::new(i, (i * 7 + shift) % 64, bytes * (1.0 + f64::from(i % 3)))
                    })
                })
                .filter(|fl| fl.src != fl.dst)
                .collect()
        };
        let mut a = Plan::new(Op::ReduceScatter, Algo::Ring);
        a.phases = vec![phase(flows(9, 3e8)), phase(flows(33, 1e8))];
        let reversed = |p: &Plan| {
            let mut b = p.clone();
            for ph in &mut b.phases {
                ph.flows.reverse();
            }
            b.op = Op::AllGather;
            b
        };
        let b = reversed(&a);
        assert!(same_flows(&a, &b) && same_flows(&b, &a) && same_flows(&a, &a));
        let mut other = b.clone();
        other.phases[1].flows[5].bytes *= 1.5;
        assert!(!same_flows(&a, &other), "a flow's bytes differ");
        let mut other = b.clone();
        other.phases[0].flows[3].channel = 7;
        assert!(!same_flows(&a, &other), "a flow's channel differs");
        let mut other = b.clone();
        other.phases.swap(0, 1);
        assert!(!same_flows(&a, &other), "the phases differ");
        let mut other = b.clone();
        let moved = other.phases[0].flows.pop().unwrap();
        other.phases[1].flows.push(moved);
        assert!(!same_flows(&a, &other), "a flow moved to another phase");

        let (a, b) = (Arc::new(a), Arc::new(b));
        type Got = Vec<(f64, Vec<(u32, f64)>)>;
        // The checks' protocol on a memo (`start_checks`, `PendingChecks::run`,
        // `finish_checks`): a first pass asking for `plans` in order, their deferred runs, a
        // second pass reading the results.
        let checks = |memo: &mut Memo, f: &Fabric, caps: &[f64], plans: &[&Arc<Plan>], fidelity: Fidelity| -> Got {
            memo.reordered.clear();
            memo.defer = Some(Deferred::default());
            for p in plans {
                memo.run(f, caps, p, fidelity).unwrap();
            }
            let todo = memo.defer.take().unwrap().runs;
            for (p, fi) in todo {
                memo.run(f, caps, &p, fi).unwrap();
            }
            let got = plans.iter().map(|p| memo.run(f, caps, p, fidelity).unwrap()).collect();
            memo.reordered.clear();
            got
        };
        let bits = |g: &Got| -> Vec<(u64, Vec<(u32, u64)>)> {
            g.iter()
                .map(|(t, busy)| (t.to_bits(), busy.iter().map(|(l, u)| (*l, u.to_bits())).collect()))
                .collect()
        };
        for routing in fabric::RoutingMode::ALL {
            let mut f = crate::cluster::load(crate::cluster::Source::Preset("fat-tree:gpus=64,oversub=2"))
                .unwrap()
                .1;
            f.routing = routing;
            let caps = collective::simulate::effective_capacities(&f);
            for fidelity in [Fidelity::Analytical, Fidelity::Flow] {
                let shared = fidelity == Fidelity::Flow && routing != fabric::RoutingMode::Adaptive;
                let mut memo = Memo::new();
                memo.for_caps(&caps);
                let got = checks(&mut memo, &f, &caps, &[&a, &b], fidelity);
                assert_eq!(memo.runs.len(), if shared { 1 } else { 2 }, "{routing:?} {fidelity:?}");
                let (fresh_a, _) = collective::simulate::run_plan(&f, &caps, &a, fidelity).unwrap();
                let (fresh_b, _) = collective::simulate::run_plan(&f, &caps, &b, fidelity).unwrap();
                assert_eq!(got[0].0.to_bits(), fresh_a.to_bits());
                assert_eq!(got[1].0.to_bits(), if shared { fresh_a } else { fresh_b }.to_bits());
                assert_eq!(got[0] == got[1], shared || fresh_a.to_bits() == fresh_b.to_bits());
                // Shared or not, the reordered plan's own run agrees up to rounding.
                assert!((fresh_b - fresh_a).abs() <= 1e-12 * fresh_a, "{routing:?} {fidelity:?}");
                assert!(fresh_a > 0.0);
                // The result does not depend on what the memo ran before: a memo that ran `b`
                // alone (another step's checks), or both in the other order, then gives the
                // same results to the same checks.
                let mut seasoned = Memo::new();
                seasoned.for_caps(&caps);
                checks(&mut seasoned, &f, &caps, &[&b], fidelity);
                checks(&mut seasoned, &f, &caps, &[&b, &a], fidelity);
                assert_eq!(bits(&checks(&mut seasoned, &f, &caps, &[&a, &b], fidelity)), bits(&got));
                // Outside the checks' passes nothing is shared.
                assert_eq!(
                    seasoned.run(&f, &caps, &b, fidelity).unwrap().0.to_bits(),
                    fresh_b.to_bits()
                );
            }
        }
    }

    /// A memo's runs skip the capacity check only on the slice it was set to (`for_caps`),
    /// whose check it makes once per set of capacities: each run is a fresh run, errors
    /// included, on valid, zero and NaN capacities, given the slice or a copy of it.
    #[test]
    fn a_memo_checks_its_capacities_once_per_set() {
        let f = crate::cluster::load(crate::cluster::Source::Preset("fat-tree:gpus=64"))
            .unwrap()
            .1;
        let m = workload::registry::lookup("llama-3.1-8b").unwrap();
        let pl =
            super::super::layout::place(&f, &m, &plan(2, 2, 16, 1, 1), super::super::DEFAULT_ORDER, false).unwrap();
        let groups: Vec<Vec<u32>> = (0..4).map(|g| (g * 16..(g + 1) * 16).collect()).collect();
        let plan = Arc::new(merge_groups(&f, &groups, Op::AllReduce, REF_SIZE, Algo::Ring, 2).unwrap());
        let fresh = |caps: &[f64]| {
            collective::simulate::run_plan(&f, caps, &plan, Fidelity::Analytical)
                .map(|(t, busy)| (t, busy.into_iter().map(|b| (b.link, b.utilisation)).collect::<Vec<_>>()))
                .map_err(|e| e.to_string())
        };
        let good = pl.caps.clone();
        let mut bad = good.clone();
        bad[good.len() / 3] = 0.0;
        let mut nan = good.clone();
        nan[7] = f64::NAN;
        // The slice the memo was set to, another slice of the same values, then other
        // capacities: each run as a fresh one, errors included (NaN compared by its bits).
        for caps in [&good, &bad, &nan] {
            let mut memo = Memo::new();
            memo.for_caps(caps);
            let got = memo.run(&f, caps, &plan, Fidelity::Analytical);
            assert_eq!(format!("{got:?}"), format!("{:?}", fresh(caps)));
            assert_eq!(memo.caps_valid, Some(caps.iter().all(|c| c.is_finite() && *c > 0.0)));
            let copy = caps.to_vec();
            let mut memo = Memo::new();
            memo.for_caps(caps);
            assert!(!memo.caps_checked(&copy), "another slice is not taken on trust");
            assert_eq!(
                format!("{:?}", memo.run(&f, &copy, &plan, Fidelity::Analytical)),
                format!("{:?}", fresh(caps))
            );
        }
        // Set to bad capacities after good ones: checked again.
        let mut memo = Memo::new();
        memo.for_caps(&good);
        assert!(memo.caps_checked(&good));
        memo.for_caps(&bad);
        assert!(!memo.caps_checked(&bad));
        assert!(memo.run(&f, &bad, &plan, Fidelity::Analytical).is_err());
    }

    /// The fidelity checks computed in two passes, their flow runs in parallel on the step's
    /// built plans, equal one sequential pass with fresh runs (bit for bit), and the checks
    /// change nothing else of the step's prices.
    #[test]
    fn parallel_checks_equal_sequential_checks() {
        let cases = [
            ("fat-tree:gpus=64", None, "llama-3.1-8b", plan(2, 4, 8, 1, 1)),
            ("fat-tree:gpus=64", None, "llama-3.1-8b", plan(4, 2, 8, 1, 0)),
            ("fat-tree:gpus=64", None, "mixtral-8x7b", plan(2, 4, 8, 4, 1)),
            (
                "fat-tree:gpus=256,oversub=3",
                Some(fabric::RoutingMode::Adaptive),
                "mixtral-8x7b",
                plan(2, 2, 64, 8, 1),
            ),
            (
                "rail-optimized:gpus=128",
                Some(fabric::RoutingMode::Spray),
                "llama-3.1-8b",
                plan(8, 2, 8, 1, 1),
            ),
        ];
        for (cluster, routing, name, p) in cases {
            let mut f = crate::cluster::load(crate::cluster::Source::Preset(cluster))
                .unwrap_or_else(|e| panic!("{cluster}: {e}"))
                .1;
            if let Some(r) = routing {
                f.routing = r;
            }
            let m = workload::registry::lookup(name).unwrap();
            let pl = super::super::layout::place(&f, &m, &p, super::super::DEFAULT_ORDER, false).unwrap();
            let with = price(&f, &pl, &m, Fidelity::Analytical).unwrap();
            assert!(!with.fidelity_checks.is_empty(), "{cluster} {name}: no checks");
            let mut without = price(
                &f,
                &pl,
                &m,
                CommOptions {
                    fidelity_checks: false,
                    ..CommOptions::from(Fidelity::Analytical)
                },
            )
            .unwrap();
            assert!(without.fidelity_checks.is_empty());
            let mut memo = Memo::new();
            memo.for_caps(&pl.caps);
            check_pass(&f, &pl, &m, &mut without, &mut memo).unwrap();
            assert_eq!(format!("{with:?}"), format!("{without:?}"), "{cluster} {name}");
        }
    }
}

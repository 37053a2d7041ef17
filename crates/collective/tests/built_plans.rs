//! A plan routed and stored once (`simulate::build_plan`, `moe::build`) and simulated at both
//! fidelities gives, bit for bit, what a fresh `run_plan` (`moe::run`) gives at each: the
//! analytical fidelity checks of `train` re-run the step's built plans at flow.

use collective::moe::{self, MoeKernel, MoeOp, MoeSpec};
use collective::simulate::{self, Bottleneck};
use collective::{Algo, Op, Phase, Plan};
use engine::Fidelity;
use fabric::presets::build_preset;
use fabric::{Fabric, RoutingMode};
use proptest::prelude::*;

mod common;
use common::FABRICS;

const ROUTING: [RoutingMode; 3] = [RoutingMode::Ecmp, RoutingMode::Adaptive, RoutingMode::Spray];

fn fabric(i: usize, routing: usize) -> Fabric {
    let mut f = build_preset(FABRICS[i]).unwrap().1;
    f.routing = ROUTING[routing];
    f
}

/// `count` groups of `size` consecutive ranks from rank 0, those that fit on the fabric.
fn consecutive_groups(f: &Fabric, size: u32, count: u32) -> Vec<Vec<u32>> {
    let n = f.accel_count() as u32;
    (0..count)
        .map(|g| (g * size..(g + 1) * size).collect::<Vec<u32>>())
        .filter(|g| g.last().is_some_and(|&r| r < n))
        .collect()
}

/// Bits of a run's numbers and its busy links.
fn bits((t, busy): &(f64, Vec<Bottleneck>)) -> String {
    let mut s = format!("{}", t.to_bits());
    for b in busy {
        s.push_str(&format!(" {}:{}:{}", b.link, b.name, b.utilisation.to_bits()));
    }
    s
}

/// `groups` disjoint groups of `size` consecutive ranks from `start`, each lowered for `op` with
/// `algo`, merged phase by phase (virtual links renumbered), as `train` prices a dimension.
fn merged(f: &Fabric, start: u32, size: u32, groups: u32, op: Op, algo: Algo) -> Option<Plan> {
    let n = f.accel_count() as u32;
    let mut out = Plan::new(op, algo);
    for g in 0..groups {
        let first = start + g * size;
        if first + size > n {
            break;
        }
        let ranks: Vec<u32> = (first..first + size).collect();
        let mut p = simulate::lower(f, &ranks, op, simulate::REF_SIZE, algo, 2).ok()?;
        let base = f.links.len() as u32;
        let offset = out.virtual_links.len() as u32;
        for ph in &mut p.phases {
            for fl in &mut ph.flows {
                for l in fl.path.iter_mut().flatten() {
                    if *l >= base {
                        *l += offset;
                    }
                }
            }
        }
        out.virtual_links.extend(p.virtual_links);
        for (i, ph) in p.phases.into_iter().enumerate() {
            if out.phases.len() <= i {
                out.phases.push(Phase::default());
            }
            out.phases[i].flows.extend(ph.flows);
        }
    }
    (!out.phases.is_empty()).then_some(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn built_plan_runs_as_fresh_plans(fi in 0..FABRICS.len(), routing in 0..3usize, op in 0..Op::ALL.len(),
                                      algo in 0..Algo::ALL.len(), start in 0u32..16, size in 2u32..=16,
                                      groups in 1u32..=4, flow_first in any::<bool>()) {
        let f = fabric(fi, routing);
        let Some(plan) = merged(&f, start, size, groups, Op::ALL[op], Algo::ALL[algo]) else {
            return Ok(());
        };
        let caps = simulate::effective_capacities(&f);
        let order = if flow_first {
            [Fidelity::Flow, Fidelity::Analytical]
        } else {
            [Fidelity::Analytical, Fidelity::Flow]
        };
        let mut built = simulate::build_plan(&f, &caps, &plan).unwrap();
        for fid in order {
            let fresh = simulate::run_plan(&f, &caps, &plan, fid).unwrap();
            let again = simulate::run_built(&f, &mut built, fid).unwrap();
            prop_assert_eq!(bits(&fresh), bits(&again));
        }
    }

    #[test]
    fn built_moe_runs_as_fresh_moe(fi in 0..FABRICS.len() - 1, routing in 0..3usize, combine in any::<bool>(),
                                   size in prop_oneof![Just(8u32), Just(16), Just(32)], groups in 1u32..=3,
                                   imbalance in prop_oneof![Just(1.0), Just(1.5)]) {
        let f = fabric(fi, routing);
        let groups = consecutive_groups(&f, size, groups);
        if groups.is_empty() {
            return Ok(());
        }
        let op = if combine { MoeOp::Combine } else { MoeOp::Dispatch };
        let spec = MoeSpec { imbalance, ..MoeSpec::new(op, MoeKernel::Normal, 256, 1024, 4, 64) };
        let mut built = match moe::build(&f, &groups, &spec) {
            Ok(b) => b,
            Err(_) => return Ok(()),
        };
        for fid in [Fidelity::Analytical, Fidelity::Flow] {
            let fresh = moe::run(&f, &groups, &spec, fid).unwrap();
            let again = moe::run_built(&f, &mut built, fid).unwrap();
            prop_assert_eq!(format!("{fresh:?}"), format!("{again:?}"));
            prop_assert_eq!(fresh.time_s.to_bits(), again.time_s.to_bits());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// DeepEP runs whose routes come from a `RouteCache` (runs of the same groups, kernel and
    /// direction with other token counts, top-k and imbalance) are the fresh runs, bit for bit,
    /// at both fidelities, built or run; and the cache is used.
    #[test]
    fn cached_moe_routes_give_fresh_runs(fi in 0..FABRICS.len() - 1, routing in 0..3usize, combine in any::<bool>(),
                                         size in prop_oneof![Just(8u32), Just(16)], groups in 1u32..=3,
                                         low_latency in any::<bool>(),
                                         runs in prop::collection::vec((1u64..512, 1u32..=4, prop_oneof![Just(1.0), Just(1.5)]), 2..4)) {
        let f = fabric(fi, routing);
        let groups = consecutive_groups(&f, size, groups);
        if groups.is_empty() {
            return Ok(());
        }
        let op = if combine { MoeOp::Combine } else { MoeOp::Dispatch };
        let kernel = if low_latency { MoeKernel::LowLatency } else { MoeKernel::Normal };
        let cache = moe::RouteCache::new();
        let mut answered = 0;
        for (tokens, topk, imbalance) in runs {
            let spec = MoeSpec { imbalance, ..MoeSpec::new(op, kernel, tokens, 1024, topk, 64) };
            for fid in [Fidelity::Analytical, Fidelity::Flow] {
                let (fresh, cached) = (moe::run(&f, &groups, &spec, fid), moe::run_cached(&f, &groups, &spec, fid, Some(&cache)));
                prop_assert_eq!(format!("{fresh:?}"), format!("{cached:?}"));
                if fresh.is_ok() {
                    answered += 1;
                    let mut built = moe::build_cached(&f, &groups, &spec, Some(&cache)).unwrap();
                    let again = moe::run_built(&f, &mut built, fid).unwrap();
                    prop_assert_eq!(format!("{:?}", fresh.unwrap()), format!("{again:?}"));
                }
            }
        }
        if answered > 1 {
            prop_assert!(cache.hits() > 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Dispatches and combines of the same groups through one `RouteCache`: a run whose
    /// direction the cache lacks takes the routes of the other direction's flows reversed
    /// (`TwinRoutes`) — and gives the fresh run bit for bit, at both fidelities, with any
    /// token counts, top-k and imbalance (zero bytes included, which leave flows out).
    #[test]
    fn moe_runs_take_the_other_directions_routes(fi in 0..FABRICS.len() - 1, routing in 0..3usize,
                                                 size in prop_oneof![Just(8u32), Just(16), Just(12)], groups in 1u32..=3,
                                                 low_latency in any::<bool>(),
                                                 runs in prop::collection::vec((any::<bool>(), 0u64..512, 1u32..=4, prop_oneof![Just(0.0), Just(1.0), Just(1.5)]), 2..5)) {
        let f = fabric(fi, routing);
        let groups = consecutive_groups(&f, size, groups);
        if groups.is_empty() {
            return Ok(());
        }
        let kernel = if low_latency { MoeKernel::LowLatency } else { MoeKernel::Normal };
        let cache = moe::RouteCache::new();
        let (mut ops, mut answered) = (std::collections::BTreeSet::new(), 0);
        for (combine, tokens, topk, imbalance) in runs {
            let op = if combine { MoeOp::Combine } else { MoeOp::Dispatch };
            let spec = MoeSpec { imbalance, ..MoeSpec::new(op, kernel, tokens, 1024, topk, 64) };
            for fid in [Fidelity::Analytical, Fidelity::Flow] {
                let (fresh, cached) = (moe::run(&f, &groups, &spec, fid), moe::run_cached(&f, &groups, &spec, fid, Some(&cache)));
                prop_assert_eq!(format!("{fresh:?}"), format!("{cached:?}"));
                if fresh.is_ok() && tokens > 0 && imbalance > 0.0 {
                    answered += 1;
                    ops.insert(combine);
                }
            }
        }
        // Both directions ran with bytes on every flow: the second took the first's routes
        // (flow by flow, or mirrored from the symmetric groups' routes).
        if ops.len() == 2 && answered > 2 {
            prop_assert!(cache.twins() + cache.mirrored() > 0, "no run took the other direction's routes");
        }
    }
}

/// Groups of `size` ranks `stride` apart: group `g` starts at `g % stride + (g / stride) ·
/// size · stride` (interleaved groups, as expert-parallel groups inside tensor-parallel ones
/// are laid out), those that fit on the fabric.
fn strided_groups(f: &Fabric, size: u32, stride: u32, count: u32) -> Vec<Vec<u32>> {
    let n = f.accel_count() as u32;
    (0..count)
        .map(|g| {
            let first = g % stride + (g / stride) * size * stride;
            (0..size).map(|i| first + i * stride).collect::<Vec<u32>>()
        })
        .filter(|g| g.last().is_some_and(|&r| r < n))
        .collect()
}

/// DeepEP runs after the other direction's run of the same groups on one `RouteCache`: where
/// that run's routes are symmetric, the run is priced from them without routing
/// (`RouteCache::mirrored`) — and gives the fresh run bit for bit, at both fidelities, over
/// every switched fabric, both kernels, consecutive and interleaved groups, hot experts and
/// empty flows; where it cannot be, it routes as before.
#[test]
fn mirrored_moe_runs_are_fresh_runs() {
    let mut mirrored = 0;
    let mut runs = 0;
    for (fi, name) in FABRICS.iter().enumerate().take(FABRICS.len() - 1) {
        for routing in 0..3 {
            let f = fabric(fi, routing);
            let layouts = [
                (8, 1, 4, 0),
                (16, 1, 3, 0),
                (4, 2, 4, 0),
                (8, 2, 6, 0),
                (4, 8, 8, 0),
                (8, 1, 4, 1),
                (4, 0, 4, 2),
            ];
            for (size, stride, count, how) in layouts {
                let mut groups = strided_groups(&f, size, stride.max(1), count);
                if how == 1 {
                    // Members listed from another rank: the hot expert's GPU (the lowest rank)
                    // at another position in that group.
                    if let Some(g) = groups.get_mut(1) {
                        g.rotate_left(3);
                    }
                }
                if how == 2 {
                    // Members alternating between two scale-up domains: a low-latency run
                    // numbers its copy-ingress links in another order in each direction.
                    let (ds, n) = (f.domain_size, f.accel_count() as u32);
                    groups = (0..count)
                        .map(|g| vec![2 * g + ds, 2 * g, 2 * g + 1 + ds, 2 * g + 1])
                        .filter(|g| 2 * count <= ds && g.iter().all(|&r| r < n))
                        .collect();
                }
                if groups.len() < 2 {
                    continue;
                }
                for kernel in [MoeKernel::Normal, MoeKernel::LowLatency] {
                    for (first, tokens, imbalance) in [
                        (MoeOp::Dispatch, 128, 1.0),
                        (MoeOp::Combine, 64, 1.5),
                        (MoeOp::Dispatch, 0, 1.0),
                        (MoeOp::Combine, 32, 0.0),
                    ] {
                        let cache = moe::RouteCache::new();
                        for op in [first, first.reverse()] {
                            let spec = MoeSpec {
                                imbalance,
                                ..MoeSpec::new(op, kernel, tokens, 1024, 4, 64)
                            };
                            for fid in [Fidelity::Analytical, Fidelity::Flow] {
                                let before = cache.mirrored();
                                let fresh = moe::run(&f, &groups, &spec, fid);
                                let cached = moe::run_cached(&f, &groups, &spec, fid, Some(&cache));
                                assert_eq!(
                                    format!("{fresh:?}"),
                                    format!("{cached:?}"),
                                    "{name} routing {routing} groups {groups:?} {spec:?} {fid:?}"
                                );
                                mirrored += cache.mirrored() - before;
                                runs += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    // The second run of each pair is mirrored where both carry bytes and the first's groups
    // are symmetric (480 of 2,016 runs: not the first runs, those of empty or refused specs,
    // nor low-latency runs on the rail-optimized fabric, whose groups cross its spines).
    assert!(mirrored * 5 >= runs, "{mirrored} of {runs} runs mirrored");
}

/// `plan`'s phases routed as `simulate::build_plan` routes them (one flow set per phase).
fn routed(f: &Fabric, plan: &Plan) -> Vec<engine::FlowSet> {
    let mut router = fabric::Router::new(f);
    let mut out = Vec::new();
    for ph in &plan.phases {
        let mut flows = engine::FlowSet::new();
        router.new_phase();
        for pf in &ph.flows {
            let mut push = |path: &[u32], bytes: f64| {
                if bytes > 0.0 && !path.is_empty() {
                    flows.push(path, bytes, 1);
                }
            };
            match &pf.path {
                Some(p) => push(p, pf.bytes),
                None => router
                    .route(
                        pf.src,
                        pf.dst,
                        pf.channel as u64,
                        fabric::RouteOpts { pxn: pf.pxn },
                        pf.bytes,
                        &mut push,
                    )
                    .unwrap(),
            }
        }
        out.push(flows);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A run on an engine of only the used links (renumbered in id order) gives the full
    /// engine's time and busy links bit for bit, at both fidelities (`simulate::build_compact`,
    /// which `run_plan` and `build_plan` use for plans much smaller than the fabric).
    #[test]
    fn compact_built_plan_runs_as_full_plan(fi in 0..FABRICS.len(), routing in 0..3usize, op in 0..Op::ALL.len(),
                                            start in 0u32..16, size in 2u32..=16, groups in 1u32..=4) {
        let f = fabric(fi, routing);
        for algo in Algo::ALL {
            let Some(plan) = merged(&f, start, size, groups, Op::ALL[op], algo) else {
                continue;
            };
            check_compact(&f, &plan)?;
        }
    }
}

/// [`compact_built_plan_runs_as_full_plan`] for one plan.
fn check_compact(f: &Fabric, plan: &Plan) -> Result<(), TestCaseError> {
    let caps = simulate::effective_capacities(f);
    let all = simulate::engine_capacities(f, &caps, &plan.virtual_links);
    let mut phases = routed(f, plan);
    let hops: usize = phases.iter().map(|p| p.hops()).sum();
    let compact = simulate::build_compact(&all, &mut phases);
    prop_assert_eq!(compact.is_some(), simulate::worth_compacting(hops, all.len()));
    let mut full_built = simulate::build_plan_full(f, &caps, plan).unwrap();
    let full = simulate::run_built(f, &mut full_built, Fidelity::Analytical).unwrap();
    let full_flow = simulate::run_built(f, &mut full_built, Fidelity::Flow).unwrap();
    match compact {
        Some(mut c) => {
            // Both fidelities, in both orders over the same built plan.
            let r = simulate::run_built(f, &mut c, Fidelity::Analytical).unwrap();
            prop_assert_eq!(bits(&r), bits(&full));
            let r = simulate::run_built(f, &mut c, Fidelity::Flow).unwrap();
            prop_assert_eq!(bits(&r), bits(&full_flow));
            let r = simulate::run_built(f, &mut c, Fidelity::Analytical).unwrap();
            prop_assert_eq!(bits(&r), bits(&full));
        }
        // Declined: the flow sets are given back as routed.
        None => prop_assert_eq!(phases, routed(f, plan)),
    }
    prop_assert_eq!(
        bits(&simulate::run_plan(f, &caps, plan, Fidelity::Analytical).unwrap()),
        bits(&full)
    );
    prop_assert_eq!(
        bits(&simulate::run_plan(f, &caps, plan, Fidelity::Flow).unwrap()),
        bits(&full_flow)
    );
    // `build_plan` compacts where `build_compact` does, and its runs are the full engine's.
    let mut built = simulate::build_plan(f, &caps, plan).unwrap();
    prop_assert_eq!(
        bits(&simulate::run_built(f, &mut built, Fidelity::Flow).unwrap()),
        bits(&full_flow)
    );
    prop_assert_eq!(
        bits(&simulate::run_built(f, &mut built, Fidelity::Analytical).unwrap()),
        bits(&full)
    );
    Ok(())
}

/// A random group: flows over links `0..links` (paths of 1–4 distinct hops), with repeats
/// (identical flows, which the engine merges).
fn group_strategy() -> impl Strategy<Value = (u32, Vec<(Vec<u32>, u32, u32)>)> {
    (4u32..12).prop_flat_map(|links| {
        let flow = (
            proptest::sample::subsequence((0..links).collect::<Vec<u32>>(), 1..=4usize).prop_shuffle(),
            0u32..4,
            1u32..3,
        );
        (Just(links), proptest::collection::vec(flow, 1..10))
    })
}

/// One case of [`symmetric_groups_price_as_all_groups`] at `fidelity`.
#[allow(clippy::too_many_arguments)]
fn symmetric_case(
    links: u32,
    group: &[(Vec<u32>, u32, u32)],
    copies: usize,
    perms: &[proptest::sample::Index],
    translate: bool,
    shared: bool,
    caps_seed: u32,
    other_caps: bool,
    fidelity: Fidelity,
) -> Result<(), TestCaseError> {
    let k = links as usize;
    let n = k * copies;
    // Capacities repeat per copy (so moved groups see equal ones), or not.
    // (`caps_seed` 0: all equal, so every rotation keeps them.)
    let cap = |l: usize| {
        if caps_seed == 0 {
            1e9
        } else {
            1e9 * (1.0 + ((l % k) as u32 * 7 + caps_seed) as f64 % 5.0)
        }
    };
    let mut all: Vec<f64> = (0..n).map(cap).collect();
    if other_caps && copies > 1 {
        all[k] *= 2.0;
    }
    // Copy c: the first group's links through a rotation of 0..k (none when `translate`), onto
    // k·c.. (or onto the first group's own links when `shared`).
    let rot = |c: usize| if c == 0 || translate { 0 } else { perms[c].index(k) };
    let mut flows = engine::FlowSet::new();
    let mut ends = Vec::new();
    for c in 0..copies {
        let base = if shared && c == 1 { 0 } else { c * k };
        for (path, b, w) in group {
            let p: Vec<u32> = path
                .iter()
                .map(|&l| (base + (l as usize + rot(c)) % k) as u32)
                .collect();
            flows.push(&p, f64::from(*b) * 1e6 + f64::from(*w) * 3.7e5, *w);
        }
        ends.push(flows.len());
    }
    let mut e = engine::Engine::new(all.clone(), fidelity).unwrap();
    e.set_link_bytes_only(true);
    e.add_transfer(0.0, &flows, &[]).unwrap();
    let rep = e.run().unwrap();
    let full = (rep.makespan_s, rep.bottlenecks(e.capacities(), 3));
    let sym = simulate::run_symmetric_at(&all, &flows, &ends, fidelity);
    // The flow fidelity's symmetry map derived from the analytical one is the one computed.
    let analytical = simulate::symmetry_map(&all, &flows, &ends, Fidelity::Analytical);
    prop_assert_eq!(
        analytical.as_ref().and_then(simulate::SymmetryMap::at_flow),
        simulate::symmetry_map(&all, &flows, &ends, Fidelity::Flow)
    );
    if let Some((t, busy)) = &sym {
        prop_assert_eq!(t.to_bits(), full.0.to_bits());
        let b = |v: &Vec<(u32, f64)>| v.iter().map(|(l, u)| (*l, u.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(b(busy), b(&full.1));
    }
    // Moved copies on links of equal capacity: capacities must repeat under the move, and at
    // flow fidelity the move must keep the links' order (a translation).
    let keeps_caps = (1..copies).all(|c| (0..k).all(|l| all[c * k + (l + rot(c)) % k].to_bits() == all[l].to_bits()));
    let keeps_order = (1..copies).all(|c| rot(c) == 0);
    if copies > 1 && !shared && keeps_caps && (fidelity == Fidelity::Analytical || keeps_order) {
        prop_assert!(sym.is_some(), "moved groups on links of their own are priced as one");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `simulate::run_symmetric_at` (every group priced as the first one) gives, bit for bit,
    /// what the engine gives on all groups' flows at once, whenever it answers, at both
    /// fidelities; and it answers for groups that are the first one moved onto links of their
    /// own — any move at analytical fidelity, a translation (link order kept) at flow fidelity.
    #[test]
    fn symmetric_groups_price_as_all_groups((links, group) in group_strategy(), copies in 1usize..5,
                                           perms in proptest::collection::vec(any::<proptest::sample::Index>(), 5),
                                           translate in any::<bool>(), shared in any::<bool>(),
                                           caps_seed in 0u32..3, other_caps in any::<bool>()) {
        for fidelity in [Fidelity::Analytical, Fidelity::Flow] {
            symmetric_case(links, &group, copies, &perms, translate, shared, caps_seed, other_caps, fidelity)?;
        }
    }
}

/// Groups that share a link, or whose capacities differ, are not priced as one.
#[test]
fn overlapping_or_unequal_groups_are_not_symmetric() {
    let mut flows = engine::FlowSet::new();
    flows.push(&[0, 1], 1e6, 1);
    flows.push(&[1, 2], 1e6, 1);
    let all = vec![1e9; 4];
    assert!(simulate::run_symmetric(&all, &flows, &[1, 2]).is_none());
    let mut flows = engine::FlowSet::new();
    flows.push(&[0, 1], 1e6, 1);
    flows.push(&[2, 3], 1e6, 1);
    assert!(simulate::run_symmetric(&all, &flows, &[1, 2]).is_some());
    assert!(simulate::run_symmetric(&[1e9, 1e9, 1e9, 2e9], &flows, &[1, 2]).is_none());
    // One link standing for two of the first group's is not one-to-one.
    let mut flows = engine::FlowSet::new();
    flows.push(&[0, 1], 1e6, 1);
    flows.push(&[2, 2], 1e6, 1);
    assert!(simulate::run_symmetric(&all, &flows, &[1, 2]).is_none());
}

/// `run_built` at flow fidelity takes the analytical closed form where the engine proves it
/// gives the flow run's times (`engine::Engine::flow_matches_analytical`): over every test
/// fabric, routing mode, operation and algorithm, those runs are the analytical run bit for
/// bit and agree with the water-filled ones (`run_built_solved`) to rounding — the time, and
/// the busy links with their utilisations (the water-filled run batches completions within
/// 10⁻¹² of each other, per phase) — and the others are the water-filled runs bit for bit.
/// Both kinds occur.
#[test]
fn flow_runs_in_closed_form_match_water_filling() {
    let (mut closed, mut solved) = (0, 0);
    for (fi, name) in FABRICS.iter().enumerate() {
        for (routing, mode) in ROUTING.iter().enumerate() {
            let f = fabric(fi, routing);
            let caps = simulate::effective_capacities(&f);
            for op in Op::ALL {
                for algo in Algo::ALL {
                    for (start, size, groups) in [(0, 8, 2), (3, 5, 3), (0, 16, 4)] {
                        let Some(plan) = merged(&f, start, size, groups, op, algo) else {
                            continue;
                        };
                        let Ok(mut built) = simulate::build_plan(&f, &caps, &plan) else {
                            continue;
                        };
                        let (t, busy) = simulate::run_built(&f, &mut built, Fidelity::Flow).unwrap();
                        let reference = simulate::run_built_solved(&f, &mut built, Fidelity::Flow).unwrap();
                        let what = format!("{name} {mode:?} {op:?} {algo:?} {start}/{size}/{groups}");
                        if built.flow_matches_analytical() {
                            closed += 1;
                            let analytical = simulate::run_built(&f, &mut built, Fidelity::Analytical).unwrap();
                            assert_eq!(bits(&(t, busy.clone())), bits(&analytical), "{what}");
                            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
                            assert!(close(t, reference.0), "{what}: {t} vs {}", reference.0);
                            assert_eq!(busy.len(), reference.1.len(), "{what}");
                            for (a, b) in busy.iter().zip(&reference.1) {
                                assert!(close(a.utilisation, b.utilisation), "{what}: {a:?} vs {b:?}");
                            }
                            // The same links, but for ties broken the other way by rounding.
                            let ua: Vec<f64> = busy.iter().map(|b| b.utilisation).collect();
                            let ub: Vec<f64> = reference.1.iter().map(|b| b.utilisation).collect();
                            if ua.windows(2).all(|w| !close(w[0], w[1])) && ub.windows(2).all(|w| !close(w[0], w[1])) {
                                let la: Vec<u32> = busy.iter().map(|b| b.link).collect();
                                let lb: Vec<u32> = reference.1.iter().map(|b| b.link).collect();
                                assert_eq!(la, lb, "{what}");
                            }
                        } else {
                            solved += 1;
                            assert_eq!(bits(&(t, busy)), bits(&reference), "{what}");
                        }
                    }
                }
            }
        }
    }
    assert!(
        closed > 50 && solved > 10,
        "closed form {closed}, water-filled {solved}"
    );
    eprintln!("closed form {closed}, water-filled {solved}");
}

thread_local! {
    /// Flows that took lent routes over the cases of `plans_take_routes_lent_by_another_run`.
    static LENT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Every `every`-th flow of `plan` (from the `from`-th) carrying `bytes` instead.
fn with_bytes(plan: &mut Plan, every: usize, from: usize, bytes: f64) {
    if every == 0 {
        return;
    }
    for ph in &mut plan.phases {
        for fl in ph.flows.iter_mut().skip(from).step_by(every) {
            fl.bytes = bytes;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A plan whose flows take the paths another plan's run kept (`simulate::RouteDonor`: an
    /// all-gather after the reduce-scatter of the same groups, or any other plan) runs as it
    /// does routed afresh, bit for bit, at both fidelities, built or not, and keeps the same
    /// routes — with flows of zero, negative or NaN bytes on either side (which keep no
    /// paths and lend none), donors of other groups, sizes and algorithms, donors made on
    /// another fabric value (not used), and adaptive routing (which keeps no routes to lend).
    #[test]
    fn plans_take_routes_lent_by_another_run(fi in 0..FABRICS.len() + 1, routing in 0..3usize,
                                             ops in prop_oneof![2 => Just((1usize, 2usize)), 1 => Just((2, 1)), 2 => (0..Op::ALL.len(), 0..Op::ALL.len())],
                                             algo in prop_oneof![2 => Just(0usize), 2 => Just(4), 3 => 0..Algo::ALL.len()],
                                             other_algo in prop_oneof![3 => Just(None), 1 => (0..Algo::ALL.len()).prop_map(Some)],
                                             start in 0u32..8, size in 2u32..=16, groups in 1u32..=3,
                                             shift in prop_oneof![3 => Just(0u32), 1 => 1u32..8],
                                             channels in any::<bool>(), foreign in prop_oneof![4 => Just(false), 1 => Just(true)],
                                             odd in prop::collection::vec((0usize..5, 0usize..4, prop_oneof![Just(0.0), Just(-1.0), Just(f64::NAN), Just(1e-320)]), 2)) {
        // The common fabrics, and one whose accelerators have two scale-out ports (dual-ToR,
        // dual-plane: a plane chosen by hash per channel, two shares when spraying).
        let f = if fi < FABRICS.len() {
            fabric(fi, routing)
        } else {
            let mut f = build_preset("hpn7-pod:segments=1").unwrap().1;
            f.routing = ROUTING[routing];
            f
        };
        // (1, 2): a reduce-scatter lending to an all-gather; algorithms 0 and 4: ring and
        // hierarchical (the flows of one are the other's in another order).
        let algo_b = other_algo.unwrap_or(algo);
        let (Some(mut donor), Some(mut plan)) = (
            merged(&f, start, size, groups, Op::ALL[ops.0], Algo::ALL[algo]),
            merged(&f, start + shift, size, groups, Op::ALL[ops.1], Algo::ALL[algo_b]),
        ) else {
            return Ok(());
        };
        if channels {
            // Each flow again on another channel (another ECMP hash, the same endpoints).
            for p in [&mut donor, &mut plan] {
                for ph in &mut p.phases {
                    let again: Vec<_> = ph.flows.iter().map(|fl| collective::PlanFlow { channel: fl.channel + 7, ..fl.clone() }).collect();
                    ph.flows.extend(again);
                }
            }
        }
        with_bytes(&mut donor, odd[0].0, odd[0].1, odd[0].2);
        with_bytes(&mut plan, odd[1].0, odd[1].1, odd[1].2);
        let caps = simulate::effective_capacities(&f);
        // A donor made on another fabric value (the same fabric under ECMP — routes that may
        // differ from the recipient's under spray or adaptive routing) is not used.
        let other = {
            let mut o = f.clone();
            o.routing = RoutingMode::Ecmp;
            o
        };
        let g = if foreign { &other } else { &f };
        let Ok((_, Some(routes))) = simulate::run_plan_routes(g, &caps, &donor, Fidelity::Analytical, true) else {
            prop_assert!(g.routing == RoutingMode::Adaptive || simulate::run_plan(g, &caps, &donor, Fidelity::Analytical).is_err());
            return Ok(());
        };
        let lender = simulate::RouteDonor::new(g, &donor, &routes);
        prop_assert!(lender.is_some());
        for fid in [Fidelity::Analytical, Fidelity::Flow] {
            let fresh = simulate::run_plan_routes(&f, &caps, &plan, fid, true);
            let lent = simulate::run_plan_routes_from(&f, &caps, &plan, fid, true, lender.as_ref());
            match (&fresh, &lent) {
                (Ok((a, ra)), Ok((b, rb))) => {
                    prop_assert_eq!(bits(a), bits(b));
                    prop_assert_eq!(ra, rb);
                }
                _ => prop_assert_eq!(format!("{fresh:?}"), format!("{lent:?}")),
            }
            let built = simulate::build_plan_routes(&f, &caps, &plan, true);
            let built_lent = simulate::build_plan_routes_from(&f, &caps, &plan, true, lender.as_ref());
            match (built, built_lent) {
                (Ok((mut a, ra)), Ok((mut b, rb))) => {
                    prop_assert_eq!(ra, rb);
                    let (x, y) = (simulate::run_built(&f, &mut a, fid), simulate::run_built(&f, &mut b, fid));
                    prop_assert_eq!(format!("{x:?}"), format!("{y:?}"));
                }
                (a, b) => prop_assert_eq!(a.err().map(|e| e.to_string()), b.err().map(|e| e.to_string())),
            }
        }
        let taken = lender.map_or(0, |d| d.taken());
        if foreign {
            prop_assert_eq!(taken, 0, "a donor of another fabric lent");
        }
        LENT.with(|c| c.set(c.get() + taken));
    }
}

/// The property test above meets plans that took lent routes, not only misses (its cases are
/// random: this only rules out a test that never lends).
#[test]
fn lent_routes_cases_take_routes() {
    plans_take_routes_lent_by_another_run();
    let lent = LENT.with(|c| c.get());
    assert!(lent > 0, "{lent} flows took lent routes");
}

/// A ring or hierarchical all-gather after the reduce-scatter of the same groups, under ECMP
/// and spray (two ports per GPU): every flow of the all-gather that routing gives paths takes
/// them from the reduce-scatter's run, and the runs are the fresh ones bit for bit.
#[test]
fn all_gather_takes_the_reduce_scatters_routes() {
    for (spec, routing) in [
        ("fat-tree:gpus=256,oversub=3", RoutingMode::Ecmp),
        ("hpn7-pod:hosts=8,segments=1", RoutingMode::Spray),
    ] {
        let mut f = build_preset(spec).unwrap().1;
        f.routing = routing;
        let caps = simulate::effective_capacities(&f);
        for algo in [Algo::Ring, Algo::Hierarchical] {
            let rs = merged(&f, 0, 32, 4, Op::ReduceScatter, algo).unwrap();
            let ag = merged(&f, 0, 32, 4, Op::AllGather, algo).unwrap();
            let (_, routes) = simulate::run_plan_routes(&f, &caps, &rs, Fidelity::Analytical, true).unwrap();
            let routes = routes.unwrap();
            let donor = simulate::RouteDonor::new(&f, &rs, &routes).unwrap();
            let routed = ag
                .phases
                .iter()
                .flat_map(|ph| &ph.flows)
                .filter(|fl| fl.src != fl.dst)
                .count();
            for fid in [Fidelity::Analytical, Fidelity::Flow] {
                let (a, ra) = simulate::run_plan_routes(&f, &caps, &ag, fid, true).unwrap();
                let (b, rb) = simulate::run_plan_routes_from(&f, &caps, &ag, fid, true, Some(&donor)).unwrap();
                assert_eq!(bits(&a), bits(&b), "{spec} {algo:?} {fid:?}");
                assert_eq!(ra, rb, "{spec} {algo:?} {fid:?}");
                if fid == Fidelity::Analytical {
                    // Every flow with paths took them (a flow run of a plan this size is
                    // routed on the full engine, phase by phase, which routes itself).
                    assert_eq!(donor.taken(), routed, "{spec} {algo:?}");
                }
            }
        }
    }
}

/// Runs told their capacities passed the engine's check (`run_plan_routes_checked`,
/// `run_sizes_checked` with `true`, as a training step's memo says after checking once) give
/// what the checking runs give, routes included; told `false`, they refuse bad capacities
/// with the same error. Not vacuous: told `true` on bad capacities, a run does not check them
/// (the caller's promise is what skips the scan).
#[test]
fn runs_on_checked_capacities_are_checking_runs() {
    let (ops, algos) = (
        [Op::AllReduce, Op::ReduceScatter, Op::AllGather],
        [Algo::Ring, Algo::Tree, Algo::Hierarchical],
    );
    let (mut compared, mut refusals) = (0, 0);
    for (i, name) in FABRICS.iter().enumerate() {
        for (routing, mode) in ROUTING.iter().enumerate() {
            let f = fabric(i, routing);
            let caps = simulate::effective_capacities(&f);
            let mut bad = caps.clone();
            bad[caps.len() / 2] = 0.0;
            let n = f.accel_count() as u32;
            let ranks: Vec<u32> = (0..n.min(16)).collect();
            for op in ops {
                for algo in algos {
                    let Some(plan) = merged(&f, 0, 8.min(n), 2, op, algo) else {
                        continue;
                    };
                    for fidelity in [Fidelity::Analytical, Fidelity::Flow] {
                        let plain = simulate::run_plan_routes_from(&f, &caps, &plan, fidelity, true, None);
                        let told = simulate::run_plan_routes_checked(&f, &caps, true, &plan, fidelity, true, None);
                        match (&plain, &told) {
                            (Ok((a, ra)), Ok((b, rb))) => {
                                assert_eq!(bits(a), bits(b), "{} {op:?} {algo:?}", name);
                                assert_eq!(ra, rb);
                                compared += 1;
                            }
                            (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err()),
                        }
                        let refused = simulate::run_plan_routes_from(&f, &bad, &plan, fidelity, false, None);
                        let unchecked =
                            simulate::run_plan_routes_checked(&f, &bad, false, &plan, fidelity, false, None);
                        // (A flow run's compact engine holds only the links the plan uses.)
                        refusals += usize::from(refused.is_err());
                        assert_eq!(refused.err(), unchecked.err());
                        if fidelity == Fidelity::Analytical
                            && plan.virtual_links.is_empty()
                            && *mode != RoutingMode::Spray
                        {
                            let promised =
                                simulate::run_plan_routes_checked(&f, &bad, true, &plan, fidelity, false, None);
                            assert!(promised.is_ok(), "told `true`, the run checked anyway");
                        }
                    }
                }
                let opts = simulate::Options::default();
                for valid in [true, false] {
                    let a = simulate::run_sizes_on(&f, &caps, &ranks, op, &[1e6, 3e8], None, opts);
                    let b = simulate::run_sizes_checked(&f, &caps, valid, &ranks, op, &[1e6, 3e8], None, opts);
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{} {op:?}", name);
                }
                let a = simulate::run_sizes_on(&f, &bad, &ranks, op, &[1e6], None, opts);
                let b = simulate::run_sizes_checked(&f, &bad, false, &ranks, op, &[1e6], None, opts);
                refusals += usize::from(a.is_err());
                assert_eq!(format!("{a:?}"), format!("{b:?}"));
            }
        }
    }
    assert!(
        compared > 100 && refusals > 100,
        "{compared} runs compared, {refusals} refusals"
    );
}

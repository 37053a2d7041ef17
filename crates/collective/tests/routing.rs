//! Routing modes on a fat-tree (`fabric::RoutingMode`): static ECMP collides, adaptive routing
//! removes most collisions, spraying removes them all. Bandwidth is ordered
//! ecmp ≤ adaptive ≤ spray, spraying meets the no-collision closed form, and every mode is
//! reproducible (same input → bit-identical result).

use collective::constants::ETA_NET;
use collective::simulate::{self, effective_capacities, run_sizes, REF_SIZE};
use collective::{Algo, CollectiveResult, Op, Options};
use engine::Fidelity;
use fabric::presets::build_preset;
use fabric::{Fabric, Net, RouteOpts, Router, RoutingMode};

fn fabric(spec: &str, mode: RoutingMode) -> Fabric {
    let mut f = build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1;
    f.routing = mode;
    f
}

fn run(spec: &str, mode: RoutingMode, op: Op, algo: Algo, fidelity: Fidelity) -> CollectiveResult {
    let f = fabric(spec, mode);
    let ranks: Vec<u32> = (0..f.accel_count() as u32).collect();
    let opts = Options {
        fidelity,
        ..Default::default()
    };
    run_sizes(&f, &ranks, op, &[1073741824.0], Some(algo), opts)
        .unwrap()
        .remove(0)
}

fn busbw(spec: &str, op: Op, algo: Algo) -> [f64; 3] {
    RoutingMode::ALL.map(|m| run(spec, m, op, algo, Fidelity::Flow).busbw_bytes_per_s)
}

/// All-to-all over a 256-GPU two-tier fat-tree: ECMP loses bandwidth to collisions on the
/// spine links; adaptive and spraying reach the NIC-bound closed form.
#[test]
fn all_to_all_ordering_and_closed_form() {
    let spec = "fat-tree:gpus=256";
    let [ecmp, adaptive, spray] = busbw(spec, Op::AllToAll, Algo::Direct);
    assert!(ecmp < 0.97 * spray, "ECMP should collide: {ecmp} vs {spray}");
    assert!(
        ecmp <= adaptive && adaptive <= spray * (1.0 + 1e-12),
        "{ecmp} ≤ {adaptive} ≤ {spray}"
    );

    // Closed form: each GPU sends (n − d)/n of its buffer over its NIC (d GPUs share its
    // NVLink domain), at NCCL's achievable fraction of the port; no link is shared beyond that.
    let f = fabric(spec, RoutingMode::Spray);
    let n = f.accel_count() as f64;
    let d = f.domain_size as f64;
    let nic = f.accel_bandwidth(0, Net::ScaleOut).0 * ETA_NET;
    let closed = REF_SIZE * (n - d) / n / nic;
    let ranks: Vec<u32> = (0..f.accel_count() as u32).collect();
    let ev = simulate::evaluate(
        &f,
        &effective_capacities(&f),
        &ranks,
        Op::AllToAll,
        Algo::Direct,
        Options::default(),
    )
    .unwrap();
    let rel = (ev.transfer_ref_s - closed).abs() / closed;
    assert!(rel < 1e-9, "spray {} s vs closed form {closed} s", ev.transfer_ref_s);
}

/// A double binary tree all-reduce over 1,024 GPUs: adaptive routing (flow granularity,
/// switch-local) removes most collisions but not all; spraying removes them all.
#[test]
fn tree_all_reduce_adaptive_lies_between() {
    let [ecmp, adaptive, spray] = busbw("fat-tree:gpus=1024", Op::AllReduce, Algo::Tree);
    assert!(ecmp < adaptive, "{ecmp} < {adaptive}");
    assert!(adaptive < spray, "{adaptive} < {spray}");
}

/// The analytical (alpha-beta) model routes the same way: spraying beats ECMP there too.
#[test]
fn analytical_fidelity_respects_the_mode() {
    let spec = "fat-tree:gpus=256";
    let t = RoutingMode::ALL.map(|m| run(spec, m, Op::AllToAll, Algo::Direct, Fidelity::Analytical).transfer_s);
    assert!(t[2] < t[0], "spray {} s should beat ECMP {} s", t[2], t[0]);
    assert!(t[1] <= t[0] && t[2] <= t[1] * (1.0 + 1e-12), "{t:?}");
}

/// Same input, same result, bit for bit, in every mode.
#[test]
fn every_mode_is_deterministic() {
    for m in RoutingMode::ALL {
        let a = run("fat-tree:gpus=256", m, Op::AllToAll, Algo::Direct, Fidelity::Flow);
        let b = run("fat-tree:gpus=256", m, Op::AllToAll, Algo::Direct, Fidelity::Flow);
        assert_eq!(a, b, "{}", m.name());
        assert_eq!(a.time_s.to_bits(), b.time_s.to_bits());
    }
}

/// The ECMP router is `Fabric::route`, so ECMP results are those of before routing modes.
#[test]
fn ecmp_router_is_the_static_hash() {
    let f = fabric("fat-tree:gpus=256", RoutingMode::Ecmp);
    let mut r = Router::new(&f);
    for (s, d, ch) in [(0u32, 255u32, 0u64), (3, 77, 1), (128, 9, 5), (17, 18, 0)] {
        let want = f.route_vec(s, d, ch, RouteOpts::default()).unwrap();
        assert_eq!(
            r.route_vec(s, d, ch, RouteOpts::default(), 1.0).unwrap(),
            vec![(want, 1.0)]
        );
    }
}

/// Adaptive: two flows from one leaf to another leave on different up-links.
#[test]
fn adaptive_avoids_the_loaded_link() {
    let f = fabric("fat-tree:gpus=256", RoutingMode::Adaptive);
    let mut r = Router::new(&f);
    let a = r.route_vec(0, 200, 0, RouteOpts::default(), 1e9).unwrap();
    let b = r.route_vec(1, 201, 0, RouteOpts::default(), 1e9).unwrap();
    // Hop 1 is the leaf's up-link.
    assert_ne!(a[0].0[1], b[0].0[1], "{a:?} {b:?}");
    // After a new phase the load is forgotten: the same flow takes the same path again.
    r.new_phase();
    assert_eq!(r.route_vec(0, 200, 0, RouteOpts::default(), 1e9).unwrap(), a);
}

/// Spray: trunks carry the summed capacity of their links, and the total is kept.
#[test]
fn spray_trunks_sum_their_capacity() {
    let f = fabric("fat-tree:gpus=256", RoutingMode::Spray);
    let mut r = Router::new(&f);
    let caps = effective_capacities(&f);
    let mut merged = caps.clone();
    r.merge_capacities(&mut merged);
    let p = r.route_vec(0, 200, 0, RouteOpts::default(), 1.0).unwrap();
    let up = p[0].0[1];
    let size = r.trunk_size(up);
    assert!(size > 1, "the leaf's up-links form one trunk");
    assert!((merged[up as usize] - caps[up as usize] * size as f64).abs() < 1e-3 * merged[up as usize]);
    // On a uniform fat-tree every trunk of k links holds k times one link's capacity.
    for l in 0..caps.len() {
        let k = r.trunk_size(l as u32) as f64;
        assert!((merged[l] - caps[l] * k).abs() <= 1e-9 * merged[l], "link {l}");
    }
}

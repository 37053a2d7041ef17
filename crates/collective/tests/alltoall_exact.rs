//! The direct all-to-all (one phase of n(n−1) equal flows starting together) on the flow
//! engine equals a from-scratch reference that re-solves max-min fairness over every active
//! flow at every completion (`engine::maxmin::solve`), on small fabrics of each kind the
//! engine's incremental shortcuts must get right: rail-optimized with PXN, a plain and an
//! oversubscribed fat-tree, dual-plane HPN and NVL72 domains; under each fabric's routing mode
//! (the reference routes through the same `Router`), and a fat-tree under all three.

use collective::simulate::{effective_capacities, lower, run_plan, REF_SIZE};
use collective::{Algo, Op};
use engine::{maxmin, Fidelity};
use fabric::presets::build_preset;
use fabric::{Fabric, RouteOpts, Router, RoutingMode};

/// Makespan by re-solving every active flow at every event; completions within a relative
/// 1e-12 of each other form one event, as in the engine.
fn reference(f: &Fabric, caps: &[f64], ranks: &[u32]) -> f64 {
    let plan = lower(f, ranks, Op::AllToAll, REF_SIZE, Algo::Direct, 1).unwrap();
    let mut paths: Vec<Vec<u32>> = Vec::new();
    let mut rem: Vec<f64> = Vec::new();
    let mut router = Router::new(f);
    let mut caps = caps.to_vec();
    router.merge_capacities(&mut caps);
    let caps = caps.as_slice();
    for pf in &plan.phases[0].flows {
        for (p, bytes) in router
            .route_vec(
                pf.src,
                pf.dst,
                u64::from(pf.channel),
                RouteOpts { pxn: pf.pxn },
                pf.bytes,
            )
            .unwrap()
        {
            if !p.is_empty() {
                paths.push(p);
                rem.push(bytes);
            }
        }
    }
    let mut now = 0.0;
    while !paths.is_empty() {
        let flows: Vec<(&[u32], u32)> = paths.iter().map(|p| (p.as_slice(), 1)).collect();
        let rate = maxmin::solve(caps, &flows);
        let next = rem
            .iter()
            .zip(&rate)
            .map(|(b, r)| now + b / r)
            .fold(f64::INFINITY, f64::min);
        let batch_end = next + next * 1e-12;
        let mut keep = Vec::with_capacity(paths.len());
        for i in 0..paths.len() {
            if now + rem[i] / rate[i] > batch_end {
                keep.push(i);
            }
        }
        let dt = next - now;
        paths = keep.iter().map(|&i| std::mem::take(&mut paths[i])).collect();
        rem = keep.iter().map(|&i| (rem[i] - rate[i] * dt).max(0.0)).collect();
        now = next;
    }
    now
}

fn check(spec: &str, n: Option<u32>) {
    let f = build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1;
    check_fabric(spec, &f, n);
}

fn check_fabric(spec: &str, f: &Fabric, n: Option<u32>) {
    let n = n.unwrap_or(f.accel_count() as u32);
    let ranks: Vec<u32> = (0..n).collect();
    let caps = effective_capacities(f);
    let plan = lower(f, &ranks, Op::AllToAll, REF_SIZE, Algo::Direct, 1).unwrap();
    let (t, _) = run_plan(f, &caps, &plan, Fidelity::Flow).unwrap();
    let want = reference(f, &caps, &ranks);
    assert!(
        (t - want).abs() <= 1e-9 * want,
        "{spec}: engine {t} vs reference {want}"
    );
}

#[test]
fn rail_optimized() {
    check("rail-optimized:gpus=128", None);
}

#[test]
fn fat_tree() {
    check("fat-tree:gpus=128", None);
}

#[test]
fn fat_tree_every_routing_mode() {
    let mut f = build_preset("fat-tree:gpus=128,oversub=4").unwrap().1;
    for m in RoutingMode::ALL {
        f.routing = m;
        check_fabric(m.name(), &f, None);
    }
}

#[test]
fn oversubscribed_fat_tree() {
    check("fat-tree:gpus=128,oversub=4", None);
}

#[test]
fn hpn_dual_plane() {
    check("hpn7-pod:segments=1,hosts=6", None);
}

#[test]
fn nvl72_domains() {
    check("gb200-superpod:racks=1", Some(72));
}

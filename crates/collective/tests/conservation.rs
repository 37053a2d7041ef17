//! Conservation: every algorithm × operation it accepts, on small fabrics of every scale-up
//! kind, puts exactly the textbook volume on the wire (summed over the plan's flows), and the
//! symmetric algorithms spread it evenly (every rank sends and receives the same bytes).
//! The plans are also run through the engine once, so every flow of every plan routes.

use collective::plan::by_domain;
use collective::simulate::{effective_capacities, lower, run_plan};
use collective::{Algo, CollectiveError, Op};
use engine::Fidelity;
use fabric::presets::build_preset;
use fabric::Fabric;

const FABRICS: &[&str] = &[
    "dgx-h100",
    "fat-tree:gpus=64",
    "hpn7-pod:segments=1,hosts=4",
    "tpu-v4-pod:slice=4x4x4",
    "mi300x-node",
];

const S: f64 = 3.0 * 1048576.0; // 3 MiB: divisible by every group size used below

fn fabric(spec: &str) -> Fabric {
    build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1
}

/// Textbook bytes on the wire for `algo` running `op` on `ranks` with message size `s`, written
/// in the form the algorithm's description gives it.
fn textbook(f: &Fabric, ranks: &[u32], op: Op, algo: Algo, s: f64) -> f64 {
    let n = ranks.len() as f64;
    let doms = by_domain(f, ranks);
    let m = doms.len() as f64; // domains
    let g = doms[0].len() as f64; // members per domain
    match (algo, op) {
        // n ring edges (over all rings together), each carrying 2(n−1)/n·S, (n−1)/n·S; a chain
        // of n−1 edges carrying S for broadcast/reduce.
        (Algo::Ring, Op::AllReduce) => n * 2.0 * (n - 1.0) / n * s,
        (Algo::Ring, Op::ReduceScatter | Op::AllGather) => n * (n - 1.0) / n * s,
        (Algo::Ring, Op::Broadcast | Op::Reduce) => (n - 1.0) * s,
        // Two trees, each with n−1 edges (tree edges between domains plus chains inside them),
        // each edge carrying S/2 up and S/2 down.
        (Algo::Tree, Op::AllReduce) => 2.0 * (n - 1.0) * (s / 2.0) * 2.0,
        // Per rank Σ_{j<log2 n} S/2^{j+1} = (n−1)/n·S per halving (or doubling) pass.
        (Algo::HalvingDoubling, _) => {
            let levels = n.log2().round() as i32;
            let per_rank: f64 = (0..levels).map(|j| s / 2f64.powi(j + 1)).sum();
            let passes = if op == Op::AllReduce { 2.0 } else { 1.0 };
            passes * n * per_rank
        }
        // n(n−1) pairs × S/n; all_reduce is reduce-scatter then all-gather.
        (Algo::Direct, Op::AllReduce) => 2.0 * n * (n - 1.0) * s / n,
        (Algo::Direct, _) | (Algo::Pairwise, _) => n * (n - 1.0) * s / n,
        // Intra-domain ring RS (m rings of g), per-position ring AR / RS / AG of the S/g shard
        // across the m domains (g rings of m), intra-domain ring AG.
        (Algo::Hierarchical, Op::AllReduce) => 2.0 * m * g * (g - 1.0) / g * s + g * m * 2.0 * (m - 1.0) / m * (s / g),
        (Algo::Hierarchical, _) => m * g * (g - 1.0) / g * s + g * m * (m - 1.0) / m * (s / g),
        // As hierarchical, but the middle is one S/g push per rank into the SHARP tree.
        (Algo::CollNet, _) => 2.0 * m * g * (g - 1.0) / g * s + n * (s / g),
        // Every GPU pushes S into the switch and gets the reduced S back (one flow through it).
        // Each rank through the switch once; across m domains (NVLSTree) a ring per rail
        // all-reduces the 1/g shards: 2(m − 1)/m × S/g per edge, m edges, g rails.
        (Algo::Nvls, _) => {
            let mut doms: Vec<u32> = ranks.iter().map(|&r| f.domain_of(r)).collect();
            doms.sort_unstable();
            doms.dedup();
            n * s + 2.0 * (doms.len() as f64 - 1.0) * s
        }
        // Per dimension of length L, every chip sends (L−1)/L of the current shard (half each
        // way round its ring); the shard shrinks by L per dimension: telescopes to (N−1)·S.
        (Algo::Torus, _) => {
            let dims = match f.scale_up {
                fabric::ScaleUpKind::Torus { dims, .. } => dims,
                _ => unreachable!(),
            };
            let mut cur = s;
            let mut rs = 0.0;
            for &l in dims.iter().filter(|&&l| l > 1) {
                let l = l as f64;
                rs += n * (l - 1.0) / l * cur;
                cur /= l;
            }
            match op {
                Op::AllReduce => 2.0 * rs,
                _ => rs,
            }
        }
        (Algo::P2p, _) => n * s,
        _ => unreachable!("{algo} {op}"),
    }
}

/// Algorithms whose per-rank send and receive volumes are all equal.
fn symmetric(algo: Algo, op: Op) -> bool {
    match algo {
        Algo::Ring => !matches!(op, Op::Broadcast | Op::Reduce),
        Algo::Tree => false,
        _ => true,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The groups tried on a fabric: all accelerators, and (multi-domain) one domain plus one
/// member per domain (a "rail").
fn groups(f: &Fabric) -> Vec<Vec<u32>> {
    let n = f.accel_count() as u32;
    let mut v = vec![(0..n).collect::<Vec<u32>>()];
    if f.domain_count() > 1 {
        v.push((0..f.domain_size).collect());
        v.push((0..f.domain_count()).map(|d| d * f.domain_size + 1).collect());
    }
    v
}

#[test]
fn every_algorithm_conserves_bytes() {
    let mut checked = 0;
    let mut by_algo = std::collections::BTreeMap::<Algo, u32>::new();
    for spec in FABRICS {
        let f = fabric(spec);
        let caps = effective_capacities(&f);
        for ranks in groups(&f) {
            for op in Op::ALL {
                for algo in Algo::ALL {
                    let plan = match lower(&f, &ranks, op, S, algo, 2) {
                        Ok(p) => p,
                        Err(CollectiveError::Unsupported { .. }) => continue,
                        Err(e) => panic!("{spec} {algo} {op}: unexpected error {e}"),
                    };
                    let want = textbook(&f, &ranks, op, algo, S);
                    let got = plan.bytes();
                    assert!(
                        close(got, want),
                        "{spec} n={} {algo} {op}: plan moves {got} B, textbook {want} B",
                        ranks.len()
                    );
                    if symmetric(algo, op) && ranks.len() > 1 {
                        let mut sent = std::collections::BTreeMap::<u32, f64>::new();
                        let mut recv = std::collections::BTreeMap::<u32, f64>::new();
                        for fl in plan.phases.iter().flat_map(|p| &p.flows) {
                            *sent.entry(fl.src).or_default() += fl.bytes;
                            *recv.entry(fl.dst).or_default() += fl.bytes;
                        }
                        let each = want / ranks.len() as f64;
                        for &r in &ranks {
                            let (s, d) = (
                                sent.get(&r).copied().unwrap_or(0.0),
                                recv.get(&r).copied().unwrap_or(0.0),
                            );
                            assert!(
                                close(s, each),
                                "{spec} {algo} {op}: rank {r} sends {s}, expected {each}"
                            );
                            assert!(
                                close(d, each),
                                "{spec} {algo} {op}: rank {r} receives {d}, expected {each}"
                            );
                        }
                    }
                    // Every flow routes and the engine finishes in positive time.
                    let (t, _) = run_plan(&f, &caps, &plan, Fidelity::Flow)
                        .unwrap_or_else(|e| panic!("{spec} {algo} {op}: {e}"));
                    assert!(
                        t.is_finite() && (t > 0.0 || ranks.len() == 1),
                        "{spec} {algo} {op}: t = {t}"
                    );
                    *by_algo.entry(algo).or_default() += 1;
                    checked += 1;
                }
            }
        }
    }
    eprintln!("conservation: {checked} (fabric, group, algorithm, op) plans checked: {by_algo:?}");
    // Every algorithm was exercised somewhere.
    for a in Algo::ALL {
        assert!(by_algo.get(&a).copied().unwrap_or(0) > 0, "{a} never applied");
    }
}

/// The ring all-reduce as the issue states it: n edges, each 2(n−1)/n·S; RS/AG (n−1)/n·S per
/// rank; all_to_all n(n−1)·S/n, on one fabric, by hand, as a readable spot check.
#[test]
fn spot_check_ring_and_all_to_all() {
    let f = fabric("fat-tree:gpus=64");
    let ranks: Vec<u32> = (0..64).collect();
    let s = 1073741824.0;
    let ar = lower(&f, &ranks, Op::AllReduce, s, Algo::Ring, 2).unwrap();
    assert!(close(ar.bytes(), 64.0 * 2.0 * 63.0 / 64.0 * s));
    // 8 rails → 8 rings; 2 channels on each inter-domain edge: 8 × (56 + 8 × 2) flows.
    assert_eq!(ar.flow_count(), 8 * (56 + 8 * 2));
    let rs = lower(&f, &ranks, Op::ReduceScatter, s, Algo::Ring, 2).unwrap();
    assert!(close(rs.bytes() / 64.0, 63.0 / 64.0 * s));
    let a2a = lower(&f, &ranks, Op::AllToAll, s, Algo::Direct, 2).unwrap();
    assert!(close(a2a.bytes(), 64.0 * 63.0 * s / 64.0));
    assert_eq!(a2a.flow_count(), 64 * 63);
}

/// Lowering is linear in the size (the premise of pricing every size of a sweep from one run).
#[test]
fn plans_scale_linearly_with_size() {
    for spec in FABRICS {
        let f = fabric(spec);
        let ranks: Vec<u32> = (0..f.accel_count() as u32).collect();
        for op in Op::ALL {
            for algo in Algo::ALL {
                let (Ok(a), Ok(b)) = (
                    lower(&f, &ranks, op, S, algo, 2),
                    lower(&f, &ranks, op, 4.0 * S, algo, 2),
                ) else {
                    continue;
                };
                assert_eq!(a.flow_count(), b.flow_count(), "{spec} {algo} {op}");
                for (x, y) in a
                    .phases
                    .iter()
                    .flat_map(|p| &p.flows)
                    .zip(b.phases.iter().flat_map(|p| &p.flows))
                {
                    assert_eq!((x.src, x.dst, x.channel, x.pxn), (y.src, y.dst, y.channel, y.pxn));
                    assert!(close(4.0 * x.bytes, y.bytes), "{spec} {algo} {op}");
                }
            }
        }
    }
}
